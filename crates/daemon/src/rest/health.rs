//! Health checks (`/primary`, `/replica`, ... as HAProxy asks them) and the probes
//! `/liveness` and `/readiness`. The status codes are decided by
//! `patroni_core::status::health_code`; this module gathers its facts.

use std::time::Duration;

use patroni_core::state::Role;
use patroni_core::status::{
    health_code, readiness_code, HealthFacts, ReadinessFacts, StatusDocument,
};

use super::{Api, Request};

/// Parses seconds with an optional unit (`30`, `30s`, `2min`, `1h`).
pub fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    let seconds = n * mult;
    seconds.is_finite().then_some(seconds)
}

impl Api {
    /// The code for a health-check path; `doc` is the status document when already built.
    pub(crate) async fn health_code(&self, req: &Request, doc: Option<&StatusDocument>) -> u16 {
        let owned;
        let doc = match doc {
            Some(d) => d,
            None => {
                owned = self.status_document(false).await;
                &owned
            }
        };
        let cluster = self.fresh_cluster();
        let facts = HealthFacts {
            doc,
            holds_lock: self.shared.is_leader(&self.config().name),
            dcs_fresh: cluster.is_some(),
            leader_lsn: cluster.as_ref().map(|c| c.status.last_lsn).unwrap_or(0),
            noloadbalance: self.config().tags.noloadbalance,
        };
        health_code(&req.path, &req.query, &facts)
    }

    /// `GET /liveness` (see `patroni_core::status::liveness_code`).
    pub(crate) fn liveness(&self) -> u16 {
        let s = self.shared.snap();
        // Before the first cycle, count from when the loop was scheduled to start.
        let last = s.last_cycle.unwrap_or(s.next_cycle);
        patroni_core::status::liveness_code(
            s.dynamic.pause,
            s.busy,
            s.role == Role::Primary,
            last.elapsed(),
            Duration::from_secs(u64::from(s.dynamic.timing.ttl)),
        )
    }

    /// `GET /readiness` (`patroni_core::status::readiness_code`).
    pub(crate) async fn readiness(&self, req: &Request) -> u16 {
        let holds_lock = self.shared.is_leader(&self.config().name);
        let (running, max_lag) = {
            let s = self.shared.snap();
            (
                s.pg_state == patroni_core::state::PgState::Running,
                s.dynamic.maximum_lag_on_failover,
            )
        };
        // The status query runs only when it can change the answer.
        let st = if holds_lock || !running {
            None
        } else {
            self.pg_status().await.ok()
        };
        let facts = ReadinessFacts {
            holds_lock,
            running: running && (holds_lock || st.is_some()),
            streaming: st
                .as_ref()
                .is_some_and(|s| s.replication_state() == Some("streaming")),
            dcs_optime: self.fresh_cluster().map(|c| c.status.last_lsn),
            latest_end_lsn: st.as_ref().map_or(0, |s| s.latest_end_lsn),
            received: st.as_ref().map_or(0, |s| s.received_location),
            replayed: st.as_ref().map_or(0, |s| s.replayed_location),
            // Failsafe mode is refused at start (docs/configuration-keys.md).
            failsafe_active: false,
            maximum_lag_on_failover: max_lag,
        };
        let (code, reason) = readiness_code(&req.query, &facts);
        if let Some(reason) = reason {
            tracing::debug!("Readiness check failure: {reason}");
        }
        code
    }
}
