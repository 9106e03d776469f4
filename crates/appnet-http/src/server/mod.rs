//! The tokio driver of the static HTTP server: accepts connections, feeds their bytes to the
//! sans-IO codec ([`crate::proto::ServerConn`]), answers GET and HEAD from the file system with
//! the plan of [`crate::site::respond`], and writes responses, in order, on persistent
//! connections (RFC 9112 §9.3). Files go out with `sendfile(2)` ([`appnet_core::files::send_file`]).

pub mod access_log;
mod compress;
pub mod files;

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::{TcpLimits, accept_connections};
use appnet_core::tls::accept_within;
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::proto::{CONTINUE, Event, Method, Request, ResponseHead, ServerConn, error_response};
use crate::semantics::{Segment, format_http_date};
use crate::site::listing::{self, escape_html};
use crate::site::path::{PathError, SitePath, parse_target};
use crate::site::respond::{FileFacts, Plan, plan_file};

use self::access_log::{AccessLog, LogLine};
use self::files::{Opened, RECEIVE_CHUNK, Root, list_directory, receive, send_more};
use appnet_core::files::send_file;

/// The `Server` field of every response.
const SERVER: &str = concat!("appnet/", env!("CARGO_PKG_VERSION"));
/// File slices up to this size are read and written with the head instead of sent by sendfile.
const INLINE_FILE_BYTES: u64 = 32 * 1024;

/// What a server serves: a default root, roots per virtual host, and what a directory shows.
#[derive(Debug)]
pub struct Site {
    root: Root,
    virtual_hosts: HashMap<String, Root>,
    index: String,
    listings: bool,
}

impl Site {
    /// A site serving `root` (which must exist) for every host.
    pub fn new(root: &Path) -> io::Result<Site> {
        Ok(Site {
            root: Root::open(root)?,
            virtual_hosts: HashMap::new(),
            index: "index.html".into(),
            listings: true,
        })
    }

    /// Serves `root` for requests whose Host is `host` (case-insensitive, port ignored).
    pub fn with_virtual_host(mut self, host: &str, root: &Path) -> io::Result<Site> {
        self.virtual_hosts
            .insert(host.to_ascii_lowercase(), Root::open(root)?);
        Ok(self)
    }

    fn root_for(&self, host: Option<&str>) -> &Root {
        let name = host.map(|host| {
            host.rsplit_once(':')
                .map_or(host, |(name, _)| name)
                .to_ascii_lowercase()
        });
        name.and_then(|name| self.virtual_hosts.get(&name))
            .unwrap_or(&self.root)
    }
}

/// Serves `site` on `listener` until `shutdown`; with `tls`, as HTTPS (RFC 9110 §4.2.2).
pub async fn serve(
    listener: TcpListener,
    site: Arc<Site>,
    limits: TcpLimits,
    log: Arc<AccessLog>,
    tls: Option<Arc<rustls::ServerConfig>>,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let service = if acceptor.is_some() { "https" } else { "http" };
    accept_connections(
        listener,
        limits.max_connections,
        shutdown,
        service,
        move |stream, peer| {
            let connection = Connection {
                site: site.clone(),
                log: log.clone(),
                peer,
                idle_timeout: limits.idle_timeout,
            };
            let tracer = tracer.clone();
            let acceptor = acceptor.clone();
            async move {
                stream.set_nodelay(true)?;
                let local = stream.local_addr()?;
                let trace = tracer.scope(service, Role::Server, local, peer);
                match acceptor {
                    None => connection.serve(stream, trace).await,
                    Some(acceptor) => {
                        // The handshake must finish within the idle timeout too.
                        let stream = accept_within(&acceptor, stream, limits.idle_timeout).await?;
                        connection.serve(stream, trace).await
                    }
                }
            }
        },
    )
    .await
}

/// A connection's byte stream: plain TCP sends files with `sendfile(2)`; TLS must encrypt them,
/// so it reads and writes.
pub trait Wire: AsyncRead + AsyncWrite + Unpin + Send {
    fn send_file(
        &mut self,
        file: &File,
        start: u64,
        len: u64,
    ) -> impl Future<Output = io::Result<()>> + Send;

