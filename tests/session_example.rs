//! The `session` example end to end: its application served on `127.0.0.1:0` and called with a
//! real HTTP client (hyper-util), with the in-memory store and (feature `redis`) two instances on
//! one Redis at `REDIS_URL`, and with a `redis-server` of the test's own that stops and comes
//! back. Without a reachable Redis (or `redis-server`) the Redis tests are skipped with a
//! message, unless `REQUIRE_REDIS=1`.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[allow(dead_code)]
#[path = "../examples/session.rs"]
mod example;
mod session_support;

const SECRET: &str = "session-example-test-secret-of-32+bytes";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn lookup(vars: Vec<(String, String)>) -> impl Fn(&str) -> Option<OsString> {
    move |name| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| OsString::from(value))
    }
}

/// The variables the tests run the example with, plus `extra`.
fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("ADDR", "127.0.0.1:0"),
        ("JWT_SECRET", SECRET),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWT_LEEWAY_SECS", "0"),
        ("JWT_CACHE", "1000"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.reverse(); // `extra` wins
    vars
}

/// Starts the example's application with `extra` variables; returns its base URL.
async fn start(extra: &[(&str, &str)]) -> String {
    let config = example::Config::from_lookup(lookup(vars(extra))).unwrap();
    let app = example::app_from_config(&config).await.unwrap();
    let listener = TcpListener::bind(config.addr).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { example::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The `reason` of a refusal.
    fn reason(&self) -> String {
        self.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// One request from the client address `from`.
async fn send_from(
    from: IpAddr,
    method: Method,
    url: &str,
    bearer: Option<&str>,
    body: impl Into<Bytes>,
) -> Answer {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(from));
    let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = client
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

async fn post(base: &str, path: &str, bearer: Option<&str>, body: impl Into<Bytes>) -> Answer {
    send_from(
        LOCALHOST,
        Method::POST,
        &format!("{base}{path}"),
        bearer,
        body,
    )
    .await
}

async fn me(base: &str, token: &str) -> Answer {
    send_from(
        LOCALHOST,
        Method::GET,
        &format!("{base}/api/me"),
        Some(token),
        "",
    )
    .await
}

fn credentials(username: &str, password: &str) -> String {
    json!({ "username": username, "password": password }).to_string()
}

async fn login_from(from: IpAddr, base: &str, username: &str, password: &str) -> Answer {
    send_from(
        from,
        Method::POST,
        &format!("{base}/auth/login"),
        None,
        credentials(username, password),
    )
    .await
}

/// A pair: (access token, refresh token), from a 200 answer.
fn pair(answer: &Answer) -> (String, String) {
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let body = answer.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_u64().unwrap() > 0, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn login(base: &str) -> (String, String) {
    pair(&login_from(LOCALHOST, base, example::DEMO_USER, example::DEMO_PASSWORD).await)
}

async fn refresh(base: &str, refresh_token: &str) -> Answer {
    post(
        base,
        "/auth/refresh",
        None,
        json!({ "refresh_token": refresh_token }).to_string(),
    )
    .await
}

fn assert_revoked(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{:?}", answer.body);
    assert_eq!(answer.reason(), "revoked", "{:?}", answer.json());
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

fn assert_refresh_refused(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{:?}", answer.body);
    let body = answer.json();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(body["reason"], "invalid_refresh_token", "{body}");
}

// ---------------------------------------------------------------------------------------------
// The flow, written once: run against the memory store and against Redis.

/// Login, `/api/me`, refresh and its grace window, and the three ways to log out.
async fn flow(base: &str) {
    // Login; wrong credentials; a malformed body.
    let (access, refresh_token) = login(base).await;
    let wrong = login_from(LOCALHOST, base, example::DEMO_USER, "wrong-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_grant");
    assert_eq!(wrong.reason(), "invalid_credentials");
    assert!(wrong.json()["error_description"].is_string());
    for body in ["", "not json", r#"{"username":"demo"}"#, r#"{"user":1}"#] {
        let answer = post(base, "/auth/login", None, body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.json()["error"], "invalid_request", "{body}");
        assert_eq!(answer.reason(), "invalid_request", "{body}");
    }

    // The access token at /api/me: its claims. Without one: 401.
    let answer = me(base, &access).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let claims = answer.json();
    assert_eq!(claims["sub"], example::DEMO_USER);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["scope"], "read");
    let sid = claims["sid"].as_str().unwrap().to_owned();
    assert!(
        claims["jti"].is_string() && claims["exp"].is_u64(),
        "{claims}"
    );
    let anonymous = send_from(LOCALHOST, Method::GET, &format!("{base}/api/me"), None, "").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.reason(), "missing");
    // No JWKS route with HS256.
    let jwks = send_from(
        LOCALHOST,
        Method::GET,
        &format!("{base}/.well-known/jwks.json"),
        None,
        "",
    )
    .await;
    assert_eq!(jwks.status, StatusCode::NOT_FOUND);

    // Refresh: a new pair of the same session; the old token again within the grace window:
    // the same pair.
    let first = refresh(base, &refresh_token).await;
    let (access2, refresh2) = pair(&first);
    assert_ne!(access2, access);
    assert_ne!(refresh2, refresh_token);
    let again = pair(&refresh(base, &refresh_token).await);
    assert_eq!(again, (access2.clone(), refresh2.clone()));
    let claims2 = me(base, &access2).await.json();
    assert_eq!(claims2["sid"], sid.as_str());
    // Unknown and malformed refresh tokens; a body that is not the JSON.
    assert_refresh_refused(&refresh(base, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await);
    let bad = post(base, "/auth/refresh", None, "nope").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.reason(), "invalid_request");

    // Logout with the access token: 204; the session's access tokens are revoked (the cached
    // ones too: JWT_CACHE is on) and its refresh token is refused.
    let out = post(base, "/auth/logout", Some(&access2), "").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_revoked(&me(base, &access2).await);
    assert_revoked(&me(base, &access).await);
    assert_refresh_refused(&refresh(base, &refresh2).await);

    // Logout with only the refresh token (the access token may have expired).
    let (access3, refresh3) = login(base).await;
    assert_eq!(me(base, &access3).await.status, StatusCode::OK);
    let out = post(
        base,
        "/auth/logout",
        None,
        json!({ "refresh_token": refresh3 }).to_string(),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_revoked(&me(base, &access3).await);
    assert_refresh_refused(&refresh(base, &refresh3).await);
    // A revoked access token counts as none at the endpoints: the refresh token decides.
    let (access4, refresh4) = login(base).await;
    let out = post(
        base,
        "/auth/logout",
        Some(&access3),
        json!({ "refresh_token": refresh4 }).to_string(),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_revoked(&me(base, &access4).await);

    // Logout everywhere: every session of the user.
    let (access5, refresh5) = login(base).await;
    let (access6, refresh6) = login(base).await;
    let none = post(base, "/auth/logout-all", None, "").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me(base, &access6).await.status, StatusCode::OK);
    let out = post(base, "/auth/logout-all", Some(&access5), "").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    for (access, refresh_token) in [(&access5, &refresh5), (&access6, &refresh6)] {
        assert_revoked(&me(base, access).await);
        assert_refresh_refused(&refresh(base, refresh_token).await);
    }
    // A new login works after it.
    let (access7, _) = login(base).await;
    assert_eq!(me(base, &access7).await.status, StatusCode::OK);
}

#[tokio::test]
async fn example_flow_with_the_memory_store() {
    let base = start(&[]).await;
    flow(&base).await;
}

fn assert_throttled(answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        answer.body
    );
    assert_eq!(answer.reason(), "login_throttled");
    let wait: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_username_and_address_pair() {
    let base = start(&[]).await;
    let addr = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));

    // Successful logins are never throttled.
    for _ in 0..example::MAX_FAILURES + 2 {
        pair(&login_from(addr(4), &base, example::DEMO_USER, example::DEMO_PASSWORD).await);
    }

    // Five failures for one username from one address; the sixth attempt is throttled, even
    // with the right password.
    for _ in 0..example::MAX_FAILURES {
        let answer = login_from(LOCALHOST, &base, example::DEMO_USER, "guess").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.reason(), "invalid_credentials");
    }
    assert_throttled(&login_from(LOCALHOST, &base, example::DEMO_USER, "guess").await);
    assert_throttled(
        &login_from(LOCALHOST, &base, example::DEMO_USER, example::DEMO_PASSWORD).await,
    );
    // The same user from another address, and another user from the same address, are not.
    pair(&login_from(addr(2), &base, example::DEMO_USER, example::DEMO_PASSWORD).await);
    let answer = login_from(LOCALHOST, &base, "mallory", "guess").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{:?}", answer.body);
}

/// The ceilings, on the throttle itself (no hashing): ten times the pair's limit per username
/// and per address; a success takes its attempt back.
#[test]
fn the_throttle_has_a_ceiling_per_username_and_per_address() {
    let throttle = example::Throttle::default();
    let now = std::time::Instant::now();
    let addr = |n: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
    let ceiling = example::MAX_FAILURES * example::CEILING_FACTOR;
    // The pair's limit.
    for _ in 0..example::MAX_FAILURES {
        throttle.begin("alice", addr(0), now).unwrap();
    }
    assert!(throttle.begin("alice", addr(0), now).is_err());
    // The username's ceiling, across addresses.
    for n in 1..ceiling / example::MAX_FAILURES {
        for _ in 0..example::MAX_FAILURES {
            throttle.begin("alice", addr(n as u32), now).unwrap();
        }
    }
    let wait = throttle.begin("alice", addr(999), now).unwrap_err();
    assert_eq!(wait, example::FAILURE_WINDOW);
    // The address's ceiling, across usernames.
    for n in 0..ceiling {
        throttle
            .begin(&format!("user{n}"), addr(1000), now)
            .unwrap();
    }
    assert!(throttle.begin("bob", addr(1000), now).is_err());
    // A success does not count; after the window, everything is forgotten.
    for _ in 0..example::MAX_FAILURES * 3 {
        let attempt = throttle.begin("carol", addr(2000), now).unwrap();
        throttle.succeeded(attempt);
    }
    let later = now + example::FAILURE_WINDOW;
    assert!(throttle.begin("alice", addr(0), later).is_ok());
}

/// 150 concurrent wrong passwords for `demo` from one address: at most the limit are hashed
/// (answered 401), the rest answer 429; the right password from another address then logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_hash_at_most_the_limit() {
    let base = start(&[]).await;
    let attempts: Vec<_> = (0..150)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(
                async move { login_from(LOCALHOST, &base, example::DEMO_USER, "wrong").await },
            )
        })
        .collect();
    let (mut refused, mut throttled) = (0, 0);
    for attempt in attempts {
        let answer = attempt.await.unwrap();
        match answer.status {
            StatusCode::UNAUTHORIZED => {
                assert_eq!(answer.reason(), "invalid_credentials");
                refused += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert_throttled(&answer);
                throttled += 1;
            }
            other => panic!("{other}: {:?}", answer.body),
        }
    }
    assert!(refused <= example::MAX_FAILURES, "{refused} hashed");
    assert_eq!(refused + throttled, 150);
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    pair(&login_from(other, &base, example::DEMO_USER, example::DEMO_PASSWORD).await);
    eprintln!("150 concurrent wrong passwords: {refused} answered 401, {throttled} answered 429");
}

