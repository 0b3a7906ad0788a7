//! Wycheproof primitive test vectors against `tower_jwt_auth::crypto::RING_PROVIDER` and, with
//! the crate feature `aws-lc-rs`, `tower_jwt_auth::crypto::AWS_LC_PROVIDER`.
//!
//! The vectors come from the `wycheproof` crate (a dev-dependency, Apache-2.0), which embeds the
//! upstream C2SP/wycheproof JSON files and checks each file's `numberOfTests` as it loads it.
//! Only its `ecdsa`, `eddsa`, `mac` and `rsa_sig` features are enabled: the sets read here are
//! the primitives of the JWS algorithms, in their JWS signature formats.
//!
//! The verifiers come from each provider's `verifier_factory` directly, not from the
//! process-wide default provider, so these tests check our providers whatever else is installed.
//!
//! For each file and each provider: every `valid` case must verify, every `invalid` case must
//! be rejected, and `acceptable` cases are counted but not asserted.

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};
#[cfg(feature = "aws-lc-rs")]
use tower_jwt_auth::crypto::AWS_LC_PROVIDER;
use tower_jwt_auth::crypto::RING_PROVIDER;
use wycheproof::{
    ecdsa, eddsa, mac, rsa_pkcs1_verify, rsa_pss_verify, EdwardsCurve, EllipticCurve, HashFunction,
    Mgf, TestResult, WycheproofError,
};

/// The providers under test, by name. Every provider runs every file; a new one (behind its
/// feature) is one more `push` here.
fn providers() -> Vec<(&'static str, &'static CryptoProvider)> {
    #[allow(unused_mut)]
    let mut providers = vec![("ring", &RING_PROVIDER)];
    #[cfg(feature = "aws-lc-rs")]
    providers.push(("aws-lc-rs", &AWS_LC_PROVIDER));
    #[cfg(feature = "ed25519-dalek")]
    providers.push(("ed25519-dalek", &tower_jwt_auth::crypto::DALEK_PROVIDER));
    providers
}

/// One vector file, in the shape the runner needs (the `wycheproof` crate has one set of types
/// per primitive; each test below maps its set into this).
struct Vectors {
    /// The upstream file name, for the messages.
    file: &'static str,
    /// The file's `numberOfTests`.
    declared: usize,
    groups: Vec<Group>,
}

struct Group {
    /// The algorithm to run the group's cases with, or why the group does not apply.
    algorithm: Result<Algorithm, &'static str>,
    cases: Vec<Case>,
}

struct Case {
    tc_id: usize,
    comment: String,
    msg: Vec<u8>,
    /// The signature, or the tag for MACs.
    sig: Vec<u8>,
    result: TestResult,
    /// The key(s) to verify the case with. With several (e.g. RSA as DER and as n/e), every one
    /// must give the same answer. Empty in a group that does not apply.
    keys: Vec<DecodingKey>,
}

impl Case {
    fn new(
        tc_id: usize,
        comment: &str,
        msg: &[u8],
        sig: &[u8],
        result: TestResult,
        keys: Vec<DecodingKey>,
    ) -> Self {
        Self {
            tc_id,
            comment: comment.to_owned(),
            msg: msg.to_vec(),
            sig: sig.to_vec(),
            result,
            keys,
        }
    }
}

/// A test set of the `wycheproof` crate, or a panic naming the file when it cannot be loaded.
fn load<T>(file: &str, set: Result<T, WycheproofError>) -> T {
    set.unwrap_or_else(|e| panic!("Wycheproof vectors {file} (wycheproof crate): {e}"))
}

fn run(vectors: &Vectors) {
    for (backend, provider) in providers() {
        run_with(vectors, backend, provider);
    }
}

