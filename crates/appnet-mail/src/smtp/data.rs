//! The DATA content in both directions: the server's incremental reader that finds the end
//! marker and removes dot-stuffing (RFC 5321 §4.1.1.4, §4.5.2), enforcing the text-line limit
//! (§4.5.3.1.6) and the message-size limit (RFC 1870 §6), and the client's encoder that adds it.
//!
//! Line endings: RFC 5321 §2.3.8 allows CR and LF only together as CRLF. The end of data is
//! CRLF "." CRLF and nothing else: a reader that also ends on `LF . LF` or `LF . CRLF` can be made
//! to see two messages where a relay before it saw one ("SMTP smuggling", 2023). This reader never
//! ends on those, and it rejects a message that contains a bare LF or bare CR (550 5.6.11, as
//! Exchange does; Postfix 3.9 likewise refuses bare LF) instead of normalising it: a message that
//! another server would split differently must not be relayed onwards at all.

use super::reply::Reply;

/// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
pub const MAX_TEXT_LINE: usize = 1000;

/// Why a complete message is refused after its end marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataRejection {
    #[error("message contains a bare CR or LF (RFC 5321 §2.3.8)")]
    BareLineEnding,
    #[error("message has a line longer than {MAX_TEXT_LINE} octets (RFC 5321 §4.5.3.1.6)")]
    LineTooLong,
    #[error("message exceeds the fixed maximum message size")]
    TooBig,
}

impl DataRejection {
    pub fn reply(&self) -> Reply {
        let text = self.to_string();
        match self {
            Self::BareLineEnding => Reply::with_status(550, (5, 6, 11), text),
            // RFC 4954 §4 names 5.5.6 for an over-long line; reused here.
            Self::LineTooLong => Reply::with_status(500, (5, 5, 6), text),
            // RFC 1870 §6.3 / RFC 3463 X.3.4: message too big for system.
            Self::TooBig => Reply::with_status(552, (5, 3, 4), text),
        }
    }
}

/// The server's DATA reader. Memory is bounded by `max_bytes` for the body plus one text line,
/// which the caller keeps in its input buffer until its LF arrives (and which this reader
/// consumes and discards once it passes the line limit).
#[derive(Debug)]
pub struct DataReader {
    body: Vec<u8>,
    max_bytes: usize,
    /// Octets of the un-stuffed message so far, counted even after buffering stopped.
    size: usize,
    /// The previous line ended in CRLF; only then can "." CRLF be the end marker. True at the
    /// start: the DATA command's own line end precedes the first line.
    after_crlf: bool,
    /// Inside an over-long line being discarded; the bool is whether its last byte seen was CR.
    discarding: Option<bool>,
    bare_line_ending: bool,
    line_too_long: bool,
}

