//! Tests of the crate's providers.
//!
//! The process-wide provider is shared by every unit test of the crate, and they rely on it
//! being [`RING_PROVIDER`]: tests that go through `jsonwebtoken::encode`/`decode` use it, and
//! `AWS_LC_PROVIDER` and `DALEK_PROVIDER` are only ever called directly (their factories, their
//! key utilities and `PreparedVerifier::new(&AWS_LC_PROVIDER, ..)`), never installed.
//!
//! The checks every provider must pass are written once, taking the provider, and run for each
//! one by the `ring_provider`, `aws_lc_provider` and `dalek_provider` modules at the end.

use super::*;
use base64::Engine as _;
use jsonwebtoken::crypto::JwtSigner;
use jsonwebtoken::jwk::{EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{decode, encode, Header, Validation};
use serde::{Deserialize, Serialize};

const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../tests/keys/rsa_public.pem");
const RSA2_PRIVATE: &[u8] = include_bytes!("../../tests/keys/rsa2_private.pem");
const RSA2_PUBLIC: &[u8] = include_bytes!("../../tests/keys/rsa2_public.pem");
const RSA1024_PUBLIC: &[u8] = include_bytes!("../../tests/keys/rsa1024_public.pem");
const EC256_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ec256_private.pem");
const EC256_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ec256_public.pem");
const EC384_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ec384_private.pem");
const EC384_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ec384_public.pem");
const ED25519_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ed25519_private.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ed25519_public.pem");

const SECRET: &[u8] = b"a test-only HMAC secret of 32 by";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

/// Installs ring as jsonwebtoken's process default, for the tests' own encode/decode.
fn setup() {
    let _ = RING_PROVIDER.install_default();
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

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
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

/// The RSA test key as JWK components, plain and with leading zero bytes.
fn rsa_component_keys() -> [DecodingKey; 2] {
    let (_, decoding) = rsa_keys();
    let DecodingKeyKind::SecretOrDer(der) = decoding.kind() else {
        panic!("PEM gives DER")
    };
    let (n, e) = rsa_components_from_public_key(der).expect("components");
    let padded_n = [&[0u8, 0][..], &n].concat();
    [
        DecodingKey::from_rsa_raw_components(&n, &e),
        DecodingKey::from_rsa_raw_components(&padded_n, &[&[0u8][..], &e].concat()),
    ]
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

/// Signature width of the fixed-size ECDSA encodings.
const ECDSA_WIDTHS: [(Algorithm, usize); 2] = [(Algorithm::ES256, 64), (Algorithm::ES384, 96)];

fn round_trip(algorithm: Algorithm, encoding: &EncodingKey, decoding: &DecodingKey) {
    let claims = claims();
    let token = encode(&Header::new(algorithm), &claims, encoding)
        .unwrap_or_else(|e| panic!("{algorithm:?} encode: {e:?}"));
    let data = decode::<Claims>(&token, decoding, &Validation::new(algorithm))
        .unwrap_or_else(|e| panic!("{algorithm:?} decode: {e:?}"));
    assert_eq!(data.claims, claims, "{algorithm:?}");
    assert_eq!(data.header.alg, algorithm);
}

/// A compact JWS of [`claims`] signed by `signer`, made without jsonwebtoken's `encode` (which
/// would use the installed provider).
fn sign_token(signer: &dyn JwtSigner) -> String {
    let header = format!(r#"{{"alg":"{:?}","typ":"JWT"}}"#, signer.algorithm());
    let payload = serde_json::to_vec(&claims()).expect("json");
    let message = format!("{}.{}", b64().encode(header), b64().encode(payload));
    let signature = signer.try_sign(message.as_bytes()).expect("sign");
    format!("{message}.{}", b64().encode(signature))
}

/// Splits a compact JWS into the signed message and the decoded signature.
fn split_token(token: &str) -> (&str, Vec<u8>) {
    let (message, signature) = token.rsplit_once('.').expect("three parts");
    (message, b64().decode(signature).expect("base64url"))
}

/// `signature` with one bit flipped, and with its last byte cut off.
fn damaged_signatures(signature: &[u8]) -> [Vec<u8>; 2] {
    let mut flipped = signature.to_vec();
    let middle = flipped.len() / 2;
    if let Some(byte) = flipped.get_mut(middle) {
        *byte ^= 0x01;
    }
    let truncated = signature
        .get(..signature.len().saturating_sub(1))
        .unwrap_or_default()
        .to_vec();
    [flipped, truncated]
}

/// `true` when `provider`'s verifier factory accepts `signature` of `message`.
fn factory_verifies(
    provider: &CryptoProvider,
    algorithm: Algorithm,
    key: &DecodingKey,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let verifier = (provider.verifier_factory)(&algorithm, key)
        .unwrap_or_else(|e| panic!("{algorithm:?} verifier: {e:?}"));
    assert_eq!(verifier.algorithm(), algorithm);
    verifier.verify(message, &signature.to_vec()).is_ok()
}

// ---------------------------------------------------------------------------------------------
// Checks every provider must pass
// ---------------------------------------------------------------------------------------------

/// Sign and verify every algorithm through `provider`'s factories and its prepared verifier.
fn check_round_trip_through_the_provider(provider: &'static CryptoProvider) {
    for algorithm in ALL {
        let (encoding, decoding) = keys_for(algorithm);
        let signer = (provider.signer_factory)(&algorithm, &encoding).expect("signer");
        let verifier = (provider.verifier_factory)(&algorithm, &decoding).expect("verifier");
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

        // A whole token, through the verifier the layer keeps.
        let prepared = PreparedVerifier::new(provider, algorithm, &decoding).expect("prepared");
        let token = sign_token(&*signer);
        let (message, signature) = split_token(&token);
        assert!(
            prepared.verifies(message.as_bytes(), &signature),
            "{algorithm:?}"
        );
        for damaged in damaged_signatures(&signature) {
            assert!(
                !prepared.verifies(message.as_bytes(), &damaged),
                "{algorithm:?}"
            );
        }
        let mut other_message = message.to_owned();
        other_message.push('x');
        assert!(
            !prepared.verifies(other_message.as_bytes(), &signature),
            "{algorithm:?}"
        );
    }
}

/// RSA keys given as JWK components (with or without leading zeros) verify, and an RSA private
/// key given as PKCS#8 DER (not what the PEM loader stores) signs.
fn check_rsa_components_and_pkcs8(provider: &'static CryptoProvider) {
    let (encoding, decoding) = rsa_keys();
    let pem = std::str::from_utf8(RSA_PRIVATE).expect("utf8");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pkcs8 = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64");
    let pkcs8_encoding = EncodingKey::from_rsa_der(&pkcs8);
    for algorithm in [Algorithm::RS256, Algorithm::PS512] {
        for signing_key in [&encoding, &pkcs8_encoding] {
            let signer = (provider.signer_factory)(&algorithm, signing_key).expect("signer");
            let signature = signer.try_sign(b"message").expect("sign");
            for key in rsa_component_keys().iter().chain([&decoding]) {
                assert!(factory_verifies(
                    provider, algorithm, key, b"message", &signature
                ));
                let prepared = PreparedVerifier::new(provider, algorithm, key).expect("prepared");
                assert!(prepared.verifies(b"message", &signature));
                assert!(!prepared.verifies(b"messagf", &signature));
            }
        }
    }
}

fn check_key_utils(provider: &CryptoProvider) {
    let utils = &provider.key_utils;
    let ec = EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec");
    let (curve, x, y) =
        (utils.ec_pub_components_from_private_key)(ec.as_bytes(), Algorithm::ES256).expect("ec");
    assert_eq!(curve, EllipticCurve::P256);
    let public = DecodingKey::from_ec_pem(EC256_PUBLIC).expect("ec public");
    assert_eq!(
        public.try_get_as_bytes().expect("bytes"),
        [&[4u8][..], &x, &y].concat()
    );

    let ec384 = EncodingKey::from_ec_pem(EC384_PRIVATE).expect("ec384");
    let (curve, x, y) =
        (utils.ec_pub_components_from_private_key)(ec384.as_bytes(), Algorithm::ES384)
            .expect("parts");
    assert_eq!(curve, EllipticCurve::P384);
    assert_eq!((x.len(), y.len()), (48, 48));
    let public384 = DecodingKey::from_ec_pem(EC384_PUBLIC).expect("ec384 public");
    assert_eq!(
        public384.try_get_as_bytes().expect("bytes"),
        [&[4u8][..], &x, &y].concat()
    );
    // A P-384 key asked for as P-256 is refused.
    assert!(
        (utils.ec_pub_components_from_private_key)(ec384.as_bytes(), Algorithm::ES256).is_err()
    );

    let ed = EncodingKey::from_ed_pem(ED25519_PRIVATE).expect("ed");
    let ed_public = DecodingKey::from_ed_pem(ED25519_PUBLIC).expect("ed public");
    assert_eq!(
        (utils.ed_pub_components_from_private_key)(ed.as_bytes(), &EllipticCurve::Ed25519)
            .expect("ed"),
        ed_public.try_get_as_bytes().expect("bytes")
    );
    assert!(
        (utils.ed_pub_components_from_private_key)(ed.as_bytes(), &EllipticCurve::P256).is_err()
    );

    let (encoding, decoding) = rsa_keys();
    let DecodingKeyKind::SecretOrDer(der) = decoding.kind() else {
        panic!("PEM gives DER")
    };
    let from_public = (utils.rsa_pub_components_from_public_key)(der).expect("public");
    assert_eq!(
        (utils.rsa_pub_components_from_private_key)(encoding.as_bytes()).expect("private"),
        from_public
    );
    assert_eq!(from_public.1, [1, 0, 1]);
    assert_eq!(from_public.0.len(), 256);

    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        (utils.compute_digest)(b"abc", ThumbprintHash::SHA256).expect("digest"),
        [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad
        ]
    );
    assert_eq!(
        (utils.compute_digest)(b"", ThumbprintHash::SHA384)
            .expect("384")
            .len(),
        48
    );
    assert_eq!(
        (utils.compute_digest)(b"", ThumbprintHash::SHA512)
            .expect("512")
            .len(),
        64
    );
}

fn check_family_mismatch_is_refused(provider: &'static CryptoProvider) {
    let (rsa_encoding, rsa_decoding) = rsa_keys();
    let (ec_encoding, ec_decoding) = keys_for(Algorithm::ES256);
    let secret_encoding = EncodingKey::from_secret(SECRET).expect("secret");
    let secret_decoding = DecodingKey::from_secret(SECRET).expect("secret");

    // An RSA public key must never become an HMAC secret, and so on.
    for (algorithm, key) in [
        (Algorithm::HS256, &rsa_decoding),
        (Algorithm::RS256, &secret_decoding),
        (Algorithm::EdDSA, &ec_decoding),
        (Algorithm::ES256, &rsa_decoding),
    ] {
        assert!(
            matches!(
                kind_of((provider.verifier_factory)(&algorithm, key)),
                ErrorKind::InvalidKeyFormat
            ),
            "{algorithm:?}"
        );
        assert!(
            matches!(
                kind_of(PreparedVerifier::new(provider, algorithm, key)),
                ErrorKind::InvalidKeyFormat
            ),
            "{algorithm:?}"
        );
    }
    for (algorithm, key) in [
        (Algorithm::RS256, &secret_encoding),
        (Algorithm::HS256, &rsa_encoding),
        (Algorithm::EdDSA, &ec_encoding),
    ] {
        assert!(
            matches!(
                kind_of((provider.signer_factory)(&algorithm, key)),
                ErrorKind::InvalidKeyFormat
            ),
            "{algorithm:?}"
        );
    }
    // Same family, wrong curve: a P-256 key for ES384.
    assert!(matches!(
        kind_of((provider.verifier_factory)(&Algorithm::ES384, &ec_decoding)),
        ErrorKind::InvalidEcdsaKey
    ));
    assert!(matches!(
        kind_of((provider.signer_factory)(&Algorithm::ES384, &ec_encoding)),
        ErrorKind::InvalidEcdsaKey
    ));
}

/// The algorithm-confusion attack: an HS256 token whose "secret" is the RSA public key's DER.
fn check_alg_confusion_is_refused(provider: &'static CryptoProvider) {
    let (_, rsa_decoding) = rsa_keys();
    let der = rsa_decoding.try_get_as_bytes().expect("der").to_vec();
    let forger = EncodingKey::from_secret(&der).expect("secret");
    let signer = (provider.signer_factory)(&Algorithm::HS256, &forger).expect("signer");
    let forged = sign_token(&*signer);
    let (message, signature) = split_token(&forged);
    // The RSA key cannot be had as an HS256 verifier...
    assert!((provider.verifier_factory)(&Algorithm::HS256, &rsa_decoding).is_err());
    assert!(PreparedVerifier::new(provider, Algorithm::HS256, &rsa_decoding).is_err());
    // ...and as an RS256 verifier it rejects the HMAC tag.
    assert!(!factory_verifies(
        provider,
        Algorithm::RS256,
        &rsa_decoding,
        message.as_bytes(),
        &signature
    ));
}

fn check_wrong_key_and_damaged_signatures(provider: &'static CryptoProvider) {
    // Signed with the second RSA key: its own public key verifies, the first one does not.
    let rsa2_public = DecodingKey::from_rsa_pem(RSA2_PUBLIC).expect("rsa2 public");
    let rsa2 = EncodingKey::from_rsa_pem(RSA2_PRIVATE).expect("rsa2 private");
    let signer = (provider.signer_factory)(&Algorithm::RS256, &rsa2).expect("signer");
    let signature = signer.try_sign(b"m").expect("sign");
    assert!(factory_verifies(
        provider,
        Algorithm::RS256,
        &rsa2_public,
        b"m",
        &signature
    ));
    let (_, wrong_rsa) = rsa_keys();
    assert!(!factory_verifies(
        provider,
        Algorithm::RS256,
        &wrong_rsa,
        b"m",
        &signature
    ));

    for algorithm in ALL {
        let (encoding, decoding) = keys_for(algorithm);
        let signer = (provider.signer_factory)(&algorithm, &encoding).expect("signer");
        let token = sign_token(&*signer);
        let (message, signature) = split_token(&token);
        // A flipped bit, and a truncated signature (HMAC tags must have the full length).
        for damaged in damaged_signatures(&signature) {
            assert!(
                !factory_verifies(provider, algorithm, &decoding, message.as_bytes(), &damaged),
                "{algorithm:?}"
            );
        }
        assert!(!factory_verifies(
            provider,
            algorithm,
            &decoding,
            message.as_bytes(),
            &[]
        ));
    }
}

/// The "psychic signature" (CVE-2022-21449): r = s = 0 must never verify.
fn check_ecdsa_zero_signature_is_rejected(provider: &'static CryptoProvider) {
    for (algorithm, width) in ECDSA_WIDTHS {
        let (_, decoding) = keys_for(algorithm);
        let zeros = vec![0u8; width];
        assert!(!factory_verifies(
            provider,
            algorithm,
            &decoding,
            b"anything",
            &zeros
        ));
        let prepared = PreparedVerifier::new(provider, algorithm, &decoding).expect("prepared");
        assert!(!prepared.verifies(b"anything", &zeros));
        // r = 0 with a real s, and s = 0 with a real r.
        let (encoding, _) = keys_for(algorithm);
        let signer = (provider.signer_factory)(&algorithm, &encoding).expect("signer");
        let real = signer.try_sign(b"anything").expect("sign");
        assert!(prepared.verifies(b"anything", &real));
        let half = width / 2;
        let zero_r = [&zeros[..half], &real[half..]].concat();
        let zero_s = [&real[..half], &zeros[half..]].concat();
        assert!(!prepared.verifies(b"anything", &zero_r));
        assert!(!prepared.verifies(b"anything", &zero_s));
    }
}

fn check_weak_rsa_key_is_refused_with_a_key_error(provider: &'static CryptoProvider) {
    let weak = DecodingKey::from_rsa_pem(RSA1024_PUBLIC).expect("rsa1024");
    for algorithm in [Algorithm::RS256, Algorithm::PS256] {
        assert!(matches!(
            kind_of((provider.verifier_factory)(&algorithm, &weak)),
            ErrorKind::InvalidRsaKey(_)
        ));
        assert!(matches!(
            kind_of(PreparedVerifier::new(provider, algorithm, &weak)),
            ErrorKind::InvalidRsaKey(_)
        ));
    }
    // Over 8192 bits: a 8200-bit modulus given as components.
    let huge = DecodingKey::from_rsa_raw_components(&[0xc5; 1025], &[1, 0, 1]);
    assert!(matches!(
        kind_of((provider.verifier_factory)(&Algorithm::RS256, &huge)),
        ErrorKind::InvalidRsaKey(_)
    ));
}

fn check_hostile_key_material_never_panics(provider: &'static CryptoProvider) {
    let utils = &provider.key_utils;
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
                if let Ok(verifier) = (provider.verifier_factory)(&algorithm, &decoding) {
                    assert!(verifier.verify(b"m", &bytes.to_vec()).is_err());
                }
                if let Ok(prepared) = PreparedVerifier::new(provider, algorithm, &decoding) {
                    assert!(!prepared.verifies(b"m", bytes));
                }
            }
            let encoding = match algorithm.family() {
                AlgorithmFamily::Hmac => EncodingKey::from_secret(bytes).ok(),
                AlgorithmFamily::Rsa => Some(EncodingKey::from_rsa_der(bytes)),
                AlgorithmFamily::Ec => Some(EncodingKey::from_ec_der(bytes)),
                AlgorithmFamily::Ed => Some(EncodingKey::from_ed_der(bytes)),
            };
            if let Some(encoding) = encoding {
                let signer = (provider.signer_factory)(&algorithm, &encoding);
                assert_eq!(signer.is_ok(), algorithm.family() == AlgorithmFamily::Hmac);
            }
        }
        assert!((utils.rsa_pub_components_from_private_key)(bytes).is_err());
        assert!((utils.rsa_pub_components_from_public_key)(bytes).is_err());
        assert!((utils.ec_pub_components_from_private_key)(bytes, Algorithm::ES256).is_err());
        assert!((utils.ec_pub_components_from_private_key)(bytes, Algorithm::HS256).is_err());
        assert!(
            (utils.ed_pub_components_from_private_key)(bytes, &EllipticCurve::Ed25519).is_err()
        );
    }
    // RSA components with a zero exponent, or an empty modulus.
    let zero_e = DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[0, 0]);
    assert!((provider.verifier_factory)(&Algorithm::RS256, &zero_e).is_err());
    let empty_n = DecodingKey::from_rsa_raw_components(&[], &[1, 0, 1]);
    assert!((provider.verifier_factory)(&Algorithm::RS256, &empty_n).is_err());
    // A well-sized but bogus modulus gives a verifier that rejects everything.
    let bogus = DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[1, 0, 1]);
    let verifier = (provider.verifier_factory)(&Algorithm::RS256, &bogus).expect("v");
    assert!(verifier.verify(b"m", &vec![0u8; 256]).is_err());
    // Signatures of every length against good keys.
    for algorithm in ALL {
        let (_, decoding) = keys_for(algorithm);
        let prepared = PreparedVerifier::new(provider, algorithm, &decoding).expect("prepared");
        for len in [0, 1, 31, 32, 63, 64, 65, 96, 255, 256, 257, 1024] {
            assert!(!prepared.verifies(b"m", &vec![0xa5; len]), "{algorithm:?}");
        }
    }
}

