//! [`Sessions`]: the session lifecycle as library API. Opening a session for a subject, refresh
//! with rotation, reuse detection and the grace window, logout, logout everywhere; the
//! verification side ([`Sessions::layer_builder`], [`Sessions::jwks_document`]) comes from the
//! same configuration.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::issue::{AccessTokenMinter, Grant, IssueError, DEFAULT_ACCESS_TTL};
use super::memory::MemoryStore;
use super::refresh::{
    RefreshToken, RefreshTokenKey, SealedSuccessor, SessionCryptoError, SessionId, SuccessorPair,
};
use super::store::{
    Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
};
use crate::builder::{JwtAuthBuilder, DEFAULT_LEEWAY, MAX_LEEWAY};
use crate::clock::{unix_secs, Clock};
use crate::error::ConfigError;
use crate::keys::key::Key;
use crate::keys::signing::{SigningKey, SigningKeys};
use crate::revocation::{StoreError, TokenIdentity};

/// The default idle timeout: a refresh token not used for 7 days expires.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default absolute lifetime of a session: 30 days, however often it is refreshed.
pub const DEFAULT_ABSOLUTE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default grace window after a rotation: 10 seconds.
pub const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(10);
/// The longest grace window that can be configured: 5 minutes. The window is for racing tabs
/// and lost responses, not for keeping used tokens usable.
pub const MAX_REFRESH_GRACE: Duration = Duration::from_secs(300);

type ReuseHook = Arc<dyn Fn(&ReuseEvent) + Send + Sync>;

/// The session lifecycle: opens sessions, refreshes them (rotation, reuse detection, the grace
/// window), ends them, and configures the layer that verifies their access tokens.
///
/// Cloning is cheap: clones share the configuration and the store.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, SigningKey};
/// use tower_jwt_auth::session::{Grant, Sessions};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = Sessions::builder()
///     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
///     .issuer("https://issuer.example")
///     .audience("api")
///     .build()?; // the in-memory store, 10 min access tokens, 7 days idle, 30 days absolute
///
/// // After checking the user's credentials:
/// let pair = sessions.open(Grant::new("user-42").scope("read")).await?;
/// assert_eq!(pair.token_type(), "Bearer");
///
/// // When the access token expires:
/// let next = sessions.refresh(pair.refresh_token()).await?;
/// assert_ne!(next.refresh_token(), pair.refresh_token());
///
/// // The layer that checks the access tokens, from the same configuration:
/// let auth = sessions.layer_builder::<Claims>().build()?;
/// # let _ = auth;
///
/// // Logout, with nothing but the refresh token:
/// assert!(sessions.logout_by_refresh_token(next.refresh_token()).await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    minter: AccessTokenMinter,
    refresh_key: RefreshTokenKey,
    store: Arc<dyn SessionStore>,
    limits: SessionLimits,
    clock: Clock,
    /// Whether a clock was configured (it then goes to the layer too).
    clock_set: bool,
    issuer: String,
    audiences: Vec<String>,
    at_jwt: bool,
    leeway: Duration,
    on_reuse: Option<ReuseHook>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Sessions")
            .field("minter", &inner.minter)
            .field("limits", &inner.limits)
            .field("clock", &inner.clock)
            .field("leeway", &inner.leeway)
            .field("on_reuse", &inner.on_reuse.is_some())
            .finish_non_exhaustive()
    }
}

/// A session was ended because one of its refresh tokens was presented again after the grace
/// window: usually a stolen token. Handed to the hook of [`SessionsBuilder::on_reuse`]; it holds
/// no token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReuseEvent {
    /// The session's subject.
    pub sub: String,
    /// The ended session.
    pub sid: String,
}

