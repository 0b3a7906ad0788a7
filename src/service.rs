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
use crate::error::{AuthError, ErrorKind};
use crate::future::ResponseFuture;
use crate::keys::set::KeyWait;
use crate::mode::Mode;
use crate::rejection::{reject, DefaultRejection, ResponseForAuthError};
use crate::session::identity::TokenIdentity;
use crate::session::store::{RevocationStatus, RevocationStore, StoreError};
use crate::source::find_token;
use crate::verify::roles::Roles;
use crate::verify::scopes::Scopes;
use crate::verify::{verify, Failure, Ids, Verified, VerifyConfig};

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
    mode: Mode<C>,
    rejection: R,
    /// The revocation check, when the layer has a store.
    revocation: Option<Arc<Revocation>>,
    _claims: PhantomData<fn() -> C>,
}

/// A layer's revocation check: the store, asked on every request with a token, and what a
/// store failure does.
pub(crate) struct Revocation {
    pub(crate) store: Arc<dyn RevocationStore>,
    /// Let the request in when the store cannot answer (off by default: 503).
    pub(crate) fail_open: bool,
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

/// The revocation store's answer, awaited: the identity it was asked about comes back with it.
type CheckFuture =
    Pin<Box<dyn Future<Output = (TokenIdentity, Result<RevocationStatus, StoreError>)> + Send>>;

/// An accepted token whose revocation status the store has yet to give (a store without a
/// synchronous answer, such as Redis): the question under way, and the claims and scopes to
/// hand over if the token is not revoked.
pub(crate) struct PendingCheck<C> {
    future: CheckFuture,
    granted: Option<(C, (Scopes, Roles))>,
}

impl<C> PendingCheck<C> {
    /// Polls the store's answer.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(TokenIdentity, Result<RevocationStatus, StoreError>)> {
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
        mode: Mode<C>,
        rejection: R,
        revocation: Option<Arc<Revocation>>,
    ) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                config,
                cache,
                mode,
                rejection,
                revocation,
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
    Anonymous,
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
            ..
        } = &*self.shared;
        let found = match find_token(&mode.sources, req.headers(), req.uri()) {
            Ok(Some(found)) => found,
            Ok(None) if mode.is_optional() => return Outcome::Anonymous,
            Ok(None) => return Outcome::Refused(AuthError::missing()),
            Err(error) => return Outcome::Refused(error),
        };
        // A cookie token on an unsafe method (or a WebSocket upgrade) must pass the CSRF guard;
        // its refusal is never turned anonymous: the browser did send credentials.
        if let Err(error) = mode.csrf.check(req.method(), req.headers(), &found) {
            return Outcome::Refused(error);
        }
        // The cache is keyed by the token's bytes, the whole token.
        let token = found.token;
        if let Some(cache) = cache {
            let now = crate::verify::now(config) as f64;
            if let Some(entry) = cache.get(token, now, config.leeway as f64) {
                let granted = (entry.scopes.clone(), entry.roles.clone());
                let claims = entry.claims.clone();
                return match revocation {
                    None => hand_over(mode, req, claims, granted, None),
                    // "Not revoked" is never cached: the store is asked on every hit.
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
                    ids,
                } = verified;
                let identity = ids.map(token_identity);
                if let (Some(cache), Some(key)) = (cache, &key) {
                    let granted = (scopes.clone(), roles.clone());
                    cache.insert(token, claims.clone(), granted, times, key, identity.clone());
                }
                let granted = (scopes, roles);
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
                    Outcome::Anonymous
                }
                None => Outcome::Refused(error),
            },
        }
    }
}

