//! The tokio driver of the POP3 server: accepts connections, runs each through a
//! [`pop3::Session`](crate::pop3::Session), upgrades to TLS on STLS (RFC 2595) or starts in TLS
//! (implicit TLS on port 995, RFC 8314), checks passwords against the mail accounts, and runs
//! everything that touches the mail store on tokio's blocking threads.
//!
//! Passwords are taken only under TLS, or in clear from loopback clients (learners' setups).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::{TcpLimits, accept_connections};
use appnet_core::tls::{HANDSHAKE_TIMEOUT, accept_within};
use appnet_core::trace::{Role, TraceScope, Tracer, summarize_lines};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::delivery::LocalMail;
use crate::pop3::{Output, Session, SessionConfig};

/// RFC 1939 §3: an inactivity autologout timer must be at least 10 minutes.
pub const AUTOLOGOUT: Duration = Duration::from_secs(600);
/// The name in the greeting and sign-off.
const SERVER_NAME: &str = "appnet";

/// What every connection of one server shares.
struct Context {
    local: Arc<LocalMail>,
    tls: Option<TlsAcceptor>,
    implicit_tls: bool,
    idle_timeout: Duration,
    tracer: Tracer,
}

/// Serves POP3 on `listener` until `shutdown`: the mailboxes of `local`, its accounts'
/// passwords. With `tls`, STLS is offered, or with `implicit_tls` every connection starts with
/// a TLS handshake. The idle timeout is `limits.idle_timeout`, but never under
/// [`AUTOLOGOUT`].
pub async fn serve(
    listener: TcpListener,
    local: Arc<LocalMail>,
    tls: Option<Arc<rustls::ServerConfig>>,
    implicit_tls: bool,
    limits: TcpLimits,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    if implicit_tls && tls.is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pop3: implicit TLS needs a TLS certificate",
        ));
    }
    let context = Arc::new(Context {
        local,
        tls: tls.map(TlsAcceptor::from),
        implicit_tls,
        idle_timeout: limits.idle_timeout.max(AUTOLOGOUT),
        tracer,
    });
    accept_connections(
        listener,
        limits.max_connections,
        shutdown,
        "pop3",
        move |stream, peer| {
            let context = context.clone();
            async move { serve_connection(context, stream, peer).await }
        },
    )
    .await
}

async fn serve_connection(
    context: Arc<Context>,
    stream: TcpStream,
    peer: SocketAddr,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?;
    let connection = Connection {
        context: &context,
        trace: context.tracer.scope("pop3", Role::Server, local, peer),
    };
    let config = SessionConfig {
        name: SERVER_NAME.into(),
        tls_available: context.tls.is_some() && !context.implicit_tls,
        tls_active: context.implicit_tls,
        plaintext_auth: peer.ip().is_loopback(),
    };
    let mut session = Session::new(config);
    session.set_trace(connection.trace.is_listening());
    if context.implicit_tls {
        let stream = connection.handshake(stream).await?;
        connection.converse(stream, session).await?;
        return Ok(());
    }
    let (mut session, upgrade) = connection.converse(stream, session).await?;
    let Some(stream) = upgrade else {
        return Ok(());
    };
    let stream = connection.handshake(stream).await?;
    session.tls_established();
    connection.converse(stream, session).await?;
    Ok(())
}

struct Connection<'a> {
    context: &'a Context,
    trace: TraceScope,
}

