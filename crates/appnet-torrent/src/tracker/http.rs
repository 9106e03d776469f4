//! The HTTP tracker, sans-IO: a request-target in, a status and a bencoded body out.
//!
//! - BEP 3 "trackers": `GET /announce?info_hash=…&peer_id=…&port=…&uploaded=…&downloaded=…
//!   &left=…&event=…`; the answer is a dictionary with `interval` and `peers`, or with only
//!   `failure reason`.
//! - BEP 23: `compact=1` asks for `peers` as one string of 6 bytes per IPv4 peer (address, port,
//!   big-endian); we answer compactly unless the client says `compact=0`, and then give the
//!   BEP 3 list of dictionaries (`peer id`, `ip`, `port`), without `peer id` under `no_peer_id=1`.
//! - BEP 7: IPv6 peers go in `peers6`, 18 bytes each, next to `peers`.
//! - BEP 48: `GET /scrape?info_hash=…&info_hash=…` answers `files`: info-hash → `complete`,
//!   `downloaded`, `incomplete`. A scrape without info_hash (the "full scrape" some trackers
//!   offer) is refused: it would list every swarm to anyone who asks.
//!
//! Query values are RFC 3986 percent-encoded: `info_hash` and `peer_id` are 20 raw bytes, and a
//! `+` is a plus sign, not a space (that is HTML forms' rule, which clients do not follow here).
//! A malformed request gets a `failure reason` with status 200, because that is where every
//! client looks for the reason to show its user.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use thiserror::Error;

use super::swarm::{Announce, AnnounceReply, Event, Families, Refusal, Registry, SwarmStats};
use super::{InfoHash, MAX_SCRAPE_HASHES, PeerId, announce_label, registered_ip, short_hex};
use crate::bencode::Owned;

/// A request the tracker understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerRequest {
    Announce(AnnounceQuery),
    Scrape(Vec<InfoHash>),
}

/// The parameters of an HTTP announce (BEP 3, 23, 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceQuery {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Event,
    pub numwant: Option<u32>,
    pub compact: bool,
    pub no_peer_id: bool,
    /// The `ip` parameter, when it was an IP address (names are ignored).
    pub ip: Option<IpAddr>,
}

impl AnnounceQuery {
    /// The announce as the registry takes it, from a connection whose peer is `source`.
    pub fn to_announce(&self, source: SocketAddr) -> Announce {
        Announce {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            addr: SocketAddr::new(registered_ip(source.ip(), self.ip), self.port),
            uploaded: self.uploaded,
            downloaded: self.downloaded,
            left: self.left,
            event: self.event,
            numwant: self.numwant,
            families: Families::Both,
        }
    }
}

/// Why a request was not understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("no such tracker path: use /announce or /scrape")]
    NotFound,
    #[error("bad percent-encoding in the query string")]
    BadPercentEncoding,
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("parameter {0} given more than once")]
    Repeated(&'static str),
    #[error("{0} must be 20 bytes")]
    NotTwentyBytes(&'static str),
    #[error("{0} must be a decimal number")]
    NotANumber(&'static str),
    #[error("port must be 1 to 65535")]
    BadPort,
    #[error("unknown event: use started, completed, stopped or none")]
    BadEvent,
    #[error("a scrape needs at least one info_hash")]
    FullScrape,
    #[error("too many info_hash values in one scrape (at most {MAX_SCRAPE_HASHES})")]
    TooManyHashes,
}

/// What the tracker answers, and a line for the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// Bencoded (a short text for 404).
    pub body: Vec<u8>,
    pub outcome: Outcome,
}

/// What came of a request, for the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Announced {
        peers: usize,
        stats: SwarmStats,
        interval: u64,
    },
    Scraped(usize),
    Failed(String),
    NotFound,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Announced {
                peers,
                stats,
                interval,
            } => write!(
                f,
                "interval={interval} complete={} incomplete={} → {peers} peers",
                stats.complete, stats.incomplete
            ),
            Outcome::Scraped(n) => write!(f, "scrape → {n} swarms"),
            Outcome::Failed(reason) => write!(f, "failure reason: {reason}"),
            Outcome::NotFound => f.write_str("404 not a tracker path"),
        }
    }
}

