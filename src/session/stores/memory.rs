//! [`MemoryStore`]: the in-memory session and revocation store, the default. No feature, no
//! runtime and no dependency beyond the layer's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use super::{
    Created, Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
    SessionSummary,
};
use crate::clock::{from_millis, millis, Clock};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture,
};
use crate::session::refresh_token::{SessionId, TokenHash};

mod replay;
mod revocations;
mod state;
mod subjects;

use revocations::{get, ByIssuer, Revocations};
use state::{remove_session, sweep_state, Grace, Session, State};

/// The default capacity: live sessions.
const DEFAULT_CAPACITY: usize = 100_000;
/// The default sweep interval.
const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The in-memory session and revocation store. Cloning it is cheap and clones share the store.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::clock::Clock;
/// use tower_jwt_auth::session::MemoryStore;
///
/// let store = MemoryStore::new(); // capacity 100 000 sessions, the system clock
/// let for_tests = MemoryStore::builder()
///     .capacity(1_000)
///     .clock(Clock::manual(std::time::SystemTime::now()))
///     .sweep_interval(Duration::from_secs(10))
///     .build();
/// assert_eq!(for_tests.stats().sessions, 0);
/// ```
///
/// - It never evicts a live entry to make room: a revocation or a "used" marker that vanished
///   would quietly un-revoke a token or turn a theft into an ordinary error. Instead it has a
///   capacity (sessions, default 100 000); when it is full, new sessions are refused with
///   [`StoreErrorKind::Full`](crate::revocation::StoreErrorKind::Full) (503), and existing sessions go on
///   refreshing and logging out.
/// - Expired entries are swept lazily: at most once per sweep interval (default 60 s by the
///   store's clock) during a write, and before a new session would be refused as full.
/// - Every step that decides (rotation, reuse, the grace window) runs under one lock, so many
///   concurrent refreshes of one token rotate it exactly once and all get the same successor.
/// - The layer's revocation check takes a shared lock of its own, never the sessions' lock, and
///   answers at once ([`RevocationStore::status_now`]).
///
/// It lives in one process: instances of a service that must agree on sessions and revocations
/// share a Redis store instead (feature `redis`).
///
/// Memory: a live session holds its data, its subject and a fixed amount of bookkeeping (the
/// hash of its current refresh token, expiries, its place in the maps), however often it was
/// refreshed; during the grace window, also the predecessor's hash and the sealed successor.
/// Used refresh tokens are not remembered one by one: a token names its session and carries a
/// MAC, so any older token of a live session is recognised as reused (see
/// [`SessionStore`]). BENCHMARKS.md gives the measured bytes per session.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

/// Builds a [`MemoryStore`]: [`MemoryStore::builder`].
#[derive(Clone, Debug)]
pub struct MemoryStoreBuilder {
    capacity: usize,
    clock: Clock,
    sweep_interval: Duration,
}

/// How many entries a [`MemoryStore`] holds, expired ones not yet swept included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Sessions.
    pub sessions: usize,
    /// Sessions kept in the grace window's state (a sealed successor).
    pub sealed_successors: usize,
    /// Revoked `jti`s, ended sessions and subject cutoffs.
    pub revocations: usize,
}

