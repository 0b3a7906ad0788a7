//! The `session` example in a real browser: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver) with fantoccini. No browser is downloaded.
//!
//! Login → the page shows the user → the access token expires → the next API calls refresh
//! silently (one refresh for concurrent calls) → a same-site page of another origin is refused
//! with 403 `csrf` → a cross-site form carries no token cookie → logout → the old cookies are
//! refused. `document.cookie` never shows a token.
//!
//! The example runs in its default DPoP mode, allowed, and its page sends DPoP proofs made with
//! a non-extractable WebCrypto key kept in IndexedDB: the session is bound to that key
//! (`cnf.jkt`), and a copied access cookie replayed from outside the page is refused with
//! `dpop_required`, a copied refresh cookie with `invalid_dpop_proof`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (or the paths in `CHROMIUM` and
//! `CHROMEDRIVER`) the test is skipped with a message, unless `REQUIRE_CHROMIUM=1` (the README's
//! test command, `.ci/test`), where it fails.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use fantoccini::{Client, ClientBuilder, Locator};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[allow(dead_code)]
#[path = "../examples/session.rs"]
mod example;

/// Debian's paths, unless `CHROMIUM` / `CHROMEDRIVER` name others.
fn binary(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

fn chromium() -> String {
    binary("CHROMIUM", "/usr/bin/chromium")
}

fn chromedriver() -> String {
    binary("CHROMEDRIVER", "/usr/bin/chromedriver")
}
const SECRET: &str = "browser-test secret of at least 32 bytes";
/// Short enough to wait for, long enough that a token checked right after it was minted is
/// still valid on a busy machine.
const ACCESS_TTL: Duration = Duration::from_secs(4);
const WAIT: Duration = Duration::from_secs(20);

fn lookup(vars: Vec<(String, String)>) -> impl Fn(&str) -> Option<OsString> {
    move |name| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| OsString::from(value))
    }
}

