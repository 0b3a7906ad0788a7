//! [`JwksSource`]: where a remote key set is, and how to fetch and cache it; the checks of its
//! settings.

use std::time::Duration;

use http::Uri;
use jsonwebtoken::{Algorithm, AlgorithmFamily};

use super::discovery::metadata_url;
use super::url::{is_bare_host, may_fetch, parse_uri};
use crate::crypto::{asymmetric_algorithms, is_supported};
use crate::error::ConfigError;

/// Where the key set is: a JWKS URL, or an issuer whose OIDC metadata names it.
#[derive(Clone, Debug)]
pub(super) enum Location {
    Jwks(Uri),
    Discovery { issuer: String, metadata: Uri },
}

/// Where a remote key set is, and how to fetch and cache it. See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct JwksSource {
    pub(super) location: Location,
    pub(super) allow_http: bool,
    pub(super) http_hosts: Vec<String>,
    pub(super) algorithms: Vec<Algorithm>,
    pub(super) min_ttl: Duration,
    pub(super) max_ttl: Duration,
    pub(super) default_ttl: Duration,
    pub(super) cooldown: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Duration,
    pub(super) max_size: usize,
    pub(super) max_staleness: Duration,
}

/// The error of a setting whose value is out of its bounds.
fn invalid(setting: &'static str, requirement: &'static str) -> ConfigError {
    ConfigError::InvalidJwksSetting {
        setting,
        requirement,
    }
}

impl JwksSource {
    fn with_location(location: Location) -> Self {
        Self {
            location,
            allow_http: false,
            http_hosts: Vec::new(),
            algorithms: asymmetric_algorithms().collect(),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            default_ttl: Duration::from_secs(5 * 60),
            cooldown: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_size: 256 * 1024,
            max_staleness: Duration::from_secs(24 * 60 * 60),
        }
    }

