//! The tracker (BEP 3 "trackers"): the rendezvous where peers of one torrent find each other.
//!
//! A peer announces itself for an info-hash and gets back a random sample of the other peers in
//! that swarm; a scrape asks only for the swarm's counts. Both travel over HTTP (BEP 3, with the
//! compact peer lists of BEP 23 and the `peers6` of BEP 7, and scrape as BEP 48 writes it down)
//! or over UDP (BEP 15).
//!
//! Sans-IO cores, no sockets and no clock of their own:
//! - [`swarm`]: the registry — peers per info-hash, events, expiry, random peer lists, counts;
//! - [`http`]: the announce and scrape query strings and their bencoded answers;
//! - [`udp`]: BEP 15 packets both ways, stateless connection IDs, the server's answers;
//! - [`client`]: what a peer sends and how it reads the answers, and BEP 15's retransmission
//!   schedule as a state machine.
//!
//! Tokio drivers: [`server`] (HTTP and UDP on one port, `appnet torrent track`) and
//! [`announce`] (the peer's announce and scrape client over either transport).

pub mod announce;
pub mod client;
pub mod http;
pub mod server;
pub mod swarm;
pub mod udp;

use std::net::IpAddr;

pub use crate::metainfo::InfoHash;
pub use crate::wire::PeerId;
pub use announce::TrackerClient;
pub use server::{Tracker, serve};
pub use swarm::Event;

/// Most info-hashes answered in one scrape, over UDP (BEP 15: "up to about 74", what fits in
/// one Ethernet frame) and HTTP alike; a request for more is refused rather than cut short, so
/// the client knows to split it.
pub const MAX_SCRAPE_HASHES: usize = 74;

/// The address a peer is registered under: the one its packets came from, unless both that and
/// the address it claims (`ip=` in HTTP, the `IP address` field in UDP) are loopback addresses.
///
/// Why: a tracker that believed any claimed address would let a client enrol a third party's
/// host in a swarm, and every peer would then connect to it (BEP 15 notes that "most trackers
/// will only honor the IP address field under limited circumstances"). On loopback there is no
/// third party to harm, and the swarm experiment runs each peer on its own 127.0.0.x address
/// while its tracker connections may leave from 127.0.0.1.
pub fn registered_ip(source: IpAddr, claimed: Option<IpAddr>) -> IpAddr {
    let source = source.to_canonical();
    match claimed.map(|ip| ip.to_canonical()) {
        Some(claimed) if source.is_loopback() && claimed.is_loopback() => claimed,
        _ => source,
    }
}

/// `announce` and its event, for trace summaries: `announce started`, or just `announce`.
fn announce_label(event: Event) -> String {
    match event {
        Event::None => "announce".to_owned(),
        event => format!("announce {}", event.as_str()),
    }
}

/// A short form of an info-hash for one-line trace summaries: its first 8 hex digits.
fn short_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let first = bytes.get(..4).unwrap_or(bytes);
    first.iter().fold(String::with_capacity(8), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_address_only_between_loopback_addresses() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo5: IpAddr = "127.0.0.5".parse().unwrap();
        let public: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(registered_ip(lo, Some(lo5)), lo5);
        assert_eq!(registered_ip(lo, Some(public)), lo);
        assert_eq!(registered_ip(public, Some(lo5)), public);
        assert_eq!(registered_ip(public, None), public);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(registered_ip(mapped, None), public);
    }

    #[test]
    fn short_hex_for_traces() {
        assert_eq!(short_hex(&[0xab; 20]), "abababab");
        assert_eq!(short_hex(&[1]), "01");
    }
}
