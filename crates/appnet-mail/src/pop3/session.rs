//! The POP3 server state machine (RFC 1939), sans-IO: bytes in ([`Session::feed`]), outputs
//! out ([`Session::poll_output`]). It implements the AUTHORIZATION, TRANSACTION and UPDATE
//! states of RFC 1939 §3–§6 with the optional commands TOP, UIDL and USER/PASS (§7), CAPA,
//! PIPELINING and the extended response codes (RFC 2449), STLS (RFC 2595 §4), AUTH PLAIN
//! (RFC 5034, RFC 4616) and the `[AUTH]`/`[SYS/*]` codes (RFC 3206).
//!
//! The driver's loop: after creating the session and after every `feed`, `feed_eof`,
//! `tls_established` or `auth_result`, drain `poll_output` and act on each output in order.
//! Pipelined commands (RFC 2449 §6.6) are answered in order; input that arrives while a
//! password is checked stays buffered (bounded) and is processed once the driver answers.
//!
//! Once logged in, the session reads and changes the maildrop through [`Maildrop`], which is
//! blocking file I/O: a driver runs `auth_result`, and `feed` while [`Session::uses_store`],
//! off its async threads.

use std::collections::VecDeque;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::command::{Command, CommandError, MAX_COMMAND_LINE, parse_command, redact};
use super::maildrop::{Maildrop, OpenError};
use super::response::{
    AUTH, IN_USE, SYS_PERM, SYS_TEMP, err, message_lines, multi_line, ok, top_lines,
};

/// RFC 5034 §4 lets the SASL exchange's lines be longer than commands; a PLAIN response with
/// a long password fits in far less than this.
pub const MAX_SASL_LINE: usize = 4096;
/// Commands refused (unknown, malformed, out of place) before the session gives up on the
/// client, as Dovecot disconnects after too many bad commands.
pub const MAX_ERRORS: u32 = 20;
/// Input held while a password is checked; more is a client that does not wait at all.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;

/// What the session offers and enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The server's name, in the greeting and the sign-off.
    pub name: String,
    /// The driver can upgrade this connection (STLS is announced).
    pub tls_available: bool,
    /// The connection is already TLS (implicit TLS, RFC 8314, or after STLS).
    pub tls_active: bool,
    /// Allow USER/PASS and AUTH PLAIN without TLS (sensible on loopback only; RFC 2595 §2.1
    /// asks servers not to take clear-text passwords otherwise).
    pub plaintext_auth: bool,
}

impl SessionConfig {
    /// Defaults: no TLS, passwords only under TLS.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tls_available: false,
            tls_active: false,
            plaintext_auth: false,
        }
    }
}

/// What the session asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A whole response, encoded: write it.
    Send(Vec<u8>),
    /// The `+OK` to STLS has been sent: run the TLS handshake on the socket, then call
    /// [`Session::tls_established`] (or drop the connection if it fails).
    StartTls,
    /// Check these credentials (off the I/O thread: password hashing is slow), then call
    /// [`Session::auth_result`] with the account's address and Maildir, or `None`.
    Authenticate { user: String, password: String },
    /// A line the client sent, for a transcript (`C: ...`), when [`Session::set_trace`] is on.
    /// Passwords are redacted.
    Received(String),
    /// Close the connection after writing everything before this.
    Close,
}

#[derive(Debug)]
enum State {
    /// RFC 1939 §4; `user` is the name given by USER, waiting for PASS.
    Authorization {
        user: Option<String>,
    },
    /// After `AUTH PLAIN` without an initial response: the next line is the response.
    AuthPlain,
    /// A password is being checked; input stays buffered.
    WaitingAuth,
    /// The `+OK` to STLS is out; input is discarded until TLS is up (RFC 2595 §4).
    WaitingTls,
    /// RFC 1939 §5: logged in, the maildrop locked.
    Transaction(Box<Maildrop>),
    Closed,
}

/// One POP3 server conversation.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    input: Vec<u8>,
    /// The rest of an over-long line is being skipped.
    discarding: bool,
    outputs: VecDeque<Output>,
    errors: u32,
    trace: bool,
    authenticated_as: Option<String>,
}