    /// Reads up to `max` bytes into `conn`; 0 at the end of the stream.
    fn read_into(
        &mut self,
        conn: &mut ServerConn,
        max: usize,
    ) -> impl Future<Output = io::Result<usize>> + Send;

    /// Writes bytes that a file's bytes will follow at once (a head before a body).
    fn write_before_file(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send {
        async move { self.write_all(bytes).await }
    }
}

impl Wire for TcpStream {
    async fn send_file(&mut self, file: &File, start: u64, len: u64) -> io::Result<()> {
        send_file(self, file, start, len).await
    }

    /// `MSG_MORE` tells the kernel more data follows: the head then shares its segments with
    /// the start of the file instead of leaving in a small packet of its own (nginx's
    /// `tcp_nopush` does the same with `TCP_CORK`).
    async fn write_before_file(&mut self, bytes: &[u8]) -> io::Result<()> {
        send_more(self, bytes).await
    }

    /// Waits for readability with no buffer held, so that an idle connection costs no read
    /// buffer: ten thousand idle clients cost kilobytes each, not a buffer each.
    async fn read_into(&mut self, conn: &mut ServerConn, max: usize) -> io::Result<usize> {
        receive(self, max, |bytes| feed(conn, bytes)).await
    }
}

impl Wire for TlsStream<TcpStream> {
    async fn read_into(&mut self, conn: &mut ServerConn, max: usize) -> io::Result<usize> {
        let mut buf = vec![0u8; max];
        let read = self.read(&mut buf).await?;
        feed(conn, &buf[..read]);
        Ok(read)
    }

    async fn send_file(&mut self, file: &File, start: u64, len: u64) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = start;
        let end = start + len;
        while at < end {
            let want = usize::try_from((end - at).min(buf.len() as u64)).unwrap_or(buf.len());
            file.read_exact_at(&mut buf[..want], at)?;
            self.write_all(&buf[..want]).await?;
            at += want as u64;
        }
        Ok(())
    }
}

/// `POST` or `PUT` to this path answers with the request's body: a test endpoint for clients'
/// uploads (chunked or not), like httpbin's `/anything`. It stores nothing.
pub const ECHO_PATH: &str = "/_appnet/echo";
/// The largest body the echo endpoint returns; a larger one gets 413.
const ECHO_LIMIT: usize = 1024 * 1024;

fn is_echo(request: &Request) -> bool {
    matches!(request.method, Method::Post | Method::Put)
        && request.target.split('?').next() == Some(ECHO_PATH)
}

/// The body of an echo request as it arrives.
enum Echo {
    Body(Vec<u8>),
    TooLarge,
}

impl Echo {
    fn add(&mut self, chunk: &[u8]) {
        if let Echo::Body(body) = self {
            if body.len() + chunk.len() > ECHO_LIMIT {
                *self = Echo::TooLarge;
            } else {
                body.extend_from_slice(chunk);
            }
        }
    }

    fn response(self) -> (ResponseHead, Vec<Segment>, Option<Opened>) {
        let Echo::Body(body) = self else {
            let (head, body) = page(413, "The echo endpoint returns bodies up to 1 MiB.");
            return (head, body, None);
        };
        let mut head = ResponseHead::new(200);
        head.headers
            .append("Date", format_http_date(SystemTime::now()));
        head.headers
            .append("Content-Type", "application/octet-stream");
        head.headers.append("X-Content-Type-Options", "nosniff");
        head.headers
            .append("Content-Length", body.len().to_string());
        (head, vec![Segment::Bytes(body)], None)
    }
}

struct Connection {
    site: Arc<Site>,
    log: Arc<AccessLog>,
    peer: SocketAddr,
    idle_timeout: Duration,
}

