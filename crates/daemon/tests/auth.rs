//! REST authentication (issue 3 acceptance 7): with `restapi.authentication`, unsafe requests
//! without or with wrong credentials get 401 and do nothing; bad bodies get 400 naming the
//! problem; GET stays open.

use std::path::Path;
use std::time::Duration;

use patroni_test_harness::{http_get, NodeOptions, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request with an optional `Authorization` header: status line and body.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_endpoints_need_credentials() {
    let opts = NodeOptions {
        restapi: "  authentication:\n    username: admin\n    password: s3cret".into(),
        ..Default::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 1, &opts);
    cluster.start_all();
    cluster.wait_healthy(0, Duration::from_secs(40)).await;
    let node = &cluster.nodes[0];
    let started = node.status().await.expect("status")["postmaster_start_time"].clone();
    // base64("admin:s3cret") and base64("admin:wrong")
    let (good, wrong) = ("YWRtaW46czNjcmV0", "YWRtaW46d3Jvbmc=");

    let (head, body) = request(node.api_port, "POST", "/restart", None, "{}").await;
    assert!(
        head.starts_with("HTTP/1.0 401 ")
            && head.contains("WWW-Authenticate: Basic realm=\"Patroni\""),
        "{head}"
    );
    assert_eq!(body, "no auth header received");
    let (head, body) = request(node.api_port, "POST", "/restart", Some(wrong), "{}").await;
    assert!(head.starts_with("HTTP/1.0 401 "), "{head}");
    assert_eq!(body, "not authenticated");
    let (head, _) = request(
        node.api_port,
        "PATCH",
        "/config",
        Some(wrong),
        r#"{"ttl":40}"#,
    )
    .await;
    assert!(head.starts_with("HTTP/1.0 401 "), "{head}");
    assert_eq!(
        node.status().await.expect("status")["postmaster_start_time"],
        started,
        "nothing was restarted"
    );
    let (_, config) = http_get(node.api_port, "/config").await.expect("config");
    assert!(
        config.contains("\"ttl\": 20"),
        "the configuration was not changed: {config}"
    );

    // With the right credentials: malformed JSON, wrong types and unknown members are 400/412.
    let (head, _) = request(node.api_port, "POST", "/restart", Some(good), "{not json").await;
    assert!(head.starts_with("HTTP/1.0 400 "), "{head}");
    let (head, body) = request(
        node.api_port,
        "POST",
        "/restart",
        Some(good),
        r#"{"role":5}"#,
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.0 400 ")
            && body == "PostgreSQL role should be either primary, standby_leader, or replica",
        "{head} {body}"
    );
    let (head, body) = request(
        node.api_port,
        "POST",
        "/failover",
        Some(good),
        r#"{"candidate":"nosuch"}"#,
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.0 412 ") && body == "candidate does not exists",
        "{head} {body}"
    );
    let (head, body) = request(node.api_port, "POST", "/restart", Some(good), "{}").await;
    assert!(
        head.starts_with("HTTP/1.0 200 ") && body == "restarted successfully",
        "{head} {body}"
    );
    assert_ne!(
        node.status().await.expect("status")["postmaster_start_time"],
        started,
        "restarted"
    );
}
