//! The crate's metrics, recorded through the [`metrics`](https://docs.rs/metrics) facade with the
//! feature `metrics`: every name, label and handle lives here (the operations guide,
//! `src/docs/operations.md`, documents them).
//!
//! Handles are registered in advance, when a layer is built (per layer name) or a remote key set
//! starts (per source), so that a request does no name lookup and no allocation: it bumps an
//! atomic through a handle it already holds. Handles are taken from the recorder installed at
//! that moment: install the recorder (the Prometheus exporter, say) before building the layer.
//!
//! Without the feature every type here is empty and every method an inline no-op.

// Without the feature, the names are documentation only.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use crate::error::{ConfigError, ErrorKind};

/// The `layer` label of a layer whose configuration names none.
pub(crate) const DEFAULT_LAYER: &str = "default";

/// `jwt_auth_requests_total{layer, outcome}`.
pub(crate) const REQUESTS_TOTAL: &str = "jwt_auth_requests_total";
/// `jwt_auth_failures_total{layer, reason}`.
pub(crate) const FAILURES_TOTAL: &str = "jwt_auth_failures_total";
/// `jwt_auth_cache_lookups_total{layer, result}`.
pub(crate) const CACHE_LOOKUPS_TOTAL: &str = "jwt_auth_cache_lookups_total";
/// `jwt_auth_jwks_fetches_total{source, result}`.
pub(crate) const JWKS_FETCHES_TOTAL: &str = "jwt_auth_jwks_fetches_total";
/// `jwt_auth_jwks_keys_age_seconds{source}`.
pub(crate) const JWKS_KEYS_AGE_SECONDS: &str = "jwt_auth_jwks_keys_age_seconds";
/// `jwt_auth_jwks_stale_serves_total{source}`.
pub(crate) const JWKS_STALE_SERVES_TOTAL: &str = "jwt_auth_jwks_stale_serves_total";

/// `jwt_auth_sessions_total{event}`.
pub(crate) const SESSIONS_TOTAL: &str = "jwt_auth_sessions_total";
/// `jwt_auth_store_operation_duration_seconds{store, op}`.
pub(crate) const STORE_DURATION_SECONDS: &str = "jwt_auth_store_operation_duration_seconds";
/// `jwt_auth_store_errors_total{store, op}`.
pub(crate) const STORE_ERRORS_TOTAL: &str = "jwt_auth_store_errors_total";

/// A session event, counted once per request that sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionEvent {
    Opened,
    Refreshed,
    GraceReplay,
    Reused,
    Expired,
    Logout,
    LogoutOne,
    LogoutOthers,
    LogoutAll,
    /// Registered so that the series exists; counted once the stores report the sessions a
    /// cap ended (`SessionStore::create` does not say today).
    #[allow(dead_code)]
    Capped,
}

/// The `event` labels, in the order of [`SessionEvent`].
pub(crate) const SESSION_EVENTS: [&str; 10] = [
    "opened",
    "refreshed",
    "grace_replay",
    "reused",
    "expired",
    "logout",
    "logout_one",
    "logout_others",
    "logout_all",
    "capped",
];

/// A store operation, timed where the crate calls the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreOp {
    Status,
    Lookup,
    Create,
    Rotate,
    End,
    EndSubject,
    Revoke,
    List,
}

/// The `op` labels, in the order of [`StoreOp`].
pub(crate) const STORE_OPS: [&str; 8] = [
    "status",
    "lookup",
    "create",
    "rotate",
    "end",
    "end_subject",
    "revoke",
    "list",
];

