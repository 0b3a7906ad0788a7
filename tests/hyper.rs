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
    let app = example::app(auth).unwrap();
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
}

#[test]
fn settings_come_from_the_environment() {
    let settings = Settings::from_lookup(lookup(&[
        ("ADDR", "127.0.0.1:8080"),
        ("JWT_SECRET", "a secret of the user, 32 bytes or more"),
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "api"),
    ]))
    .unwrap();
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
