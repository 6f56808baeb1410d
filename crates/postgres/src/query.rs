//! The queries that tell the HA loop and the REST API what PostgreSQL is doing
//! (docs/postgres.md), and the few statements that change it.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::{PgError, Postgresql};

/// One row of `pg_stat_replication`, as `/patroni` reports it.
pub use patroni_core::status::ReplicationInfo as ReplicationRow;

/// What one status query returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PgStatus {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// Current timeline (primary: from the WAL file name; replica: received or checkpoint TLI).
    pub timeline: u64,
    /// Primary: flush LSN.
    pub wal_position: u64,
    /// Replica: received LSN (max of receive and written).
    pub received_location: u64,
    /// Replica: replayed LSN.
    pub replayed_location: u64,
    /// Replica: WAL replay paused.
    pub replay_paused: bool,
    /// WAL receiver status (`streaming`, ...).
    pub receiver_status: Option<String>,
    /// `pg_postmaster_start_time()` rendered as Python renders a datetime.
    pub postmaster_start_time: Option<String>,
    /// `pg_last_xact_replay_timestamp()`.
    pub replayed_timestamp: Option<String>,
    /// `server_version_num`.
    pub server_version: i32,
    /// `restore_command` is set.
    pub has_restore_command: bool,
    /// Replica: the end of WAL the WAL receiver last heard of from its upstream (0 when none).
    pub latest_end_lsn: u64,
    /// Primary: `pg_stat_replication`.
    pub replication: Vec<ReplicationRow>,
}

impl PgStatus {
    /// Primary: flush LSN; replica: max(received, replayed).
    pub fn lsn(&self) -> u64 {
        if self.in_recovery {
            self.received_location.max(self.replayed_location)
        } else {
            self.wal_position
        }
    }

    /// `streaming` / `in archive recovery` for a replica, as Patroni reports it.
    pub fn replication_state(&self) -> Option<&'static str> {
        if !self.in_recovery {
            return None;
        }
        match self.receiver_status.as_deref() {
            Some("streaming") => Some("streaming"),
            _ if self.has_restore_command => Some("in archive recovery"),
            _ => None,
        }
    }
}

