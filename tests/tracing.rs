//! The `tracing` events of refused requests name the reason and never the token, the claims or
//! the secret. A test binary of its own, so that the subscriber can be the process-wide one: a
//! scoped subscriber misses events when other tests in the same process race it for the
//! callsites' interest.
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
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};

const SECRET: &[u8] = b"tracing-test secret, 32 bytes!!!";

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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn mint(claims: serde_json::Value) -> String {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

async fn ok(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::default()))
}

#[tokio::test]
async fn refusals_are_traced_without_the_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let layer = JwtAuthLayer::<Claims>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .build()
        .unwrap();
    let service = ServiceBuilder::new().layer(layer).service_fn(ok);

    let expired = mint(serde_json::json!({ "sub": "secret-subject", "exp": now() - 3600 }));
    let request = Request::builder()
        .header("cookie", format!("__Host-access_token={expired}"))
        .body(Full::default())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let mut forged = mint(serde_json::json!({ "sub": "secret-subject", "exp": now() + 60 }));
    forged.push('A');
    let request = Request::builder()
        .header("authorization", format!("Bearer {forged}"))
        .body(Full::default())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let logged = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("reason=\"expired\""), "{logged}");
    assert!(logged.contains("reason=\"invalid_signature\""), "{logged}");
    for secret in [
        expired.as_str(),
        forged.as_str(),
        "secret-subject",
        std::str::from_utf8(SECRET).unwrap(),
    ] {
        assert!(!logged.contains(secret), "the log holds a secret: {logged}");
    }
    // No segment of either token shows up either.
    for segment in expired.split('.').chain(forged.split('.')) {
        assert!(!logged.contains(segment), "the log holds a token segment");
    }
}
