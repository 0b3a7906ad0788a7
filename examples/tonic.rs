//! A gRPC server behind `JwtAuthLayer`: the Greeter service of `examples/proto/greeter.proto`,
//! answering only callers with a valid HS256 token in the `authorization` metadata.
//!
//! | method | needs |
//! |---|---|
//! | `greeter.Greeter/SayHello` | a valid token |
//! | `greeter.Greeter/SayGoodbye` | a valid token with the role `staff` in `realm_access.roles` |
//!
//! The one layer in front of the service reads the roles from `realm_access.roles` (where
//! Keycloak puts realm roles) and requires `staff` for the path of `SayGoodbye`: tonic routes a
//! call by its path (`/greeter.Greeter/SayGoodbye`) and nothing else, so the layer refuses the
//! call before the handler runs. The handler checks the role too, with
//! `request.require_role("staff")?`, to show the handler-side way; either alone suffices.
//!
//! ```sh
//! cargo run --example tonic --features tonic
//! ```
//!
//! Configuration, from the environment:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `ADDR` | the address to listen on | `127.0.0.1:50051` |
//! | `JWT_SECRET` | the HS256 secret, 32 bytes or more | a public demo secret, with a warning |
//! | `JWT_ISSUER` | when set, tokens must carry this `iss` | not checked |
//! | `JWT_AUDIENCE` | when set, tokens must carry this `aud` | not checked |
//!
//! With the demo secret, the server prints a ready-to-use token (valid for one hour) and a
//! `grpcurl` command line. The reply names the token's subject:
//! `Hello, newcomer! You are demo-user.` The demo token has no role, so `SayGoodbye` answers it
//! `PERMISSION_DENIED` (`forbidden: …`); a staff token carries
//! `"realm_access": {"roles": ["staff"]}` (with the demo secret, [`mint_token`] makes one for
//! `&["staff"]`; with Keycloak, give the user the realm role `staff`).
//!
//! A refused call gets `UNAUTHENTICATED` (every token failure), `INVALID_ARGUMENT` (two
//! `authorization` entries) or `PERMISSION_DENIED` (a missing scope or role), with the reason at
//! the start of the message (`expired: …`, `forbidden: …`) and a `www-authenticate` entry.
//!
//! `tests/tonic.rs` includes this file as a module, to run the same server.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tower_jwt_auth::tonic::RequestExt;
use tower_jwt_auth::{
    Algorithm, BoxError, ConfigError, JwtAuthLayer, Key, Requirement, TokenSource,
};

#[allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    clippy::all,
    clippy::pedantic
)]
#[path = "proto/greeter.rs"]
pub mod greeter;

use greeter::greeter_server::{Greeter, GreeterServer};
use greeter::{HelloReply, HelloRequest};

/// Where the server listens when `ADDR` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:50051";

/// The secret used when `JWT_SECRET` is not set. It is public: anyone can mint tokens with it.
pub const DEMO_SECRET: &str = "tower-jwt-auth demo secret: public, never use it in production";

/// The claims the Greeter reads. The layer validates `exp` (and `iss`/`aud` when configured)
/// itself; the handler only needs the subject.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Claims {
    /// The subject: who the token was issued to.
    pub sub: String,
}

/// The verification settings.
pub struct Config {
    /// The HS256 secret.
    pub secret: Vec<u8>,
    /// `true` when `secret` is [`DEMO_SECRET`] because `JWT_SECRET` is not set.
    pub demo_secret: bool,
    /// The required `iss`, if any.
    pub issuer: Option<String>,
    /// The required `aud`, if any.
    pub audience: Option<String>,
}

impl Config {
    /// Reads `JWT_SECRET`, `JWT_ISSUER` and `JWT_AUDIENCE`.
    pub fn from_env() -> Result<Self, BoxError> {
        let (secret, demo_secret) = match std::env::var("JWT_SECRET") {
            Ok(secret) => (secret.into_bytes(), false),
            Err(std::env::VarError::NotPresent) => (DEMO_SECRET.as_bytes().to_vec(), true),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err("JWT_SECRET is not valid UTF-8".into())
            }
        };
        let optional = |name: &str| -> Result<Option<String>, BoxError> {
            match std::env::var(name) {
                Ok(value) if value.is_empty() => Ok(None),
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(format!("{name} is not valid UTF-8").into())
                }
            }
        };
        Ok(Self {
            secret,
            demo_secret,
            issuer: optional("JWT_ISSUER")?,
            audience: optional("JWT_AUDIENCE")?,
        })
    }
}

