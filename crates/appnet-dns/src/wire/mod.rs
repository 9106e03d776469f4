//! The sans-IO DNS message codec: bytes in, typed messages out, and back.
//!
//! RFC 1035 §3–4 (names, records, messages, compression), RFC 3596 (AAAA), RFC 2782 (SRV),
//! RFC 8659 (CAA), RFC 6891 (EDNS(0)), RFC 3597 (unknown types). No sockets, no async: servers,
//! resolvers, `appnet dig`, the fuzzers and `--explain` all call the same functions.
//!
//! - [`name`]: [`Name`], presentation parsing and canonical order;
//! - [`reader`] / [`writer`]: the bounds-checked cursor and the compressing builder;
//! - [`types`]: TYPE, CLASS, OPCODE, RCODE;
//! - [`rdata`]: [`RData`] in wire and zone-file form; [`present`]: the token contract and TTLs;
//! - [`edns`]: [`Edns`] and the OPT record;
//! - [`message`]: [`Header`], [`Question`], [`Record`], [`Message`];
//! - [`text`]: dig-style rendering and one-line summaries; [`explain`]: annotated hex dumps.

pub mod edns;
pub mod error;
pub mod explain;
pub mod message;
pub mod name;
pub mod present;
pub mod rdata;
pub mod reader;
pub mod text;
pub mod types;
pub mod writer;

#[cfg(test)]
pub(crate) mod testutil;

pub use edns::{Edns, EdnsOption};
pub use error::{NameError, TextError, WireError};
pub use explain::{ExplainLine, explain};
pub use message::{Header, Message, Question, Record, Section, rrsets};
pub use name::Name;
pub use present::{Token, parse_ttl};
pub use rdata::RData;
pub use reader::Reader;
pub use types::{Class, Opcode, Rcode, RecordType};
pub use writer::Writer;
