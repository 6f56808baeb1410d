//! State shared by the HA loop, the renewal timer and the REST API.
//!
//! The HA loop is the only writer of what PostgreSQL and the cluster look like; the REST API
//! reads snapshots. The [`LockClock`] is the node's own, monotonic idea of how long its hold
//! on the leader lock is valid, whatever the DCS says later.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::config::{Config, DynamicConfig};

/// How long our hold on the leader lock is valid by our own clock.
///
/// A renewal *sent* at `t` proves the lease lives until at least `t + ttl` on the DCS (the
/// server restarts the TTL when it receives the request, after `t`), so we count from the
/// send time and stop a margin before it runs out.
#[derive(Debug, Default)]
pub struct LockClock {
    valid_until: Option<Instant>,
}

impl LockClock {
    /// Records a successful acquire or renewal that was sent at `sent` with lease `ttl`.
    pub fn renewed(&mut self, sent: Instant, ttl: u32) {
        let ttl = Duration::from_secs(u64::from(ttl));
        let until = sent + ttl.saturating_sub(Self::margin(ttl));
        self.valid_until = Some(self.valid_until.map_or(until, |u| u.max(until)));
    }

    /// The lock was lost, released, or a renewal failed.
    pub fn clear(&mut self) {
        self.valid_until = None;
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

/// What the HA loop last saw and did, for the REST API and the timers.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The DCS view and when it was read.
    pub cluster: Option<(Arc<Cluster>, Instant)>,
    /// Epoch seconds of the last successful DCS read.
    pub dcs_last_seen: i64,
    /// PostgreSQL state as Patroni names it (`running`, `stopped`, `creating replica`, ...).
    pub pg_state: String,
    /// Internal role (`primary`, `replica`, `demoted`, `uninitialized`).
    pub role: String,
    /// Dynamic configuration in force.
    pub dynamic: DynamicConfig,
    /// `Database system identifier`.
    pub system_id: Option<String>,
    /// When the next HA cycle is due (for `/liveness`).
    pub next_cycle: Instant,
    /// When the loop last completed a cycle with a healthy PostgreSQL (renewals need it).
    pub healthy_at: Option<Instant>,
    /// A long action (clone, bootstrap) is running.
    pub busy: bool,
    /// Parameters waiting for a restart: (name, running value, configured value).
    pub pending_restart: Vec<(String, String, String)>,
    /// The scheduled restart, if any.
    pub scheduled_restart: Option<crate::ha::ScheduledRestart>,
    /// The PostgreSQL status the loop read last, and when.
    pub pg_status: Option<(patroni_postgres::PgStatus, Instant)>,
}

/// Shared between tasks.
#[derive(Debug)]
pub struct Shared {
    /// Our hold on the lock.
    pub lock: Mutex<LockClock>,
    /// The HA loop's last view.
    pub snapshot: Mutex<Snapshot>,
    /// PostgreSQL runs as a writable primary (set by the loop, cleared by whoever stops it).
    pub primary_running: std::sync::atomic::AtomicBool,
    /// Wakes the HA loop at once (a REST request is waiting).
    pub wake: tokio::sync::Notify,
    /// Wakes the lease guard when the lock clock changes (taken, renewed, lost).
    pub lock_changed: tokio::sync::Notify,
    /// The local configuration in force; the HA loop swaps it on reload.
    config: std::sync::RwLock<Arc<Config>>,
    /// SIGHUP or `POST /reload` asked the loop to re-read the configuration.
    pub reload_requested: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// The local configuration in force.
    pub fn config(&self) -> Arc<Config> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the value is whole.
        Arc::clone(&self.config.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts a reloaded configuration in force for the REST API.
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Fresh state before the first cycle.
    pub fn new(config: Arc<Config>, dynamic: DynamicConfig) -> Shared {
        Shared {
            config: std::sync::RwLock::new(config),
            reload_requested: std::sync::atomic::AtomicBool::new(false),
            lock: Mutex::new(LockClock::default()),
            snapshot: Mutex::new(Snapshot {
                cluster: None,
                dcs_last_seen: 0,
                pg_state: "stopped".into(),
                role: "uninitialized".into(),
                dynamic,
                system_id: None,
                next_cycle: Instant::now(),
                healthy_at: None,
                busy: false,
                pending_restart: Vec::new(),
                scheduled_restart: None,
                pg_status: None,
            }),
            primary_running: std::sync::atomic::AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            lock_changed: tokio::sync::Notify::new(),
        }
    }

    /// We no longer hold the lock: clear the clock and wake the lease guard at once.
    pub fn lose_lock(&self) {
        self.lock_clock().clear();
        self.lock_changed.notify_one();
    }

    /// A take or renewal of the lock sent at `sent` succeeded: extend the clock and let the
    /// lease guard sleep until the new deadline.
    pub fn lock_renewed(&self, sent: Instant, ttl: u32) {
        self.lock_clock().renewed(sent, ttl);
        self.lock_changed.notify_one();
    }

    /// The lock clock (a poisoned mutex only means a panic elsewhere; the data is plain).
    pub fn lock_clock(&self) -> std::sync::MutexGuard<'_, LockClock> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The snapshot.
    pub fn snap(&self) -> std::sync::MutexGuard<'_, Snapshot> {
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
        let mut clock = LockClock::default();
        assert!(!clock.is_valid());
        let sent = Instant::now();
        clock.renewed(sent, 20);
        assert!(clock.is_valid());
        assert_eq!(clock.valid_until(), Some(sent + Duration::from_secs(18)));
        // An old renewal answered late never shortens a newer one.
        clock.renewed(sent - Duration::from_secs(10), 20);
        assert_eq!(clock.valid_until(), Some(sent + Duration::from_secs(18)));
        clock.renewed(sent - Duration::from_secs(30), 20);
        clock.clear();
        assert!(!clock.is_valid());
    }
}
