//! The side effects of a decision: bootstrap, clone, start, follow, promote, demote, and what
//! a leader keeps in order each cycle (initialize, slots, history).

use std::sync::atomic::Ordering;
use std::time::Duration;

use patroni_core::cluster::{slot_name_from_member_name, Cluster};
use patroni_core::config::DynamicConfig;
use patroni_core::ha::{rewind_needed, LocalPosition};
use patroni_postgres::{ReplicaOf, StopMode};

use super::{CycleError, Ha};

impl Ha {
    fn set_pg_state(&self, state: &str) {
        self.shared.snap().pg_state = state.to_string();
    }

    fn set_busy(&self, busy: bool) {
        self.shared.snap().busy = busy;
    }

    fn use_pg_rewind(&self) -> bool {
        self.config
            .postgresql
            .use_pg_rewind
            .unwrap_or(self.dynamic.use_pg_rewind)
    }

    /// The upstream for following `leader` (its host/port and our slot on it).
    pub(crate) fn upstream_for(
        &self,
        cluster: &Cluster,
        leader: Option<&str>,
    ) -> Option<ReplicaOf> {
        let member = cluster.member(leader?)?;
        if member.name == self.config.name {
            return None;
        }
        let (host, port) = member.host_port()?;
        let slot = (self.dynamic.use_slots && !self.config.tags.nostream)
            .then(|| slot_name_from_member_name(&self.config.name));
        Some(ReplicaOf { host, port, slot })
    }

    /// Bootstrap race won: initdb, start, roles, then `initialize`, `/config` and the lock.
    pub(crate) async fn bootstrap(&mut self) -> Result<String, CycleError> {
        match self.dcs.initialize(true, "").await {
            Ok(true) => {}
            Ok(false) => return Ok("failed to acquire initialize lock".into()),
            Err(e) => return Err(CycleError::Dcs(e)),
        }
        tracing::info!("trying to bootstrap a new cluster");
        let (dynamic, warnings) = DynamicConfig::from_value(&self.config.bootstrap.dcs);
        for w in warnings {
            tracing::warn!("bootstrap.dcs: {w}");
        }
        self.dynamic = dynamic;
        self.dcs.set_ttl(self.dynamic.timing.ttl);
        self.shared.snap().dynamic = self.dynamic.clone();
        self.set_pg_state("initializing new cluster");
        self.set_busy(true);
        self.publish().await;
        let result = self.run_bootstrap().await;
        self.set_busy(false);
        if let Err(e) = result {
            tracing::error!("{e}");
            let _ = self
                .pg
                .stop(StopMode::Immediate, Duration::from_secs(10))
                .await;
            let _ = self.dcs.cancel_initialization().await;
            let failed = self.pg.data_dir().with_extension("failed");
            let _ = tokio::fs::remove_dir_all(&failed).await;
            let _ = tokio::fs::rename(self.pg.data_dir(), &failed).await;
            return Err(CycleError::Fatal("Failed to bootstrap cluster".into()));
        }
        Ok("initialized a new cluster".into())
    }

    async fn run_bootstrap(&mut self) -> Result<(), String> {
        self.pg
            .initdb()
            .await
            .map_err(|e| format!("initdb failed: {e}"))?;
        self.set_pg_state("starting");
        self.pg
            .start(&self.dynamic, None)
            .await
            .map_err(|e| format!("start failed: {e}"))?;
        self.set_pg_state("running");
        self.pg
            .post_bootstrap()
            .await
            .map_err(|e| format!("post_bootstrap failed: {e}"))?;
        let sysid = self
            .pg
            .controldata()
            .await
            .ok()
            .and_then(|cd| cd.system_id().map(str::to_string))
            .ok_or("cannot read the system identifier of the new cluster")?;
        self.system_id = Some(sysid.clone());
        self.dcs
            .initialize(false, &sysid)
            .await
            .map_err(|e| e.to_string())?;
        let config =
            serde_json::to_string(&self.config.bootstrap.dcs).unwrap_or_else(|_| "{}".into());
        self.dcs
            .set_config_value(&config, None)
            .await
            .map_err(|e| e.to_string())?;
        let sent = std::time::Instant::now();
        if !self
            .dcs
            .attempt_to_acquire_leader()
            .await
            .map_err(|e| e.to_string())?
        {
            return Err("could not take the leader lock after bootstrap".into());
        }
        self.shared
            .lock_renewed(sent, self.dcs.enforced_ttl(self.dynamic.timing.ttl));
        self.shared.primary_running.store(true, Ordering::SeqCst);
        self.shared.snap().role = "primary".into();
        Ok(())
    }

