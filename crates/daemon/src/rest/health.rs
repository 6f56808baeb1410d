//! Health-check status codes (rest-api.md §3–§4, changes-4x.md §9.1, §9.3).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Api, Request};

/// Parses `lag` (`1048576`, `16kB`, `10MB`, ...) into bytes.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parses seconds with an optional unit (`30`, `30s`, `2min`, `1h`).
pub fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(n * mult)
}

impl Api {
    /// The code for a health-check path; `doc` is the status document when already built.
    pub(crate) async fn health_code(&self, req: &Request, doc: Option<&Value>) -> u16 {
        let owned;
        let doc = match doc {
            Some(d) => d,
            None => {
                owned = self.status_document(false).await;
                &owned
            }
        };
        let role = doc.get("role").and_then(Value::as_str).unwrap_or("");
        let state = doc.get("state").and_then(Value::as_str).unwrap_or("");
        let cluster = self.fresh_cluster();
        let is_leader = self.shared.is_leader(&self.config().name);
        let paused = doc.get("pause").is_some();
        let leader_lsn = cluster.as_ref().map(|c| c.status.last_lsn).unwrap_or(0);
        let max_lag = req.param("lag").and_then(parse_bytes);
        let replayed = doc
            .get("xlog")
            .and_then(|x| x.get("replayed_location"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let lagging = matches!(max_lag, Some(m) if leader_lsn != 0 && leader_lsn > replayed.saturating_add(m));
        let replica_code = if !self.config().tags.noloadbalance
            && !lagging
            && role == "replica"
            && state == "running"
        {
            200
        } else {
            503
        };
        let (leader_code, primary_code, standby_leader_code) = if cluster.is_none() && paused {
            (
                if matches!(role, "master" | "primary" | "standby_leader") {
                    200
                } else {
                    503
                },
                if matches!(role, "master" | "primary") {
                    200
                } else {
                    503
                },
                if role == "standby_leader" { 200 } else { 503 },
            )
        } else if is_leader {
            (200, 200, 503)
        } else {
            (503, 503, 503)
        };
        let path = if req.path == "/" {
            "/primary"
        } else {
            req.path.as_str()
        };
        let code = if path.contains("standby_leader") || path.contains("standby-leader") {
            return standby_leader_code;
        } else if path.contains("leader") {
            return leader_code;
        } else if path.contains("master") || path.contains("primary") || path.contains("read-write")
        {
            return primary_code;
        } else if path.contains("replica") {
            replica_code
        } else if path.contains("read-only") && !path.contains("sync") && !path.contains("quorum") {
            if primary_code == 200 || standby_leader_code == 200 {
                200
            } else {
                replica_code
            }
        } else if path.contains("health") {
            if state == "running" {
                200
            } else {
                503
            }
        } else if cluster.is_some() && matches!(path, "/async" | "/asynchronous") {
            replica_code
        } else if cluster.is_some()
            && matches!(
                path,
                "/read-only-sync" | "/read-only-synchronous" | "/read-only-quorum"
            )
        {
            if primary_code == 200 || standby_leader_code == 200 {
                200
            } else {
                503
            }
        } else {
            return 503;
        };
        if code != 200 {
            return code;
        }
        let config = self.config();
        for (k, v) in &req.query {
            let Some(tag) = k.strip_prefix("tag_") else {
                continue;
            };
            let matches = config.tags.published.get(tag).is_some_and(|t| match t {
                Value::String(s) => s == v,
                other => other.to_string().to_lowercase() == v.to_lowercase(),
            });
            if !matches {
                return 503;
            }
        }
        200
    }

    /// `GET /liveness`: the HA loop is not stuck.
    pub(crate) fn liveness(&self) -> u16 {
        let s = self.shared.snap();
        if s.dynamic.pause {
            return 200;
        }
        let ttl = u64::from(s.dynamic.timing.ttl);
        let primary = s.role == "primary" && s.pg_state == "running";
        let threshold = Duration::from_secs(if primary { ttl } else { 2 * ttl });
        if s.next_cycle + threshold > Instant::now() {
            200
        } else {
            503
        }
    }

    /// `GET /readiness` (4.1 rules).
    pub(crate) async fn readiness(&self) -> u16 {
        if self.shared.is_leader(&self.config().name) {
            return 200;
        }
        let (state, max_lag) = {
            let s = self.shared.snap();
            (s.pg_state.clone(), s.dynamic.maximum_lag_on_failover)
        };
        if state != "running" {
            return 503;
        }
        let Ok(st) = self.pg_status().await else {
            return 503;
        };
        if st.replication_state() != Some("streaming") {
            return 503;
        }
        let Some(cluster) = self.fresh_cluster() else {
            return 503;
        };
        if cluster.status.last_lsn.saturating_sub(st.replayed_location) > max_lag {
            return 503;
        }
        200
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lag_units() {
        assert_eq!(super::parse_bytes("1048576"), Some(1048576));
        assert_eq!(super::parse_bytes("16kB"), Some(16384));
        assert_eq!(super::parse_bytes("10MB"), Some(10 << 20));
        assert_eq!(super::parse_bytes("ten"), None);
    }
}
