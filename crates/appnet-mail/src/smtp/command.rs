//! SMTP commands: the parser the server runs on every command line and the encoder the client
//! sends with. Grammar from RFC 5321 §4.1.1 (verbs), §4.1.2 (paths, mailboxes, address
//! literals; source routes accepted and ignored), §4.1.3 (address literals), extended by
//! RFC 1870 (SIZE=), RFC 6152 (BODY=8BITMIME), RFC 6531 §3.3 (SMTPUTF8, UTF-8 in addresses),
//! RFC 4954 §4 and §5 (AUTH, AUTH=) and RFC 3207 §4 (STARTTLS).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::reply::Reply;

/// RFC 5321 §4.5.3.1.2: a domain is at most 255 octets; §4.5.3.1 also bounds each label by
/// the DNS limit of 63.
const MAX_DOMAIN: usize = 255;
const MAX_LABEL: usize = 63;
/// RFC 4422 §3.1: a SASL mechanism name is 1 to 20 characters.
const MAX_MECHANISM: usize = 20;

/// One SMTP command, as parsed from a line without its CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 5321 §4.1.1.1: the client's name (a domain or an address literal).
    Helo(String),
    Ehlo(String),
    /// RFC 5321 §4.1.1.2: `from` is the mailbox without brackets, `""` for the null path `<>`.
    Mail {
        from: String,
        params: MailParams,
    },
    /// RFC 5321 §4.1.1.3: `to` is the mailbox without brackets (or a bare `Postmaster`).
    Rcpt {
        to: String,
    },
    Data,
    Rset,
    Noop(Option<String>),
    Quit,
    Help(Option<String>),
    Vrfy(String),
    Expn(String),
    /// RFC 3207 §4.
    StartTls,
    /// RFC 4954 §4: the mechanism in upper case; the initial response exactly as sent (base64,
    /// or "=" for an empty one).
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
}

/// The MAIL parameters this server understands (RFC 5321 §4.1.1.2 `Mail-parameters`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// RFC 1870 §6: the declared message size in octets.
    pub size: Option<u64>,
    /// RFC 6152 §3: BODY=7BIT or BODY=8BITMIME.
    pub body: Option<BodyType>,
    /// RFC 6531 §3.4: the transaction may carry UTF-8 addresses and headers.
    pub smtputf8: bool,
    /// RFC 4954 §5: the AUTH= identity (xtext, kept as sent; `<>` for none).
    pub auth: Option<String>,
}

/// RFC 6152 §3: the body type declared by MAIL BODY=.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    SevenBit,
    EightBitMime,
}

