//! JSON Web Keys (RFC 7517) as verification keys.

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::error::ConfigError;
use crate::keys::key::{kid_is_valid, Key};

/// A key of a JWK set that was left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SkippedKey {
    /// The key's `kid`, if it had a usable one.
    pub(crate) kid: Option<String>,
    /// Why it was left out: a fixed sentence.
    pub(crate) reason: &'static str,
}

/// The usable keys of a JWK set, and the ones left out.
#[derive(Clone, Debug)]
pub(crate) struct ParsedJwks {
    pub(crate) keys: Vec<Key>,
    pub(crate) skipped: Vec<SkippedKey>,
}

/// The algorithm a JWK is bound to: its `alg`, else what its `kty`/`crv` imply (`RS256` for an
/// RSA key, `ES256`/`ES384` for P-256/P-384, `EdDSA` for Ed25519). A symmetric key needs an
/// explicit `alg`.
fn binding(jwk: &Jwk) -> Result<Algorithm, &'static str> {
    if let Some(alg) = jwk.common.key_algorithm {
        return match alg {
            KeyAlgorithm::RSA1_5 | KeyAlgorithm::RSA_OAEP | KeyAlgorithm::RSA_OAEP_256 => {
                Err("the key is meant for encryption")
            }
            other => Algorithm::try_from(other).map_err(|_| "the key's algorithm is not supported"),
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Ok(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Ok(Algorithm::ES256),
            EllipticCurve::P384 => Ok(Algorithm::ES384),
            _ => Err("the key's curve is not supported"),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => Ok(Algorithm::EdDSA),
            _ => Err("the key's curve is not supported"),
        },
        AlgorithmParameters::OctetKey(_) => Err("a symmetric key needs an alg"),
        _ => Err("the key type is not supported"),
    }
}

fn check_use(jwk: &Jwk) -> Result<(), &'static str> {
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("the key is not meant for signatures"),
    }
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.iter().any(|op| matches!(op, KeyOperations::Verify)) {
            return Err("the key's key_ops do not include verify");
        }
    }
    Ok(())
}

fn check_curve(jwk: &Jwk, algorithm: Algorithm) -> Result<(), &'static str> {
    let matches = match (&jwk.algorithm, algorithm) {
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::EllipticCurve(_), _) => false,
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        (AlgorithmParameters::OctetKeyPair(_), _) => false,
        (AlgorithmParameters::RSA(_), alg) => {
            matches!(alg.family(), jsonwebtoken::AlgorithmFamily::Rsa)
        }
        (AlgorithmParameters::OctetKey(_), alg) => {
            matches!(alg.family(), jsonwebtoken::AlgorithmFamily::Hmac)
        }
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err("the key's type or curve does not match its algorithm")
    }
}

impl Key {
    /// A key from a JWK, bound to the algorithm of its `alg`, else to the one its `kty`/`crv`
    /// imply (`RS256` for RSA, `ES256` for P-256, `ES384` for P-384, `EdDSA` for Ed25519), and
    /// named by its `kid`.
    ///
    /// # Errors
    ///
    /// If the key is meant for encryption (`use: enc`, `key_ops` without `verify`, an encryption
    /// `alg`), has an unsupported type, curve or algorithm, a type or curve that does not match
    /// its `alg`, broken parameters, or is weak (see [`Key`]).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, ConfigError> {
        from_jwk(jwk, true).map_err(|reason| ConfigError::InvalidKey {
            reason: reason.to_owned(),
        })
    }

    /// The usable keys of a JWK set document (`{"keys": [...]}`). Keys that cannot be used are
    /// left out with a warning (a `tracing` event), so that one odd key does not take the whole
    /// set down: keys meant for encryption, unsupported types or curves, broken parameters, weak
    /// keys, and every key whose `kid` appears more than once (the choice between them would be
    /// ambiguous). A set that mixes symmetric and asymmetric keys is refused whole.
    ///
    /// # Errors
    ///
    /// If the document is not a JWK set, mixes symmetric and asymmetric keys, or has no usable
    /// key.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, Key};
    ///
    /// let jwks = r#"{"keys": [
    ///     {"kty": "oct", "alg": "HS256", "kid": "a", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
    ///     {"kty": "oct", "alg": "A256GCM", "kid": "b", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}
    /// ]}"#;
    /// let keys = Key::from_jwks(jwks)?;
    /// assert_eq!(keys.len(), 1);
    /// assert_eq!(keys[0].kid(), Some("a"));
    /// assert_eq!(keys[0].algorithms(), &[Algorithm::HS256]);
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn from_jwks(document: &str) -> Result<Vec<Self>, ConfigError> {
        let parsed =
            parse_jwks(document.as_bytes(), true).map_err(|reason| ConfigError::InvalidKey {
                reason: reason.to_owned(),
            })?;
        log_skipped(&parsed.skipped);
        if parsed.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(parsed.keys)
    }
}

