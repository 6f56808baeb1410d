//! `GET /metrics`: the status document in Prometheus' text format, with upstream 4.1's metric
//! names, help texts, types and order (docs/rest-api.md), so dashboards and alerts written
//! against Patroni keep working.

use std::fmt::Write as _;

use super::{StatusDocument, Xlog};
use crate::state::Role;

/// The `Content-Type` Prometheus expects for this format (Prometheus 3 refuses `text/html`).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upstream 4.1's numbers for `patroni_postgres_state`, stable by contract; -1 for any other.
fn state_number(state: &str) -> i32 {
    match state {
        "initializing new cluster" => 0,
        "initdb failed" => 1,
        "running custom bootstrap script" => 2,
        "custom bootstrap failed" => 3,
        "creating replica" => 4,
        "running" => 5,
        "starting" => 6,
        "starting after custom bootstrap" => 7,
        "start failed" => 8,
        "restarting" => 9,
        "restart failed" => 10,
        "stopping" => 11,
        "stopped" => 12,
        "stop failed" => 13,
        "crashed" => 14,
        _ => -1,
    }
}

const STATE_VALUES: &str = "# Values: 0=initdb, 1=initdb_failed, 2=custom_bootstrap, \
3=custom_bootstrap_failed, 4=creating_replica, 5=running, 6=starting, 7=bootstrap_starting, \
8=start_failed, 9=restarting, 10=restart_failed, 11=stopping, 12=stopped, 13=stop_failed, \
14=crashed";

/// Epoch seconds of a timestamp as the status document renders it (Python's
/// `2026-11-25 17:16:20.878123+00:00`, the fraction left out when zero); 0 when absent or
/// unreadable, as upstream shows a missing one.
fn epoch_seconds(text: Option<&str>) -> f64 {
    let Some(text) = text else { return 0.0 };
    ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%:z"]
        .iter()
        .find_map(|f| chrono::DateTime::parse_from_str(text, f).ok())
        .map_or(0.0, |t| t.timestamp_micros() as f64 / 1e6)
}

/// A label value escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Facts the status document does not carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsFacts {
    /// This node is listed as a synchronous standby.
    pub sync_standby: bool,
    /// This node is a quorum standby.
    pub quorum_standby: bool,
    /// Failsafe mode is keeping this primary running without the DCS.
    pub failsafe_active: bool,
}

/// One series: name, help text, type, value.
type Series = (&'static str, &'static str, &'static str, String);

fn flag(b: bool) -> String {
    u8::from(b).to_string()
}

/// The `/metrics` body for `doc`.
pub fn metrics_text(doc: &StatusDocument, facts: MetricsFacts) -> String {
    let labels = format!(
        "{{scope=\"{}\",name=\"{}\"}}",
        label(&doc.patroni.scope),
        label(&doc.patroni.name)
    );
    let mut text = String::new();
    for (name, help, kind, value) in series(doc, facts) {
        // Writing into a String cannot fail.
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{labels} {value}\n"
        );
    }
    let _ = write!(
        text,
        "# HELP patroni_postgres_state Numeric representation of Postgres state.\n{STATE_VALUES}\n\
         # TYPE patroni_postgres_state gauge\npatroni_postgres_state{labels} {}\n",
        state_number(&doc.state)
    );
    text
}

/// Every series but `patroni_postgres_state`, in upstream's order.
fn series(doc: &StatusDocument, facts: MetricsFacts) -> Vec<Series> {
    let mut metrics = role_and_wal_series(doc, facts);
    let server_version = doc.server_version.unwrap_or(0);
    let rs = doc.replication_state.as_deref();
    // Upstream shows these two only for a server that reports its replication state (9.6+).
    if server_version >= 90600 {
        metrics.push((
            "patroni_postgres_streaming",
            "Value is 1 if Postgres is streaming, 0 otherwise.",
            "gauge",
            flag(rs == Some("streaming")),
        ));
        metrics.push((
            "patroni_postgres_in_archive_recovery",
            "Value is 1 if Postgres is replicating from archive, 0 otherwise.",
            "gauge",
            flag(rs == Some("in archive recovery")),
        ));
    }
    metrics.extend(cluster_series(doc, facts));
    metrics
}

