//! [`RemoteKeys`]: the keys of a remote set, shared by the layer and its background refresher:
//! the cached keys and how long they may serve, the single flight of fetches that requests
//! start or join, and the refresher that fetches ahead of the cache lifetime.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::Algorithm;

use super::fetch::{backoff, later, Fetched, Fetcher};
use super::source::{JwksSource, Location};
use crate::error::{AuthError, ConfigError, ErrorKind};
use crate::keys::set::{KeySet, KeyWait, Resolution, Resolved};
use crate::metrics::JwksMetrics;
use crate::readiness::Check;

/// The answer when no key can be had: 503 (gRPC `UNAVAILABLE`), never a reason to log out.
const KEY_SOURCE_UNAVAILABLE: AuthError = AuthError::new(
    ErrorKind::KeySourceUnavailable,
    "No verification key can be had right now",
);

impl JwksSource {
    /// Checks the settings and starts the remote key set: the background refresher starts at
    /// once when a Tokio runtime is at hand, otherwise with the first request.
    pub(crate) fn start(
        self,
        provider: &'static CryptoProvider,
    ) -> Result<Arc<RemoteKeys>, ConfigError> {
        self.check()?;
        let metrics = JwksMetrics::new(&match &self.location {
            Location::Jwks(uri) => uri.to_string(),
            Location::Discovery { metadata, .. } => metadata.to_string(),
        });
        let fetcher = Fetcher::new(self, provider)?;
        let (done, _) = tokio::sync::watch::channel(0u64);
        let remote = Arc::new(RemoteKeys {
            fetcher,
            keys: RwLock::new(None),
            state: Mutex::new(FetchState::default()),
            done,
            refresher: AtomicBool::new(false),
            metrics,
        });
        remote.ensure_refresher();
        Ok(remote)
    }
}

/// The schedule of fetches and the outcome of the last one.
#[derive(Debug, Default)]
struct FetchState {
    /// Whether a fetch is under way (single flight).
    in_flight: bool,
    /// When a request last started a fetch: the cooldown counts from here.
    last_request_fetch: Option<Instant>,
    /// When the background refresher should fetch next: four fifths into the keys' lifetime
    /// after a success, after the backoff after a failure, at once before any fetch.
    next_attempt: Option<Instant>,
    failures: u32,
    /// Whether the last fetch that ended failed (or was dropped before it completed).
    last_fetch_failed: bool,
}

/// A remote key set, shared by the layer and its background refresher.
pub(crate) struct RemoteKeys {
    fetcher: Fetcher,
    keys: RwLock<Option<Cached>>,
    state: Mutex<FetchState>,
    /// Bumped at the end of every fetch, successful or not.
    done: tokio::sync::watch::Sender<u64>,
    refresher: AtomicBool,
    metrics: JwksMetrics,
}

impl fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("source", &self.fetcher.source)
            .finish_non_exhaustive()
    }
}

/// The keys of the last successful fetch, and until when they may serve.
#[derive(Clone)]
struct Cached {
    keys: Arc<KeySet>,
    /// When they were fetched, or last confirmed unchanged (`304`).
    fetched_at: Instant,
    /// The end of their cache lifetime; `None` when that does not fit into an `Instant`.
    fresh_until: Option<Instant>,
    /// The end of their cache lifetime plus `max_staleness`; `None` when that does not fit into
    /// an `Instant` (for good).
    serve_until: Option<Instant>,
}

impl Cached {
    fn too_stale(&self, now: Instant) -> bool {
        self.serve_until.is_some_and(|until| now >= until)
    }
}

impl RemoteKeys {
    /// Whether keys of this set may verify `algorithm`: the source's allow-list.
    pub(crate) fn allows(&self, algorithm: Algorithm) -> bool {
        self.fetcher.source.allows(algorithm)
    }

