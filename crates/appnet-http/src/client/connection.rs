//! One client connection: resolve, connect (TCP, then TLS for `https`), write request heads and
//! bodies, and turn the bytes read into [`ResponseEvent`]s with the sans-IO
//! [`ResponseParser`], every read and write under a timeout.
//!
//! RFC 9112 §9.1 (establishment), §9.3 (persistence: the parser says whether the connection can
//! carry another request), RFC 9110 §4.2.2 (https), and the trace: one event per request head
//! sent and response head received.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use appnet_core::trace::{Role, TraceScope, Tracer};
use appnet_core::transport::Transport;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::proto::{Method, RequestHead, ResponseEvent, ResponseHead, ResponseParser};

use super::error::ClientError;
use super::url::{Host, Url};

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes of a request written under one timeout.
const WRITE_CHUNK: usize = 64 * 1024;

/// How to open a connection.
pub(crate) struct Dial<'a> {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Present for `https` URLs.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub tracer: &'a Tracer,
}

/// An open connection and its response parser.
pub(crate) struct Connection {
    transport: Transport,
    parser: ResponseParser,
    trace: TraceScope,
    peer: SocketAddr,
    read_timeout: Duration,
    buf: Vec<u8>,
    /// Bytes received since the last request was written.
    received: usize,
    /// Requests this connection has carried.
    requests: u64,
    /// When the connection last went idle (put back in the pool).
    pub(crate) idle_since: Instant,
}

impl Connection {
    /// Resolves `url`'s host, connects to the first address that answers, and does the TLS
    /// handshake for `https`, all within the connect timeout.
    pub(crate) async fn open(url: &Url, dial: Dial<'_>) -> Result<Connection, ClientError> {
        let host = url.host().to_string();
        let timeout = dial.connect_timeout;
        let connecting = async {
            let tcp = connect_tcp(url).await?;
            // Requests are written whole; Nagle would only delay them.
            let _ = tcp.set_nodelay(true);
            match &dial.tls {
                None => Ok(Transport::Plain(tcp)),
                Some(config) => handshake(url, tcp, config.clone()).await,
            }
        };
        let transport = tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| ClientError::ConnectTimeout { host, timeout })??;
        let tcp = transport.tcp();
        let peer = tcp.peer_addr().map_err(|source| ClientError::Connect {
            host: url.host().to_string(),
            source,
        })?;
        let local = tcp.local_addr().unwrap_or(peer);
        Ok(Connection {
            transport,
            parser: ResponseParser::default(),
            trace: dial.tracer.scope("http", Role::Client, local, peer),
            peer,
            read_timeout: dial.read_timeout,
            buf: vec![0; READ_CHUNK],
            received: 0,
            requests: 0,
            idle_since: Instant::now(),
        })
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether this connection carried a request before.
    pub(crate) fn is_reused(&self) -> bool {
        self.requests > 0
    }

    /// Writes `head` and `body` (one write when they fit together).
    pub(crate) async fn send(
        &mut self,
        head: &RequestHead,
        body: Option<&[u8]>,
    ) -> Result<(), ClientError> {
        let mut bytes = head.encode()?;
        self.trace.sent(&bytes, || request_line(head));
        bytes.extend_from_slice(body.unwrap_or_default());
        self.parser.request_sent(head.method.clone());
        self.received = 0;
        self.requests += 1;
        for piece in bytes.chunks(WRITE_CHUNK) {
            self.write_piece(piece).await?;
        }
        Ok(())
    }

    /// One write, under the read timeout: a server that stops reading is a server that hangs.
    async fn write_piece(&mut self, piece: &[u8]) -> Result<(), ClientError> {
        let peer = self.peer;
        let writing = async {
            self.transport.write_all(piece).await?;
            self.transport.flush().await
        };
        match tokio::time::timeout(self.read_timeout, writing).await {
            Ok(result) => result.map_err(|source| ClientError::Send { peer, source }),
            Err(_) => Err(ClientError::ReadTimeout {
                peer,
                timeout: self.read_timeout,
            }),
        }
    }

    /// The next event of the response being received; reads as needed.
    pub(crate) async fn next_event(&mut self) -> Result<ResponseEvent, ClientError> {
        loop {
            if let Some(event) = self.parser.poll_event() {
                return self.checked(event);
            }
            if self.parser.is_closed() || self.parser.is_switched() {
                return Err(ClientError::EmptyReply { peer: self.peer });
            }
            self.read_some().await?;
        }
    }