/// From `patroni_version` to `patroni_xlog_paused`.
fn role_and_wal_series(doc: &StatusDocument, facts: MetricsFacts) -> Vec<Series> {
    let version: String = doc
        .patroni
        .version
        .split('.')
        .map(|p| format!("{p:0>2}"))
        .collect();
    let (location, received, replayed, replayed_at, paused) = match &doc.xlog {
        Some(Xlog::Primary { location }) => (*location, 0, 0, 0.0, false),
        Some(Xlog::Replica {
            received_location,
            replayed_location,
            replayed_timestamp,
            paused,
        }) => (
            0,
            *received_location,
            *replayed_location,
            epoch_seconds(replayed_timestamp.as_deref()),
            *paused,
        ),
        None => (0, 0, 0, 0.0, false),
    };
    vec![
        ("patroni_version", "Patroni semver without periods.", "gauge", version),
        ("patroni_postgres_running", "Value is 1 if Postgres is running, 0 otherwise.", "gauge", flag(doc.state == "running")),
        ("patroni_postmaster_start_time", "Epoch seconds since Postgres started.", "gauge", epoch_seconds(doc.postmaster_start_time.as_deref()).to_string()),
        ("patroni_primary", "Value is 1 if this node is the leader, 0 otherwise.", "gauge", flag(doc.role == Role::Primary)),
        ("patroni_xlog_location", "Current location of the Postgres transaction log, 0 if this node is not the leader.", "counter", location.to_string()),
        ("patroni_standby_leader", "Value is 1 if this node is the standby_leader, 0 otherwise.", "gauge", flag(doc.role == Role::StandbyLeader)),
        ("patroni_replica", "Value is 1 if this node is a replica, 0 otherwise.", "gauge", flag(doc.role == Role::Replica)),
        ("patroni_sync_standby", "Value is 1 if this node is a sync standby, 0 otherwise.", "gauge", flag(facts.sync_standby)),
        ("patroni_quorum_standby", "Value is 1 if this node is a quorum standby, 0 otherwise.", "gauge", flag(facts.quorum_standby)),
        ("patroni_xlog_received_location", "Current location of the received Postgres transaction log, 0 if this node is not a replica.", "counter", received.to_string()),
        ("patroni_xlog_replayed_location", "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.", "counter", replayed.to_string()),
        ("patroni_xlog_replayed_timestamp", "Current timestamp of the replayed Postgres transaction log, 0 if null.", "gauge", replayed_at.to_string()),
        ("patroni_xlog_paused", "Value is 1 if the Postgres xlog is paused, 0 otherwise.", "gauge", flag(paused)),
    ]
}

