//! The small commands: `history`, `dsn`, `flush`, `version`, `remove` (patronictl.md
//! §3.11–3.16).

use std::time::Duration;

use anyhow::bail;
use serde_json::Value;

use crate::context::Context;
use crate::list::{self, ListArgs};
use crate::output::{self, Cell, Format};
use crate::prompt;
use crate::restart::{select, select_some, Role};

/// Arguments of `history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value = "pretty")]
    format: Format,
}

/// `history`.
pub async fn history(ctx: &Context, args: HistoryArgs) -> anyhow::Result<()> {
    let scope = args
        .cluster_name
        .unwrap_or_else(|| ctx.config.scope.clone());
    let cluster = ctx.dcs(&scope).await?.get_cluster().await?;
    let headers: Vec<String> = ["TL", "LSN", "Reason", "Timestamp", "New Leader"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<Cell>> = cluster
        .history
        .map(|h| h.lines)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_array)
        .map(|line| {
            (0..5)
                .map(|i| match line.get(i) {
                    Some(Value::Number(n)) => n
                        .as_i64()
                        .map(Cell::Int)
                        .unwrap_or_else(|| Cell::Text(n.to_string())),
                    Some(Value::String(s)) => Cell::Text(s.clone()),
                    Some(Value::Null) | None => Cell::Text(String::new()),
                    Some(other) => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect();
    let text = match args.format {
        Format::Pretty => output::pretty(&headers, &rows, &["TL", "LSN"], None) + "\n",
        Format::Tsv => output::tsv(&headers, &rows) + "\n",
        Format::Json => output::json(&headers, &rows, false) + "\n",
        Format::Yaml | Format::Yml => output::yaml(&headers, &rows, false) + "\n",
    };
    print!("{text}");
    Ok(())
}

/// Arguments of `dsn`.
#[derive(clap::Args)]
pub struct DsnArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Role of the member.
    #[arg(short, long, value_enum)]
    role: Option<Role>,
    /// Member name.
    #[arg(short, long)]
    member: Option<String>,
}

/// `dsn`.
pub async fn dsn(ctx: &Context, args: DsnArgs) -> anyhow::Result<()> {
    if args.role.is_some() && args.member.is_some() {
        bail!("--role and --member are mutually exclusive options");
    }
    let scope = args
        .cluster_name
        .unwrap_or_else(|| ctx.config.scope.clone());
    let cluster = ctx.dcs(&scope).await?.get_cluster().await?;
    let names = match &args.member {
        Some(m) => select(&cluster, Role::Any, std::slice::from_ref(m)),
        None => select(&cluster, args.role.unwrap_or(Role::Leader), &[]),
    };
    let Some((host, port)) = names
        .first()
        .and_then(|n| cluster.member(n))
        .and_then(|m| m.host_port())
    else {
        bail!("Can not find a suitable member")
    };
    println!("host={host} port={port}");
    Ok(())
}

/// What `flush` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlushTarget {
    /// Scheduled restarts.
    Restart,
    /// A scheduled switchover.
    Switchover,
}

/// Arguments of `flush`.
#[derive(clap::Args)]
pub struct FlushArgs {
    /// Cluster name.
    cluster_name: String,
    /// Members (restart only) and then what to flush.
    #[arg(num_args = 1.., required = true)]
    rest: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Role of the members.
    #[arg(short, long, value_enum, default_value = "any")]
    role: Role,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
}

/// `flush CLUSTER [MEMBER...] restart|switchover`.
pub async fn flush(ctx: &Context, args: FlushArgs) -> anyhow::Result<()> {
    let Some((target, members)) = args.rest.split_last() else {
        bail!("missing restart|switchover")
    };
    let target = match target.as_str() {
        "restart" => FlushTarget::Restart,
        "switchover" => FlushTarget::Switchover,
        other => bail!("Invalid value for '{{restart|switchover}}': '{other}' is not one of 'restart', 'switchover'."),
    };
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    let auth = ctx.rest_auth();
    match target {
        FlushTarget::Restart => {
            let names = select_some(&cluster, args.role, members)?;
            if !args.force
                && !prompt::confirm(&format!(
                    "Are you sure you want to flush scheduled restart of members {}?",
                    names.join(", ")
                ))?
            {
                bail!("Aborted flush");
            }
            for name in names {
                let Some(m) = cluster.member(&name) else {
                    continue;
                };
                if m.data.get("scheduled_restart").is_none() {
                    println!("No scheduled restart for member {name}");
                    continue;
                }
                let url = m.endpoint("/restart").unwrap_or_default();
                match patroni_rest_client::call("DELETE", &url, None, Duration::from_secs(10), auth.as_deref()).await {
                    Ok((200, _)) => println!("Success: flush scheduled restart for member {name}"),
                    Ok((code, text)) => println!("Failed: flush scheduled restart for member {name}, status code={code}, ({text})"),
                    Err(e) => println!("Failed: flush scheduled restart for member {name}, ({e})"),
                }
            }
        }
        FlushTarget::Switchover => {
            let Some(failover) = cluster
                .failover
                .as_ref()
                .filter(|f| f.scheduled_at.is_some())
            else {
                println!("No pending scheduled switchover");
                return Ok(());
            };
            let members = cluster.members_leader_first();
            for m in members {
                let url = m.endpoint("/switchover").unwrap_or_default();
                match patroni_rest_client::call(
                    "DELETE",
                    &url,
                    None,
                    Duration::from_secs(10),
                    auth.as_deref(),
                )
                .await
                {
                    Ok((200, _)) => {
                        println!("Success: scheduled switchover deleted");
                        return Ok(());
                    }
                    Ok((404, _)) => {
                        println!("Failed: no switchover is scheduled");
                        return Ok(());
                    }
                    Ok((code, text)) => {
                        println!("Failed: member={}, status_code={code}, ({text})", m.name)
                    }
                    Err(_) => continue,
                }
            }
            println!(
                "{} Could not find any accessible member of cluster {}",
                chrono::Local::now().format("%Y-%m-%d %H:%M:%S"),
                args.cluster_name
            );
            dcs.set_failover_value("{}", Some(failover.version)).await?;
        }
    }
    Ok(())
}

/// Arguments of `version`.
#[derive(clap::Args)]
pub struct VersionArgs {
    /// Cluster name.
    cluster_name: Option<String>,
    /// Members to ask.
    members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
}

fn pg_version(num: i64) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10000, num % 10000)
    } else {
        format!("{}.{}.{}", num / 10000, (num / 100) % 100, num % 100)
    }
}