/// Runs every check above for one provider, as separate tests.
macro_rules! provider_tests {
    ($module:ident, $provider:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn round_trip_through_the_provider_directly() {
                check_round_trip_through_the_provider(&$provider);
            }

            #[test]
            fn rsa_from_jwk_components_and_pkcs8_der() {
                check_rsa_components_and_pkcs8(&$provider);
            }

            #[test]
            fn key_utils_match_the_public_keys() {
                check_key_utils(&$provider);
            }

            #[test]
            fn family_mismatch_is_refused_by_both_factories() {
                check_family_mismatch_is_refused(&$provider);
            }

            #[test]
            fn alg_confusion_is_refused() {
                check_alg_confusion_is_refused(&$provider);
            }

            #[test]
            fn wrong_key_and_damaged_signatures_are_rejected() {
                check_wrong_key_and_damaged_signatures(&$provider);
            }

            #[test]
            fn ecdsa_zero_signature_is_rejected() {
                check_ecdsa_zero_signature_is_rejected(&$provider);
            }

            #[test]
            fn weak_rsa_key_is_refused_with_a_key_error() {
                check_weak_rsa_key_is_refused_with_a_key_error(&$provider);
            }

            #[test]
            fn hostile_key_material_never_panics() {
                check_hostile_key_material_never_panics(&$provider);
            }
        }
    };
}

