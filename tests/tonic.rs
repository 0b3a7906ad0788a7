//! End-to-end tests of the tonic example server: real gRPC servers on 127.0.0.1:0, called with
//! the generated tonic client (and once with a raw HTTP/2 request, to look at the wire).

#![cfg(feature = "tonic")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tower_jwt_auth::tonic::RequestExt;
use tower_jwt_auth::JwtAuthLayer;

// The example's server, configuration and generated code, reused as they are; its `main` is
// not used here.
#[allow(dead_code)]
#[path = "../examples/tonic.rs"]
mod example;

use example::greeter::greeter_client::GreeterClient;
use example::greeter::greeter_server::{Greeter, GreeterServer};
use example::greeter::{HelloReply, HelloRequest};
use example::Claims;

const SECRET: &[u8] = b"tonic integration test secret, 32+ bytes long";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "greeter";

fn config() -> example::Config {
    example::Config {
        secret: SECRET.to_vec(),
        demo_secret: false,
        issuer: Some(ISSUER.to_owned()),
        audience: Some(AUDIENCE.to_owned()),
    }
}

fn auth() -> JwtAuthLayer<Claims> {
    example::auth_layer(&config()).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token over `claims`, signed with `secret`.
fn sign(claims: serde_json::Value, secret: &[u8]) -> String {
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

/// Valid claims for `sub` with `scope`, as the server expects them.
fn claims(sub: &str, scope: &str) -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "sub": sub, "iss": ISSUER, "aud": AUDIENCE, "scope": scope,
        "iat": now, "exp": now + 600,
    })
}

fn valid_token(sub: &str) -> String {
    sign(claims(sub, "read"), SECRET)
}

/// Starts the example's server behind `auth` and returns its address.
async fn start_example(auth: JwtAuthLayer<Claims>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(example::serve(listener, auth));
    addr
}

