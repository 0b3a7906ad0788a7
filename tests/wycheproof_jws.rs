//! Wycheproof's `json_web_signature_test.json` through the layer's own verification.
//!
//! Each case gets a layer whose one key comes from the group's JWK (`public`, or `private` for
//! the groups that only have a symmetric key) through [`Key::from_jwk`]: bound to the JWK's
//! `alg` (or the one its type implies), named by its `kid`, and refused when it is meant for
//! encryption (`use: enc`, `key_ops` without `verify`). The case's string then goes through that
//! layer's [`TokenVerifier`](tower_jwt_auth::TokenVerifier).
//!
//! The payloads of these vectors (`foo`, `Test`, raw bytes) are not JWT claims sets, so a token
//! that passes every JWS check (structure, header, algorithm, key, signature) fails right after,
//! at the claims stage, with exactly the `malformed` error "The token's claims are not a valid
//! claims set". That exact error counts as "JWS accepted"; anything else as "JWS rejected".
//!
//! Every `invalid` case must be rejected and every `valid` one accepted, except the deviations
//! listed in [`DEVIATIONS`], each with its reason; the test also asserts that the deviations are
//! exactly those, so any change in behaviour fails it. A case whose key cannot be loaded counts
//! as rejected. JSON-serialization cases are fed as their JSON text and must be rejected.
//!
//! The file ships with the crate in `tests/data/wycheproof/` (unmodified upstream copy; license
//! and provenance beside it); a missing file fails the test.

mod common;

use std::collections::BTreeMap;

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use tower_jwt_auth::{ErrorKind, JwtAuthLayer, Key};

const FILE: &str = "json_web_signature_test.json";

/// The error a token gets when its JWS is fine but its payload is not a claims set.
const CLAIMS_NOT_A_SET: &str = "The token's claims are not a valid claims set";

/// Where the layer's outcome differs from the vector's label, by tcId, with the reason.
const DEVIATIONS: &[(u64, &str)] = &[
    // An empty payload segment: a JWT always carries a claims set, so the layer refuses a
    // compact JWS with an empty payload as malformed before any signature work.
    (
        259,
        "valid RS256 with an empty payload: a JWT needs a claims set",
    ),
    (
        264,
        "valid RS384 with an empty payload: a JWT needs a claims set",
    ),
    (
        268,
        "valid RS512 with an empty payload: a JWT needs a claims set",
    ),
    (
        272,
        "valid PS256 with an empty payload: a JWT needs a claims set",
    ),
    (
        320,
        "valid PS384 with an empty payload: a JWT needs a claims set",
    ),
    (
        325,
        "valid PS512 with an empty payload: a JWT needs a claims set",
    ),
    // RFC 7520 Figure 20 is a PS384 signature under a JWK labelled PS256: a key is bound to the
    // algorithm it is configured for (RFC 8725 §3.1), so PS384 is not allowed.
    (
        346,
        "valid PS384 token under a key labelled PS256: key bound to PS256",
    ),
    (
        350,
        "valid PS384 token under a key labelled PS256 (key_ops): key bound to PS256",
    ),
    // ES512 (P-521) is not supported: ring has no P-521, and the key cannot be loaded.
    (347, "valid ES512 (RFC 7520 Figure 27): P-521 unsupported"),
    (
        351,
        "valid ES512 (RFC 7520 Figure 27, key_ops): P-521 unsupported",
    ),
    // Data quirks of the file (security notes §2 C9).
    (
        367,
        "labelled invalid padding, but the string equals the valid tcId 357",
    ),
    (
        370,
        "labelled invalid padding in payload, but the string equals tcId 357",
    ),
    (
        372,
        "labelled valid, but contains '?' in the header: not base64url",
    ),
    (
        373,
        "labelled valid, but contains '?' in the payload: not base64url",
    ),
];

#[derive(Debug)]
enum Outcome {
    /// The JWS passed; the claims stage refused the payload (or, for a claims set, passed).
    Accepted,
    Rejected(String),
    KeyNotLoaded(String),
}

fn load_key(jwk: Option<&Value>) -> Result<Key, String> {
    let json = jwk.ok_or("the group has no JWK")?;
    let parsed: Jwk = serde_json::from_value(json.clone()).map_err(|e| format!("JWK: {e}"))?;
    Key::from_jwk(&parsed).map_err(|e| format!("Key: {e}"))
}

fn run(jwk: Option<&Value>, jws: &str) -> Outcome {
    let key = match load_key(jwk) {
        Ok(key) => key,
        Err(why) => return Outcome::KeyNotLoaded(why),
    };
    let layer = match JwtAuthLayer::<Value>::builder().key(key).build() {
        Ok(layer) => layer,
        Err(e) => return Outcome::KeyNotLoaded(format!("build: {e}")),
    };
    match layer.verifier().verify(jws) {
        Ok(_) => Outcome::Accepted,
        Err(e) if e.kind() == ErrorKind::Malformed && e.description() == CLAIMS_NOT_A_SET => {
            Outcome::Accepted
        }
        Err(e) => Outcome::Rejected(e.to_string()),
    }
}

#[test]
fn json_web_signature_test() {
    common::init();
    let file = common::read_vectors(FILE);
    let groups = file["testGroups"].as_array().unwrap();

    let mut valid_accepted = 0;
    let mut invalid_rejected = 0;
    let mut total = 0;
    // Why the invalid cases were rejected, for the printout.
    let mut rejections = BTreeMap::<String, usize>::new();
    // tcId -> (label, outcome) for every case whose outcome differs from its label.
    let mut deviations = BTreeMap::new();
    for group in groups {
        let jwk = group.get("public").or_else(|| group.get("private"));
        for case in group["tests"].as_array().unwrap() {
            total += 1;
            let tc_id = case["tcId"].as_u64().unwrap();
            let label = case["result"].as_str().unwrap();
            let jws = match &case["jws"] {
                Value::String(compact) => compact.clone(),
                // JSON serialization: not a compact JWS; its JSON text must be refused.
                other => other.to_string(),
            };
            let outcome = run(jwk, &jws);
            let accepted = matches!(outcome, Outcome::Accepted);
            if label == "invalid" {
                let why = match &outcome {
                    Outcome::Accepted => None,
                    Outcome::Rejected(error) => Some(error.clone()),
                    Outcome::KeyNotLoaded(why) => Some(format!("key not loaded: {why}")),
                };
                if let Some(why) = why {
                    *rejections.entry(why).or_default() += 1;
                }
            }
            match (label, accepted) {
                ("valid", true) => valid_accepted += 1,
                ("invalid", false) => invalid_rejected += 1,
                ("valid" | "invalid", _) => {
                    deviations.insert(tc_id, (label.to_owned(), format!("{outcome:?}")));
                }
                (other, _) => panic!("tcId {tc_id}: unexpected result label {other:?}"),
            }
        }
    }

    common::assert_deviations(DEVIATIONS, &deviations);
    assert_eq!(valid_accepted + invalid_rejected + deviations.len(), total);
    assert!(total > 300, "only {total} cases read");
    println!(
        "json_web_signature_test.json: {valid_accepted} valid accepted, {invalid_rejected} \
         invalid rejected, {} documented deviations ({total} cases)",
        deviations.len()
    );
    for (why, count) in &rejections {
        println!("  {count:4} invalid rejected as {why}");
    }
}