    /// Creates a replica from `from` with pg_basebackup and starts it following the leader.
    pub(crate) async fn clone_from(&mut self, cluster: &Cluster, from: &str) {
        let Some((host, port)) = cluster.member(from).and_then(|m| m.host_port()) else {
            return;
        };
        self.set_pg_state("creating replica");
        self.set_busy(true);
        self.publish().await;
        let result = self.pg.basebackup(&host, port).await;
        self.set_busy(false);
        match result {
            Ok(()) => {
                self.system_id = self
                    .pg
                    .controldata()
                    .await
                    .ok()
                    .and_then(|cd| cd.system_id().map(str::to_string));
                self.shared.snap().system_id = self.system_id.clone();
                let upstream = self.upstream_for(cluster, cluster.leader_name());
                self.start_replica(upstream).await;
            }
            Err(e) => {
                tracing::error!("failed to bootstrap from {from}: {e}");
                self.set_pg_state("stopped");
            }
        }
    }

    async fn start_replica(&mut self, upstream: Option<ReplicaOf>) {
        self.set_pg_state("starting");
        self.shared.snap().role = "replica".into();
        // After a rewind the replica may need WAL from the leader before it accepts
        // connections, and the leader makes our replication slot only once it sees our
        // member key: announce ourselves first, and keep the key alive (busy) while the
        // start waits, or the two wait on each other until the start times out.
        if let Err(e) = self.dcs.touch_member(&self.member_json()).await {
            tracing::warn!("failed to update member key: {e}");
        }
        self.set_busy(true);
        let started = self.pg.start(&self.dynamic, Some(upstream.as_ref())).await;
        self.set_busy(false);
        match started {
            Ok(()) => {
                self.set_pg_state("running");
                self.upstream = Some(upstream);
                if let Ok(st) = self.pg.status().await {
                    self.shared.snap().pg_status = Some((st.clone(), std::time::Instant::now()));
                    self.status = Some(st);
                }
            }
            Err(e) => {
                tracing::error!("failed to start postgres: {e}");
                self.set_pg_state("start failed");
            }
        }
    }

    /// Starts a stopped PostgreSQL: as the primary if we (still) hold the lock, else as a
    /// replica of `follow`, rewinding or re-cloning first if our WAL diverged from its.
    pub(crate) async fn start_stopped(
        &mut self,
        cluster: &Cluster,
        as_primary: bool,
        follow: Option<&str>,
        message: &str,
    ) {
        tracing::info!("{message}");
        // Never start writable without renewing the lock first; if that fails, start as a replica.
        if as_primary && self.renew(cluster).await {
            self.set_pg_state("starting");
            self.shared.primary_running.store(true, Ordering::SeqCst);
            match self.pg.start(&self.dynamic, None).await {
                Ok(()) => {
                    self.set_pg_state("running");
                    self.shared.snap().role = "primary".into();
                    self.upstream = None;
                }
                Err(e) => {
                    self.shared.primary_running.store(false, Ordering::SeqCst);
                    tracing::error!("failed to start postgres: {e}");
                    self.set_pg_state("start failed");
                    self.release_lock(None).await;
                }
            }
            return;
        }
        if let Some(leader) = follow.and_then(|l| cluster.member(l)) {
            if !self
                .ensure_not_diverged(cluster, leader.name.as_str(), None)
                .await
            {
                return;
            }
        }
        let upstream = self.upstream_for(cluster, follow);
        self.start_replica(upstream).await;
    }

