//! `patronictl reinit`: re-clone replicas from the leader through `POST /reinitialize`,
//! optionally waiting until they are done.

use std::time::Duration;

use patroni_core::cluster::Member;
use serde_json::json;

use crate::confirm;
use crate::context::Context;
use crate::post::{self, Request};
use crate::prompt::{Ask, Terminal};
use crate::select::{self, Filter, Role};

/// Arguments of `reinit`.
#[derive(clap::Args)]
pub struct ReinitArgs {
    /// Cluster name.
    cluster_name: String,
    /// Members to reinitialize.
    members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Do not ask for confirmation at any point.
    #[arg(long)]
    force: bool,
    /// Use the leader as the source (pg_basebackup), whatever create_replica_methods say.
    #[arg(long = "from-leader")]
    from_leader: bool,
    /// Wait until reinitialization completes.
    #[arg(long)]
    wait: bool,
}

/// `reinit`.
pub async fn run(ctx: &Context, args: ReinitArgs) -> anyhow::Result<()> {
    let cluster = ctx.dcs(&args.cluster_name).await?.get_cluster().await?;
    let ask = Terminal::stdin();
    let filter = Filter {
        role_from_option: false,
        ..Filter::new(&args.members, Role::Replica, "reinitialize", args.force)
    };
    let members = select::members_listed(&cluster, &args.cluster_name, &filter, &ask)?;
    confirm::members(&ask, args.force, "reinitialize", &members, None, false)?;
    let mut started = Vec::new();
    for m in members {
        if start(ctx, &ask, m, args.force, args.from_leader).await? && args.wait {
            started.push(m);
        }
    }
    wait(started).await;
    Ok(())
}

/// Asks `member` to reinitialize; when it is busy with another job, offers (on a terminal,
/// without `--force`) to cancel that job and ask again. Whether it started.
async fn start(
    ctx: &Context,
    ask: &dyn Ask,
    member: &Member,
    force: bool,
    from_leader: bool,
) -> anyhow::Result<bool> {
    let mut forced = force;
    loop {
        let body = json!({"force": forced, "from_leader": from_leader}).to_string();
        let request = Request {
            method: "POST",
            path: "/reinitialize",
            body: Some(&body),
            timeout: Duration::from_secs(30),
        };
        let reply = post::send(ctx, member, &request).await;
        let (ok, line) = post::check("reinitialize", &member.name, &reply, false);
        if let Some(line) = line {
            println!("{line}");
        }
        let busy = matches!(&reply, Ok((_, body)) if body.ends_with(" already in progress"));
        if !ok
            && busy
            && !force
            && ask.confirm("Do you want to cancel it and reinitialize anyway?")?
        {
            forced = true;
            continue;
        }
        return Ok(ok);
    }
}

/// Polls `GET /patroni` of each member every two seconds until it is no longer creating a
/// replica, saying whom it waits for whenever that changes.
async fn wait(mut members: Vec<&Member>) {
    let mut shown: Vec<String> = Vec::new();
    while !members.is_empty() {
        let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        if names != shown {
            println!(
                "Waiting for reinitialize to complete on: {}",
                names.join(", ")
            );
            shown = names;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut still = Vec::new();
        for m in members {
            let Some(api) = m.api_url() else { continue };
            // An unanswered poll means "not done yet": the member may be restarting.
            let state = patroni_rest_client::get_json(api, Duration::from_secs(5), None)
                .await
                .ok()
                .and_then(|(_, doc)| {
                    doc.get("state")
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                });
            if state.as_deref() == Some("creating replica") || state.is_none() {
                still.push(m);
            } else {
                println!("Reinitialize is completed on: {}", m.name);
            }
        }
        members = still;
    }
}
