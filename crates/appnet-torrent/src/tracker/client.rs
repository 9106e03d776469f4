//! The peer's side of the tracker protocols, sans-IO: the announce and scrape URLs it GETs, how
//! it reads the answers, and the UDP exchange with BEP 15's retransmission schedule.
//!
//! - BEP 3 "trackers": the GET parameters, with `info_hash` and `peer_id` percent-encoded byte by
//!   byte; the answer's `failure reason`, `warning message`, `interval` and `peers`.
//! - BEP 23 compact `peers` (6 bytes each), BEP 7 `peers6` (18 bytes each), or BEP 3's list of
//!   dictionaries (`ip`, `port`, `peer id`), whichever the tracker sends.
//! - BEP 48: the scrape URL is the announce URL with `announce` in its last path segment
//!   replaced by `scrape`.
//! - BEP 15 "Time outs": wait 15 · 2ⁿ seconds for an answer, n going up by one with each
//!   retransmission, and ask for a new connection ID once the old one is a minute old. The first
//!   timeout and the number of retransmissions are parameters ([`UdpRetry`]), since a test or an
//!   experiment on loopback cannot wait an hour.
//!
//! Every answer is bounded: at most [`MAX_PEERS`] peers are kept, whatever the tracker sends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::swarm::{Event, SwarmStats};
use super::udp::{self, AnnounceRequest, PacketError, Request, Response};
use super::{InfoHash, MAX_SCRAPE_HASHES, PeerId};
use crate::bencode::{self, BencodeError, Dict, Value};

/// Peers kept from one answer at most.
pub const MAX_PEERS: usize = 1000;
/// Longest `interval` believed: a tracker asking for more than a day is probably broken, and a
/// peer silent that long would be forgotten by every other tracker anyway.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Shortest `interval` honoured, so a broken tracker cannot make a peer announce in a loop.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What a peer tells the tracker about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceParams {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// The port it accepts peer connections on.
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Event,
    /// Peers wanted; `None` leaves it to the tracker.
    pub numwant: Option<u32>,
    /// A random number fixed for the session (BEP 7: lets a tracker match announces of one peer
    /// from several addresses).
    pub key: u32,
    /// The address to register (honoured by our tracker only between loopback addresses).
    pub ip: Option<IpAddr>,
}

/// What a tracker answered to an announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// When to announce next (clamped to [`MIN_INTERVAL`]..=[`MAX_INTERVAL`]).
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    /// Seeders and leechers, when the tracker says.
    pub complete: Option<u32>,
    pub incomplete: Option<u32>,
    /// IPv4 and IPv6 peers together, at most [`MAX_PEERS`].
    pub peers: Vec<SocketAddr>,
    pub warning: Option<String>,
}

/// Why an answer was not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseError {
    #[error("tracker refused: {0}")]
    Failure(String),
    #[error("answer is not bencoded: {0}")]
    Bencode(#[from] BencodeError),
    #[error("answer is not a dictionary")]
    NotADict,
    #[error("answer has no interval")]
    NoInterval,
    #[error("answer has no peers")]
    NoPeers,
    #[error("{0} is not a whole number of {1}-byte peers")]
    RaggedPeers(&'static str, usize),
    #[error("scrape answer has no files dictionary")]
    NoFiles,
    #[error("the announce URL has no `announce` path segment to make a scrape URL of (BEP 48)")]
    NoScrapeUrl,
    #[error("UDP packet: {0}")]
    Packet(#[from] PacketError),
    #[error("UDP answer to a different request")]
    Mismatched,
}

/// RFC 3986 §2.1: every byte but the unreserved ones as `%XX`.
pub fn percent_encode(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 3), |mut out, &b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
            out
        })
}

