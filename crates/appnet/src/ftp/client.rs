//! The FTP client's command line: `appnet ftp URL` (an interactive shell, see [`shell`]) and
//! the one-shot `appnet ftp get URL [-o FILE] [-C]`, `appnet ftp put FILE URL [-a]` and
//! `appnet ftp ls URL`, on `appnet_ftp::client`.
//!
//! URLs are RFC 1738's `ftp://[USER[:PASSWORD]@]HOST[:PORT][/PATH]`, the path relative to the
//! login directory. Failures exit with curl's codes for the same failures, so scripts written
//! for `curl ftp://` read them the same way: 3 bad URL, 6 cannot resolve, 7 cannot connect,
//! 9 access denied (CWD), 13 bad PASV/EPSV reply, 15 data connection failed, 18 partial
//! file, 23 write error, 25 upload refused, 26 read error, 28 timeout, 30 PORT/EPRT refused,
//! 35 TLS handshake failed, 36 cannot resume, 56 connection lost, 64 TLS refused (--tls),
//! 67 login refused, 77 bad CA file, 78 remote file not found, 8 any other odd reply.

mod shell;

use std::ffi::OsStr;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appnet_core::trace::Tracer;
use appnet_ftp::client::{
    Client, ClientError, ConnectOptions, Credentials, DataMode, Entry, EntryKind, FtpUrl, Progress,
    StoreMode,
};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::AsyncWriteExt;

/// How to reach and log in to the server: shared by the shell and the one-shot commands.
#[derive(Debug, Clone, Args)]
pub struct ConnectFlags {
    /// Active mode: the server connects back to us (EPRT, or PORT), instead of passive mode
    /// (EPSV, or PASV) where we connect to it.
    #[arg(long)]
    pub active: bool,
    /// Require explicit FTPS (AUTH TLS, RFC 4217) and encrypted data connections (PROT P);
    /// fail if the server refuses.
    #[arg(long)]
    pub tls: bool,
    /// With --tls, trust the CA certificates in this PEM file [default: appnet's local CA].
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,
    /// Log in as NAME, instead of the URL's user or anonymous. The password comes from here,
    /// the URL, or the APPNET_FTP_PASSWORD environment variable.
    #[arg(short = 'u', long, value_name = "NAME[:PASSWORD]")]
    pub user: Option<String>,
    /// Seconds to wait for the server at each step (connecting, each reply, each read).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = crate::cli::parse_seconds)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// ftp://[USER[:PASSWORD]@]HOST[:PORT][/DIR]: opens a shell there (commands from
    /// standard input, so a script can be piped in; `help` lists them).
    pub url: Option<String>,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// ftp://[USER[:PASSWORD]@]HOST[:PORT]/PATH
    pub url: String,
    /// Write to FILE (`-` for standard output) [default: the remote file's name, here].
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Resume: keep what the local file holds and fetch only the rest (REST).
    #[arg(short = 'C', long = "continue")]
    pub resume: bool,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// The local file to upload.
    pub file: PathBuf,
    /// ftp://[USER[:PASSWORD]@]HOST[:PORT]/PATH; a path ending in `/` is a directory to put
    /// the file in under its own name.
    pub url: String,
    /// Append to the remote file (APPE) instead of replacing it (STOR).
    #[arg(short = 'a', long)]
    pub append: bool,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// ftp://[USER[:PASSWORD]@]HOST[:PORT][/DIR]
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectFlags,
}

/// curl's exit codes for the same failures (`libcurl-errors(3)`).
mod exit {
    pub const USAGE: u8 = 2;
    pub const URL_MALFORMAT: u8 = 3;
    pub const COULDNT_RESOLVE_HOST: u8 = 6;
    pub const COULDNT_CONNECT: u8 = 7;
    pub const WEIRD_SERVER_REPLY: u8 = 8;
    pub const REMOTE_ACCESS_DENIED: u8 = 9;
    pub const FTP_WEIRD_PASV_REPLY: u8 = 13;
    pub const FTP_CANT_GET_HOST: u8 = 15;
    pub const PARTIAL_FILE: u8 = 18;
    pub const WRITE_ERROR: u8 = 23;
    pub const UPLOAD_FAILED: u8 = 25;
    pub const READ_ERROR: u8 = 26;
    pub const OPERATION_TIMEDOUT: u8 = 28;
    pub const FTP_PORT_FAILED: u8 = 30;
    pub const SSL_CONNECT_ERROR: u8 = 35;
    pub const BAD_DOWNLOAD_RESUME: u8 = 36;
    pub const RECV_ERROR: u8 = 56;
    pub const FILESIZE_EXCEEDED: u8 = 63;
    pub const USE_SSL_FAILED: u8 = 64;
    pub const LOGIN_DENIED: u8 = 67;
    pub const SSL_CACERT_BADFILE: u8 = 77;
    pub const REMOTE_FILE_NOT_FOUND: u8 = 78;
}