/// `version`.
pub async fn version(ctx: &Context, args: VersionArgs) -> anyhow::Result<()> {
    println!(
        "patronictl version 4.1.4 (patroni-rs {})",
        env!("CARGO_PKG_VERSION")
    );
    let Some(scope) = args.cluster_name else {
        return Ok(());
    };
    println!();
    let cluster = ctx.dcs(&scope).await?.get_cluster().await?;
    for m in &cluster.members {
        if !args.members.is_empty() && !args.members.contains(&m.name) {
            continue;
        }
        let Some(api) = m.api_url() else { continue };
        match patroni_rest_client::get_json(api, Duration::from_secs(5), None).await {
            Ok((_, doc)) => {
                let patroni = doc
                    .get("patroni")
                    .and_then(|p| p.get("version"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let pg = doc
                    .get("server_version")
                    .and_then(Value::as_i64)
                    .map(pg_version)
                    .unwrap_or_default();
                println!("{}: Patroni {patroni} PostgreSQL {pg}", m.name);
            }
            Err(e) => println!("{}: failed to get version: {e}", m.name),
        }
    }
    Ok(())
}

/// Arguments of `remove`.
#[derive(clap::Args)]
pub struct RemoveArgs {
    /// Cluster name.
    cluster_name: String,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Output format of the listing.
    #[arg(short = 'f', long, value_enum, default_value = "pretty")]
    format: Format,
}

/// `remove`: deletes the whole cluster from the DCS after three confirmations.
pub async fn remove(ctx: &Context, args: RemoveArgs) -> anyhow::Result<()> {
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    print!(
        "{}",
        list::render(&args.cluster_name, &cluster, &ListArgs::default())
    );
    let name = prompt::input(
        "Please confirm the cluster name to remove",
        "",
        "the answers on a terminal",
    )?;
    if name != args.cluster_name {
        bail!("Cluster names specified do not match");
    }
    let aware = prompt::input("You are about to remove all information in DCS for Patroni cluster, please type: \"Yes I am aware\"", "", "the answers on a terminal")?;
    if aware != "Yes I am aware" {
        bail!("You did not exactly type \"Yes I am aware\"");
    }
    if let Some(leader) = cluster.leader_name() {
        let typed = prompt::input(
            "This cluster currently is healthy. Please specify the leader name to continue",
            "",
            "the answers on a terminal",
        )?;
        if typed != leader {
            bail!("You did not specify the current leader of the cluster");
        }
    }
    dcs.delete_cluster().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn postgres_versions() {
        assert_eq!(super::pg_version(150018), "15.18");
        assert_eq!(super::pg_version(90624), "9.6.24");
    }
}
