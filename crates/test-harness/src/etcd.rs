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
}
