//! E-mail addresses in header fields: RFC 5322 §3.4 (`address-list`, `mailbox`, `group`,
//! `angle-addr`, `addr-spec`), §3.2 (comments, quoted strings, phrases) and the §4.4 obsolete
//! forms still seen (routes, periods in display names, CFWS around dots), with RFC 2047 §5(3)
//! encoded-words in display names. Also the strict `addr-spec` check an SMTP server applies to
//! `MAIL FROM`/`RCPT TO` (RFC 5321 §4.1.2, §4.5.3.1; RFC 6531 §3.3 UTF-8 local parts).
//!
//! Header parsing never fails: junk between addresses is skipped so one bad entry does not hide
//! the others, as mail readers do.

use std::fmt;

use super::encoded_word;

/// A person or role and their address: `Name <local@domain>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, encoded-words decoded.
    pub name: Option<String>,
    /// `local@domain` (or just `local` when a header gives no domain).
    pub address: String,
}

/// One entry of an address list: a mailbox or a named group of them (§3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Mailbox(Mailbox),
    Group { name: String, members: Vec<Mailbox> },
}

impl Mailbox {
    pub fn new(name: Option<&str>, address: &str) -> Self {
        Self {
            name: name.map(str::to_owned),
            address: address.to_owned(),
        }
    }

    /// The first mailbox in a header value, if any.
    pub fn parse(value: &str) -> Option<Self> {
        parse_mailboxes(value).into_iter().next()
    }

    /// The mailbox as written in a header: the name as atoms, a quoted string or encoded-words,
    /// whichever keeps it intact and 7-bit (the address itself is written as given).
    pub fn to_header(&self) -> String {
        match self.name.as_deref() {
            None | Some("") => self.address.clone(),
            Some(name) => format!("{} <{}>", format_phrase(name), self.address),
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header())
    }
}

/// Writes a display name so that parsing it back gives exactly `name`.
fn format_phrase(name: &str) -> String {
    if encoded_word::needs_encoding(name) {
        return encoded_word::encode(name);
    }
    let atoms_only = name.bytes().all(|b| b == b' ' || is_atext(b)) && !name.contains("  ");
    if atoms_only {
        return name.to_owned();
    }
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// §3.2.3 `atext`.
fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte)
}

/// Every address in a header value (`To`, `Cc`, `From` …), groups kept.
pub fn parse_address_list(value: &str) -> Vec<Address> {
    let tokens = tokenize(value.as_bytes());
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
    };
    parser.address_list()
}

/// Every mailbox in a header value, group members included, in order.
pub fn parse_mailboxes(value: &str) -> Vec<Mailbox> {
    parse_address_list(value)
        .into_iter()
        .flat_map(|address| match address {
            Address::Mailbox(mailbox) => vec![mailbox],
            Address::Group { members, .. } => members,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// An atom, an encoded-word or a domain literal.
    Atom,
    Quoted,
    Comment,
    Special(u8),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    text: String,
    /// White space (or a comment) came before it; display names keep one space there.
    spaced: bool,
}

/// §3.2: splits a header value into atoms, quoted strings, comments and specials.
fn tokenize(bytes: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut spaced = false;
    while let Some(&byte) = bytes.get(pos) {
        let (kind, text, next) = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                spaced = true;
                pos += 1;
                continue;
            }
            b'(' => {
                let (text, next) = comment(bytes, pos);
                (Kind::Comment, text, next)
            }
            b'"' => {
                let (text, next) = quoted(bytes, pos);
                (Kind::Quoted, text, next)
            }
            b'[' => {
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| b == b']')
                    .map_or(bytes.len(), |i| pos + i + 1);
                (Kind::Atom, lossy(&bytes[pos..end]), end)
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' | b')' | b'\\' | b']' => {
                (Kind::Special(byte), String::new(), pos + 1)
            }
            _ => {
                let end = atom_end(bytes, pos);
                (Kind::Atom, lossy(&bytes[pos..end]), end)
            }
        };
        let is_comment = kind == Kind::Comment;
        tokens.push(Token { kind, text, spaced });
        // A comment separates like white space does.
        spaced = is_comment;
        pos = next;
    }
    tokens
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An atom runs to the next special or white space; an encoded-word is kept whole even if its
/// encoded text holds a `.` (common in Q-encoded names, though §5(3) forbids it).
fn atom_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start;
    while let Some(&byte) = bytes.get(pos) {
        if byte == b'='
            && bytes.get(pos + 1) == Some(&b'?')
            && let Some(len) = encoded_word::word_len(&bytes[pos..])
        {
            pos += len;
            continue;
        }
        if byte.is_ascii_whitespace() || b"()<>@,;:\\\".[]".contains(&byte) {
            break;
        }
        pos += 1;
    }
    pos.max(start + 1)
}

