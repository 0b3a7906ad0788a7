//! [`RedisStore`] (feature `redis`): the session and revocation store that every instance of a
//! service shares, through the `redis` crate's async connection manager.
//!
//! # Guarantees
//! - **Atomic rotation.** Rotation, reuse detection and the grace-window lookup are one Lua
//!   script on the session's key, so two instances racing on one refresh token rotate it exactly
//!   once; the loser gets the winner's sealed successor.
//! - **Expiry judged twice.** Every key has a TTL, so Redis drops dead entries by itself, and
//!   every expiry is also stored in the values and judged by the store's [`Clock`] (tests inject
//!   one). TTLs are relative to the crate's clock, so a clock that differs from Redis's own time
//!   only shifts when Redis drops an entry the crate already treats as expired.
//! - **Redis Cluster.** The keys of one session share the hash tag `{sid}`, so the scripts,
//!   which only touch one session's keys, run on a cluster too. Subjects and `jti`s have keys
//!   of their own, each touched by single-key commands.
//! - **Memory that does not grow with rotations.** A session is one small hash (its subject,
//!   data, expiries and the hash of its current refresh token), plus a second one during the
//!   grace window. Used tokens are not remembered one by one: a refresh token names its
//!   session and carries a MAC, so an older token of a live session is recognised as reused
//!   (see [`store`](super::store)). BENCHMARKS.md gives the measured `MEMORY USAGE`.
//! - **A per-call timeout** (default 250 ms) turns a hung Redis into
//!   [`StoreErrorKind::Unavailable`](crate::revocation::StoreErrorKind::Unavailable) (503) instead of a hung
//!   request.
//! - **Down at startup, back later.** Building the store never connects: it succeeds while
//!   Redis is down, calls answer `Unavailable` until Redis can be reached, and then succeed
//!   without a restart. A Redis out of memory (`OOM`) answers
//!   [`StoreErrorKind::Full`](crate::revocation::StoreErrorKind::Full).
//! - `rediss://` (TLS, rustls with the system's roots), passwords and database numbers come
//!   through the URL (`rediss://:password@host:6380/2`); no URL or password is ever logged or
//!   shown by `Debug`.
//!
//! Configure Redis with `maxmemory-policy noeviction`: an eviction policy would drop live
//! entries (every key here has a TTL, so `volatile-*` policies would too), which could quietly
//! un-revoke a token or turn a theft into an ordinary error.
//!
//! # Keys
//! With the default prefix `tjwt:` (`<h>` is a token's SHA-256 in base64url; `<sub>` and `<jti>`
//! are the value itself when it is at most 64 base64url characters, otherwise `~` and its
//! SHA-256 in base64url):
//!
//! | Key | Type | Holds | TTL |
//! |---|---|---|---|
//! | `tjwt:{<sid>}:s` | hash | `sub`, `data`, `abs`, `cur` (current hash), `cexp` | until the session expires |
//! | `tjwt:{<sid>}:g` | hash | `p` (predecessor hash), `u` (until), `s` (sealed successor) | the grace window |
//! | `tjwt:{<sid>}:x` | string | ended: until (ms) | [`token_lifetime`](super::SessionLimits::token_lifetime) |
//! | `tjwt:u:<sub>` | set | the subject's session ids | the latest absolute expiry |
//! | `tjwt:c:<sub>` | string | `<until ms>:<cutoff s>` | `token_lifetime` |
//! | `tjwt:j:<jti>` | string | revoked: until (ms) | as given |

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisError, Script, Value};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;

use super::refresh::{is_plain_id, SealedSuccessor, SessionId, TokenHash};
use super::store::{
    Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits, SessionStore,
};
use crate::clock::{from_millis, millis, Clock};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, StoreFuture,
};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "tjwt:";
/// The default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// The longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 64;

