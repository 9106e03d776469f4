//! The user agent's composer: turns a `Composition` into a wire-format message with CRLF line
//! endings that is 7-bit safe (RFC 5322 §2.1, §3.3 date, §3.6 fields; RFC 2045 MIME-Version,
//! Content-Type, Content-Transfer-Encoding; RFC 2046 §5.1 multipart/mixed; RFC 2047 encoded-words
//! for non-ASCII header text; RFC 2231 and RFC 2183 for attachment file names).
//!
//! Only an address with a non-ASCII local part or domain is written as raw UTF-8, because no
//! 7-bit form exists for it; such a message needs SMTPUTF8 (RFC 6531).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::address::Mailbox;
use super::date::{MONTHS, civil_from_days, unix_seconds};
use super::encoded_word;
use super::header::fold_field;
use super::params::{ContentType, format_encoded_word_param, format_param};
pub use super::parse::Attachment;
use super::transfer::{encode_base64, encode_quoted_printable};

/// Everything a user writes when sending mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composition {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// Plain text; `\n` or `\r\n` line breaks.
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub date: SystemTime,
    /// Without angle brackets (they are added); empty means no Message-ID field.
    pub message_id: String,
    /// More fields, written after the standard ones; non-ASCII values become encoded-words.
    pub extra_headers: Vec<(String, String)>,
}

/// Why a composition cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid header field name {0:?} (RFC 5322 §3.6.8: printable ASCII, no colon)")]
    InvalidHeaderName(String),
    #[error("invalid attachment content type {0:?} (expected type/subtype)")]
    InvalidContentType(String),
    #[error("invalid Message-ID {0:?} (expected printable ASCII id-left@id-right)")]
    InvalidMessageId(String),
}

impl Composition {
    /// A composition dated now with a fresh Message-ID in the sender's domain.
    pub fn new(from: Mailbox, to: Vec<Mailbox>, subject: &str, body: &str) -> Self {
        let domain = from
            .address
            .rsplit_once('@')
            .map_or("localhost", |(_, domain)| domain);
        let message_id = new_message_id(domain);
        Self {
            from,
            to,
            cc: Vec::new(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            attachments: Vec::new(),
            date: SystemTime::now(),
            message_id,
            extra_headers: Vec::new(),
        }
    }

    /// The message as sent: CRLF lines, folded headers, MIME structure.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ComposeError> {
        let mut out = self.top_headers()?.into_bytes();
        let text = text_part(&self.body);
        if self.attachments.is_empty() {
            out.extend_from_slice(&text.headers);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&text.body);
            return Ok(out);
        }
        let mut parts = vec![text];
        for attachment in &self.attachments {
            parts.push(attachment_part(attachment)?);
        }
        write_multipart(&mut out, &parts);
        Ok(out)
    }

    fn top_headers(&self) -> Result<String, ComposeError> {
        let mut out = fold_field("Date", &format_date(self.date));
        out += &fold_field("From", &self.from.to_header());
        if !self.to.is_empty() {
            out += &fold_field("To", &address_list(&self.to));
        }
        if !self.cc.is_empty() {
            out += &fold_field("Cc", &address_list(&self.cc));
        }
        out += &fold_field("Subject", &encoded_word::encode_unstructured(&self.subject));
        if !self.message_id.is_empty() {
            out += &fold_field("Message-ID", &format_message_id(&self.message_id)?);
        }
        out += "MIME-Version: 1.0\r\n";
        for (name, value) in &self.extra_headers {
            check_field_name(name)?;
            out += &fold_field(name, &encoded_word::encode_unstructured(value));
        }
        Ok(out)
    }
}

fn address_list(mailboxes: &[Mailbox]) -> String {
    mailboxes
        .iter()
        .map(Mailbox::to_header)
        .collect::<Vec<_>>()
        .join(", ")
}

/// RFC 5322 §3.6.8 `field-name = 1*ftext`.
fn check_field_name(name: &str) -> Result<(), ComposeError> {
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    valid
        .then_some(())
        .ok_or_else(|| ComposeError::InvalidHeaderName(name.to_owned()))
}

