//! Remote key sets: a JWKS fetched over HTTPS, cached, refreshed in the background, and OIDC
//! discovery of where it is.
//!
//! A [`JwksSource`] says where the keys are and how to treat the server that publishes them.
//! Given to [`JwtAuthBuilder::jwks`](crate::JwtAuthBuilder::jwks) (or to a
//! [`TrustedIssuer`](crate::TrustedIssuer)), it behaves as follows:
//!
//! - The keys are cached. The cache lifetime is the response's `Cache-Control: max-age`, bounded
//!   by [`cache_ttl`](JwksSource::cache_ttl) (default 30 s to 24 h; 5 min when the response says
//!   nothing).
//! - A background task refreshes the keys when four fifths of the lifetime have passed, so no
//!   request waits on the network in the steady state. It holds only a weak reference: it ends
//!   when the layer is dropped.
//! - A token whose `kid` is unknown starts at most one refetch per
//!   [`cooldown`](JwksSource::cooldown) (default 30 s), and every request that needs a fetch while
//!   one is under way waits for that one (single flight): a flood of tokens with random `kid`s
//!   never becomes a flood of requests to the identity provider. A request waits for a fetch
//!   at most twice the total timeout plus one second (discovery and key set); when the fetch
//!   has not ended by then, the answer is 503 `key_source_unavailable`. A fetch whose task ends
//!   early (cancelled, its runtime shut down, panicked) counts as a failed fetch.
//! - When a fetch fails, the last good keys keep serving (stale-if-error); the failure is logged
//!   and retried with backoff (1 s, doubling, at most 60 s). They serve for at most
//!   [`max_staleness`](JwksSource::max_staleness) (default 24 h) past their cache lifetime:
//!   once the last successful fetch is older than the cache lifetime plus `max_staleness` and
//!   fetches keep failing, the keys are dropped (and with them what they verified in the
//!   verified-token cache), and requests are answered 503 `key_source_unavailable` until a fetch
//!   succeeds.
//! - A token whose `kid` is not in the cached set is refused 403 `unknown_key` only when the set
//!   was fetched successfully last (also within the cooldown after that fetch). When the fetch
//!   that would decide fails, the answer is 503 `key_source_unavailable`, and so it stays until
//!   a fetch succeeds: during an outage, a key the provider rotated to is not a reason for the
//!   client to log out.
//! - Fetches have a connect and a total timeout (5 s and 10 s) and a bound on the response size
//!   (256 KiB); redirects are not followed.
//! - Only asymmetric keys are taken from a remote set, and only for the algorithms of
//!   [`algorithms`](JwksSource::algorithms) (by default every RSA, ECDSA and EdDSA algorithm the
//!   crate supports). Keys that cannot be used are left out with a warning.
//! - When no key can be had at all (never fetched, provider down), requests are answered 503
//!   with reason `key_source_unavailable` (gRPC `UNAVAILABLE`).
//! - `http://` URLs are refused: keys must come over TLS (roots: the Mozilla set of
//!   `webpki-roots`). [`allow_http(true)`](JwksSource::allow_http) allows plain HTTP to loopback
//!   hosts only (`127.0.0.0/8`, `[::1]`, `localhost`), and
//!   [`allow_http_host`](JwksSource::allow_http_host) to a host named explicitly. The same rule
//!   applies to the `jwks_uri` that OIDC discovery finds.
//!
//! Building the layer never waits: the first fetch starts in the background (at once when the
//! layer is built inside a Tokio runtime, otherwise with the first request). To wait for keys at
//! startup, call [`JwtAuthLayer::wait_for_keys`](crate::JwtAuthLayer::wait_for_keys).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use tower_jwt_auth::JwtAuthLayer;
//! use tower_jwt_auth::jwks::JwksSource;
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! # async fn run() -> Result<(), tower_jwt_auth::BoxError> {
//! // OIDC discovery: the issuer's metadata names the JWKS, and `iss` is checked in tokens.
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .oidc_discovery("https://login.example.com/realms/main")?
//!     .audience("orders-api")?
//!     .build()?;
//! auth.wait_for_keys(Duration::from_secs(10)).await?;
//!
//! // Or a JWKS URL, with settings.
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .jwks(
//!         JwksSource::new("https://tenant.example.auth0.com/.well-known/jwks.json")?
//!             .cooldown(Duration::from_secs(10)),
//!     )
//!     .issuer("https://tenant.example.auth0.com/")?
//!     .audience("https://orders.example.com")?
//!     .build()?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, USER_AGENT};
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::Algorithm;

use crate::error::{AuthError, ConfigError, ErrorKind};
use crate::keys::jwk::{log_skipped, parse_jwks, SkippedKey};
use crate::keys::set::{KeySet, KeyWait, Resolution, Resolved};

const KEY_SOURCE_UNAVAILABLE: AuthError = AuthError::new(
    ErrorKind::KeySourceUnavailable,
    "No verification key can be had right now",
);

/// The asymmetric algorithms the crate supports: the default allow-list of a remote set.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
enum Location {
    Jwks(Uri),
    Discovery { issuer: String, metadata: Uri },
}

/// Where a remote key set is, and how to fetch and cache it. See the [module docs](self).
#[derive(Clone, Debug)]
#[must_use]
pub struct JwksSource {
    location: Location,
    allow_http: bool,
    http_hosts: Vec<String>,
    algorithms: Vec<Algorithm>,
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    cooldown: Duration,
    connect_timeout: Duration,
    timeout: Duration,
    max_size: usize,
    max_staleness: Duration,
}

fn parse_uri(url: &str) -> Result<Uri, ConfigError> {
    let uri: Uri = url.parse().map_err(|_| ConfigError::InvalidJwksUrl {
        url: url.to_owned(),
    })?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https" | "http"), Some(host)) if !host.is_empty() => Ok(uri),
        _ => Err(ConfigError::InvalidJwksUrl {
            url: url.to_owned(),
        }),
    }
}

