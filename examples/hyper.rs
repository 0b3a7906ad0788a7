//! The routes of the `axum` example on hyper 1 and hyper-util alone, without axum.
//!
//! ```text
//! cargo run --example hyper
//! ```
//!
//! | route | authentication |
//! |---|---|
//! | `GET /public` | none |
//! | `GET /me` | required: answers with the token's claims |
//! | `GET /private` | required: the same fixed answer as `/public`, without reading the claims |
//! | `GET /maybe` | optional: the claims, or `{"user":null}` without a token |
//! | `GET /admin` | required, with the scope `admin` |
//! | `GET /staff` | required, with the role `staff` in `realm_access.roles`: the claims and roles |
//!
//! `/staff` reads roles where Keycloak puts realm roles, `realm_access.roles`. The demo token
//! carries none, so `/staff` answers it `403` with the reason `forbidden`. A staff token has
//! `"realm_access": {"roles": ["staff"]}` in its claims: from Keycloak, give the user the realm
//! role `staff`; with the demo secret, sign such claims yourself (with `jsonwebtoken`, say, or
//! any JWT tool given `DEMO_SECRET` of `examples/common/mod.rs`).
//!
//! The token comes from `Authorization: Bearer <token>` or the cookie `access_token`.
//! Configuration: `ADDR` (default `127.0.0.1:3000`), `JWT_SECRET` (HS256, at least 32 bytes;
//! without it a public demo secret is used, and a demo token is printed), `JWT_ISSUER` and
//! `JWT_AUDIENCE` (checked when set), `CORS_ORIGIN` (the browser origin allowed to call the API,
//! default `http://localhost:5173`), `PUBLIC_ORIGIN` (the API's own origin behind a proxy,
//! for the CSRF guard of the cookie). See `examples/common/mod.rs`.
//!
//! CORS: tower-http's `CorsLayer` wraps the whole application, outside the authentication layer,
//! so it answers every preflight (`OPTIONS`) itself; a preflight never reaches the
//! authentication layer or a handler.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use tower::util::BoxCloneService;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
use tower_http::cors::CorsLayer;
use tower_jwt_auth::{
    AuthMode, BoxError, ConfigError, InvalidTokenPolicy, JwtAuthLayer, Roles, Scopes,
};

#[path = "common/mod.rs"]
pub mod common;

use common::UserClaims;

/// The body of every response: each route's stack has its own body type (the handler's
/// `Full<Bytes>`, wrapped by the layers it went through), boxed into one.
pub type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// The application: a request in, a response out, never an error.
pub type App = BoxCloneService<Request<Incoming>, Response<ResponseBody>, Infallible>;

/// The application, with the authentication each route needs.
///
/// Requests are routed by path first, and each route is its own stack with the layer it needs:
/// the required layer for `/me`, an optional variant of it for `/maybe`, a variant that also
/// requires the scope `admin` for `/admin`, one that requires the role `staff` for `/staff`, none
/// for `/public`. The variants share the one
/// layer's configuration, verified-token cache and key fetcher. That is the structure of the axum example, and the
/// layer answers every refusal itself (status, challenge, JSON body). The alternative, one
/// optional layer in front of everything and handlers that refuse requests without claims,
/// would leave each handler to rebuild those answers.
///
/// `cors` wraps the router, outside every authentication layer, and answers preflights itself.
pub fn app(auth: JwtAuthLayer<UserClaims>, cors: CorsLayer) -> Result<App, ConfigError> {
    // `/private` is the handler of `/public` behind the required layer.
    let private = boxed(ServiceBuilder::new().layer(auth.clone()).service_fn(public));
    let public = boxed(service_fn(public));
    let me = boxed(ServiceBuilder::new().layer(auth.clone()).service_fn(me));
    let maybe = boxed(
        ServiceBuilder::new()
            .layer(
                auth.clone()
                    .mode(AuthMode::Optional(InvalidTokenPolicy::Reject)),
            )
            .service_fn(maybe),
    );
    // The authentication layer checks the scope itself, right after the token.
    let admin = boxed(
        ServiceBuilder::new()
            .layer(auth.clone().require_scopes(["admin"])?)
            .service_fn(admin),
    );
    // And the role, read from `realm_access.roles` (see `common::auth_layer_with`).
    let staff = boxed(
        ServiceBuilder::new()
            .layer(auth.require_roles([common::STAFF])?)
            .service_fn(staff),
    );
    let not_found = boxed(service_fn(not_found));

    let router = service_fn(move |req: Request<Incoming>| {
        let route = match req.uri().path() {
            "/public" => &public,
            "/me" => &me,
            "/private" => &private,
            "/maybe" => &maybe,
            "/admin" => &admin,
            "/staff" => &staff,
            _ => &not_found,
        };
        route.clone().oneshot(req)
    });
    Ok(boxed(ServiceBuilder::new().layer(cors).service(router)))
}