/// RFC 5322 §3.6.4 `msg-id = "<" id-left "@" id-right ">"`, checked loosely: printable ASCII
/// without the characters that would end the field or the brackets early.
fn format_message_id(id: &str) -> Result<String, ComposeError> {
    let bare = id.trim_start_matches('<').trim_end_matches('>');
    let valid = bare.contains('@')
        && bare
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b));
    if !valid {
        return Err(ComposeError::InvalidMessageId(id.to_owned()));
    }
    Ok(format!("<{bare}>"))
}

/// A fresh `id-left@domain` (no brackets): time, process and a counter make it unique here.
pub fn new_message_id(domain: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}.{:x}.{:x}.{count:x}@{domain}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id()
    )
}

/// One MIME part ready to be written: its header lines and encoded body.
struct EncodedPart {
    headers: Vec<u8>,
    body: Vec<u8>,
}

/// The text as UTF-8 in whichever of quoted-printable and base64 is shorter: mostly-ASCII text
/// stays readable, mostly-Korean text shrinks by a third.
fn text_part(body: &str) -> EncodedPart {
    let canonical = to_crlf(body);
    let qp = encode_quoted_printable(canonical.as_bytes());
    let b64 = encode_base64(canonical.as_bytes());
    let (encoding, body) = if b64.len() < qp.len() {
        ("base64", b64)
    } else {
        ("quoted-printable", qp)
    };
    let headers = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n"
    );
    EncodedPart {
        headers: headers.into_bytes(),
        body,
    }
}

/// RFC 2046 §4.1.1: text travels with CRLF line breaks.
fn to_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut previous = '\0';
    for c in text.chars() {
        if c == '\n' && previous != '\r' {
            out.push('\r');
        }
        out.push(c);
        previous = c;
    }
    out
}

/// Base64 body; the file name twice: RFC 2231 `filename*` for current readers, an encoded-word
/// `name` on Content-Type for old ones.
fn attachment_part(attachment: &Attachment) -> Result<EncodedPart, ComposeError> {
    let content_type = ContentType::parse(&attachment.content_type)
        .filter(|ct| ct.mime_type != "multipart")
        .ok_or_else(|| ComposeError::InvalidContentType(attachment.content_type.clone()))?;
    let mut type_value = content_type.essence();
    for param in content_type.params.0.iter().filter(|p| p.name != "name") {
        type_value += "; ";
        type_value += &format_param(&param.name, &param.value);
    }
    type_value += "; ";
    type_value += &format_encoded_word_param("name", &attachment.file_name);
    let disposition = format!(
        "attachment; {}",
        format_param("filename", &attachment.file_name)
    );
    let mut headers = fold_field("Content-Type", &type_value);
    headers += &fold_field("Content-Disposition", &disposition);
    headers += "Content-Transfer-Encoding: base64\r\n";
    Ok(EncodedPart {
        headers: headers.into_bytes(),
        body: encode_base64(&attachment.bytes),
    })
}

/// multipart/mixed: a boundary that no part contains, each part after a delimiter line, and a
/// CRLF after each body so the body's own last line break survives (RFC 2046 §5.1.1).
fn write_multipart(out: &mut Vec<u8>, parts: &[EncodedPart]) {
    let boundary = unique_boundary(parts);
    let content_type = format!("multipart/mixed; boundary=\"{boundary}\"");
    out.extend_from_slice(fold_field("Content-Type", &content_type).as_bytes());
    out.extend_from_slice(b"\r\nThis is a multi-part message in MIME format.\r\n");
    for part in parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        out.extend_from_slice(&part.headers);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&part.body);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
}

/// `=_` cannot occur in quoted-printable or base64 output, so a collision needs a file name or
/// content type spelling it out; the check below covers that case too.
fn unique_boundary(parts: &[EncodedPart]) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    loop {
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let boundary = format!("=_appnet_{:016x}", mix(seed ^ count.rotate_left(32)));
        let taken = parts.iter().any(|p| {
            contains(&p.headers, boundary.as_bytes()) || contains(&p.body, boundary.as_bytes())
        });
        if !taken {
            return boundary;
        }
    }
}

