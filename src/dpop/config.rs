//! [`DpopConfig`]: the settings of proof checking, and the replay check of an accepted proof.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Uri};
use jsonwebtoken::Algorithm;

use super::request::single_proof;
use super::{
    check_proof, invalid, Checked, Expected, MemoryReplayCache, ReplayCache, ReplayError, Target,
};
use crate::error::{AuthError, ConfigError, ErrorKind};

/// The default proof algorithms, in the order of the challenge's `algs`.
pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// The default `iat` window: proofs up to 60 s old.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);
/// The default `iat` window: proofs up to 5 s in the future (clock skew).
pub const DEFAULT_MAX_FUTURE: Duration = Duration::from_secs(5);
/// The default bound of a proof's length, in bytes.
pub const DEFAULT_MAX_PROOF_LEN: usize = 8 * 1024;

/// The settings of DPoP proof checking, shared by a layer and its variants: the accepted proof
/// algorithms, the `iat` window, the replay cache, the public origin `htu` is compared with.
#[derive(Clone)]
pub struct DpopConfig {
    pub(crate) algorithms: Arc<[Algorithm]>,
    pub(crate) algs: Arc<str>,
    pub(crate) past: Duration,
    pub(crate) future: Duration,
    pub(crate) max_proof_len: usize,
    pub(crate) replay: Arc<dyn ReplayCache>,
    pub(crate) public_origin: Option<Arc<str>>,
}

impl fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopConfig")
            .field("algs", &self.algs)
            .field("past", &self.past)
            .field("future", &self.future)
            .field("max_proof_len", &self.max_proof_len)
            .field("public_origin", &self.public_origin)
            .finish_non_exhaustive()
    }
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self::new()
    }
}

fn joined(algorithms: &[Algorithm]) -> Arc<str> {
    let names: Vec<&str> = algorithms
        .iter()
        .filter_map(|alg| crate::crypto::algorithm_name(*alg))
        .collect();
    Arc::from(names.join(" "))
}

impl DpopConfig {
    /// The defaults: algorithms `ES256 EdDSA PS256 RS256`, proofs from 60 s in the past to 5 s
    /// in the future, an in-memory replay cache of 100,000 proofs, proofs of at most 8 KiB, and
    /// no public origin (`htu` is compared with the request's scheme and `Host`).
    pub fn new() -> Self {
        Self {
            algorithms: Arc::from(DEFAULT_ALGORITHMS),
            algs: joined(&DEFAULT_ALGORITHMS),
            past: DEFAULT_MAX_AGE,
            future: DEFAULT_MAX_FUTURE,
            max_proof_len: DEFAULT_MAX_PROOF_LEN,
            replay: Arc::new(MemoryReplayCache::default()),
            public_origin: None,
        }
    }

    /// The proof algorithms accepted, in the order the challenge's `algs` lists them.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidDpop`] for an empty list or an algorithm that is not an asymmetric
    /// one the crate supports.
    pub fn algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, ConfigError> {
        let mut list: Vec<Algorithm> = Vec::new();
        for alg in algorithms {
            let asymmetric = crate::crypto::algorithm_name(alg).is_some()
                && !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
            if !asymmetric {
                return Err(ConfigError::InvalidDpop {
                    setting: "algorithms",
                    problem: "must be asymmetric algorithms the crate supports",
                });
            }
            if !list.contains(&alg) {
                list.push(alg);
            }
        }
        if list.is_empty() {
            return Err(ConfigError::InvalidDpop {
                setting: "algorithms",
                problem: "must not be empty",
            });
        }
        self.algs = joined(&list);
        self.algorithms = list.into();
        Ok(self)
    }

    /// The `iat` window: a proof is accepted from `max_age` before now to `max_future` after
    /// (clock skew); its `jti` is remembered for as long.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidDpop`] when `max_age` is zero or above 10 minutes, or `max_future`
    /// above 1 minute.
    pub fn iat_window(
        mut self,
        max_age: Duration,
        max_future: Duration,
    ) -> Result<Self, ConfigError> {
        if max_age.is_zero() || max_age > Duration::from_secs(600) {
            return Err(ConfigError::InvalidDpop {
                setting: "iat_window max_age",
                problem: "must be from 1 ms to 10 minutes",
            });
        }
        if max_future > Duration::from_secs(60) {
            return Err(ConfigError::InvalidDpop {
                setting: "iat_window max_future",
                problem: "must be at most 1 minute",
            });
        }
        self.past = max_age;
        self.future = max_future;
        Ok(self)
    }

