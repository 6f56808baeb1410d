//! Every key of the cluster overwritten with garbage, wrong types, huge and negative numbers:
//! parsing and everything that reads the parsed cluster must not panic, and the values that
//! cannot be what they claim (a timeline past 2^32, a negative LSN) read as absent.

use serde_json::json;

use super::*;
use crate::config::DynamicConfig;
use crate::ha::{decide, is_healthiest, leader_step, DataDir, HaInput, LocalState, Postgres};
use crate::peer::PeerStatus;

/// Values nobody should find in a Patroni key, whatever the key.
const GARBAGE: &[&str] = &[
    "",
    " ",
    "\u{0}\u{7f}\u{fffd}",
    "{",
    "[[[[",
    "null",
    "true",
    "-1",
    "1e300",
    "-1e300",
    "99999999999999999999",
    "-99999999999999999999",
    "18446744073709551615",
    "\"a string\"",
    "[]",
    "{}",
    "[1, \"x\", null, {}]",
    "{\"a\": {\"b\": {\"c\": [1e300]}}}",
    "postgres://",
    "postgres://h:99999999/x?application_name=",
    "a:b:c",
    ":",
];

/// JSON objects with each known field of every key set to each wrong value.
fn wrong_typed_objects() -> Vec<String> {
    let fields = [
        "conn_url",
        "api_url",
        "state",
        "role",
        "xlog_location",
        "receive_lsn",
        "replay_lsn",
        "timeline",
        "replication_state",
        "tags",
        "version",
        "optime",
        "slots",
        "retain_slots",
        "leader",
        "member",
        "scheduled_at",
        "sync_standby",
        "quorum",
        "loop_wait",
        "ttl",
        "retry_timeout",
        "maximum_lag_on_failover",
        "pause",
        "postgresql",
        "failsafe_mode",
        "synchronous_mode",
    ];
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e300),
        json!(-1e300),
        json!(0.5),
        json!("x"),
        json!("99999999999999999999"),
        json!("-5"),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"nofailover": 1e300, "failover_priority": -99999999999999999i64}),
    ];
    let mut out = Vec::new();
    for f in fields {
        for v in &values {
            out.push(json!({ f: v }).to_string());
        }
    }
    // The huge numbers serde_json can only keep as floats, written as text.
    out.push(r#"{"xlog_location": 99999999999999999999, "timeline": 99999999999999999999}"#.into());
    out.push(r#"{"optime": 99999999999999999999, "slots": {"a": 1e300, "b": -1}}"#.into());
    out
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
        version: 3,
        session: Some("42".into()),
    }
}

