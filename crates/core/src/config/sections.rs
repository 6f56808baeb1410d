//! Readers for the sections of the local configuration (`bootstrap`, `postgresql`, `tags`,
//! each turning the untyped tree into typed values or an error naming the key.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::types::{BootstrapConfig, Credentials, PostgresqlConfig, RestApiConfig, Tags};
use super::value::{describe, Section};
use super::ConfigError;
use crate::callbacks::CallbackAction;

pub(super) fn credentials(s: &Section) -> Result<Option<Credentials>, ConfigError> {
    match s.string("username")? {
        Some(username) => Ok(Some(Credentials {
            username,
            password: s.string("password")?,
        })),
        None => Ok(None),
    }
}

pub(super) fn restapi_section(s: &Section, daemon: bool) -> Result<RestApiConfig, ConfigError> {
    let (listen, connect_address) = if daemon {
        (
            s.required_string("listen")?,
            s.string("connect_address")?.ok_or_else(|| {
                ConfigError::invalid("restapi.connect_address", "is required but missing")
            })?,
        )
    } else {
        (
            s.string("listen")?.unwrap_or_default(),
            s.string("connect_address")?.unwrap_or_default(),
        )
    };
    Ok(RestApiConfig {
        listen,
        connect_address,
        authentication: credentials(&s.section("authentication")?)?,
    })
}

pub(super) fn check_address(key: &str, addr: &str) -> Result<(), ConfigError> {
    let port = addr.rsplit_once(':').map(|(_, p)| p);
    match port.and_then(|p| p.parse::<u16>().ok()) {
        Some(_) => Ok(()),
        None => Err(ConfigError::invalid(
            key,
            format!("expected host:port, got {addr:?}"),
        )),
    }
}