provider_tests!(ring_provider, RING_PROVIDER);
#[cfg(feature = "aws-lc-rs")]
provider_tests!(aws_lc_provider, AWS_LC_PROVIDER);
#[cfg(feature = "ed25519-dalek")]
provider_tests!(dalek_provider, DALEK_PROVIDER);

// ---------------------------------------------------------------------------------------------
// The installed provider (ring) through jsonwebtoken
// ---------------------------------------------------------------------------------------------

#[test]
fn round_trip_every_algorithm() {
    setup();
    for algorithm in ALL {
        let (encoding, decoding) = keys_for(algorithm);
        round_trip(algorithm, &encoding, &decoding);
    }
}

#[test]
fn rsa_from_jwk_components_through_decode() {
    setup();
    let (encoding, decoding) = rsa_keys();
    for algorithm in [Algorithm::RS256, Algorithm::PS512] {
        for key in rsa_component_keys() {
            round_trip(algorithm, &encoding, &key);
        }
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
    let ed_public = DecodingKey::from_ed_pem(ED25519_PUBLIC).expect("ed public");
    let jwk = Jwk::from_decoding_key(&ed_public, Some(Algorithm::EdDSA)).expect("jwk");
    let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint");
    assert_eq!(thumbprint.len(), 43);
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
    assert!(decode::<Claims>(&forged, &rsa_decoding, &Validation::new(Algorithm::RS256)).is_err());
}

#[test]
fn wrong_key_and_tampered_signatures_are_rejected_by_decode() {
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
        let (message, signature) = split_token(&token);
        let [flipped, truncated] = damaged_signatures(&signature);
        let tampered = format!("{message}.{}", b64().encode(&flipped));
        let error = decode::<Claims>(&tampered, &decoding_for_alg, &Validation::new(algorithm))
            .expect_err("tampered");
        assert!(
            matches!(error.kind(), ErrorKind::InvalidSignature),
            "{algorithm:?}: {error:?}"
        );
        // A truncated signature is rejected too (HMAC tags must have the full length).
        let truncated = format!("{message}.{}", b64().encode(&truncated));
        assert!(
            decode::<Claims>(&truncated, &decoding_for_alg, &Validation::new(algorithm)).is_err()
        );
    }
}

