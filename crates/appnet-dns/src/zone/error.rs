//! What can go wrong reading a zone, and the softer problems a zone is still loaded with.
//!
//! Every error names the file and line so the message reads like a compiler's
//! (`zones/example.zone:12: bad A address "1.2.3"`); line 0 means the zone as a whole.

use std::fmt;
use std::path::PathBuf;

use crate::wire::{Class, Name, RecordType, TextError};

/// A zone that cannot be loaded: where, and which rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ZoneError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem belongs to the zone as a whole (a missing SOA).
    pub line: usize,
    pub kind: ZoneErrorKind,
}

impl ZoneError {
    pub fn new(file: impl Into<PathBuf>, line: usize, kind: ZoneErrorKind) -> Self {
        Self {
            file: file.into(),
            line,
            kind,
        }
    }
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line)?;
        write!(f, "{}", self.kind)
    }
}

fn write_location(f: &mut fmt::Formatter<'_>, file: &std::path::Path, line: usize) -> fmt::Result {
    if line == 0 {
        write!(f, "{}: ", file.display())
    } else {
        write!(f, "{}:{line}: ", file.display())
    }
}

/// The rule a zone file broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneErrorKind {
    // --- Syntax (RFC 1035 §5.1) ---
    #[error("file is {len} bytes, more than the limit of {max}")]
    FileTooLarge { len: usize, max: usize },
    #[error("line is longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("entry is longer than {max} bytes or {max_tokens} fields")]
    EntryTooLong { max: usize, max_tokens: usize },
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("'(' opened on line {opened} is never closed")]
    UnclosedParen { opened: usize },
    #[error("')' without a matching '('")]
    UnmatchedParen,
    #[error("nested '(' (one level of parentheses is allowed)")]
    NestedParen,
    #[error("backslash at the end of a line")]
    TrailingBackslash,
    #[error("bad escape in {0:?}")]
    BadEscape(String),

    #[error("cannot read file: {0}")]
    Read(String),

    // --- Directives ---
    #[error("unknown directive {0:?} (known: $ORIGIN, $TTL, $INCLUDE)")]
    UnknownDirective(String),
    #[error("{directive} expects {expected}")]
    DirectiveArguments {
        directive: &'static str,
        expected: &'static str,
    },
    #[error("$INCLUDE nested deeper than {max} files")]
    IncludeDepth { max: usize },
    #[error("more than {max} files included")]
    TooManyIncludes { max: usize },
    #[error("cannot read included file {path:?}: {reason}")]
    Include { path: PathBuf, reason: String },

    // --- Entries ---
    #[error(
        "the first record has no owner name (a line starting with whitespace reuses the previous owner)"
    )]
    NoOwner,
    #[error(
        "relative name {0:?} but no origin is known; add $ORIGIN or write the name with a final dot"
    )]
    NoOrigin(String),
    #[error("bad name {text:?}: {reason}")]
    BadName { text: String, reason: String },
    #[error("TTL given twice")]
    DuplicateTtl,
    #[error("class given twice")]
    DuplicateClass,
    #[error("bad TTL {0:?}")]
    BadTtl(String),
    #[error("TTL {0} is larger than 2147483647 (RFC 2181 §8)")]
    TtlTooLarge(u32),
    #[error("unsupported class {0}: only IN is served")]
    UnsupportedClass(Class),
    #[error("missing record type")]
    MissingType,
    #[error("unknown record type {0:?}")]
    UnknownType(String),
    #[error("{0} is a query-only meta-type and cannot appear in a zone")]
    MetaType(RecordType),
    /// The RDATA text error is in the message rather than chained as a `source`, so that
    /// reporters printing the chain do not say it twice.
    #[error("{}", rdata_message(*rtype, reason))]
    Rdata {
        rtype: RecordType,
        reason: TextError,
    },
    #[error("{rtype} record of {len} bytes is too large to be sent in a message")]
    RecordTooLarge { rtype: RecordType, len: usize },
    #[error("no TTL: give one, or a $TTL directive before the first record")]
    NoTtl,
    #[error("more than {max} records")]
    TooManyRecords { max: usize },

    // --- Zone rules ---
    #[error("{owner} is outside the zone {origin} (out-of-zone data)")]
    OutOfZone { owner: Name, origin: Name },
    #[error("no SOA record at the zone apex {0}")]
    MissingSoa(Name),
    #[error("no SOA record, so the zone's origin cannot be inferred")]
    NoSoa,
    #[error("more than one SOA record at the zone apex")]
    MultipleSoa,
    #[error("SOA record at {0}, which is not the zone apex")]
    SoaNotAtApex(Name),
    #[error("no NS records at the zone apex {0}")]
    MissingApexNs(Name),
    #[error("{0} has a CNAME and other data (RFC 1034 §3.6.2, RFC 2181 §10.1)")]
    CnameAndOtherData(Name),
    #[error("{0} has more than one CNAME record (RFC 2181 §10.1)")]
    MultipleCname(Name),
    #[error("CNAME at the zone apex {0}, which must hold SOA and NS")]
    CnameAtApex(Name),
    #[error("{0}: '*' is a wildcard only as the leftmost label (RFC 4592 §2.1.1)")]
    MisplacedWildcard(Name),
    #[error("{0} records may only be class IN here, got {1}")]
    RecordClass(RecordType, Class),
}

/// `bad A address "1.2.3"` reads better than `A: bad address "1.2.3"`.
fn rdata_message(rtype: RecordType, reason: &TextError) -> String {
    match reason {
        TextError::Bad { what, text } => format!("bad {rtype} {what} {text:?}"),
        other => format!("bad {rtype} record: {other}"),
    }
}

/// A problem the zone was loaded despite: what a linter would flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneWarning {
    pub file: PathBuf,
    pub line: usize,
    pub kind: ZoneWarningKind,
}

impl fmt::Display for ZoneWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line)?;
        write!(f, "{}", self.kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneWarningKind {
    /// RFC 2181 §5.2: all records of an RRset share one TTL.
    #[error("{owner} {rtype}: records of one RRset have different TTLs; using the lowest, {used}")]
    TtlMismatch {
        owner: Name,
        rtype: RecordType,
        used: u32,
    },
    /// RFC 2181 §5: an RRset is a set, so the copy is dropped.
    #[error("{owner} {rtype}: duplicate record ignored")]
    Duplicate { owner: Name, rtype: RecordType },
    /// RFC 2308 §4 replaced this legacy default with `$TTL`.
    #[error("no TTL and no $TTL: using the SOA minimum {0} (add $TTL, RFC 2308 §4)")]
    SoaMinimumTtl(u32),
}
