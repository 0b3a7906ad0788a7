//! DPoP through the layer: RFC 9449's own examples as vectors, every check of §4.3, the modes,
//! the challenges, hostile proofs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, WWW_AUTHENTICATE};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::Full;
use jsonwebtoken::Algorithm;
use jsonwebtoken::EncodingKey;
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt};

use super::*;
use crate::clock::Clock;
use crate::error::{AuthError, ErrorKind};
use crate::test_helpers::*;
use crate::{JwtAuthLayer, SigningKey};

// RFC 9449 §5, Figure 5: the token request's proof; §7.1, Figure 14: the resource request's,
// with the `ath` of the access token of Figure 13.
const RFC_TOKEN_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
const RFC_RESOURCE_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA";
const RFC_ACCESS_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const RFC_ATH: &str = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

fn check_at(
    proof: &str,
    method: &str,
    uri: &str,
    token: Option<&str>,
    now_s: u64,
) -> Result<Checked, AuthError> {
    let uri: Uri = uri.parse().unwrap();
    let headers = HeaderMap::new();
    check_proof(
        &DpopConfig::new(),
        proof.as_bytes(),
        &Expected {
            method,
            target: Target::of(None, &uri, &headers).unwrap(),
            access_token: token.map(str::as_bytes),
            now_ms: now_s * 1000,
        },
    )
}

#[test]
fn rfc_9449_examples_verify_with_a_fixed_clock() {
    assert_eq!(jwk::sha256_base64url(RFC_ACCESS_TOKEN.as_bytes()), RFC_ATH);
    let token = check_at(
        RFC_TOKEN_PROOF,
        "POST",
        "https://server.example.com/token",
        None,
        1_562_262_616,
    )
    .unwrap();
    assert_eq!(token.jkt, RFC_JKT);
    assert_eq!(token.jti, "-BwC3ESc6acc2lTc");
    let resource = check_at(
        RFC_RESOURCE_PROOF,
        "GET",
        "https://resource.example.org/protectedresource",
        Some(RFC_ACCESS_TOKEN),
        1_562_262_618,
    )
    .unwrap();
    assert_eq!(resource.jkt, RFC_JKT);
}

#[test]
fn rfc_9449_examples_fail_each_claim_check() {
    let uri = "https://resource.example.org/protectedresource";
    let at = 1_562_262_618;
    let refused = [
        check_at(RFC_RESOURCE_PROOF, "POST", uri, Some(RFC_ACCESS_TOKEN), at),
        check_at(
            RFC_RESOURCE_PROOF,
            "GET",
            "https://resource.example.org/other",
            Some(RFC_ACCESS_TOKEN),
            at,
        ),
        check_at(RFC_RESOURCE_PROOF, "GET", uri, Some("another token"), at),
        check_at(
            RFC_RESOURCE_PROOF,
            "GET",
            uri,
            Some(RFC_ACCESS_TOKEN),
            at + 61,
        ),
        check_at(
            RFC_RESOURCE_PROOF,
            "GET",
            uri,
            Some(RFC_ACCESS_TOKEN),
            at - 6,
        ),
    ];
    let descriptions: Vec<_> = refused
        .iter()
        .map(|r| r.as_ref().unwrap_err().description())
        .collect();
    assert_eq!(
        descriptions,
        [
            "The DPoP proof's htm is not the request's method",
            "The DPoP proof's htu is not the request's URI",
            "The DPoP proof's ath is not the access token's hash",
            "The DPoP proof is too old",
            "The DPoP proof was issued in the future",
        ]
    );
    for r in &refused {
        assert_eq!(r.as_ref().unwrap_err().kind(), ErrorKind::InvalidDpopProof);
    }
    // The window's edges are inside it.
    assert!(check_at(
        RFC_RESOURCE_PROOF,
        "GET",
        uri,
        Some(RFC_ACCESS_TOKEN),
        at + 60
    )
    .is_ok());
    assert!(check_at(
        RFC_RESOURCE_PROOF,
        "GET",
        uri,
        Some(RFC_ACCESS_TOKEN),
        at - 5
    )
    .is_ok());
}

// ---------------------------------------------------------------------------------------------
// Through the layer
// ---------------------------------------------------------------------------------------------

const EC_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ec256_private.pem");
const START: u64 = 1_800_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn client_jwk() -> Value {
    let mut jwk = SigningKey::ec_pem(Algorithm::ES256, EC_PRIVATE)
        .unwrap()
        .public_jwk()
        .unwrap();
    let map = jwk.as_object_mut().unwrap();
    map.retain(|name, _| ["kty", "crv", "x", "y"].contains(&name.as_str()));
    jwk
}

