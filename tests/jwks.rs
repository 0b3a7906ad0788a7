//! Remote key sets against a real JWKS server on 127.0.0.1:0.
//!
//! The server ([`Provider`]) counts the requests it receives per path, serves a key set that
//! the test swaps at run time, and can be told to fail (500), to hang, to send an oversized or
//! malformed body, or to send `Cache-Control: max-age=N`; it also serves OIDC discovery
//! metadata at `/issuer/.well-known/openid-configuration`. The layer under test is driven with
//! `tower::ServiceExt::oneshot` around a handler that echoes the claims it received.
//!
//! Counts and statuses are asserted exactly. Nothing sleeps to measure time: where a test waits
//! for the background refresh, it polls with a 10 s deadline and fails when it passes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_jwt_auth::jwks::JwksSource;
use tower_jwt_auth::{AuthError, ErrorKind, JwtAuthLayer, TrustedIssuer};

// ---------------------------------------------------------------------------------------------
// The JWKS server

/// What the server answers on `/jwks`.
#[derive(Clone, Debug)]
enum Behaviour {
    /// The current key set, with `Cache-Control: max-age` when one is set.
    Serve,
    /// 500, empty body.
    Fail,
    /// Sleeps this long, then serves the key set.
    Hang(Duration),
    /// The key set (well-formed JSON, so only the size limit refuses it) padded to this many
    /// bytes, with a `Content-Length`.
    Oversized(usize),
    /// The same, streamed in chunks without a `Content-Length`.
    OversizedChunked(usize),
    /// This body, with status 200.
    Raw(&'static str),
}

/// The identity provider's state, shared by the server's handlers and the test.
struct Provider {
    addr: SocketAddr,
    keys: Mutex<Vec<Value>>,
    behaviour: Mutex<Behaviour>,
    max_age: Mutex<Option<u64>>,
    /// The discovery document; by default it names `http://{addr}/issuer` and its `/jwks`.
    metadata: Mutex<Value>,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    other_hits: AtomicUsize,
    /// `/jwks` answers that were not a good key set (500, oversized, malformed).
    bad_answers: AtomicUsize,
}

impl Provider {
    fn issuer(&self) -> String {
        format!("http://{}/issuer", self.addr)
    }

    fn jwks_url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    fn set_keys(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    fn set_raw_keys(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    fn behave(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn set_max_age(&self, max_age: Option<u64>) {
        *self.max_age.lock().unwrap() = max_age;
    }

    fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    fn discovery_hits(&self) -> usize {
        self.discovery_hits.load(Ordering::SeqCst)
    }

    fn other_hits(&self) -> usize {
        self.other_hits.load(Ordering::SeqCst)
    }

    fn bad_answers(&self) -> usize {
        self.bad_answers.load(Ordering::SeqCst)
    }

    fn document(&self) -> Value {
        json!({ "keys": *self.keys.lock().unwrap() })
    }

    fn padded_document(&self, size: usize) -> Vec<u8> {
        let mut document = self.document();
        let base = document.to_string().len();
        document["padding"] = Value::String("x".repeat(size.saturating_sub(base + 20)));
        let bytes = document.to_string().into_bytes();
        assert!(bytes.len() >= size - 20);
        bytes
    }
}

async fn serve_jwks(State(provider): State<Arc<Provider>>) -> Response<AxumBody> {
    provider.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let behaviour = provider.behaviour.lock().unwrap().clone();
    let good = |provider: &Provider| {
        let mut response = Response::builder()
            .status(200)
            .header(CONTENT_TYPE, "application/jwk-set+json");
        if let Some(max_age) = *provider.max_age.lock().unwrap() {
            response = response.header(CACHE_CONTROL, format!("public, max-age={max_age}"));
        }
        response
            .body(AxumBody::from(provider.document().to_string()))
            .unwrap()
    };
    let bad = |body: AxumBody, status: u16| {
        provider.bad_answers.fetch_add(1, Ordering::SeqCst);
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap()
    };
    match behaviour {
        Behaviour::Serve => good(&provider),
        Behaviour::Fail => bad(AxumBody::empty(), 500),
        Behaviour::Hang(duration) => {
            tokio::time::sleep(duration).await;
            good(&provider)
        }
        Behaviour::Oversized(size) => bad(AxumBody::from(provider.padded_document(size)), 200),
        Behaviour::OversizedChunked(size) => bad(
            AxumBody::new(Chunked {
                data: Bytes::from(provider.padded_document(size)),
                chunk: 1024,
            }),
            200,
        ),
        Behaviour::Raw(body) => bad(AxumBody::from(body), 200),
    }
}

async fn serve_metadata(State(provider): State<Arc<Provider>>) -> Response<AxumBody> {
    provider.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let metadata = provider.metadata.lock().unwrap().clone();
    Response::builder()
        .status(200)
        .header(CONTENT_TYPE, "application/json")
        .body(AxumBody::from(metadata.to_string()))
        .unwrap()
}

async fn serve_other(State(provider): State<Arc<Provider>>) -> StatusCode {
    provider.other_hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::NOT_FOUND
}

/// A body sent in chunks, without a `Content-Length`.
struct Chunked {
    data: Bytes,
    chunk: usize,
}

impl http_body::Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.chunk.min(self.data.len());
        let chunk = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

/// Starts a JWKS server on 127.0.0.1:0 serving `keys`.
async fn start_provider(keys: &[&TestKey]) -> Arc<Provider> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let provider = Arc::new(Provider {
        addr,
        keys: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
        behaviour: Mutex::new(Behaviour::Serve),
        max_age: Mutex::new(None),
        metadata: Mutex::new(json!({
            "issuer": format!("http://{addr}/issuer"),
            "jwks_uri": format!("http://{addr}/jwks"),
            "id_token_signing_alg_values_supported": ["RS256"],
        })),
        jwks_hits: AtomicUsize::new(0),
        discovery_hits: AtomicUsize::new(0),
        other_hits: AtomicUsize::new(0),
        bad_answers: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/jwks", get(serve_jwks))
        .route(
            "/issuer/.well-known/openid-configuration",
            get(serve_metadata),
        )
        .fallback(serve_other)
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    provider
}

/// An address where nothing listens.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens

/// A signing key of the test and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The key in `tests/keys/{file}` for `alg`, named `kid`, published with `use: sig`.
fn test_key(file: &str, alg: Algorithm, kid: &str) -> TestKey {
    test_key_with_use(file, alg, kid, PublicKeyUse::Signature)
}

fn test_key_with_use(file: &str, alg: Algorithm, kid: &str, key_use: PublicKeyUse) -> TestKey {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let pem = key_file(file);
    let encoding = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(key_use);
    TestKey {
        kid: kid.to_owned(),
        alg,
        encoding,
        jwk: serde_json::to_value(&jwk).unwrap(),
    }
}

fn rsa(kid: &str) -> TestKey {
    test_key("rsa_private.pem", Algorithm::RS256, kid)
}

fn rsa2(kid: &str) -> TestKey {
    test_key("rsa2_private.pem", Algorithm::RS256, kid)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `sub`, valid for 10 minutes, with these extra claims.
fn token_with(key: &TestKey, kid: Option<&str>, sub: &str, extra: Value) -> String {
    let mut claims = json!({ "sub": sub, "iat": now(), "exp": now() + 600 });
    if let Value::Object(extra) = extra {
        claims.as_object_mut().unwrap().extend(extra);
    }
    let mut header = Header::new(key.alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

/// A token signed by `key`, naming its own `kid`.
fn token(key: &TestKey, sub: &str) -> String {
    token_with(key, Some(&key.kid), sub, json!({}))
}

/// A token signed by `key` that names another `kid`.
fn token_kid(key: &TestKey, kid: &str, sub: &str) -> String {
    token_with(key, Some(kid), sub, json!({}))
}

// ---------------------------------------------------------------------------------------------
// The service under test

type Body = Full<Bytes>;

/// What came back from one call.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    error: Option<AuthError>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    fn reason(&self) -> Option<String> {
        self.error.as_ref().map(|e| e.reason().to_owned())
    }

    #[track_caller]
    fn assert_ok(&self, label: &str, sub: &str) {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "{label}: expected 200, got {} {:?}",
            self.status,
            self.body
        );
        assert_eq!(self.json()["sub"], sub, "{label}: {:?}", self.body);
    }

    #[track_caller]
    fn assert_refused(&self, label: &str, status: u16, reason: &str) {
        assert_eq!(
            (self.status.as_u16(), self.reason().as_deref()),
            (status, Some(reason)),
            "{label}: body {:?}",
            self.body
        );
        assert_eq!(self.json()["reason"], reason, "{label}");
    }
}

/// The echo handler: answers 200 with the claims it received.
async fn handler(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let claims = req
        .extensions()
        .get::<Value>()
        .cloned()
        .unwrap_or(Value::Null);
    Ok(Response::new(Full::new(Bytes::from(claims.to_string()))))
}

async fn send(layer: &JwtAuthLayer<Value>, req: Request<Body>) -> Reply {
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(handler);
    let response = svc.oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        error: parts.extensions.get::<AuthError>().cloned(),
        body,
    }
}

fn bearer_request(token: &str) -> Request<Body> {
    Request::get("/resource")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::default())
        .unwrap()
}

async fn call(layer: &JwtAuthLayer<Value>, token: &str) -> Reply {
    send(layer, bearer_request(token)).await
}

/// A gRPC call: `POST` with `content-type: application/grpc`.
async fn call_grpc(layer: &JwtAuthLayer<Value>, token: &str) -> Reply {
    let req = Request::post("/greeter.Greeter/SayHello")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .body(Body::default())
        .unwrap();
    send(layer, req).await
}

/// A remote source for `provider`'s `/jwks`, over plain http, with a 60 s cooldown.
fn source(provider: &Provider) -> JwksSource {
    JwksSource::new(&provider.jwks_url())
        .unwrap()
        .allow_http(true)
        .cooldown(Duration::from_secs(60))
        .unwrap()
}

fn layer_for(source: JwksSource) -> JwtAuthLayer<Value> {
    JwtAuthLayer::<Value>::builder()
        .jwks(source)
        .build()
        .unwrap()
}

/// Polls `check` every 50 ms until it holds; fails the test after 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still not the case after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Steady state

#[tokio::test]
async fn first_request_waits_for_the_initial_fetch_then_no_request_fetches() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider));