/// Rotation, the grace window and reuse detection, in one atomic step on one session's keys.
/// A presented hash that is neither current nor the grace window's predecessor belongs to a
/// token the service issued for this session (the caller verified its MAC), so it was rotated
/// before: reuse.
///
/// KEYS: 1 session hash, 2 grace hash, 3 ended marker.
/// ARGV: 1 presented hash, 2 successor hash, 3 sealed successor, 4 now (ms), 5 idle timeout
/// (ms), 6 grace window (ms), 7 how long an ended session is remembered (ms).
const ROTATE: &str = r#"
local s = redis.call('HMGET', KEYS[1], 'sub', 'abs', 'cur', 'cexp')
if not s[1] then return {'unknown'} end
local now = tonumber(ARGV[4])
local abs = tonumber(s[2])
local cexp = tonumber(s[4])
if now >= abs or now >= cexp then return {'expired'} end
if s[3] == ARGV[1] then
  local exp = math.min(now + tonumber(ARGV[5]), abs)
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'cexp', string.format('%.0f', exp))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(exp - now, 1)))
  local grace = tonumber(ARGV[6])
  if grace > 0 then
    redis.call('HSET', KEYS[2], 'p', ARGV[1], 'u', string.format('%.0f', now + grace), 's', ARGV[3])
    redis.call('PEXPIRE', KEYS[2], string.format('%.0f', grace))
  else
    redis.call('DEL', KEYS[2])
  end
  return {'rotated', string.format('%.0f', exp)}
end
local g = redis.call('HMGET', KEYS[2], 'p', 'u', 's')
if g[1] == ARGV[1] and g[3] and now < tonumber(g[2]) then
  return {'grace', g[3]}
end
redis.call('DEL', KEYS[1], KEYS[2])
local keep = tonumber(ARGV[7])
if keep > 0 then
  local old = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  if now + keep > old then
    redis.call('SET', KEYS[3], string.format('%.0f', now + keep), 'PX', string.format('%.0f', keep))
  end
end
return {'reused', s[1]}
"#;

/// Opens a session unless its id is taken.
///
/// KEYS: 1 session hash. ARGV: 1 sub, 2 data, 3 absolute expiry (ms), 4 first token hash,
/// 5 its expiry (ms), 6 TTL (ms).
const CREATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'data', ARGV[2], 'abs', ARGV[3], 'cur', ARGV[4], 'cexp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"#;

/// Ends a session: drops its state and remembers it as ended.
///
/// KEYS: 1 session hash, 2 grace hash, 3 ended marker. ARGV: 1 now (ms), 2 how long (ms).
/// Returns {sub or false, 1 when the session was live}.
const END: &str = r#"
local s = redis.call('HMGET', KEYS[1], 'sub', 'abs', 'cexp')
local now = tonumber(ARGV[1])
local live = 0
if s[1] and now < tonumber(s[2]) and now < tonumber(s[3]) then live = 1 end
redis.call('DEL', KEYS[1], KEYS[2])
local keep = tonumber(ARGV[2])
if keep > 0 then
  local old = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  if now + keep > old then
    redis.call('SET', KEYS[3], string.format('%.0f', now + keep), 'PX', ARGV[2])
  end
end
return {s[1], live}
"#;

/// Sets a revocation marker to `until` unless it already lasts longer.
///
/// KEYS: 1 marker. ARGV: 1 until (ms), 2 TTL (ms).
const SET_MAX: &str = r#"
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) > old then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"#;

/// Sets a subject's cutoff, keeping the later cutoff and the longer life of an existing one.
///
/// KEYS: 1 cutoff. ARGV: 1 until (ms), 2 cutoff (s), 3 now (ms).
const CUTOFF: &str = r#"
local untl = tonumber(ARGV[1])
local cutoff = tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then
  local i = string.find(old, ':', 1, true)
  if i then
    local ou = tonumber(string.sub(old, 1, i - 1)) or 0
    local oc = tonumber(string.sub(old, i + 1)) or 0
    if ou > untl then untl = ou end
    if oc > cutoff then cutoff = oc end
  end
end
local ttl = math.max(untl - tonumber(ARGV[3]), 1)
redis.call('SET', KEYS[1], string.format('%.0f', untl) .. ':' .. string.format('%.0f', cutoff), 'PX', string.format('%.0f', ttl))
return 1
"#;