/// From `patroni_postgres_server_version` to `patroni_is_paused`.
fn cluster_series(doc: &StatusDocument, facts: MetricsFacts) -> Vec<Series> {
    let server_version = doc.server_version.unwrap_or(0);
    vec![
        (
            "patroni_postgres_server_version",
            "Version of Postgres (if running), 0 otherwise.",
            "gauge",
            server_version.to_string(),
        ),
        (
            "patroni_cluster_unlocked",
            "Value is 1 if the cluster is unlocked, 0 if locked.",
            "gauge",
            flag(doc.cluster_unlocked),
        ),
        (
            "patroni_failsafe_mode_is_active",
            "Value is 1 if failsafe mode is active, 0 if inactive.",
            "gauge",
            flag(facts.failsafe_active),
        ),
        (
            "patroni_postgres_timeline",
            "Postgres timeline of this node (if running), 0 otherwise.",
            "gauge",
            doc.timeline.unwrap_or(0).to_string(),
        ),
        (
            "patroni_dcs_last_seen",
            "Epoch timestamp when DCS was last contacted successfully by Patroni.",
            "gauge",
            doc.dcs_last_seen.to_string(),
        ),
        (
            "patroni_pending_restart",
            "Value is 1 if the node needs a restart, 0 otherwise.",
            "gauge",
            flag(doc.pending_restart),
        ),
        (
            "patroni_is_paused",
            "Value is 1 if auto failover is disabled, 0 otherwise.",
            "gauge",
            flag(doc.pause),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::status::PatroniInfo;

    fn doc(role: Role, xlog: Xlog) -> StatusDocument {
        StatusDocument {
            state: "running".into(),
            postmaster_start_time: Some("2026-11-15 17:14:32.251825+00:00".into()),
            role,
            server_version: Some(150020),
            xlog: Some(xlog),
            timeline: Some(1),
            replication_state: None,
            replication: Vec::new(),
            pause: false,
            cluster_unlocked: false,
            dcs_last_seen: 1795463692,
            tags: Map::new(),
            database_system_identifier: None,
            pending_restart: false,
            pending_restart_reason: None,
            patroni: PatroniInfo {
                version: "4.1.4".into(),
                scope: "bench".into(),
                name: "pg2".into(),
            },
            scheduled_restart: None,
        }
    }

    /// `(name, TYPE, value)` of every series, in order.
    fn series(text: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut kind = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                kind = rest.split(' ').nth(1).unwrap_or_default().to_string();
            } else if !line.starts_with('#') {
                let (name, rest) = line.split_once('{').expect("labels");
                let (labels, value) = rest.split_once("} ").expect("value");
                assert_eq!(labels, "scope=\"bench\",name=\"pg2\"");
                out.push((name.to_string(), kind.clone(), value.to_string()));
            }
        }
        out
    }

    /// Upstream 4.1.4's series for a primary and a streaming replica, recorded from a live
    /// cluster (the same values on the same facts).
    #[test]
    fn the_series_are_upstreams_in_name_type_order_and_value() {
        let primary = metrics_text(
            &doc(Role::Primary, Xlog::Primary { location: 67139648 }),
            MetricsFacts::default(),
        );
        let mut replica = doc(
            Role::Replica,
            Xlog::Replica {
                received_location: 67139648,
                replayed_location: 67139648,
                replayed_timestamp: Some("2026-11-15 17:14:40.027528+00:00".into()),
                paused: false,
            },
        );
        replica.replication_state = Some("streaming".into());
        let replica = metrics_text(&replica, MetricsFacts::default());
        let expected = [
            ("patroni_version", "gauge", "040104", "040104"),
            ("patroni_postgres_running", "gauge", "1", "1"),
            (
                "patroni_postmaster_start_time",
                "gauge",
                "1794762872.251825",
                "1794762872.251825",
            ),
            ("patroni_primary", "gauge", "1", "0"),
            ("patroni_xlog_location", "counter", "67139648", "0"),
            ("patroni_standby_leader", "gauge", "0", "0"),
            ("patroni_replica", "gauge", "0", "1"),
            ("patroni_sync_standby", "gauge", "0", "0"),
            ("patroni_quorum_standby", "gauge", "0", "0"),
            ("patroni_xlog_received_location", "counter", "0", "67139648"),
            ("patroni_xlog_replayed_location", "counter", "0", "67139648"),
            (
                "patroni_xlog_replayed_timestamp",
                "gauge",
                "0",
                "1794762880.027528",
            ),
            ("patroni_xlog_paused", "gauge", "0", "0"),
            ("patroni_postgres_streaming", "gauge", "0", "1"),
            ("patroni_postgres_in_archive_recovery", "gauge", "0", "0"),
            (
                "patroni_postgres_server_version",
                "gauge",
                "150020",
                "150020",
            ),
            ("patroni_cluster_unlocked", "gauge", "0", "0"),
            ("patroni_failsafe_mode_is_active", "gauge", "0", "0"),
            ("patroni_postgres_timeline", "gauge", "1", "1"),
            ("patroni_dcs_last_seen", "gauge", "1795463692", "1795463692"),
            ("patroni_pending_restart", "gauge", "0", "0"),
            ("patroni_is_paused", "gauge", "0", "0"),
            ("patroni_postgres_state", "gauge", "5", "5"),
        ];
        let want = |replica: bool| -> Vec<(String, String, String)> {
            expected
                .iter()
                .map(|e| {
                    let value = if replica { e.3 } else { e.2 };
                    (e.0.to_string(), e.1.to_string(), value.to_string())
                })
                .collect()
        };
        assert_eq!(series(&primary), want(false));
        assert_eq!(series(&replica), want(true));
        assert!(primary.ends_with(
            "# HELP patroni_postgres_state Numeric representation of Postgres state.\n\
             # Values: 0=initdb, 1=initdb_failed, 2=custom_bootstrap, 3=custom_bootstrap_failed, 4=creating_replica, 5=running, 6=starting, 7=bootstrap_starting, 8=start_failed, 9=restarting, 10=restart_failed, 11=stopping, 12=stopped, 13=stop_failed, 14=crashed\n\
             # TYPE patroni_postgres_state gauge\n\
             patroni_postgres_state{scope=\"bench\",name=\"pg2\"} 5\n"
        ));
    }

    #[test]
    fn a_stopped_node_shows_zeros_and_its_state() {
        let mut d = doc(Role::Replica, Xlog::Primary { location: 0 });
        d.state = "stopped".into();
        d.server_version = None;
        d.postmaster_start_time = None;
        d.xlog = None;
        d.timeline = None;
        d.cluster_unlocked = true;
        d.pause = true;
        d.pending_restart = true;
        let s = series(&metrics_text(&d, MetricsFacts::default()));
        let get = |n: &str| s.iter().find(|x| x.0 == n).map(|x| x.2.as_str());
        assert_eq!(get("patroni_postgres_running"), Some("0"));
        assert_eq!(get("patroni_postmaster_start_time"), Some("0"));
        assert_eq!(get("patroni_postgres_server_version"), Some("0"));
        assert_eq!(get("patroni_postgres_timeline"), Some("0"));
        assert_eq!(
            get("patroni_postgres_streaming"),
            None,
            "as upstream: only with a version"
        );
        assert_eq!(get("patroni_cluster_unlocked"), Some("1"));
        assert_eq!(get("patroni_is_paused"), Some("1"));
        assert_eq!(get("patroni_pending_restart"), Some("1"));
        assert_eq!(get("patroni_postgres_state"), Some("12"));
        d.state = "unknown".into();
        let s = series(&metrics_text(&d, MetricsFacts::default()));
        assert_eq!(s.last().map(|x| x.2.as_str()), Some("-1"));
    }

    #[test]
    fn every_state_has_upstreams_number() {
        for (i, state) in [
            "initializing new cluster",
            "initdb failed",
            "running custom bootstrap script",
            "custom bootstrap failed",
            "creating replica",
            "running",
            "starting",
            "starting after custom bootstrap",
            "start failed",
            "restarting",
            "restart failed",
            "stopping",
            "stopped",
            "stop failed",
            "crashed",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(state_number(state), i as i32, "{state}");
        }
    }

    #[test]
    fn odd_names_are_escaped_and_timestamps_without_a_fraction_read() {
        let mut d = doc(Role::Primary, Xlog::Primary { location: 1 });
        d.patroni.name = "a\"b\\c".into();
        d.postmaster_start_time = Some("2026-11-15 17:14:32+00:00".into());
        let text = metrics_text(&d, MetricsFacts::default());
        assert!(text.contains("name=\"a\\\"b\\\\c\"}"), "{text}");
        assert!(text.contains(
            "patroni_postmaster_start_time{scope=\"bench\",name=\"a\\\"b\\\\c\"} 1794762872\n"
        ));
        assert_eq!(epoch_seconds(Some("garbage")), 0.0);
    }
}
