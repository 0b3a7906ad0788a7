//! Revocation: what a layer asks a store on every request. [`RevocationStore`] answers a
//! [`RevocationQuery`] for an accepted token's [`TokenIdentity`] with a [`RevocationStatus`] (in
//! one round trip), and records the revocations that need no session (a `jti`, a subject's
//! cutoff); a failure is a [`StoreError`].
//!
//! The session stores ([`MemoryStore`](crate::session::MemoryStore), the Redis store) implement
//! it as part of [`SessionStore`](crate::session::SessionStore); any other backend can implement
//! it alone for a layer that only checks revocation.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use crate::verify::identity::TokenIdentity;

/// The future a store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store could not answer. Both kinds map to HTTP 503: `session_store_unavailable` for the
/// refresh, logout and login endpoints, `revocation_unavailable` for the layer's check. Nothing
/// is let in because a store failed.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What went wrong in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or did not answer in time (Redis down, a timeout), or
    /// answered with something unexpected. Calls succeed again once it can be reached.
    Unavailable,
    /// The store is full: a new session was refused rather than evicting a live entry.
    Full,
}

impl StoreError {
    /// An [`Unavailable`](StoreErrorKind::Unavailable) error caused by `source`.
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind: StoreErrorKind::Unavailable,
            source: Some(source.into()),
        }
    }

    /// A [`Full`](StoreErrorKind::Full) error.
    pub fn full() -> Self {
        Self {
            kind: StoreErrorKind::Full,
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the store could not be reached or answer in time.
    pub fn is_unavailable(&self) -> bool {
        self.kind == StoreErrorKind::Unavailable
    }

    /// Whether the store refused a new session because it is full.
    pub fn is_full(&self) -> bool {
        self.kind == StoreErrorKind::Full
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StoreErrorKind::Unavailable => f.write_str("the session store is unavailable")?,
            StoreErrorKind::Full => {
                f.write_str("the session store is full and refused a new session")?
            }
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The layer's question for one request: is this access token revoked? All three parts are
/// answered in one call (one round trip for the Redis store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The token's `jti`.
    pub jti: Option<&'a str>,
    /// The token's `sid`.
    pub sid: Option<&'a str>,
    /// The token's `sub`.
    pub sub: Option<&'a str>,
}

impl<'a> RevocationQuery<'a> {
    /// The question for the token `identity`: its `jti`, and its `sid`, or without a `sid` its
    /// `sub` (the subject's cutoff judges only tokens without a session, see
    /// [`RevocationStatus::revokes`], so it is not asked for the others: one lookup fewer per
    /// request).
    ///
    /// ```
    /// use tower_jwt_auth::revocation::{RevocationQuery, TokenIdentity};
    ///
    /// let identity = TokenIdentity::new("j1", Some("s1".into()), "alice", 10, 20);
    /// let query = RevocationQuery::of(&identity);
    /// assert_eq!((query.jti, query.sid, query.sub), (Some("j1"), Some("s1"), None));
    /// ```
    pub fn of(identity: &'a TokenIdentity) -> Self {
        Self {
            jti: Some(&identity.jti),
            sid: identity.sid.as_deref(),
            sub: identity.sid.is_none().then_some(identity.sub.as_str()),
        }
    }
}

/// The answer to a [`RevocationQuery`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationStatus {
    /// The `jti` was revoked.
    pub jti_revoked: bool,
    /// The session (`sid`) was ended: logout, logout everywhere, or reuse detection.
    pub session_ended: bool,
    /// The subject's logout-everywhere cutoff, in seconds since the Unix epoch (the resolution
    /// of `iat`), if one is in force.
    pub subject_cutoff: Option<u64>,
}

impl RevocationStatus {
    /// A status with these parts. For store implementations.
    pub fn new(jti_revoked: bool, session_ended: bool, subject_cutoff: Option<u64>) -> Self {
        Self {
            jti_revoked,
            session_ended,
            subject_cutoff,
        }
    }

    /// Whether a token issued at `iat` (seconds) is refused. Its `jti` and its session decide
    /// exactly. The subject's cutoff covers tokens without a `sid` (from an outside identity
    /// provider) and refuses them when `iat <= cutoff`, at the one-second resolution of `iat`:
    /// a token issued in the same second as a logout everywhere is refused too, and a token
    /// issued by an instance whose clock runs behind may be refused (or, if it runs ahead,
    /// accepted) by up to that skew. A token with a `sid` is not judged by the cutoff, since
    /// logout everywhere ended each of the subject's sessions by `sid`.
    pub fn revokes(&self, iat: u64, has_sid: bool) -> bool {
        self.jti_revoked
            || self.session_ended
            || (!has_sid && self.subject_cutoff.is_some_and(|cutoff| iat <= cutoff))
    }
}

impl TokenIdentity {
    /// The revocation store's question for this token.
    #[deprecated(since = "0.3.0", note = "use `RevocationQuery::of(&identity)`")]
    pub fn query(&self) -> RevocationQuery<'_> {
        RevocationQuery::of(self)
    }
}

