//! The leader's side effects: start and promote a primary, the post-promotion CHECKPOINT, the
//! chores the core lists each cycle, and leaving the primary role (demote, or stop before
//! releasing the lock).

use std::time::{Duration, Instant};

use patroni_core::callbacks::CallbackAction;
use patroni_core::cluster::Cluster;
use patroni_core::ha::{leader_chores, Chore, HaInput, LocalState};
use patroni_core::state::{PgState, Role};
use patroni_postgres::StopMode;

use super::Ha;

impl Ha {
    /// Starts the stopped former primary as the primary again. The caller renewed the lock
    /// just before; PostgreSQL counts as writable from the moment it is spawned.
    pub(crate) async fn start_primary(&mut self) {
        self.set_pg_state(PgState::Starting);
        self.callbacks.starting(Some(CallbackAction::OnStart));
        match self.pg.start(&self.dynamic, None).await {
            Ok(()) => {
                self.set_role(Role::Primary);
                self.upstream = None;
                self.keeps_lock = true;
                self.wake_when_ready();
            }
            Err(e) => {
                tracing::error!("failed to start postgres: {e}");
                self.set_pg_state(PgState::StartFailed);
            }
        }
    }

    /// Wakes the loop once PostgreSQL accepts connections (or gives up), so the cycle that
    /// sees it running comes without waiting a whole `loop_wait`.
    pub(crate) fn wake_when_ready(&self) {
        let pg = std::sync::Arc::clone(&self.pg);
        let shared = std::sync::Arc::clone(&self.shared);
        let timeout = Duration::from_secs(self.config.postgresql.pg_ctl_timeout);
        tokio::spawn(async move {
            if let Err(e) = pg.wait_ready(timeout).await {
                tracing::info!("PostgreSQL is not ready yet: {e}");
            }
            shared.wake.notify_one();
        });
    }

