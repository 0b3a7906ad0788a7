//! [`SessionRoutes`]: the endpoints with the sessions' own layer in front, as one Tower service
//! that mounts in one line.

use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use serde::de::IgnoredAny;
use tower_layer::Layer;
use tower_service::Service;

use super::SessionEndpoints;
use crate::body::ResponseBody;
use crate::error::ConfigError;
use crate::future::ResponseFuture;
use crate::mode::{AuthMode, InvalidTokenPolicy};
use crate::rejection::DefaultRejection;
use crate::service::JwtAuth;
use crate::session::Sessions;

/// Every session route but login, behind the layer they need, as one Tower service: what
/// [`Sessions::routes`] returns. Mount it in one line: under axum,
/// `Router::new().nest_service("/auth", sessions.routes()?)`; served on its own (hyper, or a
/// framework that does not strip the prefix), [`prefix`](Self::prefix)`("/auth")`. With
/// cookies, mount them where the refresh cookie's `Path` points
/// ([`CookieSettings::refresh_path`](crate::session::CookieSettings::refresh_path), `/auth` by
/// default).
///
/// It is [`SessionEndpoints`] behind a layer from [`Sessions::layer_builder`] (the sessions'
/// keys, token sources, cookies and CSRF guard), that checks every token against the sessions'
/// store (revocation) and is optional, an invalid, expired or revoked access token counting as
/// none: so the access token's identity reaches `/logout`, `/logout-all` and the devices
/// routes, and a user whose access token expired can still log out with the refresh token
/// (body or cookie). A store that cannot answer is still 503, and a cookie request the CSRF
/// guard refuses is 403, never anonymous. The routes and their answers are those of
/// [`SessionEndpoints`]: `POST /refresh`, `POST /logout`, `POST /logout-all`, `GET /session`
/// (with cookies), `GET /sessions`, `DELETE /sessions/{id}`, `POST /logout-others`. With
/// feature `metrics`, the layer's metrics carry `layer="session_routes"`.
///
/// For another layer in front (a verified-token cache, metrics names), put it there yourself:
/// `layer.mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous)).layer(sessions.endpoints())`,
/// the layer built with `.revocation(sessions.store().clone())`.
#[derive(Clone, Debug)]
pub struct SessionRoutes {
    service: JwtAuth<SessionEndpoints, IgnoredAny>,
}

impl Sessions {
    /// Every session route but login, behind the layer they need: see [`SessionRoutes`].
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of building that layer (a verification key the crypto provider
    /// refuses).
    pub fn routes(&self) -> Result<SessionRoutes, ConfigError> {
        let layer = self
            .layer_builder::<IgnoredAny>()
            .revocation(self.store().clone())
            .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
            .metrics_name("session_routes")?
            .build()?;
        Ok(SessionRoutes {
            service: layer.layer(self.endpoints()),
        })
    }
}

impl SessionRoutes {
    /// Serves the routes under `prefix`: see [`SessionEndpoints::prefix`].
    pub fn prefix(mut self, prefix: impl AsRef<str>) -> Self {
        let endpoints = self.service.get_mut();
        *endpoints = endpoints.clone().prefix(prefix);
        self
    }

    /// Records the client of every refresh: see [`SessionEndpoints::record_client`].
    pub fn record_client(mut self, on: bool) -> Self {
        let endpoints = self.service.get_mut();
        *endpoints = endpoints.clone().record_client(on);
        self
    }
}

impl<B> Service<Request<B>> for SessionRoutes
where
    B: Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<ResponseBody<ResponseBody>>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture<SessionEndpoints, B, IgnoredAny, DefaultRejection>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <JwtAuth<SessionEndpoints, IgnoredAny> as Service<Request<B>>>::poll_ready(
            &mut self.service,
            cx,
        )
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.service.call(request)
    }
}
