//! [`MemoryStore`]: the in-memory session and revocation store, the default. No feature, no
//! runtime and no dependency beyond the layer's.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use super::{
    Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
};
use crate::clock::{from_millis, millis, Clock};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture,
};
use crate::session::refresh_token::{SealedSuccessor, SessionId, TokenHash};

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
    capacity: usize,
    sweep_interval: u64,
    state: Mutex<State>,
    revoked: RwLock<Revocations>,
    /// Whether `revoked` may hold anything: lets the revocation check skip the lock while no
    /// revocation was ever recorded.
    any_revoked: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<SessionId, Session>,
    subjects: HashMap<String, HashSet<SessionId>>,
    next_sweep: u64,
}

#[derive(Debug)]
struct Session {
    sub: String,
    data: Vec<u8>,
    /// Absolute expiry (ms).
    absolute: u64,
    current: TokenHash,
    /// The current token's idle expiry (ms).
    current_expires: u64,
    grace: Option<Grace>,
}

impl Session {
    fn live(&self, now: u64) -> bool {
        now < self.absolute && now < self.current_expires
    }
}

#[derive(Debug)]
struct Grace {
    predecessor: TokenHash,
    until: u64,
    sealed: SealedSuccessor,
}

#[derive(Debug, Default)]
struct Revocations {
    /// `jti` → until (ms).
    jtis: HashMap<String, u64>,
    /// `sid` → until (ms).
    ended: HashMap<String, u64>,
    /// `sub` → (cutoff in seconds, until in ms).
    cutoffs: HashMap<String, (u64, u64)>,
    next_sweep: u64,
}

impl Revocations {
    fn extend(map: &mut HashMap<String, u64>, key: &str, until: u64) {
        match map.get_mut(key) {
            Some(old) => *old = (*old).max(until),
            None => {
                map.insert(key.to_owned(), until);
            }
        }
    }

    fn sweep(&mut self, now: u64, interval: u64) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(interval);
        self.jtis.retain(|_, until| now < *until);
        self.ended.retain(|_, until| now < *until);
        self.cutoffs.retain(|_, (_, until)| now < *until);
    }

    fn len(&self) -> usize {
        self.jtis.len() + self.ended.len() + self.cutoffs.len()
    }
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

    /// Records ended sessions (and optionally a subject cutoff) for `keep_for` from `now`.
    fn record_revocations<'s>(
        &self,
        now: u64,
        ended: impl IntoIterator<Item = &'s str>,
        cutoff_of: Option<&str>,
        keep_for: Duration,
    ) {
        let until = now.saturating_add(millis(keep_for));
        let mut revoked = self.write_revoked();
        revoked.sweep(now, self.inner.sweep_interval);
        for sid in ended {
            Revocations::extend(&mut revoked.ended, sid, until);
        }
        if let Some(sub) = cutoff_of {
            let cutoff = now / 1000;
            let entry = revoked
                .cutoffs
                .entry(sub.to_owned())
                .or_insert((cutoff, until));
            entry.0 = entry.0.max(cutoff);
            entry.1 = entry.1.max(until);
        }
        self.inner.any_revoked.store(true, Ordering::Release);
    }

    fn status_sync(&self, query: RevocationQuery<'_>) -> RevocationStatus {
        if !self.inner.any_revoked.load(Ordering::Acquire) {
            return RevocationStatus::default();
        }
        let now = self.now();
        let revoked = self.read_revoked();
        let live = |map: &HashMap<String, u64>, key: Option<&str>| {
            key.and_then(|k| map.get(k))
                .is_some_and(|until| now < *until)
        };
        RevocationStatus::new(
            live(&revoked.jtis, query.jti),
            live(&revoked.ended, query.sid),
            query
                .sub
                .and_then(|sub| revoked.cutoffs.get(sub))
                .filter(|(_, until)| now < *until)
                .map(|(cutoff, _)| *cutoff),
        )
    }

    fn create_sync(
        &self,
        session: NewSession,
        limits: &SessionLimits,
    ) -> Result<SystemTime, StoreError> {
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
        state
            .subjects
            .entry(session.sub.clone())
            .or_default()
            .insert(session.sid.clone());
        state.sessions.insert(
            session.sid,
            Session {
                sub: session.sub,
                data: session.data,
                absolute,
                current: session.refresh,
                current_expires: expires,
                grace: None,
            },
        );
        Ok(from_millis(expires))
    }

    fn lookup_sync(&self, sid: &SessionId, presented: &TokenHash) -> Lookup {
        let now = self.now();
        let state = self.state();
        let Some(session) = state.sessions.get(sid) else {
            return Lookup::Unknown;
        };
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
            .with_idle_expires_at(from_millis(session.current_expires)),
        )
    }

    fn rotate_sync(&self, rotation: Rotation, limits: &SessionLimits) -> RotateOutcome {
        let now = self.now();
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(session) = state.sessions.get_mut(rotation.sid()) else {
            return RotateOutcome::Unknown;
        };
        if !session.live(now) {
            return RotateOutcome::Expired;
        }
        if session.current == *rotation.presented() {
            let expires = now
                .saturating_add(millis(limits.idle_timeout))
                .min(session.absolute);
            session.current = *rotation.successor();
            session.current_expires = expires;
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
        let sub = remove_session(state, &sid)
            .map(|s| s.sub)
            .unwrap_or_default();
        // Recorded before the sessions' lock is released: no moment where the session is gone
        // but its access tokens still pass.
        self.record_revocations(now, [sid.as_str()], None, limits.token_lifetime);
        drop(guard);
        RotateOutcome::Reused { sid, sub }
    }

    fn end_session_sync(&self, sid: &str, limits: &SessionLimits) -> bool {
        let now = self.now();
        let mut state = self.state();
        let ended = match SessionId::parse(sid) {
            Some(sid) => remove_session(&mut state, &sid).is_some_and(|s| s.live(now)),
            None => false,
        };
        self.record_revocations(now, [sid], None, limits.token_lifetime);
        drop(state);
        ended
    }

    fn end_subject_sync(&self, sub: &str, limits: &SessionLimits) -> usize {
        let now = self.now();
        let mut ended = Vec::new();
        let mut live = 0;
        let mut state = self.state();
        for sid in state.subjects.remove(sub).unwrap_or_default() {
            if let Some(session) = state.sessions.remove(&sid) {
                live += usize::from(session.live(now));
            }
            ended.push(sid);
        }
        self.record_revocations(
            now,
            ended.iter().map(SessionId::as_str),
            Some(sub),
            limits.token_lifetime,
        );
        drop(state);
        live
    }
}

