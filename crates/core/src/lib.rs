//! patroni-core: everything about a Patroni cluster that needs no process, socket or file
//! beyond the configuration itself.
//!
//! * [`callbacks`]: which callback script runs when;
//! * [`config`]: the Patroni YAML, `PATRONI_*` environment overrides and validation;
//! * [`cluster`]: the cluster as read from the DCS (serde types matching Patroni's JSON);
//! * [`dcs`]: the [`dcs::Dcs`] trait every backend implements, and the key layout;
//! * [`ha`]: the HA rules as a pure decision (cluster view + local state in, action out);
//! * [`state`]: the role and PostgreSQL state names Patroni publishes;
//! * [`lsn`], [`timing`]: small shared helpers.

pub mod callbacks;
pub mod cluster;
pub mod config;
pub mod dcs;
pub mod ha;
pub mod lsn;
pub mod peer;
pub mod pyjson;
pub mod schedule;
pub mod state;
pub mod status;
pub mod timing;
pub mod view;

/// The Patroni version we are compatible with and advertise in member keys and REST answers.
///
/// Peers use the `version` field for feature detection (e.g. `< 4.0.0` changes how slots are
/// advanced), so we announce the upstream release whose behaviour we reproduce.
pub const PATRONI_VERSION: &str = "4.1.4";

/// The version of this implementation itself.
pub const IMPLEMENTATION_VERSION: &str = env!("CARGO_PKG_VERSION");
