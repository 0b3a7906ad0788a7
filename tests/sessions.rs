//! `Sessions`, the session lifecycle, and its HTTP endpoints.
//!
//! The behaviour suite is written once and run against `MemoryStore` and (feature `redis`)
//! against `RedisStore` at `REDIS_URL` with a random key prefix per test; without a reachable
//! Redis the Redis half is skipped with a message, unless `REQUIRE_REDIS=1`. Expiry is driven
//! by an injected clock, never by sleeping. The endpoint tests run a real axum server on
//! `127.0.0.1:0` and talk to it with hyper-util's client.

mod session_support;

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::{json, Value};
use session_support::Harness;
use tower::{Layer, ServiceExt};
use tower_jwt_auth::revocation::{RevocationQuery, StoreError, StoreFuture, TokenIdentity};
use tower_jwt_auth::session::{
    Grant, RefreshToken, RefreshTokenKey, ReuseEvent, SessionError, SessionErrorKind, SessionId,
    SessionLimits, SessionStore, Sessions, SessionsBuilder, TokenPair,
};
use tower_jwt_auth::{Algorithm, SigningKey};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";
const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    scope: String,
}

fn signing_key() -> SigningKey {
    SigningKey::hmac(Algorithm::HS256, b"sessions-suite-hmac-secret-32-b!")
        .unwrap()
        .with_kid("k1")
}

/// The signing key and the issuer of every test.
fn issuing() -> SessionsBuilder {
    Sessions::builder()
        .signing_key(signing_key())
        .and_then(|b| b.issuer(ISSUER))
        .unwrap()
}

/// Sessions over the harness's store and clock; reuse events are recorded.
fn sessions(h: &Harness) -> (Sessions, Arc<Mutex<Vec<ReuseEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let recorded = events.clone();
    let sessions = issuing()
        .audience(AUDIENCE)
        .unwrap()
        .at_jwt_typ(true)
        .clock(h.clock.clone())
        .store(h.store.clone())
        .refresh_token_key(session_support::key())
        .on_reuse(move |event| recorded.lock().unwrap().push(event.clone()))
        .build()
        .unwrap();
    (sessions, events)
}

fn grant(sub: &str) -> Grant {
    Grant::new(sub).scopes(["read", "write"])
}

fn kind(result: Result<TokenPair, SessionError>) -> SessionErrorKind {
    match result {
        Ok(pair) => panic!("expected a refusal, got {pair:?}"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.kind()
        }
    }
}

