//! What the `axum` and `hyper` examples share: the configuration from the environment, the
//! claims type, the authentication layer built from both, and the demo token.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `ADDR` | the address to listen on | `127.0.0.1:3000` |
//! | `JWT_ALGORITHM` | `HS256`, `RS256`, `PS256`, `ES256`, `ES384` or `EdDSA` | `HS256` |
//! | `JWT_SECRET` | the HS256 secret, at least 32 bytes | a public demo secret, with a warning |
//! | `JWT_PUBLIC_KEY` | the path of a PEM public key; required for every algorithm but `HS256` | none |
//! | `JWT_ISSUER` | when set, tokens must have exactly this `iss` | not checked |
//! | `JWT_AUDIENCE` | when set, tokens must have this `aud` | not checked |
//! | `JWT_CACHE` | when set, the verified-token cache holds this many tokens (and about 4 KiB each) | off |
//! | `CORS_ORIGIN` | the one browser origin allowed to call the API with credentials (CORS) | `http://localhost:5173` |
//! | `PUBLIC_ORIGIN` | the API's own origin as browsers see it (behind a proxy: the proxy's), which the CSRF guard compares `Origin` with, scheme included, and DPoP proofs' `htu` names | the request's `Host`, scheme `https` |
//! | `DPOP` | `off`, `allowed` (DPoP-bound tokens need a proof, bearer tokens pass) or `required` (every token bound, with a proof) | `off` |

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use http::Method;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_jwt_auth::csrf::CsrfGuard;
use tower_jwt_auth::dpop::{DpopConfig, DpopMode, DPOP};
use tower_jwt_auth::{
    Algorithm, BoxError, ConfigError, JwtAuthBuilder, JwtAuthLayer, Key, TokenSource,
};

/// The secret used when `JWT_SECRET` is not set. It is public (it is printed right here), so
/// anyone can mint tokens a server using it accepts: it is for trying the example only.
pub const DEMO_SECRET: &str = "demo secret: public, never use it outside of a demo";

/// The role `/staff` needs, read from `realm_access.roles` (where Keycloak puts realm roles).
pub const STAFF: &str = "staff";

/// The address used when `ADDR` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The browser origin allowed when `CORS_ORIGIN` is not set: a local front-end dev server.
pub const DEFAULT_CORS_ORIGIN: &str = "http://localhost:5173";

/// The algorithms `JWT_ALGORITHM` may name.
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The memory the verified-token cache may use per entry of `JWT_CACHE`: room for tokens of
/// up to about 2 KiB (the cache weighs an entry as its token, twice its decoded payload, and a
/// fixed overhead).
pub const CACHE_BYTES_PER_ENTRY: usize = 4 * 1024;

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

/// Where the key that verifies tokens comes from: an HS256 secret, or a public key.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// HS256 and `JWT_SECRET` is not set: the public [`DEMO_SECRET`].
    Demo,
    /// HS256 with the secret the user supplied. Nothing derived from it is ever printed.
    Provided(Vec<u8>),
    /// `JWT_ALGORITHM` names an asymmetric algorithm: the public key of `JWT_PUBLIC_KEY`.
    PublicKey(PublicKey),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Demo => f.write_str("Demo"),
            Secret::Provided(_) => f.write_str("Provided(<redacted>)"),
            Secret::PublicKey(key) => f.debug_tuple("PublicKey").field(key).finish(),
        }
    }
}

