//! Builds the DCS client a configuration names, from the backends compiled in (one cargo
//! feature per backend, named after its section: `etcd3`, `etcd`, `zookeeper`), for the
//! daemon and patronictl alike.

use std::sync::Arc;

use patroni_core::config::{Config, DcsSection};
use patroni_core::dcs::{cluster_prefix, Dcs, DcsError};

/// Connects to the configured DCS. `name`: the member name (the scope for patronictl).
pub async fn connect(
    config: &Config,
    name: &str,
    ttl: u32,
    retry_timeout: u32,
) -> Result<Arc<dyn Dcs>, DcsError> {
    let prefix = cluster_prefix(&config.namespace, &config.scope);
    // Each arm exists only when its backend is compiled in; the bindings are unused otherwise.
    let _ = (&prefix, name, ttl, retry_timeout);
    match &config.dcs {
        #[cfg(feature = "etcd3")]
        Some(DcsSection::Etcd3(etcd)) => {
            let dcs =
                patroni_dcs_etcd::EtcdDcs::connect(etcd, &prefix, name, ttl, retry_timeout).await?;
            Ok(Arc::new(dcs))
        }
        #[cfg(feature = "etcd")]
        Some(DcsSection::Etcd(etcd)) => {
            let dcs =
                patroni_dcs_etcd2::EtcdV2Dcs::connect(etcd, &prefix, name, ttl, retry_timeout)?;
            Ok(Arc::new(dcs))
        }
        #[cfg(feature = "zookeeper")]
        Some(DcsSection::ZooKeeper(zk)) => {
            use patroni_dcs_zookeeper::ZooKeeperDcs;
            let dcs = ZooKeeperDcs::new(zk, &prefix, name, ttl, retry_timeout)?;
            Ok(Arc::new(dcs))
        }
        #[cfg(feature = "zookeeper")]
        Some(DcsSection::Exhibitor(ex)) => {
            use patroni_dcs_zookeeper::ZooKeeperDcs;
            let dcs = ZooKeeperDcs::with_exhibitor(ex, &prefix, name, ttl, retry_timeout).await?;
            Ok(Arc::new(dcs))
        }
        Some(other) => Err(DcsError::Protocol(format!(
            "the '{}' DCS section is not supported by this build of patroni-rs",
            other.name()
        ))),
        None => Err(DcsError::Protocol("no DCS section configured".into())),
    }
}

/// The name used in "waiting on <dcs>" messages.
pub fn dcs_name(config: &Config) -> &str {
    match &config.dcs {
        Some(DcsSection::Etcd3(_)) | Some(DcsSection::Etcd(_)) => "etcd",
        Some(DcsSection::ZooKeeper(_)) | Some(DcsSection::Exhibitor(_)) => "zookeeper",
        Some(DcsSection::Other(n)) => n,
        None => "DCS",
    }
}
