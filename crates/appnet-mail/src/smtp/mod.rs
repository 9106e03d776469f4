//! SMTP (RFC 5321) as a sans-IO core: no sockets, no async, no clocks. The tokio drivers, the
//! queue and Maildir delivery wrap these state machines; tests and fuzzers drive the very same
//! code with bytes.
//!
//! - [`command`]: parse and encode command lines (RFC 5321 §4.1, SIZE, 8BITMIME, SMTPUTF8, AUTH).
//! - [`reply`]: replies with enhanced status codes, the encoder and the client's streaming parser.
//! - [`data`]: the DATA content: the server's end-of-data detection and un-stuffing (safe against
//!   SMTP smuggling), and the client's dot-stuffing.
//! - [`session`]: the server state machine ([`ServerSession`]).
//! - [`client`]: the client state machine ([`ClientSession`]) for relaying and submission.
//!
//! Both sessions work the same way: `feed` the bytes read from the socket, drain
//! `poll_output`, and answer the outputs that need the outside world (TLS handshakes, password
//! checks, durable storage) by calling back into the session.

pub mod client;
pub mod command;
pub mod data;
pub mod reply;
pub mod session;

#[cfg(test)]
mod tests;

pub use client::{ClientConfig, ClientOutput, ClientSession, Delivery, Outcome, TlsPolicy};
pub use command::{BodyType, Command, CommandError, MailParams, parse_command};
pub use data::{DataReader, DataRejection, dot_stuff};
pub use reply::{EnhancedCode, Reply, ReplyError, ReplyParser};
pub use session::{
    AcceptAll, AuthMechanism, Envelope, Output, Policy, RcptVerdict, ServerConfig, ServerSession,
};
