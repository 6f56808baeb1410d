//! Times as patronictl reads and prints them: `--scheduled` values (restart, switchover) and
//! the local timestamps upstream puts before some result lines.

use anyhow::bail;
use chrono::{DateTime, FixedOffset};
use patroni_core::schedule::{self, ScheduleError};

/// Local time `YYYY-MM-DD HH:MM:SS`, with `fraction_digits` digits of the second after a dot
/// when non-zero. Upstream's switchover and flush lines show five (its `timestamp()` cuts
/// the last of six), `query`'s error rows none.
pub fn timestamp(fraction_digits: usize) -> String {
    let full = chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let keep = match fraction_digits {
        0 => 19,
        n => 20 + n.min(6),
    };
    full.chars().take(keep).collect()
}

/// An hour from now as the schedule questions show an example (`YYYY-MM-DDTHH:MM`).
pub fn next_hour() -> String {
    (chrono::Local::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A `--scheduled` value: `None` for no value, an empty one or `now`; a time without a zone
/// is local time, as upstream assumes.
pub fn parse_scheduled(text: Option<&str>) -> anyhow::Result<Option<DateTime<FixedOffset>>> {
    let Some(text) = text.filter(|t| !t.is_empty() && *t != "now") else {
        return Ok(None);
    };
    let parsed = match schedule::parse(text) {
        Ok(dt) => Some(dt),
        Err(ScheduleError::NoTimezone) => {
            let offset = chrono::Local::now().format("%:z").to_string();
            schedule::parse(&format!("{text}{offset}")).ok()
        }
        Err(ScheduleError::Unparsable) => None,
    };
    match parsed {
        Some(dt) => Ok(Some(dt)),
        None => bail!(
            "Unable to parse scheduled timestamp ({text}). It should be in an unambiguous format (e.g. ISO 8601)"
        ),
    }
}

/// How Python's `str()` shows a datetime: the ISO form with a space for the `T`.
pub fn python_str(dt: &DateTime<FixedOffset>) -> String {
    schedule::isoformat(dt).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        for now in [None, Some(""), Some("now")] {
            assert_eq!(parse_scheduled(now).expect("now"), None);
        }
        let at = parse_scheduled(Some("2026-11-23T20:55:12+00:00"))
            .expect("parses")
            .expect("a time");
        assert_eq!(schedule::isoformat(&at), "2026-11-23T20:55:12+00:00");
        assert_eq!(python_str(&at), "2026-11-23 20:55:12+00:00");
        assert!(parse_scheduled(Some("2026-11-23T20:55"))
            .expect("local")
            .is_some());
        assert_eq!(
            parse_scheduled(Some("garbage")).map_err(|e| e.to_string()),
            Err("Unable to parse scheduled timestamp (garbage). It should be in an unambiguous format (e.g. ISO 8601)".into())
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0).len(), "2026-11-23 19:55:22".len());
        assert_eq!(timestamp(5).len(), "2026-11-23 19:55:22.32819".len());
        assert_eq!(timestamp(5).as_bytes()[19], b'.');
    }
}