/// The URL to GET for an announce: `base` (which may carry its own query, e.g. a passkey) with
/// the BEP 3 parameters appended, asking for a compact answer.
pub fn announce_url(base: &str, params: &AnnounceParams) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{base}{separator}info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&key={:08x}",
        percent_encode(&params.info_hash.0),
        percent_encode(&params.peer_id),
        params.port,
        params.uploaded,
        params.downloaded,
        params.left,
        params.key,
    );
    if params.event != Event::None {
        url.push_str("&event=");
        url.push_str(params.event.as_str());
    }
    if let Some(n) = params.numwant {
        url.push_str(&format!("&numwant={n}"));
    }
    if let Some(ip) = params.ip {
        url.push_str(&format!(
            "&ip={}",
            percent_encode(ip.to_string().as_bytes())
        ));
    }
    url
}

/// BEP 48: the scrape URL for `announce` and `hashes`.
pub fn scrape_url(announce: &str, hashes: &[InfoHash]) -> Result<String, ResponseError> {
    let (path_end, query) = match announce.find('?') {
        Some(at) => (at, &announce[at..]),
        None => (announce.len(), ""),
    };
    let before_query = &announce[..path_end];
    let segment_start = before_query.rfind('/').map_or(0, |at| at + 1);
    let segment = &before_query[segment_start..];
    if !segment.starts_with("announce") || !before_query[..segment_start].contains("://") {
        return Err(ResponseError::NoScrapeUrl);
    }
    let mut url = format!(
        "{}scrape{}{}",
        &before_query[..segment_start],
        &segment["announce".len()..],
        query
    );
    for (i, hash) in hashes.iter().enumerate() {
        let separator = if i == 0 && query.is_empty() { '?' } else { '&' };
        url.push(separator);
        url.push_str("info_hash=");
        url.push_str(&percent_encode(&hash.0));
    }
    Ok(url)
}

fn tracker_dict(body: &[u8]) -> Result<Value<'_>, ResponseError> {
    let value = bencode::decode(body)?;
    let Some(dict) = value.as_dict() else {
        return Err(ResponseError::NotADict);
    };
    if let Some(reason) = dict.get("failure reason") {
        let text = reason.as_bytes().unwrap_or_default();
        return Err(ResponseError::Failure(
            String::from_utf8_lossy(text).into_owned(),
        ));
    }
    Ok(value)
}

fn count(dict: &Dict<'_>, key: &str) -> Option<u32> {
    dict.int(key).and_then(|n| u32::try_from(n).ok())
}

fn seconds(n: i64) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(0)).clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Reads an HTTP announce answer (BEP 3, 23, 7).
pub fn parse_announce(body: &[u8]) -> Result<AnnounceResponse, ResponseError> {
    let value = tracker_dict(body)?;
    let dict = value.as_dict().ok_or(ResponseError::NotADict)?;
    let interval = dict.int("interval").ok_or(ResponseError::NoInterval)?;
    let mut peers = Vec::new();
    match dict.get("peers") {
        Some(Value::Bytes(compact)) => compact_peers(compact, 6, "peers", &mut peers)?,
        Some(Value::List(list)) => dictionary_peers(list, &mut peers),
        // A tracker may send only peers6 to an IPv6 client.
        _ if dict.get("peers6").is_some() => {}
        _ => return Err(ResponseError::NoPeers),
    }
    if let Some(v6) = dict.bytes("peers6") {
        compact_peers(v6, 18, "peers6", &mut peers)?;
    }
    Ok(AnnounceResponse {
        interval: seconds(interval),
        min_interval: dict.int("min interval").map(seconds),
        complete: count(dict, "complete"),
        incomplete: count(dict, "incomplete"),
        peers,
        warning: dict
            .bytes("warning message")
            .map(|w| String::from_utf8_lossy(w).into_owned()),
    })
}

/// Appends compact peers (`stride` 6 or 18) up to [`MAX_PEERS`] in all.
fn compact_peers(
    bytes: &[u8],
    stride: usize,
    name: &'static str,
    peers: &mut Vec<SocketAddr>,
) -> Result<(), ResponseError> {
    if !bytes.len().is_multiple_of(stride) {
        return Err(ResponseError::RaggedPeers(name, stride));
    }
    let room = MAX_PEERS.saturating_sub(peers.len());
    // The compact format is the one BEP 15 uses after its announce header.
    let decoded = udp::decode_peers(bytes, stride == 18)?;
    peers.extend(decoded.into_iter().take(room));
    Ok(())
}