impl JwksSource {
    fn with_location(location: Location) -> Self {
        Self {
            location,
            allow_http: false,
            http_hosts: Vec::new(),
            algorithms: ASYMMETRIC.to_vec(),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            default_ttl: Duration::from_secs(5 * 60),
            cooldown: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_size: 256 * 1024,
            max_staleness: Duration::from_secs(24 * 60 * 60),
        }
    }

    /// The JWKS at `url`.
    ///
    /// # Errors
    ///
    /// If `url` is not an absolute `https://` or `http://` URL.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        Ok(Self::with_location(Location::Jwks(parse_uri(url)?)))
    }

    /// OIDC discovery: the JWKS named by the `jwks_uri` of
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal `issuer` exactly
    /// (RFC 8414 §3.3). Tokens are then required to carry that `iss`.
    ///
    /// # Errors
    ///
    /// If `issuer` is not an absolute `https://` or `http://` URL.
    pub fn discover(issuer: &str) -> Result<Self, ConfigError> {
        let base = issuer.strip_suffix('/').unwrap_or(issuer);
        let metadata = parse_uri(&format!("{base}/.well-known/openid-configuration"))?;
        parse_uri(issuer)?;
        Ok(Self::with_location(Location::Discovery {
            issuer: issuer.to_owned(),
            metadata,
        }))
    }

    /// Allows plain `http://` URLs to loopback hosts (`127.0.0.0/8`, `[::1]`, `localhost`), for
    /// the key set, for discovery and for the `jwks_uri` that discovery finds. Off by default;
    /// for tests and for a key server beside the application. Other hosts are named one by one
    /// with [`allow_http_host`](Self::allow_http_host).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Allows plain `http://` URLs to this host (a name or an IP address, compared without
    /// regard to case; no scheme, port or path), for the key set, for discovery and for the
    /// `jwks_uri` that discovery finds: for a deployment where TLS ends elsewhere, such as a key
    /// server on an internal network. May be called once per host; independent of
    /// [`allow_http`](Self::allow_http).
    pub fn allow_http_host(mut self, host: impl Into<String>) -> Self {
        self.http_hosts.push(host.into());
        self
    }

    /// The algorithms keys of this set may verify: the allow-list for tokens checked against it.
    /// Only asymmetric algorithms are accepted.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Bounds on the cache lifetime taken from `Cache-Control: max-age` (default 30 s and 24 h).
    pub fn cache_ttl(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min;
        self.max_ttl = max;
        self
    }

    /// The cache lifetime when the response has no `max-age` (default 5 min), within the bounds.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// The least time between two fetches started by requests (tokens with an unknown `kid`, or
    /// requests while no key is known); 1 s to 10 min, default 30 s.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The connect timeout and the total timeout of a fetch (default 5 s and 10 s).
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = total;
        self
    }

    /// How long past their cache lifetime the last good keys keep serving while fetches fail
    /// (stale-if-error); default 24 h. Once the last successful fetch is older than the cache
    /// lifetime plus this, the keys no longer verify anything (nor do the tokens they verified
    /// in the verified-token cache): requests are answered 503 `key_source_unavailable` until a
    /// fetch succeeds. `Duration::ZERO` keeps no key past its cache lifetime; a duration too
    /// large for the clock keeps them for good.
    pub fn max_staleness(mut self, max_staleness: Duration) -> Self {
        self.max_staleness = max_staleness;
        self
    }

    /// The largest response accepted, in bytes (default 256 KiB).
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// The issuer named for OIDC discovery, which tokens must then carry.
    pub(crate) fn discovery_issuer(&self) -> Option<&str> {
        match &self.location {
            Location::Discovery { issuer, .. } => Some(issuer),
            Location::Jwks(_) => None,
        }
    }

    /// Whether `uri` may be fetched: `https://`, or `http://` to a loopback host under
    /// `allow_http(true)` or to a host named with `allow_http_host`.
    fn may_fetch(&self, uri: &Uri) -> bool {
        if uri.scheme_str() != Some("http") {
            return true;
        }
        let Some(host) = uri.host() else {
            return false;
        };
        (self.allow_http && is_loopback(host))
            || self
                .http_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(host) = self.http_hosts.iter().find(|host| !is_bare_host(host)) {
            return Err(ConfigError::InvalidHttpHost { host: host.clone() });
        }
        let uri = match &self.location {
            Location::Jwks(uri) => uri,
            Location::Discovery { metadata, .. } => metadata,
        };
        if !self.may_fetch(uri) {
            return Err(ConfigError::PlainHttpNotAllowed {
                host: uri.host().unwrap_or_default().to_owned(),
            });
        }
        if self.algorithms.is_empty() || self.algorithms.iter().any(|alg| !ASYMMETRIC.contains(alg))
        {
            return Err(ConfigError::InvalidJwksAlgorithms);
        }
        let invalid = |setting, requirement| {
            Err(ConfigError::InvalidJwksSetting {
                setting,
                requirement,
            })
        };
        if self.min_ttl < Duration::from_secs(1) {
            return invalid("min_ttl", "it must be at least 1 s");
        }
        if self.min_ttl > self.max_ttl {
            return invalid("max_ttl", "it must be at least min_ttl");
        }
        if self.cooldown < Duration::from_secs(1) || self.cooldown > Duration::from_secs(600) {
            return invalid("cooldown", "it must be between 1 s and 600 s");
        }
        if self.timeout.is_zero() {
            return invalid("timeout", "it must be above zero");
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect_timeout", "it must be above zero");
        }
        if self.max_size == 0 {
            return invalid("max_size", "it must be above zero");
        }
        Ok(())
    }

    pub(crate) fn start(
        self,
        provider: &'static CryptoProvider,
    ) -> Result<Arc<RemoteKeys>, ConfigError> {
        self.check()?;
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(self.connect_timeout));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|err| ConfigError::TlsSetup {
                reason: err.to_string(),
            })?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        let (done, _) = tokio::sync::watch::channel(0u64);
        let remote = Arc::new(RemoteKeys {
            source: self,
            client,
            provider,
            keys: RwLock::new(None),
            state: Mutex::new(FetchState::default()),
            done,
            refresher: AtomicBool::new(false),
        });
        remote.ensure_refresher();
        Ok(remote)
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

