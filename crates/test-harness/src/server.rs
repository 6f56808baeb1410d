//! A DCS server process a test owns (etcd, ZooKeeper): killed when stopped or dropped, so
//! no test leaves one running.

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
            // Both fail only when the process already exited and was reaped.
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

/// What tests do with a DCS server, whichever it is.
pub trait DcsServer: Send {
    /// `host:port` of its client endpoint.
    fn endpoint(&self) -> String;
    /// Stops it, keeping its data.
    fn stop(&mut self);
    /// Starts it again on the same address and data.
    fn restart(&mut self);
}

impl DcsServer for crate::Etcd {
    fn endpoint(&self) -> String {
        crate::Etcd::endpoint(self)
    }
    fn stop(&mut self) {
        crate::Etcd::stop(self)
    }
    fn restart(&mut self) {
        crate::Etcd::restart(self)
    }
}

impl DcsServer for crate::ZooKeeper {
    fn endpoint(&self) -> String {
        crate::ZooKeeper::endpoint(self)
    }
    fn stop(&mut self) {
        crate::ZooKeeper::stop(self)
    }
    fn restart(&mut self) {
        crate::ZooKeeper::restart(self)
    }
}
