//! The server side of one FTP control connection, sans IO: bytes from the client go in with
//! [`Session::feed`], and what the driver must do comes out of [`Session::poll_output`] —
//! send a reply, check a password, open a passive port, run a transfer, start TLS, close.
//!
//! The commands are RFC 959 §4.1 with RFC 2389 (FEAT, OPTS), RFC 2428 (EPRT, EPSV),
//! RFC 3659 (SIZE, MDTM, REST STREAM, MLST, MLSD) and RFC 4217 (AUTH TLS, PBSZ, PROT), and
//! the reply codes are §4.2's. File-system work (CWD, MKD, listings, opening files) happens
//! here, through the user's kernel-confined [`Root`]; moving bytes over data connections is
//! the driver's.
//!
//! Safety rules live here too: nothing but USER, PASS and the negotiation commands before
//! login; passwords only over TLS unless the config allows clear text (loopback clients);
//! PORT and EPRT only to the client's own address and never a privileged port (RFC 2577 §3,
//! the FTP bounce attack); a bounded line, a bounded number of failed logins and errors.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fs::{Kind, Root, Upload, UploadMode};
use crate::listing::{self, FactSet, Role};
use crate::proto::command::{Command, TransferType, parse_command};
use crate::proto::lines::LineReader;
use crate::proto::path::VirtualPath;
use crate::proto::reply::Reply;

/// Failed logins one connection may make before it is closed (each also delayed by the
/// driver's throttle).
pub const MAX_FAILED_LOGINS: u32 = 3;
/// Error replies in a row before a connection is closed: a client that only sends garbage is
/// not a client.
pub const MAX_ERRORS_IN_A_ROW: u32 = 30;
/// Commands held while a transfer runs; more than this and the client is flooding.
const MAX_HELD_COMMANDS: usize = 64;

/// Where a logged-in user lives and what they may do there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub root: PathBuf,
    pub write: bool,
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The greeting's text after `220 `.
    pub greeting: String,
    /// The client's address: PORT and EPRT may name only this host.
    pub peer: IpAddr,
    /// AUTH TLS is offered (a certificate is configured).
    pub tls_available: bool,
    /// Passwords may be sent without TLS (the driver allows it for loopback clients).
    pub plaintext_login: bool,
    /// Anonymous logins (USER anonymous or ftp, any password) and where they land.
    pub anonymous: Option<Access>,
}

/// What the driver must do next.
#[derive(Debug)]
pub enum Output {
    /// Bytes for the control connection.
    Send(Vec<u8>),
    /// A command line as received (PASS's argument masked), for the trace.
    Received(Vec<u8>),
    /// Check a password; answer with [`Session::login_result`].
    Authenticate { user: String, password: String },
    /// The 234 has been sent: run the TLS handshake, then [`Session::tls_established`].
    StartTls,
    /// Listen on a passive port; answer with [`Session::passive_opened`].
    OpenPassive,
    /// Forget the passive listener (the client chose another data connection, or reset).
    DropPassive,
    /// Open the data connection and move the payload; report with
    /// [`Session::data_opened`] and then [`Session::transfer_finished`].
    Transfer(Transfer),
    /// ABOR arrived during the transfer: stop it and report it as aborted.
    Abort,
    /// Close the control connection (after sending what came before).
    Close,
}