    /// RFC 9112 §9.3: after `End`, whether another request may follow on this connection.
    pub(crate) fn keep_alive(&self) -> bool {
        self.parser.keep_alive()
    }

    /// Before reusing an idle connection: false when the server has closed it (or sent bytes
    /// nobody asked for). Polls the socket once, without waiting.
    pub(crate) async fn looks_alive(&self) -> bool {
        let tcp = self.transport.tcp();
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        let polled = std::future::poll_fn(|cx| Poll::Ready(tcp.poll_peek(cx, &mut buf))).await;
        match polled {
            Poll::Pending => true,
            Poll::Ready(Ok(0) | Err(_)) => false,
            // TLS may carry records after a response (session tickets, close_notify): let the
            // retry rule of RFC 9112 §9.3.1 handle a close we cannot see from here.
            Poll::Ready(Ok(_)) => self.transport.is_tls(),
        }
    }

    fn checked(&mut self, event: ResponseEvent) -> Result<ResponseEvent, ClientError> {
        match event {
            ResponseEvent::Error(source) => Err(ClientError::Protocol {
                peer: self.peer,
                source,
            }),
            ResponseEvent::Head(head) => {
                self.trace_head(&head);
                Ok(ResponseEvent::Head(head))
            }
            ResponseEvent::Interim(head) => {
                self.trace_head(&head);
                Ok(ResponseEvent::Interim(head))
            }
            other => Ok(other),
        }
    }

    fn trace_head(&self, head: &ResponseHead) {
        let bytes = head.encode().unwrap_or_default();
        self.trace.received(&bytes, || {
            format!("{} {} {}", head.version, head.status, head.reason)
        });
    }

    async fn read_some(&mut self) -> Result<(), ClientError> {
        let capacity = self.parser.input_capacity().clamp(1, READ_CHUNK);
        let peer = self.peer;
        let reading = self.transport.read(&mut self.buf[..capacity]);
        let read = match tokio::time::timeout(self.read_timeout, reading).await {
            Ok(Ok(read)) => read,
            Ok(Err(source)) => return Err(ClientError::Receive { peer, source }),
            Err(_) => {
                return Err(ClientError::ReadTimeout {
                    peer,
                    timeout: self.read_timeout,
                });
            }
        };
        if read == 0 {
            self.parser.feed_eof();
        } else {
            self.received += read;
            self.parser.feed(&self.buf[..read]);
        }
        Ok(())
    }

    /// Whether any byte of a response arrived since the last request was written.
    pub(crate) fn received_nothing(&self) -> bool {
        self.received == 0
    }
}

/// Resolves the host (IP literals need no lookup) and connects to each address in turn.
async fn connect_tcp(url: &Url) -> Result<TcpStream, ClientError> {
    let addrs = resolve(url).await?;
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(error) => last_error = error,
        }
    }
    Err(ClientError::Connect {
        host: url.authority(),
        source: last_error,
    })
}

/// The system resolver (`getaddrinfo`) for names; IP literals as they are.
async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, ClientError> {
    let port = url.port();
    let name = match url.host() {
        Host::Ipv4(ip) => return Ok(vec![SocketAddr::from((*ip, port))]),
        Host::Ipv6(ip) => return Ok(vec![SocketAddr::from((*ip, port))]),
        Host::Domain(name) => name.as_str(),
    };
    let failed = |reason: String| ClientError::Resolve {
        host: name.to_owned(),
        reason,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|err| failed(err.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(failed("no addresses".into()));
    }
    Ok(addrs)
}

/// The TLS handshake; the certificate must name the URL's host (RFC 9110 §4.3.4).
async fn handshake(
    url: &Url,
    tcp: TcpStream,
    config: Arc<rustls::ClientConfig>,
) -> Result<Transport, ClientError> {
    let host = url.host().to_string();
    let name = match url.host() {
        Host::Domain(name) => ServerName::try_from(name.clone()).map_err(|_| ClientError::Tls {
            host: host.clone(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a valid TLS server name"),
        })?,
        Host::Ipv4(ip) => ServerName::IpAddress((*ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress((*ip).into()),
    };
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| ClientError::Tls { host, source })?;
    Ok(Transport::tls(tls))
}

/// `GET /path HTTP/1.1`, the trace summary of a request head.
pub(crate) fn request_line(head: &RequestHead) -> String {
    format!("{} {} {}", head.method, head.target, head.version)
}

/// RFC 9110 §9.2.2: methods whose requests can be repeated with the same effect.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        method,
        Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options | Method::Trace
    )
}
