//! A replica's side effects: start it, point it at the leader, and what the divergence plans
//! ask for (crash recovery, pg_rewind, removing the data directory when the configuration says
//! so, or staying stopped).

use patroni_core::callbacks::{is_role_change, CallbackAction};
use patroni_core::cluster::{slot_name_from_member_name, Cluster};
use patroni_core::ha::{after_rewind, Divergence};
use patroni_core::state::{PgState, Role};
use patroni_postgres::{ReplicaOf, StopMode};

use super::Ha;

impl Ha {
    /// The upstream for following `leader` (its host/port and our slot on it).
    pub(crate) fn upstream_for(
        &self,
        cluster: &Cluster,
        leader: Option<&str>,
    ) -> Option<ReplicaOf> {
        let member = cluster.member(leader?)?;
        if member.name == self.config.name {
            return None;
        }
        let (host, port) = member.host_port()?;
        let slot = (self.dynamic.use_slots && !self.config.tags.nostream)
            .then(|| slot_name_from_member_name(&self.config.name));
        Some(ReplicaOf { host, port, slot })
    }

    /// Starts PostgreSQL as a replica of `upstream` (nobody when `None`), without waiting for
    /// it to accept connections.
    pub(crate) async fn start_replica(&mut self, upstream: Option<ReplicaOf>) {
        self.set_pg_state(PgState::Starting);
        let current = self.shared.snap().role;
        let role_change = is_role_change(self.callbacks.called(), current, Role::Replica);
        self.callbacks
            .starting((!role_change).then_some(CallbackAction::OnStart));
        self.set_role(Role::Replica);
        // After a rewind the replica may need WAL from the leader before it accepts
        // connections, and the leader makes our replication slot only once it sees our
        // member key: announce ourselves first.
        if let Err(e) = self.dcs.touch_member(&self.member_json()).await {
            tracing::warn!("failed to update member key: {e}");
        }
        match self.pg.start(&self.dynamic, Some(upstream.as_ref())).await {
            Ok(()) => {
                self.upstream = Some(upstream);
                self.wake_when_ready();
                if role_change {
                    self.fire(CallbackAction::OnRoleChange);
                }
            }
            Err(e) => {
                tracing::error!("failed to start postgres: {e}");
                self.set_pg_state(PgState::StartFailed);
            }
        }
    }

    /// Keeps a running replica pointed at `leader` (rewriting and reloading its recovery
    /// settings when the leader changed).
    pub(crate) async fn follow(&mut self, cluster: &Cluster, leader: Option<&str>) {
        let Some(status) = self.status.clone() else {
            return;
        };
        // Nobody to follow (no leader yet): keep streaming from whoever we follow now.
        if !status.in_recovery || leader.is_none() {
            return;
        }
        let upstream = self.upstream_for(cluster, leader);
        if self.upstream.as_ref() == Some(&upstream) {
            return;
        }
        match self
            .pg
            .write_postgresql_conf(&self.dynamic, Some(upstream.as_ref()))
            .await
        {
            Ok(()) => {
                if let Err(e) = self.pg.reload() {
                    tracing::error!("failed to reload PostgreSQL: {e}");
                    return;
                }
                if let Some(up) = &upstream {
                    tracing::info!("following {}:{}", up.host, up.port);
                }
                self.upstream = Some(upstream);
                let current = self.shared.snap().role;
                if is_role_change(self.callbacks.called(), current, Role::Replica) {
                    self.set_role(Role::Replica);
                    self.fire(CallbackAction::OnRoleChange);
                } else {
                    self.fire(CallbackAction::OnReload);
                }
            }
            Err(e) => tracing::error!("failed to write the recovery configuration: {e}"),
        }
    }

    /// Single-user crash recovery of a former primary that did not shut down cleanly.
    pub(crate) async fn crash_recovery(&mut self) {
        self.set_busy(true);
        let result = self.pg.crash_recovery(&self.dynamic).await;
        self.set_busy(false);
        if let Err(e) = result {
            tracing::error!("crash recovery failed: {e}");
        }
    }

    /// Stops PostgreSQL if it runs and rewinds it from `leader`; the next cycle starts it.
    pub(crate) async fn rewind_from(&mut self, cluster: &Cluster, leader: &str) {
        let Some((host, port)) = cluster.member(leader).and_then(|m| m.host_port()) else {
            return;
        };
        if self.pg.is_running() {
            self.demote(StopMode::Fast).await;
        }
        self.set_busy(true);
        let result = self.pg.rewind(&host, port, &self.dynamic).await;
        self.set_busy(false);
        let succeeded = match &result {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("Failed to rewind from healthy primary: {leader}: {e}");
                false
            }
        };
        // Whether the leader still answers as a primary decides if the failure is ours.
        let leader_still_primary = !succeeded
            && self
                .pg
                .leader_timeline(&host, port)
                .await
                .is_ok_and(|l| !l.in_recovery);
        self.divergence = after_rewind(leader, succeeded, leader_still_primary);
        self.upstream = None;
    }

    /// Removes the data directory (the configuration allows it): the next cycle clones.
    pub(crate) async fn remove_data_directory(&mut self) {
        self.demote(StopMode::Immediate).await;
        if self.pg.is_running() {
            tracing::error!("PostgreSQL did not stop: not removing its data directory");
            return;
        }
        if let Err(e) = self.pg.remove_data_directory().await {
            tracing::error!("{e}");
        }
        self.system_id = None;
        self.divergence = Divergence::Unchecked;
        self.applied = None;
    }

    /// Diverged with nothing allowed to repair it: stop PostgreSQL (so it serves no reads of
    /// WAL the cluster never had) and keep the data for the operator.
    pub(crate) async fn keep_stopped(&mut self) {
        if self.pg.is_running() {
            self.demote(StopMode::Fast).await;
        }
        self.set_pg_state(PgState::Stopped);
    }
}
