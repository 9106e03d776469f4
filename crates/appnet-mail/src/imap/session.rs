//! The IMAP server state machine, sans-IO: bytes in ([`ImapSession::feed`]), outputs out
//! ([`ImapSession::poll_output`]). RFC 3501 §3 states (not authenticated, authenticated,
//! selected, logout), §5.5 pipelining, §6 commands, §7 responses, and the extensions LITERAL+
//! (RFC 7888), SASL-IR (RFC 4959), UIDPLUS (RFC 4315), MOVE (RFC 6851), IDLE (RFC 2177),
//! NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE (RFC 5161), UNSELECT (RFC 3691), CHILDREN
//! (RFC 3348), with the cheap IMAP4rev2 (RFC 9051) behaviours `[CLOSED]`, STATUS DELETED and
//! the RFC 5530 response codes.
//!
//! The driver's loop: after creating the session and after every `feed`, `feed_eof`,
//! `tls_established`, `auth_result` or `mailbox_changed`, drain `poll_output` and act on each
//! output in order. Mail store calls (blocking file I/O) happen inside those calls, so the
//! driver makes them on a blocking thread. Input that arrives while the driver is checking a
//! password or setting up TLS stays buffered (bounded) and is processed afterwards.
//!
//! Message sequence numbers belong to the session: its view of the selected mailbox changes
//! only when it reports the change (EXISTS, EXPUNGE), never during FETCH, STORE or SEARCH
//! (§7.4.1), so the numbers a client holds stay valid.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::message::Message;
use crate::store::{self, DELIMITER, Flag, Flags, Mailbox, Mailstore, StoreError};

use super::command::{
    Command, CommandKind, FetchAttr, SearchKey, SequenceSet, StatusItem, StoreMode,
    is_ascii_or_utf8, parse_command, peek_name, peek_tag,
};
use super::date::format_date_time;
use super::fetch::{body_structure, envelope, section_bytes};
use super::response::{self, flag_list, quoted, uid_set};
use super::search::{Candidate, Content, matches};

/// A command line (without its literals) may be this long; RFC 7162 §4 asks servers to accept
/// at least 8192 octets, and long UID sets need more.
pub const MAX_LINE: usize = 64 * 1024;
/// Literals in commands other than APPEND (search strings, names, passwords).
pub const MAX_LITERAL: usize = 64 * 1024;
/// Input held while the driver checks a password or sets up TLS.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;
/// BAD responses before the session gives up on the client.
pub const MAX_ERRORS: u32 = 20;
/// Failed logins before the session hangs up.
pub const MAX_AUTH_FAILURES: u32 = 3;

/// What the server offers and enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    /// Our name, in the greeting.
    pub hostname: String,
    /// The driver can upgrade this connection (STARTTLS is announced).
    pub tls_available: bool,
    /// The connection is already TLS (implicit TLS on port 993, or after STARTTLS).
    pub tls_active: bool,
    /// LOGIN and AUTHENTICATE without TLS (sensible on loopback only); otherwise the
    /// capability list says LOGINDISABLED (RFC 3501 §6.2.3).
    pub plaintext_login: bool,
    /// The largest message APPEND accepts (its literal is refused before it is read).
    pub max_message_bytes: usize,
}

impl ImapConfig {
    /// Defaults: 64 MiB messages, no TLS, no plaintext login.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            tls_available: false,
            tls_active: false,
            plaintext_login: false,
            max_message_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What the session asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Response bytes: write them.
    Send(Vec<u8>),
    /// The tagged OK to STARTTLS has been sent: run the TLS handshake, then call
    /// [`ImapSession::tls_established`] (or drop the connection if it fails).
    StartTls,
    /// Check these credentials (slow: off the I/O thread), find the user's Maildir, then call
    /// [`ImapSession::auth_result`].
    Authenticate { user: String, password: String },
    /// The client is idling (RFC 2177): until it sends more, wake the session with
    /// [`ImapSession::mailbox_changed`] whenever the mailbox at `dir` changes
    /// ([`store::watch`]).
    Idle { dir: PathBuf },
    /// A command the client sent, for a transcript (`C: ...`), when [`ImapSession::set_trace`]
    /// is on. Passwords are redacted and literals summarised.
    Received(String),
    /// Close the connection after writing everything before this.
    Close,
}

#[derive(Debug)]
enum Mode {
    Command,
    /// After `AUTHENTICATE PLAIN` without an initial response: the next line is the response.
    AuthPlain {
        tag: String,
    },
    /// IDLE: the next line must be DONE.
    Idle {
        tag: String,
    },
    /// An output is outstanding; input stays buffered until the driver answers.
    WaitAuth {
        tag: String,
    },
    WaitTls,
    Closed,
}

/// Collects one command's lines and literals (RFC 3501 §4.3, RFC 7888).
#[derive(Debug, Default)]
struct Framer {
    command: Vec<u8>,
    /// Octets of the current literal still to come.
    literal_left: usize,
    /// The command is refused (a LITERAL+ literal too large): its octets are discarded and
    /// this response (tag, text) sent once it ends.
    refused: Option<(String, String)>,
    /// Discarding an overlong line up to its end.
    skip_line: bool,
}

/// The selected mailbox as this session sees it.
#[derive(Debug)]
struct Selected {
    name: String,
    mailbox: Mailbox,
    read_only: bool,
    /// UID and last reported flags of each message, in sequence-number order.
    view: Vec<ViewEntry>,
    /// UIDs that are `\Recent` for this session.
    recent: HashSet<u32>,
}

#[derive(Debug, Clone)]
struct ViewEntry {
    uid: u32,
    flags: Flags,
}

/// One IMAP connection.
pub struct ImapSession {
    config: ImapConfig,
    peer: String,
    trace: bool,
    input: Vec<u8>,
    framer: Framer,
    mode: Mode,
    outputs: VecDeque<Output>,
    /// Response bytes not yet handed out as one `Send`.
    out: Vec<u8>,
    user: Option<String>,
    store: Option<Mailstore>,
    selected: Option<Selected>,
    errors: u32,
    auth_failures: u32,
}

impl ImapSession {
    /// A new connection from `peer` (for logs); the greeting is the first output.
    pub fn new(config: ImapConfig, peer: impl Into<String>) -> Self {
        let mut session = Self {
            config,
            peer: peer.into(),
            trace: false,
            input: Vec::new(),
            framer: Framer::default(),
            mode: Mode::Command,
            outputs: VecDeque::new(),
            out: Vec::new(),
            user: None,
            store: None,
            selected: None,
            errors: 0,
            auth_failures: 0,
        };
        let greeting = format!(
            "* OK [CAPABILITY {}] {} IMAP4rev1 server ready\r\n",
            session.capabilities(),
            session.config.hostname
        );
        session.send(greeting);
        session.flush();
        session
    }

    /// Emit [`Output::Received`] for each command (for `--trace`).
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.flush();
        self.outputs.pop_front()
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// Whether an IDLE is in progress (the driver waits for mailbox changes too).
    pub fn is_idling(&self) -> bool {
        matches!(self.mode, Mode::Idle { .. })
    }

