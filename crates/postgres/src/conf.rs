//! The files patroni-rs owns in the data directory: `postgresql.conf` (the original kept as
//! `postgresql.base.conf`), `pg_hba.conf`, the pgpass file, and the replica's recovery
//! settings (docs/postgres.md).

// `writeln!` into a String cannot fail: the `let _ =` below drop an always-Ok `fmt::Result`.
use std::fmt::Write as _;
use std::path::Path;

use patroni_core::config::{Config, DynamicConfig};
use serde_json::{Map, Value};

use crate::parameters::{protected_default, PROTECTED};
use crate::{io_err, PgError, Postgresql};

/// Parameters Patroni derives itself; a user value for them is ignored.
const DERIVED: &[&str] = &[
    "listen_addresses",
    "port",
    "cluster_name",
    "hba_file",
    "ident_file",
];

/// Recovery parameters live in the recovery section only.
const RECOVERY: &[&str] = &[
    "primary_conninfo",
    "primary_slot_name",
    "restore_command",
    "recovery_target",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_xid",
    "recovery_target_lsn",
    "recovery_target_timeline",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_min_apply_delay",
    "archive_cleanup_command",
    "standby_mode",
    "promote_trigger_file",
    "trigger_file",
];

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        other => other.to_string(),
    }
}

/// The parameters as configured: protected defaults ← dynamic ← local (local wins, except for
/// protected parameters, which come only from the dynamic side), then the derived ones.
/// Sorted by name. Not yet fitted to the binary: `Postgresql::parameters` does that.
pub fn effective_parameters(config: &Config, dynamic: &DynamicConfig) -> Vec<(String, String)> {
    let mut params: Map<String, Value> = Map::new();
    for (k, v, _) in PROTECTED {
        params.insert((*k).into(), Value::String((*v).into()));
    }
    for (k, v) in &dynamic.parameters {
        params.insert(k.clone(), v.clone());
    }
    for (k, v) in &config.postgresql.parameters {
        if protected_default(k).is_some() {
            continue;
        }
        params.insert(k.clone(), v.clone());
    }
    let mut out: Vec<(String, String)> = params
        .iter()
        .filter(|(k, v)| {
            !v.is_null() && !DERIVED.contains(&k.as_str()) && !RECOVERY.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    out.push((
        "listen_addresses".into(),
        config.postgresql.listen_addresses.clone(),
    ));
    out.push(("port".into(), config.postgresql.port.to_string()));
    out.push(("cluster_name".into(), config.scope.clone()));
    out.sort();
    out
}

/// The protected parameters, as `--name=value` options for the postmaster.
pub(crate) fn command_line_options(params: &[(String, String)]) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| {
            protected_default(k).is_some()
                || matches!(k.as_str(), "listen_addresses" | "port" | "cluster_name")
        })
        .map(|(k, v)| format!("--{k}={v}"))
        .collect()
}

fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''"))
}

