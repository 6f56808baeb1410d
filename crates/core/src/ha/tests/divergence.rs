//! Following a leader: the leader itself is asked whether our WAL is on its history, the
//! check is repeated while our timeline is behind, and a diverged data directory is rewound,
//! removed or kept exactly as the configuration allows.

use super::*;

fn with_divergence(mut local: LocalState, divergence: Divergence) -> LocalState {
    local.divergence = divergence;
    local
}

fn fine(timeline: u64) -> Divergence {
    Divergence::Fine {
        leader: "pg2".into(),
        timeline,
    }
}

fn diverged() -> Divergence {
    Divergence::Diverged {
        leader: "pg2".into(),
    }
}

fn checked(cluster: &Cluster, local: &LocalState, check: &Divergence) -> Decision {
    let config = DynamicConfig::default();
    decide(&HaInput {
        cluster,
        config: &config,
        local,
        peers: None,
        leader_check: Some(check),
    })
}

/// pg2 leads on `timeline` (as its member key says).
fn led_by_pg2(timeline: u64) -> Cluster {
    let mut keys = vec![kv("initialize", SYSID), kv("leader", "pg2")];
    keys.push(kv(
        "members/pg2",
        &format!(
            r#"{{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni","state":"running","role":"primary","timeline":{timeline}}}"#
        ),
    ));
    Cluster::from_keys(&keys)
}

#[test]
fn a_stopped_node_asks_the_leader_before_it_starts() {
    let c = led_by_pg2(1);
    let clean_replica = with_divergence(stopped(false, true), Divergence::Unchecked);
    assert_eq!(
        run(&c, &clean_replica, None),
        Decision::Gather(Gather::LeaderTimeline {
            leader: "pg2".into()
        })
    );
    assert_eq!(
        checked(&c, &clean_replica, &fine(1)),
        Decision::StartReplica {
            follow: Some("pg2".into()),
            message: "starting as a secondary".into()
        }
    );
    // No answer (leader still promoting, unreachable): do not start yet.
    let undecided = Divergence::Undecided {
        leader: "pg2".into(),
        reason: "it is still in recovery".into(),
    };
    assert!(matches!(
        checked(&c, &clean_replica, &undecided),
        Decision::Wait { renew: false, message } if message.contains("still in recovery")
    ));
    // Even a remembered "fine" is asked again before a start.
    let remembered = with_divergence(stopped(false, true), fine(1));
    assert!(matches!(run(&c, &remembered, None), Decision::Gather(_)));
    // A remembered answer about another leader does not count.
    let about_pg3 = with_divergence(
        stopped(false, true),
        Divergence::Fine {
            leader: "pg3".into(),
            timeline: 1,
        },
    );
    assert!(matches!(run(&c, &about_pg3, None), Decision::Gather(_)));
}

#[test]
fn a_crashed_former_primary_finishes_crash_recovery_first() {
    let c = led_by_pg2(2);
    let crashed = with_divergence(stopped(true, false), Divergence::Unchecked);
    assert!(matches!(
        run(&c, &crashed, None),
        Decision::CrashRecovery { .. }
    ));
    let recovered = with_divergence(stopped(true, true), Divergence::Unchecked);
    assert!(matches!(
        run(&c, &recovered, None),
        Decision::Gather(Gather::LeaderTimeline { .. })
    ));
}

#[test]
fn a_stale_member_key_timeline_does_not_skip_the_check() {
    // The new leader's member key still says timeline 1 (it has not published yet), like
    // ours: the leader is asked anyway, and its answer decides.
    let c = led_by_pg2(1);
    let old_primary = with_divergence(stopped(true, true), Divergence::Unchecked);
    assert!(matches!(
        run(&c, &old_primary, None),
        Decision::Gather(Gather::LeaderTimeline { .. })
    ));
    assert!(matches!(
        checked(&c, &old_primary, &diverged()),
        Decision::KeepStopped { .. }
    ));
}

