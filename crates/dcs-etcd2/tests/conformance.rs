//! The DCS conformance suite against a real etcd 3.4, through its v2 API (`--enable-v2=true`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use patroni_core::config::EtcdConfig;
use patroni_core::dcs::Dcs;
use patroni_dcs_conformance::{conformance_suite, Backend};
use patroni_dcs_etcd2::EtcdV2Dcs;
use patroni_test_harness::Etcd;

struct EtcdV2(Mutex<Etcd>);

impl EtcdV2 {
    fn server(&self) -> std::sync::MutexGuard<'_, Etcd> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Backend for EtcdV2 {
    async fn client(&self, name: &str, ttl: u32) -> Arc<dyn Dcs> {
        let cfg = EtcdConfig {
            hosts: vec![self.server().endpoint()],
            protocol: "http".into(),
            ..Default::default()
        };
        let dcs = EtcdV2Dcs::connect(&cfg, "/service/conformance/", name, ttl, 5)
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

conformance_suite!(EtcdV2(Mutex::new(Etcd::start())));
