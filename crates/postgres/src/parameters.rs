//! The parameters PostgreSQL is given, made fit for the binary that will run them
//! (docs/postgres.md, "Parameters"). A configuration carried over from another major version
//! must not keep a node down: PostgreSQL refuses to start on a name it does not know or a
//! value it cannot take, so a renamed parameter is translated, a protected one with a bad
//! value falls back to its default, and any other the binary refuses is dropped, each with a
//! warning naming it.
//!
//! The binary itself is asked (`postgres -C` with the parameters as `-c` options) rather
//! than a table of every version's parameters kept here: it knows its own names, types,
//! units, ranges and enum values exactly, including those of the minor release installed.

use std::process::Stdio;
use std::time::Duration;

use patroni_core::config::DynamicConfig;

use crate::conf::effective_parameters;
use crate::{PgError, Postgresql};

/// One parameter as written: name and value.
pub type Parameter = (String, String);

/// How a protected parameter's value is checked before the binary sees it, as upstream does:
/// each member must run with values the others can follow.
#[derive(Clone, Copy)]
pub(crate) enum Rule {
    /// An integer of at least this.
    AtLeast(i64),
    /// A boolean that must be on.
    On,
    /// A boolean.
    Bool,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// Protected parameters: default and rule (docs/postgres.md).
pub(crate) const PROTECTED: &[(&str, &str, Rule)] = &[
    (
        "wal_level",
        "replica",
        Rule::OneOf(&["hot_standby", "replica", "logical"]),
    ),
    ("hot_standby", "on", Rule::On),
    ("max_connections", "100", Rule::AtLeast(25)),
    ("max_wal_senders", "10", Rule::AtLeast(3)),
    ("max_prepared_transactions", "0", Rule::AtLeast(0)),
    ("max_locks_per_transaction", "64", Rule::AtLeast(32)),
    ("track_commit_timestamp", "off", Rule::Bool),
    ("max_replication_slots", "10", Rule::AtLeast(4)),
    ("max_worker_processes", "8", Rule::AtLeast(2)),
    // Upstream 4.1 lets it be turned off (with data checksums pg_rewind does not need it).
    ("wal_log_hints", "on", Rule::Bool),
];

/// The default of a protected parameter, `None` for any other.
pub(crate) fn protected_default(name: &str) -> Option<&'static str> {
    PROTECTED
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, d, _)| *d)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Some(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

fn passes(rule: Rule, value: &str) -> bool {
    match rule {
        Rule::AtLeast(min) => value.trim().parse::<i64>().is_ok_and(|v| v >= min),
        Rule::On => parse_bool(value) == Some(true),
        Rule::Bool => parse_bool(value).is_some(),
        Rule::OneOf(words) => words.contains(&value.trim().to_ascii_lowercase().as_str()),
    }
}

/// Megabytes in a size such as `128MB`, `1GB`, `4096kB` or a bare number of `unit_mb`.
fn size_mb(value: &str, unit_mb: f64) -> Option<f64> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let number: f64 = v[..split].parse().ok()?;
    let factor = match v[split..].trim() {
        "" => unit_mb,
        "kB" => 1.0 / 1024.0,
        "MB" => 1.0,
        "GB" => 1024.0,
        "TB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * factor)
}

/// What to tell the user about one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterNote(pub String);

/// Translates the parameters for `major` (e.g. 15) and checks the protected ones; returns
/// what was changed, for the log. Pure: the binary's own check comes after.
pub fn fit_to_version(params: &mut Vec<Parameter>, major: u32) -> Vec<ParameterNote> {
    let mut notes = Vec::new();
    let take = |params: &mut Vec<Parameter>, name: &str| {
        params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| params.remove(i).1)
    };
    if major >= 13 {
        if let Some(segments) = take(params, "wal_keep_segments") {
            if params.iter().any(|(n, _)| n == "wal_keep_size") {
                notes.push(ParameterNote(format!(
                    "wal_keep_segments={segments} dropped: PostgreSQL {major} uses wal_keep_size, which is set"
                )));
            } else if let Ok(n) = segments.trim().parse::<u64>() {
                let size = format!("{}MB", n.saturating_mul(16));
                notes.push(ParameterNote(format!(
                    "wal_keep_segments={segments} translated to wal_keep_size={size} for PostgreSQL {major}"
                )));
                params.push(("wal_keep_size".into(), size));
            } else {
                notes.push(ParameterNote(format!(
                    "wal_keep_segments={segments} dropped: not a number of segments"
                )));
            }
        }
        if !params.iter().any(|(n, _)| n == "wal_keep_size") {
            params.push(("wal_keep_size".into(), "128MB".into()));
        }
    } else {
        if let Some(size) = take(params, "wal_keep_size") {
            if params.iter().any(|(n, _)| n == "wal_keep_segments") {
                notes.push(ParameterNote(format!(
                    "wal_keep_size={size} dropped: PostgreSQL {major} uses wal_keep_segments, which is set"
                )));
            } else if let Some(mb) = size_mb(&size, 1.0) {
                // Upstream's rounding: (size_MB + 8) / 16 segments of 16MB.
                let segments = ((mb as u64).saturating_add(8) / 16).max(1);
                notes.push(ParameterNote(format!(
                    "wal_keep_size={size} translated to wal_keep_segments={segments} for PostgreSQL {major}"
                )));
                params.push(("wal_keep_segments".into(), segments.to_string()));
            } else {
                notes.push(ParameterNote(format!(
                    "wal_keep_size={size} dropped: not a size"
                )));
            }
        }
        if !params.iter().any(|(n, _)| n == "wal_keep_segments") {
            params.push(("wal_keep_segments".into(), "8".into()));
        }
    }
    for (name, default, rule) in PROTECTED {
        if let Some(entry) = params.iter_mut().find(|(n, _)| n == name) {
            if !passes(*rule, &entry.1) {
                notes.push(ParameterNote(format!(
                    "{name}={} is not valid for Patroni; using the default {default}",
                    entry.1
                )));
                entry.1 = (*default).to_string();
            }
        }
    }
    params.sort();
    notes
}

