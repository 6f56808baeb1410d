//! The ordered rules of one HA cycle: the data directory first, then what PostgreSQL is doing,
//! then who holds the lock (docs/architecture.md, "One cycle").

use super::follow::{follow_leader, start_stopped};
use super::leader::{holder_starting, holder_stopped};
use super::{
    is_healthiest, Action, DataDir, Decision, DemoteMode, Gather, HaInput, LocalState, Postgres,
    RaceBackoff, PROMOTE_RETRY_SECS,
};

/// Decides what this node does in this cycle.
pub fn decide(input: &HaInput) -> Decision {
    if let Some(d) = data_dir_rules(input) {
        return d;
    }
    let local = input.local;
    let cluster = input.cluster;
    let i_hold_lock = cluster.leader_name() == Some(local.name.as_str());
    let paused = input.config.pause;

    match local.postgres {
        Postgres::Starting { as_primary, .. } => {
            if i_hold_lock {
                holder_starting(input)
            } else if as_primary && !paused {
                // It would open writable without the lock: stop it before it does.
                Decision::Follow {
                    leader: cluster.leader_name().map(str::to_string),
                    demote: true,
                    message: "stopped PostgreSQL while starting up because leader key was lost"
                        .into(),
                }
            } else {
                Decision::Wait {
                    message: "PostgreSQL is still starting up".into(),
                    renew: false,
                }
            }
        }
        Postgres::Unreachable => Decision::Wait {
            // No renewal: the lease guard stops a primary we cannot see once the lock runs out.
            message: "Error communicating with PostgreSQL. Will try again later".into(),
            renew: false,
        },
        // In maintenance mode PostgreSQL is never started (or failed over) automatically.
        Postgres::Stopped { .. } if paused => {
            if i_hold_lock {
                Decision::ReleaseLock {
                    message: "removed leader lock because postgres is not running".into(),
                }
            } else {
                Decision::Wait {
                    message: "postgres is not running".into(),
                    renew: false,
                }
            }
        }
        Postgres::Stopped { .. } if i_hold_lock => holder_stopped(input),
        Postgres::Stopped { .. } => start_stopped(input),
        Postgres::Running { primary, .. } => running(input, primary, i_hold_lock),
    }
}

/// Rules about the data directory itself (empty, foreign, unreadable).
fn data_dir_rules(input: &HaInput) -> Option<Decision> {
    let local = input.local;
    let cluster = input.cluster;
    let me = local.name.as_str();
    let i_hold_lock = cluster.leader_name() == Some(me);
    match &local.data_dir {
        DataDir::Empty => Some(empty_data_dir(input, i_hold_lock)),
        DataDir::Invalid => Some(Decision::Wait {
            message: "data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize".into(),
            renew: false,
        }),
        // No renewal: a leader whose data directory cannot be read is not healthy; the lease
        // guard stops its PostgreSQL when the lock runs out.
        DataDir::Inaccessible(error) => Some(Decision::Wait {
            message: format!("data directory is not accessible: {error}"),
            renew: false,
        }),
        DataDir::Initialized { system_id } => {
            let dcs_id = cluster.system_id()?;
            if dcs_id == system_id {
                return None;
            }
            let mismatch = format!(
                "system ID mismatch, node {me} belongs to a different cluster: {dcs_id} != {system_id}"
            );
            // In pause nothing stops: upstream warns and lets the lock go if it held it.
            Some(match (input.config.pause, i_hold_lock) {
                (false, _) => Decision::Fatal(mismatch),
                (true, true) => Decision::ReleaseLock {
                    message: "released leader key voluntarily due to the system ID mismatch"
                        .into(),
                },
                (true, false) => Decision::Wait {
                    message: mismatch,
                    renew: false,
                },
            })
        }
    }
}

fn empty_data_dir(input: &HaInput, i_hold_lock: bool) -> Decision {
    let local = input.local;
    let cluster = input.cluster;
    let me = local.name.as_str();
    if i_hold_lock {
        return Decision::ReleaseLock {
            message: "released leader key voluntarily as data dir empty and currently leader"
                .into(),
        };
    }
    if cluster.is_unlocked()
        && cluster.initialize.is_none()
        && !local.nofailover
        && local.can_bootstrap
    {
        return Decision::RaceBootstrap;
    }
    let Some(leader) = cluster.leader_member().filter(|m| m.conn_url().is_some()) else {
        return Decision::Wait {
            message: "waiting for leader to bootstrap".into(),
            renew: false,
        };
    };
    let source = cluster
        .members
        .iter()
        .find(|m| {
            m.name != me
                && m.name != leader.name
                && m.tags().get("clonefrom").and_then(|v| v.as_bool()) == Some(true)
                && m.state() == "running"
        })
        .unwrap_or(leader);
    let message = if source.name == leader.name {
        format!("trying to bootstrap from leader '{}'", leader.name)
    } else {
        format!("trying to bootstrap from replica '{}'", source.name)
    };
    Decision::Clone {
        from: source.name.clone(),
        message,
    }
}

