//! The interface every DCS backend implements (docs/dcs.md), and the key layout.

use std::time::Duration;

use async_trait::async_trait;

use crate::cluster::Cluster;

/// Errors a backend reports. Anything that means "the store could not be reached or did not
/// answer in time" is `Unavailable`: the HA loop treats it as losing the DCS.
#[derive(Debug, thiserror::Error)]
pub enum DcsError {
    /// The store is unreachable or timed out.
    #[error("DCS is not accessible: {0}")]
    Unavailable(String),
    /// The store answered with something we cannot use.
    #[error("unexpected DCS answer: {0}")]
    Protocol(String),
}

/// The path of the cluster's keys: `/<namespace>/<scope>/` with runs of `/` collapsed.
pub fn cluster_prefix(namespace: &str, scope: &str) -> String {
    let raw = format!("/{namespace}/{scope}/");
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// What a node does with the DCS. One value per node; ephemeral keys (`leader`,
/// `members/<name>`) are bound to this node's own lease / session / TTL.
#[async_trait]
pub trait Dcs: Send + Sync {
    /// Reads the whole cluster (one consistent read).
    async fn get_cluster(&self) -> Result<Cluster, DcsError>;

    /// Creates `leader` = our name bound to our lease, only if it does not exist.
    /// `Ok(Some(ttl))`: taken, and it lives at least `ttl` seconds after the request was sent
    /// (the ttl the store applies, which may differ from the configured one). `Ok(None)`:
    /// someone else holds it.
    async fn attempt_to_acquire_leader(&self) -> Result<Option<u32>, DcsError>;

    /// Renews our hold on `leader` (fails if someone else owns it) and writes `status`
    /// with `last_lsn` when given. `Ok(Some(ttl))` as for [`Dcs::attempt_to_acquire_leader`];
    /// `Ok(None)`: we do not own the key any more.
    async fn update_leader(
        &self,
        cluster: &Cluster,
        last_lsn: Option<u64>,
    ) -> Result<Option<u32>, DcsError>;

    /// Proves again, between HA cycles, that `leader` is ours and extends its life, without
    /// rewriting it or `status`: the renewal timer's call while we lead. Proving the lease or
    /// session alone is not enough: the key itself must still be bound to it under our name.
    /// `Ok(Some(ttl))` / `Ok(None)` as for [`Dcs::update_leader`].
    async fn renew_lock(&self) -> Result<Option<u32>, DcsError>;

    /// Keeps our member key alive between HA cycles while we do not lead (a long clone).
    async fn keepalive(&self) -> Result<(), DcsError>;

    /// Deletes `leader` if we still own it, first writing `last_lsn` to `status` when given.
    async fn delete_leader(&self, last_lsn: Option<u64>) -> Result<(), DcsError>;

    /// `create_new`: creates `initialize` with `sysid` only if absent (the bootstrap race;
    /// `Ok(true)` = we won). Otherwise overwrites it.
    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError>;

    /// Deletes `initialize` (a failed bootstrap).
    async fn cancel_initialization(&self) -> Result<(), DcsError>;

    /// Writes our member key, bound to our lease.
    async fn touch_member(&self, data: &str) -> Result<(), DcsError>;

    /// Writes the permanent key `key` (`config`, `failover`, `history`), creating it when
    /// missing; with `version`, only if it still has that version (`Ok(false)` otherwise).
    async fn write_key(
        &self,
        key: &str,
        value: &str,
        version: Option<i64>,
    ) -> Result<bool, DcsError>;

    /// Writes `config`; with `version` only if it still has that version (`Ok(false)` otherwise).
    async fn set_config_value(&self, value: &str, version: Option<i64>) -> Result<bool, DcsError> {
        self.write_key("config", value, version).await
    }

    /// Writes `failover`; with `version` only if it still has that version.
    async fn set_failover_value(
        &self,
        value: &str,
        version: Option<i64>,
    ) -> Result<bool, DcsError> {
        self.write_key("failover", value, version).await
    }

    /// Writes `history`.
    async fn set_history_value(&self, value: &str) -> Result<bool, DcsError> {
        self.write_key("history", value, None).await
    }

    /// Deletes every key of the cluster.
    async fn delete_cluster(&self) -> Result<(), DcsError>;

    /// Waits up to `timeout` for a change worth waking the HA loop for (the leader key, the
    /// config); `Ok(true)` when woken early.
    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError>;

    /// Sets the TTL for the lease / session used from now on.
    fn set_ttl(&self, ttl: u32);

    /// Sets the retry budget for single operations.
    fn set_retry_timeout(&self, retry_timeout: u32);
}

/// The leader's `status` key: every backend writes it the same way, through
/// [`Dcs::write_key`]. As upstream, a renewal writes it only when its optime differs from the
/// one the last read showed, so a key someone removed or garbled is written again at the next
/// renewal, while an idle cluster does not rewrite it every cycle.
#[derive(Debug, Default)]
pub struct StatusKey;

impl StatusKey {
    /// Writes `{"optime":<last_lsn>}`.
    pub async fn write<D: Dcs + ?Sized>(&self, dcs: &D, last_lsn: u64) -> Result<(), DcsError> {
        dcs.write_key("status", &format!("{{\"optime\":{last_lsn}}}"), None)
            .await
            .map(|_| ())
    }

    /// After a renewal of the lock read as `cluster`: writes the optime when the lock is held
    /// and the read showed another one. A failure is only logged, since the renewal, not the
    /// optime, decides whether we keep leading.
    pub async fn after_renewal<D: Dcs + ?Sized>(
        &self,
        dcs: &D,
        cluster: &Cluster,
        held: Option<u32>,
        last_lsn: Option<u64>,
    ) {
        if let (Some(_), Some(lsn)) = (held, last_lsn) {
            if cluster.status.last_lsn == lsn {
                return;
            }
            if let Err(e) = self.write(dcs, lsn).await {
                tracing::warn!("failed to write /status: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_collapses_slashes() {
        assert_eq!(cluster_prefix("/service/", "batman"), "/service/batman/");
        assert_eq!(cluster_prefix("service", "batman"), "/service/batman/");
    }
}
