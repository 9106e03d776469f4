//! The SMTP server state machine, sans-IO: bytes in ([`ServerSession::feed`]), outputs out
//! ([`ServerSession::poll_output`]). It implements RFC 5321 §3 (procedures), §4.1 (commands),
//! §4.2 (replies), §4.3.2 (command sequencing), §4.5.2 (transparency) and §4.5.3 (limits),
//! with the extensions EHLO (RFC 5321 §4.1.1.1), PIPELINING (RFC 2920), SIZE (RFC 1870),
//! 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034 / RFC 3463),
//! STARTTLS (RFC 3207) and AUTH PLAIN / LOGIN (RFC 4954, RFC 4616).
//!
//! The driver's loop: after creating the session and after every `feed`, `feed_eof`,
//! `tls_established`, `auth_result` or `message_stored`, drain `poll_output` and act on each
//! output in order. Input that arrives while a message is being stored, a password checked or
//! TLS set up stays buffered (bounded) and is processed when the driver answers, so replies to
//! pipelined commands always leave in order.

use std::collections::VecDeque;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::command::{BodyType, Command, CommandError, MailParams, parse_command};
use super::data::DataReader;
use super::reply::Reply;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// RFC 4954 §4: lines of the AUTH exchange (the command with its initial response, and every
/// response) may be up to 12288 octets.
pub const MAX_AUTH_LINE: usize = 12288;
/// Permanent-failure replies before the session gives up on the client (as Postfix's
/// `smtpd_hard_error_limit`, default 20).
pub const MAX_ERRORS: u32 = 20;
/// Input held while waiting for the driver. Pipelined commands after one transaction's end of
/// data fit easily; more than this is a client that does not wait for replies at all.
pub const MAX_PENDING_INPUT: usize = 64 * 1024;

/// What the server offers and enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Our name, in the greeting and the first EHLO line.
    pub hostname: String,
    /// RFC 1870: announced as `SIZE n` and enforced during DATA.
    pub max_message_bytes: usize,
    /// RFC 5321 §4.5.3.1.8 asks for at least 100.
    pub max_recipients: usize,
    /// The driver can upgrade this connection (STARTTLS is announced).
    pub tls_available: bool,
    /// Allow AUTH on a plaintext connection (sensible on loopback only).
    pub auth_without_tls: bool,
    /// The connection is already TLS (implicit TLS, RFC 8314, or after STARTTLS).
    pub tls_active: bool,
}

impl ServerConfig {
    /// Defaults: 10 MiB messages, 100 recipients, no TLS, AUTH only under TLS.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 100,
            tls_available: false,
            auth_without_tls: false,
            tls_active: false,
        }
    }
}

/// The answer to a recipient check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptVerdict {
    Accept,
    /// 550 5.1.1: a local domain without that mailbox.
    UnknownUser,
    /// 554 5.7.1: not a local domain and the client may not relay.
    RelayDenied,
    /// 451 4.3.0: try again later.
    TemporaryFailure,
    /// Any other reply.
    Reject(Reply),
}

impl RcptVerdict {
    fn reply(self) -> Option<Reply> {
        match self {
            Self::Accept => None,
            Self::UnknownUser => Some(Reply::with_status(
                550,
                (5, 1, 1),
                "Recipient address rejected: user unknown",
            )),
            Self::RelayDenied => Some(Reply::with_status(554, (5, 7, 1), "Relay access denied")),
            Self::TemporaryFailure => Some(Reply::with_status(
                451,
                (4, 3, 0),
                "Temporary failure, try again later",
            )),
            Self::Reject(reply) => Some(reply),
        }
    }
}

/// Who may send and receive: local mailboxes, relay rules. The session asks; the driver's
/// implementation answers from its accounts and configuration.
pub trait Policy {
    /// Checked at MAIL FROM; `None` accepts, `Some(reply)` refuses with that reply.
    fn check_sender(&self, _mail_from: &str, _authenticated_as: Option<&str>) -> Option<Reply> {
        None
    }

    /// Checked at each RCPT TO.
    fn check_recipient(&self, rcpt: &str, authenticated_as: Option<&str>) -> RcptVerdict;
}

/// Accepts every sender and recipient: for tests and for a catch-all learning server.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl Policy for AcceptAll {
    fn check_recipient(&self, _rcpt: &str, _authenticated_as: Option<&str>) -> RcptVerdict {
        RcptVerdict::Accept
    }
}

/// The SASL mechanisms offered (RFC 4616 PLAIN; LOGIN, the widely deployed
/// draft-murchison-sasl-login).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Plain,
    Login,
}

/// Everything known about a message besides its content (RFC 5321 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The HELO/EHLO argument.
    pub helo: String,
    /// `""` for the null reverse path `<>` (bounces).
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// MAIL ... BODY=8BITMIME.
    pub body_8bit: bool,
    /// MAIL ... SMTPUTF8.
    pub smtputf8: bool,
    /// MAIL ... SIZE=n.
    pub declared_size: Option<u64>,
    pub authenticated_as: Option<String>,
    /// The message arrived over TLS.
    pub tls: bool,
}

/// What the session asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// One whole reply, encoded: write it.
    Send(Vec<u8>),
    /// The 220 to STARTTLS has been sent: run the TLS handshake on the socket, then call
    /// [`ServerSession::tls_established`] (or drop the connection if it fails).
    StartTls,
    /// Check these credentials (off the I/O thread: password hashing is slow), then call
    /// [`ServerSession::auth_result`].
    Authenticate {
        mechanism: AuthMechanism,
        user: String,
        password: String,
    },
    /// A complete, un-dot-stuffed message (CRLF line endings). Store it durably, then call
    /// [`ServerSession::message_stored`]; only then is the client told 250.
    Message(Envelope, Vec<u8>),
    /// A line the client sent, for a transcript (`C: ...`), when [`ServerSession::set_trace`]
    /// is on. Credentials are redacted and message content summarised.
    Received(String),
    /// Close the connection after writing everything before this.
    Close,
}

#[derive(Debug)]
enum Mode {
    Command,
    Data(DataReader),
    /// After `AUTH PLAIN` without an initial response: the next line is the response.
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword {
        user: String,
    },
    /// An output is outstanding; input stays buffered until the driver answers.
    Waiting(Wait),
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Message,
    Auth,
    Tls,
}

#[derive(Debug)]
struct Hello {
    name: String,
    /// EHLO rather than HELO: extensions may be used (RFC 5321 §4.1.1.1).
    extended: bool,
}

#[derive(Debug)]
struct Transaction {
    mail_from: String,
    params: MailParams,
    rcpt_to: Vec<String>,
}

