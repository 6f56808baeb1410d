//! The HA loop: each cycle reads the DCS and the local PostgreSQL, asks
//! `patroni_core::ha::decide` what to do, and does it (ha-loop.md §1.7, §2).

mod actions;
mod handover;
mod member;
mod parameters;
mod reload;
mod requests;

pub use reload::ConfigLoader;
pub use requests::{Request, RestartFilters, ScheduledRestart};

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::config::{Config, DynamicConfig};
use patroni_core::dcs::{Dcs, DcsError};
use patroni_core::ha::{self, Action, DataDir, Decision, HaInput, LocalState, Postgres};
use patroni_core::peer::PeerStatus;
use patroni_postgres::{PgStatus, Postgresql, ReplicaOf};

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
    /// The local PostgreSQL did not answer a query; nothing was changed.
    Postgres,
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
    /// The last PostgreSQL status query of this cycle.
    pub(crate) status: Option<PgStatus>,
    /// History entry written for this timeline already.
    pub(crate) history_written_for: u64,
    /// The parameters and pg_hba last written and reloaded.
    pub(crate) applied: Option<AppliedConfig>,
    /// Requests from the REST API.
    pub(crate) requests: tokio::sync::mpsc::Receiver<Request>,
    /// A restart waiting for its time.
    pub(crate) scheduled_restart: Option<ScheduledRestart>,
    /// Reads the local configuration again on reload.
    pub(crate) reload: ConfigLoader,
}

