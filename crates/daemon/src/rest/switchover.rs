//! `POST /switchover`, `POST /failover` and `DELETE /switchover` (docs/rest-api.md): validate
//! the request, check a candidate can take over, write the `failover` key, and wait for the
//! new leader.

use std::time::{Duration, Instant};

use patroni_core::cluster::Cluster;
use patroni_core::schedule::{self, ScheduleError};
use serde_json::{Map, Value};

use super::{Api, Request, Response};

fn text(code: u16, message: impl Into<String>) -> Response {
    Response::Text(code, message.into())
}

/// The JSON object of a request body: 411 without `Content-Length`, 400 when not a
/// non-empty JSON object.
pub(crate) fn json_body(req: &Request) -> Result<Map<String, Value>, Response> {
    let Some(body) = &req.body else {
        return Err(Response::Error(411));
    };
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) if !m.is_empty() => Ok(m),
        _ => Err(Response::Error(400)),
    }
}

fn field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Response> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(text(400, format!("{key} should be a string"))),
    }
}

impl Api {
    /// `POST /switchover` (`failover == false`) and `POST /failover`.
    pub(crate) async fn post_switchover(&self, req: &Request, failover: bool) -> Response {
        let body = match json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let (leader, candidate, scheduled_at) = match (
            field(&body, "leader"),
            field(&body, "candidate"),
            field(&body, "scheduled_at"),
        ) {
            (Ok(l), Ok(c), Ok(s)) => (l, c, s),
            (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
        };
        let candidate = match candidate {
            Some(c) => Some(c),
            None => match field(&body, "member") {
                Ok(m) => m,
                Err(r) => return r,
            },
        };
        if failover && candidate.is_none() {
            return text(
                400,
                "Failover could be performed only to a specific candidate",
            );
        }
        if !failover && leader.is_none() {
            return text(
                400,
                "Switchover could be performed only from a specific leader",
            );
        }
        let paused = self.shared.snap().dynamic.pause;
        let mut scheduled = None;
        if let Some(at) = &scheduled_at {
            if failover {
                return text(400, "Failover can't be scheduled");
            }
            if paused {
                return text(400, "Can't schedule switchover in the paused state");
            }
            match schedule::parse(at) {
                Ok(when) if when < chrono::Utc::now().fixed_offset() => {
                    return text(422, "Cannot schedule switchover in the past")
                }
                Ok(when) => scheduled = Some(when),
                Err(ScheduleError::NoTimezone) => {
                    return text(400, "Timezone information is mandatory for the scheduled switchover")
                }
                Err(ScheduleError::Unparsable) => {
                    return text(422, "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601")
                }
            }
        }
        if paused && candidate.is_none() {
            return text(
                400,
                "Switchover is possible only to a specific candidate in a paused state",
            );
        }
        if failover && leader.is_some() {
            tracing::info!(
                "received failover request with leader specified - performing switchover instead"
            );
        }
        let action = if leader.is_some() {
            "switchover"
        } else {
            "failover"
        };
        if leader.is_some() && leader == candidate {
            return text(400, "Switchover target and source are the same");
        }
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(_) => return text(503, "failed to read the cluster from DCS"),
        };
        if scheduled.is_none() {
            if let Err(message) = self
                .switchover_possible(&cluster, action, leader.as_deref(), candidate.as_deref())
                .await
            {
                return text(412, message);
            }
        }
        let mut value = Map::new();
        if let Some(l) = &leader {
            value.insert("leader".into(), Value::String(l.clone()));
        }
        if let Some(c) = &candidate {
            value.insert("member".into(), Value::String(c.clone()));
        }
        if let Some(when) = &scheduled {
            value.insert(
                "scheduled_at".into(),
                Value::String(schedule::isoformat(when)),
            );
        }
        let value = serde_json::to_string(&value).unwrap_or_else(|_| "{}".into());
        if !matches!(self.dcs.set_failover_value(&value, None).await, Ok(true)) {
            return text(503, "failed to write failover key into DCS");
        }
        if scheduled.is_some() {
            return text(202, "Switchover scheduled");
        }
        self.wait_for_new_leader(&cluster, action, candidate.as_deref())
            .await
    }

