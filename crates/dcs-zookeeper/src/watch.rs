//! The persistent recursive watch on the cluster's znode (ZooKeeper 3.6+) that wakes the HA
//! loop when `leader`, `config` or `failover` change, an expired leader's ephemeral znode
//! included. A watch belongs to a session, so a new session gets a new one.

use std::sync::Arc;

use tokio::sync::Notify;
use zookeeper_client as zk;

use super::ZooKeeperDcs;

impl ZooKeeperDcs {
    /// Puts the watch in place for `client`'s session (awaited, so that a change after the
    /// caller's next read is seen) unless one already runs for it.
    pub(crate) async fn ensure_watcher(&self, client: &zk::Client) {
        let session = client.session_id().0;
        {
            let slot = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((id, handle)) = slot.as_ref() {
                if *id == session && !handle.is_finished() {
                    return;
                }
            }
        }
        let watcher = match self
            .attempt(client.watch(self.dir(), zk::AddWatchMode::PersistentRecursive))
            .await
        {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => return tracing::debug!("cannot watch {}: {e}", self.dir()),
            Err(e) => return tracing::debug!("cannot watch {}: {e}", self.dir()),
        };
        let task = watch_loop(watcher, self.dir().to_string(), Arc::clone(&self.wake));
        let mut slot = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, old)) = slot.take() {
            old.abort();
        }
        *slot = Some((session, tokio::spawn(task)));
    }
}

async fn watch_loop(mut watcher: zk::PersistentWatcher, dir: String, wake: Arc<Notify>) {
    let relevant = [
        format!("{dir}/leader"),
        format!("{dir}/config"),
        format!("{dir}/failover"),
    ];
    loop {
        let event = watcher.changed().await;
        if event.event_type == zk::EventType::Session {
            match event.session_state {
                // The session ended: no more events will come (and asking would panic).
                s if s.is_terminated() => {
                    wake.notify_one();
                    return;
                }
                // Events during a disconnection can be lost (ZOOKEEPER-4698): re-read.
                zk::SessionState::SyncConnected => wake.notify_one(),
                _ => {}
            }
            continue;
        }
        if relevant.contains(&event.path) {
            wake.notify_one();
        }
    }
}