impl Key {
    /// The usable keys of a JWK set document read from a file; see [`Key::from_jwks`].
    ///
    /// # Errors
    ///
    /// If the file cannot be read, or as [`Key::from_jwks`].
    pub fn from_jwks_file(path: impl AsRef<std::path::Path>) -> Result<Vec<Self>, ConfigError> {
        let document =
            std::fs::read_to_string(path.as_ref()).map_err(|err| ConfigError::InvalidKey {
                reason: format!("cannot read {}: {err}", path.as_ref().display()),
            })?;
        Self::from_jwks(&document)
    }
}

pub(crate) fn log_skipped(skipped: &[SkippedKey]) {
    for _key in skipped {
        #[cfg(feature = "tracing")]
        tracing::warn!(kid = ?_key.kid, reason = _key.reason, "jwk left out of the key set");
    }
}

fn from_jwk(jwk: &Jwk, allow_symmetric: bool) -> Result<Key, &'static str> {
    check_use(jwk)?;
    let algorithm = binding(jwk)?;
    check_curve(jwk, algorithm)?;
    if !allow_symmetric && matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return Err("symmetric keys are not accepted from a remote key set");
    }
    let decoding = DecodingKey::from_jwk(jwk).map_err(|_| "the key's parameters are broken")?;
    let key = Key::from_decoding_key(algorithm, decoding).map_err(|err| match err {
        ConfigError::WeakHmacSecret { .. } => "the symmetric key is shorter than its hash",
        ConfigError::WeakRsaKey { .. } => "the rsa key is shorter than 2048 bits",
        ConfigError::RocaRsaKey => "the rsa key has the ROCA fingerprint (CVE-2017-15361)",
        _ => "the key's parameters are broken",
    })?;
    match &jwk.common.key_id {
        Some(kid) if kid_is_valid(kid) => Ok(key.with_kid(kid.clone())),
        Some(_) => Err("the key's kid is not acceptable"),
        None => Ok(key),
    }
}