/// The access token through the layer configured by `layer_builder`: its claims, or the
/// status of the refusal.
async fn through_layer(sessions: &Sessions, token: &str) -> Result<Claims, StatusCode> {
    let layer = sessions.layer_builder::<Claims>().build().unwrap();
    let handler = tower::service_fn(|req: Request<String>| async move {
        let mut response = Response::new(String::new());
        if let Some(claims) = req.extensions().get::<Claims>().cloned() {
            response.extensions_mut().insert(claims);
        }
        Ok::<_, Infallible>(response)
    });
    let response = layer
        .layer(handler)
        .oneshot(
            Request::builder()
                .header("authorization", format!("Bearer {token}"))
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    if response.status() != StatusCode::OK {
        return Err(response.status());
    }
    Ok(response
        .extensions()
        .get::<Claims>()
        .cloned()
        .expect("claims for the handler"))
}

// -------------------------------------------------------------------------------------------
// The behaviours, each written once.

/// A session opens with a pair; its access token passes the layer built from the same
/// configuration, with the session's `sid` and the grant's scopes.
async fn open_issues_a_pair_the_layer_accepts(h: &Harness) {
    let (sessions, _) = sessions(h);
    let pair = sessions.open(grant("alice")).await.unwrap();
    assert_eq!(pair.token_type(), "Bearer");
    assert_eq!(pair.expires_in(), 600);
    let now = h.clock.now_millis() / 1000;
    assert_eq!(pair.session_expires_at(), now + 30 * 24 * 3600);
    // Opaque (never a JWT), and it names the access token's session under the MAC.
    assert_eq!(pair.refresh_token().len(), 118);
    assert!(!pair.refresh_token().contains('.'));
    let claims = through_layer(&sessions, pair.access_token()).await.unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.scope, "read write");
    assert_eq!(claims.sid.len(), 22);
    let named = session_support::key()
        .verify(&RefreshToken::parse(pair.refresh_token()).unwrap())
        .unwrap();
    assert_eq!(named.as_str(), claims.sid);

    // A refreshed access token passes too, in the same session with the same grant.
    let next = sessions.refresh(pair.refresh_token()).await.unwrap();
    let again = through_layer(&sessions, next.access_token()).await.unwrap();
    assert_eq!(again.sid, claims.sid);
    assert_eq!(again.scope, "read write");
    assert_eq!(next.session_expires_at(), pair.session_expires_at());

    // The published keys: HMAC keys are never published.
    assert_eq!(sessions.jwks_document(), r#"{"keys":[]}"#);
    assert_eq!(sessions.verification_keys().len(), 1);
    // A bad grant opens nothing.
    let before = h.snapshot().await;
    assert_eq!(
        kind(sessions.open(Grant::new("")).await),
        SessionErrorKind::Issue
    );
    assert_eq!(before, h.snapshot().await);
    h.cleanup().await;
}

/// Refresh rotates; the old token within the grace window gets the same pair; after the window
/// it is reuse: the session dies, its newest token is refused, the hook is called once.
async fn rotation_grace_and_reuse(h: &Harness) {
    let (sessions, events) = sessions(h);
    let first = sessions.open(grant("alice")).await.unwrap();
    let sid = through_layer(&sessions, first.access_token())
        .await
        .unwrap()
        .sid;

    h.clock.advance(Duration::from_secs(60));
    let second = sessions.refresh(first.refresh_token()).await.unwrap();
    assert_ne!(second.refresh_token(), first.refresh_token());
    assert_ne!(second.access_token(), first.access_token());

    // Within the grace window: the same pair.
    h.clock.advance(Duration::from_secs(5));
    let again = sessions.refresh(first.refresh_token()).await.unwrap();
    assert_eq!(again.access_token(), second.access_token());
    assert_eq!(again.refresh_token(), second.refresh_token());
    assert_eq!(again.expires_in(), 595, "expires_in counts down");
    assert!(events.lock().unwrap().is_empty());

    // The successor works and rotates on.
    let third = sessions.refresh(second.refresh_token()).await.unwrap();

    // After the window: reuse ends the session.
    h.clock.advance(Duration::from_secs(11));
    assert_eq!(
        kind(sessions.refresh(first.refresh_token()).await),
        SessionErrorKind::RefreshReused
    );
    {
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1, "the hook is called once");
        assert_eq!(
            (events[0].sub.as_str(), events[0].sid.as_str()),
            ("alice", sid.as_str())
        );
    }
    assert_eq!(
        kind(sessions.refresh(third.refresh_token()).await),
        SessionErrorKind::InvalidRefreshToken,
        "the newest token of the ended session is refused"
    );
    let status = sessions
        .store()
        .status(RevocationQuery {
            jti: None,
            sid: Some(&sid),
            sub: Some("alice"),
            iss: Some(ISSUER),
        })
        .await
        .unwrap();
    assert!(status.session_ended, "its access tokens are revoked");
    assert_eq!(events.lock().unwrap().len(), 1);
    h.cleanup().await;
}

/// 32 concurrent refreshes of one token all get the same pair, and the session lives on.
async fn concurrent_refreshes_get_one_successor(h: &Harness) {
    let (sessions, events) = sessions(h);
    let first = sessions.open(grant("alice")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let sessions = sessions.clone();
        let token = first.refresh_token().to_owned();
        tasks.push(tokio::spawn(async move { sessions.refresh(&token).await }));
    }
    let mut pairs = HashSet::new();
    for task in tasks {
        let pair = task.await.unwrap().expect("every racer gets the successor");
        pairs.insert((
            pair.access_token().to_owned(),
            pair.refresh_token().to_owned(),
        ));
    }
    assert_eq!(pairs.len(), 1, "one successor pair");
    let (_, refresh) = pairs.into_iter().next().unwrap();
    sessions
        .refresh(&refresh)
        .await
        .expect("the session lives on");
    assert!(events.lock().unwrap().is_empty());
    h.cleanup().await;
}

