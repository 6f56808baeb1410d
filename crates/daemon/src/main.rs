//! `patroni`: the daemon that keeps one PostgreSQL highly available (ha-loop.md §1).

mod ha;
mod logging;
mod renewal;
mod rest;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use patroni_core::config::{self, Config, DynamicConfig, Strictness};
use patroni_postgres::{Postgresql, StopMode};

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
    logging::init(&config.log_level);
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

/// Reads the cached dynamic configuration kept in the data directory, if any.
fn cached_dynamic(config: &Config) -> Option<DynamicConfig> {
    let text =
        std::fs::read_to_string(config.postgresql.data_dir.join("patroni.dynamic.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(DynamicConfig::from_value(&value).0)
}

async fn run(config: Arc<Config>, reload: ha::ConfigLoader) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;

    let start_dynamic = cached_dynamic(&config)
        .unwrap_or_else(|| DynamicConfig::from_value(&config.bootstrap.dcs).0);
    let timing = start_dynamic.timing;
    let dcs = loop {
        match patroni_dcs::connect(&config, &config.name, timing.ttl, timing.retry_timeout).await {
            Ok(d) => break d,
            Err(patroni_core::dcs::DcsError::Protocol(m)) => anyhow::bail!("{m}"),
            Err(e) => {
                tracing::info!("waiting on {} ({e})", patroni_dcs::dcs_name(&config));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = sigterm.recv() => return Ok(()),
                    _ = sigint.recv() => return Ok(()),
                }
            }
        }
    };
    let cluster = loop {
        match dcs.get_cluster().await {
            Ok(c) => break c,
            Err(e) => {
                tracing::info!("waiting on {} ({e})", patroni_dcs::dcs_name(&config));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    if let Some(liveness) = cluster
        .member(&config.name)
        .and_then(|m| m.endpoint("/liveness"))
    {
        if patroni_rest_client::get_json(&liveness, Duration::from_secs(3), None)
            .await
            .is_ok()
            || tokio::time::timeout(
                Duration::from_secs(3),
                tokio::net::TcpStream::connect(config.restapi.connect_address.as_str()),
            )
            .await
            .is_ok_and(|r| r.is_ok())
        {
            anyhow::bail!(
                "Can't start; there is already a node named '{}' running",
                config.name
            );
        }
    }
    let dynamic = match cluster.config_data() {
        Some(v) => DynamicConfig::from_value(v).0,
        None => start_dynamic,
    };
    dcs.set_ttl(dynamic.timing.ttl);
    dcs.set_retry_timeout(dynamic.timing.retry_timeout);

    let pg = Arc::new(Postgresql::new(Arc::clone(&config)));
    let shared = Arc::new(state::Shared::new(Arc::clone(&config), dynamic.clone()));
    let listener = tokio::net::TcpListener::bind(config.restapi.listen.replace('*', "0.0.0.0"))
        .await
        .with_context(|| format!("cannot listen on restapi.listen {}", config.restapi.listen))?;
    let (requests_tx, requests_rx) = tokio::sync::mpsc::channel(16);
    let api = Arc::new(rest::Api {
        shared: Arc::clone(&shared),
        pg: Arc::clone(&pg),
        dcs: Arc::clone(&dcs),
        requests: requests_tx,
        status_cache: Default::default(),
    });
    let rest_task = tokio::spawn(rest::serve(listener, api));
    let renew_task = tokio::spawn(renewal::renewal_timer(
        Arc::clone(&dcs),
        Arc::clone(&shared),
        config.name.clone(),
    ));
    let guard_task = tokio::spawn(renewal::lease_guard(Arc::clone(&pg), Arc::clone(&shared)));

    let mut ha = ha::Ha::new(
        Arc::clone(&config),
        Arc::clone(&dcs),
        Arc::clone(&pg),
        Arc::clone(&shared),
        dynamic,
        requests_rx,
        reload,
    );
    let mut next_run = Instant::now();
    let result = loop {
        let cycle = tokio::select! {
            r = ha.cycle() => r,
            _ = sigterm.recv() => break Ok(()),
            _ = sigint.recv() => break Ok(()),
        };
        match cycle {
            Ok(message) if ha.dynamic.pause => tracing::info!("PAUSE: {message}"),
            Ok(message) => tracing::info!("{message}"),
            Err(ha::CycleError::Fatal(m)) => break Err(anyhow::anyhow!(m)),
            Err(ha::CycleError::Dcs(e)) => tracing::error!("Error communicating with DCS: {e}"),
            Err(ha::CycleError::Postgres) => {
                tracing::info!("Error communicating with PostgreSQL. Will try again later")
            }
        }
        if let Err(e) = pg.save_dynamic_config(&ha.dynamic).await {
            tracing::debug!("cannot save patroni.dynamic.json: {e}");
        }
        let loop_wait = Duration::from_secs(u64::from(ha.dynamic.timing.loop_wait));
        next_run += loop_wait;
        let now = Instant::now();
        if next_run <= now {
            tracing::warn!("Loop time exceeded, rescheduling immediately.");
            next_run = now;
        }
        shared.snap().next_cycle = next_run;
        tokio::select! {
            woken = dcs.watch(next_run.saturating_duration_since(now)) => {
                if matches!(woken, Ok(true)) {
                    next_run = Instant::now();
                }
            }
            _ = shared.wake.notified() => next_run = Instant::now(),
            _ = sighup.recv() => {
                shared.reload_requested.store(true, std::sync::atomic::Ordering::SeqCst);
                next_run = Instant::now();
            }
            _ = sigterm.recv() => break Ok(()),
            _ = sigint.recv() => break Ok(()),
        }
    };
    rest_task.abort();
    renew_task.abort();
    guard_task.abort();
    shutdown(&config, &*dcs, &pg, &shared).await;
    result
}

/// SIGTERM: stop PostgreSQL cleanly and, if we lead, release the lock at once with the
/// shutdown checkpoint as the last optime (ha-loop.md §1.8).
async fn shutdown(
    config: &Config,
    dcs: &dyn patroni_core::dcs::Dcs,
    pg: &Postgresql,
    shared: &state::Shared,
) {
    let leader = shared
        .snap()
        .cluster
        .as_ref()
        .is_some_and(|(c, _)| c.leader_name() == Some(config.name.as_str()));
    shared
        .primary_running
        .store(false, std::sync::atomic::Ordering::SeqCst);
    if let Err(e) = pg.stop(StopMode::Fast, Duration::from_secs(60)).await {
        tracing::error!("failed to stop PostgreSQL: {e}");
        return;
    }
    if leader {
        let lsn = pg
            .controldata()
            .await
            .ok()
            .and_then(|cd| cd.checkpoint_lsn());
        match dcs.delete_leader(lsn).await {
            Ok(()) => tracing::info!("Leader key released"),
            Err(e) => tracing::error!("failed to release the leader key: {e}"),
        }
        shared.lock_clock().clear();
    }
    let member = serde_json::json!({
        "conn_url": config.conn_url(), "api_url": config.api_url(), "state": "stopped",
        "role": if leader { "demoted" } else { "replica" }, "version": patroni_core::PATRONI_VERSION,
    });
    let _ = dcs.touch_member(&member.to_string()).await;
}
