//! Message bodies: decoding the three framings incrementally (RFC 9112 §6.2 Content-Length,
//! §7.1 chunked with §7.1.1 extensions and §7.1.2 trailers, §6.3 item 8 close-delimited) and
//! encoding chunks.
//!
//! Policies:
//! - Chunk lines: `chunk-size [ chunk-ext ] CRLF` exactly as RFC 9112 §7.1.1 writes it. BWS is
//!   accepted where the grammar puts it (around `;` and `=` in an extension) and nowhere else:
//!   `5 \r\n` (trailing whitespace with no extension) and ` 5\r\n` are refused, as are `0x5`,
//!   signs and sizes beyond 64 bits. Extensions are checked for syntax and ignored.
//! - Trailers: parsed like header fields, then every field RFC 9110 §6.5.1 forbids in a trailer
//!   (framing, routing, request modifiers, authentication, response control, content
//!   metadata) is dropped, so a caller that merges trailers can never be fooled by them.

use super::config::ParseConfig;
use super::error::{EncodeError, HttpError};
use super::framing::BodyKind;
use super::head::{HeadScanner, Section, lines};
use super::headers::{Headers, ObsFold, encode_fields, parse_fields};
use super::syntax::{is_ows, skip_ows, skip_quoted_string, split_token};

/// What the decoder produced from the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyEvent {
    /// Body bytes, in order, framing removed.
    Data(Vec<u8>),
    /// The body is complete; trailers (empty unless chunked with a trailer section).
    End(Headers),
}

/// Where the chunked decoder is.
#[derive(Debug, Clone)]
enum Chunked {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading the trailer section after the last chunk.
    Trailers(HeadScanner),
}

#[derive(Debug, Clone)]
enum State {
    Length { remaining: u64 },
    Chunked(Chunked),
    UntilClose,
    Done,
}

/// Decodes one message body from the front of a connection's buffer.
#[derive(Debug, Clone)]
pub(crate) struct BodyDecoder {
    state: State,
    /// Body bytes announced (chunked) or received (close-delimited) so far, against `max_body`.
    announced: u64,
    obs_fold: ObsFold,
}

impl BodyDecoder {
    pub(crate) fn new(kind: BodyKind, obs_fold: ObsFold) -> Self {
        let state = match kind {
            BodyKind::Empty | BodyKind::Length(0) => State::Length { remaining: 0 },
            BodyKind::Length(n) => State::Length { remaining: n },
            BodyKind::Chunked => State::Chunked(Chunked::Size),
            BodyKind::UntilClose => State::UntilClose,
        };
        Self {
            state,
            announced: 0,
            obs_fold,
        }
    }

    /// Takes the next event from the front of `buf`, removing the bytes it used. `Ok(None)`:
    /// more input is needed (or the body is already complete).
    pub(crate) fn decode(
        &mut self,
        buf: &mut Vec<u8>,
        config: &ParseConfig,
    ) -> Result<Option<BodyEvent>, HttpError> {
        match &mut self.state {
            State::Length { remaining: 0 } => {
                self.state = State::Done;
                Ok(Some(BodyEvent::End(Headers::new())))
            }
            State::Length { remaining } => Ok(take_data(buf, remaining).map(BodyEvent::Data)),
            State::UntilClose => self.take_until_close(buf, config),
            State::Chunked(_) => self.decode_chunked(buf, config),
            State::Done => Ok(None),
        }
    }

    /// The peer closed the connection: the end of a close-delimited body, or a truncated one.
    pub(crate) fn finish(&mut self) -> Result<Option<BodyEvent>, HttpError> {
        match self.state {
            State::UntilClose => {
                self.state = State::Done;
                Ok(Some(BodyEvent::End(Headers::new())))
            }
            State::Done => Ok(None),
            State::Length { remaining: 0 } => {
                self.state = State::Done;
                Ok(Some(BodyEvent::End(Headers::new())))
            }
            _ => Err(HttpError::IncompleteMessage),
        }
    }

