//! Requests the REST API hands to the HA loop, the only actor that starts and stops
//! PostgreSQL. Answers are typed outcomes; the REST layer alone turns them into status codes.

use chrono::{DateTime, FixedOffset};
use patroni_core::ha::{RestartFilters, RestartRefused};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The loop's answer to a command.
pub type Reply = oneshot::Sender<Result<(), RestartRefused>>;

/// A request to the HA loop.
pub enum Command {
    /// Restart now.
    Restart(RestartFilters, Reply),
    /// Restart at a time.
    Schedule(DateTime<FixedOffset>, RestartFilters, Reply),
    /// Cancel the scheduled restart.
    Cancel(Reply),
    /// Clone this replica again from the leader.
    Reinitialize(Reply),
}

/// A restart waiting for its time.
#[derive(Debug, Clone)]
pub struct ScheduledRestart {
    /// When.
    pub at: DateTime<FixedOffset>,
    /// Its conditions.
    pub filters: RestartFilters,
    /// `pg_postmaster_start_time()` when it was scheduled (a restart since cancels it).
    pub postmaster_start_time: Option<String>,
}

impl ScheduledRestart {
    /// `{"schedule": .., filters..}` as published (the member key adds the start time).
    pub fn to_json(&self, with_start_time: bool) -> Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "schedule".into(),
            json!(patroni_core::schedule::isoformat(&self.at)),
        );
        if let Some(r) = &self.filters.role {
            m.insert("role".into(), json!(r.as_str()));
        }
        if let Some(v) = &self.filters.postgres_version_text {
            m.insert("postgres_version".into(), json!(v));
        }
        if let Some(t) = self.filters.timeout {
            m.insert("timeout".into(), json!(t));
        }
        if self.filters.restart_pending {
            m.insert("restart_pending".into(), json!(true));
        }
        if with_start_time {
            if let Some(t) = &self.postmaster_start_time {
                m.insert("postmaster_start_time".into(), json!(t));
            }
        }
        Value::Object(m)
    }
}

/// Answers a command. The requester may have given up waiting (its connection timed out):
/// then there is nobody left to tell, which is not an error of ours.
pub fn answer(reply: Reply, outcome: Result<(), RestartRefused>) {
    if reply.send(outcome).is_err() {
        tracing::debug!("the REST request gave up before the HA loop answered");
    }
}