/// Every [`ErrorKind`], in declaration order: `kind as usize` is its index here.
pub(crate) const ALL_KINDS: [ErrorKind; 18] = [
    ErrorKind::Missing,
    ErrorKind::InvalidRequest,
    ErrorKind::Malformed,
    ErrorKind::InvalidSignature,
    ErrorKind::AlgorithmNotAllowed,
    ErrorKind::UnknownKey,
    ErrorKind::Expired,
    ErrorKind::NotYetValid,
    ErrorKind::InvalidClaims,
    ErrorKind::InsufficientScope,
    ErrorKind::Forbidden,
    ErrorKind::KeySourceUnavailable,
    ErrorKind::Revoked,
    ErrorKind::RevocationUnavailable,
    ErrorKind::Csrf,
    ErrorKind::InvalidDpopProof,
    ErrorKind::DpopRequired,
    ErrorKind::DpopReplayCacheFull,
];

/// A layer name for the `layer` label: non-empty, at most 64 characters of `a-z`, `0-9`, `_`
/// and `-` (a bounded, static value, safe in every exposition format).
pub(crate) fn checked_layer_name(name: &'static str) -> Result<&'static str, ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(name)
    } else {
        Err(ConfigError::InvalidMetricsName { name: name.into() })
    }
}

/// The `source` label of a remote key set: its URL without the query (nor the fragment).
#[cfg_attr(not(all(feature = "jwks", feature = "metrics")), allow(dead_code))]
pub(crate) fn source_label(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url).to_owned()
}

#[cfg(feature = "metrics")]
mod on {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use metrics::{
        counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
        Gauge, Histogram, Unit,
    };

    use super::*;
    use crate::revocation::StoreError;

    /// The timings and errors of one store, per operation.
    struct StoreHandles {
        durations: [Histogram; STORE_OPS.len()],
        errors: [Counter; STORE_OPS.len()],
    }

    /// The metrics of the calls to one store (its `store` label from
    /// [`RevocationStore::metrics_label`](crate::revocation::RevocationStore::metrics_label)).
    #[derive(Clone)]
    pub(crate) struct StoreMetrics(Arc<StoreHandles>);

    impl StoreMetrics {
        /// Registers the handles of the store labelled `store`.
        pub(crate) fn new(store: &'static str) -> Self {
            describe_histogram!(
                STORE_DURATION_SECONDS,
                Unit::Seconds,
                "Time of the store operations the crate calls"
            );
            describe_counter!(
                STORE_ERRORS_TOTAL,
                Unit::Count,
                "Store operations that failed (unavailable or full)"
            );
            Self(Arc::new(StoreHandles {
                durations: STORE_OPS
                    .map(|op| histogram!(STORE_DURATION_SECONDS, "store" => store, "op" => op)),
                errors: STORE_OPS
                    .map(|op| counter!(STORE_ERRORS_TOTAL, "store" => store, "op" => op)),
            }))
        }

        /// Records one operation that took `elapsed` and `failed` or not.
        pub(crate) fn record(&self, op: StoreOp, elapsed: Duration, failed: bool) {
            if let Some(histogram) = self.0.durations.get(op as usize) {
                histogram.record(elapsed.as_secs_f64());
            }
            if failed {
                if let Some(counter) = self.0.errors.get(op as usize) {
                    counter.increment(1);
                }
            }
        }

        /// Awaits `call`, timing it as `op`.
        pub(crate) async fn timed<T>(
            &self,
            op: StoreOp,
            call: impl Future<Output = Result<T, StoreError>>,
        ) -> Result<T, StoreError> {
            let start = Instant::now();
            let result = call.await;
            self.record(op, start.elapsed(), result.is_err());
            result
        }
    }

    /// The session events, and the calls to the sessions' store.
    #[derive(Clone)]
    pub(crate) struct SessionMetrics {
        events: Arc<[Counter; SESSION_EVENTS.len()]>,
        /// The calls to the sessions' store.
        pub(crate) store: StoreMetrics,
    }

    impl SessionMetrics {
        /// Registers the handles of sessions whose store is labelled `store`.
        pub(crate) fn new(store: &'static str) -> Self {
            describe_counter!(SESSIONS_TOTAL, Unit::Count, "Session events, by event");
            Self {
                events: Arc::new(
                    SESSION_EVENTS.map(|event| counter!(SESSIONS_TOTAL, "event" => event)),
                ),
                store: StoreMetrics::new(store),
            }
        }

