//! Cluster tests (issue 2 acceptance 1–4, issue 4 acceptance 2–3): real PostgreSQL 15, real
//! etcd (v3 and v2 APIs) or ZooKeeper, three daemons as the `postgres` user, driven through
//! the REST API and SQL.

use std::path::Path;
use std::time::{Duration, Instant};

use patroni_test_harness::{pg_connect, wait_for, DcsKind, NodeOptions, TestCluster};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_patroni"))
}

/// Rows of table `t` visible on the node at `port`.
async fn count_rows(port: u16) -> Option<i64> {
    let c = pg_connect(port).await.ok()?;
    c.query_one("SELECT count(*) FROM t", &[])
        .await
        .ok()
        .map(|r| r.get(0))
}

/// Inserts row `id` on the node at `port`; `true` when it committed.
async fn insert(port: u16, id: i64) -> bool {
    let Ok(c) = pg_connect(port).await else {
        return false;
    };
    c.execute("INSERT INTO t (id) VALUES ($1)", &[&id])
        .await
        .is_ok()
}

async fn create_table(port: u16) {
    let c = pg_connect(port).await.expect("connect to the leader");
    c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)")
        .await
        .expect("create table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_bootstrap_replicate_and_fail_over_after_kill_9() {
    bootstrap_replicate_fail_over_and_rejoin(DcsKind::Etcd3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_on_etcd_v2() {
    bootstrap_replicate_fail_over_and_rejoin(DcsKind::Etcd2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_on_zookeeper() {
    bootstrap_replicate_fail_over_and_rejoin(DcsKind::ZooKeeper).await;
}

/// Bootstrap, replication, kill -9 of the leader, failover within ttl + loop_wait + 5 s with
/// no acknowledged row lost, and the old leader's rejoin through pg_rewind, on `dcs`.
async fn bootstrap_replicate_fail_over_and_rejoin(dcs: DcsKind) {
    let opts = NodeOptions {
        dcs,
        ..Default::default()
    };
    let mut cluster = TestCluster::new(binary(), 3, &opts);
    let started = Instant::now();
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(30)).await;
    println!(
        "bootstrap: one leader and two streaming replicas after {:?}",
        started.elapsed()
    );

    // Acceptance 1: a row written on the leader is read on both replicas.
    create_table(cluster.nodes[leader].pg_port).await;
    for id in 0..100 {
        assert!(
            insert(cluster.nodes[leader].pg_port, id).await,
            "insert {id} on the leader"
        );
    }
    let replicas: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    for &r in &replicas {
        let port = cluster.nodes[r].pg_port;
        wait_for("rows replicated", Duration::from_secs(10), || async move {
            (count_rows(port).await == Some(100)).then_some(())
        })
        .await;
    }

    // Acceptance 2: kill -9 of the leader's daemon and postmaster.
    let killed = Instant::now();
    cluster.nodes[leader].kill_daemon();
    cluster.nodes[leader].kill_postmaster();
    let bound = Duration::from_secs(u64::from(opts.ttl + opts.loop_wait + 5));
    let ports: Vec<u16> = replicas.iter().map(|&r| cluster.nodes[r].pg_port).collect();
    let new_leader = wait_for("a replica to accept writes", bound, || {
        let ports = ports.clone();
        let replicas = replicas.clone();
        async move {
            for (i, port) in ports.iter().enumerate() {
                if insert(*port, 1000 + i as i64).await {
                    return Some(replicas[i]);
                }
            }
            None
        }
    })
    .await;
    println!(
        "failover ({dcs:?}): writes accepted on pg{new_leader} {:?} after kill -9",
        killed.elapsed()
    );
    let new_port = cluster.nodes[new_leader].pg_port;
    let c = pg_connect(new_port)
        .await
        .expect("connect to the new primary");
    let kept: i64 = c
        .query_one("SELECT count(*) FROM t WHERE id < 100", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        kept, 100,
        "every row both replicas had received is on the new primary"
    );

    // The killed node rejoins as a replica of the new leader on the new timeline.
    let timeline = cluster.nodes[new_leader]
        .status()
        .await
        .and_then(|s| s.get("timeline")?.as_u64())
        .expect("timeline");
    assert!(timeline >= 2, "the new leader runs on a new timeline");
    cluster.nodes[leader].start();
    let old = &cluster.nodes[leader];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = old.status().await;
        let streaming = s.as_ref().is_some_and(|s| {
            s.get("role").and_then(|v| v.as_str()) == Some("replica")
                && s.get("replication_state").and_then(|v| v.as_str()) == Some("streaming")
                && s.get("timeline").and_then(|v| v.as_u64()) == Some(timeline)
        });
        if streaming {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old leader did not stream from the new one on timeline {timeline} within 60 s; last status {s:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = cluster.nodes[leader].logs();
    assert!(
        log.contains("running pg_rewind from")
            && !log.contains("reinitializing due to diverged timelines"),
        "the old leader rejoined through pg_rewind, not a new clone:\n{log}"
    );
    assert!(insert(new_port, 5000).await);
    let old_port = old.pg_port;
    wait_for(
        "a new row on the rejoined node",
        Duration::from_secs(10),
        || async move {
            let c = pg_connect(old_port).await.ok()?;
            let n: i64 = c
                .query_one("SELECT count(*) FROM t WHERE id = 5000", &[])
                .await
                .ok()?
                .get(0);
            (n == 1).then_some(())
        },
    )
    .await;
    assert_eq!(
        cluster.primaries().await,
        vec![new_leader],
        "exactly one primary\n{}",
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_the_leader_releases_the_lock_at_once() {
    let opts = NodeOptions {
        ttl: 30,
        loop_wait: 2,
        retry_timeout: 5,
        ..Default::default()
    };
    let mut cluster = TestCluster::new(binary(), 3, &opts);
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(30)).await;
    create_table(cluster.nodes[leader].pg_port).await;

    let stopped = Instant::now();
    let status = cluster.nodes[leader]
        .terminate()
        .expect("daemon exit status");
    assert!(
        status.success(),
        "the daemon exits cleanly on SIGTERM: {status:?}"
    );
    assert!(
        cluster.nodes[leader].postmaster_pid().is_none(),
        "PostgreSQL was stopped"
    );
    let others: Vec<(usize, u16)> = (0..3)
        .filter(|&i| i != leader)
        .map(|i| (i, cluster.nodes[i].pg_port))
        .collect();
    let bound = Duration::from_secs(u64::from(opts.loop_wait + 5));
    let winner = wait_for("a new leader accepting writes", bound, || {
        let others = others.clone();
        async move {
            for (i, port) in others {
                if insert(port, i as i64).await {
                    return Some(i);
                }
            }
            None
        }
    })
    .await;
    println!("SIGTERM: pg{winner} accepted writes {:?} after the leader's daemon was told to stop (ttl is {}s)", stopped.elapsed(), opts.ttl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_started_at_once_never_both_run_a_primary() {
    let mut cluster = TestCluster::new(binary(), 2, &NodeOptions::default());
    cluster.start_all();
    // Sample both nodes for 30 s: the race, the bootstrap and the clone of the loser.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut saw_leader = false;
    while Instant::now() < deadline {
        let mut primaries = 0;
        for n in &cluster.nodes {
            if n.role().await.as_deref() == Some("primary") {
                primaries += 1;
            }
        }
        assert!(primaries <= 1, "two primaries at once\n{}", cluster.logs());
        let holders = cluster.primaries().await;
        assert!(holders.len() <= 1, "two lock holders at once");
        saw_leader |= primaries == 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_leader, "a leader was elected\n{}", cluster.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcs_outage_stops_writes_before_the_ttl_and_the_cluster_recovers() {
    outage_demotes_and_the_cluster_recovers(DcsKind::Etcd3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_outage_past_the_session_timeout_demotes_and_the_cluster_recovers() {
    outage_demotes_and_the_cluster_recovers(DcsKind::ZooKeeper).await;
}

/// The DCS server stops for longer than the ttl (the ZooKeeper session timeout): the primary
/// stops taking writes before the ttl, no node takes writes while the server is down, and
/// once it is back the cluster elects a leader and streams again, no daemon restarted.
async fn outage_demotes_and_the_cluster_recovers(dcs: DcsKind) {
    let opts = NodeOptions {
        dcs,
        ..Default::default()
    };
    let mut cluster = TestCluster::new(binary(), 3, &opts);
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(30)).await;
    let port = cluster.nodes[leader].pg_port;
    create_table(port).await;

    // From the moment the server stops, no renewal can succeed: the primary must stop taking
    // writes before `ttl` has passed (it may have renewed just before the stop).
    cluster.stop_dcs();
    let stopped = Instant::now();
    let ttl = Duration::from_secs(u64::from(opts.ttl));
    let mut id = 0;
    let refused_after = wait_for("the primary to refuse writes", ttl, || {
        id += 1;
        let id = id;
        async move { (!insert(port, id).await).then(|| stopped.elapsed()) }
    })
    .await;
    println!(
        "DCS outage ({dcs:?}): the primary refused writes {refused_after:?} after the server stopped (ttl {ttl:?})"
    );
    // And it stays that way while the DCS is gone, past the ttl (every session expired).
    while stopped.elapsed() < ttl + Duration::from_secs(3) {
        for n in &cluster.nodes {
            assert!(
                !insert(n.pg_port, 100_000).await,
                "a writable primary without the lock"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    cluster.restart_dcs();
    let recovered = Instant::now();
    cluster.wait_healthy(2, Duration::from_secs(90)).await;
    println!(
        "DCS back ({dcs:?}): one leader and two streaming replicas {:?} after the server restarted",
        recovered.elapsed()
    );
}
