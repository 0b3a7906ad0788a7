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
mod read;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::parse::parse_u64;
use super::RedisStore;
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

/// What the view knows of one key, and the epoch of the key's slot when it was read.
struct Entry {
    value: Known,
    epoch: u64,
}

/// What Redis held for one key. `None` is "absent".
#[derive(Clone)]
enum Known {
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

/// What Redis holds for one question: each part with its slot's epoch (the session's ended
/// marker and hash share a slot).
struct Facts {
    jti: Option<(Option<u64>, u64)>,
    session: Option<(Option<u64>, Option<Held>, u64)>,
    cutoff: Option<(Option<(u64, u64)>, u64)>,
}

impl Facts {
    fn status(&self, iss: &str, now: u64) -> Option<RevocationStatus> {
        let session = self.session.as_ref().map(|(ended, held, epoch)| {
            let opened = held
                .as_ref()
                .filter(|held| &*held.iss == iss.as_bytes())
                .map(|held| held.opened);
            (*ended, opened, *epoch)
        });
        compose(self.jti, session, self.cutoff, now)
    }
}

/// The status from what Redis holds: markers' and the cutoff's `until` judged at `now`; a
/// session opened before another part's slot started its epoch is judged as one the store does
/// not hold (that slot lost the revocations that may apply to it); the status's epoch is the
/// latest. `None` for a question of no part.
fn compose(
    jti: Option<(Option<u64>, u64)>,
    session: Option<(Option<u64>, Option<u64>, u64)>,
    cutoff: Option<(Option<(u64, u64)>, u64)>,
    now: u64,
) -> Option<RevocationStatus> {
    let live = |until: Option<u64>| until.is_some_and(|until| now < until);
    let others = jti.map(|(_, e)| e).max(cutoff.map(|(_, e)| e));
    let epoch = others.max(session.map(|(_, _, e)| e))?;
    let (ended, opened) = match session {
        Some((ended, opened, _)) => (live(ended), opened),
        None => (false, None),
    };
    let opened = opened.filter(|&ct| others.is_none_or(|others| ct >= others));
    let cutoff = cutoff
        .and_then(|(value, _)| value)
        .and_then(|(until, cutoff)| (now < until).then_some(cutoff));
    Some(
        RevocationStatus::new(live(jti.and_then(|(until, _)| until)), ended)
            .with_subject_cutoff_ms(cutoff)
            .with_session_opened_ms(opened)
            .with_epoch_ms(Some(epoch)),
    )
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
        // The representative epoch came back with a heartbeat: no loss seen since.
        state.epoch?;
        let marker = |key: &str| -> Option<(Option<u64>, u64)> {
            match state.get(key)? {
                Entry {
                    value: Known::Marker(until),
                    epoch,
                } => Some((*until, *epoch)),
                _ => None,
            }
        };
        let jti = match &keys.jti {
            Some(key) => Some(marker(key)?),
            None => None,
        };
        let session = match (&keys.ended, &keys.session) {
            (Some(ended), Some(session)) => {
                let (ended, _) = marker(ended)?;
                // The session's opening time, when it is of the token's issuer (no copy).
                match state.get(session)? {
                    Entry {
                        value: Known::Session(None),
                        epoch,
                    } => Some((ended, None, *epoch)),
                    Entry {
                        value: Known::Session(Some(held)),
                        epoch,
                    } if now < held.until => Some((
                        ended,
                        (&*held.iss == iss.as_bytes()).then_some(held.opened),
                        *epoch,
                    )),
                    _ => return None,
                }
            }
            _ => None,
        };
        let cutoff = match &keys.cutoff {
            Some(key) => match state.get(key)? {
                Entry {
                    value: Known::Cutoff(cutoff),
                    epoch,
                } => Some((*cutoff, *epoch)),
                _ => return None,
            },
            None => None,
        };
        drop(state);
        compose(jti, session, cutoff, now)
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
        let capacity = self.settings.capacity;
        let mut put = |key: &Option<String>, value: Known, epoch: u64| {
            if let Some(key) = key {
                state.insert(key.clone(), Entry { value, epoch }, capacity);
            }
        };
        if let Some((until, epoch)) = facts.jti {
            put(&keys.jti, Known::Marker(until), epoch);
        }
        if let Some((ended, held, epoch)) = &facts.session {
            put(&keys.ended, Known::Marker(*ended), *epoch);
            put(&keys.session, Known::Session(held.clone()), *epoch);
        }
        if let Some((cutoff, epoch)) = facts.cutoff {
            put(&keys.cutoff, Known::Cutoff(cutoff), epoch);
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
        let facts = self.read_facts(&keys).await?;
        match facts.as_ref().and_then(|facts| facts.status(iss, now)) {
            Some(status) => {
                if let Some(facts) = &facts {
                    view.fill(token, &keys, facts);
                }
                Ok(status)
            }
            // A slot without its epoch, or a question of no part: the direct call.
            None => self.status_call(query).await,
        }
    }
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
        let held = Held {
            opened: 5,
            iss: Box::from(&b"i"[..]),
            until: 1_000,
        };
        Facts {
            jti: Some((None, 1)),
            session: Some((None, Some(held), 1)),
            cutoff: Some((None, 1)),
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
        assert_eq!(Some(status), facts().status("i", 10));
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
            let entry = Entry {
                value: Known::Marker(None),
                epoch: 1,
            };
            state.insert(format!("k{i}"), entry, 4);
        }
        assert!(state.hot.len() + state.cold.len() <= 4);
    }

    #[test]
    fn session_redis_view_judges_slots_that_lost_their_data_by_the_epoch() {
        // The cutoff's slot started its epoch (at 9) after the session opened (at 5): the
        // session is judged as one the store does not hold.
        let status = compose(None, Some((None, Some(5), 1)), Some((None, 9)), 10).unwrap();
        assert_eq!(status.session_opened_ms, None);
        assert_eq!(status.epoch_ms, Some(9));
        assert!(compose(None, None, None, 10).is_none());
    }
}
