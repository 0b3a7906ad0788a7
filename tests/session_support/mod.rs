//! Shared by the session store tests: the refresh flow as the session layer runs it, a harness
//! over either store, and the Redis connection rules (`REDIS_URL`, `REQUIRE_REDIS`).
#![allow(dead_code)]

#[cfg(feature = "redis")]
use std::net::TcpListener;
#[cfg(feature = "redis")]
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(feature = "redis")]
pub mod cluster;

use tower_jwt_auth::clock::Clock;
use tower_jwt_auth::session::{
    Lookup, MemoryStore, NewSession, RefreshToken, RefreshTokenKey, RotateOutcome, Rotation,
    SealedSuccessor, SessionId, SessionLimits, SessionStore, SuccessorPair,
};

/// The refresh token key of the store tests (every instance of a service shares one).
pub fn key() -> RefreshTokenKey {
    RefreshTokenKey::new(&[42; 32]).unwrap()
}

/// The store's lookup for a presented token, after its MAC was verified, as the session layer
/// does it.
pub async fn lookup(store: &dyn SessionStore, token: &RefreshToken) -> Lookup {
    let sid = key()
        .verify(token)
        .expect("a token issued under the test key");
    store.lookup(&sid, &token.hash()).await.expect("lookup")
}

/// A random base64url string of `len` characters (at most 43).
pub fn random_id(len: usize) -> String {
    let token = key().issue(&SessionId::generate().unwrap()).unwrap();
    // Past the version, the length and the session id: the random part.
    token.as_str()[32..32 + len].to_owned()
}

/// What one refresh ended in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// This call rotated the token.
    Rotated(SuccessorPair),
    /// Another call rotated it moments ago: its successor.
    Grace(SuccessorPair),
    Reused {
        sid: String,
        sub: String,
    },
    Expired,
    Unknown,
}

impl Refreshed {
    pub fn pair(&self) -> Option<&SuccessorPair> {
        match self {
            Self::Rotated(pair) | Self::Grace(pair) => Some(pair),
            _ => None,
        }
    }

    pub fn refresh_token(&self) -> RefreshToken {
        self.pair()
            .unwrap_or_else(|| panic!("expected a successor, got {self:?}"))
            .refresh_token
            .clone()
    }
}