impl Connection {
    async fn serve(self, mut stream: impl Wire, trace: TraceScope) -> io::Result<()> {
        let mut conn = ServerConn::default();
        let mut current: Option<Request> = None;
        // The body of an echo request (other bodies are read and dropped).
        let mut echo: Option<Echo> = None;
        // A request must arrive whole within the idle timeout of its first byte.
        let mut request_started: Option<Instant> = None;
        loop {
            while let Some(event) = conn.poll_event() {
                match event {
                    Event::Request(request) => {
                        if trace.is_listening() {
                            let line = request_line(&request);
                            trace.received(line.as_bytes(), || line.clone());
                        }
                        echo = is_echo(&request).then(|| Echo::Body(Vec::new()));
                        current = Some(request);
                    }
                    Event::Continue => stream.write_all(CONTINUE).await?,
                    Event::Body(chunk) => {
                        if let Some(echo) = &mut echo {
                            echo.add(&chunk);
                        }
                    }
                    Event::End { .. } => {
                        request_started = None;
                        if let Some(request) = current.take() {
                            // Boxed: the response's state lives only while it is being written,
                            // so an idle connection's future stays small.
                            let echo = echo.take();
                            Box::pin(self.respond(&mut stream, &mut conn, &request, echo, &trace))
                                .await?;
                        }
                    }
                    Event::Error(error) => {
                        let mut head = error_response(&error);
                        head.headers
                            .append("Date", format_http_date(SystemTime::now()));
                        write_head(&mut stream, &head, &trace).await?;
                        return stream.shutdown().await;
                    }
                }
            }
            if conn.is_closed() {
                return stream.shutdown().await;
            }
            let capacity = conn.input_capacity().clamp(1, RECEIVE_CHUNK);
            let started = *request_started.get_or_insert_with(Instant::now);
            let deadline = started + self.idle_timeout;
            let read = stream.read_into(&mut conn, capacity);
            match tokio::time::timeout_at(deadline.into(), read).await {
                Ok(read) => read?,
                // Idle between requests, or too slow within one: close (RFC 9112 §9.5).
                Err(_) => return Ok(()),
            };
        }
    }

    async fn respond(
        &self,
        stream: &mut impl Wire,
        conn: &mut ServerConn,
        request: &Request,
        echo: Option<Echo>,
        trace: &TraceScope,
    ) -> io::Result<()> {
        let (mut head, body, opened) = match echo {
            Some(echo) => echo.response(),
            None => self.answer(request),
        };
        head.headers.append("Server", SERVER);
        // RFC 9110 §9.3.2: HEAD gets the header fields a GET would, and no body.
        let body = if request.method == Method::Head {
            Vec::new()
        } else {
            body
        };
        conn.prepare_response(&mut head);
        let mut out = head.encode().map_err(io::Error::other)?;
        trace.sent(&out, || {
            format!("{} {} {}", head.version, head.status, head.reason)
        });
        let mut sent: u64 = 0;
        for segment in &body {
            match (segment, &opened) {
                (Segment::Bytes(bytes), _) => out.extend_from_slice(bytes),
                // Small slices ride along with the head in one write: fewer system calls than
                // a write and a sendfile each.
                (Segment::File { start, len }, Some(opened)) if *len <= INLINE_FILE_BYTES => {
                    let at = out.len();
                    out.resize(at + *len as usize, 0);
                    opened.file.read_exact_at(&mut out[at..], *start)?;
                }
                (Segment::File { start, len }, Some(opened)) => {
                    stream.write_before_file(&out).await?;
                    out.clear();
                    stream.send_file(&opened.file, *start, *len).await?;
                }
                (Segment::File { .. }, None) => {}
            }
            sent += segment.len();
        }
        stream.write_all(&out).await?;
        conn.response_done();
        self.log.write(&LogLine {
            peer: self.peer,
            time: SystemTime::now(),
            request,
            status: head.status,
            bytes: sent,
        });
        Ok(())
    }

