//! RFC 2047 encoded-words: non-ASCII text in headers, `=?charset?B|Q?encoded-text?=`.
//!
//! Decoding implements §4 (B and Q encodings), §6.2 (adjacent encoded-words are joined without
//! the white space between them; malformed words are shown as they are) and the RFC 2231 §5
//! `charset*language` form. Encoding implements §5 rule (1)/(3) with B-encoded UTF-8 words of at
//! most 75 characters (§2) that never split a character (§5 last paragraph).

use base64::Engine as _;

use super::charset;
use super::transfer::{decode_base64, hex_value};

/// §2: an encoded-word is at most 75 characters; longer ones are still read, this caps the
/// charset name only so a hostile `=?aaaa…` cannot make us collect megabytes of label.
const MAX_CHARSET_LEN: usize = 64;
/// `=?utf-8?B?` + `?=` is 12 characters. 14 base64 quanta (42 bytes) make a 68-character word,
/// under §2's 75, so even `Subject: ` and the first word fit the 78-character line of RFC 5322.
const MAX_WORD_BYTES: usize = 42;
/// A run of text without white space longer than this cannot be folded nicely, so it is
/// encoded (encoded-words can be split where plain words cannot).
const MAX_PLAIN_RUN: usize = 200;

/// Decodes every encoded-word in `text`, leaving everything else untouched.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<Word<'_>> = None;
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some(word) = bytes[i..]
            .starts_with(b"=?")
            .then(|| parse_word(&bytes[i..]))
            .flatten()
        else {
            i += 1;
            continue;
        };
        let word_len = word.len;
        let between = text.get(literal_start..i).unwrap_or("");
        let joinable = pending.is_some() && between.bytes().all(is_linear_space);
        if !joinable {
            flush(&mut pending, &mut out);
            out.push_str(between);
        }
        match pending.as_mut() {
            Some(open) if open.charset.eq_ignore_ascii_case(word.charset) => {
                // Same charset: join the bytes first, so a character split across two words by a
                // sloppy encoder still decodes.
                open.bytes.extend_from_slice(&word.bytes);
            }
            _ => {
                flush(&mut pending, &mut out);
                pending = Some(word);
            }
        }
        i += word_len;
        literal_start = i;
    }
    flush(&mut pending, &mut out);
    out.push_str(text.get(literal_start..).unwrap_or(""));
    out
}

/// One decoded encoded-word: its charset label, its bytes, and how much input it spanned.
struct Word<'a> {
    charset: &'a str,
    bytes: Vec<u8>,
    len: usize,
}

fn flush(pending: &mut Option<Word<'_>>, out: &mut String) {
    if let Some(word) = pending.take() {
        out.push_str(&charset::decode(word.charset, &word.bytes));
    }
}

fn is_linear_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// The length of the encoded-word at the start of `input`, if one is there, so tokenizers can
/// keep it whole even when its encoded text holds specials such as `.`.
pub(crate) fn word_len(input: &[u8]) -> Option<usize> {
    parse_word(input).map(|word| word.len)
}

/// Parses `=?charset?encoding?encoded-text?=` at the start of `input`, or `None` if malformed.
fn parse_word(input: &[u8]) -> Option<Word<'_>> {
    let rest = input.strip_prefix(b"=?")?;
    let charset_len = rest
        .iter()
        .take(MAX_CHARSET_LEN + 1)
        .position(|&b| b == b'?')?;
    let (charset, rest) = rest.split_at(charset_len);
    if charset.is_empty() || !charset.iter().all(|&b| is_charset_char(b)) {
        return None;
    }
    let (&encoding, rest) = rest.get(1..)?.split_first()?;
    let rest = rest.strip_prefix(b"?")?;
    // Encoded text ends at the next `?`; it may not hold white space (§2), which also stops a
    // malformed word from swallowing the rest of the header.
    let text_len = rest
        .iter()
        .position(|&b| b == b'?' || b.is_ascii_whitespace())?;
    let (encoded, rest) = rest.split_at(text_len);
    if !rest.starts_with(b"?=") {
        return None;
    }
    let bytes = match encoding {
        b'B' | b'b' => decode_b(encoded)?,
        b'Q' | b'q' => decode_q(encoded),
        _ => return None,
    };
    Some(Word {
        charset: std::str::from_utf8(charset).ok()?,
        bytes,
        len: 2 + charset_len + 3 + text_len + 2,
    })
}

/// §2 `token`: no space, controls or especials, except `*` for the RFC 2231 language suffix.
fn is_charset_char(byte: u8) -> bool {
    byte.is_ascii_graphic() && !b"()<>@,;:\"/[]?.=".contains(&byte)
}

/// §4.1: a B word must be pure base64, otherwise it is shown as is.
fn decode_b(encoded: &[u8]) -> Option<Vec<u8>> {
    let valid = encoded
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    valid.then(|| decode_base64(encoded))
}

/// §4.2: `_` is a space, `=XX` a byte; a stray `=` is kept rather than rejecting the word.
fn decode_q(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let byte = encoded[i];
        let escaped = (byte == b'=')
            .then(|| encoded.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?));
        match (byte, escaped) {
            (_, Some(value)) => {
                out.push(value);
                i += 3;
                continue;
            }
            (b'_', None) => out.push(b' '),
            (other, None) => out.push(other),
        }
        i += 1;
    }
    out
}

