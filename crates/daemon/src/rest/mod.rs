//! The REST API (rest-api.md): health checks for HAProxy and load balancers, `/patroni`,
//! `/cluster`, `/history`, `/config`, `/liveness`, `/readiness`, `/metrics`.
//!
//! Patroni's server speaks HTTP/1.0: one request per connection, bodies ended by closing the
//! connection, and `HEAD`/`OPTIONS`/probe answers that are a bare status line with no
//! headers (HAProxy's `option httpchk OPTIONS /primary` is written against exactly that).
//! An HTTP library would add headers and keep-alive we must not send, so this module parses
//! requests with `httparse` and writes responses itself.

mod config;
mod health;
mod pg_cache;
mod restart;
mod status;
mod switchover;

use std::sync::Arc;
use std::time::Duration;

use patroni_core::config::Config;
use patroni_core::dcs::Dcs;
use patroni_postgres::Postgresql;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::state::Shared;
use restart::Outcome;

/// What a handler answers.
pub enum Response {
    /// `HTTP/1.0 <code> <reason>\r\n\r\n` and nothing else.
    StatusOnly(u16),
    /// A JSON document (Python's rendering).
    Json(u16, Value),
    /// A plain-text message (sent as `text/html`, as upstream does).
    Text(u16, String),
    /// Python's stock HTML error page.
    Error(u16),
    /// 401 with `WWW-Authenticate: Basic realm="Patroni"` and a plain-text message.
    Unauthorized(&'static str),
}

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

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn explanation(code: u16) -> &'static str {
    match code {
        400 => "Bad request syntax or unsupported method.",
        411 => "Client must specify Content-Length.",
        501 => "Server does not support this operation.",
        502 => "Invalid responses from another server/proxy.",
        503 => "The server cannot process the request due to a high load",
        _ => "",
    }
}

fn render(resp: Response) -> Vec<u8> {
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let server = format!("Server: Patroni/{}", patroni_core::PATRONI_VERSION);
    match resp {
        Response::StatusOnly(code) => format!("HTTP/1.0 {code} {}\r\n\r\n", reason(code)).into_bytes(),
        Response::Json(code, v) => format!(
            "HTTP/1.0 {code} {}\r\n{server}\r\nDate: {date}\r\nContent-Type: application/json\r\n\r\n{}",
            reason(code),
            patroni_core::pyjson::to_string(&v)
        )
        .into_bytes(),
        Response::Text(code, text) => {
            format!("HTTP/1.0 {code} {}\r\n{server}\r\nDate: {date}\r\nContent-Type: text/html\r\n\r\n{text}", reason(code)).into_bytes()
        }
        Response::Unauthorized(text) => format!(
            "HTTP/1.0 401 Unauthorized\r\n{server}\r\nDate: {date}\r\nWWW-Authenticate: Basic realm=\"Patroni\"\r\nContent-Type: text/html\r\n\r\n{text}"
        )
        .into_bytes(),
        Response::Error(code) => {
            let body = format!(
                "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n        <p>Error code: {code}</p>\n        <p>Message: {}.</p>\n        <p>Error code explanation: {code} - {}</p>\n    </body>\n</html>\n",
                reason(code),
                explanation(code)
            );
            format!(
                "HTTP/1.0 {code} {}\r\n{server}\r\nDate: {date}\r\nConnection: close\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
                reason(code),
                body.len()
            )
            .into_bytes()
        }
    }
}

/// A parsed request.
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query parameters in order.
    pub query: Vec<(String, String)>,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// The body; `None` without a `Content-Length` header.
    pub body: Option<Vec<u8>>,
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves the REST API until the task is aborted.
pub async fn serve(listener: TcpListener, api: Arc<Api>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(30), handle_connection(stream, api)).await;
        });
    }
}

async fn handle_connection(mut stream: TcpStream, api: Arc<Api>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (method, target, body_start, content_length, authorization) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .map(|v| v.trim().to_string())
                };
                let content_length = header("content-length").and_then(|v| v.parse::<usize>().ok());
                break (
                    req.method.unwrap_or("GET").to_string(),
                    req.path.unwrap_or("/").to_string(),
                    len,
                    content_length,
                    header("authorization"),
                );
            }
            Ok(httparse::Status::Partial) if buf.len() < 65536 => continue,
            _ => {
                stream.write_all(&render(Response::Error(400))).await?;
                return Ok(());
            }
        }
    };
    let body = match content_length {
        Some(len) => {
            let len = len.min(1 << 20);
            while buf.len() < body_start + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Some(buf[body_start..(body_start + len).min(buf.len())].to_vec())
        }
        None => None,
    };
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let req = Request {
        method,
        path: path.to_string(),
        query: parse_query(query),
        authorization,
        body,
    };
    let resp = api.route(&req).await;
    stream.write_all(&render(resp)).await?;
    stream.shutdown().await
}

/// Handlers whose POST/PUT/PATCH/DELETE need `restapi.authentication` (rest-api.md §2;
/// upstream forgot `mpp`, which stays open).
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

    /// Basic auth for unsafe endpoints when `restapi.authentication` is set (rest-api.md §2),
    /// compared in constant time.
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
            ("GET", "readiness") => Response::StatusOnly(self.readiness().await),
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
