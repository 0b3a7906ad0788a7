//! `Sessions::routes` (the endpoints behind their layer), `Sessions::login`, and the layer's
//! refusal of token sources without the session cookie, driven with `oneshot`.

use http::{Method, Request, StatusCode};

use super::tests::{answer, send};
use crate::csrf::CsrfGuard;
use crate::session::{CookieSettings, Grant, SessionErrorKind, Sessions, SessionsBuilder};
use crate::{Algorithm, ConfigError, SigningKey, TokenSource};

const SECRET: &[u8] = b"routes and login tests secret, 32+ bytes";

fn builder() -> SessionsBuilder {
    let _ = crate::crypto::RING_PROVIDER.install_default();
    Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .and_then(|b| b.issuer("https://issuer.example"))
        .unwrap()
}

#[tokio::test]
async fn the_routes_have_the_layer_in_front_with_the_revocation_check() {
    let sessions = builder().build().unwrap();
    let routes = sessions.routes().unwrap().prefix("/auth");
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let other = sessions.open(Grant::new("alice")).await.unwrap();
    let bearer = format!("Bearer {}", pair.access_token());
    let auth = ("authorization", bearer.as_str());

    // The devices route sees the access token's identity: the layer is in front.
    let list = send(&routes, Method::GET, "/auth/sessions", &[auth], "").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 2);

    // A bearer logout: no body needed, the layer handed the endpoint the identity.
    let out = send(&routes, Method::POST, "/auth/logout", &[auth], "").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert!(sessions.refresh(pair.refresh_token()).await.is_err());

    // The revoked access token counts as none now (revocation checked): 401 `missing`.
    let list = send(&routes, Method::GET, "/auth/sessions", &[auth], "").await;
    assert_eq!(list.status, StatusCode::UNAUTHORIZED);
    assert_eq!(list.body["reason"], "missing");

    // The other session's access token still works; logout-all and logout-others are routed.
    let bearer = format!("Bearer {}", other.access_token());
    let auth = ("authorization", bearer.as_str());
    let all = send(&routes, Method::POST, "/auth/logout-others", &[auth], "").await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    let all = send(&routes, Method::POST, "/auth/logout-all", &[auth], "").await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    assert!(sessions.refresh(other.refresh_token()).await.is_err());

    // An expired or invalid access token counts as none: logout with the refresh token works.
    let third = sessions.open(Grant::new("bob")).await.unwrap();
    let body = format!("{{\"refresh_token\":\"{}\"}}", third.refresh_token());
    let out = send(
        &routes,
        Method::POST,
        "/auth/logout",
        &[
            ("authorization", "Bearer not.a.token"),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.body);
    assert!(sessions.refresh(third.refresh_token()).await.is_err());
}

#[tokio::test]
async fn the_routes_serve_the_cookies_of_the_sessions() {
    let sessions = builder().cookies(CookieSettings::new()).build().unwrap();
    let routes = sessions.routes().unwrap();
    let pair = sessions.open(Grant::new("alice")).await.unwrap();
    let cookie = format!("__Secure-refresh_token={}", pair.refresh_token());
    let state = send(&routes, Method::GET, "/session", &[("cookie", &cookie)], "").await;
    assert_eq!(state.body["authenticated"], true);
    assert_eq!(state.body["sub"], "alice");
    // A cross-site refresh is refused by the guard the sessions were given.
    let refused = send(
        &routes,
        Method::POST,
        "/refresh",
        &[("cookie", &cookie), ("sec-fetch-site", "cross-site")],
        "",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["reason"], "csrf");
    let refreshed = send(
        &routes,
        Method::POST,
        "/refresh",
        &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
        "",
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.set_cookies.len(), 2);
}

