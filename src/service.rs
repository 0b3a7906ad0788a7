//! [`JwtAuth`], the middleware service: finds a request's token, verifies it (or finds it in the
//! verified-token cache), and calls the inner service, refuses, or waits for a key fetch.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::cache::TokenCache;
use crate::dpop::{DpopMode, Presented, ReplayCheck, DPOP};
use crate::error::{AuthError, ErrorKind};
use crate::future::ResponseFuture;
use crate::keys::set::KeyWait;
use crate::metrics::{LayerMetrics, StoreMetrics, StoreOp};
use crate::mode::ModeConfig;
use crate::rejection::{reject, DefaultRejection, ResponseForAuthError};
use crate::revocation::{
    RevocationQuery, RevocationStatus, RevocationStore, StoreError, TokenIdentity,
};
use crate::source::{find_token, Found, TokenSourceKind};
use crate::verify::roles::Roles;
use crate::verify::scopes::Scopes;
use crate::verify::VerifyConfig;
use crate::verify::{verify, Failure, Verified};

/// Middleware that verifies the access token of each request and puts its claims `C` into the
/// request extensions; see the [crate docs](crate) for an example.
///
/// Built by [`JwtAuthLayer`](crate::JwtAuthLayer).
#[must_use]
pub struct JwtAuth<S, C, R = DefaultRejection> {
    inner: S,
    /// Everything the clones share, behind one reference count: servers clone the service for
    /// every request (axum's routes and hyper's `service_fn` do), and on many cores each count
    /// is a cache line the cores contend for.
    shared: Arc<Shared<C, R>>,
}

/// The configuration of one [`JwtAuth`] and of its clones.
struct Shared<C, R> {
    config: Arc<VerifyConfig>,
    cache: Option<Arc<TokenCache<C>>>,
    mode: ModeConfig<C>,
    rejection: R,
    /// The revocation check, when the layer has a store.
    revocation: Option<Arc<Revocation>>,
    metrics: LayerMetrics,
    _claims: PhantomData<fn() -> C>,
}

/// A layer's revocation check: the store, asked on every request with a token, and what a
/// store failure does.
pub(crate) struct Revocation {
    pub(crate) store: Arc<dyn RevocationStore>,
    /// Let the request in when the store cannot answer (off by default: 503).
    pub(crate) fail_open: bool,
    /// The timings and errors of the status calls (feature `metrics`).
    pub(crate) metrics: StoreMetrics,
}

impl fmt::Debug for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revocation")
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

const REVOKED: AuthError = AuthError::new(ErrorKind::Revoked, "The access token was revoked");
const REVOCATION_UNAVAILABLE: AuthError = AuthError::new(
    ErrorKind::RevocationUnavailable,
    "The revocation of the access token cannot be checked right now",
);

/// The answer of the stores asked asynchronously: the DPoP replay store's (a refusal, if any),
/// then the revocation store's, with the identity it was asked about (`None` without a
/// revocation store).
pub(crate) type CheckAnswer =
    Result<Option<(TokenIdentity, Result<RevocationStatus, StoreError>)>, AuthError>;

/// The stores' answer, awaited.
type CheckFuture = Pin<Box<dyn Future<Output = CheckAnswer> + Send>>;

/// An accepted token whose revocation status the store has yet to give (a store without a
/// synchronous answer, such as Redis): the question under way, and the claims and scopes to
/// hand over if the token is not revoked.
pub(crate) struct PendingCheck<C> {
    future: CheckFuture,
    granted: Option<(C, (Scopes, Roles))>,
}

impl<C> PendingCheck<C> {
    /// Polls the store's answer.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CheckAnswer> {
        self.future.as_mut().poll(cx)
    }

    /// The claims and scopes to hand over (once).
    pub(crate) fn take_granted(&mut self) -> Option<(C, (Scopes, Roles))> {
        self.granted.take()
    }
}

impl<S, C, R> JwtAuth<S, C, R> {
    pub(crate) fn new(
        inner: S,
        config: Arc<VerifyConfig>,
        cache: Option<Arc<TokenCache<C>>>,
        mode: ModeConfig<C>,
        rejection: R,
        revocation: Option<Arc<Revocation>>,
        metrics: LayerMetrics,
    ) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                config,
                cache,
                mode,
                rejection,
                revocation,
                metrics,
                _claims: PhantomData,
            }),
        }
    }

    define_inner_service_accessors!();
}