/// The settings of [`Sessions`]; see [`Sessions::builder`].
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::session::MemoryStore;
/// use tower_jwt_auth::{Algorithm, SigningKey, SigningKeys};
/// use tower_jwt_auth::session::Sessions;
///
/// let current = SigningKey::hmac(Algorithm::HS256, b"the current secret of 32 bytes!!")?
///     .with_kid("2026-12");
/// let previous = SigningKey::hmac(Algorithm::HS256, b"the previous secret of 32 bytes!")?
///     .with_kid("2026-11");
/// let sessions = Sessions::builder()
///     .signing_keys(SigningKeys::new(current).verification_only_key(previous)?)
///     .issuer("https://issuer.example")
///     .audience("api")
///     .at_jwt_typ(true)
///     .access_ttl(Duration::from_secs(300))
///     .idle_timeout(Duration::from_secs(3 * 24 * 3600))
///     .absolute_lifetime(Duration::from_secs(14 * 24 * 3600))
///     .refresh_grace(Duration::from_secs(5))
///     .store(MemoryStore::builder().capacity(10_000).build())
///     .on_reuse(|event| eprintln!("refresh token reuse: sub {} sid {}", event.sub, event.sid))
///     .build()?;
/// assert_eq!(sessions.verification_keys().len(), 2);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[must_use]
pub struct SessionsBuilder {
    keys: Option<SigningKeys>,
    issuer: Option<String>,
    audiences: Vec<String>,
    access_ttl: Duration,
    idle_timeout: Duration,
    absolute_lifetime: Duration,
    refresh_grace: Duration,
    leeway: Duration,
    at_jwt: bool,
    refresh_key: Option<RefreshTokenKey>,
    store: Option<Arc<dyn SessionStore>>,
    clock: Option<Clock>,
    on_reuse: Option<ReuseHook>,
}

impl fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("access_ttl", &self.access_ttl)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_lifetime", &self.absolute_lifetime)
            .field("refresh_grace", &self.refresh_grace)
            .field("leeway", &self.leeway)
            .field("at_jwt", &self.at_jwt)
            .field("refresh_key", &self.refresh_key.is_some())
            .field("store", &self.store.is_some())
            .field("clock", &self.clock)
            .field("on_reuse", &self.on_reuse.is_some())
            .finish()
    }
}

impl SessionsBuilder {
    /// The signing keys: the active one signs, the others stay published for verification
    /// (key rotation with an overlap). Replaces any key set before.
    pub fn signing_keys(mut self, keys: SigningKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// One signing key, the only one. Replaces any key set before.
    pub fn signing_key(self, key: SigningKey) -> Self {
        self.signing_keys(SigningKeys::new(key))
    }

    /// The `iss` of every access token (required), and the issuer the layer expects.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an audience: the `aud` of every access token, and an audience the layer accepts.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The lifetime of an access token: 1 second to 24 hours, 10 minutes by default.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// A refresh token not used for this long expires, and with it the session (default 7
    /// days). Each rotation starts a new idle window, capped by the absolute lifetime.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// A session ends this long after it was opened, however often it is refreshed (default
    /// 30 days). Rotation never extends it.
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute_lifetime = lifetime;
        self
    }

