//! Staying logged in and logging out: login with a password, refresh rotation, logout, and an
//! API route whose access tokens are checked for revocation.
//!
//! ```text
//! cargo run --example session --features axum                                   # in-memory store
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example session --features axum,redis
//! ```
//!
//! | route | what it does |
//! |---|---|
//! | `POST /auth/login` | `{"username", "password"}` → 200 `{"access_token", "refresh_token", "token_type": "Bearer", "expires_in", "session_expires_at"}`; wrong credentials → 401 reason `invalid_credentials`; a body that is not that JSON → 400 `invalid_request`, or 415 `unsupported_media_type` when it is not `application/json`; too many failures → 429 with `Retry-After` |
//! | `POST /auth/refresh` | `{"refresh_token"}` → 200 with a new pair (the crate's [`SessionEndpoints`]) |
//! | `POST /auth/logout` | the access token (`Authorization: Bearer`), or `{"refresh_token"}` → 204 |
//! | `POST /auth/logout-all` | the access token → 204: every session of the user ends |
//! | `GET /auth/sessions` | the access token → 200 `{"sessions": [{"id", "created_at", "last_refreshed_at", "expires_at", "user_agent", "ip", "current"}]}`, newest first |
//! | `DELETE /auth/sessions/{id}` | the access token → 204: that device signed out; another user's or an unknown id → 404 reason `session_not_found` |
//! | `POST /auth/logout-others` | the access token → 204: every other session of the user ends |
//! | `GET /api/me` | the access token → 200 with its claims; 401 reason `revoked` after a logout |
//! | `GET /auth/session` | 200 `{"authenticated": true, "sub", "expires_at"}` while the refresh cookie's session is alive, else `{"authenticated": false}` |
//! | `GET /` | a small page (embedded, no build step) that logs in, shows the user, refreshes silently and logs out |
//!
//! **Browsers.** Login sets three cookies (the crate's [`CookieSettings`]): the access token
//! (`__Host-access_token`, HttpOnly), the refresh token (`__Secure-refresh_token`, HttpOnly,
//! `Path=/auth`) and the CSRF cookie (`__Host-csrf_token`, readable by the page). With
//! `"cookies": true` in the login body, the answer leaves the tokens out, so that page scripts
//! never see them. The layer reads the access cookie ([`CookieSettings::token_source`]);
//! refresh and logout accept the refresh cookie (an empty body) and set or clear the cookies.
//! CSRF: the signed double-submit cookie, keyed by HKDF from `JWT_SECRET`: every unsafe
//! request with a cookie echoes the CSRF cookie in `x-csrf-token`, and cross-site requests
//! (and same-site ones from an origin other than `CORS_ORIGIN`) are refused with 403 `csrf`.
//! Login gets the same Fetch Metadata / `Origin` check (login CSRF).
//!
//! The demo user is `demo` with the password `demo-password`, checked against an argon2 hash.
//! Checking credentials is the application's job; the crate opens the session afterwards
//! ([`Sessions::open`]). Failed logins are throttled per pair of username and client address
//! (the TCP peer; no forwarded header is read): an attempt is counted *before* its password is
//! hashed, and taken back when it succeeds, so that at most [`MAX_FAILURES`] wrong passwords
//! per pair are ever hashed within [`FAILURE_WINDOW`], however many arrive at once. Past that,
//! the pair answers 429 with `Retry-After` until its oldest failure is a window old, without
//! hashing. The username alone and the address alone have a ceiling [`CEILING_FACTOR`] times
//! higher, so that one address cannot lock a user out of logins from their own address, nor
//! try many usernames. At most [`MAX_CONCURRENT_HASHES`] argon2 checks run at once (argon2 is
//! slow on purpose, so unbounded guessing is an easy denial of service). A successful login
//! does not count. The throttle lives in each instance's memory: two instances count
//! separately.
//!
//! `/auth/refresh`, `/auth/logout` and `/auth/logout-all` are the crate's
//! [`SessionEndpoints`] behind the authentication layer in optional mode (an invalid or expired
//! access token counts as none), so that the layer hands `/auth/logout` and `/auth/logout-all`
//! the [`TokenIdentity`](tower_jwt_auth::revocation::TokenIdentity) of an access token, and a user whose
//! access token expired can still log out with the refresh token. The layer of `/api/me` and
//! of the endpoints checks every token against the same store the sessions use (revocation).
//!
//! The tokens are signed with HS256, so the verification key is secret and nothing is
//! published: the route `GET /.well-known/jwks.json` is absent. A service signing with an
//! asymmetric key serves [`Sessions::jwks_document`] there.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `ADDR` | the address to listen on | `127.0.0.1:3002` |
//! | `JWT_SECRET` | the HS256 secret, at least 32 bytes; the refresh token key is derived from it (HKDF) | a public demo secret, with a loud warning |
//! | `JWT_ISSUER` | the `iss` of issued tokens, checked by the layer | `session-example` |
//! | `JWT_AUDIENCE` | the `aud` of issued tokens, checked by the layer | none |
//! | `REDIS_URL` | the Redis store (needs feature `redis`; set without it, startup fails) | the in-memory store |
//! | `REDIS_CLUSTER_NODES` | the Redis store on a Redis Cluster: seed nodes `host:port,host:port,…` (feature `redis`; setting it and `REDIS_URL` is a startup error) | none |
//! | `ACCESS_TTL_SECS` | access token lifetime | 600 |
//! | `REFRESH_TTL_SECS` | idle timeout: a refresh token unused this long expires | 604800 (7 days) |
//! | `SESSION_TTL_SECS` | absolute lifetime of a session | 2592000 (30 days) |
//! | `REFRESH_GRACE_SECS` | grace window of a rotated refresh token | 10 |
//! | `MAX_SESSIONS_PER_USER` | live sessions per user; one more ends the oldest; 0 = no cap | 100 |
//! | `JWT_LEEWAY_SECS` | clock leeway of the layer | 60 |
//! | `JWT_CACHE` | the verified-token cache with this many entries (revocation is still checked on every hit) | off |
//! | `CORS_ORIGIN` | a browser origin allowed to call the API with credentials (CORS), and trusted by the CSRF guard | none |
//! | `PUBLIC_ORIGIN` | the service's own origin as browsers see it (behind a proxy: the proxy's), which the CSRF guard compares `Origin` with, scheme included | the request's `Host`, scheme `https` |
//! | `DPOP` | `off`, `allowed` (bound tokens need proofs; a login with a `DPoP` proof gets bound tokens) or `required` (a login without a proof is 400 `invalid_dpop_proof`, a bearer token 401 `dpop_required`) | `allowed` |
//! | `COOKIE_INSECURE` | `1`: cookies without `Secure` and without prefixes, for browsers that refuse `Secure` cookies on plain `http://localhost` (Safari) | off |
//!
//! `GET /healthz`, `GET /readyz` (`{"ready": …, "checks": {"store": …}}`, 503 while the store
//! does not answer) and, with `--features metrics`, `GET /metrics` sit outside the
//! authentication layer (see `examples/common/ops.rs`).
//!
//! Two instances started with the same `REDIS_URL` and `JWT_SECRET` on two ports behave as one
//! service: a logout on one is refused on the other at once, and a refresh token issued by one
//! refreshes on the other (both derive the same refresh token key from `JWT_SECRET`).
//!
//! [`SessionEndpoints`]: tower_jwt_auth::session::SessionEndpoints
//! [`CookieSettings`]: tower_jwt_auth::session::CookieSettings
//! [`CookieSettings::token_source`]: tower_jwt_auth::session::CookieSettings::token_source