    /// The logged-in user.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Bytes from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.is_closed() {
            return;
        }
        self.input.extend_from_slice(bytes);
        if matches!(self.mode, Mode::WaitAuth { .. } | Mode::WaitTls)
            && self.input.len() > MAX_PENDING_INPUT
        {
            self.send("* BYE Too much input while busy\r\n");
            self.close();
            return;
        }
        self.process();
    }

    /// The client closed its side.
    pub fn feed_eof(&mut self) {
        if !self.is_closed() {
            self.close();
        }
    }

    /// The TLS handshake after STARTTLS succeeded. Anything the client sent before it (RFC
    /// 3501 §6.2.1: a man in the middle's injected commands) is discarded.
    pub fn tls_established(&mut self) {
        self.config.tls_active = true;
        self.input.clear();
        if matches!(self.mode, Mode::WaitTls) {
            self.mode = Mode::Command;
        }
    }

    /// The answer to [`Output::Authenticate`]: the account's address and Maildir root, or
    /// `None` when the credentials are wrong.
    pub fn auth_result(&mut self, account: Option<(String, PathBuf)>) {
        let Mode::WaitAuth { tag } = std::mem::replace(&mut self.mode, Mode::Command) else {
            return;
        };
        match account {
            Some((user, root)) => match Mailstore::open(&root) {
                Ok(store) => {
                    tracing::info!(peer = %self.peer, %user, "imap: logged in");
                    self.store = Some(store);
                    self.user = Some(user);
                    let caps = self.capabilities();
                    self.send(format!("{tag} OK [CAPABILITY {caps}] Logged in\r\n"));
                }
                Err(err) => {
                    tracing::warn!(%user, "imap: cannot open the mail store: {err}");
                    self.send(format!("{tag} NO [UNAVAILABLE] Mail store unavailable\r\n"));
                }
            },
            None => {
                self.auth_failures += 1;
                self.send(format!(
                    "{tag} NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
                ));
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    self.send("* BYE Too many failed logins\r\n");
                    self.close();
                    return;
                }
            }
        }
        self.process();
    }

    /// The mailbox being idled on changed (or a timer fired): report what is new.
    pub fn mailbox_changed(&mut self) {
        if self.is_idling() {
            self.report_changes(true);
        }
        self.flush();
    }

    // --- output helpers ---

    fn send(&mut self, text: impl AsRef<[u8]>) {
        self.out.extend_from_slice(text.as_ref());
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            let bytes = std::mem::take(&mut self.out);
            self.outputs.push_back(Output::Send(bytes));
        }
    }

    fn push_output(&mut self, output: Output) {
        self.flush();
        self.outputs.push_back(output);
    }

    fn close(&mut self) {
        self.mode = Mode::Closed;
        self.selected = None;
        self.push_output(Output::Close);
    }

    fn bad(&mut self, tag: Option<&str>, text: &str) {
        self.send(format!("{} BAD {text}\r\n", tag.unwrap_or("*")));
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.send("* BYE Too many errors\r\n");
            self.close();
        }
    }

    fn login_allowed(&self) -> bool {
        self.config.tls_active || self.config.plaintext_login
    }

    fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "CHILDREN",
        ];
        if self.store.is_none() {
            if self.config.tls_available && !self.config.tls_active {
                caps.push("STARTTLS");
            }
            if self.login_allowed() {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
        }
        caps.join(" ")
    }

    // --- input ---

    fn process(&mut self) {
        loop {
            let progressed = match &self.mode {
                Mode::Command => self.frame_step(),
                Mode::AuthPlain { .. } | Mode::Idle { .. } => self.line_step(),
                Mode::WaitAuth { .. } | Mode::WaitTls | Mode::Closed => false,
            };
            if !progressed {
                break;
            }
        }
        self.flush();
    }

    /// One line in AUTHENTICATE or IDLE mode.
    fn line_step(&mut self) -> bool {
        let Some(lf) = self.input.iter().position(|&b| b == b'\n') else {
            if self.input.len() > MAX_LINE {
                self.input.clear();
                let tag = match std::mem::replace(&mut self.mode, Mode::Command) {
                    Mode::AuthPlain { tag } | Mode::Idle { tag } => tag,
                    _ => "*".to_string(),
                };
                self.bad(Some(&tag), "Line too long");
            }
            return false;
        };
        let line: Vec<u8> = self.input.drain(..=lf).collect();
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::AuthPlain { tag } => {
                if self.trace {
                    self.push_output(Output::Received("***".into()));
                }
                self.auth_plain_response(&tag, line);
            }
            Mode::Idle { tag } => {
                if self.trace {
                    self.push_output(Output::Received(line.to_string()));
                }
                if line.eq_ignore_ascii_case("DONE") {
                    self.report_changes(true);
                    self.send(format!("{tag} OK IDLE terminated\r\n"));
                } else {
                    self.bad(Some(&tag), "Expected DONE");
                }
            }
            other => self.mode = other,
        }
        true
    }

    /// One step of collecting a command: a literal's octets or a line.
    fn frame_step(&mut self) -> bool {
        let max_total = self.config.max_message_bytes.max(MAX_LITERAL) + MAX_LINE;
        if self.framer.literal_left > 0 {
            if self.input.is_empty() {
                return false;
            }
            let n = self.framer.literal_left.min(self.input.len());
            if self.framer.refused.is_none() {
                self.framer.command.extend_from_slice(&self.input[..n]);
            }
            self.input.drain(..n);
            self.framer.literal_left -= n;
            return true;
        }
        let lf = self.input.iter().position(|&b| b == b'\n');
        if self.framer.skip_line {
            match lf {
                Some(lf) => {
                    self.input.drain(..=lf);
                    self.framer.skip_line = false;
                    return true;
                }
                None => {
                    self.input.clear();
                    return false;
                }
            }
        }
        let Some(lf) = lf else {
            if self.input.len() > MAX_LINE {
                let tag = self.current_tag();
                self.framer = Framer {
                    skip_line: true,
                    ..Framer::default()
                };
                self.input.clear();
                self.bad(tag.as_deref(), "Command line too long");
            }
            return false;
        };
        let line: Vec<u8> = self.input.drain(..=lf).collect();
        if line.len() > MAX_LINE {
            let tag = self.current_tag().or_else(|| peek_tag(&line));
            self.framer = Framer::default();
            self.bad(tag.as_deref(), "Command line too long");
            return true;
        }
        if self.framer.refused.is_none() {
            self.framer.command.extend_from_slice(&line);
        }
        if let Some((len, synchronizing)) = literal_at_end(&line) {
            let first = if self.framer.command.is_empty() {
                &line[..]
            } else {
                &self.framer.command[..]
            };
            let tag = peek_tag(first).unwrap_or_else(|| "*".into());
            let is_append = peek_name(first).as_deref() == Some("APPEND");
            let limit = if is_append {
                self.config.max_message_bytes
            } else {
                MAX_LITERAL
            };
            let too_big = len.is_none_or(|len| {
                len > limit || self.framer.command.len().saturating_add(len) > max_total
            });
            if len.is_none() && !synchronizing {
                // Octets that could never be read: the stream cannot be resynchronised.
                self.send(format!("{tag} BAD Literal too large\r\n* BYE Goodbye\r\n"));
                self.close();
                return false;
            }
            if self.framer.refused.is_none() && too_big {
                let text = if is_append {
                    "NO [TOOBIG] Message too large".to_string()
                } else {
                    "BAD Literal too large".to_string()
                };
                if synchronizing {
                    // RFC 3501 §7.5: no continuation, so the client sends nothing more of it.
                    self.framer = Framer::default();
                    self.send(format!("{tag} {text}\r\n"));
                    return true;
                }
                // RFC 7888 §4: the octets are on their way; read and drop them, then refuse.
                self.framer.command.clear();
                self.framer.refused = Some((tag, text));
            } else if synchronizing && self.framer.refused.is_some() {
                // A later synchronizing literal of a refused command: answer now.
                let (tag, text) = self.framer.refused.take().unwrap_or_default();
                self.framer = Framer::default();
                self.send(format!("{tag} {text}\r\n"));
                return true;
            } else if synchronizing {
                self.send("+ Ready for literal data\r\n");
            }
            self.framer.literal_left = len.unwrap_or(usize::MAX);
            return true;
        }
        let framer = std::mem::take(&mut self.framer);
        if let Some((tag, text)) = framer.refused {
            self.send(format!("{tag} {text}\r\n"));
            return true;
        }
        self.dispatch(&framer.command);
        true
    }

    fn current_tag(&self) -> Option<String> {
        peek_tag(&self.framer.command)
    }

    fn dispatch(&mut self, bytes: &[u8]) {
        match parse_command(bytes) {
            Ok(command) => {
                if self.trace {
                    let summary = summarize(bytes, &command);
                    self.push_output(Output::Received(summary));
                }
                self.execute(command);
            }
            Err(err) => {
                if self.trace {
                    self.push_output(Output::Received(summarize_raw(bytes)));
                }
                let text = format!("Error in IMAP command: {}", err.error);
                self.bad(err.tag.as_deref(), &text);
            }
        }
    }

    // --- commands ---

    fn execute(&mut self, command: Command) {
        let Command { tag, kind } = command;
        let authenticated = self.store.is_some();
        let selected = self.selected.is_some();
        use CommandKind as K;
        let allowed = match &kind {
            K::Capability | K::Noop | K::Logout | K::Id(_) => true,
            K::StartTls | K::Login { .. } | K::Authenticate { .. } => !authenticated,
            K::Check
            | K::Close
            | K::Unselect
            | K::Expunge { .. }
            | K::Search { .. }
            | K::Fetch { .. }
            | K::Store { .. }
            | K::Copy { .. } => selected,
            _ => authenticated,
        };
        if !allowed {
            let why = if !authenticated && !matches!(kind, K::StartTls) {
                "Not authenticated"
            } else if authenticated
                && !selected
                && !matches!(kind, K::StartTls | K::Login { .. } | K::Authenticate { .. })
            {
                "No mailbox selected"
            } else {
                "Already authenticated"
            };
            let text = format!("{} not allowed now: {why}", kind.name());
            self.bad(Some(&tag), &text);
            return;
        }
        let result = match kind {
            K::Capability => {
                let caps = self.capabilities();
                self.send(format!("* CAPABILITY {caps}\r\n"));
                Ok(Done::ok("CAPABILITY completed"))
            }
            K::Noop | K::Check => {
                self.report_changes(true);
                Ok(Done::ok(&format!("{} completed", kind.name())))
            }
            K::Logout => {
                self.send("* BYE Logging out\r\n");
                self.send(format!("{tag} OK LOGOUT completed\r\n"));
                self.close();
                return;
            }
            K::StartTls => {
                if !self.config.tls_available || self.config.tls_active {
                    Ok(Done::bad("TLS is not available"))
                } else {
                    self.send(format!("{tag} OK Begin TLS negotiation now\r\n"));
                    // RFC 3501 §6.2.1: nothing pipelined after STARTTLS counts.
                    self.input.clear();
                    self.mode = Mode::WaitTls;
                    self.push_output(Output::StartTls);
                    return;
                }
            }
            K::Login { user, password } => {
                if !self.login_allowed() {
                    Ok(Done::no("[PRIVACYREQUIRED] LOGIN is disabled without TLS"))
                } else {
                    self.start_auth(&tag, user, password);
                    return;
                }
            }
            K::Authenticate { mechanism, initial } => {
                if !self.login_allowed() {
                    Ok(Done::no(
                        "[PRIVACYREQUIRED] Authentication is disabled without TLS",
                    ))
                } else if mechanism != "PLAIN" {
                    Ok(Done::no("Unsupported authentication mechanism"))
                } else if let Some(initial) = initial {
                    self.auth_plain_response(&tag, &initial);
                    return;
                } else {
                    self.send("+ \r\n");
                    self.mode = Mode::AuthPlain { tag };
                    return;
                }
            }
            K::Select { mailbox, read_only } => self.select(&mailbox, read_only),
            K::Create { mailbox } => self.create(&mailbox),
            K::Delete { mailbox } => self.delete(&mailbox),
            K::Rename { from, to } => self.rename(&from, &to),
            K::Subscribe { mailbox, on } => {
                self.with_store(|s| s.subscribe(&mailbox, on)).map(|()| {
                    Done::ok(if on {
                        "SUBSCRIBE completed"
                    } else {
                        "UNSUBSCRIBE completed"
                    })
                })
            }
            K::List {
                reference,
                pattern,
                subscribed_only,
            } => self.list(&reference, &pattern, subscribed_only),
            K::Status { mailbox, items } => self.status(&mailbox, &items),
            K::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(&mailbox, &flags, date, &message),
            K::Close | K::Unselect => {
                let expunge = matches!(kind, K::Close);
                self.close_mailbox(expunge)
            }
            K::Expunge { uids } => self.expunge(uids.as_ref()),
            K::Search { uid, charset, key } => self.search(uid, charset.as_deref(), &key),
            K::Fetch { uid, set, items } => self.fetch(uid, &set, &items),
            K::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            } => self.store_flags(uid, &set, mode, silent, &flags),
            K::Copy {
                uid,
                set,
                mailbox,
                remove,
            } => self.copy(uid, &set, &mailbox, remove),
            K::Idle => {
                self.send("+ idling\r\n");
                self.report_changes(true);
                let dir = match &self.selected {
                    Some(selected) => selected.mailbox.dir().to_path_buf(),
                    None => match self.store.as_ref().map(|s| s.dir_of("INBOX")) {
                        Some(Ok(dir)) => dir,
                        _ => PathBuf::new(),
                    },
                };
                self.mode = Mode::Idle { tag };
                self.push_output(Output::Idle { dir });
                return;
            }
            K::Namespace => {
                self.send(format!("* NAMESPACE ((\"\" \"{DELIMITER}\")) NIL NIL\r\n"));
                Ok(Done::ok("NAMESPACE completed"))
            }
            K::Id(fields) => {
                if !fields.is_empty() {
                    tracing::debug!(peer = %self.peer, ?fields, "imap: client ID");
                }
                self.send(format!(
                    "* ID (\"name\" \"appnet\" \"version\" \"{}\")\r\n",
                    env!("CARGO_PKG_VERSION")
                ));
                Ok(Done::ok("ID completed"))
            }
            K::Enable(_) => {
                // RFC 5161 §3.1: unknown capabilities are ignored; none we offer needs it.
                self.send("* ENABLED\r\n");
                Ok(Done::ok("ENABLE completed"))
            }
        };
        let done = result.unwrap_or_else(|err| {
            tracing::warn!(peer = %self.peer, "imap: store error: {err}");
            Done::no("[SERVERBUG] Internal error")
        });
        if done.status == "BAD" {
            self.bad(Some(&tag), &done.text);
        } else {
            self.send(format!("{tag} {} {}\r\n", done.status, done.text));
        }
    }

    fn start_auth(&mut self, tag: &str, user: String, password: String) {
        self.mode = Mode::WaitAuth {
            tag: tag.to_string(),
        };
        self.push_output(Output::Authenticate { user, password });
    }

    /// RFC 4616 PLAIN: `authzid NUL authcid NUL passwd`, base64 (`=` for empty, `*` cancels).
    fn auth_plain_response(&mut self, tag: &str, response: &str) {
        let response = response.trim();
        if response == "*" {
            self.bad(Some(tag), "Authentication cancelled");
            return;
        }
        let decoded = if response == "=" {
            Ok(Vec::new())
        } else {
            BASE64.decode(response)
        };
        let Ok(decoded) = decoded else {
            self.bad(Some(tag), "Invalid base64");
            return;
        };
        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
        let [authz, user, password] = parts[..] else {
            self.bad(Some(tag), "Invalid PLAIN response");
            return;
        };
        let user = String::from_utf8_lossy(user).into_owned();
        let password = String::from_utf8_lossy(password).into_owned();
        if !authz.is_empty() && authz != user.as_bytes() {
            self.send(format!(
                "{tag} NO [AUTHORIZATIONFAILED] Cannot act as another user\r\n"
            ));
            return;
        }
        self.start_auth(tag, user, password);
    }

    fn with_store<T>(&self, f: impl FnOnce(&Mailstore) -> io::Result<T>) -> io::Result<T> {
        match &self.store {
            Some(store) => f(store),
            None => Err(io::Error::other("no store")),
        }
    }

    fn select(&mut self, name: &str, read_only: bool) -> io::Result<Done> {
        if self.selected.take().is_some() {
            // RFC 9051 §7.1: the previous mailbox is closed (without expunging).
            self.send("* OK [CLOSED] Previous mailbox closed\r\n");
        }
        let Some(store) = &self.store else {
            return Ok(Done::no("Not authenticated"));
        };
        let arriving = match store.dir_of(name) {
            Ok(dir) => names_in_new(&dir),
            Err(_) => HashSet::new(),
        };
        let mailbox = match store.open_mailbox(name) {
            Ok(mailbox) => mailbox,
            Err(err) => return Ok(store_failure(err)),
        };
        let view: Vec<ViewEntry> = mailbox
            .messages()
            .iter()
            .map(|m| ViewEntry {
                uid: m.uid,
                flags: m.flags.clone(),
            })
            .collect();
        let recent: HashSet<u32> = mailbox
            .messages()
            .iter()
            .filter(|m| arriving.contains(&m.base))
            .map(|m| m.uid)
            .collect();
        let keywords = mailbox.keywords().join(" ");
        let mut flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded".to_string();
        if !keywords.is_empty() {
            flags.push(' ');
            flags.push_str(&keywords);
        }
        self.send(format!("* FLAGS ({flags})\r\n"));
        if read_only {
            self.send("* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
        } else {
            let new_keywords = if mailbox.keywords().len() < 26 {
                " \\*"
            } else {
                ""
            };
            self.send(format!(
                "* OK [PERMANENTFLAGS ({flags}{new_keywords})] Flags permitted\r\n"
            ));
        }
        self.send(format!("* {} EXISTS\r\n", view.len()));
        self.send(format!("* {} RECENT\r\n", recent.len()));
        if let Some(first) = view.iter().position(|e| !e.flags.seen) {
            self.send(format!("* OK [UNSEEN {}] First unseen\r\n", first + 1));
        }
        self.send(format!(
            "* OK [UIDVALIDITY {}] UIDs valid\r\n",
            mailbox.uidvalidity()
        ));
        self.send(format!(
            "* OK [UIDNEXT {}] Predicted next UID\r\n",
            mailbox.uidnext()
        ));
        self.selected = Some(Selected {
            name: name.to_string(),
            mailbox,
            read_only,
            view,
            recent,
        });
        Ok(if read_only {
            Done::ok("[READ-ONLY] EXAMINE completed")
        } else {
            Done::ok("[READ-WRITE] SELECT completed")
        })
    }

    fn create(&mut self, name: &str) -> io::Result<Done> {
        let Some(store) = &self.store else {
            return Ok(Done::no("Not authenticated"));
        };
        Ok(match store.create(name) {
            Ok(()) => Done::ok("CREATE completed"),
            Err(err) => store_failure(err),
        })
    }

    fn delete(&mut self, name: &str) -> io::Result<Done> {
        let Some(store) = &self.store else {
            return Ok(Done::no("Not authenticated"));
        };
        if self.selected.as_ref().is_some_and(|s| s.name == name) {
            self.selected = None;
        }
        Ok(match store.delete(name) {
            Ok(()) => Done::ok("DELETE completed"),
            Err(err) => store_failure(err),
        })
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<Done> {
        let Some(store) = &self.store else {
            return Ok(Done::no("Not authenticated"));
        };
        Ok(match store.rename(from, to) {
            Ok(()) => Done::ok("RENAME completed"),
            Err(err) => store_failure(err),
        })
    }

    /// RFC 3501 §6.3.8 LIST and §6.3.9 LSUB, with RFC 3348 CHILDREN attributes.
    fn list(&mut self, reference: &str, pattern: &str, subscribed_only: bool) -> io::Result<Done> {
        let kind = if subscribed_only { "LSUB" } else { "LIST" };
        if pattern.is_empty() && !subscribed_only {
            self.send(format!("* LIST (\\Noselect) \"{DELIMITER}\" \"\"\r\n"));
            return Ok(Done::ok("LIST completed"));
        }
        let full = format!("{reference}{pattern}");
        let (names, subscribed) = self.with_store(|s| Ok((s.list()?, s.subscriptions()?)))?;
        // Every folder, and the levels above it that exist only as parts of names.
        let mut all: BTreeMap<String, bool> = BTreeMap::new();
        for name in &names {
            all.insert(name.clone(), true);
            let mut parent = name.as_str();
            while let Some((up, _)) = parent.rsplit_once(DELIMITER) {
                all.entry(up.to_string()).or_insert(false);
                parent = up;
            }
        }
        let mut lines = Vec::new();
        let candidates: Vec<(String, bool)> = if subscribed_only {
            // RFC 3501 §6.3.9: where `%` stops at a level above a subscribed name, that level
            // is listed, `\Noselect` unless it is subscribed itself.
            let mut found: BTreeMap<String, bool> =
                subscribed.iter().map(|n| (n.clone(), true)).collect();
            for name in &subscribed {
                let mut parent = name.as_str();
                while let Some((up, _)) = parent.rsplit_once(DELIMITER) {
                    if list_matches(&full, up) && !list_matches(&full, name) {
                        found.entry(up.to_string()).or_insert(false);
                    }
                    parent = up;
                }
            }
            found.into_iter().collect()
        } else {
            // INBOX first, as clients expect.
            let mut v: Vec<(String, bool)> = all
                .iter()
                .filter(|(n, _)| n.as_str() != "INBOX")
                .map(|(n, e)| (n.clone(), *e))
                .collect();
            v.insert(0, ("INBOX".to_string(), true));
            v
        };
        for (name, exists) in candidates {
            if !list_matches(&full, &name) {
                continue;
            }
            let prefix = format!("{name}{DELIMITER}");
            let children = all.keys().any(|n| n.starts_with(&prefix));
            let mut attrs = Vec::new();
            if !exists {
                attrs.push("\\Noselect");
            }
            if !subscribed_only {
                attrs.push(if children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
            }
            lines.push(format!(
                "* {kind} ({}) \"{DELIMITER}\" {}\r\n",
                attrs.join(" "),
                quoted(&name)
            ));
        }
        for line in lines {
            self.send(line);
        }
        Ok(Done::ok(if subscribed_only {
            "LSUB completed"
        } else {
            "LIST completed"
        }))
    }

    fn status(&mut self, name: &str, items: &[StatusItem]) -> io::Result<Done> {
        if self.selected.as_ref().is_some_and(|s| s.name == name) {
            // The selected mailbox: count what this session knows, so that opening a second
            // copy does not take its new mail (and \Recent) away from it.
            self.report_changes(true);
            if let Some(selected) = &self.selected {
                let messages = selected.mailbox.messages();
                let values: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let value = match item {
                            StatusItem::Messages => selected.view.len() as u64,
                            StatusItem::Recent => selected.recent.len() as u64,
                            StatusItem::UidNext => u64::from(selected.mailbox.uidnext()),
                            StatusItem::UidValidity => u64::from(selected.mailbox.uidvalidity()),
                            StatusItem::Unseen => {
                                messages.iter().filter(|m| !m.flags.seen).count() as u64
                            }
                            StatusItem::Deleted => {
                                messages.iter().filter(|m| m.flags.deleted).count() as u64
                            }
                        };
                        format!("{} {value}", item.name())
                    })
                    .collect();
                self.send(format!(
                    "* STATUS {} ({})\r\n",
                    quoted(name),
                    values.join(" ")
                ));
                return Ok(Done::ok("STATUS completed"));
            }
        }
        let Some(store) = &self.store else {
            return Ok(Done::no("Not authenticated"));
        };
        let arriving = match store.dir_of(name) {
            Ok(dir) => names_in_new(&dir).len(),
            Err(_) => 0,
        };
        let mailbox = match store.open_mailbox(name) {
            Ok(mailbox) => mailbox,
            Err(err) => return Ok(store_failure(err)),
        };
        let messages = mailbox.messages();
        let values: Vec<String> = items
            .iter()
            .map(|item| {
                let value = match item {
                    StatusItem::Messages => messages.len() as u64,
                    StatusItem::Recent => arriving as u64,
                    StatusItem::UidNext => u64::from(mailbox.uidnext()),
                    StatusItem::UidValidity => u64::from(mailbox.uidvalidity()),
                    StatusItem::Unseen => messages.iter().filter(|m| !m.flags.seen).count() as u64,
                    StatusItem::Deleted => {
                        messages.iter().filter(|m| m.flags.deleted).count() as u64
                    }
                };
                format!("{} {value}", item.name())
            })
            .collect();
        self.send(format!(
            "* STATUS {} ({})\r\n",
            quoted(name),
            values.join(" ")
        ));
        self.report_changes(true);
        Ok(Done::ok("STATUS completed"))
    }

    fn append(
        &mut self,
        name: &str,
        flags: &[Flag],
        date: Option<std::time::SystemTime>,
        message: &[u8],
    ) -> io::Result<Done> {
        let Some(store) = &self.store else {
            return Ok(Done::no("Not authenticated"));
        };
        if !store.exists(name) {
            return Ok(Done::no("[TRYCREATE] Mailbox does not exist"));
        }
        let mut set = Flags::default();
        for flag in flags {
            set.set(flag, true);
        }
        let (uid, validity, dir) = match self.selected.as_mut().filter(|s| s.name == name) {
            Some(selected) => {
                let uid = selected.mailbox.append(message, &set, date)?;
                let mailbox = &selected.mailbox;
                (uid, mailbox.uidvalidity(), mailbox.dir().to_path_buf())
            }
            None => {
                let mut mailbox = match store.open_mailbox(name) {
                    Ok(mailbox) => mailbox,
                    Err(err) => return Ok(store_failure(err)),
                };
                let uid = mailbox.append(message, &set, date)?;
                (uid, mailbox.uidvalidity(), mailbox.dir().to_path_buf())
            }
        };
        store::announce(&dir);
        self.report_changes(true);
        Ok(Done::ok(&format!(
            "[APPENDUID {validity} {uid}] APPEND completed"
        )))
    }

    fn close_mailbox(&mut self, expunge: bool) -> io::Result<Done> {
        let Some(mut selected) = self.selected.take() else {
            return Ok(Done::no("No mailbox selected"));
        };
        if expunge && !selected.read_only {
            selected.mailbox.sync()?;
            let deleted: Vec<u32> = selected
                .mailbox
                .messages()
                .iter()
                .filter(|m| m.flags.deleted)
                .map(|m| m.uid)
                .collect();
            if !deleted.is_empty() {
                selected.mailbox.expunge(&deleted)?;
                store::announce(selected.mailbox.dir());
            }
        }
        Ok(Done::ok(if expunge {
            "CLOSE completed"
        } else {
            "UNSELECT completed"
        }))
    }

    fn expunge(&mut self, uids: Option<&SequenceSet>) -> io::Result<Done> {
        let Some(selected) = self.selected.as_mut() else {
            return Ok(Done::no("No mailbox selected"));
        };
        if selected.read_only {
            return Ok(Done::no("[READ-ONLY] Mailbox is read-only"));
        }
        selected.mailbox.sync()?;
        let largest = selected.view.last().map_or(0, |e| e.uid);
        let doomed: Vec<u32> = selected
            .view
            .iter()
            .filter(|e| uids.is_none_or(|set| set.contains(e.uid, largest)))
            .filter(|e| selected.mailbox.get(e.uid).is_some_and(|m| m.flags.deleted))
            .map(|e| e.uid)
            .collect();
        if !doomed.is_empty() {
            selected.mailbox.expunge(&doomed)?;
            store::announce(selected.mailbox.dir());
        }
        self.remove_from_view(&doomed);
        self.report_changes(true);
        Ok(Done::ok("EXPUNGE completed"))
    }

    /// Sends `* n EXPUNGE` for each of `uids` still in the view and drops them from it
    /// (ascending, each number as it is at that moment, as in RFC 3501 §7.4.1's example).
    fn remove_from_view(&mut self, uids: &[u32]) {
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        let gone: HashSet<u32> = uids.iter().copied().collect();
        let mut lines = String::new();
        let mut i = 0;
        while i < selected.view.len() {
            if gone.contains(&selected.view[i].uid) {
                lines.push_str(&format!("* {} EXPUNGE\r\n", i + 1));
                let entry = selected.view.remove(i);
                selected.recent.remove(&entry.uid);
            } else {
                i += 1;
            }
        }
        self.send(lines);
    }

    /// Syncs the selected mailbox and reports what others changed: expunges (when allowed),
    /// new messages, flag changes.
    fn report_changes(&mut self, allow_expunge: bool) {
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        let synced = match selected.mailbox.sync() {
            Ok(synced) => synced,
            Err(err) => {
                tracing::warn!(peer = %self.peer, "imap: sync failed: {err}");
                return;
            }
        };
        selected.recent.extend(synced.recent);
        if allow_expunge {
            let gone: Vec<u32> = selected
                .view
                .iter()
                .filter(|e| selected.mailbox.get(e.uid).is_none())
                .map(|e| e.uid)
                .collect();
            if !gone.is_empty() {
                self.remove_from_view(&gone);
            }
        }
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        let mut lines = String::new();
        for (i, entry) in selected.view.iter_mut().enumerate() {
            if let Some(info) = selected.mailbox.get(entry.uid)
                && info.flags != entry.flags
            {
                entry.flags = info.flags.clone();
                let recent = selected.recent.contains(&entry.uid);
                lines.push_str(&format!(
                    "* {} FETCH (FLAGS {})\r\n",
                    i + 1,
                    flag_list(&entry.flags, recent)
                ));
            }
        }
        let last = selected.view.last().map_or(0, |e| e.uid);
        let arrived: Vec<ViewEntry> = selected
            .mailbox
            .messages()
            .iter()
            .filter(|m| m.uid > last)
            .map(|m| ViewEntry {
                uid: m.uid,
                flags: m.flags.clone(),
            })
            .collect();
        if !arrived.is_empty() {
            selected.view.extend(arrived);
            let recent = selected
                .view
                .iter()
                .filter(|e| selected.recent.contains(&e.uid))
                .count();
            lines.push_str(&format!(
                "* {} EXISTS\r\n* {recent} RECENT\r\n",
                selected.view.len()
            ));
        }
        self.send(lines);
    }

    /// The view positions a set names: sequence numbers (an error if beyond the mailbox, as
    /// §9 says they must exist) or UIDs (missing ones are ignored, §6.4.8).
    fn resolve(&self, uid: bool, set: &SequenceSet) -> Result<Vec<usize>, Done> {
        let Some(selected) = &self.selected else {
            return Err(Done::no("No mailbox selected"));
        };
        let view = &selected.view;
        if uid {
            let largest = view.last().map_or(0, |e| e.uid);
            return Ok(view
                .iter()
                .enumerate()
                .filter(|(_, e)| set.contains(e.uid, largest))
                .map(|(i, _)| i)
                .collect());
        }
        let count = view.len() as u32;
        let out_of_range = set.0.iter().any(|&(a, b)| {
            [a, b].iter().any(|n| match n {
                super::command::SeqNumber::Value(v) => *v > count,
                super::command::SeqNumber::Largest => count == 0,
            })
        });
        if out_of_range {
            return Err(Done::bad("Invalid message sequence number"));
        }
        Ok((0..view.len())
            .filter(|&i| set.contains(i as u32 + 1, count))
            .collect())
    }

    fn search(&mut self, uid: bool, charset: Option<&str>, key: &SearchKey) -> io::Result<Done> {
        if let Some(charset) = charset
            && !is_ascii_or_utf8(charset)
            && crate::message::charset::lookup(charset).is_none()
        {
            return Ok(Done::no("[BADCHARSET (UTF-8 US-ASCII)] Unknown charset"));
        }
        let Some(selected) = &self.selected else {
            return Ok(Done::no("No mailbox selected"));
        };
        let largest_seq = selected.view.len() as u32;
        let largest_uid = selected.view.last().map_or(0, |e| e.uid);
        let mut found = Vec::new();
        for (i, entry) in selected.view.iter().enumerate() {
            let Some(info) = selected.mailbox.get(entry.uid) else {
                continue;
            };
            let candidate = Candidate {
                seq: i as u32 + 1,
                uid: entry.uid,
                flags: &entry.flags,
                recent: selected.recent.contains(&entry.uid),
                internal_date: info.internal_date,
                size: info.size,
                largest_seq,
                largest_uid,
            };
            let mailbox = &selected.mailbox;
            let mut content = Content::new(|| mailbox.content(entry.uid).ok());
            if matches(key, &candidate, &mut content) {
                found.push(if uid { entry.uid } else { i as u32 + 1 });
            }
        }
        let mut line = String::from("* SEARCH");
        for n in found {
            line.push_str(&format!(" {n}"));
        }
        line.push_str("\r\n");
        self.send(line);
        self.report_changes(uid);
        Ok(Done::ok(if uid {
            "UID SEARCH completed"
        } else {
            "SEARCH completed"
        }))
    }

    fn fetch(&mut self, uid: bool, set: &SequenceSet, items: &[FetchAttr]) -> io::Result<Done> {
        let positions = match self.resolve(uid, set) {
            Ok(positions) => positions,
            Err(done) => return Ok(done),
        };
        let Some(selected) = self.selected.as_mut() else {
            return Ok(Done::no("No mailbox selected"));
        };
        let needs_content = items.iter().any(|item| {
            !matches!(
                item,
                FetchAttr::Flags | FetchAttr::Uid | FetchAttr::InternalDate | FetchAttr::Rfc822Size
            )
        });
        let marks_seen = !selected.read_only
            && items.iter().any(|item| {
                matches!(
                    item,
                    FetchAttr::Rfc822
                        | FetchAttr::Rfc822Text
                        | FetchAttr::Section { peek: false, .. }
                )
            });
        let mut missing = false;
        let mut changed = false;
        for i in positions {
            let entry_uid = selected.view[i].uid;
            let Some(info) = selected.mailbox.get(entry_uid).cloned() else {
                missing = true;
                continue;
            };
            let content = if needs_content {
                match selected.mailbox.content(entry_uid) {
                    Ok(content) => Some(content),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {
                        missing = true;
                        continue;
                    }
                    Err(err) => return Err(err),
                }
            } else {
                None
            };
            let raw = content.as_ref().map(|content| content.bytes());
            let message = content.as_ref().and_then(|content| content.message());
            let mut flags_changed = false;
            if marks_seen && !selected.view[i].flags.seen {
                let mut flags = info.flags.clone();
                flags.seen = true;
                match selected.mailbox.set_flags(entry_uid, &flags) {
                    Ok(()) => {
                        selected.view[i].flags = flags;
                        flags_changed = true;
                        changed = true;
                    }
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(err),
                }
            }
            let mut out: Vec<u8> = format!("* {} FETCH (", i + 1).into_bytes();
            let mut first = true;
            let mut sep = |out: &mut Vec<u8>| {
                if !first {
                    out.push(b' ');
                }
                first = false;
            };
            if uid && !items.contains(&FetchAttr::Uid) {
                sep(&mut out);
                out.extend_from_slice(format!("UID {entry_uid}").as_bytes());
            }
            let recent = selected.recent.contains(&entry_uid);
            let flags = &selected.view[i].flags;
            for item in items {
                sep(&mut out);
                write_item(
                    &mut out, item, entry_uid, flags, recent, &info, raw, message,
                );
            }
            if flags_changed && !items.contains(&FetchAttr::Flags) {
                sep(&mut out);
                out.extend_from_slice(format!("FLAGS {}", flag_list(flags, recent)).as_bytes());
            }
            out.extend_from_slice(b")\r\n");
            self.out.extend_from_slice(&out);
        }
        if changed && let Some(selected) = &self.selected {
            store::announce(selected.mailbox.dir());
        }
        self.report_changes(uid);
        Ok(if missing {
            Done::no("[EXPUNGEISSUED] Some of the requested messages no longer exist")
        } else if uid {
            Done::ok("UID FETCH completed")
        } else {
            Done::ok("FETCH completed")
        })
    }

    fn store_flags(
        &mut self,
        uid: bool,
        set: &SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: &[Flag],
    ) -> io::Result<Done> {
        let positions = match self.resolve(uid, set) {
            Ok(positions) => positions,
            Err(done) => return Ok(done),
        };
        let Some(selected) = self.selected.as_mut() else {
            return Ok(Done::no("No mailbox selected"));
        };
        if selected.read_only {
            return Ok(Done::no("[READ-ONLY] Mailbox is read-only"));
        }
        // Start from the flags on disk, so another session's change is not undone.
        selected.mailbox.sync()?;
        let mut changed = false;
        let mut missing = false;
        let mut lines = String::new();
        for i in positions {
            let entry_uid = selected.view[i].uid;
            let Some(info) = selected.mailbox.get(entry_uid) else {
                missing = true;
                continue;
            };
            let mut new = match mode {
                StoreMode::Replace => Flags::default(),
                _ => info.flags.clone(),
            };
            for flag in flags {
                new.set(flag, mode != StoreMode::Remove);
            }
            if new != info.flags {
                match selected.mailbox.set_flags(entry_uid, &new) {
                    Ok(()) => changed = true,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {
                        missing = true;
                        continue;
                    }
                    Err(err) => return Err(err),
                }
            }
            selected.view[i].flags = new;
            if !silent {
                let recent = selected.recent.contains(&entry_uid);
                let uid_part = if uid {
                    format!(" UID {entry_uid}")
                } else {
                    String::new()
                };
                lines.push_str(&format!(
                    "* {} FETCH (FLAGS {}{uid_part})\r\n",
                    i + 1,
                    flag_list(&selected.view[i].flags, recent)
                ));
            }
        }
        if changed {
            store::announce(selected.mailbox.dir());
        }
        self.send(lines);
        self.report_changes(uid);
        Ok(if missing {
            Done::no("[EXPUNGEISSUED] Some of the messages no longer exist")
        } else {
            Done::ok("STORE completed")
        })
    }

    fn copy(
        &mut self,
        uid: bool,
        set: &SequenceSet,
        target: &str,
        remove: bool,
    ) -> io::Result<Done> {
        let positions = match self.resolve(uid, set) {
            Ok(positions) => positions,
            Err(done) => return Ok(done),
        };
        let (Some(store), Some(selected)) = (&self.store, self.selected.as_mut()) else {
            return Ok(Done::no("No mailbox selected"));
        };
        if remove && selected.read_only {
            return Ok(Done::no("[READ-ONLY] Mailbox is read-only"));
        }
        let mut destination = match store.open_mailbox(target) {
            Ok(mailbox) => mailbox,
            Err(StoreError::NoSuchMailbox) => {
                return Ok(Done::no("[TRYCREATE] Mailbox does not exist"));
            }
            Err(err) => return Ok(store_failure(err)),
        };
        let uids: Vec<u32> = positions.iter().map(|&i| selected.view[i].uid).collect();
        let pairs = selected.mailbox.copy_to(&uids, &mut destination)?;
        if !pairs.is_empty() {
            store::announce(destination.dir());
        }
        let code = if pairs.is_empty() {
            String::new()
        } else {
            let sources: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let targets: Vec<u32> = pairs.iter().map(|p| p.1).collect();
            format!(
                "[COPYUID {} {} {}] ",
                destination.uidvalidity(),
                uid_set(&sources),
                uid_set(&targets)
            )
        };
        if !remove {
            self.report_changes(true);
            return Ok(Done::ok(&format!("{code}COPY completed")));
        }
        // RFC 6851 §4.3: COPYUID in an untagged OK, then the expunges.
        if !code.is_empty() {
            self.send(format!("* OK {code}Moved\r\n"));
        }
        let moved: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        if let Some(selected) = self.selected.as_mut()
            && !moved.is_empty()
        {
            selected.mailbox.expunge(&moved)?;
            store::announce(selected.mailbox.dir());
        }
        self.remove_from_view(&moved);
        self.report_changes(true);
        Ok(Done::ok("MOVE completed"))
    }
}