    /// After a rotation, presenting the same refresh token again within this window returns
    /// the same successor pair (two tabs, a retry after a lost response); after it, it is
    /// reuse and ends the session. Default 10 seconds, at most [`MAX_REFRESH_GRACE`]; zero
    /// turns the window off.
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.refresh_grace = grace;
        self
    }

    /// The verification leeway of the layer from [`Sessions::layer_builder`] (default
    /// [`DEFAULT_LEEWAY`], at most [`MAX_LEEWAY`]). Revocations are kept for the access token
    /// lifetime plus this leeway.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Types the access tokens `at+jwt` (RFC 9068), and has the layer require that type. Off by
    /// default. Requires an audience.
    pub fn at_jwt_typ(mut self, at_jwt: bool) -> Self {
        self.at_jwt = at_jwt;
        self
    }

    /// The key that signs refresh tokens (a MAC that names the session; see
    /// [`RefreshTokenKey`]). Every instance sharing a store must use the same key, and keep it
    /// across restarts. Required with a store shared between processes (Redis); with the
    /// in-memory store, a random key per process is made when none is given.
    ///
    /// ```
    /// use tower_jwt_auth::session::RefreshTokenKey;
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # use tower_jwt_auth::session::Sessions;
    /// # let secret = b"an example secret of 32 bytes!!!";
    /// let sessions = Sessions::builder()
    ///     .signing_key(SigningKey::hmac(Algorithm::HS256, secret)?)
    ///     .issuer("https://issuer.example")
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

    /// Called once for every session ended by reuse detection, after the session was ended (a
    /// `warn` tracing event is emitted too, with feature `tracing`). Keep it quick: it runs in
    /// the refresh request.
    pub fn on_reuse(mut self, hook: impl Fn(&ReuseEvent) + Send + Sync + 'static) -> Self {
        self.on_reuse = Some(Arc::new(hook));
        self
    }

    /// Checks the settings and builds the [`Sessions`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuing`] without a signing key or an issuer, for an empty issuer
    /// or audience, an access token lifetime outside 1 second to 24 hours, `at+jwt` without an
    /// audience, a zero idle timeout or absolute lifetime, a grace window over
    /// [`MAX_REFRESH_GRACE`] or not shorter than the idle timeout, a leeway over
    /// [`MAX_LEEWAY`], or a store shared between processes without a
    /// [`refresh_token_key`](Self::refresh_token_key); the errors of the signing keys' `kid`s
    /// (see [`SigningKeys`]).
    pub fn build(self) -> Result<Sessions, ConfigError> {
        let invalid = |setting, problem| ConfigError::InvalidIssuing { setting, problem };
        let Some(keys) = self.keys else {
            return Err(invalid("signing key", "is required"));
        };
        if self.idle_timeout.is_zero() {
            return Err(invalid("idle timeout", "must not be zero"));
        }
        if self.absolute_lifetime.is_zero() {
            return Err(invalid("absolute lifetime", "must not be zero"));
        }
        if self.refresh_grace > MAX_REFRESH_GRACE {
            return Err(invalid("refresh grace", "must be at most 5 minutes"));
        }
        if self.refresh_grace >= self.idle_timeout {
            return Err(invalid(
                "refresh grace",
                "must be shorter than the idle timeout",
            ));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(invalid("leeway", "must be at most 5 minutes"));
        }
        let mut minter = AccessTokenMinter::builder(keys)
            .ttl(self.access_ttl)
            .at_jwt_typ(self.at_jwt);
        if let Some(issuer) = &self.issuer {
            minter = minter.issuer(issuer.clone());
        }
        for audience in &self.audiences {
            minter = minter.audience(audience.clone());
        }
        if let Some(clock) = &self.clock {
            let clock = clock.clone();
            minter = minter.clock(move || clock.now());
        }
        let minter = minter.build()?;
        let clock_set = self.clock.is_some();
        let clock = self.clock.unwrap_or_default();
        let store = match self.store {
            Some(store) => store,
            None => Arc::new(MemoryStore::builder().clock(clock.clone()).build()),
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
        };
        Ok(Sessions {
            inner: Arc::new(Inner {
                minter,
                refresh_key,
                store,
                limits,
                clock,
                clock_set,
                issuer: self.issuer.unwrap_or_default(),
                audiences: self.audiences,
                at_jwt: self.at_jwt,
                leeway: self.leeway,
                on_reuse: self.on_reuse,
            }),
        })
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
            keys: None,
            issuer: None,
            audiences: Vec::new(),
            access_ttl: DEFAULT_ACCESS_TTL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            absolute_lifetime: DEFAULT_ABSOLUTE_LIFETIME,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            leeway: DEFAULT_LEEWAY,
            at_jwt: false,
            refresh_key: None,
            store: None,
            clock: None,
            on_reuse: None,
        }
    }

    /// Opens a session for the grant's subject (after the application checked the user's
    /// credentials): an access token with the session's `sid` and its first refresh token. The
    /// grant is kept with the session, so that every refreshed access token carries the same
    /// scopes and claims.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::Issue`] for a grant the minter refuses (empty subject, a scope that
    /// is not a scope-token, a reserved claim name) or a failure of the random number
    /// generator or the signature; [`SessionErrorKind::StoreUnavailable`] when the store
    /// cannot be reached or is full. Nothing is stored when an error is returned.
    pub async fn open(&self, grant: Grant) -> Result<TokenPair, SessionError> {
        let inner = &*self.inner;
        let sid = SessionId::generate().map_err(SessionError::crypto)?;
        let refresh = inner
            .refresh_key
            .issue(&sid)
            .map_err(SessionError::crypto)?;
        let now = inner.clock.now();
        // Minting first: a grant the minter refuses creates no session.
        let access = inner
            .minter
            .mint_at(&grant, sid.as_str(), now)
            .map_err(SessionError::issue)?;
        let data =
            serde_json::to_vec(&grant).map_err(|_| SessionError::issue(IssueError::Signing))?;
        let sid_text = sid.as_str().to_owned();
        let session = NewSession::new(sid, grant.subject(), refresh.hash(), data);
        inner
            .store
            .create(session, &inner.limits)
            .await
            .map_err(SessionError::store)?;
        let session_expires_at =
            unix_secs(now).saturating_add(inner.limits.absolute_lifetime.as_secs());
        let remaining = inner
            .limits
            .absolute_lifetime
            .min(inner.limits.idle_timeout)
            .as_secs();
        Ok(TokenPair {
            expires_in: access.lifetime().as_secs(),
            access_token: access.into_string(),
            refresh_token: refresh.as_str().to_owned(),
            token_type: "Bearer",
            session_expires_at,
            sid: sid_text,
            remaining,
        })
    }

    /// Refreshes a session: the presented refresh token is rotated (RFC 9700 §4.14.2) and a
    /// new access token and refresh token of the same session are returned.
    ///
    /// - Presented again within the grace window: the same pair the first presentation got,
    ///   and the session lives on (two tabs, a retry, two instances racing).
    /// - Presented again after the grace window: the whole session is ended, a `warn` tracing
    ///   event names its subject and `sid` (never a token), the
    ///   [`on_reuse`](SessionsBuilder::on_reuse) hook is called, and the answer is
    ///   [`SessionErrorKind::RefreshReused`].
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::InvalidRefreshToken`] for an unknown, forged, malformed or oversized (over
    /// 512 bytes) token, [`SessionErrorKind::RefreshExpired`] for one past the idle timeout or
    /// the absolute lifetime, [`SessionErrorKind::RefreshReused`] (above),
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer. Only a rotation or
    /// a detected reuse changes the store.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, SessionError> {
        let inner = &*self.inner;
        let invalid = |_| SessionError::new(SessionErrorKind::InvalidRefreshToken);
        let presented = RefreshToken::parse(refresh_token).map_err(invalid)?;
        // A forged token never reaches the store (see `store`'s module docs).
        let sid = inner.refresh_key.verify(&presented).map_err(invalid)?;
        let info = match inner
            .store
            .lookup(&sid, &presented.hash())
            .await
            .map_err(SessionError::store)?
        {
            Lookup::Found(info) => info,
            Lookup::Expired => return Err(SessionError::new(SessionErrorKind::RefreshExpired)),
            Lookup::Unknown => {
                return Err(SessionError::new(SessionErrorKind::InvalidRefreshToken))
            }
        };
        let grant: Grant = serde_json::from_slice(info.data()).map_err(|e| {
            SessionError::store(StoreError::unavailable(format!(
                "the session's grant does not parse: {e}"
            )))
        })?;
        let now = inner.clock.now();
        let access = inner
            .minter
            .mint_at(&grant, info.sid().as_str(), now)
            .map_err(SessionError::issue)?;
        let expires_in = access.lifetime().as_secs();
        let access_expires_at = unix_secs(access.expires_at());
        let pair = SuccessorPair {
            access_token: access.into_string(),
            access_expires_at,
            refresh_token: inner
                .refresh_key
                .issue(info.sid())
                .map_err(SessionError::crypto)?,
        };
        let sealed = SealedSuccessor::seal(&presented, &pair).map_err(SessionError::crypto)?;
        let rotation = Rotation::new(&info, pair.refresh_token.hash(), sealed);
        let session_expires_at = unix_secs(info.absolute_expires_at());
        let remaining = session_expires_at
            .saturating_sub(unix_secs(now))
            .min(inner.limits.idle_timeout.as_secs());
        let sid = info.sid().as_str().to_owned();
        match inner
            .store
            .rotate(rotation, &inner.limits)
            .await
            .map_err(SessionError::store)?
        {
            RotateOutcome::Rotated { .. } => Ok(TokenPair::from_successor(
                pair,
                expires_in,
                session_expires_at,
                &sid,
                remaining,
            )),
            RotateOutcome::Grace(sealed) => {
                let first = sealed.open(&presented).map_err(SessionError::crypto)?;
                let expires_in = first.access_expires_at.saturating_sub(unix_secs(now));
                Ok(TokenPair::from_successor(
                    first,
                    expires_in,
                    session_expires_at,
                    &sid,
                    remaining,
                ))
            }
            RotateOutcome::Reused { sid, sub } => {
                let event = ReuseEvent {
                    sub,
                    sid: sid.as_str().to_owned(),
                };
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    sub = %event.sub,
                    sid = %event.sid,
                    "a used refresh token was presented again after the grace window: the session was ended"
                );
                if let Some(hook) = &inner.on_reuse {
                    hook(&event);
                }
                Err(SessionError::new(SessionErrorKind::RefreshReused))
            }
            RotateOutcome::Expired => Err(SessionError::new(SessionErrorKind::RefreshExpired)),
            RotateOutcome::Unknown => Err(SessionError::new(SessionErrorKind::InvalidRefreshToken)),
        }
    }

    /// Ends the session `sid` (logout): its refresh tokens stop working at once, and its access
    /// tokens are reported revoked to a layer with a revocation store. Returns whether a live
    /// session was ended; a `sid` that cannot be a session id ends nothing and is not an error.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout(&self, sid: &str) -> Result<bool, SessionError> {
        if SessionId::parse(sid).is_none() {
            return Ok(false);
        }
        let inner = &*self.inner;
        inner
            .store
            .end_session(sid, &inner.limits)
            .await
            .map_err(SessionError::store)
    }

    /// Ends the session of the access token `identity` describes: its session when it has a
    /// `sid`, else the token alone (by `jti`, until it expires). Returns whether a live
    /// session was ended.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_identity(&self, identity: &TokenIdentity) -> Result<bool, SessionError> {
        if let Some(sid) = &identity.sid {
            return self.logout(sid).await;
        }
        let inner = &*self.inner;
        let until = identity.exp.saturating_add(inner.leeway.as_secs());
        let keep_for = Duration::from_secs(until.saturating_sub(unix_secs(inner.clock.now())));
        if !keep_for.is_zero() && !identity.jti.is_empty() {
            inner
                .store
                .revoke_token(&identity.jti, keep_for)
                .await
                .map_err(SessionError::store)?;
        }
        Ok(false)
    }

    /// Ends the session a refresh token belongs to (logout with nothing but the refresh token,
    /// as RFC 7009 revocation does). Returns whether a live session was ended. An unknown,
    /// expired, malformed or oversized token ends nothing and is **not** an error, so that the
    /// answer reveals nothing about which tokens exist (RFC 7009 §2.2); a token already rotated
    /// ends its session too.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_by_refresh_token(&self, refresh_token: &str) -> Result<bool, SessionError> {
        let inner = &*self.inner;
        let Ok(presented) = RefreshToken::parse(refresh_token) else {
            return Ok(false);
        };
        let Ok(sid) = inner.refresh_key.verify(&presented) else {
            return Ok(false);
        };
        match inner
            .store
            .lookup(&sid, &presented.hash())
            .await
            .map_err(SessionError::store)?
        {
            Lookup::Found(info) => inner
                .store
                .end_session(info.sid().as_str(), &inner.limits)
                .await
                .map_err(SessionError::store),
            Lookup::Expired | Lookup::Unknown => Ok(false),
        }
    }

    /// The live session whose current refresh token this is, without using the token: its
    /// `sid`, its subject and its expiry ([`SessionInfo::expires_at`], the earlier of the
    /// absolute and the idle expiry). `None` for an unknown, expired, malformed, oversized or
    /// forged token, and for a token already rotated (a refresh would refuse it, or end the
    /// session). Nothing in the store changes.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn find_session(
        &self,
        refresh_token: &str,
    ) -> Result<Option<SessionInfo>, SessionError> {
        let Ok(presented) = RefreshToken::parse(refresh_token) else {
            return Ok(None);
        };
        let Ok(sid) = self.inner.refresh_key.verify(&presented) else {
            return Ok(None);
        };
        match self
            .inner
            .store
            .lookup(&sid, &presented.hash())
            .await
            .map_err(SessionError::store)?
        {
            // Only the session's current token: an older one would be refused (or end the
            // session) at a refresh.
            Lookup::Found(info) if info.is_current() => Ok(Some(info)),
            Lookup::Found(_) | Lookup::Expired | Lookup::Unknown => Ok(None),
        }
    }

    /// The session a refresh token names, when its MAC verifies under this service's
    /// [`RefreshTokenKey`]; no store access, and nothing said about whether the session is
    /// alive or the token current.
    pub fn session_id_of(&self, refresh_token: &str) -> Option<SessionId> {
        let presented = RefreshToken::parse(refresh_token).ok()?;
        self.inner.refresh_key.verify(&presented).ok()
    }

    /// Logout everywhere: ends every session of the subject and sets its cutoff, so that its
    /// access tokens without a `sid` issued until now are refused too. Returns how many live
    /// sessions ended.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_everywhere(&self, sub: &str) -> Result<usize, SessionError> {
        if sub.is_empty() {
            return Ok(0);
        }
        let inner = &*self.inner;
        inner
            .store
            .end_subject(sub, &inner.limits)
            .await
            .map_err(SessionError::store)
    }

    /// The verification keys of every signing key, the active one first.
    pub fn verification_keys(&self) -> Vec<Key> {
        self.inner.minter.signing_keys().verification_keys()
    }

    /// The public verification keys as a JWKS document, to serve at
    /// `/.well-known/jwks.json` (HMAC keys are never published).
    pub fn jwks_document(&self) -> String {
        self.inner.minter.signing_keys().jwks_document()
    }

    /// A layer configuration that accepts the access tokens these sessions issue: the
    /// verification keys, the issuer, the audiences, the leeway, `typ("at+jwt")` when the tokens
    /// are typed so, and the clock when one was configured. Add more settings before `build()`.
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # use tower_jwt_auth::session::Sessions;
    /// # #[derive(Clone, serde::Deserialize)] struct Claims { sub: String }
    /// # let sessions = Sessions::builder()
    /// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
    /// #     .issuer("https://issuer.example").audience("api").build()?;
    /// let auth = sessions.layer_builder::<Claims>().token_cache(10_000, 4 << 20)?.build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn layer_builder<C>(&self) -> JwtAuthBuilder<C> {
        let inner = &*self.inner;
        let mut builder = JwtAuthBuilder::<C>::new()
            .keys(self.verification_keys())
            .issued_by(&inner.issuer, &inner.audiences, inner.leeway, inner.at_jwt);
        if inner.clock_set {
            builder = builder.clock(inner.clock.clone());
        }
        builder
    }

    /// The store: what a layer given a revocation store asks.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The lifetimes passed to the store.
    pub fn limits(&self) -> SessionLimits {
        self.inner.limits
    }
}

/// An access token and a refresh token of one session: the answer of a login or a refresh. It
/// serialises as the OAuth token response (RFC 6749 §5.1) plus `session_expires_at`:
///
/// ```json
/// {"access_token": "eyJ..", "refresh_token": "..", "token_type": "Bearer",
///  "expires_in": 600, "session_expires_at": 1767225600}
/// ```
///
/// Its `Debug` output leaves both tokens out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
    session_expires_at: u64,
    /// The session id, for the CSRF cookie; not part of the token response.
    #[serde(skip)]
    sid: String,
    /// Seconds until the refresh token stops working: the earlier of the absolute and the idle
    /// expiry; not part of the token response.
    #[serde(skip)]
    remaining: u64,
}