/// A failure, the exit code it earns, and whether the session is lost with it.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
    fatal: bool,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            fatal: false,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        Failure {
            code: exit_code(&error),
            message: error.to_string(),
            fatal: error.is_fatal(),
        }
    }
}

fn exit_code(error: &ClientError) -> u8 {
    use ClientError::*;
    match error {
        Url(_) => exit::URL_MALFORMAT,
        Resolve { .. } => exit::COULDNT_RESOLVE_HOST,
        Connect { .. } => exit::COULDNT_CONNECT,
        Timeout { .. } | DataTimeout { .. } => exit::OPERATION_TIMEDOUT,
        ControlClosed | ControlIo(_) | DataIo(_) => exit::RECV_ERROR,
        DataConnect { .. } => exit::FTP_CANT_GET_HOST,
        Reply(_) | BadReply { .. } => match error.reply().map(|r| r.code) {
            Some(227 | 229) => exit::FTP_WEIRD_PASV_REPLY,
            _ => exit::WEIRD_SERVER_REPLY,
        },
        Refused { .. } => match (error.refused_verb(), error.reply().map(|r| r.code)) {
            (Some("RETR" | "SIZE"), Some(550)) => exit::REMOTE_FILE_NOT_FOUND,
            (Some("REST"), _) => exit::BAD_DOWNLOAD_RESUME,
            (Some("STOR" | "APPE"), _) => exit::UPLOAD_FAILED,
            (Some("CWD"), _) => exit::REMOTE_ACCESS_DENIED,
            (Some("EPSV" | "PASV"), _) => exit::FTP_WEIRD_PASV_REPLY,
            (Some("EPRT" | "PORT"), _) => exit::FTP_PORT_FAILED,
            (Some("PBSZ" | "PROT"), _) => exit::USE_SSL_FAILED,
            _ => exit::WEIRD_SERVER_REPLY,
        },
        LoginRefused(_) => exit::LOGIN_DENIED,
        TlsRefused(_) => exit::USE_SSL_FAILED,
        Tls { .. } => exit::SSL_CONNECT_ERROR,
        TlsConfig(_) => exit::SSL_CACERT_BADFILE,
        BadArgument(_) => exit::USAGE,
        ListingTooLarge(_) => exit::FILESIZE_EXCEEDED,
        Partial { .. } => exit::PARTIAL_FILE,
        Local(_) => exit::WRITE_ERROR,
    }
}

/// Prints a failure the way every appnet command does and turns it into the exit status.
fn finish(outcome: Result<(), Failure>) -> anyhow::Result<ExitCode> {
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(failure) => {
            eprintln!("appnet ftp: ({}) {}", failure.code, failure.message);
            Ok(ExitCode::from(failure.code))
        }
    }
}

/// The shell, on the server `args.url` names.
pub async fn shell(args: ShellArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    let Some(url) = args.url else {
        eprintln!(
            "usage: appnet ftp URL (a shell), or appnet ftp get|put|ls ... (see appnet ftp --help)"
        );
        return Ok(ExitCode::from(exit::USAGE));
    };
    match shell::run(&url, &args.connect, tracer).await {
        Ok(code) => Ok(code),
        Err(failure) => finish(Err(failure)),
    }
}

/// `appnet ftp get`.
pub async fn get(args: GetArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    finish(run_get(&args, tracer).await)
}

/// `appnet ftp put`.
pub async fn put(args: PutArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    finish(run_put(&args, tracer).await)
}

/// `appnet ftp ls`.
pub async fn ls(args: LsArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    finish(run_ls(&args, tracer).await)
}