#[derive(Debug, Default)]
struct FetchState {
    in_flight: bool,
    /// When a request last started a fetch: the cooldown counts from here.
    last_request_fetch: Option<Instant>,
    /// When the background refresher should fetch next: four fifths into the keys' lifetime
    /// after a success, after the backoff after a failure, at once before any fetch.
    next_attempt: Option<Instant>,
    failures: u32,
    /// Whether the last fetch that ended failed (or was dropped before it completed).
    last_fetch_failed: bool,
    jwks_uri: Option<Uri>,
}

/// A remote key set, shared by the layer and its background refresher.
pub(crate) struct RemoteKeys {
    source: JwksSource,
    client: HttpClient,
    provider: &'static CryptoProvider,
    keys: RwLock<Option<Cached>>,
    state: Mutex<FetchState>,
    /// Bumped at the end of every fetch, successful or not.
    done: tokio::sync::watch::Sender<u64>,
    refresher: AtomicBool,
}

impl fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The keys of the last successful fetch, and until when they may serve.
#[derive(Clone)]
struct Cached {
    keys: Arc<KeySet>,
    /// The end of their cache lifetime plus `max_staleness`; `None` when that does not fit into
    /// an `Instant` (for good).
    serve_until: Option<Instant>,
}

impl Cached {
    fn too_stale(&self, now: Instant) -> bool {
        self.serve_until.is_some_and(|until| now >= until)
    }
}

