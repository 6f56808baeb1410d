//! The documents the REST API serves: the status document (`/patroni` and health-check
//! bodies), `/cluster`, `/history`, `/config` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{Api, Response};

impl Api {
    /// The cached DCS view if younger than `ttl`.
    pub(crate) fn fresh_cluster(&self) -> Option<Arc<patroni_core::cluster::Cluster>> {
        let s = self.shared.snap();
        let ttl = Duration::from_secs(u64::from(s.dynamic.timing.ttl));
        s.cluster
            .as_ref()
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(c, _)| Arc::clone(c))
    }

    /// The status document (rest-api.md §5, changes-4x.md §9.2). `retry`: on a query
    /// failure try once more a second later (`GET /patroni` does, health checks do not).
    pub(crate) async fn status_document(&self, retry: bool) -> Value {
        let (pg_state, role, paused, last_seen, sysid, pending) = {
            let s = self.shared.snap();
            (
                s.pg_state.clone(),
                s.role.clone(),
                s.dynamic.pause,
                s.dcs_last_seen,
                s.system_id.clone(),
                s.pending_restart.clone(),
            )
        };
        let mut doc = Map::new();
        let mut status = None;
        if matches!(pg_state.as_str(), "running" | "starting" | "restarting")
            && self.pg.is_running()
        {
            status = match self.pg_status().await {
                Ok(st) => Some(st),
                Err(e) => {
                    tracing::warn!("REST API status query failed: {e}");
                    None
                }
            };
            if status.is_none() && retry {
                tokio::time::sleep(Duration::from_secs(1)).await;
                status = self.pg_status().await.ok();
            }
            if status.is_none() {
                // One failed query (a busy host, a statement timeout) must not make a healthy
                // node flap in the load balancer: use what the HA loop read in its last cycle.
                let s = self.shared.snap();
                let max_age = Duration::from_secs(2 * u64::from(s.dynamic.timing.loop_wait) + 1);
                status = s
                    .pg_status
                    .as_ref()
                    .filter(|(_, at)| at.elapsed() < max_age)
                    .map(|(st, _)| st.clone());
            }
        }
        match &status {
            Some(st) => {
                doc.insert("state".into(), json!(pg_state));
                if let Some(t) = &st.postmaster_start_time {
                    doc.insert("postmaster_start_time".into(), json!(t));
                }
                doc.insert(
                    "role".into(),
                    json!(if st.in_recovery { "replica" } else { "primary" }),
                );
                doc.insert("server_version".into(), json!(st.server_version));
                let xlog = if st.in_recovery {
                    json!({
                        "received_location": if st.received_location > 0 { st.received_location } else { st.replayed_location },
                        "replayed_location": st.replayed_location,
                        "replayed_timestamp": st.replayed_timestamp,
                        "paused": st.replay_paused,
                    })
                } else {
                    json!({"location": st.wal_position})
                };
                doc.insert("xlog".into(), xlog);
                doc.insert("timeline".into(), json!(st.timeline));
                if let Some(rs) = st.replication_state() {
                    doc.insert("replication_state".into(), json!(rs));
                }
                if !st.replication.is_empty() {
                    let rows: Vec<Value> = st
                        .replication
                        .iter()
                        .map(|r| {
                            json!({
                                "usename": r.usename, "application_name": r.application_name,
                                "client_addr": r.client_addr, "state": r.state,
                                "sync_state": r.sync_state, "sync_priority": r.sync_priority,
                            })
                        })
                        .collect();
                    doc.insert("replication".into(), Value::Array(rows));
                }
            }
            None => {
                let state = if pg_state == "running" {
                    "unknown".to_string()
                } else {
                    pg_state
                };
                doc.insert("state".into(), json!(state));
                doc.insert("role".into(), json!(role));
            }
        }
        if paused {
            doc.insert("pause".into(), json!(true));
        }
        if self.fresh_cluster().is_none_or(|c| c.is_unlocked()) {
            doc.insert("cluster_unlocked".into(), json!(true));
        }
        doc.insert("dcs_last_seen".into(), json!(last_seen));
        if !self.config().tags.published.is_empty() {
            doc.insert(
                "tags".into(),
                Value::Object(self.config().tags.published.clone()),
            );
        }
        if let Some(id) = sysid {
            doc.insert("database_system_identifier".into(), json!(id));
        }
        if !pending.is_empty() {
            doc.insert("pending_restart".into(), json!(true));
            doc.insert(
                "pending_restart_reason".into(),
                super::pending_restart_reason(&pending),
            );
        }
        doc.insert(
            "patroni".into(),
            json!({"version": patroni_core::PATRONI_VERSION, "scope": self.config().scope, "name": self.config().name}),
        );
        if let Some(scheduled) = &self.shared.snap().scheduled_restart {
            doc.insert("scheduled_restart".into(), scheduled.to_json(false));
        }
        Value::Object(doc)
    }

    /// `GET /cluster`: a fresh DCS read.
    pub(crate) async fn cluster(&self) -> Response {
        match self.dcs.get_cluster().await {
            Ok(c) => Response::Json(
                200,
                patroni_core::view::cluster_json(&c, &self.config().scope),
            ),
            Err(_) => Response::Error(502),
        }
    }

    async fn cluster_or_read(&self) -> Option<Arc<patroni_core::cluster::Cluster>> {
        match self.fresh_cluster() {
            Some(c) => Some(c),
            None => self.dcs.get_cluster().await.ok().map(Arc::new),
        }
    }

    /// `GET /history`.
    pub(crate) async fn history(&self) -> Response {
        let lines = self
            .cluster_or_read()
            .await
            .and_then(|c| c.history.clone())
            .map(|h| h.lines)
            .unwrap_or_default();
        Response::Json(200, Value::Array(lines))
    }

    /// `GET /config`: 502 unless `/config` holds a JSON object.
    pub(crate) async fn config_doc(&self) -> Response {
        match self
            .cluster_or_read()
            .await
            .and_then(|c| c.config_data().cloned())
        {
            Some(v) => Response::Json(200, v),
            None => Response::Error(502),
        }
    }

    /// `GET /metrics` (Prometheus text; rest-api.md §13 with the 4.1 changes).
    pub(crate) async fn metrics(&self) -> Response {
        let doc = self.status_document(true).await;
        let labels = format!(
            "{{scope=\"{}\",name=\"{}\"}}",
            self.config().scope,
            self.config().name
        );
        let num = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        let role = doc.get("role").and_then(Value::as_str).unwrap_or("");
        let xlog = doc.get("xlog");
        let state = doc.get("state").and_then(Value::as_str).unwrap_or("");
        let version: String = patroni_core::PATRONI_VERSION
            .split('.')
            .map(|p| format!("{:0>2}", p))
            .collect();
        let rs = doc.get("replication_state").and_then(Value::as_str);
        let metrics: Vec<(&str, &str, &str, String)> = vec![
            ("patroni_version", "Patroni semver without periods.", "gauge", version.trim_start_matches('0').to_string()),
            ("patroni_postgres_running", "Value is 1 if Postgres is running, 0 otherwise.", "gauge", u8::from(state == "running").to_string()),
            ("patroni_primary", "Value is 1 if this node is the leader, 0 otherwise.", "gauge", u8::from(role == "primary").to_string()),
            ("patroni_xlog_location", "Current location of the Postgres transaction log, 0 if this node is not the leader.", "counter", num(xlog.and_then(|x| x.get("location"))).to_string()),
            ("patroni_standby_leader", "Value is 1 if this node is the standby_leader, 0 otherwise.", "gauge", u8::from(role == "standby_leader").to_string()),
            ("patroni_replica", "Value is 1 if this node is a replica, 0 otherwise.", "gauge", u8::from(role == "replica").to_string()),
            ("patroni_xlog_received_location", "Current location of the received Postgres transaction log, 0 if this node is not a replica.", "counter", num(xlog.and_then(|x| x.get("received_location"))).to_string()),
            ("patroni_xlog_replayed_location", "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.", "counter", num(xlog.and_then(|x| x.get("replayed_location"))).to_string()),
            ("patroni_postgres_streaming", "Value is 1 if Postgres is streaming, 0 otherwise.", "gauge", u8::from(rs == Some("streaming")).to_string()),
            ("patroni_postgres_in_archive_recovery", "Value is 1 if Postgres is replicating from archive, 0 otherwise.", "gauge", u8::from(rs == Some("in archive recovery")).to_string()),
            ("patroni_postgres_server_version", "Version of Postgres (if running), 0 otherwise.", "gauge", num(doc.get("server_version")).to_string()),
            ("patroni_cluster_unlocked", "Value is 1 if the cluster is unlocked, 0 if locked.", "gauge", u8::from(doc.get("cluster_unlocked").is_some()).to_string()),
            ("patroni_postgres_timeline", "Postgres timeline of this node (if running), 0 otherwise.", "gauge", num(doc.get("timeline")).to_string()),
            ("patroni_dcs_last_seen", "Epoch timestamp when DCS was last contacted successfully by Patroni.", "gauge", num(doc.get("dcs_last_seen")).to_string()),
            ("patroni_pending_restart", "Value is 1 if the node needs a restart, 0 otherwise.", "gauge", u8::from(doc.get("pending_restart").is_some()).to_string()),
            ("patroni_is_paused", "Value is 1 if auto failover is disabled, 0 otherwise.", "gauge", u8::from(doc.get("pause").is_some()).to_string()),
        ];
        let mut text = String::new();
        for (name, help, kind, value) in metrics {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}\n"
            ));
        }
        Response::Text(200, text)
    }
}
