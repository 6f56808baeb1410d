//! `patronictl query`: run SQL on a member chosen by role or name and
//! print the result as tab- (or `--delimiter`-) separated values.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio_postgres::SimpleQueryMessage;

use crate::context::Context;
use crate::select::{self, Role};
use crate::when;

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
    let sql = match (&args.command, &args.file) {
        (Some(c), None) => c.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        _ => bail!("You need to specify either --command or --file"),
    };
    let (_, _, cluster) = ctx.read_cluster(args.cluster_name.as_deref()).await?;
    let member = select::first(&cluster, args.role, args.member.as_deref())?;
    let now = || when::timestamp(0);
    let d = &args.delimiter;
    let Some(member) = member else {
        println!(
            "{}{d}{}",
            now(),
            unavailable(args.role, args.member.as_deref())
        );
        return Ok(());
    };
    let Some((host, port)) = member.host_port() else {
        bail!("Can not find a suitable member")
    };
    let client = match connect(&args, &host, port).await {
        Ok(client) => client,
        Err(e) => {
            println!("{}{d}ERROR, SQLSTATE: {}", now(), one_line(&e));
            return Ok(());
        }
    };
    // Beyond "any" and the lock holder, the DCS's word is checked against PostgreSQL's.
    if let Some(role) = args.role.filter(|r| !matches!(r, Role::Any | Role::Leader)) {
        let in_recovery = match client
            .simple_query("SELECT pg_catalog.pg_is_in_recovery()")
            .await
        {
            Ok(messages) => messages.iter().find_map(|m| match m {
                SimpleQueryMessage::Row(row) => row.get(0).map(|v| v != "f"),
                _ => None,
            }),
            Err(e) => {
                println!("{}{d}ERROR, SQLSTATE: {}", now(), sqlstate(&e));
                return Ok(());
            }
        };
        // No answer counts as in recovery, as upstream counts it.
        let standby = in_recovery.unwrap_or(true);
        if standby == (role == Role::Primary) {
            println!("{}{d}{}", now(), unavailable(Some(role), None));
            return Ok(());
        }
    }
    match client.simple_query(&sql).await {
        Ok(messages) => print_rows(&messages, d),
        Err(e) => println!("{}{d}ERROR, SQLSTATE: {}", now(), sqlstate(&e)),
    }
    Ok(())
}

/// Connects to the chosen member as `-U` (else `PGUSER`, else postgres) to `-d` (else
/// `PGDATABASE`, else the user name).
async fn connect(
    args: &QueryArgs,
    host: &str,
    port: u16,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(host)
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
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Upstream's row when no member fits: named by `-m`, else by `-r` (as Python shows the
/// option's string), else neither.
fn unavailable(role: Option<Role>, member: Option<&str>) -> String {
    match (member, role) {
        (Some(m), _) => format!("No connection to member {m} is available"),
        (None, Some(r)) => format!("No connection to role '{}' is available", r.name()),
        (None, None) => "No connection is available".to_string(),
    }
}

/// The SQLSTATE of a failed query, else its message.
fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| one_line(e))
}

fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

/// The column names, then each row, joined by `delimiter` (`None` for NULL, as Python shows it).
fn print_rows(messages: &[SimpleQueryMessage], delimiter: &str) {
    let mut header_printed = false;
    for m in messages {
        if let SimpleQueryMessage::Row(row) = m {
            if !header_printed {
                let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
                println!("{}", names.join(delimiter));
                header_printed = true;
            }
            let values: Vec<&str> = (0..row.len())
                .map(|i| row.get(i).unwrap_or("None"))
                .collect();
            println!("{}", values.join(delimiter));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_rows() {
        assert_eq!(
            unavailable(None, Some("pg9")),
            "No connection to member pg9 is available"
        );
        assert_eq!(
            unavailable(Some(Role::Replica), None),
            "No connection to role 'replica' is available"
        );
        assert_eq!(unavailable(None, None), "No connection is available");
    }
}
