//! POP3 (RFC 1939) as a sans-IO core: the command parser, the responses with their
//! byte-stuffing, the locked maildrop snapshot, and the server state machine. The tokio driver
//! is [`crate::pop3_server`]; tests and fuzzers drive the very same code with bytes.
//!
//! - [`command`]: command lines (RFC 1939 §3–§7, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034).
//! - [`response`]: `+OK`/`-ERR` lines, multi-line bodies, sizes as sent, TOP.
//! - [`maildrop`]: the INBOX snapshot a session numbers, and the in-process maildrop lock.
//! - [`session`]: the server state machine ([`Session`]).

pub mod command;
pub mod maildrop;
pub mod response;
pub mod session;

#[cfg(test)]
mod tests;

pub use command::{Command, CommandError, MAX_COMMAND_LINE, parse_command};
pub use maildrop::{Maildrop, MaildropLock, OpenError};
pub use session::{Output, Session, SessionConfig};
