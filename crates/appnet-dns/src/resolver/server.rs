//! The tokio driver of the recursive resolver: UDP and TCP listeners that check each received
//! query ([`respond::accept`]), resolve it on its own task by stepping a [`Resolution`] and
//! sending the queries it asks for with [`client::query`], and send back the reply.
//!
//! RFC 1035 §4.2 (UDP and TCP), RFC 7766 §6.2 (many queries per TCP connection, answered as
//! they complete; idle connections closed; bounded connections), RFC 5452 §9.2 (every upstream
//! query from a fresh socket with a kernel-chosen random port: [`client::query`] does that),
//! RFC 5358 (the ACL is checked before any work), RFC 8767 (a stale answer at the deadline).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::authority::Transport;
use crate::client::{self, QueryOptions};
use crate::config::ResolverConfig;
use crate::listen;
use crate::tcp::{FrameDecoder, frame};
use crate::udp_batch::{self, RecvBatch};
use crate::wire::{Message, Name, Question, Rcode, RecordType};
use appnet_core::net::TcpLimits;

use super::cache::Cache;
use super::hints::{Hints, HintsError};
use super::iterate::{Answer, Outcome, Resolution, ResolveError, Step};
use super::respond::{self, ClientQuery, Incoming, Reply};

/// How long one client question may take, all upstream queries included; then the answer is
/// stale data or SERVFAIL. Stub resolvers give up after about 5–10 s anyway.
pub const QUERY_DEADLINE: Duration = Duration::from_secs(10);
/// Resolutions under way at once; a query beyond that gets SERVFAIL at once rather than
/// queueing behind work that may take the full deadline.
pub const MAX_RESOLUTIONS: usize = 1000;
/// Queries of one TCP connection resolved at once (RFC 7766 §6.2.1.1 pipelining); the
/// connection is not read further until one completes.
const MAX_PIPELINED: usize = 32;

/// The resolver: its configuration, root hints and the shared cache.
pub struct Resolver {
    config: ResolverConfig,
    hints: Hints,
    /// Locked only for a `poll` or a cache lookup, never across an await.
    cache: Mutex<Cache>,
    resolutions: Semaphore,
}

impl Resolver {
    /// A resolver as the config says, reading its root hints file if one is named; upstream
    /// name servers listen on `upstream_port`.
    pub fn new(config: ResolverConfig, upstream_port: u16) -> Result<Resolver, HintsError> {
        let hints = Hints::from_config(&config, upstream_port)?;
        Ok(Resolver::with_hints(config, hints))
    }

    /// A resolver starting from `hints`.
    pub fn with_hints(config: ResolverConfig, hints: Hints) -> Resolver {
        Resolver {
            cache: Mutex::new(Cache::new(config.cache_size)),
            config,
            hints,
            resolutions: Semaphore::new(MAX_RESOLUTIONS),
        }
    }

    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    pub fn hints(&self) -> &Hints {
        &self.hints
    }

    /// Entries in the cache now.
    pub fn cache_len(&self) -> usize {
        self.cache().len()
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves `name`/`qtype` for a program rather than a client (the mail server's MX
    /// lookups): `Ok` with a positive or negative (NXDOMAIN, NODATA) answer, `Err` when the
    /// resolution failed and nothing stale was cached.
    pub async fn resolve(
        &self,
        name: &Name,
        qtype: RecordType,
        tracer: &Tracer,
    ) -> Result<Answer, ResolveError> {
        let answer = self
            .answer(Question::new(name.clone(), qtype), tracer)
            .await;
        match answer.outcome {
            Outcome::Failed(error) => Err(error),
            _ => Ok(answer),
        }
    }

    /// Resolves `question` within [`QUERY_DEADLINE`].
    pub async fn answer(&self, question: Question, tracer: &Tracer) -> Answer {
        let deadline = Instant::now() + QUERY_DEADLINE;
        let mut resolution = Resolution::new(question, &self.hints);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return resolution.give_up(ResolveError::Deadline, &mut self.cache(), now);
            }
            let step = resolution.poll(&mut self.cache(), now);
            let (server, query) = match step {
                Step::Done(answer) => return answer,
                Step::Query { server, query } => (server, query),
            };
            let left = deadline.saturating_duration_since(now);
            match self.ask(server, &query, left, tracer).await {
                Some(response) => resolution.on_response(server, response),
                None => resolution.on_timeout(server),
            }
        }
    }

