//! Requests from the REST API that change PostgreSQL (restart, scheduled restart). They are
//! carried out by the HA loop, the only actor that starts and stops PostgreSQL, which answers
//! through a oneshot channel; the REST handler wakes the loop so it does not wait a cycle.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use patroni_core::cluster::Cluster;
use patroni_postgres::StopMode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::Ha;

/// Conditions of `POST /restart` (rest-api.md §10): all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestartFilters {
    /// Internal role the node must have (`primary`, `standby_leader`, `replica`).
    pub role: Option<String>,
    /// Restart only if the running server is older (`server_version_num` form).
    pub postgres_version: Option<i32>,
    /// As given, for the member key.
    pub postgres_version_text: Option<String>,
    /// Seconds to wait for the start.
    pub timeout: Option<u64>,
    /// Restart only if a restart is pending.
    pub restart_pending: bool,
}

/// A request to the HA loop; the reply is an HTTP status and text.
pub enum Request {
    /// Restart now.
    Restart(RestartFilters, oneshot::Sender<(u16, String)>),
    /// Restart at a time.
    Schedule(
        DateTime<FixedOffset>,
        RestartFilters,
        oneshot::Sender<(u16, String)>,
    ),
    /// Cancel the scheduled restart.
    Cancel(oneshot::Sender<(u16, String)>),
    /// Re-clone this replica from the leader.
    Reinitialize(oneshot::Sender<(u16, String)>),
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
    /// `{"schedule": .., filters..}` as published (member key adds the start time).
    pub fn to_json(&self, with_start_time: bool) -> Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "schedule".into(),
            json!(patroni_core::schedule::isoformat(&self.at)),
        );
        if let Some(r) = &self.filters.role {
            m.insert("role".into(), json!(r));
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

impl Ha {
    /// Answers the queued REST requests; `Some(message)` when one restarted PostgreSQL.
    pub(crate) async fn handle_requests(&mut self, cluster: &Cluster) -> Option<String> {
        let mut message = None;
        while let Ok(request) = self.requests.try_recv() {
            match request {
                Request::Restart(filters, reply) => {
                    let answer = self.restart(cluster, &filters).await;
                    if answer.0 == 200 {
                        message = Some("restarted successfully".to_string());
                    }
                    let _ = reply.send(answer);
                }
                Request::Schedule(at, filters, reply) => {
                    let answer = if self.scheduled_restart.is_some() {
                        (409, "Another restart is already scheduled".to_string())
                    } else {
                        let start = self
                            .status
                            .as_ref()
                            .and_then(|s| s.postmaster_start_time.clone());
                        self.scheduled_restart = Some(ScheduledRestart {
                            at,
                            filters,
                            postmaster_start_time: start,
                        });
                        self.publish_schedule();
                        (202, "Restart scheduled".to_string())
                    };
                    let _ = reply.send(answer);
                }
                Request::Reinitialize(reply) => {
                    let leader = cluster.leader_name().map(str::to_string);
                    match leader {
                        None => {
                            let _ = reply
                                .send((503, "Cluster has no leader, can not reinitialize".into()));
                        }
                        Some(l) if l == self.config.name => {
                            let _ =
                                reply.send((503, "I am the leader, can not reinitialize".into()));
                        }
                        Some(l) => {
                            self.shared.snap().pg_state = "creating replica".into();
                            let _ = reply.send((200, "reinitialize started".into()));
                            self.reinitialize(cluster, &l).await;
                            message = Some(format!("reinitialized from {l}"));
                        }
                    }
                }
                Request::Cancel(reply) => {
                    let answer = match self.scheduled_restart.take() {
                        Some(_) => (200, "scheduled restart deleted".to_string()),
                        None => (404, "no restarts are scheduled".to_string()),
                    };
                    self.publish_schedule();
                    let _ = reply.send(answer);
                }
            }
        }
        if let Some(s) = self.scheduled_restart.clone() {
            if s.at <= chrono::Utc::now().fixed_offset() {
                self.scheduled_restart = None;
                self.publish_schedule();
                let (code, text) = self.restart(cluster, &s.filters).await;
                if code != 200 {
                    tracing::warn!("Scheduled restart: {text}");
                }
                message = Some("restart initiated".to_string());
            }
        }
        message
    }

    /// Stops PostgreSQL at once, removes the data directory and clones it again from `leader`.
    async fn reinitialize(&mut self, cluster: &Cluster, leader: &str) {
        tracing::info!("reinitializing from {leader}");
        self.shared
            .primary_running
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = self
            .pg
            .stop(StopMode::Immediate, Duration::from_secs(30))
            .await
        {
            tracing::error!("reinitialize: cannot stop PostgreSQL: {e}");
            return;
        }
        if let Err(e) = self.pg.remove_data_directory().await {
            tracing::error!("reinitialize: {e}");
            return;
        }
        self.status = None;
        self.upstream = None;
        self.applied = None;
        self.clone_from(cluster, leader).await;
    }

    fn publish_schedule(&self) {
        self.shared.snap().scheduled_restart = self.scheduled_restart.clone();
    }

    fn restart_conditions_hold(&self, filters: &RestartFilters) -> bool {
        let snap = self.shared.snap();
        let role_ok = filters
            .role
            .as_deref()
            .is_none_or(|r| r == snap.role || (r == "master" && snap.role == "primary"));
        let version_ok = match (filters.postgres_version, self.status.as_ref()) {
            (Some(wanted), Some(st)) => st.server_version < wanted,
            (Some(_), None) => false,
            (None, _) => true,
        };
        let pending_ok = !filters.restart_pending || !snap.pending_restart.is_empty();
        role_ok && version_ok && pending_ok
    }

    /// Stops PostgreSQL (fast, after a CHECKPOINT) and starts it again in the same role.
    pub(crate) async fn restart(
        &mut self,
        cluster: &Cluster,
        filters: &RestartFilters,
    ) -> (u16, String) {
        if !self.restart_conditions_hold(filters) {
            return (503, "restart conditions are not satisfied".into());
        }
        let Some(status) = self.status.clone() else {
            return (503, "postgres is not running".into());
        };
        tracing::info!("restarting PostgreSQL");
        self.shared.snap().pg_state = "restarting".into();
        let was_primary = !status.in_recovery;
        let _ = self.pg.checkpoint().await;
        self.shared
            .primary_running
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = self.pg.stop(StopMode::Fast, Duration::from_secs(60)).await {
            self.shared.snap().pg_state = "restart failed".into();
            return (503, format!("restart failed: {e}"));
        }
        let result = if was_primary && self.renew(cluster).await {
            self.shared
                .primary_running
                .store(true, std::sync::atomic::Ordering::SeqCst);
            self.pg.start(&self.dynamic, None).await
        } else {
            let upstream = self.upstream_for(
                cluster,
                cluster.leader_name().filter(|l| *l != self.config.name),
            );
            self.upstream = Some(upstream.clone());
            self.pg.start(&self.dynamic, Some(upstream.as_ref())).await
        };
        match result {
            Ok(()) => {
                self.shared.snap().pg_state = "running".into();
                self.applied = None;
                (200, "restarted successfully".into())
            }
            Err(e) => {
                self.shared
                    .primary_running
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                self.shared.snap().pg_state = "restart failed".into();
                tracing::error!("restart failed: {e}");
                (503, "restart failed".into())
            }
        }
    }
}
