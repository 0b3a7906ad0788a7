//! What a layer does with a request before and around verification: the per-layer mode.

use std::sync::Arc;

use http::header::{
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING,
};
use http::{Method, Request};
use http_body::Body;

use crate::authz::Requirements;
use crate::csrf::CsrfGuard;
use crate::dpop::DpopPolicy;
use crate::source::TokenSource;

/// Whether a layer requires a token: the [builder](crate::JwtAuthBuilder::mode)'s setting, and
/// that of a [variant](crate::JwtAuthLayer::mode) of a built layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMode {
    /// Every request needs a valid token; any other is refused. The default.
    #[default]
    Required,
    /// A request without a token passes on without claims; what a present but invalid token
    /// does is the [`InvalidTokenPolicy`]. Ambiguous credentials (`invalid_request`), a key
    /// source that is down (`key_source_unavailable`) and a cookie request that fails the
    /// [CSRF guard](crate::csrf::CsrfGuard) (`csrf`: the browser did send credentials) are
    /// refused whatever the policy.
    Optional(InvalidTokenPolicy),
}

/// What a present but invalid token does in [`AuthMode::Optional`].
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
pub(crate) struct ModeConfig<C> {
    pub(crate) sources: Arc<[TokenSource]>,
    pub(crate) auth: AuthMode,
    /// Whether a bodiless, non-gRPC CORS preflight may pass without a token (off by default).
    pub(crate) pass_cors_preflight: bool,
    /// The CSRF guard for tokens that came from a cookie.
    pub(crate) csrf: CsrfGuard,
    /// What a verified token must meet: scopes, roles, a predicate, per path.
    pub(crate) requirements: Requirements<C>,
    /// DPoP: the proof settings, the mode for every request and per path.
    pub(crate) dpop: DpopPolicy,
}

impl<C> std::fmt::Debug for ModeConfig<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModeConfig")
            .field("sources", &self.sources)
            .field("auth", &self.auth)
            .field("pass_cors_preflight", &self.pass_cors_preflight)
            .field("csrf", &self.csrf)
            .field("requirements", &self.requirements)
            .field("dpop", &self.dpop)
            .finish()
    }
}

impl<C> Clone for ModeConfig<C> {
    fn clone(&self) -> Self {
        Self {
            sources: self.sources.clone(),
            auth: self.auth,
            pass_cors_preflight: self.pass_cors_preflight,
            csrf: self.csrf.clone(),
            requirements: self.requirements.clone(),
            dpop: self.dpop.clone(),
        }
    }
}

impl<C> ModeConfig<C> {
    /// `true` when a request without a token passes on.
    pub(crate) fn is_optional(&self) -> bool {
        matches!(self.auth, AuthMode::Optional(_))
    }

    /// `true` when a request with an invalid token passes on as anonymous.
    pub(crate) fn invalid_is_anonymous(&self) -> bool {
        self.auth == AuthMode::Optional(InvalidTokenPolicy::Anonymous)
    }

    /// `true` when `req` may pass to the inner service without authentication: only with
    /// [`pass_cors_preflight`](crate::JwtAuthBuilder::pass_cors_preflight) on, never when the
    /// layer requires anything (scopes, roles, a predicate, on any path), and only for a request
    /// that is a browser's CORS preflight and nothing more (see [`is_bare_cors_preflight`]).
    pub(crate) fn passes_preflight<B: Body>(&self, req: &Request<B>) -> bool {
        self.pass_cors_preflight && self.requirements.is_empty() && is_bare_cors_preflight(req)
    }
}

/// A CORS preflight as a browser sends it, and nothing else: `OPTIONS` with
/// `Access-Control-Request-Method`, no gRPC content type (tonic routes by path and ignores the
/// method, so a gRPC call sent as `OPTIONS` would run its handler), and no body: the body reports
/// its end, no `Content-Length` other than 0, and no `Transfer-Encoding` at all.
pub(crate) fn is_bare_cors_preflight<B: Body>(req: &Request<B>) -> bool {
    let headers = req.headers();
    req.method() == Method::OPTIONS
        && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        && !headers
            .get_all(CONTENT_TYPE)
            .iter()
            .any(|value| is_grpc_media_type(value.as_bytes()))
        && headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .all(|value| value.as_bytes() == b"0")
        && !headers.contains_key(TRANSFER_ENCODING)
        && req.body().is_end_stream()
}

