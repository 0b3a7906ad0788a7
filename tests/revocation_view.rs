//! The Redis store's local revocation view, with two store instances (two connections, as two
//! processes would have) on one Redis: a logout is refused at once where it was taken and
//! within the lease everywhere else, also while the other instance's invalidation connection is
//! killed (`CLIENT KILL`) in the middle of a burst, and a store that lost its data is not judged
//! from the view. Uses `REDIS_URL` (default `redis://127.0.0.1:6379`), skipping with a message
//! when it cannot be reached unless `REQUIRE_REDIS=1`; the data-loss test starts its own
//! `redis-server`.

mod session_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use session_support::{
    random_id, random_prefix, redis_connection, redis_delete_prefix, redis_url, OwnRedis,
};
use tower_jwt_auth::revocation::{RevocationQuery, RevocationStore};
use tower_jwt_auth::session::{RedisStore, SessionLimits, SessionStore};

/// The lease of the instances of these tests: the stated bound.
const LEASE: Duration = Duration::from_millis(200);

fn instance(url: &str, prefix: &str) -> Arc<RedisStore> {
    Arc::new(
        RedisStore::builder(url)
            .and_then(|b| b.prefix(prefix))
            .unwrap()
            .timeout(Duration::from_secs(2))
            .local_view_lease(LEASE)
            .build(),
    )
}

fn query(sid: &str) -> RevocationQuery<'_> {
    RevocationQuery::new(Some(sid), Some(sid), Some("alice")).issuer("https://issuer.test")
}

async fn ended(store: &RedisStore, sid: &str) -> bool {
    store.status(query(sid)).await.unwrap().session_ended
}

/// Waits until the view of `store` is current (its first heartbeat came back).
async fn warm(store: &RedisStore) {
    store.status(query("warm-up")).await.unwrap();
    tokio::time::sleep(LEASE).await;
}