/// Removes a session and its place in its subject's set.
fn remove_session(state: &mut State, sid: &SessionId) -> Option<Session> {
    let session = state.sessions.remove(sid)?;
    if let Entry::Occupied(mut sids) = state.subjects.entry(session.sub.clone()) {
        sids.get_mut().remove(sid);
        if sids.get().is_empty() {
            sids.remove();
        }
    }
    Some(session)
}

/// Drops expired sessions, grace states past their window and empty subject sets, at most once
/// per interval.
fn sweep_state(state: &mut State, now: u64, interval: u64) {
    if now < state.next_sweep {
        return;
    }
    state.next_sweep = now.saturating_add(interval);
    state.sessions.retain(|_, s| {
        if s.grace.as_ref().is_some_and(|g| now >= g.until) {
            s.grace = None;
        }
        s.live(now)
    });
    let sessions = &state.sessions;
    state.subjects.retain(|_, sids| {
        sids.retain(|sid| sessions.contains_key(sid));
        !sids.is_empty()
    });
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
                clock: self.clock,
                capacity: self.capacity,
                sweep_interval: millis(self.sweep_interval),
                state: Mutex::new(State::default()),
                revoked: RwLock::new(Revocations::default()),
                any_revoked: AtomicBool::new(false),
            }),
        }
    }
}