pub(super) fn bootstrap_section(s: &Section) -> Result<BootstrapConfig, ConfigError> {
    let initdb_args = tool_options(
        s,
        "initdb",
        &["pgdata", "nosync", "pwfile", "sync-only", "version"],
    )?;
    let dcs_section = s.section("dcs")?;
    for key in [
        "ttl",
        "loop_wait",
        "retry_timeout",
        "maximum_lag_on_failover",
        "primary_start_timeout",
    ] {
        if let Some(v) = dcs_section.int(key)? {
            if v < 0 {
                return Err(ConfigError::invalid(
                    &dcs_section.key_path(key),
                    "must not be negative",
                ));
            }
        }
    }
    for key in ["check_timeline", "failsafe_mode", "synchronous_mode_strict"] {
        dcs_section.bool(key)?;
    }
    let dcs_pg = dcs_section.section("postgresql")?;
    dcs_pg.bool("use_pg_rewind")?;
    dcs_pg.bool("use_slots")?;
    if dcs_pg.raw("parameters").is_some_and(|p| !p.is_object()) {
        return Err(ConfigError::invalid(
            "bootstrap.dcs.postgresql.parameters",
            "postgresql.parameters is not a dictionary",
        ));
    }
    let dcs = match s.map("dcs")? {
        Some(m) => Value::Object(m.clone()),
        None => Value::Object(Map::new()),
    };
    Ok(BootstrapConfig {
        present: s.exists(),
        dcs,
        initdb_args,
        pg_hba: s.string_list("pg_hba")?.unwrap_or_default(),
        post_bootstrap: match s.string("post_bootstrap")? {
            Some(p) => Some(p),
            None => s.string("post_init")?,
        },
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn postgresql_section(
    s: &Section,
    daemon: bool,
) -> Result<PostgresqlConfig, ConfigError> {
    let req = |key: &str| {
        if daemon {
            s.required_string(key)
        } else {
            Ok(s.string(key)?.unwrap_or_default())
        }
    };
    let listen = req("listen")?;
    let (listen_addresses, port) = match listen.rsplit_once(':') {
        Some((hosts, port)) => {
            let port = port.parse::<u16>().map_err(|_| {
                ConfigError::invalid("postgresql.listen", format!("invalid port in {listen:?}"))
            })?;
            (hosts.to_string(), port)
        }
        None => (listen.clone(), 5432),
    };
    let connect_address = req("connect_address")?;
    let data_dir = PathBuf::from(req("data_dir")?);
    // Absolute, as upstream makes it: `hba_file` and `ident_file` are written into
    // postgresql.conf under it, and PostgreSQL resolves a relative path against its working
    // directory at start but against the data directory on reload, so a relative path would
    // differ after every reload and show as a pending restart.
    let config_dir = s
        .string("config_dir")?
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.clone());
    let config_dir = std::path::absolute(&config_dir).unwrap_or(config_dir);
    let auth = s.section("authentication")?;
    let user = |name: &str| -> Result<Credentials, ConfigError> {
        let sec = auth.section(name)?;
        let username = if daemon {
            sec.required_string("username")?
        } else {
            sec.string("username")?.unwrap_or_default()
        };
        Ok(Credentials {
            username,
            password: sec.string("password")?,
        })
    };
    let superuser = user("superuser")?;
    let replication = user("replication")?;
    let rewind = credentials(&auth.section("rewind")?)?;
    let parameters = match s.raw("parameters") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(ConfigError::invalid(
                "postgresql.parameters",
                "postgresql.parameters is not a dictionary",
            ))
        }
    };
    let mut bin_names = Vec::new();
    if let Some(m) = s.map("bin_name")? {
        for (k, v) in m {
            bin_names.push((k.clone(), scalar(v)));
        }
    }
    let basebackup_args = tool_options(
        s,
        "basebackup",
        &[
            "pgdata",
            "format",
            "wal-method",
            "xlog-method",
            "gzip",
            "version",
            "compress",
            "dbname",
            "host",
            "port",
            "username",
            "password",
        ],
    )?;
    let pg_ctl_timeout = s.int("pg_ctl_timeout")?.unwrap_or(60);
    if pg_ctl_timeout <= 0 {
        return Err(ConfigError::invalid(
            "postgresql.pg_ctl_timeout",
            "must be a positive number of seconds",
        ));
    }
    Ok(PostgresqlConfig {
        listen_addresses,
        port,
        connect_address,
        data_dir,
        config_dir,
        bin_dir: s
            .string("bin_dir")?
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
        bin_names,
        pgpass: s.string("pgpass")?.map(PathBuf::from).unwrap_or_else(|| {
            let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
            Path::new(&home).join("pgpass")
        }),
        superuser,
        replication,
        rewind,
        parameters,
        pg_hba: s.string_list("pg_hba")?,
        use_pg_rewind: s.bool("use_pg_rewind")?,
        // Beyond what fits a u32 a timeout means "never": kept there, so arithmetic on it stays exact.
        pg_ctl_timeout: pg_ctl_timeout.min(i64::from(u32::MAX)) as u64,
        basebackup_args,
        database: s.string("database")?.unwrap_or_else(|| "postgres".into()),
        remove_data_directory_on_rewind_failure: s
            .bool("remove_data_directory_on_rewind_failure")?
            .unwrap_or(false),
        remove_data_directory_on_diverged_timelines: s
            .bool("remove_data_directory_on_diverged_timelines")?
            .unwrap_or(false),
        callbacks: callbacks(&s.section("callbacks")?)?,
        pre_promote: command(s, "pre_promote")?,
        before_stop: command(s, "before_stop")?,
    })
}

/// A command line (split as a shell would), checked now so a bad quote is an error at start
/// rather than a script that silently never runs. Empty means none.
fn command(s: &Section, key: &str) -> Result<Option<String>, ConfigError> {
    let Some(cmd) = s.string(key)?.filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    match shlex::split(&cmd) {
        Some(argv) if !argv.is_empty() => Ok(Some(cmd)),
        _ => Err(ConfigError::invalid(
            &s.key_path(key),
            format!("cannot split {cmd:?} into a command line (unbalanced quotes?)"),
        )),
    }
}

/// `postgresql.callbacks`: each event's command.
fn callbacks(s: &Section) -> Result<Vec<(CallbackAction, String)>, ConfigError> {
    let mut out = Vec::new();
    for action in CallbackAction::ALL {
        if let Some(cmd) = command(s, action.as_str())? {
            out.push((action, cmd));
        }
    }
    Ok(out)
}

