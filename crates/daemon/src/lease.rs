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

/// Stops a writable PostgreSQL as soon as our hold on the lock runs out by our own clock.
fn lease_guard(pg: &Postgresql, shared: &Shared) {
    loop {
        // Wakes when the clock changes or runs out, and at least every 500 ms, so that a
        // PostgreSQL that became writable without the lock (promoted by hand) is seen too.
        let valid = shared.wait_lock_change(Duration::from_millis(500));
        let paused = shared.snap().dynamic.pause;
        if patroni_core::ha::should_fence(valid, pg.may_be_writable(), paused) {
            tracing::error!(
                "leader lock expired by our own clock before a renewal succeeded: stopping PostgreSQL"
            );
            pg.fence();
        }
    }
}
