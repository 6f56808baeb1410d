//! The inputs of a decision: what the data directory and PostgreSQL look like, the other
//! members' `/patroni` answers, and what the leader says about our WAL. Facts only: every
//! judgement on them is made in `patroni_core::ha`.

use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::dcs::DcsError;
use patroni_core::ha::{
    self, DataDir, DcsLost, Divergence, LocalPosition, LocalState, Postgres, RewindPolicy,
};
use patroni_core::peer::PeerStatus;
use patroni_core::state::{PgState, Role};
use patroni_postgres::ControlData;

use super::{CycleError, Ha};

impl Ha {
    /// What this node looks like right now (data directory, PostgreSQL, tags).
    pub(crate) async fn local_state(&mut self) -> LocalState {
        let data_dir = self.data_dir_state().await;
        self.status = None;
        let postgres = self.postgres_state().await;
        let before = self.shared.snap().pg_state.clone();
        self.publish_pg_state(&postgres, &data_dir);
        self.callbacks_after_gather(&before, &postgres);
        let use_pg_rewind = self
            .config
            .postgresql
            .use_pg_rewind
            .unwrap_or(self.dynamic.use_pg_rewind);
        LocalState {
            name: self.config.name.clone(),
            data_dir,
            postgres,
            nofailover: self.config.tags.nofailover,
            failover_priority: self.config.tags.failover_priority,
            can_bootstrap: self.config.bootstrap.present,
            promoting_for: self.pg.promote_requested().map(|t| t.elapsed().as_secs()),
            divergence: self.divergence.clone(),
            rewind: RewindPolicy {
                can_rewind: use_pg_rewind && self.rewind_capable,
                remove_on_rewind_failure: self
                    .config
                    .postgresql
                    .remove_data_directory_on_rewind_failure,
                remove_on_diverged: self
                    .config
                    .postgresql
                    .remove_data_directory_on_diverged_timelines,
            },
            race_backoff: self
                .race_backoff
                .filter(|(at, _)| {
                    at.elapsed()
                        < std::time::Duration::from_secs(u64::from(self.dynamic.timing.ttl))
                })
                .map(|(_, why)| why),
        }
    }

    async fn data_dir_state(&mut self) -> DataDir {
        match self.pg.data_dir_empty() {
            Ok(true) => {
                self.system_id = None;
                return DataDir::Empty;
            }
            Ok(false) => {}
            Err(e) => return DataDir::Inaccessible(e.to_string()),
        }
        if self.system_id.is_none() {
            match self.pg.controldata().await {
                Ok(cd) => self.learn_controldata(&cd),
                Err(e) => tracing::warn!("pg_controldata: {e}"),
            }
        }
        match &self.system_id {
            Some(id) => DataDir::Initialized {
                system_id: id.clone(),
            },
            None => DataDir::Invalid,
        }
    }

    fn learn_controldata(&mut self, cd: &ControlData) {
        self.system_id = cd.system_id().map(str::to_string);
        self.rewind_capable = cd.get("wal_log_hints setting") == Some("on")
            || cd
                .get("Data page checksum version")
                .is_some_and(|v| v.trim() != "0");
    }

    async fn postgres_state(&mut self) -> Postgres {
        if !self.pg.is_running() {
            self.pg.observe_stopped();
            self.seen_starting = None;
            return self.stopped_state().await;
        }
        match self.pg.status().await {
            Ok(st) => {
                self.pg.observe(st.in_recovery);
                self.seen_starting = None;
                self.shared.snap().pg_status = Some((st.clone(), Instant::now()));
                let p = Postgres::Running {
                    primary: !st.in_recovery,
                    timeline: st.timeline,
                    wal_position: st.lsn(),
                };
                self.status = Some(st);
                p
            }
            Err(_) if !self.pg.accepting_connections() => {
                let (since, as_primary) = match self.pg.started() {
                    Some(started) => started,
                    None => {
                        let first = *self.seen_starting.get_or_insert_with(Instant::now);
                        (first, !self.pg.has_standby_signal())
                    }
                };
                Postgres::Starting {
                    as_primary,
                    for_secs: since.elapsed().as_secs(),
                }
            }
            Err(e) => {
                tracing::warn!("Error communicating with PostgreSQL: {e}");
                Postgres::Unreachable
            }
        }
    }

