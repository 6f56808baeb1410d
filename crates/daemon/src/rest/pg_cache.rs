//! The PostgreSQL status behind the REST answers, read at most once per [`MAX_AGE`].
//!
//! A load balancer, a monitoring scrape and a burst of requests all want the same few
//! columns; querying PostgreSQL for each one made every request wait on two round trips and
//! capped throughput below Patroni's. Requests now share one query: while it runs, the others
//! wait for its result. An entry is also dropped as soon as this process starts, stops,
//! promotes or reloads PostgreSQL, or the HA loop's view of its state changes, so an answer
//! never describes a server state we have since changed, and is never older than `MAX_AGE`.

use std::time::{Duration, Instant};

use patroni_core::state::{PgState, Role};
use patroni_postgres::{PgError, PgStatus};

use super::Api;

/// How long one status query answers for.
const MAX_AGE: Duration = Duration::from_millis(500);

/// The last status read for the REST API.
#[derive(Default)]
pub struct StatusCache(tokio::sync::Mutex<Option<Entry>>);

struct Entry {
    status: PgStatus,
    at: Instant,
    /// The loop's `pg_state`, role and PostgreSQL's change counter when it was read.
    seen: (PgState, Role, u64),
}

impl Api {
    /// PostgreSQL's status, from a query at most `MAX_AGE` old.
    pub(crate) async fn pg_status(&self) -> Result<PgStatus, PgError> {
        let seen = {
            let s = self.shared.snap();
            (s.pg_state.clone(), s.role, self.pg.changes())
        };
        let mut cache = self.status_cache.0.lock().await;
        if let Some(e) = cache
            .as_ref()
            .filter(|e| e.at.elapsed() < MAX_AGE && e.seen == seen)
        {
            return Ok(e.status.clone());
        }
        let status = self.pg.status().await;
        *cache = status.as_ref().ok().map(|st| Entry {
            status: st.clone(),
            at: Instant::now(),
            seen,
        });
        status
    }
}
