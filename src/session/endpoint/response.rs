//! The answers of the endpoints: JSON bodies with `Cache-Control: no-store`, the refusals, and
//! the `Set-Cookie` headers of a cookie refresh or a logout.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

use super::SessionEndpoints;
use crate::body::ResponseBody;
use crate::error::AuthError;
use crate::rejection::DefaultRejection;
use crate::session::{SessionError, SessionErrorKind, TokenPair};

impl SessionEndpoints {
    /// The answer to a refresh made with the cookie: the new cookies, and the pair without its
    /// tokens, which stay out of reach of page scripts.
    pub(super) fn cookie_answer(&self, pair: &TokenPair) -> Response<ResponseBody> {
        let body = CookieRefresh {
            token_type: pair.token_type(),
            expires_in: pair.expires_in(),
            session_expires_at: pair.session_expires_at(),
            access_token_hash: pair.access_token_hash(),
        };
        self.with_cookies(json(StatusCode::OK, &body), pair)
    }

    /// The answer to a refresh made with a token in the body: the pair as JSON and, when the
    /// endpoints serve cookies, the new cookies too, so that a cookie never keeps a token the
    /// rotation retired (presented after the grace window, it would end the session as reuse).
    pub(super) fn body_answer(&self, pair: &TokenPair) -> Response<ResponseBody> {
        self.with_cookies(json(StatusCode::OK, pair), pair)
    }

    /// `response` with the `Set-Cookie` headers of `pair`, when the endpoints serve cookies; a
    /// cookie that cannot be set is a 500 `cookie_error` instead.
    fn with_cookies(
        &self,
        mut response: Response<ResponseBody>,
        pair: &TokenPair,
    ) -> Response<ResponseBody> {
        let Some(cookies) = &self.cookies else {
            return response;
        };
        match cookies.set(pair, self.csrf.key()) {
            Ok(set) => {
                for value in set {
                    response.headers_mut().append(SET_COOKIE, value);
                }
                response
            }
            Err(error) => SessionError::cookie(error).http_response(),
        }
    }

    /// `response` with the headers that clear the cookies, when the endpoints serve them.
    pub(super) fn cleared(&self, mut response: Response<ResponseBody>) -> Response<ResponseBody> {
        if let Some(cookies) = &self.cookies {
            for value in cookies.clear() {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}

/// The body of `GET /session`.
#[derive(Serialize)]
pub(super) struct SessionState<'a> {
    pub(super) authenticated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) expires_at: Option<u64>,
}

impl SessionState<'_> {
    pub(super) fn anonymous() -> Self {
        Self {
            authenticated: false,
            sub: None,
            expires_at: None,
        }
    }
}

/// The body of a refresh made with the cookie.
#[derive(Serialize)]
struct CookieRefresh {
    token_type: &'static str,
    expires_in: u64,
    session_expires_at: u64,
    /// For a DPoP-bound access cookie: the `ath` the page's proofs carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_hash: Option<String>,
}

/// The layer's answer for `error` (a missing token, a CSRF refusal, a duplicated cookie).
pub(super) fn auth_error(error: &AuthError) -> Response<ResponseBody> {
    let refusal = DefaultRejection::new().http_response(error);
    let (parts, body) = refusal.into_parts();
    Response::from_parts(parts, ResponseBody::rejection(body))
}

pub(super) fn invalid_body() -> Response<ResponseBody> {
    error_body(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "The request body must be JSON with a string refresh_token",
        "invalid_request",
    )
}

/// 415: a non-empty body that is not `application/json`.
pub(super) fn unsupported_media_type() -> Response<ResponseBody> {
    error_body(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid_request",
        "The request body must be application/json",
        "unsupported_media_type",
    )
}

/// 413: a body over [`MAX_BODY_LEN`](super::MAX_BODY_LEN).
pub(super) fn too_large() -> Response<ResponseBody> {
    error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        "The request body is larger than 4096 bytes",
        "invalid_request",
    )
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    reason: &'a str,
}

/// The answer for a failed session operation.
pub(super) fn session_error(error: &SessionError) -> Response<ResponseBody> {
    error.http_response()
}

impl SessionError {
    /// The HTTP status of [`http_response`](Self::http_response): 401 for the three refusals
    /// of a refresh token, 400 for [`InvalidDpopProof`](SessionErrorKind::InvalidDpopProof)
    /// (RFC 9449 §5), 403 for [`Csrf`](SessionErrorKind::Csrf), 503 for the store, 500
    /// for [`Issue`](SessionErrorKind::Issue) and [`Cookie`](SessionErrorKind::Cookie).
    pub fn status(&self) -> StatusCode {
        match self.kind() {
            SessionErrorKind::InvalidRefreshToken
            | SessionErrorKind::RefreshExpired
            | SessionErrorKind::RefreshReused => StatusCode::UNAUTHORIZED,
            SessionErrorKind::Csrf => StatusCode::FORBIDDEN,
            SessionErrorKind::InvalidDpopProof => StatusCode::BAD_REQUEST,
            SessionErrorKind::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            SessionErrorKind::Issue | SessionErrorKind::Cookie => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer the [endpoints](super::SessionEndpoints) give for this error, and a login
    /// handler should: the [`status`](Self::status), `Cache-Control: no-store` and the body
    /// `{"error", "error_description", "reason"}`, `error` being `invalid_grant` (401),
    /// `invalid_dpop_proof` (400), `csrf` (403, the layer's own refusal),
    /// `temporarily_unavailable` (503) or
    /// `server_error` (500, logged as a `tracing` error; the body never shows the cause).
    /// With feature `axum`, `SessionError` is an `IntoResponse` that answers this, so that a
    /// handler can return `Result<_, SessionError>`.
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # use tower_jwt_auth::session::Sessions;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sessions = Sessions::builder()
    /// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
    /// #     .issuer("https://issuer.example")?.build()?;
    /// let error = sessions.refresh("not-a-known-token").await.unwrap_err();
    /// let response = error.http_response();
    /// assert_eq!(response.status(), 401);
    /// assert_eq!(response.headers()["cache-control"], "no-store");
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_response(&self) -> Response<ResponseBody> {
        let kind = self.kind();
        let code = match kind {
            SessionErrorKind::InvalidRefreshToken
            | SessionErrorKind::RefreshExpired
            | SessionErrorKind::RefreshReused => "invalid_grant",
            SessionErrorKind::StoreUnavailable => "temporarily_unavailable",
            SessionErrorKind::InvalidDpopProof => "invalid_dpop_proof",
            SessionErrorKind::Csrf => match self.auth_error() {
                Some(refusal) => return auth_error(refusal),
                None => "csrf",
            },
            SessionErrorKind::Issue | SessionErrorKind::Cookie => {
                #[cfg(feature = "tracing")]
                tracing::error!(error = %self, "session: the tokens or cookies could not be issued");
                "server_error"
            }
        };
        error_body(self.status(), code, kind.description(), kind.reason())
    }
}

/// The answer of [`SessionError::http_response`].
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl axum_core::response::IntoResponse for SessionError {
    fn into_response(self) -> axum_core::response::Response {
        self.http_response().map(axum_core::body::Body::new)
    }
}

pub(super) fn error_body(
    status: StatusCode,
    error: &str,
    description: &str,
    reason: &str,
) -> Response<ResponseBody> {
    json(
        status,
        &ErrorBody {
            error,
            error_description: description,
            reason,
        },
    )
}

pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Response<ResponseBody> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(ResponseBody::rejection(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    no_store(response)
}

pub(super) fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::rejection(Bytes::new()));
    *response.status_mut() = status;
    no_store(response)
}

fn no_store(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
