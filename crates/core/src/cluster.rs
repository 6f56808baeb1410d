//! The cluster as read from the DCS: Patroni's keys parsed into typed values.
//!
//! Every backend returns the raw keys under the cluster prefix as [`KeyValue`]s and
//! [`Cluster::from_keys`] does the parsing, so all backends tolerate the same garbage the same
//! way: as in upstream, an unparsable value is treated as empty.

use serde_json::{Map, Value};

/// One key under the cluster prefix, as a backend read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Key relative to the cluster prefix: `leader`, `members/pg1`, ...
    pub key: String,
    /// The stored value.
    pub value: String,
    /// The backend's modification counter (etcd mod_revision, ZooKeeper version...): what CAS compares.
    pub version: i64,
    /// The lease / session the key is bound to, if ephemeral.
    pub session: Option<String>,
}

/// A member key (`members/<name>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Member name.
    pub name: String,
    /// Modification counter of the key.
    pub version: i64,
    /// Lease / session the key is bound to.
    pub session: Option<String>,
    /// The JSON object as stored.
    pub data: Map<String, Value>,
}

impl Member {
    /// Parses a member value; the legacy `postgres://...?application_name=<api_url>` form is accepted.
    pub fn parse(name: &str, value: &str, version: i64, session: Option<String>) -> Member {
        let data = match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(m)) => m,
            _ if value.starts_with("postgres") => {
                let mut m = Map::new();
                let (url, query) = value.split_once('?').unwrap_or((value, ""));
                m.insert("conn_url".into(), Value::String(url.to_string()));
                for pair in query.split('&') {
                    if let Some(api) = pair.strip_prefix("application_name=") {
                        m.insert("api_url".into(), Value::String(api.to_string()));
                    }
                }
                m
            }
            _ => Map::new(),
        };
        Member {
            name: name.to_string(),
            version,
            session,
            data,
        }
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    fn u64_field(&self, key: &str) -> Option<u64> {
        self.data.get(key).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    }

    /// `conn_url`.
    pub fn conn_url(&self) -> Option<&str> {
        self.str_field("conn_url")
    }

    /// `api_url`.
    pub fn api_url(&self) -> Option<&str> {
        self.str_field("api_url")
    }

    /// The URL of another endpoint of this member's REST API (`/restart`, `/config`, ...),
    /// built by replacing the path of `api_url`, as Patroni does.
    pub fn endpoint(&self, path: &str) -> Option<String> {
        let api = self.api_url()?;
        let scheme_end = api.find("://").map(|i| i + 3).unwrap_or(0);
        let base = match api[scheme_end..].find('/') {
            Some(i) => &api[..scheme_end + i],
            None => api,
        };
        Some(format!("{base}{path}"))
    }

    /// PostgreSQL state (`running`, `stopped`, ...).
    pub fn state(&self) -> &str {
        self.str_field("state").unwrap_or("")
    }

    /// Role as written (`primary`, `master`, `replica`, ...).
    pub fn role(&self) -> &str {
        self.str_field("role").unwrap_or("")
    }

    /// Whether the role says primary (`master` is accepted from 3.x nodes).
    pub fn is_primary_role(&self) -> bool {
        matches!(self.role(), "primary" | "master")
    }

    /// `xlog_location`.
    pub fn xlog_location(&self) -> Option<u64> {
        self.u64_field("xlog_location")
    }

    /// `receive_lsn` (4.1+).
    pub fn receive_lsn(&self) -> Option<u64> {
        self.u64_field("receive_lsn")
    }

    /// `replay_lsn` (4.1+).
    pub fn replay_lsn(&self) -> Option<u64> {
        self.u64_field("replay_lsn")
    }

    /// `timeline`; a value PostgreSQL cannot have (past 32 bits) reads as absent.
    pub fn timeline(&self) -> Option<u64> {
        self.u64_field("timeline").filter(|t| valid_timeline(*t))
    }

    /// `replication_state` (`streaming`, `in archive recovery`).
    pub fn replication_state(&self) -> Option<&str> {
        self.str_field("replication_state")
    }

    /// Published tags.
    pub fn tags(&self) -> Map<String, Value> {
        self.data
            .get("tags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the member may never become leader (`nofailover`, or `failover_priority <= 0`).
    pub fn nofailover(&self) -> bool {
        let tags = self.tags();
        match tags
            .get("nofailover")
            .and_then(crate::config::value::as_bool)
        {
            Some(v) => v,
            None => tags
                .get("failover_priority")
                .and_then(crate::config::value::as_int)
                .is_some_and(|p| p <= 0),
        }
    }

    /// `host` and `port` of `conn_url`.
    pub fn host_port(&self) -> Option<(String, u16)> {
        let url = self.conn_url()?;
        let rest = url.split_once("://").map(|(_, r)| r)?;
        let hostport = rest.split('/').next()?;
        let hostport = hostport
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(hostport);
        if let Some(stripped) = hostport.strip_prefix('[') {
            let (host, rest) = stripped.split_once(']')?;
            let port = rest
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432);
            return Some((host.to_string(), port));
        }
        match hostport.rsplit_once(':') {
            Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
            None => Some((hostport.to_string(), 5432)),
        }
    }
}

