//! The conformance suite on the in-memory store: checks the suite itself.

use std::sync::Arc;

use async_trait::async_trait;
use patroni_core::dcs::Dcs;
use patroni_dcs_conformance::memory::MemoryStore;
use patroni_dcs_conformance::{conformance_suite, Backend, PREFIX};

struct Memory(MemoryStore);

#[async_trait]
impl Backend for Memory {
    async fn client(&self, name: &str, ttl: u32) -> Arc<dyn Dcs> {
        Arc::new(self.0.client(PREFIX, name, ttl))
    }
    async fn stop(&self) {
        self.0.set_reachable(false);
    }
    async fn start(&self) {
        self.0.set_reachable(true);
    }
}

conformance_suite!(Memory(MemoryStore::new()));
