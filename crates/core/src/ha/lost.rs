//! Rules for the moments the normal cycle cannot run: the DCS is out of reach, the daemon is
//! shutting down, and the lease guard's one question (docs/architecture.md, "Lease guard").

use super::Postgres;

/// What to do when the DCS could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcsLost {
    /// Nothing: we cannot prove anything, but PostgreSQL is not a primary.
    Nothing(String),
    /// Stop the primary (we cannot prove we hold the lock) and start it again as a replica
    /// following nobody, so reads keep being served.
    Demote(String),
}

/// The DCS could not be read. A primary demotes unless paused.
pub fn dcs_lost(postgres: &Postgres, paused: bool) -> DcsLost {
    let primary = matches!(
        postgres,
        Postgres::Running { primary: true, .. }
            | Postgres::Starting {
                as_primary: true,
                ..
            }
    );
    if primary && !paused {
        DcsLost::Demote("demoted self because DCS is not accessible and I was a leader".into())
    } else {
        DcsLost::Nothing("DCS is not accessible".into())
    }
}

/// What SIGTERM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnShutdown {
    /// Paused: PostgreSQL and the leader key are left as they are (upstream's
    /// `Leader key is not deleted and Postgresql is not stopped due paused state`).
    LeaveRunning,
    /// Stop PostgreSQL (fast) and, if we hold the lock, release it with the shutdown
    /// checkpoint as the last optime.
    StopAndRelease,
}

/// What the daemon does on SIGTERM.
pub fn on_shutdown(paused: bool) -> OnShutdown {
    if paused {
        OnShutdown::LeaveRunning
    } else {
        OnShutdown::StopAndRelease
    }
}

/// The lease guard's rule: stop PostgreSQL now when it may accept writes and our own clock no
/// longer proves we hold the lock. In maintenance mode nothing is stopped automatically, as in
/// Patroni (the operator asked for it).
pub fn should_fence(lock_valid: bool, may_be_writable: bool, paused: bool) -> bool {
    may_be_writable && !lock_valid && !paused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dcs_loss_demotes_only_an_unpaused_primary() {
        let primary = Postgres::Running {
            primary: true,
            timeline: 1,
            wal_position: 1,
        };
        let replica = Postgres::Running {
            primary: false,
            timeline: 1,
            wal_position: 1,
        };
        let starting_primary = Postgres::Starting {
            as_primary: true,
            for_secs: 3,
        };
        assert!(matches!(dcs_lost(&primary, false), DcsLost::Demote(_)));
        assert!(matches!(
            dcs_lost(&starting_primary, false),
            DcsLost::Demote(_)
        ));
        assert!(matches!(dcs_lost(&primary, true), DcsLost::Nothing(_)));
        assert!(matches!(dcs_lost(&replica, false), DcsLost::Nothing(_)));
        assert!(matches!(
            dcs_lost(&Postgres::Unreachable, false),
            DcsLost::Nothing(_)
        ));
    }

    #[test]
    fn shutdown_and_fencing() {
        assert_eq!(on_shutdown(true), OnShutdown::LeaveRunning);
        assert_eq!(on_shutdown(false), OnShutdown::StopAndRelease);
        let table = [
            // (lock valid, may be writable, paused) -> fence
            ((true, true, false), false),
            ((false, true, false), true),
            ((false, false, false), false),
            ((false, true, true), false),
        ];
        for ((valid, writable, paused), want) in table {
            assert_eq!(should_fence(valid, writable, paused), want);
        }
    }
}