impl<S: Clone, C, R> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, C, R: fmt::Debug> fmt::Debug for JwtAuth<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("config", &self.shared.config)
            .field("mode", &self.shared.mode)
            .field("rejection", &self.shared.rejection)
            .field("claims", &std::any::type_name::<C>())
            .finish()
    }
}

/// What became of a request.
enum Outcome<C> {
    /// Verified, and the claims, scopes and roles are in the request's extensions.
    Authenticated,
    /// Handed on without claims; with the failure of the token the request carried, if any.
    Anonymous(Option<ErrorKind>),
    Refused(AuthError),
    /// The token's key may arrive with a fetch that is under way.
    Wait(KeyWait),
    /// The token is accepted unless the revocation store, asked asynchronously, says otherwise.
    Check(Box<PendingCheck<C>>),
}

impl<S, C, R> JwtAuth<S, C, R>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Finds and judges the token of `req`. When it is accepted (and meets what the layer
    /// requires), its claims, scopes and roles go into the extensions of `req` right here, so
    /// that they are moved once, not through the outcome.
    fn authenticate<B>(&self, req: &mut Request<B>, may_fetch: bool) -> Outcome<C> {
        let Shared {
            config,
            cache,
            mode,
            revocation,
            metrics,
            ..
        } = &*self.shared;
        // DPoP, when on for the request's path: `Authorization: DPoP` comes before the sources.
        let dpop_mode = mode.dpop.mode_for(req.uri().path());
        let dpop_token = match dpop_mode {
            DpopMode::Off => None,
            _ => match crate::dpop::dpop_token(req.headers()) {
                Ok(token) => token,
                Err(error) => return Outcome::Refused(error),
            },
        };
        let found = match dpop_token {
            Some(token) => Found {
                token,
                source: TokenSourceKind::Bearer,
            },
            None => match find_token(&mode.sources, req.headers(), req.uri()) {
                Ok(Some(found)) => found,
                Ok(None) if mode.is_optional() => return Outcome::Anonymous(None),
                Ok(None) => return Outcome::Refused(AuthError::missing()),
                Err(error) => return Outcome::Refused(error),
            },
        };
        let presented = if dpop_token.is_some() {
            Presented::DpopScheme
        } else if found.source == TokenSourceKind::Cookie && req.headers().contains_key(DPOP) {
            Presented::CookieWithProof
        } else {
            Presented::Plain
        };
        // A cookie token on an unsafe method (or a WebSocket upgrade) must pass the CSRF guard;
        // its refusal is never turned anonymous: the browser did send credentials.
        if let Err(error) = mode
            .csrf
            .check(req.method(), req.uri(), req.headers(), &found)
        {
            return Outcome::Refused(error);
        }
        // The cache is keyed by the token's bytes, the whole token.
        let token = found.token;
        if let Some(cache) = cache {
            let now = crate::verify::now(config) as f64;
            let entry = cache.get(token, now, config.leeway as f64);
            metrics.cache_lookup(entry.is_some());
            if let Some(entry) = entry {
                // The cache skips the token's signature, never the proof.
                let replay = match dpop_gate(mode, dpop_mode, presented, token, req, config) {
                    Ok(replay) => replay,
                    Err(error) => return dpop_refusal(mode, error),
                };
                let granted = (entry.scopes.clone(), entry.roles.clone());
                let claims = entry.claims.clone();
                if let Some(replay) = replay {
                    let identity = entry.identity.clone();
                    return after_replay(replay, revocation.as_ref(), identity, claims, granted);
                }
                return match revocation {
                    None => hand_over(mode, req, claims, granted, None),
                    // The store is asked on every hit: this cache never holds "not revoked" (the
                    // Redis store's local view may, within its lease).
                    Some(revocation) => match entry.identity.clone() {
                        Some(identity) => check(revocation, mode, req, claims, granted, identity),
                        None => Outcome::Refused(NO_IDENTITY),
                    },
                };
            }
        }
        match verify::<C>(config, found.token, may_fetch) {
            Ok(verified) => {
                let Verified {
                    claims,
                    scopes,
                    roles,
                    times,
                    key,
                    identity,
                } = verified;
                if let (Some(cache), Some(key)) = (cache, &key) {
                    let granted = (scopes.clone(), roles.clone());
                    cache.insert(token, claims.clone(), granted, times, key, identity.clone());
                }
                let replay = match dpop_gate(mode, dpop_mode, presented, token, req, config) {
                    Ok(replay) => replay,
                    Err(error) => return dpop_refusal(mode, error),
                };
                let granted = (scopes, roles);
                if let Some(replay) = replay {
                    return after_replay(replay, revocation.as_ref(), identity, claims, granted);
                }
                match (revocation, identity) {
                    (None, _) => hand_over(mode, req, claims, granted, None),
                    (Some(revocation), Some(identity)) => {
                        check(revocation, mode, req, claims, granted, identity)
                    }
                    // The configuration requires the claims with a store: not reached.
                    (Some(_), None) => Outcome::Refused(NO_IDENTITY),
                }
            }
            Err(Failure::Wait(wait)) => Outcome::Wait(wait),
            Err(Failure::Refused(error)) => match found.request_error() {
                // Not one token: the request's fault, whatever the policy for bad tokens.
                Some(request_error) => Outcome::Refused(request_error),
                // A key source that is down is not the client's fault, and not a reason to
                // treat the request as anonymous either.
                None if mode.invalid_is_anonymous()
                    && error.kind() != ErrorKind::KeySourceUnavailable =>
                {
                    Outcome::Anonymous(Some(error.kind()))
                }
                None => Outcome::Refused(error),
            },
        }
    }
}

