//! The typed local configuration: what one `patroni` daemon (or `patronictl`) reads from its
//! YAML and environment.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::value::{describe, Section};
use super::ConfigError;

/// DCS sections Patroni knows, in the order upstream looks for them.
pub const KNOWN_DCS: [&str; 7] = [
    "consul",
    "etcd",
    "etcd3",
    "exhibitor",
    "kubernetes",
    "raft",
    "zookeeper",
];

const KNOWN_TOP_LEVEL: &[&str] = &[
    "name",
    "scope",
    "namespace",
    "log",
    "restapi",
    "ctl",
    "bootstrap",
    "postgresql",
    "tags",
    "watchdog",
    "citus",
    "synchronous_mode",
    "synchronous_mode_strict",
    "thread_pool_size",
    "thread_stack_size",
    "standby_cluster",
    "ttl",
    "loop_wait",
    "retry_timeout",
    "maximum_lag_on_failover",
    "slots",
    "failsafe_mode",
    "member_slots_ttl",
];

/// A user name and an optional password (PostgreSQL roles, REST basic auth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password, if any.
    pub password: Option<String>,
}

/// Settings for an etcd (v2 or v3) client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `host:port` endpoints, from `host`, `hosts` or `url`.
    pub hosts: Vec<String>,
    /// `http` or `https`.
    pub protocol: String,
    /// Authentication user.
    pub username: Option<String>,
    /// Authentication password.
    pub password: Option<String>,
}

/// The DCS this node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcsSection {
    /// `etcd3:` (v3 API).
    Etcd3(EtcdConfig),
    /// `etcd:` (v2 API).
    Etcd(EtcdConfig),
    /// A section Patroni knows but this build cannot use yet (its name).
    Other(String),
}

impl DcsSection {
    /// The section name as written in YAML.
    pub fn name(&self) -> &str {
        match self {
            DcsSection::Etcd3(_) => "etcd3",
            DcsSection::Etcd(_) => "etcd",
            DcsSection::Other(n) => n,
        }
    }
}

/// `restapi:`.
#[derive(Debug, Clone, Default)]
pub struct RestApiConfig {
    /// Listen address `host:port`.
    pub listen: String,
    /// Address other members and clients use, `host:port`.
    pub connect_address: String,
    /// Basic auth for unsafe endpoints.
    pub authentication: Option<Credentials>,
}

/// `bootstrap:`.
#[derive(Debug, Clone, Default)]
pub struct BootstrapConfig {
    /// Whether the section exists: only then may this node initialise a new cluster.
    pub present: bool,
    /// `bootstrap.dcs`: the initial dynamic configuration.
    pub dcs: Value,
    /// `bootstrap.initdb` turned into `initdb` arguments.
    pub initdb_args: Vec<String>,
    /// `bootstrap.pg_hba`: lines appended to the initdb-made `pg_hba.conf`.
    pub pg_hba: Vec<String>,
    /// `bootstrap.post_bootstrap` (alias `post_init`).
    pub post_bootstrap: Option<String>,
}

/// `postgresql:` (local part).
#[derive(Debug, Clone, Default)]
pub struct PostgresqlConfig {
    /// `listen_addresses` from `postgresql.listen`.
    pub listen_addresses: String,
    /// Port from `postgresql.listen` (default 5432).
    pub port: u16,
    /// `postgresql.connect_address` (`host:port`).
    pub connect_address: String,
    /// `postgresql.data_dir`.
    pub data_dir: PathBuf,
    /// `postgresql.config_dir` (default: data_dir).
    pub config_dir: PathBuf,
    /// `postgresql.bin_dir`, if set.
    pub bin_dir: Option<PathBuf>,
    /// `postgresql.bin_name.*` overrides: (default name, configured name).
    pub bin_names: Vec<(String, String)>,
    /// `postgresql.pgpass` (default `~/pgpass`).
    pub pgpass: PathBuf,
    /// Superuser credentials.
    pub superuser: Credentials,
    /// Replication user credentials.
    pub replication: Credentials,
    /// pg_rewind user (falls back to the superuser).
    pub rewind: Option<Credentials>,
    /// Local `postgresql.parameters`.
    pub parameters: Map<String, Value>,
    /// Local `postgresql.pg_hba`.
    pub pg_hba: Option<Vec<String>>,
    /// Local `postgresql.use_pg_rewind`.
    pub use_pg_rewind: Option<bool>,
    /// `postgresql.pg_ctl_timeout` seconds (default 60).
    pub pg_ctl_timeout: u64,
    /// `postgresql.basebackup` as `pg_basebackup` arguments.
    pub basebackup_args: Vec<String>,
    /// `postgresql.database` (default `postgres`).
    pub database: String,
    /// `postgresql.remove_data_directory_on_rewind_failure`.
    pub remove_data_directory_on_rewind_failure: bool,
    /// `postgresql.remove_data_directory_on_diverged_timelines`.
    pub remove_data_directory_on_diverged_timelines: bool,
}

