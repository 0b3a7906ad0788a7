//! Redis Cluster for the tests: the shared cluster of `.ci/test` (`REDIS_CLUSTER_NODES`,
//! `REQUIRE_REDIS_CLUSTER`), reading and dropping keys on every primary, and a cluster of a
//! test's own (six `redis-server` processes it can kill), torn down by its `Drop`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::cluster::ClusterClient;

use super::random_id;

/// The seed nodes of `REDIS_CLUSTER_NODES` when the cluster answers `PING` through the store.
/// Otherwise: with `REQUIRE_REDIS_CLUSTER=1`, a failure; without, `None` after printing why.
pub async fn cluster_nodes() -> Option<Vec<String>> {
    let required = std::env::var("REQUIRE_REDIS_CLUSTER").as_deref() == Ok("1");
    let Ok(nodes) = std::env::var("REDIS_CLUSTER_NODES") else {
        if required {
            panic!("REQUIRE_REDIS_CLUSTER=1 but REDIS_CLUSTER_NODES is not set");
        }
        eprintln!(
            "skipping: REDIS_CLUSTER_NODES is not set (.ci/test starts a cluster); set REQUIRE_REDIS_CLUSTER=1 to fail instead"
        );
        return None;
    };
    let nodes: Vec<String> = nodes.split(',').map(|n| n.trim().to_owned()).collect();
    let store = tower_jwt_auth::session::RedisStore::builder_cluster(&nodes)
        .expect("REDIS_CLUSTER_NODES parses")
        .timeout(Duration::from_secs(2))
        .build();
    match store.ping().await {
        Ok(()) => Some(nodes),
        Err(e) => {
            if required {
                panic!("REQUIRE_REDIS_CLUSTER=1 but the cluster at REDIS_CLUSTER_NODES cannot be reached: {e}");
            }
            eprintln!(
                "skipping: the Redis Cluster at REDIS_CLUSTER_NODES cannot be reached ({e}); set REQUIRE_REDIS_CLUSTER=1 to fail instead"
            );
            None
        }
    }
}

fn url(node: &str) -> String {
    if node.contains("://") {
        node.to_owned()
    } else {
        format!("redis://{node}")
    }
}

/// The addresses of the cluster's primaries (`CLUSTER NODES`, as the first seed sees them).
pub async fn cluster_primaries(nodes: &[String]) -> Vec<String> {
    for node in nodes {
        let Ok(client) = redis::Client::open(url(node)) else {
            continue;
        };
        let Ok(mut con) = client.get_multiplexed_async_connection().await else {
            continue;
        };
        let Ok(text) = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async::<String>(&mut con)
            .await
        else {
            continue;
        };
        return text
            .lines()
            .filter(|line| {
                let flags = line.split(' ').nth(2).unwrap_or("");
                flags.contains("master") && !flags.contains("fail")
            })
            .filter_map(|line| line.split(' ').nth(1))
            .map(|addr| addr.split('@').next().unwrap_or(addr).to_owned())
            .collect();
    }
    panic!("no cluster node answers CLUSTER NODES");
}

/// Every key under `prefix`, on every primary.
pub async fn cluster_keys(nodes: &[String], prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for primary in cluster_primaries(nodes).await {
        let mut con = super::redis_connection(&url(&primary)).await;
        let found: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut con)
            .await
            .unwrap();
        keys.extend(found);
    }
    keys.sort();
    keys
}

async fn cluster_connection(nodes: &[String]) -> redis::cluster_async::ClusterConnection {
    ClusterClient::new(nodes.iter().map(|n| url(n)).collect::<Vec<_>>())
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

/// Every key under `prefix` (but the slots' epoch keys), as `redis_dump` shows them.
pub async fn cluster_dump(nodes: &[String], prefix: &str) -> String {
    let keys = cluster_keys(nodes, prefix).await;
    let mut con = cluster_connection(nodes).await;
    super::dump_keys(&mut con, keys).await
}

/// Drops every key under `prefix`: on each primary, its own keys.
pub async fn cluster_delete_prefix(nodes: &[String], prefix: &str) {
    for primary in cluster_primaries(nodes).await {
        let mut con = super::redis_connection(&url(&primary)).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut con)
            .await
            .unwrap();
        for chunk in keys.chunks(1000) {
            let mut pipe = redis::pipe();
            for key in chunk {
                // One key per command: keys of many slots.
                pipe.cmd("UNLINK").arg(key).ignore();
            }
            let _: () = pipe.query_async(&mut con).await.unwrap();
        }
    }
}

/// A Redis Cluster of the test's own: six `redis-server` processes (3 primaries, 3 replicas)
/// on `ports`, in a temporary directory; every process is killed, and the directory removed,
/// when it drops (a panic included).
pub struct OwnCluster {
    pub ports: Vec<u16>,
    children: Vec<(u16, Child)>,
    dir: PathBuf,
}

