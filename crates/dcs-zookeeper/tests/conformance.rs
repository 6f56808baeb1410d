//! The DCS conformance suite against a real ZooKeeper 3.8 server.

use std::sync::Arc;

use patroni_core::config::ZooKeeperConfig;
use patroni_dcs_conformance::{conformance_suite, ServerBackend, PREFIX};
use patroni_dcs_zookeeper::ZooKeeperDcs;
use patroni_test_harness::ZooKeeper;

conformance_suite!(ServerBackend::new(
    ZooKeeper::start(),
    |endpoint, name, ttl| {
        Box::pin(async move {
            let cfg = ZooKeeperConfig {
                hosts: vec![endpoint],
                ..Default::default()
            };
            let dcs = ZooKeeperDcs::new(&cfg, PREFIX, &name, ttl, 5)
                .expect("ZooKeeper client")
                // A dropped client leaves its session to expire, as a killed daemon does.
                .with_detached_sessions();
            Arc::new(dcs) as _
        })
    }
));