    /// One upstream query, without retries: the state machine moves on to another server
    /// instead (and comes back for a second round only after the others).
    async fn ask(
        &self,
        server: SocketAddr,
        query: &Message,
        left: Duration,
        tracer: &Tracer,
    ) -> Option<Message> {
        let options = QueryOptions {
            timeout: self.config.upstream_timeout.0.min(left),
            retries: 0,
            tcp: false,
        };
        // The outer timeout bounds a TC=1 answer's TCP retry too.
        let exchange =
            tokio::time::timeout(left, client::query(server, query, options, tracer)).await;
        match exchange {
            Ok(Ok(exchange)) => Some(exchange.response),
            Ok(Err(error)) => {
                tracing::debug!(%server, "dns resolver upstream: {error}");
                None
            }
            Err(_) => None,
        }
    }

    /// The reply to one received message (`None`: send nothing).
    pub async fn handle(
        &self,
        bytes: &[u8],
        peer: SocketAddr,
        transport: Transport,
        tracer: &Tracer,
    ) -> Option<Reply> {
        match respond::accept(bytes, peer.ip(), transport, &self.config.allow) {
            Incoming::Ignore => None,
            Incoming::Reply(reply) => Some(reply),
            Incoming::Resolve(client) => Some(self.serve(&client, tracer).await),
        }
    }

    /// The reply from fresh cache data alone, if the cache holds the whole answer.
    pub fn cached_reply(&self, client: &ClientQuery) -> Option<Reply> {
        let answer = Resolution::from_cache(client.question(), &mut self.cache(), Instant::now())?;
        Some(client.reply(&answer))
    }

    /// Answers an accepted query: from the cache when it holds the answer, else by resolving
    /// (only when RD is set: a query without RD that misses the cache is REFUSED).
    pub async fn serve(&self, client: &ClientQuery, tracer: &Tracer) -> Reply {
        if let Some(reply) = self.cached_reply(client) {
            return reply;
        }
        if !client.recursion_desired() {
            return client.error(Rcode::REFUSED);
        }
        let Ok(_permit) = self.resolutions.try_acquire() else {
            return client.error(Rcode::SERVFAIL);
        };
        let answer = self.answer(client.question().clone(), tracer).await;
        client.reply(&answer)
    }
}

/// Answers queries arriving on `socket` until `shutdown`, a batch at a time ([`listen`]): most
/// answers come straight from the cache and go out in one batched send. A query the cache cannot
/// answer gets a tokio task of its own, so one slow upstream never holds up the others.
pub async fn serve_udp(
    socket: UdpSocket,
    resolver: Arc<Resolver>,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    let local = socket.local_addr()?;
    let runtime = tokio::runtime::Handle::current();
    let stop = shutdown.clone();
    listen::serve_datagrams(socket, stop, "dns resolver", move |socket, batch| {
        let context = BatchContext {
            socket,
            local,
            resolver: &resolver,
            tracer: &tracer,
            shutdown: &shutdown,
            runtime: &runtime,
        };
        context.answer(batch);
    })
    .await
}

/// What answering one batch of datagrams needs.
struct BatchContext<'a> {
    socket: &'a Arc<std::net::UdpSocket>,
    local: SocketAddr,
    resolver: &'a Arc<Resolver>,
    tracer: &'a Tracer,
    shutdown: &'a Shutdown,
    runtime: &'a tokio::runtime::Handle,
}

