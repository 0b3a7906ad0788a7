//! [`SessionEndpoints`]: the refresh, logout and logout-everywhere endpoints as one Tower
//! service, for axum (`Router::nest_service`) and hyper.

use std::convert::Infallible;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use serde::{Deserialize, Serialize};
use tower_service::Service;

use super::identity::TokenIdentity;
use super::sessions::{SessionError, SessionErrorKind, Sessions};
use crate::error::AuthError;
use crate::rejection::DefaultRejection;

/// The largest request body the endpoints read: 4 KiB. A larger one is refused with 413
/// without being read further.
pub const MAX_BODY_LEN: usize = 4096;

/// The session endpoints as one Tower service: `POST {prefix}/refresh`, `POST {prefix}/logout`
/// and `POST {prefix}/logout-all`. Built by [`Sessions::endpoints`].
///
/// | Request | Answer |
/// |---|---|
/// | `POST /refresh` with `{"refresh_token": ".."}` | 200 with the new [`TokenPair`](super::TokenPair) as JSON |
/// | `POST /logout` with a [`TokenIdentity`] in the request extensions | 204: that token's session ended |
/// | `POST /logout` with `{"refresh_token": ".."}` | 204: that token's session ended (an unknown token also gets 204, as in RFC 7009 §2.2) |
/// | `POST /logout-all` with a [`TokenIdentity`] in the request extensions | 204: every session of its subject ended |
/// | `POST /logout-all` without one | 401, reason `missing` |
///
/// The [`TokenIdentity`] is put there by an authentication layer in front of the endpoints;
/// for `/logout` that layer should be optional, so that a user whose access token expired can
/// still log out with the refresh token.
///
/// # Refusals
///
/// Every refusal of `/refresh` is 401 with the body
/// `{"error": "invalid_grant", "error_description": "..", "reason": ".."}`, reason
/// `invalid_refresh_token` (unknown, forged, malformed or over 512 bytes), `refresh_expired` or
/// `refresh_reused`. OAuth (RFC 6749 §5.2) answers `invalid_grant` with 400; these endpoints
/// answer 401 on purpose: the refresh token, the client's credential, was refused, and the
/// client's move is to send the user to log in again, which is what a client does on 401.
/// No `WWW-Authenticate` challenge is sent, since another access token would not help.
///
/// - A body that is not the expected JSON: 400 `{"error": "invalid_request", "reason":
///   "invalid_request"}`. A body over [`MAX_BODY_LEN`]: 413 with the same body, unread.
/// - The store cannot answer (or is full): 503 `{"error": "temporarily_unavailable",
///   "reason": "session_store_unavailable"}`. Nothing is let in.
/// - Another path: 404; another method: 405 with `Allow: POST`.
///
/// Every answer carries `Cache-Control: no-store`. Nothing is logged with a token in it.
///
/// # Example
///
/// ```
/// use axum::Router;
/// use tower_jwt_auth::{Algorithm, Sessions, SigningKey};
///
/// let sessions = Sessions::builder()
///     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
///     .issuer("https://issuer.example")
///     .audience("api")
///     .build()?;
/// // axum strips `/auth` before the service sees the path: no prefix.
/// let app: Router = Router::new().nest_service("/auth", sessions.endpoints());
/// // Served on its own (hyper): the full paths.
/// let endpoints = sessions.endpoints().prefix("/auth");
/// # let _ = (app, endpoints);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SessionEndpoints {
    sessions: Sessions,
    prefix: Arc<str>,
}

impl fmt::Debug for SessionEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionEndpoints")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// The refresh, logout and logout-everywhere endpoints of these sessions, as one Tower
    /// service; see [`SessionEndpoints`].
    pub fn endpoints(&self) -> SessionEndpoints {
        SessionEndpoints::new(self.clone())
    }
}

impl SessionEndpoints {
    /// The endpoints of `sessions`, at `/refresh`, `/logout` and `/logout-all`.
    pub fn new(sessions: Sessions) -> Self {
        Self {
            sessions,
            prefix: Arc::from(""),
        }
    }

    /// Serves the endpoints under `prefix` (for example `/auth`: `/auth/refresh`, ...). A
    /// trailing `/` is ignored. Leave it out under axum's `nest_service`, which strips its own
    /// prefix.
    pub fn prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.prefix = Arc::from(prefix.as_ref().trim_end_matches('/'));
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Refresh,
    Logout,
    LogoutAll,
}

impl<B> Service<Request<B>> for SessionEndpoints
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<EndpointBody>;
    type Error = Infallible;
    type Future = EndpointFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request
            .uri()
            .path()
            .strip_prefix(&*self.prefix)
            .and_then(|rest| match rest {
                "/refresh" => Some(Route::Refresh),
                "/logout" => Some(Route::Logout),
                "/logout-all" => Some(Route::LogoutAll),
                _ => None,
            });
        let Some(route) = route else {
            return EndpointFuture::ready(empty(StatusCode::NOT_FOUND));
        };
        if request.method() != Method::POST {
            let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return EndpointFuture::ready(response);
        }
        let sessions = self.sessions.clone();
        EndpointFuture {
            inner: Box::pin(async move { Ok(serve(sessions, route, request).await) }),
        }
    }
}

