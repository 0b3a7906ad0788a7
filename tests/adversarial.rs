//! Adversarial tokens and requests against the real layer, through `oneshot`.
//!
//! The case IDs (A1, B5, E9, …) are those of the attack catalog in the project's security notes.
//! Every hostile case asserts the exact documented `reason` and status (default policy unless
//! stated), that the `AuthError` is in the response extensions, and that the handler never
//! ran; each test then checks that the same service (cloned) still serves a valid token.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};
use serde_json::{json, Value};
use tower_jwt_auth::{
    AuthError, ConfigError, DefaultRejection, ErrorKind, JwtAuthBuilder, JwtAuthLayer, Key,
    StatusPolicy, TokenSource,
};

use common::*;

fn builder() -> JwtAuthBuilder<Claims> {
    init();
    JwtAuthLayer::<Claims>::builder()
}

fn hmac_key() -> Key {
    Key::hmac(Algorithm::HS256, SECRET).unwrap()
}

fn harness() -> Harness {
    Harness::new(hs256_layer())
}

/// An HS256 token (signed with the trusted secret) with exactly this header JSON.
fn with_header(header: &str, claims: &Value) -> String {
    hs256_raw(header, claims.to_string())
}

fn header_with_kid(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header
}

fn rsa_layer(alg: Algorithm) -> JwtAuthLayer<Claims> {
    builder()
        .key(Key::rsa_pem(alg, key_file("rsa_public.pem")).unwrap())
        .build()
        .unwrap()
}

fn ec_layer(alg: Algorithm) -> JwtAuthLayer<Claims> {
    let file = match alg {
        Algorithm::ES256 => "ec256_public.pem",
        _ => "ec384_public.pem",
    };
    builder()
        .key(Key::ec_pem(alg, key_file(file)).unwrap())
        .build()
        .unwrap()
}

/// A fresh ECDSA key pair that the layers never trust: (PKCS#8 signing key, public point).
fn generated_ec(alg: Algorithm) -> (EncodingKey, Vec<u8>) {
    let rng = ring::rand::SystemRandom::new();
    let signing = match alg {
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED_SIGNING,
        _ => &ECDSA_P384_SHA384_FIXED_SIGNING,
    };
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
    (
        EncodingKey::from_ec_der(pkcs8.as_ref()),
        pair.public_key().as_ref().to_vec(),
    )
}

fn generated_ed() -> EncodingKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    EncodingKey::from_ed_der(pkcs8.as_ref())
}

