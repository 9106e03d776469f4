//! IMAP command parsing (RFC 3501 §6, grammar in §9; LITERAL+ from RFC 7888; UIDPLUS, MOVE,
//! IDLE, NAMESPACE, ID, ENABLE, UNSELECT from their RFCs).
//!
//! [`parse_command`] reads one complete command: its lines with every literal's octets already
//! in place (the session's framer collects them, checking sizes before anything is read). The
//! parser is a cursor over those bytes: every length is checked before use, nesting is capped,
//! and no allocation is sized by a number taken from the input.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::Flag;

use super::date::{days_from_civil, month_from_name};

/// Parenthesised search keys and fetch lists nest at most this deep.
pub const MAX_DEPTH: usize = 32;

/// Why a command could not be read; answered with a tagged (or untagged) BAD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("missing or invalid tag")]
    Tag,
    #[error("unknown command {0}")]
    UnknownCommand(String),
    #[error("expected {0}")]
    Expected(&'static str),
    #[error("unexpected characters after the command")]
    Trailing,
    #[error("invalid sequence set")]
    SequenceSet,
    #[error("invalid date")]
    Date,
    #[error("invalid flag {0}")]
    Flag(String),
    #[error("unknown search key {0}")]
    SearchKey(String),
    #[error("unknown fetch attribute {0}")]
    FetchAttribute(String),
    #[error("unknown status item {0}")]
    StatusItem(String),
    #[error("nested more than {MAX_DEPTH} levels")]
    TooDeep,
}

/// A parse failure with the tag, when one could be read (for a tagged BAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub tag: Option<String>,
    pub error: ParseError,
}

/// One client command: its tag and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub kind: CommandKind,
}

/// RFC 3501 §6 and the extensions' commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Capability,
    Noop,
    Logout,
    StartTls,
    Login {
        user: String,
        password: String,
    },
    /// `initial` is the SASL-IR initial response (RFC 4959), base64 or `=`.
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    Select {
        mailbox: String,
        read_only: bool,
    },
    Create {
        mailbox: String,
    },
    Delete {
        mailbox: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Subscribe {
        mailbox: String,
        on: bool,
    },
    List {
        reference: String,
        pattern: String,
        subscribed_only: bool,
    },
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: String,
        flags: Vec<Flag>,
        date: Option<SystemTime>,
        message: Vec<u8>,
    },
    Check,
    Close,
    Unselect,
    /// EXPUNGE, or UID EXPUNGE with its set (RFC 4315 §2.1).
    Expunge {
        uids: Option<SequenceSet>,
    },
    Search {
        uid: bool,
        charset: Option<String>,
        key: SearchKey,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        items: Vec<FetchAttr>,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<Flag>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
        /// MOVE (RFC 6851) rather than COPY.
        remove: bool,
    },
    Idle,
    Namespace,
    /// RFC 2971: the client's fields, or NIL.
    Id(Vec<(String, Option<String>)>),
    Enable(Vec<String>),
}

impl CommandKind {
    /// The command's name as a client would write it (for messages and traces).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capability => "CAPABILITY",
            Self::Noop => "NOOP",
            Self::Logout => "LOGOUT",
            Self::StartTls => "STARTTLS",
            Self::Login { .. } => "LOGIN",
            Self::Authenticate { .. } => "AUTHENTICATE",
            Self::Select {
                read_only: false, ..
            } => "SELECT",
            Self::Select { .. } => "EXAMINE",
            Self::Create { .. } => "CREATE",
            Self::Delete { .. } => "DELETE",
            Self::Rename { .. } => "RENAME",
            Self::Subscribe { on: true, .. } => "SUBSCRIBE",
            Self::Subscribe { .. } => "UNSUBSCRIBE",
            Self::List {
                subscribed_only: false,
                ..
            } => "LIST",
            Self::List { .. } => "LSUB",
            Self::Status { .. } => "STATUS",
            Self::Append { .. } => "APPEND",
            Self::Check => "CHECK",
            Self::Close => "CLOSE",
            Self::Unselect => "UNSELECT",
            Self::Expunge { .. } => "EXPUNGE",
            Self::Search { .. } => "SEARCH",
            Self::Fetch { .. } => "FETCH",
            Self::Store { .. } => "STORE",
            Self::Copy { remove: false, .. } => "COPY",
            Self::Copy { .. } => "MOVE",
            Self::Idle => "IDLE",
            Self::Namespace => "NAMESPACE",
            Self::Id(_) => "ID",
            Self::Enable(_) => "ENABLE",
        }
    }
}

/// RFC 3501 §6.3.10 status data items (and IMAP4rev2's DELETED, RFC 9051 §6.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
}

impl StatusItem {
    pub fn name(self) -> &'static str {
        match self {
            Self::Messages => "MESSAGES",
            Self::Recent => "RECENT",
            Self::UidNext => "UIDNEXT",
            Self::UidValidity => "UIDVALIDITY",
            Self::Unseen => "UNSEEN",
            Self::Deleted => "DELETED",
        }
    }
}

/// STORE's FLAGS, +FLAGS, -FLAGS (§6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// One end of a sequence range: a number or `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    Value(u32),
    Largest,
}

/// §9 `sequence-set`: ranges as written, resolved later against sequence numbers or UIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(SeqNumber, SeqNumber)>);

