//! State shared by the HA loop, the lease timers and the REST API.
//!
//! The HA loop is the only writer of what PostgreSQL and the cluster look like; the REST API
//! reads snapshots. The [`LockClock`] is the node's own, monotonic idea of how long its hold on
//! the leader lock is valid, whatever the DCS says later; the lease guard thread waits on it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::config::{Config, DynamicConfig};
use patroni_core::state::{PgState, Role};
use patroni_postgres::PgStatus;

use crate::commands::ScheduledRestart;

/// How long our hold on the leader lock is valid by our own clock.
///
/// A renewal *sent* at `t` proves the lock lives until at least `t + ttl` on the DCS (the
/// server restarts the ttl when it handles the request, after `t`), with the ttl the store
/// itself applied; we stop a margin before. Outcomes are ordered by when their request was
/// sent: the latest-sent one wins, so a late answer to an older request (with an older, longer
/// ttl) never extends the hold, and a loss seen by a newer request is never undone.
#[derive(Debug)]
pub struct LockClock {
    valid_until: Option<Instant>,
    last_sent: Option<Instant>,
}

impl LockClock {
    /// The clock at daemon start: a PostgreSQL already running as primary gets one `ttl` to
    /// be proven ours, then the guard stops it.
    pub fn starting(now: Instant, ttl: u32) -> LockClock {
        let ttl = Duration::from_secs(u64::from(ttl));
        LockClock {
            valid_until: Some(now + ttl.saturating_sub(Self::margin(ttl))),
            last_sent: None,
        }
    }

    /// Records a successful acquire or renewal sent at `sent`; `ttl` is the one the DCS applied.
    pub fn renewed(&mut self, sent: Instant, ttl: u32) {
        if self.last_sent.is_some_and(|last| sent < last) {
            return;
        }
        let ttl = Duration::from_secs(u64::from(ttl));
        self.last_sent = Some(sent);
        self.valid_until = sent.checked_add(ttl.saturating_sub(Self::margin(ttl)));
    }

    /// The lock was lost, released, or a renewal sent at `sent` failed.
    pub fn lost(&mut self, sent: Instant) {
        if self.last_sent.is_some_and(|last| sent < last) {
            return;
        }
        self.last_sent = Some(sent);
        self.valid_until = None;
    }

    /// Lets a primary run without the lock until `until`: only for a cluster being
    /// bootstrapped, of which no other node can hold a copy. Outcomes of lock requests keep
    /// their order.
    pub fn grace(&mut self, until: Instant) {
        self.valid_until = Some(self.valid_until.map_or(until, |u| u.max(until)));
    }

    /// Whether we may run a writable primary right now.
    pub fn is_valid(&self) -> bool {
        self.valid_until.is_some_and(|u| Instant::now() < u)
    }

    /// When the hold runs out (if we hold it).
    pub fn valid_until(&self) -> Option<Instant> {
        self.valid_until
    }

    /// Time reserved to stop PostgreSQL before the lease can expire on the DCS.
    fn margin(ttl: Duration) -> Duration {
        (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(5))
    }
}

/// A parameter that waits for a restart: its running and configured values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRestart {
    /// Parameter name.
    pub name: String,
    /// The value PostgreSQL runs with.
    pub old: String,
    /// The value configured.
    pub new: String,
}

/// What the HA loop last saw and did, for the REST API and the timers.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The DCS view and when it was read.
    pub cluster: Option<(Arc<Cluster>, Instant)>,
    /// Epoch seconds of the last successful DCS read.
    pub dcs_last_seen: i64,
    /// PostgreSQL's state.
    pub pg_state: PgState,
    /// This node's role.
    pub role: Role,
    /// Dynamic configuration in force.
    pub dynamic: DynamicConfig,
    /// `Database system identifier`.
    pub system_id: Option<String>,
    /// When the loop last completed a cycle (`/liveness`).
    pub last_cycle: Option<Instant>,
    /// When the next HA cycle is due.
    pub next_cycle: Instant,
    /// Until when the renewal timer may renew the lock: the loop grants it each cycle its plan
    /// keeps the lock with a healthy (or starting) PostgreSQL, so a stuck loop lets it lapse.
    pub renew_allowed_until: Option<Instant>,
    /// A long action (clone, bootstrap) holds up the loop: keep the member key alive.
    pub busy: bool,
    /// Parameters waiting for a restart.
    pub pending_restart: Vec<PendingRestart>,
    /// The scheduled restart, if any.
    pub scheduled_restart: Option<ScheduledRestart>,
    /// The PostgreSQL status the loop read last, and when.
    pub pg_status: Option<(PgStatus, Instant)>,
    /// The post-promotion CHECKPOINT has not completed yet (`checkpoint_after_promote: false`).
    pub checkpoint_pending: bool,
}

