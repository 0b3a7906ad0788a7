//! A [`jsonwebtoken`] crypto backend built on [`ring`] 0.17.
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
//! The provider is process-global. [`ensure_default_provider`] installs [`RING_PROVIDER`] only
//! when the application has not installed (or selected through `jsonwebtoken`'s own features) a
//! provider of its own, and an application's choice is never overridden.
//!
//! ```
//! use jsonwebtoken::crypto::CryptoProvider;
//!
//! // Call once at start-up, before the first `encode`/`decode`.
//! let provider = tower_jwt_auth::crypto::ensure_default_provider();
//! // Whatever is installed now is what jsonwebtoken will use.
//! assert!(CryptoProvider::try_get_default().is_some_and(|p| std::ptr::eq(p, provider)));
//! ```

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature as ring_sig;
use ring::{digest, hmac};
use simple_asn1::ASN1Block;

/// The crate's ring-backed provider.
///
/// Install it with [`ensure_default_provider`] (which keeps an application's own provider), or
/// directly with [`CryptoProvider::install_default`]. Its factories can also be called directly,
/// e.g. `(RING_PROVIDER.verifier_factory)(&Algorithm::ES256, &key)`, whatever is installed.
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: ed_public_key_from_private_key,
        compute_digest,
    },
};

/// Makes sure the process has a jsonwebtoken [`CryptoProvider`]: if one is already installed (or
/// selected by jsonwebtoken's own features), it is kept and returned; otherwise [`RING_PROVIDER`]
/// is installed and returned. Never overrides an application's choice, never panics.
///
/// It is cheap and idempotent, so it may be called from every constructor that needs a provider.
pub fn ensure_default_provider() -> &'static CryptoProvider {
    if let Some(installed) = CryptoProvider::try_get_default() {
        return installed;
    }
    match RING_PROVIDER.install_default() {
        Ok(()) => &RING_PROVIDER,
        // Another thread installed a provider between the two calls. `install_default` hands
        // back the provider we offered, not the winner, so ask again for the one in place.
        Err(_) => CryptoProvider::try_get_default().unwrap_or(&RING_PROVIDER),
    }
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