#[test]
fn ecdsa_zero_signature_in_a_token_is_rejected_by_decode() {
    setup();
    for (algorithm, width) in ECDSA_WIDTHS {
        let (_, decoding) = keys_for(algorithm);
        let header = format!(r#"{{"alg":"{algorithm:?}","typ":"JWT"}}"#);
        let token = format!(
            "{}.{}.{}",
            b64().encode(header),
            b64().encode(serde_json::to_vec(&claims()).expect("json")),
            b64().encode(vec![0u8; width])
        );
        let error = decode::<Claims>(&token, &decoding, &Validation::new(algorithm))
            .expect_err("r = s = 0");
        assert!(matches!(error.kind(), ErrorKind::InvalidSignature));
    }
}

// ---------------------------------------------------------------------------------------------
// Prepared verifiers and key parsing helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn prepared_verifier_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PreparedVerifier>();
}

#[test]
fn prepared_verifier_picks_the_backend_of_the_provider() {
    setup();
    // A provider that is not one of ours (a copy of ring's at another address) is asked on each
    // call, through its factory.
    let other: &'static CryptoProvider = Box::leak(Box::new(RING_PROVIDER.clone()));
    #[allow(unused_mut)]
    let mut providers = vec![(&RING_PROVIDER, "ring"), (other, "provider")];
    #[cfg(feature = "aws-lc-rs")]
    providers.push((&AWS_LC_PROVIDER, "aws-lc-rs"));
    #[cfg(feature = "ed25519-dalek")]
    providers.push((&DALEK_PROVIDER, "ed25519-dalek"));
    for (provider, backend) in providers {
        for algorithm in ALL {
            let (encoding, decoding) = keys_for(algorithm);
            let prepared = PreparedVerifier::new(provider, algorithm, &decoding).expect("prepared");
            let printed = format!("{prepared:?}");
            // DALEK_PROVIDER verifies every algorithm but Ed25519 with ring.
            let backend = match backend {
                "ed25519-dalek" if algorithm != Algorithm::EdDSA => "ring",
                other => other,
            };
            assert!(
                printed.contains(&format!("backend: \"{backend}\"")),
                "{printed}"
            );
            assert!(printed.contains(&format!("{algorithm:?}")), "{printed}");
            // Tokens signed by ring verify whatever the backend.
            let token = encode(&Header::new(algorithm), &claims(), &encoding).expect("sign");
            let (message, signature) = split_token(&token);
            assert!(
                prepared.verifies(message.as_bytes(), &signature),
                "{backend} {algorithm:?}"
            );
            let [flipped, _] = damaged_signatures(&signature);
            assert!(!prepared.verifies(message.as_bytes(), &flipped));
        }
        // The provider's refusal shows at build time.
        let weak = DecodingKey::from_rsa_pem(RSA1024_PUBLIC).expect("rsa1024");
        assert!(PreparedVerifier::new(provider, Algorithm::RS256, &weak).is_err());
    }
}

