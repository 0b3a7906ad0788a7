//! The response to a refused request: HTTP with an RFC 6750 challenge and a JSON body, or gRPC;
//! and [`reject`], which builds it and puts the error into its extensions.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::error::{AuthError, ConfigError, ErrorKind};

/// Builds the response for a refused request.
///
/// The layer calls it with the error and the head of the refused request, and puts a clone of
/// the [`AuthError`] into the response's extensions afterwards, whatever the response is. It is
/// implemented for [`DefaultRejection`] and for closures
/// `Fn(&AuthError, &http::request::Parts) -> http::Response<Bytes> + Clone`.
///
/// # Example
///
/// ```
/// use bytes::Bytes;
/// use http::{request::Parts, Response, StatusCode};
/// use tower_jwt_auth::{AuthError, DefaultRejection, ResponseForAuthError};
///
/// // Plain-text bodies, and the default status code and challenge.
/// let rejection = |error: &AuthError, _request: &Parts| {
///     let default = DefaultRejection::new();
///     Response::builder()
///         .status(default.status(error))
///         .header(http::header::WWW_AUTHENTICATE, default.challenge(error))
///         .body(Bytes::from(error.reason()))
///         .unwrap()
/// };
/// # fn check(_: impl ResponseForAuthError) {}
/// # check(rejection);
/// ```
pub trait ResponseForAuthError: Clone {
    /// The response for `error`, refused on the request whose head is `request`.
    fn response(&self, error: &AuthError, request: &Parts) -> Response<Bytes>;
}

impl<F> ResponseForAuthError for F
where
    F: Fn(&AuthError, &Parts) -> Response<Bytes> + Clone,
{
    fn response(&self, error: &AuthError, request: &Parts) -> Response<Bytes> {
        self(error, request)
    }
}

/// Which HTTP status a token failure gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusPolicy {
    /// The default: an expired or not-yet-valid token is 401 (the client should refresh and
    /// retry), a malformed or forged one, or one with unacceptable claims, is 403 (retrying with
    /// the same credentials is pointless, RFC 9110 §15.5.4). Every challenge still says
    /// `error="invalid_token"`.
    #[default]
    RefreshOrRefuse,
    /// RFC 6750 §3.1 to the letter: every `invalid_token` is 401.
    Rfc6750,
}

/// The crate's response to a refused request.
///
/// - A gRPC request (`content-type: application/grpc…`) gets what a gRPC client expects:
///   HTTP 200, an empty body (trailers-only), `grpc-status` (16 `UNAUTHENTICATED` for every token
///   failure, 3 `INVALID_ARGUMENT` for ambiguous credentials, 7 `PERMISSION_DENIED` for a missing
///   scope or role), a percent-encoded `grpc-message` of the form `reason: description`, and the
///   `www-authenticate` challenge as metadata. Any client can choose this answer with its
///   content type, so it is marked `cache-control: no-store` like the HTTP one.
/// - Any other request gets the [`StatusPolicy`]'s status, a `WWW-Authenticate: Bearer …`
///   challenge (RFC 6750 §3), `cache-control: no-store` and a JSON body:
///   `{"error":"invalid_token","error_description":"The access token expired","reason":"expired"}`.
///   A request without any token gets a challenge without `error` and `"error":"unauthorized"`
///   in the body, as RFC 6750 defines no code for it.
/// - Every refusal carries `cache-control: no-store`.
/// - When no key can be had (`key_source_unavailable`) or the revocation store cannot answer
///   (`revocation_unavailable`), the answer is 503 with `"error":"temporarily_unavailable"` and
///   no challenge (gRPC: 14 `UNAVAILABLE`): the client is not at fault.
/// - A revoked token (`revoked`) gets 401 with `error="invalid_token"` under either policy.
/// - A cookie-authenticated request refused by the [CSRF guard](crate::csrf::CsrfGuard)
///   (`csrf`) gets 403 under either policy, `"error":"csrf"` in the body and no challenge
///   (gRPC: 7 `PERMISSION_DENIED`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultRejection {
    realm: Option<Arc<str>>,
    policy: StatusPolicy,
}

