//! The issuers a layer trusts: [`TrustedIssuer`] as the user configures it, and [`Tenant`] (its
//! `iss` values, key source and audiences) as verification uses it.

use crate::error::{checked_audience, checked_issuer, ConfigError};
#[cfg(feature = "jwks")]
use crate::keys::jwks::JwksSource;
use crate::keys::key::Key;
use crate::keys::source::KeySource;

/// One issuer a layer trusts, as verification uses it: the accepted `iss` values, the keys and
/// the audiences. A single-issuer layer has one, built from the builder's own settings.
#[derive(Debug)]
pub(crate) struct Tenant {
    /// The accepted `iss` values; empty: `iss` is not checked (single-issuer layers only).
    pub(crate) issuers: Vec<Box<str>>,
    pub(crate) keys: KeySource,
    pub(crate) audiences: Vec<Box<str>>,
}

/// One issuer a multi-issuer layer trusts, with its own keys and audiences.
///
/// A layer with several trusted issuers reads the token's `iss` first, and looks the key up only
/// in the key set of that issuer: an issuer that is not configured is refused as
/// `invalid_claims` before any key is fetched, and a token naming issuer A is never verified with
/// issuer B's keys.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, JwtAuthLayer, Key, TrustedIssuer};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Claims {
///     sub: String,
/// }
///
/// let auth = JwtAuthLayer::<Claims>::builder()
///     .trusted_issuer(
///         TrustedIssuer::new("https://a.example")?
///             .key(Key::hmac(Algorithm::HS256, b"tenant a's secret of 32 bytes!!!")?)
///             .audience("api")?,
///     )
///     .trusted_issuer(
///         TrustedIssuer::new("https://b.example")?
///             .key(Key::hmac(Algorithm::HS256, b"tenant b's secret of 32 bytes!!!")?)
///             .audience("api")?,
///     )
///     .build()?;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct TrustedIssuer {
    // Read by the builder, which checks them and makes the issuer's `Tenant`.
    pub(crate) issuer: Box<str>,
    pub(crate) keys: Vec<Key>,
    #[cfg(feature = "jwks")]
    pub(crate) jwks: Option<JwksSource>,
    pub(crate) audiences: Vec<Box<str>>,
}

impl TrustedIssuer {
    /// An issuer, by its exact `iss`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIssuer`] if it is empty or has control characters.
    pub fn new(issuer: impl Into<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: checked_issuer(issuer.into())?,
            keys: Vec::new(),
            #[cfg(feature = "jwks")]
            jwks: None,
            audiences: Vec::new(),
        })
    }

    /// Adds a static key of this issuer.
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds static keys of this issuer.
    pub fn keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// The issuer's remote key set.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn jwks(mut self, source: JwksSource) -> Self {
        self.jwks = Some(source);
        self
    }

    /// The issuer's key set by OIDC discovery from its `iss`.
    ///
    /// # Errors
    ///
    /// If the issuer is not an absolute `https://` or `http://` URL.
    #[cfg(feature = "jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
    pub fn discover(self) -> Result<Self, ConfigError> {
        let source = JwksSource::discover(&self.issuer)?;
        Ok(self.jwks(source))
    }

    /// Accepts tokens of this issuer whose `aud` contains `audience`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidAudience`] if it is empty or has control characters.
    pub fn audience(mut self, audience: impl Into<String>) -> Result<Self, ConfigError> {
        self.audiences.push(checked_audience(audience.into())?);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_issuer_settings_fail_at_the_call() {
        let invalid_issuer = |reason| {
            move |issuer: &str| ConfigError::InvalidIssuer {
                issuer: issuer.to_owned(),
                reason,
            }
        };
        assert_eq!(
            TrustedIssuer::new("").err(),
            Some(invalid_issuer("it is empty")(""))
        );
        assert_eq!(
            TrustedIssuer::new("https://a.example\n").err(),
            Some(invalid_issuer("it has control characters")(
                "https://a.example\n"
            ))
        );
        let issuer = TrustedIssuer::new("https://a.example").unwrap();
        assert_eq!(
            issuer.clone().audience("").err(),
            Some(ConfigError::InvalidAudience {
                audience: String::new(),
                reason: "it is empty",
            })
        );
        let issuer = issuer.audience("api").unwrap().audience("web").unwrap();
        assert_eq!(&*issuer.issuer, "https://a.example");
        assert_eq!(issuer.audiences, [Box::from("api"), Box::from("web")]);
    }
}