/// BEP 3's list form; entries whose `ip` is a host name or whose port is out of range are
/// skipped (this client connects to addresses only).
fn dictionary_peers(list: &[Value<'_>], peers: &mut Vec<SocketAddr>) {
    let found = list.iter().filter_map(|entry| {
        let entry = entry.as_dict()?;
        let ip: IpAddr = entry.str("ip")?.parse().ok()?;
        let port = u16::try_from(entry.int("port")?).ok()?;
        Some(SocketAddr::new(ip, port))
    });
    let room = MAX_PEERS.saturating_sub(peers.len());
    peers.extend(found.take(room));
}

/// Reads an HTTP scrape answer (BEP 48): the counts of each info-hash present.
pub fn parse_scrape(body: &[u8]) -> Result<Vec<(InfoHash, SwarmStats)>, ResponseError> {
    let value = tracker_dict(body)?;
    let dict = value.as_dict().ok_or(ResponseError::NotADict)?;
    let files = dict.dict("files").ok_or(ResponseError::NoFiles)?;
    Ok(files
        .entries
        .iter()
        .filter_map(|(hash, stats)| {
            let hash = InfoHash(<[u8; 20]>::try_from(*hash).ok()?);
            let stats = stats.as_dict()?;
            Some((
                hash,
                SwarmStats {
                    complete: count(stats, "complete").unwrap_or(0),
                    incomplete: count(stats, "incomplete").unwrap_or(0),
                    downloaded: count(stats, "downloaded").unwrap_or(0),
                },
            ))
        })
        .collect())
}

/// The retransmission schedule of a UDP exchange (BEP 15 "Time outs": 15 s first, doubling,
/// 8 retransmissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRetry {
    pub first_timeout: Duration,
    pub retransmissions: u32,
}

impl Default for UdpRetry {
    fn default() -> Self {
        UdpRetry {
            first_timeout: Duration::from_secs(15),
            retransmissions: 8,
        }
    }
}

/// What a UDP exchange asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpQuery {
    Announce(AnnounceParams),
    Scrape(Vec<InfoHash>),
}

/// What a UDP exchange got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpOutcome {
    Announce(AnnounceResponse),
    /// In the order asked.
    Scrape(Vec<(InfoHash, SwarmStats)>),
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpStep {
    /// Send this datagram, then wait until [`UdpExchange::deadline`].
    Send(Vec<u8>),
    /// Not an answer to us (stale, foreign): keep waiting.
    Ignore,
    Done(UdpOutcome),
    Failed(UdpFailure),
}

/// Why a UDP exchange ended without an answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UdpFailure {
    #[error("no answer after {0} retransmissions")]
    TimedOut(u32),
    #[error("tracker error: {0}")]
    Tracker(String),
    #[error("{0}")]
    Response(#[from] ResponseError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connecting,
    /// Holding a connection ID received at `since`.
    Asking {
        connection_id: u64,
        since: Instant,
    },
}

/// One connect-then-ask exchange with a UDP tracker, as a state machine: the driver sends what
/// it is told, feeds every datagram from the tracker, and calls [`UdpExchange::on_timeout`]
/// at the deadline.
#[derive(Debug, Clone)]
pub struct UdpExchange {
    query: UdpQuery,
    retry: UdpRetry,
    ipv6: bool,
    stage: Stage,
    transaction_id: u32,
    /// Retransmissions so far (the n of 15 · 2ⁿ).
    attempt: u32,
    deadline: Instant,
}

impl UdpExchange {
    /// A client may use a connection ID for a minute after receiving it (BEP 15).
    pub const ID_LIFETIME: Duration = Duration::from_secs(60);

    /// A new exchange with a tracker at an IPv6 address when `ipv6`; the first datagram to send.
    pub fn start(
        query: UdpQuery,
        ipv6: bool,
        retry: UdpRetry,
        now: Instant,
    ) -> (UdpExchange, Vec<u8>) {
        let mut exchange = UdpExchange {
            query,
            retry,
            ipv6,
            stage: Stage::Connecting,
            transaction_id: 0,
            attempt: 0,
            deadline: now,
        };
        let first = exchange.transmit(now);
        (exchange, first)
    }

