//! Header and trailer fields: [`Headers`], an ordered multi-map with case-insensitive names, and
//! the field-line parser and writer.
//!
//! RFC 9112 §5 (field line syntax: no whitespace before the colon, obs-fold), RFC 9110 §5
//! (names are tokens, values exclude CR/LF/NUL, lists), RFC 9110 §8.6 (Content-Length).

use super::error::{EncodeError, HttpError};
use super::message::Version;
use super::syntax::{
    is_field_value_byte, is_ows, is_token, list_elements, parse_decimal, trim_ows,
};

/// One field line: the name as received (kept for forwarding) and the OWS-trimmed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    name: String,
    value: Vec<u8>,
}

impl Field {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value as received; it may hold obs-text (bytes ≥ 0x80), so it is bytes.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }

    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The fields of a header or trailer section, in order (RFC 9110 §5.3: order matters for fields
/// with the same name). Names compare case-insensitively (RFC 9110 §5.1).
///
/// Lookups scan linearly: a section holds at most [`super::ParseConfig::max_fields`] fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Field>,
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Adds a field after the others. Names and values are checked when the head is encoded.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Replaces every field called `name` with one field (placed where the first one was, or
    /// at the end).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let name = name.into();
        let value = value.into();
        match self.fields.iter().position(|f| f.is(&name)) {
            Some(at) => {
                self.fields.retain_mut(|f| !f.is(&name));
                let at = at.min(self.fields.len());
                self.fields.insert(at, Field { name, value });
            }
            None => self.fields.push(Field { name, value }),
        }
    }

    /// Removes every field called `name`; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| !f.is(name));
        before - self.fields.len()
    }

    /// The first value of `name` as text; `None` if absent or not UTF-8 (use [`Self::get_bytes`]
    /// where obs-text matters).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.is(name))
            .and_then(Field::value_str)
    }

    /// The first value of `name` as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find(|f| f.is(name)).map(Field::value)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.is(name))
            .map(Field::value)
    }

    /// How many field lines are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.fields.iter().filter(|f| f.is(name)).count()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.is(name))
    }

    /// The elements of the comma-separated list `name` (RFC 9110 §5.6.1) across all its lines.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name).flat_map(list_elements)
    }

    /// Whether the list `name` holds `token` (case-insensitively, ignoring any `;parameters`):
    /// `Connection: keep-alive, Upgrade` contains `upgrade`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|element| {
            let bare = element.split(|&b| b == b';').next().unwrap_or_default();
            trim_ows(bare).eq_ignore_ascii_case(token.as_bytes())
        })
    }

    /// RFC 9110 §8.6: the Content-Length, if any. Every value (several lines, or a list such as
    /// `5, 5`) must be `1*DIGIT` fitting in a u64, and all must be equal; the request parser is
    /// stricter still and refuses more than one value.
    pub fn content_length(&self) -> Result<Option<u64>, HttpError> {
        let mut found = None;
        for value in self.content_length_values() {
            let n = value?;
            if found.is_some_and(|prev| prev != n) {
                return Err(HttpError::ConflictingContentLength);
            }
            found = Some(n);
        }
        Ok(found)
    }

    /// Every Content-Length value, split at commas without skipping empty elements: `5,` is
    /// invalid, since a tolerated empty element is one more place for two parsers to disagree.
    pub(crate) fn content_length_values(
        &self,
    ) -> impl Iterator<Item = Result<u64, HttpError>> + '_ {
        self.get_all("content-length").flat_map(|value| {
            value
                .split(|&b| b == b',')
                .map(|piece| parse_decimal(trim_ows(piece)).ok_or(HttpError::InvalidContentLength))
        })
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter()
    }

    /// Appends a received value to the last field (obs-fold unfolding in responses).
    fn extend_last(&mut self, continuation: &[u8]) -> bool {
        let Some(last) = self.fields.last_mut() else {
            return false;
        };
        if !last.value.is_empty() && !continuation.is_empty() {
            last.value.push(b' ');
        }
        last.value.extend_from_slice(continuation);
        true
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Field;
    type IntoIter = std::slice::Iter<'a, Field>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

/// What to do with a line that starts with SP or HTAB (RFC 9112 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObsFold {
    /// A server rejects it with 400 (the RFC's other option, replacing it with SP, would hide a
    /// header from a front-end that did not unfold).
    Reject,
    /// A user agent must replace each obs-fold with SP (RFC 9112 §5.2).
    Unfold,
}