    /// The keys of the last successful fetch, however old.
    fn cached(&self) -> Option<Cached> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The keys that may serve now: none when the last good ones are older than their cache
    /// lifetime plus `max_staleness` (they are then dropped).
    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.snapshot_at(Instant::now()).map(|(keys, _)| keys)
    }

    /// The keys that may serve at `now`, and whether they are past their cache lifetime (stale,
    /// within `max_staleness`). Sets the keys' age gauge.
    fn snapshot_at(&self, now: Instant) -> Option<(Arc<KeySet>, bool)> {
        let cached = self.cached()?;
        if cached.too_stale(now) {
            self.drop_too_stale();
            return None;
        }
        self.metrics
            .keys_age(now.saturating_duration_since(cached.fetched_at));
        let stale = cached.fresh_until.is_some_and(|until| now >= until);
        Some((cached.keys, stale))
    }

    /// Whether keys may serve now; when none may, a fetch is tried (joining the one under way)
    /// for at most a second, so that a probe sees a recovered key server at once.
    pub(crate) async fn readiness(self: &Arc<Self>) -> Check {
        self.ensure_refresher();
        if self.snapshot().is_some() {
            return Check::Ok;
        }
        if let Some(wait) = self.refresh_now() {
            let _ = tokio::time::timeout(Duration::from_secs(1), wait).await;
        }
        if self.snapshot().is_some() {
            Check::Ok
        } else {
            Check::NotReady("no key set fetched within its cache lifetime plus max_staleness")
        }
    }

    /// Drops keys that are past `max_staleness`, so that the tokens they verified leave the
    /// verified-token cache too.
    fn drop_too_stale(&self) {
        let mut slot = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot
            .as_ref()
            .is_some_and(|cached| cached.too_stale(Instant::now()))
        {
            *slot = None;
            #[cfg(feature = "tracing")]
            tracing::error!(
                max_staleness_secs = self.fetcher.source.max_staleness.as_secs(),
                "the last good keys are older than their cache lifetime plus max_staleness; \
                 no key serves until a fetch succeeds"
            );
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn resolve(
        self: &Arc<Self>,
        kid: Option<&str>,
        algorithm: Algorithm,
        may_fetch: bool,
    ) -> Resolution<'static> {
        self.ensure_refresher();
        let refused = match self.snapshot_at(Instant::now()) {
            Some((keys, stale)) => match keys.select(kid, algorithm) {
                Ok(key) => {
                    if stale {
                        self.metrics.stale_serve();
                    }
                    return Resolution::Found(Resolved::Remote(key.clone()));
                }
                Err(error) if error.kind() == ErrorKind::UnknownKey => error,
                Err(error) => return Resolution::Refused(error),
            },
            None => KEY_SOURCE_UNAVAILABLE,
        };
        if may_fetch {
            if let Some(wait) = self.request_fetch() {
                return Resolution::Wait(wait);
            }
        }
        // A `kid` missing from the set is `unknown_key` only when the set was fetched
        // successfully last. When a fetch that may bring the key is still under way (the wait
        // for it was cut short), or the last fetch failed (the provider is down, and may have
        // rotated its keys), nothing can be said about the token: 503, never a reason for the
        // client to log out.
        let state = self.lock_state();
        if state.in_flight || state.last_fetch_failed {
            return Resolution::Refused(KEY_SOURCE_UNAVAILABLE);
        }
        Resolution::Refused(refused)
    }

    /// A fetch for a request: joins the one under way, or starts one unless the cooldown since
    /// the last one a request started has not passed.
    fn request_fetch(self: &Arc<Self>) -> Option<KeyWait> {
        self.join_or_start(|state| {
            let now = Instant::now();
            if let Some(last) = state.last_request_fetch {
                if now.duration_since(last) < self.fetcher.source.cooldown {
                    return false;
                }
            }
            state.last_request_fetch = Some(now);
            true
        })
    }

    /// Joins the fetch under way, or starts one on the current Tokio runtime when `start` says
    /// so. `None` when there is nothing to wait for, or no runtime to wait on.
    fn join_or_start(
        self: &Arc<Self>,
        start: impl FnOnce(&mut FetchState) -> bool,
    ) -> Option<KeyWait> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let mut state = self.lock_state();
        if state.in_flight {
            runtime.as_ref()?;
            return Some(self.waiter());
        }
        if !start(&mut state) {
            return None;
        }
        let Some(runtime) = runtime else {
            #[cfg(feature = "tracing")]
            tracing::error!("no tokio runtime: the key set cannot be fetched");
            return None;
        };
        // Made while the state is locked, so that the end of the fetch cannot be missed.
        let wait = self.waiter();
        state.in_flight = true;
        // The guard clears `in_flight` however the task ends, also when the runtime drops the
        // task at once: so the state is unlocked before the spawn.
        drop(state);
        let mut guard = FetchGuard {
            remote: self.clone(),
            completed: false,
        };
        runtime.spawn(async move {
            guard.remote.fetch_and_store().await;
            guard.complete();
        });
        Some(wait)
    }

    /// A future that completes when the fetch under way ends, or when the longest a fetch can
    /// take has passed (a fetch on a runtime that no longer runs never ends). Needs a Tokio
    /// runtime.
    fn waiter(&self) -> KeyWait {
        let mut done = self.done.subscribe();
        // Discovery and the key set, each within the total timeout, and a second to spare.
        let bound = self
            .fetcher
            .source
            .timeout
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(1));
        // `timeout` saturates a deadline that does not fit into an `Instant`.
        let wait = tokio::time::timeout(bound, async move {
            let _ = done.changed().await;
        });
        KeyWait::new(async move {
            let _ = wait.await;
        })
    }

    /// Starts the background refresher once, when a Tokio runtime is at hand.
    fn ensure_refresher(self: &Arc<Self>) {
        if self.refresher.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refresher.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        // Cleared when the task ends, also when its runtime drops it: the next runtime that sees
        // a request starts another one.
        let guard = RefresherGuard(weak.clone());
        runtime.spawn(async move {
            let _guard = guard;
            refresh_loop(weak).await;
        });
    }

    /// Fetches the key set and stores the outcome: the keys and the next refresh, or the failure
    /// and the next attempt after the backoff.
    async fn fetch_and_store(&self) {
        let conditional = self.snapshot().is_some();
        let result = self
            .fetcher
            .fetch(conditional, || self.cached().map(|cached| cached.keys))
            .await;
        let mut state = self.lock_state();
        let result = match result {
            Ok(Fetched::Keys(keys, ttl)) => Ok((Arc::new(keys), ttl, true)),
            // The keys held stay; without them (dropped meanwhile), the fetch failed.
            Ok(Fetched::NotModified(ttl)) => match self.cached() {
                Some(cached) => Ok((cached.keys, ttl, false)),
                None => Err(super::fetch::FetchError(
                    "the key server answered 304 for keys no longer held",
                )),
            },
            Err(error) => Err(error),
        };
        self.metrics
            .fetched(result.as_ref().ok().map(|(_, _, new)| *new));
        match result {
            Ok((keys, ttl, _new)) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    ttl_secs = ttl.as_secs(),
                    unchanged = !_new,
                    "key set fetched"
                );
                let now = Instant::now();
                let fresh_until = now.checked_add(ttl);
                let cached = Cached {
                    keys,
                    fetched_at: now,
                    fresh_until,
                    serve_until: fresh_until
                        .and_then(|expiry| expiry.checked_add(self.fetcher.source.max_staleness)),
                };
                self.metrics.keys_age(Duration::ZERO);
                match self.keys.write() {
                    Ok(mut slot) => *slot = Some(cached),
                    Err(poisoned) => *poisoned.into_inner() = Some(cached),
                }
                state.failures = 0;
                state.last_fetch_failed = false;
                state.next_attempt = Some(later(Instant::now(), ttl - ttl / 5));
            }
            Err(_error) => {
                self.record_failure(&mut state);
                #[cfg(feature = "tracing")]
                if self.snapshot().is_some() {
                    tracing::warn!(
                        reason = _error.0,
                        failures = state.failures,
                        "key set fetch failed; the last good keys keep serving"
                    );
                } else {
                    tracing::warn!(
                        reason = _error.0,
                        failures = state.failures,
                        "key set fetch failed; no key is known yet"
                    );
                }
            }
        }
    }

    /// Counts a failed fetch and schedules the next attempt after the backoff.
    fn record_failure(&self, state: &mut FetchState) {
        state.failures = state.failures.saturating_add(1);
        state.last_fetch_failed = true;
        state.next_attempt = Some(later(Instant::now(), backoff(state.failures)));
    }

    /// How long until the refresher's next fetch is due, or the keys become too stale to serve,
    /// whichever comes first.
    fn until_due(&self) -> Duration {
        let next_attempt = self.lock_state().next_attempt;
        let now = Instant::now();
        let due = next_attempt.map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        match self.cached().and_then(|cached| cached.serve_until) {
            Some(until) => due.min(until.saturating_duration_since(now)),
            None => due,
        }
    }

    /// The refresher's fetch: joins the one under way, or starts one if it is due.
    fn refresh_if_due(self: &Arc<Self>) -> Option<KeyWait> {
        self.join_or_start(|state| state.next_attempt.is_none_or(|at| Instant::now() >= at))
    }

    /// A fetch now: joins the one under way, or starts one.
    fn refresh_now(self: &Arc<Self>) -> Option<KeyWait> {
        self.join_or_start(|_| true)
    }

    /// Fetches until keys are known or `timeout` passes.
    pub(crate) async fn wait_for_keys(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Result<(), AuthError> {
        self.ensure_refresher();
        let fetched = async {
            while self.snapshot().is_none() {
                let Some(wait) = self.refresh_now() else {
                    return Err(KEY_SOURCE_UNAVAILABLE);
                };
                wait.await;
                if self.snapshot().is_none() {
                    let backoff = self.until_due().max(Duration::from_millis(100));
                    tokio::time::sleep(backoff).await;
                }
            }
            Ok(())
        };
        // `timeout` saturates a deadline that does not fit into an `Instant`.
        tokio::time::timeout(timeout, fetched)
            .await
            .unwrap_or(Err(KEY_SOURCE_UNAVAILABLE))
    }
}

