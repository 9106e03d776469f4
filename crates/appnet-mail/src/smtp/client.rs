//! The SMTP client state machine, sans-IO: delivers one message to one server, for the relay
//! (to a remote MX) and for the user agent (submission with AUTH). RFC 5321 §3 and §4.3.2 for
//! the sequence, §4.5.2 for dot-stuffing, §3.2 for the HELO fallback; RFC 2920 (PIPELINING:
//! MAIL, RCPT... and DATA in one write), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531
//! (SMTPUTF8), RFC 3207 (STARTTLS), RFC 4954 with RFC 4616 (AUTH PLAIN) and LOGIN.
//!
//! The driver's loop: feed every byte read to [`ClientSession::feed`] (and
//! [`ClientSession::feed_eof`] when the server closes or a timeout expires), then drain
//! [`ClientSession::poll_output`]: write each `Send`, run the handshake on `StartTls` and call
//! [`ClientSession::tls_established`], and stop at `Done`.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::command::{BodyType, Command, MailParams};
use super::data::dot_stuff;
use super::reply::{Reply, ReplyParser};

/// When to use STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    Never,
    /// Upgrade when offered, else continue in plaintext (RFC 3207 as MX relays use it).
    Opportunistic,
    /// Refuse to continue without TLS (submission with a password, MTA-STS).
    Required,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Our name in EHLO/HELO.
    pub ehlo_name: String,
    pub tls: TlsPolicy,
    /// The connection is already TLS (implicit TLS, RFC 8314).
    pub tls_active: bool,
    /// User name and password for AUTH.
    pub auth: Option<(String, String)>,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server took responsibility for delivery (RFC 5321 §6.1).
    Accepted(Reply),
    /// Try again later.
    Transient(Reply),
    /// Give up and bounce.
    Permanent(Reply),
}

impl Outcome {
    /// The outcome a reply means: 2yz accepted, 5yz permanent, anything else (4yz, or a reply
    /// that makes no sense at this point) transient.
    pub fn of(reply: Reply) -> Self {
        if reply.is_completion() {
            Self::Accepted(reply)
        } else if reply.is_permanent() {
            Self::Permanent(reply)
        } else {
            Self::Transient(reply)
        }
    }

    pub fn reply(&self) -> &Reply {
        match self {
            Self::Accepted(reply) | Self::Transient(reply) | Self::Permanent(reply) => reply,
        }
    }
}

/// The result of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Every recipient, in the order given, with its final outcome.
    pub recipients: Vec<(String, Outcome)>,
    /// The reply to the end of data (or to a refused DATA command), if it came to that.
    pub data_reply: Option<Reply>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput {
    /// Bytes to write (one command, or a pipelined group, or the message).
    Send(Vec<u8>),
    /// Upgrade the socket to TLS, then call [`ClientSession::tls_established`].
    StartTls,
    /// Finished: close the connection.
    Done(Delivery),
}

/// The reply each sent command waits for, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword,
    AuthDone,
    Mail,
    Rcpt(usize),
    Data,
    EndOfData,
    /// A reply that changes nothing (to an empty message sent only because a server said 354
    /// with no recipient accepted, RFC 2920 §3.1, or to a cancelled AUTH); QUIT follows.
    IgnoreThenQuit,
    Quit,
}

/// What the server announced in its EHLO reply (RFC 5321 §4.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Extensions {
    pipelining: bool,
    /// SIZE with its limit (0 means no fixed limit, RFC 1870 §4).
    size: Option<u64>,
    eight_bit_mime: bool,
    smtputf8: bool,
    starttls: bool,
    auth: Vec<String>,
}

impl Extensions {
    /// The lines after the first of an EHLO reply: `keyword *(SP param)`, keywords
    /// case-insensitive.
    fn parse(reply: &Reply) -> Self {
        let mut ext = Self::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => ext.pipelining = true,
                "SIZE" => ext.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "STARTTLS" => ext.starttls = true,
                "AUTH" => ext.auth.extend(words.map(str::to_ascii_uppercase)),
                _ => {}
            }
        }
        ext
    }
}