    /// When to call [`UdpExchange::on_timeout`].
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// A datagram from the tracker.
    pub fn on_datagram(&mut self, bytes: &[u8], now: Instant) -> UdpStep {
        let Ok(response) = Response::decode(bytes, self.ipv6) else {
            // Not even a header we can match: someone else's packet.
            return UdpStep::Ignore;
        };
        if response.transaction_id() != self.transaction_id {
            return UdpStep::Ignore;
        }
        match (response, self.stage) {
            (Response::Error { message, .. }, _) => UdpStep::Failed(UdpFailure::Tracker(message)),
            (Response::Connect { connection_id, .. }, Stage::Connecting) => {
                self.stage = Stage::Asking {
                    connection_id,
                    since: now,
                };
                UdpStep::Send(self.transmit(now))
            }
            (
                Response::Announce {
                    interval,
                    leechers,
                    seeders,
                    peers,
                    ..
                },
                Stage::Asking { .. },
            ) => match self.query {
                UdpQuery::Announce(_) => UdpStep::Done(UdpOutcome::Announce(AnnounceResponse {
                    interval: seconds(i64::from(interval)),
                    min_interval: None,
                    complete: Some(seeders),
                    incomplete: Some(leechers),
                    peers: peers.into_iter().take(MAX_PEERS).collect(),
                    warning: None,
                })),
                UdpQuery::Scrape(_) => UdpStep::Failed(ResponseError::Mismatched.into()),
            },
            (Response::Scrape { stats, .. }, Stage::Asking { .. }) => match &self.query {
                UdpQuery::Scrape(hashes) => UdpStep::Done(UdpOutcome::Scrape(
                    hashes.iter().copied().zip(stats).collect(),
                )),
                UdpQuery::Announce(_) => UdpStep::Failed(ResponseError::Mismatched.into()),
            },
            // An answer of the wrong kind for the stage we are in (a late duplicate).
            _ => UdpStep::Ignore,
        }
    }

    /// The deadline passed: retransmit (reconnecting if the ID is too old), or give up.
    pub fn on_timeout(&mut self, now: Instant) -> UdpStep {
        if now < self.deadline {
            return UdpStep::Ignore;
        }
        if self.attempt >= self.retry.retransmissions {
            return UdpStep::Failed(UdpFailure::TimedOut(self.attempt));
        }
        self.attempt += 1;
        if let Stage::Asking { since, .. } = self.stage
            && now.saturating_duration_since(since) >= Self::ID_LIFETIME
        {
            self.stage = Stage::Connecting;
        }
        UdpStep::Send(self.transmit(now))
    }

