//! `patroni`: the daemon that keeps one PostgreSQL highly available (docs/architecture.md).
//!
//! `main` loads the configuration, starts the lease guard before anything else can block, then
//! supervises the tasks: the HA loop, the renewal timer and the REST API. If a task that keeps
//! the primary safe dies (a panic included), PostgreSQL is fenced before the daemon exits, so a
//! writable primary is never left behind without its guard.

mod callbacks;
mod commands;
mod faults;
mod ha;
mod lease;
mod logging;
mod rest;
mod state;
mod status;
mod systemd;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use patroni_core::cluster::Cluster;
use patroni_core::config::{self, Config, DynamicConfig, Strictness};
use patroni_core::dcs::Dcs;
use patroni_postgres::Postgresql;

const VERSION: &str = concat!("4.1.4 (patroni-rs ", env!("CARGO_PKG_VERSION"), ")");

/// PostgreSQL high availability: one daemon beside each PostgreSQL node.
#[derive(Parser)]
#[command(name = "patroni", version = VERSION)]
struct Cli {
    /// Check the configuration and exit (non-zero when it is not valid).
    #[arg(long)]
    validate_config: bool,
    /// A YAML file or a directory of them; without it the configuration comes from PATRONI_* variables.
    configfile: Option<PathBuf>,
}

fn load_config(configfile: Option<&std::path::Path>) -> Result<Config, config::ConfigError> {
    let tree = config::load_tree(configfile, std::env::vars())?;
    Config::from_tree(tree, Strictness::Daemon)
}

fn main() {
    systemd::take_notify_socket();
    let cli = Cli::parse();
    let config = match load_config(cli.configfile.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("patroni: invalid configuration: {e}");
            std::process::exit(1);
        }
    };
    if cli.validate_config {
        for w in &config.warnings {
            eprintln!("warning: {w}");
        }
        println!("configuration is valid");
        return;
    }
    if let Err(e) = logging::init(&config.log) {
        eprintln!("patroni: {e}");
        std::process::exit(1);
    }
    log_panics();
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("patroni: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let configfile = cli.configfile.clone();
    let reload: ha::ConfigLoader =
        Box::new(move || load_config(configfile.as_deref()).map_err(|e| e.to_string()));
    if let Err(e) = runtime.block_on(run(Arc::new(config), reload)) {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
}

/// Panics are bugs: log them where the operator looks (the daemon's log), with the place.
fn log_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("Unexpected exception raised, please report it as a BUG: {info}");
        default(info);
    }));
}

