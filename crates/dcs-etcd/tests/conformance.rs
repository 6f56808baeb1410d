//! The DCS conformance suite against a real etcd 3.4 (v3 API).

use std::sync::Arc;

use patroni_core::config::EtcdConfig;
use patroni_dcs_conformance::{conformance_suite, ServerBackend, PREFIX};
use patroni_dcs_etcd::EtcdDcs;
use patroni_test_harness::Etcd;

conformance_suite!(ServerBackend::new(Etcd::start(), |endpoint, name, ttl| {
    Box::pin(async move {
        let cfg = EtcdConfig {
            hosts: vec![endpoint],
            protocol: "http".into(),
            ..Default::default()
        };
        let dcs = EtcdDcs::connect(&cfg, PREFIX, &name, ttl, 5)
            .await
            .expect("connect to etcd");
        Arc::new(dcs) as _
    })
}));
