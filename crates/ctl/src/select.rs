//! Which members a patronictl command acts on: by role (`-r/--role`), by name, everyone of the
//! role when no name is given, and upstream's errors when nothing fits. One set of rules for
//! restart, reload, reinit, flush, dsn, query and version.

use anyhow::bail;
use patroni_core::cluster::{Cluster, Member};

use crate::list;
use crate::prompt::Ask;

/// `-r/--role` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The lock holder.
    Leader,
    /// The lock holder when it is not a standby leader.
    Primary,
    /// The lock holder of a standby cluster.
    StandbyLeader,
    /// Every member but the lock holder.
    Replica,
    /// Same as replica.
    Standby,
    /// Every member.
    Any,
}

impl Role {
    /// The choice as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Primary => "primary",
            Role::StandbyLeader => "standby-leader",
            Role::Replica => "replica",
            Role::Standby => "standby",
            Role::Any => "any",
        }
    }

    /// Whether `member` has this role while `leader` holds the lock. As upstream, the two
    /// leader roles are told apart by what the holder's member key says: `primary` unless it
    /// says `standby_leader`, `standby-leader` unless it says `primary` (or `master`).
    fn fits(self, member: &Member, leader: Option<&str>) -> bool {
        let holder = leader == Some(member.name.as_str());
        match self {
            Role::Any => true,
            Role::Leader => holder,
            Role::Primary => holder && member.role() != "standby_leader",
            Role::StandbyLeader => holder && !member.is_primary_role(),
            Role::Replica | Role::Standby => !holder,
        }
    }
}

/// The members with `role`, in the order the DCS lists them.
pub fn with_role(cluster: &Cluster, role: Role) -> Vec<&Member> {
    let leader = cluster.leader_name();
    cluster
        .members
        .iter()
        .filter(|m| role.fits(m, leader))
        .collect()
}

/// The one member `dsn` and `query` use: the member named by `-m`, else the first with `-r`'s
/// role (default: the leader). `None` when there is no such member.
pub fn first<'c>(
    cluster: &'c Cluster,
    role: Option<Role>,
    member: Option<&str>,
) -> anyhow::Result<Option<&'c Member>> {
    let role = match (role, member) {
        (Some(_), Some(_)) => bail!("--role and --member are mutually exclusive options"),
        (None, Some(_)) => Role::Any,
        (role, None) => role.unwrap_or(Role::Leader),
    };
    Ok(with_role(cluster, role)
        .into_iter()
        .find(|m| member.is_none_or(|name| m.name == name)))
}

/// What a command asked for: member names (empty: all of the role), a role, and the action
/// as upstream names it in its questions.
pub struct Filter<'a> {
    /// Names on the command line.
    pub names: &'a [String],
    /// `-r/--role`, or the role the command is fixed to.
    pub role: Role,
    /// Whether the role came from `-r/--role`. Upstream names the role in its error as Python
    /// shows what it holds: the option's string quoted (`'any'`), a fixed role bare (`replica`).
    pub role_from_option: bool,
    /// `restart`, `reload`, `reinitialize`, `flush`.
    pub action: &'a str,
    /// `--force`: no questions.
    pub force: bool,
}

impl<'a> Filter<'a> {
    /// `names` and `-r role` as given to `action`.
    pub fn new(names: &'a [String], role: Role, action: &'a str, force: bool) -> Filter<'a> {
        Filter {
            names,
            role,
            role_from_option: true,
            action,
            force,
        }
    }

    fn role_shown(&self) -> String {
        if self.role_from_option {
            format!("'{}'", self.role.name())
        } else {
            self.role.name().to_string()
        }
    }
}