/// The `leader` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// Name of the holder.
    pub name: String,
    /// Modification counter.
    pub version: i64,
    /// Lease / session the key is bound to.
    pub session: Option<String>,
}

/// The `failover` key: a pending switchover or manual failover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failover {
    /// Modification counter.
    pub version: i64,
    /// The leader to switch over from.
    pub leader: Option<String>,
    /// The candidate (`member`).
    pub candidate: Option<String>,
    /// When, for a scheduled switchover.
    pub scheduled_at: Option<String>,
}

impl Failover {
    /// Parses the key; `a:b` is the legacy form. `None` when it asks for nothing.
    pub fn parse(value: &str, version: i64) -> Option<Failover> {
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let f = match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(m)) => Failover {
                version,
                leader: m.get("leader").and_then(text),
                candidate: m.get("member").and_then(text),
                scheduled_at: m.get("scheduled_at").and_then(text),
            },
            _ => {
                let (l, c) = value.split_once(':')?;
                Failover {
                    version,
                    leader: Some(l.to_string()).filter(|s| !s.is_empty()),
                    candidate: Some(c.to_string()).filter(|s| !s.is_empty()),
                    scheduled_at: None,
                }
            }
        };
        (f.leader.is_some() || f.candidate.is_some()).then_some(f)
    }
}

/// The `config` key.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Modification counter, for CAS writes.
    pub version: i64,
    /// The JSON object (empty object when unparsable).
    pub data: Value,
    /// Whether the stored value was a valid JSON object.
    pub valid: bool,
}

/// The `status` key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    /// The leader's last published WAL position.
    pub last_lsn: u64,
    /// Slot positions.
    pub slots: Map<String, Value>,
    /// `retain_slots` (4.x).
    pub retain_slots: Vec<String>,
}

impl Status {
    /// Parses `{"optime":..,"slots":{..}}` or the legacy bare integer.
    pub fn parse(value: &str) -> Status {
        match serde_json::from_str::<Value>(value) {
            Ok(Value::Object(m)) => Status {
                last_lsn: m.get("optime").and_then(Value::as_u64).unwrap_or(0),
                slots: match m.get("slots") {
                    Some(Value::Object(s)) => s.clone(),
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
                    _ => Map::new(),
                },
                retain_slots: m
                    .get("retain_slots")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            Ok(Value::Number(n)) => Status {
                last_lsn: n.as_u64().unwrap_or(0),
                ..Default::default()
            },
            _ => Status::default(),
        }
    }
}

/// The `history` key: `[[timeline, lsn, reason, timestamp, new_leader], ...]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// Modification counter.
    pub version: i64,
    /// The entries as stored.
    pub lines: Vec<Value>,
    /// Whether the value was a valid JSON list.
    pub valid: bool,
}

impl History {
    /// The switch LSN recorded for `timeline` (where that timeline ended), if any.
    pub fn switch_lsn(&self, timeline: u64) -> Option<u64> {
        self.lines.iter().find_map(|line| {
            let arr = line.as_array()?;
            (arr.first()?.as_u64()? == timeline)
                .then(|| arr.get(1)?.as_u64())
                .flatten()
        })
    }
}

