//! IMAP compliance corpus: scripted sessions written from the examples of RFC 3501 (§6 command by
//! command, and the §8 sample session), with the error cases the RFC requires, run against our
//! IMAP server and, as a check on the corpus itself, against a private Dovecot serving a copy of
//! the same mailboxes.
//!
//! The corpus lives in `tests/imap_rfc3501/`: `messages.txt` is a library of messages, every
//! other `*.txt` holds cases. Each case gets a fresh account with its own Maildir (set up before
//! either server starts), so cases never see each other's changes. The format:
//!
//! ```text
//! === 6.3.1 SELECT                     a case; its name starts with the RFC section
//! # a comment
//! @ nologin                            do not log in first (by default the runner does LOGIN)
//! @ folder blurdybloop owatagusiam.x   Maildir++ folders to make
//! @ mail INBOX m1:S m2 m3:FS           messages from messages.txt; `:LETTERS` puts the file in
//!                                      cur/ with those Maildir flags (S seen, F flagged,
//!                                      R answered, T deleted, D draft), no `:` leaves it in new/
//! @ select INBOX                       SELECT it (unchecked) after the login
//! S: * OK *                            before any command: the greeting
//! C: a001 SELECT INBOX                 a command (C2: the same on a second connection)
//! L: literal line                      after a command ending in {N} or {#}: the literal's
//!                                      lines, joined with CRLF ({#} is replaced by the size)
//! S: + *                               a continuation request; a C: line after it is the
//!                                      client's continuation line (AUTHENTICATE)
//! S: * 3 EXISTS                        an untagged response the command must produce
//! S: a001 OK [READ-WRITE] *            its tagged completion
//! S! * # EXPUNGE                       no response may match this
//! S~ *Subject: afternoon*              some literal in the responses matches this
//! S: ...                               loose: other responses of the kinds above are allowed
//! ```
//!
//! In patterns `*` matches any text (except a leading `* `, the untagged marker) and `#` one or
//! more digits. `$USER`, `$PASS` and `$PLAIN` (the base64 SASL PLAIN response) are replaced in
//! commands. The check is on shape, as the RFC examples show it: the tagged status, and for every
//! kind of untagged response the case names (EXISTS, FETCH, LIST, `OK [UIDVALIDITY`, ...) exactly
//! the responses of that kind the server sent (in any order, but EXPUNGE in order); kinds the case
//! does not name are free. Items of FETCH and STATUS responses and the members of flag lists are
//! compared as sets, since the RFC fixes no order for them.

mod common;
#[allow(dead_code)]
#[path = "access/host.rs"]
mod host;

#[path = "access/dovecot.rs"]
mod dovecot;

use dovecot::Dovecot;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use appnet_mail::maildir::Maildir;
use common::PASSWORD;
use host::{DOMAIN, Host};

/// How long a server may take to answer one command.
const ANSWER: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The corpus

#[derive(Debug, Default)]
struct Case {
    name: String,
    at: String,
    nologin: bool,
    /// `@ known-bug WHY`: our server is known to fail this case (reported, not asserted; the
    /// test fails once it passes, so that the marker goes).
    known_bug: Option<String>,
    select: Option<String>,
    folders: Vec<String>,
    /// (folder, message name, Maildir flags or None for new/)
    mail: Vec<(String, String, Option<String>)>,
    greeting: Vec<Expect>,
    exchanges: Vec<Exchange>,
}

#[derive(Debug)]
struct Exchange {
    session: usize,
    tag: String,
    steps: Vec<Step>,
    expect: Vec<Expect>,
    loose: bool,
    at: String,
}

#[derive(Debug)]
enum Step {
    /// A command line; with a literal, the line ends in its `{N}` and the literal follows.
    Command {
        text: String,
        literal: Option<Vec<String>>,
    },
    /// Wait for a continuation request.
    Plus,
    /// A continuation line from the client.
    Line(String),
}

#[derive(Debug, Clone)]
enum Expect {
    /// `S:` a response that must be there.
    Has(String),
    /// `S!` a response that must not be there.
    Not(String),
    /// `S~` a literal that must be there.
    Literal(String),
}

struct Message {
    bytes: Vec<u8>,
    date: i64,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap_rfc3501")
}

