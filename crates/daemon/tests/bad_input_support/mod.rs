//! Helpers of the bad-input cluster test: liveness checks, a watch that polls `/primary` on
//! every node while a phase runs, and raw TCP clients that misbehave on the REST API.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patroni_test_harness::{http_get, Node, NodeOptions, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How fast `/health` must answer while slow clients hold connections.
pub const HEALTH_PROMPT: Duration = Duration::from_secs(1);

/// How long a slow or stalled client may hold a connection before the server lets go.
const SERVER_LETS_GO: Duration = Duration::from_secs(20);

/// The cluster's options: short loop so each phase takes a few seconds.
pub static OPTS: std::sync::LazyLock<NodeOptions> = std::sync::LazyLock::new(|| NodeOptions {
    loop_wait: 1,
    ..Default::default()
});

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_patroni"))
}

pub fn scope() -> String {
    OPTS.scope.clone()
}

/// Fails the test, with every log, if a started daemon has exited or any log mentions a panic.
pub fn assert_alive(cluster: &mut TestCluster, what: &str) {
    for i in 0..cluster.nodes.len() {
        if let Some(status) = cluster.nodes[i].daemon_exited() {
            panic!(
                "{}: daemon exited ({status}) after {what}\n{}",
                cluster.nodes[i].name,
                cluster.logs()
            );
        }
    }
    let logs = cluster.logs();
    assert!(!logs.contains("panicked"), "panic after {what}\n{logs}");
}

/// Fails the test if the node's daemon holds `limit` bytes of memory or more (an endless
/// answer read without a limit grew one to 1.7 GB).
pub fn assert_rss_below(node: &Node, limit: u64) {
    let pid = node.daemon_pid().expect("the daemon runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    assert!(
        kib * 1024 < limit,
        "{}: daemon holds {kib} KiB (limit {limit} bytes)",
        node.name
    );
}

/// Leaves the cluster exposed to something for `exposure`, checking it stays alive meanwhile.
pub async fn hold(cluster: &mut TestCluster, what: &str, exposure: Duration) {
    let until = Instant::now() + exposure;
    while Instant::now() < until {
        assert_alive(cluster, what);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls `/primary` on every node at once, every 100 ms, until finished.
pub struct PrimaryWatch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Vec<String>, Vec<String>)>,
}

impl PrimaryWatch {
    /// Starts watching the nodes of `cluster`.
    pub fn start(cluster: &TestCluster) -> PrimaryWatch {
        let nodes: Vec<(String, u16)> = cluster
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.api_port))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let (mut two, mut none) = (Vec::new(), Vec::new());
            let started = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                let answers =
                    futures::future::join_all(nodes.iter().map(|(_, p)| http_get(*p, "/primary")))
                        .await;
                let primaries: Vec<&str> = nodes
                    .iter()
                    .zip(&answers)
                    .filter(|(_, a)| matches!(a, Some((200, _))))
                    .map(|((n, _), _)| n.as_str())
                    .collect();
                let at = format!("{:?}: {primaries:?}", started.elapsed());
                match primaries.len() {
                    0 => none.push(at),
                    1 => {}
                    _ => two.push(at),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (two, none)
        });
        PrimaryWatch { stop, task }
    }

    /// Stops watching: never two primaries; with `always_one`, never none either.
    pub async fn finish(self, cluster: &mut TestCluster, always_one: bool) {
        self.stop.store(true, Ordering::SeqCst);
        let (two, none) = self.task.await.expect("watch task");
        assert!(
            two.is_empty(),
            "two primaries at once: {two:?}\n{}",
            cluster.logs()
        );
        assert!(
            !always_one || none.is_empty(),
            "no primary at: {none:?}\n{}",
            cluster.logs()
        );
        assert_alive(cluster, "the phase");
    }
}

/// Sends `bytes` and reads the answer: its status code, or `None` when the server closed
/// without one. Fails the test if the server neither answers nor closes in time.
pub async fn raw_exchange(port: u16, bytes: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the REST API");
    // The server may answer and close before reading everything: then writing fails and
    // the answer is still there to read.
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(SERVER_LETS_GO, s.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the server held a bad request for {SERVER_LETS_GO:?}: {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
    );
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The slowest `/health` answer seen while `client` runs.
async fn health_while<F: std::future::Future<Output = ()>>(port: u16, client: F) -> Duration {
    tokio::pin!(client);
    let mut slowest = Duration::ZERO;
    loop {
        let asked = Instant::now();
        let answer = http_get(port, "/health").await;
        slowest = slowest.max(asked.elapsed());
        assert!(answer.is_some(), "/health did not answer");
        tokio::select! {
            () = &mut client => return slowest,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Sends a request one byte a second until the server answers or closes (which it must do
/// within [`SERVER_LETS_GO`]); returns the slowest `/health` answer meanwhile.
pub async fn drip_request(port: u16) -> Duration {
    let client = async move {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the REST API");
        let started = Instant::now();
        let request =
            b"GET /patroni HTTP/1.0\r\nX-Slow: 1234567890123456789012345678901234567890\r\n\r\n";
        let mut sink = [0u8; 1024];
        for b in request {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            // A read that returns means the server answered or closed.
            if tokio::time::timeout(Duration::from_secs(1), s.read(&mut sink))
                .await
                .is_ok()
            {
                break;
            }
            assert!(
                started.elapsed() < SERVER_LETS_GO,
                "the server let a one-byte-a-second request run for {SERVER_LETS_GO:?}"
            );
        }
    };
    health_while(port, client).await
}

/// Announces 100 bytes of body, sends one, and stalls: the server must let go in time.
pub async fn short_body_then_stall(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the REST API");
    s.write_all(b"PATCH /config HTTP/1.0\r\nContent-Length: 100\r\n\r\n{")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(SERVER_LETS_GO, s.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the server waited for the missing body for {SERVER_LETS_GO:?}"
    );
}
