//! Shared helpers for cluster tests (test layer 3): a real etcd, real PostgreSQL and real
//! `patroni` daemons running as the `postgres` user, on free loopback ports, in a temporary
//! directory that is removed with every process when the test value is dropped.
//!
//! Nothing here sleeps to synchronise: [`wait_for`] polls a condition until a deadline.

mod cluster;
mod ctl;
mod etcd;
mod fake_member;
mod hanging;
mod node;
mod server;
mod zookeeper;

pub use cluster::TestCluster;
pub use ctl::{patronictl, reference_program, run_patronictl};
pub use etcd::Etcd;
pub use fake_member::{FakeMember, Misbehaviour};
pub use hanging::hanging_bin_dir;
pub use node::{DcsKind, Node, NodeOptions};
pub use server::DcsServer;
pub use zookeeper::ZooKeeper;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A port nobody listens on right now (the OS picks it; we release it for the child).
/// Never the same port twice in one test process: a released port can be picked again
/// before the child that was meant to have it binds it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free loopback port");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or fails the test after `timeout`
/// with `what` and the last state seen.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Freezes process `pid` with SIGSTOP and returns once it is stopped: SIGSTOP only takes
/// effect when the process next runs, and until then it may still handle other signals.
pub async fn freeze(pid: i32) {
    use nix::sys::signal::{kill, Signal};
    kill(nix::unistd::Pid::from_raw(pid), Signal::SIGSTOP).expect("SIGSTOP");
    wait_for(
        "the process to stop",
        Duration::from_secs(10),
        || async move {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('T')))
                .then_some(())
        },
    )
    .await;
}

/// The uid and gid of the `postgres` user (PostgreSQL refuses to run as root).
pub fn postgres_ids() -> (u32, u32) {
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .expect("the postgres user must exist (apt-get install postgresql-15)");
    (user.uid.as_raw(), user.gid.as_raw())
}

/// A temporary directory owned by `postgres`, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `/tmp/patroni-test-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("patroni-test-{name}-{}-{n}", std::process::id()));
        // Usually absent; a leftover of an earlier run that cannot go fails the test loudly later.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        let (uid, gid) = postgres_ids();
        nix::unistd::chown(&path, Some(uid.into()), Some(gid.into()))
            .expect("chown temp dir to postgres");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("PATRONI_TEST_KEEP").is_none() {
            // A drop must not panic; what is left is only clutter in the temporary directory.
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A binary built next to the running test (`target/<profile>/<name>`).
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .expect("target dir");
    dir.join(name)
}

/// Where PostgreSQL's programs are (Debian's layout).
pub fn pg_bin_dir() -> PathBuf {
    for v in ["15", "16", "17", "14", "13"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        if p.join("postgres").exists() {
            return p;
        }
    }
    panic!(
        "PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql-15)"
    );
}

/// Connects to a PostgreSQL of the test cluster as the superuser.
pub async fn pg_connect(port: u16) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .password("zalando")
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(2))
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(conn);
    Ok(client)
}

/// `GET http://127.0.0.1:<port><path>`: status code and body (HTTP/1.0, read to EOF).
pub async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, None).await
}

/// Any request to a local REST API.
pub async fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body.unwrap_or(""));
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Some((code, body))
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}
