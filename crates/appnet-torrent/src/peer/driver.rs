//! The tokio driver of a peer: one task owns the [`Torrent`] and everything it decides; each
//! connection has a reader task (bytes → messages, held to the download limit) and a writer
//! task (messages → bytes). Connections come from the listener and from the peers the
//! tracker names; the tracker is announced to on start, every interval, on completion and on
//! the way out (BEP 3's `started`, `completed`, `stopped`).
//!
//! Upload and download limits are token buckets: uploads are served only while the upload
//! bucket and the peer's send queue allow; a reader waits for download tokens before it takes
//! the next block, which slows the sender through TCP's own flow control.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::listen_reusing;
use appnet_core::sync::lock;
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use super::rate::TokenBucket;
use super::torrent::{Action, PeerKey, Torrent};
use crate::metainfo::InfoHash;
use crate::tracker::announce::{ClientOptions, TrackerClient};
use crate::tracker::client::AnnounceParams;
use crate::tracker::swarm::Event as AnnounceEvent;
use crate::wire::{
    ExtendedHandshake, Handshake, HandshakeDecoder, Message, MessageDecoder, PeerId,
};

/// Connections at most, in and out together.
pub const MAX_PEERS: usize = 50;
/// How long a connect and handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes queued to one peer's socket before uploads to it wait.
const SEND_QUEUE: usize = 256 * 1024;
/// A connection silent this long is dropped (BEP 3: keep-alives come every two minutes).
const IDLE: Duration = Duration::from_secs(180);
const KEEP_ALIVE: Duration = Duration::from_secs(100);
const TICK: Duration = Duration::from_millis(100);
/// Bytes gathered into one write at most.
const WRITE_BATCH: usize = 256 * 1024;

/// How a peer runs.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Where to accept connections; its address is also where outgoing ones come from, and
    /// what the tracker is told.
    pub listen: SocketAddr,
    pub upload_limit: Option<u64>,
    pub download_limit: Option<u64>,
    /// Stop once the download is complete (rather than go on seeding).
    pub stop_when_complete: bool,
    /// Peers to connect to besides those the tracker names.
    pub peers: Vec<SocketAddr>,
    pub max_peers: usize,
    /// The announce interval to use instead of the tracker's (experiments).
    pub announce_every: Option<Duration>,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            upload_limit: None,
            download_limit: None,
            stop_when_complete: false,
            peers: Vec::new(),
            max_peers: MAX_PEERS,
            announce_every: None,
        }
    }
}

/// What the torrent is and where its trackers are.
#[derive(Debug, Clone)]
pub struct Identity {
    pub info_hash: InfoHash,
    pub piece_count: u32,
    pub total_length: u64,
    /// Announce URLs, tried in order.
    pub trackers: Vec<String>,
}

/// A snapshot for progress bars and summaries.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Where the peer accepts connections.
    pub listen: Option<SocketAddr>,
    pub done: u64,
    pub total: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub peers: usize,
    pub download_rate: f64,
    pub upload_rate: f64,
    pub complete: bool,
    /// When the last piece was verified, after the start.
    pub finished_after: Option<Duration>,
}

/// What the connection tasks tell the torrent task.
enum Event {
    Connected {
        stream: TcpStream,
        addr: SocketAddr,
        handshake: Handshake,
        leftover: Vec<u8>,
    },
    ConnectFailed(SocketAddr),
    Message(PeerKey, Message),
    Closed(PeerKey, String),
    Announced(Vec<SocketAddr>, Duration),
}

struct Link {
    addr: SocketAddr,
    peer_id: PeerId,
    out: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    trace: TraceScope,
    tasks: [tokio::task::AbortHandle; 2],
}

