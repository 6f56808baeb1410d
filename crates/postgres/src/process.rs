//! Starting, stopping, promoting and fencing the postmaster: the one place that changes whether
//! a writable PostgreSQL may be running, and keeps that answer ([`Postgresql::may_be_writable`])
//! true by itself for the lease guard (docs/architecture.md, "Process control").
//!
//! The postmaster runs in its own process group, so a signal meant for the daemon does not
//! reach it and a daemon that dies leaves it running for the next daemon to join. Starting
//! returns once the process is spawned; the HA loop watches it come up. A start always waits
//! for a stop still in progress, so two postmasters never overlap on one data directory.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use patroni_core::config::DynamicConfig;

use crate::conf::{command_line_options, ReplicaOf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::pidfile::{children_of, postmaster, PidFile, Postmaster};
use crate::{io_err, PgError, Postgresql};

/// How to stop PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// SIGINT: abort transactions, checkpoint, stop.
    Fast,
    /// SIGQUIT: stop at once, crash recovery on next start.
    Immediate,
}

/// What we know about the postmaster we manage. Guarded by a std mutex: the lease guard reads
/// and fences from its own thread, never waiting on the async runtime.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// The running postmaster may accept writes (or will once it finishes starting).
    may_be_writable: bool,
    /// When we asked for a promotion that has not been seen finished.
    promote_requested: Option<Instant>,
    /// When we started the running postmaster, and whether writable.
    started: Option<(Instant, bool)>,
    /// The postmaster we sent a stop signal to.
    stopping: Option<i32>,
    /// The postmaster we spawned last (before it writes `postmaster.pid`), and a flag its
    /// reaper sets once it exited: after that its pid may belong to anyone.
    spawned: Option<(i32, Arc<AtomicBool>)>,
    /// The postmaster validated last (see `pidfile::postmaster`).
    known: Option<Postmaster>,
}

