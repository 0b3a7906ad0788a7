//! [`Key`]: a verification key bound to the algorithms it may verify, its constructors, and the
//! rules for a `kid`.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::crypto::PreparedVerifier;

use crate::error::ConfigError;

/// The longest `kid` accepted, in bytes, in a configuration and in a token.
pub(crate) const MAX_KID_LEN: usize = 256;

/// A verification key bound to the algorithms it may verify.
///
/// A key is made for one algorithm and can be widened with [`Key::allow_algorithm`] to others
/// of the same family (an RSA key for both `RS256` and `PS256`, say). A key can never verify an
/// algorithm of another family: an RSA public key is never used as an HMAC secret
/// (RFC 8725 §3.1).
///
/// The constructors check what can be checked before the first request: an HMAC secret at least
/// as long as its hash (RFC 7518 §3.2), an RSA modulus of at least 2048 bits (RFC 7518 §3.3), an
/// EC point on the curve of the algorithm.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, Key};
///
/// let key = Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?.with_kid("2024-06");
/// assert_eq!(key.kid(), Some("2024-06"));
/// assert_eq!(key.algorithms(), &[Algorithm::HS256]);
///
/// // Too short for HS256:
/// assert!(Key::hmac(Algorithm::HS256, b"secret").is_err());
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Key {
    pub(super) kid: Option<Arc<str>>,
    pub(super) algorithms: Vec<Algorithm>,
    decoding: DecodingKey,
    /// One verifier per algorithm, made when the layer is built.
    prepared: Vec<(Algorithm, Arc<PreparedVerifier>)>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn family_name(family: AlgorithmFamily) -> &'static str {
    match family {
        AlgorithmFamily::Hmac => "an hmac",
        AlgorithmFamily::Rsa => "an rsa",
        AlgorithmFamily::Ec => "an ec",
        AlgorithmFamily::Ed => "an eddsa",
    }
}

fn check_family(algorithm: Algorithm, family: AlgorithmFamily) -> Result<(), ConfigError> {
    if algorithm.family() == family {
        Ok(())
    } else {
        Err(ConfigError::AlgorithmMismatch {
            algorithm,
            key: family_name(family),
        })
    }
}

fn invalid(err: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::InvalidKey {
        reason: err.to_string(),
    }
}

impl Key {
    fn new(algorithm: Algorithm, decoding: DecodingKey) -> Result<Self, ConfigError> {
        check_family(algorithm, decoding.family())?;
        match decoding.family() {
            AlgorithmFamily::Rsa => {
                let bits = crate::crypto::rsa_modulus_bits(&decoding).ok_or_else(|| {
                    ConfigError::InvalidKey {
                        reason: "not an rsa public key".to_owned(),
                    }
                })?;
                if bits < crate::crypto::RSA_MIN_BITS {
                    return Err(ConfigError::WeakRsaKey { bits });
                }
                // A modulus made by the flawed generator of CVE-2017-15361 can be factored.
                let n = crate::crypto::rsa_modulus(&decoding).unwrap_or_default();
                if crate::crypto::has_roca_fingerprint(&n) {
                    return Err(ConfigError::RocaRsaKey);
                }
                // ring verifies with odd exponents from 3 to 2^33 - 1 only; refuse others here.
                let e = crate::crypto::rsa_exponent(&decoding).unwrap_or_default();
                let odd = e.last().is_some_and(|last| last % 2 == 1);
                let at_least_3 = e.len() > 1 || e.first().is_some_and(|first| *first >= 3);
                let bits = crate::crypto::bit_length(&e).unwrap_or(0);
                if !odd || !at_least_3 || bits > 33 {
                    return Err(ConfigError::InvalidKey {
                        reason: "the rsa exponent is not an odd number from 3 to 2^33 - 1"
                            .to_owned(),
                    });
                }
            }
            AlgorithmFamily::Ec => {
                let point = decoding.try_get_as_bytes().map_err(invalid)?;
                let expected = match algorithm {
                    Algorithm::ES256 => 65,
                    _ => 97,
                };
                if point.len() != expected
                    || point.first() != Some(&4)
                    || !crate::crypto::ec_point_is_valid(algorithm, point)
                {
                    return Err(ConfigError::InvalidKey {
                        reason: format!("not an uncompressed point on the curve of {algorithm:?}"),
                    });
                }
            }
            AlgorithmFamily::Ed => {
                let raw = decoding.try_get_as_bytes().map_err(invalid)?;
                if raw.len() != 32 {
                    return Err(ConfigError::InvalidKey {
                        reason: "not a 32-byte ed25519 public key".to_owned(),
                    });
                }
            }
            AlgorithmFamily::Hmac => {}
        }
        Ok(Self {
            kid: None,
            algorithms: vec![algorithm],
            decoding,
            prepared: Vec::new(),
        })
    }

