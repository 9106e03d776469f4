//! The tracker's tokio driver: HTTP announces and scrapes over TCP (through appnet-http's
//! sans-IO [`ServerConn`], so request framing follows RFC 9112 with its limits) and BEP 15 over
//! UDP, on one port, sharing one [`Registry`]; and a sweep that forgets silent peers.
//!
//! The registry sits behind a mutex held only while the sans-IO core answers one request
//! (never across an await), so HTTP connections and the UDP loop interleave freely.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::{accept_connections, bind_udp_and_tcp};
use appnet_core::trace::{Role, TraceScope, Tracer};
use appnet_http::proto::{Event, Method, Request, ResponseHead, ServerConn, error_response};
use appnet_http::semantics::format_http_date;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::InfoHash;
use super::http::{self, HttpReply};
use super::swarm::{Registry, SwarmConfig, SwarmStats};
use super::udp::{self, ConnectionIds, MAX_REQUEST_LEN};
use crate::config::TrackerConfig;

/// The `Server` field of HTTP answers.
const SERVER: &str = concat!("appnet-tracker/", env!("CARGO_PKG_VERSION"));
/// Bytes read from a connection at a time (requests are one short GET).
const READ_CHUNK: usize = 8 * 1024;
/// The sweep runs at least this often, so memory is returned even with a long interval.
const MAX_SWEEP_PERIOD: Duration = Duration::from_secs(60);

/// How the HTTP side bounds its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 1024,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// A tracker: the registry, the UDP connection-ID secret, and the trace. Clones share them.
#[derive(Clone)]
pub struct Tracker {
    shared: Arc<Shared>,
}

struct Shared {
    registry: Mutex<Registry>,
    ids: ConnectionIds,
    limits: HttpLimits,
    tracer: Tracer,
}

impl Tracker {
    pub fn new(swarm: SwarmConfig, limits: HttpLimits, tracer: Tracer) -> Tracker {
        Tracker {
            shared: Arc::new(Shared {
                registry: Mutex::new(Registry::new(swarm)),
                ids: ConnectionIds::random(Instant::now()),
                limits,
                tracer,
            }),
        }
    }

    /// A tracker configured by `config` (its `listen` is the caller's to bind).
    pub fn from_config(config: &TrackerConfig, tracer: Tracer) -> Tracker {
        let limits = HttpLimits {
            max_connections: config.max_connections,
            idle_timeout: config.idle_timeout.0,
        };
        Tracker::new(config.swarm_config(), limits, tracer)
    }

    /// Serves HTTP on `http` and BEP 15 on `udp` (either may be absent) until `shutdown`.
    pub async fn run(
        &self,
        http: Option<TcpListener>,
        udp: Option<UdpSocket>,
        shutdown: Shutdown,
    ) -> io::Result<()> {
        let http = async {
            match http {
                Some(listener) => self.serve_http(listener, shutdown.clone()).await,
                None => Ok(()),
            }
        };
        let udp = async {
            match udp {
                Some(socket) => self.serve_udp(socket, shutdown.clone()).await,
                None => Ok(()),
            }
        };
        tokio::try_join!(http, udp, self.sweep(shutdown.clone()))?;
        Ok(())
    }

    /// The counts of one swarm now (for tests and the dashboard).
    pub fn scrape(&self, info_hash: &InfoHash) -> SwarmStats {
        self.registry().scrape(info_hash)
    }

