//! The loop around the cycles: pace them by `loop_wait` (woken early by the DCS watch, the REST
//! API or PostgreSQL becoming ready), and shut down on SIGTERM as the core's `on_shutdown`
//! plan says.

use std::time::{Duration, Instant};

use patroni_core::ha::{on_shutdown, OnShutdown};
use patroni_postgres::StopMode;
use tokio::signal::unix::{signal, SignalKind};

use super::{CycleError, Ha};

/// Runs cycles until SIGTERM/SIGINT (then shuts down) or a fatal error.
pub async fn run(mut ha: Ha) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut next_run = Instant::now();
    // A SIGHUP's reload happens in the next cycle; systemd hears READY=1 after it.
    let mut reloading = false;
    loop {
        let cycle = tokio::select! {
            r = ha.cycle() => r,
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        };
        match cycle {
            Ok(message) if ha.dynamic.pause => tracing::info!("PAUSE: {message}"),
            Ok(message) => tracing::info!("{message}"),
            Err(CycleError::Fatal(m)) => return Err(anyhow::anyhow!(m)),
            Err(CycleError::Dcs(e)) => tracing::error!("Error communicating with DCS: {e}"),
        }
        if std::mem::take(&mut reloading) {
            crate::systemd::ready();
        }
        if let Err(e) = ha.pg.save_dynamic_config(&ha.dynamic).await {
            tracing::debug!("cannot save patroni.dynamic.json: {e}");
        }
        let loop_wait = Duration::from_secs(u64::from(ha.dynamic.timing.loop_wait));
        next_run = next_run.checked_add(loop_wait).unwrap_or(next_run);
        let now = Instant::now();
        if next_run <= now {
            tracing::warn!("Loop time exceeded, rescheduling immediately.");
            next_run = now;
        }
        ha.shared.snap().next_cycle = next_run;
        tokio::select! {
            woken = ha.dcs.watch(next_run.saturating_duration_since(now)) => {
                if matches!(woken, Ok(true)) {
                    next_run = Instant::now();
                }
            }
            _ = ha.shared.wake.notified() => next_run = Instant::now(),
            _ = sighup.recv() => {
                crate::systemd::reloading();
                reloading = true;
                ha.shared.reload_requested.store(true, std::sync::atomic::Ordering::SeqCst);
                next_run = Instant::now();
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    crate::systemd::stopping();
    ha.shutdown().await;
    Ok(())
}

impl Ha {
    /// SIGTERM: paused, leave everything as it is; otherwise stop PostgreSQL cleanly and, if
    /// we lead, release the lock at once with the shutdown checkpoint as the last optime.
    async fn shutdown(&mut self) {
        if on_shutdown(self.dynamic.pause) == OnShutdown::LeaveRunning {
            self.shared.snap().renew_allowed_until = None;
            tracing::info!(
                "Leader key is not deleted and Postgresql is not stopped due paused state"
            );
            return;
        }
        let leader = self
            .shared
            .snap()
            .cluster
            .as_ref()
            .is_some_and(|(c, _)| c.leader_name() == Some(self.me()));
        if leader {
            // The shutdown checkpoint may take a while: keep the lock meanwhile, so it is
            // released with the checkpoint's optime rather than cut short by the guard.
            self.hold_lock_for(self.stop_timeout() + Duration::from_secs(10));
        } else {
            self.shared.snap().renew_allowed_until = None;
        }
        if let Err(e) = self
            .stop_postgres(StopMode::Fast, self.stop_timeout(), false)
            .await
        {
            tracing::error!("failed to stop PostgreSQL: {e}");
            return;
        }
        if self.pg.is_running() {
            tracing::error!("PostgreSQL did not stop: the leader key is kept");
            return;
        }
        if leader {
            let lsn = self
                .pg
                .controldata()
                .await
                .ok()
                .and_then(|cd| cd.checkpoint_lsn());
            self.shared.snap().renew_allowed_until = None;
            self.release_lock(lsn).await;
            tracing::info!("Leader key released");
        }
        self.set_pg_state(patroni_core::state::PgState::Stopped);
        if leader {
            self.set_role(patroni_core::state::Role::Demoted);
        }
        let member = self.member_json();
        if let Err(e) = self.dcs.touch_member(&member).await {
            tracing::warn!("failed to update member key: {e}");
        }
    }
}
