//! The store traits: [`SessionStore`] (sessions and their refresh tokens, with the atomic
//! [`rotate`](SessionStore::rotate) step) and [`RevocationStore`] (what the layer asks on every
//! request), the values they exchange, the [`Clock`] that judges expiry and the [`StoreError`].
//!
//! # What a store keeps
//! - Per session: its id (`sid`), its subject (`sub`), opaque session data (the grant its access
//!   tokens are minted from), its absolute expiry, the SHA-256 ([`TokenHash`]) of its current
//!   refresh token and that token's idle expiry. For the grace window after a rotation, also the
//!   hash of the direct predecessor and the successor pair sealed under a key derived from it
//!   ([`SealedSuccessor`]). Nothing else, however often the session was refreshed: a session's
//!   memory does not grow with its rotations.
//! - Revocations: ended sessions (`sid`), revoked access tokens (`jti`) and per-subject
//!   logout-everywhere cutoffs, each kept only as long as a token it affects can still be
//!   accepted ([`SessionLimits::token_lifetime`]).
//!
//! No store keeps a refresh token or a successor in the clear, and none evicts a live entry.
//!
//! # How reuse is told apart without a list of used tokens
//! A refresh token names its session and carries a MAC under the service's
//! [`RefreshTokenKey`](super::RefreshTokenKey) (see [`refresh`](super::refresh)). The caller
//! verifies the MAC before it asks the store anything, so the store only ever sees tokens the
//! service issued for the session they name. Such a token whose hash is neither the session's
//! current one nor the grace window's predecessor was therefore rotated before: presenting it is
//! reuse, and [`SessionStore::rotate`] ends the session. A store trusts its caller on this
//! point: a [`Rotation`] for a hash the service never issued would end the session too, which
//! is why [`Sessions`](super::Sessions) refuses a token whose MAC fails before any store access.
//!
//! # Expiry
//! Every expiry is judged by the store's [`Clock`] (injectable in tests), not only by a TTL of
//! the backend: an entry the clock says has expired is treated as expired even if the backend
//! still holds it.
//!
//! # Using a store
//! ```
//! use tower_jwt_auth::session::{
//!     Clock, Lookup, MemoryStore, NewSession, RefreshToken, RefreshTokenKey, RevocationQuery,
//!     RevocationStore, RotateOutcome, Rotation, SealedSuccessor, SessionId, SessionLimits,
//!     SessionStore, SuccessorPair,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = Clock::manual(std::time::SystemTime::now());
//! let store = MemoryStore::builder().clock(clock.clone()).build();
//! let limits = SessionLimits::default();
//! let key = RefreshTokenKey::generate()?;
//!
//! // Login: open a session with its first refresh token.
//! let sid = SessionId::generate()?;
//! let first = key.issue(&sid)?;
//! let session = NewSession::new(sid.clone(), "alice", first.hash(), b"read".to_vec());
//! store.create(session, &limits).await?;
//!
//! // Refresh: check the presented token's MAC, look its session up, mint the successor, rotate.
//! let presented = RefreshToken::parse(first.as_str())?;
//! let named = key.verify(&presented)?;
//! let Lookup::Found(info) = store.lookup(&named, &presented.hash()).await? else {
//!     panic!("a live session")
//! };
//! assert_eq!(info.sub(), "alice");
//! let next = SuccessorPair {
//!     access_token: "eyJ...".into(),
//!     access_expires_at: 0,
//!     refresh_token: key.issue(&sid)?,
//! };
//! let sealed = SealedSuccessor::seal(&presented, &next)?;
//! let rotation = Rotation::new(&info, next.refresh_token.hash(), sealed);
//! let outcome = store.rotate(rotation, &limits).await?;
//! assert!(matches!(outcome, RotateOutcome::Rotated { .. }));
//!
//! // Logout: the session ends, and the layer's one query per request says so.
//! store.end_session(sid.as_str(), &limits).await?;
//! let query = RevocationQuery { jti: Some("j1"), sid: Some(sid.as_str()), sub: Some("alice") };
//! assert!(store.status(query).await?.session_ended);
//! # Ok(())
//! # }
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::refresh::{SealedSuccessor, SessionId, TokenHash};

