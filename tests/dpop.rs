//! DPoP over the wire: a real server on 127.0.0.1:0 with the layer in allowed mode, proofs made
//! by an independent implementation (Python's `cryptography`, `tests/interop/dpop_proof.py`)
//! for each default algorithm, and hostile requests, none of which gets a 5xx.
//!
//! Without `python3` and its `cryptography` package the proof tests are skipped with a message,
//! unless `REQUIRE_PYTHON=1` (set by `.ci/test`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::dpop::DpopMode;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};

const SECRET: &[u8] = b"dpop integration secret 32 bytes";

#[derive(Clone, serde::Deserialize)]
struct Claims {
    sub: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
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

fn bound_token(jkt: &str) -> String {
    mint(&json!({ "sub": "alice", "exp": now() + 300, "cnf": { "jkt": jkt } }))
}

/// A server with the layer in `mode` on 127.0.0.1:0; its base URL.
async fn serve(mode: DpopMode) -> String {
    let layer = JwtAuthLayer::<Claims>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .token_cache(1000, 1 << 20)
        .unwrap()
        .dpop(mode)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = tower::ServiceBuilder::new()
                .layer(layer.clone())
                .service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let sub = req
                        .extensions()
                        .get::<Claims>()
                        .map_or("anonymous".to_owned(), |c| c.sub.clone());
                    Ok::<_, std::convert::Infallible>(http::Response::new(
                        http_body_util::Full::new(Bytes::from(sub)),
                    ))
                });
            let service = hyper_util::service::TowerToHyperService::new(service);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

struct Answer {
    status: StatusCode,
    reason: Option<String>,
    challenges: Vec<String>,
}

async fn send(base: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = Request::get(format!("{base}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let response = client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let reason = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_owned));
    Answer {
        status,
        reason,
        challenges,
    }
}

/// The Python proof maker, or `None` (after saying why) when it cannot run.
fn python() -> Option<PathBuf> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/dpop_proof.py");
    let works = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        return Some(script);
    }
    let message = "python3 with the `cryptography` package is not available";
    if std::env::var("REQUIRE_PYTHON").as_deref() == Ok("1") {
        panic!("REQUIRE_PYTHON=1: {message}");
    }
    eprintln!("skipped: {message}; set REQUIRE_PYTHON=1 to fail instead");
    None
}

fn run(script: &PathBuf, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn proofs_made_by_python_cryptography_pass_once_for_every_default_algorithm() {
    let Some(script) = python() else { return };
    let dir = tempdir();
    let keys: HashMap<String, Value> =
        serde_json::from_str(&run(&script, &["keygen", dir.to_str().unwrap()])).unwrap();
    let base = serve(DpopMode::Allowed).await;
    for alg in ["ES256", "EdDSA", "PS256", "RS256"] {
        let jkt = keys[alg]["jkt"].as_str().unwrap();
        let token = bound_token(jkt);
        let htu = format!("{base}/api/me");
        let iat = now().to_string();
        let proof = run(
            &script,
            &[
                "proof",
                dir.to_str().unwrap(),
                alg,
                "GET",
                &htu,
                &iat,
                &format!("{alg}-1"),
                &token,
            ],
        );
        let auth = format!("DPoP {token}");
        let ok = send(
            &base,
            "/api/me?x=1",
            &[("authorization", &auth), ("dpop", &proof)],
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "{alg}: {:?}", ok.reason);
        let replay = send(
            &base,
            "/api/me",
            &[("authorization", &auth), ("dpop", &proof)],
        )
        .await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{alg}");
        assert_eq!(replay.reason.as_deref(), Some("invalid_dpop_proof"));
        // The bound token as a bearer token: the downgrade.
        let bearer = format!("Bearer {token}");
        let downgrade = send(&base, "/api/me", &[("authorization", &bearer)]).await;
        assert_eq!(downgrade.reason.as_deref(), Some("dpop_required"), "{alg}");
        assert_eq!(downgrade.challenges.len(), 2);
        // A proof for another path is refused.
        let elsewhere = run(
            &script,
            &[
                "proof",
                dir.to_str().unwrap(),
                alg,
                "GET",
                &format!("{base}/api/other"),
                &iat,
                &format!("{alg}-2"),
                &token,
            ],
        );
        let refused = send(
            &base,
            "/api/me",
            &[("authorization", &auth), ("dpop", &elsewhere)],
        )
        .await;
        assert_eq!(
            refused.reason.as_deref(),
            Some("invalid_dpop_proof"),
            "{alg}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn hostile_requests_get_a_4xx_never_a_5xx() {
    let base = serve(DpopMode::Required).await;
    let token = bound_token("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    let auth = format!("DPoP {token}");
    let huge = "a".repeat(20_000);
    let junk_jws = format!("{}.{}.{}", "e".repeat(10), "%%%", "x");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("authorization", &auth)],
        vec![("authorization", &auth), ("dpop", &huge)],
        vec![("authorization", &auth), ("dpop", "a"), ("dpop", "b")],
        vec![("authorization", &auth), ("dpop", &junk_jws)],
        vec![("authorization", &auth), ("dpop", "..")],
        vec![("authorization", "DPoP"), ("dpop", "x")],
        vec![("authorization", "DPoP a.b.c"), ("dpop", "x.y.z")],
        vec![
            ("authorization", &auth),
            ("dpop", "eyJhbGciOiJub25lIn0.e30."),
        ],
        vec![("dpop", "x.y.z")],
        vec![("authorization", "Bearer x"), ("dpop", "x.y.z")],
    ];
    for headers in cases {
        let answer = send(&base, "/api/me", &headers).await;
        assert!(
            answer.status.is_client_error(),
            "{:?}: {}",
            headers
                .iter()
                .map(|(n, v)| (n, v.len()))
                .collect::<Vec<_>>(),
            answer.status
        );
    }
}

fn tempdir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("tjwt-dpop-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