/// The refresh flow: parse, verify the MAC, look up, mint the successor, seal it under the
/// presented token, rotate, and open the grace window's successor.
pub async fn refresh(
    store: &dyn SessionStore,
    presented: &str,
    limits: &SessionLimits,
) -> Refreshed {
    let presented = RefreshToken::parse(presented).expect("a well-formed token");
    let info = match lookup(store, &presented).await {
        Lookup::Found(info) => info,
        Lookup::Expired => return Refreshed::Expired,
        Lookup::Unknown => return Refreshed::Unknown,
        other => panic!("unexpected lookup {other:?}"),
    };
    let pair = SuccessorPair {
        access_token: format!("access-for-{}-{}", info.sid(), rand_suffix()),
        access_expires_at: 1_900_000_000,
        refresh_token: key().issue(info.sid()).unwrap(),
    };
    let sealed = SealedSuccessor::seal(&presented, &pair).unwrap();
    let rotation = Rotation::new(&info, pair.refresh_token.hash(), sealed);
    match store.rotate(rotation, limits).await.expect("rotate") {
        RotateOutcome::Rotated { .. } => Refreshed::Rotated(pair),
        RotateOutcome::Grace(sealed) => Refreshed::Grace(sealed.open(&presented).unwrap()),
        RotateOutcome::Reused { sid, sub } => Refreshed::Reused {
            sid: sid.as_str().to_owned(),
            sub,
        },
        RotateOutcome::Expired => Refreshed::Expired,
        RotateOutcome::Unknown => Refreshed::Unknown,
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn rand_suffix() -> String {
    random_id(8)
}

/// Opens a session for `sub`; returns its id and first refresh token.
pub async fn open(
    store: &dyn SessionStore,
    sub: &str,
    limits: &SessionLimits,
) -> (SessionId, RefreshToken) {
    let sid = SessionId::generate().unwrap();
    let token = key().issue(&sid).unwrap();
    store
        .create(
            NewSession::new(sid.clone(), sub, token.hash(), b"scope=read".to_vec()),
            limits,
        )
        .await
        .expect("create");
    (sid, token)
}

/// Now, truncated to whole seconds, so that test times are exact.
pub fn start_time() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// One store under test, its clock, and a way to read everything it holds.
pub struct Harness {
    pub store: Arc<dyn SessionStore>,
    pub clock: Clock,
    backend: Backend,
}

enum Backend {
    Memory(MemoryStore),
    #[cfg(feature = "redis")]
    Redis {
        url: String,
        prefix: String,
    },
    #[cfg(feature = "redis")]
    Cluster {
        nodes: Vec<String>,
        prefix: String,
    },
}

impl Harness {
    pub fn memory() -> Self {
        Self::memory_with_capacity(100_000)
    }

    pub fn memory_with_capacity(capacity: usize) -> Self {
        let clock = Clock::manual(start_time());
        let store = MemoryStore::builder()
            .clock(clock.clone())
            .capacity(capacity)
            .build();
        Self {
            store: Arc::new(store.clone()),
            clock,
            backend: Backend::Memory(store),
        }
    }

    /// A Redis store at `REDIS_URL` with a random key prefix, or `None` (after saying why)
    /// when Redis cannot be reached and `REQUIRE_REDIS` is not `1`.
    #[cfg(feature = "redis")]
    pub async fn redis() -> Option<Self> {
        let url = redis_url().await?;
        let prefix = random_prefix();
        let clock = Clock::manual(start_time());
        let store = tower_jwt_auth::session::RedisStore::builder(url.clone())
            .and_then(|b| b.prefix(prefix.clone()))
            .unwrap()
            .clock(clock.clone())
            .timeout(Duration::from_secs(2))
            .build();
        Some(Self {
            store: Arc::new(store),
            clock,
            backend: Backend::Redis { url, prefix },
        })
    }

    /// A Redis store on the cluster at `REDIS_CLUSTER_NODES` with a random key prefix, or
    /// `None` (after saying why) when there is none and `REQUIRE_REDIS_CLUSTER` is not `1`.
    #[cfg(feature = "redis")]
    pub async fn redis_cluster() -> Option<Self> {
        let nodes = cluster::cluster_nodes().await?;
        let prefix = random_prefix();
        let clock = Clock::manual(start_time());
        let store = tower_jwt_auth::session::RedisStore::builder_cluster(&nodes)
            .and_then(|b| b.prefix(prefix.clone()))
            .unwrap()
            .clock(clock.clone())
            .timeout(Duration::from_secs(2))
            .build();
        Some(Self {
            store: Arc::new(store),
            clock,
            backend: Backend::Cluster { nodes, prefix },
        })
    }

    /// Everything the store holds (but the slots' epoch keys, a fixed set), in a comparable
    /// form.
    pub async fn snapshot(&self) -> String {
        match &self.backend {
            Backend::Memory(store) => format!("{:?}", store.stats()),
            #[cfg(feature = "redis")]
            Backend::Redis { url, prefix } => redis_dump(url, prefix).await,
            #[cfg(feature = "redis")]
            Backend::Cluster { nodes, prefix } => cluster::cluster_dump(nodes, prefix).await,
        }
    }

    /// Drops what the test left in a shared backend.
    pub async fn cleanup(&self) {
        #[cfg(feature = "redis")]
        match &self.backend {
            Backend::Redis { url, prefix } => redis_delete_prefix(url, prefix).await,
            Backend::Cluster { nodes, prefix } => {
                cluster::cluster_delete_prefix(nodes, prefix).await
            }
            Backend::Memory(_) => {}
        }
    }
}

#[cfg(feature = "redis")]
pub fn random_prefix() -> String {
    format!("test:{}:", random_id(12))
}

/// `REDIS_URL` (default `redis://127.0.0.1:6379`) when it answers `PING`. Otherwise: with
/// `REQUIRE_REDIS=1`, a failure; without, `None` after printing why the test is skipped.
#[cfg(feature = "redis")]
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let store = tower_jwt_auth::session::RedisStore::builder(url.clone())
        .expect("REDIS_URL parses")
        .timeout(Duration::from_secs(2))
        .build();
    match store.ping().await {
        Ok(()) => Some(url),
        Err(e) => {
            if std::env::var("REQUIRE_REDIS").as_deref() == Ok("1") {
                panic!("REQUIRE_REDIS=1 but Redis at REDIS_URL cannot be reached: {e}");
            }
            eprintln!(
                "skipping: Redis at REDIS_URL cannot be reached ({e}); set REQUIRE_REDIS=1 to fail instead"
            );
            None
        }
    }
}

#[cfg(feature = "redis")]
pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[cfg(feature = "redis")]
pub async fn redis_keys(url: &str, prefix: &str) -> Vec<String> {
    let mut con = redis_connection(url).await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    keys.sort();
    keys
}

/// Every key under the prefix (but the slots' epoch keys) with its type, contents and whether
/// it has a TTL.
#[cfg(feature = "redis")]
pub async fn redis_dump(url: &str, prefix: &str) -> String {
    let mut con = redis_connection(url).await;
    dump_keys(&mut con, redis_keys(url, prefix).await).await
}

/// `keys` (but the slots' epoch keys) with their type, contents and whether they have a TTL.
#[cfg(feature = "redis")]
pub async fn dump_keys(con: &mut impl redis::aio::ConnectionLike, keys: Vec<String>) -> String {
    let mut out = String::new();
    for key in keys.into_iter().filter(|k| !k.ends_with(":epoch")) {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(con).await.unwrap();
        let value: redis::Value = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query_async(con).await.unwrap(),
            "hash" => redis::cmd("HGETALL")
                .arg(&key)
                .query_async(con)
                .await
                .unwrap(),
            "set" => redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(con)
                .await
                .unwrap(),
            _ => redis::Value::Nil,
        };
        let mut value = format!("{value:?}");
        if kind == "set" || kind == "hash" {
            // Order is not part of the contents.
            let mut parts: Vec<&str> = value.split(", ").collect();
            parts.sort_unstable();
            value = parts.join(", ");
        }
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(con).await.unwrap();
        out.push_str(&format!("{key} {kind} ttl={} {value}\n", ttl > 0));
    }
    out
}

#[cfg(feature = "redis")]
pub async fn redis_delete_prefix(url: &str, prefix: &str) {
    let keys = redis_keys(url, prefix).await;
    if !keys.is_empty() {
        let mut con = redis_connection(url).await;
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut con)
            .await
            .unwrap();
    }
}

/// A `redis-server` of the test's own, on a free port (never the shared one), not started yet.
#[cfg(feature = "redis")]
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

#[cfg(feature = "redis")]
impl OwnRedis {
    /// A server on a free port, or `None` (after saying why) when `redis-server` is not
    /// installed and `REQUIRE_REDIS` is not `1`.
    pub fn new() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            if std::env::var("REQUIRE_REDIS").as_deref() == Ok("1") {
                panic!("REQUIRE_REDIS=1 but redis-server is not installed");
            }
            eprintln!("skipping: redis-server is not installed");
            return None;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_ne!(port, 6379, "never the shared Redis");
        Some(Self { port, child: None })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts it with more settings (`--name value` pairs).
    pub fn start_with(&mut self, extra: &[&str]) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }
}

#[cfg(feature = "redis")]
impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
