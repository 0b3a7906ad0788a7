//! [`RedisStore`] (feature `redis`): the session and revocation store that every instance of a
//! service shares, through the `redis` crate's async connection manager.
//! This file holds its settings and its connection; `scripts` the Lua scripts; `store` the
//! keys and the calls.

mod builder;
mod con;
mod parse;
mod replay;
mod scripts;
mod slots;
mod store;
mod topology;
mod view;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{IntoConnectionInfo, RedisError, Script};

use self::con::{Con, Target};
use self::topology::Topology;

use crate::clock::Clock;
use crate::revocation::StoreError;

/// The default key prefix of a [`RedisStore`]. 0.2 used `tjwt:`, whose layout differs:
/// upgrading ends every 0.2 session (see the sessions guide), and no 0.2 key ever meets a
/// command of another type.
pub const DEFAULT_REDIS_PREFIX: &str = "tjwt2:";
/// The default per-call timeout of a [`RedisStore`].
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// The default longest wait for one replica to acknowledge a write ([`RedisStoreBuilder::replica_wait`]).
pub const DEFAULT_REPLICA_WAIT: Duration = Duration::from_millis(100);
/// The longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 64;

/// The Redis session and revocation store. Cloning it is cheap; clones share the connection.
///
/// ```no_run
/// use tower_jwt_auth::session::RedisStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Succeeds while Redis is down: calls answer `Unavailable` until it can be reached.
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let custom = RedisStore::builder("rediss://:secret@redis.internal:6380/0")?
///     .prefix("myapp:sessions:")?
///     .timeout(std::time::Duration::from_millis(100))
///     .build();
/// # Ok(())
/// # }
/// ```
///
/// # Guarantees
/// - **Atomic rotation.** Rotation, reuse detection and the grace-window lookup are one Lua
///   script on the session's key, so two instances racing on one refresh token rotate it exactly
///   once; the loser gets the winner's sealed successor.
/// - **Expiry judged twice.** Every key has a TTL, so Redis drops dead entries by itself, and
///   every expiry is also stored in the values and judged by the store's [`Clock`] (tests inject
///   one). TTLs are relative to the crate's clock, so a clock that differs from Redis's own time
///   only shifts when Redis drops an entry the crate already treats as expired.
/// - **Redis Cluster** ([`builder_cluster`](Self::builder_cluster)). Every script and every
///   pipeline touches the keys of one slot: a session's keys share `{sid}`, a subject's share
///   `{iss:sub}`, and each slot has its own epoch key. Operations over several slots go one
///   slot at a time, in an order that fails safe (the sessions guide, "Redis Cluster").
/// - **Durability with replicas.** Every write whose success the client is told of waits for
///   one replica (`WAIT 1`, [`replica_wait`](RedisStoreBuilder::replica_wait), default 100 ms)
///   where its shard has one; none in time answers `Unavailable`, the write staying applied.
/// - **Memory that does not grow with rotations.** A session is one small hash (its subject,
///   data, expiries and the hash of its current refresh token), plus a second one during the
///   grace window. Used tokens are not remembered one by one: a refresh token names its
///   session and carries a MAC, so an older token of a live session is recognised as reused
///   (see [`SessionStore`](crate::session::SessionStore)). BENCHMARKS.md gives the measured `MEMORY USAGE`.
/// - **A per-call timeout** (default 250 ms) turns a hung Redis into
///   [`StoreErrorKind::Unavailable`](crate::revocation::StoreErrorKind::Unavailable) (503) instead of a hung
///   request.
/// - **Down at startup, back later.** Building the store never connects: it succeeds while
///   Redis is down, calls answer `Unavailable` until Redis can be reached, and then succeed
///   without a restart. A Redis out of memory (`OOM`) answers
///   [`StoreErrorKind::Full`](crate::revocation::StoreErrorKind::Full).
/// - `rediss://` (TLS, rustls with the system's roots), passwords and database numbers come
///   through the URL (`rediss://:password@host:6380/2`); no URL or password is ever logged or
///   shown by `Debug`.
///
/// Configure Redis with `maxmemory-policy noeviction` and AOF persistence; it needs Redis 7
/// (probed before the first command, see [`check`](RedisStore::check)). The sessions guide
/// says what each gives, and what a store that lost its data does (its epoch).
///
/// # Keys
/// With the default prefix `tjwt2:` (`<h>` is a token's SHA-256 in base64url; `<sid>`, `<iss>`,
/// `<sub>` and `<jti>` are the value itself when it is a non-empty base64url string of at most
/// 64 characters, otherwise `~` and its SHA-256 in base64url):
///
/// | Key | Type | Holds | TTL |
/// |---|---|---|---|
/// | `tjwt2:{<sid>}:s` | hash | `sub`, `iss`, `ct` (opened, ms), `data`, `abs`, `cur` (current hash), `cexp`, `lr` (last refresh), `ua`…`ua4` (the user agent in parts of at most 64 bytes, so the hash stays compact), `ip` | until the session expires |
/// | `tjwt2:{<sid>}:g` | hash | `p` (predecessor hash), `u` (until), `s` (sealed successor) | the grace window |
/// | `tjwt2:{<sid>}:x:<iss>` | string | ended: until (ms) | [`token_lifetime`](crate::session::SessionLimits::token_lifetime) |
/// | `tjwt2:{<iss>:<sub>}:u` | sorted set | the subject's session ids, scored by opening time (ms) | the latest absolute expiry |
/// | `tjwt2:{<iss>:<sub>}:c` | string | `<until ms>:<cutoff ms>` | `token_lifetime` |
/// | `tjwt2:j:<iss>:<jti>` | string | revoked: until (ms) | as given |
/// | `tjwt2:{e<n>}:epoch` | string | when the slot started empty (ms; one key per slot, `e<n>` the first such tag in the slot) | none |
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