impl SequenceSet {
    /// Whether `n` is in the set, `largest` standing for `*`. A range may be written either
    /// way round (`4:2` is `2:4`, §9).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let value = |s: SeqNumber| match s {
            SeqNumber::Value(v) => v,
            SeqNumber::Largest => largest,
        };
        self.0.iter().any(|&(a, b)| {
            let (a, b) = (value(a), value(b));
            a.min(b) <= n && n <= a.max(b)
        })
    }
}

/// RFC 3501 §6.4.4 search keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    And(Vec<SearchKey>),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    Sequence(SequenceSet),
    Uid(SequenceSet),
    /// A flag that must be set (`ANSWERED`, `KEYWORD x` …) or clear (`UNSEEN` …).
    Flag(Flag, bool),
    Recent,
    New,
    Old,
    /// BEFORE / ON / SINCE against INTERNALDATE, in days since 1970-01-01.
    Before(i64),
    On(i64),
    Since(i64),
    /// SENTBEFORE / SENTON / SENTSINCE against the Date header.
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u64),
    Smaller(u64),
    /// A header field (lower-cased name) containing the string; empty string = has the field.
    Header(String, String),
    Body(String),
    Text(String),
}

/// §6.4.5 fetch attributes (macros expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    /// BODY: BODYSTRUCTURE without extension data.
    Body,
    BodyStructure,
    Uid,
    /// `BODY[section]<origin.count>` or `BODY.PEEK[…]`.
    Section {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
}

/// §6.4.5 `section`: a part path and what of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// HEADER.FIELDS (names) or HEADER.FIELDS.NOT (names).
    Fields {
        not: bool,
        names: Vec<String>,
    },
    Text,
    Mime,
}

impl Section {
    /// The section as written in a FETCH response, e.g. `1.2.HEADER.FIELDS (SUBJECT)`.
    pub fn spec(&self) -> String {
        let mut out: Vec<String> = self.part.iter().map(u32::to_string).collect();
        match &self.text {
            None => {}
            Some(SectionText::Header) => out.push("HEADER".into()),
            Some(SectionText::Text) => out.push("TEXT".into()),
            Some(SectionText::Mime) => out.push("MIME".into()),
            Some(SectionText::Fields { not, names }) => {
                let quoted: Vec<String> = names.iter().map(|n| quote_field(n)).collect();
                out.push(format!(
                    "HEADER.FIELDS{} ({})",
                    if *not { ".NOT" } else { "" },
                    quoted.join(" ")
                ));
            }
        }
        out.join(".")
    }
}

