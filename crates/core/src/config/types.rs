//! The plain values of the local configuration (credentials, `restapi`, `bootstrap`,
//! `postgresql`, `tags`): filled by the section readers, read by everyone else. They live
//! apart from the readers so that the readers depend on them and not on each other.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// A user name and an optional password (PostgreSQL roles, REST basic auth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password, if any.
    pub password: Option<String>,
}

/// `restapi:`.
#[derive(Debug, Clone, Default)]
pub struct RestApiConfig {
    /// Listen address `host:port`.
    pub listen: String,
    /// Address other members and clients use, `host:port`.
    pub connect_address: String,
    /// Basic auth for unsafe endpoints.
    pub authentication: Option<Credentials>,
}

/// `bootstrap:`.
#[derive(Debug, Clone, Default)]
pub struct BootstrapConfig {
    /// Whether the section exists: only then may this node initialise a new cluster.
    pub present: bool,
    /// `bootstrap.dcs`: the initial dynamic configuration.
    pub dcs: Value,
    /// `bootstrap.initdb` turned into `initdb` arguments.
    pub initdb_args: Vec<String>,
    /// `bootstrap.pg_hba`: lines appended to the initdb-made `pg_hba.conf`.
    pub pg_hba: Vec<String>,
    /// `bootstrap.post_bootstrap` (alias `post_init`).
    pub post_bootstrap: Option<String>,
}

/// `postgresql:` (local part).
#[derive(Debug, Clone, Default)]
pub struct PostgresqlConfig {
    /// `listen_addresses` from `postgresql.listen`.
    pub listen_addresses: String,
    /// Port from `postgresql.listen` (default 5432).
    pub port: u16,
    /// `postgresql.connect_address` (`host:port`).
    pub connect_address: String,
    /// `postgresql.data_dir`.
    pub data_dir: PathBuf,
    /// `postgresql.config_dir` (default: data_dir).
    pub config_dir: PathBuf,
    /// `postgresql.bin_dir`, if set.
    pub bin_dir: Option<PathBuf>,
    /// `postgresql.bin_name.*` overrides: (default name, configured name).
    pub bin_names: Vec<(String, String)>,
    /// `postgresql.pgpass` (default `~/pgpass`).
    pub pgpass: PathBuf,
    /// Superuser credentials.
    pub superuser: Credentials,
    /// Replication user credentials.
    pub replication: Credentials,
    /// pg_rewind user (falls back to the superuser).
    pub rewind: Option<Credentials>,
    /// Local `postgresql.parameters`.
    pub parameters: Map<String, Value>,
    /// Local `postgresql.pg_hba`.
    pub pg_hba: Option<Vec<String>>,
    /// Local `postgresql.use_pg_rewind`.
    pub use_pg_rewind: Option<bool>,
    /// `postgresql.pg_ctl_timeout` seconds (default 60).
    pub pg_ctl_timeout: u64,
    /// `postgresql.basebackup` as `pg_basebackup` arguments.
    pub basebackup_args: Vec<String>,
    /// `postgresql.database` (default `postgres`).
    pub database: String,
    /// `postgresql.remove_data_directory_on_rewind_failure`.
    pub remove_data_directory_on_rewind_failure: bool,
    /// `postgresql.remove_data_directory_on_diverged_timelines`.
    pub remove_data_directory_on_diverged_timelines: bool,
    /// `postgresql.callbacks`: the command of each event that has one.
    pub callbacks: Vec<(crate::callbacks::CallbackAction, String)>,
    /// `postgresql.pre_promote`: the fencing command run before a promotion.
    pub pre_promote: Option<String>,
    /// `postgresql.before_stop`: the command run before PostgreSQL is stopped.
    pub before_stop: Option<String>,
}

impl PostgresqlConfig {
    /// The path of a PostgreSQL program, honouring `bin_dir` and `bin_name`.
    pub fn binary(&self, default_name: &str) -> PathBuf {
        let name = self
            .bin_names
            .iter()
            .find(|(d, _)| d == default_name)
            .map(|(_, n)| n.as_str())
            .unwrap_or(default_name);
        match &self.bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }
}

/// `tags:`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    /// Never become leader.
    pub nofailover: bool,
    /// Tie-breaker on equal LSN (default 1); `<= 0` behaves like `nofailover`.
    pub failover_priority: i64,
    /// `GET /replica` answers 503.
    pub noloadbalance: bool,
    /// Preferred clone source.
    pub clonefrom: bool,
    /// Never a synchronous standby.
    pub nosync: bool,
    /// No streaming replication.
    pub nostream: bool,
    /// Member to cascade from.
    pub replicatefrom: Option<String>,
    /// The tags as published in the member key (false predefined booleans dropped).
    pub published: Map<String, Value>,
}
