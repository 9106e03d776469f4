//! The tokio driver of the IMAP server: accepts connections and runs each through an
//! [`ImapSession`], with STARTTLS (RFC 3501 §6.2.1) or implicit TLS (RFC 8314, port 993),
//! password checks and mail store work on blocking threads, and IDLE (RFC 2177) woken by
//! [`store::watch`] when a delivery or another session changes the mailbox.
//!
//! LOGIN and AUTHENTICATE need TLS, except from loopback clients (a learner's local server);
//! others see LOGINDISABLED. A connection silent for the idle timeout (RFC 3501 §5.4 asks for
//! at least 30 minutes) is logged out; that applies during IDLE too, which is why clients
//! renew IDLE every 29 minutes (RFC 2177 §3).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::{TcpLimits, accept_connections};
use appnet_core::tls::{HANDSHAKE_TIMEOUT, accept_within};
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::client::summarize;
use crate::delivery::LocalMail;
use crate::imap::{ImapConfig, ImapSession, Output};
use crate::store;

/// RFC 3501 §5.4: the autologout timer is at least 30 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// During IDLE the mailbox is also re-read this often, to notice what other programs (not
/// this process, which announces its changes) put in the Maildir.
pub const IDLE_RESYNC: Duration = Duration::from_secs(60);

/// Everything an IMAP server needs.
#[derive(Clone)]
pub struct ImapOptions {
    /// The accounts and where their Maildirs are.
    pub local: Arc<LocalMail>,
    /// Certificates for STARTTLS or implicit TLS; `None` offers neither.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (port 993) rather than STARTTLS.
    pub implicit_tls: bool,
    /// Connections at once, and how long a silent client stays connected.
    pub limits: TcpLimits,
    /// Our name in the greeting.
    pub hostname: String,
    /// The largest message APPEND accepts.
    pub max_message_bytes: usize,
    /// How often IDLE re-reads the mailbox besides being woken.
    pub idle_resync: Duration,
    pub tracer: Tracer,
}

impl ImapOptions {
    pub fn new(local: Arc<LocalMail>, limits: TcpLimits) -> Self {
        Self {
            local,
            tls: None,
            implicit_tls: false,
            limits,
            hostname: "localhost".to_string(),
            max_message_bytes: ImapConfig::new("").max_message_bytes,
            idle_resync: IDLE_RESYNC,
            tracer: Tracer::off(),
        }
    }
}

/// Serves IMAP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    local: Arc<LocalMail>,
    tls: Option<Arc<rustls::ServerConfig>>,
    implicit_tls: bool,
    limits: TcpLimits,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    let mut options = ImapOptions::new(local, limits);
    options.tls = tls;
    options.implicit_tls = implicit_tls;
    options.tracer = tracer;
    serve_with(listener, options, shutdown).await
}

/// Like [`serve`], with every option.
pub async fn serve_with(
    listener: TcpListener,
    options: ImapOptions,
    shutdown: Shutdown,
) -> io::Result<()> {
    if options.implicit_tls && options.tls.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "implicit TLS needs a certificate",
        ));
    }
    let options = Arc::new(options);
    let max = options.limits.max_connections;
    accept_connections(listener, max, shutdown, "imap", move |stream, peer| {
        let options = options.clone();
        async move { serve_connection(options, stream, peer).await }
    })
    .await
}