/// One SMTP client connection delivering one message.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    mail_from: String,
    recipients: Vec<String>,
    /// The message as sent: CRLF-normalised, dot-stuffed, with the end marker.
    wire: Vec<u8>,
    /// RFC 1870 §3: the size declared with SIZE=.
    size: usize,
    smtputf8: bool,
    body_8bit: bool,
    parser: ReplyParser,
    outputs: VecDeque<ClientOutput>,
    expect: VecDeque<Expect>,
    ext: Extensions,
    /// STARTTLS was refused and the policy allows plaintext: do not ask again.
    tls_declined: bool,
    awaiting_tls: bool,
    authenticated: bool,
    mail_accepted: bool,
    /// Accepted at RCPT and waiting for the end-of-data reply.
    rcpt_accepted: Vec<bool>,
    outcomes: Vec<Option<Outcome>>,
    data_reply: Option<Reply>,
    done: bool,
}

impl ClientSession {
    /// `message` is the message as stored (not dot-stuffed); `smtputf8` and `body_8bit` say
    /// whether it needs those extensions. UTF-8 addresses always need SMTPUTF8.
    pub fn new(
        config: ClientConfig,
        mail_from: String,
        rcpt_to: Vec<String>,
        message: &[u8],
        smtputf8: bool,
        body_8bit: bool,
    ) -> Self {
        let (wire, size) = dot_stuff(message);
        let smtputf8 = smtputf8 || !mail_from.is_ascii() || rcpt_to.iter().any(|r| !r.is_ascii());
        let count = rcpt_to.len();
        Self {
            config,
            mail_from,
            recipients: rcpt_to,
            wire,
            size,
            smtputf8,
            body_8bit,
            parser: ReplyParser::new(),
            outputs: VecDeque::new(),
            expect: VecDeque::from([Expect::Greeting]),
            ext: Extensions::default(),
            tls_declined: false,
            awaiting_tls: false,
            authenticated: false,
            mail_accepted: false,
            rcpt_accepted: vec![false; count],
            outcomes: vec![None; count],
            data_reply: None,
            done: false,
        }
    }

