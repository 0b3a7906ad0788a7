use http::{HeaderMap, HeaderValue, Method};

use super::*;

/// The CSRF cookie's name as the session's `CookieSettings` sets it.
const CSRF_COOKIE: &str = "__Host-csrf_token";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn uri() -> http::Uri {
    http::Uri::from_static("/x")
}

fn cookie_found(token: &[u8]) -> Found<'_> {
    Found {
        token,
        source: TokenSourceKind::Cookie,
    }
}

fn guard() -> CsrfGuard {
    CsrfGuard::new()
        .trusted_origin("https://app.example")
        .unwrap()
}

#[test]
fn fetch_metadata_rules() {
    let g = guard();
    let check = |pairs: &[(&str, &str)]| g.check_origin(&headers(pairs));
    assert!(check(&[("sec-fetch-site", "same-origin")]).is_ok());
    assert!(check(&[("sec-fetch-site", "none")]).is_ok());
    assert_eq!(
        check(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example")
        ])
        .unwrap_err()
        .kind(),
        ErrorKind::Csrf
    );
    // same-site: only from a trusted origin.
    assert!(check(&[
        ("sec-fetch-site", "same-site"),
        ("origin", "https://app.example")
    ])
    .is_ok());
    assert!(check(&[
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example")
    ])
    .is_err());
    assert!(check(&[("sec-fetch-site", "same-site")]).is_err());
    assert!(check(&[("sec-fetch-site", "bogus")]).is_err());
    // No Sec-Fetch-Site: Origin against the trusted origins or the request's own host.
    assert!(check(&[("origin", "https://APP.example")]).is_ok());
    assert!(check(&[("origin", "https://api.example"), ("host", "api.example")]).is_ok());
    assert!(check(&[("origin", "https://evil.example"), ("host", "api.example")]).is_err());
    assert!(check(&[("origin", "null")]).is_err());
    // Neither header: not a browser, passes.
    assert!(check(&[]).is_ok());
    // Disabled: everything passes.
    assert!(CsrfGuard::disabled()
        .check_origin(&headers(&[("sec-fetch-site", "cross-site")]))
        .is_ok());
}

/// G13: the scheme is compared too. Without a public origin, the request's scheme is its
/// URI's when absolute, `https` otherwise; `X-Forwarded-Proto` is never read.
#[test]
fn origin_scheme_is_compared_http_is_not_https() {
    let g = CsrfGuard::new();
    let host = [("host", "api.example")];
    let with = |origin: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![("origin", origin)];
        pairs.extend_from_slice(extra);
        headers(&pairs)
    };
    let relative: http::Uri = "/x".parse().unwrap();
    assert!(g
        .check_request_origin(&relative, &with("https://api.example", &host))
        .is_ok());
    assert!(g
        .check_request_origin(&relative, &with("http://api.example", &host))
        .is_err());
    assert!(g.check_origin(&with("http://api.example", &host)).is_err());
    let forwarded = [("host", "api.example"), ("x-forwarded-proto", "http")];
    assert!(g
        .check_request_origin(&relative, &with("http://api.example", &forwarded))
        .is_err());
    // An absolute URI (HTTP/2, or a proxy request) carries the scheme and the authority.
    let plain: http::Uri = "http://api.example/x".parse().unwrap();
    assert!(g
        .check_request_origin(&plain, &with("http://api.example", &[]))
        .is_ok());
    assert!(g
        .check_request_origin(&plain, &with("https://api.example", &[]))
        .is_err());
    let tls: http::Uri = "https://api.example:443/x".parse().unwrap();
    assert!(g
        .check_request_origin(&tls, &with("https://api.example", &[]))
        .is_ok());
}

/// G13: with a public origin, `Origin` must be exactly it (or a trusted origin), whatever the
/// request's `Host` says.
#[test]
fn public_origin_match_and_mismatch() {
    let g = CsrfGuard::new()
        .public_origin("https://api.example")
        .unwrap()
        .trusted_origin("https://app.example")
        .unwrap();
    let check = |origin: &str, host: &str| {
        g.check_request_origin(
            &"/x".parse().unwrap(),
            &headers(&[("origin", origin), ("host", host)]),
        )
    };
    assert!(check("https://api.example", "10.0.0.7:8080").is_ok());
    assert!(check("https://API.example:443", "10.0.0.7:8080").is_ok());
    assert!(check("https://app.example", "10.0.0.7:8080").is_ok());
    assert!(check("http://api.example", "10.0.0.7:8080").is_err());
    assert!(check("https://api.example:8443", "10.0.0.7:8080").is_err());
    // The backend's own host is not the public origin.
    assert!(check("https://10.0.0.7:8080", "10.0.0.7:8080").is_err());
    assert!(check("https://evil.example", "evil.example").is_err());
    for bad in [
        "api.example",
        "https://api.example/",
        "https://api.example/app",
        "ftp://api.example",
        "https://",
        "https://api example",
    ] {
        assert!(
            matches!(
                CsrfGuard::new().public_origin(bad),
                Err(ConfigError::InvalidPublicOrigin { .. })
            ),
            "{bad}"
        );
    }
}