/// What the layer asks on every request, and the revocations that need no session.
///
/// Implementations answer [`status`](Self::status) in one round trip to their backend, and
/// never answer "not revoked" when they cannot tell: a failure is a [`StoreError`].
pub trait RevocationStore: Send + Sync {
    /// Whether the access token with these claims is revoked: its `jti`, its session, and its
    /// subject's cutoff, in one call.
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus>;

    /// The same answer without waiting, for stores that can give it at once (the in-memory
    /// store); `None` means "call [`status`](Self::status)". Lets the layer skip a future's
    /// allocation on the hot path.
    fn status_now(
        &self,
        query: RevocationQuery<'_>,
    ) -> Option<Result<RevocationStatus, StoreError>> {
        let _ = query;
        None
    }

    /// Revokes one access token by its `jti`, for `keep_for` (how long the token could still
    /// be accepted: its `exp` plus the leeway, minus now).
    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()>;

    /// Sets the subject's logout-everywhere cutoff to now (whole seconds), kept for `keep_for`.
    /// Tokens of the subject without a `sid` issued at or before it are refused
    /// ([`RevocationStatus::revokes`]).
    /// [`SessionStore::end_subject`](crate::session::SessionStore::end_subject) also ends the
    /// subject's sessions.
    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()>;

    /// Whether the store answers now, for readiness probes
    /// ([`JwtAuthLayer::readiness`](crate::JwtAuthLayer::readiness)). By default one
    /// [`status`](Self::status) call for an empty query (one round trip); a store may override
    /// it with a cheaper probe.
    fn ping(&self) -> StoreFuture<'_, ()> {
        let status = self.status(RevocationQuery::default());
        Box::pin(async move { status.await.map(|_| ()) })
    }
}

impl<T: RevocationStore + ?Sized> RevocationStore for Arc<T> {
    fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
        (**self).status(query)
    }
    fn status_now(
        &self,
        query: RevocationQuery<'_>,
    ) -> Option<Result<RevocationStatus, StoreError>> {
        (**self).status_now(query)
    }
    fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        (**self).revoke_token(jti, keep_for)
    }
    fn set_subject_cutoff<'a>(&'a self, sub: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
        (**self).set_subject_cutoff(sub, keep_for)
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        (**self).ping()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_revocation_status_cutoff_rule() {
        let status = RevocationStatus::new(false, false, Some(100));
        assert!(status.revokes(99, false));
        assert!(status.revokes(100, false), "iat == cutoff is refused");
        assert!(!status.revokes(101, false));
        assert!(
            !status.revokes(50, true),
            "sid tokens are judged by their session"
        );
        assert!(RevocationStatus::new(true, false, None).revokes(1, true));
        assert!(RevocationStatus::new(false, true, None).revokes(1, true));
        assert!(!RevocationStatus::default().revokes(1, false));
    }

    #[test]
    fn revocation_query_of_asks_the_sub_only_without_a_sid() {
        let with_sid = TokenIdentity::new("j1", Some("s1".into()), "alice", 1, 2);
        let query = RevocationQuery::of(&with_sid);
        assert_eq!(
            (query.jti, query.sid, query.sub),
            (Some("j1"), Some("s1"), None)
        );
        let without = TokenIdentity::new("j2", None, "bob", 1, 2);
        let query = RevocationQuery::of(&without);
        assert_eq!(
            (query.jti, query.sid, query.sub),
            (Some("j2"), None, Some("bob"))
        );
    }

    #[test]
    fn session_store_error_kinds_and_messages() {
        let e = StoreError::unavailable("connection refused");
        assert!(e.is_unavailable() && !e.is_full());
        assert_eq!(
            e.to_string(),
            "the session store is unavailable: connection refused"
        );
        assert!(StoreError::full().is_full());
        assert_eq!(StoreError::full().kind(), StoreErrorKind::Full);
    }
}
