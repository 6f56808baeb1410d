//! Timestamps of scheduled switchovers and restarts: any unambiguous form, but with a time
//! zone (a local time would mean a different moment on each member), rendered back as
//! Python's `isoformat()` does.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// A date and time without a zone.
    NoTimezone,
    /// Not a timestamp at all.
    Unparsable,
}

const WITH_ZONE: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M%:z",
    "%Y-%m-%d %H:%M%:z",
];
const WITHOUT_ZONE: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// Parses a schedule; `Z` counts as UTC.
pub fn parse(text: &str) -> Result<DateTime<FixedOffset>, ScheduleError> {
    let t = text.trim();
    let t = t
        .strip_suffix('Z')
        .map(|s| format!("{s}+00:00"))
        .unwrap_or_else(|| t.to_string());
    for f in WITH_ZONE {
        if let Ok(dt) = DateTime::parse_from_str(&t, f) {
            return Ok(dt);
        }
    }
    if WITHOUT_ZONE
        .iter()
        .any(|f| NaiveDateTime::parse_from_str(&t, f).is_ok())
    {
        return Err(ScheduleError::NoTimezone);
    }
    Err(ScheduleError::Unparsable)
}

/// Python's `datetime.isoformat()`: microseconds only when non-zero.
pub fn isoformat(dt: &DateTime<FixedOffset>) -> String {
    dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let dt = parse("2026-11-23T20:55:12+00:00").unwrap();
        assert_eq!(isoformat(&dt), "2026-11-23T20:55:12+00:00");
        assert_eq!(
            isoformat(&parse("2026-11-23 20:55:12Z").unwrap()),
            "2026-11-23T20:55:12+00:00"
        );
        assert_eq!(
            isoformat(
                &parse("2026-11-23T20:55+0200")
                    .unwrap_or_else(|_| parse("2026-11-23T20:55+02:00").unwrap())
            ),
            "2026-11-23T20:55:00+02:00"
        );
        assert_eq!(parse("2099-01-01T00:00:00"), Err(ScheduleError::NoTimezone));
        assert_eq!(parse("garbage"), Err(ScheduleError::Unparsable));
    }
}
