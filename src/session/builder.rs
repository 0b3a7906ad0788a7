//! [`SessionsBuilder`]: the settings of [`Sessions`], checked as they are given; `build`
//! assembles the minter, the store, the refresh token key and the browser settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::cookies::CookieSettings;
use super::error::{ReuseEvent, ReuseHook};
use super::issue::{invalid, AccessTokenMinterBuilder};
use super::lifecycle::{Inner, Sessions};
use super::refresh_token::RefreshTokenKey;
use super::stores::memory::MemoryStore;
use super::stores::{SessionLimits, SessionStore, DEFAULT_MAX_SESSIONS_PER_USER};
use crate::builder::{DEFAULT_LEEWAY, MAX_LEEWAY};
use crate::clock::Clock;
use crate::csrf::CsrfGuard;
use crate::error::ConfigError;
use crate::keys::signing::{SigningKey, SigningKeys};

/// The default idle timeout: a refresh token not used for 7 days expires.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default absolute lifetime of a session: 30 days, however often it is refreshed.
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default grace window after a rotation: 10 seconds.
pub const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(10);
/// The longest grace window that can be configured: 5 minutes. The window is for racing tabs
/// and lost responses, not for keeping used tokens usable.
pub const MAX_REFRESH_GRACE: Duration = Duration::from_secs(300);

/// The settings of [`Sessions`]; see [`Sessions::builder`]. A setting whose value is invalid
/// fails at once (the setter returns a [`ConfigError`]); [`build`](Self::build) reports what
/// needs the whole configuration.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::session::{MemoryStore, Sessions};
/// use tower_jwt_auth::{Algorithm, SigningKey, SigningKeys};
///
/// let current = SigningKey::hmac(Algorithm::HS256, b"the current secret of 32 bytes!!")?
///     .with_kid("2026-12");
/// let previous = SigningKey::hmac(Algorithm::HS256, b"the previous secret of 32 bytes!")?
///     .with_kid("2026-11");
/// let sessions = Sessions::builder()
///     .signing_keys(SigningKeys::new(current).verification_only_key(previous)?)?
///     .issuer("https://issuer.example")?
///     .audience("api")?
///     .at_jwt_typ(true)
///     .access_ttl(Duration::from_secs(300))?
///     .idle_timeout(Duration::from_secs(3 * 24 * 3600))?
///     .absolute_lifetime(Duration::from_secs(14 * 24 * 3600))?
///     .refresh_grace(Duration::from_secs(5))?
///     .store(MemoryStore::builder().capacity(10_000).build())
///     .on_reuse(|event| eprintln!("refresh token reuse: sub {} sid {}", event.sub, event.sid))
///     .build()?;
/// assert_eq!(sessions.verification_keys().len(), 2);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[must_use]
pub struct SessionsBuilder {
    /// The issuing settings: keys, issuer, audiences, lifetime, `typ`, clock.
    minter: AccessTokenMinterBuilder,
    idle_timeout: Duration,
    absolute_lifetime: Duration,
    refresh_grace: Duration,
    max_sessions_per_user: usize,
    leeway: Duration,
    refresh_key: Option<RefreshTokenKey>,
    store: Option<Arc<dyn SessionStore>>,
    clock: Option<Clock>,
    cookies: Option<CookieSettings>,
    csrf: CsrfGuard,
    on_reuse: Option<ReuseHook>,
    dpop: Option<crate::dpop::DpopConfig>,
}

impl fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("minter", &self.minter)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("refresh_grace", &self.refresh_grace)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("leeway", &self.leeway)
            .field("refresh_key", &self.refresh_key.is_some())
            .field("store", &self.store.is_some())
            .field("cookies", &self.cookies)
            .field("csrf", &self.csrf)
            .field("on_reuse", &self.on_reuse.is_some())
            .finish()
    }
}

