//! [`jsonwebtoken`] crypto backends: [ring](https://docs.rs/ring/0.17) 0.17 (the default) and,
//! with the crate feature `aws-lc-rs`, [aws-lc-rs](https://docs.rs/aws-lc-rs/1) 1.
//!
//! Since version 10.3, `jsonwebtoken` does all signing and verification through the process-wide
//! [`CryptoProvider`]; its own providers (`aws_lc_rs`, `rust_crypto`) sit behind crate features.
//! This crate depends on `jsonwebtoken` with `default-features = false` and enables neither:
//! Cargo's feature unification with an application's own `jsonwebtoken` dependency could turn
//! both on, and then no provider is selected at all. Instead it brings [`RING_PROVIDER`], a
//! provider written against `ring`:
//!
//! - `ring` is small and widely deployed (rustls uses it), and it keeps the `rsa` crate, with its
//!   RUSTSEC-2023-0071 advisory, out of the dependency tree;
//! - its RSA verification refuses moduli under 2048 bits, HMAC tags are compared in constant
//!   time, and ECDSA uses the fixed-width `R || S` encoding that JWS requires.
//!
//! Supported algorithms: HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 and `EdDSA`
//! (Ed25519). ES512 is not available because `ring` has no P-521.
//!
//! Both factories refuse a key whose family differs from the algorithm's (for example an RSA
//! public key offered as an HS256 secret) with [`ErrorKind::InvalidKeyFormat`]. The verifier
//! factory also checks the key's shape, so a bad key shows as a key error instead of every token
//! failing as if forged: an RSA modulus outside 2048 to 8192 bits gives
//! [`ErrorKind::InvalidRsaKey`], an EC key that is not an uncompressed point of the algorithm's
//! curve [`ErrorKind::InvalidEcdsaKey`], an Ed25519 key that is not 32 bytes
//! [`ErrorKind::InvalidEddsaKey`].
//!
//! # The crate's provider and the application's
//!
//! `jsonwebtoken` keeps one process-wide provider, which an application installs once
//! ([`CryptoProvider::install_default`]) for its own calls to `jsonwebtoken::encode` and
//! `decode`. This crate neither uses nor installs it: a layer verifies through [`RING_PROVIDER`]
//! directly, or through the provider given to
//! [`JwtAuthBuilder::crypto_provider`](crate::JwtAuthBuilder::crypto_provider) (for example
//! `AWS_LC_PROVIDER`). So:
//!
//! - building a layer changes nothing in the process: the application may install any provider,
//!   before or after, or none at all;
//! - the provider the application installs does not change what a layer verifies with: that is
//!   chosen per layer, with `crypto_provider`;
//! - an application (or a test) that signs or decodes tokens with `jsonwebtoken` itself installs
//!   a provider for that, for example `let _ = RING_PROVIDER.install_default();` (the error only
//!   says that one was installed already).
//!
//! ```
//! use jsonwebtoken::crypto::CryptoProvider;
//! use tower_jwt_auth::crypto::RING_PROVIDER;
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! # fn main() -> Result<(), tower_jwt_auth::BoxError> {
//! let secret = b"an example secret of 32 bytes!!!";
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .key(Key::hmac(Algorithm::HS256, secret)?)
//!     .build()?;
//! // The layer installed nothing: it verifies with RING_PROVIDER directly.
//! assert!(CryptoProvider::try_get_default().is_none());
//!
//! // To sign with jsonwebtoken, the application installs a provider itself.
//! let _ = RING_PROVIDER.install_default();
//! let exp = jsonwebtoken::get_current_timestamp() + 600;
//! let token = jsonwebtoken::encode(
//!     &jsonwebtoken::Header::new(Algorithm::HS256),
//!     &serde_json::json!({ "sub": "alice", "exp": exp }),
//!     &jsonwebtoken::EncodingKey::from_secret(secret)?,
//! )?;
//! assert_eq!(auth.verifier().verify(&token)?.sub, "alice");
//! # Ok(())
//! # }
//! ```
//!
//! # aws-lc-rs
//!
//! With the crate feature `aws-lc-rs`, `AWS_LC_PROVIDER` is a second provider with the same
//! algorithms, the same key checks and the same errors, built on aws-lc-rs (a binding to AWS-LC,
//! which has a FIPS-validated variant). `ring` stays the default. A layer verifies with aws-lc-rs
//! when it is given `AWS_LC_PROVIDER` with
//! [`crypto_provider`](crate::JwtAuthBuilder::crypto_provider); each public key is then parsed
//! once, when the layer is built, rather than on every request. Installing it as the process
//! default is a separate choice, for the application's own `jsonwebtoken` calls.
//!
//! ```
//! # #[cfg(feature = "aws-lc-rs")]
//! # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
//! use tower_jwt_auth::crypto::AWS_LC_PROVIDER;
//! use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
//!     .crypto_provider(&AWS_LC_PROVIDER)
//!     .build()?;
//! # let _ = auth;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "aws-lc-rs"))]
//! # fn main() {}
//! ```
//!
//! # Prepared verifiers
//!
//! The layer makes one verifier per key and algorithm when it is built. With [`RING_PROVIDER`]
//! or `AWS_LC_PROVIDER` as the layer's provider, that verifier is the provider's own, ready to
//! use (with aws-lc-rs it holds the parsed public key, so a verification parses nothing); with
//! any other provider, the provider's factory is asked for a verifier on each call.
//!
//! # ed25519-dalek
//!
//! With the crate feature `ed25519-dalek`, `DALEK_PROVIDER` verifies Ed25519 (`EdDSA`) through
//! [ed25519-dalek](https://docs.rs/ed25519-dalek/3) 3 and everything else (the other algorithms,
//! all signing, the key utilities) through ring, with the same key checks and errors. Give it to
//! a layer with `.crypto_provider(&DALEK_PROVIDER)`; the layer keeps one ed25519-dalek verifier
//! per Ed25519 key, with the point decompressed once. Signatures are checked with
//! `verify_strict`: RFC 8032's canonical `S` and `R`, the cofactorless group equation (as ring
//! and aws-lc-rs check it), and no point of small order; a public key that is not the canonical
//! encoding of a point of large order is refused with [`ErrorKind::InvalidEddsaKey`] when the
//! verifier is made.
//!
//! # Which backend for which algorithm
//!
//! Measured with the three side by side in one run (BENCHMARKS.md, section 2b): RSA (RS*/PS*)
//! verifies fastest on aws-lc-rs (about 0.77 of ring's time), Ed25519 on aws-lc-rs or
//! ed25519-dalek (about 0.75 of ring's, level with each other), and HS256 and ES256 cost the
//! same on all three, so ring, the default, serves them. Pick `AWS_LC_PROVIDER` when RSA or
//! Ed25519 dominates, `DALEK_PROVIDER` for fast Ed25519 without aws-lc-rs's C build; the gain
//! depends on the CPU (on another machine ring and ed25519-dalek were level for Ed25519).

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use simple_asn1::ASN1Block;

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
#[cfg(feature = "ed25519-dalek")]
mod dalek;
mod ring;
mod roca;
#[cfg(test)]
mod tests;

