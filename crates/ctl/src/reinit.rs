//! `patronictl reinit` (patronictl.md §3.7): re-clone replicas from the leader through
//! `POST /reinitialize`, optionally waiting until they are done.

use std::time::Duration;

use anyhow::bail;
use serde_json::json;

use crate::context::Context;
use crate::list::{self, ListArgs};
use crate::prompt;
use crate::restart::{select, Role};

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
    let dcs = ctx.dcs(&args.cluster_name).await?;
    let cluster = dcs.get_cluster().await?;
    print!(
        "{}",
        list::render(&args.cluster_name, &cluster, &ListArgs::default())
    );
    let replicas = select(&cluster, Role::Replica, &[]);
    let mut members = args.members.clone();
    if members.is_empty() {
        let names = format!("[{}]", replicas.join(", "));
        let chosen = prompt::input(
            &format!("Which member do you want to reinitialize {names}?"),
            "",
            "the member names",
        )?;
        if !replicas.contains(&chosen) {
            bail!("{chosen} is not a member of cluster");
        }
        members.push(chosen);
    }
    members.retain(|m| replicas.contains(m));
    if members.is_empty() {
        bail!("No replica among provided members");
    }
    if !args.force
        && !prompt::confirm(&format!(
            "Are you sure you want to reinitialize members {}?",
            members.join(", ")
        ))?
    {
        bail!("Aborted reinitialize");
    }
    let body = json!({"force": args.force, "from_leader": args.from_leader}).to_string();
    let mut started = Vec::new();
    for name in &members {
        let Some(api) = cluster.member(name).and_then(|m| m.api_url()) else {
            continue;
        };
        let Some(url) = cluster
            .member(name)
            .and_then(|m| m.endpoint("/reinitialize"))
        else {
            continue;
        };
        match patroni_rest_client::call(
            "POST",
            &url,
            Some(&body),
            Duration::from_secs(30),
            ctx.rest_auth().as_deref(),
        )
        .await
        {
            Ok((200, _)) => {
                println!("Success: reinitialize for member {name}");
                started.push((name.clone(), api.to_string()));
            }
            Ok((code, text)) => {
                println!("Failed: reinitialize for member {name}, status code={code}, ({text})")
            }
            Err(e) => println!("Failed: reinitialize for member {name}, ({e})"),
        }
    }
    if args.wait && !started.is_empty() {
        println!(
            "Waiting for reinitialize to complete on: {}",
            started
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        while !started.is_empty() {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let mut still = Vec::new();
            for (name, api) in started {
                let state = patroni_rest_client::get_json(&api, Duration::from_secs(5), None)
                    .await
                    .ok()
                    .and_then(|(_, doc)| {
                        doc.get("state")
                            .and_then(|s| s.as_str())
                            .map(str::to_string)
                    });
                if state.as_deref() == Some("creating replica") || state.is_none() {
                    still.push((name, api));
                } else {
                    println!("Reinitialize is completed on: {name}");
                }
            }
            started = still;
        }
    }
    Ok(())
}