/// gRPC percent-encodes `%` and everything outside printable ASCII in `grpc-message`.
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// `true` for a value that can stand inside a quoted auth-param without escaping.
pub(crate) fn is_quotable(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

impl DefaultRejection {
    /// The default rejection: no realm, [`StatusPolicy::RefreshOrRefuse`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `realm="…"` to every challenge.
    ///
    /// # Errors
    ///
    /// If the realm has characters outside printable ASCII, `"` or `\`.
    pub fn with_realm(mut self, realm: impl Into<String>) -> Result<Self, ConfigError> {
        let realm = realm.into();
        if !is_quotable(&realm) {
            return Err(ConfigError::InvalidRealm { realm });
        }
        self.realm = Some(Arc::from(realm));
        Ok(self)
    }

    /// Sets the status policy.
    #[must_use]
    pub fn with_policy(mut self, policy: StatusPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The realm, if one is set.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The status policy.
    pub fn policy(&self) -> StatusPolicy {
        self.policy
    }

    /// The HTTP status for `error` under this policy.
    pub fn status(&self, error: &AuthError) -> StatusCode {
        match error.kind() {
            // `revoked` is 401 under both policies: the token was genuine, the user must
            // authenticate again (it is not refreshable, see `ErrorKind::Revoked`).
            ErrorKind::Missing
            | ErrorKind::Expired
            | ErrorKind::NotYetValid
            | ErrorKind::Revoked
            | ErrorKind::InvalidDpopProof
            | ErrorKind::DpopRequired => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            // `csrf` is 403 under both policies: the credentials are fine, the request is not.
            ErrorKind::InsufficientScope | ErrorKind::Forbidden | ErrorKind::Csrf => {
                StatusCode::FORBIDDEN
            }
            ErrorKind::KeySourceUnavailable
            | ErrorKind::RevocationUnavailable
            | ErrorKind::DpopReplayCacheFull => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Malformed
            | ErrorKind::InvalidSignature
            | ErrorKind::AlgorithmNotAllowed
            | ErrorKind::UnknownKey
            | ErrorKind::InvalidClaims => match self.policy {
                StatusPolicy::RefreshOrRefuse => StatusCode::FORBIDDEN,
                StatusPolicy::Rfc6750 => StatusCode::UNAUTHORIZED,
            },
        }
    }

    /// The `WWW-Authenticate` challenge for `error` (RFC 6750 §3): `Bearer`, the realm if set,
    /// then `error`, `error_description` and, for a missing scope, `scope`.
    pub fn challenge(&self, error: &AuthError) -> HeaderValue {
        let params = self.challenge_params(error);
        let value = if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        };
        HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("Bearer"))
    }

    /// The `WWW-Authenticate` challenge of the `DPoP` scheme for `error` (RFC 9449 §7.1): the
    /// realm if set, `error` and `error_description` as in the bearer challenge (with
    /// `invalid_dpop_proof` for a failed proof), `scope` for a missing scope, and
    /// `algs` with the proof algorithms `algs` (space-separated).
    pub fn dpop_challenge(&self, error: &AuthError, algs: &str) -> HeaderValue {
        let mut params = self.challenge_params(error);
        params.push(format!("algs=\"{algs}\""));
        let value = format!("DPoP {}", params.join(", "));
        HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("DPoP"))
    }

    /// The auth-params both schemes' challenges share: the realm if set, then `error`,
    /// `error_description` and, for a missing scope, `scope`.
    fn challenge_params(&self, error: &AuthError) -> Vec<String> {
        let mut params = Vec::with_capacity(5);
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{realm}\""));
        }
        if let Some(code) = error.kind().error_code() {
            params.push(format!("error=\"{code}\""));
            params.push(format!("error_description=\"{}\"", error.description()));
        }
        if let Some(scope) = error.required_scope() {
            params.push(format!("scope=\"{scope}\""));
        }
        params
    }

    /// Puts the challenges of `error` into `headers`: the bearer one, and with a layer in a
    /// DPoP mode the `DPoP` one as a second field (allowed mode) or alone (required mode). In
    /// allowed mode, the bearer challenge of a failed DPoP check names no error: the failure
    /// was the proof's.
    fn insert_challenges(&self, error: &AuthError, headers: &mut HeaderMap) {
        if !has_challenge(error.kind()) {
            return;
        }
        match error.dpop_algs() {
            None => {
                headers.insert(WWW_AUTHENTICATE, self.challenge(error));
            }
            Some(algs) => {
                if error.has_bearer_challenge() {
                    let bearer = if is_dpop_kind(error.kind()) {
                        self.challenge(&AuthError::missing())
                    } else {
                        self.challenge(error)
                    };
                    headers.append(WWW_AUTHENTICATE, bearer);
                }
                headers.append(WWW_AUTHENTICATE, self.dpop_challenge(error, algs));
            }
        }
    }

    /// The HTTP response for `error`.
    pub fn http_response(&self, error: &AuthError) -> Response<Bytes> {
        let body = JsonBody {
            error: match error.kind() {
                ErrorKind::KeySourceUnavailable
                | ErrorKind::RevocationUnavailable
                | ErrorKind::DpopReplayCacheFull => "temporarily_unavailable",
                ErrorKind::Csrf => "csrf",
                kind => kind.error_code().unwrap_or("unauthorized"),
            },
            error_description: error.description(),
            reason: error.reason(),
            scope: error.required_scope(),
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = self.status(error);
        let headers = response.headers_mut();
        self.insert_challenges(error, headers);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    /// The gRPC response for `error`: HTTP 200 with `grpc-status`, `grpc-message`,
    /// `www-authenticate` and `cache-control: no-store`, and an empty body. `content_type` is the request's, echoed back
    /// (`application/grpc`, `application/grpc+proto`, `application/grpc-web`, …).
    pub fn grpc_response(&self, error: &AuthError, content_type: HeaderValue) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, content_type);
        // Any client can ask for this answer with its content type, on any route: like the
        // HTTP one, it must never be stored by a cache.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(error.kind().grpc_code())),
        );
        let message = format!("{}: {}", error.reason(), error.description());
        let message = utf8_percent_encode(&message, GRPC_MESSAGE).to_string();
        if let Ok(message) = HeaderValue::try_from(message) {
            headers.insert("grpc-message", message);
        }
        self.insert_challenges(error, headers);
        response
    }
}

