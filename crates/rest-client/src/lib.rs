//! Outbound HTTP to Patroni REST APIs: members poll each other's
//! `GET /patroni` during the leader race; patronictl posts switchovers and the like.
//!
//! The URL polled comes from a member key anybody with DCS write access can forge, so the
//! peer is untrusted: hyper parses the response (chunk sizes, status line, headers), the body
//! is capped by [`DEFAULT_BODY_LIMIT`] (or the caller's limit), and one deadline covers the
//! whole exchange, so a peer dripping a byte a second cannot hold a caller past it.
//!
//! One request per connection, no pool: Patroni's servers speak HTTP/1.0 and close after
//! every answer anyway, and a member poll must not depend on state left by the previous one.

mod error;
mod exchange;

use std::time::Duration;

use serde_json::Value;

pub use error::Error;

/// The body limit of [`get_json`] and [`call`]: `/patroni` and `/cluster` are a few KiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// The longest wait for a peer to accept the connection, whatever the overall timeout: a
/// member that does not accept within it is down for every purpose of the callers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `base64(user:password)` for Basic authentication with these credentials.
pub fn basic_auth(creds: Option<&patroni_core::config::Credentials>) -> Option<String> {
    use base64::Engine;
    let c = creds?;
    let raw = format!("{}:{}", c.username, c.password.as_deref().unwrap_or(""));
    Some(base64::engine::general_purpose::STANDARD.encode(raw))
}

/// Fetches `url` (http only) and parses the body as JSON; the body may be at most
/// [`DEFAULT_BODY_LIMIT`] bytes and the whole exchange takes at most `timeout`.
pub async fn get_json(
    url: &str,
    timeout: Duration,
    auth: Option<&str>,
) -> Result<(u16, Value), Error> {
    get_json_limited(url, timeout, auth, DEFAULT_BODY_LIMIT).await
}

/// [`get_json`] with an explicit body limit in bytes.
pub async fn get_json_limited(
    url: &str,
    timeout: Duration,
    auth: Option<&str>,
    limit: usize,
) -> Result<(u16, Value), Error> {
    let (code, body) = call_limited("GET", url, None, timeout, auth, limit).await?;
    serde_json::from_str(&body)
        .map(|v| (code, v))
        .map_err(|source| Error::InvalidJson {
            url: url.to_string(),
            source,
        })
}

/// Sends `method` to `url` with an optional JSON body; the status code and body text (invalid
/// UTF-8 replaced). `auth` is the base64 of `user:password` for Basic authentication. The
/// body may be at most [`DEFAULT_BODY_LIMIT`] bytes and the whole exchange takes at most
/// `timeout`.
pub async fn call(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
    auth: Option<&str>,
) -> Result<(u16, String), Error> {
    call_limited(method, url, body, timeout, auth, DEFAULT_BODY_LIMIT).await
}

/// [`call`] with an explicit body limit in bytes.
pub async fn call_limited(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Duration,
    auth: Option<&str>,
    limit: usize,
) -> Result<(u16, String), Error> {
    let request = exchange::Outgoing {
        method,
        url,
        body,
        auth,
        limit,
    };
    let fut = exchange::send(&request, timeout.min(CONNECT_TIMEOUT));
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok((code, body))) => Ok((code, String::from_utf8_lossy(&body).into_owned())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::TimedOut {
            url: url.to_string(),
            after: timeout,
        }),
    }
}
