//! One `patroni` daemon with its PostgreSQL, as the `postgres` user.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{free_port, pg_bin_dir, postgres_ids};

/// How to configure a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Cluster name.
    pub scope: String,
    /// `bootstrap.dcs` ttl.
    pub ttl: u32,
    /// `bootstrap.dcs` loop_wait.
    pub loop_wait: u32,
    /// `bootstrap.dcs` retry_timeout.
    pub retry_timeout: u32,
    /// The lines under `tags:` (default `  nofailover: false`).
    pub tags: String,
    /// Extra lines under `restapi:` (e.g. `authentication`).
    pub restapi: String,
    /// The DCS the cluster runs on.
    pub dcs: DcsKind,
    /// More lines under `bootstrap.dcs:`, without indentation (`primary_start_timeout: 10`).
    pub dcs_extra: Vec<String>,
    /// More lines under `postgresql:`, without indentation (`pg_ctl_timeout: 10`).
    pub postgresql_extra: Vec<String>,
    /// `bootstrap.dcs.postgresql.use_pg_rewind`.
    pub use_pg_rewind: bool,
    /// Where PostgreSQL's programs are (Debian's when `None`).
    pub bin_dir: Option<PathBuf>,
}

/// Which DCS a test cluster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DcsKind {
    /// etcd's v3 API (`etcd3:`).
    #[default]
    Etcd3,
    /// etcd's v2 API (`etcd:`).
    Etcd2,
    /// ZooKeeper (`zookeeper:`).
    ZooKeeper,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            scope: "batman".into(),
            ttl: 20,
            loop_wait: 2,
            retry_timeout: 5,
            tags: "  nofailover: false".into(),
            restapi: String::new(),
            dcs: DcsKind::default(),
            dcs_extra: Vec::new(),
            postgresql_extra: Vec::new(),
            use_pg_rewind: true,
            bin_dir: None,
        }
    }
}

