//! The watch on the cluster prefix that wakes the HA loop as soon as the leader key or the
//! configuration changes (a leader key deleted by lease expiry included), instead of waiting
//! for the next `loop_wait` tick.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::Notify;

use super::EtcdDcs;

impl EtcdDcs {
    /// Starts the watcher task once; it reconnects by itself after errors.
    pub(crate) fn ensure_watcher(&self) {
        let mut slot = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let client = self.client.clone();
        let prefix = self.prefix.clone();
        let wake = Arc::clone(&self.wake);
        *slot = Some(tokio::spawn(watch_loop(client, prefix, wake)));
    }
}

async fn watch_loop(mut client: Client, prefix: String, wake: Arc<Notify>) {
    let leader = format!("{prefix}leader");
    let config = format!("{prefix}config");
    let failover = format!("{prefix}failover");
    loop {
        match client
            .watch(prefix.clone(), Some(WatchOptions::new().with_prefix()))
            .await
        {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(resp)) => {
                        let relevant = resp.events().iter().any(|ev| {
                            let key = ev.kv().and_then(|kv| kv.key_str().ok()).unwrap_or("");
                            key == leader
                                || key == failover
                                || (key == config && ev.event_type() == EventType::Put)
                        });
                        if relevant {
                            wake.notify_one();
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("etcd watch failed: {e}");
                        break;
                    }
                }
            },
            Err(e) => tracing::debug!("cannot start etcd watch: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
