//! [`JwtAuthBuilder::build`]: the checks that need the whole configuration, and the making of
//! the layer's key sets, one per trusted issuer.

use std::sync::Arc;

use super::{JwtAuthBuilder, Settings};
use crate::error::ConfigError;
use crate::keys::issuer::{Tenant, TrustedIssuer};
#[cfg(feature = "jwks")]
use crate::keys::jwks::JwksSource;
use crate::keys::key::Key;
use crate::keys::set::KeySet;
use crate::keys::source::KeySource;
use crate::layer::JwtAuthLayer;
use crate::service::Revocation;
use crate::verify::roles::RolePaths;
use crate::verify::{IdentityRule, VerifyConfig};

type Provider = &'static jsonwebtoken::crypto::CryptoProvider;

impl<C, R> JwtAuthBuilder<C, R> {
    /// Checks what needs the whole configuration and builds the layer. It has no effect on the
    /// process: no jsonwebtoken `CryptoProvider` is installed (see [`crypto`](crate::crypto)).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`]: no key, static keys next to a JWKS, a key the crypto provider
    /// refuses, issuers that conflict or are missing next to
    /// [trusted issuers](Self::trusted_issuer), an issuer that differs from the discovered one,
    /// a realm or status policy next to a custom [`rejection`](Self::rejection), or a setting of
    /// the revocation check without a [store](Self::revocation). Each setting checked its own
    /// value when it was made.
    pub fn build(self) -> Result<JwtAuthLayer<C, R>, ConfigError> {
        let Settings {
            keys,
            #[cfg(feature = "jwks")]
            jwks,
            trusted,
            issuers,
            audiences,
            leeway,
            max_lifetime,
            exp_required,
            required_claims,
            typ,
            max_token_len,
            realm,
            policy,
            clock,
            cache,
            provider,
            mode,
            roles_claims,
            revocation,
            revocation_sid_optional,
            revocation_fail_open,
            metrics_name,
            required_source,
        } = self.settings;
        if let Some(required) = required_source {
            if !mode.sources.contains(&required) {
                return Err(ConfigError::SessionCookieNotRead {
                    source: required.to_string(),
                });
            }
        }
        // The crate's own provider, used directly: nothing is installed in the process.
        let provider = provider.unwrap_or(&crate::crypto::RING_PROVIDER);

        #[cfg(not(feature = "jwks"))]
        let jwks: Option<std::convert::Infallible> = None;
        let mut tenants = Vec::with_capacity(trusted.len() + 1);
        if !keys.is_empty() || jwks.is_some() || trusted.is_empty() {
            #[allow(unused_mut)]
            let mut issuers = issuers;
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
            if !trusted.is_empty() && issuers.is_empty() {
                return Err(ConfigError::IssuerRequiredNextToTrustedIssuers);
            }
            tenants.push(Tenant {
                issuers,
                keys: key_source(keys, jwks, provider)?,
                audiences,
            });
        } else if !issuers.is_empty() || !audiences.is_empty() {
            return Err(ConfigError::IssuerOrAudienceWithoutOwnKeys);
        }
        for trusted in trusted {
            let tenant = trusted_tenant(trusted, provider)?;
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
        let rejection = (self.finish_rejection)(self.rejection, realm, policy)?;
        let role_paths = RolePaths::new(&roles_claims)?;
        let revocation = match revocation {
            Some(store) => Some(Arc::new(Revocation {
                metrics: crate::metrics::StoreMetrics::new(store.metrics_label()),
                store,
                fail_open: revocation_fail_open.unwrap_or(false),
            })),
            None => {
                let setting = match (revocation_sid_optional, revocation_fail_open) {
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
            sid_required: !revocation_sid_optional.unwrap_or(false),
        });

        let config = VerifyConfig {
            tenants,
            leeway: leeway.as_secs(),
            max_lifetime: max_lifetime.map(|d| d.as_secs()),
            exp_required,
            required_claims,
            typ,
            max_token_len,
            clock,
            cache: cache.is_some(),
            identity,
            role_paths,
        };
        Ok(JwtAuthLayer::from_parts(
            Arc::new(config),
            cache,
            mode,
            rejection,
            revocation,
            crate::metrics::LayerMetrics::new(metrics_name),
        ))
    }
}

/// The key set, issuer and audiences of one [`TrustedIssuer`], checked.
fn trusted_tenant(trusted: TrustedIssuer, provider: Provider) -> Result<Tenant, ConfigError> {
    let TrustedIssuer {
        issuer,
        keys,
        #[cfg(feature = "jwks")]
        jwks,
        audiences,
    } = trusted;
    #[cfg(feature = "jwks")]
    if let Some(discovered) = jwks.as_ref().and_then(JwksSource::discovery_issuer) {
        if discovered != &*issuer {
            return Err(ConfigError::DiscoveryIssuerMismatch {
                configured: issuer.into(),
                discovered: discovered.to_owned(),
            });
        }
    }
    let issuers = vec![issuer];
    #[cfg(not(feature = "jwks"))]
    let jwks: Option<std::convert::Infallible> = None;
    let keys = key_source(keys, jwks, provider)?;
    Ok(Tenant {
        issuers,
        keys,
        audiences,
    })
}

/// Static keys or a remote set, never both.
#[cfg(feature = "jwks")]
fn key_source(
    keys: Vec<Key>,
    jwks: Option<JwksSource>,
    provider: Provider,
) -> Result<KeySource, ConfigError> {
    match jwks {
        Some(_) if !keys.is_empty() => Err(ConfigError::KeysAndJwksTogether),
        Some(source) => Ok(KeySource::Remote(source.start(provider)?)),
        None => static_keys(keys, provider),
    }
}

/// Static keys only.
#[cfg(not(feature = "jwks"))]
fn key_source(
    keys: Vec<Key>,
    _jwks: Option<std::convert::Infallible>,
    provider: Provider,
) -> Result<KeySource, ConfigError> {
    static_keys(keys, provider)
}

fn static_keys(mut keys: Vec<Key>, provider: Provider) -> Result<KeySource, ConfigError> {
    for key in &mut keys {
        key.prepare(provider)?;
    }
    Ok(KeySource::Static(KeySet::new(keys)?))
}
