//! One log record rendered as upstream renders it: Python's `%(field)s` format strings for
//! plain lines, python-json-logger's object for JSON lines (docs/logging.md). Pure: the
//! record's facts come in, the line goes out.

use chrono::{DateTime, Local};
use patroni_core::config::{JsonField, LogFormat, LogLevel};
use serde_json::{Map, Value};

/// What is known of one log event.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// When it happened.
    pub created: DateTime<Local>,
    /// Its level.
    pub level: LogLevel,
    /// The message.
    pub message: &'a str,
    /// The module that logged it, `patroni::ha::run` (Python's logger name, with dots).
    pub target: &'a str,
    /// Source file and line.
    pub file: Option<&'a str>,
    /// Line in `file`.
    pub line: Option<u32>,
    /// Process id.
    pub process: u32,
    /// Thread id and name.
    pub thread: (u64, &'a str),
    /// Milliseconds since the logger started (Python's `relativeCreated`).
    pub relative_ms: f64,
}

/// Python's level names.
pub fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "DEBUG",
        LogLevel::Info => "INFO",
        LogLevel::Warning => "WARNING",
        LogLevel::Error => "ERROR",
        LogLevel::Critical => "CRITICAL",
    }
}

fn level_number(level: LogLevel) -> i64 {
    match level {
        LogLevel::Debug => 10,
        LogLevel::Info => 20,
        LogLevel::Warning => 30,
        LogLevel::Error => 40,
        LogLevel::Critical => 50,
    }
}

/// Python's `formatTime`: `2024-01-01 12:00:00,123`, or `dateformat` (already checked to be a
/// valid strftime format) without milliseconds.
pub fn asctime(created: &DateTime<Local>, dateformat: Option<&str>) -> String {
    match dateformat {
        Some(f) => created.format(f).to_string(),
        None => created.format("%Y-%m-%d %H:%M:%S,%3f").to_string(),
    }
}

/// The record attribute `name` as Python's `LogRecord` has it; `Null` when there is none.
fn attribute(record: &Record<'_>, name: &str, dateformat: Option<&str>) -> Value {
    let created = record.created.timestamp_micros() as f64 / 1e6;
    let file = record.file.unwrap_or("");
    let file_name = file.rsplit('/').next().unwrap_or(file);
    match name {
        "asctime" => Value::String(asctime(&record.created, dateformat)),
        "levelname" => Value::String(level_name(record.level).into()),
        "levelno" => Value::from(level_number(record.level)),
        "message" => Value::String(record.message.into()),
        "name" => Value::String(record.target.replace("::", ".")),
        "module" => Value::String(
            file_name
                .strip_suffix(".rs")
                .unwrap_or(file_name)
                .to_string(),
        ),
        "filename" => Value::String(file_name.into()),
        "pathname" => Value::String(file.into()),
        "lineno" => Value::from(record.line.unwrap_or(0)),
        "funcName" => Value::String(record.target.rsplit("::").next().unwrap_or("").into()),
        "created" => Value::from(created),
        "msecs" => Value::from(f64::from(record.created.timestamp_subsec_micros()) / 1e3),
        "relativeCreated" => Value::from(record.relative_ms),
        "process" => Value::from(record.process),
        "processName" => Value::String("MainProcess".into()),
        "thread" => Value::from(record.thread.0),
        "threadName" => Value::String(record.thread.1.into()),
        _ => Value::Null,
    }
}

/// One `%(name)<spec>` of a format string, or text between them.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Literal text (`%%` already turned into `%`).
    Text(String),
    /// A field with Python's conversion spec.
    Field {
        /// The attribute.
        name: String,
        /// `-`: pad on the right.
        left: bool,
        /// `0`: pad numbers with zeros.
        zero: bool,
        /// Minimum width.
        width: usize,
        /// Digits after the point (`f`), or characters kept (`s`).
        precision: Option<usize>,
        /// `s`, `r`, `d`, `i`, `f`...
        conversion: char,
    },
}

