//! `patronictl reload`: ask members to re-read their local configuration file
//! (`POST /reload`), as SIGHUP would.

use std::time::Duration;

use crate::confirm;
use crate::context::{loop_wait, Context};
use crate::post::{self, Reply, Request};
use crate::prompt::Terminal;
use crate::select::{self, Filter, Role};

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
    let cluster = ctx.dcs(&args.cluster_name).await?.get_cluster().await?;
    let ask = Terminal::stdin();
    let filter = Filter::new(&args.members, args.role, "reload", args.force);
    let members = select::members_listed(&cluster, &args.cluster_name, &filter, &ask)?;
    confirm::members(&ask, args.force, "reload", &members, None, false)?;
    let loop_wait = loop_wait(&cluster);
    let request = Request {
        method: "POST",
        path: "/reload",
        body: None,
        timeout: Duration::from_secs(10),
    };
    for m in members {
        println!(
            "{}",
            line(&m.name, loop_wait, &post::send(ctx, m, &request).await)
        );
    }
    Ok(())
}

/// What `member`'s answer to `POST /reload` is reported as.
fn line(member: &str, loop_wait: u64, reply: &Reply) -> String {
    match reply {
        Ok((200, _)) => format!("No changes to apply on member {member}"),
        Ok((202, _)) => format!(
            "Reload request received for member {member} and will be processed within {loop_wait} seconds"
        ),
        _ => post::failed("reload", member, reply),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn result_lines() {
        let line = |code, body: &str| super::line("pg2", 10, &Ok((code, body.to_string())));
        assert_eq!(line(200, ""), "No changes to apply on member pg2");
        assert_eq!(
            line(202, ""),
            "Reload request received for member pg2 and will be processed within 10 seconds"
        );
        assert_eq!(
            line(500, "oops"),
            "Failed: reload for member pg2, status code=500, (oops)"
        );
    }
}
