//! E14: a token of another kind sent as the access token is refused. An OpenID Connect ID
//! token (`typ: JWT`, `aud` = the client's id) fails the `typ` rule of RFC 9068 where it is
//! configured, and the audience rule everywhere an audience is configured; a refresh token of
//! the crate's sessions is not a JWT at all. Driven with `oneshot` through the suites' harness.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Value};
use tower_jwt_auth::session::{Grant, Sessions};
use tower_jwt_auth::{JwtAuthLayer, Key, SigningKey};

const ISSUER: &str = "https://issuer.example";
const API: &str = "api";
const CLIENT_ID: &str = "web-client";

fn id_token_claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "exp": now + 600,
        "iat": now,
        "auth_time": now,
        "nonce": "n-0S6_WzA2Mj",
        "jti": "id-1",
        "client_id": CLIENT_ID,
    })
}

fn id_token() -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("JWT".to_owned());
    mint(&header, &id_token_claims(), &encoding_key(Algorithm::HS256))
}

fn access_token() -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    let claims = with(id_token_claims(), json!({ "aud": API, "nonce": null }));
    mint(&header, &claims, &encoding_key(Algorithm::HS256))
}

fn builder() -> tower_jwt_auth::JwtAuthBuilder<Claims> {
    init();
    JwtAuthLayer::<Claims>::builder()
        .key(Key::hmac(Algorithm::HS256, SECRET).unwrap())
        .issuer(ISSUER)
        .unwrap()
        .audience(API)
        .unwrap()
}

#[tokio::test]
async fn an_id_token_is_refused_as_an_access_token() {
    // RFC 9068: the `typ` rule refuses it first.
    let profile = Harness::new(builder().rfc9068().build().unwrap());
    let reply = profile.bearer(id_token()).await;
    reply.assert_refused("ID token, RFC 9068", 403, "invalid_claims");
    assert_eq!(
        reply.error.unwrap().description(),
        "The token's type is not accepted"
    );
    profile.accepts("access token", access_token()).await;

    // Without the profile, the audience rule: the ID token is for the client, not the API.
    let plain = Harness::new(builder().build().unwrap());
    let reply = plain.bearer(id_token()).await;
    reply.assert_refused("ID token, audience", 403, "invalid_claims");
    assert_eq!(
        reply.error.unwrap().description(),
        "The token's audience is not accepted"
    );
    // Even typed `at+jwt` by a confused issuer, its audience gives it away.
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    let retyped = mint(&header, &id_token_claims(), &encoding_key(Algorithm::HS256));
    profile
        .refuses("ID token typed at+jwt", retyped, 403, "invalid_claims")
        .await;
    plain.accepts("access token", access_token()).await;
}

#[tokio::test]
async fn a_refresh_token_is_refused_as_an_access_token() {
    init();
    let sessions = Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .unwrap()
        .issuer(ISSUER)
        .unwrap()
        .audience(API)
        .unwrap()
        .build()
        .unwrap();
    let h = Harness::new(sessions.layer_builder::<Claims>().build().unwrap());
    let pair = sessions.open(Grant::new("user-1")).await.unwrap();
    h.accepts("its access token", pair.access_token()).await;
    // Opaque, not a JWT: refused before any key is looked at, as a cookie too.
    h.refuses(
        "refresh token as bearer",
        pair.refresh_token(),
        403,
        "malformed",
    )
    .await;
    let reply = h
        .cookie(format!("__Host-access_token={}", pair.refresh_token()))
        .await;
    reply.assert_refused("refresh token as the access cookie", 403, "malformed");
    // The refresh token still refreshes: refusing it as a bearer token changed nothing.
    assert!(sessions.refresh(pair.refresh_token()).await.is_ok());
}