/// A transfer over a data connection.
#[derive(Debug)]
pub struct Transfer {
    pub connect: DataConnect,
    /// PROT P: the data connection is TLS too (the server side of the handshake).
    pub protected: bool,
    pub payload: Payload,
    /// The 150 reply's text, for [`Session::data_opened`].
    pub opening: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataConnect {
    /// Accept on the passive listener (from the client's address only).
    Passive,
    /// Connect to the client (PORT or EPRT).
    Active(SocketAddr),
}

#[derive(Debug)]
pub enum Payload {
    /// RETR: the file from `offset`; in TYPE A with line ends made CRLF.
    Send {
        file: File,
        offset: u64,
        length: u64,
        ascii: bool,
    },
    /// LIST, NLST, MLSD: the listing, already formatted.
    Listing(Vec<u8>),
    /// STOR, APPE, STOU: into the upload, committed by the driver when the data ends
    /// cleanly (in TYPE A, CRLF made LF).
    Receive { upload: Upload, ascii: bool },
}

/// How a transfer ended, as the driver saw it.
#[derive(Debug)]
pub enum TransferOutcome {
    Complete {
        bytes: u64,
    },
    /// The data connection could not be opened (425).
    NoConnection,
    /// The connection broke or stalled past the data timeout (426).
    Broken,
    /// ABOR (426 for the transfer, then 226 for the ABOR).
    Aborted,
    /// Reading or writing the file failed, or the upload could not be committed (451/552).
    LocalError(io::Error),
}

/// What the session waits for before it reads the next command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    No,
    Authenticating,
    Handshaking,
    Passive { extended: bool },
    Transferring,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataMode {
    None,
    Passive,
    Active(SocketAddr),
}

/// The user's login, once it is known.
struct LoggedIn {
    root: Root,
    write: bool,
    cwd: VirtualPath,
}

pub struct Session {
    config: SessionConfig,
    input: LineReader,
    outputs: VecDeque<Output>,
    busy: Busy,
    /// Lines that arrived while a transfer ran, for after it.
    held: VecDeque<Vec<u8>>,
    user: Option<String>,
    login: Option<LoggedIn>,
    failed_logins: u32,
    errors_in_a_row: u32,
    tls_active: bool,
    pbsz_done: bool,
    protected_data: bool,
    transfer_type: TransferType,
    data: DataMode,
    epsv_all: bool,
    restart_at: Option<u64>,
    rename_from: Option<VirtualPath>,
    facts: FactSet,
    quit_after_transfer: bool,
    closed: bool,
}

impl Session {
    pub fn new(config: SessionConfig) -> Session {
        let mut session = Session {
            input: LineReader::default(),
            outputs: VecDeque::new(),
            busy: Busy::No,
            held: VecDeque::new(),
            user: None,
            login: None,
            failed_logins: 0,
            errors_in_a_row: 0,
            tls_active: false,
            pbsz_done: false,
            protected_data: false,
            transfer_type: TransferType::Ascii,
            data: DataMode::None,
            epsv_all: false,
            restart_at: None,
            rename_from: None,
            facts: FactSet::default(),
            quit_after_transfer: false,
            closed: false,
            config,
        };
        let greeting = session.config.greeting.clone();
        session.reply(220, greeting);
        session
    }

    /// Bytes from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.push(bytes);
        self.run();
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Whether a transfer is running (the driver keeps reading commands for ABOR).
    pub fn is_transferring(&self) -> bool {
        self.busy == Busy::Transferring
    }

    /// The answer to [`Output::Authenticate`]: the account's access if the password was right.
    pub fn login_result(&mut self, access: Option<Access>) {
        if self.busy != Busy::Authenticating {
            return;
        }
        self.busy = Busy::No;
        match access {
            Some(access) => self.log_in(access),
            None => self.login_failed(),
        }
        self.run();
    }

    /// The TLS handshake after AUTH TLS succeeded; the client must now log in (again).
    pub fn tls_established(&mut self) {
        self.busy = Busy::No;
        self.tls_active = true;
        self.run();
    }

    /// The answer to [`Output::OpenPassive`]: the address to tell the client, or `None` if
    /// no port was free.
    pub fn passive_opened(&mut self, address: Option<SocketAddr>) {
        let Busy::Passive { extended } = self.busy else {
            return;
        };
        self.busy = Busy::No;
        match (address, extended) {
            (None, _) => self.reply(425, "No passive port is free; try again later."),
            (Some(address), true) => {
                self.data = DataMode::Passive;
                self.reply(
                    229,
                    format!("Entering Extended Passive Mode (|||{}|)", address.port()),
                );
            }
            (Some(SocketAddr::V4(address)), false) => {
                self.data = DataMode::Passive;
                let [a, b, c, d] = address.ip().octets();
                let port = address.port();
                self.reply(
                    227,
                    format!(
                        "Entering Passive Mode ({a},{b},{c},{d},{},{}).",
                        port >> 8,
                        port & 0xff
                    ),
                );
            }
            (Some(SocketAddr::V6(_)), false) => {
                self.outputs.push_back(Output::DropPassive);
                self.reply(522, "PASV has no IPv6 form; use EPSV.");
            }
        }
        self.run();
    }

    /// The data connection is open: the 150 goes out, with [`Transfer::opening`]'s text.
    pub fn data_opened(&mut self, opening: String) {
        self.reply(150, opening);
    }

