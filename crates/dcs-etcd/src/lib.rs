//! The etcd v3 backend (docs/dcs.md) on the `etcd-client` crate.
//!
//! One lease per node carries both its member key and, while it leads, the `leader` key, so a
//! node that stops renewing loses both after `ttl` and etcd deletes them itself. Taking the
//! lock is a transaction that succeeds only if `leader` does not exist; every other write of a
//! leadership key compares its value or revision first.

mod watch;

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, PutOptions, Txn, TxnOp,
};
use patroni_core::cluster::{Cluster, KeyValue};
use patroni_core::config::EtcdConfig;
use patroni_core::dcs::{Dcs, DcsError, StatusKey};
use tokio::sync::Notify;

/// A node's (or patronictl's) connection to an etcd v3 cluster.
pub struct EtcdDcs {
    client: Client,
    prefix: String,
    name: String,
    state: Mutex<LeaseState>,
    status: StatusKey,
    wake: std::sync::Arc<Notify>,
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Serializes what grants leases and moves the leader key between them: the HA loop and
    /// the renewal timer may both prove the lock at once.
    lease_op: tokio::sync::Mutex<()>,
}

struct LeaseState {
    ttl: u32,
    retry_timeout: u32,
    /// Our lease and the TTL etcd granted it.
    lease: Option<(i64, u32)>,
}

fn unavailable(e: impl std::fmt::Display) -> DcsError {
    DcsError::Unavailable(e.to_string())
}

/// A TTL etcd reported, as whole seconds (etcd's are positive `i64`s).
fn ttl_u32(ttl: i64) -> u32 {
    u32::try_from(ttl.max(0)).unwrap_or(u32::MAX)
}

