//! The `session` example with `DPOP=required`: a login without a proof is 400
//! `invalid_dpop_proof`, a login with one gets bound tokens, and a bearer token is refused with
//! `dpop_required`.

use std::ffi::OsString;
use std::net::SocketAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[allow(dead_code)]
#[path = "../examples/session.rs"]
mod example;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn start(dpop: &str) -> String {
    let vars = [
        ("ADDR", "127.0.0.1:0"),
        ("JWT_SECRET", "dpop-example-test-secret-of-32+bytes"),
        ("DPOP", dpop),
    ];
    let lookup = move |name: &str| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| OsString::from(value))
    };
    let config = example::Config::from_lookup(lookup).unwrap();
    let app = example::app_from_config(&config).await.unwrap();
    let listener = TcpListener::bind(config.addr).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { example::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
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
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn proof(key: &EcdsaKeyPair, htm: &str, htu: &str, ath: Option<&str>) -> String {
    let point = key.public_key().as_ref();
    let header = json!({
        "typ": "dpop+jwt", "alg": "ES256",
        "jwk": { "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) },
    });
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut claims = json!({ "jti": format!("j{nanos}"), "htm": htm, "htu": htu, "iat": iat });
    if let Some(ath) = ath {
        claims["ath"] = json!(ath);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature.as_ref()))
}

#[tokio::test]
async fn dpop_required_refuses_logins_without_proofs_and_bearer_tokens() {
    let base = start("required").await;
    let credentials = json!({ "username": "demo", "password": example::DEMO_PASSWORD }).to_string();
    let json_type = ("content-type", "application/json");
    let (status, body) = send(
        Method::POST,
        &format!("{base}/auth/login"),
        &[json_type],
        &credentials,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert_eq!(body["reason"], "invalid_dpop_proof");

    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let login = proof(&key, "POST", &format!("{base}/auth/login"), None);
    let (status, pair) = send(
        Method::POST,
        &format!("{base}/auth/login"),
        &[json_type, ("dpop", &login)],
        &credentials,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(pair["token_type"], "DPoP");
    let access = pair["access_token"].as_str().unwrap();

    let (status, body) = send(
        Method::GET,
        &format!("{base}/api/me"),
        &[("authorization", &format!("Bearer {access}"))],
        "",
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("dpop_required"))
    );
    let ath = b64(ring::digest::digest(&ring::digest::SHA256, access.as_bytes()).as_ref());
    let call = proof(&key, "GET", &format!("{base}/api/me"), Some(&ath));
    let (status, body) = send(
        Method::GET,
        &format!("{base}/api/me"),
        &[
            ("authorization", &format!("DPoP {access}")),
            ("dpop", &call),
        ],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "demo");
}
