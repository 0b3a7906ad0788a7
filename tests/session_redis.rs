//! `RedisStore` beyond the shared behaviour suite (`tests/session_store.rs`): two instances
//! racing on one refresh token, a Redis that stops, hangs and comes back, and the memory one
//! session takes. Uses `REDIS_URL` (default `redis://127.0.0.1:6379`), skipping with a message
//! when it cannot be reached unless `REQUIRE_REDIS=1`; the failure test starts its own
//! `redis-server` on a free port of its own, as does the test of 0.2's keys.

mod session_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_support::{
    open, random_prefix, redis_connection, redis_delete_prefix, redis_keys, redis_url, refresh,
    start_time, OwnRedis, Refreshed,
};
use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::revocation::{RevocationQuery, RevocationStore};
use tower_jwt_auth::session::{RedisStore, SessionLimits, SessionStore};

/// Two store instances (two connections) on one Redis race to rotate the same token, many
/// times: exactly one rotation each time, and every racer gets the same successor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_rotate_a_token_exactly_once() {
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let instance = |clock: Clock| {
        Arc::new(
            RedisStore::builder(url.clone())
                .and_then(|b| b.prefix(prefix.clone()))
                .unwrap()
                .clock(clock)
                .timeout(Duration::from_secs(2))
                .build(),
        )
    };
    let a = instance(Clock::system());
    let b = instance(Clock::system());
    let limits = SessionLimits::default();

    for round in 0..50 {
        let (_, token) = open(&*a, "alice", &limits).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store: Arc<dyn SessionStore> = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = token.as_str().to_owned();
            tasks.push(tokio::spawn(async move {
                refresh(&*store, &token, &limits).await
            }));
        }
        let mut rotations = 0;
        let mut successors = HashSet::new();
        for task in tasks {
            let outcome = task.await.unwrap();
            if matches!(outcome, Refreshed::Rotated(_)) {
                rotations += 1;
            }
            successors.insert(outcome.refresh_token().as_str().to_owned());
        }
        assert_eq!(rotations, 1, "round {round}: exactly one rotation");
        assert_eq!(successors.len(), 1, "round {round}: one successor");
    }
    redis_delete_prefix(&url, &prefix).await;
}

