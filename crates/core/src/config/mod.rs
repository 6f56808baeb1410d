//! Patroni's configuration: the YAML file (or directory), `PATRONI_*` overrides, and the typed
//! view the daemon and patronictl work from.
//!
//! Loading follows upstream's order: a file or directory of `*.yml` files, else
//! `PATRONI_CONFIGURATION`, else the environment alone; environment variables are merged over
//! the file. Validation happens once, before anything is touched, and every error names its key.

mod dcs;
mod dynamic;
pub mod env;
mod load;
mod local;
mod log;
mod schema;
mod sections;
mod types;
pub mod value;

pub use dcs::{DcsSection, EtcdConfig, ExhibitorConfig, ZooKeeperConfig};
pub use dynamic::DynamicConfig;
pub use load::{load_tree, parse_yaml};
pub use local::{Config, Strictness};
pub use log::{JsonField, LogConfig, LogFormat, LogLevel, LogType, DEFAULT_FORMAT};
pub use schema::{check_ctl, check_dynamic, check_local, newly_refused, KeyReport};
pub use types::{BootstrapConfig, Credentials, PostgresqlConfig, RestApiConfig, Tags};

/// What went wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key has a wrong value or is missing; `key` is its dotted path.
    #[error("{}", if key.is_empty() { message.clone() } else { format!("{key}: {message}") })]
    Invalid {
        /// Dotted path of the key (`postgresql.authentication.superuser.username`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("cannot parse configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
}

/// The names of the DCS sections Patroni knows.
pub fn local_dcs_names() -> &'static [&'static str] {
    &dcs::KNOWN_DCS
}

impl ConfigError {
    /// An error about the key at `key`.
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
