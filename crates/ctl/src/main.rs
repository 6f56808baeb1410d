//! `patronictl`: reads a Patroni cluster from the DCS and manages it through the members'
//! REST APIs, with upstream Patroni 4.1's commands, options and texts.

mod config_cmd;
mod confirm;
mod context;
mod diff;
mod dsn;
mod flush;
mod history;
mod list;
mod output;
mod pause;
mod post;
mod prompt;
mod query;
mod reinit;
mod reload;
mod remove;
mod restart;
mod select;
mod switchover;
mod version;
mod when;
mod yaml;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Command-line interface to a Patroni cluster.
#[derive(Parser)]
#[command(name = "patronictl", version = concat!("4.1.4 (patroni-rs ", env!("CARGO_PKG_VERSION"), ")"))]
struct Cli {
    /// Configuration file.
    #[arg(short = 'c', long = "config-file", env = "PATRONICTL_CONFIG_FILE")]
    config_file: Option<PathBuf>,
    /// The DCS connect url: [SCHEME://][HOST][:PORT][/NAMESPACE].
    #[arg(short = 'd', long = "dcs-url", visible_alias = "dcs", env = "DCS_URL")]
    dcs_url: Option<String>,
    /// Allow connections to SSL sites without certs.
    #[arg(short = 'k', long)]
    insecure: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the Patroni members for a given Patroni cluster.
    List(list::ListArgs),
    /// Prints the topology of a Patroni cluster.
    Topology(list::TopologyArgs),
    /// Switchover to a replica.
    Switchover(switchover::SwitchoverArgs),
    /// Failover to a replica.
    Failover(switchover::FailoverArgs),
    /// Disable auto failover.
    Pause(pause::PauseArgs),
    /// Resume auto failover.
    Resume(pause::PauseArgs),
    /// Reinitialize cluster member.
    Reinit(reinit::ReinitArgs),
    /// Restart cluster member.
    Restart(restart::RestartArgs),
    /// Reload cluster member configuration.
    Reload(reload::ReloadArgs),
    /// Show cluster configuration.
    ShowConfig(config_cmd::ShowArgs),
    /// Edit cluster configuration.
    EditConfig(config_cmd::EditArgs),
    /// Show the history of failovers/switchovers.
    History(history::HistoryArgs),
    /// Generate a dsn for the provided member, defaults to a dsn of the leader.
    Dsn(dsn::DsnArgs),
    /// Discard scheduled events.
    Flush(flush::FlushArgs),
    /// Query a Patroni PostgreSQL member.
    Query(query::QueryArgs),
    /// Remove cluster from DCS.
    Remove(remove::RemoveArgs),
    /// Output version of patronictl command or a running Patroni instance.
    Version(version::VersionArgs),
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => fail(&e.to_string()),
    };
    let result = runtime.block_on(async {
        let ctx = context::Context::load(cli.config_file.as_deref(), cli.dcs_url.as_deref())?;
        match cli.command {
            Command::List(args) => list::run(&ctx, args).await,
            Command::Topology(args) => list::run(&ctx, args.into_list()).await,
            Command::Switchover(args) => switchover::switchover(&ctx, args).await,
            Command::Failover(args) => switchover::failover(&ctx, args).await,
            Command::Restart(args) => restart::run(&ctx, args).await,
            Command::Reload(args) => reload::run(&ctx, args).await,
            Command::Reinit(args) => reinit::run(&ctx, args).await,
            Command::Pause(args) => pause::run(&ctx, args, true).await,
            Command::Resume(args) => pause::run(&ctx, args, false).await,
            Command::ShowConfig(args) => config_cmd::show(&ctx, args).await,
            Command::EditConfig(args) => config_cmd::edit(&ctx, args).await,
            Command::History(args) => history::run(&ctx, args).await,
            Command::Dsn(args) => dsn::run(&ctx, args).await,
            Command::Flush(args) => flush::run(&ctx, args).await,
            Command::Query(args) => query::run(&ctx, args).await,
            Command::Remove(args) => remove::run(&ctx, args).await,
            Command::Version(args) => version::run(&ctx, args).await,
        }
    });
    if let Err(e) = result {
        fail(&format!("{e:#}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("Error: {message}");
    std::process::exit(1);
}
