//! The tokio driver of the FTP server: accepts control connections and runs each through a
//! [`Session`], doing what it asks — checking passwords off the async threads (with the
//! [`LoginThrottle`]'s delay on failure), upgrading to TLS on AUTH TLS (RFC 4217 §4), opening
//! passive ports from the configured range, and moving bytes over data connections (RFC 959
//! §3.2-3.3) while still reading the control connection for ABOR and STAT.
//!
//! Data connections: a passive listener accepts only the control connection's client (a
//! stranger who guesses the port gets nothing, RFC 2577 §5); an active one connects from the
//! control connection's local address. Binary files go out with `sendfile(2)` unless the data
//! connection is TLS; uploads are committed to disk before the 226.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appnet_core::files::send_file;
use appnet_core::lifecycle::Shutdown;
use appnet_core::net::accept_connections;
use appnet_core::password::{is_valid_hash, verify_password};
use appnet_core::sync::lock;
use appnet_core::tls::{HANDSHAKE_TIMEOUT, accept_within};
use appnet_core::trace::{Role, TraceScope, Tracer, summarize_lines};
use appnet_core::transport::Transport;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::ascii;
use crate::config::{FtpConfig, PortRange};
use crate::session::{
    Access, DataConnect, Output, Payload, Session, SessionConfig, Transfer, TransferOutcome,
};
use crate::throttle::LoginThrottle;

/// Bytes read or written at a time when a transfer cannot use sendfile.
const CHUNK: usize = 64 * 1024;
/// A sendfile transfer must move this much per data timeout (17 KiB/s at the default 60 s).
const SENDFILE_CHUNK: u64 = 1 << 20;
/// The control connection's read buffer.
const CONTROL_BUFFER: usize = 4096;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("user {0}: the password is not an argon2 hash (make one with `appnet ftp adduser`)")]
    BadHash(String),
    #[error("{0}: not a directory we can serve: {1}")]
    BadRoot(String, io::Error),
}

/// What every connection of one server shares.
struct Context {
    /// Password hash and access, by user name.
    accounts: HashMap<String, (String, Access)>,
    anonymous: Option<Access>,
    tls: Option<TlsAcceptor>,
    /// The same certificate and session cache for PROT P data connections, without TLS 1.3
    /// session tickets: a client that only uploads never reads them, and closing a socket with
    /// unread bytes sends a RST that can destroy the end of the upload.
    data_tls: Option<TlsAcceptor>,
    passive_ports: Option<PortRange>,
    /// Where the next passive-port search starts, so sessions spread over the range.
    next_passive: AtomicUsize,
    advertise: Option<IpAddr>,
    idle_timeout: Duration,
    data_timeout: Duration,
    loopback_login_without_tls: bool,
    throttle: Mutex<LoginThrottle>,
    tracer: Tracer,
}

/// An FTP server ready to run on a listener.
pub struct FtpServer {
    context: Arc<Context>,
    max_connections: usize,
}

impl FtpServer {
    /// A server for `config`'s users and trees; `tls` enables AUTH TLS.
    pub fn new(
        config: &FtpConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        tracer: Tracer,
    ) -> Result<FtpServer, ServerError> {
        let check_root = |path: &std::path::Path| match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(ServerError::BadRoot(
                path.display().to_string(),
                io::Error::from(io::ErrorKind::NotADirectory),
            )),
            Err(err) => Err(ServerError::BadRoot(path.display().to_string(), err)),
        };
        let mut accounts = HashMap::new();
        for user in &config.users {
            if !is_valid_hash(&user.password) {
                return Err(ServerError::BadHash(user.name.clone()));
            }
            let root = user.root.clone().unwrap_or_else(|| config.root.clone());
            check_root(&root)?;
            let access = Access {
                root,
                write: user.write,
            };
            accounts.insert(user.name.clone(), (user.password.clone(), access));
        }
        let anonymous = if config.anonymous {
            check_root(&config.root)?;
            Some(Access {
                root: config.root.clone(),
                write: config.anonymous_write,
            })
        } else {
            None
        };
        Ok(FtpServer {
            context: Arc::new(Context {
                accounts,
                anonymous,
                data_tls: tls.as_ref().map(|tls| {
                    let mut data = rustls::ServerConfig::clone(tls);
                    data.send_tls13_tickets = 0;
                    TlsAcceptor::from(Arc::new(data))
                }),
                tls: tls.map(TlsAcceptor::from),
                passive_ports: config.passive_ports.clone(),
                next_passive: AtomicUsize::new(rand::random::<u16>().into()),
                advertise: config.advertise,
                idle_timeout: config.idle_timeout.0,
                data_timeout: config.data_timeout.0,
                loopback_login_without_tls: config.loopback_login_without_tls,
                throttle: Mutex::new(LoginThrottle::default()),
                tracer,
            }),
            max_connections: config.max_connections,
        })
    }

    /// Serves control connections on `listener` until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: Shutdown) -> io::Result<()> {
        let context = self.context;
        accept_connections(
            listener,
            self.max_connections,
            shutdown,
            "ftp",
            move |stream, peer| {
                let context = context.clone();
                async move { serve_connection(context, stream, peer).await }
            },
        )
        .await
    }
}

