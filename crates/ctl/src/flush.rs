//! `patronictl flush`: discard scheduled restarts (`DELETE /restart` on each chosen member) or
//! a scheduled switchover (`DELETE /switchover`, else clearing the key in the DCS).

use std::time::Duration;

use anyhow::bail;

use crate::context::Context;
use crate::prompt;
use crate::restart::{select_some, Role};

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
pub async fn run(ctx: &Context, args: FlushArgs) -> anyhow::Result<()> {
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