    /// Steps through chunk framing until there is an event or the buffer runs dry.
    fn decode_chunked(
        &mut self,
        buf: &mut Vec<u8>,
        config: &ParseConfig,
    ) -> Result<Option<BodyEvent>, HttpError> {
        loop {
            let State::Chunked(chunked) = &mut self.state else {
                return Ok(None);
            };
            match chunked {
                Chunked::Size => {
                    let Some(size) = take_chunk_line(buf, config)? else {
                        return Ok(None);
                    };
                    self.start_chunk(size, config)?;
                }
                Chunked::Data { remaining } => {
                    let data = take_data(buf, remaining);
                    if *remaining == 0 {
                        *chunked = Chunked::DataEnd;
                    }
                    if data.is_some() {
                        return Ok(data.map(BodyEvent::Data));
                    }
                    if buf.is_empty() {
                        return Ok(None);
                    }
                }
                Chunked::DataEnd => {
                    if !take_line_end(buf, config)? {
                        return Ok(None);
                    }
                    *chunked = Chunked::Size;
                }
                Chunked::Trailers(scanner) => {
                    let Some(end) = scanner.scan(buf, config)? else {
                        return Ok(None);
                    };
                    let trailers =
                        parse_trailers(buf.get(..end).unwrap_or_default(), self.obs_fold)?;
                    buf.drain(..end);
                    self.state = State::Done;
                    return Ok(Some(BodyEvent::End(trailers)));
                }
            }
        }
    }

    /// Close-delimited data: unbounded by framing, so the body limit is applied as it arrives.
    fn take_until_close(
        &mut self,
        buf: &mut Vec<u8>,
        config: &ParseConfig,
    ) -> Result<Option<BodyEvent>, HttpError> {
        let mut unbounded = u64::MAX;
        let Some(data) = take_data(buf, &mut unbounded) else {
            return Ok(None);
        };
        self.announced = self
            .announced
            .checked_add(data.len() as u64)
            .filter(|total| *total <= config.max_body)
            .ok_or(HttpError::BodyTooLarge {
                max: config.max_body,
            })?;
        Ok(Some(BodyEvent::Data(data)))
    }

    /// A chunk-size line was read: the last chunk, or data to come (checked against the limit
    /// before any of it is accepted).
    fn start_chunk(&mut self, size: u64, config: &ParseConfig) -> Result<(), HttpError> {
        if size == 0 {
            self.state = State::Chunked(Chunked::Trailers(HeadScanner::new(Section::Trailers)));
            return Ok(());
        }
        self.announced = self
            .announced
            .checked_add(size)
            .filter(|total| *total <= config.max_body)
            .ok_or(HttpError::BodyTooLarge {
                max: config.max_body,
            })?;
        self.state = State::Chunked(Chunked::Data { remaining: size });
        Ok(())
    }
}

/// Up to `remaining` bytes off the front of `buf`; `None` if there are none to take. The
/// allocation is bounded by what is buffered, never by the announced length.
fn take_data(buf: &mut Vec<u8>, remaining: &mut u64) -> Option<Vec<u8>> {
    let n = usize::try_from(*remaining)
        .unwrap_or(usize::MAX)
        .min(buf.len());
    if n == 0 {
        return None;
    }
    *remaining -= n as u64;
    Some(buf.drain(..n).collect())
}

/// Consumes the CRLF (or, if allowed, LF) that ends chunk data. `Ok(false)`: not all here yet.
fn take_line_end(buf: &mut Vec<u8>, config: &ParseConfig) -> Result<bool, HttpError> {
    let len = match buf.as_slice() {
        [] | [b'\r'] => return Ok(false),
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] if config.bare_lf => 1,
        _ => return Err(HttpError::MissingChunkCrlf),
    };
    buf.drain(..len);
    Ok(true)
}

/// Reads one chunk-size line off the front of `buf` and returns the size.
///
/// The scan decides at each byte from that byte and the next one only, so the result (and the
/// error, if any) is the same however the input was split across reads.
fn take_chunk_line(buf: &mut Vec<u8>, config: &ParseConfig) -> Result<Option<u64>, HttpError> {
    let max = config.max_chunk_line;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'\n' => return finish_chunk_line(buf, i, config).map(Some),
            b'\r' => match buf.get(i + 1) {
                None => return Ok(None),
                Some(b'\n') => {}
                Some(_) => return Err(HttpError::BareCr),
            },
            _ if i >= max => return Err(HttpError::ChunkLineTooLong { max }),
            _ => {}
        }
    }
    Ok(None)
}

