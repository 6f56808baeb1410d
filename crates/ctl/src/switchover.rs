//! `patronictl switchover` and `failover`: check the request against the DCS view, ask what is
//! missing, and post it to the leader's REST API (falling back to writing the failover key).

use std::time::Duration;

use anyhow::bail;
use patroni_core::cluster::Cluster;
use patroni_core::dcs::Dcs;
use patroni_core::ha::healthiest_candidate;
use patroni_core::peer::PeerStatus;
use serde_json::{json, Map, Value};

use crate::context::{is_paused, is_standby_cluster, is_synchronous_mode, Context};
use crate::post::{self, Request};
use crate::prompt::{self, Ask, Terminal};
use crate::{confirm, list, when};

/// Arguments of `switchover`.
#[derive(clap::Args)]
pub struct SwitchoverArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// The name of the current leader.
    #[arg(long = "leader", visible_alias = "primary")]
    leader: Option<String>,
    /// The name of the candidate.
    #[arg(long)]
    candidate: Option<String>,
    /// Timestamp of a scheduled switchover in unambiguous format (e.g. ISO 8601).
    #[arg(long)]
    scheduled: Option<String>,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
}

/// Arguments of `failover`.
#[derive(clap::Args)]
pub struct FailoverArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// The name of the candidate.
    #[arg(long)]
    candidate: Option<String>,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
}

/// A switchover or failover as decided on the command line.
struct Handover {
    /// `switchover` or `failover`.
    action: &'static str,
    /// The leader to demote (switchover only).
    leader: Option<String>,
    /// The member to promote (`None`: any, switchover only).
    candidate: Option<String>,
    /// When (ISO 8601), for a scheduled switchover.
    scheduled_at: Option<String>,
}

impl Handover {
    /// The REST request body: `candidate` always (null for any), `leader` for a switchover.
    fn body(&self) -> String {
        let mut body = Map::new();
        body.insert("candidate".into(), json!(self.candidate));
        if let Some(l) = &self.leader {
            body.insert("leader".into(), json!(l));
        }
        if let Some(at) = &self.scheduled_at {
            body.insert("scheduled_at".into(), json!(at));
        }
        Value::Object(body).to_string()
    }

    /// The failover key written when no REST API takes the request.
    fn failover_key(&self) -> String {
        let mut value = Map::new();
        if let Some(l) = &self.leader {
            value.insert("leader".into(), json!(l));
        }
        if let Some(c) = &self.candidate {
            value.insert("member".into(), json!(c));
        }
        if let Some(at) = &self.scheduled_at {
            value.insert("scheduled_at".into(), json!(at));
        }
        Value::Object(value).to_string()
    }
}

fn print_topology(scope: &str, cluster: &Cluster) {
    print!("{}", list::listing(scope, cluster));
}

/// Members that may become leader: not the leader, not nofailover; sorted.
fn candidates(cluster: &Cluster, leader: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = cluster
        .members
        .iter()
        .filter(|m| Some(m.name.as_str()) != leader && !m.nofailover())
        .map(|m| m.name.clone())
        .collect();
    names.sort();
    names
}

