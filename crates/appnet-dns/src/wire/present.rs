//! Presentation-format building blocks shared by names, RDATA and zone files: the token contract
//! between a zone-file lexer and [`RData::parse`](super::RData::parse), backslash escapes, quoted
//! character-strings, hex, and TTLs with units.
//!
//! RFC 1035 §5.1 (master file escapes `\X` and `\DDD`, quoted strings), RFC 3597 §5 (`\#` hex),
//! and BIND's TTL units (`1h30m`), which RFC 2308 §4 made the common spelling in zone files.

use std::fmt;

use super::error::TextError;

/// One field of a zone-file line as a lexer hands it over.
///
/// The contract:
/// - fields are already split on unescaped whitespace; parentheses and `;` comments are gone;
/// - a **quoted** field (`quoted: true`) has its quotes removed and its escapes resolved, so
///   `text` holds the exact bytes (`"a\"b"` → `a"b`, `"\065"` → `A`);
/// - a **bare** field keeps its escapes as written (`a\.b` stays four bytes `a`, `\`, `.`, `b`),
///   because a name must tell an escaped dot from a label separator and `\#` must stay
///   recognisable. Consumers that want the bytes call [`unescape`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: Vec<u8>,
    pub quoted: bool,
}

impl Token {
    /// A bare field, escapes unresolved.
    pub fn bare(text: impl Into<Vec<u8>>) -> Self {
        Self {
            text: text.into(),
            quoted: false,
        }
    }

    /// A quoted field, escapes already resolved.
    pub fn quoted(text: impl Into<Vec<u8>>) -> Self {
        Self {
            text: text.into(),
            quoted: true,
        }
    }

    /// Splits one line of RDATA text into tokens following the contract above. Handles quotes and
    /// escapes only: no parentheses, comments or line continuation, which are the zone-file
    /// lexer's job.
    pub fn split(line: &str) -> Result<Vec<Token>, TextError> {
        let mut tokens = Vec::new();
        let mut rest = line.as_bytes();
        loop {
            rest = trim_start(rest);
            let Some(&first) = rest.first() else {
                return Ok(tokens);
            };
            let (token, tail) = if first == b'"' {
                split_quoted(rest.get(1..).unwrap_or_default())?
            } else {
                split_bare(rest)
            };
            tokens.push(token);
            rest = tail;
        }
    }

    /// The text for error messages.
    pub(crate) fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    bytes.get(skip..).unwrap_or_default()
}

/// A bare token runs to the next unescaped whitespace or quote.
fn split_bare(bytes: &[u8]) -> (Token, &[u8]) {
    let mut end = 0;
    let mut escaped = false;
    for &b in bytes {
        if !escaped && (b.is_ascii_whitespace() || b == b'"') {
            break;
        }
        escaped = !escaped && b == b'\\';
        end += 1;
    }
    let (text, rest) = bytes.split_at(end);
    (Token::bare(text), rest)
}

/// `bytes` starts just after the opening quote.
fn split_quoted(bytes: &[u8]) -> Result<(Token, &[u8]), TextError> {
    let mut escaped = false;
    for (end, &b) in bytes.iter().enumerate() {
        if !escaped && b == b'"' {
            let inner = bytes.get(..end).unwrap_or_default();
            let text = unescape(inner)?;
            return Ok((
                Token::quoted(text),
                bytes.get(end + 1..).unwrap_or_default(),
            ));
        }
        escaped = !escaped && b == b'\\';
    }
    Err(TextError::UnterminatedQuote)
}

/// Resolves RFC 1035 §5.1 escapes: `\DDD` (decimal, ≤ 255) is that byte, `\X` is X.
pub fn unescape(raw: &[u8]) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let (byte, used) = read_escape(raw.get(i + 1..).unwrap_or_default())
            .ok_or_else(|| TextError::BadEscape(String::from_utf8_lossy(raw).into_owned()))?;
        out.push(byte);
        i += 1 + used;
    }
    Ok(out)
}

