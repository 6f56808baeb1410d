//! A whole test cluster: its DCS server (etcd, or ZooKeeper) and `n` nodes named `pg0`,
//! `pg1`, ...

use std::path::Path;
use std::time::Duration;

use crate::{DcsKind, Etcd, Node, NodeOptions, TempDir, ZooKeeper};

/// A DCS server plus nodes; everything stops when dropped.
pub struct TestCluster {
    /// The nodes (not started by [`TestCluster::new`]).
    pub nodes: Vec<Node>,
    /// The etcd server (the DCS unless the options name ZooKeeper; patronictl tests that
    /// need a second cluster use it too).
    pub etcd: Etcd,
    /// The ZooKeeper server, for [`DcsKind::ZooKeeper`].
    pub zookeeper: Option<ZooKeeper>,
    dcs: DcsKind,
    /// The DCS section of every node's YAML.
    section: String,
    dir: TempDir,
}

impl TestCluster {
    /// Writes the configuration of `n` nodes running `binary`.
    pub fn new(binary: &Path, n: usize, opts: &NodeOptions) -> TestCluster {
        Self::new_with(binary, n, opts, |_, _| {})
    }

    /// Like [`TestCluster::new`], with `tweak(i, options)` changing node `i`'s options (tags,
    /// extra settings) before its configuration is written.
    pub fn new_with(
        binary: &Path,
        n: usize,
        opts: &NodeOptions,
        tweak: impl Fn(usize, &mut NodeOptions),
    ) -> TestCluster {
        let etcd = Etcd::start();
        let zookeeper = (opts.dcs == DcsKind::ZooKeeper).then(ZooKeeper::start);
        let section = match (&zookeeper, opts.dcs) {
            (Some(zk), _) => format!("zookeeper:\n  hosts: ['{}']", zk.endpoint()),
            (None, DcsKind::Etcd2) => format!("etcd:\n  host: {}", etcd.endpoint()),
            (None, _) => format!("etcd3:\n  hosts: {}", etcd.endpoint()),
        };
        let dir = TempDir::new("cluster");
        let nodes = (0..n)
            .map(|i| {
                let mut node_opts = opts.clone();
                tweak(i, &mut node_opts);
                Node::new(binary, dir.path(), &format!("pg{i}"), &section, &node_opts)
            })
            .collect();
        TestCluster {
            nodes,
            etcd,
            zookeeper,
            dcs: opts.dcs,
            section,
            dir,
        }
    }

    /// Another node of this cluster (same DCS), configured with `opts` and not started: e.g.
    /// a second daemon that claims a running member's name.
    pub fn extra_node(
        &self,
        binary: &Path,
        dir_name: &str,
        name: &str,
        opts: &NodeOptions,
    ) -> Node {
        let dir = self.dir.path().join(dir_name);
        std::fs::create_dir_all(&dir).expect("extra node dir");
        let (uid, gid) = crate::postgres_ids();
        nix::unistd::chown(&dir, Some(uid.into()), Some(gid.into())).expect("chown");
        Node::new(binary, &dir, name, &self.section, opts)
    }

    /// Stops the cluster's DCS server (data kept).
    pub fn stop_dcs(&mut self) {
        match (&mut self.zookeeper, self.dcs) {
            (Some(zk), DcsKind::ZooKeeper) => zk.stop(),
            _ => self.etcd.stop(),
        }
    }

    /// Starts the cluster's DCS server again on the same address and data.
    pub fn restart_dcs(&mut self) {
        match (&mut self.zookeeper, self.dcs) {
            (Some(zk), DcsKind::ZooKeeper) => zk.restart(),
            _ => self.etcd.restart(),
        }
    }

    /// The directory holding every node.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for n in &mut self.nodes {
            n.start();
        }
    }

    /// Indexes of the nodes whose `GET /primary` answers 200 right now.
    pub async fn primaries(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some((200, _)) = crate::http_get(n.api_port, "/primary").await {
                out.push(i);
            }
        }
        out
    }

    /// Waits until exactly one primary and `replicas` streaming replicas; returns the leader.
    /// On timeout the test fails with every node's log.
    pub async fn wait_healthy(&self, replicas: usize, timeout: Duration) -> usize {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(leader) = self.healthy(replicas).await {
                return leader;
            }
            if std::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for one leader and {replicas} streaming replicas\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn healthy(&self, replicas: usize) -> Option<usize> {
        let primaries = self.primaries().await;
        if primaries.len() != 1 {
            return None;
        }
        let mut streaming = 0;
        for n in &self.nodes {
            if let Some(s) = n.status().await {
                // `state` turns `running` only when the daemon's start returns, which can be
                // a moment after the walreceiver connects; until then Patroni answers
                // /replica with 503 too, so a replica is healthy only with both.
                if s.get("replication_state").and_then(|v| v.as_str()) == Some("streaming")
                    && s.get("state").and_then(|v| v.as_str()) == Some("running")
                {
                    streaming += 1;
                }
            }
        }
        (streaming == replicas).then_some(primaries[0])
    }

    /// Every node's log, for a failing assertion.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("===== {} =====\n{}", n.name, n.logs()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
