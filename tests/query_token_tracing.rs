//! F8: a token sent in the query string (the opt-in `TokenSource::query`) never reaches the
//! log: the layer's events carry the path, never the query. A test binary of its own, so that
//! the capturing subscriber can be the process-wide one (see `tests/tracing.rs`).
#![cfg(feature = "tracing")]

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{EncodingKey, Header};
use tower::{ServiceBuilder, ServiceExt};
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, TokenSource};

const SECRET: &[u8] = b"query-token tracing secret, 32 bytes";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, serde::Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
}

fn mint(exp_offset: i64) -> String {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({ "sub": "query-subject", "exp": now + exp_offset }),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

async fn ok(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::default()))
}

#[tokio::test]
async fn a_query_token_is_never_in_the_log() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let layer = JwtAuthLayer::<Claims>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .token_sources([TokenSource::query("access_token")])
        .unwrap()
        .build()
        .unwrap();
    let service = ServiceBuilder::new().layer(layer).service_fn(ok);

    let expired = mint(-3600);
    let mut forged = mint(600);
    forged.push('A');
    let valid = mint(600);
    let mut sent = Vec::new();
    for (token, status) in [
        (&expired, StatusCode::UNAUTHORIZED),
        (&forged, StatusCode::FORBIDDEN),
        (&valid, StatusCode::OK),
    ] {
        let uri = format!("/events/stream?access_token={token}&other=1");
        let request = Request::builder().uri(&uri).body(Full::default()).unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{uri}");
        sent.push(token.clone());
    }
    // Twice in the query: refused as ambiguous, still not logged.
    let twice = format!("/events/stream?access_token={valid}&access_token={expired}");
    let request = Request::builder()
        .uri(&twice)
        .body(Full::default())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // The refusals were traced, with the path.
    assert!(logged.contains("reason=\"expired\""), "{logged}");
    assert!(logged.contains("reason=\"invalid_signature\""), "{logged}");
    assert!(logged.contains("/events/stream"), "{logged}");
    // Never the query, a token, or any segment of one.
    assert!(!logged.contains("access_token="), "{logged}");
    assert!(!logged.contains("other=1"), "{logged}");
    for token in &sent {
        assert!(!logged.contains(token.as_str()), "the log holds a token");
        for segment in token.split('.') {
            assert!(!logged.contains(segment), "the log holds a token segment");
        }
    }
    assert!(!logged.contains("query-subject"), "{logged}");
}
