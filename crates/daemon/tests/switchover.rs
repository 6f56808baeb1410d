//! Switchover and failover (issue 3 acceptance 1–3 and 8, first part): through our
//! patronictl and Patroni 4.1's, with a writer that must lose no acknowledged row.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patroni_test_harness::{
    http_request, patronictl, pg_connect, wait_for, NodeOptions, TestCluster,
};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_patroni"))
}

/// A writer inserting one row every 20 ms into whichever node takes it; returns the ids
/// that were acknowledged and the longest time writes were refused.
fn start_writer(
    ports: Vec<u16>,
    stop: Arc<Mutex<bool>>,
) -> tokio::task::JoinHandle<(Vec<i64>, Duration)> {
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut longest = Duration::ZERO;
        let mut last_ok = Instant::now();
        let mut clients: Vec<Option<tokio_postgres::Client>> = ports.iter().map(|_| None).collect();
        let mut id = 0i64;
        while !*stop.lock().expect("lock") {
            id += 1;
            let mut done = false;
            for (i, port) in ports.iter().enumerate() {
                if clients[i].as_ref().is_none_or(|c| c.is_closed()) {
                    clients[i] = pg_connect(*port).await.ok();
                }
                let Some(c) = &clients[i] else { continue };
                if c.execute("INSERT INTO t (id) VALUES ($1)", &[&id])
                    .await
                    .is_ok()
                {
                    done = true;
                    break;
                }
            }
            if done {
                acked.push(id);
                longest = longest.max(last_ok.elapsed());
                last_ok = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (acked, longest)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_loses_no_acknowledged_row_and_the_old_primary_streams_again() {
    let mut cluster = TestCluster::new(binary(), 3, &NodeOptions::default());
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(30)).await;
    let c = pg_connect(cluster.nodes[leader].pg_port)
        .await
        .expect("connect");
    c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)")
        .await
        .expect("create");
    let candidate = (leader + 1) % 3;
    let (a, b) = (
        cluster.nodes[leader].name.clone(),
        cluster.nodes[candidate].name.clone(),
    );

    let stop = Arc::new(Mutex::new(false));
    let writer = start_writer(
        cluster.nodes.iter().map(|n| n.pg_port).collect(),
        Arc::clone(&stop),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let config = cluster.nodes[0].config_path.clone();
    let started = Instant::now();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        patronictl(
            &config,
            &["switchover", "--leader", &a, "--candidate", &b, "--force"],
        )
    })
    .await
    .expect("patronictl");
    println!("switchover took {:?}", started.elapsed());
    assert!(
        ok && out.contains(&format!(
            "Successfully switched over to \"{}\"",
            cluster.nodes[candidate].name
        )),
        "{out}\n{}",
        cluster.logs()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    *stop.lock().expect("lock") = true;
    let (acked, longest) = writer.await.expect("writer");
    println!(
        "switchover: {} rows acknowledged, writes refused for at most {longest:?}",
        acked.len()
    );

    assert_eq!(cluster.primaries().await, vec![candidate]);
    let c = pg_connect(cluster.nodes[candidate].pg_port)
        .await
        .expect("connect");
    let rows: Vec<i64> = c
        .query("SELECT id FROM t", &[])
        .await
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<i64> = acked
        .iter()
        .filter(|id| !rows.contains(id))
        .copied()
        .collect();
    assert!(missing.is_empty(), "acknowledged rows lost: {missing:?}");

    let timeline = cluster.nodes[candidate]
        .status()
        .await
        .and_then(|s| s.get("timeline")?.as_u64())
        .expect("timeline");
    let old = &cluster.nodes[leader];
    wait_for(
        "the old primary to stream from the new one",
        Duration::from_secs(30),
        || async {
            let s = old.status().await?;
            (s.get("role")?.as_str()? == "replica"
                && s.get("replication_state")?.as_str()? == "streaming"
                && s.get("timeline")?.as_u64()? == timeline)
                .then_some(())
        },
    )
    .await;
    let log = old.logs();
    assert!(
        !log.contains("pg_rewind") && !log.contains("reinitializing"),
        "rejoined without rewind or re-clone:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_upstream_patronictl_switches_over() {
    let mut cluster = TestCluster::new(
        binary(),
        3,
        &NodeOptions {
            tags: "  nofailover: true".into(),
            ..Default::default()
        },
    );
    // pg2 is nofailover; pg0 and pg1 may lead.
    for i in 0..2 {
        let path = &cluster.nodes[i].config_path;
        let text = std::fs::read_to_string(path).expect("read");
        std::fs::write(
            path,
            text.replace("  nofailover: true", "  nofailover: false"),
        )
        .expect("write");
    }
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(40)).await;
    let name = |i: usize| cluster.nodes[i].name.clone();
    let port = cluster.nodes[leader].api_port;
    let other = if leader == 0 { 1 } else { 0 };
    let post = |path: &'static str, body: String| async move {
        http_request(port, "POST", path, Some(&body))
            .await
            .expect("answer")
    };

    let (code, text) = post(
        "/switchover",
        format!(r#"{{"leader":"{}","candidate":"nosuch"}}"#, name(leader)),
    )
    .await;
    assert_eq!((code, text.as_str()), (412, "candidate does not exists"));
    let (code, text) = post(
        "/switchover",
        format!(r#"{{"leader":"{}","candidate":"pg2"}}"#, name(leader)),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (
            412,
            "switchover is not possible: no good candidates have been found"
        ),
        "pg2 is nofailover"
    );
    let (code, text) = post(
        "/switchover",
        format!(
            r#"{{"leader":"{}","candidate":"{}"}}"#,
            name(leader),
            name(leader)
        ),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (400, "Switchover target and source are the same")
    );
    let (code, text) = post(
        "/switchover",
        format!(
            r#"{{"leader":"{}","candidate":"{}"}}"#,
            name(other),
            name(leader)
        ),
    )
    .await;
    assert_eq!((code, text.as_str()), (412, "leader name does not match"));
    let (code, text) = post(
        "/switchover",
        format!(r#"{{"candidate":"{}"}}"#, name(other)),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (
            400,
            "Switchover could be performed only from a specific leader"
        )
    );
    let (code, text) = post("/failover", "{\"leader\":5}".into()).await;
    assert_eq!((code, text.as_str()), (400, "leader should be a string"));
    let (code, _) = post("/failover", "{}".into()).await;
    assert_eq!(code, 400);
    let (code, _) = post("/switchover", "not json".into()).await;
    assert_eq!(code, 400);
    let (code, text) = post(
        "/switchover",
        format!(
            r#"{{"leader":"{}","candidate":"{}","scheduled_at":"2001-01-01T00:00:00+00:00"}}"#,
            name(leader),
            name(other)
        ),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (422, "Cannot schedule switchover in the past")
    );
    let (code, text) = post(
        "/switchover",
        format!(
            r#"{{"leader":"{}","candidate":"{}","scheduled_at":"2099-01-01T00:00:00"}}"#,
            name(leader),
            name(other)
        ),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (
            400,
            "Timezone information is mandatory for the scheduled switchover"
        )
    );

    // A scheduled switchover is shown by list and cancelled by DELETE /switchover.
    let (code, text) = post(
        "/switchover",
        format!(
            r#"{{"leader":"{}","candidate":"{}","scheduled_at":"2099-01-01T00:00:00+00:00"}}"#,
            name(leader),
            name(other)
        ),
    )
    .await;
    assert_eq!((code, text.as_str()), (202, "Switchover scheduled"));
    let (_, out) = patronictl(&cluster.nodes[0].config_path, &["list"]);
    assert!(
        out.contains(" Switchover scheduled at: 2099-01-01T00:00:00+00:00\n"),
        "{out}"
    );
    let (code, text) = http_request(port, "DELETE", "/switchover", None)
        .await
        .expect("answer");
    assert_eq!((code, text.as_str()), (200, "scheduled switchover deleted"));
    let (code, text) = http_request(port, "DELETE", "/switchover", None)
        .await
        .expect("answer");
    assert_eq!((code, text.as_str()), (404, "no switchover is scheduled"));

    // Our patronictl refuses what upstream refuses.
    let (ok, out) = patronictl(
        &cluster.nodes[0].config_path,
        &[
            "switchover",
            "--leader",
            &name(leader),
            "--candidate",
            "pg2",
            "--force",
        ],
    );
    assert!(
        !ok && out.contains(
            "Error: Member pg2 does not exist in cluster batman or is tagged as nofailover"
        ),
        "{out}"
    );
    let (ok, out) = patronictl(&cluster.nodes[0].config_path, &["failover", "--force"]);
    assert!(
        !ok && out.contains("Error: Failover could be performed only to a specific candidate"),
        "{out}"
    );
    let (ok, out) = patronictl(
        &cluster.nodes[0].config_path,
        &["switchover", "--leader", &name(leader)],
    );
    assert!(
        !ok && out.contains("no terminal to ask on; pass --candidate"),
        "without a terminal it fails instead of hanging: {out}"
    );

    // Patroni 4.1's patronictl switches our cluster over.
    let ctl41 = std::env::var("PATRONICTL_41")
        .unwrap_or_else(|_| "/opt/patroni-rs-venv/bin/patronictl".into());
    let out = Command::new(&ctl41)
        .arg("-c")
        .arg(&cluster.nodes[0].config_path)
        .args([
            "switchover",
            "--leader",
            &name(leader),
            "--candidate",
            &name(other),
            "--force",
        ])
        .output()
        .expect("upstream patronictl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.contains(&format!(
                "Successfully switched over to \"{}\"",
                name(other)
            )),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cluster.primaries().await, vec![other]);

    // A failover to a named candidate through our patronictl, back to the first leader.
    let (ok, out) = patronictl(
        &cluster.nodes[0].config_path,
        &["failover", "--candidate", &name(leader), "--force"],
    );
    assert!(
        ok && out.contains(&format!("Successfully failed over to \"{}\"", name(leader))),
        "{out}"
    );
    assert_eq!(cluster.primaries().await, vec![leader]);

    // With the leader's PostgreSQL stopped by hand, a failover to a named candidate works.
    if let Some(pid) = cluster.nodes[leader].postmaster_pid() {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
    }
    let (ok, out) = patronictl(
        &cluster.nodes[0].config_path,
        &["failover", "--candidate", &name(other), "--force"],
    );
    assert!(
        ok && out.contains(&format!("Successfully failed over to \"{}\"", name(other))),
        "{out}\n{}",
        cluster.logs()
    );
    assert_eq!(cluster.primaries().await, vec![other]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_switchover_happens_at_its_time() {
    let mut cluster = TestCluster::new(binary(), 2, &NodeOptions::default());
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(40)).await;
    let other = 1 - leader;
    let at_text = (chrono::Utc::now() + chrono::Duration::seconds(8))
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    // The schedule as sent, whole seconds.
    let at = chrono::DateTime::parse_from_rfc3339(&at_text)
        .expect("timestamp")
        .with_timezone(&chrono::Utc);
    let (ok, out) = patronictl(
        &cluster.nodes[0].config_path,
        &[
            "switchover",
            "--leader",
            &cluster.nodes[leader].name,
            "--candidate",
            &cluster.nodes[other].name,
            "--scheduled",
            &at_text,
            "--force",
        ],
    );
    assert!(ok && out.contains("Switchover scheduled"), "{out}");
    let new_leader = wait_for(
        "the scheduled switchover",
        Duration::from_secs(30),
        || async {
            let p = cluster.primaries().await;
            (p == vec![other]).then_some(chrono::Utc::now())
        },
    )
    .await;
    let early = (at - new_leader).num_milliseconds();
    println!(
        "scheduled switchover: new leader {} ms after the scheduled time",
        -early
    );
    assert!(
        early <= 0,
        "the switchover happened {early} ms before its time"
    );
}

