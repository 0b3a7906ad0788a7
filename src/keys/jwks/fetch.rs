//! One fetch of a remote key set: the HTTPS client, the request (through OIDC discovery when
//! the source names an issuer), the parse into a [`KeySet`], and the backoff after failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, USER_AGENT};
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::crypto::CryptoProvider;

use super::cache_control::max_age;
use super::discovery;
use super::source::{JwksSource, Location};
use crate::error::ConfigError;
use crate::keys::jwk::{log_skipped, parse_jwks, SkippedKey};
use crate::keys::set::KeySet;

/// The longest wait between two attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Why a fetch failed: a fixed sentence, for the logs.
#[derive(Debug)]
pub(super) struct FetchError(
    // Read only by the `tracing` events.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))] pub(super) &'static str,
);

/// Fetches the key set of one source: its settings, its HTTP client, the crypto provider its
/// keys are checked with, and the `jwks_uri` discovery found.
pub(super) struct Fetcher {
    pub(super) source: JwksSource,
    client: HttpClient,
    provider: &'static CryptoProvider,
    /// The `jwks_uri` of the last discovery, until a fetch of it fails.
    jwks_uri: Mutex<Option<Uri>>,
    /// The validators of the last key set fetched, sent back so that the server may answer
    /// `304 Not Modified`.
    validators: Mutex<Option<Validators>>,
}

/// The `ETag` and `Last-Modified` of a key set response, and the URL they belong to.
#[derive(Clone, Debug)]
struct Validators {
    uri: Uri,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
}

/// What a fetch brought: a new key set, or the word that the one held is still current.
pub(super) enum Fetched {
    /// A key set and its cache lifetime.
    Keys(KeySet, Duration),
    /// `304 Not Modified`: the keys held stay, for this new cache lifetime.
    NotModified(Duration),
}

/// The answer of one `GET`.
enum Got {
    Body(Bytes, Option<Duration>, Option<Validators>),
    NotModified(Option<Duration>),
}

