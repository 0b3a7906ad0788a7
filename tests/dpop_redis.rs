//! The Redis session store as the DPoP replay cache that instances share: a proof accepted by one
//! instance is a replay at the other. Uses `REDIS_URL` (default `redis://127.0.0.1:6379`),
//! skipping with a message when it cannot be reached unless `REQUIRE_REDIS=1`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{EncodingKey, Header};
use ring::digest::{digest, SHA256};
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt};
use tower_jwt_auth::dpop::{DpopConfig, DpopMode, ReplayCache};
use tower_jwt_auth::session::RedisStore;
use tower_jwt_auth::{Algorithm, AuthError, JwtAuthLayer, Key, SigningKey};

const SECRET: &[u8] = b"dpop integration secret 32 bytes";
const EC_PRIVATE: &[u8] = include_bytes!("keys/ec256_private.pem");

#[derive(Clone, serde::Deserialize)]
struct Claims {}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn store() -> Option<RedisStore> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let store = RedisStore::builder(url)
        .unwrap()
        .prefix(format!("test:dpop:{nanos}:"))
        .unwrap()
        .timeout(Duration::from_secs(2))
        .build();
    match store.ping().await {
        Ok(()) => Some(store),
        Err(e) if std::env::var("REQUIRE_REDIS").as_deref() == Ok("1") => {
            panic!("REQUIRE_REDIS=1 but Redis cannot be reached: {e}")
        }
        Err(e) => {
            eprintln!(
                "skipping: Redis cannot be reached ({e}); set REQUIRE_REDIS=1 to fail instead"
            );
            None
        }
    }
}

#[tokio::test]
async fn instances_sharing_the_redis_store_accept_each_proof_once() {
    let Some(store) = store().await else { return };
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let shared: Arc<dyn ReplayCache> = Arc::new(store);
    let instance = || {
        JwtAuthLayer::<Claims>::builder()
            .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
            .dpop(DpopMode::Required)
            .dpop_config(DpopConfig::new().shared_replay_cache(shared.clone()))
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let mut jwk: Value = SigningKey::ec_pem(Algorithm::ES256, EC_PRIVATE)
        .unwrap()
        .public_jwk()
        .unwrap();
    jwk.as_object_mut()
        .unwrap()
        .retain(|k, _| ["kty", "crv", "x", "y"].contains(&k.as_str()));
    let thumbprint_input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
        jwk["x"], jwk["y"]
    );
    let jkt = b64(digest(&SHA256, thumbprint_input.as_bytes()).as_ref());
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "exp": now() + 300, "cnf": { "jkt": jkt } }),
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap();
    let proof = |jti: &str| {
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": jwk });
        let claims = json!({
            "jti": jti, "htm": "GET", "htu": "https://api.example/x", "iat": now(),
            "ath": b64(digest(&SHA256, token.as_bytes()).as_ref()),
        });
        let input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).unwrap()),
            b64(&serde_json::to_vec(&claims).unwrap())
        );
        let key = EncodingKey::from_ec_pem(EC_PRIVATE).unwrap();
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).unwrap();
        format!("{input}.{signature}")
    };
    let call = |layer: JwtAuthLayer<Claims>, proof: String| {
        let token = token.clone();
        async move {
            let req = Request::get("https://api.example/x")
                .header("authorization", format!("DPoP {token}"))
                .header("dpop", proof)
                .body(Full::<Bytes>::default())
                .unwrap();
            let svc = ServiceBuilder::new().layer(layer).service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
            });
            let response = svc.oneshot(req).await.unwrap();
            let reason = response.extensions().get::<AuthError>().map(|e| e.reason());
            (response.status(), reason)
        }
    };
    let first = proof("shared-1");
    assert_eq!(call(a.clone(), first.clone()).await, (StatusCode::OK, None));
    assert_eq!(
        call(b.clone(), first).await,
        (StatusCode::UNAUTHORIZED, Some("invalid_dpop_proof"))
    );
    assert_eq!(call(b, proof("shared-2")).await, (StatusCode::OK, None));
}