/// The Redis session and revocation store. Cloning it is cheap; clones share the connection.
///
/// ```no_run
/// use tower_jwt_auth::session::RedisStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Succeeds while Redis is down: calls answer `Unavailable` until it can be reached.
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let custom = RedisStore::builder("rediss://:secret@redis.internal:6380/0")
///     .prefix("myapp:sessions:")
///     .timeout(std::time::Duration::from_millis(100))
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

/// Builds a [`RedisStore`]: [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
    clock: Clock,
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
}

impl fmt::Display for RedisConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidUrl => "the Redis URL is not a valid redis://, rediss:// or unix:// URL",
            Self::InvalidPrefix => {
                "the Redis key prefix is longer than 64 bytes or contains `{` or `}`"
            }
        })
    }
}

impl std::error::Error for RedisConfigError {}

struct Inner {
    client: ::redis::Client,
    prefix: String,
    timeout: Duration,
    clock: Clock,
    /// The connection manager and its generation; `None` until first used, or after it was
    /// dropped for hanging.
    conn: Mutex<Option<(u64, ConnectionManager)>>,
    generation: AtomicU64,
    rotate: Script,
    create: Script,
    end: Script,
    set_max: Script,
    cutoff: Script,
}

/// Why one call failed, before it becomes a [`StoreError`].
enum Fail {
    Redis(RedisError),
    /// Redis answered with something this store never writes.
    Data(&'static str),
}

impl From<RedisError> for Fail {
    fn from(e: RedisError) -> Self {
        Self::Redis(e)
    }
}

type Res<T> = Result<T, Fail>;

impl RedisStore {
    /// A store at `url` with the default prefix (`tjwt:`), timeout (250 ms) and the system
    /// clock. Never fails because Redis is down: it tries to connect once within the timeout,
    /// and if that fails, calls answer `Unavailable` until Redis can be reached.
    pub async fn connect(url: &str) -> Result<Self, RedisConfigError> {
        let store = Self::builder(url).build()?;
        // A warm-up only: its failure is what the store answers later anyway.
        let _ = store.ping().await;
        Ok(store)
    }

