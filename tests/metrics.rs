//! The examples' metrics and readiness, for real: each example runs as a child process (so the
//! process-wide recorder sees only that example's traffic), is driven over HTTP, and its
//! `/metrics` is scraped with a real client, parsed, and asserted counter by counter.
//!
//! The examples are built first with exactly the features of this test
//! (`cargo build --example …`, a no-op after `cargo test --all-features` built them), and run
//! from the target directory. The `jwks` example verifies tokens against a JWKS server of this
//! test on 127.0.0.1:0, which answers `304 Not Modified` to a matching `If-None-Match` and can be
//! stopped (its runtime shut down) and started again on the same port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The examples as child processes

mod examples_support;

/// The path of the example `name`, built (with the other examples this test runs) once per
/// test run with this test's features into this test's target directory.
fn example(name: &str) -> PathBuf {
    examples_support::example(name, &["axum", "jwks", "session"])
}

/// A running example; its stderr is collected.
struct Example {
    running: examples_support::Running,
    addr: SocketAddr,
}

impl Example {
    async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let mut env = env.to_vec();
        env.push(("RUST_LOG", "warn"));
        let running = examples_support::Running::spawn(example(name), &env);
        let addr = running.addr;
        let example = Self { running, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = example.try_get("/healthz", &[]).await {
                return example;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not answer /healthz within 60 s; its stderr:\n{}",
                example.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr(&self) -> String {
        self.running.stderr()
    }

    async fn try_get(&self, path: &str, headers: &[(&str, &str)]) -> Result<(u16, String), String> {
        self.send("GET", path, headers, String::new()).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> Result<(u16, String), String> {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
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

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        self.try_get(path, headers)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    async fn status(&self, path: &str, token: Option<&str>) -> u16 {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|value| ("authorization", value))
            .into_iter()
            .collect();
        self.get(path, &headers).await.0
    }

    /// `/metrics`, parsed.
    async fn scrape(&self) -> Scrape {
        let (status, text) = self.get("/metrics", &[]).await;
        assert_eq!(status, 200, "{text}");
        Scrape::parse(&text)
    }

    /// Polls `/readyz` until it answers `status`, for at most `within`.
    async fn readyz_turns(&self, status: u16, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (got, body) = self.get("/readyz", &[]).await;
            if got == status {
                return serde_json::from_str(&body).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "/readyz did not turn {status} within {within:?}: {got} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The samples of a Prometheus text exposition: `name{labels}` (labels sorted) → value.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let value: f64 = value.parse().expect("a sample value");
            let key = match series.split_once('{') {
                None => series.to_owned(),
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').expect("closed labels");
                    let mut pairs: Vec<&str> = labels.split(',').collect();
                    pairs.sort_unstable();
                    format!("{name}{{{}}}", pairs.join(","))
                }
            };
            samples.insert(key, value);
        }
        Self {
            text: text.to_owned(),
            samples,
        }
    }

    /// The value of `name` with exactly these labels (any order); 0 when absent is not assumed.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        pairs.sort_unstable();
        self.samples
            .get(&format!("{name}{{{}}}", pairs.join(",")))
            .copied()
    }

    fn assert(&self, name: &str, labels: &[(&str, &str)], expected: f64) {
        assert_eq!(
            self.value(name, labels),
            Some(expected),
            "{name}{labels:?} in\n{}",
            self.text
        );
    }

    /// Every sample of `name`, summed.
    fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(key, _)| key.starts_with(&format!("{name}{{")))
            .map(|(_, value)| value)
            .sum()
    }
}

/// Every reason of the Errors table.
const REASONS: [&str; 15] = [
    "missing",
    "invalid_request",
    "malformed",
    "invalid_signature",
    "algorithm_not_allowed",
    "unknown_key",
    "expired",
    "not_yet_valid",
    "invalid_claims",
    "insufficient_scope",
    "forbidden",
    "key_source_unavailable",
    "revoked",
    "revocation_unavailable",
    "csrf",
];

