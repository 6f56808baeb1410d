//! Health-check codes as a table: role, lock, freshness, pause, lag and tags against each
//! path a load balancer may ask.

use super::*;

fn doc(role: Role, state: &str) -> StatusDocument {
    StatusDocument {
        state: state.into(),
        postmaster_start_time: None,
        role,
        server_version: Some(150000),
        xlog: Some(match role {
            Role::Primary => Xlog::Primary { location: 1000 },
            _ => Xlog::Replica {
                received_location: 900,
                replayed_location: 900,
                replayed_timestamp: None,
                paused: false,
            },
        }),
        timeline: Some(1),
        replication_state: None,
        replication: Vec::new(),
        pause: false,
        cluster_unlocked: false,
        dcs_last_seen: 0,
        tags: Map::new(),
        database_system_identifier: None,
        pending_restart: false,
        pending_restart_reason: None,
        patroni: PatroniInfo {
            version: "4.1.4".into(),
            scope: "batman".into(),
            name: "pg1".into(),
        },
        scheduled_restart: None,
    }
}

fn facts(doc: &StatusDocument, holds_lock: bool) -> HealthFacts<'_> {
    HealthFacts {
        doc,
        holds_lock,
        dcs_fresh: true,
        leader_lsn: 1000,
        noloadbalance: false,
    }
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn primary_and_replica_paths() {
    let leader = doc(Role::Primary, "running");
    let replica = doc(Role::Replica, "running");
    let table = [
        ("/", &leader, true, 200),
        ("/primary", &leader, true, 200),
        ("/master", &leader, true, 200),
        ("/read-write", &leader, true, 200),
        ("/leader", &leader, true, 200),
        ("/replica", &leader, true, 503),
        ("/read-only", &leader, true, 200),
        ("/standby-leader", &leader, true, 503),
        ("/health", &leader, true, 200),
        // A primary whose lock is not proven by our clock is no primary for the balancer.
        ("/primary", &leader, false, 503),
        ("/primary", &replica, false, 503),
        ("/replica", &replica, false, 200),
        ("/read-only", &replica, false, 200),
        ("/async", &replica, false, 200),
        ("/read-only-sync", &replica, false, 503),
        ("/nonsense", &replica, false, 503),
    ];
    for (path, d, lock, want) in table {
        assert_eq!(
            health_code(path, &[], &facts(d, lock)),
            want,
            "{path} {:?} lock={lock}",
            d.role
        );
    }
    let stopped = doc(Role::Replica, "stopped");
    assert_eq!(health_code("/replica", &[], &facts(&stopped, false)), 503);
    assert_eq!(health_code("/health", &[], &facts(&stopped, false)), 503);
}

#[test]
fn lag_and_tags_filter_replicas() {
    let replica = doc(Role::Replica, "running");
    let f = facts(&replica, false);
    assert_eq!(health_code("/replica", &q(&[("lag", "50")]), &f), 503);
    assert_eq!(health_code("/replica", &q(&[("lag", "1kB")]), &f), 200);
    assert_eq!(health_code("/replica", &q(&[("lag", "garbage")]), &f), 200);
    let mut tagged = doc(Role::Replica, "running");
    tagged.tags.insert("zone".into(), Value::String("a".into()));
    tagged.tags.insert("nosync".into(), Value::Bool(true));
    let f = facts(&tagged, false);
    assert_eq!(health_code("/replica", &q(&[("tag_zone", "a")]), &f), 200);
    assert_eq!(health_code("/replica", &q(&[("tag_zone", "b")]), &f), 503);
    assert_eq!(
        health_code("/replica", &q(&[("tag_nosync", "True")]), &f),
        200
    );
    assert_eq!(
        health_code("/replica", &q(&[("tag_missing", "x")]), &f),
        503
    );
    let noloadbalance = HealthFacts {
        noloadbalance: true,
        ..facts(&replica, false)
    };
    assert_eq!(health_code("/replica", &[], &noloadbalance), 503);
}