/// A PEM public key read from `JWT_PUBLIC_KEY`, for the algorithm of `JWT_ALGORITHM`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The one algorithm tokens may use.
    pub algorithm: Algorithm,
    /// Where the key was read from, for messages.
    pub path: PathBuf,
    /// The PEM text.
    pub pem: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The bounds of the verified-token cache, from `JWT_CACHE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// The most tokens it holds.
    pub max_entries: usize,
    /// About the most memory it uses: [`CACHE_BYTES_PER_ENTRY`] per entry.
    pub max_bytes: usize,
}

impl CacheSettings {
    /// A cache of `max_entries` tokens and [`CACHE_BYTES_PER_ENTRY`] bytes for each.
    pub fn with_capacity(max_entries: usize) -> Self {
        Self {
            max_entries,
            max_bytes: max_entries.saturating_mul(CACHE_BYTES_PER_ENTRY),
        }
    }

    /// Reads `JWT_CACHE` from the process environment: `None` when it is not set.
    pub fn from_env() -> Result<Option<Self>, BoxError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads `JWT_CACHE` through `lookup`: `None` when it is not set, an error when it is not
    /// a positive number of entries.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Option<Self>, BoxError> {
        let Some(value) = text(&lookup, "JWT_CACHE")? else {
            return Ok(None);
        };
        match value.parse::<usize>() {
            Ok(entries) if entries > 0 => Ok(Some(Self::with_capacity(entries))),
            _ => Err(format!(
                "JWT_CACHE {value:?} is not a capacity: give the number of tokens to keep (1 or \
                 more), or unset it"
            )
            .into()),
        }
    }
}

/// The value of `name`; a variable that is set but empty is an error rather than "unset": an
/// empty `JWT_SECRET` must not quietly become the demo secret.
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

/// The algorithm `JWT_ALGORITHM` names, one of [`ALGORITHMS`].
fn algorithm(name: &str) -> Result<Algorithm, BoxError> {
    ALGORITHMS
        .into_iter()
        .find(|algorithm| format!("{algorithm:?}") == name)
        .ok_or_else(|| {
            let names: Vec<String> = ALGORITHMS.iter().map(|a| format!("{a:?}")).collect();
            format!("JWT_ALGORITHM {name:?} is not one of {}", names.join(", ")).into()
        })
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
    /// `CORS_ORIGIN`.
    pub cors_origin: HeaderValue,
    /// `PUBLIC_ORIGIN`: the service's own origin for the CSRF guard and DPoP's `htu`.
    pub public_origin: Option<String>,
    /// `DPOP`: the layer's DPoP mode.
    pub dpop: DpopMode,
}

impl Settings {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, BoxError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the configuration through `lookup`, which returns the value of a variable. With an
    /// asymmetric `JWT_ALGORITHM` it also reads the file `JWT_PUBLIC_KEY` names.
    ///
    /// A variable that is set but empty is an error rather than "unset": an empty
    /// `JWT_SECRET` must not quietly become the demo secret. So is a variable that does not
    /// fit the algorithm: `JWT_SECRET` with a public-key algorithm, `JWT_PUBLIC_KEY` with
    /// HS256.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, BoxError> {
        let addr = match text(&lookup, "ADDR")? {
            Some(addr) => addr
                .parse()
                .map_err(|err| format!("ADDR {addr:?} is not a socket address: {err}"))?,
            None => DEFAULT_ADDR.parse()?,
        };
        let algorithm = match text(&lookup, "JWT_ALGORITHM")? {
            Some(name) => algorithm(&name)?,
            None => Algorithm::HS256,
        };
        let public_key = match lookup("JWT_PUBLIC_KEY") {
            Some(path) if path.is_empty() => {
                return Err("JWT_PUBLIC_KEY is set but empty: unset it or give it a value".into())
            }
            path => path.map(PathBuf::from),
        };
        let secret = text(&lookup, "JWT_SECRET")?;
        let secret = match (algorithm, secret, public_key) {
            (Algorithm::HS256, _, Some(_)) => {
                return Err(
                    "JWT_PUBLIC_KEY is for the public-key algorithms, and JWT_ALGORITHM \
                            is HS256 (the default): set JWT_ALGORITHM, or unset JWT_PUBLIC_KEY"
                        .into(),
                )
            }
            (Algorithm::HS256, Some(secret), None) => Secret::Provided(secret.into_bytes()),
            (Algorithm::HS256, None, None) => Secret::Demo,
            (algorithm, Some(_), _) => {
                return Err(format!(
                    "JWT_SECRET is for HS256, and JWT_ALGORITHM is {algorithm:?}: unset \
                     JWT_SECRET and give the public key in JWT_PUBLIC_KEY"
                )
                .into())
            }
            (algorithm, None, None) => {
                return Err(format!(
                    "JWT_ALGORITHM {algorithm:?} needs JWT_PUBLIC_KEY: the path of a PEM public key"
                )
                .into())
            }
            (algorithm, None, Some(path)) => {
                let pem = std::fs::read(&path).map_err(|err| {
                    format!("JWT_PUBLIC_KEY {}: cannot read it: {err}", path.display())
                })?;
                Secret::PublicKey(PublicKey {
                    algorithm,
                    path,
                    pem,
                })
            }
        };
        let cors_origin = match text(&lookup, "CORS_ORIGIN")? {
            Some(origin) => cors_origin(&origin)?,
            None => HeaderValue::from_static(DEFAULT_CORS_ORIGIN),
        };
        Ok(Self {
            addr,
            secret,
            issuer: text(&lookup, "JWT_ISSUER")?,
            audience: text(&lookup, "JWT_AUDIENCE")?,
            cors_origin,
            public_origin: text(&lookup, "PUBLIC_ORIGIN")?,
            dpop: dpop_mode(text(&lookup, "DPOP")?.as_deref())?,
        })
    }

    /// The demo configuration: the demo secret, no issuer, no audience, the default CORS
    /// origin.
    pub fn demo(addr: SocketAddr) -> Self {
        Self {
            addr,
            secret: Secret::Demo,
            issuer: None,
            audience: None,
            cors_origin: HeaderValue::from_static(DEFAULT_CORS_ORIGIN),
            public_origin: None,
            dpop: DpopMode::Off,
        }
    }
}

/// `DPOP`: `off` (the default), `allowed` or `required`.
pub fn dpop_mode(value: Option<&str>) -> Result<DpopMode, BoxError> {
    match value {
        None | Some("off") => Ok(DpopMode::Off),
        Some("allowed") => Ok(DpopMode::Allowed),
        Some("required") => Ok(DpopMode::Required),
        Some(other) => Err(format!("DPOP {other:?} is not off, allowed or required").into()),
    }
}

/// The DPoP settings of `DPOP` and `PUBLIC_ORIGIN` on `builder`.
pub fn with_dpop<C, R>(
    builder: JwtAuthBuilder<C, R>,
    mode: DpopMode,
    public_origin: Option<&str>,
) -> Result<JwtAuthBuilder<C, R>, BoxError> {
    if mode == DpopMode::Off {
        return Ok(builder);
    }
    let mut config = DpopConfig::new();
    if let Some(origin) = public_origin {
        config = config
            .public_origin(origin)
            .map_err(|err| format!("PUBLIC_ORIGIN: {err}"))?;
    }
    Ok(builder.dpop(mode).dpop_config(config))
}

/// `CORS_ORIGIN` checked: one origin, `http://` or `https://` with a host and no path. `*` is
/// refused: credentials are never allowed for every origin.
fn cors_origin(origin: &str) -> Result<HeaderValue, BoxError> {
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
            HeaderValue::from_str(origin)
                .map_err(|_| format!("CORS_ORIGIN {origin:?} is not a valid origin").into())
        }
        _ => Err(format!(
            "CORS_ORIGIN {origin:?} is not an origin: give one like https://app.example or \
             http://localhost:5173 (no path, no wildcard)"
        )
        .into()),
    }
}