/// Asserts the failure counters of layer `default`: `counted` as given, every other reason 0.
fn assert_failures(scrape: &Scrape, counted: &[(&str, f64)]) {
    for reason in REASONS {
        let expected = counted
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0.0, |(_, n)| *n);
        scrape.assert(
            "jwt_auth_failures_total",
            &[("layer", "default"), ("reason", reason)],
            expected,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The axum example: static HS256 keys, the verified-token cache

#[tokio::test]
async fn the_axum_example_counts_every_decision_and_cache_lookup() {
    let app = Example::start("axum", &[("JWT_CACHE", "100")]).await;
    let stderr = app.stderr();
    let token = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("TOKEN="))
        .unwrap_or_else(|| panic!("the demo token in\n{stderr}"))
        .to_owned();
    // The signature's last character changed: another signature.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'Q' } else { 'A' });

    assert_eq!(app.status("/me", Some(&token)).await, 200); // accepted, miss
    assert_eq!(app.status("/me", Some(&token)).await, 200); // accepted, hit
    assert_eq!(app.status("/admin", Some(&token)).await, 200); // accepted, hit
    assert_eq!(app.status("/staff", Some(&token)).await, 403); // forbidden, hit
    assert_eq!(app.status("/me", None).await, 401); // missing
    assert_eq!(app.status("/maybe", None).await, 200); // anonymous
                                                       // Under the default status policy a token that no refresh can mend is answered 403.
    assert_eq!(app.status("/maybe", Some("abc")).await, 403); // malformed, miss
    assert_eq!(app.status("/me", Some(&tampered)).await, 403); // invalid_signature, miss
    assert_eq!(app.status("/public", None).await, 200); // no layer
                                                        // The operations routes are not counted.
    assert_eq!(app.get("/healthz", &[]).await.0, 200);
    let (status, body) = app.get("/readyz", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "ready": true, "checks": { "keys": "ok" } })
    );

    let scrape = app.scrape().await;
    let requests = "jwt_auth_requests_total";
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "accepted")],
        3.0,
    );
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "anonymous")],
        1.0,
    );
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "refused")],
        4.0,
    );
    assert_failures(
        &scrape,
        &[
            ("forbidden", 1.0),
            ("missing", 1.0),
            ("malformed", 1.0),
            ("invalid_signature", 1.0),
        ],
    );
    let lookups = "jwt_auth_cache_lookups_total";
    scrape.assert(lookups, &[("layer", "default"), ("result", "hit")], 3.0);
    scrape.assert(lookups, &[("layer", "default"), ("result", "miss")], 3.0);
    // No remote key set in this example.
    assert_eq!(scrape.sum("jwt_auth_jwks_fetches_total"), 0.0);
    // A second scrape sees the same counts: scrapes are not counted either.
    let again = app.scrape().await;
    again.assert(
        requests,
        &[("layer", "default"), ("outcome", "accepted")],
        3.0,
    );
    eprintln!("/metrics of the axum example:\n{}", scrape.text);
}

// ---------------------------------------------------------------------------------------------
// The jwks example: a JWKS server of the test

/// The JWKS server's state: the key set, its `ETag`, and the requests it answered.
struct Jwks {
    body: Value,
    max_age: u64,
    ok: AtomicUsize,
    not_modified: AtomicUsize,
}

const ETAG: &str = "\"keys-v1\"";

async fn serve_jwks(State(jwks): State<Arc<Jwks>>, headers: HeaderMap) -> impl IntoResponse {
    let cache_control = format!("max-age={}", jwks.max_age);
    if headers.get("if-none-match").is_some_and(|v| v == ETAG) {
        jwks.not_modified.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::NOT_MODIFIED,
            [("etag", ETAG.to_owned()), ("cache-control", cache_control)],
            String::new(),
        );
    }
    jwks.ok.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::OK,
        [("etag", ETAG.to_owned()), ("cache-control", cache_control)],
        jwks.body.to_string(),
    )
}

