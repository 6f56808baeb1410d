//! What the leader does with a pending `failover` key, and whether any other member can take
//! over (docs/architecture.md).

use chrono::{DateTime, FixedOffset};

use crate::cluster::{Cluster, Failover};
use crate::peer::PeerStatus;

/// The leader's next step for the `failover` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailoverStep {
    /// No request.
    None,
    /// A scheduled request whose time has not come (log line).
    Await(String),
    /// Clear the key (with this warning) and carry on as leader.
    Clear(String),
    /// Hand over: demote gracefully if a candidate can take over.
    HandOver {
        /// `switchover` or `manual failover`.
        action: String,
        /// The requested candidate, if any.
        candidate: Option<String>,
    },
}

/// `switchover` when the key names a leader, else `manual failover`.
pub fn action_name(f: &Failover) -> &'static str {
    if f.leader.is_some() {
        "switchover"
    } else {
        "manual failover"
    }
}

/// Decides the leader's step; `now` and `loop_wait` place a scheduled request in time.
pub fn leader_step(
    cluster: &Cluster,
    me: &str,
    now: DateTime<FixedOffset>,
    loop_wait: u32,
    paused: bool,
) -> FailoverStep {
    let Some(f) = &cluster.failover else {
        return FailoverStep::None;
    };
    let action = action_name(f);
    if let Some(at) = &f.scheduled_at {
        if paused {
            return FailoverStep::None;
        }
        match crate::schedule::parse(at) {
            Ok(when) => {
                let delta = (when - now).num_milliseconds() as f64 / 1000.0;
                if delta > f64::from(loop_wait) {
                    return FailoverStep::Await(format!(
                        "Awaiting {action} at {at} (in {:.0} seconds)",
                        delta
                    ));
                }
                if delta < -1.5 * f64::from(loop_wait) {
                    return FailoverStep::Clear(format!(
                        "Found a stale {action} value, cleaning up"
                    ));
                }
            }
            Err(_) => {
                return FailoverStep::Clear(format!("Found a stale {action} value, cleaning up"))
            }
        }
    }
    match f.leader.as_deref() {
        Some(l) if l != me => {
            FailoverStep::Clear(format!("{action}: leader name does not match: {l} != {me}"))
        }
        _ => match f.candidate.as_deref() {
            Some(c) if c == me => FailoverStep::Clear(format!(
                "{action}: I am already the leader, no need to {action}"
            )),
            None if paused => FailoverStep::Clear(format!(
                "{} is possible only to a specific candidate in a paused state",
                capitalize(action)
            )),
            c => FailoverStep::HandOver {
                action: action.to_string(),
                candidate: c.map(str::to_string),
            },
        },
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Members that may be polled as takeover candidates: not us, not nofailover, with an API.
pub fn takeover_candidates<'a>(
    cluster: &'a Cluster,
    me: &str,
    candidate: Option<&str>,
) -> Vec<&'a str> {
    cluster
        .members
        .iter()
        .filter(|m| m.name != me && !m.nofailover() && m.api_url().is_some())
        .filter(|m| candidate.is_none_or(|c| c == m.name))
        .map(|m| m.name.as_str())
        .collect()
}

/// Whether one of the polled candidates can take over: reachable (present in `peers`), not
/// nofailover, watchdog fine, and at most `max_lag` bytes behind `leader_lsn`. The error
/// says, per member, why it cannot (Patroni's log lines), for the leader to log.
pub fn failover_possible(
    peers: &[PeerStatus],
    leader_lsn: u64,
    max_lag: u64,
) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    for p in peers {
        if p.nofailover {
            reasons.push(format!("Member {} is not allowed to promote", p.name));
        } else if p.watchdog_failed {
            reasons.push(format!("Member {} is not watchdog capable", p.name));
        } else if leader_lsn.saturating_sub(p.wal_position) > max_lag {
            reasons.push(format!("Member {} exceeds maximum replication lag", p.name));
        } else {
            return Ok(());
        }
    }
    Err(reasons)
}

