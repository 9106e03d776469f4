//! The errors of the HTTP/1.1 codec: one variant per broken rule of RFC 9112 (message syntax and
//! framing) or RFC 9110 (field syntax), each naming the rule, plus the encoder's own errors.
//!
//! Every parse error of a request maps to the status a server answers before closing
//! ([`HttpError::status`]); after any of them the connection is not reused, because once framing
//! is in doubt the next byte cannot be trusted to start a message (RFC 9112 §11.2).

/// A received message broke a rule of HTTP/1.1 syntax or framing, or one of our limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// RFC 9112 §2.2: a CR not followed by LF is invalid in the head and in chunk framing.
    #[error("bare CR in the message framing (RFC 9112 §2.2)")]
    BareCr,
    /// RFC 9112 §2.2: lines end in CRLF; accepting a lone LF is optional and this parser does not.
    #[error("line ends in LF without CR (RFC 9112 §2.2)")]
    BareLf,
    /// RFC 9112 §2.2 asks servers to skip "at least one" empty line before a request; more than
    /// our limit is not robustness but a peer sending noise.
    #[error("more than {max} empty lines before the start line")]
    TooManyEmptyLines { max: usize },
    /// Our limit on the request line (RFC 9112 §3: "414 (URI Too Long)" for a long target).
    #[error("request line longer than {max} bytes")]
    RequestLineTooLong { max: usize },
    /// Our limit on the status line of a response.
    #[error("status line longer than {max} bytes")]
    StatusLineTooLong { max: usize },
    /// Our limit on the header section (RFC 6585 §5: 431).
    #[error("header section longer than {max} bytes")]
    HeaderSectionTooLarge { max: usize },
    /// Our limit on the number of field lines in a header or trailer section.
    #[error("more than {max} field lines")]
    TooManyFields { max: usize },
    /// RFC 9112 §3: `request-line = method SP request-target SP HTTP-version`.
    #[error("malformed request line: {0}")]
    InvalidRequestLine(&'static str),
    /// RFC 9110 §9.1: a method is a token.
    #[error("method is not a token (RFC 9110 §9.1)")]
    InvalidMethod,
    /// RFC 9112 §3.2: the request-target is one of four forms, each allowed with certain methods.
    #[error("invalid request-target: {0} (RFC 9112 §3.2)")]
    InvalidTarget(&'static str),
    /// RFC 9112 §2.3: `HTTP-version = HTTP-name "/" DIGIT "." DIGIT`.
    #[error("malformed HTTP-version (RFC 9112 §2.3)")]
    InvalidVersion,
    /// A well-formed version whose major number we do not implement (RFC 9110 §15.6.6: 505).
    #[error("HTTP version {major}.{minor} not supported")]
    UnsupportedVersion { major: u8, minor: u8 },
    /// RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`.
    #[error("malformed status line: {0} (RFC 9112 §4)")]
    InvalidStatusLine(&'static str),
    /// RFC 9112 §5.1: no whitespace is allowed between the field name and the colon.
    #[error("whitespace between field name and colon (RFC 9112 §5.1)")]
    WhitespaceBeforeColon,
    /// RFC 9112 §5.2: obsolete line folding (a line starting with SP or HTAB).
    #[error("obsolete line folding (RFC 9112 §5.2)")]
    ObsFold,
    /// RFC 9110 §5.1: a field name is a token.
    #[error("field name is not a token (RFC 9110 §5.1)")]
    InvalidFieldName,
    /// RFC 9112 §5: a field line is `field-name ":" OWS field-value OWS`.
    #[error("field line without a colon (RFC 9112 §5)")]
    MissingColon,
    /// RFC 9110 §5.5: CR, LF, NUL and other controls (except HTAB) are not allowed in a value.
    #[error("control character in a field value (RFC 9110 §5.5)")]
    InvalidFieldValue,
    /// RFC 9112 §3.2: an HTTP/1.1 request must carry Host.
    #[error("HTTP/1.1 request without Host (RFC 9112 §3.2)")]
    MissingHost,
    /// RFC 9112 §3.2: more than one Host field line.
    #[error("more than one Host field line (RFC 9112 §3.2)")]
    DuplicateHost,
    /// RFC 9112 §3.2: Host must be `uri-host [ ":" port ]`.
    #[error("invalid Host field value (RFC 9112 §3.2)")]
    InvalidHost,
    /// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    #[error("Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1)")]
    TransferEncodingInHttp10,
    /// RFC 9112 §6.1: Transfer-Encoding is a list of transfer-coding tokens.
    #[error("malformed Transfer-Encoding (RFC 9112 §6.1)")]
    InvalidTransferEncoding,
    /// RFC 9112 §6.3 item 4: chunked must be the final coding, or the length is unknowable.
    #[error("chunked is not the final transfer coding (RFC 9112 §6.3)")]
    ChunkedNotFinal,
    /// RFC 9112 §6.1: chunked must not be applied more than once.
    #[error("chunked applied more than once (RFC 9112 §6.1)")]
    ChunkedTwice,
    /// RFC 9112 §6.1: a transfer coding we do not implement (only chunked is supported).
    #[error("unsupported transfer coding (RFC 9112 §6.1)")]
    UnsupportedTransferCoding,
    /// RFC 9112 §6.1/§6.3: both framings at once is the classic smuggling vector; we reject.
    #[error("both Transfer-Encoding and Content-Length (RFC 9112 §6.3)")]
    ContentLengthWithTransferEncoding,
    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`, and it must fit in 64 bits.
    #[error("invalid Content-Length (RFC 9110 §8.6)")]
    InvalidContentLength,
    /// Several Content-Length values in a request; RFC 9110 §8.6 lets us reject even equal ones.
    #[error("more than one Content-Length in a request (RFC 9110 §8.6)")]
    DuplicateContentLength,
    /// RFC 9112 §6.3 item 5: Content-Length values that differ.
    #[error("differing Content-Length values (RFC 9112 §6.3)")]
    ConflictingContentLength,
    /// Our limit on the body (RFC 9110 §15.5.14: 413).
    #[error("body larger than {max} bytes")]
    BodyTooLarge { max: u64 },
    /// RFC 9112 §7.1: `chunk-size = 1*HEXDIG`.
    #[error("invalid chunk size (RFC 9112 §7.1)")]
    InvalidChunkSize,
    /// A chunk size that does not fit in 64 bits.
    #[error("chunk size overflows 64 bits")]
    ChunkSizeOverflow,
    /// Our limit on the chunk-size line, extensions included (RFC 9112 §7.1.1 asks for one).
    #[error("chunk-size line longer than {max} bytes")]
    ChunkLineTooLong { max: usize },
    /// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )`.
    #[error("malformed chunk extension (RFC 9112 §7.1.1)")]
    InvalidChunkExtension,
    /// RFC 9112 §7.1: chunk data is followed by CRLF.
    #[error("chunk data not followed by CRLF (RFC 9112 §7.1)")]
    MissingChunkCrlf,
    /// Our limit on the trailer section (RFC 9112 §7.1.2).
    #[error("trailer section longer than {max} bytes")]
    TrailersTooLarge { max: usize },
    /// The peer closed the connection in the middle of a message (RFC 9112 §8).
    #[error("connection closed before the message was complete (RFC 9112 §8)")]
    IncompleteMessage,
    /// The driver fed more than `input_capacity()` allowed: the buffer bound was hit.
    #[error("input buffer limit of {max} bytes exceeded")]
    BufferFull { max: usize },
    /// A response arrived when no request was waiting for one.
    #[error("response received with no request outstanding")]
    UnexpectedResponse,
}

impl HttpError {
    /// The status code a server answers a request that broke this rule with, before closing.
    ///
    /// Errors only a client can meet (a bad status line, an unsolicited response) map to 502, the
    /// answer a gateway gives when its upstream misbehaves (RFC 9110 §15.6.3).
    pub fn status(&self) -> u16 {
        match self {
            Self::RequestLineTooLong { .. } => 414,
            Self::HeaderSectionTooLarge { .. }
            | Self::TooManyFields { .. }
            | Self::TrailersTooLarge { .. }
            | Self::BufferFull { .. } => 431,
            Self::UnsupportedVersion { .. } => 505,
            Self::UnsupportedTransferCoding => 501,
            Self::BodyTooLarge { .. } => 413,
            Self::StatusLineTooLong { .. }
            | Self::InvalidStatusLine(_)
            | Self::UnexpectedResponse => 502,
            _ => 400,
        }
    }
}

/// A message could not be serialized: the caller asked for bytes HTTP/1.1 cannot carry safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// RFC 9110 §9.1: the method must be a token.
    #[error("method is not a token")]
    InvalidMethod,
    /// The target is not one the request parser would accept for this method.
    #[error("invalid request-target: {0}")]
    InvalidTarget(&'static str),
    /// RFC 9110 §15: status codes are 100..=599.
    #[error("status code {0} outside 100..=599")]
    InvalidStatus(u16),
    /// RFC 9112 §4: the reason phrase is HTAB / SP / VCHAR / obs-text.
    #[error("reason phrase contains a control character")]
    InvalidReason,
    /// RFC 9110 §5.1: field names are tokens.
    #[error("field name {0:?} is not a token")]
    InvalidFieldName(String),
    /// RFC 9110 §5.5: a value with CR, LF, NUL or another control would split or corrupt the head.
    #[error("value of field {0:?} contains a control character")]
    InvalidFieldValue(String),
    /// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host.
    #[error("HTTP/1.1 request needs exactly one Host field")]
    MissingHost,
    /// RFC 9112 §6.1: an HTTP/1.0 recipient would read Transfer-Encoding as faulty framing.
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingInHttp10,
    /// RFC 9112 §6.2: a sender must not send Content-Length with Transfer-Encoding.
    #[error("both Content-Length and Transfer-Encoding set")]
    ContentLengthWithTransferEncoding,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_rfc() {
        assert_eq!(HttpError::RequestLineTooLong { max: 1 }.status(), 414);
        assert_eq!(HttpError::HeaderSectionTooLarge { max: 1 }.status(), 431);
        assert_eq!(HttpError::TooManyFields { max: 1 }.status(), 431);
        assert_eq!(
            HttpError::UnsupportedVersion { major: 2, minor: 0 }.status(),
            505
        );
        assert_eq!(HttpError::UnsupportedTransferCoding.status(), 501);
        assert_eq!(HttpError::BodyTooLarge { max: 1 }.status(), 413);
        assert_eq!(HttpError::BareCr.status(), 400);
        assert_eq!(HttpError::ContentLengthWithTransferEncoding.status(), 400);
        assert_eq!(HttpError::InvalidStatusLine("x").status(), 502);
    }
}