    /// A builder, to set the prefix, the timeout and the clock.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            clock: Clock::system(),
        }
    }

    /// The clock the store judges expiry by.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Checks that Redis answers (`PING`), within the timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut con| async move {
            let _: String = ::redis::cmd("PING").query_async(&mut con).await?;
            Ok(())
        })
        .await
    }

    /// The connection manager, created on first use (inside the caller's runtime).
    fn connection(&self) -> Result<(u64, ConnectionManager), StoreError> {
        let mut slot = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((generation, con)) = slot.as_ref() {
            return Ok((*generation, con.clone()));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.inner.timeout))
            .set_response_timeout(Some(self.inner.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let con = ConnectionManager::new_lazy_with_config(self.inner.client.clone(), config)
            .map_err(StoreError::unavailable)?;
        let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
        *slot = Some((generation, con.clone()));
        Ok((generation, con))
    }

    /// Drops a connection manager that hung or lost its connection, so that the next call
    /// starts a fresh one (unless another call already did).
    fn reset(&self, generation: u64) {
        let mut slot = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.as_ref().is_some_and(|(g, _)| *g == generation) {
            *slot = None;
        }
    }

    /// Runs one store call on the connection, within the timeout.
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Res<T>>,
    {
        let (generation, con) = self.connection()?;
        match tokio::time::timeout(self.inner.timeout, call(con)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Fail::Redis(e))) => {
                if is_connection_error(&e) {
                    self.reset(generation);
                }
                Err(map_error(e))
            }
            Ok(Err(Fail::Data(what))) => Err(StoreError::unavailable(what)),
            Err(_elapsed) => {
                self.reset(generation);
                Err(StoreError::unavailable(format!(
                    "Redis did not answer within {} ms",
                    self.inner.timeout.as_millis()
                )))
            }
        }
    }

    fn now(&self) -> u64 {
        self.inner.clock.now_millis()
    }

    // Keys.

    fn session_keys(&self, sid: &str) -> [String; 3] {
        let p = &self.inner.prefix;
        let id = id_key(sid);
        [
            format!("{p}{{{id}}}:s"),
            format!("{p}{{{id}}}:g"),
            format!("{p}{{{id}}}:x"),
        ]
    }

    fn ended_key(&self, sid: &str) -> String {
        format!("{}{{{}}}:x", self.inner.prefix, id_key(sid))
    }

    fn subject_key(&self, sub: &str) -> String {
        format!("{}u:{}", self.inner.prefix, id_key(sub))
    }

    fn cutoff_key(&self, sub: &str) -> String {
        format!("{}c:{}", self.inner.prefix, id_key(sub))
    }

    fn jti_key(&self, jti: &str) -> String {
        format!("{}j:{}", self.inner.prefix, id_key(jti))
    }

    // Calls.

    async fn status_call(
        &self,
        query: RevocationQuery<'_>,
    ) -> Result<RevocationStatus, StoreError> {
        let keys = [
            query.jti.map(|jti| self.jti_key(jti)),
            query.sid.map(|sid| self.ended_key(sid)),
            query.sub.map(|sub| self.cutoff_key(sub)),
        ];
        if keys.iter().all(Option::is_none) {
            return Ok(RevocationStatus::default());
        }
        let now = self.now();
        self.run(|mut con| async move {
            // One round trip: the GETs asked for (two for a token with a `sid`) in one
            // pipeline, each a single-key command, so that a cluster client can route them.
            let mut pipe = ::redis::pipe();
            for key in keys.iter().flatten() {
                pipe.cmd("GET").arg(key);
            }
            let values: Vec<Option<Vec<u8>>> = pipe.query_async(&mut con).await?;
            let mut values = values.into_iter();
            let mut next = |present: bool| {
                if present {
                    values.next().flatten()
                } else {
                    None
                }
            };
            let jti = next(keys[0].is_some());
            let sid = next(keys[1].is_some());
            let cutoff = next(keys[2].is_some());
            let live = |v: Option<Vec<u8>>| -> Res<bool> {
                match v {
                    None => Ok(false),
                    Some(v) => Ok(now < parse_u64(&v).ok_or(Fail::Data("a revocation marker"))?),
                }
            };
            let cutoff = match cutoff {
                None => None,
                Some(v) => {
                    let (until, cutoff) =
                        parse_pair(&v).ok_or(Fail::Data("a subject cutoff is malformed"))?;
                    (now < until).then_some(cutoff)
                }
            };
            Ok(RevocationStatus::new(live(jti)?, live(sid)?, cutoff))
        })
        .await
    }

    async fn create_call(
        &self,
        session: NewSession,
        limits: &SessionLimits,
    ) -> Result<SystemTime, StoreError> {
        let now = self.now();
        let absolute = now.saturating_add(millis(limits.absolute_lifetime));
        let expires = now
            .saturating_add(millis(limits.idle_timeout))
            .min(absolute);
        let ttl = expires.saturating_sub(now).max(1);
        let [session_key, _, _] = self.session_keys(session.sid.as_str());
        let subject_key = self.subject_key(&session.sub);
        let subject_ttl = absolute.saturating_sub(now).max(1);
        let created = self
            .run(|mut con| async move {
                let created: i64 = self
                    .inner
                    .create
                    .key(&session_key)
                    .arg(&session.sub)
                    .arg(&session.data)
                    .arg(absolute)
                    .arg(session.refresh.to_base64url())
                    .arg(expires)
                    .arg(ttl)
                    .invoke_async(&mut con)
                    .await?;
                if created == 0 {
                    return Ok(false);
                }
                ::redis::pipe()
                    .cmd("SADD")
                    .arg(&subject_key)
                    .arg(session.sid.as_str())
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&subject_key)
                    .arg(subject_ttl)
                    .arg("NX")
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&subject_key)
                    .arg(subject_ttl)
                    .arg("GT")
                    .ignore()
                    .exec_async(&mut con)
                    .await?;
                Ok(true)
            })
            .await?;
        if created {
            Ok(from_millis(expires))
        } else {
            Err(StoreError::unavailable(
                "a session with this id already exists",
            ))
        }
    }

    async fn lookup_call(
        &self,
        sid: &SessionId,
        presented: &TokenHash,
    ) -> Result<Lookup, StoreError> {
        let now = self.now();
        let [session_key, _, _] = self.session_keys(sid.as_str());
        let presented_b64 = presented.to_base64url();
        self.run(|mut con| async move {
            let fields: Vec<Option<Vec<u8>>> = ::redis::cmd("HMGET")
                .arg(&session_key)
                .arg(&["sub", "data", "abs", "cur", "cexp"])
                .query_async(&mut con)
                .await?;
            let [sub, data, abs, cur, cexp]: [Option<Vec<u8>>; 5] = fields
                .try_into()
                .map_err(|_| Fail::Data("a session is malformed"))?;
            let Some(sub) = sub else {
                return Ok(Lookup::Unknown);
            };
            let malformed = || Fail::Data("a session is malformed");
            let abs = abs.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            let cexp = cexp.as_deref().and_then(parse_u64).ok_or_else(malformed)?;
            if now >= abs || now >= cexp {
                return Ok(Lookup::Expired);
            }
            let sub = String::from_utf8(sub).map_err(|_| malformed())?;
            Ok(Lookup::Found(
                SessionInfo::new(
                    sid.clone(),
                    sub,
                    data.unwrap_or_default(),
                    from_millis(abs),
                    *presented,
                    cur.as_deref() == Some(presented_b64.as_bytes()),
                )
                .with_idle_expires_at(from_millis(cexp)),
            ))
        })
        .await
    }

    async fn rotate_call(
        &self,
        rotation: Rotation,
        limits: &SessionLimits,
    ) -> Result<RotateOutcome, StoreError> {
        let now = self.now();
        let [session_key, grace_key, ended_key] = self.session_keys(rotation.sid().as_str());
        let idle = millis(limits.idle_timeout);
        let grace = millis(limits.refresh_grace);
        let keep = millis(limits.token_lifetime);
        self.run(|mut con| async move {
            // One round trip: the script (EVALSHA, loaded on first use).
            let reply: Vec<Value> = self
                .inner
                .rotate
                .key(&session_key)
                .key(&grace_key)
                .key(&ended_key)
                .arg(rotation.presented().to_base64url())
                .arg(rotation.successor().to_base64url())
                .arg(rotation.sealed().as_bytes())
                .arg(now)
                .arg(idle)
                .arg(grace)
                .arg(keep)
                .invoke_async(&mut con)
                .await?;
            parse_rotate(&reply, rotation.sid())
        })
        .await
    }

    async fn end_session_call(
        &self,
        sid: &str,
        limits: &SessionLimits,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let keys = self.session_keys(sid);
        self.run(|mut con| async move {
            let (sub, live) = end_one(&self.inner.end, &mut con, &keys, now, keep).await?;
            if let Some(sub) = sub {
                ::redis::cmd("SREM")
                    .arg(self.subject_key(&sub))
                    .arg(sid)
                    .exec_async(&mut con)
                    .await?;
            }
            Ok(live)
        })
        .await
    }

    async fn end_subject_call(
        &self,
        sub: &str,
        limits: &SessionLimits,
    ) -> Result<usize, StoreError> {
        let now = self.now();
        let keep = millis(limits.token_lifetime);
        let subject_key = self.subject_key(sub);
        let cutoff_key = self.cutoff_key(sub);
        self.run(|mut con| async move {
            set_cutoff(&self.inner.cutoff, &mut con, &cutoff_key, now, keep).await?;
            let sids: Vec<String> = ::redis::cmd("SMEMBERS")
                .arg(&subject_key)
                .query_async(&mut con)
                .await?;
            let mut live = 0;
            for sid in &sids {
                let keys = self.session_keys(sid);
                let (_, was_live) = end_one(&self.inner.end, &mut con, &keys, now, keep).await?;
                live += usize::from(was_live);
            }
            if !sids.is_empty() {
                ::redis::cmd("SREM")
                    .arg(&subject_key)
                    .arg(&sids)
                    .exec_async(&mut con)
                    .await?;
            }
            Ok(live)
        })
        .await
    }
}

