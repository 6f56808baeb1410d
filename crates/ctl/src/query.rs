//! `patronictl query` (patronictl.md §3.13): run SQL on a member chosen by role or name and
//! print the result as tab- (or `--delimiter`-) separated values.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio_postgres::SimpleQueryMessage;

use crate::context::Context;
use crate::restart::{select, Role};

/// Arguments of `query`.
#[derive(clap::Args)]
pub struct QueryArgs {
    /// Cluster name (default: scope of the configuration).
    cluster_name: Option<String>,
    /// Citus group.
    #[arg(long)]
    group: Option<i64>,
    /// The role of the query target.
    #[arg(short, long, value_enum)]
    role: Option<Role>,
    /// Query a specific member.
    #[arg(short, long)]
    member: Option<String>,
    /// The SQL command to execute.
    #[arg(short = 'c', long = "command", conflicts_with = "file")]
    command: Option<String>,
    /// Execute the SQL commands from this file.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Database user name.
    #[arg(short = 'U', long = "username")]
    username: Option<String>,
    /// Database name to connect to.
    #[arg(short = 'd', long = "dbname")]
    dbname: Option<String>,
    /// Column delimiter.
    #[arg(long, default_value = "\t")]
    delimiter: String,
}

/// `query`.
pub async fn run(ctx: &Context, args: QueryArgs) -> anyhow::Result<()> {
    if args.role.is_some() && args.member.is_some() {
        bail!("--role and --member are mutually exclusive options");
    }
    let sql = match (&args.command, &args.file) {
        (Some(c), None) => c.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        _ => bail!("You need to specify either --command or --file"),
    };
    let scope = args
        .cluster_name
        .clone()
        .unwrap_or_else(|| ctx.config.scope.clone());
    let cluster = ctx.dcs(&scope).await?.get_cluster().await?;
    let names = match &args.member {
        Some(m) => select(&cluster, Role::Any, std::slice::from_ref(m)),
        None => select(&cluster, args.role.unwrap_or(Role::Leader), &[]),
    };
    let Some(member) = names.first().and_then(|n| cluster.member(n)) else {
        bail!("Can not find a suitable member")
    };
    let Some((host, port)) = member.host_port() else {
        bail!("Can not find a suitable member")
    };
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&host)
        .port(port)
        .connect_timeout(Duration::from_secs(5))
        .application_name("Patroni ctl");
    let user = args
        .username
        .clone()
        .or_else(|| std::env::var("PGUSER").ok())
        .unwrap_or_else(|| "postgres".into());
    cfg.user(&user);
    let dbname = args
        .dbname
        .clone()
        .or_else(|| std::env::var("PGDATABASE").ok())
        .unwrap_or_else(|| user.clone());
    cfg.dbname(dbname);
    // libpq reads PGPASSWORD; tokio-postgres does not, so pass it on.
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        cfg.password(pw);
    }
    let now = || chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let client = match cfg.connect(tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
        }
        Err(_) => {
            println!(
                "{}{}No connection to member {} is available",
                now(),
                args.delimiter,
                member.name
            );
            return Ok(());
        }
    };
    match client.simple_query(&sql).await {
        Ok(messages) => {
            let mut header_printed = false;
            for m in messages {
                if let SimpleQueryMessage::Row(row) = m {
                    if !header_printed {
                        let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
                        println!("{}", names.join(&args.delimiter));
                        header_printed = true;
                    }
                    let values: Vec<&str> = (0..row.len())
                        .map(|i| row.get(i).unwrap_or("None"))
                        .collect();
                    println!("{}", values.join(&args.delimiter));
                }
            }
        }
        Err(e) => {
            let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
            println!("{}{}ERROR, SQLSTATE: {code}", now(), args.delimiter);
        }
    }
    Ok(())
}
