//! The UDP tracker protocol (BEP 15), sans-IO: its packets in both directions, the stateless
//! connection IDs, and the server's answer to each datagram.
//!
//! BEP 15 "UDP tracker protocol": every integer big-endian; a request starts with a 64-bit
//! connection ID, a 32-bit action (0 connect, 1 announce, 2 scrape, 3 error) and a 32-bit
//! transaction ID that the answer echoes. "UDP connections / spoofing": a client first gets a
//! connection ID (connect, with the magic `0x41727101980` in the ID's place) and shows it on
//! every later request, proving it receives packets at its source address. "IPv6": an announce
//! from an IPv6 address gets 18-byte peers instead of 6-byte ones. "Extensions": packets may be
//! longer than the fields we read (BEP 41 options follow an announce), so the rest is ignored.
//!
//! Connection IDs are SYN cookies: a keyed hash of the client's address and the current minute,
//! so the tracker remembers nothing per client and accepts an ID for the minute it was made in
//! and the next (between one and two minutes; BEP 15: a client may use one for a minute, a
//! tracker should accept it for two).
//!
//! Nothing is sent back to an address before it has shown a valid connection ID, except the
//! 16-byte connect reply to a 16-byte connect: so the tracker cannot be used to bounce larger
//! packets at a spoofed victim. Packets too short to carry a header, connects without the magic,
//! and requests with a wrong connection ID are dropped, as BEP 15 says ("ignores the request").

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use thiserror::Error;

use super::swarm::{Announce, Event, Families, Registry, SwarmStats};
use super::{InfoHash, MAX_SCRAPE_HASHES, PeerId, announce_label, registered_ip, short_hex};

/// The magic a connect request carries in place of a connection ID (BEP 15).
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
pub const ACTION_CONNECT: u32 = 0;
pub const ACTION_ANNOUNCE: u32 = 1;
pub const ACTION_SCRAPE: u32 = 2;
pub const ACTION_ERROR: u32 = 3;
/// A request's header: connection ID, action, transaction ID.
pub const HEADER_LEN: usize = 16;
/// An IPv4 announce request, up to its port (BEP 15).
pub const ANNOUNCE_LEN: usize = 98;
/// Longest error message sent, or kept from a tracker's error packet.
pub const MAX_MESSAGE_LEN: usize = 256;
/// The largest datagram a server reads: a full scrape of [`MAX_SCRAPE_HASHES`] is 1496 bytes;
/// a longer datagram is still read whole (and refused) rather than silently cut by the kernel.
pub const MAX_REQUEST_LEN: usize = 2048;

/// Why a packet was not understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("packet of {got} bytes is shorter than the {need} bytes its action needs")]
    TooShort { need: usize, got: usize },
    #[error("connect request without the BEP 15 protocol ID")]
    BadProtocolId,
    #[error("unknown action {0}")]
    UnknownAction(u32),
    #[error("unknown event {0}")]
    BadEvent(u32),
    #[error("a scrape needs at least one info-hash")]
    EmptyScrape,
    #[error("too many info-hashes in one scrape (at most {MAX_SCRAPE_HASHES})")]
    TooManyHashes,
    #[error("peer list is not a whole number of {0}-byte entries")]
    RaggedPeers(usize),
}

/// The header fields of a request: what an error reply needs even when the rest is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub connection_id: u64,
    pub action: u32,
    pub transaction_id: u32,
}

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Connect {
        transaction_id: u32,
    },
    Announce(AnnounceRequest),
    Scrape {
        connection_id: u64,
        transaction_id: u32,
        info_hashes: Vec<InfoHash>,
    },
}

/// BEP 15's announce request (the IPv4 layout, used from IPv6 too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub connection_id: u64,
    pub transaction_id: u32,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub downloaded: u64,
    pub left: u64,
    pub uploaded: u64,
    pub event: Event,
    /// The `IP address` field: 0 means "the packet's source".
    pub ip: Ipv4Addr,
    pub key: u32,
    /// -1 (or any negative number): the tracker's default.
    pub num_want: i32,
    pub port: u16,
}

/// A tracker's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Connect {
        transaction_id: u32,
        connection_id: u64,
    },
    Announce {
        transaction_id: u32,
        interval: u32,
        leechers: u32,
        seeders: u32,
        peers: Vec<SocketAddr>,
    },
    /// One entry per info-hash asked, in the same order.
    Scrape {
        transaction_id: u32,
        stats: Vec<SwarmStats>,
    },
    Error {
        transaction_id: u32,
        message: String,
    },
}

impl Response {
    pub fn transaction_id(&self) -> u32 {
        match self {
            Response::Connect { transaction_id, .. }
            | Response::Announce { transaction_id, .. }
            | Response::Scrape { transaction_id, .. }
            | Response::Error { transaction_id, .. } => *transaction_id,
        }
    }
}

