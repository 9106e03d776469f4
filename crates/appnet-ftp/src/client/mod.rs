//! The FTP client (RFC 959, with FEAT from RFC 2389, EPSV/EPRT from RFC 2428, SIZE, REST
//! STREAM and MLSD from RFC 3659, and explicit TLS from RFC 4217).
//!
//! The protocol lives in sans-IO pieces that take replies and say what to send next, so unit
//! tests and fuzzers run the very code the driver runs:
//!
//! - [`request`]: commands as bytes on the wire (reusing [`crate::proto::command::Command`]),
//!   the trace's one-line summaries (PASS masked), and which reply completes each command
//!   (RFC 959 §5.4's command-reply sequences).
//! - [`replies`]: what the client reads out of reply text — PASV's 227, EPSV's 229, PWD's
//!   257, SIZE's 213, FEAT's 211 and the size hint servers put in 150.
//! - [`login`]: greeting, AUTH TLS, USER/PASS, PBSZ/PROT, FEAT, OPTS UTF8, TYPE I, PWD.
//! - [`data`]: one transfer's dialogue: EPSV (PASV as fallback) or EPRT (PORT as fallback),
//!   REST, the transfer command, its preliminary and final replies.
//! - [`listing`]: MLSD fact lines and the usual LIST layouts, within limits.
//! - [`url`]: `ftp://[USER[:PASSWORD]@]HOST[:PORT][/PATH]` (RFC 1738 §3.2).
//!
//! [`driver`] is the thin tokio driver around them: sockets, TLS, timeouts and the trace.

pub mod data;
pub mod driver;
pub mod listing;
pub mod login;
pub mod replies;
pub mod request;
pub mod url;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

use crate::proto::reply::{Reply, ReplyError};

pub use data::{Channel, DataExchange, DataStep};
pub use driver::{Client, ConnectOptions, DataMode, NoProgress, Progress, StoreMode, Transferred};
pub use listing::{Entry, EntryKind, ListingFormat, ListingParser};
pub use login::{Credentials, Login, LoginStep};
pub use replies::Features;
pub use url::{FtpUrl, UrlError};

/// Everything that can end an FTP client operation, each saying which rule or step failed.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("no reply within {after:?} while waiting for {waiting_for}")]
    Timeout {
        waiting_for: String,
        after: Duration,
    },
    /// A wait on a data connection ran out; the control connection is still in step.
    #[error("no data within {after:?} while waiting for {waiting_for}")]
    DataTimeout {
        waiting_for: String,
        after: Duration,
    },
    #[error("the server closed the control connection")]
    ControlClosed,
    #[error("control connection: {0}")]
    ControlIo(io::Error),
    #[error("cannot open the data connection to {addr}: {source}")]
    DataConnect { addr: SocketAddr, source: io::Error },
    #[error("data connection: {0}")]
    DataIo(io::Error),
    /// The reply stream broke a framing rule (too long, too many lines, not a reply).
    #[error("the server's reply is not FTP: {0}")]
    Reply(#[from] ReplyError),
    /// A command got a negative or unexpected reply.
    #[error("{command}: {}", show(reply))]
    Refused { command: String, reply: Reply },
    /// USER or PASS was refused, or the server wants an account (ACCT) we do not have.
    #[error("login refused: {}", show(.0))]
    LoginRefused(Reply),
    /// `AUTH TLS` was refused: with TLS required, the session must not go on in the clear.
    #[error("the server refused explicit TLS (AUTH TLS): {}", show(.0))]
    TlsRefused(Reply),
    #[error("TLS handshake on the {connection} connection: {source}")]
    Tls {
        connection: &'static str,
        source: io::Error,
    },
    #[error("TLS setup: {0}")]
    TlsConfig(String),
    /// A reply had the right code but text we cannot read (a 227 without an address, ...).
    #[error("cannot read the {what} reply: {}", show(reply))]
    BadReply { what: &'static str, reply: Reply },
    /// A path or argument that cannot be put on a command line (CR, LF or NUL in it).
    #[error("{0}")]
    BadArgument(&'static str),
    #[error("the listing is larger than the limit ({0})")]
    ListingTooLarge(&'static str),
    /// Fewer bytes arrived than the server announced.
    #[error("partial file: {got} of {expected} bytes")]
    Partial { got: u64, expected: u64 },
    #[error("local file: {0}")]
    Local(io::Error),
}

/// A reply as one line for messages: `550 Failed to open file.`
pub fn show(reply: &Reply) -> String {
    let text = reply
        .lines
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    format!("{} {text}", reply.code)
}

impl ClientError {
    /// The reply the server gave, when the error is a refusal.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ClientError::Refused { reply, .. }
            | ClientError::LoginRefused(reply)
            | ClientError::TlsRefused(reply)
            | ClientError::BadReply { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// The verb of the refused command (`RETR`, `REST`, ...), when the error is a refusal.
    pub fn refused_verb(&self) -> Option<&str> {
        match self {
            ClientError::Refused { command, .. } => command.split(' ').next(),
            _ => None,
        }
    }

    /// Whether the control connection is gone or out of step, so no further command can run.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::ControlClosed
                | ClientError::ControlIo(_)
                | ClientError::Reply(_)
                | ClientError::Timeout { .. }
                | ClientError::Tls {
                    connection: "control",
                    ..
                }
        )
    }
}
