//! Rules for a node that does not hold the lock: start or keep PostgreSQL as a replica of the
//! leader, but only once the leader itself has told us our WAL is on its history; otherwise
//! rewind, re-clone or stay stopped as the configuration allows (docs/architecture.md,
//! "Divergence").

use super::{Decision, Divergence, Gather, HaInput, Postgres};

/// PostgreSQL is stopped and we do not hold the lock.
pub(super) fn start_stopped(input: &HaInput) -> Decision {
    let cluster = input.cluster;
    let Some(leader) = cluster
        .leader_name()
        .filter(|l| *l != input.local.name.as_str())
    else {
        // With nobody to ask, what the last leader said still holds: WAL that diverged from
        // the cluster's history must not come back as a replica, nor win a leader race.
        if let Divergence::Diverged { leader } | Divergence::RewindFailed { leader } =
            &input.local.divergence
        {
            return Decision::KeepStopped {
                message: format!(
                    "our WAL diverged from the last leader {leader}: PostgreSQL stays stopped with \
                     its data kept until a leader can repair it or `patronictl reinit` clones it again"
                ),
            };
        }
        return Decision::StartReplica {
            follow: None,
            message: "starting as a secondary".into(),
        };
    };
    let Postgres::Stopped { was_primary, clean } = input.local.postgres else {
        return Decision::Gather(Gather::LeaderTimeline {
            leader: leader.to_string(),
        });
    };
    let divergence = current(input, leader);
    // Before a start the leader is always asked again (our WAL does not move while stopped,
    // but the leader's history may have): a remembered answer only decides a repair.
    let fine_before = matches!(divergence, Divergence::Fine { .. } | Divergence::Unchecked);
    if input.leader_check.is_none() && (fine_before || check_needed(input, leader, divergence)) {
        if was_primary && !clean {
            // Where a crashed primary's WAL ends is only known once crash recovery ran.
            return Decision::CrashRecovery {
                message: "doing crash recovery in a single user mode".into(),
            };
        }
        return Decision::Gather(Gather::LeaderTimeline {
            leader: leader.to_string(),
        });
    }
    match divergence {
        Divergence::Fine { .. } => Decision::StartReplica {
            follow: Some(leader.to_string()),
            message: "starting as a secondary".into(),
        },
        Divergence::Diverged { .. } | Divergence::RewindFailed { .. } => repair(input, leader),
        Divergence::Undecided { reason, .. } => Decision::Wait {
            message: format!(
                "not starting yet: cannot check our timeline against leader {leader}: {reason}"
            ),
            renew: false,
        },
        Divergence::Unchecked => Decision::Gather(Gather::LeaderTimeline {
            leader: leader.to_string(),
        }),
    }
}

/// A running replica with a leader to follow. It keeps streaming while the check is pending
/// (a replica never accepts writes), and is stopped only once the leader confirmed divergence.
pub(super) fn follow_leader(input: &HaInput, leader: &str) -> Decision {
    let me = &input.local.name;
    let divergence = current(input, leader);
    if check_needed(input, leader, divergence) && input.leader_check.is_none() {
        return Decision::Gather(Gather::LeaderTimeline {
            leader: leader.to_string(),
        });
    }
    match divergence {
        Divergence::Diverged { .. } | Divergence::RewindFailed { .. } => repair(input, leader),
        _ => Decision::Follow {
            leader: Some(leader.to_string()),
            demote: false,
            message: format!(
                "no action. I am ({me}), a secondary, and following a leader ({leader})"
            ),
        },
    }
}

/// The divergence state to act on: this cycle's check, else the remembered one if it is
/// about the same leader.
fn current<'a>(input: &'a HaInput, leader: &str) -> &'a Divergence {
    let state = input.leader_check.unwrap_or(&input.local.divergence);
    if state.leader() == Some(leader) {
        state
    } else {
        &Divergence::Unchecked
    }
}

/// Whether to ask the leader again: never asked (or a different leader), the last attempt got
/// no answer, or our timeline is behind the leader's (we may have received more WAL of the old
/// timeline since the last answer, which is exactly how an old primary's WAL diverges).
fn check_needed(input: &HaInput, leader: &str, divergence: &Divergence) -> bool {
    let leader_tl = input
        .cluster
        .member(leader)
        .and_then(|m| m.timeline())
        .unwrap_or(0);
    match divergence {
        Divergence::Unchecked | Divergence::Undecided { .. } => true,
        Divergence::Fine { timeline, .. } => {
            let known = leader_tl.max(*timeline);
            *timeline < leader_tl || input.local.timeline().is_some_and(|ours| ours < known)
        }
        Divergence::Diverged { .. } | Divergence::RewindFailed { .. } => false,
    }
}

/// Our WAL diverged from the leader's (or rewinding failed): what the configuration allows.
/// The data directory is removed only when the user asked for it.
fn repair(input: &HaInput, leader: &str) -> Decision {
    let policy = input.local.rewind;
    let rewind_failed = matches!(input.local.divergence, Divergence::RewindFailed { .. })
        && input.local.divergence.leader() == Some(leader);
    if !rewind_failed && policy.can_rewind {
        let checkpointed = input
            .cluster
            .member(leader)
            .and_then(|m| m.data.get("checkpoint_after_promote"))
            .and_then(|v| v.as_bool())
            != Some(false);
        if !checkpointed {
            return Decision::Wait {
                message: format!("Waiting for checkpoint on {leader} before rewind"),
                renew: false,
            };
        }
        return Decision::Rewind {
            from: leader.to_string(),
            message: format!("running pg_rewind from {leader}"),
        };
    }
    if policy.remove_on_diverged || (rewind_failed && policy.remove_on_rewind_failure) {
        return Decision::RemoveDataDirectory {
            message: "reinitializing due to diverged timelines".into(),
        };
    }
    let why = if rewind_failed {
        "pg_rewind failed and remove_data_directory_on_rewind_failure is not set"
    } else {
        "use_pg_rewind is off (or impossible) and remove_data_directory_on_diverged_timelines is not set"
    };
    Decision::KeepStopped {
        message: format!(
            "our WAL diverged from leader {leader} and {why}: PostgreSQL stays stopped with its data \
             kept; run `patronictl reinit` to clone this member again"
        ),
    }
}
