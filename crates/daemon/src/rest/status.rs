//! The documents the REST API serves: the status document (`/patroni` and health-check
//! bodies), `/cluster`, `/history`, `/config` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use patroni_core::state::{PgState, Role};
use patroni_core::status::{metrics, PatroniInfo, StatusDocument, Xlog};
use patroni_postgres::PgStatus;
use serde_json::Value;

use super::{Api, Response};

/// What a live status query adds to the document.
fn fill_from_status(doc: &mut StatusDocument, st: &PgStatus) {
    doc.postmaster_start_time = st.postmaster_start_time.clone();
    doc.role = if st.in_recovery {
        Role::Replica
    } else {
        Role::Primary
    };
    doc.server_version = Some(st.server_version);
    doc.xlog = Some(if st.in_recovery {
        Xlog::Replica {
            received_location: if st.received_location > 0 {
                st.received_location
            } else {
                st.replayed_location
            },
            replayed_location: st.replayed_location,
            replayed_timestamp: st.replayed_timestamp.clone(),
            paused: st.replay_paused,
        }
    } else {
        Xlog::Primary {
            location: st.wal_position,
        }
    });
    doc.timeline = Some(st.timeline);
    doc.replication_state = st.replication_state().map(str::to_string);
    doc.replication = st.replication.clone();
}

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

    /// The status document. `retry`: on a query failure try once more a second later
    /// (`GET /patroni` does, health checks do not).
    pub(crate) async fn status_document(&self, retry: bool) -> StatusDocument {
        let (pg_state, role, paused, last_seen, sysid, pending, scheduled) = {
            let s = self.shared.snap();
            (
                s.pg_state.clone(),
                s.role,
                s.dynamic.pause,
                s.dcs_last_seen,
                s.system_id.clone(),
                s.pending_restart.clone(),
                s.scheduled_restart.as_ref().map(|r| r.to_json(false)),
            )
        };
        let status = if matches!(
            pg_state,
            PgState::Running | PgState::Starting | PgState::Restarting
        ) && self.pg.is_running()
        {
            self.current_pg_status(retry).await
        } else {
            None
        };
        let config = self.config();
        let mut doc = StatusDocument {
            state: pg_state.as_str().to_string(),
            postmaster_start_time: None,
            role,
            server_version: None,
            xlog: None,
            timeline: None,
            replication_state: None,
            replication: Vec::new(),
            pause: paused,
            cluster_unlocked: self.fresh_cluster().is_none_or(|c| c.is_unlocked()),
            dcs_last_seen: last_seen,
            tags: config.tags.published.clone(),
            database_system_identifier: sysid,
            pending_restart: !pending.is_empty(),
            pending_restart_reason: (!pending.is_empty())
                .then(|| crate::status::pending_restart_reason(&pending)),
            patroni: PatroniInfo {
                version: patroni_core::PATRONI_VERSION.to_string(),
                scope: config.scope.clone(),
                name: config.name.clone(),
            },
            scheduled_restart: scheduled,
        };
        match &status {
            Some(st) => fill_from_status(&mut doc, st),
            None if pg_state == PgState::Running => doc.state = "unknown".into(),
            None => {}
        }
        doc
    }

    /// PostgreSQL's status for the document: a query (retried once if asked), else what the
    /// HA loop read in its last cycle, if recent: one failed query (a busy host, a statement
    /// timeout) must not make a healthy node flap in the load balancer.
    async fn current_pg_status(&self, retry: bool) -> Option<PgStatus> {
        match self.pg_status().await {
            Ok(st) => return Some(st),
            Err(e) => tracing::warn!("REST API status query failed: {e}"),
        }
        if retry {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(st) = self.pg_status().await {
                return Some(st);
            }
        }
        let s = self.shared.snap();
        let max_age = Duration::from_secs(2 * u64::from(s.dynamic.timing.loop_wait) + 1);
        s.pg_status
            .as_ref()
            .filter(|(_, at)| at.elapsed() < max_age)
            .map(|(st, _)| st.clone())
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

    /// `GET /metrics` (`patroni_core::status::metrics`). Synchronous mode and failsafe mode
    /// are refused at start (docs/configuration-keys.md), so this node is never a sync or
    /// quorum standby and failsafe is never active: those series are 0 until they are built.
    pub(crate) async fn metrics(&self) -> Response {
        let doc = self.status_document(true).await;
        Response::Typed(
            metrics::CONTENT_TYPE,
            metrics::metrics_text(&doc, metrics::MetricsFacts::default()),
        )
    }
}