impl Fetcher {
    /// A fetcher for `source`, with an HTTPS client (the Mozilla roots of `webpki-roots`; plain
    /// HTTP where the source allows it).
    pub(super) fn new(
        source: JwksSource,
        provider: &'static CryptoProvider,
    ) -> Result<Self, ConfigError> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(source.connect_timeout));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|err| ConfigError::TlsSetup {
                reason: err.to_string(),
            })?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            source,
            client,
            provider,
            jwks_uri: Mutex::new(None),
            validators: Mutex::new(None),
        })
    }

    fn lock_jwks_uri(&self) -> std::sync::MutexGuard<'_, Option<Uri>> {
        self.jwks_uri
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_validators(&self) -> std::sync::MutexGuard<'_, Option<Validators>> {
        self.validators
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key set and its cache lifetime. Keys equal to one of `previous()` (the keys that
    /// serve now, asked for once the new ones are parsed) are kept as those same objects. With
    /// `conditional` (keys are held) the request carries the validators of the last key set,
    /// and `304 Not Modified` is an answer.
    pub(super) async fn fetch(
        &self,
        conditional: bool,
        previous: impl FnOnce() -> Option<Arc<KeySet>>,
    ) -> Result<Fetched, FetchError> {
        let jwks_uri = match &self.source.location {
            Location::Jwks(uri) => uri.clone(),
            Location::Discovery { issuer, metadata } => {
                let cached = self.lock_jwks_uri().clone();
                match cached {
                    Some(uri) => uri,
                    None => {
                        let uri = self.discover(issuer, metadata).await?;
                        *self.lock_jwks_uri() = Some(uri.clone());
                        uri
                    }
                }
            }
        };
        let validators = if conditional {
            self.lock_validators()
                .clone()
                .filter(|validators| validators.uri == jwks_uri)
        } else {
            None
        };
        let got = self
            .get(&jwks_uri, validators.as_ref())
            .await
            .map_err(|err| {
                if matches!(self.source.location, Location::Discovery { .. }) {
                    // Discover again next time: the metadata may have moved the key set.
                    *self.lock_jwks_uri() = None;
                    FetchError("the key set named by discovery could not be fetched")
                } else {
                    err
                }
            })?;
        let (body, max_age, validators) = match got {
            Got::Body(body, max_age, validators) => (body, max_age, validators),
            Got::NotModified(max_age) => return Ok(Fetched::NotModified(self.ttl(max_age))),
        };
        let parsed = parse_jwks(&body, false).map_err(FetchError)?;
        let mut skipped = parsed.skipped;
        let mut keys = Vec::with_capacity(parsed.keys.len());
        for mut key in parsed.keys {
            if !key.algorithms().iter().all(|alg| self.source.allows(*alg)) {
                skipped.push(SkippedKey {
                    kid: key.kid().map(str::to_owned),
                    reason: "the key's algorithm is not allowed for this key set",
                });
            } else if key.prepare(self.provider).is_err() {
                skipped.push(SkippedKey {
                    kid: key.kid().map(str::to_owned),
                    reason: "the crypto provider refused the key",
                });
            } else {
                keys.push(key);
            }
        }
        log_skipped(&skipped);
        if keys.is_empty() {
            return Err(FetchError("the key set has no usable key"));
        }
        // Keys that did not change stay the same objects, so that what they verified stays
        // in the verified-token cache.
        let previous = previous();
        let keys = keys
            .into_iter()
            .map(|key| {
                previous
                    .as_ref()
                    .and_then(|previous| previous.find_same(&key).cloned())
                    .unwrap_or_else(|| Arc::new(key))
            })
            .collect();
        let keys =
            KeySet::from_shared(keys).map_err(|_| FetchError("the key set is not usable"))?;
        *self.lock_validators() = validators;
        Ok(Fetched::Keys(keys, self.ttl(max_age)))
    }

    /// The cache lifetime for a response's `max-age`, within the source's bounds.
    fn ttl(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.source.default_ttl)
            .clamp(self.source.min_ttl, self.source.max_ttl)
    }

    /// The `jwks_uri` of the metadata at `metadata`, which must name `issuer` exactly and may be
    /// fetched under the source's URL rules.
    async fn discover(&self, issuer: &str, metadata: &Uri) -> Result<Uri, FetchError> {
        let Got::Body(body, _, _) = self.get(metadata, None).await? else {
            return Err(FetchError("the discovery document answered 304 unasked"));
        };
        let uri = discovery::jwks_uri(&body, issuer).map_err(FetchError)?;
        if !self.source.may_fetch(&uri) {
            return Err(FetchError(
                "the discovery document's jwks_uri is plain http to a host that is neither \
                 loopback under allow_http(true) nor named with allow_http_host",
            ));
        }
        Ok(uri)
    }

    /// `GET uri`: the body, bounded in size and time, the response's `max-age` and
    /// validators; or, when `validators` were sent, `304 Not Modified`.
    async fn get(&self, uri: &Uri, validators: Option<&Validators>) -> Result<Got, FetchError> {
        let mut request = Request::get(uri.clone());
        if let Some(validators) = validators {
            if let Some(etag) = &validators.etag {
                request = request.header(IF_NONE_MATCH, etag.clone());
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified.clone());
            }
        }
        let request = request
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .header(
                USER_AGENT,
                concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|_| FetchError("the request could not be built"))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|_| FetchError("the key server could not be reached"))?;
            let max_age = max_age(response.headers());
            if response.status() == StatusCode::NOT_MODIFIED && validators.is_some() {
                return Ok(Got::NotModified(max_age));
            }
            if !response.status().is_success() {
                return Err(FetchError("the key server answered with an error status"));
            }
            let headers = response.headers();
            let etag = headers.get(ETAG).cloned();
            let last_modified = headers.get(LAST_MODIFIED).cloned();
            let validators = (etag.is_some() || last_modified.is_some()).then(|| Validators {
                uri: uri.clone(),
                etag,
                last_modified,
            });
            let body = Limited::new(response.into_body(), self.source.max_size)
                .collect()
                .await
                .map_err(|_| FetchError("the response is too large or broken"))?
                .to_bytes();
            Ok(Got::Body(body, max_age, validators))
        };
        tokio::time::timeout(self.source.timeout, exchange)
            .await
            .map_err(|_| FetchError("the key server did not answer in time"))?
    }
}

/// Far enough to stand for "never", near enough to fit into an `Instant` on every platform.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `now + after`, saturated far in the future instead of overflowing (a `max-age` from the
/// wire, or a bound of `Duration::MAX`).
pub(super) fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(after.min(FAR_FUTURE)))
        .unwrap_or(now)
}

/// The wait before the next attempt after `failures` failures in a row: 1 s, doubling, at most
/// 60 s.
pub(super) fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    (Duration::from_secs(1) * 2u32.pow(exp)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_saturate() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(later(now, Duration::MAX) >= now + FAR_FUTURE);
        assert!(later(now, Duration::MAX - Duration::MAX / 5) > now);
    }
}
