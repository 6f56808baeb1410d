//! Interop, the other direction (issue 3 acceptance 8): Patroni 3.0.2's patronictl switches
//! our cluster over and edits its configuration; our patronictl lists and switches over a
//! cluster of Patroni 4.1 daemons (run from the same YAML our daemons use), on etcd v3 and on
//! ZooKeeper.

use std::path::Path;
use std::time::Duration;

use patroni_test_harness::{
    patronictl, reference_program, run_patronictl, sibling_binary, wait_for, DcsKind, NodeOptions,
    TestCluster,
};
use serde_json::Value;

/// (Member, Role, TL) of `list -f json`.
fn roles(program: &str, config: &Path) -> Vec<(String, String, i64)> {
    let (ok, out) = run_patronictl(Path::new(program), config, &["list", "-f", "json"]);
    assert!(ok, "{out}");
    let list: Vec<Value> = serde_json::from_str(out.trim()).unwrap_or_default();
    let mut rows: Vec<_> = list
        .iter()
        .map(|r| {
            (
                r["Member"].as_str().unwrap_or("").to_string(),
                r["Role"].as_str().unwrap_or("").to_string(),
                r["TL"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patroni_3_0_patronictl_switches_over_and_edits_our_cluster() {
    let ctl30 = reference_program("PATRONICTL_30", "/usr/bin/patronictl");
    let mut cluster = TestCluster::new(
        Path::new(env!("CARGO_BIN_EXE_patroni")),
        2,
        &NodeOptions::default(),
    );
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(40)).await;
    let other = 1 - leader;
    let config = cluster.nodes[0].config_path.clone();
    let (ok, out) = run_patronictl(
        Path::new(&ctl30),
        &config,
        &[
            "switchover",
            "--master",
            &cluster.nodes[leader].name,
            "--candidate",
            &cluster.nodes[other].name,
            "--force",
        ],
    );
    assert!(
        ok && out.contains(&format!(
            "Successfully switched over to \"{}\"",
            cluster.nodes[other].name
        )),
        "{out}"
    );
    assert_eq!(cluster.primaries().await, vec![other]);
    let (ok, out) = run_patronictl(
        Path::new(&ctl30),
        &config,
        &[
            "edit-config",
            "-s",
            "maximum_lag_on_failover=2097152",
            "--force",
        ],
    );
    assert!(ok && out.contains("Configuration changed"), "{out}");
    let (_, shown) = patronictl(&config, &["show-config"]);
    assert!(
        shown.contains("maximum_lag_on_failover: 2097152\n"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_patronictl_lists_and_switches_over_upstream_daemons() {
    lists_and_switches_over_upstream_daemons(DcsKind::Etcd3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_patronictl_lists_and_switches_over_upstream_daemons_on_zookeeper() {
    lists_and_switches_over_upstream_daemons(DcsKind::ZooKeeper).await;
}

/// Three Patroni 4.1 daemons on `dcs`: our patronictl reads the keys they wrote as theirs
/// does, and switches them over through their REST API.
async fn lists_and_switches_over_upstream_daemons(dcs: DcsKind) {
    let upstream = reference_program("PATRONI_41", "/opt/patroni-rs-venv/bin/patroni");
    let ctl41 = reference_program("PATRONICTL_41", "/opt/patroni-rs-venv/bin/patronictl");
    let ours = sibling_binary("patronictl").display().to_string();
    let opts = NodeOptions {
        dcs,
        ..Default::default()
    };
    let cluster = {
        let mut c = TestCluster::new(Path::new(&upstream), 3, &opts);
        c.start_all();
        c
    };
    let config = cluster.nodes[0].config_path.clone();
    let leader = wait_for(
        "an upstream cluster with a leader and two streaming replicas",
        Duration::from_secs(90),
        || async {
            let (ok, out) = run_patronictl(Path::new(&ctl41), &config, &["list", "-f", "json"]);
            if !ok {
                return None;
            }
            let list: Vec<Value> = serde_json::from_str(out.trim()).ok()?;
            let leader = list.iter().find(|r| r["Role"] == "Leader")?["Member"]
                .as_str()?
                .to_string();
            (list.iter().filter(|r| r["State"] == "streaming").count() == 2).then_some(leader)
        },
    )
    .await;
    assert_eq!(
        roles(&ours, &config),
        roles(&ctl41, &config),
        "our list of an upstream cluster"
    );
    let candidate = cluster
        .nodes
        .iter()
        .map(|n| n.name.clone())
        .find(|n| *n != leader)
        .expect("candidate");
    let (ok, out) = run_patronictl(
        Path::new(&ours),
        &config,
        &[
            "switchover",
            "--leader",
            &leader,
            "--candidate",
            &candidate,
            "--force",
        ],
    );
    assert!(
        ok && out.contains(&format!("Successfully switched over to \"{candidate}\"")),
        "{out}\n{}",
        cluster.logs()
    );
    let after = roles(&ours, &config);
    assert!(
        after
            .iter()
            .any(|(m, r, _)| *m == candidate && r == "Leader"),
        "{after:?}"
    );
}
