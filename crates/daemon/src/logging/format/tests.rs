//! Lines as upstream writes them for the same record.

use chrono::TimeZone;
use patroni_core::config::DEFAULT_FORMAT;

use super::*;

fn record(message: &str) -> Record<'_> {
    Record {
        created: Local
            .with_ymd_and_hms(2026, 11, 25, 17, 16, 20)
            .single()
            .expect("a local time")
            + chrono::Duration::microseconds(878_123),
        level: LogLevel::Info,
        message,
        target: "patroni::ha::run",
        file: Some("crates/daemon/src/ha/run.rs"),
        line: Some(27),
        process: 4242,
        thread: (7, "main"),
        relative_ms: 1500.5,
    }
}

#[test]
fn the_default_format_is_patronis() {
    let r = record("no action. I am (pg0), the leader with the lock");
    assert_eq!(
        render_plain(&parse(DEFAULT_FORMAT), &r, None),
        "2026-11-25 17:16:20,878 INFO: no action. I am (pg0), the leader with the lock"
    );
}

#[test]
fn python_conversion_specs() {
    let r = record("m");
    let line = render_plain(
        &parse("[%(levelname)-8s] %(name)s:%(lineno)04d %(process)d %(msecs)03d %(created).2f %(module)s %(levelname).1s 100%% %(nosuch)s %z"),
        &r,
        Some("%H:%M"),
    );
    let created = r.created.timestamp_micros() as f64 / 1e6;
    assert_eq!(
        line,
        format!("[INFO    ] patroni.ha.run:0027 4242 878 {created:.2} run I 100% None %z")
    );
}

#[test]
fn a_dateformat_replaces_the_milliseconds() {
    let r = record("m");
    assert_eq!(
        render_plain(&parse("%(asctime)s"), &r, Some("%Y-%m-%dT%H:%M:%S")),
        "2026-11-25T17:16:20"
    );
}

#[test]
fn json_lines_have_upstreams_field_names_then_static_fields() {
    let r = record("Lock owner: pg0; I am pg1 \u{e9}");
    let mut statics = Map::new();
    statics.insert("app".into(), Value::String("patroni".into()));
    let line = render_json(
        &json_fields(&LogFormat::Percent(DEFAULT_FORMAT.into())),
        &statics,
        &r,
        None,
    );
    assert_eq!(
        line,
        "{\"asctime\": \"2026-11-25 17:16:20,878\", \"levelname\": \"INFO\", \"message\": \"Lock owner: pg0; I am pg1 \\u00e9\", \"app\": \"patroni\"}"
    );
    let renamed = render_json(
        &[
            JsonField {
                attribute: "levelname".into(),
                key: "level".into(),
            },
            JsonField {
                attribute: "lineno".into(),
                key: "lineno".into(),
            },
        ],
        &Map::new(),
        &r,
        None,
    );
    assert_eq!(renamed, "{\"level\": \"INFO\", \"lineno\": 27}");
}

#[test]
fn malformed_formats_are_kept_as_text() {
    let r = record("m");
    for (format, line) in [
        ("%(levelname", "%(levelname"),
        ("%(levelname)", "%(levelname)"),
        ("%(levelname)q", "%(levelname)q"),
        ("50% %s", "50% %s"),
        ("%", "%"),
        ("", ""),
    ] {
        assert_eq!(render_plain(&parse(format), &r, None), line, "{format}");
    }
}

#[test]
fn heartbeats_are_the_no_action_results_at_info() {
    assert!(is_heartbeat(
        LogLevel::Info,
        "no action. I am (pg1), a secondary, and following a leader (pg0)"
    ));
    assert!(is_heartbeat(LogLevel::Info, "PAUSE: no action. I am (pg1)"));
    assert!(!is_heartbeat(LogLevel::Warning, "no action. I am (pg1)"));
    assert!(!is_heartbeat(
        LogLevel::Info,
        "promoted self to leader by acquiring session lock"
    ));
}
