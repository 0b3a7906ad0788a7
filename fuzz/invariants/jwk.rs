//! `jwk`: JWK and JWKS documents, and the `Cache-Control` of a key server's answer.
//!
//! Input: one mode byte, then
//! - even modes: `Cache-Control` field values, one a line;
//! - odd modes: a JWK set document, read as a remote key set (mode 1) and as
//!   `Key::from_jwks` (mode 3).
//!
//! Invariants: the cache lifetime is the reference reading of RFC 9111 §5.2.2 (`no-store` or
//! `no-cache` anywhere is zero, else the last `max-age` whose argument is digits, optionally in
//! one pair of quotes; a value beyond `u64` is 2^31 seconds). Every key taken from a set comes
//! from an entry of the `keys` array serde_json reads, has a `kid` no other entry has (or
//! none), and no entry marked for another use than `sig`; a remote set takes no symmetric key;
//! no key allows `none`; and a document serde_json cannot read as `{"keys": [...]}` is refused.
#![allow(dead_code)]

use std::time::Duration;

use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use tower_jwt_auth::{Algorithm, Key};

/// The reference reading of a response's `Cache-Control` fields.
pub fn reference_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut result = None;
    for field in headers.get_all(CACHE_CONTROL) {
        let Ok(field) = field.to_str() else {
            continue;
        };
        for directive in field.split(',') {
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim(), Some(arg.trim())),
                None => (directive.trim(), None),
            };
            let name = name.to_ascii_lowercase();
            if name == "no-store" || name == "no-cache" {
                return Some(Duration::ZERO);
            }
            if name != "max-age" {
                continue;
            }
            let Some(arg) = arg else { continue };
            let digits = if arg.len() >= 2 && arg.starts_with('"') && arg.ends_with('"') {
                &arg[1..arg.len() - 1]
            } else {
                arg
            };
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                let secs = digits.parse::<u64>().unwrap_or(1 << 31);
                result = Some(Duration::from_secs(secs));
            }
        }
    }
    result
}

fn check_cache_control(data: &[u8]) -> bool {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(CACHE_CONTROL, value);
        }
    }
    let max_age = tower_jwt_auth::fuzzing::cache_max_age(&headers);
    assert_eq!(
        max_age,
        reference_max_age(&headers),
        "Cache-Control read differently from RFC 9111: {headers:?}"
    );
    max_age.is_some()
}

fn check_keys(document: &[u8], keys: &[Key]) {
    let entries: Vec<Value> = serde_json::from_slice::<Value>(document)
        .ok()
        .and_then(|doc| doc.get("keys").and_then(Value::as_array).cloned())
        .expect("a set with keys is an object with a keys array");
    assert!(keys.len() <= entries.len(), "more keys than entries");
    for key in keys {
        assert!(
            !key.algorithms().is_empty(),
            "a key that allows no algorithm"
        );
        if let Some(kid) = key.kid() {
            let same: Vec<&Value> = entries
                .iter()
                .filter(|entry| entry.get("kid").and_then(Value::as_str) == Some(kid))
                .collect();
            assert_eq!(
                same.len(),
                1,
                "a key whose kid {kid:?} is not its entry's alone"
            );
            if let Some(usage) = same[0].get("use") {
                assert_eq!(usage, "sig", "a key taken from an entry meant for {usage}");
            }
        }
    }
}

fn check_jwks(document: &[u8], allow_symmetric: bool) -> bool {
    let parsed = tower_jwt_auth::fuzzing::parse_jwks(document, allow_symmetric);
    let readable = serde_json::from_slice::<Value>(document)
        .ok()
        .is_some_and(|doc| doc.get("keys").is_some_and(Value::is_array));
    let Ok((keys, _skipped)) = parsed else {
        return false;
    };
    assert!(readable, "a document that is not a JWK set was read as one");
    check_keys(document, &keys);
    if !allow_symmetric {
        for key in &keys {
            assert!(
                !key.algorithms()
                    .iter()
                    .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)),
                "a remote key set took a symmetric key"
            );
        }
    } else if let Ok(text) = std::str::from_utf8(document) {
        if let Ok(public) = Key::from_jwks(text) {
            assert_eq!(
                public.len(),
                keys.len(),
                "Key::from_jwks and the parse disagree"
            );
        }
    }
    !keys.is_empty()
}

/// Checks the invariants for one input; `true` when a lifetime or a key was read.
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    match mode % 4 {
        0 | 2 => check_cache_control(rest),
        1 => check_jwks(rest, false),
        _ => check_jwks(rest, true),
    }
}
