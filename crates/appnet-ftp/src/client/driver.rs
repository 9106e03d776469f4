//! The client's tokio driver: it owns the sockets, TLS and the clock, and asks the sans-IO
//! pieces ([`Login`], [`DataExchange`], [`ListingParser`], [`request::check`]) what each reply
//! means. Every wait — DNS, connect, each reply, each data read and write, the TLS handshakes,
//! accepting an active-mode connection — is bounded by the one timeout in
//! [`ConnectOptions`], and every command, reply and data connection is reported to the trace
//! (protocol `ftp` for the control connection, `ftp-data` for data connections).
//!
//! Explicit TLS (RFC 4217): after `AUTH TLS` the control connection is wrapped; with `PROT P`
//! each data connection runs its own handshake as the TLS client (§7, even when the server
//! connected in active mode), through the same rustls config, so the session the control
//! connection established is offered for resumption. Servers such as vsftpd
//! (`require_ssl_reuse`) insist on that, to know the data connection comes from the same
//! client.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::trace::{Role, TraceScope, Tracer};
use appnet_core::transport::Transport;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

use crate::proto::command::Command;
use crate::proto::reply::{Reply, ReplyParser};

use super::ClientError;
use super::data::{Channel, DataExchange, DataStep};
use super::listing::{Entry, ListingFormat, ListingParser};
use super::login::{Credentials, Login, LoginStep};
use super::replies::{Features, parse_pwd, parse_size};
use super::request::{self, summary};

/// How the data connections are made (RFC 959 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// The client connects to the server (EPSV, PASV): works from behind NAT.
    Passive,
    /// The server connects to the client (EPRT, PORT).
    Active,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub credentials: Credentials,
    /// `Some`: require explicit TLS with this config; the login fails if the server refuses.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub mode: DataMode,
    /// The bound on every wait.
    pub timeout: Duration,
}

impl ConnectOptions {
    /// Anonymous, passive, no TLS, 30 s.
    pub fn new(host: impl Into<String>, port: u16) -> ConnectOptions {
        ConnectOptions {
            host: host.into(),
            port,
            credentials: Credentials::anonymous(),
            tls: None,
            mode: DataMode::Passive,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Told how a transfer advances (for a progress bar).
pub trait Progress: Send {
    /// The transfer started; `size_hint` is the size the server announced in its 1yz reply.
    fn begin(&mut self, _size_hint: Option<u64>) {}
    /// `bytes` more went over the data connection.
    fn advance(&mut self, _bytes: u64) {}
}

/// No progress display.
pub struct NoProgress;

impl Progress for NoProgress {}

/// STOR or APPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Append,
}

/// What a transfer did.
#[derive(Debug, Clone)]
pub struct Transferred {
    /// Bytes over the data connection.
    pub bytes: u64,
    /// The size announced in the 1yz reply, if any.
    pub size_hint: Option<u64>,
    /// The final reply (226 or 250).
    pub reply: Reply,
}

/// `future`, or a timeout error naming what was awaited.
async fn within<T>(
    limit: Duration,
    waiting_for: impl FnOnce() -> String,
    future: impl Future<Output = T>,
) -> Result<T, ClientError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| ClientError::Timeout {
            waiting_for: waiting_for(),
            after: limit,
        })
}

/// A timeout on a data connection: not fatal, the control connection can still be resynced.
fn on_data(error: ClientError) -> ClientError {
    match error {
        ClientError::Timeout { waiting_for, after } => {
            ClientError::DataTimeout { waiting_for, after }
        }
        other => other,
    }
}

/// The control connection: commands out, replies in, each reported to the trace.
struct Control {
    stream: Transport,
    parser: ReplyParser,
    buf: Vec<u8>,
    trace: TraceScope,
    timeout: Duration,
}

impl Control {
    async fn send(&mut self, command: &Command) -> Result<(), ClientError> {
        let line = request::encode(command)?;
        // With --trace-bytes the raw line is dumped too: it must not show the password either.
        let shown: &[u8] = match command {
            Command::Pass(_) => b"PASS ****\r\n",
            _ => &line,
        };
        self.trace.sent(shown, || summary(command));
        let stream = &mut self.stream;
        within(
            self.timeout,
            || format!("sending {}", summary(command)),
            async {
                stream.write_all(&line).await?;
                stream.flush().await
            },
        )
        .await?
        .map_err(ClientError::ControlIo)
    }