/// The chunk-size line ends in the LF at `lf`: parse it and remove it from `buf`.
fn finish_chunk_line(buf: &mut Vec<u8>, lf: usize, config: &ParseConfig) -> Result<u64, HttpError> {
    let line = buf.get(..lf).unwrap_or_default();
    let line = match line.strip_suffix(b"\r") {
        Some(line) => line,
        None if config.bare_lf => line,
        None => return Err(HttpError::BareLf),
    };
    let size = parse_chunk_line(line)?;
    buf.drain(..=lf);
    Ok(size)
}

/// RFC 9112 §7.1: `chunk-size [ chunk-ext ]` (the line without its CRLF).
pub(crate) fn parse_chunk_line(line: &[u8]) -> Result<u64, HttpError> {
    let digits_end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, ext) = line.split_at_checked(digits_end).unwrap_or((line, &[]));
    if digits.is_empty() {
        return Err(HttpError::InvalidChunkSize);
    }
    let size = digits.iter().try_fold(0u64, |acc, &b| {
        let digit = u64::from(
            char::from(b)
                .to_digit(16)
                .ok_or(HttpError::InvalidChunkSize)?,
        );
        acc.checked_mul(16)
            .and_then(|acc| acc.checked_add(digit))
            .ok_or(HttpError::ChunkSizeOverflow)
    })?;
    // Anything but BWS or ";" right after the digits is part of a malformed size (`0x5`, `5,6`).
    if ext.first().is_some_and(|&b| b != b';' && !is_ows(b)) {
        return Err(HttpError::InvalidChunkSize);
    }
    check_chunk_ext(ext)?;
    Ok(size)
}

/// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`
/// with `chunk-ext-val = token / quoted-string`.
fn check_chunk_ext(mut rest: &[u8]) -> Result<(), HttpError> {
    while !rest.is_empty() {
        // BWS must lead to a ";": trailing whitespace on the line is not in the grammar.
        let after_semi = skip_ows(rest)
            .strip_prefix(b";")
            .ok_or(HttpError::InvalidChunkExtension)?;
        let (name, after_name) = split_token(skip_ows(after_semi));
        if name.is_empty() {
            return Err(HttpError::InvalidChunkExtension);
        }
        rest = match skip_ows(after_name).strip_prefix(b"=") {
            Some(value) => skip_ext_value(skip_ows(value))?,
            None => after_name,
        };
    }
    Ok(())
}

/// `chunk-ext-val = token / quoted-string`: the rest after the value.
fn skip_ext_value(value: &[u8]) -> Result<&[u8], HttpError> {
    if value.starts_with(b"\"") {
        return skip_quoted_string(value).ok_or(HttpError::InvalidChunkExtension);
    }
    let (token, rest) = split_token(value);
    if token.is_empty() {
        return Err(HttpError::InvalidChunkExtension);
    }
    Ok(rest)
}

/// RFC 9110 §6.5.1: fields a sender must not put in a trailer, and a recipient must not act on
/// from one.
const FORBIDDEN_IN_TRAILERS: &[&str] = &[
    // framing
    "transfer-encoding",
    "content-length",
    "trailer",
    // routing and connection management
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    // request modifiers: controls, conditionals, range
    "cache-control",
    "expect",
    "max-forwards",
    "pragma",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    // authentication and state
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    // response control data
    "age",
    "date",
    "expires",
    "location",
    "retry-after",
    "vary",
    "warning",
    // how to process the content
    "content-encoding",
    "content-type",
    "content-range",
];

/// Parses a trailer section and drops the forbidden fields.
fn parse_trailers(section: &[u8], obs_fold: ObsFold) -> Result<Headers, HttpError> {
    let mut trailers = parse_fields(lines(section), obs_fold)?;
    for name in FORBIDDEN_IN_TRAILERS {
        trailers.remove(name);
    }
    Ok(trailers)
}

