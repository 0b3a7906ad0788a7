//! Failover on a real Redis Cluster: a cluster of the test's own (six `redis-server` processes
//! on free loopback ports, `cluster-node-timeout` 5000), two `session` example processes on it
//! (`REDIS_CLUSTER_NODES`) under a steady load of about 100 requests/s, and the primary holding
//! a live session's slot killed (SIGKILL).
//!
//! - A logout on one instance is refused on the other.
//! - Until the failover ends (every surviving node says `cluster_state:ok` and sees the promoted
//!   replica), requests answer 200 or the documented 503 (`session_store_unavailable`,
//!   `revocation_unavailable`): never another 5xx.
//! - Within 5 s after it, the same processes serve normally: no restart.
//! - Every token revoked before the kill is still refused; every session not ended still
//!   refreshes (a rotation answered 503 is retried with the same refresh token).
//!
//! Prints the failover time and the count of 503s. The cluster and the examples are killed when
//! the test ends, a panic included. Without `redis-server` the test is skipped with a message,
//! unless `REQUIRE_REDIS_CLUSTER=1` or `REQUIRE_REDIS=1`.

mod session_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use session_support::cluster::OwnCluster;

const SECRET: &str = "failover-test-secret-of-at-least-32-bytes";

/// The `session` example, built once with this test's features into this test's target
/// directory.
fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
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
        // The features of this test run, as tests/metrics.rs builds the examples: after it, a
        // build with nothing to do.
        let features: Vec<&str> = [
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
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| *f)
        .collect();
        let status = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--target-dir"])
            .arg(target_dir)
            .args(["--no-default-features", "--features", &features.join(",")])
            .args(["--example", "session"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the example builds");
    });
    debug.join("examples").join("session")
}

/// A `session` example process, killed on drop.
struct Instance {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Instance {
    async fn start(nodes: &str) -> Self {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut child = Command::new(example())
            .env_clear()
            .env("ADDR", addr.to_string())
            .env("JWT_SECRET", SECRET)
            .env("REDIS_CLUSTER_NODES", nodes)
            .env("REFRESH_GRACE_SECS", "60")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut sink = sink.lock().unwrap();
                sink.push_str(&line);
                sink.push('\n');
            }
        });
        let instance = Self {
            child,
            addr,
            stderr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(
            instance.call("GET", "/healthz", None, "").await,
            Ok((200, _))
        ) {
            assert!(
                Instant::now() < deadline,
                "the example did not start; its stderr:\n{}",
                instance.stderr.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        instance
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> Result<(u16, String), String> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let call = self.client.request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        );
        let response = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .map_err(|_| "no answer within 5 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            status,
            String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        ))
    }

    async fn login(&self) -> Session {
        let body = r#"{"username":"demo","password":"demo-password"}"#;
        let (status, body) = self.call("POST", "/auth/login", None, body).await.unwrap();
        assert_eq!(status, 200, "{body}");
        Session::from_pair(&body)
    }

    async fn me(&self, access: &str) -> Result<(u16, String), String> {
        self.call("GET", "/api/me", Some(access), "").await
    }

    async fn refresh(&self, refresh: &str) -> Result<(u16, String), String> {
        let body = serde_json::json!({ "refresh_token": refresh }).to_string();
        self.call("POST", "/auth/refresh", None, &body).await
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Debug)]
struct Session {
    sid: String,
    access: String,
    refresh: String,
}

