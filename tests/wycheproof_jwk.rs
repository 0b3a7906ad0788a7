//! Wycheproof's `json_web_key_test.json` through the crate's JWK set loader.
//!
//! Each group's key set (`public`, or `private` for the groups that only have symmetric keys)
//! is loaded with [`Key::from_jwks`], which leaves out keys it cannot use and refuses a set that
//! mixes symmetric and asymmetric keys; the loaded keys make a layer, and each case's `jws` goes
//! through that layer's [`TokenVerifier`](tower_jwt_auth::TokenVerifier). Where the set cannot
//! be loaded (or the layer not built), every case of the group counts as rejected.
//!
//! As in `wycheproof_jws.rs`, the payloads (`foo`) are not JWT claims sets, so a JWS that
//! passes every JWS check fails right after, at the claims stage, with exactly the `malformed`
//! error "The token's claims are not a valid claims set": that exact error counts as accepted,
//! anything else as rejected.
//!
//! Every `valid` case must be accepted and every `invalid` one rejected, except the deviations
//! in [`DEVIATIONS`], each with its reason; the deviations must be exactly those. The file
//! ships with the crate in `tests/data/wycheproof/` (unmodified upstream copy; license and
//! provenance beside it); a missing file fails the test.

mod common;

use std::collections::BTreeMap;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::Value;
use tower_jwt_auth::{ErrorKind, JwtAuthLayer, Key};

const FILE: &str = "json_web_key_test.json";

/// The error a token gets when its JWS is fine but its payload is not a claims set.
const CLAIMS_NOT_A_SET: &str = "The token's claims are not a valid claims set";

/// Where the outcome differs from the vector's label, by tcId, with the reason: none. (tcId 7,
/// a 2048-bit RSA modulus with the ROCA fingerprint, CVE-2017-15361, is refused by the loader
/// since the fingerprint check; see `the_roca_key_is_refused_at_configuration`.)
const DEVIATIONS: &[(u64, &str)] = &[];

#[derive(Debug)]
enum Outcome {
    /// The JWS passed; the claims stage refused the payload (or, for a claims set, passed).
    Accepted,
    Rejected(String),
    KeysNotLoaded(String),
}

/// A layer with the usable keys of `set`, or why there is none.
fn layer(set: Option<&Value>) -> Result<JwtAuthLayer<Value>, String> {
    let set = set.ok_or("the group has no key set")?;
    let keys = Key::from_jwks(&set.to_string()).map_err(|e| format!("from_jwks: {e}"))?;
    JwtAuthLayer::<Value>::builder()
        .keys(keys)
        .build()
        .map_err(|e| format!("build: {e}"))
}

fn run(layer: &Result<JwtAuthLayer<Value>, String>, jws: &str) -> Outcome {
    let layer = match layer {
        Ok(layer) => layer,
        Err(why) => return Outcome::KeysNotLoaded(why.clone()),
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
fn json_web_key_test() {
    let file = common::read_vectors(FILE);
    let groups = file["testGroups"].as_array().unwrap();

    let mut valid_accepted = 0;
    let mut invalid_rejected = 0;
    let mut total = 0;
    // Why the invalid cases were rejected, for the printout.
    let mut rejections = BTreeMap::<String, Vec<u64>>::new();
    // tcId -> (label, outcome) for every case whose outcome differs from its label.
    let mut deviations = BTreeMap::new();
    for group in groups {
        let set = group.get("public").or_else(|| group.get("private"));
        let layer = layer(set);
        for case in group["tests"].as_array().unwrap() {
            total += 1;
            let tc_id = case["tcId"].as_u64().unwrap();
            let label = case["result"].as_str().unwrap();
            let jws = case["jws"].as_str().unwrap();
            let outcome = run(&layer, jws);
            let accepted = matches!(outcome, Outcome::Accepted);
            if label == "invalid" {
                let why = match &outcome {
                    Outcome::Accepted => None,
                    Outcome::Rejected(error) => Some(error.clone()),
                    Outcome::KeysNotLoaded(why) => Some(format!("keys not loaded: {why}")),
                };
                if let Some(why) = why {
                    rejections.entry(why).or_default().push(tc_id);
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
    assert_eq!(
        Some(total),
        file["numberOfTests"].as_u64().map(|n| n as usize)
    );
    println!(
        "json_web_key_test.json: {valid_accepted} valid accepted, {invalid_rejected} invalid \
         rejected, {} documented deviations ({total} cases)",
        deviations.len()
    );
    for (why, ids) in &rejections {
        println!("  invalid rejected as {why}: tcId {ids:?}");
    }
}

/// The set of tcId 4: its two keys share a kid, so both are left out, whether the second key's
/// `k` loads (made canonical here) or not (as published: its last character has non-zero
/// trailing bits); the set has no usable key and is refused.
#[test]
fn duplicate_kids_with_both_keys_loadable_are_left_out() {
    let file = common::read_vectors(FILE);
    let group = file["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == "jws_duplicate_kid")
        .unwrap();
    let mut set = group["private"].clone();
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    let keys = set["keys"].as_array_mut().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], keys[1]["kid"]);
    let k = keys[1]["k"].as_str().unwrap().to_owned();
    assert!(
        URL_SAFE_NO_PAD.decode(&k).is_err(),
        "the vector's k is not canonical"
    );
    let canonical = URL_SAFE_NO_PAD.encode(lenient.decode(&k).unwrap());
    assert_ne!(canonical, k);
    keys[1]["k"] = Value::String(canonical);

    // As published: the kid is shared whether or not the second key loads.
    assert!(Key::from_jwks(&group["private"].to_string()).is_err());
    // Both loadable: both left out, nothing usable.
    assert!(Key::from_jwks(&set.to_string()).is_err());
}

/// tcId 7: the group's RSA key has the ROCA fingerprint (CVE-2017-15361). Given alone as a JWK
/// it is refused at configuration with `ConfigError::RocaRsaKey`; in a key set it is left out.
#[test]
fn the_roca_key_is_refused_at_configuration() {
    let file = common::read_vectors(FILE);
    let group = file["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g["tests"]
                .as_array()
                .is_some_and(|t| t.iter().any(|c| c["tcId"] == 7))
        })
        .unwrap();
    let set = group["public"].clone();
    let keys = set["keys"].as_array().unwrap();
    let rsa: Vec<&Value> = keys.iter().filter(|k| k["kty"] == "RSA").collect();
    assert!(!rsa.is_empty(), "the ROCA group has an RSA key");
    for jwk in rsa {
        let (n, e) = (jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
        assert!(matches!(
            Key::rsa_components(tower_jwt_auth::Algorithm::RS256, n, e),
            Err(tower_jwt_auth::ConfigError::RocaRsaKey)
        ));
    }
    // In a set, it is left out: no RSA key of the set is loaded.
    let loaded = Key::from_jwks(&set.to_string()).unwrap_or_default();
    assert!(loaded.iter().all(|key| {
        key.algorithms().iter().all(|alg| {
            !format!("{alg:?}").starts_with("RS") && !format!("{alg:?}").starts_with("PS")
        })
    }));
}
