//! The session stores: the trait [`SessionStore`] with the values it exchanges (this file), the
//! in-memory store (`memory`) and the Redis store (`redis`, feature `redis`).

mod created;
pub(super) mod devices;
pub(super) mod memory;
#[cfg(feature = "redis")]
pub(super) mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use self::created::Created;
pub use self::devices::{ClientInfo, SessionSummary, MAX_USER_AGENT_LEN};
use super::refresh_token::{SealedSuccessor, SessionId, TokenHash};
use crate::revocation;

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
    /// The most live sessions one subject (of one issuer) may have (default
    /// [`DEFAULT_MAX_SESSIONS_PER_USER`], 100); `0` means no cap. Opening one more ends the
    /// subject's session with the oldest opening time. Separate from a store's own capacity.
    pub max_sessions_per_user: usize,
}

/// The default cap of live sessions per subject: [`SessionLimits::max_sessions_per_user`].
pub const DEFAULT_MAX_SESSIONS_PER_USER: usize = 100;

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            absolute_lifetime: Duration::from_secs(30 * 24 * 3600),
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            token_lifetime: Duration::from_secs(600 + 60),
            max_sessions_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
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
    /// The issuer (`iss`) of the session's access tokens: its revocations and its subject's
    /// cutoff are keyed by it. Empty for none.
    pub iss: String,
    /// The hash of the session's first refresh token.
    pub refresh: TokenHash,
    /// Opaque data kept with the session (the grant its access tokens are minted from: scopes,
    /// custom claims); handed back by [`SessionStore::lookup`]. Keep it small: it counts toward
    /// the memory of every live session.
    pub data: Vec<u8>,
    /// The client that opens it (for the list of a user's devices).
    pub client: ClientInfo,
}

impl NewSession {
    /// A session `sid` of subject `sub`, whose first refresh token hashes to `refresh`.
    pub fn new(sid: SessionId, sub: impl Into<String>, refresh: TokenHash, data: Vec<u8>) -> Self {
        Self {
            sid,
            sub: sub.into(),
            iss: String::new(),
            refresh,
            data,
            client: ClientInfo::default(),
        }
    }

    /// The same session, opened by `client`.
    #[must_use]
    pub fn with_client(mut self, client: ClientInfo) -> Self {
        self.client = client;
        self
    }

    /// The same session, of the issuer `iss`.
    #[must_use]
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = iss.into();
        self
    }
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("sid", &self.sid)
            .field("sub", &self.sub)
            .field("iss", &self.iss)
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
    iss: String,
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
            iss: String::new(),
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

    /// The same, of the issuer `iss`. For store implementations.
    #[must_use]
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = iss.into();
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

    /// The issuer of its access tokens (empty for none).
    pub fn iss(&self) -> &str {
        &self.iss
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
    /// No live session has this id (never opened, ended, opened at or before its subject's
    /// logout-everywhere cutoff, or its entry is gone): `invalid_refresh_token`.
    Unknown,
}

/// One rotation: [`SessionStore::rotate`]. Built from what [`lookup`](SessionStore::lookup)
/// found, so that the store rotates the session the presented token belongs to.
#[derive(Clone)]
pub struct Rotation {
    sid: SessionId,
    iss: String,
    client: Option<ClientInfo>,
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
            iss: info.iss.clone(),
            client: None,
            presented: info.presented,
            successor,
            sealed,
        }
    }

    /// The session.
    pub fn sid(&self) -> &SessionId {
        &self.sid
    }

    /// The issuer of the session's access tokens (empty for none).
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// The same rotation, recording `client` as the session's client.
    #[must_use]
    pub fn with_client(mut self, client: ClientInfo) -> Self {
        self.client = Some(client);
        self
    }

    /// The client to record, if any.
    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.as_ref()
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

// ---------------------------------------------------------------------------------------------
// Traits