/// Builds a [`RedisStore`]: [`RedisStore::builder`] (one node) or
/// [`RedisStore::builder_cluster`] (a Redis Cluster).
pub struct RedisStoreBuilder {
    /// The node's client, or the cluster's seed nodes (checked, never connected here).
    target: TargetSpec,
    prefix: String,
    timeout: Duration,
    wait: Option<Duration>,
    clock: Clock,
    // Local revocation view (view.rs).
    view: view::ViewSettings,
}

// One per builder: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum TargetSpec {
    Single(::redis::Client),
    /// The seed nodes, and a client of them with the default settings (which checked them).
    Cluster(
        Vec<::redis::ConnectionInfo>,
        ::redis::cluster::ClusterClient,
    ),
}

/// A [`RedisStore`] setting is wrong. Its message never contains the URL (which may hold a
/// password).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// The URL does not parse as a `redis://`, `rediss://` or `unix://` URL.
    InvalidUrl,
    /// The prefix is longer than 64 bytes or holds `{` or `}` (which would break the hash tags).
    InvalidPrefix,
    /// The list of cluster seed nodes is empty, or one of them is not `host:port` or a
    /// `redis://` URL.
    InvalidClusterNodes,
}

impl fmt::Display for RedisConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidUrl => "the Redis URL is not a valid redis://, rediss:// or unix:// URL",
            Self::InvalidPrefix => {
                "the Redis key prefix is longer than 64 bytes or contains `{` or `}`"
            }
            Self::InvalidClusterNodes => {
                "the Redis Cluster seed nodes are empty, or one is not host:port or a redis:// URL"
            }
        })
    }
}

impl std::error::Error for RedisConfigError {}

struct Inner {
    target: Target,
    prefix: String,
    timeout: Duration,
    /// `WAIT 1 <this>` after every acknowledged write to a shard with replicas; `None`: never.
    wait: Option<Duration>,
    clock: Clock,
    /// The connection and its generation; `None` until first used, or after it was dropped
    /// for hanging.
    conn: Mutex<Option<(u64, Con)>>,
    /// Which shards have replicas, and each slot's epoch key written (see `topology`).
    topology: Topology,
    generation: AtomicU64,
    rotate: Script,
    create: Script,
    end: Script,
    set_max: Script,
    cutoff: Script,
    index: Script,
    /// Whether the server has the commands the store needs (Redis 7): [`PROBE_UNKNOWN`] until
    /// the first call probes it.
    features: AtomicU8,
    // Local revocation view (view.rs): `None` when turned off, or on a cluster.
    view: Option<Arc<view::View>>,
}

const PROBE_UNKNOWN: u8 = 0;
const PROBE_OK: u8 = 1;
const PROBE_MISSING: u8 = 2;

/// What a store answers on a server without Redis 7's commands.
const NEEDS_REDIS_7: &str =
    "the Redis server lacks `PEXPIRE ... NX` (Redis 7 or later, or a server with its commands, is required)";

/// Why one call failed, before it becomes a [`StoreError`].
enum Fail {
    Redis(RedisError),
    /// Redis answered with something this store never writes.
    Data(&'static str),
    /// The server lacks Redis 7's commands.
    Missing,
    /// No replica acknowledged a write within the wait (ms); the write stays on the primary.
    NoReplica(u64),
}

impl From<RedisError> for Fail {
    fn from(e: RedisError) -> Self {
        Self::Redis(e)
    }
}

type Res<T> = Result<T, Fail>;

impl RedisStore {
    /// A store at `url` with the default prefix (`tjwt2:`), timeout (250 ms), replica wait
    /// (100 ms, where there are replicas) and the system clock. Never fails because Redis is down: it tries to connect once within the timeout,
    /// and if that fails, calls answer `Unavailable` until Redis can be reached.
    pub async fn connect(url: &str) -> Result<Self, RedisConfigError> {
        let store = Self::builder(url)?.build();
        // A warm-up only: its failure is what the store answers later anyway.
        let _ = store.ping().await;
        Ok(store)
    }

