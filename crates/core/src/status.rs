//! The status document a member serves on `GET /patroni` (and as the body of health checks),
//! as one typed value in upstream's field order; and the health-check status codes HAProxy and
//! other load balancers read, as a pure function of a few facts about the node.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::state::Role;

/// WAL positions in the status document: a primary's, or a replica's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Xlog {
    /// A primary: its flush position.
    Primary {
        /// `pg_current_wal_flush_lsn()`.
        location: u64,
    },
    /// A replica: how far it received and replayed.
    Replica {
        /// Received (or replayed, when nothing was received) position.
        received_location: u64,
        /// Replayed position.
        replayed_location: u64,
        /// Commit time of the last replayed transaction.
        replayed_timestamp: Option<String>,
        /// WAL replay is paused.
        paused: bool,
    },
}

/// One row of `pg_stat_replication` as `/patroni` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationInfo {
    /// `usename`.
    pub usename: Option<String>,
    /// `application_name`.
    pub application_name: String,
    /// `client_addr`.
    pub client_addr: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `sync_state`.
    pub sync_state: Option<String>,
    /// `sync_priority`.
    pub sync_priority: i32,
}

/// `patroni` in the status document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatroniInfo {
    /// The Patroni version we answer as.
    pub version: String,
    /// Cluster name.
    pub scope: String,
    /// Member name.
    pub name: String,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// The document `GET /patroni` serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusDocument {
    /// PostgreSQL's state (`running`, `stopped`, ... or `unknown` when it does not answer).
    pub state: String,
    /// `pg_postmaster_start_time()`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postmaster_start_time: Option<String>,
    /// The role.
    pub role: Role,
    /// `server_version_num`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<i32>,
    /// WAL positions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xlog: Option<Xlog>,
    /// Timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<u64>,
    /// `streaming` / `in archive recovery` on a replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_state: Option<String>,
    /// The primary's replicas.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replication: Vec<ReplicationInfo>,
    /// Maintenance mode.
    #[serde(skip_serializing_if = "is_false")]
    pub pause: bool,
    /// No leader in the (fresh) DCS view.
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_unlocked: bool,
    /// Epoch seconds of the last successful DCS read.
    pub dcs_last_seen: i64,
    /// Published tags.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String, Value>,
    /// `Database system identifier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_system_identifier: Option<String>,
    /// Parameters wait for a restart.
    #[serde(skip_serializing_if = "is_false")]
    pub pending_restart: bool,
    /// `{"param": {"old_value": .., "new_value": ..}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_restart_reason: Option<Value>,
    /// Who answers.
    pub patroni: PatroniInfo,
    /// The scheduled restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_restart: Option<Value>,
}

impl StatusDocument {
    /// The replayed position, when a replica.
    pub fn replayed_location(&self) -> Option<u64> {
        match self.xlog {
            Some(Xlog::Replica {
                replayed_location, ..
            }) => Some(replayed_location),
            _ => None,
        }
    }

    /// The document as JSON (in field order).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What a health check looks at.
#[derive(Debug, Clone)]
pub struct HealthFacts<'a> {
    /// The document being served.
    pub doc: &'a StatusDocument,
    /// We hold the lock (the DCS view says so and our own clock agrees).
    pub holds_lock: bool,
    /// The DCS view is fresh (younger than ttl).
    pub dcs_fresh: bool,
    /// The leader's last published optime (0 when unknown).
    pub leader_lsn: u64,
    /// The `noloadbalance` tag.
    pub noloadbalance: bool,
}