/// A command line that cannot be accepted, each variant naming the rule it broke. Every variant
/// maps to the reply a server sends for it ([`CommandError::reply`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("empty command line")]
    Empty,
    /// RFC 5321 §4.2.4: "500 ... command unrecognized".
    #[error("command not recognized")]
    Unknown,
    /// RFC 5321 §4.1.1: commands are printable text; NUL, bare CR and friends are not.
    #[error("control character in command line")]
    ControlCharacter,
    /// RFC 6531 §3.3 allows UTF-8, nothing else beyond ASCII.
    #[error("command line is not valid UTF-8")]
    NotUtf8,
    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    #[error("line too long")]
    LineTooLong,
    /// The verb is known but its arguments do not match its grammar.
    #[error("syntax: {0}")]
    Syntax(&'static str),
    /// RFC 5321 §4.1.2: the path is not a valid mailbox.
    #[error("bad {} address syntax: {reason}", role(.sender))]
    BadAddress { sender: bool, reason: &'static str },
    /// RFC 5321 §4.1.1.11: a MAIL/RCPT parameter we did not announce.
    #[error("unsupported parameter {0}")]
    UnknownParameter(String),
    /// A known parameter with a value outside its grammar, or given twice.
    #[error("bad parameter: {0}")]
    BadParameter(&'static str),
}

fn role(sender: &bool) -> &'static str {
    if *sender { "sender" } else { "recipient" }
}

impl CommandError {
    /// The reply RFC 5321 §4.2.2/§4.2.4 and RFC 3463 prescribe for this error.
    pub fn reply(&self) -> Reply {
        let text = self.to_string();
        match self {
            Self::Empty | Self::Unknown | Self::ControlCharacter | Self::NotUtf8 => {
                Reply::with_status(500, (5, 5, 2), text)
            }
            // RFC 4954 §4 uses 5.5.6 for an over-long line; we use it for every line.
            Self::LineTooLong => Reply::with_status(500, (5, 5, 6), text),
            Self::Syntax(_) | Self::BadParameter(_) => Reply::with_status(501, (5, 5, 4), text),
            // RFC 3463 §3.2: X.1.7 bad sender's address syntax, X.1.3 bad destination's.
            Self::BadAddress { sender: true, .. } => Reply::with_status(553, (5, 1, 7), text),
            Self::BadAddress { sender: false, .. } => Reply::with_status(553, (5, 1, 3), text),
            Self::UnknownParameter(_) => Reply::with_status(555, (5, 5, 4), text),
        }
    }
}

impl Command {
    /// The line a client sends for this command, without CRLF (RFC 5321 §4.1.1).
    pub fn to_line(&self) -> String {
        match self {
            Self::Helo(name) => format!("HELO {name}"),
            Self::Ehlo(name) => format!("EHLO {name}"),
            Self::Mail { from, params } => {
                let mut line = format!("MAIL FROM:<{from}>");
                write_params(&mut line, params);
                line
            }
            Self::Rcpt { to } => format!("RCPT TO:<{to}>"),
            Self::Data => "DATA".into(),
            Self::Rset => "RSET".into(),
            Self::Noop(arg) => with_optional("NOOP", arg.as_deref()),
            Self::Quit => "QUIT".into(),
            Self::Help(arg) => with_optional("HELP", arg.as_deref()),
            Self::Vrfy(arg) => format!("VRFY {arg}"),
            Self::Expn(arg) => format!("EXPN {arg}"),
            Self::StartTls => "STARTTLS".into(),
            Self::Auth {
                mechanism,
                initial_response,
            } => with_optional(&format!("AUTH {mechanism}"), initial_response.as_deref()),
        }
    }
}

fn with_optional(verb: &str, arg: Option<&str>) -> String {
    match arg {
        Some(arg) => format!("{verb} {arg}"),
        None => verb.to_string(),
    }
}

fn write_params(line: &mut String, params: &MailParams) {
    if let Some(size) = params.size {
        let _ = write!(line, " SIZE={size}");
    }
    match params.body {
        Some(BodyType::SevenBit) => line.push_str(" BODY=7BIT"),
        Some(BodyType::EightBitMime) => line.push_str(" BODY=8BITMIME"),
        None => {}
    }
    if params.smtputf8 {
        line.push_str(" SMTPUTF8");
    }
    if let Some(auth) = &params.auth {
        let _ = write!(line, " AUTH={auth}");
    }
}

/// Parses one command line without its CRLF. Verbs are case-insensitive (RFC 5321 §2.4);
/// trailing blanks are tolerated because common clients send them.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    if line.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(CommandError::ControlCharacter);
    }
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    let line = line.trim_end_matches([' ', '\t']);
    if line.is_empty() {
        return Err(CommandError::Empty);
    }
    let (verb, arg) = match line.split_once(' ') {
        Some((verb, arg)) => (verb, Some(arg)),
        None => (line, None),
    };
    let verb = verb.to_ascii_uppercase();
    match verb.as_str() {
        "HELO" => Ok(Command::Helo(hello_name(arg, "HELO hostname")?)),
        "EHLO" => Ok(Command::Ehlo(hello_name(arg, "EHLO hostname")?)),
        "MAIL" => parse_mail(arg.unwrap_or("")),
        "RCPT" => parse_rcpt(arg.unwrap_or("")),
        "DATA" => no_argument(arg, Command::Data, "DATA"),
        "RSET" => no_argument(arg, Command::Rset, "RSET"),
        "QUIT" => no_argument(arg, Command::Quit, "QUIT"),
        "STARTTLS" => no_argument(arg, Command::StartTls, "STARTTLS"),
        "NOOP" => Ok(Command::Noop(optional(arg))),
        "HELP" => Ok(Command::Help(optional(arg))),
        "VRFY" => required(arg, "VRFY string").map(Command::Vrfy),
        "EXPN" => required(arg, "EXPN string").map(Command::Expn),
        "AUTH" => parse_auth(arg.unwrap_or("")),
        _ => Err(CommandError::Unknown),
    }
}

