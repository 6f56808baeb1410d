//! Requests to members' REST APIs and upstream's per-member result lines: one way to send
//! (endpoint, credentials, timeout), one `Failed: ...` line, one rule for what counts as
//! success, and the leader-first walk for requests any member can serve.

use std::time::Duration;

use patroni_core::cluster::{Cluster, Member};

use crate::context::Context;

/// A member's answer (status code and body), or why there was none.
pub type Reply = Result<(u16, String), String>;

/// One request: method, path on the member's API, JSON body, how long to wait.
pub struct Request<'a> {
    /// `POST`, `DELETE`, `PATCH`, `GET`.
    pub method: &'a str,
    /// The path, e.g. `/restart`.
    pub path: &'a str,
    /// The JSON body, if any.
    pub body: Option<&'a str>,
    /// How long to wait for the answer.
    pub timeout: Duration,
}

/// Sends `request` to `member`'s REST API with the configured credentials.
pub async fn send(ctx: &Context, member: &Member, request: &Request<'_>) -> Reply {
    let Some(url) = member.endpoint(request.path) else {
        return Err(format!("member {} has no REST API url", member.name));
    };
    patroni_rest_client::call(
        request.method,
        &url,
        request.body,
        request.timeout,
        ctx.rest_auth().as_deref(),
    )
    .await
    .map_err(|e| e.to_string())
}

/// `Failed: <action> for member <name>, status code=<code>, (<body>)`, or with the reason in
/// the parentheses when the member did not answer.
pub fn failed(action: &str, name: &str, reply: &Reply) -> String {
    match reply {
        Ok((code, body)) => {
            format!("Failed: {action} for member {name}, status code={code}, ({body})")
        }
        Err(e) => format!("Failed: {action} for member {name}, ({e})"),
    }
}

/// Upstream's generic check: a status below 400 is success (`Success: <action> for member
/// <name>`, left out when `silent`), anything else the [`failed`] line. Returns whether it
/// succeeded and the line to print.
pub fn check(action: &str, name: &str, reply: &Reply, silent: bool) -> (bool, Option<String>) {
    match reply {
        Ok((code, _)) if *code < 400 => (
            true,
            (!silent).then(|| format!("Success: {action} for member {name}")),
        ),
        _ => (false, Some(failed(action, name, reply))),
    }
}

/// Offers `request` to the members with a REST API, the leader first, until `done` (shown
/// each answer) says the matter is settled. Members that do not answer are reported on stderr
/// and skipped, as upstream logs them. Returns whether some answer settled it.
pub async fn leader_first(
    ctx: &Context,
    cluster: &Cluster,
    request: &Request<'_>,
    mut done: impl FnMut(&Member, u16, &str) -> bool,
) -> bool {
    for member in cluster.members_leader_first() {
        match send(ctx, member, request).await {
            Ok((code, body)) => {
                if done(member, code, &body) {
                    return true;
                }
            }
            Err(_) => eprintln!("Member {} is not accessible", member.name),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_lines() {
        assert_eq!(
            failed("reload", "pg1", &Ok((503, "busy".into()))),
            "Failed: reload for member pg1, status code=503, (busy)"
        );
        assert_eq!(
            failed("restart", "pg2", &Err("connection refused".into())),
            "Failed: restart for member pg2, (connection refused)"
        );
    }

    #[test]
    fn check_is_upstreams_check_response() {
        let ok: Reply = Ok((200, "done".into()));
        assert_eq!(
            check("reinitialize", "pg1", &ok, false),
            (true, Some("Success: reinitialize for member pg1".into()))
        );
        assert_eq!(
            check("flush scheduled restart", "pg1", &ok, true),
            (true, None)
        );
        assert!(check("reinitialize", "pg1", &Ok((202, String::new())), true).0);
        assert_eq!(
            check(
                "flush scheduled restart",
                "pg3",
                &Ok((404, "none".into())),
                true
            ),
            (
                false,
                Some(
                    "Failed: flush scheduled restart for member pg3, status code=404, (none)"
                        .into()
                )
            )
        );
        assert_eq!(
            check("reinitialize", "pg1", &Err("timed out".into()), false),
            (
                false,
                Some("Failed: reinitialize for member pg1, (timed out)".into())
            )
        );
    }
}
