//! The reference routes of `benches/load.sh`: what handing claims to a handler, and verifying a
//! token with the cryptographic floor, cost under load, so that the example's `/private` and
//! `/me` can be read against the least any authentication layer could cost on the same machine.
//!
//! | route | before the handler | handler |
//! |---|---|---|
//! | `/public` | nothing | the example's `/public` |
//! | `/handoff` | a clone of fixed claims and their [`Scopes`] put into the extensions: no token read, nothing verified (what a layer with a free, perfect cache would still do) | the example's `/public` |
//! | `/handoff/me` | the same | the example's `/me` |
//! | `/floor` | the token from `Authorization: Bearer`, verified by the floor of `benches/support/floor.rs` (HS256 with `JWT_SECRET`; `exp`, `iss`, `aud`), its claims and scopes put into the extensions | the example's `/public` |
//! | `/floor/me` | the same | the example's `/me` |
//!
//! Every other route is the example's own `app`, with the layer from the same environment as
//! `cargo run --example axum` (see `examples/common/mod.rs`).
//!
//! This target is a server, not a benchmark run: `cargo bench` builds it and, without
//! `LOAD_REFERENCE_SERVE=1`, it only says so and exits. `benches/load.sh` runs it.

use std::sync::Arc;

use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower::util::MapRequestLayer;
use tower_jwt_auth::{BoxError, Scopes};

#[allow(dead_code)]
#[path = "../examples/axum.rs"]
mod example;

#[allow(dead_code)]
#[path = "support/floor.rs"]
mod floor;

use example::common::{self, Audience, Secret, UserClaims};
use floor::{floor_verify_with, FloorKey};

/// What the floor checks besides the signature.
struct Expected {
    issuer: Option<String>,
    audience: Option<String>,
}

impl Expected {
    fn accepts(&self, claims: &UserClaims, now: u64) -> bool {
        let audience_ok = match (&self.audience, &claims.aud) {
            (None, _) => true,
            (Some(want), Some(Audience::One(aud))) => aud == want,
            (Some(want), Some(Audience::Many(auds))) => auds.contains(want),
            (Some(_), None) => false,
        };
        claims.exp > now && audience_ok && (self.issuer.is_none() || claims.iss == self.issuer)
    }
}

/// Puts `claims` and their scopes into the extensions of `req`, as the layer does.
fn hand_over(req: &mut Request, claims: UserClaims) {
    let scopes = Scopes::from_space_separated(claims.scope.as_deref().unwrap_or_default());
    let extensions = req.extensions_mut();
    extensions.insert(claims);
    extensions.insert(scopes);
}

/// Puts a clone of `claims` and their scopes into the extensions: the hand-off alone.
fn handoff(claims: Arc<UserClaims>) -> impl Fn(Request) -> Request + Clone {
    move |mut req: Request| {
        hand_over(&mut req, UserClaims::clone(&claims));
        req
    }
}

/// Verifies the bearer token with the floor; when it holds, hands its claims off. A request
/// whose token fails reaches the handler without claims, so `/floor/me` answers 500 (and
/// `load.sh` stops at any answer other than 200).
fn floor_layer(key: Arc<FloorKey>, expected: Arc<Expected>) -> impl Fn(Request) -> Request + Clone {
    move |mut req: Request| {
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let verified = token.and_then(|token| {
            floor_verify_with(token, &key, "HS256", |claims, now| {
                expected.accepts(claims, now)
            })
        });
        if let Some(claims) = verified {
            hand_over(&mut req, claims);
        }
        req
    }
}

async fn serve() -> Result<(), BoxError> {
    let (settings, auth) = common::auth_from_env()?;
    let Secret::Provided(secret) = &settings.secret else {
        return Err("the reference routes need JWT_SECRET (HS256)".into());
    };
    let key = Arc::new(FloorKey::Hmac(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        secret,
    )));
    let expected = Arc::new(Expected {
        issuer: settings.issuer.clone(),
        audience: settings.audience.clone(),
    });
    let fixed = Arc::new(UserClaims {
        sub: "user-1234".into(),
        exp: floor::now() + 3600,
        iat: Some(floor::now()),
        iss: settings.issuer.clone(),
        aud: settings.audience.clone().map(Audience::One),
        scope: Some("read write".into()),
    });
    let handoff = MapRequestLayer::new(handoff(fixed));
    let floor = MapRequestLayer::new(floor_layer(key, expected));
    let app = example::app(auth, common::cors_layer(&settings))?.merge(
        Router::new()
            .route("/handoff", get(example::public).layer(handoff.clone()))
            .route("/handoff/me", get(example::me).layer(handoff))
            .route("/floor", get(example::public).layer(floor.clone()))
            .route("/floor/me", get(example::me).layer(floor)),
    );
    let listener = TcpListener::bind(settings.addr).await?;
    common::print_startup(&settings, listener.local_addr()?)?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() {
    if std::env::var_os("LOAD_REFERENCE_SERVE").is_none() {
        println!("load_reference: the reference server of benches/load.sh; run that script");
        return;
    }
    common::init_tracing();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if let Err(err) = runtime.block_on(serve()) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