    // No wait_for_keys: the first request waits for the initial fetch.
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("first request", "alice");
    assert_eq!(provider.jwks_hits(), 1, "the first request needs one fetch");

    for i in 0..50 {
        call(&auth, &token(&k1, &format!("user-{i}")))
            .await
            .assert_ok("steady state", &format!("user-{i}"));
    }
    let verifier = auth.verifier();
    assert_eq!(
        verifier.verify_async(&token(&k1, "bob")).await.unwrap()["sub"],
        "bob"
    );
    assert_eq!(
        verifier.verify(&token(&k1, "carol")).unwrap()["sub"],
        "carol"
    );
    assert_eq!(provider.jwks_hits(), 1, "the steady state fetches nothing");
    assert_eq!(provider.other_hits(), 0);
}

#[tokio::test]
async fn wait_for_keys_fetches_once_and_requests_never_wait() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider));
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.jwks_hits(), 1);
    // A second wait has nothing to do.
    auth.wait_for_keys(WAIT).await.unwrap();
    for i in 0..20 {
        call(&auth, &token(&k1, &format!("u{i}")))
            .await
            .assert_ok("steady state", &format!("u{i}"));
    }
    assert_eq!(provider.jwks_hits(), 1);
}

// ---------------------------------------------------------------------------------------------
// Rotation

/// The provider adds `k2`, then drops `k1`: `k2` works at once (one fetch), and `k1` stops
/// working once the cache lifetime of the last response (`max-age=1`) has passed.
#[tokio::test]
async fn rotation_new_kid_at_once_removed_kid_after_the_cache_lifetime() {
    let k1 = rsa("k1");
    let k2 = rsa2("k2");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(
        source(&provider)
            .cache_ttl(Duration::from_secs(1), Duration::from_secs(3600))
            .unwrap(),
    );
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.jwks_hits(), 1);
    call(&auth, &token(&k1, "old")).await.assert_ok("k1", "old");

    // A new key appears, with a short cache lifetime from now on.
    provider.set_keys(&[&k1, &k2]);
    provider.set_max_age(Some(1));
    call(&auth, &token(&k2, "new"))
        .await
        .assert_ok("k2 right after it appears", "new");
    assert_eq!(provider.jwks_hits(), 2, "exactly one fetch for the new kid");
    call(&auth, &token(&k1, "old"))
        .await
        .assert_ok("k1 still there", "old");
    assert_eq!(provider.jwks_hits(), 2);

    // The old key is dropped: it stops verifying once the keys (max-age=1) were refreshed in
    // the background.
    provider.set_keys(&[&k2]);
    let old = token(&k1, "old");
    eventually("the removed key is refused as unknown_key", || async {
        let reply = call(&auth, &old).await;
        match reply.status.as_u16() {
            200 => false,
            _ => {
                reply.assert_refused("k1 after its removal", 403, "unknown_key");
                true
            }
        }
    })
    .await;
    call(&auth, &token(&k2, "new"))
        .await
        .assert_ok("k2 after the rotation", "new");
    assert!(provider.jwks_hits() >= 3);
    assert_eq!(provider.bad_answers(), 0);
}

