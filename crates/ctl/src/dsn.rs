//! `patronictl dsn`: `host=... port=...` of the leader, or of a member chosen by role or name.

use anyhow::bail;

use crate::context::Context;
use crate::select::{self, Role};

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
pub async fn run(ctx: &Context, args: DsnArgs) -> anyhow::Result<()> {
    let (_, _, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    let member = select::first(&cluster, args.role, args.member.as_deref())?;
    let Some((host, port)) = member.and_then(|m| m.host_port()) else {
        bail!("Can not find a suitable member")
    };
    println!("host={host} port={port}");
    Ok(())
}
