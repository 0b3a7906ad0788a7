//! Guides: the long-form documentation, one module per topic.
//!
//! These modules hold no code. They are here so that the guides are part of the API
//! documentation, with their examples compiled and run as doctests. The crate root has the
//! [quick starts](crate#quick-start) and the [table of reasons](crate#errors).
//!
//! - [`configuration`]: every builder setting and its default, what `build()` refuses, modes,
//!   scopes, variants of one layer, reading the claims, [`TokenVerifier`](crate::TokenVerifier).
//! - [`keys`]: key constructors, JWK and JWK sets, remote JWKS, OIDC discovery, several issuers.
//! - [`crypto_provider`]: the crate's providers (ring, aws-lc-rs, ed25519-dalek), which to pick,
//!   and jsonwebtoken's process-wide provider.
//! - [`cache`]: the verified-token cache.
//! - [`token_sources`]: bearer, cookie, header and query; ambiguous credentials; CORS preflights.
//! - [`identity_providers`]: Keycloak, Auth0, Okta, Entra ID, Cognito, Google, GitHub Actions.
//! - [`errors`]: status policies, the HTTP and gRPC answers, custom rejections.
//! - [`browsers`]: HttpOnly session cookies, CSRF protection, the logged-in indicator.
//! - [`security`]: every check the layer makes, and what it does not do yet.
//! - [`sessions`]: staying logged in and logging out: issuing, refresh rotation, reuse, the
//!   grace window, expiry, revocation, logout, the stores and their keys, store failures.
//! - [`dpop`]: DPoP (RFC 9449): what it protects against and what not, the modes, the checks,
//!   cookies with proofs, and how a browser and a mobile app keep the key.
//! - [`operations`]: the metrics (feature `metrics`), readiness probes, alerts, and keeping
//!   `/metrics` private.

// Guides whose examples need a feature are doctested only with it; `cargo doc` always renders
// them (docs.rs builds with every feature).

#[doc = include_str!("docs/configuration.md")]
pub mod configuration {}

#[cfg_attr(any(feature = "jwks", not(doctest)), doc = include_str!("docs/keys.md"))]
#[cfg_attr(
    all(doctest, not(feature = "jwks")),
    doc = "Keys (doctested with `jwks`)."
)]
pub mod keys {}

#[doc = include_str!("docs/crypto_provider.md")]
pub mod crypto_provider {}

#[doc = include_str!("docs/cache.md")]
pub mod cache {}

#[cfg_attr(any(feature = "axum", not(doctest)), doc = include_str!("docs/token_sources.md"))]
#[cfg_attr(
    all(doctest, not(feature = "axum")),
    doc = "Token sources (doctested with `axum`)."
)]
pub mod token_sources {}

#[cfg_attr(
    any(feature = "jwks", not(doctest)),
    doc = include_str!("docs/identity_providers.md")
)]
#[cfg_attr(
    all(doctest, not(feature = "jwks")),
    doc = "Identity providers (doctested with `jwks`)."
)]
pub mod identity_providers {}

#[doc = include_str!("docs/errors.md")]
pub mod errors {}

#[doc = include_str!("docs/browsers.md")]
pub mod browsers {}

#[doc = include_str!("docs/security.md")]
pub mod security {}

#[cfg_attr(any(feature = "axum", not(doctest)), doc = include_str!("docs/sessions.md"))]
#[cfg_attr(
    all(doctest, not(feature = "axum")),
    doc = "Sessions (doctested with `axum`)."
)]
pub mod sessions {}

#[doc = include_str!("docs/dpop.md")]
pub mod dpop {}

#[cfg_attr(any(feature = "axum", not(doctest)), doc = include_str!("docs/operations.md"))]
pub mod operations {}
