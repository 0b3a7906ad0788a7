//! The layer's revocation check, written once and run against `MemoryStore` and (feature
//! `redis`) `RedisStore` at `REDIS_URL` with a random key prefix per test. Without a reachable
//! Redis the Redis half is skipped with a message, unless `REQUIRE_REDIS=1`.
//!
//! Covered: a revoked `jti`, an ended session, a subject's logout-everywhere cutoff for tokens
//! without a `sid`, the claims the check requires, an optional `sid`, revocation of a cached
//! token, the `TokenIdentity` handed to handlers, a store that cannot answer (503, fail-open,
//! never anonymous).

mod session_support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use session_support::Harness;
use tower::{ServiceBuilder, ServiceExt};
use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture, TokenIdentity,
};
use tower_jwt_auth::session::SessionLimits;
use tower_jwt_auth::{
    Algorithm, AuthError, AuthMode, ErrorKind, InvalidTokenPolicy, JwtAuthBuilder, JwtAuthLayer,
    Key,
};

const SECRET: &[u8] = b"revocation-suite secret, 32 bytes or more";

#[derive(Clone, Debug, serde::Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
}

fn builder() -> JwtAuthBuilder<Claims> {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    JwtAuthLayer::<Claims>::builder().key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
}

fn mint(claims: &Value) -> String {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

/// A token of session `sid` (or none) issued at `iat`, valid for five minutes.
fn token(jti: &str, sid: Option<&str>, sub: &str, iat: u64) -> String {
    let mut claims = json!({ "sub": sub, "jti": jti, "iat": iat, "exp": iat + 300 });
    if let Some(sid) = sid {
        claims["sid"] = sid.into();
    }
    mint(&claims)
}

fn now_secs(h: &Harness) -> u64 {
    h.clock.now_millis() / 1000
}

/// A name unique to one test, so that tests sharing a Redis never see each other's entries.
fn unique(name: &str) -> String {
    format!("{name}-{}", session_support::random_id(10))
}

/// Answers with the handler's view: the identity's parts, `no identity`, or `anonymous`.
async fn handler(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match (
        req.extensions().get::<Claims>(),
        req.extensions().get::<TokenIdentity>(),
    ) {
        (Some(_), Some(id)) => format!(
            "jti={};sid={};sub={};iat={};exp={}",
            id.jti,
            id.sid.as_deref().unwrap_or("-"),
            id.sub,
            id.iat,
            id.exp
        ),
        (Some(_), None) => "no identity".to_owned(),
        (None, _) => "anonymous".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    kind: Option<ErrorKind>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn assert_ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
    }

    fn assert_revoked(&self) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        assert_eq!(self.kind, Some(ErrorKind::Revoked));
        assert_eq!(self.json()["reason"], "revoked");
        assert_eq!(self.json()["error"], "invalid_token");
        let challenge = self.challenge.as_deref().unwrap_or_default();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(!ErrorKind::Revoked.is_refreshable());
    }

    fn assert_invalid_claims(&self) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{self:?}");
        assert_eq!(self.kind, Some(ErrorKind::InvalidClaims));
        assert_eq!(self.json()["reason"], "invalid_claims");
    }

    fn assert_unavailable(&self) {
        assert_eq!(self.status, StatusCode::SERVICE_UNAVAILABLE, "{self:?}");
        assert_eq!(self.kind, Some(ErrorKind::RevocationUnavailable));
        assert_eq!(self.challenge, None);
        assert_eq!(self.json()["error"], "temporarily_unavailable");
        assert_eq!(self.json()["reason"], "revocation_unavailable");
    }
}

async fn call(layer: &JwtAuthLayer<Claims>, token: &str) -> Answer {
    let req = Request::builder()
        .uri("/api/me")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::default())
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(handler);
    let response = svc.oneshot(req).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let kind = response
        .extensions()
        .get::<AuthError>()
        .map(AuthError::kind);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        kind,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn limits() -> SessionLimits {
    SessionLimits::default()
}

// -------------------------------------------------------------------------------------------
// The behaviours, each written once.

async fn revoked_jti_is_refused(h: &Harness) {
    let layer = builder().revocation(h.store.clone()).build().unwrap();
    let (jti, sid) = (unique("jti"), unique("sid"));
    let t = now_secs(h);
    let token = token(&jti, Some(&sid), "alice", t);
    call(&layer, &token).await.assert_ok();
    h.store
        .revoke_token("", &jti, Duration::from_secs(600))
        .await
        .unwrap();
    call(&layer, &token).await.assert_revoked();
    // Another token of the same session is not affected.
    call(&layer, &self::token(&unique("jti"), Some(&sid), "alice", t))
        .await
        .assert_ok();
}

