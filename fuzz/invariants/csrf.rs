//! `csrf`: a layer that reads the token from a bearer header or a cookie, with the CSRF guard
//! (Fetch Metadata and `Origin`, and the signed double-submit cookie).
//!
//! Input: one byte that picks the method, then a request head (see `common::request_head`):
//! `@T` stands for a valid token (session `common::SID`), `@C` for a valid CSRF token of that
//! session.
//!
//! Invariants: no answer is a server error; an unsafe request whose token came from a cookie
//! reaches the handler only when no `Sec-Fetch-Site` says `cross-site` (any case), when
//! `Sec-Fetch-Site`, if sent, is `same-origin`, `none` or `same-site`, and when one
//! `x-csrf-token` header equals the CSRF cookie (as the reference cookie parser reads it) and
//! is a valid CSRF token for the token's session.
#![allow(dead_code)]

use http::Method;
use serde_json::Value;
use tower_jwt_auth::csrf::{CsrfGuard, CsrfKey};
use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, TokenSource, TokenSourceKind};

use crate::common;

pub const COOKIE_NAME: &str = "at";
pub const CSRF_COOKIE: &str = "csrf";

fn key() -> CsrfKey {
    CsrfKey::derive(common::SECRET).expect("a CSRF key")
}

fn sources() -> [TokenSource; 2] {
    [TokenSource::bearer(), TokenSource::cookie(COOKIE_NAME)]
}

fn layer() -> JwtAuthLayer<Value> {
    JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(Algorithm::HS256, common::SECRET).expect("an HS256 key"))
        .clock(common::clock())
        .token_sources(sources())
        .expect("valid sources")
        .csrf(
            CsrfGuard::new()
                .trusted_origin("https://app.example")
                .expect("an origin")
                .double_submit(key(), CSRF_COOKIE),
        )
        .build()
        .expect("the csrf layer")
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Checks the invariants for one input; `true` when an unsafe cookie request reached the handler.
pub fn check(data: &[u8]) -> bool {
    let Some((&pick, rest)) = data.split_first() else {
        return false;
    };
    thread_local! {
        static SERVICE: common::Service = common::service(layer());
        static CSRF_TOKEN: String = key().token(common::SID).expect("a CSRF token");
    }
    let method = common::METHODS[usize::from(pick) % common::METHODS.len()].clone();
    let csrf = CSRF_TOKEN.with(Clone::clone);
    let request = common::request_head(method.clone(), rest, &[("@C", &csrf)]);
    let found = tower_jwt_auth::fuzzing::find_token(&sources(), request.headers(), request.uri());
    let headers = request.headers().clone();
    let reply = SERVICE.with(|service| common::send(service, request));
    if reply.seen.is_none() || !is_unsafe(&method) {
        return false;
    }
    let Ok(Some((_, TokenSourceKind::Cookie))) = found else {
        return false;
    };
    let fetch_site: Vec<&[u8]> = headers
        .get_all("sec-fetch-site")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    assert!(
        !fetch_site
            .iter()
            .any(|v| v.eq_ignore_ascii_case(b"cross-site")),
        "a cross-site unsafe cookie request reached the handler"
    );
    assert!(fetch_site.len() <= 1, "a repeated Sec-Fetch-Site passed");
    if let Some(site) = fetch_site.first() {
        assert!(
            matches!(*site, b"same-origin" | b"none" | b"same-site"),
            "Sec-Fetch-Site {:?} passed",
            String::from_utf8_lossy(site)
        );
    }
    let header: Vec<&[u8]> = headers
        .get_all("x-csrf-token")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    assert_eq!(
        header.len(),
        1,
        "an unsafe cookie request passed without one x-csrf-token"
    );
    let cookie = common::reference_cookie(&headers, CSRF_COOKIE);
    assert_eq!(
        cookie,
        Ok(Some(header[0].to_vec())),
        "the x-csrf-token header differs from the CSRF cookie"
    );
    let token = std::str::from_utf8(header[0]).expect("a valid CSRF token is text");
    assert!(
        key().verify(common::SID, token),
        "a CSRF token without a valid MAC passed"
    );
    true
}
