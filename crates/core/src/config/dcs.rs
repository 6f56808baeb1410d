//! The DCS sections of the local configuration (docs/dcs.md): which store a node
//! uses and how to reach it. Exactly one is used, the first found in Patroni's order.

use super::value::Section;
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

/// Settings for a ZooKeeper client (`zookeeper:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZooKeeperConfig {
    /// `host:port` servers (port 2181 when left out).
    pub hosts: Vec<String>,
    /// `use_ssl`: connect with TLS.
    pub use_ssl: bool,
    /// `auth_data`: scheme → credential pairs sent after connecting.
    pub auth_data: Vec<(String, String)>,
}

/// Settings for Exhibitor (`exhibitor:`): ZooKeeper with its server list read over HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExhibitorConfig {
    /// Exhibitor hosts (no port).
    pub hosts: Vec<String>,
    /// Exhibitor's HTTP port.
    pub port: u16,
    /// Seconds between two reads of the server list.
    pub poll_interval: u64,
}

/// The DCS this node uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DcsSection {
    /// `etcd3:` (v3 API).
    Etcd3(EtcdConfig),
    /// `etcd:` (v2 API).
    Etcd(EtcdConfig),
    /// `zookeeper:`.
    ZooKeeper(ZooKeeperConfig),
    /// `exhibitor:` (or the legacy `zookeeper.exhibitor`).
    Exhibitor(ExhibitorConfig),
    /// A section Patroni knows but this build cannot use yet (its name).
    Other(String),
}

impl DcsSection {
    /// The section name as written in YAML.
    pub fn name(&self) -> &str {
        match self {
            DcsSection::Etcd3(_) => "etcd3",
            DcsSection::Etcd(_) => "etcd",
            DcsSection::ZooKeeper(_) => "zookeeper",
            DcsSection::Exhibitor(_) => "exhibitor",
            DcsSection::Other(n) => n,
        }
    }
}

pub(super) fn dcs_section(
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
            let cfg = etcd_section(root, first, &s)?;
            Ok(Some(if first == "etcd3" {
                DcsSection::Etcd3(cfg)
            } else {
                DcsSection::Etcd(cfg)
            }))
        }
        // Patroni moves the old `zookeeper.exhibitor` to `exhibitor`: both spellings mean the
        // same servers.
        "zookeeper" if s.has("exhibitor") => {
            exhibitor_section(&s.section("exhibitor")?).map(|c| Some(DcsSection::Exhibitor(c)))
        }
        "zookeeper" => zookeeper_section(&s).map(|c| Some(DcsSection::ZooKeeper(c))),
        "exhibitor" => exhibitor_section(&s).map(|c| Some(DcsSection::Exhibitor(c))),
        other => Ok(Some(DcsSection::Other(other.to_string()))),
    }
}

fn etcd_section(root: &Section, first: &str, s: &Section) -> Result<EtcdConfig, ConfigError> {
    let protocol = s.string("protocol")?.unwrap_or_else(|| "http".into());
    let mut hosts = Vec::new();
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
        let message = if s.has("srv") {
            "srv discovery is not supported by patroni-rs: give host, hosts or url"
        } else {
            "one of host, hosts, url or proxy is required"
        };
        return Err(ConfigError::invalid(&root.key_path(first), message));
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
    Ok(EtcdConfig {
        hosts,
        protocol,
        username: s.string("username")?,
        password: s.string("password")?,
    })
}

