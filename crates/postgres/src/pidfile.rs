//! Finding the postmaster of our data directory through `postmaster.pid`, and only trusting a
//! pid that is really that postmaster: a stale file left by a crash may name a pid the kernel
//! has since given to another process (another PostgreSQL's, even), which we must never signal.

use std::path::Path;

/// The fields of `postmaster.pid` we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidFile {
    /// Line 1: the postmaster's pid.
    pub pid: i32,
    /// Line 3: when it started, seconds since the epoch.
    pub start_time: Option<i64>,
    /// Line 8: `starting`, `stopping`, `ready` or `standby`.
    pub status: String,
}

impl PidFile {
    /// Reads `postmaster.pid` in `data_dir`; `None` when absent or unreadable.
    pub fn read(data_dir: &Path) -> Option<PidFile> {
        let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
        Self::parse(&text)
    }

    fn parse(text: &str) -> Option<PidFile> {
        let lines: Vec<&str> = text.lines().collect();
        let pid: i32 = lines.first()?.trim().parse().ok()?;
        Some(PidFile {
            pid,
            start_time: lines.get(2).and_then(|l| l.trim().parse().ok()),
            status: lines
                .get(7)
                .map(|l| l.trim().to_string())
                .unwrap_or_default(),
        })
    }

    /// PostgreSQL accepts connections (`ready` as a primary, `standby` as a hot standby).
    pub fn accepting(&self) -> bool {
        matches!(self.status.as_str(), "ready" | "standby")
    }
}

/// A postmaster process as validated once: its pid and kernel start time (clock ticks after
/// boot, which a wall-clock step does not move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Postmaster {
    /// Its pid.
    pub pid: i32,
    start_ticks: u64,
}

/// The validated postmaster of `data_dir`: the pid file names a live `postgres` process that
/// is not us nor our parent, and that started when the file says (within 3 s, as upstream
/// checks), so a recycled pid is never mistaken for our postmaster. The wall-clock comparison
/// is made once: a process seen before (`known`, same pid and kernel start time) stays
/// trusted even after the wall clock was stepped.
pub(crate) fn postmaster(data_dir: &Path, known: Option<Postmaster>) -> Option<Postmaster> {
    let file = PidFile::read(data_dir)?;
    let pid = file.pid;
    let me = std::process::id() as i32;
    if pid <= 0 || pid == me || pid == nix::unistd::getppid().as_raw() {
        return None;
    }
    let stat = ProcStat::read(pid)?;
    if matches!(stat.state, 'Z' | 'X') {
        return None;
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if !matches!(comm.trim(), "postgres" | "postmaster") {
        return None;
    }
    let this = Postmaster {
        pid,
        start_ticks: stat.start_ticks,
    };
    if known == Some(this) {
        return Some(this);
    }
    match (file.start_time, stat.started_at()) {
        (Some(written), Some(actual)) if (written - actual).abs() > 3 => None,
        _ => Some(this),
    }
}

/// [`postmaster`] without memory: the pid, for callers that keep none.
#[cfg(test)]
pub(crate) fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    postmaster(data_dir, None).map(|p| p.pid)
}

/// The fields of `/proc/<pid>/stat` we use.
pub(crate) struct ProcStat {
    /// Process state (`R`, `S`, `Z`, `T`...).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Start time in clock ticks after boot.
    start_ticks: u64,
}

impl ProcStat {
    /// Reads `/proc/<pid>/stat`; `None` when the process is gone.
    pub fn read(pid: i32) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Self::parse(&text)
    }

    fn parse(text: &str) -> Option<ProcStat> {
        // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        let (_, rest) = text.rsplit_once(") ")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state); starttime is field 22.
        Some(ProcStat {
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            start_ticks: fields.get(19)?.parse().ok()?,
        })
    }

    /// When the process started, in seconds since the epoch.
    fn started_at(&self) -> Option<i64> {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|t| *t > 0)?;
        let boot = boot_time()?;
        let after_boot = i64::try_from(self.start_ticks).ok()? / ticks;
        Some(boot + after_boot)
    }
}

/// `btime` from `/proc/stat`: when the machine booted, seconds since the epoch.
fn boot_time() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Pids of the processes whose parent is `pid` (a postmaster's backends and workers).
pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|child| ProcStat::read(*child).is_some_and(|s| s.ppid == pid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pid_file() {
        let text = "4242\n/var/lib/postgresql/15/main\n1764080000\n5432\n/var/run/postgresql\n127.0.0.1\n  5432001   1\nready   \n";
        let f = PidFile::parse(text).expect("parse");
        assert_eq!(f.pid, 4242);
        assert_eq!(f.start_time, Some(1764080000));
        assert!(f.accepting());
        assert!(!PidFile::parse("4242\n/x\n1\n1\n/s\n*\n1 1\nstarting\n")
            .expect("parse")
            .accepting());
        assert_eq!(PidFile::parse("garbage\n"), None);
        assert_eq!(PidFile::parse(""), None);
    }

    #[test]
    fn parses_proc_stat_with_odd_command_names() {
        let text =
            "123 (post gres) (x)) S 1 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
        let s = ProcStat::parse(text).expect("parse");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.start_ticks, 98765);
        assert!(ProcStat::parse("garbage").is_none());
    }

    #[test]
    fn a_stale_pid_file_naming_another_process_is_not_trusted() {
        let dir = std::env::temp_dir().join(format!("pidfile-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        // Our own pid and pid 1 are never a postmaster of ours.
        for pid in [std::process::id() as i32, 1] {
            std::fs::write(dir.join("postmaster.pid"), format!("{pid}\n/x\n0\n")).expect("write");
            assert_eq!(postmaster_pid(&dir), None);
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_recycled_pid_of_another_postgres_is_not_trusted() {
        // A live process called `postgres` (a copy of sleep) whose pid a stale pid file names,
        // with the start time the old postmaster had: only the matching start time is trusted.
        let dir = std::env::temp_dir().join(format!("pidfile-recycled-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fake = dir.join("postgres");
        std::fs::copy("/bin/sleep", &fake).expect("copy sleep");
        let mut child = std::process::Command::new(&fake)
            .arg("60")
            .spawn()
            .expect("spawn");
        let pid = child.id() as i32;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let write = |start: i64| {
            std::fs::write(
                dir.join("postmaster.pid"),
                format!(
                    "{pid}\n{}\n{start}\n5432\n/tmp\n*\n1 1\nready\n",
                    dir.display()
                ),
            )
            .expect("write pid file");
        };
        write(now - 3600);
        let stale = postmaster_pid(&dir);
        write(now);
        let current = postmaster_pid(&dir);
        // Once validated, the same process (pid and kernel start time) stays trusted when the
        // wall-clock comparison would fail (a clock stepped by more than 3 s).
        let known = postmaster(&dir, None);
        write(now - 3600);
        let after_step = postmaster(&dir, known).map(|p| p.pid);
        child.kill().ok();
        child.wait().ok();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            stale, None,
            "a pid file from an hour ago names another process"
        );
        assert_eq!(current, Some(pid));
        assert_eq!(after_step, Some(pid));
    }
}
