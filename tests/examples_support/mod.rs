//! Building the examples that tests run as child processes: with exactly the features of the
//! test (`cargo build --example …`, a no-op after `cargo test --all-features` built them), into
//! the test's own target directory.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

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

/// A free port on 127.0.0.1.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// An example running as a child process on a free port of 127.0.0.1, killed on drop; its
/// stderr is collected.
pub struct Running {
    child: Child,
    /// Where it listens (its `ADDR`).
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts the example at `path` with nothing in its environment but `ADDR` and `env`.
    pub fn spawn(path: PathBuf, env: &[(&str, &str)]) -> Self {
        let addr = free_addr();
        let mut command = Command::new(path);
        command
            .env_clear()
            .env("ADDR", addr.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the example starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        Self {
            child,
            addr,
            stderr,
        }
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
