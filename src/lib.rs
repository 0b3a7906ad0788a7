//! A [Tower] layer that verifies JWT access tokens, for axum, hyper and tonic.
//!
//! [`JwtAuthLayer`] finds the access token of each request (`Authorization: Bearer`, a cookie,
//! or other [sources](TokenSource), in order), verifies it with [`jsonwebtoken`] against an
//! explicit algorithm allow-list and keys chosen by `kid`, validates `exp`, `nbf`, `iat`,
//! `iss`, `aud` and `typ`, and puts the typed claims into the request extensions. Every failure
//! gets a stable [reason](ErrorKind::reason) and a precise answer:
//!
//! | failure | reason | HTTP | gRPC |
//! |---|---|---|---|
//! | no token | `missing` | 401, `WWW-Authenticate: Bearer` | 16 `UNAUTHENTICATED` |
//! | expired | `expired` | 401, `error="invalid_token"` | 16 |
//! | not yet valid | `not_yet_valid` | 401, `error="invalid_token"` | 16 |
//! | not a JWT, bad encoding or JSON, too large | `malformed` | 403, `error="invalid_token"` | 16 |
//! | bad signature | `invalid_signature` | 403, `error="invalid_token"` | 16 |
//! | algorithm not allowed (`none` included) | `algorithm_not_allowed` | 403, `error="invalid_token"` | 16 |
//! | unknown `kid` | `unknown_key` | 403, `error="invalid_token"` | 16 |
//! | wrong `iss`/`aud`/`typ`, missing claim, `crit` | `invalid_claims` | 403, `error="invalid_token"` | 16 |
//! | two `Authorization` headers | `invalid_request` | 400, `error="invalid_request"` | 3 `INVALID_ARGUMENT` |
//! | scope not granted | `insufficient_scope` | 403, `error="insufficient_scope"` | 7 `PERMISSION_DENIED` |
//!
//! An expired token is 401 because the client should refresh it; a forged or malformed one is
//! 403 because retrying it is pointless. [`StatusPolicy::Rfc6750`] makes every `invalid_token`
//! 401 instead. HTTP answers carry a JSON body with `error`, `error_description` and `reason`;
//! gRPC requests get HTTP 200 with `grpc-status`, `grpc-message` and the challenge as metadata.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use serde::Deserialize;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};
//!
//! #[derive(Clone, Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! async fn handler(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     // The layer put the verified claims here.
//!     let greeting = match req.extensions().get::<Claims>() {
//!         Some(claims) => format!("hello {}", claims.sub),
//!         None => "hello".to_owned(),
//!     };
//!     Ok(Response::new(Full::from(greeting)))
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), tower_jwt_auth::BoxError> {
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
//!     .issuer("https://issuer.example")
//!     .audience("api")
//!     .build()?;
//!
//! let service = ServiceBuilder::new().layer(auth).service_fn(handler);
//!
//! let request = Request::new(Full::default()); // no token
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # Ok(())
//! # }
//! ```
//!
//! The README has complete quick starts for axum, hyper and tonic, and the `examples/` folder
//! runnable servers for each.
//!
//! # Keys and algorithms
//!
//! Each [`Key`] is bound to the algorithms it may verify; the union of them is the allow-list,
//! and the token's `alg` never widens it. A token's `kid` selects the key exactly; a token
//! without a `kid` is accepted only when one key can verify its algorithm. Weak keys (HMAC
//! secrets shorter than the hash, RSA under 2048 bits) are refused when the layer is built.
//!
//! # Crypto provider
//!
//! The crate verifies through its own `jsonwebtoken` `CryptoProvider`, built on `ring`
//! ([`crypto::RING_PROVIDER`]), or one given to
//! [`crypto_provider`](JwtAuthBuilder::crypto_provider) (such as `AWS_LC_PROVIDER` with the
//! feature `aws-lc-rs`), and calls it directly. It never installs a process-wide provider, and
//! the one an application installs for its own `jsonwebtoken::encode`/`decode` calls does not
//! change what a layer verifies with. An application that signs tokens with `jsonwebtoken`
//! installs a provider itself, for example `let _ = RING_PROVIDER.install_default();`. See
//! [`crypto`] for how the two relate.
//!
//! # Feature flags
//!
//! | name | description | default |
//! |---|---|---|
//! | `tracing` | `tracing` events for refused requests (reason, method, path; never a token) | yes |
//! | `axum` | the [`axum::Claims`] extractor | no |
//! | `tonic` | the [`tonic::RequestExt`] helpers for gRPC handlers | no |
//! | `full` | all of the above | no |
//!
//! [Tower]: https://docs.rs/tower
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
mod cache;
pub mod crypto;
mod error;
mod future;
mod header;
mod issuer;
mod jwk;
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub mod jwks;
mod key;
mod key_source;
mod layer;
mod mode;
mod rejection;
mod scope;
mod service;
mod source;
mod tap;
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
pub use crate::issuer::TrustedIssuer;
#[cfg(feature = "jwks")]
pub use crate::jwks::JwksSource;
pub use crate::key::Key;
pub use crate::layer::{
    JwtAuthBuilder, JwtAuthLayer, DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME, DEFAULT_MAX_TOKEN_LEN,
    MAX_LEEWAY,
};
pub use crate::mode::{AuthMode, InvalidTokenPolicy};
pub use crate::rejection::{
    grpc_content_type, DefaultRejection, ResponseForAuthError, StatusPolicy,
};
pub use crate::scope::Scopes;
pub use crate::service::JwtAuth;
pub use crate::source::{TokenSource, TokenSourceKind};
pub use crate::verify::TokenVerifier;

#[cfg(all(doctest, feature = "axum", feature = "tonic", feature = "jwks"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Alias for a type-erased error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
