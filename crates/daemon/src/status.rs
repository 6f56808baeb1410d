//! The pieces of the status document both the member key and `GET /patroni` carry.

use serde_json::{json, Map, Value};

use crate::state::PendingRestart;

/// `{"param": {"old_value": .., "new_value": ..}}` for `pending_restart_reason`.
pub fn pending_restart_reason(pending: &[PendingRestart]) -> Value {
    let mut m = Map::new();
    for p in pending {
        m.insert(
            p.name.clone(),
            json!({"old_value": p.old, "new_value": p.new}),
        );
    }
    Value::Object(m)
}