async fn end_one(
    script: &Script,
    con: &mut ConnectionManager,
    keys: &[String; 3],
    now: u64,
    keep: u64,
) -> Res<(Option<String>, bool)> {
    let reply: Vec<Value> = script
        .key(&keys[0])
        .key(&keys[1])
        .key(&keys[2])
        .arg(now)
        .arg(keep)
        .invoke_async(con)
        .await?;
    let sub = match reply.first() {
        Some(Value::BulkString(sub)) => {
            Some(String::from_utf8(sub.clone()).map_err(|_| Fail::Data("a session is malformed"))?)
        }
        _ => None,
    };
    let live = matches!(reply.get(1), Some(Value::Int(1)));
    Ok((sub, live))
}

async fn set_cutoff(
    script: &Script,
    con: &mut ConnectionManager,
    key: &str,
    now: u64,
    keep: u64,
) -> Res<()> {
    let until = now.saturating_add(keep);
    let _: i64 = script
        .key(key)
        .arg(until)
        .arg(now / 1000)
        .arg(now)
        .invoke_async(con)
        .await?;
    Ok(())
}

fn parse_rotate(reply: &[Value], sid: &SessionId) -> Res<RotateOutcome> {
    let bytes = |v: Option<&Value>| match v {
        Some(Value::BulkString(b)) => Some(b.clone()),
        Some(Value::SimpleString(s)) => Some(s.clone().into_bytes()),
        _ => None,
    };
    let bad = Fail::Data("the rotation script answered something unexpected");
    let tag = bytes(reply.first()).ok_or(Fail::Data("empty rotation reply"))?;
    Ok(match tag.as_slice() {
        b"rotated" => {
            let exp = bytes(reply.get(1))
                .as_deref()
                .and_then(parse_u64)
                .ok_or(bad)?;
            RotateOutcome::Rotated {
                refresh_expires_at: from_millis(exp),
            }
        }
        b"grace" => {
            RotateOutcome::Grace(SealedSuccessor::from_bytes(bytes(reply.get(1)).ok_or(bad)?))
        }
        b"reused" => RotateOutcome::Reused {
            sid: sid.clone(),
            sub: String::from_utf8(bytes(reply.get(1)).ok_or(bad)?)
                .map_err(|_| Fail::Data("a session is malformed"))?,
        },
        b"expired" => RotateOutcome::Expired,
        b"unknown" => RotateOutcome::Unknown,
        _ => return Err(bad),
    })
}

