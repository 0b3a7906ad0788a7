//! [`SessionEndpoints`]: the refresh, logout and logout-everywhere endpoints as one Tower
//! service, for axum (`Router::nest_service`) and hyper.
//!
//! - `mod.rs`: the service, its settings, the routing, and what each route does;
//! - `request`: reading the refresh token of a request (body or cookie) and its CSRF check;
//! - `response`: the answers (JSON, refusals, cookies).

mod devices;
mod login;
mod request;
mod response;
mod routes;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::ALLOW;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use self::request::{read_json_body, Presented};
use self::response::{auth_error, empty, json, session_error, SessionState};
pub use self::routes::SessionRoutes;
use super::cookies::CookieSettings;
use super::lifecycle::Sessions;
use crate::body::ResponseBody;
use crate::clock::unix_secs;
use crate::csrf::CsrfGuard;
use crate::error::AuthError;
use crate::revocation::TokenIdentity;

/// The largest request body the endpoints read: 4 KiB. A larger one is refused with 413
/// without being read further.
pub const MAX_BODY_LEN: usize = 4096;

/// The session endpoints as one Tower service: `POST {prefix}/refresh`, `POST {prefix}/logout`,
/// `POST {prefix}/logout-all`, `GET {prefix}/session` and the devices routes. Built by
/// [`Sessions::endpoints`]; mounted with their layer in front by [`Sessions::routes`].
///
/// | Request | Answer |
/// |---|---|
/// | `POST /refresh` with `{"refresh_token": ".."}` | 200 with the new [`TokenPair`](super::TokenPair) as JSON |
/// | `POST /logout` with a [`TokenIdentity`] in the request extensions | 204: that token's session ended |
/// | `POST /logout` with `{"refresh_token": ".."}` | 204: that token's session ended (an unknown token also gets 204, as in RFC 7009 §2.2) |
/// | `POST /logout-all` with a [`TokenIdentity`] in the request extensions | 204: every session of its subject ended |
/// | `POST /logout-all` without one | 401, reason `missing` |
/// | `GET /session`, with [cookies](super::SessionsBuilder::cookies) on | 200 `{"authenticated": true, "sub", "expires_at"}` while the refresh cookie's session is alive, else `{"authenticated": false}` |
/// | `GET /sessions` with a [`TokenIdentity`] | 200 `{"sessions": [{"id", "created_at", "last_refreshed_at", "expires_at", "user_agent", "ip", "current"}]}`, times in Unix seconds, newest first |
/// | `DELETE /sessions/{id}` with a [`TokenIdentity`] | 204: that session of the user ended (the current one: a logout, cookies cleared); an unknown id or another user's: 404, reason `session_not_found` |
/// | `POST /logout-others` with a [`TokenIdentity`] | 204: every other session of the user ended |
/// | any of these three without one | 401, reason `missing` |
///
/// With [cookies](super::SessionsBuilder::cookies) on, the endpoints serve browsers too:
///
/// - `POST /refresh` and `POST /logout` with an empty body use the refresh cookie. A refresh
///   so made sets the new cookies (and a new CSRF cookie in double-submit mode) and answers
///   `{"token_type", "expires_in", "session_expires_at"}` without the tokens.
/// - **Every successful refresh sets the cookies**, whichever way the token came: one with the
///   token in a JSON body answers the pair and sets the same tokens in the cookies, so that a
///   cookie never keeps a token the rotation retired (presented after the grace window, it
///   would count as reuse and end the session).
/// - `POST /logout` and `POST /logout-all` clear the cookies.
/// - Every `POST` passes the sessions' [CSRF guard](super::SessionsBuilder::csrf) first (403
///   `csrf`): its Fetch Metadata / `Origin` check and, for one that uses the refresh cookie in
///   double-submit mode, the `x-csrf-token` check against the cookie's session.
///
/// The cookie settings and the guard are those of the [`Sessions`]: configured once, for the
/// layer from [`Sessions::layer_builder`] and for the endpoints.
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
/// - A non-empty body whose media type is not `application/json` (parameters such as `charset`
///   aside): 415 `{"error": "invalid_request", "reason": "unsupported_media_type"}`, so that no
///   body a form of another site can send without a preflight is read. An empty body needs no
///   content type (a cookie refresh, a bearer logout).
/// - The store cannot answer (or is full): 503 `{"error": "temporarily_unavailable",
///   "reason": "session_store_unavailable"}`. Nothing is let in.
/// - Another path: 404; another method: 405 with `Allow: POST`.
///
/// Every answer carries `Cache-Control: no-store`. Nothing is logged with a token in it.
///
/// # Example
///
/// Mount [`Sessions::routes`]: these endpoints with the layer they need in front (the access
/// token's identity for logout, logout-all and the devices routes; the revocation check), in
/// one line. Login is the application's handler, with [`Sessions::login`].
///
/// ```
/// use axum::{body::Body, http::Request, Router};
/// use tower::ServiceExt;
/// use tower_jwt_auth::session::{Grant, Sessions};
/// use tower_jwt_auth::{Algorithm, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = Sessions::builder()
///     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
///     .issuer("https://issuer.example")?
///     .build()?;
/// // axum strips `/auth` before the service sees the path.
/// let app: Router = Router::new().nest_service("/auth", sessions.routes()?);
/// // Served on its own (hyper): the full paths.
/// let _hyper = sessions.routes()?.prefix("/auth");
///
/// // A bearer logout ends the session: its refresh token is refused from then on.
/// let pair = sessions.open(Grant::new("alice")).await?;
/// let logout = Request::post("/auth/logout")
///     .header("authorization", format!("Bearer {}", pair.access_token()))
///     .body(Body::empty())?;
/// assert_eq!(app.oneshot(logout).await?.status(), 204);
/// assert!(sessions.refresh(pair.refresh_token()).await.is_err());
/// # Ok(())
/// # }
/// ```
///
/// The bare endpoints, [`Sessions::endpoints`], are for an application that puts a layer of
/// its own in front (see [`SessionRoutes`]); without one, the routes that need the access
/// token answer 401 `missing`, and a bearer logout reads the body for a refresh token (400
/// `invalid_request` without one).
#[derive(Clone)]
pub struct SessionEndpoints {
    sessions: Sessions,
    prefix: Arc<str>,
    cookies: Option<CookieSettings>,
    csrf: CsrfGuard,
    record_client: bool,
}

