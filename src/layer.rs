//! [`JwtAuthLayer`]: the built layer, its per-route variants, and its `Layer` impl. Its builder is
//! in `builder/`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use crate::authz::{Requirement, Slot};
use crate::cache::TokenCache;
use crate::error::ConfigError;
use crate::metrics::LayerMetrics;
use crate::mode::{AuthMode, ModeConfig};
use crate::readiness::{Check, Readiness};
use crate::rejection::DefaultRejection;
use crate::service::{JwtAuth, Revocation};
use crate::verify::{TokenVerifier, VerifyConfig};

/// A layer that verifies the access token of each request and puts the claims, of type `C`,
/// into the request extensions: [`JwtAuth`].
///
/// Build one with [`JwtAuthLayer::builder`]; every setting is made there, and checked by
/// [`build`](crate::JwtAuthBuilder::build). Clones share the configuration, so the layer and its
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
    mode: ModeConfig<C>,
    rejection: R,
    revocation: Option<Arc<Revocation>>,
    metrics: LayerMetrics,
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
            metrics: self.metrics.clone(),
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

impl<C, R> JwtAuthLayer<C, R> {
    /// The layer [`build`](crate::JwtAuthBuilder::build) made.
    pub(crate) fn from_parts(
        config: Arc<VerifyConfig>,
        cache: Option<Arc<TokenCache<C>>>,
        mode: ModeConfig<C>,
        rejection: R,
        revocation: Option<Arc<Revocation>>,
        metrics: LayerMetrics,
    ) -> Self {
        Self {
            config,
            cache,
            mode,
            rejection,
            revocation,
            metrics,
            _claims: PhantomData,
        }
    }

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

    /// A variant of this layer with another [DPoP](crate::dpop) mode for every request (its
    /// modes per path stay). A mode other than off on a layer built without a DPoP
    /// configuration uses the defaults, with a replay cache of the variant's own.
    pub fn dpop(mut self, mode: crate::dpop::DpopMode) -> Self {
        self.mode.dpop.set_mode(mode);
        self
    }

    /// A variant of this layer with the DPoP mode `mode` for requests to `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRequestPath`] if `path` does not start with `/`.
    pub fn dpop_for_path(
        mut self,
        path: impl Into<String>,
        mode: crate::dpop::DpopMode,
    ) -> Result<Self, ConfigError> {
        self.mode.dpop.set_path(path.into(), mode)?;
        Ok(self)
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
    /// [`roles_claim`](crate::JwtAuthBuilder::roles_claim)s), in place of the roles it required so far.
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
    /// [`JwtAuthBuilder::require_for_path`](crate::JwtAuthBuilder::require_for_path).
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
    pub async fn wait_for_keys(
        &self,
        timeout: std::time::Duration,
    ) -> Result<(), crate::AuthError> {
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

    /// Whether the layer can judge tokens now, for a readiness probe: its keys are loaded and
    /// not past their maximum staleness (a remote key set that has none is fetched once more,
    /// waiting at most a second), and its revocation store, when it has one, answers
    /// ([`RevocationStore::ping`](crate::revocation::RevocationStore::ping)). See the
    /// [operations guide](crate::guide::operations).
    pub async fn readiness(&self) -> Readiness {
        #[allow(unused_mut)]
        let mut keys = Check::Ok;
        #[cfg(feature = "jwks")]
        for tenant in &self.config.tenants {
            if let crate::keys::source::KeySource::Remote(remote) = &tenant.keys {
                let check = remote.readiness().await;
                if !check.is_ok() {
                    keys = check;
                    break;
                }
            }
        }
        let store = match &self.revocation {
            None => None,
            Some(revocation) => Some(match revocation.store.ping().await {
                Ok(()) => Check::Ok,
                Err(_) => Check::NotReady("the revocation store does not answer"),
            }),
        };
        Readiness::new(Some(keys), store)
    }

    /// A verifier with this layer's configuration, for tokens that arrive outside of a request
    /// header. It verifies the token and its claims only: a layer's
    /// [revocation check](crate::JwtAuthBuilder::revocation) is not part of it (ask the store with
    /// [`RevocationStore::status`](crate::revocation::RevocationStore::status)).
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
            self.metrics.clone(),
        )
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
        let layer = builder().token_cache(16, 1 << 16).unwrap().build().unwrap();
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
    fn default_sources_are_bearer_then_the_host_prefixed_cookie() {
        let layer = JwtAuthLayer::<TestClaims>::builder()
            .key(crate::Key::hmac(crate::Algorithm::HS256, SECRET).unwrap())
            .build()
            .unwrap();
        assert_eq!(
            *layer.mode.sources,
            [
                crate::TokenSource::bearer(),
                crate::TokenSource::cookie("__Host-access_token")
            ]
        );
    }

    #[test]
    fn default_rejection_settings_next_to_a_custom_rejection_are_refused() {
        let custom = |error: &AuthError, _: &http::request::Parts| {
            http::Response::new(Bytes::from(error.reason()))
        };
        let err = builder()
            .realm("api")
            .unwrap()
            .rejection(custom)
            .build()
            .err();
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
            .unwrap()
            .status_policy(StatusPolicy::Rfc6750)
            .build()
            .unwrap();
        assert_eq!(layer.rejection().realm(), Some("api"));
        assert_eq!(layer.rejection().policy(), StatusPolicy::Rfc6750);
    }

    #[test]
    fn setting_and_build_errors_name_the_setting() {
        // A setting checks its own value when it is made, `build` what needs all of them.
        let err = |b: crate::JwtAuthBuilder<TestClaims>| b.build().err();
        assert_eq!(
            builder().issuer("").err(),
            Some(ConfigError::InvalidIssuer {
                issuer: String::new(),
                reason: "it is empty"
            })
        );
        assert_eq!(
            builder().audience("a\u{7}").err(),
            Some(ConfigError::InvalidAudience {
                audience: "a\u{7}".into(),
                reason: "it has control characters"
            })
        );
        assert_eq!(
            builder().require_claims([""]).err(),
            Some(ConfigError::InvalidClaimName {
                name: String::new(),
                reason: "it is empty"
            })
        );
        assert_eq!(
            builder().typ("").err(),
            Some(ConfigError::InvalidTyp { typ: String::new() })
        );
        assert_eq!(
            builder().realm("a\"b").err(),
            Some(ConfigError::InvalidRealm {
                realm: "a\"b".into()
            })
        );
        assert_eq!(
            builder().require_scopes(["read", "a b"]).err(),
            Some(ConfigError::InvalidScope {
                scope: "a b".into()
            })
        );
        assert_eq!(
            builder().token_cache(0, 1 << 20).err(),
            Some(ConfigError::InvalidCacheBound {
                max_entries: 0,
                max_bytes: 1 << 20
            })
        );
        let key = || crate::Key::hmac(crate::Algorithm::HS256, SECRET).unwrap();
        let trusted = || {
            crate::TrustedIssuer::new("https://a.example")
                .unwrap()
                .key(key())
        };
        assert_eq!(
            err(builder()
                .issuer("https://a.example")
                .unwrap()
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
            err(only_trusted.audience("api").unwrap()),
            Some(ConfigError::IssuerOrAudienceWithoutOwnKeys)
        );
    }
}
