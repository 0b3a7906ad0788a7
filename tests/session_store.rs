//! One behaviour suite for the session stores, written once and run against `MemoryStore` and
//! (feature `redis`) against `RedisStore` at `REDIS_URL` and on the Redis Cluster at
//! `REDIS_CLUSTER_NODES`, with a random key prefix per test. Without a reachable Redis the Redis
//! half is skipped with a message, unless `REQUIRE_REDIS=1` (`REQUIRE_REDIS_CLUSTER=1` for the
//! cluster).
//! Expiry is driven by an injected clock, never by sleeping.

mod session_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use session_support::{key, lookup, open, refresh, Harness, Refreshed};
use tower_jwt_auth::revocation::{RevocationQuery, RevocationStatus};
use tower_jwt_auth::session::{
    Lookup, NewSession, RefreshToken, RotateOutcome, Rotation, SealedSuccessor, SessionId,
    SessionInfo, SessionLimits, SessionStore, SuccessorPair, TokenHash, MAX_REFRESH_TOKEN_LEN,
};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn limits() -> SessionLimits {
    SessionLimits::default()
}

fn now_secs(h: &Harness) -> u64 {
    h.clock.now_millis() / 1000
}

// -------------------------------------------------------------------------------------------
// The behaviours, each written once.

/// A refresh rotates: the successor becomes current, the presented token is used, and the
/// chain goes on.
async fn rotation(h: &Harness) {
    let limits = limits();
    let (sid, r1) = open(&*h.store, "alice", &limits).await;
    let Lookup::Found(info) = lookup(&*h.store, &r1).await else {
        panic!("the first token is live")
    };
    assert_eq!(info.sid(), &sid);
    assert_eq!(info.sub(), "alice");
    assert_eq!(info.data(), b"scope=read");
    assert!(info.is_current());
    assert_eq!(
        info.absolute_expires_at(),
        h.clock.now() + limits.absolute_lifetime
    );

    h.clock.advance(MINUTE);
    let r2 = refresh(&*h.store, r1.as_str(), &limits).await;
    let Refreshed::Rotated(pair) = &r2 else {
        panic!("rotated, got {r2:?}")
    };
    let r2 = pair.refresh_token.clone();
    let Lookup::Found(old) = lookup(&*h.store, &r1).await else {
        panic!("a used token is still known (for reuse detection)")
    };
    assert!(!old.is_current());
    let Lookup::Found(new) = lookup(&*h.store, &r2).await else {
        panic!("the successor is live")
    };
    assert!(new.is_current());
    assert_eq!(new.sid(), &sid);
    // Rotation never extends the absolute lifetime.
    assert_eq!(new.absolute_expires_at(), info.absolute_expires_at());

    h.clock.advance(MINUTE);
    let r3 = refresh(&*h.store, r2.as_str(), &limits).await;
    assert!(matches!(r3, Refreshed::Rotated(_)), "{r3:?}");

    // The rotation's reported expiry is the new idle window.
    let (_, t) = open(&*h.store, "alice", &limits).await;
    let presented = RefreshToken::parse(t.as_str()).unwrap();
    let Lookup::Found(info) = lookup(&*h.store, &presented).await else {
        panic!()
    };
    let next = pair_for();
    let sealed = SealedSuccessor::seal(&presented, &next).unwrap();
    let outcome = h
        .store
        .rotate(
            Rotation::new(&info, next.refresh_token.hash(), sealed),
            &limits,
        )
        .await
        .unwrap();
    let RotateOutcome::Rotated { refresh_expires_at } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(refresh_expires_at, h.clock.now() + limits.idle_timeout);
    h.cleanup().await;
}

fn pair_for() -> SuccessorPair {
    SuccessorPair {
        access_token: "a.b.c".to_owned(),
        access_expires_at: 1,
        refresh_token: key().issue(&SessionId::generate().unwrap()).unwrap(),
    }
}