    /// A builder for a store at `url`, to set the prefix, the timeout and the clock. Checks
    /// the URL; never connects (the first call does).
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::InvalidUrl`] for a URL that is not a `redis://`, `rediss://` or
    /// `unix://` URL.
    pub fn builder(url: impl AsRef<str>) -> Result<RedisStoreBuilder, RedisConfigError> {
        let client =
            ::redis::Client::open(url.as_ref()).map_err(|_| RedisConfigError::InvalidUrl)?;
        Ok(RedisStoreBuilder::new(TargetSpec::Single(client)))
    }

    /// A store on the Redis Cluster reached through `nodes` (seed nodes, each `host:port` or a
    /// `redis://` URL; the cluster client learns the others), with the default settings.
    /// Never fails because the cluster is down: calls answer `Unavailable` until it answers.
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::InvalidClusterNodes`] for an empty list or a malformed node.
    pub async fn connect_cluster<I, S>(nodes: I) -> Result<Self, RedisConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let store = Self::builder_cluster(nodes)?.build();
        // A warm-up only: its failure is what the store answers later anyway.
        let _ = store.ping().await;
        Ok(store)
    }

    /// A builder for a store on the Redis Cluster reached through `nodes` (seed nodes, each
    /// `host:port` or a `redis://` URL). Checks the nodes; never connects (the first call does).
    /// The sessions guide describes the keys' slots and what the cluster guarantees.
    ///
    /// ```no_run
    /// use tower_jwt_auth::session::RedisStore;
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisStore::builder_cluster(["10.0.0.1:6379", "10.0.0.2:6379"])?
    ///     .replica_wait(Some(std::time::Duration::from_millis(50)))
    ///     .build();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::InvalidClusterNodes`] for an empty list or a malformed node.
    pub fn builder_cluster<I, S>(nodes: I) -> Result<RedisStoreBuilder, RedisConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut infos = Vec::new();
        for node in nodes {
            let node = node.as_ref().trim();
            let url = if node.contains("://") {
                node.to_owned()
            } else {
                format!("redis://{node}")
            };
            let info = url
                .as_str()
                .into_connection_info()
                .map_err(|_| RedisConfigError::InvalidClusterNodes)?;
            infos.push(info);
        }
        if infos.is_empty() {
            return Err(RedisConfigError::InvalidClusterNodes);
        }
        let checked = ::redis::cluster::ClusterClient::new(infos.clone())
            .map_err(|_| RedisConfigError::InvalidClusterNodes)?;
        Ok(RedisStoreBuilder::new(TargetSpec::Cluster(infos, checked)))
    }