/// The login reads only JSON: a non-empty body of another media type is 415, whatever its
/// `Origin`; parameters such as `charset` are ignored.
#[tokio::test]
async fn login_refuses_a_body_that_is_not_json() {
    let base = start(&[]).await;
    let login = format!("{base}/auth/login");
    for content_type in [
        &[("content-type", "text/plain")][..],
        &[("content-type", "application/x-www-form-urlencoded")],
        &[("content-type", "multipart/form-data; boundary=x")],
        &[],
    ] {
        let answer = send_with(Method::POST, &login, content_type, &body_text()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        let body = answer.json();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["reason"], "unsupported_media_type");
        assert!(body["error_description"].as_str().is_some());
        assert!(set_cookies(&answer).is_empty());
    }
    let charset = [("content-type", "Application/JSON; charset=utf-8")];
    let answer = send_with(Method::POST, &login, &charset, &body_text()).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    // The endpoints too: a form-encoded refresh is 415, an empty one without a type is read.
    let refresh = format!("{base}/auth/refresh");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let answer = send_with(Method::POST, &refresh, &form, "refresh_token=x").await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.json()["reason"], "unsupported_media_type");
    let answer = send_with(Method::POST, &refresh, &[], "").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{:?}", answer.body);
}

/// `PUBLIC_ORIGIN`: behind a proxy, login passes on `Origin` only when it is that origin,
/// scheme included; without it, a plain-http request is taken as https.
#[tokio::test]
async fn login_origin_is_compared_with_the_public_origin() {
    let base = start(&[("PUBLIC_ORIGIN", "https://api.example")]).await;
    let login = format!("{base}/auth/login");
    let json_type = ("content-type", "application/json");
    for (origin, status) in [
        ("https://api.example", StatusCode::OK),
        ("http://api.example", StatusCode::FORBIDDEN),
        ("https://evil.example", StatusCode::FORBIDDEN),
    ] {
        let headers = [json_type, ("origin", origin), ("host", "api.example")];
        let answer = send_with(Method::POST, &login, &headers, &body_text()).await;
        assert_eq!(answer.status, status, "{origin}");
    }
    // Without it, the request's own host with the https scheme (never a forwarded header).
    let base = start(&[]).await;
    let login = format!("{base}/auth/login");
    let host = base.trim_start_matches("http://");
    for (origin, status) in [
        (format!("https://{host}"), StatusCode::OK),
        (format!("http://{host}"), StatusCode::FORBIDDEN),
    ] {
        let headers = [
            json_type,
            ("origin", origin.as_str()),
            ("x-forwarded-proto", "http"),
        ];
        let answer = send_with(Method::POST, &login, &headers, &body_text()).await;
        assert_eq!(answer.status, status, "{origin}");
    }
    // A public origin with a path is refused at startup.
    let vars = vars(&[("PUBLIC_ORIGIN", "https://api.example/path")]);
    let config = example::Config::from_lookup(lookup(vars)).unwrap();
    let err = example::app_from_config(&config).await.unwrap_err();
    assert!(err.to_string().contains("PUBLIC_ORIGIN"), "{err}");
}

