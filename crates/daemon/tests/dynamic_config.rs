//! Dynamic configuration (issue 3 acceptance 4 and 8, first part): `show-config`,
//! `edit-config`, `PATCH`/`PUT /config`, parameters reloaded on every member, restart-only
//! parameters reported as pending restart.

use std::path::Path;
use std::time::{Duration, Instant};

use patroni_test_harness::{
    http_get, http_request, patronictl, pg_connect, reference_program, run_patronictl, wait_for,
    NodeOptions, TestCluster,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_changes_reach_every_member() {
    let opts = NodeOptions::default();
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 3, &opts);
    cluster.start_all();
    let leader = cluster.wait_healthy(2, Duration::from_secs(40)).await;
    let config = cluster.nodes[0].config_path.clone();

    let (ok, out) = patronictl(&config, &["show-config"]);
    assert!(ok, "{out}");
    assert_eq!(
        out,
        "loop_wait: 2\nmaximum_lag_on_failover: 1048576\npostgresql:\n  parameters:\n    wal_keep_size: 128MB\n  use_pg_rewind: true\n  use_slots: true\nretry_timeout: 5\nttl: 20\n\n"
    );

    let (ok, out) = patronictl(&config, &["edit-config", "-p", "work_mem=16MB", "--force"]);
    let changed = Instant::now();
    assert!(
        ok && out.contains("--- \n+++ \n")
            && out.contains("+    work_mem: 16MB\n")
            && out.ends_with("Configuration changed\n"),
        "{out}"
    );
    for n in &cluster.nodes {
        let port = n.pg_port;
        wait_for(
            "work_mem = 16MB",
            Duration::from_secs(u64::from(opts.loop_wait) + 2),
            || async move {
                let c = pg_connect(port).await.ok()?;
                let v: String = c.query_one("SHOW work_mem", &[]).await.ok()?.get(0);
                (v == "16MB").then_some(())
            },
        )
        .await;
    }
    println!(
        "work_mem reached every member {:?} after edit-config",
        changed.elapsed()
    );
    let (ok, out) = patronictl(&config, &["edit-config", "-p", "work_mem=16MB", "--force"]);
    assert!(ok && out == "Not changed\n", "{out}");

    let (ok, out) = patronictl(
        &config,
        &["edit-config", "-p", "max_connections=200", "--force"],
    );
    assert!(ok, "{out}");
    for n in &cluster.nodes {
        wait_for("pending restart", Duration::from_secs(20), || async {
            let s = n.status().await?;
            let reason = s
                .get("pending_restart_reason")?
                .get("max_connections")?
                .clone();
            (s.get("pending_restart")?.as_bool()?
                && reason["old_value"] == "100"
                && reason["new_value"] == "200")
                .then_some(())
        })
        .await;
    }
    let config_for_list = config.clone();
    wait_for(
        "list to show the pending restarts",
        Duration::from_secs(10),
        || {
            let config = config_for_list.clone();
            async move {
                let (_, out) = patronictl(&config, &["list"]);
                (out.contains("| Pending restart | Pending restart reason")
                    && out
                        .matches("| *               | max_connections: 100->200 |")
                        .count()
                        == 3)
                    .then_some(())
            }
        },
    )
    .await;

    // restart --pending restarts every member, replicas before the primary.
    let (ok, out) = patronictl(&config, &["restart", "batman", "--pending", "--force"]);
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("Success: restart on member "))
        .collect();
    assert!(ok && lines.len() == 3, "{out}");
    assert_eq!(
        lines[2],
        format!("Success: restart on member {}", cluster.nodes[leader].name),
        "the primary comes last: {out}"
    );
    for n in &cluster.nodes {
        let port = n.pg_port;
        wait_for(
            "max_connections = 200 and no pending restart",
            Duration::from_secs(20),
            || async move {
                let c = pg_connect(port).await.ok()?;
                let v: String = c.query_one("SHOW max_connections", &[]).await.ok()?.get(0);
                (v == "200").then_some(())
            },
        )
        .await;
        wait_for(
            "pending restart cleared",
            Duration::from_secs(10),
            || async {
                let s = n.status().await?;
                s.get("pending_restart").is_none().then_some(())
            },
        )
        .await;
    }
    assert_eq!(
        cluster.primaries().await,
        vec![leader],
        "the leader kept its lock through the restart"
    );

    // A scheduled restart is published, refused twice, and cancelled.
    let api = cluster.nodes[leader].api_port;
    let (code, text) = http_request(
        api,
        "POST",
        "/restart",
        Some(r#"{"schedule":"2099-01-01T00:00:00+00:00"}"#),
    )
    .await
    .expect("POST");
    assert_eq!((code, text.as_str()), (202, "Restart scheduled"));
    let (code, text) = http_request(
        api,
        "POST",
        "/restart",
        Some(r#"{"schedule":"2099-01-01T00:00:00+00:00"}"#),
    )
    .await
    .expect("POST");
    assert_eq!(
        (code, text.as_str()),
        (409, "Another restart is already scheduled")
    );
    let doc = cluster.nodes[leader].status().await.expect("status");
    assert_eq!(
        doc["scheduled_restart"],
        serde_json::json!({"schedule": "2099-01-01T00:00:00+00:00"})
    );
    let (code, text) = http_request(api, "DELETE", "/restart", None)
        .await
        .expect("DELETE");
    assert_eq!((code, text.as_str()), (200, "scheduled restart deleted"));
    let (code, text) = http_request(api, "DELETE", "/restart", None)
        .await
        .expect("DELETE");
    assert_eq!((code, text.as_str()), (404, "no restarts are scheduled"));
    for (body, expected) in [
        (
            r#"{"role":"master"}"#,
            "PostgreSQL role should be either primary, standby_leader, or replica",
        ),
        (
            r#"{"foo":1}"#,
            "Unknown filter for the scheduled restart: foo",
        ),
        (
            r#"{"timeout":-1}"#,
            "Timeout should be a positive number of seconds",
        ),
    ] {
        let (code, text) = http_request(api, "POST", "/restart", Some(body))
            .await
            .expect("POST");
        assert_eq!((code, text.as_str()), (400, expected));
    }
    let (code, text) = http_request(api, "POST", "/restart", Some(r#"{"restart_pending":true}"#))
        .await
        .expect("POST");
    assert_eq!(
        (code, text.as_str()),
        (503, "restart conditions are not satisfied")
    );

    // PATCH merges (null deletes) and answers the result; PUT replaces; bad bodies are 400.
    let (code, body) = http_request(
        api,
        "PATCH",
        "/config",
        Some(r#"{"postgresql":{"parameters":{"work_mem":null}},"check_timeline":true}"#),
    )
    .await
    .expect("PATCH");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(
        v["postgresql"]["parameters"].get("work_mem").is_none() && v["check_timeline"] == true,
        "{body}"
    );
    let (code, _) = http_request(api, "PATCH", "/config", Some("{}"))
        .await
        .expect("PATCH");
    assert_eq!(code, 400);
    let (code, _) = http_request(api, "PATCH", "/config", Some("[1]"))
        .await
        .expect("PATCH");
    assert_eq!(code, 400);
    let (_, body) = http_get(api, "/config").await.expect("GET");
    let mut current: serde_json::Value = serde_json::from_str(&body).expect("json");
    current["max_timelines_history"] = serde_json::json!(5);
    let (code, echoed) = http_request(api, "PUT", "/config", Some(&current.to_string()))
        .await
        .expect("PUT");
    assert_eq!(code, 200, "{echoed}");

    // Patroni 4.1's patronictl edits our configuration.
    let ctl41 = reference_program("PATRONICTL_41", "/opt/patroni-rs-venv/bin/patronictl");
    let (ok, out) = run_patronictl(
        Path::new(&ctl41),
        &config,
        &["edit-config", "-s", "max_timelines_history=7", "--force"],
    );
    assert!(ok && out.contains("Configuration changed"), "{out}");
    let (ok, out) = patronictl(&config, &["show-config"]);
    assert!(ok && out.contains("max_timelines_history: 7\n"), "{out}");
}

/// A dynamic configuration from an older cluster (issue 11 acceptance 6): `wal_keep_segments`,
/// a name PostgreSQL 15 does not know and a value of the wrong type. PostgreSQL refuses to
/// start on either, so the node never came up; now the cluster bootstraps and streams, and
/// the log names what was translated and dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_from_another_version_are_fitted_and_named_in_the_log() {
    let opts = NodeOptions {
        scope: "fitted".into(),
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 2, &opts);
    for n in &cluster.nodes {
        let text = std::fs::read_to_string(&n.config_path).expect("read config");
        let old = "      parameters:\n        wal_keep_size: 128MB\n";
        assert!(
            text.contains(old),
            "the harness's bootstrap parameters moved"
        );
        let new = "      parameters:\n        wal_keep_segments: 100\n        \
                   no_such_parameter: 1\n        work_mem: lots\n";
        std::fs::write(&n.config_path, text.replace(old, new)).expect("write config");
    }
    cluster.start_all();
    cluster.wait_healthy(1, Duration::from_secs(60)).await;
    for n in &cluster.nodes {
        let c = pg_connect(n.pg_port).await.expect("connect");
        let v: String = c
            .query_one("SHOW wal_keep_size", &[])
            .await
            .expect("SHOW")
            .get(0);
        assert_eq!(v, "1600MB", "{}", n.name);
        let v: String = c
            .query_one("SHOW work_mem", &[])
            .await
            .expect("SHOW")
            .get(0);
        assert_eq!(v, "4MB", "{}: PostgreSQL's default", n.name);
        let log = n.logs();
        for said in [
            "wal_keep_segments=100 translated to wal_keep_size=1600MB for PostgreSQL 15",
            "Removing invalid parameter no_such_parameter=1: unrecognized configuration parameter \"no_such_parameter\"",
            "Removing invalid parameter work_mem=lots: invalid value for parameter \"work_mem\": \"lots\"",
        ] {
            assert!(log.contains(said), "{}'s log does not say {said:?}\n{log}", n.name);
        }
    }
    // The DCS keeps what the user wrote: another member with another version fits it anew.
    let (ok, out) = patronictl(&cluster.nodes[0].config_path, &["show-config"]);
    assert!(ok && out.contains("wal_keep_segments: 100"), "{out}");
    let (ok, out) = patronictl(&cluster.nodes[0].config_path, &["list"]);
    assert!(ok && !out.contains("Pending restart"), "{out}");
}