/// One FETCH data item.
#[allow(clippy::too_many_arguments)]
fn write_item(
    out: &mut Vec<u8>,
    item: &FetchAttr,
    uid: u32,
    flags: &Flags,
    recent: bool,
    info: &crate::store::MessageInfo,
    raw: Option<&[u8]>,
    message: Option<&Message>,
) {
    let raw = raw.unwrap_or_default();
    match item {
        FetchAttr::Uid => out.extend_from_slice(format!("UID {uid}").as_bytes()),
        FetchAttr::Flags => {
            out.extend_from_slice(format!("FLAGS {}", flag_list(flags, recent)).as_bytes());
        }
        FetchAttr::InternalDate => out.extend_from_slice(
            format!("INTERNALDATE {}", format_date_time(info.internal_date)).as_bytes(),
        ),
        FetchAttr::Rfc822Size => {
            out.extend_from_slice(format!("RFC822.SIZE {}", info.size).as_bytes());
        }
        FetchAttr::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            match message {
                Some(m) => envelope(out, m.headers()),
                None => out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
            }
        }
        FetchAttr::Body | FetchAttr::BodyStructure => {
            let extensible = matches!(item, FetchAttr::BodyStructure);
            out.extend_from_slice(if extensible {
                b"BODYSTRUCTURE "
            } else {
                b"BODY "
            });
            match message {
                Some(m) => body_structure(out, m, m.root(), extensible),
                None => out.extend_from_slice(
                    format!("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" {} 0)", raw.len()).as_bytes(),
                ),
            }
        }
        FetchAttr::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            response::literal(out, raw);
        }
        FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
            let header = matches!(item, FetchAttr::Rfc822Header);
            out.extend_from_slice(if header {
                b"RFC822.HEADER "
            } else {
                b"RFC822.TEXT "
            });
            let bytes = message.map(|m| {
                let range = if header {
                    m.root().header_range.clone()
                } else {
                    m.root().body_range.clone()
                };
                m.slice(range)
            });
            response::literal(out, bytes.unwrap_or_default());
        }
        FetchAttr::Section {
            section, partial, ..
        } => {
            out.extend_from_slice(format!("BODY[{}]", section.spec()).as_bytes());
            let bytes = match message {
                Some(m) => section_bytes(m, section),
                None if section.part.is_empty() && section.text.is_none() => Some(raw.to_vec()),
                None => None,
            };
            match (bytes, partial) {
                (None, _) => out.extend_from_slice(b" NIL"),
                (Some(bytes), None) => {
                    out.push(b' ');
                    response::literal(out, &bytes);
                }
                (Some(bytes), Some((origin, count))) => {
                    let start = (*origin as usize).min(bytes.len());
                    let end = start.saturating_add(*count as usize).min(bytes.len());
                    out.extend_from_slice(format!("<{origin}> ").as_bytes());
                    response::literal(out, &bytes[start..end]);
                }
            }
        }
    }
}

