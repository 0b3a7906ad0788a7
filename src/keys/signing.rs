//! [`SigningKey`]: a private key or HMAC secret that signs tokens, bound to one algorithm, and
//! [`SigningKeys`]: the active signing key and the older ones still published for verification.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::EllipticCurve;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use serde_json::{Map, Value};

use crate::crypto::{
    algorithm_name, bit_length, pkcs1_modulus_exponent, Pkcs1, RING_PROVIDER, RSA_MAX_BITS,
    RSA_MIN_BITS,
};
use crate::error::ConfigError;
use crate::keys::key::{kid_is_valid, Key};

/// The public half of a signing key, for its verification [`Key`] and its JWK.
enum Public {
    /// A shared secret: nothing may be published.
    Hmac,
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The affine coordinates, each the width of the curve.
    Ec {
        crv: &'static str,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    /// The 32-byte public key.
    Ed25519 { x: Vec<u8> },
}

/// A key that signs tokens: a private key or an HMAC secret, bound to exactly one algorithm
/// (RFC 8725 §3.1), with an optional `kid` that goes into the header of every token it signs.
///
/// [`verification_key`](SigningKey::verification_key) gives the matching verification [`Key`]
/// (the public key, or the same secret for HMAC) with the same algorithm and `kid`, so that one
/// configuration serves the side that issues tokens and the layer that checks them.
///
/// It signs through the crate's own [`RING_PROVIDER`](crate::crypto::RING_PROVIDER) by default,
/// or through the provider given to [`with_crypto_provider`](SigningKey::with_crypto_provider),
/// by calling that provider's signer factory directly: jsonwebtoken's process-wide provider is
/// neither used nor installed.
///
/// Its `Debug` output shows the algorithm and the `kid`, never the key.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtAuthLayer, SigningKey};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// let signing = SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?
///     .with_kid("2026-11");
/// // The layer checks what the signing key signs.
/// let auth = JwtAuthLayer::<Claims>::builder()
///     .key(signing.verification_key())
///     .build()?;
/// # let _ = auth;
/// assert!(!format!("{signing:?}").contains("secret"));
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    /// The algorithm's JWS name.
    alg_name: &'static str,
    kid: Option<Arc<str>>,
    encoding: Arc<EncodingKey>,
    public: Arc<Public>,
    /// The verification key, without a `kid` (added by `verification_key`).
    verification: Key,
    provider: &'static CryptoProvider,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A signature could not be made (the provider refused the key, or its signer failed).
#[derive(Debug)]
pub(crate) struct SignFailed;

fn invalid_key(reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidKey {
        reason: reason.into(),
    }
}

fn check_family(algorithm: Algorithm, family: AlgorithmFamily) -> Result<(), ConfigError> {
    if algorithm.family() == family {
        return Ok(());
    }
    Err(ConfigError::AlgorithmMismatch {
        algorithm,
        key: match family {
            AlgorithmFamily::Hmac => "an hmac",
            AlgorithmFamily::Rsa => "an rsa",
            AlgorithmFamily::Ec => "an ec",
            AlgorithmFamily::Ed => "an eddsa",
        },
    })
}

impl SigningKey {
    /// Checks that `provider` makes a signer of `encoding` for `algorithm`, then assembles the
    /// key.
    fn new(
        algorithm: Algorithm,
        encoding: EncodingKey,
        public: Public,
        verification: Key,
        provider: &'static CryptoProvider,
    ) -> Result<Self, ConfigError> {
        let alg_name = algorithm_name(algorithm)
            .ok_or_else(|| invalid_key(format!("{algorithm:?} is not supported")))?;
        check_signer(provider, algorithm, &encoding)?;
        Ok(Self {
            algorithm,
            alg_name,
            kid: None,
            encoding: Arc::new(encoding),
            public: Arc::new(public),
            verification,
            provider,
        })
    }