impl Connection<'_> {
    async fn handshake(
        &self,
        stream: TcpStream,
    ) -> io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        let acceptor = self
            .context
            .tls
            .as_ref()
            .ok_or_else(|| io::Error::other("no TLS configured"))?;
        accept_within(acceptor, stream, HANDSHAKE_TIMEOUT).await
    }

    /// Runs the session over `stream` until it closes (no stream back) or asks for TLS (the
    /// stream back, to upgrade).
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        mut session: Session,
    ) -> io::Result<(Session, Option<S>)> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let mut pending_write = Vec::new();
            while let Some(output) = session.poll_output() {
                match output {
                    Output::Send(bytes) => {
                        self.trace.sent(&bytes, || summarize_lines(&bytes));
                        pending_write.extend_from_slice(&bytes);
                    }
                    Output::Received(line) => {
                        self.trace.received(line.as_bytes(), || line.clone());
                    }
                    Output::StartTls => {
                        stream.write_all(&pending_write).await?;
                        return Ok((session, Some(stream)));
                    }
                    Output::Authenticate { user, password } => {
                        // Writes what came before first: the client may be waiting for it.
                        stream.write_all(&pending_write).await?;
                        pending_write.clear();
                        let local = self.context.local.clone();
                        session = blocking(session, move |session| {
                            let account =
                                local.accounts.verify(&user, &password).and_then(|address| {
                                    let maildir = local.mailbox(&address)?;
                                    Some((address, maildir))
                                });
                            session.auth_result(account);
                        })
                        .await?;
                    }
                    Output::Close => {
                        stream.write_all(&pending_write).await?;
                        let _ = stream.shutdown().await;
                        return Ok((session, None));
                    }
                }
            }
            // Responses to pipelined commands go out together (RFC 2449 §6.6).
            stream.write_all(&pending_write).await?;
            let read = match tokio::time::timeout(self.context.idle_timeout, stream.read(&mut buf))
                .await
            {
                Ok(read) => read?,
                // RFC 1939 §3: close without a response and without the UPDATE state.
                Err(_) => return Ok((session, None)),
            };
            if read == 0 {
                session.feed_eof();
                return Ok((session, None));
            }
            if session.uses_store() {
                let bytes = buf[..read].to_vec();
                session = blocking(session, move |session| session.feed(&bytes)).await?;
            } else {
                session.feed(&buf[..read]);
            }
        }
    }
}

