//! [`JwtAuthBuilder`]: the configuration of a [`JwtAuthLayer`], each setting checked when it is
//! made (here and in `access.rs`), and the checks that need all of it (`build.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::csrf::CsrfGuard;
use crate::error::{checked_audience, checked_issuer, checked_value, ConfigError};
use crate::keys::issuer::TrustedIssuer;
#[cfg(feature = "jwks")]
use crate::keys::jwks::JwksSource;
use crate::keys::key::Key;
use crate::layer::JwtAuthLayer;
use crate::mode::{AuthMode, ModeConfig};
use crate::rejection::{is_quotable, DefaultRejection, ResponseForAuthError, StatusPolicy};
use crate::revocation::RevocationStore;
use crate::source::TokenSource;
use crate::verify::normalize_typ;
use crate::verify::roles::ClaimPath;

mod access;
mod build;

/// The default bound on the length of a token, in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// The default leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The largest leeway the builder accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The default maximum lifetime of a token (`exp - iat`, and `exp - now`).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The largest token length the builder accepts, in bytes.
const MAX_TOKEN_LEN: usize = 64 * 1024;
/// The name of the default access-token cookie, the one `session::CookieSettings` sets.
pub(crate) const DEFAULT_ACCESS_COOKIE: &str = "__Host-access_token";

/// Configures a [`JwtAuthLayer`].
///
/// A setting whose value can be wrong checks it at once and returns
/// `Result<Self, ConfigError>` (an empty issuer, a scope with a space, a leeway above 300 s);
/// the others return `Self`. [`build`](JwtAuthBuilder::build) makes only the checks that need
/// the whole configuration: a key is there, the settings agree with each other, the keys suit
/// the crypto provider. See the [configuration guide](crate::guide::configuration).
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
/// | [`token_sources`](Self::token_sources) | `Authorization: Bearer`, then the cookie `__Host-access_token` |
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
/// | [`metrics_name`](Self::metrics_name) | `default`: the `layer` label of the metrics |
///
/// `R` is the type of the [rejection](Self::rejection): how refusals are answered.
#[must_use]
pub struct JwtAuthBuilder<C, R = DefaultRejection> {
    /// Every setting but the rejection: moved as a whole when the rejection type changes.
    settings: Settings<C>,
    rejection: R,
    /// Turns the rejection into the layer's, with the realm and status policy: applies them to
    /// the default rejection, and refuses them next to a custom one.
    finish_rejection: FinishRejection<R>,
}

/// The settings of a [`JwtAuthBuilder`], each already checked on its own.
struct Settings<C> {
    keys: Vec<Key>,
    #[cfg(feature = "jwks")]
    jwks: Option<JwksSource>,
    trusted: Vec<TrustedIssuer>,
    issuers: Vec<Box<str>>,
    audiences: Vec<Box<str>>,
    leeway: Duration,
    max_lifetime: Option<Duration>,
    exp_required: bool,
    required_claims: Vec<Box<str>>,
    /// Normalized (see [`normalize_typ`]).
    typ: Option<Box<str>>,
    max_token_len: usize,
    realm: Option<String>,
    policy: Option<StatusPolicy>,
    clock: Clock,
    cache: Option<Arc<TokenCache<C>>>,
    provider: Option<&'static jsonwebtoken::crypto::CryptoProvider>,
    /// What the layer and its variants do per request: sources, mode, CSRF guard, preflights,
    /// requirements. The built layer takes it as it is.
    mode: ModeConfig<C>,
    roles_claims: Vec<ClaimPath>,
    revocation: Option<Arc<dyn RevocationStore>>,
    revocation_sid_optional: Option<bool>,
    revocation_fail_open: Option<bool>,
    /// The `layer` label of the layer's metrics.
    metrics_name: &'static str,
    /// A source [`build`](JwtAuthBuilder::build) requires among the token sources: the access
    /// cookie of `Sessions::layer_builder`, which its endpoints and login set.
    required_source: Option<TokenSource>,
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

fn invalid_claim_name(name: String, reason: &'static str) -> ConfigError {
    ConfigError::InvalidClaimName { name, reason }
}

impl<C> fmt::Debug for Settings<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("keys", &self.keys)
            .field("trusted", &self.trusted)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .field("exp_required", &self.exp_required)
            .field("required_claims", &self.required_claims)
            .field("typ", &self.typ)
            .field("max_token_len", &self.max_token_len)
            .field("realm", &self.realm)
            .field("policy", &self.policy)
            .field("cache", &self.cache.is_some())
            .field("mode", &self.mode)
            .field("roles_claims", &self.roles_claims)
            .field("revocation", &self.revocation.as_ref().map(|_| "<store>"))
            .field("revocation_sid_optional", &self.revocation_sid_optional)
            .field("revocation_fail_open", &self.revocation_fail_open)
            .finish_non_exhaustive()
    }
}

