//! The local revocation view's metrics, with the Prometheus recorder installed in this test's
//! own process (one test per binary, so the recorder sees only its traffic): local hits and the
//! propagation of invalidations between two store instances on one Redis. Uses `REDIS_URL`
//! (default `redis://127.0.0.1:6379`), skipping with a message when it cannot be reached unless
//! `REQUIRE_REDIS=1`.

mod session_support;

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use session_support::{random_prefix, redis_delete_prefix, redis_url};
use tower_jwt_auth::revocation::{RevocationQuery, RevocationStore};
use tower_jwt_auth::session::{RedisStore, SessionLimits, SessionStore};

/// The value of the sample `name` (with its labels, as rendered) in a Prometheus text scrape.
fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == name).then(|| value.parse().ok())?
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_hits_and_propagation_are_counted() {
    let Some(url) = redis_url().await else { return };
    let recorder = PrometheusBuilder::new()
        .set_buckets(&[
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
        ])
        .unwrap()
        .install_recorder()
        .unwrap();
    let prefix = random_prefix();
    let instance = || {
        RedisStore::builder(&url)
            .and_then(|b| b.prefix(&prefix))
            .unwrap()
            .timeout(Duration::from_secs(2))
            .build()
    };
    let (a, b) = (instance(), instance());
    let query = RevocationQuery::new(Some("j"), Some("s1"), Some("alice"));
    // B's view starts, and its first heartbeat comes back.
    b.status(query).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Filled once more (the view may have been linked after the first read), then 5 hits.
    b.status(query).await.unwrap();
    let before = sample(
        &recorder.render(),
        "jwt_auth_revocation_local_hits_total{store=\"redis\"}",
    )
    .unwrap_or(0.0);
    for _ in 0..5 {
        assert!(!b.status(query).await.unwrap().session_ended);
    }
    // Three logouts through A: each publishes the session and its ended marker (6 messages),
    // which reach B (and A's own view).
    for sid in ["s1", "s2", "s3"] {
        a.end_session("", sid, &SessionLimits::default())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.status(query).await.unwrap().session_ended);
    let scrape = recorder.render();
    let hits = sample(
        &scrape,
        "jwt_auth_revocation_local_hits_total{store=\"redis\"}",
    )
    .unwrap();
    let arrived = sample(
        &scrape,
        "jwt_auth_revocation_propagation_seconds_count{store=\"redis\"}",
    )
    .unwrap();
    let within_250ms = sample(
        &scrape,
        "jwt_auth_revocation_propagation_seconds_bucket{store=\"redis\",le=\"0.25\"}",
    )
    .unwrap();
    println!(
        "{}",
        scrape
            .lines()
            .filter(|l| l.contains("revocation_"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(hits - before, 5.0);
    // Only B's view started (A never checked a token): B received the 6 invalidations.
    assert_eq!(arrived, 6.0);
    assert_eq!(within_250ms, 6.0);
    redis_delete_prefix(&url, &prefix).await;
}