/// Parses a JWK set document, leaving out the keys that cannot be used.
pub(crate) fn parse_jwks(
    document: &[u8],
    allow_symmetric: bool,
) -> Result<ParsedJwks, &'static str> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    // serde reads a struct from a JSON array too (`[[...]]` would pass for `{"keys": [...]}`):
    // a JWK set is an object (RFC 7517 §5).
    let first = document
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err("the document is not a JWK set");
    }
    let document: Document =
        serde_json::from_slice(document).map_err(|_| "the document is not a JWK set")?;
    // Every `kid` of the document, usable key or not: a shared one is ambiguous.
    let mut kids: Vec<&str> = document
        .keys
        .iter()
        .filter_map(|value| value.get("kid").and_then(|kid| kid.as_str()))
        .collect();
    kids.sort_unstable();
    let shared: Vec<String> = kids
        .windows(2)
        .filter(|pair| pair.first() == pair.get(1))
        .filter_map(|pair| pair.first().map(|kid| (*kid).to_owned()))
        .collect();
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    let mut symmetric = false;
    let mut asymmetric = false;
    for value in document.keys {
        let kid = value
            .get("kid")
            .and_then(|kid| kid.as_str())
            .filter(|kid| kid_is_valid(kid))
            .map(str::to_owned);
        let jwk: Jwk = match serde_json::from_value(value) {
            Ok(jwk) => jwk,
            Err(_) => {
                skipped.push(SkippedKey {
                    kid,
                    reason: "the key is not a valid JWK",
                });
                continue;
            }
        };
        match from_jwk(&jwk, allow_symmetric) {
            Ok(key) => {
                if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
                    symmetric = true;
                } else {
                    asymmetric = true;
                }
                keys.push(key);
            }
            Err(reason) => skipped.push(SkippedKey { kid, reason }),
        }
    }
    if symmetric && asymmetric {
        return Err("the JWK set mixes symmetric and asymmetric keys");
    }
    // Every key whose kid is shared is ambiguous: leave them all out.
    let mut kept = Vec::with_capacity(keys.len());
    for key in &keys {
        let is_shared = key.kid().is_some_and(|kid| shared.iter().any(|s| s == kid));
        if is_shared {
            skipped.push(SkippedKey {
                kid: key.kid().map(str::to_owned),
                reason: "another key of the set has the same kid",
            });
        } else {
            kept.push(key.clone());
        }
    }
    Ok(ParsedJwks {
        keys: kept,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const K32: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";

    fn reasons(document: &str) -> Vec<&'static str> {
        parse_jwks(document.as_bytes(), true)
            .unwrap()
            .skipped
            .iter()
            .map(|s| s.reason)
            .collect()
    }

    #[test]
    fn odd_keys_are_left_out_not_fatal() {
        let document = format!(
            r#"{{"keys": [
                {{"kty": "oct", "alg": "HS256", "kid": "good", "k": "{K32}"}},
                {{"kty": "oct", "alg": "HS256", "kid": "enc", "use": "enc", "k": "{K32}"}},
                {{"kty": "oct", "alg": "HS256", "kid": "ops", "key_ops": ["sign"], "k": "{K32}"}},
                {{"kty": "oct", "kid": "noalg", "k": "{K32}"}},
                {{"kty": "oct", "alg": "HS256", "kid": "short", "k": "c2hvcnQ"}},
                {{"kty": "oct", "alg": "A256GCM", "kid": "aes", "k": "{K32}"}},
                {{"kty": "XYZ", "kid": "weird"}},
                {{"kty": "oct", "alg": "HS256", "kid": 5, "k": "{K32}"}}
            ]}}"#
        );
        let parsed = parse_jwks(document.as_bytes(), true).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert_eq!(parsed.keys[0].kid(), Some("good"));
        assert_eq!(parsed.skipped.len(), 7);
        assert_eq!(
            reasons(&document),
            [
                "the key is not meant for signatures",
                "the key's key_ops do not include verify",
                "a symmetric key needs an alg",
                "the symmetric key is shorter than its hash",
                "the key's algorithm is not supported",
                "the key type is not supported",
                "the key is not a valid JWK",
            ]
        );
    }

    #[test]
    fn jwks_files_are_read() {
        let path = std::env::temp_dir().join(format!("tower-jwt-auth-{}.jwks", std::process::id()));
        std::fs::write(
            &path,
            format!(r#"{{"keys": [{{"kty": "oct", "alg": "HS256", "kid": "f", "k": "{K32}"}}]}}"#),
        )
        .unwrap();
        let keys = Key::from_jwks_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(keys[0].kid(), Some("f"));
        assert!(Key::from_jwks_file("/nonexistent/keys.json").is_err());
    }

    #[test]
    fn duplicate_kids_are_all_left_out() {
        let document = format!(
            r#"{{"keys": [
                {{"kty": "oct", "alg": "HS256", "kid": "a", "k": "{K32}"}},
                {{"kty": "oct", "alg": "HS256", "kid": "a", "k": "{K32}AA"}},
                {{"kty": "oct", "alg": "HS256", "kid": "b", "k": "{K32}"}}
            ]}}"#
        );
        let parsed = parse_jwks(document.as_bytes(), true).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        assert_eq!(parsed.keys[0].kid(), Some("b"));
    }

    #[test]
    fn remote_sets_take_no_symmetric_keys_and_broken_documents_fail() {
        let document = format!(r#"{{"keys": [{{"kty": "oct", "alg": "HS256", "k": "{K32}"}}]}}"#);
        let parsed = parse_jwks(document.as_bytes(), false).unwrap();
        assert!(parsed.keys.is_empty());
        assert!(parse_jwks(b"[]", true).is_err());
        assert!(parse_jwks(b"{\"keys\": 5}", true).is_err());
        assert!(Key::from_jwks("{\"keys\": []}").is_err());
    }

    /// Fuzzing found a JSON array read as a JWK set: serde takes a struct from an array of its
    /// fields' values, so `[[...]]` passed for `{"keys": [...]}`.
    #[test]
    fn a_jwk_set_is_an_object_never_an_array() {
        let key = format!(r#"{{"kty": "oct", "alg": "HS256", "kid": "a", "k": "{K32}"}}"#);
        for document in [
            "[[[[]]] ]".to_owned(),
            format!("[[{key}]]"),
            format!(" \n[[{key}]]"),
        ] {
            assert_eq!(
                parse_jwks(document.as_bytes(), true).err(),
                Some("the document is not a JWK set"),
                "{document}"
            );
        }
        let object = format!(" \n{{\"keys\": [{key}]}}");
        assert_eq!(parse_jwks(object.as_bytes(), true).unwrap().keys.len(), 1);
    }
}