/// Encodes all of `text` as B-encoded UTF-8 words separated by single spaces (fold points).
///
/// The whole text is encoded, spaces included, because the spaces between adjacent encoded-words
/// vanish on decoding (§6.2).
pub fn encode(text: &str) -> String {
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = char_boundary_at_most(rest, MAX_WORD_BYTES);
        let (chunk, tail) = rest.split_at(cut);
        let b64 = base64::engine::general_purpose::STANDARD.encode(chunk);
        words.push(format!("=?utf-8?B?{b64}?="));
        rest = tail;
    }
    words.join(" ")
}

/// The largest index ≤ `max` that is a char boundary of `text`, but at least one whole char so
/// progress is always made (no UTF-8 char is longer than 4 bytes, well under `max`).
fn char_boundary_at_most(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    (1..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len())
}

/// Whether unstructured header text (§5 rule 1) must be encoded to survive as-is: anything not
/// printable ASCII, leading or trailing white space (parsers trim it), text that would itself be
/// read as an encoded-word, and runs too long to fold.
pub fn needs_encoding(text: &str) -> bool {
    let printable = text.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    let trimmed = text.trim_matches(' ').len() == text.len();
    let long_run = text.split(' ').any(|run| run.len() > MAX_PLAIN_RUN);
    !printable || !trimmed || text.contains("=?") || long_run
}

/// Text ready to be placed in an unstructured header field: itself, or encoded-words.
pub fn encode_unstructured(text: &str) -> String {
    if needs_encoding(text) {
        encode(text)
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 2047 §8: how the examples display.
    #[test]
    fn rfc2047_section8_examples() {
        let cases = [
            ("(=?ISO-8859-1?Q?a?=)", "(a)"),
            ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
            ("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"),
            (
                "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=",
                "Keld Jørn Simonsen",
            ),
            ("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"),
            (
                "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n \
                 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
                "If you can read this you understand the example.",
            ),
            ("=?ISO-8859-1?Q?Olle_J=E4rnefors?=", "Olle Järnefors"),
            ("=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?=", "Patrik Fältström"),
        ];
        for (input, shown) in cases {
            assert_eq!(decode(input), shown, "{input}");
        }
    }

    #[test]
    fn rfc2231_language_suffix() {
        assert_eq!(decode("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
    }

    #[test]
    fn korean_subjects_in_three_charsets() {
        let subject = "회의 안내: 다음 주 월요일";
        let utf8 = encode(subject);
        assert_eq!(decode(&utf8), subject);
        let (euc, _, _) = encoding_rs::EUC_KR.encode(subject);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&euc);
        assert_eq!(decode(&format!("=?EUC-KR?B?{b64}?=")), subject);
        assert_eq!(decode(&format!("=?ks_c_5601-1987?B?{b64}?=")), subject);
        let q: String = euc.iter().map(|b| format!("={b:02X}")).collect();
        assert_eq!(
            decode(&format!("Re: =?euc-kr?Q?{q}?=")),
            format!("Re: {subject}")
        );
    }

    #[test]
    fn character_split_across_words_is_joined() {
        // "한" is ED 95 9C; a sloppy encoder cut it between two words.
        assert_eq!(decode("=?utf-8?Q?=ED=95?= =?UTF-8?Q?=9C?="), "한");
    }

    #[test]
    fn malformed_words_are_left_alone() {
        for input in [
            "=?utf-8?X?abc?=",
            "=?utf-8?B?not base64?=",
            "=?utf-8?B?@@@@?=",
            "=??Q?abc?=",
            "=?utf-8?Q?abc",
            "=?utf-8?Q",
            "=?",
            "=?=?=?",
            "a =? b ?= c",
        ] {
            assert_eq!(decode(input), input);
        }
        assert_eq!(decode("x=?utf-8?Q?a=ZZ?=y"), "xa=ZZy");
        assert_eq!(decode("=?utf-8?q??="), "");
    }

    #[test]
    fn plain_text_between_words_is_kept() {
        assert_eq!(decode("=?utf-8?Q?a?= and =?utf-8?Q?b?="), "a and b");
        assert_eq!(decode("no words here"), "no words here");
    }

    #[test]
    fn encode_keeps_words_short_and_characters_whole() {
        let text = "가".repeat(100);
        let encoded = encode(&text);
        for word in encoded.split(' ') {
            assert!(word.len() <= 68, "{word}");
            let inner = word.trim_start_matches("=?utf-8?B?").trim_end_matches("?=");
            assert!(std::str::from_utf8(&decode_base64(inner.as_bytes())).is_ok());
        }
        assert_eq!(decode(&encoded), text);
    }

    #[test]
    fn needs_encoding_rules() {
        assert!(!needs_encoding("Hello world"));
        assert!(needs_encoding("안녕"));
        assert!(needs_encoding(" lead"));
        assert!(needs_encoding("tab\there"));
        assert!(needs_encoding("looks =?like?= a word"));
        assert!(needs_encoding(&"x".repeat(201)));
    }

    #[test]
    fn pathological_text_stays_fast() {
        let started = std::time::Instant::now();
        for unit in ["=?", "=?x?q?", "=?x?b?", "=?utf-8?q?a?= ", "=?a?q?b?=c"] {
            let text = unit.repeat(60_000 / unit.len());
            let _ = decode(&text);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(text in any::<String>()) {
            let encoded = encode_unstructured(&text);
            prop_assert!(encoded.is_ascii());
            prop_assert_eq!(decode(&encoded), text);
        }

        #[test]
        fn decode_never_panics(text in "(=|\\?|[bBqQ]|u|_|[ \t]|[A-F0-9]|[^\u{0}-\u{7f}]){0,80}") {
            let _ = decode(&text);
        }
    }
}