fn zookeeper_section(s: &Section) -> Result<ZooKeeperConfig, ConfigError> {
    let hosts = s.string_list("hosts")?.unwrap_or_default();
    if hosts.is_empty() {
        return Err(ConfigError::invalid(&s.key_path("hosts"), "is required"));
    }
    for (i, h) in hosts.iter().enumerate() {
        if let Some((_, port)) = h.rsplit_once(':') {
            if port.parse::<u16>().is_err() {
                return Err(ConfigError::invalid(
                    &format!("{}[{i}]", s.key_path("hosts")),
                    format!("expected host or host:port, got {h:?}"),
                ));
            }
        }
    }
    // `PATRONI_ZOOKEEPER_USE_SSL` stays a string in Patroni: read it as a boolean either way.
    let use_ssl = match s.raw("use_ssl") {
        None => false,
        Some(v) => super::value::as_bool(v)
            .ok_or_else(|| ConfigError::invalid(&s.key_path("use_ssl"), "expected a boolean"))?,
    };
    let auth_data = match s.map("auth_data")? {
        None => Vec::new(),
        Some(map) => map
            .iter()
            .map(|(scheme, v)| match v.as_str() {
                Some(cred) => Ok((scheme.clone(), cred.to_string())),
                None => Err(ConfigError::invalid(
                    &format!("{}.{scheme}", s.key_path("auth_data")),
                    "expected a string",
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(ZooKeeperConfig {
        hosts,
        use_ssl,
        auth_data,
    })
}

fn exhibitor_section(s: &Section) -> Result<ExhibitorConfig, ConfigError> {
    let hosts = s.string_list("hosts")?.unwrap_or_default();
    if hosts.is_empty() {
        return Err(ConfigError::invalid(&s.key_path("hosts"), "is required"));
    }
    let port = match s.int("port")? {
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| ConfigError::invalid(&s.key_path("port"), "expected a port number"))?,
        None => return Err(ConfigError::invalid(&s.key_path("port"), "is required")),
    };
    let poll_interval = match s.int("poll_interval")? {
        Some(p) if p > 0 => p as u64,
        Some(_) => {
            return Err(ConfigError::invalid(
                &s.key_path("poll_interval"),
                "must be positive",
            ))
        }
        None => 300,
    };
    Ok(ExhibitorConfig {
        hosts,
        port,
        poll_interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Option<DcsSection>, ConfigError> {
        let root = Section::root(&v)?;
        dcs_section(&root, &mut Vec::new())
    }

    #[test]
    fn zookeeper_hosts_from_a_list_or_a_comma_string() {
        let want = DcsSection::ZooKeeper(ZooKeeperConfig {
            hosts: vec!["a:2181".into(), "b".into()],
            ..Default::default()
        });
        let list = parse(json!({"zookeeper": {"hosts": ["a:2181", "b"]}}));
        assert_eq!(list.ok().flatten(), Some(want.clone()));
        let comma = parse(json!({"zookeeper": {"hosts": "a:2181, b"}}));
        assert_eq!(comma.ok().flatten(), Some(want));
    }

    #[test]
    fn bad_zookeeper_values_name_their_key() {
        let missing = parse(json!({"zookeeper": {"use_ssl": false}}));
        assert_eq!(
            missing.err().map(|e| e.to_string()).as_deref(),
            Some("zookeeper.hosts: is required")
        );
        let port = parse(json!({"zookeeper": {"hosts": ["a:x"]}}));
        assert!(port
            .err()
            .is_some_and(|e| e.to_string().starts_with("zookeeper.hosts[0]:")));
        let ssl = parse(json!({"zookeeper": {"hosts": ["a"], "use_ssl": "maybe"}}));
        assert!(ssl
            .err()
            .is_some_and(|e| e.to_string().starts_with("zookeeper.use_ssl:")));
    }

    #[test]
    fn exhibitor_alone_or_under_zookeeper() {
        let want = DcsSection::Exhibitor(ExhibitorConfig {
            hosts: vec!["e1".into(), "e2".into()],
            port: 8181,
            poll_interval: 300,
        });
        let alone = parse(json!({"exhibitor": {"hosts": ["e1", "e2"], "port": 8181}}));
        assert_eq!(alone.ok().flatten(), Some(want.clone()));
        let legacy = parse(json!({"zookeeper": {"exhibitor": {"hosts": "e1,e2", "port": 8181}}}));
        assert_eq!(legacy.ok().flatten(), Some(want));
        let no_port = parse(json!({"exhibitor": {"hosts": ["e1"]}}));
        assert_eq!(
            no_port.err().map(|e| e.to_string()).as_deref(),
            Some("exhibitor.port: is required")
        );
    }

    #[test]
    fn etcd_v2_section_reads_like_etcd3() {
        let v2 = parse(json!({"etcd": {"host": "127.0.0.1:2379"}}));
        assert_eq!(
            v2.ok().flatten(),
            Some(DcsSection::Etcd(EtcdConfig {
                hosts: vec!["127.0.0.1:2379".into()],
                protocol: "http".into(),
                ..Default::default()
            }))
        );
        let srv = parse(json!({"etcd": {"srv": "example.com"}}));
        assert!(srv.err().is_some_and(|e| e.to_string().contains("srv")));
    }
}
