//! The local revocation view of a [`RedisStore`]: what each instance keeps in memory to judge
//! revocation without a round trip, kept current by Redis (the sessions guide's "Revocation at
//! local speed" says why it is built this way).
//!
//! - Every write script that can revoke (`END`, `ROTATE`'s reuse, `SET_MAX`, `CUTOFF`, and
//!   `CREATE`) publishes the keys it changed on the channel `<prefix>inv`, inside the script, so
//!   the message is atomic with the write.
//! - Each instance holds one invalidation connection (RESP3, named by `CLIENT SETNAME`),
//!   subscribed to that channel and to a heartbeat channel of its own. An invalidation drops
//!   the key from the view; a heartbeat it published at `h` and received proves that every
//!   write before `h` has been seen (one connection delivers in order). The view answers only
//!   while its newest heartbeat is younger than the lease; otherwise, and while the connection
//!   is down or resubscribing, the store asks Redis.
//! - Entries are filled from the store's own reads, only when no invalidation arrived between
//!   the read's start and the fill (a sequence number), so a fill never brings back what an
//!   invalidation dropped.

mod link;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ::redis::Value;

use super::parse::{bytes, parse_pair, parse_u64};
use super::{Fail, RedisStore};
use crate::metrics::ViewMetrics;
use crate::revocation::{RevocationQuery, RevocationStatus, StoreError};

/// The default number of entries of a local view.
pub(super) const DEFAULT_VIEW_CAPACITY: usize = 65_536;
/// The default lease of a local view: how old its newest heartbeat may be.
pub(super) const DEFAULT_VIEW_LEASE: Duration = Duration::from_millis(200);

/// The Lua function that every write script starts with: `tjwt_inv(channel, key)` publishes
/// `<Redis time in µs> <key>` on the channel.
pub(super) const PUBLISH_FN: &str = "local function tjwt_inv(ch, key)
  local t = redis.call('TIME')
  redis.call('PUBLISH', ch, string.format('%.0f', t[1] * 1000000 + t[2]) .. ' ' .. key)
end
";

/// The settings of the local view (see the builder's `local_view*` methods).
#[derive(Clone, Copy, Debug)]
pub(super) struct ViewSettings {
    pub(super) enabled: bool,
    pub(super) capacity: usize,
    pub(super) lease: Duration,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            capacity: DEFAULT_VIEW_CAPACITY,
            lease: DEFAULT_VIEW_LEASE,
        }
    }
}

/// One instance's view.
pub(super) struct View {
    settings: ViewSettings,
    started: Instant,
    /// The invalidation connection's name (`CLIENT SETNAME`).
    name: String,
    inv_channel: String,
    hb_channel: String,
    state: Mutex<State>,
    /// 1 + the time (ms since `started`) at which the newest heartbeat received was sent; 0 for
    /// none since the connection was (re)made.
    cert: AtomicU64,
    /// Whether the connection task runs.
    running: AtomicBool,
    /// Registered on first use (after the application installed its recorder).
    metrics: OnceLock<ViewMetrics>,
}

struct State {
    /// Bumped by every invalidation, clear and (re)subscription.
    seq: u64,
    /// The generation of the connection subscribed now; 0 for none.
    generation: u64,
    subscribed: bool,
    epoch: Option<u64>,
    hot: HashMap<String, Entry>,
    cold: HashMap<String, Entry>,
}

/// What the view knows of one key. `None` is "absent in Redis".
#[derive(Clone)]
enum Entry {
    /// A `jti` marker or a session's ended marker: until (ms).
    Marker(Option<u64>),
    /// A subject's cutoff: (until, cutoff) (ms).
    Cutoff(Option<(u64, u64)>),
    /// A session's hash.
    Session(Option<Held>),
}

/// What the view keeps of a session the store holds.
#[derive(Clone)]
struct Held {
    opened: u64,
    iss: Box<[u8]>,
    /// The session's expiry (the earlier of its idle and absolute expiry): the entry is not
    /// used at or after it.
    until: u64,
}