/// The future a store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

// ---------------------------------------------------------------------------------------------
// Clock

/// The clock a store judges expiry by. [`Clock::system`] by default; [`Clock::manual`] gives a
/// clock that tests set and advance, so that idle and absolute expiry are tested without sleeps.
#[derive(Clone, Default)]
pub struct Clock(ClockKind);

#[derive(Clone, Default)]
enum ClockKind {
    #[default]
    System,
    /// Milliseconds since the Unix epoch.
    Manual(Arc<AtomicU64>),
    Custom(Arc<dyn Fn() -> SystemTime + Send + Sync>),
}

impl Clock {
    /// The system clock ([`SystemTime::now`]).
    pub fn system() -> Self {
        Self(ClockKind::System)
    }

    /// A clock that stands at `start` until [`set`](Self::set) or [`advance`](Self::advance)
    /// moves it. Clones share the time.
    pub fn manual(start: SystemTime) -> Self {
        Self(ClockKind::Manual(Arc::new(AtomicU64::new(unix_millis(
            start,
        )))))
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(ClockKind::Custom(Arc::new(now)))
    }

    /// The current time (millisecond resolution).
    pub fn now(&self) -> SystemTime {
        from_millis(self.now_millis())
    }

    /// The current time in milliseconds since the Unix epoch (0 before it).
    pub fn now_millis(&self) -> u64 {
        match &self.0 {
            ClockKind::System => unix_millis(SystemTime::now()),
            ClockKind::Manual(ms) => ms.load(Ordering::Acquire),
            ClockKind::Custom(now) => unix_millis(now()),
        }
    }

    /// Sets a [`manual`](Self::manual) clock to `time`; returns false (and does nothing) for
    /// any other clock.
    pub fn set(&self, time: SystemTime) -> bool {
        match &self.0 {
            ClockKind::Manual(ms) => {
                ms.store(unix_millis(time), Ordering::Release);
                true
            }
            ClockKind::System | ClockKind::Custom(_) => false,
        }
    }

    /// Moves a [`manual`](Self::manual) clock forward by `by`; returns false (and does nothing)
    /// for any other clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.0 {
            ClockKind::Manual(ms) => {
                let by = millis(by);
                let _ = ms.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_add(by))
                });
                true
            }
            ClockKind::System | ClockKind::Custom(_) => false,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ClockKind::System => f.write_str("Clock::System"),
            ClockKind::Manual(ms) => write!(f, "Clock::Manual({} ms)", ms.load(Ordering::Acquire)),
            ClockKind::Custom(_) => f.write_str("Clock::Custom(<fn>)"),
        }
    }
}

/// Milliseconds since the Unix epoch, saturating (0 before it).
pub(crate) fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A duration in milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch back to a time (saturating far in the future).
pub(crate) fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A store could not answer. Both kinds map to HTTP 503: `session_store_unavailable` for the
/// refresh, logout and login endpoints, `revocation_unavailable` for the layer's check. Nothing
/// is let in because a store failed.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What went wrong in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or did not answer in time (Redis down, a timeout), or
    /// answered with something unexpected. Calls succeed again once it can be reached.
    Unavailable,
    /// The store is full: a new session was refused rather than evicting a live entry.
    Full,
}

