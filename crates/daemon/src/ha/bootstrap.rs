//! Creating the data directory: the bootstrap race's winner runs initdb and takes the lock;
//! a node joining a cluster clones the leader (or a `clonefrom` replica) with pg_basebackup.

use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::config::DynamicConfig;
use patroni_core::state::{PgState, Role};
use patroni_postgres::StopMode;

use super::{CycleError, Ha};

impl Ha {
    /// Bootstrap race: initdb, start, roles, then `initialize`, `/config` and the lock.
    pub(crate) async fn bootstrap(&mut self) -> Result<String, CycleError> {
        match self.dcs.initialize(true, "").await {
            Ok(true) => {}
            Ok(false) => return Ok("failed to acquire initialize lock".into()),
            Err(e) => return Err(CycleError::Dcs(e)),
        }
        tracing::info!("trying to bootstrap a new cluster");
        let (dynamic, warnings) = DynamicConfig::from_value(&self.config.bootstrap.dcs);
        for w in warnings {
            tracing::warn!("bootstrap.dcs: {w}");
        }
        self.dynamic = dynamic;
        self.dcs.set_ttl(self.dynamic.timing.ttl);
        self.shared.snap().dynamic = self.dynamic.clone();
        self.set_pg_state(PgState::Initializing);
        self.set_busy(true);
        self.publish().await;
        self.bootstrapping = true;
        let result = self.run_bootstrap().await;
        self.set_busy(false);
        if let Err(e) = result {
            tracing::error!("{e}");
            self.abandon_bootstrap().await;
            return Err(CycleError::Fatal("Failed to bootstrap cluster".into()));
        }
        self.bootstrapping = false;
        self.fire(patroni_core::callbacks::CallbackAction::OnStart);
        Ok("initialized a new cluster".into())
    }

    /// A failed bootstrap leaves no half-initialized cluster: PostgreSQL stopped, the
    /// `initialize` key deleted so another node may try, and the data directory kept aside as
    /// `<data_dir>.failed` for the operator (never deleted).
    async fn abandon_bootstrap(&mut self) {
        if let Err(e) = self
            .pg
            .stop(StopMode::Immediate, Duration::from_secs(10))
            .await
        {
            tracing::error!("failed to stop PostgreSQL after the failed bootstrap: {e}");
        }
        if let Err(e) = self.dcs.cancel_initialization().await {
            tracing::error!("failed to delete the initialize key: {e}");
        }
        let failed = self.pg.data_dir().with_extension("failed");
        if failed.exists() {
            if let Err(e) = tokio::fs::remove_dir_all(&failed).await {
                tracing::error!("cannot remove the older {}: {e}", failed.display());
            }
        }
        if let Err(e) = tokio::fs::rename(self.pg.data_dir(), &failed).await {
            tracing::error!(
                "cannot move the data directory to {}: {e}",
                failed.display()
            );
        }
    }

    async fn run_bootstrap(&mut self) -> Result<(), String> {
        self.pg
            .initdb()
            .await
            .map_err(|e| format!("initdb failed: {e}"))?;
        self.set_pg_state(PgState::Starting);
        // Nobody else can hold a copy of a cluster being created: its primary runs before
        // any lock exists, and the lease guard lets it until the lock is taken below.
        let timeout = Duration::from_secs(self.config.postgresql.pg_ctl_timeout);
        self.shared
            .bootstrap_grace(timeout + Duration::from_secs(u64::from(self.dynamic.timing.ttl)));
        self.pg
            .start(&self.dynamic, None)
            .await
            .map_err(|e| format!("start failed: {e}"))?;
        self.pg
            .wait_ready(timeout)
            .await
            .map_err(|e| format!("start failed: {e}"))?;
        self.set_pg_state(PgState::Running);
        self.pg
            .post_bootstrap()
            .await
            .map_err(|e| format!("post_bootstrap failed: {e}"))?;
        let sysid = self
            .pg
            .controldata()
            .await
            .ok()
            .and_then(|cd| cd.system_id().map(str::to_string))
            .ok_or("cannot read the system identifier of the new cluster")?;
        self.system_id = Some(sysid.clone());
        self.dcs
            .initialize(false, &sysid)
            .await
            .map_err(|e| e.to_string())?;
        let config =
            serde_json::to_string(&self.config.bootstrap.dcs).unwrap_or_else(|_| "{}".into());
        self.dcs
            .set_config_value(&config, None)
            .await
            .map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let ttl = self
            .dcs
            .attempt_to_acquire_leader()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("could not take the leader lock after bootstrap")?;
        self.shared.lock_renewed(sent, ttl);
        self.keeps_lock = true;
        self.set_role(Role::Primary);
        Ok(())
    }

    /// Creates a replica from `from` with pg_basebackup and starts it following the leader.
    pub(crate) async fn clone_from(&mut self, cluster: &Cluster, from: &str) {
        let Some((host, port)) = cluster.member(from).and_then(|m| m.host_port()) else {
            return;
        };
        self.set_pg_state(PgState::CreatingReplica);
        self.set_busy(true);
        self.publish().await;
        let result = self.pg.basebackup(&host, port).await;
        self.set_busy(false);
        match result {
            Ok(()) => {
                self.system_id = None;
                self.divergence = patroni_core::ha::Divergence::Unchecked;
                let upstream = self.upstream_for(cluster, cluster.leader_name());
                self.start_replica(upstream).await;
            }
            Err(e) => {
                tracing::error!("failed to bootstrap from {from}: {e}");
                self.set_pg_state(PgState::Stopped);
            }
        }
    }
}
