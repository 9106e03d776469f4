//! The header section of a message or MIME part (RFC 5322 §2.2, §3.6; RFC 2045 §3): reading
//! fields with unfolding (§2.2.3), finding them by case-insensitive name, and writing fields
//! folded at white space (§2.1.1 line limits, §2.2.3 folding).
//!
//! Reading is lenient the way deployed parsers are: bare LF line endings, white space before the
//! colon (§4.5 obs-header), and a missing blank line (the first line that is not a field starts
//! the body). Limits keep hostile input bounded.

use std::ops::Range;

/// At most this many fields per header section.
pub const MAX_FIELDS: usize = 1000;
/// A field (with its continuation lines) may exceed the 998-octet line limit of §2.1.1, which
/// real mail does, but not this cap.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// RFC 5322 §2.1.1: lines MUST be at most 998 characters, and SHOULD be at most 78.
pub const MAX_LINE: usize = 998;
pub const PREFERRED_LINE: usize = 78;

/// Why a header section was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("more than {MAX_FIELDS} header fields in one section")]
    TooManyFields,
    #[error("header field at byte {offset} is longer than {MAX_FIELD_BYTES} bytes")]
    FieldTooLong { offset: usize },
}

/// One header field as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The name as written (compare with `eq_ignore_ascii_case`).
    pub name: String,
    /// The unfolded value without surrounding white space; bytes that are not UTF-8 are
    /// replaced (the exact bytes are in `raw`).
    pub value: String,
    /// The field exactly as received: name, colon, folded value and line ending.
    pub raw: Vec<u8>,
    /// Where `raw` sits in the parsed input.
    pub range: Range<usize>,
}

/// The fields of one header section, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<HeaderField>,
}

impl Headers {
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The first field called `name` (names are case-insensitive, §1.2.2).
    pub fn field(&self, name: &str) -> Option<&HeaderField> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.field(name).map(|f| f.value.as_str())
    }

    /// Values of every field called `name`, in order (`Received`, `To` given twice …).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }
}

/// A parsed header section and where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSection {
    pub headers: Headers,
    /// The fields plus the blank line that ends them, if there is one (what IMAP calls HEADER).
    pub range: Range<usize>,
    /// Where the body begins.
    pub body_start: usize,
}

/// Parses the header section found in `data[range]`; offsets in the result index `data`.
pub fn parse_section(data: &[u8], range: Range<usize>) -> Result<HeaderSection, HeaderError> {
    let end = range.end.min(data.len());
    let start = range.start.min(end);
    let mut fields = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = start;
    // (where the last field ends, where the header section ends, where the body starts)
    let (fields_end, header_end, body_start) = loop {
        if pos >= end {
            break (end, end, end);
        }
        let next = data[pos..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |lf| pos + lf + 1);
        let content = strip_line_ending(&data[pos..next]);
        match content.first() {
            None => break (pos, next, next),
            Some(b' ' | b'\t') => {
                // A continuation line; one before any field has nothing to continue and is
                // skipped rather than failing the whole message.
            }
            Some(_) if is_field_start(content) => {
                close_field(data, &mut open, pos, &mut fields)?;
                open = Some(pos);
            }
            Some(_) => break (pos, pos, pos),
        }
        if let Some(field_start) = open
            && next - field_start > MAX_FIELD_BYTES
        {
            return Err(HeaderError::FieldTooLong {
                offset: field_start,
            });
        }
        pos = next;
    };
    close_field(data, &mut open, fields_end, &mut fields)?;
    Ok(HeaderSection {
        headers: Headers { fields },
        range: start..header_end,
        body_start,
    })
}