#[tokio::test]
async fn a_sessions_layer_that_leaves_out_the_session_cookie_is_not_built() {
    let sessions = builder().cookies(CookieSettings::new()).build().unwrap();
    let refused = sessions
        .layer_builder::<serde_json::Value>()
        .token_sources([TokenSource::bearer()])
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(
        refused,
        ConfigError::SessionCookieNotRead {
            source: "cookie __Host-access_token".into()
        }
    );
    // Another cookie name (the default of a layer without sessions) is no better.
    let insecure = builder()
        .cookies(CookieSettings::new().insecure_for_development())
        .build()
        .unwrap();
    let refused = insecure
        .layer_builder::<serde_json::Value>()
        .token_sources([
            TokenSource::bearer(),
            TokenSource::cookie("__Host-access_token"),
        ])
        .unwrap()
        .build();
    assert!(matches!(
        refused,
        Err(ConfigError::SessionCookieNotRead { .. })
    ));
    // Sources that keep it, in any order and with more, build; so does the default.
    assert!(sessions
        .layer_builder::<serde_json::Value>()
        .token_sources([CookieSettings::new().token_source(), TokenSource::bearer()])
        .unwrap()
        .build()
        .is_ok());
    assert!(sessions
        .layer_builder::<serde_json::Value>()
        .build()
        .is_ok());
    // Without cookies, any sources.
    assert!(builder()
        .build()
        .unwrap()
        .layer_builder::<serde_json::Value>()
        .token_sources([TokenSource::bearer()])
        .unwrap()
        .build()
        .is_ok());
}

fn head(headers: &[(&str, &str)]) -> http::request::Parts {
    let mut request = Request::post("/login");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

#[tokio::test]
async fn login_checks_the_origin_and_answers_json_cookies_and_no_store() {
    let sessions = builder()
        .cookies(CookieSettings::new())
        .csrf(
            CsrfGuard::new()
                .double_submit(crate::csrf::CsrfKey::derive(SECRET).unwrap(), "csrf_token"),
        )
        .build()
        .unwrap();
    let grant = || Grant::new("alice").claim("roles", ["admin"]);

    // Cross-site: refused before any session is opened.
    for refused in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "https://evil.example"), ("host", "app.example")],
    ] {
        let error = sessions.login(&head(&refused), grant()).await.unwrap_err();
        assert_eq!(error.kind(), SessionErrorKind::Csrf);
        let refusal = answer(error.http_response()).await;
        assert_eq!(refusal.status, StatusCode::FORBIDDEN);
        assert_eq!(refusal.body["error"], "csrf");
        assert_eq!(refusal.body["reason"], "csrf");
        assert_eq!(refusal.cache_control.as_deref(), Some("no-store"));
    }
    assert_eq!(sessions.list_sessions("alice").await.unwrap().len(), 0);

    // The site itself (and a client without browser headers): the pair, cookies, no-store.
    let request = head(&[
        ("sec-fetch-site", "same-origin"),
        ("user-agent", "test-agent/1"),
    ]);
    let login = answer(sessions.login(&request, grant()).await.unwrap()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.cache_control.as_deref(), Some("no-store"));
    assert_eq!(login.body["token_type"], "Bearer");
    let access = login.body["access_token"].as_str().unwrap();
    let refresh = login.body["refresh_token"].as_str().unwrap();
    assert_eq!(login.set_cookies.len(), 3);
    assert!(login.set_cookies[0].starts_with(&format!("__Host-access_token={access};")));
    assert!(login.set_cookies[1].starts_with(&format!("__Secure-refresh_token={refresh};")));
    // The double-submit cookie has the name the cookie settings give it.
    assert!(login.set_cookies[2].starts_with("__Host-csrf_token="));
    let listed = sessions.list_sessions("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].client.user_agent.as_deref(), Some("test-agent/1"));
    // The role is in the access token, and stays there after a refresh.
    let next = sessions.refresh(refresh).await.unwrap();
    let payload = next.access_token().split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));

    // Without cookies: the pair alone.
    let plain = builder().build().unwrap();
    let login = answer(plain.login(&head(&[]), grant()).await.unwrap()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.set_cookies.is_empty() && login.body["refresh_token"].is_string());
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn a_session_error_is_an_axum_response() {
    use axum_core::response::IntoResponse;
    let sessions = builder().build().unwrap();
    let error = sessions.refresh("not-a-token").await.unwrap_err();
    let response = answer(error.into_response()).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.body["error"], "invalid_grant");
    assert_eq!(response.body["reason"], "invalid_refresh_token");
    assert_eq!(response.cache_control.as_deref(), Some("no-store"));
}