#[derive(Debug)]
struct Inner {
    clock: Clock,
    /// When the store started (ms, whole seconds): its epoch. Tokens issued before it are
    /// refused, since whatever revoked them was lost with the previous process.
    epoch: u64,
    capacity: usize,
    sweep_interval: u64,
    state: Mutex<State>,
    revoked: RwLock<Revocations>,
    /// Whether `revoked` may hold anything: lets the revocation check skip the lock while no
    /// revocation was ever recorded.
    any_revoked: AtomicBool,
    /// The store as a DPoP replay cache (see `replay.rs`).
    replay: crate::dpop::MemoryReplayCache,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store with the default capacity (100 000 sessions) and the system clock.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder, to set the capacity, the clock and the sweep interval.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            capacity: DEFAULT_CAPACITY,
            clock: Clock::system(),
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
        }
    }

    /// The clock the store judges expiry by.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// How many entries the store holds now.
    pub fn stats(&self) -> MemoryStats {
        let (sessions, sealed_successors) = {
            let state = self.state();
            (
                state.sessions.len(),
                state
                    .sessions
                    .values()
                    .filter(|s| s.grace.is_some())
                    .count(),
            )
        };
        MemoryStats {
            sessions,
            sealed_successors,
            revocations: self.read_revoked().len(),
        }
    }

    /// Drops every expired entry now (otherwise done lazily).
    pub fn sweep(&self) {
        let now = self.now();
        {
            let mut state = self.state();
            state.next_sweep = 0;
            sweep_state(&mut state, now, self.inner.sweep_interval);
        }
        let mut revoked = self.write_revoked();
        revoked.next_sweep = 0;
        revoked.sweep(now, self.inner.sweep_interval);
    }

    fn now(&self) -> u64 {
        self.inner.clock.now_millis()
    }

    // A panic elsewhere while a lock was held leaves consistent data behind (every update is
    // a handful of map operations that cannot panic halfway in a harmful way), so a poisoned
    // lock is used as is rather than turning every later call into a panic.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_revoked(&self) -> RwLockReadGuard<'_, Revocations> {
        self.inner
            .revoked
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_revoked(&self) -> RwLockWriteGuard<'_, Revocations> {
        self.inner
            .revoked
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records an ended session (`ended`, of `iss`) or a subject's cutoff (`cutoff_of`), for
    /// `keep_for` from `now`.
    fn record_revocations(
        &self,
        now: u64,
        iss: &str,
        ended: Option<&str>,
        cutoff_of: Option<&str>,
        keep_for: Duration,
    ) {
        let until = now.saturating_add(millis(keep_for));
        let mut revoked = self.write_revoked();
        revoked.sweep(now, self.inner.sweep_interval);
        if let Some(sid) = ended {
            Revocations::extend(&mut revoked.ended, iss, sid, until);
        }
        if let Some(sub) = cutoff_of {
            let entry = revoked
                .cutoffs
                .entry(iss.to_owned())
                .or_default()
                .entry(sub.to_owned())
                .or_insert((now, until));
            entry.0 = entry.0.max(now);
            entry.1 = entry.1.max(until);
        }
        self.inner.any_revoked.store(true, Ordering::Release);
    }

    fn status_sync(&self, query: RevocationQuery<'_>) -> RevocationStatus {
        let epoch = RevocationStatus::default().with_epoch_ms(Some(self.inner.epoch));
        if !self.inner.any_revoked.load(Ordering::Acquire) {
            return epoch;
        }
        let now = self.now();
        let iss = query.issuer_or_empty();
        let (jti, ended, cutoff) = {
            let revoked = self.read_revoked();
            let live = |map: &ByIssuer<u64>, key: Option<&str>| {
                key.and_then(|k| get(map, iss, k))
                    .is_some_and(|until| now < *until)
            };
            (
                live(&revoked.jtis, query.jti),
                live(&revoked.ended, query.sid),
                query.sub.and_then(|sub| revoked.cutoff(iss, sub, now)),
            )
        };
        // The session's opening time matters only under a cutoff; the sessions' lock is taken
        // only then (and never while the revocations' lock is held).
        let opened = match (cutoff, query.sid.and_then(SessionId::parse)) {
            (Some(_), Some(sid)) => self
                .state()
                .sessions
                .get(&sid)
                .filter(|s| s.iss == iss)
                .map(|s| s.created),
            _ => None,
        };
        RevocationStatus::new(jti, ended)
            .with_subject_cutoff_ms(cutoff)
            .with_session_opened_ms(opened)
            .with_epoch_ms(Some(self.inner.epoch))
    }

    /// Whether a session was opened at or before its subject's cutoff (so it is ended).
    fn cut_off(&self, session: &Session, now: u64) -> bool {
        if !self.inner.any_revoked.load(Ordering::Acquire) {
            return false;
        }
        self.read_revoked()
            .cutoff(&session.iss, &session.sub, now)
            .is_some_and(|cutoff| session.created <= cutoff)
    }

    fn create_sync(
        &self,
        session: NewSession,
        limits: &SessionLimits,
    ) -> Result<Created, StoreError> {
        let now = self.now();
        let mut state = self.state();
        sweep_state(&mut state, now, self.inner.sweep_interval);
        if state.sessions.len() >= self.inner.capacity {
            state.next_sweep = 0;
            sweep_state(&mut state, now, self.inner.sweep_interval);
            if state.sessions.len() >= self.inner.capacity {
                return Err(StoreError::full());
            }
        }
        if state.sessions.contains_key(&session.sid) {
            return Err(StoreError::unavailable(
                "a session with this id already exists",
            ));
        }
        let absolute = now.saturating_add(millis(limits.absolute_lifetime));
        let expires = now
            .saturating_add(millis(limits.idle_timeout))
            .min(absolute);
        let subject = (session.iss.clone(), session.sub.clone());
        state
            .subjects
            .entry(subject.clone())
            .or_default()
            .insert(session.sid.clone());
        state.sessions.insert(
            session.sid,
            Session {
                sub: session.sub,
                iss: session.iss,
                created: now,
                refreshed: now,
                client: session.client,
                data: session.data,
                absolute,
                current: session.refresh,
                current_expires: expires,
                grace: None,
            },
        );
        let capped = self.enforce_cap(&mut state, &subject, now, limits);
        Ok(Created::new(from_millis(expires)).with_capped(capped))
    }

    fn lookup_sync(&self, sid: &SessionId, presented: &TokenHash) -> Lookup {
        let now = self.now();
        let state = self.state();
        let Some(session) = state.sessions.get(sid) else {
            return Lookup::Unknown;
        };
        if self.cut_off(session, now) {
            return Lookup::Unknown;
        }
        if !session.live(now) {
            return Lookup::Expired;
        }
        Lookup::Found(
            SessionInfo::new(
                sid.clone(),
                session.sub.clone(),
                session.data.clone(),
                from_millis(session.absolute),
                *presented,
                session.current == *presented,
            )
            .with_idle_expires_at(from_millis(session.current_expires))
            .with_issuer(session.iss.clone()),
        )
    }

    fn rotate_sync(&self, rotation: Rotation, limits: &SessionLimits) -> RotateOutcome {
        let now = self.now();
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(session) = state.sessions.get_mut(rotation.sid()) else {
            return RotateOutcome::Unknown;
        };
        if self.cut_off(session, now) {
            return RotateOutcome::Unknown;
        }
        if !session.live(now) {
            return RotateOutcome::Expired;
        }
        if session.current == *rotation.presented() {
            let expires = now
                .saturating_add(millis(limits.idle_timeout))
                .min(session.absolute);
            session.current = *rotation.successor();
            session.current_expires = expires;
            session.refreshed = now;
            if let Some(client) = rotation.client() {
                session.client = client.clone();
            }
            // Without a grace window (zero), nothing is kept for it, as in Redis.
            session.grace = (!limits.refresh_grace.is_zero()).then(|| Grace {
                predecessor: *rotation.presented(),
                until: now.saturating_add(millis(limits.refresh_grace)),
                sealed: rotation.sealed().clone(),
            });
            return RotateOutcome::Rotated {
                refresh_expires_at: from_millis(expires),
            };
        }
        if let Some(grace) = &session.grace {
            if grace.predecessor == *rotation.presented() && now < grace.until {
                return RotateOutcome::Grace(grace.sealed.clone());
            }
        }
        // Any other token the service issued for this session was rotated before (its MAC was
        // verified by the caller): reuse, and the whole session ends.
        let sid = rotation.sid().clone();
        let (sub, iss) = remove_session(state, &sid)
            .map(|s| (s.sub, s.iss))
            .unwrap_or_default();
        // Recorded before the sessions' lock is released: no moment where the session is gone
        // but its access tokens still pass.
        self.record_revocations(now, &iss, Some(sid.as_str()), None, limits.token_lifetime);
        drop(guard);
        RotateOutcome::Reused { sid, sub }
    }

    fn end_session_sync(&self, iss: &str, sid: &str, limits: &SessionLimits) -> bool {
        let now = self.now();
        let mut state = self.state();
        let ours = SessionId::parse(sid).filter(|sid| {
            state
                .sessions
                .get(sid)
                .is_some_and(|session| session.iss == iss)
        });
        let ended = match ours {
            Some(sid) => remove_session(&mut state, &sid).is_some_and(|s| s.live(now)),
            None => false,
        };
        self.record_revocations(now, iss, Some(sid), None, limits.token_lifetime);
        drop(state);
        ended
    }

    fn end_subject_sync(&self, iss: &str, sub: &str, limits: &SessionLimits) -> usize {
        let now = self.now();
        let mut live = 0;
        let mut state = self.state();
        // The cutoff alone ends them (and covers those already swept); dropping their entries
        // frees the memory at once.
        self.record_revocations(now, iss, None, Some(sub), limits.token_lifetime);
        let key = (iss.to_owned(), sub.to_owned());
        for sid in state.subjects.remove(&key).unwrap_or_default() {
            if let Some(session) = state.sessions.remove(&sid) {
                live += usize::from(session.live(now));
            }
        }
        drop(state);
        live
    }
}