impl fmt::Display for TrackerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerRequest::Announce(q) => {
                write!(
                    f,
                    "{} info_hash={}… port={} left={} uploaded={} downloaded={}",
                    announce_label(q.event),
                    short_hex(&q.info_hash.0),
                    q.port,
                    q.left,
                    q.uploaded,
                    q.downloaded
                )?;
                if let Some(n) = q.numwant {
                    write!(f, " numwant={n}")?;
                }
                if !q.compact {
                    f.write_str(" compact=0")?;
                }
                Ok(())
            }
            TrackerRequest::Scrape(hashes) => write!(f, "scrape {} info_hash", hashes.len()),
        }
    }
}

/// Parses a request-target: `/announce?…` or `/scrape?…` (anything else is
/// [`QueryError::NotFound`]).
pub fn parse_target(target: &str) -> Result<TrackerRequest, QueryError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/announce" => parse_announce(query).map(TrackerRequest::Announce),
        "/scrape" => parse_scrape(query).map(TrackerRequest::Scrape),
        _ => Err(QueryError::NotFound),
    }
}

/// Answers one GET: parses it, asks the registry, encodes the answer.
pub fn respond(
    registry: &mut Registry,
    request: &Result<TrackerRequest, QueryError>,
    source: SocketAddr,
    now: Instant,
) -> HttpReply {
    match request {
        Err(QueryError::NotFound) => HttpReply {
            status: 404,
            body: b"not a tracker path: use /announce or /scrape\n".to_vec(),
            outcome: Outcome::NotFound,
        },
        Err(error) => failure(&error.to_string()),
        Ok(TrackerRequest::Announce(query)) => {
            match registry.announce(&query.to_announce(source), now) {
                Ok(reply) => HttpReply {
                    status: 200,
                    body: announce_body(&reply, query.compact, query.no_peer_id),
                    outcome: Outcome::Announced {
                        peers: reply.peers.len(),
                        stats: reply.stats,
                        interval: reply.interval.as_secs(),
                    },
                },
                Err(refusal) => refused(refusal),
            }
        }
        Ok(TrackerRequest::Scrape(hashes)) => {
            let stats: Vec<(InfoHash, SwarmStats)> =
                hashes.iter().map(|h| (*h, registry.scrape(h))).collect();
            HttpReply {
                status: 200,
                body: scrape_body(&stats),
                outcome: Outcome::Scraped(stats.len()),
            }
        }
    }
}

fn refused(refusal: Refusal) -> HttpReply {
    failure(&refusal.to_string())
}

fn failure(reason: &str) -> HttpReply {
    HttpReply {
        status: 200,
        body: failure_body(reason),
        outcome: Outcome::Failed(reason.to_owned()),
    }
}

/// `d14:failure reason…e` (BEP 3).
pub fn failure_body(reason: &str) -> Vec<u8> {
    Owned::dict([("failure reason", Owned::bytes(reason))]).encode()
}

