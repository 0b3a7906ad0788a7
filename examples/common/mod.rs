//! What the `axum` and `hyper` examples share: the configuration from the environment, the
//! claims type, the authentication layer built from both, and the demo token.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `ADDR` | the address to listen on | `127.0.0.1:3000` |
//! | `JWT_SECRET` | the HS256 secret, at least 32 bytes | a public demo secret, with a warning |
//! | `JWT_ISSUER` | when set, tokens must have exactly this `iss` | not checked |
//! | `JWT_AUDIENCE` | when set, tokens must have this `aud` | not checked |

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tower_jwt_auth::{Algorithm, BoxError, ConfigError, JwtAuthLayer, Key};

/// The secret used when `JWT_SECRET` is not set. It is public (it is printed right here), so
/// anyone can mint tokens a server using it accepts: it is for trying the example only.
pub const DEMO_SECRET: &str = "demo secret: public, never use it outside of a demo";

/// The address used when `ADDR` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The claims the examples expect. The layer has already checked the signature and the
/// registered claims (`exp`, and `iss`/`aud` when configured) before a handler sees them, so
/// this type only says which claims the application reads.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct UserClaims {
    /// The user.
    pub sub: String,
    /// The expiry, in seconds since the epoch.
    pub exp: u64,
    /// When the token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Who issued the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// For whom the token is meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// The granted scopes, space-separated. Handlers read them as
    /// [`Scopes`](tower_jwt_auth::Scopes), which also understands an `scp` array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "api"`
    One(String),
    /// `"aud": ["api", "other"]`
    Many(Vec<String>),
}

/// Where the HS256 secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// `JWT_SECRET` is not set: the public [`DEMO_SECRET`].
    Demo,
    /// The secret the user supplied. Nothing derived from it is ever printed.
    Provided(Vec<u8>),
}

impl Secret {
    fn bytes(&self) -> &[u8] {
        match self {
            Secret::Demo => DEMO_SECRET.as_bytes(),
            Secret::Provided(secret) => secret,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Demo => f.write_str("Demo"),
            Secret::Provided(_) => f.write_str("Provided(<redacted>)"),
        }
    }
}

/// The examples' configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `ADDR`.
    pub addr: SocketAddr,
    /// `JWT_SECRET`.
    pub secret: Secret,
    /// `JWT_ISSUER`.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`.
    pub audience: Option<String>,
}

impl Settings {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, BoxError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the configuration through `lookup`, which returns the value of a variable.
    ///
    /// A variable that is set but empty is an error rather than "unset": an empty
    /// `JWT_SECRET` must not quietly become the demo secret.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, BoxError> {
        let text = |name: &str| -> Result<Option<String>, BoxError> {
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
        };
        let addr = match text("ADDR")? {
            Some(addr) => addr
                .parse()
                .map_err(|err| format!("ADDR {addr:?} is not a socket address: {err}"))?,
            None => DEFAULT_ADDR.parse()?,
        };
        let secret = match text("JWT_SECRET")? {
            Some(secret) => Secret::Provided(secret.into_bytes()),
            None => Secret::Demo,
        };
        Ok(Self {
            addr,
            secret,
            issuer: text("JWT_ISSUER")?,
            audience: text("JWT_AUDIENCE")?,
        })
    }

    /// The demo configuration: the demo secret, no issuer, no audience.
    pub fn demo(addr: SocketAddr) -> Self {
        Self {
            addr,
            secret: Secret::Demo,
            issuer: None,
            audience: None,
        }
    }
}

/// Builds the authentication layer: HS256 only, with the issuer and the audience checked when
/// they are configured. Tokens come from the default sources: `Authorization: Bearer`, then the
/// `access_token` cookie.
pub fn auth_layer(settings: &Settings) -> Result<JwtAuthLayer<UserClaims>, BoxError> {
    let key = Key::hmac(Algorithm::HS256, settings.secret.bytes()).map_err(|err| match err {
        // Say what is needed without repeating anything about the secret itself.
        ConfigError::WeakHmacSecret { min, .. } => {
            format!("JWT_SECRET is too short: HS256 needs at least {min} bytes").into()
        }
        other => BoxError::from(other),
    })?;
    let mut builder = JwtAuthLayer::<UserClaims>::builder()
        .key(key)
        // `UserClaims` needs a `sub`: a token without one is refused as `invalid_claims`.
        .require_claims(["sub"]);
    if let Some(issuer) = &settings.issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = &settings.audience {
        builder = builder.audience(audience);
    }
    Ok(builder.build()?)
}

/// The configuration from the environment and the layer built from it.
pub fn auth_from_env() -> Result<(Settings, JwtAuthLayer<UserClaims>), BoxError> {
    let settings = Settings::from_env()?;
    let auth = auth_layer(&settings)?;
    Ok((settings, auth))
}

/// A token for trying the example: `sub` "demo-user", scope "read admin", valid for an hour,
/// with the configured issuer and audience. Only with the demo secret: `None` otherwise, as
/// nothing is ever signed with, or printed from, a secret the user supplied.
pub fn demo_token(settings: &Settings) -> Result<Option<String>, BoxError> {
    if settings.secret != Secret::Demo {
        return Ok(None);
    }
    tower_jwt_auth::crypto::ensure_default_provider();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = UserClaims {
        sub: "demo-user".to_owned(),
        exp: now + 3600,
        iat: Some(now),
        iss: settings.issuer.clone(),
        aud: settings.audience.clone().map(Audience::One),
        scope: Some("read admin".to_owned()),
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(DEMO_SECRET.as_bytes())?,
    )?;
    Ok(Some(token))
}

/// Prints where the server listens and, with the demo secret, a warning, a demo token and curl
/// commands to try it with. Everything goes to stderr.
pub fn print_startup(settings: &Settings, local_addr: SocketAddr) -> Result<(), BoxError> {
    eprintln!("listening on http://{local_addr}");
    if let Some(token) = demo_token(settings)? {
        eprintln!(
            "\nwarning: JWT_SECRET is not set, so the server uses the public demo secret: anyone \
             can mint tokens it accepts. Set JWT_SECRET (at least 32 bytes) for anything but a \
             demo.\n\
             \nA demo token (sub \"demo-user\", scope \"read admin\", valid for 1 hour):\n\
             \n  TOKEN={token}\n\
             \n  curl http://{local_addr}/public\
             \n  curl -H \"Authorization: Bearer $TOKEN\" http://{local_addr}/me\
             \n  curl --cookie \"access_token=$TOKEN\" http://{local_addr}/admin\
             \n  curl http://{local_addr}/maybe\n"
        );
    }
    Ok(())
}

/// Logs the layer's refusals (reason, method and path; never a token) to stderr.
pub fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;

    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(
            Targets::new()
                .with_target("tower_jwt_auth", LevelFilter::DEBUG)
                .with_default(LevelFilter::INFO),
        )
        .init();
}
