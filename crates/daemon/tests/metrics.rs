//! `GET /metrics` read by the real Prometheus tools (issue 12 acceptance 5): the content type
//! Prometheus 3 requires, `promtool check metrics` on the body, every upstream 4.1 series, and
//! a scrape by a real Prometheus server whose query API then returns our series.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use patroni_test_harness::{free_port, wait_for, NodeOptions, TempDir, TestCluster};

/// Upstream 4.1's series, in its order (docs/rest-api.md).
const UPSTREAM_SERIES: &[&str] = &[
    "patroni_version",
    "patroni_postgres_running",
    "patroni_postmaster_start_time",
    "patroni_primary",
    "patroni_xlog_location",
    "patroni_standby_leader",
    "patroni_replica",
    "patroni_sync_standby",
    "patroni_quorum_standby",
    "patroni_xlog_received_location",
    "patroni_xlog_replayed_location",
    "patroni_xlog_replayed_timestamp",
    "patroni_xlog_paused",
    "patroni_postgres_streaming",
    "patroni_postgres_in_archive_recovery",
    "patroni_postgres_server_version",
    "patroni_cluster_unlocked",
    "patroni_failsafe_mode_is_active",
    "patroni_postgres_timeline",
    "patroni_dcs_last_seen",
    "patroni_pending_restart",
    "patroni_is_paused",
    "patroni_postgres_state",
];

/// The raw response: head and body.
async fn raw_get(port: u16, path: &str) -> Option<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8(buf).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.to_string(), body.to_string()))
}

/// `promtool check metrics` on `body`: its complaints, one per line.
fn promtool_check(body: &str) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus, installed by ci/setup.sh)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_every_upstream_series() {
    let opts = NodeOptions {
        scope: "metrics".into(),
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 1, &opts);
    cluster.start_all();
    cluster.wait_healthy(0, Duration::from_secs(60)).await;
    let api = cluster.nodes[0].api_port;

    let (head, body) = raw_get(api, "/metrics").await.expect("GET /metrics");
    assert!(
        head.lines()
            .any(|l| l == "Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    for name in UPSTREAM_SERIES {
        assert!(
            body.contains(&format!("\n{name}{{scope=\"metrics\",name=\"pg0\"}} ")),
            "{name} missing:\n{body}"
        );
    }

    // promtool parses the body; its only remarks are lint on upstream's own counter names,
    // which dashboards depend on (exit code 3 = lint problems, not parse errors).
    let (code, text) = promtool_check(&body);
    let remarks: Vec<&str> = text
        .lines()
        .filter(|l| !l.ends_with("counter metrics should have \"_total\" suffix"))
        .collect();
    assert!(
        matches!(code, Some(0 | 3)) && remarks.is_empty(),
        "promtool: {code:?}\n{text}"
    );

    // A real scrape: Prometheus reads the endpoint and answers a query with our value.
    let dir = TempDir::new("prometheus");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: patroni\n  \
             static_configs:\n  - targets: ['127.0.0.1:{api}']\n"
        ),
    )
    .expect("prometheus.yml");
    let web = free_port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("prometheus.log")).expect("log"),
        ))
        .spawn()
        .expect("prometheus");
    let query = "/api/v1/query?query=patroni_primary%7Bscope%3D%22metrics%22%2Cname%3D%22pg0%22%7D";
    let answer = wait_for(
        "Prometheus to scrape /metrics",
        Duration::from_secs(30),
        || async {
            let (_, body) = raw_get(web, query).await?;
            body.contains("\"value\":[").then_some(body)
        },
    )
    .await;
    // The trailing value of `"value":[<time>,"1"]`.
    let found = answer.contains(",\"1\"]");
    let _ = prometheus.kill(); // Already exited is fine: the wait below reaps it either way.
    let _ = prometheus.wait(); // Reaps it; an error means there is nothing left to reap.
    assert!(found, "{answer}");
}
