//! What FETCH returns from a message's content (RFC 3501 §7.4.2): ENVELOPE, BODY and
//! BODYSTRUCTURE built from the MIME tree of [`crate::message`], and the octets of
//! `BODY[section]` (§6.4.5) found by the part ranges the parser kept.

use crate::message::{Address, Headers, Message, Part, encoded_word, parse_address_list};

use super::command::{Section, SectionText};
use super::response::{nstring, string};

/// §7.4.2 ENVELOPE of the message whose header is `headers`.
pub fn envelope(out: &mut Vec<u8>, headers: &Headers) {
    out.push(b'(');
    nstring(out, headers.get("date").map(str::as_bytes));
    out.push(b' ');
    nstring(out, headers.get("subject").map(str::as_bytes));
    let from = addresses(headers, "from");
    for name in ["from", "sender", "reply-to", "to", "cc", "bcc"] {
        out.push(b' ');
        let list = match name {
            // §7.4.2: Sender and Reply-To default to From.
            "sender" | "reply-to" if headers.get(name).is_none() => from.clone(),
            _ => addresses(headers, name),
        };
        address_list(out, &list);
    }
    out.push(b' ');
    nstring(out, headers.get("in-reply-to").map(str::as_bytes));
    out.push(b' ');
    nstring(out, headers.get("message-id").map(str::as_bytes));
    out.push(b')');
}

fn addresses(headers: &Headers, name: &str) -> Vec<Address> {
    headers.get_all(name).flat_map(parse_address_list).collect()
}

/// A list of §9 `address` structures, or NIL; groups as RFC 3501 §7.4.2 describes them (a
/// start marker with the group's name and a NIL host, the members, an all-NIL end marker).
fn address_list(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for address in list {
        match address {
            Address::Mailbox(mailbox) => one_address(out, mailbox),
            Address::Group { name, members } => {
                out.extend_from_slice(b"(NIL NIL ");
                string(out, name.as_bytes());
                out.extend_from_slice(b" NIL)");
                for member in members {
                    one_address(out, member);
                }
                out.extend_from_slice(b"(NIL NIL NIL NIL)");
            }
        }
    }
    out.push(b')');
}

fn one_address(out: &mut Vec<u8>, mailbox: &crate::message::Mailbox) {
    out.push(b'(');
    // The parser decoded the display name; clients expect header form, so non-ASCII names go
    // back out as encoded-words (RFC 2047), as they came in.
    let name = mailbox.name.as_deref().filter(|n| !n.is_empty()).map(|n| {
        if n.is_ascii() {
            n.to_string()
        } else {
            encoded_word::encode(n)
        }
    });
    nstring(out, name.as_deref().map(str::as_bytes));
    out.extend_from_slice(b" NIL ");
    let (local, host) = match mailbox.address.rsplit_once('@') {
        Some((local, host)) => (local, host),
        None => (mailbox.address.as_str(), ""),
    };
    string(out, local.as_bytes());
    out.push(b' ');
    string(out, host.as_bytes());
    out.push(b')');
}

/// §7.4.2 BODYSTRUCTURE (`extensible`) or BODY of `part`.
pub fn body_structure(out: &mut Vec<u8>, message: &Message, part: &Part, extensible: bool) {
    out.push(b'(');
    if part.is_multipart() && !part.children.is_empty() {
        for child in &part.children {
            body_structure(out, message, child, extensible);
        }
        out.push(b' ');
        string(
            out,
            part.content_type.subtype.to_ascii_uppercase().as_bytes(),
        );
        if extensible {
            out.push(b' ');
            params(out, &part.content_type.params);
            extension_tail(out, part);
        }
        out.push(b')');
        return;
    }
    let ct = &part.content_type;
    string(out, ct.mime_type.to_ascii_uppercase().as_bytes());
    out.push(b' ');
    string(out, ct.subtype.to_ascii_uppercase().as_bytes());
    out.push(b' ');
    params(out, &ct.params);
    out.push(b' ');
    nstring(out, part.content_id.as_deref().map(str::as_bytes));
    out.push(b' ');
    nstring(
        out,
        part.headers.get("content-description").map(str::as_bytes),
    );
    out.push(b' ');
    string(
        out,
        part.transfer_encoding
            .as_str()
            .to_ascii_uppercase()
            .as_bytes(),
    );
    out.extend_from_slice(format!(" {}", part.body_range.len()).as_bytes());
    let lines = message.line_count(part.body_range.clone());
    if ct.mime_type == "text" {
        out.extend_from_slice(format!(" {lines}").as_bytes());
    } else if part.is_encapsulated_message() {
        let inner = &part.children[0];
        out.push(b' ');
        envelope(out, &inner.headers);
        out.push(b' ');
        body_structure(out, message, inner, extensible);
        out.extend_from_slice(format!(" {lines}").as_bytes());
    }
    if extensible {
        // body-fld-md5: Content-MD5 is obsolete (RFC 6151) and not checked.
        out.push(b' ');
        nstring(out, part.headers.get("content-md5").map(str::as_bytes));
        extension_tail(out, part);
    }
    out.push(b')');
}

