//! `patroni-bench`: the same scenarios against a 3-node cluster of Patroni 4.1 (PyPI) and then
//! against ours, on this machine, with the same etcd, PostgreSQL settings, ttl / loop_wait /
//! retry_timeout and YAML (the test harness writes both). It prints one table with each metric
//! for both and the ratio, and writes the figures as JSON under `bench/results/`.
//!
//! Absolute times on a shared 2-core machine mean little; the ratio within one run does.

mod measure;
mod report;
mod tools;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use report::Metrics;

/// Side-by-side benchmarks of patroni-rs and Patroni 4.1.
#[derive(Parser)]
struct Args {
    /// One trial of each scenario and short windows: a smoke check in under 5 minutes.
    #[arg(long)]
    quick: bool,
    /// Only this system (`patroni` or `patroni-rs`), e.g. to profile ours.
    #[arg(long)]
    only: Option<String>,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Patroni 4.1's daemon (the venv `ci/setup.sh` creates).
    #[arg(long, default_value = "/opt/patroni-rs-venv/bin/patroni")]
    upstream: PathBuf,
}

/// How much of each scenario to run.
pub struct Plan {
    /// Trials of each unplanned failover.
    pub failover_trials: usize,
    /// The idle window for the footprint.
    pub idle: Duration,
    /// wrk's duration per endpoint.
    pub wrk: Duration,
    /// hyperfine runs of `patronictl list`.
    pub ctl_runs: usize,
}

/// One system under test: its daemon and its patronictl.
pub struct System {
    /// Name in the table and the JSON.
    pub name: &'static str,
    /// The daemon binary.
    pub daemon: PathBuf,
    /// Its patronictl.
    pub ctl: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = if args.quick {
        Plan {
            failover_trials: 1,
            idle: Duration::from_secs(10),
            wrk: Duration::from_secs(3),
            ctl_runs: 3,
        }
    } else {
        Plan {
            failover_trials: 5,
            idle: Duration::from_secs(60),
            wrk: Duration::from_secs(10),
            ctl_runs: 20,
        }
    };
    let upstream_ctl = args.upstream.with_file_name("patronictl");
    anyhow::ensure!(
        args.upstream.exists() && upstream_ctl.exists(),
        "{} is missing: run bench/run.sh (it creates the venv with Patroni 4.1)",
        args.upstream.display()
    );
    let systems = [
        System {
            name: "patroni",
            daemon: args.upstream.clone(),
            ctl: upstream_ctl,
        },
        System {
            name: "patroni-rs",
            daemon: patroni_test_harness::sibling_binary("patroni"),
            ctl: patroni_test_harness::sibling_binary("patronictl"),
        },
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let mut results: Vec<(&str, Metrics)> = Vec::new();
    for system in &systems {
        if args.only.as_deref().is_some_and(|o| o != system.name) {
            continue;
        }
        eprintln!("== {}", system.name);
        let metrics = runtime.block_on(measure::run_system(system, &plan))?;
        results.push((system.name, metrics));
    }
    let table = report::table(&results);
    println!("{table}");
    let path = report::write_json(&args.out, args.quick, &results)?;
    println!(
        "results: {} (whole run {:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
