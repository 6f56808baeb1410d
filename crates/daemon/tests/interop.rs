//! Interop (issue 2 acceptance 5): Patroni's own patronictl — 4.1.x from PyPI and 3.0.2
//! from Debian — lists our cluster with the same members, roles, states and timelines as
//! ours; ours works from `PATRONI_*` variables alone; a daemon whose file has no DCS section
//! takes it from the environment.
//!
//! The reference patronictls are installed by `ci/setup.sh`; override their paths with
//! `PATRONICTL_41` and `PATRONICTL_30`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use patroni_test_harness::{
    reference_program, sibling_binary, wait_for, DcsKind, NodeOptions, TestCluster,
};
use serde_json::Value;

/// (Member, Role, State, TL) rows of `patronictl list -f json`.
fn rows(program: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<(String, String, String, i64)> {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run patronictl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{program}: not JSON ({e}): {stdout}"));
    let mut rows: Vec<_> = list
        .iter()
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (
                s("Member"),
                s("Role"),
                s("State"),
                r.get("TL").and_then(Value::as_i64).unwrap_or(-1),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Our listing once it has settled: three members on one timeline, one leader and two
/// streaming replicas.
async fn settled_listing(ours: &str, args: &[&str]) -> Vec<(String, String, String, i64)> {
    wait_for(
        "one leader and two streaming replicas on one timeline in our listing",
        Duration::from_secs(20),
        || async move {
            let r = rows(ours, args, &[]);
            (r.len() == 3
                && r.iter().all(|m| m.3 == r[0].3 && m.3 > 0)
                && r.iter().filter(|m| m.2 == "streaming").count() == 2
                && r.iter().filter(|m| m.1 == "Leader").count() == 1)
                .then_some(r)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_patronictl_lists_our_cluster() {
    let ctl41 = reference_program("PATRONICTL_41", "/opt/patroni-rs-venv/bin/patronictl");
    let ctl30 = reference_program("PATRONICTL_30", "/usr/bin/patronictl");
    let ours = sibling_binary("patronictl");
    assert!(
        ours.exists(),
        "build patronictl first (cargo build --workspace)"
    );
    let ours = ours.display().to_string();

    let mut cluster = TestCluster::new(
        Path::new(env!("CARGO_BIN_EXE_patroni")),
        3,
        &NodeOptions::default(),
    );
    // pg2's file has no DCS section: the environment supplies it.
    cluster.nodes[2].remove_dcs_section();
    cluster.nodes[2].env.push((
        "PATRONI_ETCD3_HOSTS".into(),
        format!("'{}'", cluster.etcd.endpoint()),
    ));
    cluster.start_all();
    cluster.wait_healthy(2, Duration::from_secs(60)).await;

    let config = cluster.nodes[0].config_path.display().to_string();
    let args = ["-c", config.as_str(), "list", "-f", "json"];
    let expected = settled_listing(&ours, &args).await;
    assert_eq!(rows(&ctl41, &args, &[]), expected, "Patroni 4.1 patronictl");
    // 3.0.2 predates `replication_state` (3.0.4) and prints the member key's `state`, which
    // is `running` for a streaming replica: the same listing, in 3.0.2's words.
    let expected_30: Vec<_> = expected
        .iter()
        .map(|(m, r, _, tl)| (m.clone(), r.clone(), "running".to_string(), *tl))
        .collect();
    assert_eq!(
        rows(&ctl30, &args, &[]),
        expected_30,
        "Patroni 3.0.2 patronictl"
    );

    // Ours with no -c, from the environment alone (and the same for upstream's).
    let endpoint = cluster.etcd.endpoint();
    let env = [
        ("PATRONI_ETCD3_HOST", endpoint.as_str()),
        ("PATRONI_SCOPE", "batman"),
    ];
    assert_eq!(
        rows(&ours, &["list", "-f", "json"], &env),
        expected,
        "ours from PATRONI_* only"
    );
    assert_eq!(
        rows(&ctl41, &["list", "-f", "json"], &env),
        expected,
        "upstream from PATRONI_* only"
    );

    // --dcs-url instead of a configuration file.
    let url = format!("etcd3://{endpoint}/service");
    assert_eq!(
        rows(
            &ours,
            &["--dcs-url", &url, "list", "batman", "-f", "json"],
            &[]
        ),
        expected,
        "ours with --dcs-url"
    );

    // The pretty table header upstream users read.
    let out = Command::new(&ours)
        .args(["-c", config.as_str(), "list"])
        .output()
        .expect("list");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("+ Cluster: batman ("), "{text}");
    assert!(text.contains("| Member | Host            | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag |"), "{text}");
}

/// Issue 4 acceptance 4: Patroni 4.1's patronictl lists our cluster on ZooKeeper (and on the
/// etcd v2 API) as ours does, and ours reaches it with `--dcs-url zookeeper://...`.
async fn upstream_lists_our_cluster_on(dcs: DcsKind) {
    let ctl41 = reference_program("PATRONICTL_41", "/opt/patroni-rs-venv/bin/patronictl");
    let ours = sibling_binary("patronictl").display().to_string();
    let opts = NodeOptions {
        dcs,
        ..Default::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 3, &opts);
    cluster.start_all();
    cluster.wait_healthy(2, Duration::from_secs(60)).await;
    let config = cluster.nodes[0].config_path.display().to_string();
    let args = ["-c", config.as_str(), "list", "-f", "json"];
    let expected = settled_listing(&ours, &args).await;
    assert_eq!(
        rows(&ctl41, &args, &[]),
        expected,
        "Patroni 4.1 patronictl on {dcs:?}"
    );
    if let Some(zk) = &cluster.zookeeper {
        let url = format!("zookeeper://{}/service", zk.endpoint());
        let by_url = ["--dcs-url", url.as_str(), "list", "batman", "-f", "json"];
        assert_eq!(rows(&ours, &by_url, &[]), expected, "ours with --dcs-url");
        assert_eq!(
            rows(&ctl41, &by_url, &[]),
            expected,
            "upstream with --dcs-url"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_patronictl_lists_our_cluster_on_zookeeper() {
    upstream_lists_our_cluster_on(DcsKind::ZooKeeper).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_patronictl_lists_our_cluster_on_etcd_v2() {
    upstream_lists_our_cluster_on(DcsKind::Etcd2).await;
}
