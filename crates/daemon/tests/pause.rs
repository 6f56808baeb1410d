//! Maintenance mode (issue 3 acceptance 5): `pause --wait`, then a killed primary is neither
//! failed over nor restarted; `resume --wait` brings automatic failover back.

use std::path::Path;
use std::time::{Duration, Instant};

use patroni_test_harness::{patronictl, pg_connect, wait_for, NodeOptions, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_cluster_does_not_fail_over_and_resume_restores_it() {
    let opts = NodeOptions::default();
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 3, &opts);
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(40)).await;
    let config = cluster.nodes[0].config_path.clone();

    let (ok, out) = patronictl(&config, &["pause", "--wait"]);
    assert!(
        ok && out.contains("'pause' request sent, waiting until it is recognized by all nodes")
            && out.ends_with("Success: cluster management is paused\n"),
        "{out}"
    );
    let (ok, out) = patronictl(&config, &["pause"]);
    assert!(
        !ok && out.contains("Error: Cluster is already paused"),
        "{out}"
    );
    let (_, out) = patronictl(&config, &["list"]);
    assert!(out.ends_with(" Maintenance mode: on\n"), "{out}");
    for n in &cluster.nodes {
        assert_eq!(n.status().await.expect("status")["pause"], true);
    }

    // Kill the primary's postmaster: for ttl + 3 loops nobody promotes and nobody restarts it.
    cluster.nodes[leader].kill_postmaster();
    let killed = &cluster.nodes[leader];
    wait_for("the postmaster to die", Duration::from_secs(5), || async {
        killed.postmaster_pid().is_none().then_some(())
    })
    .await;
    let window = Duration::from_secs(u64::from(opts.ttl + 3 * opts.loop_wait));
    let until = Instant::now() + window;
    while Instant::now() < until {
        for (i, n) in cluster.nodes.iter().enumerate() {
            if i == leader {
                assert!(
                    n.postmaster_pid().is_none(),
                    "the paused daemon restarted PostgreSQL\n{}",
                    n.logs()
                );
            } else {
                assert_ne!(
                    n.role().await.as_deref(),
                    Some("primary"),
                    "a replica was promoted in pause\n{}",
                    cluster.logs()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (ok, out) = patronictl(&config, &["resume", "--wait"]);
    assert!(
        ok && out.ends_with("Success: cluster management is resumed\n"),
        "{out}"
    );
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.pg_port).collect();
    let resumed = Instant::now();
    wait_for(
        "a writable primary after resume",
        Duration::from_secs(u64::from(opts.ttl + opts.loop_wait + 10)),
        || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    if let Ok(c) = pg_connect(port).await {
                        if c.batch_execute("CREATE TABLE IF NOT EXISTS after_resume (id int)")
                            .await
                            .is_ok()
                        {
                            return Some(());
                        }
                    }
                }
                None
            }
        },
    )
    .await;
    println!(
        "resume: a primary accepted writes {:?} after resume",
        resumed.elapsed()
    );
}
