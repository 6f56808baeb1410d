//! When a restart or reinitialize asked through the REST API may go ahead. The HA loop
//! carries the request out; the REST layer turns the typed refusal into upstream's status code.

use crate::cluster::Cluster;
use crate::state::Role;

/// Conditions of `POST /restart`: all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartFilters {
    /// Role the node must have (`primary`, `standby_leader`, `replica`; `master` = primary).
    pub role: Option<Role>,
    /// Restart only if the running server is older (`server_version_num` form).
    pub postgres_version: Option<i32>,
    /// As given, for the member key.
    pub postgres_version_text: Option<String>,
    /// Seconds to wait for the start.
    pub timeout: Option<u64>,
    /// Restart only if a restart is pending.
    pub restart_pending: bool,
}

/// Why a restart or reinitialize request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartRefused {
    /// The filters of the request do not match this node.
    ConditionsNotMet,
    /// PostgreSQL is not running.
    NotRunning,
    /// Another restart is already scheduled.
    AlreadyScheduled,
    /// Nothing is scheduled (cancel).
    NothingScheduled,
    /// The cluster has no leader to clone from.
    NoLeader,
    /// We are the leader: there is nobody to clone from.
    IAmTheLeader,
    /// The action itself failed (the text says how).
    Failed(String),
}

impl std::fmt::Display for RestartRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestartRefused::ConditionsNotMet => "restart conditions are not satisfied",
            RestartRefused::NotRunning => "postgres is not running",
            RestartRefused::AlreadyScheduled => "Another restart is already scheduled",
            RestartRefused::NothingScheduled => "no restarts are scheduled",
            RestartRefused::NoLeader => "Cluster has no leader, can not reinitialize",
            RestartRefused::IAmTheLeader => "I am the leader, can not reinitialize",
            RestartRefused::Failed(why) => why,
        })
    }
}

/// Whether a restart with `filters` applies to this node: `role` is its role,
/// `server_version` the running server's (`None`: not running), `pending` whether
/// parameters wait for a restart.
pub fn restart_allowed(
    filters: &RestartFilters,
    role: Role,
    server_version: Option<i32>,
    pending: bool,
) -> Result<(), RestartRefused> {
    let role_ok = filters.role.is_none_or(|r| r == role);
    let version_ok = match (filters.postgres_version, server_version) {
        (Some(wanted), Some(running)) => running < wanted,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let pending_ok = !filters.restart_pending || pending;
    if !(role_ok && version_ok && pending_ok) {
        return Err(RestartRefused::ConditionsNotMet);
    }
    if server_version.is_none() {
        return Err(RestartRefused::NotRunning);
    }
    Ok(())
}

/// Whether this node may be reinitialized from the leader; `Ok(leader)` names it.
pub fn reinitialize_allowed(cluster: &Cluster, me: &str) -> Result<String, RestartRefused> {
    match cluster.leader_name() {
        None => Err(RestartRefused::NoLeader),
        Some(l) if l == me => Err(RestartRefused::IAmTheLeader),
        Some(l) => Ok(l.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::KeyValue;

    #[test]
    fn restart_conditions() {
        let any = RestartFilters::default();
        assert_eq!(
            restart_allowed(&any, Role::Replica, Some(150000), false),
            Ok(())
        );
        assert_eq!(
            restart_allowed(&any, Role::Replica, None, false),
            Err(RestartRefused::NotRunning)
        );
        let primary_only = RestartFilters {
            role: Some(Role::Primary),
            ..Default::default()
        };
        assert_eq!(
            restart_allowed(&primary_only, Role::Replica, Some(150000), false),
            Err(RestartRefused::ConditionsNotMet)
        );
        assert_eq!(
            restart_allowed(&primary_only, Role::Primary, Some(150000), false),
            Ok(())
        );
        let older_than_16 = RestartFilters {
            postgres_version: Some(160000),
            ..Default::default()
        };
        assert_eq!(
            restart_allowed(&older_than_16, Role::Replica, Some(150004), false),
            Ok(())
        );
        assert_eq!(
            restart_allowed(&older_than_16, Role::Replica, Some(160001), false),
            Err(RestartRefused::ConditionsNotMet)
        );
        let pending = RestartFilters {
            restart_pending: true,
            ..Default::default()
        };
        assert_eq!(
            restart_allowed(&pending, Role::Replica, Some(150000), false),
            Err(RestartRefused::ConditionsNotMet)
        );
        assert_eq!(
            restart_allowed(&pending, Role::Replica, Some(150000), true),
            Ok(())
        );
    }

    #[test]
    fn reinitialize_needs_another_leader() {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
            version: 1,
            session: None,
        };
        assert_eq!(
            reinitialize_allowed(&Cluster::default(), "pg1"),
            Err(RestartRefused::NoLeader)
        );
        let c = Cluster::from_keys(&[kv("leader", "pg1")]);
        assert_eq!(
            reinitialize_allowed(&c, "pg1"),
            Err(RestartRefused::IAmTheLeader)
        );
        assert_eq!(reinitialize_allowed(&c, "pg2"), Ok("pg1".into()));
    }
}
