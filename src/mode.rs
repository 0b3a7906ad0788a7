//! How a layer treats a request before and around verification: [`InvalidTokenPolicy`], the
//! per-layer [`Mode`] (token sources, optional or required, scopes), and CORS preflights.

use std::sync::Arc;

use http::header::ACCESS_CONTROL_REQUEST_METHOD;
use http::{Method, Request};

use crate::source::TokenSource;
use crate::verify::scopes::RequiredScopes;

/// What a present but invalid token does in [optional mode](crate::JwtAuthLayer::optional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidTokenPolicy {
    /// The request is refused, as in required mode. The default.
    #[default]
    Reject,
    /// The request passes on without claims, as if it carried no token: useful for public pages
    /// that a browser visits with a stale cookie.
    Anonymous,
}

/// The per-layer behaviour, cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Mode {
    pub(crate) sources: Arc<[TokenSource]>,
    pub(crate) optional: bool,
    pub(crate) invalid_token: InvalidTokenPolicy,
    pub(crate) cors_preflight: bool,
    pub(crate) required_scopes: Option<RequiredScopes>,
}

/// A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`. Browsers send it without
/// credentials, so it passes through for a CORS layer to answer.
pub(crate) fn is_cors_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}