fn close_field(
    data: &[u8],
    open: &mut Option<usize>,
    end: usize,
    fields: &mut Vec<HeaderField>,
) -> Result<(), HeaderError> {
    let Some(start) = open.take() else {
        return Ok(());
    };
    if fields.len() >= MAX_FIELDS {
        return Err(HeaderError::TooManyFields);
    }
    let raw = data.get(start..end).unwrap_or_default();
    let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
    let name = String::from_utf8_lossy(trim_wsp(&raw[..colon])).into_owned();
    let value = unfold(raw.get(colon + 1..).unwrap_or_default());
    fields.push(HeaderField {
        name,
        value,
        raw: raw.to_vec(),
        range: start..end,
    });
    Ok(())
}

fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// §3.6.8 `field-name = 1*ftext` then `:`, allowing §4.5 white space before the colon.
fn is_field_start(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = trim_wsp_end(&line[..colon]);
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))
}

/// §2.2.3: unfolding removes each CRLF that precedes white space; the surrounding white space
/// is not part of the value.
fn unfold(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match (value[i], value.get(i + 1)) {
            (b'\r', Some(b'\n')) => i += 2,
            (b'\n', _) => i += 1,
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(trim_wsp(&out)).into_owned()
}

fn is_wsp(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_wsp_end(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn trim_wsp(bytes: &[u8]) -> &[u8] {
    let bytes = trim_wsp_end(bytes);
    let start = bytes
        .iter()
        .position(|&b| !is_wsp(b))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Writes `Name: value` CRLF, folded before white space so lines stay within 78 characters where
/// the value allows it. Unfolding gives back `value` exactly, provided it has no leading or
/// trailing white space. CR and LF in `value` become spaces: a header value must never be able
/// to start a new field.
pub fn fold_field(name: &str, value: &str) -> String {
    let value: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(name.len() + value.len() + 8);
    out.push_str(name);
    out.push(':');
    let mut line_len = out.len();
    let mut on_first_piece = true;
    for piece in fold_pieces(&value) {
        let piece_len = piece.len() + usize::from(on_first_piece);
        // Never break right after the colon: the first piece stays on the name's line.
        if !on_first_piece && line_len + piece_len > PREFERRED_LINE {
            out.push_str("\r\n");
            line_len = 0;
        }
        if on_first_piece {
            out.push(' ');
            on_first_piece = false;
        }
        out.push_str(piece);
        line_len += piece_len;
    }
    out.push_str("\r\n");
    out
}

/// Splits `value` before each white space character that is followed by a non-white-space
/// one: breaking there never leaves a line of only white space (§4.2 obs-FWS).
fn fold_pieces(value: &str) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 1;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        while i < bytes.len() {
            let fold_here = is_wsp(bytes[i]) && bytes.get(i + 1).is_some_and(|&b| !is_wsp(b));
            i += 1;
            if fold_here {
                let piece = value.get(start..i - 1);
                start = i - 1;
                return piece;
            }
        }
        let piece = value.get(start..);
        start = bytes.len();
        piece
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(data: &[u8]) -> HeaderSection {
        parse_section(data, 0..data.len()).unwrap()
    }

    #[test]
    fn reads_fields_and_unfolds() {
        let data = b"Subject: This\r\n is a test\r\nFrom: a@b.example\r\n\r\nbody";
        let section = parse(data);
        assert_eq!(section.headers.get("subject"), Some("This is a test"));
        assert_eq!(section.headers.get("FROM"), Some("a@b.example"));
        assert_eq!(&data[section.body_start..], b"body");
        assert_eq!(section.range, 0..data.len() - 4);
        let subject = section.headers.field("Subject").unwrap();
        assert_eq!(subject.raw, b"Subject: This\r\n is a test\r\n");
        assert_eq!(&data[subject.range.clone()], subject.raw.as_slice());
        let from = section.headers.field("from").unwrap();
        assert_eq!(from.raw, b"From: a@b.example\r\n");
    }

    #[test]
    fn bare_lf_and_obsolete_space_before_colon() {
        let data = b"To : x@y.example\nX-Long: a\n\tb\n\nbody\n";
        let section = parse(data);
        assert_eq!(section.headers.get("to"), Some("x@y.example"));
        assert_eq!(section.headers.get("x-long"), Some("a\tb"));
        assert_eq!(&data[section.body_start..], b"body\n");
        assert_eq!(
            section.headers.field("x-long").unwrap().raw,
            b"X-Long: a\n\tb\n"
        );
    }

    #[test]
    fn missing_blank_line_and_missing_body() {
        let data = b"Subject: x\r\nthis is body text\r\n";
        let section = parse(data);
        assert_eq!(section.headers.len(), 1);
        assert_eq!(&data[section.body_start..], b"this is body text\r\n");
        let only_headers = b"Subject: x\r\nTo: y";
        let section = parse(only_headers);
        assert_eq!(section.headers.get("to"), Some("y"));
        assert_eq!(section.body_start, only_headers.len());
        assert!(parse(b"").headers.is_empty());
        assert_eq!(parse(b"\r\nbody").body_start, 2);
    }

    #[test]
    fn repeated_fields_and_odd_bytes() {
        let data = b"Received: a\r\nreceived: b\r\nX: \x00\xff\r\n\r\n";
        let section = parse(data);
        assert_eq!(
            section.headers.get_all("RECEIVED").collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(section.headers.get("x"), Some("\u{0}\u{fffd}"));
    }

    #[test]
    fn limits_are_enforced() {
        let mut many = Vec::new();
        for _ in 0..=MAX_FIELDS {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert_eq!(
            parse_section(&many, 0..many.len()),
            Err(HeaderError::TooManyFields)
        );
        let mut long = b"X: ".to_vec();
        long.resize(MAX_FIELD_BYTES + 10, b'a');
        assert!(matches!(
            parse_section(&long, 0..long.len()),
            Err(HeaderError::FieldTooLong { offset: 0 })
        ));
        // Longer than 998 but under the cap is accepted.
        let mut ok = b"X: ".to_vec();
        ok.resize(5000, b'a');
        assert_eq!(parse(&ok).headers.get("x").unwrap().len(), 4997);
    }

    #[test]
    fn folds_long_values_at_white_space() {
        let value = "word ".repeat(40);
        let value = value.trim_end();
        let folded = fold_field("Subject", value);
        assert!(folded.ends_with("\r\n"));
        assert!(
            folded
                .split("\r\n")
                .all(|line| line.len() <= PREFERRED_LINE)
        );
        let section = parse(folded.as_bytes());
        assert_eq!(section.headers.get("subject"), Some(value));
        assert_eq!(fold_field("X", "short"), "X: short\r\n");
        assert_eq!(fold_field("X", "a\r\nB: injected"), "X: a  B: injected\r\n");
        assert_eq!(fold_field("X", ""), "X:\r\n");
    }

    proptest! {
        #[test]
        fn folding_keeps_lines_short_and_unfolds_back(
            words in proptest::collection::vec("[!-~\u{e0}-\u{ff}\u{ac00}-\u{ac10}]{1,100}", 1..40),
            seps in proptest::collection::vec("[ \t]{1,3}", 40),
        ) {
            let mut value = String::new();
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    value.push_str(&seps[i]);
                }
                value.push_str(word);
            }
            let folded = fold_field("X-Test", &value);
            prop_assert!(folded.split("\r\n").all(|line| line.len() <= MAX_LINE));
            let lines: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
            prop_assert!(lines.iter().all(|line| line.bytes().any(|b| b != b' ' && b != b'\t')));
            let section = parse(folded.as_bytes());
            prop_assert_eq!(section.headers.len(), 1);
            prop_assert_eq!(section.headers.get("x-test"), Some(value.as_str()));
        }

        #[test]
        fn any_bytes_parse_without_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(section) = parse_section(&data, 0..data.len()) {
                prop_assert!(section.range.end <= section.body_start);
                prop_assert!(section.body_start <= data.len());
                for field in section.headers.fields() {
                    prop_assert_eq!(&data[field.range.clone()], field.raw.as_slice());
                }
            }
        }
    }
}