/// SplitMix64's finalizer: spreads nearby seeds over the whole range.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// RFC 5322 §3.3 date-time in UTC: `Fri, 27 Nov 2026 07:26:03 +0000`.
pub fn format_date(time: SystemTime) -> String {
    let seconds = unix_seconds(time);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {day} {} {year:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse::Message;
    use proptest::prelude::*;
    use std::time::Duration;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn formats_dates() {
        assert_eq!(format_date(UNIX_EPOCH), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            format_date(at(1_795_764_363)),
            "Fri, 27 Nov 2026 07:26:03 +0000"
        );
        assert_eq!(
            format_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            format_date(at(4_107_542_399)),
            "Sun, 28 Feb 2100 23:59:59 +0000"
        );
        assert_eq!(
            format_date(UNIX_EPOCH - Duration::from_secs(1)),
            "Wed, 31 Dec 1969 23:59:59 +0000"
        );
    }

    fn korean() -> Composition {
        Composition {
            from: Mailbox::new(Some("홍길동"), "hong@example.kr"),
            to: vec![
                Mailbox::new(Some("Mary Smith"), "mary@example.net"),
                Mailbox::new(None, "bob@example.org"),
            ],
            cc: vec![Mailbox::new(Some("Doe, John"), "john@example.com")],
            subject: "회의 자료 보내드립니다".into(),
            body: "안녕하세요.\n첨부 파일 확인 부탁드립니다.\n".into(),
            attachments: vec![Attachment {
                file_name: "회의록 2026.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7\x00\xff".to_vec(),
            }],
            date: at(1_795_764_363),
            message_id: "1.2@example.kr".into(),
            extra_headers: vec![("X-Mailer".into(), "appnet".into())],
        }
    }

    #[test]
    fn composes_a_korean_message_with_attachment() {
        let wire = korean().to_bytes().unwrap();
        assert!(wire.is_ascii());
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.starts_with("Date: Fri, 27 Nov 2026 07:26:03 +0000\r\n"));
        assert!(text.contains("\r\nMessage-ID: <1.2@example.kr>\r\n"));
        assert!(text.contains("\r\nMIME-Version: 1.0\r\n"));
        assert!(text.contains("\r\nX-Mailer: appnet\r\n"));
        assert!(text.contains("Cc: \"Doe, John\" <john@example.com>\r\n"));
        assert!(text.contains("filename*=utf-8''%ED%9A%8C%EC%9D%98%EB%A1%9D%202026.pdf"));
        assert!(text.contains("name=\"=?utf-8?B?"));
        assert!(text.split("\r\n").all(|line| line.len() <= 78), "{text}");
        assert!(!text.replace("\r\n", "").contains('\n'));

        let message = Message::parse(&wire).unwrap();
        assert_eq!(message.subject().as_deref(), Some("회의 자료 보내드립니다"));
        assert_eq!(
            message.from(),
            [Mailbox::new(Some("홍길동"), "hong@example.kr")]
        );
        assert_eq!(message.to().len(), 2);
        assert_eq!(message.cc()[0].name.as_deref(), Some("Doe, John"));
        assert_eq!(message.message_id(), Some("<1.2@example.kr>"));
        assert_eq!(
            message.text_body().as_deref(),
            Some("안녕하세요.\n첨부 파일 확인 부탁드립니다.\n")
        );
        assert_eq!(message.attachments(), korean().attachments);
        let pdf = &message.root().children[1];
        assert_eq!(
            pdf.content_type.params.file_name("name").as_deref(),
            Some("회의록 2026.pdf")
        );
    }

    #[test]
    fn plain_message_without_attachments() {
        let mut composition = korean();
        composition.attachments.clear();
        composition.body = "Hello\nworld".into();
        let wire = composition.to_bytes().unwrap();
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.contains("Content-Transfer-Encoding: quoted-printable\r\n"));
        assert!(text.ends_with("\r\n\r\nHello\r\nworld=\r\n"));
        let message = Message::parse(&wire).unwrap();
        assert_eq!(message.text_body().as_deref(), Some("Hello\nworld"));
    }

    #[test]
    fn mostly_korean_body_uses_base64() {
        let mut composition = korean();
        composition.body = "가나다라마바사".repeat(20);
        let text = String::from_utf8(composition.to_bytes().unwrap()).unwrap();
        assert!(text.contains("Content-Transfer-Encoding: base64\r\n\r\n"));
    }

    #[test]
    fn rejects_bad_input() {
        let mut bad_name = korean();
        bad_name.extra_headers = vec![("X-Bad: injected".into(), "v".into())];
        assert!(matches!(
            bad_name.to_bytes(),
            Err(ComposeError::InvalidHeaderName(_))
        ));
        let mut bad_type = korean();
        bad_type.attachments[0].content_type = "pdf".into();
        assert!(matches!(
            bad_type.to_bytes(),
            Err(ComposeError::InvalidContentType(_))
        ));
        let mut bad_id = korean();
        bad_id.message_id = "no at sign".into();
        assert!(matches!(
            bad_id.to_bytes(),
            Err(ComposeError::InvalidMessageId(_))
        ));
        let mut injected = korean();
        injected.extra_headers = vec![("X-Ok".into(), "a\r\nBcc: evil@example.com".into())];
        let wire = injected.to_bytes().unwrap();
        let message = Message::parse(&wire).unwrap();
        assert_eq!(message.headers().get("bcc"), None);
        assert_eq!(
            message
                .headers()
                .get("x-ok")
                .map(encoded_word::decode)
                .as_deref(),
            Some("a\r\nBcc: evil@example.com")
        );
    }

    #[test]
    fn boundary_avoids_content() {
        let parts = [EncodedPart {
            headers: Vec::new(),
            body: b"=_appnet_".to_vec(),
        }];
        let boundary = unique_boundary(&parts);
        assert!(boundary.starts_with("=_appnet_") && boundary.len() > 9);
    }

    fn mailbox() -> impl Strategy<Value = Mailbox> {
        (
            proptest::option::of(any::<String>()),
            "[a-z0-9._%+-]{0,12}[a-z0-9]",
            "[a-z0-9]{1,10}\\.[a-z]{2,4}",
        )
            .prop_map(|(name, local, domain)| Mailbox {
                name,
                address: format!("{local}@{domain}"),
            })
    }

    fn attachment() -> impl Strategy<Value = Attachment> {
        (
            any::<String>(),
            prop_oneof![
                Just("application/octet-stream"),
                Just("image/png"),
                Just("text/plain")
            ],
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(file_name, content_type, bytes)| Attachment {
                file_name,
                content_type: content_type.into(),
                bytes,
            })
    }

    fn without_empty_name(mut mailbox: Mailbox) -> Mailbox {
        mailbox.name = mailbox.name.filter(|n| !n.is_empty());
        mailbox
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn compose_then_parse_round_trips(
            from in mailbox(),
            to in proptest::collection::vec(mailbox(), 1..4),
            subject in any::<String>(),
            body in any::<String>(),
            attachments in proptest::collection::vec(attachment(), 0..3),
            seconds in 0u64..10_000_000_000,
        ) {
            let composition = Composition {
                from, to, cc: Vec::new(), subject, body, attachments,
                date: at(seconds),
                message_id: "x@y.test".into(),
                extra_headers: Vec::new(),
            };
            let wire = composition.to_bytes().unwrap();
            prop_assert!(wire.is_ascii());
            let text = String::from_utf8(wire.clone()).unwrap();
            prop_assert!(text.split("\r\n").all(|line| line.len() <= 998));
            prop_assert!(!text.replace("\r\n", "").contains(['\r', '\n']));

            let message = Message::parse(&wire).unwrap();
            prop_assert_eq!(message.subject(), Some(composition.subject.clone()));
            prop_assert_eq!(message.from(), vec![without_empty_name(composition.from.clone())]);
            let to: Vec<Mailbox> = composition.to.iter().cloned().map(without_empty_name).collect();
            prop_assert_eq!(message.to(), to);
            prop_assert_eq!(message.text_body(), Some(composition.body.replace("\r\n", "\n")));
            prop_assert_eq!(message.attachments(), composition.attachments);
            let date = format_date(at(seconds));
            prop_assert_eq!(message.date(), Some(date.as_str()));
        }
    }
}
