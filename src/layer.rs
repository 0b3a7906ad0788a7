//! The layer and its builder.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tower_layer::Layer;

use crate::authz::{Requirement, Requirements, Slot};
use crate::cache::TokenCache;
use crate::csrf::CsrfGuard;
use crate::error::ConfigError;
use crate::keys::issuer::{
    checked_values, invalid_audience, invalid_claim_name, invalid_issuer, key_source, Tenant,
    TrustedIssuer,
};
#[cfg(feature = "jwks")]
use crate::keys::jwks::JwksSource;
use crate::keys::key::Key;
use crate::mode::{AuthMode, Mode};
use crate::rejection::{is_quotable, DefaultRejection, ResponseForAuthError, StatusPolicy};
use crate::service::{JwtAuth, Revocation};
use crate::session::store::RevocationStore;
use crate::source::TokenSource;
use crate::verify::roles::{ClaimPath, RolePaths};
use crate::verify::{normalize_typ, IdentityRule, TokenVerifier, VerifyConfig};

/// The default bound on the length of a token, in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// The default leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The largest leeway the builder accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The default maximum lifetime of a token (`exp - iat`, and `exp - now`).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A layer that verifies the access token of each request and puts the claims, of type `C`,
/// into the request extensions: [`JwtAuth`].
///
/// Build one with [`JwtAuthLayer::builder`]; every setting is made there, and checked by
/// [`build`](JwtAuthBuilder::build). Clones share the configuration, so the layer and its
/// services are cheap to clone.
///
/// For groups of routes that need something else, the layer makes *variants* of itself: the
/// same configuration, the same verified-token cache and the same key fetcher (nothing is
/// copied or fetched twice), with another [`mode`](JwtAuthLayer::mode), other
/// [required scopes](JwtAuthLayer::require_scopes) or [roles](JwtAuthLayer::require_roles), or a
/// [predicate](JwtAuthLayer::require) on the claims:
///
/// ```
/// use tower_jwt_auth::{Algorithm, AuthMode, InvalidTokenPolicy, JwtAuthLayer, Key};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// let auth = JwtAuthLayer::<Claims>::builder()
///     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
///     .build()?;
/// // `/me`: `auth` itself, a token required.
/// // `/maybe`: a token optional, a bad one treated as none.
/// let maybe = auth
///     .clone()
///     .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
/// // `/admin`: a token with the scope `admin`.
/// let admin = auth.clone().require_scopes(["admin"])?;
/// # let _ = (maybe, admin);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[must_use]
pub struct JwtAuthLayer<C, R = DefaultRejection> {
    config: Arc<VerifyConfig>,
    cache: Option<Arc<TokenCache<C>>>,
    mode: Mode<C>,
    rejection: R,
    revocation: Option<Arc<Revocation>>,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R: Clone> Clone for JwtAuthLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            cache: self.cache.clone(),
            mode: self.mode.clone(),
            rejection: self.rejection.clone(),
            revocation: self.revocation.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R: fmt::Debug> fmt::Debug for JwtAuthLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .field("rejection", &self.rejection)
            .field("revocation", &self.revocation)
            .field("claims", &std::any::type_name::<C>())
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    /// Starts a configuration.
    pub fn builder() -> JwtAuthBuilder<C> {
        JwtAuthBuilder::new()
    }
}

impl<C, R> JwtAuthLayer<C, R> {
    /// A variant of this layer with another [`AuthMode`]: required (a request without a valid
    /// token is refused) or optional (a request without a token passes on without claims, and
    /// one with a bad token is refused or passes as anonymous, as the [`InvalidTokenPolicy`]
    /// says).
    ///
    /// [`InvalidTokenPolicy`]: crate::InvalidTokenPolicy
    pub fn mode(mut self, mode: AuthMode) -> Self {
        self.mode.auth = mode;
        self
    }

    /// A variant of this layer that requires every scope in `scopes` of each token, on top of a
    /// valid signature and claims, in place of the scopes it required so far. A token without
    /// them is refused with `insufficient_scope` (403, gRPC `PERMISSION_DENIED`), a request
    /// without a token with `missing` (401), even in optional mode. An empty list requires none.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidScope`] if a scope is not an RFC 6749 scope token.
    pub fn require_scopes<I, S>(self, scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_requirement(Slot::Scopes, Requirement::scopes(scopes))
    }

    /// A variant of this layer that requires at least one scope in `scopes`, in place of any
    /// such list it required so far; refused as [`require_scopes`](Self::require_scopes) is. An
    /// empty list requires none.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidScope`] if a scope is not an RFC 6749 scope token.
    pub fn require_any_scope<I, S>(self, scopes: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_requirement(Slot::AnyScope, Requirement::any_scope(scopes))
    }

    /// A variant of this layer that requires every role in `roles` (read from the
    /// [`roles_claim`](JwtAuthBuilder::roles_claim)s), in place of the roles it required so far.
    /// A token without them is refused with `forbidden` (403, gRPC `PERMISSION_DENIED`), a
    /// request without a token with `missing` (401), even in optional mode. An empty list
    /// requires none.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRole`] if a role is empty.
    pub fn require_roles<I, S>(self, roles: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_requirement(Slot::Roles, Requirement::roles(roles))
    }

    /// A variant of this layer that requires at least one role in `roles`, in place of any such
    /// list it required so far; refused as [`require_roles`](Self::require_roles) is. An empty
    /// list requires none.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRole`] if a role is empty.
    pub fn require_any_role<I, S>(self, roles: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_requirement(Slot::AnyRole, Requirement::any_role(roles))
    }