    /// The replay cache: a [`MemoryReplayCache`] of another size, or a store the instances
    /// share (with feature `redis`, the session store `RedisStore`).
    #[must_use]
    pub fn replay_cache(mut self, cache: impl ReplayCache) -> Self {
        self.replay = Arc::new(cache);
        self
    }

    /// The same, for a store shared with other parts of the service.
    #[must_use]
    pub fn shared_replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = cache;
        self
    }

    /// The service's public origin, `http(s)://host[:port]`, which the proofs' `htu` must name
    /// (behind a proxy or a TLS terminator). When unset, `htu` is compared with the request's
    /// URI authority (`:authority` in HTTP/2) or `Host` header, and its scheme (HTTP/2), or
    /// either `http` or `https` when the request does not say (HTTP/1.1). Never with
    /// `X-Forwarded-*` headers.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPublicOrigin`] for anything but `http(s)://host[:port]`.
    pub fn public_origin(mut self, origin: &str) -> Result<Self, ConfigError> {
        // The same rule as the CSRF guard's public origin.
        if crate::csrf::origin::split(origin.as_bytes()).is_none() {
            return Err(ConfigError::InvalidPublicOrigin {
                origin: origin.to_owned(),
            });
        }
        self.public_origin = Some(Arc::from(origin.to_ascii_lowercase()));
        Ok(self)
    }

    /// The longest proof accepted, in bytes (default 8 KiB).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidDpop`] below 256 bytes or above 64 KiB.
    pub fn max_proof_len(mut self, len: usize) -> Result<Self, ConfigError> {
        if !(256..=64 * 1024).contains(&len) {
            return Err(ConfigError::InvalidDpop {
                setting: "max_proof_len",
                problem: "must be from 256 bytes to 64 KiB",
            });
        }
        self.max_proof_len = len;
        Ok(self)
    }

    /// The accepted algorithms as the challenge's `algs` lists them, space-separated.
    pub fn algs(&self) -> &str {
        &self.algs
    }

    /// The 32 bytes that name a proof in the replay cache: its key's thumbprint and its `jti`.
    fn replay_id(checked: &Checked) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(checked.jkt.as_bytes());
        ctx.update(b"\0");
        ctx.update(checked.jti.as_bytes());
        let digest = ctx.finish();
        let mut id = [0; 32];
        id.copy_from_slice(digest.as_ref());
        id
    }

    /// Records the proof in the replay cache: a proof seen before is refused with
    /// `invalid_dpop_proof`, a full cache (or a store that cannot answer) with
    /// `dpop_replay_cache_full`. A store without an answer at once gives the check to await.
    pub(crate) fn record(
        &self,
        checked: &Checked,
        now_ms: u64,
    ) -> Result<Option<ReplayCheck>, AuthError> {
        let id = Self::replay_id(checked);
        let window = self.past.as_millis() + self.future.as_millis();
        let expires = now_ms.saturating_add(u64::try_from(window).unwrap_or(u64::MAX));
        match self.replay.record_now(&id, now_ms, expires) {
            Some(answer) => judge_replay(answer).map(|()| None),
            None => {
                let answer = self.replay.record(id, now_ms, expires);
                Ok(Some(Box::pin(async move { judge_replay(answer.await) })))
            }
        }
    }

    /// Checks a proof at a token request (no access token, so no `ath`), records it against
    /// replay, and gives the thumbprint of its key: for the session endpoints.
    pub(crate) async fn check_token_request(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        now_ms: u64,
    ) -> Result<Option<String>, AuthError> {
        let Some(proof) = single_proof(headers)? else {
            return Ok(None);
        };
        let target = Target::of(self.public_origin.as_deref(), uri, headers)
            .ok_or(invalid("The request's URI cannot be told"))?
            .mounted();
        let checked = check_proof(
            self,
            proof,
            &Expected {
                method: method.as_str(),
                target,
                access_token: None,
                now_ms,
            },
        )?;
        if let Some(replay) = self.record(&checked, now_ms)? {
            replay.await?;
        }
        Ok(Some(checked.jkt))
    }
}

/// A replay check under way: `Ok` when the proof is new.
pub(crate) type ReplayCheck = Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send>>;

/// The meaning of a replay store's answer.
fn judge_replay(answer: Result<bool, ReplayError>) -> Result<(), AuthError> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(invalid("The DPoP proof was used before")),
        Err(_) => Err(REPLAY_FULL),
    }
}

const REPLAY_FULL: AuthError = AuthError::new(
    ErrorKind::DpopReplayCacheFull,
    "The DPoP replay cache cannot take the proof right now",
);
