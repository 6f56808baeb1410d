//! The dynamic configuration kept in the DCS `/config` key (seeded from `bootstrap.dcs`).
//!
//! It is written by other people (patronictl, other nodes, scripts), so nothing in it may stop
//! the daemon: a value of the wrong type is replaced by its default with a warning.

use serde_json::{Map, Value};

use super::value::{as_bool, as_int};
use crate::timing::Timing;

/// The dynamic settings the HA loop uses, with Patroni's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicConfig {
    /// ttl / loop_wait / retry_timeout after the timing rule.
    pub timing: Timing,
    /// Max bytes a replica may lag and still take part in a failover.
    pub maximum_lag_on_failover: u64,
    /// Exclude candidates on an older timeline.
    pub check_timeline: bool,
    /// Maintenance mode.
    pub pause: bool,
    /// Seconds a crashed primary may take to restart before failing over.
    pub primary_start_timeout: u64,
    /// Seconds a primary's stop may take before it is killed (0: no limit); upstream applies
    /// it only in synchronous mode.
    pub primary_stop_timeout: u64,
    /// `postgresql.use_pg_rewind`.
    pub use_pg_rewind: bool,
    /// `postgresql.use_slots`.
    pub use_slots: bool,
    /// `postgresql.parameters`.
    pub parameters: Map<String, Value>,
    /// `postgresql.pg_hba`.
    pub pg_hba: Option<Vec<String>>,
    /// The JSON object as stored.
    pub raw: Value,
}

impl Default for DynamicConfig {
    fn default() -> Self {
        DynamicConfig::from_value(&Value::Object(Map::new())).0
    }
}

impl DynamicConfig {
    /// Reads `/config`; returns the config and warnings about values that were ignored.
    pub fn from_value(raw: &Value) -> (DynamicConfig, Vec<String>) {
        let mut warnings = Vec::new();
        let empty = Map::new();
        let obj = raw.as_object().unwrap_or(&empty);
        let mut int = |key: &str, default: i64| -> i64 {
            match obj.get(key) {
                None | Some(Value::Null) => default,
                Some(v) => as_int(v).unwrap_or_else(|| {
                    warnings.push(format!(
                        "/config {key}: {v} is not an integer; using {default}"
                    ));
                    default
                }),
            }
        };
        let ttl = int("ttl", 30);
        let loop_wait = int("loop_wait", 10);
        let retry_timeout = int("retry_timeout", 10);
        let max_lag = int("maximum_lag_on_failover", 1_048_576);
        let mut aliased = |key: &str, alias: &str, default: i64| {
            let k = if obj.get(key).is_some_and(|v| !v.is_null()) {
                key
            } else {
                alias
            };
            int(k, default)
        };
        let primary_start_timeout = aliased("primary_start_timeout", "master_start_timeout", 300);
        let primary_stop_timeout = aliased("primary_stop_timeout", "master_stop_timeout", 0);
        let (timing, timing_warnings) = Timing::enforce(ttl, loop_wait, retry_timeout);
        warnings.extend(timing_warnings);
        let flag = |key: &str| obj.get(key).and_then(as_bool).unwrap_or(false);
        let pg = obj
            .get("postgresql")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let parameters = match pg.get("parameters") {
            Some(Value::Object(m)) => m.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => {
                warnings.push("/config postgresql.parameters is not a dictionary; ignored".into());
                Map::new()
            }
        };
        let pg_hba = pg.get("pg_hba").and_then(Value::as_array).map(|lines| {
            lines
                .iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        });
        (
            DynamicConfig {
                timing,
                maximum_lag_on_failover: u64::try_from(max_lag).unwrap_or(0),
                check_timeline: flag("check_timeline"),
                pause: flag("pause"),
                primary_start_timeout: seconds(primary_start_timeout),
                primary_stop_timeout: seconds(primary_stop_timeout),
                use_pg_rewind: pg.get("use_pg_rewind").and_then(as_bool).unwrap_or(false),
                use_slots: pg.get("use_slots").and_then(as_bool).unwrap_or(true),
                parameters,
                pg_hba,
                raw: raw.clone(),
            },
            warnings,
        )
    }
}

/// A number of seconds from `/config`: negative is 0, and beyond what fits a u32 it means
/// "never" and is kept there, so arithmetic on it cannot overflow.
fn seconds(value: i64) -> u64 {
    u64::try_from(value.clamp(0, i64::from(u32::MAX))).unwrap_or(0)
}

impl DynamicConfig {
    /// How long a primary's stop may take before it is killed, as upstream: only in
    /// synchronous mode (which is refused until built) and only when set above 0. `None`: the
    /// daemon's own default applies.
    pub fn primary_stop_timeout(&self) -> Option<u64> {
        let synchronous = self
            .raw
            .get("synchronous_mode")
            .and_then(as_bool)
            .unwrap_or(false)
            || self.raw.get("synchronous_mode").and_then(Value::as_str) == Some("quorum");
        (synchronous && self.primary_stop_timeout > 0).then_some(self.primary_stop_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn garbage_from_the_dcs_falls_back_to_defaults() {
        let (c, w) = DynamicConfig::from_value(
            &json!({"ttl": "abc", "loop_wait": 2, "postgresql": {"parameters": 5}}),
        );
        assert_eq!(c.timing.ttl, 30);
        assert_eq!(c.timing.loop_wait, 2);
        assert!(c.parameters.is_empty());
        assert_eq!(w.len(), 2);
        assert!(c.use_slots);
    }

    #[test]
    fn start_and_stop_timeouts_and_their_aliases() {
        let (c, _) = DynamicConfig::from_value(&json!({"master_start_timeout": 7}));
        assert_eq!(c.primary_start_timeout, 7);
        let (c, _) = DynamicConfig::from_value(&json!({"primary_start_timeout": 0}));
        assert_eq!(c.primary_start_timeout, 0);
        assert_eq!(DynamicConfig::default().primary_start_timeout, 300);
        // primary_stop_timeout only counts in synchronous mode, as upstream.
        let (c, _) = DynamicConfig::from_value(&json!({"master_stop_timeout": 9}));
        assert_eq!(c.primary_stop_timeout, 9);
        assert_eq!(c.primary_stop_timeout(), None);
        let (c, _) = DynamicConfig::from_value(
            &json!({"primary_stop_timeout": 9, "synchronous_mode": true}),
        );
        assert_eq!(c.primary_stop_timeout(), Some(9));
    }
}