/// Idle timeout and absolute lifetime, with the injected clock.
async fn idle_and_absolute_expiry(h: &Harness) {
    let (sessions, _) = sessions(h);

    // Idle: not used for 7 days.
    let pair = sessions.open(grant("alice")).await.unwrap();
    h.clock.advance(7 * DAY + Duration::from_secs(1));
    assert_eq!(
        kind(sessions.refresh(pair.refresh_token()).await),
        SessionErrorKind::RefreshExpired
    );

    // Absolute: refreshed every 6 days, it still ends 30 days after it was opened.
    let mut pair = sessions.open(grant("bob")).await.unwrap();
    let opened = pair.session_expires_at();
    for _ in 0..4 {
        h.clock.advance(6 * DAY);
        pair = sessions.refresh(pair.refresh_token()).await.unwrap();
        assert_eq!(
            pair.session_expires_at(),
            opened,
            "rotation never extends it"
        );
    }
    h.clock.advance(6 * DAY + Duration::from_secs(1)); // 30 days and a second
    assert_eq!(
        kind(sessions.refresh(pair.refresh_token()).await),
        SessionErrorKind::RefreshExpired
    );
    h.cleanup().await;
}

/// Logout by session, by refresh token, by access token identity, and everywhere.
async fn logouts(h: &Harness) {
    let (sessions, _) = sessions(h);

    // By sid.
    let a = sessions.open(grant("alice")).await.unwrap();
    let a_sid = through_layer(&sessions, a.access_token())
        .await
        .unwrap()
        .sid;
    assert!(sessions.logout(&a_sid).await.unwrap());
    assert!(!sessions.logout(&a_sid).await.unwrap(), "already ended");
    assert!(!sessions.logout("not a sid{}").await.unwrap());
    assert_eq!(
        kind(sessions.refresh(a.refresh_token()).await),
        SessionErrorKind::InvalidRefreshToken
    );

    // By refresh token (the access token may have expired).
    let b = sessions.open(grant("alice")).await.unwrap();
    let b_sid = through_layer(&sessions, b.access_token())
        .await
        .unwrap()
        .sid;
    assert!(sessions
        .logout_by_refresh_token(b.refresh_token())
        .await
        .unwrap());
    assert_eq!(
        kind(sessions.refresh(b.refresh_token()).await),
        SessionErrorKind::InvalidRefreshToken
    );
    let status = sessions
        .store()
        .status(RevocationQuery {
            jti: None,
            sid: Some(&b_sid),
            sub: None,
            iss: Some(ISSUER),
        })
        .await
        .unwrap();
    assert!(status.session_ended);
    // Unknown, malformed, oversized: nothing ended, no error.
    for token in [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        "a.b.c".to_owned(),
        "A".repeat(600),
        String::new(),
    ] {
        assert!(!sessions.logout_by_refresh_token(&token).await.unwrap());
    }

    // By the access token's identity.
    let c = sessions.open(grant("alice")).await.unwrap();
    let c_claims = through_layer(&sessions, c.access_token()).await.unwrap();
    let identity =
        TokenIdentity::new("j", Some(c_claims.sid), "alice", 0, u64::MAX / 2).with_issuer(ISSUER);
    assert!(sessions.logout_identity(&identity).await.unwrap());
    assert_eq!(
        kind(sessions.refresh(c.refresh_token()).await),
        SessionErrorKind::InvalidRefreshToken
    );

    // Everywhere: alice's two sessions end, bob's lives on.
    let d = sessions.open(grant("alice")).await.unwrap();
    let e = sessions.open(grant("alice")).await.unwrap();
    let bob = sessions.open(grant("bob")).await.unwrap();
    assert_eq!(sessions.logout_everywhere("alice").await.unwrap(), 2);
    for pair in [&d, &e] {
        assert_eq!(
            kind(sessions.refresh(pair.refresh_token()).await),
            SessionErrorKind::InvalidRefreshToken
        );
    }
    sessions.refresh(bob.refresh_token()).await.unwrap();
    assert_eq!(sessions.logout_everywhere("").await.unwrap(), 0);
    h.cleanup().await;
}