fn load_messages() -> HashMap<String, Message> {
    let text = fs::read_to_string(corpus_dir().join("messages.txt")).expect("messages.txt");
    let mut messages = HashMap::new();
    let mut current: Option<(String, i64, Vec<&str>)> = None;
    let mut finish = |current: Option<(String, i64, Vec<&str>)>| {
        if let Some((name, date, mut lines)) = current {
            while lines.last().is_some_and(|l| l.is_empty()) {
                lines.pop();
            }
            let mut bytes = lines.join("\r\n").into_bytes();
            bytes.extend_from_slice(b"\r\n");
            messages.insert(name, Message { bytes, date });
        }
    };
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("%% ") {
            finish(current.take());
            let (name, date) = head.split_once(" date=").expect("%% NAME date=DATE");
            let date = parse_date_time(date).unwrap_or_else(|| panic!("bad date in {line:?}"));
            current = Some((name.trim().to_string(), date, Vec::new()));
        } else if let Some((_, _, lines)) = &mut current {
            lines.push(line);
        }
    }
    finish(current);
    messages
}

fn load_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("the corpus directory")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "txt")
                && p.file_name().is_some_and(|n| n != "messages.txt")
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        parse_cases(&text, &name, &mut cases);
    }
    cases
}

fn parse_cases(text: &str, file: &str, cases: &mut Vec<Case>) {
    let mut case: Option<Case> = None;
    // The previous line was `S: +` (a C: line continues the command).
    let mut after_plus = false;
    for (i, raw) in text.lines().enumerate() {
        let at = format!("{file}:{}", i + 1);
        let line = raw.trim_end();
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some(done) = case.take() {
                cases.push(finish_case(done));
            }
            case = Some(Case {
                name: name.trim().to_string(),
                at: at.clone(),
                ..Case::default()
            });
            after_plus = false;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let case = case
            .as_mut()
            .unwrap_or_else(|| panic!("{at}: a line before the first case"));
        let was_plus = std::mem::replace(&mut after_plus, false);
        if let Some(directive) = line.strip_prefix("@ ") {
            let words: Vec<&str> = directive.split_whitespace().collect();
            match words.as_slice() {
                ["nologin"] => case.nologin = true,
                ["known-bug", why @ ..] => case.known_bug = Some(why.join(" ")),
                ["select", name] => case.select = Some(name.to_string()),
                ["folder", names @ ..] => case.folders.extend(names.iter().map(|n| n.to_string())),
                ["mail", folder, messages @ ..] => {
                    for m in messages {
                        let (name, flags) = match m.split_once(':') {
                            Some((n, f)) => (n, Some(f.to_string())),
                            None => (*m, None),
                        };
                        case.mail
                            .push((folder.to_string(), name.to_string(), flags));
                    }
                }
                _ => panic!("{at}: unknown directive {line:?}"),
            }
        } else if let Some((session, text)) = client_line(line) {
            let continues = was_plus
                && case.exchanges.last().is_some_and(|e| {
                    e.session == session && matches!(e.steps.last(), Some(Step::Plus))
                });
            if continues {
                let ex = case.exchanges.last_mut().unwrap();
                ex.steps.push(Step::Line(text.to_string()));
            } else {
                let tag = text.split(' ').next().unwrap_or("").to_string();
                let literal = literal_marker(text).map(|_| Vec::new());
                case.exchanges.push(Exchange {
                    session,
                    tag,
                    steps: vec![Step::Command {
                        text: text.to_string(),
                        literal,
                    }],
                    expect: Vec::new(),
                    loose: false,
                    at,
                });
            }
        } else if let Some(text) = line.strip_prefix("L:") {
            let text = text.strip_prefix(' ').unwrap_or(text);
            let Some(Exchange { steps, .. }) = case.exchanges.last_mut() else {
                panic!("{at}: a literal line without a command");
            };
            match steps.last_mut() {
                Some(Step::Command {
                    literal: Some(lines),
                    ..
                }) => lines.push(text.to_string()),
                _ => panic!("{at}: a literal line after a command without {{N}}"),
            }
        } else if let Some(rest) = line.strip_prefix("S") {
            let (kind, pattern) = match rest.get(..1) {
                Some(k @ (":" | "!" | "~")) => (k, rest[1..].trim_start()),
                _ => panic!("{at}: unknown line {line:?}"),
            };
            if case.exchanges.is_empty() {
                assert_eq!(kind, ":", "{at}: only S: lines before the first command");
                case.greeting.push(Expect::Has(pattern.to_string()));
                continue;
            }
            let ex = case.exchanges.last_mut().unwrap();
            match kind {
                ":" if pattern == "..." => ex.loose = true,
                ":" if pattern.starts_with('+') => {
                    // A continuation for a literal is implicit; otherwise wait for one.
                    let literal_pending = matches!(
                        ex.steps.last(),
                        Some(Step::Command { literal: Some(b), .. }) if b.is_empty()
                    );
                    if !literal_pending {
                        ex.steps.push(Step::Plus);
                        after_plus = true;
                    }
                }
                ":" => ex.expect.push(Expect::Has(pattern.to_string())),
                "!" => ex.expect.push(Expect::Not(pattern.to_string())),
                _ => ex.expect.push(Expect::Literal(pattern.to_string())),
            }
        } else {
            panic!("{at}: unknown line {line:?}");
        }
    }
    if let Some(done) = case.take() {
        cases.push(finish_case(done));
    }
}