/// Whether a refusal of this kind carries a challenge: not when the failure is the server's (no
/// key, no answer from the revocation store) or a CSRF refusal, since no other credentials
/// would help.
fn has_challenge(kind: ErrorKind) -> bool {
    !matches!(
        kind,
        ErrorKind::KeySourceUnavailable
            | ErrorKind::RevocationUnavailable
            | ErrorKind::Csrf
            | ErrorKind::DpopReplayCacheFull
    )
}

/// The refusals of a DPoP check, whose error only the `DPoP` challenge names.
fn is_dpop_kind(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::InvalidDpopProof | ErrorKind::DpopRequired)
}

#[derive(serde::Serialize)]
struct JsonBody<'a> {
    error: &'a str,
    error_description: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

/// The request's `content-type` when it is a gRPC one (`application/grpc` and its `+proto`,
/// `+json`, `-web` and `-web-text` variants), in any case (media types are case-insensitive),
/// whatever the HTTP version.
pub fn grpc_content_type(headers: &HeaderMap) -> Option<&HeaderValue> {
    const GRPC: &[u8] = b"application/grpc";
    headers.get(CONTENT_TYPE).filter(|value| {
        value
            .as_bytes()
            .get(..GRPC.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(GRPC))
    })
}

impl ResponseForAuthError for DefaultRejection {
    fn response(&self, error: &AuthError, request: &Parts) -> Response<Bytes> {
        match grpc_content_type(&request.headers) {
            Some(content_type) => self.grpc_response(error, content_type.clone()),
            None => self.http_response(error),
        }
    }
}