/// A used token presented after the grace window ends the whole session, its newest refresh
/// token and its access tokens included; so does a token older than the direct predecessor,
/// even inside the window.
async fn reuse_after_the_window_ends_the_session(h: &Harness) {
    let limits = limits();
    let (sid, r1) = open(&*h.store, "alice", &limits).await;
    let r2 = refresh(&*h.store, r1.as_str(), &limits)
        .await
        .refresh_token();
    h.clock
        .advance(limits.refresh_grace + Duration::from_secs(1));

    let reused = refresh(&*h.store, r1.as_str(), &limits).await;
    assert_eq!(
        reused,
        Refreshed::Reused {
            sid: sid.as_str().to_owned(),
            sub: "alice".to_owned()
        }
    );
    // The newest token is dead, and the session's access tokens are revoked.
    assert!(matches!(lookup(&*h.store, &r2).await, Lookup::Unknown));
    assert_eq!(
        refresh(&*h.store, r2.as_str(), &limits).await,
        Refreshed::Unknown
    );
    let status = h
        .store
        .status(RevocationQuery {
            jti: Some("any"),
            sid: Some(sid.as_str()),
            sub: Some("alice"),
            iss: None,
        })
        .await
        .unwrap();
    assert!(status.session_ended);
    assert!(status.revokes(now_secs(h), true));

    // Grace only for the direct predecessor: R1 -> R2 -> R3, then R1 inside the window.
    let (sid, r1) = open(&*h.store, "bob", &limits).await;
    let r2 = refresh(&*h.store, r1.as_str(), &limits)
        .await
        .refresh_token();
    let r3 = refresh(&*h.store, r2.as_str(), &limits)
        .await
        .refresh_token();
    assert!(matches!(
        refresh(&*h.store, r1.as_str(), &limits).await,
        Refreshed::Reused { .. }
    ));
    assert_eq!(
        refresh(&*h.store, r3.as_str(), &limits).await,
        Refreshed::Unknown
    );
    assert!(
        h.store
            .status(RevocationQuery {
                sid: Some(sid.as_str()),
                ..Default::default()
            })
            .await
            .unwrap()
            .session_ended
    );
    h.cleanup().await;
}

/// After many rotations, any older token of the session is still recognised as reused (the
/// session dies), while the store holds no more for the session than after one rotation.
async fn reuse_of_any_older_token_after_many_rotations(h: &Harness) {
    let limits = limits();
    let mut entries_after_one = None;
    for reused in [0, 4, 9] {
        let (sid, first) = open(&*h.store, "alice", &limits).await;
        let mut chain = vec![first];
        for _ in 0..10 {
            let current = chain.last().unwrap().as_str().to_owned();
            let next = refresh(&*h.store, &current, &limits).await;
            assert!(matches!(next, Refreshed::Rotated(_)), "{next:?}");
            chain.push(next.refresh_token());
            h.clock
                .advance(limits.refresh_grace + Duration::from_secs(1));
            if chain.len() == 2 && entries_after_one.is_none() {
                entries_after_one = Some(h.snapshot().await.lines().count());
            }
        }
        if reused == 0 {
            // Nothing accumulates per rotation: as many entries as after the first one.
            assert_eq!(Some(h.snapshot().await.lines().count()), entries_after_one);
        }
        let outcome = refresh(&*h.store, chain[reused].as_str(), &limits).await;
        assert_eq!(
            outcome,
            Refreshed::Reused {
                sid: sid.as_str().to_owned(),
                sub: "alice".to_owned()
            },
            "token {reused} of 10 rotations"
        );
        // The newest token died with the session.
        assert_eq!(
            refresh(&*h.store, chain[10].as_str(), &limits).await,
            Refreshed::Unknown
        );
    }
    h.cleanup().await;
}

/// Many concurrent refreshes of one token: exactly one rotation, every caller gets the same
/// successor, and the session continues.
async fn grace_window_gives_every_racer_the_same_successor(h: &Harness) {
    let limits = limits();
    let (sid, r1) = open(&*h.store, "alice", &limits).await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = Arc::clone(&h.store);
        let token = r1.as_str().to_owned();
        tasks.push(tokio::spawn(async move {
            refresh(&*store, &token, &limits).await
        }));
    }
    let mut rotated = 0;
    let mut successors = HashSet::new();
    let mut access_tokens = HashSet::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        match &outcome {
            Refreshed::Rotated(_) => rotated += 1,
            Refreshed::Grace(_) => {}
            other => panic!("every racer gets a successor, got {other:?}"),
        }
        let pair = outcome.pair().unwrap();
        successors.insert(pair.refresh_token.as_str().to_owned());
        access_tokens.insert(pair.access_token.clone());
    }
    assert_eq!(rotated, 1, "exactly one rotation");
    assert_eq!(successors.len(), 1, "one successor for all");
    assert_eq!(access_tokens.len(), 1, "one successor pair for all");

    // Still inside the window, a late retry gets the same pair too.
    h.clock
        .advance(limits.refresh_grace - Duration::from_secs(1));
    let late = refresh(&*h.store, r1.as_str(), &limits).await;
    assert!(matches!(late, Refreshed::Grace(_)), "{late:?}");
    assert!(successors.contains(late.refresh_token().as_str()));

    // The session lives on.
    let successor = RefreshToken::parse(successors.iter().next().unwrap()).unwrap();
    let next = refresh(&*h.store, successor.as_str(), &limits).await;
    assert!(matches!(next, Refreshed::Rotated(_)), "{next:?}");
    assert!(
        !h.store
            .status(RevocationQuery {
                sid: Some(sid.as_str()),
                ..Default::default()
            })
            .await
            .unwrap()
            .session_ended
    );
    h.cleanup().await;
}

