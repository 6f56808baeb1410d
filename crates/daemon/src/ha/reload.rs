//! Re-reading the local configuration on SIGHUP or `POST /reload`: the new file replaces the
//! old one for the loop, the REST API and PostgreSQL's files, which are rewritten and
//! reloaded in the same cycle.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use patroni_core::config::Config;

use super::Ha;

/// Loads the local configuration again, from the same file and environment as at start.
pub type ConfigLoader = Box<dyn Fn() -> Result<Config, String> + Send + Sync>;

impl Ha {
    /// Reloads the local configuration if a reload was asked for since the last cycle.
    pub(crate) fn reload_if_requested(&mut self) {
        if !self.shared.reload_requested.swap(false, Ordering::SeqCst) {
            return;
        }
        let new = match (self.reload)() {
            Ok(c) => c,
            Err(e) => {
                // Like Patroni: a broken file keeps the configuration in force.
                tracing::error!("Failed to reload config: {e}");
                return;
            }
        };
        if let Some(why) = immutable_change(&self.config, &new) {
            tracing::error!("Failed to reload config: {why}");
            return;
        }
        if new.restapi.listen != self.config.restapi.listen {
            tracing::warn!(
                "restapi.listen changed to {}: the REST API keeps listening on {} until restarted",
                new.restapi.listen,
                self.config.restapi.listen
            );
        }
        for w in &new.warnings {
            tracing::warn!("{w}");
        }
        crate::logging::reconfigure(&new.log);
        let new = Arc::new(new);
        self.pg.set_config(Arc::clone(&new));
        self.shared.set_config(Arc::clone(&new));
        self.config = new;
        // Rewrite postgresql.conf, pg_hba.conf and reload PostgreSQL even when only the
        // local parameters changed: the comparison in apply_parameters sees dynamic ones only.
        self.applied = None;
        self.config_reloaded = true;
        tracing::info!("Reloading PostgreSQL configuration.");
    }
}

/// What a running daemon cannot take from a reload: what names the member, the cluster and
/// its data, which only a restart may change.
fn immutable_change(old: &Config, new: &Config) -> Option<String> {
    let fixed = [
        ("name", old.name == new.name),
        ("scope", old.scope == new.scope),
        ("namespace", old.namespace == new.namespace),
        (
            "postgresql.data_dir",
            old.postgresql.data_dir == new.postgresql.data_dir,
        ),
        (
            "postgresql.config_dir",
            old.postgresql.config_dir == new.postgresql.config_dir,
        ),
    ];
    fixed
        .iter()
        .find(|(_, same)| !same)
        .map(|(key, _)| format!("{key} cannot change without a restart"))
}
