//! Outbound HTTP to Patroni REST APIs (rest-api.md §14): members poll each other's
//! `GET /patroni` during the leader race; patronictl posts switchovers and the like.
//!
//! Written on a bare socket rather than a client crate because Patroni's REST servers speak
//! HTTP/1.0 and end the body by closing the connection: one request, read to EOF, is all the
//! protocol there is, and it keeps the member poll free of connection pools.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `base64(user:password)` for Basic authentication with these credentials.
pub fn basic_auth(creds: Option<&patroni_core::config::Credentials>) -> Option<String> {
    use base64::Engine;
    let c = creds?;
    let raw = format!("{}:{}", c.username, c.password.as_deref().unwrap_or(""));
    Some(base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Fetches `url` (http only) and parses the body as JSON.
pub async fn get_json(
    url: &str,
    timeout: Duration,
    auth: Option<&str>,
) -> Result<(u16, Value), String> {
    let (code, body) = call("GET", url, None, timeout, auth).await?;
    serde_json::from_str(&body)
        .map(|v| (code, v))
        .map_err(|e| format!("{url}: invalid JSON: {e}"))
}

/// Sends `method` to `url` with an optional JSON body; the status code and body text.
/// `auth` is the base64 of `user:password` for Basic authentication.
pub async fn call(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
    auth: Option<&str>,
) -> Result<(u16, String), String> {
    tokio::time::timeout(timeout, request(method, url, body, auth))
        .await
        .map_err(|_| format!("{url}: timed out"))?
        .map(|(code, body)| (code, String::from_utf8_lossy(&body).into_owned()))
}

async fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    auth: Option<&str>,
) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// is supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(hostport)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: Patroni/{} (patroni-rs)\r\nAccept: application/json\r\n",
        patroni_core::PATRONI_VERSION
    );
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or(""));
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut buf = Vec::new();
    stream
        .read_to_end(&mut buf)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{url}: malformed response"))?;
    let status = String::from_utf8_lossy(&buf[..split]).to_string();
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: malformed status line"))?;
    let mut body = buf[split + 4..].to_vec();
    if status
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((code, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < pos + 2 + size {
            break;
        }
        out.extend_from_slice(&data[pos + 2..pos + 2 + size]);
        data = &data[(pos + 4 + size).min(data.len())..];
    }
    out
}
