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
    let app = example::app(auth, common::cors_layer(&settings)).unwrap();
    let listener = TcpListener::bind(settings.addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

// The suite both HTTP servers must pass; it calls this file's `start`.
#[path = "http_suite/mod.rs"]
mod suite;

/// Routes that answer every method (`any`, `route_service`, the fallback) behind the layer: a
/// CORS preflight without a token is refused by the layer and never runs their handler.
#[tokio::test]
async fn a_preflight_never_reaches_an_any_route_a_service_route_or_the_fallback() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::routing::any;
    use axum::Router;

    let calls = Arc::new(AtomicUsize::new(0));
    let counted = |calls: &Arc<AtomicUsize>| {
        let calls = calls.clone();
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { "handler ran" }
        }
    };
    let service_calls = calls.clone();
    let service = tower::service_fn(move |_req: axum::extract::Request| {
        service_calls.fetch_add(1, Ordering::SeqCst);
        async {
            Ok::<_, std::convert::Infallible>(axum::response::Response::new(
                axum::body::Body::empty(),
            ))
        }
    });
    let settings = suite::settings(None, None);
    let auth = common::auth_layer(&settings).unwrap();
    let app = Router::new()
        .route("/any", any(counted(&calls)))
        .route_service("/service", service)
        .fallback(counted(&calls))
        .layer(auth);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let server = suite::Server::at(addr);
    for path in ["/any", "/service", "/elsewhere"] {
        let reply = server
            .send(
                hyper::Method::OPTIONS,
                path,
                &[
                    ("origin", "https://app.example"),
                    ("access-control-request-method", "POST"),
                ],
            )
            .await;
        assert_eq!(reply.status, 401, "{path}: {reply:?}");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a handler ran without a token"
    );
}
