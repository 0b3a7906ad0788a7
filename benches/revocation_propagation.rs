//! How long a logout takes to reach another instance's local revocation view: two `RedisStore`
//! instances (two connections each, as two processes would have) on one Redis; for each of
//! LOGOUTS logouts (default 1,000), B first holds "not revoked" for the session in its view,
//! A ends the session, and B is polled until it refuses; the delay counts from A's answer. A
//! must refuse at once, every time.
//!
//!   REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench revocation_propagation --features redis

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tower_jwt_auth::revocation::{RevocationQuery, RevocationStore};
use tower_jwt_auth::session::{RedisStore, SessionLimits, SessionStore};

fn query(sid: &str) -> RevocationQuery<'_> {
    RevocationQuery::new(Some(sid), Some(sid), Some("bench")).issuer("propagation")
}

async fn ended(store: &RedisStore, sid: &str) -> bool {
    store
        .status(query(sid))
        .await
        .expect("status")
        .session_ended
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let logouts: usize = std::env::var("LOGOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("bench:prop:{nonce}:");
    let instance = || {
        RedisStore::builder(&url)
            .and_then(|b| b.prefix(&prefix))
            .expect("REDIS_URL parses")
            .build()
    };
    let (a, b) = (instance(), instance());
    // Both views start and their heartbeats come back.
    ended(&a, "warm").await;
    ended(&b, "warm").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let limits = SessionLimits::default();
    let mut delays = Vec::with_capacity(logouts);
    let mut polls = 0usize;
    for i in 0..logouts {
        let sid = format!("s{i}");
        assert!(!ended(&b, &sid).await);
        assert!(!ended(&b, &sid).await);
        a.end_session("propagation", &sid, &limits)
            .await
            .expect("logout");
        let answered = Instant::now();
        assert!(ended(&a, &sid).await, "A refuses at once");
        loop {
            polls += 1;
            if ended(&b, &sid).await {
                break;
            }
            if answered.elapsed() > Duration::from_secs(5) {
                panic!("B still accepts {sid} 5 s after the logout");
            }
            tokio::task::yield_now().await;
        }
        delays.push(answered.elapsed());
    }
    delays.sort();
    println!(
        "propagation of {logouts} logouts from A's answer to B's refusal (B polled {polls} times): p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        percentile(&delays, 0.50),
        percentile(&delays, 0.90),
        percentile(&delays, 0.99),
        delays[delays.len() - 1],
    );
    // Drop the bench's keys.
    let client = redis::Client::open(url.as_str()).expect("REDIS_URL parses");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .expect("KEYS");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut con)
            .await
            .expect("DEL");
    }
}