fn client_line(line: &str) -> Option<(usize, &str)> {
    if let Some(text) = line.strip_prefix("C:") {
        return Some((1, text.strip_prefix(' ').unwrap_or(text)));
    }
    if let Some(text) = line.strip_prefix("C2:") {
        return Some((2, text.strip_prefix(' ').unwrap_or(text)));
    }
    None
}

/// `{N}`, `{N+}` or `{#}` at the end of a command line: (declared size, non-synchronizing).
fn literal_marker(text: &str) -> Option<(Option<usize>, bool)> {
    let inner = text.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let inner = &inner[open + 1..];
    let (number, plus) = match inner.strip_suffix('+') {
        Some(n) => (n, true),
        None => (inner, false),
    };
    if number == "#" {
        return Some((None, plus));
    }
    number.parse().ok().map(|n| (Some(n), plus))
}

fn finish_case(mut case: Case) -> Case {
    for ex in &mut case.exchanges {
        assert!(
            ex.expect
                .iter()
                .any(|e| matches!(e, Expect::Has(p) if p.starts_with(&format!("{} ", ex.tag)))),
            "{}: the command has no tagged expectation",
            ex.at
        );
        if let Some(Step::Command {
            text,
            literal: Some(lines),
        }) = ex.steps.first_mut()
        {
            let bytes = lines.join("\r\n");
            let (declared, plus) = literal_marker(text).unwrap();
            match declared {
                Some(n) => assert_eq!(
                    n,
                    bytes.len(),
                    "{}: the literal has {} octets, the command says {n}",
                    ex.at,
                    bytes.len()
                ),
                None => {
                    let open = text.rfind('{').unwrap();
                    let plus = if plus { "+" } else { "" };
                    *text = format!("{}{{{}{plus}}}", &text[..open], bytes.len());
                }
            }
        }
    }
    case
}

// ---------------------------------------------------------------------------------------------
// Mailboxes

/// Writes the case's folders and messages into the Maildir at `root`.
fn set_up(case: &Case, root: &Path, library: &HashMap<String, Message>, serial: usize) {
    Maildir::create(root).unwrap();
    for folder in &case.folders {
        let dir = root.join(format!(".{folder}"));
        Maildir::create(&dir).unwrap();
        fs::write(dir.join("maildirfolder"), b"").unwrap();
    }
    let mut last_date: HashMap<&str, i64> = HashMap::new();
    for (i, (folder, name, flags)) in case.mail.iter().enumerate() {
        let message = library
            .get(name)
            .unwrap_or_else(|| panic!("{}: no message {name:?} in messages.txt", case.at));
        let last = last_date.entry(folder).or_insert(i64::MIN);
        assert!(
            message.date >= *last,
            "{}: list {folder}'s messages in date order (servers number them so)",
            case.at
        );
        *last = message.date;
        let dir = if folder.eq_ignore_ascii_case("INBOX") {
            root.to_path_buf()
        } else {
            root.join(format!(".{folder}"))
        };
        assert!(dir.join("cur").is_dir(), "{}: no folder {folder}", case.at);
        // Both servers number new files by their time, then by the name: the time is the
        // message's date and the M part keeps the listed order for equal dates.
        let base = format!(
            "{}.M{:06}P{serial}Q{i}.rfc3501,S={}",
            message.date,
            i,
            message.bytes.len()
        );
        let path = match flags {
            None => dir.join("new").join(&base),
            Some(flags) => dir.join("cur").join(format!("{base}:2,{flags}")),
        };
        fs::write(&path, &message.bytes).unwrap();
        let time = UNIX_EPOCH + Duration::from_secs(message.date.max(0) as u64);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }
}

/// `17-Jul-1996 02:44:25 -0700` as seconds since the epoch.
fn parse_date_time(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let date = parts.next()?;
    let time = parts.next()?;
    let zone = parts.next()?;
    let mut d = date.split('-');
    let day: i64 = d.next()?.parse().ok()?;
    let month = d.next()?;
    let year: i64 = d.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let mut t = time.split(':').map(|p| p.parse::<i64>());
    let (h, m, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z: i64 = zone.get(1..)?.parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s - offset)
}

// ---------------------------------------------------------------------------------------------
// A raw IMAP client

