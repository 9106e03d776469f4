//! FTP replies (RFC 959 §4.2): a three-digit code and text, on one line (`200 Okay`) or
//! several (`211-Features:` … `211 End`). Inside a multi-line reply, a line that starts with
//! a digit is indented by a space so no client mistakes it for the last line (§4.2's advice).
//!
//! [`ReplyParser`] is the client side: it takes bytes as they come and yields whole replies,
//! with limits on line length and lines per reply.

use thiserror::Error;

/// A line of a reply at most (RFC 959 sets none; long MLST facts and paths fit).
pub const MAX_REPLY_LINE: usize = 4096;
/// Lines in one reply at most (a HELP or FEAT list is tens).
pub const MAX_REPLY_LINES: usize = 1000;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// At least one line; the text after the code.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A reply of several lines: the first and the last carry the code.
    pub fn multiline(code: u16, lines: Vec<String>) -> Reply {
        Reply { code, lines }
    }

    /// The bytes on the wire. CR and LF inside a line become spaces: text may quote a file
    /// name, and a name must not end the reply early.
    pub fn encode(&self) -> Vec<u8> {
        let clean = |line: &str| line.replace(['\r', '\n'], " ");
        let mut out = String::new();
        match self.lines.as_slice() {
            [] => out.push_str(&format!("{} \r\n", self.code)),
            [only] => out.push_str(&format!("{} {}\r\n", self.code, clean(only))),
            [first, middle @ .., last] => {
                out.push_str(&format!("{}-{}\r\n", self.code, clean(first)));
                for line in middle {
                    let line = clean(line);
                    if line.starts_with(|c: char| c.is_ascii_digit()) {
                        out.push(' ');
                    }
                    out.push_str(&line);
                    out.push_str("\r\n");
                }
                out.push_str(&format!("{} {}\r\n", self.code, clean(last)));
            }
        }
        out.into_bytes()
    }

    /// 1yz: preliminary (the data connection opens; a final reply follows).
    pub fn is_preliminary(&self) -> bool {
        (100..200).contains(&self.code)
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    #[error("a reply line is longer than {MAX_REPLY_LINE} bytes")]
    LineTooLong,
    #[error("a reply has more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    #[error("not an FTP reply line: {0:?}")]
    Malformed(String),
}

/// Splits the server's bytes into replies.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buffer: Vec<u8>,
    /// Inside a multi-line reply: its code and the lines so far.
    open: Option<(u16, Vec<String>)>,
    failed: bool,
}

impl ReplyParser {
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next whole reply, if the bytes so far hold one. After an error the connection is
    /// in no known state, and every later call repeats it.
    pub fn next_reply(&mut self) -> Option<Result<Reply, ReplyError>> {
        loop {
            let Some(end) = self.buffer.iter().position(|&b| b == b'\n') else {
                if self.buffer.len() > MAX_REPLY_LINE {
                    return Some(self.fail(ReplyError::LineTooLong));
                }
                return None;
            };
            if end > MAX_REPLY_LINE {
                return Some(self.fail(ReplyError::LineTooLong));
            }
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            if let Some(reply) = self.take_line(line) {
                return Some(reply);
            }
        }
    }

    fn take_line(&mut self, line: String) -> Option<Result<Reply, ReplyError>> {
        let head = line.get(..3).and_then(|code| code.parse::<u16>().ok());
        let separator = line.as_bytes().get(3).copied();
        match (&mut self.open, head, separator) {
            (Some((code, lines)), Some(this), Some(b' ')) if this == *code => {
                lines.push(line[4..].to_string());
                let (code, lines) = self.open.take()?;
                Some(Ok(Reply { code, lines }))
            }
            (Some((_, lines)), _, _) => {
                if lines.len() >= MAX_REPLY_LINES {
                    return Some(self.fail(ReplyError::TooManyLines));
                }
                lines.push(line.strip_prefix(' ').unwrap_or(&line).to_string());
                None
            }
            (None, Some(code), Some(b'-')) if (100..600).contains(&code) => {
                self.open = Some((code, vec![line[4..].to_string()]));
                None
            }
            (None, Some(code), Some(b' ') | None) if (100..600).contains(&code) => {
                Some(Ok(Reply::new(code, line.get(4..).unwrap_or(""))))
            }
            (None, _, _) => Some(self.fail(ReplyError::Malformed(line))),
        }
    }

    fn fail(&mut self, error: ReplyError) -> Result<Reply, ReplyError> {
        self.failed = true;
        self.buffer.clear();
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn multiline_replies_indent_lines_that_start_with_digits() {
        let reply = Reply::multiline(
            211,
            vec![
                "Features:".into(),
                "MDTM".into(),
                "123 looks like a code".into(),
                "End".into(),
            ],
        );
        assert_eq!(
            reply.encode(),
            b"211-Features:\r\nMDTM\r\n 123 looks like a code\r\n211 End\r\n"
        );
        assert_eq!(
            Reply::new(550, "no\r\n226 fake").encode(),
            b"550 no  226 fake\r\n"
        );
    }

    #[test]
    fn the_parser_reassembles_replies_split_anywhere() {
        let wire = b"220 ready\r\n211-Features:\r\n EPSV\r\n211 End\r\n150 Opening\r\n226 Done\r\n";
        for cut in 0..wire.len() {
            let mut parser = ReplyParser::default();
            parser.feed(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(reply) = parser.next_reply() {
                got.push(reply.unwrap());
            }
            parser.feed(&wire[cut..]);
            while let Some(reply) = parser.next_reply() {
                got.push(reply.unwrap());
            }
            let codes: Vec<u16> = got.iter().map(|r| r.code).collect();
            assert_eq!(codes, vec![220, 211, 150, 226], "cut at {cut}");
            assert_eq!(got[1].lines, vec!["Features:", "EPSV", "End"]);
        }
    }

    #[test]
    fn garbage_and_endless_lines_are_errors() {
        let mut parser = ReplyParser::default();
        parser.feed(b"hello\r\n");
        assert!(matches!(
            parser.next_reply(),
            Some(Err(ReplyError::Malformed(_)))
        ));
        let mut parser = ReplyParser::default();
        parser.feed(&vec![b'2'; MAX_REPLY_LINE + 10]);
        assert_eq!(parser.next_reply(), Some(Err(ReplyError::LineTooLong)));
    }

    proptest! {
        #[test]
        fn encoded_replies_parse_back(
            code in 100u16..600,
            lines in prop::collection::vec("[ -~]{0,40}", 1..6),
        ) {
            let reply = Reply::multiline(code, lines.clone());
            let mut parser = ReplyParser::default();
            parser.feed(&reply.encode());
            let parsed = parser.next_reply().unwrap().unwrap();
            prop_assert_eq!(parsed.code, code);
            prop_assert_eq!(parsed.lines.len(), lines.len());
            prop_assert_eq!(parsed.lines.first(), lines.first());
            prop_assert_eq!(parsed.lines.last(), lines.last());
        }

        #[test]
        fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..500)) {
            let mut parser = ReplyParser::default();
            parser.feed(&bytes);
            while let Some(Ok(_)) = parser.next_reply() {}
        }
    }
}