    /// The next reply, whatever its code.
    async fn reply(&mut self, waiting_for: &str) -> Result<Reply, ClientError> {
        loop {
            if let Some(reply) = self.parser.next_reply() {
                let reply = reply?;
                if self.trace.is_listening() {
                    self.trace
                        .received(&reply.encode(), || reply_summary(&reply));
                }
                return Ok(reply);
            }
            let read = within(
                self.timeout,
                || format!("the reply to {waiting_for}"),
                self.stream.read(&mut self.buf),
            )
            .await?
            .map_err(ClientError::ControlIo)?;
            if read == 0 {
                return Err(ClientError::ControlClosed);
            }
            self.parser.feed(&self.buf[..read]);
        }
    }

    /// Wraps the connection in TLS after the server's 234.
    async fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<Control, ClientError> {
        let Transport::Plain(tcp) = self.stream else {
            return Err(ClientError::TlsConfig("TLS is already on".into()));
        };
        let tls = within(
            self.timeout,
            || "the TLS handshake on the control connection".into(),
            TlsConnector::from(config).connect(name, tcp),
        )
        .await?
        .map_err(|source| ClientError::Tls {
            connection: "control",
            source,
        })?;
        let session = tls.get_ref().1;
        self.trace.sent(&[], || {
            let version = session
                .protocol_version()
                .map_or_else(|| "?".to_string(), |v| format!("{v:?}"));
            let suite = session
                .negotiated_cipher_suite()
                .map_or_else(|| "?".to_string(), |s| format!("{:?}", s.suite()));
            format!("TLS handshake done: {version}, {suite}")
        });
        Ok(Control {
            stream: Transport::tls(tls),
            // A fresh parser: whatever the server sent in the clear after its 234 is dropped
            // unread, so no plaintext can pose as a reply from inside TLS (RFC 4217 §4).
            parser: ReplyParser::default(),
            buf: self.buf,
            trace: self.trace,
            timeout: self.timeout,
        })
    }
}

/// A reply for the transcript, as on the wire: `211-Features:`, the middle lines indented by
/// a space, `211 End`. Control characters are replaced, so a hostile server cannot send
/// escape sequences to the user's terminal.
fn reply_summary(reply: &Reply) -> String {
    let clean = |line: &str| -> String {
        line.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect()
    };
    match reply.lines.as_slice() {
        [] => reply.code.to_string(),
        [only] => format!("{} {}", reply.code, clean(only)),
        [first, middle @ .., last] => {
            let mut out = format!("{}-{}", reply.code, clean(first));
            for line in middle {
                out.push_str("\n ");
                out.push_str(&clean(line));
            }
            out.push_str(&format!("\n{} {}", reply.code, clean(last)));
            out
        }
    }
}

/// The error to report when moving data failed with `failure` and the final reply came as
/// `reply`: a lost control connection above all; then the server's refusal when our side
/// only saw the connection break (its 552 says why, our broken pipe does not); otherwise
/// our own failure (a full local disk, a listing over the limit), which caused the 426.
fn worse(failure: ClientError, reply: Result<Reply, ClientError>) -> ClientError {
    match reply {
        Err(err) if err.is_fatal() => err,
        Err(refused @ ClientError::Refused { .. })
            if matches!(
                failure,
                ClientError::DataIo(_) | ClientError::DataTimeout { .. } | ClientError::Tls { .. }
            ) =>
        {
            refused
        }
        _ => failure,
    }
}

/// An open data connection during a transfer.
struct DataConnection {
    stream: Transport,
    trace: TraceScope,
    exchange: DataExchange,
    size_hint: Option<u64>,
    /// The transfer command, for messages.
    verb: String,
}

enum Opened {
    Data(Box<DataConnection>),
    /// The server answered the command with a final reply and no data.
    Finished(Reply),
}

/// A logged-in FTP session.
pub struct Client {
    control: Control,
    tracer: Tracer,
    local: SocketAddr,
    peer: SocketAddr,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    mode: DataMode,
    timeout: Duration,
    features: Features,
    home: Option<String>,
    greeting: Reply,
    /// Cleared once the server refuses EPSV (or EPRT), so later transfers skip it.
    epsv: bool,
    eprt: bool,
}

