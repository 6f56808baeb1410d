//! The DCS conformance suite against a real etcd 3.4 (v3 API).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use patroni_core::config::EtcdConfig;
use patroni_core::dcs::Dcs;
use patroni_dcs_conformance::{conformance_suite, Backend};
use patroni_dcs_etcd::EtcdDcs;
use patroni_test_harness::Etcd;

struct EtcdV3(Mutex<Etcd>);

impl EtcdV3 {
    fn server(&self) -> std::sync::MutexGuard<'_, Etcd> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Backend for EtcdV3 {
    async fn client(&self, name: &str, ttl: u32) -> Arc<dyn Dcs> {
        let cfg = EtcdConfig {
            hosts: vec![self.server().endpoint()],
            protocol: "http".into(),
            ..Default::default()
        };
        let dcs = EtcdDcs::connect(&cfg, "/service/conformance/", name, ttl, 5)
            .await
            .expect("connect to etcd");
        Arc::new(dcs)
    }
    async fn stop(&self) {
        self.server().stop();
    }
    async fn start(&self) {
        self.server().restart();
    }
}

conformance_suite!(EtcdV3(Mutex::new(Etcd::start())));
