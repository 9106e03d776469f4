//! SMTP replies: the value both ends exchange, its encoder (RFC 5321 §4.2, multiline replies
//! §4.2.1, enhanced status codes RFC 2034 §3 / RFC 3463 §2) and a streaming parser the client
//! feeds with whatever bytes arrive (limits from RFC 5321 §4.5.3.1.5).

use std::collections::VecDeque;
use std::fmt;

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including CRLF.
pub const MAX_REPLY_LINE: usize = 512;
/// Our limit on the lines of one reply. An EHLO reply is about a dozen; a hundred is noise.
pub const MAX_REPLY_LINES: usize = 100;

/// RFC 3463 §2: `class "." subject "." detail`, e.g. `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// 0..=999 (RFC 3463 allows 1–3 digits).
    pub subject: u16,
    /// 0..=999.
    pub detail: u16,
}

impl EnhancedCode {
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }

    /// Parses `d.ddd.ddd` exactly (RFC 3463 §2: class is one digit, subject and detail 1–3).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() || class.len() != 1 {
            return None;
        }
        let class = digits_u16(class, 1)?;
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(Self {
            class: u8::try_from(class).ok()?,
            subject: digits_u16(subject, 3)?,
            detail: digits_u16(detail, 3)?,
        })
    }
}

/// 1..=`max` ASCII digits as a number; anything else is `None`.
fn digits_u16(text: &str, max: usize) -> Option<u16> {
    if text.is_empty() || text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply: a three-digit code, an optional enhanced status code repeated on every line
/// (RFC 2034 §3), and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line, without code, separator, enhanced code or CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Self {
        Self {
            code,
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// A one-line reply with an enhanced code given as `(class, subject, detail)`.
    pub fn with_status(code: u16, status: (u8, u16, u16), text: impl Into<String>) -> Self {
        Self::new(
            code,
            Some(EnhancedCode::new(status.0, status.1, status.2)),
            text,
        )
    }

    /// RFC 5321 §4.2.1: every line but the last is `code "-" text`, the last `code SP text`.
    /// Control characters in the text become spaces, so no caller-supplied string (a hostname,
    /// a queue id, an error message) can end a line early and inject a reply.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let empty = [String::new()];
        let lines: &[String] = if self.lines.is_empty() {
            &empty
        } else {
            &self.lines
        };
        let code = self.code.min(999);
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            out.extend_from_slice(format!("{code:03}").as_bytes());
            let mut text = String::new();
            if let Some(enhanced) = self.enhanced {
                text.push_str(&enhanced.to_string());
                if !line.is_empty() {
                    text.push(' ');
                }
            }
            text.extend(line.chars().map(|c| if c.is_control() { ' ' } else { c }));
            // The last line always has its SP, even before an empty text: RFC 4954 §4's
            // `continue-req = "334" SP [base64] CRLF` requires it, and every client accepts it.
            out.push(if last { b' ' } else { b'-' });
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// RFC 5321 §4.2.1: 2yz positive completion or 3yz positive intermediate.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 2yz: the command was accepted and its action completed.
    pub fn is_completion(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3yz: more input is expected (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4yz: transient negative completion; the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5yz: permanent negative completion; do not repeat the request as is.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// All lines joined by a space, for logs and bounce messages.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        write!(f, " {}", self.text())
    }
}

/// A reply the client could not parse: the connection is no longer in a known state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// RFC 5321 §4.5.3.1.5.
    #[error("reply line longer than {MAX_REPLY_LINE} octets (RFC 5321 §4.5.3.1.5)")]
    LineTooLong,
    /// Our limit.
    #[error("reply of more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    /// RFC 5321 §4.2: `Reply-code = %x32-35 %x30-35 %x30-39`, then SP, "-" or CRLF.
    #[error("malformed reply line: {0} (RFC 5321 §4.2)")]
    Malformed(&'static str),
    /// RFC 5321 §4.2.1: every line of a multiline reply carries the same code.
    #[error("multiline reply changes its code from {first} to {next} (RFC 5321 §4.2.1)")]
    CodeChanged { first: u16, next: u16 },
}

/// Lines of a multiline reply received so far.
#[derive(Debug, Default)]
struct Partial {
    code: u16,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

/// A streaming reply parser: [`ReplyParser::feed`] takes bytes as they arrive and completes
/// replies immediately; [`ReplyParser::next_reply`] hands them out in order. It holds at most one
/// incomplete line (≤ 512 octets) and one incomplete reply (≤ 100 lines). After the first error it
/// ignores further input: framing is lost.
#[derive(Debug, Default)]
pub struct ReplyParser {
    line: Vec<u8>,
    partial: Option<Partial>,
    ready: VecDeque<Result<Reply, ReplyError>>,
    failed: bool,
}

impl ReplyParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !self.failed && !bytes.is_empty() {
            let (chunk, rest, complete) = match bytes.iter().position(|&b| b == b'\n') {
                Some(at) => (&bytes[..at], &bytes[at + 1..], true),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            // The limit counts CRLF; `chunk` excludes LF but may include CR.
            if self.line.len() + chunk.len() + 1 > MAX_REPLY_LINE {
                self.fail(ReplyError::LineTooLong);
                return;
            }
            self.line.extend_from_slice(chunk);
            if complete {
                let line = std::mem::take(&mut self.line);
                self.take_line(&line);
            }
        }
    }

    /// The next complete reply, or a parse error (after which no more replies come).
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        self.ready.pop_front()
    }

    /// True when bytes of an unfinished reply are held.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.partial.is_some()
    }

    fn fail(&mut self, error: ReplyError) {
        self.failed = true;
        self.line.clear();
        self.partial = None;
        self.ready.push_back(Err(error));
    }

    /// One line without its LF; a CR before it is optional, to be lenient with servers that send
    /// bare LF.
    fn take_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parse_reply_line(line) {
            Err(error) => self.fail(error),
            Ok((code, more, enhanced, text)) => {
                let partial = self.partial.get_or_insert_with(|| Partial {
                    code,
                    enhanced,
                    lines: Vec::new(),
                });
                if partial.code != code {
                    let first = partial.code;
                    self.fail(ReplyError::CodeChanged { first, next: code });
                    return;
                }
                if partial.lines.len() >= MAX_REPLY_LINES {
                    self.fail(ReplyError::TooManyLines);
                    return;
                }
                partial.lines.push(text);
                if !more && let Some(done) = self.partial.take() {
                    self.ready.push_back(Ok(Reply {
                        code: done.code,
                        enhanced: done.enhanced,
                        lines: done.lines,
                    }));
                }
            }
        }
    }
}