impl Client {
    /// Connects, reads the greeting, and logs in (see [`Login`] for the dialogue).
    pub async fn connect(options: &ConnectOptions, tracer: &Tracer) -> Result<Client, ClientError> {
        let timeout = options.timeout;
        let host = options.host.clone();
        let addrs: Vec<SocketAddr> = within(
            timeout,
            || format!("DNS for {host}"),
            tokio::net::lookup_host((host.as_str(), options.port)),
        )
        .await?
        .map_err(|source| ClientError::Resolve {
            host: host.clone(),
            source,
        })?
        .collect();
        let mut failure = ClientError::Resolve {
            host: host.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        };
        let mut tcp = None;
        for addr in addrs {
            match within(
                timeout,
                || format!("connecting to {addr}"),
                TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(stream)) => {
                    tcp = Some(stream);
                    break;
                }
                Ok(Err(source)) => failure = ClientError::Connect { addr, source },
                Err(elapsed) => failure = elapsed,
            }
        }
        let tcp = tcp.ok_or(failure)?;
        tcp.set_nodelay(true).map_err(ClientError::ControlIo)?;
        let local = tcp.local_addr().map_err(ClientError::ControlIo)?;
        let peer = tcp.peer_addr().map_err(ClientError::ControlIo)?;
        let tls = match &options.tls {
            None => None,
            Some(config) => {
                let name = ServerName::try_from(host.clone()).map_err(|_| {
                    ClientError::TlsConfig(format!("{host:?} is not a name TLS can check"))
                })?;
                Some((config.clone(), name))
            }
        };
        let mut control = Control {
            stream: Transport::Plain(tcp),
            parser: ReplyParser::default(),
            buf: vec![0; 16 * 1024],
            trace: tracer.scope("ftp", Role::Client, local, peer),
            timeout,
        };
        let mut login = Login::new(options.credentials.clone(), tls.is_some());
        let mut waiting = "the greeting".to_string();
        let mut next = None;
        loop {
            let step = match next.take() {
                Some(step) => step,
                None => login.on_reply(&control.reply(&waiting).await?)?,
            };
            match step {
                LoginStep::Wait => {}
                LoginStep::Send(command) => {
                    waiting = summary(&command);
                    control.send(&command).await?;
                }
                LoginStep::StartTls => {
                    let (config, name) = tls.clone().ok_or_else(|| {
                        ClientError::TlsConfig("the login asked for TLS without a config".into())
                    })?;
                    control = control.start_tls(config, name).await?;
                    next = Some(login.tls_established());
                }
                LoginStep::Done => break,
            }
        }
        Ok(Client {
            control,
            tracer: tracer.clone(),
            local,
            peer,
            tls,
            mode: options.mode,
            timeout,
            features: login.features().clone(),
            home: login.home().map(str::to_string),
            greeting: login
                .greeting()
                .cloned()
                .unwrap_or_else(|| Reply::new(220, "")),
            epsv: true,
            eprt: true,
        })
    }

    /// What FEAT listed.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The login directory, as PWD named it after the login.
    pub fn home(&self) -> Option<&str> {
        self.home.as_deref()
    }

    /// The server's 220.
    pub fn greeting(&self) -> &Reply {
        &self.greeting
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether the control connection (and so every data connection) runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.control.stream.is_tls()
    }

    pub fn mode(&self) -> DataMode {
        self.mode
    }

    pub fn set_mode(&mut self, mode: DataMode) {
        self.mode = mode;
    }

    /// Sends `command` and returns its final reply, whatever it says (1yz replies are
    /// skipped). Commands that open a data connection, or change the connection's security,
    /// go through their own methods: sent bare, they would leave the session out of step.
    pub async fn command(&mut self, command: Command) -> Result<Reply, ClientError> {
        if matches!(
            command,
            Command::Retr(_)
                | Command::Stor(_)
                | Command::Stou
                | Command::Appe(_)
                | Command::List(_)
                | Command::Nlst(_)
                | Command::Mlsd(_)
                | Command::Pasv
                | Command::Epsv { .. }
                | Command::Port(_)
                | Command::Eprt(_)
                | Command::Auth(_)
                | Command::Ccc
                | Command::Rein
        ) {
            return Err(ClientError::BadArgument(
                "this command needs its own method (retrieve, store, list)",
            ));
        }
        self.control.send(&command).await?;
        let waiting = summary(&command);
        loop {
            let reply = self.control.reply(&waiting).await?;
            if !reply.is_preliminary() {
                return Ok(reply);
            }
        }
    }

    /// [`Client::command`], then the reply checked against RFC 959 §5.4.
    async fn simple(&mut self, command: Command) -> Result<Reply, ClientError> {
        let reply = self.command(command.clone()).await?;
        request::check(&command, &reply)?;
        Ok(reply)
    }

    /// PWD: the current directory.
    pub async fn pwd(&mut self) -> Result<String, ClientError> {
        parse_pwd(&self.simple(Command::Pwd).await?)
    }

    /// CWD.
    pub async fn cwd(&mut self, path: &[u8]) -> Result<(), ClientError> {
        self.simple(Command::Cwd(path.to_vec())).await.map(drop)
    }

    /// MKD; returns the directory's path if the 257 names it.
    pub async fn mkdir(&mut self, path: &[u8]) -> Result<Option<String>, ClientError> {
        let reply = self.simple(Command::Mkd(path.to_vec())).await?;
        Ok(parse_pwd(&reply).ok())
    }

    /// RMD.
    pub async fn rmdir(&mut self, path: &[u8]) -> Result<(), ClientError> {
        self.simple(Command::Rmd(path.to_vec())).await.map(drop)
    }

    /// DELE.
    pub async fn delete(&mut self, path: &[u8]) -> Result<(), ClientError> {
        self.simple(Command::Dele(path.to_vec())).await.map(drop)
    }

    /// RNFR then RNTO.
    pub async fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), ClientError> {
        self.simple(Command::Rnfr(from.to_vec())).await?;
        self.simple(Command::Rnto(to.to_vec())).await.map(drop)
    }

    /// SIZE (RFC 3659 §4): the size of a file in the current type (binary, so octets).
    pub async fn size(&mut self, path: &[u8]) -> Result<u64, ClientError> {
        parse_size(&self.simple(Command::Size(path.to_vec())).await?)
    }

    /// NOOP, to keep an idle session alive or check it still is.
    pub async fn noop(&mut self) -> Result<(), ClientError> {
        self.simple(Command::Noop).await.map(drop)
    }

    /// QUIT, then closes the connection (with TLS's close_notify).
    pub async fn quit(mut self) -> Result<Reply, ClientError> {
        let reply = self.simple(Command::Quit).await?;
        let stream = &mut self.control.stream;
        let _ = within(self.timeout, || "closing".into(), stream.shutdown()).await;
        Ok(reply)
    }

    /// Lists a directory (the current one if `path` is `None`): MLSD when the server offers
    /// it (RFC 3659 §7), LIST otherwise.
    pub async fn list(&mut self, path: Option<&[u8]>) -> Result<Vec<Entry>, ClientError> {
        let path = path.map(<[u8]>::to_vec);
        let (command, format) = if self.features.machine_listings() {
            (Command::Mlsd(path), ListingFormat::Mlsd)
        } else {
            (Command::List(path), ListingFormat::List)
        };
        let mut data = match self.open_transfer(command, None).await? {
            Opened::Data(data) => data,
            Opened::Finished(_) => return Ok(Vec::new()),
        };
        let mut parser = ListingParser::new(format);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let received: Result<(), ClientError> = async {
            loop {
                let read = self.data_read(&mut data, &mut buf).await?;
                if read == 0 {
                    self.close_read_side(&mut data).await;
                    return Ok(());
                }
                total += read as u64;
                parser.feed(&buf[..read])?;
            }
        }
        .await;
        data.trace.received(&[], || {
            format!("data connection closed: {total} bytes received")
        });
        self.settle(*data, received).await?;
        parser.finish()
    }

    /// RETR `path` into `sink`, starting at `offset` (REST, RFC 3659 §5) when it is not 0.
    pub async fn retrieve<W>(
        &mut self,
        path: &[u8],
        offset: u64,
        sink: &mut W,
        progress: &mut dyn Progress,
    ) -> Result<Transferred, ClientError>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let command = Command::Retr(path.to_vec());
        let mut data = match self.open_transfer(command, Some(offset)).await? {
            Opened::Data(data) => data,
            Opened::Finished(reply) => {
                return Ok(Transferred {
                    bytes: 0,
                    size_hint: None,
                    reply,
                });
            }
        };
        progress.begin(data.size_hint);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let received: Result<(), ClientError> = async {
            loop {
                let read = self.data_read(&mut data, &mut buf).await?;
                if read == 0 {
                    self.close_read_side(&mut data).await;
                    return sink.flush().await.map_err(ClientError::Local);
                }
                sink.write_all(&buf[..read])
                    .await
                    .map_err(ClientError::Local)?;
                total += read as u64;
                progress.advance(read as u64);
            }
        }
        .await;
        data.trace.received(&[], || {
            format!("data connection closed: {total} bytes received")
        });
        let size_hint = data.size_hint;
        let reply = self.settle(*data, received).await?;
        Ok(Transferred {
            bytes: total,
            size_hint,
            reply,
        })
    }

    /// STOR (or APPE) `path` from `source` until its end.
    pub async fn store<R>(
        &mut self,
        path: &[u8],
        source: &mut R,
        mode: StoreMode,
        progress: &mut dyn Progress,
    ) -> Result<Transferred, ClientError>
    where
        R: AsyncRead + Unpin + Send + ?Sized,
    {
        let command = match mode {
            StoreMode::Replace => Command::Stor(path.to_vec()),
            StoreMode::Append => Command::Appe(path.to_vec()),
        };
        let mut data = match self.open_transfer(command, None).await? {
            Opened::Data(data) => data,
            Opened::Finished(reply) => {
                return Ok(Transferred {
                    bytes: 0,
                    size_hint: None,
                    reply,
                });
            }
        };
        progress.begin(None);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let timeout = self.timeout;
        let sent: Result<(), ClientError> = async {
            loop {
                let read = source.read(&mut buf).await.map_err(ClientError::Local)?;
                if read == 0 {
                    break;
                }
                let stream = &mut data.stream;
                within(
                    timeout,
                    || "the data connection to take more bytes".into(),
                    stream.write_all(&buf[..read]),
                )
                .await
                .map_err(on_data)?
                .map_err(ClientError::DataIo)?;
                total += read as u64;
                progress.advance(read as u64);
            }
            // The end of the file is the end of the connection (MODE S, RFC 959 §3.4.1);
            // with TLS, close_notify first so the server can tell it from a cut connection.
            let stream = &mut data.stream;
            within(
                timeout,
                || "closing the data connection".into(),
                stream.shutdown(),
            )
            .await
            .map_err(on_data)?
            .map_err(ClientError::DataIo)
        }
        .await;
        data.trace.sent(&[], || {
            format!("data connection closed: {total} bytes sent")
        });
        let size_hint = data.size_hint;
        let reply = self.settle(*data, sent).await?;
        Ok(Transferred {
            bytes: total,
            size_hint,
            reply,
        })
    }

    /// After the server's end of data: our end too. With TLS this sends close_notify, which
    /// servers such as vsftpd wait for before they send the final reply; a failure here
    /// changes nothing, every byte is in.
    async fn close_read_side(&self, data: &mut DataConnection) {
        let stream = &mut data.stream;
        let _ = within(self.timeout, String::new, stream.shutdown()).await;
    }

    /// One read from the data connection, within the timeout. With TLS, a server that closes
    /// without close_notify (common) reads as the end: the final reply on the control
    /// connection, which is authenticated, still says whether the transfer completed.
    async fn data_read(
        &self,
        data: &mut DataConnection,
        buf: &mut [u8],
    ) -> Result<usize, ClientError> {
        let stream = &mut data.stream;
        match within(
            self.timeout,
            || format!("data for {}", data.verb),
            stream.read(buf),
        )
        .await
        .map_err(on_data)?
        {
            Ok(read) => Ok(read),
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof && stream.is_tls() => Ok(0),
            Err(err) => Err(ClientError::DataIo(err)),
        }
    }

    /// Ends a transfer: closes the data connection and reads the final reply, so the control
    /// connection is in step again even when moving the data failed.
    async fn settle(
        &mut self,
        data: DataConnection,
        moved: Result<(), ClientError>,
    ) -> Result<Reply, ClientError> {
        let DataConnection {
            stream,
            mut exchange,
            verb,
            ..
        } = data;
        if let Err(failure) = moved {
            drop(stream);
            let reply = self.final_reply(&mut exchange, &verb).await;
            return Err(worse(failure, reply));
        }
        // Held open until the reply: closing first could reset the connection before the
        // server has read our close_notify.
        let reply = self.final_reply(&mut exchange, &verb).await;
        drop(stream);
        reply
    }

    /// After a failure between the 1yz and the end of the data (accepting, the TLS handshake):
    /// the final reply is still due, and must be read before the next command.
    async fn abandon(
        &mut self,
        mut exchange: DataExchange,
        verb: &str,
        failure: ClientError,
    ) -> ClientError {
        let reply = self.final_reply(&mut exchange, verb).await;
        worse(failure, reply)
    }

    async fn final_reply(
        &mut self,
        exchange: &mut DataExchange,
        verb: &str,
    ) -> Result<Reply, ClientError> {
        loop {
            let reply = self.control.reply(verb).await?;
            match exchange.on_reply(&reply)? {
                DataStep::Wait => {}
                DataStep::Done(reply) => return Ok(reply),
                _ => {
                    return Err(ClientError::Refused {
                        command: verb.to_string(),
                        reply,
                    });
                }
            }
        }
    }

    /// Runs the dialogue of [`DataExchange`] up to the transfer's start: the data connection
    /// is open (and TLS-wrapped with PROT P) when this returns [`Opened::Data`].
    async fn open_transfer(
        &mut self,
        command: Command,
        rest: Option<u64>,
    ) -> Result<Opened, ClientError> {
        let verb = summary(&command);
        let mut listener = None;
        let channel = match self.mode {
            DataMode::Passive => Channel::Passive {
                control_peer: self.peer.ip(),
                epsv: self.epsv,
            },
            DataMode::Active => {
                // On the control connection's local address: the one the server can reach us
                // at (RFC 959 §3.2 — the user-process's data port).
                let bound = TcpListener::bind(SocketAddr::new(self.local.ip(), 0))
                    .await
                    .map_err(ClientError::DataIo)?;
                let addr = bound.local_addr().map_err(ClientError::DataIo)?;
                listener = Some(bound);
                Channel::Active {
                    listener: addr,
                    eprt: self.eprt,
                }
            }
        };
        let (mut exchange, first) = DataExchange::new(command, rest, channel);
        let mut waiting = summary(&first);
        self.control.send(&first).await?;
        let mut connected: Option<(TcpStream, TraceScope)> = None;
        loop {
            let reply = self.control.reply(&waiting).await?;
            let step = exchange.on_reply(&reply);
            self.epsv &= !exchange.epsv_refused();
            self.eprt &= !exchange.eprt_refused();
            let step = match step {
                Ok(step) => step,
                Err(err) => {
                    if let Some((_, trace)) = &connected {
                        trace.sent(&[], || "data connection closed unused".into());
                    }
                    return Err(err);
                }
            };
            match step {
                DataStep::Wait => {}
                DataStep::Send(next) => {
                    waiting = summary(&next);
                    self.control.send(&next).await?;
                }
                DataStep::Connect { addr, announced } => {
                    let tcp = within(
                        self.timeout,
                        || format!("the data connection to {addr}"),
                        TcpStream::connect(addr),
                    )
                    .await
                    .map_err(on_data)?
                    .map_err(|source| ClientError::DataConnect { addr, source })?;
                    let local = tcp.local_addr().map_err(ClientError::DataIo)?;
                    let trace = self.tracer.scope("ftp-data", Role::Client, local, addr);
                    trace.sent(&[], || match announced {
                        None => format!("data connection opened (passive) for {verb}"),
                        Some(named) => format!(
                            "data connection opened (passive; PASV named {named}, connected to the control connection's peer instead) for {verb}"
                        ),
                    });
                    connected = Some((tcp, trace));
                    let next = exchange.connected();
                    waiting = summary(&next);
                    self.control.send(&next).await?;
                }
                DataStep::Transfer { size_hint } => {
                    let (tcp, trace) = match (connected.take(), listener.take()) {
                        (Some(connected), _) => connected,
                        (None, Some(listener)) => match self.accept(listener, &verb).await {
                            Ok(accepted) => accepted,
                            Err(err) => return Err(self.abandon(exchange, &verb, err).await),
                        },
                        (None, None) => {
                            return Err(ClientError::Refused {
                                command: verb,
                                reply,
                            });
                        }
                    };
                    let stream = match self.secure(tcp, &trace).await {
                        Ok(stream) => stream,
                        Err(err) => {
                            trace.sent(&[], || "data connection closed: TLS failed".into());
                            return Err(self.abandon(exchange, &verb, err).await);
                        }
                    };
                    return Ok(Opened::Data(Box::new(DataConnection {
                        stream,
                        trace,
                        exchange,
                        size_hint,
                        verb,
                    })));
                }
                DataStep::Done(reply) => {
                    if let Some((_, trace)) = &connected {
                        trace.sent(&[], || "data connection closed unused".into());
                    }
                    return Ok(Opened::Finished(reply));
                }
            }
        }
    }

    /// Active mode: the server's connection to our listener. Only the control connection's
    /// peer may connect; anyone else racing for the port (RFC 2577's port stealing) is turned
    /// away.
    async fn accept(
        &self,
        listener: TcpListener,
        verb: &str,
    ) -> Result<(TcpStream, TraceScope), ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let accepted = tokio::time::timeout_at(deadline, listener.accept())
                .await
                .map_err(|_| ClientError::DataTimeout {
                    waiting_for: format!("the server to connect for {verb}"),
                    after: self.timeout,
                })?
                .map_err(ClientError::DataIo)?;
            let (tcp, from) = accepted;
            let local = tcp.local_addr().map_err(ClientError::DataIo)?;
            let trace = self.tracer.scope("ftp-data", Role::Client, local, from);
            if from.ip() == self.peer.ip() {
                trace.received(&[], || {
                    format!("data connection opened (active; the server connected) for {verb}")
                });
                return Ok((tcp, trace));
            }
            trace.received(&[], || {
                "data connection refused: not from the server's address".into()
            });
        }
    }

    /// With PROT P, the data connection's own TLS handshake (we are the TLS client either way,
    /// RFC 4217 §7), offering the control connection's session for resumption.
    async fn secure(&self, tcp: TcpStream, trace: &TraceScope) -> Result<Transport, ClientError> {
        let Some((config, name)) = &self.tls else {
            return Ok(Transport::Plain(tcp));
        };
        let tls = within(
            self.timeout,
            || "the TLS handshake on the data connection".into(),
            TlsConnector::from(config.clone()).connect(name.clone(), tcp),
        )
        .await
        .map_err(on_data)?
        .map_err(|source| ClientError::Tls {
            connection: "data",
            source,
        })?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        trace.sent(&[], || {
            if resumed {
                "TLS on the data connection (the control connection's session resumed)".into()
            } else {
                "TLS on the data connection (full handshake)".into()
            }
        });
        Ok(Transport::tls(tls))
    }
}

