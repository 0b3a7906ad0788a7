//! The replay check of DPoP proofs (RFC 9449 §11.1): each proof's `jti` is accepted once within
//! the `iat` window. [`ReplayCache`] is the store the layer asks; [`MemoryReplayCache`] is the
//! default, bounded, in the process.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// The default bound of the [`MemoryReplayCache`]: 100,000 proofs.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// Why a replay store could not record a proof: the memory cache is full of proofs still within
/// their window, or a shared store could not answer. The layer refuses the proof with 503
/// `dpop_replay_cache_full`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError {
    reason: &'static str,
}

impl ReplayError {
    /// An error with a fixed description (never request data).
    pub const fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for ReplayError {}

/// The answer of a [`ReplayCache`], later.
pub type ReplayFuture = Pin<Box<dyn Future<Output = Result<bool, ReplayError>> + Send + 'static>>;

/// Where the proofs a layer accepted are remembered, so that each is accepted once.
///
/// A proof is named by 32 bytes (the SHA-256 of the proof key's thumbprint and the `jti`), and
/// remembered until `expires_at_ms` (milliseconds since the Unix epoch), the end of its `iat`
/// window. The answer is `Ok(true)` when the proof is new (and is now recorded), `Ok(false)`
/// when it was seen before, an error when the store cannot record it.
///
/// The crate gives [`MemoryReplayCache`], the default, the session store `MemoryStore` (one
/// process), and, with feature `redis`, the session store `RedisStore` (`SET NX PX`), which
/// instances share. A store that answers only
/// asynchronously (Redis) costs the request one round trip.
pub trait ReplayCache: Send + Sync + 'static {
    /// The answer at once, when the store has it without waiting (the memory cache); `None`
    /// makes the layer ask [`record`](Self::record).
    fn record_now(
        &self,
        id: &[u8; 32],
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Option<Result<bool, ReplayError>>;

    /// The answer, awaited.
    fn record(&self, id: [u8; 32], now_ms: u64, expires_at_ms: u64) -> ReplayFuture {
        let answer = self
            .record_now(&id, now_ms, expires_at_ms)
            .unwrap_or(Err(ReplayError::new("the replay store cannot answer")));
        Box::pin(std::future::ready(answer))
    }
}

/// The default replay cache: in memory, bounded (by default [`DEFAULT_REPLAY_CAPACITY`]
/// proofs). Proofs whose window has passed go first; when every place holds a proof still
/// within its window, a new proof is refused (503 `dpop_replay_cache_full`) rather than an old
/// one forgotten, which would let it be replayed.
pub struct MemoryReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    expiries: HashMap<[u8; 32], u64>,
    /// The proofs in the order they were recorded, which is the order their windows end in up
    /// to clock steps: the front is the first to go.
    order: VecDeque<([u8; 32], u64)>,
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl MemoryReplayCache {
    /// A cache of at most `capacity` proofs (at least 1). Memory grows with use, up to about
    /// 100 bytes a proof.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many proofs it holds, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.expiries.len()).unwrap_or(0)
    }

    /// `true` when it holds no proof.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Removes the proofs whose window ended at or before `now_ms`, from the front; then, if
    /// still full, any expired one further back (after a clock step).
    fn purge(&mut self, now_ms: u64, capacity: usize) {
        while let Some((id, expiry)) = self.order.front().copied() {
            if expiry > now_ms {
                break;
            }
            self.order.pop_front();
            if self.expiries.get(&id) == Some(&expiry) {
                self.expiries.remove(&id);
            }
        }
        if self.expiries.len() >= capacity {
            self.expiries.retain(|_, expiry| *expiry > now_ms);
            let expiries = &self.expiries;
            self.order
                .retain(|(id, expiry)| expiries.get(id) == Some(expiry));
        }
    }
}

impl ReplayCache for MemoryReplayCache {
    fn record_now(
        &self,
        id: &[u8; 32],
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Option<Result<bool, ReplayError>> {
        let Ok(mut inner) = self.inner.lock() else {
            return Some(Err(ReplayError::new("the replay cache is poisoned")));
        };
        if let Some(expiry) = inner.expiries.get(id) {
            if *expiry > now_ms {
                return Some(Ok(false));
            }
        }
        if inner.expiries.len() >= self.capacity {
            inner.purge(now_ms, self.capacity);
        }
        if inner.expiries.len() >= self.capacity {
            return Some(Err(ReplayError::new(
                "the replay cache is full of proofs within their window",
            )));
        }
        inner.expiries.insert(*id, expires_at_ms);
        inner.order.push_back((*id, expires_at_ms));
        Some(Ok(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_within_the_window_and_expired_entries_go_first() {
        let cache = MemoryReplayCache::new(2);
        let (a, b, c) = ([1; 32], [2; 32], [3; 32]);
        assert_eq!(cache.record_now(&a, 0, 100), Some(Ok(true)));
        assert_eq!(cache.record_now(&a, 50, 150), Some(Ok(false)));
        assert_eq!(cache.record_now(&b, 60, 160), Some(Ok(true)));
        // Full of live proofs: refused, nothing forgotten.
        assert!(matches!(cache.record_now(&c, 70, 170), Some(Err(_))));
        assert_eq!(cache.record_now(&a, 70, 170), Some(Ok(false)));
        // `a`'s window is over: it goes, `c` comes in.
        assert_eq!(cache.record_now(&c, 100, 200), Some(Ok(true)));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.record_now(&b, 120, 220), Some(Ok(false)));
    }
}
