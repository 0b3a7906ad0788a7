//! DPoP (RFC 9449): access tokens bound to a key the client holds, checked with a proof on
//! each request.
//!
//! A layer in DPoP mode [`Allowed`](DpopMode::Allowed) or [`Required`](DpopMode::Required)
//! reads `Authorization: DPoP <token>` with exactly one `DPoP` header holding the proof, checks
//! the proof as RFC 9449 §4.3 says (header, signature under its `jwk`, `htm`, `htu`, `iat`
//! window, `ath`, a `jti` accepted once) and that the token's `cnf.jkt` is the RFC 7638
//! thumbprint of the proof's key. The [DPoP guide](crate::guide::dpop) tells what it protects
//! against and how clients keep the key.
//!
//! ```
//! use tower_jwt_auth::dpop::{DpopConfig, DpopMode};
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
//!     .dpop(DpopMode::Allowed)
//!     .dpop_config(DpopConfig::new().public_origin("https://api.example")?)
//!     .dpop_for_path("/payments", DpopMode::Required)?
//!     .build()?;
//! // Another group of routes: every token bound, every request with a proof.
//! let strict = auth.clone().dpop(DpopMode::Required);
//! # let _ = strict;
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```
mod config;
mod htu;
mod jwk;
mod mode;
mod proof;
mod replay;
mod request;

use http::HeaderName;

pub(crate) use self::config::ReplayCheck;
pub use self::config::{
    DpopConfig, DEFAULT_ALGORITHMS, DEFAULT_MAX_AGE, DEFAULT_MAX_FUTURE, DEFAULT_MAX_PROOF_LEN,
};
pub(crate) use self::htu::Target;
pub use self::mode::DpopMode;
pub(crate) use self::mode::DpopPolicy;
pub(crate) use self::proof::{check as check_proof, invalid, Checked, Expected};
pub use self::replay::{
    MemoryReplayCache, ReplayCache, ReplayError, ReplayFuture, DEFAULT_REPLAY_CAPACITY,
};
pub(crate) use self::request::{check_request, dpop_token, Presented};

/// The `ath` of an access token: the base64url SHA-256 of its bytes.
pub(crate) fn access_token_hash(token: &str) -> String {
    jwk::sha256_base64url(token.as_bytes())
}

/// The `DPoP` request header (and gRPC metadata key).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");

#[cfg(test)]
mod tests;
