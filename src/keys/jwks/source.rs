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
    pub fn allow_http_host(mut self, host: impl Into<String>) -> Self {
        self.http_hosts.push(host.into());
        self
    }

    /// The algorithms keys of this set may verify: the allow-list for tokens checked against it.
    /// Only asymmetric algorithms are accepted.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Bounds on the cache lifetime taken from `Cache-Control: max-age` (default 30 s and 24 h).
    pub fn cache_ttl(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min;
        self.max_ttl = max;
        self
    }

    /// The cache lifetime when the response has no `max-age` (default 5 min), within the bounds.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// The least time between two fetches started by requests (tokens with an unknown `kid`, or
    /// requests while no key is known); 1 s to 10 min, default 30 s.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The connect timeout and the total timeout of a fetch (default 5 s and 10 s).
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = total;
        self
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
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
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

    /// Checks the settings: hosts, scheme, algorithms, and the bounds of each duration.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if let Some(host) = self.http_hosts.iter().find(|host| !is_bare_host(host)) {
            return Err(ConfigError::InvalidHttpHost { host: host.clone() });
        }
        let uri = match &self.location {
            Location::Jwks(uri) => uri,
            Location::Discovery { metadata, .. } => metadata,
        };
        if !self.may_fetch(uri) {
            return Err(ConfigError::PlainHttpNotAllowed {
                host: uri.host().unwrap_or_default().to_owned(),
            });
        }
        let asymmetric =
            |alg: &Algorithm| is_supported(*alg) && alg.family() != AlgorithmFamily::Hmac;
        if self.algorithms.is_empty() || !self.algorithms.iter().all(asymmetric) {
            return Err(ConfigError::InvalidJwksAlgorithms);
        }
        let invalid = |setting, requirement| {
            Err(ConfigError::InvalidJwksSetting {
                setting,
                requirement,
            })
        };
        if self.min_ttl < Duration::from_secs(1) {
            return invalid("min_ttl", "it must be at least 1 s");
        }
        if self.min_ttl > self.max_ttl {
            return invalid("max_ttl", "it must be at least min_ttl");
        }
        if self.cooldown < Duration::from_secs(1) || self.cooldown > Duration::from_secs(600) {
            return invalid("cooldown", "it must be between 1 s and 600 s");
        }
        if self.timeout.is_zero() {
            return invalid("timeout", "it must be above zero");
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect_timeout", "it must be above zero");
        }
        if self.max_size == 0 {
            return invalid("max_size", "it must be above zero");
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
        assert!(http
            .clone()
            .allow_http(true)
            .algorithms([Algorithm::HS256])
            .check()
            .is_err());
        assert!(http
            .clone()
            .allow_http(true)
            .cooldown(Duration::ZERO)
            .check()
            .is_err());
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
        let named = source.allow_http_host("Keys.Internal");
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
            .check()
            .unwrap_err();
        assert!(error.to_string().contains("allow_http_host"), "{error}");
    }
}
