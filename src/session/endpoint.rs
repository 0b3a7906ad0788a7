//! [`SessionEndpoints`]: the refresh, logout and logout-everywhere endpoints as one Tower
//! service, for axum (`Router::nest_service`) and hyper.

use std::convert::Infallible;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, PRAGMA, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use serde::{Deserialize, Serialize};
use tower_service::Service;

use super::cookies::CookieSettings;
use super::sessions::{SessionError, SessionErrorKind, Sessions, TokenPair};
use crate::clock::unix_secs;
use crate::csrf::CsrfGuard;
use crate::error::AuthError;
use crate::rejection::DefaultRejection;
use crate::revocation::TokenIdentity;
use crate::source::cookie_value;

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
/// | `GET /session`, with [cookies](Self::cookies) on | 200 `{"authenticated": true, "sub", "expires_at"}` while the refresh cookie's session is alive, else `{"authenticated": false}` |
///
/// With [cookies](Self::cookies) on, refresh and logout also accept the refresh cookie (an
/// empty body), set and clear the cookies, and every `POST` passes the [CSRF
/// guard](Self::csrf) first (403 `csrf`).
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
/// use tower_jwt_auth::{Algorithm, SigningKey};
/// use tower_jwt_auth::session::Sessions;
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
    cookies: Option<CookieSettings>,
    csrf: CsrfGuard,
}

impl fmt::Debug for SessionEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionEndpoints")
            .field("prefix", &self.prefix)
            .field("cookies", &self.cookies)
            .field("csrf", &self.csrf)
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
            cookies: None,
            csrf: CsrfGuard::new(),
        }
    }

    /// Serves the endpoints under `prefix` (for example `/auth`: `/auth/refresh`, ...). A
    /// trailing `/` is ignored. Leave it out under axum's `nest_service`, which strips its own
    /// prefix.
    pub fn prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.prefix = Arc::from(prefix.as_ref().trim_end_matches('/'));
        self
    }

    /// Serves browsers too, with the cookies of `settings`:
    ///
    /// - `POST /refresh` and `POST /logout` with an empty body use the refresh cookie. A
    ///   refresh so made sets the new cookies (and a new CSRF cookie in double-submit mode)
    ///   and answers `{"token_type", "expires_in", "session_expires_at"}` without the tokens.
    /// - `POST /logout` and `POST /logout-all` clear the cookies.
    /// - `GET /session` answers whether the refresh cookie's session is alive (see
    ///   [`SessionEndpoints`]).
    /// - Every `POST` gets the [CSRF guard](Self::csrf)'s Fetch Metadata / `Origin` check, and
    ///   one that uses the refresh cookie, in double-submit mode, the `x-csrf-token` check
    ///   against the cookie's session.
    pub fn cookies(mut self, settings: CookieSettings) -> Self {
        self.cookies = Some(settings);
        self
    }

    /// The CSRF guard of the cookie endpoints ([`CsrfGuard::new()`] by default): give them the
    /// same guard as the layer.
    pub fn csrf(mut self, guard: CsrfGuard) -> Self {
        self.csrf = guard;
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Refresh,
    Logout,
    LogoutAll,
    Session,
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
        let cookies = self.cookies.is_some();
        let route = request
            .uri()
            .path()
            .strip_prefix(&*self.prefix)
            .and_then(|rest| match rest {
                "/refresh" => Some(Route::Refresh),
                "/logout" => Some(Route::Logout),
                "/logout-all" => Some(Route::LogoutAll),
                "/session" if cookies => Some(Route::Session),
                _ => None,
            });
        let Some(route) = route else {
            return EndpointFuture::ready(empty(StatusCode::NOT_FOUND));
        };
        let allowed = match route {
            Route::Session => matches!(*request.method(), Method::GET | Method::HEAD),
            Route::Refresh | Route::Logout | Route::LogoutAll => request.method() == Method::POST,
        };
        if !allowed {
            let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
            let allow = match route {
                Route::Session => "GET, HEAD",
                Route::Refresh | Route::Logout | Route::LogoutAll => "POST",
            };
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            return EndpointFuture::ready(response);
        }
        // Any POST that sets or clears cookies must come from the site itself (login CSRF
        // through /refresh with a body token included).
        if cookies && route != Route::Session {
            if let Err(error) = self.csrf.check_origin(request.headers()) {
                return EndpointFuture::ready(auth_error(&error));
            }
        }
        let this = self.clone();
        EndpointFuture {
            inner: Box::pin(async move { Ok(this.serve(route, request).await) }),
        }
    }
}