async fn run_get(args: &GetArgs, tracer: &Tracer) -> Result<(), Failure> {
    let url = FtpUrl::parse(&args.url).map_err(ClientError::from)?;
    let Some(name) = url.file_name() else {
        return Err(Failure::new(
            exit::URL_MALFORMAT,
            "the URL names a directory, not a file (`appnet ftp ls` lists it)",
        ));
    };
    let target = match &args.output {
        Some(path) if path.as_os_str() == "-" => Target::Stdout,
        Some(path) => Target::File(path.clone()),
        None => Target::File(PathBuf::from(OsStr::from_bytes(name))),
    };
    if args.resume && matches!(target, Target::Stdout) {
        return Err(Failure::new(
            exit::USAGE,
            "-C needs a file to resume (-o FILE)",
        ));
    }
    let mut client = connect(&url, &args.connect, tracer).await?;
    let outcome = download(&mut client, &url.path, &target, args.resume).await;
    close(client, outcome).await.map(drop)
}

async fn run_put(args: &PutArgs, tracer: &Tracer) -> Result<(), Failure> {
    let url = FtpUrl::parse(&args.url).map_err(ClientError::from)?;
    let remote = if url.is_directory() {
        let name = args.file.file_name().ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!("{} names no file", args.file.display()),
            )
        })?;
        [url.path.as_slice(), name.as_bytes()].concat()
    } else {
        url.path.clone()
    };
    let mode = if args.append {
        StoreMode::Append
    } else {
        StoreMode::Replace
    };
    let mut client = connect(&url, &args.connect, tracer).await?;
    let outcome = upload(&mut client, &args.file, &remote, mode).await;
    close(client, outcome).await.map(drop)
}

async fn run_ls(args: &LsArgs, tracer: &Tracer) -> Result<(), Failure> {
    let url = FtpUrl::parse(&args.url).map_err(ClientError::from)?;
    let mut client = connect(&url, &args.connect, tracer).await?;
    let path = (!url.path.is_empty()).then_some(url.path.as_slice());
    let outcome = client.list(path).await.map_err(Failure::from);
    let entries = close(client, outcome).await?;
    print!("{}", format_entries(&entries));
    Ok(())
}

/// QUIT after a one-shot command, whatever its outcome; the outcome is what counts.
async fn close<T>(client: Client, outcome: Result<T, Failure>) -> Result<T, Failure> {
    let fatal = outcome.as_ref().err().is_some_and(|f| f.fatal);
    if !fatal {
        let _ = client.quit().await;
    }
    outcome
}

/// Connects and logs in as the flags and the URL say.
pub(crate) async fn connect(
    url: &FtpUrl,
    flags: &ConnectFlags,
    tracer: &Tracer,
) -> Result<Client, Failure> {
    let credentials = credentials(url, flags.user.as_deref());
    let tls = if flags.tls {
        Some(tls_config(flags.cacert.as_deref())?)
    } else {
        None
    };
    let options = ConnectOptions {
        host: url.host.clone(),
        port: url.port,
        credentials,
        tls,
        mode: if flags.active {
            DataMode::Active
        } else {
            DataMode::Passive
        },
        timeout: Duration::from_secs_f64(flags.timeout),
    };
    Ok(Client::connect(&options, tracer).await?)
}

/// `--user` first, then the URL's user; anonymous without either (RFC 1738 §3.2.1).
fn credentials(url: &FtpUrl, flag: Option<&str>) -> Credentials {
    let (user, password) = match flag {
        Some(flag) => match flag.split_once(':') {
            Some((user, password)) => (user.to_string(), Some(password.to_string())),
            None => (flag.to_string(), url.password.clone()),
        },
        None => match &url.user {
            Some(user) => (user.clone(), url.password.clone()),
            None => return Credentials::anonymous(),
        },
    };
    let password = password
        .or_else(|| std::env::var("APPNET_FTP_PASSWORD").ok())
        .unwrap_or_default();
    Credentials { user, password }
}

/// The rustls config trusting `--cacert`, or appnet's local CA (the one `appnet ftp serve`
/// and the other servers keep on disk).
fn tls_config(cacert: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Failure> {
    let path = cacert
        .map(Path::to_path_buf)
        .unwrap_or_else(|| appnet_core::tls::default_dir().join("ca.pem"));
    let bad = |message: String| Failure::new(exit::SSL_CACERT_BADFILE, message);
    let pem = std::fs::read_to_string(&path).map_err(|err| {
        bad(format!(
            "cannot read the CA file {} ({err}); give one with --cacert",
            path.display()
        ))
    })?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad(format!("no certificate in {}", path.display())));
    }
    appnet_core::tls::client_config_trusting(&pem)
        .map_err(|err| bad(format!("{}: {err}", path.display())))
}

