//! Wycheproof primitive test vectors against `tower_jwt_auth::crypto::RING_PROVIDER` and, with
//! the crate feature `aws-lc-rs`, `tower_jwt_auth::crypto::AWS_LC_PROVIDER`.
//!
//! The vectors are read in place from `../shared/testdata/wycheproof/` (relative to the crate
//! root); they are never copied into the crate. Where that folder is absent, every test prints
//! that it skipped and passes.
//!
//! The verifiers come from each provider's `verifier_factory` directly, not from the
//! process-wide default provider, so these tests check our providers whatever else is installed.
//!
//! For each file and each provider: every `valid` case must verify, every `invalid` case must
//! be rejected, and `acceptable` cases are counted but not asserted.

use std::path::Path;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
#[cfg(feature = "aws-lc-rs")]
use tower_jwt_auth::crypto::AWS_LC_PROVIDER;
use tower_jwt_auth::crypto::RING_PROVIDER;

/// The providers under test, by name.
fn providers() -> Vec<(&'static str, &'static CryptoProvider)> {
    #[allow(unused_mut)]
    let mut providers = vec![("ring", &RING_PROVIDER)];
    #[cfg(feature = "aws-lc-rs")]
    providers.push(("aws-lc-rs", &AWS_LC_PROVIDER));
    #[cfg(feature = "ed25519-dalek")]
    providers.push(("ed25519-dalek", &tower_jwt_auth::crypto::DALEK_PROVIDER));
    providers
}

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/wycheproof");

/// Reads a vector file, or `None` (after printing why) when the vector folder is absent.
fn load(file: &str) -> Option<Value> {
    let dir = Path::new(VECTORS);
    if !dir.is_dir() {
        println!("skipped: Wycheproof vectors not found at {}", dir.display());
        return None;
    }
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: bad JSON: {e}")))
}

fn hex(text: &str) -> Vec<u8> {
    fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit: {:?}", c as char),
        }
    }
    let bytes = text.as_bytes();
    assert!(bytes.len().is_multiple_of(2), "odd-length hex: {text}");
    bytes
        .chunks_exact(2)
        .map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1]))
        .collect()
}

fn str_field<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {field:?} in {value}"))
}