type ReplyLine = (u16, bool, Option<EnhancedCode>, String);

/// RFC 5321 §4.2: `Reply-code [ ( SP / "-" ) textstring ]`; the bool is true for "-" (more
/// lines follow). An enhanced code at the start of the text (RFC 2034 §3) is split off when its
/// class matches the reply code's first digit.
fn parse_reply_line(line: &[u8]) -> Result<ReplyLine, ReplyError> {
    let digits = line
        .get(..3)
        .ok_or(ReplyError::Malformed("shorter than a reply code"))?;
    let valid = matches!(digits, [b'2'..=b'5', b'0'..=b'5', b'0'..=b'9']);
    if !valid {
        return Err(ReplyError::Malformed("reply code is not 2xx-5xx"));
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let (more, rest) = match line.get(3) {
        None => (false, &[][..]),
        Some(b' ') => (false, &line[4..]),
        Some(b'-') => (true, &line[4..]),
        Some(_) => return Err(ReplyError::Malformed("code not followed by SP or '-'")),
    };
    // Servers are not required to send UTF-8 (RFC 5321 text is ASCII); keep what can be shown.
    let text = String::from_utf8_lossy(rest);
    let (enhanced, text) = split_enhanced(code, &text);
    Ok((code, more, enhanced, text.to_string()))
}

fn split_enhanced(code: u16, text: &str) -> (Option<EnhancedCode>, &str) {
    let (head, tail) = text.split_once(' ').unwrap_or((text, ""));
    match EnhancedCode::parse(head) {
        Some(enhanced) if u16::from(enhanced.class) == code / 100 => (Some(enhanced), tail),
        _ => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(bytes: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut parser = ReplyParser::new();
        parser.feed(bytes);
        std::iter::from_fn(|| parser.next_reply()).collect()
    }

    #[test]
    fn encodes_multiline_with_enhanced_code_on_each_line() {
        let reply = Reply {
            code: 250,
            enhanced: Some(EnhancedCode::new(2, 0, 0)),
            lines: vec!["first".into(), "second".into()],
        };
        assert_eq!(reply.encode(), b"250-2.0.0 first\r\n250 2.0.0 second\r\n");
    }

    #[test]
    fn encode_neutralises_line_breaks_in_text() {
        let reply = Reply::new(250, None, "ok\r\n250 injected");
        assert_eq!(reply.encode(), b"250 ok  250 injected\r\n");
    }

    #[test]
    fn encodes_bare_code_and_empty_lines() {
        assert_eq!(Reply::new(334, None, "").encode(), b"334 \r\n");
        let reply = Reply::new(354, None, "go");
        assert_eq!(reply.encode(), b"354 go\r\n");
    }

    #[test]
    fn parses_ehlo_reply() {
        let replies = parse_all(b"250-mx.example Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
        let reply = replies[0].clone().unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, ["mx.example Hello", "PIPELINING", "SIZE 1000"]);
    }

    #[test]
    fn parses_enhanced_code_only_when_class_matches() {
        let replies = parse_all(b"550 5.1.1 no such user\r\n250 5.1.1 odd\r\n");
        let first = replies[0].clone().unwrap();
        assert_eq!(first.enhanced, Some(EnhancedCode::new(5, 1, 1)));
        assert_eq!(first.lines, ["no such user"]);
        let second = replies[1].clone().unwrap();
        assert_eq!(second.enhanced, None);
        assert_eq!(second.lines, ["5.1.1 odd"]);
    }

    #[test]
    fn reply_split_at_every_byte() {
        let bytes = b"250-a\r\n250-2.0.0 b\r\n250 c\r\n221 2.0.0 Bye\r\n";
        for split in 0..bytes.len() {
            let mut parser = ReplyParser::new();
            parser.feed(&bytes[..split]);
            parser.feed(&bytes[split..]);
            let replies: Vec<_> = std::iter::from_fn(|| parser.next_reply()).collect();
            assert_eq!(replies.len(), 2, "split at {split}");
            assert_eq!(replies[1].clone().unwrap().code, 221);
        }
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(
            parse_all(b"25\r\n")[0],
            Err(ReplyError::Malformed("shorter than a reply code"))
        );
        assert!(parse_all(b"199 x\r\n")[0].is_err());
        assert!(parse_all(b"250x\r\n")[0].is_err());
        assert_eq!(
            parse_all(b"250-a\r\n251 b\r\n")[0],
            Err(ReplyError::CodeChanged {
                first: 250,
                next: 251
            })
        );
        assert_eq!(parse_all(&[b'2'; 600])[0], Err(ReplyError::LineTooLong));
        let many = "250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        assert_eq!(parse_all(many.as_bytes())[0], Err(ReplyError::TooManyLines));
    }

    #[test]
    fn classes() {
        let reply = |code| Reply::new(code, None, "");
        assert!(reply(250).is_positive() && reply(250).is_completion());
        assert!(reply(354).is_positive() && reply(354).is_intermediate());
        assert!(reply(451).is_transient() && !reply(451).is_positive());
        assert!(reply(550).is_permanent());
    }

    proptest! {
        #[test]
        fn parser_never_panics(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let mut parser = ReplyParser::new();
            for chunk in &chunks {
                parser.feed(chunk);
            }
            while parser.next_reply().is_some() {}
        }

        #[test]
        fn encode_parse_round_trip(
            code in 200u16..=559,
            enhanced in proptest::option::of((prop_oneof![Just(2u8), Just(4), Just(5)], 0u16..999, 0u16..999)),
            lines in proptest::collection::vec("[ -~]{0,60}", 1..5),
        ) {
            prop_assume!((code / 10) % 10 <= 5);
            let enhanced = enhanced.map(|(c, s, d)| EnhancedCode::new(c, s, d))
                .filter(|e| u16::from(e.class) == code / 100);
            // A text that itself starts like an enhanced code would be read as one.
            prop_assume!(lines.iter().all(|l| {
                let head = l.split(' ').next().unwrap_or("");
                EnhancedCode::parse(head).is_none()
            }));
            let reply = Reply { code, enhanced, lines };
            let parsed = parse_all(&reply.encode());
            prop_assert_eq!(parsed, vec![Ok(reply)]);
        }
    }
}