fn client_jkt() -> String {
    let text = client_jwk().to_string();
    let jwk: jwk::ProofJwk<'_> = serde_json::from_str(&text).unwrap();
    jwk.thumbprint().unwrap()
}

/// A compact JWS of `header` and `claims`, signed ES256 with the test key (whatever `header`
/// says).
fn sign(header: &Value, claims: &Value) -> String {
    let _ = crate::crypto::RING_PROVIDER.install_default();
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let key = EncodingKey::from_ec_pem(EC_PRIVATE).unwrap();
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::ES256).unwrap();
    format!("{input}.{signature}")
}

fn header() -> Value {
    json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": client_jwk() })
}

fn claims(jti: &str, token: &str) -> Value {
    json!({
        "jti": jti,
        "htm": "GET",
        "htu": "http://api.example/x",
        "iat": START,
        "ath": jwk::sha256_base64url(token.as_bytes()),
    })
}

fn bound_token(jkt: &str) -> String {
    mint(json!({ "sub": "alice", "exp": START + 300, "cnf": { "jkt": jkt } }))
}

fn plain_token() -> String {
    mint(json!({ "sub": "alice", "exp": START + 300 }))
}

fn clock() -> Clock {
    Clock::manual(UNIX_EPOCH + Duration::from_secs(START))
}

fn layer(mode: DpopMode) -> JwtAuthLayer<TestClaims> {
    builder().clock(clock()).dpop(mode).build().unwrap()
}

fn request(auth: &str, proofs: &[&str]) -> Request<Full<Bytes>> {
    let mut builder = Request::get("/x")
        .header(HOST, "api.example")
        .header(AUTHORIZATION, auth);
    for proof in proofs {
        builder = builder.header("dpop", *proof);
    }
    builder.body(Full::default()).unwrap()
}

struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    reason: Option<String>,
    description: Option<String>,
}