/// Serves the example's application, plus `POST /test/cookies`, which answers with the names
/// of the cookies it received (for the cross-site check).
async fn start_app() -> SocketAddr {
    let ttl = ACCESS_TTL.as_secs().to_string();
    let vars = [
        ("ADDR", "127.0.0.1:0"),
        ("JWT_SECRET", SECRET),
        ("JWT_LEEWAY_SECS", "0"),
        ("ACCESS_TTL_SECS", ttl.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let config = example::Config::from_lookup(lookup(vars)).unwrap();
    let app = example::app_from_config(&config)
        .await
        .unwrap()
        .route("/test/cookies", post(cookie_names));
    let listener = TcpListener::bind(config.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { example::serve(listener, app).await.unwrap() });
    addr
}

async fn cookie_names(headers: HeaderMap) -> Json<Value> {
    let names: Vec<String> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or_default().split(';'))
        .filter_map(|pair| pair.split('=').next())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    Json(json!({ "cookies": names }))
}

/// Another origin: pages whose form posts to the application as soon as they load.
async fn start_other_origin(app: SocketAddr) -> SocketAddr {
    let form = |action: String| {
        Html(format!(
            "<!doctype html><form id=f method=post action=\"{action}\">\
             <input name=x value=1></form><script>document.getElementById('f').submit()</script>"
        ))
    };
    let logout = form(format!("http://{app}/auth/logout"));
    let cookies = form(format!("http://{app}/test/cookies"));
    let router = Router::new()
        .route("/same-site", get(move || async move { logout }))
        .route("/cross-site", get(move || async move { cookies }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// chromedriver on a free port, killed (with its browser) when dropped, and the browser's
/// fresh profile directory, removed.
struct Driver {
    child: Child,
    profile: PathBuf,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn start_driver() -> Driver {
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let profile = std::env::temp_dir().join(format!(
        "tower-jwt-auth-chromium-{}-{}",
        std::process::id(),
        port
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let child = Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    Driver {
        child,
        profile,
        port,
    }
}

async fn connect(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium(),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", driver.profile.display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    let started = Instant::now();
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&url).await {
            Ok(client) => return client,
            Err(err) if started.elapsed() < WAIT => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("no WebDriver session at {url}: {err}"),
        }
    }
}

/// Evaluates `script` (a function body that returns a value) in the page.
async fn eval(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

async fn text_of(client: &Client, id: &str) -> String {
    eval(
        client,
        &format!("const e = document.getElementById('{id}'); return e ? e.textContent : '';"),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Waits until the element `id` has a text that `ready` accepts; returns it.
async fn wait_text(client: &Client, id: &str, ready: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let text = text_of(client, id).await;
        if ready(&text) {
            return text;
        }
        assert!(
            started.elapsed() < WAIT,
            "#{id} never became ready; last text {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for the page at a URL starting with `prefix` and returns its body text.
async fn body_at(client: &Client, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            let text = eval(
                client,
                "return document.body ? document.body.innerText : '';",
            )
            .await;
            let text = text.as_str().unwrap_or_default().to_owned();
            if !text.is_empty() {
                return text;
            }
        }
        assert!(started.elapsed() < WAIT, "never reached {prefix}; at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request with a real HTTP client, outside the browser.
async fn http(method: Method, url: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(HttpConnector::new());
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn chromium_present() -> bool {
    Path::new(&chromium()).exists() && Path::new(&chromedriver()).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_example_in_chromium() {
    if !chromium_present() {
        let message = format!(
            "{} and {} are needed (apt-get install chromium chromium-driver)",
            chromium(),
            chromedriver()
        );
        if std::env::var("REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("REQUIRE_CHROMIUM=1: {message}");
        }
        eprintln!("skipped: {message}; set REQUIRE_CHROMIUM=1 to fail instead");
        return;
    }
    let app = start_app().await;
    let other = start_other_origin(app).await;
    let base = format!("http://{app}");
    let driver = start_driver();
    let client = connect(&driver).await;
    // Run in a task so that a failure still closes the browser and stops chromedriver.
    let outcome = tokio::spawn({
        let client = client.clone();
        async move { run(&client, &base, other).await }
    })
    .await;
    let _ = client.close().await;
    drop(driver);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// Waits until the access token expired, calls the API through the page, and waits for the
/// silent refresh and the call's success.
async fn expire_and_call(client: &Client) {
    let before: u32 = text_of(client, "refreshes").await.parse().unwrap();
    tokio::time::sleep(ACCESS_TTL + Duration::from_secs(1)).await;
    client
        .find(Locator::Css("#me-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let after = (before + 1).to_string();
    wait_text(client, "refreshes", |t| t == after).await;
    wait_text(client, "status", |t| t == "api: 200 demo").await;
}

async fn run(client: &Client, base: &str, other: SocketAddr) {
    // Login.
    client.goto(&format!("{base}/")).await.unwrap();
    wait_text(client, "status", |t| t == "logged out").await;
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(example::DEMO_PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("#login-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(client, "status", |t| t == "api: 200 demo").await;
    assert_eq!(text_of(client, "user").await, "demo");
    eprintln!("browser: logged in, the page shows the user from /api/me");

    // The cookies as the browser keeps them (WebDriver sees HttpOnly ones; the refresh cookie
    // only on its path), and what the page can read.
    let cookies = client.get_all_cookies().await.unwrap();
    let access = cookies
        .iter()
        .find(|c| c.name() == "__Host-access_token")
        .expect("the access cookie is kept");
    assert_eq!(access.http_only(), Some(true));
    assert_eq!(access.secure(), Some(true));
    assert_eq!(access.path(), Some("/"));
    let access_token = access.value().to_owned();
    let page_cookies = eval(client, "return document.cookie;").await;
    let page_cookies = page_cookies.as_str().unwrap().to_owned();
    assert!(
        page_cookies.contains("__Host-csrf_token="),
        "{page_cookies}"
    );
    assert!(
        !page_cookies.contains("access_token") && !page_cookies.contains("refresh_token"),
        "document.cookie shows a token: {page_cookies}"
    );
    assert!(!page_cookies.contains(&access_token));
    eprintln!("browser: document.cookie shows only the CSRF cookie");

    // DPoP: the access token is bound to the page's key, which the page cannot export.
    let claims: Value = {
        use base64::Engine as _;
        let payload = access_token.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    };
    let jkt = claims["cnf"]["jkt"].as_str().expect("a bound access token");
    let extractable = client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             proofKey().then((k) => done([k.privateKey.extractable, k.jwk.kty, k.jwk.crv]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(extractable, json!([false, "EC", "P-256"]));
    // The copied cookie jar, replayed from outside the page: the access cookie without a proof,
    // and the refresh cookie (with the CSRF pair) without one.
    let (status, body) = http(
        Method::GET,
        &format!("{base}/api/me"),
        &[("cookie", &format!("__Host-access_token={access_token}"))],
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("dpop_required")),
        "{body}"
    );
    eprintln!("browser: DPoP-bound session (cnf.jkt {jkt}); the copied access cookie alone: 401 dpop_required");

    // The access token expires; the next API call refreshes silently and succeeds.
    expire_and_call(client).await;
    eprintln!("browser: the token expired, one silent refresh, the call succeeded");

    // Expired again: three concurrent calls share one refresh.
    let before: u32 = text_of(client, "refreshes").await.parse().unwrap();
    tokio::time::sleep(ACCESS_TTL + Duration::from_secs(1)).await;
    let statuses = client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             Promise.all([api('/api/me'), api('/api/me'), api('/api/me')])\
               .then((rs) => done(rs.map((r) => r.status)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(statuses, json!([200, 200, 200]));
    assert_eq!(text_of(client, "refreshes").await, (before + 1).to_string());
    let page_cookies = eval(client, "return document.cookie;").await;
    assert!(!page_cookies.as_str().unwrap().contains("access_token"));
    eprintln!("browser: three concurrent calls after expiry, one refresh, all 200");

    // A page of another origin on the same site (another port of 127.0.0.1) posts a form to
    // the logout endpoint: the access cookie is sent (SameSite=Lax, same site), and refused.
    client
        .goto(&format!("http://127.0.0.1:{}/same-site", other.port()))
        .await
        .unwrap();
    let refused = body_at(client, &format!("{base}/auth/logout")).await;
    let refused: Value = serde_json::from_str(&refused).unwrap_or_else(|_| json!(refused));
    assert_eq!(refused["error"], "csrf", "{refused}");
    assert_eq!(refused["reason"], "csrf", "{refused}");
    eprintln!("browser: same-site form POST from another origin: 403 csrf ({refused})");

    // A cross-site page (localhost is another site than 127.0.0.1) posts a form: no token
    // cookie travels at all.
    client
        .goto(&format!("http://localhost:{}/cross-site", other.port()))
        .await
        .unwrap();
    let seen = body_at(client, &format!("{base}/test/cookies")).await;
    let seen: Value = serde_json::from_str(&seen).unwrap();
    let names = seen["cookies"].as_array().unwrap();
    assert!(
        !names
            .iter()
            .any(|n| n == "__Host-access_token" || n == "__Secure-refresh_token"),
        "a token cookie went cross-site: {seen}"
    );
    eprintln!("browser: cross-site form POST carried cookies {seen}");

    // The session survived both: back on the page, still logged in.
    client.goto(&format!("{base}/")).await.unwrap();
    wait_text(client, "status", |t| t == "api: 200 demo").await;

    // The refresh cookie, read where it is sent (its path is /auth).
    client.goto(&format!("{base}/auth/session")).await.unwrap();
    let state: Value =
        serde_json::from_str(&body_at(client, &format!("{base}/auth/session")).await).unwrap();
    assert_eq!(state["authenticated"], true);
    assert_eq!(state["sub"], "demo");
    assert!(state["expires_at"].as_u64().is_some());
    assert!(state.get("access_token").is_none());
    let cookies = client.get_all_cookies().await.unwrap();
    let value = |name: &str| {
        cookies
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
            .unwrap_or_else(|| panic!("no cookie {name}"))
    };
    let refresh = value("__Secure-refresh_token");
    let csrf = value("__Host-csrf_token");
    let stolen = format!("__Secure-refresh_token={refresh}; __Host-csrf_token={csrf}");
    let (status, body) = http(
        Method::POST,
        &format!("{base}/auth/refresh"),
        &[("cookie", &stolen), ("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
        "{body}"
    );
    eprintln!("browser: the copied refresh cookie without the key: 400 invalid_dpop_proof; the session lives on");

    // A fresh access token (expire, refresh), then logout right away.
    client.goto(&format!("{base}/")).await.unwrap();
    wait_text(client, "status", |t| t == "api: 200 demo").await;
    expire_and_call(client).await;
    let cookies = client.get_all_cookies().await.unwrap();
    let access_token = cookies
        .iter()
        .find(|c| c.name() == "__Host-access_token")
        .map(|c| c.value().to_owned())
        .unwrap();
    client
        .find(Locator::Css("#logout-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(client, "status", |t| t == "logged out: 204").await;
    let left = eval(client, "return document.cookie;").await;
    assert_eq!(left, json!(""), "logout clears the cookies");
    eprintln!("browser: logged out, cookies cleared");

    // The old cookies, replayed with a plain HTTP client: refused. The access cookie even with
    // a valid proof, which the page still can make: the session was revoked.
    let ath = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes()).as_ref())
    };
    let proof = client
        .execute_async(
            "const [ath, done] = [arguments[0], arguments[arguments.length - 1]];\
             proof('GET', '/api/me', ath).then(done);",
            vec![json!(ath)],
        )
        .await
        .unwrap();
    let (status, body) = http(
        Method::GET,
        &format!("{base}/api/me"),
        &[
            ("cookie", &format!("__Host-access_token={access_token}")),
            ("dpop", proof.as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked"))
    );
    let old = format!("__Secure-refresh_token={refresh}; __Host-csrf_token={csrf}");
    let (status, body) = http(
        Method::POST,
        &format!("{base}/auth/refresh"),
        &[("cookie", &old), ("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = http(
        Method::GET,
        &format!("{base}/auth/session"),
        &[("cookie", &old)],
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "authenticated": false }))
    );
    eprintln!(
        "browser: the old access cookie gets 401 revoked, the old refresh cookie 401 invalid_grant"
    );
}