impl BatchContext<'_> {
    fn answer(&self, batch: &RecvBatch) {
        let mut replies: Vec<(Reply, SocketAddr, TraceScope)> =
            Vec::with_capacity(udp_batch::BATCH);
        for (query, peer) in batch.datagrams() {
            let trace = self.tracer.scope("dns", Role::Server, self.local, peer);
            trace.received(query, || crate::wire::text::summarize_wire(query));
            // The ACL and the checks come first, before any work is spent on the query.
            let client = match respond::accept(
                query,
                peer.ip(),
                Transport::Udp,
                &self.resolver.config.allow,
            ) {
                Incoming::Ignore => continue,
                Incoming::Reply(reply) => {
                    replies.push((reply, peer, trace));
                    continue;
                }
                Incoming::Resolve(client) => client,
            };
            match self.resolver.cached_reply(&client) {
                Some(reply) => replies.push((reply, peer, trace)),
                None => self.resolve_in_background(client, peer, trace),
            }
        }
        let datagrams: Vec<(&[u8], SocketAddr)> = replies
            .iter()
            .map(|(reply, peer, _)| (&reply.bytes[..], *peer))
            .collect();
        udp_batch::send_batch(self.socket, &datagrams);
        for (reply, _, trace) in &replies {
            trace.sent(&reply.bytes, || reply.summary());
        }
    }

    fn resolve_in_background(&self, client: ClientQuery, peer: SocketAddr, trace: TraceScope) {
        let (socket, resolver, tracer, shutdown) = (
            self.socket.clone(),
            self.resolver.clone(),
            self.tracer.clone(),
            self.shutdown.clone(),
        );
        self.runtime.spawn(async move {
            let reply = tokio::select! {
                () = shutdown.cancelled() => return,
                reply = resolver.serve(&client, &tracer) => reply,
            };
            send_udp(&socket, &reply, peer, &trace);
        });
    }
}

fn send_udp(socket: &std::net::UdpSocket, reply: &Reply, peer: SocketAddr, trace: &TraceScope) {
    if let Err(err) = socket.send_to(&reply.bytes, peer) {
        tracing::debug!(%peer, "dns resolver udp send error: {err}");
    }
    trace.sent(&reply.bytes, || reply.summary());
}

/// Accepts TCP connections until `shutdown`, each carrying any number of queries.
pub async fn serve_tcp(
    listener: TcpListener,
    resolver: Arc<Resolver>,
    limits: TcpLimits,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    let connections = shutdown.clone();
    appnet_core::net::accept_connections(
        listener,
        limits.max_connections,
        connections,
        "dns resolver",
        move |stream, peer| {
            let connection = Connection {
                resolver: resolver.clone(),
                peer,
                idle_timeout: limits.idle_timeout,
                tracer: tracer.clone(),
                shutdown: shutdown.clone(),
            };
            connection.serve(stream)
        },
    )
    .await
}

/// One TCP client connection.
struct Connection {
    resolver: Arc<Resolver>,
    peer: SocketAddr,
    idle_timeout: Duration,
    tracer: Tracer,
    shutdown: Shutdown,
}

/// A reply and the pipelining slot it frees once written.
type Outgoing = (Reply, OwnedSemaphorePermit);

