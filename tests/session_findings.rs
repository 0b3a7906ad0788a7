//! The findings of issue #17 (3 to 7), each as a test that failed before its fix: a swept
//! session's tokens under logout everywhere, logout of an outside `sid`, revocations keyed by
//! issuer, a Redis that lost its data, a server without Redis 7's commands.
//!
//! The Redis tests start their own `redis-server` on a free port (skipped with a message when
//! it is not installed, unless `REQUIRE_REDIS=1`).

mod session_support;

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use tower::{Layer, ServiceExt};
use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::revocation::RevocationStore;
use tower_jwt_auth::session::{Grant, MemoryStore, Sessions, SessionsBuilder};
#[cfg(feature = "redis")]
use tower_jwt_auth::session::{SessionErrorKind, SessionStore};
use tower_jwt_auth::{Algorithm, JwtAuthLayer, SigningKey};

const ISSUER: &str = "https://issuer.example";
const SECRET: &[u8] = b"findings-suite-hmac-secret-32-b!";

#[derive(Clone, Debug, Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
}

fn issuing(issuer: &str) -> SessionsBuilder {
    Sessions::builder()
        .signing_key(
            SigningKey::hmac(Algorithm::HS256, SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .and_then(|b| b.issuer(issuer))
        .unwrap()
        .refresh_token_key(session_support::key())
}

fn layer(sessions: &Sessions, store: impl RevocationStore + 'static) -> JwtAuthLayer<Claims> {
    sessions
        .layer_builder::<Claims>()
        .revocation(store)
        .revocation_sid_optional(true)
        .build()
        .unwrap()
}

/// The status and body of a request with `token` through `layer`.
async fn through(layer: &JwtAuthLayer<Claims>, token: &str) -> (StatusCode, String) {
    let handler = tower::service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let response = layer
        .layer(handler)
        .oneshot(
            Request::builder()
                .header("authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn assert_revoked((status, body): (StatusCode, String)) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("\"reason\":\"revoked\""), "{body}");
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Finding 3: idle timeout 120 s, access tokens 600 s; at +121 s the session has expired and
/// been swept, and logout everywhere must still refuse its access token.
#[tokio::test]
async fn finding_3_logout_everywhere_covers_a_swept_session() {
    let clock = Clock::manual(SystemTime::now());
    let store = MemoryStore::builder()
        .clock(clock.clone())
        .sweep_interval(Duration::from_secs(1))
        .build();
    let sessions = issuing(ISSUER)
        .clock(clock.clone())
        .store(store.clone())
        .idle_timeout(Duration::from_secs(120))
        .and_then(|b| b.access_ttl(Duration::from_secs(600)))
        .and_then(|b| b.build())
        .unwrap();
    let layer = layer(&sessions, store.clone());
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    assert_eq!(through(&layer, pair.access_token()).await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(121));
    store.sweep();
    assert_eq!(store.stats().sessions, 0, "the session was swept");
    assert_eq!(
        through(&layer, pair.access_token()).await.0,
        StatusCode::OK,
        "its access token is still valid"
    );
    sessions.logout_everywhere("alice").await.unwrap();
    assert_revoked(through(&layer, pair.access_token()).await);
}

/// Finding 4: `/auth/logout` with an access token whose `sid` is not in the crate's form (an
/// outside identity provider's) must end that session, not answer 204 and do nothing.
#[tokio::test]
async fn finding_4_logout_works_for_any_sid() {
    let store = MemoryStore::new();
    let sessions = issuing(ISSUER).store(store.clone()).build().unwrap();
    let layer = layer(&sessions, store);
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let t = now_secs();
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    let outside = jsonwebtoken::encode(
        &header,
        &json!({ "iss": ISSUER, "sub": "carol", "jti": "j-outside", "sid": "idp:session/1",
                 "iat": t, "exp": t + 300 }),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    assert_eq!(through(&layer, &outside).await.0, StatusCode::OK);

    let app = axum::Router::new().nest_service("/auth", layer.layer(sessions.endpoints()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let answer = client
        .request(
            Request::builder()
                .method("POST")
                .uri(format!("{base}/auth/logout"))
                .header("authorization", format!("Bearer {outside}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert_revoked(through(&layer, &outside).await);
}

/// Finding 5: two trusted issuers share a store; logout everywhere of subject `42` of issuer
/// A must leave subject `42` of issuer B alone.
#[tokio::test]
async fn finding_5_revocations_are_keyed_by_issuer() {
    let store = MemoryStore::new();
    let a = issuing("https://a.example")
        .store(store.clone())
        .build()
        .unwrap();
    let b = issuing("https://b.example")
        .store(store.clone())
        .build()
        .unwrap();
    let a_layer = layer(&a, store.clone());
    let b_layer = layer(&b, store.clone());
    let of_a = a.open(Grant::new("42")).await.unwrap();
    let of_b = b.open(Grant::new("42")).await.unwrap();
    a.logout_everywhere("42").await.unwrap();
    assert_revoked(through(&a_layer, of_a.access_token()).await);
    assert_eq!(
        through(&b_layer, of_b.access_token()).await.0,
        StatusCode::OK,
        "issuer B's subject 42 is another user"
    );
    b.refresh(of_b.refresh_token()).await.unwrap();
}

#[cfg(feature = "redis")]
mod redis_findings {
    use super::*;
    use session_support::{redis_keys, OwnRedis};
    use tower_jwt_auth::session::RedisStore;

    async fn until_answers(store: &RedisStore) {
        for _ in 0..200 {
            if store.ping().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the store did not answer");
    }

    fn store_at(url: &str) -> RedisStore {
        RedisStore::builder(url)
            .unwrap()
            .timeout(Duration::from_secs(2))
            .build()
    }

    /// Finding 6: a token revoked, then Redis restarts without persistence: the token must stay
    /// refused (the store's epoch), never be accepted again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_6_a_store_that_lost_its_data_fails_closed() {
        let Some(mut redis) = OwnRedis::new() else {
            return;
        };
        redis.start();
        let store = store_at(&redis.url());
        until_answers(&store).await;
        let sessions = issuing(ISSUER).store(store.clone()).build().unwrap();
        let layer = layer(&sessions, store.clone());
        // Issued in an earlier second than the restart.
        let pair = sessions.open(Grant::new("dave")).await.unwrap();
        assert_eq!(through(&layer, pair.access_token()).await.0, StatusCode::OK);
        assert!(sessions
            .logout_by_refresh_token(pair.refresh_token())
            .await
            .unwrap());
        assert_revoked(through(&layer, pair.access_token()).await);

        tokio::time::sleep(Duration::from_millis(1100)).await;
        redis.stop();
        redis.start();
        until_answers(&store).await;
        assert_revoked(through(&layer, pair.access_token()).await);
        assert_eq!(
            sessions
                .refresh(pair.refresh_token())
                .await
                .unwrap_err()
                .kind(),
            SessionErrorKind::InvalidRefreshToken
        );
        // A new login works at once.
        let again = sessions.open(Grant::new("dave")).await.unwrap();
        assert_eq!(
            through(&layer, again.access_token()).await.0,
            StatusCode::OK
        );
    }

    /// Finding 7: a server without `PEXPIRE ... NX` (Redis 6; here a Redis 7 with `PEXPIRE`
    /// renamed away): every call fails with an error that names Redis 7, and a login leaves no
    /// orphan session behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finding_7_a_server_without_redis_7_commands_is_named() {
        let Some(mut redis) = OwnRedis::new() else {
            return;
        };
        redis.start_with(&["--rename-command", "PEXPIRE", ""]);
        let store = store_at(&redis.url());
        let mut answered = None;
        for _ in 0..200 {
            match store.ping().await {
                Err(e) if e.to_string().contains("Connection refused") => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                other => {
                    answered = Some(other);
                    break;
                }
            }
        }
        let error = answered.expect("the server answers").unwrap_err();
        assert!(error.to_string().contains("Redis 7"), "{error}");
        let sessions = issuing(ISSUER).store(store.clone()).build().unwrap();
        let error = sessions.open(Grant::new("erin")).await.unwrap_err();
        assert_eq!(error.kind(), SessionErrorKind::StoreUnavailable);
        assert!(
            redis_keys(&redis.url(), "").await.is_empty(),
            "no orphan session"
        );
        let _: &dyn SessionStore = &store;
    }
}