/// A candidate whose walreceiver is stopped falls more than `maximum_lag_on_failover`
/// (1 MiB here) behind: the leader refuses to hand over and stays the leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_to_a_lagging_candidate_is_refused() {
    let mut cluster = TestCluster::new(binary(), 2, &NodeOptions::default());
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(30)).await;
    let replica = 1 - leader;
    let (leader_name, replica_name) = (
        cluster.nodes[leader].name.clone(),
        cluster.nodes[replica].name.clone(),
    );
    let r = pg_connect(cluster.nodes[replica].pg_port)
        .await
        .expect("connect replica");
    let walreceiver: i32 = r
        .query_one("SELECT pid FROM pg_stat_wal_receiver", &[])
        .await
        .expect("walreceiver")
        .get(0);
    let stop = |sig| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(walreceiver), sig).expect("signal");
    };
    patroni_test_harness::freeze(walreceiver).await;
    let l = pg_connect(cluster.nodes[leader].pg_port)
        .await
        .expect("connect leader");
    l.batch_execute(
        "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
    )
    .await
    .expect("write 4 MB");
    let config = cluster.nodes[0].config_path.clone();
    let (ok, out) = patronictl(
        &config,
        &[
            "switchover",
            "--leader",
            &leader_name,
            "--candidate",
            &replica_name,
            "--force",
        ],
    );
    stop(nix::sys::signal::Signal::SIGCONT);
    assert!(
        out.contains("Switchover failed, details: 503, Switchover failed"),
        "{ok} {out}"
    );
    assert!(
        cluster.nodes[leader].logs().contains(&format!(
            "Member {replica_name} exceeds maximum replication lag"
        )),
        "{}",
        cluster.logs()
    );
    assert_eq!(cluster.primaries().await, vec![leader]);
    // Resumed, the replica catches up and streams again.
    cluster.wait_healthy(1, Duration::from_secs(30)).await;
}
