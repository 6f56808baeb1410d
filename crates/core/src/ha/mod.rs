//! The HA rules as pure functions: a cluster view and the local state go in, a plan comes out
//! (docs/architecture.md lists every plan and the rule that makes it).
//!
//! The daemon gathers the inputs (DCS read, PostgreSQL status, peers' `/patroni`, the leader's
//! timeline), carries out the plan (DCS writes, pg_ctl, pg_rewind...) and feeds outcomes back
//! through [`after_renew`] and [`after_acquire`]. When a rule needs an input that costs a round
//! trip, [`decide`] asks for it with [`Decision::Gather`] and is called again with it filled in.
//! So every rule is table-tested without a process.

mod chores;
mod decide;
mod failover;
mod follow;
mod healthiest;
mod leader;
mod lost;
mod requests;
mod rewind;

pub use chores::{leader_chores, Chore};
pub use decide::{after_acquire, after_renew, decide};
pub use failover::{
    action_name, failover_possible, healthiest_candidate, leader_step, takeover_candidates,
    FailoverStep,
};
pub use healthiest::is_healthiest;
pub use lost::{dcs_lost, on_shutdown, should_fence, DcsLost, OnShutdown};
pub use requests::{reinitialize_allowed, restart_allowed, RestartFilters, RestartRefused};
pub use rewind::{
    after_rewind, assess, rewind_needed, LeaderTimeline, LocalPosition, TimelineSwitch,
};

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
    /// It could not be read: nothing may be decided about it (and nothing cloned over it).
    Inaccessible(String),
}

/// What the local PostgreSQL is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Postgres {
    /// Accepting connections and answering our status query.
    Running {
        /// `pg_is_in_recovery()` is false.
        primary: bool,
        /// Current timeline.
        timeline: u64,
        /// Primary: flush LSN; replica: max(received, replayed).
        wal_position: u64,
    },
    /// A postmaster runs but does not accept connections yet (crash recovery, WAL replay).
    Starting {
        /// It was started without recovery settings: it opens writable.
        as_primary: bool,
        /// Seconds since it was started (or first seen starting).
        for_secs: u64,
    },
    /// A postmaster runs and accepts connections, but our own queries fail (pg_hba, password,
    /// too many connections): we cannot tell its role.
    Unreachable,
    /// No postmaster.
    Stopped {
        /// pg_controldata says it was a primary when it stopped (no standby.signal).
        was_primary: bool,
        /// It stopped cleanly (`shut down` / `shut down in recovery`).
        clean: bool,
    },
}

/// What we know about our WAL compared with the leader's (docs/architecture.md, "Divergence").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Divergence {
    /// Not checked against the current leader.
    #[default]
    Unchecked,
    /// Our WAL is on `leader`'s history, which was on `timeline` when asked: we may stream.
    Fine {
        /// The leader that was asked.
        leader: String,
        /// Its timeline then.
        timeline: u64,
    },
    /// Our WAL went past the point where `leader`'s timeline branched off.
    Diverged {
        /// The leader that was asked.
        leader: String,
    },
    /// pg_rewind from `leader` failed.
    RewindFailed {
        /// The leader rewound from.
        leader: String,
    },
    /// `leader` could not be asked (unreachable, still in recovery, ...).
    Undecided {
        /// The leader we tried.
        leader: String,
        /// Why no answer, for the cycle message.
        reason: String,
    },
}

impl Divergence {
    /// The leader the state is about.
    pub fn leader(&self) -> Option<&str> {
        match self {
            Divergence::Unchecked => None,
            Divergence::Fine { leader, .. }
            | Divergence::Diverged { leader }
            | Divergence::RewindFailed { leader }
            | Divergence::Undecided { leader, .. } => Some(leader),
        }
    }
}

/// What the configuration lets us do with diverged WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RewindPolicy {
    /// `use_pg_rewind` is on, pg_rewind exists and the cluster has checksums or wal_log_hints.
    pub can_rewind: bool,
    /// `remove_data_directory_on_rewind_failure`.
    pub remove_on_rewind_failure: bool,
    /// `remove_data_directory_on_diverged_timelines`.
    pub remove_on_diverged: bool,
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
    /// Seconds since we asked PostgreSQL to promote, while it has not finished.
    pub promoting_for: Option<u64>,
    /// The last divergence check, from earlier cycles.
    pub divergence: Divergence,
    /// What may be done with diverged WAL.
    pub rewind: RewindPolicy,
    /// We gave the lock up less than `ttl` ago and stay out of the leader race meanwhile.
    pub race_backoff: Option<RaceBackoff>,
}