fn running(input: &HaInput, primary: bool, i_hold_lock: bool) -> Decision {
    let local = input.local;
    let cluster = input.cluster;
    let me = local.name.as_str();
    let paused = input.config.pause;
    if i_hold_lock {
        if paused && !primary {
            return Decision::ReleaseLock {
                message: "removed leader lock because postgres is not running as primary".into(),
            };
        }
        return Decision::RenewLock;
    }
    if let Some(leader) = cluster.leader_name() {
        return if primary && paused {
            Decision::Wait {
                message: "continue to run as primary without lock".into(),
                renew: false,
            }
        } else if primary {
            Decision::Follow {
                leader: Some(leader.to_string()),
                demote: true,
                message: "demoting self because I do not have the lock and I was a leader".into(),
            }
        } else {
            follow_leader(input, leader)
        };
    }
    leader_race(input, primary, me)
}

/// Nobody holds the lock. Paused, only a running primary (or the named candidate of a manual
/// failover) takes it.
fn leader_race(input: &HaInput, primary: bool, me: &str) -> Decision {
    let local = input.local;
    let cluster = input.cluster;
    let paused = input.config.pause;
    let named_candidate = cluster
        .failover
        .as_ref()
        .and_then(|f| f.candidate.as_deref())
        == Some(me);
    if paused && !primary && !named_candidate {
        return Decision::Follow {
            leader: None,
            demote: false,
            message: format!("no action. I am ({me})"),
        };
    }
    if !primary && !local.nofailover && input.peers.is_none() {
        return Decision::Gather(Gather::Peers);
    }
    if let (Some(backoff), false) = (local.race_backoff, primary) {
        let message = match backoff {
            RaceBackoff::PrePromoteFailed => "backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily",
            RaceBackoff::FailedOverAfterCrash => "backoff: skip leader race after releasing the lock to fail over after a crash",
        };
        return Decision::Follow {
            leader: None,
            demote: false,
            message: message.into(),
        };
    }
    if local.nofailover && !primary {
        return Decision::Follow {
            leader: None,
            demote: false,
            message: "following a different leader because I am not allowed to promote".into(),
        };
    }
    match is_healthiest(input) {
        Ok(()) => Decision::AcquireLock,
        Err(_) if primary => Decision::Follow {
            leader: None,
            demote: true,
            message: "demoting self because i am not the healthiest node".into(),
        },
        Err(_) => Decision::Follow {
            leader: None,
            demote: false,
            message: "following a different leader because i am not the healthiest node".into(),
        },
    }
}

/// What to do after trying to renew the lock we hold.
pub fn after_renew(renewed: bool, local: &LocalState, paused: bool) -> Action {
    let me = &local.name;
    match (renewed, &local.postgres) {
        (true, Postgres::Running { primary: true, .. }) => {
            Action::NoAction(format!("no action. I am ({me}), the leader with the lock"))
        }
        (true, Postgres::Running { primary: false, .. }) => match local.promoting_for {
            // Asked already: PostgreSQL is finishing recovery; ask again only if it never acts.
            Some(secs) if secs < PROMOTE_RETRY_SECS => {
                Action::NoAction(format!("no action. I am ({me}), the leader with the lock"))
            }
            _ => Action::Promote("promoted self to leader because I had the session lock".into()),
        },
        (true, Postgres::Stopped { was_primary, .. }) => Action::Start {
            as_primary: *was_primary,
            message: if *was_primary {
                "starting primary after failure".into()
            } else {
                "starting as readonly because i had the session lock".into()
            },
        },
        (true, _) => Action::NoAction(format!("no action. I am ({me}), the leader with the lock")),
        (false, Postgres::Running { primary: true, .. }) if paused => Action::NoAction(
            "continue to run as primary after failing to update leader lock in DCS".into(),
        ),
        (false, Postgres::Running { primary: true, .. }) => Action::Demote {
            mode: DemoteMode::ImmediateNoLock,
            message: "demoted self because failed to update leader lock in DCS".into(),
        },
        (false, _) => {
            Action::NoAction("not promoting because failed to update leader lock in DCS".into())
        }
    }
}

/// What to do after trying to take the free lock.
pub fn after_acquire(acquired: bool, local: &LocalState) -> Action {
    let primary = local.is_running_primary();
    match (acquired, primary) {
        (true, true) => Action::NoAction("acquired session lock as a leader".into()),
        (true, false) => {
            Action::Promote("promoted self to leader by acquiring session lock".into())
        }
        (false, true) => Action::Demote {
            mode: DemoteMode::ImmediateNoLock,
            message: "demoted self after trying and failing to obtain lock".into(),
        },
        (false, false) => Action::Follow {
            leader: None,
            message: "following new leader after trying and failing to obtain lock".into(),
        },
    }
}