/// Why a fetch failed: a fixed sentence, for the logs.
#[derive(Debug)]
struct FetchError(&'static str);

impl RemoteKeys {
    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        self.source.algorithms.contains(&algorithm)
    }

    /// The keys of the last successful fetch, however old.
    fn cached(&self) -> Option<Cached> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The keys that may serve now: none when the last good ones are older than their cache
    /// lifetime plus `max_staleness` (they are then dropped).
    fn snapshot(&self) -> Option<Arc<KeySet>> {
        let cached = self.cached()?;
        if cached.too_stale(Instant::now()) {
            self.drop_too_stale();
            return None;
        }
        Some(cached.keys)
    }

    /// Drops keys that are past `max_staleness`, so that the tokens they verified leave the
    /// verified-token cache too.
    fn drop_too_stale(&self) {
        let mut slot = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot
            .as_ref()
            .is_some_and(|cached| cached.too_stale(Instant::now()))
        {
            *slot = None;
            #[cfg(feature = "tracing")]
            tracing::error!(
                max_staleness_secs = self.source.max_staleness.as_secs(),
                "the last good keys are older than their cache lifetime plus max_staleness; \
                 no key serves until a fetch succeeds"
            );
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn resolve(
        self: &Arc<Self>,
        kid: Option<&str>,
        algorithm: Algorithm,
        may_fetch: bool,
    ) -> Resolution<'static> {
        self.ensure_refresher();
        let refused = match self.snapshot() {
            Some(keys) => match keys.select(kid, algorithm) {
                Ok(key) => return Resolution::Found(Resolved::Remote(key.clone())),
                Err(error) if error.kind() == ErrorKind::UnknownKey => error,
                Err(error) => return Resolution::Refused(error),
            },
            None => KEY_SOURCE_UNAVAILABLE,
        };
        if may_fetch {
            if let Some(wait) = self.request_fetch() {
                return Resolution::Wait(wait);
            }
        }
        // A `kid` missing from the set is `unknown_key` only when the set was fetched
        // successfully last. When a fetch that may bring the key is still under way (the wait
        // for it was cut short), or the last fetch failed (the provider is down, and may have
        // rotated its keys), nothing can be said about the token: 503, never a reason for the
        // client to log out.
        let state = self.lock_state();
        if state.in_flight || state.last_fetch_failed {
            return Resolution::Refused(KEY_SOURCE_UNAVAILABLE);
        }
        Resolution::Refused(refused)
    }

    /// A fetch for a request: joins the one under way, or starts one unless the cooldown since
    /// the last one a request started has not passed.
    fn request_fetch(self: &Arc<Self>) -> Option<KeyWait> {
        self.join_or_start(|state| {
            let now = Instant::now();
            if let Some(last) = state.last_request_fetch {
                if now.duration_since(last) < self.source.cooldown {
                    return false;
                }
            }
            state.last_request_fetch = Some(now);
            true
        })
    }

    /// Joins the fetch under way, or starts one on the current Tokio runtime when `start` says
    /// so. `None` when there is nothing to wait for, or no runtime to wait on.
    fn join_or_start(
        self: &Arc<Self>,
        start: impl FnOnce(&mut FetchState) -> bool,
    ) -> Option<KeyWait> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let mut state = self.lock_state();
        if state.in_flight {
            runtime.as_ref()?;
            return Some(self.waiter());
        }
        if !start(&mut state) {
            return None;
        }
        let Some(runtime) = runtime else {
            #[cfg(feature = "tracing")]
            tracing::error!("no tokio runtime: the key set cannot be fetched");
            return None;
        };
        // Made while the state is locked, so that the end of the fetch cannot be missed.
        let wait = self.waiter();
        state.in_flight = true;
        // The guard clears `in_flight` however the task ends, also when the runtime drops the
        // task at once: so the state is unlocked before the spawn.
        drop(state);
        let mut guard = FetchGuard {
            remote: self.clone(),
            completed: false,
        };
        runtime.spawn(async move {
            guard.remote.fetch_and_store().await;
            guard.complete();
        });
        Some(wait)
    }

    /// A future that completes when the fetch under way ends, or when the longest a fetch can
    /// take has passed (a fetch on a runtime that no longer runs never ends). Needs a Tokio
    /// runtime.
    fn waiter(&self) -> KeyWait {
        let mut done = self.done.subscribe();
        // Discovery and the key set, each within the total timeout, and a second to spare.
        let bound = self
            .source
            .timeout
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(1));
        // `timeout` saturates a deadline that does not fit into an `Instant`.
        let wait = tokio::time::timeout(bound, async move {
            let _ = done.changed().await;
        });
        KeyWait::new(async move {
            let _ = wait.await;
        })
    }

    /// Starts the background refresher once, when a Tokio runtime is at hand.
    fn ensure_refresher(self: &Arc<Self>) {
        if self.refresher.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refresher.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        // Cleared when the task ends, also when its runtime drops it: the next runtime that sees
        // a request starts another one.
        let guard = RefresherGuard(weak.clone());
        runtime.spawn(async move {
            let _guard = guard;
            refresh_loop(weak).await;
        });
    }

    async fn fetch_and_store(&self) {
        let result = self.fetch().await;
        let mut state = self.lock_state();
        match result {
            Ok((keys, ttl)) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(ttl_secs = ttl.as_secs(), "key set fetched");
                let now = Instant::now();
                let cached = Cached {
                    keys: Arc::new(keys),
                    serve_until: now
                        .checked_add(ttl)
                        .and_then(|expiry| expiry.checked_add(self.source.max_staleness)),
                };
                match self.keys.write() {
                    Ok(mut slot) => *slot = Some(cached),
                    Err(poisoned) => *poisoned.into_inner() = Some(cached),
                }
                state.failures = 0;
                state.last_fetch_failed = false;
                state.next_attempt = Some(later(Instant::now(), ttl - ttl / 5));
            }
            Err(_error) => {
                self.record_failure(&mut state);
                #[cfg(feature = "tracing")]
                if self.snapshot().is_some() {
                    tracing::warn!(
                        reason = _error.0,
                        failures = state.failures,
                        "key set fetch failed; the last good keys keep serving"
                    );
                } else {
                    tracing::warn!(
                        reason = _error.0,
                        failures = state.failures,
                        "key set fetch failed; no key is known yet"
                    );
                }
                if _error.0 == DISCOVERY_STALE {
                    state.jwks_uri = None;
                }
            }
        }
    }

    fn record_failure(&self, state: &mut FetchState) {
        state.failures = state.failures.saturating_add(1);
        state.last_fetch_failed = true;
        state.next_attempt = Some(later(Instant::now(), backoff(state.failures)));
    }

    /// How long until the refresher's next fetch is due, or the keys become too stale to serve,
    /// whichever comes first.
    fn until_due(&self) -> Duration {
        let next_attempt = self.lock_state().next_attempt;
        let now = Instant::now();
        let due = next_attempt.map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        match self.cached().and_then(|cached| cached.serve_until) {
            Some(until) => due.min(until.saturating_duration_since(now)),
            None => due,
        }
    }

    /// The refresher's fetch: joins the one under way, or starts one if it is due.
    fn refresh_if_due(self: &Arc<Self>) -> Option<KeyWait> {
        self.join_or_start(|state| state.next_attempt.is_none_or(|at| Instant::now() >= at))
    }

    /// A fetch now: joins the one under way, or starts one.
    fn refresh_now(self: &Arc<Self>) -> Option<KeyWait> {
        self.join_or_start(|_| true)
    }

    /// Fetches until keys are known or `timeout` passes.
    pub(crate) async fn wait_for_keys(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Result<(), AuthError> {
        self.ensure_refresher();
        let fetched = async {
            while self.snapshot().is_none() {
                let Some(wait) = self.refresh_now() else {
                    return Err(KEY_SOURCE_UNAVAILABLE);
                };
                wait.await;
                if self.snapshot().is_none() {
                    let backoff = self.until_due().max(Duration::from_millis(100));
                    tokio::time::sleep(backoff).await;
                }
            }
            Ok(())
        };
        // `timeout` saturates a deadline that does not fit into an `Instant`.
        tokio::time::timeout(timeout, fetched)
            .await
            .unwrap_or(Err(KEY_SOURCE_UNAVAILABLE))
    }

    async fn fetch(&self) -> Result<(KeySet, Duration), FetchError> {
        let jwks_uri = match &self.source.location {
            Location::Jwks(uri) => uri.clone(),
            Location::Discovery { issuer, metadata } => {
                let cached = self.lock_state().jwks_uri.clone();
                match cached {
                    Some(uri) => uri,
                    None => {
                        let uri = self.discover(issuer, metadata).await?;
                        self.lock_state().jwks_uri = Some(uri.clone());
                        uri
                    }
                }
            }
        };
        let (body, max_age) = self.get(&jwks_uri).await.map_err(|err| {
            if matches!(self.source.location, Location::Discovery { .. }) {
                // Discover again next time: the metadata may have moved the key set.
                FetchError(DISCOVERY_STALE)
            } else {
                err
            }
        })?;
        let parsed = parse_jwks(&body, false).map_err(FetchError)?;
        let mut skipped = parsed.skipped;
        let mut keys = Vec::with_capacity(parsed.keys.len());
        for mut key in parsed.keys {
            if !key.algorithms().iter().all(|alg| self.allows(*alg)) {
                skipped.push(SkippedKey {
                    kid: key.kid().map(str::to_owned),
                    reason: "the key's algorithm is not allowed for this key set",
                });
            } else if key.prepare(self.provider).is_err() {
                skipped.push(SkippedKey {
                    kid: key.kid().map(str::to_owned),
                    reason: "the crypto provider refused the key",
                });
            } else {
                keys.push(key);
            }
        }
        log_skipped(&skipped);
        if keys.is_empty() {
            return Err(FetchError("the key set has no usable key"));
        }
        // Keys that did not change stay the same objects, so that what they verified stays
        // in the verified-token cache.
        let previous = self.cached();
        let keys = keys
            .into_iter()
            .map(|key| {
                previous
                    .as_ref()
                    .and_then(|cached| cached.keys.find_same(&key).cloned())
                    .unwrap_or_else(|| Arc::new(key))
            })
            .collect();
        let keys =
            KeySet::from_shared(keys).map_err(|_| FetchError("the key set is not usable"))?;
        let ttl = max_age
            .unwrap_or(self.source.default_ttl)
            .clamp(self.source.min_ttl, self.source.max_ttl);
        Ok((keys, ttl))
    }

    async fn discover(&self, issuer: &str, metadata: &Uri) -> Result<Uri, FetchError> {
        #[derive(serde::Deserialize)]
        struct Metadata {
            issuer: String,
            jwks_uri: String,
        }
        let (body, _) = self.get(metadata).await?;
        let metadata: Metadata = serde_json::from_slice(&body)
            .map_err(|_| FetchError("the discovery document is not valid"))?;
        // RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer must be identical.
        if metadata.issuer != issuer {
            return Err(FetchError("the discovery document names another issuer"));
        }
        let uri = parse_uri(&metadata.jwks_uri)
            .map_err(|_| FetchError("the discovery document's jwks_uri is not valid"))?;
        if !self.source.may_fetch(&uri) {
            return Err(FetchError(
                "the discovery document's jwks_uri is plain http to a host that is neither \
                 loopback under allow_http(true) nor named with allow_http_host",
            ));
        }
        Ok(uri)
    }

    async fn get(&self, uri: &Uri) -> Result<(Bytes, Option<Duration>), FetchError> {
        let request = Request::get(uri.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .header(
                USER_AGENT,
                concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|_| FetchError("the request could not be built"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|_| FetchError("the key server could not be reached"))?;
            if !response.status().is_success() {
                return Err(FetchError("the key server answered with an error status"));
            }
            let max_age = max_age(response.headers());
            let body = Limited::new(response.into_body(), self.source.max_size)
                .collect()
                .await
                .map_err(|_| FetchError("the response is too large or broken"))?
                .to_bytes();
            Ok((body, max_age))
        };
        tokio::time::timeout(self.source.timeout, exchange)
            .await
            .map_err(|_| FetchError("the key server did not answer in time"))?
    }
}

const DISCOVERY_STALE: &str = "the key set named by discovery could not be fetched";

/// Ends a fetch however its task ends: completed, dropped (the task cancelled, or its runtime
/// shut down) or panicked. A fetch that did not complete counts as a failed one. Either way
/// `in_flight` is cleared and the waiters are woken.
struct FetchGuard {
    remote: Arc<RemoteKeys>,
    completed: bool,
}

impl FetchGuard {
    fn complete(&mut self) {
        self.completed = true;
    }
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        let mut state = self.remote.lock_state();
        if !self.completed {
            self.remote.record_failure(&mut state);
            #[cfg(feature = "tracing")]
            tracing::warn!(
                failures = state.failures,
                "key set fetch ended before it completed (its task was dropped or panicked)"
            );
        }
        state.in_flight = false;
        drop(state);
        self.remote
            .done
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

/// Marks the background refresher as gone when its task ends, however it ends.
struct RefresherGuard(Weak<RemoteKeys>);

impl Drop for RefresherGuard {
    fn drop(&mut self) {
        if let Some(remote) = self.0.upgrade() {
            remote.refresher.store(false, Ordering::Release);
        }
    }
}

/// `127.0.0.0/8`, `[::1]` or `localhost` (the host of a URI: IPv6 in brackets).
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')) {
        Some(ip) => ip
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback()),
    }
}

