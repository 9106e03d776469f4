//! The HTTP/1.1 client: `appnet get`, the DASH player, the CDN's origin fetches and the
//! BitTorrent tracker client all fetch through it. A thin tokio driver around the sans-IO
//! [`crate::proto::ResponseParser`].
//!
//! - [`Client::send`] fetches a whole response; [`Client::start`] returns a [`ResponseStream`]
//!   whose body is read chunk by chunk (large downloads); [`Client::get`],
//!   [`Client::get_range`] and [`Client::head`] are the shortcuts.
//! - Connections persist (RFC 9112 §9.3) and wait in a pool per origin for the next request;
//!   a request that finds its reused connection closed by the server is sent again once on a
//!   fresh one when its method is idempotent (RFC 9112 §9.3.1, RFC 9110 §9.2.2).
//! - Redirects (RFC 9110 §15.4) are followed when the config asks, up to a limit, never from
//!   https down to http ([`redirect`]).
//! - Every request carries `Host` (RFC 9112 §3.2, with the port when it is not the default),
//!   `User-Agent: appnet/<version>` (RFC 9110 §10.1.5) and, with a body, `Content-Length`
//!   (RFC 9110 §8.6).
//! - Byte ranges (RFC 9110 §14): [`Client::get_range`] checks that the 206 is the range asked.
//! - Timeouts: connecting (resolution, TCP and TLS together) and each read or write.
//! - `https` trusts only the CA given, by default appnet's local CA ([`default_ca_file`]).
//!
//! Modules: `url` ([`Url`]: parsing, IDNA, reference resolution), `connection` (one
//! connection), `pool` (idle connections), [`redirect`], [`range`], `tls` (trust anchors),
//! `error` ([`ClientError`]).

mod connection;
mod error;
mod pool;
pub mod range;
pub mod redirect;
mod tls;
mod url;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use appnet_core::trace::Tracer;

use crate::proto::{Headers, Method, RequestHead, ResponseEvent, ResponseHead, Version};

use self::connection::{Connection, Dial, is_idempotent};
use self::pool::{Pool, PoolKey};

pub use self::error::ClientError;
pub use self::tls::default_ca_file;
pub use self::url::{Host, MAX_URL_LEN, Scheme, Url, UrlError};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("appnet/", env!("CARGO_PKG_VERSION"));
/// A redirect's body longer than this is not read to keep its connection: the connection closes.
const MAX_DRAIN: u64 = 64 * 1024;

/// How the client behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Resolving, connecting and the TLS handshake together.
    pub connect_timeout: Duration,
    /// Each wait for bytes from the server (or for a write to go out).
    pub read_timeout: Duration,
    /// Follow 301, 302, 303, 307 and 308.
    pub follow_redirects: bool,
    /// Redirects followed at most, when following.
    pub max_redirects: u32,
    /// Idle persistent connections kept per origin; 0 closes each after its response.
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept for reuse.
    pub idle_timeout: Duration,
    /// Largest body [`Client::send`] collects in memory (streams have no limit).
    pub max_body: u64,
    /// CA certificates (PEM) trusted for `https`; `None`: appnet's local CA.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            follow_redirects: false,
            max_redirects: 10,
            max_idle_per_host: 8,
            idle_timeout: Duration::from_secs(30),
            max_body: 256 * 1024 * 1024,
            ca_pem: None,
        }
    }
}

/// A request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    /// Extra fields; `Host`, `User-Agent`, `Accept` and `Content-Length` are added unless set.
    pub headers: Headers,
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: Headers::new(),
            body: None,
        }
    }

    /// A GET of `url`.
    pub fn get(url: &str) -> Result<Request, ClientError> {
        Ok(Request::new(Method::Get, Url::parse(url)?))
    }

    /// Adds a field, builder style.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Request {
        self.headers.append(name, value);
        self
    }

    /// Sets the body, builder style.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Asks for bytes `start..=end_inclusive` (to the end when `None`), RFC 9110 §14.2.
    pub fn range(self, start: u64, end_inclusive: Option<u64>) -> Request {
        self.header("Range", range::range_value(start, end_inclusive))
    }
}

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: Version,
    pub headers: Headers,
    /// Empty after [`Client::send_streaming`], which hands the body out as it arrives.
    pub body: Vec<u8>,
    pub trailers: Headers,
    /// The URL that answered (after redirects).
    pub url: Url,
    /// Redirects followed to get here.
    pub redirects: u32,
}

