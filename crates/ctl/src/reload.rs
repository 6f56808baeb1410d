//! `patronictl reload` (patronictl.md §3.6): ask members to re-read their local configuration
//! file (`POST /reload`), as SIGHUP would.

use std::time::Duration;

use anyhow::bail;

use crate::context::{loop_wait, Context};
use crate::list::{self, ListArgs};
use crate::prompt;
use crate::restart::{select_some, Role};

/// Arguments of `reload`.
#[derive(clap::Args)]
pub struct ReloadArgs {
    /// Cluster name.
    cluster_name: String,
    /// Members to reload (default: all of the role).
    members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Reload only members with this role.
    #[arg(short, long, value_enum, default_value = "any")]
    role: Role,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
}

/// `reload`.
pub async fn run(ctx: &Context, args: ReloadArgs) -> anyhow::Result<()> {
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    print!(
        "{}",
        list::render(&args.cluster_name, &cluster, &ListArgs::default())
    );
    let members = select_some(&cluster, args.role, &args.members)?;
    if !args.force
        && !prompt::confirm(&format!(
            "Are you sure you want to reload members {}?",
            members.join(", ")
        ))?
    {
        bail!("Aborted reload");
    }
    let loop_wait = loop_wait(&cluster);
    for name in members {
        let Some(url) = cluster.member(&name).and_then(|m| m.endpoint("/reload")) else {
            continue;
        };
        match patroni_rest_client::call(
            "POST",
            &url,
            None,
            Duration::from_secs(10),
            ctx.rest_auth().as_deref(),
        )
        .await
        {
            Ok((200, _)) => println!("No changes to apply on member {name}"),
            Ok((202, _)) => println!(
                "Reload request received for member {name} and will be processed within {loop_wait} seconds"
            ),
            Ok((code, text)) => {
                println!("Failed: reload for member {name}, status code={code}, ({text})")
            }
            Err(e) => println!("Failed: reload for member {name}, ({e})"),
        }
    }
    Ok(())
}
