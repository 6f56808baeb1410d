//! The one error type of the crate: every variant names the URL, so a caller can log it as is.

use std::time::Duration;

/// Why a request to a REST API failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL does not parse or names no host.
    #[error("{url}: invalid URL: {reason}")]
    InvalidUrl {
        /// The URL asked for.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Any scheme but `http://` (TLS support is not written yet).
    #[error("{url}: only http:// is supported")]
    UnsupportedScheme {
        /// The URL asked for.
        url: String,
    },
    /// Nobody listens on that address.
    #[error("{url}: connection refused")]
    Refused {
        /// The URL asked for.
        url: String,
    },
    /// Any other failure to open the connection (no route, unknown host...).
    #[error("{url}: cannot connect: {source}")]
    Connect {
        /// The URL asked for.
        url: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The connection was not accepted in time.
    #[error("{url}: connect timed out after {after:?}")]
    ConnectTimedOut {
        /// The URL asked for.
        url: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The whole exchange (connect, headers and body) took longer than the timeout.
    #[error("{url}: timed out after {after:?}")]
    TimedOut {
        /// The URL asked for.
        url: String,
        /// The overall timeout.
        after: Duration,
    },
    /// The response body (or its headers) went past the limit.
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL asked for.
        url: String,
        /// The body limit in force.
        limit: usize,
    },
    /// The peer closed the connection before a complete response.
    #[error("{url}: connection closed before a complete response")]
    Truncated {
        /// The URL asked for.
        url: String,
    },
    /// The peer did not answer HTTP (bad status line, bad chunk sizes, bad headers...).
    #[error("{url}: invalid HTTP response: {reason}")]
    InvalidHttp {
        /// The URL asked for.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The request could not be built (a method name with spaces, a bad header value...).
    #[error("{url}: invalid request: {reason}")]
    InvalidRequest {
        /// The URL asked for.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The body is not JSON.
    #[error("{url}: invalid JSON: {source}")]
    InvalidJson {
        /// The URL asked for.
        url: String,
        /// What the parser said.
        source: serde_json::Error,
    },
}

impl Error {
    /// The URL the failed request was for.
    pub fn url(&self) -> &str {
        match self {
            Error::InvalidUrl { url, .. }
            | Error::UnsupportedScheme { url }
            | Error::Refused { url }
            | Error::Connect { url, .. }
            | Error::ConnectTimedOut { url, .. }
            | Error::TimedOut { url, .. }
            | Error::TooLarge { url, .. }
            | Error::Truncated { url }
            | Error::InvalidHttp { url, .. }
            | Error::InvalidRequest { url, .. }
            | Error::InvalidJson { url, .. } => url,
        }
    }

    /// Whether the peer was too slow (to accept, or to answer).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::TimedOut { .. } | Error::ConnectTimedOut { .. })
    }
}