/// A host name or IP address alone: what `http://{host}/` has as its whole authority.
fn is_bare_host(host: &str) -> bool {
    !host.is_empty()
        && format!("http://{host}/").parse::<Uri>().is_ok_and(|uri| {
            uri.port().is_none()
                && uri.host() == Some(host)
                && uri.authority().map(|a| a.as_str()) == Some(host)
        })
}

/// Far enough to stand for "never", near enough to fit into an `Instant` on every platform.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `now + after`, saturated far in the future instead of overflowing (a `max-age` from the
/// wire, or a bound of `Duration::MAX`).
fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(after.min(FAR_FUTURE)))
        .unwrap_or(now)
}

/// The background refresher: sleeps until the next fetch is due, and works the schedule out
/// again whenever any fetch ends (one a request started may have changed it).
async fn refresh_loop(weak: Weak<RemoteKeys>) {
    loop {
        let (delay, mut done) = match weak.upgrade() {
            Some(remote) => (remote.until_due(), remote.done.subscribe()),
            None => return,
        };
        if !delay.is_zero() {
            match tokio::time::timeout(delay, done.changed()).await {
                // A fetch ended: the schedule may have changed.
                Ok(Ok(())) => continue,
                // The key set is gone.
                Ok(Err(_)) => return,
                Err(_elapsed) => {}
            }
        }
        let wait = match weak.upgrade() {
            Some(remote) => {
                // Keys past `max_staleness` are dropped now, also when no request looks.
                let _ = remote.snapshot();
                remote.refresh_if_due()
            }
            None => return,
        };
        if let Some(wait) = wait {
            wait.await;
        }
    }
}