/// Runs every case of `vectors` against `provider`.
fn run_with(vectors: &Vectors, backend: &str, provider: &CryptoProvider) {
    let file = vectors.file;
    let (mut valid_ok, mut invalid_rejected, mut acceptable, mut not_applicable) = (0, 0, 0, 0);
    let mut acceptable_verified = 0;
    let mut reasons: Vec<&str> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut total = 0;

    for group in &vectors.groups {
        total += group.cases.len();
        let algorithm = match group.algorithm {
            Ok(algorithm) => algorithm,
            Err(reason) => {
                not_applicable += group.cases.len();
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
                continue;
            }
        };
        for case in &group.cases {
            let id = case.tc_id;
            let outcomes: Vec<bool> = case
                .keys
                .iter()
                .map(|key| match (provider.verifier_factory)(&algorithm, key) {
                    Ok(verifier) => verifier.verify(&case.msg, &case.sig).is_ok(),
                    // A key the factory refuses verifies nothing.
                    Err(_) => false,
                })
                .collect();
            let verified = outcomes.first().copied().expect("at least one key");
            if outcomes.iter().any(|&o| o != verified) {
                failures.push(format!("tcId {id}: key encodings disagree: {outcomes:?}"));
            }
            let comment = &case.comment;
            match case.result {
                TestResult::Valid if verified => valid_ok += 1,
                TestResult::Valid => {
                    failures.push(format!("tcId {id} ({comment}): valid, not verified"))
                }
                TestResult::Invalid if !verified => invalid_rejected += 1,
                TestResult::Invalid => {
                    failures.push(format!("tcId {id} ({comment}): invalid, verified"))
                }
                TestResult::Acceptable => {
                    acceptable += 1;
                    acceptable_verified += usize::from(verified);
                }
            }
        }
    }

    println!(
        "{file} [{backend}]: {valid_ok} valid ok, {invalid_rejected} invalid rejected, \
         {acceptable} acceptable, {not_applicable} not applicable ({total} cases)"
    );
    if acceptable > 0 {
        println!("  acceptable cases that verified: {acceptable_verified} of {acceptable}");
    }
    for reason in &reasons {
        println!("  not applicable: {reason}");
    }

    assert!(
        failures.is_empty(),
        "{file} [{backend}]:\n{}",
        failures.join("\n")
    );
    assert_eq!(total, vectors.declared, "{file} [{backend}]: numberOfTests");
    let counted = valid_ok + invalid_rejected + acceptable + not_applicable;
    assert_eq!(
        counted, total,
        "{file} [{backend}]: every case accounted for"
    );
    assert!(
        counted - not_applicable > 0,
        "{file} [{backend}]: no case was run"
    );
}

