//! Switchover and manual failover on the leader's side: act on the `failover` key as
//! `patroni_core::ha::leader_step` says, and hand the lock over without losing a committed row
//! (docs/architecture.md, "Switchover").

use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::ha::{failover_possible, leader_step, takeover_candidates, FailoverStep};
use patroni_core::peer::PeerStatus;
use patroni_core::state::{PgState, Role};
use patroni_postgres::StopMode;

use super::Ha;

impl Ha {
    /// Acts on a pending switchover / manual failover. `Some(message)` when we started to
    /// hand over (the cycle ends there).
    pub(crate) async fn handle_failover_key(&mut self, cluster: &Cluster) -> Option<String> {
        let now = chrono::Utc::now().fixed_offset();
        let loop_wait = self.dynamic.timing.loop_wait;
        match leader_step(
            cluster,
            &self.config.name,
            now,
            loop_wait,
            self.dynamic.pause,
        ) {
            FailoverStep::None => None,
            FailoverStep::Await(message) => {
                tracing::info!("{message}");
                None
            }
            FailoverStep::Clear(message) => {
                tracing::warn!("{message}");
                self.clear_failover_key(cluster).await;
                None
            }
            FailoverStep::HandOver { action, candidate } => {
                if let Some(at) = cluster
                    .failover
                    .as_ref()
                    .and_then(|f| f.scheduled_at.as_deref())
                {
                    if let Ok(when) = patroni_core::schedule::parse(at) {
                        tracing::info!("Manual scheduled {action} at {at}");
                        if let Ok(wait) = (when - chrono::Utc::now().fixed_offset()).to_std() {
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
                let peers = self.poll_candidates(cluster, candidate.as_deref()).await;
                let leader_lsn = self.status.as_ref().map(|s| s.lsn()).unwrap_or(0);
                match failover_possible(&peers, leader_lsn, self.dynamic.maximum_lag_on_failover) {
                    Ok(()) => {
                        tracing::info!("{action}: demoting myself");
                        self.demote_gracefully(&peers).await;
                        Some(format!("{action}: demoting myself"))
                    }
                    Err(reasons) => {
                        for r in reasons {
                            tracing::info!("{r}");
                        }
                        tracing::warn!(
                            "{action}: no healthy members found, {action} is not possible"
                        );
                        self.clear_failover_key(cluster).await;
                        None
                    }
                }
            }
        }
    }

    async fn clear_failover_key(&self, cluster: &Cluster) {
        tracing::info!("Cleaning up failover key");
        let version = cluster.failover.as_ref().map(|f| f.version);
        if let Err(e) = self.dcs.set_failover_value("{}", version).await {
            tracing::warn!("failed to clean up the failover key: {e}");
        }
    }

    /// Polls the members that could take over (only `candidate` when one is named).
    async fn poll_candidates(&self, cluster: &Cluster, candidate: Option<&str>) -> Vec<PeerStatus> {
        let names = takeover_candidates(cluster, &self.config.name, candidate);
        let mut view = cluster.clone();
        view.members.retain(|m| names.contains(&m.name.as_str()));
        self.poll_peers(&view).await
    }

    /// Graceful demotion: checkpoint, fast shutdown (walsenders send the shutdown checkpoint to
    /// the replicas before they exit), then release the lock once a candidate has received the
    /// shutdown checkpoint, publishing its LSN as the last optime. The next cycle starts us as
    /// a replica of the new leader, without pg_rewind (our WAL ends where its timeline begins).
    async fn demote_gracefully(&mut self, candidates: &[PeerStatus]) {
        // The loop is busy for the checkpoint and the stop: keep the lock meanwhile, so the
        // lease guard does not cut the handover short.
        let checkpoint_timeout = Duration::from_secs(u64::from(self.dynamic.timing.ttl) / 2);
        self.hold_lock_for(checkpoint_timeout + self.stop_timeout() + Duration::from_secs(10));
        if let Err(e) = self.pg.checkpoint(checkpoint_timeout).await {
            tracing::warn!("CHECKPOINT before demotion failed: {e}");
        }
        let was_running = self.pg.postmaster_pid().is_some();
        if let Err(e) = self
            .stop_postgres(StopMode::Fast, self.stop_timeout(), true)
            .await
        {
            tracing::error!("failed to stop PostgreSQL for the handover: {e}");
            return;
        }
        if self.pg.is_running() {
            tracing::error!("PostgreSQL did not stop for the handover: keeping the lock");
            return;
        }
        // As upstream: the node handing over is `demoted` by the time on_stop runs.
        self.set_role(Role::Demoted);
        if was_running {
            self.fire(patroni_core::callbacks::CallbackAction::OnStop);
        }
        let checkpoint = self
            .pg
            .controldata()
            .await
            .ok()
            .filter(|cd| cd.state() == "shut down")
            .and_then(|cd| cd.checkpoint_lsn());
        if let Some(lsn) = checkpoint {
            self.wait_for_candidate(candidates, lsn).await;
        }
        self.status = None;
        self.upstream = None;
        self.set_role(Role::Demoted);
        self.set_pg_state(PgState::Stopped);
        self.release_lock(checkpoint).await;
        self.wait_for_new_leader().await;
    }

    /// After handing the lock over, gives the candidate up to 2 s to take it (as upstream
    /// does), so the next cycle starts us following the new leader rather than nobody, which
    /// would cost a reload (and an `on_reload`) a moment later. The next cycle runs at once.
    async fn wait_for_new_leader(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let cluster = tokio::time::timeout(left, self.dcs.get_cluster()).await;
            if matches!(cluster, Ok(Ok(c)) if c.leader_name().is_some_and(|l| l != self.config.name))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.shared.wake.notify_one();
    }

    /// Waits (a few seconds at most) until a candidate reports WAL past `lsn`, the start of the
    /// shutdown checkpoint record (the record before it may end exactly there).
    async fn wait_for_candidate(&self, candidates: &[PeerStatus], lsn: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let auth = patroni_rest_client::basic_auth(self.config.rest_client_credentials());
        while Instant::now() < deadline {
            for p in candidates {
                let Some(url) = self.cluster_member_api(&p.name) else {
                    continue;
                };
                if let Ok((_, doc)) =
                    patroni_rest_client::get_json(&url, Duration::from_secs(2), auth.as_deref())
                        .await
                {
                    if PeerStatus::parse(&p.name, &doc).is_some_and(|s| s.wal_position > lsn) {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::warn!("no candidate confirmed the shutdown checkpoint; releasing the lock anyway");
    }

    fn cluster_member_api(&self, name: &str) -> Option<String> {
        let s = self.shared.snap();
        s.cluster
            .as_ref()?
            .0
            .member(name)?
            .api_url()
            .map(str::to_string)
    }
}