    /// Peers registered now, in all swarms.
    pub fn peer_count(&self) -> usize {
        self.registry().peer_count()
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves a registry that is still consistent enough to
        // serve: every update is a few field writes.
        self.shared
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Expires silent peers every half interval (at most every [`MAX_SWEEP_PERIOD`]).
    async fn sweep(&self, shutdown: Shutdown) -> io::Result<()> {
        let period =
            (self.registry().config().interval / 2).clamp(Duration::from_secs(1), MAX_SWEEP_PERIOD);
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = ticks.tick() => {
                    let gone = self.registry().expire(Instant::now());
                    if gone > 0 {
                        tracing::debug!("tracker forgot {gone} silent peers");
                    }
                }
            }
        }
    }

    async fn serve_udp(&self, socket: UdpSocket, shutdown: Shutdown) -> io::Result<()> {
        let local = socket.local_addr()?;
        let mut buf = vec![0u8; MAX_REQUEST_LEN];
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                received = socket.recv_from(&mut buf) => received,
            };
            let (len, client) = match received {
                Ok(received) => received,
                Err(error) => {
                    // An ICMP error for an earlier reply, or a transient failure: not fatal.
                    tracing::debug!(%local, "tracker udp receive error: {error}");
                    continue;
                }
            };
            let datagram = &buf[..len];
            let exchange = udp::answer(
                &self.shared.ids,
                &mut self.registry(),
                datagram,
                client,
                Instant::now(),
            );
            let trace = self
                .shared
                .tracer
                .scope("tracker", Role::Server, local, client);
            trace.received(datagram, || {
                let reason = exchange.drop_reason();
                let summary = exchange.request_summary();
                if reason.is_empty() {
                    summary
                } else {
                    format!("{summary} ({reason})")
                }
            });
            let Some(reply) = exchange.reply else {
                continue;
            };
            let bytes = reply.encode();
            match socket.send_to(&bytes, client).await {
                Ok(_) => trace.sent(&bytes, || reply.to_string()),
                Err(error) => tracing::debug!(%client, "tracker udp send error: {error}"),
            }
        }
    }

    async fn serve_http(&self, listener: TcpListener, shutdown: Shutdown) -> io::Result<()> {
        let limits = self.shared.limits;
        accept_connections(
            listener,
            limits.max_connections,
            shutdown,
            "tracker",
            |stream, peer| {
                let tracker = self.clone();
                async move { tracker.serve_connection(stream, peer).await }
            },
        )
        .await
    }

    async fn serve_connection(self, mut stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let trace = self
            .shared
            .tracer
            .scope("tracker", Role::Server, local, peer);
        let mut conn = ServerConn::default();
        let mut current: Option<Request> = None;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            while let Some(event) = conn.poll_event() {
                match event {
                    Event::Request(request) => current = Some(request),
                    // A GET has no body to wait for; any body is read and dropped.
                    Event::Continue | Event::Body(_) => {}
                    Event::End { .. } => {
                        if let Some(request) = current.take() {
                            let (head, body) = self.answer(&request, peer, &trace);
                            write_response(&mut stream, &mut conn, head, &body).await?;
                        }
                    }
                    Event::Error(error) => {
                        let head = error_response(&error);
                        stream
                            .write_all(&head.encode().map_err(io::Error::other)?)
                            .await?;
                        trace.sent(&[], || {
                            format!("{} {} (bad HTTP: {error})", head.status, head.reason)
                        });
                        return stream.shutdown().await;
                    }
                }
            }
            if conn.is_closed() {
                return stream.shutdown().await;
            }
            let capacity = conn.input_capacity().clamp(1, READ_CHUNK);
            let read = stream.read(&mut buf[..capacity]);
            let Ok(read) = tokio::time::timeout(self.shared.limits.idle_timeout, read).await else {
                // Idle between requests, or too slow within one (RFC 9112 §9.5).
                return Ok(());
            };
            match read? {
                0 => conn.feed_eof(),
                n => conn.feed(&buf[..n]),
            }
        }
    }

    /// The response to one complete request.
    fn answer(
        &self,
        request: &Request,
        peer: SocketAddr,
        trace: &TraceScope,
    ) -> (ResponseHead, Vec<u8>) {
        if request.method != Method::Get {
            trace.received(request.target.as_bytes(), || {
                format!("{} {}", request.method.as_str(), request.target)
            });
            let body = b"a tracker answers GET /announce and GET /scrape\n".to_vec();
            let mut head = response_head(405, "text/plain", body.len());
            head.headers.append("Allow", "GET");
            trace.sent(&body, || "405 Method Not Allowed".to_owned());
            return (head, body);
        }
        let parsed = http::parse_target(&request.target);
        trace.received(request.target.as_bytes(), || match &parsed {
            Ok(request) => request.to_string(),
            Err(error) => format!("GET {}: {error}", request.target),
        });
        let HttpReply {
            status,
            body,
            outcome,
        } = http::respond(&mut self.registry(), &parsed, peer, Instant::now());
        trace.sent(&body, || outcome.to_string());
        // Bencoded answers go as text/plain, as BEP 3 trackers always have.
        (response_head(status, "text/plain", body.len()), body)
    }
}