fn parse_u64(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// `<a>:<b>`, both numbers.
fn parse_pair(value: &[u8]) -> Option<(u64, u64)> {
    let value = std::str::from_utf8(value).ok()?;
    let (a, b) = value.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A value in a key: itself when it is a plain id (at most 64 base64url characters), otherwise
/// `~` and its SHA-256 in base64url (`~` is outside the base64url alphabet, so the two forms
/// never collide, and no key holds `{`, `}` or `:` from a value).
fn id_key(value: &str) -> Cow<'_, str> {
    if is_plain_id(value, 64) {
        Cow::Borrowed(value)
    } else {
        let digest = digest::digest(&digest::SHA256, value.as_bytes());
        Cow::Owned(format!("~{}", URL_SAFE_NO_PAD.encode(digest.as_ref())))
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

impl RedisStoreBuilder {
    /// The prefix of every key (default `tjwt:`): at most 64 bytes, without `{` or `}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one store call may take before it answers `Unavailable` (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock expiry is judged by (default the system clock); [`Clock::manual`] for tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store. Checks the URL and the prefix; never connects (the first call does).
    pub fn build(self) -> Result<RedisStore, RedisConfigError> {
        if self.prefix.len() > MAX_PREFIX_LEN || self.prefix.contains(['{', '}']) {
            return Err(RedisConfigError::InvalidPrefix);
        }
        let client =
            ::redis::Client::open(self.url.as_str()).map_err(|_| RedisConfigError::InvalidUrl)?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                prefix: self.prefix,
                timeout: self.timeout,
                clock: self.clock,
                conn: Mutex::new(None),
                generation: AtomicU64::new(0),
                rotate: Script::new(ROTATE),
                create: Script::new(CREATE),
                end: Script::new(END),
                set_max: Script::new(SET_MAX),
                cutoff: Script::new(CUTOFF),
            }),
        })
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl RevocationStore for RedisStore {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(self.status_call(query))
    }

    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = self.now();
            let keep = millis(keep_for);
            let key = self.jti_key(jti);
            self.run(|mut con| async move {
                let _: i64 = self
                    .inner
                    .set_max
                    .key(&key)
                    .arg(now.saturating_add(keep))
                    .arg(keep.max(1))
                    .invoke_async(&mut con)
                    .await?;
                Ok(())
            })
            .await
        })
    }

    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = self.now();
            let key = self.cutoff_key(sub);
            self.run(|mut con| async move {
                set_cutoff(&self.inner.cutoff, &mut con, &key, now, millis(keep_for)).await
            })
            .await
        })
    }
}

