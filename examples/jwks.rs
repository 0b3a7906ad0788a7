//! The routes of the `axum` example, with tokens verified against the keys an identity provider
//! publishes: a JWKS URL, or OIDC discovery from the issuer.
//!
//! ```text
//! JWKS_URL=https://login.example.com/realms/main/protocol/openid-connect/certs \
//! JWT_ISSUER=https://login.example.com/realms/main JWT_AUDIENCE=orders-api \
//!     cargo run --example jwks --features jwks,axum
//!
//! OIDC_DISCOVERY=1 JWT_ISSUER=https://tenant.example.auth0.com/ JWT_AUDIENCE=orders-api \
//!     cargo run --example jwks --features jwks,axum
//! ```
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `JWKS_URL` | the key set to verify tokens with | required, unless `OIDC_DISCOVERY=1` |
//! | `OIDC_DISCOVERY` | `1`: find the key set through `{JWT_ISSUER}/.well-known/openid-configuration` | off |
//! | `JWT_ISSUER` | tokens must have exactly this `iss` (required with discovery) | not checked |
//! | `JWT_AUDIENCE` | tokens must have this `aud` | not checked |
//! | `JWKS_ALLOW_HTTP` | `1`: allow plain `http://` for the key set (and discovery) | only for loopback URLs |
//! | `ADDR` | the address to listen on | `127.0.0.1:3000` |
//! | `JWKS_CACHE_TTL` | seconds: the longest the key set is cached (also its default lifetime) | the source's defaults |
//! | `JWKS_MAX_STALENESS` | seconds: how long past its cache lifetime the key set may serve | 24 h |
//! | `DPOP` | `off`, `allowed` or `required`: DPoP (RFC 9449) for bound tokens, as the `axum` example | `off` |
//! | `PUBLIC_ORIGIN` | the API's own origin, which DPoP proofs' `htu` names (behind a proxy: the proxy's) | the request's `Host` |
//!
//! `GET /healthz`, `GET /readyz` (the keys) and, with `--features metrics`, `GET /metrics` sit
//! outside the authentication layer (see `examples/common/ops.rs`).
//!
//! Tokens signed with RS256, PS256, ES256 or EdDSA are accepted, each only with a key of the set
//! bound to that algorithm. Plain `http://` is allowed without asking for a loopback URL
//! (127.0.0.0/8, `[::1]`, `localhost`), for trying the example against a local server.
//!
//! The server starts even while the identity provider cannot be reached: requests are then
//! answered 503 (`key_source_unavailable`) until the first keys arrive, which the layer keeps
//! trying to fetch in the background.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::Uri;
use tokio::net::TcpListener;
use tower_jwt_auth::jwks::JwksSource;
use tower_jwt_auth::{Algorithm, BoxError, JwtAuthLayer};

// The routes and the configuration of the `axum` example.
#[allow(dead_code)]
#[path = "axum.rs"]
mod axum_example;

use axum_example::common::{self, Settings, UserClaims};
use axum_example::ops;

/// The algorithms the example accepts.
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// How long the start waits for the first keys before serving anyway.
const STARTUP_WAIT: Duration = Duration::from_secs(2);

const USAGE: &str = "\
usage: JWKS_URL=<url of the key set> cargo run --example jwks --features jwks,axum
   or: OIDC_DISCOVERY=1 JWT_ISSUER=<issuer url> cargo run --example jwks --features jwks,axum