impl StoreError {
    /// An [`Unavailable`](StoreErrorKind::Unavailable) error caused by `source`.
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            source: Some(source.into()),
        }
    }

    /// A [`Full`](StoreErrorKind::Full) error.
    pub fn full() -> Self {
        Self {
            kind: StoreErrorKind::Full,
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the store could not be reached or answer in time.
    pub fn is_unavailable(&self) -> bool {
        self.kind == StoreErrorKind::Unavailable
    }

    /// Whether the store refused a new session because it is full.
    pub fn is_full(&self) -> bool {
        self.kind == StoreErrorKind::Full
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StoreErrorKind::Unavailable => f.write_str("the session store is unavailable")?,
            StoreErrorKind::Full => {
                f.write_str("the session store is full and refused a new session")?
            }
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// The lifetimes a store applies. The session layer passes its own settings with every call, so
/// that a store holds no policy of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session ends this long after it was opened, however often it is refreshed
    /// (default 30 days). Rotation never extends it.
    pub absolute_lifetime: Duration,
    /// A refresh token expires when it is not used for this long (default 7 days); each
    /// rotation gives the successor a new idle window, capped by the absolute expiry.
    pub idle_timeout: Duration,
    /// After a rotation, presenting the same refresh token again within this window returns
    /// the same successor pair instead of counting as reuse (default 10 s).
    pub refresh_grace: Duration,
    /// How long an access token can still be accepted after it was issued: the longest access
    /// token lifetime plus the verification leeway (default 10 minutes + 60 s). Revocations
    /// (an ended session, a subject's cutoff) are kept this long and then dropped, since no
    /// token they affect can still be accepted.
    pub token_lifetime: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            absolute_lifetime: Duration::from_secs(30 * 24 * 3600),
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            token_lifetime: Duration::from_secs(600 + 60),
        }
    }
}

/// A session to open: [`SessionStore::create`].
#[derive(Clone)]
pub struct NewSession {
    /// The session id (the `sid` of its access tokens).
    pub sid: SessionId,
    /// The subject (`sub`).
    pub sub: String,
    /// The hash of the session's first refresh token.
    pub refresh: TokenHash,
    /// Opaque data kept with the session (the grant its access tokens are minted from: scopes,
    /// custom claims); handed back by [`SessionStore::lookup`]. Keep it small: it counts toward
    /// the memory of every live session.
    pub data: Vec<u8>,
}

impl NewSession {
    /// A session `sid` of subject `sub`, whose first refresh token hashes to `refresh`.
    pub fn new(sid: SessionId, sub: impl Into<String>, refresh: TokenHash, data: Vec<u8>) -> Self {
        Self {
            sid,
            sub: sub.into(),
            refresh,
            data,
        }
    }
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("sid", &self.sid)
            .field("sub", &self.sub)
            .field("refresh", &self.refresh)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .finish()
    }
}

/// A live session, as found by [`SessionStore::lookup`] for a presented refresh token.
#[derive(Clone)]
pub struct SessionInfo {
    sid: SessionId,
    sub: String,
    data: Vec<u8>,
    absolute_expires_at: SystemTime,
    /// When the session's current refresh token expires unused (the idle timeout), when the
    /// store said.
    idle_expires_at: Option<SystemTime>,
    presented: TokenHash,
    current: bool,
}

impl SessionInfo {
    /// What a store found for the token that hashes to `presented`. For store implementations.
    pub fn new(
        sid: SessionId,
        sub: String,
        data: Vec<u8>,
        absolute_expires_at: SystemTime,
        presented: TokenHash,
        current: bool,
    ) -> Self {
        Self {
            sid,
            sub,
            data,
            absolute_expires_at,
            idle_expires_at: None,
            presented,
            current,
        }
    }

    /// The same, with the time the session's current refresh token expires unused (the idle
    /// timeout), which [`expires_at`](Self::expires_at) takes into account. For store
    /// implementations.
    #[must_use]
    pub fn with_idle_expires_at(mut self, idle_expires_at: SystemTime) -> Self {
        self.idle_expires_at = Some(idle_expires_at);
        self
    }

    /// The session id.
    pub fn sid(&self) -> &SessionId {
        &self.sid
    }

    /// The subject.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The data stored with the session.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// When the session ends, however often it is refreshed.
    pub fn absolute_expires_at(&self) -> SystemTime {
        self.absolute_expires_at
    }

    /// When the session ends unless it is refreshed first: the earlier of the absolute expiry
    /// and the current refresh token's idle expiry (the absolute expiry alone when the store
    /// gave no idle expiry).
    pub fn expires_at(&self) -> SystemTime {
        match self.idle_expires_at {
            Some(idle) => idle.min(self.absolute_expires_at),
            None => self.absolute_expires_at,
        }
    }