/// Everything under the cluster prefix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cluster {
    /// `initialize`: the system identifier; `Some("")` while the bootstrap winner runs initdb.
    pub initialize: Option<String>,
    /// `config`.
    pub config: Option<ClusterConfig>,
    /// `leader`.
    pub leader: Option<Leader>,
    /// `status` (or the legacy `optime/leader`).
    pub status: Status,
    /// `members/*`, sorted by name.
    pub members: Vec<Member>,
    /// `failover`.
    pub failover: Option<Failover>,
    /// `sync` as raw JSON.
    pub sync: Option<Value>,
    /// `history`.
    pub history: Option<History>,
}

impl Cluster {
    /// Builds the cluster view from the raw keys of one read.
    pub fn from_keys(keys: &[KeyValue]) -> Cluster {
        let mut c = Cluster::default();
        let mut legacy_optime = None;
        let mut have_status = false;
        for kv in keys {
            match kv.key.as_str() {
                "initialize" => c.initialize = Some(kv.value.clone()),
                "config" => {
                    let parsed = serde_json::from_str::<Value>(&kv.value)
                        .ok()
                        .filter(Value::is_object);
                    c.config = Some(ClusterConfig {
                        version: kv.version,
                        valid: parsed.is_some(),
                        data: parsed.unwrap_or_else(|| Value::Object(Map::new())),
                    });
                }
                "leader" => {
                    if !kv.value.is_empty() {
                        c.leader = Some(Leader {
                            name: kv.value.clone(),
                            version: kv.version,
                            session: kv.session.clone(),
                        });
                    }
                }
                "status" => {
                    c.status = Status::parse(&kv.value);
                    have_status = true;
                }
                "optime/leader" => legacy_optime = kv.value.trim().parse::<u64>().ok(),
                "failover" => c.failover = Failover::parse(&kv.value, kv.version),
                "sync" => c.sync = serde_json::from_str(&kv.value).ok(),
                "history" => {
                    let parsed = serde_json::from_str::<Value>(&kv.value).ok();
                    c.history = Some(match parsed {
                        Some(Value::Array(lines)) => History {
                            version: kv.version,
                            lines,
                            valid: true,
                        },
                        _ => History {
                            version: kv.version,
                            lines: Vec::new(),
                            valid: false,
                        },
                    });
                }
                key => {
                    if let Some(name) = key.strip_prefix("members/") {
                        if !name.is_empty() && !name.contains('/') {
                            c.members.push(Member::parse(
                                name,
                                &kv.value,
                                kv.version,
                                kv.session.clone(),
                            ));
                        }
                    }
                }
            }
        }
        if !have_status {
            if let Some(lsn) = legacy_optime {
                c.status.last_lsn = lsn;
            }
        }
        c.members.sort_by(|a, b| a.name.cmp(&b.name));
        c
    }

    /// No leader key (or an empty one).
    pub fn is_unlocked(&self) -> bool {
        self.leader.as_ref().is_none_or(|l| l.name.is_empty())
    }

    /// Name of the lock holder.
    pub fn leader_name(&self) -> Option<&str> {
        self.leader
            .as_ref()
            .map(|l| l.name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// The member key of `name`.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The lock holder's member key.
    pub fn leader_member(&self) -> Option<&Member> {
        self.leader_name().and_then(|n| self.member(n))
    }

    /// Members with a REST API, the leader first: the order to try them in for a request any
    /// member can serve (patronictl pause, flush).
    pub fn members_leader_first(&self) -> Vec<&Member> {
        let mut members: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.api_url().is_some())
            .collect();
        members.sort_by_key(|m| Some(m.name.as_str()) != self.leader_name());
        members
    }

    /// A valid system identifier in `initialize` (Patroni requires at least 10 digits).
    pub fn system_id(&self) -> Option<&str> {
        self.initialize
            .as_deref()
            .filter(|s| s.len() >= 10 && s.chars().all(|c| c.is_ascii_digit()))
    }

    /// The cluster timeline from `/history`: last entry + 1, `1` for `[]`, `0` when unknown.
    pub fn timeline(&self) -> u64 {
        match &self.history {
            Some(h) if h.valid => match h.lines.last() {
                None => 1,
                // The next timeline must exist too, so the last one is below the maximum.
                Some(line) => line
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_u64)
                    .filter(|t| *t < MAX_TIMELINE)
                    .map_or(0, |t| t + 1),
            },
            _ => 0,
        }
    }