impl DataReader {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            body: Vec::new(),
            max_bytes,
            size: 0,
            after_crlf: true,
            discarding: None,
            bare_line_ending: false,
            line_too_long: false,
        }
    }

    /// Reads whole lines from `input`. Returns how many bytes were consumed and whether the end
    /// marker was among them; bytes after the marker are not consumed. An incomplete line stays
    /// unconsumed unless it is already over the limit.
    pub fn consume(&mut self, input: &[u8]) -> (usize, bool) {
        let mut used = 0;
        while let Some(rest) = input.get(used..) {
            let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                used += self.partial_line(rest);
                return (used, false);
            };
            let raw = rest.get(..lf).unwrap_or_default();
            used += lf + 1;
            if self.line(raw) {
                return (used, true);
            }
        }
        (used, false)
    }

    /// An incomplete line: wait for more, unless it is already too long to be a text line.
    fn partial_line(&mut self, rest: &[u8]) -> usize {
        let Some(&last) = rest.last() else { return 0 };
        if self.discarding.is_none() && rest.len() < MAX_TEXT_LINE {
            return 0;
        }
        self.line_too_long = true;
        self.stop_buffering();
        self.discarding = Some(last == b'\r');
        rest.len()
    }

    /// One line without its LF; true if it was the end marker.
    fn line(&mut self, raw: &[u8]) -> bool {
        let discarding = self.discarding.take();
        let crlf = match (raw.last(), discarding) {
            (Some(&last), _) => last == b'\r',
            (None, Some(previous_was_cr)) => previous_was_cr,
            (None, None) => false,
        };
        let after_crlf = std::mem::replace(&mut self.after_crlf, crlf);
        if !crlf {
            self.bare_line_ending = true;
            self.stop_buffering();
        }
        if discarding.is_some() {
            // The tail of an over-long line, already refused: never an end marker.
            return false;
        }
        let content = if crlf {
            raw.get(..raw.len() - 1).unwrap_or_default()
        } else {
            raw
        };
        if crlf && after_crlf && content == b"." {
            return true;
        }
        if content.contains(&b'\r') {
            self.bare_line_ending = true;
            self.stop_buffering();
        }
        if raw.len() + 1 > MAX_TEXT_LINE {
            self.line_too_long = true;
            self.stop_buffering();
        }
        // RFC 5321 §4.5.2: a line that starts with "." has that first period removed.
        let content = content.strip_prefix(b".").unwrap_or(content);
        self.append(content);
        false
    }

    fn append(&mut self, content: &[u8]) {
        self.size = self.size.saturating_add(content.len() + 2);
        if self.size > self.max_bytes {
            self.stop_buffering();
        }
        if !self.rejected() {
            self.body.extend_from_slice(content);
            self.body.extend_from_slice(b"\r\n");
        }
    }

    /// Once the message is sure to be refused, keep nothing of it.
    fn stop_buffering(&mut self) {
        self.body = Vec::new();
    }

    fn rejected(&self) -> bool {
        self.bare_line_ending || self.line_too_long || self.size > self.max_bytes
    }

    /// Octets of the message so far (the final size once the end marker was seen).
    pub fn size(&self) -> usize {
        self.size
    }

    /// The message, or why it is refused; call after `consume` reported the end marker.
    pub fn finish(self) -> Result<Vec<u8>, DataRejection> {
        if self.bare_line_ending {
            Err(DataRejection::BareLineEnding)
        } else if self.line_too_long {
            Err(DataRejection::LineTooLong)
        } else if self.size > self.max_bytes {
            Err(DataRejection::TooBig)
        } else {
            Ok(self.body)
        }
    }
}

