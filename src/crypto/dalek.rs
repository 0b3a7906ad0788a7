//! `DALEK_PROVIDER`: Ed25519 verification through ed25519-dalek 3, everything else through ring
//! (crate feature `ed25519-dalek`).
//!
//! # Which check
//!
//! A signature verifies when [`VerifyingKey::verify_strict`] accepts it, for a public key that
//! was refused unless it is the canonical encoding of a point of large order:
//!
//! - **RFC 8032, section 5.1.7** (decoding): `S` must be below the group order `L` (ed25519-dalek
//!   refuses a non-canonical `S` in every mode but `legacy_compatibility`, which is not enabled);
//!   `R` must be a canonical encoding (the recomputed `R` is encoded and compared byte for byte,
//!   so an `R` with `y >= p` or a "negative zero" never matches); `A` must decode canonically
//!   (ed25519-dalek's point decompression reduces `y` modulo `p`, so the key is re-encoded when
//!   the verifier is made and refused as [`ErrorKind::InvalidEddsaKey`] unless the bytes come
//!   back unchanged).
//! - **The group equation** is the cofactorless one, `[S]B = R + [k]A`, which RFC 8032 allows
//!   ("sufficient, but not required"). ring, aws-lc-rs and the other providers check the same
//!   equation, so the three backends accept the same signatures from honest signers.
//! - **Small order**: `verify_strict` also refuses an `A` or an `R` of small order (a "weak"
//!   key, for which one signature verifies for many messages). RFC 8032 does not ask for it; no
//!   honest signer produces such a key or such an `R`. A weak `A` is refused when the verifier is
//!   made, with [`ErrorKind::InvalidEddsaKey`], so that a broken key shows as a key error rather
//!   than as every token failing.
//!
//! Every `valid` case of Wycheproof's `ed25519_test.json` verifies and every `invalid` one is
//! refused (`tests/wycheproof.rs`), as with ring and aws-lc-rs.
//!
//! ed25519-dalek is built with `default-features = false` and `fast` only (the precomputed
//! basepoint tables, which verification uses): no signing key, no random numbers, no `std`.
//! Signing (any algorithm, Ed25519 included), the key utilities and the verification of every
//! other algorithm are [`RING_PROVIDER`]'s, so keys are checked and refused with the same errors
//! as with the other providers.

use ed25519_dalek::{Signature, VerifyingKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::ring::RingVerifier;
use super::{checked_public_key, CheckedKey, Prepared, RING_PROVIDER};

/// The crate's provider with Ed25519 (`EdDSA`) verification through ed25519-dalek (crate
/// feature `ed25519-dalek`); every other algorithm, all signing and the key utilities are
/// [`RING_PROVIDER`]'s.
///
/// Pick it where ed25519-dalek verifies Ed25519 faster than ring on the machine (see the
/// [module docs](super)). Hand it to the layer with `.crypto_provider(&DALEK_PROVIDER)`: the
/// layer then keeps, per Ed25519 key, the decompressed point, so that a verification does no
/// key parsing. Its factories can also be called directly, e.g.
/// `(DALEK_PROVIDER.verifier_factory)(&Algorithm::EdDSA, &key)`, whatever is installed.
///
/// Ed25519 signatures are checked with `verify_strict`, and a public key must be the canonical
/// encoding of a point of large order ([`ErrorKind::InvalidEddsaKey`] otherwise): RFC 8032's
/// canonical `S`, `R` and `A`, the cofactorless group equation that ring and aws-lc-rs check
/// too, and no point of small order (see the [module docs](super#ed25519-dalek)).
pub static DALEK_PROVIDER: CryptoProvider = CryptoProvider {
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
// Verification
// ---------------------------------------------------------------------------------------------

/// A [`JwtVerifier`] for one Ed25519 public key, decompressed and checked once.
pub(super) struct DalekVerifier {
    key: VerifyingKey,
}

impl DalekVerifier {
    /// A verifier of `key` for `EdDSA`, after the checks every provider makes (the algorithm,
    /// the key's family, 32 bytes) and ed25519-dalek's own: the bytes decode to a point, they are
    /// that point's canonical encoding, and the point is not of small order.
    pub(super) fn new(key: &DecodingKey) -> Result<Self> {
        let CheckedKey::Ed25519(public) = checked_public_key(Algorithm::EdDSA, key)? else {
            // `checked_public_key` gives the key shape of the algorithm's family.
            return Err(new_error(ErrorKind::InvalidKeyFormat));
        };
        let bytes: &[u8; 32] = public
            .try_into()
            .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
        let key =
            VerifyingKey::from_bytes(bytes).map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
        // RFC 8032 5.1.3: `y >= p` (and `x = 0` with the sign bit set) is not a valid encoding,
        // but decompression accepts it; a canonical encoding re-encodes to itself.
        if key.to_edwards().compress().as_bytes() != bytes || key.is_weak() {
            return Err(new_error(ErrorKind::InvalidEddsaKey));
        }
        Ok(Self { key })
    }

    /// `true` when `signature` is a valid Ed25519 signature of `msg` (`verify_strict`).
    pub(super) fn verifies(&self, msg: &[u8], signature: &[u8]) -> bool {
        match Signature::from_slice(signature) {
            Ok(signature) => self.key.verify_strict(msg, &signature).is_ok(),
            // Not 64 bytes.
            Err(_) => false,
        }
    }
}

impl Verifier<Vec<u8>> for DalekVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        if self.verifies(msg, signature) {
            Ok(())
        } else {
            // Deliberately opaque: no detail about why a signature failed.
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for DalekVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

/// The verifier the layer keeps for `key` and `algorithm`: ed25519-dalek's for `EdDSA`, ring's
/// for every other algorithm.
pub(super) fn prepared(algorithm: Algorithm, key: &DecodingKey) -> Result<Prepared> {
    if algorithm == Algorithm::EdDSA {
        Ok(Prepared::Dalek(DalekVerifier::new(key)?))
    } else {
        Ok(Prepared::Ring(RingVerifier::new(algorithm, key)?))
    }
}

/// `verifier_factory` of [`DALEK_PROVIDER`].
fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm == Algorithm::EdDSA {
        Ok(Box::new(DalekVerifier::new(key)?))
    } else {
        Ok(Box::new(RingVerifier::new(*algorithm, key)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Signing and key utilities: ring's
// ---------------------------------------------------------------------------------------------

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    (RING_PROVIDER.signer_factory)(algorithm, key)
}

fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    (RING_PROVIDER.key_utils.rsa_pub_components_from_private_key)(der)
}

fn rsa_components_from_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    (RING_PROVIDER.key_utils.rsa_pub_components_from_public_key)(der)
}

fn ec_components_from_private_key(
    pkcs8: &[u8],
    algorithm: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    (RING_PROVIDER.key_utils.ec_pub_components_from_private_key)(pkcs8, algorithm)
}

fn ed_public_key_from_private_key(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    (RING_PROVIDER.key_utils.ed_pub_components_from_private_key)(pkcs8, curve)
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    (RING_PROVIDER.key_utils.compute_digest)(data, hash)
}
