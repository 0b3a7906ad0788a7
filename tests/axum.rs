//! The `axum` example, served on 127.0.0.1:0 and called with a real HTTP client.

use std::net::SocketAddr;

use tokio::net::TcpListener;

#[allow(dead_code)]
#[path = "../examples/axum.rs"]
mod example;

use example::common::{self, Settings};

/// Starts the example's server with `settings`, on the address they name.
async fn start(settings: Settings) -> SocketAddr {
    let auth = common::auth_layer(&settings).unwrap();
    let app = example::app(auth).unwrap();
    let listener = TcpListener::bind(settings.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

// The suite both HTTP servers must pass; it calls this file's `start`.
#[path = "http_suite/mod.rs"]
mod suite;
