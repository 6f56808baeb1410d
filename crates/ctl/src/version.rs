//! `patronictl version`: this program's version and, for a cluster, the Patroni and PostgreSQL
//! versions each member's REST API reports.

use std::time::Duration;

use serde_json::Value;

use crate::context::Context;
use crate::post::{self, Request};
use crate::select::{self, Role};

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

/// `x.y.z` before PostgreSQL 10, `x.y` from 10 on.
fn pg_version(num: i64) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10000, num % 100)
    } else {
        format!("{}.{}.{}", num / 10000, (num / 100) % 100, num % 100)
    }
}

/// The line for a member's `GET /patroni` document; missing values are shown as upstream
/// shows them (Python's `None`, no PostgreSQL part).
fn line(member: &str, doc: &Value) -> String {
    let patroni = match doc.get("patroni").and_then(|p| p.get("version")) {
        Some(Value::String(v)) => v.clone(),
        None | Some(Value::Null) => "None".to_string(),
        Some(other) => other.to_string(),
    };
    let pg = doc
        .get("server_version")
        .and_then(Value::as_i64)
        .filter(|v| *v != 0)
        .map(|v| format!(" PostgreSQL {}", pg_version(v)))
        .unwrap_or_default();
    format!("{member}: Patroni {patroni}{pg}")
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
    let request = Request {
        method: "GET",
        path: "/patroni",
        body: None,
        timeout: Duration::from_secs(5),
    };
    for m in select::with_role(&cluster, Role::Any) {
        if m.api_url().is_none() || !(args.members.is_empty() || args.members.contains(&m.name)) {
            continue;
        }
        let doc = post::send(ctx, m, &request).await.and_then(|(_, body)| {
            serde_json::from_str::<Value>(&body).map_err(|e| format!("invalid JSON: {e}"))
        });
        match doc {
            Ok(doc) => println!("{}", line(&m.name, &doc)),
            Err(e) => println!("{}: failed to get version: {e}", m.name),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn postgres_versions() {
        assert_eq!(super::pg_version(150018), "15.18");
        assert_eq!(super::pg_version(100000), "10.0");
        assert_eq!(super::pg_version(90624), "9.6.24");
    }

    #[test]
    fn lines() {
        let doc = json!({"patroni": {"version": "4.1.4"}, "server_version": 150020});
        assert_eq!(
            super::line("pg1", &doc),
            "pg1: Patroni 4.1.4 PostgreSQL 15.20"
        );
        assert_eq!(
            super::line("pg2", &json!({"patroni": {"version": "4.1.4"}})),
            "pg2: Patroni 4.1.4"
        );
        assert_eq!(super::line("pg3", &json!({})), "pg3: Patroni None");
    }
}