async fn call(layer: &JwtAuthLayer<TestClaims>, req: Request<Full<Bytes>>) -> Answer {
    let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
    let response = svc.oneshot(req).await.unwrap();
    let error = response.extensions().get::<AuthError>().cloned();
    Answer {
        status: response.status(),
        challenges: response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect(),
        reason: error.as_ref().map(|e| e.reason().to_owned()),
        description: error.map(|e| e.description().to_owned()),
    }
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_once() {
    let layer = layer(DpopMode::Allowed);
    let token = bound_token(&client_jkt());
    let proof = sign(&header(), &claims("one", &token));
    let ok = call(&layer, request(&format!("DPoP {token}"), &[&proof])).await;
    assert_eq!(ok.status, StatusCode::OK);
    // The same proof again: a replay.
    let again = call(&layer, request(&format!("DPoP {token}"), &[&proof])).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.reason.as_deref(), Some("invalid_dpop_proof"));
    assert_eq!(
        again.description.as_deref(),
        Some("The DPoP proof was used before")
    );
    // The scheme in any case.
    let proof = sign(&header(), &claims("two", &token));
    let ok = call(&layer, request(&format!("dpop {token}"), &[&proof])).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn the_downgrade_and_required_mode_are_refused_with_dpop_required() {
    let allowed = layer(DpopMode::Allowed);
    let bound = bound_token(&client_jkt());
    let downgrade = call(&allowed, request(&format!("Bearer {bound}"), &[])).await;
    assert_eq!(downgrade.status, StatusCode::UNAUTHORIZED);
    assert_eq!(downgrade.reason.as_deref(), Some("dpop_required"));
    assert_eq!(
        downgrade.challenges,
        [
            "Bearer".to_owned(),
            "DPoP error=\"invalid_token\", error_description=\"A DPoP-bound access token was \
             sent without a DPoP proof\", algs=\"ES256 EdDSA PS256 RS256\""
                .to_owned()
        ]
    );
    // A proof next to `Bearer` changes nothing: the scheme says bearer.
    let proof = sign(&header(), &claims("b", &bound));
    let with_proof = call(&allowed, request(&format!("Bearer {bound}"), &[&proof])).await;
    assert_eq!(with_proof.reason.as_deref(), Some("dpop_required"));
    // A plain bearer token passes in allowed mode, not in required mode.
    let plain = plain_token();
    let ok = call(&allowed, request(&format!("Bearer {plain}"), &[])).await;
    assert_eq!(ok.status, StatusCode::OK);
    let required = layer(DpopMode::Required);
    let refused = call(&required, request(&format!("Bearer {plain}"), &[])).await;
    assert_eq!(refused.reason.as_deref(), Some("dpop_required"));
    assert_eq!(refused.challenges.len(), 1);
    assert!(refused.challenges[0].starts_with("DPoP error=\"invalid_token\""));
    // An unbound token under the DPoP scheme fails the binding.
    let proof = sign(&header(), &claims("c", &plain));
    let unbound = call(&required, request(&format!("DPoP {plain}"), &[&proof])).await;
    assert_eq!(unbound.reason.as_deref(), Some("invalid_dpop_proof"));
    // Off (the default): a bound token passes as a bearer token, as before.
    let off = builder().clock(clock()).build().unwrap();
    let ok = call(&off, request(&format!("Bearer {bound}"), &[])).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn allowed_mode_gives_both_challenges_on_every_401() {
    let allowed = layer(DpopMode::Allowed);
    let missing = call(&allowed, Request::get("/x").body(Full::default()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.challenges,
        ["Bearer", "DPoP algs=\"ES256 EdDSA PS256 RS256\""]
    );
    let expired = mint(json!({ "sub": "alice", "exp": START - 100 }));
    let answer = call(&allowed, request(&format!("Bearer {expired}"), &[])).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenges.len(), 2);
    assert!(answer.challenges[0].starts_with("Bearer error=\"invalid_token\""));
    assert!(answer.challenges[1].starts_with("DPoP error=\"invalid_token\""));
    let bound = bound_token(&client_jkt());
    let bad = call(&allowed, request(&format!("DPoP {bound}"), &["x.y.z"])).await;
    assert_eq!(
        bad.challenges,
        [
            "Bearer".to_owned(),
            "DPoP error=\"invalid_dpop_proof\", error_description=\"The DPoP proof is not \
             valid base64url\", algs=\"ES256 EdDSA PS256 RS256\""
                .to_owned()
        ]
    );
}

#[tokio::test]
async fn every_check_of_the_proof_refuses_with_invalid_dpop_proof() {
    let token = bound_token(&client_jkt());
    let good_claims = claims("j", &token);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good_claims.clone();
        f(&mut c);
        c
    };
    let header_with = |f: &dyn Fn(&mut Value)| {
        let mut h = header();
        f(&mut h);
        h
    };
    let mut private_jwk = header();
    private_jwk["jwk"]["d"] = json!("AAAA");
    let cases: Vec<(&str, String)> = vec![
        ("htm", sign(&header(), &with(&|c| c["htm"] = json!("POST")))),
        (
            "htm case",
            sign(&header(), &with(&|c| c["htm"] = json!("get"))),
        ),
        (
            "htu",
            sign(
                &header(),
                &with(&|c| c["htu"] = json!("http://api.example/y")),
            ),
        ),
        (
            "htu host",
            sign(
                &header(),
                &with(&|c| c["htu"] = json!("http://other.example/x")),
            ),
        ),
        (
            "old",
            sign(&header(), &with(&|c| c["iat"] = json!(START - 61))),
        ),
        (
            "future",
            sign(&header(), &with(&|c| c["iat"] = json!(START + 6))),
        ),
        (
            "no iat",
            sign(
                &header(),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("iat");
                }),
            ),
        ),
        (
            "iat string",
            sign(&header(), &with(&|c| c["iat"] = json!("1800000000"))),
        ),
        (
            "ath",
            sign(&header(), &with(&|c| c["ath"] = json!(RFC_ATH))),
        ),
        (
            "no ath",
            sign(
                &header(),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("ath");
                }),
            ),
        ),
        (
            "no jti",
            sign(
                &header(),
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
            ),
        ),
        (
            "empty jti",
            sign(&header(), &with(&|c| c["jti"] = json!(""))),
        ),
        (
            "typ",
            sign(&header_with(&|h| h["typ"] = json!("JWT")), &good_claims),
        ),
        (
            "no typ",
            sign(
                &header_with(&|h| {
                    h.as_object_mut().unwrap().remove("typ");
                }),
                &good_claims,
            ),
        ),
        (
            "alg none",
            sign(&header_with(&|h| h["alg"] = json!("none")), &good_claims),
        ),
        (
            "alg HS256",
            sign(&header_with(&|h| h["alg"] = json!("HS256")), &good_claims),
        ),
        (
            "alg ES384",
            sign(&header_with(&|h| h["alg"] = json!("ES384")), &good_claims),
        ),
        (
            "crit",
            sign(&header_with(&|h| h["crit"] = json!(["exp"])), &good_claims),
        ),
        ("private jwk", sign(&private_jwk, &good_claims)),
        (
            "no jwk",
            sign(
                &header_with(&|h| {
                    h.as_object_mut().unwrap().remove("jwk");
                }),
                &good_claims,
            ),
        ),
        (
            "symmetric jwk",
            sign(
                &header_with(&|h| h["jwk"] = json!({"kty":"oct","k":"c2VjcmV0"})),
                &good_claims,
            ),
        ),
        (
            "oversized",
            sign(&header(), &with(&|c| c["pad"] = json!("x".repeat(9000)))),
        ),
        ("not a jws", "abc".to_owned()),
        ("four parts", format!("{}.x", sign(&header(), &good_claims))),
        ("claims not an object", sign(&header(), &json!([1, 2]))),
    ];
    for (i, (name, proof)) in cases.iter().enumerate() {
        // A fresh jti per case would not matter: every case fails before the replay check.
        let layer = layer(DpopMode::Allowed);
        let answer = call(&layer, request(&format!("DPoP {token}"), &[proof])).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{i} {name}");
        assert_eq!(
            answer.reason.as_deref(),
            Some("invalid_dpop_proof"),
            "{name}"
        );
    }
    // A forged signature: the payload swapped under a valid header and signature.
    let real = sign(&header(), &good_claims);
    let other = sign(&header(), &with(&|c| c["jti"] = json!("k")));
    let mut parts: Vec<&str> = real.split('.').collect();
    parts[1] = other.split('.').nth(1).unwrap();
    let forged = parts.join(".");
    let answer = call(
        &layer(DpopMode::Allowed),
        request(&format!("DPoP {token}"), &[&forged]),
    )
    .await;
    assert_eq!(
        answer.description.as_deref(),
        Some("The DPoP proof's signature does not verify")
    );
    // The proof of another key: signature fine, binding not.
    let other_token = bound_token(RFC_JKT);
    let proof = sign(&header(), &claims("o", &other_token));
    let answer = call(
        &layer(DpopMode::Allowed),
        request(&format!("DPoP {other_token}"), &[&proof]),
    )
    .await;
    assert_eq!(
        answer.description.as_deref(),
        Some("The access token is not bound to the DPoP proof's key")
    );
}