/// The tagged completion of a command.
struct Done {
    status: &'static str,
    text: String,
}

impl Done {
    fn ok(text: &str) -> Done {
        Done {
            status: "OK",
            text: text.to_string(),
        }
    }

    fn no(text: &str) -> Done {
        Done {
            status: "NO",
            text: text.to_string(),
        }
    }

    fn bad(text: &str) -> Done {
        Done {
            status: "BAD",
            text: text.to_string(),
        }
    }
}

/// A store error as a tagged NO with its RFC 5530 response code.
fn store_failure(err: StoreError) -> Done {
    match err {
        StoreError::NoSuchMailbox => Done::no("[NONEXISTENT] No such mailbox"),
        StoreError::AlreadyExists => Done::no("[ALREADYEXISTS] Mailbox already exists"),
        StoreError::InvalidName => Done::no("[CANNOT] Invalid mailbox name"),
        StoreError::InboxPermanent => Done::no("[CANNOT] INBOX cannot be deleted"),
        StoreError::Io(err) => {
            tracing::warn!("imap: store error: {err}");
            Done::no("[SERVERBUG] Internal error")
        }
    }
}

/// Base names of the messages waiting in `new/` (they become `\Recent` for whoever takes them).
fn names_in_new(dir: &Path) -> HashSet<String> {
    let Ok(entries) = fs::read_dir(dir.join("new")) else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .map(|n| n.split(':').next().unwrap_or_default().to_string())
        .collect()
}

