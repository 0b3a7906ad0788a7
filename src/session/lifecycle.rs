//! [`Sessions`]: the session lifecycle as library API. Opening a session for a subject, refresh
//! with rotation, reuse detection and the grace window, logout, logout everywhere; the
//! verification side ([`Sessions::layer_builder`], [`Sessions::jwks_document`]) comes from the
//! same configuration.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::cookies::CookieSettings;
use super::error::{ReuseEvent, ReuseHook, SessionError, SessionErrorKind};
use super::grant::{Grant, IssueError};
use super::issue::AccessTokenMinter;
use super::refresh_token::{
    RefreshToken, RefreshTokenKey, SealedSuccessor, SessionId, SuccessorPair,
};
use super::stores::{
    ClientInfo, Lookup, NewSession, RotateOutcome, Rotation, SessionInfo, SessionLimits,
    SessionStore,
};
use super::token_pair::TokenPair;
use crate::builder::JwtAuthBuilder;
use crate::clock::unix_secs;
use crate::csrf::CsrfGuard;
use crate::keys::key::Key;
use crate::metrics::{SessionEvent, SessionMetrics, StoreOp};
use crate::revocation::{StoreError, TokenIdentity};
use crate::source::TokenSource;

/// The session lifecycle: opens sessions, refreshes them (rotation, reuse detection, the grace
/// window), ends them, and configures the layer that verifies their access tokens.
///
/// Cloning is cheap: clones share the configuration and the store.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::session::{Grant, Sessions};
/// use tower_jwt_auth::{Algorithm, SigningKey};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = Sessions::builder()
///     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
///     .issuer("https://issuer.example")?
///     .audience("api")?
///     .build()?; // the in-memory store, 10 min access tokens, 7 days idle, 30 days absolute
///
/// // After checking the user's credentials:
/// let pair = sessions.open(Grant::new("user-42").scope("read")).await?;
/// assert_eq!(pair.token_type(), "Bearer");
///
/// // When the access token expires:
/// let next = sessions.refresh(pair.refresh_token()).await?;
/// assert_ne!(next.refresh_token(), pair.refresh_token());
///
/// // The layer that checks the access tokens, from the same configuration:
/// let auth = sessions.layer_builder::<Claims>().build()?;
/// # let _ = auth;
///
/// // Logout, with nothing but the refresh token:
/// assert!(sessions.logout_by_refresh_token(next.refresh_token()).await?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Sessions")
            .field("minter", &inner.minter)
            .field("limits", &inner.limits)
            .field("leeway", &inner.leeway)
            .field("cookies", &inner.cookies)
            .field("csrf", &inner.csrf)
            .field("on_reuse", &inner.on_reuse.is_some())
            .finish_non_exhaustive()
    }
}

/// What [`SessionsBuilder::build`](super::SessionsBuilder::build) assembles.
pub(super) struct Inner {
    /// The issuing settings (keys, issuer, audiences, lifetime, `typ`) and the clock.
    pub(super) minter: AccessTokenMinter,
    pub(super) refresh_key: RefreshTokenKey,
    pub(super) store: Arc<dyn SessionStore>,
    pub(super) limits: SessionLimits,
    /// Whether a clock was configured (it then goes to the layer too).
    pub(super) clock_set: bool,
    pub(super) leeway: Duration,
    pub(super) cookies: Option<CookieSettings>,
    pub(super) csrf: CsrfGuard,
    pub(super) on_reuse: Option<ReuseHook>,
    /// The session events and the timings of the store calls (feature `metrics`).
    pub(super) metrics: SessionMetrics,
    /// How the login and refresh check DPoP proofs.
    pub(super) dpop: crate::dpop::DpopConfig,
}

impl Sessions {
    /// Opens a session for the grant's subject (after the application checked the user's
    /// credentials): an access token with the session's `sid` and its first refresh token. The
    /// grant is kept with the session, so that every refreshed access token carries the same
    /// scopes and claims.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::Issue`] for a grant the minter refuses (empty subject, a scope that
    /// is not a scope-token, a reserved claim name) or a failure of the random number
    /// generator or the signature; [`SessionErrorKind::StoreUnavailable`] when the store
    /// cannot be reached or is full. Nothing is stored when an error is returned.
    pub async fn open(&self, grant: Grant) -> Result<TokenPair, SessionError> {
        self.open_for(grant, ClientInfo::default()).await
    }