async fn serve_connection(
    options: Arc<ImapOptions>,
    stream: TcpStream,
    peer: SocketAddr,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?;
    let acceptor = options.tls.clone().map(TlsAcceptor::from);
    let config = ImapConfig {
        hostname: options.hostname.clone(),
        tls_available: acceptor.is_some() && !options.implicit_tls,
        tls_active: options.implicit_tls,
        plaintext_login: peer.ip().is_loopback(),
        max_message_bytes: options.max_message_bytes,
    };
    let connection = Connection {
        options: &options,
        trace: options.tracer.scope("imap", Role::Server, local, peer),
    };
    let new_session = || {
        let mut session = ImapSession::new(config.clone(), peer.to_string());
        session.set_trace(connection.trace.is_listening());
        session
    };
    if options.implicit_tls {
        let Some(acceptor) = &acceptor else {
            return Ok(());
        };
        let stream = handshake(acceptor, stream).await?;
        connection.converse(stream, new_session()).await?;
        return Ok(());
    }
    let Some((stream, mut session)) = connection.converse(stream, new_session()).await? else {
        return Ok(());
    };
    let Some(acceptor) = &acceptor else {
        return Ok(());
    };
    let stream = handshake(acceptor, stream).await?;
    session.tls_established();
    connection.converse(stream, session).await?;
    Ok(())
}

async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    accept_within(acceptor, stream, HANDSHAKE_TIMEOUT).await
}

/// Runs `work` on the session on a blocking thread (store calls are file I/O), moving the
/// session there and back. `spawn_blocking` works on current-thread runtimes too.
async fn blocking(
    session: ImapSession,
    work: impl FnOnce(&mut ImapSession) + Send + 'static,
) -> io::Result<ImapSession> {
    tokio::task::spawn_blocking(move || {
        let mut session = session;
        work(&mut session);
        session
    })
    .await
    .map_err(io::Error::other)
}

/// What the outputs asked for.
enum Flow {
    Continue,
    StartTls,
    Close,
}

struct Connection<'a> {
    options: &'a ImapOptions,
    trace: TraceScope,
}

