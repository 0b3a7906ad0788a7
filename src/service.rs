//! The middleware service.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD};
use http::{Method, Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::AuthError;
use crate::future::ResponseFuture;
use crate::layer::{InvalidTokenPolicy, Mode};
use crate::rejection::{DefaultRejection, ResponseForAuthError};
use crate::scope::Scopes;
use crate::source::{find_token, TokenSourceKind};
use crate::verify::{verify, Verified, VerifyConfig};

/// Middleware that verifies the access token of each request and puts its claims `C` into the
/// request extensions; see the [crate docs](crate) for an example.
///
/// Built by [`JwtAuthLayer`](crate::JwtAuthLayer).
#[must_use]
pub struct JwtAuth<S, C, R = DefaultRejection> {
    inner: S,
    config: Arc<VerifyConfig>,
    mode: Mode,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S, C, R> JwtAuth<S, C, R> {
    pub(crate) fn new(inner: S, config: Arc<VerifyConfig>, mode: Mode, rejection: R) -> Self {
        Self {
            inner,
            config,
            mode,
            rejection,
            _claims: PhantomData,
        }
    }

    define_inner_service_accessors!();
}

impl<S: Clone, C, R: Clone> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            mode: self.mode.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S: fmt::Debug, C, R: fmt::Debug> fmt::Debug for JwtAuth<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("mode", &self.mode)
            .field("rejection", &self.rejection)
            .field("claims", &std::any::type_name::<C>())
            .finish()
    }
}

/// What became of a request.
enum Outcome<C> {
    Authenticated(Verified<C>),
    Anonymous,
    Refused(AuthError),
}

fn is_cors_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

impl<S, C, R> JwtAuth<S, C, R>
where
    C: DeserializeOwned,
{
    fn authenticate<B>(&self, req: &Request<B>) -> Outcome<C> {
        let found = match find_token(&self.mode.sources, req.headers(), req.uri()) {
            Ok(Some(found)) => found,
            Ok(None) if self.mode.optional => return Outcome::Anonymous,
            Ok(None) => return Outcome::Refused(AuthError::missing()),
            Err(error) => return Outcome::Refused(error),
        };
        // Which source the token came from is known here; a CSRF guard for cookies hooks in
        // at this point.
        let _source: TokenSourceKind = found.source;
        match verify::<C>(&self.config, found.token) {
            Ok(verified) => Outcome::Authenticated(verified),
            Err(_) if self.mode.optional && self.mode.invalid_token == InvalidTokenPolicy::Anonymous => {
                Outcome::Anonymous
            }
            Err(error) => Outcome::Refused(error),
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

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ResponseForAuthError,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if self.mode.cors_preflight && is_cors_preflight(&req) {
            return ResponseFuture::future(self.inner.call(req));
        }
        match self.authenticate(&req) {
            Outcome::Authenticated(verified) => {
                if let Some(required) = &self.mode.required_scopes {
                    if let Err(error) = required.check(Some(&verified.scopes)) {
                        return ResponseFuture::rejected(reject(&self.rejection, error, req));
                    }
                }
                let extensions = req.extensions_mut();
                extensions.insert(verified.claims);
                extensions.insert::<Scopes>(verified.scopes);
                ResponseFuture::future(self.inner.call(req))
            }
            Outcome::Anonymous => match &self.mode.required_scopes {
                Some(required) => match required.check(None) {
                    Ok(()) => ResponseFuture::future(self.inner.call(req)),
                    Err(error) => ResponseFuture::rejected(reject(&self.rejection, error, req)),
                },
                None => ResponseFuture::future(self.inner.call(req)),
            },
            Outcome::Refused(error) => ResponseFuture::rejected(reject(&self.rejection, error, req)),
        }
    }
}