/// Unknown, forged, malformed and oversized refresh tokens are `invalid_refresh_token` and
/// change nothing in the store.
async fn bad_input_changes_nothing(h: &Harness) {
    let (sessions, events) = sessions(h);
    let pair = sessions.open(grant("alice")).await.unwrap();
    let before = h.snapshot().await;
    let unknown = session_support::key()
        .issue(&SessionId::generate().unwrap())
        .unwrap();
    let mut oversized = pair.refresh_token().to_owned();
    oversized.push_str(&"A".repeat(513));
    for token in [
        unknown.as_str(),
        "",
        "a.b.c",
        "abc=",
        "é",
        &oversized,
        &"A".repeat(513),
    ] {
        assert_eq!(
            kind(sessions.refresh(token).await),
            SessionErrorKind::InvalidRefreshToken,
            "{:.20}",
            token
        );
    }
    assert_eq!(before, h.snapshot().await, "nothing in the store changed");
    assert!(events.lock().unwrap().is_empty());
    sessions.refresh(pair.refresh_token()).await.unwrap();
    h.cleanup().await;
}

/// Nobody can end someone else's session by fabricating a refresh token that names it: a token
/// naming a live session's `sid` whose MAC does not verify (made up, altered, or signed under
/// another key) is `invalid_refresh_token`, changes nothing, and the session lives on, even
/// after it was rotated (when any older token of it would count as reuse).
async fn forged_tokens_naming_a_live_session_cannot_end_it(h: &Harness) {
    let (sessions, events) = sessions(h);
    let first = sessions.open(grant("alice")).await.unwrap();
    let current = sessions.refresh(first.refresh_token()).await.unwrap();
    h.clock.advance(Duration::from_secs(60));
    let sid = session_support::key()
        .verify(&RefreshToken::parse(current.refresh_token()).unwrap())
        .unwrap();
    let before = h.snapshot().await;

    // The layout of a real token (version, sid length, sid, 32 random bytes, 32 MAC bytes)
    // with a made-up MAC, an altered one, and one signed under another key.
    let mut made_up = vec![1u8, u8::try_from(sid.as_str().len()).unwrap()];
    made_up.extend_from_slice(sid.as_str().as_bytes());
    made_up.extend_from_slice(&[0x5a; 64]);
    let mut altered = URL_SAFE_NO_PAD.decode(current.refresh_token()).unwrap();
    *altered.last_mut().unwrap() ^= 0x80;
    let other_key = RefreshTokenKey::new(&[0xa5; 32]).unwrap();
    let foreign = other_key.issue(&sid).unwrap();
    for forged in [
        URL_SAFE_NO_PAD.encode(&made_up),
        URL_SAFE_NO_PAD.encode(&altered),
        foreign.as_str().to_owned(),
    ] {
        assert_eq!(
            kind(sessions.refresh(&forged).await),
            SessionErrorKind::InvalidRefreshToken
        );
        assert!(!sessions.logout_by_refresh_token(&forged).await.unwrap());
    }
    assert_eq!(before, h.snapshot().await, "nothing in the store changed");
    assert!(events.lock().unwrap().is_empty(), "no reuse was reported");
    // The session lives on: its current token refreshes, its access tokens pass.
    let next = sessions.refresh(current.refresh_token()).await.unwrap();
    assert!(through_layer(&sessions, next.access_token()).await.is_ok());
    // While a genuine older token of it is still recognised as reused.
    assert_eq!(
        kind(sessions.refresh(first.refresh_token()).await),
        SessionErrorKind::RefreshReused
    );
    h.cleanup().await;
}

macro_rules! suite {
    ($store:ident, $harness:expr) => {
        mod $store {
            use super::*;

            macro_rules! behaviour {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let Some(h) = $harness else { return };
                        super::$name(&h).await;
                    }
                };
            }

            behaviour!(open_issues_a_pair_the_layer_accepts);
            behaviour!(rotation_grace_and_reuse);
            behaviour!(concurrent_refreshes_get_one_successor);
            behaviour!(idle_and_absolute_expiry);
            behaviour!(logouts);
            behaviour!(bad_input_changes_nothing);
            behaviour!(forged_tokens_naming_a_live_session_cannot_end_it);
        }
    };
}