    /// The transfer is over; the final reply goes out and held commands run.
    pub fn transfer_finished(&mut self, outcome: TransferOutcome) {
        if self.busy != Busy::Transferring {
            return;
        }
        self.busy = Busy::No;
        self.data = DataMode::None;
        match outcome {
            TransferOutcome::Complete { .. } => self.reply(226, "Transfer complete."),
            TransferOutcome::NoConnection => self.reply(425, "Can't open data connection."),
            TransferOutcome::Broken => {
                self.reply(426, "Connection closed; transfer aborted.");
            }
            TransferOutcome::Aborted => {
                self.reply(426, "Connection closed; transfer aborted.");
                self.reply(226, "Abort successful.");
            }
            TransferOutcome::LocalError(err) if is_full(&err) => {
                self.reply(552, "Requested file action aborted: out of space.");
            }
            TransferOutcome::LocalError(err) => {
                self.reply(
                    451,
                    format!("Requested action aborted: {}.", describe(&err)),
                );
            }
        }
        if self.quit_after_transfer {
            self.quit();
            return;
        }
        let held: Vec<Vec<u8>> = self.held.drain(..).collect();
        for line in held.into_iter().rev() {
            self.input.unread(line);
        }
        self.run();
    }

    /// Handles every complete line while nothing is pending.
    fn run(&mut self) {
        while !self.closed {
            let line = match self.input.next_line() {
                None => return,
                Some(Err(())) => {
                    self.error(500, "Command line too long.");
                    continue;
                }
                Some(Ok(line)) => line,
            };
            match self.busy {
                Busy::No => self.handle_line(&line),
                Busy::Transferring => self.during_transfer(line),
                _ => {
                    self.input.unread(line);
                    return;
                }
            }
        }
    }

    /// RFC 959 §4.1.3: ABOR and STAT are answered during a transfer; QUIT waits for its end;
    /// anything else waits its turn.
    fn during_transfer(&mut self, line: Vec<u8>) {
        match parse_command(&line) {
            Ok(Command::Abor) => {
                self.trace_line(&line);
                self.outputs.push_back(Output::Abort);
            }
            Ok(Command::Stat(None)) => {
                self.trace_line(&line);
                self.reply(213, "A transfer is in progress.");
            }
            Ok(Command::Quit) => {
                self.trace_line(&line);
                self.quit_after_transfer = true;
            }
            _ if self.held.len() >= MAX_HELD_COMMANDS => {
                self.reply(421, "Too many commands during a transfer; closing.");
                self.close();
            }
            _ => self.held.push_back(line),
        }
    }

    fn trace_line(&mut self, line: &[u8]) {
        let shown = if line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"PASS ") {
            b"PASS ****".to_vec()
        } else {
            line.to_vec()
        };
        self.outputs.push_back(Output::Received(shown));
    }