    /// Bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        // RFC 3207 §5 mirrored: nothing the server sends between its 220 and the handshake
        // may be read as a reply.
        if self.done || self.awaiting_tls {
            return;
        }
        self.parser.feed(bytes);
        while !self.done && !self.awaiting_tls {
            match self.parser.next_reply() {
                Some(Ok(reply)) => self.reply(reply),
                Some(Err(error)) => {
                    let text = format!("malformed reply from server: {error}");
                    self.fail_undecided(Reply::with_status(421, (4, 5, 0), text));
                    self.finish();
                }
                None => break,
            }
        }
    }

    /// The server closed the connection (or the driver gave up waiting).
    pub fn feed_eof(&mut self) {
        if !self.done {
            self.fail_undecided(Reply::with_status(
                421,
                (4, 4, 2),
                "connection closed before the transaction completed",
            ));
            self.finish();
        }
    }

    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.outputs.pop_front()
    }

    /// The TLS handshake after [`ClientOutput::StartTls`] succeeded: start over with EHLO
    /// (RFC 3207 §4.2: forget what the plaintext EHLO said).
    pub fn tls_established(&mut self) {
        if self.awaiting_tls {
            self.awaiting_tls = false;
            self.config.tls_active = true;
            self.parser = ReplyParser::new();
            self.ext = Extensions::default();
            self.send_command(&Command::Ehlo(self.config.ehlo_name.clone()), Expect::Ehlo);
        }
    }

    fn reply(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            // A reply nobody asked for: the conversation is out of step.
            self.fail_undecided(Reply::with_status(
                421,
                (4, 5, 0),
                format!("unexpected reply from server: {reply}"),
            ));
            return self.finish();
        };
        // RFC 5321 §3.8: 421 may come at any time and means the server is closing.
        if reply.code == 421 || expect == Expect::Quit {
            self.fail_undecided(reply);
            return self.finish();
        }
        match expect {
            Expect::Greeting => self.on_greeting(reply),
            Expect::Ehlo => self.on_ehlo(reply),
            Expect::Helo => self.on_helo(reply),
            Expect::StartTls => self.on_starttls(reply),
            Expect::AuthPlain | Expect::AuthDone => self.on_auth_done(reply),
            Expect::AuthLoginUser => self.on_login_prompt(reply, true),
            Expect::AuthLoginPassword => self.on_login_prompt(reply, false),
            Expect::Mail => self.on_mail(reply),
            Expect::Rcpt(index) => self.on_rcpt(index, reply),
            Expect::Data => self.on_data(reply),
            Expect::EndOfData => self.on_end_of_data(reply),
            Expect::IgnoreThenQuit => self.quit(),
            Expect::Quit => {}
        }
    }

    /// RFC 5321 §3.1: 220 to go on; 554 (or any refusal) ends the session.
    fn on_greeting(&mut self, reply: Reply) {
        if reply.code == 220 {
            self.send_command(&Command::Ehlo(self.config.ehlo_name.clone()), Expect::Ehlo);
        } else {
            self.give_up(reply);
        }
    }

    /// RFC 5321 §3.2: a server that does not know EHLO answers 500 or 502; fall back to HELO.
    fn on_ehlo(&mut self, reply: Reply) {
        if reply.is_completion() {
            self.ext = Extensions::parse(&reply);
            self.after_hello();
        } else if matches!(reply.code, 500 | 502) {
            self.send_command(&Command::Helo(self.config.ehlo_name.clone()), Expect::Helo);
        } else {
            self.give_up(reply);
        }
    }

    fn on_helo(&mut self, reply: Reply) {
        if reply.is_completion() {
            self.ext = Extensions::default();
            self.after_hello();
        } else {
            self.give_up(reply);
        }
    }

    /// After (E)HLO: TLS first, then AUTH, then the transaction.
    fn after_hello(&mut self) {
        if !self.config.tls_active && !self.tls_declined {
            let offered = self.ext.starttls;
            match self.config.tls {
                TlsPolicy::Opportunistic | TlsPolicy::Required if offered => {
                    return self.send_command(&Command::StartTls, Expect::StartTls);
                }
                TlsPolicy::Required => {
                    return self.give_up_transient(Reply::with_status(
                        454,
                        (4, 7, 0),
                        "TLS required but the server does not offer STARTTLS",
                    ));
                }
                _ => {}
            }
        }
        if self.config.auth.is_some() && !self.authenticated {
            return self.start_auth();
        }
        self.start_transaction();
    }

    fn on_starttls(&mut self, reply: Reply) {
        if reply.code == 220 {
            self.awaiting_tls = true;
            self.outputs.push_back(ClientOutput::StartTls);
        } else if self.config.tls == TlsPolicy::Required {
            // Transient whatever the code: the server's TLS may be fixed before the queue
            // lifetime runs out.
            self.give_up_transient(reply);
        } else {
            self.tls_declined = true;
            self.after_hello();
        }
    }

    /// RFC 4954 §4: PLAIN with an initial response if offered, else LOGIN.
    fn start_auth(&mut self) {
        let Some((user, password)) = self.config.auth.clone() else {
            return self.start_transaction();
        };
        let offers = |m: &str| self.ext.auth.iter().any(|a| a == m);
        if offers("PLAIN") {
            // RFC 4616 §2: empty authzid, NUL, authcid, NUL, passwd.
            let credentials = BASE64.encode(format!("\0{user}\0{password}"));
            let command = Command::Auth {
                mechanism: "PLAIN".into(),
                initial_response: Some(credentials),
            };
            self.send_command(&command, Expect::AuthPlain);
        } else if offers("LOGIN") {
            let command = Command::Auth {
                mechanism: "LOGIN".into(),
                initial_response: None,
            };
            self.send_command(&command, Expect::AuthLoginUser);
        } else {
            self.give_up(Reply::with_status(
                530,
                (5, 7, 0),
                "credentials given but the server offers neither AUTH PLAIN nor AUTH LOGIN",
            ));
        }
    }

    /// A 334 prompt of LOGIN: answer with the user name, then the password.
    fn on_login_prompt(&mut self, reply: Reply, user: bool) {
        let Some((name, password)) = &self.config.auth else {
            return self.give_up(reply);
        };
        if reply.code != 334 {
            return self.give_up(reply);
        }
        let (secret, next) = if user {
            (name, Expect::AuthLoginPassword)
        } else {
            (password, Expect::AuthDone)
        };
        let mut line = BASE64.encode(secret).into_bytes();
        line.extend_from_slice(b"\r\n");
        self.send(line, &[next]);
    }

    fn on_auth_done(&mut self, reply: Reply) {
        match reply.code {
            235 => {
                self.authenticated = true;
                self.start_transaction();
            }
            // The server wants more than PLAIN or LOGIN has to give: cancel with "*"
            // (RFC 4954 §4), which it answers with 501.
            334 => {
                self.fail_undecided(Reply::with_status(
                    535,
                    (5, 7, 8),
                    format!("unexpected AUTH challenge: {reply}"),
                ));
                self.send(b"*\r\n".to_vec(), &[Expect::IgnoreThenQuit]);
            }
            _ => self.give_up(reply),
        }
    }

    /// Checks the message against the extensions, then sends MAIL (with RCPT... and DATA when
    /// the server pipelines, RFC 2920 §3.1).
    fn start_transaction(&mut self) {
        if let Some(refusal) = self.unsendable() {
            return self.give_up(refusal);
        }
        if self.recipients.is_empty() {
            return self.quit();
        }
        let params = MailParams {
            size: self.ext.size.map(|_| self.size as u64),
            body: self.body_8bit.then_some(BodyType::EightBitMime),
            smtputf8: self.smtputf8,
            auth: None,
        };
        let mail = Command::Mail {
            from: self.mail_from.clone(),
            params,
        };
        if !self.ext.pipelining {
            return self.send_command(&mail, Expect::Mail);
        }
        let mut bytes = line_bytes(&mail);
        let mut expects = vec![Expect::Mail];
        for (index, to) in self.recipients.iter().enumerate() {
            bytes.extend(line_bytes(&Command::Rcpt { to: to.clone() }));
            expects.push(Expect::Rcpt(index));
        }
        bytes.extend(line_bytes(&Command::Data));
        expects.push(Expect::Data);
        self.send(bytes, &expects);
    }

    /// A message this server cannot take as it is: refused before MAIL, permanently.
    fn unsendable(&self) -> Option<Reply> {
        if self.body_8bit && !self.ext.eight_bit_mime {
            // RFC 6152 §3 / RFC 3463 X.6.3: conversion to 7 bit is not offered.
            return Some(Reply::with_status(
                554,
                (5, 6, 3),
                "message needs 8BITMIME, which the server does not offer",
            ));
        }
        if self.smtputf8 && !self.ext.smtputf8 {
            // RFC 6531 §3.2 / X.6.7: UTF-8 addresses or headers need SMTPUTF8.
            return Some(Reply::with_status(
                553,
                (5, 6, 7),
                "message needs SMTPUTF8, which the server does not offer",
            ));
        }
        match self.ext.size {
            Some(limit) if limit > 0 && self.size as u64 > limit => Some(Reply::with_status(
                552,
                (5, 3, 4),
                format!(
                    "message of {} octets exceeds the server's SIZE {limit}",
                    self.size
                ),
            )),
            _ => None,
        }
    }

    fn on_mail(&mut self, reply: Reply) {
        if reply.is_completion() {
            self.mail_accepted = true;
            if !self.ext.pipelining {
                self.send_rcpt(0);
            }
        } else {
            self.fail_undecided(reply);
            // When pipelining, the RCPT and DATA replies are still to come.
            if !self.ext.pipelining {
                self.quit();
            }
        }
    }

    fn send_rcpt(&mut self, index: usize) {
        match self.recipients.get(index) {
            Some(to) => {
                let command = Command::Rcpt { to: to.clone() };
                self.send_command(&command, Expect::Rcpt(index));
            }
            None if self.rcpt_accepted.contains(&true) => {
                self.send_command(&Command::Data, Expect::Data)
            }
            None => self.quit(),
        }
    }

    fn on_rcpt(&mut self, index: usize, reply: Reply) {
        if self.mail_accepted {
            if reply.is_completion() {
                if let Some(accepted) = self.rcpt_accepted.get_mut(index) {
                    *accepted = true;
                }
            } else if let Some(outcome) = self.outcomes.get_mut(index) {
                *outcome = Some(Outcome::of(reply));
            }
        }
        if !self.ext.pipelining {
            self.send_rcpt(index + 1);
        }
    }

    /// RFC 5321 §4.1.1.4: 354, then the message. RFC 2920 §3.1: if 354 comes although no
    /// recipient was accepted, send an empty message's end marker and ignore its reply.
    fn on_data(&mut self, reply: Reply) {
        if reply.code == 354 {
            if self.mail_accepted && self.rcpt_accepted.contains(&true) {
                let wire = std::mem::take(&mut self.wire);
                self.send(wire, &[Expect::EndOfData]);
            } else {
                self.send(b".\r\n".to_vec(), &[Expect::IgnoreThenQuit]);
            }
            return;
        }
        if self.mail_accepted && self.rcpt_accepted.contains(&true) {
            self.data_reply = Some(reply.clone());
            self.settle_accepted(&reply);
        }
        self.quit();
    }

    fn on_end_of_data(&mut self, reply: Reply) {
        self.data_reply = Some(reply.clone());
        self.settle_accepted(&reply);
        self.quit();
    }

    /// The final outcome of every recipient accepted at RCPT is the end-of-data reply's.
    fn settle_accepted(&mut self, reply: &Reply) {
        for (accepted, outcome) in self.rcpt_accepted.iter().zip(&mut self.outcomes) {
            if *accepted && outcome.is_none() {
                *outcome = Some(Outcome::of(reply.clone()));
            }
        }
    }

    /// Every recipient not yet decided gets this reply's outcome; then QUIT.
    fn give_up(&mut self, reply: Reply) {
        self.fail_undecided(reply);
        self.quit();
    }

    fn give_up_transient(&mut self, reply: Reply) {
        for outcome in &mut self.outcomes {
            if outcome.is_none() {
                *outcome = Some(Outcome::Transient(reply.clone()));
            }
        }
        self.quit();
    }

    fn fail_undecided(&mut self, reply: Reply) {
        for outcome in &mut self.outcomes {
            if outcome.is_none() {
                *outcome = Some(match Outcome::of(reply.clone()) {
                    // A 2xx to QUIT does not accept a message that never got its reply.
                    Outcome::Accepted(reply) => Outcome::Transient(reply),
                    other => other,
                });
            }
        }
    }

    /// RFC 5321 §4.1.1.10: QUIT, then wait for 221 (or the connection's end).
    fn quit(&mut self) {
        if !self.expect.contains(&Expect::Quit) {
            self.send_command(&Command::Quit, Expect::Quit);
        }
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.expect.clear();
        let recipients = self
            .recipients
            .iter()
            .zip(&mut self.outcomes)
            .map(|(to, outcome)| {
                let outcome = outcome.take().unwrap_or_else(|| {
                    Outcome::Transient(Reply::with_status(
                        421,
                        (4, 4, 2),
                        "session ended without a decision",
                    ))
                });
                (to.clone(), outcome)
            })
            .collect();
        self.outputs.push_back(ClientOutput::Done(Delivery {
            recipients,
            data_reply: self.data_reply.take(),
        }));
    }

    fn send_command(&mut self, command: &Command, expect: Expect) {
        self.send(line_bytes(command), &[expect]);
    }

    fn send(&mut self, bytes: Vec<u8>, expects: &[Expect]) {
        self.expect.extend(expects);
        self.outputs.push_back(ClientOutput::Send(bytes));
    }
}

fn line_bytes(command: &Command) -> Vec<u8> {
    let mut bytes = command.to_line().into_bytes();
    bytes.extend_from_slice(b"\r\n");
    bytes
}
