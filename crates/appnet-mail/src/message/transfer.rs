//! Content-Transfer-Encoding (RFC 2045 §6): how a body's bytes are made safe for 7-bit
//! transport. Implements §6.2 (7bit/8bit/binary identity), §6.7 quoted-printable and §6.8 base64.
//!
//! Decoders are tolerant because mail in the wild is not: base64 skips junk, quoted-printable
//! keeps malformed `=` escapes literally. Encoders are strict so that what we send is clean.

use base64::Engine as _;

/// RFC 2045 §6.1: the value of the `Content-Transfer-Encoding` field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TransferEncoding {
    /// The default when the field is absent.
    #[default]
    SevenBit,
    EightBit,
    Binary,
    QuotedPrintable,
    Base64,
    /// An `x-token` or unknown value; the body is handed out unchanged.
    Other(String),
}

impl TransferEncoding {
    /// Reads a field value; comments and case do not matter (`Base64 (sent by X)`).
    pub fn parse(value: &str) -> Self {
        let token = value
            .trim_start()
            .split(|c: char| c.is_ascii_whitespace() || c == '(' || c == ';')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match token.as_str() {
            "" | "7bit" => Self::SevenBit,
            "8bit" => Self::EightBit,
            "binary" => Self::Binary,
            "quoted-printable" => Self::QuotedPrintable,
            "base64" => Self::Base64,
            _ => Self::Other(token),
        }
    }

    /// The field value as written in a header.
    pub fn as_str(&self) -> &str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::Binary => "binary",
            Self::QuotedPrintable => "quoted-printable",
            Self::Base64 => "base64",
            Self::Other(token) => token,
        }
    }

    /// Undoes this encoding; identity encodings and unknown tokens return the bytes as they are.
    pub fn decode(&self, body: &[u8]) -> Vec<u8> {
        match self {
            Self::Base64 => decode_base64(body),
            Self::QuotedPrintable => decode_quoted_printable(body),
            _ => body.to_vec(),
        }
    }
}

/// RFC 2045 §6.8: output lines are at most 76 characters.
const BASE64_LINE: usize = 76;
/// RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters, counting the soft-break `=`.
const QP_LINE: usize = 76;

/// Base64 with CRLF after every 76 characters and at the end (RFC 2045 §6.8).
pub fn encode_base64(data: &[u8]) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / BASE64_LINE * 2 + 2);
    for line in text.as_bytes().chunks(BASE64_LINE) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Lenient base64: characters outside the alphabet are ignored (§6.8 says decoders must), and
/// each `=` ends a quantum, so bodies glued together from several padded chunks still decode.
pub fn decode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in data {
        if byte == b'=' {
            acc = 0;
            bits = 0;
            continue;
        }
        let Some(value) = base64_value(byte) else {
            continue;
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn base64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Quoted-printable that decodes back to exactly `data`.
///
/// Only CRLF pairs become hard line breaks (rule 4); a lone CR or LF is escaped so binary data
/// survives. Output that would not end in CRLF gets a final soft break, so every encoded body ends
/// with a line ending and a transport that appends one changes nothing.
pub fn encode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 3);
    let mut line_len = 0;
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
            line_len = 0;
            i += 2;
            continue;
        }
        let byte = data[i];
        let at_line_end = i + 1 == data.len() || data[i + 1..].starts_with(b"\r\n");
        let literal = is_qp_literal(byte) || (matches!(byte, b' ' | b'\t') && !at_line_end);
        let width = if literal { 1 } else { 3 };
        // Keep room for the soft-break `=` so no line exceeds 76 characters.
        if line_len + width > QP_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            line_len = 0;
        }
        if literal {
            out.push(byte);
        } else {
            push_hex_escape(&mut out, byte);
        }
        line_len += width;
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"=\r\n");
    }
    out
}

/// RFC 2045 §6.7 rule 2: printable ASCII other than `=` may stand for itself.
fn is_qp_literal(byte: u8) -> bool {
    (33..=126).contains(&byte) && byte != b'='
}

fn push_hex_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'=');
    out.push(HEX[usize::from(byte >> 4)]);
    out.push(HEX[usize::from(byte & 0x0f)]);
}

/// Tolerant quoted-printable: trailing whitespace is dropped (rule 3 says transports may add it),
/// a line ending in `=` is a soft break, and an `=` not followed by two hex digits is kept as is
/// (the "robust" reading §6.7 recommends). Hard line breaks keep their form: CRLF or bare LF.
pub fn decode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while !rest.is_empty() {
        let (line, ending, next) = split_line(rest);
        let content = trim_trailing_space(line);
        match content.strip_suffix(b"=") {
            Some(soft) => decode_qp_line(soft, &mut out),
            None => {
                decode_qp_line(content, &mut out);
                out.extend_from_slice(ending);
            }
        }
        rest = next;
    }
    out
}