#[test]
fn rsa_modulus_bits_of_test_keys() {
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
    assert_eq!(rsa_exponent(&decoding), Some(vec![1, 0, 1]));
    assert_eq!(
        rsa_exponent(&DecodingKey::from_rsa_raw_components(&n, &[0, 0, 3])),
        Some(vec![3])
    );
    assert_eq!(
        rsa_exponent(&DecodingKey::from_secret(SECRET).expect("secret")),
        None
    );
    for bytes in [&b""[..], b"\x00", b"\x00\x01", &[0xff; 300]] {
        assert_eq!(
            rsa_modulus_bits(&DecodingKey::from_rsa_raw_components(bytes, bytes)),
            bit_length(bytes)
        );
    }
}

#[test]
fn ec_points_are_checked_against_the_curve() {
    let (_, decoding) = keys_for(Algorithm::ES256);
    let mut point = decoding.try_get_as_bytes().expect("point").to_vec();
    assert!(ec_point_is_valid(Algorithm::ES256, &point));
    assert!(!ec_point_is_valid(Algorithm::ES384, &point));
    assert!(!ec_point_is_valid(Algorithm::RS256, &point));
    if let Some(last) = point.last_mut() {
        *last ^= 1;
    }
    assert!(!ec_point_is_valid(Algorithm::ES256, &point));
}