/// Reads the cached dynamic configuration kept in the data directory, if any.
fn cached_dynamic(config: &Config) -> Option<DynamicConfig> {
    let text =
        std::fs::read_to_string(config.postgresql.data_dir.join("patroni.dynamic.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(DynamicConfig::from_value(&value).0)
}

async fn run(config: Arc<Config>, reload: ha::ConfigLoader) -> anyhow::Result<()> {
    let start_dynamic = cached_dynamic(&config)
        .unwrap_or_else(|| DynamicConfig::from_value(&config.bootstrap.dcs).0);
    let pg = Arc::new(Postgresql::new(Arc::clone(&config)));
    // A postmaster left running by a previous daemon may be a primary until seen otherwise.
    pg.adopt_running();
    let shared = Arc::new(state::Shared::new(
        Arc::clone(&config),
        start_dynamic.clone(),
    ));
    let (guard_gone_tx, guard_gone) = tokio::sync::oneshot::channel::<()>();
    let guard = lease::start_lease_guard(Arc::clone(&pg), Arc::clone(&shared), guard_gone_tx)
        .context("cannot start the lease guard thread")?;
    let outcome = serve(&config, reload, &pg, &shared, start_dynamic, guard_gone).await;
    if let Err(e) = &outcome {
        // Another daemon with our name runs and guards this PostgreSQL itself.
        if e.downcast_ref::<DuplicateName>().is_none() {
            fence_before_exit(&pg, &shared).await;
        }
    }
    drop(guard);
    outcome
}

/// The daemon fails and its lease guard dies with it: nothing may stay writable behind us.
/// PostgreSQL is asked its role first, so a replica is left running; in pause nothing is
/// touched, as the operator asked.
async fn fence_before_exit(pg: &Postgresql, shared: &state::Shared) {
    if shared.snap().dynamic.pause {
        return;
    }
    if let Ok(Ok(st)) = tokio::time::timeout(Duration::from_secs(3), pg.status()).await {
        pg.observe(st.in_recovery);
    }
    if pg.may_be_writable() {
        pg.fence();
    }
}

/// Everything after the guard is up: reach the DCS, check we may run, then run the tasks
/// until SIGTERM or a failure.
async fn serve(
    config: &Arc<Config>,
    reload: ha::ConfigLoader,
    pg: &Arc<Postgresql>,
    shared: &Arc<state::Shared>,
    start_dynamic: DynamicConfig,
    guard_gone: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let Some((dcs, cluster)) = connect(config, &start_dynamic).await? else {
        return Ok(());
    };
    ensure_unique_name(config, &cluster).await?;
    let dynamic = match cluster.config_data() {
        Some(v) => {
            let refused = config::check_dynamic(v).refused;
            if !refused.is_empty() {
                anyhow::bail!(
                    "the cluster's dynamic configuration (/config) asks for what patroni-rs does not support yet:\n  {}",
                    refused.join("\n  ")
                );
            }
            DynamicConfig::from_value(v).0
        }
        None => start_dynamic,
    };
    dcs.set_ttl(dynamic.timing.ttl);
    dcs.set_retry_timeout(dynamic.timing.retry_timeout);
    shared.snap().dynamic = dynamic.clone();

    let listener = tokio::net::TcpListener::bind(config.restapi.listen.replace('*', "0.0.0.0"))
        .await
        .with_context(|| format!("cannot listen on restapi.listen {}", config.restapi.listen))?;
    let (commands_tx, commands_rx) = tokio::sync::mpsc::channel(16);
    let api = Arc::new(rest::Api {
        shared: Arc::clone(shared),
        pg: Arc::clone(pg),
        dcs: Arc::clone(&dcs),
        commands: commands_tx,
        status_cache: Default::default(),
    });
    let rest_task = tokio::spawn(rest::serve(listener, api));
    let renew_task = tokio::spawn(lease::renewal_timer(
        Arc::clone(&dcs),
        Arc::clone(shared),
        config.name.clone(),
    ));
    let ha = ha::Ha::new(
        Arc::clone(config),
        dcs,
        Arc::clone(pg),
        Arc::clone(shared),
        dynamic,
        commands_rx,
        reload,
    );
    // The REST API listens (connections wait in the backlog until it accepts them).
    systemd::ready();
    let ha_task = tokio::spawn(ha::run(ha));
    supervise(ha_task, renew_task, rest_task, guard_gone).await
}

/// Waits for the first task to end: the HA loop normally (SIGTERM), anything else is a
/// failure (a panic included). The others are stopped.
async fn supervise(
    mut ha: tokio::task::JoinHandle<anyhow::Result<()>>,
    mut renew: tokio::task::JoinHandle<()>,
    mut rest: tokio::task::JoinHandle<()>,
    guard_gone: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let outcome = tokio::select! {
        r = &mut ha => match r {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("the HA loop failed: {e}")),
        },
        r = &mut renew => Err(anyhow::anyhow!("the renewal timer stopped: {r:?}")),
        r = &mut rest => Err(anyhow::anyhow!("the REST API stopped: {r:?}")),
        _ = guard_gone => Err(anyhow::anyhow!("the lease guard stopped")),
    };
    rest.abort();
    renew.abort();
    ha.abort();
    outcome
}

/// Connects to the DCS and reads the cluster once, retrying every 5 s as upstream does.
/// `None` when a signal asked us to stop meanwhile.
async fn connect(
    config: &Config,
    dynamic: &DynamicConfig,
) -> anyhow::Result<Option<(Arc<dyn Dcs>, Cluster)>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let timing = dynamic.timing;
    let name = patroni_dcs::dcs_name(config);
    loop {
        let attempt = async {
            let dcs = patroni_dcs::connect(config, &config.name, timing.ttl, timing.retry_timeout)
                .await?;
            let cluster = dcs.get_cluster().await?;
            Ok::<_, patroni_core::dcs::DcsError>((dcs, cluster))
        };
        match attempt.await {
            Ok(ready) => return Ok(Some(ready)),
            Err(patroni_core::dcs::DcsError::Protocol(m)) => anyhow::bail!("{m}"),
            Err(e) => tracing::info!("waiting on {name} ({e})"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = sigterm.recv() => return Ok(None),
            _ = sigint.recv() => return Ok(None),
        }
    }
}

/// Another daemon runs with our name (it answers on the member's REST API).
#[derive(Debug)]
struct DuplicateName(String);

impl std::fmt::Display for DuplicateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Can't start; there is already a node named '{}' running",
            self.0
        )
    }
}

impl std::error::Error for DuplicateName {}

/// Refuses to start when a member with our name answers on its REST API, as upstream does:
/// two daemons with one name would fight over one member key.
async fn ensure_unique_name(config: &Config, cluster: &Cluster) -> anyhow::Result<()> {
    let Some(url) = cluster
        .member(&config.name)
        .and_then(|m| m.endpoint("/liveness"))
    else {
        return Ok(());
    };
    if patroni_rest_client::call("GET", &url, None, Duration::from_secs(3), None)
        .await
        .is_ok()
    {
        return Err(DuplicateName(config.name.clone()).into());
    }
    Ok(())
}