impl fmt::Debug for SessionEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionEndpoints")
            .field("prefix", &self.prefix)
            .field("cookies", &self.cookies)
            .field("csrf", &self.csrf)
            .field("record_client", &self.record_client)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// The session endpoints of these sessions, as one Tower service, **without** a layer in
    /// front; see [`SessionEndpoints`]. To mount them, [`routes`](Self::routes) puts the layer
    /// they need in front.
    pub fn endpoints(&self) -> SessionEndpoints {
        SessionEndpoints::new(self.clone())
    }
}

impl SessionEndpoints {
    /// The endpoints of `sessions`, at `/refresh`, `/logout` and `/logout-all`, with the
    /// sessions' cookie settings and CSRF guard.
    pub fn new(sessions: Sessions) -> Self {
        let cookies = sessions.cookie_settings().cloned();
        let csrf = sessions.csrf_guard().clone();
        Self {
            sessions,
            prefix: Arc::from(""),
            cookies,
            csrf,
            record_client: false,
        }
    }

    /// Records the client of every refresh as the session's latest (off by default): its
    /// `User-Agent` (at most 256 bytes) and its peer address: the `SocketAddr` (or `IpAddr`) in
    /// the request's extensions, which a hyper server puts there from its accepted connection,
    /// and an axum application from its `ConnectInfo<SocketAddr>` (the `session` example shows
    /// the one-line middleware). Without it, what the application gave at login stays (`null`
    /// when nothing).
    pub fn record_client(mut self, on: bool) -> Self {
        self.record_client = on;
        self
    }

    /// Serves the endpoints under `prefix` (for example `/auth`: `/auth/refresh`, ...). A
    /// trailing `/` is ignored. Leave it out under axum's `nest_service`, which strips its own
    /// prefix.
    pub fn prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.prefix = Arc::from(prefix.as_ref().trim_end_matches('/'));
        self
    }

    /// Serves browsers too, with the cookies of `settings`, instead of the sessions' own.
    #[deprecated(
        since = "0.3.0",
        note = "configure the cookies once, with `SessionsBuilder::cookies`"
    )]
    pub fn cookies(mut self, settings: CookieSettings) -> Self {
        self.cookies = Some(settings);
        self
    }

    /// The CSRF guard of the cookie endpoints, instead of the sessions' own.
    #[deprecated(
        since = "0.3.0",
        note = "configure the guard once, with `SessionsBuilder::csrf`"
    )]
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
    Devices,
    EndDevice,
    LogoutOthers,
}