    /// [`open`](Self::open), with the client to record.
    pub(super) async fn open_for(
        &self,
        grant: Grant,
        client: ClientInfo,
    ) -> Result<TokenPair, SessionError> {
        let inner = &*self.inner;
        let sid = SessionId::generate().map_err(SessionError::crypto)?;
        let refresh = inner
            .refresh_key
            .issue(&sid)
            .map_err(SessionError::crypto)?;
        let now = inner.minter.now();
        // Minting first: a grant the minter refuses creates no session.
        let access = inner
            .minter
            .mint_at(&grant, sid.as_str(), now)
            .map_err(SessionError::issue)?;
        let data =
            serde_json::to_vec(&grant).map_err(|_| SessionError::issue(IssueError::Signing))?;
        let sid_text = sid.as_str().to_owned();
        let session = NewSession::new(sid, grant.subject(), refresh.hash(), data)
            .with_issuer(inner.minter.issuer())
            .with_client(client);
        let created = inner
            .metrics
            .store
            .timed(StoreOp::Create, inner.store.open(session, &inner.limits))
            .await
            .map_err(SessionError::store)?;
        inner.metrics.event(SessionEvent::Opened);
        // One event per request: a login whose cap ended sessions counts one `capped`.
        if created.capped() > 0 {
            inner.metrics.event(SessionEvent::Capped);
        }
        let expires_in = access.lifetime().as_secs();
        let session_expires_at =
            unix_secs(now).saturating_add(inner.limits.absolute_lifetime.as_secs());
        let remaining = inner
            .limits
            .absolute_lifetime
            .min(inner.limits.idle_timeout)
            .as_secs();
        Ok(TokenPair::new(
            access.into_string(),
            refresh.as_str().to_owned(),
            expires_in,
            session_expires_at,
            sid_text,
            remaining,
        )
        .bound(grant.dpop_jkt().is_some()))
    }