/// Sessions and their refresh tokens.
///
/// A refresh goes: [`RefreshToken::parse`](super::RefreshToken::parse) and
/// [`RefreshTokenKey::verify`](super::RefreshTokenKey::verify) (no store access for a
/// malformed, oversized or forged token), [`lookup`](Self::lookup) (read only), mint the
/// successor pair from the [`SessionInfo`], seal it under the presented token, then
/// [`rotate`](Self::rotate), the one atomic step that decides between rotation, the grace
/// window and reuse. See "How reuse is told apart" below for why the MAC check must come first.
///
/// [`SessionStore`] keeps sessions and their refresh tokens, with the atomic
/// [`rotate`](SessionStore::rotate) step. It extends
/// [`RevocationStore`](crate::revocation::RevocationStore) (what the layer asks on every request); expiry is judged by a
/// [`Clock`](crate::clock::Clock), and a failure is a
/// [`StoreError`](crate::revocation::StoreError).
///
/// # What a store keeps
/// - Per session: its id (`sid`), its subject (`sub`), opaque session data (the grant its access
///   tokens are minted from), its absolute expiry, the SHA-256 ([`TokenHash`]) of its current
///   refresh token and that token's idle expiry. For the grace window after a rotation, also the
///   hash of the direct predecessor and the successor pair sealed under a key derived from it
///   ([`SealedSuccessor`]). Nothing else, however often the session was refreshed: a session's
///   memory does not grow with its rotations.
/// - Revocations: ended sessions (`sid`), revoked access tokens (`jti`) and per-subject
///   logout-everywhere cutoffs, each kept only as long as a token it affects can still be
///   accepted ([`SessionLimits::token_lifetime`]).
///
/// No store keeps a refresh token or a successor in the clear, and none evicts a live entry.
///
/// # How reuse is told apart without a list of used tokens
/// A refresh token names its session and carries a MAC under the service's
/// [`RefreshTokenKey`](super::RefreshTokenKey) (see [`RefreshToken`](super::RefreshToken)). The caller
/// verifies the MAC before it asks the store anything, so the store only ever sees tokens the
/// service issued for the session they name. Such a token whose hash is neither the session's
/// current one nor the grace window's predecessor was therefore rotated before: presenting it is
/// reuse, and [`SessionStore::rotate`] ends the session. A store trusts its caller on this
/// point: a [`Rotation`] for a hash the service never issued would end the session too, which
/// is why [`Sessions`](super::Sessions) refuses a token whose MAC fails before any store access.
///
/// # Expiry
/// Every expiry is judged by the store's [`Clock`](crate::clock::Clock) (injectable in tests), not only by a TTL of
/// the backend: an entry the clock says has expired is treated as expired even if the backend
/// still holds it.
///
/// # Using a store
/// ```
/// use tower_jwt_auth::clock::Clock;
/// use tower_jwt_auth::revocation::{RevocationQuery, RevocationStore};
/// use tower_jwt_auth::session::{
///     Lookup, MemoryStore, NewSession, RefreshToken, RefreshTokenKey, RotateOutcome, Rotation,
///     SealedSuccessor, SessionId, SessionLimits, SessionStore, SuccessorPair,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = Clock::manual(std::time::SystemTime::now());
/// let store = MemoryStore::builder().clock(clock.clone()).build();
/// let limits = SessionLimits::default();
/// let key = RefreshTokenKey::generate()?;
///
/// // Login: open a session with its first refresh token.
/// let sid = SessionId::generate()?;
/// let first = key.issue(&sid)?;
/// let session = NewSession::new(sid.clone(), "alice", first.hash(), b"read".to_vec());
/// store.create(session, &limits).await?;
///
/// // Refresh: check the presented token's MAC, look its session up, mint the successor, rotate.
/// let presented = RefreshToken::parse(first.as_str())?;
/// let named = key.verify(&presented)?;
/// let Lookup::Found(info) = store.lookup(&named, &presented.hash()).await? else {
///     panic!("a live session")
/// };
/// assert_eq!(info.sub(), "alice");
/// let next = SuccessorPair {
///     access_token: "eyJ...".into(),
///     access_expires_at: 0,
///     refresh_token: key.issue(&sid)?,
/// };
/// let sealed = SealedSuccessor::seal(&presented, &next)?;
/// let rotation = Rotation::new(&info, next.refresh_token.hash(), sealed);
/// let outcome = store.rotate(rotation, &limits).await?;
/// assert!(matches!(outcome, RotateOutcome::Rotated { .. }));
///
/// // Logout: the session ends, and the layer's one query per request says so.
/// store.end_session("", sid.as_str(), &limits).await?;
/// let query = RevocationQuery::new(Some("j1"), Some(sid.as_str()), Some("alice"));
/// assert!(store.status(query).await?.session_ended);
/// # Ok(())
/// # }
/// ```
pub trait SessionStore: revocation::RevocationStore {
    /// Whether the store lives inside this process only (the [`MemoryStore`](super::MemoryStore)).
    /// [`Sessions`](super::Sessions) makes up a random refresh token key for such a store when
    /// none is configured; a store shared between processes (the default answer, `false`)
    /// requires a configured key, since every instance must verify the others' tokens.
    fn is_process_local(&self) -> bool {
        false
    }