    /// The hash of the presented token this was found for.
    pub fn presented(&self) -> &TokenHash {
        &self.presented
    }

    /// Whether the presented token was the session's current one when it was looked up. When
    /// it was not, [`SessionStore::rotate`] answers with the grace window's successor or
    /// reports reuse.
    pub fn is_current(&self) -> bool {
        self.current
    }
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("sid", &self.sid)
            .field("sub", &self.sub)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .field("absolute_expires_at", &self.absolute_expires_at)
            .field("presented", &self.presented)
            .field("current", &self.current)
            .finish()
    }
}

/// What [`SessionStore::lookup`] found for a presented refresh token. A lookup never changes
/// the store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Lookup {
    /// The token belongs to a live session: mint the successor from it and
    /// [`rotate`](SessionStore::rotate).
    Found(SessionInfo),
    /// The token, or its session, expired (idle timeout or absolute lifetime): `refresh_expired`.
    Expired,
    /// No live session has this id (never opened, ended, or its entry is gone):
    /// `invalid_refresh_token`.
    Unknown,
}

/// One rotation: [`SessionStore::rotate`]. Built from what [`lookup`](SessionStore::lookup)
/// found, so that the store rotates the session the presented token belongs to.
#[derive(Clone)]
pub struct Rotation {
    sid: SessionId,
    presented: TokenHash,
    successor: TokenHash,
    sealed: SealedSuccessor,
}

impl Rotation {
    /// Rotates the token `info` was found for to the one hashing to `successor`; `sealed` is the
    /// successor pair sealed under the presented token, kept for the grace window.
    pub fn new(info: &SessionInfo, successor: TokenHash, sealed: SealedSuccessor) -> Self {
        Self {
            sid: info.sid.clone(),
            presented: info.presented,
            successor,
            sealed,
        }
    }

    /// The session.
    pub fn sid(&self) -> &SessionId {
        &self.sid
    }

    /// The hash of the presented token.
    pub fn presented(&self) -> &TokenHash {
        &self.presented
    }

    /// The hash of the successor token.
    pub fn successor(&self) -> &TokenHash {
        &self.successor
    }

    /// The successor pair, sealed.
    pub fn sealed(&self) -> &SealedSuccessor {
        &self.sealed
    }
}

impl fmt::Debug for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotation")
            .field("sid", &self.sid)
            .field("presented", &self.presented)
            .field("successor", &self.successor)
            .field("sealed", &self.sealed)
            .finish()
    }
}

/// The answer of the atomic [`SessionStore::rotate`] step.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RotateOutcome {
    /// Rotated now: the successor is the session's current token, the presented one is used,
    /// and the sealed successor is kept for the grace window.
    Rotated {
        /// When the successor expires unless it is used (idle timeout, capped by the absolute
        /// expiry).
        refresh_expires_at: SystemTime,
    },
    /// The presented token was rotated moments ago (within the grace window) and is the
    /// current token's direct predecessor: here is the successor pair the first presentation
    /// got, sealed under the presented token. The session lives on.
    Grace(SealedSuccessor),
    /// The presented token was used before and the grace window is over (or it is not the
    /// direct predecessor): the whole session was ended, its newest refresh token and its access
    /// tokens included. Usually theft: `refresh_reused`.
    Reused {
        /// The ended session.
        sid: SessionId,
        /// Its subject.
        sub: String,
    },
    /// The token or its session expired: `refresh_expired`. Nothing changed.
    Expired,
    /// No live session knows the token: `invalid_refresh_token`. Nothing changed.
    Unknown,
}

/// The layer's question for one request: is this access token revoked? All three parts are
/// answered in one call (one round trip for the Redis store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The token's `jti`.
    pub jti: Option<&'a str>,
    /// The token's `sid`.
    pub sid: Option<&'a str>,
    /// The token's `sub`.
    pub sub: Option<&'a str>,
}

/// The answer to a [`RevocationQuery`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationStatus {
    /// The `jti` was revoked.
    pub jti_revoked: bool,
    /// The session (`sid`) was ended: logout, logout everywhere, or reuse detection.
    pub session_ended: bool,
    /// The subject's logout-everywhere cutoff, in seconds since the Unix epoch (the resolution
    /// of `iat`), if one is in force.
    pub subject_cutoff: Option<u64>,
}

