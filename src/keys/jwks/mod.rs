//! Remote key sets: a JWKS fetched over HTTPS, cached, refreshed in the background, and OIDC
//! discovery of where it is.
//!
//! A [`JwksSource`] says where the keys are and how to treat the server that publishes them.
//! Given to [`JwtAuthBuilder::jwks`](crate::JwtAuthBuilder::jwks) (or to a
//! [`TrustedIssuer`](crate::TrustedIssuer)), it behaves as follows:
//!
//! - The keys are cached. The cache lifetime is the response's `Cache-Control: max-age`, bounded
//!   by [`cache_ttl`](JwksSource::cache_ttl) (default 30 s to 24 h; 5 min when the response says
//!   nothing).
//! - A background task refreshes the keys when four fifths of the lifetime have passed, so no
//!   request waits on the network in the steady state. It holds only a weak reference: it ends
//!   when the layer is dropped.
//! - A token whose `kid` is unknown starts at most one refetch per
//!   [`cooldown`](JwksSource::cooldown) (default 30 s), and every request that needs a fetch while
//!   one is under way waits for that one (single flight): a flood of tokens with random `kid`s
//!   never becomes a flood of requests to the identity provider. A request waits for a fetch
//!   at most twice the total timeout plus one second (discovery and key set); when the fetch
//!   has not ended by then, the answer is 503 `key_source_unavailable`. A fetch whose task ends
//!   early (cancelled, its runtime shut down, panicked) counts as a failed fetch.
//! - When a fetch fails, the last good keys keep serving (stale-if-error); the failure is logged
//!   and retried with backoff (1 s, doubling, at most 60 s). They serve for at most
//!   [`max_staleness`](JwksSource::max_staleness) (default 24 h) past their cache lifetime:
//!   once the last successful fetch is older than the cache lifetime plus `max_staleness` and
//!   fetches keep failing, the keys are dropped (and with them what they verified in the
//!   verified-token cache), and requests are answered 503 `key_source_unavailable` until a fetch
//!   succeeds.
//! - A token whose `kid` is not in the cached set is refused 403 `unknown_key` only when the set
//!   was fetched successfully last (also within the cooldown after that fetch). When the fetch
//!   that would decide fails, the answer is 503 `key_source_unavailable`, and so it stays until
//!   a fetch succeeds: during an outage, a key the provider rotated to is not a reason for the
//!   client to log out.
//! - Fetches have a connect and a total timeout (5 s and 10 s) and a bound on the response size
//!   (256 KiB); redirects are not followed.
//! - Only asymmetric keys are taken from a remote set, and only for the algorithms of
//!   [`algorithms`](JwksSource::algorithms) (by default every RSA, ECDSA and EdDSA algorithm the
//!   crate supports). Keys that cannot be used are left out with a warning.
//! - When no key can be had at all (never fetched, provider down), requests are answered 503
//!   with reason `key_source_unavailable` (gRPC `UNAVAILABLE`).
//! - `http://` URLs are refused: keys must come over TLS (roots: the Mozilla set of
//!   `webpki-roots`). [`allow_http(true)`](JwksSource::allow_http) allows plain HTTP to loopback
//!   hosts only (`127.0.0.0/8`, `[::1]`, `localhost`), and
//!   [`allow_http_host`](JwksSource::allow_http_host) to a host named explicitly. The same rule
//!   applies to the `jwks_uri` that OIDC discovery finds.
//!
//! Building the layer never waits: the first fetch starts in the background (at once when the
//! layer is built inside a Tokio runtime, otherwise with the first request). To wait for keys at
//! startup, call [`JwtAuthLayer::wait_for_keys`](crate::JwtAuthLayer::wait_for_keys).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use tower_jwt_auth::JwtAuthLayer;
//! use tower_jwt_auth::jwks::JwksSource;
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! # async fn run() -> Result<(), tower_jwt_auth::BoxError> {
//! // OIDC discovery: the issuer's metadata names the JWKS, and `iss` is checked in tokens.
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .oidc_discovery("https://login.example.com/realms/main")?
//!     .audience("orders-api")?
//!     .build()?;
//! auth.wait_for_keys(Duration::from_secs(10)).await?;
//!
//! // Or a JWKS URL, with settings.
//! let auth = JwtAuthLayer::<Claims>::builder()
//!     .jwks(
//!         JwksSource::new("https://tenant.example.auth0.com/.well-known/jwks.json")?
//!             .cooldown(Duration::from_secs(10))?,
//!     )
//!     .issuer("https://tenant.example.auth0.com/")?
//!     .audience("https://orders.example.com")?
//!     .build()?;
//! # Ok(())
//! # }
//! ```

// The files of this folder, each using only those listed before it:
// - `url.rs`: which URLs may be fetched (TLS, or plain HTTP to loopback or named hosts);
// - `cache_control.rs`: the cache lifetime a response gives (`Cache-Control: max-age`);
// - `discovery.rs`: OIDC discovery: the metadata URL of an issuer and the `jwks_uri` it names;
// - `source.rs`: `JwksSource`, the configuration of a remote set, and its checks;
// - `fetch.rs`: one fetch of the key set over HTTP(S), and the backoff after failures;
// - `remote.rs`: `RemoteKeys`, the cached keys, single-flight fetches and the background
//   refresher, started by `JwksSource::start`.

pub(crate) mod cache_control;
mod discovery;
mod fetch;
mod remote;
mod source;
mod url;

pub(crate) use self::remote::RemoteKeys;
pub use self::source::JwksSource;
