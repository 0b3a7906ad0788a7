//! [`RING_PROVIDER`]: the provider built on `ring` 0.17.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature as ring_sig;
use ring::{digest, hmac};

use super::{
    checked_private_key, checked_public_key, invalid_rsa_key, rsa_components_from_public_key,
    CheckedKey,
};

/// The crate's ring-backed provider.
///
/// Layers verify with it unless [`crypto_provider`](crate::JwtAuthBuilder::crypto_provider) names
/// another, without installing it. An application that calls `jsonwebtoken` itself may install
/// it as the process default with [`CryptoProvider::install_default`]. Its factories can also
/// be called directly, e.g. `(RING_PROVIDER.verifier_factory)(&Algorithm::ES256, &key)`,
/// whatever is installed.
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
        },
        Algorithm::ES384 => Suite::Ecdsa {
            verify: &ring_sig::ECDSA_P384_SHA384_FIXED,
            sign: &ring_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        },
        Algorithm::EdDSA => Suite::Ed25519,
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(suite)
}

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
    /// ring 0.17 has no parsed form of a public key: it parses these bytes on each call.
    Public {
        algorithm: &'static dyn ring_sig::VerificationAlgorithm,
        bytes: Vec<u8>,
    },
}

/// A [`JwtVerifier`] for one algorithm and one key.
pub(super) struct RingVerifier {
    algorithm: Algorithm,
    key: VerifyingKey,
}

impl RingVerifier {
    /// A verifier of `key` for `algorithm`, after checking that they fit each other.
    pub(super) fn new(algorithm: Algorithm, key: &DecodingKey) -> Result<Self> {
        let checked = checked_public_key(algorithm, key)?;
        let key = match (suite(algorithm)?, checked) {
            (Suite::Hmac(hmac_alg), CheckedKey::Hmac(secret)) => {
                VerifyingKey::Hmac(hmac::Key::new(hmac_alg, secret))
            }
            (Suite::Rsa { verify, .. }, CheckedKey::RsaDer(der)) => VerifyingKey::Public {
                algorithm: verify,
                bytes: der.to_vec(),
            },
            (Suite::Rsa { verify, .. }, CheckedKey::RsaComponents { n, e }) => {
                VerifyingKey::RsaComponents {
                    params: verify,
                    n: n.to_vec(),
                    e: e.to_vec(),
                }
            }
            (Suite::Ecdsa { verify, .. }, CheckedKey::EcPoint(point)) => VerifyingKey::Public {
                algorithm: verify,
                bytes: point.to_vec(),
            },
            (Suite::Ed25519, CheckedKey::Ed25519(public)) => VerifyingKey::Public {
                algorithm: &ring_sig::ED25519,
                bytes: public.to_vec(),
            },
            // `checked_public_key` gives the key shape of the algorithm's family.
            _ => return Err(new_error(ErrorKind::InvalidKeyFormat)),
        };
        Ok(Self { algorithm, key })
    }

    pub(super) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// `true` when `signature` is a valid signature of `msg`.
    pub(super) fn verifies(&self, msg: &[u8], signature: &[u8]) -> bool {
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
    Ok(Box::new(RingVerifier::new(*algorithm, key)?))
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
    let bytes = checked_private_key(algorithm, key)?;
    let rng = SystemRandom::new();
    let key = match suite(algorithm)? {
        Suite::Hmac(hmac_alg) => SigningKey::Hmac(hmac::Key::new(hmac_alg, bytes)),
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