impl Connection<'_> {
    /// Runs the session over `stream` until it closes (`None`) or asks for TLS (the stream
    /// and session back, to upgrade).
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        mut session: ImapSession,
    ) -> io::Result<Option<(S, ImapSession)>> {
        let mut buf = vec![0u8; 16 * 1024];
        let idle_timeout = self.options.limits.idle_timeout;
        let mut deadline = Instant::now() + idle_timeout;
        let mut idle_dir: Option<PathBuf> = None;
        loop {
            let flow;
            (session, flow) = self.pump(&mut stream, session, &mut idle_dir).await?;
            match flow {
                Flow::Continue => {}
                Flow::StartTls => return Ok(Some((stream, session))),
                Flow::Close => return Ok(None),
            }
            let watch = match &idle_dir {
                Some(dir) if session.is_idling() => Some(store::watch(dir)),
                _ => {
                    idle_dir = None;
                    None
                }
            };
            let read = match watch {
                None => tokio::time::timeout_at(deadline, stream.read(&mut buf)).await,
                Some(notify) => {
                    let notified = notify.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    // Changes made before we listened are found by this sync; later ones wake us.
                    session = blocking(session, ImapSession::mailbox_changed).await?;
                    let flow;
                    (session, flow) = self.pump(&mut stream, session, &mut idle_dir).await?;
                    if !matches!(flow, Flow::Continue) {
                        return Ok(None);
                    }
                    tokio::select! {
                        () = &mut notified => continue,
                        () = tokio::time::sleep(self.options.idle_resync) => continue,
                        read = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => read,
                    }
                }
            };
            match read {
                Err(_elapsed) => {
                    let bye = b"* BYE Autologout; idle for too long\r\n";
                    self.trace.sent(bye, || summarize(bye));
                    let _ = stream.write_all(bye).await;
                    let _ = stream.shutdown().await;
                    return Ok(None);
                }
                Ok(Err(err)) => return Err(err),
                Ok(Ok(0)) => {
                    session = blocking(session, ImapSession::feed_eof).await?;
                    let _ = self.pump(&mut stream, session, &mut idle_dir).await;
                    return Ok(None);
                }
                Ok(Ok(n)) => {
                    deadline = Instant::now() + idle_timeout;
                    let bytes = buf[..n].to_vec();
                    session = blocking(session, move |s| s.feed(&bytes)).await?;
                }
            }
        }
    }

    /// Acts on every pending output: writes responses, checks passwords, notes IDLE.
    async fn pump<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        mut session: ImapSession,
        idle_dir: &mut Option<PathBuf>,
    ) -> io::Result<(ImapSession, Flow)> {
        loop {
            let mut pending = Vec::new();
            let mut auth = None;
            while let Some(output) = session.poll_output() {
                match output {
                    Output::Send(bytes) => {
                        self.trace.sent(&bytes, || summarize(&bytes));
                        pending.extend_from_slice(&bytes);
                    }
                    Output::Received(line) => {
                        self.trace.received(line.as_bytes(), || line.clone());
                    }
                    Output::StartTls => {
                        stream.write_all(&pending).await?;
                        return Ok((session, Flow::StartTls));
                    }
                    Output::Close => {
                        stream.write_all(&pending).await?;
                        let _ = stream.shutdown().await;
                        return Ok((session, Flow::Close));
                    }
                    Output::Idle { dir } => *idle_dir = Some(dir),
                    Output::Authenticate { user, password } => {
                        auth = Some((user, password));
                        break;
                    }
                }
            }
            stream.write_all(&pending).await?;
            let Some((user, password)) = auth else {
                return Ok((session, Flow::Continue));
            };
            let local = self.options.local.clone();
            let account = tokio::task::spawn_blocking(move || {
                let address = local.accounts.verify(&user, &password)?;
                let root = local.mailbox(&address)?;
                Some((address, root))
            })
            .await
            .map_err(io::Error::other)?;
            session = blocking(session, move |s| s.auth_result(account)).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use tokio::io::{AsyncBufReadExt, BufReader};

    use crate::accounts::{Accounts, hash_password};
    use crate::maildir::Maildir;

    async fn read_until(
        reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        needle: &str,
    ) -> String {
        let mut seen = String::new();
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap() == 0 {
                    panic!("connection closed; so far: {seen}");
                }
                seen.push_str(&line);
                if line.starts_with(needle) {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {seen}"));
        seen
    }

    #[tokio::test]
    async fn login_select_fetch_and_idle_over_tcp() {
        let dir = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::default();
        accounts.insert("alice@example.com", &hash_password("secret"));
        let local = Arc::new(LocalMail {
            domains: HashSet::from(["example.com".to_string()]),
            accounts,
            maildir_root: dir.path().to_path_buf(),
        });
        let inbox = local.mailbox("alice@example.com").unwrap();
        let maildir = Maildir::create(&inbox).unwrap();
        maildir.deliver(b"Subject: first\r\n\r\nhello\r\n").unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let limits = TcpLimits {
            max_connections: 4,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        };
        let server = tokio::spawn(serve(
            listener,
            local.clone(),
            None,
            false,
            limits,
            Tracer::off(),
            shutdown.clone(),
        ));

        let stream = TcpStream::connect(address).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let greeting = read_until(&mut reader, "* OK").await;
        assert!(
            greeting.contains("AUTH=PLAIN"),
            "loopback may log in: {greeting}"
        );
        write
            .write_all(b"a LOGIN alice@example.com wrong\r\n")
            .await
            .unwrap();
        read_until(&mut reader, "a NO [AUTHENTICATIONFAILED]").await;
        write
            .write_all(b"b LOGIN alice@example.com secret\r\nc SELECT INBOX\r\n")
            .await
            .unwrap();
        read_until(&mut reader, "b OK").await;
        let selected = read_until(&mut reader, "c OK [READ-WRITE]").await;
        assert!(
            selected.contains("* 1 EXISTS\r\n* 1 RECENT\r\n"),
            "{selected}"
        );
        write
            .write_all(b"d FETCH 1 (FLAGS BODY[TEXT])\r\n")
            .await
            .unwrap();
        let fetched = read_until(&mut reader, "d OK").await;
        assert!(
            fetched
                .starts_with("* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT] {7}\r\nhello\r\n)\r\n"),
            "{fetched}"
        );

        write.write_all(b"e IDLE\r\n").await.unwrap();
        read_until(&mut reader, "+ idling").await;
        // A delivery as the SMTP server makes it: into new/, then announced.
        maildir
            .deliver(b"Subject: second\r\n\r\nagain\r\n")
            .unwrap();
        store::announce(&inbox);
        let update = read_until(&mut reader, "* 2 RECENT").await;
        assert!(update.contains("* 2 EXISTS\r\n"), "{update}");
        write.write_all(b"DONE\r\nf LOGOUT\r\n").await.unwrap();
        read_until(&mut reader, "e OK IDLE terminated").await;
        read_until(&mut reader, "f OK LOGOUT").await;
        let mut rest = String::new();
        reader.read_line(&mut rest).await.unwrap();
        assert_eq!(rest, "", "the server closes after LOGOUT");

        shutdown.cancel();
        server.await.unwrap().unwrap();
    }

    /// Reads from a TLS stream until a line starts with `needle`.
    async fn tls_read_until<S: AsyncRead + Unpin>(stream: &mut S, needle: &str) -> String {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "closed early");
                seen.push(byte[0]);
                if byte[0] == b'\n' {
                    let text = String::from_utf8_lossy(&seen);
                    let last = text.trim_end().rsplit("\r\n").next().unwrap_or_default();
                    if last.starts_with(needle) {
                        return;
                    }
                }
            }
        })
        .await
        .unwrap();
        String::from_utf8(seen).unwrap()
    }

    #[tokio::test]
    async fn starttls_and_implicit_tls() {
        use appnet_core::tls::TlsMaterial;
        use tokio_rustls::TlsConnector;
        let material = TlsMaterial::generate(&["localhost"]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let local = Arc::new(LocalMail {
            domains: HashSet::from(["example.com".to_string()]),
            accounts: Accounts::default(),
            maildir_root: dir.path().to_path_buf(),
        });
        let limits = TcpLimits {
            max_connections: 4,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        };
        let connector = TlsConnector::from(material.client_config().unwrap());
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let shutdown = Shutdown::new();

        // STARTTLS on a plain port.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let tls = Some(material.server_config().unwrap());
        let plain = tokio::spawn(serve(
            listener,
            local.clone(),
            tls.clone(),
            false,
            limits,
            Tracer::off(),
            shutdown.clone(),
        ));
        let mut stream = TcpStream::connect(address).await.unwrap();
        let greeting = tls_read_until(&mut stream, "* OK").await;
        assert!(greeting.contains(" STARTTLS "), "{greeting}");
        stream.write_all(b"a STARTTLS\r\n").await.unwrap();
        tls_read_until(&mut stream, "a OK").await;
        let mut stream = connector.connect(name.clone(), stream).await.unwrap();
        stream.write_all(b"b CAPABILITY\r\n").await.unwrap();
        let caps = tls_read_until(&mut stream, "b OK").await;
        assert!(
            caps.contains("AUTH=PLAIN") && !caps.contains("STARTTLS"),
            "{caps}"
        );

        // Implicit TLS (993).
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let implicit = tokio::spawn(serve(
            listener,
            local.clone(),
            tls,
            true,
            limits,
            Tracer::off(),
            shutdown.clone(),
        ));
        let stream = TcpStream::connect(address).await.unwrap();
        let mut stream = connector.connect(name, stream).await.unwrap();
        let greeting = tls_read_until(&mut stream, "* OK").await;
        assert!(
            !greeting.contains("STARTTLS") && greeting.contains("AUTH=PLAIN"),
            "{greeting}"
        );
        stream.write_all(b"c LOGOUT\r\n").await.unwrap();
        tls_read_until(&mut stream, "c OK").await;

        shutdown.cancel();
        plain.await.unwrap().unwrap();
        implicit.await.unwrap().unwrap();
    }
}