/// What to do with a test group.
enum Group {
    /// Run its cases with this algorithm.
    Run(Algorithm),
    /// Skip all its cases, for the reason given.
    Skip(&'static str),
}

struct Spec {
    file: &'static str,
    /// Decides per group whether it applies and with which algorithm.
    group: fn(&Value) -> Group,
    /// The key(s) to verify a case with. With several (e.g. RSA as DER and as n/e), every one
    /// must give the same answer.
    keys: fn(&Value, &Value) -> Vec<DecodingKey>,
    /// Name of the signature field in a test case (`sig`, or `tag` for MACs).
    signature_field: &'static str,
}

fn run(spec: &Spec) {
    let Some(data) = load(spec.file) else {
        return;
    };
    for (backend, provider) in providers() {
        run_with(spec, &data, backend, provider);
    }
}

/// Runs every case of `data` (the file of `spec`) against `provider`.
fn run_with(spec: &Spec, data: &Value, backend: &str, provider: &CryptoProvider) {
    let groups = data["testGroups"].as_array().expect("testGroups");
    let declared = data["numberOfTests"].as_u64().expect("numberOfTests");

    let (mut valid_ok, mut invalid_rejected, mut acceptable, mut skipped) = (0, 0, 0, 0);
    let mut acceptable_verified = 0;
    let mut skip_reasons: Vec<&str> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut total = 0u64;

    for group in groups {
        let cases = group["tests"].as_array().expect("tests");
        total += cases.len() as u64;
        let algorithm = match (spec.group)(group) {
            Group::Run(algorithm) => algorithm,
            Group::Skip(reason) => {
                skipped += cases.len();
                if !skip_reasons.contains(&reason) {
                    skip_reasons.push(reason);
                }
                continue;
            }
        };
        for case in cases {
            let id = case["tcId"].as_u64().expect("tcId");
            let msg = hex(str_field(case, "msg"));
            let sig = hex(str_field(case, spec.signature_field));
            let outcomes: Vec<bool> = (spec.keys)(group, case)
                .iter()
                .map(|key| match (provider.verifier_factory)(&algorithm, key) {
                    Ok(verifier) => verifier.verify(&msg, &sig).is_ok(),
                    // A key the factory refuses verifies nothing.
                    Err(_) => false,
                })
                .collect();
            let verified = outcomes.first().copied().expect("at least one key");
            if outcomes.iter().any(|&o| o != verified) {
                failures.push(format!("tcId {id}: key encodings disagree: {outcomes:?}"));
            }
            let comment = str_field(case, "comment");
            match str_field(case, "result") {
                "valid" if verified => valid_ok += 1,
                "valid" => failures.push(format!("tcId {id} ({comment}): valid, not verified")),
                "invalid" if !verified => invalid_rejected += 1,
                "invalid" => failures.push(format!("tcId {id} ({comment}): invalid, verified")),
                "acceptable" => {
                    acceptable += 1;
                    acceptable_verified += usize::from(verified);
                }
                other => panic!("tcId {id}: unknown result {other:?}"),
            }
        }
    }

    println!(
        "{} [{backend}]: {valid_ok} valid ok, {invalid_rejected} invalid rejected, \
         {acceptable} acceptable, {skipped} skipped",
        spec.file
    );
    if acceptable > 0 {
        println!("  acceptable cases that verified: {acceptable_verified} of {acceptable}");
    }
    for reason in &skip_reasons {
        println!("  skipped: {reason}");
    }

    assert!(
        failures.is_empty(),
        "{} [{backend}]:\n{}",
        spec.file,
        failures.join("\n")
    );
    assert_eq!(total, declared, "{} [{backend}]: numberOfTests", spec.file);
    let counted = valid_ok + invalid_rejected + acceptable + skipped;
    assert_eq!(
        counted as u64, total,
        "{} [{backend}]: every case accounted for",
        spec.file
    );
    assert!(
        counted - skipped > 0,
        "{} [{backend}]: no case was run",
        spec.file
    );
}

fn ecdsa_group(curve: &str, sha: &str, algorithm: Algorithm, group: &Value) -> Group {
    assert_eq!(str_field(group, "type"), "EcdsaP1363Verify");
    assert_eq!(str_field(&group["publicKey"], "curve"), curve);
    assert_eq!(str_field(group, "sha"), sha);
    Group::Run(algorithm)
}

fn ecdsa_keys(group: &Value, _case: &Value) -> Vec<DecodingKey> {
    // jsonwebtoken's EC DecodingKey holds the uncompressed SEC1 point.
    let point = hex(str_field(&group["publicKey"], "uncompressed"));
    vec![DecodingKey::from_ec_der(&point)]
}

fn rsa_keys(group: &Value, _case: &Value) -> Vec<DecodingKey> {
    let public = &group["publicKey"];
    // `modulus` has a leading 00 byte (ASN.1 sign); the provider ignores leading zeros.
    let n = hex(str_field(public, "modulus"));
    let e = hex(str_field(public, "publicExponent"));
    // `publicKeyAsn` is the PKCS#1 RSAPublicKey, what `DecodingKey::from_rsa_pem` stores.
    let pkcs1 = hex(str_field(group, "publicKeyAsn"));
    vec![
        DecodingKey::from_rsa_raw_components(&n, &e),
        DecodingKey::from_rsa_der(&pkcs1),
    ]
}

#[test]
fn ecdsa_p256_sha256_p1363_es256() {
    run(&Spec {
        file: "ecdsa_secp256r1_sha256_p1363_test.json",
        group: |g| ecdsa_group("secp256r1", "SHA-256", Algorithm::ES256, g),
        keys: ecdsa_keys,
        signature_field: "sig",
    });
}

#[test]
fn ecdsa_p384_sha384_p1363_es384() {
    run(&Spec {
        file: "ecdsa_secp384r1_sha384_p1363_test.json",
        group: |g| ecdsa_group("secp384r1", "SHA-384", Algorithm::ES384, g),
        keys: ecdsa_keys,
        signature_field: "sig",
    });
}

#[test]
fn ed25519_eddsa() {
    run(&Spec {
        file: "ed25519_test.json",
        group: |g| {
            assert_eq!(str_field(g, "type"), "EddsaVerify");
            assert_eq!(str_field(&g["publicKey"], "curve"), "edwards25519");
            Group::Run(Algorithm::EdDSA)
        },
        keys: |g, _| {
            vec![DecodingKey::from_ed_der(&hex(str_field(
                &g["publicKey"],
                "pk",
            )))]
        },
        signature_field: "sig",
    });
}

#[test]
fn rsa_pkcs1_2048_sha256_rs256() {
    run(&Spec {
        file: "rsa_signature_2048_sha256_test.json",
        group: |g| {
            assert_eq!(str_field(g, "type"), "RsassaPkcs1Verify");
            assert_eq!(str_field(g, "sha"), "SHA-256");
            Group::Run(Algorithm::RS256)
        },
        keys: rsa_keys,
        signature_field: "sig",
    });
}

#[test]
fn rsa_pss_2048_sha256_mgf1_32_ps256() {
    run(&Spec {
        file: "rsa_pss_2048_sha256_mgf1_32_test.json",
        group: |g| {
            // PS256 is PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt (RFC 7518 3.5).
            assert_eq!(str_field(g, "type"), "RsassaPssVerify");
            assert_eq!(str_field(g, "sha"), "SHA-256");
            assert_eq!(str_field(g, "mgf"), "MGF1");
            assert_eq!(str_field(g, "mgfSha"), "SHA-256");
            assert_eq!(g["sLen"].as_u64(), Some(32));
            Group::Run(Algorithm::PS256)
        },
        keys: rsa_keys,
        signature_field: "sig",
    });
}

#[test]
fn hmac_sha256_hs256() {
    run(&Spec {
        file: "hmac_sha256_test.json",
        group: |g| {
            assert_eq!(str_field(g, "type"), "MacTest");
            // HS256 carries the full 256-bit tag; truncated-tag groups are not JWS.
            match g["tagSize"].as_u64() {
                Some(256) => Group::Run(Algorithm::HS256),
                _ => Group::Skip("HMAC groups with a tag size other than 256 bits (not HS256)"),
            }
        },
        // The key is per test case; every key in these files is non-empty.
        keys: |_, case| {
            vec![DecodingKey::from_secret(&hex(str_field(case, "key"))).expect("non-empty key")]
        },
        signature_field: "tag",
    });
}