impl Sessions {
    /// Starts a configuration with the defaults: 10 minute access tokens, a 7 day idle timeout,
    /// a 30 day absolute lifetime, a 10 second grace window, `typ` `JWT`, and a [`MemoryStore`]
    /// with a random refresh token key per process (a shared store needs
    /// [`refresh_token_key`](SessionsBuilder::refresh_token_key)). The
    /// [sessions guide](crate::guide::sessions) walks through the lifecycle.
    pub fn builder() -> SessionsBuilder {
        SessionsBuilder {
            minter: AccessTokenMinterBuilder::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_lifetime: DEFAULT_ABSOLUTE_LIFETIME,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            max_sessions_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            leeway: DEFAULT_LEEWAY,
            refresh_key: None,
            store: None,
            clock: None,
            cookies: None,
            csrf: CsrfGuard::new(),
            on_reuse: None,
            dpop: None,
        }
    }
}

impl SessionsBuilder {
    /// The signing keys: the active one signs, the others stay published for verification
    /// (key rotation with an overlap). Replaces any key set before.
    ///
    /// # Errors
    ///
    /// The errors of the keys' `kid`s (see [`SigningKeys`]).
    pub fn signing_keys(mut self, keys: SigningKeys) -> Result<Self, ConfigError> {
        self.minter = self.minter.signing_keys(keys)?;
        Ok(self)
    }

    /// One signing key, the only one. Replaces any key set before.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidKid`] for a `kid` that is not 1 to 256 bytes of printable ASCII.
    pub fn signing_key(self, key: SigningKey) -> Result<Self, ConfigError> {
        self.signing_keys(SigningKeys::new(key))
    }

