//! Reading a whole message into a tree of MIME parts: RFC 5322 §2.1 (header section, blank
//! line, body), RFC 2045 §5–§6 (Content-Type, Content-Transfer-Encoding), RFC 2046 §5.1
//! (multipart bodies and boundary delimiters), §5.2.1 (message/rfc822), RFC 2183
//! (Content-Disposition).
//!
//! Every part remembers where its header section and body lie in the original bytes, because
//! IMAP serves exactly those bytes (`BODY[1.2.HEADER]`, `BODY[1.2.TEXT]`, RFC822.SIZE and the
//! sizes and line counts of BODYSTRUCTURE). Parsing copies the input once and does not decode
//! bodies; accessors decode on demand.
//!
//! Hostile input: nesting depth and part count are capped, each multipart level is a single
//! linear scan, and no allocation is sized by a number read from the input.

use std::ops::Range;

use super::address::{Mailbox, parse_mailboxes};
use super::header::{self, HeaderError, Headers};
use super::params::{ContentType, Disposition};
use super::transfer::TransferEncoding;
use super::{charset, encoded_word};

/// Multipart and message/rfc822 parts nest at most this deep below the top-level message.
pub const MAX_DEPTH: usize = 32;
/// At most this many parts in one message, the message itself included.
pub const MAX_PARTS: usize = 1000;
/// RFC 2046 §5.1.1 allows 70 characters; longer boundaries are accepted up to this cap.
pub const MAX_BOUNDARY: usize = 200;

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("header section of the part at byte {offset}: {source}")]
    Header {
        offset: usize,
        #[source]
        source: HeaderError,
    },
    #[error("MIME parts nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("more than {MAX_PARTS} MIME parts")]
    TooManyParts,
}

/// One node of the MIME tree: the message itself, a body part, or an encapsulated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub headers: Headers,
    /// The header section including the blank line after it (empty range when there is none).
    pub header_range: Range<usize>,
    /// The body, still transfer-encoded. For a part of a multipart, the line break before the
    /// next boundary is not included (RFC 2046 §5.1.1 gives it to the delimiter).
    pub body_range: Range<usize>,
    /// From `Content-Type`, or the RFC 2045 §5.2 / RFC 2046 §5.1.5 default.
    pub content_type: ContentType,
    pub transfer_encoding: TransferEncoding,
    pub disposition: Option<Disposition>,
    /// `Content-ID` as written (with its angle brackets).
    pub content_id: Option<String>,
    /// `Content-Description`, encoded-words decoded.
    pub description: Option<String>,
    /// The parts of a multipart, or the one encapsulated message of a message/rfc822 part.
    pub children: Vec<Part>,
}

impl Part {
    /// The header section and body together (the whole part, or a whole encapsulated message).
    pub fn range(&self) -> Range<usize> {
        self.header_range.start..self.body_range.end
    }

    pub fn is_multipart(&self) -> bool {
        self.content_type.is_multipart()
    }

    /// A message/rfc822 (or RFC 6532 message/global) part whose message was parsed into
    /// `children[0]`.
    pub fn is_encapsulated_message(&self) -> bool {
        is_message_type(&self.content_type) && !self.children.is_empty()
    }

    /// The file name from Content-Disposition `filename`, else Content-Type `name`, decoded
    /// from RFC 2231, RFC 2047 or plain.
    pub fn file_name(&self) -> Option<String> {
        self.disposition
            .as_ref()
            .and_then(Disposition::file_name)
            .or_else(|| self.content_type.params.file_name("name"))
    }

    /// Whether a reader would list this part as an attachment rather than show it as the text.
    pub fn is_attachment(&self) -> bool {
        if self.is_multipart() {
            return false;
        }
        // Apple Mail sends files as `inline; filename=…`, so only inline *text* is body text.
        let is_text = self.content_type.mime_type == "text";
        match &self.disposition {
            Some(d) if d.is_attachment() => true,
            Some(d) if d.is_inline() && is_text => false,
            _ => !is_text || self.file_name().is_some(),
        }
    }

    /// This part and all below it, depth first.
    pub fn walk(&self) -> Vec<&Part> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(part) = stack.pop() {
            out.push(part);
            stack.extend(part.children.iter().rev());
        }
        out
    }
}