/// With a short lifetime from the first response, a removed key stops verifying through the
/// background refresh alone.
#[tokio::test]
async fn removed_key_stops_verifying_after_the_first_short_lifetime() {
    let k1 = rsa("k1");
    let k2 = rsa2("k2");
    let provider = start_provider(&[&k1, &k2]).await;
    provider.set_max_age(Some(1));
    let auth = layer_for(
        source(&provider)
            .cache_ttl(Duration::from_secs(1), Duration::from_secs(3600))
            .unwrap(),
    );
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &token(&k1, "old")).await.assert_ok("k1", "old");
    call(&auth, &token(&k2, "new")).await.assert_ok("k2", "new");

    provider.set_keys(&[&k2]);
    let old = token(&k1, "old");
    eventually("the removed key is refused as unknown_key", || async {
        let reply = call(&auth, &old).await;
        match reply.status.as_u16() {
            200 => false,
            _ => {
                reply.assert_refused("k1 after its removal", 403, "unknown_key");
                true
            }
        }
    })
    .await;
    call(&auth, &token(&k2, "new")).await.assert_ok("k2", "new");
    assert!(provider.jwks_hits() >= 2);
}

// ---------------------------------------------------------------------------------------------
// Unknown kids

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_unknown_kids_makes_at_most_one_fetch_per_cooldown() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider));
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.jwks_hits(), 1);

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    for round in 0..2 {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let auth = auth.clone();
                let forged = token_kid(&k1, &format!("random-{seed:x}-{round}-{i}"), "mallory");
                tokio::spawn(async move { call(&auth, &forged).await })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap()
                .assert_refused("unknown kid in the flood", 403, "unknown_key");
        }
        // The first miss started one fetch, every other one joined it or met the cooldown;
        // the second round is entirely within the cooldown.
        assert_eq!(
            provider.jwks_hits(),
            2,
            "round {round}: the provider saw more than one fetch for the flood"
        );
    }
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("a good token after the flood", "alice");
    assert_eq!(provider.jwks_hits(), 2);
}

// ---------------------------------------------------------------------------------------------
// The provider fails

#[tokio::test]
async fn cached_keys_keep_serving_when_the_provider_fails() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider));
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("k1", "alice");

    provider.behave(Behaviour::Fail);
    // An unknown kid makes a fetch, which fails: the old keys stay, and the kid cannot be
    // judged (503, not 403).
    call(&auth, &token_kid(&k1, "k-new", "alice"))
        .await
        .assert_refused(
            "unknown kid while the provider fails",
            503,
            "key_source_unavailable",
        );
    assert_eq!(provider.jwks_hits(), 2);
    assert_eq!(provider.bad_answers(), 1);
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("k1 while the provider fails (stale-if-error)", "alice");
    let reply = call_grpc(&auth, &token(&k1, "alice")).await;
    reply.assert_ok("k1 over gRPC while the provider fails", "alice");
    assert!(!reply.headers.contains_key("grpc-status"));
    assert_eq!(provider.jwks_hits(), 2);
}

#[tokio::test]
async fn expired_keys_keep_serving_while_the_background_refresh_fails() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    provider.set_max_age(Some(1));
    let auth = layer_for(
        source(&provider)
            .cache_ttl(Duration::from_secs(1), Duration::from_secs(60))
            .unwrap(),
    );
    auth.wait_for_keys(WAIT).await.unwrap();
    provider.behave(Behaviour::Fail);
    // The keys' lifetime is 1 s: wait for two failed background refreshes.
    eventually("two failed refreshes", || async {
        provider.bad_answers() >= 2
    })
    .await;
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("k1 after failed refreshes (stale-if-error)", "alice");

    // The provider comes back: the refresher retries with backoff and picks the new set up.
    let k2 = rsa2("k2");
    provider.set_keys(&[&k2]);
    provider.behave(Behaviour::Serve);
    let old = token(&k1, "alice");
    eventually("the retried refresh replaced the keys", || async {
        call(&auth, &old).await.status == StatusCode::FORBIDDEN
    })
    .await;
    call(&auth, &token(&k2, "bob")).await.assert_ok("k2", "bob");
}

#[tokio::test]
async fn no_keys_ever_is_503_key_source_unavailable() {
    let k1 = rsa("k1");
    let addr = closed_port();
    let auth = layer_for(
        JwksSource::new(&format!("http://{addr}/jwks"))
            .unwrap()
            .allow_http(true)
            .timeouts(Duration::from_secs(1), Duration::from_secs(2))
            .unwrap(),
    );
    let reply = call(&auth, &token(&k1, "alice")).await;
    reply.assert_refused("closed port", 503, "key_source_unavailable");
    assert_eq!(reply.json()["error"], "temporarily_unavailable");
    assert_eq!(reply.headers[CONTENT_TYPE], "application/json");
    assert!(
        !reply.headers.contains_key(http::header::WWW_AUTHENTICATE),
        "a provider outage is not a challenge to the client"
    );

    let reply = call_grpc(&auth, &token(&k1, "alice")).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "gRPC errors travel in headers"
    );
    assert_eq!(reply.headers["grpc-status"], "14");
    assert!(reply.headers["grpc-message"]
        .to_str()
        .unwrap()
        .starts_with("key_source_unavailable"));
    assert_eq!(reply.reason().as_deref(), Some("key_source_unavailable"));
    assert!(reply.body.is_empty());

    let error = auth
        .verifier()
        .verify_async(&token(&k1, "alice"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable);
    let error = auth
        .wait_for_keys(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable);
}

#[tokio::test]
async fn a_provider_that_always_fails_is_503_and_not_hammered() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    provider.behave(Behaviour::Fail);
    let auth = layer_for(source(&provider));
    call(&auth, &token(&k1, "alice")).await.assert_refused(
        "provider answers 500",
        503,
        "key_source_unavailable",
    );
    let after_first = provider.jwks_hits();
    assert!(
        (1..=2).contains(&after_first),
        "the first request waits for at most the initial fetch and its own: {after_first}"
    );
    for i in 0..50 {
        call(&auth, &token_kid(&k1, &format!("kid-{i}"), "alice"))
            .await
            .assert_refused("provider answers 500", 503, "key_source_unavailable");
    }
    let reply = call_grpc(&auth, &token(&k1, "alice")).await;
    assert_eq!(reply.headers["grpc-status"], "14");
    // The requests are within the cooldown: only the background retries (1 s, then 2 s, ...)
    // may have reached the provider meanwhile.
    assert!(
        provider.jwks_hits() <= after_first + 2,
        "requests made fetches within the cooldown: {} after {after_first}",
        provider.jwks_hits()
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_and_a_later_fetch_works() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let hang = Duration::from_secs(5);
    provider.behave(Behaviour::Hang(hang));
    let auth = layer_for(
        source(&provider)
            .cooldown(Duration::from_secs(1))
            .unwrap()
            .timeouts(Duration::from_secs(1), Duration::from_secs(1))
            .unwrap(),
    );
    let started = Instant::now();
    call(&auth, &token(&k1, "alice")).await.assert_refused(
        "provider hangs",
        503,
        "key_source_unavailable",
    );
    assert!(
        started.elapsed() < hang - Duration::from_secs(1),
        "the answer came only after the hang would have ended: {:?}",
        started.elapsed()
    );
    assert!(provider.jwks_hits() >= 1);

    provider.behave(Behaviour::Serve);
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("after the provider recovered", "alice");
}