/// The member a failover would best go to among the polled `peers`: a replica allowed to
/// promote, furthest in WAL, then highest `failover_priority`, then first by name.
pub fn healthiest_candidate(peers: &[PeerStatus]) -> Option<&str> {
    peers
        .iter()
        .filter(|p| !p.is_primary && !p.nofailover && !p.watchdog_failed)
        .min_by(|a, b| {
            (b.wal_position, b.failover_priority, &a.name).cmp(&(
                a.wal_position,
                a.failover_priority,
                &b.name,
            ))
        })
        .map(|p| p.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::KeyValue;

    fn cluster(failover: &str) -> Cluster {
        Cluster::from_keys(&[
            KeyValue {
                key: "leader".into(),
                value: "pg1".into(),
                version: 1,
                session: None,
            },
            KeyValue {
                key: "failover".into(),
                value: failover.into(),
                version: 5,
                session: None,
            },
        ])
    }

    fn now() -> DateTime<FixedOffset> {
        crate::schedule::parse("2026-11-23T20:00:00+00:00").unwrap()
    }

    #[test]
    fn leader_steps() {
        let step = |f: &str| leader_step(&cluster(f), "pg1", now(), 10, false);
        assert_eq!(step("{}"), FailoverStep::None);
        assert_eq!(
            step(r#"{"leader":"pg1","member":"pg2"}"#),
            FailoverStep::HandOver {
                action: "switchover".into(),
                candidate: Some("pg2".into())
            }
        );
        assert_eq!(
            step(r#"{"member":"pg2"}"#),
            FailoverStep::HandOver {
                action: "manual failover".into(),
                candidate: Some("pg2".into())
            }
        );
        assert_eq!(
            step(r#"{"leader":"pg1"}"#),
            FailoverStep::HandOver {
                action: "switchover".into(),
                candidate: None
            }
        );
        assert_eq!(
            step(r#"{"leader":"pg3","member":"pg2"}"#),
            FailoverStep::Clear("switchover: leader name does not match: pg3 != pg1".into())
        );
        assert_eq!(
            step(r#"{"member":"pg1"}"#),
            FailoverStep::Clear(
                "manual failover: I am already the leader, no need to manual failover".into()
            )
        );
        assert!(
            matches!(step(r#"{"leader":"pg1","member":"pg2","scheduled_at":"2026-11-23T20:05:00+00:00"}"#), FailoverStep::Await(m) if m.contains("in 300 seconds"))
        );
        assert!(matches!(
            step(r#"{"leader":"pg1","member":"pg2","scheduled_at":"2026-11-23T20:00:05+00:00"}"#),
            FailoverStep::HandOver { .. }
        ));
        assert!(
            matches!(step(r#"{"leader":"pg1","member":"pg2","scheduled_at":"2026-11-23T19:50:00+00:00"}"#), FailoverStep::Clear(m) if m.contains("stale"))
        );
        assert!(matches!(
            leader_step(&cluster(r#"{"leader":"pg1"}"#), "pg1", now(), 10, true),
            FailoverStep::Clear(_)
        ));
    }

    #[test]
    fn takeover_needs_a_healthy_close_candidate() {
        let p = PeerStatus {
            name: "pg2".into(),
            is_primary: false,
            wal_position: 100,
            timeline: Some(1),
            nofailover: false,
            failover_priority: 1,
            watchdog_failed: false,
        };
        assert!(failover_possible(std::slice::from_ref(&p), 100, 0).is_ok());
        assert_eq!(
            failover_possible(std::slice::from_ref(&p), 200, 50),
            Err(vec![
                "Member pg2 exceeds maximum replication lag".to_string()
            ])
        );
        assert_eq!(
            failover_possible(
                &[PeerStatus {
                    nofailover: true,
                    ..p
                }],
                100,
                0
            ),
            Err(vec!["Member pg2 is not allowed to promote".to_string()])
        );
        assert_eq!(failover_possible(&[], 100, 0), Err(vec![]));
    }

    #[test]
    fn the_healthiest_candidate_is_furthest_then_preferred_then_first() {
        let peer = |name: &str, wal: u64, priority: i64, nofailover: bool| PeerStatus {
            name: name.into(),
            is_primary: false,
            wal_position: wal,
            timeline: Some(1),
            nofailover,
            failover_priority: priority,
            watchdog_failed: false,
        };
        let table: &[(&[PeerStatus], Option<&str>)] = &[
            (&[], None),
            (
                &[peer("a", 10, 1, false), peer("b", 20, 1, false)],
                Some("b"),
            ),
            (
                &[peer("a", 20, 1, false), peer("b", 20, 2, false)],
                Some("b"),
            ),
            (
                &[peer("b", 20, 1, false), peer("a", 20, 1, false)],
                Some("a"),
            ),
            (
                &[peer("a", 10, 1, false), peer("b", 20, 1, true)],
                Some("a"),
            ),
            (&[peer("b", 20, 1, true)], None),
        ];
        for (peers, want) in table {
            assert_eq!(healthiest_candidate(peers), *want, "{peers:?}");
        }
    }
}