fn is_message_type(content_type: &ContentType) -> bool {
    content_type.is("message", "rfc822") || content_type.is("message", "global")
}

/// A decoded attachment: its file name (empty if it has none), `type/subtype` and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A parsed message: its bytes and its MIME tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    bytes: Vec<u8>,
    root: Part,
}

impl Message {
    /// Parses a message with CRLF or bare LF line endings.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::from_vec(bytes.to_vec())
    }

    /// Like [`Message::parse`], taking ownership instead of copying.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, ParseError> {
        let mut budget = MAX_PARTS;
        let whole = 0..bytes.len();
        let root = parse_part(&bytes, whole, ContentType::default(), 0, &mut budget)?;
        Ok(Self { bytes, root })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn root(&self) -> &Part {
        &self.root
    }

    /// The top-level header fields.
    pub fn headers(&self) -> &Headers {
        &self.root.headers
    }

    /// Bytes of a range taken from a part (empty if the range is not from this message).
    pub fn slice(&self, range: Range<usize>) -> &[u8] {
        self.bytes.get(range).unwrap_or_default()
    }

    /// Lines in a range, counted as IMAP's BODYSTRUCTURE does: by line feeds.
    pub fn line_count(&self, range: Range<usize>) -> usize {
        self.slice(range).iter().filter(|&&b| b == b'\n').count()
    }

    /// A part's body with its transfer encoding undone.
    pub fn decoded_body(&self, part: &Part) -> Vec<u8> {
        part.transfer_encoding
            .decode(self.slice(part.body_range.clone()))
    }

    /// A text part's body as a string: transfer encoding undone, charset decoded, CRLF turned
    /// into `\n`.
    pub fn text_of(&self, part: &Part) -> String {
        let label = part.content_type.charset().unwrap_or("us-ascii");
        let text = charset::decode(label, &self.decoded_body(part));
        text.replace("\r\n", "\n")
    }

    /// `Subject`, encoded-words decoded.
    pub fn subject(&self) -> Option<String> {
        self.headers().get("subject").map(encoded_word::decode)
    }

    pub fn from(&self) -> Vec<Mailbox> {
        self.mailboxes("from")
    }

    pub fn to(&self) -> Vec<Mailbox> {
        self.mailboxes("to")
    }

    pub fn cc(&self) -> Vec<Mailbox> {
        self.mailboxes("cc")
    }

    /// Mailboxes of every field called `name` (some mailers repeat `To`).
    fn mailboxes(&self, name: &str) -> Vec<Mailbox> {
        self.headers()
            .get_all(name)
            .flat_map(parse_mailboxes)
            .collect()
    }

    /// `Date` as written (RFC 5322 §3.3 date-time, not interpreted).
    pub fn date(&self) -> Option<&str> {
        self.headers().get("date")
    }

    /// `Message-ID` as written, angle brackets included.
    pub fn message_id(&self) -> Option<&str> {
        self.headers().get("message-id")
    }

    /// The first text/plain part that is not an attachment, as text.
    pub fn text_body(&self) -> Option<String> {
        self.first_text("plain")
    }

    /// The first text/html part that is not an attachment, as text.
    pub fn html_body(&self) -> Option<String> {
        self.first_text("html")
    }

    fn first_text(&self, subtype: &str) -> Option<String> {
        self.readable_parts()
            .into_iter()
            .find(|p| p.content_type.is("text", subtype) && !p.is_attachment())
            .map(|p| self.text_of(p))
    }

    /// Attachments in order, decoded. Encapsulated messages count as attachments whole; their
    /// own parts are not searched.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.readable_parts()
            .into_iter()
            .filter(|p| p.is_attachment())
            .map(|p| Attachment {
                file_name: p.file_name().unwrap_or_default(),
                content_type: p.content_type.essence(),
                bytes: self.decoded_body(p),
            })
            .collect()
    }

    /// Leaves reached through multiparts only, depth first: what a reader shows for this message
    /// (an attached message's insides belong to that message).
    fn readable_parts(&self) -> Vec<&Part> {
        let mut out = Vec::new();
        let mut stack = vec![&self.root];
        while let Some(part) = stack.pop() {
            if part.is_multipart() {
                stack.extend(part.children.iter().rev());
            } else {
                out.push(part);
            }
        }
        out
    }
}

