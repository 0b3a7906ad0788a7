//! What the store knows of the servers' layout: which shards have a replica (so that a write
//! there waits for one, `WAIT 1 <ms>`), refreshed as the topology changes, and the epoch key of
//! every slot, written once per store before its first call.
//!
//! One node: one shard of every slot, with replicas when `INFO replication` counts connected
//! ones. A cluster: `CLUSTER SHARDS`, a shard having a replica when one of its replicas is
//! `online`. The view is refreshed at most every [`REFRESH`], and at once after a connection
//! error, a cluster redirection or a write no replica acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::redis::{ErrorKind, Pipeline, Script, ServerErrorKind, Value};

use super::con::Con;
use super::slots::{epoch_tag, SLOTS};
use super::{Fail, RedisStore, Res};

/// How long a view of the topology is trusted.
const REFRESH: Duration = Duration::from_secs(1);

/// The shards as last seen: slot ranges, each with whether its primary has a replica online.
#[derive(Default)]
pub(super) struct Topology {
    view: Mutex<Option<Arc<View>>>,
    /// Set to refresh the view before the next write.
    stale: AtomicBool,
    /// One caller refreshes; the others use the view they have.
    refreshing: AtomicBool,
    epochs: AtomicBool,
    /// One caller writes the epochs; the others wait for it.
    pub(super) writing_epochs: tokio::sync::Mutex<()>,
}

struct View {
    at: Instant,
    shards: Vec<Shard>,
}

struct Shard {
    ranges: Vec<(u16, u16)>,
    replica: bool,
}

impl Topology {
    /// The next write refreshes the view first.
    pub(super) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    pub(super) fn epochs_written(&self) -> bool {
        self.epochs.load(Ordering::Acquire)
    }

    fn current(&self) -> Option<Arc<View>> {
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, view: View) -> Arc<View> {
        let view = Arc::new(view);
        *self
            .view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(view.clone());
        view
    }
}

impl View {
    fn replica(&self, slot: u16) -> bool {
        self.shards.iter().any(|shard| {
            shard.replica
                && shard
                    .ranges
                    .iter()
                    .any(|&(start, end)| start <= slot && slot <= end)
        })
    }
}

impl RedisStore {
    /// The epoch key of `slot`: in that slot, so that a single-slot pipeline reads it with the
    /// keys it touches.
    pub(super) fn epoch_key(&self, slot: u16) -> String {
        format!("{}{{{}}}:epoch", self.inner.prefix, epoch_tag(slot))
    }

    /// The view of the shards, refreshed when older than [`REFRESH`] or marked stale.
    async fn view(&self, con: &mut Con) -> Res<Arc<View>> {
        let topology = &self.inner.topology;
        let current = topology.current();
        if let Some(view) = &current {
            if view.at.elapsed() < REFRESH && !topology.stale.load(Ordering::Acquire) {
                return Ok(view.clone());
            }
            if topology.refreshing.swap(true, Ordering::AcqRel) {
                return Ok(view.clone());
            }
        }
        topology.stale.store(false, Ordering::Release);
        let fetched = fetch(con).await;
        topology.refreshing.store(false, Ordering::Release);
        match fetched {
            Ok(shards) => Ok(topology.set(View {
                at: Instant::now(),
                shards,
            })),
            Err(e) => {
                topology.mark_stale();
                // A node that cannot answer now (one being failed over) leaves the last view
                // in force until a refresh succeeds.
                current.ok_or(e)
            }
        }
    }

    /// How long a write to `slot` waits for a replica: the configured wait when its shard has
    /// a replica online, otherwise none.
    async fn wait_for(&self, con: &mut Con, slot: u16) -> Res<Option<Duration>> {
        let Some(wait) = self.inner.wait else {
            return Ok(None);
        };
        Ok(self.view(con).await?.replica(slot).then_some(wait))
    }