/// Splits off one line: its content, its line ending (`\r\n`, `\n` or none) and the remainder.
fn split_line(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let (line, rest) = data.split_at(lf + 1);
            match line.strip_suffix(b"\r\n") {
                Some(content) => (content, b"\r\n", rest),
                None => (&line[..lf], b"\n", rest),
            }
        }
        None => (data, b"", b""),
    }
}

fn trim_trailing_space(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |last| last + 1);
    &line[..end]
}

fn decode_qp_line(line: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < line.len() {
        let byte = line[i];
        if byte == b'=' {
            let escaped = line
                .get(i + 1..i + 3)
                .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?));
            if let Some(value) = escaped {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
}

/// Lowercase hex is not allowed by §6.7 rule 1 but is common, and unambiguous.
pub(crate) fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn qp(data: &[u8]) -> String {
        String::from_utf8(encode_quoted_printable(data)).unwrap()
    }

    #[test]
    fn parses_field_values() {
        assert_eq!(
            TransferEncoding::parse(" Base64 "),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::parse("QUOTED-PRINTABLE (legacy)"),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(TransferEncoding::parse(""), TransferEncoding::SevenBit);
        assert_eq!(
            TransferEncoding::parse("x-uuencode"),
            TransferEncoding::Other("x-uuencode".into())
        );
    }

    #[test]
    fn base64_lines_are_76_and_crlf_terminated() {
        let encoded = encode_base64(&[0xAB; 200]);
        let text = std::str::from_utf8(&encoded).unwrap();
        assert!(text.ends_with("\r\n"));
        assert!(text.split("\r\n").all(|line| line.len() <= 76));
        assert_eq!(text.split("\r\n").next().unwrap().len(), 76);
        assert_eq!(encode_base64(b""), b"");
    }

    #[test]
    fn base64_decode_skips_junk_and_handles_glued_chunks() {
        assert_eq!(decode_base64(b"SGVs\r\nbG8=\r\n"), b"Hello");
        assert_eq!(decode_base64(b"SG Vs*bG8"), b"Hello");
        assert_eq!(decode_base64(b"QQ==Qg=="), b"AB");
        assert_eq!(decode_base64(b"Q"), b"");
        assert_eq!(decode_base64(b"\x00\xff!!"), b"");
    }

    #[test]
    fn qp_rfc2045_rules() {
        // Rule 1 and 2: `=` and 8-bit bytes are escaped, printable ASCII is literal.
        assert_eq!(qp(b"a=b\xe9\r\n"), "a=3Db=E9\r\n");
        // Rule 3: whitespace at the end of a line is encoded, inside a line it is not.
        assert_eq!(qp(b"a b \r\nc\t"), "a b=20\r\nc=09=\r\n");
        // Rule 5: soft breaks keep lines at 76 characters at most.
        let long = qp(&[b'x'; 200]);
        assert!(long.split("\r\n").all(|line| line.len() <= 76));
        assert_eq!(decode_quoted_printable(long.as_bytes()), vec![b'x'; 200]);
        // An escape is never split by a soft break.
        let escapes = qp(&[0xff; 60]);
        assert!(
            escapes
                .split("\r\n")
                .all(|line| line.len() <= 76 && line.trim_end_matches('=').len().is_multiple_of(3))
        );
    }

    #[test]
    fn qp_decode_is_tolerant() {
        assert_eq!(decode_quoted_printable(b"soft=\r\nbreak"), b"softbreak");
        assert_eq!(decode_quoted_printable(b"soft= \t\r\nbreak"), b"softbreak");
        assert_eq!(decode_quoted_printable(b"trail   \r\nx"), b"trail\r\nx");
        assert_eq!(decode_quoted_printable(b"bad=zz=4=3d"), b"bad=zz=4=");
        assert_eq!(decode_quoted_printable(b"lf\nonly=\n"), b"lf\nonly");
        assert_eq!(decode_quoted_printable(b"="), b"");
    }

    proptest! {
        #[test]
        fn qp_round_trips(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let encoded = encode_quoted_printable(&data);
            prop_assert!(encoded.iter().all(|&b| b.is_ascii()));
            let text = std::str::from_utf8(&encoded).unwrap();
            prop_assert!(text.split("\r\n").all(|line| line.len() <= 76));
            prop_assert!(!text.contains(" \r\n") && !text.contains("\t\r\n"));
            prop_assert_eq!(decode_quoted_printable(&encoded), data);
        }

        #[test]
        fn qp_text_round_trips(text in "[a-z =\t\r\n\u{e9}\u{d55c}]{0,300}") {
            let encoded = encode_quoted_printable(text.as_bytes());
            prop_assert_eq!(decode_quoted_printable(&encoded), text.as_bytes());
        }

        #[test]
        fn base64_round_trips(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert_eq!(decode_base64(&encode_base64(&data)), data);
        }

        #[test]
        fn decoders_accept_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_base64(&data);
            let _ = decode_quoted_printable(&data);
        }
    }
}