/// Parses the part in `data[range]`, with `default_type` used when it has no Content-Type.
fn parse_part(
    data: &[u8],
    range: Range<usize>,
    default_type: ContentType,
    depth: usize,
    budget: &mut usize,
) -> Result<Part, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    *budget = budget.checked_sub(1).ok_or(ParseError::TooManyParts)?;
    let section =
        header::parse_section(data, range.clone()).map_err(|source| ParseError::Header {
            offset: range.start,
            source,
        })?;
    let headers = section.headers;
    let content_type = headers
        .get("content-type")
        .and_then(ContentType::parse)
        .unwrap_or(default_type);
    let body_range = section.body_start..range.end.max(section.body_start);
    let mut part = Part {
        transfer_encoding: headers
            .get("content-transfer-encoding")
            .map(TransferEncoding::parse)
            .unwrap_or_default(),
        disposition: headers
            .get("content-disposition")
            .and_then(Disposition::parse),
        content_id: headers.get("content-id").map(str::to_owned),
        description: headers.get("content-description").map(encoded_word::decode),
        header_range: section.range,
        body_range,
        content_type,
        headers,
        children: Vec::new(),
    };
    part.children = parse_children(data, &part, depth, budget)?;
    Ok(part)
}

fn parse_children(
    data: &[u8],
    part: &Part,
    depth: usize,
    budget: &mut usize,
) -> Result<Vec<Part>, ParseError> {
    let body = part.body_range.clone();
    if part.is_multipart() {
        let Some(boundary) = part
            .content_type
            .boundary()
            .filter(|b| is_usable_boundary(b))
        else {
            // RFC 2046 §5.1.1 makes the boundary mandatory; without one the body stays opaque.
            return Ok(Vec::new());
        };
        let child_type = if part.content_type.subtype == "digest" {
            ContentType::digest_default()
        } else {
            ContentType::default()
        };
        return split_multipart(data, body, boundary.as_bytes())
            .into_iter()
            .map(|range| parse_part(data, range, child_type.clone(), depth + 1, budget))
            .collect();
    }
    // An encapsulated message can only be parsed in place when it is not transfer-encoded
    // (RFC 2046 §5.2.1 allows only 7bit, 8bit and binary).
    let identity = matches!(
        part.transfer_encoding,
        TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary
    );
    if is_message_type(&part.content_type) && identity {
        let child = parse_part(data, body, ContentType::default(), depth + 1, budget)?;
        return Ok(vec![child]);
    }
    Ok(Vec::new())
}

fn is_usable_boundary(boundary: &str) -> bool {
    !boundary.is_empty() && boundary.len() <= MAX_BOUNDARY
}

/// What a line is with respect to a multipart's boundary.
#[derive(Debug, PartialEq, Eq)]
enum Delimiter {
    Open,
    Close,
}

/// RFC 2046 §5.1.1: the body parts between `--boundary` lines, up to `--boundary--`. Lines are
/// scanned once; a missing close delimiter ends the last part at the end of the body, and a
/// boundary that never appears gives no parts (the whole body is preamble).
fn split_multipart(data: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let end = body.end.min(data.len());
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = body.start.min(end);
    while pos < end {
        let next = data[pos..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |lf| pos + lf + 1);
        if let Some(kind) = delimiter(&data[pos..next], boundary) {
            if let Some(start) = open.take() {
                parts.push(start..content_end(data, start, pos));
            }
            // Stop collecting once over the part limit; the caller reports it.
            if kind == Delimiter::Close || parts.len() > MAX_PARTS {
                return parts;
            }
            open = Some(next);
        }
        pos = next;
    }
    parts.extend(open.map(|start| start..end));
    parts
}

/// Matches `--boundary` or `--boundary--` followed only by transport padding (white space).
/// Requiring nothing else after it keeps an inner boundary that merely starts with the outer one
/// from being taken for it.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<Delimiter> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (kind, rest) = match rest.strip_prefix(b"--") {
        Some(after) => (Delimiter::Close, after),
        None => (Delimiter::Open, rest),
    };
    rest.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .then_some(kind)
}

