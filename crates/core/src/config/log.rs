//! `log:`, read into what the daemon's logger needs (docs/logging.md): plain or JSON lines in a
//! Python `%(field)s` format, a date format, static fields, a rotated file in `log.dir`, and
//! per-module levels.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::value::{describe, Section};
use super::ConfigError;

/// Upstream's default line format.
pub const DEFAULT_FORMAT: &str = "%(asctime)s %(levelname)s: %(message)s";

/// Plain text or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogType {
    /// `plain`.
    #[default]
    Plain,
    /// `json`.
    Json,
}

/// One field of a JSON log line: the record attribute and the name it is written under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonField {
    /// The record attribute (`asctime`, `levelname`, `message`...).
    pub attribute: String,
    /// The key in the JSON object (the attribute unless renamed).
    pub key: String,
}

/// `log.format`: a format string, or (JSON only) a list of fields, some renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// `%(asctime)s %(levelname)s: %(message)s`.
    Percent(String),
    /// `[message, {levelname: level}]`.
    Fields(Vec<JsonField>),
}

impl Default for LogFormat {
    fn default() -> Self {
        LogFormat::Percent(DEFAULT_FORMAT.into())
    }
}

/// Log levels as Patroni names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    #[default]
    Info,
    /// `WARNING` (or `WARN`).
    Warning,
    /// `ERROR`.
    Error,
    /// `CRITICAL` (or `FATAL`).
    Critical,
}

impl LogLevel {
    /// Reads a level name as Python's logging does (upper-cased).
    pub fn parse(text: &str) -> Option<LogLevel> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DEBUG" | "NOTSET" => Some(LogLevel::Debug),
            "INFO" => Some(LogLevel::Info),
            "WARN" | "WARNING" => Some(LogLevel::Warning),
            "ERROR" => Some(LogLevel::Error),
            "FATAL" | "CRITICAL" => Some(LogLevel::Critical),
            _ => None,
        }
    }
}

/// The `log:` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogConfig {
    /// `log.level`.
    pub level: LogLevel,
    /// `log.type`.
    pub kind: LogType,
    /// `log.format`.
    pub format: LogFormat,
    /// `log.dateformat`: a strftime format for `asctime` (Python's default when absent).
    pub dateformat: Option<String>,
    /// `log.static_fields`: added to every JSON line.
    pub static_fields: Map<String, Value>,
    /// `log.dir`: write `<dir>/patroni.log`, rotated, instead of stderr.
    pub dir: Option<PathBuf>,
    /// `log.file_num`: rotated files kept (default 4).
    pub file_num: usize,
    /// `log.file_size`: bytes after which the file is rotated (default 25000000).
    pub file_size: usize,
    /// `log.mode`: permissions of the log files (default: as the umask leaves them).
    pub mode: Option<u32>,
    /// `log.loggers`: module → level.
    pub loggers: Vec<(String, LogLevel)>,
    /// `log.deduplicate_heartbeat_logs`.
    pub deduplicate_heartbeat_logs: bool,
}

fn level_of(key: &str, text: &str) -> Result<LogLevel, ConfigError> {
    LogLevel::parse(text)
        .ok_or_else(|| ConfigError::invalid(key, format!("unknown level {text:?}")))
}

fn json_fields(s: &Section, items: &[Value]) -> Result<Vec<JsonField>, ConfigError> {
    let key = s.key_path("format");
    let mut fields = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(name) => fields.push(JsonField {
                attribute: name.clone(),
                key: name.clone(),
            }),
            Value::Object(renames) => {
                for (attribute, renamed) in renames {
                    let Value::String(renamed) = renamed else {
                        return Err(ConfigError::invalid(
                            &format!("{key}[{i}].{attribute}"),
                            format!("expected the new field name, got {}", describe(renamed)),
                        ));
                    };
                    fields.push(JsonField {
                        attribute: attribute.clone(),
                        key: renamed.clone(),
                    });
                }
            }
            other => {
                return Err(ConfigError::invalid(
                    &format!("{key}[{i}]"),
                    format!(
                        "expected a field name or {{field: new name}}, got {}",
                        describe(other)
                    ),
                ))
            }
        }
    }
    Ok(fields)
}

/// File permissions as upstream's YAML (1.1) reads them: `0640` is octal there. Our YAML
/// parser (1.2) reads a leading zero as a float, so an integral float is read as octal
/// digits; `0o640` and a plain number (`416`) are taken as they are; a string with a leading
/// `0` or `0o` (an environment variable) as octal.
fn file_mode(v: &Value) -> Option<u32> {
    let octal = |digits: &str| u32::from_str_radix(digits, 8).ok();
    let mode = match v {
        Value::Number(n) => match n.as_u64() {
            Some(m) => u32::try_from(m).ok(),
            None => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e9)
                .and_then(|f| octal(&(f as u64).to_string())),
        },
        Value::String(t) => {
            let t = t.trim();
            match t.strip_prefix("0o").or_else(|| t.strip_prefix('0')) {
                Some("") => Some(0),
                Some(digits) => octal(digits),
                None => t.parse().ok(),
            }
        }
        _ => None,
    };
    mode.filter(|m| *m <= 0o777)
}

/// `log.dateformat`, checked now: a directive the formatter does not know would fail every
/// log line later.
fn dateformat(s: &Section) -> Result<Option<String>, ConfigError> {
    let Some(format) = s.string("dateformat")? else {
        return Ok(None);
    };
    let bad = chrono::format::StrftimeItems::new(&format)
        .any(|item| matches!(item, chrono::format::Item::Error));
    if bad {
        return Err(ConfigError::invalid(
            &s.key_path("dateformat"),
            format!("{format:?} has a directive strftime does not know"),
        ));
    }
    Ok(Some(format))
}

