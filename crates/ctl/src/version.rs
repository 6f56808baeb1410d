//! `patronictl version`: this program's version and, for a cluster, the Patroni and PostgreSQL
//! versions each member's REST API reports.

use std::time::Duration;

use serde_json::Value;

use crate::context::Context;

/// Arguments of `version`.
#[derive(clap::Args)]
pub struct VersionArgs {
    /// Cluster name.
    cluster_name: Option<String>,
    /// Members to ask.
    members: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
}

fn pg_version(num: i64) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10000, num % 10000)
    } else {
        format!("{}.{}.{}", num / 10000, (num / 100) % 100, num % 100)
    }
}

/// `version`.
pub async fn run(ctx: &Context, args: VersionArgs) -> anyhow::Result<()> {
    println!(
        "patronictl version 4.1.4 (patroni-rs {})",
        env!("CARGO_PKG_VERSION")
    );
    let Some(scope) = args.cluster_name else {
        return Ok(());
    };
    println!();
    let cluster = ctx.dcs(&scope).await?.get_cluster().await?;
    for m in &cluster.members {
        if !args.members.is_empty() && !args.members.contains(&m.name) {
            continue;
        }
        let Some(api) = m.api_url() else { continue };
        match patroni_rest_client::get_json(api, Duration::from_secs(5), None).await {
            Ok((_, doc)) => {
                let patroni = doc
                    .get("patroni")
                    .and_then(|p| p.get("version"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let pg = doc
                    .get("server_version")
                    .and_then(Value::as_i64)
                    .map(pg_version)
                    .unwrap_or_default();
                println!("{}: Patroni {patroni} PostgreSQL {pg}", m.name);
            }
            Err(e) => println!("{}: failed to get version: {e}", m.name),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn postgres_versions() {
        assert_eq!(super::pg_version(150018), "15.18");
        assert_eq!(super::pg_version(90624), "9.6.24");
    }
}