/// The CORS layer of the examples, to put *outside* the authentication layer, so that it answers
/// every preflight (`OPTIONS`) itself before authentication runs: the one origin of
/// `CORS_ORIGIN` may send `GET` requests with the `authorization` header and with credentials
/// (the `access_token` cookie). A preflight from any other origin gets 200 without
/// `access-control-allow-origin`, which the browser treats as a refusal.
pub fn cors_layer(settings: &Settings) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list([settings.cors_origin.clone()]))
        .allow_methods([Method::GET])
        .allow_headers([AUTHORIZATION, DPOP])
        // A DPoP client reads the challenge (`algs`) of a refusal.
        .expose_headers([WWW_AUTHENTICATE])
        .allow_credentials(true)
}

/// Builds the authentication layer: one key (the HS256 secret, or the public key of
/// `JWT_PUBLIC_KEY` for its one algorithm), with the issuer and the audience checked when they
/// are configured, and no cache. Tokens come from `Authorization: Bearer`, then the
/// `access_token` cookie (named so explicitly: the layer's default cookie is
/// `__Host-access_token`, which browsers keep only from `https://` origins).
pub fn auth_layer(settings: &Settings) -> Result<JwtAuthLayer<UserClaims>, BoxError> {
    auth_layer_with(settings, None)
}