    /// The request for the current stage, under a fresh transaction ID, and the next deadline.
    fn transmit(&mut self, now: Instant) -> Vec<u8> {
        self.transaction_id = rand::random();
        let wait = self
            .retry
            .first_timeout
            .saturating_mul(1u32 << self.attempt.min(16));
        self.deadline = now + wait;
        let request = match (self.stage, &self.query) {
            (Stage::Connecting, _) => Request::Connect {
                transaction_id: self.transaction_id,
            },
            (Stage::Asking { connection_id, .. }, UdpQuery::Announce(p)) => {
                Request::Announce(AnnounceRequest {
                    connection_id,
                    transaction_id: self.transaction_id,
                    info_hash: p.info_hash,
                    peer_id: p.peer_id,
                    downloaded: p.downloaded,
                    left: p.left,
                    uploaded: p.uploaded,
                    event: p.event,
                    ip: match p.ip {
                        Some(IpAddr::V4(ip)) if !self.ipv6 => ip,
                        _ => Ipv4Addr::UNSPECIFIED,
                    },
                    key: p.key,
                    num_want: p
                        .numwant
                        .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
                    port: p.port,
                })
            }
            (Stage::Asking { connection_id, .. }, UdpQuery::Scrape(hashes)) => Request::Scrape {
                connection_id,
                transaction_id: self.transaction_id,
                info_hashes: hashes.iter().copied().take(MAX_SCRAPE_HASHES).collect(),
            },
        };
        request.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::http;
    use crate::tracker::swarm::{AnnounceReply, Peer};

    fn params() -> AnnounceParams {
        AnnounceParams {
            info_hash: InfoHash(*b"\x12\x34\x56\x78\x9a\xbc\xde\xf1\x23\x45\x67\x89\xab\xcd\xef\x12\x34\x56\x78\x9a"),
            peer_id: *b"-AN0001-abc~def.ghi ",
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Event::Started,
            numwant: Some(20),
            key: 0xabcd,
            ip: None,
        }
    }

    #[test]
    fn announce_url_round_trips_through_our_parser() {
        let url = announce_url("http://127.0.0.1:6969/announce", &params());
        assert!(url.starts_with("http://127.0.0.1:6969/announce?info_hash=%124Vx%9A%BC"));
        assert!(url.contains("&peer_id=-AN0001-abc~def.ghi%20&"));
        assert!(url.contains("&event=started"));
        let target = url.trim_start_matches("http://127.0.0.1:6969");
        let Ok(http::TrackerRequest::Announce(q)) = http::parse_target(target) else {
            panic!("{target}")
        };
        assert_eq!(q.info_hash, params().info_hash);
        assert_eq!(q.peer_id, params().peer_id);
        assert_eq!((q.uploaded, q.downloaded, q.left), (1, 2, 3));
        assert_eq!(q.numwant, Some(20));
        let with_passkey = announce_url("http://t.example/announce?pk=1", &params());
        assert!(with_passkey.starts_with("http://t.example/announce?pk=1&info_hash="));
    }

    #[test]
    fn scrape_urls_per_bep_48() {
        let h = [InfoHash([0xff; 20])];
        let ff = "%FF".repeat(20);
        for (announce, scrape) in [
            (
                "http://example.com/announce",
                format!("http://example.com/scrape?info_hash={ff}"),
            ),
            (
                "http://example.com/x/announce",
                format!("http://example.com/x/scrape?info_hash={ff}"),
            ),
            (
                "http://example.com/announce.php",
                format!("http://example.com/scrape.php?info_hash={ff}"),
            ),
            (
                "http://example.com/announce?x2%0644",
                format!("http://example.com/scrape?x2%0644&info_hash={ff}"),
            ),
        ] {
            assert_eq!(scrape_url(announce, &h).unwrap(), scrape, "{announce}");
        }
        for announce in [
            "http://example.com/a",
            "http://example.com/announce/x",
            "announce",
        ] {
            assert_eq!(
                scrape_url(announce, &h),
                Err(ResponseError::NoScrapeUrl),
                "{announce}"
            );
        }
    }

    #[test]
    fn parses_what_our_tracker_sends() {
        let reply = AnnounceReply {
            interval: Duration::from_secs(5),
            min_interval: Duration::from_secs(2),
            stats: SwarmStats {
                complete: 1,
                incomplete: 2,
                downloaded: 0,
            },
            peers: vec![
                Peer {
                    peer_id: [1; 20],
                    addr: "127.0.0.1:6881".parse().unwrap(),
                },
                Peer {
                    peer_id: [2; 20],
                    addr: "[::1]:6882".parse().unwrap(),
                },
            ],
            registered: true,
        };
        for compact in [true, false] {
            let parsed = parse_announce(&http::announce_body(&reply, compact, false)).unwrap();
            assert_eq!(parsed.interval, Duration::from_secs(5));
            assert_eq!(parsed.min_interval, Some(Duration::from_secs(2)));
            assert_eq!((parsed.complete, parsed.incomplete), (Some(1), Some(2)));
            assert_eq!(
                parsed.peers,
                vec![
                    "127.0.0.1:6881".parse::<SocketAddr>().unwrap(),
                    "[::1]:6882".parse().unwrap()
                ],
                "compact={compact}"
            );
        }
        let scrape = http::scrape_body(&[(InfoHash([9; 20]), reply.stats)]);
        assert_eq!(
            parse_scrape(&scrape).unwrap(),
            vec![(InfoHash([9; 20]), reply.stats)]
        );
    }

    #[test]
    fn failures_and_malformed_answers() {
        assert_eq!(
            parse_announce(b"d14:failure reason9:not todaye"),
            Err(ResponseError::Failure("not today".into()))
        );
        assert_eq!(parse_announce(b"le"), Err(ResponseError::NotADict));
        assert!(matches!(
            parse_announce(b"d8:interv"),
            Err(ResponseError::Bencode(_))
        ));
        assert_eq!(
            parse_announce(b"d5:peers0:e"),
            Err(ResponseError::NoInterval)
        );
        assert_eq!(
            parse_announce(b"d8:intervali5ee"),
            Err(ResponseError::NoPeers)
        );
        assert_eq!(
            parse_announce(b"d8:intervali5e5:peers5:abcdee"),
            Err(ResponseError::RaggedPeers("peers", 6))
        );
        assert_eq!(
            parse_announce(b"d8:intervali5e5:peers0:6:peers67:abcdefge"),
            Err(ResponseError::RaggedPeers("peers6", 18))
        );
        // Silly intervals are clamped.
        let zero = parse_announce(b"d8:intervali0e5:peers0:e").unwrap();
        assert_eq!(zero.interval, MIN_INTERVAL);
        let huge = parse_announce(b"d8:intervali99999999999e5:peers0:e").unwrap();
        assert_eq!(huge.interval, MAX_INTERVAL);
        // Host names and bad ports in the list form are skipped.
        let list = b"d8:intervali5e5:peersld2:ip11:example.com4:porti1eed2:ip9:127.0.0.14:porti70000eed2:ip9:127.0.0.14:porti7eeee";
        assert_eq!(
            parse_announce(list).unwrap().peers,
            vec!["127.0.0.1:7".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(parse_scrape(b"de"), Err(ResponseError::NoFiles));
    }

    #[test]
    fn peer_lists_are_bounded() {
        let mut body = b"d8:intervali5e5:peers".to_vec();
        let peers = vec![1u8; 6 * 5000];
        body.extend_from_slice(format!("{}:", peers.len()).as_bytes());
        body.extend_from_slice(&peers);
        body.push(b'e');
        assert_eq!(parse_announce(&body).unwrap().peers.len(), MAX_PEERS);
    }

    fn retry() -> UdpRetry {
        UdpRetry {
            first_timeout: Duration::from_secs(15),
            retransmissions: 3,
        }
    }

    fn reply_to(packet: &[u8], response: impl FnOnce(u32) -> Response) -> Vec<u8> {
        let header = udp::request_header(packet).unwrap();
        response(header.transaction_id).encode()
    }

    #[test]
    fn udp_exchange_connects_then_announces() {
        let t0 = Instant::now();
        let (mut exchange, connect) =
            UdpExchange::start(UdpQuery::Announce(params()), false, retry(), t0);
        assert!(matches!(
            Request::decode(&connect),
            Ok(Request::Connect { .. })
        ));
        assert_eq!(exchange.deadline(), t0 + Duration::from_secs(15));
        // A stray packet with another transaction ID changes nothing.
        let stray = Response::Connect {
            transaction_id: udp::request_header(&connect).unwrap().transaction_id ^ 1,
            connection_id: 5,
        };
        assert_eq!(exchange.on_datagram(&stray.encode(), t0), UdpStep::Ignore);
        assert_eq!(exchange.on_datagram(b"junk", t0), UdpStep::Ignore);
        let answer = reply_to(&connect, |tx| Response::Connect {
            transaction_id: tx,
            connection_id: 42,
        });
        let UdpStep::Send(announce) = exchange.on_datagram(&answer, t0) else {
            panic!()
        };
        let Ok(Request::Announce(a)) = Request::decode(&announce) else {
            panic!()
        };
        assert_eq!(a.connection_id, 42);
        assert_eq!((a.num_want, a.port, a.left), (20, 6881, 3));
        let answer = reply_to(&announce, |tx| Response::Announce {
            transaction_id: tx,
            interval: 30,
            leechers: 1,
            seeders: 2,
            peers: vec!["127.0.0.1:7000".parse().unwrap()],
        });
        let UdpStep::Done(UdpOutcome::Announce(response)) = exchange.on_datagram(&answer, t0)
        else {
            panic!()
        };
        assert_eq!(response.interval, Duration::from_secs(30));
        assert_eq!(response.peers, vec!["127.0.0.1:7000".parse().unwrap()]);
        assert_eq!((response.complete, response.incomplete), (Some(2), Some(1)));
    }

    #[test]
    fn udp_exchange_follows_the_bep_15_schedule() {
        let t0 = Instant::now();
        let (mut exchange, _) = UdpExchange::start(
            UdpQuery::Scrape(vec![InfoHash([1; 20])]),
            false,
            retry(),
            t0,
        );
        // Not yet.
        assert_eq!(
            exchange.on_timeout(t0 + Duration::from_secs(14)),
            UdpStep::Ignore
        );
        let mut now = t0;
        for wait in [15, 30, 60] {
            now += Duration::from_secs(wait);
            assert_eq!(exchange.deadline(), now);
            let UdpStep::Send(packet) = exchange.on_timeout(now) else {
                panic!()
            };
            assert!(matches!(
                Request::decode(&packet),
                Ok(Request::Connect { .. })
            ));
        }
        now += Duration::from_secs(120);
        assert_eq!(
            exchange.on_timeout(now),
            UdpStep::Failed(UdpFailure::TimedOut(3))
        );
    }

    #[test]
    fn udp_exchange_reconnects_when_the_id_is_a_minute_old() {
        let t0 = Instant::now();
        let (mut exchange, connect) = UdpExchange::start(
            UdpQuery::Scrape(vec![InfoHash([1; 20])]),
            false,
            UdpRetry {
                first_timeout: Duration::from_secs(40),
                retransmissions: 5,
            },
            t0,
        );
        let answer = reply_to(&connect, |tx| Response::Connect {
            transaction_id: tx,
            connection_id: 42,
        });
        let UdpStep::Send(scrape) = exchange.on_datagram(&answer, t0) else {
            panic!()
        };
        assert!(matches!(
            Request::decode(&scrape),
            Ok(Request::Scrape { .. })
        ));
        // The scrape times out at 40 s: the ID is still young, ask again with it.
        let UdpStep::Send(again) = exchange.on_timeout(t0 + Duration::from_secs(40)) else {
            panic!()
        };
        assert!(matches!(
            Request::decode(&again),
            Ok(Request::Scrape { .. })
        ));
        // At 120 s the ID is two minutes old: connect afresh.
        let UdpStep::Send(reconnect) = exchange.on_timeout(t0 + Duration::from_secs(120)) else {
            panic!()
        };
        assert!(matches!(
            Request::decode(&reconnect),
            Ok(Request::Connect { .. })
        ));
        // A late answer to the old scrape is not ours any more.
        let late = reply_to(&again, |tx| Response::Scrape {
            transaction_id: tx,
            stats: vec![],
        });
        assert_eq!(
            exchange.on_datagram(&late, t0 + Duration::from_secs(121)),
            UdpStep::Ignore
        );
    }

    #[test]
    fn udp_tracker_errors_end_the_exchange() {
        let t0 = Instant::now();
        let (mut exchange, connect) =
            UdpExchange::start(UdpQuery::Announce(params()), false, retry(), t0);
        let error = reply_to(&connect, |tx| Response::Error {
            transaction_id: tx,
            message: "go away".into(),
        });
        assert_eq!(
            exchange.on_datagram(&error, t0),
            UdpStep::Failed(UdpFailure::Tracker("go away".into()))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_answer_parses_or_fails_cleanly(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            if let Ok(response) = parse_announce(&bytes) {
                proptest::prop_assert!(response.peers.len() <= MAX_PEERS);
                proptest::prop_assert!(response.interval >= MIN_INTERVAL);
            }
            let _ = parse_scrape(&bytes);
            let t0 = Instant::now();
            let (mut exchange, _) =
                UdpExchange::start(UdpQuery::Announce(params()), false, retry(), t0);
            let _ = exchange.on_datagram(&bytes, t0);
        }
    }
}