/// A bad answer after a good key set: the old keys stay, the new kid cannot be judged (503).
async fn bad_answer_keeps_old_keys(label: &str, behaviour: Behaviour) {
    let k1 = rsa("k1");
    let k2 = rsa2("k2");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider).max_response_size(16 * 1024).unwrap());
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.jwks_hits(), 1, "{label}");

    // The bad answer would carry k2.
    provider.set_keys(&[&k1, &k2]);
    provider.behave(behaviour);
    call(&auth, &token(&k2, "new"))
        .await
        .assert_refused(label, 503, "key_source_unavailable");
    assert_eq!(provider.jwks_hits(), 2, "{label}");
    assert_eq!(provider.bad_answers(), 1, "{label}");
    call(&auth, &token(&k1, "old"))
        .await
        .assert_ok(&format!("{label}: old key kept"), "old");
    assert_eq!(provider.jwks_hits(), 2, "{label}");
}

#[tokio::test]
async fn an_oversized_key_set_is_refused_and_old_keys_kept() {
    bad_answer_keeps_old_keys("oversized, Content-Length", Behaviour::Oversized(64 * 1024)).await;
    bad_answer_keeps_old_keys("oversized, chunked", Behaviour::OversizedChunked(64 * 1024)).await;
}

#[tokio::test]
async fn a_malformed_key_set_is_refused_and_old_keys_kept() {
    for (label, body) in [
        (
            "truncated JSON",
            r#"{"keys": [{"kty": "RSA", "kid": "k2", "n": "#,
        ),
        ("not JSON", "<html>Service Unavailable</html>"),
        ("keys is not an array", r#"{"keys": 5}"#),
        ("no keys member", r#"{"jwks": []}"#),
        ("an empty set", r#"{"keys": []}"#),
        (
            "no usable key",
            r#"{"keys": [{"kty": "RSA", "kid": "k2", "n": "AQAB", "e": "AQAB"}]}"#,
        ),
    ] {
        bad_answer_keeps_old_keys(label, Behaviour::Raw(body)).await;
    }
}

/// The size limit is the only reason the oversized answers fail: the same document, small
/// enough, is accepted.
#[tokio::test]
async fn the_padded_document_is_accepted_under_the_limit() {
    let k1 = rsa("k1");
    let k2 = rsa2("k2");
    let provider = start_provider(&[&k1, &k2]).await;
    provider.behave(Behaviour::Oversized(12 * 1024));
    let auth = layer_for(source(&provider).max_response_size(16 * 1024).unwrap());
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &token(&k2, "new"))
        .await
        .assert_ok("padded, under the limit", "new");
}

// ---------------------------------------------------------------------------------------------
// OIDC discovery

#[tokio::test]
async fn oidc_discovery_finds_the_key_set_and_checks_the_issuer() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let issuer = provider.issuer();

    // The builder shortcut knows no http opt-in: plain http is refused when building.
    assert!(JwtAuthLayer::<Value>::builder()
        .oidc_discovery(&issuer)
        .unwrap()
        .build()
        .is_err());

    let auth = JwtAuthLayer::<Value>::builder()
        .jwks(JwksSource::discover(&issuer).unwrap().allow_http(true))
        .issuer(&issuer)
        .unwrap()
        .build()
        .unwrap();
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.discovery_hits(), 1);
    assert_eq!(provider.jwks_hits(), 1);

    let good = token_with(&k1, Some("k1"), "alice", json!({ "iss": issuer }));
    call(&auth, &good)
        .await
        .assert_ok("the discovered issuer", "alice");
    let other = token_with(
        &k1,
        Some("k1"),
        "alice",
        json!({ "iss": "https://evil.example" }),
    );
    call(&auth, &other)
        .await
        .assert_refused("another issuer", 403, "invalid_claims");
    let none = token(&k1, "alice");
    call(&auth, &none)
        .await
        .assert_refused("no issuer", 403, "invalid_claims");
    let slash = token_with(
        &k1,
        Some("k1"),
        "alice",
        json!({ "iss": format!("{issuer}/") }),
    );
    call(&auth, &slash).await.assert_refused(
        "the issuer with a trailing slash",
        403,
        "invalid_claims",
    );
    assert_eq!(provider.discovery_hits(), 1);
    assert_eq!(provider.jwks_hits(), 1);
}

#[tokio::test]
async fn discovery_metadata_naming_another_issuer_gives_no_keys() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let issuer = provider.issuer();
    for wrong in [
        "https://evil.example".to_owned(),
        format!("{issuer}/"),
        issuer.to_uppercase(),
    ] {
        *provider.metadata.lock().unwrap() =
            json!({ "issuer": wrong, "jwks_uri": provider.jwks_url() });
        let before = provider.discovery_hits();
        let auth = JwtAuthLayer::<Value>::builder()
            .jwks(JwksSource::discover(&issuer).unwrap().allow_http(true))
            .issuer(&issuer)
            .unwrap()
            .build()
            .unwrap();
        let token = token_with(&k1, Some("k1"), "alice", json!({ "iss": issuer }));
        call(&auth, &token).await.assert_refused(
            &format!("metadata names {wrong}"),
            503,
            "key_source_unavailable",
        );
        assert!(provider.discovery_hits() > before);
        assert_eq!(
            provider.jwks_hits(),
            0,
            "the jwks_uri of a document for another issuer must not be used"
        );
        let error = auth
            .wait_for_keys(Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable);
    }
}

// ---------------------------------------------------------------------------------------------
// Several issuers