/// As [`auth_layer`], with the verified-token cache on when `cache` is given.
pub fn auth_layer_with(
    settings: &Settings,
    cache: Option<CacheSettings>,
) -> Result<JwtAuthLayer<UserClaims>, BoxError> {
    let hmac = |secret: &[u8]| {
        Key::hmac(Algorithm::HS256, secret).map_err(|err| match err {
            // Say what is needed without repeating anything about the secret itself.
            ConfigError::WeakHmacSecret { min, .. } => {
                format!("JWT_SECRET is too short: HS256 needs at least {min} bytes").into()
            }
            other => BoxError::from(other),
        })
    };
    let key = match &settings.secret {
        Secret::Demo => hmac(DEMO_SECRET.as_bytes())?,
        Secret::Provided(secret) => hmac(secret)?,
        Secret::PublicKey(public) => public_key(public)?,
    };
    let mut builder = JwtAuthLayer::<UserClaims>::builder()
        .key(key)
        .token_sources([TokenSource::bearer(), TokenSource::cookie("access_token")])?
        // `UserClaims` needs a `sub`: a token without one is refused as `invalid_claims`.
        .require_claims(["sub"])?
        // Roles, for `/staff`: Keycloak's realm roles.
        .roles_claim("realm_access.roles")?;
    if let Some(origin) = &settings.public_origin {
        let guard = CsrfGuard::new()
            .public_origin(origin)
            .map_err(|err| format!("PUBLIC_ORIGIN: {err}"))?;
        builder = builder.csrf(guard);
    }
    if let Some(issuer) = &settings.issuer {
        builder = builder.issuer(issuer)?;
    }
    if let Some(audience) = &settings.audience {
        builder = builder.audience(audience)?;
    }
    if let Some(cache) = cache {
        builder = builder.token_cache(cache.max_entries, cache.max_bytes)?;
    }
    let builder = with_dpop(builder, settings.dpop, settings.public_origin.as_deref())?;
    Ok(builder.build()?)
}

/// The key of a [`PublicKey`], for its algorithm only.
fn public_key(public: &PublicKey) -> Result<Key, BoxError> {
    let algorithm = public.algorithm;
    let key = match algorithm {
        Algorithm::RS256 | Algorithm::PS256 => Key::rsa_pem(algorithm, &public.pem),
        Algorithm::ES256 | Algorithm::ES384 => Key::ec_pem(algorithm, &public.pem),
        Algorithm::EdDSA => Key::ed_pem(&public.pem),
        other => return Err(format!("{other:?} does not verify with a public key").into()),
    };
    key.map_err(|err| {
        format!(
            "JWT_PUBLIC_KEY {}: not a public key for {algorithm:?}: {err}",
            public.path.display()
        )
        .into()
    })
}

/// The configuration from the environment (with `JWT_CACHE`) and the layer built from it.
pub fn auth_from_env() -> Result<(Settings, JwtAuthLayer<UserClaims>), BoxError> {
    let settings = Settings::from_env()?;
    let cache = CacheSettings::from_env()?;
    let auth = auth_layer_with(&settings, cache)?;
    if let Some(cache) = cache {
        eprintln!(
            "verified-token cache on: up to {} tokens, about {} KiB",
            cache.max_entries,
            cache.max_bytes / 1024
        );
    }
    Ok((settings, auth))
}