/// The keys of one revocation question.
pub(super) struct Keys {
    jti: Option<String>,
    ended: Option<String>,
    session: Option<String>,
    cutoff: Option<String>,
}

/// What Redis holds for one question.
struct Facts {
    jti: Option<u64>,
    ended: Option<u64>,
    session: Option<Held>,
    cutoff: Option<(u64, u64)>,
    epoch: u64,
}

impl Facts {
    fn status(&self, iss: &str, now: u64) -> RevocationStatus {
        let opened = self
            .session
            .as_ref()
            .filter(|held| &*held.iss == iss.as_bytes())
            .map(|held| held.opened);
        compose(self.jti, self.ended, opened, self.cutoff, self.epoch, now)
    }
}

/// The status from what Redis holds (markers' and the cutoff's `until` judged at `now`).
fn compose(
    jti: Option<u64>,
    ended: Option<u64>,
    opened: Option<u64>,
    cutoff: Option<(u64, u64)>,
    epoch: u64,
    now: u64,
) -> RevocationStatus {
    let live = |until: Option<u64>| until.is_some_and(|until| now < until);
    let cutoff = cutoff.and_then(|(until, cutoff)| (now < until).then_some(cutoff));
    RevocationStatus::new(live(jti), live(ended))
        .with_subject_cutoff_ms(cutoff)
        .with_session_opened_ms(opened)
        .with_epoch_ms(Some(epoch))
}

