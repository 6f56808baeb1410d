//! `reinit` (issue 3 acceptance 6): a replica is re-cloned from the leader and streams again.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use patroni_test_harness::{
    http_request, pg_connect, sibling_binary, wait_for, NodeOptions, TestCluster,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinit_reclones_a_replica() {
    let mut cluster = TestCluster::new(
        Path::new(env!("CARGO_BIN_EXE_patroni")),
        2,
        &NodeOptions::default(),
    );
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(40)).await;
    let replica = 1 - leader;
    let c = pg_connect(cluster.nodes[leader].pg_port)
        .await
        .expect("connect");
    c.batch_execute("CREATE TABLE reinit_marker AS SELECT 42 AS answer")
        .await
        .expect("create");
    // A file no clone would bring: it must be gone after the re-clone.
    let stray = cluster.nodes[replica].data_dir.join("stray-file");
    std::fs::write(&stray, "left over").expect("write");

    let (code, text) = http_request(
        cluster.nodes[leader].api_port,
        "POST",
        "/reinitialize",
        Some("{}"),
    )
    .await
    .expect("answer");
    assert_eq!(
        (code, text.as_str()),
        (503, "I am the leader, can not reinitialize")
    );

    let out = Command::new(sibling_binary("patronictl"))
        .arg("-c")
        .arg(&cluster.nodes[0].config_path)
        .args([
            "reinit",
            "batman",
            &cluster.nodes[replica].name,
            "--force",
            "--wait",
        ])
        .output()
        .expect("patronictl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "Success: reinitialize for member {}",
            cluster.nodes[replica].name
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Reinitialize is completed on: {}",
            cluster.nodes[replica].name
        )),
        "{text}"
    );
    assert!(!stray.exists(), "the data directory was cloned again");

    let node = &cluster.nodes[replica];
    wait_for(
        "the re-cloned replica to stream",
        Duration::from_secs(30),
        || async {
            let s = node.status().await?;
            (s.get("replication_state")?.as_str()? == "streaming").then_some(())
        },
    )
    .await;
    let port = node.pg_port;
    wait_for(
        "the leader's rows on the replica",
        Duration::from_secs(10),
        || async move {
            let c = pg_connect(port).await.ok()?;
            let v: i32 = c
                .query_one("SELECT answer FROM reinit_marker", &[])
                .await
                .ok()?
                .get(0);
            (v == 42).then_some(())
        },
    )
    .await;
}