/// Where a download goes.
pub(crate) enum Target {
    Stdout,
    File(PathBuf),
}

/// What a transfer did, for the shell's summary line.
pub(crate) struct Moved {
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Moved {
    pub fn describe(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut text = format!("{} bytes in {secs:.2} s", self.bytes);
        // Below a few milliseconds the clock says more about the timer than the transfer.
        if secs >= 0.005 {
            let rate = indicatif::HumanBytes((self.bytes as f64 / secs) as u64);
            text.push_str(&format!(" ({rate}/s)"));
        }
        text
    }
}

/// RETR `remote` into `target`; with `resume`, after what the local file already holds.
/// SIZE (RFC 3659 §4) gives the total, to skip a complete file, refuse a local file larger
/// than the remote one, and check that every byte arrived.
pub(crate) async fn download(
    client: &mut Client,
    remote: &[u8],
    target: &Target,
    resume: bool,
) -> Result<Moved, Failure> {
    let started = Instant::now();
    let remote_size = match client.size(remote).await {
        Ok(size) => Some(size),
        Err(err) if err.is_fatal() => return Err(err.into()),
        // SIZE is optional (and refused for directories): go on without a total.
        Err(_) => None,
    };
    let offset = match (target, resume) {
        (Target::File(path), true) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        _ => 0,
    };
    if resume && let Some(total) = remote_size {
        if offset == total {
            eprintln!("appnet ftp: the local file is already complete ({total} bytes)");
            return Ok(Moved {
                bytes: 0,
                elapsed: started.elapsed(),
            });
        }
        if offset > total {
            return Err(Failure::new(
                exit::BAD_DOWNLOAD_RESUME,
                format!("the local file ({offset} bytes) is larger than the remote one ({total})"),
            ));
        }
    }
    let mut bar = Bar::new(remote_size, offset);
    let done = match target {
        Target::Stdout => {
            let mut out = Blocking(std::io::BufWriter::with_capacity(
                256 * 1024,
                std::io::stdout(),
            ));
            let done = client.retrieve(remote, 0, &mut out, &mut bar).await;
            let _ = out.flush().await;
            done
        }
        Target::File(path) => {
            let mut sink = Blocking(LazyFile {
                path: path.clone(),
                append: resume,
                file: None,
            });
            let done = client.retrieve(remote, offset, &mut sink, &mut bar).await;
            // An empty file is a file too.
            done.and_then(|done| sink.0.open().map(|_| done).map_err(ClientError::Local))
        }
    };
    bar.done();
    let done = done?;
    if let Some(total) = remote_size
        && offset + done.bytes != total
    {
        return Err(ClientError::Partial {
            got: offset + done.bytes,
            expected: total,
        }
        .into());
    }
    Ok(Moved {
        bytes: done.bytes,
        elapsed: started.elapsed(),
    })
}

/// STOR (or APPE) the local file `local` as `remote`.
pub(crate) async fn upload(
    client: &mut Client,
    local: &Path,
    remote: &[u8],
    mode: StoreMode,
) -> Result<Moved, Failure> {
    let started = Instant::now();
    let unreadable = |err: std::io::Error| {
        Failure::new(
            exit::READ_ERROR,
            format!("cannot read {}: {err}", local.display()),
        )
    };
    let file = std::fs::File::open(local).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    let mut source = Blocking(std::io::BufReader::with_capacity(256 * 1024, file));
    let mut bar = Bar::new(Some(len), 0);
    let done = client.store(remote, &mut source, mode, &mut bar).await;
    bar.done();
    let done = done.map_err(|err| match err {
        // Here a local error is the file we read, not one we write.
        ClientError::Local(err) => unreadable(err),
        other => other.into(),
    })?;
    Ok(Moved {
        bytes: done.bytes,
        elapsed: started.elapsed(),
    })
}

/// A local file (or standard output) as a tokio stream, read and written in place. The
/// workspace's tokio has no `fs` feature, and like `appnet get` the client writes files
/// directly: a 64 KiB write lands in the page cache, far quicker than a hop to a blocking
/// thread would be.
struct Blocking<T>(T);

impl<T: std::io::Write + Unpin> tokio::io::AsyncWrite for Blocking<T> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(self.get_mut().0.write(buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.get_mut().0.flush())
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.get_mut().0.flush())
    }
}

