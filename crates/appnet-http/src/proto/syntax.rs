//! Character classes and small grammar rules every part of the codec shares: RFC 9110 §5.6
//! (tokens, whitespace, quoted strings, lists), §5.5 (field values) and RFC 5234 core rules.
//!
//! All functions take and return byte slices and never index: they are the building blocks the
//! parsers compose, so they must be safe on any input.

/// RFC 9110 §5.6.2: `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 §5.6.2: `token = 1*tchar`.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// RFC 9110 §5.6.3: `OWS` / `BWS` are made of SP and HTAB only.
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 5234: `VCHAR`, the visible ASCII characters.
pub(crate) fn is_vchar(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// RFC 9110 §5.5: `obs-text`, bytes of old non-ASCII encodings kept opaque.
pub(crate) fn is_obs_text(b: u8) -> bool {
    b >= 0x80
}

/// RFC 9110 §5.5: a byte allowed in a field value (`field-vchar`, SP or HTAB). CR, LF, NUL and
/// the other controls are refused: they are how header injection and smuggling get in.
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    is_ows(b) || is_vchar(b) || is_obs_text(b)
}

/// RFC 9110 §5.6.4: `qdtext`.
fn is_qdtext(b: u8) -> bool {
    is_ows(b)
        || b == 0x21
        || (0x23..=0x5b).contains(&b)
        || (0x5d..=0x7e).contains(&b)
        || is_obs_text(b)
}

/// Strips leading and trailing OWS (not the wider ASCII whitespace `trim_ascii` knows: a form
/// feed or CR is not whitespace here, it is an error for the caller to see).
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Skips leading OWS.
pub(crate) fn skip_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Splits a leading token off `bytes`: `(token, rest)`; the token may be empty.
pub(crate) fn split_token(bytes: &[u8]) -> (&[u8], &[u8]) {
    let end = bytes
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(bytes.len());
    bytes.split_at_checked(end).unwrap_or((bytes, &[]))
}

/// RFC 9110 §5.6.4: given bytes starting with a DQUOTE, the rest after the closing DQUOTE, or
/// `None` if the quoted-string is malformed or unterminated.
pub(crate) fn skip_quoted_string(bytes: &[u8]) -> Option<&[u8]> {
    let mut rest = bytes.strip_prefix(b"\"")?;
    loop {
        let (&b, after) = rest.split_first()?;
        match b {
            b'"' => return Some(after),
            b'\\' => {
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                let (&escaped, after) = after.split_first()?;
                if !is_field_value_byte(escaped) {
                    return None;
                }
                rest = after;
            }
            _ if is_qdtext(b) => rest = after,
            _ => return None,
        }
    }
}

/// RFC 5234 `1*DIGIT` as a u64; `None` if empty, not all digits, or too large.
pub(crate) fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        let digit = u64::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        acc.checked_mul(10)?.checked_add(digit)
    })
}

/// RFC 9110 §5.6.1: the elements of a comma-separated list, OWS-trimmed, empty ones skipped
/// (the RFC asks recipients to tolerate them). Commas inside quoted strings do not split.
pub(crate) fn list_elements(value: &[u8]) -> ListElements<'_> {
    ListElements { rest: value }
}

/// Iterator returned by [`list_elements`].
#[derive(Debug, Clone)]
pub(crate) struct ListElements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ListElements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let end = element_end(self.rest);
            let (element, rest) = self.rest.split_at_checked(end).unwrap_or((self.rest, &[]));
            self.rest = rest.get(1..).unwrap_or_default();
            let element = trim_ows(element);
            if !element.is_empty() {
                return Some(element);
            }
        }
        None
    }
}

/// Offset of the first comma outside a quoted string (or the length).
fn element_end(bytes: &[u8]) -> usize {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => return i,
            _ => {}
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token(b"Content-Length"));
        assert!(is_token(b"x!#$%&'*+-.^_`|~9"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a:b"));
        assert!(!is_token(b"\"chunked\""));
    }

    #[test]
    fn trims_only_sp_and_htab() {
        assert_eq!(trim_ows(b" \t5 \t"), b"5");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b"\x0b5"), b"\x0b5");
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(skip_quoted_string(b"\"a\\\"b\"rest"), Some(&b"rest"[..]));
        assert_eq!(skip_quoted_string(b"\"\""), Some(&b""[..]));
        assert_eq!(skip_quoted_string(b"\"open"), None);
        assert_eq!(skip_quoted_string(b"\"nul\x00\""), None);
        assert_eq!(skip_quoted_string(b"\"esc\\"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"0005"), Some(5));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+5", b"-5", b"5 ", b"0x5", b"5a"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lists_respect_quotes_and_skip_empty_elements() {
        let elements: Vec<&[u8]> = list_elements(b" a ,, b;q=\"x,y\" ,c,").collect();
        assert_eq!(elements, [&b"a"[..], b"b;q=\"x,y\"", b"c"]);
        assert_eq!(list_elements(b" , ").count(), 0);
    }
}
