//! The `Dcs` operations on Patroni's znodes: reading the cluster subtree, the ephemeral lock
//! and member znodes, and versioned writes of the persistent ones.

use std::time::Duration;

use async_trait::async_trait;
use patroni_core::cluster::{Cluster, KeyValue};
use patroni_core::dcs::{Dcs, DcsError};
use zookeeper_client as zk;

use super::{unavailable, ZooKeeperDcs};

const PERSISTENT: zk::CreateOptions<'static> =
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
const EPHEMERAL: zk::CreateOptions<'static> =
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());

impl ZooKeeperDcs {
    /// Creates `path` (persistent or ephemeral), making missing parents; `Ok(false)` when it
    /// already exists.
    async fn create(
        &self,
        client: &zk::Client,
        path: &str,
        data: &str,
        options: &zk::CreateOptions<'_>,
    ) -> Result<bool, DcsError> {
        for attempt in 0..2 {
            match self
                .attempt(client.create(path, data.as_bytes(), options))
                .await?
            {
                Ok(_) => return Ok(true),
                Err(zk::Error::NodeExists) => return Ok(false),
                Err(zk::Error::NoNode) if attempt == 0 => self.make_parents(client, path).await?,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(false)
    }

    async fn make_parents(&self, client: &zk::Client, path: &str) -> Result<(), DcsError> {
        let mut at = String::new();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            at.push('/');
            at.push_str(part);
            match self.attempt(client.create(&at, &[], &PERSISTENT)).await? {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    /// Writes `key`, with `version` only if the znode still has it; creates it when missing
    /// and no version was asked for.
    async fn set(&self, key: &str, value: &str, version: Option<i64>) -> Result<bool, DcsError> {
        let client = self.client().await?;
        let path = self.path(key);
        let expected = version.map(|v| v as i32);
        let write = client.set_data(&path, value.as_bytes(), expected);
        match self.attempt(write).await? {
            Ok(_) => Ok(true),
            Err(zk::Error::NoNode) if version.is_none() => {
                self.create(&client, &path, value, &PERSISTENT).await
            }
            Err(_) => Ok(false),
        }
    }

    /// The stat of `key` if it exists, after a `sync` so that the answer is as new as the
    /// ensemble's leader (a lagging server must not tell a leader it still holds the lock).
    async fn fresh_stat(
        &self,
        client: &zk::Client,
        key: &str,
    ) -> Result<Option<zk::Stat>, DcsError> {
        let path = self.path(key);
        self.run(client.sync(&path)).await?;
        self.run(client.check_stat(&path)).await
    }

    /// Whether `leader` is an ephemeral znode of our current session.
    async fn owns_leader(&self, client: &zk::Client) -> Result<bool, DcsError> {
        let stat = self.fresh_stat(client, "leader").await?;
        Ok(stat.is_some_and(|s| s.ephemeral_owner == client.session_id().0))
    }

    async fn read_children(
        &self,
        client: &zk::Client,
        dir: &str,
        rel: &str,
        out: &mut Vec<KeyValue>,
    ) -> Result<(), DcsError> {
        let children = match self.attempt(client.list_children(dir)).await? {
            Ok(c) => c,
            Err(zk::Error::NoNode) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        };
        for child in children {
            let path = format!("{dir}/{child}");
            let key = format!("{rel}{child}");
            // Members are direct children of `members`; `optime/leader` is the legacy key.
            if key == "members" || key == "optime" {
                Box::pin(self.read_children(client, &path, &format!("{key}/"), out)).await?;
                continue;
            }
            match self.attempt(client.get_data(&path)).await? {
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(unavailable(e)),
                Ok((data, stat)) => {
                    out.push(KeyValue {
                        key,
                        value: String::from_utf8_lossy(&data).into_owned(),
                        version: i64::from(stat.version),
                        session: (stat.ephemeral_owner != 0)
                            .then(|| format!("{:x}", stat.ephemeral_owner)),
                    });
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Dcs for ZooKeeperDcs {
    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        let client = self.client().await?;
        // The watch goes in before the read, so a change made after the read wakes it.
        self.ensure_watcher(&client).await;
        let mut keys = Vec::new();
        self.read_children(&client, self.dir(), "", &mut keys)
            .await?;
        let ours = format!("members/{}", self.name);
        self.state().member_read = keys
            .iter()
            .find(|kv| kv.key == ours)
            .map(|kv| (kv.value.clone(), kv.session.clone().unwrap_or_default()));
        Ok(Cluster::from_keys(&keys))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<Option<u32>, DcsError> {
        let client = self.client().await?;
        let won = self
            .create(&client, &self.path("leader"), &self.name, &EPHEMERAL)
            .await?;
        if won {
            self.state().leading = true;
        } else {
            tracing::info!("Could not take out TTL lock");
        }
        Ok(won.then(|| self.lock_ttl()))
    }

    async fn update_leader(
        &self,
        cluster: &Cluster,
        last_lsn: Option<u64>,
    ) -> Result<Option<u32>, DcsError> {
        let client = self.client().await?;
        let held = match self.fresh_stat(&client, "leader").await? {
            Some(stat) if stat.ephemeral_owner == client.session_id().0 => true,
            Some(stat) => {
                // Our name under another session of ours (before a reconnect): recreate it
                // under this one, compare-and-delete on its version first.
                let path = self.path("leader");
                let (data, _) = self.run(client.get_data(&path)).await?;
                if data == self.name.as_bytes() {
                    tracing::warn!(
                        "I am the leader but not owner of the session: recreating the leader znode"
                    );
                    let deleted = client.delete(&path, Some(stat.version));
                    self.run(deleted).await?;
                    self.create(&client, &path, &self.name, &EPHEMERAL).await?
                } else {
                    false
                }
            }
            // Nobody holds it (our old session expired): take it again if we can.
            None => {
                self.create(&client, &self.path("leader"), &self.name, &EPHEMERAL)
                    .await?
            }
        };
        self.state().leading = held;
        let held = held.then(|| self.lock_ttl());
        self.status
            .after_renewal(self, cluster, held, last_lsn)
            .await;
        Ok(held)
    }

    async fn renew_lock(&self) -> Result<Option<u32>, DcsError> {
        // The client pings by itself; what the renewal timer needs is proof that the session
        // is alive now and still owns the lock. Never open a new session here: that is the HA
        // loop's business.
        let Some(client) = self.live_session().await else {
            return Ok(None);
        };
        let held = self.owns_leader(&client).await?;
        self.state().leading = held;
        Ok(held.then(|| self.lock_ttl()))
    }

    async fn keepalive(&self) -> Result<(), DcsError> {
        match self.live_session().await {
            Some(client) => self.run(client.sync(self.dir())).await.map(|_| ()),
            None => Ok(()),
        }
    }

    async fn delete_leader(&self, last_lsn: Option<u64>) -> Result<(), DcsError> {
        if let Some(lsn) = last_lsn {
            self.status.write(self, lsn).await?;
        }
        let client = self.client().await?;
        self.state().leading = false;
        if let Some(stat) = self.fresh_stat(&client, "leader").await? {
            if stat.ephemeral_owner == client.session_id().0 {
                let path = self.path("leader");
                // Gone or changed meanwhile: not ours to delete any more either way.
                let _ = self
                    .attempt(client.delete(&path, Some(stat.version)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        if !create_new {
            return self.set("initialize", sysid, None).await;
        }
        let client = self.client().await?;
        self.create(&client, &self.path("initialize"), sysid, &PERSISTENT)
            .await
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        let client = self.client().await?;
        match self
            .attempt(client.delete(&self.path("initialize"), None))
            .await?
        {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn touch_member(&self, data: &str) -> Result<(), DcsError> {
        let client = self.client().await?;
        // The last read already showed our znode, under this session, with this data.
        let session = format!("{:x}", client.session_id().0);
        if self.state().member_read.as_ref() == Some(&(data.to_string(), session)) {
            return Ok(());
        }
        let key = format!("members/{}", self.name);
        let path = self.path(&key);
        let stat = self.run(client.check_stat(&path)).await?;
        match stat {
            Some(s) if s.ephemeral_owner == client.session_id().0 => {
                self.run(client.set_data(&path, data.as_bytes(), None))
                    .await?;
            }
            Some(s) => {
                // Left by an older session of ours: it would vanish when that one expires.
                match self.attempt(client.delete(&path, Some(s.version))).await? {
                    Ok(()) | Err(zk::Error::NoNode) => {}
                    Err(e) => return Err(unavailable(e)),
                }
                self.create(&client, &path, data, &EPHEMERAL).await?;
            }
            None => {
                self.create(&client, &path, data, &EPHEMERAL).await?;
            }
        }
        Ok(())
    }

    async fn write_key(
        &self,
        key: &str,
        value: &str,
        version: Option<i64>,
    ) -> Result<bool, DcsError> {
        self.set(key, value, version).await
    }

    async fn delete_cluster(&self) -> Result<(), DcsError> {
        let client = self.client().await?;
        self.delete_tree(&client, self.dir().to_string()).await
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        Ok(tokio::time::timeout(timeout, self.wake.notified())
            .await
            .is_ok())
    }

    fn set_ttl(&self, ttl: u32) {
        let mut s = self.state();
        if s.ttl != ttl {
            s.ttl = ttl;
            // The session timeout is fixed when a session opens: a leader keeps its session
            // (and the lock) and takes the new ttl with its next one.
            s.ttl_changed = true;
        }
    }

    fn set_retry_timeout(&self, retry_timeout: u32) {
        self.state().retry_timeout = retry_timeout;
    }
}

impl ZooKeeperDcs {
    async fn delete_tree(&self, client: &zk::Client, path: String) -> Result<(), DcsError> {
        let children = match self.attempt(client.list_children(&path)).await? {
            Ok(c) => c,
            Err(zk::Error::NoNode) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        };
        for child in children {
            Box::pin(self.delete_tree(client, format!("{path}/{child}"))).await?;
        }
        match self.attempt(client.delete(&path, None)).await? {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