/// The members `filter` picks, in the DCS's order. `show` runs once the cluster is known to
/// have members of the role (commands print the listing there, before any other error).
/// Names that are not members of the role are dropped silently, as long as one is left;
/// without names every member of the role is picked, except for `reinitialize`, which asks
/// for one (and does nothing with `--force`).
pub fn members<'c>(
    cluster: &'c Cluster,
    cluster_name: &str,
    filter: &Filter,
    ask: &dyn Ask,
    show: impl FnOnce(),
) -> anyhow::Result<Vec<&'c Member>> {
    let candidates = with_role(cluster, filter.role);
    let names: Vec<&str> = candidates.iter().map(|m| m.name.as_str()).collect();
    if filter.names.is_empty() && names.is_empty() {
        bail!("{cluster_name} cluster doesn't have any members");
    }
    show();
    let mut chosen: Vec<String> = if !filter.names.is_empty() {
        let known: Vec<String> = filter
            .names
            .iter()
            .filter(|n| names.contains(&n.as_str()))
            .cloned()
            .collect();
        if known.is_empty() {
            bail!("No {} among provided members", filter.role_shown());
        }
        known
    } else if filter.action != "reinitialize" {
        names.iter().map(|n| n.to_string()).collect()
    } else {
        Vec::new()
    };
    if chosen.is_empty() && !filter.force {
        let question = format!(
            "Which member do you want to {} [{}]?",
            filter.action,
            names.join(", ")
        );
        chosen.push(ask.input(&question, "", "the member names")?);
    }
    if let Some(stranger) = chosen.iter().find(|n| !names.contains(&n.as_str())) {
        bail!("{stranger} is not a member of cluster");
    }
    Ok(candidates
        .into_iter()
        .filter(|m| chosen.contains(&m.name))
        .collect())
}

/// [`members`], printing the cluster listing where upstream prints it.
pub fn members_listed<'c>(
    cluster: &'c Cluster,
    cluster_name: &str,
    filter: &Filter,
    ask: &dyn Ask,
) -> anyhow::Result<Vec<&'c Member>> {
    members(cluster, cluster_name, filter, ask, || {
        print!("{}", list::listing(cluster_name, cluster))
    })
}