/// A bounds-checked reader over a packet: every read says what it needed.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        // Callers check the packet's length against the layout first; short input reads zeros
        // rather than panicking, should one ever forget.
        let mut out = [0u8; N];
        if let Some(slice) = self.bytes.get(self.at..self.at + N) {
            out.copy_from_slice(slice);
        }
        self.at += N;
        out
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }
}

fn need(bytes: &[u8], need: usize) -> Result<(), PacketError> {
    if bytes.len() < need {
        return Err(PacketError::TooShort {
            need,
            got: bytes.len(),
        });
    }
    Ok(())
}

/// The header of a request, if the packet is long enough to have one.
pub fn request_header(bytes: &[u8]) -> Option<Header> {
    need(bytes, HEADER_LEN).ok()?;
    let mut r = Reader::new(bytes);
    Some(Header {
        connection_id: r.u64(),
        action: r.u32(),
        transaction_id: r.u32(),
    })
}

fn event_from_wire(n: u32) -> Result<Event, PacketError> {
    match n {
        0 => Ok(Event::None),
        1 => Ok(Event::Completed),
        2 => Ok(Event::Started),
        3 => Ok(Event::Stopped),
        other => Err(PacketError::BadEvent(other)),
    }
}

fn event_to_wire(event: Event) -> u32 {
    match event {
        Event::None => 0,
        Event::Completed => 1,
        Event::Started => 2,
        Event::Stopped => 3,
    }
}

impl Request {
    /// Decodes a client's datagram.
    pub fn decode(bytes: &[u8]) -> Result<Request, PacketError> {
        need(bytes, HEADER_LEN)?;
        let mut r = Reader::new(bytes);
        let connection_id = r.u64();
        let action = r.u32();
        let transaction_id = r.u32();
        match action {
            ACTION_CONNECT if connection_id == PROTOCOL_ID => {
                Ok(Request::Connect { transaction_id })
            }
            ACTION_CONNECT => Err(PacketError::BadProtocolId),
            ACTION_ANNOUNCE => {
                need(bytes, ANNOUNCE_LEN)?;
                Ok(Request::Announce(AnnounceRequest {
                    connection_id,
                    transaction_id,
                    info_hash: InfoHash(r.take()),
                    peer_id: r.take(),
                    downloaded: r.u64(),
                    left: r.u64(),
                    uploaded: r.u64(),
                    event: event_from_wire(r.u32())?,
                    ip: Ipv4Addr::from(r.u32()),
                    key: r.u32(),
                    num_want: i32::from_be_bytes(r.take()),
                    port: r.u16(),
                }))
            }
            ACTION_SCRAPE => {
                // A trailing partial hash is ignored, as any unknown trailing bytes are.
                let hashes = r.rest().chunks_exact(20);
                if hashes.len() == 0 {
                    return Err(PacketError::EmptyScrape);
                }
                if hashes.len() > MAX_SCRAPE_HASHES {
                    return Err(PacketError::TooManyHashes);
                }
                let info_hashes = hashes
                    .map(|h| {
                        let mut hash = [0u8; 20];
                        hash.copy_from_slice(h);
                        InfoHash(hash)
                    })
                    .collect();
                Ok(Request::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes,
                })
            }
            other => Err(PacketError::UnknownAction(other)),
        }
    }

    /// The datagram a client sends.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ANNOUNCE_LEN);
        match self {
            Request::Connect { transaction_id } => {
                header(&mut out, PROTOCOL_ID, ACTION_CONNECT, *transaction_id);
            }
            Request::Announce(a) => {
                header(&mut out, a.connection_id, ACTION_ANNOUNCE, a.transaction_id);
                out.extend_from_slice(&a.info_hash.0);
                out.extend_from_slice(&a.peer_id);
                out.extend_from_slice(&a.downloaded.to_be_bytes());
                out.extend_from_slice(&a.left.to_be_bytes());
                out.extend_from_slice(&a.uploaded.to_be_bytes());
                out.extend_from_slice(&event_to_wire(a.event).to_be_bytes());
                out.extend_from_slice(&a.ip.octets());
                out.extend_from_slice(&a.key.to_be_bytes());
                out.extend_from_slice(&a.num_want.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                header(&mut out, *connection_id, ACTION_SCRAPE, *transaction_id);
                for hash in info_hashes {
                    out.extend_from_slice(&hash.0);
                }
            }
        }
        out
    }
}