    /// An HMAC secret for `HS256`, `HS384` or `HS512`.
    ///
    /// # Errors
    ///
    /// If the algorithm is not an HMAC one, or the secret is shorter than the hash: 32 bytes for
    /// `HS256`, 48 for `HS384`, 64 for `HS512`.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Hmac)?;
        let secret = secret.as_ref();
        let min = hmac_min_len(algorithm);
        if secret.len() < min {
            return Err(ConfigError::WeakHmacSecret {
                algorithm,
                len: secret.len(),
                min,
            });
        }
        Self::new(
            algorithm,
            DecodingKey::from_secret(secret).map_err(invalid)?,
        )
    }

    /// An RSA public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), for `RS*` or `PS*`.
    ///
    /// # Errors
    ///
    /// If the PEM is not an RSA public key, the modulus is below 2048 bits, or the algorithm is
    /// not an RSA one.
    pub fn rsa_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Rsa)?;
        Self::new(
            algorithm,
            DecodingKey::from_rsa_pem(pem.as_ref()).map_err(invalid)?,
        )
    }

    /// An RSA public key as PKCS#1 `RSAPublicKey` DER, for `RS*` or `PS*`.
    ///
    /// # Errors
    ///
    /// As [`Key::rsa_pem`].
    pub fn rsa_der(algorithm: Algorithm, der: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Rsa)?;
        Self::new(algorithm, DecodingKey::from_rsa_der(der.as_ref()))
    }

    /// An RSA public key from its base64url modulus and exponent, as in a JWK.
    ///
    /// # Errors
    ///
    /// As [`Key::rsa_pem`].
    pub fn rsa_components(algorithm: Algorithm, n: &str, e: &str) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Rsa)?;
        Self::new(
            algorithm,
            DecodingKey::from_rsa_components(n, e).map_err(invalid)?,
        )
    }

    /// An EC public key in PEM (`PUBLIC KEY`), for `ES256` (P-256) or `ES384` (P-384).
    ///
    /// # Errors
    ///
    /// If the PEM is not an EC public key on the algorithm's curve.
    pub fn ec_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Ec)?;
        Self::new(
            algorithm,
            DecodingKey::from_ec_pem(pem.as_ref()).map_err(invalid)?,
        )
    }

    /// An EC public key as the bytes of an uncompressed SEC1 point, `0x04 || x || y` (SEC 1
    /// §2.3.3): 65 bytes for `ES256` (P-256), 97 bytes for `ES384` (P-384). Not DER or PEM (for
    /// PEM, see [`ec_pem`](Self::ec_pem)), and not a compressed point.
    ///
    /// # Errors
    ///
    /// If the bytes are not an uncompressed point on the algorithm's curve.
    pub fn ec_point(algorithm: Algorithm, point: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Ec)?;
        Self::new(algorithm, DecodingKey::from_ec_der(point.as_ref()))
    }

    /// An Ed25519 public key in PEM (`PUBLIC KEY`), for `EdDSA`.
    ///
    /// # Errors
    ///
    /// If the PEM is not an Ed25519 public key.
    pub fn ed_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::new(
            Algorithm::EdDSA,
            DecodingKey::from_ed_pem(pem.as_ref()).map_err(invalid)?,
        )
    }

    /// An Ed25519 public key as its 32 raw bytes (RFC 8032 §5.1.5: the encoded point, as in
    /// the base64url-decoded `x` of an OKP JWK), for `EdDSA`. Not DER or PEM (for PEM, see
    /// [`ed_pem`](Self::ed_pem)).
    ///
    /// # Errors
    ///
    /// If the key is not 32 bytes.
    pub fn ed25519_raw(raw: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::new(Algorithm::EdDSA, DecodingKey::from_ed_der(raw.as_ref()))
    }

    /// A key from a jsonwebtoken [`DecodingKey`] made elsewhere, bound to `algorithm`.
    ///
    /// # Errors
    ///
    /// If the key's family does not match the algorithm, or the key is weak.
    pub fn from_decoding_key(algorithm: Algorithm, key: DecodingKey) -> Result<Self, ConfigError> {
        if let (AlgorithmFamily::Hmac, Ok(secret)) = (key.family(), key.try_get_as_bytes()) {
            return Self::hmac(algorithm, secret);
        }
        Self::new(algorithm, key)
    }

    /// Names the key: tokens whose header carries this `kid` are verified with it.
    ///
    /// The `kid` is checked when the layer is built: 1 to 256 bytes of printable ASCII.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// Lets the key verify one more algorithm of its family.
    ///
    /// # Errors
    ///
    /// If the algorithm belongs to another family, or an HMAC secret is too short for it.
    pub fn allow_algorithm(mut self, algorithm: Algorithm) -> Result<Self, ConfigError> {
        check_family(algorithm, self.decoding.family())?;
        if let AlgorithmFamily::Hmac = algorithm.family() {
            let len = self.decoding.try_get_as_bytes().map_err(invalid)?.len();
            let min = hmac_min_len(algorithm);
            if len < min {
                return Err(ConfigError::WeakHmacSecret {
                    algorithm,
                    len,
                    min,
                });
            }
        }
        if algorithm.family() == AlgorithmFamily::Ec && !self.algorithms.contains(&algorithm) {
            // A P-256 point can't verify ES384 and the other way round.
            return Err(ConfigError::AlgorithmMismatch {
                algorithm,
                key: "an ec key of another curve",
            });
        }
        if !self.algorithms.contains(&algorithm) {
            self.algorithms.push(algorithm);
        }
        Ok(self)
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms the key may verify.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Makes a verifier for every algorithm of the key with `provider`, so that a key the
    /// provider refuses fails the build, not a request.
    pub(crate) fn prepare(&mut self, provider: &'static CryptoProvider) -> Result<(), ConfigError> {
        let mut prepared = Vec::with_capacity(self.algorithms.len());
        for algorithm in &self.algorithms {
            let verifier =
                PreparedVerifier::new(provider, *algorithm, &self.decoding).map_err(|err| {
                    ConfigError::InvalidKey {
                        reason: format!("the crypto provider refused it for {algorithm:?}: {err}"),
                    }
                })?;
            prepared.push((*algorithm, Arc::new(verifier)));
        }
        self.prepared = prepared;
        Ok(())
    }

    /// `true` when `other` is the same key: same `kid`, algorithms and key material.
    #[cfg(feature = "jwks")]
    pub(crate) fn same_as(&self, other: &Key) -> bool {
        use jsonwebtoken::DecodingKeyKind::{RsaModulusExponent, SecretOrDer};
        let material = match (self.decoding.kind(), other.decoding.kind()) {
            (SecretOrDer(a), SecretOrDer(b)) => a == b,
            (RsaModulusExponent { n, e }, RsaModulusExponent { n: n2, e: e2 }) => {
                n == n2 && e == e2
            }
            _ => false,
        };
        material
            && self.kid == other.kid
            && self.algorithms == other.algorithms
            && self.decoding.family() == other.decoding.family()
    }

    /// The verifier for `algorithm`, once the key is prepared.
    pub(crate) fn verifier(&self, algorithm: Algorithm) -> Option<&PreparedVerifier> {
        self.prepared
            .iter()
            .find(|(alg, _)| *alg == algorithm)
            .map(|(_, verifier)| &**verifier)
    }

    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }
}