#[cfg(test)]
mod tests {
    //! The driver against scripted servers on loopback: the behaviours a real server rarely
    //! shows (no EPSV, a PASV naming another host, hostile replies and listings).

    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::tcp::OwnedWriteHalf;

    /// How the scripted server behaves.
    #[derive(Clone)]
    struct Script {
        greeting: Vec<u8>,
        file: Vec<u8>,
        listing: Vec<u8>,
    }

    impl Default for Script {
        fn default() -> Script {
            Script {
                greeting: b"220 scripted\r\n".to_vec(),
                file: (0..100_000u32).map(|i| (i % 251) as u8).collect(),
                listing: b"drwxr-xr-x 2 0 0 4096 Nov 27 10:23 dir\r\n-rw-r--r-- 1 0 0 6 Nov 27 10:23 a b\r\n"
                    .to_vec(),
            }
        }
    }

    async fn say(w: &mut OwnedWriteHalf, text: &str) {
        w.write_all(text.as_bytes()).await.unwrap();
    }

    /// An old-style server: no FEAT, no EPSV, and a PASV reply naming 10.9.8.7, where nothing
    /// listens; its data port is on 127.0.0.1.
    async fn serve(listener: TcpListener, script: Script) {
        let (socket, _) = listener.accept().await.unwrap();
        let (r, mut w) = socket.into_split();
        w.write_all(&script.greeting).await.unwrap();
        let mut lines = BufReader::new(r).lines();
        let mut passive: Option<TcpListener> = None;
        let mut rest = 0usize;
        while let Ok(Some(line)) = lines.next_line().await {
            let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
            match verb {
                "USER" => say(&mut w, "331 pw\r\n").await,
                "PASS" => say(&mut w, "230 in\r\n").await,
                "FEAT" | "EPSV" => say(&mut w, "500 unknown\r\n").await,
                "TYPE" => say(&mut w, "200 ok\r\n").await,
                "PWD" => say(&mut w, "257 \"/\"\r\n").await,
                "PASV" => {
                    let data = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let port = data.local_addr().unwrap().port();
                    passive = Some(data);
                    say(
                        &mut w,
                        &format!(
                            "227 Entering Passive Mode (10,9,8,7,{},{}).\r\n",
                            port >> 8,
                            port & 0xff
                        ),
                    )
                    .await;
                }
                "REST" => {
                    rest = arg.parse().unwrap();
                    say(&mut w, "350 ok\r\n").await;
                }
                "RETR" | "LIST" => {
                    let body = if verb == "RETR" {
                        &script.file[rest..]
                    } else {
                        &script.listing[..]
                    };
                    rest = 0;
                    let (mut data, _) = passive.take().unwrap().accept().await.unwrap();
                    say(&mut w, &format!("150 Opening ({} bytes).\r\n", body.len())).await;
                    // A client that gives up early closes the connection: that is a 426.
                    let sent = data.write_all(body).await;
                    drop(data);
                    match sent {
                        Ok(()) => say(&mut w, "226 done\r\n").await,
                        Err(_) => say(&mut w, "426 aborted\r\n").await,
                    }
                }
                "STOR" if arg == "full" => {
                    // A disk that fills up: the server stops reading and says why.
                    let (mut data, _) = passive.take().unwrap().accept().await.unwrap();
                    say(&mut w, "150 go\r\n").await;
                    let mut some = [0u8; 1000];
                    data.read_exact(&mut some).await.unwrap();
                    drop(data);
                    say(&mut w, "552 Quota exceeded\r\n").await;
                }
                "STOR" => {
                    let (mut data, _) = passive.take().unwrap().accept().await.unwrap();
                    say(&mut w, "150 go\r\n").await;
                    let mut got = Vec::new();
                    data.read_to_end(&mut got).await.unwrap();
                    say(&mut w, &format!("226 got {}\r\n", got.len())).await;
                }
                "QUIT" => {
                    say(&mut w, "221 bye\r\n").await;
                    return;
                }
                _ => say(&mut w, "502 not here\r\n").await,
            }
        }
    }

