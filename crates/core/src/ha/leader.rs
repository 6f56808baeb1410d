//! Rules for the lock holder whose PostgreSQL is not (yet) running: restart after a crash,
//! and give up the lock when it takes longer than `primary_start_timeout` while another member
//! could take over (docs/architecture.md, "Start supervision").

use super::{failover_possible, Decision, Gather, HaInput, Postgres};

/// We hold the lock and PostgreSQL is starting. The lock is kept (and renewed) while the start
/// is within `primary_start_timeout`; past it, PostgreSQL is stopped *before* the lock is
/// released, so a node still in crash recovery can never come up writable without it.
pub(super) fn holder_starting(input: &HaInput) -> Decision {
    let Postgres::Starting { for_secs, .. } = input.local.postgres else {
        return Decision::RenewLock;
    };
    let timeout = input.config.primary_start_timeout;
    if input.config.pause || for_secs < timeout {
        return Decision::Wait {
            message: if input.config.pause {
                "PostgreSQL is still starting up".into()
            } else {
                format!(
                    "PostgreSQL is still starting up, {} seconds until timeout",
                    timeout - for_secs
                )
            },
            renew: true,
        };
    }
    let Some(peers) = input.peers else {
        return Decision::Gather(Gather::Peers);
    };
    match failover_possible(
        peers,
        input.cluster.status.last_lsn,
        input.config.maximum_lag_on_failover,
    ) {
        Ok(()) => Decision::StopAndRelease {
            message: "stopped PostgreSQL because of startup timeout".into(),
        },
        Err(_) => Decision::Wait {
            message:
                "primary start has timed out, but continuing to wait because failover is not possible"
                    .into(),
            renew: true,
        },
    }
}

/// We hold the lock and PostgreSQL is stopped (not paused). A former primary is started again
/// as the primary, unless `primary_start_timeout` is 0 and another member can take over at once.
/// The start itself follows a successful renewal ([`super::after_renew`]).
pub(super) fn holder_stopped(input: &HaInput) -> Decision {
    let Postgres::Stopped { was_primary, .. } = input.local.postgres else {
        return Decision::RenewLock;
    };
    if was_primary && input.config.primary_start_timeout == 0 {
        let Some(peers) = input.peers else {
            return Decision::Gather(Gather::Peers);
        };
        if failover_possible(
            peers,
            input.cluster.status.last_lsn,
            input.config.maximum_lag_on_failover,
        )
        .is_ok()
        {
            return Decision::FailOverAfterCrash {
                message: "stopped PostgreSQL to fail over after a crash".into(),
            };
        }
    }
    Decision::RenewLock
}
