//! The facts the divergence check needs (the rule itself is `patroni_core::ha::assess`): what
//! the leader's PostgreSQL says about its timeline and history, asked over a replication
//! connection as upstream does, and where our own WAL ends; plus the single-user crash
//! recovery that makes the end of a crashed primary's WAL known.

use std::process::Stdio;
use std::time::Duration;

use patroni_core::config::DynamicConfig;
use patroni_core::ha::{LeaderTimeline, LocalPosition, TimelineSwitch};

use crate::conf::{command_line_options, conninfo};
use crate::{PgError, Postgresql};

/// How long one question to the leader may take.
const LEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Field separator for psql's unaligned output: never in a history file or system id.
const SEP: &str = "\u{1f}";

impl Postgresql {
    /// Asks the leader at `host:port`, over a replication connection with the replication
    /// user (which every replica can log in as): first whether it is still in recovery (then
    /// its timeline is not final and the caller waits), then `IDENTIFY_SYSTEM` and, past
    /// timeline 1, `TIMELINE_HISTORY`.
    pub async fn leader_timeline(&self, host: &str, port: u16) -> Result<LeaderTimeline, PgError> {
        // `in_hot_standby` exists from PostgreSQL 14; before it a standby's sessions are
        // read-only, which is the best sign a walsender can give.
        let standby = match self
            .replication_command(host, port, "SHOW in_hot_standby")
            .await
        {
            Err(PgError::Command { output, .. }) if output.contains("unrecognized") => {
                self.replication_command(host, port, "SHOW transaction_read_only")
                    .await?
            }
            other => other?,
        };
        if standby.trim() == "on" {
            return Ok(LeaderTimeline {
                in_recovery: true,
                timeline: 0,
                history: Vec::new(),
            });
        }
        let identify = self
            .replication_command(host, port, "IDENTIFY_SYSTEM")
            .await?;
        let timeline: u64 = identify
            .split(SEP)
            .nth(1)
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                PgError::Other(format!("unexpected IDENTIFY_SYSTEM answer: {identify:?}"))
            })?;
        let history = if timeline > 1 {
            let answer = self
                .replication_command(host, port, &format!("TIMELINE_HISTORY {timeline}"))
                .await?;
            let content = answer.split_once(SEP).map(|(_, c)| c).unwrap_or("");
            TimelineSwitch::parse_history(content)
        } else {
            Vec::new()
        };
        Ok(LeaderTimeline {
            in_recovery: false,
            timeline,
            history,
        })
    }

    /// The timeline our running replica replays (`IDENTIFY_SYSTEM` over a replication
    /// connection to ourselves, as upstream asks it). The status query's timeline comes from
    /// the WAL receiver and falls back to the last restartpoint's while the receiver is down,
    /// which can be a timeline behind the WAL received: compared with the received position,
    /// that made a healthy replica look diverged.
    pub async fn replay_timeline(&self) -> Result<u64, PgError> {
        let port = self.config().postgresql.port;
        let identify = self
            .replication_command(&self.local_host(), port, "IDENTIFY_SYSTEM")
            .await?;
        identify
            .split(SEP)
            .nth(1)
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                PgError::Other(format!("unexpected IDENTIFY_SYSTEM answer: {identify:?}"))
            })
    }

    /// Runs one replication command with psql (tokio-postgres has no replication
    /// connections); the first row, fields separated by [`SEP`].
    async fn replication_command(
        &self,
        host: &str,
        port: u16,
        command: &str,
    ) -> Result<String, PgError> {
        let config = self.config();
        let pg = &config.postgresql;
        self.write_pgpass().await?;
        let dsn = conninfo(&[
            ("dbname", pg.database.clone()),
            ("user", pg.replication.username.clone()),
            ("host", host.to_string()),
            ("port", port.to_string()),
            ("application_name", format!("{} rewind check", config.name)),
        ]) + " replication=1 connect_timeout=3";
        let mut cmd = tokio::process::Command::new(self.binary("psql"));
        cmd.arg("-X")
            .arg("-A")
            .arg("-t")
            .arg("-q")
            .arg("-F")
            .arg(SEP)
            .arg("-d")
            .arg(dsn)
            .arg("-c")
            .arg(command)
            .env("PGPASSFILE", &pg.pgpass)
            .env("PGCONNECT_TIMEOUT", "3")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(LEADER_TIMEOUT, cmd.output())
            .await
            .map_err(|_| PgError::Timeout(format!("{command} on {host}:{port} timed out")))?
            .map_err(|e| PgError::Other(format!("cannot run psql: {e}")))?;
        if !out.status.success() {
            return Err(PgError::Command {
                program: format!("psql {command}"),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// Where our stopped data directory's WAL ends, from pg_controldata (and pg_waldump for
    /// the end of a former primary's shutdown checkpoint). An error says why it is unknown.
    pub async fn stopped_position(&self) -> Result<LocalPosition, PgError> {
        let cd = self.controldata().await?;
        let recovery = matches!(cd.state(), "shut down in recovery" | "in archive recovery");
        if recovery {
            if let Some((lsn, timeline)) = cd.min_recovery() {
                return Ok(LocalPosition::InRecovery { timeline, lsn });
            }
            // A zero minimum recovery point: it was a primary when it stopped.
        }
        if cd.state() != "shut down" && !recovery {
            return Err(PgError::Other(format!(
                "the data directory was not shut down cleanly ({})",
                cd.state()
            )));
        }
        let (timeline, checkpoint) = cd
            .checkpoint_timeline()
            .zip(cd.checkpoint_lsn())
            .ok_or_else(|| PgError::Other("pg_controldata shows no checkpoint".into()))?;
        let checkpoint_end = self.checkpoint_end(timeline, checkpoint).await;
        Ok(LocalPosition::CleanShutdown {
            timeline,
            checkpoint,
            checkpoint_end,
        })
    }

    /// The end of the checkpoint record at `lsn`: pg_waldump reads two records from there and
    /// fails on the second with "invalid record length at <end>" (its size depends on the
    /// version and platform, so reading it is the only reliable way, as upstream notes).
    async fn checkpoint_end(&self, timeline: u64, lsn: u64) -> Option<u64> {
        let start = patroni_core::lsn::format_lsn(lsn);
        let out = tokio::process::Command::new(self.binary("pg_waldump"))
            .arg("-p")
            .arg(self.data_dir().join("pg_wal"))
            .arg("-t")
            .arg(timeline.to_string())
            .arg("-s")
            .arg(&start)
            .arg("-n")
            .arg("2")
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .await
            .ok()?;
        parse_waldump_end(&String::from_utf8_lossy(&out.stderr), &start)
    }

    /// Brings a data directory that was not shut down cleanly to a clean shutdown: replays its
    /// WAL in single-user mode (archiving disabled) and exits, so pg_controldata shows where
    /// the WAL ends.
    pub async fn crash_recovery(&self, dynamic: &DynamicConfig) -> Result<(), PgError> {
        if self.is_running() {
            return Err(PgError::Other("postgres is running".into()));
        }
        // As a plain instance: single-user mode refuses standby mode.
        self.write_postgresql_conf(dynamic, None).await?;
        let params = self.parameters(dynamic).await;
        let mut cmd = tokio::process::Command::new(self.binary("postgres"));
        cmd.arg("--single")
            .arg("-D")
            .arg(self.data_dir())
            .arg(format!(
                "--config-file={}",
                self.conf_dir().join("postgresql.conf").display()
            ))
            .args(command_line_options(&params))
            .arg("-c")
            .arg("archive_mode=on")
            .arg("-c")
            .arg("archive_command=false")
            .arg("template1")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let timeout = Duration::from_secs(
            self.config()
                .postgresql
                .pg_ctl_timeout
                .max(60)
                .saturating_mul(5),
        );
        let out = tokio::time::timeout(timeout, cmd.output())
            .await
            .map_err(|_| PgError::Timeout(format!("crash recovery took longer than {timeout:?}")))?
            .map_err(|e| PgError::Other(format!("cannot run postgres --single: {e}")))?;
        self.changed();
        if out.status.success() {
            Ok(())
        } else {
            Err(PgError::Command {
                program: "postgres --single".into(),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }
}

/// Finds `<end>` in pg_waldump's "error in WAL record at <start>: invalid record length at
/// <end>: ..." (the wording after `<end>` differs between versions).
fn parse_waldump_end(stderr: &str, start: &str) -> Option<u64> {
    let pattern = format!("error in WAL record at {start}: invalid record length at ");
    let line = stderr.lines().find(|l| l.contains(&pattern))?;
    let rest = &line[line.find(&pattern)? + pattern.len()..];
    let end = rest.split(|c: char| c == ':' || c.is_whitespace()).next()?;
    patroni_core::lsn::parse_lsn(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waldump_errors_give_the_checkpoint_end() {
        let v15 = "pg_waldump: error: error in WAL record at 0/182E220: invalid record length at 0/182E298: wanted 24, got 0";
        assert_eq!(parse_waldump_end(v15, "0/182E220"), Some(0x182E298));
        let v16 = "pg_waldump: error: error in WAL record at 0/182E220: invalid record length at 0/182E298: expected at least 24, got 0";
        assert_eq!(parse_waldump_end(v16, "0/182E220"), Some(0x182E298));
        assert_eq!(parse_waldump_end("some other failure", "0/182E220"), None);
        assert_eq!(parse_waldump_end(v15, "0/1000000"), None);
    }
}