/// One response: the text with literals left as `{N}`, and the literals' bytes.
#[derive(Debug, Clone)]
struct Response {
    text: String,
    literals: Vec<Vec<u8>>,
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    log: String,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<(Conn, Response), String> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream.set_read_timeout(Some(ANSWER)).unwrap();
        let mut conn = Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            log: String::new(),
        };
        let greeting = conn.read()?;
        Ok((conn, greeting))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let shown = if bytes.len() > 200 {
            format!("<{} octets>\r\n", bytes.len())
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        };
        for line in shown.split_inclusive('\n') {
            let _ = write!(self.log, "C: {}", line.trim_end_matches(['\r', '\n']));
            self.log.push('\n');
        }
        self.writer
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))
    }

    fn read_line(&mut self) -> Result<Vec<u8>, String> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(_) if line.ends_with(b"\n") => Ok(line),
            Ok(_) => Err("the server closed the connection mid-line".into()),
            Err(e) => Err(format!("no answer within {ANSWER:?} ({e})")),
        }
    }

    fn read(&mut self) -> Result<Response, String> {
        let mut response = Response {
            text: String::new(),
            literals: Vec::new(),
        };
        loop {
            let raw = self.read_line()?;
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']);
            response.text.push_str(line);
            let _ = writeln!(self.log, "S: {line}");
            match literal_marker(line) {
                Some((Some(n), false)) => {
                    let mut bytes = vec![0; n];
                    self.reader
                        .read_exact(&mut bytes)
                        .map_err(|e| format!("reading a {n}-octet literal: {e}"))?;
                    let shown = String::from_utf8_lossy(&bytes);
                    for l in shown.split_inclusive('\n').take(12) {
                        let _ = writeln!(self.log, "S: {}", l.trim_end_matches(['\r', '\n']));
                    }
                    if shown.lines().count() > 12 {
                        let _ = writeln!(self.log, "S: [... {n} octets in all]");
                    }
                    response.literals.push(bytes);
                }
                _ => return Ok(response),
            }
        }
    }
}

/// What one command got back.
#[derive(Debug, Default)]
struct Received {
    untagged: Vec<Response>,
    plus: usize,
    tagged: Option<Response>,
}

fn run_exchange(conn: &mut Conn, ex: &Exchange, vars: &Vars) -> Result<Received, String> {
    let mut got = Received::default();
    let tagged_prefix = format!("{} ", ex.tag);
    // Reads until a continuation request (true) or the completion (false).
    let until_plus = |conn: &mut Conn, got: &mut Received| -> Result<bool, String> {
        loop {
            let r = conn.read()?;
            if r.text.starts_with('+') {
                got.plus += 1;
                return Ok(true);
            }
            if r.text.starts_with(&tagged_prefix) {
                got.tagged = Some(r);
                return Ok(false);
            }
            got.untagged.push(r);
        }
    };
    for step in &ex.steps {
        match step {
            Step::Command { text, literal } => {
                let text = vars.apply(text);
                conn.send(format!("{text}\r\n").as_bytes())?;
                if let Some(lines) = literal {
                    let (_, nonsync) = literal_marker(&text).unwrap();
                    if !nonsync && !until_plus(conn, &mut got)? {
                        return Ok(got);
                    }
                    let mut all = lines.join("\r\n").into_bytes();
                    all.extend_from_slice(b"\r\n");
                    conn.send(&all)?;
                }
            }
            Step::Plus => {
                if !until_plus(conn, &mut got)? {
                    return Ok(got);
                }
            }
            Step::Line(text) => {
                let text = vars.apply(text);
                conn.send(format!("{text}\r\n").as_bytes())?;
            }
        }
    }
    if got.tagged.is_none() {
        until_plus_or_done(conn, &mut got, &tagged_prefix)?;
    }
    Ok(got)
}

fn until_plus_or_done(conn: &mut Conn, got: &mut Received, tagged: &str) -> Result<(), String> {
    loop {
        let r = conn.read()?;
        if r.text.starts_with('+') {
            got.plus += 1;
        } else if r.text.starts_with(tagged) {
            got.tagged = Some(r);
            return Ok(());
        } else {
            got.untagged.push(r);
        }
    }
}

struct Vars {
    user: String,
    password: String,
}