/// An ECDSA file in the IEEE P1363 signature encoding (`r || s`, as JWS carries it).
fn ecdsa_p1363(
    file: &'static str,
    name: ecdsa::TestName,
    curve: EllipticCurve,
    sha: HashFunction,
    algorithm: Algorithm,
) -> Vectors {
    let set = load(file, ecdsa::TestSet::load(name));
    let groups = set
        .test_groups
        .iter()
        .map(|g| {
            assert_eq!(g.test_type, ecdsa::TestGroupTypeId::EcdsaP1363, "{file}");
            assert_eq!(g.key.curve, curve, "{file}");
            assert_eq!(g.hash, sha, "{file}");
            // jsonwebtoken's EC DecodingKey holds the uncompressed SEC1 point.
            let key = DecodingKey::from_ec_der(&g.key.key);
            Group {
                algorithm: Ok(algorithm),
                cases: g
                    .tests
                    .iter()
                    .map(|t| {
                        Case::new(
                            t.tc_id,
                            &t.comment,
                            &t.msg,
                            &t.sig,
                            t.result,
                            vec![key.clone()],
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    Vectors {
        file,
        declared: set.number_of_tests,
        groups,
    }
}

/// An RSA key as jsonwebtoken takes it: from n/e and from the PKCS#1 `RSAPublicKey` DER.
fn rsa_keys(public: &wycheproof::RsaPublic, pkcs1: &[u8]) -> Vec<DecodingKey> {
    // `modulus` has a leading 00 byte (ASN.1 sign); the provider ignores leading zeros.
    // `publicKeyAsn` is the PKCS#1 RSAPublicKey, what `DecodingKey::from_rsa_pem` stores.
    vec![
        DecodingKey::from_rsa_raw_components(&public.n, &public.e),
        DecodingKey::from_rsa_der(pkcs1),
    ]
}

#[test]
fn ecdsa_p256_sha256_p1363_es256() {
    run(&ecdsa_p1363(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
        EllipticCurve::Secp256r1,
        HashFunction::Sha2_256,
        Algorithm::ES256,
    ));
}

#[test]
fn ecdsa_p384_sha384_p1363_es384() {
    run(&ecdsa_p1363(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
        EllipticCurve::Secp384r1,
        HashFunction::Sha2_384,
        Algorithm::ES384,
    ));
}

#[test]
fn ed25519_eddsa() {
    let file = "ed25519_test.json";
    let set = load(file, eddsa::TestSet::load(eddsa::TestName::Ed25519));
    let groups = set
        .test_groups
        .iter()
        .map(|g| {
            assert_eq!(g.test_type, eddsa::TestGroupTypeId::Eddsa, "{file}");
            assert_eq!(g.key.curve, EdwardsCurve::Ed25519, "{file}");
            // jsonwebtoken's EdDSA DecodingKey holds the 32 raw public key bytes.
            let key = DecodingKey::from_ed_der(&g.key.pk);
            Group {
                algorithm: Ok(Algorithm::EdDSA),
                cases: g
                    .tests
                    .iter()
                    .map(|t| {
                        Case::new(
                            t.tc_id,
                            &t.comment,
                            &t.msg,
                            &t.sig,
                            t.result,
                            vec![key.clone()],
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    run(&Vectors {
        file,
        declared: set.number_of_tests,
        groups,
    });
}

#[test]
fn rsa_pkcs1_2048_sha256_rs256() {
    let file = "rsa_signature_2048_sha256_test.json";
    let set = load(
        file,
        rsa_pkcs1_verify::TestSet::load(rsa_pkcs1_verify::TestName::Rsa2048Sha256),
    );
    let groups = set
        .test_groups
        .iter()
        .map(|g| {
            assert_eq!(
                g.test_type,
                rsa_pkcs1_verify::TestGroupTypeId::RsaPkcs1Verify,
                "{file}"
            );
            assert_eq!(g.hash, HashFunction::Sha2_256, "{file}");
            let keys = rsa_keys(&g.key, &g.asn_key);
            Group {
                algorithm: Ok(Algorithm::RS256),
                cases: g
                    .tests
                    .iter()
                    .map(|t| Case::new(t.tc_id, &t.comment, &t.msg, &t.sig, t.result, keys.clone()))
                    .collect(),
            }
        })
        .collect();
    run(&Vectors {
        file,
        declared: set.number_of_tests,
        groups,
    });
}

#[test]
fn rsa_pss_2048_sha256_mgf1_32_ps256() {
    let file = "rsa_pss_2048_sha256_mgf1_32_test.json";
    let set = load(
        file,
        rsa_pss_verify::TestSet::load(rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen32),
    );
    let groups = set
        .test_groups
        .iter()
        .map(|g| {
            // PS256 is PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt (RFC 7518 3.5).
            assert_eq!(
                g.test_type,
                rsa_pss_verify::TestGroupTypeId::RsaPssVerify,
                "{file}"
            );
            assert_eq!(g.hash, HashFunction::Sha2_256, "{file}");
            assert_eq!(g.mgf, Mgf::Mgf1, "{file}");
            assert_eq!(g.mgf_hash, Some(HashFunction::Sha2_256), "{file}");
            assert_eq!(g.salt_size, 32, "{file}");
            let keys = rsa_keys(&g.key, &g.asn_key);
            Group {
                algorithm: Ok(Algorithm::PS256),
                cases: g
                    .tests
                    .iter()
                    .map(|t| Case::new(t.tc_id, &t.comment, &t.msg, &t.sig, t.result, keys.clone()))
                    .collect(),
            }
        })
        .collect();
    run(&Vectors {
        file,
        declared: set.number_of_tests,
        groups,
    });
}

#[test]
fn hmac_sha256_hs256() {
    let file = "hmac_sha256_test.json";
    let set = load(file, mac::TestSet::load(mac::TestName::HmacSha256));
    let groups = set
        .test_groups
        .iter()
        .map(|g| {
            assert_eq!(g.test_type, mac::TestGroupTypeId::Mac, "{file}");
            // HS256 carries the full 256-bit tag; truncated-tag groups are not JWS.
            if g.tag_size != 256 {
                return Group {
                    algorithm: Err("HMAC groups with a tag size other than 256 bits (not HS256)"),
                    cases: g
                        .tests
                        .iter()
                        .map(|t| Case::new(t.tc_id, &t.comment, &t.msg, &t.tag, t.result, vec![]))
                        .collect(),
                };
            }
            Group {
                algorithm: Ok(Algorithm::HS256),
                cases: g
                    .tests
                    .iter()
                    .map(|t| {
                        // The key is per test case; every key in these groups is non-empty.
                        let key = DecodingKey::from_secret(&t.key).expect("non-empty key");
                        Case::new(t.tc_id, &t.comment, &t.msg, &t.tag, t.result, vec![key])
                    })
                    .collect(),
            }
        })
        .collect();
    run(&Vectors {
        file,
        declared: set.number_of_tests,
        groups,
    });
}