impl TokenPair {
    fn from_successor(
        pair: SuccessorPair,
        expires_in: u64,
        session_expires_at: u64,
        sid: &str,
        remaining: u64,
    ) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token.as_str().to_owned(),
            token_type: "Bearer",
            expires_in,
            session_expires_at,
            sid: sid.to_owned(),
            remaining,
        }
    }

    #[cfg(test)]
    pub(crate) fn for_tests(access: &str, refresh: &str, sid: &str, remaining: u64) -> Self {
        Self {
            access_token: access.to_owned(),
            refresh_token: refresh.to_owned(),
            token_type: "Bearer",
            expires_in: 60,
            session_expires_at: 0,
            sid: sid.to_owned(),
            remaining,
        }
    }

    /// The id of the session (`sid`) both tokens belong to: not a credential, but the value a
    /// [CSRF token](crate::csrf::CsrfKey::token) is bound to.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// How long the session can still be used without logging in again, from when the pair
    /// was issued: the earlier of its absolute expiry and the refresh token's idle expiry. The
    /// `Max-Age` of the [session cookies](crate::session::CookieSettings).
    pub fn remaining_lifetime(&self) -> Duration {
        Duration::from_secs(self.remaining)
    }

    /// The access token (a JWT), for an `Authorization: Bearer` header.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token (opaque), for the next refresh. Never log it.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// Always `Bearer`.
    pub fn token_type(&self) -> &'static str {
        self.token_type
    }

    /// Seconds until the access token expires.
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// When the session ends however often it is refreshed (its absolute lifetime), in seconds
    /// since the Unix epoch.
    pub fn session_expires_at(&self) -> u64 {
        self.session_expires_at
    }
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("session_expires_at", &self.session_expires_at)
            .finish()
    }
}