async fn ended_session_is_refused(h: &Harness) {
    let layer = builder().revocation(h.store.clone()).build().unwrap();
    let (sid, other) = (unique("sid"), unique("sid"));
    let t = now_secs(h);
    let token = token(&unique("jti"), Some(&sid), "alice", t);
    call(&layer, &token).await.assert_ok();
    h.store.end_session("", &sid, &limits()).await.unwrap();
    call(&layer, &token).await.assert_revoked();
    call(&layer, &self::token(&unique("jti"), Some(&sid), "alice", t))
        .await
        .assert_revoked();
    call(
        &layer,
        &self::token(&unique("jti"), Some(&other), "alice", t),
    )
    .await
    .assert_ok();
}

/// For tokens without a `sid`, and tokens whose session the store does not hold (an outside
/// or swept session): `iat` at or before the cutoff's second is refused, a later `iat`
/// accepted. (Tokens of a session the store holds are judged by its opening time: the
/// session suites.)
async fn subject_cutoff_for_tokens_without_sid(h: &Harness) {
    let layer = builder()
        .clock(h.clock.clone())
        .revocation(h.store.clone())
        .revocation_sid_optional(true)
        .build()
        .unwrap();
    let sub = unique("bob");
    // The store's epoch is its first call; tokens issued before it would be refused.
    call(&layer, &token(&unique("jti"), None, &sub, now_secs(h)))
        .await
        .assert_ok();
    h.clock.advance(Duration::from_secs(60));
    let t = now_secs(h);
    let early = token(&unique("jti"), None, &sub, t - 30);
    call(&layer, &early).await.assert_ok();
    h.store
        .set_subject_cutoff("", &sub, Duration::from_secs(600))
        .await
        .unwrap();
    let cutoff = now_secs(h);
    call(&layer, &early).await.assert_revoked();
    call(&layer, &token(&unique("jti"), None, &sub, cutoff))
        .await
        .assert_revoked();
    call(&layer, &token(&unique("jti"), None, &sub, cutoff + 1))
        .await
        .assert_ok();
    // Another subject is not affected, nor the same subject of another issuer.
    call(
        &layer,
        &token(&unique("jti"), None, &unique("carol"), t - 30),
    )
    .await
    .assert_ok();
    let mut other_issuer =
        json!({ "sub": sub, "jti": unique("jti"), "iat": t - 30, "exp": t + 300 });
    other_issuer["iss"] = "https://other.example".into();
    call(&layer, &mint(&other_issuer)).await.assert_ok();
    // A token whose session the store does not hold (swept, or outside) is judged by `iat`:
    // before 0.4 it passed.
    call(
        &layer,
        &token(&unique("jti"), Some(&unique("sid")), &sub, t - 30),
    )
    .await
    .assert_revoked();
    call(
        &layer,
        &token(&unique("jti"), Some(&unique("sid")), &sub, cutoff + 1),
    )
    .await
    .assert_ok();
}

async fn missing_claims_are_invalid_claims(h: &Harness) {
    let layer = builder().revocation(h.store.clone()).build().unwrap();
    let t = now_secs(h);
    let full = json!({ "sub": "alice", "jti": unique("jti"), "sid": unique("sid"), "iat": t, "exp": t + 300 });
    call(&layer, &mint(&full)).await.assert_ok();
    for missing in ["jti", "sub", "iat", "sid"] {
        let mut claims = full.clone();
        claims.as_object_mut().unwrap().remove(missing);
        let answer = call(&layer, &mint(&claims)).await;
        answer.assert_invalid_claims();
    }
}

async fn sid_can_be_optional(h: &Harness) {
    let strict = builder().revocation(h.store.clone()).build().unwrap();
    let optional = builder()
        .revocation(h.store.clone())
        .revocation_sid_optional(true)
        .build()
        .unwrap();
    let t = now_secs(h);
    let jti = unique("jti");
    let without = token(&jti, None, "alice", t);
    call(&strict, &without).await.assert_invalid_claims();
    let answer = call(&optional, &without).await;
    answer.assert_ok();
    assert_eq!(
        answer.body,
        format!("jti={jti};sid=-;sub=alice;iat={t};exp={}", t + 300)
    );
    // Its `jti` is still checked.
    h.store
        .revoke_token("", &jti, Duration::from_secs(600))
        .await
        .unwrap();
    call(&optional, &without).await.assert_revoked();
}

