//! What a member learns about another member from its `GET /patroni` answer, as used in the
//! leader race (`role`, `xlog`, `timeline`, `tags`, `watchdog_failed`; docs/rest-api.md).

use serde_json::Value;

/// A peer's answer to `GET /patroni`.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStatus {
    /// Member name.
    pub name: String,
    /// Whether it runs a primary (`role` primary/master, or `xlog.location` present).
    pub is_primary: bool,
    /// Its WAL position: primary flush LSN, else max(received, replayed).
    pub wal_position: u64,
    /// Its timeline, when reported.
    pub timeline: Option<u64>,
    /// `nofailover` tag (or `failover_priority <= 0`).
    pub nofailover: bool,
    /// `failover_priority` tag (default 1).
    pub failover_priority: i64,
    /// `watchdog_failed`.
    pub watchdog_failed: bool,
}

impl PeerStatus {
    /// Parses a `/patroni` document; `None` when it lacks `xlog` (treated as unreachable).
    pub fn parse(name: &str, doc: &Value) -> Option<PeerStatus> {
        let xlog = doc.get("xlog")?.as_object()?;
        let role = doc.get("role").and_then(Value::as_str).unwrap_or("");
        let location = xlog.get("location").and_then(Value::as_u64);
        let received = xlog
            .get("received_location")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let replayed = xlog
            .get("replayed_location")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let is_primary = matches!(role, "primary" | "master") || location.is_some();
        let tags = doc.get("tags").and_then(Value::as_object);
        let tag = |k: &str| tags.and_then(|t| t.get(k));
        let priority = tag("failover_priority").and_then(crate::config::value::as_int);
        let nofailover = match tag("nofailover").and_then(crate::config::value::as_bool) {
            Some(v) => v,
            None => priority.is_some_and(|p| p <= 0),
        };
        Some(PeerStatus {
            name: name.to_string(),
            is_primary,
            wal_position: location.unwrap_or(received.max(replayed)),
            timeline: doc
                .get("timeline")
                .and_then(Value::as_u64)
                .filter(|t| crate::cluster::valid_timeline(*t)),
            nofailover,
            failover_priority: if nofailover { 0 } else { priority.unwrap_or(1) },
            watchdog_failed: doc
                .get("watchdog_failed")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_primary_and_replica() {
        let p = PeerStatus::parse(
            "pg2",
            &json!({"role": "primary", "xlog": {"location": 100}, "timeline": 1}),
        )
        .unwrap();
        assert!(p.is_primary);
        assert_eq!(p.wal_position, 100);
        let r = PeerStatus::parse(
            "pg1",
            &json!({"role": "replica", "xlog": {"received_location": 90, "replayed_location": 80}, "tags": {"nofailover": true}}),
        )
        .unwrap();
        assert!(!r.is_primary);
        assert_eq!(r.wal_position, 90);
        assert!(r.nofailover);
        assert!(PeerStatus::parse("x", &json!({"state": "stopped", "role": "replica"})).is_none());
    }

    /// A forged member's answer: every field of every wrong type must read as absent.
    #[test]
    fn garbage_answers_never_panic_and_read_as_absent() {
        let wrong = [
            json!(null),
            json!(true),
            json!(-1),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1e300),
            json!(-1e300),
            json!("x"),
            json!("99999999999999999999"),
            json!([1]),
            json!({"a": 1}),
        ];
        for v in &wrong {
            for doc in [
                json!({"xlog": v}),
                json!({"xlog": {"location": v}}),
                json!({"xlog": {"received_location": v, "replayed_location": v}, "timeline": v}),
                json!({"xlog": {}, "role": v, "tags": v, "watchdog_failed": v}),
                json!({"xlog": {}, "tags": {"nofailover": v, "failover_priority": v}}),
                v.clone(),
            ] {
                PeerStatus::parse("fake", &doc);
            }
        }
        let huge: Value = serde_json::from_str(
            r#"{"role": "replica", "xlog": {"location": 99999999999999999999, "received_location": 1e300, "replayed_location": -5}, "timeline": 4294967296, "watchdog_failed": "yes"}"#,
        )
        .expect("JSON");
        let p = PeerStatus::parse("fake", &huge).expect("has xlog");
        assert!(
            !p.is_primary,
            "a location that is no LSN does not make a primary"
        );
        assert_eq!(
            (p.wal_position, p.timeline, p.watchdog_failed),
            (0, None, false)
        );
        let neg = json!({"xlog": {"received_location": -1}, "timeline": -1, "tags": {"failover_priority": -5}});
        let p = PeerStatus::parse("fake", &neg).expect("has xlog");
        assert_eq!((p.wal_position, p.timeline), (0, None));
        assert!(p.nofailover);
        let p = PeerStatus::parse("fake", &json!({"xlog": {}, "timeline": 0})).expect("xlog");
        assert_eq!(p.timeline, None);
    }
}
