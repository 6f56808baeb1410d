//! The watch on the cluster prefix that wakes the HA loop as soon as the leader key or the
//! configuration changes (a leader key deleted by lease expiry included), instead of waiting
//! for the next `loop_wait` tick. It watches from one past the revision of the read that
//! started it, so a change between that read and the HA loop's `watch` call still wakes it.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, EventType, WatchOptions};
use tokio::sync::Notify;

use super::EtcdDcs;

impl EtcdDcs {
    /// Starts the watcher task once; it reconnects by itself after errors.
    pub(crate) fn ensure_watcher(&self, from_revision: i64) {
        let mut slot = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let client = self.client.clone();
        let prefix = self.prefix.clone();
        let wake = Arc::clone(&self.wake);
        *slot = Some(tokio::spawn(watch_loop(
            client,
            prefix,
            wake,
            from_revision,
        )));
    }
}

async fn watch_loop(mut client: Client, prefix: String, wake: Arc<Notify>, mut next: i64) {
    let leader = format!("{prefix}leader");
    let config = format!("{prefix}config");
    let failover = format!("{prefix}failover");
    loop {
        match client
            .watch(
                prefix.clone(),
                Some(WatchOptions::new().with_prefix().with_start_revision(next)),
            )
            .await
        {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(resp)) => {
                        if resp.compact_revision() > 0 {
                            // Our start revision was compacted away: watch from now on, and
                            // wake the loop once since what happened in between is lost.
                            next = 0;
                            wake.notify_one();
                            break;
                        }
                        // Resume after the last event seen, not after the header's
                        // revision: a watch from the past sends its history after that.
                        for ev in resp.events() {
                            if let Some(kv) = ev.kv() {
                                next = next.max(kv.mod_revision() + 1);
                            }
                        }
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