    /// Whether the handover can happen now, checked as upstream checks it before writing the
    /// key, so a request that cannot succeed is refused (412) instead of left pending.
    async fn switchover_possible(
        &self,
        cluster: &Cluster,
        action: &str,
        leader: Option<&str>,
        candidate: Option<&str>,
    ) -> Result<(), String> {
        if let Some(l) = leader {
            if cluster.leader_name() != Some(l) {
                return Err("leader name does not match".into());
            }
        }
        let holder = cluster.leader_name().unwrap_or("");
        if let Some(c) = candidate {
            if cluster.member(c).is_none() {
                return Err("candidate does not exists".into());
            }
        } else if !cluster
            .members
            .iter()
            .any(|m| m.name != holder && m.api_url().is_some())
        {
            return Err(format!(
                "{action} is not possible: cluster does not have members except leader"
            ));
        }
        let mut view = cluster.clone();
        view.members
            .retain(|m| m.name != holder && candidate.is_none_or(|c| c == m.name));
        let auth = patroni_rest_client::basic_auth(self.config().rest_client_credentials());
        let polls = view.members.iter().filter_map(|m| {
            let url = m.api_url()?.to_string();
            let name = m.name.clone();
            let auth = auth.clone();
            Some(async move {
                let (_, doc) =
                    patroni_rest_client::get_json(&url, Duration::from_secs(2), auth.as_deref())
                        .await
                        .ok()?;
                patroni_core::peer::PeerStatus::parse(&name, &doc)
            })
        });
        let peers: Vec<_> = futures::future::join_all(polls)
            .await
            .into_iter()
            .flatten()
            .collect();
        if peers.iter().any(|p| !p.nofailover && !p.watchdog_failed) {
            Ok(())
        } else {
            Err(format!(
                "{action} is not possible: no good candidates have been found"
            ))
        }
    }

    /// Polls the DCS once a second until the leader changes or the key is cleared.
    async fn wait_for_new_leader(
        &self,
        before: &Cluster,
        action: &str,
        candidate: Option<&str>,
    ) -> Response {
        let old = before.leader_name().map(str::to_string);
        let loop_wait = u64::from(self.shared.snap().dynamic.timing.loop_wait);
        let deadline = Instant::now() + Duration::from_secs(2 * loop_wait.max(10));
        let (ok_word, changed_word, failed) = if action == "switchover" {
            (
                "Successfully switched over to",
                "Switched over to",
                "Switchover",
            )
        } else {
            ("Successfully failed over to", "Failed over to", "Failover")
        };
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Ok(c) = self.dcs.get_cluster().await else {
                continue;
            };
            if let Some(new) = c.leader_name().filter(|n| Some(*n) != old.as_deref()) {
                return match candidate {
                    Some(cand) if cand != new => text(
                        200,
                        format!("{changed_word} \"{new}\" instead of \"{cand}\""),
                    ),
                    _ => text(200, format!("{ok_word} \"{new}\"")),
                };
            }
            if c.failover.is_none() {
                return text(503, format!("{failed} failed"));
            }
        }
        text(503, format!("{failed} status unknown"))
    }

    /// `DELETE /switchover`: cancels a scheduled switchover.
    pub(crate) async fn delete_switchover(&self) -> Response {
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(_) => return Response::Error(503),
        };
        match cluster.failover.filter(|f| f.scheduled_at.is_some()) {
            Some(f) => match self.dcs.set_failover_value("{}", Some(f.version)).await {
                Ok(true) => text(200, "scheduled switchover deleted"),
                _ => Response::Error(409),
            },
            None => text(404, "no switchover is scheduled"),
        }
    }
}
