//! [`RedisStoreBuilder`]'s settings and [`build`](RedisStoreBuilder::build).

use std::sync::atomic::{AtomicU64, AtomicU8};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::Script;

use super::con::Target;
use super::topology::Topology;
use super::{
    scripts, Inner, RedisConfigError, RedisStore, RedisStoreBuilder, TargetSpec,
    DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, DEFAULT_REPLICA_WAIT, MAX_PREFIX_LEN,
    PROBE_UNKNOWN,
};
use crate::clock::Clock;

impl RedisStoreBuilder {
    pub(super) fn new(target: TargetSpec) -> Self {
        Self {
            target,
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            wait: Some(DEFAULT_REPLICA_WAIT),
            clock: Clock::system(),
            view: super::view::ViewSettings::default(),
        }
    }

    /// Durability: after every write whose success the client is told of (a session opened, a
    /// rotation, a logout, a revocation), wait up to this long for one replica to acknowledge
    /// it (`WAIT 1 <ms>` in the write's pipeline), when the write's shard has replicas (judged
    /// as the topology changes). Default [`DEFAULT_REPLICA_WAIT`] (100 ms); `None` never
    /// waits. When no replica acknowledges in time the call answers `Unavailable` (503), and
    /// the write stays applied on the primary. The sessions guide says what it guarantees.
    pub fn replica_wait(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }

    /// The prefix of every key (default `tjwt:`): at most 64 bytes, without `{` or `}`.
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::InvalidPrefix`] for a longer prefix, or one with `{` or `}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Result<Self, RedisConfigError> {
        let prefix = prefix.into();
        if prefix.len() > MAX_PREFIX_LEN || prefix.contains(['{', '}']) {
            return Err(RedisConfigError::InvalidPrefix);
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// How long one store call may take before it answers `Unavailable` (default 250 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock expiry is judged by (default the system clock); [`Clock::manual`] for tests.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store. Never connects (the first call does).
    pub fn build(self) -> RedisStore {
        let target = match self.target {
            TargetSpec::Single(client) => Target::Single(client),
            TargetSpec::Cluster(nodes, checked) => {
                let tuned = ::redis::cluster::ClusterClient::builder(nodes)
                    .connection_timeout(self.timeout)
                    .response_timeout(self.timeout)
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(100)
                    .build();
                Target::Cluster(tuned.unwrap_or(checked))
            }
        };
        // Local revocation view (view.rs): every write script publishes what it changed.
        let script = |body: &str| Script::new(&format!("{}{body}", super::view::PUBLISH_FN));
        let view = (self.view.enabled && matches!(target, Target::Single(_)))
            .then(|| Arc::new(super::view::View::new(self.view, &self.prefix)));
        RedisStore {
            inner: Arc::new(Inner {
                target,
                prefix: self.prefix,
                timeout: self.timeout,
                wait: self.wait,
                clock: self.clock,
                topology: Topology::default(),
                conn: Mutex::new(None),
                generation: AtomicU64::new(0),
                rotate: script(scripts::ROTATE),
                create: script(scripts::CREATE),
                end: script(scripts::END),
                set_max: script(scripts::SET_MAX),
                cutoff: script(scripts::CUTOFF),
                index: Script::new(scripts::INDEX),
                features: AtomicU8::new(PROBE_UNKNOWN),
                view,
            }),
        }
    }
}
