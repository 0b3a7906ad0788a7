//! The store as a DPoP [`ReplayCache`]: the layers and the sessions of one process that share
//! the store share one replay cache (a [`MemoryReplayCache`](crate::dpop::MemoryReplayCache) of
//! the default bound, 100,000 proofs).

use super::MemoryStore;
use crate::dpop::{ReplayCache, ReplayError};

impl ReplayCache for MemoryStore {
    fn record_now(
        &self,
        id: &[u8; 32],
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Option<Result<bool, ReplayError>> {
        self.inner.replay.record_now(id, now_ms, expires_at_ms)
    }
}