/// Parses field lines (without their line terminators) into [`Headers`].
pub(crate) fn parse_fields<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    obs_fold: ObsFold,
) -> Result<Headers, HttpError> {
    let mut headers = Headers::new();
    for line in lines {
        if line.first().copied().is_some_and(is_ows) {
            unfold(&mut headers, line, obs_fold)?;
            continue;
        }
        let (name, value) = parse_field_line(line)?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// A whitespace-led line continues the previous field, or is refused.
fn unfold(headers: &mut Headers, line: &[u8], obs_fold: ObsFold) -> Result<(), HttpError> {
    let continuation = trim_ows(line);
    if obs_fold == ObsFold::Reject || !continuation.iter().all(|&b| is_field_value_byte(b)) {
        return Err(HttpError::ObsFold);
    }
    // A fold before any field (whitespace after the start line) cannot be unfolded: RFC 9112
    // §2.2 lets us reject it.
    if headers.extend_last(continuation) {
        Ok(())
    } else {
        Err(HttpError::ObsFold)
    }
}

/// RFC 9112 §5: `field-line = field-name ":" OWS field-value OWS`.
pub(crate) fn parse_field_line(line: &[u8]) -> Result<(String, Vec<u8>), HttpError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HttpError::MissingColon)?;
    let (name, rest) = line
        .split_at_checked(colon)
        .ok_or(HttpError::MissingColon)?;
    let value = trim_ows(rest.get(1..).unwrap_or_default());
    if name.last().copied().is_some_and(is_ows) {
        return Err(HttpError::WhitespaceBeforeColon);
    }
    if !is_token(name) {
        return Err(HttpError::InvalidFieldName);
    }
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(HttpError::InvalidFieldValue);
    }
    let name = String::from_utf8(name.to_vec()).map_err(|_| HttpError::InvalidFieldName)?;
    Ok((name, value.to_vec()))
}

/// The framing fields a sender may not combine (RFC 9112 §6.1, §6.2): what our parsers refuse,
/// our encoders refuse too.
pub(crate) fn check_framing_fields(version: Version, headers: &Headers) -> Result<(), EncodeError> {
    if !headers.contains("transfer-encoding") {
        return Ok(());
    }
    if version == Version::Http10 {
        return Err(EncodeError::TransferEncodingInHttp10);
    }
    if headers.contains("content-length") {
        return Err(EncodeError::ContentLengthWithTransferEncoding);
    }
    Ok(())
}