    /// Whether the store runs on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.target, Target::Cluster(_))
    }

    /// The clock the store judges expiry by.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Checks at startup that the server has the commands the store needs (Redis 7: `PEXPIRE`
    /// with `NX`) and answers, within the timeout. Every call makes the same check before its
    /// first command; without the commands, every call fails with an error that names Redis 7.
    ///
    /// # Errors
    ///
    /// `Unavailable` when Redis cannot be reached or lacks the commands.
    pub async fn check(&self) -> Result<(), StoreError> {
        self.ping().await
    }

    /// Checks that Redis answers (`PING`), within the timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut con| async move {
            let _: String = ::redis::cmd("PING").query_async(&mut con).await?;
            Ok(())
        })
        .await
    }

    /// The connection, created on first use (inside the caller's runtime): a lazy connection
    /// manager for one node, a cluster connection (which connects here) for a cluster.
    async fn connection(&self) -> Result<(u64, Con), StoreError> {
        if let Some((generation, con)) = self.lock_conn().as_ref() {
            return Ok((*generation, con.clone()));
        }
        let con = match &self.inner.target {
            Target::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.inner.timeout))
                    .set_response_timeout(Some(self.inner.timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(200));
                let con = ConnectionManager::new_lazy_with_config(client.clone(), config)
                    .map_err(StoreError::unavailable)?;
                Con::Single(con)
            }
            Target::Cluster(client) => {
                match tokio::time::timeout(self.inner.timeout, client.get_async_connection()).await
                {
                    Ok(Ok(con)) => Con::Cluster(con),
                    Ok(Err(e)) => return Err(map_error(e)),
                    Err(_elapsed) => return Err(self.timed_out()),
                }
            }
        };
        let mut slot = self.lock_conn();
        if let Some((generation, con)) = slot.as_ref() {
            return Ok((*generation, con.clone()));
        }
        let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
        *slot = Some((generation, con.clone()));
        Ok((generation, con))
    }

    fn lock_conn(&self) -> std::sync::MutexGuard<'_, Option<(u64, Con)>> {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn timed_out(&self) -> StoreError {
        StoreError::unavailable(format!(
            "Redis did not answer within {} ms",
            self.inner.timeout.as_millis()
        ))
    }

    /// Drops a connection that hung or lost its connection, so that the next call starts a
    /// fresh one (unless another call already did).
    fn reset(&self, generation: u64) {
        let mut slot = self.lock_conn();
        if slot.as_ref().is_some_and(|(g, _)| *g == generation) {
            *slot = None;
        }
        self.inner.topology.mark_stale();
    }

    /// Runs one store call on the connection, within the timeout (plus the replica wait, which
    /// a write may spend).
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Con) -> Fut,
        Fut: Future<Output = Res<T>>,
    {
        let (generation, con) = self.connection().await?;
        let work = async {
            self.probe(con.clone()).await?;
            call(con).await
        };
        let limit = self.inner.timeout + self.inner.wait.unwrap_or_default();
        match tokio::time::timeout(limit, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Fail::Redis(e))) => {
                if is_connection_error(&e) {
                    self.reset(generation);
                } else if e.is_cluster_error() {
                    self.inner.topology.mark_stale();
                }
                Err(map_error(e))
            }
            Ok(Err(Fail::Data(what))) => Err(StoreError::unavailable(what)),
            Ok(Err(Fail::Missing)) => Err(StoreError::unavailable(NEEDS_REDIS_7)),
            Ok(Err(Fail::NoReplica(ms))) => Err(StoreError::unavailable(format!(
                "no replica acknowledged the write within {ms} ms (it is applied on the primary)"
            ))),
            Err(_elapsed) => {
                self.reset(generation);
                Err(self.timed_out())
            }
        }
    }

    /// Before a call takes its time: writes every slot's epoch key that is missing, once per
    /// store (see `topology`), so that the epochs precede every time a call records. A failure
    /// is retried by the next call.
    async fn ready(&self) -> Result<(), StoreError> {
        if self.inner.topology.epochs_written() {
            return Ok(());
        }
        let _writing = self.inner.topology.writing_epochs.lock().await;
        if self.inner.topology.epochs_written() {
            return Ok(());
        }
        let now = self.now();
        self.run(|con| async move { self.write_epochs(con, now).await })
            .await
    }

    /// Probes once whether the server has Redis 7's `PEXPIRE ... NX` (on a scratch key that
    /// never exists); a server that refuses it is remembered, and logged once.
    async fn probe(&self, mut con: Con) -> Res<()> {
        match self.inner.features.load(Ordering::Acquire) {
            PROBE_OK => return Ok(()),
            PROBE_MISSING => return Err(Fail::Missing),
            _ => {}
        }
        let probed: Result<i64, RedisError> = ::redis::cmd("PEXPIRE")
            .arg(format!("{}probe", self.inner.prefix))
            .arg(1)
            .arg("NX")
            .query_async(&mut con)
            .await;
        match probed {
            Ok(_) => {
                self.inner.features.store(PROBE_OK, Ordering::Release);
                Ok(())
            }
            // Redis answered, and refused the command (`ERR`, not a passing state such as
            // `LOADING`): an older server.
            Err(e) if e.code() == Some("ERR") && !is_connection_error(&e) => {
                if self.inner.features.swap(PROBE_MISSING, Ordering::AcqRel) != PROBE_MISSING {
                    #[cfg(feature = "tracing")]
                    tracing::error!(error = %e, "{NEEDS_REDIS_7}");
                }
                Err(Fail::Missing)
            }
            Err(e) => Err(Fail::Redis(e)),
        }
    }

    fn now(&self) -> u64 {
        self.inner.clock.now_millis()
    }
}

/// Whether an error means the connection is gone or hung (rather than Redis refusing one
/// command).
fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

fn map_error(e: RedisError) -> StoreError {
    if e.code() == Some("OOM") {
        StoreError::full()
    } else {
        StoreError::unavailable(e)
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("replica_wait", &self.wait)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("cluster", &self.is_cluster())
            .field("timeout", &self.inner.timeout)
            .field("replica_wait", &self.inner.wait)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_redis_config_errors_never_show_the_url() {
        let err = RedisStore::builder("not a url :secret@").unwrap_err();
        assert_eq!(err, RedisConfigError::InvalidUrl);
        assert!(!err.to_string().contains("secret"));
        let err = RedisStore::builder("redis://127.0.0.1")
            .and_then(|b| b.prefix("a{b"))
            .unwrap_err();
        assert_eq!(err, RedisConfigError::InvalidPrefix);
        let store = RedisStore::builder("redis://:hunter2@127.0.0.1:1")
            .unwrap()
            .build();
        assert!(!format!("{store:?}").contains("hunter2"));
    }
}