/// A JWKS server on its own runtime: stopping it shuts the runtime down, closing every
/// connection.
struct JwksServer {
    addr: SocketAddr,
    jwks: Arc<Jwks>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl JwksServer {
    fn start(jwks: Arc<Jwks>, addr: SocketAddr) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // `SO_REUSEADDR`, so that a restart binds the same port again.
        let listener = {
            let _entered = runtime.enter();
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(addr).expect("the JWKS server binds");
            socket.listen(64).unwrap()
        };
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .with_state(jwks.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            jwks,
            runtime: Some(runtime),
        }
    }

    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The ES256 test key, and its JWK named `kid`.
fn es256(kid: &str) -> (EncodingKey, Value) {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let path = format!(
        "{}/tests/keys/ec256_private.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let pem = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let key = EncodingKey::from_ec_pem(&pem).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    (key, serde_json::to_value(&jwk).unwrap())
}

fn es256_token(key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let claims = json!({ "sub": "alice", "iat": now(), "exp": now() + 600 });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn jwks_server(max_age: u64) -> (JwksServer, EncodingKey) {
    let (key, jwk) = es256("k1");
    let jwks = Arc::new(Jwks {
        body: json!({ "keys": [jwk] }),
        max_age,
        ok: AtomicUsize::new(0),
        not_modified: AtomicUsize::new(0),
    });
    (JwksServer::start(jwks, examples_support::free_addr()), key)
}

#[tokio::test]
async fn the_jwks_example_counts_fetches_not_modified_and_key_age() {
    let (server, key) = jwks_server(300);
    // The query is not part of the `source` label.
    let url = format!("http://{}/jwks?tenant=a", server.addr);
    let app = Example::start("jwks", &[("JWKS_URL", &url)]).await;
    let source = format!("http://{}/jwks", server.addr);

    let token = es256_token(&key, "k1");
    assert_eq!(app.status("/me", Some(&token)).await, 200); // accepted
    assert_eq!(app.status("/maybe", Some(&token)).await, 200); // accepted
                                                               // An unknown `kid` makes the layer fetch again: the server answers 304, the key stays
                                                               // unknown.
    let unknown = es256_token(&key, "k2");
    assert_eq!(app.status("/me", Some(&unknown)).await, 403); // unknown_key
    assert_eq!(app.status("/me", None).await, 401); // missing
    assert_eq!(server.jwks.ok.load(Ordering::SeqCst), 1);
    assert_eq!(server.jwks.not_modified.load(Ordering::SeqCst), 1);

    let (status, body) = app.get("/readyz", &[]).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, json!({ "ready": true, "checks": { "keys": "ok" } }))
    );

    let scrape = app.scrape().await;
    let requests = "jwt_auth_requests_total";
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "accepted")],
        2.0,
    );
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "anonymous")],
        0.0,
    );
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "refused")],
        2.0,
    );
    assert_failures(&scrape, &[("unknown_key", 1.0), ("missing", 1.0)]);
    let fetches = "jwt_auth_jwks_fetches_total";
    scrape.assert(fetches, &[("source", &source), ("result", "ok")], 1.0);
    scrape.assert(
        fetches,
        &[("source", &source), ("result", "not_modified")],
        1.0,
    );
    scrape.assert(fetches, &[("source", &source), ("result", "error")], 0.0);
    scrape.assert(
        "jwt_auth_jwks_stale_serves_total",
        &[("source", &source)],
        0.0,
    );
    let age = scrape
        .value("jwt_auth_jwks_keys_age_seconds", &[("source", &source)])
        .unwrap_or_else(|| panic!("the keys' age in\n{}", scrape.text));
    assert!((0.0..60.0).contains(&age), "{age}");
    // No cache in this example.
    assert_eq!(scrape.sum("jwt_auth_cache_lookups_total"), 0.0);
    eprintln!("/metrics of the jwks example:\n{}", scrape.text);
}