// `/healthz`, `/readyz` (the store) and, with `--features metrics`, `/metrics`.
#[allow(dead_code)]
#[path = "common/ops.rs"]
mod ops;

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Layer;
use tower_http::cors::CorsLayer;
use tower_jwt_auth::axum::Claims;
use tower_jwt_auth::csrf::{CsrfGuard, CsrfKey, CSRF_HEADER};
use tower_jwt_auth::dpop::{DpopConfig, DpopMode, DPOP};
use tower_jwt_auth::session::{
    ClientInfo, CookieSettings, Grant, MemoryStore, RefreshTokenKey, SessionErrorKind,
    SessionStore, Sessions,
};
use tower_jwt_auth::{
    Algorithm, AuthMode, BoxError, DefaultRejection, InvalidTokenPolicy, JwtAuthLayer, SigningKey,
};

/// The secret used when `JWT_SECRET` is not set. It is public, so anyone can mint tokens a
/// server using it accepts: it is for trying the example only.
pub const DEMO_SECRET: &str = "demo secret: public, never use it outside of a demo";
/// The address used when `ADDR` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3002";
/// The issuer used when `JWT_ISSUER` is not set.
pub const DEFAULT_ISSUER: &str = "session-example";
/// The demo user.
pub const DEMO_USER: &str = "demo";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "demo-password";
/// Failed logins per pair of username and client address before that pair is throttled.
pub const MAX_FAILURES: usize = 5;
/// The ceiling of failed logins per username, and per client address, is this many times
/// [`MAX_FAILURES`].
pub const CEILING_FACTOR: usize = 10;
/// Password checks (argon2) that run at once; more wait for a turn.
pub const MAX_CONCURRENT_HASHES: usize = 4;
/// How long a failed login counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The memory the verified-token cache may use per entry of `JWT_CACHE`.
const CACHE_BYTES_PER_ENTRY: usize = 4 * 1024;
/// The longest username looked at; a longer one is an invalid request.
const MAX_USERNAME_LEN: usize = 256;
/// The page served at `GET /`, embedded in the binary.
const PAGE: &str = include_str!("session.html");