/// The DPoP check of a request whose token was accepted, when DPoP is on for its path; the
/// replay store's answer to await when it has none at once.
fn dpop_gate<C, B>(
    mode: &ModeConfig<C>,
    dpop_mode: DpopMode,
    presented: Presented,
    token: &[u8],
    req: &Request<B>,
    config: &VerifyConfig,
) -> Result<Option<ReplayCheck>, AuthError> {
    match (&mode.dpop.config, dpop_mode) {
        (_, DpopMode::Off) | (None, _) => Ok(None),
        (Some(dpop), _) => crate::dpop::check_request(
            dpop,
            dpop_mode,
            presented,
            token,
            req.method(),
            req.uri(),
            req.headers(),
            config.clock.now_millis(),
        ),
    }
}

/// A failed DPoP check: refused, or, where the layer treats invalid tokens as none, anonymous
/// (a bound token without its proof grants nothing; a full replay cache is still a 503).
fn dpop_refusal<C>(mode: &ModeConfig<C>, error: AuthError) -> Outcome<C> {
    match error.kind() {
        ErrorKind::InvalidDpopProof | ErrorKind::DpopRequired if mode.invalid_is_anonymous() => {
            Outcome::Anonymous(Some(error.kind()))
        }
        _ => Outcome::Refused(error),
    }
}

/// An accepted token whose proof the replay store has yet to judge: the replay answer, then
/// the revocation check (asked asynchronously too), then the hand-over.
fn after_replay<C>(
    replay: ReplayCheck,
    revocation: Option<&Arc<Revocation>>,
    identity: Option<TokenIdentity>,
    claims: C,
    granted: (Scopes, Roles),
) -> Outcome<C> {
    if revocation.is_some() && identity.is_none() {
        return Outcome::Refused(NO_IDENTITY);
    }
    let revocation = revocation.cloned();
    let future: CheckFuture = Box::pin(async move {
        replay.await?;
        match (revocation, identity) {
            (Some(revocation), Some(identity)) => {
                let status = revocation.store.status(RevocationQuery::of(&identity));
                let answer = revocation.metrics.timed(StoreOp::Status, status).await;
                Ok(Some((identity, answer)))
            }
            _ => Ok(None),
        }
    });
    Outcome::Check(Box::new(PendingCheck {
        future,
        granted: Some((claims, granted)),
    }))
}

