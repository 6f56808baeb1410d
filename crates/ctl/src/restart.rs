//! `patronictl restart` (patronictl.md §3.5): pick members by name and role, confirm, and
//! `POST /restart` to each — replicas first, the leader last, so the primary's downtime comes
//! once everything else is back.

use std::time::Duration;

use anyhow::bail;
use patroni_core::cluster::Cluster;
use serde_json::{json, Map, Value};

use crate::context::Context;
use crate::list::{self, ListArgs};
use crate::prompt;

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
}

/// Members of `cluster` with `role`, restricted to `names` when given.
pub fn select(cluster: &Cluster, role: Role, names: &[String]) -> Vec<String> {
    let leader = cluster.leader_name();
    cluster
        .members
        .iter()
        .filter(|m| {
            let holder = Some(m.name.as_str()) == leader;
            match role {
                Role::Any => true,
                Role::Leader => holder,
                Role::Primary => holder && m.role() != "standby_leader",
                Role::StandbyLeader => holder && m.role() == "standby_leader",
                Role::Replica | Role::Standby => !holder,
            }
        })
        .filter(|m| names.is_empty() || names.contains(&m.name))
        .map(|m| m.name.clone())
        .collect()
}

/// [`select`], failing with upstream's message when no member is left.
pub fn select_some(cluster: &Cluster, role: Role, names: &[String]) -> anyhow::Result<Vec<String>> {
    let members = select(cluster, role, names);
    if members.is_empty() {
        bail!("No '{}' among provided members", role.name());
    }
    Ok(members)
}

/// Arguments of `restart`.
#[derive(clap::Args)]
pub struct RestartArgs {
    /// Cluster name.
    cluster_name: String,
    /// Members to restart (default: all of the role).
    members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Restart only members with this role.
    #[arg(short, long, value_enum, default_value = "any")]
    role: Role,
    /// Restart a single member only.
    #[arg(long)]
    any: bool,
    /// Timestamp of a scheduled restart in unambiguous format (e.g. ISO 8601).
    #[arg(long)]
    scheduled: Option<String>,
    /// Restart if the PostgreSQL version is less than provided (e.g. 9.5.2).
    #[arg(long = "pg-version")]
    pg_version: Option<String>,
    /// Restart if pending.
    #[arg(long)]
    pending: bool,
    /// Return error and fail over if necessary when restarting takes longer than this.
    #[arg(long)]
    timeout: Option<String>,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
}

/// `restart`.
pub async fn run(ctx: &Context, args: RestartArgs) -> anyhow::Result<()> {
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    let mut members = select(&cluster, args.role, &args.members);
    if args.pending && args.scheduled.is_none() {
        members.retain(|name| {
            cluster.member(name).is_some_and(|m| {
                m.data.get("pending_restart").and_then(Value::as_bool) == Some(true)
            })
        });
    }
    print!(
        "{}",
        list::render(&args.cluster_name, &cluster, &ListArgs::default())
    );
    if members.is_empty() {
        bail!("No '{}' among provided members", args.role.name());
    }
    if args.any {
        members.truncate(1);
    }
    let schedule = match &args.scheduled {
        Some(s) if s != "now" => match patroni_core::schedule::parse(s) {
            Ok(dt) => Some(patroni_core::schedule::isoformat(&dt)),
            Err(_) => bail!("Unable to parse scheduled timestamp ({s}). It should be in an unambiguous format (e.g. ISO 8601)"),
        },
        _ => None,
    };
    if !args.force {
        let question = match &schedule {
            Some(at) => format!(
                "Are you sure you want to schedule restart of members {} at {at}?",
                members.join(", ")
            ),
            None => format!(
                "Are you sure you want to restart members {}?",
                members.join(", ")
            ),
        };
        if !prompt::confirm(&question)? {
            bail!("Aborted restart");
        }
    }
    let mut body = Map::new();
    if args.pending {
        body.insert("restart_pending".into(), json!(true));
    }
    if let Some(v) = &args.pg_version {
        body.insert("postgres_version".into(), json!(v));
    }
    if let Some(at) = &schedule {
        body.insert("schedule".into(), json!(at));
    }
    if let Some(t) = &args.timeout {
        body.insert("timeout".into(), json!(t));
    }
    let body = Value::Object(body).to_string();
    // Replicas first, the leader last.
    let leader = cluster.leader_name().map(str::to_string);
    members.sort_by_key(|m| Some(m) == leader.as_ref());
    for name in members {
        let Some(url) = cluster.member(&name).and_then(|m| m.endpoint("/restart")) else {
            continue;
        };
        match patroni_rest_client::call(
            "POST",
            &url,
            Some(&body),
            Duration::from_secs(300),
            ctx.rest_auth().as_deref(),
        )
        .await
        {
            Ok((200, _)) => println!("Success: restart on member {name}"),
            Ok((202, _)) => println!("Success: restart scheduled on member {name}"),
            Ok((409, _)) => {
                println!("Failed: another restart is already scheduled on member {name}")
            }
            Ok((code, text)) => {
                println!("Failed: restart for member {name}, status code={code}, ({text})")
            }
            Err(e) => println!("Failed: restart for member {name}, ({e})"),
        }
    }
    Ok(())
}