/// The example's configuration, read from the environment.
#[derive(Clone)]
pub struct Config {
    /// `ADDR`.
    pub addr: SocketAddr,
    /// `JWT_SECRET`; `None`: the demo secret.
    pub secret: Option<Vec<u8>>,
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `JWT_AUDIENCE`.
    pub audience: Option<String>,
    /// `REDIS_URL`.
    pub redis_url: Option<String>,
    /// `REDIS_CLUSTER_NODES`, split at commas.
    pub redis_cluster_nodes: Option<Vec<String>>,
    /// `ACCESS_TTL_SECS`.
    pub access_ttl: Option<Duration>,
    /// `REFRESH_TTL_SECS`.
    pub idle_timeout: Option<Duration>,
    /// `SESSION_TTL_SECS`.
    pub absolute_lifetime: Option<Duration>,
    /// `REFRESH_GRACE_SECS`.
    pub refresh_grace: Option<Duration>,
    /// `MAX_SESSIONS_PER_USER` (0: no cap).
    pub max_sessions_per_user: Option<usize>,
    /// `JWT_LEEWAY_SECS` (default 60).
    pub leeway: Duration,
    /// `JWT_CACHE`: entries of the verified-token cache.
    pub cache: Option<usize>,
    /// `CORS_ORIGIN`: the browser origin allowed with credentials, trusted by the CSRF guard.
    pub cors_origin: Option<String>,
    /// `PUBLIC_ORIGIN`: the service's own origin for the CSRF guard.
    pub public_origin: Option<String>,
    /// `COOKIE_INSECURE=1`: cookies without `Secure` and prefixes (development only).
    pub insecure_cookies: bool,
    /// `DPOP`: the DPoP mode of the layer and of the login.
    pub dpop: DpopMode,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("redis", &self.redis_url.is_some())
            .field("access_ttl", &self.access_ttl)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("refresh_grace", &self.refresh_grace)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("leeway", &self.leeway)
            .field("cache", &self.cache)
            .field("cors_origin", &self.cors_origin)
            .field("public_origin", &self.public_origin)
            .field("insecure_cookies", &self.insecure_cookies)
            .finish()
    }
}

/// The value of `name`; set but empty is an error rather than "unset".
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

