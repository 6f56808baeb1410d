//! Two timers that run beside the HA loop, so failover follows the lease and not only the
//! `loop_wait` tick:
//!
//! * the renewal timer keeps this node's lease alive every `ttl/4` — but only while the HA
//!   loop is alive and saw a healthy PostgreSQL recently, so a stuck loop lets the lease run
//!   out and another node takes over;
//! * the lease guard stops a writable primary the moment our own clock says the lock may have
//!   expired, whatever the DCS says later (the safety rule of DEVELOPERS.md).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use patroni_core::dcs::Dcs;
use patroni_postgres::{Postgresql, StopMode};

use crate::state::Shared;

/// Keeps the lease alive between HA cycles.
pub async fn renewal_timer(dcs: Arc<dyn Dcs>, shared: Arc<Shared>, me: String) {
    loop {
        let (ttl, loop_wait) = {
            let s = shared.snap();
            (s.dynamic.timing.ttl, s.dynamic.timing.loop_wait)
        };
        tokio::time::sleep(Duration::from_millis(u64::from(ttl) * 250)).await;
        let (live, busy) = {
            let s = shared.snap();
            // The loop is live if it finished a healthy cycle recently; a non-leader busy
            // cloning may keep its member key too.
            let fresh = s
                .healthy_at
                .is_some_and(|t| t.elapsed() < Duration::from_secs(u64::from(loop_wait) * 2 + 2));
            (fresh, s.busy)
        };
        let leader = shared
            .snap()
            .cluster
            .as_ref()
            .is_some_and(|(c, _)| c.leader_name() == Some(me.as_str()));
        if !(live || (busy && !leader)) {
            continue;
        }
        let sent = Instant::now();
        match dcs.keepalive().await {
            Ok(true) if leader && live => shared.lock_renewed(sent, dcs.enforced_ttl(ttl)),
            Ok(true) => {}
            Ok(false) => {
                if leader {
                    shared.lose_lock();
                }
            }
            Err(e) => tracing::debug!("lease keepalive failed: {e}"),
        }
    }
}

/// Stops a writable primary as soon as our hold on the lock runs out by our own clock.
pub async fn lease_guard(pg: Arc<Postgresql>, shared: Arc<Shared>) {
    loop {
        // Sleep until our clock runs out, or until it changes (taken, renewed, lost): no
        // polling while nothing can change.
        let until = shared.lock_clock().valid_until();
        let wait = match until {
            Some(u) => u.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
            _ = shared.lock_changed.notified() => {}
        }
        if !shared.primary_running.load(Ordering::SeqCst) || shared.lock_clock().is_valid() {
            continue;
        }
        // Maintenance mode: nothing is demoted automatically, as in Patroni (the operator
        // asked for it); the loop keeps renewing the lock while it can.
        if shared.snap().dynamic.pause {
            continue;
        }
        if !pg.is_running() {
            shared.primary_running.store(false, Ordering::SeqCst);
            continue;
        }
        tracing::error!(
            "leader lock expired by our own clock before a renewal succeeded: stopping the primary"
        );
        shared.primary_running.store(false, Ordering::SeqCst);
        if let Err(e) = pg.stop(StopMode::Immediate, Duration::from_secs(5)).await {
            tracing::error!("failed to stop PostgreSQL: {e}");
        }
    }
}