    /// The JWKS at `url`.
    ///
    /// # Errors
    ///
    /// If `url` is not an absolute `https://` or `http://` URL.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        Ok(Self::with_location(Location::Jwks(parse_uri(url)?)))
    }

    /// OIDC discovery: the JWKS named by the `jwks_uri` of
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal `issuer` exactly
    /// (RFC 8414 §3.3). Tokens are then required to carry that `iss`.
    ///
    /// # Errors
    ///
    /// If `issuer` is not an absolute `https://` or `http://` URL.
    pub fn discover(issuer: &str) -> Result<Self, ConfigError> {
        let metadata = metadata_url(issuer)?;
        parse_uri(issuer)?;
        Ok(Self::with_location(Location::Discovery {
            issuer: issuer.to_owned(),
            metadata,
        }))
    }

    /// Allows plain `http://` URLs to loopback hosts (`127.0.0.0/8`, `[::1]`, `localhost`), for
    /// the key set, for discovery and for the `jwks_uri` that discovery finds. Off by default;
    /// for tests and for a key server beside the application. Other hosts are named one by one
    /// with [`allow_http_host`](Self::allow_http_host).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Allows plain `http://` URLs to this host (a name or an IP address, compared without
    /// regard to case; no scheme, port or path), for the key set, for discovery and for the
    /// `jwks_uri` that discovery finds: for a deployment where TLS ends elsewhere, such as a key
    /// server on an internal network. May be called once per host; independent of
    /// [`allow_http`](Self::allow_http).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidHttpHost`] if `host` is not a bare host name or IP address.
    pub fn allow_http_host(mut self, host: impl Into<String>) -> Result<Self, ConfigError> {
        let host = host.into();
        if !is_bare_host(&host) {
            return Err(ConfigError::InvalidHttpHost { host });
        }
        self.http_hosts.push(host);
        Ok(self)
    }

    /// The algorithms keys of this set may verify: the allow-list for tokens checked against it.
    /// Only asymmetric algorithms are accepted.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwksAlgorithms`] if the list is empty or names an HMAC or
    /// unsupported algorithm.
    pub fn algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, ConfigError> {
        let algorithms: Vec<Algorithm> = algorithms.into_iter().collect();
        let asymmetric =
            |alg: &Algorithm| is_supported(*alg) && alg.family() != AlgorithmFamily::Hmac;
        if algorithms.is_empty() || !algorithms.iter().all(asymmetric) {
            return Err(ConfigError::InvalidJwksAlgorithms);
        }
        self.algorithms = algorithms;
        Ok(self)
    }

    /// Bounds on the cache lifetime taken from `Cache-Control: max-age` (default 30 s and 24 h).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwksSetting`] if `min` is under 1 s or `max` is under `min`.
    pub fn cache_ttl(mut self, min: Duration, max: Duration) -> Result<Self, ConfigError> {
        if min < Duration::from_secs(1) {
            return Err(invalid("min_ttl", "it must be at least 1 s"));
        }
        if min > max {
            return Err(invalid("max_ttl", "it must be at least min_ttl"));
        }
        self.min_ttl = min;
        self.max_ttl = max;
        Ok(self)
    }

    /// The cache lifetime when the response has no `max-age` (default 5 min), within the bounds.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// The least time between two fetches started by requests (tokens with an unknown `kid`, or
    /// requests while no key is known); 1 s to 10 min, default 30 s.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwksSetting`] outside 1 s to 600 s.
    pub fn cooldown(mut self, cooldown: Duration) -> Result<Self, ConfigError> {
        if cooldown < Duration::from_secs(1) || cooldown > Duration::from_secs(600) {
            return Err(invalid("cooldown", "it must be between 1 s and 600 s"));
        }
        self.cooldown = cooldown;
        Ok(self)
    }

    /// The connect timeout and the total timeout of a fetch (default 5 s and 10 s).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwksSetting`] if either is zero.
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Result<Self, ConfigError> {
        if connect.is_zero() {
            return Err(invalid("connect_timeout", "it must be above zero"));
        }
        if total.is_zero() {
            return Err(invalid("timeout", "it must be above zero"));
        }
        self.connect_timeout = connect;
        self.timeout = total;
        Ok(self)
    }

    /// How long past their cache lifetime the last good keys keep serving while fetches fail
    /// (stale-if-error); default 24 h. Once the last successful fetch is older than the cache
    /// lifetime plus this, the keys no longer verify anything (nor do the tokens they verified
    /// in the verified-token cache): requests are answered 503 `key_source_unavailable` until a
    /// fetch succeeds. `Duration::ZERO` keeps no key past its cache lifetime; a duration too
    /// large for the clock keeps them for good.
    pub fn max_staleness(mut self, max_staleness: Duration) -> Self {
        self.max_staleness = max_staleness;
        self
    }

    /// The largest response accepted, in bytes (default 256 KiB).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidJwksSetting`] if it is zero.
    pub fn max_response_size(mut self, bytes: usize) -> Result<Self, ConfigError> {
        if bytes == 0 {
            return Err(invalid("max_size", "it must be above zero"));
        }
        self.max_size = bytes;
        Ok(self)
    }

    /// The issuer named for OIDC discovery, which tokens must then carry.
    pub(crate) fn discovery_issuer(&self) -> Option<&str> {
        match &self.location {
            Location::Discovery { issuer, .. } => Some(issuer),
            Location::Jwks(_) => None,
        }
    }

    /// Whether `uri` may be fetched: `https://`, or `http://` to a loopback host under
    /// `allow_http(true)` or to a host named with `allow_http_host`.
    pub(super) fn may_fetch(&self, uri: &Uri) -> bool {
        may_fetch(uri, self.allow_http, &self.http_hosts)
    }

    /// Whether keys of this set may verify `algorithm`: the allow-list.
    pub(super) fn allows(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    /// Checks what needs the whole configuration: the location's scheme against `allow_http`
    /// and the hosts named with `allow_http_host` (each setting checked its own value).
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let uri = match &self.location {
            Location::Jwks(uri) => uri,
            Location::Discovery { metadata, .. } => metadata,
        };
        if !self.may_fetch(uri) {
            return Err(ConfigError::PlainHttpNotAllowed {
                host: uri.host().unwrap_or_default().to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_checked() {
        assert!(JwksSource::new("ftp://x/jwks").is_err());
        assert!(JwksSource::new("/relative").is_err());
        let http = JwksSource::new("http://127.0.0.1:1/jwks").unwrap();
        assert_eq!(http.max_staleness, Duration::from_secs(24 * 60 * 60));
        assert!(http.check().is_err());
        assert!(http.clone().allow_http(true).check().is_ok());
        // Each setting checks its own value at the call.
        assert_eq!(
            http.clone().algorithms([Algorithm::HS256]).err(),
            Some(ConfigError::InvalidJwksAlgorithms)
        );
        assert_eq!(
            http.clone().algorithms([]).err(),
            Some(ConfigError::InvalidJwksAlgorithms)
        );
        assert!(http.clone().algorithms([Algorithm::ES256]).is_ok());
        assert_eq!(
            http.clone().cooldown(Duration::ZERO).err(),
            Some(invalid("cooldown", "it must be between 1 s and 600 s"))
        );
        assert_eq!(
            http.clone().cooldown(Duration::from_secs(601)).err(),
            Some(invalid("cooldown", "it must be between 1 s and 600 s"))
        );
        assert_eq!(
            http.clone()
                .cache_ttl(Duration::from_millis(999), Duration::from_secs(60))
                .err(),
            Some(invalid("min_ttl", "it must be at least 1 s"))
        );
        assert_eq!(
            http.clone()
                .cache_ttl(Duration::from_secs(61), Duration::from_secs(60))
                .err(),
            Some(invalid("max_ttl", "it must be at least min_ttl"))
        );
        assert_eq!(
            http.clone()
                .timeouts(Duration::ZERO, Duration::from_secs(1))
                .err(),
            Some(invalid("connect_timeout", "it must be above zero"))
        );
        assert_eq!(
            http.clone()
                .timeouts(Duration::from_secs(1), Duration::ZERO)
                .err(),
            Some(invalid("timeout", "it must be above zero"))
        );
        assert_eq!(
            http.clone().max_response_size(0).err(),
            Some(invalid("max_size", "it must be above zero"))
        );
        let discovery = JwksSource::discover("https://issuer.example/realms/a/").unwrap();
        match &discovery.location {
            Location::Discovery { metadata, issuer } => {
                assert_eq!(
                    metadata.to_string(),
                    "https://issuer.example/realms/a/.well-known/openid-configuration"
                );
                assert_eq!(issuer, "https://issuer.example/realms/a/");
            }
            Location::Jwks(_) => panic!("discovery expected"),
        }
    }

    #[test]
    fn sources_fetch_plain_http_from_loopback_and_named_hosts_only() {
        let uri = |url: &str| url.parse::<Uri>().unwrap();
        let source = JwksSource::new("https://issuer.example/jwks").unwrap();
        assert!(source.may_fetch(&uri("https://anywhere.example/jwks")));
        assert!(!source.may_fetch(&uri("http://127.0.0.1/jwks")));
        let loopback = source.clone().allow_http(true);
        assert!(loopback.may_fetch(&uri("http://127.0.0.1:8080/jwks")));
        assert!(loopback.may_fetch(&uri("http://localhost/jwks")));
        assert!(loopback.may_fetch(&uri("http://[::1]:1/jwks")));
        assert!(!loopback.may_fetch(&uri("http://keys.internal/jwks")));
        let named = source.allow_http_host("Keys.Internal").unwrap();
        assert!(named.may_fetch(&uri("http://keys.internal:8080/jwks")));
        assert!(!named.may_fetch(&uri("http://keys.internal.example/jwks")));
        assert!(!named.may_fetch(&uri("http://127.0.0.1/jwks")));

        let error = JwksSource::new("http://keys.example.com/jwks")
            .unwrap()
            .allow_http(true)
            .check()
            .unwrap_err();
        assert_eq!(
            error,
            ConfigError::PlainHttpNotAllowed {
                host: "keys.example.com".into()
            }
        );
        let error = JwksSource::new("https://keys.example.com/jwks")
            .unwrap()
            .allow_http_host("keys.example.com:80")
            .unwrap_err();
        assert!(error.to_string().contains("allow_http_host"), "{error}");
    }
}