#[test]
fn a_running_replica_checks_again_while_its_timeline_is_behind() {
    // Checked once against pg2 on timeline 2, but we still replay timeline 1: WAL received
    // since may have diverged, so ask again every cycle until we are on the leader's timeline.
    let c = led_by_pg2(2);
    let behind = with_divergence(replica(100), fine(2));
    assert!(matches!(
        run(&c, &behind, None),
        Decision::Gather(Gather::LeaderTimeline { .. })
    ));
    assert!(matches!(
        checked(&c, &behind, &fine(2)),
        Decision::Follow { demote: false, .. }
    ));
    // Caught up: no more questions.
    let caught_up = LocalState {
        postgres: Postgres::Running {
            primary: false,
            timeline: 2,
            wal_position: 100,
        },
        ..with_divergence(replica(100), fine(2))
    };
    assert!(matches!(
        run(&c, &caught_up, None),
        Decision::Follow { demote: false, .. }
    ));
    // The leader's member key moved past what it told us: ask again.
    let older_answer = LocalState {
        postgres: Postgres::Running {
            primary: false,
            timeline: 2,
            wal_position: 100,
        },
        ..with_divergence(replica(100), fine(2))
    };
    assert!(matches!(
        run(&led_by_pg2(3), &older_answer, None),
        Decision::Gather(_)
    ));
    // Undecided: keep streaming (a replica takes no writes) and ask again next cycle.
    let undecided = Divergence::Undecided {
        leader: "pg2".into(),
        reason: "connection refused".into(),
    };
    assert!(matches!(
        checked(
            &c,
            &with_divergence(replica(100), Divergence::Unchecked),
            &undecided
        ),
        Decision::Follow { demote: false, .. }
    ));
}

#[test]
fn diverged_wal_is_repaired_only_as_the_configuration_allows() {
    let c = led_by_pg2(2);
    let node = |policy: RewindPolicy, divergence: Divergence| LocalState {
        rewind: policy,
        ..with_divergence(stopped(true, true), divergence)
    };
    let none = RewindPolicy::default();
    let rewind = RewindPolicy {
        can_rewind: true,
        ..none
    };
    let remove_on_diverged = RewindPolicy {
        remove_on_diverged: true,
        ..none
    };
    let remove_on_failure = RewindPolicy {
        remove_on_rewind_failure: true,
        ..none
    };
    let failed = Divergence::RewindFailed {
        leader: "pg2".into(),
    };
    let table: Vec<(RewindPolicy, Divergence, &str)> = vec![
        // Nothing allowed: the data directory is never removed, PostgreSQL stays stopped.
        (none, diverged(), "keep"),
        (rewind, diverged(), "rewind"),
        (remove_on_diverged, diverged(), "remove"),
        (
            RewindPolicy {
                can_rewind: true,
                remove_on_diverged: true,
                ..none
            },
            diverged(),
            "rewind",
        ),
        // Rewind failed: remove only with remove_data_directory_on_rewind_failure (or
        // ..._on_diverged_timelines), never rewind the same way again.
        (rewind, failed.clone(), "keep"),
        (
            RewindPolicy {
                can_rewind: true,
                ..remove_on_failure
            },
            failed.clone(),
            "remove",
        ),
        (remove_on_diverged, failed.clone(), "remove"),
        // remove_on_rewind_failure alone does not remove a data directory that merely diverged.
        (remove_on_failure, diverged(), "keep"),
    ];
    for (policy, divergence, want) in table {
        let local = node(policy, divergence.clone());
        let got = run(&c, &local, None);
        let kind = match &got {
            Decision::KeepStopped { .. } => "keep",
            Decision::Rewind { .. } => "rewind",
            Decision::RemoveDataDirectory { .. } => "remove",
            _ => "other",
        };
        assert_eq!(kind, want, "{policy:?} {divergence:?}: {got:?}");
    }
    // A running replica that diverged is handled the same way (stopped first by the daemon).
    let running = LocalState {
        rewind: none,
        ..with_divergence(replica(100), diverged())
    };
    assert!(matches!(
        run(&c, &running, None),
        Decision::KeepStopped { .. }
    ));
}

#[test]
fn rewind_waits_for_the_new_leaders_checkpoint() {
    let c = Cluster::from_keys(&[
        kv("initialize", SYSID),
        kv("leader", "pg2"),
        kv(
            "members/pg2",
            r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","state":"running","role":"primary","timeline":2,"checkpoint_after_promote":false}"#,
        ),
    ]);
    let local = LocalState {
        rewind: RewindPolicy {
            can_rewind: true,
            ..Default::default()
        },
        ..with_divergence(stopped(true, true), diverged())
    };
    assert_eq!(
        run(&c, &local, None),
        Decision::Wait {
            message: "Waiting for checkpoint on pg2 before rewind".into(),
            renew: false
        }
    );
}

#[test]
fn diverged_wal_stays_stopped_while_nobody_leads() {
    let no_leader = Cluster::from_keys(&[kv("initialize", SYSID)]);
    let local = with_divergence(stopped(true, true), diverged());
    assert!(matches!(
        run(&no_leader, &local, None),
        Decision::KeepStopped { .. }
    ));
    // Nothing known against us: a stopped node starts following nobody, as upstream.
    let unknown = with_divergence(stopped(false, true), Divergence::Unchecked);
    assert!(matches!(
        run(&no_leader, &unknown, None),
        Decision::StartReplica { follow: None, .. }
    ));
}
