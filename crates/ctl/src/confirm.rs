//! The last question before patronictl acts, in upstream's words: skipped with `--force`, and a
//! "no" ends the command with upstream's abort message.

use anyhow::bail;
use patroni_core::cluster::Member;

use crate::prompt::Ask;

/// Whether to go on: `force`, else the answer to `question`.
pub fn proceed(ask: &dyn Ask, force: bool, question: &str) -> anyhow::Result<bool> {
    Ok(force || ask.confirm(question)?)
}

/// Asks `question` unless `force`; "no" fails with `abort`.
pub fn or_abort(ask: &dyn Ask, force: bool, question: &str, abort: &str) -> anyhow::Result<()> {
    if !proceed(ask, force, question)? {
        bail!("{abort}");
    }
    Ok(())
}

/// What restart asks instead when `--pending` is combined with a schedule: which members need
/// a restart is only known at that time.
const PENDING_AT_SCHEDULE: &str =
    "The nodes needing a restart will be identified at the scheduled \
time, and might be different from the ones showing pending restart right now. Is this fine?";

/// Confirms `action` (`restart`, `reload`, `reinitialize`, `flush`) on `members`, now or at
/// `scheduled` (as the question shows it).
pub fn members(
    ask: &dyn Ask,
    force: bool,
    action: &str,
    members: &[&Member],
    scheduled: Option<&str>,
    pending: bool,
) -> anyhow::Result<()> {
    let names = members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match scheduled {
        Some(_) if pending => or_abort(
            ask,
            force,
            PENDING_AT_SCHEDULE,
            &format!("Aborted scheduled {action}"),
        ),
        Some(at) => or_abort(
            ask,
            force,
            &format!("Are you sure you want to schedule {action} of members {names} at {at}?"),
            &format!("Aborted scheduled {action}"),
        ),
        None => or_abort(
            ask,
            force,
            &format!("Are you sure you want to {action} members {names}?"),
            &format!("Aborted {action}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::script::Script;

    fn member(name: &str) -> Member {
        Member::parse(name, "{}", 1, None)
    }

    fn err(r: anyhow::Result<()>) -> String {
        r.map_err(|e| e.to_string()).unwrap_err()
    }

    #[test]
    fn force_asks_nothing() {
        let ask = Script::new(&[]);
        let (a, b) = (member("pg1"), member("pg2"));
        members(&ask, true, "restart", &[&a, &b], None, false).expect("forced");
        or_abort(&ask, true, "Apply?", "Aborted").expect("forced");
        assert!(ask.asked.borrow().is_empty());
    }

    #[test]
    fn questions_and_aborts_are_upstreams() {
        let (a, b) = (member("pg1"), member("pg2"));
        let ask = Script::new(&["y", "n", "n", "n"]);
        members(&ask, false, "reload", &[&a, &b], None, false).expect("yes");
        assert_eq!(
            err(members(&ask, false, "reinitialize", &[&a], None, false)),
            "Aborted reinitialize"
        );
        let at = Some("2026-11-23 20:55:12+00:00");
        assert_eq!(
            err(members(&ask, false, "restart", &[&a, &b], at, false)),
            "Aborted scheduled restart"
        );
        assert_eq!(
            err(members(&ask, false, "restart", &[&a], at, true)),
            "Aborted scheduled restart"
        );
        assert_eq!(
            *ask.asked.borrow(),
            vec![
                "Are you sure you want to reload members pg1, pg2?".to_string(),
                "Are you sure you want to reinitialize members pg1?".to_string(),
                "Are you sure you want to schedule restart of members pg1, pg2 at 2026-11-23 20:55:12+00:00?".to_string(),
                PENDING_AT_SCHEDULE.to_string(),
            ]
        );
    }

    #[test]
    fn without_a_terminal_the_confirmation_fails_naming_force() {
        let ask = crate::prompt::Terminal::assumed(false);
        let a = member("pg1");
        assert_eq!(
            err(members(&ask, false, "restart", &[&a], None, false)),
            "Are you sure you want to restart members pg1?: no terminal to ask on; pass --force"
        );
        members(&ask, true, "restart", &[&a], None, false).expect("--force needs no terminal");
    }
}