/// Writes `name: value\r\n` for every field, refusing anything that would not parse back as the
/// same field (a CR or LF in a value is header injection).
pub(crate) fn encode_fields(headers: &Headers, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for field in headers {
        if !is_token(field.name.as_bytes()) {
            return Err(EncodeError::InvalidFieldName(field.name.clone()));
        }
        if !field.value.iter().all(|&b| is_field_value_byte(b)) {
            return Err(EncodeError::InvalidFieldValue(field.name.clone()));
        }
        out.extend_from_slice(field.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&field.value);
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&[u8]]) -> Result<Headers, HttpError> {
        parse_fields(lines.iter().copied(), ObsFold::Reject)
    }

    #[test]
    fn names_are_case_insensitive_and_keep_their_case() {
        let headers = parse(&[b"Content-Type: text/plain", b"X-Custom:  a b  "]).unwrap();
        assert_eq!(headers.get("content-type"), Some("text/plain"));
        assert_eq!(headers.get("x-custom"), Some("a b"));
        let names: Vec<&str> = headers.iter().map(Field::name).collect();
        assert_eq!(names, ["Content-Type", "X-Custom"]);
    }

    #[test]
    fn multi_map_keeps_order() {
        let mut headers = Headers::new();
        headers.append("Set-Cookie", "a=1");
        headers.append("X", "x");
        headers.append("set-cookie", "b=2");
        let all: Vec<&[u8]> = headers.get_all("SET-COOKIE").collect();
        assert_eq!(all, [&b"a=1"[..], b"b=2"]);
        assert_eq!(headers.count("set-cookie"), 2);
        headers.insert("Set-Cookie", "c=3");
        let names: Vec<&str> = headers.iter().map(Field::name).collect();
        assert_eq!(names, ["Set-Cookie", "X"]);
        assert_eq!(headers.get("set-cookie"), Some("c=3"));
        assert_eq!(headers.remove("x"), 1);
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn obs_text_is_kept_as_bytes() {
        let headers = parse(&[b"X: caf\xe9"]).unwrap();
        assert_eq!(headers.get_bytes("x"), Some(&b"caf\xe9"[..]));
        assert_eq!(headers.get("x"), None);
    }

    #[test]
    fn tokens_in_lists() {
        let headers = parse(&[b"Connection: keep-alive, Upgrade", b"Connection: x;y=1"]).unwrap();
        assert!(headers.contains_token("connection", "upgrade"));
        assert!(headers.contains_token("connection", "KEEP-ALIVE"));
        assert!(headers.contains_token("connection", "x"));
        assert!(!headers.contains_token("connection", "close"));
        assert!(!headers.contains_token("te", "trailers"));
    }

    #[test]
    fn field_line_errors() {
        let cases: &[(&[u8], HttpError)] = &[
            (b"Host : x", HttpError::WhitespaceBeforeColon),
            (b"Host\t: x", HttpError::WhitespaceBeforeColon),
            (b"Ho st: x", HttpError::InvalidFieldName),
            (b": x", HttpError::InvalidFieldName),
            (b"H\x00st: x", HttpError::InvalidFieldName),
            (b"X-No-Colon", HttpError::MissingColon),
            (b"X: a\x00b", HttpError::InvalidFieldValue),
            (b"X: a\rb", HttpError::InvalidFieldValue),
            (b"X: a\x7fb", HttpError::InvalidFieldValue),
            (b"X: a\x0bb", HttpError::InvalidFieldValue),
        ];
        for (line, error) in cases {
            assert_eq!(parse(&[line]), Err(error.clone()), "{line:?}");
        }
    }

    #[test]
    fn empty_values_are_allowed() {
        let headers = parse(&[b"X:", b"Y:   "]).unwrap();
        assert_eq!(headers.get("x"), Some(""));
        assert_eq!(headers.get("y"), Some(""));
    }

    #[test]
    fn obs_fold_is_rejected_or_unfolded() {
        assert_eq!(parse(&[b"X: a", b" b"]), Err(HttpError::ObsFold));
        let unfolded = parse_fields(
            [&b"X: a"[..], b" \t b  c", b"\tc"].into_iter(),
            ObsFold::Unfold,
        )
        .unwrap();
        assert_eq!(unfolded.get("x"), Some("a b  c c"));
        let first = parse_fields([&b" X: a"[..]].into_iter(), ObsFold::Unfold);
        assert_eq!(first, Err(HttpError::ObsFold));
    }

    #[test]
    fn content_length_rules() {
        let cl = |lines: &[&[u8]]| parse(lines).unwrap().content_length();
        assert_eq!(cl(&[]), Ok(None));
        assert_eq!(cl(&[b"Content-Length: 42"]), Ok(Some(42)));
        assert_eq!(cl(&[b"Content-Length: 5 "]), Ok(Some(5)));
        assert_eq!(cl(&[b"Content-Length: 5, 5"]), Ok(Some(5)));
        assert_eq!(
            cl(&[b"Content-Length: 5", b"content-length: 5"]),
            Ok(Some(5))
        );
        assert_eq!(
            cl(&[b"Content-Length: 5, 6"]),
            Err(HttpError::ConflictingContentLength)
        );
        assert_eq!(
            cl(&[b"Content-Length: 5", b"Content-Length: 6"]),
            Err(HttpError::ConflictingContentLength)
        );
        for bad in [
            &b"Content-Length: +5"[..],
            b"Content-Length: -1",
            b"Content-Length: 0x5",
            b"Content-Length: 5,",
            b"Content-Length: 1 2",
            b"Content-Length:",
            b"Content-Length: 99999999999999999999",
        ] {
            assert_eq!(cl(&[bad]), Err(HttpError::InvalidContentLength), "{bad:?}");
        }
    }

    #[test]
    fn encoding_refuses_injection() {
        let mut out = Vec::new();
        let mut headers = Headers::new();
        headers.append("X", "a\r\nInjected: yes");
        assert_eq!(
            encode_fields(&headers, &mut out),
            Err(EncodeError::InvalidFieldValue("X".into()))
        );
        let mut headers = Headers::new();
        headers.append("Bad Name", "v");
        assert_eq!(
            encode_fields(&headers, &mut out),
            Err(EncodeError::InvalidFieldName("Bad Name".into()))
        );
        let mut headers = Headers::new();
        headers.append("Host", "example.com");
        out.clear();
        encode_fields(&headers, &mut out).unwrap();
        assert_eq!(out, b"Host: example.com\r\n");
    }
}