/// body-fld-dsp, body-fld-lang and body-fld-loc.
fn extension_tail(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some(disposition) => {
            out.push(b'(');
            string(out, disposition.kind.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            params(out, &disposition.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstring(out, part.headers.get("content-language").map(str::as_bytes));
    out.push(b' ');
    nstring(out, part.headers.get("content-location").map(str::as_bytes));
}

/// §9 `body-fld-param`. Values the parser decoded from RFC 2231 go back out in RFC 2231 form
/// (`"FILENAME*" "utf-8''%ED%95%9C"`): IMAP4rev1 strings are 7-bit, and mail readers decode
/// that form (RFC 2231 §4).
fn params(out: &mut Vec<u8>, params: &crate::message::Params) {
    if params.0.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, param) in params.0.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let name = param.name.to_ascii_uppercase();
        if param.extended && !param.value.is_ascii() {
            string(out, format!("{name}*").as_bytes());
            out.push(b' ');
            string(
                out,
                format!("utf-8''{}", percent_encode(&param.value)).as_bytes(),
            );
        } else {
            string(out, name.as_bytes());
            out.push(b' ');
            string(out, param.value.as_bytes());
        }
    }
    out.push(b')');
}

/// RFC 2231 §7 `extended-other-values`: attribute-chars as they are, other octets `%XX`.
fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The part a section's part path names (§6.4.5): in a message, part 1 of a non-multipart
/// body is the body itself; a message/rfc822 part's numbers refer to its message's parts.
fn find_part<'a>(root: &'a Part, path: &[u32]) -> Option<&'a Part> {
    let mut current = root;
    for &n in path {
        let container = if current.is_encapsulated_message() {
            &current.children[0]
        } else {
            current
        };
        current = if container.is_multipart() && !container.children.is_empty() {
            container.children.get(n.checked_sub(1)? as usize)?
        } else if n == 1 {
            container
        } else {
            return None;
        };
    }
    Some(current)
}

/// The octets of `BODY[section]`, or `None` when the message has no such part.
pub fn section_bytes(message: &Message, section: &Section) -> Option<Vec<u8>> {
    let root = message.root();
    let part = find_part(root, &section.part)?;
    // HEADER, HEADER.FIELDS and TEXT apply to a message: the top level, or the message in a
    // message/rfc822 part.
    let as_message = || -> Option<&Part> {
        if section.part.is_empty() {
            Some(root)
        } else if part.is_encapsulated_message() {
            Some(&part.children[0])
        } else {
            None
        }
    };
    let bytes = match &section.text {
        None if section.part.is_empty() => message.as_bytes().to_vec(),
        None => message.slice(part.body_range.clone()).to_vec(),
        Some(SectionText::Mime) => message.slice(part.header_range.clone()).to_vec(),
        Some(SectionText::Header) => message.slice(as_message()?.header_range.clone()).to_vec(),
        Some(SectionText::Text) => message.slice(as_message()?.body_range.clone()).to_vec(),
        Some(SectionText::Fields { not, names }) => {
            let target = as_message()?;
            let mut out = Vec::new();
            for field in target.headers.fields() {
                let listed = names.iter().any(|n| n.eq_ignore_ascii_case(&field.name));
                if listed != *not {
                    out.extend_from_slice(&field.raw);
                    if !field.raw.ends_with(b"\n") {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            out
        }
    };
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    const SIMPLE: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello\r\nworld\r\n";

    #[test]
    fn envelope_matches_rfc_3501_example() {
        let message = Message::parse(SIMPLE).unwrap();
        let mut out = Vec::new();
        envelope(&mut out, message.headers());
        assert_eq!(
            text(out),
            "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
NIL NIL \"<B27397-0100000@cac.washington.edu>\")"
        );
        let mut out = Vec::new();
        body_structure(&mut out, &message, message.root(), false);
        assert_eq!(
            text(out),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)"
        );
    }

    #[test]
    fn sections_of_a_nested_message() {
        let raw = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nX-A: 1\r\n\r\ninner body\r\n\
--b--\r\n";
        let message = Message::parse(raw).unwrap();
        let get = |part: Vec<u32>, text: Option<SectionText>| {
            section_bytes(&message, &Section { part, text }).map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(get(vec![1], None).unwrap(), "first");
        assert_eq!(
            get(vec![1], Some(SectionText::Mime)).unwrap(),
            "Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(get(vec![2, 1], None).unwrap(), "inner body");
        assert_eq!(
            get(vec![2], Some(SectionText::Header)).unwrap(),
            "Subject: inner\r\nX-A: 1\r\n\r\n"
        );
        assert_eq!(get(vec![2], Some(SectionText::Text)).unwrap(), "inner body");
        assert_eq!(
            get(
                vec![2],
                Some(SectionText::Fields {
                    not: true,
                    names: vec!["subject".into()]
                })
            )
            .unwrap(),
            "X-A: 1\r\n\r\n"
        );
        assert_eq!(
            get(
                vec![],
                Some(SectionText::Fields {
                    not: false,
                    names: vec!["SUBJECT".into()]
                })
            )
            .unwrap(),
            "Subject: outer\r\n\r\n"
        );
        assert_eq!(get(vec![3], None), None);
        assert_eq!(get(vec![1], Some(SectionText::Header)), None);
        assert_eq!(get(vec![], None).unwrap().as_bytes(), raw);
        let mut out = Vec::new();
        body_structure(&mut out, &message, message.root(), true);
        let structure = text(out);
        assert!(structure.starts_with("((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "), "{structure}");
        assert!(
            structure.ends_with(" \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)"),
            "{structure}"
        );
    }
}