#[tokio::test]
async fn bad_settings_are_refused_at_startup() {
    let refused = |extra: &[(&str, &str)]| {
        example::Config::from_lookup(lookup(vars(extra)))
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    for name in [
        "ACCESS_TTL_SECS",
        "REFRESH_TTL_SECS",
        "SESSION_TTL_SECS",
        "REFRESH_GRACE_SECS",
        "JWT_LEEWAY_SECS",
        "JWT_CACHE",
    ] {
        let err = refused(&[(name, "soon")]);
        assert!(err.contains(name), "{name}: {err}");
    }
    let err = refused(&[("JWT_SECRET", "")]);
    assert!(err.contains("JWT_SECRET is set but empty"), "{err}");
    // A grace window not shorter than the idle timeout: the sessions refuse it.
    let config = example::Config::from_lookup(lookup(vars(&[
        ("REFRESH_TTL_SECS", "5"),
        ("REFRESH_GRACE_SECS", "5"),
    ])))
    .unwrap();
    assert!(example::app_from_config(&config).await.is_err());
    // A short secret.
    let config = example::Config::from_lookup(lookup(vars(&[("JWT_SECRET", "short")]))).unwrap();
    let err = example::app_from_config(&config)
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("JWT_SECRET"), "{err}");
    assert!(!err.contains("short"), "{err}");
}

