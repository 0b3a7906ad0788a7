//! DPoP against a real authorization server: node-oidc-provider 9 (npm, `tests/interop/node`)
//! issues DPoP-bound JWT access tokens (client credentials, resource indicators,
//! `accessTokenFormat: 'jwt'`, ES256) to a client whose proofs jose makes; the `jwks` example,
//! in `DPOP=required` mode with OIDC discovery of the provider, verifies them end to end.
//!
//! The npm packages are installed with `npm ci` from the committed `package-lock.json` into
//! `tests/interop/node/node_modules` (gitignored) when missing. Without `node` and `npm` the
//! test is skipped with a message, unless `REQUIRE_NODE=1` (set by `.ci/test`).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/node")
}

/// `node` with the interop packages installed, or `None` (after saying why).
fn node_ready() -> Option<()> {
    let skip = |message: &str| {
        if std::env::var("REQUIRE_NODE").as_deref() == Ok("1") {
            panic!("REQUIRE_NODE=1: {message}");
        }
        eprintln!("skipped: {message}; set REQUIRE_NODE=1 to fail instead");
        None
    };
    let works = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !works("node") || !works("npm") {
        return skip("node and npm are not available");
    }
    let dir = node_dir();
    if !dir.join("node_modules/oidc-provider").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return skip("npm ci in tests/interop/node failed");
        }
    }
    Some(())
}

/// The features this test was built with, for building the example the same way (one build
/// of the library serves both).
fn features() -> String {
    let all = [
        ("default", cfg!(feature = "default")),
        ("axum", cfg!(feature = "axum")),
        ("tonic", cfg!(feature = "tonic")),
        ("tracing", cfg!(feature = "tracing")),
        ("jwks", cfg!(feature = "jwks")),
        ("aws-lc-rs", cfg!(feature = "aws-lc-rs")),
        ("ed25519-dalek", cfg!(feature = "ed25519-dalek")),
        ("redis", cfg!(feature = "redis")),
        ("metrics", cfg!(feature = "metrics")),
        ("full", cfg!(feature = "full")),
        ("fuzzing", cfg!(feature = "fuzzing")),
    ];
    let on: Vec<_> = all.iter().filter(|(_, on)| *on).map(|(f, _)| *f).collect();
    on.join(",")
}

/// The `jwks` example, built once into this test's target directory (as `tests/metrics.rs`).
fn jwks_example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let target_dir = debug.parent().expect("target/<profile>");
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_for_tests = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name);
            if set_for_tests {
                cargo.env_remove(&*name);
            }
        }
        let status = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--target-dir"])
            .arg(target_dir)
            .args(["--no-default-features", "--features", &features()])
            .args(["--example", "jwks"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the jwks example builds");
    });
    debug.join("examples").join("jwks")
}

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits until `addr` accepts connections.
fn wait_listening(addr: SocketAddr) {
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "{addr} listens");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn node_oidc_provider_tokens_are_verified_end_to_end_through_the_jwks_example() {
    if node_ready().is_none() {
        return;
    }
    let jwks = jwks_example();
    let mut node = Killed(
        Command::new("node")
            .arg("interop.mjs")
            .current_dir(node_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts"),
    );
    let mut stdout = BufReader::new(node.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let issuer = line
        .trim()
        .strip_prefix("ISSUER ")
        .unwrap_or_else(|| panic!("the provider's issuer, not {line:?}"))
        .to_owned();
    eprintln!("interop: node-oidc-provider at {issuer}");

    let addr = free_addr();
    let _api = Killed(
        Command::new(jwks)
            .env_clear()
            .env("ADDR", addr.to_string())
            .env("OIDC_DISCOVERY", "1")
            .env("JWT_ISSUER", &issuer)
            .env("JWT_AUDIENCE", "https://api.example")
            .env("DPOP", "required")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the jwks example starts"),
    );
    wait_listening(addr);
    let mut stdin = node.0.stdin.take().unwrap();
    writeln!(stdin, "http://{addr}").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    eprintln!("interop: {}", line.trim());
    let results: Value = serde_json::from_str(&line).expect("one JSON line of results");

    assert_eq!(results["token_status"], 200);
    assert_eq!(results["token_type"], "DPoP");
    assert_eq!(results["typ"], "at+jwt");
    assert_eq!(results["alg"], "ES256");
    assert_eq!(results["cnf_jkt_matches"], true);
    assert_eq!(results["with_proof"]["status"], 200, "{results}");
    let refused = |case: &str, reason: &str| {
        assert_eq!(
            (&results[case]["status"], &results[case]["reason"]),
            (&json!(401), &json!(reason)),
            "{case}: {results}"
        );
    };
    refused("replayed", "invalid_dpop_proof");
    refused("as_bearer", "dpop_required");
    refused("other_key", "invalid_dpop_proof");
    refused("wrong_htu", "invalid_dpop_proof");
    refused("no_token", "missing");
    // Required mode: the DPoP challenge alone, with the algorithms.
    let challenge = results["as_bearer"]["challenges"].as_str().unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("algs=\"ES256 EdDSA PS256 RS256\""),
        "{challenge}"
    );
}
