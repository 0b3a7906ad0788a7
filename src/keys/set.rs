//! [`KeySet`]: a prepared set of keys and the selection of a token's key by `kid`, and what a
//! look-up of a key gives ([`Resolution`]), including the wait for a key fetch ([`KeyWait`]).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonwebtoken::Algorithm;

use crate::error::{AuthError, ConfigError, ErrorKind};
use crate::keys::key::{kid_is_valid, Key};

/// The configured keys, looked up by `kid`.
#[derive(Clone, Debug)]
pub(crate) struct KeySet {
    keys: Vec<Arc<Key>>,
    by_kid: HashMap<Arc<str>, usize>,
    algorithms: Vec<Algorithm>,
}

impl KeySet {
    pub(crate) fn new(keys: Vec<Key>) -> Result<Self, ConfigError> {
        Self::from_shared(keys.into_iter().map(Arc::new).collect())
    }

    /// A set of keys some of which may be shared with an earlier set.
    pub(crate) fn from_shared(keys: Vec<Arc<Key>>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let mut by_kid = HashMap::new();
        let mut algorithms = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid {
                if !kid_is_valid(kid) {
                    return Err(ConfigError::InvalidKid);
                }
                if by_kid.insert(kid.clone(), index).is_some() {
                    return Err(ConfigError::DuplicateKid {
                        kid: kid.to_string(),
                    });
                }
            }
            for alg in &key.algorithms {
                if !algorithms.contains(alg) {
                    algorithms.push(*alg);
                }
            }
        }
        Ok(Self {
            keys,
            by_kid,
            algorithms,
        })
    }

    /// The key of this set that is the same as `key`, if any.
    #[cfg(feature = "jwks")]
    pub(crate) fn find_same(&self, key: &Key) -> Option<&Arc<Key>> {
        self.keys.iter().find(|k| k.same_as(key))
    }

    /// `true` when some key may verify `algorithm`: the allow-list.
    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    /// Selects the key for a token. A `kid` is looked up exactly; a key without a `kid` is used
    /// only when it is the one key that may verify the token's algorithm. No key is ever tried
    /// after another.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<&Arc<Key>, AuthError> {
        if let Some(kid) = kid {
            // A short set is searched directly: cheaper than hashing the kid.
            let named = if self.keys.len() <= 8 {
                self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
            } else {
                self.by_kid.get(kid).and_then(|i| self.keys.get(*i))
            };
            if let Some(key) = named {
                return if key.allows(algorithm) {
                    Ok(key)
                } else {
                    Err(AuthError::new(
                        ErrorKind::AlgorithmNotAllowed,
                        "The key named by the token does not verify its algorithm",
                    ))
                };
            }
            // An unnamed key takes tokens with any kid only when it is the one candidate.
            return self
                .only_candidate(algorithm, |key| key.kid.is_none())
                .ok_or(AuthError::new(
                    ErrorKind::UnknownKey,
                    "No key matches the token's key id",
                ));
        }
        self.only_candidate(algorithm, |_| true)
            .ok_or(AuthError::new(
                ErrorKind::UnknownKey,
                "The token names no key and the choice of key is ambiguous",
            ))
    }

    fn only_candidate(
        &self,
        algorithm: Algorithm,
        filter: impl Fn(&Key) -> bool,
    ) -> Option<&Arc<Key>> {
        let mut candidates = self
            .keys
            .iter()
            .filter(|key| filter(key) && key.allows(algorithm));
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => Some(key),
            _ => None,
        }
    }
}

/// A key found for a token.
pub(crate) enum Resolved<'a> {
    Static(&'a Arc<Key>),
    #[cfg(feature = "jwks")]
    Remote(Arc<Key>),
}

impl Resolved<'_> {
    pub(crate) fn arc(&self) -> Arc<Key> {
        match self {
            Resolved::Static(key) => Arc::clone(key),
            #[cfg(feature = "jwks")]
            Resolved::Remote(key) => Arc::clone(key),
        }
    }

    pub(crate) fn key(&self) -> &Key {
        match self {
            Resolved::Static(key) => key,
            #[cfg(feature = "jwks")]
            Resolved::Remote(key) => key,
        }
    }
}