impl EtcdDcs {
    /// Connects to etcd. `name` is the member name (patronictl passes the scope), `prefix` the
    /// cluster prefix (`/service/<scope>/`).
    pub async fn connect(
        config: &EtcdConfig,
        prefix: &str,
        name: &str,
        ttl: u32,
        retry_timeout: u32,
    ) -> Result<EtcdDcs, DcsError> {
        let scheme = if config.protocol == "https" {
            "https"
        } else {
            "http"
        };
        let endpoints: Vec<String> = config
            .hosts
            .iter()
            .map(|h| {
                if h.contains("://") {
                    h.clone()
                } else {
                    format!("{scheme}://{h}")
                }
            })
            .collect();
        let mut options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(u64::from(retry_timeout.max(1))))
            .with_timeout(Duration::from_secs(u64::from(retry_timeout.max(1))))
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            options = options.with_user(user.clone(), password.clone());
        }
        let client = tokio::time::timeout(
            Duration::from_secs(u64::from(retry_timeout.max(1))),
            Client::connect(endpoints, Some(options)),
        )
        .await
        .map_err(|_| unavailable("timed out connecting to etcd"))?
        .map_err(unavailable)?;
        Ok(EtcdDcs {
            client,
            prefix: prefix.to_string(),
            name: name.to_string(),
            state: Mutex::new(LeaseState {
                ttl,
                retry_timeout,
                lease: None,
            }),
            status: StatusKey,
            wake: std::sync::Arc::new(Notify::new()),
            watcher: Mutex::new(None),
            lease_op: tokio::sync::Mutex::new(()),
        })
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        // A poisoned lock only means another task panicked mid-update of plain numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.lock_state().retry_timeout.max(1)))
    }

    async fn with_timeout<T, F>(&self, fut: F) -> Result<T, DcsError>
    where
        F: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        tokio::time::timeout(self.timeout(), fut)
            .await
            .map_err(|_| unavailable("etcd request timed out"))?
            .map_err(unavailable)
    }

    /// Our lease and its granted TTL, granting a new one when we have none.
    async fn lease(&self) -> Result<(i64, u32), DcsError> {
        if let Some(lease) = self.lock_state().lease {
            return Ok(lease);
        }
        let ttl = i64::from(self.lock_state().ttl);
        let mut client = self.client.clone();
        let granted = self.with_timeout(client.lease_grant(ttl, None)).await?;
        let lease = (granted.id(), ttl_u32(granted.ttl()));
        self.lock_state().lease = Some(lease);
        tracing::debug!("granted etcd lease {:x} with ttl {}", lease.0, lease.1);
        Ok(lease)
    }

    /// Refreshes lease `id`: its TTL when alive, `None` when it expired.
    async fn refresh_lease(&self, id: i64) -> Result<Option<u32>, DcsError> {
        let mut client = self.client.clone();
        match self
            .with_timeout(async move {
                let (mut keeper, mut stream) = client.lease_keep_alive(id).await?;
                keeper.keep_alive().await?;
                Ok(stream.message().await?.map(|r| r.ttl()).unwrap_or(0))
            })
            .await
        {
            Ok(ttl) if ttl > 0 => Ok(Some(ttl_u32(ttl))),
            Ok(_) => Ok(None),
            // etcd answers an expired lease with an error rather than a zero TTL.
            Err(e) if Self::is_lease_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Proves the leader key is ours: refreshes our lease (a new one if it expired or the ttl
    /// changed), then checks in one transaction that `leader` holds our name bound to that
    /// lease, moving it there if it is ours under an older lease. The TTL returned is the
    /// lease's, refreshed or granted after the caller sent its request.
    async fn prove_leader(&self) -> Result<Option<u32>, DcsError> {
        let _serial = self.lease_op.lock().await;
        let current = self.lock_state().lease;
        let refreshed = match current {
            Some((id, _)) => self.refresh_lease(id).await?.map(|ttl| (id, ttl)),
            None => None,
        };
        let (lease, ttl) = match refreshed {
            Some(l) => l,
            None => {
                self.forget_lease();
                self.lease().await?
            }
        };
        let key = self.key("leader");
        // Compare value and lease without writing, so that renewing does not wake watchers.
        let held = self
            .txn(Txn::new().when([
                Compare::value(key.clone(), CompareOp::Equal, self.name.clone()),
                Compare::lease(key.clone(), CompareOp::Equal, lease),
            ]))
            .await?;
        if held {
            return Ok(Some(ttl));
        }
        // Our name under another (older) lease of ours, e.g. after a ttl change: move it.
        let moved = self
            .txn(
                Txn::new()
                    .when([Compare::value(
                        key.clone(),
                        CompareOp::Equal,
                        self.name.clone(),
                    )])
                    .and_then([TxnOp::put(
                        key,
                        self.name.clone(),
                        Some(PutOptions::new().with_lease(lease)),
                    )]),
            )
            .await?;
        if moved {
            tracing::warn!("I am the leader but not owner of the lease: moved the leader key to lease {lease:x}");
            return Ok(Some(ttl));
        }
        // The key expired under us (a long pause): take it again if nobody else did, as the
        // other backends and upstream do; a key someone else holds stays theirs.
        let key = self.key("leader");
        let retaken = self
            .txn(
                Txn::new()
                    .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(
                        key,
                        self.name.clone(),
                        Some(PutOptions::new().with_lease(lease)),
                    )]),
            )
            .await?;
        Ok(retaken.then_some(ttl))
    }

    fn forget_lease(&self) {
        self.lock_state().lease = None;
    }

    async fn put(&self, key: &str, value: &str, lease: Option<i64>) -> Result<(), DcsError> {
        let mut client = self.client.clone();
        let options = lease.map(|id| PutOptions::new().with_lease(id));
        self.with_timeout(client.put(self.key(key), value, options))
            .await
            .map(|_| ())
    }

    async fn txn(&self, txn: Txn) -> Result<bool, DcsError> {
        let mut client = self.client.clone();
        self.with_timeout(client.txn(txn))
            .await
            .map(|r| r.succeeded())
    }

    async fn cas_put(
        &self,
        key: &str,
        value: &str,
        version: Option<i64>,
    ) -> Result<bool, DcsError> {
        match version {
            None => self.put(key, value, None).await.map(|_| true),
            Some(v) => {
                let k = self.key(key);
                self.txn(
                    Txn::new()
                        .when([Compare::mod_revision(k.clone(), CompareOp::Equal, v)])
                        .and_then([TxnOp::put(k, value, None)]),
                )
                .await
            }
        }
    }

    fn is_lease_not_found(e: &DcsError) -> bool {
        matches!(e, DcsError::Unavailable(m) if m.contains("lease not found"))
    }
}

