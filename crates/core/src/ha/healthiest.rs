//! "Am I the healthiest node?": the leader race's health comparison over the other members'
//! `/patroni` answers (docs/architecture.md, "Leader race").

use super::{HaInput, Postgres};

/// Whether this node may take the free leader lock. `Err` carries the reason, logged as
/// upstream logs it (`Wal position of X is ahead of my wal position`, ...).
///
/// `input.peers` must hold the polled answers of the other members; unreachable members are
/// simply absent, as in Patroni.
pub fn is_healthiest(input: &HaInput) -> Result<(), String> {
    let local = input.local;
    let cluster = input.cluster;
    let (primary, timeline, my_lsn) = match local.postgres {
        Postgres::Running {
            primary,
            timeline,
            wal_position,
        } => (primary, timeline, wal_position),
        Postgres::Starting { .. } => return Err("PostgreSQL is still starting".into()),
        Postgres::Unreachable => return Err("PostgreSQL does not answer our queries".into()),
        Postgres::Stopped { .. } => return Err("PostgreSQL is not running".into()),
    };
    if cluster
        .failover
        .as_ref()
        .and_then(|f| f.candidate.as_deref())
        == Some(local.name.as_str())
    {
        // The named candidate of a switchover or manual failover takes the lock even if lagging.
        return Ok(());
    }
    if primary {
        let cluster_tl = cluster.timeline();
        if timeline < cluster_tl {
            return Err(format!(
                "My timeline {timeline} is behind last known cluster timeline {cluster_tl}"
            ));
        }
        return Ok(());
    }
    if local.nofailover {
        return Err("I am not allowed to become primary (nofailover)".into());
    }
    if let Some(failover) = &cluster.failover {
        if let Some(candidate) = &failover.candidate {
            let healthy_candidate = input
                .peers
                .unwrap_or_default()
                .iter()
                .any(|p| &p.name == candidate && !p.nofailover && !p.watchdog_failed);
            if healthy_candidate {
                return Err(format!("failover: to {candidate}, i am {}", local.name));
            }
        }
    }
    let leader_lsn = cluster.status.last_lsn;
    if leader_lsn > my_lsn && leader_lsn - my_lsn > input.config.maximum_lag_on_failover {
        return Err(format!(
            "My wal position exceeds maximum replication lag ({} > {})",
            leader_lsn - my_lsn,
            input.config.maximum_lag_on_failover
        ));
    }
    if input.config.check_timeline && timeline < cluster.timeline() {
        return Err(format!(
            "My timeline {timeline} is behind last known cluster timeline {}",
            cluster.timeline()
        ));
    }
    for peer in input.peers.unwrap_or_default() {
        if peer.name == local.name || peer.nofailover || peer.watchdog_failed {
            continue;
        }
        if peer.is_primary {
            return Err(format!("Primary ({}) is still alive", peer.name));
        }
        if peer.wal_position > my_lsn {
            return Err(format!(
                "Wal position of {} is ahead of my wal position",
                peer.name
            ));
        }
        if peer.wal_position == my_lsn && peer.failover_priority > local.failover_priority {
            return Err(format!(
                "{} has equally tolerable WAL position and priority {}, while this node has priority {}",
                peer.name, peer.failover_priority, local.failover_priority
            ));
        }
    }
    Ok(())
}