/// Builds the rejection response and puts the error into its extensions.
pub(crate) fn reject<R: ResponseForAuthError, B>(
    rejection: &R,
    error: AuthError,
    req: Request<B>,
) -> Response<Bytes> {
    let (parts, _body) = req.into_parts();
    #[cfg(feature = "tracing")]
    tracing::debug!(
        reason = error.reason(),
        description = error.description(),
        method = %parts.method,
        path = parts.uri.path(),
        "request refused"
    );
    let mut response = rejection.response(&error, &parts);
    response.extensions_mut().insert(error);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expired() -> AuthError {
        AuthError::new(ErrorKind::Expired, "The access token expired")
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let plain = DefaultRejection::new();
        assert_eq!(plain.challenge(&AuthError::missing()), "Bearer");
        let realm = DefaultRejection::new().with_realm("api").unwrap();
        assert_eq!(
            realm.challenge(&AuthError::missing()),
            "Bearer realm=\"api\""
        );
        assert_eq!(
            realm.challenge(&expired()),
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"The access token expired\""
        );
        let scope = AuthError::insufficient_scope(Arc::from("admin write"));
        assert_eq!(
            plain.challenge(&scope),
            "Bearer error=\"insufficient_scope\", error_description=\"The access token does not grant the required scope\", scope=\"admin write\""
        );
        assert!(DefaultRejection::new().with_realm("a\"b").is_err());
    }

    #[test]
    fn statuses_per_policy() {
        let forged = AuthError::new(ErrorKind::InvalidSignature, "x");
        let default = DefaultRejection::new();
        let strict = DefaultRejection::new().with_policy(StatusPolicy::Rfc6750);
        assert_eq!(default.status(&forged), StatusCode::FORBIDDEN);
        assert_eq!(strict.status(&forged), StatusCode::UNAUTHORIZED);
        assert_eq!(default.status(&expired()), StatusCode::UNAUTHORIZED);
        assert_eq!(
            strict.status(&AuthError::invalid_request("x")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            strict.status(&AuthError::insufficient_scope(Arc::from("a"))),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn json_body_has_error_description_and_reason() {
        let response = DefaultRejection::new().http_response(&expired());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": "invalid_token",
                "error_description": "The access token expired",
                "reason": "expired",
            })
        );
        let missing = DefaultRejection::new().http_response(&AuthError::missing());
        let body: serde_json::Value = serde_json::from_slice(missing.body()).unwrap();
        assert_eq!(body["error"], "unauthorized");
        assert_eq!(body["reason"], "missing");
    }

    #[test]
    fn every_refusal_is_no_store() {
        let rejection = DefaultRejection::new();
        let errors = [
            AuthError::missing(),
            expired(),
            AuthError::invalid_request("x"),
            AuthError::insufficient_scope(Arc::from("admin")),
            AuthError::new(ErrorKind::KeySourceUnavailable, "x"),
        ];
        for error in &errors {
            let http = rejection.http_response(error);
            assert_eq!(http.headers()[CACHE_CONTROL], "no-store", "{error}");
            let grpc = rejection.grpc_response(error, HeaderValue::from_static("application/grpc"));
            assert_eq!(
                grpc.headers()
                    .get(CACHE_CONTROL)
                    .and_then(|v| v.to_str().ok()),
                Some("no-store"),
                "{error}"
            );
        }
    }

    #[test]
    fn grpc_response_is_trailers_only_shape() {
        let response = DefaultRejection::new()
            .grpc_response(&expired(), HeaderValue::from_static("application/grpc"));
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.body().is_empty());
        assert_eq!(response.headers()["grpc-status"], "16");
        assert_eq!(
            response.headers()["grpc-message"],
            "expired: The access token expired"
        );
        assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc");
        let scope = DefaultRejection::new().grpc_response(
            &AuthError::insufficient_scope(Arc::from("admin")),
            HeaderValue::from_static("application/grpc"),
        );
        assert_eq!(scope.headers()["grpc-status"], "7");
        let ambiguous = DefaultRejection::new().grpc_response(
            &AuthError::invalid_request("x"),
            HeaderValue::from_static("application/grpc"),
        );
        assert_eq!(ambiguous.headers()["grpc-status"], "3");
    }

    #[test]
    fn revocation_refusals_http_and_grpc() {
        let revoked = AuthError::new(ErrorKind::Revoked, "The access token was revoked");
        let down = AuthError::new(ErrorKind::RevocationUnavailable, "x");
        assert!(!ErrorKind::Revoked.is_refreshable());
        for rejection in [
            DefaultRejection::new(),
            DefaultRejection::new().with_policy(StatusPolicy::Rfc6750),
        ] {
            let response = rejection.http_response(&revoked);
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["error"], "invalid_token");
            assert_eq!(body["reason"], "revoked");

            let response = rejection.http_response(&down);
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["error"], "temporarily_unavailable");
            assert_eq!(body["reason"], "revocation_unavailable");
        }
        let grpc = HeaderValue::from_static("application/grpc");
        let response = DefaultRejection::new().grpc_response(&revoked, grpc.clone());
        assert_eq!(response.headers()["grpc-status"], "16");
        assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        let response = DefaultRejection::new().grpc_response(&down, grpc);
        assert_eq!(response.headers()["grpc-status"], "14");
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(response.headers()["grpc-message"]
            .to_str()
            .unwrap()
            .starts_with("revocation_unavailable: "));
    }
}