#[tokio::test]
async fn several_issuers_each_with_its_own_key_set() {
    let ka = rsa("a");
    let kb = rsa2("b");
    let kc = test_key("ec256_private.pem", Algorithm::ES256, "c");
    let provider_a = start_provider(&[&ka]).await;
    let provider_b = start_provider(&[&kb]).await;
    let (iss_a, iss_b, iss_c) = (
        "https://a.example",
        "https://b.example",
        "https://c.example",
    );
    let static_c = tower_jwt_auth::Key::ec_pem(Algorithm::ES256, key_file("ec256_public.pem"))
        .unwrap()
        .with_kid("c");
    let auth = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(
            TrustedIssuer::new(iss_a)
                .unwrap()
                .jwks(source(&provider_a))
                .audience("api")
                .unwrap(),
        )
        .trusted_issuer(
            TrustedIssuer::new(iss_b)
                .unwrap()
                .jwks(source(&provider_b))
                .audience("api")
                .unwrap(),
        )
        .trusted_issuer(
            TrustedIssuer::new(iss_c)
                .unwrap()
                .key(static_c)
                .audience("api")
                .unwrap(),
        )
        .build()
        .unwrap();
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!((provider_a.jwks_hits(), provider_b.jwks_hits()), (1, 1));

    let claims = |iss: &str| json!({ "iss": iss, "aud": "api" });
    call(&auth, &token_with(&ka, Some("a"), "alice", claims(iss_a)))
        .await
        .assert_ok("issuer A with A's key", "alice");
    call(&auth, &token_with(&kb, Some("b"), "bob", claims(iss_b)))
        .await
        .assert_ok("issuer B with B's key", "bob");
    call(&auth, &token_with(&kc, Some("c"), "carol", claims(iss_c)))
        .await
        .assert_ok("issuer C with its static key", "carol");
    assert_eq!((provider_a.jwks_hits(), provider_b.jwks_hits()), (1, 1));

    // Issuer A, signed with B's key and naming B's kid: A's set has no such key. The unknown
    // kid may make one fetch at A (cooldown), never one at B.
    call(&auth, &token_with(&kb, Some("b"), "mallory", claims(iss_a)))
        .await
        .assert_refused("issuer A, B's key and kid", 403, "unknown_key");
    assert!(provider_a.jwks_hits() <= 2);
    assert_eq!(provider_b.jwks_hits(), 1);
    // Issuer A, B's key under A's kid: the signature does not verify.
    call(&auth, &token_with(&kb, Some("a"), "mallory", claims(iss_a)))
        .await
        .assert_refused("issuer A, B's key under A's kid", 403, "invalid_signature");
    // Issuer B, C's static key and kid: B's set is remote, C's key is not in it.
    call(&auth, &token_with(&kc, Some("c"), "mallory", claims(iss_b)))
        .await
        .assert_refused("issuer B, C's static key", 403, "unknown_key");
    assert!(provider_b.jwks_hits() <= 2);
    // Issuer C, A's key: C's static set has no RS256 key.
    call(&auth, &token_with(&ka, Some("a"), "mallory", claims(iss_c)))
        .await
        .assert_refused("issuer C, A's key", 403, "algorithm_not_allowed");

    // An issuer nobody configured, or none at all: refused before any key is looked up.
    let (a_before, b_before) = (provider_a.jwks_hits(), provider_b.jwks_hits());
    for (i, extra) in [
        claims("https://unknown.example"),
        claims("https://a.example/"),
        json!({ "aud": "api" }),
    ]
    .into_iter()
    .enumerate()
    {
        let forged = token_with(
            &ka,
            Some(&format!("never-seen-{i}")),
            "mallory",
            extra.clone(),
        );
        call(&auth, &forged).await.assert_refused(
            &format!("unconfigured issuer {extra}"),
            403,
            "invalid_claims",
        );
    }
    // An `iss` that is not a string: the claims set is broken.
    let forged = token_with(
        &ka,
        Some("never-seen"),
        "mallory",
        json!({ "iss": 5, "aud": "api" }),
    );
    call(&auth, &forged)
        .await
        .assert_refused("an iss that is not a string", 403, "malformed");
    assert_eq!(
        (provider_a.jwks_hits(), provider_b.jwks_hits()),
        (a_before, b_before),
        "an unconfigured issuer made a fetch"
    );
    assert_eq!(provider_a.other_hits() + provider_b.other_hits(), 0);
}

#[tokio::test]
async fn several_issuers_check_each_ones_audience() {
    let ka = rsa("a");
    let kb = rsa2("b");
    let provider_a = start_provider(&[&ka]).await;
    let provider_b = start_provider(&[&kb]).await;
    let auth = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(
            TrustedIssuer::new("https://a.example")
                .unwrap()
                .jwks(source(&provider_a))
                .audience("api-a")
                .unwrap(),
        )
        .trusted_issuer(
            TrustedIssuer::new("https://b.example")
                .unwrap()
                .jwks(source(&provider_b))
                .audience("api-b")
                .unwrap(),
        )
        .build()
        .unwrap();
    auth.wait_for_keys(WAIT).await.unwrap();
    let a_for_b = json!({ "iss": "https://a.example", "aud": "api-b" });
    call(&auth, &token_with(&ka, Some("a"), "alice", a_for_b))
        .await
        .assert_refused("A's token for B's audience", 403, "invalid_claims");
    let a_for_a = json!({ "iss": "https://a.example", "aud": "api-a" });
    call(&auth, &token_with(&ka, Some("a"), "alice", a_for_a))
        .await
        .assert_ok("A's token for A's audience", "alice");
}

// ---------------------------------------------------------------------------------------------
// Algorithms and key sets

#[tokio::test]
async fn every_algorithm_end_to_end_through_the_key_set() {
    let keys = [
        test_key("rsa_private.pem", Algorithm::RS256, "rs256"),
        test_key("rsa2_private.pem", Algorithm::PS256, "ps256"),
        test_key("ec256_private.pem", Algorithm::ES256, "es256"),
        test_key("ec384_private.pem", Algorithm::ES384, "es384"),
        test_key("ed25519_private.pem", Algorithm::EdDSA, "eddsa"),
    ];
    assert_eq!(keys[1].jwk["alg"], "PS256");
    assert_eq!(keys[4].jwk["crv"], "Ed25519");
    let provider = start_provider(&keys.iter().collect::<Vec<_>>()).await;
    let auth = layer_for(source(&provider));
    auth.wait_for_keys(WAIT).await.unwrap();
    for key in &keys {
        call(&auth, &token(key, &key.kid))
            .await
            .assert_ok(&format!("{:?}", key.alg), &key.kid);
    }
    assert_eq!(provider.jwks_hits(), 1);

    // Each key verifies only its own algorithm.
    let rs_as_ps = TestKey {
        kid: "rs256".into(),
        alg: Algorithm::PS256,
        encoding: EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap(),
        jwk: Value::Null,
    };
    call(&auth, &token(&rs_as_ps, "mallory"))
        .await
        .assert_refused("PS256 under the RS256 key", 403, "algorithm_not_allowed");
    let ps_as_rs = TestKey {
        kid: "ps256".into(),
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_pem(&key_file("rsa2_private.pem")).unwrap(),
        jwk: Value::Null,
    };
    call(&auth, &token(&ps_as_rs, "mallory"))
        .await
        .assert_refused("RS256 under the PS256 key", 403, "algorithm_not_allowed");
    let es256_as_es384 = token_kid(&keys[2], "es384", "mallory");
    call(&auth, &es256_as_es384).await.assert_refused(
        "ES256 under the ES384 key",
        403,
        "algorithm_not_allowed",
    );
    // An HMAC token is never verified with a public key of the set.
    let hs = TestKey {
        kid: "rs256".into(),
        alg: Algorithm::HS256,
        encoding: EncodingKey::from_secret(keys[0].jwk["n"].as_str().unwrap().as_bytes()).unwrap(),
        jwk: Value::Null,
    };
    call(&auth, &token(&hs, "mallory")).await.assert_refused(
        "HS256 under an RSA key",
        403,
        "algorithm_not_allowed",
    );
    assert_eq!(provider.jwks_hits(), 1, "no fetch for a known kid");
}