suite!(memory, Some(Harness::memory()));
#[cfg(feature = "redis")]
suite!(redis, Harness::redis().await);

// -------------------------------------------------------------------------------------------
// The endpoints, over a real server.

/// An axum server on `127.0.0.1:0` serving the endpoints under `/auth`. A request with the
/// headers `x-test-sub` (and `x-test-sid`) gets a `TokenIdentity`, as an auth layer would add.
async fn serve(sessions: Sessions) -> String {
    let endpoints = sessions
        .endpoints()
        .map_request(|mut req: Request<axum::body::Body>| {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if let Some(sub) = header("x-test-sub") {
                let identity =
                    TokenIdentity::new("jti-1", header("x-test-sid"), sub, 0, u64::MAX / 2)
                        .with_issuer(ISSUER);
                req.extensions_mut().insert(identity);
            }
            req
        });
    let app = axum::Router::new().nest_service("/auth", endpoints);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

struct Answer {
    status: StatusCode,
    cache_control: String,
    allow: Option<String>,
    www_authenticate: Option<String>,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

async fn send(
    base: &str,
    method: &str,
    path: &str,
    body: impl Into<Bytes>,
    identity: Option<(&str, Option<&str>)>,
) -> Answer {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json");
    if let Some((sub, sid)) = identity {
        req = req.header("x-test-sub", sub);
        if let Some(sid) = sid {
            req = req.header("x-test-sid", sid);
        }
    }
    let response = client
        .request(req.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let status = response.status();
    let cache_control = header("cache-control").unwrap_or_default();
    let allow = header("allow");
    let www_authenticate = header("www-authenticate");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        cache_control,
        allow,
        www_authenticate,
        body,
    }
}

fn token_body(token: &str) -> String {
    json!({ "refresh_token": token }).to_string()
}

fn memory_sessions(h: &Harness, grace: Duration) -> Sessions {
    issuing()
        .audience(AUDIENCE)
        .unwrap()
        .clock(h.clock.clone())
        .store(h.store.clone())
        .refresh_token_key(session_support::key())
        .refresh_grace(grace)
        .and_then(|b| b.build())
        .unwrap()
}

fn assert_refused(answer: &Answer, status: StatusCode, error: &str, reason: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.json());
    assert_eq!(answer.cache_control, "no-store");
    let body = answer.json();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

#[tokio::test]
async fn endpoint_refresh_answers_pairs_and_every_refusal() {
    let h = Harness::memory();
    let sessions = memory_sessions(&h, Duration::from_secs(10));
    let base = serve(sessions.clone()).await;
    let first = sessions.open(grant("alice")).await.unwrap();

    // 200 with the new pair; within the grace window the same pair again.
    let ok = send(
        &base,
        "POST",
        "/auth/refresh",
        token_body(first.refresh_token()),
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.cache_control, "no-store");
    let pair = ok.json();
    let keys: HashSet<&str> = pair
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from([
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "session_expires_at"
        ])
    );
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 600);
    let again = send(
        &base,
        "POST",
        "/auth/refresh",
        token_body(first.refresh_token()),
        None,
    )
    .await;
    assert_eq!(again.json(), pair);

    // Unknown, malformed, oversized: 401 invalid_refresh_token.
    let unknown = session_support::key()
        .issue(&SessionId::generate().unwrap())
        .unwrap();
    for token in [unknown.as_str().to_owned(), "a.b.c".into(), "A".repeat(600)] {
        let answer = send(&base, "POST", "/auth/refresh", token_body(&token), None).await;
        assert_refused(
            &answer,
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "invalid_refresh_token",
        );
        assert!(answer.www_authenticate.is_none());
    }

    // Expired: 401 refresh_expired.
    let idle = sessions.open(grant("bob")).await.unwrap();
    h.clock.advance(8 * DAY);
    let answer = send(
        &base,
        "POST",
        "/auth/refresh",
        token_body(idle.refresh_token()),
        None,
    )
    .await;
    assert_refused(
        &answer,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
        "refresh_expired",
    );

    // Reused after the window: 401 refresh_reused, and the session is over.
    let c = sessions.open(grant("carol")).await.unwrap();
    let c2 = sessions.refresh(c.refresh_token()).await.unwrap();
    h.clock.advance(Duration::from_secs(11));
    let answer = send(
        &base,
        "POST",
        "/auth/refresh",
        token_body(c.refresh_token()),
        None,
    )
    .await;
    assert_refused(
        &answer,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
        "refresh_reused",
    );
    let answer = send(
        &base,
        "POST",
        "/auth/refresh",
        token_body(c2.refresh_token()),
        None,
    )
    .await;
    assert_refused(
        &answer,
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
        "invalid_refresh_token",
    );

    // Not the expected JSON: 400 invalid_request.
    for body in ["", "not json", "{}", r#"{"refresh_token": 5}"#, "[1]"] {
        let answer = send(&base, "POST", "/auth/refresh", body.to_owned(), None).await;
        assert_refused(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid_request",
        );
    }
    // Over 4 KiB: 413, unread.
    let big = token_body(&"A".repeat(5000));
    let answer = send(&base, "POST", "/auth/refresh", big, None).await;
    assert_refused(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        "invalid_request",
    );

    // Other methods and paths.
    let answer = send(&base, "GET", "/auth/refresh", "", None).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.allow.as_deref(), Some("POST"));
    assert_eq!(answer.cache_control, "no-store");
    let answer = send(&base, "POST", "/auth/nope", "", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.cache_control, "no-store");
}