impl MemoryStoreBuilder {
    /// The most live sessions the store holds (default 100 000). When it is full, a new session
    /// is refused with [`StoreErrorKind::Full`](crate::revocation::StoreErrorKind::Full); nothing live is
    /// evicted. At least 1.
    pub fn capacity(mut self, sessions: usize) -> Self {
        self.capacity = sessions.max(1);
        self
    }

    /// The clock expiry is judged by (default the system clock); [`Clock::manual`] for tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How often, at most, expired entries are swept during writes (default 60 s).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The store.
    pub fn build(self) -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                epoch: self.clock.now_millis() / 1000 * 1000,
                clock: self.clock,
                capacity: self.capacity,
                sweep_interval: millis(self.sweep_interval),
                state: Mutex::new(State::default()),
                revoked: RwLock::new(Revocations::default()),
                any_revoked: AtomicBool::new(false),
                replay: crate::dpop::MemoryReplayCache::default(),
            }),
        }
    }
}

impl RevocationStore for MemoryStore {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        let status = self.status_sync(query);
        Box::pin(std::future::ready(Ok(status)))
    }

    fn metrics_label(&self) -> &'static str {
        "memory"
    }

    fn status_now(
        &self,
        query: RevocationQuery<'_>,
    ) -> Option<Result<RevocationStatus, StoreError>> {
        Some(Ok(self.status_sync(query)))
    }

    fn revoke_token<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        let now = self.now();
        let until = now.saturating_add(millis(keep_for));
        {
            let mut revoked = self.write_revoked();
            revoked.sweep(now, self.inner.sweep_interval);
            Revocations::extend(&mut revoked.jtis, iss, jti, until);
            self.inner.any_revoked.store(true, Ordering::Release);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn set_subject_cutoff<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        self.record_revocations(self.now(), iss, None, Some(sub), keep_for);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl SessionStore for MemoryStore {
    fn is_process_local(&self) -> bool {
        true
    }

    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, SystemTime> {
        let result = self.create_sync(session, limits).map(|c| c.expires_at());
        Box::pin(std::future::ready(result))
    }

    fn open<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, Created> {
        Box::pin(std::future::ready(self.create_sync(session, limits)))
    }

    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Lookup> {
        let found = self.lookup_sync(sid, presented);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, RotateOutcome> {
        let outcome = self.rotate_sync(rotation, limits);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn end_session<'a>(
        &'a self,
        iss: &'a str,
        sid: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, bool> {
        let ended = self.end_session_sync(iss, sid, limits);
        Box::pin(std::future::ready(Ok(ended)))
    }

    fn list_sessions<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
    ) -> StoreFuture<'a, Vec<SessionSummary>> {
        let list = self.list_sync(iss, sub);
        Box::pin(std::future::ready(Ok(list)))
    }

    fn end_subject<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        let ended = self.end_subject_sync(iss, sub, limits);
        Box::pin(std::future::ready(Ok(ended)))
    }
}

#[cfg(test)]
mod tests;
