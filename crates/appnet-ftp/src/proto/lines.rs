//! The control connection as lines (RFC 959 §4.1: Telnet lines ending in CRLF): the server's
//! side of reading commands.

use std::collections::VecDeque;

use crate::proto::command::MAX_LINE;

/// Splits the control connection into lines: CRLF (or a bare LF) ends one, Telnet IAC
/// sequences (RFC 959 §4.1.3: a client may send IP and Synch before ABOR) are dropped, and
/// a line longer than [`MAX_LINE`] is thrown away up to its end and reported in its place.
#[derive(Debug, Default)]
pub struct LineReader {
    /// Complete lines, in order; `Err` where a too-long line was dropped.
    ready: VecDeque<Result<Vec<u8>, ()>>,
    /// The line being received.
    partial: Vec<u8>,
    /// An IAC byte ended the last input: the next byte is its command.
    after_iac: bool,
    /// The current line grew too long; its bytes are being dropped.
    discarding: bool,
}

impl LineReader {
    pub fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.after_iac {
                self.after_iac = false;
                if byte == 0xff {
                    self.keep(0xff);
                }
            } else if byte == 0xff {
                self.after_iac = true;
            } else {
                self.keep(byte);
            }
        }
    }

    fn keep(&mut self, byte: u8) {
        if byte == b'\n' {
            if std::mem::take(&mut self.discarding) {
                self.ready.push_back(Err(()));
            } else {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.ready.push_back(Ok(line));
            }
        } else if !self.discarding {
            self.partial.push(byte);
            // One more than the limit: the CR that may still come.
            if self.partial.len() > MAX_LINE + 1 {
                self.partial = Vec::new();
                self.discarding = true;
            }
        }
    }

    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        self.ready.pop_front()
    }

    /// Puts a line back to be read next.
    pub fn unread(&mut self, line: Vec<u8>) {
        self.ready.push_front(Ok(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(reader: &mut LineReader) -> Vec<Result<Vec<u8>, ()>> {
        std::iter::from_fn(|| reader.next_line()).collect()
    }

    #[test]
    fn lines_end_at_lf_across_reads_without_their_cr() {
        let mut reader = LineReader::default();
        reader.push(b"NOOP\r");
        assert!(reader.next_line().is_none());
        reader.push(b"\nUSER a\nPA");
        assert_eq!(
            lines(&mut reader),
            [Ok(b"NOOP".to_vec()), Ok(b"USER a".to_vec())]
        );
        reader.push(b"SS b\r\n");
        assert_eq!(lines(&mut reader), [Ok(b"PASS b".to_vec())]);
    }

    #[test]
    fn telnet_commands_vanish_and_a_doubled_iac_is_a_byte() {
        let mut reader = LineReader::default();
        reader.push(b"\xff\xf4\xff");
        reader.push(b"\xf2ABOR\r\nA\xff\xffB\r\n");
        assert_eq!(
            lines(&mut reader),
            [Ok(b"ABOR".to_vec()), Ok(b"A\xffB".to_vec())]
        );
    }

    #[test]
    fn a_too_long_line_is_one_error_in_its_place() {
        let mut reader = LineReader::default();
        reader.push(b"NOOP\r\n");
        reader.push(&vec![b'x'; MAX_LINE * 50]);
        reader.push(b"\r\nQUIT\r\n");
        assert_eq!(
            lines(&mut reader),
            [Ok(b"NOOP".to_vec()), Err(()), Ok(b"QUIT".to_vec())]
        );
        let mut exact = vec![b'y'; MAX_LINE];
        exact.extend_from_slice(b"\r\n");
        reader.push(&exact);
        assert_eq!(lines(&mut reader), [Ok(vec![b'y'; MAX_LINE])]);
    }
}