impl RevocationStore for MemoryStore {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        let status = self.status_sync(query);
        Box::pin(std::future::ready(Ok(status)))
    }

    fn status_now(
        &self,
        query: RevocationQuery<'_>,
    ) -> Option<Result<RevocationStatus, StoreError>> {
        Some(Ok(self.status_sync(query)))
    }

    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        let now = self.now();
        let until = now.saturating_add(millis(keep_for));
        {
            let mut revoked = self.write_revoked();
            revoked.sweep(now, self.inner.sweep_interval);
            Revocations::extend(&mut revoked.jtis, jti, until);
            self.inner.any_revoked.store(true, Ordering::Release);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        self.record_revocations(self.now(), [], Some(sub), keep_for);
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
        let result = self.create_sync(session, limits);
        Box::pin(std::future::ready(result))
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

    fn end_session<'a>(&'a self, sid: &'a str, limits: &'a SessionLimits) -> StoreFuture<'a, bool> {
        let ended = self.end_session_sync(sid, limits);
        Box::pin(std::future::ready(Ok(ended)))
    }

    fn end_subject<'a>(
        &'a self,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        let ended = self.end_subject_sync(sub, limits);
        Box::pin(std::future::ready(Ok(ended)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::refresh_token::{RefreshToken, RefreshTokenKey, SuccessorPair};

    fn key() -> RefreshTokenKey {
        RefreshTokenKey::new(&[3; 32]).unwrap()
    }

    fn store() -> (MemoryStore, Clock) {
        let clock = Clock::manual(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let store = MemoryStore::builder()
            .clock(clock.clone())
            .sweep_interval(Duration::from_secs(1))
            .build();
        (store, clock)
    }

    fn open(store: &MemoryStore, sub: &str, limits: &SessionLimits) -> (SessionId, RefreshToken) {
        let sid = SessionId::generate().unwrap();
        let token = key().issue(&sid).unwrap();
        store
            .create_sync(
                NewSession::new(sid.clone(), sub, token.hash(), Vec::new()),
                limits,
            )
            .unwrap();
        (sid, token)
    }

    fn rotate_to(
        store: &MemoryStore,
        token: &RefreshToken,
        limits: &SessionLimits,
    ) -> (RotateOutcome, RefreshToken) {
        let sid = key().verify(token).unwrap();
        let Lookup::Found(info) = store.lookup_sync(&sid, &token.hash()) else {
            panic!("live")
        };
        let pair = SuccessorPair {
            access_token: "a".into(),
            access_expires_at: 0,
            refresh_token: key().issue(&sid).unwrap(),
        };
        let sealed = SealedSuccessor::seal(token, &pair).unwrap();
        let outcome = store.rotate_sync(
            Rotation::new(&info, pair.refresh_token.hash(), sealed),
            limits,
        );
        (outcome, pair.refresh_token)
    }

    fn rotate(store: &MemoryStore, token: &RefreshToken, limits: &SessionLimits) -> RotateOutcome {
        rotate_to(store, token, limits).0
    }

    #[test]
    fn session_memory_sweep_drops_only_what_expired() {
        let (store, clock) = store();
        let limits = SessionLimits::default();
        let (a_sid, a) = open(&store, "alice", &limits);
        let (b_sid, b) = open(&store, "bob", &limits);
        let (outcome, a2) = rotate_to(&store, &a, &limits);
        assert!(matches!(outcome, RotateOutcome::Rotated { .. }));
        let stats = store.stats();
        assert_eq!((stats.sessions, stats.sealed_successors), (2, 1));

        // The grace state goes after its window; the sessions stay.
        clock.advance(limits.refresh_grace + Duration::from_secs(1));
        store.sweep();
        let stats = store.stats();
        assert_eq!((stats.sessions, stats.sealed_successors), (2, 0));

        // Alice refreshes again; bob idles out. Alice's used tokens need no entry of their own:
        // they are still recognised as hers, and not current.
        let (outcome, _a3) = rotate_to(&store, &a2, &limits);
        assert!(matches!(outcome, RotateOutcome::Rotated { .. }));
        clock.advance(limits.idle_timeout - limits.refresh_grace - Duration::from_secs(2));
        store.sweep();
        assert_eq!(store.stats().sessions, 2);
        let Lookup::Found(old) = store.lookup_sync(&a_sid, &a.hash()) else {
            panic!("alice's session is live")
        };
        assert!(!old.is_current());
        clock.advance(Duration::from_secs(1));
        store.sweep();
        assert_eq!(store.stats().sessions, 1);
        assert!(matches!(
            store.lookup_sync(&b_sid, &b.hash()),
            Lookup::Unknown
        ));
    }

    #[test]
    fn session_memory_zero_grace_keeps_no_sealed_successor() {
        let (store, _) = store();
        let limits = SessionLimits {
            refresh_grace: Duration::ZERO,
            ..SessionLimits::default()
        };
        let (_, a) = open(&store, "alice", &limits);
        let (outcome, _) = rotate_to(&store, &a, &limits);
        assert!(matches!(outcome, RotateOutcome::Rotated { .. }));
        assert_eq!(store.stats().sealed_successors, 0);
        assert!(matches!(
            rotate(&store, &a, &limits),
            RotateOutcome::Reused { .. }
        ));
    }

    #[test]
    fn session_memory_revocations_expire_and_are_swept() {
        let (store, clock) = store();
        let query = RevocationQuery {
            jti: Some("j"),
            sid: Some("s"),
            sub: Some("u"),
        };
        assert_eq!(store.status_sync(query), RevocationStatus::default());
        let limits = SessionLimits::default();
        assert!(!store.end_session_sync("s", &limits));
        store.record_revocations(store.now(), [], Some("u"), limits.token_lifetime);
        let status = store.status_sync(query);
        assert!(status.session_ended && status.subject_cutoff == Some(1_700_000_000));
        assert_eq!(store.stats().revocations, 2);
        clock.advance(limits.token_lifetime);
        assert_eq!(store.status_sync(query), RevocationStatus::default());
        store.sweep();
        assert_eq!(store.stats().revocations, 0);
    }

    #[test]
    fn session_memory_concurrent_rotations_rotate_once() {
        let (store, _) = store();
        let limits = SessionLimits::default();
        let (_, token) = open(&store, "alice", &limits);
        let outcomes: Vec<RotateOutcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| rotate(&store, &token, &limits)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let rotated = outcomes
            .iter()
            .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
            .count();
        assert_eq!(rotated, 1);
        let sealed: Vec<_> = outcomes
            .iter()
            .filter_map(|o| match o {
                RotateOutcome::Grace(sealed) => Some(sealed.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(sealed.len(), 15);
        assert!(sealed.windows(2).all(|w| w[0] == w[1]));
    }
}
