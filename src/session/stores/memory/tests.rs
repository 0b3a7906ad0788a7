//! The memory store's own tests (the shared behaviour suite is `tests/session_store.rs`).

use super::*;
use crate::session::refresh_token::{
    RefreshToken, RefreshTokenKey, SealedSuccessor, SuccessorPair,
};

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
    let query = RevocationQuery::new(Some("j"), Some("s"), Some("u"));
    let nothing = RevocationStatus::default().with_epoch_ms(Some(1_700_000_000_000));
    assert_eq!(store.status_sync(query), nothing);
    let limits = SessionLimits::default();
    assert!(!store.end_session_sync("", "s", &limits));
    store.record_revocations(store.now(), "", None, Some("u"), limits.token_lifetime);
    let status = store.status_sync(query);
    assert!(status.session_ended && status.subject_cutoff_ms == Some(1_700_000_000_000));
    // Keyed by issuer: another issuer's subject `u` and session `s` are untouched.
    assert_eq!(store.status_sync(query.issuer("other")), nothing);
    assert_eq!(store.stats().revocations, 2);
    clock.advance(limits.token_lifetime);
    assert_eq!(store.status_sync(query), nothing);
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