/// G13: a request with neither `Sec-Fetch-Site` nor `Origin` passes unless `require_origin` is
/// on.
#[test]
fn neither_header_is_refused_only_with_require_origin() {
    let empty = headers(&[]);
    assert!(CsrfGuard::new().check_origin(&empty).is_ok());
    let strict = CsrfGuard::new().require_origin(true);
    let err = strict.check_origin(&empty).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Csrf);
    assert!(strict
        .check_origin(&headers(&[("sec-fetch-site", "same-origin")]))
        .is_ok());
    assert!(strict
        .check_origin(&headers(&[
            ("origin", "https://api.example"),
            ("host", "api.example")
        ]))
        .is_ok());
    assert!(CsrfGuard::new()
        .require_origin(true)
        .require_origin(false)
        .check_origin(&empty)
        .is_ok());
}

#[test]
fn duplicated_and_non_ascii_headers_are_refused_not_a_panic() {
    let g = guard();
    for pairs in [
        &[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-site", "same-origin"),
        ][..],
        &[
            ("origin", "https://app.example"),
            ("origin", "https://app.example"),
        ][..],
    ] {
        let err = g.check_origin(&headers(pairs)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Csrf);
        assert!(err.description().contains("more than once"));
    }
    let mut map = HeaderMap::new();
    map.insert(
        SEC_FETCH_SITE,
        HeaderValue::from_bytes("s\u{e4}me-origin".as_bytes()).unwrap(),
    );
    assert_eq!(g.check_origin(&map).unwrap_err().kind(), ErrorKind::Csrf);
}