/// `{n}` or `{n+}` ending a line: the length (`None` if absurd) and whether it is
/// synchronizing.
fn literal_at_end(line: &[u8]) -> Option<(Option<usize>, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let spec = &inner[open + 1..];
    let (digits, synchronizing) = match spec.strip_suffix(b"+") {
        Some(digits) => (digits, false),
        None => (spec, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = if digits.len() > 12 {
        None
    } else {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
    };
    Some((len, synchronizing))
}

/// RFC 3501 §6.3.8 wildcards: `*` matches anything, `%` anything but the delimiter. INBOX
/// matches without regard to case.
pub fn list_matches(pattern: &str, name: &str) -> bool {
    if name == "INBOX" && wildcard(&pattern.to_ascii_uppercase(), name) {
        return true;
    }
    wildcard(pattern, name)
}

fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // can[j] = pattern[..i] matches name[..j]
    let mut can = vec![false; n.len() + 1];
    can[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                let mut reachable = false;
                for j in 0..=n.len() {
                    if can[j] {
                        reachable = true;
                    }
                    next[j] = reachable;
                    if j < n.len() && pc == '%' && n[j] == DELIMITER {
                        reachable = false;
                    }
                }
            }
            _ => {
                for j in 0..n.len() {
                    next[j + 1] = can[j] && n[j] == pc;
                }
            }
        }
        can = next;
    }
    can[n.len()]
}