/// The line break before a delimiter belongs to the delimiter, not to the part before it.
fn content_end(data: &[u8], start: usize, delimiter_start: usize) -> usize {
    let mut end = delimiter_start;
    if end > start && data.get(end - 1) == Some(&b'\n') {
        end -= 1;
        if end > start && data.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SIMPLE: &[u8] = b"From: John Doe <jdoe@machine.example>\r\n\
To: Mary Smith <mary@example.net>\r\n\
Subject: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n\
Message-ID: <1234@local.machine.example>\r\n\
\r\n\
This is a message just to say hello.\r\n\
So, \"Hello\".\r\n";

    #[test]
    fn rfc5322_a1_1_simple_message() {
        let message = Message::parse(SIMPLE).unwrap();
        assert_eq!(message.subject().as_deref(), Some("Saying Hello"));
        assert_eq!(
            message.from(),
            [Mailbox::new(Some("John Doe"), "jdoe@machine.example")]
        );
        assert_eq!(
            message.to(),
            [Mailbox::new(Some("Mary Smith"), "mary@example.net")]
        );
        assert!(message.cc().is_empty());
        assert_eq!(message.date(), Some("Fri, 21 Nov 1997 09:55:06 -0600"));
        assert_eq!(message.message_id(), Some("<1234@local.machine.example>"));
        assert_eq!(
            message.text_body().as_deref(),
            Some("This is a message just to say hello.\nSo, \"Hello\".\n")
        );
        assert_eq!(message.html_body(), None);
        assert!(message.attachments().is_empty());
        let root = message.root();
        assert_eq!(root.content_type.essence(), "text/plain");
        assert!(
            message
                .slice(root.header_range.clone())
                .ends_with(b"example>\r\n\r\n")
        );
        assert!(
            message
                .slice(root.body_range.clone())
                .starts_with(b"This is")
        );
        assert_eq!(root.range(), 0..SIMPLE.len());
        assert_eq!(message.line_count(root.body_range.clone()), 2);
    }

    #[test]
    fn bare_lf_message() {
        let lf: Vec<u8> = SIMPLE.iter().copied().filter(|&b| b != b'\r').collect();
        let message = Message::parse(&lf).unwrap();
        assert_eq!(message.subject().as_deref(), Some("Saying Hello"));
        assert_eq!(
            message.text_body().as_deref(),
            Some("This is a message just to say hello.\nSo, \"Hello\".\n")
        );
    }

    /// RFC 2046 §5.1.1's example, plus an attachment and nested alternative.
    const MULTIPART: &[u8] = b"From: Nathaniel Borenstein <nsb@bellcore.com>\r\n\
To: Ned Freed <ned@innosoft.com>\r\n\
Subject: =?utf-8?B?7ZWc6riAIOygnOuqqQ==?=\r\n\
MIME-Version: 1.0\r\n\
Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n\
\r\n\
This is the preamble.  It is to be ignored, though it\r\n\
is a handy place for composition agents to include an\r\n\
explanatory note to non-MIME conformant readers.\r\n\
\r\n\
--simple boundary\r\n\
\r\n\
This is implicitly typed plain US-ASCII text.\r\n\
It does NOT end with a linebreak.\r\n\
--simple boundary\r\n\
Content-type: multipart/alternative; boundary=\"simple boundary-inner\"\r\n\
\r\n\
--simple boundary-inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<p>caf=C3=A9</p>\r\n\
--simple boundary-inner--\r\n\
--simple boundary\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename*=utf-8''%ED%95%9C.bin\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <x@y>\r\n\
Content-Description: =?utf-8?Q?caf=C3=A9?=\r\n\
\r\n\
AAEC/w==\r\n\
--simple boundary--  \r\n\
\r\n\
This is the epilogue.  It is also to be ignored.\r\n";

    #[test]
    fn rfc2046_multipart_tree() {
        let message = Message::parse(MULTIPART).unwrap();
        assert_eq!(message.subject().as_deref(), Some("한글 제목"));
        let root = message.root();
        assert!(root.is_multipart());
        assert_eq!(root.children.len(), 3);
        let first = &root.children[0];
        assert_eq!(first.content_type, ContentType::default());
        assert_eq!(
            message.slice(first.body_range.clone()),
            b"This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak."
        );
        assert_eq!(message.slice(first.header_range.clone()), b"\r\n");
        assert_eq!(
            message.text_body().as_deref(),
            Some(
                "This is implicitly typed plain US-ASCII text.\nIt does NOT end with a linebreak."
            )
        );
        let inner = &root.children[1];
        assert_eq!(inner.children.len(), 1);
        assert_eq!(message.html_body().as_deref(), Some("<p>café</p>"));
        let attachment = &root.children[2];
        assert_eq!(attachment.content_id.as_deref(), Some("<x@y>"));
        assert_eq!(attachment.description.as_deref(), Some("café"));
        assert_eq!(
            message.attachments(),
            [Attachment {
                file_name: "한.bin".into(),
                content_type: "application/octet-stream".into(),
                bytes: vec![0, 1, 2, 255],
            }]
        );
        assert_eq!(root.walk().len(), 5);
    }

    #[test]
    fn encapsulated_message_and_digest() {
        let data = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n\
Subject: inner\r\nContent-Type: text/plain\r\n\r\ninner body\r\n--d--\r\n";
        let message = Message::parse(data).unwrap();
        let part = &message.root().children[0];
        assert!(part.is_encapsulated_message());
        let inner = &part.children[0];
        assert_eq!(inner.headers.get("subject"), Some("inner"));
        assert_eq!(message.slice(inner.body_range.clone()), b"inner body");
        // The encapsulated message is an attachment as a whole; its text is not the body.
        assert_eq!(message.text_body(), None);
        let attachments = message.attachments();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0].content_type, "message/rfc822");
        assert!(attachments[0].bytes.starts_with(b"Subject: inner"));
    }

    #[test]
    fn korean_legacy_message() {
        let (subject, _, _) = encoding_rs::EUC_KR.encode("테스트 메일");
        let (body, _, _) = encoding_rs::EUC_KR.encode("본문입니다.");
        let (name, _, _) = encoding_rs::EUC_KR.encode("첨부.txt");
        let b64 = |bytes: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(bytes)
        };
        let data = format!(
            "Subject: =?ks_c_5601-1987?B?{}?=\r\nFrom: =?euc-kr?B?{}?= <a@b.kr>\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=ks_c_5601-1987\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b\r\n\
Content-Type: text/plain; name=\"=?euc-kr?B?{}?=\"\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--\r\n",
            b64(&subject),
            b64(&encoding_rs::EUC_KR.encode("홍길동").0),
            b64(&body),
            b64(&name),
        );
        let message = Message::parse(data.as_bytes()).unwrap();
        assert_eq!(message.subject().as_deref(), Some("테스트 메일"));
        assert_eq!(message.from()[0].name.as_deref(), Some("홍길동"));
        assert_eq!(message.text_body().as_deref(), Some("본문입니다."));
        assert_eq!(message.attachments()[0].file_name, "첨부.txt");
    }

    #[test]
    fn missing_close_and_missing_boundary() {
        let data = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n";
        let message = Message::parse(data).unwrap();
        let children = &message.root().children;
        assert_eq!(children.len(), 2);
        assert_eq!(message.slice(children[1].body_range.clone()), b"two\r\n");

        let never = b"Content-Type: multipart/mixed; boundary=nope\r\n\r\n--b\r\nstuff\r\n";
        let message = Message::parse(never).unwrap();
        assert!(message.root().children.is_empty());
        assert_eq!(message.text_body(), None);
        assert!(message.attachments().is_empty());

        let no_param = b"Content-Type: multipart/mixed\r\n\r\n--b\r\n";
        assert!(Message::parse(no_param).unwrap().root().children.is_empty());
    }

    #[test]
    fn boundary_prefix_is_not_a_delimiter() {
        assert_eq!(delimiter(b"--abc\r\n", b"abc"), Some(Delimiter::Open));
        assert_eq!(delimiter(b"--abc--\n", b"abc"), Some(Delimiter::Close));
        assert_eq!(delimiter(b"--abc \t", b"abc"), Some(Delimiter::Open));
        assert_eq!(delimiter(b"--abc-1\r\n", b"abc"), None);
        assert_eq!(delimiter(b"--abc--x\r\n", b"abc"), None);
        assert_eq!(delimiter(b" --abc\r\n", b"abc"), None);
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for level in 0..depth {
            data.extend_from_slice(
                format!(
                    "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
                )
                .as_bytes(),
            );
        }
        data.extend_from_slice(b"\r\ndeep text\r\n");
        data
    }

    #[test]
    fn hostile_nesting_and_part_counts() {
        let ok = Message::parse(&nested(MAX_DEPTH)).unwrap();
        assert_eq!(ok.text_body().as_deref(), Some("deep text\n"));
        assert_eq!(
            Message::parse(&nested(MAX_DEPTH + 2)),
            Err(ParseError::TooDeep)
        );

        let mut many = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for _ in 0..MAX_PARTS + 5 {
            many.extend_from_slice(b"--b\r\n\r\nx\r\n");
        }
        assert_eq!(Message::parse(&many), Err(ParseError::TooManyParts));

        let mut rfc822 = Vec::new();
        for _ in 0..40 {
            rfc822.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        assert_eq!(Message::parse(&rfc822), Err(ParseError::TooDeep));
    }

    #[test]
    fn hostile_headers_and_bytes() {
        let mut huge = b"Subject: ".to_vec();
        huge.resize(header::MAX_FIELD_BYTES * 2, b'x');
        assert!(matches!(
            Message::parse(&huge),
            Err(ParseError::Header {
                offset: 0,
                source: HeaderError::FieldTooLong { .. }
            })
        ));
        let mut long = b"Subject: ".to_vec();
        long.resize(10_000, b'x');
        long.extend_from_slice(b"\r\n\r\nbody");
        assert_eq!(
            Message::parse(&long).unwrap().subject().unwrap().len(),
            10_000 - 9
        );

        let nul = b"Subject: a\x00b\r\nContent-Type: text/plain; charset=\x00\r\n\r\n\x00\xff\r\n";
        let message = Message::parse(nul).unwrap();
        assert_eq!(message.subject().as_deref(), Some("a\u{0}b"));
        assert_eq!(message.text_body().as_deref(), Some("\u{0}\u{fffd}\n"));

        let empty = Message::parse(b"").unwrap();
        assert_eq!(empty.subject(), None);
        assert_eq!(empty.text_body().as_deref(), Some(""));
    }

    /// Many boundary-like lines at every level must stay linear: 32 levels over ~1 MB.
    #[test]
    fn deep_nesting_over_large_bodies_is_bounded() {
        let mut data = nested(MAX_DEPTH);
        for _ in 0..20_000 {
            data.extend_from_slice(b"--b1x not a boundary line of any level at all\r\n");
        }
        let started = std::time::Instant::now();
        let message = Message::parse(&data).unwrap();
        let _ = message.text_body();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    fn call_every_accessor(message: &Message) {
        let _ = message.subject();
        let _ = message.from();
        let _ = message.to();
        let _ = message.cc();
        let _ = message.date();
        let _ = message.message_id();
        let _ = message.text_body();
        let _ = message.html_body();
        let _ = message.attachments();
        for part in message.root().walk() {
            let _ = part.file_name();
            let _ = part.is_attachment();
            let _ = message.line_count(part.range());
            assert!(part.header_range.end <= part.body_range.start || part.header_range.is_empty());
            assert!(part.body_range.end <= message.as_bytes().len());
        }
    }

    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..20),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"--b\r\n".to_vec()),
            Just(b"--b--\r\n".to_vec()),
            Just(b"--c\n".to_vec()),
            Just(b"Content-Type: multipart/mixed; boundary=b\r\n".to_vec()),
            Just(b"Content-Type: multipart/alternative; boundary=\"c\"\n".to_vec()),
            Just(b"Content-Type: message/rfc822\r\n".to_vec()),
            Just(b"Content-Type: text/plain; charset=euc-kr\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
            Just(
                b"Content-Disposition: attachment; filename*0*=utf-8''%ED; filename*1*=%95%9C\r\n"
                    .to_vec()
            ),
            Just(b"Subject: =?utf-8?B?7ZWc?= =?euc-kr?Q?=C7=D1?=\r\n".to_vec()),
            Just(b"From: \"a\" <b@c>, (x) d@e (y)\r\n".to_vec()),
            Just(b"To: g: a@b;\r\n".to_vec()),
            Just(b" folded\r\n".to_vec()),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(message) = Message::parse(&data) {
                call_every_accessor(&message);
            }
        }

        #[test]
        fn mime_shaped_bytes_never_panic(fragments in proptest::collection::vec(fragment(), 0..60)) {
            let data = fragments.concat();
            if let Ok(message) = Message::parse(&data) {
                call_every_accessor(&message);
            }
        }
    }
}
