//! POP3 responses (RFC 1939 §3): a status line `+OK ...` or `-ERR ...`, optionally followed by
//! a multi-line body whose lines starting with `.` are byte-stuffed and which ends with a line
//! holding only `.`. Extended response codes in brackets come from RFC 2449 §8 and RFC 3206.

/// RFC 2449 §8.1.1: another session holds the maildrop.
pub const IN_USE: &str = "[IN-USE]";
/// RFC 3206 §4: the credentials were wrong (or not allowed here).
pub const AUTH: &str = "[AUTH]";
/// RFC 3206 §5: a temporary system problem.
pub const SYS_TEMP: &str = "[SYS/TEMP]";
/// RFC 3206 §5: a permanent system problem.
pub const SYS_PERM: &str = "[SYS/PERM]";

/// `+OK text` CRLF.
pub fn ok(text: &str) -> Vec<u8> {
    status("+OK", text)
}

/// `-ERR text` CRLF.
pub fn err(text: &str) -> Vec<u8> {
    status("-ERR", text)
}

fn status(indicator: &str, text: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(indicator.len() + text.len() + 3);
    line.extend_from_slice(indicator.as_bytes());
    if !text.is_empty() {
        line.push(b' ');
        line.extend_from_slice(text.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// A multi-line response: `+OK text`, the lines byte-stuffed, and the terminating `.`.
pub fn multi_line<'a>(text: &str, lines: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = ok(text);
    for line in lines {
        push_line(&mut out, line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Appends one body line: a leading `.` doubled (RFC 1939 §3), CRLF after.
fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    if line.first() == Some(&b'.') {
        out.push(b'.');
    }
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}

/// The lines of a stored message without their line ends: files may end lines with CRLF or,
/// as most Maildir writers do, with LF alone; on the wire every line ends with CRLF (RFC 1939
/// §11). A last line without a line end is still a line.
pub fn message_lines(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = message.strip_suffix(b"\n").unwrap_or(message);
    let empty = message.is_empty();
    body.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// The message's size as sent (RFC 1939 §11): every line end counted as CRLF, byte-stuffing
/// and the terminating line not counted.
pub fn wire_size(message: &[u8]) -> u64 {
    let bare_lf = message
        .iter()
        .enumerate()
        .filter(|&(at, &b)| b == b'\n' && (at == 0 || message[at - 1] != b'\r'))
        .count();
    (message.len() + bare_lf) as u64
}

/// RFC 1939 §7 TOP: the header, the blank line after it, and the first `body_lines` lines of
/// the body.
pub fn top_lines(message: &[u8], body_lines: u32) -> impl Iterator<Item = &[u8]> {
    let mut in_body = false;
    let mut left = body_lines;
    message_lines(message).take_while(move |line| {
        if !in_body {
            in_body = line.is_empty();
            return true;
        }
        if left == 0 {
            return false;
        }
        left -= 1;
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_responses_are_byte_stuffed_and_terminated() {
        let message = b"Subject: x\n\n.hidden\n..two\nend";
        let out = multi_line("5 octets", message_lines(message));
        assert_eq!(
            out,
            b"+OK 5 octets\r\nSubject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n.\r\n"
        );
        assert_eq!(multi_line("", message_lines(b"")), b"+OK\r\n.\r\n");
    }

    #[test]
    fn sizes_count_line_ends_as_crlf() {
        assert_eq!(wire_size(b"a\r\nb\r\n"), 6);
        assert_eq!(wire_size(b"a\nb\n"), 6);
        assert_eq!(wire_size(b"\n"), 2);
    }

    #[test]
    fn top_takes_the_header_and_some_body_lines() {
        let message = b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n";
        let lines: Vec<&[u8]> = top_lines(message, 2).collect();
        assert_eq!(lines, vec![&b"A: 1"[..], b"B: 2", b"", b"one", b"two"]);
        assert_eq!(top_lines(message, 0).count(), 3);
        assert_eq!(top_lines(message, 100).count(), 6);
        assert_eq!(top_lines(b"A: 1\r\n", 5).count(), 1);
    }
}
