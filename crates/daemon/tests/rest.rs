//! The REST API against the golden table recorded from Patroni 4.1.4 (docs/rest-api.md):
//! status codes per path and role in an asynchronous cluster, bare status lines for
//! HEAD/OPTIONS, and the JSON documents' fields.

use std::path::Path;
use std::time::Duration;

use patroni_test_harness::{http_get, http_request, wait_for, NodeOptions, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// (path, code on the primary, code on a replica), from the capture of Patroni 4.1.4.
const GOLDEN: &[(&str, u16, u16)] = &[
    ("/primary", 200, 503),
    ("/master", 200, 503),
    ("/leader", 200, 503),
    ("/read-write", 200, 503),
    ("/replica", 503, 200),
    ("/read-only", 200, 200),
    ("/health", 200, 200),
    ("/standby-leader", 503, 503),
    ("/standby_leader", 503, 503),
    ("/sync", 503, 503),
    ("/synchronous", 503, 503),
    ("/async", 503, 200),
    ("/asynchronous", 503, 200),
    ("/read-only-sync", 200, 503),
    ("/read-only-synchronous", 200, 503),
    ("/quorum", 503, 503),
    ("/read-only-quorum", 200, 503),
    ("/liveness", 200, 200),
    ("/readiness", 200, 200),
    ("/readiness?mode=write&lag=16MB", 200, 200),
    ("/patroni", 200, 200),
    ("/cluster", 200, 200),
    ("/history", 200, 200),
    ("/config", 200, 200),
    ("/metrics", 200, 200),
    ("/failsafe", 502, 502),
    ("/foo", 503, 503),
    ("/replica/foo", 503, 200),
];

/// The raw bytes of a request's answer.
async fn raw(port: u16, method: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(format!("{method} {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

/// `GET /patroni` parsed, and its text.
async fn patroni_doc(port: u16) -> (serde_json::Value, String) {
    let (_, body) = http_get(port, "/patroni").await.expect("/patroni");
    (serde_json::from_str(&body).expect("json"), body)
}

/// The keys of a JSON object, in order.
fn keys(doc: &serde_json::Value) -> Vec<&str> {
    doc.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_match_patroni_4_1() {
    let mut cluster = TestCluster::new(
        Path::new(env!("CARGO_BIN_EXE_patroni")),
        2,
        &NodeOptions::default(),
    );
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(40)).await;
    let primary = cluster.nodes[leader].api_port;
    let replica = cluster.nodes[1 - leader].api_port;
    let mut wrong = Vec::new();
    for (path, on_primary, on_replica) in GOLDEN {
        for (port, expected, role) in [
            (primary, on_primary, "primary"),
            (replica, on_replica, "replica"),
        ] {
            let got = http_get(port, path).await.map(|(c, _)| c);
            if got != Some(*expected) {
                let (_, doc) = http_get(port, "/patroni").await.unwrap_or_default();
                wrong.push(format!(
                    "GET {path} on the {role}: {got:?}, Patroni answers {expected}; /patroni: {doc}"
                ));
            }
            // HEAD and OPTIONS give the health-check code of the path, and 503 for the
            // paths that have a GET handler of their own.
            let dedicated = matches!(
                path.split('?').next().unwrap_or_default(),
                "/liveness"
                    | "/readiness"
                    | "/patroni"
                    | "/cluster"
                    | "/history"
                    | "/config"
                    | "/metrics"
                    | "/failsafe"
            );
            let head_expected = if dedicated { 503 } else { *expected };
            for method in ["HEAD", "OPTIONS"] {
                let text = raw(port, method, path).await;
                let want = format!(
                    "HTTP/1.0 {head_expected} {}\r\n\r\n",
                    if head_expected == 200 {
                        "OK"
                    } else {
                        "Service Unavailable"
                    }
                );
                if text != want {
                    wrong.push(format!(
                        "{method} {path} on the {role}: {text:?}, Patroni answers {want:?}"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "differences from Patroni 4.1:\n{}",
        wrong.join("\n")
    );

    let primary_keys = [
        "state",
        "postmaster_start_time",
        "role",
        "server_version",
        "xlog",
        "timeline",
        "replication",
        "dcs_last_seen",
        "database_system_identifier",
        "patroni",
    ];
    // The REST API shares one status query for up to 500 ms, so the replica's walsender can
    // show up on the primary a moment after the replica reports streaming.
    let (doc, body) = wait_for(
        "the primary's /patroni to list the replica's connection",
        Duration::from_secs(5),
        || async {
            let (doc, body) = patroni_doc(primary).await;
            doc.get("replication").is_some().then_some((doc, body))
        },
    )
    .await;
    assert_eq!(keys(&doc), primary_keys, "{body}");
    assert!(
        body.contains("\"role\": \"primary\""),
        "Python's separators: {body}"
    );
    let replica_keys = [
        "state",
        "postmaster_start_time",
        "role",
        "server_version",
        "xlog",
        "timeline",
        "replication_state",
        "dcs_last_seen",
        "database_system_identifier",
        "patroni",
    ];
    let (doc, body) = patroni_doc(replica).await;
    assert_eq!(keys(&doc), replica_keys, "{body}");
    assert_eq!(
        keys(&doc["xlog"]),
        [
            "received_location",
            "replayed_location",
            "replayed_timestamp",
            "paused"
        ]
    );

    let (code, body) = http_request(primary, "POST", "/foo", Some("{}"))
        .await
        .expect("POST");
    assert_eq!(code, 501, "{body}");
    let (_, body) = http_get(primary, "/metrics").await.expect("/metrics");
    assert!(
        body.contains("# TYPE patroni_primary gauge\npatroni_primary{scope=\"batman\",name=\""),
        "{body}"
    );
}
