//! Structured MIME fields with parameters: `Content-Type` (RFC 2045 §5.1),
//! `Content-Disposition` (RFC 2183 §2), and parameter value extensions (RFC 2231 §3 continuations,
//! §4 charset and language, §4.1 both combined).
//!
//! Reading follows §5.1's grammar with comments (RFC 5322 §3.2.2) allowed between tokens, and
//! tolerates what mailers really send: unquoted values holding `=` or `/`, raw UTF-8, gaps in
//! continuation numbers. Writing produces plain tokens, quoted strings or RFC 2231 as needed.

use super::{charset, encoded_word, transfer::hex_value};

/// At most this many parameters are read from one field; the rest are ignored. Continuations
/// are grouped by name, so this also bounds that work.
pub const MAX_PARAMS: usize = 256;
/// RFC 2231 continuation numbers above this are ignored.
const MAX_SECTION: u32 = 999;
/// Longest parameter (name, `=` and value) we write on one line before using continuations.
const MAX_WRITTEN_PARAM: usize = 70;
/// Longest encoded value in one written continuation section.
const SECTION_LEN: usize = 60;

/// One parameter after RFC 2231 reassembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Lowercased attribute name, without `*` or section numbers.
    pub name: String,
    /// The decoded value.
    pub value: String,
    /// The value came from RFC 2231 extended syntax and is already charset-decoded, so it must
    /// not be put through RFC 2047 decoding again.
    pub extended: bool,
}

/// The parameters of a field, in order of first appearance; the first of duplicates wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// The value of parameter `name` (case-insensitive, §5.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.param(name).map(|p| p.value.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// A file name parameter decoded whichever way it was sent: RFC 2231, RFC 2047 encoded-words
    /// in a quoted string (not standard, but what many clients write), or plain.
    pub fn file_name(&self, name: &str) -> Option<String> {
        let param = self.param(name)?;
        Some(if param.extended {
            param.value.clone()
        } else {
            encoded_word::decode(&param.value)
        })
    }
}

/// RFC 2045 §5.1: `Content-Type: type/subtype; params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Lowercased top-level type (`text`).
    pub mime_type: String,
    /// Lowercased subtype (`plain`).
    pub subtype: String,
    pub params: Params,
}

impl Default for ContentType {
    /// RFC 2045 §5.2: no (or an unreadable) Content-Type means `text/plain; charset=us-ascii`.
    fn default() -> Self {
        Self::new("text", "plain", "us-ascii")
    }
}

impl ContentType {
    fn new(mime_type: &str, subtype: &str, charset: &str) -> Self {
        Self {
            mime_type: mime_type.into(),
            subtype: subtype.into(),
            params: Params(vec![Param {
                name: "charset".into(),
                value: charset.into(),
                extended: false,
            }]),
        }
    }

    /// RFC 2046 §5.1.5: inside multipart/digest the default is `message/rfc822`.
    pub fn digest_default() -> Self {
        Self {
            mime_type: "message".into(),
            subtype: "rfc822".into(),
            params: Params::default(),
        }
    }

    /// Parses a field value; `None` when there is no `type/subtype`.
    pub fn parse(value: &str) -> Option<Self> {
        let mut cursor = Cursor::new(value.as_bytes());
        let mime_type = cursor.token()?.to_ascii_lowercase();
        cursor.skip_cfws();
        if !cursor.eat(b'/') {
            return None;
        }
        cursor.skip_cfws();
        let subtype = cursor.token()?.to_ascii_lowercase();
        Some(Self {
            mime_type,
            subtype,
            params: cursor.params(),
        })
    }

    /// `type/subtype`, lowercased.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.mime_type, self.subtype)
    }

    pub fn is(&self, mime_type: &str, subtype: &str) -> bool {
        self.mime_type == mime_type && self.subtype == subtype
    }

    pub fn is_multipart(&self) -> bool {
        self.mime_type == "multipart"
    }

    pub fn charset(&self) -> Option<&str> {
        self.params.get("charset")
    }

    pub fn boundary(&self) -> Option<&str> {
        self.params.get("boundary")
    }
}