    /// An HMAC secret for `HS256`, `HS384` or `HS512`.
    ///
    /// # Errors
    ///
    /// If the algorithm is not an HMAC one, or the secret is shorter than the hash (32 bytes for
    /// `HS256`, 48 for `HS384`, 64 for `HS512`), as [`Key::hmac`].
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        let verification = Key::hmac(algorithm, secret)?;
        let encoding =
            EncodingKey::from_secret(secret).map_err(|err| invalid_key(err.to_string()))?;
        Self::new(
            algorithm,
            encoding,
            Public::Hmac,
            verification,
            &RING_PROVIDER,
        )
    }

    /// An RSA private key in PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), for
    /// `RS256`, `RS384`, `RS512`, `PS256`, `PS384` or `PS512`.
    ///
    /// The modulus may have 2048 to 8192 bits, but ring, which the key is checked with when it
    /// is made (and signs with by default), signs with keys of at most 4096 bits.
    ///
    /// # Errors
    ///
    /// If the algorithm is not an RSA one, the PEM is not an RSA private key, the modulus is
    /// shorter than 2048 bits ([`ConfigError::WeakRsaKey`]) or longer than ring takes, or the
    /// crypto provider refuses the key.
    pub fn rsa_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Rsa)?;
        let encoding = EncodingKey::from_rsa_pem(pem.as_ref())
            .map_err(|_| invalid_key("not an rsa private key in pem"))?;
        let (n, e) = pkcs1_modulus_exponent(encoding.as_bytes(), Pkcs1::PrivateKey)
            .ok_or_else(|| invalid_key("not a pkcs#1 rsa private key"))?;
        // A zero modulus has no bits: too weak.
        let bits = bit_length(&n).unwrap_or(0);
        if bits < RSA_MIN_BITS {
            return Err(ConfigError::WeakRsaKey { bits });
        }
        if bits > RSA_MAX_BITS {
            return Err(invalid_key("the rsa modulus is longer than 8192 bits"));
        }
        let verification =
            Key::from_decoding_key(algorithm, DecodingKey::from_rsa_raw_components(&n, &e))?;
        Self::new(
            algorithm,
            encoding,
            Public::Rsa { n, e },
            verification,
            &RING_PROVIDER,
        )
    }

    /// An EC private key in PKCS#8 PEM (`PRIVATE KEY`, as `openssl genpkey` writes it), for
    /// `ES256` (P-256) or `ES384` (P-384). A SEC1 `EC PRIVATE KEY` file converts with
    /// `openssl pkcs8 -topk8 -nocrypt`.
    ///
    /// # Errors
    ///
    /// If the algorithm is not `ES256` or `ES384`, or the PEM is not a PKCS#8 private key on the
    /// algorithm's curve.
    pub fn ec_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        check_family(algorithm, AlgorithmFamily::Ec)?;
        let crv = match algorithm {
            Algorithm::ES256 => "P-256",
            Algorithm::ES384 => "P-384",
            _ => {
                return Err(ConfigError::AlgorithmMismatch {
                    algorithm,
                    key: "an ec",
                })
            }
        };
        let encoding = EncodingKey::from_ec_pem(pem.as_ref())
            .map_err(|_| invalid_key("not a pkcs#8 ec private key in pem"))?;
        let (_curve, x, y) = (RING_PROVIDER.key_utils.ec_pub_components_from_private_key)(
            encoding.as_bytes(),
            algorithm,
        )
        .map_err(|_| {
            invalid_key(format!(
                "not a pkcs#8 private key on the curve of {algorithm:?} ({crv})"
            ))
        })?;
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let verification = Key::from_decoding_key(algorithm, DecodingKey::from_ec_der(&point))?;
        Self::new(
            algorithm,
            encoding,
            Public::Ec { crv, x, y },
            verification,
            &RING_PROVIDER,
        )
    }

    /// An Ed25519 private key in PKCS#8 PEM (`PRIVATE KEY`), for `EdDSA`.
    ///
    /// # Errors
    ///
    /// If the PEM is not an Ed25519 private key.
    pub fn ed25519_pem(pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let algorithm = Algorithm::EdDSA;
        let encoding = EncodingKey::from_ed_pem(pem.as_ref())
            .map_err(|_| invalid_key("not an ed25519 private key in pem"))?;
        let x = (RING_PROVIDER.key_utils.ed_pub_components_from_private_key)(
            encoding.as_bytes(),
            &EllipticCurve::Ed25519,
        )
        .map_err(|_| invalid_key("not an ed25519 private key in pem"))?;
        let verification = Key::from_decoding_key(algorithm, DecodingKey::from_ed_der(&x))?;
        Self::new(
            algorithm,
            encoding,
            Public::Ed25519 { x },
            verification,
            &RING_PROVIDER,
        )
    }

    /// Names the key: its `kid` goes into the header of every token it signs, onto its
    /// verification key and into its JWK.
    ///
    /// The `kid` is checked where the key is used (by [`SigningKeys`] and by the layer): 1 to
    /// 256 bytes of printable ASCII.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// Signs through `provider` instead of [`RING_PROVIDER`](crate::crypto::RING_PROVIDER), for
    /// example `&tower_jwt_auth::crypto::AWS_LC_PROVIDER` (feature `aws-lc-rs`). The provider's
    /// signer factory is called directly; nothing is installed process-wide.
    ///
    /// # Errors
    ///
    /// If the provider refuses the key for its algorithm.
    pub fn with_crypto_provider(
        mut self,
        provider: &'static CryptoProvider,
    ) -> Result<Self, ConfigError> {
        check_signer(provider, self.algorithm, &self.encoding)?;
        self.provider = provider;
        Ok(self)
    }

    /// The algorithm the key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `true` for an HMAC secret, which can never be published.
    pub fn is_symmetric(&self) -> bool {
        matches!(*self.public, Public::Hmac)
    }

    /// The verification [`Key`] that checks this key's signatures: the public key (or, for
    /// HMAC, the same secret), bound to the same algorithm and with the same `kid`. Give it to
    /// the layer with `JwtAuthBuilder::key`.
    pub fn verification_key(&self) -> Key {
        let key = self.verification.clone();
        match &self.kid {
            Some(kid) => key.with_kid(kid.to_string()),
            None => key,
        }
    }

    /// The public key as a JWK (RFC 7517): `kty`, `crv`/`x`/`y` or `n`/`e`, `alg`, `use: sig`
    /// and the `kid` if the key has one. `None` for an HMAC secret, which is never published.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// # let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/ed25519_private.pem")).unwrap();
    /// let signing = SigningKey::ed25519_pem(pem)?.with_kid("ed-1");
    /// let jwk = signing.public_jwk().expect("an asymmetric key");
    /// assert_eq!(jwk["kty"], "OKP");
    /// assert_eq!(jwk["crv"], "Ed25519");
    /// assert_eq!(jwk["kid"], "ed-1");
    /// assert!(jwk.get("d").is_none());
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn public_jwk(&self) -> Option<Value> {
        let b64 = |bytes: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(bytes));
        let mut jwk = Map::new();
        match &*self.public {
            Public::Hmac => return None,
            Public::Rsa { n, e } => {
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert("n".into(), b64(n));
                jwk.insert("e".into(), b64(e));
            }
            Public::Ec { crv, x, y } => {
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), (*crv).into());
                jwk.insert("x".into(), b64(x));
                jwk.insert("y".into(), b64(y));
            }
            Public::Ed25519 { x } => {
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert("x".into(), b64(x));
            }
        }
        jwk.insert("alg".into(), self.alg_name.into());
        jwk.insert("use".into(), "sig".into());
        if let Some(kid) = &self.kid {
            jwk.insert("kid".into(), Value::String(kid.to_string()));
        }
        Some(Value::Object(jwk))
    }

    /// The algorithm's JWS name, for the `alg` header parameter.
    pub(crate) fn alg_name(&self) -> &'static str {
        self.alg_name
    }

    /// Signs `message` with the key's provider.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignFailed> {
        let signer = (self.provider.signer_factory)(&self.algorithm, &self.encoding)
            .map_err(|_| SignFailed)?;
        if signer.algorithm() != self.algorithm {
            return Err(SignFailed);
        }
        signer.try_sign(message).map_err(|_| SignFailed)
    }
}

