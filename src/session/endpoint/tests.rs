//! The cookie side of the endpoints, driven with `oneshot`.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;
use tower_service::Service;

use super::SessionEndpoints;
use crate::csrf::{CsrfGuard, CsrfKey};
use crate::session::{CookieSettings, Grant, Sessions, SessionsBuilder, TokenPair};
use crate::{Algorithm, SigningKey};

const SECRET: &[u8] = b"endpoint cookie tests secret, 32+ bytes";

/// Sessions that serve browsers: the cookies, and a double-submit CSRF guard.
fn builder() -> SessionsBuilder {
    let _ = crate::crypto::RING_PROVIDER.install_default();
    Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .and_then(|b| b.issuer("https://issuer.example"))
        .unwrap()
        .cookies(CookieSettings::new())
        .csrf(CsrfGuard::new().double_submit(key(), "any name: the cookie settings name it"))
}

fn sessions() -> Sessions {
    builder().build().unwrap()
}

fn key() -> CsrfKey {
    CsrfKey::derive(SECRET).unwrap()
}

fn endpoints(sessions: &Sessions) -> SessionEndpoints {
    sessions.endpoints().prefix("/auth")
}

pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) set_cookies: Vec<String>,
    pub(super) cache_control: Option<String>,
    pub(super) body: serde_json::Value,
}