fn header(out: &mut Vec<u8>, connection_id: u64, action: u32, transaction_id: u32) {
    out.extend_from_slice(&connection_id.to_be_bytes());
    out.extend_from_slice(&action.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

impl Response {
    /// The datagram a tracker sends. Announce peers of the other family than the first peer are
    /// not expected here: [`answer`] gives a client only peers of its own family.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let mut start = |action: u32, transaction_id: u32| {
            out.extend_from_slice(&action.to_be_bytes());
            out.extend_from_slice(&transaction_id.to_be_bytes());
        };
        match self {
            Response::Connect {
                transaction_id,
                connection_id,
            } => {
                start(ACTION_CONNECT, *transaction_id);
                out.extend_from_slice(&connection_id.to_be_bytes());
            }
            Response::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            } => {
                start(ACTION_ANNOUNCE, *transaction_id);
                for n in [interval, leechers, seeders] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
                for peer in peers {
                    match peer.ip().to_canonical() {
                        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
                        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
                    }
                    out.extend_from_slice(&peer.port().to_be_bytes());
                }
            }
            Response::Scrape {
                transaction_id,
                stats,
            } => {
                start(ACTION_SCRAPE, *transaction_id);
                for s in stats {
                    for n in [s.complete, s.downloaded, s.incomplete] {
                        out.extend_from_slice(&n.to_be_bytes());
                    }
                }
            }
            Response::Error {
                transaction_id,
                message,
            } => {
                start(ACTION_ERROR, *transaction_id);
                out.extend_from_slice(truncate(message, MAX_MESSAGE_LEN).as_bytes());
            }
        }
        out
    }

    /// Decodes a tracker's datagram; `ipv6` says which peer stride to expect (the family of the
    /// tracker's address, BEP 15 "IPv6").
    pub fn decode(bytes: &[u8], ipv6: bool) -> Result<Response, PacketError> {
        need(bytes, 8)?;
        let mut r = Reader::new(bytes);
        let action = r.u32();
        let transaction_id = r.u32();
        match action {
            ACTION_CONNECT => {
                need(bytes, 16)?;
                Ok(Response::Connect {
                    transaction_id,
                    connection_id: r.u64(),
                })
            }
            ACTION_ANNOUNCE => {
                need(bytes, 20)?;
                let interval = r.u32();
                let leechers = r.u32();
                let seeders = r.u32();
                Ok(Response::Announce {
                    transaction_id,
                    interval,
                    leechers,
                    seeders,
                    peers: decode_peers(r.rest(), ipv6)?,
                })
            }
            ACTION_SCRAPE => {
                let stats = r
                    .rest()
                    .chunks_exact(12)
                    .map(|entry| {
                        let mut e = Reader::new(entry);
                        SwarmStats {
                            complete: e.u32(),
                            downloaded: e.u32(),
                            incomplete: e.u32(),
                        }
                    })
                    .collect();
                Ok(Response::Scrape {
                    transaction_id,
                    stats,
                })
            }
            ACTION_ERROR => Ok(Response::Error {
                transaction_id,
                message: truncate(&String::from_utf8_lossy(r.rest()), MAX_MESSAGE_LEN).to_owned(),
            }),
            other => Err(PacketError::UnknownAction(other)),
        }
    }
}

/// Compact peers (BEP 15, and BEP 23 and BEP 7 in HTTP): 4 or 16 address bytes and a port each.
pub fn decode_peers(bytes: &[u8], ipv6: bool) -> Result<Vec<SocketAddr>, PacketError> {
    let stride = if ipv6 { 18 } else { 6 };
    if !bytes.len().is_multiple_of(stride) {
        return Err(PacketError::RaggedPeers(stride));
    }
    Ok(bytes
        .chunks_exact(stride)
        .map(|entry| {
            let (ip, port) = entry.split_at(stride - 2);
            let port = u16::from_be_bytes([port[0], port[1]]);
            let ip = match <[u8; 16]>::try_from(ip) {
                Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
                Err(_) => IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
            };
            SocketAddr::new(ip, port)
        })
        .collect())
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Stateless connection IDs: `SHA-1(secret ‖ minute ‖ client address)`, first 8 bytes.
#[derive(Clone)]
pub struct ConnectionIds {
    secret: [u8; 32],
    epoch: Instant,
}

impl fmt::Debug for ConnectionIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("ConnectionIds").finish_non_exhaustive()
    }
}

impl ConnectionIds {
    /// How long the minute an ID is made in lasts; it is accepted in that one and the next.
    pub const PERIOD: Duration = Duration::from_secs(60);

    /// IDs keyed by `secret`, minutes counted from `epoch`.
    pub fn new(secret: [u8; 32], epoch: Instant) -> ConnectionIds {
        ConnectionIds { secret, epoch }
    }

    /// IDs keyed by a fresh random secret (restarting the tracker invalidates old IDs, which
    /// clients handle by connecting again).
    pub fn random(epoch: Instant) -> ConnectionIds {
        ConnectionIds::new(rand::random(), epoch)
    }

