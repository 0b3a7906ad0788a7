//! `RedisStore` on what a cluster adds: the per-user cap reporting what it ended (on the
//! cluster at `REDIS_CLUSTER_NODES`), and durability, `WAIT 1` for a replica, on a primary and
//! a replica of the test's own: a write no replica acknowledges answers `Unavailable` and stays
//! applied, the client's retry of a rotation gets the grace window's successor, and a primary
//! that lost its replica stops waiting for one.
//!
//! The cluster test skips with a message without `REDIS_CLUSTER_NODES` unless
//! `REQUIRE_REDIS_CLUSTER=1`; the others need `redis-server` (skipped without it unless
//! `REQUIRE_REDIS=1`).

mod session_support;

use std::time::{Duration, Instant};

use session_support::cluster::cluster_nodes;
use session_support::{key, lookup, open, random_prefix, refresh, OwnRedis, Refreshed};
use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::revocation::{RevocationQuery, RevocationStore};
use tower_jwt_auth::session::{
    Lookup, NewSession, RedisStore, RefreshToken, Rotation, SealedSuccessor, SessionId,
    SessionLimits, SessionStore, SuccessorPair,
};

/// On the cluster: a login over the cap ends the oldest session and says how many it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_reports_what_it_ended_on_the_cluster() {
    let Some(nodes) = cluster_nodes().await else {
        return;
    };
    let prefix = random_prefix();
    let store = RedisStore::builder_cluster(&nodes)
        .and_then(|b| b.prefix(prefix.clone()))
        .unwrap()
        .timeout(Duration::from_secs(2))
        .build();
    assert!(store.is_cluster());
    let limits = SessionLimits {
        max_sessions_per_user: 2,
        ..SessionLimits::default()
    };
    let mut capped = Vec::new();
    let mut first = None;
    for _ in 0..4 {
        let sid = SessionId::generate().unwrap();
        let token = key().issue(&sid).unwrap();
        first.get_or_insert(token.clone());
        let session = NewSession::new(sid, "capped-user", token.hash(), Vec::new());
        capped.push(store.open(session, &limits).await.unwrap().capped());
    }
    assert_eq!(capped, [0, 0, 1, 1]);
    let first = RefreshToken::parse(first.unwrap().as_str()).unwrap();
    assert!(matches!(lookup(&store, &first).await, Lookup::Unknown));
    assert_eq!(
        store.list_sessions("", "capped-user").await.unwrap().len(),
        2
    );
    session_support::cluster::cluster_delete_prefix(&nodes, &prefix).await;
}

/// A primary and its replica, both the test's own; `None` without `redis-server`.
fn primary_and_replica() -> Option<(OwnRedis, OwnRedis)> {
    let mut primary = OwnRedis::new()?;
    primary.start();
    let mut replica = OwnRedis::new()?;
    let port = primary.url().rsplit(':').next().unwrap().to_owned();
    replica.start_with(&["--replicaof", "127.0.0.1", &port]);
    Some((primary, replica))
}

async fn info(url: &str, field: &str) -> Option<String> {
    let client = redis::Client::open(url).ok()?;
    let mut con = client.get_multiplexed_async_connection().await.ok()?;
    let text: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut con)
        .await
        .ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_owned())
    })
}