/// Why we stay out of the leader race for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaceBackoff {
    /// Our `pre_promote` script refused a promotion (as upstream).
    PrePromoteFailed,
    /// We released the lock to fail over after a crash (`primary_start_timeout: 0`).
    FailedOverAfterCrash,
}

impl LocalState {
    /// Whether PostgreSQL runs as a primary.
    pub fn is_running_primary(&self) -> bool {
        matches!(self.postgres, Postgres::Running { primary: true, .. })
    }

    /// Our timeline while PostgreSQL runs.
    pub fn timeline(&self) -> Option<u64> {
        match self.postgres {
            Postgres::Running { timeline, .. } => Some(timeline),
            _ => None,
        }
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
    /// The divergence check made this cycle against the leader (`None`: not made).
    pub leader_check: Option<&'a Divergence>,
}

/// How to take PostgreSQL out of the primary role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoteMode {
    /// Lost the lock: stop at once (no checkpoint), keep nothing, restart as replica.
    ImmediateNoLock,
    /// Must give up quickly and release the key.
    Immediate,
}

/// An input [`decide`] needs that costs a round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gather {
    /// Poll the other members' `GET /patroni`.
    Peers,
    /// Ask `leader`'s PostgreSQL for its timeline and history, and read our own position,
    /// then [`assess`] whether our WAL diverged.
    LeaderTimeline {
        /// The member to ask.
        leader: String,
    },
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
    /// Gather this input, then decide again with it filled in.
    Gather(Gather),
    /// Race for the `initialize` key; the winner runs initdb.
    RaceBootstrap,
    /// Create a replica from `from` (pg_basebackup).
    Clone {
        /// Member to clone from.
        from: String,
        /// The cycle message.
        message: String,
    },
    /// Release the leader key; PostgreSQL does not run as a primary.
    ReleaseLock {
        /// The cycle message.
        message: String,
    },
    /// `primary_start_timeout: 0` after a crash: release the leader key and stay out of the
    /// leader race for a `ttl` ([`RaceBackoff::FailedOverAfterCrash`]), so a member that can
    /// take over does, rather than this one once its WAL is back as a replica's.
    FailOverAfterCrash {
        /// The cycle message.
        message: String,
    },
    /// Stop PostgreSQL at once, and only then release the leader key.
    StopAndRelease {
        /// The cycle message.
        message: String,
    },
    /// Start the stopped PostgreSQL as a replica (without waiting for it to accept
    /// connections).
    StartReplica {
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
    /// Finish the crash recovery of a former primary in single-user mode, so where its WAL
    /// ends is known before comparing it with the leader's.
    CrashRecovery {
        /// The cycle message.
        message: String,
    },
    /// Stop PostgreSQL if it runs and pg_rewind it from `from`.
    Rewind {
        /// The leader to rewind from.
        from: String,
        /// The cycle message.
        message: String,
    },
    /// Stop PostgreSQL and remove the data directory, so the next cycle clones it again. Only
    /// planned when the user's configuration allows it.
    RemoveDataDirectory {
        /// The cycle message.
        message: String,
    },
    /// Stop PostgreSQL if it runs and leave it stopped: its WAL diverged and nothing the
    /// configuration allows can repair it.
    KeepStopped {
        /// The cycle message.
        message: String,
    },
}

/// What to do once the outcome of a lock operation is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already in the right role (a leader then does its [`leader_chores`]).
    NoAction(String),
    /// Promote the local replica.
    Promote(String),
    /// Start the stopped PostgreSQL while holding the lock: as the primary when it was one,
    /// else read-only (the next cycle promotes it).
    Start {
        /// Start writable.
        as_primary: bool,
        /// The cycle message.
        message: String,
    },
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

/// Seconds after which a promotion that has not finished is asked for again.
pub const PROMOTE_RETRY_SECS: u64 = 30;

#[cfg(test)]
mod tests;