/// §3.2.2: a comment, nesting counted rather than recursed; returns its text and the end.
fn comment(bytes: &[u8], start: usize) -> (String, usize) {
    let mut depth = 0usize;
    let mut text = Vec::new();
    let mut pos = start;
    while let Some(&byte) = bytes.get(pos) {
        pos += 1;
        match byte {
            b'\\' => {
                if let Some(&escaped) = bytes.get(pos) {
                    text.push(escaped);
                    pos += 1;
                }
                continue;
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            break;
        }
        let outer_paren = depth == 1 && byte == b'(';
        if !outer_paren {
            text.push(byte);
        }
    }
    (lossy(&text), pos)
}

/// §3.2.4: a quoted string's content, escapes removed and folds unfolded.
fn quoted(bytes: &[u8], start: usize) -> (String, usize) {
    let mut text = Vec::new();
    let mut pos = start + 1;
    while let Some(&byte) = bytes.get(pos) {
        pos += 1;
        match byte {
            b'"' => break,
            b'\\' => {
                if let Some(&escaped) = bytes.get(pos) {
                    text.push(escaped);
                    pos += 1;
                }
            }
            b'\r' | b'\n' => {}
            other => text.push(other),
        }
    }
    (lossy(&text), pos)
}

/// Cursor over the tokens of one header value.
struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn at_special(&self, special: u8) -> bool {
        self.peek() == Some(&Kind::Special(special))
    }

    fn address_list(&mut self) -> Vec<Address> {
        let mut out = Vec::new();
        while self.pos < self.tokens.len() {
            let before = self.pos;
            let address = self.address();
            // A group already ended at its `;`; anything else skips junk up to the next comma.
            if !matches!(address, Some(Address::Group { .. })) {
                self.skip_to_separator();
            }
            out.extend(address);
            self.pos = self.pos.max(before + 1);
        }
        out
    }

    /// §3.4 `address = mailbox / group`.
    fn address(&mut self) -> Option<Address> {
        let start = self.pos;
        let phrase = self.phrase_tokens();
        if self.at_special(b':') {
            self.pos += 1;
            let name = decode_phrase(phrase);
            let members = self.group_members();
            return Some(Address::Group { name, members });
        }
        self.pos = start;
        self.mailbox().map(Address::Mailbox)
    }

    /// §3.4 `group-list`, up to the closing `;` (or the end, when it is missing).
    fn group_members(&mut self) -> Vec<Mailbox> {
        let mut members = Vec::new();
        while self.pos < self.tokens.len() && !self.at_special(b';') {
            let before = self.pos;
            if let Some(mailbox) = self.mailbox() {
                members.push(mailbox);
            }
            self.skip_to_separator();
            if self.at_special(b',') || self.pos == before {
                self.pos += 1;
            }
        }
        self.pos += usize::from(self.at_special(b';'));
        members
    }

    /// §3.4 `mailbox = name-addr / addr-spec`.
    fn mailbox(&mut self) -> Option<Mailbox> {
        let start = self.pos;
        let phrase = self.phrase_tokens();
        match self.peek() {
            Some(Kind::Special(b'<')) => {
                self.pos += 1;
                let address = self.angle_addr()?;
                let name = Some(decode_phrase(phrase)).filter(|n| !n.is_empty());
                Some(Mailbox { name, address })
            }
            Some(Kind::Special(b'@')) => {
                self.pos = start;
                self.bare_addr_spec()
            }
            _ => single_word_address(phrase),
        }
    }

    /// Words of a display name (or of a local part): atoms, quoted strings, dots, comments.
    fn phrase_tokens(&mut self) -> &'a [Token] {
        let tokens = self.tokens;
        let start = self.pos;
        while let Some(kind) = self.peek() {
            match kind {
                Kind::Atom | Kind::Quoted | Kind::Comment | Kind::Special(b'.') => self.pos += 1,
                _ => break,
            }
        }
        tokens.get(start..self.pos).unwrap_or_default()
    }

    /// §3.4 `angle-addr`, after the `<`; an obsolete route (§4.4 `obs-route`) is dropped.
    fn angle_addr(&mut self) -> Option<String> {
        let start = self.pos;
        let rest = self.tokens.get(start..).unwrap_or_default();
        // Without a `>`, the address ends at the next separator instead of eating the list. A
        // comma only counts outside an obsolete route (`<@a,@b:user@c>`). Stopping at `<` and
        // `;` too keeps each token scanned by at most one angle-addr, even for `<,<,<,…`.
        let is_route = rest.first().is_some_and(|t| t.kind == Kind::Special(b'@'));
        let end = rest
            .iter()
            .position(|t| match t.kind {
                Kind::Special(b'>' | b'<' | b';') => true,
                Kind::Special(b',') => !is_route,
                _ => false,
            })
            .unwrap_or(rest.len());
        self.pos = start + end;
        let inside = self.tokens.get(start..self.pos).unwrap_or_default();
        self.pos += usize::from(self.at_special(b'>'));
        let after_route = inside
            .iter()
            .rposition(|t| t.kind == Kind::Special(b':'))
            .map_or(inside, |colon| &inside[colon + 1..]);
        let address = addr_spec_text(after_route);
        (!address.is_empty()).then_some(address)
    }

    /// `local@domain` without angle brackets; a trailing comment is taken as the name, the way
    /// `jdoe@example.org (John Doe)` was once written.
    fn bare_addr_spec(&mut self) -> Option<Mailbox> {
        let start = self.pos;
        while let Some(kind) = self.peek() {
            match kind {
                Kind::Atom | Kind::Quoted | Kind::Comment | Kind::Special(b'.' | b'@') => {
                    self.pos += 1
                }
                _ => break,
            }
        }
        let tokens = self.tokens.get(start..self.pos).unwrap_or_default();
        let address = addr_spec_text(tokens);
        let name = tokens
            .iter()
            .rev()
            .find(|t| t.kind == Kind::Comment)
            .map(|t| encoded_word::decode(t.text.trim()))
            .filter(|n| !n.is_empty());
        (!address.is_empty()).then_some(Mailbox { name, address })
    }

    /// Lenient recovery: skips whatever is left of an entry, up to the next `,` or `;`.
    fn skip_to_separator(&mut self) {
        while let Some(kind) = self.peek() {
            if matches!(kind, Kind::Special(b',' | b';')) {
                return;
            }
            self.pos += 1;
        }
    }
}