fn indent(lines: &[String], by: &str) -> String {
    lines
        .iter()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A node of a test cluster. Dropping it kills the daemon and its postmaster.
pub struct Node {
    /// Member name.
    pub name: String,
    /// PostgreSQL port.
    pub pg_port: u16,
    /// REST API port.
    pub api_port: u16,
    /// The YAML file.
    pub config_path: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
    dir: PathBuf,
    binary: PathBuf,
    child: Option<Child>,
    starts: u32,
    /// Extra environment for the daemon (`PATRONI_*` overrides).
    pub env: Vec<(String, String)>,
}

impl Node {
    /// Writes the configuration for member `name` in `dir`, with `dcs` the YAML of its DCS
    /// section; does not start it.
    pub fn new(binary: &Path, dir: &Path, name: &str, dcs: &str, opts: &NodeOptions) -> Node {
        let pg_port = free_port();
        let api_port = free_port();
        let node_dir = dir.join(name);
        std::fs::create_dir_all(&node_dir).expect("node dir");
        let (uid, gid) = postgres_ids();
        nix::unistd::chown(&node_dir, Some(uid.into()), Some(gid.into())).expect("chown node dir");
        let data_dir = node_dir.join("data");
        let config = format!(
            r#"scope: {scope}
namespace: /service/
name: {name}
restapi:
  listen: 127.0.0.1:{api_port}
  connect_address: 127.0.0.1:{api_port}
{restapi}
{dcs}
bootstrap:
  dcs:
    ttl: {ttl}
    loop_wait: {loop_wait}
    retry_timeout: {retry_timeout}
    maximum_lag_on_failover: 1048576
{dcs_extra}
    postgresql:
      use_pg_rewind: {use_pg_rewind}
      use_slots: true
      parameters:
        wal_keep_size: 128MB
  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  listen: 127.0.0.1:{pg_port}
  connect_address: 127.0.0.1:{pg_port}
  data_dir: {data}
  bin_dir: {bin}
  pgpass: {node_dir}/pgpass
  authentication:
    superuser:
      username: postgres
      password: zalando
    replication:
      username: replicator
      password: rep-pass
    rewind:
      username: rewind_user
      password: rewind_password
  pg_hba:
  - local all all trust
  - host replication replicator 127.0.0.1/32 md5
  - host all all 127.0.0.1/32 md5
  parameters:
    unix_socket_directories: '{node_dir}'
    shared_buffers: 16MB
    fsync: 'off'
  basebackup:
  - checkpoint: fast
{postgresql_extra}
tags:
{tags}
"#,
            scope = opts.scope,
            ttl = opts.ttl,
            loop_wait = opts.loop_wait,
            retry_timeout = opts.retry_timeout,
            data = data_dir.display(),
            bin = opts.bin_dir.clone().unwrap_or_else(pg_bin_dir).display(),
            dcs_extra = indent(&opts.dcs_extra, "    "),
            postgresql_extra = indent(&opts.postgresql_extra, "  "),
            use_pg_rewind = opts.use_pg_rewind,
            node_dir = node_dir.display(),
            tags = opts.tags,
            restapi = opts.restapi,
        );
        let config_path = node_dir.join(format!("{name}.yml"));
        std::fs::write(&config_path, config).expect("write config");
        Node {
            name: name.to_string(),
            pg_port,
            api_port,
            config_path,
            data_dir,
            dir: node_dir,
            binary: binary.to_path_buf(),
            child: None,
            starts: 0,
            env: Vec::new(),
        }
    }

    /// Starts the daemon as `postgres`, logging to `<node dir>/patroni-<n>.log`.
    pub fn start(&mut self) {
        self.starts += 1;
        let log_path = self.dir.join(format!("patroni-{}.log", self.starts));
        let log = std::fs::File::create(&log_path).expect("log file");
        let (uid, gid) = postgres_ids();
        let child = Command::new(&self.binary)
            .arg(&self.config_path)
            .current_dir(&self.dir)
            .env("HOME", &self.dir)
            .env("PATRONIRS_TEST_FAULT_FILE", self.dir.join("fault"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .gid(gid)
            .uid(uid)
            .spawn()
            .expect("start patroni");
        self.child = Some(child);
    }

    /// Removes the `etcd3:` section from the YAML, so the DCS must come from the environment.
    pub fn remove_dcs_section(&self) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        let kept: Vec<&str> = text
            .lines()
            .scan(false, |skipping, line| {
                if line.starts_with("etcd3:") {
                    *skipping = true;
                    return Some(None);
                }
                if *skipping && line.starts_with("  ") {
                    return Some(None);
                }
                *skipping = false;
                Some(Some(line))
            })
            .flatten()
            .collect();
        std::fs::write(&self.config_path, kept.join("\n") + "\n").expect("write config");
    }

    /// Makes the daemon's HA loop `panic` or `stall` at its next cycle (debug builds read the
    /// fault file at every cycle); `""` clears it.
    pub fn inject_fault(&self, fault: &str) {
        let path = self.dir.join("fault");
        std::fs::write(&path, fault).expect("write the fault file");
    }

    /// Sends `sig` to the daemon (SIGSTOP / SIGCONT freeze and thaw it).
    pub fn signal_daemon(&self, sig: Signal) {
        if let Some(pid) = self.daemon_pid() {
            // A daemon that already exited has nothing to freeze or thaw.
            let _ = kill(Pid::from_raw(pid as i32), sig);
        }
    }

    /// The pid of the postmaster's child whose process title contains `title`
    /// (`startup`, `walreceiver`, `checkpointer`...).
    pub fn postgres_child(&self, title: &str) -> Option<i32> {
        let postmaster = self.postmaster_pid()?;
        std::fs::read_dir("/proc").ok()?.find_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: i32 = stat
                .rsplit_once(") ")?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            (ppid == postmaster && cmdline.contains(title)).then_some(pid)
        })
    }

    /// While on, the next postmaster this node's daemon starts hangs in "starting" forever
    /// (a crash recovery that never ends); needs the cluster built with
    /// [`crate::hanging_bin_dir`] as `bin_dir`.
    pub fn hang_starts(&self, on: bool) {
        let marker = self.data_dir.with_extension("hang");
        if on {
            std::fs::write(&marker, "").expect("write the hang marker");
        } else {
            // Absent already is what we want.
            let _ = std::fs::remove_file(&marker);
        }
    }

    /// How the daemon ended, if it has (crashed or stopped by itself); `None` while it runs
    /// or when it was never started.
    pub fn daemon_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// The daemon's pid while it runs.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The postmaster's pid, from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        // A killed postmaster stays a zombie until its parent reaps it: not running.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())?;
        (state != 'Z' && state != 'X').then_some(pid)
    }

    /// `kill -9` of the daemon (PostgreSQL keeps running).
    pub fn kill_daemon(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Both fail only when the daemon already exited and was reaped: nothing left to do.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGHUP to the daemon: re-read the configuration file.
    pub fn sighup(&self) {
        if let Some(pid) = self.daemon_pid() {
            // Only a daemon that exited refuses it; the test's check of the reload then fails.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGHUP,
            );
        }
    }

    /// `kill -9` of the postmaster and every process of its group.
    pub fn kill_postmaster(&self) {
        if let Some(pid) = self.postmaster_pid() {
            // ESRCH: already dead (or no such group), which is the state asked for.
            let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }

    /// Sends SIGTERM to the daemon; returns its exit status once it exited (or after 90 s).
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // Fails only when it already exited, which the wait below sees at once.
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        for _ in 0..900 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Fails only when it exited meanwhile; the wait returns its status either way.
        let _ = child.kill();
        child.wait().ok()
    }

    /// The daemon's log so far (all starts), for failure messages.
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("patroni-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    /// `GET /patroni` as JSON.
    pub async fn status(&self) -> Option<serde_json::Value> {
        let (code, body) = crate::http_get(self.api_port, "/patroni").await?;
        (code == 200)
            .then(|| serde_json::from_str(&body).ok())
            .flatten()
    }

    /// The role `/patroni` reports (`primary` / `replica`), if the node answers.
    pub async fn role(&self) -> Option<String> {
        Some(self.status().await?.get("role")?.as_str()?.to_string())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_daemon();
        if let Some(pid) = self.postmaster_pid() {
            // A postmaster already gone is what the cleanup wants.
            let _ = kill(Pid::from_raw(pid), Signal::SIGQUIT);
            for _ in 0..50 {
                if kill(Pid::from_raw(pid), None).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            self.kill_postmaster();
        }
    }
}