/// A whole number of seconds from `name`.
fn seconds(
    lookup: &impl Fn(&str) -> Option<OsString>,
    name: &str,
) -> Result<Option<Duration>, BoxError> {
    text(lookup, name)?
        .map(|value| {
            value
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{name} {value:?} is not a whole number of seconds").into())
        })
        .transpose()
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, BoxError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the configuration through `lookup`, which returns the value of a variable.
    ///
    /// `REDIS_URL` on a build without feature `redis` is an error, never a silent fallback to
    /// the in-memory store: two instances that believe they share a store must share one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, BoxError> {
        let addr = match text(&lookup, "ADDR")? {
            Some(addr) => addr
                .parse()
                .map_err(|err| format!("ADDR {addr:?} is not a socket address: {err}"))?,
            None => DEFAULT_ADDR.parse()?,
        };
        let redis_url = text(&lookup, "REDIS_URL")?;
        if redis_url.is_some() && !cfg!(feature = "redis") {
            return Err(
                "REDIS_URL is set, but this build has no Redis support: run it with \
                        `--features axum,redis`, or unset REDIS_URL to use the in-memory store"
                    .into(),
            );
        }
        let redis_cluster_nodes = cluster_nodes(&lookup)?;
        let cache = match text(&lookup, "JWT_CACHE")? {
            None => None,
            Some(value) => match value.parse::<usize>() {
                Ok(entries) if entries > 0 => Some(entries),
                _ => {
                    return Err(format!(
                        "JWT_CACHE {value:?} is not a capacity: give the number of tokens to \
                         keep (1 or more), or unset it"
                    )
                    .into())
                }
            },
        };
        Ok(Self {
            addr,
            secret: text(&lookup, "JWT_SECRET")?.map(String::into_bytes),
            issuer: text(&lookup, "JWT_ISSUER")?.unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
            audience: text(&lookup, "JWT_AUDIENCE")?,
            redis_url,
            redis_cluster_nodes,
            access_ttl: seconds(&lookup, "ACCESS_TTL_SECS")?,
            idle_timeout: seconds(&lookup, "REFRESH_TTL_SECS")?,
            absolute_lifetime: seconds(&lookup, "SESSION_TTL_SECS")?,
            refresh_grace: seconds(&lookup, "REFRESH_GRACE_SECS")?,
            max_sessions_per_user: text(&lookup, "MAX_SESSIONS_PER_USER")?
                .map(|value| {
                    value.parse::<usize>().map_err(|_| {
                        format!("MAX_SESSIONS_PER_USER {value:?} is not a whole number")
                    })
                })
                .transpose()?,
            leeway: seconds(&lookup, "JWT_LEEWAY_SECS")?.unwrap_or(Duration::from_secs(60)),
            cache,
            cors_origin: text(&lookup, "CORS_ORIGIN")?,
            public_origin: text(&lookup, "PUBLIC_ORIGIN")?,
            dpop: match text(&lookup, "DPOP")?.as_deref() {
                None | Some("allowed") => DpopMode::Allowed,
                Some("off") => DpopMode::Off,
                Some("required") => DpopMode::Required,
                Some(other) => {
                    return Err(format!("DPOP {other:?} is not off, allowed or required").into())
                }
            },
            insecure_cookies: match text(&lookup, "COOKIE_INSECURE")?.as_deref() {
                None | Some("0") => false,
                Some("1") => true,
                Some(other) => {
                    return Err(format!("COOKIE_INSECURE {other:?} is not 0 or 1").into())
                }
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster: `REDIS_CLUSTER_NODES`.

/// `REDIS_CLUSTER_NODES` (`host:port,host:port,…`): an error when it is empty, when `REDIS_URL`
/// is set too (one store, never a guess between two), or on a build without feature `redis`.
fn cluster_nodes(
    lookup: &impl Fn(&str) -> Option<OsString>,
) -> Result<Option<Vec<String>>, BoxError> {
    let Some(nodes) = text(lookup, "REDIS_CLUSTER_NODES")? else {
        return Ok(None);
    };
    if text(lookup, "REDIS_URL")?.is_some() {
        return Err(
            "REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for one Redis \
                    node, or REDIS_CLUSTER_NODES for a Redis Cluster, not both"
                .into(),
        );
    }
    if !cfg!(feature = "redis") {
        return Err(
            "REDIS_CLUSTER_NODES is set, but this build has no Redis support: run it \
                    with `--features axum,redis`"
                .into(),
        );
    }
    let nodes: Vec<String> = nodes
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if nodes.is_empty() {
        return Err("REDIS_CLUSTER_NODES is empty: give host:port,host:port,…".into());
    }
    Ok(Some(nodes))
}

/// The store on the Redis Cluster of `REDIS_CLUSTER_NODES`, when it is set.
#[cfg(feature = "redis")]
async fn cluster_store(config: &Config) -> Result<Option<Arc<dyn SessionStore>>, BoxError> {
    let Some(nodes) = &config.redis_cluster_nodes else {
        return Ok(None);
    };
    // Starts even when the cluster is down: requests then answer 503 until it answers.
    let store = tower_jwt_auth::session::RedisStore::connect_cluster(nodes)
        .await
        .map_err(|err| format!("REDIS_CLUSTER_NODES: {err}"))?;
    Ok(Some(Arc::new(store)))
}

/// The store: Redis at `REDIS_URL` or on the cluster of `REDIS_CLUSTER_NODES` (feature
/// `redis`), the in-memory store otherwise. One store serves the sessions and the layer's
/// revocation check.
async fn store(config: &Config) -> Result<Arc<dyn SessionStore>, BoxError> {
    #[cfg(feature = "redis")]
    if let Some(store) = cluster_store(config).await? {
        return Ok(store);
    }
    match &config.redis_url {
        None => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "redis")]
        Some(url) => {
            // Starts even when Redis is down: requests then answer 503 until it is reachable.
            let store = tower_jwt_auth::session::RedisStore::connect(url)
                .await
                .map_err(|err| format!("REDIS_URL: {err}"))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => Err(
            "REDIS_URL is set, but this build has no Redis support: run it with \
                        `--features axum,redis`, or unset REDIS_URL to use the in-memory store"
                .into(),
        ),
    }
}

/// What the example needs to serve browsers: the cookie settings, and the CSRF guard of the
/// layer, the endpoints and login.
#[derive(Clone, Debug)]
pub struct Browser {
    /// The session cookies.
    pub cookies: CookieSettings,
    /// The CSRF guard: double-submit, `CORS_ORIGIN` trusted.
    pub csrf: CsrfGuard,
    /// The double-submit key, derived from `JWT_SECRET`.
    pub csrf_key: CsrfKey,
    /// `DPOP=required`: a login without a proof is refused.
    pub dpop_required: bool,
}

impl Browser {
    /// The cookies and the CSRF guard of `config`.
    pub fn from_config(config: &Config) -> Result<Self, BoxError> {
        let secret = config.secret.as_deref().unwrap_or(DEMO_SECRET.as_bytes());
        let mut cookies = CookieSettings::new();
        if config.insecure_cookies {
            cookies = cookies.insecure_for_development();
        }
        // One secret, two keys: HKDF keeps the CSRF key apart from the signing key.
        let csrf_key = CsrfKey::derive(secret).map_err(|err| format!("JWT_SECRET: {err}"))?;
        let mut csrf = CsrfGuard::new().double_submit(csrf_key.clone(), cookies.csrf_cookie_name());
        if let Some(origin) = &config.cors_origin {
            csrf = csrf
                .trusted_origin(origin)
                .map_err(|err| format!("CORS_ORIGIN: {err}"))?;
        }
        if let Some(origin) = &config.public_origin {
            csrf = csrf
                .public_origin(origin)
                .map_err(|err| format!("PUBLIC_ORIGIN: {err}"))?;
        }
        Ok(Self {
            cookies,
            csrf,
            csrf_key,
            dpop_required: config.dpop == DpopMode::Required,
        })
    }
}

/// The sessions and the authentication layer of `config`, over one store.
pub async fn sessions_and_layer(
    config: &Config,
) -> Result<(Sessions, JwtAuthLayer<Value>), BoxError> {
    let browser = Browser::from_config(config)?;
    let secret = config.secret.as_deref().unwrap_or(DEMO_SECRET.as_bytes());
    let key =
        SigningKey::hmac(Algorithm::HS256, secret).map_err(|err| format!("JWT_SECRET: {err}"))?;
    let store = store(config).await?;
    // Every instance sharing the store must verify the others' refresh tokens: the refresh
    // token key is derived from the secret they already share (HKDF, a label of its own).
    let refresh_key =
        RefreshTokenKey::derive(secret).map_err(|err| format!("JWT_SECRET: {err}"))?;
    // The cookies and the CSRF guard are configured once, here: the layer and the endpoints
    // both take them from the sessions.
    let mut builder = Sessions::builder()
        .signing_key(key)?
        .refresh_token_key(refresh_key)
        .issuer(config.issuer.clone())?
        .leeway(config.leeway)?
        .store(store.clone())
        .cookies(browser.cookies)
        .csrf(browser.csrf);
    if let Some(audience) = &config.audience {
        builder = builder.audience(audience.clone())?;
    }
    if let Some(ttl) = config.access_ttl {
        builder = builder.access_ttl(ttl)?;
    }
    if let Some(idle) = config.idle_timeout {
        builder = builder.idle_timeout(idle)?;
    }
    if let Some(lifetime) = config.absolute_lifetime {
        builder = builder.absolute_lifetime(lifetime)?;
    }
    if let Some(grace) = config.refresh_grace {
        builder = builder.refresh_grace(grace)?;
    }
    if let Some(max) = config.max_sessions_per_user {
        builder = builder.max_sessions_per_user(max);
    }
    // The login's and refresh's DPoP proofs name the public origin when there is one.
    let mut dpop = DpopConfig::new();
    if let Some(origin) = &config.public_origin {
        dpop = dpop
            .public_origin(origin)
            .map_err(|err| format!("PUBLIC_ORIGIN: {err}"))?;
    }
    let sessions = builder.dpop(dpop.clone()).build()?;
    // The bearer header for API clients, the access cookie for browsers, and the CSRF guard
    // for the latter: all from the sessions.
    let mut auth = sessions
        .layer_builder::<Value>()
        .revocation(store)
        .dpop(config.dpop)
        .dpop_config(dpop);
    if let Some(entries) = config.cache {
        auth = auth.token_cache(entries, entries.saturating_mul(CACHE_BYTES_PER_ENTRY))?;
    }
    Ok((sessions, auth.build()?))
}

/// The application of `config`: the sessions, their store, the layer and the routes.
pub async fn app_from_config(config: &Config) -> Result<Router, BoxError> {
    let (sessions, auth) = sessions_and_layer(config).await?;
    let browser = Browser::from_config(config)?;
    let app = app(sessions, auth, Login::demo()?, browser);
    Ok(match &config.cors_origin {
        Some(origin) => app.layer(cors(origin)?),
        None => app,
    })
}

/// CORS for the one browser origin `origin`, with credentials (cookies).
fn cors(origin: &str) -> Result<CorsLayer, BoxError> {
    let origin = HeaderValue::from_str(origin).map_err(|err| format!("CORS_ORIGIN: {err}"))?;
    Ok(CorsLayer::new()
        .allow_origin(origin)
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            CSRF_HEADER,
            DPOP,
        ])
        .expose_headers([header::WWW_AUTHENTICATE]))
}

/// The routes. Serve them with [`serve`], which hands handlers the client's address.
pub fn app(
    sessions: Sessions,
    auth: JwtAuthLayer<Value>,
    login: Login,
    browser: Browser,
) -> Router {
    // An invalid or expired access token counts as none at the endpoints: logout then uses the
    // refresh token of the body or cookie. A revoked one too; a store that cannot answer is
    // still 503, and a cookie request that fails the CSRF guard is refused, not anonymous.
    let optional = auth
        .clone()
        .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
    // The endpoints serve the cookies and check the CSRF guard the sessions were given.
    // Refreshes record the client (User-Agent, and the peer address copied below).
    let endpoints = optional.layer(sessions.endpoints().prefix("/auth").record_client(true));
    let page = PAGE.replace("{{csrf_cookie}}", browser.cookies.csrf_cookie_name());
    Router::new()
        .route("/", get(move || std::future::ready(Html(page.clone()))))
        .route(
            "/auth/login",
            post(login_handler).with_state(LoginState {
                sessions,
                login: Arc::new(login),
                browser: Arc::new(browser),
            }),
        )
        .route_service("/auth/refresh", endpoints.clone())
        .route_service("/auth/logout", endpoints.clone())
        .route_service("/auth/logout-all", endpoints.clone())
        .route_service("/auth/session", endpoints.clone())
        .route_service("/auth/sessions", endpoints.clone())
        .route_service("/auth/sessions/{id}", endpoints.clone())
        .route_service("/auth/logout-others", endpoints)
        .route("/api/me", get(me).layer(auth))
        // The peer address, where the session endpoints read it.
        .layer(tower::util::MapRequestLayer::new(
            |mut req: axum::extract::Request| {
                if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
                    let addr = *addr;
                    req.extensions_mut().insert(addr);
                }
                req
            },
        ))
}

