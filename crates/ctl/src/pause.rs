//! `patronictl pause` / `resume` (patronictl.md §3.8): `PATCH /config` with `{"pause": true}`
//! or `{"pause": null}` through the leader (else any member), and with `--wait` until every
//! member's key shows the new state.

use std::time::{Duration, Instant};

use anyhow::bail;
use patroni_core::cluster::Cluster;
use serde_json::Value;

use crate::context::Context;

/// Arguments of `pause` and `resume`.
#[derive(clap::Args)]
pub struct PauseArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Wait until pause is applied on all nodes.
    #[arg(long)]
    wait: bool,
}

fn is_paused(cluster: &Cluster) -> bool {
    cluster
        .config_data()
        .and_then(|c| c.get("pause"))
        .and_then(patroni_core::config::value::as_bool)
        == Some(true)
}

/// `pause` (`pause == true`) or `resume`.
pub async fn run(ctx: &Context, args: PauseArgs, pause: bool) -> anyhow::Result<()> {
    let (_, dcs, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    match (pause, is_paused(&cluster)) {
        (true, true) => bail!("Cluster is already paused"),
        (false, false) => bail!("Cluster is not paused"),
        _ => {}
    }
    let (word, body) = if pause {
        ("pause", r#"{"pause": true}"#)
    } else {
        ("resume", r#"{"pause": null}"#)
    };
    let members = cluster.members_leader_first();
    let mut sent = false;
    for m in members {
        let url = m.endpoint("/config").unwrap_or_default();
        match patroni_rest_client::call(
            "PATCH",
            &url,
            Some(body),
            Duration::from_secs(10),
            ctx.rest_auth().as_deref(),
        )
        .await
        {
            Ok((200, _)) => {
                sent = true;
                break;
            }
            Ok((code, text)) => {
                println!("Failed: {word} cluster management status code={code}, ({text})");
                return Ok(());
            }
            Err(_) => eprintln!("Member {} is not accessible", m.name),
        }
    }
    if !sent {
        bail!("Can not find accessible cluster member");
    }
    if args.wait {
        println!("'{word}' request sent, waiting until it is recognized by all nodes");
        let loop_wait = crate::context::loop_wait(&cluster);
        let deadline = Instant::now() + Duration::from_secs(loop_wait + 1);
        let names: Vec<String> = cluster.members.iter().map(|m| m.name.clone()).collect();
        loop {
            let now = dcs.get_cluster().await?;
            let lagging: Vec<&str> = names
                .iter()
                .filter(|n| {
                    now.member(n).is_some_and(|m| {
                        (m.data.get("pause").and_then(Value::as_bool) == Some(true)) != pause
                    })
                })
                .map(String::as_str)
                .collect();
            if lagging.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                println!(
                    "{} members didn't recognized pause state after {} seconds",
                    lagging.join(", "),
                    loop_wait + 1
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!(
        "Success: cluster management is {}",
        if pause { "paused" } else { "resumed" }
    );
    Ok(())
}