/// RFC 9112 §7.1: one chunk carrying `data`. Empty data encodes to nothing, since a zero-size
/// chunk would end the body; use [`last_chunk`] for that.
pub fn encode_chunk(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.reserve(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// RFC 9112 §7.1: `last-chunk trailer-section CRLF`. Pass an empty [`Headers`] for no trailers.
pub fn last_chunk(trailers: &Headers) -> Result<Vec<u8>, EncodeError> {
    let mut out = b"0\r\n".to_vec();
    encode_fields(trailers, &mut out)?;
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in one piece and then byte by byte; both must agree.
    fn decode_all(
        kind: BodyKind,
        input: &[u8],
        config: &ParseConfig,
    ) -> Result<(Vec<u8>, Headers, Vec<u8>), HttpError> {
        let whole = decode_pieces(kind, &[input], config)?;
        let pieces: Vec<&[u8]> = input.chunks(1).collect();
        let bytewise = decode_pieces(kind, &pieces, config)?;
        assert_eq!(whole, bytewise, "byte-at-a-time decoding differs");
        Ok(whole)
    }

    /// (body, trailers, bytes left over after the body)
    fn decode_pieces(
        kind: BodyKind,
        pieces: &[&[u8]],
        config: &ParseConfig,
    ) -> Result<(Vec<u8>, Headers, Vec<u8>), HttpError> {
        let mut decoder = BodyDecoder::new(kind, ObsFold::Reject);
        let mut buf = Vec::new();
        let mut body = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            while let Some(event) = decoder.decode(&mut buf, config)? {
                match event {
                    BodyEvent::Data(data) => body.extend(data),
                    BodyEvent::End(trailers) => {
                        let mut rest = buf.clone();
                        for later in pieces
                            .iter()
                            .skip_while(|p| !std::ptr::eq(*p, piece))
                            .skip(1)
                        {
                            rest.extend_from_slice(later);
                        }
                        return Ok((body, trailers, rest));
                    }
                }
            }
        }
        Err(HttpError::IncompleteMessage)
    }

    #[test]
    fn content_length_bodies_stop_at_the_length() {
        let config = ParseConfig::server();
        let (body, trailers, rest) =
            decode_all(BodyKind::Length(5), b"helloGET /", &config).unwrap();
        assert_eq!(body, b"hello");
        assert!(trailers.is_empty());
        assert_eq!(rest, b"GET /");
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let config = ParseConfig::server();
        let input = b"5;name=value\r\nhello\r\n6 ; a = \"q;\\\"x\" ;b\r\n world\r\n0\r\nChecksum: abc\r\nContent-Length: 99\r\n\r\nNEXT";
        let (body, trailers, rest) = decode_all(BodyKind::Chunked, input, &config).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(trailers.get("checksum"), Some("abc"));
        assert!(
            !trailers.contains("content-length"),
            "forbidden trailer fields are dropped"
        );
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn chunk_sizes_are_hex_with_leading_zeros_allowed() {
        let config = ParseConfig::server();
        let (body, ..) = decode_all(
            BodyKind::Chunked,
            b"000A\r\n0123456789\r\n00\r\n\r\n",
            &config,
        )
        .unwrap();
        assert_eq!(body, b"0123456789");
    }

    #[test]
    fn chunk_line_errors() {
        use HttpError::*;
        let cases: &[(&[u8], HttpError)] = &[
            (b"", InvalidChunkSize),
            (b"0x5", InvalidChunkSize),
            (b"+5", InvalidChunkSize),
            (b"-5", InvalidChunkSize),
            (b" 5", InvalidChunkSize),
            (b"5 ", InvalidChunkExtension),
            (b"5\t", InvalidChunkExtension),
            (b"5;", InvalidChunkExtension),
            (b"5;=v", InvalidChunkExtension),
            (b"5;a=", InvalidChunkExtension),
            (b"5;a=\"open", InvalidChunkExtension),
            (b"5;a=b c", InvalidChunkExtension),
            (b"5;a ", InvalidChunkExtension),
            (b"5;a\x00", InvalidChunkExtension),
            (b"5,6", InvalidChunkSize),
            (b"ffffffffffffffffff", ChunkSizeOverflow),
            (b"10000000000000000", ChunkSizeOverflow),
        ];
        for (line, error) in cases {
            assert_eq!(parse_chunk_line(line), Err(error.clone()), "{line:?}");
        }
        assert_eq!(parse_chunk_line(b"ffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(parse_chunk_line(b"5 ;a"), Ok(5));
        assert_eq!(parse_chunk_line(b"5;a=\"\""), Ok(5));
    }

    #[test]
    fn chunk_framing_errors() {
        use HttpError::*;
        let config = ParseConfig::server();
        let cases: &[(&[u8], HttpError)] = &[
            (b"5\r\nhelloXX0\r\n\r\n", MissingChunkCrlf),
            (b"5\r\nhello\rX", MissingChunkCrlf),
            (b"5\r\nhello\n0\r\n\r\n", MissingChunkCrlf),
            (b"5\nhello\r\n", BareLf),
            (b"5\rhello", BareCr),
            (b"0\r\nA: b\n\r\n", BareLf),
            (b"0\r\nBad Name: b\r\n\r\n", InvalidFieldName),
            (b"0\r\nA: b\r\n folded\r\n\r\n", ObsFold),
        ];
        for (input, error) in cases {
            assert_eq!(
                decode_all(BodyKind::Chunked, input, &config).map(|_| ()),
                Err(error.clone()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn lenient_mode_accepts_lf_everywhere_a_crlf_goes() {
        let config = ParseConfig::client();
        let (body, trailers, _) =
            decode_all(BodyKind::Chunked, b"3\nabc\n0\nX: y\n\n", &config).unwrap();
        assert_eq!(body, b"abc");
        assert_eq!(trailers.get("x"), Some("y"));
        assert_eq!(
            decode_all(BodyKind::Chunked, b"3\rabc", &config).map(|_| ()),
            Err(HttpError::BareCr)
        );
    }

    #[test]
    fn limits() {
        let config = ParseConfig {
            max_chunk_line: 8,
            max_body: 10,
            max_trailer_section: 10,
            ..ParseConfig::server()
        };
        let long_ext = b"1;aaaaaaaa\r\nx\r\n0\r\n\r\n";
        assert_eq!(
            decode_all(BodyKind::Chunked, long_ext, &config).map(|_| ()),
            Err(HttpError::ChunkLineTooLong { max: 8 })
        );
        let no_end = [b'0'; 20];
        assert_eq!(
            decode_all(BodyKind::Chunked, &no_end, &config).map(|_| ()),
            Err(HttpError::ChunkLineTooLong { max: 8 })
        );
        let too_big = b"6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n";
        assert_eq!(
            decode_all(BodyKind::Chunked, too_big, &config).map(|_| ()),
            Err(HttpError::BodyTooLarge { max: 10 })
        );
        let huge = b"ffffffff\r\n";
        assert_eq!(
            decode_all(BodyKind::Chunked, huge, &config).map(|_| ()),
            Err(HttpError::BodyTooLarge { max: 10 })
        );
        let big_trailer = b"0\r\nA: 0123456789\r\n\r\n";
        assert_eq!(
            decode_all(BodyKind::Chunked, big_trailer, &config).map(|_| ()),
            Err(HttpError::TrailersTooLarge { max: 10 })
        );
    }

    #[test]
    fn close_delimited_bodies_end_at_eof() {
        let mut decoder = BodyDecoder::new(BodyKind::UntilClose, ObsFold::Unfold);
        let mut buf = b"all of it".to_vec();
        let config = ParseConfig::client();
        assert_eq!(
            decoder.decode(&mut buf, &config),
            Ok(Some(BodyEvent::Data(b"all of it".to_vec())))
        );
        assert_eq!(decoder.decode(&mut buf, &config), Ok(None));
        assert_eq!(decoder.finish(), Ok(Some(BodyEvent::End(Headers::new()))));
        let mut truncated = BodyDecoder::new(BodyKind::Length(5), ObsFold::Reject);
        assert_eq!(truncated.finish(), Err(HttpError::IncompleteMessage));
    }

    #[test]
    fn chunk_encoding() {
        assert_eq!(
            encode_chunk(b"hello world, this is 26 b"),
            b"19\r\nhello world, this is 26 b\r\n"
        );
        assert!(encode_chunk(b"").is_empty());
        let mut trailers = Headers::new();
        assert_eq!(last_chunk(&trailers).unwrap(), b"0\r\n\r\n");
        trailers.append("Checksum", "abc");
        assert_eq!(
            last_chunk(&trailers).unwrap(),
            b"0\r\nChecksum: abc\r\n\r\n"
        );
        let config = ParseConfig::server();
        let mut wire = encode_chunk(b"abc");
        wire.extend(last_chunk(&trailers).unwrap());
        let (body, got, _) = decode_all(BodyKind::Chunked, &wire, &config).unwrap();
        assert_eq!(body, b"abc");
        assert_eq!(got, trailers);
    }
}