#[tokio::test]
async fn request_shape_errors() {
    let layer = layer(DpopMode::Allowed);
    let token = bound_token(&client_jkt());
    let p1 = sign(&header(), &claims("1", &token));
    let p2 = sign(&header(), &claims("2", &token));
    let two = call(&layer, request(&format!("DPoP {token}"), &[&p1, &p2])).await;
    assert_eq!(two.reason.as_deref(), Some("invalid_dpop_proof"));
    assert_eq!(
        two.description.as_deref(),
        Some("The request carries more than one DPoP header")
    );
    let none = call(&layer, request(&format!("DPoP {token}"), &[])).await;
    assert_eq!(none.reason.as_deref(), Some("invalid_dpop_proof"));
    let empty = call(&layer, request("DPoP ", &[&p1])).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.reason.as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn the_verified_token_cache_never_skips_the_proof() {
    let layer = builder()
        .clock(clock())
        .token_cache(100, 1 << 20)
        .unwrap()
        .dpop(DpopMode::Allowed)
        .build()
        .unwrap();
    let token = bound_token(&client_jkt());
    let proof = sign(&header(), &claims("c1", &token));
    assert_eq!(
        call(&layer, request(&format!("DPoP {token}"), &[&proof]))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(layer.cache_len(), 1);
    let replay = call(&layer, request(&format!("DPoP {token}"), &[&proof])).await;
    assert_eq!(replay.reason.as_deref(), Some("invalid_dpop_proof"));
    let bearer = call(&layer, request(&format!("Bearer {token}"), &[])).await;
    assert_eq!(bearer.reason.as_deref(), Some("dpop_required"));
}

#[tokio::test]
async fn a_full_replay_cache_is_a_503_and_expired_proofs_make_room() {
    let clock = clock();
    let layer = builder()
        .clock(clock.clone())
        .dpop(DpopMode::Allowed)
        .dpop_config(DpopConfig::new().replay_cache(MemoryReplayCache::new(1)))
        .build()
        .unwrap();
    let token = bound_token(&client_jkt());
    let first = sign(&header(), &claims("f1", &token));
    assert_eq!(
        call(&layer, request(&format!("DPoP {token}"), &[&first]))
            .await
            .status,
        StatusCode::OK
    );
    let second = sign(&header(), &claims("f2", &token));
    let full = call(&layer, request(&format!("DPoP {token}"), &[&second])).await;
    assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(full.reason.as_deref(), Some("dpop_replay_cache_full"));
    assert!(full.challenges.is_empty());
    // 66 s later the first proof's window is over; a fresh proof fits.
    clock.advance(Duration::from_secs(66));
    let mut fresh = claims("f3", &token);
    fresh["iat"] = json!(START + 66);
    let third = sign(&header(), &fresh);
    assert_eq!(
        call(&layer, request(&format!("DPoP {token}"), &[&third]))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn modes_per_path_and_per_variant() {
    let layer = builder()
        .clock(clock())
        .dpop_for_path("/x", DpopMode::Required)
        .unwrap()
        .build()
        .unwrap();
    let plain = plain_token();
    let refused = call(&layer, request(&format!("Bearer {plain}"), &[])).await;
    assert_eq!(refused.reason.as_deref(), Some("dpop_required"));
    let other = Request::get("/y")
        .header(AUTHORIZATION, format!("Bearer {plain}"))
        .body(Full::default())
        .unwrap();
    assert_eq!(call(&layer, other).await.status, StatusCode::OK);
    let variant = layer
        .clone()
        .dpop(DpopMode::Allowed)
        .dpop_for_path("/x", DpopMode::Off)
        .unwrap();
    assert_eq!(
        call(&variant, request(&format!("Bearer {plain}"), &[]))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cookie_with_a_proof_is_checked_like_the_dpop_scheme() {
    let layer = layer(DpopMode::Allowed);
    let token = bound_token(&client_jkt());
    let cookie = |proofs: &[&str]| {
        let mut b = Request::get("/x")
            .header(HOST, "api.example")
            .header(COOKIE, format!("__Host-access_token={token}"));
        for p in proofs {
            b = b.header("dpop", *p);
        }
        b.body(Full::default()).unwrap()
    };
    let proof = sign(&header(), &claims("k1", &token));
    assert_eq!(call(&layer, cookie(&[&proof])).await.status, StatusCode::OK);
    let replayed = call(&layer, cookie(&[&proof])).await;
    assert_eq!(replayed.reason.as_deref(), Some("invalid_dpop_proof"));
    // The copied cookie alone: refused.
    let stolen = call(&layer, cookie(&[])).await;
    assert_eq!(stolen.reason.as_deref(), Some("dpop_required"));
    // An unbound cookie with a proof is a plain cookie: it passes in allowed mode only.
    let plain = plain_token();
    let unbound = |layer: JwtAuthLayer<TestClaims>| {
        let proof = sign(&header(), &claims("k2", &plain));
        let req = Request::get("/x")
            .header(HOST, "api.example")
            .header(COOKIE, format!("__Host-access_token={plain}"))
            .header("dpop", proof)
            .body(Full::default())
            .unwrap();
        async move { call(&layer, req).await }
    };
    assert_eq!(unbound(layer.clone()).await.status, StatusCode::OK);
    let required = unbound(self::layer(DpopMode::Required)).await;
    assert_eq!(required.reason.as_deref(), Some("dpop_required"));
}

#[tokio::test]
async fn grpc_gets_unauthenticated_with_the_reason() {
    let layer = layer(DpopMode::Required);
    let req = Request::post("/greeter.Greeter/SayHello")
        .header(HOST, "api.example")
        .header(CONTENT_TYPE, "application/grpc")
        .header(AUTHORIZATION, format!("Bearer {}", plain_token()))
        .body(Full::default())
        .unwrap();
    let svc = ServiceBuilder::new().layer(layer).service_fn(echo);
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "16");
    assert!(response.headers()["grpc-message"]
        .to_str()
        .unwrap()
        .starts_with("dpop_required"));
}

#[test]
fn configuration_is_checked() {
    assert!(DpopConfig::new().algorithms([]).is_err());
    assert!(DpopConfig::new().algorithms([Algorithm::HS256]).is_err());
    let config = DpopConfig::new()
        .algorithms([Algorithm::EdDSA, Algorithm::ES256])
        .unwrap();
    assert_eq!(config.algs(), "EdDSA ES256");
    assert!(DpopConfig::new()
        .iat_window(Duration::ZERO, Duration::ZERO)
        .is_err());
    assert!(DpopConfig::new()
        .public_origin("https://api.example/x")
        .is_err());
    assert!(DpopConfig::new().max_proof_len(10).is_err());
    let _ = SystemTime::now();
}

/// A replay store that only answers later, as Redis does.
struct LaterStore(MemoryReplayCache);

impl ReplayCache for LaterStore {
    fn record_now(
        &self,
        _id: &[u8; 32],
        _now_ms: u64,
        _expires_at_ms: u64,
    ) -> Option<Result<bool, ReplayError>> {
        None
    }

    fn record(&self, id: [u8; 32], now_ms: u64, expires_at_ms: u64) -> ReplayFuture {
        let answer = self.0.record_now(&id, now_ms, expires_at_ms);
        Box::pin(async move {
            tokio::task::yield_now().await;
            answer.unwrap_or(Err(ReplayError::new("no answer")))
        })
    }
}

#[tokio::test]
async fn a_replay_store_that_answers_later_is_awaited() {
    let layer = builder()
        .clock(clock())
        .dpop(DpopMode::Allowed)
        .dpop_config(DpopConfig::new().replay_cache(LaterStore(MemoryReplayCache::new(10))))
        .build()
        .unwrap();
    let token = bound_token(&client_jkt());
    let proof = sign(&header(), &claims("l1", &token));
    let ok = call(&layer, request(&format!("DPoP {token}"), &[&proof])).await;
    assert_eq!(ok.status, StatusCode::OK);
    let again = call(&layer, request(&format!("DPoP {token}"), &[&proof])).await;
    assert_eq!(again.reason.as_deref(), Some("invalid_dpop_proof"));
    // With a revocation store too: both are asked.
    let layer = builder()
        .clock(clock())
        .revocation(crate::session::MemoryStore::new())
        .revocation_sid_optional(true)
        .dpop(DpopMode::Allowed)
        .dpop_config(DpopConfig::new().replay_cache(LaterStore(MemoryReplayCache::new(10))))
        .build()
        .unwrap();
    let token = mint(json!({
        "sub": "alice", "jti": "t1", "iat": START, "exp": START + 300,
        "cnf": { "jkt": client_jkt() },
    }));
    let proof = sign(&header(), &claims("l2", &token));
    let ok = call(&layer, request(&format!("DPoP {token}"), &[&proof])).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn an_optional_anonymous_layer_treats_a_failed_proof_as_no_token() {
    use crate::{AuthMode, InvalidTokenPolicy};
    let layer = layer(DpopMode::Allowed).mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
    let bound = bound_token(&client_jkt());
    let answer = call(&layer, request(&format!("Bearer {bound}"), &[])).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.reason, None);
}

#[tokio::test]
async fn grpc_proofs_name_the_public_origin_and_the_method_path() {
    let layer = builder()
        .clock(clock())
        .dpop(DpopMode::Required)
        .dpop_config(
            DpopConfig::new()
                .public_origin("https://grpc.example")
                .unwrap(),
        )
        .build()
        .unwrap();
    let token = bound_token(&client_jkt());
    let mut good = claims("g1", &token);
    good["htm"] = json!("POST");
    good["htu"] = json!("https://grpc.example/greeter.Greeter/SayHello");
    let mut wrong = good.clone();
    wrong["jti"] = json!("g2");
    wrong["htu"] = json!("https://api.example/greeter.Greeter/SayHello");
    for (claims, status) in [(good, "0"), (wrong, "16")] {
        let req = Request::post("/greeter.Greeter/SayHello")
            .header(HOST, "api.example")
            .header(CONTENT_TYPE, "application/grpc")
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", sign(&header(), &claims))
            .body(Full::default())
            .unwrap();
        let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
        let response = svc.oneshot(req).await.unwrap();
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .map_or("0", |v| v.to_str().unwrap());
        assert_eq!(grpc_status, status);
    }
}

#[tokio::test]
async fn layers_sharing_the_session_memory_store_share_its_replay_cache() {
    let store = crate::session::MemoryStore::new();
    let instance = || {
        builder()
            .clock(clock())
            .dpop(DpopMode::Allowed)
            .dpop_config(DpopConfig::new().replay_cache(store.clone()))
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let token = bound_token(&client_jkt());
    let proof = sign(&header(), &claims("m1", &token));
    let auth = format!("DPoP {token}");
    assert_eq!(
        call(&a, request(&auth, &[&proof])).await.status,
        StatusCode::OK
    );
    let replay = call(&b, request(&auth, &[&proof])).await;
    assert_eq!(replay.reason.as_deref(), Some("invalid_dpop_proof"));
}
