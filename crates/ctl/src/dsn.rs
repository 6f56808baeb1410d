//! `patronictl dsn`: `host=... port=...` of the leader, or of a member chosen by role or name.

use anyhow::bail;

use crate::context::Context;
use crate::restart::{select, Role};

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
