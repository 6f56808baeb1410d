//! Hostile input never takes the cluster down (real PostgreSQL 15 + etcd, daemons as
//! `postgres`): malformed requests to the REST API, garbage in every DCS key, and a forged
//! member whose REST API answers garbage while it is offered as a switchover candidate and
//! while the leader race polls it. Every daemon keeps running, no log says "panicked", and at
//! no moment do two nodes answer 200 on `/primary`.
//!
//! One two-node cluster serves every phase, to keep the file within a few minutes.

mod bad_input_support;

use std::time::{Duration, Instant};

use bad_input_support::{
    assert_alive, binary, raw_exchange, scope, PrimaryWatch, HEALTH_PROMPT, OPTS,
};
use patroni_test_harness::{
    http_request, patronictl, wait_for, FakeMember, Misbehaviour, TestCluster,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_never_panics_nor_makes_two_primaries() {
    let mut cluster = TestCluster::new(binary(), 2, &OPTS);
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(60)).await;

    let started = Instant::now();
    malformed_requests(&mut cluster, leader).await;
    println!("malformed requests: {:?}", started.elapsed());

    let started = Instant::now();
    garbage_in_dcs_keys(&mut cluster).await;
    println!("DCS garbage: {:?}", started.elapsed());

    let started = Instant::now();
    forged_member(&mut cluster).await;
    println!("forged member: {:?}", started.elapsed());
}