async fn serve_connection(
    context: Arc<Context>,
    mut stream: TcpStream,
    peer: SocketAddr,
) -> io::Result<()> {
    let blocked = lock(&context.throttle).is_blocked(peer.ip(), Instant::now());
    if blocked {
        stream
            .write_all(b"421 Too many failed logins from your address; try again later.\r\n")
            .await?;
        return Ok(());
    }
    stream.set_nodelay(true)?;
    keep_urgent_data_inline(&stream)?;
    let local = stream.local_addr()?;
    let session = Session::new(SessionConfig {
        greeting: "appnet FTP server ready.".into(),
        peer: peer.ip(),
        tls_available: context.tls.is_some(),
        plaintext_login: context.loopback_login_without_tls && peer.ip().is_loopback(),
        anonymous: context.anonymous.clone(),
    });
    let mut connection = Connection {
        trace: context.tracer.scope("ftp", Role::Server, local, peer),
        context,
        control: Some(Transport::Plain(stream)),
        session,
        passive: None,
        local,
        peer,
        pending: Vec::new(),
    };
    connection.run().await
}

/// Clients send ABOR with the Telnet Synch as TCP urgent data (RFC 959 §4.1.3); kept inline,
/// the urgent byte stays in the stream, where the session's line reader drops the Telnet
/// bytes, instead of vanishing from it.
fn keep_urgent_data_inline(stream: &TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and an int option of the right size.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_OOBINLINE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

struct Connection {
    context: Arc<Context>,
    trace: TraceScope,
    /// `None` only while the TLS handshake has it.
    control: Option<Transport>,
    session: Session,
    /// The passive listener a PASV or EPSV opened, for the next transfer.
    passive: Option<TcpListener>,
    local: SocketAddr,
    peer: SocketAddr,
    /// Replies not yet written.
    pending: Vec<u8>,
}

/// What the session asked for while a transfer runs.
enum During {
    Continue,
    Abort,
    Close,
}

/// What the session's outputs asked of the connection loop.
enum Step {
    Continue,
    Close,
}

impl Connection {
    async fn run(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; CONTROL_BUFFER];
        loop {
            if let Step::Close = self.do_outputs().await? {
                self.flush().await?;
                let _ = self.control()?.shutdown().await;
                return Ok(());
            }
            self.flush().await?;
            let idle_timeout = self.context.idle_timeout;
            let read = match timeout(idle_timeout, read_all(self.control()?, &mut buf)).await {
                Ok(read) => read?,
                Err(_) => {
                    self.send(b"421 Timeout: no command for too long; closing.\r\n");
                    self.flush().await?;
                    return Ok(());
                }
            };
            if read == 0 {
                return Ok(());
            }
            self.session.feed(&buf[..read]);
        }
    }

    /// Does what the session asked, until it has nothing more to say.
    async fn do_outputs(&mut self) -> io::Result<Step> {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Send(bytes) => self.send(&bytes),
                Output::Received(line) => self.trace_received(&line),
                Output::Authenticate { user, password } => {
                    self.flush().await?;
                    let access = self.authenticate(user, password).await;
                    self.session.login_result(access);
                }
                Output::StartTls => {
                    self.flush().await?;
                    self.start_tls().await?;
                    self.session.tls_established();
                }
                Output::OpenPassive => {
                    let address = self.open_passive();
                    self.session.passive_opened(address);
                }
                Output::DropPassive => self.passive = None,
                Output::Transfer(transfer) => {
                    self.flush().await?;
                    let outcome = self.transfer(transfer).await?;
                    self.session.transfer_finished(outcome);
                }
                // ABOR outside a transfer is answered by the session itself.
                Output::Abort => {}
                Output::Close => return Ok(Step::Close),
            }
        }
        Ok(Step::Continue)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.trace.sent(bytes, || summarize_lines(bytes));
        self.pending.extend_from_slice(bytes);
    }

    fn trace_received(&self, line: &[u8]) {
        self.trace
            .received(line, || String::from_utf8_lossy(line).into_owned());
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let control = self.control()?;
            control.write_all(&pending).await?;
            control.flush().await?;
        }
        Ok(())
    }

    fn control(&mut self) -> io::Result<&mut Transport> {
        self.control
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Checks a password on a blocking thread (argon2 is slow on purpose); a failure is
    /// answered only after the throttle's delay for this address.
    async fn authenticate(&self, user: String, password: String) -> Option<Access> {
        let context = self.context.clone();
        let access = tokio::task::spawn_blocking(move || {
            let account = context.accounts.get(&user);
            let stored = account.map(|(hash, _)| hash.as_str());
            verify_password(stored, &password).then(|| account.map(|(_, access)| access.clone()))
        })
        .await
        .ok()
        .flatten()
        .flatten();
        let ip = self.peer.ip();
        match &access {
            Some(_) => lock(&self.context.throttle).succeeded(ip),
            None => {
                let delay = lock(&self.context.throttle).failed(ip, Instant::now());
                tokio::time::sleep(delay).await;
            }
        }
        access
    }

    async fn start_tls(&mut self) -> io::Result<()> {
        let acceptor = self
            .context
            .tls
            .clone()
            .ok_or_else(|| io::Error::other("no TLS configured"))?;
        let Some(Transport::Plain(stream)) = self.control.take() else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = accept_within(&acceptor, stream, HANDSHAKE_TIMEOUT).await?;
        self.control = Some(Transport::tls(tls));
        Ok(())
    }

    /// Listens for a passive data connection on the control connection's local address, on
    /// a free port of the range; the address to tell the client, or `None` if none is free.
    fn open_passive(&mut self) -> Option<SocketAddr> {
        self.passive = None;
        let ip = self.local.ip();
        let listener = match &self.context.passive_ports {
            None => passive_listener(SocketAddr::new(ip, 0)).ok()?,
            Some(range) => {
                let ports: Vec<u16> = range.ports().collect();
                let start = self.context.next_passive.fetch_add(1, Ordering::Relaxed);
                (0..ports.len())
                    .map(|i| ports[(start + i) % ports.len()])
                    .find_map(|port| passive_listener(SocketAddr::new(ip, port)).ok())?
            }
        };
        let port = listener.local_addr().ok()?.port();
        self.passive = Some(listener);
        let shown = match (self.context.advertise, ip) {
            (Some(advertise), _) => advertise,
            (None, ip) => ip,
        };
        Some(SocketAddr::new(shown, port))
    }

    /// Runs one transfer: opens the data connection, sends the 150, moves the bytes while
    /// watching the control connection for ABOR, and reports how it ended.
    async fn transfer(&mut self, transfer: Transfer) -> io::Result<TransferOutcome> {
        let Transfer {
            connect,
            protected,
            payload,
            opening,
        } = transfer;
        let passive = self.passive.take();
        let data_timeout = self.context.data_timeout;
        let Some(tcp) = self.open_data(connect, passive).await else {
            return Ok(TransferOutcome::NoConnection);
        };
        let data_trace = self.context.tracer.scope(
            "ftp-data",
            Role::Server,
            tcp.local_addr()?,
            tcp.peer_addr()?,
        );
        let mode = match connect {
            DataConnect::Passive => "passive",
            DataConnect::Active(_) => "active",
        };
        data_trace.sent(b"", || format!("data connection opened ({mode})"));
        self.session.data_opened(opening);
        self.do_replies_only()?;
        self.flush().await?;

        let tls = if protected {
            self.context.data_tls.clone()
        } else {
            None
        };
        let mover = move_data(tcp, tls, payload, data_timeout);
        tokio::pin!(mover);
        let mut buf = vec![0u8; CONTROL_BUFFER];
        let outcome = loop {
            tokio::select! {
                outcome = &mut mover => break outcome,
                read = read_all(self.control.as_mut().ok_or(io::ErrorKind::NotConnected)?, &mut buf) => {
                    let read = read?;
                    if read == 0 {
                        // The client left: the transfer has no one to report to.
                        return Err(io::Error::from(io::ErrorKind::ConnectionAborted));
                    }
                    self.session.feed(&buf[..read]);
                    let during = self.do_replies_only()?;
                    self.flush().await?;
                    match during {
                        During::Continue => {}
                        During::Abort => break TransferOutcome::Aborted,
                        During::Close => {
                            let _ = self.control()?.shutdown().await;
                            return Err(io::Error::other("the client flooded a transfer"));
                        }
                    }
                }
            }
        };
        data_trace.sent(b"", || match &outcome {
            TransferOutcome::Complete { bytes } => {
                format!("data connection closed: {bytes} bytes, complete")
            }
            other => format!("data connection closed: {other:?}"),
        });
        Ok(outcome)
    }

    /// During a transfer the session only replies (STAT), traces, asks to abort, or gives
    /// up on a flooding client.
    fn do_replies_only(&mut self) -> io::Result<During> {
        let mut during = During::Continue;
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Send(bytes) => self.send(&bytes),
                Output::Received(line) => self.trace_received(&line),
                Output::Abort => during = During::Abort,
                Output::Close => return Ok(During::Close),
                other => {
                    return Err(io::Error::other(format!(
                        "unexpected session output during a transfer: {other:?}"
                    )));
                }
            }
        }
        Ok(during)
    }

    /// The data connection's TCP stream, or `None` if it could not be opened in time.
    async fn open_data(
        &self,
        connect: DataConnect,
        passive: Option<TcpListener>,
    ) -> Option<TcpStream> {
        let deadline = tokio::time::Instant::now() + self.context.data_timeout;
        let stream = match connect {
            DataConnect::Passive => {
                let listener = passive?;
                loop {
                    let (stream, from) = tokio::time::timeout_at(deadline, listener.accept())
                        .await
                        .ok()?
                        .ok()?;
                    if from.ip() == self.peer.ip() {
                        break stream;
                    }
                    tracing::warn!(
                        "ftp: refused a data connection from {from}: the session is {}'s",
                        self.peer.ip()
                    );
                }
            }
            DataConnect::Active(address) => {
                let socket = match address {
                    SocketAddr::V4(_) => TcpSocket::new_v4(),
                    SocketAddr::V6(_) => TcpSocket::new_v6(),
                }
                .ok()?;
                socket.bind(SocketAddr::new(self.local.ip(), 0)).ok()?;
                tokio::time::timeout_at(deadline, socket.connect(address))
                    .await
                    .ok()?
                    .ok()?
            }
        };
        stream.set_nodelay(true).ok()?;
        Some(stream)
    }
}

