//! The HTTP suite that the axum and hyper examples must both pass: included by
//! `tests/axum.rs` and `tests/hyper.rs` as `mod suite`, it calls the `start` function of the file
//! that includes it.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::example::common::{self, Secret, Settings};

pub(crate) const SECRET: &[u8] = b"the integration tests' HS256 secret";
const OTHER_SECRET: &[u8] = b"another HS256 secret, not the server's";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "api";
/// The browser origin the test servers allow.
const CORS_ORIGIN: &str = "https://app.example";

pub(crate) fn settings(issuer: Option<&str>, audience: Option<&str>) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret: Secret::Provided(SECRET.to_vec()),
        issuer: issuer.map(str::to_owned),
        audience: audience.map(str::to_owned),
        cors_origin: HeaderValue::from_static(CORS_ORIGIN),
        public_origin: None,
        dpop: Default::default(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign_with(secret: &[u8], claims: &Value) -> String {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(SECRET, claims)
}

/// Claims of "alice" with `scope`, valid for ten minutes.
fn claims(scope: &str) -> Value {
    json!({ "sub": "alice", "iat": now(), "exp": now() + 600, "scope": scope })
}

/// A valid token of "alice" with `scope`.
pub(crate) fn user(scope: &str) -> String {
    sign(&claims(scope))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(crate) struct Server {
    addr: SocketAddr,
    client: Client<HttpConnector, Empty<Bytes>>,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(
            self.headers.get(CONTENT_TYPE).unwrap(),
            "application/json",
            "{self:?}"
        );
        serde_json::from_slice(&self.body).unwrap()
    }

    fn challenge(&self) -> &str {
        self.headers
            .get(WWW_AUTHENTICATE)
            .unwrap_or_else(|| panic!("no challenge: {self:?}"))
            .to_str()
            .unwrap()
    }

    /// Asserts a refusal by the layer: the status, the JSON body's `reason`, and the
    /// challenge's `error`.
    #[track_caller]
    fn assert_refused(&self, status: u16, reason: &str, error: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let body = self.json();
        assert_eq!(body["reason"], reason, "{self:?}");
        assert_eq!(body["error"], error, "{self:?}");
        assert!(body["error_description"].is_string(), "{self:?}");
        let challenge = self.challenge();
        assert!(
            challenge.starts_with(&format!("Bearer error=\"{error}\"")),
            "{challenge}"
        );
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Server {
    pub(crate) async fn start(settings: Settings) -> Self {
        Self::at(super::start(settings).await)
    }

    /// A client of a server already listening on `addr`.
    pub(crate) fn at(addr: SocketAddr) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { addr, client }
    }

    /// Sends a request with these headers, in order; a name given twice is sent twice.
    pub(crate) async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .body(Empty::new())
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers).await
    }

    /// A valid token still gets through: the server keeps serving after refusals.
    async fn assert_still_serving(&self) {
        let reply = self
            .get("/me", &[("authorization", &bearer(&user("read")))])
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.json()["sub"], "alice");
    }
}

async fn server() -> Server {
    Server::start(settings(None, None)).await
}

#[tokio::test]
async fn public_needs_no_token() {
    let server = server().await;
    let reply = server.get("/public", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({ "message": "this page is public" }));
}

