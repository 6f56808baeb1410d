//! Where patronictl finds its cluster: `-c FILE` (or `PATRONICTL_CONFIG_FILE`, or
//! `~/.config/patroni/patronictl.yaml`), `PATRONI_*` variables, and `--dcs-url`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use patroni_core::config::{self, Config, Strictness};
use patroni_core::dcs::Dcs;
use serde_json::{json, Value};

/// patronictl's configuration.
pub struct Context {
    /// The typed configuration (scope, namespace, DCS, credentials).
    pub config: Config,
}

impl Context {
    /// Loads the configuration as upstream patronictl does.
    pub fn load(file: Option<&Path>, dcs_url: Option<&str>) -> anyhow::Result<Context> {
        let mut tree = match file {
            Some(f) => {
                if !f.is_file() {
                    bail!(
                        "Provided config file {} not existing or no read rights. Check the -c/--config-file parameter",
                        f.display()
                    );
                }
                config::load_tree(Some(f), std::env::vars())?
            }
            None => {
                let default = std::env::var_os("HOME")
                    .map(|h| Path::new(&h).join(".config/patroni/patronictl.yaml"))
                    .filter(|p| p.is_file());
                config::load_tree(default.as_deref(), std::env::vars())?
            }
        };
        if let Some(url) = dcs_url {
            apply_dcs_url(&mut tree, url)?;
        }
        Ok(Context {
            config: Config::from_tree(tree, Strictness::Ctl)?,
        })
    }

    /// Basic auth for REST calls (`ctl.authentication`, else `restapi.authentication`).
    pub fn rest_auth(&self) -> Option<String> {
        patroni_rest_client::basic_auth(self.config.rest_client_credentials())
    }

    /// The cluster named on the command line (default: the configured scope), its DCS client
    /// and one read of it.
    pub async fn read_cluster(
        &self,
        name: Option<&str>,
    ) -> anyhow::Result<(String, Arc<dyn Dcs>, patroni_core::cluster::Cluster)> {
        let scope = name
            .map(str::to_string)
            .unwrap_or_else(|| self.config.scope.clone());
        let dcs = self.dcs(&scope).await?;
        let cluster = dcs.get_cluster().await?;
        Ok((scope, dcs, cluster))
    }

    /// Connects to the DCS for cluster `scope` (read-only use: no lease is created).
    pub async fn dcs(&self, scope: &str) -> anyhow::Result<Arc<dyn Dcs>> {
        let mut config = self.config.clone();
        config.scope = scope.to_string();
        if config.dcs.is_none() {
            bail!("Can not find suitable configuration of distributed configuration store\nAvailable implementations: etcd3");
        }
        patroni_dcs::connect(&config, scope, 30, 10)
            .await
            .map_err(|e| anyhow!("{e}"))
    }
}

/// `--dcs-url [SCHEME://][HOST][:PORT][/NAMESPACE]`: replaces every DCS section.
fn apply_dcs_url(tree: &mut Value, url: &str) -> anyhow::Result<()> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (hostport, namespace) = match rest.split_once('/') {
        Some((h, n)) => (h, Some(n)),
        None => (rest, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow!("invalid port in --dcs-url: {p}"))?,
            ),
        ),
        None => (hostport, None),
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let scheme = match scheme {
        Some(s) => s.to_string(),
        None => match port {
            Some(2379) | None => "etcd".to_string(),
            Some(8500) => "consul".into(),
            Some(2181) => "zookeeper".into(),
            Some(8181) => "exhibitor".into(),
            Some(_) => "etcd".into(),
        },
    };
    let default_port = match scheme.as_str() {
        "etcd" | "etcd3" => 2379,
        "consul" => 8500,
        "zookeeper" => 2181,
        "exhibitor" => 8181,
        other => bail!("Unknown dcs scheme: {other}"),
    };
    let Value::Object(map) = tree else {
        bail!("invalid configuration")
    };
    for k in config::local_dcs_names() {
        map.remove(*k);
    }
    let port = port.unwrap_or(default_port);
    let section = match scheme.as_str() {
        // ZooKeeper takes a server list; Exhibitor a host list and its port apart.
        "zookeeper" => json!({"hosts": [format!("{host}:{port}")]}),
        "exhibitor" => json!({"hosts": [host], "port": port}),
        _ => json!({"host": format!("{host}:{port}")}),
    };
    map.insert(scheme, section);
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        map.insert("namespace".into(), json!(format!("/{ns}")));
    }
    Ok(())
}

/// The cluster's `loop_wait` from its dynamic configuration (Patroni's default 10).
pub fn loop_wait(cluster: &patroni_core::cluster::Cluster) -> u64 {
    cluster
        .config_data()
        .and_then(|c| c.get("loop_wait"))
        .and_then(Value::as_u64)
        .unwrap_or(10)
}

/// Whether the dynamic configuration switches `key` on (`pause`, `synchronous_mode`).
fn config_flag(cluster: &patroni_core::cluster::Cluster, key: &str) -> bool {
    cluster
        .config_data()
        .and_then(|c| c.get(key))
        .and_then(config::value::as_bool)
        == Some(true)
}

/// Whether the cluster is in maintenance mode.
pub fn is_paused(cluster: &patroni_core::cluster::Cluster) -> bool {
    config_flag(cluster, "pause")
}

/// Whether the dynamic configuration makes this a standby cluster (a `standby_cluster`
/// section with a host, port or restore_command).
pub fn is_standby_cluster(cluster: &patroni_core::cluster::Cluster) -> bool {
    cluster
        .config_data()
        .and_then(|c| c.get("standby_cluster"))
        .and_then(Value::as_object)
        .is_some_and(|s| {
            ["host", "port", "restore_command"]
                .iter()
                .any(|k| s.get(*k).is_some_and(truthy))
        })
}

/// Whether synchronous replication (`on` or `quorum`) is asked for; never in a standby cluster.
pub fn is_synchronous_mode(cluster: &patroni_core::cluster::Cluster) -> bool {
    let quorum = cluster
        .config_data()
        .and_then(|c| c.get("synchronous_mode"))
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("quorum"));
    (config_flag(cluster, "synchronous_mode") || quorum) && !is_standby_cluster(cluster)
}

/// Python's truth of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