fn response_head(status: u16, content_type: &str, len: usize) -> ResponseHead {
    ResponseHead::new(status)
        .with_header("Date", format_http_date(SystemTime::now()))
        .with_header("Server", SERVER)
        .with_header("Content-Type", content_type)
        .with_header("Content-Length", len.to_string())
        // A tracker's answer is for this client at this moment.
        .with_header("Cache-Control", "no-store")
}

async fn write_response(
    stream: &mut TcpStream,
    conn: &mut ServerConn,
    mut head: ResponseHead,
    body: &[u8],
) -> io::Result<()> {
    conn.prepare_response(&mut head);
    let mut out = head.encode().map_err(io::Error::other)?;
    out.extend_from_slice(body);
    stream.write_all(&out).await?;
    conn.response_done();
    Ok(())
}

/// A TCP listener and a UDP socket on the same address (port 0: one free port for both).
pub async fn bind(listen: SocketAddr) -> io::Result<(TcpListener, UdpSocket)> {
    let (udp, tcp) = bind_udp_and_tcp(listen).await?;
    Ok((tcp, udp))
}

/// Binds `config.listen` for HTTP and UDP and serves until `shutdown`: what
/// `appnet torrent track` runs.
pub async fn serve(config: &TrackerConfig, tracer: Tracer, shutdown: Shutdown) -> io::Result<()> {
    let (tcp, udp) = bind(config.listen).await?;
    Tracker::from_config(config, tracer)
        .run(Some(tcp), Some(udp), shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::tracker::udp::Request as UdpRequest;
    use crate::tracker::udp::Response as UdpResponse;

    async fn start() -> (
        SocketAddr,
        Shutdown,
        tokio::task::JoinHandle<io::Result<()>>,
    ) {
        let (tcp, udp) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let tracker = Tracker::new(SwarmConfig::default(), HttpLimits::default(), Tracer::off());
        let shutdown = Shutdown::new();
        let task = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { tracker.run(Some(tcp), Some(udp), shutdown).await }
        });
        (addr, shutdown, task)
    }

    #[tokio::test]
    async fn udp_survives_garbage_and_answers_a_connect() {
        let (addr, shutdown, task) = start().await;
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        for junk in [&b""[..], b"x", &[0xff; 15], &[0; 3000]] {
            client.send(junk).await.unwrap();
        }
        client
            .send(&UdpRequest::Connect { transaction_id: 7 }.encode())
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let len = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let reply = UdpResponse::decode(&buf[..len], false).unwrap();
        assert!(matches!(
            reply,
            UdpResponse::Connect {
                transaction_id: 7,
                ..
            }
        ));
        shutdown.cancel();
        task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn http_answers_pipelined_requests_in_order_then_closes() {
        let (addr, shutdown, task) = start().await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let hash = "%01".repeat(20);
        let requests = format!(
            "GET /scrape?info_hash={hash} HTTP/1.1\r\nHost: t\r\n\r\n\
             POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\
             GET /nothing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(requests.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&answer);
        // Bodies carry no line end, so find each status line by its start.
        let statuses: Vec<&str> = text
            .split("HTTP/1.1 ")
            .skip(1)
            .map(|rest| rest.get(..3).unwrap_or(rest))
            .collect();
        assert_eq!(statuses, ["200", "405", "404"], "{text}");
        assert!(text.contains("d5:filesd20:"), "{text}");
        shutdown.cancel();
        task.await.unwrap().unwrap();
    }
}