/// One SMTP server connection.
pub struct ServerSession {
    config: ServerConfig,
    policy: Arc<dyn Policy + Send + Sync>,
    peer: String,
    input: Vec<u8>,
    outputs: VecDeque<Output>,
    mode: Mode,
    hello: Option<Hello>,
    transaction: Option<Transaction>,
    authenticated_as: Option<String>,
    errors: u32,
    /// Inside a command line longer than the limit: dropping bytes until its LF.
    discarding_line: bool,
    eof: bool,
    /// More input arrived while waiting than [`MAX_PENDING_INPUT`].
    overflow: bool,
    trace: bool,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("peer", &self.peer)
            .field("mode", &self.mode)
            .field("hello", &self.hello)
            .field("transaction", &self.transaction)
            .field("authenticated_as", &self.authenticated_as)
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// A new connection from `peer` (for logs, e.g. "127.0.0.1:50312"); the first output is
    /// the 220 greeting (RFC 5321 §3.1). RFC 2034 §3: no enhanced code in the greeting.
    pub fn new(
        config: ServerConfig,
        policy: Arc<dyn Policy + Send + Sync>,
        peer: impl Into<String>,
    ) -> Self {
        let greeting = Reply::new(220, None, format!("{} ESMTP appnet", config.hostname));
        let mut session = Self {
            config,
            policy,
            peer: peer.into(),
            input: Vec::new(),
            outputs: VecDeque::new(),
            mode: Mode::Command,
            hello: None,
            transaction: None,
            authenticated_as: None,
            errors: 0,
            discarding_line: false,
            eof: false,
            overflow: false,
            trace: false,
        };
        session.send(&greeting);
        session
    }

    /// Emit [`Output::Received`] for every line processed.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on;
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub fn authenticated_as(&self) -> Option<&str> {
        self.authenticated_as.as_deref()
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Closed => return,
            // RFC 3207 §5: bytes after STARTTLS that arrive before the handshake are not part
            // of the TLS session; the driver should never feed them, and we drop them if it does.
            Mode::Waiting(Wait::Tls) => return,
            _ => {}
        }
        if self.overflow {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.process();
    }

