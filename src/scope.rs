//! [`RequireScopeLayer`] and [`RequireScope`]: a layer that requires scopes of the verified token
//! for the routes it wraps.

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::ConfigError;
use crate::future::RequireScopeFuture;
use crate::mode::is_cors_preflight;
use crate::rejection::{reject, DefaultRejection, ResponseForAuthError};
use crate::verify::scopes::{RequiredScopes, Scopes};

/// A layer that requires scopes for the routes it wraps: [`RequireScope`].
///
/// Put it inside a [`JwtAuthLayer`](crate::JwtAuthLayer) (for axum, as a `route_layer` of the
/// routes that need it). A request without a verified token is refused as `missing` (401); a
/// token that lacks a scope is refused as `insufficient_scope`: 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`, or gRPC
/// `PERMISSION_DENIED`. Get one that answers like the authentication layer with
/// [`JwtAuthLayer::scope_layer`](crate::JwtAuthLayer::scope_layer).
///
/// # Example
///
/// ```
/// use tower_jwt_auth::RequireScopeLayer;
///
/// let admin_only = RequireScopeLayer::new(["admin"])?;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RequireScopeLayer<R = DefaultRejection> {
    required: RequiredScopes,
    rejection: R,
}

impl RequireScopeLayer {
    /// Requires every scope in `scopes`.
    ///
    /// # Errors
    ///
    /// If a scope is not an RFC 6749 scope token (empty, or with a space, `"` or `\`).
    pub fn new<I, S>(scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Ok(Self {
            required: RequiredScopes::new(scopes)?,
            rejection: DefaultRejection::default(),
        })
    }
}

impl<R> RequireScopeLayer<R> {
    pub(crate) fn from_parts(required: RequiredScopes, rejection: R) -> Self {
        Self {
            required,
            rejection,
        }
    }

    /// Answers refusals with `rejection` instead.
    pub fn with_rejection<R2: ResponseForAuthError>(self, rejection: R2) -> RequireScopeLayer<R2> {
        RequireScopeLayer {
            required: self.required,
            rejection,
        }
    }
}

impl<S, R: Clone> Layer<S> for RequireScopeLayer<R> {
    type Service = RequireScope<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            required: self.required.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

/// A service that requires scopes of the verified token; see [`RequireScopeLayer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RequireScope<S, R = DefaultRejection> {
    inner: S,
    required: RequiredScopes,
    rejection: R,
}

impl<S, R> RequireScope<S, R> {
    define_inner_service_accessors!();
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: ResponseForAuthError,
{
    type Response = Response<crate::body::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RequireScopeFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if is_cors_preflight(&req) {
            return RequireScopeFuture::future(self.inner.call(req));
        }
        match self.required.check(req.extensions().get::<Scopes>()) {
            Ok(()) => RequireScopeFuture::future(self.inner.call(req)),
            Err(error) => RequireScopeFuture::rejected(reject(&self.rejection, error, req)),
        }
    }
}