#[tokio::test]
async fn readyz_follows_the_jwks_server_down_and_back() {
    // Keys live 1 s and may serve 1 s more: without the server they are gone after 2 s.
    let (mut server, _key) = jwks_server(1);
    let url = format!("http://{}/jwks", server.addr);
    let app = Example::start(
        "jwks",
        &[
            ("JWKS_URL", &url),
            ("JWKS_CACHE_TTL", "1"),
            ("JWKS_MAX_STALENESS", "1"),
        ],
    )
    .await;
    app.readyz_turns(200, Duration::from_secs(5)).await;

    let addr = server.addr;
    let jwks = server.jwks.clone();
    server.stop();
    let stopped = Instant::now();
    let body = app.readyz_turns(503, Duration::from_secs(5)).await;
    eprintln!("503 after {:?}: {body}", stopped.elapsed());
    assert_eq!(body["ready"], json!(false));
    assert_ne!(body["checks"]["keys"], json!("ok"));

    let server = JwksServer::start(jwks, addr);
    let restarted = Instant::now();
    let body = app.readyz_turns(200, Duration::from_secs(5)).await;
    eprintln!("200 after {:?}: {body}", restarted.elapsed());
    assert_eq!(body, json!({ "ready": true, "checks": { "keys": "ok" } }));

    let scrape = app.scrape().await;
    let source = format!("http://{}/jwks", server.addr);
    let errors = scrape
        .value(
            "jwt_auth_jwks_fetches_total",
            &[("source", &source), ("result", "error")],
        )
        .unwrap();
    assert!(errors >= 1.0, "{}", scrape.text);
}

// ---------------------------------------------------------------------------------------------
// The layer's readiness with a revocation store

#[tokio::test]
async fn readiness_asks_the_revocation_store() {
    use tower_jwt_auth::session::{MemoryStore, RedisStore};
    use tower_jwt_auth::{Check, Key};

    let layer = |store: std::sync::Arc<dyn tower_jwt_auth::revocation::RevocationStore>| {
        tower_jwt_auth::JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(Algorithm::HS256, [7u8; 32]).unwrap())
            .revocation(store)
            .build()
            .unwrap()
    };
    let memory = layer(std::sync::Arc::new(MemoryStore::new()));
    let readiness = memory.readiness().await;
    assert!(readiness.is_ready());
    assert_eq!(
        (readiness.keys(), readiness.store()),
        (Some(Check::Ok), Some(Check::Ok))
    );

    // The Redis of the machine (`REDIS_URL`, default 127.0.0.1:6379) answers.
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisStore::connect(&url).await.unwrap();
    let up = layer(std::sync::Arc::new(redis)).readiness().await;
    assert_eq!(
        up.store(),
        Some(Check::Ok),
        "does redis-server answer at {url}?"
    );

    // Nothing listens on this port.
    let closed = examples_support::free_addr();
    let redis = RedisStore::connect(&format!("redis://{closed}"))
        .await
        .unwrap();
    let down = layer(std::sync::Arc::new(redis)).readiness().await;
    assert!(!down.is_ready());
    assert_eq!(down.keys(), Some(Check::Ok));
    assert!(matches!(down.store(), Some(Check::NotReady(_))), "{down:?}");
}

// ---------------------------------------------------------------------------------------------
// The session example: session events and store timings

#[path = "session_support/mod.rs"]
mod session_support;

