//! One HTTP request on a fresh connection, with hyper's HTTP/1 client doing the parsing.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, USER_AGENT,
};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;

/// The most the status line and headers may take: Patroni sends a handful of short headers,
/// so this only bounds what a hostile peer can make us buffer (past it hyper reports
/// "message head is too large", an invalid response).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What to send.
pub(crate) struct Outgoing<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub body: Option<&'a str>,
    pub auth: Option<&'a str>,
    pub limit: usize,
}

/// Where to connect and what to put in the request line and `Host` header.
struct Target {
    host: String,
    port: u16,
    host_header: String,
    path: String,
}

fn target(url: &str) -> Result<Target, Error> {
    let invalid = |reason: &str| Error::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => {
            return Err(Error::UnsupportedScheme {
                url: url.to_string(),
            })
        }
        None => return Err(invalid("no scheme")),
    }
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
    let host = authority.host();
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let host_header = match authority.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    Ok(Target {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: authority.port_u16().unwrap_or(80),
        host_header,
        path: uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
    })
}

fn build(out: &Outgoing<'_>, t: &Target) -> Result<Request<Full<Bytes>>, Error> {
    let invalid = |reason: String| Error::InvalidRequest {
        url: out.url.to_string(),
        reason,
    };
    let method = Method::from_bytes(out.method.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    let mut req = Request::builder()
        .method(method)
        .uri(t.path.as_str())
        .header(HOST, t.host_header.as_str())
        .header(
            USER_AGENT,
            format!("Patroni/{} (patroni-rs)", patroni_core::PATRONI_VERSION),
        )
        .header(ACCEPT, "application/json")
        // One request per connection: tell the peer not to wait for another.
        .header(CONNECTION, "close");
    if let Some(a) = out.auth {
        let value = HeaderValue::from_str(&format!("Basic {a}"))
            .map_err(|_| invalid("credentials are not a valid header value".into()))?;
        req = req.header(AUTHORIZATION, value);
    }
    if out.body.is_some() {
        req = req.header(CONTENT_TYPE, "application/json");
    }
    let body = Full::new(Bytes::from(out.body.unwrap_or("").to_string()));
    req.body(body).map_err(|e| invalid(e.to_string()))
}

async fn connect(t: &Target, url: &str, timeout: Duration) -> Result<TcpStream, Error> {
    let url = url.to_string();
    match tokio::time::timeout(timeout, TcpStream::connect((t.host.as_str(), t.port))).await {
        Err(_) => Err(Error::ConnectTimedOut {
            url,
            after: timeout,
        }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(Error::Refused { url })
        }
        Ok(Err(source)) => Err(Error::Connect { url, source }),
        Ok(Ok(s)) => Ok(s),
    }
}

/// Sends the request and reads the whole response; no deadline of its own except for the
/// connect (the caller bounds the whole).
pub(crate) async fn send(
    out: &Outgoing<'_>,
    connect_timeout: Duration,
) -> Result<(u16, Bytes), Error> {
    let t = target(out.url)?;
    let req = build(out, &t)?;
    let stream = connect(&t, out.url, connect_timeout).await?;
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| hyper_error(out.url, e))?;
    let exchange = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| hyper_error(out.url, e))?;
        let code = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), out.limit)
            .collect()
            .await
            .map_err(|e| body_error(out.url, out.limit, e))?
            .to_bytes();
        Ok((code, body))
    };
    // The connection must be polled for the request to make progress. Its failures also
    // fail the request or the body read, which report them, so its own result adds nothing.
    let drive = async {
        let _ = conn.await;
        std::future::pending::<Result<(u16, Bytes), Error>>().await
    };
    tokio::select! {
        r = exchange => r,
        r = drive => r,
    }
}

fn body_error(url: &str, limit: usize, e: Box<dyn std::error::Error + Send + Sync>) -> Error {
    if e.downcast_ref::<LengthLimitError>().is_some() {
        return Error::TooLarge {
            url: url.to_string(),
            limit,
        };
    }
    match e.downcast::<hyper::Error>() {
        Ok(h) => hyper_error(url, *h),
        Err(other) => Error::InvalidHttp {
            url: url.to_string(),
            reason: other.to_string(),
        },
    }
}

fn hyper_error(url: &str, e: hyper::Error) -> Error {
    let url = url.to_string();
    let io_kind = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let closed = matches!(
        io_kind,
        Some(
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
    );
    if e.is_incomplete_message() || closed {
        return Error::Truncated { url };
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    Error::InvalidHttp { url, reason }
}