impl OwnCluster {
    /// Six free loopback ports whose cluster bus ports (+10000) are free too, from a random
    /// start in 20000-29999 (so that two runs at once, in two checkouts, never share a node).
    pub fn free_ports() -> [u16; 6] {
        let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        let seed = std::process::id() as u64 ^ u64::from(random_id(4).as_bytes()[0]) << 8;
        for attempt in 0..500u64 {
            let base = 20000 + ((seed + attempt * 7919) % 9990) as u16;
            let ports = [base, base + 1, base + 2, base + 3, base + 4, base + 5];
            if ports
                .iter()
                .all(|&p| p < 30000 && free(p) && free(p + 10000))
            {
                return ports;
            }
        }
        panic!("no six free ports for a cluster");
    }

    /// Starts and creates the cluster, and waits until every node says `cluster_state:ok`; or
    /// `None` (after saying why) when `redis-server` is not installed and neither
    /// `REQUIRE_REDIS_CLUSTER` nor `REQUIRE_REDIS` is `1`.
    pub fn start(ports: [u16; 6]) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            if std::env::var("REQUIRE_REDIS_CLUSTER").as_deref() == Ok("1")
                || std::env::var("REQUIRE_REDIS").as_deref() == Ok("1")
            {
                panic!("REQUIRE_REDIS_CLUSTER=1 but redis-server is not installed");
            }
            eprintln!("skipping: redis-server is not installed");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("tjwt-cluster-{}", random_id(8)));
        let mut cluster = Self {
            ports: ports.to_vec(),
            children: Vec::new(),
            dir,
        };
        for port in ports {
            let dir = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(&dir)
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--logfile",
                    "log",
                    "--repl-diskless-sync-delay",
                    "0",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            cluster.children.push((port, child));
        }
        for port in ports {
            wait_until(Duration::from_secs(5), || {
                cli(port, &["ping"]).contains("PONG")
            });
        }
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let status = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(status.success(), "redis-cli --cluster create failed");
        cluster.wait_ok(&ports, Duration::from_secs(30));
        // Every replica synchronised with its primary: a replica without its primary's data
        // never takes over.
        for port in ports {
            wait_until(Duration::from_secs(30), || {
                let info = cli(port, &["info", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            });
        }
        Some(cluster)
    }

    /// The seed nodes, as `REDIS_CLUSTER_NODES` lists them.
    pub fn nodes(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every node of `ports` says `cluster_state:ok` and sees every primary of the
    /// others as they do (one agreed view: no node still lists a failed primary as one).
    pub fn wait_ok(&self, ports: &[u16], within: Duration) {
        wait_until(within, || self.agreed(ports));
    }

    /// Whether every node of `ports` says `cluster_state:ok` and none of them lists a primary
    /// that is marked failed or is not one of `ports`.
    pub fn agreed(&self, ports: &[u16]) -> bool {
        let mut views = Vec::new();
        for &port in ports {
            if !cli(port, &["cluster", "info"]).contains("cluster_state:ok") {
                return false;
            }
            let nodes = cli(port, &["cluster", "nodes"]);
            let mut primaries: Vec<String> = nodes
                .lines()
                .filter(|l| {
                    let flags = l.split(' ').nth(2).unwrap_or("");
                    flags.contains("master")
                        && !flags.contains("fail")
                        && l.split(' ').nth(8).is_some()
                })
                .filter_map(|l| l.split(' ').nth(1))
                .map(|a| a.split('@').next().unwrap_or(a).to_owned())
                .collect();
            primaries.sort();
            let alive = primaries.iter().all(|a| {
                a.rsplit(':')
                    .next()
                    .and_then(|p| p.parse::<u16>().ok())
                    .is_some_and(|p| ports.contains(&p))
            });
            if !alive || primaries.len() != 3 {
                return false;
            }
            views.push(primaries);
        }
        views.windows(2).all(|w| w[0] == w[1])
    }

    /// The port of the primary that holds `key`'s slot.
    pub fn primary_of(&self, key: &str) -> u16 {
        let port = self.ports[0];
        let slot: u16 = cli(port, &["cluster", "keyslot", key])
            .trim()
            .parse()
            .unwrap();
        let nodes = cli(port, &["cluster", "nodes"]);
        for line in nodes.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            if !parts.get(2).is_some_and(|f| f.contains("master")) {
                continue;
            }
            for range in parts.iter().skip(8) {
                let (start, end) = match range.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap_or(u16::MAX), b.parse().unwrap_or(0)),
                    None => {
                        let s = range.parse().unwrap_or(u16::MAX);
                        (s, s)
                    }
                };
                if start <= slot && slot <= end {
                    let addr = parts[1].split('@').next().unwrap();
                    return addr.rsplit(':').next().unwrap().parse().unwrap();
                }
            }
        }
        panic!("no primary holds slot {slot}");
    }

    /// The last lines of the log of the node on `port`.
    pub fn log_tail(&self, port: u16, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join(port.to_string()).join("log"))
            .unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Kills the node on `port` (SIGKILL).
    pub fn kill(&mut self, port: u16) {
        if let Some(i) = self.children.iter().position(|(p, _)| *p == port) {
            let (_, mut child) = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-cli -p <port> <args>`'s output (empty when it fails).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait_until(within: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < within, "not ready within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