/// Runs the peer until the download completes (with `stop_when_complete`) or `shutdown`;
/// `on_status` hears progress twice a second. The final status comes back.
pub async fn run(
    mut torrent: Torrent,
    identity: Identity,
    options: PeerOptions,
    tracer: Tracer,
    shutdown: Shutdown,
    mut on_status: impl FnMut(&Status),
) -> io::Result<Status> {
    let listener = listen_reusing(options.listen, 128)?;
    let listen = listener.local_addr()?;
    let peer_id = new_peer_id();
    let (events, mut inbox) = mpsc::unbounded_channel();
    let download_bucket = options
        .download_limit
        .map(|rate| Arc::new(Mutex::new(TokenBucket::new(rate, Instant::now()))));
    let mut upload_bucket = options
        .upload_limit
        .map(|rate| TokenBucket::new(rate, Instant::now()));
    let accept = tokio::spawn(accept_loop(
        listener,
        identity.info_hash,
        peer_id,
        events.clone(),
    ));
    let tracker = TrackerClient::new(ClientOptions::default())
        .map_err(io::Error::other)?
        .with_tracer(tracer.clone());
    let notes = tracer.scope("bittorrent", Role::Client, listen, listen);

    let started = Instant::now();
    let mut state = Driver {
        links: HashMap::new(),
        next_key: 1,
        connecting: HashSet::new(),
        banned: HashSet::new(),
        listen,
        peer_id,
        identity,
        options,
        tracer,
        events: events.clone(),
        download_bucket,
        notes,
    };
    for addr in state.options.peers.clone() {
        state.connect(addr);
    }
    let mut announce_at = Some(Instant::now());
    let mut announce_event = AnnounceEvent::Started;
    let mut ticker = tokio::time::interval(TICK);
    let mut last_status = Instant::now();
    let mut finished_after = torrent.is_complete().then_some(Duration::ZERO);
    let outcome = loop {
        let now = Instant::now();
        if announce_at.is_some_and(|at| now >= at) {
            announce_at = None;
            state.announce(&tracker, &torrent, announce_event);
            announce_event = AnnounceEvent::None;
        }
        tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            _ = ticker.tick() => {
                torrent.tick(Instant::now());
            }
            event = inbox.recv() => {
                let Some(event) = event else { break Ok(()) };
                match event {
                    Event::Announced(peers, interval) => {
                        let every = state.options.announce_every.unwrap_or(interval);
                        announce_at = Some(Instant::now() + every);
                        for addr in peers {
                            state.connect(addr);
                        }
                    }
                    other => state.handle(&mut torrent, other),
                }
            }
        }
        let now = Instant::now();
        torrent.serve_uploads(now, |key, length| {
            state.can_send(key)
                && upload_bucket
                    .as_mut()
                    .is_none_or(|bucket| bucket.take(now, u64::from(length)).is_ok())
        });
        let completed = state.apply(&mut torrent);
        if completed {
            finished_after = Some(started.elapsed());
            state.announce(&tracker, &torrent, AnnounceEvent::Completed);
            if state.options.stop_when_complete {
                break Ok(());
            }
        }
        if now.duration_since(last_status) >= Duration::from_millis(500) {
            last_status = now;
            on_status(&status(&mut torrent, &state, finished_after));
        }
    };
    accept.abort();
    let final_status = status(&mut torrent, &state, finished_after);
    on_status(&final_status);
    // Tell the tracker we are leaving, briefly: a tracker that does not answer must not
    // hold the exit.
    let stopping = state.announce_task(&tracker, &torrent, AnnounceEvent::Stopped);
    let _ = tokio::time::timeout(Duration::from_secs(2), stopping).await;
    for link in state.links.values() {
        for task in &link.tasks {
            task.abort();
        }
    }
    outcome.map(|()| final_status)
}

fn status(torrent: &mut Torrent, state: &Driver, finished_after: Option<Duration>) -> Status {
    let (done, downloaded, uploaded) = torrent.progress();
    let (download_rate, upload_rate) = torrent.rates(Instant::now());
    Status {
        listen: Some(state.listen),
        done,
        total: state.identity.total_length,
        downloaded,
        uploaded,
        peers: torrent.peer_count(),
        download_rate,
        upload_rate,
        complete: torrent.is_complete(),
        finished_after,
    }
}