/// Judges what the layer requires (scopes, roles, a predicate; for every request and for the
/// request's path), then puts the claims, scopes and roles of an accepted token (and, with a
/// revocation store, its identity) into the extensions of `req`. A refusal here is never turned
/// anonymous: the token is valid, the caller known, and not allowed.
fn hand_over<C, B>(
    mode: &ModeConfig<C>,
    req: &mut Request<B>,
    claims: C,
    (scopes, roles): (Scopes, Roles),
    identity: Option<TokenIdentity>,
) -> Outcome<C>
where
    C: Clone + Send + Sync + 'static,
{
    if !mode.requirements.is_empty() {
        let path = req.uri().path();
        if let Err(error) = mode.requirements.check(path, &claims, &scopes, &roles) {
            return Outcome::Refused(error);
        }
    }
    let extensions = req.extensions_mut();
    extensions.insert(claims);
    extensions.insert::<Scopes>(scopes);
    // Only a token that grants roles costs the extension (a box per insert): the extractors
    // read a verified request without `Roles` as an empty set.
    if !roles.is_empty() {
        extensions.insert::<Roles>(roles);
    }
    if let Some(identity) = identity {
        extensions.insert::<TokenIdentity>(identity);
    }
    Outcome::Authenticated
}

/// A token without the claims the revocation check reads; the configuration requires them, so
/// this is never reached, but is refused rather than let in unchecked.
const NO_IDENTITY: AuthError =
    AuthError::invalid_claims("The token lacks a claim the revocation check reads");

/// The revocation check of an accepted token: at once when the store answers synchronously
/// (the memory store), otherwise a [`PendingCheck`] for the response future to await. One
/// store round trip either way.
fn check<C, B>(
    revocation: &Arc<Revocation>,
    mode: &ModeConfig<C>,
    req: &mut Request<B>,
    claims: C,
    granted: (Scopes, Roles),
    identity: TokenIdentity,
) -> Outcome<C>
where
    C: Clone + Send + Sync + 'static,
{
    #[cfg(feature = "metrics")]
    let started = std::time::Instant::now();
    match revocation.store.status_now(RevocationQuery::of(&identity)) {
        Some(answer) => {
            #[cfg(feature = "metrics")]
            let metrics = &revocation.metrics;
            #[cfg(feature = "metrics")]
            metrics.record(StoreOp::Status, started.elapsed(), answer.is_err());
            judge(revocation, mode, req, claims, granted, identity, answer)
        }
        None => {
            let store = revocation.store.clone();
            let metrics = revocation.metrics.clone();
            let future: CheckFuture = Box::pin(async move {
                let status = store.status(RevocationQuery::of(&identity));
                let answer = metrics.timed(StoreOp::Status, status).await;
                Ok(Some((identity, answer)))
            });
            Outcome::Check(Box::new(PendingCheck {
                future,
                granted: Some((claims, granted)),
            }))
        }
    }
}