impl<C, R: fmt::Debug> fmt::Debug for JwtAuthBuilder<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthBuilder")
            .field("settings", &self.settings)
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
            settings: Settings {
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
                max_token_len: DEFAULT_MAX_TOKEN_LEN,
                realm: None,
                policy: None,
                clock: Clock::system(),
                cache: None,
                provider: None,
                mode: ModeConfig {
                    sources: Arc::from([
                        TokenSource::bearer(),
                        TokenSource::cookie(DEFAULT_ACCESS_COOKIE),
                    ]),
                    auth: AuthMode::Required,
                    pass_cors_preflight: false,
                    csrf: CsrfGuard::new(),
                    requirements: Default::default(),
                    dpop: Default::default(),
                },
                roles_claims: Vec::new(),
                revocation: None,
                revocation_sid_optional: None,
                revocation_fail_open: None,
                metrics_name: crate::metrics::DEFAULT_LAYER,
                required_source: None,
            },
            rejection: DefaultRejection::new(),
            finish_rejection: default_rejection,
        }
    }
}

impl<C, R> JwtAuthBuilder<C, R> {
    /// Adds a verification key. Keys are chosen by the token's `kid`; see [`Key`].
    pub fn key(mut self, key: Key) -> Self {
        self.settings.keys.push(key);
        self
    }