/// Erases a route's service and body types.
fn boxed<S, B>(service: S) -> App
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    BoxCloneService::new(service.map_response(|response| response.map(BodyExt::boxed_unsync)))
}

type HandlerResult = Result<Response<Full<Bytes>>, Infallible>;

async fn public(req: Request<Incoming>) -> HandlerResult {
    if req.method() != Method::GET {
        return Ok(method_not_allowed());
    }
    Ok(json_response(&json!({ "message": "this page is public" })))
}

async fn me(req: Request<Incoming>) -> HandlerResult {
    if req.method() != Method::GET {
        return Ok(method_not_allowed());
    }
    // The layer in required mode lets only requests with verified claims through.
    Ok(match req.extensions().get::<UserClaims>() {
        Some(claims) => json_response(claims),
        None => internal_error(),
    })
}

async fn maybe(req: Request<Incoming>) -> HandlerResult {
    if req.method() != Method::GET {
        return Ok(method_not_allowed());
    }
    // In optional mode, a request without a token arrives without claims.
    let claims = req.extensions().get::<UserClaims>();
    Ok(json_response(&json!({ "user": claims })))
}

async fn admin(req: Request<Incoming>) -> HandlerResult {
    if req.method() != Method::GET {
        return Ok(method_not_allowed());
    }
    let extensions = req.extensions();
    Ok(
        match (extensions.get::<UserClaims>(), extensions.get::<Scopes>()) {
            (Some(claims), Some(scopes)) => json_response(&json!({
                "message": format!("welcome, {}", claims.sub),
                "scopes": scopes.iter().collect::<Vec<_>>(),
            })),
            _ => internal_error(),
        },
    )
}

async fn staff(req: Request<Incoming>) -> HandlerResult {
    if req.method() != Method::GET {
        return Ok(method_not_allowed());
    }
    let extensions = req.extensions();
    Ok(
        match (
            extensions.get::<UserClaims>(),
            Roles::from_extensions(extensions),
        ) {
            (Some(claims), Some(roles)) => json_response(&json!({
                "claims": claims,
                "roles": roles.iter().collect::<Vec<_>>(),
            })),
            _ => internal_error(),
        },
    )
}

async fn not_found(_req: Request<Incoming>) -> HandlerResult {
    Ok(plain(StatusCode::NOT_FOUND, "not found"))
}

fn json_response(value: &impl Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = Response::new(Full::from(body));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(_) => internal_error(),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET"));
    response
}

/// Only reachable if the routes above lose their layer: a server bug.
fn internal_error() -> Response<Full<Bytes>> {
    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
}

/// Serves `app` on `listener`, HTTP/1 and HTTP/2, one task per connection.
pub async fn serve(listener: TcpListener, app: App) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Out of file descriptors, say: wait a little instead of spinning.
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            if let Err(err) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}

async fn run() -> Result<(), BoxError> {
    let (settings, auth) = common::auth_from_env()?;
    let listener = TcpListener::bind(settings.addr).await?;
    common::print_startup(&settings, listener.local_addr()?)?;
    serve(listener, app(auth, common::cors_layer(&settings))?).await;
    Ok(())
}

#[tokio::main]
async fn main() {
    common::init_tracing();
    if let Err(err) = run().await {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