/// A sane 2-member cluster with `key` replaced by `value`.
fn with(key: &str, value: &str) -> Cluster {
    let mut keys = vec![
        kv("initialize", "7711457749166068220"),
        kv("leader", "pg0"),
        kv("config", r#"{"ttl": 30, "loop_wait": 10}"#),
        kv("status", r#"{"optime": 100}"#),
        kv("history", "[]"),
        kv(
            "members/pg0",
            r#"{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"primary","xlog_location":100,"timeline":1}"#,
        ),
        kv(
            "members/pg1",
            r#"{"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni","state":"running","role":"replica","xlog_location":90,"timeline":1}"#,
        ),
    ];
    keys.retain(|k| k.key != key);
    keys.push(kv(key, value));
    Cluster::from_keys(&keys)
}

fn local(primary: bool) -> LocalState {
    LocalState {
        name: "pg1".into(),
        data_dir: DataDir::Initialized {
            system_id: "7711457749166068220".into(),
        },
        postgres: Postgres::Running {
            primary,
            timeline: 1,
            wal_position: 95,
        },
        nofailover: false,
        failover_priority: 1,
        can_bootstrap: true,
        promoting_for: None,
        divergence: Default::default(),
        rewind: Default::default(),
        race_backoff: None,
    }
}

/// Reads everything there is to read, the way the daemon, the REST API and patronictl do.
fn touch(c: &Cluster) {
    c.is_unlocked();
    c.leader_name();
    c.leader_member();
    c.members_leader_first();
    c.system_id();
    c.timeline();
    c.config_data();
    if let Some(h) = &c.history {
        for t in [0, 1, 2, u64::MAX] {
            h.switch_lsn(t);
        }
    }
    for m in &c.members {
        // Collected into a string so every accessor runs and its result is used.
        let seen = format!(
            "{:?}",
            (
                m.conn_url(),
                m.api_url(),
                m.endpoint("/config"),
                m.state(),
                m.role()
            )
        ) + &format!(
            "{:?}",
            (
                m.is_primary_role(),
                m.xlog_location(),
                m.receive_lsn(),
                m.replay_lsn()
            )
        ) + &format!(
            "{:?}",
            (
                m.timeline(),
                m.replication_state(),
                m.tags(),
                m.nofailover(),
                m.host_port()
            )
        );
        assert!(!seen.is_empty());
    }
    crate::view::cluster_json(c, "batman");
    // The dynamic configuration has its own garbage tests (see config_key_garbage below).
    let config = DynamicConfig::default();
    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00+00:00").expect("time");
    leader_step(c, "pg0", now, 10, false);
    let peers = [PeerStatus::parse(
        "pg0",
        &json!({"role": "replica", "xlog": {"received_location": 1}}),
    )
    .expect("peer")];
    for primary in [true, false] {
        for polled in [None, Some(&peers[..])] {
            let l = local(primary);
            let input = HaInput {
                cluster: c,
                config: &config,
                local: &l,
                peers: polled,
                leader_check: None,
            };
            decide(&input);
            // Only meaningful once peers were polled; must not panic either way.
            let _ = is_healthiest(&input);
        }
    }
}

#[test]
fn garbage_in_any_key_never_panics() {
    let keys = [
        "initialize",
        "leader",
        "config",
        "status",
        "optime/leader",
        "history",
        "sync",
        "failover",
        "members/pg0",
        "members/pg1",
        "members/x",
    ];
    let objects = wrong_typed_objects();
    for key in keys {
        for value in GARBAGE
            .iter()
            .copied()
            .chain(objects.iter().map(String::as_str))
        {
            touch(&with(key, value));
        }
    }
}

/// The timing fields of `config`, whose huge values overflow the timing rule.
const TIMING: [&str; 3] = ["ttl", "loop_wait", "retry_timeout"];

#[test]
fn config_key_garbage_falls_back_to_defaults() {
    for value in GARBAGE
        .iter()
        .map(|s| s.to_string())
        .chain(wrong_typed_objects())
    {
        if TIMING.iter().any(|f| value.contains(f)) {
            continue;
        }
        let c = with("config", &value);
        DynamicConfig::from_value(c.config_data().unwrap_or(&json!({})));
    }
}

#[test]
fn config_key_huge_timing_values_do_not_panic() {
    for value in wrong_typed_objects() {
        if TIMING.iter().any(|f| value.contains(f)) {
            let c = with("config", &value);
            DynamicConfig::from_value(c.config_data().unwrap_or(&json!({})));
        }
    }
}

#[test]
fn impossible_numbers_read_as_absent() {
    let c = with(
        "members/pg1",
        r#"{"xlog_location": -5, "receive_lsn": 1e300, "replay_lsn": 99999999999999999999, "timeline": 4294967296}"#,
    );
    let m = c.member("pg1").expect("member");
    assert_eq!(
        (
            m.xlog_location(),
            m.receive_lsn(),
            m.replay_lsn(),
            m.timeline()
        ),
        (None, None, None, None)
    );
    let m = with("members/pg1", r#"{"timeline": "7", "xlog_location": "12"}"#);
    let m = m.member("pg1").expect("member");
    assert_eq!((m.timeline(), m.xlog_location()), (Some(7), Some(12)));

    for status in [
        r#"{"optime": -1}"#,
        r#"{"optime": 1e300}"#,
        "-1",
        "1e300",
        r#"{"optime": "x"}"#,
    ] {
        assert_eq!(with("status", status).status.last_lsn, 0, "{status}");
    }
    // A timeline that cannot exist: the cluster timeline is unknown, not a wrapped number.
    let c = with("history", r#"[[18446744073709551615, 1, "r"]]"#);
    assert_eq!(c.timeline(), 0);
    let c = with("history", r#"[[4294967295, 1, "r"]]"#);
    assert_eq!(c.timeline(), 0);
    let c = with("history", r#"[[7, -1, "r"], [8, 1e300]]"#);
    assert_eq!(c.timeline(), 9);
    assert_eq!(c.history.as_ref().and_then(|h| h.switch_lsn(7)), None);
    assert_eq!(c.history.as_ref().and_then(|h| h.switch_lsn(8)), None);
}

#[test]
fn wrong_types_read_as_absent() {
    let c = with("leader", "");
    assert!(c.is_unlocked());
    let c = with(
        "failover",
        r#"{"leader": 5, "member": ["pg1"], "scheduled_at": 1e300}"#,
    );
    assert_eq!(c.failover, None);
    let c = with("failover", r#"{"member": "pg1", "scheduled_at": {"x": 1}}"#);
    let f = c.failover.expect("failover");
    assert_eq!(
        (f.candidate.as_deref(), f.scheduled_at),
        (Some("pg1"), None)
    );
    let c = with("config", "[1, 2]");
    assert_eq!(c.config_data(), None);
    let c = with(
        "members/pg1",
        r#"{"api_url": 5, "conn_url": ["x"], "role": null, "tags": "nofailover"}"#,
    );
    let m = c.member("pg1").expect("member");
    assert_eq!((m.api_url(), m.conn_url(), m.role()), (None, None, ""));
    assert!(!m.nofailover());
    assert_eq!(with("initialize", "-1").system_id(), None);
    assert_eq!(with("initialize", "{\"a\": 1}").system_id(), None);
}
