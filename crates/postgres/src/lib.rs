//! Everything patroni-rs does to a local PostgreSQL (docs/postgres.md): the files it
//! owns, starting, stopping and promoting the postmaster, creating a cluster or a replica,
//! pg_rewind, and the queries that tell the HA loop what PostgreSQL is doing.

mod bootstrap;
mod conf;
mod controldata;
mod divergence;
mod parameters;
mod pidfile;
mod process;
mod query;

pub use conf::{conninfo, effective_parameters, ReplicaOf};
pub use controldata::ControlData;
pub use parameters::{apply_refusals, fit_to_version, Parameter, ParameterNote};
pub use process::StopMode;
pub use query::{PgStatus, ReplicationRow};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use patroni_core::config::{Config, DynamicConfig};
use tokio::sync::Mutex;

/// What can go wrong while managing PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// A program failed; `output` is the tail of what it printed.
    #[error("{program} failed: {output}")]
    Command {
        /// Program name.
        program: String,
        /// Its output.
        output: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A query failed or PostgreSQL could not be reached.
    #[error("PostgreSQL: {0}")]
    Sql(#[from] tokio_postgres::Error),
    /// PostgreSQL did not get where it should within its time.
    #[error("{0}")]
    Timeout(String),
    /// Anything else worth telling the user.
    #[error("{0}")]
    Other(String),
}

impl PgError {
    /// PostgreSQL answered "the database system is starting up" (SQLSTATE 57P03).
    pub fn is_starting_up(&self) -> bool {
        match self {
            PgError::Sql(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW)
            }
            _ => false,
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PgError + '_ {
    move |source| PgError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One local PostgreSQL instance as configured for this member.
pub struct Postgresql {
    /// The member's configuration (name, scope, `postgresql:` section); swapped on reload.
    config: std::sync::RwLock<Arc<Config>>,
    /// Fixed at start: like Patroni, a reload does not move the data or configuration directory.
    data_dir: PathBuf,
    conf_dir: PathBuf,
    /// Cached "heartbeat" connection for the HA loop's queries.
    pub(crate) conn: Mutex<Option<Arc<tokio_postgres::Client>>>,
    /// Bumped whenever we start, stop, promote or reload PostgreSQL.
    changes: std::sync::atomic::AtomicU64,
    /// What the postmaster we manage may be doing (see `process.rs`).
    control: std::sync::Mutex<process::Control>,
    /// The parameters last fitted to the binary (`parameters.rs`).
    fitted: std::sync::Mutex<parameters::Fitted>,
}

impl Postgresql {
    /// Wraps the configuration; touches nothing.
    pub fn new(config: Arc<Config>) -> Postgresql {
        Postgresql {
            data_dir: config.postgresql.data_dir.clone(),
            conf_dir: config.postgresql.config_dir.clone(),
            config: std::sync::RwLock::new(config),
            conn: Mutex::new(None),
            changes: std::sync::atomic::AtomicU64::new(0),
            control: std::sync::Mutex::new(process::Control::default()),
            fitted: std::sync::Mutex::new(parameters::Fitted::default()),
        }
    }

    /// A counter that moves each time this process starts, stops, promotes or reloads
    /// PostgreSQL: a status read before it moved may describe another server state.
    pub fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn changed(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The configuration in force (the last one loaded).
    pub fn config(&self) -> Arc<Config> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the value is whole.
        Arc::clone(&self.config.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts a reloaded configuration in force for what is written and run from now on.
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn conf_dir(&self) -> &Path {
        &self.conf_dir
    }

    pub(crate) fn binary(&self, name: &str) -> PathBuf {
        self.config().postgresql.binary(name)
    }

    /// Whether the data directory is missing or empty, counting only dotfiles and
    /// `lost+found` (a mount point) as empty, as upstream does. A directory that cannot be
    /// listed is an error, never "empty": an empty data directory gets cloned over.
    pub fn data_dir_empty(&self) -> Result<bool, PgError> {
        let dir = self.data_dir();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(io_err(dir)(e)),
        };
        for entry in entries {
            let name = entry.map_err(io_err(dir))?.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with('.') || name == "lost+found") {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `standby.signal` (or `recovery.signal`) is present: PostgreSQL starts in recovery.
    pub fn has_standby_signal(&self) -> bool {
        self.data_dir().join("standby.signal").exists()
    }

    /// Removes the data directory. Only for what the user asked: a reinitialize, or
    /// `remove_data_directory_on_*` in the configuration, or an empty directory before a clone.
    pub async fn remove_data_directory(&self) -> Result<(), PgError> {
        let dir = self.data_dir().to_path_buf();
        if self.is_running() {
            return Err(PgError::Other(format!(
                "not removing {}: a postmaster runs on it",
                dir.display()
            )));
        }
        tracing::info!("Removing data directory: {}", dir.display());
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }

    /// Writes the cached dynamic configuration (`patroni.dynamic.json`), atomically.
    pub async fn save_dynamic_config(&self, dynamic: &DynamicConfig) -> Result<(), PgError> {
        if self.data_dir_empty()? {
            return Ok(());
        }
        let path = self.data_dir().join("patroni.dynamic.json");
        let tmp = self.data_dir().join("patroni.dynamic.json.tmp");
        let text = serde_json::to_string(&dynamic.raw).unwrap_or_else(|_| "{}".into());
        tokio::fs::write(&tmp, text).await.map_err(io_err(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io_err(&path))
    }
}