    /// Adds several verification keys.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.settings.keys.extend(keys);
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
        self.settings.jwks = Some(source);
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
        self.settings.trusted.push(issuer);
        self
    }

    /// Accepts tokens whose `iss` is exactly this string (no normalisation, no trailing-slash
    /// tolerance). Several calls accept several issuers. Once one is set, `iss` is required.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuer`] if it is empty or has control characters.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Result<Self, ConfigError> {
        let issuer = checked_issuer(issuer.into())?;
        self.settings.issuers.push(issuer);
        Ok(self)
    }

    /// Accepts tokens whose `aud` (a string or an array) contains exactly this string. Several
    /// calls accept several audiences. Once one is set, `aud` is required (RFC 8725 §3.9).
    /// Without any, a token that carries an `aud` is refused, as RFC 7519 §4.1.3 requires of a
    /// service that does not identify itself with a value in it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidAudience`] if it is empty or has control characters.
    pub fn audience(mut self, audience: impl Into<String>) -> Result<Self, ConfigError> {
        let audience = checked_audience(audience.into())?;
        self.settings.audiences.push(audience);
        Ok(self)
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat`, in whole seconds.
    ///
    /// # Errors
    ///
    /// [`ConfigError::LeewayTooLarge`] above [`MAX_LEEWAY`] (300 s).
    pub fn leeway(mut self, leeway: Duration) -> Result<Self, ConfigError> {
        if leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge {
                secs: leeway.as_secs(),
            });
        }
        self.settings.leeway = leeway;
        Ok(self)
    }

    /// The longest lifetime accepted: `exp - iat`, and `exp - now`, may not exceed it. This
    /// refuses tokens that never expire in practice (`exp` far in the future, or in
    /// milliseconds). `None` turns the check off.
    pub fn max_lifetime(mut self, max: Option<Duration>) -> Self {
        self.settings.max_lifetime = max;
        self
    }

    /// Whether `exp` is required. It is by default; without it a token never expires.
    pub fn exp_required(mut self, required: bool) -> Self {
        self.settings.exp_required = required;
        self
    }

    /// Claims that must be present in every token, by name (`sub`, `jti`, `client_id`, …).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidClaimName`] if a name is empty or has control characters.
    pub fn require_claims<I, S>(mut self, names: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for name in names {
            let name = checked_value(name.into(), invalid_claim_name)?;
            self.settings.required_claims.push(name);
        }
        Ok(self)
    }

    /// Requires the header's `typ` to be this media type, compared as RFC 7515 §4.1.9 says:
    /// without regard to case, and with `application/` optional. `typ("at+jwt")` accepts `at+jwt`
    /// and `application/at+jwt` (RFC 9068 §4).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTyp`] if it is empty or not printable ASCII without `"` and `\`.
    pub fn typ(mut self, typ: impl Into<String>) -> Result<Self, ConfigError> {
        let typ = typ.into();
        if typ.is_empty() || !is_quotable(&typ) {
            return Err(ConfigError::InvalidTyp { typ });
        }
        self.settings.typ = Some(normalize_typ(&typ).into_boxed_str());
        Ok(self)
    }

    /// The JWT profile for OAuth 2.0 access tokens (RFC 9068): `typ` must be `at+jwt`, and
    /// `iss`, `exp`, `aud`, `sub`, `client_id`, `iat` and `jti` are required. Configure the
    /// [`issuer`](Self::issuer) and [`audience`](Self::audience) too, as the profile validates
    /// both.
    pub fn rfc9068(mut self) -> Self {
        // Fixed, valid values: nothing to check.
        self.settings.typ = Some("at+jwt".into());
        self.settings
            .required_claims
            .extend(["iss", "exp", "aud", "sub", "client_id", "iat", "jti"].map(Box::<str>::from));
        self
    }

    /// Where the token is looked for, in order; the first present source wins. Replaces the
    /// default sources.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoTokenSources`] for an empty list, [`ConfigError::InvalidSourceName`]
    /// for a cookie or query parameter whose name is not an RFC 7230 token.
    pub fn token_sources(
        mut self,
        sources: impl IntoIterator<Item = TokenSource>,
    ) -> Result<Self, ConfigError> {
        let sources: Arc<[TokenSource]> = sources.into_iter().collect();
        if sources.is_empty() {
            return Err(ConfigError::NoTokenSources);
        }
        for source in sources.iter() {
            source.validate()?;
        }
        self.settings.mode.sources = sources;
        Ok(self)
    }

    /// [`token_sources`](Self::token_sources) for sources whose names were checked already (the
    /// session cookies').
    pub(crate) fn checked_token_sources(
        mut self,
        sources: impl IntoIterator<Item = TokenSource>,
    ) -> Self {
        self.settings.mode.sources = sources.into_iter().collect();
        self
    }

    /// Makes [`build`](Self::build) refuse a configuration whose token sources leave `source`
    /// out ([`ConfigError::SessionCookieNotRead`]): the session cookie the sessions set.
    pub(crate) fn require_token_source(mut self, source: TokenSource) -> Self {
        self.settings.required_source = Some(source);
        self
    }

    /// The longest token accepted, in bytes; a longer one is refused as `malformed` before any
    /// decoding.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidMaxTokenLength`] outside of 1 to 65536.
    pub fn max_token_len(mut self, len: usize) -> Result<Self, ConfigError> {
        if len == 0 || len > MAX_TOKEN_LEN {
            return Err(ConfigError::InvalidMaxTokenLength { len });
        }
        self.settings.max_token_len = len;
        Ok(self)
    }

    /// The `realm` of the `WWW-Authenticate` challenges. A setting of the [`DefaultRejection`]:
    /// with a custom [`rejection`](Self::rejection), [`build`](Self::build) refuses it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRealm`] if it cannot be quoted in a challenge (not printable
    /// ASCII, or `"` or `\` in it).
    pub fn realm(mut self, realm: impl Into<String>) -> Result<Self, ConfigError> {
        let realm = realm.into();
        if !is_quotable(&realm) {
            return Err(ConfigError::InvalidRealm { realm });
        }
        self.settings.realm = Some(realm);
        Ok(self)
    }

    /// Which HTTP status each failure gets; see [`StatusPolicy`]. A setting of the
    /// [`DefaultRejection`]: with a custom [`rejection`](Self::rejection), [`build`](Self::build)
    /// refuses it.
    pub fn status_policy(mut self, policy: StatusPolicy) -> Self {
        self.settings.policy = Some(policy);
        self
    }

    /// The `layer` label of this layer's metrics (feature `metrics`), so that operators can tell
    /// route groups apart; `default` by default. Every variant of the built layer shares it. See
    /// the [operations guide](crate::guide::operations).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidMetricsName`] for an empty name, one longer than 64 characters, or
    /// one with a character outside `a-z`, `0-9`, `_` and `-`.
    pub fn metrics_name(mut self, name: &'static str) -> Result<Self, ConfigError> {
        self.settings.metrics_name = crate::metrics::checked_layer_name(name)?;
        Ok(self)
    }

    /// The clock that time claims are judged against; [`Clock::system`] by default. For tests:
    /// [`Clock::manual`], or [`Clock::from_fn`] around a closure.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.settings.clock = clock;
        self
    }

    /// Turns on the verified-token cache: a token seen before and still valid skips signature
    /// verification. It holds at most `max_entries` tokens and about `max_bytes` of memory (each
    /// entry weighs its token, twice its decoded payload, its scopes and roles, and a fixed
    /// overhead). The cache key is the
    /// whole token; `exp`, `nbf` and `iat` are judged again on every hit, and a token whose key
    /// has left the key set is verified again. Off by default.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidCacheBound`] for no entries, more than 2²⁴ entries, or less than
    /// 1 KiB.
    pub fn token_cache(
        mut self,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Self, ConfigError> {
        self.settings.cache = Some(Arc::new(TokenCache::new(max_entries, max_bytes)?));
        Ok(self)
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
        self.settings.provider = Some(provider);
        self
    }

    /// The issuer, audiences, leeway and `typ` of a `session::Sessions`, whose builder checked
    /// them by the same rules as [`issuer`](Self::issuer), [`audience`](Self::audience) and
    /// [`leeway`](Self::leeway): set as they are, so that `Sessions::layer_builder` cannot fail.
    pub(crate) fn issued_by(
        mut self,
        issuer: &str,
        audiences: &[String],
        leeway: Duration,
        at_jwt: bool,
    ) -> Self {
        let settings = &mut self.settings;
        settings.issuers.push(issuer.into());
        settings
            .audiences
            .extend(audiences.iter().map(|a| Box::from(a.as_str())));
        settings.leeway = leeway.min(MAX_LEEWAY);
        if at_jwt {
            settings.typ = Some("at+jwt".into());
        }
        self
    }

    /// Answers refusals with `rejection` instead of the [`DefaultRejection`]: a closure
    /// `Fn(&AuthError, &http::request::Parts) -> http::Response<Bytes> + Clone`, or any
    /// [`ResponseForAuthError`]. The [`realm`](Self::realm) and
    /// [`status_policy`](Self::status_policy) are settings of the default rejection; with a
    /// custom one, [`build`](Self::build) refuses them instead of dropping them.
    ///
    /// [`AuthError`]: crate::AuthError
    pub fn rejection<R2: ResponseForAuthError>(self, rejection: R2) -> JwtAuthBuilder<C, R2> {
        JwtAuthBuilder {
            settings: self.settings,
            rejection,
            finish_rejection: custom_rejection::<R2>,
        }
    }
}

impl<C> JwtAuthLayer<C> {
    /// Starts a configuration.
    pub fn builder() -> JwtAuthBuilder<C> {
        JwtAuthBuilder::new()
    }
}