    /// The client closed its side. An unfinished message is dropped, never delivered.
    pub fn feed_eof(&mut self) {
        self.eof = true;
        self.process();
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The TLS handshake after [`Output::StartTls`] succeeded. The client must EHLO again.
    pub fn tls_established(&mut self) {
        if let Mode::Waiting(Wait::Tls) = self.mode {
            self.config.tls_active = true;
            self.mode = Mode::Command;
            self.process();
        }
    }

    /// The answer to [`Output::Authenticate`]: the authenticated identity, or `None` for
    /// wrong credentials.
    pub fn auth_result(&mut self, identity: Option<String>) {
        if self.mode_is(Wait::Auth) {
            self.mode = Mode::Command;
            match identity {
                Some(identity) => {
                    self.authenticated_as = Some(identity);
                    self.reply(Reply::with_status(
                        235,
                        (2, 7, 0),
                        "Authentication successful",
                    ));
                }
                // RFC 4954 §6.
                None => self.reply(Reply::with_status(
                    535,
                    (5, 7, 8),
                    "Authentication credentials invalid",
                )),
            }
            self.process();
        }
    }

    /// The answer to [`Output::Message`]: the queue id, or why it could not be stored.
    pub fn message_stored(&mut self, result: Result<String, String>) {
        if self.mode_is(Wait::Message) {
            self.mode = Mode::Command;
            match result {
                Ok(id) => self.reply(Reply::with_status(
                    250,
                    (2, 0, 0),
                    format!("Ok: queued as {id}"),
                )),
                // RFC 5321 §4.2.3: 451 local error in processing; the client retries.
                Err(error) => self.reply(Reply::with_status(
                    451,
                    (4, 3, 0),
                    format!("Error: message not stored: {error}"),
                )),
            }
            self.process();
        }
    }

    fn mode_is(&self, wait: Wait) -> bool {
        matches!(self.mode, Mode::Waiting(w) if w == wait)
    }

    /// Runs every complete line buffered, until input runs out or the driver must answer.
    fn process(&mut self) {
        if self.overflow && !matches!(self.mode, Mode::Waiting(_) | Mode::Closed) {
            self.close_with_421("Error: too much pipelined input");
            return;
        }
        loop {
            match &mut self.mode {
                Mode::Closed | Mode::Waiting(_) => break,
                Mode::Data(reader) => {
                    let (used, done) = reader.consume(&self.input);
                    self.input.drain(..used);
                    if !done {
                        break;
                    }
                    self.end_of_data();
                }
                _ => match self.next_line() {
                    Some(line) => self.line(line),
                    None => break,
                },
            }
        }
        if self.eof && !matches!(self.mode, Mode::Waiting(_) | Mode::Closed) {
            self.close();
        }
        if self.input.len() > MAX_PENDING_INPUT {
            self.input = Vec::new();
            self.overflow = true;
        }
    }

    /// The next line without CRLF (a bare LF also ends a command line), or a length error.
    fn next_line(&mut self) -> Option<Result<Vec<u8>, CommandError>> {
        let limit = self.line_limit();
        let Some(lf) = self.input.iter().position(|&b| b == b'\n') else {
            if self.input.len() >= limit {
                self.discarding_line = true;
                self.input.clear();
            }
            return None;
        };
        let mut line: Vec<u8> = self.input.drain(..=lf).collect();
        // `line` still holds its line end, which the limit counts.
        if std::mem::take(&mut self.discarding_line) || line.len() > limit {
            return Some(Err(CommandError::LineTooLong));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(Ok(line))
    }

    fn line_limit(&self) -> usize {
        let auth_command = self
            .input
            .get(..5)
            .is_some_and(|head| head.eq_ignore_ascii_case(b"AUTH "));
        match self.mode {
            Mode::AuthPlain | Mode::AuthLoginUser | Mode::AuthLoginPassword { .. } => MAX_AUTH_LINE,
            _ if auth_command => MAX_AUTH_LINE,
            _ => MAX_COMMAND_LINE,
        }
    }

    fn line(&mut self, line: Result<Vec<u8>, CommandError>) {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                self.trace_received("<line too long>".into());
                return self.reply(error.reply());
            }
        };
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::AuthPlain => {
                self.trace_received("<credentials>".into());
                self.auth_response(&line, |s, bytes| s.plain_credentials(bytes));
            }
            Mode::AuthLoginUser => {
                self.trace_received("<user name>".into());
                self.auth_response(&line, |s, bytes| s.login_user(bytes));
            }
            Mode::AuthLoginPassword { user } => {
                self.trace_received("<password>".into());
                self.auth_response(&line, |s, bytes| s.login_password(user, bytes));
            }
            mode => {
                self.mode = mode;
                self.trace_command(&line);
                match parse_command(&line) {
                    Ok(command) => self.command(command),
                    Err(error) => self.reply(error.reply()),
                }
            }
        }
    }

    fn trace_command(&mut self, line: &[u8]) {
        if !self.trace {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let mut words = text.splitn(3, ' ');
        let shown = match (words.next(), words.next(), words.next()) {
            (Some(verb), Some(mechanism), Some(_)) if verb.eq_ignore_ascii_case("AUTH") => {
                format!("{verb} {mechanism} <credentials>")
            }
            _ => text.into_owned(),
        };
        self.trace_received(shown);
    }

    fn trace_received(&mut self, text: String) {
        if self.trace {
            self.outputs.push_back(Output::Received(text));
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Helo(name) => self.hello(name, false),
            Command::Ehlo(name) => self.hello(name, true),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to } => self.rcpt(to),
            Command::Data => self.data(),
            // RFC 5321 §4.1.1.5: abort the transaction, keep the HELO.
            Command::Rset => {
                self.transaction = None;
                self.ok();
            }
            Command::Noop(_) => self.ok(),
            Command::Quit => {
                let text = format!("{} closing connection", self.config.hostname);
                self.reply(Reply::with_status(221, (2, 0, 0), text));
                self.close();
            }
            Command::Help(_) => self.reply(Reply::with_status(
                214,
                (2, 0, 0),
                "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH; see RFC 5321",
            )),
            // RFC 5321 §3.5.3 / §7.3: 252 says "cannot verify, will try"; disclosing which
            // users exist helps spammers.
            Command::Vrfy(_) => self.reply(Reply::with_status(
                252,
                (2, 5, 0),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Expn(_) => self.reply(Reply::with_status(
                502,
                (5, 5, 1),
                "EXPN not available",
            )),
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response.as_deref()),
        }
    }

    fn ok(&mut self) {
        self.reply(Reply::with_status(250, (2, 0, 0), "Ok"));
    }

    fn bad_sequence(&mut self, text: &str) {
        self.reply(Reply::with_status(503, (5, 5, 1), text));
    }

    /// RFC 5321 §4.1.4: HELO/EHLO resets the state as RSET does. RFC 2034 §3: no enhanced
    /// codes in the reply to HELO or EHLO.
    fn hello(&mut self, name: String, extended: bool) {
        self.transaction = None;
        self.hello = Some(Hello { name, extended });
        let mut lines = vec![self.config.hostname.clone()];
        if extended {
            lines.extend(self.extensions());
        }
        self.reply(Reply {
            code: 250,
            enhanced: None,
            lines,
        });
    }

    fn extensions(&self) -> Vec<String> {
        let mut lines = vec![
            "PIPELINING".to_string(),
            format!("SIZE {}", self.config.max_message_bytes),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if self.config.tls_available && !self.config.tls_active {
            lines.push("STARTTLS".into());
        }
        if self.auth_allowed() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        lines.push("HELP".into());
        lines
    }

    fn auth_allowed(&self) -> bool {
        self.config.tls_active || self.config.auth_without_tls
    }

    /// RFC 5321 §4.1.1.2 and §4.3.2 (sequencing), RFC 1870 §6.2 (SIZE at MAIL).
    fn mail(&mut self, from: String, params: MailParams) {
        let extended = match &self.hello {
            None => return self.bad_sequence("Send HELO/EHLO first"),
            Some(hello) => hello.extended,
        };
        if self.transaction.is_some() {
            return self.bad_sequence("Nested MAIL command");
        }
        if !extended && params != MailParams::default() {
            return self.reply(Reply::with_status(
                555,
                (5, 5, 4),
                "MAIL parameters need EHLO",
            ));
        }
        let too_big = params
            .size
            .is_some_and(|size| size > self.config.max_message_bytes as u64);
        if too_big {
            return self.reply(Reply::with_status(
                552,
                (5, 3, 4),
                "Message size exceeds fixed maximum message size",
            ));
        }
        // RFC 6531 §3.5: a non-ASCII address needs the SMTPUTF8 parameter.
        if !params.smtputf8 && !from.is_ascii() {
            return self.reply(Reply::with_status(
                553,
                (5, 6, 7),
                "Non-ASCII address needs SMTPUTF8",
            ));
        }
        if let Some(reply) = self
            .policy
            .check_sender(&from, self.authenticated_as.as_deref())
        {
            return self.reply(reply);
        }
        self.transaction = Some(Transaction {
            mail_from: from,
            params,
            rcpt_to: Vec::new(),
        });
        self.reply(Reply::with_status(250, (2, 1, 0), "Ok"));
    }

    /// RFC 5321 §4.1.1.3; §4.5.3.1.10: too many recipients is 452, and the client sends the
    /// rest in a later transaction.
    fn rcpt(&mut self, to: String) {
        let Some(transaction) = &self.transaction else {
            return self.bad_sequence("Need MAIL before RCPT");
        };
        if !transaction.params.smtputf8 && !to.is_ascii() {
            return self.reply(Reply::with_status(
                553,
                (5, 6, 7),
                "Non-ASCII address needs SMTPUTF8",
            ));
        }
        if transaction.rcpt_to.len() >= self.config.max_recipients {
            return self.reply(Reply::with_status(452, (4, 5, 3), "Too many recipients"));
        }
        let verdict = self
            .policy
            .check_recipient(&to, self.authenticated_as.as_deref());
        match verdict.reply() {
            Some(reply) => self.reply(reply),
            None => {
                // The same mailbox named twice (in any case) gets the message once, as users
                // expect of `To: bob, Bob` and as other MTAs do.
                if let Some(transaction) = &mut self.transaction
                    && !transaction
                        .rcpt_to
                        .iter()
                        .any(|known| known.to_lowercase() == to.to_lowercase())
                {
                    transaction.rcpt_to.push(to);
                }
                self.reply(Reply::with_status(250, (2, 1, 5), "Ok"));
            }
        }
    }

    /// RFC 5321 §4.1.1.4; §3.3: 554 when MAIL succeeded but no recipient did (the answer a
    /// pipelining client expects, RFC 2920 §3.1).
    fn data(&mut self) {
        let Some(transaction) = &self.transaction else {
            return self.bad_sequence("Need MAIL command");
        };
        if transaction.rcpt_to.is_empty() {
            return self.reply(Reply::with_status(554, (5, 5, 1), "No valid recipients"));
        }
        self.reply(Reply::new(354, None, "End data with <CR><LF>.<CR><LF>"));
        self.mode = Mode::Data(DataReader::new(self.config.max_message_bytes));
    }

    /// The end marker arrived. RFC 5321 §4.1.1.4: the transaction ends whatever the outcome.
    fn end_of_data(&mut self) {
        let Mode::Data(reader) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return;
        };
        self.trace_received(format!("<message: {} octets>", reader.size()));
        let transaction = self.transaction.take();
        let result = reader.finish();
        match (transaction, result) {
            (Some(transaction), Ok(body)) => {
                let envelope = self.envelope(transaction);
                self.outputs.push_back(Output::Message(envelope, body));
                self.mode = Mode::Waiting(Wait::Message);
            }
            (_, Err(rejection)) => self.reply(rejection.reply()),
            (None, Ok(_)) => self.bad_sequence("Need MAIL command"),
        }
    }

    fn envelope(&self, transaction: Transaction) -> Envelope {
        Envelope {
            helo: self
                .hello
                .as_ref()
                .map(|h| h.name.clone())
                .unwrap_or_default(),
            mail_from: transaction.mail_from,
            rcpt_to: transaction.rcpt_to,
            body_8bit: transaction.params.body == Some(BodyType::EightBitMime),
            smtputf8: transaction.params.smtputf8,
            declared_size: transaction.params.size,
            authenticated_as: self.authenticated_as.clone(),
            tls: self.config.tls_active,
        }
    }

    /// RFC 3207 §4 and §4.2: after 220, discard everything known from the client and every
    /// byte it sent after the command (§5: plaintext injected before the handshake must not be
    /// read as if it came through TLS).
    fn starttls(&mut self) {
        if self.config.tls_active {
            return self.bad_sequence("TLS already active");
        }
        if !self.config.tls_available {
            return self.reply(Reply::with_status(502, (5, 5, 1), "STARTTLS not available"));
        }
        if self.transaction.is_some() {
            return self.bad_sequence("STARTTLS not allowed during a mail transaction");
        }
        self.reply(Reply::with_status(220, (2, 0, 0), "Ready to start TLS"));
        self.outputs.push_back(Output::StartTls);
        self.input = Vec::new();
        self.discarding_line = false;
        self.hello = None;
        self.transaction = None;
        self.authenticated_as = None;
        self.mode = Mode::Waiting(Wait::Tls);
    }

    /// RFC 4954 §4: AUTH after EHLO, once, outside a transaction, with a known mechanism.
    fn auth(&mut self, mechanism: &str, initial_response: Option<&str>) {
        if !self.hello.as_ref().is_some_and(|h| h.extended) {
            return self.bad_sequence("Send EHLO first");
        }
        if self.authenticated_as.is_some() {
            return self.bad_sequence("Already authenticated");
        }
        if self.transaction.is_some() {
            return self.bad_sequence("AUTH not allowed during a mail transaction");
        }
        if !self.auth_allowed() {
            return self.reply(if self.config.tls_available {
                // RFC 3207 §4.
                Reply::with_status(530, (5, 7, 0), "Must issue a STARTTLS command first")
            } else {
                // RFC 4954 §6.
                Reply::with_status(
                    538,
                    (5, 7, 11),
                    "Encryption required for requested authentication mechanism",
                )
            });
        }
        // RFC 4954 §4: "=" is an empty initial response.
        let initial = initial_response.map(|r| if r == "=" { "" } else { r });
        match (mechanism, initial) {
            ("PLAIN", Some(response)) => {
                self.auth_response(response.as_bytes(), |s, bytes| s.plain_credentials(bytes))
            }
            ("PLAIN", None) => {
                self.reply(Reply::new(334, None, ""));
                self.mode = Mode::AuthPlain;
            }
            ("LOGIN", Some(response)) => {
                self.auth_response(response.as_bytes(), |s, bytes| s.login_user(bytes))
            }
            ("LOGIN", None) => {
                // base64("Username:")
                self.reply(Reply::new(334, None, "VXNlcm5hbWU6"));
                self.mode = Mode::AuthLoginUser;
            }
            _ => self.reply(Reply::with_status(
                504,
                (5, 5, 4),
                "Unrecognized authentication type",
            )),
        }
    }

    /// One line of the AUTH exchange: `*` cancels (RFC 4954 §4), anything else is base64.
    fn auth_response(&mut self, line: &[u8], then: impl FnOnce(&mut Self, Vec<u8>)) {
        if line == b"*" {
            return self.reply(Reply::with_status(
                501,
                (5, 0, 0),
                "Authentication cancelled",
            ));
        }
        match BASE64.decode(line) {
            Ok(bytes) => then(self, bytes),
            Err(_) => self.reply(Reply::with_status(501, (5, 5, 2), "Cannot decode response")),
        }
    }

    /// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`. Acting as another identity (an
    /// authzid different from authcid) is not offered.
    fn plain_credentials(&mut self, bytes: Vec<u8>) {
        let mut parts = bytes.split(|&b| b == 0);
        let (Some(authzid), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.reply(Reply::with_status(501, (5, 5, 2), "Cannot decode response"));
        };
        if !authzid.is_empty() && authzid != user {
            return self.reply(Reply::with_status(
                535,
                (5, 7, 8),
                "Authorization identity not permitted",
            ));
        }
        match (
            String::from_utf8(user.to_vec()),
            String::from_utf8(password.to_vec()),
        ) {
            (Ok(user), Ok(password)) => self.authenticate(AuthMechanism::Plain, user, password),
            _ => self.reply(Reply::with_status(501, (5, 5, 2), "Cannot decode response")),
        }
    }

    fn login_user(&mut self, bytes: Vec<u8>) {
        match String::from_utf8(bytes) {
            Ok(user) => {
                // base64("Password:")
                self.reply(Reply::new(334, None, "UGFzc3dvcmQ6"));
                self.mode = Mode::AuthLoginPassword { user };
            }
            Err(_) => self.reply(Reply::with_status(501, (5, 5, 2), "Cannot decode response")),
        }
    }

    fn login_password(&mut self, user: String, bytes: Vec<u8>) {
        match String::from_utf8(bytes) {
            Ok(password) => self.authenticate(AuthMechanism::Login, user, password),
            Err(_) => self.reply(Reply::with_status(501, (5, 5, 2), "Cannot decode response")),
        }
    }

    fn authenticate(&mut self, mechanism: AuthMechanism, user: String, password: String) {
        self.outputs.push_back(Output::Authenticate {
            mechanism,
            user,
            password,
        });
        self.mode = Mode::Waiting(Wait::Auth);
    }

    /// Sends a reply; permanent failures count towards [`MAX_ERRORS`]. Transient ones do
    /// not: a relay told 452 for its 101st recipient is expected to carry on (RFC 5321
    /// §4.5.3.1.10), and neither it nor a greylisted sender is misbehaving.
    fn reply(&mut self, reply: Reply) {
        self.send(&reply);
        if reply.is_permanent() {
            self.errors += 1;
            if self.errors >= MAX_ERRORS {
                self.close_with_421("Error: too many errors");
            }
        }
    }

    fn send(&mut self, reply: &Reply) {
        self.outputs.push_back(Output::Send(reply.encode()));
    }

    /// RFC 5321 §3.8: 421 announces that the server is closing the channel.
    fn close_with_421(&mut self, text: &str) {
        let text = format!("{} {text}", self.config.hostname);
        self.send(&Reply::with_status(421, (4, 7, 0), text));
        self.close();
    }

    fn close(&mut self) {
        if !matches!(self.mode, Mode::Closed) {
            self.mode = Mode::Closed;
            self.input = Vec::new();
            self.outputs.push_back(Output::Close);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// foo.com has the mailboxes of RFC 5321 Appendix D; other domains need AUTH to relay.
    struct FooCom;

    impl Policy for FooCom {
        fn check_recipient(&self, rcpt: &str, authenticated_as: Option<&str>) -> RcptVerdict {
            let (local, domain) = rcpt.rsplit_once('@').unwrap_or((rcpt, "foo.com"));
            if !domain.eq_ignore_ascii_case("foo.com") {
                return match authenticated_as {
                    Some(_) => RcptVerdict::Accept,
                    None => RcptVerdict::RelayDenied,
                };
            }
            match local {
                "Jones" | "Brown" | "Admin.MRC" | "Postmaster" | "ünï" => RcptVerdict::Accept,
                "busy" => RcptVerdict::TemporaryFailure,
                _ => RcptVerdict::UnknownUser,
            }
        }
    }

    fn config() -> ServerConfig {
        ServerConfig {
            max_message_bytes: 1000,
            max_recipients: 3,
            ..ServerConfig::new("foo.com")
        }
    }

    fn server(config: ServerConfig) -> ServerSession {
        let mut session = ServerSession::new(config, Arc::new(FooCom), "192.0.2.1:1025");
        let greeting = drain(&mut session);
        assert_eq!(sent(&greeting), "220 foo.com ESMTP appnet\r\n");
        session
    }

    fn drain(session: &mut ServerSession) -> Vec<Output> {
        std::iter::from_fn(|| session.poll_output()).collect()
    }

    fn run(session: &mut ServerSession, input: &str) -> Vec<Output> {
        session.feed(input.as_bytes());
        drain(session)
    }

    fn sent(outputs: &[Output]) -> String {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => None,
            })
            .collect()
    }

    /// The code and enhanced code of each reply sent ("250 2.1.0", "354").
    fn codes(outputs: &[Output]) -> Vec<String> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(bytes) => {
                    let text = String::from_utf8_lossy(bytes);
                    let last = text
                        .trim_end()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .to_string();
                    let mut words = last.splitn(3, ' ');
                    let code = words.next().unwrap_or_default().to_string();
                    match words.next() {
                        Some(e) if e.split('.').count() == 3 && e.starts_with(&code[..1]) => {
                            Some(format!("{code} {e}"))
                        }
                        _ => Some(code),
                    }
                }
                _ => None,
            })
            .collect()
    }

    fn message(outputs: &[Output]) -> Option<(Envelope, Vec<u8>)> {
        outputs.iter().find_map(|o| match o {
            Output::Message(envelope, body) => Some((envelope.clone(), body.clone())),
            _ => None,
        })
    }

    fn ehlo(session: &mut ServerSession) {
        let out = run(session, "EHLO bar.com\r\n");
        assert_eq!(codes(&out), ["250"]);
    }

    #[test]
    fn appendix_d1_typical_transaction() {
        let mut s = server(config());
        let out = run(&mut s, "EHLO bar.com\r\n");
        assert_eq!(
            sent(&out),
            "250-foo.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
             250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
        );
        assert_eq!(
            codes(&run(&mut s, "MAIL FROM:<Smith@bar.com>\r\n")),
            ["250 2.1.0"]
        );
        assert_eq!(
            codes(&run(&mut s, "RCPT TO:<Jones@foo.com>\r\n")),
            ["250 2.1.5"]
        );
        assert_eq!(
            codes(&run(&mut s, "RCPT TO:<Green@foo.com>\r\n")),
            ["550 5.1.1"]
        );
        assert_eq!(
            codes(&run(&mut s, "RCPT TO:<Brown@foo.com>\r\n")),
            ["250 2.1.5"]
        );
        assert_eq!(codes(&run(&mut s, "DATA\r\n")), ["354"]);
        let out = run(&mut s, "Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\n");
        let (envelope, body) = message(&out).expect("message");
        assert_eq!(body, b"Blah blah blah...\r\n..etc. etc. etc.\r\n");
        assert_eq!(envelope.helo, "bar.com");
        assert_eq!(envelope.mail_from, "Smith@bar.com");
        assert_eq!(envelope.rcpt_to, ["Jones@foo.com", "Brown@foo.com"]);
        assert!(codes(&out).is_empty(), "250 waits for the store");
        s.message_stored(Ok("Q1".into()));
        assert_eq!(sent(&drain(&mut s)), "250 2.0.0 Ok: queued as Q1\r\n");
        let out = run(&mut s, "QUIT\r\n");
        assert_eq!(codes(&out), ["221 2.0.0"]);
        assert_eq!(out.last(), Some(&Output::Close));
        assert!(s.is_closed());
    }

    #[test]
    fn appendix_d2_aborted_transaction() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<Smith@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\nRCPT TO:<Green@foo.com>\r\n\
             RSET\r\nQUIT\r\n",
        );
        assert_eq!(
            codes(&out),
            [
                "250 2.1.0",
                "250 2.1.5",
                "550 5.1.1",
                "250 2.0.0",
                "221 2.0.0"
            ]
        );
        assert!(message(&out).is_none());
    }

    #[test]
    fn appendix_d3_relay_needs_authentication() {
        // Step 1 of D.3 (bar.com hands foo.com mail for xyz.com): only for an authenticated
        // client; step 2 is in smtp::tests, client against server.
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<JQP@bar.com>\r\nRCPT TO:<Jones@XYZ.COM>\r\n",
        );
        assert_eq!(codes(&out), ["250 2.1.0", "554 5.7.1"]);
    }

    #[test]
    fn appendix_d4_verifying() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "VRFY Crispin\r\nEXPN list\r\nMAIL FROM:<EAK@bar.com>\r\n",
        );
        assert_eq!(codes(&out), ["252 2.5.0", "502 5.5.1", "250 2.1.0"]);
        let out = run(
            &mut s,
            "RCPT TO:<Admin.MRC@foo.com>\r\nDATA\r\nBlah\r\n.\r\n",
        );
        assert_eq!(codes(&out), ["250 2.1.5", "354"]);
        assert!(message(&out).is_some());
    }

    #[test]
    fn other_commands() {
        let mut s = server(config());
        let out = run(
            &mut s,
            "NOOP\r\nHELP\r\nRSET\r\nMAIL FROM:<a@b>\r\nDATA\r\n",
        );
        assert_eq!(
            codes(&out),
            [
                "250 2.0.0",
                "214 2.0.0",
                "250 2.0.0",
                "503 5.5.1",
                "503 5.5.1"
            ]
        );
        // HELO: no extensions, and parameters are refused.
        let out = run(
            &mut s,
            "HELO bar.com\r\nMAIL FROM:<a@b> SIZE=10\r\nMAIL FROM:<a@b>\r\n",
        );
        assert_eq!(sent(&out[..1]), "250 foo.com\r\n");
        assert_eq!(codes(&out)[1..], ["555 5.5.4", "250 2.1.0"]);
        let out = run(
            &mut s,
            "MAIL FROM:<a@b>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<busy@foo.com>\r\n",
        );
        assert_eq!(codes(&out), ["503 5.5.1", "250 2.1.5", "451 4.3.0"]);
        // EHLO resets the transaction.
        let out = run(&mut s, "EHLO again\r\nDATA\r\n");
        assert_eq!(codes(&out), ["250", "503 5.5.1"]);
    }

    #[test]
    fn no_valid_recipients_is_554_at_data() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<a@bar.com>\r\nRCPT TO:<Green@foo.com>\r\nDATA\r\n",
        );
        assert_eq!(codes(&out), ["250 2.1.0", "550 5.1.1", "554 5.5.1"]);
    }

    #[test]
    fn command_errors_map_to_replies() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "FROB\r\nNOOP\0\r\nMAIL FROM:<a b@c>\r\nMAIL FROM:<a@b> X=1\r\nMAIL FROM:<a@b>\r\n\
             RCPT TO:<bad>\r\n",
        );
        assert_eq!(
            codes(&out),
            [
                "500 5.5.2",
                "500 5.5.2",
                "553 5.1.7",
                "555 5.5.4",
                "250 2.1.0",
                "553 5.1.3"
            ]
        );
    }

    #[test]
    fn bare_lf_ends_command_lines() {
        let mut s = server(config());
        let out = run(&mut s, "EHLO bar.com\nNOOP\n");
        assert_eq!(codes(&out), ["250", "250 2.0.0"]);
    }

    #[test]
    fn long_command_line_is_500_5_5_6_and_session_continues() {
        let mut s = server(config());
        let long = format!("NOOP {}\r\n", "x".repeat(600));
        let out = run(&mut s, &format!("{long}NOOP\r\n"));
        assert_eq!(codes(&out), ["500 5.5.6", "250 2.0.0"]);
        // In pieces, with nothing kept beyond the limit.
        s.feed(&[b'x'; 10_000]);
        assert!(s.input.len() < MAX_COMMAND_LINE);
        let out = run(&mut s, "\r\nNOOP\r\n");
        assert_eq!(codes(&out), ["500 5.5.6", "250 2.0.0"]);
        // Exactly 512 octets with CRLF is fine.
        let exact = format!("NOOP {}\r\n", "x".repeat(512 - 7));
        assert_eq!(codes(&run(&mut s, &exact)), ["250 2.0.0"]);
        let over = format!("NOOP {}\r\n", "x".repeat(512 - 6));
        assert_eq!(codes(&run(&mut s, &over)), ["500 5.5.6"]);
    }

    #[test]
    fn pipelined_batch_in_one_feed_replies_in_order() {
        let mut s = server(config());
        let out = run(
            &mut s,
            "EHLO bar.com\r\nMAIL FROM:<a@bar.com>\r\nRCPT TO:<Jones@foo.com>\r\n\
             RCPT TO:<Green@foo.com>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\nQUIT\r\n",
        );
        assert_eq!(
            codes(&out),
            ["250", "250 2.1.0", "250 2.1.5", "550 5.1.1", "354"]
        );
        assert!(matches!(out.last(), Some(Output::Message(..))));
        // NOOP and QUIT wait until the message is stored, so replies stay in order.
        s.message_stored(Ok("Q7".into()));
        let out = drain(&mut s);
        assert_eq!(codes(&out), ["250 2.0.0", "250 2.0.0", "221 2.0.0"]);
        assert_eq!(out.last(), Some(&Output::Close));
    }

    #[test]
    fn storage_failure_is_451() {
        let mut s = server(config());
        let out = run(
            &mut s,
            "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\nx\r\n.\r\n",
        );
        let (envelope, _) = message(&out).unwrap();
        assert_eq!(envelope.mail_from, "");
        s.message_stored(Err("disk full".into()));
        assert_eq!(codes(&drain(&mut s)), ["451 4.3.0"]);
        // The transaction is over either way.
        assert_eq!(codes(&run(&mut s, "DATA\r\n")), ["503 5.5.1"]);
    }

    #[test]
    fn end_marker_split_at_every_position_through_the_session() {
        let input = b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\n\
                      .hidden\r\nline\r\n.\r\nNOOP\r\n";
        for split in 0..=input.len() {
            let mut s = server(config());
            s.feed(&input[..split]);
            s.feed(&input[split..]);
            let out = drain(&mut s);
            let (_, body) = message(&out).unwrap_or_else(|| panic!("split {split}"));
            assert_eq!(body, b"hidden\r\nline\r\n");
            s.message_stored(Ok("Q".into()));
            assert_eq!(
                codes(&drain(&mut s)),
                ["250 2.0.0", "250 2.0.0"],
                "split {split}"
            );
        }
    }

    #[test]
    fn smuggled_end_markers_never_end_data() {
        for smuggle in ["\n.\n", "\r\n.\n", "\n.\r\n"] {
            let mut s = server(config());
            let input = format!(
                "EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\n\
                 Subject: one\r\n\r\nbody{smuggle}MAIL FROM:<evil@x.y>\r\nRCPT TO:<Brown@foo.com>\r\n\
                 DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\nNOOP\r\n"
            );
            let out = run(&mut s, &input);
            assert!(message(&out).is_none(), "{smuggle:?}");
            assert_eq!(
                codes(&out),
                [
                    "250",
                    "250 2.1.0",
                    "250 2.1.5",
                    "354",
                    "550 5.6.11",
                    "250 2.0.0"
                ],
                "{smuggle:?}"
            );
        }
    }

    #[test]
    fn size_limits() {
        let mut s = server(config());
        ehlo(&mut s);
        assert_eq!(
            codes(&run(&mut s, "MAIL FROM:<a@b.c> SIZE=1001\r\n")),
            ["552 5.3.4"]
        );
        let out = run(
            &mut s,
            "MAIL FROM:<a@b.c> SIZE=1000 BODY=8BITMIME\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\n",
        );
        assert_eq!(codes(&out), ["250 2.1.0", "250 2.1.5", "354"]);
        let line = format!("{}\r\n", "y".repeat(98));
        for _ in 0..100 {
            assert!(run(&mut s, &line).is_empty());
        }
        let out = run(&mut s, ".\r\n");
        assert_eq!(codes(&out), ["552 5.3.4"]);
        assert!(message(&out).is_none());
        // Just under the limit is delivered, with the envelope's flags.
        let out = run(
            &mut s,
            "MAIL FROM:<a@b.c> SIZE=1000 BODY=8BITMIME\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\n",
        );
        assert_eq!(codes(&out).len(), 3);
        let body = line.repeat(10);
        let (envelope, received) = message(&run(&mut s, &format!("{body}.\r\n"))).unwrap();
        assert_eq!(received.len(), 1000);
        assert!(envelope.body_8bit);
        assert_eq!(envelope.declared_size, Some(1000));
    }

    #[test]
    fn long_text_line_rejects_the_message() {
        let mut s = server(config());
        let out = run(
            &mut s,
            &format!(
                "EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\n{}\r\n.\r\nNOOP\r\n",
                "z".repeat(1200)
            ),
        );
        assert_eq!(codes(&out)[4..], ["500 5.5.6", "250 2.0.0"]);
        assert!(message(&out).is_none());
    }

    #[test]
    fn transient_refusals_do_not_count_as_errors() {
        let mut s = server(config());
        ehlo(&mut s);
        run(&mut s, "MAIL FROM:<a@b.c>\r\n");
        let out = run(&mut s, &"RCPT TO:<busy@foo.com>\r\n".repeat(30));
        assert_eq!(codes(&out), vec!["451 4.3.0"; 30]);
        assert!(!s.is_closed());
    }

    #[test]
    fn recipient_limit_is_452() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nRCPT TO:<Admin.MRC@foo.com>\r\n\
             RCPT TO:<Postmaster@foo.com>\r\nRCPT TO:<Brown@foo.com>\r\n",
        );
        assert_eq!(codes(&out)[4], "452 4.5.3");
    }

    #[test]
    fn a_recipient_named_twice_gets_the_message_once() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nRCPT TO:<Jones@FOO.com>\r\n\
             DATA\r\nx\r\n.\r\n",
        );
        let (envelope, _) = message(&out).unwrap();
        assert_eq!(envelope.rcpt_to, ["Jones@foo.com"]);
    }

    #[test]
    fn utf8_addresses_need_smtputf8() {
        let mut s = server(config());
        ehlo(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<ünï@bar.com>\r\nMAIL FROM:<a@bar.com>\r\nRCPT TO:<ünï@foo.com>\r\n",
        );
        assert_eq!(codes(&out), ["553 5.6.7", "250 2.1.0", "553 5.6.7"]);
        let out = run(
            &mut s,
            "RSET\r\nMAIL FROM:<ünï@bar.com> SMTPUTF8\r\nRCPT TO:<ünï@foo.com>\r\nDATA\r\nx\r\n.\r\n",
        );
        let (envelope, _) = message(&out).unwrap();
        assert!(envelope.smtputf8);
        assert_eq!(envelope.rcpt_to, ["ünï@foo.com"]);
    }

    #[test]
    fn unterminated_data_then_eof_delivers_nothing() {
        let mut s = server(config());
        let out = run(
            &mut s,
            "EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\nalmost\r\n.",
        );
        assert!(message(&out).is_none());
        s.feed_eof();
        assert_eq!(drain(&mut s), [Output::Close]);
    }

    #[test]
    fn eof_while_storing_still_answers_then_closes() {
        let mut s = server(config());
        let out = run(
            &mut s,
            "EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\nx\r\n.\r\n",
        );
        assert!(message(&out).is_some());
        s.feed_eof();
        assert!(drain(&mut s).is_empty());
        s.message_stored(Ok("Q".into()));
        let out = drain(&mut s);
        assert_eq!(codes(&out), ["250 2.0.0"]);
        assert_eq!(out.last(), Some(&Output::Close));
    }

    #[test]
    fn too_many_errors_closes_with_421() {
        let mut s = server(config());
        let out = run(&mut s, &"FROB\r\n".repeat(25));
        let codes = codes(&out);
        assert_eq!(codes.len(), MAX_ERRORS as usize + 1);
        assert_eq!(codes.last().map(String::as_str), Some("421 4.7.0"));
        assert_eq!(out.last(), Some(&Output::Close));
        assert!(run(&mut s, "NOOP\r\n").is_empty());
    }

    #[test]
    fn input_while_waiting_is_bounded() {
        let mut s = server(config());
        run(
            &mut s,
            "EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\nx\r\n.\r\n",
        );
        for _ in 0..100 {
            s.feed(&[b'N'; 4096]);
        }
        assert!(s.input.len() <= MAX_PENDING_INPUT + 4096);
        s.message_stored(Ok("Q".into()));
        let out = drain(&mut s);
        assert_eq!(codes(&out), ["250 2.0.0", "421 4.7.0"]);
        assert_eq!(out.last(), Some(&Output::Close));
    }

    fn tls_config() -> ServerConfig {
        ServerConfig {
            tls_available: true,
            ..config()
        }
    }

    #[test]
    fn starttls_discards_pipelined_bytes_and_resets() {
        let mut s = server(tls_config());
        let out = run(&mut s, "EHLO x\r\n");
        assert!(sent(&out).contains("250-STARTTLS\r\n"));
        assert!(!sent(&out).contains("AUTH"));
        let out = run(
            &mut s,
            "STARTTLS\r\nMAIL FROM:<evil@x.y>\r\nRCPT TO:<Jones@foo.com>\r\n",
        );
        assert_eq!(sent(&out), "220 2.0.0 Ready to start TLS\r\n");
        assert_eq!(out.last(), Some(&Output::StartTls));
        // Plaintext fed before the handshake completes is dropped too.
        assert!(run(&mut s, "NOOP\r\n").is_empty());
        s.tls_established();
        assert!(drain(&mut s).is_empty());
        // The injected MAIL was not kept, and the old EHLO is forgotten.
        assert_eq!(codes(&run(&mut s, "MAIL FROM:<a@b.c>\r\n")), ["503 5.5.1"]);
        let out = run(&mut s, "EHLO x\r\n");
        assert!(!sent(&out).contains("STARTTLS"));
        assert!(sent(&out).contains("250-AUTH PLAIN LOGIN\r\n"));
        assert_eq!(codes(&run(&mut s, "STARTTLS\r\n")), ["503 5.5.1"]);
        let out = run(
            &mut s,
            "MAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\nx\r\n.\r\n",
        );
        assert!(message(&out).unwrap().0.tls);
    }

    #[test]
    fn starttls_refusals() {
        let mut s = server(config());
        ehlo(&mut s);
        assert_eq!(codes(&run(&mut s, "STARTTLS\r\n")), ["502 5.5.1"]);
        let mut s = server(tls_config());
        ehlo(&mut s);
        let out = run(&mut s, "MAIL FROM:<a@b.c>\r\nSTARTTLS\r\n");
        assert_eq!(codes(&out), ["250 2.1.0", "503 5.5.1"]);
    }

    fn plain(authzid: &str, user: &str, password: &str) -> String {
        BASE64.encode(format!("{authzid}\0{user}\0{password}"))
    }

    fn authenticate(out: &[Output]) -> Option<(AuthMechanism, String, String)> {
        out.iter().find_map(|o| match o {
            Output::Authenticate {
                mechanism,
                user,
                password,
            } => Some((*mechanism, user.clone(), password.clone())),
            _ => None,
        })
    }

    fn auth_server() -> ServerSession {
        let mut s = server(ServerConfig {
            auth_without_tls: true,
            ..config()
        });
        ehlo(&mut s);
        s
    }

    #[test]
    fn auth_plain_with_initial_response() {
        let mut s = auth_server();
        let out = run(
            &mut s,
            &format!("AUTH PLAIN {}\r\nNOOP\r\n", plain("", "alice", "pw")),
        );
        assert_eq!(
            authenticate(&out),
            Some((AuthMechanism::Plain, "alice".into(), "pw".into()))
        );
        assert!(codes(&out).is_empty(), "NOOP waits for the verdict");
        s.auth_result(Some("alice".into()));
        assert_eq!(codes(&drain(&mut s)), ["235 2.7.0", "250 2.0.0"]);
        assert_eq!(s.authenticated_as(), Some("alice"));
        // Authenticated clients may relay; AUTH twice is out of sequence.
        let out = run(
            &mut s,
            "AUTH PLAIN\r\nMAIL FROM:<alice@foo.com>\r\nRCPT TO:<x@elsewhere.example>\r\n",
        );
        assert_eq!(codes(&out), ["503 5.5.1", "250 2.1.0", "250 2.1.5"]);
        let out = run(&mut s, "DATA\r\nhi\r\n.\r\n");
        assert_eq!(
            message(&out).unwrap().0.authenticated_as.as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn auth_plain_after_empty_challenge_and_failure() {
        let mut s = auth_server();
        let out = run(&mut s, "AUTH PLAIN\r\n");
        assert_eq!(sent(&out), "334 \r\n");
        let out = run(&mut s, &format!("{}\r\n", plain("alice", "alice", "wrong")));
        assert!(authenticate(&out).is_some());
        s.auth_result(None);
        assert_eq!(codes(&drain(&mut s)), ["535 5.7.8"]);
        assert_eq!(s.authenticated_as(), None);
        // authzid differing from authcid is refused without asking the driver.
        let out = run(
            &mut s,
            &format!("AUTH PLAIN {}\r\n", plain("root", "alice", "pw")),
        );
        assert_eq!(codes(&out), ["535 5.7.8"]);
        // "=" is an empty response: not three fields.
        assert_eq!(codes(&run(&mut s, "AUTH PLAIN =\r\n")), ["501 5.5.2"]);
    }

    #[test]
    fn auth_login_prompts_and_cancel() {
        let mut s = auth_server();
        let out = run(&mut s, "AUTH LOGIN\r\n");
        assert_eq!(sent(&out), "334 VXNlcm5hbWU6\r\n");
        let out = run(&mut s, &format!("{}\r\n", BASE64.encode("bob")));
        assert_eq!(sent(&out), "334 UGFzc3dvcmQ6\r\n");
        let out = run(&mut s, &format!("{}\r\n", BASE64.encode("secret")));
        assert_eq!(
            authenticate(&out),
            Some((AuthMechanism::Login, "bob".into(), "secret".into()))
        );
        s.auth_result(Some("bob".into()));
        assert_eq!(codes(&drain(&mut s)), ["235 2.7.0"]);

        let mut s = auth_server();
        let out = run(
            &mut s,
            &format!("AUTH LOGIN {}\r\n*\r\n", BASE64.encode("bob")),
        );
        assert_eq!(codes(&out), ["334", "501 5.0.0"]);
        let out = run(&mut s, "AUTH PLAIN\r\n!!!\r\nAUTH CRAM-MD5\r\n");
        assert_eq!(codes(&out), ["334", "501 5.5.2", "504 5.5.4"]);
    }

    #[test]
    fn auth_refused_without_tls() {
        let mut s = server(config());
        let out = run(&mut s, "AUTH PLAIN\r\n");
        assert_eq!(codes(&out), ["503 5.5.1"]);
        ehlo(&mut s);
        assert_eq!(codes(&run(&mut s, "AUTH PLAIN\r\n")), ["538 5.7.11"]);
        let mut s = server(tls_config());
        ehlo(&mut s);
        assert_eq!(codes(&run(&mut s, "AUTH PLAIN\r\n")), ["530 5.7.0"]);
        let out = run(&mut s, "MAIL FROM:<a@b.c>\r\nAUTH PLAIN\r\n");
        assert_eq!(codes(&out), ["250 2.1.0", "503 5.5.1"]);
    }

    #[test]
    fn auth_lines_may_be_long() {
        let mut s = auth_server();
        let long = BASE64.encode(format!("\0alice\0{}", "p".repeat(3000)));
        let out = run(&mut s, &format!("AUTH PLAIN {long}\r\n"));
        assert_eq!(authenticate(&out).map(|a| a.2.len()), Some(3000));
    }

    #[test]
    fn trace_redacts_credentials() {
        let mut s = auth_server();
        s.set_trace(true);
        let out = run(&mut s, &format!("AUTH PLAIN {}\r\n", plain("", "a", "b")));
        assert_eq!(out[0], Output::Received("AUTH PLAIN <credentials>".into()));
        s.auth_result(Some("a".into()));
        drain(&mut s);
        let out = run(
            &mut s,
            "MAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\nhi\r\n.\r\n",
        );
        let traced: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Output::Received(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            traced,
            [
                "MAIL FROM:<a@b.c>",
                "RCPT TO:<Jones@foo.com>",
                "DATA",
                "<message: 4 octets>"
            ]
        );
    }

    proptest! {
        #[test]
        fn any_input_never_panics(
            chunks in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..700), 0..8),
            prefix in prop_oneof![
                Just(String::new()),
                Just("EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<Jones@foo.com>\r\nDATA\r\n".to_string()),
                Just("EHLO x\r\nAUTH LOGIN\r\n".to_string()),
            ],
        ) {
            let mut s = ServerSession::new(ServerConfig { auth_without_tls: true, ..config() }, Arc::new(FooCom), "p");
            s.feed(prefix.as_bytes());
            for chunk in &chunks {
                s.feed(chunk);
                while let Some(output) = s.poll_output() {
                    match output {
                        Output::Message(..) => s.message_stored(Ok("Q".into())),
                        Output::Authenticate { .. } => s.auth_result(None),
                        _ => {}
                    }
                }
                prop_assert!(s.input.len() <= MAX_PENDING_INPUT + 700);
            }
            s.feed_eof();
            prop_assert!(drain(&mut s).iter().all(|o| !matches!(o, Output::Message(..))));
        }
    }
}
