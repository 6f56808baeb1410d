//! Outbound HTTP to other members' REST APIs (rest-api.md §14): `GET <api_url>` during the
//! leader race, with a short timeout and no retries.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Fetches `url` (http only) and parses the body as JSON.
///
/// Written on a bare socket rather than a client crate because Patroni's REST servers speak
/// HTTP/1.0 and end the body by closing the connection: one request, read to EOF, is all the
/// protocol there is, and it keeps the member poll free of connection pools.
pub async fn get_json(
    url: &str,
    timeout: Duration,
    auth: Option<&str>,
) -> Result<(u16, Value), String> {
    tokio::time::timeout(timeout, get(url, auth))
        .await
        .map_err(|_| format!("{url}: timed out"))?
        .and_then(|(code, body)| {
            serde_json::from_slice(&body)
                .map(|v| (code, v))
                .map_err(|e| format!("{url}: invalid JSON: {e}"))
        })
}

async fn get(url: &str, auth: Option<&str>) -> Result<(u16, Vec<u8>), String> {
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
    let mut request = format!(
        "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: Patroni/{} (patroni-rs)\r\nAccept: application/json\r\n",
        patroni_core::PATRONI_VERSION
    );
    if let Some(a) = auth {
        request.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
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
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: malformed status line"))?;
    let mut body = buf[split + 4..].to_vec();
    if head
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
