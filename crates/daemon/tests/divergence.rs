//! A replica whose WAL receiver is down is not taken for diverged. After a switchover the old
//! primary streams the new timeline while its last restartpoint is still on the old one; when
//! the new leader restarts, the receiver is gone for a few seconds and the status query's
//! timeline fell back to the restartpoint's, paired with WAL received on the new timeline: the
//! check said "diverged" and rewound a healthy replica (or, without `use_pg_rewind`, stopped it
//! for good). The check now asks the replica which timeline it replays, as upstream does.

use std::path::Path;
use std::time::Duration;

use patroni_test_harness::{patronictl, wait_for, NodeOptions, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_the_new_leader_does_not_make_the_old_primary_look_diverged() {
    let opts = NodeOptions {
        scope: "restartpoint".into(),
        use_pg_rewind: false,
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 2, &opts);
    cluster.nodes[0].start();
    cluster.wait_healthy(0, Duration::from_secs(60)).await;
    cluster.nodes[1].start();
    cluster.wait_healthy(1, Duration::from_secs(60)).await;
    let config = cluster.nodes[0].config_path.clone();
    let (ok, out) = patronictl(
        &config,
        &[
            "switchover",
            "--leader",
            "pg0",
            "--candidate",
            "pg1",
            "--force",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(cluster.wait_healthy(1, Duration::from_secs(60)).await, 1);

    for round in 0..2 {
        let (ok, out) = patronictl(&config, &["restart", "restartpoint", "pg1", "--force"]);
        assert!(ok, "{out}");
        // Several of pg0's cycles pass while pg1 restarts and pg0's receiver reconnects.
        let cycles = |log: &str| log.matches("no action. I am (pg0)").count();
        let before = cycles(&cluster.nodes[0].logs());
        wait_for(
            "pg0's cycles during the restart",
            Duration::from_secs(60),
            || {
                let log = cluster.nodes[0].logs();
                async move { (cycles(&log) >= before + 4).then_some(()) }
            },
        )
        .await;
        cluster.wait_healthy(1, Duration::from_secs(60)).await;
        let log = cluster.nodes[0].logs();
        assert!(
            !log.contains("diverged"),
            "round {round}: pg0 was taken for diverged\n{log}"
        );
    }
}
