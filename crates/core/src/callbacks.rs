//! Which callback script runs when (docs/callbacks.md), as upstream decides it: the events, the
//! role a script is told, whether a replica's (re)start counts as a role change, and the
//! bookkeeping of the callback a start owes once PostgreSQL is up. The daemon runs the
//! scripts; these rules are pure.

use crate::state::Role;

/// A callback event (`postgresql.callbacks.<event>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackAction {
    /// PostgreSQL started (or was found running at the first cycle).
    OnStart,
    /// PostgreSQL was stopped by us.
    OnStop,
    /// PostgreSQL was restarted.
    OnRestart,
    /// PostgreSQL reloaded its configuration.
    OnReload,
    /// The node changed role (promoted, demoted, replica ↔ standby leader).
    OnRoleChange,
}

impl CallbackAction {
    /// Every event, in upstream's order.
    pub const ALL: [CallbackAction; 5] = [
        CallbackAction::OnStart,
        CallbackAction::OnStop,
        CallbackAction::OnRestart,
        CallbackAction::OnReload,
        CallbackAction::OnRoleChange,
    ];

    /// The key and the script's first argument.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackAction::OnStart => "on_start",
            CallbackAction::OnStop => "on_stop",
            CallbackAction::OnRestart => "on_restart",
            CallbackAction::OnReload => "on_reload",
            CallbackAction::OnRoleChange => "on_role_change",
        }
    }
}

/// The role a script is told: a promotion in flight is already `primary`.
pub fn callback_role(role: Role) -> Role {
    match role {
        Role::Promoted => Role::Primary,
        other => other,
    }
}

/// The command line of a callback: the configured command split as a shell would, then
/// `<event> <role> <scope>`. `None` when the command cannot be split (checked at start).
pub fn callback_argv(
    command: &str,
    action: CallbackAction,
    role: Role,
    scope: &str,
) -> Option<Vec<String>> {
    let mut argv = shlex::split(command)?;
    if argv.is_empty() {
        return None;
    }
    argv.extend([
        action.as_str().to_string(),
        callback_role(role).as_str().to_string(),
        scope.to_string(),
    ]);
    Some(argv)
}

/// What the callbacks remember between events: whether any start, stop, restart or role
/// change callback fired since the daemon started, and what a start in progress owes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Callbacks {
    called: bool,
    /// `Some(None)`: the start owes nothing (its role change was announced already).
    pending: Option<Option<CallbackAction>>,
}

impl Callbacks {
    /// Whether a start, stop, restart or role change callback fired yet.
    pub fn called(&self) -> bool {
        self.called
    }

    /// Records that `action` fires now; returns it for the daemon to run.
    pub fn fire(&mut self, action: CallbackAction) -> CallbackAction {
        if action != CallbackAction::OnReload {
            self.called = true;
        }
        action
    }

    /// A start begins; a restart owes `on_restart`, any other start `on_start`, a start that
    /// announced a role change nothing more.
    pub fn starting(&mut self, owes: Option<CallbackAction>) {
        self.pending = Some(owes);
    }

    /// PostgreSQL is up after a start (or came up by itself): what fires now. Upstream fires
    /// `on_start` when nothing was pending.
    pub fn started(&mut self) -> Option<CallbackAction> {
        let owed = self.pending.take().unwrap_or(Some(CallbackAction::OnStart));
        owed.map(|a| self.fire(a))
    }

    /// The first cycle finds PostgreSQL running and no callback fired yet: `on_start`.
    pub fn found_running(&mut self) -> Option<CallbackAction> {
        (!self.called).then(|| self.fire(CallbackAction::OnStart))
    }
}

/// Whether (re)starting or re-pointing a node as `new` after `current` is a role change, so
/// that `on_role_change` fires instead of `on_start`/`on_restart`/`on_reload`: a former
/// primary (or demoted one) becoming a replica, or a replica and a standby leader trading
/// places; only once some callback fired since the daemon started, as upstream.
pub fn is_role_change(called: bool, current: Role, new: Role) -> bool {
    let standby_pair = |a: Role, b: Role| {
        matches!(
            (a, b),
            (Role::Replica, Role::StandbyLeader) | (Role::StandbyLeader, Role::Replica)
        )
    };
    called
        && (matches!(current, Role::Primary | Role::Demoted | Role::Promoted)
            || standby_pair(current, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_gets_event_role_and_scope() {
        assert_eq!(
            callback_argv(
                "/usr/local/bin/cb.sh --flag 'a b'",
                CallbackAction::OnRoleChange,
                Role::Promoted,
                "batman"
            ),
            Some(
                [
                    "/usr/local/bin/cb.sh",
                    "--flag",
                    "a b",
                    "on_role_change",
                    "primary",
                    "batman"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(
            callback_argv("'unbalanced", CallbackAction::OnStart, Role::Replica, "s"),
            None
        );
        assert_eq!(
            callback_argv("  ", CallbackAction::OnStart, Role::Replica, "s"),
            None
        );
    }

    #[test]
    fn a_start_fires_what_it_owes_once_up() {
        let mut cb = Callbacks::default();
        cb.starting(Some(CallbackAction::OnStart));
        assert_eq!(cb.started(), Some(CallbackAction::OnStart));
        assert!(cb.called());
        cb.starting(Some(CallbackAction::OnRestart));
        assert_eq!(cb.started(), Some(CallbackAction::OnRestart));
        // A role change announced at the start owes nothing more.
        cb.starting(None);
        assert_eq!(cb.started(), None);
        // PostgreSQL came up by itself: on_start, as upstream.
        assert_eq!(cb.started(), Some(CallbackAction::OnStart));
    }

    #[test]
    fn found_running_fires_on_start_only_before_any_other_callback() {
        let mut cb = Callbacks::default();
        assert_eq!(cb.found_running(), Some(CallbackAction::OnStart));
        assert_eq!(cb.found_running(), None);
        let mut reloaded = Callbacks::default();
        reloaded.fire(CallbackAction::OnReload);
        assert!(!reloaded.called(), "on_reload does not count");
        assert_eq!(reloaded.found_running(), Some(CallbackAction::OnStart));
    }

    #[test]
    fn role_changes_as_upstream_counts_them() {
        use Role::*;
        for (called, current, new, change) in [
            (true, Primary, Replica, true),
            (true, Demoted, Replica, true),
            (true, Replica, StandbyLeader, true),
            (true, StandbyLeader, Replica, true),
            (true, Replica, Replica, false),
            (true, Uninitialized, Replica, false),
            (false, Demoted, Replica, false),
        ] {
            assert_eq!(
                is_role_change(called, current, new),
                change,
                "{called} {current:?} {new:?}"
            );
        }
    }
}