/// Where a refresh token came from.
enum Presented {
    Body(String),
    Cookie(String),
}

impl SessionEndpoints {
    async fn serve<B>(self, route: Route, request: Request<B>) -> Response<EndpointBody>
    where
        B: Body,
    {
        let sessions = &self.sessions;
        match route {
            Route::Refresh => {
                let (presented, headers) = match self.read_presented(request).await {
                    Ok(found) => found,
                    Err(response) => return response,
                };
                match presented {
                    Presented::Body(token) => match sessions.refresh(&token).await {
                        Ok(pair) => json(StatusCode::OK, &pair),
                        Err(error) => session_error(&error),
                    },
                    Presented::Cookie(token) => {
                        if let Some(response) = self.check_cookie(&headers, &token) {
                            return response;
                        }
                        match sessions.refresh(&token).await {
                            Ok(pair) => self.cookie_answer(&pair),
                            Err(error) => session_error(&error),
                        }
                    }
                }
            }
            Route::Logout => {
                let ended = match request.extensions().get::<TokenIdentity>().cloned() {
                    Some(identity) => sessions.logout_identity(&identity).await,
                    None => match self.read_presented(request).await {
                        Ok((Presented::Body(token), _)) => {
                            sessions.logout_by_refresh_token(&token).await
                        }
                        Ok((Presented::Cookie(token), headers)) => {
                            if let Some(response) = self.check_cookie(&headers, &token) {
                                return response;
                            }
                            sessions.logout_by_refresh_token(&token).await
                        }
                        Err(response) => return response,
                    },
                };
                match ended {
                    Ok(_) => self.cleared(empty(StatusCode::NO_CONTENT)),
                    Err(error) => session_error(&error),
                }
            }
            Route::LogoutAll => {
                let Some(identity) = request.extensions().get::<TokenIdentity>() else {
                    return auth_error(&AuthError::missing());
                };
                match sessions.logout_everywhere(&identity.sub).await {
                    Ok(_) => self.cleared(empty(StatusCode::NO_CONTENT)),
                    Err(error) => session_error(&error),
                }
            }
            Route::Session => self.session(request.headers()).await,
        }
    }

    /// `GET /session`: whether the refresh cookie's session is alive.
    async fn session(&self, headers: &HeaderMap) -> Response<EndpointBody> {
        let token = match self.refresh_cookie(headers) {
            Ok(Some(token)) => token,
            Ok(None) => return json(StatusCode::OK, &SessionState::anonymous()),
            Err(error) => return auth_error(&error),
        };
        match self.sessions.find_session(&token).await {
            Ok(Some(info)) => json(
                StatusCode::OK,
                &SessionState {
                    authenticated: true,
                    sub: Some(info.sub()),
                    expires_at: Some(unix_secs(info.expires_at())),
                },
            ),
            Ok(None) => json(StatusCode::OK, &SessionState::anonymous()),
            Err(error) => session_error(&error),
        }
    }