        /// One `event`.
        pub(crate) fn event(&self, event: SessionEvent) {
            if let Some(counter) = self.events.get(event as usize) {
                counter.increment(1);
            }
        }
    }

    /// The handles of one layer (and of every variant of it).
    struct LayerHandles {
        accepted: Counter,
        anonymous: Counter,
        refused: Counter,
        failures: [Counter; ALL_KINDS.len()],
        hit: Counter,
        miss: Counter,
    }

    /// The request metrics of a layer, registered when it is built.
    #[derive(Clone)]
    pub(crate) struct LayerMetrics(Arc<LayerHandles>);

    impl LayerMetrics {
        /// Registers the handles of the layer named `layer`.
        pub(crate) fn new(layer: &'static str) -> Self {
            describe_counter!(
                REQUESTS_TOTAL,
                Unit::Count,
                "Requests the layer decided on, by outcome"
            );
            describe_counter!(
                FAILURES_TOTAL,
                Unit::Count,
                "Tokens that failed (refused or let through as anonymous), by reason"
            );
            describe_counter!(
                CACHE_LOOKUPS_TOTAL,
                Unit::Count,
                "Verified-token cache lookups, by result"
            );
            let outcome = |outcome: &'static str| counter!(REQUESTS_TOTAL, "layer" => layer, "outcome" => outcome);
            let cache = |result: &'static str| counter!(CACHE_LOOKUPS_TOTAL, "layer" => layer, "result" => result);
            Self(Arc::new(LayerHandles {
                accepted: outcome("accepted"),
                anonymous: outcome("anonymous"),
                refused: outcome("refused"),
                failures: ALL_KINDS.map(
                    |kind| counter!(FAILURES_TOTAL, "layer" => layer, "reason" => kind.reason()),
                ),
                hit: cache("hit"),
                miss: cache("miss"),
            }))
        }

        /// A request handed on with verified claims.
        #[inline]
        pub(crate) fn accepted(&self) {
            self.0.accepted.increment(1);
        }

        /// A request handed on without claims; `failed` is the failure of the token it carried.
        #[inline]
        pub(crate) fn anonymous(&self, failed: Option<ErrorKind>) {
            self.0.anonymous.increment(1);
            if let Some(kind) = failed {
                self.failure(kind);
            }
        }

        /// A request refused for `kind`.
        #[inline]
        pub(crate) fn refused(&self, kind: ErrorKind) {
            self.0.refused.increment(1);
            self.failure(kind);
        }

        #[inline]
        fn failure(&self, kind: ErrorKind) {
            if let Some(counter) = self.0.failures.get(kind as usize) {
                counter.increment(1);
            }
        }

        /// A lookup in the verified-token cache.
        #[inline]
        pub(crate) fn cache_lookup(&self, hit: bool) {
            if hit {
                self.0.hit.increment(1);
            } else {
                self.0.miss.increment(1);
            }
        }
    }

