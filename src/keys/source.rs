//! Where the keys of an issuer come from: a static set, or a remote JWKS.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonwebtoken::Algorithm;

use crate::error::AuthError;
use crate::keys::key::{Key, KeySet};

/// The keys of one issuer.
#[derive(Clone, Debug)]
pub(crate) enum KeySource {
    Static(KeySet),
    #[cfg(feature = "jwks")]
    Remote(Arc<crate::keys::jwks::RemoteKeys>),
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

impl KeySource {
    /// `true` when the source may verify `algorithm`: the allow-list, which never comes from the
    /// token.
    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        match self {
            KeySource::Static(keys) => keys.allows(algorithm),
            #[cfg(feature = "jwks")]
            KeySource::Remote(remote) => remote.allows(algorithm),
        }
    }

    /// Looks up the key for a token. `may_fetch` is false on the second look after a wait, so
    /// that one request causes at most one fetch.
    pub(crate) fn resolve(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
        may_fetch: bool,
    ) -> Resolution<'_> {
        #[cfg(not(feature = "jwks"))]
        let _ = may_fetch;
        match self {
            KeySource::Static(keys) => match keys.select(kid, algorithm) {
                Ok(key) => Resolution::Found(Resolved::Static(key)),
                Err(error) => Resolution::Refused(error),
            },
            #[cfg(feature = "jwks")]
            KeySource::Remote(remote) => remote.resolve(kid, algorithm, may_fetch),
        }
    }
}
