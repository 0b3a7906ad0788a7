//! A bounded cache of verified tokens: a token seen before and still valid skips the signature.

use std::sync::{Arc, Weak};

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::error::ConfigError;
use crate::keys::key::Key;
use crate::revocation::TokenIdentity;
use crate::verify::roles::Roles;
use crate::verify::scopes::Scopes;
use crate::verify::Times;

/// What a verified token left in the cache.
pub(crate) struct Entry<C> {
    pub(crate) claims: C,
    pub(crate) scopes: Scopes,
    pub(crate) roles: Roles,
    pub(crate) times: Times,
    /// With a revocation store: the token's identity, which the check reads on every hit (its
    /// answer is never cached).
    pub(crate) identity: Option<TokenIdentity>,
    /// The key that verified it: when it leaves the key set, the entry is dead.
    key: Weak<Key>,
    weight: u64,
}

#[derive(Clone)]
struct Weigh {
    /// The least weight of an entry: the memory bound divided by the entry bound, so that the
    /// cache never holds more than the entry bound either.
    min: u64,
}

impl<C> Weighter<Box<[u8]>, Arc<Entry<C>>> for Weigh {
    fn weight(&self, _token: &Box<[u8]>, entry: &Arc<Entry<C>>) -> u64 {
        entry.weight.max(self.min)
    }
}

/// The cache of one layer.
pub(crate) struct TokenCache<C> {
    cache: Cache<Box<[u8]>, Arc<Entry<C>>, Weigh>,
}

impl<C> std::fmt::Debug for TokenCache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.cache.len())
            .field("weight", &self.cache.weight())
            .finish()
    }
}

/// Bounds of the verified-token cache.
pub(crate) const MAX_CACHE_ENTRIES: usize = 1 << 24;

impl<C> TokenCache<C> {
    /// A cache of at most `max_entries` tokens and about `max_bytes` of memory.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Result<Self, ConfigError> {
        if max_entries == 0 || max_entries > MAX_CACHE_ENTRIES || max_bytes < 1024 {
            return Err(ConfigError::InvalidCacheBound {
                max_entries,
                max_bytes,
            });
        }
        let min = (max_bytes as u64).div_ceil(max_entries as u64).max(1);
        Ok(Self {
            cache: Cache::with_weighter(max_entries, max_bytes as u64, Weigh { min }),
        })
    }
}

impl<C> TokenCache<C> {
    /// The entry of `token` if it is cached and still valid at `now`; a dead entry is removed.
    pub(crate) fn get(&self, token: &[u8], now: f64, leeway: f64) -> Option<Arc<Entry<C>>> {
        let entry = self.cache.get(token)?;
        if entry.times.valid_at(now, leeway) && entry.key.strong_count() > 0 {
            Some(entry)
        } else {
            self.cache.remove(token);
            None
        }
    }

    /// Remembers a verified token.
    pub(crate) fn insert(
        &self,
        token: &[u8],
        claims: C,
        (scopes, roles): (Scopes, Roles),
        times: Times,
        key: &Arc<Key>,
        identity: Option<TokenIdentity>,
    ) {
        // The claims live on the heap too; their size is about that of the token.
        let weight = (token.len() as u64) * 2 + std::mem::size_of::<Entry<C>>() as u64;
        let entry = Entry {
            claims,
            scopes,
            roles,
            times,
            identity,
            key: Arc::downgrade(key),
            weight,
        };
        self.cache.insert(token.into(), Arc::new(entry));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    fn key() -> Arc<Key> {
        Arc::new(Key::hmac(Algorithm::HS256, [7u8; 32]).unwrap())
    }

    #[test]
    fn bounds_are_checked() {
        assert!(TokenCache::<u8>::new(0, 1 << 20).is_err());
        assert!(TokenCache::<u8>::new(10, 10).is_err());
        assert!(TokenCache::<u8>::new(10, 1 << 20).is_ok());
    }

    #[test]
    fn entries_are_judged_again_on_every_hit() {
        let cache = TokenCache::<u8>::new(10, 1 << 20).unwrap();
        let key = key();
        let times = Times {
            exp: Some(100.0),
            nbf: Some(50.0),
            iat: None,
        };
        cache.insert(b"t", 1, Default::default(), times, &key, None);
        assert!(cache.get(b"t", 60.0, 0.0).is_some());
        assert!(cache.get(b"other", 60.0, 0.0).is_none());
        // Not valid yet at 40 (no leeway): refused and evicted.
        assert!(cache.get(b"t", 40.0, 0.0).is_none());
        assert_eq!(cache.len(), 0);
        cache.insert(b"t", 1, Default::default(), times, &key, None);
        assert!(cache.get(b"t", 100.0, 0.0).is_none(), "expired at exp");
        cache.insert(b"t", 1, Default::default(), times, &key, None);
        assert!(cache.get(b"t", 100.0, 5.0).is_some(), "within the leeway");
    }

    #[test]
    fn a_key_that_leaves_evicts_what_it_verified() {
        let cache = TokenCache::<u8>::new(10, 1 << 20).unwrap();
        let key = key();
        cache.insert(b"t", 1, Default::default(), Times::default(), &key, None);
        assert!(cache.get(b"t", 0.0, 0.0).is_some());
        drop(key);
        assert!(cache.get(b"t", 0.0, 0.0).is_none());
    }

    #[test]
    fn the_entry_bound_holds() {
        let cache = TokenCache::<u8>::new(4, 1 << 20).unwrap();
        let key = key();
        for i in 0..100 {
            cache.insert(
                format!("token-{i}").as_bytes(),
                1,
                Default::default(),
                Times::default(),
                &key,
                None,
            );
        }
        assert!(cache.len() <= 4, "{}", cache.len());
    }
}