    /// Wakes the loop once PostgreSQL left recovery, so the new primary's first cycle (its
    /// history, slots and member key) comes without waiting a whole `loop_wait`.
    fn wake_when_promoted(&self) {
        let pg = std::sync::Arc::clone(&self.pg);
        let shared = std::sync::Arc::clone(&self.shared);
        let deadline = Instant::now() + Duration::from_secs(patroni_core::ha::PROMOTE_RETRY_SECS);
        tokio::spawn(async move {
            while Instant::now() < deadline {
                if pg.status().await.is_ok_and(|st| !st.in_recovery) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            shared.wake.notify_one();
        });
    }

    /// Asks PostgreSQL to promote; we hold the lock (the caller just renewed or acquired it).
    /// The loop does not wait: later cycles renew the lock while recovery finishes.
    pub(crate) async fn promote(&mut self) {
        if !self.shared.lock_clock().is_valid() {
            tracing::error!("not promoting: our hold on the leader lock is not valid");
            return;
        }
        // Asked before (the retry of a promotion that did not finish): the script ran then.
        if self.pg.promote_requested().is_none() {
            if !self.pre_promote().await {
                return;
            }
            // The script may have run for a while: the lock must still be ours.
            if !self.shared.lock_clock().is_valid() {
                tracing::error!("not promoting: the leader lock was lost while pre_promote ran");
                return;
            }
        }
        match self.pg.promote().await {
            Ok(()) => {
                self.set_role(Role::Promoted);
                self.fire(CallbackAction::OnRoleChange);
                self.upstream = None;
                self.checkpoint_due = true;
                self.keeps_lock = true;
                self.shared.snap().checkpoint_pending = true;
                self.wake_when_promoted();
            }
            Err(e) => tracing::error!("promote failed: {e}"),
        }
    }

    /// Runs the post-promotion CHECKPOINT in the background once PostgreSQL is a primary:
    /// pg_rewind on the old primary reads our timeline from pg_control, which only a
    /// checkpoint updates. Until it completes our member key says
    /// `checkpoint_after_promote: false` and replicas wait before rewinding from us.
    async fn checkpoint_after_promote(&mut self) {
        if let Some(task) = self.checkpoint_task.take() {
            if !task.is_finished() {
                self.checkpoint_task = Some(task);
                return;
            }
            match task.await {
                Ok(Ok(())) => {
                    self.checkpoint_due = false;
                    self.shared.snap().checkpoint_pending = false;
                    return;
                }
                Ok(Err(e)) => tracing::warn!("CHECKPOINT after promote failed: {e}"),
                Err(e) => tracing::warn!("CHECKPOINT after promote did not finish: {e}"),
            }
        }
        if !self.checkpoint_due {
            return;
        }
        let pg = std::sync::Arc::clone(&self.pg);
        let shared = std::sync::Arc::clone(&self.shared);
        let timeout = Duration::from_secs(u64::from(self.dynamic.timing.ttl) * 4);
        self.checkpoint_task = Some(tokio::spawn(async move {
            let result = pg.checkpoint(timeout).await.map_err(|e| e.to_string());
            shared.wake.notify_one();
            result
        }));
    }

    /// What the core says a leader owes the cluster this cycle.
    pub(crate) async fn leader_chores(&mut self, cluster: &Cluster, local: &LocalState) {
        self.checkpoint_after_promote().await;
        let input = HaInput {
            cluster,
            config: &self.dynamic,
            local,
            peers: None,
            leader_check: None,
        };
        for chore in leader_chores(&input, self.system_id.as_deref()) {
            let result = match &chore {
                Chore::WriteInitialize { system_id, create } => self
                    .dcs
                    .initialize(*create, system_id)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Chore::WriteConfig => {
                    let text =
                        serde_json::to_string(&self.dynamic.raw).unwrap_or_else(|_| "{}".into());
                    self.dcs
                        .set_config_value(&text, None)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                Chore::MemberSlots(slots) => self.ensure_slots(slots).await,
                Chore::WriteHistory { timeline } => self.write_history(*timeline).await,
            };
            if let Err(e) = result {
                tracing::warn!("{chore:?}: {e}");
            }
        }
    }

    /// Creates the member slots that do not exist yet.
    async fn ensure_slots(&self, slots: &[String]) -> Result<(), String> {
        let existing = self.pg.physical_slots().await.map_err(|e| e.to_string())?;
        for slot in slots {
            if !existing.iter().any(|(n, _)| n == slot) {
                match self.pg.create_physical_slot(slot).await {
                    Ok(()) => tracing::info!("created physical replication slot {slot}"),
                    Err(e) => tracing::warn!("failed to create slot {slot}: {e}"),
                }
            }
        }
        Ok(())
    }

    /// `/history` from our `<timeline>.history` file.
    async fn write_history(&self, timeline: u64) -> Result<(), String> {
        let path = self
            .pg
            .data_dir()
            .join("pg_wal")
            .join(format!("{timeline:08X}.history"));
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mtime = tokio::fs::metadata(&path)
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
            })
            .unwrap_or_default();
        let parsed: Vec<(u64, u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, '\t');
                let tli = parts.next()?.trim().parse().ok()?;
                let lsn = patroni_core::lsn::parse_lsn(parts.next()?)?;
                Some((tli, lsn, parts.next().unwrap_or("").trim().to_string()))
            })
            .collect();
        let last = parsed.len().saturating_sub(1);
        let lines: Vec<serde_json::Value> = parsed
            .into_iter()
            .enumerate()
            .map(|(i, (tli, lsn, reason))| {
                if i == last {
                    serde_json::json!([tli, lsn, reason, mtime, self.config.name])
                } else {
                    serde_json::json!([tli, lsn, reason])
                }
            })
            .collect();
        let value = serde_json::to_string(&lines).unwrap_or_else(|_| "[]".into());
        self.dcs
            .set_history_value(&value)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Stops a primary that must not run (lost lock, DCS unreachable). The next cycle starts
    /// it as a replica once the leader confirms its WAL can follow.
    pub(crate) async fn demote(&mut self, mode: StopMode) {
        // An immediate stop is for giving up at once: a postmaster that does not obey it is
        // killed after a few seconds rather than the stop timeout.
        let timeout = match mode {
            StopMode::Immediate => Duration::from_secs(5),
            StopMode::Fast => self.stop_timeout(),
        };
        if let Err(e) = self.stop_postgres(mode, timeout, false).await {
            tracing::error!("failed to stop PostgreSQL: {e}");
        }
        self.status = None;
        self.upstream = None;
        self.checkpoint_due = false;
        // A replica stopped for a rewind stays a replica, as upstream (its next start owes
        // on_start, not on_role_change).
        let role = self.shared.snap().role;
        if matches!(role, Role::Primary | Role::Promoted | Role::StandbyLeader) {
            self.set_role(Role::Demoted);
        }
        self.set_pg_state(PgState::Stopped);
    }

    /// Stops PostgreSQL at once and only then releases the lock; if it will not stop, the lock
    /// is kept (the lease guard keeps trying to stop it when the lock runs out). The renewal
    /// timer keeps the lock while the stop runs, so it cannot expire before PostgreSQL is gone.
    pub(crate) async fn stop_then_release(&mut self) {
        self.hold_lock_for(Duration::from_secs(15));
        self.demote(StopMode::Immediate).await;
        if self.pg.is_running() {
            tracing::error!("PostgreSQL did not stop: keeping the leader lock");
            return;
        }
        self.release_lock(None).await;
        // As upstream 4.0.4 for a primary that failed to start: it is demoted now.
        self.fire(CallbackAction::OnRoleChange);
    }

    /// How long a stop may take before PostgreSQL is killed: `primary_stop_timeout` where
    /// upstream applies it, else a minute.
    pub(crate) fn stop_timeout(&self) -> Duration {
        Duration::from_secs(self.dynamic.primary_stop_timeout().unwrap_or(60))
    }

    /// Keeps the lock during a long leader action (handover, restart) by letting the renewal
    /// timer renew for `window`.
    pub(crate) fn hold_lock_for(&self, window: Duration) {
        self.shared.snap().renew_allowed_until = Some(Instant::now() + window);
    }
}