// ---------------------------------------------------------------------------------------------
// aws-lc-rs against ring
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "aws-lc-rs")]
mod cross_backend {
    use super::*;

    /// Every algorithm: a token signed by one backend verifies with the other, through the
    /// factory and through the prepared verifier.
    #[test]
    fn tokens_signed_by_one_backend_verify_with_the_other() {
        setup();
        for algorithm in ALL {
            let (encoding, decoding) = keys_for(algorithm);
            for (signing, verifying) in [
                (&RING_PROVIDER, &AWS_LC_PROVIDER),
                (&AWS_LC_PROVIDER, &RING_PROVIDER),
            ] {
                let signer = (signing.signer_factory)(&algorithm, &encoding).expect("signer");
                let token = sign_token(&*signer);
                let (message, signature) = split_token(&token);
                assert!(
                    factory_verifies(
                        verifying,
                        algorithm,
                        &decoding,
                        message.as_bytes(),
                        &signature
                    ),
                    "{algorithm:?}"
                );
                let prepared =
                    PreparedVerifier::new(verifying, algorithm, &decoding).expect("prepared");
                assert!(
                    prepared.verifies(message.as_bytes(), &signature),
                    "{algorithm:?}"
                );
                let [flipped, truncated] = damaged_signatures(&signature);
                assert!(!prepared.verifies(message.as_bytes(), &flipped));
                assert!(!prepared.verifies(message.as_bytes(), &truncated));
            }
        }
    }

    /// Tokens made by aws-lc-rs decode with jsonwebtoken (ring installed), and tokens made by
    /// jsonwebtoken verify with aws-lc-rs.
    #[test]
    fn aws_lc_tokens_and_jsonwebtoken_agree() {
        setup();
        for algorithm in ALL {
            let (encoding, decoding) = keys_for(algorithm);
            let signer = (AWS_LC_PROVIDER.signer_factory)(&algorithm, &encoding).expect("signer");
            let token = sign_token(&*signer);
            let data = decode::<Claims>(&token, &decoding, &Validation::new(algorithm))
                .unwrap_or_else(|e| panic!("{algorithm:?}: {e:?}"));
            assert_eq!(data.claims.sub, "user-1");

            let token = encode(&Header::new(algorithm), &claims(), &encoding).expect("encode");
            let (message, signature) = split_token(&token);
            let prepared =
                PreparedVerifier::new(&AWS_LC_PROVIDER, algorithm, &decoding).expect("prepared");
            assert!(prepared.verifies(message.as_bytes(), &signature));
        }
    }