    /// Checks whether our WAL diverged from `leader`'s and, if so, rewinds (or removes the
    /// data directory so the next cycle re-clones). `running`: our timeline/LSN when running.
    /// Returns whether PostgreSQL may be started (or keep running) as a replica now.
    pub(crate) async fn ensure_not_diverged(
        &mut self,
        cluster: &Cluster,
        leader: &str,
        running: Option<(u64, u64)>,
    ) -> bool {
        let Some(member) = cluster.member(leader) else {
            return true;
        };
        let leader_tl = member.timeline().unwrap_or_else(|| cluster.timeline());
        let position = match running {
            Some((timeline, lsn)) => LocalPosition::InRecovery { timeline, lsn },
            None => {
                let Ok(cd) = self.pg.controldata().await else {
                    return true;
                };
                let in_recovery =
                    matches!(cd.state(), "shut down in recovery" | "in archive recovery");
                match (in_recovery, cd.stop_position()) {
                    (true, Some((timeline, lsn))) => LocalPosition::InRecovery { timeline, lsn },
                    (false, Some((timeline, checkpoint))) if cd.state() == "shut down" => {
                        LocalPosition::CleanShutdown {
                            timeline,
                            checkpoint,
                        }
                    }
                    (_, Some((timeline, _))) => LocalPosition::Crashed { timeline },
                    (_, None) => return true,
                }
            }
        };
        if !rewind_needed(position, leader_tl, cluster.history.as_ref()) {
            return true;
        }
        let Some((host, port)) = member.host_port() else {
            return false;
        };
        if running.is_some() {
            let _ = self.pg.stop(StopMode::Fast, Duration::from_secs(60)).await;
        }
        if self.use_pg_rewind() {
            tracing::info!("running pg_rewind from {leader}");
            self.set_busy(true);
            let result = self.pg.rewind(&host, port, &self.dynamic).await;
            self.set_busy(false);
            match result {
                Ok(()) => return true,
                Err(e) => tracing::error!("Failed to rewind from healthy primary: {leader}: {e}"),
            }
        }
        tracing::info!("reinitializing due to diverged timelines");
        if let Err(e) = self.pg.remove_data_directory().await {
            tracing::error!("{e}");
        }
        self.system_id = None;
        false
    }

    /// Keeps a running replica pointed at `leader` (rewriting and reloading its recovery
    /// settings when the leader changed).
    pub(crate) async fn follow(&mut self, cluster: &Cluster, leader: Option<&str>) {
        let Some(status) = self.status.clone() else {
            return;
        };
        if !status.in_recovery {
            return;
        }
        // Nobody to follow (no leader yet): keep streaming from whoever we follow now.
        if leader.is_none() {
            return;
        }
        let upstream = self.upstream_for(cluster, leader);
        if self.upstream.as_ref() == Some(&upstream) {
            return;
        }
        if let Some(l) = leader {
            if !self
                .ensure_not_diverged(cluster, l, Some((status.timeline, status.lsn())))
                .await
            {
                return;
            }
            if !self.pg.is_running() {
                self.start_replica(upstream).await;
                return;
            }
        }
        match self
            .pg
            .write_postgresql_conf(&self.dynamic, Some(upstream.as_ref()))
            .await
        {
            Ok(()) => {
                let _ = self.pg.reload();
                if let Some(up) = &upstream {
                    tracing::info!("following {}:{}", up.host, up.port);
                }
                self.upstream = Some(upstream);
            }
            Err(e) => tracing::error!("failed to write the recovery configuration: {e}"),
        }
    }

    /// Promotes the local replica: we hold the lock (the caller just renewed or acquired it).
    pub(crate) async fn promote(&mut self, cluster: &Cluster) {
        if !self.shared.lock_clock().is_valid() {
            tracing::error!("not promoting: our hold on the leader lock is not valid");
            return;
        }
        self.shared.primary_running.store(true, Ordering::SeqCst);
        match self.pg.promote(60).await {
            Ok(()) => {
                self.shared.snap().role = "primary".into();
                self.upstream = None;
                // pg_rewind on the old primary reads our timeline from pg_control, which is
                // only updated by a checkpoint.
                if let Err(e) = self.pg.checkpoint().await {
                    tracing::warn!("CHECKPOINT after promote failed: {e}");
                }
                if let Ok(st) = self.pg.status().await {
                    self.status = Some(st);
                }
                self.primary_housekeeping(cluster).await;
            }
            Err(e) => tracing::error!("promote failed: {e}"),
        }
    }

