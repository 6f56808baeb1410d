//! The HA loop: each cycle gathers the DCS view and the local state, asks
//! `patroni_core::ha::decide` for a plan, and carries it out. No rule lives here: this module
//! holds the handles (DCS, PostgreSQL, shared state) and interprets plans, reporting outcomes
//! back to the core (docs/architecture.md).

mod bootstrap;
mod callbacks;
mod commands;
mod execute;
mod follow;
mod gather;
mod handover;
mod leader;
mod member;
mod parameters;
mod reload;
mod run;

pub use reload::ConfigLoader;
pub use run::run;

use std::sync::Arc;
use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::config::{Config, DynamicConfig};
use patroni_core::dcs::{Dcs, DcsError};
use patroni_core::ha::{self, Decision, Divergence, Gather, HaInput, LocalState};
use patroni_core::state::{PgState, Role};
use patroni_postgres::{PgStatus, Postgresql, ReplicaOf};

use crate::commands::{Command, Reply, ScheduledRestart};
use crate::state::Shared;

/// The `postgresql.parameters` and `pg_hba` that PostgreSQL was last reloaded with.
pub(crate) type AppliedConfig = (
    serde_json::Map<String, serde_json::Value>,
    Option<Vec<String>>,
);

/// Why a cycle ended early.
#[derive(Debug)]
pub enum CycleError {
    /// The DCS could not be read.
    Dcs(DcsError),
    /// A configuration or data problem that must stop the daemon.
    Fatal(String),
}

/// A restart whose PostgreSQL is still starting; answered once it runs (or gives up).
pub(crate) struct RestartInProgress {
    reply: Reply,
    deadline: Instant,
}

/// The HA loop's own state between cycles.
pub struct Ha {
    pub(crate) config: Arc<Config>,
    pub(crate) dcs: Arc<dyn Dcs>,
    pub(crate) pg: Arc<Postgresql>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) dynamic: DynamicConfig,
    /// The upstream our recovery configuration points at, as last written.
    pub(crate) upstream: Option<Option<ReplicaOf>>,
    /// System identifier read from pg_controldata.
    pub(crate) system_id: Option<String>,
    /// The data directory has checksums or wal_log_hints (pg_rewind can work on it).
    pub(crate) rewind_capable: bool,
    /// The last PostgreSQL status query of this cycle.
    pub(crate) status: Option<PgStatus>,
    /// The parameters and pg_hba last written and reloaded.
    pub(crate) applied: Option<AppliedConfig>,
    /// Requests from the REST API.
    pub(crate) commands: tokio::sync::mpsc::Receiver<Command>,
    /// A restart waiting for its time.
    pub(crate) scheduled_restart: Option<ScheduledRestart>,
    /// A restart waiting for PostgreSQL to come up before it is answered.
    pub(crate) restart_in_progress: Option<RestartInProgress>,
    /// Reads the local configuration again on reload.
    pub(crate) reload: ConfigLoader,
    /// What the leader last told us about our WAL against its own.
    pub(crate) divergence: Divergence,
    /// When we first saw the running postmaster starting, if we did not start it.
    pub(crate) seen_starting: Option<Instant>,
    /// We promoted and the post-promotion CHECKPOINT has not completed.
    pub(crate) checkpoint_due: bool,
    /// The post-promotion CHECKPOINT running in the background.
    pub(crate) checkpoint_task: Option<tokio::task::JoinHandle<Result<(), String>>>,
    /// This cycle's plan keeps the lock with a healthy or starting PostgreSQL: the renewal
    /// timer may renew until the next cycle is overdue.
    pub(crate) keeps_lock: bool,
    /// What the callbacks owe and whether any fired (`patroni_core::callbacks`).
    pub(crate) callbacks: patroni_core::callbacks::Callbacks,
    /// Runs the callback scripts.
    pub(crate) callback_runner: crate::callbacks::CallbackRunner,
    /// A new cluster is being created: no callbacks fire meanwhile, as upstream.
    pub(crate) bootstrapping: bool,
    /// The configuration files were rewritten on reload: `on_reload` fires if PostgreSQL's
    /// files changed.
    pub(crate) config_reloaded: bool,
    /// PostgreSQL's files were rewritten and its reload failed: reload next time.
    pub(crate) reload_owed: bool,
    /// When and why we last gave the lock up and stay out of the leader race for a `ttl`.
    pub(crate) race_backoff: Option<(Instant, patroni_core::ha::RaceBackoff)>,
}

impl Ha {
    /// Builds the loop; `dynamic` is the configuration to start from (cache or bootstrap.dcs).
    pub fn new(
        config: Arc<Config>,
        dcs: Arc<dyn Dcs>,
        pg: Arc<Postgresql>,
        shared: Arc<Shared>,
        dynamic: DynamicConfig,
        commands: tokio::sync::mpsc::Receiver<Command>,
        reload: ConfigLoader,
    ) -> Ha {
        Ha {
            config,
            dcs,
            pg,
            shared,
            dynamic,
            upstream: None,
            system_id: None,
            rewind_capable: false,
            status: None,
            applied: None,
            commands,
            scheduled_restart: None,
            restart_in_progress: None,
            reload,
            divergence: Divergence::Unchecked,
            seen_starting: None,
            checkpoint_due: false,
            checkpoint_task: None,
            keeps_lock: false,
            callbacks: Default::default(),
            callback_runner: Default::default(),
            bootstrapping: false,
            config_reloaded: false,
            race_backoff: None,
            reload_owed: false,
        }
    }

