//! The service's revocation check, against the memory store and a store without a synchronous
//! answer.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{ServiceBuilder, ServiceExt};

use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture, TokenIdentity,
};
use crate::session::{MemoryStore, SessionLimits, SessionStore};
use crate::test_helpers::*;
use crate::{AuthError, AuthMode, ConfigError, ErrorKind, InvalidTokenPolicy, JwtAuthLayer};

/// The memory store without its synchronous answer, as a remote store behaves.
struct AsyncOnly(MemoryStore);

impl RevocationStore for AsyncOnly {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.status(query).await
        })
    }
    fn revoke_token<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        self.0.revoke_token(iss, jti, keep_for)
    }
    fn set_subject_cutoff<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        self.0.set_subject_cutoff(iss, sub, keep_for)
    }
}

/// A store that cannot answer, at once (`sync`) or asynchronously.
struct Down {
    sync: bool,
}

impl RevocationStore for Down {
    fn status<'a>(&'a self, _: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(std::future::ready(Err(StoreError::unavailable("down"))))
    }
    fn status_now(&self, _: RevocationQuery<'_>) -> Option<Result<RevocationStatus, StoreError>> {
        self.sync.then(|| Err(StoreError::unavailable("down")))
    }
    fn revoke_token<'a>(&'a self, _: &'a str, _: &'a str, _: Duration) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Err(StoreError::unavailable("down"))))
    }
    fn set_subject_cutoff<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Err(StoreError::unavailable("down"))))
    }
}

/// Answers with the token identity's parts, `no identity`, or `anonymous`.
async fn identity_echo(
    req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let body = match (
        req.extensions().get::<TestClaims>(),
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

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    error: Option<AuthError>,
    body: String,
}

async fn call(layer: &JwtAuthLayer<TestClaims>, token: &str) -> Answer {
    call_with(layer, token, None).await
}

async fn call_with(
    layer: &JwtAuthLayer<TestClaims>,
    token: &str,
    content_type: Option<&str>,
) -> Answer {
    let mut req = Request::builder()
        .uri("/x")
        .header(AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        req = req.header(CONTENT_TYPE, content_type);
    }
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(identity_echo);
    let response = svc
        .oneshot(req.body(Full::default()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let error = response.extensions().get::<AuthError>().cloned();
    let body = body_string(response.into_body()).await;
    Answer {
        status,
        challenge,
        error,
        body,
    }
}

fn session_token(jti: &str, sid: Option<&str>, sub: &str, iat: u64) -> String {
    let mut claims = serde_json::json!({
        "sub": sub, "jti": jti, "iat": iat, "exp": iat + 300,
    });
    if let Some(sid) = sid {
        claims["sid"] = sid.into();
    }
    mint(claims)
}

fn assert_revoked(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["reason"], "revoked");
    assert_eq!(body["error"], "invalid_token");
    let challenge = answer.challenge.as_deref().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let error = answer.error.as_ref().unwrap();
    assert_eq!(error.kind(), ErrorKind::Revoked);
    assert!(!error.kind().is_refreshable());
}

fn assert_unavailable(answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.challenge, None);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(body["reason"], "revocation_unavailable");
}

fn limits() -> SessionLimits {
    SessionLimits::default()
}

/// The checks, through a store that answers at once and one that answers asynchronously.
#[tokio::test]
async fn revoked_jti_ended_sid_and_subject_cutoff_are_refused() {
    let memory = MemoryStore::new();
    let sync = builder().revocation(memory.clone()).build().unwrap();
    let asynchronous = builder()
        .revocation(AsyncOnly(memory.clone()))
        .build()
        .unwrap();
    let external = builder()
        .revocation(memory.clone())
        .revocation_sid_optional(true)
        .build()
        .unwrap();
    let t = now();
    for layer in [&sync, &asynchronous] {
        let token = session_token("j-ok", Some("s-ok"), "alice", t);
        let answer = call(layer, &token).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            answer.body,
            format!("jti=j-ok;sid=s-ok;sub=alice;iat={t};exp={}", t + 300)
        );
    }
    // A revoked jti.
    memory
        .revoke_token("", "j-gone", Duration::from_secs(600))
        .await
        .unwrap();
    let token = session_token("j-gone", Some("s-1"), "alice", t);
    for layer in [&sync, &asynchronous] {
        assert_revoked(&call(layer, &token).await);
    }
    // An ended session.
    memory.end_session("", "s-ended", &limits()).await.unwrap();
    let token = session_token("j-2", Some("s-ended"), "alice", t);
    for layer in [&sync, &asynchronous] {
        assert_revoked(&call(layer, &token).await);
    }
    // A subject's cutoff: refused up to and including its second, for tokens without a
    // `sid` (a token of a session the store holds is judged by the session's opening time).
    memory
        .set_subject_cutoff("", "bob", Duration::from_secs(600))
        .await
        .unwrap();
    let cutoff = now();
    let before = session_token("j-3", None, "bob", cutoff - 10);
    let same_second = session_token("j-4", None, "bob", cutoff);
    let after = session_token("j-5", None, "bob", cutoff + 1);
    assert_revoked(&call(&external, &before).await);
    assert_revoked(&call(&external, &same_second).await);
    let answer = call(&external, &after).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains(";sid=-;"), "{}", answer.body);
    // A token whose session the store does not hold (swept, or outside) is judged by `iat`.
    let with_sid = session_token("j-6", Some("s-gone"), "bob", cutoff - 10);
    assert_revoked(&call(&sync, &with_sid).await);
}