impl Vars {
    fn apply(&self, text: &str) -> String {
        let plain = BASE64.encode(format!("\0{}\0{}", self.user, self.password));
        text.replace(
            "$BADPLAIN",
            &BASE64.encode(format!("\0{}\0wrong", self.user)),
        )
        .replace("$USER", &self.user)
        .replace("$PASS", &self.password)
        .replace("$PLAIN", &plain)
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

/// `*` any text, `#` one or more digits; a leading `* ` is literal.
fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    if let Some(rest) = p.strip_prefix(b"* ") {
        return t.starts_with(b"* ") && glob(rest, &t[2..]);
    }
    glob(p, t)
}

fn glob(p: &[u8], t: &[u8]) -> bool {
    // memo[i][j]: p[i..] against t[j..] is known to fail.
    let mut failed = vec![false; (p.len() + 1) * (t.len() + 1)];
    fn go(p: &[u8], t: &[u8], i: usize, j: usize, failed: &mut [bool]) -> bool {
        let key = i * (t.len() + 1) + j;
        if failed[key] {
            return false;
        }
        let ok = match p.get(i) {
            None => j == t.len(),
            Some(b'*') => (j..=t.len()).any(|k| go(p, t, i + 1, k, failed)),
            Some(b'#') => {
                let mut k = j;
                let mut found = false;
                while k < t.len() && t[k].is_ascii_digit() {
                    k += 1;
                    if go(p, t, i + 1, k, failed) {
                        found = true;
                        break;
                    }
                }
                found
            }
            Some(&c) => j < t.len() && t[j] == c && go(p, t, i + 1, j + 1, failed),
        };
        if !ok {
            failed[key] = true;
        }
        ok
    }
    go(p, t, 0, 0, &mut failed)
}

/// The text with FETCH items, STATUS items and flag list members in a canonical order (for a
/// pattern, flag lists with a `*` member become "at least these flags").
fn normalize_as(text: &str, is_pattern: bool) -> String {
    let mut out = text.to_string();
    if let Some((head, list)) = fetch_list(&out) {
        if let Some(mut items) = split_items(list) {
            items.sort_by_key(|(name, _)| name.to_ascii_uppercase());
            // MIME types, subtypes, parameter names and encodings are case-insensitive.
            for (name, value) in &mut items {
                if name.eq_ignore_ascii_case("BODY") || name.eq_ignore_ascii_case("BODYSTRUCTURE") {
                    *value = value.to_ascii_lowercase();
                }
            }
            let joined: Vec<String> = items.iter().map(|(n, v)| format!("{n} {v}")).collect();
            out = format!("{head}({})", joined.join(" "));
        }
    } else if out.starts_with("* STATUS ")
        && out.ends_with(')')
        && let Some(open) = out.rfind('(')
    {
        let words: Vec<&str> = out[open + 1..out.len() - 1].split_whitespace().collect();
        if words.len().is_multiple_of(2) {
            let mut pairs: Vec<String> = words
                .chunks(2)
                .map(|p| format!("{} {}", p[0].to_ascii_uppercase(), p[1]))
                .collect();
            pairs.sort();
            out = format!("{}({})", &out[..open], pairs.join(" "));
        }
    }
    // RFC 3501's own examples put a space between the addresses of an envelope list, which
    // the grammar (`"(" 1*address ")"`) does not; accept both.
    sort_flag_lists(&unquote_name(&out), is_pattern).replace(") (", ")(")
}

/// A mailbox name in LIST, LSUB and STATUS responses as an atom when it can be one: `"foo"` and
/// `foo` are the same astring.
fn unquote_name(text: &str) -> String {
    let simple = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
    };
    if text.starts_with("* LIST ") || text.starts_with("* LSUB ") {
        if let Some(open) = text.rfind(" \"")
            && text.ends_with('"')
            && open + 2 < text.len()
        {
            let name = &text[open + 2..text.len() - 1];
            if simple(name) && !name.contains('"') {
                return format!("{} {name}", &text[..open]);
            }
        }
    } else if let Some(rest) = text.strip_prefix("* STATUS \"")
        && let Some(end) = rest.find("\" (")
    {
        let name = &rest[..end];
        if simple(name) {
            return format!("* STATUS {name}{}", &rest[end + 1..]);
        }
    }
    text.to_string()
}