    /// The `iss` of every access token (required), and the issuer the layer expects.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for an empty issuer or one with a control character.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Result<Self, ConfigError> {
        self.minter = self.minter.issuer(issuer)?;
        Ok(self)
    }

    /// Adds an audience: the `aud` of every access token, and an audience the layer accepts.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for an empty audience or one with a control character.
    pub fn audience(mut self, audience: impl Into<String>) -> Result<Self, ConfigError> {
        self.minter = self.minter.audience(audience)?;
        Ok(self)
    }

    /// The lifetime of an access token: 1 second to 24 hours, 10 minutes by default.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for a lifetime outside 1 second to 24 hours.
    pub fn access_ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        self.minter = self.minter.ttl(ttl)?;
        Ok(self)
    }

    /// A refresh token not used for this long expires, and with it the session (default 7
    /// days). Each rotation starts a new idle window, capped by the absolute lifetime.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for zero.
    pub fn idle_timeout(mut self, timeout: Duration) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(invalid("idle timeout", "must not be zero"));
        }
        self.idle_timeout = timeout;
        Ok(self)
    }

    /// A session ends this long after it was opened, however often it is refreshed (default
    /// 30 days). Rotation never extends it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for zero.
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Result<Self, ConfigError> {
        if lifetime.is_zero() {
            return Err(invalid("absolute lifetime", "must not be zero"));
        }
        self.absolute_lifetime = lifetime;
        Ok(self)
    }

    /// The most live sessions one user may have (default 100); `0` turns the cap off. Opening
    /// one more ends that user's session with the oldest opening time: its refresh token is
    /// refused (`invalid_refresh_token`) and its access tokens `revoked`. Separate from the
    /// store's own capacity ([`MemoryStoreBuilder::capacity`](super::MemoryStoreBuilder::capacity)),
    /// which refuses new sessions (503) when the whole store is full.
    pub fn max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_sessions_per_user = max;
        self
    }

    /// After a rotation, presenting the same refresh token again within this window returns
    /// the same successor pair (two tabs, a retry after a lost response); after it, it is
    /// reuse and ends the session. Default 10 seconds, at most [`MAX_REFRESH_GRACE`], and
    /// shorter than the idle timeout (checked by [`build`](Self::build)); zero turns the window
    /// off.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for a window over [`MAX_REFRESH_GRACE`].
    pub fn refresh_grace(mut self, grace: Duration) -> Result<Self, ConfigError> {
        if grace > MAX_REFRESH_GRACE {
            return Err(invalid("refresh grace", "must be at most 5 minutes"));
        }
        self.refresh_grace = grace;
        Ok(self)
    }

    /// The verification leeway of the layer from [`Sessions::layer_builder`] (default
    /// [`DEFAULT_LEEWAY`], at most [`MAX_LEEWAY`]). Revocations are kept for the access token
    /// lifetime plus this leeway.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] for a leeway over [`MAX_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Result<Self, ConfigError> {
        if leeway > MAX_LEEWAY {
            return Err(invalid("leeway", "must be at most 5 minutes"));
        }
        self.leeway = leeway;
        Ok(self)
    }

    /// Types the access tokens `at+jwt` (RFC 9068), and has the layer require that type. Off by
    /// default. Requires an audience (checked by [`build`](Self::build)).
    pub fn at_jwt_typ(mut self, at_jwt: bool) -> Self {
        self.minter = self.minter.at_jwt_typ(at_jwt);
        self
    }

    /// The key that signs refresh tokens (a MAC that names the session; see
    /// [`RefreshTokenKey`]). Every instance sharing a store must use the same key, and keep it
    /// across restarts. Required with a store shared between processes (Redis); with the
    /// in-memory store, a random key per process is made when none is given.
    ///
    /// ```
    /// use tower_jwt_auth::session::{RefreshTokenKey, Sessions};
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # let secret = b"an example secret of 32 bytes!!!";
    /// let sessions = Sessions::builder()
    ///     .signing_key(SigningKey::hmac(Algorithm::HS256, secret)?)?
    ///     .issuer("https://issuer.example")?
    ///     // A dedicated secret (`RefreshTokenKey::new`), or one derived from a secret every
    ///     // instance already shares:
    ///     .refresh_token_key(RefreshTokenKey::derive(secret)?)
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh_token_key(mut self, key: RefreshTokenKey) -> Self {
        self.refresh_key = Some(key);
        self
    }

    /// The session store; a [`MemoryStore`] (with this builder's clock) by default. Instances
    /// of a service that must agree on sessions share a Redis store (feature `redis`), and a
    /// [`refresh_token_key`](Self::refresh_token_key).
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The clock access tokens are issued by and the layer judges them by; the system clock by
    /// default. For tests. A store given to [`store`](Self::store) judges refresh tokens by its
    /// own clock: give it the same one.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Serves browsers with the cookies of `settings`: the layer from
    /// [`Sessions::layer_builder`] reads the access token from the bearer header or the access
    /// cookie, and the [endpoints](Sessions::endpoints) accept the refresh cookie and set and
    /// clear the cookies (see [`SessionEndpoints`](super::SessionEndpoints)). Off by default.
    pub fn cookies(mut self, settings: CookieSettings) -> Self {
        self.cookies = Some(settings);
        self
    }

    /// The CSRF guard of the layer from [`Sessions::layer_builder`] and of the cookie
    /// [endpoints](Sessions::endpoints), configured once for both ([`CsrfGuard::new()`] by
    /// default). With [cookies](Self::cookies), a
    /// [double-submit](CsrfGuard::double_submit) guard checks the CSRF cookie those settings
    /// name ([`CookieSettings::csrf_cookie_name`]), whatever name it was given.
    pub fn csrf(mut self, guard: CsrfGuard) -> Self {
        self.csrf = guard;
        self
    }

    /// Called once for every session ended by reuse detection, after the session was ended (a
    /// `warn` tracing event is emitted too, with feature `tracing`). Keep it quick: it runs in
    /// the refresh request.
    pub fn on_reuse(mut self, hook: impl Fn(&ReuseEvent) + Send + Sync + 'static) -> Self {
        self.on_reuse = Some(Arc::new(hook));
        self
    }

    /// The settings the login and refresh check DPoP proofs with (algorithms, `iat` window,
    /// replay cache, public origin); [`DpopConfig::new`](crate::dpop::DpopConfig::new) by
    /// default. See [`Sessions::check_dpop_proof`].
    pub fn dpop(mut self, config: crate::dpop::DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// Builds the [`Sessions`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] without a signing key or an issuer, for `at+jwt` without
    /// an audience, a grace window not shorter than the idle timeout, or a store shared between
    /// processes without a [`refresh_token_key`](Self::refresh_token_key).
    pub fn build(self) -> Result<Sessions, ConfigError> {
        if self.refresh_grace >= self.idle_timeout {
            return Err(invalid(
                "refresh grace",
                "must be shorter than the idle timeout",
            ));
        }
        let clock_set = self.clock.is_some();
        let clock = self.clock.unwrap_or_default();
        let minter = self.minter.clock(clock.clone()).build()?;
        let store = match self.store {
            Some(store) => store,
            None => Arc::new(MemoryStore::builder().clock(clock).build()),
        };
        let refresh_key = match self.refresh_key {
            Some(key) => key,
            None if store.is_process_local() => RefreshTokenKey::generate()
                .map_err(|_| invalid("refresh token key", "could not be generated"))?,
            None => {
                return Err(invalid(
                    "refresh token key",
                    "is required with a store shared between processes",
                ))
            }
        };
        let limits = SessionLimits {
            absolute_lifetime: self.absolute_lifetime,
            idle_timeout: self.idle_timeout,
            refresh_grace: self.refresh_grace,
            token_lifetime: minter.ttl().saturating_add(self.leeway),
            max_sessions_per_user: self.max_sessions_per_user,
        };
        // The double-submit cookie is the one the cookie settings set.
        let csrf = match (&self.cookies, self.csrf.key()) {
            (Some(cookies), Some(key)) => self
                .csrf
                .clone()
                .double_submit(key.clone(), cookies.csrf_cookie_name()),
            _ => self.csrf,
        };
        Ok(Sessions {
            inner: Arc::new(Inner {
                minter,
                refresh_key,
                metrics: crate::metrics::SessionMetrics::new(store.metrics_label()),
                store,
                limits,
                clock_set,
                leeway: self.leeway,
                cookies: self.cookies,
                csrf,
                on_reuse: self.on_reuse,
                dpop: self.dpop.unwrap_or_default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    use crate::session::DEFAULT_ACCESS_TTL;

    fn key() -> SigningKey {
        SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn session_builder_refuses_bad_settings() {
        // The setting a refusal names, at the call or at `build`.
        let problem = |b: Result<SessionsBuilder, ConfigError>| match b.and_then(|b| b.build()) {
            Err(ConfigError::InvalidIssuing { setting, .. }) => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(problem(Sessions::builder().issuer("i")), "signing key");
        let ok = || Sessions::builder().signing_key(key()).unwrap().issuer("i");
        assert_eq!(problem(Sessions::builder().signing_key(key())), "issuer");
        assert_eq!(
            problem(ok().and_then(|b| b.idle_timeout(Duration::ZERO))),
            "idle timeout"
        );
        assert_eq!(
            problem(ok().and_then(|b| b.absolute_lifetime(Duration::ZERO))),
            "absolute lifetime"
        );
        assert_eq!(
            problem(ok().and_then(|b| b.refresh_grace(Duration::from_secs(301)))),
            "refresh grace"
        );
        assert_eq!(
            problem(ok().and_then(|b| {
                b.idle_timeout(Duration::from_secs(5))?
                    .refresh_grace(Duration::from_secs(5))
            })),
            "refresh grace"
        );
        assert_eq!(
            problem(ok().and_then(|b| b.leeway(Duration::from_secs(301)))),
            "leeway"
        );
        assert_eq!(problem(ok().map(|b| b.at_jwt_typ(true))), "audience");
        assert_eq!(
            problem(ok().and_then(|b| b.access_ttl(Duration::ZERO))),
            "access token lifetime"
        );
        let sessions = ok()
            .and_then(|b| b.audience("api"))
            .and_then(|b| b.build())
            .unwrap();
        assert_eq!(
            sessions.limits().token_lifetime,
            DEFAULT_ACCESS_TTL + DEFAULT_LEEWAY
        );
    }
}