impl Connection {
    /// Reads queries and writes replies as they complete, in any order (RFC 7766 §6.2.1.1).
    /// A slot is held from reading a query until its reply is written, so at most
    /// [`MAX_PIPELINED`] replies are pending and the channel never fills.
    async fn serve(self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let trace = self
            .tracer
            .scope("dns", Role::Server, stream.local_addr()?, self.peer);
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Outgoing>(MAX_PIPELINED);
        let slots = Arc::new(Semaphore::new(MAX_PIPELINED));
        let mut frames = FrameDecoder::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut open = true;
        // When the message being received began to arrive: it must be complete within the idle
        // timeout of its first byte, so a client trickling bytes cannot hold the connection.
        let mut message_started: Option<Instant> = None;
        loop {
            if self.start_queries(&mut frames, &slots, &tx, &trace)? > 0 {
                message_started = None;
            }
            message_started = frames
                .is_mid_message()
                .then(|| message_started.unwrap_or_else(Instant::now));
            let read_deadline = message_started.unwrap_or_else(Instant::now) + self.idle_timeout;
            let pending = slots.available_permits() < MAX_PIPELINED;
            if !open && !pending {
                return Ok(());
            }
            let can_read = open && slots.available_permits() > 0;
            tokio::select! {
                Some((reply, permit)) = rx.recv() => {
                    writer.write_all(&frame(&reply.bytes)).await?;
                    trace.sent(&reply.bytes, || reply.summary());
                    drop(permit);
                }
                read = tokio::time::timeout_at(read_deadline.into(), reader.read(&mut buf)), if can_read => match read {
                    // RFC 7766 §6.2.3: close an idle connection, but not while answers are due.
                    Err(_) if pending => {}
                    Err(_) => return Ok(()),
                    Ok(read) => match read? {
                        0 => open = false,
                        read => frames.feed(buf.get(..read).unwrap_or_default()),
                    },
                },
            }
        }
    }

