//! A private etcd server on free loopback ports.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::ServerProcess;
use crate::{free_port, TempDir};

/// A running etcd, killed and its data removed on drop.
pub struct Etcd {
    child: ServerProcess,
    /// Client port.
    pub port: u16,
    peer_port: u16,
    dir: TempDir,
}

impl Etcd {
    /// Starts etcd (v2 API enabled too) and waits until it answers.
    pub fn start() -> Etcd {
        let port = free_port();
        let peer_port = free_port();
        let dir = TempDir::new("etcd");
        let mut etcd = Etcd {
            child: ServerProcess::default(),
            port,
            peer_port,
            dir,
        };
        etcd.spawn();
        etcd
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).expect("etcd log");
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--listen-client-urls")
            .arg(format!("http://127.0.0.1:{}", self.port))
            .arg("--advertise-client-urls")
            .arg(format!("http://127.0.0.1:{}", self.port))
            .arg("--listen-peer-urls")
            .arg(format!("http://127.0.0.1:{}", self.peer_port))
            .arg("--initial-advertise-peer-urls")
            .arg(format!("http://127.0.0.1:{}", self.peer_port))
            .arg("--initial-cluster")
            .arg(format!("default=http://127.0.0.1:{}", self.peer_port))
            .arg("--enable-v2=true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("cannot start etcd (apt-get install etcd-server)");
        self.child.set(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "etcd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `host:port` of the client endpoint.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (data kept), e.g. to test DCS outages.
    pub fn stop(&mut self) {
        self.child.stop();
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Writes `value` (anything, even empty or starting with `-`) at `key` through the v3
    /// API, with no lease: what anyone with write access to the DCS can do.
    pub fn put(&self, key: &str, value: &str) {
        self.etcdctl(&["put", "--", key, value]);
    }

    /// Deletes `key` (v3 API).
    pub fn delete(&self, key: &str) {
        self.etcdctl(&["del", "--", key]);
    }

    /// The value at `key` (v3 API), if any.
    pub fn get(&self, key: &str) -> Option<String> {
        let out = self.etcdctl(&["get", "--print-value-only", "--", key]);
        // etcdctl ends the value with a newline of its own; nothing printed means no key.
        (!out.is_empty()).then(|| out.strip_suffix('\n').unwrap_or(&out).to_string())
    }

    fn etcdctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(self.endpoint())
            .args(args)
            .output()
            .expect("cannot run etcdctl (apt-get install etcd-client)");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
