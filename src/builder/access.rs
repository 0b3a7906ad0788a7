//! The settings of [`JwtAuthBuilder`] that say who gets in: the mode, CSRF and preflights, the
//! requirements on scopes, roles and claims, and the revocation check.

use std::sync::Arc;

use super::JwtAuthBuilder;
use crate::authz::{Requirement, Slot};
use crate::csrf::CsrfGuard;
use crate::error::ConfigError;
use crate::mode::AuthMode;
use crate::revocation::RevocationStore;
use crate::verify::roles::ClaimPath;

impl<C, R> JwtAuthBuilder<C, R> {
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
        self.settings.mode.pass_cors_preflight = pass;
        self
    }

    /// The CSRF protection for tokens that came from a cookie: on by default
    /// ([`CsrfGuard::new()`], Fetch Metadata and `Origin` on unsafe methods and WebSocket
    /// upgrades); add trusted origins or the signed double-submit cookie, or turn it off with
    /// [`CsrfGuard::disabled()`]. Tokens from any other source are not subject to it. See the
    /// [browsers guide](crate::guide::browsers).
    pub fn csrf(mut self, guard: CsrfGuard) -> Self {
        self.settings.mode.csrf = guard;
        self
    }

    /// Required or optional authentication; [`AuthMode::Required`] by default. Variants of the
    /// built layer for other routes come from [`JwtAuthLayer::mode`](crate::JwtAuthLayer::mode).
    pub fn mode(mut self, mode: AuthMode) -> Self {
        self.settings.mode.auth = mode;
        self
    }

    /// Requires every scope in `scopes` of each token (replacing any required so far): a token
    /// without them is refused with `insufficient_scope` (403, gRPC `PERMISSION_DENIED`). An
    /// empty list requires none. Variants of the built layer that require other scopes come
    /// from [`JwtAuthLayer::require_scopes`](crate::JwtAuthLayer::require_scopes), which has the same signature.
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

    /// Requires at least one scope in `scopes` of each token (replacing any such list required
    /// so far); refused as with [`require_scopes`](Self::require_scopes). An empty list requires
    /// none.
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
    /// the layer reads itself (`scope`, `scp`, `aud`, `exp`, …).
    ///
    /// | provider | claim |
    /// |---|---|
    /// | Keycloak | `.roles_claim("realm_access.roles")`, `.roles_claim("resource_access.my-api.roles")` |
    /// | Auth0 (RBAC) | `.roles_claim("permissions")` |
    /// | Microsoft Entra ID | `.roles_claim("roles")` |
    /// | Amazon Cognito | `.roles_claim("cognito:groups")` |
    /// | Okta | `.roles_claim("groups")` |
    /// | a namespaced claim | `.roles_claim(ClaimPath::from_segments(["https://example.com/roles"]))` |
    /// | this crate's [sessions](crate::session::Sessions) | `.roles_claim("roles")`, the claim set at login by [`Grant::claim`](crate::session::Grant::claim)`("roles", ["admin"])` |
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidClaimPath`] for a path without a member name, with an empty one,
    /// deeper than 16 names, or starting at a registered claim.
    ///
    /// [`ClaimPath`]: crate::ClaimPath
    pub fn roles_claim(mut self, path: impl Into<ClaimPath>) -> Result<Self, ConfigError> {
        let path = path.into();
        path.validate()?;
        self.settings.roles_claims.push(path);
        Ok(self)
    }

    /// Requires every role in `roles` of each token (replacing any required so far), read from
    /// the [`roles_claim`](Self::roles_claim)s: a token without them is refused with
    /// `forbidden` (403, gRPC `PERMISSION_DENIED`). An empty list requires none.
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

    /// Requires at least one role in `roles` of each token (replacing any such list required so
    /// far); refused as with [`require_roles`](Self::require_roles). An empty list requires
    /// none.
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
    pub fn require(mut self, predicate: impl Fn(&C) -> bool + Send + Sync + 'static) -> Self {
        // A predicate has no strings to check.
        let _ = self
            .settings
            .mode
            .requirements
            .set(Slot::Predicate, Requirement::predicate(predicate));
        self
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
    ///     .roles_claim("realm_access.roles")?
    ///     .require_for_path("/greeter.Greeter/SayGoodbye", Requirement::role("staff"))?
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
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
        self.settings
            .mode
            .requirements
            .add_path(path.into(), requirement)?;
        Ok(self)
    }

    /// The layer's [DPoP](crate::dpop) mode, for every request ([`DpopMode::Off`] by default).
    /// A mode other than off without a [`dpop_config`](Self::dpop_config) uses the defaults of
    /// [`DpopConfig::new`](crate::dpop::DpopConfig::new).
    ///
    /// [`DpopMode::Off`]: crate::dpop::DpopMode::Off
    pub fn dpop(mut self, mode: crate::dpop::DpopMode) -> Self {
        self.settings.mode.dpop.set_mode(mode);
        self
    }

    /// The settings of DPoP proof checking: algorithms, `iat` window, replay cache, public
    /// origin. They apply where a [mode](Self::dpop) other than off does.
    pub fn dpop_config(mut self, config: crate::dpop::DpopConfig) -> Self {
        self.settings.mode.dpop.config = Some(std::sync::Arc::new(config));
        self
    }

    /// The DPoP mode for requests to `path` (one gRPC method, say), in place of the layer's.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRequestPath`] if `path` does not start with `/`.
    pub fn dpop_for_path(
        mut self,
        path: impl Into<String>,
        mode: crate::dpop::DpopMode,
    ) -> Result<Self, ConfigError> {
        self.settings.mode.dpop.set_path(path.into(), mode)?;
        Ok(self)
    }

    fn with_requirement(
        mut self,
        slot: Slot,
        requirement: Requirement<C>,
    ) -> Result<Self, ConfigError> {
        self.settings.mode.requirements.set(slot, requirement)?;
        Ok(self)
    }

    /// Checks every accepted token against `store` ([`MemoryStore`], `RedisStore` with feature
    /// `redis`, or any [`RevocationStore`]), on every request, verified-token cache hits
    /// included: the verified-token cache never holds "not revoked" (the Redis store's local
    /// view does, refusing a revocation made anywhere within its lease; see the sessions
    /// guide). The token is refused with `revoked` (401,
    /// `error="invalid_token"`, not [refreshable](crate::ErrorKind::is_refreshable)) when its
    /// `jti` was revoked, its session (`sid`) was ended, or its subject logged out everywhere
    /// after it was issued
    /// ([`RevocationStatus::revokes`](crate::revocation::RevocationStatus::revokes)).
    ///
    /// A token of a session the store holds is judged by the session's opening time against
    /// the cutoff, to the millisecond. Any other token (without a `sid`, or whose session is
    /// gone) by `iat`, at its one-second resolution: a token issued in the same second as the
    /// logout is refused too. The cutoff is read from the clock of the instance that records
    /// it and `iat` from the clock of the one that issued the token, so a clock skew between
    /// instances moves the line by as much.
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
    /// [`TokenVerifier`](crate::TokenVerifier) does not run this check.
    ///
    /// [`MemoryStore`]: crate::session::MemoryStore
    /// [`TokenIdentity`]: crate::TokenIdentity
    pub fn revocation<T>(mut self, store: T) -> Self
    where
        T: RevocationStore + Send + Sync + 'static,
    {
        self.settings.revocation = Some(Arc::new(store));
        self
    }

    /// Whether a token without a `sid` passes the [revocation check](Self::revocation) (default
    /// `false`: `sid` is required). Turn it on for tokens from an outside identity provider
    /// that has no sessions: such tokens are judged by their `jti` and their subject's
    /// logout-everywhere cutoff. A `sid` that is present must still be a non-empty string.
    /// [`build`](Self::build) refuses it without a store.
    pub fn revocation_sid_optional(mut self, optional: bool) -> Self {
        self.settings.revocation_sid_optional = Some(optional);
        self
    }

    /// Whether a request is let in when the [revocation store](Self::revocation) cannot answer
    /// (default `false`: it is refused with `revocation_unavailable`, 503). With it on, an
    /// outage of the store un-revokes every revoked token for its duration: a trade of
    /// security for availability that only the application can make. A `warn` event (feature
    /// `tracing`) reports each failure either way. [`build`](Self::build) refuses it without
    /// a store.
    pub fn revocation_fail_open(mut self, fail_open: bool) -> Self {
        self.settings.revocation_fail_open = Some(fail_open);
        self
    }
}
