//! Keys: the verification keys a user configures, and how a token's key is found.
//! `Key` and JWK parsing, signing keys (`SigningKey`), the prepared key set, key sources (static or
//! remote) and issuers.

pub(crate) mod issuer;
pub(crate) mod jwk;
#[cfg(feature = "jwks")]
pub mod jwks;
pub(crate) mod key;
pub(crate) mod set;
pub(crate) mod signing;
pub(crate) mod source;