/// A cached token that is revoked afterwards is refused on its next request: "not revoked" is
/// never cached.
async fn revocation_on_a_cache_hit(h: &Harness) {
    let layer = builder()
        .token_cache(1024, 1 << 20)
        .unwrap()
        .revocation(h.store.clone())
        .build()
        .unwrap();
    let sid = unique("sid");
    let token = token(&unique("jti"), Some(&sid), "alice", now_secs(h));
    for _ in 0..3 {
        call(&layer, &token).await.assert_ok();
    }
    h.store.end_session("", &sid, &limits()).await.unwrap();
    call(&layer, &token).await.assert_revoked();
    call(&layer, &token).await.assert_revoked();
}

async fn identity_reaches_the_handler(h: &Harness) {
    let layer = builder()
        .token_cache(1024, 1 << 20)
        .unwrap()
        .revocation(h.store.clone())
        .build()
        .unwrap();
    let (jti, sid) = (unique("jti"), unique("sid"));
    let t = now_secs(h);
    let token = token(&jti, Some(&sid), "dave", t);
    let expected = format!("jti={jti};sid={sid};sub=dave;iat={t};exp={}", t + 300);
    // Verified, then from the cache.
    for _ in 0..2 {
        let answer = call(&layer, &token).await;
        answer.assert_ok();
        assert_eq!(answer.body, expected);
    }
    // A layer without a store adds none.
    let plain = builder().build().unwrap();
    assert_eq!(call(&plain, &token).await.body, "no identity");
}

macro_rules! suite {
    ($store:ident, $harness:expr) => {
        mod $store {
            use super::*;

            macro_rules! behaviour {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(h) = $harness else { return };
                        super::$name(&h).await;
                        h.cleanup().await;
                    }
                };
            }

            behaviour!(revoked_jti_is_refused);
            behaviour!(ended_session_is_refused);
            behaviour!(subject_cutoff_for_tokens_without_sid);
            behaviour!(missing_claims_are_invalid_claims);
            behaviour!(sid_can_be_optional);
            behaviour!(revocation_on_a_cache_hit);
            behaviour!(identity_reaches_the_handler);
        }
    };
}

suite!(memory, Some(Harness::memory()));
#[cfg(feature = "redis")]
suite!(redis, Harness::redis().await);

// -------------------------------------------------------------------------------------------
// A store that cannot answer.

/// A store that never answers.
struct Stopped;

impl RevocationStore for Stopped {
    fn status<'a>(&'a self, _: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(async { Err(StoreError::unavailable("stopped")) })
    }
    fn revoke_token<'a>(&'a self, _: &'a str, _: &'a str, _: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(StoreError::unavailable("stopped")) })
    }
    fn set_subject_cutoff<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(StoreError::unavailable("stopped")) })
    }
}

async fn refuses_when_the_store_cannot_answer<S>(store: impl Fn() -> S)
where
    S: RevocationStore + 'static,
{
    let t = Clock::system().now_millis() / 1000;
    let token = token("j", Some("s"), "alice", t);
    let layer = builder().revocation(store()).build().unwrap();
    call(&layer, &token).await.assert_unavailable();
    // Never anonymous, even where invalid tokens are.
    let optional = layer
        .clone()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
    call(&optional, &token).await.assert_unavailable();
    // Also on a cache hit.
    let cached = builder()
        .token_cache(16, 1 << 16)
        .unwrap()
        .revocation(store())
        .build()
        .unwrap();
    call(&cached, &token).await.assert_unavailable();
    call(&cached, &token).await.assert_unavailable();
    // Failing open is explicit.
    let open = builder()
        .revocation(store())
        .revocation_fail_open(true)
        .build()
        .unwrap();
    let answer = call(&open, &token).await;
    answer.assert_ok();
    assert!(
        answer.body.starts_with("jti=j;sid=s;sub=alice;"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_failing_store_refuses_with_503() {
    refuses_when_the_store_cannot_answer(|| Stopped).await;
}

/// A `RedisStore` pointed at a port where nothing listens.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_stopped_redis_refuses_with_503() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    refuses_when_the_store_cannot_answer(|| {
        tower_jwt_auth::session::RedisStore::builder(format!("redis://127.0.0.1:{port}"))
            .unwrap()
            .timeout(Duration::from_millis(500))
            .build()
    })
    .await;
}
