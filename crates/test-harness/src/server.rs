//! A server process a test owns (etcd, ZooKeeper): killed when stopped or dropped, so no
//! test leaves one running.

use std::process::Child;

/// The running process, if any.
#[derive(Default)]
pub(crate) struct ServerProcess(Option<Child>);

impl ServerProcess {
    /// Takes over `child`.
    pub fn set(&mut self, child: Child) {
        self.stop();
        self.0 = Some(child);
    }

    /// Kills and reaps the process.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