struct Driver {
    links: HashMap<PeerKey, Link>,
    next_key: PeerKey,
    connecting: HashSet<SocketAddr>,
    banned: HashSet<IpAddr>,
    listen: SocketAddr,
    peer_id: PeerId,
    identity: Identity,
    options: PeerOptions,
    tracer: Tracer,
    events: mpsc::UnboundedSender<Event>,
    download_bucket: Option<Arc<Mutex<TokenBucket>>>,
    notes: TraceScope,
}

impl Driver {
    fn handle(&mut self, torrent: &mut Torrent, event: Event) {
        match event {
            Event::Connected {
                stream,
                addr,
                handshake,
                leftover,
            } => {
                self.connecting.remove(&addr);
                self.register(torrent, stream, addr, handshake, leftover);
            }
            Event::ConnectFailed(addr) => {
                self.connecting.remove(&addr);
            }
            Event::Message(key, message) => {
                if let Some(link) = self.links.get(&key) {
                    link.trace.received(&[], || describe(&message));
                    torrent.message(key, message, Instant::now());
                }
            }
            Event::Closed(key, reason) => self.drop_link(torrent, key, &reason),
            Event::Announced(..) => {}
        }
    }

    /// A handshaken connection joins the torrent, unless it is a duplicate, ourselves, banned
    /// or one too many.
    fn register(
        &mut self,
        torrent: &mut Torrent,
        stream: TcpStream,
        addr: SocketAddr,
        handshake: Handshake,
        leftover: Vec<u8>,
    ) {
        let duplicate = self.links.values().any(|l| l.peer_id == handshake.peer_id);
        if duplicate
            || handshake.peer_id == self.peer_id
            || self.banned.contains(&addr.ip())
            || self.links.len() >= self.options.max_peers
        {
            return;
        }
        let key = self.next_key;
        self.next_key += 1;
        let local = stream.local_addr().unwrap_or(self.listen);
        let trace = self.tracer.scope("bittorrent", Role::Client, local, addr);
        let (read, write) = stream.into_split();
        let (out, queue) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let reader = tokio::spawn(read_loop(
            key,
            read,
            leftover,
            self.identity.piece_count,
            self.download_bucket.clone(),
            self.events.clone(),
        ));
        let writer = tokio::spawn(write_loop(
            key,
            write,
            queue,
            queued.clone(),
            self.events.clone(),
        ));
        self.links.insert(
            key,
            Link {
                addr,
                peer_id: handshake.peer_id,
                out,
                queued,
                trace,
                tasks: [reader.abort_handle(), writer.abort_handle()],
            },
        );
        let fast = handshake.reserved.fast();
        if handshake.reserved.extended() {
            let ours = ExtendedHandshake {
                listen_port: Some(self.listen.port()),
                client: Some(format!("appnet {}", env!("CARGO_PKG_VERSION"))),
                reqq: Some(super::torrent::MAX_QUEUED_REQUESTS as u32),
                your_ip: Some(addr.ip()),
                ..ExtendedHandshake::default()
            };
            self.send(key, &ours.to_message());
        }
        torrent.connected(key, addr, fast, Instant::now());
    }

    fn drop_link(&mut self, torrent: &mut Torrent, key: PeerKey, reason: &str) {
        if let Some(link) = self.links.remove(&key) {
            link.trace
                .sent(&[], || format!("connection closed: {reason}"));
            for task in &link.tasks {
                task.abort();
            }
            torrent.disconnected(key);
        }
    }

    /// Carries out the torrent's actions; whether the download just completed.
    fn apply(&mut self, torrent: &mut Torrent) -> bool {
        let mut completed = false;
        while let Some(action) = torrent.poll_action() {
            match action {
                Action::Send(key, message) => self.send(key, &message),
                Action::Disconnect(key, reason) => self.drop_link(torrent, key, &reason),
                Action::Ban(ip) => {
                    self.banned.insert(ip);
                }
                Action::Note(text) => self.notes.sent(&[], || text),
                Action::Completed => completed = true,
            }
        }
        completed
    }

    fn send(&self, key: PeerKey, message: &Message) {
        if let Some(link) = self.links.get(&key) {
            link.trace.sent(&[], || describe(message));
            let bytes = message.encode();
            link.queued.fetch_add(bytes.len(), Ordering::Relaxed);
            let _ = link.out.send(bytes);
        }
    }

