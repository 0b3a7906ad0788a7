//! [`KeySource`]: where the keys of an issuer come from, a static [`KeySet`] or a remote JWKS,
//! and the look-up of a token's key in it.

#[cfg(feature = "jwks")]
use std::sync::Arc;

use jsonwebtoken::Algorithm;

#[cfg(feature = "jwks")]
use crate::keys::jwks::RemoteKeys;
use crate::keys::set::{KeySet, Resolution, Resolved};

/// The keys of one issuer.
#[derive(Clone, Debug)]
pub(crate) enum KeySource {
    Static(KeySet),
    #[cfg(feature = "jwks")]
    Remote(Arc<RemoteKeys>),
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