/// The client side of §4.5.2: line endings normalised to CRLF (a lone CR or LF becomes CRLF,
/// as receivers now refuse them), a period doubled at the start of every line, a final CRLF
/// added if missing, and the end marker "." CRLF appended. Returns the bytes to send and the
/// message size to declare with SIZE= (RFC 1870 §3: the size before dot-stuffing).
pub fn dot_stuff(message: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut size = 0;
    let mut at_line_start = true;
    let mut bytes = message.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'\r' | b'\n' => {
                if b == b'\r' {
                    bytes.next_if_eq(&b'\n');
                }
                out.extend_from_slice(b"\r\n");
                size += 2;
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                size += 1;
                at_line_start = false;
            }
        }
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
        size += 2;
    }
    out.extend_from_slice(b".\r\n");
    (out, size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `chunks` in order the way the session does (keeping unconsumed bytes).
    fn read(chunks: &[&[u8]], max: usize) -> (Option<Result<Vec<u8>, DataRejection>>, Vec<u8>) {
        let mut reader = DataReader::new(max);
        let mut buffer = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            buffer.extend_from_slice(chunk);
            let (used, done) = reader.consume(&buffer);
            buffer.drain(..used);
            if done {
                // What the session would go on to parse as commands.
                buffer.extend(chunks.iter().skip(i + 1).flat_map(|c| c.iter()));
                return (Some(reader.finish()), buffer);
            }
        }
        (None, buffer)
    }

    fn read_one(bytes: &[u8]) -> (Option<Result<Vec<u8>, DataRejection>>, Vec<u8>) {
        read(&[bytes], 1 << 20)
    }

    #[test]
    fn unstuffs_and_stops_at_marker() {
        let (message, rest) = read_one(b"Subject: x\r\n\r\n..leading\r\n.\r\nQUIT\r\n");
        assert_eq!(
            message,
            Some(Ok(b"Subject: x\r\n\r\n.leading\r\n".to_vec()))
        );
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn empty_message() {
        assert_eq!(read_one(b".\r\n").0, Some(Ok(Vec::new())));
    }

    #[test]
    fn end_marker_split_at_every_position() {
        let input = b"a\r\n.b\r\n\r\n.\r\nNOOP\r\n";
        for split in 0..=input.len() {
            let (message, rest) = read(&[&input[..split], &input[split..]], 1 << 20);
            assert_eq!(
                message,
                Some(Ok(b"a\r\nb\r\n\r\n".to_vec())),
                "split {split}"
            );
            assert_eq!(rest, b"NOOP\r\n", "split {split}");
        }
        for split in 0..=input.len() {
            // Byte-at-a-time after the split point.
            let mut chunks: Vec<&[u8]> = vec![&input[..split]];
            chunks.extend(input[split..].chunks(1));
            let (message, _) = read(&chunks, 1 << 20);
            assert_eq!(
                message,
                Some(Ok(b"a\r\nb\r\n\r\n".to_vec())),
                "split {split}"
            );
        }
    }

    #[test]
    fn smuggling_markers_do_not_end_the_message() {
        for smuggle in [&b"\n.\n"[..], b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r.\r"] {
            let mut input = b"Subject: a\r\n\r\nbody".to_vec();
            input.extend_from_slice(smuggle);
            input.extend_from_slice(b"MAIL FROM:<evil@x>\r\n");
            // Nothing ends before the real marker...
            let (message, _) = read_one(&input);
            assert_eq!(message, None, "{smuggle:?}");
            // ...and the whole thing is refused when it comes.
            input.extend_from_slice(b"\r\n.\r\n");
            let (message, rest) = read_one(&input);
            assert_eq!(
                message,
                Some(Err(DataRejection::BareLineEnding)),
                "{smuggle:?}"
            );
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn long_line_consumed_and_rejected() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\n.\r\n");
        let (message, _) = read(&[&input[..2500], &input[2500..]], 1 << 20);
        assert_eq!(message, Some(Err(DataRejection::LineTooLong)));
        // Exactly 1000 octets with CRLF is fine.
        let mut input = vec![b'x'; 998];
        input.extend_from_slice(b"\r\n.\r\n");
        assert!(matches!(read_one(&input).0, Some(Ok(_))));
        let mut input = vec![b'x'; 999];
        input.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(read_one(&input).0, Some(Err(DataRejection::LineTooLong)));
    }

    #[test]
    fn tail_of_long_line_is_not_a_marker() {
        let mut first = vec![b'x'; 1500];
        first.extend_from_slice(b"\r\n");
        let mut long = vec![b'y'; 1200];
        long.extend_from_slice(b".\r\n");
        let (message, _) = read(&[&first, &long[..1100], &long[1100..]], 1 << 20);
        assert_eq!(message, None);
    }

    #[test]
    fn long_line_split_between_cr_and_lf_still_ends() {
        // The over-long line's CR arrives in one feed and its LF in the next.
        let mut first = vec![b'x'; 1500];
        first.push(b'\r');
        let (message, _) = read(&[&first, b"\n.\r\n"], 1 << 20);
        assert_eq!(message, Some(Err(DataRejection::LineTooLong)));
    }

    #[test]
    fn oversize_is_counted_not_buffered() {
        let line = b"0123456789012345678\r\n"; // 21 octets
        let mut reader = DataReader::new(100);
        for _ in 0..1000 {
            reader.consume(line);
        }
        assert!(reader.body.capacity() <= 200);
        let (_, done) = reader.consume(b".\r\n");
        assert!(done);
        assert_eq!(reader.finish(), Err(DataRejection::TooBig));
        let (message, _) = read(&[b"12345678\r\n.\r\n"], 10);
        assert_eq!(message, Some(Ok(b"12345678\r\n".to_vec())));
        let (message, _) = read(&[b"123456789\r\n.\r\n"], 10);
        assert_eq!(message, Some(Err(DataRejection::TooBig)));
    }

    #[test]
    fn stuffs_and_normalises() {
        let (out, size) = dot_stuff(b".a\nb\r\n.\r\n..c");
        assert_eq!(out, b"..a\r\nb\r\n..\r\n...c\r\n.\r\n");
        assert_eq!(size, b".a\r\nb\r\n.\r\n..c\r\n".len());
        assert_eq!(dot_stuff(b"").0, b".\r\n");
        assert_eq!(dot_stuff(b"x\r\n").0, b"x\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\ry").0, b"x\r\ny\r\n.\r\n");
    }

    proptest! {
        #[test]
        fn stuff_then_read_round_trip(lines in proptest::collection::vec("[.a-z ]{0,20}", 0..20)) {
            let message: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\r\n").into_bytes()).collect();
            let (wire, size) = dot_stuff(&message);
            prop_assert_eq!(size, message.len());
            let (read_back, rest) = read_one(&wire);
            prop_assert_eq!(read_back, Some(Ok(message)));
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn reader_never_panics(chunks in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..1500), 0..6)) {
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let _ = read(&refs, 2000);
        }
    }
}
