//! The names Patroni gives a node's role and its PostgreSQL's state, as typed values.
//!
//! Member keys, REST answers, metrics and patronictl all carry these as strings that other
//! tools parse (HAProxy checks, vip-manager, dashboards), so each variant serializes to
//! upstream's exact spelling; everything inside patroni-rs passes the enums around.

use serde::{Deserialize, Serialize};

/// The role a node plays, as published in its member key and `/patroni`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the writable primary.
    #[serde(alias = "master")]
    Primary,
    /// Streams from (or is about to stream from) the primary.
    Replica,
    /// The leader of a standby cluster.
    StandbyLeader,
    /// Was the primary and stopped being one; comes back as a replica.
    Demoted,
    /// No data directory yet.
    Uninitialized,
    /// A promotion was requested and is not finished.
    Promoted,
}

impl Role {
    /// Upstream's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::StandbyLeader => "standby_leader",
            Role::Demoted => "demoted",
            Role::Uninitialized => "uninitialized",
            Role::Promoted => "promoted",
        }
    }

    /// Reads a role written by any Patroni version (`master` is 3.x's `primary`).
    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "primary" | "master" => Role::Primary,
            "replica" => Role::Replica,
            "standby_leader" => Role::StandbyLeader,
            "demoted" => Role::Demoted,
            "uninitialized" => Role::Uninitialized,
            "promoted" => Role::Promoted,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PostgreSQL's state as Patroni reports it (`state` in member keys and `/patroni`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PgState {
    /// `initializing new cluster` (initdb).
    #[serde(rename = "initializing new cluster")]
    Initializing,
    /// `initdb failed`.
    #[serde(rename = "initdb failed")]
    InitdbFailed,
    /// `creating replica` (pg_basebackup).
    #[serde(rename = "creating replica")]
    CreatingReplica,
    /// `running`.
    #[serde(rename = "running")]
    Running,
    /// `starting`.
    #[serde(rename = "starting")]
    Starting,
    /// `start failed`.
    #[serde(rename = "start failed")]
    StartFailed,
    /// `restarting`.
    #[serde(rename = "restarting")]
    Restarting,
    /// `restart failed`.
    #[serde(rename = "restart failed")]
    RestartFailed,
    /// `stopping`.
    #[serde(rename = "stopping")]
    Stopping,
    /// `stopped`.
    #[serde(rename = "stopped")]
    Stopped,
    /// `stop failed`.
    #[serde(rename = "stop failed")]
    StopFailed,
    /// `crashed`: it was running and is not any more, and we did not stop it.
    #[serde(rename = "crashed")]
    Crashed,
}

impl PgState {
    /// Upstream's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            PgState::Initializing => "initializing new cluster",
            PgState::InitdbFailed => "initdb failed",
            PgState::CreatingReplica => "creating replica",
            PgState::Running => "running",
            PgState::Starting => "starting",
            PgState::StartFailed => "start failed",
            PgState::Restarting => "restarting",
            PgState::RestartFailed => "restart failed",
            PgState::Stopping => "stopping",
            PgState::Stopped => "stopped",
            PgState::StopFailed => "stop failed",
            PgState::Crashed => "crashed",
        }
    }

    /// A state a failure left behind (kept until PostgreSQL runs again).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            PgState::InitdbFailed
                | PgState::StartFailed
                | PgState::RestartFailed
                | PgState::StopFailed
        )
    }
}

impl std::fmt::Display for PgState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_match_upstream() {
        for role in [
            Role::Primary,
            Role::Replica,
            Role::StandbyLeader,
            Role::Demoted,
            Role::Uninitialized,
            Role::Promoted,
        ] {
            let json = serde_json::to_value(role).expect("serialize");
            assert_eq!(json, serde_json::json!(role.as_str()));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("master"), Some(Role::Primary));
        assert_eq!(
            serde_json::from_str::<Role>("\"master\"").ok(),
            Some(Role::Primary)
        );
        for state in [
            PgState::CreatingReplica,
            PgState::StartFailed,
            PgState::Crashed,
        ] {
            let json = serde_json::to_value(&state).expect("serialize");
            assert_eq!(json, serde_json::json!(state.as_str()));
        }
    }
}