/// RFC 2183 §2: `Content-Disposition: inline | attachment; params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    /// Lowercased disposition type.
    pub kind: String,
    pub params: Params,
}

impl Disposition {
    pub fn parse(value: &str) -> Option<Self> {
        let mut cursor = Cursor::new(value.as_bytes());
        let kind = cursor.token()?.to_ascii_lowercase();
        Some(Self {
            kind,
            params: cursor.params(),
        })
    }

    pub fn is_attachment(&self) -> bool {
        self.kind == "attachment"
    }

    pub fn is_inline(&self) -> bool {
        self.kind == "inline"
    }

    /// The `filename` parameter, decoded (RFC 2183 §2.3).
    pub fn file_name(&self) -> Option<String> {
        self.params.file_name("filename")
    }
}

/// A parameter as written, before continuations are joined.
struct RawParam {
    name: String,
    section: Option<u32>,
    extended: bool,
    value: String,
}

/// Byte cursor over a structured field value.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    /// RFC 5322 §3.2.2 CFWS: white space and (possibly nested) comments, skipped iteratively so
    /// deep nesting costs no stack.
    fn skip_cfws(&mut self) {
        let mut depth: usize = 0;
        while let Some(byte) = self.peek() {
            match byte {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b'\\' if depth > 0 => self.pos += 1,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if depth > 0 => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    /// RFC 2045 §5.1 token; bytes ≥ 0x80 are accepted so raw UTF-8 names survive.
    fn token(&mut self) -> Option<String> {
        self.skip_cfws();
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.pos += 1;
        }
        self.text_since(start)
    }

    fn text_since(&self, start: usize) -> Option<String> {
        let bytes = self.bytes.get(start..self.pos)?;
        (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
    }

    /// RFC 5322 §3.2.4 quoted-string, starting at the opening quote; an unterminated one runs
    /// to the end of the field.
    fn quoted_string(&mut self) -> String {
        let mut out = Vec::new();
        self.pos += 1;
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' => {}
                other => out.push(other),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// An unquoted value: up to `;`, white space or a comment. Broader than a token because
    /// `boundary=----=_Part_1` and unquoted encoded-words are common.
    fn bare_value(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| !matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b'(' | b'"'))
        {
            self.pos += 1;
        }
        self.text_since(start).unwrap_or_default()
    }

    /// Skips to just after the next `;` (or to the end), the recovery point after junk.
    fn skip_past_semicolon(&mut self) {
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b';' => return,
                b'"' => {
                    self.pos -= 1;
                    let _ = self.quoted_string();
                }
                _ => {}
            }
        }
    }

    /// `*(";" parameter)` to the end of the field.
    fn params(&mut self) -> Params {
        let mut raw = Vec::new();
        self.skip_past_semicolon();
        while self.pos < self.bytes.len() && raw.len() < MAX_PARAMS {
            if let Some(param) = self.param() {
                raw.push(param);
            }
            self.skip_past_semicolon();
        }
        assemble(raw)
    }

    fn param(&mut self) -> Option<RawParam> {
        let attribute = self.token()?;
        self.skip_cfws();
        if !self.eat(b'=') {
            return None;
        }
        self.skip_cfws();
        let value = match self.peek() {
            Some(b'"') => self.quoted_string(),
            _ => self.bare_value(),
        };
        Some(split_attribute(&attribute, value))
    }
}

/// RFC 2045 §5.1: any CHAR except SPACE, CTLs and tspecials.
fn is_token_byte(byte: u8) -> bool {
    byte >= 0x80 || (byte.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&byte))
}

