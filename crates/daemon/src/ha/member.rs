//! Our member key (`members/<name>`), in the field order Patroni 4.1 writes (docs/dcs.md,
//! "Keys").

use patroni_core::state::PgState;
use serde_json::{json, Map, Value};

use super::Ha;

impl Ha {
    /// The JSON of our member key.
    pub(crate) fn member_json(&self) -> String {
        let snap = self.shared.snap().clone();
        let mut m = Map::new();
        m.insert("conn_url".into(), json!(self.config.conn_url()));
        m.insert("api_url".into(), json!(self.config.api_url()));
        m.insert("state".into(), json!(snap.pg_state.as_str()));
        m.insert("role".into(), json!(snap.role.as_str()));
        m.insert("version".into(), json!(patroni_core::PATRONI_VERSION));
        if snap.checkpoint_pending {
            m.insert("checkpoint_after_promote".into(), json!(false));
        }
        if !self.config.tags.published.is_empty() {
            m.insert(
                "tags".into(),
                Value::Object(self.config.tags.published.clone()),
            );
        }
        if !snap.pending_restart.is_empty() {
            m.insert("pending_restart".into(), json!(true));
            m.insert(
                "pending_restart_reason".into(),
                crate::status::pending_restart_reason(&snap.pending_restart),
            );
        }
        if let Some(st) = self
            .status
            .as_ref()
            .filter(|_| snap.pg_state == PgState::Running)
        {
            m.insert("xlog_location".into(), json!(st.lsn()));
            if st.in_recovery {
                if st.replayed_location > 0 {
                    m.insert("replay_lsn".into(), json!(st.replayed_location));
                }
                if st.received_location > 0 {
                    m.insert("receive_lsn".into(), json!(st.received_location));
                }
                if let Some(rs) = st.replication_state() {
                    m.insert("replication_state".into(), json!(rs));
                }
            }
            if st.timeline > 0 {
                m.insert("timeline".into(), json!(st.timeline));
            }
        }
        if let Some(s) = &snap.scheduled_restart {
            m.insert("scheduled_restart".into(), s.to_json(true));
        }
        if snap.dynamic.pause {
            m.insert("pause".into(), json!(true));
        }
        serde_json::to_string(&Value::Object(m)).unwrap_or_else(|_| "{}".into())
    }
}
