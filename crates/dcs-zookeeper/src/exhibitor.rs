//! Exhibitor (docs/dcs.md): the ZooKeeper servers come from
//! `http://<host>:<port>/exhibitor/v1/cluster/list`, read at start and every
//! `poll_interval`. A changed list is used by the next session; the current one stays, since
//! closing it would drop the lock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use patroni_core::config::ExhibitorConfig;
use patroni_core::dcs::DcsError;
use serde_json::Value;

/// The server list Exhibitor last gave, kept fresh by a poll task.
pub struct Exhibitor {
    config: ExhibitorConfig,
    hosts: Mutex<String>,
}

impl Exhibitor {
    /// Reads the list once (failing when no Exhibitor host answers) and starts polling.
    pub async fn start(config: &ExhibitorConfig) -> Result<Arc<Exhibitor>, DcsError> {
        let hosts = fetch(config).await?;
        let exhibitor = Arc::new(Exhibitor {
            config: config.clone(),
            hosts: Mutex::new(hosts),
        });
        let weak = Arc::downgrade(&exhibitor);
        let interval = Duration::from_secs(config.poll_interval.max(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(e) = weak.upgrade() else { return };
                match fetch(&e.config).await {
                    Ok(hosts) => {
                        let mut current = e.hosts.lock().unwrap_or_else(|p| p.into_inner());
                        if *current != hosts {
                            tracing::info!("Exhibitor lists new ZooKeeper servers: {hosts}");
                            *current = hosts;
                        }
                    }
                    Err(err) => tracing::warn!("{err}"),
                }
            }
        });
        Ok(exhibitor)
    }

    /// The connect string (`host:port,...`) of the last list.
    pub fn hosts(&self) -> String {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

async fn fetch(config: &ExhibitorConfig) -> Result<String, DcsError> {
    let mut last = String::from("no exhibitor host configured");
    for host in &config.hosts {
        let url = format!("http://{host}:{}/exhibitor/v1/cluster/list", config.port);
        match patroni_rest_client::get_json(&url, Duration::from_secs(5), None).await {
            Ok((200, body)) => match parse(&body) {
                Some(hosts) => return Ok(hosts),
                None => last = format!("{url}: not an Exhibitor server list: {body}"),
            },
            Ok((code, _)) => last = format!("{url}: HTTP {code}"),
            Err(e) => last = e.to_string(),
        }
    }
    Err(DcsError::Unavailable(format!(
        "cannot read the ZooKeeper servers from Exhibitor: {last}"
    )))
}

/// `{"servers": ["zk1", ...], "port": 2181}` → `zk1:2181,...`.
fn parse(body: &Value) -> Option<String> {
    let port = body.get("port")?.as_u64()?;
    let servers: Vec<String> = body
        .get("servers")?
        .as_array()?
        .iter()
        .filter_map(|s| s.as_str().map(|s| format!("{s}:{port}")))
        .collect();
    (!servers.is_empty()).then(|| servers.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_list_becomes_a_connect_string() {
        let body = serde_json::json!({"servers": ["zk1", "zk2"], "port": 2181});
        assert_eq!(parse(&body).as_deref(), Some("zk1:2181,zk2:2181"));
        assert_eq!(parse(&serde_json::json!({"servers": [], "port": 1})), None);
        assert_eq!(parse(&serde_json::json!({"port": 1})), None);
    }
}