#[tokio::test]
async fn the_claims_the_check_reads_are_required() {
    let layer = builder().revocation(MemoryStore::new()).build().unwrap();
    let optional_sid = builder()
        .revocation(MemoryStore::new())
        .revocation_sid_optional(true)
        .build()
        .unwrap();
    let t = now();
    let full = serde_json::json!({
        "sub": "alice", "jti": "j", "sid": "s", "iat": t, "exp": t + 300,
    });
    for missing in ["jti", "sub", "iat", "sid", "exp"] {
        let mut claims = full.clone();
        claims.as_object_mut().unwrap().remove(missing);
        let answer = call(&layer, &mint(claims)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{missing}");
        assert_eq!(
            answer.error.unwrap().kind(),
            ErrorKind::InvalidClaims,
            "{missing}"
        );
    }
    for (name, value) in [
        ("jti", serde_json::json!("")),
        ("sid", serde_json::json!("")),
        ("sid", serde_json::json!(7)),
    ] {
        let mut claims = full.clone();
        claims[name] = value;
        for layer in [&layer, &optional_sid] {
            let answer = call(layer, &mint(claims.clone())).await;
            assert_eq!(
                answer.error.map(|e| e.kind()),
                Some(ErrorKind::InvalidClaims),
                "{name}"
            );
        }
    }
    let mut no_sid = full.clone();
    no_sid.as_object_mut().unwrap().remove("sid");
    assert_eq!(
        call(&optional_sid, &mint(no_sid)).await.status,
        StatusCode::OK
    );
    // Without a store, none of them is required, and no identity is handed over.
    let plain = builder().build().unwrap();
    let answer = call(
        &plain,
        &mint(serde_json::json!({ "sub": "a", "exp": t + 60 })),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "no identity")
    );
    // A `sid` of another type is left to the claims type when there is no store.
    let odd = mint(serde_json::json!({ "sub": "a", "exp": t + 60, "sid": 7 }));
    assert_eq!(call(&plain, &odd).await.status, StatusCode::OK);
}

/// "Not revoked" is never cached: a cached token revoked afterwards is refused on its next
/// request.
#[tokio::test]
async fn revocation_is_checked_on_cache_hits() {
    let memory = MemoryStore::new();
    let sync = builder()
        .token_cache(16, 1 << 16)
        .unwrap()
        .revocation(memory.clone())
        .build()
        .unwrap();
    let asynchronous = builder()
        .token_cache(16, 1 << 16)
        .unwrap()
        .revocation(AsyncOnly(memory.clone()))
        .build()
        .unwrap();
    for (i, layer) in [&sync, &asynchronous].into_iter().enumerate() {
        let sid = format!("s-cached-{i}");
        let token = session_token(&format!("j-cached-{i}"), Some(&sid), "carol", now());
        for _ in 0..2 {
            let answer = call(layer, &token).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            assert!(answer
                .body
                .starts_with(&format!("jti=j-cached-{i};sid={sid};")));
        }
        assert_eq!(layer.cache_len(), 1);
        memory.end_session("", &sid, &limits()).await.unwrap();
        assert_revoked(&call(layer, &token).await);
    }
}

#[tokio::test]
async fn a_store_that_cannot_answer_refuses_with_503_unless_failing_open() {
    let token = session_token("j", Some("s"), "alice", now());
    for sync in [true, false] {
        let layer = builder().revocation(Down { sync }).build().unwrap();
        let answer = call(&layer, &token).await;
        assert_unavailable(&answer);
        assert_eq!(
            answer.error.unwrap().kind(),
            ErrorKind::RevocationUnavailable
        );
        // Never anonymous, whatever the policy for invalid tokens.
        let optional = layer
            .clone()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
        assert_unavailable(&call(&optional, &token).await);
        // gRPC: 14 UNAVAILABLE.
        let answer = call_with(&layer, &token, Some("application/grpc")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.challenge, None);
        assert_eq!(
            answer.error.unwrap().kind().grpc_code(),
            14,
            "{}",
            answer.body
        );
        // Failing open lets the token in, identity and all.
        let open = builder()
            .revocation(Down { sync })
            .revocation_fail_open(true)
            .build()
            .unwrap();
        let answer = call(&open, &token).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.body.starts_with("jti=j;sid=s;"), "{}", answer.body);
    }
}

#[tokio::test]
async fn a_revoked_token_follows_the_invalid_token_policy_and_grpc_gets_16() {
    let memory = MemoryStore::new();
    memory.end_session("", "s-x", &limits()).await.unwrap();
    let token = session_token("j", Some("s-x"), "alice", now());
    let layer = builder().revocation(memory).build().unwrap();
    let anonymous = layer
        .clone()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
    assert_eq!(call(&anonymous, &token).await.body, "anonymous");
    let reject = layer
        .clone()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Reject));
    assert_revoked(&call(&reject, &token).await);
    let answer = call_with(&layer, &token, Some("application/grpc")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.error.unwrap().kind().grpc_code(), 16);
    assert!(answer
        .challenge
        .unwrap()
        .contains("error=\"invalid_token\""));
}

#[test]
fn revocation_settings_without_a_store_are_refused() {
    assert_eq!(
        builder().revocation_sid_optional(true).build().err(),
        Some(ConfigError::RevocationSettingWithoutStore {
            setting: "revocation_sid_optional"
        })
    );
    assert_eq!(
        builder().revocation_fail_open(false).build().err(),
        Some(ConfigError::RevocationSettingWithoutStore {
            setting: "revocation_fail_open"
        })
    );
}