impl PostgresqlConfig {
    /// The path of a PostgreSQL program, honouring `bin_dir` and `bin_name`.
    pub fn binary(&self, default_name: &str) -> PathBuf {
        let name = self
            .bin_names
            .iter()
            .find(|(d, _)| d == default_name)
            .map(|(_, n)| n.as_str())
            .unwrap_or(default_name);
        match &self.bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }
}

/// `tags:`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    /// Never become leader.
    pub nofailover: bool,
    /// Tie-breaker on equal LSN (default 1); `<= 0` behaves like `nofailover`.
    pub failover_priority: i64,
    /// `GET /replica` answers 503.
    pub noloadbalance: bool,
    /// Preferred clone source.
    pub clonefrom: bool,
    /// Never a synchronous standby.
    pub nosync: bool,
    /// No streaming replication.
    pub nostream: bool,
    /// Member to cascade from.
    pub replicatefrom: Option<String>,
    /// The tags as published in the member key (false predefined booleans dropped).
    pub published: Map<String, Value>,
}

/// The whole local configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Member name.
    pub name: String,
    /// Cluster name.
    pub scope: String,
    /// DCS namespace (default `/service/`).
    pub namespace: String,
    /// `restapi:`.
    pub restapi: RestApiConfig,
    /// Credentials patronictl and members use for other members' REST APIs.
    pub ctl_authentication: Option<Credentials>,
    /// The DCS section, if any.
    pub dcs: Option<DcsSection>,
    /// `bootstrap:`.
    pub bootstrap: BootstrapConfig,
    /// `postgresql:`.
    pub postgresql: PostgresqlConfig,
    /// `tags:`.
    pub tags: Tags,
    /// `log.level` (default INFO).
    pub log_level: String,
    /// Warnings found while reading (logged by the caller).
    pub warnings: Vec<String>,
    /// The merged tree the typed fields were read from.
    pub tree: Value,
}

/// How strictly to read a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// The daemon: every required key must be there and `bin_dir` must hold PostgreSQL.
    Daemon,
    /// patronictl: only the scope, namespace, DCS and REST credentials matter.
    Ctl,
}

