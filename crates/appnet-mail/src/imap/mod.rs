//! IMAP4rev1 (RFC 3501) with the extensions mail clients expect, as a sans-IO server:
//!
//! - [`command`]: parsing commands (§9 grammar), sequence sets, search keys, fetch sections
//! - [`response`]: writing strings, literals, flag lists and UID sets
//! - [`fetch`]: ENVELOPE, BODYSTRUCTURE and `BODY[section]` from the MIME tree
//! - [`search`]: SEARCH keys against flags, dates, sizes and decoded text
//! - [`date`]: IMAP dates and INTERNALDATE
//! - [`session`]: the state machine that runs commands against a user's
//!   [`Mailstore`](crate::store::Mailstore)
//!
//! [`crate::imap_server`] is its tokio driver.

pub mod command;
pub mod date;
pub mod fetch;
pub mod response;
pub mod search;
pub mod session;

#[cfg(test)]
mod tests;

pub use command::{Command, CommandError, CommandKind, ParseError, parse_command};
pub use session::{ImapConfig, ImapSession, Output};
