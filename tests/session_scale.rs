//! Sessions at scale, against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`;
//! skipped with a message when it cannot be reached, unless `REQUIRE_REDIS=1`).
//!
//! Logout everywhere for a user with 20,000 sessions, through a TCP proxy that adds 0.5 ms of
//! latency in front of Redis: one constant-time step that answers 204 in under 50 ms, after
//! which a second instance refuses every one of those sessions' access and refresh tokens.

#![cfg(feature = "redis")]

mod session_support;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use session_support::{random_prefix, redis_delete_prefix, redis_keys, redis_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, ServiceExt};
use tower_jwt_auth::session::{Grant, RedisStore, SessionErrorKind, Sessions};
use tower_jwt_auth::{Algorithm, JwtAuthLayer, SigningKey};

const ISSUER: &str = "https://issuer.example";
const SESSIONS: usize = 20_000;

#[derive(Clone, Debug, Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
}

/// A TCP proxy to `upstream` that holds every chunk for `delay` before passing it on, in
/// both directions (order kept). Returns its address.
async fn delaying_proxy(upstream: String, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, delay));
                tokio::spawn(pump(server_read, client_write, delay));
            });
        }
    });
    addr.to_string()
}

/// Copies `from` to `to`, each chunk `delay` late.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buffer[..n].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// One instance: sessions over a Redis store at `url` with `prefix`, and its layer.
fn instance(url: &str, prefix: &str) -> (Sessions, JwtAuthLayer<Claims>) {
    let store = RedisStore::builder(url)
        .and_then(|b| b.prefix(prefix))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .build();
    let sessions = Sessions::builder()
        .signing_key(
            SigningKey::hmac(Algorithm::HS256, b"scale-suite-hmac-secret-32-bytes")
                .unwrap()
                .with_kid("k1"),
        )
        .and_then(|b| b.issuer(ISSUER))
        .unwrap()
        .store(store.clone())
        .refresh_token_key(session_support::key())
        .max_sessions_per_user(0)
        .build()
        .unwrap();
    let layer = sessions
        .layer_builder::<Claims>()
        .revocation(store)
        .build()
        .unwrap();
    (sessions, layer)
}

/// The status of a request with `token` through `layer`.
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

/// Runs `work` on every item, `parallel` at a time.
async fn all<T, R, F, Fut>(items: Vec<T>, parallel: usize, work: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let mut results = Vec::with_capacity(items.len());
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let mut set = tokio::task::JoinSet::new();
        for item in items.by_ref().take(parallel) {
            set.spawn(work(item));
        }
        while let Some(result) = set.join_next().await {
            results.push(result.unwrap());
        }
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_of_20000_sessions_is_one_step() {
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let upstream = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = delaying_proxy(upstream, Duration::from_micros(500)).await;

    // Instance A, behind the proxy, serves the endpoints behind its layer.
    let (a, a_layer) = instance(&format!("redis://{proxy}"), &prefix);
    let app = axum::Router::new().nest_service("/auth", a_layer.layer(a.endpoints()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // Instance B, straight to Redis.
    let (b, b_layer) = instance(&url, &prefix);

    // 20,000 sessions of one user.
    let started = Instant::now();
    let pairs = all((0..SESSIONS).collect(), 500, |_| {
        let b = b.clone();
        async move { b.open(Grant::new("many")).await.unwrap() }
    })
    .await;
    eprintln!(
        "opened {} sessions of one user in {:?}",
        pairs.len(),
        started.elapsed()
    );
    let other = b.open(Grant::new("someone-else")).await.unwrap();
    assert_eq!(
        through(&b_layer, pairs[0].access_token()).await.0,
        StatusCode::OK
    );

    // Logout everywhere through A: one step, 204 in under 50 ms (warm connections first).
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let request = |path: &str, token: &str| {
        Request::builder()
            .method("POST")
            .uri(format!("{base}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let warm = client
        .request(request("/auth/logout-all", "not-a-token"))
        .await
        .unwrap();
    assert!(warm.status().is_client_error());
    assert!(a.store().status(Default::default()).await.is_ok());
    let started = Instant::now();
    let answer = client
        .request(request("/auth/logout-all", pairs[1].access_token()))
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!(
        "logout everywhere of {SESSIONS} sessions through a 0.5 ms proxy: {} in {took:?}",
        answer.status()
    );
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert!(took < Duration::from_millis(50), "{took:?}");

    // Every access token is refused by instance B, every refresh token too.
    let started = Instant::now();
    let access: Vec<String> = pairs.iter().map(|p| p.access_token().to_owned()).collect();
    let refused = all(access, 500, |token| {
        let layer = b_layer.clone();
        async move { through(&layer, &token).await }
    })
    .await;
    assert_eq!(refused.len(), SESSIONS);
    for (status, body) in &refused {
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("\"reason\":\"revoked\""), "{body}");
    }
    eprintln!(
        "instance B refused all {SESSIONS} access tokens in {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let refresh: Vec<String> = pairs.iter().map(|p| p.refresh_token().to_owned()).collect();
    let kinds = all(refresh, 500, |token| {
        let b = b.clone();
        async move { b.refresh(&token).await.map(|_| ()).map_err(|e| e.kind()) }
    })
    .await;
    assert!(
        kinds
            .iter()
            .all(|k| *k == Err(SessionErrorKind::InvalidRefreshToken)),
        "every refresh token is invalid_refresh_token"
    );
    eprintln!(
        "instance B refused all {SESSIONS} refresh tokens in {:?}",
        started.elapsed()
    );

    // Another user is untouched, and the user can log in again at once.
    assert_eq!(
        through(&b_layer, other.access_token()).await.0,
        StatusCode::OK
    );
    let again = b.open(Grant::new("many")).await.unwrap();
    assert_eq!(
        through(&b_layer, again.access_token()).await.0,
        StatusCode::OK
    );
    b.refresh(again.refresh_token()).await.unwrap();

    // The ended sessions' entries were dropped after the answer, in batches.
    let started = Instant::now();
    loop {
        let sessions = redis_keys(&url, &prefix)
            .await
            .into_iter()
            .filter(|k| k.ends_with(":s"))
            .count();
        if sessions == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{sessions} session entries left"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    redis_delete_prefix(&url, &prefix).await;
}