/// A header field name in a section spec: bare when it is an atom, quoted otherwise.
fn quote_field(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(is_atom_char) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Parses one complete command (lines and literal octets, the final CRLF included or not).
pub fn parse_command(input: &[u8]) -> Result<Command, CommandError> {
    let input = input
        .strip_suffix(b"\r\n")
        .or_else(|| input.strip_suffix(b"\n"))
        .unwrap_or(input);
    let mut p = Parser::new(input);
    let tag = p.tag().map_err(|error| CommandError { tag: None, error })?;
    let fail = |error| CommandError {
        tag: Some(tag.clone()),
        error,
    };
    p.sp().map_err(fail)?;
    let kind = p.command_kind().map_err(fail)?;
    if !p.at_end() {
        return Err(fail(ParseError::Trailing));
    }
    Ok(Command { tag, kind })
}

/// The tag of a command line, if one can be read (for answering commands that cannot be).
pub fn peek_tag(line: &[u8]) -> Option<String> {
    Parser::new(line).tag().ok()
}

/// The command name of a line (the second word), upper-cased.
pub fn peek_name(line: &[u8]) -> Option<String> {
    let mut p = Parser::new(line);
    p.tag().ok()?;
    p.sp().ok()?;
    let name = p.atom().ok()?;
    Some(name.to_ascii_uppercase())
}

/// §9 ATOM-CHAR: any CHAR except atom-specials.
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

/// §9 ASTRING-CHAR: ATOM-CHAR or `]`.
fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// A byte cursor over one command.
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

type Result<T, E = ParseError> = std::result::Result<T, E>;

impl<'a> Parser<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            depth: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(ParseError::Expected(what))
        }
    }

    fn sp(&mut self) -> Result<()> {
        self.expect(b' ', "a space")
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// §9 `tag`: 1*<any ASTRING-CHAR except "+">.
    fn tag(&mut self) -> Result<String> {
        let tag = self.take_while(|b| is_astring_char(b) && b != b'+');
        if tag.is_empty() {
            return Err(ParseError::Tag);
        }
        Ok(String::from_utf8_lossy(tag).into_owned())
    }

    fn atom(&mut self) -> Result<String> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return Err(ParseError::Expected("an atom"));
        }
        Ok(String::from_utf8_lossy(atom).into_owned())
    }

    /// Case-insensitive keyword match (consumed only if it matches as a whole word).
    fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let matches = self
            .input
            .get(self.pos..end)
            .is_some_and(|s| s.eq_ignore_ascii_case(word.as_bytes()))
            && !self.input.get(end).copied().is_some_and(is_atom_char);
        if matches {
            self.pos = end;
        }
        matches
    }

    fn number(&mut self) -> Result<u32> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() || digits.len() > 10 {
            return Err(ParseError::Expected("a number"));
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(ParseError::Expected("a 32-bit number"))
    }

    fn number64(&mut self) -> Result<u64> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() || digits.len() > 19 {
            return Err(ParseError::Expected("a number"));
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(ParseError::Expected("a number"))
    }

    fn nz_number(&mut self) -> Result<u32> {
        match self.number()? {
            0 => Err(ParseError::Expected("a non-zero number")),
            n => Ok(n),
        }
    }

    /// §9 `quoted`.
    fn quoted(&mut self) -> Result<Vec<u8>> {
        self.expect(b'"', "a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n') => return Err(ParseError::Expected("a closing quote")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(ParseError::Expected("\\\" or \\\\ in a quoted string")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// §9 `literal` (and RFC 7888 `literal+`): the framer has put the octets right after the
    /// CRLF.
    fn literal(&mut self) -> Result<Vec<u8>> {
        self.expect(b'{', "a literal")?;
        let len = self.number()? as usize;
        self.eat(b'+');
        self.expect(b'}', "}")?;
        if !self.eat(b'\r') {
            // Bare LF is tolerated, as the framer does.
        }
        self.expect(b'\n', "CRLF after a literal's length")?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.input.len())
            .ok_or(ParseError::Expected("the literal's octets"))?;
        let bytes = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(bytes)
    }

    fn string_bytes(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err(ParseError::Expected("a string")),
        }
    }

    /// §9 `astring` as bytes.
    fn astring_bytes(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string_bytes(),
            _ => {
                let atom = self.take_while(is_astring_char);
                if atom.is_empty() {
                    return Err(ParseError::Expected("an atom or string"));
                }
                Ok(atom.to_vec())
            }
        }
    }

    fn astring(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.astring_bytes()?).into_owned())
    }

    /// §9 `nstring`-like: NIL or a string.
    fn nstring(&mut self) -> Result<Option<String>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        Ok(Some(
            String::from_utf8_lossy(&self.string_bytes()?).into_owned(),
        ))
    }

    /// §9 `mailbox`: an astring, INBOX in any case meaning INBOX.
    fn mailbox(&mut self) -> Result<String> {
        let name = self.astring()?;
        Ok(if name.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_string()
        } else {
            name
        })
    }

    /// §9 `list-mailbox`: like astring but `%` and `*` allowed in atoms.
    fn list_mailbox(&mut self) -> Result<String> {
        match self.peek() {
            Some(b'"' | b'{') => self.astring(),
            _ => {
                let atom = self.take_while(|b| is_astring_char(b) || b == b'%' || b == b'*');
                if atom.is_empty() {
                    return Err(ParseError::Expected("a mailbox pattern"));
                }
                Ok(String::from_utf8_lossy(atom).into_owned())
            }
        }
    }

    fn command_kind(&mut self) -> Result<CommandKind> {
        let name = self.atom()?.to_ascii_uppercase();
        let kind = match name.as_str() {
            "CAPABILITY" => CommandKind::Capability,
            "NOOP" => CommandKind::Noop,
            "LOGOUT" => CommandKind::Logout,
            "STARTTLS" => CommandKind::StartTls,
            "CHECK" => CommandKind::Check,
            "CLOSE" => CommandKind::Close,
            "UNSELECT" => CommandKind::Unselect,
            "EXPUNGE" => CommandKind::Expunge { uids: None },
            "IDLE" => CommandKind::Idle,
            "NAMESPACE" => CommandKind::Namespace,
            "LOGIN" => {
                self.sp()?;
                let user = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                CommandKind::Login { user, password }
            }
            "AUTHENTICATE" => {
                self.sp()?;
                let mechanism = self.atom()?.to_ascii_uppercase();
                let initial = if self.eat(b' ') {
                    let ir = self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                    if ir.is_empty() {
                        return Err(ParseError::Expected("a base64 initial response"));
                    }
                    Some(String::from_utf8_lossy(ir).into_owned())
                } else {
                    None
                };
                CommandKind::Authenticate { mechanism, initial }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                // RFC 4466 select parameters (CONDSTORE …) are not offered; refuse them.
                CommandKind::Select {
                    mailbox,
                    read_only: name == "EXAMINE",
                }
            }
            "CREATE" => {
                self.sp()?;
                CommandKind::Create {
                    mailbox: self.mailbox()?,
                }
            }
            "DELETE" => {
                self.sp()?;
                CommandKind::Delete {
                    mailbox: self.mailbox()?,
                }
            }
            "RENAME" => {
                self.sp()?;
                let from = self.mailbox()?;
                self.sp()?;
                let to = self.mailbox()?;
                CommandKind::Rename { from, to }
            }
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                self.sp()?;
                CommandKind::Subscribe {
                    mailbox: self.mailbox()?,
                    on: name == "SUBSCRIBE",
                }
            }
            "LIST" | "LSUB" => {
                self.sp()?;
                let reference = self.mailbox()?;
                self.sp()?;
                let pattern = self.list_mailbox()?;
                CommandKind::List {
                    reference,
                    pattern,
                    subscribed_only: name == "LSUB",
                }
            }
            "STATUS" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                self.sp()?;
                self.expect(b'(', "(")?;
                let mut items = Vec::new();
                loop {
                    let item = self.atom()?.to_ascii_uppercase();
                    items.push(match item.as_str() {
                        "MESSAGES" => StatusItem::Messages,
                        "RECENT" => StatusItem::Recent,
                        "UIDNEXT" => StatusItem::UidNext,
                        "UIDVALIDITY" => StatusItem::UidValidity,
                        "UNSEEN" => StatusItem::Unseen,
                        "DELETED" => StatusItem::Deleted,
                        _ => return Err(ParseError::StatusItem(item)),
                    });
                    if !self.eat(b' ') {
                        break;
                    }
                }
                self.expect(b')', ")")?;
                CommandKind::Status { mailbox, items }
            }
            "APPEND" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                self.sp()?;
                let mut flags = Vec::new();
                if self.peek() == Some(b'(') {
                    flags = self.flag_list()?;
                    self.sp()?;
                }
                let mut date = None;
                if self.peek() == Some(b'"') {
                    date = Some(self.date_time()?);
                    self.sp()?;
                }
                let message = self.literal()?;
                CommandKind::Append {
                    mailbox,
                    flags,
                    date,
                    message,
                }
            }
            "SEARCH" => self.search(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" | "MOVE" => self.copy(false, name == "MOVE")?,
            "UID" => {
                self.sp()?;
                let sub = self.atom()?.to_ascii_uppercase();
                match sub.as_str() {
                    "SEARCH" => self.search(true)?,
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "COPY" | "MOVE" => self.copy(true, sub == "MOVE")?,
                    "EXPUNGE" => {
                        self.sp()?;
                        CommandKind::Expunge {
                            uids: Some(self.sequence_set()?),
                        }
                    }
                    _ => return Err(ParseError::UnknownCommand(format!("UID {sub}"))),
                }
            }
            "ID" => {
                self.sp()?;
                let mut fields = Vec::new();
                if !self.keyword("NIL") {
                    self.expect(b'(', "( or NIL")?;
                    while !self.eat(b')') {
                        if !fields.is_empty() {
                            self.sp()?;
                        }
                        let key = String::from_utf8_lossy(&self.string_bytes()?).into_owned();
                        self.sp()?;
                        let value = self.nstring()?;
                        if fields.len() < 30 {
                            fields.push((key, value));
                        }
                    }
                }
                CommandKind::Id(fields)
            }
            "ENABLE" => {
                let mut caps = Vec::new();
                while self.eat(b' ') {
                    caps.push(self.atom()?);
                }
                if caps.is_empty() {
                    return Err(ParseError::Expected("a capability"));
                }
                CommandKind::Enable(caps)
            }
            _ => return Err(ParseError::UnknownCommand(name)),
        };
        Ok(kind)
    }

    /// §9 `flag-list`: `(` flags `)`. `\Recent` is ignored (it cannot be set, §2.3.2).
    fn flag_list(&mut self) -> Result<Vec<Flag>> {
        self.expect(b'(', "(")?;
        let mut flags = Vec::new();
        if self.eat(b')') {
            return Ok(flags);
        }
        loop {
            if let Some(flag) = self.flag()? {
                flags.push(flag);
            }
            if self.eat(b')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    fn flag(&mut self) -> Result<Option<Flag>> {
        let backslash = self.eat(b'\\');
        let atom = self.atom()?;
        if backslash && atom.eq_ignore_ascii_case("Recent") {
            return Ok(None);
        }
        let text = if backslash { format!("\\{atom}") } else { atom };
        Flag::parse(&text).map(Some).ok_or(ParseError::Flag(text))
    }

    /// §9 `sequence-set`.
    pub fn sequence_set(&mut self) -> Result<SequenceSet> {
        let mut ranges = Vec::new();
        loop {
            let first = self.seq_number()?;
            let last = if self.eat(b':') {
                self.seq_number()?
            } else {
                first
            };
            ranges.push((first, last));
            if !self.eat(b',') {
                return Ok(SequenceSet(ranges));
            }
        }
    }

    fn seq_number(&mut self) -> Result<SeqNumber> {
        if self.eat(b'*') {
            return Ok(SeqNumber::Largest);
        }
        self.nz_number()
            .map(SeqNumber::Value)
            .map_err(|_| ParseError::SequenceSet)
    }

    /// §9 `date`: `1-Feb-1994`, optionally quoted; days since 1970-01-01.
    fn date(&mut self) -> Result<i64> {
        let quoted = self.eat(b'"');
        let day = self.number().map_err(|_| ParseError::Date)?;
        self.expect(b'-', "-").map_err(|_| ParseError::Date)?;
        let month = self.take_while(|b| b.is_ascii_alphabetic());
        let month = month_from_name(month).ok_or(ParseError::Date)?;
        self.expect(b'-', "-").map_err(|_| ParseError::Date)?;
        let year = self.number().map_err(|_| ParseError::Date)?;
        if quoted {
            self.expect(b'"', "\"").map_err(|_| ParseError::Date)?;
        }
        if !(1..=31).contains(&day) || !(1..=9999).contains(&year) {
            return Err(ParseError::Date);
        }
        Ok(days_from_civil(
            i64::from(year),
            i64::from(month),
            i64::from(day),
        ))
    }

    /// §9 `date-time`: `"17-Jul-1996 02:44:25 -0700"` (the day may be space-padded).
    fn date_time(&mut self) -> Result<SystemTime> {
        self.expect(b'"', "a date-time")
            .map_err(|_| ParseError::Date)?;
        self.eat(b' ');
        let days = {
            let day = self.number().map_err(|_| ParseError::Date)?;
            self.expect(b'-', "-").map_err(|_| ParseError::Date)?;
            let month = self.take_while(|b| b.is_ascii_alphabetic());
            let month = month_from_name(month).ok_or(ParseError::Date)?;
            self.expect(b'-', "-").map_err(|_| ParseError::Date)?;
            let year = self.number().map_err(|_| ParseError::Date)?;
            if !(1..=31).contains(&day) || !(1..=9999).contains(&year) {
                return Err(ParseError::Date);
            }
            days_from_civil(i64::from(year), i64::from(month), i64::from(day))
        };
        self.sp().map_err(|_| ParseError::Date)?;
        let mut clock = [0i64; 3];
        for (i, part) in clock.iter_mut().enumerate() {
            if i > 0 {
                self.expect(b':', ":").map_err(|_| ParseError::Date)?;
            }
            let digits = self.take_while(|b| b.is_ascii_digit());
            if digits.len() != 2 {
                return Err(ParseError::Date);
            }
            *part = i64::from(digits[0] - b'0') * 10 + i64::from(digits[1] - b'0');
        }
        self.sp().map_err(|_| ParseError::Date)?;
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(ParseError::Date),
        };
        self.pos += 1;
        let zone = self.take_while(|b| b.is_ascii_digit());
        if zone.len() != 4 {
            return Err(ParseError::Date);
        }
        let zone: Vec<i64> = zone.iter().map(|d| i64::from(d - b'0')).collect();
        let offset = sign * ((zone[0] * 10 + zone[1]) * 3600 + (zone[2] * 10 + zone[3]) * 60);
        self.expect(b'"', "\"").map_err(|_| ParseError::Date)?;
        if clock[0] > 23 || clock[1] > 59 || clock[2] > 60 {
            return Err(ParseError::Date);
        }
        let seconds = days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2] - offset;
        Ok(if seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(seconds as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
        })
    }

    fn search(&mut self, uid: bool) -> Result<CommandKind> {
        self.sp()?;
        let mut charset = None;
        if self.keyword("CHARSET") {
            self.sp()?;
            charset = Some(self.astring()?);
            self.sp()?;
        }
        let mut keys = vec![self.search_key(charset.as_deref())?];
        while self.eat(b' ') {
            keys.push(self.search_key(charset.as_deref())?);
        }
        let key = if keys.len() == 1 {
            keys.remove(0)
        } else {
            SearchKey::And(keys)
        };
        Ok(CommandKind::Search { uid, charset, key })
    }

    /// A search string: an astring read in the command's charset (UTF-8 when unknown; the
    /// session refuses unknown charsets with BADCHARSET before searching).
    fn search_string(&mut self, charset: Option<&str>) -> Result<String> {
        let bytes = self.astring_bytes()?;
        Ok(match charset.and_then(crate::message::charset::lookup) {
            Some(encoding) if !charset.is_some_and(is_ascii_or_utf8) => {
                encoding.decode_without_bom_handling(&bytes).0.into_owned()
            }
            _ => String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    fn search_key(&mut self, charset: Option<&str>) -> Result<SearchKey> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.depth += 1;
        let key = self.search_key_inner(charset);
        self.depth -= 1;
        key
    }

    fn search_key_inner(&mut self, charset: Option<&str>) -> Result<SearchKey> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut keys = vec![self.search_key(charset)?];
                while self.eat(b' ') {
                    keys.push(self.search_key(charset)?);
                }
                self.expect(b')', ")")?;
                return Ok(if keys.len() == 1 {
                    keys.remove(0)
                } else {
                    SearchKey::And(keys)
                });
            }
            Some(b'*' | b'0'..=b'9') => return Ok(SearchKey::Sequence(self.sequence_set()?)),
            _ => {}
        }
        let name = self.atom()?.to_ascii_uppercase();
        let flag = |f: Flag, on: bool| Ok(SearchKey::Flag(f, on));
        match name.as_str() {
            "ALL" => Ok(SearchKey::All),
            "ANSWERED" => flag(Flag::Answered, true),
            "DELETED" => flag(Flag::Deleted, true),
            "DRAFT" => flag(Flag::Draft, true),
            "FLAGGED" => flag(Flag::Flagged, true),
            "SEEN" => flag(Flag::Seen, true),
            "UNANSWERED" => flag(Flag::Answered, false),
            "UNDELETED" => flag(Flag::Deleted, false),
            "UNDRAFT" => flag(Flag::Draft, false),
            "UNFLAGGED" => flag(Flag::Flagged, false),
            "UNSEEN" => flag(Flag::Seen, false),
            "RECENT" => Ok(SearchKey::Recent),
            "NEW" => Ok(SearchKey::New),
            "OLD" => Ok(SearchKey::Old),
            "KEYWORD" | "UNKEYWORD" => {
                self.sp()?;
                let word = self.atom()?;
                flag(Flag::Keyword(word), name == "KEYWORD")
            }
            "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
                self.sp()?;
                let date = self.date()?;
                Ok(match name.as_str() {
                    "BEFORE" => SearchKey::Before(date),
                    "ON" => SearchKey::On(date),
                    "SINCE" => SearchKey::Since(date),
                    "SENTBEFORE" => SearchKey::SentBefore(date),
                    "SENTON" => SearchKey::SentOn(date),
                    _ => SearchKey::SentSince(date),
                })
            }
            "LARGER" | "SMALLER" => {
                self.sp()?;
                let n = self.number64()?;
                Ok(if name == "LARGER" {
                    SearchKey::Larger(n)
                } else {
                    SearchKey::Smaller(n)
                })
            }
            "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => {
                self.sp()?;
                let text = self.search_string(charset)?;
                Ok(SearchKey::Header(name.to_ascii_lowercase(), text))
            }
            "HEADER" => {
                self.sp()?;
                let field = self.astring()?.to_ascii_lowercase();
                self.sp()?;
                let text = self.search_string(charset)?;
                Ok(SearchKey::Header(field, text))
            }
            "BODY" | "TEXT" => {
                self.sp()?;
                let text = self.search_string(charset)?;
                Ok(if name == "BODY" {
                    SearchKey::Body(text)
                } else {
                    SearchKey::Text(text)
                })
            }
            "NOT" => {
                self.sp()?;
                Ok(SearchKey::Not(Box::new(self.search_key(charset)?)))
            }
            "OR" => {
                self.sp()?;
                let a = self.search_key(charset)?;
                self.sp()?;
                let b = self.search_key(charset)?;
                Ok(SearchKey::Or(Box::new(a), Box::new(b)))
            }
            "UID" => {
                self.sp()?;
                Ok(SearchKey::Uid(self.sequence_set()?))
            }
            _ => Err(ParseError::SearchKey(name)),
        }
    }

    fn fetch(&mut self, uid: bool) -> Result<CommandKind> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut items = Vec::new();
        if self.eat(b'(') {
            loop {
                items.push(self.fetch_attr()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        } else if self.keyword("ALL") {
            items = vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
            ];
        } else if self.keyword("FAST") {
            items = vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
            ];
        } else if self.keyword("FULL") {
            items = vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
                FetchAttr::Body,
            ];
        } else {
            items.push(self.fetch_attr()?);
        }
        Ok(CommandKind::Fetch { uid, set, items })
    }

    /// §9 `fetch-att`.
    fn fetch_attr(&mut self) -> Result<FetchAttr> {
        let name = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.');
        let name = String::from_utf8_lossy(name).to_ascii_uppercase();
        let attr = match name.as_str() {
            "ENVELOPE" => FetchAttr::Envelope,
            "FLAGS" => FetchAttr::Flags,
            "INTERNALDATE" => FetchAttr::InternalDate,
            "RFC822" => FetchAttr::Rfc822,
            "RFC822.HEADER" => FetchAttr::Rfc822Header,
            "RFC822.SIZE" => FetchAttr::Rfc822Size,
            "RFC822.TEXT" => FetchAttr::Rfc822Text,
            "BODYSTRUCTURE" => FetchAttr::BodyStructure,
            "UID" => FetchAttr::Uid,
            "BODY" | "BODY.PEEK" if self.peek() == Some(b'[') => {
                self.pos += 1;
                let section = self.section()?;
                self.expect(b']', "]")?;
                let partial = if self.eat(b'<') {
                    let origin = self.number()?;
                    self.expect(b'.', ".")?;
                    let count = self.nz_number()?;
                    self.expect(b'>', ">")?;
                    Some((origin, count))
                } else {
                    None
                };
                FetchAttr::Section {
                    peek: name == "BODY.PEEK",
                    section,
                    partial,
                }
            }
            "BODY" => FetchAttr::Body,
            _ => return Err(ParseError::FetchAttribute(name)),
        };
        Ok(attr)
    }

    /// §9 `section-spec` (between the brackets).
    fn section(&mut self) -> Result<Section> {
        let mut section = Section::default();
        if self.peek() == Some(b']') {
            return Ok(section);
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            section.part.push(self.nz_number()?);
            if section.part.len() > MAX_DEPTH {
                return Err(ParseError::TooDeep);
            }
            if !self.eat(b'.') {
                return Ok(section);
            }
        }
        let word = self.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
        let word = String::from_utf8_lossy(word).to_ascii_uppercase();
        section.text = Some(match word.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !section.part.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                self.sp()?;
                self.expect(b'(', "(")?;
                let mut names = Vec::new();
                loop {
                    names.push(self.astring()?);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
                SectionText::Fields {
                    not: word.ends_with(".NOT"),
                    names,
                }
            }
            _ => return Err(ParseError::Expected("a section (HEADER, TEXT, MIME …)")),
        });
        Ok(section)
    }

    fn store(&mut self, uid: bool) -> Result<CommandKind> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mode = if self.eat(b'+') {
            StoreMode::Add
        } else if self.eat(b'-') {
            StoreMode::Remove
        } else {
            StoreMode::Replace
        };
        let silent = if self.keyword("FLAGS.SILENT") {
            true
        } else if self.keyword("FLAGS") {
            false
        } else {
            return Err(ParseError::Expected("FLAGS or FLAGS.SILENT"));
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            // §9 allows the flags without parentheses.
            let mut flags = Vec::new();
            loop {
                if let Some(flag) = self.flag()? {
                    flags.push(flag);
                }
                if !self.eat(b' ') {
                    break;
                }
            }
            flags
        };
        Ok(CommandKind::Store {
            uid,
            set,
            mode,
            silent,
            flags,
        })
    }

    fn copy(&mut self, uid: bool, remove: bool) -> Result<CommandKind> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mailbox = self.mailbox()?;
        Ok(CommandKind::Copy {
            uid,
            set,
            mailbox,
            remove,
        })
    }
}