/// Removes what the binary refused: `refused` holds each name with PostgreSQL's message. A
/// protected parameter falls back to its default (which the binary accepts: the defaults are
/// PostgreSQL's own valid values), any other is dropped. Pure.
pub fn apply_refusals(
    params: &mut Vec<Parameter>,
    refused: &[(String, String)],
) -> Vec<ParameterNote> {
    let mut notes = Vec::new();
    for (name, message) in refused {
        let Some(i) = params
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        else {
            continue;
        };
        match protected_default(&params[i].0) {
            Some(default) => {
                notes.push(ParameterNote(format!(
                    "{}={} refused by PostgreSQL ({message}); using the default {default}",
                    params[i].0, params[i].1
                )));
                params[i].1 = default.to_string();
            }
            None => {
                notes.push(ParameterNote(format!(
                    "Removing invalid parameter {}={}: {message}",
                    params[i].0, params[i].1
                )));
                params.remove(i);
            }
        }
    }
    notes
}

/// The parameter a `postgres` error line names, with the line: `FATAL:  unrecognized
/// configuration parameter "x"`, `invalid value for parameter "x": ...`, `... is outside the
/// valid range for parameter "x" ...`, `parameter "x" requires a Boolean value`.
pub(crate) fn refused_parameter(output: &str) -> Option<(String, String)> {
    output.lines().find_map(|line| {
        let at = line.find("FATAL:")?;
        let message = line[at + "FATAL:".len()..].trim();
        let start = message.find("parameter \"")? + "parameter \"".len();
        let len = message[start..].find('"')?;
        Some((message[start..start + len].to_string(), message.to_string()))
    })
}

/// How long the binary may take to check the parameters.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The last parameters fitted, with what they were fitted from: the check runs the binary, so
/// it is redone only when the configured parameters change.
#[derive(Default)]
pub(crate) struct Fitted {
    /// The binary both were learned from: a reload may point `bin_dir` elsewhere.
    binary: std::path::PathBuf,
    major: Option<u32>,
    last: Option<(Vec<Parameter>, Vec<Parameter>)>,
}

impl Postgresql {
    /// The parameters PostgreSQL is given: the configured ones (`effective_parameters`) fitted
    /// to the binary's major version and checked by the binary, with a warning for each one
    /// translated, reset or dropped. Sorted by name.
    pub async fn parameters(&self, dynamic: &DynamicConfig) -> Vec<Parameter> {
        let configured = effective_parameters(&self.config(), dynamic);
        let (known_major, cached) = {
            let mut fitted = self.fitted();
            let binary = self.binary("postgres");
            if fitted.binary != binary {
                *fitted = Fitted {
                    binary,
                    ..Fitted::default()
                };
            }
            let cached = fitted
                .last
                .as_ref()
                .filter(|(from, _)| *from == configured)
                .map(|(_, params)| params.clone());
            (fitted.major, cached)
        };
        if let Some(params) = cached {
            return params;
        }
        let major = match known_major {
            Some(m) => m,
            None => match self.binary_major_version().await {
                Ok(m) => {
                    self.fitted().major = Some(m);
                    m
                }
                Err(e) => {
                    // Not cached: the next call asks again. 13+ is what this project runs.
                    tracing::warn!("cannot read PostgreSQL's version, assuming 13 or later: {e}");
                    13
                }
            },
        };
        let mut params = configured.clone();
        let mut notes = fit_to_version(&mut params, major);
        match self.refused_by_binary(&params).await {
            Ok(refused) => notes.extend(apply_refusals(&mut params, &refused)),
            Err(e) => {
                // PostgreSQL will say the same at start; nothing is cached, so this is retried.
                tracing::warn!("cannot check the parameters with the postgres binary: {e}");
                return params;
            }
        }
        for note in &notes {
            tracing::warn!("{}", note.0);
        }
        self.fitted().last = Some((configured, params.clone()));
        params
    }

