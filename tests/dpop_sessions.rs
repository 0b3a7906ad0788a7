//! Sessions that issue DPoP-bound tokens (RFC 9449 §5): a login with a proof opens a bound
//! session, its access tokens carry `cnf.jkt` and `token_type` `DPoP`, its refreshes need a
//! proof by the same key, and a thief's refusal leaves the victim's session alive.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt};
use tower_jwt_auth::dpop::DpopMode;
use tower_jwt_auth::session::{CookieSettings, Grant, SessionErrorKind, Sessions};
use tower_jwt_auth::{Algorithm, AuthError, SigningKey};

const SECRET: &[u8] = b"dpop sessions test secret, 32+ bytes";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// A client's DPoP key.
struct Client {
    key: EcdsaKeyPair,
    jwk: Value,
    next: u32,
}

impl Client {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = key.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        });
        Self { key, jwk, next: 0 }
    }

    fn jkt(&self) -> String {
        sha256(
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
                self.jwk["x"], self.jwk["y"]
            )
            .as_bytes(),
        )
    }

    fn proof(&mut self, htm: &str, htu: &str, ath: Option<&str>) -> String {
        self.next += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims =
            json!({ "jti": format!("p{}", self.next), "htm": htm, "htu": htu, "iat": now });
        if let Some(ath) = ath {
            claims["ath"] = json!(ath);
        }
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

fn sessions(cookies: bool) -> Sessions {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let mut builder = Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .unwrap()
        .issuer("https://issuer.example")
        .unwrap();
    if cookies {
        builder = builder.cookies(CookieSettings::new());
    }
    builder.build().unwrap()
}

/// The application's login: checks the proof, binds the grant to its key.
async fn login(
    sessions: &Sessions,
    proof: Option<&str>,
) -> Result<tower_jwt_auth::session::TokenPair, SessionErrorKind> {
    let mut headers = HeaderMap::new();
    headers.insert("host", "api.example".parse().unwrap());
    if let Some(proof) = proof {
        headers.insert("dpop", proof.parse().unwrap());
    }
    let uri: Uri = "/login".parse().unwrap();
    let jkt = sessions
        .check_dpop_proof(&Method::POST, &uri, &headers)
        .await
        .map_err(|e| e.kind())?;
    let mut grant = Grant::new("alice").scope("read");
    if let Some(jkt) = jkt {
        grant = grant.dpop_bound(jkt);
    }
    sessions.open(grant).await.map_err(|e| e.kind())
}

async fn refresh(sessions: &Sessions, token: &str, proof: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::post("/auth/refresh")
        .header("host", "api.example")
        .header("content-type", "application/json");
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let body = json!({ "refresh_token": token }).to_string();
    let response = sessions
        .endpoints()
        .prefix("/auth")
        .oneshot(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn a_login_with_a_proof_opens_a_bound_session_and_refreshes_need_the_key() {
    let sessions = sessions(false);
    let mut alice = Client::new();
    let mut thief = Client::new();
    let proof = alice.proof("POST", "https://api.example/login", None);
    let pair = login(&sessions, Some(&proof)).await.unwrap();
    assert_eq!(pair.token_type(), "DPoP");
    assert_eq!(
        pair.access_token_hash(),
        Some(sha256(pair.access_token().as_bytes()))
    );
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(pair.access_token().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["cnf"]["jkt"], json!(alice.jkt()));
    // The same login proof again: a replay.
    assert_eq!(
        login(&sessions, Some(&proof)).await.unwrap_err(),
        SessionErrorKind::InvalidDpopProof
    );

    // The stolen refresh token: without a proof, then with the thief's own key.
    let htu = "https://api.example/auth/refresh";
    let (status, body) = refresh(&sessions, pair.refresh_token(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert_eq!(body["reason"], "invalid_dpop_proof");
    assert!(body["error_description"].is_string());
    let thief_proof = thief.proof("POST", htu, None);
    let (status, _) = refresh(&sessions, pair.refresh_token(), Some(&thief_proof)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A broken proof is refused the same way.
    let (status, body) = refresh(&sessions, pair.refresh_token(), Some("a.b.c")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );

    // The victim's session lives on: the same refresh token, with her key, rotates.
    let proof = alice.proof("POST", htu, None);
    let (status, body) = refresh(&sessions, pair.refresh_token(), Some(&proof)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();

    // The refreshed access token through the layer: with a proof, and as a bearer token.
    let layer = sessions
        .layer_builder::<Value>()
        .dpop(DpopMode::Allowed)
        .build()
        .unwrap();
    let call = |auth: String, proof: Option<String>| {
        let layer = layer.clone();
        async move {
            let mut request =
                Request::get("https://api.example/api/me").header("authorization", auth);
            if let Some(proof) = proof {
                request = request.header("dpop", proof);
            }
            let svc = ServiceBuilder::new().layer(layer).service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
            });
            let response = svc
                .oneshot(request.body(Full::<Bytes>::default()).unwrap())
                .await
                .unwrap();
            let reason = response.extensions().get::<AuthError>().map(|e| e.reason());
            (response.status(), reason)
        }
    };
    let proof = alice.proof(
        "GET",
        "https://api.example/api/me",
        Some(&sha256(access.as_bytes())),
    );
    assert_eq!(
        call(format!("DPoP {access}"), Some(proof)).await,
        (StatusCode::OK, None)
    );
    assert_eq!(
        call(format!("Bearer {access}"), None).await,
        (StatusCode::UNAUTHORIZED, Some("dpop_required"))
    );
}

#[tokio::test]
async fn logins_without_or_with_bad_proofs() {
    let sessions = sessions(false);
    // No proof: a bearer session, as before (an application in required mode refuses it).
    let pair = login(&sessions, None).await.unwrap();
    assert_eq!(pair.token_type(), "Bearer");
    assert_eq!(pair.access_token_hash(), None);
    let (status, body) = refresh(&sessions, pair.refresh_token(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    // A proof for another method, another URI, or with a private key part.
    let mut client = Client::new();
    for proof in [
        client.proof("GET", "https://api.example/login", None),
        client.proof("POST", "https://api.example/logout", None),
        client.proof("POST", "https://other.example/login", None),
    ] {
        assert_eq!(
            login(&sessions, Some(&proof)).await.unwrap_err(),
            SessionErrorKind::InvalidDpopProof
        );
    }
}

#[tokio::test]
async fn a_cookie_refresh_of_a_bound_session_gives_the_access_token_hash() {
    let sessions = sessions(true);
    let mut alice = Client::new();
    let proof = alice.proof("POST", "https://api.example/login", None);
    let pair = login(&sessions, Some(&proof)).await.unwrap();
    let cookies = sessions.cookie_settings().unwrap().clone();
    let proof = alice.proof("POST", "https://api.example/auth/refresh", None);
    let request = Request::post("/auth/refresh")
        .header("host", "api.example")
        .header("sec-fetch-site", "same-origin")
        .header("dpop", proof)
        .header(
            "cookie",
            format!("{}={}", cookies.refresh_cookie_name(), pair.refresh_token()),
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sessions
        .endpoints()
        .prefix("/auth")
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let access_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(cookies.access_cookie_name()))
        .unwrap();
    let access = access_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["access_token_hash"], json!(sha256(access.as_bytes())));
}

/// `Sessions::login`, the one-call login, binds the session to the key of the request's proof,
/// refuses a bad proof with 400 `invalid_dpop_proof`, and opens a bearer session without one.
#[tokio::test]
async fn the_one_call_login_binds_to_the_proofs_key() {
    let sessions = sessions(false);
    let mut alice = Client::new();
    let head = |proof: Option<&str>| {
        let mut request = Request::post("/login").header("host", "api.example");
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        request.body(()).unwrap().into_parts().0
    };
    let answer = |response: http::Response<tower_jwt_auth::ResponseBody>| async move {
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice::<Value>(&body).unwrap())
    };

    let proof = alice.proof("POST", "https://api.example/login", None);
    let (status, body) = answer(
        sessions
            .login(&head(Some(&proof)), Grant::new("alice"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap();
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["cnf"]["jkt"], json!(alice.jkt()));
    // Its refresh token needs a proof by alice's key.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let (status, body) = refresh(&sessions, refresh_token, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["reason"], "invalid_dpop_proof");
    let proof = alice.proof("POST", "https://api.example/auth/refresh", None);
    let (status, body) = refresh(&sessions, refresh_token, Some(&proof)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "DPoP");

    // A proof for another URI: 400, and no session.
    let bad = alice.proof("POST", "https://api.example/other", None);
    let refused = sessions
        .login(&head(Some(&bad)), Grant::new("alice"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), SessionErrorKind::InvalidDpopProof);
    let (status, body) = answer(refused.http_response()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_dpop_proof");
    assert_eq!(body["reason"], "invalid_dpop_proof");

    // No proof: a bearer session.
    let (status, body) = answer(
        sessions
            .login(&head(None), Grant::new("bob"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
}