/// Charsets whose search strings are read as UTF-8 bytes.
pub fn is_ascii_or_utf8(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("UTF-8") || charset.eq_ignore_ascii_case("US-ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> CommandKind {
        parse_command(text.as_bytes())
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .kind
    }

    fn error(text: &str) -> CommandError {
        parse_command(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn reads_tags_atoms_quoted_strings_and_literals() {
        let cmd = parse_command(b"a001 LOGIN SMITH SESAME\r\n").unwrap();
        assert_eq!(cmd.tag, "a001");
        assert_eq!(
            cmd.kind,
            CommandKind::Login {
                user: "SMITH".into(),
                password: "SESAME".into()
            }
        );
        assert_eq!(
            parse("A1 login \"fred \\\"foo\\\\\" {5}\r\nab cd\r\n"),
            CommandKind::Login {
                user: "fred \"foo\\".into(),
                password: "ab cd".into()
            }
        );
        assert_eq!(
            parse("A1 LOGIN {4+}\r\nuser pw"),
            CommandKind::Login {
                user: "user".into(),
                password: "pw".into()
            }
        );
        assert_eq!(
            error("A1 LOGIN {9}\r\nshort").error,
            ParseError::Expected("the literal's octets")
        );
        assert_eq!(error("+A1 NOOP").tag, None);
        assert_eq!(
            error("A1 FROB").error,
            ParseError::UnknownCommand("FROB".into())
        );
        assert_eq!(error("A1 NOOP extra").error, ParseError::Trailing);
        assert_eq!(
            parse("x select inbox"),
            CommandKind::Select {
                mailbox: "INBOX".into(),
                read_only: false
            }
        );
    }

    #[test]
    fn reads_sequence_sets() {
        let CommandKind::Fetch { set, uid, .. } = parse("A1 UID FETCH 1:*,2,4:6 FLAGS") else {
            panic!()
        };
        assert!(uid);
        use SeqNumber::*;
        assert_eq!(
            set.0,
            vec![
                (Value(1), Largest),
                (Value(2), Value(2)),
                (Value(4), Value(6))
            ]
        );
        assert!(set.contains(9, 9));
        let CommandKind::Fetch { set, .. } = parse("A1 FETCH 6:4 FLAGS") else {
            panic!()
        };
        assert!(set.contains(5, 100) && !set.contains(7, 100));
        let CommandKind::Fetch { set, .. } = parse("A1 FETCH * FLAGS") else {
            panic!()
        };
        assert!(set.contains(3, 3) && !set.contains(2, 3));
        assert_eq!(error("A1 FETCH 0 FLAGS").error, ParseError::SequenceSet);
        assert_eq!(error("A1 FETCH 1, FLAGS").error, ParseError::SequenceSet);
        assert_eq!(
            error("A1 FETCH 99999999999 FLAGS").error,
            ParseError::SequenceSet
        );
    }

    #[test]
    fn reads_fetch_attributes_macros_and_sections() {
        let CommandKind::Fetch { items, .. } = parse("A1 FETCH 1 FAST") else {
            panic!()
        };
        assert_eq!(
            items,
            vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size
            ]
        );
        let CommandKind::Fetch { items, .. } = parse("A1 FETCH 1 full") else {
            panic!()
        };
        assert_eq!(items.len(), 5);
        let CommandKind::Fetch { items, .. } = parse(
            "A1 FETCH 1 (UID body.peek[1.2.HEADER.FIELDS (SUBJECT \"X-Y\")]<0.100> BODY[] BODY[2.MIME] BODY[TEXT] BODY RFC822.SIZE)",
        ) else {
            panic!()
        };
        assert_eq!(items[0], FetchAttr::Uid);
        let FetchAttr::Section {
            peek,
            section,
            partial,
        } = &items[1]
        else {
            panic!()
        };
        assert!(*peek);
        assert_eq!(section.part, vec![1, 2]);
        assert_eq!(
            section.text,
            Some(SectionText::Fields {
                not: false,
                names: vec!["SUBJECT".into(), "X-Y".into()]
            })
        );
        assert_eq!(section.spec(), "1.2.HEADER.FIELDS (SUBJECT X-Y)");
        assert_eq!(*partial, Some((0, 100)));
        assert_eq!(
            items[2],
            FetchAttr::Section {
                peek: false,
                section: Section::default(),
                partial: None
            }
        );
        let FetchAttr::Section { section, .. } = &items[3] else {
            panic!()
        };
        assert_eq!(section.spec(), "2.MIME");
        let FetchAttr::Section { section, .. } = &items[4] else {
            panic!()
        };
        assert_eq!(section.text, Some(SectionText::Text));
        assert_eq!(items[5], FetchAttr::Body);
        assert_eq!(items[6], FetchAttr::Rfc822Size);
        assert!(parse_command(b"A1 FETCH 1 BODY[MIME]").is_err());
        assert!(parse_command(b"A1 FETCH 1 (FLAGS").is_err());
        assert!(parse_command(b"A1 FETCH 1 BOGUS").is_err());
    }

    #[test]
    fn reads_search_keys() {
        let CommandKind::Search { key, charset, uid } = parse(
            "A282 SEARCH CHARSET UTF-8 FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\" OR (SEEN 2:4) UID 5:* LARGER 100 HEADER X-Foo {3}\r\nbar",
        ) else {
            panic!()
        };
        assert!(!uid);
        assert_eq!(charset.as_deref(), Some("UTF-8"));
        let SearchKey::And(keys) = key else { panic!() };
        assert_eq!(keys[0], SearchKey::Flag(Flag::Flagged, true));
        assert_eq!(keys[1], SearchKey::Since(days_from_civil(1994, 2, 1)));
        assert_eq!(
            keys[2],
            SearchKey::Not(Box::new(SearchKey::Header("from".into(), "Smith".into())))
        );
        let SearchKey::Or(a, b) = &keys[3] else {
            panic!()
        };
        assert!(matches!(**a, SearchKey::And(_)));
        assert!(matches!(**b, SearchKey::Uid(_)));
        assert_eq!(keys[4], SearchKey::Larger(100));
        assert_eq!(keys[5], SearchKey::Header("x-foo".into(), "bar".into()));
        let CommandKind::Search { key, .. } = parse("A1 SEARCH SUBJECT {3}\r\n한") else {
            panic!()
        };
        assert_eq!(key, SearchKey::Header("subject".into(), "한".into()));
        assert!(parse_command(b"A1 SEARCH BOGUS").is_err());
        assert!(parse_command(b"A1 SEARCH SINCE 31-Foo-2000").is_err());
        let deep = format!("A1 SEARCH {}ALL{}", "(".repeat(40), ")".repeat(40));
        assert_eq!(error(&deep).error, ParseError::TooDeep);
        let nots = format!("A1 SEARCH {}ALL", "NOT ".repeat(100));
        assert_eq!(error(&nots).error, ParseError::TooDeep);
    }

    #[test]
    fn reads_append_store_copy_and_others() {
        let CommandKind::Append {
            mailbox,
            flags,
            date,
            message,
        } = parse(
            "A003 APPEND saved-messages (\\Seen $Work) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nHello",
        )
        else {
            panic!()
        };
        assert_eq!(mailbox, "saved-messages");
        assert_eq!(flags, vec![Flag::Seen, Flag::Keyword("$Work".into())]);
        assert_eq!(
            date.unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs(),
            760_686_745
        );
        assert_eq!(message, b"Hello");
        assert_eq!(
            parse("A003 STORE 2:4 +FLAGS.SILENT (\\Deleted \\Recent)"),
            CommandKind::Store {
                uid: false,
                set: SequenceSet(vec![(SeqNumber::Value(2), SeqNumber::Value(4))]),
                mode: StoreMode::Add,
                silent: true,
                flags: vec![Flag::Deleted]
            }
        );
        assert!(matches!(
            parse("A1 STORE 1 flags \\Seen"),
            CommandKind::Store {
                silent: false,
                mode: StoreMode::Replace,
                ..
            }
        ));
        assert!(parse_command(b"A1 STORE 1 +FLAGS (\\Bogus)").is_err());
        assert!(matches!(
            parse("A1 UID MOVE 1:3 Trash"),
            CommandKind::Copy {
                uid: true,
                remove: true,
                ..
            }
        ));
        assert!(matches!(
            parse("A1 UID EXPUNGE 3:5"),
            CommandKind::Expunge { uids: Some(_) }
        ));
        assert_eq!(
            parse("A1 STATUS blurdybloop (UIDNEXT MESSAGES)"),
            CommandKind::Status {
                mailbox: "blurdybloop".into(),
                items: vec![StatusItem::UidNext, StatusItem::Messages]
            }
        );
        assert_eq!(
            parse("A1 LIST \"\" %"),
            CommandKind::List {
                reference: "".into(),
                pattern: "%".into(),
                subscribed_only: false
            }
        );
        assert_eq!(
            parse("a023 ID (\"name\" \"sodr\" \"version\" NIL)"),
            CommandKind::Id(vec![
                ("name".into(), Some("sodr".into())),
                ("version".into(), None)
            ])
        );
        assert_eq!(parse("a1 ID NIL"), CommandKind::Id(vec![]));
        assert_eq!(
            parse("t ENABLE CONDSTORE X-FOO"),
            CommandKind::Enable(vec!["CONDSTORE".into(), "X-FOO".into()])
        );
        assert_eq!(
            parse("a AUTHENTICATE plain AHVzZXIAcGFzcw=="),
            CommandKind::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some("AHVzZXIAcGFzcw==".into())
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_command(&bytes);
        }

        #[test]
        fn imap_like_text_never_panics(text in "[A-Za-z0-9 ()\\[\\]<>.*:,{}+\"\\\\%-]{0,80}") {
            let _ = parse_command(format!("a FETCH {text}").as_bytes());
            let _ = parse_command(format!("a SEARCH {text}").as_bytes());
            let _ = parse_command(format!("a APPEND {text}").as_bytes());
        }
    }
}