#[test]
fn paused_without_dcs_answers_from_the_role() {
    let mut leader = doc(Role::Primary, "running");
    leader.pause = true;
    let f = HealthFacts {
        dcs_fresh: false,
        ..facts(&leader, false)
    };
    assert_eq!(health_code("/primary", &[], &f), 200);
    assert_eq!(health_code("/leader", &[], &f), 200);
    // Not paused and no fresh DCS view: nobody is primary.
    leader.pause = false;
    let f = HealthFacts {
        dcs_fresh: false,
        ..facts(&leader, false)
    };
    assert_eq!(health_code("/primary", &[], &f), 503);
}

#[test]
fn lag_units() {
    assert_eq!(parse_bytes("1048576"), Some(1048576));
    assert_eq!(parse_bytes("16kB"), Some(16384));
    assert_eq!(parse_bytes("10MB"), Some(10 << 20));
    assert_eq!(parse_bytes("ten"), None);
    assert_eq!(parse_bytes("99999999999999999999TB"), None);
}

#[test]
fn liveness_follows_the_last_completed_cycle() {
    use std::time::Duration;
    let ttl = Duration::from_secs(20);
    let s = Duration::from_secs;
    let table = [
        // (paused, busy, primary, since last cycle) -> code
        ((false, false, true, s(5)), 200),
        ((false, false, true, s(21)), 503),
        ((false, false, false, s(21)), 200),
        ((false, false, false, s(41)), 503),
        ((true, false, true, s(600)), 200),
        ((false, true, false, s(600)), 200),
    ];
    for ((paused, busy, primary, since), want) in table {
        assert_eq!(liveness_code(paused, busy, primary, since, ttl), want);
    }
}

fn ready(f: ReadinessFacts, query: &[(&str, &str)]) -> u16 {
    readiness_code(&q(query), &f).0
}

#[test]
fn readiness_as_upstream_4_1() {
    let replica = ReadinessFacts {
        holds_lock: false,
        running: true,
        streaming: true,
        dcs_optime: Some(10_000),
        latest_end_lsn: 0,
        received: 9_500,
        replayed: 8_000,
        failsafe_active: false,
        maximum_lag_on_failover: 1_000,
    };
    // Replay is 2000 behind, the receiver 500: the default mode counts replay.
    assert_eq!(ready(replica, &[]), 503);
    assert_eq!(ready(replica, &[("mode", "write")]), 200);
    assert_eq!(ready(replica, &[("lag", "2kB")]), 200);
    assert_eq!(ready(replica, &[("lag", "1999")]), 503);
    assert_eq!(
        ready(replica, &[("lag", "lots")]),
        503,
        "an invalid lag is the default"
    );
    // The receiver's latest_end_lsn counts when the DCS optime is older.
    let ahead = ReadinessFacts {
        latest_end_lsn: 20_000,
        ..replica
    };
    assert_eq!(ready(ahead, &[("mode", "write")]), 503);
    let leader = ReadinessFacts {
        holds_lock: true,
        running: false,
        ..replica
    };
    assert_eq!(ready(leader, &[]), 200);
    for not_ready in [
        ReadinessFacts {
            running: false,
            ..replica
        },
        ReadinessFacts {
            streaming: false,
            ..replica
        },
        ReadinessFacts {
            dcs_optime: None,
            latest_end_lsn: 0,
            ..replica
        },
    ] {
        assert_eq!(ready(not_ready, &[("lag", "1GB")]), 503, "{not_ready:?}");
    }
    let failsafe = ReadinessFacts {
        dcs_optime: None,
        failsafe_active: true,
        ..replica
    };
    assert_eq!(ready(failsafe, &[]), 200);
    let no_dcs = ReadinessFacts {
        dcs_optime: None,
        latest_end_lsn: 8_500,
        ..replica
    };
    assert_eq!(ready(no_dcs, &[]), 200, "the receiver's view is enough");
    assert_eq!(
        readiness_code(&[], &replica).1.as_deref(),
        Some("Replication apply lag 2000 exceeds maximum allowable 1000")
    );
}
