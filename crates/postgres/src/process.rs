//! Starting, stopping and signalling the postmaster (postgres-management.md §3).
//!
//! The postmaster is started in its own process group, so a signal meant for the daemon (a
//! terminal's Ctrl-C, systemd's stop) does not reach it, and a killed daemon leaves it running
//! for the next daemon to join. It is found again through `postmaster.pid`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use patroni_core::config::DynamicConfig;

use crate::conf::{command_line_options, effective_parameters, ReplicaOf};
use crate::{io_err, PgError, Postgresql};

/// How to stop PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// SIGINT: abort transactions, checkpoint, stop.
    Fast,
    /// SIGQUIT: stop at once, crash recovery on next start.
    Immediate,
}

impl Postgresql {
    /// The postmaster's pid if one is running on our data directory.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        if pid <= 0 || pid == std::process::id() as i32 {
            return None;
        }
        // A zombie or a recycled pid that is not a postgres process does not count.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.chars().next().unwrap_or('?'))?;
        if state == 'Z' || state == 'X' {
            return None;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        (comm.trim() == "postgres" || comm.trim() == "postmaster").then_some(pid)
    }

    /// Whether a postmaster runs on our data directory.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some()
    }

    /// Writes the configuration for the role and starts the postmaster, waiting until it
    /// accepts connections (or `pg_ctl_timeout`). `replica_of` as for `write_postgresql_conf`.
    pub async fn start(
        &self,
        dynamic: &DynamicConfig,
        replica_of: Option<Option<&ReplicaOf>>,
    ) -> Result<(), PgError> {
        if self.is_running() {
            return Ok(());
        }
        self.changed();
        self.write_pgpass().await?;
        self.write_postgresql_conf(dynamic, replica_of).await?;
        self.write_pg_hba(dynamic).await?;
        let ident = self.conf_dir().join("pg_ident.conf");
        if !ident.exists() {
            tokio::fs::write(&ident, "").await.map_err(io_err(&ident))?;
        }
        let params = effective_parameters(&self.config(), dynamic);
        let mut cmd = tokio::process::Command::new(self.binary("postgres"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg(format!(
                "--config-file={}",
                self.conf_dir().join("postgresql.conf").display()
            ))
            .args(command_line_options(&params))
            .stdin(Stdio::null())
            .process_group(0);
        for (name, _) in std::env::vars() {
            if patroni_core::config::env::is_patroni_variable(&name) {
                cmd.env_remove(name);
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| PgError::Other(format!("cannot start postgres: {e}")))?;
        let pid = child.id();
        // Reap the postmaster when it exits, so a dead one is not mistaken for a live zombie.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        tracing::info!("postmaster pid={}", pid.unwrap_or(0));
        let started = self
            .wait_for_start(
                Duration::from_secs(self.config().postgresql.pg_ctl_timeout),
                pid,
            )
            .await;
        self.changed();
        started
    }

    async fn wait_for_start(&self, timeout: Duration, pid: Option<u32>) -> Result<(), PgError> {
        let deadline = Instant::now() + timeout;
        loop {
            // postmaster.pid's last line says `ready` / `standby` once connections are
            // accepted; connecting before that only fills the log with "starting up".
            let status =
                std::fs::read_to_string(self.data_dir().join("postmaster.pid")).unwrap_or_default();
            let accepting = status
                .lines()
                .nth(7)
                .is_some_and(|l| matches!(l.trim(), "ready" | "standby"));
            if !accepting
                && Instant::now() < deadline
                && pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            match self.connect().await {
                Ok(client) => {
                    *self.conn.lock().await = Some(std::sync::Arc::new(client));
                    return Ok(());
                }
                Err(e) => {
                    let alive = pid
                        .map(|p| kill(Pid::from_raw(p as i32), None).is_ok())
                        .unwrap_or(false)
                        && std::path::Path::new(&format!("/proc/{}", pid.unwrap_or(0))).exists()
                        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.unwrap_or(0)))
                            .unwrap_or_default()
                            .contains(") Z");
                    if !alive {
                        return Err(PgError::Other(format!("postgres exited during start: {e}")));
                    }
                    if Instant::now() >= deadline {
                        return Err(PgError::Timeout(format!(
                            "postgres did not accept connections within {timeout:?}"
                        )));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the postmaster and waits for it to exit; after `timeout` it is killed.
    pub async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), PgError> {
        self.changed();
        *self.conn.lock().await = None;
        let Some(pid) = self.postmaster_pid() else {
            return Ok(());
        };
        let signal = match mode {
            StopMode::Fast => Signal::SIGINT,
            StopMode::Immediate => Signal::SIGQUIT,
        };
        tracing::info!("stopping postmaster pid={pid} ({mode:?})");
        let _ = kill(Pid::from_raw(pid), signal);
        let deadline = Instant::now() + timeout;
        while self.postmaster_pid().is_some() {
            if Instant::now() >= deadline {
                tracing::warn!("postmaster pid={pid} did not stop in {timeout:?}; killing it");
                let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                tokio::time::sleep(Duration::from_millis(200)).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.changed();
        Ok(())
    }

    /// `pg_ctl reload`: SIGHUP to the postmaster.
    pub fn reload(&self) -> Result<(), PgError> {
        self.changed();
        match self.postmaster_pid() {
            Some(pid) => kill(Pid::from_raw(pid), Signal::SIGHUP)
                .map_err(|e| PgError::Other(format!("reload failed: {e}"))),
            None => Err(PgError::Other("postgres is not running".into())),
        }
    }
}