impl Session {
    /// A new conversation; the greeting (RFC 1939 §4) is the first output.
    pub fn new(config: SessionConfig) -> Session {
        let greeting = ok(&format!("{} POP3 server ready", config.name));
        Session {
            config,
            state: State::Authorization { user: None },
            input: Vec::new(),
            discarding: false,
            outputs: VecDeque::from([Output::Send(greeting)]),
            errors: 0,
            trace: false,
            authenticated_as: None,
        }
    }

    /// Report each client line as [`Output::Received`].
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    /// The address logged in, once in the TRANSACTION state.
    pub fn authenticated_as(&self) -> Option<&str> {
        self.authenticated_as.as_deref()
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the next `feed` may touch the maildrop (blocking file I/O).
    pub fn uses_store(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    /// Bytes read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        match self.state {
            State::Closed | State::WaitingTls => return,
            State::WaitingAuth if self.input.len() + bytes.len() > MAX_PENDING_INPUT => {
                self.send(err("too much input while waiting"));
                self.close();
                return;
            }
            _ => {}
        }
        self.input.extend_from_slice(bytes);
        self.process();
    }

    /// The client closed the connection: the session ends without the UPDATE state, so no
    /// message marked deleted is removed (RFC 1939 §6), and the maildrop is unlocked.
    pub fn feed_eof(&mut self) {
        if !self.is_closed() {
            self.close();
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The TLS handshake after STLS succeeded: start over in AUTHORIZATION, forgetting anything
    /// the client sent before the handshake (RFC 2595 §4; it could have been injected).
    pub fn tls_established(&mut self) {
        if matches!(self.state, State::WaitingTls) {
            self.config.tls_active = true;
            self.input.clear();
            self.discarding = false;
            self.state = State::Authorization { user: None };
        }
    }

    /// The answer to [`Output::Authenticate`]: the account's address and Maildir, or `None` if
    /// the credentials are wrong. Opens (and locks) the maildrop: blocking file I/O.
    pub fn auth_result(&mut self, account: Option<(String, PathBuf)>) {
        if !matches!(self.state, State::WaitingAuth) {
            return;
        }
        self.state = State::Authorization { user: None };
        let Some((address, maildir)) = account else {
            self.errors += 1;
            self.send(err(&format!("{AUTH} Authentication failed")));
            self.check_errors();
            self.process();
            return;
        };
        match Maildrop::open(&maildir) {
            Ok(maildrop) => {
                let (count, octets) = maildrop.stat();
                self.send(ok(&format!(
                    "{address}'s maildrop has {count} messages ({octets} octets)"
                )));
                self.authenticated_as = Some(address);
                self.state = State::Transaction(Box::new(maildrop));
            }
            Err(OpenError::InUse) => {
                self.send(err(&format!(
                    "{IN_USE} the maildrop is locked by another POP3 session"
                )));
            }
            Err(OpenError::Io(error)) => {
                tracing::warn!("pop3: cannot open the maildrop of {address}: {error}");
                self.send(err(&format!("{SYS_TEMP} cannot open the maildrop")));
            }
        }
        self.process();
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.outputs.push_back(Output::Send(bytes));
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.input.clear();
        self.outputs.push_back(Output::Close);
    }

    /// Answers every complete line buffered, in order, until one needs the driver.
    fn process(&mut self) {
        loop {
            let limit = match self.state {
                State::Authorization { .. } | State::Transaction(_) => MAX_COMMAND_LINE,
                State::AuthPlain => MAX_SASL_LINE,
                State::WaitingAuth | State::WaitingTls | State::Closed => return,
            };
            let Some(end) = self.input.iter().position(|&b| b == b'\n') else {
                if self.input.len() + 2 > limit {
                    self.input.clear();
                    if !self.discarding {
                        self.discarding = true;
                        self.line_too_long();
                    }
                }
                return;
            };
            let mut line: Vec<u8> = self.input.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if self.discarding {
                self.discarding = false;
                continue;
            }
            if line.len() + 2 > limit {
                self.line_too_long();
                continue;
            }
            if matches!(self.state, State::AuthPlain) {
                if self.trace {
                    self.outputs.push_back(Output::Received("********".into()));
                }
                self.sasl_response(&line);
                continue;
            }
            if self.trace {
                self.outputs.push_back(Output::Received(redact(&line)));
            }
            match parse_command(&line) {
                Ok(command) => self.command(command),
                Err(error) => self.refuse(&error.to_string()),
            }
        }
    }

    fn line_too_long(&mut self) {
        if matches!(self.state, State::AuthPlain) {
            self.state = State::Authorization { user: None };
        }
        self.refuse(&CommandError::TooLong.to_string());
    }

    /// A bad command: `-ERR`, and the end of the session after too many.
    fn refuse(&mut self, reason: &str) {
        self.errors += 1;
        self.send(err(reason));
        self.check_errors();
    }

    fn check_errors(&mut self) {
        if self.errors >= MAX_ERRORS && !self.is_closed() {
            self.send(err("too many bad commands, closing"));
            self.close();
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Capa => self.send(self.capabilities()),
            Command::Quit => self.quit(),
            _ if self.uses_store() => self.transaction(command),
            command => self.authorization(command),
        }
    }

    /// RFC 2449 §5: what this server offers in the current state.
    fn capabilities(&self) -> Vec<u8> {
        let mut caps: Vec<&[u8]> = vec![
            b"TOP",
            b"UIDL",
            b"RESP-CODES",
            b"AUTH-RESP-CODE",
            b"PIPELINING",
        ];
        if !self.uses_store() {
            if self.auth_allowed() {
                caps.push(b"USER");
                caps.push(b"SASL PLAIN");
            }
            if self.config.tls_available && !self.config.tls_active {
                caps.push(b"STLS");
            }
        }
        caps.push(b"IMPLEMENTATION appnet");
        multi_line("Capability list follows", caps)
    }

    fn auth_allowed(&self) -> bool {
        self.config.tls_active || self.config.plaintext_auth
    }

    fn quit(&mut self) {
        let name = self.config.name.clone();
        let state = std::mem::replace(&mut self.state, State::Closed);
        let reply = match state {
            // RFC 1939 §6: the UPDATE state.
            State::Transaction(maildrop) => match maildrop.commit() {
                Ok(0) => ok(&format!("{name} POP3 server signing off (maildrop empty)")),
                Ok(left) => ok(&format!(
                    "{name} POP3 server signing off ({left} messages left)"
                )),
                Err(error) => {
                    tracing::warn!("pop3: cannot remove deleted messages: {error}");
                    err(&format!("{SYS_TEMP} some deleted messages not removed"))
                }
            },
            _ => ok(&format!("{name} POP3 server signing off")),
        };
        self.send(reply);
        self.close();
    }

    /// RFC 1939 §4 and §7, RFC 2595 §4, RFC 5034 §4.
    fn authorization(&mut self, command: Command) {
        let plaintext_refused = || {
            err(&format!(
                "{AUTH} Plaintext authentication disallowed on non-secure connections"
            ))
        };
        match command {
            Command::Stls if self.config.tls_active => {
                self.refuse("STLS: TLS is already active");
            }
            Command::Stls if !self.config.tls_available => {
                self.refuse("STLS: TLS is not available");
            }
            Command::Stls => {
                self.send(ok("Begin TLS negotiation"));
                self.outputs.push_back(Output::StartTls);
                self.state = State::WaitingTls;
                self.input.clear();
            }
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } if !self.auth_allowed() => {
                self.errors += 1;
                self.send(plaintext_refused());
                self.check_errors();
            }
            Command::User(name) => {
                self.state = State::Authorization { user: Some(name) };
                self.send(ok("send your password"));
            }
            Command::Pass(password) => {
                let user = match &mut self.state {
                    State::Authorization { user } => user.take(),
                    _ => None,
                };
                match user {
                    Some(user) => self.authenticate(user, password),
                    None => self.refuse("PASS: send USER first"),
                }
            }
            Command::Auth {
                mechanism: None, ..
            } => {
                self.send(multi_line("mechanisms follow", [&b"PLAIN"[..]]));
            }
            Command::Auth {
                mechanism: Some(mechanism),
                initial_response,
            } => {
                if mechanism != "PLAIN" {
                    self.refuse("AUTH: unsupported mechanism");
                } else if let Some(response) = initial_response {
                    self.sasl_response(response.as_bytes());
                } else {
                    self.send(b"+ \r\n".to_vec());
                    self.state = State::AuthPlain;
                }
            }
            other => {
                let keyword = other.keyword();
                self.refuse(&format!("{keyword}: not valid before login"));
            }
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`, base64; `*` cancels (RFC 5034 §4), `=`
    /// is an empty response.
    fn sasl_response(&mut self, line: &[u8]) {
        self.state = State::Authorization { user: None };
        if line == b"*" {
            self.refuse("AUTH: cancelled");
            return;
        }
        let decoded = if line == b"=" {
            Some(Vec::new())
        } else {
            BASE64.decode(line).ok()
        };
        let Some(decoded) = decoded else {
            self.refuse("AUTH: invalid base64");
            return;
        };
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.refuse("AUTH: malformed PLAIN response");
            return;
        };
        let (Ok(authzid), Ok(user), Ok(password)) = (
            std::str::from_utf8(authzid),
            std::str::from_utf8(authcid),
            std::str::from_utf8(password),
        ) else {
            self.refuse("AUTH: malformed PLAIN response");
            return;
        };
        if !authzid.is_empty() && authzid != user {
            self.errors += 1;
            self.send(err(&format!("{AUTH} cannot act as another user")));
            self.check_errors();
            return;
        }
        self.authenticate(user.to_string(), password.to_string());
    }

    fn authenticate(&mut self, user: String, password: String) {
        self.state = State::WaitingAuth;
        self.outputs
            .push_back(Output::Authenticate { user, password });
    }

    /// RFC 1939 §5 and §7, in the TRANSACTION state.
    fn transaction(&mut self, command: Command) {
        let State::Transaction(maildrop) = &mut self.state else {
            return;
        };
        let reply = match command {
            Command::Stat => {
                let (count, octets) = maildrop.stat();
                ok(&format!("{count} {octets}"))
            }
            Command::List(None) => {
                let (count, octets) = maildrop.stat();
                let lines: Vec<Vec<u8>> = maildrop
                    .list()
                    .into_iter()
                    .map(|(n, size)| format!("{n} {size}").into_bytes())
                    .collect();
                multi_line(
                    &format!("{count} messages ({octets} octets)"),
                    lines.iter().map(Vec::as_slice),
                )
            }
            Command::List(Some(n)) => match maildrop.size(n) {
                Some(size) => ok(&format!("{n} {size}")),
                None => no_such_message(maildrop, n),
            },
            Command::Uidl(None) => {
                let lines: Vec<Vec<u8>> = maildrop
                    .unique_ids()
                    .into_iter()
                    .map(|(n, id)| format!("{n} {id}").into_bytes())
                    .collect();
                multi_line("", lines.iter().map(Vec::as_slice))
            }
            Command::Uidl(Some(n)) => match maildrop.unique_id(n) {
                Some(id) => ok(&format!("{n} {id}")),
                None => no_such_message(maildrop, n),
            },
            Command::Retr(n) => match maildrop.read(n) {
                Some(Ok(content)) => {
                    let size = maildrop.size(n).unwrap_or_default();
                    let reply = multi_line(&format!("{size} octets"), message_lines(&content));
                    maildrop.mark_seen(n);
                    reply
                }
                Some(Err(error)) => unreadable(n, &error),
                None => no_such_message(maildrop, n),
            },
            Command::Top(n, lines) => match maildrop.read(n) {
                Some(Ok(content)) => multi_line("", top_lines(&content, lines)),
                Some(Err(error)) => unreadable(n, &error),
                None => no_such_message(maildrop, n),
            },
            Command::Dele(n) => {
                if maildrop.delete(n) {
                    ok(&format!("message {n} deleted"))
                } else {
                    no_such_message(maildrop, n)
                }
            }
            Command::Rset => {
                maildrop.reset();
                let (count, octets) = maildrop.stat();
                ok(&format!("maildrop has {count} messages ({octets} octets)"))
            }
            Command::Noop => ok(""),
            other => {
                let keyword = other.keyword();
                self.refuse(&format!("{keyword}: not valid after login"));
                return;
            }
        };
        self.send(reply);
    }
}

fn no_such_message(maildrop: &Maildrop, n: u32) -> Vec<u8> {
    if maildrop.is_deleted(n) {
        err(&format!("message {n} already deleted"))
    } else {
        let (count, _) = maildrop.stat();
        err(&format!(
            "no such message, only {count} messages in maildrop"
        ))
    }
}

fn unreadable(n: u32, error: &std::io::Error) -> Vec<u8> {
    if error.kind() == std::io::ErrorKind::NotFound {
        err(&format!(
            "{SYS_PERM} message {n} was removed by another client"
        ))
    } else {
        tracing::warn!("pop3: cannot read message {n}: {error}");
        err(&format!("{SYS_TEMP} cannot read message {n}"))
    }
}
