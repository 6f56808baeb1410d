//! Builds the DCS client a configuration names, from the backends compiled in (one cargo
//! feature per backend), for the daemon and patronictl alike.

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
    match &config.dcs {
        #[cfg(feature = "etcd")]
        Some(DcsSection::Etcd3(etcd)) => {
            let dcs =
                patroni_dcs_etcd::EtcdDcs::connect(etcd, &prefix, name, ttl, retry_timeout).await?;
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
