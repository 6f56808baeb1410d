//! Whether a node's WAL diverged from the leader's, decided from what the leader's own
//! PostgreSQL says (its timeline and timeline history), never from DCS values that may be
//! stale (docs/architecture.md, "Divergence").

use super::Divergence;

/// Where the local data directory's WAL ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPosition {
    /// A replica (running, or stopped in recovery): its timeline and how far it got.
    InRecovery {
        /// Timeline.
        timeline: u64,
        /// Last received or replayed position.
        lsn: u64,
    },
    /// A former primary shut down cleanly: its timeline and shutdown checkpoint.
    CleanShutdown {
        /// Timeline.
        timeline: u64,
        /// `Latest checkpoint location`.
        checkpoint: u64,
        /// Where the checkpoint record ends (`pg_waldump`), when it could be read.
        checkpoint_end: Option<u64>,
    },
}

/// One line of a timeline history file: timeline `parent` ended at `switch_lsn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineSwitch {
    /// The timeline that ended.
    pub parent: u64,
    /// Where it ended (the first byte of the next timeline).
    pub switch_lsn: u64,
}

/// What the leader's PostgreSQL answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderTimeline {
    /// `pg_is_in_recovery()`: still promoting, so its timeline is not final.
    pub in_recovery: bool,
    /// Its current timeline (`IDENTIFY_SYSTEM`).
    pub timeline: u64,
    /// Its timeline history (`TIMELINE_HISTORY`), oldest first; empty on timeline 1.
    pub history: Vec<TimelineSwitch>,
}

impl TimelineSwitch {
    /// Parses a `.history` file (`parent<TAB>lsn<TAB>reason` lines, `#` comments).
    pub fn parse_history(text: &str) -> Vec<TimelineSwitch> {
        text.lines()
            .filter_map(|line| {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    return None;
                }
                let mut parts = line.split_whitespace();
                let parent = parts.next()?.parse().ok()?;
                let switch_lsn = crate::lsn::parse_lsn(parts.next()?)?;
                Some(TimelineSwitch { parent, switch_lsn })
            })
            .collect()
    }
}

/// Whether `local` WAL went past the point where the leader's timeline branched off.
pub fn rewind_needed(local: LocalPosition, leader: &LeaderTimeline) -> bool {
    let ours = match local {
        LocalPosition::InRecovery { timeline, .. }
        | LocalPosition::CleanShutdown { timeline, .. } => timeline,
    };
    if ours > leader.timeline {
        return true;
    }
    if ours == leader.timeline {
        return false;
    }
    for switch in &leader.history {
        if switch.parent > ours {
            // The leader's history skips our timeline: we are on another branch.
            return true;
        }
        if switch.parent == ours {
            return match local {
                LocalPosition::InRecovery { lsn, .. } => lsn > switch.switch_lsn,
                LocalPosition::CleanShutdown {
                    checkpoint,
                    checkpoint_end,
                    ..
                } => {
                    // A clean switchover branches exactly where our shutdown checkpoint
                    // record ends; anything else means WAL the leader never had.
                    checkpoint >= switch.switch_lsn || checkpoint_end != Some(switch.switch_lsn)
                }
            };
        }
    }
    true
}

/// Turns the answers of one check into the divergence state: `local` is our own position,
/// `leader_answer` what the leader's PostgreSQL said (errors name what could not be read).
pub fn assess(
    leader_name: &str,
    local: Result<LocalPosition, String>,
    leader_answer: Result<LeaderTimeline, String>,
) -> Divergence {
    let undecided = |reason: String| Divergence::Undecided {
        leader: leader_name.to_string(),
        reason,
    };
    let leader = match leader_answer {
        Ok(l) if l.in_recovery => return undecided("it is still in recovery".into()),
        Ok(l) => l,
        Err(e) => return undecided(e),
    };
    let local = match local {
        Ok(p) => p,
        Err(e) => return undecided(format!("our own position is unknown: {e}")),
    };
    if rewind_needed(local, &leader) {
        Divergence::Diverged {
            leader: leader_name.to_string(),
        }
    } else {
        Divergence::Fine {
            leader: leader_name.to_string(),
            timeline: leader.timeline,
        }
    }
}

