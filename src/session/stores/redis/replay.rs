//! The store as a DPoP [`ReplayCache`]: one `SET key 1 NX PX ttl` per proof, so that every
//! instance sharing the store accepts each proof once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::RedisStore;
use crate::dpop::{ReplayCache, ReplayError, ReplayFuture};

impl RedisStore {
    /// The key of a proof: `<prefix>dpop:<id in base64url>`.
    fn dpop_key(&self, id: &[u8; 32]) -> String {
        format!("{}dpop:{}", self.inner.prefix, URL_SAFE_NO_PAD.encode(id))
    }
}

impl ReplayCache for RedisStore {
    fn record_now(
        &self,
        _id: &[u8; 32],
        _now_ms: u64,
        _expires_at_ms: u64,
    ) -> Option<Result<bool, ReplayError>> {
        None
    }

    fn record(&self, id: [u8; 32], now_ms: u64, expires_at_ms: u64) -> ReplayFuture {
        let store = self.clone();
        let key = self.dpop_key(&id);
        let ttl = expires_at_ms.saturating_sub(now_ms).max(1);
        Box::pin(async move {
            store
                .run(|mut con| async move {
                    let set: Option<String> = ::redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl)
                        .query_async(&mut con)
                        .await?;
                    Ok(set.is_some())
                })
                .await
                .map_err(|_| ReplayError::new("the Redis replay store could not answer"))
        })
    }
}