impl SessionStore for RedisStore {
    fn create<'a>(
        &'a self,
        session: NewSession,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, SystemTime> {
        Box::pin(self.create_call(session, limits))
    }

    fn lookup<'a>(
        &'a self,
        sid: &'a SessionId,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Lookup> {
        Box::pin(self.lookup_call(sid, presented))
    }

    fn rotate<'a>(
        &'a self,
        rotation: Rotation,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, RotateOutcome> {
        Box::pin(self.rotate_call(rotation, limits))
    }

    fn end_session<'a>(&'a self, sid: &'a str, limits: &'a SessionLimits) -> StoreFuture<'a, bool> {
        Box::pin(self.end_session_call(sid, limits))
    }

    fn end_subject<'a>(
        &'a self,
        sub: &'a str,
        limits: &'a SessionLimits,
    ) -> StoreFuture<'a, usize> {
        Box::pin(self.end_subject_call(sub, limits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_redis_keys_escape_values_and_share_the_session_tag() {
        assert_eq!(id_key("abc-_9"), "abc-_9");
        let escaped = id_key("user:{1}");
        assert!(escaped.starts_with('~'));
        assert!(!escaped.contains(['{', '}', ':']));
        assert_eq!(escaped.len(), 44);
        assert!(id_key(&"a".repeat(65)).starts_with('~'));

        let store = RedisStore::builder("redis://127.0.0.1:1").build().unwrap();
        let [s, g, x] = store.session_keys("sid1");
        assert_eq!(s, "tjwt:{sid1}:s");
        assert_eq!(g, "tjwt:{sid1}:g");
        assert_eq!(x, "tjwt:{sid1}:x");
        assert_eq!(store.ended_key("sid1"), x);
        assert_eq!(store.subject_key("alice"), "tjwt:u:alice");
        assert_eq!(store.cutoff_key("alice"), "tjwt:c:alice");
        assert_eq!(store.jti_key("j"), "tjwt:j:j");
    }

    #[test]
    fn session_redis_config_errors_never_show_the_url() {
        let err = RedisStore::builder("not a url :secret@")
            .build()
            .unwrap_err();
        assert_eq!(err, RedisConfigError::InvalidUrl);
        assert!(!err.to_string().contains("secret"));
        let err = RedisStore::builder("redis://127.0.0.1")
            .prefix("a{b")
            .build()
            .unwrap_err();
        assert_eq!(err, RedisConfigError::InvalidPrefix);
        let store = RedisStore::builder("redis://:hunter2@127.0.0.1:1")
            .build()
            .unwrap();
        assert!(!format!("{store:?}").contains("hunter2"));
    }

    #[test]
    fn session_redis_values_parse_strictly() {
        assert_eq!(parse_pair(b"5:6"), Some((5, 6)));
        assert_eq!(parse_u64(b"12"), Some(12));
        assert_eq!(parse_u64(b"1x"), None);
        assert_eq!(parse_pair(b"5"), None);
    }
}