/// The role `SayGoodbye` needs.
pub const STAFF: &str = "staff";

/// The authentication layer for `config`: HS256 only, the token from the `authorization`
/// metadata (`Bearer <token>`), the roles from `realm_access.roles`, and the role `staff` for
/// `SayGoodbye`.
pub fn auth_layer(config: &Config) -> Result<JwtAuthLayer<Claims>, ConfigError> {
    let mut builder = JwtAuthLayer::<Claims>::builder()
        .key(Key::hmac(Algorithm::HS256, &config.secret)?)
        .token_sources([TokenSource::bearer()])?
        .roles_claim("realm_access.roles")?
        .require_for_path("/greeter.Greeter/SayGoodbye", Requirement::role(STAFF))?;
    if let Some(issuer) = &config.issuer {
        builder = builder.issuer(issuer.clone())?;
    }
    if let Some(audience) = &config.audience {
        builder = builder.audience(audience.clone())?;
    }
    builder.build()
}

/// The Greeter: greets the caller by the name in the request and by the token's subject.
#[derive(Debug, Default)]
pub struct MyGreeter;

#[tonic::async_trait]
impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        // Put there by the layer; a request without verified claims never gets this far.
        let claims: &Claims = request.claims()?;
        let message = format!("Hello, {}! You are {}.", request.get_ref().name, claims.sub);
        Ok(Response::new(HelloReply { message }))
    }

    async fn say_goodbye(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        // The layer already requires the role for this method; the handler-side check answers
        // the same `PERMISSION_DENIED` where no layer requirement is configured.
        request.require_role(STAFF)?;
        let claims: &Claims = request.claims()?;
        let message = format!(
            "Goodbye, {}! See you, {}.",
            request.get_ref().name,
            claims.sub
        );
        Ok(Response::new(HelloReply { message }))
    }
}

/// Serves the Greeter behind `auth` on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    auth: JwtAuthLayer<Claims>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .layer(auth)
        .add_service(GreeterServer::new(MyGreeter))
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

/// A token for `sub`, valid for `ttl_secs`, signed with `config`'s secret, with the issuer and
/// audience the server expects, and `roles` in `realm_access.roles` (as Keycloak puts them).
pub fn mint_token(
    config: &Config,
    sub: &str,
    ttl_secs: u64,
    roles: &[&str],
) -> Result<String, BoxError> {
    // Signing with jsonwebtoken needs a process-wide crypto provider, which the application
    // installs (the layer verifies through the crate's provider directly, and installs none).
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut claims = serde_json::json!({ "sub": sub, "iat": now, "exp": now + ttl_secs });
    if let Some(issuer) = &config.issuer {
        claims["iss"] = issuer.as_str().into();
    }
    if let Some(audience) = &config.audience {
        claims["aud"] = audience.as_str().into();
    }
    if !roles.is_empty() {
        claims["realm_access"] = serde_json::json!({ "roles": roles });
    }
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&config.secret)?,
    )?;
    Ok(token)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The layer logs each refusal (reason, never the token) at debug level.
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(
            Targets::new()
                .with_target("tower_jwt_auth", LevelFilter::DEBUG)
                .with_default(LevelFilter::WARN),
        )
        .init();

    let addr: SocketAddr = std::env::var("ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
        .parse()
        .map_err(|err| format!("ADDR is not a socket address: {err}"))?;
    let config = Config::from_env()?;
    let auth = auth_layer(&config)?;
    if config.demo_secret {
        eprintln!(
            "warning: JWT_SECRET is not set, so the server uses a PUBLIC demo secret: anyone can \
             mint tokens it accepts. Set JWT_SECRET (32 bytes or more) for anything but a local try."
        );
    }

    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    eprintln!("Greeter listening on {addr} (gRPC, h2c)");
    if config.demo_secret {
        // Only ever for the public demo secret: nothing derived from a user's secret is printed.
        let token = mint_token(&config, "demo-user", 3600, &[])?;
        eprintln!("A demo token for sub \"demo-user\", valid for one hour:\n\n{token}\n");
        eprintln!(
            "Try it (from the repository root):\n\n\
             grpcurl -plaintext -import-path examples/proto -proto greeter.proto \\\n  \
             -H 'authorization: Bearer {token}' \\\n  \
             -d '{{\"name\": \"newcomer\"}}' {addr} greeter.Greeter/SayHello\n"
        );
    }
    serve(listener, auth).await?;
    Ok(())
}