/// A token for trying the example: `sub` "demo-user", scope "read admin", valid for an hour,
/// with the configured issuer and audience. Only with the demo secret: `None` otherwise, as
/// nothing is ever signed with, or printed from, a secret the user supplied.
pub fn demo_token(settings: &Settings) -> Result<Option<String>, BoxError> {
    if settings.secret != Secret::Demo {
        return Ok(None);
    }
    let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
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

/// Prints where the server listens, the algorithm and key file with a public key, and, with the
/// demo secret, a warning, a demo token and curl commands to try it with. Everything goes to
/// stderr.
pub fn print_startup(settings: &Settings, local_addr: SocketAddr) -> Result<(), BoxError> {
    eprintln!("listening on http://{local_addr}");
    if let Secret::PublicKey(public) = &settings.secret {
        eprintln!(
            "verifying {:?} tokens with the public key {}",
            public.algorithm,
            public.path.display()
        );
    }
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
             \n  curl -H \"Authorization: Bearer $TOKEN\" http://{local_addr}/staff  (403: the demo token has no role)\
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

#[cfg(test)]
mod tests {
    //! The parsing of `JWT_ALGORITHM`, `JWT_PUBLIC_KEY` and `JWT_CACHE` (the other variables are
    //! tested in `tests/hyper.rs`). Compiled into the `axum` and `hyper` test binaries, which
    //! include this module through the examples.

    use super::*;

    fn key_path(name: &str) -> String {
        format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    fn refused(vars: &[(&str, &str)]) -> String {
        Settings::from_lookup(lookup(vars)).unwrap_err().to_string()
    }

    /// A token of "alice", valid for ten minutes, signed with the private key `name`.
    fn token(algorithm: Algorithm, name: &str) -> String {
        let _ = tower_jwt_auth::crypto::RING_PROVIDER.install_default();
        let pem = std::fs::read(key_path(name)).unwrap();
        let key = match algorithm {
            Algorithm::ES256 | Algorithm::ES384 => {
                jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap()
            }
            Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap(),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({ "sub": "alice", "iat": now, "exp": now + 600 });
        jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &claims, &key).unwrap()
    }

    #[test]
    fn a_public_key_algorithm_verifies_with_the_key_file() {
        for (name, algorithm, public, private) in [
            (
                "RS256",
                Algorithm::RS256,
                "rsa_public.pem",
                "rsa_private.pem",
            ),
            (
                "PS256",
                Algorithm::PS256,
                "rsa_public.pem",
                "rsa_private.pem",
            ),
            (
                "ES256",
                Algorithm::ES256,
                "ec256_public.pem",
                "ec256_private.pem",
            ),
            (
                "ES384",
                Algorithm::ES384,
                "ec384_public.pem",
                "ec384_private.pem",
            ),
            (
                "EdDSA",
                Algorithm::EdDSA,
                "ed25519_public.pem",
                "ed25519_private.pem",
            ),
        ] {
            let path = key_path(public);
            let settings = Settings::from_lookup(lookup(&[
                ("JWT_ALGORITHM", name),
                ("JWT_PUBLIC_KEY", &path),
            ]))
            .unwrap();
            let Secret::PublicKey(key) = &settings.secret else {
                panic!("{name}: {settings:?}");
            };
            assert_eq!(key.algorithm, algorithm);
            assert_eq!(key.path, PathBuf::from(&path));
            // No demo token: the server does not verify HS256 tokens.
            assert_eq!(demo_token(&settings).unwrap(), None);

            let verifier = auth_layer(&settings).unwrap().verifier();
            assert_eq!(
                verifier.verify(&token(algorithm, private)).unwrap().sub,
                "alice"
            );
            // Only the configured algorithm: an HS256 token is refused.
            let hs256 = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(Algorithm::HS256),
                &serde_json::json!({ "sub": "alice", "exp": u32::MAX }),
                &jsonwebtoken::EncodingKey::from_secret(DEMO_SECRET.as_bytes()).unwrap(),
            )
            .unwrap();
            assert!(verifier.verify(&hs256).is_err(), "{name}");
        }
        // HS256 by name is the default.
        let settings = Settings::from_lookup(lookup(&[("JWT_ALGORITHM", "HS256")])).unwrap();
        assert_eq!(settings.secret, Secret::Demo);
    }

    #[test]
    fn key_settings_that_do_not_fit_are_refused() {
        let ec = key_path("ec256_public.pem");
        let err = refused(&[("JWT_ALGORITHM", "ES256")]);
        assert!(err.contains("JWT_PUBLIC_KEY"), "{err}");
        let err = refused(&[("JWT_ALGORITHM", "ES256"), ("JWT_PUBLIC_KEY", "")]);
        assert!(err.contains("JWT_PUBLIC_KEY is set but empty"), "{err}");
        let err = refused(&[("JWT_PUBLIC_KEY", &ec)]);
        assert!(
            err.contains("JWT_PUBLIC_KEY") && err.contains("HS256"),
            "{err}"
        );
        let err = refused(&[
            ("JWT_ALGORITHM", "ES256"),
            ("JWT_PUBLIC_KEY", &ec),
            ("JWT_SECRET", "a secret of the user, 32 bytes or more"),
        ]);
        assert!(err.contains("JWT_SECRET"), "{err}");
        assert!(!err.contains("a secret of the user"), "{err}");
        for name in ["none", "HS384", "ES512", "es256", ""] {
            let err = refused(&[("JWT_ALGORITHM", name)]);
            assert!(err.contains("JWT_ALGORITHM"), "{name}: {err}");
        }
        let missing = key_path("no_such_key.pem");
        let err = refused(&[("JWT_ALGORITHM", "EdDSA"), ("JWT_PUBLIC_KEY", &missing)]);
        assert!(err.contains("no_such_key.pem"), "{err}");

        // A key of another kind or curve is refused when the layer is built.
        for (name, file) in [
            ("RS256", "ec256_public.pem"),
            ("ES384", "ec256_public.pem"),
            ("ES256", "ed25519_public.pem"),
            ("EdDSA", "rsa_public.pem"),
        ] {
            let settings = Settings::from_lookup(lookup(&[
                ("JWT_ALGORITHM", name),
                ("JWT_PUBLIC_KEY", &key_path(file)),
            ]))
            .unwrap();
            let err = auth_layer(&settings).unwrap_err().to_string();
            assert!(
                err.contains("JWT_PUBLIC_KEY") && err.contains(file) && err.contains(name),
                "{name} with {file}: {err}"
            );
        }
    }

    #[test]
    fn the_cache_capacity_comes_from_jwt_cache() {
        assert_eq!(CacheSettings::from_lookup(lookup(&[])).unwrap(), None);
        assert_eq!(
            CacheSettings::from_lookup(lookup(&[("JWT_CACHE", "10000")])).unwrap(),
            Some(CacheSettings {
                max_entries: 10_000,
                max_bytes: 10_000 * CACHE_BYTES_PER_ENTRY,
            })
        );
        for bad in ["0", "-1", "many", "1e4", ""] {
            let err = CacheSettings::from_lookup(lookup(&[("JWT_CACHE", bad)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("JWT_CACHE"), "{bad:?}: {err}");
        }
        // Through a layer with the cache: the same token again and again (hits after the
        // first), and a forged one.
        let settings = Settings::from_lookup(lookup(&[
            ("JWT_ALGORITHM", "ES256"),
            ("JWT_PUBLIC_KEY", &key_path("ec256_public.pem")),
        ]))
        .unwrap();
        let auth = auth_layer_with(&settings, Some(CacheSettings::with_capacity(16))).unwrap();
        let service = tower::Layer::layer(
            &auth,
            tower::service_fn(
                |request: http::Request<http_body_util::Empty<bytes::Bytes>>| async move {
                    let sub = request
                        .extensions()
                        .get::<UserClaims>()
                        .unwrap()
                        .sub
                        .clone();
                    Ok::<_, std::convert::Infallible>(http::Response::new(sub))
                },
            ),
        );
        let call = |token: &str| {
            let request = http::Request::builder()
                .header("authorization", format!("Bearer {token}"))
                .body(http_body_util::Empty::new())
                .unwrap();
            let service = service.clone();
            async move {
                let response = tower::ServiceExt::oneshot(service, request).await.unwrap();
                response.status()
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = token(Algorithm::ES256, "ec256_private.pem");
        for _ in 0..3 {
            assert_eq!(runtime.block_on(call(&token)), 200);
        }
        let mut forged = token.clone();
        forged.truncate(forged.len() - 4);
        forged.push_str("AAAA");
        assert_eq!(runtime.block_on(call(&forged)), 403);
    }
}