/// Judges what the layer requires (scopes, roles, a predicate; for every request and for the
/// request's path), then puts the claims, scopes and roles of an accepted token (and, with a
/// revocation store, its identity) into the extensions of `req`. A refusal here is never turned
/// anonymous: the token is valid, the caller known, and not allowed.
fn hand_over<C, B>(
    mode: &Mode<C>,
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

fn token_identity(ids: Ids) -> TokenIdentity {
    let Ids {
        jti,
        sid,
        sub,
        iat,
        exp,
    } = ids;
    TokenIdentity {
        jti,
        sid,
        sub,
        iat,
        exp,
    }
}

/// The revocation check of an accepted token: at once when the store answers synchronously
/// (the memory store), otherwise a [`PendingCheck`] for the response future to await. One
/// store round trip either way.
fn check<C, B>(
    revocation: &Arc<Revocation>,
    mode: &Mode<C>,
    req: &mut Request<B>,
    claims: C,
    granted: (Scopes, Roles),
    identity: TokenIdentity,
) -> Outcome<C>
where
    C: Clone + Send + Sync + 'static,
{
    match revocation.store.status_now(identity.query()) {
        Some(answer) => judge(revocation, mode, req, claims, granted, identity, answer),
        None => {
            let store = revocation.store.clone();
            let future: CheckFuture = Box::pin(async move {
                let answer = store.status(identity.query()).await;
                (identity, answer)
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
    mode: &Mode<C>,
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
                Outcome::Anonymous
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
        identity: TokenIdentity,
        answer: Result<RevocationStatus, StoreError>,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>> + Clone,
        ReqBody: http_body::Body,
        C: DeserializeOwned + Clone + Send + Sync + 'static,
        R: ResponseForAuthError,
    {
        let outcome = match (&self.shared.revocation, granted) {
            (Some(revocation), Some((claims, granted))) => judge(
                revocation,
                &self.shared.mode,
                &mut req,
                claims,
                granted,
                identity,
                answer,
            ),
            // A check is only started with a store and the claims to grant.
            (None, _) | (Some(_), None) => Outcome::Refused(REVOCATION_UNAVAILABLE),
        };
        self.respond(outcome, req)
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
        let refuse = |this: &Self, error, req| {
            ResponseFuture::rejected(reject(&this.shared.rejection, error, req))
        };
        match outcome {
            Outcome::Authenticated => ResponseFuture::inner(self.inner.call(req)),
            Outcome::Anonymous if self.shared.mode.requirements.apply_to(req.uri().path()) => {
                refuse(self, AuthError::missing(), req)
            }
            Outcome::Anonymous => ResponseFuture::inner(self.inner.call(req)),
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
mod tests {
    use bytes::Bytes;
    use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
    use http::{Request, StatusCode};
    use http_body_util::Full;
    use tower::{service_fn, ServiceBuilder, ServiceExt};

    use crate::test_helpers::*;
    use crate::{
        AuthError, AuthMode, ErrorKind, InvalidTokenPolicy, JwtAuthLayer, StatusPolicy, TokenSource,
    };

    fn request(auth: Option<&str>, cookie: Option<&str>) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().uri("/x");
        if let Some(auth) = auth {
            builder = builder.header(AUTHORIZATION, auth);
        }
        if let Some(cookie) = cookie {
            builder = builder.header(COOKIE, cookie);
        }
        builder.body(Full::default()).unwrap()
    }

    async fn call(
        layer: &JwtAuthLayer<TestClaims>,
        req: Request<Full<Bytes>>,
    ) -> (StatusCode, Option<String>, Option<AuthError>, String) {
        let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
        let response = svc.oneshot(req).await.unwrap();
        let status = response.status();
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let error = response.extensions().get::<AuthError>().cloned();
        let body = body_string(response.into_body()).await;
        (status, challenge, error, body)
    }

    fn reason(body: &str) -> String {
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        json["reason"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn bearer_token_is_verified_and_claims_reach_the_handler() {
        let layer = builder().build().unwrap();
        let token = good_token();
        let (status, challenge, error, body) =
            call(&layer, request(Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(challenge, None);
        assert_eq!(error, None);
        assert_eq!(body, "sub=alice;scopes=read write");
    }

    #[tokio::test]
    async fn cookie_token_is_verified() {
        let layer = builder().build().unwrap();
        let cookie = format!("theme=dark; access_token={}", good_token());
        let (status, _, _, body) = call(&layer, request(None, Some(&cookie))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "sub=alice;scopes=read write");
    }

    #[tokio::test]
    async fn configured_sources_replace_the_defaults() {
        let layer = builder()
            .token_sources([TokenSource::cookie("__Host-at")])
            .build()
            .unwrap();
        let token = good_token();
        let (status, ..) = call(&layer, request(Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, ..) = call(&layer, request(None, Some(&format!("__Host-at={token}")))).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn every_failure_class_has_its_status_reason_and_challenge() {
        let layer = builder().realm("api").build().unwrap();
        let expired = mint(serde_json::json!({ "sub": "a", "exp": now() - 3600 }));
        let future =
            mint(serde_json::json!({ "sub": "a", "exp": now() + 600, "nbf": now() + 300 }));
        let no_exp = mint(serde_json::json!({ "sub": "a" }));
        let mut forged = good_token();
        forged.push('A');
        let cases: Vec<(Option<String>, StatusCode, &str)> = vec![
            (None, StatusCode::UNAUTHORIZED, "missing"),
            (
                Some(format!("Bearer {expired}")),
                StatusCode::UNAUTHORIZED,
                "expired",
            ),
            (
                Some(format!("Bearer {future}")),
                StatusCode::UNAUTHORIZED,
                "not_yet_valid",
            ),
            (
                Some("Bearer a.b".into()),
                StatusCode::FORBIDDEN,
                "malformed",
            ),
            (
                Some(format!("Bearer {forged}")),
                StatusCode::FORBIDDEN,
                "invalid_signature",
            ),
            (
                Some(format!("Bearer {no_exp}")),
                StatusCode::FORBIDDEN,
                "invalid_claims",
            ),
            (
                Some("Bearer".into()),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
        ];
        for (auth, expected_status, expected_reason) in cases {
            let (status, challenge, error, body) =
                call(&layer, request(auth.as_deref(), None)).await;
            assert_eq!(status, expected_status, "{expected_reason}");
            assert_eq!(reason(&body), expected_reason);
            assert_eq!(error.unwrap().reason(), expected_reason);
            let challenge = challenge.unwrap();
            assert!(challenge.starts_with("Bearer realm=\"api\""), "{challenge}");
            match expected_reason {
                "missing" => assert_eq!(challenge, "Bearer realm=\"api\""),
                "invalid_request" => assert!(challenge.contains("error=\"invalid_request\"")),
                _ => assert!(challenge.contains("error=\"invalid_token\""), "{challenge}"),
            }
        }
    }

    #[tokio::test]
    async fn strict_policy_answers_401_for_every_invalid_token() {
        let layer = builder()
            .status_policy(StatusPolicy::Rfc6750)
            .build()
            .unwrap();
        let (status, _, error, _) = call(&layer, request(Some("Bearer a.b.c"), None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.unwrap().kind(), ErrorKind::Malformed);
    }

    #[tokio::test]
    async fn custom_rejection_is_used_and_the_error_is_still_in_the_extensions() {
        let called = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = called.clone();
        let layer = builder()
            .rejection(move |error: &AuthError, _: &http::request::Parts| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                http::Response::builder()
                    .status(StatusCode::IM_A_TEAPOT)
                    .body(Bytes::from(error.reason()))
                    .unwrap()
            })
            .build()
            .unwrap();
        let svc = ServiceBuilder::new().layer(layer).service_fn(echo);
        let response = svc.clone().oneshot(request(None, None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(
            response.extensions().get::<AuthError>().unwrap().kind(),
            ErrorKind::Missing
        );
        assert_eq!(body_string(response.into_body()).await, "missing");
        let token = good_token();
        let response = svc
            .oneshot(request(Some(&format!("Bearer {token}")), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(called.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn optional_mode() {
        let layer = builder().build().unwrap();
        let optional = layer
            .clone()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Reject));
        let (status, _, _, body) = call(&optional, request(None, None)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
        let token = good_token();
        let (status, _, _, body) =
            call(&optional, request(Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "sub=alice;scopes=read write")
        );
        // A bad token is refused by default...
        let (status, ..) = call(&optional, request(Some("Bearer x.y.z"), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // ... or treated as anonymous when asked.
        let lenient = layer.mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
        let (status, _, _, body) = call(&lenient, request(Some("Bearer x.y.z"), None)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
        // Ambiguous credentials are refused in every mode.
        let mut req = request(Some("Bearer a"), None);
        req.headers_mut()
            .append(AUTHORIZATION, "Bearer b".parse().unwrap());
        let (status, ..) = call(&lenient, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn layer_level_scopes() {
        let layer = builder().build().unwrap();
        let token = good_token();
        let auth = format!("Bearer {token}");
        let ok = layer.clone().require_scopes(["read", "write"]).unwrap();
        assert_eq!(
            call(&ok, request(Some(&auth), None)).await.0,
            StatusCode::OK
        );
        let admin = layer.require_scopes(["admin"]).unwrap();
        let (status, challenge, error, body) = call(&admin, request(Some(&auth), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(reason(&body), "insufficient_scope");
        assert_eq!(error.unwrap().required_scope(), Some("admin"));
        assert!(challenge.unwrap().contains("error=\"insufficient_scope\""));
    }

    #[tokio::test]
    async fn an_optional_variant_with_scopes_still_needs_a_token_with_them() {
        let layer = builder().build().unwrap();
        let svc = ServiceBuilder::new()
            .layer(
                layer
                    .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
                    .require_scopes(["write"])
                    .unwrap(),
            )
            .service_fn(echo);
        let token = good_token();
        let response = svc
            .clone()
            .oneshot(request(Some(&format!("Bearer {token}")), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let response = svc.clone().oneshot(request(None, None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // A bad token is not "anonymous" past a scope requirement either.
        let response = svc
            .clone()
            .oneshot(request(Some("Bearer x.y.z"), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let read_only = mint(serde_json::json!({ "sub": "b", "exp": now() + 60, "scp": ["read"] }));
        let response = svc
            .oneshot(request(Some(&format!("Bearer {read_only}")), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.extensions().get::<AuthError>().unwrap().kind(),
            ErrorKind::InsufficientScope
        );
    }

    #[tokio::test]
    async fn builder_level_mode_and_scopes() {
        let optional = builder()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Reject))
            .build()
            .unwrap();
        let (status, _, _, body) = call(&optional, request(None, None)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
        let admin = builder().require_scopes(["admin"]).build().unwrap();
        let token = good_token();
        let (status, _, error, _) =
            call(&admin, request(Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(error.unwrap().required_scope(), Some("admin"));
        // The variant replaces the scopes; an empty list requires none.
        let none = admin.require_scopes(Vec::<String>::new()).unwrap();
        let (status, ..) = call(&none, request(Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(status, StatusCode::OK);
        // Invalid scopes are refused when the layer is built.
        assert!(builder().require_scopes(["a b"]).build().is_err());
    }

    #[tokio::test]
    async fn grpc_requests_get_grpc_answers() {
        let layer = builder().build().unwrap();
        let req = Request::builder()
            .uri("/greeter.Greeter/SayHello")
            .header(CONTENT_TYPE, "application/grpc+proto")
            .body(Full::default())
            .unwrap();
        let svc = ServiceBuilder::new().layer(layer).service_fn(echo);
        let response = svc.oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "16");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc+proto");
        assert!(response.headers()["grpc-message"]
            .to_str()
            .unwrap()
            .starts_with("missing: "));
        assert!(http_body::Body::is_end_stream(response.body()));
    }

    #[tokio::test]
    async fn an_opted_in_pass_through_lets_only_a_bare_preflight_pass() {
        let layer = builder().pass_cors_preflight(true).build().unwrap();
        let preflight = || {
            Request::builder()
                .method("OPTIONS")
                .uri("/x")
                .header("origin", "https://app.example")
                .header("access-control-request-method", "POST")
        };
        let (status, _, _, body) = call(&layer, preflight().body(Full::default()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
        // Never a gRPC call, never a request with a body.
        let refused = [
            preflight()
                .header(CONTENT_TYPE, "application/grpc")
                .body(Full::default())
                .unwrap(),
            preflight()
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap(),
            preflight()
                .header("transfer-encoding", "chunked")
                .body(Full::default())
                .unwrap(),
            preflight()
                .header("content-length", "2")
                .body(Full::default())
                .unwrap(),
        ];
        for req in refused {
            let (_, _, error, body) = call(&layer, req).await;
            assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Missing), "{body}");
        }
        // Never past a scope requirement.
        let admin = layer.require_scopes(["admin"]).unwrap();
        let (status, _, error, _) = call(&admin, preflight().body(Full::default()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.unwrap().kind(), ErrorKind::Missing);
    }

    /// A CORS preflight carries no credentials: by default it is refused like any other request
    /// without a token, and never reaches the inner service.
    #[tokio::test]
    async fn a_cors_preflight_without_a_token_does_not_reach_the_inner_service() {
        let layer = builder().build().unwrap();
        let preflight = || {
            Request::builder()
                .method("OPTIONS")
                .uri("/x")
                .header("origin", "https://app.example")
                .header("access-control-request-method", "POST")
                .body(Full::default())
                .unwrap()
        };
        let (status, _, error, body) = call(&layer, preflight()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(reason(&body), "missing");
        assert_eq!(error.unwrap().kind(), ErrorKind::Missing);
        // Nor with a scope requirement.
        let admin = layer.require_scopes(["admin"]).unwrap();
        let (status, _, _, body) = call(&admin, preflight()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(reason(&body), "missing");
    }

    #[tokio::test]
    async fn poll_ready_is_propagated() {
        use std::task::{Context, Poll};
        use tower_service::Service;
        let layer = builder().build().unwrap();
        let inner = tower::service_fn(echo);
        // A service that is not ready keeps the layer not ready.
        #[derive(Clone)]
        struct NotReady<S>(S);
        impl<S: Service<R>, R> Service<R> for NotReady<S> {
            type Response = S::Response;
            type Error = S::Error;
            type Future = S::Future;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
                Poll::Pending
            }
            fn call(&mut self, req: R) -> S::Future {
                self.0.call(req)
            }
        }
        let mut svc = tower_layer::Layer::layer(&layer, NotReady(inner));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(svc.poll_ready(&mut cx).is_pending());
        let mut svc = tower_layer::Layer::layer(&layer, service_fn(echo));
        assert!(matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    }

    #[tokio::test]
    async fn cached_tokens_are_judged_again_on_every_hit() {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, UNIX_EPOCH};

        let start = now();
        let clock = Arc::new(AtomicU64::new(start));
        let ticking = clock.clone();
        let layer = builder()
            .leeway(Duration::ZERO)
            .token_cache(100, 1 << 20)
            .clock(move || UNIX_EPOCH + Duration::from_secs(ticking.load(Ordering::SeqCst)))
            .build()
            .unwrap();
        let token = mint(serde_json::json!({ "sub": "carol", "exp": start + 60, "scope": "a" }));
        let auth = format!("Bearer {token}");
        let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);

        for _ in 0..3 {
            let response = svc
                .clone()
                .oneshot(request(Some(&auth), None))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                body_string(response.into_body()).await,
                "sub=carol;scopes=a"
            );
        }
        assert_eq!(layer.cache_len(), 1);
        // A token that fails is never cached.
        let mut forged = token.clone();
        forged.push('A');
        let (status, ..) = call(&layer, request(Some(&format!("Bearer {forged}")), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(layer.cache_len(), 1);
        // Once the clock passes `exp`, the cached token is expired like any other.
        clock.store(start + 60, Ordering::SeqCst);
        let (status, _, error, _) = call(&layer, request(Some(&auth), None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.unwrap().kind(), ErrorKind::Expired);
        assert_eq!(layer.cache_len(), 0);
    }

    #[cfg(feature = "aws-lc-rs")]
    #[tokio::test]
    async fn a_layer_can_verify_with_its_own_provider() {
        let layer = builder()
            .crypto_provider(&crate::crypto::AWS_LC_PROVIDER)
            .build()
            .unwrap();
        let token = good_token();
        let (status, _, _, body) =
            call(&layer, request(Some(&format!("Bearer {token}")), None)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "sub=alice;scopes=read write")
        );
        let mut forged = token;
        forged.push('A');
        let (status, ..) = call(&layer, request(Some(&format!("Bearer {forged}")), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn clones_share_one_configuration_and_still_verify() {
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        let layer = builder().token_cache(16, 1 << 16).build().unwrap();
        let service = tower::Layer::layer(&layer, service_fn(echo));
        assert_send_sync(&service);
        let clone = service.clone();
        // A clone is one more count on the shared configuration, not a copy of it.
        assert!(std::sync::Arc::ptr_eq(&service.shared, &clone.shared));
        assert_eq!(std::sync::Arc::strong_count(&service.shared), 2);
        let token = good_token();
        let auth = format!("Bearer {token}");
        let response = clone.oneshot(request(Some(&auth), None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(std::sync::Arc::strong_count(&service.shared), 1);
        // The clone filled the cache the original reads.
        assert_eq!(layer.cache_len(), 1);
        let response = service.oneshot(request(Some(&auth), None)).await.unwrap();
        assert_eq!(
            body_string(response.into_body()).await,
            "sub=alice;scopes=read write"
        );
    }

    fn roles_token(roles: &[&str]) -> String {
        mint(serde_json::json!({
            "sub": "alice",
            "exp": now() + 300,
            "scope": "read",
            "realm_access": { "roles": roles },
        }))
    }

    #[tokio::test]
    async fn a_missing_role_or_a_failed_predicate_is_forbidden_even_on_cache_hits() {
        for policy in [StatusPolicy::RefreshOrRefuse, StatusPolicy::Rfc6750] {
            let staff = builder()
                .roles_claim("realm_access.roles")
                .token_cache(16, 1 << 16)
                .status_policy(policy)
                .require_roles(["staff"])
                .build()
                .unwrap();
            let with = format!("Bearer {}", roles_token(&["staff"]));
            let without = format!("Bearer {}", roles_token(&["reader"]));
            for _ in 0..2 {
                // The second round is answered from the cache, and judged the same.
                let (status, ..) = call(&staff, request(Some(&with), None)).await;
                assert_eq!(status, StatusCode::OK);
                let (status, challenge, error, body) =
                    call(&staff, request(Some(&without), None)).await;
                assert_eq!(status, StatusCode::FORBIDDEN);
                assert_eq!(error.unwrap().kind(), ErrorKind::Forbidden);
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(json["error"], "insufficient_scope");
                assert_eq!(json["reason"], "forbidden");
                assert!(json.get("scope").is_none());
                assert_eq!(
                    challenge.unwrap(),
                    "Bearer error=\"insufficient_scope\", error_description=\"The access token does not grant a required role\""
                );
            }
            assert_eq!(staff.cache_len(), 2);
            let picky = staff
                .clone()
                .require(|claims: &TestClaims| claims.sub == "bob");
            let (status, _, error, body) = call(&picky, request(Some(&with), None)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(reason(&body), "forbidden");
            assert_eq!(
                error.unwrap().description(),
                "The access token's claims do not meet the route's requirement"
            );
            let alice = staff.require(|claims: &TestClaims| claims.sub == "alice");
            let (status, ..) = call(&alice, request(Some(&with), None)).await;
            assert_eq!(status, StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn any_of_and_all_of_scopes_and_roles() {
        let layer = builder().roles_claim("realm_access.roles").build().unwrap();
        let token = format!("Bearer {}", roles_token(&["staff", "reader"]));
        let cases: Vec<(JwtAuthLayer<TestClaims>, Option<&str>)> = vec![
            (
                layer.clone().require_roles(["staff", "reader"]).unwrap(),
                None,
            ),
            (
                layer.clone().require_roles(["staff", "admin"]).unwrap(),
                Some("forbidden"),
            ),
            (
                layer.clone().require_any_role(["admin", "reader"]).unwrap(),
                None,
            ),
            (
                layer.clone().require_any_role(["admin"]).unwrap(),
                Some("forbidden"),
            ),
            (layer.clone().require_scopes(["read"]).unwrap(), None),
            (
                layer.clone().require_any_scope(["admin", "read"]).unwrap(),
                None,
            ),
            (
                layer.clone().require_any_scope(["admin", "write"]).unwrap(),
                Some("insufficient_scope"),
            ),
            // A missing scope is judged before a missing role.
            (
                layer
                    .clone()
                    .require_roles(["admin"])
                    .unwrap()
                    .require_scopes(["admin"])
                    .unwrap(),
                Some("insufficient_scope"),
            ),
        ];
        for (i, (variant, expected)) in cases.into_iter().enumerate() {
            let (status, _, _, body) = call(&variant, request(Some(&token), None)).await;
            match expected {
                None => assert_eq!(status, StatusCode::OK, "{i}: {body}"),
                Some(expected) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{i}");
                    assert_eq!(reason(&body), expected, "{i}");
                }
            }
        }
        assert_eq!(
            layer.clone().require_roles([""]).err(),
            Some(crate::ConfigError::InvalidRole {
                role: String::new()
            })
        );
        assert!(builder().roles_claim("a..b").build().is_err());
        assert!(builder().require_any_scope(["a b"]).build().is_err());
        assert!(builder()
            .require_for_path("nope", crate::Requirement::role("a"))
            .build()
            .is_err());
    }

    #[tokio::test]
    async fn a_forbidden_token_is_never_anonymous_and_no_token_is_missing() {
        let maybe = builder()
            .roles_claim("realm_access.roles")
            .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous))
            .require_roles(["staff"])
            .build()
            .unwrap();
        let without = format!("Bearer {}", roles_token(&["reader"]));
        let (status, _, error, _) = call(&maybe, request(Some(&without), None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let error = error.unwrap();
        assert_eq!(error.kind(), ErrorKind::Forbidden);
        assert!(!error.kind().is_refreshable());
        let (status, _, error, _) = call(&maybe, request(None, None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.unwrap().kind(), ErrorKind::Missing);
    }

    #[tokio::test]
    async fn requirements_by_path_apply_to_that_path_only() {
        let layer = builder()
            .roles_claim("realm_access.roles")
            .mode(AuthMode::Optional(InvalidTokenPolicy::Reject))
            .require_for_path(
                "/greeter.Greeter/SayGoodbye",
                crate::Requirement::role("staff"),
            )
            .pass_cors_preflight(true)
            .build()
            .unwrap();
        let grpc = |path: &str, token: Option<&str>| {
            let mut builder = Request::builder()
                .uri(path)
                .header(CONTENT_TYPE, "application/grpc");
            if let Some(token) = token {
                builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            builder.body(Full::<Bytes>::default()).unwrap()
        };
        let svc = || ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
        let reader = roles_token(&["reader"]);
        let staff = roles_token(&["staff"]);
        let status_of = |response: &http::Response<_>| {
            response
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned())
        };
        for (path, token, expected) in [
            ("/greeter.Greeter/SayHello", Some(&reader), None),
            ("/greeter.Greeter/SayHello", None, None),
            ("/greeter.Greeter/SayGoodbye", Some(&staff), None),
            ("/greeter.Greeter/SayGoodbye?x=1", Some(&staff), None),
            ("/greeter.Greeter/SayGoodbye", Some(&reader), Some("7")),
            ("/greeter.Greeter/SayGoodbye?x=1", Some(&reader), Some("7")),
            // Optional mode, but the path requires a role: a token is needed.
            ("/greeter.Greeter/SayGoodbye", None, Some("16")),
        ] {
            let response = svc()
                .oneshot(grpc(path, token.map(String::as_str)))
                .await
                .unwrap();
            assert_eq!(status_of(&response).as_deref(), expected, "{path}");
            if expected == Some("7") {
                assert!(response.headers()["grpc-message"]
                    .to_str()
                    .unwrap()
                    .starts_with("forbidden"));
            }
        }
        // A requirement anywhere keeps every preflight out.
        let preflight = Request::builder()
            .method("OPTIONS")
            .uri("/other")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .body(Full::default())
            .unwrap();
        let required = layer.clone().mode(AuthMode::Required);
        let (_, _, error, _) = call(&required, preflight).await;
        assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Missing));
        // The layer still clones and prints.
        let printed = format!("{:?}", layer.clone().require(|_: &TestClaims| true));
        assert!(printed.contains("<fn>"), "{printed}");
        assert!(printed.contains("SayGoodbye"), "{printed}");
    }

    #[tokio::test]
    async fn roles_reach_the_handler() {
        let layer = builder()
            .roles_claim("realm_access.roles")
            .roles_claim("groups")
            .build()
            .unwrap();
        let token = mint(serde_json::json!({
            "sub": "alice",
            "exp": now() + 300,
            "groups": "a b",
            "realm_access": { "roles": ["staff", "a"] },
        }));
        let req = request(Some(&format!("Bearer {token}")), None);
        let svc =
            ServiceBuilder::new()
                .layer(layer)
                .service_fn(|req: Request<Full<Bytes>>| async move {
                    let roles = req.extensions().get::<crate::Roles>().unwrap();
                    let body = roles.iter().collect::<Vec<_>>().join(",");
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        body,
                    ))))
                });
        let response = svc.oneshot(req).await.unwrap();
        // Union of both claims, each role once, in token order.
        assert_eq!(body_string(response.into_body()).await, "a,b,staff");
    }
}

#[cfg(test)]
mod revocation_tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
    use http::{Request, Response, StatusCode};
    use http_body_util::Full;
    use tower::{ServiceBuilder, ServiceExt};

    use crate::session::{
        MemoryStore, RevocationQuery, RevocationStatus, RevocationStore, SessionLimits,
        SessionStore, StoreError, StoreFuture,
    };
    use crate::test_helpers::*;
    use crate::{
        AuthError, AuthMode, ConfigError, ErrorKind, InvalidTokenPolicy, JwtAuthLayer,
        TokenIdentity,
    };

    /// The memory store without its synchronous answer, as a remote store behaves.
    struct AsyncOnly(MemoryStore);

    impl RevocationStore for AsyncOnly {
        fn status<'a>(&'a self, query: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                self.0.status(query).await
            })
        }
        fn revoke_token<'a>(&'a self, jti: &'a str, keep_for: Duration) -> StoreFuture<'a, ()> {
            self.0.revoke_token(jti, keep_for)
        }
        fn set_subject_cutoff<'a>(
            &'a self,
            sub: &'a str,
            keep_for: Duration,
        ) -> StoreFuture<'a, ()> {
            self.0.set_subject_cutoff(sub, keep_for)
        }
    }

    /// A store that cannot answer, at once (`sync`) or asynchronously.
    struct Down {
        sync: bool,
    }

    impl RevocationStore for Down {
        fn status<'a>(&'a self, _: RevocationQuery<'a>) -> StoreFuture<'a, RevocationStatus> {
            Box::pin(std::future::ready(Err(StoreError::unavailable("down"))))
        }
        fn status_now(
            &self,
            _: RevocationQuery<'_>,
        ) -> Option<Result<RevocationStatus, StoreError>> {
            self.sync.then(|| Err(StoreError::unavailable("down")))
        }
        fn revoke_token<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, ()> {
            Box::pin(std::future::ready(Err(StoreError::unavailable("down"))))
        }
        fn set_subject_cutoff<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, ()> {
            Box::pin(std::future::ready(Err(StoreError::unavailable("down"))))
        }
    }

    /// Answers with the token identity's parts, `no identity`, or `anonymous`.
    async fn identity_echo(
        req: Request<Full<Bytes>>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let body = match (
            req.extensions().get::<TestClaims>(),
            req.extensions().get::<TokenIdentity>(),
        ) {
            (Some(_), Some(id)) => format!(
                "jti={};sid={};sub={};iat={};exp={}",
                id.jti,
                id.sid.as_deref().unwrap_or("-"),
                id.sub,
                id.iat,
                id.exp
            ),
            (Some(_), None) => "no identity".to_owned(),
            (None, _) => "anonymous".to_owned(),
        };
        Ok(Response::new(Full::new(Bytes::from(body))))
    }

    struct Answer {
        status: StatusCode,
        challenge: Option<String>,
        error: Option<AuthError>,
        body: String,
    }

    async fn call(layer: &JwtAuthLayer<TestClaims>, token: &str) -> Answer {
        call_with(layer, token, None).await
    }

    async fn call_with(
        layer: &JwtAuthLayer<TestClaims>,
        token: &str,
        content_type: Option<&str>,
    ) -> Answer {
        let mut req = Request::builder()
            .uri("/x")
            .header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            req = req.header(CONTENT_TYPE, content_type);
        }
        let svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service_fn(identity_echo);
        let response = svc
            .oneshot(req.body(Full::default()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let error = response.extensions().get::<AuthError>().cloned();
        let body = body_string(response.into_body()).await;
        Answer {
            status,
            challenge,
            error,
            body,
        }
    }

    fn session_token(jti: &str, sid: Option<&str>, sub: &str, iat: u64) -> String {
        let mut claims = serde_json::json!({
            "sub": sub, "jti": jti, "iat": iat, "exp": iat + 300,
        });
        if let Some(sid) = sid {
            claims["sid"] = sid.into();
        }
        mint(claims)
    }

    fn assert_revoked(answer: &Answer) {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["reason"], "revoked");
        assert_eq!(body["error"], "invalid_token");
        let challenge = answer.challenge.as_deref().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let error = answer.error.as_ref().unwrap();
        assert_eq!(error.kind(), ErrorKind::Revoked);
        assert!(!error.kind().is_refreshable());
    }

    fn assert_unavailable(answer: &Answer) {
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert_eq!(answer.challenge, None);
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert_eq!(body["reason"], "revocation_unavailable");
    }

    fn limits() -> SessionLimits {
        SessionLimits::default()
    }

    /// The checks, through a store that answers at once and one that answers asynchronously.
    #[tokio::test]
    async fn revoked_jti_ended_sid_and_subject_cutoff_are_refused() {
        let memory = MemoryStore::new();
        let sync = builder().revocation(memory.clone()).build().unwrap();
        let asynchronous = builder()
            .revocation(AsyncOnly(memory.clone()))
            .build()
            .unwrap();
        let external = builder()
            .revocation(memory.clone())
            .revocation_sid_optional(true)
            .build()
            .unwrap();
        let t = now();
        for layer in [&sync, &asynchronous] {
            let token = session_token("j-ok", Some("s-ok"), "alice", t);
            let answer = call(layer, &token).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            assert_eq!(
                answer.body,
                format!("jti=j-ok;sid=s-ok;sub=alice;iat={t};exp={}", t + 300)
            );
        }
        // A revoked jti.
        memory
            .revoke_token("j-gone", Duration::from_secs(600))
            .await
            .unwrap();
        let token = session_token("j-gone", Some("s-1"), "alice", t);
        for layer in [&sync, &asynchronous] {
            assert_revoked(&call(layer, &token).await);
        }
        // An ended session.
        memory.end_session("s-ended", &limits()).await.unwrap();
        let token = session_token("j-2", Some("s-ended"), "alice", t);
        for layer in [&sync, &asynchronous] {
            assert_revoked(&call(layer, &token).await);
        }
        // A subject's cutoff: refused up to and including its second, for tokens without a
        // `sid`; a token with a `sid` is judged by its session.
        memory
            .set_subject_cutoff("bob", Duration::from_secs(600))
            .await
            .unwrap();
        let cutoff = now();
        let before = session_token("j-3", None, "bob", cutoff - 10);
        let same_second = session_token("j-4", None, "bob", cutoff);
        let after = session_token("j-5", None, "bob", cutoff + 1);
        assert_revoked(&call(&external, &before).await);
        assert_revoked(&call(&external, &same_second).await);
        let answer = call(&external, &after).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(answer.body.contains(";sid=-;"), "{}", answer.body);
        let with_sid = session_token("j-6", Some("s-live"), "bob", cutoff - 10);
        assert_eq!(call(&sync, &with_sid).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn the_claims_the_check_reads_are_required() {
        let layer = builder().revocation(MemoryStore::new()).build().unwrap();
        let optional_sid = builder()
            .revocation(MemoryStore::new())
            .revocation_sid_optional(true)
            .build()
            .unwrap();
        let t = now();
        let full = serde_json::json!({
            "sub": "alice", "jti": "j", "sid": "s", "iat": t, "exp": t + 300,
        });
        for missing in ["jti", "sub", "iat", "sid", "exp"] {
            let mut claims = full.clone();
            claims.as_object_mut().unwrap().remove(missing);
            let answer = call(&layer, &mint(claims)).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{missing}");
            assert_eq!(
                answer.error.unwrap().kind(),
                ErrorKind::InvalidClaims,
                "{missing}"
            );
        }
        for (name, value) in [
            ("jti", serde_json::json!("")),
            ("sid", serde_json::json!("")),
            ("sid", serde_json::json!(7)),
        ] {
            let mut claims = full.clone();
            claims[name] = value;
            for layer in [&layer, &optional_sid] {
                let answer = call(layer, &mint(claims.clone())).await;
                assert_eq!(
                    answer.error.map(|e| e.kind()),
                    Some(ErrorKind::InvalidClaims),
                    "{name}"
                );
            }
        }
        let mut no_sid = full.clone();
        no_sid.as_object_mut().unwrap().remove("sid");
        assert_eq!(
            call(&optional_sid, &mint(no_sid)).await.status,
            StatusCode::OK
        );
        // Without a store, none of them is required, and no identity is handed over.
        let plain = builder().build().unwrap();
        let answer = call(
            &plain,
            &mint(serde_json::json!({ "sub": "a", "exp": t + 60 })),
        )
        .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "no identity")
        );
        // A `sid` of another type is left to the claims type when there is no store.
        let odd = mint(serde_json::json!({ "sub": "a", "exp": t + 60, "sid": 7 }));
        assert_eq!(call(&plain, &odd).await.status, StatusCode::OK);
    }

    /// "Not revoked" is never cached: a cached token revoked afterwards is refused on its next
    /// request.
    #[tokio::test]
    async fn revocation_is_checked_on_cache_hits() {
        let memory = MemoryStore::new();
        let sync = builder()
            .token_cache(16, 1 << 16)
            .revocation(memory.clone())
            .build()
            .unwrap();
        let asynchronous = builder()
            .token_cache(16, 1 << 16)
            .revocation(AsyncOnly(memory.clone()))
            .build()
            .unwrap();
        for (i, layer) in [&sync, &asynchronous].into_iter().enumerate() {
            let sid = format!("s-cached-{i}");
            let token = session_token(&format!("j-cached-{i}"), Some(&sid), "carol", now());
            for _ in 0..2 {
                let answer = call(layer, &token).await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
                assert!(answer
                    .body
                    .starts_with(&format!("jti=j-cached-{i};sid={sid};")));
            }
            assert_eq!(layer.cache_len(), 1);
            memory.end_session(&sid, &limits()).await.unwrap();
            assert_revoked(&call(layer, &token).await);
        }
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_refuses_with_503_unless_failing_open() {
        let token = session_token("j", Some("s"), "alice", now());
        for sync in [true, false] {
            let layer = builder().revocation(Down { sync }).build().unwrap();
            let answer = call(&layer, &token).await;
            assert_unavailable(&answer);
            assert_eq!(
                answer.error.unwrap().kind(),
                ErrorKind::RevocationUnavailable
            );
            // Never anonymous, whatever the policy for invalid tokens.
            let optional = layer
                .clone()
                .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
            assert_unavailable(&call(&optional, &token).await);
            // gRPC: 14 UNAVAILABLE.
            let answer = call_with(&layer, &token, Some("application/grpc")).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.challenge, None);
            assert_eq!(
                answer.error.unwrap().kind().grpc_code(),
                14,
                "{}",
                answer.body
            );
            // Failing open lets the token in, identity and all.
            let open = builder()
                .revocation(Down { sync })
                .revocation_fail_open(true)
                .build()
                .unwrap();
            let answer = call(&open, &token).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert!(answer.body.starts_with("jti=j;sid=s;"), "{}", answer.body);
        }
    }

    #[tokio::test]
    async fn a_revoked_token_follows_the_invalid_token_policy_and_grpc_gets_16() {
        let memory = MemoryStore::new();
        memory.end_session("s-x", &limits()).await.unwrap();
        let token = session_token("j", Some("s-x"), "alice", now());
        let layer = builder().revocation(memory).build().unwrap();
        let anonymous = layer
            .clone()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
        assert_eq!(call(&anonymous, &token).await.body, "anonymous");
        let reject = layer
            .clone()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Reject));
        assert_revoked(&call(&reject, &token).await);
        let answer = call_with(&layer, &token, Some("application/grpc")).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.error.unwrap().kind().grpc_code(), 16);
        assert!(answer
            .challenge
            .unwrap()
            .contains("error=\"invalid_token\""));
    }

    #[test]
    fn revocation_settings_without_a_store_are_refused() {
        assert_eq!(
            builder().revocation_sid_optional(true).build().err(),
            Some(ConfigError::RevocationSettingWithoutStore {
                setting: "revocation_sid_optional"
            })
        );
        assert_eq!(
            builder().revocation_fail_open(false).build().err(),
            Some(ConfigError::RevocationSettingWithoutStore {
                setting: "revocation_fail_open"
            })
        );
    }
}