/// `true` when `point` is an uncompressed point on the curve of `algorithm` (ES256: P-256,
/// ES384: P-384). ring checks points only when it uses them; an ephemeral key agreement with
/// the point as the peer key makes it check now, so a broken key is refused when it is loaded.
pub(crate) fn ec_point_is_valid(algorithm: Algorithm, point: &[u8]) -> bool {
    use ring::agreement;
    let curve = match algorithm {
        Algorithm::ES256 => &agreement::ECDH_P256,
        Algorithm::ES384 => &agreement::ECDH_P384,
        _ => return false,
    };
    let rng = SystemRandom::new();
    let Ok(ephemeral) = agreement::EphemeralPrivateKey::generate(curve, &rng) else {
        return false;
    };
    let peer = agreement::UnparsedPublicKey::new(curve, point);
    agreement::agree_ephemeral(ephemeral, &peer, |_| ()).is_ok()
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

// ---------------------------------------------------------------------------------------------
// Algorithm table
// ---------------------------------------------------------------------------------------------

/// The ring primitives behind one JWS algorithm.
#[derive(Clone, Copy)]
enum Suite {
    Hmac(hmac::Algorithm),
    Rsa {
        verify: &'static ring_sig::RsaParameters,
        sign: &'static dyn ring_sig::RsaEncoding,
    },
    Ecdsa {
        verify: &'static ring_sig::EcdsaVerificationAlgorithm,
        sign: &'static ring_sig::EcdsaSigningAlgorithm,
        /// Length of an uncompressed SEC1 point (`0x04 || X || Y`) on the curve.
        point_len: usize,
    },
    Ed25519,
}

/// Maps a JWS algorithm to ring's primitives, or `UnsupportedAlgorithm`.
fn suite(algorithm: Algorithm) -> Result<Suite> {
    let suite = match algorithm {
        Algorithm::HS256 => Suite::Hmac(hmac::HMAC_SHA256),
        Algorithm::HS384 => Suite::Hmac(hmac::HMAC_SHA384),
        Algorithm::HS512 => Suite::Hmac(hmac::HMAC_SHA512),
        Algorithm::RS256 => Suite::Rsa {
            verify: &ring_sig::RSA_PKCS1_2048_8192_SHA256,
            sign: &ring_sig::RSA_PKCS1_SHA256,
        },
        Algorithm::RS384 => Suite::Rsa {
            verify: &ring_sig::RSA_PKCS1_2048_8192_SHA384,
            sign: &ring_sig::RSA_PKCS1_SHA384,
        },
        Algorithm::RS512 => Suite::Rsa {
            verify: &ring_sig::RSA_PKCS1_2048_8192_SHA512,
            sign: &ring_sig::RSA_PKCS1_SHA512,
        },
        Algorithm::PS256 => Suite::Rsa {
            verify: &ring_sig::RSA_PSS_2048_8192_SHA256,
            sign: &ring_sig::RSA_PSS_SHA256,
        },
        Algorithm::PS384 => Suite::Rsa {
            verify: &ring_sig::RSA_PSS_2048_8192_SHA384,
            sign: &ring_sig::RSA_PSS_SHA384,
        },
        Algorithm::PS512 => Suite::Rsa {
            verify: &ring_sig::RSA_PSS_2048_8192_SHA512,
            sign: &ring_sig::RSA_PSS_SHA512,
        },
        Algorithm::ES256 => Suite::Ecdsa {
            verify: &ring_sig::ECDSA_P256_SHA256_FIXED,
            sign: &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            point_len: 65,
        },
        Algorithm::ES384 => Suite::Ecdsa {
            verify: &ring_sig::ECDSA_P384_SHA384_FIXED,
            sign: &ring_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            point_len: 97,
        },
        Algorithm::EdDSA => Suite::Ed25519,
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(suite)
}

/// Smallest and largest RSA modulus ring's `*_2048_8192_*` verification accepts.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Public key material, ready for ring.
enum VerifyingKey {
    /// HMAC key; tags are checked with `ring::hmac::verify` (constant time).
    Hmac(hmac::Key),
    /// RSA key given as `n` and `e` (big-endian, leading zeros removed).
    RsaComponents {
        params: &'static ring_sig::RsaParameters,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Any key ring parses itself: PKCS#1 RSA DER, uncompressed SEC1 point, raw Ed25519 key.
    Public {
        algorithm: &'static dyn ring_sig::VerificationAlgorithm,
        bytes: Vec<u8>,
    },
}

/// A [`JwtVerifier`] for one algorithm and one key.
struct RingVerifier {
    algorithm: Algorithm,
    key: VerifyingKey,
}

impl RingVerifier {
    /// `true` when `signature` is a valid signature of `msg`.
    fn verifies(&self, msg: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            VerifyingKey::Hmac(key) => hmac::verify(key, msg, signature).is_ok(),
            VerifyingKey::RsaComponents { params, n, e } => {
                let components = ring_sig::RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                };
                components.verify(params, msg, signature).is_ok()
            }
            VerifyingKey::Public { algorithm, bytes } => {
                ring_sig::UnparsedPublicKey::new(*algorithm, bytes.as_slice())
                    .verify(msg, signature)
                    .is_ok()
            }
        }
    }
}

/// A verifier for one key and one algorithm, made once when the key set is built.
///
/// With the crate's own provider installed it holds the provider's verifier, ready to use. With
/// an application's provider, whose verifier objects cannot be shared between threads, it keeps
/// the key and asks the provider for a verifier on each call.
pub(crate) struct PreparedVerifier {
    inner: Prepared,
}

enum Prepared {
    Ring(RingVerifier),
    Provider {
        provider: &'static CryptoProvider,
        algorithm: Algorithm,
        key: DecodingKey,
    },
}

impl std::fmt::Debug for PreparedVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (backend, algorithm) = match &self.inner {
            Prepared::Ring(verifier) => ("ring", verifier.algorithm),
            Prepared::Provider { algorithm, .. } => ("provider", *algorithm),
        };
        f.debug_struct("PreparedVerifier")
            .field("backend", &backend)
            .field("algorithm", &algorithm)
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
        let inner = if std::ptr::eq(provider, &RING_PROVIDER) {
            Prepared::Ring(ring_verifier(algorithm, key)?)
        } else {
            // Ask once now, so that a key the provider refuses fails at build time.
            (provider.verifier_factory)(&algorithm, key)?;
            Prepared::Provider {
                provider,
                algorithm,
                key: key.clone(),
            }
        };
        Ok(Self { inner })
    }

    /// `true` when `signature` is a valid signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            Prepared::Ring(verifier) => verifier.verifies(message, signature),
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
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        if self.verifies(msg, signature) {
            Ok(())
        } else {
            // Deliberately opaque: no detail about why a signature failed.
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// `verifier_factory` of [`RING_PROVIDER`].
fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(ring_verifier(*algorithm, key)?))
}