impl Config {
    /// Reads the typed configuration from a merged tree.
    pub fn from_tree(tree: Value, strictness: Strictness) -> Result<Config, ConfigError> {
        let root = Section::root(&tree)?;
        let daemon = strictness == Strictness::Daemon;
        let req = |s: &Section, key: &str| {
            if daemon {
                s.required_string(key)
            } else {
                Ok(s.string(key)?.unwrap_or_default())
            }
        };
        let mut warnings = Vec::new();

        let name = req(&root, "name")?;
        let scope = req(&root, "scope")?;
        let namespace = root
            .string("namespace")?
            .unwrap_or_else(|| "/service/".into());

        let restapi_s = root.section("restapi")?;
        let restapi = RestApiConfig {
            listen: req(&restapi_s, "listen")?,
            connect_address: match restapi_s.string("connect_address")? {
                Some(a) => a,
                None if daemon => {
                    return Err(ConfigError::invalid(
                        "restapi.connect_address",
                        "is required but missing",
                    ))
                }
                None => String::new(),
            },
            authentication: credentials(&restapi_s.section("authentication")?)?,
        };
        let ctl_s = root.section("ctl")?;
        let ctl_authentication = credentials(&ctl_s.section("authentication")?)?;

        let dcs = dcs_section(&root, &mut warnings)?;
        if daemon && dcs.is_none() {
            let unknown: Vec<_> = root
                .keys()
                .into_iter()
                .filter(|k| !KNOWN_TOP_LEVEL.contains(&k.as_str()))
                .cloned()
                .collect();
            let hint = if unknown.is_empty() {
                String::new()
            } else {
                format!(
                    " (unknown section{} {})",
                    if unknown.len() > 1 { "s" } else { "" },
                    unknown.join(", ")
                )
            };
            return Err(ConfigError::invalid(
                "",
                format!(
                    "no DCS section found: expected one of {}{hint}",
                    KNOWN_DCS.join(", ")
                ),
            ));
        }

        let bootstrap = bootstrap_section(&root.section("bootstrap")?)?;
        let postgresql = postgresql_section(&root.section("postgresql")?, daemon)?;
        let tags = tags_section(&root.section("tags")?, &mut warnings)?;
        let log_level = root
            .section("log")?
            .string("level")?
            .unwrap_or_else(|| "INFO".into())
            .to_ascii_uppercase();
        if !matches!(
            log_level.as_str(),
            "DEBUG" | "INFO" | "WARN" | "WARNING" | "ERROR" | "FATAL" | "CRITICAL"
        ) {
            return Err(ConfigError::invalid(
                "log.level",
                format!("unknown level {log_level:?}"),
            ));
        }
        if daemon {
            check_binaries(&postgresql)?;
            check_address("restapi.listen", &restapi.listen)?;
            check_address("restapi.connect_address", &restapi.connect_address)?;
            check_address("postgresql.connect_address", &postgresql.connect_address)?;
        }
        Ok(Config {
            name,
            scope,
            namespace,
            restapi,
            ctl_authentication,
            dcs,
            bootstrap,
            postgresql,
            tags,
            log_level,
            warnings,
            tree,
        })
    }

    /// `http://<restapi.connect_address>/patroni`, as published in the member key.
    pub fn api_url(&self) -> String {
        format!("http://{}/patroni", self.restapi.connect_address)
    }

    /// `postgres://<postgresql.connect_address>/<database>`, as published in the member key.
    pub fn conn_url(&self) -> String {
        format!(
            "postgres://{}/{}",
            self.postgresql.connect_address, self.postgresql.database
        )
    }

    /// Credentials to use against other members' REST APIs (ctl, else restapi).
    pub fn rest_client_credentials(&self) -> Option<&Credentials> {
        self.ctl_authentication
            .as_ref()
            .or(self.restapi.authentication.as_ref())
    }
}

fn credentials(s: &Section) -> Result<Option<Credentials>, ConfigError> {
    match s.string("username")? {
        Some(username) => Ok(Some(Credentials {
            username,
            password: s.string("password")?,
        })),
        None => Ok(None),
    }
}

fn check_address(key: &str, addr: &str) -> Result<(), ConfigError> {
    let port = addr.rsplit_once(':').map(|(_, p)| p);
    match port.and_then(|p| p.parse::<u16>().ok()) {
        Some(_) => Ok(()),
        None => Err(ConfigError::invalid(
            key,
            format!("expected host:port, got {addr:?}"),
        )),
    }
}

fn dcs_section(
    root: &Section,
    warnings: &mut Vec<String>,
) -> Result<Option<DcsSection>, ConfigError> {
    let present: Vec<&str> = KNOWN_DCS
        .iter()
        .copied()
        .filter(|k| root.section(k).map(|s| s.exists()).unwrap_or(true))
        .collect();
    let Some(first) = present.first().copied() else {
        return Ok(None);
    };
    if present.len() > 1 {
        warnings.push(format!(
            "several DCS sections configured ({}); using {first}",
            present.join(", ")
        ));
    }
    let s = root.section(first)?;
    match first {
        "etcd" | "etcd3" => {
            let mut hosts = Vec::new();
            let protocol = s.string("protocol")?.unwrap_or_else(|| "http".into());
            if let Some(h) = s.string_list("hosts")? {
                hosts = h;
            } else if let Some(h) = s.string("host")? {
                hosts = vec![h];
            } else if let Some(url) = s.string("url")? {
                let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
                let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
                hosts = vec![rest.trim_end_matches('/').to_string()];
            } else if let Some(p) = s.string("proxy")? {
                hosts = vec![p];
            }
            if hosts.is_empty() {
                return Err(ConfigError::invalid(
                    &root.key_path(first),
                    "one of host, hosts, url or proxy is required",
                ));
            }
            for (i, h) in hosts.iter().enumerate() {
                let h = h.split_once("://").map(|(_, r)| r).unwrap_or(h);
                if !h.contains(':') {
                    return Err(ConfigError::invalid(
                        &format!("{first}.hosts[{i}]"),
                        format!("expected host:port, got {h:?}"),
                    ));
                }
            }
            let cfg = EtcdConfig {
                hosts,
                protocol,
                username: s.string("username")?,
                password: s.string("password")?,
            };
            Ok(Some(if first == "etcd3" {
                DcsSection::Etcd3(cfg)
            } else {
                DcsSection::Etcd(cfg)
            }))
        }
        other => Ok(Some(DcsSection::Other(other.to_string()))),
    }
}

