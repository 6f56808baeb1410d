//! The HA rules of ha-loop.md as pure functions: a cluster view and the local state go in, a
//! [`Decision`] comes out. The daemon performs the side effects (DCS writes, pg_ctl, ...) and
//! feeds their outcomes back through [`after_renew`] and [`after_acquire`], so every rule can
//! be table-tested without a process.

mod decide;
mod failover;
mod healthiest;
mod rewind;

pub use decide::{after_acquire, after_renew, decide};
pub use failover::{
    action_name, failover_possible, healthiest_candidate, leader_step, takeover_candidates,
    FailoverStep,
};
pub use healthiest::is_healthiest;
pub use rewind::{rewind_needed, LocalPosition};

use crate::cluster::Cluster;
use crate::config::DynamicConfig;
use crate::peer::PeerStatus;

/// What is in the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// Missing or empty: this node must bootstrap or clone.
    Empty,
    /// A cluster with this system identifier.
    Initialized {
        /// `Database system identifier` from pg_controldata.
        system_id: String,
    },
    /// Not empty but pg_controldata shows no valid system identifier.
    Invalid,
}

/// What the local PostgreSQL is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postgres {
    /// Accepting connections.
    Running {
        /// `pg_is_in_recovery()` is false.
        primary: bool,
        /// Current timeline.
        timeline: u64,
        /// Primary: flush LSN; replica: max(received, replayed).
        wal_position: u64,
    },
    /// Started by us, not yet accepting connections.
    Starting,
    /// No postmaster.
    Stopped {
        /// pg_controldata says it was a primary when it stopped (no standby.signal).
        was_primary: bool,
    },
}

/// This node's own state, gathered by the daemon before each decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalState {
    /// Member name.
    pub name: String,
    /// The data directory.
    pub data_dir: DataDir,
    /// PostgreSQL.
    pub postgres: Postgres,
    /// `nofailover` (or `failover_priority <= 0`).
    pub nofailover: bool,
    /// `failover_priority`.
    pub failover_priority: i64,
    /// The configuration has a `bootstrap` section (only then may we initialise a cluster).
    pub can_bootstrap: bool,
}

impl LocalState {
    /// Whether PostgreSQL runs as a primary.
    pub fn is_running_primary(&self) -> bool {
        matches!(self.postgres, Postgres::Running { primary: true, .. })
    }
}

/// Everything a decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct HaInput<'a> {
    /// The DCS view read at the start of the cycle.
    pub cluster: &'a Cluster,
    /// Dynamic configuration in force.
    pub config: &'a DynamicConfig,
    /// Local state.
    pub local: &'a LocalState,
    /// Other members' `/patroni` answers, when the daemon polled them (`None`: not polled).
    pub peers: Option<&'a [PeerStatus]>,
}

/// How to take PostgreSQL out of the primary role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoteMode {
    /// Lost the lock: stop at once (no checkpoint), keep nothing, restart as replica.
    ImmediateNoLock,
    /// Must give up quickly and release the key.
    Immediate,
}

/// What the node should do this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do but report.
    Wait {
        /// The cycle message.
        message: String,
        /// We hold the key and must keep renewing it while we wait.
        renew: bool,
    },
    /// Stop: configuration or data do not belong to this cluster.
    Fatal(String),
    /// Poll the other members' REST APIs, then decide again with `peers` filled in.
    PollPeers,
    /// Race for the `initialize` key; the winner runs initdb.
    RaceBootstrap,
    /// Create a replica from `from` (pg_basebackup).
    Clone {
        /// Member to clone from.
        from: String,
        /// The cycle message.
        message: String,
    },
    /// Release the leader key (e.g. data directory lost while leading).
    ReleaseLock {
        /// The cycle message.
        message: String,
    },
    /// Start the stopped PostgreSQL.
    Start {
        /// Start as a primary (we hold the key and were the primary).
        as_primary: bool,
        /// Member to stream from (`None`: nobody yet).
        follow: Option<String>,
        /// The cycle message.
        message: String,
    },
    /// We hold the key: renew it, then act on [`after_renew`].
    RenewLock,
    /// Nobody holds the key and we are the healthiest: try to take it, then act on [`after_acquire`].
    AcquireLock,
    /// Run as a replica of `leader` (demoting first if we run a primary).
    Follow {
        /// Member to follow (`None`: nobody).
        leader: Option<String>,
        /// We run a primary that must be demoted first.
        demote: bool,
        /// The cycle message.
        message: String,
    },
}

/// What to do once the outcome of a lock operation is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already in the right role.
    NoAction(String),
    /// Promote the local replica.
    Promote(String),
    /// Demote the local primary.
    Demote {
        /// How.
        mode: DemoteMode,
        /// The cycle message.
        message: String,
    },
    /// Keep (or become) a replica of `leader`.
    Follow {
        /// Member to follow.
        leader: Option<String>,
        /// The cycle message.
        message: String,
    },
}

#[cfg(test)]
mod tests;