    fn handle_line(&mut self, line: &[u8]) {
        self.trace_line(line);
        let command = match parse_command(line) {
            Ok(command) => command,
            Err(err) => {
                self.error(err.code(), sentence(&err.to_string()));
                return;
            }
        };
        if !matches!(
            command,
            Command::Rest(_) | Command::Retr(_) | Command::Stor(_) | Command::Appe(_)
        ) {
            self.restart_at = None;
        }
        if !matches!(command, Command::Rnto(_)) && !matches!(command, Command::Rnfr(_)) {
            self.rename_from = None;
        }
        if self.login.is_none() && !allowed_before_login(&command) {
            self.error(530, "Please log in with USER and PASS.");
            return;
        }
        self.command(command);
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::User(name) => self.user(name),
            Command::Pass(password) => self.pass(password),
            Command::Acct(_) => self.reply(202, "No account is needed."),
            Command::Rein => {
                self.login = None;
                self.user = None;
                self.reset_data();
                self.reply(220, "Ready for a new user.");
            }
            Command::Quit => self.quit(),
            Command::Cwd(path) => self.cwd_to(&path),
            Command::Cdup => self.cwd_to(b".."),
            Command::Pwd => {
                let quoted = String::from_utf8_lossy(&self.cwd().quoted()).into_owned();
                self.reply(257, format!("{quoted} is the current directory."));
            }
            Command::Type(kind) => {
                self.transfer_type = kind;
                let letter = if kind == TransferType::Ascii {
                    'A'
                } else {
                    'I'
                };
                self.reply(200, format!("Type set to {letter}."));
            }
            Command::Stru(_) => self.reply(200, "Structure set to F."),
            Command::Mode(_) => self.reply(200, "Mode set to S."),
            Command::Port(address) | Command::Eprt(address) => self.port(address),
            Command::Pasv => self.passive(false),
            Command::Epsv { all: true } => {
                self.epsv_all = true;
                self.reply(200, "EPSV ALL accepted: only EPSV from now on.");
            }
            Command::Epsv { all: false } => self.passive(true),
            Command::Rest(offset) => {
                self.restart_at = Some(offset);
                self.reply(
                    350,
                    format!("Restarting at {offset}. Send RETR or STOR to start the transfer."),
                );
            }
            Command::Retr(path) => self.retr(&path),
            Command::Stor(path) => self.store(&path, false),
            Command::Appe(path) => self.store(&path, true),
            Command::Stou => self.store_unique(),
            Command::Rnfr(path) => self.rename_from(&path),
            Command::Rnto(path) => self.rename_to(&path),
            Command::Abor => {
                self.reset_data();
                self.reply(225, "No transfer to abort; data connection closed.");
            }
            Command::Dele(path) => self.change(
                &path,
                |root, path| root.remove_file(path),
                250,
                "File deleted.",
            ),
            Command::Rmd(path) => self.change(
                &path,
                |root, path| root.remove_dir(path),
                250,
                "Directory removed.",
            ),
            Command::Mkd(path) => self.mkd(&path),
            Command::List(arg) => self.list(arg.as_deref(), ListKind::Long),
            Command::Nlst(arg) => self.list(arg.as_deref(), ListKind::Names),
            Command::Mlsd(arg) => self.list(arg.as_deref(), ListKind::Machine),
            Command::Mlst(arg) => self.mlst(arg.as_deref()),
            Command::Size(path) => self.size(&path),
            Command::Mdtm(path) => self.mdtm(&path),
            Command::Site(text) => self.site(&text),
            Command::Syst => self.reply(215, "UNIX Type: L8"),
            Command::Stat(None) => self.status(),
            Command::Stat(Some(path)) => self.stat_path(&path),
            Command::Help(_) => self.help(),
            Command::Noop => self.reply(200, "NOOP ok."),
            Command::Feat => self.features(),
            Command::Opts(text) => self.opts(&text),
            Command::Auth(mechanism) => self.auth(&mechanism),
            Command::Pbsz(_) => {
                if self.tls_active {
                    self.pbsz_done = true;
                    self.reply(200, "PBSZ=0");
                } else {
                    self.error(503, "PBSZ needs AUTH TLS first.");
                }
            }
            Command::Prot(level) => {
                if !self.tls_active || !self.pbsz_done {
                    self.error(503, "PROT needs AUTH TLS and PBSZ first.");
                } else {
                    self.protected_data = level == 'P';
                    let name = if self.protected_data {
                        "Private"
                    } else {
                        "Clear"
                    };
                    self.reply(200, format!("Protection level set to {name}."));
                }
            }
            Command::Ccc => self.error(534, "The control connection stays protected."),
        }
    }

    // --- Login (RFC 959 §4.1.1, RFC 4217 §6) ---

    fn user(&mut self, name: String) {
        if self.login.is_some() {
            self.error(503, "Already logged in.");
            return;
        }
        let anonymous = is_anonymous(&name);
        if !anonymous && !self.tls_active && !self.config.plaintext_login {
            self.error(530, "Log in over TLS: send AUTH TLS first.");
            return;
        }
        let text = if anonymous {
            "Anonymous login: send your e-mail address as the password.".to_string()
        } else {
            format!("Password required for {name}.")
        };
        self.user = Some(name);
        self.reply(331, text);
    }

    fn pass(&mut self, password: String) {
        if self.login.is_some() {
            self.error(503, "Already logged in.");
            return;
        }
        let Some(user) = self.user.take() else {
            self.error(503, "Send USER first.");
            return;
        };
        if is_anonymous(&user)
            && let Some(access) = self.config.anonymous.clone()
        {
            self.log_in(access);
            return;
        }
        // A refused anonymous login is checked and throttled like any other.
        self.busy = Busy::Authenticating;
        self.outputs
            .push_back(Output::Authenticate { user, password });
    }

    fn log_in(&mut self, access: Access) {
        match Root::open(&access.root) {
            Ok(root) => {
                self.login = Some(LoggedIn {
                    root,
                    write: access.write,
                    cwd: VirtualPath::root(),
                });
                self.errors_in_a_row = 0;
                self.reply(230, "Login successful.");
            }
            Err(err) => {
                tracing::warn!(
                    "ftp: root {} cannot be opened: {err}",
                    access.root.display()
                );
                self.reply(421, "The home directory is unavailable; closing.");
                self.close();
            }
        }
    }

    fn login_failed(&mut self) {
        self.failed_logins += 1;
        if self.failed_logins >= MAX_FAILED_LOGINS {
            self.reply(530, "Login incorrect.");
            self.reply(421, "Too many failed logins; closing.");
            self.close();
        } else {
            self.error(530, "Login incorrect.");
        }
    }

    fn auth(&mut self, mechanism: &str) {
        if !matches!(mechanism, "TLS" | "TLS-C" | "SSL") {
            self.error(504, "Only AUTH TLS is supported.");
        } else if !self.config.tls_available {
            self.error(502, "TLS is not configured on this server.");
        } else if self.tls_active {
            self.error(503, "TLS is already active.");
        } else if self.login.is_some() {
            self.error(503, "AUTH TLS must come before login.");
        } else {
            self.user = None;
            self.reply(234, "AUTH TLS successful; start the handshake.");
            self.busy = Busy::Handshaking;
            self.outputs.push_back(Output::StartTls);
        }
    }

    // --- Data connections (RFC 959 §3.2, RFC 2428, RFC 2577) ---

    fn port(&mut self, address: SocketAddr) {
        if self.epsv_all {
            self.error(503, "EPSV ALL is in effect: use EPSV.");
        } else if address.ip() != self.config.peer {
            self.error(
                504,
                "PORT and EPRT may name only your own address (RFC 2577).",
            );
        } else if address.port() < 1024 {
            self.error(
                504,
                "PORT and EPRT may not name a privileged port (RFC 2577).",
            );
        } else {
            if self.data == DataMode::Passive {
                self.outputs.push_back(Output::DropPassive);
            }
            self.data = DataMode::Active(address);
            self.reply(200, "PORT command successful.");
        }
    }

    fn passive(&mut self, extended: bool) {
        if self.epsv_all && !extended {
            self.error(503, "EPSV ALL is in effect: use EPSV.");
            return;
        }
        self.busy = Busy::Passive { extended };
        self.outputs.push_back(Output::OpenPassive);
    }

    fn reset_data(&mut self) {
        if self.data == DataMode::Passive {
            self.outputs.push_back(Output::DropPassive);
        }
        self.data = DataMode::None;
    }

    /// Starts a transfer over the data connection the client set up.
    fn transfer(&mut self, payload: Payload, opening: String) {
        let connect = match self.data {
            DataMode::None => {
                self.error(425, "Use PORT, EPRT, PASV or EPSV first.");
                return;
            }
            DataMode::Passive => DataConnect::Passive,
            DataMode::Active(address) => DataConnect::Active(address),
        };
        self.busy = Busy::Transferring;
        self.errors_in_a_row = 0;
        self.outputs.push_back(Output::Transfer(Transfer {
            connect,
            protected: self.protected_data,
            payload,
            opening,
        }));
    }

    // --- File commands ---

    fn cwd(&self) -> VirtualPath {
        self.login
            .as_ref()
            .map_or_else(VirtualPath::root, |login| login.cwd.clone())
    }

    /// `argument` as a path under the user's root, or a 501 sent and `None`.
    fn resolve(&mut self, argument: &[u8]) -> Option<VirtualPath> {
        let resolved = self.cwd().join(argument);
        if resolved.is_none() {
            self.error(501, "Bad path name.");
        }
        resolved
    }

    fn root(&self) -> &Root {
        &self
            .login
            .as_ref()
            .expect("file commands run after login")
            .root
    }

    fn writable(&mut self) -> bool {
        let write = self.login.as_ref().is_some_and(|login| login.write);
        if !write {
            self.error(550, "Permission denied: this login is read-only.");
        }
        write
    }

    fn cwd_to(&mut self, argument: &[u8]) {
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match self.root().stat(&path) {
            Ok(meta) if meta.kind == Kind::Dir => {
                let shown = String::from_utf8_lossy(&path.quoted()).into_owned();
                if let Some(login) = self.login.as_mut() {
                    login.cwd = path;
                }
                self.reply(250, format!("Directory changed to {shown}."));
            }
            Ok(_) => self.error(550, "Not a directory."),
            Err(err) => self.fs_error(&err),
        }
    }

    fn retr(&mut self, argument: &[u8]) {
        let offset = self.restart_at.take().unwrap_or(0);
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match self.root().open_read(&path) {
            Ok((file, meta)) => {
                if offset > meta.size {
                    self.error(554, "The restart offset is past the end of the file.");
                    return;
                }
                let ascii = self.transfer_type == TransferType::Ascii;
                let length = meta.size - offset;
                let opening = format!(
                    "Opening {} mode data connection for {} ({length} bytes).",
                    if ascii { "ASCII" } else { "BINARY" },
                    String::from_utf8_lossy(path.segments().last().map_or(b"/", Vec::as_slice)),
                );
                self.transfer(
                    Payload::Send {
                        file,
                        offset,
                        length,
                        ascii,
                    },
                    opening,
                );
            }
            Err(err) => self.fs_error(&err),
        }
    }

    fn store(&mut self, argument: &[u8], append: bool) {
        let offset = self.restart_at.take();
        if !self.writable() {
            return;
        }
        let Some(path) = self.resolve(argument) else {
            return;
        };
        let mode = match (append, offset) {
            (true, _) => UploadMode::Append,
            (false, None | Some(0)) => UploadMode::Replace,
            (false, Some(offset)) => UploadMode::Resume(offset),
        };
        self.begin_upload(&path, mode, "Ok to send data.".into());
    }

    fn store_unique(&mut self) {
        if !self.writable() {
            return;
        }
        let cwd = self.cwd();
        match self.root().unique_name(&cwd, b"upload") {
            Ok(path) => {
                // RFC 1123 §4.1.2.9: the 150 names the file.
                let name = path.segments().last().map_or(b"".as_slice(), Vec::as_slice);
                let opening = format!("FILE: {}", String::from_utf8_lossy(name));
                self.begin_upload(&path, UploadMode::Replace, opening);
            }
            Err(err) => self.fs_error(&err),
        }
    }

    fn begin_upload(&mut self, path: &VirtualPath, mode: UploadMode, opening: String) {
        match self.root().begin_upload(path, mode) {
            Ok(upload) => self.transfer(
                Payload::Receive {
                    upload,
                    ascii: self.transfer_type == TransferType::Ascii,
                },
                opening,
            ),
            Err(err) => self.fs_error(&err),
        }
    }

    fn rename_from(&mut self, argument: &[u8]) {
        if !self.writable() {
            return;
        }
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match self.root().stat(&path) {
            Ok(_) if !path.is_root() => {
                self.rename_from = Some(path);
                self.reply(350, "Ready for the destination name (RNTO).");
            }
            Ok(_) => self.error(550, "The root cannot be renamed."),
            Err(err) => self.fs_error(&err),
        }
    }

    fn rename_to(&mut self, argument: &[u8]) {
        let Some(from) = self.rename_from.take() else {
            self.error(503, "Send RNFR first.");
            return;
        };
        let Some(to) = self.resolve(argument) else {
            return;
        };
        match self.root().rename(&from, &to) {
            Ok(()) => self.reply(250, "Rename successful."),
            Err(err) => self.fs_error(&err),
        }
    }

    /// A command that changes the tree: permission, path, the change, then one reply.
    fn change(
        &mut self,
        argument: &[u8],
        operation: impl FnOnce(&Root, &VirtualPath) -> io::Result<()>,
        code: u16,
        text: &str,
    ) {
        if !self.writable() {
            return;
        }
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match operation(self.root(), &path) {
            Ok(()) => self.reply(code, text.to_string()),
            Err(err) => self.fs_error(&err),
        }
    }

    fn mkd(&mut self, argument: &[u8]) {
        if !self.writable() {
            return;
        }
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match self.root().make_dir(&path) {
            Ok(()) => {
                let quoted = String::from_utf8_lossy(&path.quoted()).into_owned();
                self.reply(257, format!("{quoted} created."));
            }
            Err(err) => self.fs_error(&err),
        }
    }

    fn list(&mut self, argument: Option<&[u8]>, kind: ListKind) {
        let argument = argument.map(strip_ls_options).filter(|a| !a.is_empty());
        let Some(path) = self.resolve(argument.unwrap_or(b".")) else {
            return;
        };
        let write = self.login.as_ref().is_some_and(|login| login.write);
        let meta = match self.root().stat(&path) {
            Ok(meta) => meta,
            Err(err) => return self.fs_error(&err),
        };
        let listing = if meta.kind != Kind::Dir {
            let name = path.segments().last().cloned().unwrap_or_default();
            match kind {
                ListKind::Machine => return self.error(501, "MLSD lists directories; use MLST."),
                ListKind::Long => {
                    let mut line = listing::list_line(&meta, &name, now());
                    line.extend_from_slice(b"\r\n");
                    line
                }
                ListKind::Names => {
                    let mut line = argument.unwrap_or(&name).to_vec();
                    line.extend_from_slice(b"\r\n");
                    line
                }
            }
        } else {
            let entries = match self.root().list(&path) {
                Ok(entries) => entries,
                Err(err) => return self.fs_error(&err),
            };
            match kind {
                ListKind::Long => listing::list(&entries, now()),
                ListKind::Machine => listing::mlsd(self.facts, &meta, &entries, write),
                ListKind::Names => {
                    let prefix = argument.map(|a| {
                        let mut p = a.strip_suffix(b"/").unwrap_or(a).to_vec();
                        p.push(b'/');
                        p
                    });
                    let mut out = Vec::new();
                    for entry in &entries {
                        if let Some(prefix) = &prefix {
                            out.extend_from_slice(prefix);
                        }
                        out.extend_from_slice(&entry.name);
                        out.extend_from_slice(b"\r\n");
                    }
                    out
                }
            }
        };
        self.transfer(
            Payload::Listing(listing),
            "Here comes the directory listing.".into(),
        );
    }

    fn mlst(&mut self, argument: Option<&[u8]>) {
        let Some(path) = self.resolve(argument.unwrap_or(b".")) else {
            return;
        };
        let write = self.login.as_ref().is_some_and(|login| login.write);
        match self.root().stat(&path) {
            Ok(meta) => {
                let mut name = b"/".to_vec();
                name.extend_from_slice(&path.relative());
                let role = if argument.is_none() {
                    Role::ThisDir
                } else {
                    Role::Listed
                };
                let facts = listing::mlsx_line(self.facts, &meta, role, write, &name);
                // RFC 3659 §7.2: the fact line starts with a space.
                let line = format!(" {}", String::from_utf8_lossy(&facts));
                self.reply_lines(250, vec!["Listing follows:".into(), line, "End.".into()]);
            }
            Err(err) => self.fs_error(&err),
        }
    }

    fn size(&mut self, argument: &[u8]) {
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match self.root().open_read(&path) {
            Ok((file, meta)) => {
                let size = if self.transfer_type == TransferType::Ascii {
                    match ascii_size(file) {
                        Ok(size) => size,
                        Err(err) => return self.fs_error(&err),
                    }
                } else {
                    meta.size
                };
                self.reply(213, size.to_string());
            }
            Err(err) => self.fs_error(&err),
        }
    }

    fn mdtm(&mut self, argument: &[u8]) {
        let Some(path) = self.resolve(argument) else {
            return;
        };
        match self.root().stat(&path) {
            Ok(meta) if meta.kind == Kind::File => {
                self.reply(213, listing::timestamp(meta.modified));
            }
            Ok(_) => self.error(550, "Not a plain file."),
            Err(err) => self.fs_error(&err),
        }
    }

    fn site(&mut self, text: &str) {
        let words: Vec<&str> = text.splitn(3, ' ').collect();
        match words.as_slice() {
            [help] if help.eq_ignore_ascii_case("HELP") => {
                self.reply_lines(
                    214,
                    vec!["SITE commands:".into(), " CHMOD HELP".into(), "End.".into()],
                );
            }
            [chmod, mode, path] if chmod.eq_ignore_ascii_case("CHMOD") => {
                let Ok(mode) = u32::from_str_radix(mode, 8) else {
                    return self.error(501, "SITE CHMOD takes an octal mode.");
                };
                let path = path.as_bytes().to_vec();
                self.change(
                    &path,
                    |root, path| root.chmod(path, mode & 0o777),
                    200,
                    "SITE CHMOD successful.",
                );
            }
            _ => self.error(504, "Only SITE CHMOD and SITE HELP are supported."),
        }
    }

    fn stat_path(&mut self, argument: &[u8]) {
        let Some(path) = self.resolve(strip_ls_options(argument)) else {
            return;
        };
        let meta = match self.root().stat(&path) {
            Ok(meta) => meta,
            Err(err) => return self.fs_error(&err),
        };
        let body = if meta.kind == Kind::Dir {
            match self.root().list(&path) {
                Ok(entries) => listing::list(&entries, now()),
                Err(err) => return self.fs_error(&err),
            }
        } else {
            let name = path.segments().last().cloned().unwrap_or_default();
            listing::list_line(&meta, &name, now())
        };
        let mut lines = vec!["Status follows:".to_string()];
        lines.extend(
            String::from_utf8_lossy(&body)
                .lines()
                .map(|line| format!(" {line}")),
        );
        lines.push("End of status.".into());
        self.reply_lines(213, lines);
    }

    fn status(&mut self) {
        let user = match &self.login {
            Some(_) => "logged in",
            None => "not logged in",
        };
        let kind = if self.transfer_type == TransferType::Ascii {
            "ASCII"
        } else {
            "BINARY"
        };
        let tls = if self.tls_active { "TLS" } else { "clear text" };
        self.reply_lines(
            211,
            vec![
                "appnet FTP server status:".into(),
                format!(" Connected from {}, {user}", self.config.peer),
                format!(" TYPE: {kind}, STRUcture: File, MODE: Stream"),
                format!(" Control connection: {tls}"),
                "End of status.".into(),
            ],
        );
    }

    fn help(&mut self) {
        self.reply_lines(
            214,
            vec![
                "The following commands are recognized:".into(),
                " ABOR ACCT APPE AUTH CCC  CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM".into(),
                " MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD  QUIT".into(),
                " REIN REST RETR RMD  RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER"
                    .into(),
                "Help OK.".into(),
            ],
        );
    }

    fn features(&mut self) {
        let mut lines = vec!["Features:".to_string()];
        if self.config.tls_available {
            lines.extend([" AUTH TLS".into(), " PBSZ".into(), " PROT".into()]);
        }
        lines.extend([
            " EPRT".into(),
            " EPSV".into(),
            " MDTM".into(),
            format!(" {}", self.facts.feature_line()),
            " PASV".into(),
            " REST STREAM".into(),
            " SIZE".into(),
            " TVFS".into(),
            " UTF8".into(),
            "End".into(),
        ]);
        self.reply_lines(211, lines);
    }

    fn opts(&mut self, text: &str) {
        let (option, value) = text.split_once(' ').unwrap_or((text, ""));
        match option.to_ascii_uppercase().as_str() {
            "UTF8" | "UTF-8" if value.eq_ignore_ascii_case("ON") || value.is_empty() => {
                self.reply(200, "Always in UTF8 mode.");
            }
            "UTF8" | "UTF-8" => self.error(504, "UTF8 cannot be turned off: names are bytes."),
            "MLST" => {
                self.facts = FactSet::from_request(value);
                let selected = self.facts.selected();
                self.reply(200, format!("MLST OPTS {selected}"));
            }
            _ => self.error(501, "Unknown option."),
        }
    }

    fn quit(&mut self) {
        self.reply(221, "Goodbye.");
        self.close();
    }

    fn close(&mut self) {
        self.closed = true;
        self.outputs.push_back(Output::Close);
    }

    // --- Replies ---

    fn reply(&mut self, code: u16, text: impl Into<String>) {
        if code < 400 {
            self.errors_in_a_row = 0;
        }
        self.outputs
            .push_back(Output::Send(Reply::new(code, text).encode()));
    }

    fn reply_lines(&mut self, code: u16, lines: Vec<String>) {
        self.errors_in_a_row = 0;
        self.outputs
            .push_back(Output::Send(Reply::multiline(code, lines).encode()));
    }

    /// An error reply, counted: too many in a row and the connection is closed.
    fn error(&mut self, code: u16, text: impl Into<String>) {
        self.outputs
            .push_back(Output::Send(Reply::new(code, text).encode()));
        self.errors_in_a_row += 1;
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
            self.reply(421, "Too many errors; closing.");
            self.close();
        }
    }

    /// 550 with the reason, for a file-system error.
    fn fs_error(&mut self, err: &io::Error) {
        if is_full(err) {
            self.error(552, "Out of space.");
        } else {
            self.error(550, format!("{}.", describe(err)));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Long,
    Names,
    Machine,
}

fn allowed_before_login(command: &Command) -> bool {
    matches!(
        command,
        Command::User(_)
            | Command::Pass(_)
            | Command::Acct(_)
            | Command::Quit
            | Command::Rein
            | Command::Syst
            | Command::Feat
            | Command::Opts(_)
            | Command::Help(_)
            | Command::Noop
            | Command::Auth(_)
            | Command::Pbsz(_)
            | Command::Prot(_)
            | Command::Ccc
            | Command::Stat(None)
    )
}

/// An error's text as a reply's: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => "Error.".into(),
    }
}