/// The announce answer: counts, intervals and the peers, compact (BEP 23, BEP 7) or as the
/// BEP 3 list of dictionaries.
pub fn announce_body(reply: &AnnounceReply, compact: bool, no_peer_id: bool) -> Vec<u8> {
    let secs = |d: std::time::Duration| Owned::Int(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut entries = vec![
        ("complete", Owned::Int(reply.stats.complete.into())),
        ("incomplete", Owned::Int(reply.stats.incomplete.into())),
        ("interval", secs(reply.interval)),
        ("min interval", secs(reply.min_interval)),
    ];
    if compact {
        let (v4, v6) = compact_peers(reply.peers.iter().map(|p| p.addr));
        entries.push(("peers", Owned::Bytes(v4)));
        if !v6.is_empty() {
            entries.push(("peers6", Owned::Bytes(v6)));
        }
    } else {
        let list = reply
            .peers
            .iter()
            .map(|peer| {
                let mut fields = vec![
                    ("ip", Owned::bytes(peer.addr.ip().to_string())),
                    ("port", Owned::Int(peer.addr.port().into())),
                ];
                if !no_peer_id {
                    fields.push(("peer id", Owned::bytes(peer.peer_id)));
                }
                Owned::dict(fields)
            })
            .collect();
        entries.push(("peers", Owned::List(list)));
    }
    Owned::dict(entries).encode()
}

/// BEP 23 and BEP 7: IPv4 peers as 4 address bytes and 2 port bytes, IPv6 peers as 16 + 2.
pub fn compact_peers(peers: impl Iterator<Item = SocketAddr>) -> (Vec<u8>, Vec<u8>) {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for addr in peers {
        match addr.ip().to_canonical() {
            IpAddr::V4(ip) => {
                v4.extend_from_slice(&ip.octets());
                v4.extend_from_slice(&addr.port().to_be_bytes());
            }
            IpAddr::V6(ip) => {
                v6.extend_from_slice(&ip.octets());
                v6.extend_from_slice(&addr.port().to_be_bytes());
            }
        }
    }
    (v4, v6)
}

/// BEP 48: `d5:filesd20:<hash>d8:completei…e10:downloadedi…e10:incompletei…eeee`.
pub fn scrape_body(stats: &[(InfoHash, SwarmStats)]) -> Vec<u8> {
    let files = stats.iter().map(|(hash, s)| {
        (
            hash.0.to_vec(),
            Owned::dict([
                ("complete", Owned::Int(s.complete.into())),
                ("downloaded", Owned::Int(s.downloaded.into())),
                ("incomplete", Owned::Int(s.incomplete.into())),
            ]),
        )
    });
    Owned::dict([("files", Owned::dict(files))]).encode()
}

/// The announce parameters: the required `info_hash`, `peer_id`, `port` and `left`; the
/// rest optional. Unknown parameters (`key`, `trackerid`, `supportcrypto`, …) are ignored,
/// as BEP 3 clients add their own.
fn parse_announce(query: &str) -> Result<AnnounceQuery, QueryError> {
    let mut fields = AnnounceFields::default();
    for pair in pairs(query) {
        let (name, value) = pair?;
        fields.set(&name, value)?;
    }
    fields.finish()
}

/// Each announce parameter as it was given (once at most).
#[derive(Default)]
struct AnnounceFields {
    info_hash: Option<Vec<u8>>,
    peer_id: Option<Vec<u8>>,
    port: Option<Vec<u8>>,
    uploaded: Option<Vec<u8>>,
    downloaded: Option<Vec<u8>>,
    left: Option<Vec<u8>>,
    event: Option<Vec<u8>>,
    numwant: Option<Vec<u8>>,
    compact: Option<Vec<u8>>,
    no_peer_id: Option<Vec<u8>>,
    ip: Option<Vec<u8>>,
}

impl AnnounceFields {
    fn set(&mut self, name: &[u8], value: Vec<u8>) -> Result<(), QueryError> {
        let (slot, label) = match name {
            b"info_hash" => (&mut self.info_hash, "info_hash"),
            b"peer_id" => (&mut self.peer_id, "peer_id"),
            b"port" => (&mut self.port, "port"),
            b"uploaded" => (&mut self.uploaded, "uploaded"),
            b"downloaded" => (&mut self.downloaded, "downloaded"),
            b"left" => (&mut self.left, "left"),
            b"event" => (&mut self.event, "event"),
            b"numwant" => (&mut self.numwant, "numwant"),
            b"compact" => (&mut self.compact, "compact"),
            b"no_peer_id" => (&mut self.no_peer_id, "no_peer_id"),
            b"ip" => (&mut self.ip, "ip"),
            _ => return Ok(()),
        };
        // Two values of one parameter: which one counts is anyone's guess, so neither does.
        if slot.replace(value).is_some() {
            return Err(QueryError::Repeated(label));
        }
        Ok(())
    }

    fn finish(self) -> Result<AnnounceQuery, QueryError> {
        let port = number(
            "port",
            self.port.as_deref().ok_or(QueryError::Missing("port"))?,
        )?;
        Ok(AnnounceQuery {
            info_hash: InfoHash(twenty("info_hash", self.info_hash)?),
            peer_id: twenty("peer_id", self.peer_id)?,
            port: u16::try_from(port)
                .ok()
                .filter(|&p| p != 0)
                .ok_or(QueryError::BadPort)?,
            left: number(
                "left",
                self.left.as_deref().ok_or(QueryError::Missing("left"))?,
            )?,
            uploaded: optional_number("uploaded", self.uploaded.as_deref())?,
            downloaded: optional_number("downloaded", self.downloaded.as_deref())?,
            event: event(self.event.as_deref())?,
            numwant: self.numwant.as_deref().map(numwant).transpose()?.flatten(),
            compact: self.compact.as_deref() != Some(b"0"),
            no_peer_id: self.no_peer_id.as_deref() == Some(b"1"),
            ip: self
                .ip
                .and_then(|ip| String::from_utf8(ip).ok())
                .and_then(|ip| ip.parse().ok()),
        })
    }
}

/// The info-hashes of a scrape (BEP 48), at most [`MAX_SCRAPE_HASHES`], repeats answered once.
fn parse_scrape(query: &str) -> Result<Vec<InfoHash>, QueryError> {
    let mut hashes: Vec<InfoHash> = Vec::new();
    for pair in pairs(query) {
        let (name, value) = pair?;
        if name != b"info_hash" {
            continue;
        }
        let hash = InfoHash(twenty("info_hash", Some(value))?);
        if !hashes.contains(&hash) {
            if hashes.len() == MAX_SCRAPE_HASHES {
                return Err(QueryError::TooManyHashes);
            }
            hashes.push(hash);
        }
    }
    if hashes.is_empty() {
        return Err(QueryError::FullScrape);
    }
    Ok(hashes)
}

/// `name=value` pairs of a query, both percent-decoded; empty pairs (`a=1&&b=2`) are skipped.
fn pairs(query: &str) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), QueryError>> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
}