#[tokio::test]
async fn endpoint_logout_by_refresh_token_by_identity_and_everywhere() {
    let h = Harness::memory();
    let sessions = memory_sessions(&h, Duration::from_secs(10));
    let base = serve(sessions.clone()).await;

    // With the refresh token: 204, and the session is over.
    let a = sessions.open(grant("alice")).await.unwrap();
    let answer = send(
        &base,
        "POST",
        "/auth/logout",
        token_body(a.refresh_token()),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.cache_control, "no-store");
    assert!(answer.body.is_empty());
    assert_eq!(
        kind(sessions.refresh(a.refresh_token()).await),
        SessionErrorKind::InvalidRefreshToken
    );
    // An unknown or malformed token: 204 as well (nothing revealed).
    for token in ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a.b.c"] {
        let answer = send(&base, "POST", "/auth/logout", token_body(token), None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    // No identity and no JSON: 400.
    let answer = send(&base, "POST", "/auth/logout", "nope", None).await;
    assert_refused(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "invalid_request",
    );

    // With the access token's identity: 204, that session is over.
    let b = sessions.open(grant("alice")).await.unwrap();
    let b_sid = through_layer(&sessions, b.access_token())
        .await
        .unwrap()
        .sid;
    let answer = send(
        &base,
        "POST",
        "/auth/logout",
        "",
        Some(("alice", Some(&b_sid))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.cache_control, "no-store");
    assert_eq!(
        kind(sessions.refresh(b.refresh_token()).await),
        SessionErrorKind::InvalidRefreshToken
    );

    // Everywhere: every session of the identity's subject.
    let c = sessions.open(grant("alice")).await.unwrap();
    let d = sessions.open(grant("alice")).await.unwrap();
    let bob = sessions.open(grant("bob")).await.unwrap();
    let answer = send(&base, "POST", "/auth/logout-all", "", Some(("alice", None))).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.cache_control, "no-store");
    for pair in [&c, &d] {
        assert_eq!(
            kind(sessions.refresh(pair.refresh_token()).await),
            SessionErrorKind::InvalidRefreshToken
        );
    }
    sessions.refresh(bob.refresh_token()).await.unwrap();

    // Without an identity: 401 missing.
    let answer = send(&base, "POST", "/auth/logout-all", "", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.cache_control, "no-store");
    assert_eq!(answer.json()["reason"], "missing");
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    let answer = send(&base, "GET", "/auth/logout-all", "", None).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A store that cannot be reached.
struct Down;

fn down<'a, T: Send + 'a>() -> StoreFuture<'a, T> {
    Box::pin(async { Err(StoreError::unavailable("connection refused")) })
}

impl tower_jwt_auth::revocation::RevocationStore for Down {
    fn status<'a>(
        &'a self,
        _: RevocationQuery<'a>,
    ) -> StoreFuture<'a, tower_jwt_auth::revocation::RevocationStatus> {
        down()
    }
    fn revoke_token<'a>(&'a self, _: &'a str, _: &'a str, _: Duration) -> StoreFuture<'a, ()> {
        down()
    }
    fn set_subject_cutoff<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> StoreFuture<'a, ()> {
        down()
    }
}

