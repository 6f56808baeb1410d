//! The scenarios, run the same way on either system: bootstrap, footprint at idle, REST
//! throughput, `patronictl list`, switchover under a writer, and unplanned failover after
//! kill -9 of the leader's daemon and postmaster, at two timing settings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use patroni_test_harness::{http_get, http_request, pg_connect, NodeOptions, TestCluster};

use crate::report::Metrics;
use crate::{tools, Plan, System};

/// How long any one wait may take before the bench gives up on the system.
const PATIENCE: Duration = Duration::from_secs(180);

/// Every scenario on `system`; returns its figures.
pub async fn run_system(system: &System, plan: &Plan) -> anyhow::Result<Metrics> {
    let mut m = Metrics::default();

    // Patroni's default timings: bootstrap, footprint, REST, patronictl, switchover, failover.
    let opts = NodeOptions {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(&system.daemon, 3, &opts);
    let t0 = Instant::now();
    cluster.start_all();
    let mut leader = cluster.wait_healthy(2, PATIENCE).await;
    m.add("bootstrap_s", t0.elapsed().as_secs_f64());
    eprintln!("  bootstrap {:.1} s", t0.elapsed().as_secs_f64());
    create_table(&cluster, leader).await?;

    footprint(&cluster, plan.idle, &mut m);
    for path in ["/patroni", "/primary"] {
        let url = format!("http://127.0.0.1:{}{path}", cluster.nodes[leader].api_port);
        let r = tools::wrk(&url, plan.wrk)?;
        let key = path.trim_start_matches('/');
        m.add(&format!("rest_{key}_rps"), r.requests_per_sec);
        m.add(&format!("rest_{key}_p50_ms"), r.p50_ms);
        m.add(&format!("rest_{key}_p99_ms"), r.p99_ms);
        eprintln!(
            "  GET {path}: {:.0} req/s, p99 {:.2} ms",
            r.requests_per_sec, r.p99_ms
        );
    }
    let list = tools::hyperfine(
        &format!(
            "{} -c {} list",
            system.ctl.display(),
            cluster.nodes[0].config_path.display()
        ),
        plan.ctl_runs,
    )?;
    for t in list {
        m.add("ctl_list_s", t);
    }

    let (gap, rejoin) = switchover(&cluster, leader).await?;
    m.add("switchover_gap_s", gap.as_secs_f64());
    m.add("switchover_rejoin_s", rejoin.as_secs_f64());
    eprintln!(
        "  switchover: write gap {:.2} s, old primary streaming after {:.1} s",
        gap.as_secs_f64(),
        rejoin.as_secs_f64()
    );
    leader = cluster.wait_healthy(2, PATIENCE).await;
    failovers(&mut cluster, leader, plan, "failover_ttl30_s", &mut m).await?;
    drop(cluster);

    // Short timings: the lease, not the loop, bounds failover.
    let opts = NodeOptions {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 5,
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(&system.daemon, 3, &opts);
    cluster.start_all();
    let leader = cluster.wait_healthy(2, PATIENCE).await;
    create_table(&cluster, leader).await?;
    failovers(&mut cluster, leader, plan, "failover_ttl20_s", &mut m).await?;
    Ok(m)
}

async fn create_table(cluster: &TestCluster, leader: usize) -> anyhow::Result<()> {
    let c = pg_connect(cluster.nodes[leader].pg_port).await?;
    c.batch_execute("CREATE TABLE bench (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())")
        .await?;
    Ok(())
}

/// RSS and CPU of each daemon over an idle window (the cluster just settled).
fn footprint(cluster: &TestCluster, idle: Duration, m: &mut Metrics) {
    let pids: Vec<u32> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.daemon_pid())
        .collect();
    let before: Vec<f64> = pids.iter().map(|p| tools::cpu_seconds(*p)).collect();
    // The idle window is the measurement itself, not a wait for a condition.
    std::thread::sleep(idle);
    for (pid, cpu0) in pids.iter().zip(before) {
        let (rss, hwm) = tools::memory_kb(*pid);
        m.add("rss_kb", rss as f64);
        m.add("hwm_kb", hwm as f64);
        // Scaled to a 60 s window, so --quick reads the same way.
        m.add(
            "idle_cpu_s_per_min",
            (tools::cpu_seconds(*pid) - cpu0) * 60.0 / idle.as_secs_f64(),
        );
    }
    eprintln!("  footprint {:?}", m.get("rss_kb"));
}

/// A client that inserts a row every 10 ms into whichever node takes it, recording when each
/// insert was acknowledged.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(ports: Vec<u16>) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (Arc::clone(&stop), Arc::clone(&acked));
        let task = tokio::spawn(async move {
            let mut clients: Vec<Option<tokio_postgres::Client>> =
                ports.iter().map(|_| None).collect();
            while !s.load(Ordering::SeqCst) {
                for (i, port) in ports.iter().enumerate() {
                    if clients[i].as_ref().is_none_or(|c| c.is_closed()) {
                        clients[i] = pg_connect(*port).await.ok();
                    }
                    let Some(c) = &clients[i] else { continue };
                    if c.execute("INSERT INTO bench DEFAULT VALUES", &[])
                        .await
                        .is_ok()
                    {
                        a.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Instant::now());
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Writer { stop, acked, task }
    }

    fn acked(&self) -> Vec<Instant> {
        self.acked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn stop(self) -> Vec<Instant> {
        self.stop.store(true, Ordering::SeqCst);
        let Writer { acked, task, .. } = self;
        // A write loop that panicked would leave the acknowledgements incomplete: say so, since
        // the numbers computed from them would be wrong.
        if let Err(e) = task.await {
            eprintln!(
                "  write loop ended abnormally ({e}): the acknowledged writes are incomplete"
            );
        }
        // The task held the only other reference and has ended.
        Arc::try_unwrap(acked)
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .unwrap_or_default()
    }
}

/// Polls `check` every 10 ms until it holds; errors after [`PATIENCE`].
async fn until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Whether the node's `/patroni` says it is a running replica that streams.
async fn streams(api_port: u16) -> bool {
    let Some((_, body)) = http_get(api_port, "/patroni").await else {
        return false;
    };
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    doc["role"] == "replica" && doc["state"] == "running" && doc["replication_state"] == "streaming"
}

/// Switches over from `leader` under a writer; returns the longest gap between acknowledged
/// writes and the time until the old primary streams from the new one.
async fn switchover(cluster: &TestCluster, leader: usize) -> anyhow::Result<(Duration, Duration)> {
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.pg_port).collect();
    let writer = Writer::start(ports);
    until("the writer's first rows", || async {
        writer.acked().len() >= 20
    })
    .await?;
    let candidate = (leader + 1) % cluster.nodes.len();
    let body = format!(
        r#"{{"leader": "{}", "candidate": "{}"}}"#,
        cluster.nodes[leader].name, cluster.nodes[candidate].name
    );
    let t0 = Instant::now();
    let (code, text) = http_request(
        cluster.nodes[leader].api_port,
        "POST",
        "/switchover",
        Some(&body),
    )
    .await
    .context("POST /switchover")?;
    if code != 200 {
        bail!("switchover refused: {code} {text}");
    }
    let old = cluster.nodes[leader].api_port;
    until("the old primary to stream", || streams(old)).await?;
    let rejoin = t0.elapsed();
    let seen = writer.acked().len();
    until("writes after the switchover", || async {
        writer.acked().len() >= seen + 20
    })
    .await?;
    let acked = writer.stop().await;
    let gap = acked
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    Ok((gap, rejoin))
}

/// `plan.failover_trials` times: kill -9 the leader's daemon and postmaster, time until a
/// write succeeds on another node, then bring the killed node back and wait for a healthy
/// cluster before the next trial.
async fn failovers(
    cluster: &mut TestCluster,
    mut leader: usize,
    plan: &Plan,
    key: &str,
    m: &mut Metrics,
) -> anyhow::Result<()> {
    for trial in 0..plan.failover_trials {
        let others: Vec<u16> = (0..cluster.nodes.len())
            .filter(|i| *i != leader)
            .map(|i| cluster.nodes[i].pg_port)
            .collect();
        let mut clients: Vec<Option<tokio_postgres::Client>> = Vec::new();
        for port in &others {
            clients.push(pg_connect(*port).await.ok());
        }
        let t0 = Instant::now();
        cluster.nodes[leader].kill_daemon();
        cluster.nodes[leader].kill_postmaster();
        let deadline = t0 + PATIENCE;
        'write: loop {
            for (i, port) in others.iter().enumerate() {
                if clients[i].as_ref().is_none_or(|c| c.is_closed()) {
                    clients[i] = pg_connect(*port).await.ok();
                }
                if let Some(c) = &clients[i] {
                    if c.execute("INSERT INTO bench DEFAULT VALUES", &[])
                        .await
                        .is_ok()
                    {
                        break 'write;
                    }
                }
            }
            if Instant::now() > deadline {
                bail!("no write accepted {PATIENCE:?} after killing the leader");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = t0.elapsed();
        m.add(key, took.as_secs_f64());
        eprintln!("  {key} trial {}: {:.2} s", trial + 1, took.as_secs_f64());
        if trial + 1 < plan.failover_trials {
            cluster.nodes[leader].start();
            leader = cluster.wait_healthy(2, PATIENCE).await;
        }
    }
    Ok(())
}