/// RFC 2231 §3/§4: `name`, `name*`, `name*0`, `name*0*`.
fn split_attribute(attribute: &str, value: String) -> RawParam {
    let lower = attribute.to_ascii_lowercase();
    let (base, extended) = match lower.strip_suffix('*') {
        Some(base) => (base, true),
        None => (lower.as_str(), false),
    };
    let section = base
        .rsplit_once('*')
        .and_then(|(name, digits)| Some((name, parse_section(digits)?)));
    match section {
        Some((name, number)) => RawParam {
            name: name.to_owned(),
            section: Some(number),
            extended,
            value,
        },
        None => RawParam {
            name: base.to_owned(),
            section: None,
            extended,
            value,
        },
    }
}

fn parse_section(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n <= MAX_SECTION)
}

/// Joins continuations and decodes extended values; the RFC 2231 form wins over a plain
/// parameter of the same name, since a reader that understands it is meant to prefer it.
fn assemble(raw: Vec<RawParam>) -> Params {
    let mut names: Vec<String> = Vec::new();
    for param in &raw {
        if !names.contains(&param.name) {
            names.push(param.name.clone());
        }
    }
    let params = names
        .into_iter()
        .filter_map(|name| {
            let group: Vec<&RawParam> = raw.iter().filter(|p| p.name == name).collect();
            assemble_one(name, &group)
        })
        .collect();
    Params(params)
}

fn assemble_one(name: String, group: &[&RawParam]) -> Option<Param> {
    let mut sections: Vec<&RawParam> = group
        .iter()
        .copied()
        .filter(|p| p.section.is_some())
        .collect();
    if !sections.is_empty() {
        sections.sort_by_key(|p| p.section);
        sections.dedup_by_key(|p| p.section);
        return Some(join_sections(name, &sections));
    }
    if let Some(single) = group.iter().find(|p| p.extended) {
        let (charset, bytes) = split_extended(&single.value);
        return Some(Param {
            name,
            value: decode_bytes(charset, &bytes),
            extended: true,
        });
    }
    group.first().map(|plain| Param {
        name,
        value: plain.value.clone(),
        extended: false,
    })
}

/// §4.1: only the first section may carry `charset'language'`; later extended sections are
/// plain percent-encoding, unextended ones literal. Bytes are joined before charset decoding
/// because a section may end in the middle of a multi-byte character.
fn join_sections(name: String, sections: &[&RawParam]) -> Param {
    let mut charset_label = None;
    let mut bytes = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        match (i, section.extended) {
            (0, true) => {
                let (label, decoded) = split_extended(&section.value);
                charset_label = label;
                bytes.extend(decoded);
            }
            (_, true) => bytes.extend(percent_decode(&section.value)),
            (_, false) => bytes.extend_from_slice(section.value.as_bytes()),
        }
    }
    let extended = sections.iter().any(|s| s.extended);
    Param {
        name,
        value: decode_bytes(charset_label, &bytes),
        extended,
    }
}

/// `charset'language'%XX…`; a value without the two quotes is read as percent-encoded UTF-8.
fn split_extended(value: &str) -> (Option<&str>, Vec<u8>) {
    let mut parts = value.splitn(3, '\'');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(charset), Some(_language), Some(encoded)) => (
            Some(charset).filter(|c| !c.is_empty()),
            percent_decode(encoded),
        ),
        _ => (None, percent_decode(value)),
    }
}

