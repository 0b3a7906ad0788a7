//! Bytes per live session, measured: in the in-memory store (the process's resident memory
//! before and after opening `SESSIONS` sessions, default 100 000) and in Redis (`MEMORY USAGE`
//! over every key of `REDIS_SESSIONS` sessions, default 2 000, and Redis's `used_memory`
//! before and after), each session with the grant of the `session` example (`sub` of 11
//! characters, scope `read`) and its own subject.
//!
//! Then every session is refreshed 10 times and measured again outside the grace window: a
//! session's memory must not grow with its rotations.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench session_memory --features redis
//! ```
//!
//! Without `REDIS_URL` only the in-memory store is measured. The Redis keys are written under a
//! prefix of their own and deleted at the end.

use std::time::Duration;

use tower_jwt_auth::session::{
    Grant, MemoryStore, RedisStore, RefreshTokenKey, SessionStore, Sessions,
};
use tower_jwt_auth::{Algorithm, SigningKey};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A benchmark value, not a secret.
const SECRET: &[u8] = b"session-memory-bench-secret-32-bytes!";
const ROTATIONS: usize = 10;

fn setting(name: &str, default: usize) -> Result<usize, BoxError> {
    match std::env::var(name) {
        Ok(value) => Ok(value.parse().map_err(|_| format!("{name}: not a number"))?),
        Err(_) => Ok(default),
    }
}

/// The process's resident memory in bytes (`VmRSS` of `/proc/self/status`).
fn rss() -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .ok_or("no VmRSS in /proc/self/status")?
        .trim()
        .parse()?;
    Ok(kib * 1024)
}

fn sessions(store: impl SessionStore + 'static) -> Result<Sessions, BoxError> {
    Ok(Sessions::builder()
        .signing_key(SigningKey::hmac(Algorithm::HS256, SECRET)?)?
        .issuer("session-example")?
        .refresh_token_key(RefreshTokenKey::derive(SECRET)?)
        // No grace window: every rotation's sealed successor can go at once, so that what is
        // measured after the rotations is a session outside the window.
        .refresh_grace(Duration::ZERO)?
        .store(store)
        .build()?)
}

fn grant(i: usize) -> Grant {
    Grant::new(format!("user-{i:06}")).scope("read")
}

/// Refreshes every session `ROTATIONS` times, keeping each one's newest refresh token.
async fn rotate_all(sessions: &Sessions, tokens: &mut [String]) -> Result<(), BoxError> {
    for _ in 0..ROTATIONS {
        for token in tokens.iter_mut() {
            let next = sessions.refresh(token).await?;
            token.clear();
            token.push_str(next.refresh_token());
        }
    }
    Ok(())
}

async fn memory_store() -> Result<(), BoxError> {
    let n = setting("SESSIONS", 100_000)?;
    let store = MemoryStore::builder().capacity(2 * n).build();
    let sessions = sessions(store.clone())?;
    // The client's side: the newest refresh token of each session, allocated up front (a
    // token is 118 bytes; its buffer is reused by every rotation).
    let mut tokens: Vec<String> = (0..n).map(|_| String::with_capacity(128)).collect();
    for token in &mut tokens {
        token.push_str(&"x".repeat(118));
    }
    let before = rss()?;
    for (i, token) in tokens.iter_mut().enumerate() {
        let pair = sessions.open(grant(i)).await?;
        token.clear();
        token.push_str(pair.refresh_token());
    }
    let opened = rss()?;
    rotate_all(&sessions, &mut tokens).await?;
    // Outside the grace window: the sweep drops the sealed successors.
    std::thread::sleep(Duration::from_millis(5));
    store.sweep();
    let rotated = rss()?;
    let stats = store.stats();
    println!(
        "memory store: {n} live sessions: {:.0} bytes per session (resident memory {} -> {} MiB); \
         after {ROTATIONS} rotations each, outside the grace window: {:+.0} bytes per session \
         ({} sessions, {} sealed successors)",
        (opened - before) as f64 / n as f64,
        before >> 20,
        opened >> 20,
        (rotated as f64 - opened as f64) / n as f64,
        stats.sessions,
        stats.sealed_successors,
    );
    Ok(())
}