/// Parses a `%`-style format string. Anything that is not a well-formed `%(name)spec` is kept
/// as text, so a format never fails a log line.
pub fn parse(format: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while let Some(at) = rest.find('%') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("%%") {
            text.push('%');
            rest = after;
            continue;
        }
        match field(rest) {
            Some((piece, used)) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
                rest = &rest[used..];
            }
            None => {
                text.push('%');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// `%(name)-8.3s` at the start of `s`: the piece and the bytes it took.
fn field(s: &str) -> Option<(Piece, usize)> {
    let inner = s.strip_prefix("%(")?;
    let close = inner.find(')')?;
    let name = &inner[..close];
    let spec = &inner[close + 1..];
    let flags_len = spec
        .find(|c: char| !matches!(c, '-' | '+' | ' ' | '#' | '0'))
        .unwrap_or(spec.len());
    let flags = &spec[..flags_len];
    let after_flags = &spec[flags_len..];
    let width_len = after_flags
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_flags.len());
    let width = after_flags[..width_len].parse().unwrap_or(0);
    let mut tail = &after_flags[width_len..];
    let mut precision = None;
    if let Some(p) = tail.strip_prefix('.') {
        let len = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
        precision = Some(p[..len].parse().unwrap_or(0));
        tail = &p[len..];
    }
    let conversion = tail.chars().next()?;
    if !"sradifeEgGxXoc".contains(conversion) {
        return None;
    }
    let used = s.len() - tail.len() + conversion.len_utf8();
    Some((
        Piece::Field {
            name: name.to_string(),
            left: flags.contains('-'),
            zero: flags.contains('0'),
            width,
            precision,
            conversion,
        },
        used,
    ))
}

fn convert(value: &Value, conversion: char, precision: Option<usize>) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        other => other.to_string(),
    };
    match conversion {
        'd' | 'i' => value
            .as_f64()
            .map_or_else(|| text(value), |f| (f.trunc() as i64).to_string()),
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => value.as_f64().map_or_else(
            || text(value),
            |f| format!("{f:.*}", precision.unwrap_or(6)),
        ),
        _ => {
            let t = text(value);
            match precision {
                Some(p) => t.chars().take(p).collect(),
                None => t,
            }
        }
    }
}

/// A plain log line (without the newline).
pub fn render_plain(pieces: &[Piece], record: &Record<'_>, dateformat: Option<&str>) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field {
                name,
                left,
                zero,
                width,
                precision,
                conversion,
            } => {
                let value = attribute(record, name, dateformat);
                let text = convert(&value, *conversion, *precision);
                let pad = width.saturating_sub(text.chars().count());
                if *left {
                    out.push_str(&text);
                    out.extend(std::iter::repeat_n(' ', pad));
                } else {
                    let fill = if *zero && value.is_number() { '0' } else { ' ' };
                    out.extend(std::iter::repeat_n(fill, pad));
                    out.push_str(&text);
                }
            }
        }
    }
    out
}

/// The fields of a JSON line: those a format string names, in order, or the list given.
pub fn json_fields(format: &LogFormat) -> Vec<JsonField> {
    match format {
        LogFormat::Fields(fields) => fields.clone(),
        LogFormat::Percent(f) => parse(f)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Field { name, .. } => Some(JsonField {
                    attribute: name.clone(),
                    key: name,
                }),
                Piece::Text(_) => None,
            })
            .collect(),
    }
}

/// A JSON line (without the newline) as python-json-logger writes it: the fields in order,
/// then the static fields, in Python's `json.dumps` rendering.
pub fn render_json(
    fields: &[JsonField],
    static_fields: &Map<String, Value>,
    record: &Record<'_>,
    dateformat: Option<&str>,
) -> String {
    let mut object = Map::new();
    for f in fields {
        object.insert(f.key.clone(), attribute(record, &f.attribute, dateformat));
    }
    for (k, v) in static_fields {
        object.insert(k.clone(), v.clone());
    }
    patroni_core::pyjson::to_string(&Value::Object(object))
}

/// A heartbeat: the HA cycle's result when nothing is done, which
/// `log.deduplicate_heartbeat_logs` shows only when it changes.
pub fn is_heartbeat(level: LogLevel, message: &str) -> bool {
    level == LogLevel::Info
        && (message.starts_with("no action. ") || message.starts_with("PAUSE: no action"))
}

#[cfg(test)]
mod tests;