/// What looking up a key gave.
pub(crate) enum Resolution<'a> {
    Found(Resolved<'a>),
    Refused(AuthError),
    /// The key may arrive with a fetch that is under way: ask again when this completes.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    Wait(KeyWait),
}

/// A future that completes when a key fetch has finished, successfully or not.
pub(crate) struct KeyWait(Pin<Box<dyn Future<Output = ()> + Send>>);

impl KeyWait {
    #[cfg(feature = "jwks")]
    pub(crate) fn new(future: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(Box::pin(future))
    }
}

impl Future for KeyWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for KeyWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyWait")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn selection_by_kid_is_exact_and_never_falls_back() {
        let a = Key::hmac(Algorithm::HS256, SECRET).unwrap().with_kid("a");
        let b = Key::hmac(Algorithm::HS256, b"another secret of thirty-two b!!")
            .unwrap()
            .with_kid("b");
        let set = KeySet::new(vec![a, b]).unwrap();
        assert_eq!(
            set.select(Some("b"), Algorithm::HS256).unwrap().kid(),
            Some("b")
        );
        assert_eq!(
            set.select(Some("c"), Algorithm::HS256).unwrap_err().kind(),
            ErrorKind::UnknownKey
        );
        assert_eq!(
            set.select(None, Algorithm::HS256).unwrap_err().kind(),
            ErrorKind::UnknownKey
        );
        assert_eq!(
            set.select(Some("a"), Algorithm::HS384).unwrap_err().kind(),
            ErrorKind::AlgorithmNotAllowed
        );
    }

    #[test]
    fn a_single_key_is_unambiguous() {
        let set = KeySet::new(vec![Key::hmac(Algorithm::HS256, SECRET).unwrap()]).unwrap();
        assert!(set.select(None, Algorithm::HS256).is_ok());
        assert!(set.select(Some("anything"), Algorithm::HS256).is_ok());
        let named = KeySet::new(vec![Key::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k")])
        .unwrap();
        assert!(named.select(None, Algorithm::HS256).is_ok());
        assert_eq!(
            named
                .select(Some("other"), Algorithm::HS256)
                .unwrap_err()
                .kind(),
            ErrorKind::UnknownKey
        );
    }

    #[test]
    fn duplicate_and_bad_kids_are_refused() {
        let k = || Key::hmac(Algorithm::HS256, SECRET).unwrap();
        assert!(matches!(
            KeySet::new(vec![k().with_kid("x"), k().with_kid("x")]),
            Err(ConfigError::DuplicateKid { .. })
        ));
        assert_eq!(
            KeySet::new(vec![k().with_kid("bad\nkid")]).unwrap_err(),
            ConfigError::InvalidKid
        );
        assert_eq!(KeySet::new(vec![]).unwrap_err(), ConfigError::NoKeys);
    }

    #[cfg(feature = "jwks")]
    #[test]
    fn unchanged_keys_are_recognised_across_sets() {
        let a = || Key::hmac(Algorithm::HS256, SECRET).unwrap().with_kid("a");
        let set = KeySet::new(vec![a()]).unwrap();
        assert!(set.find_same(&a()).is_some());
        assert!(set.find_same(&a().with_kid("b")).is_none());
        let other = Key::hmac(Algorithm::HS256, b"another secret of thirty-two b!!")
            .unwrap()
            .with_kid("a");
        assert!(set.find_same(&other).is_none());
    }

    #[test]
    fn large_sets_are_searched_by_kid_too() {
        let keys: Vec<Key> = (0..12)
            .map(|i| {
                Key::hmac(Algorithm::HS256, [i as u8 + 1; 32])
                    .unwrap()
                    .with_kid(format!("k{i}"))
            })
            .collect();
        let set = KeySet::new(keys).unwrap();
        assert_eq!(
            set.select(Some("k11"), Algorithm::HS256).unwrap().kid(),
            Some("k11")
        );
        assert_eq!(
            set.select(Some("k12"), Algorithm::HS256)
                .unwrap_err()
                .kind(),
            ErrorKind::UnknownKey
        );
    }
}
