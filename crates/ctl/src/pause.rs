//! `patronictl pause` / `resume`: `PATCH /config` with `{"pause": true}` or `{"pause": null}`
//! through the leader (else any member), and with `--wait` until every member's key shows the
//! new state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use patroni_core::cluster::Cluster;
use patroni_core::dcs::Dcs;
use serde_json::Value;

use crate::context::{is_paused, loop_wait, Context};
use crate::post::{self, Request};

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
    let request = Request {
        method: "PATCH",
        path: "/config",
        body: Some(body),
        timeout: Duration::from_secs(10),
    };
    let mut applied = false;
    let answered = post::leader_first(ctx, &cluster, &request, |_, code, text| {
        applied = code == 200;
        if !applied {
            println!("Failed: {word} cluster management status code={code}, ({text})");
        }
        true
    })
    .await;
    if !answered {
        bail!("Can not find accessible cluster member");
    }
    if !applied {
        return Ok(());
    }
    if args.wait {
        println!("'{word}' request sent, waiting until it is recognized by all nodes");
        if let Some(lagging) = wait(dcs.as_ref(), &cluster, pause).await? {
            println!(
                "{} members didn't recognized pause state after {} seconds",
                lagging.join(", "),
                loop_wait(&cluster)
            );
            return Ok(());
        }
    }
    println!(
        "Success: cluster management is {}",
        if pause { "paused" } else { "resumed" }
    );
    Ok(())
}

/// Polls the DCS for up to `loop_wait + 1` seconds until every member that had a REST API
/// before the request shows `pause` as requested. On time out, the members that rewrote their
/// key since and still show the old state (`None` when there are none: the others may just
/// not have had a reason to write yet).
async fn wait(dcs: &dyn Dcs, before: &Cluster, pause: bool) -> anyhow::Result<Option<Vec<String>>> {
    let old: HashMap<&str, i64> = before
        .members
        .iter()
        .filter(|m| m.api_url().is_some())
        .map(|m| (m.name.as_str(), m.version))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(loop_wait(before) + 1);
    loop {
        let now = dcs.get_cluster().await?;
        let lagging: Vec<_> = now
            .members
            .iter()
            .filter(|m| old.contains_key(m.name.as_str()))
            .filter(|m| (m.data.get("pause").and_then(Value::as_bool) == Some(true)) != pause)
            .collect();
        if lagging.is_empty() {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            let rewritten: Vec<String> = lagging
                .iter()
                .filter(|m| old.get(m.name.as_str()) != Some(&m.version))
                .map(|m| m.name.clone())
                .collect();
            return Ok((!rewritten.is_empty()).then_some(rewritten));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