/// A ring verifier of `key` for `algorithm`, after checking that they fit each other.
fn ring_verifier(algorithm: Algorithm, key: &DecodingKey) -> Result<RingVerifier> {
    let suite = suite(algorithm)?;
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }

    let key = match suite {
        Suite::Hmac(hmac_alg) => {
            let secret = key.try_get_as_bytes()?;
            if secret.is_empty() {
                return Err(new_error(ErrorKind::InvalidKeyFormat));
            }
            VerifyingKey::Hmac(hmac::Key::new(hmac_alg, secret))
        }
        Suite::Rsa { verify, .. } => {
            // Refuse weak or oversized keys here, with a key error, rather than let every
            // signature fail later as if the token were forged.
            let bits = rsa_modulus_bits(key).ok_or_else(|| invalid_rsa_key("unparsable key"))?;
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                return Err(invalid_rsa_key("modulus must be 2048 to 8192 bits"));
            }
            match key.kind() {
                DecodingKeyKind::SecretOrDer(der) => VerifyingKey::Public {
                    algorithm: verify,
                    bytes: der.clone(),
                },
                DecodingKeyKind::RsaModulusExponent { n, e } => {
                    let e = strip_leading_zeros(e);
                    if e.is_empty() {
                        return Err(invalid_rsa_key("zero exponent"));
                    }
                    VerifyingKey::RsaComponents {
                        params: verify,
                        n: strip_leading_zeros(n).to_vec(),
                        e: e.to_vec(),
                    }
                }
            }
        }
        Suite::Ecdsa {
            verify, point_len, ..
        } => {
            let point = key.try_get_as_bytes()?;
            if point.len() != point_len || point.first() != Some(&0x04) {
                return Err(new_error(ErrorKind::InvalidEcdsaKey));
            }
            VerifyingKey::Public {
                algorithm: verify,
                bytes: point.to_vec(),
            }
        }
        Suite::Ed25519 => {
            let public = key.try_get_as_bytes()?;
            if public.len() != ring_sig::ED25519_PUBLIC_KEY_LEN {
                return Err(new_error(ErrorKind::InvalidEddsaKey));
            }
            VerifyingKey::Public {
                algorithm: &ring_sig::ED25519,
                bytes: public.to_vec(),
            }
        }
    };
    Ok(RingVerifier { algorithm, key })
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// Private key material, parsed by ring.
enum SigningKey {
    Hmac(hmac::Key),
    Rsa {
        key_pair: Box<ring_sig::RsaKeyPair>,
        padding: &'static dyn ring_sig::RsaEncoding,
    },
    Ecdsa(Box<ring_sig::EcdsaKeyPair>),
    Ed25519(Box<ring_sig::Ed25519KeyPair>),
}

