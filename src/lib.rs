//! tower-jwt-auth
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::all
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod macros;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod body;
pub mod crypto;
mod error;
mod future;
mod key;
mod layer;
mod rejection;
mod scope;
mod service;
mod source;
#[cfg(test)]
mod test_helpers;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;
mod verify;

pub use jsonwebtoken::Algorithm;

pub use crate::body::ResponseBody;
pub use crate::error::{AuthError, ConfigError, ErrorKind};
pub use crate::future::ResponseFuture;
pub use crate::key::Key;
pub use crate::layer::{
    InvalidTokenPolicy, JwtAuthBuilder, JwtAuthLayer, DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_TOKEN_LEN, MAX_LEEWAY,
};
pub use crate::rejection::{grpc_content_type, DefaultRejection, ResponseForAuthError, StatusPolicy};
pub use crate::scope::{RequireScope, RequireScopeLayer, Scopes};
pub use crate::service::JwtAuth;
pub use crate::source::{TokenSource, TokenSourceKind};
pub use crate::verify::TokenVerifier;

/// Alias for a type-erased error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
