//! The cluster as `GET /cluster` and `patronictl list` present it (docs/rest-api.md):
//! roles, states, hosts, LSNs and lags derived from the DCS view.

use serde_json::{json, Map, Value};

use crate::cluster::Cluster;
use crate::lsn::format_lsn;

/// The `GET /cluster` document for `cluster` of `scope`.
pub fn cluster_json(cluster: &Cluster, scope: &str) -> Value {
    let leader = cluster.leader_name();
    let optime = cluster.status.last_lsn;
    let paused = cluster
        .config_data()
        .and_then(|c| c.get("pause"))
        .and_then(crate::config::value::as_bool)
        .unwrap_or(false);
    let sync_standbys: Vec<String> = cluster
        .sync
        .as_ref()
        .and_then(|s| s.get("sync_standby"))
        .and_then(Value::as_str)
        .map(|s| s.split(',').map(|n| n.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let sync_mode = cluster
        .config_data()
        .and_then(|c| c.get("synchronous_mode"))
        .is_some_and(|v| {
            crate::config::value::as_bool(v) == Some(true) || v.as_str() == Some("quorum")
        });
    let mut members = Vec::new();
    for m in &cluster.members {
        let is_leader = Some(m.name.as_str()) == leader;
        let role = if is_leader {
            if m.role() == "standby_leader" {
                "standby_leader"
            } else {
                "leader"
            }
        } else if sync_mode && sync_standbys.contains(&m.name.to_lowercase()) {
            "sync_standby"
        } else {
            "replica"
        };
        let state = if role == "leader" {
            m.state()
        } else {
            m.replication_state().unwrap_or(m.state())
        };
        let mut o = Map::new();
        o.insert("name".into(), json!(m.name));
        o.insert("role".into(), json!(role));
        o.insert("state".into(), json!(state));
        if let Some(api) = m.api_url() {
            o.insert("api_url".into(), json!(api));
        }
        if let Some((host, port)) = m.host_port() {
            o.insert("host".into(), json!(host));
            o.insert("port".into(), json!(port));
        }
        for key in [
            "timeline",
            "pending_restart",
            "pending_restart_reason",
            "scheduled_restart",
            "tags",
        ] {
            if let Some(v) = m.data.get(key) {
                o.insert(key.into(), v.clone());
            }
        }
        if !is_leader {
            for (prefix, lsn) in [
                ("receive_", m.receive_lsn()),
                ("replay_", m.replay_lsn()),
                ("", m.xlog_location()),
            ] {
                match lsn.filter(|l| *l > 0) {
                    Some(l) => {
                        o.insert(format!("{prefix}lag"), json!(optime.saturating_sub(l)));
                        o.insert(format!("{prefix}lsn"), json!(format_lsn(l)));
                    }
                    None => {
                        o.insert(format!("{prefix}lsn"), json!("unknown"));
                        o.insert(format!("{prefix}lag"), json!("unknown"));
                    }
                }
            }
        }
        members.push(Value::Object(o));
    }
    let mut out = Map::new();
    out.insert("members".into(), Value::Array(members));
    if paused {
        out.insert("pause".into(), json!(true));
    }
    if let Some(f) = &cluster.failover {
        if let Some(at) = &f.scheduled_at {
            let mut s = Map::new();
            s.insert("at".into(), json!(at));
            if let Some(l) = &f.leader {
                s.insert("from".into(), json!(l));
            }
            if let Some(c) = &f.candidate {
                s.insert("to".into(), json!(c));
            }
            out.insert("scheduled_switchover".into(), Value::Object(s));
        }
    }
    out.insert("scope".into(), json!(scope));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::KeyValue;

    #[test]
    fn matches_the_observed_4_1_document() {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
            version: 1,
            session: None,
        };
        let c = Cluster::from_keys(&[
            kv("leader", "pg2"),
            kv("status", r#"{"optime":67139592}"#),
            kv(
                "members/pg1",
                r#"{"conn_url":"postgres://127.0.0.1:15432/postgres","api_url":"http://127.0.0.1:18008/patroni","state":"running","role":"replica","version":"4.1.4","xlog_location":67139592,"replay_lsn":67139592,"receive_lsn":67139592,"replication_state":"streaming","timeline":1}"#,
            ),
            kv(
                "members/pg2",
                r#"{"conn_url":"postgres://127.0.0.1:15433/postgres","api_url":"http://127.0.0.1:18009/patroni","state":"running","role":"primary","version":"4.1.4","xlog_location":67139592,"timeline":1}"#,
            ),
        ]);
        let text = crate::pyjson::to_string(&cluster_json(&c, "bench"));
        assert_eq!(
            text,
            r#"{"members": [{"name": "pg1", "role": "replica", "state": "streaming", "api_url": "http://127.0.0.1:18008/patroni", "host": "127.0.0.1", "port": 15432, "timeline": 1, "receive_lag": 0, "receive_lsn": "0/4007808", "replay_lag": 0, "replay_lsn": "0/4007808", "lag": 0, "lsn": "0/4007808"}, {"name": "pg2", "role": "leader", "state": "running", "api_url": "http://127.0.0.1:18009/patroni", "host": "127.0.0.1", "port": 15433, "timeline": 1}], "scope": "bench"}"#
        );
    }
}