fn decode_bytes(charset_label: Option<&str>, bytes: &[u8]) -> String {
    match charset_label {
        Some(label) => charset::decode(label, bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `%XX` escapes; a malformed `%` stays literal.
fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?));
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Writes one parameter (or its RFC 2231 sections, joined by `; `) for a header: a bare token
/// when possible, a quoted string for short printable ASCII, RFC 2231 UTF-8 otherwise.
pub fn format_param(name: &str, value: &str) -> String {
    if !value.is_empty()
        && value.bytes().all(|b| b.is_ascii() && is_token_byte(b))
        && value.len() <= SECTION_LEN
    {
        return format!("{name}={value}");
    }
    if is_quotable(value) && !value.contains("=?") {
        return format!("{name}={}", quote(value));
    }
    format_extended(name, value)
}

/// The `name="=?utf-8?B?…?="` form old readers understand for non-ASCII file names (used on
/// Content-Type beside an RFC 2231 `filename*` on Content-Disposition).
pub fn format_encoded_word_param(name: &str, value: &str) -> String {
    if is_quotable(value) && !value.contains("=?") {
        format!("{name}={}", quote(value))
    } else {
        format!("{name}=\"{}\"", encoded_word::encode(value))
    }
}

fn is_quotable(value: &str) -> bool {
    value.len() <= SECTION_LEN
        && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && value.trim() == value
        && !value.contains("  ")
}

fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 2231 §4 `attribute-char`: what may stand unescaped in an extended value.
fn is_attribute_char(byte: u8) -> bool {
    byte.is_ascii_graphic() && !b"*'%()<>@,;:\\\"/[]?=".contains(&byte)
}

fn format_extended(name: &str, value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() * 3);
    let mut pieces: Vec<String> = Vec::new();
    for &byte in value.as_bytes() {
        let escape = if is_attribute_char(byte) {
            (byte as char).to_string()
        } else {
            format!("%{byte:02X}")
        };
        // Sections end between escapes, never inside one.
        if encoded.len() + escape.len() > SECTION_LEN {
            pieces.push(std::mem::take(&mut encoded));
        }
        encoded.push_str(&escape);
    }
    pieces.push(encoded);
    if pieces.len() == 1 && name.len() + pieces[0].len() + 9 <= MAX_WRITTEN_PARAM {
        return format!("{name}*=utf-8''{}", pieces[0]);
    }
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| match i {
            0 => format!("{name}*0*=utf-8''{piece}"),
            _ => format!("{name}*{i}*={piece}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_type_basics() {
        let ct = ContentType::parse("Text/HTML; Charset=\"UTF-8\"").unwrap();
        assert_eq!(ct.essence(), "text/html");
        assert_eq!(ct.charset(), Some("UTF-8"));
        let ct = ContentType::parse("multipart/mixed; boundary=----=_Part_0_1.2").unwrap();
        assert_eq!(ct.boundary(), Some("----=_Part_0_1.2"));
        assert!(ct.is_multipart());
        assert_eq!(ContentType::parse("text"), None);
        assert_eq!(ContentType::parse(""), None);
        assert_eq!(ContentType::default().charset(), Some("us-ascii"));
    }

    /// RFC 2045 §5.1: comments may appear; these are equivalent.
    #[test]
    fn rfc2045_comment_and_quoting_examples() {
        for value in [
            "text/plain; charset=us-ascii (Plain text)",
            "text/plain; charset=\"us-ascii\"",
            "text/plain (comment (nested \\) ok)) ; (c) charset = us-ascii",
        ] {
            let ct = ContentType::parse(value).unwrap();
            assert!(ct.is("text", "plain"), "{value}");
            assert_eq!(ct.charset(), Some("us-ascii"), "{value}");
        }
    }

    /// RFC 2231 §3, §4 and §4.1 examples.
    #[test]
    fn rfc2231_examples() {
        let ct = ContentType::parse(
            "message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
        )
        .unwrap();
        assert_eq!(
            ct.params.get("url"),
            Some("ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        );
        let ct = ContentType::parse(
            "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        )
        .unwrap();
        assert_eq!(ct.params.get("title"), Some("This is ***fun***"));
        let ct = ContentType::parse(
            "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n \
             title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
        )
        .unwrap();
        assert_eq!(
            ct.params.get("title"),
            Some("This is even more ***fun*** isn't it!")
        );
    }

    #[test]
    fn korean_file_names() {
        let d = Disposition::parse(
            "attachment; filename*=UTF-8''%ED%95%9C%EA%B8%80%20%EB%AC%B8%EC%84%9C.pdf",
        )
        .unwrap();
        assert!(d.is_attachment());
        assert_eq!(d.file_name().as_deref(), Some("한글 문서.pdf"));
        let (euc, _, _) = encoding_rs::EUC_KR.encode("보고서.hwp");
        let pct: String = euc.iter().map(|b| format!("%{b:02X}")).collect();
        let d = Disposition::parse(&format!(
            "attachment; filename*0*=ks_c_5601-1987''{}; filename*1*={}",
            &pct[..9],
            &pct[9..]
        ))
        .unwrap();
        assert_eq!(d.file_name().as_deref(), Some("보고서.hwp"));
        let ct = ContentType::parse("application/pdf; name=\"=?UTF-8?B?7ZWc6riA?=.pdf\"").unwrap();
        assert_eq!(ct.params.file_name("name").as_deref(), Some("한글.pdf"));
        let ct = ContentType::parse("application/pdf; name=\"한글.pdf\"").unwrap();
        assert_eq!(ct.params.file_name("name").as_deref(), Some("한글.pdf"));
    }

    #[test]
    fn junk_is_skipped_and_extended_form_preferred() {
        let d = Disposition::parse("attachment; junk; =x; filename=\"a;b.txt\"; size=3").unwrap();
        assert_eq!(d.file_name().as_deref(), Some("a;b.txt"));
        assert_eq!(d.params.get("size"), Some("3"));
        let d =
            Disposition::parse("attachment; filename=old.txt; filename*=utf-8''new.txt").unwrap();
        assert_eq!(d.file_name().as_deref(), Some("new.txt"));
        let d = Disposition::parse("attachment; filename*1=b; filename*0=a; filename*0=z").unwrap();
        assert_eq!(d.file_name().as_deref(), Some("ab"));
        let d = Disposition::parse("attachment; filename*=%41%4").unwrap();
        assert_eq!(d.file_name().as_deref(), Some("A%4"));
        assert_eq!(Disposition::parse("  ").map(|d| d.kind), None);
        let unterminated = Disposition::parse("inline; filename=\"abc").unwrap();
        assert_eq!(unterminated.file_name().as_deref(), Some("abc"));
    }

    #[test]
    fn formats_parameters() {
        assert_eq!(format_param("charset", "utf-8"), "charset=utf-8");
        assert_eq!(
            format_param("filename", "my file.txt"),
            "filename=\"my file.txt\""
        );
        assert_eq!(format_param("filename", "a\"b"), "filename=\"a\\\"b\"");
        assert_eq!(
            format_param("filename", "한.txt"),
            "filename*=utf-8''%ED%95%9C.txt"
        );
        let long = format_param("filename", &"가".repeat(30));
        assert!(long.starts_with("filename*0*=utf-8''%EA"));
        assert!(long.contains("; filename*1*=%"));
        assert!(long.split("; ").all(|p| p.len() <= 80));
        assert_eq!(format_encoded_word_param("name", "a.txt"), "name=\"a.txt\"");
        assert_eq!(
            format_encoded_word_param("name", "한"),
            "name=\"=?utf-8?B?7ZWc?=\""
        );
    }

    proptest! {
        #[test]
        fn formatted_params_parse_back(value in any::<String>()) {
            let header = format!("attachment; {}; {}", format_param("filename", &value), format_encoded_word_param("x", &value));
            let d = Disposition::parse(&header).unwrap();
            prop_assert_eq!(d.file_name(), Some(value.clone()));
            prop_assert_eq!(d.params.file_name("x"), Some(value));
        }

        #[test]
        fn any_text_parses_without_panic(value in "[a-z/;=*'%\" ()\\\\0-9\u{e9}]{0,120}") {
            let _ = ContentType::parse(&value);
            let _ = Disposition::parse(&value);
        }
    }
}
