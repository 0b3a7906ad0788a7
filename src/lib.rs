// The crate documentation is the README, so that the quick starts and the table of reasons exist
// once. The link definitions below come first: for a label defined twice the first definition
// wins, so rustdoc links the guides to the `guide` modules, while GitHub follows the README's own
// definitions to `src/docs/*.md`.
#![doc = "[configuration]: guide::configuration"]
#![doc = "[keys]: guide::keys"]
#![doc = "[crypto_provider]: guide::crypto_provider"]
#![doc = "[cache]: guide::cache"]
#![doc = "[token_sources]: guide::token_sources"]
#![doc = "[identity_providers]: guide::identity_providers"]
#![doc = "[errors]: guide::errors"]
#![doc = "[security]: guide::security"]
#![doc = "[browsers]: guide::browsers"]
#![doc = "[session]: session"]
#![doc = "[sessions]: guide::sessions"]
#![doc = "[dpop]: guide::dpop"]
#![doc = "[BENCHMARKS.md]: https://github.com/tower-jwt-auth/tower-jwt-auth/blob/main/BENCHMARKS.md"]
#![cfg_attr(not(doctest), doc = include_str!("../README.md"))]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::all
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod guide;

#[macro_use]
mod macros;

mod authz;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod body;
mod builder;
mod cache;
pub mod clock;
pub mod crypto;
pub mod csrf;
pub mod dpop;
mod error;
mod future;
// Internals for the fuzz targets; unstable, hidden, only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod layer;
mod metrics;
mod mode;
mod readiness;
mod rejection;
pub mod revocation;
mod service;
pub mod session;
mod source;
#[cfg(test)]
mod test_helpers;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;
mod verify;

// Remote key sets keep their public path, `tower_jwt_auth::jwks`.
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub use crate::keys::jwks;

pub use jsonwebtoken::Algorithm;

pub use crate::authz::Requirement;
pub use crate::body::ResponseBody;
pub use crate::builder::{
    JwtAuthBuilder, DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME, DEFAULT_MAX_TOKEN_LEN, MAX_LEEWAY,
};
pub use crate::error::{AuthError, ConfigError, ErrorKind};
pub use crate::future::ResponseFuture;
pub use crate::keys::issuer::TrustedIssuer;
pub use crate::keys::key::Key;
pub use crate::keys::signing::{SigningKey, SigningKeys};
pub use crate::layer::JwtAuthLayer;
pub use crate::mode::{AuthMode, InvalidTokenPolicy};
pub use crate::readiness::{Check, Readiness};
pub use crate::rejection::{
    grpc_content_type, DefaultRejection, ResponseForAuthError, StatusPolicy,
};
pub use crate::service::JwtAuth;
pub use crate::source::{TokenSource, TokenSourceKind};
pub use crate::verify::roles::{ClaimPath, Roles};
pub use crate::verify::scopes::Scopes;
pub use crate::verify::TokenVerifier;

// The old paths of items that moved in 0.3.0, for one release. A `#[deprecated] pub use` would
// not warn its users, so structs and enums get deprecated type aliases, consts deprecated consts.

/// Moved to [`session::AccessToken`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::AccessToken`"
)]
pub type AccessToken = session::AccessToken;

/// Moved to [`session::AccessTokenMinter`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::AccessTokenMinter`"
)]
pub type AccessTokenMinter = session::AccessTokenMinter;

/// Moved to [`session::AccessTokenMinterBuilder`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::AccessTokenMinterBuilder`"
)]
pub type AccessTokenMinterBuilder = session::AccessTokenMinterBuilder;

/// Moved to [`session::Grant`].
#[deprecated(since = "0.3.0", note = "moved to `tower_jwt_auth::session::Grant`")]
pub type Grant = session::Grant;

/// Moved to [`session::IssueError`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::IssueError`"
)]
pub type IssueError = session::IssueError;

/// Moved to [`session::ReuseEvent`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::ReuseEvent`"
)]
pub type ReuseEvent = session::ReuseEvent;

/// Moved to [`session::SessionEndpoints`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::SessionEndpoints`"
)]
pub type SessionEndpoints = session::SessionEndpoints;

/// Moved to [`session::SessionError`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::SessionError`"
)]
pub type SessionError = session::SessionError;

/// Moved to [`session::SessionErrorKind`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::SessionErrorKind`"
)]
pub type SessionErrorKind = session::SessionErrorKind;

/// Moved to [`session::Sessions`].
#[deprecated(since = "0.3.0", note = "moved to `tower_jwt_auth::session::Sessions`")]
pub type Sessions = session::Sessions;

/// Moved to [`session::SessionsBuilder`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::SessionsBuilder`"
)]
pub type SessionsBuilder = session::SessionsBuilder;

/// Moved to [`session::TokenPair`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::TokenPair`"
)]
pub type TokenPair = session::TokenPair;

/// Moved to [`session::DEFAULT_ACCESS_TTL`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::DEFAULT_ACCESS_TTL`"
)]
pub const DEFAULT_ACCESS_TTL: std::time::Duration = session::DEFAULT_ACCESS_TTL;

/// Moved to [`session::MAX_ACCESS_TTL`].
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::session::MAX_ACCESS_TTL`"
)]
pub const MAX_ACCESS_TTL: std::time::Duration = session::MAX_ACCESS_TTL;

/// Moved to [`jwks::JwksSource`].
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
#[deprecated(since = "0.3.0", note = "moved to `tower_jwt_auth::jwks::JwksSource`")]
pub type JwksSource = jwks::JwksSource;

#[cfg(all(doctest, feature = "axum", feature = "tonic", feature = "jwks"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Moved to [`tower_jwt_auth::revocation::TokenIdentity`](crate::revocation::TokenIdentity).
#[deprecated(
    since = "0.3.0",
    note = "moved to `tower_jwt_auth::revocation::TokenIdentity`"
)]
pub type TokenIdentity = crate::revocation::TokenIdentity;

/// Alias for a type-erased error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