impl Session {
    fn from_pair(body: &str) -> Self {
        let pair: Value = serde_json::from_str(body).unwrap();
        let access = pair["access_token"].as_str().unwrap().to_owned();
        let payload = access.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        Self {
            sid: claims["sid"].as_str().unwrap().to_owned(),
            access,
            refresh: pair["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// What the load saw: counts by status, and every answer that was neither 200 nor the
/// documented 503.
#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u64>,
    errors: u64,
    wrong: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: &str, answer: &Result<(u16, String), String>) {
        match answer {
            Ok((status, body)) => {
                *self.by_status.entry(*status).or_default() += 1;
                let documented = *status == 503
                    && (body.contains("session_store_unavailable")
                        || body.contains("revocation_unavailable"));
                if *status != 200 && !documented {
                    self.wrong.push(format!("{what}: {status} {body}"));
                }
            }
            Err(e) => {
                self.errors += 1;
                self.wrong.push(format!("{what}: no answer: {e}"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_killed_under_load_loses_nothing_acknowledged() {
    let ports = OwnCluster::free_ports();
    let Some(mut cluster) = OwnCluster::start(ports) else {
        return;
    };
    let nodes = cluster.nodes();
    let a = Arc::new(Instance::start(&nodes).await);
    let b = Arc::new(Instance::start(&nodes).await);

    // Twelve sessions of the demo user, half opened on each instance.
    let mut sessions = Vec::new();
    for i in 0..12 {
        let on = if i % 2 == 0 { &a } else { &b };
        sessions.push(on.login().await);
    }
    // Four are logged out on A: refused on B at once, their access and refresh tokens both.
    let revoked: Vec<Session> = sessions.drain(..4).collect();
    for session in &revoked {
        let (status, body) = a
            .call("POST", "/auth/logout", Some(&session.access), "")
            .await
            .unwrap();
        assert!(status == 200 || status == 204, "logout: {status} {body}");
        assert_eq!(
            b.me(&session.access).await.unwrap().0,
            401,
            "refused on the other instance"
        );
    }
    for session in &revoked {
        assert_eq!(b.refresh(&session.refresh).await.unwrap().0, 401);
    }

    // The victim: the primary holding the slot of a live session.
    let victim_session = sessions[0].clone();
    let victim = cluster.primary_of(&format!("{{{}}}", victim_session.sid));
    let survivors: Vec<u16> = ports.iter().copied().filter(|p| *p != victim).collect();

    // The load: about 100 requests/s over both instances, /api/me with a live session's access
    // token, and every fifth request a refresh of a session (a 503 keeps the same refresh token
    // for the retry).
    let live = Arc::new(Mutex::new(sessions));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (a, b, live, tally, stop) = (
            a.clone(),
            b.clone(),
            live.clone(),
            tally.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0usize;
            while !stop.load(Ordering::Acquire) {
                tick.tick().await;
                n += 1;
                let on = if n.is_multiple_of(2) { &a } else { &b };
                let count = live.lock().unwrap().len();
                let i = n / 2 % count;
                let session = live.lock().unwrap()[i].clone();
                if n.is_multiple_of(5) {
                    let answer = on.refresh(&session.refresh).await;
                    if let Ok((200, body)) = &answer {
                        live.lock().unwrap()[i] = Session::from_pair(body);
                    }
                    tally.lock().unwrap().record("refresh", &answer);
                } else {
                    let answer = on.me(&session.access).await;
                    tally.lock().unwrap().record("/api/me", &answer);
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = tally.lock().unwrap().by_status.clone();

    // Kill the primary; the failover ends when every survivor agrees on the new primaries.
    let killed_at = Instant::now();
    cluster.kill(victim);
    let cluster = Arc::new(cluster);
    let failover = {
        let (cluster, survivors) = (cluster.clone(), survivors.clone());
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            while !cluster.agreed(&survivors) {
                if started.elapsed() > Duration::from_secs(60) {
                    let logs: Vec<String> = survivors
                        .iter()
                        .map(|p| format!("-- {p}:\n{}", cluster.log_tail(*p, 12)))
                        .collect();
                    panic!(
                        "no failover within 60 s; the nodes:\n{}\n{}",
                        session_support::cluster::cli(survivors[0], &["cluster", "nodes"]),
                        logs.join("\n")
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    failover.await.unwrap();
    let failover_time = killed_at.elapsed();
    let during = {
        let tally = tally.lock().unwrap();
        let mut during = tally.by_status.clone();
        for (status, n) in &before {
            *during.entry(*status).or_default() -= n;
        }
        during
    };

    // Within 5 s after the failover, the same processes serve every live session normally.
    let ended_at = Instant::now();
    let recovered = loop {
        let snapshot = live.lock().unwrap().clone();
        let mut all_ok = true;
        for (i, session) in snapshot.iter().enumerate() {
            let on = if i % 2 == 0 { &a } else { &b };
            if !matches!(on.me(&session.access).await, Ok((200, _))) {
                all_ok = false;
            }
        }
        if all_ok {
            break ended_at.elapsed();
        }
        assert!(
            ended_at.elapsed() < Duration::from_secs(5),
            "the instances did not serve normally within 5 s after the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Release);
    load.await.unwrap();

    // Revoked before the kill: still refused, on both instances.
    for session in &revoked {
        for on in [&a, &b] {
            assert_eq!(
                on.me(&session.access).await.unwrap().0,
                401,
                "a revoked token passed"
            );
            assert_eq!(on.refresh(&session.refresh).await.unwrap().0, 401);
        }
    }
    // Not ended: every session still refreshes (its newest refresh token, the one a 503 left
    // it with included), on either instance.
    let sessions = live.lock().unwrap().clone();
    for (i, session) in sessions.iter().enumerate() {
        let on = if i % 2 == 0 { &b } else { &a };
        let (status, body) = on.refresh(&session.refresh).await.unwrap();
        assert_eq!(
            status, 200,
            "session {i} refreshes after the failover: {body}"
        );
    }

    let tally = tally.lock().unwrap();
    let total: u64 = tally.by_status.values().sum();
    println!(
        "failover: killed primary 127.0.0.1:{victim} (slot of session {}); failover took {:.1} s \
         (until every survivor saw the promoted replica and cluster_state:ok); normal service \
         {:.1} s after it",
        victim_session.sid,
        failover_time.as_secs_f64(),
        recovered.as_secs_f64()
    );
    println!(
        "failover: {total} requests in all: {:?} by status; during the failover: {:?}; \
         503s: {}; other answers: {}",
        tally.by_status,
        during,
        tally.by_status.get(&503).copied().unwrap_or(0),
        tally.wrong.len()
    );
    assert!(
        tally.wrong.is_empty(),
        "answers other than 200 or the documented 503: {:#?}",
        &tally.wrong[..tally.wrong.len().min(20)]
    );
}

/// `REDIS_URL` and `REDIS_CLUSTER_NODES` both set: the example refuses to start, with a message
/// that names both, and a nonzero exit.
#[test]
fn both_redis_url_and_cluster_nodes_is_a_startup_error() {
    let output = Command::new(example())
        .env_clear()
        .env("ADDR", "127.0.0.1:0")
        .env("JWT_SECRET", SECRET)
        .env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("REDIS_CLUSTER_NODES", "127.0.0.1:7101,127.0.0.1:7102")
        .output()
        .expect("the example runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("REDIS_URL and REDIS_CLUSTER_NODES are both set"),
        "{stderr}"
    );
}