/// The status, the `Set-Cookie` headers, `Cache-Control` and the JSON body of `response`.
pub(super) async fn answer<B>(response: Response<B>) -> Answer
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        set_cookies: headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect(),
        cache_control: headers
            .get(CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

/// One request to `service` (the endpoints, or the routes).
pub(super) async fn send<S, B>(
    service: &S,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    answer(service.clone().oneshot(request).await.unwrap()).await
}

/// The `Cookie` header a browser would send to `/auth` after `pair`, and the CSRF token.
fn browser_cookies(pair: &TokenPair) -> (String, String) {
    let csrf = key().token(pair.sid()).unwrap();
    (
        format!(
            "__Host-access_token={}; __Secure-refresh_token={}; __Host-csrf_token={csrf}",
            pair.access_token(),
            pair.refresh_token()
        ),
        csrf,
    )
}

#[tokio::test]
async fn refresh_with_the_cookie_sets_cookies_and_hides_the_tokens() {
    let sessions = sessions();
    let endpoints = endpoints(&sessions);
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let (cookie, csrf) = browser_cookies(&pair);
    let same = ("sec-fetch-site", "same-origin");
    let answer = send(
        &endpoints,
        Method::POST,
        "/auth/refresh",
        &[same, ("cookie", &cookie), ("x-csrf-token", &csrf)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.get("access_token").is_none() && answer.body.get("refresh_token").is_none()
    );
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.set_cookies.len(), 3);
    assert!(answer.set_cookies[0].starts_with("__Host-access_token="));
    assert!(answer.set_cookies[1].starts_with("__Secure-refresh_token="));
    assert!(answer.set_cookies[2].starts_with("__Host-csrf_token="));
    // The old refresh cookie is now used: within the grace window it gives the same pair.
    // A JSON body answers with the pair, and sets the same tokens in the cookies: a cookie
    // never keeps a rotated-out token.
    let pair2 = sessions.open(Grant::new("bob")).await.unwrap();
    let body = format!("{{\"refresh_token\":\"{}\"}}", pair2.refresh_token());
    let json = ("content-type", "application/json");
    let answer = send(
        &endpoints,
        Method::POST,
        "/auth/refresh",
        &[same, json],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let access = answer.body["access_token"].as_str().unwrap();
    let refresh = answer.body["refresh_token"].as_str().unwrap();
    assert_ne!(refresh, pair2.refresh_token());
    assert_eq!(answer.set_cookies.len(), 3);
    assert!(answer.set_cookies[0].starts_with(&format!("__Host-access_token={access};")));
    assert!(answer.set_cookies[1].starts_with(&format!("__Secure-refresh_token={refresh};")));
    assert!(answer.set_cookies[2].starts_with("__Host-csrf_token="));
}

#[tokio::test]
async fn cookie_requests_need_the_csrf_header_and_the_site_itself() {
    let sessions = sessions();
    let endpoints = endpoints(&sessions);
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let (cookie, csrf) = browser_cookies(&pair);
    for path in ["/auth/refresh", "/auth/logout"] {
        // No header.
        let answer = send(
            &endpoints,
            Method::POST,
            path,
            &[("sec-fetch-site", "same-origin"), ("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.body["error"], "csrf");
        // Another session's genuine token.
        let theirs = key().token("another-session").unwrap();
        let answer = send(
            &endpoints,
            Method::POST,
            path,
            &[("cookie", &cookie), ("x-csrf-token", &theirs)],
            "",
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        // Cross-site, even with the right header.
        let answer = send(
            &endpoints,
            Method::POST,
            path,
            &[
                ("sec-fetch-site", "cross-site"),
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
            ],
            "",
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(answer.body["reason"], "csrf");
    }
    // A cross-site refresh with a body token (login CSRF) is refused too.
    let body = format!("{{\"refresh_token\":\"{}\"}}", pair.refresh_token());
    let answer = send(
        &endpoints,
        Method::POST,
        "/auth/refresh",
        &[("sec-fetch-site", "cross-site")],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    // The session is untouched by all of the above.
    assert!(sessions
        .find_session(pair.refresh_token())
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn session_state_and_logout_with_the_refresh_cookie() {
    let sessions = sessions();
    let endpoints = endpoints(&sessions);
    let answer = send(&endpoints, Method::GET, "/auth/session", &[], "").await;
    assert_eq!(answer.body, serde_json::json!({ "authenticated": false }));
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let (cookie, csrf) = browser_cookies(&pair);
    let answer = send(
        &endpoints,
        Method::GET,
        "/auth/session",
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["authenticated"], true);
    assert_eq!(answer.body["sub"], "alice");
    // The session's expiry: the earlier of the absolute expiry (30 days) and the current
    // refresh token's idle expiry (7 days), both from the moment of the login.
    let limits = sessions.limits();
    let idle_first = pair.session_expires_at()
        - (limits.absolute_lifetime.as_secs() - limits.idle_timeout.as_secs());
    let expires_at = answer.body["expires_at"].as_u64().unwrap();
    assert!(
        expires_at.abs_diff(idle_first) <= 1,
        "{expires_at} is not the idle expiry {idle_first}"
    );
    assert!(!answer.body.to_string().contains(pair.access_token()));
    // Duplicate refresh cookies: a clear 400, not a 5xx.
    let twice = format!("{cookie}; __Secure-refresh_token=x");
    let answer = send(
        &endpoints,
        Method::GET,
        "/auth/session",
        &[(COOKIE.as_str(), &twice)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    // Logout with the refresh cookie and the CSRF header: 204, cookies cleared.
    let answer = send(
        &endpoints,
        Method::POST,
        "/auth/logout",
        &[
            ("sec-fetch-site", "same-origin"),
            ("cookie", &cookie),
            ("x-csrf-token", &csrf),
        ],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.set_cookies.len(), 3);
    assert!(answer.set_cookies.iter().all(|c| c.contains("Max-Age=0")));
    assert!(answer.set_cookies[1].contains("Path=/auth"));
    let answer = send(
        &endpoints,
        Method::GET,
        "/auth/session",
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(answer.body, serde_json::json!({ "authenticated": false }));
    // Wrong method on /session.
    let answer = send(&endpoints, Method::POST, "/auth/session", &[], "").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A rotated refresh cookie can still change the store (presenting it after the grace window
/// ends the session as reuse), so it needs the CSRF header like the current one: without it,
/// 403 `csrf`, and the session lives on.
#[tokio::test]
async fn a_rotated_refresh_cookie_still_needs_the_csrf_header() {
    let sessions = builder()
        .refresh_grace(std::time::Duration::ZERO)
        .and_then(|b| b.build())
        .unwrap();
    let endpoints = endpoints(&sessions);
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let (old_cookie, _) = browser_cookies(&pair);
    let next = sessions.refresh(pair.refresh_token()).await.unwrap();
    for path in ["/auth/refresh", "/auth/logout"] {
        let answer = send(
            &endpoints,
            Method::POST,
            path,
            &[("sec-fetch-site", "same-origin"), ("cookie", &old_cookie)],
            "",
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.body
        );
        assert_eq!(answer.body["reason"], "csrf");
    }
    assert!(
        sessions
            .find_session(next.refresh_token())
            .await
            .unwrap()
            .is_some(),
        "the session was not ended by a request without the CSRF header"
    );
    // The rotated token is not the session's current one: not logged in by it.
    assert!(sessions
        .find_session(pair.refresh_token())
        .await
        .unwrap()
        .is_none());
}

/// The 0.2 way, cookies and guard given to the endpoints, still works in 0.3.0.
#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_endpoint_settings_still_work() {
    let _ = crate::crypto::RING_PROVIDER.install_default();
    let sessions = Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .and_then(|b| b.issuer("https://issuer.example"))
        .and_then(|b| b.build())
        .unwrap();
    // Without cookies, `/session` is not served.
    let plain = sessions.endpoints().prefix("/auth");
    let answer = send(&plain, Method::GET, "/auth/session", &[], "").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let cookies = CookieSettings::new();
    let endpoints = sessions
        .endpoints()
        .prefix("/auth")
        .csrf(CsrfGuard::new().double_submit(key(), cookies.csrf_cookie_name()))
        .cookies(cookies);
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let (cookie, csrf) = browser_cookies(&pair);
    let same = ("sec-fetch-site", "same-origin");
    let answer = send(
        &endpoints,
        Method::POST,
        "/auth/refresh",
        &[same, ("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    let answer = send(
        &endpoints,
        Method::POST,
        "/auth/refresh",
        &[same, ("cookie", &cookie), ("x-csrf-token", &csrf)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.set_cookies.len(), 3);
}

/// G14: a non-empty body must be `application/json` (parameters aside), on every route that
/// reads one; an empty body needs no content type.
#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported_media_type() {
    let sessions = sessions();
    let endpoints = endpoints(&sessions);
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let body = format!("{{\"refresh_token\":\"{}\"}}", pair.refresh_token());
    let same = ("sec-fetch-site", "same-origin");
    for path in ["/auth/refresh", "/auth/logout"] {
        for content_type in [
            &[same, ("content-type", "text/plain")][..],
            &[same, ("content-type", "text/plain;charset=UTF-8")],
            &[same, ("content-type", "application/x-www-form-urlencoded")],
            &[same, ("content-type", "multipart/form-data; boundary=b")],
            &[same, ("content-type", "application/jsonx")],
            &[
                same,
                ("content-type", "application/json"),
                ("content-type", "application/json"),
            ],
            &[same],
        ] {
            let answer = send(&endpoints, Method::POST, path, content_type, &body).await;
            assert_eq!(
                answer.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}"
            );
            assert_eq!(answer.body["error"], "invalid_request");
            assert_eq!(answer.body["reason"], "unsupported_media_type");
            assert!(answer.body["error_description"].is_string());
            assert!(answer.set_cookies.is_empty());
        }
    }
    // The session is untouched by all of the above.
    assert!(sessions
        .find_session(pair.refresh_token())
        .await
        .unwrap()
        .is_some());
    // `charset` and the case of the media type are ignored.
    let charset = [same, ("content-type", "Application/JSON; charset=utf-8")];
    let answer = send(&endpoints, Method::POST, "/auth/refresh", &charset, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // An empty body without a content type is read (here: no cookie, so not the expected JSON).
    let answer = send(&endpoints, Method::POST, "/auth/refresh", &[same], "").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["reason"], "invalid_request");
}

/// G14 on the devices routes: `POST /logout-others` and `DELETE /sessions/{id}` take an empty
/// or a JSON body, as logout does, and refuse any other before touching a session.
#[tokio::test]
async fn the_devices_routes_refuse_a_body_that_is_not_json() {
    let sessions = sessions();
    let endpoints = endpoints(&sessions);
    let current = sessions.open(Grant::new("alice")).await.unwrap();
    let other = sessions.open(Grant::new("alice")).await.unwrap();
    let identity = crate::revocation::TokenIdentity::new(
        "jti-1",
        Some(current.sid().to_owned()),
        "alice",
        0,
        u64::MAX,
    )
    .with_issuer("https://issuer.example");
    let call = |method: Method, path: String, content_type: Option<&'static str>, body| {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("sec-fetch-site", "same-origin");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let mut request = request.body(Full::new(Bytes::from_static(body))).unwrap();
        request.extensions_mut().insert(identity.clone());
        endpoints.clone().oneshot(request)
    };
    let end_other = format!("/auth/sessions/{}", other.sid());
    for (method, path) in [
        (Method::POST, "/auth/logout-others".to_owned()),
        (Method::DELETE, end_other.clone()),
    ] {
        let response = call(method.clone(), path.clone(), Some("text/plain"), b"x")
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{method} {path}"
        );
        assert!(
            sessions
                .find_session(other.refresh_token())
                .await
                .unwrap()
                .is_some(),
            "{method} {path}"
        );
    }
    // An empty body without a content type is taken: the other session ends.
    let response = call(Method::DELETE, end_other, None, b"").await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(sessions
        .find_session(other.refresh_token())
        .await
        .unwrap()
        .is_none());
    assert!(sessions
        .find_session(current.refresh_token())
        .await
        .unwrap()
        .is_some());
}
