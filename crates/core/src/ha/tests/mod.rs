//! Decision tables for the HA rules: each row is a situation and the decision Patroni makes.

mod divergence;
mod start;

use super::*;
use crate::cluster::{Cluster, KeyValue};
use crate::config::DynamicConfig;
use crate::peer::PeerStatus;

const SYSID: &str = "7711457749166068220";

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
        version: 1,
        session: None,
    }
}

fn member(name: &str, role: &str) -> KeyValue {
    kv(
        &format!("members/{name}"),
        &format!(
            r#"{{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"{role}"}}"#
        ),
    )
}

/// A cluster with `initialize`, the given leader (if any), members pg1..pg3 and a status optime.
fn cluster(leader: Option<&str>, optime: u64) -> Cluster {
    let mut keys = vec![
        kv("initialize", SYSID),
        kv("status", &format!(r#"{{"optime":{optime}}}"#)),
    ];
    for name in ["pg1", "pg2", "pg3"] {
        keys.push(member(
            name,
            if Some(name) == leader {
                "primary"
            } else {
                "replica"
            },
        ));
    }
    if let Some(l) = leader {
        keys.push(kv("leader", l));
    }
    Cluster::from_keys(&keys)
}

fn replica(lsn: u64) -> LocalState {
    LocalState {
        name: "pg1".into(),
        data_dir: DataDir::Initialized {
            system_id: SYSID.into(),
        },
        postgres: Postgres::Running {
            primary: false,
            timeline: 1,
            wal_position: lsn,
        },
        nofailover: false,
        failover_priority: 1,
        can_bootstrap: true,
        promoting_for: None,
        divergence: Divergence::Fine {
            leader: "pg2".into(),
            timeline: 1,
        },
        rewind: RewindPolicy::default(),
        race_backoff: None,
    }
}

fn primary() -> LocalState {
    LocalState {
        postgres: Postgres::Running {
            primary: true,
            timeline: 1,
            wal_position: 100,
        },
        ..replica(100)
    }
}

fn peer(name: &str, lsn: u64) -> PeerStatus {
    PeerStatus {
        name: name.into(),
        is_primary: false,
        wal_position: lsn,
        timeline: Some(1),
        nofailover: false,
        failover_priority: 1,
        watchdog_failed: false,
    }
}

fn run(cluster: &Cluster, local: &LocalState, peers: Option<&[PeerStatus]>) -> Decision {
    let config = DynamicConfig::default();
    decide(&HaInput {
        cluster,
        config: &config,
        local,
        peers,
        leader_check: None,
    })
}

fn stopped(was_primary: bool, clean: bool) -> LocalState {
    LocalState {
        postgres: Postgres::Stopped { was_primary, clean },
        ..replica(0)
    }
}

#[test]
fn bootstrap_race() {
    let empty = LocalState {
        data_dir: DataDir::Empty,
        postgres: Postgres::Stopped {
            was_primary: false,
            clean: true,
        },
        ..replica(0)
    };
    // Nobody has initialised the cluster: race for `initialize`.
    assert_eq!(
        run(&Cluster::default(), &empty, None),
        Decision::RaceBootstrap
    );
    // Lost the race, the winner is still running initdb (`initialize` = ""): wait.
    let racing = Cluster::from_keys(&[kv("initialize", "")]);
    assert_eq!(
        run(&racing, &empty, None),
        Decision::Wait {
            message: "waiting for leader to bootstrap".into(),
            renew: false
        }
    );
    // The winner holds the lock: clone from it.
    assert_eq!(
        run(&cluster(Some("pg2"), 0), &empty, None),
        Decision::Clone {
            from: "pg2".into(),
            message: "trying to bootstrap from leader 'pg2'".into()
        }
    );
    // No bootstrap section, or nofailover: never initialise a cluster.
    let no_section = LocalState {
        can_bootstrap: false,
        ..empty.clone()
    };
    assert!(matches!(
        run(&Cluster::default(), &no_section, None),
        Decision::Wait { .. }
    ));
    let nofailover = LocalState {
        nofailover: true,
        ..empty
    };
    assert!(matches!(
        run(&Cluster::default(), &nofailover, None),
        Decision::Wait { .. }
    ));
}

#[test]
fn foreign_data_directory_is_fatal() {
    let local = LocalState {
        data_dir: DataDir::Initialized {
            system_id: "1234567890123".into(),
        },
        ..replica(0)
    };
    assert!(
        matches!(run(&cluster(Some("pg2"), 0), &local, None), Decision::Fatal(m) if m.contains("system ID mismatch"))
    );
    // In pause nothing stops: the lock is let go if held, else a warning.
    assert!(matches!(
        run_paused(&cluster(Some("pg1"), 0), &local, None),
        Decision::ReleaseLock { .. }
    ));
    assert!(matches!(
        run_paused(&cluster(Some("pg2"), 0), &local, None),
        Decision::Wait { message, .. } if message.contains("system ID mismatch")
    ));
}

#[test]
fn replica_follows_the_leader() {
    assert_eq!(
        run(&cluster(Some("pg2"), 100), &replica(100), None),
        Decision::Follow {
            leader: Some("pg2".into()),
            demote: false,
            message: "no action. I am (pg1), a secondary, and following a leader (pg2)".into()
        }
    );
}

#[test]
fn primary_without_the_lock_demotes() {
    assert!(matches!(
        run(&cluster(Some("pg2"), 100), &primary(), None),
        Decision::Follow { demote: true, ref message, .. } if message == "demoting self because I do not have the lock and I was a leader"
    ));
}

#[test]
fn leader_renews() {
    assert_eq!(
        run(&cluster(Some("pg1"), 100), &primary(), None),
        Decision::RenewLock
    );
    assert_eq!(
        after_renew(true, &primary(), false),
        Action::NoAction("no action. I am (pg1), the leader with the lock".into())
    );
    // Holding the key as a replica (e.g. after a restart): promote once renewed.
    assert!(matches!(
        after_renew(true, &replica(100), false),
        Action::Promote(_)
    ));
}

#[test]
fn leader_that_failed_to_renew_demotes() {
    assert_eq!(
        after_renew(false, &primary(), false),
        Action::Demote {
            mode: DemoteMode::ImmediateNoLock,
            message: "demoted self because failed to update leader lock in DCS".into()
        }
    );
    assert!(
        matches!(after_renew(false, &replica(100), false), Action::NoAction(m) if m.starts_with("not promoting"))
    );
}

#[test]
fn healthy_replica_takes_the_free_lock() {
    let unlocked = cluster(None, 100);
    // First the peers must be polled.
    assert_eq!(
        run(&unlocked, &replica(100), None),
        Decision::Gather(Gather::Peers)
    );
    let peers = [peer("pg2", 100), peer("pg3", 90)];
    assert_eq!(
        run(&unlocked, &replica(100), Some(&peers)),
        Decision::AcquireLock
    );
    assert_eq!(
        after_acquire(true, &replica(100)),
        Action::Promote("promoted self to leader by acquiring session lock".into())
    );
    assert!(matches!(
        after_acquire(false, &replica(100)),
        Action::Follow { .. }
    ));
}

#[test]
fn lagging_replica_does_not_take_the_lock() {
    let unlocked = cluster(None, 10_000_000);
    let d = run(&unlocked, &replica(100), Some(&[]));
    assert!(
        matches!(d, Decision::Follow { demote: false, ref message, .. } if message.contains("not the healthiest"))
    );
}

#[test]
fn replica_behind_a_peer_does_not_take_the_lock() {
    let unlocked = cluster(None, 100);
    let d = run(&unlocked, &replica(90), Some(&[peer("pg2", 100)]));
    assert!(matches!(d, Decision::Follow { .. }));
    // An unreachable or nofailover peer does not count.
    let nofailover_peer = PeerStatus {
        nofailover: true,
        ..peer("pg2", 100)
    };
    assert_eq!(
        run(&unlocked, &replica(90), Some(&[nofailover_peer])),
        Decision::AcquireLock
    );
}

#[test]
fn equal_positions_use_failover_priority() {
    let unlocked = cluster(None, 100);
    let better = PeerStatus {
        failover_priority: 2,
        ..peer("pg2", 100)
    };
    assert!(matches!(
        run(&unlocked, &replica(100), Some(&[better])),
        Decision::Follow { .. }
    ));
}

#[test]
fn live_primary_blocks_the_race() {
    let unlocked = cluster(None, 100);
    let alive = PeerStatus {
        is_primary: true,
        ..peer("pg2", 100)
    };
    assert!(matches!(
        run(&unlocked, &replica(200), Some(&[alive])),
        Decision::Follow { .. }
    ));
}

#[test]
fn nofailover_replica_does_not_take_the_lock() {
    let local = LocalState {
        nofailover: true,
        failover_priority: 0,
        ..replica(100)
    };
    assert_eq!(
        run(&cluster(None, 100), &local, None),
        Decision::Follow {
            leader: None,
            demote: false,
            message: "following a different leader because I am not allowed to promote".into()
        }
    );
}

#[test]
fn primary_retakes_a_free_lock_unless_behind_the_cluster_timeline() {
    assert_eq!(
        run(&cluster(None, 100), &primary(), None),
        Decision::AcquireLock
    );
    let mut c = cluster(None, 100);
    c.history = Some(crate::cluster::History {
        version: 1,
        lines: vec![serde_json::json!([1, 50, "no recovery target specified"])],
        valid: true,
    });
    assert!(matches!(
        run(&c, &primary(), None),
        Decision::Follow { demote: true, .. }
    ));
}

#[test]
fn empty_data_dir_while_leading_releases_the_lock() {
    let local = LocalState {
        data_dir: DataDir::Empty,
        postgres: Postgres::Stopped {
            was_primary: false,
            clean: true,
        },
        ..replica(0)
    };
    assert!(matches!(
        run(&cluster(Some("pg1"), 0), &local, None),
        Decision::ReleaseLock { .. }
    ));
}

#[test]
fn manual_failover_candidate_wins_and_others_yield() {
    let mut c = cluster(None, 100);
    c.failover = crate::cluster::Failover::parse(r#"{"member":"pg1"}"#, 3);
    assert_eq!(
        run(&c, &replica(50), Some(&[peer("pg2", 100)])),
        Decision::AcquireLock
    );
    let other = LocalState {
        name: "pg3".into(),
        ..replica(100)
    };
    assert!(matches!(
        run(&c, &other, Some(&[peer("pg1", 50)])),
        Decision::Follow { .. }
    ));
}

fn run_paused(cluster: &Cluster, local: &LocalState, peers: Option<&[PeerStatus]>) -> Decision {
    let (config, _) = DynamicConfig::from_value(&serde_json::json!({"pause": true}));
    decide(&HaInput {
        cluster,
        config: &config,
        local,
        peers,
        leader_check: None,
    })
}

#[test]
fn pause_means_no_automatic_start_stop_failover_or_demotion() {
    let stopped = stopped(true, false);
    // A crashed primary is not restarted; its lock is released.
    assert_eq!(
        run_paused(&cluster(Some("pg1"), 0), &stopped, None),
        Decision::ReleaseLock {
            message: "removed leader lock because postgres is not running".into()
        }
    );
    assert_eq!(
        run_paused(&cluster(None, 0), &stopped, None),
        Decision::Wait {
            message: "postgres is not running".into(),
            renew: false
        }
    );
    // Replicas never race for a free lock.
    assert_eq!(
        run_paused(&cluster(None, 100), &replica(100), Some(&[])),
        Decision::Follow {
            leader: None,
            demote: false,
            message: "no action. I am (pg1)".into()
        }
    );
    // ...unless named by a manual failover.
    let mut c = cluster(None, 100);
    c.failover = crate::cluster::Failover::parse(r#"{"member":"pg1"}"#, 3);
    assert_eq!(
        run_paused(&c, &replica(100), Some(&[])),
        Decision::AcquireLock
    );
    // A running primary takes a free lock and is never demoted for lacking one.
    assert_eq!(
        run_paused(&cluster(None, 100), &primary(), None),
        Decision::AcquireLock
    );
    assert_eq!(
        run_paused(&cluster(Some("pg2"), 100), &primary(), None),
        Decision::Wait {
            message: "continue to run as primary without lock".into(),
            renew: false
        }
    );
    assert_eq!(
        after_renew(false, &primary(), true),
        Action::NoAction(
            "continue to run as primary after failing to update leader lock in DCS".into()
        )
    );
    // Holding the lock without running a primary: let it go.
    assert!(matches!(
        run_paused(&cluster(Some("pg1"), 100), &replica(100), None),
        Decision::ReleaseLock { .. }
    ));
}

#[test]
fn a_failed_pre_promote_keeps_us_out_of_the_race_for_a_ttl() {
    let c = cluster(None, 0);
    for why in [
        RaceBackoff::PrePromoteFailed,
        RaceBackoff::FailedOverAfterCrash,
    ] {
        let backing_off = LocalState {
            race_backoff: Some(why),
            ..replica(100)
        };
        let peers = [];
        match run(&c, &backing_off, Some(&peers)) {
            Decision::Follow { message, .. } => {
                assert!(message.starts_with("backoff:"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
    let peers = [];
    assert_eq!(run(&c, &replica(100), Some(&peers)), Decision::AcquireLock);
}
