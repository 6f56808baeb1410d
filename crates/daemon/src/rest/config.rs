//! `PATCH /config` and `PUT /config`: the dynamic configuration in the DCS.

use patroni_core::config::value::deep_merge;
use serde_json::Value;

use super::switchover::json_body;
use super::{Api, Request, Response};

/// A 400 naming each key the change asks for that patroni-rs cannot honour yet (synchronous
/// mode, standby cluster...); keys already in `/config` before are left alone.
fn refused_keys(before: &Value, after: &Value) -> Option<Response> {
    let new = patroni_core::config::newly_refused(before, after);
    (!new.is_empty()).then(|| Response::Text(400, new.join("\n")))
}

impl Api {
    /// `PATCH /config`: deep-merges the body (`null` deletes) and writes it back only if the
    /// key still has the version read (409 otherwise). Answers the resulting configuration.
    pub(crate) async fn patch_config(&self, req: &Request) -> Response {
        let patch = match json_body(req) {
            Ok(b) => Value::Object(b),
            Err(r) => return r,
        };
        let Ok(cluster) = self.dcs.get_cluster().await else {
            return Response::Error(503);
        };
        let Some(config) = cluster.config.as_ref().filter(|c| c.valid) else {
            return Response::Error(503);
        };
        let mut merged = config.data.clone();
        deep_merge(&mut merged, &patch);
        if let Some(refused) = refused_keys(&config.data, &merged) {
            return refused;
        }
        if merged != config.data {
            let text = serde_json::to_string(&merged).unwrap_or_else(|_| "{}".into());
            match self.dcs.set_config_value(&text, Some(config.version)).await {
                Ok(true) => {}
                Ok(false) => return Response::Error(409),
                Err(_) => return Response::Error(503),
            }
        }
        Response::Json(200, merged)
    }

    /// `PUT /config`: replaces the configuration (unconditionally) and echoes the body.
    pub(crate) async fn put_config(&self, req: &Request) -> Response {
        let body = match json_body(req) {
            Ok(b) => Value::Object(b),
            Err(r) => return r,
        };
        let current = self
            .dcs
            .get_cluster()
            .await
            .ok()
            .and_then(|c| c.config_data().cloned());
        let empty = Value::Object(serde_json::Map::new());
        if let Some(refused) = refused_keys(current.as_ref().unwrap_or(&empty), &body) {
            return refused;
        }
        if current.as_ref() != Some(&body) {
            let text = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
            if !matches!(self.dcs.set_config_value(&text, None).await, Ok(true)) {
                return Response::Error(502);
            }
        }
        Response::Json(200, body)
    }
}