/// Asks `provider` for a signer once, so that a key it refuses fails when it is configured.
fn check_signer(
    provider: &'static CryptoProvider,
    algorithm: Algorithm,
    encoding: &EncodingKey,
) -> Result<(), ConfigError> {
    match (provider.signer_factory)(&algorithm, encoding) {
        Ok(signer) if signer.algorithm() == algorithm => Ok(()),
        Ok(_) => Err(invalid_key(format!(
            "the crypto provider made a signer of another algorithm than {algorithm:?}"
        ))),
        Err(err) => Err(invalid_key(format!(
            "the crypto provider refused it for {algorithm:?}: {err}"
        ))),
    }
}

/// The keys an issuer signs with: one active key, which signs every new token, and older keys
/// that sign nothing any more but stay published for verification, so that tokens they signed
/// keep verifying until they expire (key rotation with an overlap).
///
/// A set of one key needs no `kid`. With several, every key needs a `kid` of its own, since the
/// layer picks the key by the token's `kid`.
///
/// [`verification_keys`](SigningKeys::verification_keys) gives the keys for a layer that trusts
/// this set, and [`jwks_document`](SigningKeys::jwks_document) a JWK set of the public keys for
/// services that verify without sharing the configuration. An HMAC secret is never published:
/// HMAC keys are left out of the JWK set, so a set of HMAC keys only gives `{"keys":[]}`.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtAuthLayer, SigningKey, SigningKeys};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// let old = SigningKey::hmac(Algorithm::HS256, b"the secret of november 2026 !!!!")?.with_kid("2026-11");
/// let new = SigningKey::hmac(Algorithm::HS256, b"the secret of december 2026 !!!!")?.with_kid("2026-12");
/// // `new` signs from now on; tokens `old` signed keep verifying while it is published.
/// let keys = SigningKeys::new(new).verification_only_key(old)?;
/// let auth = JwtAuthLayer::<Claims>::builder()
///     .keys(keys.verification_keys())
///     .build()?;
/// # let _ = auth;
/// assert_eq!(keys.active().kid(), Some("2026-12"));
/// // HMAC secrets are never published.
/// assert_eq!(keys.jwks_document(), r#"{"keys":[]}"#);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SigningKeys {
    active: SigningKey,
    /// The verification-only keys, in the order they were added.
    others: Vec<SigningKey>,
}

