//! Whether a node's WAL has diverged from the leader's, so it needs pg_rewind (or a fresh
//! clone) before it can stream again (postgres-management.md §7.1).

use crate::cluster::History;

/// Where the local data directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPosition {
    /// A replica (running or stopped in recovery): timeline and received/replayed LSN.
    InRecovery {
        /// Timeline.
        timeline: u64,
        /// Last received or replayed position.
        lsn: u64,
    },
    /// A former primary shut down cleanly: timeline and shutdown checkpoint location.
    CleanShutdown {
        /// Timeline.
        timeline: u64,
        /// `Latest checkpoint location`.
        checkpoint: u64,
    },
    /// A former primary that crashed: how far its WAL goes is unknown without recovery.
    Crashed {
        /// Timeline.
        timeline: u64,
    },
}

/// Decides from the leader's timeline and the `/history` key (the leader's timeline history)
/// whether the local WAL went past the point where the leader's timeline branched off.
pub fn rewind_needed(
    local: LocalPosition,
    leader_timeline: u64,
    history: Option<&History>,
) -> bool {
    let timeline = match local {
        LocalPosition::InRecovery { timeline, .. }
        | LocalPosition::CleanShutdown { timeline, .. }
        | LocalPosition::Crashed { timeline } => timeline,
    };
    if leader_timeline == 0 || timeline >= leader_timeline {
        // Same timeline (or the leader is behind us, which a rewind cannot fix either).
        return timeline > leader_timeline && leader_timeline != 0;
    }
    let Some(switch) = history.and_then(|h| h.switch_lsn(timeline)) else {
        // Our timeline is not in the leader's history: we are on another branch.
        return true;
    };
    match local {
        LocalPosition::InRecovery { lsn, .. } => lsn > switch,
        LocalPosition::CleanShutdown { checkpoint, .. } => checkpoint >= switch,
        LocalPosition::Crashed { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn history(switch: u64) -> History {
        History {
            version: 1,
            lines: vec![json!([1, switch, "no recovery target specified"])],
            valid: true,
        }
    }

    #[test]
    fn table() {
        let h = history(1000);
        let cases = [
            (
                LocalPosition::InRecovery {
                    timeline: 2,
                    lsn: 5000,
                },
                2,
                false,
            ),
            (
                LocalPosition::InRecovery {
                    timeline: 1,
                    lsn: 900,
                },
                2,
                false,
            ),
            (
                LocalPosition::InRecovery {
                    timeline: 1,
                    lsn: 1000,
                },
                2,
                false,
            ),
            (
                LocalPosition::InRecovery {
                    timeline: 1,
                    lsn: 1001,
                },
                2,
                true,
            ),
            (
                LocalPosition::CleanShutdown {
                    timeline: 1,
                    checkpoint: 960,
                },
                2,
                false,
            ),
            (
                LocalPosition::CleanShutdown {
                    timeline: 1,
                    checkpoint: 1000,
                },
                2,
                true,
            ),
            (LocalPosition::Crashed { timeline: 1 }, 2, true),
            (LocalPosition::Crashed { timeline: 2 }, 2, false),
            (
                LocalPosition::InRecovery {
                    timeline: 3,
                    lsn: 1,
                },
                2,
                true,
            ),
        ];
        for (local, leader_tl, expected) in cases {
            assert_eq!(
                rewind_needed(local, leader_tl, Some(&h)),
                expected,
                "{local:?} vs leader timeline {leader_tl}"
            );
        }
        assert!(rewind_needed(
            LocalPosition::InRecovery {
                timeline: 1,
                lsn: 1
            },
            2,
            None
        ));
    }
}