/// A passive port's last data connection may linger in TIME_WAIT; it must not keep the port
/// from the next session. One connection is expected.
fn passive_listener(address: SocketAddr) -> io::Result<TcpListener> {
    appnet_core::net::listen_reusing(address, 1)
}

/// Moves a payload over a data connection (TLS first if `tls`), every wait bounded by
/// `data_timeout`; commits an upload that arrived whole.
async fn move_data(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    payload: Payload,
    data_timeout: Duration,
) -> TransferOutcome {
    let mut stream = match tls {
        None => Transport::Plain(tcp),
        Some(acceptor) => match accept_within(&acceptor, tcp, data_timeout).await {
            Ok(tls) => Transport::tls(tls),
            _ => return TransferOutcome::Broken,
        },
    };
    let result = match payload {
        Payload::Listing(bytes) => bounded(data_timeout, stream.write_all(&bytes))
            .await
            .map(|()| bytes.len() as u64),
        Payload::Send {
            file,
            offset,
            length,
            ascii,
        } => send(&mut stream, file, offset, length, ascii, data_timeout).await,
        Payload::Receive { upload, ascii } => {
            return receive(&mut stream, upload, ascii, data_timeout).await;
        }
    };
    match result {
        Ok(bytes) => match bounded(data_timeout, stream.shutdown()).await {
            Ok(()) => TransferOutcome::Complete { bytes },
            Err(_) => TransferOutcome::Broken,
        },
        Err(Failure::Network) => TransferOutcome::Broken,
        Err(Failure::Local(err)) => TransferOutcome::LocalError(err),
    }
}

