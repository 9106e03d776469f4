//! Writing IMAP response data (RFC 3501 §7, grammar §9): strings as quoted strings when they
//! can be, literals otherwise; NIL; flag lists; UID sets for UIDPLUS (RFC 4315 §3).

use crate::store::Flags;

/// Longest string sent quoted; anything longer goes as a literal.
const MAX_QUOTED: usize = 1024;

/// §9 `string`: quoted when every byte is a 7-bit TEXT-CHAR, a literal otherwise (8-bit text,
/// CR, LF, NUL, or long).
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    let quotable = bytes.len() <= MAX_QUOTED
        && bytes
            .iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80);
    if quotable {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, bytes);
    }
}

/// §9 `literal`: `{n}` CRLF and the octets.
pub fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// §9 `nstring`.
pub fn nstring(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => string(out, bytes),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A string as its response bytes (for building lines with `format!`).
pub fn quoted(text: &str) -> String {
    let mut out = Vec::new();
    string(&mut out, text.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// §7.2.6 / §7.4.2 FLAGS: `(\Seen \Recent kw)`.
pub fn flag_list(flags: &Flags, recent: bool) -> String {
    let mut names = flags.to_imap();
    if recent {
        names.push("\\Recent".to_string());
    }
    format!("({})", names.join(" "))
}

/// RFC 4315 §3 `uid-set`: ascending runs written as ranges, `1:3,7`. Pairs keep the order
/// given (COPYUID's two sets must correspond element by element).
pub fn uid_set(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            end = uids[i + 1];
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal() {
        let mut out = Vec::new();
        string(&mut out, b"a \"b\" \\c");
        assert_eq!(out, b"\"a \\\"b\\\" \\\\c\"");
        out.clear();
        string(&mut out, "한".as_bytes());
        assert_eq!(out, b"{3}\r\n\xed\x95\x9c");
        out.clear();
        nstring(&mut out, None);
        assert_eq!(out, b"NIL");
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[]), "");
        let flags = Flags {
            seen: true,
            ..Flags::default()
        };
        assert_eq!(flag_list(&flags, true), "(\\Seen \\Recent)");
    }
}