optional: JWT_ISSUER, JWT_AUDIENCE, ADDR (default 127.0.0.1:3000),
          JWKS_ALLOW_HTTP=1 (plain http:// for a key set that is not on loopback)";

/// Where the keys come from.
#[derive(Debug)]
enum KeySource {
    Url(String),
    Discovery(String),
}

/// This example's configuration: the one of the other examples, and the key source.
#[derive(Debug)]
struct Config {
    settings: Settings,
    source: KeySource,
    allow_http: bool,
    cache_ttl: Option<Duration>,
    max_staleness: Option<Duration>,
}

/// A number of seconds, when the variable is set.
fn seconds(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &str,
) -> Result<Option<Duration>, BoxError> {
    text(lookup, name)?
        .map(|value| {
            value
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{name} must be a number of seconds, not {value:?}").into())
        })
        .transpose()
}

/// A variable that is set but empty is an error, as in the other examples.
fn text(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &str,
) -> Result<Option<String>, BoxError> {
    match lookup(name) {
        None => Ok(None),
        Some(value) if value.is_empty() => {
            Err(format!("{name} is set but empty: unset it or give it a value").into())
        }
        Some(value) => value
            .into_string()
            .map(Some)
            .map_err(|_| format!("{name} is not valid UTF-8").into()),
    }
}

/// `1` is on, `0` or unset is off.
fn flag(lookup: &impl Fn(&str) -> Option<OsString>, name: &str) -> Result<bool, BoxError> {
    match text(lookup, name)?.as_deref() {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(format!("{name} must be 1 or 0, not {other:?}").into()),
    }
}

impl Config {
    /// `Ok(None)` when neither `JWKS_URL` nor `OIDC_DISCOVERY=1` says where the keys are.
    fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Option<Self>, BoxError> {
        let settings = Settings::from_lookup(&lookup)?;
        let source = if flag(&lookup, "OIDC_DISCOVERY")? {
            let issuer = settings
                .issuer
                .clone()
                .ok_or("OIDC_DISCOVERY=1 needs JWT_ISSUER, the issuer to discover")?;
            KeySource::Discovery(issuer)
        } else {
            match text(&lookup, "JWKS_URL")? {
                Some(url) => KeySource::Url(url),
                None => return Ok(None),
            }
        };
        Ok(Some(Self {
            settings,
            source,
            allow_http: flag(&lookup, "JWKS_ALLOW_HTTP")?,
            cache_ttl: seconds(&lookup, "JWKS_CACHE_TTL")?,
            max_staleness: seconds(&lookup, "JWKS_MAX_STALENESS")?,
        }))
    }
}

/// `true` for a URL whose host is a loopback address or `localhost`.
fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The layer: the remote key set, the four algorithms, and the issuer and the audience when
/// they are configured. `UserClaims` needs a `sub`, so tokens without one are refused.
fn auth_layer(config: &Config) -> Result<JwtAuthLayer<UserClaims>, BoxError> {
    let (source, url) = match &config.source {
        KeySource::Url(url) => (JwksSource::new(url)?, url),
        KeySource::Discovery(issuer) => (JwksSource::discover(issuer)?, issuer),
    };
    let allow_http = config.allow_http || is_loopback(url);
    if url.starts_with("http://") && !allow_http {
        return Err(format!("{url} is plain http: set JWKS_ALLOW_HTTP=1 to allow it").into());
    }
    let mut source = source.allow_http(allow_http).algorithms(ALGORITHMS)?;
    if let Some(ttl) = config.cache_ttl {
        source = source
            .cache_ttl(Duration::from_secs(1), ttl)?
            .default_ttl(ttl);
    }
    if let Some(max_staleness) = config.max_staleness {
        source = source.max_staleness(max_staleness);
    }
    // `allow_http(true)` covers loopback only: JWKS_ALLOW_HTTP=1 names the URL's host.
    if config.allow_http && !is_loopback(url) {
        if let Some(host) = url
            .parse::<Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_owned))
        {
            source = source.allow_http_host(host)?;
        }
    }
    let mut builder = JwtAuthLayer::<UserClaims>::builder()
        .jwks(source)
        .require_claims(["sub"])?
        // The roles of `/staff`: Keycloak's realm roles (`.roles_claim("roles")` for Entra ID,
        // `"permissions"` for Auth0, `"cognito:groups"`, `"groups"` for Okta).
        .roles_claim("realm_access.roles")?;
    // With discovery the issuer is the one discovered; it is checked in tokens too.
    if let Some(issuer) = &config.settings.issuer {
        builder = builder.issuer(issuer)?;
    }
    if let Some(audience) = &config.settings.audience {
        builder = builder.audience(audience)?;
    }
    let settings = &config.settings;
    let builder = common::with_dpop(builder, settings.dpop, settings.public_origin.as_deref())?;
    Ok(builder.build()?)
}

fn print_startup(config: &Config, local_addr: SocketAddr) {
    let (what, url) = match &config.source {
        KeySource::Url(url) => ("key set", url),
        KeySource::Discovery(issuer) => ("OIDC discovery from", issuer),
    };
    eprintln!(
        "listening on http://{local_addr}, verifying {} tokens with the {what} {url}\n\
         \n  curl http://{local_addr}/public\
         \n  curl -H \"Authorization: Bearer $TOKEN\" http://{local_addr}/me\
         \n  curl -H \"Authorization: Bearer $TOKEN\" http://{local_addr}/admin\
         \n  curl http://{local_addr}/maybe\n",
        ALGORITHMS.map(|alg| format!("{alg:?}")).join(", "),
    );
}

async fn run(config: Config) -> Result<(), BoxError> {
    // Before the layer: it takes its metric handles from the recorder installed now.
    let metrics = ops::install_metrics()?;
    let auth = auth_layer(&config)?;
    // Give the provider a moment, but start without keys if it does not answer: requests get
    // 503 until the layer's background fetch succeeds.
    match auth.wait_for_keys(STARTUP_WAIT).await {
        Ok(()) => eprintln!("keys loaded"),
        Err(_) => eprintln!(
            "warning: no keys yet; answering 503 until the key set can be fetched (retried in \
             the background)"
        ),
    }
    let listener = TcpListener::bind(config.settings.addr).await?;
    print_startup(&config, listener.local_addr()?);
    let cors = common::cors_layer(&config.settings);
    let probe = ops::layer_probe(&auth);
    let app = axum_example::app(auth, cors)?.merge(ops::routes(probe, metrics));
    axum::serve(listener, app).await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    common::init_tracing();
    let config = match Config::from_lookup(|name| std::env::var_os(name)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            eprintln!("JWKS_URL is not set and OIDC_DISCOVERY is not 1.\n\n{USAGE}");
            std::process::exit(2);
        }
        Err(err) => {
            eprintln!("error: {err}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(err) = run(config).await {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