    async fn stopped_state(&mut self) -> Postgres {
        let cd = match self.pg.controldata().await {
            Ok(cd) => {
                self.learn_controldata(&cd);
                Some(cd)
            }
            Err(_) => None,
        };
        let state = cd
            .as_ref()
            .map(|c| c.state().to_string())
            .unwrap_or_default();
        let was_primary = !self.pg.has_standby_signal()
            && matches!(
                state.as_str(),
                "in production" | "shut down" | "in crash recovery" | "shutting down"
            );
        Postgres::Stopped {
            was_primary,
            clean: matches!(state.as_str(), "shut down" | "shut down in recovery"),
        }
    }

    /// Puts what PostgreSQL does into the snapshot, in Patroni's names.
    fn publish_pg_state(&self, postgres: &Postgres, data_dir: &DataDir) {
        let mut s = self.shared.snap();
        s.system_id = self.system_id.clone();
        match postgres {
            Postgres::Running { primary, .. } => {
                s.pg_state = PgState::Running;
                s.role = if *primary {
                    Role::Primary
                } else if self.pg.promote_requested().is_some() {
                    Role::Promoted
                } else {
                    Role::Replica
                };
            }
            Postgres::Starting { .. } => s.pg_state = PgState::Starting,
            Postgres::Unreachable => {}
            Postgres::Stopped { .. } => {
                if matches!(s.pg_state, PgState::Running | PgState::Starting) {
                    s.pg_state = PgState::Crashed;
                } else if !s.pg_state.is_failure() && s.pg_state != PgState::Crashed {
                    s.pg_state = PgState::Stopped;
                }
                if matches!(data_dir, DataDir::Empty) {
                    s.role = Role::Uninitialized;
                }
            }
        }
    }

    /// Polls every other member's `GET /patroni` in parallel (2 s timeout); unreachable ones
    /// and garbage answers are left out, as in Patroni.
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

    /// Asks `leader`'s PostgreSQL whether our WAL is on its history (see
    /// `patroni_core::ha::assess`).
    pub(crate) async fn check_divergence(
        &self,
        cluster: &Cluster,
        leader: &str,
        local: &LocalState,
    ) -> Divergence {
        let Some((host, port)) = cluster.member(leader).and_then(|m| m.host_port()) else {
            return Divergence::Undecided {
                leader: leader.to_string(),
                reason: "it publishes no conn_url".into(),
            };
        };
        let position = match local.postgres {
            // The replayed position (read earlier this cycle), then the timeline replay is on:
            // in that order the pair cannot show WAL of a later timeline on an earlier one.
            Postgres::Running { primary: false, .. } => match self.status.as_ref() {
                Some(st) => {
                    let lsn = st.replayed_location;
                    self.pg
                        .replay_timeline()
                        .await
                        .map(|timeline| LocalPosition::InRecovery { timeline, lsn })
                        .map_err(|e| e.to_string())
                }
                None => Err("no status of the running replica".to_string()),
            },
            Postgres::Stopped { .. } => self.pg.stopped_position().await.map_err(|e| e.to_string()),
            _ => Err("PostgreSQL is neither stopped nor a running replica".to_string()),
        };
        let answer = self
            .pg
            .leader_timeline(&host, port)
            .await
            .map_err(|e| e.to_string());
        let verdict = ha::assess(leader, position, answer);
        if verdict == self.divergence {
            // Asked again while our timeline catches up: only a change is worth a line.
            return verdict;
        }
        match &verdict {
            Divergence::Fine { timeline, .. } => {
                tracing::info!("our WAL is on the history of leader {leader} (timeline {timeline})")
            }
            Divergence::Diverged { .. } => {
                tracing::warn!("our WAL diverged from the history of leader {leader}")
            }
            Divergence::Undecided { reason, .. } => {
                tracing::info!("cannot compare our WAL with leader {leader}: {reason}")
            }
            _ => {}
        }
        verdict
    }

    /// The DCS could not be read: a primary demotes (it cannot prove it holds the lock) and
    /// comes back as a replica following nobody.
    pub(crate) async fn dcs_unreachable(&mut self, e: DcsError) -> Result<String, CycleError> {
        tracing::error!("Error communicating with DCS: {e}");
        self.shared.snap().cluster = None;
        let postgres = self.postgres_state().await;
        match ha::dcs_lost(&postgres, self.dynamic.pause) {
            DcsLost::Nothing(message) => Ok(message),
            DcsLost::Demote(message) => {
                tracing::info!("demoting self because DCS is not accessible and I was a leader");
                self.shared.lose_lock(Instant::now());
                self.demote(patroni_postgres::StopMode::Fast).await;
                self.start_replica(None).await;
                Ok(message)
            }
        }
    }
}
