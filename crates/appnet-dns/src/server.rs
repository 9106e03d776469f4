//! The tokio driver of the authoritative server: UDP and TCP listeners that hand every received
//! message to [`authority::respond`] and send back what it returns; zone loading and reloading
//! (the old zones keep serving until new ones parsed cleanly); NOTIFY to secondaries after a reload.
//!
//! RFC 1035 §4.2 (UDP, TCP), RFC 7766 (several queries per connection, idle timeout, bounded
//! connections), RFC 1996 §3.6 (NOTIFY retransmission).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::authority::{self, AuthorityOptions, Response, Transport};
use crate::client;
use crate::listen;
use crate::tcp::{FrameDecoder, frame};
use crate::udp_batch::{self, RecvBatch};
use crate::wire::{Message, Name};
use crate::zone::{Catalog, Zone, ZoneError, ZoneWarning, read_zone_file};
use appnet_core::net::TcpLimits;

/// NOTIFY attempts per secondary, and the wait for each acknowledgement (RFC 1996 §3.6).
const NOTIFY_ATTEMPTS: u32 = 5;
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a zone comes from.
#[derive(Debug, Clone)]
pub enum ZoneSource {
    /// A master file on disk; its origin from `$ORIGIN` or the SOA owner unless given.
    File { path: PathBuf, origin: Option<Name> },
    /// Master-file text made in code (the mini Internet's zones).
    Text { origin: Name, text: String },
}

impl ZoneSource {
    fn load(&self) -> Result<(Zone, Vec<ZoneWarning>), ZoneError> {
        let parsed = match self {
            ZoneSource::File { path, origin } => Zone::load(path, origin.as_ref(), read_zone_file)?,
            ZoneSource::Text { origin, text } => {
                let name = PathBuf::from(format!("<{origin}>"));
                Zone::parse(text, origin, &name, crate::zone::no_includes)?
            }
        };
        Ok((parsed.zone, parsed.warnings))
    }
}

/// What a (re)load produced: the zones now served, with their serials, and any warnings.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub zones: Vec<(Name, u32)>,
    pub warnings: Vec<ZoneWarning>,
}

/// The zones being served, swapped whole on reload so every query sees one consistent catalog.
pub struct Authority {
    sources: Vec<ZoneSource>,
    catalog: RwLock<Arc<Catalog>>,
    pub options: AuthorityOptions,
}

impl Authority {
    /// Loads every zone; the first error stops the start.
    pub fn load(
        sources: Vec<ZoneSource>,
        options: AuthorityOptions,
    ) -> Result<(Authority, LoadReport), ZoneError> {
        let (catalog, report) = load_catalog(&sources)?;
        let authority = Authority {
            sources,
            catalog: RwLock::new(Arc::new(catalog)),
            options,
        };
        Ok((authority, report))
    }

