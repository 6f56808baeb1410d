//! The ordered rules of one HA cycle (ha-loop.md §2–§3) as pure functions.

use super::{is_healthiest, Action, DataDir, Decision, DemoteMode, HaInput, LocalState, Postgres};

/// Decides what this node does in this cycle.
pub fn decide(input: &HaInput) -> Decision {
    let local = input.local;
    let cluster = input.cluster;
    let me = local.name.as_str();
    let i_hold_lock = cluster.leader_name() == Some(me);
    let paused = input.config.pause;

    match &local.data_dir {
        DataDir::Empty => {
            if i_hold_lock {
                return Decision::ReleaseLock {
                    message:
                        "released leader key voluntarily as data dir empty and currently leader"
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
            if let Some(leader) = cluster.leader_member().filter(|m| m.conn_url().is_some()) {
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
                return Decision::Clone {
                    from: source.name.clone(),
                    message,
                };
            }
            return Decision::Wait {
                message: "waiting for leader to bootstrap".into(),
                renew: false,
            };
        }
        DataDir::Invalid => {
            return Decision::Wait {
                message: "data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize".into(),
                renew: false,
            };
        }
        DataDir::Initialized { system_id } => {
            if let Some(dcs_id) = cluster.system_id() {
                if dcs_id != system_id {
                    return Decision::Fatal(format!(
                        "system ID mismatch, node {me} belongs to a different cluster: {dcs_id} != {system_id}"
                    ));
                }
            }
        }
    }

    match local.postgres {
        Postgres::Starting => Decision::Wait {
            message: "PostgreSQL is still starting up".into(),
            renew: i_hold_lock,
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
        Postgres::Stopped { was_primary } => {
            if i_hold_lock {
                if was_primary {
                    Decision::Start {
                        as_primary: true,
                        follow: None,
                        message: "starting primary after failure".into(),
                    }
                } else {
                    Decision::Start {
                        as_primary: false,
                        follow: None,
                        message: "starting as readonly because i had the session lock".into(),
                    }
                }
            } else {
                Decision::Start {
                    as_primary: false,
                    follow: cluster.leader_name().map(str::to_string),
                    message: "starting as a secondary".into(),
                }
            }
        }
        Postgres::Running { primary, .. } => {
            if i_hold_lock {
                if paused && !primary {
                    return Decision::ReleaseLock {
                        message: "removed leader lock because postgres is not running as primary"
                            .into(),
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
                        message: "demoting self because I do not have the lock and I was a leader"
                            .into(),
                    }
                } else {
                    Decision::Follow {
                        leader: Some(leader.to_string()),
                        demote: false,
                        message: format!("no action. I am ({me}), a secondary, and following a leader ({leader})"),
                    }
                };
            }
            // Nobody holds the lock: the leader race. Paused, only a running primary (or the
            // named candidate of a manual failover) takes the lock.
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
                return Decision::PollPeers;
            }
            if local.nofailover && !primary {
                return Decision::Follow {
                    leader: None,
                    demote: false,
                    message: "following a different leader because I am not allowed to promote"
                        .into(),
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
                    message: "following a different leader because i am not the healthiest node"
                        .into(),
                },
            }
        }
    }
}

/// What to do after trying to renew the lock we hold (ha-loop.md §3.1).
pub fn after_renew(renewed: bool, local: &LocalState, paused: bool) -> Action {
    let me = &local.name;
    let primary = local.is_running_primary();
    match (renewed, primary) {
        (false, true) if paused => Action::NoAction(
            "continue to run as primary after failing to update leader lock in DCS".into(),
        ),
        (true, true) => {
            Action::NoAction(format!("no action. I am ({me}), the leader with the lock"))
        }
        (true, false) => {
            Action::Promote("promoted self to leader because I had the session lock".into())
        }
        (false, true) => Action::Demote {
            mode: DemoteMode::ImmediateNoLock,
            message: "demoted self because failed to update leader lock in DCS".into(),
        },
        (false, false) => {
            Action::NoAction("not promoting because failed to update leader lock in DCS".into())
        }
    }
}

/// What to do after trying to take the free lock (ha-loop.md §3.2).
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