#[async_trait]
impl Dcs for EtcdDcs {
    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        let mut client = self.client.clone();
        let resp = self
            .with_timeout(client.get(self.prefix.clone(), Some(GetOptions::new().with_prefix())))
            .await?;
        let keys: Vec<KeyValue> = resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                let key = kv
                    .key_str()
                    .ok()?
                    .strip_prefix(self.prefix.as_str())?
                    .to_string();
                Some(KeyValue {
                    key,
                    value: String::from_utf8_lossy(kv.value()).into_owned(),
                    version: kv.mod_revision(),
                    session: (kv.lease() != 0).then(|| format!("{:x}", kv.lease())),
                })
            })
            .collect();
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        self.ensure_watcher(revision + 1);
        Ok(Cluster::from_keys(&keys))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<Option<u32>, DcsError> {
        let _serial = self.lease_op.lock().await;
        let key = self.key("leader");
        for attempt in 0..2 {
            let (lease, ttl) = self.lease().await?;
            let txn = Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(
                    key.clone(),
                    self.name.clone(),
                    Some(PutOptions::new().with_lease(lease)),
                )]);
            match self.txn(txn).await {
                Ok(won) => {
                    if !won {
                        tracing::info!("Could not take out TTL lock");
                    }
                    return Ok(won.then_some(ttl));
                }
                Err(e) if attempt == 0 && Self::is_lease_not_found(&e) => self.forget_lease(),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    async fn update_leader(
        &self,
        cluster: &Cluster,
        last_lsn: Option<u64>,
    ) -> Result<Option<u32>, DcsError> {
        let held = self.prove_leader().await?;
        self.status
            .after_renewal(self, cluster, held, last_lsn)
            .await;
        Ok(held)
    }

    async fn renew_lock(&self) -> Result<Option<u32>, DcsError> {
        self.prove_leader().await
    }

    async fn keepalive(&self) -> Result<(), DcsError> {
        let _serial = self.lease_op.lock().await;
        let current = self.lock_state().lease;
        let Some((id, _)) = current else {
            return Ok(());
        };
        if self.refresh_lease(id).await?.is_none() {
            tracing::warn!("etcd lease {id:x} has expired");
            self.forget_lease();
        }
        Ok(())
    }

    async fn delete_leader(&self, last_lsn: Option<u64>) -> Result<(), DcsError> {
        if let Some(lsn) = last_lsn {
            self.status.write(self, lsn).await?;
        }
        let key = self.key("leader");
        self.txn(
            Txn::new()
                .when([Compare::value(
                    key.clone(),
                    CompareOp::Equal,
                    self.name.clone(),
                )])
                .and_then([TxnOp::delete(key, None)]),
        )
        .await
        .map(|_| ())
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        if !create_new {
            return self.put("initialize", sysid, None).await.map(|_| true);
        }
        let key = self.key("initialize");
        self.txn(
            Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key, sysid, None)]),
        )
        .await
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        let mut client = self.client.clone();
        self.with_timeout(client.delete(self.key("initialize"), None))
            .await
            .map(|_| ())
    }

    async fn touch_member(&self, data: &str) -> Result<(), DcsError> {
        let key = format!("members/{}", self.name);
        for attempt in 0..2 {
            let (lease, _) = self.lease().await?;
            match self.put(&key, data, Some(lease)).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt == 0 && Self::is_lease_not_found(&e) => self.forget_lease(),
                Err(e) => return Err(e),
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
        self.cas_put(key, value, version).await
    }

    async fn delete_cluster(&self) -> Result<(), DcsError> {
        let mut client = self.client.clone();
        self.with_timeout(client.delete(
            self.prefix.clone(),
            Some(DeleteOptions::new().with_prefix()),
        ))
        .await
        .map(|_| ())
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        Ok(tokio::time::timeout(timeout, self.wake.notified())
            .await
            .is_ok())
    }

    fn set_ttl(&self, ttl: u32) {
        let mut state = self.lock_state();
        if state.ttl != ttl {
            state.ttl = ttl;
            // A lease's TTL is fixed at grant time: the next write takes a new one.
            state.lease = None;
        }
    }

    fn set_retry_timeout(&self, retry_timeout: u32) {
        self.lock_state().retry_timeout = retry_timeout;
    }
}

impl Drop for EtcdDcs {
    fn drop(&mut self) {
        if let Some(handle) = self
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            handle.abort();
        }
    }
}