/// `REDIS_URL` on a build without Redis support is an error, never the memory store.
#[cfg(not(feature = "redis"))]
#[tokio::test]
async fn redis_url_without_the_redis_feature_is_an_error() {
    let err =
        example::Config::from_lookup(lookup(vars(&[("REDIS_URL", "redis://127.0.0.1:6379")])))
            .map(|_| ())
            .unwrap_err()
            .to_string();
    assert!(err.contains("REDIS_URL") && err.contains("redis"), "{err}");
}

/// Two instances on one Redis behave as one service: a session opened on one refreshes on the
/// other, the grace window spans both, and a logout on one is refused on the other at once.
#[cfg(feature = "redis")]
#[tokio::test]
async fn two_instances_on_one_redis_are_one_service() {
    let Some(url) = session_support::redis_url().await else {
        return;
    };
    let a = start(&[("REDIS_URL", &url)]).await;
    let b = start(&[("REDIS_URL", &url)]).await;

    let (access, refresh_token) = login(&a).await;
    assert_eq!(me(&b, &access).await.status, StatusCode::OK);
    let from_b = pair(&refresh(&b, &refresh_token).await);
    let from_a = pair(&refresh(&a, &refresh_token).await);
    assert_eq!(from_a, from_b, "one successor across instances");
    assert_eq!(me(&a, &from_b.0).await.status, StatusCode::OK);

    // Logout on A: refused on B at once (B's cache holds the token: it is checked anyway).
    let out = post(&a, "/auth/logout", Some(&from_b.0), "").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_revoked(&me(&b, &from_b.0).await);
    assert_revoked(&me(&b, &access).await);
    assert_refresh_refused(&refresh(&b, &from_b.1).await);

    // Logout by refresh token on B: refused on A.
    let (access2, refresh2) = login(&b).await;
    assert_eq!(me(&a, &access2).await.status, StatusCode::OK);
    let out = post(
        &b,
        "/auth/logout",
        None,
        json!({ "refresh_token": refresh2 }).to_string(),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_revoked(&me(&a, &access2).await);

    // The whole flow through one instance on Redis.
    flow(&a).await;
}

// ---------------------------------------------------------------------------------------------
// Browsers

/// One request with `headers`, from 127.0.0.1.
async fn send_with(method: Method, url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let client =
        Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(HttpConnector::new());
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

fn set_cookies(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn browsers_get_cookies_the_page_and_login_csrf_is_refused() {
    let trusted = "http://127.0.0.1:9";
    let base = start(&[("CORS_ORIGIN", trusted)]).await;
    let login = format!("{base}/auth/login");
    let body = json!({ "username": example::DEMO_USER, "password": example::DEMO_PASSWORD, "cookies": true })
        .to_string();
    let json_type = ("content-type", "application/json");

    // Login CSRF: another site, or a sibling origin that is not trusted, cannot log in.
    for headers in [
        &[json_type, ("sec-fetch-site", "cross-site")][..],
        &[
            json_type,
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:8"),
        ],
        &[json_type, ("origin", "http://evil.example")],
    ] {
        let answer = send_with(Method::POST, &login, headers, &body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(answer.json()["error"], "csrf");
        assert!(answer.header("www-authenticate").is_none());
        assert!(set_cookies(&answer).is_empty());
    }

    // The trusted origin (CORS_ORIGIN) logs in: three cookies, no token in the body.
    let headers = [
        json_type,
        ("sec-fetch-site", "same-site"),
        ("origin", trusted),
    ];
    let answer = send_with(Method::POST, &login, &headers, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let body = answer.json();
    assert!(
        body.get("access_token").is_none() && body.get("refresh_token").is_none(),
        "{body}"
    );
    let cookies = set_cookies(&answer);
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    assert!(cookies[0].starts_with("__Host-access_token=") && cookies[0].contains("HttpOnly"));
    assert!(cookies[1].starts_with("__Secure-refresh_token=") && cookies[1].contains("Path=/auth"));
    assert!(cookies[2].starts_with("__Host-csrf_token=") && !cookies[2].contains("HttpOnly"));
    assert_eq!(answer.header("access-control-allow-origin"), Some(trusted));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );

    // The page, with the CSRF cookie's name.
    let page = send_with(Method::GET, &format!("{base}/"), &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    assert!(
        html.contains("content=\"__Host-csrf_token\""),
        "the page names the CSRF cookie"
    );

    // Plain-http development: no Secure, no prefixes, and the layer reads the plain name.
    let base = start(&[("COOKIE_INSECURE", "1")]).await;
    let answer = send_with(
        Method::POST,
        &format!("{base}/auth/login"),
        &[json_type],
        &body_text(),
    )
    .await;
    let cookies = set_cookies(&answer);
    assert!(
        cookies[0].starts_with("access_token=") && !cookies[0].contains("Secure"),
        "{cookies:?}"
    );
    let access = cookies[0]
        .trim_start_matches("access_token=")
        .split(';')
        .next()
        .unwrap();
    let answer = send_with(
        Method::GET,
        &format!("{base}/api/me"),
        &[("cookie", &format!("access_token={access}"))],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
}

fn body_text() -> String {
    json!({ "username": example::DEMO_USER, "password": example::DEMO_PASSWORD }).to_string()
}

/// A 503 refusal with `reason`: the body shape of every refusal, `temporarily_unavailable`, no
/// challenge (nothing is wrong with the client's token).
#[cfg(feature = "redis")]
fn assert_unavailable(answer: &Answer, reason: &str) {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        answer.body
    );
    let body = answer.json();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert_eq!(body["reason"], reason, "{body}");
    assert!(answer.header("www-authenticate").is_none());
}

/// The store fails: the example runs on a `redis-server` of the test's own (never the shared
/// one). Stopped, every route that needs the store answers 503 and nothing is let in; started
/// again (empty), the same running example serves again, without a restart.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_is_503_and_back_resumes() {
    let Some(mut redis) = session_support::OwnRedis::new() else {
        return;
    };
    let url = redis.url();
    redis.start();
    let base = start(&[("REDIS_URL", &url)]).await;
    // The server may take a moment to accept connections.
    let started = std::time::Instant::now();
    let (access, refresh_token) = loop {
        let answer = login_from(LOCALHOST, &base, example::DEMO_USER, example::DEMO_PASSWORD).await;
        if answer.status == StatusCode::OK {
            break pair(&answer);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(me(&base, &access).await.status, StatusCode::OK);

    redis.stop();
    // The access token is in the verified-token cache: its revocation is checked anyway.
    assert_unavailable(&me(&base, &access).await, "revocation_unavailable");
    assert_unavailable(
        &refresh(&base, &refresh_token).await,
        "session_store_unavailable",
    );
    assert_unavailable(
        &login_from(LOCALHOST, &base, example::DEMO_USER, example::DEMO_PASSWORD).await,
        "session_store_unavailable",
    );
    let out = post(
        &base,
        "/auth/logout",
        None,
        json!({ "refresh_token": refresh_token }).to_string(),
    )
    .await;
    assert_unavailable(&out, "session_store_unavailable");

    redis.start();
    let started = std::time::Instant::now();
    let (access, refresh_token) = loop {
        let answer = login_from(LOCALHOST, &base, example::DEMO_USER, example::DEMO_PASSWORD).await;
        if answer.status == StatusCode::OK {
            break pair(&answer);
        }
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the service did not resume"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    eprintln!(
        "the service resumed {:?} after Redis was started again",
        started.elapsed()
    );
    assert_eq!(me(&base, &access).await.status, StatusCode::OK);
    let next = pair(&refresh(&base, &refresh_token).await);
    assert_eq!(me(&base, &next.0).await.status, StatusCode::OK);
    redis.stop();
}
