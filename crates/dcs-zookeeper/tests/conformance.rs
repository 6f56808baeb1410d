//! The DCS conformance suite against a real ZooKeeper 3.8 server.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use patroni_core::config::ZooKeeperConfig;
use patroni_core::dcs::Dcs;
use patroni_dcs_conformance::{conformance_suite, Backend};
use patroni_dcs_zookeeper::ZooKeeperDcs;
use patroni_test_harness::ZooKeeper;

struct Zk(Mutex<ZooKeeper>);

impl Zk {
    fn server(&self) -> std::sync::MutexGuard<'_, ZooKeeper> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Backend for Zk {
    async fn client(&self, name: &str, ttl: u32) -> Arc<dyn Dcs> {
        let cfg = ZooKeeperConfig {
            hosts: vec![self.server().endpoint()],
            ..Default::default()
        };
        let dcs = ZooKeeperDcs::new(&cfg, "/service/conformance/", name, ttl, 5)
            .expect("client")
            // A dropped client leaves its session to expire, as a killed daemon does.
            .with_detached_sessions();
        Arc::new(dcs)
    }
    async fn stop(&self) {
        self.server().stop();
    }
    async fn start(&self) {
        self.server().restart();
    }
}

conformance_suite!(Zk(Mutex::new(ZooKeeper::start())));