async fn serve<B>(sessions: Sessions, route: Route, request: Request<B>) -> Response<EndpointBody>
where
    B: Body,
{
    match route {
        Route::Refresh => {
            let token = match read_refresh_token(request).await {
                Ok(token) => token,
                Err(response) => return response,
            };
            match sessions.refresh(&token).await {
                Ok(pair) => json(StatusCode::OK, &pair),
                Err(error) => session_error(&error),
            }
        }
        Route::Logout => {
            let ended = match request.extensions().get::<TokenIdentity>().cloned() {
                Some(identity) => sessions.logout_identity(&identity).await,
                None => match read_refresh_token(request).await {
                    Ok(token) => sessions.logout_by_refresh_token(&token).await,
                    Err(response) => return response,
                },
            };
            match ended {
                Ok(_) => empty(StatusCode::NO_CONTENT),
                Err(error) => session_error(&error),
            }
        }
        Route::LogoutAll => {
            let Some(identity) = request.extensions().get::<TokenIdentity>() else {
                let refusal = DefaultRejection::new().http_response(&AuthError::missing());
                let (parts, body) = refusal.into_parts();
                return Response::from_parts(parts, EndpointBody::new(body));
            };
            match sessions.logout_everywhere(&identity.sub).await {
                Ok(_) => empty(StatusCode::NO_CONTENT),
                Err(error) => session_error(&error),
            }
        }
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    refresh_token: String,
}

/// The `refresh_token` of a JSON body, or the refusal (400 or 413).
async fn read_refresh_token<B: Body>(
    request: Request<B>,
) -> Result<String, Response<EndpointBody>> {
    let too_large = || {
        error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "The request body is larger than 4096 bytes",
            "invalid_request",
        )
    };
    let invalid = || {
        error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be JSON with a string refresh_token",
            "invalid_request",
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_LEN as u64) {
        return Err(too_large());
    }
    let body = match read_bounded(request.into_body(), MAX_BODY_LEN).await {
        Ok(body) => body,
        Err(ReadError::TooLarge) => return Err(too_large()),
        Err(ReadError::Failed) => return Err(invalid()),
    };
    serde_json::from_slice::<TokenRequest>(&body)
        .map(|r| r.refresh_token)
        .map_err(|_| invalid())
}

enum ReadError {
    TooLarge,
    Failed,
}

/// Reads a body of at most `limit` bytes; stops reading as soon as it is known to be larger.
async fn read_bounded<B: Body>(body: B, limit: usize) -> Result<Bytes, ReadError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(ReadError::TooLarge);
    }
    let mut body = pin!(body);
    let mut out = BytesMut::new();
    while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|_| ReadError::Failed)?;
        if let Ok(mut data) = frame.into_data() {
            if out.len().saturating_add(data.remaining()) > limit {
                return Err(ReadError::TooLarge);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                let n = chunk.len();
                out.put_slice(chunk);
                data.advance(n);
            }
        }
    }
    Ok(out.freeze())
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    reason: &'a str,
}

/// The answer for a failed session operation.
fn session_error(error: &SessionError) -> Response<EndpointBody> {
    let kind = error.kind();
    let (status, code) = match kind {
        SessionErrorKind::InvalidRefreshToken
        | SessionErrorKind::RefreshExpired
        | SessionErrorKind::RefreshReused => (StatusCode::UNAUTHORIZED, "invalid_grant"),
        SessionErrorKind::StoreUnavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        SessionErrorKind::Issue => {
            #[cfg(feature = "tracing")]
            tracing::error!(error = %error, "session endpoint: the tokens could not be issued");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    };
    error_body(status, code, kind.description(), kind.reason())
}

fn error_body(
    status: StatusCode,
    error: &str,
    description: &str,
    reason: &str,
) -> Response<EndpointBody> {
    json(
        status,
        &ErrorBody {
            error,
            error_description: description,
            reason,
        },
    )
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<EndpointBody> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(EndpointBody::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    no_store(response)
}

fn empty(status: StatusCode) -> Response<EndpointBody> {
    let mut response = Response::new(EndpointBody::new(Bytes::new()));
    *response.status_mut() = status;
    no_store(response)
}

fn no_store(mut response: Response<EndpointBody>) -> Response<EndpointBody> {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The response future of [`SessionEndpoints`].
pub struct EndpointFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<EndpointBody>, Infallible>> + Send>>,
}

impl EndpointFuture {
    fn ready(response: Response<EndpointBody>) -> Self {
        Self {
            inner: Box::pin(std::future::ready(Ok(response))),
        }
    }
}

impl Future for EndpointFuture {
    type Output = Result<Response<EndpointBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for EndpointFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointFuture")
    }
}

/// The body of a [`SessionEndpoints`] response: the whole answer in one frame.
#[derive(Default)]
pub struct EndpointBody {
    data: Option<Bytes>,
}

impl EndpointBody {
    fn new(data: Bytes) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl fmt::Debug for EndpointBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body of a refresh answer holds tokens: only its length is shown.
        f.debug_struct("EndpointBody")
            .field("len", &self.data.as_ref().map_or(0, Bytes::len))
            .finish()
    }
}

impl Body for EndpointBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}