#[cfg(feature = "aws-lc-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-lc-rs")))]
pub use self::aws_lc::AWS_LC_PROVIDER;
#[cfg(feature = "ed25519-dalek")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519-dalek")))]
pub use self::dalek::DALEK_PROVIDER;
pub(crate) use self::ring::ec_point_is_valid;
pub use self::ring::RING_PROVIDER;
pub(crate) use self::roca::has_roca_fingerprint;

// ---------------------------------------------------------------------------------------------
// Prepared verifiers
// ---------------------------------------------------------------------------------------------

/// A verifier for one key and one algorithm, made once when the key set is built.
///
/// With one of the crate's own providers as the layer's it holds that provider's verifier, ready
/// to use. With an application's provider, whose verifier objects cannot be shared between threads,
/// it keeps the key and asks the provider for a verifier on each call.
pub(crate) struct PreparedVerifier {
    inner: Prepared,
}

enum Prepared {
    Ring(ring::RingVerifier),
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(aws_lc::AwsLcVerifier),
    #[cfg(feature = "ed25519-dalek")]
    Dalek(dalek::DalekVerifier),
    Provider {
        provider: &'static CryptoProvider,
        algorithm: Algorithm,
        key: DecodingKey,
    },
}

impl std::fmt::Debug for PreparedVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedVerifier")
            .field("backend", &self.backend())
            .field("algorithm", &self.algorithm())
            .finish()
    }
}