/// `application/grpc` and everything that starts like it (`+proto`, `-web`, …), in any case.
fn is_grpc_media_type(value: &[u8]) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    value
        .get(..GRPC.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(GRPC))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{Empty, Full};

    use super::*;

    fn preflight() -> http::request::Builder {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/x")
            .header("origin", "https://app.example")
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
    }

    #[test]
    fn only_a_bodiless_non_grpc_options_with_the_preflight_header_is_a_bare_preflight() {
        let empty = || Empty::<Bytes>::new();
        assert!(is_bare_cors_preflight(&preflight().body(empty()).unwrap()));
        assert!(is_bare_cors_preflight(
            &preflight()
                .header(CONTENT_LENGTH, "0")
                .body(empty())
                .unwrap()
        ));
        assert!(is_bare_cors_preflight(
            &preflight().body(Full::new(Bytes::new())).unwrap()
        ));
        let refused = [
            // Not OPTIONS, or no preflight header.
            Request::get("/x")
                .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .body(empty())
                .unwrap(),
            Request::options("/x").body(empty()).unwrap(),
            // A gRPC content type, whatever its variant or case.
            preflight()
                .header(CONTENT_TYPE, "application/grpc")
                .body(empty())
                .unwrap(),
            preflight()
                .header(CONTENT_TYPE, "application/grpc-web+proto")
                .body(empty())
                .unwrap(),
            preflight()
                .header(CONTENT_TYPE, "Application/GRPC")
                .body(empty())
                .unwrap(),
            preflight()
                .header(CONTENT_TYPE, "text/plain")
                .header(CONTENT_TYPE, "application/grpc")
                .body(empty())
                .unwrap(),
            // A body announced, or framed.
            preflight()
                .header(CONTENT_LENGTH, "5")
                .body(empty())
                .unwrap(),
            preflight()
                .header(CONTENT_LENGTH, "0")
                .header(CONTENT_LENGTH, "5")
                .body(empty())
                .unwrap(),
            preflight()
                .header(TRANSFER_ENCODING, "chunked")
                .body(empty())
                .unwrap(),
        ];
        for req in &refused {
            assert!(!is_bare_cors_preflight(req), "{req:?}");
        }
        // A body that has not ended.
        let with_body = preflight()
            .body(Full::new(Bytes::from_static(b"\0\0\0\0\0")))
            .unwrap();
        assert!(!is_bare_cors_preflight(&with_body));
    }

    #[test]
    fn a_preflight_passes_only_when_opted_in_and_nothing_is_required() {
        use crate::authz::{Requirement, Slot};

        let mode = |pass| ModeConfig::<u32> {
            sources: Arc::from([]),
            auth: AuthMode::Required,
            pass_cors_preflight: pass,
            csrf: CsrfGuard::new(),
            requirements: Requirements::default(),
            dpop: Default::default(),
        };
        let req = preflight().body(Empty::<Bytes>::new()).unwrap();
        assert!(!mode(false).passes_preflight(&req));
        assert!(mode(true).passes_preflight(&req));
        let requirements: [(Option<Slot>, Requirement<u32>); 6] = [
            (Some(Slot::Scopes), Requirement::scope("admin")),
            (Some(Slot::AnyScope), Requirement::any_scope(["admin"])),
            (Some(Slot::Roles), Requirement::role("staff")),
            (Some(Slot::AnyRole), Requirement::any_role(["staff"])),
            (Some(Slot::Predicate), Requirement::predicate(|_| true)),
            // A requirement on another path still keeps every preflight out.
            (None, Requirement::role("staff")),
        ];
        for (slot, requirement) in requirements {
            let mut mode = mode(true);
            match slot {
                Some(slot) => mode.requirements.set(slot, requirement).unwrap(),
                None => mode
                    .requirements
                    .add_path("/other".into(), requirement)
                    .unwrap(),
            }
            assert!(!mode.passes_preflight(&req));
        }
    }
}