impl Ha {
    /// Builds the loop; `dynamic` is the configuration to start from (cache or bootstrap.dcs).
    pub fn new(
        config: Arc<Config>,
        dcs: Arc<dyn Dcs>,
        pg: Arc<Postgresql>,
        shared: Arc<Shared>,
        dynamic: DynamicConfig,
        requests: tokio::sync::mpsc::Receiver<Request>,
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
            status: None,
            history_written_for: 0,
            applied: None,
            requests,
            scheduled_restart: None,
            reload,
        }
    }

    fn me(&self) -> &str {
        &self.config.name
    }

    /// Runs one cycle and returns its message.
    pub async fn cycle(&mut self) -> Result<String, CycleError> {
        self.reload_if_requested();
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
            self.shared.lose_lock();
        }
        self.refresh_dynamic(&cluster);

        let local = self.local_state().await?;
        if matches!(local.postgres, Postgres::Running { .. }) {
            self.apply_parameters(&cluster).await;
        }
        if let Some(message) = self.handle_requests(&cluster).await {
            self.publish().await;
            return Ok(message);
        }
        let peers;
        let mut input = HaInput {
            cluster: &cluster,
            config: &self.dynamic,
            local: &local,
            peers: None,
        };
        let mut decision = ha::decide(&input);
        if decision == Decision::PollPeers {
            peers = self.poll_peers(&cluster).await;
            input.peers = Some(&peers);
            decision = ha::decide(&input);
        }
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
        if dynamic.timing != self.dynamic.timing {
            self.dcs.set_ttl(dynamic.timing.ttl);
            self.dcs.set_retry_timeout(dynamic.timing.retry_timeout);
        }
        self.dynamic = dynamic;
        self.shared.snap().dynamic = self.dynamic.clone();
    }

    /// What this node looks like right now (data directory, PostgreSQL, tags).
    async fn local_state(&mut self) -> Result<LocalState, CycleError> {
        let data_dir = if self.pg.data_dir_empty() {
            self.system_id = None;
            DataDir::Empty
        } else {
            if self.system_id.is_none() {
                match self.pg.controldata().await {
                    Ok(cd) => self.system_id = cd.system_id().map(str::to_string),
                    Err(e) => tracing::warn!("pg_controldata: {e}"),
                }
            }
            match &self.system_id {
                Some(id) => DataDir::Initialized {
                    system_id: id.clone(),
                },
                None => DataDir::Invalid,
            }
        };
        self.status = None;
        let postgres = if self.pg.is_running() {
            match self.pg.status().await {
                Ok(st) => {
                    self.shared.snap().pg_status = Some((st.clone(), Instant::now()));
                    let p = Postgres::Running {
                        primary: !st.in_recovery,
                        timeline: st.timeline,
                        wal_position: st.lsn(),
                    };
                    self.status = Some(st);
                    p
                }
                Err(e) if e.is_starting_up() => Postgres::Starting,
                Err(e) if self.pg.is_running() => {
                    // A failed query says nothing about PostgreSQL's role: change nothing and
                    // try again next cycle, as upstream does.
                    tracing::warn!("Error communicating with PostgreSQL: {e}");
                    return Err(CycleError::Postgres);
                }
                Err(_) => Postgres::Stopped { was_primary: false },
            }
        } else {
            self.shared.primary_running.store(false, Ordering::SeqCst);
            let was_primary = match (&data_dir, self.pg.has_standby_signal()) {
                (DataDir::Initialized { .. }, false) => self
                    .pg
                    .controldata()
                    .await
                    .map(|cd| {
                        matches!(
                            cd.state(),
                            "in production" | "shut down" | "in crash recovery" | "shutting down"
                        )
                    })
                    .unwrap_or(false),
                _ => false,
            };
            Postgres::Stopped { was_primary }
        };
        {
            let mut s = self.shared.snap();
            s.system_id = self.system_id.clone();
            match &postgres {
                Postgres::Running { primary, .. } => {
                    s.pg_state = "running".into();
                    s.role = if *primary { "primary" } else { "replica" }.into();
                }
                Postgres::Starting => s.pg_state = "starting".into(),
                Postgres::Stopped { .. } => {
                    if s.pg_state == "running" || s.pg_state == "starting" {
                        s.pg_state = "crashed".into();
                    } else if !s.pg_state.contains("fail") {
                        s.pg_state = "stopped".into();
                    }
                    if matches!(data_dir, DataDir::Empty) {
                        s.role = "uninitialized".into();
                    }
                }
            }
        }
        Ok(LocalState {
            name: self.config.name.clone(),
            data_dir,
            postgres,
            nofailover: self.config.tags.nofailover,
            failover_priority: self.config.tags.failover_priority,
            can_bootstrap: self.config.bootstrap.present,
        })
    }

    /// Polls every other member's `GET /patroni` in parallel (2 s timeout); unreachable ones
    /// are left out, as in Patroni.
    pub(crate) async fn poll_peers(&self, cluster: &Cluster) -> Vec<PeerStatus> {
        let auth = patroni_rest_client::basic_auth(self.config.rest_client_credentials());
        let polls = cluster
            .members
            .iter()
            .filter(|m| m.name != self.me())
            .filter_map(|m| {
                let url = m.api_url()?.to_string();
                let name = m.name.clone();
                let auth = auth.clone();
                Some(async move {
                    match patroni_rest_client::get_json(
                        &url,
                        Duration::from_secs(2),
                        auth.as_deref(),
                    )
                    .await
                    {
                        Ok((_, doc)) => PeerStatus::parse(&name, &doc),
                        Err(e) => {
                            tracing::info!("Member {name} is not reachable: {e}");
                            None
                        }
                    }
                })
            });
        futures::future::join_all(polls)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The DCS could not be read: a primary demotes (it cannot prove it holds the lock).
    async fn dcs_unreachable(&mut self, e: DcsError) -> Result<String, CycleError> {
        tracing::error!("Error communicating with DCS: {e}");
        self.shared.snap().cluster = None;
        if self.dynamic.pause {
            return Ok("DCS is not accessible".into());
        }
        if self.pg.is_running()
            && self
                .pg
                .status()
                .await
                .map(|s| !s.in_recovery)
                .unwrap_or(false)
        {
            tracing::info!("demoting self because DCS is not accessible and I was a leader");
            self.shared.lose_lock();
            self.demote_to_replica(None).await;
            return Ok("demoted self because DCS is not accessible and I was a leader".into());
        }
        Ok("DCS is not accessible".into())
    }

    /// Performs a decision.
    async fn execute(
        &mut self,
        decision: Decision,
        cluster: &Cluster,
        local: &LocalState,
    ) -> Result<String, CycleError> {
        match decision {
            Decision::Fatal(m) => Err(CycleError::Fatal(m)),
            Decision::Wait { message, renew } => {
                if renew {
                    let _ = self.renew(cluster).await;
                }
                Ok(message)
            }
            Decision::PollPeers => Ok("waiting for other members".into()),
            Decision::RaceBootstrap => self.bootstrap().await,
            Decision::Clone { from, message } => {
                tracing::info!("{message}");
                self.clone_from(cluster, &from).await;
                Ok(message)
            }
            Decision::ReleaseLock { message } => {
                self.release_lock(None).await;
                Ok(message)
            }
            Decision::Start {
                as_primary,
                follow,
                message,
            } => {
                self.start_stopped(cluster, as_primary, follow.as_deref(), &message)
                    .await;
                Ok(message)
            }
            Decision::RenewLock => {
                let renewed = self.renew(cluster).await;
                if renewed && local.is_running_primary() {
                    if let Some(message) = self.handle_failover_key(cluster).await {
                        return Ok(message);
                    }
                }
                let action = ha::after_renew(renewed, local, self.dynamic.pause);
                self.act(action, cluster).await
            }
            Decision::AcquireLock => {
                let sent = Instant::now();
                let acquired = match self.dcs.attempt_to_acquire_leader().await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::error!("failed to acquire the leader lock: {e}");
                        false
                    }
                };
                if acquired {
                    self.shared
                        .lock_renewed(sent, self.dcs.enforced_ttl(self.dynamic.timing.ttl));
                    self.mark_cluster_leader(cluster);
                    if cluster.failover.is_some() {
                        tracing::info!("Cleaning up failover key after acquiring leader lock...");
                        let _ = self.dcs.set_failover_value("{}", None).await;
                    }
                }
                let action = ha::after_acquire(acquired, local);
                self.act(action, cluster).await
            }
            Decision::Follow {
                leader,
                demote,
                message,
            } => {
                if demote {
                    tracing::info!("{message}");
                    self.demote_to_replica(
                        leader
                            .as_deref()
                            .and_then(|l| cluster.member(l))
                            .map(|m| m.name.clone()),
                    )
                    .await;
                } else {
                    self.follow(cluster, leader.as_deref()).await;
                }
                Ok(message)
            }
        }
    }

    /// Renews our hold on the lock and the lock clock. `true` when we still hold it.
    async fn renew(&mut self, cluster: &Cluster) -> bool {
        let lsn = self
            .status
            .as_ref()
            .filter(|s| !s.in_recovery)
            .map(PgStatus::lsn);
        let sent = Instant::now();
        match self.dcs.update_leader(cluster, lsn).await {
            Ok(true) => {
                self.shared
                    .lock_renewed(sent, self.dcs.enforced_ttl(self.dynamic.timing.ttl));
                true
            }
            Ok(false) => {
                tracing::error!("failed to update leader lock");
                self.shared.lose_lock();
                false
            }
            Err(e) => {
                tracing::error!("failed to update leader lock: {e}");
                self.shared.lose_lock();
                false
            }
        }
    }

    /// After taking the lock, the snapshot shows us as leader until the next read.
    fn mark_cluster_leader(&self, cluster: &Cluster) {
        let mut c = cluster.clone();
        c.leader = Some(patroni_core::cluster::Leader {
            name: self.me().to_string(),
            version: 0,
            session: None,
        });
        self.shared.snap().cluster = Some((Arc::new(c), Instant::now()));
    }

    async fn act(&mut self, action: Action, cluster: &Cluster) -> Result<String, CycleError> {
        match action {
            Action::NoAction(m) => {
                if self.shared.lock_clock().is_valid()
                    && self.status.as_ref().is_some_and(|s| !s.in_recovery)
                {
                    self.shared.primary_running.store(true, Ordering::SeqCst);
                    self.primary_housekeeping(cluster).await;
                }
                Ok(m)
            }
            Action::Promote(m) => {
                self.promote(cluster).await;
                Ok(m)
            }
            Action::Demote { message, .. } => {
                self.demote_to_replica(None).await;
                Ok(message)
            }
            Action::Follow { leader, message } => {
                let leader = leader.or_else(|| cluster.leader_name().map(str::to_string));
                self.follow(cluster, leader.as_deref()).await;
                Ok(message)
            }
        }
    }

    /// Writes our member key (and marks the loop healthy for the renewal timer).
    async fn publish(&mut self) {
        let data = self.member_json();
        if let Err(e) = self.dcs.touch_member(&data).await {
            tracing::warn!("failed to update member key: {e}");
        }
        let healthy = self.status.is_some();
        let mut s = self.shared.snap();
        if healthy {
            s.healthy_at = Some(Instant::now());
        }
    }
}