impl View {
    pub(super) fn new(settings: ViewSettings, prefix: &str) -> Self {
        let id = instance_id();
        Self {
            settings,
            started: Instant::now(),
            name: format!("tjwt-view-{id}"),
            inv_channel: format!("{prefix}inv"),
            hb_channel: format!("{prefix}hb:{id}"),
            state: Mutex::new(State {
                seq: 0,
                generation: 0,
                subscribed: false,
                epoch: None,
                hot: HashMap::new(),
                cold: HashMap::new(),
            }),
            cert: AtomicU64::new(0),
            running: AtomicBool::new(false),
            metrics: OnceLock::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn metrics(&self) -> &ViewMetrics {
        self.metrics.get_or_init(|| ViewMetrics::new("redis"))
    }

    fn mono_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the newest heartbeat is younger than the lease.
    fn current(&self) -> bool {
        let cert = self.cert.load(Ordering::Acquire);
        cert != 0 && self.mono_ms() < (cert - 1).saturating_add(millis(self.settings.lease))
    }

    /// The answer from the view, when it is current and holds every key.
    fn judge(&self, keys: &Keys, iss: &str, now: u64) -> Option<RevocationStatus> {
        if !self.current() {
            return None;
        }
        let state = self.state();
        if !state.subscribed {
            return None;
        }
        let marker = |key: &Option<String>| -> Option<Option<u64>> {
            match key {
                None => Some(None),
                Some(key) => match state.get(key)? {
                    Entry::Marker(until) => Some(*until),
                    _ => None,
                },
            }
        };
        let jti = marker(&keys.jti)?;
        let ended = marker(&keys.ended)?;
        // The session's opening time, when it is of the token's issuer (no copy of the entry).
        let opened = match &keys.session {
            None => None,
            Some(key) => match state.get(key)? {
                Entry::Session(None) => None,
                Entry::Session(Some(held)) if now < held.until => {
                    (&*held.iss == iss.as_bytes()).then_some(held.opened)
                }
                _ => return None,
            },
        };
        let cutoff = match &keys.cutoff {
            None => None,
            Some(key) => match state.get(key)? {
                Entry::Cutoff(cutoff) => *cutoff,
                _ => return None,
            },
        };
        let epoch = state.epoch?;
        drop(state);
        Some(compose(jti, ended, opened, cutoff, epoch, now))
    }

    /// The sequence number a fill must still find, when the view is subscribed.
    fn fill_token(&self) -> Option<u64> {
        let state = self.state();
        state.subscribed.then_some(state.seq)
    }

    /// Keeps what a read found, unless anything was invalidated since it started.
    fn fill(&self, token: u64, keys: &Keys, facts: &Facts) {
        let mut state = self.state();
        if !state.subscribed || state.seq != token {
            return;
        }
        match state.epoch {
            None => state.epoch = Some(facts.epoch),
            Some(epoch) if epoch != facts.epoch => {
                // The store started a new epoch: the heartbeat settles which one holds.
                state.clear();
                return;
            }
            Some(_) => {}
        }
        let capacity = self.settings.capacity;
        let entries = [
            (&keys.jti, Entry::Marker(facts.jti)),
            (&keys.ended, Entry::Marker(facts.ended)),
            (&keys.session, Entry::Session(facts.session.clone())),
            (&keys.cutoff, Entry::Cutoff(facts.cutoff)),
        ];
        for (key, entry) in entries {
            if let Some(key) = key {
                state.insert(key.clone(), entry, capacity);
            }
        }
    }

    /// Drops `key` (a write changed it).
    fn invalidate(&self, key: &str) {
        let mut state = self.state();
        state.seq += 1;
        state.hot.remove(key);
        state.cold.remove(key);
    }

    /// The connection of `generation` subscribed: start empty.
    fn linked(&self, generation: u64) {
        let mut state = self.state();
        state.clear();
        state.generation = generation;
        state.subscribed = true;
        self.cert.store(0, Ordering::Release);
    }

    /// The connection of `generation` is gone: forget everything until the next one subscribes.
    fn unlink(&self, generation: u64) {
        let mut state = self.state();
        if state.generation == generation {
            state.clear();
            state.subscribed = false;
            state.generation = 0;
            self.cert.store(0, Ordering::Release);
        }
    }

    /// Whether the connection of `generation` is still the subscribed one.
    fn is_linked(&self, generation: u64) -> bool {
        let state = self.state();
        state.subscribed && state.generation == generation
    }

    /// A message on the connection of `generation`.
    fn on_message(&self, generation: u64, channel: &[u8], payload: &[u8]) {
        let Some((time, rest)) = split_time(payload) else {
            // Nothing this crate publishes: be safe.
            self.state().clear();
            return;
        };
        if channel == self.inv_channel.as_bytes() {
            match std::str::from_utf8(rest) {
                Ok(key) => self.invalidate(key),
                Err(_) => self.state().clear(),
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros();
            let now = u64::try_from(now).unwrap_or(u64::MAX);
            self.metrics()
                .propagated(Duration::from_micros(now.saturating_sub(time)));
        } else if channel == self.hb_channel.as_bytes() {
            let mut state = self.state();
            if !state.subscribed || state.generation != generation {
                return;
            }
            let epoch = parse_u64(rest);
            if epoch.is_none() || (state.epoch.is_some() && state.epoch != epoch) {
                state.clear();
            }
            state.epoch = epoch;
            drop(state);
            self.cert.store(time.saturating_add(1), Ordering::Release);
        }
    }
}

impl State {
    fn get(&self, key: &str) -> Option<&Entry> {
        self.hot.get(key).or_else(|| self.cold.get(key))
    }

    /// Two generations: when the newer one holds half the capacity, the older one is dropped
    /// (those keys are asked of Redis again). At most `capacity` entries.
    fn insert(&mut self, key: String, entry: Entry, capacity: usize) {
        if self.hot.len() >= (capacity / 2).max(1) {
            self.cold = std::mem::take(&mut self.hot);
        }
        self.cold.remove(&key);
        self.hot.insert(key, entry);
    }

    fn clear(&mut self) {
        self.seq += 1;
        self.epoch = None;
        self.hot.clear();
        self.cold.clear();
    }
}

/// `<ms> <rest>`.
fn split_time(payload: &[u8]) -> Option<(u64, &[u8])> {
    let space = payload.iter().position(|&b| b == b' ')?;
    let (time, rest) = payload.split_at(space);
    Some((parse_u64(time)?, rest.get(1..)?))
}

fn millis(d: Duration) -> u64 {
    crate::clock::millis(d)
}

/// 16 random hex digits, naming this instance's connection and heartbeat channel.
fn instance_id() -> String {
    use ring::rand::SecureRandom as _;
    let mut id = [0u8; 8];
    // A failing system RNG only makes names collide; the time keeps them apart.
    if ring::rand::SystemRandom::new().fill(&mut id).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        id = (nanos as u64).to_be_bytes();
    }
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisStore {
    /// The name of the local view's invalidation connection (`CLIENT SETNAME`), to find it in
    /// `CLIENT LIST`; `None` when the view is off.
    pub fn local_view_connection_name(&self) -> Option<&str> {
        self.inner.view.as_ref().map(|view| view.name.as_str())
    }

    /// The channel the write scripts publish invalidations on.
    pub(super) fn invalidation_channel(&self) -> String {
        format!("{}inv", self.inner.prefix)
    }

    /// Drops keys this instance just wrote from its view, so that the instance that took a
    /// logout refuses at once (before its own invalidation comes back).
    pub(super) fn touched(&self, keys: &[String]) {
        if let Some(view) = &self.inner.view {
            for key in keys {
                view.invalidate(key);
            }
        }
    }

    fn view_keys(&self, query: &RevocationQuery<'_>) -> Keys {
        let iss = query.issuer_or_empty();
        Keys {
            jti: query.jti.map(|jti| self.jti_key(iss, jti)),
            ended: query.sid.map(|sid| self.ended_key(iss, sid)),
            session: query.sid.map(|sid| {
                let [session, _] = self.session_keys(sid);
                session
            }),
            cutoff: query.sub.map(|sub| self.cutoff_key(iss, sub)),
        }
    }

    /// The revocation check from the view, without a future: `None` when the view is off, not
    /// current, or misses a key.
    pub(super) fn status_local(&self, query: &RevocationQuery<'_>) -> Option<RevocationStatus> {
        let view = self.inner.view.as_deref()?;
        self.start_view(view);
        let status = view.judge(&self.view_keys(query), query.issuer_or_empty(), self.now())?;
        view.metrics().hit();
        Some(status)
    }

    /// The revocation check through Redis, filling the view (after [`Self::status_local`]
    /// missed).
    pub(super) async fn status_viewed(
        &self,
        query: RevocationQuery<'_>,
    ) -> Result<RevocationStatus, StoreError> {
        let Some(view) = self.inner.view.as_deref() else {
            return self.status_call(query).await;
        };
        let iss = query.issuer_or_empty();
        let keys = self.view_keys(&query);
        let now = self.now();
        let Some(token) = view.fill_token() else {
            return self.status_call(query).await;
        };
        match self.read_facts(&keys).await? {
            Some(facts) => {
                view.fill(token, &keys, &facts);
                Ok(facts.status(iss, now))
            }
            // No epoch yet: the direct call starts it.
            None => self.status_call(query).await,
        }
    }

    /// What Redis holds for `keys`, in one pipeline; `None` when the store has no epoch.
    async fn read_facts(&self, keys: &Keys) -> Result<Option<Facts>, StoreError> {
        let epoch_key = self.epoch_key();
        self.run(|mut con| async move {
            let mut pipe = ::redis::pipe();
            pipe.cmd("GET").arg(&epoch_key);
            for key in [&keys.jti, &keys.ended, &keys.cutoff].into_iter().flatten() {
                pipe.cmd("GET").arg(key);
            }
            if let Some(key) = &keys.session {
                pipe.cmd("HMGET")
                    .arg(key)
                    .arg(&["ct", "iss", "abs", "cexp"]);
            }
            let values: Vec<Value> = pipe.query_async(&mut con).await?;
            let mut values = values.into_iter();
            let Some(epoch) = bytes(values.next()) else {
                return Ok(None);
            };
            let epoch = parse_u64(&epoch).ok_or(Fail::Data("the epoch is malformed"))?;
            let mut marker = |key: &Option<String>| -> Result<Option<u64>, Fail> {
                if key.is_none() {
                    return Ok(None);
                }
                bytes(values.next())
                    .map(|v| parse_u64(&v).ok_or(Fail::Data("a revocation marker")))
                    .transpose()
            };
            let jti = marker(&keys.jti)?;
            let ended = marker(&keys.ended)?;
            let cutoff = if keys.cutoff.is_some() {
                bytes(values.next())
                    .map(|v| parse_pair(&v).ok_or(Fail::Data("a subject cutoff is malformed")))
                    .transpose()?
            } else {
                None
            };
            let session = match (&keys.session, values.next()) {
                (None, _) => None,
                (Some(_), Some(Value::Array(fields))) => held(fields)?,
                (Some(_), _) => return Err(Fail::Data("a session is malformed")),
            };
            Ok(Some(Facts {
                jti,
                ended,
                session,
                cutoff,
                epoch,
            }))
        })
        .await
    }
}

/// A session's `ct`, `iss`, `abs` and `cexp`; `None` when it is absent.
fn held(fields: Vec<Value>) -> Result<Option<Held>, Fail> {
    let malformed = || Fail::Data("a session is malformed");
    let [ct, iss, abs, cexp]: [Value; 4] = fields.try_into().map_err(|_| malformed())?;
    let Some(ct) = bytes(Some(ct)) else {
        return Ok(None);
    };
    let number = |v: Value| bytes(Some(v)).as_deref().and_then(parse_u64);
    let opened = parse_u64(&ct).ok_or_else(malformed)?;
    let abs = number(abs).ok_or_else(malformed)?;
    let cexp = number(cexp).ok_or_else(malformed)?;
    Ok(Some(Held {
        opened,
        iss: bytes(Some(iss)).unwrap_or_default().into_boxed_slice(),
        until: abs.min(cexp),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            jti: Some("j".into()),
            ended: Some("x".into()),
            session: Some("s".into()),
            cutoff: Some("c".into()),
        }
    }

    fn facts() -> Facts {
        Facts {
            jti: None,
            ended: None,
            session: Some(Held {
                opened: 5,
                iss: Box::from(&b"i"[..]),
                until: 1_000,
            }),
            cutoff: None,
            epoch: 1,
        }
    }

    fn linked_view() -> View {
        let view = View::new(ViewSettings::default(), "p:");
        view.linked(1);
        view.on_message(1, view.hb_channel.clone().as_bytes(), b"0 1");
        view
    }

    #[test]
    fn session_redis_view_answers_only_what_it_holds_and_drops_what_is_invalidated() {
        let view = linked_view();
        assert!(view.judge(&keys(), "i", 10).is_none());
        let token = view.fill_token().unwrap();
        view.fill(token, &keys(), &facts());
        let status = view.judge(&keys(), "i", 10).unwrap();
        assert_eq!(status.session_opened_ms, Some(5));
        // The session's own expiry: the entry is not used after it.
        assert!(view.judge(&keys(), "i", 1_000).is_none());
        let channel = view.inv_channel.clone();
        view.on_message(1, channel.as_bytes(), b"7 x");
        assert!(view.judge(&keys(), "i", 10).is_none());
    }

    #[test]
    fn session_redis_view_never_fills_across_an_invalidation_or_a_drop() {
        let view = linked_view();
        let token = view.fill_token().unwrap();
        view.invalidate("j");
        view.fill(token, &keys(), &facts());
        assert!(view.judge(&keys(), "i", 10).is_none());
        let token = view.fill_token().unwrap();
        view.fill(token, &keys(), &facts());
        view.unlink(1);
        assert!(view.judge(&keys(), "i", 10).is_none());
        assert!(view.fill_token().is_none());
        // A heartbeat of an older connection is ignored.
        view.linked(2);
        view.on_message(1, view.hb_channel.clone().as_bytes(), b"0 1");
        assert!(!view.current());
    }

    #[test]
    fn session_redis_view_is_bounded() {
        let view = View::new(
            ViewSettings {
                capacity: 4,
                ..ViewSettings::default()
            },
            "p:",
        );
        view.linked(1);
        let mut state = view.state();
        for i in 0..100 {
            state.insert(format!("k{i}"), Entry::Marker(None), 4);
        }
        assert!(state.hot.len() + state.cold.len() <= 4);
    }
}