    /// Stops a primary that must not run (lost lock, DCS unreachable). The next cycle starts
    /// it as a replica, rewinding first if needed.
    pub(crate) async fn demote_to_replica(&mut self, _follow: Option<String>) {
        self.shared.primary_running.store(false, Ordering::SeqCst);
        if let Err(e) = self
            .pg
            .stop(StopMode::Immediate, Duration::from_secs(10))
            .await
        {
            tracing::error!("failed to stop PostgreSQL: {e}");
        }
        self.status = None;
        self.upstream = None;
        self.shared.snap().role = "demoted".into();
        self.set_pg_state("stopped");
    }

    /// Deletes the leader key if we still own it.
    pub(crate) async fn release_lock(&mut self, last_lsn: Option<u64>) {
        self.shared.lose_lock();
        if let Err(e) = self.dcs.delete_leader(last_lsn).await {
            tracing::error!("failed to delete the leader key: {e}");
        }
    }

    /// What the leader keeps in order each cycle: `initialize`, `/config`, member slots, `/history`.
    pub(crate) async fn primary_housekeeping(&mut self, cluster: &Cluster) {
        if let Some(sysid) = &self.system_id {
            if cluster.system_id() != Some(sysid.as_str()) {
                let _ = self
                    .dcs
                    .initialize(cluster.initialize.is_none(), sysid)
                    .await;
            }
        }
        if cluster.config.is_none() {
            let text = serde_json::to_string(&self.dynamic.raw).unwrap_or_else(|_| "{}".into());
            let _ = self.dcs.set_config_value(&text, None).await;
        }
        if self.dynamic.use_slots {
            self.sync_member_slots(cluster).await;
        }
        if let Some(tl) = self.status.as_ref().map(|s| s.timeline) {
            if tl > 1 && self.history_written_for != tl && cluster.timeline() < tl {
                self.write_history(tl).await;
            }
        }
    }

    /// One physical slot per other member (not for `nostream` members).
    async fn sync_member_slots(&self, cluster: &Cluster) {
        let existing = match self.pg.physical_slots().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot read replication slots: {e}");
                return;
            }
        };
        for m in &cluster.members {
            if m.name == self.config.name
                || m.tags().get("nostream").and_then(|v| v.as_bool()) == Some(true)
            {
                continue;
            }
            let slot = slot_name_from_member_name(&m.name);
            if !existing.iter().any(|(n, _)| *n == slot) {
                match self.pg.create_physical_slot(&slot).await {
                    Ok(()) => tracing::info!("created physical replication slot {slot}"),
                    Err(e) => tracing::warn!("failed to create slot {slot}: {e}"),
                }
            }
        }
    }

    /// `/history` from our `<timeline>.history` file (dcs-layout.md §3.4).
    async fn write_history(&mut self, timeline: u64) {
        let path = self
            .pg
            .data_dir()
            .join("pg_wal")
            .join(format!("{timeline:08X}.history"));
        let Ok(text) = tokio::fs::read_to_string(&path).await else {
            return;
        };
        let mtime = tokio::fs::metadata(&path)
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
            })
            .unwrap_or_default();
        let mut lines = Vec::new();
        let parsed: Vec<(u64, u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, '\t');
                let tli = parts.next()?.trim().parse().ok()?;
                let lsn = patroni_core::lsn::parse_lsn(parts.next()?)?;
                Some((tli, lsn, parts.next().unwrap_or("").trim().to_string()))
            })
            .collect();
        for (i, (tli, lsn, reason)) in parsed.iter().enumerate() {
            let mut line = vec![
                serde_json::json!(tli),
                serde_json::json!(lsn),
                serde_json::json!(reason),
            ];
            if i + 1 == parsed.len() {
                line.push(serde_json::json!(mtime));
                line.push(serde_json::json!(self.config.name));
            }
            lines.push(serde_json::Value::Array(line));
        }
        let value = serde_json::to_string(&lines).unwrap_or_else(|_| "[]".into());
        if self.dcs.set_history_value(&value).await.is_ok() {
            self.history_written_for = timeline;
        }
    }
}
