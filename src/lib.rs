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
mod cache;
pub mod crypto;
pub mod csrf;
mod error;
mod future;
mod keys;
mod layer;
mod mode;
mod rejection;
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
pub use crate::error::{AuthError, ConfigError, ErrorKind};
pub use crate::future::ResponseFuture;
pub use crate::keys::issuer::TrustedIssuer;
#[cfg(feature = "jwks")]
pub use crate::keys::jwks::JwksSource;
pub use crate::keys::key::Key;
pub use crate::keys::signing::{SigningKey, SigningKeys};
pub use crate::layer::{
    JwtAuthBuilder, JwtAuthLayer, DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME, DEFAULT_MAX_TOKEN_LEN,
    MAX_LEEWAY,
};
pub use crate::mode::{AuthMode, InvalidTokenPolicy};
pub use crate::rejection::{
    grpc_content_type, DefaultRejection, ResponseForAuthError, StatusPolicy,
};
pub use crate::service::JwtAuth;
pub use crate::session::TokenIdentity;
pub use crate::session::{
    AccessToken, AccessTokenMinter, AccessTokenMinterBuilder, Grant, IssueError,
    DEFAULT_ACCESS_TTL, MAX_ACCESS_TTL,
};
pub use crate::session::{
    ReuseEvent, SessionEndpoints, SessionError, SessionErrorKind, Sessions, SessionsBuilder,
    TokenPair,
};
pub use crate::source::{TokenSource, TokenSourceKind};
pub use crate::verify::roles::{ClaimPath, Roles};
pub use crate::verify::scopes::Scopes;
pub use crate::verify::TokenVerifier;

#[cfg(all(doctest, feature = "axum", feature = "tonic", feature = "jwks"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Alias for a type-erased error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
