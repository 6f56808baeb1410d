//! The HTTP side of the REST API: reading one request per connection within limits, and
//! rendering the answer the way Patroni's server does.
//!
//! Patroni's server speaks HTTP/1.0: one request per connection, bodies ended by closing the
//! connection, and `HEAD`/`OPTIONS`/probe answers that are a bare status line with no
//! headers (HAProxy's `option httpchk OPTIONS /primary` is written against exactly that).
//! An HTTP library would add headers and keep-alive we must not send, so requests are parsed
//! with `httparse` and responses written here.
//!
//! Anyone who reaches the port can send anything, so what a client can make the server hold
//! is bounded: the head's size, the body's size, and the time to send both.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Api;

/// The request line and headers together (Python's server allows 64 KiB a line).
const MAX_HEAD: usize = 64 * 1024;
/// Header count (Python's server refuses more than 100 with 431 too).
const MAX_HEADERS: usize = 100;
/// The largest body accepted: the JSON documents of `/config` or `/switchover` are tiny.
const MAX_BODY: u64 = 1 << 20;
/// The time a client has to send its whole request; a slower one is dropped unanswered.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The time a connection may take, handler included.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);

/// What a handler answers.
pub enum Response {
    /// `HTTP/1.0 <code> <reason>\r\n\r\n` and nothing else.
    StatusOnly(u16),
    /// A JSON document (Python's rendering).
    Json(u16, Value),
    /// A plain-text message (sent as `text/html`, as upstream does).
    Text(u16, String),
    /// A 200 body with its own content type (`/metrics`).
    Typed(&'static str, String),
    /// Python's stock HTML error page.
    Error(u16),
    /// 401 with `WWW-Authenticate: Basic realm="Patroni"` and a plain-text message.
    Unauthorized(&'static str),
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
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn explanation(code: u16) -> &'static str {
    match code {
        400 => "Bad request syntax or unsupported method.",
        411 => "Client must specify Content-Length.",
        413 => "Entity is too large",
        414 => "URI is too long",
        431 => {
            "The server is unwilling to process the request because its header fields are too large"
        }
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
        Response::Typed(content_type, body) => format!(
            "HTTP/1.0 200 OK\r\n{server}\r\nDate: {date}\r\nContent-Type: {content_type}\r\n\r\n{body}"
        )
        .into_bytes(),
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

impl Request {}

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
            // A timed-out or failed connection only concerns its client: nothing to report.
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, handle_connection(stream, api)).await;
        });
    }
}

async fn handle_connection(mut stream: TcpStream, api: Arc<Api>) -> std::io::Result<()> {
    let incoming = match tokio::time::timeout(REQUEST_DEADLINE, read_request(&mut stream)).await {
        Ok(incoming) => incoming?,
        // Too slow to send a request: closing is all it gets (Python's server would wait).
        Err(_) => return Ok(()),
    };
    let resp = match incoming {
        Incoming::Request(req) => api.route(&req).await,
        Incoming::Reject(code) => Response::Error(code),
        Incoming::Gone => return Ok(()),
    };
    stream.write_all(&render(resp)).await?;
    stream.shutdown().await
}

/// What came in on a connection.
enum Incoming {
    /// A request to route.
    Request(Request),
    /// A request refused before routing, with this code.
    Reject(u16),
    /// The client closed before sending a whole head.
    Gone,
}

/// The parts of a complete head the handlers need.
struct Head {
    len: usize,
    method: String,
    target: String,
    content_length: Option<String>,
    authorization: Option<String>,
}

/// Parses `buf` as a request head: `Ok(None)` while it is incomplete, `Err(code)` when it
/// can never become a valid one.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, u16> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let header = |name: &str| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
            };
            Ok(Some(Head {
                len,
                method: req.method.unwrap_or("GET").to_string(),
                target: req.path.unwrap_or("/").to_string(),
                content_length: header("content-length"),
                authorization: header("authorization"),
            }))
        }
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => Ok(None),
        Ok(httparse::Status::Partial) if !buf.contains(&b'\n') => Err(414),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => Err(431),
        Err(_) => Err(400),
    }
}

/// Reads one request: the head (at most [`MAX_HEAD`] bytes) and the body its
/// `Content-Length` announces (at most [`MAX_BODY`]; a body cut short by the client's close
/// is passed on as it is, and fails JSON parsing in the handler).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Incoming> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Incoming::Gone);
        }
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            Ok(Some(head)) => break head,
            Ok(None) => continue,
            Err(code) => return Ok(Incoming::Reject(code)),
        }
    };
    let body = match head.content_length.as_deref().map(str::parse::<u64>) {
        None => None,
        // Python's `int()` refuses these, and its read of a huge length fails: both 400.
        Some(Err(_)) => return Ok(Incoming::Reject(400)),
        Some(Ok(len)) if len > MAX_BODY => return Ok(Incoming::Reject(413)),
        Some(Ok(len)) => {
            // At most MAX_BODY, so it fits.
            let end = head
                .len
                .saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            while buf.len() < end {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Some(buf[head.len..end.min(buf.len())].to_vec())
        }
    };
    let (path, query) = head
        .target
        .split_once('?')
        .unwrap_or((head.target.as_str(), ""));
    Ok(Incoming::Request(Request {
        method: head.method.clone(),
        path: path.to_string(),
        query: parse_query(query),
        authorization: head.authorization,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_head;

    fn code(buf: &[u8]) -> Result<Option<String>, u16> {
        parse_head(buf).map(|h| h.map(|h| h.target))
    }

    #[test]
    fn heads_are_parsed_or_refused_with_the_right_code() {
        assert_eq!(
            code(b"GET /patroni?x=1 HTTP/1.0\r\n\r\n"),
            Ok(Some("/patroni?x=1".into()))
        );
        assert_eq!(code(b"GET /patroni HTTP/1.0\r\nHost: x"), Ok(None));
        assert_eq!(code(b"GARBAGE\r\n\r\n"), Err(400));
        assert_eq!(code(b"\x00\xff\r\n\r\n"), Err(400));
        assert_eq!(code(b"GET /patroni HTTP/1.0\r\nno colon\r\n\r\n"), Err(400));
        let long_line = format!("GET /{}", "a".repeat(super::MAX_HEAD + 1));
        assert_eq!(code(long_line.as_bytes()), Err(414));
        let filler = "X-Filler: yes\r\n".repeat(super::MAX_HEAD / 15 + 1);
        let big = format!("GET / HTTP/1.0\r\n{filler}");
        assert_eq!(code(big.as_bytes()), Err(431));
        let many = format!("GET / HTTP/1.0\r\n{}\r\n", "A: b\r\n".repeat(101));
        assert_eq!(code(many.as_bytes()), Err(431));
    }
}
