//! `patronictl flush`: discard scheduled restarts (`DELETE /restart` on each chosen member) or
//! a scheduled switchover (`DELETE /switchover`, else clearing the key in the DCS).

use std::time::Duration;

use anyhow::bail;
use patroni_core::cluster::Cluster;
use patroni_core::dcs::Dcs;

use crate::context::Context;
use crate::post::{self, Request};
use crate::prompt::Terminal;
use crate::restart::has_scheduled_restart;
use crate::select::{self, Filter, Role};
use crate::{confirm, when};

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
    if target != "restart" && target != "switchover" {
        bail!("Invalid value for '{{restart|switchover}}': '{target}' is not one of 'restart', 'switchover'.");
    }
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    if target == "restart" {
        restarts(ctx, &args, &cluster, members).await
    } else {
        switchover(ctx, &args.cluster_name, dcs.as_ref(), &cluster).await
    }
}

/// `DELETE /restart` on each chosen member that has a restart scheduled.
async fn restarts(
    ctx: &Context,
    args: &FlushArgs,
    cluster: &Cluster,
    names: &[String],
) -> anyhow::Result<()> {
    let ask = Terminal::stdin();
    let filter = Filter::new(names, args.role, "flush", args.force);
    let members = select::members_listed(cluster, &args.cluster_name, &filter, &ask)?;
    confirm::members(&ask, args.force, "flush", &members, None, false)?;
    let request = Request {
        method: "DELETE",
        path: "/restart",
        body: None,
        timeout: Duration::from_secs(10),
    };
    for m in members {
        if !has_scheduled_restart(m) {
            println!("No scheduled restart for member {}", m.name);
            continue;
        }
        let reply = post::send(ctx, m, &request).await;
        if let (_, Some(line)) = post::check("flush scheduled restart", &m.name, &reply, false) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `DELETE /switchover` through the leader (else any member); when none answers, the
/// failover key is cleared in the DCS, conditional on the version that was read.
async fn switchover(
    ctx: &Context,
    cluster_name: &str,
    dcs: &dyn Dcs,
    cluster: &Cluster,
) -> anyhow::Result<()> {
    let Some(failover) = cluster
        .failover
        .as_ref()
        .filter(|f| f.scheduled_at.is_some())
    else {
        println!("No pending scheduled switchover");
        return Ok(());
    };
    let request = Request {
        method: "DELETE",
        path: "/switchover",
        body: None,
        timeout: Duration::from_secs(10),
    };
    let answered = post::leader_first(ctx, cluster, &request, |m, code, body| match code {
        200 => {
            println!("Success: {body}");
            true
        }
        404 => {
            println!("Failed: {body}");
            true
        }
        _ => {
            println!("Failed: member={}, status_code={code}, ({body})", m.name);
            false
        }
    })
    .await;
    if !answered {
        println!(
            "{} Could not find any accessible member of cluster {cluster_name}",
            when::timestamp(5)
        );
        dcs.set_failover_value("{}", Some(failover.version)).await?;
    }
    Ok(())
}