#[test]
fn trusted_origins_are_validated() {
    assert!(CsrfGuard::new()
        .trusted_origin("http://127.0.0.1:8080")
        .is_ok());
    for bad in [
        "app.example",
        "https://app.example/",
        "ftp://x",
        "https://",
        "https://a b",
    ] {
        assert!(
            matches!(
                CsrfGuard::new().trusted_origin(bad),
                Err(ConfigError::InvalidTrustedOrigin { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn keys_are_bound_to_the_session_and_need_32_bytes() {
    assert!(matches!(
        CsrfKey::new(&[1; 31]),
        Err(ConfigError::CsrfSecretTooShort { len: 31, min: 32 })
    ));
    assert!(CsrfKey::derive(b"short").is_err());
    let key = CsrfKey::derive(&[9; 32]).unwrap();
    let other = CsrfKey::derive(&[8; 32]).unwrap();
    let token = key.token("sid-a").unwrap();
    assert_ne!(token, key.token("sid-a").unwrap(), "a new nonce each time");
    assert!(key.verify("sid-a", &token));
    assert!(!key.verify("sid-b", &token));
    assert!(!other.verify("sid-a", &token));
    for forged in ["", ".", "abc", "a.b", &token.replace('.', "")] {
        assert!(!key.verify("sid-a", forged));
    }
    assert_eq!(format!("{key:?}"), "CsrfKey(<redacted>)");
}

/// A JWT-shaped token whose payload carries `sid` (the signature does not matter here).
fn token_with_sid(sid: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(format!("{{\"sid\":\"{sid}\",\"sub\":\"u\"}}"));
    format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")
}

#[test]
fn double_submit_requires_the_matching_signed_header() {
    let key = CsrfKey::new(&[3; 32]).unwrap();
    let g = guard().double_submit(key.clone(), CSRF_COOKIE);
    let jwt = token_with_sid("s1");
    let good = key.token("s1").unwrap();
    let post = Method::POST;
    let with = |csrf_cookie: &str, header: Option<&str>| {
        let mut pairs = vec![
            ("sec-fetch-site", "same-origin".to_owned()),
            ("cookie", format!("__Host-csrf_token={csrf_cookie}")),
        ];
        if let Some(header) = header {
            pairs.push(("x-csrf-token", header.to_owned()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        g.check(
            &post,
            &uri(),
            &headers(&pairs),
            &cookie_found(jwt.as_bytes()),
        )
    };
    assert!(with(&good, Some(&good)).is_ok());
    // Missing header.
    let missing = with(&good, None).unwrap_err();
    assert!(missing.description().contains("missing"));
    // A forged pair: equal cookie and header, but no valid MAC.
    let forged = "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(
        with(forged, Some(forged)).unwrap_err().kind(),
        ErrorKind::Csrf
    );
    // Another session's genuine token.
    let theirs = key.token("s2").unwrap();
    assert!(with(&theirs, Some(&theirs)).is_err());
    // Header and cookie differ.
    let other = key.token("s1").unwrap();
    assert!(with(&good, Some(&other)).is_err());
    // Cross-site is refused on top, even with a good header.
    let mut map = headers(&[("sec-fetch-site", "cross-site"), ("x-csrf-token", &good)]);
    map.append(
        http::header::COOKIE,
        HeaderValue::from_str(&format!("__Host-csrf_token={good}")).unwrap(),
    );
    assert!(g
        .check(&post, &uri(), &map, &cookie_found(jwt.as_bytes()))
        .is_err());
    // A duplicated header is refused.
    let dup = headers(&[
        ("x-csrf-token", &good),
        ("x-csrf-token", &good),
        ("cookie", &format!("__Host-csrf_token={good}")),
    ]);
    assert!(g
        .check(&post, &uri(), &dup, &cookie_found(jwt.as_bytes()))
        .is_err());
    // A token whose payload has no sid cannot be bound.
    let no_sid = format!("x.{}.y", URL_SAFE_NO_PAD.encode("{\"sub\":\"u\"}"));
    let map = headers(&[
        ("x-csrf-token", &good),
        ("cookie", &format!("__Host-csrf_token={good}")),
    ]);
    assert!(g
        .check(&post, &uri(), &map, &cookie_found(no_sid.as_bytes()))
        .is_err());
}

#[test]
fn only_cookie_tokens_on_unsafe_methods_and_websocket_upgrades_are_judged() {
    let g = guard();
    let cross = headers(&[("sec-fetch-site", "cross-site")]);
    let token = b"a.b.c";
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        assert!(g
            .check(&method, &uri(), &cross, &cookie_found(token))
            .is_ok());
    }
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        assert!(g
            .check(&method, &uri(), &cross, &cookie_found(token))
            .is_err());
    }
    let bearer = Found {
        token,
        source: TokenSourceKind::Bearer,
    };
    assert!(g.check(&Method::POST, &uri(), &cross, &bearer).is_ok());
    let upgrade = headers(&[("sec-fetch-site", "cross-site"), ("upgrade", "WebSocket")]);
    assert!(g
        .check(&Method::GET, &uri(), &upgrade, &cookie_found(token))
        .is_err());
    let upgrade_same = headers(&[("sec-fetch-site", "same-origin"), ("upgrade", "websocket")]);
    assert!(g
        .check(&Method::GET, &uri(), &upgrade_same, &cookie_found(token))
        .is_ok());
}

// ---------------------------------------------------------------------------------------------
// Through the layer, driven with `oneshot`.

mod layer {
    use bytes::Bytes;
    use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
    use http::{Method, Request, StatusCode};
    use http_body_util::Full;
    use tower::{ServiceBuilder, ServiceExt};

    use super::super::{CsrfGuard, CsrfKey};
    use super::CSRF_COOKIE;
    use crate::test_helpers::*;
    use crate::{AuthMode, InvalidTokenPolicy, JwtAuthLayer, StatusPolicy, TokenSource};

    struct Answer {
        status: StatusCode,
        challenge: bool,
        body: String,
        grpc_status: Option<String>,
    }

    async fn send(layer: &JwtAuthLayer<TestClaims>, req: Request<Full<Bytes>>) -> Answer {
        let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
        let response = svc.oneshot(req).await.unwrap();
        Answer {
            status: response.status(),
            challenge: response.headers().contains_key(WWW_AUTHENTICATE),
            grpc_status: response
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: body_string(response.into_body()).await,
        }
    }

    fn req(
        method: Method,
        cookie: Option<&str>,
        bearer: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().method(method).uri("/x");
        if let Some(cookie) = cookie {
            builder = builder.header(COOKIE, cookie);
        }
        if let Some(token) = bearer {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        builder.body(Full::default()).unwrap()
    }

    fn assert_csrf(answer: &Answer) {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
        assert!(!answer.challenge, "no WWW-Authenticate on a CSRF refusal");
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"], "csrf");
        assert_eq!(body["reason"], "csrf");
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }

    #[tokio::test]
    async fn the_guard_is_on_by_default_for_cookie_tokens_on_unsafe_methods() {
        let layer = builder().build().unwrap();
        let cookie = format!("__Host-access_token={}", good_token());
        let cross = [("sec-fetch-site", "cross-site")];
        assert_csrf(&send(&layer, req(Method::POST, Some(&cookie), None, &cross)).await);
        assert_csrf(&send(&layer, req(Method::DELETE, Some(&cookie), None, &cross)).await);
        // same-site from an origin that is not trusted.
        let sibling = [
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:9"),
        ];
        assert_csrf(&send(&layer, req(Method::POST, Some(&cookie), None, &sibling)).await);
        // Safe methods pass.
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            let answer = send(&layer, req(method, Some(&cookie), None, &cross)).await;
            assert_eq!(answer.status, StatusCode::OK);
        }
        // A bearer token is not subject to it.
        let answer = send(&layer, req(Method::POST, None, Some(&good_token()), &cross)).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "sub=alice;scopes=read write")
        );
        // same-origin, none, and no header at all pass.
        for extra in [
            &[("sec-fetch-site", "same-origin")][..],
            &[("sec-fetch-site", "none")],
            &[],
        ] {
            let answer = send(&layer, req(Method::POST, Some(&cookie), None, extra)).await;
            assert_eq!(answer.status, StatusCode::OK);
        }
        // Origin fallback without Sec-Fetch-Site.
        let evil = [("origin", "https://evil.example"), ("host", "api.example")];
        assert_csrf(&send(&layer, req(Method::POST, Some(&cookie), None, &evil)).await);
        let own = [("origin", "https://api.example"), ("host", "api.example")];
        assert_eq!(
            send(&layer, req(Method::POST, Some(&cookie), None, &own))
                .await
                .status,
            StatusCode::OK
        );
        // Turned off explicitly.
        let off = builder().csrf(CsrfGuard::disabled()).build().unwrap();
        assert_eq!(
            send(&off, req(Method::POST, Some(&cookie), None, &cross))
                .await
                .status,
            StatusCode::OK
        );
    }

    /// `require_origin` through the layer: an unsafe cookie request with neither header is
    /// refused; a bearer one, and a safe one, are not judged.
    #[tokio::test]
    async fn require_origin_refuses_unsafe_cookie_requests_without_either_header() {
        let cookie = format!("__Host-access_token={}", good_token());
        let lax = builder().build().unwrap();
        let answer = send(&lax, req(Method::POST, Some(&cookie), None, &[])).await;
        assert_eq!(answer.status, StatusCode::OK);
        let strict = builder()
            .csrf(CsrfGuard::new().require_origin(true))
            .build()
            .unwrap();
        assert_csrf(&send(&strict, req(Method::POST, Some(&cookie), None, &[])).await);
        let answer = send(&strict, req(Method::GET, Some(&cookie), None, &[])).await;
        assert_eq!(answer.status, StatusCode::OK);
        let answer = send(&strict, req(Method::POST, None, Some(&good_token()), &[])).await;
        assert_eq!(answer.status, StatusCode::OK);
        let same = [("sec-fetch-site", "same-origin")];
        let answer = send(&strict, req(Method::POST, Some(&cookie), None, &same)).await;
        assert_eq!(answer.status, StatusCode::OK);
        // http:// is not https:// for the request's own host.
        let http = [("origin", "http://api.example"), ("host", "api.example")];
        assert_csrf(&send(&lax, req(Method::POST, Some(&cookie), None, &http)).await);
    }

    /// The method is the request's own: an override header or a form field naming a safe
    /// method changes nothing, and neither does an unknown method.
    #[tokio::test]
    async fn method_overrides_do_not_skip_the_guard() {
        let layer = builder().build().unwrap();
        let cookie = format!("__Host-access_token={}", good_token());
        for override_header in [
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
        ] {
            let extra = [("sec-fetch-site", "cross-site"), (override_header, "GET")];
            assert_csrf(&send(&layer, req(Method::POST, Some(&cookie), None, &extra)).await);
        }
        let mut form = req(
            Method::POST,
            Some(&cookie),
            None,
            &[
                ("sec-fetch-site", "cross-site"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
        );
        *form.body_mut() = Full::from("_method=GET");
        assert_csrf(&send(&layer, form).await);
        let custom = Method::from_bytes(b"PURGE").unwrap();
        let extra = [("sec-fetch-site", "cross-site")];
        assert_csrf(&send(&layer, req(custom, Some(&cookie), None, &extra)).await);
    }

    #[tokio::test]
    async fn a_trusted_origin_passes_same_site() {
        let layer = builder()
            .csrf(
                CsrfGuard::new()
                    .trusted_origin("http://127.0.0.1:9")
                    .unwrap(),
            )
            .build()
            .unwrap();
        let cookie = format!("__Host-access_token={}", good_token());
        let sibling = [
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:9"),
        ];
        assert_eq!(
            send(&layer, req(Method::POST, Some(&cookie), None, &sibling))
                .await
                .status,
            StatusCode::OK
        );
        let origin_only = [("origin", "http://127.0.0.1:9")];
        assert_eq!(
            send(&layer, req(Method::PUT, Some(&cookie), None, &origin_only))
                .await
                .status,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn refused_under_every_policy_and_never_anonymous() {
        let cookie = format!("__Host-access_token={}", good_token());
        let cross = [("sec-fetch-site", "cross-site")];
        let strict = builder()
            .status_policy(StatusPolicy::Rfc6750)
            .build()
            .unwrap();
        assert_csrf(&send(&strict, req(Method::POST, Some(&cookie), None, &cross)).await);
        let lenient = builder()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
            .build()
            .unwrap();
        assert_csrf(&send(&lenient, req(Method::POST, Some(&cookie), None, &cross)).await);
        // An invalid cookie token fails CSRF first: refused too, not anonymous.
        let bad = "__Host-access_token=not.a.token";
        assert_csrf(&send(&lenient, req(Method::POST, Some(bad), None, &cross)).await);
    }

    #[tokio::test]
    async fn grpc_gets_permission_denied() {
        let layer = builder().build().unwrap();
        let cookie = format!("__Host-access_token={}", good_token());
        let answer = send(
            &layer,
            req(
                Method::POST,
                Some(&cookie),
                None,
                &[
                    ("sec-fetch-site", "cross-site"),
                    (CONTENT_TYPE.as_str(), "application/grpc"),
                ],
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.grpc_status.as_deref(), Some("7"));
    }

    #[tokio::test]
    async fn websocket_upgrades_get_the_origin_check() {
        let layer = builder().build().unwrap();
        let cookie = format!("__Host-access_token={}", good_token());
        let cross = [
            ("sec-fetch-site", "cross-site"),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
        ];
        assert_csrf(&send(&layer, req(Method::GET, Some(&cookie), None, &cross)).await);
        let same = [
            ("sec-fetch-site", "same-origin"),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
        ];
        assert_eq!(
            send(&layer, req(Method::GET, Some(&cookie), None, &same))
                .await
                .status,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn double_submit_through_the_layer() {
        let key = CsrfKey::new(&[5; 32]).unwrap();
        let layer = builder()
            .token_sources([
                TokenSource::bearer(),
                TokenSource::cookie("__Host-access_token"),
            ])
            .unwrap()
            .csrf(CsrfGuard::new().double_submit(key.clone(), CSRF_COOKIE))
            .build()
            .unwrap();
        let token = mint(serde_json::json!({ "sub": "alice", "sid": "s-1", "exp": now() + 300 }));
        let csrf = key.token("s-1").unwrap();
        let cookie = format!("__Host-access_token={token}; __Host-csrf_token={csrf}");
        let same = ("sec-fetch-site", "same-origin");
        let ok = send(
            &layer,
            req(
                Method::POST,
                Some(&cookie),
                None,
                &[same, ("x-csrf-token", &csrf)],
            ),
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        // Missing header, even same-origin.
        assert_csrf(&send(&layer, req(Method::POST, Some(&cookie), None, &[same])).await);
        // Forged pair.
        let forged = "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let cookie_forged = format!("__Host-access_token={token}; __Host-csrf_token={forged}");
        assert_csrf(
            &send(
                &layer,
                req(
                    Method::POST,
                    Some(&cookie_forged),
                    None,
                    &[same, ("x-csrf-token", forged)],
                ),
            )
            .await,
        );
        // GET needs nothing.
        assert_eq!(
            send(&layer, req(Method::GET, Some(&cookie), None, &[]))
                .await
                .status,
            StatusCode::OK
        );
    }
}
