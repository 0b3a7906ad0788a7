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

/// The layer's question for one request: is this access token revoked? Every part is answered
/// in one call (one round trip for the Redis store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The token's `jti`.
    pub jti: Option<&'a str>,
    /// The token's `sid`.
    pub sid: Option<&'a str>,
    /// The token's `sub`: its logout-everywhere cutoff.
    pub sub: Option<&'a str>,
    /// The token's `iss`: part of every revocation key (`None` reads as the empty issuer).
    pub iss: Option<&'a str>,
}

impl<'a> RevocationQuery<'a> {
    /// The question for the token `identity`: its `jti`, its `sid`, its `sub` (the subject's
    /// cutoff judges every token, see [`RevocationStatus::revokes`]) and its `iss`.
    ///
    /// ```
    /// use tower_jwt_auth::revocation::{RevocationQuery, TokenIdentity};
    ///
    /// let identity = TokenIdentity::new("j1", Some("s1".into()), "alice", 10, 20);
    /// let query = RevocationQuery::of(&identity);
    /// assert_eq!((query.jti, query.sid, query.sub), (Some("j1"), Some("s1"), Some("alice")));
    /// ```
    pub fn of(identity: &'a TokenIdentity) -> Self {
        Self {
            jti: Some(&identity.jti),
            sid: identity.sid.as_deref(),
            sub: Some(identity.sub.as_str()),
            iss: identity.iss.as_deref(),
        }
    }

    /// A question with these parts and no issuer ([`issuer`](Self::issuer) sets one).
    pub fn new(jti: Option<&'a str>, sid: Option<&'a str>, sub: Option<&'a str>) -> Self {
        Self {
            jti,
            sid,
            sub,
            iss: None,
        }
    }

    /// The same question for tokens of the issuer `iss`.
    #[must_use]
    pub fn issuer(mut self, iss: &'a str) -> Self {
        self.iss = Some(iss);
        self
    }

    /// The issuer as the keys use it: the empty string when the token names none.
    pub fn issuer_or_empty(&self) -> &'a str {
        self.iss.unwrap_or("")
    }
}

/// The answer to a [`RevocationQuery`].
///
/// Times are milliseconds since the Unix epoch. [`revokes`](Self::revokes) holds the rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationStatus {
    /// The `jti` was revoked.
    pub jti_revoked: bool,
    /// The session (`sid`) was ended: logout, or reuse detection.
    pub session_ended: bool,
    /// The subject's logout-everywhere cutoff (ms), if one is in force.
    pub subject_cutoff_ms: Option<u64>,
    /// When the token's session was opened (ms), when the store holds the session (of the
    /// token's issuer); `None` for an unknown, swept or outside session.
    pub session_opened_ms: Option<u64>,
    /// The store's epoch (ms): when it last started empty. Tokens issued before it are refused,
    /// so that a store that lost its data fails closed.
    pub epoch_ms: Option<u64>,
}

impl RevocationStatus {
    /// A status with these parts, no cutoff, no session time and no epoch. For store
    /// implementations: add the rest with the `with_*` methods.
    pub fn new(jti_revoked: bool, session_ended: bool) -> Self {
        Self {
            jti_revoked,
            session_ended,
            ..Self::default()
        }
    }

    /// The same, with the subject's cutoff (ms).
    #[must_use]
    pub fn with_subject_cutoff_ms(mut self, cutoff_ms: Option<u64>) -> Self {
        self.subject_cutoff_ms = cutoff_ms;
        self
    }

    /// The same, with the time the token's session was opened (ms).
    #[must_use]
    pub fn with_session_opened_ms(mut self, opened_ms: Option<u64>) -> Self {
        self.session_opened_ms = opened_ms;
        self
    }

    /// The same, with the store's epoch (ms).
    #[must_use]
    pub fn with_epoch_ms(mut self, epoch_ms: Option<u64>) -> Self {
        self.epoch_ms = epoch_ms;
        self
    }

