//! The `hyper` example, served on 127.0.0.1:0 and called with a real HTTP client.

use std::ffi::OsString;
use std::net::SocketAddr;

use tokio::net::TcpListener;

#[allow(dead_code)]
#[path = "../examples/hyper.rs"]
mod example;

use example::common::{self, Secret, Settings};

/// Starts the example's server with `settings`, on the address they name.
async fn start(settings: Settings) -> SocketAddr {
    let auth = common::auth_layer(&settings).unwrap();
    let app = example::app(auth, common::cors_layer(&settings)).unwrap();
    let listener = TcpListener::bind(settings.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(example::serve(listener, app));
    addr
}

fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| OsString::from(value))
    }
}

#[test]
fn settings_default_to_the_demo() {
    let settings = Settings::from_lookup(lookup(&[])).unwrap();
    assert_eq!(settings.addr, common::DEFAULT_ADDR.parse().unwrap());
    assert_eq!(settings.secret, Secret::Demo);
    assert_eq!(settings.issuer, None);
    assert_eq!(settings.audience, None);
    assert_eq!(settings.cors_origin, common::DEFAULT_CORS_ORIGIN);
}

#[test]
fn settings_come_from_the_environment() {
    let settings = Settings::from_lookup(lookup(&[
        ("ADDR", "127.0.0.1:8080"),
        ("JWT_SECRET", "a secret of the user, 32 bytes or more"),
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "api"),
        ("CORS_ORIGIN", "https://app.example:8443"),
    ]))
    .unwrap();
    assert_eq!(settings.cors_origin, "https://app.example:8443");
    assert_eq!(settings.addr, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(
        settings.secret,
        Secret::Provided(b"a secret of the user, 32 bytes or more".to_vec())
    );
    assert_eq!(settings.issuer.as_deref(), Some("https://issuer.test"));
    assert_eq!(settings.audience.as_deref(), Some("api"));
    // Nothing is signed with, or printed from, the user's secret.
    assert_eq!(common::demo_token(&settings).unwrap(), None);
    assert!(!format!("{settings:?}").contains("a secret of the user"));
}

#[test]
fn bad_settings_are_refused() {
    // An empty secret must not fall back to the public demo secret.
    let err = Settings::from_lookup(lookup(&[("JWT_SECRET", "")])).unwrap_err();
    assert!(err.to_string().contains("JWT_SECRET"), "{err}");
    let err = Settings::from_lookup(lookup(&[("JWT_ISSUER", "")])).unwrap_err();
    assert!(err.to_string().contains("JWT_ISSUER"), "{err}");
    let err = Settings::from_lookup(lookup(&[("ADDR", "localhost")])).unwrap_err();
    assert!(err.to_string().contains("ADDR"), "{err}");
    // One origin, no wildcard (credentials are allowed), no path.
    for origin in [
        "*",
        "",
        "app.example",
        "https://app.example/path",
        "ftp://x",
    ] {
        let err = Settings::from_lookup(lookup(&[("CORS_ORIGIN", origin)])).unwrap_err();
        assert!(err.to_string().contains("CORS_ORIGIN"), "{origin:?}: {err}");
    }

    let short = Settings {
        secret: Secret::Provided(b"too short".to_vec()),
        ..Settings::demo("127.0.0.1:0".parse().unwrap())
    };
    // The message says what is needed, and nothing about the secret itself (not even its
    // length).
    let err = common::auth_layer(&short).unwrap_err().to_string();
    assert_eq!(
        err,
        "JWT_SECRET is too short: HS256 needs at least 32 bytes"
    );
}

// The suite both HTTP servers must pass; it calls this file's `start`.
#[path = "http_suite/mod.rs"]
mod suite;

/// A plain hyper `service_fn` behind the layer: a CORS preflight without a token is refused by
/// the layer and never runs the function.
#[tokio::test]
async fn a_preflight_never_reaches_a_service_fn() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tower::util::BoxCloneService;
    use tower::{ServiceBuilder, ServiceExt};

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let auth = common::auth_layer(&suite::settings(None, None)).unwrap();
    let service = ServiceBuilder::new()
        .layer(auth)
        .service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                    "ran",
                ))))
            }
        })
        .map_response(|response| response.map(BodyExt::boxed_unsync));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(example::serve(listener, BoxCloneService::new(service)));
    let server = suite::Server::at(addr);
    let reply = server
        .send(
            hyper::Method::OPTIONS,
            "/anything",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the service_fn ran without a token"
    );
}