/// Why a session operation failed. Its message never shows a token.
///
/// ```
/// # use tower_jwt_auth::{Algorithm, SigningKey};
/// # use tower_jwt_auth::session::Sessions;
/// use tower_jwt_auth::session::SessionErrorKind;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sessions = Sessions::builder()
/// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
/// #     .issuer("https://issuer.example").build()?;
/// let error = sessions.refresh("not-a-known-token").await.unwrap_err();
/// assert_eq!(error.kind(), SessionErrorKind::InvalidRefreshToken);
/// assert_eq!(error.reason(), "invalid_refresh_token");
/// // 401 for the three refusals of a refresh token, 503 for the store: see `SessionEndpoints`.
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SessionError {
    kind: SessionErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What kind of [`SessionError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionErrorKind {
    /// The refresh token is unknown (its session ended), forged, malformed or over 512
    /// bytes: `invalid_refresh_token`.
    InvalidRefreshToken,
    /// The refresh token or its session expired (idle timeout or absolute lifetime):
    /// `refresh_expired`.
    RefreshExpired,
    /// The refresh token was used before and the grace window is over: the session was ended.
    /// `refresh_reused`.
    RefreshReused,
    /// The store could not be reached or answer in time, or it is full:
    /// `session_store_unavailable`.
    StoreUnavailable,
    /// An access token could not be issued: a grant the minter refuses (an application error)
    /// or a failure of the random number generator, the signature or the sealing of the
    /// successor. `issue_failed`.
    Issue,
}

impl SessionErrorKind {
    /// The machine-readable reason, as the endpoints put it into `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            SessionErrorKind::InvalidRefreshToken => "invalid_refresh_token",
            SessionErrorKind::RefreshExpired => "refresh_expired",
            SessionErrorKind::RefreshReused => "refresh_reused",
            SessionErrorKind::StoreUnavailable => "session_store_unavailable",
            SessionErrorKind::Issue => "issue_failed",
        }
    }

    /// A sentence for `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            SessionErrorKind::InvalidRefreshToken => "The refresh token is invalid",
            SessionErrorKind::RefreshExpired => "The refresh token expired",
            SessionErrorKind::RefreshReused => {
                "The refresh token was already used; the session was ended"
            }
            SessionErrorKind::StoreUnavailable => {
                "The session store is unavailable; try again later"
            }
            SessionErrorKind::Issue => "The tokens could not be issued",
        }
    }
}

