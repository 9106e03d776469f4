//! Zone files: RFC 1035 §5 master files read into a validated, canonically ordered [`Zone`], and
//! the [`Catalog`] of zones a server is authoritative for.
//!
//! - [`lexer`]: RFC 1035 §5.1 syntax: entries, blank owners, parentheses, `;` comments, quoted
//!   strings and `\X` / `\DDD` escapes, turned into [`Token`](crate::wire::Token)s;
//! - [`parser`]: the directives (`$ORIGIN`, `$INCLUDE` of RFC 1035 §5.1, `$TTL` of RFC 2308 §4)
//!   and record entries, sans-IO: `$INCLUDE` reads through a caller-supplied loader;
//! - [`tree`]: [`Zone`] and its validation (RFC 1034 §3.6.2 and RFC 2181 §10.1 CNAME rules,
//!   RFC 2181 §5 RRsets, RFC 4592 wildcards, RFC 1034 §4.2.1 delegations);
//! - [`catalog`]: [`Catalog`], the zone that most closely encloses a query name;
//! - `key`: the byte key that makes canonical order a `memcmp` (RFC 4034 §6.1).

pub mod catalog;
pub mod error;
mod key;
pub mod lexer;
pub mod parser;
pub mod tree;

pub use catalog::Catalog;
pub use error::{ZoneError, ZoneErrorKind, ZoneWarning, ZoneWarningKind};
pub use parser::{Loader, no_includes, read_zone_file};
pub use tree::{Location, Node, ParsedZone, RRset, Zone};

/// Largest zone file (each file, includes counted separately) we read: a million records of
/// ~100 bytes fit with room to spare, and a runaway file cannot exhaust memory.
pub const MAX_FILE_LEN: usize = 256 * 1024 * 1024;
/// Longest physical line; real zone files stay far below, and a long RDATA spans lines in
/// parentheses.
pub const MAX_LINE_LEN: usize = 64 * 1024;
/// Largest entry (all lines of one parenthesised record): a 65,535-byte RDATA in hex is 128 KiB.
pub const MAX_ENTRY_LEN: usize = 256 * 1024;
/// Most fields in one entry.
pub const MAX_TOKENS: usize = 16 * 1024;
/// `$INCLUDE` nesting depth.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Files read in total, so a wide tree of includes cannot multiply work even within the depth.
pub const MAX_INCLUDED_FILES: usize = 1024;
/// Records in one zone.
pub const MAX_RECORDS: usize = 1_000_000;
/// RFC 2181 §8: TTLs are 31-bit unsigned.
pub const MAX_TTL: u32 = 0x7fff_ffff;

#[cfg(test)]
mod tests;