/// `POST path` with a JSON body (and a bearer token): the status and the JSON answer.
async fn post_json(app: &Example, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let auth = bearer.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = auth.as_deref() {
        headers.push(("authorization", auth));
    }
    let (status, text) = app
        .send("POST", path, &headers, body.to_string())
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn login(app: &Example) -> (String, String) {
    let credentials = json!({ "username": "demo", "password": "demo-password" });
    let (status, body) = post_json(app, "/auth/login", None, credentials).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    (access, refresh)
}

async fn refresh(app: &Example, token: &str) -> (u16, Value) {
    post_json(
        app,
        "/auth/refresh",
        None,
        json!({ "refresh_token": token }),
    )
    .await
}

#[tokio::test]
async fn the_session_example_counts_session_events_and_store_calls() {
    let app = Example::start("session", &[("REFRESH_GRACE_SECS", "1")]).await;
    let (access, first) = login(&app).await; // opened
    assert_eq!(app.status("/api/me", Some(&access)).await, 200);
    let (status, body) = refresh(&app, &first).await; // refreshed
    assert_eq!(status, 200, "{body}");
    let (status, again) = refresh(&app, &first).await; // grace_replay: the same pair
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refresh_token"], body["refresh_token"]);
    // Past the grace window the first token is a reuse: the session ends.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, reused) = refresh(&app, &first).await; // reused
    assert_eq!(status, 401, "{reused}");
    let (access, _) = login(&app).await; // opened
    let (status, out) = post_json(&app, "/auth/logout", Some(&access), json!({})).await; // logout
    assert!(status == 200 || status == 204, "{status} {out}");
    assert_eq!(app.status("/api/me", Some(&access)).await, 401); // revoked

    let (status, body) = app.get("/readyz", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "ready": true, "checks": { "store": "ok" } })
    );

    let scrape = app.scrape().await;
    let sessions = "jwt_auth_sessions_total";
    for (event, expected) in [
        ("opened", 2.0),
        ("refreshed", 1.0),
        ("grace_replay", 1.0),
        ("reused", 1.0),
        ("expired", 0.0),
        ("logout", 1.0),
        ("logout_one", 0.0),
        ("logout_others", 0.0),
        ("logout_all", 0.0),
        ("capped", 0.0),
    ] {
        scrape.assert(sessions, &[("event", event)], expected);
    }
    let count = "jwt_auth_store_operation_duration_seconds_count";
    let memory = |op| [("store", "memory"), ("op", op)];
    scrape.assert(count, &memory("create"), 2.0);
    scrape.assert(count, &memory("lookup"), 3.0);
    scrape.assert(count, &memory("rotate"), 3.0);
    scrape.assert(count, &memory("end"), 1.0);
    assert_eq!(
        scrape.sum("jwt_auth_store_errors_total"),
        0.0,
        "{}",
        scrape.text
    );
    // The layers' status checks of the three bearer requests, and the probe's.
    scrape.assert(count, &memory("status"), 4.0);
    scrape.assert(count, &memory("end_subject"), 0.0);
    // The endpoints' optional layer counts too: the three refreshes carry no access token.
    let requests = "jwt_auth_requests_total";
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "accepted")],
        2.0,
    );
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "anonymous")],
        3.0,
    );
    scrape.assert(
        requests,
        &[("layer", "default"), ("outcome", "refused")],
        1.0,
    );
    scrape.assert(
        "jwt_auth_failures_total",
        &[("layer", "default"), ("reason", "revoked")],
        1.0,
    );
    eprintln!("/metrics of the session example:\n{}", scrape.text);
}

/// The per-user cap: one `capped` event per login whose cap ended a session (one event per
/// request), none for a login under the cap.
#[tokio::test]
async fn the_session_example_counts_a_capped_login_once() {
    let app = Example::start("session", &[("MAX_SESSIONS_PER_USER", "2")]).await;
    let (first, _) = login(&app).await;
    login(&app).await; // two sessions: under the cap
    login(&app).await; // the third ends the first
    assert_eq!(
        app.status("/api/me", Some(&first)).await,
        401,
        "ended by the cap"
    );
    login(&app).await; // and the fourth the second
    let scrape = app.scrape().await;
    let sessions = "jwt_auth_sessions_total";
    scrape.assert(sessions, &[("event", "opened")], 4.0);
    scrape.assert(sessions, &[("event", "capped")], 2.0);
}

#[tokio::test]
async fn readyz_follows_the_session_store_down_and_back() {
    let mut redis = session_support::OwnRedis::new().expect("redis-server is installed");
    let url = redis.url();
    redis.start();
    let app = Example::start(
        "session",
        &[
            ("REDIS_URL", &url),
            (
                "JWT_SECRET",
                "a secret of at least thirty-two bytes, for this test",
            ),
        ],
    )
    .await;
    app.readyz_turns(200, Duration::from_secs(5)).await;

    redis.stop();
    let stopped = Instant::now();
    let body = app.readyz_turns(503, Duration::from_secs(5)).await;
    eprintln!("503 after {:?}: {body}", stopped.elapsed());
    assert_eq!(body["ready"], json!(false));
    assert_ne!(body["checks"]["store"], json!("ok"));

    redis.start();
    let restarted = Instant::now();
    let body = app.readyz_turns(200, Duration::from_secs(5)).await;
    eprintln!("200 after {:?}: {body}", restarted.elapsed());
    assert_eq!(body, json!({ "ready": true, "checks": { "store": "ok" } }));

    let scrape = app.scrape().await;
    let errors = scrape
        .value(
            "jwt_auth_store_errors_total",
            &[("store", "redis"), ("op", "status")],
        )
        .unwrap_or(0.0);
    assert!(errors >= 1.0, "{}", scrape.text);
}