    fn can_send(&self, key: PeerKey) -> bool {
        self.links
            .get(&key)
            .is_some_and(|link| link.queued.load(Ordering::Relaxed) < SEND_QUEUE)
    }

    /// Opens a connection to `addr` in the background, unless one exists or is on its way.
    fn connect(&mut self, addr: SocketAddr) {
        let known = self.connecting.contains(&addr) || self.links.values().any(|l| l.addr == addr);
        let full = self.links.len() + self.connecting.len() >= self.options.max_peers;
        if known || full || addr == self.listen || self.banned.contains(&addr.ip()) {
            return;
        }
        self.connecting.insert(addr);
        let (local, info_hash, peer_id, events) = (
            self.listen.ip(),
            self.identity.info_hash,
            self.peer_id,
            self.events.clone(),
        );
        tokio::spawn(async move {
            let event = match tokio::time::timeout(
                HANDSHAKE_TIMEOUT,
                dial(local, addr, info_hash, peer_id),
            )
            .await
            {
                Ok(Ok((stream, handshake, leftover))) => Event::Connected {
                    stream,
                    addr,
                    handshake,
                    leftover,
                },
                _ => Event::ConnectFailed(addr),
            };
            let _ = events.send(event);
        });
    }

    fn announce(&self, tracker: &TrackerClient, torrent: &Torrent, event: AnnounceEvent) {
        let task = self.announce_task(tracker, torrent, event);
        tokio::spawn(task);
    }

    /// An announce to the first tracker that answers; its peers come back as an event.
    fn announce_task(
        &self,
        tracker: &TrackerClient,
        torrent: &Torrent,
        event: AnnounceEvent,
    ) -> impl Future<Output = ()> + Send + 'static {
        let (done, downloaded, uploaded) = torrent.progress();
        let params = AnnounceParams {
            info_hash: self.identity.info_hash,
            peer_id: self.peer_id,
            port: self.listen.port(),
            uploaded,
            downloaded,
            left: self.identity.total_length - done,
            event,
            numwant: Some(50),
            key: u32::from_be_bytes([
                self.peer_id[16],
                self.peer_id[17],
                self.peer_id[18],
                self.peer_id[19],
            ]),
            ip: Some(self.listen.ip()),
        };
        let (tracker, urls, events) = (
            tracker.clone(),
            self.identity.trackers.clone(),
            self.events.clone(),
        );
        async move {
            for url in urls {
                match tracker.announce(&url, &params).await {
                    Ok(response) => {
                        let _ = events.send(Event::Announced(response.peers, response.interval));
                        return;
                    }
                    Err(err) => tracing::debug!("announce to {url}: {err}"),
                }
            }
            // No tracker answered (or it refused, as opentracker does for a moment after it
            // starts): try again soon.
            let _ = events.send(Event::Announced(Vec::new(), Duration::from_secs(5)));
        }
    }
}

/// BEP 20 style: `-AN0001-` and twelve random bytes.
fn new_peer_id() -> PeerId {
    let mut id: PeerId = rand::random();
    id[..8].copy_from_slice(b"-AN0001-");
    id
}

async fn accept_loop(
    listener: TcpListener,
    info_hash: InfoHash,
    peer_id: PeerId,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let events = events.clone();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, answer(stream, info_hash, peer_id)).await;
            if let Ok(Ok((stream, handshake, leftover))) = handshake {
                let _ = events.send(Event::Connected {
                    stream,
                    addr,
                    handshake,
                    leftover,
                });
            }
        });
    }
}

/// An outgoing connection from `local` (the address peers know us by), handshaken.
async fn dial(
    local: IpAddr,
    addr: SocketAddr,
    info_hash: InfoHash,
    peer_id: PeerId,
) -> io::Result<(TcpStream, Handshake, Vec<u8>)> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if local.is_ipv4() == addr.is_ipv4() && !local.is_unspecified() {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let mut stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    stream
        .write_all(&Handshake::new(info_hash, peer_id).encode())
        .await?;
    let (handshake, leftover) = read_handshake(&mut stream).await?;
    if handshake.info_hash != info_hash {
        return Err(io::Error::other("the peer answered for another torrent"));
    }
    Ok((stream, handshake, leftover))
}