fn optional(arg: Option<&str>) -> Option<String> {
    arg.map(|a| a.trim_start_matches([' ', '\t']))
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

fn required(arg: Option<&str>, syntax: &'static str) -> Result<String, CommandError> {
    optional(arg).ok_or(CommandError::Syntax(syntax))
}

fn no_argument(
    arg: Option<&str>,
    command: Command,
    syntax: &'static str,
) -> Result<Command, CommandError> {
    match optional(arg) {
        None => Ok(command),
        Some(_) => Err(CommandError::Syntax(syntax)),
    }
}

/// RFC 5321 §4.1.1.1 asks for a domain or address literal, but §4.1.4 says a server must not
/// refuse a message because the name is wrong; clients send NetBIOS names and worse. We take
/// the first word as is.
fn hello_name(arg: Option<&str>, syntax: &'static str) -> Result<String, CommandError> {
    let arg = required(arg, syntax)?;
    match arg.split([' ', '\t']).next() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(CommandError::Syntax(syntax)),
    }
}

/// RFC 5321 §4.1.1.2: `"MAIL FROM:" Reverse-path [SP Mail-parameters]`.
fn parse_mail(arg: &str) -> Result<Command, CommandError> {
    let rest = strip_keyword(arg, "FROM:").ok_or(CommandError::Syntax("MAIL FROM:<address>"))?;
    let (from, rest) = parse_path(rest, PathKind::Reverse)?;
    let params = parse_mail_params(rest)?;
    Ok(Command::Mail { from, params })
}

/// RFC 5321 §4.1.1.3: `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
/// Forward-path ) [SP Rcpt-parameters]`. We announce no RCPT parameters (no DSN).
fn parse_rcpt(arg: &str) -> Result<Command, CommandError> {
    let rest = strip_keyword(arg, "TO:").ok_or(CommandError::Syntax("RCPT TO:<address>"))?;
    let (to, rest) = parse_path(rest, PathKind::Forward)?;
    if let Some((keyword, _)) = parse_params(rest)?.into_iter().next() {
        return Err(CommandError::UnknownParameter(keyword.to_string()));
    }
    Ok(Command::Rcpt { to })
}

/// Case-insensitive `keyword`, then optional spaces: "MAIL FROM: <a@b>" is common enough
/// (and accepted by Postfix) that refusing it would only break clients.
fn strip_keyword<'a>(arg: &'a str, keyword: &str) -> Option<&'a str> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    arg.get(keyword.len()..)
        .map(|rest| rest.trim_start_matches(' '))
}

/// RFC 4954 §4: `"AUTH" SP sasl-mech [SP initial-response]`.
fn parse_auth(arg: &str) -> Result<Command, CommandError> {
    const SYNTAX: &str = "AUTH mechanism [initial-response]";
    let mut words = arg.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(CommandError::Syntax(SYNTAX))?;
    let initial_response = words.next();
    if words.next().is_some() {
        return Err(CommandError::Syntax(SYNTAX));
    }
    let valid_mechanism = mechanism.len() <= MAX_MECHANISM
        && mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_mechanism {
        return Err(CommandError::Syntax(SYNTAX));
    }
    if let Some(response) = initial_response
        && !is_base64_text(response)
    {
        return Err(CommandError::Syntax("initial response is not base64"));
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial_response: initial_response.map(str::to_string),
    })
}