/// Why a transfer stopped: the connection, or our own disk.
enum Failure {
    Network,
    Local(io::Error),
}

/// A network wait with the data timeout; any failure is the network's.
async fn bounded<T>(
    limit: Duration,
    future: impl Future<Output = io::Result<T>>,
) -> Result<T, Failure> {
    match timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        _ => Err(Failure::Network),
    }
}

async fn send(
    stream: &mut Transport,
    file: std::fs::File,
    offset: u64,
    length: u64,
    ascii: bool,
    data_timeout: Duration,
) -> Result<u64, Failure> {
    if let (Transport::Plain(tcp), false) = (&*stream, ascii) {
        // sendfile waits for the socket itself: a stalled client is one that takes more
        // than the data timeout for a whole chunk.
        let mut sent = 0;
        while sent < length {
            let chunk = (length - sent).min(SENDFILE_CHUNK);
            match timeout(data_timeout, send_file(tcp, &file, offset + sent, chunk)).await {
                Ok(Ok(())) => sent += chunk,
                Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(Failure::Local(err));
                }
                _ => return Err(Failure::Network),
            }
        }
        return Ok(length);
    }
    use std::os::unix::fs::FileExt;
    let mut converter = ascii.then(ascii::ToNetwork::default);
    let mut buf = vec![0u8; CHUNK];
    let mut converted = Vec::new();
    let (mut position, end, mut sent) = (offset, offset + length, 0u64);
    while position < end {
        let want = usize::try_from(end - position).map_or(CHUNK, |left| left.min(CHUNK));
        // A page-cache read; short enough not to hold the async thread.
        let read = file
            .read_at(&mut buf[..want], position)
            .map_err(Failure::Local)?;
        if read == 0 {
            return Err(Failure::Local(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than it was",
            )));
        }
        position += read as u64;
        let bytes = ascii::through(converter.as_mut(), &buf[..read], &mut converted);
        bounded(data_timeout, stream.write_all(bytes)).await?;
        sent += bytes.len() as u64;
    }
    Ok(sent)
}