/// Serves `app` on `listener`, with the client addresses the login throttle needs.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The claims of the access token.
async fn me(Claims(claims): Claims<Value>) -> Json<Value> {
    Json(claims)
}

// ---------------------------------------------------------------------------------------------
// Login

/// The users (one: the demo user), the throttle of failed logins, and the bound on concurrent
/// password hashing.
pub struct Login {
    /// The PHC string of the demo password's argon2 hash.
    demo_hash: String,
    throttle: Throttle,
    /// Permits for argon2: at most [`MAX_CONCURRENT_HASHES`] run at once.
    hashing: Semaphore,
}

impl Login {
    /// The demo user, its password hashed with argon2 (default parameters) at startup.
    pub fn demo() -> Result<Self, BoxError> {
        let salt = SaltString::encode_b64(b"session-example!")
            .map_err(|err| format!("argon2 salt: {err}"))?;
        let hash = Argon2::default()
            .hash_password(DEMO_PASSWORD.as_bytes(), &salt)
            .map_err(|err| format!("argon2: {err}"))?
            .to_string();
        Ok(Self {
            demo_hash: hash,
            throttle: Throttle::default(),
            hashing: Semaphore::new(MAX_CONCURRENT_HASHES),
        })
    }

    /// Whether `password` is the user's. An unknown user is checked against the demo hash
    /// too, so that the answer takes as long as for a known one.
    fn check(&self, username: &str, password: &str) -> bool {
        let Ok(hash) = PasswordHash::new(&self.demo_hash) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        matches && username == DEMO_USER
    }
}

