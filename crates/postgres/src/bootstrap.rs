//! Creating a data directory: initdb for a new cluster (with its roles), pg_basebackup for
//! a replica, and pg_rewind for a former primary (docs/postgres.md).

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use patroni_core::config::DynamicConfig;

use crate::conf::conninfo;
use crate::{io_err, PgError, Postgresql};

/// Runs a program, logging its output, and fails with the tail of it.
async fn run(program: &str, mut cmd: tokio::process::Command) -> Result<(), PgError> {
    tracing::info!("running {program}");
    // A daemon told to stop while this runs (SIGTERM) must not leave it behind.
    let out = cmd
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| PgError::Other(format!("cannot run {program}: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for line in text.lines() {
        tracing::debug!("{program}: {line}");
    }
    if out.status.success() {
        Ok(())
    } else {
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        Err(PgError::Command {
            program: program.to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        })
    }
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn sql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Postgresql {
    async fn prepare_empty_data_dir(&self) -> Result<(), PgError> {
        let dir = self.data_dir();
        tokio::fs::create_dir_all(dir).await.map_err(io_err(dir))?;
        tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .await
            .map_err(io_err(dir))
    }

    /// `initdb` with `bootstrap.initdb` options and the superuser's password, then the
    /// `bootstrap.pg_hba` lines (when `postgresql.pg_hba` is not set).
    pub async fn initdb(&self) -> Result<(), PgError> {
        self.prepare_empty_data_dir().await?;
        let config = self.config();
        let pg = &config.postgresql;
        let mut cmd = tokio::process::Command::new(self.binary("initdb"));
        cmd.args(&self.config().bootstrap.initdb_args)
            .arg(format!("--username={}", pg.superuser.username))
            .arg(format!("--pgdata={}", self.data_dir().display()));
        let pwfile = self.data_dir().with_extension("pwfile");
        if let Some(pw) = &pg.superuser.password {
            crate::conf::write_private(&pwfile, pw).await?;
            cmd.arg(format!("--pwfile={}", pwfile.display()));
        }
        let result = run("initdb", cmd).await;
        if let Err(e) = tokio::fs::remove_file(&pwfile).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(
                    "cannot remove {} (it holds the superuser's password): {e}",
                    pwfile.display()
                );
            }
        }
        result?;
        if pg.pg_hba.is_none() && !self.config().bootstrap.pg_hba.is_empty() {
            let path = self.conf_dir().join("pg_hba.conf");
            let mut text = tokio::fs::read_to_string(&path)
                .await
                .map_err(io_err(&path))?;
            text.push('\n');
            for line in &self.config().bootstrap.pg_hba {
                text.push_str(line);
                text.push('\n');
            }
            tokio::fs::write(&path, text).await.map_err(io_err(&path))?;
        }
        Ok(())
    }

    /// After the first start of a new cluster: set the superuser's password, create the
    /// replication and rewind roles, then run `bootstrap.post_bootstrap`.
    pub async fn post_bootstrap(&self) -> Result<(), PgError> {
        let config = self.config();
        let pg = &config.postgresql;
        let mut sql = String::from("SET synchronous_commit TO 'local'; SET log_statement TO 'none'; SET log_min_duration_statement TO -1;\n");
        let role = |user: &patroni_core::config::Credentials, options: &str| {
            let pw = user
                .password
                .as_deref()
                .map(|p| format!(" PASSWORD {}", sql_literal(p)))
                .unwrap_or_default();
            format!(
                "DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN EXECUTE {alter}; ELSE EXECUTE {create}; END IF; END$$;\n",
                lit = sql_literal(&user.username),
                alter = sql_literal(&format!("ALTER ROLE {} WITH {options}{pw}", sql_ident(&user.username))),
                create = sql_literal(&format!("CREATE ROLE {} WITH {options}{pw}", sql_ident(&user.username))),
            )
        };
        sql.push_str(&role(&pg.superuser, "SUPERUSER LOGIN"));
        if pg.replication.username != pg.superuser.username {
            sql.push_str(&role(&pg.replication, "REPLICATION LOGIN"));
        }
        if let Some(rewind) = &pg.rewind {
            if rewind.username != pg.superuser.username {
                sql.push_str(&role(rewind, "LOGIN"));
                for f in [
                    "pg_catalog.pg_ls_dir(text, boolean, boolean)",
                    "pg_catalog.pg_stat_file(text, boolean)",
                    "pg_catalog.pg_read_binary_file(text)",
                    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
                ] {
                    sql.push_str(&format!(
                        "GRANT EXECUTE ON function {f} TO {};\n",
                        sql_ident(&rewind.username)
                    ));
                }
            }
        }
        self.execute(&sql).await?;
        if let Some(script) = &self.config().bootstrap.post_bootstrap {
            self.write_pgpass().await?;
            let dsn = conninfo(&[
                ("dbname", pg.database.clone()),
                ("user", pg.superuser.username.clone()),
                ("host", "127.0.0.1".into()),
                ("port", pg.port.to_string()),
            ]);
            let mut cmd = tokio::process::Command::new("sh");
            cmd.arg("-c")
                .arg(format!("{script} \"$1\""))
                .arg("post_bootstrap")
                .arg(dsn)
                .env("PGPASSFILE", &pg.pgpass)
                .env(
                    "PGOPTIONS",
                    "-c synchronous_commit=local -c statement_timeout=0",
                );
            run("post_bootstrap", cmd).await?;
        }
        Ok(())
    }

    /// `pg_basebackup` from the member at `host:port`, as the replication user.
    /// Two attempts, the data directory emptied before each: pg_basebackup refuses a
    /// non-empty target, and a failed attempt leaves a partial copy behind.
    pub async fn basebackup(&self, host: &str, port: u16) -> Result<(), PgError> {
        let config = self.config();
        let pg = &config.postgresql;
        self.write_pgpass().await?;
        let dsn = conninfo(&[
            ("dbname", pg.database.clone()),
            ("user", pg.replication.username.clone()),
            ("host", host.to_string()),
            ("port", port.to_string()),
        ]);
        let mut last = Ok(());
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            self.remove_data_directory().await?;
            self.prepare_empty_data_dir().await?;
            let mut cmd = tokio::process::Command::new(self.binary("pg_basebackup"));
            cmd.arg(format!("--pgdata={}", self.data_dir().display()))
                .arg("-X")
                .arg("stream")
                .arg(format!("--dbname={dsn}"))
                .args(&pg.basebackup_args)
                .env("PGPASSFILE", &pg.pgpass);
            last = run("pg_basebackup", cmd).await;
            if let Err(e) = &last {
                tracing::error!("{e}");
            }
            if last.is_ok() {
                // The copy carries the source's config: ours is written before each start.
                for f in ["postgresql.conf", "standby.signal", "recovery.signal"] {
                    // Mostly absent; the first two are rewritten before every start anyway.
                    let _ = tokio::fs::remove_file(self.data_dir().join(f)).await;
                }
                return Ok(());
            }
        }
        // pg_basebackup cleans up after itself; the next clone empties the directory first.
        let _ = self.remove_data_directory().await;
        last
    }

    /// `pg_rewind` against the leader at `host:port`. PostgreSQL 13+ brings an uncleanly
    /// stopped target to a clean shutdown itself before rewinding.
    pub async fn rewind(
        &self,
        host: &str,
        port: u16,
        dynamic: &DynamicConfig,
    ) -> Result<(), PgError> {
        let config = self.config();
        let pg = &config.postgresql;
        self.write_pgpass().await?;
        let user = pg.rewind.as_ref().unwrap_or(&pg.superuser);
        let dsn = conninfo(&[
            ("dbname", pg.database.clone()),
            ("user", user.username.clone()),
            ("host", host.to_string()),
            ("port", port.to_string()),
            ("target_session_attrs", "read-write".into()),
        ]);
        // pg_rewind may start the target in single-user mode to finish crash recovery, which
        // refuses standby mode: configure it as a plain instance (no standby.signal) for now;
        // the start as a replica afterwards writes the recovery settings again.
        self.write_postgresql_conf(dynamic, None).await?;
        let mut cmd = tokio::process::Command::new(self.binary("pg_rewind"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg(format!("--source-server={dsn}"))
            .env("PGPASSFILE", &pg.pgpass)
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("PGOPTIONS", "-c statement_timeout=0");
        if self.conf_dir() != self.data_dir() {
            cmd.arg(format!(
                "--config-file={}",
                self.conf_dir().join("postgresql.conf").display()
            ));
        }
        run("pg_rewind", cmd).await?;
        // pg_rewind copies the source's postgresql.conf over ours; it is rewritten at start.
        let base = self.conf_dir().join("postgresql.base.conf");
        if !base.exists() {
            // write_postgresql_conf creates it too before every start, and reports its errors.
            let _ = tokio::fs::write(&base, "").await;
        }
        Ok(())
    }
}
