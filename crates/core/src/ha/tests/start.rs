//! Starting, restarting and promoting while holding the lock: `primary_start_timeout`, the
//! order "stop first, then release", and a promotion that does not block renewals.

use super::*;

fn run_with(
    config: serde_json::Value,
    cluster: &Cluster,
    local: &LocalState,
    peers: Option<&[PeerStatus]>,
) -> Decision {
    let (config, _) = DynamicConfig::from_value(&config);
    decide(&HaInput {
        cluster,
        config: &config,
        local,
        peers,
        leader_check: None,
    })
}

fn starting(as_primary: bool, for_secs: u64) -> LocalState {
    LocalState {
        postgres: Postgres::Starting {
            as_primary,
            for_secs,
        },
        ..replica(0)
    }
}

#[test]
fn a_crashed_leader_starts_again_as_primary_after_renewing() {
    let crashed = stopped(true, false);
    // The start follows a successful renewal, never the other way round.
    assert_eq!(
        run(&cluster(Some("pg1"), 0), &crashed, None),
        Decision::RenewLock
    );
    assert_eq!(
        after_renew(true, &crashed, false),
        Action::Start {
            as_primary: true,
            message: "starting primary after failure".into()
        }
    );
    assert!(matches!(
        after_renew(false, &crashed, false),
        Action::NoAction(m) if m.starts_with("not promoting")
    ));
    // Holding the lock on a former replica: start read-only, promote next cycle.
    assert_eq!(
        after_renew(true, &stopped(false, true), false),
        Action::Start {
            as_primary: false,
            message: "starting as readonly because i had the session lock".into()
        }
    );
}

#[test]
fn primary_start_timeout_zero_fails_over_at_once_when_someone_can_take_over() {
    let config = serde_json::json!({"primary_start_timeout": 0});
    let c = cluster(Some("pg1"), 100);
    let crashed = stopped(true, false);
    assert_eq!(
        run_with(config.clone(), &c, &crashed, None),
        Decision::Gather(Gather::Peers)
    );
    assert_eq!(
        run_with(config.clone(), &c, &crashed, Some(&[peer("pg2", 100)])),
        Decision::FailOverAfterCrash {
            message: "stopped PostgreSQL to fail over after a crash".into()
        }
    );
    // Nobody can take over: restart here.
    assert_eq!(
        run_with(config, &c, &crashed, Some(&[])),
        Decision::RenewLock
    );
}

#[test]
fn a_slow_start_keeps_the_lock_until_primary_start_timeout() {
    let c = cluster(Some("pg1"), 100);
    let config = serde_json::json!({"primary_start_timeout": 60});
    assert_eq!(
        run_with(config.clone(), &c, &starting(true, 10), None),
        Decision::Wait {
            message: "PostgreSQL is still starting up, 50 seconds until timeout".into(),
            renew: true
        }
    );
    // Past the timeout: stop PostgreSQL first, then release, if another member can take over.
    assert_eq!(
        run_with(config.clone(), &c, &starting(true, 61), None),
        Decision::Gather(Gather::Peers)
    );
    assert_eq!(
        run_with(
            config.clone(),
            &c,
            &starting(true, 61),
            Some(&[peer("pg2", 100)])
        ),
        Decision::StopAndRelease {
            message: "stopped PostgreSQL because of startup timeout".into()
        }
    );
    let cannot = PeerStatus {
        nofailover: true,
        ..peer("pg2", 100)
    };
    assert_eq!(
        run_with(config.clone(), &c, &starting(true, 61), Some(&[cannot])),
        Decision::Wait {
            message:
                "primary start has timed out, but continuing to wait because failover is not possible"
                    .into(),
            renew: true
        }
    );
    // Paused: nothing is stopped automatically.
    let paused = serde_json::json!({"primary_start_timeout": 60, "pause": true});
    assert!(matches!(
        run_with(paused, &c, &starting(true, 600), None),
        Decision::Wait { renew: true, .. }
    ));
}

#[test]
fn a_writable_start_without_the_lock_is_stopped() {
    assert_eq!(
        run(&cluster(Some("pg2"), 0), &starting(true, 1), None),
        Decision::Follow {
            leader: Some("pg2".into()),
            demote: true,
            message: "stopped PostgreSQL while starting up because leader key was lost".into()
        }
    );
    // A replica that starts just waits.
    assert!(matches!(
        run(&cluster(Some("pg2"), 0), &starting(false, 1), None),
        Decision::Wait { renew: false, .. }
    ));
}

#[test]
fn postgres_we_cannot_query_is_left_to_the_lease_guard() {
    let unreachable = LocalState {
        postgres: Postgres::Unreachable,
        ..replica(0)
    };
    // No renewal for the holder: our clock runs out and the guard stops it.
    assert_eq!(
        run(&cluster(Some("pg1"), 0), &unreachable, None),
        Decision::Wait {
            message: "Error communicating with PostgreSQL. Will try again later".into(),
            renew: false
        }
    );
}

#[test]
fn a_promotion_in_progress_is_not_repeated_until_it_stalls() {
    let promoting = LocalState {
        promoting_for: Some(3),
        ..replica(100)
    };
    assert_eq!(
        after_renew(true, &promoting, false),
        Action::NoAction("no action. I am (pg1), the leader with the lock".into())
    );
    let stalled = LocalState {
        promoting_for: Some(PROMOTE_RETRY_SECS),
        ..replica(100)
    };
    assert!(matches!(
        after_renew(true, &stalled, false),
        Action::Promote(_)
    ));
}