/// The order of the P-256 group.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `a - b` on 32-byte big-endian numbers (`a >= b`).
fn sub_be(a: &[u8; 32], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

fn der_integer(x: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

/// An ECDSA signature `r || s` re-encoded as the ASN.1 DER `SEQUENCE { r, s }`.
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let half = raw.len() / 2;
    let mut body = der_integer(&raw[..half]);
    body.extend(der_integer(&raw[half..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// `token` with its signature segment replaced by `signature`'s base64url.
fn resigned(token: &str, signature: &[u8]) -> String {
    let (h, p, _) = segments(token);
    format!("{h}.{p}.{}", b64(signature))
}

// =============================================================================================
// A. Algorithm and signature

#[tokio::test]
async fn a1_alg_none_in_any_case_is_not_allowed() {
    let h = harness();
    let claims = good_claims().to_string();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let token = format!("{}.{}.", b64(&header), b64(&claims));
        h.refuses(
            &format!("alg {alg}, empty signature"),
            &token,
            403,
            "algorithm_not_allowed",
        )
        .await;
        // The same header with a valid HS256 signature of the trusted secret appended.
        let signed = hs256_raw(&header, &claims);
        h.refuses(
            &format!("alg {alg}, HS256 signature"),
            &signed,
            403,
            "algorithm_not_allowed",
        )
        .await;
    }
    // RFC 7519 §6.1 unsecured JWT, verbatim.
    let rfc = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";
    h.refuses("RFC 7519 §6.1", rfc, 403, "algorithm_not_allowed")
        .await;
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn a2_algorithms_outside_the_allow_list() {
    let h = harness();
    let claims = good_claims();
    // HS384 under the same secret while only HS256 is allowed.
    let hs384 = mint(
        &Header::new(Algorithm::HS384),
        &claims,
        &encoding_key(Algorithm::HS384),
    );
    h.refuses("HS384", &hs384, 403, "algorithm_not_allowed")
        .await;
    for alg in ["hs256", "HS256 ", " HS256", "ES512", "RS1", "HS256\u{0000}"] {
        let header = json!({"alg": alg}).to_string();
        let token = with_header(&header, &claims);
        h.refuses(
            &format!("alg {alg:?}"),
            &token,
            403,
            "algorithm_not_allowed",
        )
        .await;
    }
    // PS256 when only RS256 is configured for the RSA key.
    let rsa = Harness::new(rsa_layer(Algorithm::RS256));
    let ps256 = mint(
        &Header::new(Algorithm::PS256),
        &claims,
        &encoding_key(Algorithm::PS256),
    );
    rsa.refuses("PS256 vs RS256-only", &ps256, 403, "algorithm_not_allowed")
        .await;
    h.still_serves(&good_token()).await;
    rsa.still_serves(&mint(
        &Header::new(Algorithm::RS256),
        &claims,
        &encoding_key(Algorithm::RS256),
    ))
    .await;
}

#[tokio::test]
async fn a3_hs256_signed_with_the_public_key_is_not_allowed() {
    let h = Harness::new(rsa_layer(Algorithm::RS256));
    let claims = good_claims();
    let pem = key_file("rsa_public.pem");
    let spki = pem_to_der(&pem);
    let pkcs1 = spki_to_pkcs1(&spki);
    let pkcs1_pem = der_to_pem("RSA PUBLIC KEY", &pkcs1);
    let secrets: [(&str, &[u8]); 4] = [
        ("SPKI PEM text", &pem),
        ("SPKI DER", &spki),
        ("PKCS#1 DER", &pkcs1),
        ("PKCS#1 PEM text", pkcs1_pem.as_bytes()),
    ];
    for (label, secret) in secrets {
        let token = mint(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret).unwrap(),
        );
        h.refuses(label, &token, 403, "algorithm_not_allowed").await;
    }
    h.still_serves(&mint(
        &Header::new(Algorithm::RS256),
        &claims,
        &encoding_key(Algorithm::RS256),
    ))
    .await;

    // A3b: the same with an EC verification key (its SPKI DER and its raw point).
    let ec = Harness::new(ec_layer(Algorithm::ES256));
    let ec_spki = pem_to_der(&key_file("ec256_public.pem"));
    let point = ec_spki[ec_spki.len() - 65..].to_vec();
    for (label, secret) in [("EC SPKI DER", &ec_spki), ("EC point", &point)] {
        let token = mint(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret).unwrap(),
        );
        ec.refuses(label, &token, 403, "algorithm_not_allowed")
            .await;
    }
    ec.still_serves(&mint(
        &Header::new(Algorithm::ES256),
        &claims,
        &encoding_key(Algorithm::ES256),
    ))
    .await;
}

#[tokio::test]
async fn a4_kid_cannot_pick_a_key_of_another_family() {
    let layer = builder()
        .key(hmac_key().with_kid("k1"))
        .key(
            Key::rsa_pem(Algorithm::RS256, key_file("rsa_public.pem"))
                .unwrap()
                .with_kid("r1"),
        )
        .build()
        .unwrap();
    let h = Harness::new(layer);
    let claims = good_claims();
    let rsa_der = pem_to_der(&key_file("rsa_public.pem"));
    let r1_as_hmac = mint(
        &header_with_kid(Algorithm::HS256, "r1"),
        &claims,
        &EncodingKey::from_secret(&rsa_der).unwrap(),
    );
    h.refuses(
        "kid r1, alg HS256",
        &r1_as_hmac,
        403,
        "algorithm_not_allowed",
    )
    .await;
    let k1_as_rsa = mint(
        &header_with_kid(Algorithm::RS256, "k1"),
        &claims,
        &encoding_key(Algorithm::RS256),
    );
    h.refuses(
        "kid k1, alg RS256",
        &k1_as_rsa,
        403,
        "algorithm_not_allowed",
    )
    .await;
    // The right pairs pass.
    h.accepts(
        "kid k1, HS256",
        mint(
            &header_with_kid(Algorithm::HS256, "k1"),
            &claims,
            &encoding_key(Algorithm::HS256),
        ),
    )
    .await;
    h.still_serves(&mint(
        &header_with_kid(Algorithm::RS256, "r1"),
        &claims,
        &encoding_key(Algorithm::RS256),
    ))
    .await;
}

#[tokio::test]
async fn a5_psychic_signatures_are_invalid() {
    let h = Harness::new(ec_layer(Algorithm::ES256));
    let good = mint(
        &Header::new(Algorithm::ES256),
        &good_claims(),
        &encoding_key(Algorithm::ES256),
    );
    let zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[31] = 1;
    let n_minus_1 = sub_be(&P256_N, &one);
    let cases: [(&str, &[u8], &[u8]); 6] = [
        ("r=0, s=0", &zero, &zero),
        ("r=0, s=1", &zero, &one),
        ("r=1, s=0", &one, &zero),
        ("r=n, s=n", &P256_N, &P256_N),
        ("r=n-1, s=n-1", &n_minus_1, &n_minus_1),
        ("r=1, s=n", &one, &P256_N),
    ];
    for (label, r, s) in cases {
        let signature = [r, s].concat();
        h.refuses(label, resigned(&good, &signature), 403, "invalid_signature")
            .await;
    }
    h.still_serves(&good).await;

    let h384 = Harness::new(ec_layer(Algorithm::ES384));
    let good384 = mint(
        &Header::new(Algorithm::ES384),
        &good_claims(),
        &encoding_key(Algorithm::ES384),
    );
    h384.refuses(
        "ES384 96 zero bytes",
        resigned(&good384, &[0u8; 96]),
        403,
        "invalid_signature",
    )
    .await;
    h384.still_serves(&good384).await;
}

#[tokio::test]
async fn a6_to_a9_stripped_truncated_der_and_wrong_key_signatures() {
    let h = harness();
    let good = good_token();
    let (hd, pl, sig) = segments(&good);
    // A6: stripped signature.
    h.refuses("h.p.", format!("{hd}.{pl}."), 403, "invalid_signature")
        .await;
    h.refuses("h.p", format!("{hd}.{pl}"), 403, "malformed")
        .await;
    // A7: truncated signatures. An HMAC cut to 16 bytes is a bad signature; one character less
    // is either non-canonical base64url (malformed) or a short MAC (invalid_signature),
    // depending on the unused bits: the expectation is computed, not guessed.
    let tag = unb64(&sig);
    h.refuses(
        "HMAC cut to 16 bytes",
        resigned(&good, &tag[..16]),
        403,
        "invalid_signature",
    )
    .await;
    let one_less = &sig[..sig.len() - 1];
    let expected = if try_unb64(one_less).is_some() {
        "invalid_signature"
    } else {
        "malformed"
    };
    h.refuses(
        "signature one character short",
        format!("{hd}.{pl}.{one_less}"),
        403,
        expected,
    )
    .await;
    let mut longer = tag.clone();
    longer.push(0);
    h.refuses(
        "HMAC with a zero byte appended",
        resigned(&good, &longer),
        403,
        "invalid_signature",
    )
    .await;
    // A9: another secret; and a tampered payload under the original signature.
    let forged = mint(
        &Header::new(Algorithm::HS256),
        &good_claims(),
        &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
    );
    h.refuses("wrong secret", &forged, 403, "invalid_signature")
        .await;
    let tampered = format!(
        "{hd}.{}.{sig}",
        b64(with(good_claims(), json!({"sub": "admin"})).to_string())
    );
    h.refuses("tampered payload", &tampered, 403, "invalid_signature")
        .await;
    h.still_serves(&good).await;

    // A7/A8 for ECDSA: 63 and 65 bytes, DER instead of R || S.
    let ec = Harness::new(ec_layer(Algorithm::ES256));
    let good_ec = mint(
        &Header::new(Algorithm::ES256),
        &good_claims(),
        &encoding_key(Algorithm::ES256),
    );
    let raw = unb64(&segments(&good_ec).2);
    assert_eq!(raw.len(), 64);
    ec.refuses(
        "ES256 63 bytes",
        resigned(&good_ec, &raw[..63]),
        403,
        "invalid_signature",
    )
    .await;
    let mut raw65 = raw.clone();
    raw65.push(0);
    ec.refuses(
        "ES256 65 bytes",
        resigned(&good_ec, &raw65),
        403,
        "invalid_signature",
    )
    .await;
    let der_zero = [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
    ec.refuses(
        "DER r=s=0",
        resigned(&good_ec, &der_zero),
        403,
        "invalid_signature",
    )
    .await;
    ec.refuses(
        "DER re-encoding",
        resigned(&good_ec, &der_signature(&raw)),
        403,
        "invalid_signature",
    )
    .await;
    ec.still_serves(&good_ec).await;

    // A7 for RSA: a leading zero added, the last byte removed.
    let rsa = Harness::new(rsa_layer(Algorithm::RS256));
    let good_rsa = mint(
        &Header::new(Algorithm::RS256),
        &good_claims(),
        &encoding_key(Algorithm::RS256),
    );
    let raw = unb64(&segments(&good_rsa).2);
    let padded = [&[0u8][..], &raw].concat();
    rsa.refuses(
        "RSA leading zero",
        resigned(&good_rsa, &padded),
        403,
        "invalid_signature",
    )
    .await;
    rsa.refuses(
        "RSA last byte cut",
        resigned(&good_rsa, &raw[..raw.len() - 1]),
        403,
        "invalid_signature",
    )
    .await;
    rsa.refuses(
        "RSA signature 0",
        resigned(&good_rsa, &[0u8; 256]),
        403,
        "invalid_signature",
    )
    .await;
    rsa.still_serves(&good_rsa).await;
}

#[tokio::test]
async fn a10_ecdsa_malleated_signature_verifies() {
    let h = Harness::new(ec_layer(Algorithm::ES256));
    let good = mint(
        &Header::new(Algorithm::ES256),
        &good_claims(),
        &encoding_key(Algorithm::ES256),
    );
    let raw = unb64(&segments(&good).2);
    let s_prime = sub_be(&P256_N, &raw[32..]);
    let malleated = resigned(&good, &[&raw[..32], &s_prime[..]].concat());
    assert_ne!(malleated, good, "the malleated token is a different string");
    // ECDSA signatures are malleable: (r, n - s) verifies as well as (r, s). This is expected,
    // and it is why a revocation or replay list must key on `jti` (with `iss`), never on a
    // hash of the token string.
    let seen = h.accepts("(r, n - s)", &malleated).await;
    assert_eq!(seen["claims"]["sub"], "user-1");
    h.still_serves(&good).await;
}

// =============================================================================================
// B. Header parameters

#[tokio::test]
async fn b1_b2_hostile_kid_is_an_unknown_key() {
    let h = Harness::new(builder().key(hmac_key().with_kid("k1")).build().unwrap());
    let claims = good_claims();
    let kids = [
        "../../../../dev/null",
        "/proc/self/environ",
        "x' UNION SELECT 'AAAA'--",
        "*)(uid=*",
        "k1 ",
        "K1",
    ];
    for kid in kids {
        for key in [SECRET, OTHER_SECRET] {
            let token = mint(
                &header_with_kid(Algorithm::HS256, kid),
                &claims,
                &EncodingKey::from_secret(key).unwrap(),
            );
            h.refuses(&format!("kid {kid:?}"), &token, 403, "unknown_key")
                .await;
        }
    }
    h.still_serves(&mint(
        &header_with_kid(Algorithm::HS256, "k1"),
        &claims,
        &encoding_key(Algorithm::HS256),
    ))
    .await;
}

#[tokio::test]
async fn b3_badly_shaped_kid_is_malformed() {
    let h = Harness::new(builder().key(hmac_key().with_kid("k1")).build().unwrap());
    let claims = good_claims();
    let long = "k".repeat(10 * 1024);
    let just_too_long = "k".repeat(257);
    let cases = [
        (
            "kid of 10 KB",
            json!({"alg": "HS256", "kid": long}).to_string(),
        ),
        (
            "kid of 257 bytes",
            json!({"alg": "HS256", "kid": just_too_long}).to_string(),
        ),
        (
            "kid with CR/LF",
            json!({"alg": "HS256", "kid": "k1\r\nINFO forged"}).to_string(),
        ),
        (
            "kid with NUL",
            json!({"alg": "HS256", "kid": "k1\u{0}"}).to_string(),
        ),
        (
            "kid non-ASCII",
            json!({"alg": "HS256", "kid": "k\u{e9}"}).to_string(),
        ),
        ("kid empty", json!({"alg": "HS256", "kid": ""}).to_string()),
        ("kid number", r#"{"alg":"HS256","kid":7}"#.to_owned()),
        ("kid null", r#"{"alg":"HS256","kid":null}"#.to_owned()),
    ];
    for (label, header) in cases {
        h.refuses(label, with_header(&header, &claims), 403, "malformed")
            .await;
    }
    h.still_serves(&mint(
        &header_with_kid(Algorithm::HS256, "k1"),
        &claims,
        &encoding_key(Algorithm::HS256),
    ))
    .await;
}

#[tokio::test]
async fn b4_missing_kid_needs_an_unambiguous_key() {
    let claims = good_claims();
    let no_kid = good_token();
    let two = Harness::new(
        builder()
            .key(hmac_key().with_kid("k1"))
            .key(
                Key::hmac(Algorithm::HS256, OTHER_SECRET)
                    .unwrap()
                    .with_kid("k2"),
            )
            .build()
            .unwrap(),
    );
    two.refuses("no kid, two HS256 keys", &no_kid, 403, "unknown_key")
        .await;
    two.still_serves(&mint(
        &header_with_kid(Algorithm::HS256, "k1"),
        &claims,
        &encoding_key(Algorithm::HS256),
    ))
    .await;
    let one = Harness::new(builder().key(hmac_key().with_kid("k1")).build().unwrap());
    one.accepts("no kid, one key", &no_kid).await;
}

#[tokio::test]
async fn b5_jku_and_x5u_are_refused_and_never_fetched() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = harness();
    let claims = good_claims();
    for param in ["jku", "x5u"] {
        let header = json!({"alg": "HS256", param: format!("http://{addr}/jwks.json")}).to_string();
        // Signed by the attacker, as the key would be theirs.
        let attacker = sign_raw(
            header.as_bytes(),
            claims.to_string().as_bytes(),
            &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
            Algorithm::HS256,
        );
        h.refuses(
            &format!("{param}, attacker key"),
            &attacker,
            403,
            "malformed",
        )
        .await;
        // Even signed with the trusted key, the parameter is refused.
        h.refuses(
            &format!("{param}, trusted key"),
            with_header(&header, &claims),
            403,
            "malformed",
        )
        .await;
    }
    // Verification is synchronous: had the layer connected, the connection would be queued.
    let listener = listener.into_std().unwrap();
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener named in jku/x5u was contacted: {other:?}"),
    }
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn b6_embedded_jwk_and_x5c_are_refused() {
    let h = Harness::new(ec_layer(Algorithm::ES256));
    let claims = good_claims().to_string();
    let (attacker, point) = generated_ec(Algorithm::ES256);
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64(&point[1..33]), "y": b64(&point[33..]),
    });
    let header = json!({"alg": "ES256", "jwk": jwk}).to_string();
    let token = sign_raw(
        header.as_bytes(),
        claims.as_bytes(),
        &attacker,
        Algorithm::ES256,
    );
    h.refuses("embedded jwk", &token, 403, "malformed").await;
    let header = json!({"alg": "ES256", "x5c": [b64(b"not really a certificate")]}).to_string();
    let token = sign_raw(
        header.as_bytes(),
        claims.as_bytes(),
        &attacker,
        Algorithm::ES256,
    );
    h.refuses("x5c", &token, 403, "malformed").await;
    h.still_serves(&mint(
        &Header::new(Algorithm::ES256),
        &good_claims(),
        &encoding_key(Algorithm::ES256),
    ))
    .await;
}

#[tokio::test]
async fn b7_unknown_crit_is_invalid_claims() {
    let h = harness();
    let claims = good_claims();
    for crit in [
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":["b64"]}"#,
        r#"{"alg":"HS256","crit":["foo"]}"#,
        r#"{"alg":"HS256","crit":"b64"}"#,
    ] {
        h.refuses(crit, with_header(crit, &claims), 403, "invalid_claims")
            .await;
    }
    // RFC 7797 unencoded payloads are refused as a header parameter the layer never acts on.
    let b64_false = r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#;
    h.refuses(b64_false, with_header(b64_false, &claims), 403, "malformed")
        .await;
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn b8_typ_at_jwt() {
    let h = Harness::new(
        builder()
            .key(hmac_key())
            .typ("at+jwt")
            .unwrap()
            .build()
            .unwrap(),
    );
    let claims = good_claims();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "application/AT+JWT",
    ] {
        let header = json!({"alg": "HS256", "typ": typ}).to_string();
        h.accepts(&format!("typ {typ}"), with_header(&header, &claims))
            .await;
    }
    let absent = r#"{"alg":"HS256"}"#.to_owned();
    h.refuses(
        "typ absent",
        with_header(&absent, &claims),
        403,
        "invalid_claims",
    )
    .await;
    for typ in [
        "JWT",
        "jwt",
        "at+jwt ",
        "dpop+jwt",
        "secevent+jwt",
        "application/jwt",
        "at+jwt/x",
    ] {
        let header = json!({"alg": "HS256", "typ": typ}).to_string();
        h.refuses(
            &format!("typ {typ:?}"),
            with_header(&header, &claims),
            403,
            "invalid_claims",
        )
        .await;
    }
    let header = r#"{"alg":"HS256","typ":5}"#;
    h.refuses("typ number", with_header(header, &claims), 403, "malformed")
        .await;
    h.still_serves(&with_header(r#"{"alg":"HS256","typ":"at+jwt"}"#, &claims))
        .await;
}

#[tokio::test]
async fn b9_b10_jwe_and_nested_header_parameters_are_malformed() {
    let h = harness();
    let claims = good_claims();
    for header in [
        r#"{"alg":"HS256","enc":"A256GCM"}"#,
        r#"{"alg":"HS256","zip":"DEF"}"#,
        r#"{"alg":"HS256","cty":"JWT"}"#,
        r#"{"alg":"HS256","cty":"json"}"#,
        r#"{"alg":"HS256","epk":{"kty":"EC"}}"#,
    ] {
        h.refuses(header, with_header(header, &claims), 403, "malformed")
            .await;
    }
    // B9: a nested JWT as the payload, without cty.
    let nested = hs256_raw(
        r#"{"alg":"HS256"}"#,
        Value::String(good_token()).to_string(),
    );
    h.refuses("nested JWT payload", &nested, 403, "malformed")
        .await;
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn b11_b12_b13_header_json() {
    let h = harness();
    let claims = good_claims();
    let bom = [&[0xef, 0xbb, 0xbf][..], br#"{"alg":"HS256"}"#].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("duplicate alg", br#"{"alg":"HS256","alg":"none"}"#.to_vec()),
        (
            "duplicate alg, none first",
            br#"{"alg":"none","alg":"HS256"}"#.to_vec(),
        ),
        (
            "duplicate kid",
            br#"{"alg":"HS256","kid":"a","kid":"b"}"#.to_vec(),
        ),
        (
            "duplicate typ",
            br#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#.to_vec(),
        ),
        ("header []", b"[]".to_vec()),
        ("header null", b"null".to_vec()),
        ("header string", br#""x""#.to_vec()),
        ("header number", b"1".to_vec()),
        ("BOM before {", bom),
        ("missing alg", br#"{"typ":"JWT"}"#.to_vec()),
        ("alg array", br#"{"alg":["HS256"]}"#.to_vec()),
        ("alg null", br#"{"alg":null}"#.to_vec()),
        ("trailing garbage", br#"{"alg":"HS256"}x"#.to_vec()),
        ("not JSON", b"alg=HS256".to_vec()),
        ("invalid UTF-8 in alg", b"{\"alg\":\"HS256\xff\"}".to_vec()),
    ];
    for (label, header) in cases {
        h.refuses(
            label,
            hs256_raw(&header, claims.to_string()),
            403,
            "malformed",
        )
        .await;
    }
    // B13: an unknown, non-critical parameter is ignored (RFC 7515 §4).
    let harmless = r#"{"alg":"HS256","x-foo":1,"nested":{"a":[1,2]}}"#;
    h.accepts("unknown header parameter", with_header(harmless, &claims))
        .await;
    // Whitespace in the header JSON is fine.
    h.accepts(
        "whitespace in header JSON",
        with_header("{ \"alg\" :\r\n \"HS256\" }", &claims),
    )
    .await;
    h.still_serves(&good_token()).await;
}

// =============================================================================================
// C. Token structure and encoding

#[tokio::test]
async fn c1_c2_c3_segment_counts_are_malformed() {
    let h = harness();
    let good = good_token();
    let (hd, pl, sig) = segments(&good);
    let cases = [
        "a".to_owned(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        "a.b.c.d".to_owned(),
        "a.b.c.".to_owned(),
        ".b.c".to_owned(),
        "a..c".to_owned(),
        "..".to_owned(),
        ".".to_owned(),
        format!(".{pl}.{sig}"),
        format!("{hd}..{sig}"),
        format!("{good}."),
        format!("{good}.{sig}"),
        // C2: a five-segment JWE.
        format!(
            "{}.{}.{}.{}.{}",
            b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#),
            b64([1u8; 256]),
            b64([2u8; 12]),
            b64([3u8; 40]),
            b64([4u8; 16])
        ),
    ];
    for token in &cases {
        h.refuses(token, token, 403, "malformed").await;
    }
    // `Bearer ` with nothing after it is a broken request, not a malformed token.
    h.refuses("Bearer with nothing", "", 400, "invalid_request")
        .await;
    // The empty string and the JSON serialization, through the verifier.
    let verifier = hs256_layer().verifier();
    let json_serialization = json!({
        "payload": pl, "signatures": [{"protected": hd, "signature": sig}],
    })
    .to_string();
    for token in ["", json_serialization.as_str()] {
        let err = verifier.verify(token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{token:?}");
    }
    h.still_serves(&good).await;
}

#[tokio::test]
async fn c4_to_c8_encoding_is_strict() {
    let h = harness();
    let good = good_token();
    let (hd, pl, sig) = segments(&good);
    // C5: the signature's last character changed only in its unused bits.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = sig.as_bytes()[sig.len() - 1];
    let value = alphabet.iter().position(|c| *c == last).unwrap();
    let noncanonical = format!(
        "{hd}.{pl}.{}{}",
        &sig[..sig.len() - 1],
        alphabet[value ^ 1] as char
    );
    let mut cases = vec![
        ("= after the header", format!("{hd}=.{pl}.{sig}")),
        ("= after the payload", format!("{hd}.{pl}=.{sig}")),
        ("= after the signature", format!("{hd}.{pl}.{sig}=")),
        ("non-canonical last character", noncanonical),
        ("+ in the header", format!("+{}.{pl}.{sig}", &hd[1..])),
        (
            "/ in the signature",
            format!("{hd}.{pl}.{}/", &sig[..sig.len() - 1]),
        ),
        ("% in the payload", format!("{hd}.%{pl}.{sig}")),
        ("? in the header", format!("{hd}?.{pl}.{sig}")),
        ("# in the signature", format!("{hd}.{pl}.#{sig}")),
        ("quote", format!("\"{hd}.{pl}.{sig}\"")),
        ("semicolon", format!("{hd}.{pl};.{sig}")),
        ("equals sign", format!("{hd}.{pl}.{sig}==")),
    ];
    cases.push(("non-ASCII é", format!("{hd}.{pl}\u{e9}.{sig}")));
    for (label, token) in &cases {
        h.refuses(label, token, 403, "malformed").await;
    }
    // Obs-text bytes in the header value.
    h.refuses(
        "obs-text byte",
        [good.as_bytes(), &[0xff]].concat(),
        403,
        "malformed",
    )
    .await;
    // C7: whitespace inside the header value is an unparseable Authorization header.
    h.refuses(
        "space inside",
        format!("{hd}.{pl} .{sig}"),
        400,
        "invalid_request",
    )
    .await;
    h.refuses(
        "tab inside",
        format!("{hd}.\t{pl}.{sig}"),
        400,
        "invalid_request",
    )
    .await;
    h.refuses(
        "comma inside",
        format!("{hd},{pl}.{sig}"),
        400,
        "invalid_request",
    )
    .await;
    // From a cookie, or through the verifier, whitespace and control bytes are malformed.
    h.cookie(format!("__Host-access_token={hd}.{pl} x.{sig}"))
        .await
        .assert_refused("space inside the cookie value", 403, "malformed");
    let verifier = hs256_layer().verifier();
    for token in [
        format!("{hd}.{pl}.{sig} "),
        format!(" {hd}.{pl}.{sig}"),
        format!("{hd}.{pl}\r\n.{sig}"),
        format!("{hd}.{pl}.{sig}\0"),
        format!("{hd}.    {pl}.{sig}"),
    ] {
        let err = verifier.verify(&token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Malformed, "{token:?}");
    }
    h.still_serves(&good).await;
}

// =============================================================================================
// D. JSON parsing of the claims

#[tokio::test]
async fn d1_claims_that_are_not_utf8_are_malformed() {
    let h = harness();
    let exp = now() + 600;
    let invalid_utf8 = [
        &b"{\"sub\":\"\xff\xfe\",\"exp\":"[..],
        exp.to_string().as_bytes(),
        b"}",
    ]
    .concat();
    let overlong = [
        &b"{\"sub\":\"\xc0\xaf\",\"exp\":"[..],
        exp.to_string().as_bytes(),
        b"}",
    ]
    .concat();
    let surrogate = format!(r#"{{"sub":"\ud800","exp":{exp}}}"#);
    let utf16: Vec<u8> = format!(r#"{{"sub":"u","exp":{exp}}}"#)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for (label, payload) in [
        ("invalid UTF-8 in sub", invalid_utf8),
        ("overlong UTF-8 in sub", overlong),
        ("lone surrogate in sub", surrogate.into_bytes()),
        ("UTF-16 JSON", utf16),
    ] {
        h.refuses(
            label,
            hs256_raw(r#"{"alg":"HS256"}"#, &payload),
            403,
            "malformed",
        )
        .await;
    }
    h.still_serves(&good_token()).await;
}

/// RFC 7519 §7.2 step 10: the claims set must be valid UTF-8 JSON, wherever the bad bytes
/// are, including in a member the layer and the claims type never read (security notes D1).
#[tokio::test]
async fn d1_invalid_utf8_in_an_unread_claim_is_malformed() {
    let h = harness();
    let exp = now() + 600;
    let payload = [
        &b"{\"sub\":\"u\",\"note\":\"\xff\xfe\",\"exp\":"[..],
        exp.to_string().as_bytes(),
        b"}",
    ]
    .concat();
    h.refuses(
        "invalid UTF-8 in a custom claim",
        hs256_raw(r#"{"alg":"HS256"}"#, &payload),
        403,
        "malformed",
    )
    .await;
    h.still_serves(&good_token()).await;
}

/// RFC 7515 §5.2 step 4: the header must be valid UTF-8 JSON, also in a parameter the layer
/// ignores.
#[tokio::test]
async fn b12_invalid_utf8_in_an_unknown_header_parameter_is_malformed() {
    let h = harness();
    h.refuses(
        "invalid UTF-8 in an unknown header parameter",
        hs256_raw(
            b"{\"alg\":\"HS256\",\"x-note\":\"\xff\"}",
            good_claims().to_string(),
        ),
        403,
        "malformed",
    )
    .await;
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn d2_duplicate_claims_are_malformed_for_any_claims_type() {
    let exp = now() + 600;
    let dup_exp = format!(r#"{{"sub":"u","exp":1,"exp":{exp}}}"#);
    let dup_sub = format!(r#"{{"sub":"u","sub":"admin","exp":{exp}}}"#);
    let dup_role = format!(r#"{{"sub":"u","role":"user","role":"admin","exp":{exp}}}"#);
    let typed = harness();
    let untyped = Harness::new(
        JwtAuthLayer::<Value>::builder()
            .key(hmac_key())
            .build()
            .unwrap(),
    );
    for h in [&typed, &untyped] {
        for (label, payload) in [
            ("duplicate exp", &dup_exp),
            ("duplicate sub", &dup_sub),
            ("duplicate custom role", &dup_role),
        ] {
            h.refuses(
                label,
                hs256_raw(r#"{"alg":"HS256"}"#, payload),
                403,
                "malformed",
            )
            .await;
        }
        h.still_serves(&good_token()).await;
    }
    // A role that appears once reaches the handler.
    let seen = typed
        .accepts(
            "single role",
            hs256(&with(good_claims(), json!({"role": "user"}))),
        )
        .await;
    assert_eq!(seen["claims"]["role"], "user");
}

#[tokio::test]
async fn d3_deep_nesting_is_refused_without_overflowing_the_stack() {
    let exp = now() + 600;
    let nested = |depth: usize| {
        format!(
            r#"{{"sub":"u","exp":{exp},"deep":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    // 100 000 levels: far above the default bound on the token length.
    let h = harness();
    let token = hs256_raw(r#"{"alg":"HS256"}"#, nested(100_000));
    let reply = h.bearer(&token).await;
    reply.assert_refused("100 000 nested arrays", 403, "malformed");
    assert_eq!(reply.error.unwrap().description(), "The token is too large");
    h.still_serves(&good_token()).await;

    // 20 000 levels inside the largest accepted bound, with `Value` claims: serde_json's
    // recursion limit refuses it as malformed, without a stack overflow.
    let token = hs256_raw(r#"{"alg":"HS256"}"#, nested(20_000));
    assert!(token.len() < 64 * 1024);
    let untyped = Harness::new(
        JwtAuthLayer::<Value>::builder()
            .key(hmac_key())
            .max_token_len(64 * 1024)
            .unwrap()
            .build()
            .unwrap(),
    );
    untyped
        .refuses(
            "20 000 nested arrays, Value claims",
            &token,
            403,
            "malformed",
        )
        .await;
    untyped.still_serves(&good_token()).await;

    // With a typed claims struct the unknown member is skipped by serde_json's iterative
    // `ignore_value` (no recursion, so no stack risk) and the token passes. Only a token whose
    // signature verified gets this far: the claims are never parsed before the signature.
    let typed = Harness::new(
        builder()
            .key(hmac_key())
            .max_token_len(64 * 1024)
            .unwrap()
            .build()
            .unwrap(),
    );
    typed
        .accepts(
            "20 000 nested arrays in an unknown claim, typed claims",
            &token,
        )
        .await;
    // A forged one is refused before any claim is read.
    let forged = sign_raw(
        br#"{"alg":"HS256"}"#,
        nested(20_000).as_bytes(),
        &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
        Algorithm::HS256,
    );
    typed
        .refuses("forged deep token", &forged, 403, "invalid_signature")
        .await;
}

#[tokio::test]
async fn d4_d5_d6_claims_shape_and_numbers() {
    let h = harness();
    let exp = now() + 600;
    let cases = [
        ("claims array", "[1,2]".to_owned()),
        ("claims null", "null".to_owned()),
        ("claims number", "42".to_owned()),
        (
            "claims string (nested JWT)",
            Value::String(good_token()).to_string(),
        ),
        (
            "trailing garbage",
            format!(r#"{{"sub":"u","exp":{exp}}}xx"#),
        ),
        ("exp 1e400", r#"{"sub":"u","exp":1e400}"#.to_owned()),
        ("exp -1", r#"{"sub":"u","exp":-1}"#.to_owned()),
        ("exp NaN-ish", r#"{"sub":"u","exp":NaN}"#.to_owned()),
    ];
    for (label, payload) in cases {
        h.refuses(
            label,
            hs256_raw(r#"{"alg":"HS256"}"#, payload),
            403,
            "malformed",
        )
        .await;
    }
    // A number above u64::MAX is a huge date, refused by the lifetime bound.
    h.refuses(
        "exp 18446744073709551616",
        hs256_raw(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"u","exp":18446744073709551616}"#,
        ),
        403,
        "invalid_claims",
    )
    .await;
    // Trailing whitespace is still one JSON value.
    h.accepts(
        "trailing whitespace",
        hs256_raw(
            r#"{"alg":"HS256"}"#,
            format!("{{\"sub\":\"u\",\"exp\":{exp}}}  \n"),
        ),
    )
    .await;
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn d7_exact_match_has_no_normalisation() {
    let h = Harness::new(
        builder()
            .key(hmac_key())
            .audience("api")
            .unwrap()
            .issuer("https://issuer.example")
            .unwrap()
            .build()
            .unwrap(),
    );
    let base = with(
        good_claims(),
        json!({"aud": "api", "iss": "https://issuer.example"}),
    );
    for (label, patch) in [
        ("aud with a zero-width space", json!({"aud": "api\u{200b}"})),
        ("aud with a trailing space", json!({"aud": "api "})),
        ("aud fullwidth", json!({"aud": "\u{ff41}pi"})),
        (
            "iss with a zero-width space",
            json!({"iss": "https://issuer.example\u{200b}"}),
        ),
    ] {
        h.refuses(
            label,
            hs256(&with(base.clone(), patch)),
            403,
            "invalid_claims",
        )
        .await;
    }
    h.still_serves(&hs256(&base)).await;
}

// =============================================================================================
// E. Claims and time

#[tokio::test]
async fn e1_e2_e3_e4_exp() {
    let h = harness();
    let now = now();
    h.refuses(
        "no exp",
        hs256(&json!({"sub": "u", "iat": now})),
        403,
        "invalid_claims",
    )
    .await;
    for (label, exp) in [
        ("string", json!("9999999999")),
        ("bool", json!(true)),
        ("null", Value::Null),
        ("array", json!([now + 600])),
        ("object", json!({"v": now + 600})),
    ] {
        // `with` would drop a null member: build the claims by hand.
        let claims = json!({"sub": "u", "exp": exp});
        h.refuses(&format!("exp as {label}"), hs256(&claims), 403, "malformed")
            .await;
    }
    // E3: a fractional NumericDate.
    let float_exp = format!(r#"{{"sub":"u","exp":{}.7}}"#, now + 600);
    h.accepts("exp now+600.7", hs256_raw(r#"{"alg":"HS256"}"#, float_exp))
        .await;
    // E4: absurd expiry times, refused by the maximum lifetime.
    for (label, claims) in [
        ("exp u64::MAX", json!({"sub": "u", "exp": u64::MAX})),
        (
            "exp in milliseconds",
            json!({"sub": "u", "exp": now * 1000}),
        ),
        (
            "exp 25 h ahead",
            json!({"sub": "u", "exp": now + 25 * 3600}),
        ),
        (
            "exp - iat above 24 h",
            json!({"sub": "u", "iat": now - 2 * 3600, "exp": now + 23 * 3600}),
        ),
    ] {
        h.refuses(label, hs256(&claims), 403, "invalid_claims")
            .await;
    }
    h.still_serves(&good_token()).await;
}

fn clocked(leeway: u64) -> Harness {
    Harness::new(
        builder()
            .key(hmac_key())
            .leeway(Duration::from_secs(leeway))
            .unwrap()
            .clock(tower_jwt_auth::clock::Clock::from_fn(fixed_clock))
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn e5_exp_boundaries_with_an_injected_clock() {
    const L: u64 = 60;
    let h = clocked(L);
    let t = FIXED_NOW;
    h.accepts(
        "exp = now - L + 1",
        hs256(&json!({"sub": "u", "exp": t - L + 1})),
    )
    .await;
    // RFC 7519 §4.1.4: the current time must be before exp (+ leeway).
    let reply = h.bearer(hs256(&json!({"sub": "u", "exp": t - L}))).await;
    reply.assert_refused("exp = now - L", 401, "expired");
    assert!(reply.error.unwrap().kind().is_refreshable());
    h.refuses(
        "exp = now - L - 1",
        hs256(&json!({"sub": "u", "exp": t - L - 1})),
        401,
        "expired",
    )
    .await;
    h.refuses(
        "exp = 0",
        hs256(&json!({"sub": "u", "exp": 0})),
        401,
        "expired",
    )
    .await;
    h.still_serves(&hs256(&json!({"sub": "u", "exp": t + 600})))
        .await;

    let strict = clocked(0);
    strict
        .refuses(
            "leeway 0, exp == now",
            hs256(&json!({"sub": "u", "exp": t})),
            401,
            "expired",
        )
        .await;
    strict
        .accepts(
            "leeway 0, exp = now + 1",
            hs256(&json!({"sub": "u", "exp": t + 1})),
        )
        .await;
}

#[tokio::test]
async fn e6_e7_nbf_and_iat() {
    const L: u64 = 60;
    let h = clocked(L);
    let t = FIXED_NOW;
    let exp = t + 600;
    h.refuses(
        "nbf = now + L + 1",
        hs256(&json!({"sub": "u", "exp": exp, "nbf": t + L + 1})),
        401,
        "not_yet_valid",
    )
    .await;
    h.accepts(
        "nbf = now + L",
        hs256(&json!({"sub": "u", "exp": exp, "nbf": t + L})),
    )
    .await;
    for (label, nbf) in [
        ("nbf \"x\"", json!("x")),
        ("nbf -5", json!(-5)),
        ("nbf true", json!(true)),
    ] {
        h.refuses(
            label,
            hs256(&json!({"sub": "u", "exp": exp, "nbf": nbf})),
            403,
            "malformed",
        )
        .await;
    }
    h.refuses(
        "iat = now + L + 1",
        hs256(&json!({"sub": "u", "exp": exp, "iat": t + L + 1})),
        401,
        "not_yet_valid",
    )
    .await;
    h.accepts(
        "iat = now + L",
        hs256(&json!({"sub": "u", "exp": exp, "iat": t + L})),
    )
    .await;
    h.refuses(
        "iat \"x\"",
        hs256(&json!({"sub": "u", "exp": exp, "iat": "x"})),
        403,
        "malformed",
    )
    .await;
    h.still_serves(&hs256(&json!({"sub": "u", "exp": exp, "iat": t})))
        .await;
}

#[test]
fn e8_leeway_is_capped_at_build_time() {
    for secs in [301, 3600, u64::MAX] {
        let err = builder()
            .key(hmac_key())
            .leeway(Duration::from_secs(secs))
            .unwrap_err();
        assert_eq!(err, ConfigError::LeewayTooLarge { secs });
    }
    assert!(builder()
        .key(hmac_key())
        .leeway(Duration::from_secs(300))
        .unwrap()
        .build()
        .is_ok());
}

#[tokio::test]
async fn e9_audience() {
    let h = Harness::new(
        builder()
            .key(hmac_key())
            .audience("api")
            .unwrap()
            .build()
            .unwrap(),
    );
    let base = good_claims();
    h.accepts(
        "aud \"api\"",
        hs256(&with(base.clone(), json!({"aud": "api"}))),
    )
    .await;
    h.accepts(
        "aud [\"x\",\"api\"]",
        hs256(&with(base.clone(), json!({"aud": ["x", "api"]}))),
    )
    .await;
    for (label, aud) in [
        ("\"API\"", json!("API")),
        ("[]", json!([])),
        ("\"x\"", json!("x")),
    ] {
        h.refuses(
            &format!("aud {label}"),
            hs256(&with(base.clone(), json!({"aud": aud}))),
            403,
            "invalid_claims",
        )
        .await;
    }
    h.refuses("aud missing", hs256(&base), 403, "invalid_claims")
        .await;
    for (label, aud) in [
        ("5", json!(5)),
        ("[\"api\",5]", json!(["api", 5])),
        ("{}", json!({})),
        ("[[\"api\"]]", json!([["api"]])),
    ] {
        h.refuses(
            &format!("aud {label}"),
            hs256(&with(base.clone(), json!({"aud": aud}))),
            403,
            "malformed",
        )
        .await;
    }
    h.still_serves(&hs256(&with(base, json!({"aud": "api"}))))
        .await;
}

/// RFC 7519 §4.1.3: a recipient that does not identify itself with a value in a present `aud`
/// MUST reject the token; a layer configured without an audience identifies with none
/// (security notes §2 E9).
#[tokio::test]
async fn e9_audience_present_but_none_configured_is_refused() {
    let h = harness();
    h.refuses(
        "aud present, no audience configured",
        hs256(&with(good_claims(), json!({"aud": "some-other-api"}))),
        403,
        "invalid_claims",
    )
    .await;
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn e10_issuer() {
    let iss = "https://issuer.example";
    let h = Harness::new(
        builder()
            .key(hmac_key())
            .issuer(iss)
            .unwrap()
            .build()
            .unwrap(),
    );
    let base = good_claims();
    for (label, value) in [
        ("mismatch", json!("https://evil.example")),
        ("trailing slash", json!("https://issuer.example/")),
        ("different case", json!("https://ISSUER.example")),
    ] {
        h.refuses(
            label,
            hs256(&with(base.clone(), json!({"iss": value}))),
            403,
            "invalid_claims",
        )
        .await;
    }
    h.refuses("iss missing", hs256(&base), 403, "invalid_claims")
        .await;
    for (label, value) in [
        ("number", json!(5)),
        ("array [evil, good]", json!(["https://evil.example", iss])),
        ("array [good]", json!([iss])),
    ] {
        h.refuses(
            label,
            hs256(&with(base.clone(), json!({"iss": value}))),
            403,
            "malformed",
        )
        .await;
    }
    h.still_serves(&hs256(&with(base, json!({"iss": iss}))))
        .await;
}

#[tokio::test]
async fn e11_subject() {
    let h = harness();
    let base = good_claims();
    h.refuses(
        "sub number",
        hs256(&with(base.clone(), json!({"sub": 7}))),
        403,
        "malformed",
    )
    .await;
    h.refuses(
        "sub array",
        hs256(&with(base.clone(), json!({"sub": ["u"]}))),
        403,
        "malformed",
    )
    .await;
    h.refuses(
        "sub \"\"",
        hs256(&with(base.clone(), json!({"sub": ""}))),
        403,
        "invalid_claims",
    )
    .await;
    // The typed claims require `sub`: missing, it does not fit the user's type.
    let reply = h.bearer(hs256(&with(base, json!({"sub": null})))).await;
    reply.assert_refused("sub missing", 403, "malformed");
    assert_eq!(
        reply.error.unwrap().description(),
        "The token's claims do not have the expected types"
    );
    h.still_serves(&good_token()).await;
}

#[tokio::test]
async fn j4_a_forged_expired_token_is_forged_not_expired() {
    let h = harness();
    let expired = with(
        good_claims(),
        json!({"exp": now() - 3600, "iat": now() - 7200}),
    );
    let forged = mint(
        &Header::new(Algorithm::HS256),
        &expired,
        &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
    );
    h.refuses("forged, past exp", &forged, 403, "invalid_signature")
        .await;
    // The control: the same claims under the trusted key are merely expired.
    h.refuses("genuine, past exp", hs256(&expired), 401, "expired")
        .await;
    // And a forged token with a broken exp type is forged too.
    let forged_bad_exp = mint(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "u", "exp": "soon"}),
        &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
    );
    h.refuses(
        "forged, exp string",
        &forged_bad_exp,
        403,
        "invalid_signature",
    )
    .await;
    h.still_serves(&good_token()).await;
}

// =============================================================================================
// F. Transport and extraction

/// A valid token of exactly the largest length <= `max` that padding can reach.
fn token_of_len_at_most(max: usize) -> String {
    let base = hs256(&with(good_claims(), json!({"pad": ""}))).len();
    let start = ((max - base) * 3 / 4).saturating_sub(8);
    let mut best = String::new();
    for pad in start..max {
        let token = hs256(&with(good_claims(), json!({"pad": "p".repeat(pad)})));
        if token.len() > max {
            break;
        }
        best = token;
    }
    best
}

#[tokio::test]
async fn f9_i1_oversized_tokens_are_refused_before_decoding() {
    let h = harness();
    let at_bound = token_of_len_at_most(8 * 1024);
    assert!(at_bound.len() >= 8 * 1024 - 1);
    h.accepts("token at the 8 KiB bound", &at_bound).await;
    let over = hs256(&with(good_claims(), json!({"pad": "p".repeat(8 * 1024)})));
    for (label, token) in [
        ("valid signature, over 8 KiB", over),
        ("8 KiB + 1", "a".repeat(8 * 1024 + 1)),
        ("8 KiB + 1 of dots", ".".repeat(8 * 1024 + 1)),
        ("64 KiB", "a.b.c".repeat(64 * 1024 / 5 + 1)),
        ("1 MiB", "A".repeat(1024 * 1024)),
    ] {
        let reply = h.bearer(&token).await;
        reply.assert_refused(label, 403, "malformed");
        assert_eq!(
            reply.error.unwrap().description(),
            "The token is too large",
            "{label}"
        );
    }
    h.still_serves(&good_token()).await;

    // The bound is configurable, from 1 byte to 64 KiB.
    let small = Harness::new(
        builder()
            .key(hmac_key())
            .max_token_len(100)
            .unwrap()
            .build()
            .unwrap(),
    );
    small
        .refuses(
            "good token over a 100-byte bound",
            good_token(),
            403,
            "malformed",
        )
        .await;
    let large = Harness::new(
        builder()
            .key(hmac_key())
            .max_token_len(64 * 1024)
            .unwrap()
            .build()
            .unwrap(),
    );
    large
        .accepts(
            "10 KiB token under a 64 KiB bound",
            token_of_len_at_most(10 * 1024),
        )
        .await;
    for len in [0, 64 * 1024 + 1] {
        assert_eq!(
            builder().key(hmac_key()).max_token_len(len).unwrap_err(),
            ConfigError::InvalidMaxTokenLength { len }
        );
    }
}

#[tokio::test]
async fn f8_query_tokens_need_an_explicit_opt_in() {
    let h = harness();
    let uri = format!("/?access_token={}", good_token());
    let req = Request::get(&uri).body(Body::default()).unwrap();
    h.send(req)
        .await
        .assert_refused("?access_token= by default", 401, "missing");
    let opted_in = Harness::new(
        builder()
            .key(hmac_key())
            .token_sources([TokenSource::query("access_token")])
            .unwrap()
            .build()
            .unwrap(),
    );
    let req = Request::get(&uri).body(Body::default()).unwrap();
    opted_in
        .send(req)
        .await
        .assert_ok("?access_token= opted in");
}

#[tokio::test]
async fn f10_f13_identity_comes_only_from_the_token() {
    let h = harness();
    let spoofed: [(&str, &[u8]); 3] = [
        ("x-user", b"admin"),
        ("x-forwarded-user", b"admin"),
        ("x-auth-subject", b"admin"),
    ];
    h.send(get_with(&spoofed)).await.assert_refused(
        "spoofed identity headers, no token",
        401,
        "missing",
    );
    let token = hs256(&with(good_claims(), json!({"scope": "read write"})));
    let value = format!("Bearer {token}");
    let mut headers = spoofed.to_vec();
    headers.push(("authorization", value.as_bytes()));
    let seen = h
        .send(get_with(&headers))
        .await
        .assert_ok("token and spoofed headers");
    // F13: exactly the claims and the scopes were added to the extensions (a token that
    // grants no role adds no `Roles`).
    assert_eq!(seen["claims"], json!({"sub": "user-1"}));
    assert_eq!(seen["scopes"], "read write");
    assert_eq!(seen["extensions"], 2);
}

#[tokio::test]
async fn f12_a_cors_preflight_needs_a_token_unless_passed_and_then_only_a_bare_one() {
    let h = harness();
    let preflight = || {
        Request::options("/")
            .header("origin", "https://app.example")
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
    };
    // By default a preflight is a request like any other: no token, no entry.
    h.send(preflight().body(Body::default()).unwrap())
        .await
        .assert_refused("CORS preflight, default", 401, "missing");
    let bare = Request::options("/").body(Body::default()).unwrap();
    h.send(bare).await.assert_refused(
        "OPTIONS without Access-Control-Request-Method",
        401,
        "missing",
    );
    let mut with_token = get_with(&[(
        "authorization",
        format!("Bearer {}", good_token()).as_bytes(),
    )]);
    *with_token.method_mut() = Method::OPTIONS;
    h.send(with_token).await.assert_ok("OPTIONS with a token");

    // Opted in: a bare preflight passes, without claims.
    let passing = Harness::new(
        builder()
            .key(hmac_key())
            .pass_cors_preflight(true)
            .build()
            .unwrap(),
    );
    let seen = passing
        .send(preflight().body(Body::default()).unwrap())
        .await
        .assert_ok("CORS preflight, passed");
    assert_eq!(seen["claims"], Value::Null);
    assert_eq!(seen["extensions"], 0);
    // ... but never a gRPC call, nor a request with a body, dressed as one.
    let grpc_frame = Bytes::from_static(&[0, 0, 0, 0, 0]);
    let hostile = [
        (
            "gRPC content type",
            preflight()
                .header("content-type", "application/grpc")
                .body(Body::default())
                .unwrap(),
        ),
        (
            "gRPC-web content type",
            preflight()
                .header("content-type", "application/grpc-web+proto")
                .body(Body::default())
                .unwrap(),
        ),
        (
            "a body",
            preflight().body(Body::new(grpc_frame.clone())).unwrap(),
        ),
        (
            "a Content-Length",
            preflight()
                .header("content-length", "5")
                .body(Body::default())
                .unwrap(),
        ),
        (
            "a Transfer-Encoding",
            preflight()
                .header("transfer-encoding", "chunked")
                .body(Body::default())
                .unwrap(),
        ),
    ];
    for (name, req) in hostile {
        let grpc = req
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let reply = passing.send(req).await;
        if grpc {
            // The gRPC-style refusal: HTTP 200 with grpc-status 16; the handler never ran.
            assert!(!reply.called, "{name}: the handler ran");
            assert_eq!(reply.headers["grpc-status"], "16", "{name}");
            assert_eq!(reply.error.as_ref().map(AuthError::reason), Some("missing"));
        } else {
            reply.assert_refused(name, 401, "missing");
        }
    }
    // Nor past a scope requirement.
    let scoped = Harness::new(
        builder()
            .key(hmac_key())
            .pass_cors_preflight(true)
            .build()
            .unwrap()
            .require_scopes(["admin"])
            .unwrap(),
    );
    scoped
        .send(preflight().body(Body::default()).unwrap())
        .await
        .assert_refused("CORS preflight past a scope", 401, "missing");
    h.still_serves(&good_token()).await;
    passing.still_serves(&good_token()).await;
}

#[tokio::test]
async fn f6_f7_authorization_header_ambiguity() {
    let h = harness();
    let good = good_token();
    let bearer = format!("Bearer {good}");
    h.send(get_with(&[
        ("authorization", bearer.as_bytes()),
        ("authorization", bearer.as_bytes()),
    ]))
    .await
    .assert_refused("two Authorization headers", 400, "invalid_request");
    h.send(get_with(&[(
        "authorization",
        format!("Bearer {good}, Bearer {good}").as_bytes(),
    )]))
    .await
    .assert_refused("comma-joined credentials", 400, "invalid_request");
    // An invalid header token is not rescued by a valid cookie.
    let forged = mint(
        &Header::new(Algorithm::HS256),
        &good_claims(),
        &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
    );
    let cookie = format!("__Host-access_token={good}");
    h.send(get_with(&[
        ("authorization", format!("Bearer {forged}").as_bytes()),
        ("cookie", cookie.as_bytes()),
    ]))
    .await
    .assert_refused("forged header, valid cookie", 403, "invalid_signature");
    // Another scheme is no bearer token: the cookie is used.
    h.send(get_with(&[
        ("authorization", b"Basic dXNlcjpwYXNz"),
        ("cookie", cookie.as_bytes()),
    ]))
    .await
    .assert_ok("Basic header, valid cookie");
    h.send(get_with(&[(AUTHORIZATION.as_str(), b"Basic dXNlcjpwYXNz")]))
        .await
        .assert_refused("Basic only", 401, "missing");
    h.still_serves(&good).await;
}

// =============================================================================================
// G. Cookies

#[tokio::test]
async fn g_cookie_ambiguity_and_lookalikes() {
    let h = harness();
    let good = good_token();
    for (label, value) in [
        (
            "duplicate cookie",
            format!("__Host-access_token={good}; __Host-access_token={good}"),
        ),
        (
            "U+2000 look-alike first",
            format!("\u{2000}__Host-access_token=EVIL; __Host-access_token={good}"),
        ),
        (
            "U+2000 look-alike last",
            format!("__Host-access_token={good}; \u{2000}__Host-access_token=EVIL"),
        ),
        (
            "U+3000 look-alike",
            format!("\u{3000}__Host-access_token=EVIL; __Host-access_token={good}"),
        ),
    ] {
        h.cookie(&value)
            .await
            .assert_refused(label, 400, "invalid_request");
    }
    // HTTP/2 may split cookies over several fields: all are read.
    let c1 = format!("__Host-access_token={good}");
    h.send(get_with(&[
        ("cookie", b"theme=dark"),
        ("cookie", c1.as_bytes()),
    ]))
    .await
    .assert_ok("auth cookie in the second Cookie field");
    h.send(get_with(&[
        ("cookie", c1.as_bytes()),
        ("cookie", c1.as_bytes()),
    ]))
    .await
    .assert_refused("auth cookie in two Cookie fields", 400, "invalid_request");
    // An empty name is not the auth cookie.
    h.cookie("=__Host-access_token=x").await.assert_refused(
        "=__Host-access_token=x",
        401,
        "missing",
    );
    h.cookie(format!(
        "=__Host-access_token=EVIL; __Host-access_token={good}"
    ))
    .await
    .assert_ok("empty-name cookie next to the real one");
    // Exact names only; a quoted value is unquoted.
    h.cookie(format!(
        "__Host-Access_Token={good}; x__Host-access_token={good}"
    ))
    .await
    .assert_refused("look-alike names", 401, "missing");
    h.cookie(format!("a=1; __Host-access_token=\"{good}\"; b=2"))
        .await
        .assert_ok("quoted cookie value among others");
    h.cookie("__Host-access_token=not.a.jwt")
        .await
        .assert_refused("bad cookie token", 403, "malformed");
    h.still_serves(&good).await;
}

// =============================================================================================
// Policies and the rejection hook

#[tokio::test]
async fn strict_preset_turns_403_into_401_with_the_same_reasons() {
    let strict = Harness::new(
        builder()
            .key(hmac_key().with_kid("k1"))
            .status_policy(StatusPolicy::Rfc6750)
            .build()
            .unwrap(),
    );
    let default = Harness::new(builder().key(hmac_key().with_kid("k1")).build().unwrap());
    let claims = good_claims();
    let good = mint(
        &header_with_kid(Algorithm::HS256, "k1"),
        &claims,
        &encoding_key(Algorithm::HS256),
    );
    let cases = [
        ("malformed", "a.b".to_owned()),
        (
            "invalid_signature",
            mint(
                &header_with_kid(Algorithm::HS256, "k1"),
                &claims,
                &EncodingKey::from_secret(OTHER_SECRET).unwrap(),
            ),
        ),
        (
            "algorithm_not_allowed",
            format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(claims.to_string())),
        ),
        (
            "unknown_key",
            mint(
                &header_with_kid(Algorithm::HS256, "k9"),
                &claims,
                &encoding_key(Algorithm::HS256),
            ),
        ),
        ("invalid_claims", hs256(&json!({"sub": "u"}))),
    ];
    for (reason, token) in &cases {
        default
            .refuses(&format!("default {reason}"), token, 403, reason)
            .await;
        strict
            .refuses(&format!("strict {reason}"), token, 401, reason)
            .await;
    }
    let expired = hs256(&with(
        claims.clone(),
        json!({"exp": now() - 3600, "iat": now() - 7200}),
    ));
    strict
        .refuses("strict expired", &expired, 401, "expired")
        .await;
    strict
        .refuses("strict empty bearer", "", 400, "invalid_request")
        .await;
    strict
        .send(get_with(&[]))
        .await
        .assert_refused("strict missing", 401, "missing");
    strict.still_serves(&good).await;
}

#[tokio::test]
async fn custom_rejection_is_called_only_on_failures() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen_paths = Arc::new(Mutex::new(Vec::<String>::new()));
    let (counter, paths) = (calls.clone(), seen_paths.clone());
    let layer = builder()
        .key(hmac_key())
        .rejection(move |error: &AuthError, request: &Parts| {
            counter.fetch_add(1, Ordering::SeqCst);
            paths.lock().unwrap().push(request.uri.path().to_owned());
            Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .header("x-reason", error.reason())
                .body(Bytes::from(format!("custom: {}", error.reason())))
                .unwrap()
        })
        .build()
        .unwrap();
    let h = Harness::new(layer);

    let reply = h.bearer("a.b").await;
    assert_eq!(reply.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(&reply.body[..], b"custom: malformed");
    assert_eq!(reply.headers["x-reason"], "malformed");
    assert_eq!(
        reply.error.as_ref().map(AuthError::kind),
        Some(ErrorKind::Malformed)
    );
    assert!(!reply.called);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let req = Request::get("/private/area").body(Body::default()).unwrap();
    let reply = h.send(req).await;
    assert_eq!(
        reply.error.as_ref().map(AuthError::kind),
        Some(ErrorKind::Missing)
    );
    assert!(!reply.called);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(*seen_paths.lock().unwrap(), ["/", "/private/area"]);

    h.accepts("valid token, custom rejection", good_token())
        .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the rejection ran on a success"
    );
}

// =============================================================================================
// Each algorithm family end to end

#[tokio::test]
async fn every_algorithm_family_verifies_and_refuses_other_keys() {
    let hs = |alg: Algorithm| Key::hmac(alg, SECRET).unwrap();
    let rsa = |alg: Algorithm| Key::rsa_pem(alg, key_file("rsa_public.pem")).unwrap();
    let rsa2 = || EncodingKey::from_rsa_pem(&key_file("rsa2_private.pem")).unwrap();
    let families: Vec<(Algorithm, Key, EncodingKey, EncodingKey)> = vec![
        (
            Algorithm::HS256,
            hs(Algorithm::HS256),
            encoding_key(Algorithm::HS256),
            EncodingKey::from_secret(OTHER_SECRET).unwrap(),
        ),
        (
            Algorithm::HS384,
            hs(Algorithm::HS384),
            encoding_key(Algorithm::HS384),
            EncodingKey::from_secret(OTHER_SECRET).unwrap(),
        ),
        (
            Algorithm::HS512,
            hs(Algorithm::HS512),
            encoding_key(Algorithm::HS512),
            EncodingKey::from_secret(OTHER_SECRET).unwrap(),
        ),
        (
            Algorithm::RS256,
            rsa(Algorithm::RS256),
            encoding_key(Algorithm::RS256),
            rsa2(),
        ),
        (
            Algorithm::PS256,
            rsa(Algorithm::PS256),
            encoding_key(Algorithm::PS256),
            rsa2(),
        ),
        (
            Algorithm::ES256,
            Key::ec_pem(Algorithm::ES256, key_file("ec256_public.pem")).unwrap(),
            encoding_key(Algorithm::ES256),
            generated_ec(Algorithm::ES256).0,
        ),
        (
            Algorithm::ES384,
            Key::ec_pem(Algorithm::ES384, key_file("ec384_public.pem")).unwrap(),
            encoding_key(Algorithm::ES384),
            generated_ec(Algorithm::ES384).0,
        ),
        (
            Algorithm::EdDSA,
            Key::ed_pem(key_file("ed25519_public.pem")).unwrap(),
            encoding_key(Algorithm::EdDSA),
            generated_ed(),
        ),
    ];
    for (alg, key, signing, other) in families {
        init();
        let h = Harness::new(JwtAuthLayer::<Claims>::builder().key(key).build().unwrap());
        let claims = with(good_claims(), json!({"sub": format!("user-{alg:?}")}));
        let good = mint(&Header::new(alg), &claims, &signing);
        let seen = h.accepts(&format!("{alg:?} valid"), &good).await;
        assert_eq!(seen["claims"]["sub"], format!("user-{alg:?}"));
        let forged = mint(&Header::new(alg), &claims, &other);
        h.refuses(
            &format!("{alg:?} other key"),
            &forged,
            403,
            "invalid_signature",
        )
        .await;
        let (hd, pl, sig) = segments(&good);
        h.refuses(
            &format!("{alg:?} h.p."),
            format!("{hd}.{pl}."),
            403,
            "invalid_signature",
        )
        .await;
        h.refuses(
            &format!("{alg:?} h.p"),
            format!("{hd}.{pl}"),
            403,
            "malformed",
        )
        .await;
        let tampered = b64(with(claims.clone(), json!({"sub": "admin"})).to_string());
        h.refuses(
            &format!("{alg:?} tampered"),
            format!("{hd}.{tampered}.{sig}"),
            403,
            "invalid_signature",
        )
        .await;
        h.still_serves(&good).await;
    }
}

// =============================================================================================
// I5. No input makes the server fail

/// Random bytes and mutated tokens in `Authorization` and `Cookie`, through the layer and the
/// verifier: every answer is 200 or 400/401/403, consistent with its `AuthError`, and nothing
/// panics. Deterministic (fixed seed), no new dependency.
#[tokio::test]
async fn i5_random_and_mutated_inputs_never_fail_the_server() {
    const ITERATIONS: usize = 20_000;
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_..........=+/ %\",;\t";
    let h = harness();
    let verifier = hs256_layer().verifier();
    let rejection = DefaultRejection::new();
    let now = now();
    let seeds: Vec<Vec<u8>> = vec![
        good_token().into_bytes(),
        hs256(&json!({"sub": "u", "exp": now - 3600})).into_bytes(),
        hs256(&json!({"sub": "u", "exp": now + 600, "nbf": now + 3600})).into_bytes(),
        hs256(&json!({"sub": "u", "exp": now + 600, "aud": ["a", "b"], "scope": "a b"}))
            .into_bytes(),
        format!(
            "{}.{}.",
            b64(r#"{"alg":"none"}"#),
            b64(good_claims().to_string())
        )
        .into_bytes(),
        mint(
            &Header::new(Algorithm::RS256),
            &good_claims(),
            &encoding_key(Algorithm::RS256),
        )
        .into_bytes(),
        with_header(r#"{"alg":"HS256","crit":["x"],"kid":"k"}"#, &good_claims()).into_bytes(),
    ];
    let mut rng = XorShift::new(0x5eed_1234_abcd_ef01);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();

    for i in 0..ITERATIONS {
        let input: Vec<u8> = match rng.below(4) {
            0 => {
                let len = rng.below(300);
                rng.bytes(len)
            }
            1 => {
                let len = rng.below(300);
                (0..len)
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect()
            }
            _ => {
                let mut token = seeds[rng.below(seeds.len())].clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(token.len() + 1);
                    match rng.below(7) {
                        0 if at < token.len() => token[at] ^= 1u8 << rng.below(8),
                        1 if at < token.len() => token[at] = ALPHABET[rng.below(ALPHABET.len())],
                        2 => {
                            let end = (at + rng.below(20)).min(token.len());
                            token.drain(at..end);
                        }
                        3 => {
                            let len = rng.below(8);
                            let extra = rng.bytes(len);
                            token.splice(at..at, extra);
                        }
                        4 => token.truncate(at),
                        5 => {
                            let other = &seeds[rng.below(seeds.len())];
                            let from = rng.below(other.len());
                            token.extend_from_slice(&other[from..]);
                        }
                        _ => token.insert(at, b'.'),
                    }
                }
                token
            }
        };

        // The verifier takes any string.
        let _ = verifier.verify(&String::from_utf8_lossy(&input));

        // Header values cannot hold control bytes other than tab.
        let clean: Vec<u8> = input
            .iter()
            .map(|b| {
                if (*b < 0x20 && *b != b'\t') || *b == 0x7f {
                    b'.'
                } else {
                    *b
                }
            })
            .collect();
        let bearer = [&b"Bearer "[..], &clean].concat();
        let cookie = [&b"theme=dark; __Host-access_token="[..], &clean].concat();
        let headers: Vec<(&str, &[u8])> = match rng.below(6) {
            0 => vec![("authorization", clean.as_slice())],
            1 | 2 => vec![("authorization", bearer.as_slice())],
            3 => vec![("cookie", cookie.as_slice())],
            4 => vec![("cookie", clean.as_slice())],
            _ => vec![
                ("authorization", bearer.as_slice()),
                ("cookie", cookie.as_slice()),
            ],
        };
        let reply = h.send(get_with(&headers)).await;
        *statuses.entry(reply.status.as_u16()).or_default() += 1;
        match reply.status.as_u16() {
            200 => {
                assert!(reply.called, "iteration {i}: 200 without the handler");
                assert!(reply.error.is_none(), "iteration {i}");
            }
            400 | 401 | 403 => {
                assert!(!reply.called, "iteration {i}: refused but the handler ran");
                let error = reply
                    .error
                    .as_ref()
                    .unwrap_or_else(|| panic!("iteration {i}: no AuthError"));
                assert_eq!(
                    reply.reason().as_deref(),
                    Some(error.reason()),
                    "iteration {i}"
                );
                assert_eq!(reply.status, rejection.status(error), "iteration {i}");
            }
            other => panic!(
                "iteration {i}: status {other} for {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
    }
    println!("i5: {ITERATIONS} requests, statuses {statuses:?}");
    assert!(statuses.get(&403).copied().unwrap_or(0) > 0);
    assert!(statuses.get(&400).copied().unwrap_or(0) > 0);
    h.still_serves(&good_token()).await;
}