/// `switchover`.
pub async fn switchover(ctx: &Context, args: SwitchoverArgs) -> anyhow::Result<()> {
    let (scope, dcs, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    println!("Current cluster topology");
    print_topology(&scope, &cluster);
    let ask = Terminal::stdin();
    let force = args.force;
    let Some(current) = cluster.leader_name() else {
        bail!("This cluster has no leader")
    };
    let title = if is_standby_cluster(&cluster) {
        "Standby Leader"
    } else {
        "Primary"
    };
    let leader = prompt::given_or_asked(&ask, args.leader, force, title, current, "--leader")?
        .unwrap_or_else(|| current.to_string());
    if leader != current {
        bail!("Member {leader} is not the leader of cluster {scope}");
    }
    let names = candidates(&cluster, Some(current));
    if names.is_empty() {
        bail!("No candidates found to switchover to");
    }
    let question = format!("Candidate {}", python_list(&names));
    let candidate =
        prompt::given_or_asked(&ask, args.candidate, force, &question, "", "--candidate")?
            .filter(|c| !c.is_empty());
    check_candidate(&scope, Some(current), candidate.as_deref(), &names)?;
    let question = format!(
        "When should the switchover take place (e.g. {} ) ",
        when::next_hour()
    );
    let scheduled =
        prompt::given_or_asked(&ask, args.scheduled, force, &question, "now", "--scheduled")?;
    let scheduled_at = when::parse_scheduled(scheduled.as_deref())?
        .map(|at| patroni_core::schedule::isoformat(&at));
    if scheduled_at.is_some() && is_paused(&cluster) {
        bail!("Can't schedule switchover in the paused state");
    }
    let demote = format!(", demoting current leader {leader}");
    match &scheduled_at {
        Some(at) => confirm::or_abort(
            &ask,
            force,
            &format!(
                "Are you sure you want to schedule switchover of cluster {scope} at {at}{demote}?"
            ),
            "Aborting scheduled switchover",
        )?,
        None => confirm::or_abort(
            &ask,
            force,
            &format!("Are you sure you want to switchover cluster {scope}{demote}?"),
            "Aborting switchover",
        )?,
    }
    let handover = Handover {
        action: "switchover",
        leader: Some(leader),
        candidate,
        scheduled_at,
    };
    hand_over(ctx, dcs.as_ref(), &scope, &cluster, &handover).await
}

/// `failover`.
pub async fn failover(ctx: &Context, args: FailoverArgs) -> anyhow::Result<()> {
    let (scope, dcs, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    println!("Current cluster topology");
    print_topology(&scope, &cluster);
    let ask = Terminal::stdin();
    let leader = cluster.leader_name();
    let names = candidates(&cluster, leader);
    if names.is_empty() {
        bail!("No candidates found to failover to");
    }
    let candidate = match (args.candidate, args.force) {
        (Some(c), _) => c,
        (None, true) => String::new(),
        (None, false) => ask.input(
            &format!("Candidate {}", python_list(&names)),
            &healthiest(&cluster, &names).await.unwrap_or_default(),
            "--candidate",
        )?,
    };
    if candidate.is_empty() {
        bail!("Failover could be performed only to a specific candidate");
    }
    check_candidate(&scope, leader, Some(&candidate), &names)?;
    if !args.force && is_synchronous_mode(&cluster) && !in_sync(&cluster, &candidate) {
        confirm::or_abort(
            &ask,
            false,
            &format!("Are you sure you want to failover to the asynchronous node {candidate}?"),
            "Aborting failover",
        )?;
    }
    let demote = leader
        .map(|l| format!(", demoting current leader {l}"))
        .unwrap_or_default();
    confirm::or_abort(
        &ask,
        args.force,
        &format!("Are you sure you want to failover cluster {scope}{demote}?"),
        "Aborting failover",
    )?;
    let handover = Handover {
        action: "failover",
        leader: None,
        candidate: Some(candidate),
        scheduled_at: None,
    };
    hand_over(ctx, dcs.as_ref(), &scope, &cluster, &handover).await
}

/// Whether the `/sync` key is empty (no leader in it) or names `candidate` (as its leader or
/// a synchronous standby; case-insensitively, as PostgreSQL compares the names).
fn in_sync(cluster: &Cluster, candidate: &str) -> bool {
    let Some(sync) = &cluster.sync else {
        return true;
    };
    let Some(leader) = sync
        .get("leader")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
    else {
        return true;
    };
    let standbys = sync
        .get("sync_standby")
        .and_then(Value::as_str)
        .unwrap_or("");
    std::iter::once(leader)
        .chain(standbys.split(',').map(str::trim))
        .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(candidate))
}

/// The healthiest of `names` by their `/patroni` answers, offered as the prompt's default.
/// Upstream offers none, and `--force` without `--candidate` still fails as upstream's does,
/// so scripts see no difference; a person at the prompt can just press Enter.
async fn healthiest(cluster: &Cluster, names: &[String]) -> Option<String> {
    let mut peers = Vec::new();
    for name in names {
        let Some(url) = cluster.member(name).and_then(|m| m.endpoint("/patroni")) else {
            continue;
        };
        if let Ok((_, doc)) =
            patroni_rest_client::get_json(&url, Duration::from_secs(2), None).await
        {
            peers.extend(PeerStatus::parse(name, &doc));
        }
    }
    healthiest_candidate(&peers).map(str::to_string)
}

/// A candidate must be one of `names` (the members that may take over).
fn check_candidate(
    scope: &str,
    leader: Option<&str>,
    candidate: Option<&str>,
    names: &[String],
) -> anyhow::Result<()> {
    match candidate {
        Some(c) if !names.iter().any(|n| n == c) => {
            if Some(c) == leader {
                bail!("Member {c} is already the leader of cluster {scope}");
            }
            bail!("Member {c} does not exist in cluster {scope} or is tagged as nofailover");
        }
        _ => Ok(()),
    }
}

/// `['a', 'b']`, as click prints a Python list.
fn python_list(names: &[String]) -> String {
    format!(
        "[{}]",
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// POSTs the handover to the leader's API (the candidate's when there is no leader), and
/// prints the listing again once it is accepted. An old Patroni without `/switchover` is asked
/// on `/failover`. When no API can be reached the failover key is written directly, as
/// upstream does.
async fn hand_over(
    ctx: &Context,
    dcs: &dyn Dcs,
    scope: &str,
    cluster: &Cluster,
    handover: &Handover,
) -> anyhow::Result<()> {
    let action = handover.action;
    let target = match cluster.leader_name() {
        Some(l) => cluster.member(l),
        None => handover
            .candidate
            .as_deref()
            .and_then(|c| cluster.member(c)),
    };
    let body = handover.body();
    let request = |path| Request {
        method: "POST",
        path,
        body: Some(&body),
        timeout: Duration::from_secs(60),
    };
    let path = format!("/{action}");
    let reply = match target {
        Some(m) => match post::send(ctx, m, &request(&path)).await {
            Ok((501, text))
                if action == "switchover"
                    && text.contains("Server does not support this operation") =>
            {
                post::send(ctx, m, &request("/failover")).await
            }
            reply => reply,
        },
        None => Err("no member to ask".to_string()),
    };
    match reply {
        Ok((200 | 202, answer)) => {
            println!("{} {answer}", when::timestamp(5));
            print_topology(scope, &dcs.get_cluster().await?);
        }
        Ok((code, answer)) => {
            println!("{} failed, details: {code}, {answer}", capitalize(action));
        }
        Err(_) => {
            println!(
                "{} Could not {action} using Patroni api, falling back to DCS",
                when::timestamp(5)
            );
            dcs.set_failover_value(&handover.failover_key(), None)
                .await?;
            print_topology(scope, cluster);
        }
    }
    Ok(())
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::test_cluster;

    #[test]
    fn bodies() {
        let mut h = Handover {
            action: "switchover",
            leader: Some("pg1".into()),
            candidate: None,
            scheduled_at: None,
        };
        assert_eq!(h.body(), r#"{"candidate":null,"leader":"pg1"}"#);
        assert_eq!(h.failover_key(), r#"{"leader":"pg1"}"#);
        h.candidate = Some("pg2".into());
        h.scheduled_at = Some("2026-11-23T20:55:12+00:00".into());
        assert_eq!(
            h.failover_key(),
            r#"{"leader":"pg1","member":"pg2","scheduled_at":"2026-11-23T20:55:12+00:00"}"#
        );
    }

    #[test]
    fn candidate_checks() {
        let names = vec!["pg1".to_string(), "pg3".to_string()];
        let check =
            |c| check_candidate("batman", Some("pg2"), Some(c), &names).map_err(|e| e.to_string());
        assert!(check("pg3").is_ok());
        assert_eq!(
            check("pg2"),
            Err("Member pg2 is already the leader of cluster batman".into())
        );
        assert_eq!(
            check("pg9"),
            Err("Member pg9 does not exist in cluster batman or is tagged as nofailover".into())
        );
        assert!(check_candidate("batman", Some("pg2"), None, &names).is_ok());
    }

    #[test]
    fn sync_membership() {
        let mut c = test_cluster(Some("pg1"), &[("pg1", "{}"), ("pg2", "{}"), ("pg3", "{}")]);
        assert!(in_sync(&c, "pg3"), "no /sync key: nothing to warn about");
        c.sync = Some(json!({"leader": "pg1", "sync_standby": "PG2"}));
        assert!(in_sync(&c, "pg2"));
        assert!(in_sync(&c, "pg1"));
        assert!(!in_sync(&c, "pg3"));
    }
}
