//! A user's devices through a real server: `GET /auth/sessions`, `DELETE /auth/sessions/{id}`,
//! `POST /auth/logout-others`, and the client recorded at login and refresh. Run against
//! `MemoryStore` and (feature `redis`) `RedisStore` at `REDIS_URL` with a random key prefix
//! (skipped with a message when Redis cannot be reached, unless `REQUIRE_REDIS=1`).

mod session_support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::Value;
use session_support::Harness;
use tower::Layer;
use tower_jwt_auth::session::{ClientInfo, Grant, SessionErrorKind, Sessions};
use tower_jwt_auth::{Algorithm, AuthMode, InvalidTokenPolicy, SigningKey};

const ISSUER: &str = "https://issuer.example";

#[derive(Clone, Debug, Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

async fn send(base: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("user-agent", "Laptop/2");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, body }
}

async fn serve(h: &Harness) -> (Sessions, String) {
    let sessions = Sessions::builder()
        .signing_key(
            SigningKey::hmac(Algorithm::HS256, b"devices-suite-hmac-secret-32-by!")
                .unwrap()
                .with_kid("k1"),
        )
        .and_then(|b| b.issuer(ISSUER))
        .unwrap()
        .store(h.store.clone())
        .clock(h.clock.clone())
        .refresh_token_key(session_support::key())
        .build()
        .unwrap();
    let layer = sessions
        .layer_builder::<Claims>()
        .revocation(h.store.clone())
        .mode(AuthMode::Optional(InvalidTokenPolicy::Reject))
        .build()
        .unwrap();
    let endpoints = layer.layer(sessions.endpoints().record_client(true));
    // The peer address, from axum's ConnectInfo, where the endpoints read it.
    let app = axum::Router::new().nest_service("/auth", endpoints).layer(
        tower::util::MapRequestLayer::new(|mut req: Request<axum::body::Body>| {
            if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
                let addr = *addr;
                req.extensions_mut().insert(addr);
            }
            req
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    (sessions, base)
}

async fn devices(h: &Harness) {
    let (sessions, base) = serve(h).await;
    let phone = ClientInfo::new(Some("Phone/1"), Some("10.0.0.1".parse::<IpAddr>().unwrap()));
    let mut alice = Vec::new();
    for _ in 0..3 {
        alice.push(
            sessions
                .open_with_client(Grant::new("alice"), phone.clone())
                .await
                .unwrap(),
        );
        h.clock.advance(Duration::from_secs(1));
    }
    let bob = sessions.open(Grant::new("bob")).await.unwrap();

    // Without an access token: 401 missing.
    let answer = send(&base, "GET", "/auth/sessions", None, "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["reason"], "missing");

    // The list, newest first, the current one marked.
    let current = &alice[2];
    let answer = send(
        &base,
        "GET",
        "/auth/sessions",
        Some(current.access_token()),
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let list = answer.body["sessions"].as_array().unwrap().clone();
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [alice[2].sid(), alice[1].sid(), alice[0].sid()]);
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["current"], false);
    for device in &list {
        assert_eq!(device["user_agent"], "Phone/1");
        assert_eq!(device["ip"], "10.0.0.1");
        assert_eq!(device["last_refreshed_at"], device["created_at"]);
        assert!(device["expires_at"].as_u64().unwrap() > device["created_at"].as_u64().unwrap());
    }

    // A refresh through the endpoint records the client.
    let body = format!(r#"{{"refresh_token":"{}"}}"#, alice[0].refresh_token());
    let answer = send(&base, "POST", "/auth/refresh", None, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let first_refresh = answer.body["refresh_token"].as_str().unwrap().to_owned();
    let answer = send(
        &base,
        "GET",
        "/auth/sessions",
        Some(current.access_token()),
        "",
    )
    .await;
    let list = answer.body["sessions"].as_array().unwrap().clone();
    let first = list.iter().find(|s| s["id"] == alice[0].sid()).unwrap();
    assert_eq!(first["user_agent"], "Laptop/2");
    assert_eq!(first["ip"], "127.0.0.1");

    // Another user's session and an unknown one: the same 404.
    for id in [bob.sid(), "no-such-session"] {
        let answer = send(
            &base,
            "DELETE",
            &format!("/auth/sessions/{id}"),
            Some(current.access_token()),
            "",
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.body["error"], "invalid_request");
        assert_eq!(answer.body["reason"], "session_not_found");
        assert!(answer.body["error_description"].is_string());
    }
    sessions.refresh(bob.refresh_token()).await.unwrap();

    // Ending one: its refresh token is refused, its access token revoked.
    let answer = send(
        &base,
        "DELETE",
        &format!("/auth/sessions/{}", alice[1].sid()),
        Some(current.access_token()),
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        sessions
            .refresh(alice[1].refresh_token())
            .await
            .unwrap_err()
            .kind(),
        SessionErrorKind::InvalidRefreshToken
    );
    let answer = send(
        &base,
        "GET",
        "/auth/sessions",
        Some(alice[1].access_token()),
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["reason"], "revoked");

    // All but the current one.
    let answer = send(
        &base,
        "POST",
        "/auth/logout-others",
        Some(current.access_token()),
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(
        sessions.refresh(&first_refresh).await.unwrap_err().kind(),
        SessionErrorKind::InvalidRefreshToken
    );
    let answer = send(
        &base,
        "GET",
        "/auth/sessions",
        Some(current.access_token()),
        "",
    )
    .await;
    let ids: Vec<&str> = answer.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [current.sid()]);
    sessions.refresh(current.refresh_token()).await.unwrap();
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_with_the_memory_store() {
    devices(&Harness::memory()).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_with_the_redis_store() {
    let Some(h) = Harness::redis().await else {
        return;
    };
    devices(&h).await;
}