impl PreparedVerifier {
    /// Prepares a verifier of `key` for `algorithm` with `provider`.
    pub(crate) fn new(
        provider: &'static CryptoProvider,
        algorithm: Algorithm,
        key: &DecodingKey,
    ) -> Result<Self> {
        if std::ptr::eq(provider, &RING_PROVIDER) {
            return Ok(Self {
                inner: Prepared::Ring(ring::RingVerifier::new(algorithm, key)?),
            });
        }
        #[cfg(feature = "aws-lc-rs")]
        if std::ptr::eq(provider, &AWS_LC_PROVIDER) {
            return Ok(Self {
                inner: Prepared::AwsLc(aws_lc::AwsLcVerifier::new(algorithm, key)?),
            });
        }
        #[cfg(feature = "ed25519-dalek")]
        if std::ptr::eq(provider, &DALEK_PROVIDER) {
            return Ok(Self {
                inner: dalek::prepared(algorithm, key)?,
            });
        }
        // Ask once now, so that a key the provider refuses fails at build time.
        (provider.verifier_factory)(&algorithm, key)?;
        Ok(Self {
            inner: Prepared::Provider {
                provider,
                algorithm,
                key: key.clone(),
            },
        })
    }

    /// `true` when `signature` is a valid signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            Prepared::Ring(verifier) => verifier.verifies(message, signature),
            #[cfg(feature = "aws-lc-rs")]
            Prepared::AwsLc(verifier) => verifier.verifies(message, signature),
            #[cfg(feature = "ed25519-dalek")]
            Prepared::Dalek(verifier) => verifier.verifies(message, signature),
            Prepared::Provider {
                provider,
                algorithm,
                key,
            } => match (provider.verifier_factory)(algorithm, key) {
                Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
                Err(_) => false,
            },
        }
    }

    /// Which backend verifies: `"ring"`, `"aws-lc-rs"`, `"ed25519-dalek"` or `"provider"` (the
    /// layer's provider's factory, on each call).
    fn backend(&self) -> &'static str {
        match &self.inner {
            Prepared::Ring(_) => "ring",
            #[cfg(feature = "aws-lc-rs")]
            Prepared::AwsLc(_) => "aws-lc-rs",
            #[cfg(feature = "ed25519-dalek")]
            Prepared::Dalek(_) => "ed25519-dalek",
            Prepared::Provider { .. } => "provider",
        }
    }

    fn algorithm(&self) -> Algorithm {
        match &self.inner {
            Prepared::Ring(verifier) => verifier.algorithm(),
            #[cfg(feature = "aws-lc-rs")]
            Prepared::AwsLc(verifier) => verifier.algorithm(),
            #[cfg(feature = "ed25519-dalek")]
            Prepared::Dalek(_) => Algorithm::EdDSA,
            Prepared::Provider { algorithm, .. } => *algorithm,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the backends
// ---------------------------------------------------------------------------------------------

/// The smallest RSA modulus, in bits, that a key may have: to verify with (every backend) and
/// to sign with (RFC 7518 §3.3).
pub(crate) const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus, in bits, that a key may have: to verify with and to sign with.
pub(crate) const RSA_MAX_BITS: usize = 8192;

/// The algorithms every backend implements, with their JWS names (RFC 7518 §3.1): the crate's
/// one list of supported algorithms.
const ALGORITHMS: [(Algorithm, &str); 12] = [
    (Algorithm::HS256, "HS256"),
    (Algorithm::HS384, "HS384"),
    (Algorithm::HS512, "HS512"),
    (Algorithm::RS256, "RS256"),
    (Algorithm::RS384, "RS384"),
    (Algorithm::RS512, "RS512"),
    (Algorithm::PS256, "PS256"),
    (Algorithm::PS384, "PS384"),
    (Algorithm::PS512, "PS512"),
    (Algorithm::ES256, "ES256"),
    (Algorithm::ES384, "ES384"),
    (Algorithm::EdDSA, "EdDSA"),
];

/// The algorithms both backends implement.
pub(crate) fn is_supported(algorithm: Algorithm) -> bool {
    algorithm_name(algorithm).is_some()
}

/// The JWS name of a supported algorithm, as it goes into a header or a JWK; `None` for an
/// algorithm the crate does not support.
pub(crate) fn algorithm_name(algorithm: Algorithm) -> Option<&'static str> {
    ALGORITHMS
        .iter()
        .find(|(supported, _)| *supported == algorithm)
        .map(|(_, name)| *name)
}

/// The supported asymmetric algorithms (RSA, ECDSA and EdDSA), in the order of `ALGORITHMS`.
#[cfg(feature = "jwks")]
pub(crate) fn asymmetric_algorithms() -> impl Iterator<Item = Algorithm> {
    ALGORITHMS
        .iter()
        .map(|(algorithm, _)| *algorithm)
        .filter(|algorithm| algorithm.family() != AlgorithmFamily::Hmac)
}

/// Verification key material that has passed [`checked_public_key`], borrowed from the
/// [`DecodingKey`].
enum CheckedKey<'a> {
    /// A non-empty HMAC secret.
    Hmac(&'a [u8]),
    /// PKCS#1 `RSAPublicKey` DER with a modulus of 2048 to 8192 bits.
    RsaDer(&'a [u8]),
    /// RSA modulus (2048 to 8192 bits) and a non-zero exponent, both without leading zeros.
    RsaComponents { n: &'a [u8], e: &'a [u8] },
    /// An uncompressed SEC1 point (`0x04 || X || Y`) of the length of the algorithm's curve.
    EcPoint(&'a [u8]),
    /// A 32-byte Ed25519 public key.
    Ed25519(&'a [u8]),
}

/// The checks of every verifier factory, whatever the backend: the algorithm is supported, the
/// key belongs to its family, and the key has the right shape.
fn checked_public_key(algorithm: Algorithm, key: &DecodingKey) -> Result<CheckedKey<'_>> {
    if !is_supported(algorithm) {
        return Err(new_error(ErrorKind::UnsupportedAlgorithm));
    }
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let checked = match algorithm.family() {
        AlgorithmFamily::Hmac => {
            let secret = key.try_get_as_bytes()?;
            if secret.is_empty() {
                return Err(new_error(ErrorKind::InvalidKeyFormat));
            }
            CheckedKey::Hmac(secret)
        }
        AlgorithmFamily::Rsa => {
            // Refuse weak or oversized keys here, with a key error, rather than let every
            // signature fail later as if the token were forged.
            let bits = rsa_modulus_bits(key).ok_or_else(|| invalid_rsa_key("unparsable key"))?;
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                return Err(invalid_rsa_key("modulus must be 2048 to 8192 bits"));
            }
            match key.kind() {
                DecodingKeyKind::SecretOrDer(der) => CheckedKey::RsaDer(der),
                DecodingKeyKind::RsaModulusExponent { n, e } => {
                    let e = strip_leading_zeros(e);
                    if e.is_empty() {
                        return Err(invalid_rsa_key("zero exponent"));
                    }
                    CheckedKey::RsaComponents {
                        n: strip_leading_zeros(n),
                        e,
                    }
                }
            }
        }
        AlgorithmFamily::Ec => {
            let point_len = match algorithm {
                Algorithm::ES256 => 65,
                _ => 97,
            };
            let point = key.try_get_as_bytes()?;
            if point.len() != point_len || point.first() != Some(&0x04) {
                return Err(new_error(ErrorKind::InvalidEcdsaKey));
            }
            CheckedKey::EcPoint(point)
        }
        AlgorithmFamily::Ed => {
            let public = key.try_get_as_bytes()?;
            if public.len() != 32 {
                return Err(new_error(ErrorKind::InvalidEddsaKey));
            }
            CheckedKey::Ed25519(public)
        }
    };
    Ok(checked)
}

/// The checks of every signer factory, whatever the backend: the algorithm is supported, the key
/// belongs to its family, and an HMAC secret is not empty. Returns the key's bytes.
fn checked_private_key(algorithm: Algorithm, key: &EncodingKey) -> Result<&[u8]> {
    if !is_supported(algorithm) {
        return Err(new_error(ErrorKind::UnsupportedAlgorithm));
    }
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    let bytes = key.as_bytes();
    if algorithm.family() == AlgorithmFamily::Hmac && bytes.is_empty() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }
    Ok(bytes)
}

/// The RSA public exponent of `key`, big-endian without leading zeros.
pub(crate) fn rsa_exponent(key: &DecodingKey) -> Option<Vec<u8>> {
    if key.family() != AlgorithmFamily::Rsa {
        return None;
    }
    match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => parse_pkcs1_public_key(der).map(|(_, e)| e),
        DecodingKeyKind::RsaModulusExponent { e, .. } => Some(strip_leading_zeros(e).to_vec()),
    }
}

