//! A private ZooKeeper 3.8 server (Debian's `zookeeper` package, which starts none by
//! itself) on a free loopback port, standalone, with a one-second tick so that sessions as
//! short as two seconds are allowed.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::ServerProcess;
use crate::{free_port, TempDir};

/// A running ZooKeeper, killed and its data removed on drop.
pub struct ZooKeeper {
    child: ServerProcess,
    /// Client port.
    pub port: u16,
    dir: TempDir,
}

impl ZooKeeper {
    /// Starts the server and waits until it serves requests.
    pub fn start() -> ZooKeeper {
        let port = free_port();
        let dir = TempDir::new("zookeeper");
        let config = format!(
            "tickTime=1000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\nmaxSessionTimeout=60000\n4lw.commands.whitelist=srvr\n",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("zoo.cfg"), config).expect("write zoo.cfg");
        let mut zk = ZooKeeper {
            child: ServerProcess::default(),
            port,
            dir,
        };
        zk.spawn();
        zk
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("zookeeper.log")).expect("zk log");
        let classpath = format!(
            "{}:/usr/share/java/zookeeper.jar",
            self.dir.path().display()
        );
        let child = Command::new("java")
            .args(["-Xmx128m", "-XX:+UseSerialGC", "-cp", &classpath])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(self.dir.path().join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("cannot start ZooKeeper (apt-get install zookeeper default-jre-headless)");
        self.child.set(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.serving() {
            assert!(Instant::now() < deadline, "ZooKeeper did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server answers the `srvr` four-letter command as a running server.
    fn serving(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        // Refused only for a zero duration; this one is not.
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut out = String::new();
        s.write_all(b"srvr").is_ok()
            && s.read_to_string(&mut out).is_ok()
            && out.contains("Mode: standalone")
    }

    /// `host:port` of the client endpoint.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (data kept), e.g. to test DCS outages.
    pub fn stop(&mut self) {
        self.child.stop();
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}