    /// The response for one complete request: head, body, and the file the body reads from.
    fn answer(&self, request: &Request) -> (ResponseHead, Vec<Segment>, Option<Opened>) {
        if !matches!(request.method, Method::Get | Method::Head) {
            let mut head = page(
                405,
                "This server serves files: GET and HEAD (and POST to /_appnet/echo).",
            );
            head.0.headers.append("Allow", "GET, HEAD");
            return (head.0, head.1, None);
        }
        let path = match parse_target(&request.target) {
            Ok(path) => path,
            Err(
                PathError::Escapes
                | PathError::ForbiddenByte
                | PathError::BadEncoding
                | PathError::NotAbsolute,
            ) => {
                let (head, body) = page(400, "The path is not one this server can serve.");
                return (head, body, None);
            }
        };
        let root = self.site.root_for(request.host());
        let opened = match root.open_beneath(&path.relative()) {
            Ok(opened) => opened,
            Err(err) => {
                let (status, text) = match err.kind() {
                    io::ErrorKind::PermissionDenied => (403, "You may not read this."),
                    _ => (404, "Nothing here."),
                };
                let (head, body) = page(status, text);
                return (head, body, None);
            }
        };
        if opened.metadata.is_dir() {
            return self.directory(request, &path, opened);
        }
        let facts = FileFacts {
            name: &request.target,
            len: opened.metadata.len(),
            modified: opened.metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        };
        let Plan { mut head, mut body } = plan_file(request, facts, SystemTime::now());
        if let Err(err) = compress::maybe_compress(
            request.headers.get("accept-encoding"),
            &mut head,
            &mut body,
            &opened,
        ) {
            tracing::debug!("compressing {}: {err}", request.target);
        }
        (head, body, Some(opened))
    }

    /// A directory: redirect to the slashed URL, serve its index file, or list it.
    fn directory(
        &self,
        request: &Request,
        path: &SitePath,
        opened: Opened,
    ) -> (ResponseHead, Vec<Segment>, Option<Opened>) {
        if !path.trailing_slash {
            let location = format!("{}/", path.url_path().trim_end_matches('/'));
            let (mut head, body) = page(301, "Moved to the directory's URL.");
            head.headers.append("Location", location);
            return (head, body, None);
        }
        let index_path = path.relative().join(&self.site.index);
        if let Ok(index) = self.site.root_for(request.host()).open_beneath(&index_path)
            && index.metadata.is_file()
        {
            let name = format!("{}{}", path.url_path(), self.site.index);
            let facts = FileFacts {
                name: &name,
                len: index.metadata.len(),
                modified: index.metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            };
            let Plan { mut head, mut body } = plan_file(request, facts, SystemTime::now());
            if let Err(err) = compress::maybe_compress(
                request.headers.get("accept-encoding"),
                &mut head,
                &mut body,
                &index,
            ) {
                tracing::debug!("compressing {name}: {err}");
            }
            return (head, body, Some(index));
        }
        if !self.site.listings {
            let (head, body) = page(403, "This directory has no index.");
            return (head, body, None);
        }
        let entries = list_directory(&opened.path).unwrap_or_default();
        let (head, body) = html_response(
            200,
            listing::render(&path.url_path(), entries, format_http_date),
        );
        (head, body, None)
    }
}

/// A small HTML page for a status, as servers send with errors and redirects.
fn page(status: u16, text: &str) -> (ResponseHead, Vec<Segment>) {
    let reason = crate::proto::reason_phrase(status);
    let html = format!(
        "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>\n<body><h1>{status} {reason}</h1><p>{}</p></body></html>\n",
        escape_html(text)
    );
    html_response(status, html)
}

fn html_response(status: u16, html: String) -> (ResponseHead, Vec<Segment>) {
    let mut head = ResponseHead::new(status);
    head.headers
        .append("Date", format_http_date(SystemTime::now()));
    head.headers
        .append("Content-Type", "text/html; charset=utf-8");
    head.headers
        .append("Content-Length", html.len().to_string());
    (head, vec![Segment::Bytes(html.into_bytes())])
}

async fn write_head(
    stream: &mut impl Wire,
    head: &ResponseHead,
    trace: &TraceScope,
) -> io::Result<()> {
    let bytes = head.encode().map_err(io::Error::other)?;
    stream.write_all(&bytes).await?;
    trace.sent(&bytes, || {
        format!("{} {} {}", head.version, head.status, head.reason)
    });
    Ok(())
}

/// Gives the codec bytes read from the socket, where none means the end of the stream.
fn feed(conn: &mut ServerConn, bytes: &[u8]) {
    if bytes.is_empty() {
        conn.feed_eof();
    } else {
        conn.feed(bytes);
    }
}

fn request_line(request: &Request) -> String {
    format!(
        "{} {} {}",
        request.method.as_str(),
        request.target,
        request.version
    )
}
