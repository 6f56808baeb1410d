//! The v2 keys API over HTTP: one request to `/v2/keys/...`, its answer decoded into what
//! the backend needs (the node tree, etcd's error code, the `X-Etcd-Index` header).
//!
//! Written here on hyper because no maintained Rust crate speaks etcd's v2 API (etcd-client
//! is v3 only, and the old v2 crates are unmaintained and on hyper 0.x).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use patroni_core::dcs::DcsError;
use serde::Deserialize;

/// A key or directory as etcd v2 returns it.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Node {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub dir: bool,
    #[serde(default, rename = "modifiedIndex")]
    pub modified_index: i64,
    #[serde(default)]
    pub ttl: Option<i64>,
    #[serde(default)]
    pub nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    node: Option<Node>,
    #[serde(default, rename = "errorCode")]
    error_code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// What a request came back with.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// 2xx: the node (absent for some deletes) and the store's index.
    Done { node: Option<Node>, index: i64 },
    /// A compare (prevExist / prevValue / prevIndex) failed, or the key is not there:
    /// etcd error codes 100 (key not found), 101 (compare failed), 105 (already exists).
    Refused { code: i64, index: i64 },
    /// 401 errorCode 401: a watch index older than etcd's event history.
    IndexCleared,
}

/// etcd v2 endpoints and credentials; the endpoint that answered last is tried first.
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    hosts: Vec<String>,
    current: AtomicUsize,
    auth: Option<String>,
}

impl Http {
    pub fn new(hosts: Vec<String>, auth: Option<String>) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        connector.set_nodelay(true);
        Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
            hosts,
            current: AtomicUsize::new(0),
            auth,
        }
    }

    /// Sends `method` on `/v2/keys<key>` with `query` in the URL (GET, DELETE) or as a form
    /// body (PUT), trying each endpoint once, the whole within `timeout` when given.
    pub async fn call(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, String)],
        timeout: Option<Duration>,
    ) -> Result<Outcome, DcsError> {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let path = format!("/v2/keys{}", encode_path(key));
        let attempt = async {
            let mut last = String::from("no etcd host configured");
            let start = self.current.load(Ordering::Relaxed);
            for i in 0..self.hosts.len() {
                let host_index = (start + i) % self.hosts.len();
                match self
                    .send(&method, &self.hosts[host_index], &path, &encoded)
                    .await
                {
                    Ok(outcome) => {
                        self.current.store(host_index, Ordering::Relaxed);
                        return Ok(outcome);
                    }
                    Err(e) => last = e,
                }
            }
            Err(DcsError::Unavailable(last))
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, attempt)
                .await
                .map_err(|_| DcsError::Unavailable("etcd request timed out".into()))?,
            None => attempt.await,
        }
    }

    async fn send(
        &self,
        method: &Method,
        host: &str,
        path: &str,
        encoded: &str,
    ) -> Result<Outcome, String> {
        let base = if host.contains("://") {
            host.to_string()
        } else {
            format!("http://{host}")
        };
        let (uri, body) = if *method == Method::PUT {
            (format!("{base}{path}"), encoded.to_string())
        } else if encoded.is_empty() {
            (format!("{base}{path}"), String::new())
        } else {
            (format!("{base}{path}?{encoded}"), String::new())
        };
        let mut request = Request::builder().method(method.clone()).uri(&uri);
        if *method == Method::PUT {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        if let Some(auth) = &self.auth {
            request = request.header("authorization", format!("Basic {auth}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{uri}: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{host}: {e}"))?;
        let status = response.status();
        let index = response
            .headers()
            .get("x-etcd-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{host}: {e}"))?
            .to_bytes();
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{host}: {status}: not an etcd answer ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        match (status, answer.error_code) {
            (s, None) if s.is_success() => Ok(Outcome::Done {
                node: answer.node,
                index,
            }),
            (_, Some(401)) => Ok(Outcome::IndexCleared),
            (StatusCode::NOT_FOUND | StatusCode::PRECONDITION_FAILED, Some(code))
                if matches!(code, 100 | 101 | 105) =>
            {
                Ok(Outcome::Refused { code, index })
            }
            (s, code) => Err(format!(
                "{host}: {s}: etcd error {}: {}",
                code.unwrap_or(0),
                answer.message.unwrap_or_default()
            )),
        }
    }
}

/// Percent-encodes each path segment (member names may hold any character).
fn encode_path(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            form_urlencoded::byte_serialize(segment.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded_and_slashes_kept() {
        assert_eq!(
            encode_path("/service/batman/members/pg 1?x"),
            "/service/batman/members/pg%201%3Fx"
        );
    }
}
