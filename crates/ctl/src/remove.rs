//! `patronictl remove`: delete a whole cluster from the DCS after three typed confirmations.

use anyhow::bail;

use crate::context::Context;
use crate::list::{self, ListArgs};
use crate::output::Format;
use crate::prompt;

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
pub async fn run(ctx: &Context, args: RemoveArgs) -> anyhow::Result<()> {
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