/// A command for a transcript: passwords redacted, literals summarised.
fn summarize(bytes: &[u8], command: &Command) -> String {
    match &command.kind {
        CommandKind::Login { user, .. } => format!("{} LOGIN {} ***", command.tag, quoted(user)),
        CommandKind::Authenticate {
            mechanism,
            initial: Some(_),
        } => format!("{} AUTHENTICATE {mechanism} ***", command.tag),
        _ => summarize_raw(bytes),
    }
}

fn summarize_raw(bytes: &[u8]) -> String {
    let first_line_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let first = String::from_utf8_lossy(&bytes[..first_line_end]);
    let first = first.trim_end_matches('\r');
    if first_line_end + 1 >= bytes.len() {
        first.to_string()
    } else if bytes.len() <= 200 && bytes.iter().all(|&b| b >= 0x20 || b == b'\r' || b == b'\n') {
        String::from_utf8_lossy(bytes)
            .trim_end()
            .replace("\r\n", " ")
    } else {
        format!("{first} … ({} bytes)", bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        assert!(list_matches("*", "a.b.c"));
        assert!(list_matches("%", "Sent"));
        assert!(!list_matches("%", "a.b"));
        assert!(list_matches("a.%", "a.b"));
        assert!(!list_matches("a.%", "a.b.c"));
        assert!(list_matches("a*c", "a.b.c"));
        assert!(list_matches("inbox", "INBOX"));
        assert!(list_matches("In%", "INBOX"));
        assert!(!list_matches("Sen", "Sent"));
    }

    #[test]
    fn literal_markers() {
        assert_eq!(literal_at_end(b"a LOGIN {5}\r\n"), Some((Some(5), true)));
        assert_eq!(literal_at_end(b"a LOGIN {5+}\n"), Some((Some(5), false)));
        assert_eq!(literal_at_end(b"a LOGIN {}\r\n"), None);
        assert_eq!(
            literal_at_end(b"a LOGIN {99999999999999999}\r\n"),
            Some((None, true))
        );
        assert_eq!(literal_at_end(b"a NOOP\r\n"), None);
    }
}