async fn redis_store(url: &str) -> Result<(), BoxError> {
    let n = setting("REDIS_SESSIONS", 2_000)?;
    let prefix = format!("bench:{}:", std::process::id());
    let store = RedisStore::builder(url)?
        .prefix(prefix.clone())?
        .timeout(Duration::from_secs(2))
        .build();
    // The slots' epoch keys are written before the store's first call: a fixed cost, counted
    // apart from the sessions.
    tower_jwt_auth::revocation::RevocationStore::status(
        &store,
        tower_jwt_auth::revocation::RevocationQuery::new(None, None, None),
    )
    .await?;
    let sessions = sessions(store)?;
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let used = |info: String| -> Result<i64, BoxError> {
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .ok_or("no used_memory")?
            .trim()
            .parse()?)
    };
    let before = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut con)
            .await?,
    )?;
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        tokens.push(sessions.open(grant(i)).await?.refresh_token().to_owned());
    }
    let (opened_usage, keys, epochs) = usage(&mut con, &prefix).await?;
    let opened = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut con)
            .await?,
    )?;
    rotate_all(&sessions, &mut tokens).await?;
    let (rotated_usage, rotated_keys, _) = usage(&mut con, &prefix).await?;
    let rotated = used(
        redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut con)
            .await?,
    )?;
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut con)
        .await?;
    let version = version
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_owned();
    println!(
        "redis {version}: {n} live sessions: MEMORY USAGE {:.0} bytes per session ({keys} keys), \
         used_memory {:+.0} bytes per session; after {ROTATIONS} rotations each, outside the grace \
         window: MEMORY USAGE {:.0} bytes per session ({rotated_keys} keys), used_memory {:+.0} \
         bytes per session since opening; the slots' epoch keys (fixed, written before the first \
         call): {} keys, MEMORY USAGE {} bytes",
        opened_usage as f64 / n as f64,
        (opened - before) as f64 / n as f64,
        rotated_usage as f64 / n as f64,
        (rotated - opened) as f64 / n as f64,
        epochs.0,
        epochs.1,
    );
    // Clean up.
    let all: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await?;
    for chunk in all.chunks(500) {
        let _: i64 = redis::cmd("DEL").arg(chunk).query_async(&mut con).await?;
    }
    Ok(())
}

/// A desktop browser's user agent (Chrome on Windows, 111 bytes), recorded with each session.
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// `REDIS_SESSIONS` sessions opened through the store with the client recorded (the user agent
/// above and an IPv4 address) and the example's grant as data: `MEMORY USAGE` per session.
async fn redis_with_client(url: &str) -> Result<(), BoxError> {
    use tower_jwt_auth::session::{ClientInfo, NewSession, SessionId, SessionLimits};
    let n = setting("REDIS_SESSIONS", 2_000)?;
    let prefix = format!("bench:{}:ua:", std::process::id());
    let store = RedisStore::builder(url)?
        .prefix(prefix.clone())?
        .timeout(Duration::from_secs(2))
        .build();
    let key = RefreshTokenKey::new(SECRET)?;
    let limits = SessionLimits::default();
    let data = br#"{"sub":"user-000000","scope":"read"}"#.to_vec();
    for i in 0..n {
        let sid = SessionId::generate()?;
        let token = key.issue(&sid)?;
        let client = ClientInfo::new(Some(USER_AGENT), Some([203, 0, 113, 7].into()));
        let session = NewSession::new(sid, format!("user-{i:06}"), token.hash(), data.clone())
            .with_client(client);
        store.create(session, &limits).await?;
    }
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let (total, keys, _) = usage(&mut con, &prefix).await?;
    println!(
        "redis, with the client recorded ({}-byte user agent, an IPv4 address): {n} live \
         sessions: MEMORY USAGE {:.0} bytes per session ({keys} keys)",
        USER_AGENT.len(),
        total as f64 / n as f64
    );
    let all: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await?;
    for chunk in all.chunks(500) {
        let _: i64 = redis::cmd("DEL").arg(chunk).query_async(&mut con).await?;
    }
    Ok(())
}

/// `MEMORY USAGE` summed over every key under `prefix` but the slots' epoch keys, how many
/// keys, and the epoch keys' count and usage.
async fn usage(
    con: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Result<(i64, usize, (usize, i64)), BoxError> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(con)
        .await?;
    let (mut total, mut count, mut epochs) = (0, 0, (0, 0));
    for key in &keys {
        let bytes: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(con)
            .await?;
        if key.ends_with(":epoch") {
            epochs.0 += 1;
            epochs.1 += bytes;
        } else {
            total += bytes;
            count += 1;
        }
    }
    Ok((total, count, epochs))
}

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        memory_store().await?;
        match std::env::var("REDIS_URL") {
            Ok(url) => {
                redis_store(&url).await?;
                redis_with_client(&url).await
            }
            Err(_) => {
                println!("redis: skipped (REDIS_URL is not set)");
                Ok(())
            }
        }
    })
}
