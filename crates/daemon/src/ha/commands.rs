//! Carrying out the REST API's requests (restart now or later, cancel, reinitialize). Whether
//! a request applies is decided in `patroni_core::ha` (`restart_allowed`,
//! `reinitialize_allowed`); a restart is answered once PostgreSQL runs again, without holding
//! up the loop meanwhile.

use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::ha::{
    reinitialize_allowed, restart_allowed, LocalState, RestartFilters, RestartRefused,
};
use patroni_core::state::PgState;
use patroni_postgres::StopMode;

use super::{Ha, RestartInProgress};
use crate::commands::{answer, Command, Reply, ScheduledRestart};

impl Ha {
    /// Answers the queued requests; `Some(message)` when one changed PostgreSQL this cycle.
    pub(crate) async fn handle_commands(
        &mut self,
        cluster: &Cluster,
        local: &LocalState,
    ) -> Option<String> {
        self.finish_restart(local);
        let mut message = None;
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Restart(filters, reply) => {
                    if let Some(m) = self.restart(cluster, &filters, reply).await {
                        message = Some(m);
                    }
                }
                Command::Schedule(at, filters, reply) => {
                    let outcome = if self.scheduled_restart.is_some() {
                        Err(RestartRefused::AlreadyScheduled)
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
                        Ok(())
                    };
                    answer(reply, outcome);
                }
                Command::Reinitialize(reply) => match reinitialize_allowed(cluster, self.me()) {
                    Err(refused) => answer(reply, Err(refused)),
                    Ok(leader) => {
                        answer(reply, Ok(()));
                        self.reinitialize(cluster, &leader).await;
                        message = Some(format!("reinitialized from {leader}"));
                    }
                },
                Command::Cancel(reply) => {
                    let outcome = match self.scheduled_restart.take() {
                        Some(_) => Ok(()),
                        None => Err(RestartRefused::NothingScheduled),
                    };
                    self.publish_schedule();
                    answer(reply, outcome);
                }
            }
        }
        if let Some(m) = self.scheduled_restart_due(cluster).await {
            message = Some(m);
        }
        message
    }

    async fn scheduled_restart_due(&mut self, cluster: &Cluster) -> Option<String> {
        let s = self.scheduled_restart.clone()?;
        if s.at > chrono::Utc::now().fixed_offset() {
            return None;
        }
        self.scheduled_restart = None;
        self.publish_schedule();
        let (reply, outcome) = tokio::sync::oneshot::channel();
        self.restart(cluster, &s.filters, reply).await;
        // Answered in a later cycle, once PostgreSQL runs again (or gives up).
        tokio::spawn(async move {
            if let Ok(Err(refused)) = outcome.await {
                tracing::warn!("Scheduled restart: {refused}");
            }
        });
        Some("restart initiated".to_string())
    }

    /// Answers a restart in progress once PostgreSQL runs again, or when its time is up.
    fn finish_restart(&mut self, local: &LocalState) {
        let Some(r) = self.restart_in_progress.take() else {
            return;
        };
        if self.status.is_some() {
            self.set_pg_state(PgState::Running);
            answer(r.reply, Ok(()));
        } else if Instant::now() >= r.deadline
            || matches!(local.postgres, patroni_core::ha::Postgres::Stopped { .. })
        {
            self.set_pg_state(PgState::RestartFailed);
            answer(
                r.reply,
                Err(RestartRefused::Failed("restart failed".into())),
            );
        } else {
            self.restart_in_progress = Some(r);
        }
    }

    /// Stops PostgreSQL (fast, after a CHECKPOINT) and starts it again in the same role; the
    /// reply waits for it to run.
    async fn restart(
        &mut self,
        cluster: &Cluster,
        filters: &RestartFilters,
        reply: Reply,
    ) -> Option<String> {
        let (role, version, pending) = {
            let s = self.shared.snap();
            (
                s.role,
                self.status.as_ref().map(|st| st.server_version),
                !s.pending_restart.is_empty(),
            )
        };
        if let Err(refused) = restart_allowed(filters, role, version, pending) {
            answer(reply, Err(refused));
            return None;
        }
        let was_primary = self.status.as_ref().is_some_and(|s| !s.in_recovery);
        tracing::info!("restarting PostgreSQL");
        self.set_pg_state(PgState::Restarting);
        let checkpoint_timeout = Duration::from_secs(u64::from(self.dynamic.timing.ttl) / 2);
        if let Err(e) = self.pg.checkpoint(checkpoint_timeout).await {
            tracing::warn!("CHECKPOINT before restart failed: {e}");
        }
        if was_primary {
            // The loop waits for the stop: let the renewal timer keep the lock meanwhile.
            self.hold_lock_for(self.stop_timeout() + Duration::from_secs(5));
        }
        // Quiet: a restart announces itself with on_restart once PostgreSQL is up again.
        if let Err(e) = self
            .stop_postgres(StopMode::Fast, self.stop_timeout(), true)
            .await
        {
            self.set_pg_state(PgState::RestartFailed);
            answer(
                reply,
                Err(RestartRefused::Failed(format!("restart failed: {e}"))),
            );
            return None;
        }
        self.status = None;
        if was_primary && self.renew(cluster).await {
            self.start_primary().await;
        } else {
            let upstream =
                self.upstream_for(cluster, cluster.leader_name().filter(|l| *l != self.me()));
            self.start_replica(upstream).await;
        }
        self.applied = None;
        self.set_pg_state(PgState::Restarting);
        self.callbacks
            .starting(Some(patroni_core::callbacks::CallbackAction::OnRestart));
        let timeout = filters
            .timeout
            .unwrap_or(self.config.postgresql.pg_ctl_timeout)
            .min(u64::from(u32::MAX));
        self.restart_in_progress = Some(RestartInProgress {
            reply,
            deadline: Instant::now() + Duration::from_secs(timeout),
        });
        Some("restart initiated".into())
    }

    /// Stops PostgreSQL at once, removes the data directory (the user asked for it) and clones
    /// it again from `leader`.
    async fn reinitialize(&mut self, cluster: &Cluster, leader: &str) {
        tracing::info!("reinitializing from {leader}");
        self.set_pg_state(PgState::CreatingReplica);
        if let Err(e) = self
            .stop_postgres(StopMode::Immediate, Duration::from_secs(30), false)
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
        self.divergence = patroni_core::ha::Divergence::Unchecked;
        self.clone_from(cluster, leader).await;
    }

    fn publish_schedule(&self) {
        self.shared.snap().scheduled_restart = self.scheduled_restart.clone();
    }
}