/// The idle timeout ends a token unused for too long; the absolute lifetime ends the session
/// however often it is refreshed. Judged by the injected clock.
async fn idle_and_absolute_expiry(h: &Harness) {
    let limits = SessionLimits {
        idle_timeout: HOUR,
        absolute_lifetime: 3 * HOUR,
        ..limits()
    };

    // Idle: refreshing within the window keeps it going; an hour unused ends it.
    let (_, r1) = open(&*h.store, "alice", &limits).await;
    h.clock.advance(59 * MINUTE);
    let r2 = refresh(&*h.store, r1.as_str(), &limits)
        .await
        .refresh_token();
    h.clock.advance(59 * MINUTE);
    let r3 = refresh(&*h.store, r2.as_str(), &limits)
        .await
        .refresh_token();
    let before = h.snapshot().await;
    h.clock.advance(HOUR);
    assert!(matches!(lookup(&*h.store, &r3).await, Lookup::Expired));
    assert_eq!(
        refresh(&*h.store, r3.as_str(), &limits).await,
        Refreshed::Expired
    );
    // An old token of the expired session is not reuse: it expired too.
    assert_eq!(
        refresh(&*h.store, r1.as_str(), &limits).await,
        Refreshed::Expired
    );
    assert_eq!(h.snapshot().await, before, "expired tokens change nothing");

    // Absolute: refreshing every 50 minutes does not get past 3 hours.
    let (_, mut token) = open(&*h.store, "bob", &limits).await;
    let opened = h.clock.now();
    let mut refreshes = 0;
    loop {
        h.clock.advance(50 * MINUTE);
        match refresh(&*h.store, token.as_str(), &limits).await {
            Refreshed::Rotated(pair) => {
                token = pair.refresh_token;
                refreshes += 1;
            }
            Refreshed::Expired => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refreshes, 3, "rotations at 50, 100 and 150 minutes");
    assert!(h.clock.now() >= opened + limits.absolute_lifetime);
    assert!(h.clock.now() < opened + limits.absolute_lifetime + 50 * MINUTE);
    h.cleanup().await;
}

/// Logout ends the session: its refresh tokens stop working and its access tokens are revoked
/// for as long as they could be accepted, then the entry goes.
async fn end_session(h: &Harness) {
    let limits = limits();
    let (sid, r1) = open(&*h.store, "alice", &limits).await;
    let (other_sid, other) = open(&*h.store, "alice", &limits).await;
    assert!(h
        .store
        .end_session("", sid.as_str(), &limits)
        .await
        .unwrap());
    assert!(matches!(lookup(&*h.store, &r1).await, Lookup::Unknown));
    assert_eq!(
        refresh(&*h.store, r1.as_str(), &limits).await,
        Refreshed::Unknown
    );
    let query = RevocationQuery {
        jti: Some("j"),
        sid: Some(sid.as_str()),
        sub: Some("alice"),
        iss: None,
    };
    let status = h.store.status(query).await.unwrap();
    assert!(status.session_ended && !status.jti_revoked);
    assert_eq!(
        status.subject_cutoff_ms, None,
        "logout is not logout everywhere"
    );

    // The other session of the subject is untouched.
    assert!(matches!(
        refresh(&*h.store, other.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    assert!(
        !h.store
            .status(RevocationQuery {
                sid: Some(other_sid.as_str()),
                ..query
            })
            .await
            .unwrap()
            .session_ended
    );

    // Ending it again: nothing live was ended.
    assert!(!h
        .store
        .end_session("", sid.as_str(), &limits)
        .await
        .unwrap());
    // The revocation lives as long as an access token of the session can.
    h.clock
        .advance(limits.token_lifetime - Duration::from_secs(1));
    assert!(h.store.status(query).await.unwrap().session_ended);
    h.clock.advance(Duration::from_secs(2));
    assert!(!h.store.status(query).await.unwrap().session_ended);
    h.cleanup().await;
}

/// Logout everywhere sets the subject's cutoff (ms), which ends every session opened at or
/// before it (refresh tokens and access tokens) and covers its tokens without a `sid`.
async fn end_all_sessions_of_a_subject(h: &Harness) {
    let limits = limits();
    let mut alice = Vec::new();
    for _ in 0..3 {
        alice.push(open(&*h.store, "alice", &limits).await);
    }
    let (bob_sid, bob) = open(&*h.store, "bob", &limits).await;
    let cutoff = now_secs(h);
    let cutoff_ms = h.clock.now_millis();
    assert_eq!(h.store.end_subject("", "alice", &limits).await.unwrap(), 3);
    for (sid, token) in &alice {
        assert_eq!(
            refresh(&*h.store, token.as_str(), &limits).await,
            Refreshed::Unknown
        );
        let status = h
            .store
            .status(RevocationQuery {
                jti: None,
                sid: Some(sid.as_str()),
                sub: Some("alice"),
                iss: None,
            })
            .await
            .unwrap();
        assert_eq!(status.subject_cutoff_ms, Some(cutoff_ms));
        assert!(status.revokes(cutoff, true), "{status:?}");
    }
    // Tokens without a sid (an outside identity provider): iat <= cutoff is refused.
    let status = h
        .store
        .status(RevocationQuery {
            sub: Some("alice"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(status.revokes(cutoff - 100, false));
    assert!(status.revokes(cutoff, false));
    assert!(!status.revokes(cutoff + 1, false));

    // Bob is untouched; a new login of alice works.
    assert!(matches!(
        refresh(&*h.store, bob.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    let bob_status = h
        .store
        .status(RevocationQuery {
            sid: Some(bob_sid.as_str()),
            sub: Some("bob"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!bob_status.session_ended && bob_status.subject_cutoff_ms.is_none());
    // A login a millisecond later, in the same second, is not affected.
    h.clock.advance(Duration::from_millis(1));
    let (again_sid, again) = open(&*h.store, "alice", &limits).await;
    let status = h
        .store
        .status(RevocationQuery {
            sid: Some(again_sid.as_str()),
            sub: Some("alice"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(status.session_opened_ms, Some(cutoff_ms + 1));
    assert!(!status.revokes(cutoff, true), "{status:?}");
    assert!(matches!(
        refresh(&*h.store, again.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    // Nothing left to end for a subject without sessions.
    assert_eq!(h.store.end_subject("", "nobody", &limits).await.unwrap(), 0);
    h.cleanup().await;
}

/// A status without its epoch (every store has one).
fn no_epoch(mut status: RevocationStatus) -> RevocationStatus {
    assert!(status.epoch_ms.is_some(), "{status:?}");
    status.epoch_ms = None;
    status
}

/// The layer's query: `jti`, `sid` and the subject's cutoff in one call, each kept only as
/// long as asked.
async fn revocation_query(h: &Harness) {
    let none = RevocationQuery::default();
    assert_eq!(
        no_epoch(h.store.status(none).await.unwrap()),
        Default::default()
    );

    h.store.revoke_token("", "jti-1", MINUTE).await.unwrap();
    // A jti that is not a plain id is fine too.
    h.store
        .revoke_token("", "urn:jti:{weird}/ü", MINUTE)
        .await
        .unwrap();
    let q = |jti| RevocationQuery {
        jti: Some(jti),
        sid: Some("sid-x"),
        sub: Some("carol"),
        iss: None,
    };
    let status = h.store.status(q("jti-1")).await.unwrap();
    assert!(status.jti_revoked && !status.session_ended && status.subject_cutoff_ms.is_none());
    assert!(
        h.store
            .status(q("urn:jti:{weird}/ü"))
            .await
            .unwrap()
            .jti_revoked
    );
    assert!(!h.store.status(q("jti-2")).await.unwrap().jti_revoked);

    let cutoff = h.clock.now_millis();
    h.store
        .set_subject_cutoff("", "carol", 2 * MINUTE)
        .await
        .unwrap();
    let status = h.store.status(q("jti-1")).await.unwrap();
    assert!(status.jti_revoked);
    assert_eq!(status.subject_cutoff_ms, Some(cutoff));

    // A later cutoff replaces an earlier one; a shorter life never shortens it.
    h.clock.advance(Duration::from_secs(5));
    h.store
        .set_subject_cutoff("", "carol", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        h.store.status(q("jti-1")).await.unwrap().subject_cutoff_ms,
        Some(cutoff + 5000)
    );

    h.clock.advance(MINUTE);
    let status = h.store.status(q("jti-1")).await.unwrap();
    assert!(!status.jti_revoked, "kept only as long as asked");
    assert_eq!(status.subject_cutoff_ms, Some(cutoff + 5000));
    h.clock.advance(MINUTE);
    assert_eq!(
        no_epoch(h.store.status(q("jti-1")).await.unwrap()),
        Default::default()
    );

    // The synchronous answer, where a store has one, agrees.
    if let Some(now) = h.store.status_now(q("jti-1")) {
        assert_eq!(no_epoch(now.unwrap()), Default::default());
    }
    h.cleanup().await;
}

/// Malformed, oversized and unknown tokens are refused and change nothing in the store.
async fn bad_tokens_change_nothing(h: &Harness) {
    let limits = limits();
    let (sid, r1) = open(&*h.store, "alice", &limits).await;
    let r2 = refresh(&*h.store, r1.as_str(), &limits)
        .await
        .refresh_token();
    let before = h.snapshot().await;

    // Refused before any store access.
    let oversized = "A".repeat(MAX_REFRESH_TOKEN_LEN + 1);
    for bad in ["", "abc=", "a.b.c", "a b", "tök", oversized.as_str()] {
        assert!(RefreshToken::parse(bad).is_err(), "{bad:?}");
    }

    // Issued under the service's key, for a session nobody has: unknown, nothing changes.
    let unknown = key().issue(&SessionId::generate().unwrap()).unwrap();
    assert!(matches!(lookup(&*h.store, &unknown).await, Lookup::Unknown));
    assert_eq!(
        refresh(&*h.store, unknown.as_str(), &limits).await,
        Refreshed::Unknown
    );
    // A token fabricated to name the live session, or signed under another key: its MAC does
    // not verify, so it never reaches the store (see tests/sessions.rs for the whole flow).
    let other_key = tower_jwt_auth::session::RefreshTokenKey::new(&[1; 32]).unwrap();
    let foreign = other_key.issue(&sid).unwrap();
    assert!(key().verify(&foreign).is_err());
    assert_eq!(other_key.verify(&foreign).unwrap(), sid);
    // A session id nobody has.
    let stranger = SessionInfo::new(
        SessionId::generate().unwrap(),
        "alice".to_owned(),
        Vec::new(),
        h.clock.now() + HOUR,
        r2.hash(),
        true,
    );
    let sealed = SealedSuccessor::seal(&r2, &pair_for()).unwrap();
    let outcome = h
        .store
        .rotate(
            Rotation::new(&stranger, TokenHash::from_bytes([8; 32]), sealed),
            &limits,
        )
        .await
        .unwrap();
    assert!(matches!(outcome, RotateOutcome::Unknown), "{outcome:?}");

    assert_eq!(h.snapshot().await, before, "nothing in the store changed");
    // And the session still works.
    assert!(matches!(
        refresh(&*h.store, r2.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    h.cleanup().await;
}

/// The store never holds a refresh token or a successor pair in the clear.
async fn store_holds_only_hashes(h: &Harness) {
    let limits = limits();
    let (_, r1) = open(&*h.store, "alice", &limits).await;
    let outcome = refresh(&*h.store, r1.as_str(), &limits).await;
    let pair = outcome.pair().unwrap();
    let dump = h.snapshot().await;
    for secret in [
        r1.as_str(),
        pair.refresh_token.as_str(),
        pair.access_token.as_str(),
    ] {
        assert!(!dump.contains(secret), "a token in the clear");
    }
    h.cleanup().await;
}

/// The cap per subject: opening one more session than the cap ends the subject's session with
/// the oldest opening time (its refresh token `Unknown`, its access tokens revoked); other
/// subjects are not affected; a cap of 0 is none.
async fn cap_per_subject_ends_the_oldest(h: &Harness) {
    let limits = SessionLimits {
        max_sessions_per_user: 3,
        ..limits()
    };
    let mut alice = Vec::new();
    for _ in 0..3 {
        alice.push(open(&*h.store, "alice", &limits).await);
        h.clock.advance(Duration::from_millis(5));
    }
    let (_, bob) = open(&*h.store, "bob", &limits).await;
    // A fourth session of alice ends her oldest.
    let (_, fourth) = open(&*h.store, "alice", &limits).await;
    let (oldest_sid, oldest) = &alice[0];
    assert_eq!(
        refresh(&*h.store, oldest.as_str(), &limits).await,
        Refreshed::Unknown
    );
    let status = h
        .store
        .status(RevocationQuery {
            sid: Some(oldest_sid.as_str()),
            sub: Some("alice"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(status.session_ended, "{status:?}");
    for (_, token) in &alice[1..] {
        assert!(matches!(
            refresh(&*h.store, token.as_str(), &limits).await,
            Refreshed::Rotated(_)
        ));
    }
    for token in [&fourth, &bob] {
        assert!(matches!(
            refresh(&*h.store, token.as_str(), &limits).await,
            Refreshed::Rotated(_)
        ));
    }
    // No cap: a fifth and sixth session of alice end nothing.
    let none = SessionLimits {
        max_sessions_per_user: 0,
        ..limits
    };
    let mut more = Vec::new();
    for _ in 0..2 {
        more.push(open(&*h.store, "alice", &none).await);
    }
    for (_, token) in &more {
        assert!(matches!(
            refresh(&*h.store, token.as_str(), &none).await,
            Refreshed::Rotated(_)
        ));
    }
    h.cleanup().await;
}

/// The behaviours, as tests for one store.
macro_rules! suite {
    ($store:ident, $harness:expr) => {
        mod $store {
            use super::*;

            macro_rules! behaviour {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let Some(h) = $harness else { return };
                        super::$name(&h).await;
                    }
                };
            }

            behaviour!(rotation);
            behaviour!(reuse_after_the_window_ends_the_session);
            behaviour!(reuse_of_any_older_token_after_many_rotations);
            behaviour!(grace_window_gives_every_racer_the_same_successor);
            behaviour!(idle_and_absolute_expiry);
            behaviour!(end_session);
            behaviour!(end_all_sessions_of_a_subject);
            behaviour!(revocation_query);
            behaviour!(bad_tokens_change_nothing);
            behaviour!(store_holds_only_hashes);
            behaviour!(cap_per_subject_ends_the_oldest);
        }
    };
}

suite!(memory, Some(Harness::memory()));
#[cfg(feature = "redis")]
suite!(redis, Harness::redis().await);
#[cfg(feature = "redis")]
suite!(redis_cluster, Harness::redis_cluster().await);

// -------------------------------------------------------------------------------------------
// The in-memory store's capacity.

/// A full store refuses new sessions (503), evicts nothing, keeps serving the sessions it has,
/// and makes room once sessions end or expire.
#[tokio::test]
async fn memory_full_store_refuses_new_sessions() {
    let h = Harness::memory_with_capacity(2);
    let limits = limits();
    let (sid, a) = open(&*h.store, "alice", &limits).await;
    let (_, b) = open(&*h.store, "bob", &limits).await;
    let err = h
        .store
        .create(
            NewSession::new(
                SessionId::generate().unwrap(),
                "carol",
                key().issue(&SessionId::generate().unwrap()).unwrap().hash(),
                Vec::new(),
            ),
            &limits,
        )
        .await
        .unwrap_err();
    assert!(err.is_full() && !err.is_unavailable(), "{err}");

    // The live sessions still refresh and log out.
    let a2 = refresh(&*h.store, a.as_str(), &limits)
        .await
        .refresh_token();
    assert!(matches!(
        refresh(&*h.store, b.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    assert!(h
        .store
        .end_session("", sid.as_str(), &limits)
        .await
        .unwrap());
    assert_eq!(
        refresh(&*h.store, a2.as_str(), &limits).await,
        Refreshed::Unknown
    );
    // Room again.
    let (_, c) = open(&*h.store, "carol", &limits).await;
    // Full again; once the sessions expire, the sweep before refusing makes room.
    assert!(h
        .store
        .create(
            NewSession::new(
                SessionId::generate().unwrap(),
                "dave",
                key().issue(&SessionId::generate().unwrap()).unwrap().hash(),
                Vec::new(),
            ),
            &limits,
        )
        .await
        .unwrap_err()
        .is_full());
    h.clock.advance(limits.idle_timeout + MINUTE);
    let (_, d) = open(&*h.store, "dave", &limits).await;
    assert_eq!(
        refresh(&*h.store, c.as_str(), &limits).await,
        Refreshed::Unknown
    );
    assert!(matches!(
        refresh(&*h.store, d.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
}