fn positive(s: &Section, key: &str, default: usize) -> Result<usize, ConfigError> {
    match s.int(key)? {
        None => Ok(default),
        Some(n) if n > 0 => {
            usize::try_from(n).map_err(|_| ConfigError::invalid(&s.key_path(key), "is too large"))
        }
        Some(n) => Err(ConfigError::invalid(
            &s.key_path(key),
            format!("must be positive, got {n}"),
        )),
    }
}

/// Reads `log:`.
pub fn log_section(s: &Section) -> Result<LogConfig, ConfigError> {
    let level = match s.string("level")? {
        Some(l) => level_of(&s.key_path("level"), &l)?,
        None => LogLevel::Info,
    };
    let kind = match s.string("type")?.as_deref().map(str::to_ascii_lowercase) {
        None => LogType::Plain,
        Some(t) if t == "plain" => LogType::Plain,
        Some(t) if t == "json" => LogType::Json,
        Some(t) => {
            return Err(ConfigError::invalid(
                &s.key_path("type"),
                format!("expected plain or json, got {t:?}"),
            ))
        }
    };
    let format = match s.raw("format") {
        None | Some(Value::Null) => LogFormat::default(),
        Some(Value::String(f)) => LogFormat::Percent(f.clone()),
        Some(Value::Array(items)) if kind == LogType::Json => {
            LogFormat::Fields(json_fields(s, items)?)
        }
        Some(Value::Array(_)) => {
            return Err(ConfigError::invalid(
                &s.key_path("format"),
                "a list of fields needs log.type: json",
            ))
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                &s.key_path("format"),
                format!("expected a format string, got {}", describe(other)),
            ))
        }
    };
    let mode = match s.raw("mode") {
        None | Some(Value::Null) => None,
        Some(v) => Some(file_mode(v).ok_or_else(|| {
            ConfigError::invalid(
                &s.key_path("mode"),
                format!(
                    "expected file permissions such as 0640, got {}",
                    describe(v)
                ),
            )
        })?),
    };
    let mut loggers = Vec::new();
    for (module, level) in s.map("loggers")?.into_iter().flatten() {
        let key = format!("{}.{module}", s.key_path("loggers"));
        let Value::String(level) = level else {
            return Err(ConfigError::invalid(
                &key,
                format!("expected a level, got {}", describe(level)),
            ));
        };
        loggers.push((module.clone(), level_of(&key, level)?));
    }
    Ok(LogConfig {
        level,
        kind,
        format,
        dateformat: dateformat(s)?,
        static_fields: s.map("static_fields")?.cloned().unwrap_or_default(),
        dir: s.string("dir")?.map(PathBuf::from),
        file_num: positive(s, "file_num", 4)?,
        file_size: positive(s, "file_size", 25_000_000)?,
        mode,
        loggers,
        deduplicate_heartbeat_logs: s.bool("deduplicate_heartbeat_logs")?.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<LogConfig, ConfigError> {
        let tree = crate::config::parse_yaml(yaml, "test").expect("yaml");
        let root = Section::root(&tree).expect("root");
        log_section(&root.section("log").expect("log"))
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = read("log: {}").expect("valid");
        assert_eq!(c.kind, LogType::Plain);
        assert_eq!(c.format, LogFormat::Percent(DEFAULT_FORMAT.into()));
        assert_eq!((c.file_num, c.file_size), (4, 25_000_000));
        assert_eq!(c.level, LogLevel::Info);
    }

    #[test]
    fn json_fields_with_renames() {
        let c = read(
            "log: {type: json, format: [message, {levelname: level, asctime: '@timestamp'}], \
             static_fields: {app: patroni}, mode: 0o640, loggers: {patroni.ha: DEBUG}, dir: /var/log/p}",
        )
        .expect("valid");
        let LogFormat::Fields(f) = &c.format else {
            panic!("{:?}", c.format)
        };
        let pairs: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.attribute.as_str(), f.key.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("message", "message"),
                ("levelname", "level"),
                ("asctime", "@timestamp")
            ]
        );
        assert_eq!(c.static_fields["app"], "patroni");
        assert_eq!(c.mode, Some(0o640));
        assert_eq!(c.loggers, [("patroni.ha".to_string(), LogLevel::Debug)]);
    }

    #[test]
    fn file_modes_read_as_upstreams_yaml_reads_them() {
        for (yaml, mode) in [
            ("log: {mode: 0640}", 0o640),
            ("log: {mode: 0444}", 0o444),
            ("log: {mode: 0o600}", 0o600),
            ("log: {mode: 416}", 0o640),
            ("log: {mode: '0644'}", 0o644),
        ] {
            assert_eq!(read(yaml).expect(yaml).mode, Some(mode), "{yaml}");
        }
        assert!(read("log: {mode: 0999}").is_err());
        assert!(read("log: {mode: 1000}").is_err());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (yaml, key) in [
            ("log: {type: xml}", "log.type"),
            ("log: {level: LOUD}", "log.level"),
            ("log: {format: [message]}", "log.format"),
            ("log: {type: json, format: [[x]]}", "log.format[0]"),
            ("log: {file_num: 0}", "log.file_num"),
            ("log: {file_size: -5}", "log.file_size"),
            ("log: {mode: 99999}", "log.mode"),
            ("log: {dateformat: '%Y %Q'}", "log.dateformat"),
            ("log: {loggers: {x: LOUD}}", "log.loggers.x"),
        ] {
            let e = read(yaml).expect_err(yaml).to_string();
            assert!(e.starts_with(&format!("{key}: ")), "{yaml}: {e}");
        }
    }
}