/// Reads what follows a backslash: returns the byte and how many input bytes it used.
/// `None` for a backslash at the end, `\DD` cut short, or `\DDD` above 255.
pub(crate) fn read_escape(after: &[u8]) -> Option<(u8, usize)> {
    let &first = after.first()?;
    if !first.is_ascii_digit() {
        return Some((first, 1));
    }
    let digits = after.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    u8::try_from(value).ok().map(|byte| (byte, 3))
}

/// Writes a character-string in quotes, as dig and zone files show TXT and CAA values:
/// `"` and `\` escaped with a backslash, bytes outside printable ASCII as `\DDD`.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for &b in bytes {
        match b {
            b'"' | b'\\' => write!(f, "\\{}", char::from(b))?,
            0x20..=0x7e => write!(f, "{}", char::from(b))?,
            _ => write!(f, "\\{b:03}")?,
        }
    }
    f.write_str("\"")
}

/// Lower-case hex without separators, as RFC 3597 §5 shows unknown RDATA.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes hex digits (either case) split over any number of tokens.
pub(crate) fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
            _ => None,
        })
        .collect()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Parses a TTL: plain seconds (`3600`) or BIND-style units (`1w2d3h4m5s`, `1h30m`, case-insensitive).
///
/// Values up to 2^32−1 are accepted; RFC 2181 §8 says a TTL with the top bit set means zero, which
/// is for the user of the value to apply.
pub fn parse_ttl(text: &str) -> Result<u32, TextError> {
    let bad = || TextError::BadTtl(text.to_owned());
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let mut total: u32 = 0;
    let mut number: Option<u32> = None;
    for b in text.bytes() {
        if let Some(digit) = char::from(b).to_digit(10) {
            let so_far = number.unwrap_or(0);
            number = Some(
                so_far
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(digit))
                    .ok_or_else(bad)?,
            );
            continue;
        }
        let unit = ttl_unit(b).ok_or_else(bad)?;
        let value = number.take().ok_or_else(bad)?;
        let seconds = value.checked_mul(unit).ok_or_else(bad)?;
        total = total.checked_add(seconds).ok_or_else(bad)?;
    }
    // A trailing number without a unit (`1h30`) is ambiguous; BIND rejects it too.
    if number.is_some() {
        return Err(bad());
    }
    Ok(total)
}

fn ttl_unit(b: u8) -> Option<u32> {
    match b.to_ascii_lowercase() {
        b's' => Some(1),
        b'm' => Some(60),
        b'h' => Some(3600),
        b'd' => Some(86_400),
        b'w' => Some(604_800),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("1h30m"), Ok(5400));
        assert_eq!(parse_ttl("2d"), Ok(172_800));
        assert_eq!(
            parse_ttl("1W2D3H4M5S"),
            Ok(604_800 + 172_800 + 10_800 + 240 + 5)
        );
        assert_eq!(parse_ttl("4294967295"), Ok(u32::MAX));
        for bad in [
            "",
            "h",
            "1h30",
            "4294967296",
            "10000000w",
            "1x",
            "-1",
            "1 h",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(br"a\.b\065\\"), Ok(b"a.bA\\".to_vec()));
        assert_eq!(unescape(br#"\""#), Ok(b"\"".to_vec()));
        for bad in [&br"\"[..], br"\25", br"\256", br"\2a5"] {
            assert!(unescape(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn split_line() {
        let tokens = Token::split(r#"  0 issue "letsencrypt.org; x=\"y\""  a\ b\"c "" "#).unwrap();
        assert_eq!(
            tokens,
            vec![
                Token::bare("0"),
                Token::bare("issue"),
                Token::quoted(r#"letsencrypt.org; x="y""#),
                Token::bare(r#"a\ b\"c"#),
                Token::quoted(""),
            ]
        );
        assert_eq!(Token::split(r#""open"#), Err(TextError::UnterminatedQuote));
        assert_eq!(Token::split("   "), Ok(vec![]));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x0a, 0, 0, 1]), "0a000001");
        assert_eq!(unhex(b"0A000001"), Some(vec![0x0a, 0, 0, 1]));
        assert_eq!(unhex(b"0g"), None);
        assert_eq!(unhex(b"abc"), None);
    }
}