/// The divergence state after pg_rewind from `leader` ran: on success our WAL is on its
/// history; on failure against a leader that still answers as a healthy primary, rewinding is
/// given up (and the configuration decides what next); otherwise it is checked again.
pub fn after_rewind(leader: &str, succeeded: bool, leader_still_primary: bool) -> Divergence {
    match (succeeded, leader_still_primary) {
        (true, _) => Divergence::Unchecked,
        (false, true) => Divergence::RewindFailed {
            leader: leader.to_string(),
        },
        (false, false) => Divergence::Unchecked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(timeline: u64, history: &[(u64, u64)]) -> LeaderTimeline {
        LeaderTimeline {
            in_recovery: false,
            timeline,
            history: history
                .iter()
                .map(|&(parent, switch_lsn)| TimelineSwitch { parent, switch_lsn })
                .collect(),
        }
    }

    fn replica(timeline: u64, lsn: u64) -> LocalPosition {
        LocalPosition::InRecovery { timeline, lsn }
    }

    fn former_primary(timeline: u64, checkpoint: u64, end: Option<u64>) -> LocalPosition {
        LocalPosition::CleanShutdown {
            timeline,
            checkpoint,
            checkpoint_end: end,
        }
    }

    #[test]
    fn table() {
        let tl2 = leader(2, &[(1, 1000)]);
        let tl3 = leader(3, &[(1, 1000), (2, 5000)]);
        let skipped = leader(3, &[(2, 5000)]);
        let cases = [
            // Same timeline: nothing to rewind.
            (replica(2, 5000), &tl2, false),
            // A replica that stopped at or before the switch point follows the new timeline.
            (replica(1, 900), &tl2, false),
            (replica(1, 1000), &tl2, false),
            // ... one that received WAL past it diverged.
            (replica(1, 1001), &tl2, true),
            // Ahead of the leader's timeline: another branch.
            (replica(3, 1), &tl2, true),
            // Two promotions later, measured at our own timeline's switch point.
            (replica(1, 900), &tl3, false),
            (replica(2, 4000), &tl3, false),
            (replica(2, 6000), &tl3, true),
            // The leader's history does not contain our timeline.
            (replica(1, 10), &skipped, true),
            // A former primary whose shutdown checkpoint ends exactly at the switch point
            // (a clean switchover) does not need a rewind.
            (former_primary(1, 960, Some(1000)), &tl2, false),
            // ... one whose checkpoint is at or past the switch point does.
            (former_primary(1, 1000, Some(1100)), &tl2, true),
            // ... and one that ended elsewhere, or whose checkpoint end is unknown, too.
            (former_primary(1, 900, Some(960)), &tl2, true),
            (former_primary(1, 960, None), &tl2, true),
        ];
        for (local, leader, expected) in cases {
            assert_eq!(
                rewind_needed(local, leader),
                expected,
                "{local:?} against {leader:?}"
            );
        }
    }

    #[test]
    fn assessment_waits_for_a_leader_that_can_answer() {
        let promoting = LeaderTimeline {
            in_recovery: true,
            ..leader(1, &[])
        };
        assert!(matches!(
            assess("pg2", Ok(replica(1, 10)), Ok(promoting)),
            Divergence::Undecided { reason, .. } if reason.contains("still in recovery")
        ));
        assert!(matches!(
            assess("pg2", Ok(replica(1, 10)), Err("connection refused".into())),
            Divergence::Undecided { .. }
        ));
        assert!(matches!(
            assess(
                "pg2",
                Err("no pg_controldata".into()),
                Ok(leader(2, &[(1, 5)]))
            ),
            Divergence::Undecided { .. }
        ));
        assert_eq!(
            assess("pg2", Ok(replica(1, 10)), Ok(leader(2, &[(1, 5)]))),
            Divergence::Diverged {
                leader: "pg2".into()
            }
        );
        assert_eq!(
            assess("pg2", Ok(replica(1, 5)), Ok(leader(2, &[(1, 5)]))),
            Divergence::Fine {
                leader: "pg2".into(),
                timeline: 2
            }
        );
    }

    #[test]
    fn history_files_parse() {
        let text = "1\t0/3000060\tno recovery target specified\n\n# comment\n2\t0/50000A0\tbefore 2000-01-01\n";
        assert_eq!(
            TimelineSwitch::parse_history(text),
            vec![
                TimelineSwitch {
                    parent: 1,
                    switch_lsn: 0x3000060
                },
                TimelineSwitch {
                    parent: 2,
                    switch_lsn: 0x50000A0
                }
            ]
        );
        assert!(TimelineSwitch::parse_history("garbage\n1 x y\n").is_empty());
    }

    #[test]
    fn rewind_outcomes() {
        assert_eq!(after_rewind("pg2", true, true), Divergence::Unchecked);
        assert_eq!(
            after_rewind("pg2", false, true),
            Divergence::RewindFailed {
                leader: "pg2".into()
            }
        );
        assert_eq!(after_rewind("pg2", false, false), Divergence::Unchecked);
    }
}
