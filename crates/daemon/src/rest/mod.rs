//! The REST API (docs/rest-api.md): health checks for HAProxy and load balancers, `/patroni`,
//! `/cluster`, `/history`, `/config`, `/liveness`, `/readiness`, `/metrics`.
//!
//! The HTTP side (reading requests within limits, rendering responses) is in `http`; this
//! module routes requests to the handlers.

mod config;
mod health;
mod http;
mod pg_cache;
mod restart;
mod status;
mod switchover;

use std::sync::Arc;

use patroni_core::config::Config;
use patroni_core::dcs::Dcs;
use patroni_postgres::Postgresql;

use crate::state::Shared;
use restart::Outcome;

pub use http::{serve, Request, Response};

/// Everything the handlers need.
pub struct Api {
    pub(crate) shared: Arc<Shared>,
    pub(crate) pg: Arc<Postgresql>,
    pub(crate) dcs: Arc<dyn Dcs>,
    /// Requests the HA loop carries out (restart, reinitialize).
    pub(crate) commands: tokio::sync::mpsc::Sender<crate::commands::Command>,
    /// PostgreSQL's status shared by concurrent requests.
    pub(crate) status_cache: pg_cache::StatusCache,
}

/// Handlers whose POST/PUT/PATCH/DELETE need `restapi.authentication`: upstream's list, which
/// forgot `mpp`, so a client may expect it to stay open.
const UNSAFE_ENDPOINTS: &[&str] = &[
    "config",
    "reload",
    "failsafe",
    "sigterm",
    "restart",
    "switchover",
    "reinitialize",
    "failover",
    "citus",
];

impl Api {
    /// The local configuration in force (it changes on reload).
    pub(crate) fn config(&self) -> Arc<Config> {
        self.shared.config()
    }

    /// Basic auth for unsafe endpoints when `restapi.authentication` is set, compared in
    /// constant time so the answer's timing does not reveal how much of a guess was right.
    fn authorized(&self, req: &Request) -> bool {
        let Some(expected) =
            patroni_rest_client::basic_auth(self.config().restapi.authentication.as_ref())
        else {
            return true;
        };
        let Some(got) = req
            .authorization
            .as_deref()
            .and_then(|h| h.strip_prefix("Basic "))
        else {
            return false;
        };
        let (a, b) = (got.trim().as_bytes(), expected.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn unauthorized(&self, req: &Request) -> Response {
        match req.authorization {
            None => Response::Unauthorized("no auth header received"),
            Some(_) => Response::Unauthorized("not authenticated"),
        }
    }

    async fn route(&self, req: &Request) -> Response {
        let first = req
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        let unsafe_method = matches!(req.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
        if unsafe_method && UNSAFE_ENDPOINTS.contains(&first) && !self.authorized(req) {
            return self.unauthorized(req);
        }
        match (req.method.as_str(), first) {
            ("HEAD" | "OPTIONS", _) => Response::StatusOnly(self.health_code(req, None).await),
            ("GET", "patroni") => Response::Json(200, self.status_document(true).await.to_json()),
            ("GET", "cluster") => self.cluster().await,
            ("GET", "history") => self.history().await,
            ("GET", "config") => self.config_doc().await,
            ("GET", "liveness") => Response::StatusOnly(self.liveness()),
            ("GET", "readiness") => Response::StatusOnly(self.readiness(req).await),
            ("GET", "metrics") => self.metrics().await,
            ("GET", "failsafe") => Response::Error(502),
            ("PATCH", "config") => self.patch_config(req).await,
            ("POST", "restart") => self.post_restart(req).await,
            ("POST", "reinitialize") => self.post_reinitialize(req).await,
            ("POST", "reload") => {
                // Like SIGHUP: the loop re-reads the file at the start of its next cycle.
                self.shared
                    .reload_requested
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                self.shared.wake.notify_one();
                Response::Text(202, "reload scheduled".into())
            }
            ("DELETE", "restart") => {
                self.ask_loop(crate::commands::Command::Cancel, Outcome::Cancel)
                    .await
            }
            ("PUT", "config") => self.put_config(req).await,
            ("POST", "switchover") => self.post_switchover(req, false).await,
            ("POST", "failover") => self.post_switchover(req, true).await,
            ("DELETE", "switchover") => self.delete_switchover().await,
            ("GET", _) => {
                let doc = self.status_document(false).await;
                let code = self.health_code(req, Some(&doc)).await;
                Response::Json(code, doc.to_json())
            }
            _ => Response::Error(501),
        }
    }
}