/// Waits until the replica is linked to the primary.
async fn until_linked(primary: &OwnRedis, replica: &OwnRedis) {
    let started = Instant::now();
    loop {
        let up = info(&replica.url(), "master_link_status").await.as_deref() == Some("up");
        let counted = info(&primary.url(), "connected_slaves").await.as_deref() == Some("1");
        if up && counted {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the replica never linked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pair_for(sid: &SessionId) -> SuccessorPair {
    SuccessorPair {
        access_token: format!("access-{}", session_support::random_id(8)),
        access_expires_at: 1_900_000_000,
        refresh_token: key().issue(sid).unwrap(),
    }
}

/// With a replica that does not acknowledge (stopped): a rotation, a logout and a login answer
/// `Unavailable` naming the replica, and stay applied on the primary. Once the replica is back,
/// the client's retry of the rotation with the same refresh token gets the very successor the
/// unacknowledged rotation made (the grace window), and the logout holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_no_replica_acknowledges_answers_unavailable_and_stays_applied() {
    let Some((primary, replica)) = primary_and_replica() else {
        return;
    };
    until_linked(&primary, &replica).await;
    let store = RedisStore::builder(primary.url())
        .and_then(|b| b.prefix(random_prefix()))
        .unwrap()
        .clock(Clock::system())
        .timeout(Duration::from_secs(1))
        .build();
    let limits = SessionLimits::default();
    let (sid, first) = open(&store, "durable", &limits).await;
    let (ended_sid, _) = open(&store, "durable", &limits).await;

    replica.signal("-STOP");
    // The rotation: refused, applied.
    let presented = RefreshToken::parse(first.as_str()).unwrap();
    let Lookup::Found(info_found) = lookup(&store, &presented).await else {
        panic!("the session is live")
    };
    let unacknowledged = pair_for(&sid);
    let sealed = SealedSuccessor::seal(&presented, &unacknowledged).unwrap();
    let rotation = Rotation::new(&info_found, unacknowledged.refresh_token.hash(), sealed);
    let error = store.rotate(rotation, &limits).await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(
        error.to_string().contains("no replica acknowledged"),
        "{error}"
    );
    let Lookup::Found(after) = lookup(&store, &presented).await else {
        panic!("the session is live")
    };
    assert!(
        !after.is_current(),
        "the rotation stayed applied on the primary"
    );
    // The logout: refused, applied.
    let error = store
        .end_session("", ended_sid.as_str(), &limits)
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    let query = RevocationQuery::new(None, Some(ended_sid.as_str()), Some("durable"));
    assert!(store.status(query).await.unwrap().session_ended);
    // A login: refused.
    let new_sid = SessionId::generate().unwrap();
    let new = NewSession::new(
        new_sid.clone(),
        "durable",
        key().issue(&new_sid).unwrap().hash(),
        Vec::new(),
    );
    assert!(store
        .create(new, &limits)
        .await
        .unwrap_err()
        .is_unavailable());
    replica.signal("-CONT");
    until_linked(&primary, &replica).await;

    // The client's retry with the same refresh token: the grace window's successor, the one
    // the unacknowledged rotation made.
    let retried = refresh(&store, first.as_str(), &limits).await;
    let Refreshed::Grace(pair) = &retried else {
        panic!("the grace window's successor, got {retried:?}")
    };
    assert_eq!(
        pair.refresh_token.as_str(),
        unacknowledged.refresh_token.as_str()
    );
    assert!(matches!(
        refresh(&store, pair.refresh_token.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    assert!(store.status(query).await.unwrap().session_ended);
    drop(replica);
    drop(primary);
}

/// A primary whose replica is gone stops waiting for one (the topology is judged again), and
/// writes succeed without it; `replica_wait(None)` never waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_without_replica_stops_waiting() {
    let Some((primary, mut replica)) = primary_and_replica() else {
        return;
    };
    until_linked(&primary, &replica).await;
    let store = RedisStore::builder(primary.url())
        .and_then(|b| b.prefix(random_prefix()))
        .unwrap()
        .timeout(Duration::from_secs(1))
        .build();
    let limits = SessionLimits::default();
    open(&store, "alone", &limits).await;
    replica.stop();
    // Within a few seconds (the view is refreshed at least every second, and at once after a
    // write no replica acknowledged) logins succeed again, without a replica.
    let started = Instant::now();
    loop {
        let sid = SessionId::generate().unwrap();
        let new = NewSession::new(
            sid.clone(),
            "alone",
            key().issue(&sid).unwrap().hash(),
            Vec::new(),
        );
        match store.create(new, &limits).await {
            Ok(_) => break,
            Err(e) => assert!(e.is_unavailable(), "{e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still waiting for a replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = started.elapsed();
    // And they stay fast: no write waits for the missing replica any more.
    let started = Instant::now();
    for _ in 0..10 {
        open(&store, "alone", &limits).await;
    }
    eprintln!(
        "writes resumed {waited:?} after the replica stopped; 10 logins then took {:?}",
        started.elapsed()
    );
    let never = RedisStore::builder(primary.url())
        .and_then(|b| b.prefix(random_prefix()))
        .unwrap()
        .replica_wait(None)
        .build();
    open(&never, "alone", &limits).await;
}