fn bootstrap_section(s: &Section) -> Result<BootstrapConfig, ConfigError> {
    let mut initdb_args = Vec::new();
    match s.raw("initdb") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(opt) => initdb_args.push(format!("--{opt}")),
                    Value::Object(m) => {
                        for (k, v) in m {
                            initdb_args.push(format!("--{k}={}", scalar(v)));
                        }
                    }
                    other => {
                        return Err(ConfigError::invalid(
                            &format!("bootstrap.initdb[{i}]"),
                            format!(
                                "expected an option or option: value, got {}",
                                describe(other)
                            ),
                        ))
                    }
                }
            }
        }
        Some(Value::Object(m)) => {
            for (k, v) in m {
                initdb_args.push(format!("--{k}={}", scalar(v)));
            }
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                "bootstrap.initdb",
                format!("expected a list, got {}", describe(other)),
            ))
        }
    }
    for arg in &initdb_args {
        let opt = arg.trim_start_matches('-').split('=').next().unwrap_or("");
        if matches!(
            opt,
            "pgdata" | "nosync" | "pwfile" | "sync-only" | "version"
        ) {
            return Err(ConfigError::invalid(
                "bootstrap.initdb",
                format!("option {opt} is not allowed"),
            ));
        }
    }
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

fn postgresql_section(s: &Section, daemon: bool) -> Result<PostgresqlConfig, ConfigError> {
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
    let config_dir = s
        .string("config_dir")?
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.clone());
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
    let mut basebackup_args = Vec::new();
    match s.raw("basebackup") {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                basebackup_args.push(format!("--{k}={}", scalar(v)));
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(opt) => basebackup_args.push(format!("--{opt}")),
                    Value::Object(m) => {
                        for (k, v) in m {
                            basebackup_args.push(format!("--{k}={}", scalar(v)));
                        }
                    }
                    other => {
                        return Err(ConfigError::invalid(
                            "postgresql.basebackup",
                            format!("unexpected {}", describe(other)),
                        ))
                    }
                }
            }
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                "postgresql.basebackup",
                format!("unexpected {}", describe(other)),
            ))
        }
    }
    for arg in &basebackup_args {
        let opt = arg.trim_start_matches('-').split('=').next().unwrap_or("");
        if matches!(
            opt,
            "pgdata"
                | "format"
                | "wal-method"
                | "xlog-method"
                | "gzip"
                | "version"
                | "compress"
                | "dbname"
                | "host"
                | "port"
                | "username"
                | "password"
        ) {
            return Err(ConfigError::invalid(
                "postgresql.basebackup",
                format!("option {opt} is not allowed"),
            ));
        }
    }
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
        pg_ctl_timeout: pg_ctl_timeout as u64,
        basebackup_args,
        database: s.string("database")?.unwrap_or_else(|| "postgres".into()),
        remove_data_directory_on_rewind_failure: s
            .bool("remove_data_directory_on_rewind_failure")?
            .unwrap_or(false),
        remove_data_directory_on_diverged_timelines: s
            .bool("remove_data_directory_on_diverged_timelines")?
            .unwrap_or(false),
    })
}

fn tags_section(s: &Section, warnings: &mut Vec<String>) -> Result<Tags, ConfigError> {
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

fn check_binaries(pg: &PostgresqlConfig) -> Result<(), ConfigError> {
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
