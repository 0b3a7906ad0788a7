//! `jws`: the JWS header and claims parse, through the layer's verification.
//!
//! Input: one mode byte, then
//! - mode 0: a token as it is, sent as `Authorization: Bearer <token>`;
//! - mode 1: the claims' bytes, signed under the header `{"alg":"HS256","typ":"JWT"}`;
//! - mode 2: the header's bytes, a newline, the claims' bytes, signed as they are.
//!
//! Invariant: no answer is a server error, and a token the layer accepts is signed with the
//! layer's secret under a header that serde_json reads as `alg: HS256`, its claims are what
//! serde_json reads from the payload (the very `Value` the handler gets), and they hold an
//! `exp` that has not passed (within the leeway) and no `nbf` still to come.
#![allow(dead_code)]

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use serde_json::Value;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, DEFAULT_LEEWAY};

use crate::common::{self, NOW};

fn layer() -> JwtAuthLayer<Value> {
    JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(Algorithm::HS256, common::SECRET).expect("an HS256 key"))
        .clock(common::clock())
        .build()
        .expect("the jws layer")
}

/// Checks the invariant for one input; `true` when the layer accepted the token.
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    let token = match mode % 3 {
        0 => rest.to_vec(),
        1 => common::hs256_raw(br#"{"alg":"HS256","typ":"JWT"}"#, rest).into_bytes(),
        _ => {
            let (header, payload) = match rest.iter().position(|b| *b == b'\n') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b"{}"[..]),
            };
            common::hs256_raw(header, payload).into_bytes()
        }
    };
    let mut value = b"Bearer ".to_vec();
    value.extend_from_slice(&token);
    let Ok(value) = HeaderValue::from_bytes(&value) else {
        return false;
    };
    thread_local! {
        static SERVICE: crate::common::Service = common::service(layer());
    }
    let mut request = Request::new(Default::default());
    request.headers_mut().insert(AUTHORIZATION, value);
    let reply = SERVICE.with(|service| common::send(service, request));
    let Some(seen) = reply.seen else {
        return false;
    };
    assert!(
        common::signed_by_secret(&token),
        "accepted a token not signed with the layer's secret"
    );
    let (header, payload) = common::decoded_parts(&token).expect("an accepted token decodes");
    let header: Value = serde_json::from_slice(&header).expect("an accepted header is JSON");
    assert_eq!(
        header["alg"], "HS256",
        "accepted a header whose alg is not HS256"
    );
    let claims: Value = serde_json::from_slice(&payload).expect("accepted claims are JSON");
    assert_eq!(
        seen.claims.as_ref(),
        Some(&claims),
        "the handler's claims differ from serde_json's reading of the payload"
    );
    let leeway = DEFAULT_LEEWAY.as_secs() as f64;
    let exp = claims["exp"]
        .as_f64()
        .expect("accepted claims hold a numeric exp");
    assert!(
        exp + leeway >= NOW as f64,
        "accepted an expired token: exp {exp}"
    );
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_f64().expect("an accepted nbf is a number");
        assert!(
            nbf <= NOW as f64 + leeway,
            "accepted a token before its nbf {nbf}"
        );
    }
    true
}
