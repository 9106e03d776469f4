//! The errors of the wire codec: one enum per kind of input (wire bytes, names, presentation text),
//! each variant naming the rule that was broken and where.
//!
//! Every wire decoding error maps to FORMERR (RFC 1035 §4.1.1), which is what a server answers.

use super::types::{Rcode, RecordType};

/// A DNS message (or part of one) could not be decoded from wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended before a field was complete.
    #[error("message ends at offset {at}, but {needed} more byte(s) are needed")]
    Truncated { at: usize, needed: usize },
    /// RFC 1035 §4.1.4: a compression pointer must refer to a prior occurrence of a name.
    #[error("compression pointer at offset {at} points forward to offset {target}")]
    ForwardPointer { at: usize, target: usize },
    /// A pointer into the name being read (or into a suffix already followed) would loop.
    #[error("compression pointer at offset {at} to offset {target} would loop")]
    PointerLoop { at: usize, target: usize },
    /// More compression pointers in one name than any sane encoder writes.
    #[error("more than {max} compression pointers in the name at offset {at}")]
    TooManyPointers { at: usize, max: usize },
    /// RFC 1035 §2.3.4: names are at most 255 octets in wire form.
    #[error("name at offset {at} is longer than 255 octets")]
    NameTooLong { at: usize },
    /// RFC 1035 §4.1.4 reserves label types 0b01 and 0b10 (RFC 6891 §5 retired the extended ones).
    #[error("label at offset {at} has reserved type bits 0x{byte:02x}")]
    BadLabelType { at: usize, byte: u8 },
    /// RDLENGTH disagrees with the RDATA the type's format describes.
    #[error("{rtype} RDATA at offset {at} is {rdlength} bytes but its fields use {used}")]
    RdataLength {
        rtype: RecordType,
        at: usize,
        rdlength: usize,
        used: usize,
    },
    /// A field inside RDATA breaks its type's rules.
    #[error("{rtype} RDATA at offset {at}: {reason}")]
    RdataInvalid {
        rtype: RecordType,
        at: usize,
        reason: &'static str,
    },
    /// The header counts promise more records than the message has bytes for.
    #[error("counts need at least {needed} bytes after the header, only {available} present")]
    TooManyRecords { needed: usize, available: usize },
    /// RFC 6891 §6.1.1: at most one OPT record per message.
    #[error("second OPT record at offset {at}")]
    DuplicateOpt { at: usize },
    /// RFC 6891 §6.1.1: the OPT record lives in the additional section only.
    #[error("OPT record at offset {at} outside the additional section")]
    OptOutsideAdditional { at: usize },
    /// RFC 6891 §6.1.2: the OPT record's owner is the root.
    #[error("OPT record at offset {at} has a non-root owner name")]
    OptOwnerNotRoot { at: usize },
    /// Our limit on EDNS options per OPT record.
    #[error("OPT record has more than {max} options")]
    TooManyOptions { max: usize },
    /// RFC 1035 §4.2.2: TCP frames a message with a 16-bit length, so none is longer.
    #[error("message of {len} bytes is longer than 65535")]
    MessageTooLong { len: usize },
    /// Bytes follow the last record the header counts announce.
    #[error("{count} byte(s) after the end of the message at offset {at}")]
    TrailingBytes { at: usize, count: usize },
}

impl WireError {
    /// The response code a server answers a message it cannot decode with.
    pub fn rcode(&self) -> Rcode {
        Rcode::FORMERR
    }
}

/// A domain name could not be built: from presentation text, or from labels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty text is not a name; the root is written ".".
    #[error("empty name")]
    Empty,
    /// Two dots in a row, or a leading dot in a name other than ".".
    #[error("empty label at byte {at}")]
    EmptyLabel { at: usize },
    /// RFC 1035 §2.3.4: labels are 63 octets or less.
    #[error("label of {len} octets is longer than 63")]
    LabelTooLong { len: usize },
    /// RFC 1035 §2.3.4: names are 255 octets or less in wire form.
    #[error("name of {len} octets is longer than 255")]
    NameTooLong { len: usize },
    /// RFC 1035 §5.1: `\X` or `\DDD` with DDD ≤ 255.
    #[error("bad escape at byte {at}")]
    BadEscape { at: usize },
}

/// Presentation (zone-file) text could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("bad name {text:?}: {source}")]
    Name { text: String, source: NameError },
    #[error("unknown record type {0:?}")]
    UnknownType(String),
    #[error("unknown class {0:?}")]
    UnknownClass(String),
    #[error("bad {what} {text:?}")]
    Bad { what: &'static str, text: String },
    #[error("bad TTL {0:?}")]
    BadTtl(String),
    #[error("{rtype} expects {expected}, got {got} field(s)")]
    FieldCount {
        rtype: RecordType,
        expected: &'static str,
        got: usize,
    },
    #[error("character-string of {len} bytes is longer than 255")]
    StringTooLong { len: usize },
    #[error("bad escape in {0:?}")]
    BadEscape(String),
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("{rtype} has no presentation format here; use the RFC 3597 form \\# <len> <hex>")]
    NoPresentation { rtype: RecordType },
    #[error("\\# data is not valid {rtype} RDATA: {source}")]
    Wire {
        rtype: RecordType,
        source: WireError,
    },
}