    /// Starts every complete query in the buffer for which a slot is free; returns how many.
    fn start_queries(
        &self,
        frames: &mut FrameDecoder,
        slots: &Arc<Semaphore>,
        tx: &mpsc::Sender<Outgoing>,
        trace: &TraceScope,
    ) -> io::Result<usize> {
        let mut started = 0;
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            let next = frames
                .next_message()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            let Some(query) = next else {
                return Ok(started);
            };
            started += 1;
            trace.received(&query, || crate::wire::text::summarize_wire(&query));
            let (resolver, tracer, tx, peer) = (
                self.resolver.clone(),
                self.tracer.clone(),
                tx.clone(),
                self.peer,
            );
            let shutdown = self.shutdown.clone();
            tokio::spawn(async move {
                let reply = tokio::select! {
                    () = shutdown.cancelled() => return,
                    reply = resolver.handle(&query, peer, Transport::Tcp, &tracer) => reply,
                };
                if let Some(reply) = reply {
                    // An error means the connection is gone; nobody is waiting any more.
                    let _ = tx.send((reply, permit)).await;
                }
            });
        }
        Ok(started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::AuthorityOptions;
    use crate::mini;
    use crate::server::{Authority, ZoneSource};
    use crate::wire::{Edns, RData};
    use std::net::{IpAddr, Ipv4Addr};

    /// The mini Internet's three name servers, each on its own loopback address and all on one
    /// free port (picked on the root's address, then taken on the others).
    async fn start_mini_internet(shutdown: &Shutdown) -> u16 {
        for _ in 0..20 {
            let Ok(root) = UdpSocket::bind((mini::ROOT_IP, 0)).await else {
                continue;
            };
            let Ok(port) = root.local_addr().map(|local| local.port()) else {
                continue;
            };
            let mut sockets = vec![root];
            for ip in [mini::TLD_IP, mini::AUTH_IP] {
                if let Ok(socket) = UdpSocket::bind((ip, port)).await {
                    sockets.push(socket);
                }
            }
            if sockets.len() < 3 {
                continue;
            }
            for (socket, server) in sockets.into_iter().zip(mini::servers(port)) {
                let sources = server
                    .zones
                    .into_iter()
                    .map(|(origin, text)| ZoneSource::Text {
                        origin: Name::from_ascii(origin).unwrap(),
                        text,
                    })
                    .collect();
                let (authority, _) = Authority::load(sources, AuthorityOptions::default()).unwrap();
                let serving = crate::server::serve_udp(
                    socket,
                    Arc::new(authority),
                    Tracer::off(),
                    shutdown.clone(),
                );
                tokio::spawn(serving);
            }
            return port;
        }
        panic!("no port free on 127.0.0.2-4");
    }

    fn resolver_for(port: u16) -> Arc<Resolver> {
        let config = ResolverConfig {
            upstream_timeout: appnet_core::config::Seconds(Duration::from_secs(2)),
            ..ResolverConfig::default()
        };
        let hints = Hints {
            servers: vec![SocketAddr::new(IpAddr::V4(mini::ROOT_IP), port)],
            port,
        };
        Arc::new(Resolver::with_hints(config, hints))
    }

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[tokio::test]
    async fn resolves_the_mini_internet_through_real_sockets() {
        let shutdown = Shutdown::new();
        let port = start_mini_internet(&shutdown).await;
        let resolver = resolver_for(port);
        let tracer = Tracer::off();

        let www = resolver
            .resolve(&name("www.alpha.example."), RecordType::A, &tracer)
            .await
            .unwrap();
        let addresses: Vec<&RData> = www.final_records().map(|record| &record.rdata).collect();
        assert_eq!(addresses, [&RData::A(Ipv4Addr::LOCALHOST)]);
        assert_eq!(www.queries, 3, "root, example., alpha.example.");

        let mx = resolver
            .resolve(&name("alpha.example."), RecordType::MX, &tracer)
            .await
            .unwrap();
        let exchanges: Vec<String> = mx
            .final_records()
            .map(|record| record.rdata.to_string())
            .collect();
        assert_eq!(exchanges, ["10 mail.alpha.example."]);
        assert_eq!(
            mx.queries, 1,
            "straight to the cached alpha.example. server"
        );

        let missing = resolver
            .resolve(&name("nope.beta.example."), RecordType::A, &tracer)
            .await
            .unwrap();
        assert_eq!(missing.outcome, Outcome::NxDomain);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn serves_clients_over_udp_and_tcp() {
        let shutdown = Shutdown::new();
        let port = start_mini_internet(&shutdown).await;
        let resolver = resolver_for(port);
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let (udp_at, tcp_at) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        tokio::spawn(serve_udp(
            udp,
            resolver.clone(),
            Tracer::off(),
            shutdown.clone(),
        ));
        let limits = TcpLimits {
            max_connections: 8,
            idle_timeout: Duration::from_secs(5),
        };
        tokio::spawn(serve_tcp(
            tcp,
            resolver.clone(),
            limits,
            Tracer::off(),
            shutdown.clone(),
        ));
        let ask = |server: SocketAddr, qname: &str, rd: bool, tcp: bool| {
            let query = Message::query(
                client::random_id(),
                name(qname),
                RecordType::A,
                rd,
                Some(Edns::new(1232)),
            );
            let options = QueryOptions {
                timeout: Duration::from_secs(5),
                retries: 0,
                tcp,
            };
            async move {
                client::query(server, &query, options, &Tracer::off())
                    .await
                    .unwrap()
                    .response
            }
        };

        // RD clear and nothing cached: refused, not resolved.
        let cold = ask(udp_at, "web.alpha.example.", false, false).await;
        assert_eq!(cold.rcode(), Rcode::REFUSED);

        let reply = ask(udp_at, "web.alpha.example.", true, false).await;
        assert_eq!(reply.rcode(), Rcode::NOERROR);
        assert!(reply.header.ra && !reply.header.aa);
        assert_eq!(reply.answers.len(), 2, "the CNAME and the address");

        let cached = ask(udp_at, "web.alpha.example.", false, false).await;
        assert_eq!(cached.answers.len(), 2, "RD clear: from the cache");

        let over_tcp = ask(tcp_at, "www.beta.example.", true, true).await;
        assert_eq!(over_tcp.answers.len(), 1);
        assert!(resolver.cache_len() > 0);
        shutdown.cancel();
    }
}