fn hmac_min_len(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// `true` for a `kid` the crate accepts: 1 to 256 bytes of printable ASCII (space included).
pub(crate) fn kid_is_valid(kid: &str) -> bool {
    !kid.is_empty() && kid.len() <= MAX_KID_LEN && kid.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_secret_length_is_checked_per_algorithm() {
        assert!(Key::hmac(Algorithm::HS256, SECRET).is_ok());
        assert_eq!(
            Key::hmac(Algorithm::HS256, &SECRET[..31]).unwrap_err(),
            ConfigError::WeakHmacSecret {
                algorithm: Algorithm::HS256,
                len: 31,
                min: 32
            }
        );
        assert!(matches!(
            Key::hmac(Algorithm::HS384, SECRET),
            Err(ConfigError::WeakHmacSecret { min: 48, .. })
        ));
        assert!(matches!(
            Key::hmac(Algorithm::HS256, SECRET)
                .unwrap()
                .allow_algorithm(Algorithm::HS512),
            Err(ConfigError::WeakHmacSecret { min: 64, .. })
        ));
    }

    #[test]
    fn keys_never_cross_families() {
        assert!(matches!(
            Key::hmac(Algorithm::RS256, SECRET),
            Err(ConfigError::AlgorithmMismatch { .. })
        ));
        assert!(matches!(
            Key::hmac(Algorithm::HS256, SECRET)
                .unwrap()
                .allow_algorithm(Algorithm::RS256),
            Err(ConfigError::AlgorithmMismatch { .. })
        ));
        assert!(matches!(
            Key::from_decoding_key(Algorithm::RS256, DecodingKey::from_secret(SECRET).unwrap()),
            Err(ConfigError::AlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn debug_redacts_the_key() {
        let key = Key::hmac(Algorithm::HS256, SECRET).unwrap();
        let printed = format!("{key:?}");
        assert!(printed.contains("redacted"));
        assert!(!printed.contains("0123456789"));
    }

    #[test]
    fn broken_public_keys_are_refused_when_loaded() {
        let _ = crate::crypto::RING_PROVIDER.install_default();
        let ec =
            DecodingKey::from_ec_pem(include_bytes!("../../tests/keys/ec256_public.pem")).unwrap();
        let mut point = ec.try_get_as_bytes().unwrap().to_vec();
        assert!(Key::ec_point(Algorithm::ES256, &point).is_ok());
        // Off the curve: the last byte of y changed.
        if let Some(last) = point.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            Key::ec_point(Algorithm::ES256, &point),
            Err(ConfigError::InvalidKey { .. })
        ));
        // The right length for P-256 but asked for ES384.
        assert!(Key::ec_point(Algorithm::ES384, ec.try_get_as_bytes().unwrap()).is_err());

        // Ed25519: the 32 raw bytes, nothing else.
        let ed = DecodingKey::from_ed_pem(include_bytes!("../../tests/keys/ed25519_public.pem"))
            .unwrap();
        let raw = ed.try_get_as_bytes().unwrap();
        assert_eq!(raw.len(), 32);
        assert!(Key::ed25519_raw(raw).is_ok());
        assert!(Key::ed25519_raw(&raw[..31]).is_err());
        let mut longer = raw.to_vec();
        longer.push(0);
        assert!(Key::ed25519_raw(&longer).is_err());

        let rsa =
            DecodingKey::from_rsa_pem(include_bytes!("../../tests/keys/rsa_public.pem")).unwrap();
        let jsonwebtoken::DecodingKeyKind::SecretOrDer(der) = rsa.kind() else {
            panic!("der expected");
        };
        assert!(Key::rsa_der(Algorithm::RS256, der).is_ok());
        let (n, _) = crate::crypto::rsa_components_for_tests(der);
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        // 2^33 + 1 is one bit too long for ring.
        for bad_e in [&[1u8][..], &[2], &[1, 0, 0], &[2, 0, 0, 0, 1]] {
            assert!(
                Key::rsa_components(Algorithm::RS256, &b64(&n), &b64(bad_e)).is_err(),
                "{bad_e:?}"
            );
        }
        assert!(Key::rsa_components(Algorithm::RS256, &b64(&n), &b64(&[1, 0, 1])).is_ok());
        assert!(Key::rsa_components(Algorithm::RS256, &b64(&n), &b64(&[1, 0, 0, 0, 1])).is_ok());
    }
}
