//! The DCS conformance suite against a real etcd 3.4, through its v2 API (`--enable-v2=true`).

use std::sync::Arc;

use patroni_core::config::EtcdConfig;
use patroni_dcs_conformance::{conformance_suite, ServerBackend, PREFIX};
use patroni_dcs_etcd2::EtcdV2Dcs;
use patroni_test_harness::Etcd;

conformance_suite!(ServerBackend::new(Etcd::start(), |endpoint, name, ttl| {
    Box::pin(async move {
        let cfg = EtcdConfig {
            hosts: vec![endpoint],
            protocol: "http".into(),
            ..Default::default()
        };
        let dcs = EtcdV2Dcs::connect(&cfg, PREFIX, &name, ttl, 5).expect("etcd v2 client");
        Arc::new(dcs) as _
    })
}));
