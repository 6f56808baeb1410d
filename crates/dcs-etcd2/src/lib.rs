//! The etcd v2 backend (the `etcd:` section, docs/dcs.md).
//!
//! There are no leases in v2: `leader` and `members/<name>` are keys with a `ttl` that this
//! node refreshes. Taking the lock is `prevExist=false`; renewing and deleting it compare the
//! value (`prevValue=<name>`), and `config`/`failover` writes compare `prevIndex`, so every
//! leadership write is a compare-and-set. A long-polling `wait=true` watch on the cluster
//! directory wakes the HA loop.

mod http;
mod watch;

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use hyper::Method;
use patroni_core::cluster::{Cluster, KeyValue};
use patroni_core::config::EtcdConfig;
use patroni_core::dcs::{Dcs, DcsError, StatusKey};
use tokio::sync::Notify;

use http::{Http, Node, Outcome};

/// A node's (or patronictl's) connection to etcd's v2 API.
pub struct EtcdV2Dcs {
    http: Arc<Http>,
    /// `/service/<scope>/`.
    prefix: String,
    name: String,
    state: Mutex<State>,
    status: StatusKey,
    wake: Arc<Notify>,
    /// The etcd index the watch waits from: one past the last read or event.
    next_index: Arc<AtomicI64>,
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct State {
    ttl: u32,
    retry_timeout: u32,
    /// We created or renewed `leader` last: the renewal timer refreshes it.
    leading: bool,
}

impl EtcdV2Dcs {
    /// Connects to etcd's v2 API; `name` is the member name, `prefix` `/service/<scope>/`.
    pub fn connect(
        config: &EtcdConfig,
        prefix: &str,
        name: &str,
        ttl: u32,
        retry_timeout: u32,
    ) -> Result<EtcdV2Dcs, DcsError> {
        if config.protocol == "https" {
            return Err(DcsError::Protocol(
                "etcd.protocol: https is not supported by the etcd v2 backend of patroni-rs".into(),
            ));
        }
        let auth = match (&config.username, &config.password) {
            (Some(user), password) => {
                use base64::Engine;
                let raw = format!("{user}:{}", password.as_deref().unwrap_or(""));
                Some(base64::engine::general_purpose::STANDARD.encode(raw))
            }
            _ => None,
        };
        Ok(EtcdV2Dcs {
            http: Arc::new(Http::new(config.hosts.clone(), auth)),
            prefix: prefix.to_string(),
            name: name.to_string(),
            state: Mutex::new(State {
                ttl,
                retry_timeout,
                leading: false,
            }),
            status: StatusKey,
            wake: Arc::new(Notify::new()),
            next_index: Arc::new(AtomicI64::new(0)),
            watcher: Mutex::new(None),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update of plain values.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    fn ttl(&self) -> String {
        self.state().ttl.to_string()
    }

    /// The ttl to send now, as a number (what etcd applies to the key we write with it).
    fn ttl_secs(&self) -> u32 {
        self.state().ttl
    }

    async fn call(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Outcome, DcsError> {
        let timeout = Duration::from_secs(u64::from(self.state().retry_timeout.max(1)));
        self.http
            .call(method, &self.key(key), query, Some(timeout))
            .await
    }

    /// A PUT whose compare may fail: `Ok(true)` when written.
    async fn put(&self, key: &str, query: &[(&str, String)]) -> Result<bool, DcsError> {
        match self.call(Method::PUT, key, query).await? {
            Outcome::Done { .. } => Ok(true),
            Outcome::Refused { .. } => Ok(false),
            Outcome::IndexCleared => Err(DcsError::Protocol("unexpected index error".into())),
        }
    }

    async fn cas_put(
        &self,
        key: &str,
        value: &str,
        version: Option<i64>,
    ) -> Result<bool, DcsError> {
        let mut query = vec![("value", value.to_string())];
        if let Some(v) = version.filter(|v| *v > 0) {
            query.push(("prevIndex", v.to_string()));
        }
        self.put(key, &query).await
    }

    /// Refreshes the TTL of `key` to `ttl` if it still holds `value`, without notifying
    /// watchers.
    async fn refresh(&self, key: &str, value: &str, ttl: u32) -> Result<bool, DcsError> {
        self.put(
            key,
            &[
                ("ttl", ttl.to_string()),
                ("refresh", "true".into()),
                ("prevExist", "true".into()),
                ("prevValue", value.into()),
            ],
        )
        .await
    }
}

/// Every leaf under `node`, with its key relative to `prefix`.
fn flatten(node: Node, prefix: &str, out: &mut Vec<KeyValue>) {
    if node.dir {
        for child in node.nodes {
            flatten(child, prefix, out);
        }
        return;
    }
    if let Some(key) = node.key.strip_prefix(prefix) {
        out.push(KeyValue {
            key: key.to_string(),
            value: node.value.unwrap_or_default(),
            version: node.modified_index,
            // v2 keys have no owner; a TTL marks the ephemeral ones.
            session: node.ttl.map(|_| String::new()),
        });
    }
}

#[async_trait]
impl Dcs for EtcdV2Dcs {
    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        let dir = self.prefix.trim_end_matches('/');
        let timeout = Duration::from_secs(u64::from(self.state().retry_timeout.max(1)));
        let query = [("recursive", "true".into()), ("quorum", "true".into())];
        let outcome = self
            .http
            .call(Method::GET, dir, &query, Some(timeout))
            .await?;
        let (keys, index) = match outcome {
            Outcome::Done { node, index } => {
                let mut keys = Vec::new();
                if let Some(node) = node {
                    flatten(node, &self.prefix, &mut keys);
                }
                (keys, index)
            }
            // No cluster directory yet.
            Outcome::Refused { index, .. } => (Vec::new(), index),
            Outcome::IndexCleared => {
                return Err(DcsError::Protocol("unexpected index error".into()))
            }
        };
        self.ensure_watcher(index + 1);
        Ok(Cluster::from_keys(&keys))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<Option<u32>, DcsError> {
        let ttl = self.ttl_secs();
        let query = [
            ("value", self.name.clone()),
            ("ttl", ttl.to_string()),
            ("prevExist", "false".into()),
        ];
        let won = self.put("leader", &query).await?;
        if won {
            self.state().leading = true;
        } else {
            tracing::info!("Could not take out TTL lock");
        }
        Ok(won.then_some(ttl))
    }

    async fn update_leader(
        &self,
        cluster: &Cluster,
        last_lsn: Option<u64>,
    ) -> Result<Option<u32>, DcsError> {
        let ttl = self.ttl_secs();
        let query = [
            ("value", self.name.clone()),
            ("ttl", ttl.to_string()),
            ("prevValue", self.name.clone()),
        ];
        let held = match self.call(Method::PUT, "leader", &query).await? {
            Outcome::Done { .. } => Some(ttl),
            // The key expired under us: take it again if nobody else did.
            Outcome::Refused { code: 100, .. } => self.attempt_to_acquire_leader().await?,
            _ => None,
        };
        self.state().leading = held.is_some();
        self.status
            .after_renewal(self, cluster, held, last_lsn)
            .await;
        Ok(held)
    }

    async fn renew_lock(&self) -> Result<Option<u32>, DcsError> {
        // The compare on the value and the new TTL are one request: the key is ours and lives
        // `ttl` seconds from when etcd handled it.
        let ttl = self.ttl_secs();
        let held = self.refresh("leader", &self.name, ttl).await?;
        self.state().leading = held;
        Ok(held.then_some(ttl))
    }

    async fn keepalive(&self) -> Result<(), DcsError> {
        // Keep the member key while a long action (a clone) holds up the HA loop. Its value
        // is whatever we wrote last, so compare on existence only.
        let member = format!("members/{}", self.name);
        self.put(
            &member,
            &[
                ("ttl", self.ttl()),
                ("refresh", "true".into()),
                ("prevExist", "true".into()),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn delete_leader(&self, last_lsn: Option<u64>) -> Result<(), DcsError> {
        if let Some(lsn) = last_lsn {
            self.status.write(self, lsn).await?;
        }
        self.state().leading = false;
        self.call(
            Method::DELETE,
            "leader",
            &[("prevValue", self.name.clone())],
        )
        .await
        .map(|_| ())
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        let mut query = vec![("value", sysid.to_string())];
        if create_new {
            query.push(("prevExist", "false".into()));
        }
        self.put("initialize", &query).await
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        self.call(Method::DELETE, "initialize", &[])
            .await
            .map(|_| ())
    }

    async fn touch_member(&self, data: &str) -> Result<(), DcsError> {
        let key = format!("members/{}", self.name);
        self.put(&key, &[("value", data.to_string()), ("ttl", self.ttl())])
            .await
            .map(|_| ())
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
        let dir = self.prefix.trim_end_matches('/');
        let timeout = Duration::from_secs(u64::from(self.state().retry_timeout.max(1)));
        let query = [("recursive", "true".into()), ("dir", "true".into())];
        self.http
            .call(Method::DELETE, dir, &query, Some(timeout))
            .await
            .map(|_| ())
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        Ok(tokio::time::timeout(timeout, self.wake.notified())
            .await
            .is_ok())
    }

    fn set_ttl(&self, ttl: u32) {
        self.state().ttl = ttl;
    }

    fn set_retry_timeout(&self, retry_timeout: u32) {
        self.state().retry_timeout = retry_timeout;
    }
}

impl Drop for EtcdV2Dcs {
    fn drop(&mut self) {
        let slot = self.watcher.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = slot.take() {
            handle.abort();
        }
    }
}