    /// The dynamic configuration stored in `/config`, if valid.
    pub fn config_data(&self) -> Option<&Value> {
        self.config.as_ref().filter(|c| c.valid).map(|c| &c.data)
    }
}

/// PostgreSQL's timeline IDs are 32-bit; anything larger in the DCS or an answer is garbage.
pub const MAX_TIMELINE: u64 = u32::MAX as u64;

/// Whether `t` can be a PostgreSQL timeline (1 to 2^32 - 1).
pub fn valid_timeline(t: u64) -> bool {
    (1..=MAX_TIMELINE).contains(&t)
}

/// The replication slot name Patroni derives from a member name. The primary and its replicas
/// each derive it on their own, and either may be upstream Patroni: the rule must be upstream's.
pub fn slot_name_from_member_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' | '_' => out.push(c),
            '-' | '.' => out.push('_'),
            other => out.push_str(&format!("u{:04}", other as u32)),
        }
    }
    out.chars().take(63).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
            version: 7,
            session: None,
        }
    }

    #[test]
    fn parses_a_4x_cluster() {
        let c = Cluster::from_keys(&[
            kv("initialize", "7711457749166068220"),
            kv("leader", "pg2"),
            kv(
                "members/pg2",
                r#"{"conn_url":"postgres://127.0.0.1:15433/postgres","api_url":"http://127.0.0.1:18009/patroni","state":"running","role":"primary","version":"4.1.4","xlog_location":67139592,"timeline":1}"#,
            ),
            kv(
                "members/pg1",
                r#"{"conn_url":"postgres://127.0.0.1:15432/postgres","state":"running","role":"replica","xlog_location":67139592,"replication_state":"streaming","timeline":1}"#,
            ),
            kv("members/pg1/extra", "ignored"),
            kv(
                "status",
                r#"{"optime":67139592,"slots":{"pg1":67139592},"retain_slots":["pg1","pg2"]}"#,
            ),
            kv("failover", "{}"),
            kv("config", "not json"),
            kv("history", "[]"),
        ]);
        assert_eq!(c.leader_name(), Some("pg2"));
        assert_eq!(c.members.len(), 2);
        assert_eq!(c.members[0].name, "pg1");
        assert!(c.leader_member().unwrap().is_primary_role());
        assert_eq!(c.status.last_lsn, 67139592);
        assert_eq!(c.failover, None);
        assert_eq!(c.config_data(), None);
        assert_eq!(c.timeline(), 1);
        assert_eq!(c.system_id(), Some("7711457749166068220"));
        assert_eq!(
            c.member("pg1").unwrap().host_port(),
            Some(("127.0.0.1".into(), 15432))
        );
    }

    #[test]
    fn history_gives_the_cluster_timeline() {
        let c = Cluster::from_keys(&[kv(
            "history",
            r#"[[1,67139944,"no recovery target specified","2026-11-23T19:55:21+00:00","pg1"]]"#,
        )]);
        assert_eq!(c.timeline(), 2);
        assert_eq!(c.history.as_ref().unwrap().switch_lsn(1), Some(67139944));
        assert_eq!(Cluster::default().timeline(), 0);
    }

    #[test]
    fn legacy_values() {
        let f = Failover::parse("pg1:pg2", 3).unwrap();
        assert_eq!(
            (f.leader.as_deref(), f.candidate.as_deref()),
            (Some("pg1"), Some("pg2"))
        );
        let m = Member::parse(
            "a",
            "postgres://h:5432/postgres?application_name=http://h:8008/patroni",
            1,
            None,
        );
        assert_eq!(m.api_url(), Some("http://h:8008/patroni"));
        assert_eq!(Status::parse("12345").last_lsn, 12345);
    }

    #[test]
    fn slot_names() {
        assert_eq!(slot_name_from_member_name("postgres-0"), "postgres_0");
        assert_eq!(slot_name_from_member_name("Node.A"), "node_a");
        assert_eq!(slot_name_from_member_name("a b"), "au0032b");
    }
}

#[cfg(test)]
mod garbage_tests;
