//! `AWS_LC_PROVIDER`: the provider built on aws-lc-rs 1 (crate feature `aws-lc-rs`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as lc_sig, KeyPair as _, ParsedPublicKey};
use aws_lc_rs::{digest, hmac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::{
    checked_private_key, checked_public_key, invalid_rsa_key, parse_pkcs1_public_key,
    rsa_components_from_public_key, CheckedKey,
};

/// The crate's aws-lc-rs-backed provider (crate feature `aws-lc-rs`).
///
/// It offers what [`RING_PROVIDER`](super::RING_PROVIDER) offers, with the same key checks and
/// errors: HS256/384/512 (tags compared in constant time), RS256/384/512 and PS256/384/512 with
/// moduli of 2048 to 8192 bits, ES256, ES384 (fixed-width `R || S`) and `EdDSA` (Ed25519).
///
/// A layer verifies with it when it is given it with
/// [`crypto_provider`](crate::JwtAuthBuilder::crypto_provider); the layer then keeps every
/// public key parsed by aws-lc-rs, so that a verification does no key parsing. Installing it as
/// the process default (`AWS_LC_PROVIDER.install_default()`) is for the application's own
/// `jsonwebtoken` calls, and does not change what a layer verifies with. Its factories can also be called directly, e.g.
/// `(AWS_LC_PROVIDER.verifier_factory)(&Algorithm::RS256, &key)`, whatever is installed.
pub static AWS_LC_PROVIDER: CryptoProvider = CryptoProvider {
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

// ---------------------------------------------------------------------------------------------
// Algorithm table
// ---------------------------------------------------------------------------------------------

/// The aws-lc-rs primitives behind one JWS algorithm.
#[derive(Clone, Copy)]
enum Suite {
    Hmac(hmac::Algorithm),
    Rsa {
        verify: &'static lc_sig::RsaParameters,
        sign: &'static dyn lc_sig::RsaEncoding,
    },
    Ecdsa {
        verify: &'static lc_sig::EcdsaVerificationAlgorithm,
        sign: &'static lc_sig::EcdsaSigningAlgorithm,
    },
    Ed25519,
}

/// Maps a JWS algorithm to aws-lc-rs's primitives, or `UnsupportedAlgorithm`.
fn suite(algorithm: Algorithm) -> Result<Suite> {
    let suite = match algorithm {
        Algorithm::HS256 => Suite::Hmac(hmac::HMAC_SHA256),
        Algorithm::HS384 => Suite::Hmac(hmac::HMAC_SHA384),
        Algorithm::HS512 => Suite::Hmac(hmac::HMAC_SHA512),
        Algorithm::RS256 => Suite::Rsa {
            verify: &lc_sig::RSA_PKCS1_2048_8192_SHA256,
            sign: &lc_sig::RSA_PKCS1_SHA256,
        },
        Algorithm::RS384 => Suite::Rsa {
            verify: &lc_sig::RSA_PKCS1_2048_8192_SHA384,
            sign: &lc_sig::RSA_PKCS1_SHA384,
        },
        Algorithm::RS512 => Suite::Rsa {
            verify: &lc_sig::RSA_PKCS1_2048_8192_SHA512,
            sign: &lc_sig::RSA_PKCS1_SHA512,
        },
        Algorithm::PS256 => Suite::Rsa {
            verify: &lc_sig::RSA_PSS_2048_8192_SHA256,
            sign: &lc_sig::RSA_PSS_SHA256,
        },
        Algorithm::PS384 => Suite::Rsa {
            verify: &lc_sig::RSA_PSS_2048_8192_SHA384,
            sign: &lc_sig::RSA_PSS_SHA384,
        },
        Algorithm::PS512 => Suite::Rsa {
            verify: &lc_sig::RSA_PSS_2048_8192_SHA512,
            sign: &lc_sig::RSA_PSS_SHA512,
        },
        Algorithm::ES256 => Suite::Ecdsa {
            verify: &lc_sig::ECDSA_P256_SHA256_FIXED,
            sign: &lc_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        },
        Algorithm::ES384 => Suite::Ecdsa {
            verify: &lc_sig::ECDSA_P384_SHA384_FIXED,
            sign: &lc_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        },
        Algorithm::EdDSA => Suite::Ed25519,
        _ => return Err(new_error(ErrorKind::UnsupportedAlgorithm)),
    };
    Ok(suite)
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Public key material, parsed once by aws-lc-rs.
enum VerifyingKey {
    /// HMAC key; tags are checked with `aws_lc_rs::hmac::verify` (constant time). Boxed: it
    /// holds a whole `HMAC_CTX`, over a kilobyte.
    Hmac(Box<hmac::Key>),
    /// An RSA, EC or Ed25519 public key, parsed and checked when the verifier was made. Its
    /// algorithm (padding, hash, curve, accepted modulus sizes) is bound into it.
    Parsed(ParsedPublicKey),
}

/// A [`JwtVerifier`] for one algorithm and one key.
pub(super) struct AwsLcVerifier {
    algorithm: Algorithm,
    key: VerifyingKey,
}

impl AwsLcVerifier {
    /// A verifier of `key` for `algorithm`, after checking that they fit each other; the public
    /// key is parsed here, once.
    pub(super) fn new(algorithm: Algorithm, key: &DecodingKey) -> Result<Self> {
        let checked = checked_public_key(algorithm, key)?;
        let key = match (suite(algorithm)?, checked) {
            (Suite::Hmac(hmac_alg), CheckedKey::Hmac(secret)) => {
                VerifyingKey::Hmac(Box::new(hmac::Key::new(hmac_alg, secret)))
            }
            (Suite::Rsa { verify, .. }, CheckedKey::RsaDer(der)) => VerifyingKey::Parsed(
                ParsedPublicKey::new(verify, der)
                    .map_err(|rejected| invalid_rsa_key(&rejected.to_string()))?,
            ),
            (Suite::Rsa { verify, .. }, CheckedKey::RsaComponents { n, e }) => {
                VerifyingKey::Parsed(
                    lc_sig::RsaPublicKeyComponents { n, e }
                        .to_parsed_public_key(verify)
                        .map_err(|rejected| invalid_rsa_key(&rejected.to_string()))?,
                )
            }
            (Suite::Ecdsa { verify, .. }, CheckedKey::EcPoint(point)) => VerifyingKey::Parsed(
                // aws-lc-rs checks here that the point is on the curve.
                ParsedPublicKey::new(verify, point)
                    .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?,
            ),
            (Suite::Ed25519, CheckedKey::Ed25519(public)) => VerifyingKey::Parsed(
                ParsedPublicKey::new(&lc_sig::ED25519, public)
                    .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
            ),
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
            VerifyingKey::Parsed(key) => key.verify_sig(msg, signature).is_ok(),
        }
    }
}

impl Verifier<Vec<u8>> for AwsLcVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        if self.verifies(msg, signature) {
            Ok(())
        } else {
            // Deliberately opaque: no detail about why a signature failed.
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for AwsLcVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// `verifier_factory` of [`AWS_LC_PROVIDER`].
fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(AwsLcVerifier::new(*algorithm, key)?))
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// Private key material, parsed by aws-lc-rs.
enum SigningKey {
    Hmac(Box<hmac::Key>),
    Rsa {
        key_pair: Box<lc_sig::RsaKeyPair>,
        padding: &'static dyn lc_sig::RsaEncoding,
    },
    Ecdsa(Box<lc_sig::EcdsaKeyPair>),
    Ed25519(Box<lc_sig::Ed25519KeyPair>),
}

/// A [`JwtSigner`] for one algorithm and one key.
struct AwsLcSigner {
    algorithm: Algorithm,
    key: SigningKey,
    rng: SystemRandom,
}

impl Signer<Vec<u8>> for AwsLcSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        match &self.key {
            SigningKey::Hmac(key) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
            SigningKey::Rsa { key_pair, padding } => {
                let mut signature = vec![0; key_pair.public_modulus_len()];
                key_pair
                    .sign(*padding, &self.rng, msg, &mut signature)
                    .map_err(|_| signature::Error::new())?;
                Ok(signature)
            }
            SigningKey::Ecdsa(key_pair) => key_pair
                .sign(&self.rng, msg)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SigningKey::Ed25519(key_pair) => key_pair
                .try_sign(msg)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
        }
    }
}

impl JwtSigner for AwsLcSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// `signer_factory` of [`AWS_LC_PROVIDER`].
fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let algorithm = *algorithm;
    let bytes = checked_private_key(algorithm, key)?;
    let key = match suite(algorithm)? {
        Suite::Hmac(hmac_alg) => SigningKey::Hmac(Box::new(hmac::Key::new(hmac_alg, bytes))),
        Suite::Rsa { sign, .. } => SigningKey::Rsa {
            key_pair: Box::new(rsa_key_pair(bytes)?),
            padding: sign,
        },
        Suite::Ecdsa { sign, .. } => SigningKey::Ecdsa(Box::new(
            lc_sig::EcdsaKeyPair::from_pkcs8(sign, bytes)
                .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?,
        )),
        Suite::Ed25519 => SigningKey::Ed25519(Box::new(
            lc_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
        )),
    };
    Ok(Box::new(AwsLcSigner {
        algorithm,
        key,
        rng: SystemRandom::new(),
    }))
}