/// Waits until `store` answers, or panics after `within`.
async fn until_answers(store: &RedisStore, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if store.ping().await.is_ok() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "the store did not recover within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Down at startup: the store builds and answers `Unavailable`; up: calls succeed; stopped:
/// `Unavailable` within the timeout; hung (SIGSTOP): `Unavailable` within the timeout; back:
/// calls succeed again, without a new store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failure_answers_unavailable_and_recovers() {
    let Some(mut redis) = OwnRedis::new() else {
        return;
    };
    let timeout = Duration::from_millis(250);
    let limits = SessionLimits::default();

    // Down at startup: building (and connecting) succeeds; calls answer Unavailable.
    let with_defaults = RedisStore::connect(&redis.url()).await.unwrap();
    assert!(with_defaults.ping().await.unwrap_err().is_unavailable());
    let store = RedisStore::builder(redis.url())
        .and_then(|b| b.prefix(random_prefix()))
        .unwrap()
        .timeout(timeout)
        .build();
    let query = RevocationQuery {
        jti: Some("j"),
        sid: Some("s"),
        sub: Some("u"),
        iss: None,
    };
    let started = Instant::now();
    let err = store.status(query).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(started.elapsed() < timeout + Duration::from_millis(500));

    // Up: calls succeed.
    redis.start();
    until_answers(&store, Duration::from_secs(10)).await;
    let (sid, token) = open(&store, "alice", &limits).await;
    assert!(!store.status(query).await.unwrap().session_ended);

    // Stopped: Unavailable within the timeout, for every kind of call. The revocation check
    // may answer from the local view for up to its lease (200 ms) after Redis stops.
    redis.stop();
    tokio::time::sleep(Duration::from_millis(250)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let err = store.status(query).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(
            started.elapsed() < timeout + Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert!(store
        .lookup(&sid, &token.hash())
        .await
        .unwrap_err()
        .is_unavailable());
    assert!(store
        .end_session("", sid.as_str(), &limits)
        .await
        .unwrap_err()
        .is_unavailable());
    assert!(started.elapsed() < 2 * (timeout + Duration::from_millis(500)));

    // Back (an empty server on the same port): calls succeed without a new store.
    redis.start();
    let recovered = until_answers(&store, Duration::from_secs(10)).await;
    eprintln!("recovered after a restart in {recovered:?}");
    let (_, token) = open(&store, "alice", &limits).await;
    assert!(matches!(
        refresh(&store, token.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));

    // Hung (SIGSTOP): the per-call timeout turns it into Unavailable.
    redis.signal("-STOP");
    let started = Instant::now();
    let err = store.status(query).await.unwrap_err();
    let hung_for = started.elapsed();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        hung_for >= timeout - Duration::from_millis(10)
            && hung_for < timeout + Duration::from_millis(500),
        "{hung_for:?}"
    );
    redis.signal("-CONT");
    until_answers(&store, Duration::from_secs(10)).await;
    assert!(!store.status(query).await.unwrap().jti_revoked);
    redis.stop();
}

/// `MEMORY USAGE` over one live session's keys outside the grace window, after 10 rotations:
/// at most 1 KiB, and no more than after one rotation.
#[tokio::test]
async fn memory_usage_of_one_live_session() {
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let clock = Clock::manual(start_time());
    let store = RedisStore::builder(url.clone())
        .and_then(|b| b.prefix(prefix.clone()))
        .unwrap()
        .clock(clock.clone())
        .build();
    let limits = SessionLimits {
        refresh_grace: Duration::from_millis(100),
        ..SessionLimits::default()
    };
    // A session (10 bytes of data) refreshed 10 times; then outside the grace
    // window (Redis drops the sealed successor by its TTL).
    let (_, mut token) = open(&store, "user-1234567890", &limits).await;
    let mut after_one = 0;
    for rotation in 1..=10 {
        let next = refresh(&store, token.as_str(), &limits).await;
        assert!(matches!(next, Refreshed::Rotated(_)), "{next:?}");
        token = next.refresh_token();
        clock.advance(Duration::from_secs(1));
        if rotation == 1 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            after_one = memory_usage(&url, &prefix).await.0;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (total, keys) = memory_usage(&url, &prefix).await;
    assert!(
        keys.iter().all(|k| !k.ends_with(":g")),
        "the grace state is gone: {keys:?}"
    );
    let mut con = redis_connection(&url).await;
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await
        .unwrap();
    let version = version
        .lines()
        .find(|l| l.starts_with("redis_version:"))
        .unwrap_or("redis_version:?")
        .to_owned();
    eprintln!(
        "one live session after 10 rotations: {} keys, {total} bytes (after one rotation: \
         {after_one} bytes; {version})",
        keys.len()
    );
    // The session's hash and its subject's index: no key per used token (the slots' epoch
    // keys are a fixed cost, not counted per session).
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(total <= 1024, "{total} bytes");
    assert!(total <= after_one, "{total} > {after_one} bytes");
    // The session still refreshes.
    assert!(matches!(
        refresh(&store, token.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    redis_delete_prefix(&url, &prefix).await;
}

/// `MEMORY USAGE` summed over every key under `prefix` but the slots' epoch keys, and the keys.
async fn memory_usage(url: &str, prefix: &str) -> (i64, Vec<String>) {
    let mut keys = redis_keys(url, prefix).await;
    keys.retain(|k| !k.ends_with(":epoch"));
    let mut con = redis_connection(url).await;
    let mut total = 0;
    for key in &keys {
        let bytes: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut con)
            .await
            .unwrap();
        eprintln!("MEMORY USAGE {key}: {bytes} bytes");
        total += bytes;
    }
    (total, keys)
}

/// Upgrading from 0.2: its keys (`tjwt:` prefix, a set per subject, cutoffs in seconds) sit in
/// Redis; a store with the default prefix (`tjwt2:`) never touches them, so no command meets a
/// key of another type (`WRONGTYPE`), and every call succeeds. Own `redis-server`, so that the
/// default prefix is the test's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_0_2_cause_no_error() {
    let Some(mut redis) = OwnRedis::new() else {
        return;
    };
    redis.start();
    let url = redis.url();
    let store = RedisStore::builder(url.clone())
        .unwrap()
        .timeout(Duration::from_secs(2))
        .build();
    until_answers(&store, Duration::from_secs(10)).await;
    assert_eq!(store.prefix(), "tjwt2:");
    let mut con = redis_connection(&url).await;
    let sid = tower_jwt_auth::session::SessionId::generate().unwrap();
    let _: () = redis::pipe()
        .cmd("SADD")
        .arg("tjwt:u:alice")
        .arg(sid.as_str())
        .cmd("SET")
        .arg("tjwt:c:alice")
        .arg("99999999999999:1700000000")
        .cmd("HSET")
        .arg(format!("tjwt:{{{}}}:s", sid.as_str()))
        .arg("sub")
        .arg("alice")
        .arg("abs")
        .arg("1")
        .cmd("SET")
        .arg(format!("tjwt:{{{}}}:x", sid.as_str()))
        .arg("99999999999999")
        .cmd("SET")
        .arg("tjwt:j:jti-1")
        .arg("99999999999999")
        .query_async(&mut con)
        .await
        .unwrap();
    let mut before = redis_keys(&url, "tjwt:").await;
    before.sort();
    assert_eq!(before.len(), 5, "{before:?}");

    let limits = SessionLimits::default();
    let (new_sid, token) = open(&store, "alice", &limits).await;
    assert!(matches!(
        refresh(&store, token.as_str(), &limits).await,
        Refreshed::Rotated(_)
    ));
    for query in [
        RevocationQuery {
            jti: Some("jti-1"),
            sid: Some(sid.as_str()),
            sub: Some("alice"),
            iss: None,
        },
        RevocationQuery {
            jti: Some("jti-2"),
            sid: Some(new_sid.as_str()),
            sub: Some("alice"),
            iss: None,
        },
    ] {
        let status = store.status(query).await.unwrap();
        assert!(!status.jti_revoked && !status.session_ended, "{status:?}");
    }
    assert!(store.end_session("", sid.as_str(), &limits).await.is_ok());
    assert!(store
        .end_session("", new_sid.as_str(), &limits)
        .await
        .unwrap());
    assert!(store.end_subject("", "alice", &limits).await.is_ok());
    store
        .revoke_token("", "jti-1", limits.token_lifetime)
        .await
        .unwrap();
    // The 0.2 keys are untouched.
    let mut after = redis_keys(&url, "tjwt:").await;
    after.sort();
    assert_eq!(after, before);
}

/// A user agent of the longest kept length (256 bytes) round-trips through the devices list,
/// a rotation that records a shorter one replaces it whole, and the session's hash keeps
/// Redis's compact encoding (`listpack`): with a 111-byte browser user agent a session with its
/// subject's index takes at most 1 KiB.
#[tokio::test]
async fn a_long_user_agent_round_trips_and_the_hash_stays_compact() {
    use tower_jwt_auth::session::{ClientInfo, NewSession, SessionId, MAX_USER_AGENT_LEN};
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let store = RedisStore::builder(url.clone())
        .and_then(|b| b.prefix(prefix.clone()))
        .unwrap()
        .build();
    let limits = SessionLimits::default();
    let long: String = (0..MAX_USER_AGENT_LEN)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let sid = SessionId::generate().unwrap();
    let token = session_support::key().issue(&sid).unwrap();
    let client = ClientInfo::new(Some(&long), Some([203, 0, 113, 7].into()));
    let session = NewSession::new(sid.clone(), "ua-user", token.hash(), b"scope=read".to_vec())
        .with_client(client);
    store.create(session, &limits).await.unwrap();
    let listed = store.list_sessions("", "ua-user").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].client.user_agent.as_deref(), Some(long.as_str()));

    let browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let sid2 = SessionId::generate().unwrap();
    let token2 = session_support::key().issue(&sid2).unwrap();
    let session = NewSession::new(
        sid2.clone(),
        "ua-user-2",
        token2.hash(),
        b"scope=read".to_vec(),
    )
    .with_client(ClientInfo::new(
        Some(browser),
        Some([203, 0, 113, 7].into()),
    ));
    store.create(session, &limits).await.unwrap();
    let listed = store.list_sessions("", "ua-user-2").await.unwrap();
    assert_eq!(listed[0].client.user_agent.as_deref(), Some(browser));

    let mut con = redis_connection(&url).await;
    let key = format!("{prefix}{{{}}}:s", sid2.as_str());
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(encoding, "listpack");
    let (total, keys) = memory_usage(&url, &format!("{prefix}{{")).await;
    // Two sessions, each with its hash and its subject's index.
    assert_eq!(keys.len(), 4, "{keys:?}");
    eprintln!("two sessions with user agents of 256 and 111 bytes: {total} bytes in all");
    let browser_only: i64 = {
        let mut sum = 0;
        for k in keys
            .iter()
            .filter(|k| k.contains(sid2.as_str()) || k.contains("ua-user-2"))
        {
            let bytes: i64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(k)
                .arg("SAMPLES")
                .arg(0)
                .query_async(&mut con)
                .await
                .unwrap();
            sum += bytes;
        }
        sum
    };
    eprintln!("one session with a 111-byte browser user agent and its subject's index: {browser_only} bytes");
    assert!(browser_only <= 1024, "{browser_only} bytes");
    redis_delete_prefix(&url, &prefix).await;
}