#[tokio::test]
async fn only_usable_signature_keys_are_taken_from_the_set() {
    let good = rsa("good");
    let enc = test_key_with_use(
        "rsa2_private.pem",
        Algorithm::RS256,
        "enc",
        PublicKeyUse::Encryption,
    );
    let secret = b"a symmetric secret of well over thirty-two bytes";
    let provider = start_provider(&[]).await;
    provider.set_raw_keys(vec![
        json!({
            "kty": "oct",
            "kid": "oct",
            "alg": "HS256",
            "use": "sig",
            "k": base64_url(secret),
        }),
        enc.jwk.clone(),
        good.jwk.clone(),
    ]);
    let auth = layer_for(source(&provider));
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.jwks_hits(), 1);

    call(&auth, &token(&good, "alice"))
        .await
        .assert_ok("the good key", "alice");
    let oct = TestKey {
        kid: "oct".into(),
        alg: Algorithm::HS256,
        encoding: EncodingKey::from_secret(secret).unwrap(),
        jwk: Value::Null,
    };
    call(&auth, &token(&oct, "mallory")).await.assert_refused(
        "the oct key of a remote set",
        403,
        "algorithm_not_allowed",
    );
    assert_eq!(provider.jwks_hits(), 1);
    call(&auth, &token(&enc, "mallory")).await.assert_refused(
        "the use=enc key",
        403,
        "unknown_key",
    );
    assert!(provider.jwks_hits() <= 2);
    call(&auth, &token(&good, "alice"))
        .await
        .assert_ok("the good key still", "alice");
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[tokio::test]
async fn plain_http_needs_the_opt_in_and_settings_are_checked() {
    let addr = closed_port();
    let url = format!("http://{addr}/jwks");
    let build = |source: JwksSource| JwtAuthLayer::<Value>::builder().jwks(source).build();
    assert!(build(JwksSource::new(&url).unwrap()).is_err());
    assert!(build(JwksSource::new(&url).unwrap().allow_http(true)).is_ok());
    // Each setting checks its own value at the call.
    let source = JwksSource::new(&url).unwrap().allow_http(true);
    assert!(source.clone().algorithms([Algorithm::HS256]).is_err());
    assert!(source
        .clone()
        .cache_ttl(Duration::from_secs(10), Duration::from_secs(5))
        .is_err());
    assert!(source.clone().max_response_size(0).is_err());
    assert!(JwksSource::new("ftp://example.com/jwks").is_err());
    assert!(JwksSource::new("/jwks").is_err());
    // Static keys and a key set in one issuer are ambiguous.
    let key = tower_jwt_auth::Key::rsa_pem(Algorithm::RS256, key_file("rsa_public.pem")).unwrap();
    assert!(JwtAuthLayer::<Value>::builder()
        .key(key)
        .jwks(JwksSource::new(&url).unwrap().allow_http(true))
        .build()
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// An outage is not the client's fault

/// A rotated key during an outage: the fetch that would decide on the unknown `kid` fails, so
/// the answer is 503 (retry), never 403 `unknown_key` (log out), and it stays 503 within the
/// cooldown after the failed fetch. A `kid` missing from a set fetched successfully stays 403,
/// also within the cooldown after that fetch.
#[tokio::test]
async fn an_unknown_kid_during_an_outage_is_503_not_unknown_key() {
    let k1 = rsa("k1");
    let k2 = rsa2("k2");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider).cooldown(Duration::from_secs(1)).unwrap());
    auth.wait_for_keys(WAIT).await.unwrap();
    assert_eq!(provider.jwks_hits(), 1);

    // The provider rotates to k2 and goes down (500).
    provider.set_keys(&[&k1, &k2]);
    provider.behave(Behaviour::Fail);
    let rotated = token(&k2, "alice");
    call(&auth, &rotated).await.assert_refused(
        "a new kid, the fetch that would decide fails (500)",
        503,
        "key_source_unavailable",
    );
    assert_eq!(provider.jwks_hits(), 2, "the unknown kid made one fetch");
    assert_eq!(provider.bad_answers(), 1);
    call(&auth, &rotated).await.assert_refused(
        "the same kid within the cooldown after the failed fetch",
        503,
        "key_source_unavailable",
    );
    let error = auth.verifier().verify(&rotated).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable);
    call(&auth, &token(&k1, "bob"))
        .await
        .assert_ok("the cached key keeps serving", "bob");

    // The provider comes back without k2: a set fetched successfully decides, 403, and so it
    // stays within the cooldown after that fetch.
    provider.set_keys(&[&k1]);
    provider.behave(Behaviour::Serve);
    eventually("a successful fetch decides on the kid", || async {
        let reply = call(&auth, &rotated).await;
        match reply.status.as_u16() {
            503 => false,
            _ => {
                reply.assert_refused("a kid missing from a good set", 403, "unknown_key");
                true
            }
        }
    })
    .await;
    let hits = provider.jwks_hits();
    call(&auth, &rotated).await.assert_refused(
        "a kid missing from a good set, within the cooldown",
        403,
        "unknown_key",
    );
    assert_eq!(provider.jwks_hits(), hits, "no fetch within the cooldown");

    // The provider goes down again, and the connection is refused: the next fetch for the kid
    // fails, 503 again.
    provider.behave(Behaviour::Fail);
    eventually("the failed fetch makes the answer 503 again", || async {
        let reply = call(&auth, &rotated).await;
        match reply.status.as_u16() {
            403 => false,
            _ => {
                reply.assert_refused("the provider down again", 503, "key_source_unavailable");
                true
            }
        }
    })
    .await;
}