impl SessionStore for Down {
    fn create<'a>(
        &'a self,
        _: tower_jwt_auth::session::NewSession,
        _: &'a SessionLimits,
    ) -> StoreFuture<'a, std::time::SystemTime> {
        down()
    }
    fn lookup<'a>(
        &'a self,
        _: &'a SessionId,
        _: &'a tower_jwt_auth::session::TokenHash,
    ) -> StoreFuture<'a, tower_jwt_auth::session::Lookup> {
        down()
    }
    fn rotate<'a>(
        &'a self,
        _: tower_jwt_auth::session::Rotation,
        _: &'a SessionLimits,
    ) -> StoreFuture<'a, tower_jwt_auth::session::RotateOutcome> {
        down()
    }
    fn end_session<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a SessionLimits,
    ) -> StoreFuture<'a, bool> {
        down()
    }
    fn end_subject<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        down()
    }
}

#[tokio::test]
async fn endpoint_store_failure_is_503_and_lets_nothing_in() {
    let sessions = issuing()
        .store(Down)
        .refresh_token_key(session_support::key())
        .build()
        .unwrap();
    assert_eq!(
        kind(sessions.open(grant("alice")).await),
        SessionErrorKind::StoreUnavailable
    );
    let base = serve(sessions).await;
    // A well-formed token with a valid MAC: the store is asked, and cannot answer.
    let token = session_support::key()
        .issue(&SessionId::generate().unwrap())
        .unwrap();
    let token = token.as_str();
    for (path, identity) in [
        ("/auth/refresh", None),
        ("/auth/logout", None),
        ("/auth/logout", Some(("alice", Some("sid1")))),
        ("/auth/logout-all", Some(("alice", None))),
    ] {
        let answer = send(&base, "POST", path, token_body(token), identity).await;
        assert_refused(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "session_store_unavailable",
        );
        assert!(answer.www_authenticate.is_none());
    }
}

/// A store shared between processes needs a configured refresh token key (every instance must
/// verify the others' tokens); the in-memory store gets a random one per process.
#[test]
fn a_shared_store_requires_a_refresh_token_key() {
    let err = issuing().store(Down).build().unwrap_err();
    assert!(err.to_string().contains("refresh token key"), "{err}");
    let memory = Sessions::builder()
        .signing_key(signing_key())
        .and_then(|b| b.issuer(ISSUER))
        .and_then(|b| b.build());
    assert!(memory.is_ok());
}

/// A full in-memory store refuses a login (open) as unavailable.
#[tokio::test]
async fn full_memory_store_refuses_open_as_unavailable() {
    let h = Harness::memory_with_capacity(1);
    let sessions = memory_sessions(&h, Duration::from_secs(10));
    sessions.open(grant("alice")).await.unwrap();
    assert_eq!(
        kind(sessions.open(grant("bob")).await),
        SessionErrorKind::StoreUnavailable
    );
}

/// The same service under hyper (full paths, `prefix`) and under axum's `route_service`.
#[tokio::test]
async fn endpoint_serves_under_hyper_and_axum_route_service() {
    let h = Harness::memory();
    let sessions = memory_sessions(&h, Duration::from_secs(10));

    // hyper, through hyper-util's Tower adapter.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoints = sessions.endpoints().prefix("/auth/");
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(endpoints.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let base = format!("http://{addr}");
    let pair = sessions.open(grant("alice")).await.unwrap();
    let answer = send(
        &base,
        "POST",
        "/auth/refresh",
        token_body(pair.refresh_token()),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.cache_control, "no-store");
    let next = answer.json()["refresh_token"].as_str().unwrap().to_owned();
    let answer = send(&base, "POST", "/refresh", token_body(&next), None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // axum's route_service keeps the full path.
    let app =
        axum::Router::new().route_service("/auth/refresh", sessions.endpoints().prefix("/auth"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let answer = send(
        &format!("http://{addr}"),
        "POST",
        "/auth/refresh",
        token_body(&next),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}
