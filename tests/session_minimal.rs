//! The `session_minimal` example for real: built with this test's features
//! (`cargo build --example session_minimal`, a no-op after `cargo test --all-features` built
//! it), run as a child process on a free port, and driven over HTTP with a real client: login
//! of both users, `/me`, `/admin`, refresh (the cookies follow), the crate's endpoints under
//! `/auth`, logout, and the refusals (`revoked`, `forbidden`, `csrf`, `invalid_credentials`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

mod examples_support;

const SECRET: &str = "session-minimal-test-secret-of-32+bytes";

/// The running example; its stderr is collected.
struct Example {
    running: examples_support::Running,
    addr: SocketAddr,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or_default()
    }

    /// The values of the `Set-Cookie` headers named `name`.
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }
}

impl Example {
    async fn start(secret: Option<&str>) -> Self {
        let env: Vec<_> = secret
            .map(|secret| ("JWT_SECRET", secret))
            .into_iter()
            .collect();
        let path = examples_support::example("session_minimal", &["session_minimal"]);
        let running = examples_support::Running::spawn(path, &env);
        let addr = running.addr;
        let example = Self { running, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !example.stderr().contains("listening on") {
            assert!(
                Instant::now() < deadline,
                "session_minimal did not start within 60 s; its stderr:\n{}",
                example.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        example
    }

    fn stderr(&self) -> String {
        self.running.stderr()
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
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
            .unwrap_or_else(|e| panic!("{path}: {e}; stderr:\n{}", self.stderr()));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn login(&self, username: &str, password: &str, extra: &[(&str, &str)]) -> Answer {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend_from_slice(extra);
        let body = json!({"username": username, "password": password}).to_string();
        self.send(Method::POST, "/login", &headers, &body).await
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        let bearer = format!("Bearer {token}");
        self.send(Method::GET, path, &[("authorization", &bearer)], "")
            .await
    }
}

fn token(answer: &Answer, name: &str) -> String {
    answer.body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {}", answer.body))
        .to_owned()
}

#[tokio::test]
async fn session_minimal_serves_login_roles_refresh_logout_and_csrf_over_http() {
    let app = Example::start(Some(SECRET)).await;
    assert!(!app.stderr().contains("warning"), "{}", app.stderr());

    // Wrong credentials, and an unknown user.
    for (user, password) in [("alice", "bob-pw"), ("carol", "alice-pw")] {
        let wrong = app.login(user, password, &[]).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.reason(), "invalid_credentials");
    }
    // Login CSRF: a request another site made the browser send is refused, right credentials
    // or not, by Fetch Metadata or, without it, by `Origin`.
    for cross_site in [
        [("sec-fetch-site", "cross-site")],
        [("origin", "https://evil.example")],
    ] {
        let refused = app.login("alice", "alice-pw", &cross_site).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert_eq!(refused.body["error"], "csrf");
        assert_eq!(refused.reason(), "csrf");
    }
    // The site's own page passes, and so does a client that is not a browser (no Fetch
    // Metadata, no `Origin`).
    let alice = app
        .login("alice", "alice-pw", &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(alice.status, StatusCode::OK, "{}", alice.body);
    assert_eq!(alice.headers["cache-control"], "no-store");
    assert_eq!(alice.body["token_type"], "Bearer");
    let access = token(&alice, "access_token");
    let refresh = token(&alice, "refresh_token");
    assert_eq!(
        alice.set_cookie("__Host-access_token"),
        Some(access.clone())
    );
    assert_eq!(
        alice.set_cookie("__Secure-refresh_token"),
        Some(refresh.clone())
    );
    let bob = app.login("bob", "bob-pw", &[]).await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.body);
    let bob_access = token(&bob, "access_token");

    // /me for both; /admin for alice only (the role put into the token at login).
    let me = app.get("/me", &access).await;
    assert_eq!(
        (me.status, &me.body["sub"]),
        (StatusCode::OK, &json!("alice"))
    );
    assert_eq!(app.get("/me", &bob_access).await.body["sub"], "bob");
    let admin = app.get("/admin", &access).await;
    assert_eq!(admin.status, StatusCode::OK);
    assert_eq!(admin.body["sub"], "alice");
    let forbidden = app.get("/admin", &bob_access).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.reason(), "forbidden");
    // The layer reads the access cookie too.
    let cookie = format!("__Host-access_token={access}");
    let by_cookie = app
        .send(Method::GET, "/me", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(by_cookie.body["sub"], "alice");

    // Refresh with the token in the body: a new pair, and the cookies follow it.
    let body = json!({ "refresh_token": refresh }).to_string();
    let json_type = ("content-type", "application/json");
    let next = app
        .send(Method::POST, "/auth/refresh", &[json_type], &body)
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    let access = token(&next, "access_token");
    let refresh = token(&next, "refresh_token");
    assert_eq!(next.set_cookie("__Host-access_token"), Some(access.clone()));
    assert_eq!(
        next.set_cookie("__Secure-refresh_token"),
        Some(refresh.clone())
    );
    // Refresh with the cookie, as a browser page does: the cookies are set, the tokens stay
    // out of the body.
    let cookie = format!("__Secure-refresh_token={refresh}");
    let same_origin = ("sec-fetch-site", "same-origin");
    let by_cookie = app
        .send(
            Method::POST,
            "/auth/refresh",
            &[("cookie", &cookie), same_origin],
            "",
        )
        .await;
    assert_eq!(by_cookie.status, StatusCode::OK, "{}", by_cookie.body);
    assert!(by_cookie.body.get("access_token").is_none());
    let access = by_cookie.set_cookie("__Host-access_token").unwrap();
    let refresh = by_cookie.set_cookie("__Secure-refresh_token").unwrap();
    let cookie = format!("__Secure-refresh_token={refresh}");
    let state = app
        .send(Method::GET, "/auth/session", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(state.body["authenticated"], true);
    assert_eq!(state.body["sub"], "alice");
    // The devices route: the layer in front of the endpoints hands them the identity.
    let devices = app.get("/auth/sessions", &access).await;
    assert_eq!(devices.status, StatusCode::OK, "{}", devices.body);
    assert_eq!(devices.body["sessions"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/admin", &access).await.status, StatusCode::OK);

    // Logout with the access token: /me is then refused as revoked, the refresh token too.
    let bearer = format!("Bearer {access}");
    let out = app
        .send(
            Method::POST,
            "/auth/logout",
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let revoked = app.get("/me", &access).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.reason(), "revoked");
    let body = json!({ "refresh_token": refresh }).to_string();
    let gone = app
        .send(Method::POST, "/auth/refresh", &[json_type], &body)
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert_eq!(gone.reason(), "invalid_refresh_token");
    // Bob's session is another one.
    assert_eq!(app.get("/me", &bob_access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn session_minimal_warns_about_the_demo_secret() {
    let app = Example::start(None).await;
    assert!(
        app.stderr().contains(
            "warning: JWT_SECRET is not set, so the server signs with the public demo secret"
        ),
        "{}",
        app.stderr()
    );
    let alice = app.login("alice", "alice-pw", &[]).await;
    assert_eq!(alice.status, StatusCode::OK);
}