impl Postgresql {
    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        // A poisoned lock only means a panic elsewhere between two plain field writes.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The postmaster's pid if one is running on our data directory (validated: see
    /// [`crate::pidfile`]), or the one we just spawned that has not written its pid file yet.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let known = self.control().known;
        match postmaster(self.data_dir(), known) {
            Some(p) => {
                self.control().known = Some(p);
                Some(p.pid)
            }
            None => self.spawned_alive(),
        }
    }

    /// Whether a postmaster runs on our data directory.
    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some()
    }

    /// Whether the running postmaster says it accepts connections.
    pub fn accepting_connections(&self) -> bool {
        PidFile::read(self.data_dir()).is_some_and(|f| f.accepting())
    }

    /// Whether PostgreSQL may accept writes right now: a postmaster runs that we started or
    /// promoted as a primary, or that was last seen as one, or whose role we never saw.
    pub fn may_be_writable(&self) -> bool {
        if !self.is_running() {
            return false;
        }
        self.control().may_be_writable
    }

    /// When the running postmaster was started by us, and whether writable.
    pub fn started(&self) -> Option<(Instant, bool)> {
        self.control().started
    }

    /// When we asked PostgreSQL to promote, while it has not been seen finished.
    pub fn promote_requested(&self) -> Option<Instant> {
        self.control().promote_requested
    }

    /// Records what a status query saw. A primary arms the guard; a replica disarms it unless
    /// we asked it to promote (the query may predate the promotion).
    pub fn observe(&self, in_recovery: bool) {
        let mut c = self.control();
        if !in_recovery {
            c.may_be_writable = true;
            c.promote_requested = None;
        } else if c.promote_requested.is_none() {
            c.may_be_writable = false;
        }
    }

    /// Records that no postmaster runs (it stopped or crashed).
    pub fn observe_stopped(&self) {
        if self.is_running() {
            return;
        }
        let mut c = self.control();
        c.may_be_writable = false;
        c.promote_requested = None;
        c.started = None;
        c.stopping = None;
    }

    /// Records a postmaster found running that we did not start (a daemon restart): until a
    /// query shows its role, it may be a primary.
    pub fn adopt_running(&self) {
        if self.is_running() {
            let mut c = self.control();
            if c.started.is_none() {
                c.may_be_writable = true;
                c.started = Some((Instant::now(), true));
            }
        }
    }

    /// Writes the configuration for the role and spawns the postmaster, without waiting for
    /// it to accept connections. `replica_of`: `None` = primary, `Some(None)` = a replica
    /// following nobody yet, `Some(Some(up))` = a replica of `up`.
    pub async fn start(
        &self,
        dynamic: &DynamicConfig,
        replica_of: Option<Option<&ReplicaOf>>,
    ) -> Result<(), PgError> {
        self.wait_stopped(Duration::from_secs(30)).await?;
        self.changed();
        self.write_pgpass().await?;
        self.write_postgresql_conf(dynamic, replica_of).await?;
        self.write_pg_hba(dynamic).await?;
        let ident = self.conf_dir().join("pg_ident.conf");
        if !ident.exists() {
            tokio::fs::write(&ident, "").await.map_err(io_err(&ident))?;
        }
        let params = self.parameters(dynamic).await;
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
        for (name, _) in std::env::vars_os() {
            if name
                .to_str()
                .is_some_and(patroni_core::config::env::is_patroni_variable)
            {
                cmd.env_remove(name);
            }
        }
        // As upstream's unit file means it: MALLOC_ARENA_MAX=1 is for the daemon, and
        // PG_MALLOC_ARENA_MAX (empty: no limit) is what PostgreSQL's backends get instead.
        if let Some(arenas) = std::env::var_os("PG_MALLOC_ARENA_MAX") {
            cmd.env("MALLOC_ARENA_MAX", arenas)
                .env_remove("PG_MALLOC_ARENA_MAX");
        }
        let as_primary = replica_of.is_none();
        let mut child = {
            // Armed before the process exists: it may open writable before anyone looks.
            let mut c = self.control();
            if as_primary {
                c.may_be_writable = true;
            }
            c.started = Some((Instant::now(), as_primary));
            c.promote_requested = None;
            cmd.spawn()
                .map_err(|e| PgError::Other(format!("cannot start postgres: {e}")))?
        };
        let pid = child.id();
        let exited = Arc::new(AtomicBool::new(false));
        self.control().spawned = pid
            .and_then(|p| i32::try_from(p).ok())
            .map(|p| (p, Arc::clone(&exited)));
        // Reap the postmaster when it exits, so a dead one is not mistaken for a live zombie.
        tokio::spawn(async move {
            if let Err(e) = child.wait().await {
                tracing::debug!("waiting for the postmaster: {e}");
            }
            exited.store(true, Ordering::SeqCst);
        });
        tracing::info!("postmaster pid={}", pid.unwrap_or(0));
        Ok(())
    }

    /// Waits until the postmaster accepts connections and our connection works, it exits, or
    /// `timeout` passes.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), PgError> {
        let deadline = deadline_after(timeout);
        loop {
            if !self.is_running() {
                return Err(PgError::Other("postgres exited during start".into()));
            }
            if self.accepting_connections() {
                match self.connect().await {
                    Ok(client) => {
                        *self.conn.lock().await = Some(std::sync::Arc::new(client));
                        self.changed();
                        return Ok(());
                    }
                    Err(e) if Instant::now() >= deadline => {
                        return Err(PgError::Timeout(format!(
                            "postgres accepts connections but ours fails: {e}"
                        )))
                    }
                    Err(_) => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(PgError::Timeout(format!(
                    "postgres did not accept connections within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The postmaster we spawned last, while it lives (it may not have written
    /// `postmaster.pid` yet). It is our child, so its pid cannot be reused before we reap it;
    /// once reaped, it is never ours again.
    fn spawned_alive(&self) -> Option<i32> {
        let (pid, exited) = self.control().spawned.clone()?;
        if exited.load(Ordering::SeqCst) {
            return None;
        }
        let alive =
            crate::pidfile::ProcStat::read(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X'));
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        (alive && comm.trim() == "postgres").then_some(pid)
    }

    /// Stops the postmaster and waits for it to exit; after `timeout` it and its children are
    /// killed. Only once it is gone does [`Postgresql::may_be_writable`] turn false.
    pub async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), PgError> {
        self.changed();
        *self.conn.lock().await = None;
        let Some(pid) = self.postmaster_pid() else {
            self.observe_stopped();
            return Ok(());
        };
        // One deadline for the whole stop, so the windows that keep the lock meanwhile hold:
        // the user's before_stop may use half of it.
        let deadline = deadline_after(timeout);
        if let Some(command) = self.config().postgresql.before_stop.clone() {
            self.before_stop(&command, timeout / 2).await;
        }
        tracing::info!("stopping postmaster pid={pid} ({mode:?})");
        self.control().stopping = Some(pid);
        signal(pid, mode_signal(mode));
        while self.postmaster_pid() == Some(pid) {
            if Instant::now() >= deadline {
                tracing::warn!("postmaster pid={pid} did not stop in {timeout:?}; killing it");
                kill_all(pid);
                self.wait_stopped(Duration::from_secs(5)).await?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.observe_stopped();
        self.changed();
        Ok(())
    }

    /// Runs the user's `before_stop` script and waits for it (its exit code only logged, as
    /// upstream), at most `timeout`: a script that hangs must not keep PostgreSQL running.
    /// The lease guard's fence does not run it.
    async fn before_stop(&self, command: &str, timeout: Duration) {
        let Some(argv) = shlex::split(command).filter(|a| !a.is_empty()) else {
            tracing::error!("before_stop {command:?} cannot be split into a command line");
            return;
        };
        let run = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .status();
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(status)) => tracing::info!(
                "before_stop script `{command}` exited with {}",
                status.code().unwrap_or(-1)
            ),
            Ok(Err(e)) => tracing::error!("Exception when calling `{command}`: {e}"),
            Err(_) => {
                tracing::error!("before_stop script `{command}` did not exit within {timeout:?}")
            }
        }
    }

    /// How long a postmaster gets to obey SIGQUIT before it and its children are killed. It
    /// must stay below the lease guard's margin (at least 1 s): the kill has to land before
    /// the lock can expire on the DCS. A healthy postmaster obeys within milliseconds.
    pub const FENCE_GRACE: Duration = Duration::from_millis(400);

    /// The lease guard's stop, from any thread and without the async runtime: SIGQUIT, then
    /// after [`Postgresql::FENCE_GRACE`] SIGKILL of the postmaster and every child (a frozen
    /// postmaster's backends would otherwise keep taking writes on open connections).
    pub fn fence(&self) {
        self.changed();
        let Some(pid) = self.postmaster_pid() else {
            self.observe_stopped();
            return;
        };
        self.control().stopping = Some(pid);
        signal(pid, Signal::SIGQUIT);
        // Logged after the signal: nothing, not even a stuck log writer, may delay the fence.
        tracing::error!("fencing: immediate stop of postmaster pid={pid}");
        let deadline = Instant::now() + Self::FENCE_GRACE;
        while self.postmaster_pid() == Some(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.postmaster_pid() == Some(pid) {
            tracing::error!("postmaster pid={pid} ignored SIGQUIT; killing it and its children");
            kill_all(pid);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.postmaster_pid() == Some(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.observe_stopped();
    }

    /// Waits for a postmaster that is stopping (or being fenced) to be gone.
    async fn wait_stopped(&self, timeout: Duration) -> Result<(), PgError> {
        let deadline = deadline_after(timeout);
        while let Some(pid) = self.postmaster_pid() {
            if self.control().stopping != Some(pid) {
                return Err(PgError::Other(format!(
                    "a postmaster (pid {pid}) already runs on the data directory"
                )));
            }
            if Instant::now() >= deadline {
                return Err(PgError::Timeout(format!(
                    "postmaster pid={pid} is still stopping after {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Asks PostgreSQL to promote (`pg_ctl promote`, without waiting): the HA loop keeps
    /// running and renewing while recovery finishes. Armed before the request is sent.
    pub async fn promote(&self) -> Result<(), PgError> {
        {
            let mut c = self.control();
            c.may_be_writable = true;
            c.promote_requested = Some(Instant::now());
        }
        self.changed();
        let mut cmd = tokio::process::Command::new(self.binary("pg_ctl"));
        cmd.arg("promote")
            .arg("-W")
            .arg("-D")
            .arg(self.data_dir())
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .await
            .map_err(|e| PgError::Other(format!("cannot run pg_ctl: {e}")))?;
        self.changed();
        if out.status.success() {
            Ok(())
        } else {
            Err(PgError::Command {
                program: "pg_ctl promote".into(),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
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

/// `now + timeout`, or a time too far away to matter when that does not fit (a huge timeout
/// from the configuration must not panic).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(u64::from(u32::MAX)))
}

fn mode_signal(mode: StopMode) -> Signal {
    match mode {
        StopMode::Fast => Signal::SIGINT,
        StopMode::Immediate => Signal::SIGQUIT,
    }
}

fn signal(pid: i32, sig: Signal) {
    if let Err(e) = kill(Pid::from_raw(pid), sig) {
        // ESRCH: it exited meanwhile, which is what we wanted.
        tracing::debug!("signal {sig} to pid {pid}: {e}");
    }
}

/// SIGKILL for the postmaster and everything it started. The postmaster goes last, so none of
/// its children is re-parented to init before we saw it.
fn kill_all(pid: i32) {
    for child in children_of(pid) {
        signal(child, Signal::SIGKILL);
    }
    signal(pid, Signal::SIGKILL);
}