/// The alphabet of RFC 4648 §4 base64; decoding is checked later, where the value is used.
pub(crate) fn is_base64_text(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// RFC 5321 §4.1.2 `Mail-parameters = esmtp-param *(SP esmtp-param)` as understood here.
fn parse_mail_params(rest: &str) -> Result<MailParams, CommandError> {
    let mut params = MailParams::default();
    for (keyword, value) in parse_params(rest)? {
        let keyword = keyword.to_ascii_uppercase();
        match (keyword.as_str(), value) {
            ("SIZE", Some(value)) if params.size.is_none() => {
                params.size = Some(parse_size(value)?);
            }
            ("BODY", Some(value)) if params.body.is_none() => {
                params.body = Some(match value.to_ascii_uppercase().as_str() {
                    "7BIT" => BodyType::SevenBit,
                    "8BITMIME" => BodyType::EightBitMime,
                    _ => return Err(CommandError::BadParameter("BODY=7BIT or BODY=8BITMIME")),
                });
            }
            ("SMTPUTF8", None) if !params.smtputf8 => params.smtputf8 = true,
            ("AUTH", Some(value)) if params.auth.is_none() => {
                params.auth = Some(value.to_string());
            }
            ("SIZE" | "BODY" | "SMTPUTF8" | "AUTH", _) => {
                return Err(CommandError::BadParameter(
                    "repeated or malformed parameter",
                ));
            }
            _ => return Err(CommandError::UnknownParameter(keyword)),
        }
    }
    Ok(params)
}

/// RFC 1870 §6: `size-value = 1*20DIGIT`; a value past u64 is refused rather than wrapped.
fn parse_size(value: &str) -> Result<u64, CommandError> {
    const ERROR: CommandError = CommandError::BadParameter("SIZE=number");
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ERROR);
    }
    value.parse().map_err(|_| ERROR)
}