    /// Checks the `DPoP` proof of a login or refresh request (RFC 9449 §5: a token request, so
    /// no `ath`), with the sessions' [DPoP settings](super::SessionsBuilder::dpop), and records
    /// it against replay. `Ok(Some(jkt))`: the thumbprint of the proof's key, for
    /// [`Grant::dpop_bound`] at a login; `Ok(None)`: the request has no proof.
    ///
    /// The proof's `htu` is compared with the request's URI; its path may also end with the
    /// request's path after a mount prefix (`/auth/refresh` for a service nested at `/auth`,
    /// which sees `/refresh`).
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::InvalidDpopProof`] for a proof that fails a check, or two `DPoP`
    /// headers; [`SessionErrorKind::StoreUnavailable`] when the replay cache is full or cannot
    /// answer.
    pub async fn check_dpop_proof(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<Option<String>, SessionError> {
        let now = crate::clock::unix_millis(self.inner.minter.now());
        self.inner
            .dpop
            .check_token_request(method, uri, headers, now)
            .await
            .map_err(|error| match error.kind() {
                crate::ErrorKind::DpopReplayCacheFull => SessionError::store(
                    StoreError::unavailable("the DPoP replay cache cannot take the proof"),
                ),
                _ => SessionError::new(SessionErrorKind::InvalidDpopProof),
            })
    }

    /// [`refresh`](Self::refresh) with the thumbprint of the request's checked DPoP proof
    /// ([`check_dpop_proof`](Self::check_dpop_proof)), if it has one. A session bound to a key
    /// (opened with [`Grant::dpop_bound`]) is refreshed only with a proof by that key; without
    /// it the refresh is refused with [`SessionErrorKind::InvalidDpopProof`] before anything
    /// changes: a stolen bound refresh token neither refreshes nor ends the victim's session.
    ///
    /// # Errors
    ///
    /// Those of [`refresh`](Self::refresh), and [`SessionErrorKind::InvalidDpopProof`].
    pub async fn refresh_dpop(
        &self,
        refresh_token: &str,
        proof_jkt: Option<&str>,
    ) -> Result<TokenPair, SessionError> {
        self.refresh_bound(refresh_token, None, proof_jkt).await
    }

    /// Refreshes a session: the presented refresh token is rotated (RFC 9700 §4.14.2) and a
    /// new access token and refresh token of the same session are returned.
    ///
    /// - Presented again within the grace window: the same pair the first presentation got,
    ///   and the session lives on (two tabs, a retry, two instances racing).
    /// - Presented again after the grace window: the whole session is ended, a `warn` tracing
    ///   event names its subject and `sid` (never a token), the
    ///   [`on_reuse`](super::SessionsBuilder::on_reuse) hook is called, and the answer is
    ///   [`SessionErrorKind::RefreshReused`].
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::InvalidRefreshToken`] for an unknown, forged, malformed or oversized (over
    /// 512 bytes) token, [`SessionErrorKind::RefreshExpired`] for one past the idle timeout or
    /// the absolute lifetime, [`SessionErrorKind::RefreshReused`] (above),
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer. Only a rotation or
    /// a detected reuse changes the store.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, SessionError> {
        self.refresh_for(refresh_token, None).await
    }

    /// [`refresh`](Self::refresh), with the client to record, if any.
    pub(super) async fn refresh_for(
        &self,
        refresh_token: &str,
        client: Option<ClientInfo>,
    ) -> Result<TokenPair, SessionError> {
        self.refresh_bound(refresh_token, client, None).await
    }

    /// [`refresh`](Self::refresh), with the client to record and the thumbprint of the
    /// request's checked DPoP proof, if any.
    pub(super) async fn refresh_bound(
        &self,
        refresh_token: &str,
        client: Option<ClientInfo>,
        proof_jkt: Option<&str>,
    ) -> Result<TokenPair, SessionError> {
        let inner = &*self.inner;
        // A forged token never reaches the store (see `SessionStore`'s docs).
        let (presented, sid) = self
            .verified(refresh_token)
            .ok_or_else(|| SessionError::new(SessionErrorKind::InvalidRefreshToken))?;
        let info = match inner
            .metrics
            .store
            .timed(StoreOp::Lookup, inner.store.lookup(&sid, &presented.hash()))
            .await
            .map_err(SessionError::store)?
        {
            Lookup::Found(info) => info,
            Lookup::Expired => {
                inner.metrics.event(SessionEvent::Expired);
                return Err(SessionError::new(SessionErrorKind::RefreshExpired));
            }
            Lookup::Unknown => {
                return Err(SessionError::new(SessionErrorKind::InvalidRefreshToken))
            }
        };
        let grant: Grant = serde_json::from_slice(info.data()).map_err(|e| {
            SessionError::store(StoreError::unavailable(format!(
                "the session's grant does not parse: {e}"
            )))
        })?;
        // A bound session: the proof's key or nothing, before the store changes anything.
        let bound = grant.dpop_jkt().is_some();
        if let Some(jkt) = grant.dpop_jkt() {
            if proof_jkt != Some(jkt) {
                return Err(SessionError::new(SessionErrorKind::InvalidDpopProof));
            }
        }
        let now = inner.minter.now();
        let access = inner
            .minter
            .mint_at(&grant, info.sid().as_str(), now)
            .map_err(SessionError::issue)?;
        let expires_in = access.lifetime().as_secs();
        let access_expires_at = unix_secs(access.expires_at());
        let pair = SuccessorPair {
            access_token: access.into_string(),
            access_expires_at,
            refresh_token: inner
                .refresh_key
                .issue(info.sid())
                .map_err(SessionError::crypto)?,
        };
        let sealed = SealedSuccessor::seal(&presented, &pair).map_err(SessionError::crypto)?;
        let mut rotation = Rotation::new(&info, pair.refresh_token.hash(), sealed);
        if let Some(client) = client {
            rotation = rotation.with_client(client);
        }
        let session_expires_at = unix_secs(info.absolute_expires_at());
        let remaining = session_expires_at
            .saturating_sub(unix_secs(now))
            .min(inner.limits.idle_timeout.as_secs());
        let sid = info.sid().as_str().to_owned();
        let outcome = inner
            .metrics
            .store
            .timed(StoreOp::Rotate, inner.store.rotate(rotation, &inner.limits))
            .await
            .map_err(SessionError::store)?;
        inner.metrics.event(match &outcome {
            RotateOutcome::Rotated { .. } => SessionEvent::Refreshed,
            RotateOutcome::Grace(_) => SessionEvent::GraceReplay,
            RotateOutcome::Reused { .. } => SessionEvent::Reused,
            RotateOutcome::Expired => SessionEvent::Expired,
            RotateOutcome::Unknown => {
                return Err(SessionError::new(SessionErrorKind::InvalidRefreshToken))
            }
        });
        match outcome {
            RotateOutcome::Rotated { .. } => Ok(TokenPair::from_successor(
                pair,
                expires_in,
                session_expires_at,
                &sid,
                remaining,
            )
            .bound(bound)),
            RotateOutcome::Grace(sealed) => {
                let first = sealed.open(&presented).map_err(SessionError::crypto)?;
                let expires_in = first.access_expires_at.saturating_sub(unix_secs(now));
                Ok(TokenPair::from_successor(
                    first,
                    expires_in,
                    session_expires_at,
                    &sid,
                    remaining,
                )
                .bound(bound))
            }
            RotateOutcome::Reused { sid, sub } => {
                let event = ReuseEvent {
                    sub,
                    sid: sid.as_str().to_owned(),
                };
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    sub = %event.sub,
                    sid = %event.sid,
                    "a used refresh token was presented again after the grace window: the session was ended"
                );
                if let Some(hook) = &inner.on_reuse {
                    hook(&event);
                }
                Err(SessionError::new(SessionErrorKind::RefreshReused))
            }
            RotateOutcome::Expired => Err(SessionError::new(SessionErrorKind::RefreshExpired)),
            RotateOutcome::Unknown => Err(SessionError::new(SessionErrorKind::InvalidRefreshToken)),
        }
    }

    /// Ends the session `sid` of these sessions' issuer (logout): its refresh tokens stop
    /// working at once, and its access tokens are reported revoked to a layer with a revocation
    /// store. Returns whether a live session was ended; an empty `sid` ends nothing and is not
    /// an error.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout(&self, sid: &str) -> Result<bool, SessionError> {
        self.inner.metrics.event(SessionEvent::Logout);
        self.end_session_of(self.inner.minter.issuer(), sid).await
    }

    /// Ends the session `sid` of the issuer `iss`: any non-empty `sid`, an outside identity
    /// provider's too, whose access tokens are then refused as `revoked`.
    pub(super) async fn end_session_of(&self, iss: &str, sid: &str) -> Result<bool, SessionError> {
        if sid.is_empty() {
            return Ok(false);
        }
        let inner = &*self.inner;
        inner
            .metrics
            .store
            .timed(
                StoreOp::End,
                inner.store.end_session(iss, sid, &inner.limits),
            )
            .await
            .map_err(SessionError::store)
    }

    /// Ends the session of the access token `identity` describes: its session when it has a
    /// `sid`, else the token alone (by `jti`, until it expires). Returns whether a live
    /// session was ended.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_identity(&self, identity: &TokenIdentity) -> Result<bool, SessionError> {
        let iss = identity.iss.as_deref().unwrap_or("");
        self.inner.metrics.event(SessionEvent::Logout);
        if let Some(sid) = &identity.sid {
            return self.end_session_of(iss, sid).await;
        }
        let inner = &*self.inner;
        let until = identity.exp.saturating_add(inner.leeway.as_secs());
        let keep_for = Duration::from_secs(until.saturating_sub(unix_secs(inner.minter.now())));
        if !keep_for.is_zero() && !identity.jti.is_empty() {
            let revoke = inner.store.revoke_token(iss, &identity.jti, keep_for);
            inner
                .metrics
                .store
                .timed(StoreOp::Revoke, revoke)
                .await
                .map_err(SessionError::store)?;
        }
        Ok(false)
    }

    /// Ends the session a refresh token belongs to (logout with nothing but the refresh token,
    /// as RFC 7009 revocation does). Returns whether a live session was ended. An unknown,
    /// expired, malformed or oversized token ends nothing and is **not** an error, so that the
    /// answer reveals nothing about which tokens exist (RFC 7009 §2.2); a token already rotated
    /// ends its session too.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_by_refresh_token(&self, refresh_token: &str) -> Result<bool, SessionError> {
        let inner = &*self.inner;
        inner.metrics.event(SessionEvent::Logout);
        let Some((presented, sid)) = self.verified(refresh_token) else {
            return Ok(false);
        };
        match inner
            .metrics
            .store
            .timed(StoreOp::Lookup, inner.store.lookup(&sid, &presented.hash()))
            .await
            .map_err(SessionError::store)?
        {
            Lookup::Found(info) => {
                self.end_session_of(inner.minter.issuer(), info.sid().as_str())
                    .await
            }
            Lookup::Expired | Lookup::Unknown => Ok(false),
        }
    }

    /// The live session whose current refresh token this is, without using the token: its
    /// `sid`, its subject and its expiry ([`SessionInfo::expires_at`], the earlier of the
    /// absolute and the idle expiry). `None` for an unknown, expired, malformed, oversized or
    /// forged token, and for a token already rotated (a refresh would refuse it, or end the
    /// session). Nothing in the store changes.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn find_session(
        &self,
        refresh_token: &str,
    ) -> Result<Option<SessionInfo>, SessionError> {
        let Some((presented, sid)) = self.verified(refresh_token) else {
            return Ok(None);
        };
        let inner = &*self.inner;
        match inner
            .metrics
            .store
            .timed(StoreOp::Lookup, inner.store.lookup(&sid, &presented.hash()))
            .await
            .map_err(SessionError::store)?
        {
            // Only the session's current token: an older one would be refused (or end the
            // session) at a refresh.
            Lookup::Found(info) if info.is_current() => Ok(Some(info)),
            Lookup::Found(_) | Lookup::Expired | Lookup::Unknown => Ok(None),
        }
    }

    /// The session a refresh token names, when its MAC verifies under this service's
    /// [`RefreshTokenKey`]; no store access, and nothing said about whether the session is
    /// alive or the token current.
    pub fn session_id_of(&self, refresh_token: &str) -> Option<SessionId> {
        self.verified(refresh_token).map(|(_, sid)| sid)
    }

    /// The presented token and the session it names, when its form is valid and its MAC
    /// verifies under this service's key: the check before any store access.
    fn verified(&self, refresh_token: &str) -> Option<(RefreshToken, SessionId)> {
        let presented = RefreshToken::parse(refresh_token).ok()?;
        let sid = self.inner.refresh_key.verify(&presented).ok()?;
        Some((presented, sid))
    }

    /// Logout everywhere: sets the subject's cutoff (to the millisecond), one constant-time
    /// step however many sessions it has. Every session opened at or before it is ended: its
    /// refresh tokens are refused (`invalid_refresh_token`) and its access tokens `revoked`,
    /// as are the subject's access tokens without a `sid` issued at or before the cutoff's
    /// second. A login right after is not affected. Returns how many sessions the cutoff
    /// covered, as far as the store can tell at once.
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_everywhere(&self, sub: &str) -> Result<usize, SessionError> {
        self.logout_everywhere_of(self.inner.minter.issuer(), sub)
            .await
    }

    /// Logout everywhere for the subject of the access token `identity` describes, keyed by
    /// its issuer ([`logout_everywhere`](Self::logout_everywhere)).
    ///
    /// # Errors
    ///
    /// [`SessionErrorKind::StoreUnavailable`] when the store cannot answer.
    pub async fn logout_everywhere_identity(
        &self,
        identity: &TokenIdentity,
    ) -> Result<usize, SessionError> {
        self.logout_everywhere_of(identity.iss.as_deref().unwrap_or(""), &identity.sub)
            .await
    }

    async fn logout_everywhere_of(&self, iss: &str, sub: &str) -> Result<usize, SessionError> {
        if sub.is_empty() {
            return Ok(0);
        }
        let inner = &*self.inner;
        inner.metrics.event(SessionEvent::LogoutAll);
        inner
            .metrics
            .store
            .timed(
                StoreOp::EndSubject,
                inner.store.end_subject(iss, sub, &inner.limits),
            )
            .await
            .map_err(SessionError::store)
    }

    /// The verification keys of every signing key, the active one first.
    pub fn verification_keys(&self) -> Vec<Key> {
        self.inner.minter.signing_keys().verification_keys()
    }

    /// The public verification keys as a JWKS document, to serve at
    /// `/.well-known/jwks.json` (HMAC keys are never published).
    pub fn jwks_document(&self) -> String {
        self.inner.minter.signing_keys().jwks_document()
    }

    /// A layer configuration that accepts the access tokens these sessions issue: the
    /// verification keys, the issuer, the audiences, the leeway, `typ("at+jwt")` when the tokens
    /// are typed so, and the clock when one was configured; with
    /// [cookies](super::SessionsBuilder::cookies), the bearer header and the access cookie as
    /// token sources; and the [CSRF guard](super::SessionsBuilder::csrf). Add more settings
    /// before `build()`. With cookies, `build()` refuses token sources that leave the access
    /// cookie out ([`ConfigError::SessionCookieNotRead`](crate::ConfigError::SessionCookieNotRead)):
    /// a layer that cannot read the cookies its sessions set cannot be built. It checks
    /// revocation only when given [`revocation`](JwtAuthBuilder::revocation)`(sessions.store().clone())`;
    /// the layer of [`routes`](Self::routes) always does.
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, SigningKey};
    /// # use tower_jwt_auth::session::Sessions;
    /// # #[derive(Clone, serde::Deserialize)] struct Claims { sub: String }
    /// # let sessions = Sessions::builder()
    /// #     .signing_key(SigningKey::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)?
    /// #     .issuer("https://issuer.example")?.audience("api")?.build()?;
    /// let auth = sessions.layer_builder::<Claims>().token_cache(10_000, 4 << 20)?.build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn layer_builder<C>(&self) -> JwtAuthBuilder<C> {
        let inner = &*self.inner;
        let minter = &inner.minter;
        let mut builder = JwtAuthBuilder::<C>::new()
            .keys(self.verification_keys())
            .issued_by(
                minter.issuer(),
                minter.audiences(),
                inner.leeway,
                minter.is_at_jwt_typ(),
            );
        if inner.clock_set {
            builder = builder.clock(minter.clock().clone());
        }
        if let Some(cookies) = &inner.cookies {
            // The cookie settings checked their names when they were made.
            // And the build fails if later sources leave the access cookie out.
            builder = builder
                .checked_token_sources([TokenSource::bearer(), cookies.token_source()])
                .require_token_source(cookies.token_source());
        }
        builder.csrf(inner.csrf.clone())
    }

    /// The cookie settings, when the sessions serve browsers
    /// ([`SessionsBuilder::cookies`](super::SessionsBuilder::cookies)), which
    /// [`login`](Self::login) sets.
    pub fn cookie_settings(&self) -> Option<&CookieSettings> {
        self.inner.cookies.as_ref()
    }

    /// The CSRF guard of the layer and the endpoints
    /// ([`SessionsBuilder::csrf`](super::SessionsBuilder::csrf)), which
    /// [`login`](Self::login) runs too.
    pub fn csrf_guard(&self) -> &CsrfGuard {
        &self.inner.csrf
    }

    /// The store: what a layer given a revocation store asks.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The lifetimes passed to the store.
    pub fn limits(&self) -> SessionLimits {
        self.inner.limits
    }
}