    /// Opens a session with its first refresh token. Returns when that token expires unless
    /// used. When the subject then has more live sessions than
    /// [`SessionLimits::max_sessions_per_user`], its sessions with the oldest opening time are
    /// ended (as by [`end_session`](Self::end_session)). A full store answers
    /// [`StoreErrorKind::Full`](crate::revocation::StoreErrorKind::Full) and evicts nothing.
    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, SystemTime>;

    /// [`create`](Self::create), also reporting how many live sessions the cap ended (what
    /// [`Sessions`](super::Sessions) calls, for the `capped` metric). The default calls
    /// `create` and reports none: a store written before this method keeps working.
    fn open<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, Created> {
        Box::pin(async move { Ok(Created::new(self.create(session, limits).await?)) })
    }

    /// Finds the live session `sid` for a presented refresh token that names it (its MAC
    /// verified), by the token's hash. [`SessionInfo::is_current`] says whether the hash is
    /// the session's current one. Changes nothing.
    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> revocation::StoreFuture<'a, Lookup>;

    /// The atomic step. With the presented token still current: rotate to the successor. If it
    /// was rotated within the grace window and is the current token's direct predecessor: the
    /// sealed successor of that rotation. Any other hash for a live session was rotated before
    /// (the caller verified its MAC): end the whole session and report reuse. An expired or unknown token changes nothing. Callers racing on one token
    /// (in one process or on several instances) rotate it exactly once.
    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, RotateOutcome>;

    /// Ends the session `sid` of the issuer `iss` (logout): its refresh tokens stop working at
    /// once and its access tokens are reported revoked for [`SessionLimits::token_lifetime`].
    /// Returns whether a live session was ended; ending an unknown `sid` (any non-empty
    /// string: an outside identity provider's session too) still records the revocation.
    fn end_session<'a>(
        &'a self,
        iss: &'a str,
        sid: &'a str,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, bool>;

    /// The live sessions of the subject `sub` of the issuer `iss`, newest first (at most
    /// 1,000): those not expired, not ended and not covered by its cutoff. The default answers
    /// `Unavailable`: a store that cannot list sessions.
    fn list_sessions<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
    ) -> revocation::StoreFuture<'a, Vec<SessionSummary>> {
        let _ = (iss, sub);
        Box::pin(std::future::ready(Err(
            revocation::StoreError::unavailable("this store cannot list sessions"),
        )))
    }

    /// Logout everywhere for the subject `sub` of the issuer `iss`: sets the subject's cutoff
    /// ([`RevocationStore::set_subject_cutoff`](crate::revocation::RevocationStore::set_subject_cutoff)),
    /// which alone ends every session opened at or before it (their refresh tokens are
    /// refused, their access tokens revoked), in one step whatever their number. Dropping the
    /// ended sessions' entries is separate, bounded work that a failure never undoes. Returns
    /// how many sessions the cutoff covered, as far as the store can tell at once.
    fn end_subject<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, usize>;
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn is_process_local(&self) -> bool {
        (**self).is_process_local()
    }
    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, SystemTime> {
        (**self).create(session, limits)
    }
    fn open<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, Created> {
        (**self).open(session, limits)
    }
    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> revocation::StoreFuture<'a, Lookup> {
        (**self).lookup(sid, presented)
    }
    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, RotateOutcome> {
        (**self).rotate(rotation, limits)
    }
    fn end_session<'a>(
        &'a self,
        iss: &'a str,
        sid: &'a str,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, bool> {
        (**self).end_session(iss, sid, limits)
    }
    fn end_subject<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> revocation::StoreFuture<'a, usize> {
        (**self).end_subject(iss, sub, limits)
    }
    fn list_sessions<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
    ) -> revocation::StoreFuture<'a, Vec<SessionSummary>> {
        (**self).list_sessions(iss, sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
