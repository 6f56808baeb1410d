//! `patronictl restart`: pick members by name and role, ask what is missing, confirm, and
//! `POST /restart` to each — replicas first, the leader last, so the primary's downtime comes
//! once everything else is back.

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, FixedOffset};
use patroni_core::cluster::Member;
use rand::seq::IndexedRandom;
use serde_json::{json, Map, Value};

use crate::context::{is_paused, Context};
use crate::post::{self, Reply, Request};
use crate::prompt::{self, Terminal};
use crate::select::{self, Filter, Role};
use crate::{confirm, when};

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

/// Whether `member`'s key shows a scheduled restart.
pub fn has_scheduled_restart(member: &Member) -> bool {
    member
        .data
        .get("scheduled_restart")
        .is_some_and(|s| !s.is_null())
}

/// `restart`.
pub async fn run(ctx: &Context, args: RestartArgs) -> anyhow::Result<()> {
    let cluster = ctx.dcs(&args.cluster_name).await?.get_cluster().await?;
    let ask = Terminal::stdin();
    let filter = Filter::new(&args.members, args.role, "restart", args.force);
    let mut members = select::members_listed(&cluster, &args.cluster_name, &filter, &ask)?;
    let scheduled = prompt::given_or_asked(
        &ask,
        args.scheduled.clone(),
        args.force,
        &format!(
            "When should the restart take place (e.g. {}) ",
            when::next_hour()
        ),
        "now",
        "--scheduled",
    )?;
    let scheduled_at = when::parse_scheduled(scheduled.as_deref())?;
    // A scheduled restart leaves it to the member to judge at that time.
    if args.pending && scheduled_at.is_none() {
        members.retain(|m| m.data.get("pending_restart").and_then(Value::as_bool) == Some(true));
    }
    if args.any {
        members = members
            .choose(&mut rand::rng())
            .copied()
            .into_iter()
            .collect();
    }
    confirm::members(
        &ask,
        args.force,
        "restart",
        &members,
        scheduled_at.as_ref().map(when::python_str).as_deref(),
        args.pending,
    )?;
    let version = prompt::given_or_asked(
        &ask,
        args.pg_version.clone(),
        args.force,
        "Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ",
        "",
        "--pg-version",
    )?;
    if let Some(v) = version.as_deref().filter(|v| !v.is_empty()) {
        check_version(v)?;
    }
    if scheduled_at.is_some() && is_paused(&cluster) {
        bail!("Can't schedule restart in the paused state");
    }
    let body = body(&args, version, scheduled_at.as_ref());
    // Replicas first, the leader last.
    let leader = cluster.leader_name();
    members.sort_by_key(|m| Some(m.name.as_str()) == leader);
    restart_each(ctx, &members, &body, scheduled_at.is_some() && args.force).await;
    Ok(())
}

/// The `POST /restart` body, its keys in upstream's order.
fn body(
    args: &RestartArgs,
    version: Option<String>,
    scheduled_at: Option<&DateTime<FixedOffset>>,
) -> String {
    let mut body = Map::new();
    if args.pending {
        body.insert("restart_pending".into(), json!(true));
    }
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        body.insert("postgres_version".into(), json!(v));
    }
    if let Some(at) = scheduled_at {
        body.insert(
            "schedule".into(),
            json!(patroni_core::schedule::isoformat(at)),
        );
    }
    if let Some(t) = &args.timeout {
        body.insert("timeout".into(), json!(t));
    }
    Value::Object(body).to_string()
}

/// `POST /restart` to each member in turn, with `replace` (a forced schedule) first deleting
/// a restart the member already has scheduled instead of failing on it.
async fn restart_each(ctx: &Context, members: &[&Member], body: &str, replace: bool) {
    let flush = Request {
        method: "DELETE",
        path: "/restart",
        body: None,
        timeout: Duration::from_secs(10),
    };
    let restart = Request {
        method: "POST",
        path: "/restart",
        body: Some(body),
        timeout: Duration::from_secs(300),
    };
    for m in members {
        if replace && has_scheduled_restart(m) {
            let reply = post::send(ctx, m, &flush).await;
            if let (_, Some(line)) = post::check("flush scheduled restart", &m.name, &reply, true) {
                println!("{line}");
            }
        }
        println!("{}", line(&m.name, &post::send(ctx, m, &restart).await));
    }
}

/// What `member`'s answer to `POST /restart` is reported as.
fn line(member: &str, reply: &Reply) -> String {
    match reply {
        Ok((200, _)) => format!("Success: restart on member {member}"),
        Ok((202, _)) => format!("Success: restart scheduled on member {member}"),
        Ok((409, _)) => format!("Failed: another restart is already scheduled on member {member}"),
        _ => post::failed("restart", member, reply),
    }
}

/// `--pg-version` as upstream accepts it: `X.Y.Z`, or `X.Y` from 10 on.
fn check_version(version: &str) -> anyhow::Result<()> {
    let parts: Result<Vec<u32>, _> = version.split('.').map(|p| p.trim().parse()).collect();
    let Ok(parts) = parts else {
        bail!("Invalid PostgreSQL version: {version}")
    };
    if parts.len() < 2 || parts.len() > 3 || (parts.len() == 2 && parts[0] < 10) {
        bail!("Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: {version}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines() {
        assert_eq!(
            line("pg1", &Ok((200, String::new()))),
            "Success: restart on member pg1"
        );
        assert_eq!(
            line("pg1", &Ok((202, String::new()))),
            "Success: restart scheduled on member pg1"
        );
        assert_eq!(
            line("pg1", &Ok((409, String::new()))),
            "Failed: another restart is already scheduled on member pg1"
        );
        assert_eq!(
            line("pg1", &Ok((503, "restart failed".into()))),
            "Failed: restart for member pg1, status code=503, (restart failed)"
        );
    }

    #[test]
    fn versions() {
        assert!(check_version("9.5.2").is_ok());
        assert!(check_version("15.4").is_ok());
        assert_eq!(
            check_version("9.6").map_err(|e| e.to_string()),
            Err("Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: 9.6".into())
        );
        assert_eq!(
            check_version("a.b.c").map_err(|e| e.to_string()),
            Err("Invalid PostgreSQL version: a.b.c".into())
        );
    }
}