/// The RSA modulus of `key`, big-endian without leading zeros; `None` if `key` is not an RSA
/// key or cannot be parsed.
pub(crate) fn rsa_modulus(key: &DecodingKey) -> Option<Vec<u8>> {
    if key.family() != AlgorithmFamily::Rsa {
        return None;
    }
    match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => parse_pkcs1_public_key(der).map(|(n, _)| n),
        DecodingKeyKind::RsaModulusExponent { n, .. } => Some(strip_leading_zeros(n).to_vec()),
    }
}

/// Bit length of the RSA modulus of `key`: from the PKCS#1 DER of a PEM/DER key or from the `n`
/// component of a JWK, ignoring leading zero bytes. `None` if `key` is not an RSA key or cannot
/// be parsed.
pub(crate) fn rsa_modulus_bits(key: &DecodingKey) -> Option<usize> {
    if key.family() != AlgorithmFamily::Rsa {
        return None;
    }
    match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => {
            let (n, _e) = parse_pkcs1_public_key(der)?;
            bit_length(&n)
        }
        DecodingKeyKind::RsaModulusExponent { n, .. } => bit_length(n),
    }
}

/// `rsa_pub_components_from_public_key` of both providers: `(n, e)` of a PKCS#1 `RSAPublicKey`
/// DER.
fn rsa_components_from_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    parse_pkcs1_public_key(der).ok_or_else(|| invalid_rsa_key("invalid PKCS#1 public key"))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn invalid_rsa_key(reason: &str) -> jsonwebtoken::errors::Error {
    new_error(ErrorKind::InvalidRsaKey(reason.to_owned()))
}