/// Part c: the REST API answers 4xx (or closes) on malformed requests, keeps answering
/// `/health` promptly while slow clients hold connections, and the leader stays the leader.
async fn malformed_requests(cluster: &mut TestCluster, leader: usize) {
    let port = cluster.nodes[leader].api_port;
    let watch = PrimaryWatch::start(cluster);
    own_answers_reach_the_client(port, cluster.nodes[1 - leader].api_port).await;

    // Slow clients first, so that everything below runs while they hold their connections.
    let drip = tokio::spawn(bad_input_support::drip_request(port));
    let stall = tokio::spawn(bad_input_support::short_body_then_stall(port));

    for (what, bytes) in malformed_heads() {
        let code = raw_exchange(port, &bytes).await;
        assert!(
            code.is_none_or(|c| (400..500).contains(&c)),
            "{what}: answered {code:?}"
        );
        assert_alive(cluster, what);
    }
    for (method, path, body) in BAD_BODIES {
        let answer = http_request(port, method, path, Some(body)).await;
        assert!(
            answer
                .as_ref()
                .is_some_and(|(c, _)| (400..500).contains(c) || *c == 503),
            "{method} {path} {body}: {answer:?}"
        );
        assert_alive(cluster, &format!("{method} {path} {body}"));
    }
    // Huge numbers where upstream accepts anything: stored, then removed again.
    let answer = http_request(port, "PATCH", "/config", Some(r#"{"x_garbage": 1e300}"#)).await;
    assert_eq!(answer.map(|a| a.0), Some(200));
    let answer = http_request(port, "PATCH", "/config", Some(r#"{"x_garbage": null}"#)).await;
    assert_eq!(answer.map(|a| a.0), Some(200));

    // The slow clients never held anything up, and the server let go of them.
    let slowest = drip.await.expect("drip task");
    assert!(
        slowest < HEALTH_PROMPT,
        "/health took {slowest:?} during the drip"
    );
    stall.await.expect("stall task");
    watch.finish(cluster, true).await;
    assert_eq!(
        cluster.primaries().await,
        vec![leader],
        "{}",
        cluster.logs()
    );
}

/// Requests that are not HTTP, or ask the server to hold too much.
fn malformed_heads() -> Vec<(&'static str, Vec<u8>)> {
    let filler = format!("X-Filler: {}\r\n", "f".repeat(1000));
    let huge_headers = format!("GET /patroni HTTP/1.0\r\n{}\r\n", filler.repeat(100));
    let long_line = format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(100_000));
    let raw = |s: &str| s.as_bytes().to_vec();
    vec![
        ("garbage", raw("GARBAGE\r\n\r\n")),
        ("binary", b"\x00\xff\xfe\x01\r\n\r\n".to_vec()),
        ("no target", raw("GET\r\n\r\n")),
        ("bad version", raw("GET / HTTP/9.9\r\n\r\n")),
        (
            "bad header",
            raw("GET /patroni HTTP/1.0\r\nno colon\r\n\r\n"),
        ),
        ("100 KB of headers", huge_headers.into_bytes()),
        ("100 KB request line", long_line.into_bytes()),
        (
            "content-length past u64",
            raw("PATCH /config HTTP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n{}"),
        ),
        (
            "negative content-length",
            raw("PATCH /config HTTP/1.0\r\nContent-Length: -5\r\n\r\n{}"),
        ),
        (
            "content-length of a terabyte",
            raw("POST /switchover HTTP/1.0\r\nContent-Length: 1000000000000\r\n\r\n{}"),
        ),
    ]
}

/// Bodies the handlers must refuse (4xx, or 503 where the request cannot be met): invalid
/// JSON, wrong types, huge numbers. Restart filters name `replica` so that a bug letting
/// one through does not restart the leader for real.
const BAD_BODIES: &[(&str, &str, &str)] = &[
    ("PATCH", "/config", r#"{"ttl": "#),
    ("PATCH", "/config", "[1, 2]"),
    ("PATCH", "/config", "null"),
    ("PATCH", "/config", "99999999999999999999"),
    ("POST", "/switchover", r#"{"leader": "#),
    ("POST", "/switchover", r#"{"leader": 5, "candidate": [1]}"#),
    ("POST", "/switchover", r#"{"leader": 1e300}"#),
    (
        "POST",
        "/switchover",
        r#"{"scheduled_at": 99999999999999999999}"#,
    ),
    (
        "POST",
        "/switchover",
        r#"{"leader": "nobody", "scheduled_at": "9999999-01-01T00:00:00+00:00"}"#,
    ),
    ("POST", "/failover", r#"{"candidate": {"a": 1}}"#),
    ("POST", "/restart", r#"{"timeout": "#),
    ("POST", "/restart", r#"{"timeout": -1e300}"#),
    ("POST", "/restart", r#"{"role": 5}"#),
    ("POST", "/restart", r#"{"postgres_version": 99999999999}"#),
    (
        "POST",
        "/restart",
        r#"{"postgres_version": "999999", "role": "replica"}"#,
    ),
    (
        "POST",
        "/restart",
        r#"{"timeout": 1e300, "role": "replica"}"#,
    ),
    (
        "POST",
        "/restart",
        r#"{"postgres_version": "99999999999.99999999999"}"#,
    ),
    ("POST", "/restart", r#"{"schedule": 1e300}"#),
    (
        "POST",
        "/restart",
        r#"{"schedule": "99999-01-01T00:00:00+00:00", "role": "replica"}"#,
    ),
    ("POST", "/reinitialize", r#"{"force": 1e300}"#),
];

/// The REST client reads the daemon's own answers: bare status lines without headers on
/// `OPTIONS`/`HEAD`, HTTP/1.0 bodies ended by the close on `GET`.
async fn own_answers_reach_the_client(leader: u16, replica: u16) {
    let t = Duration::from_secs(5);
    let url = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    let answer = patroni_rest_client::call("OPTIONS", &url(leader, "/primary"), None, t, None)
        .await
        .expect("OPTIONS /primary");
    assert_eq!((answer.0, answer.1.as_str()), (200, ""));
    let answer = patroni_rest_client::call("HEAD", &url(replica, "/primary"), None, t, None)
        .await
        .expect("HEAD /primary");
    assert_eq!((answer.0, answer.1.as_str()), (503, ""));
    let (code, doc) = patroni_rest_client::get_json(&url(leader, "/patroni"), t, None)
        .await
        .expect("GET /patroni");
    assert_eq!((code, doc["role"].as_str()), (200, Some("primary")));
    let (code, doc) = patroni_rest_client::get_json(&url(replica, "/cluster"), t, None)
        .await
        .expect("GET /cluster");
    assert_eq!(code, 200);
    assert_eq!(doc["members"].as_array().map(Vec::len), Some(2));
}

/// What each DCS key is overwritten with: garbage JSON, wrong types, huge numbers.
fn garbage_for(key: &str) -> Vec<String> {
    let huge = match key {
        k if k.starts_with("members/") => {
            r#"{"conn_url": "postgres://127.0.0.1:99999999/x", "api_url": "http://127.0.0.1:99999999/patroni", "state": "running", "role": "replica", "xlog_location": 99999999999999999999, "receive_lsn": 1e300, "replay_lsn": -1, "timeline": 1e300, "tags": {"failover_priority": 99999999999999999999}}"#
        }
        "status" => {
            r#"{"optime": 99999999999999999999, "slots": {"pg0": 1e300, "pg1": -5}, "retain_slots": [1e300]}"#
        }
        "history" => r#"[[99999999999999999999, 1e300, "x", "y", "z"], [-1, -1]]"#,
        "sync" => r#"{"leader": 1e300, "sync_standby": 99999999999999999999, "quorum": -1e300}"#,
        "failover" => r#"{"leader": 1e300, "member": 99999999999999999999, "scheduled_at": -1}"#,
        "config" => {
            r#"{"loop_wait": 1e300, "retry_timeout": 99999999999999999999, "maximum_lag_on_failover": 1e300, "master_start_timeout": 99999999999999999999, "postgresql": {"parameters": {"max_connections": 1e300}}}"#
        }
        // A 20-digit number would be a valid system ID that is not ours: upstream exits
        // on purpose then. These are not system IDs at all.
        "initialize" => "1e300",
        _ => "99999999999999999999",
    };
    let wrong = match key {
        k if k.starts_with("members/") => {
            r#"{"conn_url": 5, "api_url": ["x"], "state": {}, "role": 7, "xlog_location": "x", "timeline": [], "tags": "nofailover"}"#
        }
        "initialize" => "[\"7711457749166068220\"]",
        _ => r#"[1, "x", null, {"a": []}, true]"#,
    };
    vec![
        "{\"a\": [1, ".to_string(),
        wrong.to_string(),
        huge.to_string(),
    ]
}

/// Part b: every key of the cluster overwritten with each kind of garbage for a couple of
/// loop cycles, then restored (or removed); the cluster is healthy again after each key.
async fn garbage_in_dcs_keys(cluster: &mut TestCluster) {
    let names: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
    let mut keys: Vec<String> = [
        "config",
        "status",
        "history",
        "sync",
        "failover",
        "initialize",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    keys.extend(names.iter().map(|n| format!("members/{n}")));
    // A member nobody runs, whose key is garbage from the start.
    keys.push("members/intruder".into());
    // Last: garbage there takes the lock away, which costs a new election.
    keys.push("leader".into());
    // Two loop cycles: every daemon reads the garbage at least once.
    let hold = Duration::from_millis(2500);
    for key in keys {
        let path = format!("/service/{}/{key}", scope());
        let original = cluster.etcd.get(&path);
        let watch = PrimaryWatch::start(cluster);
        for value in garbage_for(&key) {
            cluster.etcd.put(&path, &value);
            bad_input_support::hold(cluster, &format!("{key} = {value}"), hold).await;
        }
        // Keys the daemons rewrite themselves are removed; the others get their value back.
        match (&original, key.as_str()) {
            (Some(v), "config" | "history" | "initialize") => cluster.etcd.put(&path, v),
            _ => cluster.etcd.delete(&path),
        }
        watch.finish(cluster, false).await;
        cluster.wait_healthy(1, Duration::from_secs(60)).await;
        // What was there comes back, by the test's hand or the daemons'.
        if original.is_some() && !matches!(key.as_str(), "sync" | "failover") {
            wait_for(
                &format!("a sane {key} again"),
                Duration::from_secs(20),
                || {
                    let ok = cluster.etcd.get(&path).is_some_and(|v| sane(&key, &v));
                    async move { ok.then_some(()) }
                },
            )
            .await;
        }
        assert_alive(cluster, &format!("after {key}"));
    }
}

/// Whether `value` is what the daemons keep at `key` (after they rewrote it).
fn sane(key: &str, value: &str) -> bool {
    let keys = [patroni_core::cluster::KeyValue {
        key: key.to_string(),
        value: value.to_string(),
        version: 0,
        session: None,
    }];
    let c = patroni_core::cluster::Cluster::from_keys(&keys);
    match key {
        "leader" => c.leader_name().is_some_and(|n| n.starts_with("pg")),
        "status" => c.status.last_lsn > 0,
        "config" => c.config_data().is_some(),
        "history" => c.history.is_some_and(|h| h.valid),
        "initialize" => c.system_id().is_some(),
        _ => c.members.first().is_some_and(|m| m.api_url().is_some()),
    }
}

/// Part a: a forged member answering each kind of garbage is offered as switchover and
/// failover candidate (the leader stays), then the leader is killed while the replica's
/// leader race polls forged members of every kind: the real replica takes over.
async fn forged_member(cluster: &mut TestCluster) {
    let leader = cluster.wait_healthy(1, Duration::from_secs(60)).await;
    let config = cluster.nodes[leader].config_path.clone();
    let watch = PrimaryWatch::start(cluster);
    let fakes: Vec<FakeMember> = Misbehaviour::ALL
        .iter()
        .filter(|m| **m != Misbehaviour::Healthy)
        .map(|m| FakeMember::start(&format!("fake-{m:?}").to_lowercase(), *m))
        .collect();
    for fake in &fakes {
        fake.register(&cluster.etcd, &scope());
    }
    for fake in &fakes {
        for args in [
            &["switchover", "--candidate", &fake.name, "--force"][..],
            &["switchover", "--candidate", &fake.name],
            &["failover", "--candidate", &fake.name, "--force"],
        ] {
            let (_, out) = patronictl(&config, args);
            assert!(!out.contains("panicked"), "patronictl {args:?}: {out}");
            assert_alive(cluster, &format!("patronictl {args:?}"));
        }
        assert!(fake.requests() > 0, "{} was never polled", fake.name);
    }
    // A failover key naming a fake is cleared by the leader (to `{}`, as upstream does).
    let key = format!("/service/{}/failover", scope());
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(value) = cluster
        .etcd
        .get(&key)
        .filter(|v| patroni_core::cluster::Failover::parse(v, 0).is_some())
    {
        assert!(
            Instant::now() < deadline,
            "the leader left failover = {value}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    watch.finish(cluster, true).await;
    assert_eq!(
        cluster.primaries().await,
        vec![leader],
        "{}",
        cluster.logs()
    );
    leader_race_polls_forged_members(cluster, leader, &fakes).await;
}

/// The leader is killed while forged members are registered: the real replica's leader race
/// polls every one of them and still takes over.
async fn leader_race_polls_forged_members(
    cluster: &mut TestCluster,
    leader: usize,
    fakes: &[FakeMember],
) {
    let before: Vec<usize> = fakes.iter().map(FakeMember::requests).collect();
    let watch = PrimaryWatch::start(cluster);
    cluster.nodes[leader].kill_daemon();
    cluster.nodes[leader].kill_postmaster();
    let replica = 1 - leader;
    wait_for(
        "the real replica to become the leader",
        Duration::from_secs(60),
        || async { (cluster.primaries().await == vec![replica]).then_some(()) },
    )
    .await;
    for (fake, before) in fakes.iter().zip(&before) {
        assert!(
            fake.requests() > *before,
            "the leader race never polled {}",
            fake.name
        );
    }
    watch.finish(cluster, false).await;
    assert!(
        cluster.nodes[replica].daemon_exited().is_none(),
        "{}",
        cluster.logs()
    );
    assert!(!cluster.nodes[replica].logs().contains("panicked"));
    bad_input_support::assert_rss_below(&cluster.nodes[replica], 256 << 20);
}

/// Huge timing values in the dynamic configuration (through `PATCH /config` and the DCS key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_timing_values_in_the_dynamic_configuration() {
    let mut cluster = TestCluster::new(binary(), 2, &OPTS);
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(60)).await;
    let port = cluster.nodes[leader].api_port;
    let watch = PrimaryWatch::start(&cluster);
    for body in [
        r#"{"loop_wait": 1e300}"#,
        r#"{"ttl": 99999999999999999999, "retry_timeout": -1}"#,
        r#"{"retry_timeout": 9223372036854775807}"#,
    ] {
        let answer = http_request(port, "PATCH", "/config", Some(body)).await;
        assert!(answer.is_some(), "{body}");
        bad_input_support::hold(&mut cluster, body, Duration::from_secs(3)).await;
    }
    cluster.etcd.put(
        &format!("/service/{}/config", scope()),
        r#"{"ttl": 30, "loop_wait": 2, "retry_timeout": 5}"#,
    );
    watch.finish(&mut cluster, false).await;
    cluster.wait_healthy(1, Duration::from_secs(60)).await;
}

/// A removed (or garbage) `status` key is written again by the leader at its next cycle, as
/// upstream does (it compares with the value it last read). Ours compares with the value it
/// last wrote, so on an idle cluster the key stays missing until WAL moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_status_key_is_written_again() {
    let mut cluster = TestCluster::new(binary(), 2, &OPTS);
    cluster.start_all();
    cluster.wait_healthy(1, Duration::from_secs(60)).await;
    let path = format!("/service/{}/status", scope());
    wait_for("the leader's status", Duration::from_secs(20), || {
        let ok = cluster.etcd.get(&path).is_some_and(|v| sane("status", &v));
        async move { ok.then_some(()) }
    })
    .await;
    // Once the cluster is idle (the optime stays put), nothing else makes the leader write.
    let mut stable = (cluster.etcd.get(&path), Instant::now());
    wait_for("an idle cluster", Duration::from_secs(60), || {
        let now = cluster.etcd.get(&path);
        if now != stable.0 {
            stable = (now, Instant::now());
        }
        // Past PostgreSQL's 15 s standby-snapshot interval, so no stray WAL moves it either.
        let idle = stable.1.elapsed() > Duration::from_secs(16);
        async move { idle.then_some(()) }
    })
    .await;
    cluster.etcd.put(&path, r#"{"optime": 1e300}"#);
    bad_input_support::hold(&mut cluster, "garbage status", Duration::from_secs(3)).await;
    cluster.etcd.delete(&path);
    // Upstream rewrites it at the next cycle (loop_wait is 1 s here).
    wait_for("status written again", Duration::from_secs(5), || {
        let ok = cluster.etcd.get(&path).is_some_and(|v| sane("status", &v));
        async move { ok.then_some(()) }
    })
    .await;
    assert_alive(&mut cluster, "status removed");
}
