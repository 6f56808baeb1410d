//! The DCS conformance suite: what every backend must do for the HA loop to be safe, written
//! once and run against each backend's real server (and the in-memory store in [`memory`]).
//!
//! A backend's test file implements [`Backend`] (how to make clients, stop and start the
//! server) and expands [`conformance_suite!`], which makes one `#[tokio::test]` per case.

mod cases;
pub mod memory;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::BoxFuture;
use patroni_core::dcs::Dcs;
use patroni_test_harness::DcsServer;

pub use cases::*;

/// The short TTL the cases use (seconds): ZooKeeper's minimum session timeout is two ticks,
/// so the test servers run with a tick short enough to allow it.
pub const TEST_TTL: u32 = 4;

/// A backend under test, with its own server.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A new client for member `name`, on this test's cluster prefix, with `ttl`.
    async fn client(&self, name: &str, ttl: u32) -> Arc<dyn Dcs>;
    /// Drops `client` the way a killed process would: its session or lease is not closed,
    /// so its ephemeral keys stay until the TTL runs out.
    async fn abandon(&self, client: Arc<dyn Dcs>) {
        drop(client);
    }
    /// Stops the server, keeping its data.
    async fn stop(&self);
    /// Starts the server again on the same address and data.
    async fn start(&self);
}

/// Makes a client of the server at `endpoint` for member `name` with `ttl`, on this suite's
/// cluster prefix [`PREFIX`].
pub type Connect = fn(endpoint: String, name: String, ttl: u32) -> BoxFuture<'static, Arc<dyn Dcs>>;

/// The cluster prefix the suite's clients use.
pub const PREFIX: &str = "/service/conformance/";

/// A [`Backend`] on a real server the test owns.
pub struct ServerBackend<S> {
    server: Mutex<S>,
    connect: Connect,
}

impl<S: DcsServer> ServerBackend<S> {
    /// `server`, reached through `connect`.
    pub fn new(server: S, connect: Connect) -> ServerBackend<S> {
        ServerBackend {
            server: Mutex::new(server),
            connect,
        }
    }

    fn server(&self) -> std::sync::MutexGuard<'_, S> {
        // A poisoned lock only means another case panicked; the server handle is intact.
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl<S: DcsServer> Backend for ServerBackend<S> {
    async fn client(&self, name: &str, ttl: u32) -> Arc<dyn Dcs> {
        let endpoint = self.server().endpoint();
        (self.connect)(endpoint, name.to_string(), ttl).await
    }
    async fn stop(&self) {
        self.server().stop();
    }
    async fn start(&self) {
        self.server().restart();
    }
}

/// One `#[tokio::test]` per conformance case; `$make` is an async expression that yields a
/// fresh [`Backend`] for each test.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            initialize_race, leader_race_has_one_winner, only_the_holder_renews_or_deletes,
            lock_is_kept_while_renewed, lock_expires_when_the_holder_stops,
            config_and_failover_are_compare_and_set, member_keys_go_with_their_holder,
            watch_wakes_on_leader_and_config_changes, server_restart_errors_then_recovers,
            delete_cluster_removes_every_key, a_lowered_ttl_applies_to_the_held_lock,
            renewing_proves_the_key_not_only_the_session);
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = $make;
                $crate::$case(&backend).await;
            }
        )*
    };
}