    /// Runs `pipe`, a write on keys of `slot` alone, followed by `WAIT 1 <ms>` when the shard
    /// has a replica; answers the pipeline's values without the `WAIT`'s. A script the server
    /// does not hold (`NOSCRIPT`: a new or promoted node) is loaded and the pipeline run again
    /// (its writes are idempotent up to the script). No replica in time: [`Fail::NoReplica`]
    /// (the write stays applied) and the view is refreshed.
    pub(super) async fn write(
        &self,
        con: &mut Con,
        slot: u16,
        mut pipe: Pipeline,
        scripts: &[&Script],
    ) -> Res<Vec<Value>> {
        let wait = self.wait_for(con, slot).await?;
        if let Some(wait) = wait {
            pipe.cmd("WAIT").arg(1).arg(millis(wait));
        }
        let mut values: Vec<Value> = match pipe.query_async(con).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                for script in scripts {
                    script.prepare_invoke().load_async(con).await?;
                }
                pipe.query_async(con).await?
            }
            other => other?,
        };
        if let Some(wait) = wait {
            match values.pop() {
                Some(Value::Int(acked)) if acked >= 1 => {}
                _ => {
                    self.inner.topology.mark_stale();
                    return Err(Fail::NoReplica(millis(wait)));
                }
            }
        }
        Ok(values)
    }

    /// Writes the epoch key of every slot that has none (`SET NX`, the time the store started
    /// empty), once per store: one pipeline per shard.
    pub(super) async fn write_epochs(&self, mut con: Con, now: u64) -> Res<()> {
        let view = self.view(&mut con).await?;
        for shard in &view.shards {
            let mut pipe = ::redis::pipe();
            let mut count = 0;
            for &(start, end) in &shard.ranges {
                for slot in start..=end {
                    pipe.cmd("SET")
                        .arg(self.epoch_key(slot))
                        .arg(epoch_start(now))
                        .arg("NX")
                        .ignore();
                    count += 1;
                }
            }
            let Some(&(first, _)) = shard.ranges.first() else {
                continue;
            };
            if count > 0 {
                con.pipeline_on_slot(pipe, first, count).await?;
            }
        }
        self.inner.topology.epochs.store(true, Ordering::Release);
        Ok(())
    }
}

/// The epoch a slot starts at `now` (ms): the start of its second, as tokens count time.
pub(super) fn epoch_start(now: u64) -> u64 {
    now / 1000 * 1000
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The shards: `INFO replication` on one node, `CLUSTER SHARDS` on a cluster.
async fn fetch(con: &mut Con) -> Res<Vec<Shard>> {
    if !con.is_cluster() {
        let info: String = ::redis::cmd("INFO")
            .arg("replication")
            .query_async(con)
            .await?;
        let replicas = info
            .lines()
            .find_map(|line| line.trim().strip_prefix("connected_slaves:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        return Ok(vec![Shard {
            ranges: vec![(0, SLOTS - 1)],
            replica: replicas > 0,
        }]);
    }
    let reply: Value = ::redis::cmd("CLUSTER")
        .arg("SHARDS")
        .query_async(con)
        .await?;
    let Value::Array(shards) = reply else {
        return Err(Fail::Data("CLUSTER SHARDS answered something unexpected"));
    };
    let mut out = Vec::new();
    for shard in &shards {
        let mut ranges = Vec::new();
        if let Some(Value::Array(slots)) = field(shard, "slots") {
            for pair in slots.chunks(2) {
                if let [Value::Int(start), Value::Int(end)] = pair {
                    if let (Ok(start), Ok(end)) = (u16::try_from(*start), u16::try_from(*end)) {
                        ranges.push((start, end));
                    }
                }
            }
        }
        let replica = match field(shard, "nodes") {
            Some(Value::Array(nodes)) => nodes.iter().any(|node| {
                text(field(node, "role")).as_deref() == Some("replica")
                    && text(field(node, "health")).as_deref() == Some("online")
            }),
            _ => false,
        };
        if !ranges.is_empty() {
            out.push(Shard { ranges, replica });
        }
    }
    if out.is_empty() {
        return Err(Fail::Data("CLUSTER SHARDS named no slots"));
    }
    Ok(out)
}

/// The value of `name` in a reply that is a map, or a flat array of names and values.
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| text(Some(k)).as_deref() == Some(name))
            .map(|(_, v)| v),
        Value::Array(items) => items
            .chunks(2)
            .find(|pair| pair.first().and_then(|k| text(Some(k))).as_deref() == Some(name))
            .and_then(|pair| pair.get(1)),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::BulkString(b)) => String::from_utf8(b.clone()).ok(),
        Some(Value::SimpleString(s)) => Some(s.clone()),
        Some(Value::VerbatimString { text, .. }) => Some(text.clone()),
        _ => None,
    }
}