    async fn start(script: Script) -> (ConnectOptions, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(serve(listener, script));
        let mut options = ConnectOptions::new("127.0.0.1", port);
        options.timeout = Duration::from_secs(5);
        (options, server)
    }

    #[tokio::test]
    async fn pasv_fallback_connects_to_the_control_peer_not_the_named_host() {
        let script = Script::default();
        let (options, server) = start(script.clone()).await;
        let tracer = Tracer::new(256, false);
        let mut events = tracer.subscribe().unwrap();
        let mut client = Client::connect(&options, &tracer).await.unwrap();
        assert_eq!(client.home(), Some("/"));
        let mut got = Vec::new();
        let done = client
            .retrieve(b"f", 0, &mut got, &mut NoProgress)
            .await
            .unwrap();
        assert_eq!(got, script.file);
        assert_eq!(done.size_hint, Some(100_000));
        // Resuming: REST, and only the rest arrives.
        let mut tail = Vec::new();
        client
            .retrieve(b"f", 99_000, &mut tail, &mut NoProgress)
            .await
            .unwrap();
        assert_eq!(tail, &script.file[99_000..]);
        let entries = client.list(None).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].name, b"a b");
        let mut upload: &[u8] = b"uploaded";
        let stored = client
            .store(b"u", &mut upload, StoreMode::Replace, &mut NoProgress)
            .await
            .unwrap();
        assert_eq!(stored.reply.lines, vec!["got 8"]);
        client.quit().await.unwrap();
        server.await.unwrap();

        let mut transcript = Vec::new();
        while let Ok(event) = events.try_recv() {
            transcript.push(format!("{} {}", event.protocol, event.summary));
        }
        // EPSV was refused once and not tried again.
        assert_eq!(
            transcript
                .iter()
                .filter(|l| l.ends_with("ftp EPSV"))
                .count(),
            1
        );
        assert!(
            transcript.contains(&"ftp PASS ****".to_string()),
            "{transcript:#?}"
        );
        assert!(
            transcript
                .iter()
                .any(|l| l.contains("PASV named 10.9.8.7") && l.starts_with("ftp-data")),
            "{transcript:#?}"
        );
        assert!(
            transcript
                .iter()
                .any(|l| l == "ftp-data data connection closed: 100000 bytes received")
        );
    }

    #[tokio::test]
    async fn an_endless_reply_line_is_an_error_not_a_memory_sink() {
        let script = Script {
            greeting: [&b"220 "[..], &vec![b'x'; 100_000]].concat(),
            ..Script::default()
        };
        let (options, _server) = start(script).await;
        let err = Client::connect(&options, &Tracer::off())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, ClientError::Reply(_)), "{err}");
    }

    #[tokio::test]
    async fn a_hostile_listing_is_cut_off_and_the_session_stays_usable() {
        let script = Script {
            listing: vec![b'x'; 1 << 20],
            ..Script::default()
        };
        let (options, _server) = start(script).await;
        let mut client = Client::connect(&options, &Tracer::off()).await.unwrap();
        let err = client.list(None).await.unwrap_err();
        assert!(matches!(err, ClientError::ListingTooLarge(_)), "{err}");
        assert_eq!(client.pwd().await.unwrap(), "/");
    }

    #[tokio::test]
    async fn an_upload_cut_short_reports_the_servers_reason() {
        let (options, _server) = start(Script::default()).await;
        let mut client = Client::connect(&options, &Tracer::off()).await.unwrap();
        let big = vec![7u8; 16 << 20];
        let err = client
            .store(b"full", &mut &big[..], StoreMode::Replace, &mut NoProgress)
            .await
            .unwrap_err();
        assert_eq!(err.reply().map(|r| r.code), Some(552), "{err}");
        assert_eq!(client.pwd().await.unwrap(), "/");
    }

    #[tokio::test]
    async fn a_refused_command_keeps_the_session() {
        let (options, _server) = start(Script::default()).await;
        let mut client = Client::connect(&options, &Tracer::off()).await.unwrap();
        let err = client.delete(b"x").await.unwrap_err();
        assert_eq!(err.reply().map(|r| r.code), Some(502));
        assert!(!err.is_fatal());
        assert!(matches!(
            client.cwd(b"a\r\nDELE b").await,
            Err(ClientError::BadArgument(_))
        ));
        assert_eq!(client.pwd().await.unwrap(), "/");
    }
}