/// The id of the connection named `name` in `CLIENT LIST`.
async fn client_id(url: &str, name: &str) -> Option<String> {
    let mut con = redis_connection(url).await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut con)
        .await
        .unwrap();
    list.lines()
        .find(|line| line.split(' ').any(|f| f == format!("name={name}")))
        .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_is_refused_at_once_here_and_within_the_lease_there() {
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let (a, b) = (instance(&url, &prefix), instance(&url, &prefix));
    warm(&a).await;
    warm(&b).await;
    let limits = SessionLimits::default();
    for _ in 0..50 {
        let sid = random_id(16);
        // Both views now hold "not revoked" for the token.
        assert!(!ended(&a, &sid).await);
        assert!(!ended(&b, &sid).await);
        assert!(!ended(&b, &sid).await);
        a.end_session("https://issuer.test", &sid, &limits)
            .await
            .unwrap();
        assert!(
            ended(&a, &sid).await,
            "refused at once on the instance that took the logout"
        );
        tokio::time::sleep(LEASE).await;
        assert!(
            ended(&b, &sid).await,
            "refused on the other instance within the lease"
        );
    }
    // A revoked `jti` and a subject's cutoff go the same way.
    assert!(!b.status(query("j1")).await.unwrap().jti_revoked);
    a.revoke_token("https://issuer.test", "j1", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(a.status(query("j1")).await.unwrap().jti_revoked);
    assert!(b
        .status(query("j2"))
        .await
        .unwrap()
        .subject_cutoff_ms
        .is_none());
    a.end_subject("https://issuer.test", "alice", &limits)
        .await
        .unwrap();
    assert!(a
        .status(query("j2"))
        .await
        .unwrap()
        .subject_cutoff_ms
        .is_some());
    tokio::time::sleep(LEASE).await;
    assert!(b.status(query("j1")).await.unwrap().jti_revoked);
    assert!(b
        .status(query("j2"))
        .await
        .unwrap()
        .subject_cutoff_ms
        .is_some());
    redis_delete_prefix(&url, &prefix).await;
}

/// A burst of logouts through A while B, polling every revoked token, has its invalidation
/// connection killed twice: nothing revoked passes on A after its logout's answer, nor on B
/// after the lease; B makes its connection again and keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_invalidation_connection_mid_burst_lets_nothing_revoked_pass() {
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let (a, b) = (instance(&url, &prefix), instance(&url, &prefix));
    warm(&a).await;
    warm(&b).await;
    let name = b.local_view_connection_name().unwrap().to_owned();
    let limits = SessionLimits::default();
    const LOGOUTS: usize = 300;
    let sids: Vec<String> = (0..LOGOUTS).map(|_| random_id(16)).collect();
    for sid in &sids {
        assert!(!ended(&b, sid).await);
    }
    // Answered logouts: (sid, when the answer came).
    let answered: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let (checks, late, early) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let poller = {
        let (b, answered, done) = (b.clone(), answered.clone(), done.clone());
        let (checks, late, early) = (checks.clone(), late.clone(), early.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Acquire) {
                let snapshot = answered.lock().unwrap().clone();
                for (sid, at) in snapshot {
                    let refused = ended(&b, &sid).await;
                    checks.fetch_add(1, Ordering::Relaxed);
                    if !refused {
                        if at.elapsed() > LEASE {
                            late.fetch_add(1, Ordering::Relaxed);
                        } else {
                            early.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut kills = Vec::new();
    for (i, sid) in sids.iter().enumerate() {
        if i == LOGOUTS / 3 || i == 2 * LOGOUTS / 3 {
            let id = client_id(&url, &name)
                .await
                .expect("B's invalidation connection is listed");
            let mut con = redis_connection(&url).await;
            let killed: i64 = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(&id)
                .query_async(&mut con)
                .await
                .unwrap();
            assert_eq!(killed, 1);
            kills.push(id);
        }
        a.end_session("https://issuer.test", sid, &limits)
            .await
            .unwrap();
        let at = Instant::now();
        assert!(ended(&a, sid).await, "A refuses at once");
        answered.lock().unwrap().push((sid.clone(), at));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(LEASE * 2).await;
    done.store(true, Ordering::Release);
    poller.await.unwrap();
    for sid in &sids {
        assert!(ended(&b, sid).await);
    }
    let relinked = client_id(&url, &name).await;
    println!(
        "logouts: {LOGOUTS}; B's invalidation connection killed {} times (ids {kills:?}), made again as id {relinked:?}; checks on B: {}; accepted within the lease after the answer: {}; accepted after the lease: {}",
        kills.len(),
        checks.load(Ordering::Relaxed),
        early.load(Ordering::Relaxed),
        late.load(Ordering::Relaxed),
    );
    assert_eq!(
        late.load(Ordering::Relaxed),
        0,
        "nothing revoked passes after the lease"
    );
    assert!(relinked.is_some_and(|id| !kills.contains(&id)));
    redis_delete_prefix(&url, &prefix).await;
}

/// A store that lost its data (FLUSHALL) starts a new epoch; a view that knew the old one is
/// not used past the lease, so tokens issued before the new epoch are judged by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_lost_its_data_is_not_judged_from_the_view() {
    let Some(mut redis) = OwnRedis::new() else {
        return;
    };
    redis.start();
    let url = redis.url();
    // The first call writes every slot's epoch: a timeout that a loaded machine meets.
    let store = RedisStore::builder(&url)
        .unwrap()
        .timeout(Duration::from_secs(2))
        .local_view_lease(LEASE)
        .build();
    let mut up = false;
    for _ in 0..100 {
        if store.ping().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the test's redis-server answers");
    let first = store.status(query("s1")).await.unwrap().epoch_ms.unwrap();
    tokio::time::sleep(LEASE).await;
    assert_eq!(
        store.status(query("s1")).await.unwrap().epoch_ms,
        Some(first)
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut con = redis_connection(&url).await;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
    tokio::time::sleep(LEASE).await;
    let second = store.status(query("s1")).await.unwrap().epoch_ms.unwrap();
    assert!(second > first, "a new epoch ({second} after {first})");
    redis.stop();
}

#[tokio::test]
async fn the_view_can_be_turned_off() {
    let Some(url) = redis_url().await else { return };
    let prefix = random_prefix();
    let store = RedisStore::builder(&url)
        .and_then(|b| b.prefix(&prefix))
        .unwrap()
        .local_view(false)
        .build();
    assert!(store.local_view_connection_name().is_none());
    assert!(!ended(&store, "s").await);
    redis_delete_prefix(&url, &prefix).await;
}