/// `* N FETCH (` ... `)`: the head up to the list and the list's inside.
fn fetch_list(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("* ")?;
    let (number, rest) = rest.split_once(' ')?;
    if !(number == "#" || number.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let list = rest.strip_prefix("FETCH (")?.strip_suffix(')')?;
    Some((&text[..text.len() - list.len() - 2], list))
}

/// FETCH items as (name, value); None if the text does not parse as an item list.
fn split_items(list: &str) -> Option<Vec<(String, String)>> {
    let b = list.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // The name: up to a space outside brackets.
        let start = i;
        let mut depth = 0i32;
        while i < b.len() && !(b[i] == b' ' && depth == 0) {
            match b[i] {
                b'[' => depth += 1,
                b']' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        let name = &list[start..i];
        if i >= b.len() {
            return None;
        }
        i += 1;
        let vstart = i;
        i = value_end(b, i)?;
        items.push((name.to_string(), list[vstart..i].to_string()));
        if i < b.len() {
            if b[i] != b' ' {
                return None;
            }
            i += 1;
        }
    }
    Some(items)
}

/// The end of the value starting at `i`: a parenthesized list, a quoted string or an atom.
fn value_end(b: &[u8], mut i: usize) -> Option<usize> {
    match b.get(i)? {
        b'(' => {
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    b'"' => i = quoted_end(b, i)? - 1,
                    _ => {}
                }
                i += 1;
            }
            None
        }
        b'"' => quoted_end(b, i),
        _ => {
            while i < b.len() && b[i] != b' ' && b[i] != b')' {
                i += 1;
            }
            Some(i)
        }
    }
}

fn quoted_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn sort_flag_lists(text: &str, is_pattern: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("FLAGS (") {
        let open = at + "FLAGS (".len();
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        let mut flags: Vec<&str> = rest[open..open + close].split_whitespace().collect();
        if !is_pattern {
            // \Recent is per-session state (Dovecot with an in-memory index makes every
            // message \Recent); the corpus checks it through RECENT counts instead.
            flags.retain(|f| !f.eq_ignore_ascii_case("\\Recent"));
        }
        let any = is_pattern && flags.contains(&"*");
        flags.retain(|f| !(any && *f == "*"));
        flags.sort_by_key(|f| f.to_ascii_lowercase());
        if any {
            out.push('*');
            for f in &flags {
                out.push_str(f);
                out.push('*');
            }
        } else {
            out.push_str(&flags.join(" "));
        }
        rest = &rest[open + close..];
    }
    out.push_str(rest);
    out
}

/// The kind of an untagged response: `EXISTS`, `FETCH`, `LIST`, `OK [UIDVALIDITY`, `BYE`...
fn kind(text: &str) -> String {
    let rest = text.strip_prefix("* ").unwrap_or(text);
    let mut words = rest.splitn(3, ' ');
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    if first == "#" || (!first.is_empty() && first.bytes().all(|b| b.is_ascii_digit())) {
        return second.to_ascii_uppercase();
    }
    let first = first.to_ascii_uppercase();
    let status = matches!(first.as_str(), "OK" | "NO" | "BAD" | "BYE" | "PREAUTH");
    if status && second.starts_with('*') {
        // A pattern such as `* OK *`: any response of this status, with a code or without.
        return format!("{first}*");
    }
    if status && let Some(code) = second.strip_prefix('[') {
        let code: String = code
            .chars()
            .take_while(|c| *c != ']' && *c != ' ')
            .collect();
        return format!("{first} [{}", code.to_ascii_uppercase());
    }
    first
}

/// Every way the exchange differs from its expectations.
fn check(expect: &[Expect], loose: bool, tag: &str, got: &Received) -> Vec<String> {
    let mut problems = Vec::new();
    let texts: Vec<String> = got
        .untagged
        .iter()
        .map(|r| normalize_as(&r.text, false))
        .collect();
    let tagged = got.tagged.as_ref().map(|r| r.text.clone());
    let tag_prefix = format!("{tag} ");
    let mut by_kind: Vec<(String, Vec<String>)> = Vec::new();
    for e in expect {
        match e {
            Expect::Has(p) if p.starts_with(&tag_prefix) => match &tagged {
                Some(t) if matches(p, t) => {}
                Some(t) => problems.push(format!("tagged: expected {p:?}, got {t:?}")),
                None => problems.push(format!("tagged: expected {p:?}, got none")),
            },
            Expect::Has(p) => {
                let p = normalize_as(p, true);
                let k = kind(&p);
                match by_kind.iter_mut().find(|(kk, _)| *kk == k) {
                    Some((_, ps)) => ps.push(p),
                    None => by_kind.push((k, vec![p])),
                }
            }
            Expect::Not(p) => {
                let np = normalize_as(p, true);
                for t in texts.iter().chain(tagged.iter()) {
                    if matches(&np, t) {
                        problems.push(format!("unwanted: {t:?} matches {p:?}"));
                    }
                }
            }
            Expect::Literal(p) => {
                let found = got
                    .untagged
                    .iter()
                    .flat_map(|r| r.literals.iter())
                    .any(|l| glob(p.as_bytes(), String::from_utf8_lossy(l).as_bytes()));
                if !found {
                    problems.push(format!("no literal matches {p:?}"));
                }
            }
        }
    }
    for (k, patterns) in &by_kind {
        let lines: Vec<&String> = texts
            .iter()
            .filter(|t| match k.strip_suffix('*') {
                Some(prefix) => kind(t).starts_with(prefix),
                None => kind(t) == *k,
            })
            .collect();
        if loose {
            for p in patterns {
                if !lines.iter().any(|t| matches(p, t)) {
                    problems.push(format!("{k}: nothing matches {p:?} (got {lines:?})"));
                }
            }
        } else if lines.len() != patterns.len() {
            problems.push(format!(
                "{k}: expected {} response(s) {patterns:?}, got {} {lines:?}",
                patterns.len(),
                lines.len()
            ));
        } else if k == "EXPUNGE" {
            let removed = |texts: &[&str]| expunged(texts);
            let want: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let have: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
            if want.iter().any(|p| p.contains('#')) {
                // Only the count is known.
            } else if removed(&want) != removed(&have) {
                problems.push(format!(
                    "EXPUNGE: expected {patterns:?} (or another order removing the same \
                     messages), got {lines:?}"
                ));
            }
        } else if !assign(patterns, &lines, &mut vec![false; lines.len()], 0) {
            problems.push(format!("{k}: expected {patterns:?}, got {lines:?}"));
        }
    }
    problems
}

