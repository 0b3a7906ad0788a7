//! `request_head`: every token source (bearer, cookie, header, query) with the cookie parser.
//!
//! Input: a request head (see `common::request_head`): the target, then `name: value` lines;
//! `@T` stands for a valid token.
//!
//! Invariants: no answer is a server error; the crate's cookie parser agrees with a reference
//! reading of RFC 6265 §5.2 under the crate's documented strictness (every `Cookie` field read,
//! a repeated or look-alike name refused, one pair of quotes removed, an empty value absent);
//! a request whose head is refused (a duplicated header or cookie) or has no token never
//! reaches the handler; and a request that reaches it carries exactly the valid token, found in
//! the first source present, with its claims.
#![allow(dead_code)]

use http::header::HeaderName;
use http::Method;
use serde_json::Value;
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, TokenSource};

use crate::common;

/// The cookie the layer reads.
pub const COOKIE_NAME: &str = "at";

pub fn sources() -> Vec<TokenSource> {
    vec![
        TokenSource::bearer(),
        TokenSource::cookie(COOKIE_NAME),
        TokenSource::header(HeaderName::from_static("x-token")),
        TokenSource::query("access_token"),
    ]
}

fn layer() -> JwtAuthLayer<Value> {
    JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(Algorithm::HS256, common::SECRET).expect("an HS256 key"))
        .clock(common::clock())
        .token_sources(sources())
        .expect("valid sources")
        .build()
        .expect("the request_head layer")
}

/// Checks the invariants for one input; `true` when the request reached the handler.
pub fn check(data: &[u8]) -> bool {
    thread_local! {
        static SERVICE: common::Service = common::service(layer());
    }
    let request = common::request_head(Method::GET, data, &[]);
    let crate_cookie = tower_jwt_auth::fuzzing::cookie_value(request.headers(), COOKIE_NAME);
    let reference = common::reference_cookie(request.headers(), COOKIE_NAME);
    match (&crate_cookie, &reference) {
        (Ok(found), Ok(expected)) => assert_eq!(found, expected, "the cookie parser differs"),
        (Err(_), Err(())) => {}
        _ => panic!("the cookie parser differs: {crate_cookie:?} against {reference:?}"),
    }
    let found = tower_jwt_auth::fuzzing::find_token(&sources(), request.headers(), request.uri());
    let reply = SERVICE.with(|service| common::send(service, request));
    let reached = reply.seen.is_some();
    match found {
        Err(_) => {
            assert!(
                reply.seen.is_none(),
                "a refused request head reached the handler"
            );
            assert_eq!(reply.status, 400, "a refused request head is a 400");
        }
        Ok(None) => assert!(reply.seen.is_none(), "no token, yet the handler ran"),
        Ok(Some((token, _))) => {
            if let Some(seen) = reply.seen {
                assert_eq!(
                    token,
                    common::valid_token().as_bytes(),
                    "the handler ran for a token that is not the valid one"
                );
                assert_eq!(seen.claims, Some(common::valid_claims()));
            }
        }
    }
    reached
}