/// Login attempts per key within the last [`FAILURE_WINDOW`]: failures, and attempts still
/// being checked, which count as failures until they succeed. Keys: the pair of a username and
/// a client address (limit [`MAX_FAILURES`]), the username alone and the address alone (limit
/// [`MAX_FAILURES`] × [`CEILING_FACTOR`]).
#[derive(Default)]
pub struct Throttle {
    attempts: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    next_id: u64,
    /// Per key: (when, attempt id) of each failed or pending attempt, oldest first.
    keys: HashMap<String, VecDeque<(Instant, u64)>>,
}

/// An attempt counted by [`Throttle::begin`]; [`Throttle::succeeded`] takes it back.
#[derive(Debug)]
pub struct Attempt {
    id: u64,
    keys: Vec<String>,
}

impl Throttle {
    /// The throttle's keys for a login as `username` from `client`, with their limits.
    fn keys(username: &str, client: IpAddr) -> [(String, usize); 3] {
        let client = client_key(client);
        let ceiling = MAX_FAILURES * CEILING_FACTOR;
        [
            (format!("pair:{client}|{username}"), MAX_FAILURES),
            (format!("user:{username}"), ceiling),
            (format!("addr:{client}"), ceiling),
        ]
    }

    /// Counts an attempt of `username` from `client` before its password is hashed, or says how
    /// long to wait when one of its keys is at its limit. Checking and counting are one step
    /// under the lock, so concurrent attempts never pass the limit together.
    pub fn begin(&self, username: &str, client: IpAddr, now: Instant) -> Result<Attempt, Duration> {
        let mut state = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        // Keep the map small: forget keys whose attempts are all over a window old.
        if state.keys.len() > 10_000 {
            state.keys.retain(|_, list| {
                list.back()
                    .is_some_and(|(t, _)| now.duration_since(*t) < FAILURE_WINDOW)
            });
        }
        let keys = Self::keys(username, client);
        let mut wait = None;
        for (key, limit) in &keys {
            let Some(list) = state.keys.get_mut(key) else {
                continue;
            };
            while list
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) >= FAILURE_WINDOW)
            {
                list.pop_front();
            }
            if list.len() >= *limit {
                if let Some((oldest, _)) = list.front() {
                    let left = FAILURE_WINDOW.saturating_sub(now.duration_since(*oldest));
                    wait = wait.max(Some(left));
                }
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        state.next_id += 1;
        let id = state.next_id;
        let keys: Vec<String> = keys.into_iter().map(|(key, _)| key).collect();
        for key in &keys {
            state
                .keys
                .entry(key.clone())
                .or_default()
                .push_back((now, id));
        }
        Ok(Attempt { id, keys })
    }