/// An incoming connection: its handshake must name our torrent before we answer.
async fn answer(
    mut stream: TcpStream,
    info_hash: InfoHash,
    peer_id: PeerId,
) -> io::Result<(TcpStream, Handshake, Vec<u8>)> {
    stream.set_nodelay(true)?;
    let (handshake, leftover) = read_handshake(&mut stream).await?;
    if handshake.info_hash != info_hash {
        return Err(io::Error::other("a handshake for another torrent"));
    }
    stream
        .write_all(&Handshake::new(info_hash, peer_id).encode())
        .await?;
    Ok((stream, handshake, leftover))
}

async fn read_handshake(stream: &mut TcpStream) -> io::Result<(Handshake, Vec<u8>)> {
    let mut decoder = HandshakeDecoder::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = stream.read(&mut buf).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (used, handshake) = decoder
            .feed(&buf[..read])
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        if let Some(handshake) = handshake {
            return Ok((handshake, buf[used..read].to_vec()));
        }
    }
}

async fn read_loop(
    key: PeerKey,
    mut read: OwnedReadHalf,
    leftover: Vec<u8>,
    piece_count: u32,
    bucket: Option<Arc<Mutex<TokenBucket>>>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut decoder = MessageDecoder::new(piece_count);
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending = leftover;
    let reason = loop {
        if let Err(err) = decoder.feed(&pending) {
            break format!("protocol error: {err}");
        }
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    if let (Some(bucket), Message::Piece { block, .. }) = (&bucket, &message) {
                        wait_for_tokens(bucket, block.len() as u64).await;
                    }
                    if events.send(Event::Message(key, message)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    let _ = events.send(Event::Closed(key, format!("protocol error: {err}")));
                    return;
                }
            }
        }
        match tokio::time::timeout(IDLE, read.read(&mut buf)).await {
            Ok(Ok(0)) => break "the peer closed the connection".to_string(),
            Ok(Ok(n)) => pending = buf[..n].to_vec(),
            Ok(Err(err)) => break format!("read: {err}"),
            Err(_) => break "silent for 3 minutes".to_string(),
        }
    };
    let _ = events.send(Event::Closed(key, reason));
}

async fn wait_for_tokens(bucket: &Mutex<TokenBucket>, bytes: u64) {
    loop {
        let wait = {
            let mut bucket = lock(bucket);
            match bucket.take(Instant::now(), bytes) {
                Ok(()) => return,
                Err(wait) => wait,
            }
        };
        tokio::time::sleep(wait).await;
    }
}

async fn write_loop(
    key: PeerKey,
    mut write: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    events: mpsc::UnboundedSender<Event>,
) {
    let reason = loop {
        let mut bytes = match tokio::time::timeout(KEEP_ALIVE, queue.recv()).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(_) => Message::KeepAlive.encode(),
        };
        // Everything already queued goes in the same write: a verified piece means a `have`
        // to every peer, and a system call for each would cost more than the bytes.
        while bytes.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(more) => bytes.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        let result = write.write_all(&bytes).await;
        queued.fetch_sub(
            bytes.len().min(queued.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        if let Err(err) = result {
            break format!("write: {err}");
        }
    };
    let _ = events.send(Event::Closed(key, reason));
}

/// A message as the trace shows it.
fn describe(message: &Message) -> String {
    match message {
        Message::Have(piece) => format!("have {piece}"),
        Message::Bitfield(bits) => format!("bitfield ({} of {} pieces)", bits.count(), bits.len()),
        Message::Request(b) | Message::Cancel(b) | Message::Reject(b) => {
            format!(
                "{} piece {} bytes {}+{}",
                message.name(),
                b.index,
                b.begin,
                b.length
            )
        }
        Message::Piece {
            index,
            begin,
            block,
        } => {
            format!("piece {index} bytes {begin}+{}", block.len())
        }
        other => other.name().to_string(),
    }
}