/// RFC 5321 §4.1.2: `esmtp-param = esmtp-keyword ["=" esmtp-value]`,
/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`,
/// `esmtp-value = 1*(%d33-60 / %d62-126)`, plus UTF-8 per RFC 6531 §3.3.
fn parse_params(rest: &str) -> Result<Vec<(&str, Option<&str>)>, CommandError> {
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(CommandError::Syntax("space expected after the address"));
    }
    let mut params = Vec::new();
    for word in rest.split(' ').filter(|w| !w.is_empty()) {
        let (keyword, value) = match word.split_once('=') {
            Some((keyword, value)) => (keyword, Some(value)),
            None => (word, None),
        };
        let keyword_ok = keyword
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = value.is_none_or(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b >= 0x80 || (33..=126).contains(&b) && b != b'=')
        });
        if !keyword_ok || !value_ok {
            return Err(CommandError::Syntax("malformed parameter"));
        }
        params.push((keyword, value));
    }
    Ok(params)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathKind {
    /// MAIL FROM: `<>` is allowed.
    Reverse,
    /// RCPT TO: `<Postmaster>` without a domain is allowed.
    Forward,
}

/// A cursor over the bytes of a path. Bytes ≥ 0x80 are parts of UTF-8 sequences (the line was
/// checked to be UTF-8), accepted wherever RFC 6531 §3.3 extends the grammar.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        if matched {
            self.at += 1;
        }
        matched
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        self.slice(start)
    }

    /// `start..at` always falls on UTF-8 boundaries: the cursor only stops after an ASCII byte
    /// or at a point where a `take_while` that accepts all bytes ≥ 0x80 stopped.
    fn slice(&self, start: usize) -> &'a str {
        self.text.get(start..self.at).unwrap_or_default()
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.at..).unwrap_or_default()
    }
}

/// RFC 5321 §4.1.2: `Path = "<" [ A-d-l ":" ] Mailbox ">"`, `Reverse-path = Path / "<>"`.
/// Returns the mailbox (`""` for `<>`) and what follows the closing bracket.
fn parse_path(text: &str, kind: PathKind) -> Result<(String, &str), CommandError> {
    let sender = kind == PathKind::Reverse;
    let bad = |reason| CommandError::BadAddress { sender, reason };
    let mut cursor = Cursor { text, at: 0 };
    if !cursor.eat(b'<') {
        return Err(CommandError::Syntax(if sender {
            "MAIL FROM:<address>"
        } else {
            "RCPT TO:<address>"
        }));
    }
    if cursor.peek() == Some(b'@') {
        skip_source_route(&mut cursor).map_err(bad)?;
    } else if sender && cursor.eat(b'>') {
        return Ok((String::new(), cursor.rest()));
    }
    let start = cursor.at;
    parse_local_part(&mut cursor).map_err(bad)?;
    let local = cursor.slice(start);
    if kind == PathKind::Forward && local.eq_ignore_ascii_case("postmaster") && cursor.eat(b'>') {
        return Ok((local.to_string(), cursor.rest()));
    }
    if !cursor.eat(b'@') {
        return Err(bad("missing @domain"));
    }
    parse_domain_or_literal(&mut cursor).map_err(bad)?;
    let mailbox = cursor.slice(start).to_string();
    if !cursor.eat(b'>') {
        return Err(bad("missing '>'"));
    }
    Ok((mailbox, cursor.rest()))
}

/// RFC 5321 §4.1.2 `A-d-l = At-domain *( "," At-domain )` then ":". §3.3 says to accept and
/// ignore source routes; we never route by them.
fn skip_source_route(cursor: &mut Cursor<'_>) -> Result<(), &'static str> {
    loop {
        if !cursor.eat(b'@') {
            return Err("malformed source route");
        }
        parse_domain(cursor)?;
        if cursor.eat(b':') {
            return Ok(());
        }
        if !cursor.eat(b',') {
            return Err("malformed source route");
        }
    }
}

/// `Local-part = Dot-string / Quoted-string`.
fn parse_local_part(cursor: &mut Cursor<'_>) -> Result<(), &'static str> {
    if cursor.eat(b'"') {
        return parse_quoted_rest(cursor);
    }
    loop {
        if cursor.take_while(is_atext).is_empty() {
            return Err("empty or invalid local part");
        }
        if !cursor.eat(b'.') {
            return Ok(());
        }
    }
}

/// RFC 5322 §3.2.3 atext, plus UTF-8 (RFC 6531 §3.3).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// After the opening DQUOTE: `*QcontentSMTP DQUOTE`, `qtextSMTP = %d32-33 / %d35-91 /
/// %d93-126`, `quoted-pairSMTP = "\" %d32-126`.
fn parse_quoted_rest(cursor: &mut Cursor<'_>) -> Result<(), &'static str> {
    loop {
        match cursor.peek() {
            None => return Err("unterminated quoted string"),
            Some(b'"') => {
                cursor.at += 1;
                return Ok(());
            }
            Some(b'\\') => {
                cursor.at += 1;
                match cursor.peek() {
                    Some(32..=126) => cursor.at += 1,
                    _ => return Err("bad quoted pair"),
                }
            }
            Some(b) if (32..=126).contains(&b) || b >= 0x80 => cursor.at += 1,
            Some(_) => return Err("bad character in quoted string"),
        }
    }
}

fn parse_domain_or_literal(cursor: &mut Cursor<'_>) -> Result<(), &'static str> {
    if cursor.eat(b'[') {
        parse_address_literal_rest(cursor)
    } else {
        parse_domain(cursor)
    }
}

/// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]` (no leading or
/// trailing hyphen), U-labels allowed (RFC 6531 §3.3). Label and total lengths per §4.5.3.1.2.
fn parse_domain(cursor: &mut Cursor<'_>) -> Result<(), &'static str> {
    let start = cursor.at;
    loop {
        let label = cursor.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80);
        if label.is_empty() || label.starts_with('-') || label.ends_with('-') {
            return Err("invalid domain");
        }
        if label.len() > MAX_LABEL {
            return Err("domain label longer than 63 octets");
        }
        if !cursor.eat(b'.') {
            break;
        }
    }
    if cursor.at - start > MAX_DOMAIN {
        return Err("domain longer than 255 octets");
    }
    Ok(())
}

/// RFC 5321 §4.1.3: `IPv4-address-literal / IPv6-address-literal / General-address-literal`,
/// after the opening bracket.
fn parse_address_literal_rest(cursor: &mut Cursor<'_>) -> Result<(), &'static str> {
    let inner = cursor.take_while(|b| (33..=126).contains(&b) && !matches!(b, b'[' | b']' | b'\\'));
    if !cursor.eat(b']') {
        return Err("unterminated address literal");
    }
    if inner.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    match inner.split_once(':') {
        Some((tag, address)) if tag.eq_ignore_ascii_case("IPv6") => address
            .parse::<Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "invalid IPv6 address literal"),
        // General-address-literal: `Standardized-tag ":" 1*dcontent`, tag an Ldh-str.
        Some((tag, content))
            if !tag.is_empty()
                && !content.is_empty()
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(())
        }
        _ => Err("invalid address literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(line: &str) -> Result<Command, CommandError> {
        parse_command(line.as_bytes())
    }

    fn mail(from: &str) -> Command {
        Command::Mail {
            from: from.into(),
            params: MailParams::default(),
        }
    }

    fn rcpt(to: &str) -> Command {
        Command::Rcpt { to: to.into() }
    }

    fn code(line: &str) -> (u16, String) {
        let reply = parse(line).unwrap_err().reply();
        (reply.code, reply.enhanced.unwrap().to_string())
    }

    #[test]
    fn every_verb_case_insensitive() {
        assert_eq!(
            parse("helo a.example"),
            Ok(Command::Helo("a.example".into()))
        );
        assert_eq!(
            parse_command(b"HELO \t\xd7\xad:"),
            Ok(Command::Helo("\u{5ed}:".into()))
        );
        assert_eq!(
            parse("EhLo [127.0.0.1]"),
            Ok(Command::Ehlo("[127.0.0.1]".into()))
        );
        assert_eq!(parse("mail from:<a@b.example>"), Ok(mail("a@b.example")));
        assert_eq!(parse("RCPT TO:<a@b.example>"), Ok(rcpt("a@b.example")));
        assert_eq!(parse("data"), Ok(Command::Data));
        assert_eq!(parse("RSET"), Ok(Command::Rset));
        assert_eq!(parse("NOOP"), Ok(Command::Noop(None)));
        assert_eq!(
            parse("NOOP hi there"),
            Ok(Command::Noop(Some("hi there".into())))
        );
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("HELP"), Ok(Command::Help(None)));
        assert_eq!(parse("HELP MAIL"), Ok(Command::Help(Some("MAIL".into()))));
        assert_eq!(parse("VRFY Smith"), Ok(Command::Vrfy("Smith".into())));
        assert_eq!(parse("EXPN list"), Ok(Command::Expn("list".into())));
        assert_eq!(parse("StartTLS"), Ok(Command::StartTls));
        assert_eq!(
            parse("AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some("AGEAYg==".into())
            })
        );
        assert_eq!(
            parse("AUTH LOGIN"),
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial_response: None
            })
        );
    }

    #[test]
    fn paths() {
        assert_eq!(parse("MAIL FROM:<>"), Ok(mail("")));
        assert_eq!(parse("MAIL FROM: <a@b.example>"), Ok(mail("a@b.example")));
        assert_eq!(
            parse("RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>"),
            Ok(rcpt("userc@d.bar.org"))
        );
        assert_eq!(parse("RCPT TO:<Postmaster>"), Ok(rcpt("Postmaster")));
        assert_eq!(
            parse(r#"RCPT TO:<"john doe\"x>"@example.com>"#),
            Ok(rcpt(r#""john doe\"x>"@example.com"#))
        );
        assert_eq!(parse("RCPT TO:<u@[127.0.0.1]>"), Ok(rcpt("u@[127.0.0.1]")));
        assert_eq!(parse("RCPT TO:<u@[IPv6:::1]>"), Ok(rcpt("u@[IPv6:::1]")));
        assert_eq!(parse("RCPT TO:<u@[x-tag:abc]>"), Ok(rcpt("u@[x-tag:abc]")));
        assert_eq!(
            parse("RCPT TO:<пользователь@пример.рф>"),
            Ok(rcpt("пользователь@пример.рф"))
        );
        assert_eq!(
            parse("RCPT TO:<a.b+c@x-y.example>"),
            Ok(rcpt("a.b+c@x-y.example"))
        );
    }

    #[test]
    fn bad_paths() {
        let bad_rcpt = (553, "5.1.3".to_string());
        assert_eq!(code("RCPT TO:<>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a@>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a..b@x>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a@-x.example>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a@x.example"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a@[300.1.1.1]>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<a@[IPv6:zz]>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<\"open@x>"), bad_rcpt);
        assert_eq!(code("RCPT TO:<@a:b@c"), bad_rcpt);
        assert_eq!(code("RCPT TO:<@a b@c>"), bad_rcpt);
        let long = format!("RCPT TO:<a@{}.example>", "x".repeat(64));
        assert_eq!(code(&long), bad_rcpt);
        assert_eq!(code("MAIL FROM:<a b@c>"), (553, "5.1.7".into()));
        assert_eq!(code("MAIL FROM:a@b"), (501, "5.5.4".into()));
        assert_eq!(code("MAIL TO:<a@b>"), (501, "5.5.4".into()));
        assert_eq!(code("RCPT TO:<a@b>x"), (501, "5.5.4".into()));
    }

    #[test]
    fn mail_parameters() {
        assert_eq!(
            parse("MAIL FROM:<a@b> size=1000 BODY=8bitmime SMTPUTF8 AUTH=<>"),
            Ok(Command::Mail {
                from: "a@b".into(),
                params: MailParams {
                    size: Some(1000),
                    body: Some(BodyType::EightBitMime),
                    smtputf8: true,
                    auth: Some("<>".into()),
                }
            })
        );
        assert_eq!(code("MAIL FROM:<a@b> FOO=bar"), (555, "5.5.4".into()));
        assert_eq!(code("MAIL FROM:<a@b> SIZE=x"), (501, "5.5.4".into()));
        assert_eq!(
            code("MAIL FROM:<a@b> SIZE=99999999999999999999"),
            (501, "5.5.4".into())
        );
        assert_eq!(
            code("MAIL FROM:<a@b> BODY=BINARYMIME"),
            (501, "5.5.4".into())
        );
        assert_eq!(code("MAIL FROM:<a@b> SIZE=1 SIZE=2"), (501, "5.5.4".into()));
        assert_eq!(code("MAIL FROM:<a@b> SMTPUTF8=yes"), (501, "5.5.4".into()));
        assert_eq!(code("MAIL FROM:<a@b> =x"), (501, "5.5.4".into()));
        assert_eq!(code("RCPT TO:<a@b> NOTIFY=NEVER"), (555, "5.5.4".into()));
    }

    #[test]
    fn line_level_errors() {
        assert_eq!(code(""), (500, "5.5.2".into()));
        assert_eq!(code("   "), (500, "5.5.2".into()));
        assert_eq!(code("FROB x"), (500, "5.5.2".into()));
        assert_eq!(code("NOOP\0"), (500, "5.5.2".into()));
        assert_eq!(code("NOOP a\rb"), (500, "5.5.2".into()));
        assert_eq!(parse_command(b"HELO \xff").unwrap_err().reply().code, 500);
        assert_eq!(CommandError::LineTooLong.reply().code, 500);
        assert_eq!(code("HELO"), (501, "5.5.4".into()));
        assert_eq!(code("DATA now"), (501, "5.5.4".into()));
        assert_eq!(code("QUIT please"), (501, "5.5.4".into()));
        assert_eq!(code("STARTTLS x"), (501, "5.5.4".into()));
        assert_eq!(code("VRFY"), (501, "5.5.4".into()));
        assert_eq!(code("AUTH"), (501, "5.5.4".into()));
        assert_eq!(code("AUTH PLAIN a b"), (501, "5.5.4".into()));
        assert_eq!(code("AUTH PLAIN !!"), (501, "5.5.4".into()));
        assert_eq!(
            code("AUTH THIS-MECHANISM-IS-TOO-LONG"),
            (501, "5.5.4".into())
        );
    }

    #[test]
    fn tolerates_trailing_blanks() {
        assert_eq!(parse("DATA  "), Ok(Command::Data));
        assert_eq!(parse("MAIL FROM:<a@b> "), Ok(mail("a@b")));
    }

    fn atom() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}"
    }

    fn domain() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", 1..4)
                .prop_map(|labels| labels.join(".")),
            any::<[u8; 4]>().prop_map(|o| format!("[{}]", Ipv4Addr::from(o))),
            any::<[u16; 8]>().prop_map(|s| format!("[IPv6:{}]", Ipv6Addr::from(s))),
            Just("пример.рф".to_string()),
        ]
    }

    fn mailbox() -> impl Strategy<Value = String> {
        let local = prop_oneof![
            proptest::collection::vec(atom(), 1..3).prop_map(|atoms| atoms.join(".")),
            "[ a-zA-Z0-9<>@]{0,8}".prop_map(|s| format!("\"{s}\"")),
            Just("δοκιμή".to_string()),
        ];
        (local, domain()).prop_map(|(local, domain)| format!("{local}@{domain}"))
    }

    fn command() -> impl Strategy<Value = Command> {
        let word = "[!-~]{1,12}";
        let params = (
            proptest::option::of(any::<u64>()),
            proptest::option::of(prop_oneof![
                Just(BodyType::SevenBit),
                Just(BodyType::EightBitMime)
            ]),
            any::<bool>(),
            proptest::option::of(Just("<>".to_string())),
        )
            .prop_map(|(size, body, smtputf8, auth)| MailParams {
                size,
                body,
                smtputf8,
                auth,
            });
        prop_oneof![
            domain().prop_map(Command::Helo),
            domain().prop_map(Command::Ehlo),
            (prop_oneof![Just(String::new()), mailbox()], params)
                .prop_map(|(from, params)| Command::Mail { from, params }),
            mailbox().prop_map(|to| Command::Rcpt { to }),
            Just(Command::Data),
            Just(Command::Rset),
            proptest::option::of(word).prop_map(Command::Noop),
            Just(Command::Quit),
            proptest::option::of(word).prop_map(Command::Help),
            word.prop_map(Command::Vrfy),
            word.prop_map(Command::Expn),
            Just(Command::StartTls),
            (
                "[A-Z0-9_-]{1,20}",
                proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}")
            )
                .prop_map(|(mechanism, initial_response)| Command::Auth {
                    mechanism,
                    initial_response
                }),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(line in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_command(&line);
        }

        #[test]
        fn command_like_text_never_panics(line in "(MAIL FROM:|RCPT TO:|AUTH |EHLO )[<>@\\[\\]:\",. a-zA-Z0-9=\\\\é-]{0,80}") {
            if let Err(error) = parse_command(line.as_bytes()) {
                let _ = error.reply().encode();
            }
        }

        #[test]
        fn to_line_round_trip(command in command()) {
            let line = command.to_line();
            prop_assert_eq!(parse_command(line.as_bytes()), Ok(command));
        }
    }
}
