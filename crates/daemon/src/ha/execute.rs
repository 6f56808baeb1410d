//! Carrying out a decision: each plan of `patroni_core::ha` maps to the side effects below,
//! and the outcome of a lock operation goes back to the core (`after_renew`, `after_acquire`)
//! for the next step.

use std::sync::Arc;
use std::time::Instant;

use patroni_core::cluster::{Cluster, Leader};
use patroni_core::ha::{self, Action, Decision, LocalState};
use patroni_postgres::StopMode;

use super::{CycleError, Ha};

impl Ha {
    /// Performs a decision and returns the cycle message.
    pub(crate) async fn execute(
        &mut self,
        decision: Decision,
        cluster: &Cluster,
        local: &LocalState,
    ) -> Result<String, CycleError> {
        match decision {
            Decision::Fatal(m) => Err(CycleError::Fatal(m)),
            Decision::Wait { message, renew } => {
                if renew && self.renew(cluster).await {
                    self.keeps_lock = true;
                }
                Ok(message)
            }
            Decision::Gather(what) => Ok(format!("waiting for {what:?}")),
            Decision::RaceBootstrap => self.bootstrap().await,
            Decision::Clone { from, message } => {
                tracing::info!("{message}");
                self.clone_from(cluster, &from).await;
                Ok(message)
            }
            Decision::ReleaseLock { message } => {
                self.release_lock(None).await;
                Ok(message)
            }
            Decision::FailOverAfterCrash { message } => {
                self.race_backoff = Some((
                    std::time::Instant::now(),
                    patroni_core::ha::RaceBackoff::FailedOverAfterCrash,
                ));
                self.release_lock(None).await;
                Ok(message)
            }
            Decision::StopAndRelease { message } => {
                self.stop_then_release().await;
                Ok(message)
            }
            Decision::StartReplica { follow, message } => {
                tracing::info!("{message}");
                let upstream = self.upstream_for(cluster, follow.as_deref());
                self.start_replica(upstream).await;
                Ok(message)
            }
            Decision::RenewLock => self.renew_then_act(cluster, local).await,
            Decision::AcquireLock => {
                let acquired = self.acquire(cluster).await;
                let action = ha::after_acquire(acquired, local);
                self.act(action, cluster, local).await
            }
            Decision::Follow {
                leader,
                demote,
                message,
            } => {
                if demote {
                    tracing::info!("{message}");
                    self.demote(StopMode::Immediate).await;
                } else {
                    self.follow(cluster, leader.as_deref()).await;
                }
                Ok(message)
            }
            Decision::CrashRecovery { message } => {
                tracing::info!("{message}");
                self.crash_recovery().await;
                Ok(message)
            }
            Decision::Rewind { from, message } => {
                tracing::info!("{message}");
                self.rewind_from(cluster, &from).await;
                Ok(message)
            }
            Decision::RemoveDataDirectory { message } => {
                tracing::warn!("{message}");
                self.remove_data_directory().await;
                Ok(message)
            }
            Decision::KeepStopped { message } => {
                tracing::error!("{message}");
                self.keep_stopped().await;
                Ok(message)
            }
        }
    }

    /// We hold the lock: renew it, hand over if a switchover asks for it, else the core's next
    /// step for the outcome.
    async fn renew_then_act(
        &mut self,
        cluster: &Cluster,
        local: &LocalState,
    ) -> Result<String, CycleError> {
        let renewed = self.renew(cluster).await;
        if renewed && local.is_running_primary() {
            if let Some(message) = self.handle_failover_key(cluster).await {
                return Ok(message);
            }
        }
        let action = ha::after_renew(renewed, local, self.dynamic.pause);
        self.act(action, cluster, local).await
    }

    /// The second step after a lock operation.
    async fn act(
        &mut self,
        action: Action,
        cluster: &Cluster,
        local: &LocalState,
    ) -> Result<String, CycleError> {
        match action {
            Action::NoAction(m) => {
                if self.shared.lock_clock().is_valid() {
                    if local.is_running_primary() {
                        self.keeps_lock = true;
                        self.leader_chores(cluster, local).await;
                    } else if local.promoting_for.is_some() {
                        self.keeps_lock = true;
                    }
                }
                Ok(m)
            }
            Action::Promote(m) => {
                self.promote().await;
                Ok(m)
            }
            Action::Start {
                as_primary,
                message,
            } => {
                tracing::info!("{message}");
                if as_primary {
                    self.start_primary().await;
                } else {
                    self.start_replica(None).await;
                }
                Ok(message)
            }
            Action::Demote { message, .. } => {
                self.demote(StopMode::Immediate).await;
                Ok(message)
            }
            Action::Follow { leader, message } => {
                let leader = leader.or_else(|| cluster.leader_name().map(str::to_string));
                self.follow(cluster, leader.as_deref()).await;
                Ok(message)
            }
        }
    }

    /// Renews our hold on the lock and the lock clock. `true` when we still hold it.
    pub(crate) async fn renew(&mut self, cluster: &Cluster) -> bool {
        let lsn = self
            .status
            .as_ref()
            .filter(|s| !s.in_recovery)
            .map(|s| s.lsn());
        let sent = Instant::now();
        match self.dcs.update_leader(cluster, lsn).await {
            Ok(Some(ttl)) => {
                self.shared.lock_renewed(sent, ttl);
                true
            }
            Ok(None) => {
                tracing::error!("failed to update leader lock");
                self.shared.lose_lock(sent);
                false
            }
            Err(e) => {
                tracing::error!("failed to update leader lock: {e}");
                self.shared.lose_lock(sent);
                false
            }
        }
    }

    /// Tries to take the free lock; on success the snapshot shows us as leader until the next
    /// read and a pending failover key is cleared.
    async fn acquire(&mut self, cluster: &Cluster) -> bool {
        let sent = Instant::now();
        let ttl = match self.dcs.attempt_to_acquire_leader().await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("failed to acquire the leader lock: {e}");
                None
            }
        };
        let Some(ttl) = ttl else {
            return false;
        };
        self.shared.lock_renewed(sent, ttl);
        self.mark_cluster_leader(cluster);
        if cluster.failover.is_some() {
            tracing::info!("Cleaning up failover key after acquiring leader lock...");
            if let Err(e) = self.dcs.set_failover_value("{}", None).await {
                tracing::warn!("failed to clean up the failover key: {e}");
            }
        }
        true
    }

    /// After taking the lock, the snapshot shows us as leader until the next read.
    fn mark_cluster_leader(&self, cluster: &Cluster) {
        let mut c = cluster.clone();
        c.leader = Some(Leader {
            name: self.me().to_string(),
            version: 0,
            session: None,
        });
        self.shared.snap().cluster = Some((Arc::new(c), Instant::now()));
    }

    /// Deletes the leader key if we still own it; PostgreSQL must not be a running primary.
    pub(crate) async fn release_lock(&mut self, last_lsn: Option<u64>) {
        self.shared.lose_lock(Instant::now());
        if let Err(e) = self.dcs.delete_leader(last_lsn).await {
            tracing::error!("failed to delete the leader key: {e}");
        }
    }
}