    /// The key utilities of both backends give the same answers.
    #[test]
    fn key_utils_agree() {
        let ring_utils = &RING_PROVIDER.key_utils;
        let lc_utils = &AWS_LC_PROVIDER.key_utils;
        let (rsa, _) = rsa_keys();
        assert_eq!(
            (ring_utils.rsa_pub_components_from_private_key)(rsa.as_bytes()).expect("ring"),
            (lc_utils.rsa_pub_components_from_private_key)(rsa.as_bytes()).expect("aws-lc")
        );
        for algorithm in [Algorithm::ES256, Algorithm::ES384] {
            let (ec, _) = keys_for(algorithm);
            assert_eq!(
                (ring_utils.ec_pub_components_from_private_key)(ec.as_bytes(), algorithm)
                    .expect("ring"),
                (lc_utils.ec_pub_components_from_private_key)(ec.as_bytes(), algorithm)
                    .expect("aws-lc")
            );
        }
        let (ed, _) = keys_for(Algorithm::EdDSA);
        assert_eq!(
            (ring_utils.ed_pub_components_from_private_key)(ed.as_bytes(), &EllipticCurve::Ed25519)
                .expect("ring"),
            (lc_utils.ed_pub_components_from_private_key)(ed.as_bytes(), &EllipticCurve::Ed25519)
                .expect("aws-lc")
        );
        for hash in [
            ThumbprintHash::SHA256,
            ThumbprintHash::SHA384,
            ThumbprintHash::SHA512,
        ] {
            assert_eq!(
                (ring_utils.compute_digest)(b"thumbprint", hash.clone()).expect("ring"),
                (lc_utils.compute_digest)(b"thumbprint", hash).expect("aws-lc")
            );
        }
    }

    /// ring checks an EC point only when it uses it (the key loader checks it before); aws-lc-rs
    /// parses the point when the verifier is made, so an off-curve point is refused there.
    #[test]
    fn aws_lc_refuses_an_off_curve_point_when_the_verifier_is_made() {
        let (_, decoding) = keys_for(Algorithm::ES256);
        let mut point = decoding.try_get_as_bytes().expect("point").to_vec();
        if let Some(last) = point.last_mut() {
            *last ^= 1;
        }
        let off_curve = DecodingKey::from_ec_der(&point);
        assert!(matches!(
            kind_of((AWS_LC_PROVIDER.verifier_factory)(
                &Algorithm::ES256,
                &off_curve
            )),
            ErrorKind::InvalidEcdsaKey
        ));
        assert!(PreparedVerifier::new(&AWS_LC_PROVIDER, Algorithm::ES256, &off_curve).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// ed25519-dalek against ring
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "ed25519-dalek")]
mod dalek_backend {
    use super::*;

    /// 2^255 - 19 + `v` (`v` < 19) in little-endian: a non-canonical encoding of `y = v`.
    fn non_canonical_y(v: u8) -> [u8; 32] {
        let mut bytes = [0xff; 32];
        bytes[0] = 237 + v;
        bytes[31] = 0x7f;
        bytes
    }

    fn eddsa_kind(key: &[u8]) -> ErrorKind {
        kind_of((DALEK_PROVIDER.verifier_factory)(
            &Algorithm::EdDSA,
            &DecodingKey::from_ed_der(key),
        ))
    }

    /// Tokens signed by ring verify with ed25519-dalek, through the factory and the prepared
    /// verifier, and the two backends agree on damaged signatures.
    #[test]
    fn ring_tokens_verify_with_dalek() {
        setup();
        let (encoding, decoding) = keys_for(Algorithm::EdDSA);
        let signer = (RING_PROVIDER.signer_factory)(&Algorithm::EdDSA, &encoding).expect("signer");
        let token = sign_token(&*signer);
        let (message, signature) = split_token(&token);
        let prepared =
            PreparedVerifier::new(&DALEK_PROVIDER, Algorithm::EdDSA, &decoding).expect("prepared");
        let ring =
            PreparedVerifier::new(&RING_PROVIDER, Algorithm::EdDSA, &decoding).expect("ring");
        assert!(prepared.verifies(message.as_bytes(), &signature));
        assert!(factory_verifies(
            &DALEK_PROVIDER,
            Algorithm::EdDSA,
            &decoding,
            message.as_bytes(),
            &signature
        ));
        // Every single-bit flip of the signature, and of the message's first bytes.
        for bit in 0..signature.len() * 8 {
            let mut flipped = signature.clone();
            if let Some(byte) = flipped.get_mut(bit / 8) {
                *byte ^= 1 << (bit % 8);
            }
            assert!(
                !prepared.verifies(message.as_bytes(), &flipped),
                "bit {bit}"
            );
            assert!(!ring.verifies(message.as_bytes(), &flipped), "bit {bit}");
        }
        // A token made by jsonwebtoken (ring installed) verifies too.
        let token = encode(&Header::new(Algorithm::EdDSA), &claims(), &encoding).expect("encode");
        let (message, signature) = split_token(&token);
        assert!(prepared.verifies(message.as_bytes(), &signature));
    }

