//! `patronictl list` and `topology`: the members of a cluster as upstream 4.1 shows them, in
//! every output format, optionally refreshed.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use patroni_core::cluster::Cluster;
use serde_json::Value;

use crate::context::Context;
use crate::output::{self, Cell, Format};

/// Arguments of `list`.
#[derive(clap::Args, Default)]
pub struct ListArgs {
    /// Cluster names (default: scope of the configuration).
    cluster_names: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Show some extra information.
    #[arg(short = 'e', long)]
    extended: bool,
    /// Print timestamp.
    #[arg(short = 't', long)]
    timestamp: bool,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value = "pretty")]
    format: Format,
    /// Auto update the screen every 2 seconds.
    #[arg(short = 'W', conflicts_with = "watch")]
    watch_default: bool,
    /// Auto update the screen every X seconds.
    #[arg(short = 'w', long = "watch")]
    watch: Option<f64>,
    #[arg(skip)]
    topology: bool,
}

/// Arguments of `topology`.
#[derive(clap::Args)]
pub struct TopologyArgs {
    /// Cluster names (default: scope of the configuration).
    cluster_names: Vec<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// Auto update the screen every 2 seconds.
    #[arg(short = 'W', conflicts_with = "watch")]
    watch_default: bool,
    /// Auto update the screen every X seconds.
    #[arg(short = 'w', long = "watch")]
    watch: Option<f64>,
}

impl TopologyArgs {
    /// `topology` is `list` in tree order.
    pub fn into_list(self) -> ListArgs {
        ListArgs {
            cluster_names: self.cluster_names,
            group: self.group,
            watch_default: self.watch_default,
            watch: self.watch,
            topology: true,
            ..Default::default()
        }
    }
}

impl ListArgs {
    /// The listing in `format`, nothing else asked for (`remove -f`).
    pub fn in_format(format: Format) -> ListArgs {
        ListArgs {
            format,
            ..Default::default()
        }
    }
}

/// The pretty listing commands print before they act on a cluster.
pub fn listing(scope: &str, cluster: &Cluster) -> String {
    render(scope, cluster, &ListArgs::default())
}

/// Runs `list`.
pub async fn run(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    let mut names = args.cluster_names.clone();
    if names.is_empty() {
        if ctx.config.scope.is_empty() {
            eprintln!("Warning: Listing members: No cluster names were provided");
            return Ok(());
        }
        names.push(ctx.config.scope.clone());
    }
    let interval = if args.watch_default {
        Some(2.0)
    } else {
        args.watch
    };
    loop {
        if interval.is_some() {
            print!("\x1b[2J\x1b[H");
        }
        for name in &names {
            let dcs = ctx.dcs(name).await?;
            let cluster = dcs
                .get_cluster()
                .await
                .with_context(|| format!("reading cluster {name}"))?;
            if args.timestamp {
                println!("{}", chrono::Local::now().format("%Y-%m-%d %H:%M:%S"));
            }
            print!("{}", render(name, &cluster, &args));
        }
        match interval {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.1))).await,
            None => return Ok(()),
        }
    }
}

fn mb(v: &Value) -> Cell {
    match v.as_u64() {
        Some(b) => Cell::Int(((b as f64) / 1_048_576.0).round() as i64),
        None => Cell::Text(String::new()),
    }
}

fn text(v: Option<&Value>) -> Cell {
    match v {
        Some(Value::String(s)) => Cell::Text(s.clone()),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Cell::Int)
            .unwrap_or_else(|| Cell::Text(n.to_string())),
        _ => Cell::Text(String::new()),
    }
}