/// Shared between tasks.
#[derive(Debug)]
pub struct Shared {
    lock: Mutex<LockClock>,
    /// Signalled whenever the lock clock changes; the lease guard thread waits on it.
    lock_changed: Condvar,
    snapshot: Mutex<Snapshot>,
    /// Wakes the HA loop at once (a REST request is waiting, PostgreSQL became ready).
    pub wake: tokio::sync::Notify,
    /// The local configuration in force; the HA loop swaps it on reload.
    config: std::sync::RwLock<Arc<Config>>,
    /// SIGHUP or `POST /reload` asked the loop to re-read the configuration.
    pub reload_requested: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Fresh state before the first cycle.
    pub fn new(config: Arc<Config>, dynamic: DynamicConfig) -> Shared {
        let ttl = dynamic.timing.ttl;
        Shared {
            config: std::sync::RwLock::new(config),
            reload_requested: std::sync::atomic::AtomicBool::new(false),
            lock: Mutex::new(LockClock::starting(Instant::now(), ttl)),
            lock_changed: Condvar::new(),
            snapshot: Mutex::new(Snapshot {
                cluster: None,
                dcs_last_seen: 0,
                pg_state: PgState::Stopped,
                role: Role::Uninitialized,
                dynamic,
                system_id: None,
                last_cycle: None,
                next_cycle: Instant::now(),
                renew_allowed_until: None,
                busy: false,
                pending_restart: Vec::new(),
                scheduled_restart: None,
                pg_status: None,
                checkpoint_pending: false,
            }),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// The local configuration in force.
    pub fn config(&self) -> Arc<Config> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the value is whole.
        Arc::clone(&self.config.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts a reloaded configuration in force for the REST API.
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The lock clock (a poisoned mutex only means a panic elsewhere; the data is plain).
    pub fn lock_clock(&self) -> MutexGuard<'_, LockClock> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// We no longer hold the lock, as a request sent at `sent` found (or we let it go).
    pub fn lose_lock(&self, sent: Instant) {
        self.lock_clock().lost(sent);
        self.lock_changed.notify_all();
    }

    /// A take or renewal of the lock sent at `sent` succeeded with the DCS's `ttl`.
    pub fn lock_renewed(&self, sent: Instant, ttl: u32) {
        self.lock_clock().renewed(sent, ttl);
        self.lock_changed.notify_all();
    }

    /// Lets the primary of a cluster being bootstrapped run without the lock for `window`.
    pub fn bootstrap_grace(&self, window: Duration) {
        self.lock_clock().grace(Instant::now() + window);
        self.lock_changed.notify_all();
    }

    /// Waits (blocking the thread) until the lock clock changes or `timeout` passes, and
    /// returns whether the hold is valid then: the lease guard thread's wait.
    pub fn wait_lock_change(&self, timeout: Duration) -> bool {
        let clock = self.lock_clock();
        let wait = clock
            .valid_until()
            .map(|u| u.saturating_duration_since(Instant::now()))
            .unwrap_or(timeout)
            .min(timeout);
        let (clock, _) = self
            .lock_changed
            .wait_timeout(clock, wait.max(Duration::from_millis(10)))
            .unwrap_or_else(|e| e.into_inner());
        clock.is_valid()
    }

    /// The snapshot.
    pub fn snap(&self) -> MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether we hold the leader lock: the last DCS view says so and our clock agrees.
    pub fn is_leader(&self, me: &str) -> bool {
        let held = self
            .snap()
            .cluster
            .as_ref()
            .is_some_and(|(c, _)| c.leader_name() == Some(me));
        held && self.lock_clock().is_valid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_clock_counts_from_the_send_time() {
        let start = Instant::now();
        let mut clock = LockClock::starting(start, 20);
        assert_eq!(clock.valid_until(), Some(start + Duration::from_secs(18)));
        let sent = start + Duration::from_secs(1);
        clock.renewed(sent, 20);
        assert!(clock.is_valid());
        assert_eq!(clock.valid_until(), Some(sent + Duration::from_secs(18)));
        // An older request answered late never changes a newer outcome.
        clock.renewed(sent - Duration::from_millis(500), 60);
        assert_eq!(clock.valid_until(), Some(sent + Duration::from_secs(18)));
        clock.lost(sent + Duration::from_secs(2));
        assert!(!clock.is_valid());
        clock.renewed(sent + Duration::from_secs(1), 20);
        assert!(
            !clock.is_valid(),
            "a renewal sent before the loss revived the lock"
        );
    }

    #[test]
    fn fencing_lands_before_the_lock_can_expire_on_the_dcs() {
        // The guard fences at sent + ttl - margin; SIGKILL follows after FENCE_GRACE at most.
        for ttl in [1, 5, 20, 30, 60, 3600] {
            let margin = LockClock::margin(Duration::from_secs(ttl));
            assert!(
                patroni_postgres::Postgresql::FENCE_GRACE * 2 <= margin,
                "ttl {ttl}: the fence's grace does not fit the margin {margin:?}"
            );
        }
    }

    #[test]
    fn a_lowered_ttl_shortens_the_hold_at_once() {
        // ttl 60 -> 20 (edit-config): the next renewal reports 20 and the hold ends 18 s after
        // it was sent, not 55 s after an older one.
        let mut clock = LockClock::starting(Instant::now(), 60);
        let t0 = Instant::now();
        clock.renewed(t0, 60);
        let t1 = t0 + Duration::from_secs(5);
        clock.renewed(t1, 20);
        assert_eq!(clock.valid_until(), Some(t1 + Duration::from_secs(18)));
    }
}