    /// A variant of this layer that requires `predicate` to hold for the claims of each token,
    /// in place of the predicate it required so far. Claims that fail it are refused with
    /// `forbidden` (403, gRPC `PERMISSION_DENIED`), a request without a token with `missing`. It
    /// runs after verification, on cache hits too; keep it quick and non-blocking.
    pub fn require(mut self, predicate: impl Fn(&C) -> bool + Send + Sync + 'static) -> Self {
        // A predicate has no strings to check.
        let _ = self
            .mode
            .requirements
            .set(Slot::Predicate, Requirement::predicate(predicate));
        self
    }

    /// A variant of this layer that also requires `requirement` of requests whose path is
    /// exactly `path`, such as the gRPC method `/greeter.Greeter/SayGoodbye`; see
    /// [`JwtAuthBuilder::require_for_path`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRequestPath`] if `path` does not start with `/`, and the errors of
    /// the requirement's strings.
    pub fn require_for_path(
        mut self,
        path: impl Into<String>,
        requirement: Requirement<C>,
    ) -> Result<Self, ConfigError> {
        self.mode.requirements.add_path(path.into(), requirement)?;
        Ok(self)
    }

    fn with_requirement(
        mut self,
        slot: Slot,
        requirement: Requirement<C>,
    ) -> Result<Self, ConfigError> {
        self.mode.requirements.set(slot, requirement)?;
        Ok(self)
    }

    #[cfg(test)]
    pub(crate) fn cache_len(&self) -> usize {
        self.cache.as_ref().map_or(0, |cache| cache.len())
    }

    /// The rejection in use.
    pub fn rejection(&self) -> &R {
        &self.rejection
    }

    /// Waits until every remote key set of the layer has keys, fetching them as needed, for
    /// at most `timeout`. Without it, the layer starts lazily: requests are answered 503 until
    /// the first keys arrive.
    ///
    /// # Errors
    ///
    /// A `key_source_unavailable` [`AuthError`](crate::AuthError) when some key set has no keys by
    /// the deadline.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub async fn wait_for_keys(&self, timeout: Duration) -> Result<(), crate::AuthError> {
        // No deadline when it does not fit into an `Instant`: each set gets all of `timeout`.
        let deadline = std::time::Instant::now().checked_add(timeout);
        for tenant in &self.config.tenants {
            if let crate::keys::source::KeySource::Remote(remote) = &tenant.keys {
                let left = deadline.map_or(timeout, |deadline| {
                    deadline.saturating_duration_since(std::time::Instant::now())
                });
                remote.wait_for_keys(left).await?;
            }
        }
        Ok(())
    }

    /// A verifier with this layer's configuration, for tokens that arrive outside of a request
    /// header. It verifies the token and its claims only: a layer's
    /// [revocation check](JwtAuthBuilder::revocation) is not part of it (ask the store with
    /// [`RevocationStore::status`](crate::session::RevocationStore::status)).
    pub fn verifier(&self) -> TokenVerifier<C>
    where
        C: serde::de::DeserializeOwned,
    {
        TokenVerifier::new(self.config.clone())
    }
}

impl<S, C, R: Clone> Layer<S> for JwtAuthLayer<C, R> {
    type Service = JwtAuth<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth::new(
            inner,
            self.config.clone(),
            self.cache.clone(),
            self.mode.clone(),
            self.rejection.clone(),
            self.revocation.clone(),
        )
    }
}

/// Configures a [`JwtAuthLayer`]. Every check that can be made before the first request is made
/// by [`build`](JwtAuthBuilder::build).
///
/// | setting | default |
/// |---|---|
/// | [`key`](Self::key) | none: at least one is required |
/// | [`issuer`](Self::issuer) | not checked; once set, `iss` is required and must match one exactly |
/// | [`audience`](Self::audience) | none: a token with an `aud` is refused (RFC 7519 §4.1.3); once set, `aud` is required and must contain one |
/// | [`leeway`](Self::leeway) | 60 s, at most 300 s |
/// | [`max_lifetime`](Self::max_lifetime) | 24 h |
/// | [`exp_required`](Self::exp_required) | `true` |
/// | [`require_claims`](Self::require_claims) | none beyond `exp` |
/// | [`typ`](Self::typ) | not checked |
/// | [`token_sources`](Self::token_sources) | `Authorization: Bearer`, then the cookie `access_token` |
/// | [`max_token_len`](Self::max_token_len) | 8 KiB |
/// | [`realm`](Self::realm) | none |
/// | [`status_policy`](Self::status_policy) | [`StatusPolicy::RefreshOrRefuse`] |
/// | [`pass_cors_preflight`](Self::pass_cors_preflight) | `false`: a CORS preflight needs a token like any request |
/// | [`csrf`](Self::csrf) | [`CsrfGuard::new()`]: Fetch Metadata / `Origin` for cookie tokens on unsafe methods |
/// | [`mode`](Self::mode) | [`AuthMode::Required`] |
/// | [`require_scopes`](Self::require_scopes), [`require_any_scope`](Self::require_any_scope) | none |
/// | [`roles_claim`](Self::roles_claim) | none: no claim grants roles |
/// | [`require_roles`](Self::require_roles), [`require_any_role`](Self::require_any_role), [`require`](Self::require) | none |
/// | [`require_for_path`](Self::require_for_path) | none |
/// | [`rejection`](Self::rejection) | [`DefaultRejection`], with the realm and status policy above |
/// | [`revocation`](Self::revocation) | none: no revocation check |
/// | [`revocation_sid_optional`](Self::revocation_sid_optional) | `false`: with a store, `sid` is required |
/// | [`revocation_fail_open`](Self::revocation_fail_open) | `false`: a store that cannot answer means 503 |
///
/// `R` is the type of the [rejection](Self::rejection): how refusals are answered.
#[must_use]
pub struct JwtAuthBuilder<C, R = DefaultRejection> {
    keys: Vec<Key>,
    #[cfg(feature = "jwks")]
    jwks: Option<JwksSource>,
    trusted: Vec<TrustedIssuer>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    max_lifetime: Option<Duration>,
    exp_required: bool,
    required_claims: Vec<String>,
    typ: Option<String>,
    sources: Vec<TokenSource>,
    max_token_len: usize,
    realm: Option<String>,
    policy: Option<StatusPolicy>,
    clock: Option<crate::verify::Clock>,
    cache: Option<(usize, usize)>,
    provider: Option<&'static jsonwebtoken::crypto::CryptoProvider>,
    pass_cors_preflight: bool,
    csrf: CsrfGuard,
    mode: AuthMode,
    roles_claims: Vec<ClaimPath>,
    requirements: Vec<Pending<C>>,
    revocation: Option<Arc<dyn RevocationStore>>,
    revocation_sid_optional: Option<bool>,
    revocation_fail_open: Option<bool>,
    rejection: R,
    /// Turns the rejection into the layer's, with the realm and status policy: applies them to
    /// the default rejection, and refuses them next to a custom one.
    finish_rejection: FinishRejection<R>,
    _claims: PhantomData<fn() -> C>,
}

