//! Keys: the verification keys a user configures, and how a token's key is found.
//! `Key` and JWK parsing, the key sources (static or a remote JWKS) and the trusted issuers.

pub(crate) mod issuer;
pub(crate) mod jwk;
#[cfg(feature = "jwks")]
pub mod jwks;
pub(crate) mod key;
pub(crate) mod set;
pub(crate) mod source;
