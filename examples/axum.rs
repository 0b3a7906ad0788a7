//! An axum server whose routes need a JWT, may take one, or need a scope.
//!
//! ```text
//! cargo run --example axum --features axum
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
//!
//! With a public key instead of the HS256 secret, `JWT_ALGORITHM` names the one algorithm
//! (`RS256`, `PS256`, `ES256`, `ES384` or `EdDSA`) and `JWT_PUBLIC_KEY` the PEM file; `JWT_CACHE`
//! turns the verified-token cache on with that many entries:
//!
//! ```text
//! JWT_ALGORITHM=ES256 JWT_PUBLIC_KEY=tests/keys/ec256_public.pem JWT_CACHE=10000 \
//!     cargo run --release --example axum --features axum
//! ```
//!
//! `GET /healthz`, `GET /readyz` and, with `--features metrics`, `GET /metrics` sit outside the
//! authentication layer (see `examples/common/ops.rs`).
//!
//! `benches/load.sh` runs it under `wrk`.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;
use tower_jwt_auth::axum::Claims;
use tower_jwt_auth::{
    AuthMode, BoxError, ConfigError, InvalidTokenPolicy, JwtAuthLayer, Roles, Scopes,
};

#[path = "common/mod.rs"]
pub mod common;
#[path = "common/ops.rs"]
pub mod ops;

use common::UserClaims;

/// The application, with the authentication each route needs, behind `cors`.
///
/// `/me`, `/maybe`, `/admin` and `/staff` use variants of the one layer `auth`: one configuration, one
/// verified-token cache, one key fetcher.
pub fn app(auth: JwtAuthLayer<UserClaims>, cors: CorsLayer) -> Result<Router, ConfigError> {
    let optional = auth
        .clone()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Reject));
    // The scope is checked right after the token, by the authentication layer itself.
    let admin_only = auth.clone().require_scopes(["admin"])?;
    // The role too: read from `realm_access.roles` (see `common::auth_layer_with`).
    let staff_only = auth.clone().require_roles([common::STAFF])?;
    Ok(Router::new()
        .route("/public", get(public))
        // Each route gets its own layer with `MethodRouter::layer`, which also wraps the
        // route's 405 answer: a request without a token is refused whatever its method.
        .route("/me", get(me).layer(auth.clone()))
        // A route that only needs a verified token; its handler is the one of `/public`.
        .route("/private", get(public).layer(auth))
        .route("/maybe", get(maybe).layer(optional))
        .route("/admin", get(admin).layer(admin_only))
        .route("/staff", get(staff).layer(staff_only))
        // Outside every authentication layer: it answers preflights before they get there.
        .layer(cors))
}

/// The answer of `/public` and `/private`.
pub async fn public() -> Json<Value> {
    Json(json!({ "message": "this page is public" }))
}

/// The layer in required mode lets only requests with verified claims through.
pub async fn me(Claims(claims): Claims<UserClaims>) -> Json<UserClaims> {
    Json(claims)
}

/// In optional mode, a request without a token arrives without claims.
async fn maybe(claims: Option<Claims<UserClaims>>) -> Json<Value> {
    Json(json!({ "user": claims.map(Claims::into_inner) }))
}

async fn admin(Claims(claims): Claims<UserClaims>, scopes: Scopes) -> Json<Value> {
    Json(json!({
        "message": format!("welcome, {}", claims.sub),
        "scopes": scopes.iter().collect::<Vec<_>>(),
    }))
}

async fn staff(Claims(claims): Claims<UserClaims>, roles: Roles) -> Json<Value> {
    Json(json!({
        "claims": claims,
        "roles": roles.iter().collect::<Vec<_>>(),
    }))
}

async fn run() -> Result<(), BoxError> {
    // Before the layer: it takes its metric handles from the recorder installed now.
    let metrics = ops::install_metrics()?;
    let (settings, auth) = common::auth_from_env()?;
    let listener = TcpListener::bind(settings.addr).await?;
    common::print_startup(&settings, listener.local_addr()?)?;
    let probe = ops::layer_probe(&auth);
    let app = app(auth, common::cors_layer(&settings))?.merge(ops::routes(probe, metrics));
    axum::serve(listener, app).await?;
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