impl<B> Service<Request<B>> for SessionEndpoints
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<ResponseBody>;
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
                "/sessions" => Some(Route::Devices),
                "/logout-others" => Some(Route::LogoutOthers),
                _ => rest
                    .strip_prefix("/sessions/")
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .map(|_| Route::EndDevice),
            });
        let Some(route) = route else {
            return EndpointFuture::ready(empty(StatusCode::NOT_FOUND));
        };
        let allowed = match route {
            Route::Session | Route::Devices => {
                matches!(*request.method(), Method::GET | Method::HEAD)
            }
            Route::EndDevice => request.method() == Method::DELETE,
            Route::Refresh | Route::Logout | Route::LogoutAll | Route::LogoutOthers => {
                request.method() == Method::POST
            }
        };
        if !allowed {
            let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
            let allow = match route {
                Route::Session | Route::Devices => "GET, HEAD",
                Route::EndDevice => "DELETE",
                Route::Refresh | Route::Logout | Route::LogoutAll | Route::LogoutOthers => "POST",
            };
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            return EndpointFuture::ready(response);
        }
        // Any POST that sets or clears cookies must come from the site itself (login CSRF
        // through /refresh with a body token included).
        if cookies && !matches!(route, Route::Session | Route::Devices) {
            if let Err(error) = self
                .csrf
                .check_request_origin(request.uri(), request.headers())
            {
                return EndpointFuture::ready(auth_error(&error));
            }
        }
        let this = self.clone();
        EndpointFuture {
            inner: Box::pin(async move { Ok(this.serve(route, request).await) }),
        }
    }
}

impl SessionEndpoints {
    async fn serve<B>(self, route: Route, request: Request<B>) -> Response<ResponseBody>
    where
        B: Body,
    {
        let sessions = &self.sessions;
        match route {
            Route::Refresh => {
                let client = self.record_client.then(|| devices::client_of(&request));
                let (method, uri) = (request.method().clone(), request.uri().clone());
                let (presented, headers) = match self.read_presented(request).await {
                    Ok(found) => found,
                    Err(response) => return response,
                };
                // A DPoP proof, if any (RFC 9449 §5): its key must be the session's.
                let proof_jkt = match sessions.check_dpop_proof(&method, &uri, &headers).await {
                    Ok(jkt) => jkt,
                    Err(error) => return session_error(&error),
                };
                let client = (client, proof_jkt);
                match presented {
                    Presented::Body(token) => match self.refresh(&token, client).await {
                        Ok(pair) => self.body_answer(&pair),
                        Err(error) => session_error(&error),
                    },
                    Presented::Cookie(token) => {
                        if let Some(response) = self.check_cookie(&headers, &token) {
                            return response;
                        }
                        match self.refresh(&token, client).await {
                            Ok(pair) => self.cookie_answer(&pair),
                            Err(error) => session_error(&error),
                        }
                    }
                }
            }
            Route::Logout => {
                let ended = match request.extensions().get::<TokenIdentity>().cloned() {
                    Some(identity) => {
                        let (parts, body) = request.into_parts();
                        if let Err(response) = read_json_body(&parts.headers, body).await {
                            return response;
                        }
                        sessions.logout_identity(&identity).await
                    }
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
                let Some(identity) = request.extensions().get::<TokenIdentity>().cloned() else {
                    return auth_error(&AuthError::missing());
                };
                let (parts, body) = request.into_parts();
                if let Err(response) = read_json_body(&parts.headers, body).await {
                    return response;
                }
                match sessions.logout_everywhere_identity(&identity).await {
                    Ok(_) => self.cleared(empty(StatusCode::NO_CONTENT)),
                    Err(error) => session_error(&error),
                }
            }
            Route::Session => self.session(request.headers()).await,
            Route::Devices => {
                self.devices(request.extensions().get::<TokenIdentity>())
                    .await
            }
            Route::EndDevice | Route::LogoutOthers => {
                let id = request
                    .uri()
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let Some(identity) = request.extensions().get::<TokenIdentity>().cloned() else {
                    return auth_error(&AuthError::missing());
                };
                // Unsafe methods take no body but an empty or JSON one, as logout does.
                let (parts, body) = request.into_parts();
                if let Err(response) = read_json_body(&parts.headers, body).await {
                    return response;
                }
                if route == Route::EndDevice {
                    self.end_device(Some(&identity), &id).await
                } else {
                    self.logout_others(Some(&identity)).await
                }
            }
        }
    }

    /// A refresh, recording the client when asked to, with the thumbprint of the request's
    /// checked DPoP proof, if any.
    async fn refresh(
        &self,
        token: &str,
        (client, proof_jkt): (Option<crate::session::stores::ClientInfo>, Option<String>),
    ) -> Result<super::TokenPair, super::SessionError> {
        self.sessions
            .refresh_bound(token, client, proof_jkt.as_deref())
            .await
    }

    /// `GET /session`: whether the refresh cookie's session is alive.
    async fn session(&self, headers: &HeaderMap) -> Response<ResponseBody> {
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
}

/// The response future of [`SessionEndpoints`].
pub struct EndpointFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>,
}

impl EndpointFuture {
    fn ready(response: Response<ResponseBody>) -> Self {
        Self {
            inner: Box::pin(std::future::ready(Ok(response))),
        }
    }
}

impl Future for EndpointFuture {
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for EndpointFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointFuture")
    }
}

#[cfg(test)]
mod routes_tests;
#[cfg(test)]
mod tests;
