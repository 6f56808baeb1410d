//! `POST /restart` and `DELETE /restart` (docs/rest-api.md): validate the
//! filters, then let the HA loop restart (or schedule) and wait for its answer.

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::oneshot;

use patroni_core::ha::{RestartFilters, RestartRefused};
use patroni_core::state::Role;

use super::{Api, Request, Response};
use crate::commands::{Command, Reply};

/// Which request a loop answer is for: each turns into its own upstream status and text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Restart,
    Schedule,
    Cancel,
    Reinitialize,
}

impl Outcome {
    /// Upstream's status code and text for the loop's answer.
    fn response(self, answer: Result<(), RestartRefused>) -> (u16, String) {
        match (self, answer) {
            (Outcome::Restart, Ok(())) => (200, "restarted successfully".into()),
            (Outcome::Schedule, Ok(())) => (202, "Restart scheduled".into()),
            (Outcome::Cancel, Ok(())) => (200, "scheduled restart deleted".into()),
            (Outcome::Reinitialize, Ok(())) => (200, "reinitialize started".into()),
            (_, Err(refused @ RestartRefused::AlreadyScheduled)) => (409, refused.to_string()),
            (_, Err(refused @ RestartRefused::NothingScheduled)) => (404, refused.to_string()),
            (_, Err(refused)) => (503, refused.to_string()),
        }
    }
}

/// `15.2` → 150002, `9.6.1` → 90601 (`server_version_num` form).
fn version_num(text: &str) -> Option<i32> {
    let parts: Vec<i32> = text
        .trim()
        .split('.')
        .map(|p| p.parse().ok().filter(|n: &i32| *n >= 0))
        .collect::<Option<_>>()?;
    // Checked: a version nobody runs ("999999") is invalid, not an overflow.
    let num = |major: i32, minor: i32, patch: i32| {
        major
            .checked_mul(10000)?
            .checked_add(minor.checked_mul(100)?)?
            .checked_add(patch)
    };
    match parts.as_slice() {
        [major] if *major >= 10 => num(*major, 0, 0),
        [major, minor] if *major >= 10 => num(*major, 0, *minor),
        [major, minor] => num(*major, *minor, 0),
        [major, minor, patch] if *major < 10 => num(*major, *minor, *patch),
        _ => None,
    }
}

fn text(code: u16, t: impl Into<String>) -> Response {
    Response::Text(code, t.into())
}

impl Api {
    /// Hands a request to the HA loop and waits for its answer.
    pub(crate) async fn ask_loop(
        &self,
        make: impl FnOnce(Reply) -> Command,
        outcome: Outcome,
    ) -> Response {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(make(tx)).await.is_err() {
            return text(503, "the HA loop is not running");
        }
        self.shared.wake.notify_one();
        match tokio::time::timeout(Duration::from_secs(300), rx).await {
            Ok(Ok(answer)) => {
                let (code, message) = outcome.response(answer);
                text(code, message)
            }
            _ => text(503, "restart failed"),
        }
    }

    /// `POST /reinitialize` (body optional: `force`, `from_leader`; we always clone from the
    /// leader with pg_basebackup, so both are accepted and change nothing yet).
    pub(crate) async fn post_reinitialize(&self, req: &Request) -> Response {
        match req.body.as_deref() {
            None | Some([]) => {}
            Some(b) => match serde_json::from_slice::<Value>(b) {
                Ok(Value::Object(m)) => {
                    for key in ["force", "from_leader"] {
                        if m.get(key).is_some_and(|v| !v.is_boolean()) {
                            return text(400, format!("{key} should be a boolean"));
                        }
                    }
                }
                _ => return Response::Error(400),
            },
        }
        self.ask_loop(Command::Reinitialize, Outcome::Reinitialize)
            .await
    }

    /// `POST /restart`.
    pub(crate) async fn post_restart(&self, req: &Request) -> Response {
        let body: Map<String, Value> = match req.body.as_deref() {
            None | Some([]) => Map::new(),
            Some(b) => match serde_json::from_slice::<Value>(b) {
                Ok(Value::Object(m)) => m,
                _ => return Response::Error(400),
            },
        };
        let mut filters = RestartFilters::default();
        let mut schedule = None;
        for (key, value) in &body {
            match key.as_str() {
                "schedule" => {
                    let Some(s) = value.as_str() else {
                        return text(400, "schedule should be a string");
                    };
                    if self.shared.snap().dynamic.pause {
                        return text(500, "Can't schedule restart in the paused state");
                    }
                    match patroni_core::schedule::parse(s) {
                        Ok(when) if when < chrono::Utc::now().fixed_offset() => return text(422, "Cannot schedule restart in the past"),
                        Ok(when) => schedule = Some(when),
                        Err(patroni_core::schedule::ScheduleError::NoTimezone) => {
                            return text(400, "Timezone information is mandatory for the scheduled restart")
                        }
                        Err(_) => {
                            return text(422, "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601")
                        }
                    }
                }
                "role" => {
                    match value.as_str() {
                        Some("primary") => filters.role = Some(Role::Primary),
                        Some("standby_leader") => filters.role = Some(Role::StandbyLeader),
                        Some("replica") => filters.role = Some(Role::Replica),
                        _ => return text(
                            400,
                            "PostgreSQL role should be either primary, standby_leader, or replica",
                        ),
                    }
                }
                "postgres_version" => {
                    let v = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    match version_num(&v) {
                        Some(n) => {
                            filters.postgres_version = Some(n);
                            filters.postgres_version_text = Some(v);
                        }
                        None => return text(400, format!("invalid version number: {v}")),
                    }
                }
                "timeout" => {
                    let seconds = match value {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => super::health::parse_seconds(s),
                        _ => None,
                    };
                    match seconds {
                        // 1e300 seconds is "as long as it gets": kept within a u32 so the
                        // deadline computed from it cannot overflow.
                        Some(s) if s > 0.0 => {
                            filters.timeout = Some(s.ceil().min(f64::from(u32::MAX)) as u64)
                        }
                        _ => return text(400, "Timeout should be a positive number of seconds"),
                    }
                }
                "restart_pending" => filters.restart_pending = true,
                other => {
                    return text(
                        400,
                        format!("Unknown filter for the scheduled restart: {other}"),
                    )
                }
            }
        }
        match schedule {
            Some(at) => {
                self.ask_loop(
                    |reply| Command::Schedule(at, filters, reply),
                    Outcome::Schedule,
                )
                .await
            }
            None => {
                self.ask_loop(|reply| Command::Restart(filters, reply), Outcome::Restart)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert_eq!(super::version_num("15.2"), Some(150002));
        assert_eq!(super::version_num("16"), Some(160000));
        assert_eq!(super::version_num("9.6.1"), Some(90601));
        assert_eq!(super::version_num("x"), None);
        assert_eq!(super::version_num("999999"), None);
        assert_eq!(super::version_num("214748.99999"), None);
        assert_eq!(super::version_num("-5.-5"), None);
    }
}