impl From<SigningKey> for SigningKeys {
    fn from(active: SigningKey) -> Self {
        Self::new(active)
    }
}

impl SigningKeys {
    /// A set whose only key, `active`, signs every token.
    pub fn new(active: SigningKey) -> Self {
        Self {
            active,
            others: Vec::new(),
        }
    }

    /// Keeps `key` published for verification without signing with it: the key that was active
    /// before a rotation, until the last token it signed has expired.
    ///
    /// # Errors
    ///
    /// If a key of the set then has no `kid`, a `kid` that is not 1 to 256 bytes of printable
    /// ASCII, or two keys share a `kid`.
    pub fn verification_only_key(mut self, key: SigningKey) -> Result<Self, ConfigError> {
        self.others.push(key);
        self.check()?;
        Ok(self)
    }

    /// Checks the `kid`s: valid where present, present and distinct when there are several keys.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let several = !self.others.is_empty();
        for (at, key) in self.iter().enumerate() {
            match key.kid() {
                Some(kid) if !kid_is_valid(kid) => return Err(ConfigError::InvalidKid),
                Some(kid) if self.iter().take(at).any(|k| k.kid() == Some(kid)) => {
                    return Err(ConfigError::DuplicateKid {
                        kid: kid.to_owned(),
                    })
                }
                Some(_) => {}
                None if several => {
                    return Err(ConfigError::InvalidIssuing {
                        setting: "signing keys",
                        problem: "each need a kid when there are several",
                    })
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Every key of the set, the active one first.
    fn iter(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(&self.active).chain(&self.others)
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The keys kept for verification only.
    pub fn verification_only_keys(&self) -> &[SigningKey] {
        &self.others
    }

    /// The verification [`Key`]s of every key of the set, the active one first: what a layer
    /// that trusts this set is given (`JwtAuthBuilder::keys`).
    pub fn verification_keys(&self) -> Vec<Key> {
        self.iter().map(SigningKey::verification_key).collect()
    }

    /// The public keys of the set as a JWK set (RFC 7517 §5), the active key first. HMAC keys
    /// are left out (a set of HMAC keys only gives an empty `keys` array).
    pub fn jwks(&self) -> Value {
        let keys = self.iter().filter_map(SigningKey::public_jwk).collect();
        let mut document = Map::new();
        document.insert("keys".into(), Value::Array(keys));
        Value::Object(document)
    }

    /// [`jwks`](SigningKeys::jwks) as compact JSON, ready to serve at
    /// `/.well-known/jwks.json`; [`Key::from_jwks`] reads it back.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, Key, SigningKey, SigningKeys};
    ///
    /// # let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/ec256_private.pem")).unwrap();
    /// let keys = SigningKeys::new(SigningKey::ec_pem(Algorithm::ES256, pem)?.with_kid("ec-1"));
    /// let document = keys.jwks_document();
    /// let published = Key::from_jwks(&document)?;
    /// assert_eq!(published[0].kid(), Some("ec-1"));
    /// assert_eq!(published[0].algorithms(), &[Algorithm::ES256]);
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn jwks_document(&self) -> String {
        self.jwks().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn pem(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap()
    }

    fn all_keys() -> Vec<SigningKey> {
        vec![
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            SigningKey::rsa_pem(Algorithm::RS256, pem("rsa_private.pem")).unwrap(),
            SigningKey::rsa_pem(Algorithm::PS384, pem("rsa_private.pem")).unwrap(),
            SigningKey::ec_pem(Algorithm::ES256, pem("ec256_private.pem")).unwrap(),
            SigningKey::ec_pem(Algorithm::ES384, pem("ec384_private.pem")).unwrap(),
            SigningKey::ed25519_pem(pem("ed25519_private.pem")).unwrap(),
        ]
    }

    #[test]
    fn each_key_signs_what_its_verification_key_verifies() {
        for signing in all_keys() {
            let alg = signing.algorithm();
            let signature = signing.sign(b"header.payload").unwrap();
            let mut key = signing.with_kid("k").verification_key();
            assert_eq!(key.kid(), Some("k"));
            assert_eq!(key.algorithms(), &[alg]);
            key.prepare(&RING_PROVIDER).unwrap();
            let verifier = key.verifier(alg).unwrap();
            assert!(verifier.verifies(b"header.payload", &signature), "{alg:?}");
            assert!(!verifier.verifies(b"header.payloaD", &signature), "{alg:?}");
        }
    }

    #[cfg(feature = "aws-lc-rs")]
    #[test]
    fn another_provider_signs_what_ring_verifies() {
        for signing in all_keys() {
            let alg = signing.algorithm();
            let signing = signing
                .with_crypto_provider(&crate::crypto::AWS_LC_PROVIDER)
                .unwrap();
            let signature = signing.sign(b"header.payload").unwrap();
            let mut key = signing.verification_key();
            key.prepare(&RING_PROVIDER).unwrap();
            assert!(
                key.verifier(alg)
                    .unwrap()
                    .verifies(b"header.payload", &signature),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn hmac_secrets_are_as_long_as_the_hash() {
        assert!(matches!(
            SigningKey::hmac(Algorithm::HS256, &SECRET[..31]),
            Err(ConfigError::WeakHmacSecret { min: 32, .. })
        ));
        assert!(matches!(
            SigningKey::hmac(Algorithm::HS512, SECRET),
            Err(ConfigError::WeakHmacSecret { min: 64, .. })
        ));
        assert!(matches!(
            SigningKey::hmac(Algorithm::RS256, SECRET),
            Err(ConfigError::AlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn keys_are_refused_for_another_family_or_curve() {
        let rsa = pem("rsa_private.pem");
        let ec256 = pem("ec256_private.pem");
        let ec384 = pem("ec384_private.pem");
        let ed = pem("ed25519_private.pem");
        assert!(matches!(
            SigningKey::rsa_pem(Algorithm::ES256, &rsa),
            Err(ConfigError::AlgorithmMismatch { .. })
        ));
        assert!(SigningKey::rsa_pem(Algorithm::RS256, &ec256).is_err());
        assert!(SigningKey::ec_pem(Algorithm::ES384, &ec256).is_err());
        assert!(SigningKey::ec_pem(Algorithm::ES256, &ec384).is_err());
        assert!(SigningKey::ec_pem(Algorithm::ES256, &rsa).is_err());
        assert!(SigningKey::ed25519_pem(&ec256).is_err());
        assert!(SigningKey::ec_pem(Algorithm::ES256, &ed).is_err());
        // Public keys and garbage are not private keys.
        assert!(SigningKey::rsa_pem(Algorithm::RS256, pem("rsa_public.pem")).is_err());
        assert!(SigningKey::ec_pem(Algorithm::ES256, pem("ec256_public.pem")).is_err());
        assert!(SigningKey::ed25519_pem(pem("ed25519_public.pem")).is_err());
        assert!(SigningKey::ed25519_pem(b"").is_err());
        assert!(SigningKey::rsa_pem(Algorithm::RS256, b"-----BEGIN PRIVATE KEY-----\n").is_err());
    }

    /// A 1024-bit RSA key made for this test only (`openssl genpkey -algorithm RSA -pkeyopt
    /// rsa_keygen_bits:1024`): too weak to sign with.
    const RSA_1024_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAKdoaQK9nMDqwiSV
vrIIp3O2hnf42157N/ZgqgNfxpAaoWHi21U0YJWkE+QcDIfyAOpVYE88I3wF9Op5
WJN7rVAayTIHp8S6yNkraSu8ikvlo9HwYCFowzPWBEGXB1p1qnoo7fXUUMqApxlQ
XomU1Ob1b4kaGLxnkioi/+JdVcrxAgMBAAECgYEAgxjWs1i9eq3c3z2NGmqAh7M2
VplBYRnpVz2XphDItGzGWJuI246q3ESjdw0oGwW/BcNaKnKT7znS9BOW89f0ffPq
+SwzN5fdRXoGeF5no/MjVI4TZH2hr/p7XkrPRbF/nurarCGQesK7w+aT0rZC5hNt
qEgOsfFTFZZcagTWCoECQQDaSHBYSjZJjmzZPqSGSGzQAFwL3pWrWSr4oqICyX26
gamcvhHPZtVQ4kNmkuwp3WwWA45v45DQ3XxdNvDG3B6ZAkEAxFWN17oyWzdiN/Lo
oqs/oW3UcLZTxzMyfqZ8QygzilbVOV3Q+74hbNSsuD6snwZNjx/cqvN3gfhVQZwg
6zP+GQJBANKmJ2y8qWkQvjBkSIeiKwgL4Mg/lHZYRaTN5cUEx4WODa3KqwtYtLEq
uVqqnKfGG8Geyv1lQeKea57VH0T5NbkCQEfZx38bdTJMonU3QEvHwBGj0AsvrplH
80LGStOI8tO902qbGtAGVNUvP8ZtqV7JP7kRQACP+TxnVUwdhy6MaIECQHQt7QYE
nh7p8xTS6+NQjeV/VJ3d/MSvX1F0HvjYROc5e2KNlTE3D/1k17MhqfjFUauckaQt
+FFinPg+2uSGLFI=
-----END PRIVATE KEY-----
";

    #[test]
    fn weak_rsa_keys_are_refused() {
        assert_eq!(
            SigningKey::rsa_pem(Algorithm::RS256, RSA_1024_PRIVATE).unwrap_err(),
            ConfigError::WeakRsaKey { bits: 1024 }
        );
        let der = EncodingKey::from_rsa_pem(pem("rsa_private.pem").as_slice()).unwrap();
        let private = |der: &[u8]| pkcs1_modulus_exponent(der, Pkcs1::PrivateKey);
        let (n, e) = private(der.as_bytes()).unwrap();
        assert_eq!((bit_length(&n), e.as_slice()), (Some(2048), &[1, 0, 1][..]));
        assert!(private(b"").is_none());
        assert!(private(&der.as_bytes()[..100]).is_none());
    }

    #[test]
    fn debug_never_prints_the_key() {
        for signing in all_keys() {
            let printed = format!("{:?}", signing.with_kid("kid-1"));
            assert!(printed.contains("redacted"), "{printed}");
            assert!(printed.contains("kid-1"), "{printed}");
            assert!(!printed.contains("0123456789"), "{printed}");
            assert!(printed.len() < 200, "{printed}");
        }
    }

    #[test]
    fn public_jwks_never_hold_a_secret_or_a_private_part() {
        for signing in all_keys() {
            let alg = signing.algorithm();
            let Some(jwk) = signing.with_kid("k").public_jwk() else {
                assert_eq!(alg, Algorithm::HS256);
                continue;
            };
            let object = jwk.as_object().unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(!object.contains_key(private), "{alg:?}: {private}");
            }
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], algorithm_name(alg).unwrap());
            assert_eq!(jwk["kid"], "k");
        }
    }

    #[test]
    fn the_jwk_set_reads_back_into_the_same_keys() {
        let keys = all_keys()
            .into_iter()
            .enumerate()
            .map(|(at, key)| key.with_kid(format!("k{at}")))
            .collect::<Vec<_>>();
        let mut set = SigningKeys::new(keys[0].clone());
        for key in &keys[1..] {
            set = set.verification_only_key(key.clone()).unwrap();
        }
        let parsed = Key::from_jwks(&set.jwks_document()).unwrap();
        // Every key but the HMAC one, in order, with its kid and algorithm.
        let expected: Vec<_> = keys[1..]
            .iter()
            .map(|k| (k.kid().map(str::to_owned), k.algorithm()))
            .collect();
        let got: Vec<_> = parsed
            .iter()
            .map(|k| (k.kid().map(str::to_owned), k.algorithms()[0]))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(set.verification_keys().len(), keys.len());
    }

    #[test]
    fn a_set_of_several_keys_needs_distinct_kids() {
        let a = SigningKey::hmac(Algorithm::HS256, SECRET).unwrap();
        let b = SigningKey::hmac(Algorithm::HS256, b"another secret of thirty-two b!!").unwrap();
        assert!(SigningKeys::new(a.clone()).check().is_ok());
        assert!(matches!(
            SigningKeys::new(a.clone()).verification_only_key(b.clone().with_kid("b")),
            Err(ConfigError::InvalidIssuing { .. })
        ));
        assert!(matches!(
            SigningKeys::new(a.clone().with_kid("x"))
                .verification_only_key(b.clone().with_kid("x")),
            Err(ConfigError::DuplicateKid { .. })
        ));
        assert!(matches!(
            SigningKeys::new(a.clone().with_kid("bad\nkid")).check(),
            Err(ConfigError::InvalidKid)
        ));
        let set = SigningKeys::new(a.with_kid("a"))
            .verification_only_key(b.with_kid("b"))
            .unwrap();
        assert_eq!(set.active().kid(), Some("a"));
        assert_eq!(set.verification_only_keys().len(), 1);
        assert_eq!(set.jwks_document(), r#"{"keys":[]}"#);
    }
}