/// Builds a libpq connection string in Patroni's fixed key order, escaping as it does.
pub fn conninfo(pairs: &[(&str, String)]) -> String {
    const ORDER: &[&str] = &[
        "dbname",
        "user",
        "passfile",
        "password",
        "host",
        "port",
        "sslmode",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "application_name",
        "krbsrvname",
        "gssencmode",
        "channel_binding",
        "target_session_attrs",
        "connect_timeout",
        "options",
    ];
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace(' ', "\\ ")
    };
    ORDER
        .iter()
        .filter_map(|key| {
            pairs
                .iter()
                .find(|(k, v)| k == key && !v.is_empty())
                .map(|(k, v)| format!("{k}={}", escape(v)))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whom a replica streams from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaOf {
    /// Host of the upstream member.
    pub host: String,
    /// Port of the upstream member.
    pub port: u16,
    /// Slot to use on the upstream (`None` without slots).
    pub slot: Option<String>,
}

impl Postgresql {
    /// `primary_conninfo` for streaming from `upstream`, with the keys and defaults upstream
    /// writes (the password stays in the pgpass file, out of `postgresql.conf`).
    pub fn primary_conninfo(&self, upstream: &ReplicaOf) -> String {
        let config = self.config();
        let pg = &config.postgresql;
        conninfo(&[
            ("dbname", pg.database.clone()),
            ("user", pg.replication.username.clone()),
            ("passfile", pg.pgpass.display().to_string()),
            ("host", upstream.host.clone()),
            ("port", upstream.port.to_string()),
            ("sslmode", "prefer".into()),
            ("application_name", self.config().name.clone()),
            ("gssencmode", "prefer".into()),
            ("channel_binding", "prefer".into()),
        ])
    }

    /// Writes `postgresql.conf` for the given role. The first time, the existing file (from
    /// initdb or the base backup) becomes `postgresql.base.conf` and is included.
    /// `replica_of`: `Some(None)` = replica following nobody yet; `None` = primary.
    pub async fn write_postgresql_conf(
        &self,
        dynamic: &DynamicConfig,
        replica_of: Option<Option<&ReplicaOf>>,
    ) -> Result<(), PgError> {
        let conf_dir = self.conf_dir().to_path_buf();
        let conf = conf_dir.join("postgresql.conf");
        let base = conf_dir.join("postgresql.base.conf");
        if !base.exists() && conf.exists() {
            tokio::fs::rename(&conf, &base)
                .await
                .map_err(io_err(&conf))?;
        }
        if !base.exists() {
            tokio::fs::write(&base, "").await.map_err(io_err(&base))?;
        }
        let mut text = String::from("# Do not edit this file manually!\n# It will be overwritten by Patroni!\ninclude 'postgresql.base.conf'\n\n");
        for (k, v) in self.parameters(dynamic).await {
            let _ = writeln!(text, "{k} = {}", quote(&v));
        }
        let _ = writeln!(
            text,
            "hba_file = {}",
            quote(&conf_dir.join("pg_hba.conf").display().to_string())
        );
        let _ = writeln!(
            text,
            "ident_file = {}",
            quote(&conf_dir.join("pg_ident.conf").display().to_string())
        );
        let signal = self.data_dir().join("standby.signal");
        match replica_of {
            Some(upstream) => {
                text.push_str("\n# recovery.conf\n");
                if let Some(up) = upstream {
                    let _ = writeln!(
                        text,
                        "primary_conninfo = {}",
                        quote(&self.primary_conninfo(up))
                    );
                    if let Some(slot) = &up.slot {
                        let _ = writeln!(text, "primary_slot_name = {}", quote(slot));
                    }
                }
                for k in [
                    "recovery_target",
                    "recovery_target_lsn",
                    "recovery_target_name",
                    "recovery_target_time",
                    "recovery_target_xid",
                ] {
                    let _ = writeln!(text, "{k} = ''");
                }
                text.push_str("recovery_target_timeline = 'latest'\n");
                if let Some(Value::Object(rc)) = dynamic
                    .raw
                    .get("postgresql")
                    .and_then(|p| p.get("recovery_conf"))
                {
                    for (k, v) in rc {
                        if !k.starts_with("recovery_target")
                            && k != "primary_conninfo"
                            && k != "primary_slot_name"
                        {
                            let _ = writeln!(text, "{k} = {}", quote(&value_text(v)));
                        }
                    }
                }
                if !signal.exists() {
                    tokio::fs::write(&signal, "")
                        .await
                        .map_err(io_err(&signal))?;
                }
            }
            None => {
                if signal.exists() {
                    tokio::fs::remove_file(&signal)
                        .await
                        .map_err(io_err(&signal))?;
                }
            }
        }
        write_private(&conf, &text).await
    }

    /// The text of `postgresql.conf` and `pg_hba.conf` as they are now (`None` for a file
    /// that cannot be read), to tell whether a rewrite changed anything.
    pub async fn config_files_text(&self) -> (Option<String>, Option<String>) {
        let read = |name: &str| tokio::fs::read_to_string(self.conf_dir().join(name));
        (
            read("postgresql.conf").await.ok(),
            read("pg_hba.conf").await.ok(),
        )
    }

    /// Rewrites `pg_hba.conf` from `postgresql.pg_hba` (local, else dynamic), when configured.
    pub async fn write_pg_hba(&self, dynamic: &DynamicConfig) -> Result<bool, PgError> {
        let config = self.config();
        let lines = config
            .postgresql
            .pg_hba
            .as_ref()
            .or(dynamic.pg_hba.as_ref());
        let Some(lines) = lines else { return Ok(false) };
        let path = self.conf_dir().join("pg_hba.conf");
        let mut text = String::from(
            "# Do not edit this file manually!\n# It will be overwritten by Patroni!\n",
        );
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        let current = tokio::fs::read_to_string(&path).await.unwrap_or_default();
        if current == text {
            return Ok(false);
        }
        write_private(&path, &text).await?;
        Ok(true)
    }

    /// Writes the pgpass file with the replication, superuser and rewind credentials
    /// (mode 0600), so passwords never appear on command lines.
    pub async fn write_pgpass(&self) -> Result<(), PgError> {
        let config = self.config();
        let pg = &config.postgresql;
        let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
        let mut text = String::new();
        let users = [
            Some(&pg.replication),
            Some(&pg.superuser),
            pg.rewind.as_ref(),
        ];
        for user in users.into_iter().flatten() {
            if let Some(pw) = &user.password {
                let _ = writeln!(text, "*:*:*:{}:{}", esc(&user.username), esc(pw));
            }
        }
        write_private(&pg.pgpass, &text).await
    }
}

pub(crate) async fn write_private(path: &Path, text: &str) -> Result<(), PgError> {
    use tokio::io::AsyncWriteExt;
    // Write to a temporary file and rename, so a crash never leaves half a file; the file is
    // created readable by its owner only (it may hold passwords), never widened afterwards.
    let tmp = path.with_extension("patroni-tmp");
    if let Err(e) = tokio::fs::remove_file(&tmp).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(io_err(&tmp)(e));
        }
    }
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .await
        .map_err(io_err(&tmp))?;
    file.write_all(text.as_bytes())
        .await
        .map_err(io_err(&tmp))?;
    file.flush().await.map_err(io_err(&tmp))?;
    drop(file);
    tokio::fs::rename(&tmp, path).await.map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_order_and_escaping() {
        assert_eq!(
            conninfo(&[
                ("host", "h".into()),
                ("user", "rep user".into()),
                ("dbname", "postgres".into()),
                ("password", String::new())
            ]),
            "dbname=postgres user=rep\\ user host=h"
        );
    }

    #[test]
    fn protected_parameters_come_only_from_the_dynamic_side() {
        let tree = serde_json::json!({
            "scope": "demo",
            "postgresql": {"listen": "127.0.0.1:5433", "parameters": {"max_connections": 5, "work_mem": "8MB"}}
        });
        let config = Config::from_tree(tree, patroni_core::config::Strictness::Ctl).unwrap();
        let (dynamic, _) = DynamicConfig::from_value(
            &serde_json::json!({"postgresql": {"parameters": {"max_connections": 200, "work_mem": "4MB"}}}),
        );
        let params = effective_parameters(&config, &dynamic);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("max_connections").as_deref(), Some("200"));
        assert_eq!(get("work_mem").as_deref(), Some("8MB"));
        assert_eq!(get("port").as_deref(), Some("5433"));
        assert_eq!(get("cluster_name").as_deref(), Some("demo"));
        assert_eq!(get("wal_log_hints").as_deref(), Some("on"));
    }
}
