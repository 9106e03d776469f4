//! The limits and the one leniency switch of the parsers. RFC 9112 §2.3 and §3 leave limits to
//! the implementation ("a server ought to..."): these are ours, each named after what it bounds.

/// Limits and policy for [`super::ServerConn`] and [`super::ResponseParser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseConfig {
    /// Longest request or status line, without its CRLF (a longer request line → 414).
    pub max_start_line: usize,
    /// Longest header section, every field line and the final empty line counted (→ 431).
    pub max_header_section: usize,
    /// Most field lines in a header or trailer section (→ 431).
    pub max_fields: usize,
    /// Longest chunk-size line, extensions included, without its CRLF (→ 400).
    pub max_chunk_line: usize,
    /// Longest trailer section (→ 431).
    pub max_trailer_section: usize,
    /// Largest body, whatever its framing (→ 413). `u64::MAX`: no limit.
    pub max_body: u64,
    /// Most empty lines skipped before a start line (RFC 9112 §2.2 robustness).
    pub max_empty_lines: usize,
    /// Most bytes buffered and not yet parsed; drivers read at most `input_capacity()` bytes.
    pub max_buffer: usize,
    /// RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line terminator". When set, a
    /// lone LF ends a line everywhere a CRLF would: start line, fields, chunk lines, trailers.
    /// A bare CR is refused either way.
    pub bare_lf: bool,
}

impl ParseConfig {
    /// What a server applies to requests: strict CRLF (a front-end that reads a lone LF
    /// differently from us is a request-smuggling channel) and a 16 MiB body limit.
    pub const fn server() -> Self {
        Self {
            max_start_line: 8 * 1024,
            max_header_section: 64 * 1024,
            max_fields: 100,
            max_chunk_line: 1024,
            max_trailer_section: 8 * 1024,
            max_body: 16 * 1024 * 1024,
            max_empty_lines: 8,
            max_buffer: 256 * 1024,
            bare_lf: false,
        }
    }

    /// What a client applies to responses: bare LF accepted as curl does (servers that send it
    /// exist; the response cannot smuggle a request past us), and no body limit, since clients
    /// download large files by design.
    pub const fn client() -> Self {
        Self {
            max_body: u64::MAX,
            bare_lf: true,
            ..Self::server()
        }
    }
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self::server()
    }
}