/// A lone word such as `postmaster` stands for an address without a domain.
fn single_word_address(phrase: &[Token]) -> Option<Mailbox> {
    let words: Vec<&Token> = phrase.iter().filter(|t| t.kind != Kind::Comment).collect();
    match words.as_slice() {
        [word] if word.kind == Kind::Atom => Some(Mailbox {
            name: None,
            address: word.text.clone(),
        }),
        _ => None,
    }
}

/// A display name: words joined by one space where the input had space, then encoded-words
/// decoded (the space between two encoded-words disappears, §6.2).
fn decode_phrase(tokens: &[Token]) -> String {
    let mut raw = String::new();
    for token in tokens {
        let text = match token.kind {
            Kind::Atom | Kind::Quoted => token.text.as_str(),
            Kind::Special(b'.') => ".",
            _ => continue,
        };
        if token.spaced && !raw.is_empty() {
            raw.push(' ');
        }
        raw.push_str(text);
    }
    encoded_word::decode(&raw)
}

/// §3.4.1 addr-spec text from tokens: comments and white space dropped (§4.4 allows CFWS around
/// the dots), a quoted local part kept quoted unless it is a plain dot-atom.
fn addr_spec_text(tokens: &[Token]) -> String {
    let mut out = String::new();
    for token in tokens {
        match (&token.kind, token.text.as_str()) {
            (Kind::Atom, text) => out.push_str(text),
            (Kind::Quoted, text) if is_dot_atom(text) => out.push_str(text),
            (Kind::Quoted, text) => out.push_str(&quote_local(text)),
            (Kind::Special(b'.'), _) => out.push('.'),
            (Kind::Special(b'@'), _) => out.push('@'),
            _ => {}
        }
    }
    out
}