/// What the store's answer means for the request: revoked (refused, or anonymous where the
/// layer treats invalid tokens so), not revoked (handed over), or no answer (503, never
/// anonymous, unless the layer fails open).
fn judge<C, B>(
    revocation: &Revocation,
    mode: &ModeConfig<C>,
    req: &mut Request<B>,
    claims: C,
    granted: (Scopes, Roles),
    identity: TokenIdentity,
    answer: Result<RevocationStatus, StoreError>,
) -> Outcome<C>
where
    C: Clone + Send + Sync + 'static,
{
    match answer {
        Ok(status) if status.revokes(identity.iat, identity.sid.is_some()) => {
            if mode.invalid_is_anonymous() {
                Outcome::Anonymous(Some(ErrorKind::Revoked))
            } else {
                Outcome::Refused(REVOKED)
            }
        }
        Ok(_) => hand_over(mode, req, claims, granted, Some(identity)),
        Err(_error) => {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                error = %_error,
                fail_open = revocation.fail_open,
                "the revocation store could not answer"
            );
            if revocation.fail_open {
                hand_over(mode, req, claims, granted, Some(identity))
            } else {
                Outcome::Refused(REVOCATION_UNAVAILABLE)
            }
        }
    }
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// Authenticates `req` and either calls the inner service, refuses, or (when `may_fetch`)
    /// waits for a key fetch first.
    pub(crate) fn decide<ReqBody>(
        &mut self,
        mut req: Request<ReqBody>,
        may_fetch: bool,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>> + Clone,
        ReqBody: http_body::Body,
        C: DeserializeOwned + Clone + Send + Sync + 'static,
        R: ResponseForAuthError,
    {
        // Only when opted in, and only a bodiless, non-gRPC preflight on a layer that requires
        // nothing beyond a token.
        if self.shared.mode.passes_preflight(&req) {
            return ResponseFuture::inner(self.inner.call(req));
        }
        let outcome = self.authenticate(&mut req, may_fetch);
        self.respond(outcome, req)
    }

    /// Answers the request whose revocation check a [`PendingCheck`] was waiting for, with the
    /// store's `answer` about `identity` and the claims and scopes it would grant.
    pub(crate) fn after_check<ReqBody>(
        &mut self,
        mut req: Request<ReqBody>,
        granted: Option<(C, (Scopes, Roles))>,
        answer: CheckAnswer,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>> + Clone,
        ReqBody: http_body::Body,
        C: DeserializeOwned + Clone + Send + Sync + 'static,
        R: ResponseForAuthError,
    {
        let outcome = match (&self.shared.revocation, granted, answer) {
            (_, _, Err(error)) => Outcome::Refused(error),
            (Some(revocation), Some((claims, granted)), Ok(Some((identity, answer)))) => judge(
                revocation,
                &self.shared.mode,
                &mut req,
                claims,
                granted,
                identity,
                answer,
            ),
            // Only the replay store was asked: no revocation store.
            (None, Some((claims, granted)), Ok(None)) => {
                hand_over(&self.shared.mode, &mut req, claims, granted, None)
            }
            // A check is only started with the claims to grant, and asks the revocation store
            // when there is one.
            _ => Outcome::Refused(REVOCATION_UNAVAILABLE),
        };
        self.respond(outcome, req)
    }

    /// `error` with the DPoP challenge of the mode for `path`, if DPoP is on there.
    fn with_dpop_challenge(&self, error: AuthError, path: &str) -> AuthError {
        let dpop = &self.shared.mode.dpop;
        match dpop.challenge(dpop.mode_for(path)) {
            Some(challenge) => error.with_dpop(challenge),
            None => error,
        }
    }

    /// Calls the inner service, refuses, or waits, as `outcome` says.
    fn respond<ReqBody>(
        &mut self,
        outcome: Outcome<C>,
        req: Request<ReqBody>,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>> + Clone,
        ReqBody: http_body::Body,
        C: DeserializeOwned + Clone + Send + Sync + 'static,
        R: ResponseForAuthError,
    {
        let refuse = |this: &Self, error: AuthError, req: Request<ReqBody>| {
            this.shared.metrics.refused(error.kind());
            let error = this.with_dpop_challenge(error, req.uri().path());
            ResponseFuture::rejected(reject(&this.shared.rejection, error, req))
        };
        match outcome {
            Outcome::Authenticated => {
                self.shared.metrics.accepted();
                ResponseFuture::inner(self.inner.call(req))
            }
            Outcome::Anonymous(failed)
                if self.shared.mode.requirements.apply_to(req.uri().path()) =>
            {
                // Counted under the failure of the token, if one failed.
                let metrics = &self.shared.metrics;
                metrics.refused(failed.unwrap_or(ErrorKind::Missing));
                let error = self.with_dpop_challenge(AuthError::missing(), req.uri().path());
                ResponseFuture::rejected(reject(&self.shared.rejection, error, req))
            }
            Outcome::Anonymous(failed) => {
                self.shared.metrics.anonymous(failed);
                ResponseFuture::inner(self.inner.call(req))
            }
            Outcome::Refused(error) => refuse(self, error, req),
            Outcome::Wait(wait) => {
                // The inner service was driven to readiness: take that instance along, and
                // leave a clone for the next request (see tower's guide on cloning services).
                let clone = self.clone();
                let ready = std::mem::replace(self, clone);
                ResponseFuture::waiting(wait, ready, req)
            }
            Outcome::Check(pending) => {
                // As for a key fetch: the ready instance goes along with the check.
                let clone = self.clone();
                let ready = std::mem::replace(self, clone);
                ResponseFuture::checking(pending, ready, req)
            }
        }
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: http_body::Body,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ResponseForAuthError,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, C, R>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        self.decide(req, true)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod revocation_tests;