    /// RFC 8032 5.1.7: `S` must be below the group order `L`. `S + L` verifies the same group
    /// equation and is refused by both backends.
    #[test]
    fn non_canonical_s_is_refused() {
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let (encoding, decoding) = keys_for(Algorithm::EdDSA);
        let signer = (RING_PROVIDER.signer_factory)(&Algorithm::EdDSA, &encoding).expect("signer");
        // Sign messages until S + L still fits in 253 bits (S < 2^253 - L), then add L.
        for i in 0u32..64 {
            let message = format!("message {i}");
            let signature = signer.try_sign(message.as_bytes()).expect("sign");
            let (r, s) = signature.split_at(32);
            let mut sum = [0u8; 32];
            let mut carry = 0u16;
            for (k, (a, b)) in s.iter().zip(L).enumerate() {
                let total = u16::from(*a) + u16::from(b) + carry;
                sum[k] = (total & 0xff) as u8;
                carry = total >> 8;
            }
            if carry != 0 || sum[31] & 0xe0 != 0 {
                continue;
            }
            let malleated = [r, &sum[..]].concat();
            for provider in [&RING_PROVIDER, &DALEK_PROVIDER] {
                let prepared =
                    PreparedVerifier::new(provider, Algorithm::EdDSA, &decoding).expect("prepared");
                assert!(prepared.verifies(message.as_bytes(), &signature));
                assert!(!prepared.verifies(message.as_bytes(), &malleated));
            }
            return;
        }
        panic!("no signature with a small enough S in 64 tries");
    }

    /// A public key must be the canonical encoding of a point of large order.
    #[test]
    fn weak_and_non_canonical_public_keys_are_refused() {
        // The identity (y = 1), and a point of order 4 (y = 0).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(eddsa_kind(&identity), ErrorKind::InvalidEddsaKey));
        assert!(matches!(eddsa_kind(&[0u8; 32]), ErrorKind::InvalidEddsaKey));
        // The same with the sign bit set ("negative zero" x), and `y = p + 1`.
        let mut negative_identity = identity;
        negative_identity[31] |= 0x80;
        assert!(matches!(
            eddsa_kind(&negative_identity),
            ErrorKind::InvalidEddsaKey
        ));
        assert!(matches!(
            eddsa_kind(&non_canonical_y(1)),
            ErrorKind::InvalidEddsaKey
        ));
        // For every `y` below 19 that is a point of large order, its encoding as `y + p` is
        // refused while `y` itself is accepted.
        let mut checked = 0;
        for v in 2..19u8 {
            let mut canonical = [0u8; 32];
            canonical[0] = v;
            if (DALEK_PROVIDER.verifier_factory)(
                &Algorithm::EdDSA,
                &DecodingKey::from_ed_der(&canonical),
            )
            .is_err()
            {
                continue;
            }
            checked += 1;
            assert!(
                matches!(eddsa_kind(&non_canonical_y(v)), ErrorKind::InvalidEddsaKey),
                "y = {v} + p"
            );
        }
        assert!(checked > 0, "no small y on the curve");
        // Not a point at all: y = 2 has no x on the curve, or some other small y has none.
        let not_on_curve = (2..19u8).find_map(|v| {
            let mut bytes = [0u8; 32];
            bytes[0] = v;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .is_err()
                .then_some(bytes)
        });
        let not_on_curve = not_on_curve.expect("some small y is not on the curve");
        assert!(matches!(
            eddsa_kind(&not_on_curve),
            ErrorKind::InvalidEddsaKey
        ));
        // The prepared verifier refuses the same keys, and a wrong length.
        for key in [&identity[..], &non_canonical_y(1), &[7u8; 31], &[7u8; 33]] {
            assert!(matches!(
                kind_of(PreparedVerifier::new(
                    &DALEK_PROVIDER,
                    Algorithm::EdDSA,
                    &DecodingKey::from_ed_der(key)
                )),
                ErrorKind::InvalidEddsaKey
            ));
        }
    }

    /// Every algorithm but Ed25519 is ring's: the same verifier, the same signer, the same key
    /// utilities.
    #[test]
    fn other_algorithms_are_rings() {
        for algorithm in ALL {
            let (encoding, decoding) = keys_for(algorithm);
            let signer = (DALEK_PROVIDER.signer_factory)(&algorithm, &encoding).expect("signer");
            let token = sign_token(&*signer);
            let (message, signature) = split_token(&token);
            assert!(factory_verifies(
                &RING_PROVIDER,
                algorithm,
                &decoding,
                message.as_bytes(),
                &signature
            ));
        }
        let (ed, _) = keys_for(Algorithm::EdDSA);
        assert_eq!(
            (DALEK_PROVIDER.key_utils.ed_pub_components_from_private_key)(
                ed.as_bytes(),
                &EllipticCurve::Ed25519
            )
            .expect("dalek"),
            (RING_PROVIDER.key_utils.ed_pub_components_from_private_key)(
                ed.as_bytes(),
                &EllipticCurve::Ed25519
            )
            .expect("ring"),
        );
    }
}