/// `(n, e)` of a PKCS#1 `RSAPublicKey` DER, for tests of other modules.
#[cfg(test)]
pub(crate) fn rsa_components_for_tests(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    parse_pkcs1_public_key(der).expect("a pkcs#1 key")
}

/// The two PKCS#1 structures an RSA key comes in (RFC 8017 appendix A.1).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pkcs1 {
    /// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, nothing more.
    PublicKey,
    /// `RSAPrivateKey ::= SEQUENCE { version INTEGER, modulus INTEGER, publicExponent INTEGER,
    /// .. }` (jsonwebtoken's PEM loader unwraps PKCS#8 into it).
    PrivateKey,
}

/// `(n, e)` of a PKCS#1 DER of the structure `structure`, as big-endian bytes without leading
/// zeros (zero is `[0]`). `None` when the DER is not that structure or either number is
/// negative; nothing may follow the sequence.
pub(crate) fn pkcs1_modulus_exponent(der: &[u8], structure: Pkcs1) -> Option<(Vec<u8>, Vec<u8>)> {
    let blocks = simple_asn1::from_der(der).ok()?;
    let [ASN1Block::Sequence(_, items)] = blocks.as_slice() else {
        return None;
    };
    let (n, e) = match (structure, items.as_slice()) {
        (Pkcs1::PublicKey, [ASN1Block::Integer(_, n), ASN1Block::Integer(_, e)])
        | (
            Pkcs1::PrivateKey,
            [ASN1Block::Integer(_, _), ASN1Block::Integer(_, n), ASN1Block::Integer(_, e), ..],
        ) => (n, e),
        _ => return None,
    };
    // `to_biguint` is `None` for a negative value.
    Some((n.to_biguint()?.to_bytes_be(), e.to_biguint()?.to_bytes_be()))
}

/// `(n, e)` of a PKCS#1 `RSAPublicKey` DER, as big-endian bytes without leading zeros. Both must
/// be positive, and nothing may follow the sequence.
fn parse_pkcs1_public_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (n, e) = pkcs1_modulus_exponent(der, Pkcs1::PublicKey)?;
    bit_length(&n)?;
    bit_length(&e)?;
    Some((n, e))
}

fn strip_leading_zeros(mut bytes: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

/// Bit length of a big-endian unsigned integer; `None` for zero.
pub(crate) fn bit_length(big_endian: &[u8]) -> Option<usize> {
    let (first, rest) = strip_leading_zeros(big_endian).split_first()?;
    let top_bits = usize::try_from(u8::BITS.checked_sub(first.leading_zeros())?).ok()?;
    rest.len().checked_mul(8)?.checked_add(top_bits)
}
