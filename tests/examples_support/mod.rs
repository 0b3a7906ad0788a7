//! Building the examples that tests run as child processes: with exactly the features of the
//! test (`cargo build --example …`, a no-op after `cargo test --all-features` built them), into
//! the test's own target directory.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The features this test was built with, for building the examples the same way.
fn features() -> String {
    let all = [
        // `--all-features` turns `default` on too: named, so that the build matches.
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

/// The path of the example `name`. The first call of a test binary builds `all` (which holds
/// `name`) in one `cargo build`.
pub fn example(name: &str, all: &[&str]) -> PathBuf {
    // target/debug/deps/<test>-<hash> → target/debug/examples/<name>
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let target_dir = debug.parent().expect("target/<profile>");
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        // Not the variables cargo set for this test: build scripts would see another
        // environment than the outer build's, and build again.
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
            .arg("build")
            .arg("--target-dir")
            .arg(target_dir)
            .args(["--no-default-features", "--features", &features()])
            .args(all.iter().flat_map(|example| ["--example", example]))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the examples build");
    });
    let path = debug.join("examples").join(name);
    assert!(path.exists(), "{} exists", path.display());
    path
}