/// Runs `step` on the session on a blocking thread: the mail store is blocking file I/O.
async fn blocking(
    mut session: Session,
    step: impl FnOnce(&mut Session) + Send + 'static,
) -> io::Result<Session> {
    tokio::task::spawn_blocking(move || {
        step(&mut session);
        session
    })
    .await
    .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;
    use std::process::Command;

    use appnet_core::tls::TlsMaterial;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio_rustls::TlsConnector;

    use super::*;
    use crate::accounts::{Accounts, hash_password};
    use crate::maildir::Maildir;
    use crate::store::Mailstore;

    const ADDRESS: &str = "mrose@alpha.example";
    const PASSWORD: &str = "tanstaaf";

    struct Server {
        addr: SocketAddr,
        root: tempfile::TempDir,
        shutdown: Shutdown,
    }

    impl Server {
        fn inbox(&self) -> std::path::PathBuf {
            self.root.path().join("alpha.example").join("mrose")
        }

        fn uids(&self) -> Vec<u32> {
            let store = Mailstore::open(&self.inbox()).unwrap();
            let inbox = store.open_mailbox("INBOX").unwrap();
            inbox.messages().iter().map(|m| m.uid).collect()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.shutdown.cancel();
        }
    }

    async fn start(messages: &[&[u8]], tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        start_with(messages, tls, false).await
    }

    async fn start_with(
        messages: &[&[u8]],
        tls: Option<Arc<rustls::ServerConfig>>,
        implicit_tls: bool,
    ) -> Server {
        let root = tempfile::tempdir().unwrap();
        let mut accounts = Accounts::default();
        accounts.insert(ADDRESS, &hash_password(PASSWORD));
        let local = Arc::new(LocalMail {
            domains: HashSet::from(["alpha.example".to_string()]),
            accounts,
            maildir_root: root.path().to_path_buf(),
        });
        let maildir = Maildir::create(&local.mailbox(ADDRESS).unwrap()).unwrap();
        for message in messages {
            maildir.deliver(message).unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let limits = TcpLimits {
            max_connections: 8,
            idle_timeout: Duration::from_secs(1),
        };
        tokio::spawn(serve(
            listener,
            local,
            tls,
            implicit_tls,
            limits,
            Tracer::off(),
            shutdown.clone(),
        ));
        Server {
            addr,
            root,
            shutdown,
        }
    }

    /// Reads one response: a status line, and the body up to `.` if `multi`.
    async fn response<S: AsyncRead + Unpin>(reader: &mut BufReader<S>, multi: bool) -> String {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(Duration::from_secs(20), reader.read_line(&mut line))
                .await
                .expect("a response in time")
                .unwrap();
            assert!(read > 0, "the server closed early after {text:?}");
            text.push_str(&line);
            if !multi || line == ".\r\n" || (text == line && line.starts_with("-ERR")) {
                return text;
            }
        }
    }

    #[tokio::test]
    async fn pop3_driver_serves_a_raw_tcp_client_with_pipelining() {
        let server = start(
            &[
                b"Subject: one\r\n\r\n.dot\r\n",
                b"Subject: two\r\n\r\n2\r\n",
            ],
            None,
        )
        .await;
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        assert_eq!(
            response(&mut reader, false).await,
            "+OK appnet POP3 server ready\r\n"
        );
        write.write_all(b"CAPA\r\n").await.unwrap();
        let capa = response(&mut reader, true).await;
        assert!(
            capa.contains("\r\nUSER\r\n"),
            "loopback may log in in clear: {capa}"
        );
        assert!(!capa.contains("STLS"), "{capa}");
        // Pipelined (RFC 2449 §6.6): all in one write.
        let login =
            format!("USER {ADDRESS}\r\nPASS {PASSWORD}\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
        write.write_all(login.as_bytes()).await.unwrap();
        assert_eq!(
            response(&mut reader, false).await,
            "+OK send your password\r\n"
        );
        assert_eq!(
            response(&mut reader, false).await,
            format!("+OK {ADDRESS}'s maildrop has 2 messages (41 octets)\r\n")
        );
        assert_eq!(response(&mut reader, false).await, "+OK 2 41\r\n");
        assert_eq!(
            response(&mut reader, true).await,
            "+OK 22 octets\r\nSubject: one\r\n\r\n..dot\r\n.\r\n"
        );
        assert_eq!(
            response(&mut reader, false).await,
            "+OK message 1 deleted\r\n"
        );
        assert_eq!(
            response(&mut reader, false).await,
            "+OK appnet POP3 server signing off (1 messages left)\r\n"
        );
        let mut rest = String::new();
        reader.read_line(&mut rest).await.unwrap();
        assert_eq!(rest, "", "closed after QUIT");
        assert_eq!(server.uids(), vec![2]);
    }

    #[tokio::test]
    async fn pop3_driver_refuses_wrong_passwords_and_keeps_mail_on_a_dropped_connection() {
        let server = start(&[b"a\r\n"], None).await;
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        response(&mut reader, false).await;
        write
            .write_all(format!("USER {ADDRESS}\r\nPASS nope\r\n").as_bytes())
            .await
            .unwrap();
        response(&mut reader, false).await;
        assert_eq!(
            response(&mut reader, false).await,
            "-ERR [AUTH] Authentication failed\r\n"
        );
        let login = format!("USER {ADDRESS}\r\nPASS {PASSWORD}\r\nDELE 1\r\n");
        write.write_all(login.as_bytes()).await.unwrap();
        response(&mut reader, false).await;
        response(&mut reader, false).await;
        assert_eq!(
            response(&mut reader, false).await,
            "+OK message 1 deleted\r\n"
        );
        drop(write);
        drop(reader);
        // The session ends without UPDATE; once its lock is gone, a new login works and the
        // message is still there.
        let mut attempts = 0;
        loop {
            let stream = TcpStream::connect(server.addr).await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            response(&mut reader, false).await;
            let login = format!("USER {ADDRESS}\r\nPASS {PASSWORD}\r\n");
            write.write_all(login.as_bytes()).await.unwrap();
            response(&mut reader, false).await;
            let reply = response(&mut reader, false).await;
            if reply.starts_with("-ERR [IN-USE]") && attempts < 50 {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            assert!(reply.contains("has 1 messages"), "{reply}");
            break;
        }
        assert_eq!(server.uids(), vec![1]);
    }

    #[tokio::test]
    async fn pop3_driver_upgrades_with_stls() {
        let material = TlsMaterial::generate(&["localhost"]).unwrap();
        let server = start(&[b"a\r\n"], Some(material.server_config().unwrap())).await;
        let mut stream = BufReader::new(TcpStream::connect(server.addr).await.unwrap());
        response(&mut stream, false).await;
        stream.get_mut().write_all(b"CAPA\r\n").await.unwrap();
        assert!(response(&mut stream, true).await.contains("\r\nSTLS\r\n"));
        stream.get_mut().write_all(b"STLS\r\n").await.unwrap();
        assert_eq!(
            response(&mut stream, false).await,
            "+OK Begin TLS negotiation\r\n"
        );
        let connector = TlsConnector::from(material.client_config().unwrap());
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, stream.into_inner()).await.unwrap();
        let mut tls = BufReader::new(tls);
        tls.get_mut().write_all(b"CAPA\r\n").await.unwrap();
        let capa = response(&mut tls, true).await;
        assert!(!capa.contains("STLS"), "{capa}");
        let login = format!("USER {ADDRESS}\r\nPASS {PASSWORD}\r\nSTAT\r\nQUIT\r\n");
        tls.get_mut().write_all(login.as_bytes()).await.unwrap();
        response(&mut tls, false).await;
        response(&mut tls, false).await;
        assert_eq!(response(&mut tls, false).await, "+OK 1 3\r\n");
    }

    /// Debian's python3 poplib as the client, in clear and after STLS.
    fn poplib(port: u16, ca: &Path) -> String {
        let script = r#"
import poplib, ssl, sys
port, ca, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
out = []
pop = poplib.POP3("127.0.0.1", port, timeout=20)
out.append(pop.getwelcome().decode())
out.append(pop.user(user).decode())
out.append(pop.pass_(password).decode())
out.append(repr(pop.stat()))
resp, lines, octets = pop.retr(1)
out.append(resp.decode())
out.append(repr(lines))
out.append(repr(octets))
out.append(pop.dele(1).decode())
out.append(pop.quit().decode())
pop = poplib.POP3("127.0.0.1", port, timeout=20)
pop.stls(ssl.create_default_context(cafile=ca))
out.append(repr(sorted(pop.capa())))
pop.user(user)
pop.pass_(password)
out.append(repr(pop.uidl()[1]))
resp, lines, octets = pop.top(1, 0)
out.append(repr(lines))
out.append(pop.quit().decode())
print("\n".join(out))
"#;
        let output = Command::new(appnet_testkit::python3())
            .args(["-c", script, &port.to_string()])
            .arg(ca)
            .args([ADDRESS, PASSWORD])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "python3 poplib failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pop3_driver_serves_python_poplib() {
        let material = TlsMaterial::generate(&["127.0.0.1"]).unwrap();
        let server = start(
            &[
                b"Subject: hi\r\n\r\n.leading dot\r\nbye\r\n",
                b"Subject: second\r\n\r\nx\r\n",
            ],
            Some(material.server_config().unwrap()),
        )
        .await;
        let ca = server.root.path().join("ca.pem");
        std::fs::write(&ca, material.ca_pem()).unwrap();
        let port = server.addr.port();
        let out = tokio::task::spawn_blocking(move || poplib(port, &ca))
            .await
            .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "+OK appnet POP3 server ready", "{out}");
        assert_eq!(lines[1], "+OK send your password", "{out}");
        assert!(
            lines[2].starts_with("+OK mrose@alpha.example's maildrop has 2"),
            "{out}"
        );
        assert_eq!(lines[3], "(2, 56)", "{out}");
        assert_eq!(lines[4], "+OK 34 octets", "{out}");
        assert_eq!(
            lines[5], "[b'Subject: hi', b'', b'.leading dot', b'bye']",
            "{out}"
        );
        assert_eq!(lines[6], "34", "{out}");
        assert_eq!(lines[7], "+OK message 1 deleted", "{out}");
        assert_eq!(
            lines[8], "+OK appnet POP3 server signing off (1 messages left)",
            "{out}"
        );
        assert!(
            lines[9].contains("'USER'") && lines[9].contains("'SASL'"),
            "{out}"
        );
        assert!(!lines[9].contains("STLS"), "{out}");
        assert!(lines[10].starts_with("[b'1 00000002"), "{out}");
        assert_eq!(lines[11], "[b'Subject: second', b'']", "{out}");
        assert_eq!(
            lines[12], "+OK appnet POP3 server signing off (1 messages left)",
            "{out}"
        );
        assert_eq!(server.uids(), vec![2]);
    }

    /// curl's POP3 client over implicit TLS (pop3s, RFC 8314): a listing, then one message.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pop3_driver_serves_curl_over_implicit_tls() {
        let material = TlsMaterial::generate(&["127.0.0.1"]).unwrap();
        let config = Some(material.server_config().unwrap());
        let server = start_with(
            &[b"Subject: a\r\n\r\n.x\r\n", b"Subject: b\r\n\r\nb\r\n"],
            config,
            true,
        )
        .await;
        let ca = server.root.path().join("ca.pem");
        std::fs::write(&ca, material.ca_pem()).unwrap();
        let curl = appnet_testkit::require_peer("curl");
        let credentials = format!("{ADDRESS}:{PASSWORD}");
        let port = server.addr.port();
        let fetch = move |path: &str| {
            let url = format!("pop3s://127.0.0.1:{port}/{path}");
            let output = Command::new(&curl)
                .args(["-sS", "--max-time", "20", "--cacert"])
                .arg(&ca)
                .args(["-u", &credentials, &url])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "curl {url}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        };
        let (list, message) = tokio::task::spawn_blocking(move || (fetch(""), fetch("1")))
            .await
            .unwrap();
        assert_eq!(list, "1 18\r\n2 17\r\n");
        assert_eq!(message, "Subject: a\r\n\r\n.x\r\n");
        assert_eq!(server.uids(), vec![1, 2]);
    }
}