fn quote_local(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// §3.2.3 dot-atom-text, with RFC 6532 §3.2 UTF-8 allowed in atext.
fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(|b| b >= 0x80 || is_atext(b)))
}

/// Why a string is not an acceptable `local@domain` for SMTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrSpecError {
    #[error("missing '@'")]
    MissingAt,
    #[error("empty local part")]
    EmptyLocalPart,
    #[error("local part is not a dot-atom or quoted string")]
    InvalidLocalPart,
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    #[error("empty domain")]
    EmptyDomain,
    #[error("domain is not a host name or address literal")]
    InvalidDomain,
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    #[error("address longer than 254 octets")]
    TooLong,
}

/// RFC 5321 §4.5.3.1 size limits.
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;
const MAX_ADDRESS: usize = 254;

/// Strict RFC 5321 §4.1.2 `Mailbox` check (`Local-part "@" ( Domain / address-literal )`),
/// accepting UTF-8 in the local part and domain labels as RFC 6531 §3.3 does for SMTPUTF8.
pub fn validate_addr_spec(address: &str) -> Result<(), AddrSpecError> {
    let (local, domain) = address.rsplit_once('@').ok_or(AddrSpecError::MissingAt)?;
    if address.len() > MAX_ADDRESS {
        return Err(AddrSpecError::TooLong);
    }
    validate_local(local)?;
    validate_domain(domain)
}

fn validate_local(local: &str) -> Result<(), AddrSpecError> {
    if local.is_empty() {
        return Err(AddrSpecError::EmptyLocalPart);
    }
    if local.len() > MAX_LOCAL {
        return Err(AddrSpecError::LocalPartTooLong);
    }
    let valid = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(content) => is_quoted_content(content),
        None => is_dot_atom(local),
    };
    valid.then_some(()).ok_or(AddrSpecError::InvalidLocalPart)
}

/// RFC 5321 §4.1.2 `QcontentSMTP`: printable ASCII (or UTF-8), `"` and `\` only escaped.
fn is_quoted_content(content: &str) -> bool {
    let mut escaped = false;
    for byte in content.bytes() {
        let ok = match (escaped, byte) {
            (true, b' '..=b'~') => {
                escaped = false;
                true
            }
            (true, _) => false,
            (false, b'\\') => {
                escaped = true;
                true
            }
            (false, b'"') => false,
            (false, b) => b == b' ' || b.is_ascii_graphic() || b >= 0x80,
        };
        if !ok {
            return false;
        }
    }
    !escaped
}

fn validate_domain(domain: &str) -> Result<(), AddrSpecError> {
    if domain.is_empty() {
        return Err(AddrSpecError::EmptyDomain);
    }
    if domain.len() > MAX_DOMAIN {
        return Err(AddrSpecError::DomainTooLong);
    }
    let valid = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => is_address_literal(literal),
        None => domain.split('.').all(is_label),
    };
    valid.then_some(()).ok_or(AddrSpecError::InvalidDomain)
}