impl RevocationStatus {
    /// A status with these parts. For store implementations.
    pub fn new(jti_revoked: bool, session_ended: bool, subject_cutoff: Option<u64>) -> Self {
        Self {
            jti_revoked,
            session_ended,
            subject_cutoff,
        }
    }

    /// Whether a token issued at `iat` (seconds) is refused. Its `jti` and its session decide
    /// exactly. The subject's cutoff covers tokens without a `sid` (from an outside identity
    /// provider) and refuses them when `iat <= cutoff`, at the one-second resolution of `iat`:
    /// a token issued in the same second as a logout everywhere is refused too, and a token
    /// issued by an instance whose clock runs behind may be refused (or, if it runs ahead,
    /// accepted) by up to that skew. A token with a `sid` is not judged by the cutoff, since
    /// logout everywhere ended each of the subject's sessions by `sid`.
    pub fn revokes(&self, iat: u64, has_sid: bool) -> bool {
        self.jti_revoked
            || self.session_ended
            || (!has_sid && self.subject_cutoff.is_some_and(|cutoff| iat <= cutoff))
    }
}

// ---------------------------------------------------------------------------------------------
// Traits

/// What the layer asks on every request, and the revocations that need no session.
///
/// Implementations answer [`status`](Self::status) in one round trip to their backend, and
/// never answer "not revoked" when they cannot tell: a failure is a [`StoreError`].
pub trait RevocationStore: Send + Sync {
    /// Whether the access token with these claims is revoked: its `jti`, its session, and its
    /// subject's cutoff, in one call.
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus>;

    /// The same answer without waiting, for stores that can give it at once (the in-memory
    /// store); `None` means "call [`status`](Self::status)". Lets the layer skip a future's
    /// allocation on the hot path.
    fn status_now(
        &self,
        query: RevocationQuery<'_>,
    ) -> Option<Result<RevocationStatus, StoreError>> {
        let _ = query;
        None
    }

    /// Revokes one access token by its `jti`, for `keep_for` (how long the token could still
    /// be accepted: its `exp` plus the leeway, minus now).
    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()>;

    /// Sets the subject's logout-everywhere cutoff to now (whole seconds), kept for `keep_for`.
    /// Tokens of the subject without a `sid` issued at or before it are refused
    /// ([`RevocationStatus::revokes`]). [`SessionStore::end_subject`] also ends the subject's
    /// sessions.
    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()>;
}

/// Sessions and their refresh tokens.
///
/// A refresh goes: [`RefreshToken::parse`](super::RefreshToken::parse) and
/// [`RefreshTokenKey::verify`](super::RefreshTokenKey::verify) (no store access for a
/// malformed, oversized or forged token), [`lookup`](Self::lookup) (read only), mint the
/// successor pair from the [`SessionInfo`], seal it under the presented token, then
/// [`rotate`](Self::rotate), the one atomic step that decides between rotation, the grace
/// window and reuse. See the [module docs](self) for why the MAC check must come first.
pub trait SessionStore: RevocationStore {
    /// Whether the store lives inside this process only (the [`MemoryStore`](super::MemoryStore)).
    /// [`Sessions`](super::Sessions) makes up a random refresh token key for such a store when
    /// none is configured; a store shared between processes (the default answer, `false`)
    /// requires a configured key, since every instance must verify the others' tokens.
    fn is_process_local(&self) -> bool {
        false
    }

    /// Opens a session with its first refresh token. Returns when that token expires unless
    /// used. A full store answers [`StoreErrorKind::Full`] and evicts nothing.
    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, SystemTime>;

    /// Finds the live session `sid` for a presented refresh token that names it (its MAC
    /// verified), by the token's hash. [`SessionInfo::is_current`] says whether the hash is
    /// the session's current one. Changes nothing.
    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Lookup>;

