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
    /// With a revocation store: the token's identity, which the check reads on every hit (this
    /// cache never holds its answer).
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
        let weight = entry_weight::<C>(token, &scopes, &roles, identity.as_ref());
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

/// What an entry holds, in bytes: the token (the key), the claims, weighed as twice the
/// decoded payload (a claims type holds at least its JSON's strings, and a number or a map
/// entry in memory outweighs its text), the scopes and roles, the identity, and the entry
/// itself. The payload is weighed, not the token: a long signature or header holds nothing.
fn entry_weight<C>(
    token: &[u8],
    scopes: &Scopes,
    roles: &Roles,
    identity: Option<&TokenIdentity>,
) -> u64 {
    let payload = token.split(|b| *b == b'.').nth(1).map_or(0, <[u8]>::len);
    // Unpadded base64url: four characters hold three bytes.
    let decoded = payload / 4 * 3 + (payload % 4).saturating_sub(1);
    let strings = |items: &mut dyn Iterator<Item = &str>| -> usize {
        items
            .map(|s| s.len() + 2 * std::mem::size_of::<usize>())
            .sum()
    };
    let identity = identity.map_or(0, |id| {
        id.jti.len() + id.sub.len() + id.sid.as_ref().map_or(0, String::len)
    });
    let bytes = token.len()
        + 2 * decoded
        + strings(&mut scopes.iter())
        + strings(&mut roles.iter())
        + identity
        + std::mem::size_of::<Entry<C>>();
    bytes as u64
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

    /// An entry weighs what it holds: the decoded payload counts, the signature's length does
    /// not beyond the key's own bytes.
    #[test]
    fn an_entry_weighs_its_decoded_payload() {
        let empty = (Scopes::default(), Roles::default());
        let weigh = |token: &str| entry_weight::<u8>(token.as_bytes(), &empty.0, &empty.1, None);
        let overhead = std::mem::size_of::<Entry<u8>>() as u64;
        // 4 base64url characters decode to 3 bytes: 12 of payload, counted twice, plus the key.
        let small = "h.AAAAAAAAAAAAAAAA.s";
        assert_eq!(weigh(small), small.len() as u64 + 24 + overhead);
        // 2 and 3 trailing characters decode to 1 and 2 bytes.
        assert_eq!(weigh("h.AAAAAA.s"), 10 + 2 * 4 + overhead);
        assert_eq!(weigh("h.AAAAAAA.s"), 11 + 2 * 5 + overhead);
        // A payload of 30,000 characters outweighs the same length of signature by the claims.
        let big_payload = format!("h.{}.s", "A".repeat(30_000));
        let big_signature = format!("h.AA.{}", "A".repeat(30_000));
        assert!(weigh(&big_payload) >= 45_000 + 30_000);
        assert!(weigh(&big_signature) < 31_000 + overhead);
        // Roles, scopes and the identity count too.
        let scopes = Scopes::from_space_separated("read write");
        let identity = TokenIdentity::new("j".repeat(100), None, "s", 0, 1);
        let with = entry_weight::<u8>(small.as_bytes(), &scopes, &empty.1, Some(&identity));
        assert!(with >= weigh(small) + 9 + 101, "{with}");
        // The cache's memory bound follows: few big entries fit where many small ones do.
        let cache = TokenCache::<u8>::new(1000, 200_000).unwrap();
        let key = key();
        for i in 0..20 {
            let token = format!("h{i}.{}.s", "A".repeat(30_000));
            cache.insert(
                token.as_bytes(),
                1,
                Default::default(),
                Times::default(),
                &key,
                None,
            );
        }
        assert!(
            cache.len() <= 3,
            "{} entries of ~75 KB in 200 KB",
            cache.len()
        );
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
