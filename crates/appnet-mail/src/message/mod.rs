//! The Internet message format: reading and writing e-mail as it travels between servers.
//!
//! - [`header`]: header sections and field folding (RFC 5322 §2.2, §3.6)
//! - [`address`]: mailboxes, groups and address lists (RFC 5322 §3.4), SMTP address checks
//! - [`encoded_word`]: non-ASCII header text (RFC 2047)
//! - [`params`]: `Content-Type` / `Content-Disposition` parameters (RFC 2045 §5.1, RFC 2183,
//!   RFC 2231)
//! - [`transfer`]: base64 and quoted-printable bodies (RFC 2045 §6)
//! - [`charset`]: bytes in a named charset to text
//! - [`parse`]: a whole message as a tree of MIME parts with byte ranges (RFC 2046)
//! - [`compose`]: a user's message to 7-bit wire format
//! - [`date`]: the calendar arithmetic of mail dates
//!
//! Reading is lenient and never panics on any input; limits (fields per header, field length,
//! nesting depth, part count) bound the work. Writing is strict.

pub mod address;
pub mod charset;
pub mod compose;
pub mod date;
pub mod encoded_word;
pub mod header;
pub mod params;
pub mod parse;
pub mod transfer;

pub use address::{
    AddrSpecError, Address, Mailbox, parse_address_list, parse_mailboxes, validate_addr_spec,
};
pub use compose::{ComposeError, Composition, format_date, new_message_id};
pub use header::{HeaderError, HeaderField, Headers, fold_field};
pub use params::{ContentType, Disposition, Param, Params};
pub use parse::{Attachment, Message, ParseError, Part};
pub use transfer::TransferEncoding;