    fn fitted(&self) -> std::sync::MutexGuard<'_, Fitted> {
        // A poisoned lock only means a panic elsewhere while replacing a cache entry.
        self.fitted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The major version of the configured binary (`postgres --version`), e.g. 15.
    pub(crate) async fn binary_major_version(&self) -> Result<u32, PgError> {
        let program = self.binary("postgres");
        let out = tokio::time::timeout(
            CHECK_TIMEOUT,
            tokio::process::Command::new(&program)
                .arg("--version")
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| PgError::Timeout(format!("{} --version did not answer", program.display())))?
        .map_err(|e| PgError::Other(format!("cannot run {}: {e}", program.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", "... 17beta1"
        text.split_whitespace()
            .nth(2)
            .map(|v| {
                v.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| PgError::Other(format!("cannot read the version in {text:?}")))
    }

    /// Asks the binary which of `params` it refuses: one run of `postgres -C port` with every
    /// parameter as `-c`, repeated without each refused one (PostgreSQL stops at the first).
    pub(crate) async fn refused_by_binary(
        &self,
        params: &[Parameter],
    ) -> Result<Vec<(String, String)>, PgError> {
        let mut refused: Vec<(String, String)> = Vec::new();
        for _ in 0..=params.len() {
            let mut cmd = tokio::process::Command::new(self.binary("postgres"));
            // Paths that exist nowhere: only the parsing of the values is wanted.
            cmd.args([
                "--config-file=/dev/null",
                "-c",
                "data_directory=/nonexistent",
            ])
            .args(["-c", "hba_file=/dev/null", "-c", "ident_file=/dev/null"]);
            for (name, value) in params {
                if !refused.iter().any(|(r, _)| r.eq_ignore_ascii_case(name)) {
                    cmd.arg("-c").arg(format!("{name}={value}"));
                }
            }
            cmd.args(["-C", "port"])
                .env("LC_ALL", "C")
                .env_remove("PGDATA")
                .stdin(Stdio::null())
                .kill_on_drop(true);
            let out = tokio::time::timeout(CHECK_TIMEOUT, cmd.output())
                .await
                .map_err(|_| PgError::Timeout("postgres -C did not answer".into()))?
                .map_err(|e| PgError::Other(format!("cannot run postgres -C: {e}")))?;
            if out.status.success() {
                return Ok(refused);
            }
            let text = String::from_utf8_lossy(&out.stderr);
            match refused_parameter(&text) {
                Some((name, message))
                    if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name))
                        && !refused.iter().any(|(r, _)| r.eq_ignore_ascii_case(&name)) =>
                {
                    refused.push((name, message));
                }
                _ => {
                    let tail: Vec<&str> = text.lines().rev().take(3).collect();
                    return Err(PgError::Command {
                        program: "postgres -C".into(),
                        output: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
                    });
                }
            }
        }
        Ok(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<Parameter> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect()
    }

    fn get<'a>(params: &'a [Parameter], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn wal_keep_segments_becomes_wal_keep_size_from_13() {
        let mut params = p(&[("wal_keep_segments", "100")]);
        let notes = fit_to_version(&mut params, 15);
        assert_eq!(get(&params, "wal_keep_size"), Some("1600MB"));
        assert_eq!(get(&params, "wal_keep_segments"), None);
        assert!(notes[0].0.contains("translated to wal_keep_size=1600MB"));
    }

    #[test]
    fn wal_keep_size_wins_over_segments_and_defaults_to_128mb() {
        let mut both = p(&[("wal_keep_segments", "100"), ("wal_keep_size", "1GB")]);
        fit_to_version(&mut both, 15);
        assert_eq!(get(&both, "wal_keep_size"), Some("1GB"));
        assert_eq!(get(&both, "wal_keep_segments"), None);
        let mut none = Vec::new();
        assert!(fit_to_version(&mut none, 16).is_empty());
        assert_eq!(get(&none, "wal_keep_size"), Some("128MB"));
    }

    #[test]
    fn wal_keep_size_becomes_segments_before_13() {
        for (size, segments) in [("128MB", "8"), ("1GB", "64"), ("100", "6"), ("1MB", "1")] {
            let mut params = p(&[("wal_keep_size", size)]);
            fit_to_version(&mut params, 12);
            assert_eq!(get(&params, "wal_keep_segments"), Some(segments), "{size}");
            assert_eq!(get(&params, "wal_keep_size"), None);
        }
        let mut none = Vec::new();
        fit_to_version(&mut none, 12);
        assert_eq!(get(&none, "wal_keep_segments"), Some("8"));
    }

    #[test]
    fn a_bad_segment_count_is_dropped_not_passed_on() {
        let mut params = p(&[("wal_keep_segments", "lots")]);
        let notes = fit_to_version(&mut params, 15);
        assert_eq!(get(&params, "wal_keep_size"), Some("128MB"));
        assert!(notes[0].0.contains("wal_keep_segments=lots dropped"));
    }

    #[test]
    fn protected_values_below_upstreams_minimum_fall_back_to_the_default() {
        let mut params = p(&[
            ("max_connections", "10"),
            ("max_wal_senders", "abc"),
            ("hot_standby", "off"),
            ("wal_level", "minimal"),
            ("track_commit_timestamp", "on"),
            ("max_prepared_transactions", "100"),
            ("wal_log_hints", "off"),
        ]);
        let notes = fit_to_version(&mut params, 15);
        assert_eq!(get(&params, "max_connections"), Some("100"));
        assert_eq!(get(&params, "max_wal_senders"), Some("10"));
        assert_eq!(get(&params, "hot_standby"), Some("on"));
        assert_eq!(get(&params, "wal_level"), Some("replica"));
        assert_eq!(get(&params, "track_commit_timestamp"), Some("on"));
        assert_eq!(get(&params, "max_prepared_transactions"), Some("100"));
        assert_eq!(
            get(&params, "wal_log_hints"),
            Some("off"),
            "upstream 4.1 allows it"
        );
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert!(notes.iter().any(|n| n.0.contains("max_connections=10")));
    }

    #[test]
    fn refused_parameters_are_dropped_or_reset_by_name() {
        let mut params = p(&[
            ("max_connections", "100000000"),
            ("work_mem", "lots"),
            ("shared_buffers", "128MB"),
        ]);
        let notes = apply_refusals(
            &mut params,
            &[
                ("work_mem".into(), "invalid value".into()),
                ("MAX_CONNECTIONS".into(), "outside the valid range".into()),
                ("not_ours".into(), "x".into()),
            ],
        );
        assert_eq!(get(&params, "work_mem"), None);
        assert_eq!(get(&params, "max_connections"), Some("100"));
        assert_eq!(get(&params, "shared_buffers"), Some("128MB"));
        assert_eq!(notes.len(), 2);
        assert!(notes[0]
            .0
            .contains("Removing invalid parameter work_mem=lots"));
    }

    #[test]
    fn the_refused_parameter_is_read_from_postgres_errors() {
        let cases = [
            (
                "2026-11-25 17:16:20.904 GMT [27456] FATAL:  unrecognized configuration parameter \"wal_keep_segments\"",
                Some("wal_keep_segments"),
            ),
            (
                "LOG:  skipping\n2026 FATAL:  invalid value for parameter \"wal_level\": \"bogus\"\nHINT:  Available values",
                Some("wal_level"),
            ),
            (
                "FATAL:  1000000000 is outside the valid range for parameter \"max_connections\" (1 .. 262143)",
                Some("max_connections"),
            ),
            (
                "FATAL:  parameter \"fsync\" requires a Boolean value",
                Some("fsync"),
            ),
            ("\"root\" execution of the PostgreSQL server is not permitted.", None),
            ("FATAL:  parameter \"unterminated", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                refused_parameter(text).map(|(n, _)| n).as_deref(),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn sizes_in_megabytes() {
        assert_eq!(size_mb("128MB", 1.0), Some(128.0));
        assert_eq!(size_mb("2GB", 1.0), Some(2048.0));
        assert_eq!(size_mb("2048kB", 1.0), Some(2.0));
        assert_eq!(size_mb("64", 1.0), Some(64.0));
        assert_eq!(size_mb("64 MB", 1.0), Some(64.0));
        assert_eq!(size_mb("lots", 1.0), None);
        assert_eq!(size_mb("1PB", 1.0), None);
    }
}
