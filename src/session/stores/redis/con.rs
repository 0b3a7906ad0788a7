//! The connection of a [`RedisStore`](super::RedisStore): one node through the connection
//! manager, or a Redis Cluster through the cluster client, behind one type.

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{Route, SingleNodeRoutingInfo, SlotAddr};
use ::redis::{Cmd, Pipeline, RedisFuture, Value};

/// Where a store connects.
#[derive(Clone)]
// One per store, built once: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Target {
    /// One node (or a primary with replicas behind one address).
    Single(::redis::Client),
    /// A Redis Cluster, through its seed nodes.
    Cluster(::redis::cluster::ClusterClient),
}

/// A live connection of either kind. Cheap to clone (both multiplex one connection per node).
#[derive(Clone)]
pub(super) enum Con {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Con {
    /// Whether this is a cluster connection (pipelines must then stay in one slot).
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Runs `pipe` on the primary that holds `slot` (on one node: that node). The pipeline may
    /// hold keys of several slots of that primary (the epoch keys written at startup).
    pub(super) async fn pipeline_on_slot(
        &mut self,
        pipe: Pipeline,
        slot: u16,
        count: usize,
    ) -> ::redis::RedisResult<Vec<Value>> {
        match self {
            Self::Single(con) => pipe.query_async(con).await,
            Self::Cluster(con) => {
                let route = SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master));
                con.route_pipeline(pipe, 0, count, route).await
            }
        }
    }
}

impl ConnectionLike for Con {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(con) => con.req_packed_command(cmd),
            Self::Cluster(con) => con.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(con) => con.req_packed_commands(cmd, offset, count),
            Self::Cluster(con) => con.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(con) => con.get_db(),
            Self::Cluster(con) => con.get_db(),
        }
    }
}
