//! `session`: refresh tokens and the session endpoints' bodies and cookies.
//!
//! Input: one mode byte, then text in which `@R` stands for the session's real refresh token
//! (a fresh session each run):
//! - mode 0: the JSON body of `POST /auth/refresh` (endpoints without cookies);
//! - mode 1: the JSON body of `POST /auth/logout` (the same endpoints);
//! - mode 2: a refresh token given to `Sessions::refresh`;
//! - mode 3: a request head (see `common::request_head`) sent with an empty body to endpoints
//!   that serve cookies, with a double-submit CSRF guard; there `@K` stands for the refresh
//!   cookie's name, `@X` for the CSRF cookie's name and `@C` for a valid CSRF token.
//!
//! Invariants: no answer is a server error; a refresh succeeds only for the real
//! refresh token, as serde_json reads it from the body (or as the reference cookie parser reads
//! the refresh cookie); a cookie request judged `cross-site` never succeeds; and whatever was
//! presented, a forged token changes nothing: the real token still rotates afterwards.
#![allow(dead_code)]

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request};
use http_body_util::Full;
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::csrf::{CsrfGuard, CsrfKey};
use tower_jwt_auth::session::{CookieSettings, Grant, RefreshTokenKey, Sessions};
use tower_jwt_auth::{Algorithm, SigningKey};

use crate::common;

const REFRESH_SECRET: &[u8] = b"fuzz-invariants-refresh-token-key-0123456789";

fn sessions(cookies: bool) -> Sessions {
    let mut builder = Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, common::SECRET).expect("an HS256 key"))
        .and_then(|builder| builder.issuer("https://issuer.example"))
        .expect("the sessions' settings")
        .refresh_token_key(RefreshTokenKey::new(REFRESH_SECRET).expect("a refresh key"))
        .clock(common::clock());
    if cookies {
        builder = builder.cookies(CookieSettings::new()).csrf(
            CsrfGuard::new().double_submit(csrf_key(), CookieSettings::new().csrf_cookie_name()),
        );
    }
    builder.build().expect("the sessions")
}

fn csrf_key() -> CsrfKey {
    CsrfKey::derive(common::SECRET).expect("a CSRF key")
}

fn json_post(path: &str, body: &str) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(Bytes::from(body.to_owned())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = path.parse().expect("a path");
    request
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    request
}

/// The refresh token serde_json reads from a body.
fn body_token(body: &str) -> Option<String> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get("refresh_token")?
        .as_str()
        .map(str::to_owned)
}

/// Checks the invariants for one input; `true` when a refresh succeeded.
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    let cookies = mode % 4 == 3;
    let sessions = sessions(cookies);
    common::block_on(async {
        let pair = sessions
            .open(Grant::new("fuzz-user"))
            .await
            .expect("a session");
        let real = pair.refresh_token().to_owned();
        let text = String::from_utf8_lossy(rest).replace("@R", &real);
        let (presented, succeeded) = match mode % 4 {
            0 | 1 => {
                let path = if mode % 4 == 0 {
                    "/auth/refresh"
                } else {
                    "/auth/logout"
                };
                let response = sessions
                    .endpoints()
                    .prefix("/auth")
                    .oneshot(json_post(path, &text))
                    .await
                    .expect("infallible");
                assert!(
                    !response.status().is_server_error(),
                    "{}",
                    response.status()
                );
                // A logout answers alike for any token: only a refresh must tell them apart.
                let succeeded = mode % 4 == 0 && response.status().is_success();
                (body_token(&text), succeeded)
            }
            2 => (Some(text.clone()), sessions.refresh(&text).await.is_ok()),
            _ => {
                let settings = CookieSettings::new();
                let csrf = csrf_key().token(pair.sid()).expect("a CSRF token");
                let request = common::request_head(
                    Method::POST,
                    text.as_bytes(),
                    &[
                        ("@K", settings.refresh_cookie_name()),
                        ("@X", settings.csrf_cookie_name()),
                        ("@C", &csrf),
                    ],
                );
                let path = request.uri().path().to_owned();
                let cross_site = request
                    .headers()
                    .get_all("sec-fetch-site")
                    .iter()
                    .any(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
                let cookie =
                    common::reference_cookie(request.headers(), settings.refresh_cookie_name());
                let response = sessions
                    .endpoints()
                    .prefix("/auth")
                    .oneshot(request)
                    .await
                    .expect("infallible");
                assert!(
                    !response.status().is_server_error(),
                    "{}",
                    response.status()
                );
                let succeeded = path == "/auth/refresh" && response.status().is_success();
                if succeeded {
                    assert!(!cross_site, "a cross-site cookie request changed a session");
                }
                let presented = cookie
                    .ok()
                    .flatten()
                    .and_then(|value| String::from_utf8(value).ok());
                (presented, succeeded)
            }
        };
        if succeeded {
            assert_eq!(
                presented.as_deref(),
                Some(real.as_str()),
                "a refresh or logout succeeded for a token that is not the session's"
            );
        } else if presented.as_deref() != Some(real.as_str()) {
            assert!(
                sessions.refresh(&real).await.is_ok(),
                "a forged refresh token changed the session: the real one no longer rotates"
            );
        }
        succeeded
    })
}
