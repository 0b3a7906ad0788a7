//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the invariants the
//! fuzz targets check (`fuzz/invariants/`), as ordinary tests on stable, and keeps each
//! finding of the fuzzers as a regression test. A corpus directory that is missing or empty
//! fails its test. Needs the hidden `fuzzing` feature (`cargo test --all-features`).

#[path = "../fuzz/invariants/common.rs"]
mod common;
#[path = "../fuzz/invariants/csrf.rs"]
mod csrf;
#[path = "../fuzz/invariants/jwk.rs"]
mod jwk;
#[path = "../fuzz/invariants/jws.rs"]
mod jws;
#[path = "../fuzz/invariants/request_head.rs"]
mod request_head;
#[path = "../fuzz/invariants/roles.rs"]
mod roles;
#[path = "../fuzz/invariants/session.rs"]
mod session;

use std::path::PathBuf;

/// Every file of `fuzz/corpus/<target>/` through `check`; fails when there is none, and when
/// no file reaches the accepting side of the invariant (a corpus that never passes the layer
/// would check nothing).
fn replay(target: &str, check: fn(&[u8]) -> bool) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("the corpus {} is missing: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    let mut accepted = 0;
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        match std::panic::catch_unwind(|| check(&data)) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => failed.push(file.display().to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: these fail their invariant: {failed:#?}"
    );
    assert!(
        accepted > 0,
        "{target}: no corpus file reaches the accepting side"
    );
    println!(
        "{target}: {} corpus files replayed, {accepted} accepted",
        files.len()
    );
}

#[test]
fn corpus_jws() {
    replay("jws", jws::check);
}

#[test]
fn corpus_request_head() {
    replay("request_head", request_head::check);
}

#[test]
fn corpus_jwk() {
    replay("jwk", jwk::check);
}

#[test]
fn corpus_session() {
    replay("session", session::check);
}

#[test]
fn corpus_csrf() {
    replay("csrf", csrf::check);
}

#[test]
fn corpus_roles() {
    replay("roles", roles::check);
}

// ---------------------------------------------------------------------------------------------
// Findings of the fuzzers, each kept as the input that found it.

/// `jwk`: a `max-age` with stray quotes or a sign was taken as a cache lifetime.
#[test]
fn finding_cache_control_max_age_is_digits_only() {
    for value in [
        "max-age=+60",
        "max-age=\"60",
        "max-age=60\"",
        "max-age=\"\"60\"\"",
        "public, max-age=\"+1\"",
    ] {
        let mut input = vec![0u8];
        input.extend_from_slice(value.as_bytes());
        assert!(!jwk::check(&input), "{value}");
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static(value),
        );
        assert_eq!(
            tower_jwt_auth::fuzzing::cache_max_age(&headers),
            None,
            "{value}"
        );
    }
}

/// `jwk`: a JSON array was read as a JWK set (serde takes a struct from an array of its
/// fields' values), found as `crash-aecbafd1…` (mode byte `[`, remote set mode 3).
#[test]
fn finding_a_jwk_set_is_an_object() {
    let input = b"[[[[[]]] ]";
    assert!(!jwk::check(input));
    assert!(tower_jwt_auth::fuzzing::parse_jwks(&input[1..], true).is_err());
    assert!(tower_jwt_auth::Key::from_jwks("[[{\"kty\": \"oct\"}]]").is_err());
}

/// `roles`: a name repeated inside a claim on a role path granted the roles of every copy,
/// while the claims the handler reads hold only the last one (issue #19, point 6): the
/// review's inputs, and the three the `roles` target found in its 10-minute run
/// (`fuzz/findings/roles/`).
#[test]
fn finding_nested_duplicate_names_grant_no_roles() {
    for claims in [
        r#"{"realm_access":{"roles":["staff"],"roles":[]}}"#,
        r#"{"resource_access":{"my-api":{"roles":["staff"]},"my-api":{}}}"#,
    ] {
        let _ = roles::check(claims.as_bytes());
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/findings/roles");
    let mut found = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/findings/roles") {
        let data = std::fs::read(entry.expect("an entry").path()).expect("a finding");
        let _ = roles::check(&data);
        found += 1;
    }
    assert!(found > 0, "no finding in {}", dir.display());
}