/// A cluster for unit tests: `members` as (name, member key JSON), `leader` holding the lock.
#[cfg(test)]
pub fn test_cluster(leader: Option<&str>, members: &[(&str, &str)]) -> Cluster {
    use patroni_core::cluster::KeyValue;
    let kv = |key: String, value: &str| KeyValue {
        key,
        value: value.to_string(),
        version: 1,
        session: None,
    };
    let mut keys: Vec<KeyValue> = members
        .iter()
        .map(|(name, value)| kv(format!("members/{name}"), value))
        .collect();
    keys.extend(leader.map(|l| kv("leader".into(), l)));
    Cluster::from_keys(&keys)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::prompt::script::Script;

    fn batman() -> Cluster {
        test_cluster(
            Some("pg2"),
            &[
                ("pg1", r#"{"role": "replica"}"#),
                ("pg2", r#"{"role": "primary"}"#),
                ("pg3", r#"{"role": "replica"}"#),
            ],
        )
    }

    fn names(members: &[&Member]) -> Vec<String> {
        members.iter().map(|m| m.name.clone()).collect()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// Runs [`members`] and says whether the listing was shown.
    fn pick(c: &Cluster, filter: &Filter, ask: &dyn Ask) -> (Result<Vec<String>, String>, bool) {
        let shown = Cell::new(false);
        let r = members(c, "batman", filter, ask, || shown.set(true));
        (r.map(|m| names(&m)).map_err(|e| e.to_string()), shown.get())
    }

    #[test]
    fn roles() {
        let c = batman();
        let by = |r| names(&with_role(&c, r));
        assert_eq!(by(Role::Any), strings(&["pg1", "pg2", "pg3"]));
        assert_eq!(by(Role::Leader), strings(&["pg2"]));
        assert_eq!(by(Role::Primary), strings(&["pg2"]));
        assert!(by(Role::StandbyLeader).is_empty());
        assert_eq!(by(Role::Replica), strings(&["pg1", "pg3"]));
        assert_eq!(by(Role::Standby), by(Role::Replica));

        let standby = test_cluster(Some("s1"), &[("s1", r#"{"role": "standby_leader"}"#)]);
        assert_eq!(names(&with_role(&standby, Role::StandbyLeader)), ["s1"]);
        assert!(with_role(&standby, Role::Primary).is_empty());
        assert_eq!(names(&with_role(&standby, Role::Leader)), ["s1"]);

        let leaderless = test_cluster(None, &[("pg1", "{}"), ("pg2", "{}")]);
        assert!(with_role(&leaderless, Role::Leader).is_empty());
        assert_eq!(with_role(&leaderless, Role::Replica).len(), 2);
    }

    #[test]
    fn first_member_for_dsn_and_query() {
        let c = batman();
        let name = |r: Option<Role>, m: Option<&str>| {
            first(&c, r, m)
                .map(|m| m.map(|m| m.name.clone()))
                .map_err(|e| e.to_string())
        };
        assert_eq!(name(None, None), Ok(Some("pg2".into())));
        assert_eq!(name(Some(Role::Replica), None), Ok(Some("pg1".into())));
        assert_eq!(name(None, Some("pg3")), Ok(Some("pg3".into())));
        assert_eq!(name(None, Some("pg9")), Ok(None));
        assert_eq!(name(Some(Role::StandbyLeader), None), Ok(None));
        assert_eq!(
            name(Some(Role::Replica), Some("pg1")),
            Err("--role and --member are mutually exclusive options".into())
        );
    }

    #[test]
    fn names_and_roles_on_the_command_line() {
        let c = batman();
        let none = Script::new(&[]);
        let given = strings(&["pg3", "pg9", "pg1"]);
        // Unknown names are dropped; the DCS's order is kept.
        let (r, shown) = pick(&c, &Filter::new(&given, Role::Any, "restart", true), &none);
        assert_eq!(r, Ok(strings(&["pg1", "pg3"])));
        assert!(shown);
        // No names: every member of the role.
        let (r, _) = pick(&c, &Filter::new(&[], Role::Replica, "reload", true), &none);
        assert_eq!(r, Ok(strings(&["pg1", "pg3"])));
        let (r, _) = pick(&c, &Filter::new(&[], Role::Leader, "flush", false), &none);
        assert_eq!(r, Ok(strings(&["pg2"])));
        assert!(none.asked.borrow().is_empty());
    }

    #[test]
    fn errors() {
        let c = batman();
        let none = Script::new(&[]);
        let stranger = strings(&["pg9"]);
        let (r, shown) = pick(
            &c,
            &Filter::new(&stranger, Role::Any, "restart", true),
            &none,
        );
        assert_eq!(r, Err("No 'any' among provided members".into()));
        assert!(shown, "the listing comes before this error");
        let leader = strings(&["pg2"]);
        let mut reinit = Filter::new(&leader, Role::Replica, "reinitialize", true);
        reinit.role_from_option = false;
        let (r, _) = pick(&c, &reinit, &none);
        assert_eq!(r, Err("No replica among provided members".into()));
        // A role nobody has, and no names: no listing at all.
        let (r, shown) = pick(
            &c,
            &Filter::new(&[], Role::StandbyLeader, "reload", true),
            &none,
        );
        assert_eq!(r, Err("batman cluster doesn't have any members".into()));
        assert!(!shown);
        // Names given: the listing, then the role error.
        let (r, shown) = pick(
            &c,
            &Filter::new(&leader, Role::StandbyLeader, "reload", true),
            &none,
        );
        assert_eq!(r, Err("No 'standby-leader' among provided members".into()));
        assert!(shown);
    }

    #[test]
    fn reinitialize_asks_which_member() {
        let c = batman();
        let mut filter = Filter::new(&[], Role::Replica, "reinitialize", false);
        filter.role_from_option = false;
        let ask = Script::new(&["pg3"]);
        assert_eq!(pick(&c, &filter, &ask).0, Ok(strings(&["pg3"])));
        assert_eq!(
            *ask.asked.borrow(),
            ["Which member do you want to reinitialize [pg1, pg3]?"]
        );
        let ask = Script::new(&["pg2"]);
        assert_eq!(
            pick(&c, &filter, &ask).0,
            Err("pg2 is not a member of cluster".into())
        );
        // --force: nothing asked, nothing picked.
        filter.force = true;
        assert_eq!(pick(&c, &filter, &Script::new(&[])).0, Ok(Vec::new()));
    }
}