/// Ends a fetch however its task ends: completed, dropped (the task cancelled, or its runtime
/// shut down) or panicked. A fetch that did not complete counts as a failed one. Either way
/// `in_flight` is cleared and the waiters are woken.
struct FetchGuard {
    remote: Arc<RemoteKeys>,
    completed: bool,
}

impl FetchGuard {
    fn complete(&mut self) {
        self.completed = true;
    }
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        let mut state = self.remote.lock_state();
        if !self.completed {
            self.remote.record_failure(&mut state);
            #[cfg(feature = "tracing")]
            tracing::warn!(
                failures = state.failures,
                "key set fetch ended before it completed (its task was dropped or panicked)"
            );
        }
        state.in_flight = false;
        drop(state);
        self.remote
            .done
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

/// Marks the background refresher as gone when its task ends, however it ends.
struct RefresherGuard(Weak<RemoteKeys>);

impl Drop for RefresherGuard {
    fn drop(&mut self) {
        if let Some(remote) = self.0.upgrade() {
            remote.refresher.store(false, Ordering::Release);
        }
    }
}

/// The background refresher: sleeps until the next fetch is due, and works the schedule out
/// again whenever any fetch ends (one a request started may have changed it).
async fn refresh_loop(weak: Weak<RemoteKeys>) {
    loop {
        let (delay, mut done) = match weak.upgrade() {
            Some(remote) => (remote.until_due(), remote.done.subscribe()),
            None => return,
        };
        if !delay.is_zero() {
            match tokio::time::timeout(delay, done.changed()).await {
                // A fetch ended: the schedule may have changed.
                Ok(Ok(())) => continue,
                // The key set is gone.
                Ok(Err(_)) => return,
                Err(_elapsed) => {}
            }
        }
        let wait = match weak.upgrade() {
            Some(remote) => {
                // Keys past `max_staleness` are dropped now, also when no request looks.
                let _ = remote.snapshot();
                remote.refresh_if_due()
            }
            None => return,
        };
        if let Some(wait) = wait {
            wait.await;
        }
    }
}