    /// The ID for `client` now.
    pub fn issue(&self, client: SocketAddr, now: Instant) -> u64 {
        self.mac(client, self.period(now))
    }

    /// Whether `id` was issued to `client` in this period or the one before.
    pub fn check(&self, id: u64, client: SocketAddr, now: Instant) -> bool {
        let period = self.period(now);
        id == self.mac(client, period) || (period > 0 && id == self.mac(client, period - 1))
    }

    fn period(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs() / Self::PERIOD.as_secs()
    }

    fn mac(&self, client: SocketAddr, period: u64) -> u64 {
        let ip = match client.ip().to_canonical() {
            IpAddr::V4(ip) => ip.to_ipv6_mapped(),
            IpAddr::V6(ip) => ip,
        };
        let digest = Sha1::new()
            .chain_update(self.secret)
            .chain_update(period.to_be_bytes())
            .chain_update(ip.octets())
            .chain_update(client.port().to_be_bytes())
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(id)
    }
}

/// What the server made of one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub request: Result<Request, PacketError>,
    /// `None`: the datagram is dropped (see the module comment for when).
    pub reply: Option<Response>,
}

impl Exchange {
    /// A line for the trace about what was received.
    pub fn request_summary(&self) -> String {
        match &self.request {
            Ok(request) => request.to_string(),
            Err(error) => format!("malformed: {error}"),
        }
    }

    /// Why nothing was sent back, for the trace.
    pub fn drop_reason(&self) -> &'static str {
        match (&self.request, &self.reply) {
            (_, Some(_)) => "",
            (Ok(_), None) => "dropped: unknown or expired connection ID",
            (Err(_), None) => "dropped",
        }
    }
}

/// Answers one datagram from `client`.
pub fn answer(
    ids: &ConnectionIds,
    registry: &mut Registry,
    datagram: &[u8],
    client: SocketAddr,
    now: Instant,
) -> Exchange {
    // A v4-mapped source on a dual-stack socket is an IPv4 client, and gets IPv4 peers.
    let client = SocketAddr::new(client.ip().to_canonical(), client.port());
    let request = Request::decode(datagram);
    let reply = match &request {
        Ok(Request::Connect { transaction_id }) => Some(Response::Connect {
            transaction_id: *transaction_id,
            connection_id: ids.issue(client, now),
        }),
        Ok(Request::Announce(a)) => ids
            .check(a.connection_id, client, now)
            .then(|| announce(registry, a, client, now)),
        Ok(Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        }) => ids
            .check(*connection_id, client, now)
            .then(|| Response::Scrape {
                transaction_id: *transaction_id,
                stats: info_hashes.iter().map(|h| registry.scrape(h)).collect(),
            }),
        Err(error) => request_header(datagram)
            .filter(|h| h.action != ACTION_CONNECT && ids.check(h.connection_id, client, now))
            .map(|h| Response::Error {
                transaction_id: h.transaction_id,
                message: error.to_string(),
            }),
    };
    Exchange { request, reply }
}

