//! `patronictl switchover` and `failover` (patronictl.md §3.3–3.4): check the request against
//! the DCS view, ask what is missing, and post it to the leader's REST API.

use std::time::Duration;

use anyhow::bail;
use patroni_core::cluster::Cluster;
use patroni_core::ha::healthiest_candidate;
use patroni_core::peer::PeerStatus;
use serde_json::{json, Map, Value};

use crate::context::Context;
use crate::list::{self, ListArgs};
use crate::prompt;

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

fn timestamp() -> String {
    let now = chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    now[..now.len() - 1].to_string()
}

async fn print_topology(scope: &str, cluster: &Cluster) {
    print!("{}", list::render(scope, cluster, &ListArgs::default()));
}

/// Members that may become leader: not the leader, not nofailover; sorted.
fn candidates(cluster: &Cluster, leader: &str) -> Vec<String> {
    cluster
        .members
        .iter()
        .filter(|m| m.name != leader && !m.nofailover())
        .map(|m| m.name.clone())
        .collect()
}

/// `switchover`.
pub async fn switchover(ctx: &Context, args: SwitchoverArgs) -> anyhow::Result<()> {
    let (scope, dcs, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    println!("Current cluster topology");
    print_topology(&scope, &cluster).await;
    let Some(current) = cluster.leader_name().map(str::to_string) else {
        bail!("This cluster has no leader")
    };
    let leader = match args.leader {
        Some(l) => l,
        None if args.force => current.clone(),
        None => prompt::input("Primary", &current, "--leader")?,
    };
    if leader != current {
        bail!("Member {leader} is not the leader of cluster {scope}");
    }
    let names = candidates(&cluster, &leader);
    if names.is_empty() {
        bail!("No candidates found to switchover to");
    }
    let candidate = match args.candidate {
        Some(c) => Some(c),
        None if args.force => None,
        None => Some(prompt::input(
            &format!("Candidate {}", python_list(&names)),
            "",
            "--candidate",
        )?)
        .filter(|c| !c.is_empty()),
    };
    check_candidate(&cluster, &scope, &leader, candidate.as_deref())?;
    let scheduled = match args.scheduled {
        Some(s) => s,
        None if args.force => "now".to_string(),
        None => {
            let example =
                (chrono::Local::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M");
            prompt::input(
                &format!("When should the switchover take place (e.g. {example} ) "),
                "now",
                "--scheduled",
            )?
        }
    };
    let scheduled_at = if scheduled == "now" {
        None
    } else {
        let parsed = match patroni_core::schedule::parse(&scheduled) {
            Ok(dt) => Some(dt),
            // A time without a zone is local time, as upstream assumes.
            Err(patroni_core::schedule::ScheduleError::NoTimezone) => {
                let offset = chrono::Local::now().format("%:z").to_string();
                patroni_core::schedule::parse(&format!("{scheduled}{offset}")).ok()
            }
            Err(_) => None,
        };
        let Some(dt) = parsed else {
            bail!("Unable to parse scheduled timestamp ({scheduled}). It should be in an unambiguous format (e.g. ISO 8601)")
        };
        if cluster
            .config_data()
            .and_then(|c| c.get("pause"))
            .and_then(patroni_core::config::value::as_bool)
            == Some(true)
        {
            bail!("Can't schedule switchover in the paused state");
        }
        Some(patroni_core::schedule::isoformat(&dt))
    };
    if !args.force {
        let question = match &scheduled_at {
            Some(at) => format!("Are you sure you want to schedule switchover of cluster {scope} at {at}, demoting current leader {leader}?"),
            None => format!("Are you sure you want to switchover cluster {scope}, demoting current leader {leader}?"),
        };
        if !prompt::confirm(&question)? {
            bail!("Aborting switchover");
        }
    }
    let mut body = Map::new();
    body.insert("leader".into(), json!(leader));
    body.insert(
        "candidate".into(),
        candidate.as_deref().map(Value::from).unwrap_or(Value::Null),
    );
    if let Some(at) = &scheduled_at {
        body.insert("scheduled_at".into(), json!(at));
    }
    post(ctx, &cluster, &leader, "switchover", &Value::Object(body)).await?;
    print_topology(&scope, &dcs.get_cluster().await?).await;
    Ok(())
}

/// `failover`.
pub async fn failover(ctx: &Context, args: FailoverArgs) -> anyhow::Result<()> {
    let (scope, dcs, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    println!("Current cluster topology");
    print_topology(&scope, &cluster).await;
    let leader = cluster.leader_name().map(str::to_string);
    let names = candidates(&cluster, leader.as_deref().unwrap_or(""));
    let candidate = match args.candidate {
        Some(c) => c,
        None if args.force => bail!("Failover could be performed only to a specific candidate"),
        None => prompt::input(
            &format!("Candidate {}", python_list(&names)),
            &healthiest(&cluster, &names).await.unwrap_or_default(),
            "--candidate",
        )?,
    };
    if candidate.is_empty() {
        bail!("Failover could be performed only to a specific candidate");
    }
    check_candidate(
        &cluster,
        &scope,
        leader.as_deref().unwrap_or(""),
        Some(&candidate),
    )?;
    if !args.force {
        let question = match &leader {
            Some(l) => format!(
                "Are you sure you want to failover cluster {scope}, demoting current leader {l}?"
            ),
            None => format!("Are you sure you want to failover cluster {scope}?"),
        };
        if !prompt::confirm(&question)? {
            bail!("Aborting failover");
        }
    }
    let target = leader.clone().unwrap_or_else(|| candidate.clone());
    post(
        ctx,
        &cluster,
        &target,
        "failover",
        &json!({"candidate": candidate}),
    )
    .await?;
    print_topology(&scope, &dcs.get_cluster().await?).await;
    Ok(())
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

fn check_candidate(
    cluster: &Cluster,
    scope: &str,
    leader: &str,
    candidate: Option<&str>,
) -> anyhow::Result<()> {
    let Some(c) = candidate else { return Ok(()) };
    if c == leader {
        bail!("Member {c} is already the leader of cluster {scope}");
    }
    if cluster.member(c).is_none_or(|m| m.nofailover()) {
        bail!("Member {c} does not exist in cluster {scope} or is tagged as nofailover");
    }
    Ok(())
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

/// POSTs the request to `member`'s API; on a transport error falls back to writing the
/// `failover` key directly, as upstream does.
async fn post(
    ctx: &Context,
    cluster: &Cluster,
    member: &str,
    action: &str,
    body: &Value,
) -> anyhow::Result<()> {
    let Some(url) = cluster
        .member(member)
        .and_then(|m| m.endpoint(&format!("/{action}")))
    else {
        bail!("Member {member} has no REST API url")
    };
    let auth = ctx.rest_auth();
    let text = body.to_string();
    match patroni_rest_client::call(
        "POST",
        &url,
        Some(&text),
        Duration::from_secs(60),
        auth.as_deref(),
    )
    .await
    {
        Ok((200 | 202, answer)) => {
            println!("{} {answer}", timestamp());
            Ok(())
        }
        Ok((code, answer)) => {
            println!("{} failed, details: {code}, {answer}", capitalize(action));
            Ok(())
        }
        Err(_) => {
            println!(
                "{} Could not {action} using Patroni api, falling back to DCS",
                timestamp()
            );
            let mut value = Map::new();
            if let Some(l) = body.get("leader").and_then(Value::as_str) {
                value.insert("leader".into(), json!(l));
            }
            if let Some(c) = body.get("candidate").and_then(Value::as_str) {
                value.insert("member".into(), json!(c));
            }
            if let Some(at) = body.get("scheduled_at").and_then(Value::as_str) {
                value.insert("scheduled_at".into(), json!(at));
            }
            let dcs = ctx.dcs(&ctx.config.scope).await?;
            dcs.set_failover_value(&Value::Object(value).to_string(), None)
                .await?;
            Ok(())
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