#[tokio::test]
async fn private_needs_a_token_and_answers_like_public() {
    let server = server().await;
    let reply = server.get("/private", &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.json()["reason"], "missing");
    let token = sign(&claims("read"));
    let reply = server
        .get("/private", &[("authorization", &bearer(&token))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({ "message": "this page is public" }));
}

#[tokio::test]
async fn me_answers_with_the_claims_from_a_bearer_header() {
    let server = server().await;
    let claims = claims("read write");
    let token = sign(&claims);
    let reply = server
        .get("/me", &[("authorization", &bearer(&token))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), claims);
    // The scheme is case-insensitive.
    let reply = server
        .get("/me", &[("authorization", &format!("bearer {token}"))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn me_answers_with_the_claims_from_the_cookie() {
    let server = server().await;
    let claims = claims("read");
    let token = sign(&claims);
    let reply = server
        .get("/me", &[("cookie", &format!("access_token={token}"))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), claims);

    let reply = server
        .get(
            "/me",
            &[(
                "cookie",
                &format!("theme=dark; access_token={token}; lang=en"),
            )],
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "alice");
}

#[tokio::test]
async fn me_without_a_token_is_401_with_a_bare_challenge() {
    let server = server().await;
    let reply = server.get("/me", &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge(), "Bearer");
    let body = reply.json();
    assert_eq!(body["reason"], "missing");
    assert_eq!(body["error"], "unauthorized");

    // A cookie of another name, or another scheme, is no token either.
    let reply = server.get("/me", &[("cookie", "session=abc")]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.json()["reason"], "missing");
    let reply = server
        .get("/me", &[("authorization", "Basic YWxpY2U6c2VjcmV0")])
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge(), "Bearer");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn an_expired_token_is_401_expired() {
    let server = server().await;
    let token = sign(&json!({
        "sub": "alice", "iat": now() - 7200, "exp": now() - 3600, "scope": "read",
    }));
    let reply = server
        .get("/me", &[("authorization", &bearer(&token))])
        .await;
    reply.assert_refused(401, "expired", "invalid_token");
    // From the cookie too.
    let reply = server
        .get("/me", &[("cookie", &format!("access_token={token}"))])
        .await;
    reply.assert_refused(401, "expired", "invalid_token");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_403_invalid_signature() {
    let server = server().await;
    let token = sign_with(OTHER_SECRET, &claims("read admin"));
    let reply = server
        .get("/me", &[("authorization", &bearer(&token))])
        .await;
    reply.assert_refused(403, "invalid_signature", "invalid_token");
    // Also when expired: a forged token is forged, not expired.
    let token = sign_with(
        OTHER_SECRET,
        &json!({ "sub": "alice", "iat": now() - 7200, "exp": now() - 3600 }),
    );
    let reply = server
        .get("/me", &[("authorization", &bearer(&token))])
        .await;
    reply.assert_refused(403, "invalid_signature", "invalid_token");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn an_alg_none_token_is_403_algorithm_not_allowed() {
    let server = server().await;
    let payload = URL_SAFE_NO_PAD.encode(claims("read admin").to_string());
    for alg in ["none", "None", "NONE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg, "typ": "JWT" }).to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            let reply = server
                .get("/me", &[("authorization", &bearer(&token))])
                .await;
            if token.ends_with('.') {
                reply.assert_refused(403, "algorithm_not_allowed", "invalid_token");
            } else {
                // Two segments: not a JWS at all.
                reply.assert_refused(403, "malformed", "invalid_token");
            }
        }
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_garbage_token_is_403_malformed() {
    let server = server().await;
    for token in ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30"] {
        let reply = server
            .get("/me", &[("authorization", &bearer(token))])
            .await;
        reply.assert_refused(403, "malformed", "invalid_token");
    }
    let reply = server
        .get("/me", &[("cookie", "access_token=garbage")])
        .await;
    reply.assert_refused(403, "malformed", "invalid_token");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn two_authorization_headers_are_400_invalid_request() {
    let server = server().await;
    let good = bearer(&user("read"));
    let reply = server
        .get("/me", &[("authorization", &good), ("authorization", &good)])
        .await;
    reply.assert_refused(400, "invalid_request", "invalid_request");
    let reply = server
        .get(
            "/me",
            &[("authorization", &good), ("authorization", "Bearer other")],
        )
        .await;
    reply.assert_refused(400, "invalid_request", "invalid_request");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn maybe_works_with_and_without_a_token() {
    let server = server().await;
    let claims = claims("read");
    let reply = server
        .get("/maybe", &[("authorization", &bearer(&sign(&claims)))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({ "user": claims }));

    let reply = server.get("/maybe", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), json!({ "user": null }));

    // A present but bad token is refused by default, even where a token is optional.
    let forged = sign_with(OTHER_SECRET, &claims);
    let reply = server
        .get("/maybe", &[("authorization", &bearer(&forged))])
        .await;
    reply.assert_refused(403, "invalid_signature", "invalid_token");
    let reply = server
        .get("/maybe", &[("cookie", "access_token=garbage")])
        .await;
    reply.assert_refused(403, "malformed", "invalid_token");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn admin_requires_the_admin_scope() {
    let server = server().await;
    let reply = server
        .get("/admin", &[("authorization", &bearer(&user("read admin")))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        json!({ "message": "welcome, alice", "scopes": ["read", "admin"] })
    );
    // An `scp` array grants scopes too.
    let token = sign(&json!({ "sub": "alice", "exp": now() + 600, "scp": ["admin"] }));
    let reply = server
        .get("/admin", &[("cookie", &format!("access_token={token}"))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Scopes match whole words: neither `read` nor `readadmin` grants `admin`.
    for scope in ["read", "readadmin", "Admin", ""] {
        let reply = server
            .get("/admin", &[("authorization", &bearer(&user(scope)))])
            .await;
        reply.assert_refused(403, "insufficient_scope", "insufficient_scope");
        assert!(
            reply.challenge().contains("scope=\"admin\""),
            "{}",
            reply.challenge()
        );
        assert_eq!(reply.json()["scope"], "admin");
    }

    let reply = server.get("/admin", &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.challenge(), "Bearer");
    assert_eq!(reply.json()["reason"], "missing");

    // A bad token on the admin route is refused as such, before any scope check.
    let forged = sign_with(OTHER_SECRET, &claims("admin"));
    let reply = server
        .get("/admin", &[("authorization", &bearer(&forged))])
        .await;
    reply.assert_refused(403, "invalid_signature", "invalid_token");
    server.assert_still_serving().await;
}

/// `/staff` needs the role `staff` in `realm_access.roles` (Keycloak's realm roles): 200 with
/// the claims and the roles, 403 `forbidden` without it, whatever the scopes.
#[tokio::test]
async fn staff_requires_the_staff_role() {
    let server = server().await;
    let staff = |roles: Value| {
        let mut claims = claims("read admin");
        claims["realm_access"] = json!({ "roles": roles });
        sign(&claims)
    };
    let token = staff(json!(["user", "staff"]));
    let reply = server
        .get("/staff", &[("authorization", &bearer(&token))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["claims"]["sub"], "alice");
    assert_eq!(body["claims"]["scope"], "read admin");
    assert_eq!(body["roles"], json!(["user", "staff"]));
    // From the cookie as well.
    let reply = server
        .get("/staff", &[("cookie", &format!("access_token={token}"))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Without the role: another role, a role of another case, the role as a scope, the role in
    // another claim, the role in a value of another type, no roles at all.
    let mut elsewhere = claims("staff");
    elsewhere["roles"] = json!(["staff"]);
    elsewhere["resource_access"] = json!({ "api": { "roles": ["staff"] } });
    for token in [
        staff(json!(["user"])),
        staff(json!(["Staff"])),
        staff(json!([])),
        staff(json!({ "staff": true })),
        staff(json!(["staff", 1])),
        sign(&elsewhere),
        user("read admin"),
    ] {
        let reply = server
            .get("/staff", &[("authorization", &bearer(&token))])
            .await;
        reply.assert_refused(403, "forbidden", "insufficient_scope");
        assert!(reply.json().get("scope").is_none(), "{reply:?}");
        assert!(!reply.challenge().contains("scope="), "{reply:?}");
    }
    // A string of roles, split at spaces, grants them.
    let reply = server
        .get(
            "/staff",
            &[("authorization", &bearer(&staff(json!("user staff"))))],
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let reply = server.get("/staff", &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.json()["reason"], "missing");
    // A bad token is refused as such, before any role check.
    let mut forged_claims = claims("read");
    forged_claims["realm_access"] = json!({ "roles": ["staff"] });
    let forged = sign_with(OTHER_SECRET, &forged_claims);
    let reply = server
        .get("/staff", &[("authorization", &bearer(&forged))])
        .await;
    reply.assert_refused(403, "invalid_signature", "invalid_token");
    server.assert_still_serving().await;
}

/// A CORS layer outside the authentication layer answers every preflight itself: 200 with
/// `access-control-allow-origin` for the allowed origin, 200 without it for any other, and never
/// a challenge. No handler runs and no token is needed.
#[tokio::test]
async fn a_cors_preflight_is_answered_by_the_cors_layer_outside_authentication() {
    let server = server().await;
    for path in ["/me", "/admin", "/maybe", "/private", "/public"] {
        let reply = server
            .send(
                Method::OPTIONS,
                path,
                &[
                    ("origin", CORS_ORIGIN),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "authorization"),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert_eq!(
            reply.headers["access-control-allow-origin"], CORS_ORIGIN,
            "{path}: {reply:?}"
        );
        assert_eq!(
            reply.headers["access-control-allow-credentials"], "true",
            "{path}: {reply:?}"
        );
        let allowed = reply.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization"), "{path}: {reply:?}");
        assert!(reply.headers.get(WWW_AUTHENTICATE).is_none(), "{reply:?}");

        let reply = server
            .send(
                Method::OPTIONS,
                path,
                &[
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "authorization"),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert!(
            reply.headers.get("access-control-allow-origin").is_none(),
            "{path}: {reply:?}"
        );
        assert!(reply.headers.get(WWW_AUTHENTICATE).is_none(), "{reply:?}");
    }
    // The actual request from the allowed origin still needs its token, and gets the CORS
    // headers on the refusal too, so that the browser's script can read it.
    let reply = server.get("/me", &[("origin", CORS_ORIGIN)]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.json()["reason"], "missing");
    assert_eq!(reply.headers["access-control-allow-origin"], CORS_ORIGIN);
    let reply = server
        .get(
            "/me",
            &[
                ("origin", CORS_ORIGIN),
                ("authorization", &bearer(&user("read"))),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.headers["access-control-allow-origin"], CORS_ORIGIN);
}

/// Any client can ask for a gRPC-style refusal with its content type, on any route: that answer
/// (HTTP 200) must not be stored by a shared cache any more than the JSON one.
#[tokio::test]
async fn a_grpc_style_refusal_on_an_http_route_is_not_cacheable() {
    let server = server().await;
    for path in ["/me", "/admin", "/maybe", "/private"] {
        let headers: &[(&str, &str)] = if path == "/maybe" {
            &[
                ("content-type", "application/grpc"),
                ("authorization", "Bearer not-a-jwt"),
            ]
        } else {
            &[("content-type", "application/grpc")]
        };
        let reply = server.get(path, headers).await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert_eq!(reply.headers["grpc-status"], "16", "{path}: {reply:?}");
        assert_eq!(
            reply
                .headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path}: {reply:?}"
        );
    }
    // The JSON refusal too.
    let reply = server.get("/me", &[]).await;
    assert_eq!(reply.headers["cache-control"], "no-store", "{reply:?}");
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let server = Server::start(settings(Some(ISSUER), Some(AUDIENCE))).await;
    let good = json!({
        "sub": "alice", "iat": now(), "exp": now() + 600, "iss": ISSUER, "aud": AUDIENCE,
    });
    let reply = server
        .get("/me", &[("authorization", &bearer(&sign(&good)))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json(), good);
    let mut many = good.clone();
    many["aud"] = json!(["other", AUDIENCE]);
    let reply = server
        .get("/me", &[("authorization", &bearer(&sign(&many)))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["aud"], json!(["other", AUDIENCE]));

    let wrong: [(&str, Value); 6] = [
        ("iss", json!("https://evil.test")),
        ("iss", json!("https://issuer.test/")),
        ("iss", Value::Null),
        ("aud", json!("other")),
        ("aud", json!(["other", "api2"])),
        ("aud", Value::Null),
    ];
    for (claim, value) in wrong {
        let mut claims = good.clone();
        match value {
            Value::Null => {
                claims.as_object_mut().unwrap().remove(claim);
            }
            value => claims[claim] = value,
        }
        let reply = server
            .get("/me", &[("authorization", &bearer(&sign(&claims)))])
            .await;
        reply.assert_refused(403, "invalid_claims", "invalid_token");
    }
    // A token without `sub`, which the example's claims type needs.
    let mut no_sub = good.clone();
    no_sub.as_object_mut().unwrap().remove("sub");
    let reply = server
        .get("/me", &[("authorization", &bearer(&sign(&no_sub)))])
        .await;
    reply.assert_refused(403, "invalid_claims", "invalid_token");

    let reply = server
        .get("/me", &[("authorization", &bearer(&sign(&good)))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn the_demo_token_works_with_the_demo_secret() {
    let settings = Settings::demo("127.0.0.1:0".parse().unwrap());
    let token = common::demo_token(&settings).unwrap().unwrap();
    let server = Server::start(settings).await;
    let reply = server
        .get("/me", &[("authorization", &bearer(&token))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["sub"], "demo-user");
    assert_eq!(body["scope"], "read admin");
    let reply = server
        .get("/admin", &[("cookie", &format!("access_token={token}"))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The test's own tokens are not signed with the demo secret.
    let reply = server
        .get("/me", &[("authorization", &bearer(&user("read")))])
        .await;
    reply.assert_refused(403, "invalid_signature", "invalid_token");

    // With an issuer and an audience configured, the demo token carries them.
    let settings = Settings {
        issuer: Some(ISSUER.to_owned()),
        audience: Some(AUDIENCE.to_owned()),
        ..Settings::demo("127.0.0.1:0".parse().unwrap())
    };
    let token = common::demo_token(&settings).unwrap().unwrap();
    let server = Server::start(settings).await;
    let reply = server
        .get("/me", &[("authorization", &bearer(&token))])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["iss"], ISSUER);
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let server = Server::start(settings(None, None)).await;
    let reply = server.get("/nope", &[]).await;
    assert_eq!(reply.status, 404);
    let reply = server
        .get(
            "/nope",
            &[("authorization", &format!("Bearer {}", user("read")))],
        )
        .await;
    assert_eq!(reply.status, 404);
}