/// The same with a key server that refuses connections: the fetch for the unknown `kid` fails,
/// 503.
#[tokio::test]
async fn an_unknown_kid_while_the_key_server_refuses_connections_is_503() {
    let k1 = rsa("k1");
    let k2 = rsa2("k2");
    // A server that serves k1 once, on a port of its own, and then goes away.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let document = json!({ "keys": [k1.jwk.clone()] }).to_string();
    let server = tokio::spawn(async move {
        let app = Router::new().route("/jwks", get(move || async move { document }));
        axum::serve(listener, app).await.unwrap();
    });
    let auth = layer_for(
        JwksSource::new(&format!("http://{addr}/jwks"))
            .unwrap()
            .allow_http(true)
            .cooldown(Duration::from_secs(60))
            .unwrap()
            .timeouts(Duration::from_secs(1), Duration::from_secs(2))
            .unwrap(),
    );
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("k1", "alice");
    server.abort();
    let _ = server.await;
    eventually("the port is closed", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;

    let rotated = token(&k2, "alice");
    call(&auth, &rotated).await.assert_refused(
        "a new kid, connection refused",
        503,
        "key_source_unavailable",
    );
    call(&auth, &rotated).await.assert_refused(
        "the same kid within the cooldown",
        503,
        "key_source_unavailable",
    );
    call(&auth, &token(&k1, "bob"))
        .await
        .assert_ok("the cached key keeps serving", "bob");
}

// ---------------------------------------------------------------------------------------------
// A fetch that never ends, and durations that do not fit into an `Instant`

/// Builds a layer on a runtime of its own (`rt`, current-thread, on a blocking thread), and
/// lets the runtime run until the key server has received the first fetch, which hangs. Gives
/// back the layer and the runtime, which then runs nothing more.
async fn layer_with_a_fetch_stuck_on_another_runtime(
    provider: &Arc<Provider>,
    source: JwksSource,
) -> (JwtAuthLayer<Value>, tokio::runtime::Runtime) {
    let provider = provider.clone();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let auth = rt.block_on(async {
            let auth = layer_for(source);
            let deadline = Instant::now() + WAIT;
            while provider.jwks_hits() == 0 {
                assert!(Instant::now() < deadline, "the first fetch never started");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            auth
        });
        (auth, rt)
    })
    .await
    .unwrap()
}

/// A fetch task dropped in the middle of its fetch (its runtime shut down while the key server
/// had not answered): the next request still gets an answer, in bounded time, and a later fetch
/// works.
#[tokio::test]
async fn a_fetch_dropped_mid_fetch_does_not_block_later_requests() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    provider.behave(Behaviour::Hang(Duration::from_secs(30)));
    let source = source(&provider)
        .cooldown(Duration::from_secs(1))
        .unwrap()
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .unwrap();
    let (auth, rt) = layer_with_a_fetch_stuck_on_another_runtime(&provider, source).await;
    // The runtime goes away, and the fetch task with it.
    tokio::task::spawn_blocking(move || drop(rt)).await.unwrap();

    let reply = tokio::time::timeout(WAIT, call(&auth, &token(&k1, "alice")))
        .await
        .expect("a request after a dropped fetch got no answer in 10 s");
    reply.assert_refused("the key server still hangs", 503, "key_source_unavailable");

    provider.behave(Behaviour::Serve);
    tokio::time::timeout(WAIT, auth.wait_for_keys(WAIT))
        .await
        .expect("wait_for_keys did not end")
        .unwrap();
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("after the key server recovered", "alice");
}

/// A fetch that makes no progress at all (its runtime is alive but runs nothing): a request
/// that joins it waits a bounded time, then gets 503.
#[tokio::test]
async fn waiting_for_a_stalled_fetch_is_bounded_and_ends_in_503() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    provider.behave(Behaviour::Hang(Duration::from_secs(30)));
    let source = source(&provider)
        .cooldown(Duration::from_secs(1))
        .unwrap()
        .timeouts(Duration::from_secs(1), Duration::from_secs(1))
        .unwrap();
    let (auth, rt) = layer_with_a_fetch_stuck_on_another_runtime(&provider, source).await;

    let started = Instant::now();
    let reply = tokio::time::timeout(WAIT, call(&auth, &token(&k1, "alice")))
        .await
        .expect("a request joining a stalled fetch got no answer in 10 s");
    reply.assert_refused("the fetch is stalled", 503, "key_source_unavailable");
    assert!(started.elapsed() < WAIT);
    let error = tokio::time::timeout(WAIT, auth.verifier().verify_async(&token(&k1, "bob")))
        .await
        .expect("verify_async joining a stalled fetch did not end")
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable);
    tokio::task::spawn_blocking(move || drop(rt)).await.unwrap();
}

/// `Duration::MAX` anywhere, and a `max-age` from the wire as large as it gets: nothing
/// overflows, nothing panics, the keys work.
#[tokio::test]
async fn durations_of_duration_max_do_not_panic() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    provider.set_max_age(Some(u64::MAX));
    let auth = layer_for(
        source(&provider)
            .cache_ttl(Duration::from_secs(1), Duration::MAX)
            .unwrap()
            .default_ttl(Duration::MAX)
            .timeouts(Duration::MAX, Duration::MAX)
            .unwrap(),
    );
    let reply = tokio::time::timeout(WAIT, call(&auth, &token(&k1, "alice")))
        .await
        .expect("no answer in 10 s: the fetch task died");
    reply.assert_ok("max-age=u64::MAX within cache_ttl(1 s, MAX)", "alice");
    tokio::time::timeout(WAIT, auth.wait_for_keys(Duration::MAX))
        .await
        .expect("wait_for_keys(MAX) did not end")
        .unwrap();
    // An unknown kid, with the largest bounds: one fetch, then a definite answer.
    let reply = tokio::time::timeout(WAIT, call(&auth, &token_kid(&k1, "other", "alice")))
        .await
        .expect("no answer in 10 s");
    reply.assert_refused("an unknown kid", 403, "unknown_key");

    // A cooldown of MAX is refused at the call, with the setting named.
    let error = source(&provider).cooldown(Duration::MAX).unwrap_err();
    assert!(error.to_string().contains("cooldown"), "{error}");
}

/// `wait_for_keys(Duration::MAX)` on a layer without keys yet: no overflow.
#[tokio::test]
async fn wait_for_keys_of_duration_max_does_not_panic() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let auth = layer_for(source(&provider));
    tokio::time::timeout(WAIT, auth.wait_for_keys(Duration::MAX))
        .await
        .expect("wait_for_keys(MAX) did not end")
        .unwrap();
    call(&auth, &token(&k1, "alice"))
        .await
        .assert_ok("after wait_for_keys(MAX)", "alice");
}

// ---------------------------------------------------------------------------------------------
// Stale keys are kept for a bounded time only