/// RFC 3986 §2.1: `%` and two hex digits stand for one byte; every other byte is itself.
pub fn percent_decode(text: &str) -> Result<Vec<u8>, QueryError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'%' {
            let digits = bytes
                .get(at + 1..at + 3)
                .ok_or(QueryError::BadPercentEncoding)?;
            let hex = std::str::from_utf8(digits).map_err(|_| QueryError::BadPercentEncoding)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(QueryError::BadPercentEncoding);
            }
            out.push(u8::from_str_radix(hex, 16).map_err(|_| QueryError::BadPercentEncoding)?);
            at += 3;
        } else {
            out.push(byte);
            at += 1;
        }
    }
    Ok(out)
}

fn twenty(name: &'static str, value: Option<Vec<u8>>) -> Result<[u8; 20], QueryError> {
    let value = value.ok_or(QueryError::Missing(name))?;
    value
        .try_into()
        .map_err(|_| QueryError::NotTwentyBytes(name))
}

/// A non-negative decimal that fits in 64 bits.
fn number(name: &'static str, value: &[u8]) -> Result<u64, QueryError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(QueryError::NotANumber(name));
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(QueryError::NotANumber(name))
}

fn optional_number(name: &'static str, value: Option<&[u8]>) -> Result<u64, QueryError> {
    value.map_or(Ok(0), |v| number(name, v))
}

/// `numwant`: a count, where any huge number means "as many as you give" and a negative one
/// (some clients send -1) means "the default".
fn numwant(value: &[u8]) -> Result<Option<u32>, QueryError> {
    if let Some(digits) = value.strip_prefix(b"-") {
        number("numwant", digits)?;
        return Ok(None);
    }
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(QueryError::NotANumber("numwant"));
    }
    let n = number("numwant", value).unwrap_or(u64::MAX);
    Ok(Some(u32::try_from(n).unwrap_or(u32::MAX)))
}