fn announce(
    registry: &mut Registry,
    request: &AnnounceRequest,
    client: SocketAddr,
    now: Instant,
) -> Response {
    // BEP 15: the IP field cannot carry an IPv6 address; it is only meaningful from IPv4.
    let claimed = (client.is_ipv4() && !request.ip.is_unspecified()).then_some(request.ip.into());
    let families = if client.is_ipv4() {
        Families::V4
    } else {
        Families::V6
    };
    let announce = Announce {
        info_hash: request.info_hash,
        peer_id: request.peer_id,
        addr: SocketAddr::new(registered_ip(client.ip(), claimed), request.port),
        uploaded: request.uploaded,
        downloaded: request.downloaded,
        left: request.left,
        event: request.event,
        numwant: u32::try_from(request.num_want).ok(),
        families,
    };
    match registry.announce(&announce, now) {
        Ok(reply) => Response::Announce {
            transaction_id: request.transaction_id,
            interval: u32::try_from(reply.interval.as_secs()).unwrap_or(u32::MAX),
            leechers: reply.stats.incomplete,
            seeders: reply.stats.complete,
            peers: reply.peers.iter().map(|p| p.addr).collect(),
        },
        Err(refusal) => Response::Error {
            transaction_id: request.transaction_id,
            message: refusal.to_string(),
        },
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Connect { transaction_id } => write!(f, "connect tx={transaction_id:08x}"),
            Request::Announce(a) => {
                write!(
                    f,
                    "{} info_hash={}… port={} left={} uploaded={} downloaded={} numwant={} tx={:08x}",
                    announce_label(a.event),
                    short_hex(&a.info_hash.0),
                    a.port,
                    a.left,
                    a.uploaded,
                    a.downloaded,
                    a.num_want,
                    a.transaction_id
                )
            }
            Request::Scrape {
                info_hashes,
                transaction_id,
                ..
            } => write!(
                f,
                "scrape {} info-hashes tx={transaction_id:08x}",
                info_hashes.len()
            ),
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Connect {
                transaction_id,
                connection_id,
            } => write!(
                f,
                "connected id={connection_id:016x} tx={transaction_id:08x}"
            ),
            Response::Announce {
                interval,
                leechers,
                seeders,
                peers,
                transaction_id,
            } => write!(
                f,
                "interval={interval} seeders={seeders} leechers={leechers} → {} peers tx={transaction_id:08x}",
                peers.len()
            ),
            Response::Scrape {
                stats,
                transaction_id,
            } => write!(f, "scrape → {} swarms tx={transaction_id:08x}", stats.len()),
            Response::Error {
                message,
                transaction_id,
            } => write!(f, "error {message:?} tx={transaction_id:08x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::swarm::SwarmConfig;

    const CLIENT: &str = "127.0.0.1:50000";

    fn setup() -> (ConnectionIds, Registry, Instant) {
        let epoch = Instant::now();
        (
            ConnectionIds::new([7; 32], epoch),
            Registry::seeded(
                SwarmConfig {
                    interval: Duration::from_secs(120),
                    ..SwarmConfig::default()
                },
                1,
            ),
            epoch,
        )
    }

    fn connect(ids: &ConnectionIds, registry: &mut Registry, client: &str, now: Instant) -> u64 {
        let packet = Request::Connect { transaction_id: 1 }.encode();
        match answer(ids, registry, &packet, client.parse().unwrap(), now).reply {
            Some(Response::Connect { connection_id, .. }) => connection_id,
            other => panic!("{other:?}"),
        }
    }

    fn announce_request(connection_id: u64, peer: u8, left: u64) -> AnnounceRequest {
        AnnounceRequest {
            connection_id,
            transaction_id: 0xdead_beef,
            info_hash: InfoHash([0xaa; 20]),
            peer_id: [peer; 20],
            downloaded: 0,
            left,
            uploaded: 0,
            event: Event::Started,
            ip: Ipv4Addr::UNSPECIFIED,
            key: 9,
            num_want: -1,
            port: 6881 + u16::from(peer),
        }
    }

    #[test]
    fn connect_packet_vectors() {
        // BEP 15 connect request: magic, action 0, transaction ID.
        let request = [
            0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78,
        ];
        assert_eq!(
            Request::decode(&request),
            Ok(Request::Connect {
                transaction_id: 0x1234_5678
            })
        );
        assert_eq!(
            Request::Connect {
                transaction_id: 0x1234_5678
            }
            .encode(),
            request
        );
        let response = Response::Connect {
            transaction_id: 0x1234_5678,
            connection_id: 0x0102_0304_0506_0708,
        };
        let bytes = response.encode();
        assert_eq!(
            bytes,
            [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(Response::decode(&bytes, false), Ok(response));
    }

    #[test]
    fn announce_packet_vector() {
        let request = announce_request(0x1122_3344_5566_7788, 1, 1000);
        let bytes = Request::Announce(request.clone()).encode();
        assert_eq!(bytes.len(), ANNOUNCE_LEN);
        assert_eq!(&bytes[..8], &0x1122_3344_5566_7788u64.to_be_bytes());
        assert_eq!(&bytes[8..12], &[0, 0, 0, 1]);
        assert_eq!(&bytes[12..16], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&bytes[16..36], &[0xaa; 20]);
        assert_eq!(&bytes[64..72], &1000u64.to_be_bytes());
        assert_eq!(&bytes[80..84], &[0, 0, 0, 2], "started is 2");
        assert_eq!(&bytes[92..96], &[0xff; 4], "num_want -1");
        assert_eq!(&bytes[96..98], &6882u16.to_be_bytes());
        assert_eq!(
            Request::decode(&bytes),
            Ok(Request::Announce(request.clone()))
        );
        // BEP 41 options after the port are ignored.
        let mut extended = bytes.clone();
        extended.extend_from_slice(&[2, 9, b'/', b'a', b'n', b'n', b'o', b'u', b'n', b'c', b'e']);
        assert_eq!(Request::decode(&extended), Ok(Request::Announce(request)));
    }

    #[test]
    fn announce_response_vectors_v4_and_v6() {
        let v4 = Response::Announce {
            transaction_id: 5,
            interval: 1800,
            leechers: 2,
            seeders: 1,
            peers: vec!["10.0.0.1:6881".parse().unwrap()],
        };
        let bytes = v4.encode();
        assert_eq!(
            bytes,
            [
                0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 1, 10, 0, 0, 1, 0x1a, 0xe1
            ]
        );
        assert_eq!(Response::decode(&bytes, false), Ok(v4));
        let v6 = Response::Announce {
            transaction_id: 5,
            interval: 60,
            leechers: 0,
            seeders: 1,
            peers: vec!["[2001:db8::1]:51413".parse().unwrap()],
        };
        let bytes = v6.encode();
        assert_eq!(bytes.len(), 20 + 18);
        assert_eq!(Response::decode(&bytes, true), Ok(v6));
        assert_eq!(
            Response::decode(&bytes[..bytes.len() - 1], true),
            Err(PacketError::RaggedPeers(18))
        );
    }

    #[test]
    fn scrape_and_error_vectors() {
        let request = Request::Scrape {
            connection_id: 1,
            transaction_id: 2,
            info_hashes: vec![InfoHash([1; 20]), InfoHash([2; 20])],
        };
        let bytes = request.encode();
        assert_eq!(bytes.len(), 16 + 40);
        assert_eq!(Request::decode(&bytes), Ok(request));
        let response = Response::Scrape {
            transaction_id: 2,
            stats: vec![SwarmStats {
                complete: 3,
                downloaded: 4,
                incomplete: 5,
            }],
        };
        let bytes = response.encode();
        assert_eq!(
            bytes,
            [0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]
        );
        assert_eq!(Response::decode(&bytes, false), Ok(response));
        let error = [0, 0, 0, 3, 0, 0, 0, 9, b'n', b'o', b'p', b'e'];
        assert_eq!(
            Response::decode(&error, false),
            Ok(Response::Error {
                transaction_id: 9,
                message: "nope".into()
            })
        );
    }

    #[test]
    fn connect_then_announce_then_scrape() {
        let (ids, mut registry, now) = setup();
        let seeder = connect(&ids, &mut registry, "127.0.0.1:50001", now);
        let packet = Request::Announce(announce_request(seeder, 1, 0)).encode();
        let first = answer(
            &ids,
            &mut registry,
            &packet,
            "127.0.0.1:50001".parse().unwrap(),
            now,
        );
        assert!(
            matches!(first.reply, Some(Response::Announce { ref peers, .. }) if peers.is_empty())
        );
        let id = connect(&ids, &mut registry, CLIENT, now);
        let packet = Request::Announce(announce_request(id, 2, 10)).encode();
        let exchange = answer(&ids, &mut registry, &packet, CLIENT.parse().unwrap(), now);
        let Some(Response::Announce {
            transaction_id,
            interval,
            leechers,
            seeders,
            peers,
        }) = exchange.reply
        else {
            panic!("{exchange:?}")
        };
        assert_eq!(transaction_id, 0xdead_beef, "echoed");
        assert_eq!((interval, leechers, seeders), (120, 1, 1));
        assert_eq!(peers, vec!["127.0.0.1:6882".parse().unwrap()]);
        let scrape = Request::Scrape {
            connection_id: id,
            transaction_id: 77,
            info_hashes: vec![InfoHash([0xaa; 20]), InfoHash([0xbb; 20])],
        }
        .encode();
        let exchange = answer(&ids, &mut registry, &scrape, CLIENT.parse().unwrap(), now);
        assert_eq!(
            exchange.reply,
            Some(Response::Scrape {
                transaction_id: 77,
                stats: vec![
                    SwarmStats {
                        complete: 1,
                        incomplete: 1,
                        downloaded: 0
                    },
                    SwarmStats::default()
                ]
            })
        );
    }

    #[test]
    fn connection_ids_are_bound_to_address_and_time() {
        let (ids, _, epoch) = setup();
        let client: SocketAddr = CLIENT.parse().unwrap();
        let id = ids.issue(client, epoch + Duration::from_secs(59));
        assert!(ids.check(id, client, epoch + Duration::from_secs(60)));
        assert!(ids.check(id, client, epoch + Duration::from_secs(119)));
        assert!(!ids.check(id, client, epoch + Duration::from_secs(120)));
        assert!(!ids.check(id, "127.0.0.1:50001".parse().unwrap(), epoch));
        assert!(!ids.check(id, "127.0.0.2:50000".parse().unwrap(), epoch));
        let other_server = ConnectionIds::new([8; 32], epoch);
        assert!(!other_server.check(id, client, epoch + Duration::from_secs(59)));
        // A v4-mapped address is the same client.
        assert!(ids.check(
            id,
            "[::ffff:127.0.0.1]:50000".parse().unwrap(),
            epoch + Duration::from_secs(59)
        ));
    }

    #[test]
    fn wrong_connection_id_is_dropped() {
        let (ids, mut registry, now) = setup();
        let id = connect(&ids, &mut registry, CLIENT, now);
        let packet = Request::Announce(announce_request(id ^ 1, 1, 0)).encode();
        let exchange = answer(&ids, &mut registry, &packet, CLIENT.parse().unwrap(), now);
        assert_eq!(exchange.reply, None);
        assert_eq!(registry.peer_count(), 0);
        // Someone else's ID from another address is no good either.
        let packet = Request::Announce(announce_request(id, 1, 0)).encode();
        let spoofed = answer(
            &ids,
            &mut registry,
            &packet,
            "127.0.0.9:1".parse().unwrap(),
            now,
        );
        assert_eq!(spoofed.reply, None);
        // Expired.
        let late = now + Duration::from_secs(121);
        let exchange = answer(&ids, &mut registry, &packet, CLIENT.parse().unwrap(), late);
        assert_eq!(exchange.reply, None);
    }

    #[test]
    fn short_and_strange_packets() {
        let (ids, mut registry, now) = setup();
        let client: SocketAddr = CLIENT.parse().unwrap();
        for len in 0..HEADER_LEN {
            let exchange = answer(&ids, &mut registry, &vec![0; len], client, now);
            assert_eq!(exchange.reply, None, "{len} bytes");
            assert!(matches!(
                exchange.request,
                Err(PacketError::TooShort { .. })
            ));
        }
        // A connect without the magic: dropped (it may not be BEP 15 at all).
        let mut bad_magic = Request::Connect { transaction_id: 1 }.encode();
        bad_magic[7] ^= 1;
        let exchange = answer(&ids, &mut registry, &bad_magic, client, now);
        assert_eq!(exchange.request, Err(PacketError::BadProtocolId));
        assert_eq!(exchange.reply, None);
        // With a valid connection ID, broken requests get an error naming the rule.
        let id = connect(&ids, &mut registry, CLIENT, now);
        let full = Request::Announce(announce_request(id, 1, 0)).encode();
        for len in HEADER_LEN..ANNOUNCE_LEN {
            let exchange = answer(&ids, &mut registry, &full[..len], client, now);
            let Some(Response::Error {
                transaction_id,
                message,
            }) = exchange.reply
            else {
                panic!("{len}: {exchange:?}")
            };
            assert_eq!(transaction_id, 0xdead_beef);
            assert!(message.contains("shorter"), "{message}");
        }
        let mut strange = full.clone();
        strange[8..12].copy_from_slice(&9u32.to_be_bytes());
        let exchange = answer(&ids, &mut registry, &strange, client, now);
        assert!(
            matches!(exchange.reply, Some(Response::Error { ref message, .. }) if message.contains("action 9"))
        );
        let mut bad_event = full.clone();
        bad_event[80..84].copy_from_slice(&7u32.to_be_bytes());
        let exchange = answer(&ids, &mut registry, &bad_event, client, now);
        assert!(
            matches!(exchange.reply, Some(Response::Error { ref message, .. }) if message.contains("event 7"))
        );
        // The same broken packets without a valid ID: silence.
        strange[..8].copy_from_slice(&0u64.to_be_bytes());
        assert_eq!(
            answer(&ids, &mut registry, &strange, client, now).reply,
            None
        );
        assert_eq!(registry.peer_count(), 0);
    }

    #[test]
    fn huge_num_want_is_capped() {
        let (ids, mut registry, now) = setup();
        for peer in 0..=220u8 {
            let client = SocketAddr::from(([127, 1, 0, peer], 40000));
            let id = ids.issue(client, now);
            let mut a = announce_request(id, peer, 5);
            a.ip = Ipv4Addr::new(127, 1, 0, peer);
            let packet = Request::Announce(a).encode();
            answer(&ids, &mut registry, &packet, client, now);
        }
        let id = ids.issue(CLIENT.parse().unwrap(), now);
        let mut a = announce_request(id, 250, 5);
        a.num_want = i32::MAX;
        let packet = Request::Announce(a).encode();
        let exchange = answer(&ids, &mut registry, &packet, CLIENT.parse().unwrap(), now);
        let Some(reply @ Response::Announce { .. }) = exchange.reply else {
            panic!()
        };
        let Response::Announce { ref peers, .. } = reply else {
            unreachable!()
        };
        assert_eq!(peers.len(), 200);
        assert_eq!(reply.encode().len(), 20 + 6 * 200);
    }

    #[test]
    fn scrape_of_100_hashes_is_refused_74_answered() {
        let (ids, mut registry, now) = setup();
        let id = connect(&ids, &mut registry, CLIENT, now);
        let hashes = |n: u8| (0..n).map(|i| InfoHash([i; 20])).collect::<Vec<_>>();
        let too_many = Request::Scrape {
            connection_id: id,
            transaction_id: 3,
            info_hashes: hashes(100),
        }
        .encode();
        assert!(too_many.len() <= MAX_REQUEST_LEN);
        let exchange = answer(&ids, &mut registry, &too_many, CLIENT.parse().unwrap(), now);
        assert!(matches!(
            exchange.reply,
            Some(Response::Error {
                transaction_id: 3,
                ..
            })
        ));
        let most = Request::Scrape {
            connection_id: id,
            transaction_id: 4,
            info_hashes: hashes(MAX_SCRAPE_HASHES as u8),
        }
        .encode();
        let exchange = answer(&ids, &mut registry, &most, CLIENT.parse().unwrap(), now);
        let Some(Response::Scrape { stats, .. }) = exchange.reply else {
            panic!()
        };
        assert_eq!(stats.len(), MAX_SCRAPE_HASHES);
        let empty = Request::Scrape {
            connection_id: id,
            transaction_id: 5,
            info_hashes: vec![],
        }
        .encode();
        let exchange = answer(&ids, &mut registry, &empty, CLIENT.parse().unwrap(), now);
        assert!(matches!(
            exchange.reply,
            Some(Response::Error {
                transaction_id: 5,
                ..
            })
        ));
    }

    #[test]
    fn ipv6_clients_get_ipv6_peers() {
        let (ids, mut registry, now) = setup();
        for (peer, client) in [(1u8, "127.0.0.1:1000"), (2, "[::1]:1001")] {
            let id = ids.issue(client.parse().unwrap(), now);
            let packet = Request::Announce(announce_request(id, peer, 5)).encode();
            answer(&ids, &mut registry, &packet, client.parse().unwrap(), now);
        }
        let client: SocketAddr = "[::1]:2000".parse().unwrap();
        let id = ids.issue(client, now);
        let packet = Request::Announce(announce_request(id, 3, 5)).encode();
        let reply = answer(&ids, &mut registry, &packet, client, now)
            .reply
            .unwrap();
        let bytes = reply.encode();
        assert_eq!(bytes.len(), 20 + 18);
        let Ok(Response::Announce { peers, .. }) = Response::decode(&bytes, true) else {
            panic!()
        };
        assert_eq!(peers, vec!["[::1]:6883".parse().unwrap()]);
    }

    #[test]
    fn error_messages_are_bounded() {
        let long = "é".repeat(400);
        let bytes = Response::Error {
            transaction_id: 1,
            message: long,
        }
        .encode();
        assert!(bytes.len() <= 8 + MAX_MESSAGE_LEN);
        let decoded = Response::decode(&bytes, false).unwrap();
        assert!(
            matches!(decoded, Response::Error { message, .. } if message.chars().all(|c| c == 'é'))
        );
    }

    fn request() -> impl proptest::strategy::Strategy<Value = Request> {
        use proptest::prelude::*;
        let announce = (
            any::<u64>(),
            any::<u32>(),
            any::<[u8; 20]>(),
            any::<[u8; 20]>(),
            any::<(u64, u64, u64)>(),
            0u32..4,
            any::<(u32, u32, i32, u16)>(),
        )
            .prop_map(
                |(connection_id, transaction_id, hash, peer_id, counts, event, rest)| {
                    Request::Announce(AnnounceRequest {
                        connection_id,
                        transaction_id,
                        info_hash: InfoHash(hash),
                        peer_id,
                        downloaded: counts.0,
                        left: counts.1,
                        uploaded: counts.2,
                        event: event_from_wire(event).unwrap(),
                        ip: Ipv4Addr::from(rest.0),
                        key: rest.1,
                        num_want: rest.2,
                        port: rest.3,
                    })
                },
            );
        let scrape = (
            any::<u64>(),
            any::<u32>(),
            proptest::collection::vec(any::<[u8; 20]>(), 1..=MAX_SCRAPE_HASHES),
        )
            .prop_map(|(connection_id, transaction_id, hashes)| Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes: hashes.into_iter().map(InfoHash).collect(),
            });
        prop_oneof![
            any::<u32>().prop_map(|transaction_id| Request::Connect { transaction_id }),
            announce,
            scrape,
        ]
    }

    proptest::proptest! {
        #[test]
        fn requests_round_trip(request in request()) {
            proptest::prop_assert_eq!(Request::decode(&request.encode()), Ok(request));
        }

        #[test]
        fn any_datagram_is_answered_or_dropped_without_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2100),
        ) {
            let (ids, mut registry, now) = setup();
            let exchange = answer(&ids, &mut registry, &bytes, CLIENT.parse().unwrap(), now);
            // Without a connection ID from us only a connect is answered, and never with more
            // bytes than came in: nothing to amplify.
            if let Some(reply) = exchange.reply {
                let is_connect = matches!(reply, Response::Connect { .. });
                proptest::prop_assert!(is_connect);
                proptest::prop_assert!(reply.encode().len() <= bytes.len());
            }
            let _ = Response::decode(&bytes, false);
            let _ = Response::decode(&bytes, true);
        }
    }
}