/// The listing of one cluster in the requested format.
pub fn render(scope: &str, cluster: &Cluster, args: &ListArgs) -> String {
    let doc = patroni_core::view::cluster_json(cluster, scope);
    let members = doc
        .get("members")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let hosts: Vec<(String, u64)> = members
        .iter()
        .map(|m| {
            (
                m.get("host")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                m.get("port").and_then(Value::as_u64).unwrap_or(5432),
            )
        })
        .collect();
    let mut host_count: HashMap<&str, usize> = HashMap::new();
    for (h, _) in &hosts {
        *host_count.entry(h.as_str()).or_default() += 1;
    }
    let with_port = hosts
        .iter()
        .any(|(h, p)| *p != 5432 || host_count.get(h.as_str()).copied().unwrap_or(0) > 1);

    let mut order: Vec<usize> = (0..members.len()).collect();
    let mut depth = vec![0usize; members.len()];
    if args.topology {
        order = topology_order(&members, &mut depth);
    }
    let optional = [
        "Pending restart",
        "Pending restart reason",
        "Scheduled restart",
        "Tags",
    ];
    let mut headers: Vec<String> = [
        "Cluster",
        "Member",
        "Host",
        "Role",
        "State",
        "TL",
        "Receive LSN",
        "Receive Lag",
        "Replay LSN",
        "Replay Lag",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut extra: Vec<[Cell; 4]> = Vec::new();
    for &i in &order {
        let m = &members[i];
        let name = m.get("name").and_then(Value::as_str).unwrap_or("");
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let state = m.get("state").and_then(Value::as_str).unwrap_or("");
        let member = if args.topology && depth[i] > 0 {
            format!("{}+ {name}", "  ".repeat(depth[i] - 1))
        } else {
            name.to_string()
        };
        let host = match (&hosts[i], with_port) {
            ((h, _), _) if h.is_empty() => String::new(),
            ((h, p), true) => format!("{h}:{p}"),
            ((h, _), false) => h.clone(),
        };
        let title_role: String = role
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ");
        let mut receive = (Cell::Text(String::new()), Cell::Text(String::new()));
        let mut replay = (Cell::Text(String::new()), Cell::Text(String::new()));
        if role != "leader" && role != "standby_leader" {
            let lsn = |k: &str| {
                m.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string()
            };
            receive = (
                Cell::Text(lsn("receive_lsn")),
                mb(m.get("receive_lag").unwrap_or(&Value::Null)),
            );
            replay = (
                Cell::Text(lsn("replay_lsn")),
                mb(m.get("replay_lag").unwrap_or(&Value::Null)),
            );
            if lsn("receive_lsn") == "unknown"
                && lsn("replay_lsn") == "unknown"
                && lsn("lsn") != "unknown"
            {
                let pair = (
                    Cell::Text(lsn("lsn")),
                    mb(m.get("lag").unwrap_or(&Value::Null)),
                );
                if state == "streaming" {
                    receive = pair;
                } else {
                    replay = pair;
                }
            }
        }
        rows.push(vec![
            Cell::Text(scope.to_string()),
            Cell::Text(member),
            Cell::Text(host),
            Cell::Text(title_role),
            Cell::Text(state.to_string()),
            text(m.get("timeline")),
            receive.0,
            receive.1,
            replay.0,
            replay.1,
        ]);
        let pending = if m.get("pending_restart").and_then(Value::as_bool) == Some(true) {
            "*"
        } else {
            ""
        };
        let reason = m
            .get("pending_restart_reason")
            .and_then(Value::as_object)
            .map(|r| {
                r.iter()
                    .map(|(k, v)| {
                        let old = v.get("old_value").and_then(Value::as_str).unwrap_or("");
                        let new = v.get("new_value").and_then(Value::as_str).unwrap_or("");
                        format!("{k}: {old}->{new}")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let scheduled = m
            .get("scheduled_restart")
            .and_then(|s| s.get("schedule"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let tags = m
            .get("tags")
            .and_then(Value::as_object)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}: {}",
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        extra.push([
            Cell::Text(pending.into()),
            Cell::Text(reason),
            Cell::Text(scheduled),
            Cell::Text(tags),
        ]);
    }
    for (j, title) in optional.iter().enumerate() {
        if args.extended || extra.iter().any(|e| !e[j].is_empty()) {
            headers.push(title.to_string());
            for (row, e) in rows.iter_mut().zip(&extra) {
                row.push(e[j].clone());
            }
        }
    }
    let pretty_mode = args.topology || args.format == Format::Pretty;
    match (pretty_mode, args.format) {
        (true, _) => {
            let shown_headers: Vec<String> = headers[1..]
                .iter()
                .map(|h| {
                    if h.ends_with(" Lag") {
                        "Lag".to_string()
                    } else {
                        h.clone()
                    }
                })
                .collect();
            let shown_rows: Vec<Vec<Cell>> = rows.iter().map(|r| r[1..].to_vec()).collect();
            let state = match cluster.initialize.as_deref() {
                None => "uninitialized".to_string(),
                Some("") => "initializing".to_string(),
                Some(id) => id.to_string(),
            };
            let mut text = output::pretty(
                &shown_headers,
                &shown_rows,
                &["TL", "Receive LSN", "Lag", "Replay LSN"],
                Some(&format!(" Cluster: {scope} ({state}) ")),
            );
            text.push('\n');
            if doc.get("pause").is_some() {
                text.push_str(" Maintenance mode: on\n");
            }
            if let Some(s) = doc.get("scheduled_switchover") {
                text.push_str(&format!(
                    " Switchover scheduled at: {}\n",
                    s.get("at").and_then(Value::as_str).unwrap_or("")
                ));
                if let Some(f) = s.get("from").and_then(Value::as_str) {
                    text.push_str(&format!("                    from: {f}\n"));
                }
                if let Some(t) = s.get("to").and_then(Value::as_str) {
                    text.push_str(&format!("                      to: {t}\n"));
                }
            }
            text
        }
        (false, Format::Tsv) => output::tsv(&headers, &rows) + "\n",
        (false, Format::Json) => output::json(&headers, &rows, true) + "\n",
        (false, _) => output::yaml(&headers, &rows, true) + "\n",
    }
}

/// Leader first, then members under whom they replicate from (`replicatefrom`).
fn topology_order(members: &[Value], depth: &mut [usize]) -> Vec<usize> {
    let name = |i: usize| {
        members[i]
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let upstream = |i: usize| {
        members[i]
            .get("tags")
            .and_then(|t| t.get("replicatefrom"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let leader = (0..members.len()).find(|&i| {
        matches!(
            members[i].get("role").and_then(Value::as_str),
            Some("leader" | "standby_leader")
        )
    });
    let mut order = Vec::new();
    let mut placed = vec![false; members.len()];
    fn visit(
        i: usize,
        d: usize,
        children: &dyn Fn(usize) -> Vec<usize>,
        order: &mut Vec<usize>,
        placed: &mut [bool],
        depth: &mut [usize],
    ) {
        if placed[i] {
            return;
        }
        placed[i] = true;
        depth[i] = d;
        order.push(i);
        for c in children(i) {
            visit(c, d + 1, children, order, placed, depth);
        }
    }
    let names: Vec<String> = (0..members.len()).map(name).collect();
    let children = |p: usize| -> Vec<usize> {
        (0..members.len())
            .filter(|&c| c != p && Some(c) != leader)
            .filter(|&c| match upstream(c) {
                Some(u)
                    if names.contains(&u)
                        && Some(names.iter().position(|n| *n == u).unwrap_or(usize::MAX))
                            != leader =>
                {
                    u == names[p]
                }
                _ => Some(p) == leader,
            })
            .collect()
    };
    if let Some(l) = leader {
        visit(l, 0, &children, &mut order, &mut placed, depth);
    }
    for i in 0..members.len() {
        visit(
            i,
            usize::from(leader.is_some()),
            &children,
            &mut order,
            &mut placed,
            depth,
        );
    }
    order
}