/// The status code of a health check `path` with its `query` (`lag`, `tag_*`), as upstream
/// answers it (docs/rest-api.md). Paths are matched by substring as upstream does.
pub fn health_code(path: &str, query: &[(String, String)], facts: &HealthFacts) -> u16 {
    let doc = facts.doc;
    let role = doc.role;
    let running = doc.state == "running";
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let max_lag = param("lag").and_then(parse_bytes);
    let replayed = doc.replayed_location().unwrap_or(0);
    let lagging = matches!(max_lag, Some(m) if facts.leader_lsn != 0 && facts.leader_lsn > replayed.saturating_add(m));
    let replica_code = if !facts.noloadbalance && !lagging && role == Role::Replica && running {
        200
    } else {
        503
    };
    let code = |ok: bool| if ok { 200 } else { 503 };
    let (leader_code, primary_code, standby_leader_code) = if !facts.dcs_fresh && doc.pause {
        (
            code(matches!(role, Role::Primary | Role::StandbyLeader)),
            code(role == Role::Primary),
            code(role == Role::StandbyLeader),
        )
    } else if facts.holds_lock {
        (200, 200, 503)
    } else {
        (503, 503, 503)
    };
    let path = if path == "/" { "/primary" } else { path };
    let base = if path.contains("standby_leader") || path.contains("standby-leader") {
        return standby_leader_code;
    } else if path.contains("leader") {
        return leader_code;
    } else if path.contains("master") || path.contains("primary") || path.contains("read-write") {
        return primary_code;
    } else if path.contains("replica") {
        replica_code
    } else if path.contains("read-only") && !path.contains("sync") && !path.contains("quorum") {
        if primary_code == 200 || standby_leader_code == 200 {
            200
        } else {
            replica_code
        }
    } else if path.contains("health") {
        code(running)
    } else if facts.dcs_fresh && matches!(path, "/async" | "/asynchronous") {
        replica_code
    } else if facts.dcs_fresh
        && matches!(
            path,
            "/read-only-sync" | "/read-only-synchronous" | "/read-only-quorum"
        )
    {
        code(primary_code == 200 || standby_leader_code == 200)
    } else {
        return 503;
    };
    if base != 200 {
        return base;
    }
    let tags_match = query.iter().all(|(k, v)| match k.strip_prefix("tag_") {
        None => true,
        Some(tag) => doc.tags.get(tag).is_some_and(|t| match t {
            Value::String(s) => s == v,
            other => other.to_string().to_lowercase() == v.to_lowercase(),
        }),
    });
    code(tags_match)
}

/// `GET /liveness`: 503 when the HA loop has not completed a cycle within `ttl` (twice that
/// on a replica, as upstream tolerates), so a loop that stopped running is noticed by whoever
/// probes it even while the REST API answers. In pause, and while a long action (a clone, a
/// rewind, crash recovery) runs in the loop, the answer is 200: upstream runs those actions
/// beside its loop and stays live meanwhile.
pub fn liveness_code(
    paused: bool,
    busy: bool,
    primary: bool,
    since_last_cycle: std::time::Duration,
    ttl: std::time::Duration,
) -> u16 {
    let threshold = if primary { ttl } else { ttl * 2 };
    if paused || busy || since_last_cycle < threshold {
        200
    } else {
        503
    }
}

/// What `GET /readiness` decides on (upstream 4.1, docs/rest-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessFacts {
    /// This node holds the leader lock.
    pub holds_lock: bool,
    /// PostgreSQL's state is `running`.
    pub running: bool,
    /// The WAL receiver streams (`replication_state` is `streaming`).
    pub streaming: bool,
    /// The leader's optime in the (fresh) DCS view; `None` without one.
    pub dcs_optime: Option<u64>,
    /// The WAL receiver's `latest_end_lsn` (0 when unknown).
    pub latest_end_lsn: u64,
    /// Received (written) position.
    pub received: u64,
    /// Replayed position.
    pub replayed: u64,
    /// Failsafe mode keeps the cluster going without the DCS.
    pub failsafe_active: bool,
    /// `maximum_lag_on_failover`, the default allowed lag.
    pub maximum_lag_on_failover: u64,
}

/// `GET /readiness?lag=<size>&mode=apply|write`: 200 or 503, with the reason for a 503
/// (logged at DEBUG as upstream does).
pub fn readiness_code(query: &[(String, String)], f: &ReadinessFacts) -> (u16, Option<String>) {
    if f.holds_lock {
        return (200, None);
    }
    if !f.running {
        return (503, Some("PostgreSQL is not running".into()));
    }
    // As upstream: a replica fed only from the archive is never ready.
    if !f.streaming {
        return (503, Some("PostgreSQL is not streaming".into()));
    }
    if f.dcs_optime.is_none() && f.latest_end_lsn == 0 {
        return if f.failsafe_active {
            (200, None)
        } else {
            (503, Some("DCS is not accessible".into()))
        };
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (mode, position) = match param("mode") {
        Some("write") => ("write", f.received),
        _ => ("apply", f.replayed),
    };
    let allowed = param("lag")
        .and_then(parse_bytes)
        .unwrap_or(f.maximum_lag_on_failover);
    let leader_optime = f.dcs_optime.unwrap_or(0).max(f.latest_end_lsn);
    let lag = leader_optime.saturating_sub(position);
    if lag > allowed {
        (
            503,
            Some(format!(
                "Replication {mode} lag {lag} exceeds maximum allowable {allowed}"
            )),
        )
    } else {
        (200, None)
    }
}

/// Parses `lag` (`1048576`, `16kB`, `10MB`, ...) into bytes.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub mod metrics;

#[cfg(test)]
mod tests;