/// The original sequence numbers a run of `* n EXPUNGE` responses removes, each number counting
/// the messages left by the ones before it (RFC 3501 §7.4.1).
fn expunged(lines: &[&str]) -> Vec<usize> {
    let numbers: Vec<usize> = lines
        .iter()
        .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
        .collect();
    let size = numbers.iter().max().copied().unwrap_or(0) + numbers.len();
    let mut left: Vec<usize> = (1..=size).collect();
    let mut removed = Vec::new();
    for n in numbers {
        if n >= 1 && n <= left.len() {
            removed.push(left.remove(n - 1));
        }
    }
    removed.sort();
    removed
}

/// Whether each pattern from `i` on can take a line of its own.
fn assign(patterns: &[String], lines: &[&String], used: &mut Vec<bool>, i: usize) -> bool {
    if i == patterns.len() {
        return true;
    }
    for j in 0..lines.len() {
        if !used[j] && matches(&patterns[i], lines[j]) {
            used[j] = true;
            if assign(patterns, lines, used, i + 1) {
                return true;
            }
            used[j] = false;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Running a case

struct Server<'a> {
    name: &'a str,
    addr: SocketAddr,
}

/// Runs `case` as `user`; Err is the failure report.
fn run_case(case: &Case, server: &Server, user: &str) -> Result<(), String> {
    let vars = Vars {
        user: user.to_string(),
        password: PASSWORD.to_string(),
    };
    let mut sessions: Vec<Option<Conn>> = vec![None, None, None];
    let mut report = String::new();
    let mut failed = Vec::new();
    let result = (|| -> Result<(), String> {
        for (n, ex) in case.exchanges.iter().enumerate() {
            if sessions[ex.session].is_none() {
                let (mut conn, greeting) = Conn::open(server.addr)?;
                if ex.session == 1 {
                    let greeting = Received {
                        untagged: vec![greeting],
                        ..Received::default()
                    };
                    let problems = check(&case.greeting, false, "", &greeting);
                    if !problems.is_empty() {
                        return Err(format!("greeting: {}", problems.join("; ")));
                    }
                }
                if !case.nologin {
                    quiet(&mut conn, &format!("x0 LOGIN \"{user}\" \"{PASSWORD}\""))?;
                    if ex.session == 1
                        && let Some(mailbox) = &case.select
                    {
                        quiet(&mut conn, &format!("x1 SELECT \"{mailbox}\""))?;
                    }
                }
                sessions[ex.session] = Some(conn);
            }
            let conn = sessions[ex.session].as_mut().unwrap();
            let got = match run_exchange(conn, ex, &vars) {
                Ok(got) => got,
                Err(e) => return Err(format!("command {} ({}): {e}", n + 1, ex.at)),
            };
            let problems = check(&ex.expect, ex.loose, &ex.tag, &got);
            if !problems.is_empty() {
                let _ = writeln!(report, "  at {} (session {}):", ex.at, ex.session);
                for p in &problems {
                    let _ = writeln!(report, "    - {p}");
                }
                let _ = writeln!(report, "    expected:");
                for e in &ex.expect {
                    let (mark, p) = match e {
                        Expect::Has(p) => ("S:", p),
                        Expect::Not(p) => ("S!", p),
                        Expect::Literal(p) => ("S~", p),
                    };
                    let _ = writeln!(report, "      {mark} {p}");
                }
                let _ = writeln!(report, "    received:");
                for r in got.untagged.iter().chain(got.tagged.iter()) {
                    let _ = writeln!(report, "      S: {}", r.text);
                }
                failed.push(n + 1);
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("command(s) {failed:?} failed"))
        }
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let mut text = format!(
                "--- {} [{}] {}: {e}\n{report}",
                server.name, case.at, case.name
            );
            for (i, s) in sessions.iter().enumerate() {
                if let Some(conn) = s {
                    let _ = writeln!(text, "  transcript of session {i}:");
                    for line in conn.log.lines() {
                        let _ = writeln!(text, "    {line}");
                    }
                }
            }
            Err(text)
        }
    }
}

/// A setup command that must succeed; its responses are not checked.
fn quiet(conn: &mut Conn, command: &str) -> Result<(), String> {
    conn.send(format!("{command}\r\n").as_bytes())?;
    let tag = command.split(' ').next().unwrap();
    let mut got = Received::default();
    until_plus_or_done(conn, &mut got, &format!("{tag} "))?;
    let tagged = got.tagged.unwrap().text;
    if tagged.starts_with(&format!("{tag} OK")) {
        Ok(())
    } else {
        Err(format!("setup {command:?} failed: {tagged}"))
    }
}

// ---------------------------------------------------------------------------------------------
// A private Dovecot with one account per case (the recipe of tests/access/dovecot.rs)

/// Runs every case against `server`; returns the failure reports.
fn run_all(cases: &[Case], server: &Server, users: &[String]) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    for (case, user) in cases.iter().zip(users) {
        if let Err(report) = run_case(case, server, user) {
            failures.push((case.name.clone(), report));
        }
    }
    failures
}

#[test]
fn rfc3501_corpus() {
    let library = load_messages();
    let cases = load_cases();
    assert!(!cases.is_empty(), "the corpus is empty");
    let locals: Vec<String> = (1..=cases.len()).map(|i| format!("c{i:03}")).collect();
    let users: Vec<String> = locals.iter().map(|l| format!("{l}@{DOMAIN}")).collect();
    let local_refs: Vec<&str> = locals.iter().map(String::as_str).collect();

    let host = Host::start(&local_refs);
    let peer_dir = tempfile::tempdir().expect("a directory for Dovecot");
    let peer_mail = peer_dir.path().join("mail");
    for (i, (case, local)) in cases.iter().zip(&locals).enumerate() {
        set_up(case, &host.maildir(local), &library, i);
        set_up(case, &peer_mail.join(local), &library, i);
    }
    let dovecot = Dovecot::start_for(&users, PASSWORD, &peer_mail);

    let ours = Server {
        name: "appnet",
        addr: host.addrs.imap,
    };
    let peer = Server {
        name: "Dovecot",
        addr: dovecot.addr,
    };
    let our_failures = run_all(&cases, &ours, &users);
    let peer_failures = run_all(&cases, &peer, &users);

    let total = cases.len();
    for (_, report) in &our_failures {
        eprintln!("{report}");
    }
    if std::env::var_os("RFC3501_DOVECOT_DETAILS").is_some() {
        for (_, report) in &peer_failures {
            eprintln!("{report}");
        }
    }
    let sections: Vec<String> = cases
        .iter()
        .map(|c| c.name.split_whitespace().next().unwrap_or("").to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!(
        "rfc3501 corpus: {total} cases over sections {}",
        sections.join(" ")
    );
    for (name, report) in &peer_failures {
        println!("  Dovecot differs in {name}:");
        let mut at = "";
        for line in report.lines() {
            let line = line.trim();
            if line.starts_with("at ") {
                at = line;
            } else if let Some(problem) = line.strip_prefix("- ") {
                println!("    {at} {problem}");
            } else if line.starts_with("---") && !line.ends_with("failed") {
                println!("    {line}");
            }
        }
    }
    println!(
        "rfc3501 corpus (Dovecot 2.3): {}/{total} cases passed",
        total - peer_failures.len()
    );
    println!(
        "rfc3501 corpus: {}/{total} cases passed",
        total - our_failures.len()
    );
    drop(dovecot);
    let known = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.known_bug.clone())
    };
    for (name, _) in &our_failures {
        if let Some(why) = known(name) {
            println!("  known bug of ours in {name}: {why}");
        }
    }
    let failed: Vec<&str> = our_failures
        .iter()
        .filter(|(n, _)| known(n).is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "our server fails corpus cases: {failed:?}"
    );
    let fixed: Vec<&str> = cases
        .iter()
        .filter(|c| c.known_bug.is_some() && !our_failures.iter().any(|(n, _)| *n == c.name))
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        fixed.is_empty(),
        "these cases pass now: remove their `@ known-bug` line: {fixed:?}"
    );
}