/// RFC 5321 §4.1.3: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
fn is_address_literal(literal: &str) -> bool {
    match literal.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("ipv6:") => {
            literal[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => literal.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// RFC 5321 §4.1.2 `sub-domain` (letters, digits, inner hyphens), or a UTF-8 U-label.
fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mb(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox::new(name, address)
    }

    /// RFC 5322 Appendix A.1.1 and A.1.2.
    #[test]
    fn appendix_a1_addressing() {
        assert_eq!(
            parse_mailboxes("John Doe <jdoe@machine.example>"),
            [mb(Some("John Doe"), "jdoe@machine.example")]
        );
        assert_eq!(
            parse_mailboxes("\"Joe Q. Public\" <john.q.public@example.com>"),
            [mb(Some("Joe Q. Public"), "john.q.public@example.com")]
        );
        assert_eq!(
            parse_mailboxes("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            [
                mb(Some("Mary Smith"), "mary@x.test"),
                mb(None, "jdoe@example.org"),
                mb(Some("Who?"), "one@y.test"),
            ]
        );
        assert_eq!(
            parse_mailboxes(
                "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"
            ),
            [
                mb(None, "boss@nil.test"),
                mb(Some("Giant; \"Big\" Box"), "sysservices@example.net"),
            ]
        );
    }

    /// RFC 5322 Appendix A.1.3: groups.
    #[test]
    fn appendix_a1_3_groups() {
        let list =
            parse_address_list("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;");
        assert_eq!(
            list,
            [Address::Group {
                name: "A Group".into(),
                members: vec![
                    mb(Some("Ed Jones"), "c@a.test"),
                    mb(None, "joe@where.test"),
                    mb(Some("John"), "jdoe@one.test"),
                ],
            }]
        );
        assert_eq!(
            parse_address_list("Undisclosed recipients:;"),
            [Address::Group {
                name: "Undisclosed recipients".into(),
                members: vec![],
            }]
        );
        let after = parse_mailboxes("g: a@b.test; c@d.test");
        assert_eq!(after, [mb(None, "a@b.test"), mb(None, "c@d.test")]);
    }

    /// RFC 5322 Appendix A.5: white space, comments, and other oddities.
    #[test]
    fn appendix_a5_comments() {
        assert_eq!(
            parse_mailboxes("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            [mb(Some("Pete"), "pete@silly.test")]
        );
        let list = parse_address_list(
            "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         \
             joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
        );
        assert_eq!(
            list,
            [Address::Group {
                name: "A Group".into(),
                members: vec![
                    mb(Some("Chris Jones"), "c@public.example"),
                    mb(None, "joe@example.org"),
                    mb(Some("John"), "jdoe@one.test"),
                ],
            }]
        );
    }

    /// RFC 5322 Appendix A.6: obsolete forms.
    #[test]
    fn appendix_a6_obsolete() {
        assert_eq!(
            parse_mailboxes("Joe Q. Public <john.q.public@example.com>"),
            [mb(Some("Joe Q. Public"), "john.q.public@example.com")]
        );
        assert_eq!(
            parse_mailboxes("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example"),
            [
                mb(Some("Mary Smith"), "mary@example.net"),
                mb(None, "jdoe@test.example")
            ]
        );
        assert_eq!(
            parse_mailboxes("John Doe <jdoe@machine(comment).  example>"),
            [mb(Some("John Doe"), "jdoe@machine.example")]
        );
    }

    #[test]
    fn encoded_display_names() {
        assert_eq!(
            parse_mailboxes("=?UTF-8?B?7ZmN6ri464+Z?= <hong@example.kr>"),
            [mb(Some("홍길동"), "hong@example.kr")]
        );
        let (euc, _, _) = encoding_rs::EUC_KR.encode("김철수");
        let q: String = euc.iter().map(|b| format!("={b:02X}")).collect();
        assert_eq!(
            parse_mailboxes(&format!("=?ks_c_5601-1987?Q?{q}?= <kim@example.kr>")),
            [mb(Some("김철수"), "kim@example.kr")]
        );
        assert_eq!(
            parse_mailboxes("\"=?utf-8?Q?J=C3=BCrgen?=\" <j@x.test>"),
            [mb(Some("Jürgen"), "j@x.test")]
        );
        assert_eq!(
            parse_mailboxes("=?utf-8?Q?John_Q._Public?= <j@x.test>"),
            [mb(Some("John Q. Public"), "j@x.test")]
        );
        assert_eq!(
            parse_mailboxes("jdoe@example.org (John Doe)"),
            [mb(Some("John Doe"), "jdoe@example.org")]
        );
    }

    #[test]
    fn junk_is_skipped() {
        assert_eq!(
            parse_mailboxes(">>, <a@b.test, \"unterminated, x@y.test"),
            [mb(None, "a@b.test")]
        );
        assert_eq!(parse_mailboxes("postmaster"), [mb(None, "postmaster")]);
        assert_eq!(parse_mailboxes(""), []);
        assert_eq!(parse_mailboxes("((((("), []);
        assert_eq!(
            parse_mailboxes("\"john doe\"@example.com, \"plain\"@example.com"),
            [
                mb(None, "\"john doe\"@example.com"),
                mb(None, "plain@example.com")
            ]
        );
    }

    #[test]
    fn formats_mailboxes() {
        assert_eq!(mb(None, "a@b.test").to_header(), "a@b.test");
        assert_eq!(
            mb(Some("John Doe"), "j@x.test").to_header(),
            "John Doe <j@x.test>"
        );
        assert_eq!(
            mb(Some("Doe, John"), "j@x.test").to_header(),
            "\"Doe, John\" <j@x.test>"
        );
        assert_eq!(
            mb(Some("홍길동"), "hong@example.kr").to_header(),
            "=?utf-8?B?7ZmN6ri464+Z?= <hong@example.kr>"
        );
        assert_eq!(mb(Some(""), "a@b.test").to_string(), "a@b.test");
    }

    #[test]
    fn strict_addr_spec() {
        for ok in [
            "user@example.com",
            "first.last+tag@sub.example.co.kr",
            "\"john doe\"@example.com",
            "\"a\\\"b\"@example.com",
            "사용자@example.kr",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
            "user@xn--3e0b707e.kr",
            "user@한국.kr",
        ] {
            assert_eq!(validate_addr_spec(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("user", AddrSpecError::MissingAt),
            ("@example.com", AddrSpecError::EmptyLocalPart),
            ("user@", AddrSpecError::EmptyDomain),
            ("a..b@example.com", AddrSpecError::InvalidLocalPart),
            (".a@example.com", AddrSpecError::InvalidLocalPart),
            ("a b@example.com", AddrSpecError::InvalidLocalPart),
            ("\"a\"b\"@example.com", AddrSpecError::InvalidLocalPart),
            ("user@-bad.com", AddrSpecError::InvalidDomain),
            ("user@bad..com", AddrSpecError::InvalidDomain),
            ("user@bad_.com", AddrSpecError::InvalidDomain),
            ("user@[300.1.1.1]", AddrSpecError::InvalidDomain),
            ("user@example.com.", AddrSpecError::InvalidDomain),
        ];
        for (input, error) in bad {
            assert_eq!(validate_addr_spec(input), Err(error), "{input}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(
            validate_addr_spec(&long_local),
            Err(AddrSpecError::LocalPartTooLong)
        );
        let long = format!("a@{}.com", "b.".repeat(130));
        assert!(validate_addr_spec(&long).is_err());
    }

    /// Inputs shaped to make a naive parser rescan the rest of the list at every token.
    #[test]
    fn pathological_lists_stay_fast() {
        let started = std::time::Instant::now();
        for unit in [
            "<,", "<", "a<", "<@,", "=?a?q?", "((", "\"", "g:", "a@", "@<",
        ] {
            let value = unit.repeat(60_000 / unit.len());
            let _ = parse_address_list(&value);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    proptest! {
        #[test]
        fn formatted_mailboxes_parse_back(
            name in proptest::option::of(any::<String>()),
            local in "[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9_-]{1,8}){0,2}",
            domain in "[a-z0-9]{1,10}(\\.[a-z]{2,5}){1,2}",
        ) {
            let address = format!("{local}@{domain}");
            let mailbox = Mailbox { name: name.clone(), address: address.clone() };
            let header = mailbox.to_header();
            prop_assert!(header.is_ascii());
            let parsed = parse_mailboxes(&format!("{header}, x@y.test"));
            let expected = Mailbox { name: name.filter(|n| !n.is_empty()), address };
            prop_assert_eq!(parsed, vec![expected, mb(None, "x@y.test")]);
        }

        #[test]
        fn any_text_parses_without_panic(value in "[a-z@<>,;:.()\"\\\\ =?\u{e9}]{0,100}") {
            let _ = parse_address_list(&value);
            let _ = validate_addr_spec(&value);
        }
    }
}
