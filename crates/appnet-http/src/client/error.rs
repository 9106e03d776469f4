//! What can go wrong fetching a URL, one variant per stage (resolve, connect, TLS, send,
//! receive, redirects, ranges), so callers such as `appnet get` can map each to curl's exit
//! codes.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::proto::{EncodeError, HttpError};

use super::url::UrlError;

/// A request that could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad URL: {0}")]
    Url(#[from] UrlError),
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    #[error("the request head cannot be written: {0}")]
    Encode(#[from] EncodeError),
    #[error("could not resolve host {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("failed to connect to {host}: {source}")]
    Connect {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("connecting to {host} took longer than {timeout:?}")]
    ConnectTimeout { host: String, timeout: Duration },
    #[error("no data from {peer} for {timeout:?}")]
    ReadTimeout { peer: SocketAddr, timeout: Duration },
    #[error("TLS trust anchors: {0}")]
    TlsConfig(String),
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("sending to {peer} failed: {source}")]
    Send {
        peer: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("receiving from {peer} failed: {source}")]
    Receive {
        peer: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("{peer} closed the connection without a response")]
    EmptyReply { peer: SocketAddr },
    #[error("malformed response from {peer}: {source}")]
    Protocol {
        peer: SocketAddr,
        #[source]
        source: HttpError,
    },
    #[error("more than {max} redirects")]
    TooManyRedirects { max: u32 },
    #[error("redirect from {from} to {to} refused: https must not downgrade to http")]
    RedirectDowngrade { from: String, to: String },
    #[error("redirect ({status}) with a bad Location: {reason}")]
    BadLocation { status: u16, reason: String },
    #[error("asked for bytes {requested}, the server sent {got}")]
    RangeMismatch { requested: String, got: String },
    #[error("asked for a range, the server sent the whole representation (status {status})")]
    RangeIgnored { status: u16 },
    #[error("response body larger than {max} bytes")]
    BodyTooLarge { max: u64 },
}

impl ClientError {
    /// RFC 9112 §9.3.1: the error a reused connection shows when the server had closed it
    /// while idle: nothing at all came back, or the write or read failed with a reset.
    pub(crate) fn is_stale_connection(&self) -> bool {
        let reset = |error: &io::Error| {
            matches!(
                error.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        };
        match self {
            ClientError::EmptyReply { .. } => true,
            ClientError::Send { source, .. } | ClientError::Receive { source, .. } => reset(source),
            _ => false,
        }
    }

    /// Whether the error is a timeout (connect or read).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::ConnectTimeout { .. } | ClientError::ReadTimeout { .. }
        )
    }
}