    fn me(&self) -> &str {
        &self.config.name
    }

    /// Runs one cycle and returns its message.
    pub async fn cycle(&mut self) -> Result<String, CycleError> {
        crate::faults::at_cycle_start().await;
        self.keeps_lock = false;
        self.reload_if_requested();
        let read = Instant::now();
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(e) => return self.dcs_unreachable(e).await,
        };
        {
            let mut s = self.shared.snap();
            s.cluster = Some((Arc::new(cluster.clone()), Instant::now()));
            s.dcs_last_seen = chrono::Utc::now().timestamp();
        }
        if cluster.leader_name() != Some(self.me()) {
            self.shared.lose_lock(read);
        }
        self.refresh_dynamic(&cluster);

        let local = self.local_state().await;
        if self.status.is_some() {
            self.apply_parameters(&cluster).await;
        }
        if let Some(message) = self.handle_commands(&cluster, &local).await {
            self.publish().await;
            return Ok(message);
        }
        let decision = self.decide(&cluster, &local).await;
        if matches!(decision, Decision::RenewLock | Decision::AcquireLock)
            || local.is_running_primary()
        {
            tracing::info!(
                "Lock owner: {}; I am {}",
                cluster.leader_name().unwrap_or("None"),
                self.me()
            );
        }
        let message = self.execute(decision, &cluster, &local).await?;
        self.publish().await;
        Ok(message)
    }

    /// Asks the core for a decision, gathering what it asks for (peers' status, the leader's
    /// timeline) and asking again with it.
    async fn decide(&mut self, cluster: &Cluster, local: &LocalState) -> Decision {
        let mut peers = None;
        let mut check: Option<Divergence> = None;
        loop {
            let input = HaInput {
                cluster,
                config: &self.dynamic,
                local,
                peers: peers.as_deref(),
                leader_check: check.as_ref(),
            };
            match ha::decide(&input) {
                Decision::Gather(Gather::Peers) if peers.is_none() => {
                    peers = Some(self.poll_peers(cluster).await);
                }
                Decision::Gather(Gather::LeaderTimeline { leader }) if check.is_none() => {
                    let answer = self.check_divergence(cluster, &leader, local).await;
                    self.divergence = answer.clone();
                    check = Some(answer);
                }
                Decision::Gather(what) => {
                    // The core asked twice for an input it already has: a bug in a rule.
                    tracing::error!(
                        "the HA rules asked again for {what:?}; doing nothing this cycle"
                    );
                    return Decision::Wait {
                        message: "Unexpected exception raised, please report it as a BUG".into(),
                        renew: cluster.leader_name() == Some(self.me()),
                    };
                }
                decision => return decision,
            }
        }
    }

    /// Dynamic configuration from `/config` when valid; otherwise the last good one is kept.
    fn refresh_dynamic(&mut self, cluster: &Cluster) {
        let Some(data) = cluster.config_data() else {
            return;
        };
        if *data == self.dynamic.raw {
            return;
        }
        let (dynamic, warnings) = DynamicConfig::from_value(data);
        for w in warnings {
            tracing::warn!("{w}");
        }
        // Someone wrote a feature we cannot honour into /config (the daemon refused to start
        // with it): say so loudly at every change; the cluster keeps running as before.
        let report = patroni_core::config::check_dynamic(data);
        for refused in &report.refused {
            tracing::error!("/config: {refused}");
        }
        for w in &report.warnings {
            tracing::warn!("/config: {w}");
        }
        if dynamic.timing != self.dynamic.timing {
            self.dcs.set_ttl(dynamic.timing.ttl);
            self.dcs.set_retry_timeout(dynamic.timing.retry_timeout);
        }
        self.dynamic = dynamic;
        self.shared.snap().dynamic = self.dynamic.clone();
    }

    pub(crate) fn set_pg_state(&self, state: PgState) {
        self.shared.snap().pg_state = state;
    }

    pub(crate) fn set_role(&self, role: Role) {
        self.shared.snap().role = role;
    }

    pub(crate) fn set_busy(&self, busy: bool) {
        self.shared.snap().busy = busy;
    }

    /// Writes our member key and records the cycle for `/liveness` and the renewal timer.
    pub(crate) async fn publish(&mut self) {
        let data = self.member_json();
        if let Err(e) = self.dcs.touch_member(&data).await {
            tracing::warn!("failed to update member key: {e}");
        }
        let now = Instant::now();
        let window = Duration::from_secs(2 * u64::from(self.dynamic.timing.loop_wait) + 2);
        let mut s = self.shared.snap();
        s.last_cycle = Some(now);
        s.renew_allowed_until = self.keeps_lock.then(|| now + window);
    }
}