impl SessionError {
    fn new(kind: SessionErrorKind) -> Self {
        Self { kind, source: None }
    }

    fn store(error: StoreError) -> Self {
        Self {
            kind: SessionErrorKind::StoreUnavailable,
            source: Some(Box::new(error)),
        }
    }

    fn issue(error: IssueError) -> Self {
        Self {
            kind: SessionErrorKind::Issue,
            source: Some(Box::new(error)),
        }
    }

    fn crypto(error: SessionCryptoError) -> Self {
        Self {
            kind: SessionErrorKind::Issue,
            source: Some(Box::new(error)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> SessionErrorKind {
        self.kind
    }

    /// The machine-readable reason: `invalid_refresh_token`, `refresh_expired`,
    /// `refresh_reused`, `session_store_unavailable` or `issue_failed`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            SessionErrorKind::InvalidRefreshToken => "the refresh token is invalid",
            SessionErrorKind::RefreshExpired => "the refresh token expired",
            SessionErrorKind::RefreshReused => {
                "the refresh token was already used: the session was ended"
            }
            SessionErrorKind::StoreUnavailable => "the session store is unavailable",
            SessionErrorKind::Issue => "the tokens could not be issued",
        })?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for SessionError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    fn key() -> SigningKey {
        SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn session_builder_refuses_bad_settings() {
        let problem = |b: SessionsBuilder| match b.build() {
            Err(ConfigError::InvalidIssuing { setting, .. }) => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(problem(Sessions::builder().issuer("i")), "signing key");
        let ok = || Sessions::builder().signing_key(key()).issuer("i");
        assert_eq!(problem(Sessions::builder().signing_key(key())), "issuer");
        assert_eq!(problem(ok().idle_timeout(Duration::ZERO)), "idle timeout");
        assert_eq!(
            problem(ok().absolute_lifetime(Duration::ZERO)),
            "absolute lifetime"
        );
        assert_eq!(
            problem(ok().refresh_grace(Duration::from_secs(301))),
            "refresh grace"
        );
        assert_eq!(
            problem(
                ok().idle_timeout(Duration::from_secs(5))
                    .refresh_grace(Duration::from_secs(5))
            ),
            "refresh grace"
        );
        assert_eq!(problem(ok().leeway(Duration::from_secs(301))), "leeway");
        assert_eq!(problem(ok().at_jwt_typ(true)), "audience");
        assert_eq!(
            problem(ok().access_ttl(Duration::ZERO)),
            "access token lifetime"
        );
        let sessions = ok().audience("api").build().unwrap();
        assert_eq!(
            sessions.limits().token_lifetime,
            DEFAULT_ACCESS_TTL + DEFAULT_LEEWAY
        );
    }

    #[test]
    fn session_error_reasons_and_messages_name_no_token() {
        for (kind, reason) in [
            (
                SessionErrorKind::InvalidRefreshToken,
                "invalid_refresh_token",
            ),
            (SessionErrorKind::RefreshExpired, "refresh_expired"),
            (SessionErrorKind::RefreshReused, "refresh_reused"),
            (
                SessionErrorKind::StoreUnavailable,
                "session_store_unavailable",
            ),
            (SessionErrorKind::Issue, "issue_failed"),
        ] {
            let e = SessionError::new(kind);
            assert_eq!(e.reason(), reason);
            assert_eq!(e.kind(), kind);
            assert!(!e.to_string().is_empty());
        }
        let e = SessionError::store(StoreError::full());
        assert_eq!(
            e.to_string(),
            "the session store is unavailable: the session store is full and refused a new session"
        );
    }

    #[test]
    fn session_token_pair_debug_hides_tokens_and_serialises_oauth_fields() {
        let pair = TokenPair {
            access_token: "a.b.c".into(),
            refresh_token: "secret-refresh".into(),
            token_type: "Bearer",
            expires_in: 600,
            session_expires_at: 42,
            sid: "s1".into(),
            remaining: 7,
        };
        assert_eq!(pair.sid(), "s1");
        assert_eq!(pair.remaining_lifetime(), Duration::from_secs(7));
        let shown = format!("{pair:?}");
        assert!(!shown.contains("a.b.c") && !shown.contains("secret-refresh"));
        assert_eq!(
            serde_json::to_value(&pair).unwrap(),
            serde_json::json!({
                "access_token": "a.b.c",
                "refresh_token": "secret-refresh",
                "token_type": "Bearer",
                "expires_in": 600,
                "session_expires_at": 42,
            })
        );
    }
}