    /// The attempt logged in: it no longer counts.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut state = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        for key in &attempt.keys {
            if let Some(list) = state.keys.get_mut(key) {
                list.retain(|(_, id)| *id != attempt.id);
            }
        }
    }
}

#[derive(Clone)]
struct LoginState {
    sessions: Sessions,
    login: Arc<Login>,
    browser: Arc<Browser>,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    /// `true`: a browser that keeps the tokens in the cookies; the answer leaves them out.
    #[serde(default)]
    cookies: bool,
}

/// An error answer: `{"error", "error_description", "reason"}`, never cached.
fn refusal(status: StatusCode, error: &str, description: &str, reason: &str) -> Response {
    let body = json!({ "error": error, "error_description": description, "reason": reason });
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn login_handler(
    State(state): State<LoginState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Login CSRF: another site must not log the browser into an account of its choosing.
    if let Err(error) = state.browser.csrf.check_request_origin(&uri, &headers) {
        return DefaultRejection::new()
            .http_response(&error)
            .map(axum::body::Body::from);
    }
    // Only JSON is read: a form of another site cannot send it without a CORS preflight.
    if !body.is_empty() && !is_json(&headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "The request body must be application/json",
            "unsupported_media_type",
        );
    }
    let Ok(credentials) = serde_json::from_slice::<Credentials>(&body) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body must be JSON {\"username\", \"password\"}",
            "invalid_request",
        );
    };
    if credentials.username.len() > MAX_USERNAME_LEN {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The username is too long",
            "invalid_request",
        );
    }
    let login = state.login.clone();
    // Counted before hashing, so that at most the limit of wrong passwords is ever hashed.
    let attempt = match login
        .throttle
        .begin(&credentials.username, client.ip(), Instant::now())
    {
        Ok(attempt) => attempt,
        Err(wait) => {
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                "Too many failed logins; try again later",
                "login_throttled",
            );
            // Whole seconds, rounded up, at least 1.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            return response;
        }
    };
    // argon2 is slow on purpose: off the async worker threads, a few at a time.
    let Ok(_permit) = login.hashing.acquire().await else {
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Logins are unavailable",
            "login_unavailable",
        );
    };
    let checker = login.clone();
    let username = credentials.username.clone();
    let ok = tokio::task::spawn_blocking(move || checker.check(&username, &credentials.password))
        .await
        .unwrap_or(false);
    if !ok {
        // The attempt stays counted as a failure.
        return refusal(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "The username or password is wrong",
            "invalid_credentials",
        );
    }
    login.throttle.succeeded(attempt);
    // A `DPoP` proof binds the session to the client's key (RFC 9449 §5).
    let jkt = match state
        .sessions
        .check_dpop_proof(&Method::POST, &uri, &headers)
        .await
    {
        Ok(Some(jkt)) => Some(jkt),
        Ok(None) if !state.browser.dpop_required => None,
        Ok(None) | Err(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "The DPoP proof is missing or invalid",
                "invalid_dpop_proof",
            )
        }
    };
    let mut grant = Grant::new(credentials.username).scope("read");
    if let Some(jkt) = jkt {
        grant = grant.dpop_bound(jkt);
    }
    // The device list shows the client that logged in.
    let device = ClientInfo::new(
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        Some(client.ip()),
    );
    match state.sessions.open_with_client(grant, device).await {
        Ok(pair) => {
            let browser = &state.browser;
            let cookies = match browser.cookies.set(&pair, Some(&browser.csrf_key)) {
                Ok(cookies) => cookies,
                Err(err) => {
                    eprintln!("login: {err}");
                    return refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "The session cookies could not be set",
                        "cookie_error",
                    );
                }
            };
            let mut response = if credentials.cookies {
                Json(json!({
                    "token_type": pair.token_type(),
                    "expires_in": pair.expires_in(),
                    "session_expires_at": pair.session_expires_at(),
                    "access_token_hash": pair.access_token_hash(),
                }))
                .into_response()
            } else {
                Json(pair).into_response()
            };
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            for cookie in cookies {
                headers.append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(err) if err.kind() == SessionErrorKind::StoreUnavailable => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            err.kind().description(),
            err.reason(),
        ),
        Err(err) => {
            eprintln!("login: {err}");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                err.kind().description(),
                err.reason(),
            )
        }
    }
}