/// Parses an RSA private key, PKCS#1 `RSAPrivateKey` DER (what jsonwebtoken's PEM loader
/// stores) or PKCS#8 (what `EncodingKey::from_rsa_der` may be given).
fn rsa_key_pair(der: &[u8]) -> Result<lc_sig::RsaKeyPair> {
    lc_sig::RsaKeyPair::from_der(der)
        .or_else(|pkcs1_error| {
            lc_sig::RsaKeyPair::from_pkcs8(der).map_err(|_pkcs8_error| pkcs1_error)
        })
        .map_err(|rejected| invalid_rsa_key(&rejected.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Key utilities (JWK conversion and thumbprints)
// ---------------------------------------------------------------------------------------------

/// `rsa_pub_components_from_private_key`: `(n, e)` of an RSA private key (PKCS#1 or PKCS#8 DER).
fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let key_pair = rsa_key_pair(der)?;
    // The public key is PKCS#1 `RSAPublicKey` DER.
    parse_pkcs1_public_key(key_pair.public_key().as_ref())
        .ok_or_else(|| invalid_rsa_key("invalid public key"))
}

/// `ec_pub_components_from_private_key`: curve and `(x, y)` of a PKCS#8 EC private key.
fn ec_components_from_private_key(
    pkcs8: &[u8],
    algorithm: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (sign, curve) = match algorithm {
        Algorithm::ES256 => (
            &lc_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
        ),
        Algorithm::ES384 => (
            &lc_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
        ),
        _ => return Err(new_error(ErrorKind::InvalidEcdsaKey)),
    };
    let key_pair = lc_sig::EcdsaKeyPair::from_pkcs8(sign, pkcs8)
        .map_err(|_| new_error(ErrorKind::InvalidEcdsaKey))?;
    let point = key_pair.public_key().as_ref();
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
            let key_pair = lc_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
            Ok(key_pair.public_key().as_ref().to_vec())
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