/// The wait before the next attempt after `failures` failures in a row: 1 s, doubling, at most
/// 60 s.
fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    (Duration::from_secs(1) * 2u32.pow(exp)).min(MAX_BACKOFF)
}

/// `max-age` of `Cache-Control`; `no-store` and `no-cache` count as zero.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut result = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim(), Some(arg.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age") {
                if let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok()) {
                    result = Some(Duration::from_secs(secs));
                }
            } else if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache")
            {
                return Some(Duration::ZERO);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CACHE_CONTROL, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(
            max_age(&headers(&["public, max-age=600"])),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            max_age(&headers(&["public", "Max-Age=\"60\""])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            max_age(&headers(&["max-age=60, no-cache"])),
            Some(Duration::ZERO)
        );
        assert_eq!(max_age(&headers(&["max-age=abc"])), None);
    }

    #[test]
    fn instants_saturate() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(later(now, Duration::MAX) >= now + FAR_FUTURE);
        assert!(later(now, Duration::MAX - Duration::MAX / 5) > now);
    }

    #[test]
    fn plain_http_is_for_loopback_and_named_hosts() {
        for host in [
            "127.0.0.1",
            "127.255.0.9",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "10.0.0.1",
            "[::ffff:127.0.0.1]",
            "[::]",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "::1",
            "",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        for host in ["keys.internal", "10.0.0.1", "[fd00::1]", "KEYS"] {
            assert!(is_bare_host(host), "{host}");
        }
        for host in [
            "", "a:80", "u@h", "h/p", "http://h", "a b", "[::1]:80", "h?q",
        ] {
            assert!(!is_bare_host(host), "{host}");
        }

        let uri = |url: &str| url.parse::<Uri>().unwrap();
        let source = JwksSource::new("https://issuer.example/jwks").unwrap();
        assert!(source.may_fetch(&uri("https://anywhere.example/jwks")));
        assert!(!source.may_fetch(&uri("http://127.0.0.1/jwks")));
        let loopback = source.clone().allow_http(true);
        assert!(loopback.may_fetch(&uri("http://127.0.0.1:8080/jwks")));
        assert!(loopback.may_fetch(&uri("http://localhost/jwks")));
        assert!(loopback.may_fetch(&uri("http://[::1]:1/jwks")));
        assert!(!loopback.may_fetch(&uri("http://keys.internal/jwks")));
        let named = source.allow_http_host("Keys.Internal");
        assert!(named.may_fetch(&uri("http://keys.internal:8080/jwks")));
        assert!(!named.may_fetch(&uri("http://keys.internal.example/jwks")));
        assert!(!named.may_fetch(&uri("http://127.0.0.1/jwks")));

        let error = JwksSource::new("http://keys.example.com/jwks")
            .unwrap()
            .allow_http(true)
            .check()
            .unwrap_err();
        assert_eq!(
            error,
            ConfigError::PlainHttpNotAllowed {
                host: "keys.example.com".into()
            }
        );
        let error = JwksSource::new("https://keys.example.com/jwks")
            .unwrap()
            .allow_http_host("keys.example.com:80")
            .check()
            .unwrap_err();
        assert!(error.to_string().contains("allow_http_host"), "{error}");
    }

    #[test]
    fn sources_are_checked() {
        assert!(JwksSource::new("ftp://x/jwks").is_err());
        assert!(JwksSource::new("/relative").is_err());
        let http = JwksSource::new("http://127.0.0.1:1/jwks").unwrap();
        assert_eq!(http.max_staleness, Duration::from_secs(24 * 60 * 60));
        assert!(http.check().is_err());
        assert!(http.clone().allow_http(true).check().is_ok());
        assert!(http
            .clone()
            .allow_http(true)
            .algorithms([Algorithm::HS256])
            .check()
            .is_err());
        assert!(http
            .clone()
            .allow_http(true)
            .cooldown(Duration::ZERO)
            .check()
            .is_err());
        let discovery = JwksSource::discover("https://issuer.example/realms/a/").unwrap();
        match &discovery.location {
            Location::Discovery { metadata, issuer } => {
                assert_eq!(
                    metadata.to_string(),
                    "https://issuer.example/realms/a/.well-known/openid-configuration"
                );
                assert_eq!(issuer, "https://issuer.example/realms/a/");
            }
            Location::Jwks(_) => panic!("discovery expected"),
        }
    }
}