type FinishRejection<R> = fn(R, Option<String>, Option<StatusPolicy>) -> Result<R, ConfigError>;

/// The default rejection with the builder's realm and status policy.
fn default_rejection(
    rejection: DefaultRejection,
    realm: Option<String>,
    policy: Option<StatusPolicy>,
) -> Result<DefaultRejection, ConfigError> {
    let mut rejection = rejection.with_policy(policy.unwrap_or_default());
    if let Some(realm) = realm {
        rejection = rejection.with_realm(realm)?;
    }
    Ok(rejection)
}

/// A custom rejection: the realm and status policy are settings of the default rejection, and
/// are refused rather than silently dropped.
fn custom_rejection<R>(
    rejection: R,
    realm: Option<String>,
    policy: Option<StatusPolicy>,
) -> Result<R, ConfigError> {
    if realm.is_some() || policy.is_some() {
        return Err(ConfigError::DefaultRejectionSettingsWithCustomRejection {
            setting: if realm.is_some() {
                "realm"
            } else {
                "status_policy"
            },
        });
    }
    Ok(rejection)
}

/// A requirement given to the builder, checked by `build`.
enum Pending<C> {
    /// For every request, replacing the one of its kind.
    All(Slot, Requirement<C>),
    /// For the requests to one path.
    Path(String, Requirement<C>),
}

impl<C> fmt::Debug for Pending<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pending::All(_, requirement) => requirement.fmt(f),
            Pending::Path(path, requirement) => f
                .debug_tuple("ForPath")
                .field(path)
                .field(requirement)
                .finish(),
        }
    }
}

impl<C, R: fmt::Debug> fmt::Debug for JwtAuthBuilder<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthBuilder")
            .field("keys", &self.keys)
            .field("trusted", &self.trusted)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .field("exp_required", &self.exp_required)
            .field("required_claims", &self.required_claims)
            .field("typ", &self.typ)
            .field("sources", &self.sources)
            .field("max_token_len", &self.max_token_len)
            .field("realm", &self.realm)
            .field("policy", &self.policy)
            .field("pass_cors_preflight", &self.pass_cors_preflight)
            .field("csrf", &self.csrf)
            .field("mode", &self.mode)
            .field("roles_claims", &self.roles_claims)
            .field("requirements", &self.requirements)
            .field("revocation", &self.revocation.as_ref().map(|_| "<store>"))
            .field("revocation_sid_optional", &self.revocation_sid_optional)
            .field("revocation_fail_open", &self.revocation_fail_open)
            .field("rejection", &self.rejection)
            .finish_non_exhaustive()
    }
}

impl<C> Default for JwtAuthBuilder<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> JwtAuthBuilder<C> {
    /// A configuration with the defaults in the table above and no key.
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            #[cfg(feature = "jwks")]
            jwks: None,
            trusted: Vec::new(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            exp_required: true,
            required_claims: Vec::new(),
            typ: None,
            sources: vec![TokenSource::bearer(), TokenSource::cookie("access_token")],
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            realm: None,
            policy: None,
            clock: None,
            cache: None,
            provider: None,
            pass_cors_preflight: false,
            csrf: CsrfGuard::new(),
            mode: AuthMode::Required,
            roles_claims: Vec::new(),
            requirements: Vec::new(),
            revocation: None,
            revocation_sid_optional: None,
            revocation_fail_open: None,
            rejection: DefaultRejection::new(),
            finish_rejection: default_rejection,
            _claims: PhantomData,
        }
    }
}

impl<C, R> JwtAuthBuilder<C, R> {
    /// Adds a verification key. Keys are chosen by the token's `kid`; see [`Key`].
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds several verification keys.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Verifies tokens with the keys of a remote JWKS; see [`JwksSource`] and the
    /// [`jwks`](crate::jwks) module. Static keys and a JWKS cannot be combined. A source made with
    /// [`JwksSource::discover`] also makes its issuer the accepted `iss` (for a discovery
    /// issuer on plain `http://`, as in tests, pass `JwksSource::discover(..)?.allow_http(true)`
    /// here).
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn jwks(mut self, source: JwksSource) -> Self {
        self.jwks = Some(source);
        self
    }

