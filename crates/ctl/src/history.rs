//! `patronictl history`: the failovers and switchovers recorded in the `/history` key, as a
//! table in any of the listing formats.

use serde_json::Value;

use crate::context::Context;
use crate::output::{self, Cell, Format};

/// Arguments of `history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value = "pretty")]
    format: Format,
}

/// `history`.
pub async fn run(ctx: &Context, args: HistoryArgs) -> anyhow::Result<()> {
    let scope = args
        .cluster_name
        .unwrap_or_else(|| ctx.config.scope.clone());
    let cluster = ctx.dcs(&scope).await?.get_cluster().await?;
    let headers: Vec<String> = ["TL", "LSN", "Reason", "Timestamp", "New Leader"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<Cell>> = cluster
        .history
        .map(|h| h.lines)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_array)
        .map(|line| {
            (0..5)
                .map(|i| match line.get(i) {
                    Some(Value::Number(n)) => n
                        .as_i64()
                        .map(Cell::Int)
                        .unwrap_or_else(|| Cell::Text(n.to_string())),
                    Some(Value::String(s)) => Cell::Text(s.clone()),
                    Some(Value::Null) | None => Cell::Text(String::new()),
                    Some(other) => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect();
    let text = match args.format {
        Format::Pretty => output::pretty(&headers, &rows, &["TL", "LSN"], None) + "\n",
        Format::Tsv => output::tsv(&headers, &rows) + "\n",
        Format::Json => output::json(&headers, &rows, false) + "\n",
        Format::Yaml | Format::Yml => output::yaml(&headers, &rows, false) + "\n",
    };
    print!("{text}");
    Ok(())
}