    /// Loads every zone again. On any error the zones being served stay as they were.
    pub fn reload(&self) -> Result<LoadReport, ZoneError> {
        let (catalog, report) = load_catalog(&self.sources)?;
        *self
            .catalog
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(catalog);
        Ok(report)
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn respond(&self, query: &[u8], transport: Transport, client: SocketAddr) -> Option<Response> {
        authority::respond(
            &self.catalog(),
            query,
            transport,
            client.ip(),
            &self.options,
        )
    }
}

fn load_catalog(sources: &[ZoneSource]) -> Result<(Catalog, LoadReport), ZoneError> {
    let mut catalog = Catalog::new();
    let mut report = LoadReport {
        zones: Vec::new(),
        warnings: Vec::new(),
    };
    for source in sources {
        let (zone, warnings) = source.load()?;
        report.zones.push((zone.origin().clone(), zone.serial()));
        report.warnings.extend(warnings);
        catalog.insert(zone);
    }
    Ok((catalog, report))
}

/// Answers queries arriving on `socket` until `shutdown`, a batch at a time ([`listen`]).
pub async fn serve_udp(
    socket: UdpSocket,
    authority: Arc<Authority>,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    let local = socket.local_addr()?;
    listen::serve_datagrams(socket, shutdown, "dns", move |socket, batch| {
        answer_batch(socket, local, batch, &authority, &tracer);
    })
    .await
}

fn answer_batch(
    socket: &std::net::UdpSocket,
    local: SocketAddr,
    batch: &RecvBatch,
    authority: &Authority,
    tracer: &Tracer,
) {
    // One look at the zones per batch: a reload lands between batches, never inside one.
    let catalog = authority.catalog();
    let mut responses = Vec::with_capacity(udp_batch::BATCH);
    for (query, peer) in batch.datagrams() {
        let trace = tracer.scope("dns", Role::Server, local, peer);
        trace.received(query, || crate::wire::text::summarize_wire(query));
        let answered = authority::respond(
            &catalog,
            query,
            Transport::Udp,
            peer.ip(),
            &authority.options,
        );
        if let Some(response) = answered {
            responses.push((response, peer, trace));
        }
    }
    let replies: Vec<(&[u8], SocketAddr)> = responses
        .iter()
        .flat_map(|(response, peer, _)| {
            response
                .messages
                .iter()
                .map(|message| (&message[..], *peer))
        })
        .collect();
    udp_batch::send_batch(socket, &replies);
    for (response, _, trace) in &responses {
        for message in &response.messages {
            trace.sent(message, || response.summary());
        }
    }
}

/// Accepts TCP connections until `shutdown`, each carrying any number of queries.
pub async fn serve_tcp(
    listener: TcpListener,
    authority: Arc<Authority>,
    limits: TcpLimits,
    tracer: Tracer,
    shutdown: Shutdown,
) -> io::Result<()> {
    appnet_core::net::accept_connections(listener, limits.max_connections, shutdown, "dns", move |stream, peer| {
        let (authority, tracer) = (authority.clone(), tracer.clone());
        async move { serve_connection(stream, peer, &authority, limits.idle_timeout, &tracer).await }
    })
    .await
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    authority: &Authority,
    idle_timeout: Duration,
    tracer: &Tracer,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let trace = tracer.scope("dns", Role::Server, stream.local_addr()?, peer);
    let mut frames = FrameDecoder::new();
    let mut buf = vec![0u8; 16 * 1024];
    // When the current message began to arrive: a message must be complete within the idle
    // timeout of its first byte, so a client trickling one byte at a time cannot hold a slot.
    let mut message_started: Option<Instant> = None;
    loop {
        while let Some(query) = frames
            .next_message()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?
        {
            // What is still buffered now belongs to the next message, whose clock starts now.
            message_started = None;
            trace.received(&query, || crate::wire::text::summarize_wire(&query));
            if let Some(response) = authority.respond(&query, Transport::Tcp, peer) {
                send_response(&mut stream, &response, &trace).await?;
            }
        }
        message_started = frames
            .is_mid_message()
            .then(|| message_started.unwrap_or_else(Instant::now));
        let deadline = message_started.unwrap_or_else(Instant::now) + idle_timeout;
        let read = match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Ok(read) => read?,
            // RFC 7766 §6.2.3: the server closes idle connections, and slow ones.
            Err(_) => return Ok(()),
        };
        if read == 0 {
            return Ok(());
        }
        frames.feed(&buf[..read]);
    }
}

async fn send_response(
    stream: &mut TcpStream,
    response: &Response,
    trace: &TraceScope,
) -> io::Result<()> {
    for (index, message) in response.messages.iter().enumerate() {
        stream.write_all(&frame(message)).await?;
        trace.sent(message, || {
            if index == 0 {
                response.summary()
            } else {
                crate::wire::text::summarize_wire(message)
            }
        });
    }
    Ok(())
}

/// Tells each secondary in `targets` that `zone` changed (RFC 1996), retrying until it
/// acknowledges. Returns, per target, whether it acknowledged.
pub async fn notify(
    zone: &Zone,
    targets: &[SocketAddr],
    tracer: &Tracer,
) -> Vec<(SocketAddr, bool)> {
    let mut results = Vec::new();
    for &target in targets {
        results.push((target, notify_one(zone, target, tracer).await));
    }
    results
}

async fn notify_one(zone: &Zone, target: SocketAddr, tracer: &Tracer) -> bool {
    for _ in 0..NOTIFY_ATTEMPTS {
        let id = client::random_id();
        let message = authority::notify_message(zone, id);
        let Ok(query) = Message::decode(&message) else {
            return false;
        };
        let options = client::QueryOptions {
            timeout: NOTIFY_TIMEOUT,
            retries: 0,
            tcp: false,
        };
        if let Ok(exchange) = client::query(target, &query, options, tracer).await
            && authority::is_notify_ack(&exchange.response_bytes, id)
        {
            return true;
        }
    }
    false
}
