//! The lexical rules of RFC 9110 §5.6 that several fields share: `token`, `quoted-string`,
//! optional whitespace and comma-separated lists (`#rule`, §5.6.1).
//!
//! The cursor works on the bytes of a `&str` and only ever stops on ASCII bytes, so every slice
//! it hands out is on a character boundary and no index can panic.

/// Our bound on any one field value this module parses. A value longer than this is not a
/// browser's or curl's: fields that ask for work (`Range`, validator lists) are ignored, and
/// fields that grant caching permission are read as refusing it.
pub const MAX_FIELD_LEN: usize = 8 * 1024;

/// RFC 9110 §5.6.2: `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 9110 §5.6.3: `OWS` is spaces and horizontal tabs.
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A forward-only reader over a field value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `prefix` if the input continues with it (ASCII only).
    pub(crate) fn eat_str(&mut self, prefix: &str) -> bool {
        let rest = self.rest().as_bytes();
        if rest.starts_with(prefix.as_bytes()) {
            self.pos += prefix.len();
            true
        } else {
            false
        }
    }

    /// Moves past the next `n` bytes (clamped to the end). Callers pass lengths of ASCII-
    /// delimited prefixes of [`Cursor::rest`], so the position stays on a char boundary.
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.text.len());
    }

    pub(crate) fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
    }

    /// Everything not yet consumed.
    pub(crate) fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    /// The longest run of ASCII bytes satisfying `pred` (possibly empty).
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii() && pred(b)) {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// RFC 9110 §5.6.2: `token = 1*tchar`.
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_tchar);
        (!t.is_empty()).then_some(t)
    }

    /// RFC 9110 §5.6.4: `quoted-string`, returned unescaped. `None` (with the cursor wherever it
    /// stopped) if the next input is not a complete quoted string.
    pub(crate) fn quoted_string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let escaped = self.peek()?;
                    self.pos += 1;
                    out.push(escaped);
                }
                // qdtext excludes controls other than HTAB, and DEL.
                b if b == b'\t' || (b >= 0x20 && b != 0x7f) => out.push(b),
                _ => return None,
            }
        }
    }

    /// Error recovery inside a list: skips to just past the next comma that is outside any
    /// quoted string (or to the end).
    pub(crate) fn skip_element(&mut self) {
        let mut in_quotes = false;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' if in_quotes => self.pos += usize::from(self.peek().is_some()),
                b'"' => in_quotes = !in_quotes,
                b',' if !in_quotes => return,
                _ => {}
            }
        }
    }
}

/// Splits a `#rule` list at the commas outside quoted strings, trimming OWS and dropping the
/// empty elements that RFC 9110 §5.6.1.2 requires recipients to accept.
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if in_quotes => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                push_trimmed(&mut out, value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    push_trimmed(&mut out, value.get(start..).unwrap_or_default());
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, element: &'a str) {
    let trimmed = element.trim_matches([' ', '\t']);
    if !trimmed.is_empty() {
        out.push(trimmed);
    }
}

/// RFC 9110 §5.6.1: a digit string as `u64`, saturating (callers clamp further where the RFC
/// says how, e.g. RFC 9111 §1.2.2 for delta-seconds). `None` unless all bytes are digits.
pub(crate) fn parse_u64_saturating(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// A digit string that fits in `u64` exactly; `None` for anything else (including overflow),
/// for fields whose numbers become file offsets.
pub(crate) fn parse_u64_exact(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_quoted_string() {
        let mut c = Cursor::new(r#"max-age="a\"b", x"#);
        assert_eq!(c.token(), Some("max-age"));
        assert!(c.eat(b'='));
        assert_eq!(c.quoted_string().as_deref(), Some("a\"b"));
        assert!(c.eat(b','));
        c.skip_ows();
        assert_eq!(c.token(), Some("x"));
        assert!(c.at_end());
    }

    #[test]
    fn unterminated_quoted_string_is_none() {
        assert_eq!(Cursor::new("\"abc").quoted_string(), None);
        assert_eq!(Cursor::new("\"ab\\").quoted_string(), None);
        assert_eq!(Cursor::new("\"a\x01\"").quoted_string(), None);
    }

    #[test]
    fn split_list_respects_quotes_and_empty_elements() {
        assert_eq!(
            split_list(r#" a , ,"b,c" ,d\,"#),
            vec!["a", "\"b,c\"", "d\\"]
        );
        assert_eq!(split_list(r#""x\",y", z"#), vec![r#""x\",y""#, "z"]);
        assert!(split_list(" , ,").is_empty());
    }

    #[test]
    fn skip_element_stops_after_comma_outside_quotes() {
        let mut c = Cursor::new(r#"bad"x,y"z, next"#);
        c.skip_element();
        c.skip_ows();
        assert_eq!(c.rest(), "next");
    }

    #[test]
    fn digits_saturate() {
        assert_eq!(parse_u64_saturating("0"), Some(0));
        assert_eq!(
            parse_u64_saturating("99999999999999999999999"),
            Some(u64::MAX)
        );
        assert_eq!(parse_u64_saturating(""), None);
        assert_eq!(parse_u64_saturating("1a"), None);
        assert_eq!(parse_u64_saturating("-1"), None);
        assert_eq!(parse_u64_exact("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_exact("18446744073709551616"), None);
        assert_eq!(parse_u64_exact("+1"), None);
    }
}
