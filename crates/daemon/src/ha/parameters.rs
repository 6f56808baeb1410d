//! Dynamic configuration applied to a running PostgreSQL: when `postgresql.parameters` or
//! `pg_hba` change, rewrite the files and reload; parameters that need a restart are reported
//! as `pending_restart` with their old and new values.

use patroni_core::cluster::Cluster;

use super::Ha;

impl Ha {
    /// Rewrites and reloads when the configuration changed since the last time, then records
    /// which parameters wait for a restart.
    pub(crate) async fn apply_parameters(&mut self, cluster: &Cluster) {
        let wanted = (self.dynamic.parameters.clone(), self.dynamic.pg_hba.clone());
        if self.applied.as_ref() != Some(&wanted) {
            let before = self.pg.config_files_text().await;
            let in_recovery = self.status.as_ref().is_some_and(|s| s.in_recovery);
            let result = if in_recovery {
                let upstream = self.upstream_for(cluster, cluster.leader_name());
                let r = self
                    .pg
                    .write_postgresql_conf(&self.dynamic, Some(upstream.as_ref()))
                    .await;
                self.upstream = Some(upstream);
                r
            } else {
                self.pg.write_postgresql_conf(&self.dynamic, None).await
            };
            let result = match result {
                Ok(()) => self.pg.write_pg_hba(&self.dynamic).await.map(|_| ()),
                Err(e) => Err(e),
            };
            // As upstream: PostgreSQL is reloaded (and on_reload fires) when its files changed,
            // and on every reload of our own configuration (SIGHUP, `POST /reload`).
            let changed = result.is_ok()
                && (self.config_reloaded
                    || self.reload_owed
                    || self.pg.config_files_text().await != before);
            let reloaded = match result {
                Ok(()) if !changed => Ok(false),
                Ok(()) => self.pg.reload().map(|()| true),
                Err(e) => Err(e),
            };
            // A failed reload is owed until one succeeds: the files already say what it would
            // have applied, so the next comparison would see nothing to do.
            self.reload_owed = changed && reloaded.is_err();
            match reloaded {
                Ok(reloaded) => {
                    if reloaded && self.applied.is_some() {
                        tracing::info!("Reloading PostgreSQL configuration.");
                    }
                    if reloaded && (self.applied.is_some() || self.config_reloaded) {
                        self.fire(patroni_core::callbacks::CallbackAction::OnReload);
                    }
                    self.config_reloaded = false;
                    self.applied = Some(wanted);
                }
                Err(e) => tracing::error!("failed to apply the PostgreSQL configuration: {e}"),
            }
        }
        let pending = match self.pg.pending_restart().await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!("cannot read pending restarts: {e}");
                return;
            }
        };
        let params = self.pg.parameters(&self.dynamic).await;
        let reasons = pending
            .into_iter()
            .map(|(name, old)| {
                let new = params
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                crate::state::PendingRestart { name, old, new }
            })
            .collect();
        self.shared.snap().pending_restart = reasons;
    }
}