pub(super) fn tags_section(s: &Section, warnings: &mut Vec<String>) -> Result<Tags, ConfigError> {
    let nofailover = s.bool("nofailover")?;
    let priority = s.int("failover_priority")?;
    if let Some(p) = priority {
        if p < 0 {
            return Err(ConfigError::invalid(
                "tags.failover_priority",
                "must be a non-negative integer",
            ));
        }
    }
    let (nofailover, failover_priority) = match (nofailover, priority) {
        (Some(nf), Some(p)) => {
            if nf == (p > 0) {
                warnings.push(format!(
                    "Conflicting configuration between nofailover: {} and failover_priority: {p}. Defaulting to nofailover: {}",
                    if nf { "True" } else { "False" },
                    if nf { "True" } else { "False" }
                ));
            }
            (nf, if nf { 0 } else { p.max(1) })
        }
        (Some(nf), None) => (nf, if nf { 0 } else { 1 }),
        (None, Some(p)) => (p <= 0, p),
        (None, None) => (false, 1),
    };
    let mut published = Map::new();
    for key in s.keys() {
        let Some(v) = s.raw(key) else { continue };
        let predefined_bool = matches!(
            key.as_str(),
            "nofailover" | "noloadbalance" | "clonefrom" | "nosync" | "nostream"
        );
        if predefined_bool && super::value::as_bool(v) == Some(false) {
            continue;
        }
        published.insert(key.clone(), v.clone());
    }
    Ok(Tags {
        nofailover,
        failover_priority,
        noloadbalance: s.bool("noloadbalance")?.unwrap_or(false),
        clonefrom: s.bool("clonefrom")?.unwrap_or(false),
        nosync: s.bool("nosync")?.unwrap_or(false),
        nostream: s.bool("nostream")?.unwrap_or(false),
        replicatefrom: s.string("replicatefrom")?,
        published,
    })
}

pub(super) fn check_binaries(pg: &PostgresqlConfig) -> Result<(), ConfigError> {
    if let Some(dir) = &pg.bin_dir {
        if !dir.is_dir() {
            return Err(ConfigError::invalid(
                "postgresql.bin_dir",
                format!("{} is not a directory", dir.display()),
            ));
        }
    }
    for program in [
        "postgres",
        "pg_ctl",
        "initdb",
        "pg_controldata",
        "pg_basebackup",
    ] {
        let path = pg.binary(program);
        let found = if path.is_absolute() || path.components().count() > 1 {
            path.is_file()
        } else {
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(&path).is_file()))
                .unwrap_or(false)
        };
        if !found {
            let key = if pg.bin_dir.is_some() {
                "postgresql.bin_dir"
            } else {
                "postgresql.bin_dir (not set)"
            };
            return Err(ConfigError::invalid(
                key,
                format!("cannot find the PostgreSQL program {} ", path.display())
                    .trim_end()
                    .to_string()
                    + if pg.bin_dir.is_some() { "" } else { " in PATH" },
            ));
        }
    }
    Ok(())
}

/// Options for a PostgreSQL tool (`bootstrap.initdb`, `postgresql.basebackup`): a list of
/// `opt` or `{opt: value}`, or a mapping, turned into `--opt` / `--opt=value`; options
/// Patroni sets itself are refused.
fn tool_options(s: &Section, key: &str, forbidden: &[&str]) -> Result<Vec<String>, ConfigError> {
    let path = s.key_path(key);
    let mut args = Vec::new();
    let push_map = |m: &Map<String, Value>, args: &mut Vec<String>| {
        for (k, v) in m {
            args.push(format!("--{k}={}", scalar(v)));
        }
    };
    match s.raw(key) {
        None => {}
        Some(Value::Object(m)) => push_map(m, &mut args),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(opt) => args.push(format!("--{opt}")),
                    Value::Object(m) => push_map(m, &mut args),
                    other => {
                        return Err(ConfigError::invalid(
                            &format!("{path}[{i}]"),
                            format!(
                                "expected an option or option: value, got {}",
                                describe(other)
                            ),
                        ))
                    }
                }
            }
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                &path,
                format!("expected a list, got {}", describe(other)),
            ))
        }
    }
    for arg in &args {
        let opt = arg.trim_start_matches('-').split('=').next().unwrap_or("");
        if forbidden.contains(&opt) {
            return Err(ConfigError::invalid(
                &path,
                format!("option {opt} is not allowed"),
            ));
        }
    }
    Ok(args)
}
