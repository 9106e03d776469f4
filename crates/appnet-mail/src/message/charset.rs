//! Turning bytes in a MIME-named charset into text (RFC 2045 §5.1 `charset`, RFC 2046 §4.1.2,
//! RFC 2231 §5 language suffixes).
//!
//! Charset names come from hostile headers, so nothing here fails: a name `encoding_rs` does not
//! know is read as UTF-8 with replacement characters, which is what most mail readers do.

use encoding_rs::{Encoding, REPLACEMENT, UTF_8};

/// Finds the decoder for a charset label, or `None` when the label is unknown.
///
/// The WHATWG label table behind `Encoding::for_label` already maps the mail-era aliases
/// (`ks_c_5601-1987` → EUC-KR, `us-ascii` → windows-1252, `latin1` …).
pub fn lookup(label: &str) -> Option<&'static Encoding> {
    let label = strip_language(label.trim());
    let encoding = Encoding::for_label(label.as_bytes())?;
    // WHATWG maps ISO-2022-KR and friends to a decoder that yields one U+FFFD for the whole
    // input; falling back to UTF-8 keeps whatever ASCII the text holds readable.
    (encoding != REPLACEMENT).then_some(encoding)
}

/// Decodes `bytes` in the charset named `label`; unknown charsets fall back to UTF-8 lossy.
pub fn decode(label: &str, bytes: &[u8]) -> String {
    let encoding = match lookup(label) {
        // A body labelled US-ASCII often carries UTF-8 anyway (RFC 6532 era mailers); since
        // ASCII is a subset of UTF-8, valid UTF-8 is the most faithful reading.
        Some(_) if is_us_ascii(label) && std::str::from_utf8(bytes).is_ok() => UTF_8,
        Some(e) => e,
        None => UTF_8,
    };
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// RFC 2231 §5 lets encoded-words name a language after the charset: `us-ascii*en`.
fn strip_language(label: &str) -> &str {
    label.split_once('*').map_or(label, |(charset, _)| charset)
}

fn is_us_ascii(label: &str) -> bool {
    let label = strip_language(label.trim());
    label.eq_ignore_ascii_case("us-ascii") || label.eq_ignore_ascii_case("ascii")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_charsets_decode() {
        let (euc, _, _) = encoding_rs::EUC_KR.encode("안녕하세요");
        assert_eq!(decode("euc-kr", &euc), "안녕하세요");
        assert_eq!(decode("EUC-KR", &euc), "안녕하세요");
        assert_eq!(decode("ks_c_5601-1987", &euc), "안녕하세요");
        assert_eq!(decode("utf-8", "안녕".as_bytes()), "안녕");
    }

    #[test]
    fn western_charsets_decode() {
        assert_eq!(decode("iso-8859-1", b"caf\xe9"), "café");
        assert_eq!(decode("us-ascii", b"plain"), "plain");
        assert_eq!(decode("us-ascii", "ü".as_bytes()), "ü");
        assert_eq!(decode("US-ASCII*EN", b"Keith"), "Keith");
    }

    #[test]
    fn unknown_charset_falls_back_to_utf8_lossy() {
        assert_eq!(decode("x-no-such-charset", "é\u{0}".as_bytes()), "é\u{0}");
        assert_eq!(decode("x-no-such-charset", b"a\xffb"), "a\u{fffd}b");
        assert_eq!(decode("iso-2022-kr", b"abc"), "abc");
        assert_eq!(decode("", b"abc"), "abc");
    }
}