async fn client(addr: SocketAddr) -> GreeterClient<Channel> {
    GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// A `SayHello` request with these `authorization` metadata values.
fn hello(authorization: &[&str]) -> Request<HelloRequest> {
    let mut request = Request::new(HelloRequest { name: "Ada".into() });
    for value in authorization {
        request
            .metadata_mut()
            .append("authorization", value.parse().unwrap());
    }
    request
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn www_authenticate(status: &Status) -> &str {
    status
        .metadata()
        .get("www-authenticate")
        .expect("a www-authenticate metadata entry")
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_claims() {
    let addr = start_example(auth()).await;
    let reply = client(addr)
        .await
        .say_hello(hello(&[&bearer(&valid_token("alice"))]))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, Ada! You are alice.");
}

#[tokio::test]
async fn every_failure_gets_its_code_and_the_server_keeps_serving() {
    let addr = start_example(auth()).await;
    let mut client = client(addr).await;
    let now = now();

    let expired = sign(
        serde_json::json!({
            "sub": "alice", "iss": ISSUER, "aud": AUDIENCE,
            "iat": now - 7200, "exp": now - 3600,
        }),
        SECRET,
    );
    let forged = sign(
        claims("alice", "read"),
        b"another secret, also 32 bytes or more",
    );
    let wrong_audience = sign(
        serde_json::json!({
            "sub": "alice", "iss": ISSUER, "aud": "someone-else",
            "iat": now, "exp": now + 600,
        }),
        SECRET,
    );
    let valid = valid_token("alice");

    // (name, authorization values, code, start of the message, text in www-authenticate)
    let cases: Vec<(&str, Vec<String>, Code, &str, &str)> = vec![
        (
            "no token",
            vec![],
            Code::Unauthenticated,
            "missing: ",
            "Bearer",
        ),
        (
            "expired",
            vec![bearer(&expired)],
            Code::Unauthenticated,
            "expired: ",
            "error=\"invalid_token\"",
        ),
        (
            "forged",
            vec![bearer(&forged)],
            Code::Unauthenticated,
            "invalid_signature: ",
            "error=\"invalid_token\"",
        ),
        (
            "malformed",
            vec![bearer("this-is-not-a-jwt")],
            Code::Unauthenticated,
            "malformed: ",
            "error=\"invalid_token\"",
        ),
        (
            "wrong audience",
            vec![bearer(&wrong_audience)],
            Code::Unauthenticated,
            "invalid_claims: ",
            "error=\"invalid_token\"",
        ),
        (
            "two authorization entries",
            vec![bearer(&valid), bearer(&valid)],
            Code::InvalidArgument,
            "invalid_request: ",
            "error=\"invalid_request\"",
        ),
    ];
    for (name, values, code, message, challenge) in cases {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let status = client.say_hello(hello(&values)).await.unwrap_err();
        assert_eq!(status.code(), code, "{name}: {status:?}");
        assert!(
            status.message().starts_with(message),
            "{name}: {:?}",
            status.message()
        );
        let www = www_authenticate(&status);
        assert!(www.starts_with("Bearer"), "{name}: {www}");
        assert!(www.contains(challenge), "{name}: {www}");
        if name == "no token" {
            assert_eq!(www, "Bearer", "no error attribute without a token");
        }
        // Nothing of the token comes back.
        for value in &values {
            let token = value.trim_start_matches("Bearer ");
            assert!(!status.message().contains(token), "{name}");
            assert!(!www.contains(token), "{name}");
        }
    }

    // The same connection still serves a valid token.
    let reply = client.say_hello(hello(&[&bearer(&valid)])).await.unwrap();
    assert_eq!(reply.get_ref().message, "Hello, Ada! You are alice.");
}

#[tokio::test]
async fn missing_scope_on_the_layer_is_permission_denied() {
    let admin_only = auth().require_scopes(["admin"]).unwrap();
    let addr = start_example(admin_only).await;
    let mut client = client(addr).await;

    let status = client
        .say_hello(hello(&[&bearer(&sign(
            claims("bob", "read readadmin"),
            SECRET,
        ))]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with("insufficient_scope: "));
    let www = www_authenticate(&status);
    assert!(www.contains("error=\"insufficient_scope\""), "{www}");
    assert!(www.contains("scope=\"admin\""), "{www}");

    // Without a token it is still an authentication failure, not a permission one.
    let status = client.say_hello(hello(&[])).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let reply = client
        .say_hello(hello(&[&bearer(&sign(
            claims("root", "read admin"),
            SECRET,
        ))]))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, Ada! You are root.");
}

/// A Greeter that reports what reached it through the request extensions, and counts calls.
#[derive(Clone, Default)]
struct ProbeGreeter {
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Greeter for ProbeGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let sub = request
            .extensions()
            .get::<Claims>()
            .map(|claims| claims.sub.clone())
            .unwrap_or_default();
        let scopes = request
            .scopes()
            .map(ToString::to_string)
            .unwrap_or_default();
        // The extension trait sees the same claims.
        assert_eq!(request.claims::<Claims>()?.sub, sub);
        Ok(Response::new(HelloReply {
            message: format!("sub={sub} scopes={scopes}"),
        }))
    }

    async fn say_goodbye(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let roles = request
            .roles()
            .map(|roles| roles.iter().collect::<Vec<_>>().join(","));
        Ok(Response::new(HelloReply {
            message: format!("roles={}", roles.unwrap_or_default()),
        }))
    }
}

#[tokio::test]
async fn a_scoped_variant_and_claims_in_extensions() {
    let admin = auth().require_scopes(["admin"]).unwrap();
    let probe = ProbeGreeter::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(admin)
            .add_service(GreeterServer::new(probe.clone()))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let mut client = client(addr).await;

    let status = client
        .say_hello(hello(&[&bearer(&sign(claims("bob", "read"), SECRET))]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with("insufficient_scope: "));
    assert!(www_authenticate(&status).contains("scope=\"admin\""));
    assert_eq!(
        probe.calls.load(Ordering::SeqCst),
        0,
        "a refused call never reaches the handler"
    );

    let reply = client
        .say_hello(hello(&[&bearer(&sign(
            claims("root", "admin read"),
            SECRET,
        ))]))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "sub=root scopes=admin read");
    assert_eq!(probe.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rejection_is_http_200_trailers_only_on_the_wire() {
    let addr = start_example(auth()).await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    // One gRPC frame: uncompressed, length 0 (an empty HelloRequest).
    let request = http::Request::post(format!("http://{addr}/greeter.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let response = client.request(request).await.unwrap();

    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["grpc-status"], "16");
    assert!(headers["grpc-message"]
        .to_str()
        .unwrap()
        .starts_with("missing"));
    assert_eq!(headers["www-authenticate"], "Bearer");
    // Trailers-only: the status is in the headers, and the stream ends with them.
    let collected = response.into_body().collect().await.unwrap();
    assert!(collected.trailers().is_none(), "no separate trailers");
    assert!(collected.to_bytes().is_empty(), "no body");
}

/// tonic routes by path and ignores the method: an HTTP/2 `OPTIONS` that looks like a CORS
/// preflight but carries a gRPC call (its content type and a framed message) must be refused by
/// the layer, and the handler must never run.
#[tokio::test]
async fn a_grpc_call_dressed_as_a_cors_preflight_never_reaches_the_handler() {
    let probe = ProbeGreeter::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(auth())
            .add_service(GreeterServer::new(probe.clone()))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let message = prost::Message::encode_to_vec(&HelloRequest { name: "Ada".into() });
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    let request = http::Request::builder()
        .method(http::Method::OPTIONS)
        .uri(format!("http://{addr}/greeter.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .body(Full::new(Bytes::from(frame)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let status = headers
        .get("grpc-status")
        .or_else(|| collected.trailers().and_then(|t| t.get("grpc-status")))
        .cloned();
    assert_eq!(
        probe.calls.load(Ordering::SeqCst),
        0,
        "the handler ran for an unauthenticated OPTIONS call"
    );
    assert_eq!(status.unwrap(), "16");
    assert_eq!(headers["www-authenticate"], "Bearer");
}

/// Valid claims for `sub` with the realm roles `roles` (as Keycloak puts them).
fn with_roles(sub: &str, roles: &[&str]) -> String {
    let mut claims = claims(sub, "read");
    claims["realm_access"] = serde_json::json!({ "roles": roles, "other": 1 });
    sign(claims, SECRET)
}

#[tokio::test]
async fn say_goodbye_needs_the_staff_role_and_say_hello_does_not() {
    let addr = start_example(auth()).await;
    let mut client = client(addr).await;
    let staff = with_roles("ada", &["staff", "user"]);
    let user = with_roles("bob", &["user"]);
    let no_roles = valid_token("cyd");

    // SayHello: any valid token.
    for token in [&staff, &user, &no_roles] {
        let reply = client.say_hello(hello(&[&bearer(token)])).await.unwrap();
        assert!(reply.get_ref().message.starts_with("Hello, Ada!"));
    }
    // SayGoodbye: the role `staff`.
    let reply = client.say_goodbye(hello(&[&bearer(&staff)])).await.unwrap();
    assert_eq!(reply.get_ref().message, "Goodbye, Ada! See you, ada.");
    for token in [&user, &no_roles] {
        let status = client
            .say_goodbye(hello(&[&bearer(token)]))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(
            status.message(),
            "forbidden: The access token does not grant a required role"
        );
        assert_eq!(
            www_authenticate(&status),
            "Bearer error=\"insufficient_scope\", error_description=\"The access token does not grant a required role\""
        );
    }
    // Without a token: unauthenticated, on both methods.
    let status = client.say_goodbye(hello(&[])).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // The example's token minting gives a staff token its role.
    let minted = example::mint_token(&config(), "eve", 60, &[example::STAFF]).unwrap();
    let reply = client
        .say_goodbye(hello(&[&bearer(&minted)]))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "Goodbye, Ada! See you, eve.");
}

/// The layer's requirement by path refuses before the handler runs; without it, the
/// handler-side check answers the same status.
#[tokio::test]
async fn the_layer_refuses_by_path_before_the_handler_and_the_handler_check_agrees() {
    // The layer alone, in front of a handler that checks nothing.
    let probe = ProbeGreeter::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(auth())
            .add_service(GreeterServer::new(probe.clone()))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let mut probe_client = client(addr).await;
    let user = with_roles("bob", &["user"]);
    let layer_status = probe_client
        .say_goodbye(hello(&[&bearer(&user)]))
        .await
        .unwrap_err();
    assert_eq!(layer_status.code(), Code::PermissionDenied);
    assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
    let reply = probe_client
        .say_goodbye(hello(&[&bearer(&with_roles("ada", &["staff"]))]))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "roles=staff");
    assert_eq!(probe.calls.load(Ordering::SeqCst), 1);

    // The example's handler behind a layer that reads the roles but requires nothing by path.
    let plain = tower_jwt_auth::JwtAuthLayer::<Claims>::builder()
        .key(tower_jwt_auth::Key::hmac(tower_jwt_auth::Algorithm::HS256, SECRET).unwrap())
        .issuer(ISSUER)
        .unwrap()
        .audience(AUDIENCE)
        .unwrap()
        .roles_claim("realm_access.roles")
        .unwrap()
        .build()
        .unwrap();
    let addr = start_example(plain).await;
    let mut client = client(addr).await;
    let handler_status = client
        .say_goodbye(hello(&[&bearer(&user)]))
        .await
        .unwrap_err();
    assert_eq!(handler_status.code(), layer_status.code());
    assert_eq!(handler_status.message(), layer_status.message());
    assert_eq!(
        www_authenticate(&handler_status),
        www_authenticate(&layer_status)
    );
}