    /// The refresh cookie's value, when the endpoints serve cookies and it was sent; a
    /// duplicated one is a 400.
    fn refresh_cookie(&self, headers: &HeaderMap) -> Result<Option<String>, AuthError> {
        let Some(cookies) = &self.cookies else {
            return Ok(None);
        };
        Ok(
            cookie_value(headers, cookies.refresh_cookie_name().as_bytes())?
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned),
        )
    }

    /// The refresh token of a JSON body or, for an empty body, of the refresh cookie; or the
    /// refusal (400 or 413).
    async fn read_presented<B: Body>(
        &self,
        request: Request<B>,
    ) -> Result<(Presented, HeaderMap), Response<EndpointBody>> {
        let (parts, body) = request.into_parts();
        let body = read_body(&parts.headers, body).await?;
        if body.is_empty() {
            let cookie = self
                .refresh_cookie(&parts.headers)
                .map_err(|error| auth_error(&error))?;
            if let Some(token) = cookie {
                return Ok((Presented::Cookie(token), parts.headers));
            }
        }
        serde_json::from_slice::<TokenRequest>(&body)
            .map(|r| (Presented::Body(r.refresh_token), parts.headers))
            .map_err(|_| invalid_body())
    }

    /// The double-submit check of a request that uses the refresh cookie, against the session
    /// the cookie's token names (its MAC verified, no store access). Any token that can change
    /// the store (rotate it, or end the session as reuse) names its session under a valid MAC,
    /// so it is checked; a token with a bad MAC changes nothing, and the operation refuses it.
    /// The refusal, if any.
    fn check_cookie(&self, headers: &HeaderMap, token: &str) -> Option<Response<EndpointBody>> {
        if !self.csrf.is_double_submit() {
            return None;
        }
        let sid = self.sessions.session_id_of(token)?;
        self.csrf
            .check_double_submit(headers, Some(sid.as_str()))
            .err()
            .map(|error| auth_error(&error))
    }

    /// The answer to a refresh made with the cookie: the new cookies, and the pair without its
    /// tokens, which stay out of reach of page scripts.
    fn cookie_answer(&self, pair: &TokenPair) -> Response<EndpointBody> {
        let Some(cookies) = &self.cookies else {
            return json(StatusCode::OK, pair);
        };
        let set = match cookies.set(pair, self.csrf.key()) {
            Ok(set) => set,
            Err(_error) => {
                #[cfg(feature = "tracing")]
                tracing::error!(error = %_error, "session endpoint: the cookies could not be set");
                return error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The session cookies could not be set",
                    "cookie_error",
                );
            }
        };
        let mut response = json(
            StatusCode::OK,
            &CookieRefresh {
                token_type: pair.token_type(),
                expires_in: pair.expires_in(),
                session_expires_at: pair.session_expires_at(),
            },
        );
        for value in set {
            response.headers_mut().append(SET_COOKIE, value);
        }
        response
    }

    /// `response` with the headers that clear the cookies, when the endpoints serve them.
    fn cleared(&self, mut response: Response<EndpointBody>) -> Response<EndpointBody> {
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
struct SessionState<'a> {
    authenticated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

impl SessionState<'_> {
    fn anonymous() -> Self {
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
}

/// The layer's answer for `error` (a missing token, a CSRF refusal, a duplicated cookie).
fn auth_error(error: &AuthError) -> Response<EndpointBody> {
    let refusal = DefaultRejection::new().http_response(error);
    let (parts, body) = refusal.into_parts();
    Response::from_parts(parts, EndpointBody::new(body))
}

#[derive(Deserialize)]
struct TokenRequest {
    refresh_token: String,
}

fn invalid_body() -> Response<EndpointBody> {
    error_body(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "The request body must be JSON with a string refresh_token",
        "invalid_request",
    )
}

/// The request body, at most [`MAX_BODY_LEN`] bytes, or the refusal (400 or 413).
async fn read_body<B: Body>(headers: &HeaderMap, body: B) -> Result<Bytes, Response<EndpointBody>> {
    let too_large = || {
        error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "The request body is larger than 4096 bytes",
            "invalid_request",
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_LEN as u64) {
        return Err(too_large());
    }
    match read_bounded(body, MAX_BODY_LEN).await {
        Ok(body) => Ok(body),
        Err(ReadError::TooLarge) => Err(too_large()),
        Err(ReadError::Failed) => Err(invalid_body()),
    }
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

#[cfg(test)]
mod tests;