    /// OIDC discovery: the keys of the JWKS named by `{issuer}/.well-known/openid-configuration`,
    /// whose `issuer` must equal `issuer` exactly; `issuer` is then required in tokens too.
    ///
    /// # Errors
    ///
    /// If the issuer is not an absolute `https://` or `http://` URL.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn oidc_discovery(self, issuer: &str) -> Result<Self, ConfigError> {
        Ok(self.jwks(JwksSource::discover(issuer)?))
    }

    /// Trusts one more issuer, with its own keys and audiences; see [`TrustedIssuer`]. With
    /// trusted issuers, the layer's own keys (if any) also need [`issuer`](Self::issuer)s, so
    /// that every token's `iss` selects exactly one key set.
    pub fn trusted_issuer(mut self, issuer: TrustedIssuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// Accepts tokens whose `iss` is exactly this string (no normalisation, no trailing-slash
    /// tolerance). Several calls accept several issuers. Once one is set, `iss` is required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` (a string or an array) contains exactly this string. Several
    /// calls accept several audiences. Once one is set, `aud` is required (RFC 8725 §3.9).
    /// Without any, a token that carries an `aud` is refused, as RFC 7519 §4.1.3 requires of a
    /// service that does not identify itself with a value in it.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat`, in whole seconds, at most 300 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest lifetime accepted: `exp - iat`, and `exp - now`, may not exceed it. This
    /// refuses tokens that never expire in practice (`exp` far in the future, or in
    /// milliseconds). `None` turns the check off.
    pub fn max_lifetime(mut self, max: Option<Duration>) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Whether `exp` is required. It is by default; without it a token never expires.
    pub fn exp_required(mut self, required: bool) -> Self {
        self.exp_required = required;
        self
    }

    /// Claims that must be present in every token, by name (`sub`, `jti`, `client_id`, …).
    pub fn require_claims<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_claims
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Requires the header's `typ` to be this media type, compared as RFC 7515 §4.1.9 says:
    /// without regard to case, and with `application/` optional. `typ("at+jwt")` accepts `at+jwt`
    /// and `application/at+jwt` (RFC 9068 §4).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The JWT profile for OAuth 2.0 access tokens (RFC 9068): `typ` must be `at+jwt`, and
    /// `iss`, `exp`, `aud`, `sub`, `client_id`, `iat` and `jti` are required. Configure the
    /// [`issuer`](Self::issuer) and [`audience`](Self::audience) too, as the profile validates
    /// both.
    pub fn rfc9068(self) -> Self {
        self.typ("at+jwt")
            .require_claims(["iss", "exp", "aud", "sub", "client_id", "iat", "jti"])
    }

    /// Where the token is looked for, in order; the first present source wins. Replaces the
    /// default sources.
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// The longest token accepted, in bytes (1 to 65536); a longer one is refused as
    /// `malformed` before any decoding.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenges. A setting of the [`DefaultRejection`]:
    /// with a custom [`rejection`](Self::rejection), [`build`](Self::build) refuses it.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Which HTTP status each failure gets; see [`StatusPolicy`]. A setting of the
    /// [`DefaultRejection`]: with a custom [`rejection`](Self::rejection), [`build`](Self::build)
    /// refuses it.
    pub fn status_policy(mut self, policy: StatusPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// The clock that time claims are judged against; [`SystemTime::now`] by default. For
    /// tests.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Turns on the verified-token cache: a token seen before and still valid skips signature
    /// verification. It holds at most `max_entries` tokens and about `max_bytes` of memory (each
    /// entry is counted as twice its token's length plus a fixed overhead). The cache key is the
    /// whole token; `exp`, `nbf` and `iat` are judged again on every hit, and a token whose key
    /// has left the key set is verified again. Off by default.
    pub fn token_cache(mut self, max_entries: usize, max_bytes: usize) -> Self {
        self.cache = Some((max_entries, max_bytes));
        self
    }

    /// The crypto provider this layer verifies with; [`RING_PROVIDER`] by default, for example
    /// `&tower_jwt_auth::crypto::AWS_LC_PROVIDER` instead. The provider installed as
    /// jsonwebtoken's process default (if any) plays no part, and is left alone. With the
    /// crate's own providers, verifiers are prepared once per key; with any other, the layer asks
    /// it for a verifier on each request.
    ///
    /// [`RING_PROVIDER`]: crate::crypto::RING_PROVIDER
    pub fn crypto_provider(
        mut self,
        provider: &'static jsonwebtoken::crypto::CryptoProvider,
    ) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Whether a CORS preflight may pass to the inner service without a token. Off by default,
    /// and best left off: put a CORS layer (such as tower-http's `CorsLayer`) *outside* this
    /// layer, so that it answers preflights before authentication runs.
    ///
    /// When on, a request passes only if it is a browser's preflight and nothing more:
    /// `OPTIONS` with `Access-Control-Request-Method`, no `application/grpc…` content type (a
    /// gRPC server routes by path, whatever the method), and no body (the body reports its end,
    /// no `Content-Length` other than 0, no `Transfer-Encoding`). A layer that requires anything
    /// beyond a valid token (scopes, roles, a predicate, on any path) never lets one pass. The
    /// inner service then sees the request without claims, so it must answer it without doing
    /// the route's work.
    pub fn pass_cors_preflight(mut self, pass: bool) -> Self {
        self.pass_cors_preflight = pass;
        self
    }

    /// The CSRF protection for tokens that came from a cookie: on by default
    /// ([`CsrfGuard::new()`], Fetch Metadata and `Origin` on unsafe methods and WebSocket
    /// upgrades); add trusted origins or the signed double-submit cookie, or turn it off with
    /// [`CsrfGuard::disabled()`]. Tokens from any other source are not subject to it. See the
    /// [browsers guide](crate::guide::browsers).
    pub fn csrf(mut self, guard: CsrfGuard) -> Self {
        self.csrf = guard;
        self
    }

    /// Required or optional authentication; [`AuthMode::Required`] by default. Variants of the
    /// built layer for other routes come from [`JwtAuthLayer::mode`].
    pub fn mode(mut self, mode: AuthMode) -> Self {
        self.mode = mode;
        self
    }

    /// Requires every scope in `scopes` of each token (replacing any required so far): a token
    /// without them is refused with `insufficient_scope` (403, gRPC `PERMISSION_DENIED`). The
    /// scopes are checked by [`build`](Self::build). Variants of the built layer that require
    /// other scopes come from [`JwtAuthLayer::require_scopes`].
    pub fn require_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pending(Pending::All(Slot::Scopes, Requirement::scopes(scopes)))
    }

    /// Requires at least one scope in `scopes` of each token (replacing any such list required
    /// so far); refused as with [`require_scopes`](Self::require_scopes). An empty list requires
    /// none.
    pub fn require_any_scope<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pending(Pending::All(Slot::AnyScope, Requirement::any_scope(scopes)))
    }

    /// Reads roles (or groups, or permissions) from the claim at `path`: a list of strings, or a
    /// string of space-separated names. Several calls read several claims, and a token is
    /// granted the union. Handlers get them as [`Roles`](crate::Roles), beside the
    /// [`Scopes`](crate::Scopes); [`require_roles`](Self::require_roles) and
    /// [`require_any_role`](Self::require_any_role) judge them.
    ///
    /// The claims are read in the same single pass that deserializes `C`, whether `C` has a
    /// field for them or not. A token with nothing at the path grants nothing; a value of
    /// another type there (a number, an object, a list with a non-string in it) grants nothing
    /// either, and does not make the token invalid. A path cannot start at a registered claim
    /// the layer reads itself (`scope`, `scp`, `aud`, `exp`, …); the checks are made by
    /// [`build`](Self::build).
    ///
    /// | provider | claim |
    /// |---|---|
    /// | Keycloak | `.roles_claim("realm_access.roles")`, `.roles_claim("resource_access.my-api.roles")` |
    /// | Auth0 (RBAC) | `.roles_claim("permissions")` |
    /// | Microsoft Entra ID | `.roles_claim("roles")` |
    /// | Amazon Cognito | `.roles_claim("cognito:groups")` |
    /// | Okta | `.roles_claim("groups")` |
    /// | a namespaced claim | `.roles_claim(ClaimPath::from_segments(["https://example.com/roles"]))` |
    ///
    /// [`ClaimPath`]: crate::ClaimPath
    pub fn roles_claim(mut self, path: impl Into<ClaimPath>) -> Self {
        self.roles_claims.push(path.into());
        self
    }

    /// Requires every role in `roles` of each token (replacing any required so far), read from
    /// the [`roles_claim`](Self::roles_claim)s: a token without them is refused with
    /// `forbidden` (403, gRPC `PERMISSION_DENIED`). An empty list requires none.
    pub fn require_roles<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pending(Pending::All(Slot::Roles, Requirement::roles(roles)))
    }

    /// Requires at least one role in `roles` of each token (replacing any such list required so
    /// far); refused as with [`require_roles`](Self::require_roles). An empty list requires
    /// none.
    pub fn require_any_role<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pending(Pending::All(Slot::AnyRole, Requirement::any_role(roles)))
    }

    /// Requires `predicate` to hold for the claims of each token (replacing any predicate
    /// required so far), for rules that are not a set membership: claims that fail it are
    /// refused with `forbidden` (403, gRPC `PERMISSION_DENIED`). It runs after verification, on
    /// cache hits too; keep it quick and non-blocking.
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key};
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Claims {
    ///     email_verified: bool,
    /// }
    ///
    /// let auth = JwtAuthLayer::<Claims>::builder()
    ///     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
    ///     .require(|claims: &Claims| claims.email_verified)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn require(self, predicate: impl Fn(&C) -> bool + Send + Sync + 'static) -> Self {
        self.pending(Pending::All(
            Slot::Predicate,
            Requirement::predicate(predicate),
        ))
    }

    /// Requires `requirement` of the requests whose path is exactly `path` (no prefix, no
    /// normalisation, the query ignored), on top of what the layer requires of every request;
    /// several calls add up. This is how one layer in front of a tonic server gives the
    /// methods of a service different permission levels: tonic routes a call by its path,
    /// `/<package>.<Service>/<Method>`, whatever the HTTP method or other headers, so the path is
    /// exactly what decides which handler runs. Requests to other paths are not affected.
    ///
    /// ```
    /// # use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, Requirement};
    /// # #[derive(Clone, serde::Deserialize)]
    /// # struct Claims {}
    /// let auth = JwtAuthLayer::<Claims>::builder()
    ///     .key(Key::hmac(Algorithm::HS256, b"an example secret of 32 bytes!!!")?)
    ///     .roles_claim("realm_access.roles")
    ///     .require_for_path("/greeter.Greeter/SayGoodbye", Requirement::role("staff"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    ///
    /// The path must start with `/`; [`build`](Self::build) checks it and the requirement.
    pub fn require_for_path(self, path: impl Into<String>, requirement: Requirement<C>) -> Self {
        self.pending(Pending::Path(path.into(), requirement))
    }

    fn pending(mut self, requirement: Pending<C>) -> Self {
        self.requirements.push(requirement);
        self
    }

    /// Checks every accepted token against `store` ([`MemoryStore`], `RedisStore` with feature
    /// `redis`, or any [`RevocationStore`]), on every request, verified-token cache hits
    /// included: "not revoked" is never cached. The token is refused with `revoked` (401,
    /// `error="invalid_token"`, not [refreshable](crate::ErrorKind::is_refreshable)) when its
    /// `jti` was revoked, its session (`sid`) was ended, or, for a token without a `sid`, its
    /// subject logged out everywhere at or after its `iat`
    /// ([`RevocationStatus::revokes`](crate::session::RevocationStatus::revokes)).
    ///
    /// The logout-everywhere cutoff has the one-second resolution of `iat`: a token issued in
    /// the same second as the logout is refused too. The cutoff is read from the clock of the
    /// instance that records it and `iat` from the clock of the one that issued the token, so a
    /// clock skew between instances moves the line by as much: an issuer whose clock runs
    /// behind has its tokens refused for up to the skew after a logout, one whose clock runs
    /// ahead has tokens issued up to the skew before the logout accepted. Tokens with a `sid`
    /// are not judged by the cutoff, but by their session, exactly.
    ///
    /// With a store, every token must carry the claims the check reads: `jti`, `sub`, `iat`,
    /// `exp` (even with [`exp_required`](Self::exp_required) off) and `sid` (unless
    /// [`revocation_sid_optional`](Self::revocation_sid_optional)); a token without them is
    /// refused with `invalid_claims`. The layer then puts a [`TokenIdentity`] into the
    /// extensions of each request it lets through with a token.
    ///
    /// It costs one store call per request: the store's synchronous answer where it has one
    /// ([`RevocationStore::status_now`], the memory store), otherwise one awaited
    /// [`status`](RevocationStore::status) (one Redis round trip). When the store cannot answer,
    /// the request is refused with `revocation_unavailable` (503, never anonymous), unless the
    /// layer [fails open](Self::revocation_fail_open). A revoked token is an invalid token: an
    /// optional layer with [`InvalidTokenPolicy::Anonymous`](crate::InvalidTokenPolicy::Anonymous)
    /// lets the request pass without claims, any other layer refuses it.
    ///
    /// [`TokenVerifier`] does not run this check.
    ///
    /// [`MemoryStore`]: crate::session::MemoryStore
    /// [`TokenIdentity`]: crate::TokenIdentity
    pub fn revocation<T>(mut self, store: T) -> Self
    where
        T: RevocationStore + Send + Sync + 'static,
    {
        self.revocation = Some(Arc::new(store));
        self
    }

    /// Whether a token without a `sid` passes the [revocation check](Self::revocation) (default
    /// `false`: `sid` is required). Turn it on for tokens from an outside identity provider
    /// that has no sessions: such tokens are judged by their `jti` and their subject's
    /// logout-everywhere cutoff. A `sid` that is present must still be a non-empty string.
    /// [`build`](Self::build) refuses it without a store.
    pub fn revocation_sid_optional(mut self, optional: bool) -> Self {
        self.revocation_sid_optional = Some(optional);
        self
    }

    /// Whether a request is let in when the [revocation store](Self::revocation) cannot answer
    /// (default `false`: it is refused with `revocation_unavailable`, 503). With it on, an
    /// outage of the store un-revokes every revoked token for its duration: a trade of
    /// security for availability that only the application can make. A `warn` event (feature
    /// `tracing`) reports each failure either way. [`build`](Self::build) refuses it without
    /// a store.
    pub fn revocation_fail_open(mut self, fail_open: bool) -> Self {
        self.revocation_fail_open = Some(fail_open);
        self
    }

    /// Answers refusals with `rejection` instead of the [`DefaultRejection`]: a closure
    /// `Fn(&AuthError, &http::request::Parts) -> http::Response<Bytes> + Clone`, or any
    /// [`ResponseForAuthError`]. The [`realm`](Self::realm) and
    /// [`status_policy`](Self::status_policy) are settings of the default rejection; with a
    /// custom one, [`build`](Self::build) refuses them instead of dropping them.
    pub fn rejection<R2: ResponseForAuthError>(self, rejection: R2) -> JwtAuthBuilder<C, R2> {
        JwtAuthBuilder {
            keys: self.keys,
            #[cfg(feature = "jwks")]
            jwks: self.jwks,
            trusted: self.trusted,
            issuers: self.issuers,
            audiences: self.audiences,
            leeway: self.leeway,
            max_lifetime: self.max_lifetime,
            exp_required: self.exp_required,
            required_claims: self.required_claims,
            typ: self.typ,
            sources: self.sources,
            max_token_len: self.max_token_len,
            realm: self.realm,
            policy: self.policy,
            clock: self.clock,
            cache: self.cache,
            provider: self.provider,
            pass_cors_preflight: self.pass_cors_preflight,
            csrf: self.csrf,
            mode: self.mode,
            roles_claims: self.roles_claims,
            requirements: self.requirements,
            revocation: self.revocation,
            revocation_sid_optional: self.revocation_sid_optional,
            revocation_fail_open: self.revocation_fail_open,
            rejection,
            finish_rejection: custom_rejection::<R2>,
            _claims: PhantomData,
        }
    }

    /// Checks the configuration and builds the layer. It has no effect on the process: no
    /// jsonwebtoken `CryptoProvider` is installed (see [`crypto`](crate::crypto)).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`]: no key, a leeway above 300 s, an invalid source, realm, issuer,
    /// audience, `typ`, claim name, claim path, scope, role or request path, a maximum token
    /// length out of range, a key the crypto provider refuses, a realm or status policy next to
    /// a custom [`rejection`](Self::rejection), or a setting of the revocation check without a
    /// [store](Self::revocation).
    pub fn build(self) -> Result<JwtAuthLayer<C, R>, ConfigError> {
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                secs: self.leeway.as_secs(),
            });
        }
        if self.sources.is_empty() {
            return Err(ConfigError::NoTokenSources);
        }
        for source in &self.sources {
            source.validate()?;
        }
        if self.max_token_len == 0 || self.max_token_len > 64 * 1024 {
            return Err(ConfigError::InvalidMaxTokenLength {
                len: self.max_token_len,
            });
        }
        // The crate's own provider, used directly: nothing is installed in the process.
        let provider = self.provider.unwrap_or(&crate::crypto::RING_PROVIDER);

        #[cfg(feature = "jwks")]
        let jwks = self.jwks;
        #[cfg(not(feature = "jwks"))]
        let jwks: Option<std::convert::Infallible> = None;
        let mut tenants = Vec::with_capacity(self.trusted.len() + 1);
        if !self.keys.is_empty() || jwks.is_some() || self.trusted.is_empty() {
            #[allow(unused_mut)]
            let mut issuers = checked_values(self.issuers, invalid_issuer)?;
            #[cfg(feature = "jwks")]
            if let Some(issuer) = jwks.as_ref().and_then(JwksSource::discovery_issuer) {
                // Keys found by discovery are the keys of that issuer only.
                if issuers.is_empty() {
                    issuers.push(issuer.into());
                } else if let Some(other) = issuers.iter().find(|i| ***i != *issuer) {
                    return Err(ConfigError::DiscoveryIssuerMismatch {
                        configured: other.to_string(),
                        discovered: issuer.to_owned(),
                    });
                }
            }
            if !self.trusted.is_empty() && issuers.is_empty() {
                return Err(ConfigError::IssuerRequiredNextToTrustedIssuers);
            }
            tenants.push(Tenant {
                issuers,
                keys: key_source(self.keys, jwks, provider)?,
                audiences: checked_values(self.audiences, invalid_audience)?,
            });
        } else if !self.issuers.is_empty() || !self.audiences.is_empty() {
            return Err(ConfigError::IssuerOrAudienceWithoutOwnKeys);
        }
        for trusted in self.trusted {
            let tenant = trusted.into_tenant(provider)?;
            let taken = tenants.iter().find_map(|t: &Tenant| {
                t.issuers
                    .iter()
                    .find(|i| tenant.issuers.iter().any(|j| i == &j))
            });
            if let Some(issuer) = taken {
                return Err(ConfigError::IssuerConflict {
                    issuer: issuer.to_string(),
                });
            }
            tenants.push(tenant);
        }
        let required_claims = checked_values(self.required_claims, invalid_claim_name)?;
        let typ = match self.typ {
            Some(typ) if is_quotable(&typ) && !typ.is_empty() => {
                Some(normalize_typ(&typ).into_boxed_str())
            }
            Some(typ) => return Err(ConfigError::InvalidTyp { typ }),
            None => None,
        };
        let rejection = (self.finish_rejection)(self.rejection, self.realm, self.policy)?;
        let mut requirements = Requirements::default();
        for pending in self.requirements {
            match pending {
                Pending::All(slot, requirement) => requirements.set(slot, requirement)?,
                Pending::Path(path, requirement) => requirements.add_path(path, requirement)?,
            }
        }
        let role_paths = RolePaths::new(&self.roles_claims)?;
        let revocation = match self.revocation {
            Some(store) => Some(Arc::new(Revocation {
                store,
                fail_open: self.revocation_fail_open.unwrap_or(false),
            })),
            None => {
                let setting = match (self.revocation_sid_optional, self.revocation_fail_open) {
                    (Some(_), _) => Some("revocation_sid_optional"),
                    (None, Some(_)) => Some("revocation_fail_open"),
                    (None, None) => None,
                };
                if let Some(setting) = setting {
                    return Err(ConfigError::RevocationSettingWithoutStore { setting });
                }
                None
            }
        };
        let identity = revocation.as_ref().map(|_| IdentityRule {
            sid_required: !self.revocation_sid_optional.unwrap_or(false),
        });

        let config = VerifyConfig {
            tenants,
            leeway: self.leeway.as_secs(),
            max_lifetime: self.max_lifetime.map(|d| d.as_secs()),
            exp_required: self.exp_required,
            required_claims,
            typ,
            max_token_len: self.max_token_len,
            clock: self.clock,
            cache: self.cache.is_some(),
            identity,
            role_paths,
        };
        let cache = match self.cache {
            Some((max_entries, max_bytes)) => {
                Some(Arc::new(TokenCache::new(max_entries, max_bytes)?))
            }
            None => None,
        };
        Ok(JwtAuthLayer {
            config: Arc::new(config),
            cache,
            mode: Mode {
                sources: self.sources.into(),
                auth: self.mode,
                pass_cors_preflight: self.pass_cors_preflight,
                csrf: self.csrf,
                requirements,
            },
            rejection,
            revocation,
            _claims: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{Request, StatusCode};
    use http_body_util::Full;
    use tower::{ServiceBuilder, ServiceExt};

    use crate::test_helpers::*;
    use crate::{AuthError, AuthMode, ConfigError, InvalidTokenPolicy, JwtAuthLayer, StatusPolicy};

    async fn status_of(layer: &JwtAuthLayer<TestClaims>, token: &str) -> StatusCode {
        let req = Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(Full::<Bytes>::default())
            .unwrap();
        let svc = ServiceBuilder::new().layer(layer.clone()).service_fn(echo);
        svc.oneshot(req).await.unwrap().status()
    }

    #[tokio::test]
    async fn variants_share_one_configuration_cache_and_key_fetcher() {
        let layer = builder().token_cache(16, 1 << 16).build().unwrap();
        let maybe = layer
            .clone()
            .mode(AuthMode::Optional(InvalidTokenPolicy::Anonymous));
        let reader = layer.clone().require_scopes(["read"]).unwrap();
        for variant in [&maybe, &reader] {
            // The configuration holds the key sets, and with them the key fetchers.
            assert!(std::sync::Arc::ptr_eq(&layer.config, &variant.config));
            assert!(std::sync::Arc::ptr_eq(
                layer.cache.as_ref().unwrap(),
                variant.cache.as_ref().unwrap()
            ));
        }
        // A token verified through one variant is a cache hit on the others.
        let token = good_token();
        assert_eq!(status_of(&maybe, &token).await, StatusCode::OK);
        assert_eq!(layer.cache_len(), 1);
        assert_eq!(reader.cache_len(), 1);
        let cache = reader.cache.as_ref().unwrap();
        let hit = cache.get(token.as_bytes(), now() as f64, reader.config.leeway as f64);
        assert_eq!(hit.unwrap().claims.sub, "alice");
        assert_eq!(status_of(&reader, &token).await, StatusCode::OK);
        assert_eq!(status_of(&layer, &token).await, StatusCode::OK);
        assert_eq!(layer.cache_len(), 1);
    }

    #[test]
    fn default_rejection_settings_next_to_a_custom_rejection_are_refused() {
        let custom = |error: &AuthError, _: &http::request::Parts| {
            http::Response::new(Bytes::from(error.reason()))
        };
        let err = builder().realm("api").rejection(custom).build().err();
        assert_eq!(
            err,
            Some(ConfigError::DefaultRejectionSettingsWithCustomRejection { setting: "realm" })
        );
        let err = builder()
            .rejection(custom)
            .status_policy(StatusPolicy::Rfc6750)
            .build()
            .err();
        assert_eq!(
            err,
            Some(ConfigError::DefaultRejectionSettingsWithCustomRejection {
                setting: "status_policy"
            })
        );
        assert!(builder().rejection(custom).build().is_ok());
        // The default rejection takes both.
        let layer = builder()
            .realm("api")
            .status_policy(StatusPolicy::Rfc6750)
            .build()
            .unwrap();
        assert_eq!(layer.rejection().realm(), Some("api"));
        assert_eq!(layer.rejection().policy(), StatusPolicy::Rfc6750);
    }

    #[test]
    fn build_errors_name_the_setting() {
        let err = |b: crate::JwtAuthBuilder<TestClaims>| b.build().err();
        assert_eq!(
            err(builder().issuer("")),
            Some(ConfigError::InvalidIssuer {
                issuer: String::new(),
                reason: "it is empty"
            })
        );
        assert_eq!(
            err(builder().audience("a\u{7}")),
            Some(ConfigError::InvalidAudience {
                audience: "a\u{7}".into(),
                reason: "it has control characters"
            })
        );
        assert_eq!(
            err(builder().require_claims([""])),
            Some(ConfigError::InvalidClaimName {
                name: String::new(),
                reason: "it is empty"
            })
        );
        assert_eq!(
            err(builder().typ("")),
            Some(ConfigError::InvalidTyp { typ: String::new() })
        );
        assert_eq!(
            err(builder().realm("a\"b")),
            Some(ConfigError::InvalidRealm {
                realm: "a\"b".into()
            })
        );
        assert_eq!(
            err(builder().require_scopes(["read", "a b"])),
            Some(ConfigError::InvalidScope {
                scope: "a b".into()
            })
        );
        assert_eq!(
            err(builder().token_cache(0, 1 << 20)),
            Some(ConfigError::InvalidCacheBound {
                max_entries: 0,
                max_bytes: 1 << 20
            })
        );
        let key = || crate::Key::hmac(crate::Algorithm::HS256, SECRET).unwrap();
        let trusted = || crate::TrustedIssuer::new("https://a.example").key(key());
        assert_eq!(
            err(builder()
                .issuer("https://a.example")
                .trusted_issuer(trusted())),
            Some(ConfigError::IssuerConflict {
                issuer: "https://a.example".into()
            })
        );
        assert_eq!(
            err(builder().trusted_issuer(trusted())),
            Some(ConfigError::IssuerRequiredNextToTrustedIssuers)
        );
        let only_trusted = JwtAuthLayer::<TestClaims>::builder().trusted_issuer(trusted());
        assert_eq!(
            err(only_trusted.audience("api")),
            Some(ConfigError::IssuerOrAudienceWithoutOwnKeys)
        );
    }
}