    /// The metrics of one remote key set, registered when it starts.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) struct JwksMetrics {
        ok: Counter,
        not_modified: Counter,
        error: Counter,
        age: Gauge,
        stale: Counter,
    }

    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    impl JwksMetrics {
        /// Registers the handles of the key set at `url` (labelled without its query).
        pub(crate) fn new(url: &str) -> Self {
            describe_counter!(
                JWKS_FETCHES_TOTAL,
                Unit::Count,
                "Key set fetches, by result"
            );
            describe_gauge!(
                JWKS_KEYS_AGE_SECONDS,
                Unit::Seconds,
                "Time since the keys that serve were fetched (or confirmed unchanged)"
            );
            describe_counter!(
                JWKS_STALE_SERVES_TOTAL,
                Unit::Count,
                "Key lookups served by keys past their cache lifetime, within max_staleness"
            );
            let source = source_label(url);
            let fetch = |result: &'static str| counter!(JWKS_FETCHES_TOTAL, "source" => source.clone(), "result" => result);
            Self {
                ok: fetch("ok"),
                not_modified: fetch("not_modified"),
                error: fetch("error"),
                age: gauge!(JWKS_KEYS_AGE_SECONDS, "source" => source.clone()),
                stale: counter!(JWKS_STALE_SERVES_TOTAL, "source" => source),
            }
        }

        /// A fetch that brought keys (`Some(true)`), confirmed them unchanged (`Some(false)`),
        /// or failed (`None`).
        pub(crate) fn fetched(&self, result: Option<bool>) {
            match result {
                Some(true) => self.ok.increment(1),
                Some(false) => self.not_modified.increment(1),
                None => self.error.increment(1),
            }
        }

        /// The age of the keys that serve.
        #[inline]
        pub(crate) fn keys_age(&self, age: Duration) {
            self.age.set(age.as_secs_f64());
        }

        /// A key looked up in keys past their cache lifetime.
        #[inline]
        pub(crate) fn stale_serve(&self) {
            self.stale.increment(1);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod on {
    use std::future::Future;
    use std::time::Duration;

    use super::{ErrorKind, SessionEvent, StoreOp};
    use crate::revocation::StoreError;

    /// Without the feature `metrics`: nothing.
    #[derive(Clone)]
    pub(crate) struct StoreMetrics;

    impl StoreMetrics {
        #[inline(always)]
        pub(crate) fn new(_store: &'static str) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn record(&self, _op: StoreOp, _elapsed: Duration, _failed: bool) {}
        #[inline(always)]
        pub(crate) async fn timed<T>(
            &self,
            _op: StoreOp,
            call: impl Future<Output = Result<T, StoreError>>,
        ) -> Result<T, StoreError> {
            call.await
        }
    }

    /// Without the feature `metrics`: nothing.
    #[derive(Clone)]
    pub(crate) struct SessionMetrics {
        pub(crate) store: StoreMetrics,
    }

    impl SessionMetrics {
        #[inline(always)]
        pub(crate) fn new(_store: &'static str) -> Self {
            Self {
                store: StoreMetrics,
            }
        }
        #[inline(always)]
        pub(crate) fn event(&self, _event: SessionEvent) {}
    }

    /// Without the feature `metrics`: nothing.
    #[derive(Clone)]
    pub(crate) struct LayerMetrics;

    impl LayerMetrics {
        #[inline(always)]
        pub(crate) fn new(_layer: &'static str) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn accepted(&self) {}
        #[inline(always)]
        pub(crate) fn anonymous(&self, _failed: Option<ErrorKind>) {}
        #[inline(always)]
        pub(crate) fn refused(&self, _kind: ErrorKind) {}
        #[inline(always)]
        pub(crate) fn cache_lookup(&self, _hit: bool) {}
    }

    /// Without the feature `metrics`: nothing.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) struct JwksMetrics;

    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    impl JwksMetrics {
        #[inline(always)]
        pub(crate) fn new(_url: &str) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn fetched(&self, _result: Option<bool>) {}
        #[inline(always)]
        pub(crate) fn keys_age(&self, _age: Duration) {}
        #[inline(always)]
        pub(crate) fn stale_serve(&self) {}
    }
}

#[cfg(feature = "jwks")]
pub(crate) use on::JwksMetrics;
pub(crate) use on::{LayerMetrics, SessionMetrics, StoreMetrics};
#[cfg(feature = "redis")]
pub(crate) use view::ViewMetrics;

/// `jwt_auth_revocation_local_hits_total{store}`: checks answered by a local revocation view.
#[cfg(feature = "redis")]
pub(crate) const REVOCATION_LOCAL_HITS_TOTAL: &str = "jwt_auth_revocation_local_hits_total";
/// `jwt_auth_revocation_propagation_seconds{store}`: from a write (Redis's `TIME` in its script)
/// to its invalidation's arrival at an instance (that instance's system clock).
#[cfg(feature = "redis")]
pub(crate) const REVOCATION_PROPAGATION_SECONDS: &str = "jwt_auth_revocation_propagation_seconds";

/// The local revocation view's metrics (the Redis store's view).
#[cfg(feature = "redis")]
mod view {
    use std::time::Duration;

    /// The hits and the propagation delays of one store's local view.
    pub(crate) struct ViewMetrics {
        #[cfg(feature = "metrics")]
        hits: metrics::Counter,
        #[cfg(feature = "metrics")]
        propagation: metrics::Histogram,
    }

    impl ViewMetrics {
        /// Registers the handles of the store labelled `store`.
        pub(crate) fn new(_store: &'static str) -> Self {
            #[cfg(feature = "metrics")]
            {
                use super::{REVOCATION_LOCAL_HITS_TOTAL, REVOCATION_PROPAGATION_SECONDS};
                metrics::describe_counter!(
                    REVOCATION_LOCAL_HITS_TOTAL,
                    metrics::Unit::Count,
                    "Revocation checks answered by the local view, without a round trip"
                );
                metrics::describe_histogram!(
                    REVOCATION_PROPAGATION_SECONDS,
                    metrics::Unit::Seconds,
                    "Time from a revoking write to its invalidation's arrival"
                );
                Self {
                    hits: metrics::counter!(REVOCATION_LOCAL_HITS_TOTAL, "store" => _store),
                    propagation: metrics::histogram!(REVOCATION_PROPAGATION_SECONDS, "store" => _store),
                }
            }
            #[cfg(not(feature = "metrics"))]
            Self {}
        }

        /// One check answered locally.
        #[inline]
        pub(crate) fn hit(&self) {
            #[cfg(feature = "metrics")]
            self.hits.increment(1);
        }

        /// One invalidation arrived `_delay` after its write.
        #[inline]
        pub(crate) fn propagated(&self, _delay: Duration) {
            #[cfg(feature = "metrics")]
            self.propagation.record(_delay.as_secs_f64());
        }
    }
}

impl std::fmt::Debug for SessionMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionMetrics")
    }
}

impl std::fmt::Debug for LayerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayerMetrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_sits_at_its_index() {
        for (index, kind) in ALL_KINDS.iter().enumerate() {
            assert_eq!(*kind as usize, index, "{kind:?}");
        }
        let reasons: std::collections::BTreeSet<_> = ALL_KINDS.iter().map(|k| k.reason()).collect();
        assert_eq!(reasons.len(), ALL_KINDS.len());
    }

    #[test]
    fn every_event_and_op_sits_at_its_index() {
        use SessionEvent::*;
        let events = [
            Opened,
            Refreshed,
            GraceReplay,
            Reused,
            Expired,
            Logout,
            LogoutOne,
            LogoutOthers,
            LogoutAll,
            Capped,
        ];
        assert_eq!(events.len(), SESSION_EVENTS.len());
        for (index, event) in events.iter().enumerate() {
            assert_eq!(*event as usize, index);
        }
        use StoreOp::*;
        let ops = [
            Status, Lookup, Create, Rotate, End, EndSubject, Revoke, List,
        ];
        assert_eq!(ops.len(), STORE_OPS.len());
        for (index, op) in ops.iter().enumerate() {
            assert_eq!(*op as usize, index);
        }
    }

    #[test]
    fn layer_names_are_checked() {
        for good in ["default", "api", "route-group_2", "a"] {
            assert_eq!(checked_layer_name(good), Ok(good));
        }
        for bad in ["", "Api", "a b", "a.b", "é", "a\"b"] {
            assert_eq!(
                checked_layer_name(bad),
                Err(ConfigError::InvalidMetricsName { name: bad.into() })
            );
        }
        assert!(checked_layer_name(&*"a".repeat(65).leak()).is_err());
    }

    #[test]
    fn source_labels_drop_the_query() {
        assert_eq!(
            source_label("https://idp.example/keys?tenant=1#x"),
            "https://idp.example/keys"
        );
        assert_eq!(
            source_label("http://127.0.0.1:8080/jwks"),
            "http://127.0.0.1:8080/jwks"
        );
    }
}