fn is_anonymous(user: &str) -> bool {
    user.eq_ignore_ascii_case("anonymous") || user.eq_ignore_ascii_case("ftp")
}

/// LIST's argument without the `ls` options clients add (`LIST -la dir`, `LIST -a`).
fn strip_ls_options(argument: &[u8]) -> &[u8] {
    let mut rest = argument;
    while rest.starts_with(b"-") {
        match rest.iter().position(|&b| b == b' ') {
            Some(at) => rest = &rest[at + 1..],
            None => return b"",
        }
    }
    rest
}

/// The size of a file as TYPE A sends it: each bare LF becomes CRLF.
fn ascii_size(mut file: File) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut size, mut previous) = (0u64, 0u8);
    loop {
        let read = file.read(&mut buf)?;
        if read == 0 {
            return Ok(size);
        }
        for &byte in &buf[..read] {
            if byte == b'\n' && previous != b'\r' {
                size += 1;
            }
            size += 1;
            previous = byte;
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn is_full(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// The reason in a 550, from the error's kind: the same words whatever the OS message.
fn describe(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::NotFound => "No such file or directory",
        io::ErrorKind::PermissionDenied => "Permission denied",
        io::ErrorKind::AlreadyExists => "File exists",
        io::ErrorKind::IsADirectory => "Is a directory",
        io::ErrorKind::NotADirectory => "Not a directory",
        io::ErrorKind::DirectoryNotEmpty => "Directory not empty",
        io::ErrorKind::InvalidInput => "Invalid argument",
        _ => "Local error",
    }
}

#[cfg(test)]
mod tests;
