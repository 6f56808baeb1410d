//! Firing callbacks at the moments upstream fires them (the rules are in
//! `patroni_core::callbacks`; `crate::callbacks` runs the scripts), and stopping PostgreSQL
//! the way that owes an `on_stop`.

use std::time::Duration;

use patroni_core::callbacks::{callback_argv, CallbackAction};
use patroni_core::ha::Postgres;
use patroni_core::state::PgState;
use patroni_postgres::{PgError, StopMode};

use super::Ha;

impl Ha {
    /// Fires `action` with the role we have now; nothing while a new cluster is bootstrapped.
    pub(crate) fn fire(&mut self, action: CallbackAction) {
        if self.bootstrapping {
            return;
        }
        let action = self.callbacks.fire(action);
        let Some((_, command)) = self
            .config
            .postgresql
            .callbacks
            .iter()
            .find(|(a, _)| *a == action)
        else {
            return;
        };
        let role = self.shared.snap().role;
        match callback_argv(command, action, role, &self.config.scope) {
            Some(argv) => self
                .callback_runner
                .run(argv, action == CallbackAction::OnReload),
            None => tracing::error!("callback {command:?} cannot be split into a command line"),
        }
    }

    /// After the cycle read PostgreSQL: a start that finished owes its callback; a PostgreSQL
    /// found running before any callback fired gets `on_start`.
    pub(crate) fn callbacks_after_gather(&mut self, before: &PgState, postgres: &Postgres) {
        if !matches!(postgres, Postgres::Running { .. }) {
            return;
        }
        let owed = if matches!(before, PgState::Starting | PgState::Restarting) {
            self.callbacks.started()
        } else {
            self.callbacks.found_running()
        };
        if let Some(action) = owed {
            self.fire(action);
        }
    }

    /// Stops PostgreSQL; `on_stop` fires (with the role it had) when a running postmaster was
    /// stopped, unless `quiet` (a restart, whose `on_restart` comes after the start).
    pub(crate) async fn stop_postgres(
        &mut self,
        mode: StopMode,
        timeout: Duration,
        quiet: bool,
    ) -> Result<(), PgError> {
        let was_running = self.pg.postmaster_pid().is_some();
        self.pg.stop(mode, timeout).await?;
        if was_running && !quiet && !self.pg.is_running() {
            self.fire(CallbackAction::OnStop);
        }
        Ok(())
    }
}

impl Ha {
    /// Runs `pre_promote` (the fencing script) and waits for it, within `ttl`. A non-zero exit
    /// (or no exit in time) cancels the promotion: the lock is released and this node stays
    /// out of the leader race for a `ttl`, as upstream does. The lock is kept meanwhile; this
    /// node is still a replica, so holding it longer is safe.
    pub(crate) async fn pre_promote(&mut self) -> bool {
        let Some(command) = self.config.postgresql.pre_promote.clone() else {
            return true;
        };
        let Some(argv) = shlex::split(&command).filter(|a| !a.is_empty()) else {
            tracing::error!("pre_promote {command:?} cannot be split into a command line");
            return self.cancel_promotion().await;
        };
        let limit = Duration::from_secs(u64::from(self.dynamic.timing.ttl));
        self.hold_lock_for(limit + Duration::from_secs(5));
        let run = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let outcome = tokio::time::timeout(limit, run).await;
        let ok = match outcome {
            Ok(Ok(status)) => {
                tracing::info!(
                    "pre_promote script `{command}` exited with {}",
                    status.code().unwrap_or(-1)
                );
                status.success()
            }
            Ok(Err(e)) => {
                tracing::error!("pre_promote script `{command}` could not run: {e}");
                false
            }
            Err(_) => {
                tracing::error!("pre_promote script `{command}` did not exit within {limit:?}");
                false
            }
        };
        if ok {
            true
        } else {
            self.cancel_promotion().await
        }
    }

    async fn cancel_promotion(&mut self) -> bool {
        tracing::warn!("Promotion cancelled because the pre-promote script failed");
        self.race_backoff = Some((
            std::time::Instant::now(),
            patroni_core::ha::RaceBackoff::PrePromoteFailed,
        ));
        self.shared.snap().renew_allowed_until = None;
        self.release_lock(None).await;
        false
    }
}