/// While the key server fails, the last good keys keep serving, but only for `max_staleness`
/// past their cache lifetime: then tokens get 503, also tokens in the verified-token cache, until
/// a fetch succeeds again.
#[tokio::test]
async fn stale_keys_stop_serving_after_max_staleness() {
    for cached in [false, true] {
        let label = if cached {
            "token cache"
        } else {
            "no token cache"
        };
        let k1 = rsa("k1");
        let provider = start_provider(&[&k1]).await;
        provider.set_max_age(Some(1));
        let builder = JwtAuthLayer::<Value>::builder().jwks(
            source(&provider)
                .cache_ttl(Duration::from_secs(1), Duration::from_secs(60))
                .unwrap()
                .max_staleness(Duration::from_secs(1)),
        );
        let builder = if cached {
            builder.token_cache(100, 1 << 20).unwrap()
        } else {
            builder
        };
        let auth = builder.build().unwrap();
        auth.wait_for_keys(WAIT).await.unwrap();
        let alice = token(&k1, "alice");
        call(&auth, &alice).await.assert_ok(label, "alice");

        provider.behave(Behaviour::Fail);
        eventually(&format!("{label}: the stale keys stop serving"), || async {
            let reply = call(&auth, &alice).await;
            match reply.status.as_u16() {
                200 => false,
                _ => {
                    reply.assert_refused(label, 503, "key_source_unavailable");
                    true
                }
            }
        })
        .await;
        assert!(provider.bad_answers() >= 1, "{label}");
        call(&auth, &token(&k1, "bob")).await.assert_refused(
            &format!("{label}: another token of the stale key"),
            503,
            "key_source_unavailable",
        );
        let error = auth.verifier().verify(&alice).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable, "{label}");

        // The key server recovers: the keys serve again.
        provider.behave(Behaviour::Serve);
        eventually(&format!("{label}: the keys serve again"), || async {
            call(&auth, &alice).await.status == StatusCode::OK
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Plain http: loopback, or hosts named one by one

#[tokio::test]
async fn plain_http_is_for_loopback_and_named_hosts_only() {
    let build = |source: JwksSource| JwtAuthLayer::<Value>::builder().jwks(source).build();
    // Loopback, with allow_http(true).
    for url in [
        "http://127.0.0.1:1/jwks",
        "http://127.1.2.3:1/jwks",
        "http://localhost:1/jwks",
        "http://LocalHost/jwks",
        "http://[::1]:1/jwks",
    ] {
        assert!(build(JwksSource::new(url).unwrap()).is_err(), "{url}");
        let built = build(JwksSource::new(url).unwrap().allow_http(true));
        assert!(built.is_ok(), "{url}: {:?}", built.err());
    }
    // Not loopback: allow_http(true) does not open it.
    for url in [
        "http://keys.example.com/jwks",
        "http://10.0.0.5/jwks",
        "http://0.0.0.0:1/jwks",
        "http://127.0.0.1.nip.io/jwks",
        "http://localhost.example.com/jwks",
        "http://[::ffff:127.0.0.1]/jwks",
        "http://[fe80::1]/jwks",
    ] {
        let error = build(JwksSource::new(url).unwrap().allow_http(true)).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("allow_http") && message.contains("allow_http_host"),
            "{url}: {message}"
        );
        let error = build(
            JwksSource::discover(&url.replace("/jwks", "/issuer"))
                .unwrap()
                .allow_http(true),
        )
        .unwrap_err();
        assert!(error.to_string().contains("allow_http"), "{url}: {error}");
    }
    // A host named explicitly, with or without allow_http(true), and only that host.
    let named = |url: &str| {
        JwksSource::new(url)
            .unwrap()
            .allow_http_host("keys.internal")
            .unwrap()
    };
    assert!(build(named("http://keys.internal/jwks")).is_ok());
    assert!(build(named("http://KEYS.internal:8080/jwks")).is_ok());
    assert!(build(named("http://keys.internal/jwks").allow_http(true)).is_ok());
    assert!(build(named("https://keys.internal/jwks")).is_ok());
    assert!(build(named("http://other.internal/jwks")).is_err());
    assert!(build(named("http://keys.internal.evil.example/jwks")).is_err());
    assert!(
        build(named("http://127.0.0.1:1/jwks")).is_err(),
        "loopback needs allow_http"
    );
    assert!(build(
        JwksSource::discover("http://keys.internal/realms/a")
            .unwrap()
            .allow_http_host("keys.internal")
            .unwrap()
    )
    .is_ok());
    // A named host must be a host.
    for bad in [
        "",
        "keys.internal/jwks",
        "user@keys.internal",
        "keys.internal:80",
        "a b",
    ] {
        let error = JwksSource::new("https://keys.example.com/jwks")
            .unwrap()
            .allow_http_host(bad)
            .unwrap_err();
        assert!(
            error.to_string().contains("allow_http_host"),
            "{bad:?}: {error}"
        );
    }
}

/// Real fetches over plain http to loopback, by address and by the name `localhost`.
#[tokio::test]
async fn plain_http_to_loopback_fetches() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    for url in [
        provider.jwks_url(),
        format!("http://localhost:{}/jwks", provider.addr.port()),
    ] {
        let auth = layer_for(JwksSource::new(&url).unwrap().allow_http(true));
        auth.wait_for_keys(WAIT).await.unwrap();
        call(&auth, &token(&k1, "alice"))
            .await
            .assert_ok(&url, "alice");
    }
}

/// The `jwks_uri` found by discovery follows the same rule: a loopback one is fetched, a
/// non-loopback one is refused at discovery under `allow_http(true)` and fetched when its host
/// is named. The non-loopback address is `0.0.0.0`, which Linux connects to the local host, so
/// that the key server is reached when the rule lets it.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_discovered_plain_http_jwks_uri_follows_the_same_rule() {
    let k1 = rsa("k1");
    let provider = start_provider(&[&k1]).await;
    let issuer = provider.issuer();
    let port = provider.addr.port();
    let alice = token_with(&k1, Some("k1"), "alice", json!({ "iss": issuer }));
    let discover = |uri: String| {
        *provider.metadata.lock().unwrap() = json!({ "issuer": issuer, "jwks_uri": uri });
        JwtAuthLayer::<Value>::builder()
            .jwks(JwksSource::discover(&issuer).unwrap().allow_http(true))
            .issuer(&issuer)
    };

    // Loopback, by name.
    let auth = discover(format!("http://localhost:{port}/jwks"))
        .unwrap()
        .build()
        .unwrap();
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &alice)
        .await
        .assert_ok("a loopback jwks_uri", "alice");
    let hits = provider.jwks_hits();
    assert_eq!(hits, 1);

    // Not loopback: refused at discovery, the key set is never fetched.
    let auth = discover(format!("http://0.0.0.0:{port}/jwks"))
        .unwrap()
        .build()
        .unwrap();
    let error = auth
        .wait_for_keys(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::KeySourceUnavailable);
    call(&auth, &alice).await.assert_refused(
        "a non-loopback http jwks_uri under allow_http(true)",
        503,
        "key_source_unavailable",
    );
    assert_eq!(
        provider.jwks_hits(),
        hits,
        "the non-loopback jwks_uri was fetched"
    );

    // The same host, named: fetched.
    *provider.metadata.lock().unwrap() =
        json!({ "issuer": issuer, "jwks_uri": format!("http://0.0.0.0:{port}/jwks") });
    let auth = JwtAuthLayer::<Value>::builder()
        .jwks(
            JwksSource::discover(&issuer)
                .unwrap()
                .allow_http(true)
                .allow_http_host("0.0.0.0")
                .unwrap(),
        )
        .issuer(&issuer)
        .unwrap()
        .build()
        .unwrap();
    auth.wait_for_keys(WAIT).await.unwrap();
    call(&auth, &alice)
        .await
        .assert_ok("a named jwks_uri host", "alice");
    assert_eq!(provider.jwks_hits(), hits + 1);
}