impl<T: std::io::Read + Unpin> tokio::io::AsyncRead for Blocking<T> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let read = self.get_mut().0.read(buf.initialize_unfilled());
        std::task::Poll::Ready(read.map(|n| buf.advance(n)))
    }
}

/// The local file of a download, opened at the first byte: a refused RETR neither creates
/// it nor empties a file that was there.
struct LazyFile {
    path: PathBuf,
    append: bool,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl LazyFile {
    fn open(&mut self) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        if self.file.is_none() {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .append(self.append)
                .truncate(!self.append)
                .open(&self.path)
                .map_err(|err| {
                    std::io::Error::new(
                        err.kind(),
                        format!("cannot write {}: {err}", self.path.display()),
                    )
                })?;
            self.file = Some(std::io::BufWriter::with_capacity(256 * 1024, file));
        }
        Ok(self.file.as_mut().expect("opened just now"))
    }
}

impl std::io::Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.open()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// A progress bar on stderr when it is a terminal (as `appnet get` shows), nothing otherwise.
struct Bar {
    bar: Option<ProgressBar>,
    offset: u64,
    known: bool,
}

impl Bar {
    fn new(total: Option<u64>, offset: u64) -> Bar {
        let bar = std::io::stderr().is_terminal().then(|| {
            let template = match total {
                Some(_) => "{bytes:>10}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}",
                None => "{spinner} {bytes:>10} {bytes_per_sec}",
            };
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_position(offset);
            bar
        });
        Bar {
            bar,
            offset,
            known: total.is_some(),
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn begin(&mut self, size_hint: Option<u64>) {
        // The hint of a 150 is the file's size; with an offset it is ambiguous, so unused.
        if let (Some(bar), Some(hint), false, 0) = (&self.bar, size_hint, self.known, self.offset) {
            bar.set_length(hint);
            if let Ok(style) = ProgressStyle::with_template(
                "{bytes:>10}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
        }
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }
}

/// A listing as `ls -l`-like lines: type, size, time, name.
pub(crate) fn format_entries(entries: &[Entry]) -> String {
    let mut out = String::new();
    for entry in entries {
        let kind = match entry.kind {
            EntryKind::Directory => 'd',
            EntryKind::File => '-',
            EntryKind::Link => 'l',
            EntryKind::Other => '?',
        };
        let size = entry
            .size
            .map_or_else(|| "-".to_string(), |size| size.to_string());
        let modified = entry.modified.as_deref().unwrap_or("-");
        let name = clean(&entry.display_name());
        out.push_str(&format!("{kind} {size:>12}  {modified:<16}  {name}"));
        if let Some(target) = &entry.target {
            out.push_str(" -> ");
            out.push_str(&clean(&String::from_utf8_lossy(target)));
        }
        out.push('\n');
    }
    out
}

/// A server's name with control characters replaced: a name must not drive the terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_flag_then_the_url() {
        let url = FtpUrl::parse("ftp://alice:pw@h/").unwrap();
        let from_url = credentials(&url, None);
        assert_eq!(
            (from_url.user.as_str(), from_url.password.as_str()),
            ("alice", "pw")
        );
        let from_flag = credentials(&url, Some("bob:secret"));
        assert_eq!(
            (from_flag.user.as_str(), from_flag.password.as_str()),
            ("bob", "secret")
        );
        let anonymous = credentials(&FtpUrl::parse("ftp://h/").unwrap(), None);
        assert_eq!(anonymous, Credentials::anonymous());
    }

    #[test]
    fn listings_print_one_line_per_entry() {
        let entry = Entry {
            name: "보고서\x1b[2J.txt".as_bytes().to_vec(),
            kind: EntryKind::File,
            size: Some(6),
            modified: Some("2024-11-27 10:23".into()),
            permissions: None,
            target: None,
        };
        assert_eq!(
            format_entries(&[entry]),
            "-            6  2024-11-27 10:23  보고서\u{fffd}[2J.txt\n"
        );
    }

    #[test]
    fn refusals_map_to_curls_exit_codes() {
        let refused = |command: &str, code| ClientError::Refused {
            command: command.into(),
            reply: appnet_ftp::proto::reply::Reply::new(code, "no"),
        };
        assert_eq!(exit_code(&refused("RETR x", 550)), 78);
        assert_eq!(exit_code(&refused("REST 5", 502)), 36);
        assert_eq!(exit_code(&refused("STOR x", 553)), 25);
        assert_eq!(exit_code(&refused("MKD x", 550)), 8);
    }
}
