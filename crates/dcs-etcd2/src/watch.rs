//! The long-polling watch on the cluster directory (`wait=true&recursive=true`) that wakes
//! the HA loop when `leader`, `config` or `failover` change, a leader key's TTL expiry
//! included. It waits from one past the index of the first read, so a change made between
//! that read and the HA loop's `watch` call still wakes it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use tokio::sync::Notify;

use super::http::{Http, Outcome};
use super::EtcdV2Dcs;

impl EtcdV2Dcs {
    /// Starts the watcher once, waiting from `from` (one past a read's `X-Etcd-Index`).
    pub(crate) fn ensure_watcher(&self, from: i64) {
        let mut slot = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.next_index.store(from, Ordering::SeqCst);
        let task = watch_loop(
            Arc::clone(&self.http),
            self.prefix.clone(),
            Arc::clone(&self.next_index),
            Arc::clone(&self.wake),
        );
        *slot = Some(tokio::spawn(task));
    }
}

async fn watch_loop(http: Arc<Http>, prefix: String, next: Arc<AtomicI64>, wake: Arc<Notify>) {
    let dir = prefix.trim_end_matches('/').to_string();
    let relevant = [
        format!("{prefix}leader"),
        format!("{prefix}config"),
        format!("{prefix}failover"),
    ];
    loop {
        let query = [
            ("wait", "true".to_string()),
            ("recursive", "true".to_string()),
            ("waitIndex", next.load(Ordering::SeqCst).to_string()),
        ];
        // etcd holds the request until an event: no deadline but a generous one.
        let answer = http
            .call(Method::GET, &dir, &query, Some(Duration::from_secs(600)))
            .await;
        match answer {
            Ok(Outcome::Done {
                node: Some(node), ..
            }) => {
                next.store(node.modified_index + 1, Ordering::SeqCst);
                if relevant.contains(&node.key) {
                    wake.notify_one();
                }
            }
            Ok(Outcome::IndexCleared) | Ok(Outcome::Refused { .. }) | Ok(Outcome::Done { .. }) => {
                // Too far behind etcd's event history: start again from now, and wake the
                // loop once since we cannot know what we missed.
                resync(&http, &dir, &next).await;
                wake.notify_one();
            }
            Err(e) => {
                tracing::debug!("etcd v2 watch failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if resync(&http, &dir, &next).await {
                    wake.notify_one();
                }
            }
        }
    }
}

/// Sets `next` past etcd's current index; `true` when etcd answered.
async fn resync(http: &Http, dir: &str, next: &AtomicI64) -> bool {
    match http
        .call(Method::GET, dir, &[], Some(Duration::from_secs(5)))
        .await
    {
        Ok(Outcome::Done { index, .. }) | Ok(Outcome::Refused { index, .. }) => {
            next.store(index + 1, Ordering::SeqCst);
            true
        }
        _ => false,
    }
}