fn event(value: Option<&[u8]>) -> Result<Event, QueryError> {
    match value {
        None | Some(b"" | b"empty" | b"none" | b"paused") => Ok(Event::None),
        Some(b"started") => Ok(Event::Started),
        Some(b"completed") => Ok(Event::Completed),
        Some(b"stopped") => Ok(Event::Stopped),
        Some(_) => Err(QueryError::BadEvent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::{Value, decode};
    use crate::tracker::swarm::SwarmConfig;

    const HASH: &str = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";
    const HASH_BYTES: [u8; 20] = [
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x12, 0x34, 0x56, 0x78, 0x9a,
    ];

    fn announce_target(peer: &str, port: u16, left: u64, extra: &str) -> String {
        format!(
            "/announce?info_hash={HASH}&peer_id={peer}&port={port}&uploaded=0&downloaded=0&left={left}{extra}"
        )
    }

    fn ask(registry: &mut Registry, target: &str, from: &str) -> HttpReply {
        let request = parse_target(target);
        respond(registry, &request, from.parse().unwrap(), Instant::now())
    }

    fn registry() -> Registry {
        Registry::seeded(SwarmConfig::default(), 3)
    }

    #[test]
    fn parses_an_announce() {
        let target = announce_target(
            "-AR1360-abcdefghijkl",
            6881,
            1000,
            "&event=started&numwant=10&key=1&compact=1&supportcrypto=1",
        );
        let Ok(TrackerRequest::Announce(q)) = parse_target(&target) else {
            panic!("not an announce");
        };
        assert_eq!(q.info_hash.0, HASH_BYTES);
        assert_eq!(&q.peer_id, b"-AR1360-abcdefghijkl");
        assert_eq!(q.port, 6881);
        assert_eq!(q.left, 1000);
        assert_eq!(q.event, Event::Started);
        assert_eq!(q.numwant, Some(10));
        assert!(q.compact);
    }

    #[test]
    fn compact_reply_with_peers_and_peers6() {
        let mut registry = registry();
        ask(
            &mut registry,
            &announce_target("AAAAAAAAAAAAAAAAAAAA", 6881, 0, ""),
            "127.0.0.1:40000",
        );
        ask(
            &mut registry,
            &announce_target("BBBBBBBBBBBBBBBBBBBB", 6882, 10, ""),
            "[::1]:40001",
        );
        let reply = ask(
            &mut registry,
            &announce_target("CCCCCCCCCCCCCCCCCCCC", 6883, 10, "&event=started"),
            "127.0.0.2:40002",
        );
        assert_eq!(reply.status, 200);
        let value = decode(&reply.body).unwrap();
        let dict = value.as_dict().unwrap();
        assert_eq!(dict.int("interval"), Some(1800));
        assert_eq!(dict.int("min interval"), Some(1800));
        assert_eq!(dict.int("complete"), Some(1));
        assert_eq!(dict.int("incomplete"), Some(2));
        assert_eq!(dict.bytes("peers"), Some(&[127, 0, 0, 1, 0x1a, 0xe1][..]));
        let mut v6 = [0u8; 18];
        v6[15] = 1;
        v6[16..].copy_from_slice(&6882u16.to_be_bytes());
        assert_eq!(dict.bytes("peers6"), Some(&v6[..]));
    }

    #[test]
    fn dictionary_peers_when_compact_is_0() {
        let mut registry = registry();
        ask(
            &mut registry,
            &announce_target("AAAAAAAAAAAAAAAAAAAA", 6881, 0, ""),
            "127.0.0.1:40000",
        );
        let reply = ask(
            &mut registry,
            &announce_target("BBBBBBBBBBBBBBBBBBBB", 6882, 5, "&compact=0"),
            "127.0.0.1:40001",
        );
        let value = decode(&reply.body).unwrap();
        let peers = value.as_dict().unwrap().list("peers").unwrap();
        let peer = peers[0].as_dict().unwrap();
        assert_eq!(peer.str("ip"), Some("127.0.0.1"));
        assert_eq!(peer.int("port"), Some(6881));
        assert_eq!(peer.bytes("peer id"), Some(&b"AAAAAAAAAAAAAAAAAAAA"[..]));
        let reply = ask(
            &mut registry,
            &announce_target("BBBBBBBBBBBBBBBBBBBB", 6882, 5, "&compact=0&no_peer_id=1"),
            "127.0.0.1:40001",
        );
        let value = decode(&reply.body).unwrap();
        let peers = value.as_dict().unwrap().list("peers").unwrap();
        assert_eq!(peers[0].as_dict().unwrap().get("peer id"), None);
    }

    #[test]
    fn the_ip_parameter_counts_only_between_loopback_addresses() {
        let target = announce_target("AAAAAAAAAAAAAAAAAAAA", 6881, 0, "&ip=127.0.0.9");
        let Ok(TrackerRequest::Announce(q)) = parse_target(&target) else {
            panic!()
        };
        assert_eq!(
            q.to_announce("127.0.0.1:5000".parse().unwrap()).addr,
            "127.0.0.9:6881".parse().unwrap()
        );
        assert_eq!(
            q.to_announce("192.0.2.1:5000".parse().unwrap()).addr,
            "192.0.2.1:6881".parse().unwrap()
        );
        let named = announce_target("AAAAAAAAAAAAAAAAAAAA", 6881, 0, "&ip=example.com");
        let Ok(TrackerRequest::Announce(q)) = parse_target(&named) else {
            panic!()
        };
        assert_eq!(q.ip, None);
    }

    fn failure_of(reply: &HttpReply) -> String {
        let value = decode(&reply.body).unwrap();
        let Value::Dict(dict) = value else { panic!() };
        assert_eq!(dict.entries.len(), 1, "only the failure reason");
        dict.str("failure reason").unwrap().to_owned()
    }

    #[test]
    fn hostile_announces_get_a_failure_reason() {
        let mut registry = registry();
        let cases = [
            (
                "/announce?info_hash=%zz&peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&left=0",
                "percent",
            ),
            (
                "/announce?info_hash=%1&peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&left=0",
                "percent",
            ),
            (
                "/announce?info_hash=%&peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&left=0",
                "percent",
            ),
            (
                "/announce?info_hash=short&peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&left=0",
                "20 bytes",
            ),
            (
                "/announce?peer_id=AAAAAAAAAAAAAAAAAAAA&port=1&left=0",
                "missing",
            ),
            ("/announce", "missing"),
            (
                &announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "&left=5"),
                "more than once",
            ),
            (&announce_target("AAAAAAAAAAAAAAAAAAAA", 0, 0, ""), "port"),
            (
                &announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "").replace("port=1", "port=70000"),
                "port",
            ),
            (
                &announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "").replace("left=0", "left=-1"),
                "decimal",
            ),
            (
                &announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "")
                    .replace("left=0", "left=99999999999999999999999"),
                "decimal",
            ),
            (
                &announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "&event=exploded"),
                "event",
            ),
            (
                &announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "&numwant=lots"),
                "numwant",
            ),
        ];
        for (target, expected) in cases {
            let reply = ask(&mut registry, target, "127.0.0.1:1");
            assert_eq!(reply.status, 200, "{target}");
            let reason = failure_of(&reply);
            assert!(reason.contains(expected), "{target}: {reason}");
        }
        assert_eq!(registry.peer_count(), 0);
    }

    #[test]
    fn huge_numwant_is_capped_not_refused() {
        let target = announce_target(
            "AAAAAAAAAAAAAAAAAAAA",
            1,
            0,
            "&numwant=99999999999999999999999",
        );
        let Ok(TrackerRequest::Announce(q)) = parse_target(&target) else {
            panic!()
        };
        assert_eq!(q.numwant, Some(u32::MAX));
        let target = announce_target("AAAAAAAAAAAAAAAAAAAA", 1, 0, "&numwant=-1");
        let Ok(TrackerRequest::Announce(q)) = parse_target(&target) else {
            panic!()
        };
        assert_eq!(q.numwant, None);
    }

    #[test]
    fn plus_is_a_plus_sign() {
        assert_eq!(percent_decode("a+b%20c").unwrap(), b"a+b c");
        assert_eq!(percent_decode("%ff%00").unwrap(), [0xff, 0]);
        assert_eq!(percent_decode("%é"), Err(QueryError::BadPercentEncoding));
    }

    #[test]
    fn other_paths_are_404() {
        let mut registry = registry();
        for target in ["/", "/announce/x?info_hash=1", "/favicon.ico", "*"] {
            assert_eq!(ask(&mut registry, target, "127.0.0.1:1").status, 404);
        }
    }

    #[test]
    fn scrape_answers_every_hash_asked() {
        let mut registry = registry();
        ask(
            &mut registry,
            &announce_target("AAAAAAAAAAAAAAAAAAAA", 6881, 0, "&event=completed"),
            "127.0.0.1:1",
        );
        let other = "%00".repeat(20);
        let reply = ask(
            &mut registry,
            &format!("/scrape?info_hash={HASH}&info_hash={other}&info_hash={HASH}"),
            "127.0.0.1:1",
        );
        let value = decode(&reply.body).unwrap();
        let files = value.as_dict().unwrap().dict("files").unwrap();
        assert_eq!(files.entries.len(), 2);
        let ours = files
            .entries
            .iter()
            .find(|(k, _)| *k == HASH_BYTES)
            .unwrap();
        let ours = ours.1.as_dict().unwrap();
        assert_eq!(ours.int("complete"), Some(1));
        assert_eq!(ours.int("incomplete"), Some(0));
        assert_eq!(ours.int("downloaded"), Some(1));
        let zero = files.entries.iter().find(|(k, _)| *k == [0; 20]).unwrap();
        assert_eq!(zero.1.as_dict().unwrap().int("complete"), Some(0));
    }

    #[test]
    fn scrape_limits() {
        let mut registry = registry();
        let reply = ask(&mut registry, "/scrape", "127.0.0.1:1");
        assert!(failure_of(&reply).contains("at least one"));
        let hundred: String = (0..100u8)
            .map(|i| format!("&info_hash={}", format!("%{i:02x}").repeat(20)))
            .collect();
        let reply = ask(
            &mut registry,
            &format!("/scrape?{}", &hundred[1..]),
            "127.0.0.1:1",
        );
        assert!(failure_of(&reply).contains("too many"));
        let most: String = (0..MAX_SCRAPE_HASHES as u8)
            .map(|i| format!("&info_hash={}", format!("%{i:02x}").repeat(20)))
            .collect();
        let reply = ask(
            &mut registry,
            &format!("/scrape?{}", &most[1..]),
            "127.0.0.1:1",
        );
        assert_eq!(reply.outcome, Outcome::Scraped(MAX_SCRAPE_HASHES));
    }

    #[test]
    fn refusals_become_failure_reasons() {
        let mut registry = Registry::seeded(
            SwarmConfig {
                allow: Some(Default::default()),
                ..SwarmConfig::default()
            },
            1,
        );
        let reply = ask(
            &mut registry,
            &announce_target("AAAAAAAAAAAAAAAAAAAA", 6881, 0, ""),
            "127.0.0.1:1",
        );
        assert!(failure_of(&reply).contains("does not serve"));
    }

    proptest::proptest! {
        #[test]
        fn any_target_parses_or_fails_cleanly(target in "/(announce|scrape)\\?[ -~]{0,300}") {
            let mut registry = registry();
            let reply = ask(&mut registry, &target, "127.0.0.1:1");
            proptest::prop_assert!(decode(&reply.body).is_ok());
        }

        #[test]
        fn any_query_bytes_parse_or_fail_cleanly(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let query = String::from_utf8_lossy(&bytes);
            let _ = parse_target(&format!("/announce?{query}"));
            let _ = parse_target(&format!("/scrape?{query}"));
        }
    }
}