    /// The atomic step. With the presented token still current: rotate to the successor. If it
    /// was rotated within the grace window and is the current token's direct predecessor: the
    /// sealed successor of that rotation. Any other hash for a live session was rotated before
    /// (the caller verified its MAC): end the whole session and report reuse. An expired or unknown token changes nothing. Callers racing on one token
    /// (in one process or on several instances) rotate it exactly once.
    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, RotateOutcome>;

    /// Ends a session (logout): its refresh tokens stop working at once and its access tokens
    /// are reported revoked for [`SessionLimits::token_lifetime`]. Returns whether a live
    /// session was ended; ending an unknown `sid` still records the revocation.
    fn end_session<'a>(&'a self, sid: &'a str, limits: &'a SessionLimits) -> StoreFuture<'a, bool>;

    /// Logout everywhere: ends every session of the subject (by `sid`) and sets the subject's
    /// cutoff ([`RevocationStore::set_subject_cutoff`]). Returns how many live sessions ended.
    fn end_subject<'a>(&'a self, sub: &'a str, limits: &'a SessionLimits)
        -> StoreFuture<'a, usize>;
}

impl<T: RevocationStore + ?Sized> RevocationStore for Arc<T> {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        (**self).status(query)
    }
    fn status_now(
        &self,
        query: RevocationQuery<'_>,
    ) -> Option<Result<RevocationStatus, StoreError>> {
        (**self).status_now(query)
    }
    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        (**self).revoke_token(jti, keep_for)
    }
    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        (**self).set_subject_cutoff(sub, keep_for)
    }
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn is_process_local(&self) -> bool {
        (**self).is_process_local()
    }
    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, SystemTime> {
        (**self).create(session, limits)
    }
    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Lookup> {
        (**self).lookup(sid, presented)
    }
    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, RotateOutcome> {
        (**self).rotate(rotation, limits)
    }
    fn end_session<'a>(&'a self, sid: &'a str, limits: &'a SessionLimits) -> StoreFuture<'a, bool> {
        (**self).end_session(sid, limits)
    }
    fn end_subject<'a>(
        &'a self,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        (**self).end_subject(sub, limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_clock_manual_moves_only_when_told() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = Clock::manual(t0);
        assert_eq!(clock.now(), t0);
        assert!(clock.advance(Duration::from_secs(5)));
        assert_eq!(clock.clone().now(), t0 + Duration::from_secs(5));
        assert!(clock.set(t0));
        assert_eq!(clock.now_millis(), 1_700_000_000_000);
        assert!(!Clock::system().advance(Duration::from_secs(1)));
        assert_eq!(Clock::from_fn(move || t0).now(), t0);
    }

    #[test]
    fn session_ids_are_random_base64url() {
        let a = SessionId::generate().unwrap();
        assert_eq!(a.as_str().len(), 22);
        assert_ne!(a, SessionId::generate().unwrap());
        assert_eq!(SessionId::parse(a.as_str()), Some(a));
        assert_eq!(SessionId::parse(""), None);
        assert_eq!(SessionId::parse("a:b"), None);
        assert_eq!(SessionId::parse("{x}"), None);
        assert_eq!(SessionId::parse(&"a".repeat(65)), None);
    }

    #[test]
    fn session_revocation_status_cutoff_rule() {
        let status = RevocationStatus::new(false, false, Some(100));
        assert!(status.revokes(99, false));
        assert!(status.revokes(100, false), "iat == cutoff is refused");
        assert!(!status.revokes(101, false));
        assert!(
            !status.revokes(50, true),
            "sid tokens are judged by their session"
        );
        assert!(RevocationStatus::new(true, false, None).revokes(1, true));
        assert!(RevocationStatus::new(false, true, None).revokes(1, true));
        assert!(!RevocationStatus::default().revokes(1, false));
    }

    #[test]
    fn session_store_error_kinds_and_messages() {
        let e = StoreError::unavailable("connection refused");
        assert!(e.is_unavailable() && !e.is_full());
        assert_eq!(
            e.to_string(),
            "the session store is unavailable: connection refused"
        );
        assert!(StoreError::full().is_full());
        assert_eq!(StoreError::full().kind(), StoreErrorKind::Full);
    }
}
