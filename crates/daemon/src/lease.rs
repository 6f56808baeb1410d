//! The two timers that guard the lock apart from the HA loop (docs/architecture.md, "Lease
//! guard"):
//!
//! * the renewal timer keeps the lock alive every `ttl/4` between HA cycles — but only while
//!   the loop keeps granting it (`renew_allowed_until`, given each cycle whose plan keeps the
//!   lock with a healthy or starting PostgreSQL), so a stuck loop lets the lock run out;
//! * the lease guard, on its own OS thread so neither a stuck task nor a starved runtime can
//!   delay it, stops PostgreSQL the moment it may accept writes while our own clock no longer
//!   proves we hold the lock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use patroni_core::dcs::Dcs;
use patroni_postgres::Postgresql;

use crate::state::Shared;

/// Keeps the lock (or, during a long action, our member key) alive between HA cycles.
pub async fn renewal_timer(dcs: Arc<dyn Dcs>, shared: Arc<Shared>, me: String) {
    loop {
        let ttl = shared.snap().dynamic.timing.ttl;
        tokio::time::sleep(Duration::from_millis(u64::from(ttl) * 250)).await;
        let (allowed, busy, leader) = {
            let s = shared.snap();
            let allowed = s.renew_allowed_until.is_some_and(|u| Instant::now() < u);
            let leader = s
                .cluster
                .as_ref()
                .is_some_and(|(c, _)| c.leader_name() == Some(me.as_str()));
            (allowed, s.busy, leader)
        };
        if leader && allowed {
            let sent = Instant::now();
            match dcs.renew_lock().await {
                Ok(Some(ttl)) => shared.lock_renewed(sent, ttl),
                Ok(None) => {
                    tracing::error!("the leader lock is not ours any more");
                    shared.lose_lock(sent);
                }
                // No proof either way: the clock runs out unless a later renewal succeeds.
                Err(e) => tracing::warn!("lock renewal failed: {e}"),
            }
        } else if busy && !leader {
            if let Err(e) = dcs.keepalive().await {
                tracing::debug!("member keepalive failed: {e}");
            }
        }
    }
}

/// Starts the lease guard on its own thread. A panic inside it fences PostgreSQL before the
/// thread ends; `gone` is dropped when it ends, so the daemon sees it and exits.
pub fn start_lease_guard(
    pg: Arc<Postgresql>,
    shared: Arc<Shared>,
    gone: tokio::sync::oneshot::Sender<()>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lease-guard".into())
        .spawn(move || {
            let _gone = gone;
            let guarded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                lease_guard(&pg, &shared)
            }));
            if guarded.is_err() {
                tracing::error!("the lease guard failed: fencing PostgreSQL");
                pg.fence();
            }
        })
}

/// CLOCK_BOOTTIME (it keeps counting through a suspend); `None` if the clock cannot be read.
fn boot_time() -> Option<Duration> {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
    Some(Duration::new(
        u64::try_from(ts.tv_sec()).ok()?,
        u32::try_from(ts.tv_nsec()).ok()?,
    ))
}

/// Stops a writable PostgreSQL as soon as our hold on the lock runs out by our own clock.
fn lease_guard(pg: &Postgresql, shared: &Shared) {
    let mut last = (Instant::now(), boot_time());
    loop {
        // Wakes when the clock changes or runs out, and at least every 500 ms, so that a
        // PostgreSQL that became writable without the lock (promoted by hand) is seen too.
        let mut valid = shared.wait_lock_change(Duration::from_millis(500));
        let now = (Instant::now(), boot_time());
        if let (Some(before), Some(after)) = (last.1, now.1) {
            // The lock clock is monotonic, which stops while the machine is suspended; the
            // DCS's lease does not. A gap between the two clocks is a suspend: the lock may
            // have expired meanwhile, so it counts as lost until a renewal proves otherwise.
            let suspended = after
                .saturating_sub(before)
                .saturating_sub(now.0.duration_since(last.0));
            if suspended > Duration::from_secs(1) {
                tracing::error!("the machine was suspended for {suspended:?}: the leader lock may have expired meanwhile");
                shared.lose_lock(now.0);
                valid = false;
            }
        }
        last = now;
        let paused = shared.snap().dynamic.pause;
        if patroni_core::ha::should_fence(valid, pg.may_be_writable(), paused) {
            pg.fence();
            // After the fence: nothing, not even a stuck log writer, may delay it.
            tracing::error!(
                "leader lock expired by our own clock before a renewal succeeded: PostgreSQL stopped"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patroni_core::cluster::{Cluster, KeyValue};
    use patroni_core::config::{Config, DynamicConfig};
    use patroni_dcs_conformance::memory::MemoryStore;

    fn dynamic(ttl: u32) -> DynamicConfig {
        DynamicConfig::from_value(
            &serde_json::json!({"ttl": ttl, "loop_wait": 2, "retry_timeout": 5}),
        )
        .0
    }

    /// `edit-config ttl 60 -> 20` while the renewal timer sleeps: its next renewal counts with
    /// the ttl the DCS applied (20), not the one it read before sleeping (60).
    #[tokio::test(start_paused = true)]
    async fn a_lowered_ttl_is_what_the_next_renewal_counts_with() {
        let store = MemoryStore::new();
        let dcs = Arc::new(store.client("/service/t/", "pg1", 60));
        assert_eq!(
            dcs.attempt_to_acquire_leader().await.ok().flatten(),
            Some(60)
        );
        let shared = Arc::new(Shared::new(Arc::new(Config::default()), dynamic(60)));
        {
            let mut s = shared.snap();
            let c = Cluster::from_keys(&[KeyValue {
                key: "leader".into(),
                value: "pg1".into(),
                version: 1,
                session: None,
            }]);
            s.cluster = Some((Arc::new(c), Instant::now()));
            s.renew_allowed_until = Some(Instant::now() + Duration::from_secs(3600));
        }
        let timer = tokio::spawn(renewal_timer(
            Arc::clone(&dcs) as Arc<dyn Dcs>,
            Arc::clone(&shared),
            "pg1".into(),
        ));
        // Let the timer read ttl 60 and go to sleep for 15 s.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        dcs.set_ttl(20);
        shared.snap().dynamic = dynamic(20);
        tokio::time::sleep(Duration::from_secs(16)).await;
        timer.abort();
        let until = shared.lock_clock().valid_until().expect("renewed");
        assert!(
            until <= Instant::now() + Duration::from_secs(20),
            "the renewal after lowering the ttl counts {:?} ahead",
            until.saturating_duration_since(Instant::now())
        );
    }
}