/// A [`JwtSigner`] for one algorithm and one key.
struct RingSigner {
    algorithm: Algorithm,
    key: SigningKey,
    rng: SystemRandom,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        match &self.key {
            SigningKey::Hmac(key) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
            SigningKey::Rsa { key_pair, padding } => {
                let mut signature = vec![0; key_pair.public().modulus_len()];
                key_pair
                    .sign(*padding, &self.rng, msg, &mut signature)
                    .map_err(|_| signature::Error::new())?;
                Ok(signature)
            }
            SigningKey::Ecdsa(key_pair) => key_pair
                .sign(&self.rng, msg)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SigningKey::Ed25519(key_pair) => Ok(key_pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// `signer_factory` of [`RING_PROVIDER`].
fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let algorithm = *algorithm;
    let suite = suite(algorithm)?;
    if key.family() != algorithm.family() {
        return Err(new_error(ErrorKind::InvalidKeyFormat));
    }

    let rng = SystemRandom::new();
    let bytes = key.as_bytes();
    let key = match suite {
        Suite::Hmac(hmac_alg) => {
            if bytes.is_empty() {
                return Err(new_error(ErrorKind::InvalidKeyFormat));
            }
            SigningKey::Hmac(hmac::Key::new(hmac_alg, bytes))
        }
        Suite::Rsa { sign, .. } => SigningKey::Rsa {
            key_pair: Box::new(rsa_key_pair(bytes)?),
            padding: sign,
        },
        Suite::Ecdsa { sign, .. } => SigningKey::Ecdsa(Box::new(
            ring_sig::EcdsaKeyPair::from_pkcs8(sign, bytes, &rng)
                .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?,
        )),
        Suite::Ed25519 => SigningKey::Ed25519(Box::new(
            ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
        )),
    };
    Ok(Box::new(RingSigner {
        algorithm,
        key,
        rng,
    }))
}

/// Parses an RSA private key. jsonwebtoken's PEM loader stores PKCS#1 `RSAPrivateKey` DER (it
/// unwraps PKCS#8 "PRIVATE KEY" files), while `EncodingKey::from_rsa_der` stores whatever the
/// caller gave, so PKCS#8 is accepted as well.
fn rsa_key_pair(der: &[u8]) -> Result<ring_sig::RsaKeyPair> {
    ring_sig::RsaKeyPair::from_der(der)
        .or_else(|pkcs1_error| {
            ring_sig::RsaKeyPair::from_pkcs8(der).map_err(|_pkcs8_error| pkcs1_error)
        })
        .map_err(|rejected| invalid_rsa_key(&rejected.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Key utilities (JWK conversion and thumbprints)
// ---------------------------------------------------------------------------------------------

/// `rsa_pub_components_from_private_key`: `(n, e)` of an RSA private key (PKCS#1 or PKCS#8 DER).
fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let key_pair = rsa_key_pair(der)?;
    let components = ring_sig::RsaPublicKeyComponents::<Vec<u8>>::from(key_pair.public());
    Ok((components.n, components.e))
}

/// `rsa_pub_components_from_public_key`: `(n, e)` of a PKCS#1 `RSAPublicKey` DER.
fn rsa_components_from_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    parse_pkcs1_public_key(der).ok_or_else(|| invalid_rsa_key("invalid PKCS#1 public key"))
}

/// `ec_pub_components_from_private_key`: curve and `(x, y)` of a PKCS#8 EC private key.
fn ec_components_from_private_key(
    pkcs8: &[u8],
    algorithm: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (sign, curve) = match algorithm {
        Algorithm::ES256 => (
            &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
        ),
        Algorithm::ES384 => (
            &ring_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
        ),
        _ => return Err(new_error(ErrorKind::InvalidEcdsaKey)),
    };
    let key_pair = ring_sig::EcdsaKeyPair::from_pkcs8(sign, pkcs8, &SystemRandom::new())
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?;
    let point = ring_sig::KeyPair::public_key(&key_pair).as_ref();
    let (x, y) = match point.split_first() {
        Some((0x04, coordinates)) if coordinates.len() % 2 == 0 => {
            coordinates.split_at(coordinates.len() / 2)
        }
        _ => return Err(new_error(ErrorKind::InvalidEcdsaKey)),
    };
    Ok((curve, x.to_vec(), y.to_vec()))
}

/// `ed_pub_components_from_private_key`: the raw public key of a PKCS#8 Ed25519 private key.
fn ed_public_key_from_private_key(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    match curve {
        EllipticCurve::Ed25519 => {
            let key_pair = ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
            Ok(ring_sig::KeyPair::public_key(&key_pair).as_ref().to_vec())
        }
        _ => Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    }
}

/// `compute_digest`: SHA-2 digest for JWK thumbprints.
fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn invalid_rsa_key(reason: &str) -> jsonwebtoken::errors::Error {
    new_error(ErrorKind::InvalidRsaKey(reason.to_owned()))
}

/// Parses PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` and
/// returns `(n, e)` as big-endian bytes without leading zeros. Both must be positive, and
/// nothing may follow the sequence.
#[cfg(test)]
pub(crate) fn rsa_components_for_tests(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    parse_pkcs1_public_key(der).expect("a pkcs#1 key")
}

fn parse_pkcs1_public_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let blocks = simple_asn1::from_der(der).ok()?;
    let [ASN1Block::Sequence(_, items)] = blocks.as_slice() else {
        return None;
    };
    let [ASN1Block::Integer(_, n), ASN1Block::Integer(_, e)] = items.as_slice() else {
        return None;
    };
    // `to_biguint` is `None` for a negative value.
    let n = n.to_biguint()?;
    let e = e.to_biguint()?;
    if n.bits() == 0 || e.bits() == 0 {
        return None;
    }
    Some((n.to_bytes_be(), e.to_bytes_be()))
}

fn strip_leading_zeros(mut bytes: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

/// Bit length of a big-endian unsigned integer; `None` for zero.
fn bit_length(big_endian: &[u8]) -> Option<usize> {
    let (first, rest) = strip_leading_zeros(big_endian).split_first()?;
    let top_bits = usize::try_from(u8::BITS.checked_sub(first.leading_zeros())?).ok()?;
    rest.len().checked_mul(8)?.checked_add(top_bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{decode, encode, Header, Validation};
    use serde::{Deserialize, Serialize};

    const RSA_PRIVATE: &[u8] = include_bytes!("../tests/keys/rsa_private.pem");
    const RSA_PUBLIC: &[u8] = include_bytes!("../tests/keys/rsa_public.pem");
    const RSA2_PRIVATE: &[u8] = include_bytes!("../tests/keys/rsa2_private.pem");
    const RSA2_PUBLIC: &[u8] = include_bytes!("../tests/keys/rsa2_public.pem");
    const RSA1024_PUBLIC: &[u8] = include_bytes!("../tests/keys/rsa1024_public.pem");
    const EC256_PRIVATE: &[u8] = include_bytes!("../tests/keys/ec256_private.pem");
    const EC256_PUBLIC: &[u8] = include_bytes!("../tests/keys/ec256_public.pem");
    const EC384_PRIVATE: &[u8] = include_bytes!("../tests/keys/ec384_private.pem");
    const EC384_PUBLIC: &[u8] = include_bytes!("../tests/keys/ec384_public.pem");
    const ED25519_PRIVATE: &[u8] = include_bytes!("../tests/keys/ed25519_private.pem");
    const ED25519_PUBLIC: &[u8] = include_bytes!("../tests/keys/ed25519_public.pem");

    const SECRET: &[u8] = b"a test-only HMAC secret of 32 by";

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Claims {
        sub: String,
        exp: u64,
    }

    /// Installs a provider (ours unless something else already is) before any encode/decode.
    fn setup() {
        let _ = ensure_default_provider();
        assert!(CryptoProvider::try_get_default().is_some());
    }

    fn claims() -> Claims {
        Claims {
            sub: "user-1".to_owned(),
            exp: jsonwebtoken::get_current_timestamp() + 600,
        }
    }

    fn kind_of<T>(result: Result<T>) -> ErrorKind {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(error) => error.into_kind(),
        }
    }

    fn rsa_keys() -> (EncodingKey, DecodingKey) {
        (
            EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("rsa private"),
            DecodingKey::from_rsa_pem(RSA_PUBLIC).expect("rsa public"),
        )
    }

    fn keys_for(algorithm: Algorithm) -> (EncodingKey, DecodingKey) {
        match algorithm.family() {
            AlgorithmFamily::Hmac => (
                EncodingKey::from_secret(SECRET).expect("secret"),
                DecodingKey::from_secret(SECRET).expect("secret"),
            ),
            AlgorithmFamily::Rsa => rsa_keys(),
            AlgorithmFamily::Ec if algorithm == Algorithm::ES256 => (
                EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec256 private"),
                DecodingKey::from_ec_pem(EC256_PUBLIC).expect("ec256 public"),
            ),
            AlgorithmFamily::Ec => (
                EncodingKey::from_ec_pem(EC384_PRIVATE).expect("ec384 private"),
                DecodingKey::from_ec_pem(EC384_PUBLIC).expect("ec384 public"),
            ),
            AlgorithmFamily::Ed => (
                EncodingKey::from_ed_pem(ED25519_PRIVATE).expect("ed private"),
                DecodingKey::from_ed_pem(ED25519_PUBLIC).expect("ed public"),
            ),
        }
    }

    const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    fn round_trip(algorithm: Algorithm, encoding: &EncodingKey, decoding: &DecodingKey) {
        let claims = claims();
        let token = encode(&Header::new(algorithm), &claims, encoding)
            .unwrap_or_else(|e| panic!("{algorithm:?} encode: {e:?}"));
        let data = decode::<Claims>(&token, decoding, &Validation::new(algorithm))
            .unwrap_or_else(|e| panic!("{algorithm:?} decode: {e:?}"));
        assert_eq!(data.claims, claims, "{algorithm:?}");
        assert_eq!(data.header.alg, algorithm);
    }

    #[test]
    fn ensure_default_provider_is_idempotent() {
        setup();
        let first = ensure_default_provider();
        let second = ensure_default_provider();
        assert!(std::ptr::eq(first, second));
        let installed = CryptoProvider::try_get_default().expect("installed");
        assert!(std::ptr::eq(first, installed));
    }

    #[test]
    fn round_trip_every_algorithm() {
        setup();
        for algorithm in ALL {
            let (encoding, decoding) = keys_for(algorithm);
            round_trip(algorithm, &encoding, &decoding);
        }
    }

    #[test]
    fn round_trip_through_the_provider_directly() {
        setup();
        for algorithm in ALL {
            let (encoding, decoding) = keys_for(algorithm);
            let signer = (RING_PROVIDER.signer_factory)(&algorithm, &encoding).expect("signer");
            let verifier =
                (RING_PROVIDER.verifier_factory)(&algorithm, &decoding).expect("verifier");
            assert_eq!(signer.algorithm(), algorithm);
            assert_eq!(verifier.algorithm(), algorithm);
            let signature = signer.try_sign(b"message").expect("sign");
            assert!(
                verifier.verify(b"message", &signature).is_ok(),
                "{algorithm:?}"
            );
            assert!(
                verifier.verify(b"messagf", &signature).is_err(),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn rsa_from_jwk_components_and_pkcs8_der() {
        setup();
        let (encoding, decoding) = rsa_keys();
        let DecodingKeyKind::SecretOrDer(der) = decoding.kind() else {
            panic!("PEM gives DER")
        };
        let (n, e) = rsa_components_from_public_key(der).expect("components");
        let from_components = DecodingKey::from_rsa_raw_components(&n, &e);
        // Leading zero bytes in a JWK's `n`/`e` are tolerated.
        let padded_n = [&[0u8, 0][..], &n].concat();
        let padded = DecodingKey::from_rsa_raw_components(&padded_n, &[&[0u8][..], &e].concat());
        for algorithm in [Algorithm::RS256, Algorithm::PS512] {
            round_trip(algorithm, &encoding, &from_components);
            round_trip(algorithm, &encoding, &padded);
        }
        // The JWK helpers of jsonwebtoken go through our key_utils.
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("jwk");
        round_trip(
            Algorithm::RS256,
            &encoding,
            &DecodingKey::from_jwk(&jwk).expect("from jwk"),
        );
        let jwk2 = Jwk::from_decoding_key(&decoding, Some(Algorithm::RS256)).expect("jwk");
        assert_eq!(jwk.algorithm, jwk2.algorithm);

        // `EncodingKey::from_rsa_der` with PKCS#8 (not what the PEM loader stores) also signs.
        let pem = std::str::from_utf8(RSA_PRIVATE).expect("utf8");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine as _;
        let pkcs8 = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64");
        round_trip(
            Algorithm::RS256,
            &EncodingKey::from_rsa_der(&pkcs8),
            &decoding,
        );
    }

    #[test]
    fn key_utils_match_the_public_keys() {
        setup();
        let ec = EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec");
        let (curve, x, y) =
            ec_components_from_private_key(ec.as_bytes(), Algorithm::ES256).expect("ec parts");
        assert_eq!(curve, EllipticCurve::P256);
        let public = DecodingKey::from_ec_pem(EC256_PUBLIC).expect("ec public");
        assert_eq!(
            public.try_get_as_bytes().expect("bytes"),
            [&[4u8][..], &x, &y].concat()
        );

        let ec384 = EncodingKey::from_ec_pem(EC384_PRIVATE).expect("ec384");
        let (curve, x, y) =
            ec_components_from_private_key(ec384.as_bytes(), Algorithm::ES384).expect("parts");
        assert_eq!(curve, EllipticCurve::P384);
        assert_eq!((x.len(), y.len()), (48, 48));
        // A P-384 key asked for as P-256 is refused.
        assert!(ec_components_from_private_key(ec384.as_bytes(), Algorithm::ES256).is_err());

        let ed = EncodingKey::from_ed_pem(ED25519_PRIVATE).expect("ed");
        let ed_public = DecodingKey::from_ed_pem(ED25519_PUBLIC).expect("ed public");
        assert_eq!(
            ed_public_key_from_private_key(ed.as_bytes(), &EllipticCurve::Ed25519).expect("ed"),
            ed_public.try_get_as_bytes().expect("bytes")
        );
        assert!(ed_public_key_from_private_key(ed.as_bytes(), &EllipticCurve::P256).is_err());

        let (encoding, decoding) = rsa_keys();
        let DecodingKeyKind::SecretOrDer(der) = decoding.kind() else {
            panic!("PEM gives DER")
        };
        assert_eq!(
            rsa_components_from_private_key(encoding.as_bytes()).expect("private"),
            rsa_components_from_public_key(der).expect("public")
        );

        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            compute_digest(b"abc", ThumbprintHash::SHA256).expect("digest"),
            [
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
                0xf2, 0x00, 0x15, 0xad
            ]
        );
        assert_eq!(
            compute_digest(b"", ThumbprintHash::SHA384)
                .expect("384")
                .len(),
            48
        );
        assert_eq!(
            compute_digest(b"", ThumbprintHash::SHA512)
                .expect("512")
                .len(),
            64
        );
        let jwk = Jwk::from_decoding_key(&ed_public, Some(Algorithm::EdDSA)).expect("jwk");
        let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint");
        assert_eq!(thumbprint.len(), 43);
    }

    #[test]
    fn family_mismatch_is_refused_by_both_factories() {
        setup();
        let (rsa_encoding, rsa_decoding) = rsa_keys();
        let (ec_encoding, ec_decoding) = keys_for(Algorithm::ES256);
        let secret_encoding = EncodingKey::from_secret(SECRET).expect("secret");
        let secret_decoding = DecodingKey::from_secret(SECRET).expect("secret");

        // An RSA public key must never become an HMAC secret.
        assert!(matches!(
            kind_of((RING_PROVIDER.verifier_factory)(
                &Algorithm::HS256,
                &rsa_decoding
            )),
            ErrorKind::InvalidKeyFormat
        ));
        assert!(matches!(
            kind_of((RING_PROVIDER.verifier_factory)(
                &Algorithm::RS256,
                &secret_decoding
            )),
            ErrorKind::InvalidKeyFormat
        ));
        assert!(matches!(
            kind_of((RING_PROVIDER.verifier_factory)(
                &Algorithm::EdDSA,
                &ec_decoding
            )),
            ErrorKind::InvalidKeyFormat
        ));
        assert!(matches!(
            kind_of((RING_PROVIDER.signer_factory)(
                &Algorithm::RS256,
                &secret_encoding
            )),
            ErrorKind::InvalidKeyFormat
        ));
        assert!(matches!(
            kind_of((RING_PROVIDER.signer_factory)(
                &Algorithm::HS256,
                &rsa_encoding
            )),
            ErrorKind::InvalidKeyFormat
        ));
        assert!(matches!(
            kind_of((RING_PROVIDER.signer_factory)(
                &Algorithm::EdDSA,
                &ec_encoding
            )),
            ErrorKind::InvalidKeyFormat
        ));
        // Same family, wrong curve: a P-256 key for ES384.
        assert!(matches!(
            kind_of((RING_PROVIDER.verifier_factory)(
                &Algorithm::ES384,
                &ec_decoding
            )),
            ErrorKind::InvalidEcdsaKey
        ));
        assert!(matches!(
            kind_of((RING_PROVIDER.signer_factory)(
                &Algorithm::ES384,
                &ec_encoding
            )),
            ErrorKind::InvalidEcdsaKey
        ));
    }

    #[test]
    fn alg_confusion_through_decode_is_refused() {
        setup();
        // HS256 token whose "secret" is the RSA public key's DER: the classic confusion attack.
        let (_, rsa_decoding) = rsa_keys();
        let der = rsa_decoding.try_get_as_bytes().expect("der").to_vec();
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(&der).expect("secret"),
        )
        .expect("encode");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        assert!(decode::<Claims>(&forged, &rsa_decoding, &validation).is_err());
        assert!(
            decode::<Claims>(&forged, &rsa_decoding, &Validation::new(Algorithm::RS256)).is_err()
        );
    }

    #[test]
    fn wrong_key_and_tampered_signatures_are_rejected() {
        setup();
        let wrong_rsa = DecodingKey::from_rsa_pem(RSA2_PUBLIC).expect("rsa2 public");
        let rsa2 = EncodingKey::from_rsa_pem(RSA2_PRIVATE).expect("rsa2 private");
        round_trip(Algorithm::RS256, &rsa2, &wrong_rsa);
        let (encoding, _) = rsa_keys();
        let token = encode(&Header::new(Algorithm::RS256), &claims(), &encoding).expect("sign");
        let error = decode::<Claims>(&token, &wrong_rsa, &Validation::new(Algorithm::RS256))
            .expect_err("wrong key");
        assert!(matches!(error.kind(), ErrorKind::InvalidSignature));

        for algorithm in ALL {
            let (encoding, decoding_for_alg) = keys_for(algorithm);
            let token = encode(&Header::new(algorithm), &claims(), &encoding).expect("sign");
            let (message, signature) = token.rsplit_once('.').expect("three parts");
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let mut raw = engine.decode(signature).expect("b64");
            let middle = raw.len() / 2;
            if let Some(byte) = raw.get_mut(middle) {
                *byte ^= 0x01;
            }
            let tampered = format!("{message}.{}", engine.encode(&raw));
            let error = decode::<Claims>(&tampered, &decoding_for_alg, &Validation::new(algorithm))
                .expect_err("tampered");
            assert!(
                matches!(error.kind(), ErrorKind::InvalidSignature),
                "{algorithm:?}: {error:?}"
            );
            // A truncated signature is rejected too (HMAC tags must have the full length).
            raw.truncate(raw.len().saturating_sub(1));
            let truncated = format!("{message}.{}", engine.encode(&raw));
            assert!(
                decode::<Claims>(&truncated, &decoding_for_alg, &Validation::new(algorithm))
                    .is_err()
            );
        }
    }

    #[test]
    fn ecdsa_zero_signature_is_rejected() {
        setup();
        for (algorithm, width) in [(Algorithm::ES256, 64), (Algorithm::ES384, 96)] {
            let (_, decoding) = keys_for(algorithm);
            let verifier = (RING_PROVIDER.verifier_factory)(&algorithm, &decoding).expect("v");
            assert!(verifier.verify(b"anything", &vec![0u8; width]).is_err());
            // The same "psychic signature" inside a token.
            let header = format!(r#"{{"alg":"{algorithm:?}","typ":"JWT"}}"#);
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let token = format!(
                "{}.{}.{}",
                engine.encode(header),
                engine.encode(serde_json::to_vec(&claims()).expect("json")),
                engine.encode(vec![0u8; width])
            );
            let error = decode::<Claims>(&token, &decoding, &Validation::new(algorithm))
                .expect_err("r = s = 0");
            assert!(matches!(error.kind(), ErrorKind::InvalidSignature));
        }
    }

    #[test]
    fn rsa_modulus_bits_of_test_keys() {
        setup();
        let (_, decoding) = rsa_keys();
        assert_eq!(rsa_modulus_bits(&decoding), Some(2048));
        let weak = DecodingKey::from_rsa_pem(RSA1024_PUBLIC).expect("rsa1024");
        assert_eq!(rsa_modulus_bits(&weak), Some(1024));
        let (n, e) =
            rsa_components_from_public_key(decoding.try_get_as_bytes().expect("der")).expect("n");
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_rsa_raw_components(&n, &e)),
            Some(2048)
        );
        let padded = [&[0u8, 0, 0][..], &n].concat();
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_rsa_raw_components(&padded, &e)),
            Some(2048)
        );
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_rsa_raw_components(&[0x01, 0xff], &e)),
            Some(9)
        );
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_rsa_raw_components(&[0, 0], &e)),
            None
        );
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_ec_pem(EC256_PUBLIC).expect("ec")),
            None
        );
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_secret(SECRET).expect("secret")),
            None
        );
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_rsa_der(b"\x30\x03\x02\x01")),
            None
        );
    }

    #[test]
    fn weak_rsa_key_is_refused_with_a_key_error() {
        setup();
        let weak = DecodingKey::from_rsa_pem(RSA1024_PUBLIC).expect("rsa1024");
        for algorithm in [Algorithm::RS256, Algorithm::PS256] {
            assert!(matches!(
                kind_of((RING_PROVIDER.verifier_factory)(&algorithm, &weak)),
                ErrorKind::InvalidRsaKey(_)
            ));
        }
    }

    #[test]
    fn hostile_key_material_never_panics() {
        setup();
        let junk: [&[u8]; 9] = [
            b"",
            b"\x00",
            b"\x04",
            b"\x30",
            b"\x30\x80",
            b"\x30\x82\xff\xff\x02",
            b"\x30\x06\x02\x01\x00\x02\x01\x00",
            b"\x30\x06\x02\x01\x80\x02\x01\x03",
            &[0xffu8; 300],
        ];
        for bytes in junk {
            for algorithm in ALL {
                let decoding = match algorithm.family() {
                    AlgorithmFamily::Hmac => DecodingKey::from_secret(bytes).ok(),
                    AlgorithmFamily::Rsa => Some(DecodingKey::from_rsa_der(bytes)),
                    AlgorithmFamily::Ec => Some(DecodingKey::from_ec_der(bytes)),
                    AlgorithmFamily::Ed => Some(DecodingKey::from_ed_der(bytes)),
                };
                if let Some(decoding) = decoding {
                    if let Ok(verifier) = (RING_PROVIDER.verifier_factory)(&algorithm, &decoding) {
                        assert!(verifier.verify(b"m", &bytes.to_vec()).is_err());
                    }
                }
                let encoding = match algorithm.family() {
                    AlgorithmFamily::Hmac => EncodingKey::from_secret(bytes).ok(),
                    AlgorithmFamily::Rsa => Some(EncodingKey::from_rsa_der(bytes)),
                    AlgorithmFamily::Ec => Some(EncodingKey::from_ec_der(bytes)),
                    AlgorithmFamily::Ed => Some(EncodingKey::from_ed_der(bytes)),
                };
                if let Some(encoding) = encoding {
                    let signer = (RING_PROVIDER.signer_factory)(&algorithm, &encoding);
                    assert_eq!(signer.is_ok(), algorithm.family() == AlgorithmFamily::Hmac);
                }
            }
            assert!(rsa_components_from_private_key(bytes).is_err());
            assert!(rsa_components_from_public_key(bytes).is_err());
            assert!(ec_components_from_private_key(bytes, Algorithm::ES256).is_err());
            assert!(ec_components_from_private_key(bytes, Algorithm::HS256).is_err());
            assert!(ed_public_key_from_private_key(bytes, &EllipticCurve::Ed25519).is_err());
            assert_eq!(
                rsa_modulus_bits(&DecodingKey::from_rsa_raw_components(bytes, bytes)),
                bit_length(bytes)
            );
        }
        // RSA components with a zero exponent, or an empty modulus.
        let zero_e = DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[0, 0]);
        assert!((RING_PROVIDER.verifier_factory)(&Algorithm::RS256, &zero_e).is_err());
        let empty_n = DecodingKey::from_rsa_raw_components(&[], &[1, 0, 1]);
        assert!((RING_PROVIDER.verifier_factory)(&Algorithm::RS256, &empty_n).is_err());
        // A well-sized but bogus modulus gives a verifier that rejects everything.
        let bogus = DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[1, 0, 1]);
        let verifier = (RING_PROVIDER.verifier_factory)(&Algorithm::RS256, &bogus).expect("v");
        assert!(verifier.verify(b"m", &vec![0u8; 256]).is_err());
    }
}