async fn receive(
    stream: &mut Transport,
    mut upload: crate::fs::Upload,
    ascii: bool,
    data_timeout: Duration,
) -> TransferOutcome {
    use std::io::Write;
    let mut converter = ascii.then(ascii::FromNetwork::default);
    let mut buf = vec![0u8; CHUNK];
    let mut converted = Vec::new();
    let mut received = 0u64;
    loop {
        let read = match timeout(data_timeout, stream.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(read)) => read,
            // A TLS peer that closes without close_notify has still sent everything it meant
            // to: FTP marks the end of a stream-mode file by closing the connection.
            Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => break,
            _ => return TransferOutcome::Broken,
        };
        received += read as u64;
        let bytes = ascii::through(converter.as_mut(), &buf[..read], &mut converted);
        if let Err(err) = upload.file.write_all(bytes) {
            return TransferOutcome::LocalError(err);
        }
    }
    if let Some(mut converter) = converter {
        converted.clear();
        converter.finish(&mut converted);
        if let Err(err) = upload.file.write_all(&converted) {
            return TransferOutcome::LocalError(err);
        }
    }
    match tokio::task::spawn_blocking(move || upload.commit()).await {
        Ok(Ok(())) => TransferOutcome::Complete { bytes: received },
        Ok(Err(err)) => TransferOutcome::LocalError(err),
        Err(err) => TransferOutcome::LocalError(io::Error::other(err)),
    }
}

/// Reads what has arrived. On a plain connection a read stops at TCP's urgent mark, which is
/// where a client's ABOR ends (sent as urgent data, kept inline), and the bytes after the
/// mark raise no new readiness — tokio even forgets the socket was readable after a short
/// read — so ask the socket itself until it is empty.
async fn read_all(transport: &mut Transport, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut read = transport.read(buf).await?;
    if let Transport::Plain(stream) = transport {
        while read > 0 && read < buf.len() {
            let rest = &mut buf[read..];
            // SAFETY: a valid socket and a writable buffer of `rest.len()` bytes.
            let more = unsafe {
                libc::recv(
                    stream.as_raw_fd(),
                    rest.as_mut_ptr().cast(),
                    rest.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if more <= 0 {
                break;
            }
            read += more as usize;
        }
    }
    Ok(read)
}