    /// Whether a token issued at `iat` (seconds), with a `sid` or not, is refused.
    ///
    /// - Its `jti` and its ended session decide exactly.
    /// - The subject's cutoff (logout everywhere): a token whose session the store holds is
    ///   refused when the session was opened at or before the cutoff, to the millisecond, so a
    ///   login right after a logout everywhere, in the same second, is not affected. Any other
    ///   token (without a `sid`, or whose session is gone: swept, or outside) is refused when
    ///   `iat` is at or before the cutoff's second: a token issued in the same second as the
    ///   logout is refused too, and a clock skew between instances shifts the bound by as much.
    /// - The store's epoch: a token whose session the store does not hold is refused when it
    ///   was issued in a second before the epoch's (the store lost the revocations that may
    ///   have applied to it).
    pub fn revokes(&self, iat: u64, has_sid: bool) -> bool {
        if self.jti_revoked || self.session_ended {
            return true;
        }
        let opened = if has_sid {
            self.session_opened_ms
        } else {
            None
        };
        let cutoff = self.subject_cutoff_ms.is_some_and(|cutoff| match opened {
            Some(opened) => opened <= cutoff,
            None => iat <= cutoff / 1000,
        });
        let epoch = opened.is_none()
            && self
                .epoch_ms
                .is_some_and(|epoch| iat.saturating_mul(1000) < epoch / 1000 * 1000);
        cutoff || epoch
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

    /// Revokes one access token of the issuer `iss` (empty for none) by its `jti`, for
    /// `keep_for` (how long the token could still be accepted: its `exp` plus the leeway,
    /// minus now).
    fn revoke_token<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Sets the logout-everywhere cutoff of the subject `sub` of the issuer `iss` (empty for
    /// none) to now (milliseconds), kept for `keep_for`: the subject's tokens are then judged
    /// by [`RevocationStatus::revokes`]. One constant-time write.
    fn set_subject_cutoff<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()>;

    /// The `store` label of the store's metrics (feature `metrics`): `memory` and `redis` for
    /// the crate's stores, `other` by default. A fixed, bounded name.
    fn metrics_label(&self) -> &'static str {
        "other"
    }

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
    fn revoke_token<'a>(
        &'a self,
        iss: &'a str,
        jti: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        (**self).revoke_token(iss, jti, keep_for)
    }
    fn set_subject_cutoff<'a>(
        &'a self,
        iss: &'a str,
        sub: &'a str,
        keep_for: Duration,
    ) -> StoreFuture<'a, ()> {
        (**self).set_subject_cutoff(iss, sub, keep_for)
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        (**self).ping()
    }
    fn metrics_label(&self) -> &'static str {
        (**self).metrics_label()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_revocation_status_cutoff_rule() {
        // Cutoff at 100.500 s.
        let status = RevocationStatus::new(false, false).with_subject_cutoff_ms(Some(100_500));
        // Without a session: by `iat`, at the cutoff's second.
        assert!(status.revokes(99, false));
        assert!(
            status.revokes(100, false),
            "iat in the cutoff's second is refused"
        );
        assert!(!status.revokes(101, false));
        // A session the store holds: by its opening time, to the millisecond.
        let opened = |ms| status.with_session_opened_ms(Some(ms));
        assert!(opened(100_499).revokes(100, true));
        assert!(opened(100_500).revokes(100, true), "opened at the cutoff");
        assert!(
            !opened(100_501).revokes(100, true),
            "a login right after, in the same second, is not affected"
        );
        // A session that is gone (swept): by `iat`.
        assert!(status.revokes(50, true), "swept sessions are covered");
        assert!(!status.revokes(101, true));
        assert!(RevocationStatus::new(true, false).revokes(1, true));
        assert!(RevocationStatus::new(false, true).revokes(1, true));
        assert!(!RevocationStatus::default().revokes(1, false));
    }

    #[test]
    fn session_revocation_status_epoch_rule() {
        let status = RevocationStatus::new(false, false).with_epoch_ms(Some(100_700));
        assert!(status.revokes(99, false));
        assert!(status.revokes(99, true));
        assert!(
            !status.revokes(100, false),
            "the epoch's second is accepted"
        );
        assert!(
            !status.with_session_opened_ms(Some(1)).revokes(99, true),
            "a session the store holds outlived no data loss"
        );
    }

    #[test]
    fn revocation_query_of_asks_everything_with_the_issuer() {
        let with_sid = TokenIdentity::new("j1", Some("s1".into()), "alice", 1, 2).with_issuer("i");
        let query = RevocationQuery::of(&with_sid);
        assert_eq!(
            (query.jti, query.sid, query.sub, query.iss),
            (Some("j1"), Some("s1"), Some("alice"), Some("i"))
        );
        let without = TokenIdentity::new("j2", None, "bob", 1, 2);
        let query = RevocationQuery::of(&without);
        assert_eq!(
            (query.jti, query.sid, query.sub, query.issuer_or_empty()),
            (Some("j2"), None, Some("bob"), "")
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