/// Whether the request's content type, sent once, is `application/json` (parameters such as
/// `charset` aside).
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json")),
        _ => false,
    }
}

/// The throttle's key for a client: the IPv4 address, or the /64 of an IPv6 address (one
/// client usually holds a whole /64).
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------

fn print_startup(config: &Config, local_addr: SocketAddr) {
    eprintln!("listening on http://{local_addr} (open it in a browser for the demo page)");
    match (&config.redis_url, &config.redis_cluster_nodes) {
        (_, Some(_)) => eprintln!("sessions in a Redis Cluster (REDIS_CLUSTER_NODES)"),
        (Some(_), None) => eprintln!("sessions in Redis (REDIS_URL)"),
        (None, None) => eprintln!("sessions in memory: they end when the process ends"),
    }
    if config.secret.is_none() {
        eprintln!(
            "\nwarning: JWT_SECRET is not set, so the server signs with the public demo secret: \
             anyone can mint tokens it accepts. Set JWT_SECRET (at least 32 bytes) for anything \
             but a demo.\n"
        );
    }
    eprintln!(
        "try:\n\
         \n  curl -s -X POST http://{local_addr}/auth/login -H 'content-type: application/json' \
         -d '{{\"username\":\"{DEMO_USER}\",\"password\":\"{DEMO_PASSWORD}\"}}'\
         \n  curl -H \"Authorization: Bearer $ACCESS\" http://{local_addr}/api/me\
         \n  curl -X POST http://{local_addr}/auth/refresh -H 'content-type: application/json' -d \"{{\\\"refresh_token\\\":\\\"$REFRESH\\\"}}\"\
         \n  curl -X POST -H \"Authorization: Bearer $ACCESS\" http://{local_addr}/auth/logout\n"
    );
}

async fn run() -> Result<(), BoxError> {
    let config = Config::from_env()?;
    // Before the sessions and the layer: they take their metric handles from the recorder
    // installed now.
    let metrics = ops::install_metrics()?;
    let (sessions, auth) = sessions_and_layer(&config).await?;
    let store_probe = sessions.clone();
    let probe: ops::Probe = Arc::new(move || {
        let sessions = store_probe.clone();
        Box::pin(async move { sessions.readiness().await })
    });
    let browser = Browser::from_config(&config)?;
    let app = app(sessions, auth, Login::demo()?, browser);
    let app = match &config.cors_origin {
        Some(origin) => app.layer(cors(origin)?),
        None => app,
    }
    .merge(ops::routes(probe, metrics));
    let listener = TcpListener::bind(config.addr).await?;
    print_startup(&config, listener.local_addr()?);
    serve(listener, app).await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run().await {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