impl Response {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What the client did, for tests and `--verbose`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Connections opened (TCP connects that succeeded).
    pub connections_opened: u64,
    /// Requests written, retries included.
    pub requests: u64,
    /// Requests sent on a connection taken from the pool.
    pub reused: u64,
    /// Requests sent again after a reused connection turned out closed (RFC 9112 §9.3.1).
    pub retries: u64,
    /// Idle connections in the pool now.
    pub idle: u64,
}

/// What the client shows an observer as it works (`appnet get -v` prints these).
#[derive(Debug)]
pub enum Observed<'a> {
    /// A connection is about to carry a request.
    Connection {
        peer: std::net::SocketAddr,
        reused: bool,
    },
    /// A request head as written.
    Request(&'a RequestHead),
    /// A 1xx response.
    Interim(&'a ResponseHead),
    /// A final response head.
    Response(&'a ResponseHead),
}

/// A callback that sees each [`Observed`] event.
pub type Observer = Arc<dyn Fn(&Observed<'_>) + Send + Sync>;

#[derive(Default)]
struct Counters {
    connections_opened: AtomicU64,
    requests: AtomicU64,
    reused: AtomicU64,
    retries: AtomicU64,
}

/// What every clone of a client shares.
struct Shared {
    pool: Pool,
    tls: Mutex<Option<Arc<rustls::ClientConfig>>>,
    counters: Counters,
}

/// An HTTP/1.1 client with a keep-alive pool; clones share the pool.
#[derive(Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
    shared: Arc<Shared>,
    tracer: Tracer,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Why one attempt failed, and whether RFC 9112 §9.3.1 allows another on a fresh connection.
struct Failed {
    error: ClientError,
    stale: bool,
}

impl Client {
    /// A client; fails only when `config.ca_pem` holds no usable certificate.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let tls = config
            .ca_pem
            .as_deref()
            .map(tls::client_config)
            .transpose()?;
        Ok(Client {
            shared: Arc::new(Shared {
                pool: Pool::new(config.max_idle_per_host, config.idle_timeout),
                tls: Mutex::new(tls),
                counters: Counters::default(),
            }),
            config: Arc::new(config),
            tracer: Tracer::off(),
            observer: None,
        })
    }

    /// Reports each request and response head on `tracer` (protocol `http`).
    pub fn with_tracer(mut self, tracer: Tracer) -> Client {
        self.tracer = tracer;
        self
    }

    /// Calls `observer` with each connection, request head and response head.
    pub fn with_observer(
        mut self,
        observer: impl Fn(&Observed<'_>) + Send + Sync + 'static,
    ) -> Client {
        self.observer = Some(Arc::new(observer));
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn stats(&self) -> ClientStats {
        let counters = &self.shared.counters;
        ClientStats {
            connections_opened: counters.connections_opened.load(Ordering::Relaxed),
            requests: counters.requests.load(Ordering::Relaxed),
            reused: counters.reused.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
            idle: self.shared.pool.idle_count() as u64,
        }
    }

    /// Sends `request` and reads the whole response (at most `max_body` bytes of body).
    pub async fn send(&self, request: Request) -> Result<Response, ClientError> {
        self.start(request)
            .await?
            .into_response(self.config.max_body)
            .await
    }

    /// Sends `request` and hands each piece of the body to `on_chunk` as it arrives; the
    /// returned response's `body` is empty.
    pub async fn send_streaming(
        &self,
        request: Request,
        on_chunk: impl FnMut(&[u8]),
    ) -> Result<Response, ClientError> {
        let mut stream = self.start(request).await?;
        stream.for_each_chunk(on_chunk).await?;
        stream.into_response(0).await
    }

    /// GET `url`.
    pub async fn get(&self, url: &str) -> Result<Response, ClientError> {
        self.send(Request::get(url)?).await
    }

    /// HEAD `url`.
    pub async fn head(&self, url: &str) -> Result<Response, ClientError> {
        self.send(Request::new(Method::Head, Url::parse(url)?))
            .await
    }

    /// GET bytes `start..=end_inclusive` of `url` (to the end when `None`). A 206 must carry
    /// exactly that range ([`range::check_partial`]) and as many bytes; a 200 (the server
    /// ignored `Range`) is [`ClientError::RangeIgnored`]; other statuses (416, 404, ...) are
    /// returned as they are.
    pub async fn get_range(
        &self,
        url: &str,
        start: u64,
        end_inclusive: Option<u64>,
    ) -> Result<Response, ClientError> {
        let request = Request::get(url)?.range(start, end_inclusive);
        let response = self.send(request).await?;
        match response.status {
            206 => {
                let (first, last) = range::check_partial(&response.headers, start, end_inclusive)?;
                let expected = (last - first).saturating_add(1);
                if response.body.len() as u64 != expected {
                    return Err(ClientError::RangeMismatch {
                        requested: range::range_value(start, end_inclusive),
                        got: format!("{} bytes for a {expected}-byte range", response.body.len()),
                    });
                }
                Ok(response)
            }
            200 => Err(ClientError::RangeIgnored { status: 200 }),
            _ => Ok(response),
        }
    }

    /// Sends `request` (following redirects when configured) and returns the response once
    /// its head has arrived; the body is read from the [`ResponseStream`].
    pub async fn start(&self, request: Request) -> Result<ResponseStream, ClientError> {
        let mut request = request;
        let mut redirects = 0;
        loop {
            let mut stream = self.exchange(&request).await?;
            stream.redirects = redirects;
            if !self.config.follow_redirects {
                return Ok(stream);
            }
            let Some(next) = redirect::next_request(&request, stream.status(), stream.headers())?
            else {
                return Ok(stream);
            };
            stream.discard().await;
            if redirects >= self.config.max_redirects {
                return Err(ClientError::TooManyRedirects {
                    max: self.config.max_redirects,
                });
            }
            redirects += 1;
            request = next;
        }
    }

    /// One request and its response head: on a pooled connection if one is open, else (or
    /// after a stale one, for idempotent methods) on a fresh one.
    async fn exchange(&self, request: &Request) -> Result<ResponseStream, ClientError> {
        let head = request_head(request)?;
        let key = PoolKey::of(&request.url);
        if let Some(conn) = self.checkout(&key).await {
            match self.attempt(conn, &head, request, &key).await {
                Ok(stream) => return Ok(stream),
                Err(failed) if failed.stale && is_idempotent(&request.method) => {
                    self.shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                Err(failed) => return Err(failed.error),
            }
        }
        let conn = self.open(&request.url).await?;
        self.attempt(conn, &head, request, &key)
            .await
            .map_err(|failed| failed.error)
    }

    /// An idle connection to `key` that still looks open.
    async fn checkout(&self, key: &PoolKey) -> Option<Connection> {
        while let Some(conn) = self.shared.pool.take(key) {
            if conn.looks_alive().await {
                self.shared.counters.reused.fetch_add(1, Ordering::Relaxed);
                return Some(conn);
            }
        }
        None
    }

    async fn open(&self, url: &Url) -> Result<Connection, ClientError> {
        let tls = match url.scheme() {
            Scheme::Http => None,
            Scheme::Https => Some(self.tls_config()?),
        };
        let dial = Dial {
            connect_timeout: self.config.connect_timeout,
            read_timeout: self.config.read_timeout,
            tls,
            tracer: &self.tracer,
        };
        let conn = Connection::open(url, dial).await?;
        self.shared
            .counters
            .connections_opened
            .fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// The TLS config: the one given, or appnet's local CA read on first use.
    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let mut tls = self
            .shared
            .tls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(config) = tls.as_ref() {
            return Ok(config.clone());
        }
        let config = tls::default_client_config()?;
        *tls = Some(config.clone());
        Ok(config)
    }

    /// Writes the request on `conn` and reads up to the final response head.
    async fn attempt(
        &self,
        mut conn: Connection,
        head: &RequestHead,
        request: &Request,
        key: &PoolKey,
    ) -> Result<ResponseStream, Failed> {
        let reused = conn.is_reused();
        self.observe(&Observed::Connection {
            peer: conn.peer(),
            reused,
        });
        self.observe(&Observed::Request(head));
        self.shared
            .counters
            .requests
            .fetch_add(1, Ordering::Relaxed);
        let failed = |error: ClientError, conn: &Connection| Failed {
            stale: reused && conn.received_nothing() && error.is_stale_connection(),
            error,
        };
        if let Err(error) = conn.send(head, request.body.as_deref()).await {
            return Err(failed(error, &conn));
        }
        loop {
            match conn.next_event().await {
                Ok(ResponseEvent::Interim(interim)) => self.observe(&Observed::Interim(&interim)),
                Ok(ResponseEvent::Head(response)) => {
                    self.observe(&Observed::Response(&response));
                    return Ok(ResponseStream {
                        head: response,
                        url: request.url.clone(),
                        redirects: 0,
                        conn: Some(conn),
                        shared: self.shared.clone(),
                        key: key.clone(),
                        reusable: !head.headers.contains_token("connection", "close"),
                        trailers: Headers::new(),
                        received: 0,
                    });
                }
                Ok(_) => {
                    let error = ClientError::Protocol {
                        peer: conn.peer(),
                        source: crate::proto::HttpError::UnexpectedResponse,
                    };
                    return Err(failed(error, &conn));
                }
                Err(error) => return Err(failed(error, &conn)),
            }
        }
    }

    fn observe(&self, event: &Observed<'_>) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }
}

/// The head to write for `request`: Host first (RFC 9110 §7.2), then User-Agent and Accept
/// unless given, the caller's fields, and Content-Length for a body (RFC 9110 §8.6: also `0`
/// for a POST, PUT or PATCH without one).
fn request_head(request: &Request) -> Result<RequestHead, ClientError> {
    let given = &request.headers;
    if given.contains("transfer-encoding") {
        return Err(ClientError::InvalidRequest(
            "Transfer-Encoding is not supported: request bodies go with Content-Length",
        ));
    }
    let body_len = request.body.as_ref().map_or(0, |body| body.len() as u64);
    match given.content_length() {
        Ok(None) => {}
        Ok(Some(len)) if len == body_len => {}
        _ => {
            return Err(ClientError::InvalidRequest(
                "Content-Length differs from the body's length",
            ));
        }
    }
    let mut head = RequestHead::new(request.method.clone(), request.url.target());
    match given.get_bytes("host") {
        Some(host) => head.headers.append("Host", host),
        None => head.headers.append("Host", request.url.authority()),
    }
    if !given.contains("user-agent") {
        head.headers.append("User-Agent", USER_AGENT);
    }
    if !given.contains("accept") {
        head.headers.append("Accept", "*/*");
    }
    for field in given
        .iter()
        .filter(|f| !f.name().eq_ignore_ascii_case("host"))
    {
        head.headers.append(field.name(), field.value());
    }
    let wants_length = matches!(request.method, Method::Post | Method::Put | Method::Patch);
    if !given.contains("content-length") && (request.body.is_some() || wants_length) {
        head.headers.append("Content-Length", body_len.to_string());
    }
    Ok(head)
}

/// A response whose head has arrived and whose body is read with [`ResponseStream::chunk`].
/// Read to the end, its connection goes back to the pool; dropped early, it is closed.
pub struct ResponseStream {
    head: ResponseHead,
    url: Url,
    redirects: u32,
    conn: Option<Connection>,
    shared: Arc<Shared>,
    key: PoolKey,
    /// The request did not say `Connection: close`.
    reusable: bool,
    trailers: Headers,
    received: u64,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("head", &self.head)
            .field("url", &self.url)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl ResponseStream {
    pub fn head(&self) -> &ResponseHead {
        &self.head
    }

    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn redirects(&self) -> u32 {
        self.redirects
    }

    /// The announced body length, if the response has a valid Content-Length.
    pub fn content_length(&self) -> Option<u64> {
        self.head.headers.content_length().ok().flatten()
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Trailer fields, once the body has ended.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// The next piece of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            let event = match conn.next_event().await {
                Ok(event) => event,
                Err(error) => {
                    self.conn = None;
                    return Err(error);
                }
            };
            match event {
                ResponseEvent::Body(data) if data.is_empty() => {}
                ResponseEvent::Body(data) => {
                    self.received += data.len() as u64;
                    return Ok(Some(data));
                }
                ResponseEvent::End { trailers } => {
                    self.trailers = trailers;
                    self.release();
                    return Ok(None);
                }
                _ => {
                    let peer = conn.peer();
                    self.conn = None;
                    return Err(ClientError::Protocol {
                        peer,
                        source: crate::proto::HttpError::UnexpectedResponse,
                    });
                }
            }
        }
    }

    /// Reads the rest of the body, handing each piece to `on_chunk`; returns the bytes read.
    pub async fn for_each_chunk(
        &mut self,
        mut on_chunk: impl FnMut(&[u8]),
    ) -> Result<u64, ClientError> {
        while let Some(data) = self.chunk().await? {
            on_chunk(&data);
        }
        Ok(self.received)
    }

    /// Reads the rest of the body into memory, at most `max_body` bytes.
    pub async fn into_response(mut self, max_body: u64) -> Result<Response, ClientError> {
        let mut body = Vec::new();
        while let Some(data) = self.chunk().await? {
            if body.len() as u64 + data.len() as u64 > max_body {
                return Err(ClientError::BodyTooLarge { max: max_body });
            }
            body.extend_from_slice(&data);
        }
        let head = std::mem::replace(&mut self.head, ResponseHead::new(200));
        Ok(Response {
            status: head.status,
            reason: head.reason,
            version: head.version,
            headers: head.headers,
            body,
            trailers: std::mem::take(&mut self.trailers),
            url: self.url.clone(),
            redirects: self.redirects,
        })
    }

    /// Reads and drops a short body so the connection can be reused; a long one closes it.
    async fn discard(mut self) {
        while let Ok(Some(_)) = self.chunk().await {
            if self.received > MAX_DRAIN {
                return;
            }
        }
    }

    /// The body ended: the connection goes back to the pool if it persists.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.keep_alive()
        {
            self.shared.pool.put(self.key.clone(), conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(request: Request) -> String {
        let head = request_head(&request).unwrap();
        String::from_utf8(head.encode().unwrap()).unwrap()
    }

    #[test]
    fn request_heads_carry_host_agent_and_length() {
        let get = head_of(Request::get("http://Example.com:8080/a?b").unwrap());
        assert_eq!(
            get,
            format!(
                "GET /a?b HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n\r\n"
            )
        );
        let post = head_of(
            Request::new(Method::Post, Url::parse("https://h/").unwrap())
                .header("Content-Type", "text/plain")
                .body("hi"),
        );
        assert!(post.starts_with("POST / HTTP/1.1\r\nHost: h\r\n"), "{post}");
        assert!(post.ends_with("Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n"));
        let empty_put = head_of(Request::new(Method::Put, Url::parse("http://h/").unwrap()));
        assert!(empty_put.contains("Content-Length: 0\r\n"), "{empty_put}");
    }

    #[test]
    fn caller_fields_replace_defaults() {
        let head = head_of(
            Request::get("http://[::1]:81/")
                .unwrap()
                .header("host", "other.example")
                .header("User-Agent", "curl/8")
                .header("Accept", "text/html"),
        );
        assert_eq!(
            head,
            "GET / HTTP/1.1\r\nHost: other.example\r\nUser-Agent: curl/8\r\nAccept: text/html\r\n\r\n"
        );
        assert!(head_of(Request::get("http://[::1]:81/").unwrap()).contains("Host: [::1]:81\r\n"));
    }

    #[test]
    fn framing_the_caller_cannot_set() {
        let chunked = Request::get("http://h/")
            .unwrap()
            .header("Transfer-Encoding", "chunked");
        assert!(matches!(
            request_head(&chunked),
            Err(ClientError::InvalidRequest(_))
        ));
        let lying = Request::get("http://h/")
            .unwrap()
            .header("Content-Length", "5")
            .body("hi");
        assert!(matches!(
            request_head(&lying),
            Err(ClientError::InvalidRequest(_))
        ));
        let honest = Request::get("http://h/")
            .unwrap()
            .header("Content-Length", "2")
            .body("hi");
        assert!(request_head(&honest).is_ok());
    }

    #[test]
    fn ranges_are_asked_for() {
        let head = head_of(Request::get("http://h/f").unwrap().range(0, Some(99)));
        assert!(head.contains("Range: bytes=0-99\r\n"), "{head}");
    }
}
