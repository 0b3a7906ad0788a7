//! What a layer's verification is configured with ([`VerifyConfig`]), and the time it judges
//! tokens at ([`now`], read from its [`Clock`]).

use crate::clock::Clock;
use crate::keys::issuer::Tenant;
use crate::verify::roles::RolePaths;
use std::fmt;

/// Everything the verification needs, built once with the layer.
pub(crate) struct VerifyConfig {
    /// One tenant, or several chosen by the token's `iss`.
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) leeway: u64,
    pub(crate) max_lifetime: Option<u64>,
    pub(crate) exp_required: bool,
    pub(crate) required_claims: Vec<Box<str>>,
    pub(crate) typ: Option<Box<str>>,
    pub(crate) max_token_len: usize,
    pub(crate) clock: Clock,
    /// Whether the layer caches verified tokens.
    pub(crate) cache: bool,
    /// The claims that grant roles.
    pub(crate) role_paths: RolePaths,
    /// With a revocation store: the claims its check reads, required of every token.
    pub(crate) identity: Option<IdentityRule>,
}

/// The claims a layer with a revocation store requires: `jti`, `sub`, `iat`, `exp`, and `sid`
/// unless it is optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdentityRule {
    pub(crate) sid_required: bool,
}

impl fmt::Debug for VerifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyConfig")
            .field("tenants", &self.tenants)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .field("exp_required", &self.exp_required)
            .field("required_claims", &self.required_claims)
            .field("typ", &self.typ)
            .field("max_token_len", &self.max_token_len)
            .field("clock", &self.clock)
            .field("identity", &self.identity)
            .field("role_paths", &self.role_paths)
            .finish_non_exhaustive()
    }
}

#[inline]
pub(crate) fn now(config: &VerifyConfig) -> u64 {
    config.clock.now_secs()
}
