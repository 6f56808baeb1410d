//! `pg_controldata`: what the data directory says about itself while PostgreSQL is down.

use std::collections::BTreeMap;

use crate::{PgError, Postgresql};

/// Parsed `pg_controldata` output.
#[derive(Debug, Clone, Default)]
pub struct ControlData(pub BTreeMap<String, String>);

impl ControlData {
    /// Parses `key: value` lines (a leading `Current ` is dropped, as upstream does).
    pub fn parse(text: &str) -> ControlData {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim();
                let k = k.strip_prefix("Current ").unwrap_or(k);
                map.insert(k.to_string(), v.trim().to_string());
            }
        }
        ControlData(map)
    }

    /// A field by its label.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `Database system identifier`.
    pub fn system_id(&self) -> Option<&str> {
        self.get("Database system identifier")
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
    }

    /// `Database cluster state` (`in production`, `shut down`, `shut down in recovery`, ...).
    pub fn state(&self) -> &str {
        self.get("Database cluster state").unwrap_or("")
    }

    /// `Latest checkpoint's TimeLineID`.
    pub fn checkpoint_timeline(&self) -> Option<u64> {
        self.get("Latest checkpoint's TimeLineID")
            .and_then(|s| s.parse().ok())
    }

    /// `Latest checkpoint location` in bytes.
    pub fn checkpoint_lsn(&self) -> Option<u64> {
        self.get("Latest checkpoint location")
            .and_then(patroni_core::lsn::parse_lsn)
    }

    /// `Minimum recovery ending location` and its timeline (replicas that stopped).
    pub fn min_recovery(&self) -> Option<(u64, u64)> {
        let lsn = self
            .get("Minimum recovery ending location")
            .and_then(patroni_core::lsn::parse_lsn)?;
        let tli = self
            .get("Min recovery ending loc's timeline")
            .and_then(|s| s.parse().ok())?;
        (lsn != 0 && tli != 0).then_some((lsn, tli))
    }

    /// The timeline and position where this data directory stopped: a replica's minimum
    /// recovery point, else the last checkpoint.
    pub fn stop_position(&self) -> Option<(u64, u64)> {
        if matches!(
            self.state(),
            "shut down in recovery" | "in archive recovery"
        ) {
            if let Some((lsn, tli)) = self.min_recovery() {
                return Some((tli, lsn));
            }
        }
        Some((self.checkpoint_timeline()?, self.checkpoint_lsn()?))
    }
}

impl Postgresql {
    /// Runs `pg_controldata` on the data directory.
    pub async fn controldata(&self) -> Result<ControlData, PgError> {
        let out = tokio::process::Command::new(self.binary("pg_controldata"))
            .arg("-D")
            .arg(self.data_dir())
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .output()
            .await
            .map_err(|e| PgError::Other(format!("cannot run pg_controldata: {e}")))?;
        if !out.status.success() {
            return Err(PgError::Command {
                program: "pg_controldata".into(),
                output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(ControlData::parse(&String::from_utf8_lossy(&out.stdout)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_we_use() {
        let c = ControlData::parse(
            "Database system identifier:           7711457749166068220\nDatabase cluster state:               shut down in recovery\nLatest checkpoint location:           0/3000060\nLatest checkpoint's TimeLineID:       1\nMinimum recovery ending location:     0/4000000\nMin recovery ending loc's timeline:   2\n",
        );
        assert_eq!(c.system_id(), Some("7711457749166068220"));
        assert_eq!(c.stop_position(), Some((2, 0x4000000)));
    }
}