const STATUS_SQL: &str = "SELECT pg_catalog.pg_is_in_recovery(),
 CASE WHEN pg_catalog.pg_is_in_recovery() THEN 0
      ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
 CASE WHEN pg_catalog.pg_is_in_recovery() THEN 0
      ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_flush_lsn(), '0/0')::bigint END,
 pg_catalog.pg_wal_lsn_diff(GREATEST(COALESCE(pg_catalog.pg_last_wal_receive_lsn(), '0/0'), COALESCE(r.written_lsn, '0/0')), '0/0')::bigint,
 pg_catalog.pg_wal_lsn_diff(COALESCE(pg_catalog.pg_last_wal_replay_lsn(), '0/0'), '0/0')::bigint,
 pg_catalog.pg_is_in_recovery() AND pg_catalog.pg_is_wal_replay_paused(),
 r.status,
 GREATEST(r.received_tli, (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))::bigint,
 pg_catalog.to_char(pg_catalog.pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
 pg_catalog.to_char(pg_catalog.pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
 pg_catalog.current_setting('server_version_num')::int,
 pg_catalog.current_setting('restore_command') <> '',
 pg_catalog.pg_wal_lsn_diff(COALESCE(r.latest_end_lsn, '0/0'), '0/0')::bigint
FROM (SELECT 1) AS dummy LEFT JOIN pg_catalog.pg_stat_get_wal_receiver() AS r ON true";

const REPLICATION_SQL: &str =
    "SELECT usename, application_name, client_addr::text, state, sync_state, sync_priority
 FROM pg_catalog.pg_stat_replication ORDER BY application_name";

impl Postgresql {
    /// Opens the superuser "heartbeat" connection to the local PostgreSQL.
    pub(crate) async fn connect(&self) -> Result<Client, PgError> {
        self.connect_as("Patroni heartbeat", "-c statement_timeout=2000")
            .await
    }

    /// Opens a superuser connection to the local PostgreSQL with its own application name and
    /// session options (the address rules of docs/architecture.md, "Connections").
    async fn connect_as(&self, application_name: &str, options: &str) -> Result<Client, PgError> {
        let config = self.config();
        let pg = &config.postgresql;
        let host = self.local_host();
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&host)
            .port(pg.port)
            .user(&pg.superuser.username)
            .dbname(&pg.database)
            .application_name(application_name)
            .connect_timeout(Duration::from_secs(3))
            .options(options);
        if let Some(pw) = &pg.superuser.password {
            cfg.password(pw);
        }
        let (client, connection) = cfg.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("PostgreSQL connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// The address our own connections to the local PostgreSQL use. Like upstream: the
    /// loopback when PostgreSQL listens there (any entry), else its first address. 127.0.0.1
    /// rather than upstream's `localhost`, which may resolve to ::1 first where only IPv4
    /// listens.
    pub(crate) fn local_host(&self) -> String {
        let config = self.config();
        let addresses: Vec<&str> = config
            .postgresql
            .listen_addresses
            .split(',')
            .map(str::trim)
            .collect();
        let loopback = addresses.iter().any(|a| {
            matches!(
                a.to_ascii_lowercase().as_str(),
                "*" | "0.0.0.0" | "" | "127.0.0.1" | "localhost"
            )
        });
        match addresses.first().copied().unwrap_or("") {
            _ if loopback => "127.0.0.1".into(),
            "::" | "::1" => "::1".into(),
            other => other.into(),
        }
    }

    async fn client(&self) -> Result<Arc<Client>, PgError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.is_closed() {
                return Ok(Arc::clone(c));
            }
        }
        let c = Arc::new(self.connect().await?);
        *guard = Some(Arc::clone(&c));
        Ok(c)
    }

    async fn drop_connection_on_error<T>(
        &self,
        r: Result<T, tokio_postgres::Error>,
    ) -> Result<T, PgError> {
        if r.is_err() {
            *self.conn.lock().await = None;
        }
        Ok(r?)
    }

    /// The status query of each HA cycle and of `GET /patroni`.
    pub async fn status(&self) -> Result<PgStatus, PgError> {
        let client = self.client().await?;
        let row = self
            .drop_connection_on_error(client.query_one(STATUS_SQL, &[]).await)
            .await?;
        let to_u64 = |i: i64| u64::try_from(i).unwrap_or(0);
        let mut st = PgStatus {
            in_recovery: row.get(0),
            timeline: u64::try_from(row.get::<_, i32>(1)).unwrap_or(0),
            wal_position: to_u64(row.get(2)),
            received_location: to_u64(row.get(3)),
            replayed_location: to_u64(row.get(4)),
            replay_paused: row.get(5),
            receiver_status: row.get(6),
            postmaster_start_time: row.get(8),
            replayed_timestamp: row.get(9),
            server_version: row.get(10),
            has_restore_command: row.get(11),
            latest_end_lsn: to_u64(row.get(12)),
            replication: Vec::new(),
        };
        if st.in_recovery {
            st.timeline = row.get::<_, Option<i64>>(7).map(to_u64).unwrap_or(0);
        } else {
            let rows = self
                .drop_connection_on_error(client.query(REPLICATION_SQL, &[]).await)
                .await?;
            st.replication = rows
                .iter()
                .map(|r| ReplicationRow {
                    usename: r.get(0),
                    application_name: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    client_addr: r.get(2),
                    state: r.get(3),
                    sync_state: r.get(4),
                    sync_priority: r.get::<_, Option<i32>>(5).unwrap_or(0),
                })
                .collect();
        }
        Ok(st)
    }

    /// Runs `CHECKPOINT` on a connection of its own with no statement timeout, so the shared
    /// connection keeps its 2 s limit; `timeout` bounds the wait from our side.
    pub async fn checkpoint(&self, timeout: Duration) -> Result<(), PgError> {
        let client = self
            .connect_as("Patroni checkpoint", "-c statement_timeout=0")
            .await?;
        match tokio::time::timeout(timeout, client.batch_execute("CHECKPOINT")).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(PgError::Timeout(format!(
                "CHECKPOINT did not finish within {timeout:?}"
            ))),
        }
    }

    /// Runs one SQL batch as the superuser.
    pub async fn execute(&self, sql: &str) -> Result<(), PgError> {
        let client = self.client().await?;
        self.drop_connection_on_error(client.batch_execute(sql).await)
            .await
    }

    /// Parameters whose new value needs a restart: (name, current setting with its unit).
    pub async fn pending_restart(&self) -> Result<Vec<(String, String)>, PgError> {
        let client = self.client().await?;
        let rows = self
            .drop_connection_on_error(
                client
                    .query("SELECT name, setting || COALESCE(unit, '') FROM pg_catalog.pg_settings WHERE pending_restart ORDER BY name", &[])
                    .await,
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Physical replication slots that exist: (name, active).
    pub async fn physical_slots(&self) -> Result<Vec<(String, bool)>, PgError> {
        let client = self.client().await?;
        let rows = self
            .drop_connection_on_error(
                client
                    .query("SELECT slot_name::text, active FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' AND NOT temporary", &[])
                    .await,
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Creates a physical slot reserving WAL now, if missing.
    pub async fn create_physical_slot(&self, name: &str) -> Result<(), PgError> {
        let client = self.client().await?;
        self.drop_connection_on_error(
            client
                .execute(
                    "SELECT pg_catalog.pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)",
                    &[&name],
                )
                .await,
        )
        .await
        .map(|_| ())
    }

    /// Drops an inactive slot.
    pub async fn drop_slot(&self, name: &str) -> Result<(), PgError> {
        let client = self.client().await?;
        self.drop_connection_on_error(
            client
                .execute(
                    "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND NOT active",
                    &[&name],
                )
                .await,
        )
        .await
        .map(|_| ())
    }
}
