//! The swarm registry, sans-IO: which peers announced which info-hash, and what to tell them.
//!
//! BEP 3 "trackers": a peer announces `started` when it begins, `completed` once when it
//! finishes, `stopped` when it leaves, and nothing in between every `interval` seconds; the
//! answer is a list of other peers. BEP 48 (and BEP 15's scrape) name the counts: `complete`
//! (seeders now), `incomplete` (leechers now) and `downloaded` (completions ever).
//!
//! Peers are keyed by (peer ID, address): one client restarted on a new port is a new peer, and
//! a peer ID reused from another address cannot evict the first. Time comes in as an argument
//! (`now`), so tests drive expiry without waiting. Every collection is bounded ([`Limits`]):
//! a flood of made-up info-hashes or peer IDs fills the tracker, it does not exhaust memory.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::IteratorRandom;
use thiserror::Error;

use crate::metainfo::InfoHash;
use crate::wire::PeerId;

/// Peers returned when the client does not say how many it wants (BEP 3 suggests 50).
pub const DEFAULT_NUMWANT: usize = 50;
/// Peers returned at most, whatever the client asks: a bigger list only costs bandwidth, and 200
/// compact IPv6 peers (3.6 kB) already exceed one Ethernet MTU in a UDP reply.
pub const MAX_NUMWANT: usize = 200;

/// The `event` of an announce (BEP 3; BEP 15 numbers them 0–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A regular re-announce (absent or `empty`).
    None,
    Started,
    Completed,
    Stopped,
}

impl Event {
    /// The query-string value (BEP 3); `None` is sent as no `event` at all.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::None => "",
            Event::Started => "started",
            Event::Completed => "completed",
            Event::Stopped => "stopped",
        }
    }
}

/// Which address families a peer list may contain: a UDP reply has one stride for all its
/// peers (BEP 15), chosen by the family of the client's own address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    Both,
    V4,
    V6,
}

impl Families {
    fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Families::Both => true,
            Families::V4 => addr.is_ipv4(),
            Families::V6 => addr.is_ipv6(),
        }
    }
}

/// One announce, already decoded from HTTP or UDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// Where other peers reach this one: its IP (see [`super::registered_ip`]) and its port.
    pub addr: SocketAddr,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Event,
    /// How many peers it wants; `None` means [`DEFAULT_NUMWANT`].
    pub numwant: Option<u32>,
    pub families: Families,
}

/// A peer in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub peer_id: PeerId,
    pub addr: SocketAddr,
}

/// A swarm's counts (BEP 48 names; BEP 15 calls them seeders, completed and leechers). 32 bits
/// each, as BEP 15 sends them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmStats {
    /// Peers with nothing left to download.
    pub complete: u32,
    /// Peers still downloading.
    pub incomplete: u32,
    /// `completed` events ever counted (once per peer).
    pub downloaded: u32,
}

/// What the tracker tells an announcing peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceReply {
    pub interval: Duration,
    pub min_interval: Duration,
    pub stats: SwarmStats,
    pub peers: Vec<Peer>,
    /// Whether the peer is now registered (false after `stopped`, or when a limit was reached:
    /// it still gets its peer list, it just will not be handed out to others).
    pub registered: bool,
}

/// Why an announce got a `failure reason` instead of peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("this tracker does not serve that info-hash")]
    NotAllowed,
    #[error("this tracker is full: it tracks no more swarms")]
    TooManySwarms,
}

/// Memory bounds: a tracker open to everyone is filled by made-up info-hashes and peer IDs at
/// the rate a client can send packets; these make that a refusal, not an out-of-memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_swarms: usize,
    pub max_peers_per_swarm: usize,
    /// Peers in all swarms together.
    pub max_peers: usize,
}

impl Default for Limits {
    /// About 100 bytes a peer: 30 MB at most.
    fn default() -> Self {
        Limits {
            max_swarms: 10_000,
            max_peers_per_swarm: 10_000,
            max_peers: 300_000,
        }
    }
}

/// How the registry behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmConfig {
    /// The announce interval peers are told (1800 s on the Internet; seconds in experiments).
    pub interval: Duration,
    pub limits: Limits,
    /// When set, only these info-hashes are tracked (a private tracker); `None` tracks any.
    pub allow: Option<HashSet<InfoHash>>,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            interval: Duration::from_secs(1800),
            limits: Limits::default(),
            allow: None,
        }
    }
}

impl SwarmConfig {
    /// Peers are asked not to re-announce more often than this (`min interval`): the interval
    /// itself. A shorter one would be taken as the period: aria2c re-announces every
    /// `min interval` when a tracker gives one.
    pub fn min_interval(&self) -> Duration {
        self.interval
    }

    /// A peer silent for two intervals has missed two announces: it is gone (crashed, or its
    /// `stopped` was lost), and handing it out would only waste other peers' connects.
    pub fn peer_timeout(&self) -> Duration {
        self.interval.saturating_mul(2)
    }
}

#[derive(Debug, Clone)]
struct PeerState {
    last_seen: Instant,
    left: u64,
    uploaded: u64,
    downloaded: u64,
    /// Its `completed` has been counted in `downloaded` (counted once, however often sent).
    completion_counted: bool,
}

impl PeerState {
    fn is_seeder(&self) -> bool {
        self.left == 0
    }
}

type PeerKey = (PeerId, SocketAddr);

#[derive(Debug, Default)]
struct Swarm {
    peers: HashMap<PeerKey, PeerState>,
    /// Peers with `left == 0`, kept current so a scrape costs no scan.
    seeders: usize,
    downloaded: u32,
}

impl Swarm {
    fn stats(&self) -> SwarmStats {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SwarmStats {
            complete: count(self.seeders),
            incomplete: count(self.peers.len() - self.seeders),
            downloaded: self.downloaded,
        }
    }

    /// Removes a peer that said `stopped`; false when it was not registered. A leecher that
    /// leaves with nothing left has finished its download, whether or not it said `completed`
    /// first (aria2c with `--seed-time=0` goes straight to `stopped`).
    fn leave(&mut self, key: &PeerKey, announce: &Announce) -> bool {
        let Some(old) = self.peers.remove(key) else {
            return false;
        };
        if old.is_seeder() {
            self.seeders -= 1;
        } else if announce.left == 0 && !old.completion_counted {
            self.count_download();
        }
        true
    }

    /// Updates a known peer in place; false when the peer is new. A `completed` event, or a
    /// leecher now reporting nothing left, counts its download (once per peer, however often
    /// a client repeats it).
    fn refresh(&mut self, key: &PeerKey, announce: &Announce, now: Instant) -> bool {
        let Some(state) = self.peers.get_mut(key) else {
            return false;
        };
        let was_seeder = state.is_seeder();
        state.last_seen = now;
        state.left = announce.left;
        state.uploaded = announce.uploaded;
        state.downloaded = announce.downloaded;
        match (was_seeder, state.is_seeder()) {
            (false, true) => self.seeders += 1,
            (true, false) => self.seeders -= 1,
            _ => {}
        }
        let finished = announce.event == Event::Completed || (!was_seeder && state.is_seeder());
        if finished && !state.completion_counted {
            state.completion_counted = true;
            self.count_download();
        }
        true
    }

    /// Registers a new peer; its `completed`, if it starts with one (say, after the tracker
    /// restarted), counts.
    fn insert(&mut self, key: PeerKey, announce: &Announce, now: Instant) {
        let completed = announce.event == Event::Completed;
        let state = PeerState {
            last_seen: now,
            left: announce.left,
            uploaded: announce.uploaded,
            downloaded: announce.downloaded,
            completion_counted: completed,
        };
        if state.is_seeder() {
            self.seeders += 1;
        }
        if completed {
            self.count_download();
        }
        self.peers.insert(key, state);
    }

    fn count_download(&mut self) {
        self.downloaded = self.downloaded.saturating_add(1);
    }

    /// Drops peers last seen before `cutoff`; how many went.
    fn expire(&mut self, cutoff: Instant) -> usize {
        let before = self.peers.len();
        self.peers.retain(|_, state| state.last_seen >= cutoff);
        self.seeders = self.peers.values().filter(|s| s.is_seeder()).count();
        before - self.peers.len()
    }
}

/// Every swarm the tracker knows.
#[derive(Debug)]
pub struct Registry {
    config: SwarmConfig,
    swarms: HashMap<InfoHash, Swarm>,
    total_peers: usize,
    rng: SmallRng,
}

impl Registry {
    /// A registry whose peer lists are shuffled by an OS-seeded generator.
    pub fn new(config: SwarmConfig) -> Registry {
        Registry::with_rng(config, SmallRng::from_os_rng())
    }

    /// A registry with reproducible peer lists, for tests.
    pub fn seeded(config: SwarmConfig, seed: u64) -> Registry {
        Registry::with_rng(config, SmallRng::seed_from_u64(seed))
    }

    fn with_rng(config: SwarmConfig, rng: SmallRng) -> Registry {
        Registry {
            config,
            swarms: HashMap::new(),
            total_peers: 0,
            rng,
        }
    }

    pub fn config(&self) -> &SwarmConfig {
        &self.config
    }

    /// Swarms tracked now.
    pub fn swarm_count(&self) -> usize {
        self.swarms.len()
    }

    /// Peers registered now, in all swarms.
    pub fn peer_count(&self) -> usize {
        self.total_peers
    }

    /// Registers (or refreshes, or removes on `stopped`) the announcing peer and picks the peers
    /// to tell it about.
    pub fn announce(
        &mut self,
        announce: &Announce,
        now: Instant,
    ) -> Result<AnnounceReply, Refusal> {
        if let Some(allow) = &self.config.allow
            && !allow.contains(&announce.info_hash)
        {
            return Err(Refusal::NotAllowed);
        }
        let known = self.swarms.contains_key(&announce.info_hash);
        if !known && announce.event == Event::Stopped {
            // A leaving peer of a swarm we never saw: nothing to remove, nothing to create.
            return Ok(self.reply(SwarmStats::default(), Vec::new(), false));
        }
        if !known && self.swarms.len() >= self.config.limits.max_swarms {
            return Err(Refusal::TooManySwarms);
        }
        let key = (announce.peer_id, announce.addr);
        let limits = self.config.limits;
        let timeout = self.config.peer_timeout();
        let swarm = self.swarms.entry(announce.info_hash).or_default();
        if announce.event == Event::Stopped {
            if swarm.leave(&key, announce) {
                self.total_peers -= 1;
            }
            let stats = swarm.stats();
            return Ok(self.reply(stats, Vec::new(), false));
        }
        let registered = if swarm.refresh(&key, announce, now) {
            true
        } else if swarm.peers.len() < limits.max_peers_per_swarm
            && self.total_peers < limits.max_peers
        {
            swarm.insert(key, announce, now);
            self.total_peers += 1;
            true
        } else {
            false
        };
        let wanted = announce
            .numwant
            .map_or(DEFAULT_NUMWANT, |n| {
                usize::try_from(n).unwrap_or(MAX_NUMWANT)
            })
            .min(MAX_NUMWANT);
        let peers = pick_peers(swarm, announce, wanted, now, timeout, &mut self.rng);
        let stats = swarm.stats();
        Ok(self.reply(stats, peers, registered))
    }

    /// The counts of one swarm (all zero for one never seen).
    pub fn scrape(&self, info_hash: &InfoHash) -> SwarmStats {
        self.swarms
            .get(info_hash)
            .map(Swarm::stats)
            .unwrap_or_default()
    }

    /// Forgets peers silent for longer than [`SwarmConfig::peer_timeout`] and swarms left
    /// empty; returns how many peers went. The driver calls it now and then.
    pub fn expire(&mut self, now: Instant) -> usize {
        let Some(cutoff) = now.checked_sub(self.config.peer_timeout()) else {
            return 0;
        };
        let mut removed = 0;
        self.swarms.retain(|_, swarm| {
            removed += swarm.expire(cutoff);
            !swarm.peers.is_empty()
        });
        self.total_peers -= removed;
        removed
    }

    fn reply(&self, stats: SwarmStats, peers: Vec<Peer>, registered: bool) -> AnnounceReply {
        AnnounceReply {
            interval: self.config.interval,
            min_interval: self.config.min_interval(),
            stats,
            peers,
            registered,
        }
    }
}

/// Up to `wanted` peers of `swarm`, uniformly at random, other than the announcing client (by
/// peer ID, whatever its address), of the families it can use, not yet expired, and no seeders
/// for a seeder (it has nothing to get from them, nor they from it).
fn pick_peers(
    swarm: &Swarm,
    announce: &Announce,
    wanted: usize,
    now: Instant,
    timeout: Duration,
    rng: &mut SmallRng,
) -> Vec<Peer> {
    if wanted == 0 {
        return Vec::new();
    }
    let seeder = announce.left == 0;
    swarm
        .peers
        .iter()
        .filter(|((peer_id, addr), state)| {
            *peer_id != announce.peer_id
                && announce.families.admits(addr)
                && !(seeder && state.is_seeder())
                && now.saturating_duration_since(state.last_seen) <= timeout
        })
        .map(|((peer_id, addr), _)| Peer {
            peer_id: *peer_id,
            addr: *addr,
        })
        .choose_multiple(rng, wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(interval: u64) -> SwarmConfig {
        SwarmConfig {
            interval: Duration::from_secs(interval),
            ..SwarmConfig::default()
        }
    }

    fn announce(hash: u8, peer: u8, left: u64, event: Event) -> Announce {
        Announce {
            info_hash: InfoHash([hash; 20]),
            peer_id: [peer; 20],
            addr: SocketAddr::from(([127, 0, 0, 1], 6000 + u16::from(peer))),
            uploaded: 0,
            downloaded: 0,
            left,
            event,
            numwant: None,
            families: Families::Both,
        }
    }

    #[test]
    fn peers_see_each_other_but_not_themselves() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        let first = registry
            .announce(&announce(1, 1, 100, Event::Started), now)
            .unwrap();
        assert!(first.peers.is_empty());
        assert!(first.registered);
        assert_eq!(first.interval, Duration::from_secs(60));
        assert_eq!(first.min_interval, Duration::from_secs(60));
        let second = registry
            .announce(&announce(1, 2, 100, Event::Started), now)
            .unwrap();
        assert_eq!(second.peers.len(), 1);
        assert_eq!(second.peers[0].peer_id, [1; 20]);
        assert_eq!(second.stats.incomplete, 2);
        // Another swarm is separate.
        let other = registry
            .announce(&announce(2, 3, 100, Event::Started), now)
            .unwrap();
        assert!(other.peers.is_empty());
        assert_eq!(registry.swarm_count(), 2);
        assert_eq!(registry.peer_count(), 3);
    }

    #[test]
    fn seeders_are_not_given_to_seeders() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        registry
            .announce(&announce(1, 1, 0, Event::Started), now)
            .unwrap();
        registry
            .announce(&announce(1, 2, 50, Event::Started), now)
            .unwrap();
        let seeder = registry
            .announce(&announce(1, 3, 0, Event::Started), now)
            .unwrap();
        assert_eq!(
            seeder.peers.iter().map(|p| p.peer_id).collect::<Vec<_>>(),
            vec![[2; 20]]
        );
        let leecher = registry
            .announce(&announce(1, 4, 50, Event::Started), now)
            .unwrap();
        assert_eq!(leecher.peers.len(), 3);
        assert_eq!(leecher.stats.complete, 2);
        assert_eq!(leecher.stats.incomplete, 2);
    }

    #[test]
    fn completed_counts_once_and_stopped_removes() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        registry
            .announce(&announce(1, 1, 10, Event::Started), now)
            .unwrap();
        let done = registry
            .announce(&announce(1, 1, 0, Event::Completed), now)
            .unwrap();
        assert_eq!(
            done.stats,
            SwarmStats {
                complete: 1,
                incomplete: 0,
                downloaded: 1
            }
        );
        registry
            .announce(&announce(1, 1, 0, Event::Completed), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).downloaded, 1);
        let gone = registry
            .announce(&announce(1, 1, 0, Event::Stopped), now)
            .unwrap();
        assert!(!gone.registered);
        assert!(gone.peers.is_empty());
        assert_eq!(registry.scrape(&InfoHash([1; 20])).complete, 0);
        assert_eq!(registry.peer_count(), 0);
        // A stop for a swarm never seen creates nothing.
        registry
            .announce(&announce(9, 1, 0, Event::Stopped), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([9; 20])), SwarmStats::default());
        assert_eq!(registry.swarm_count(), 1);
    }

    #[test]
    fn finishing_without_completed_still_counts_once() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        // Straight from leecher to `stopped` with nothing left: a download.
        registry
            .announce(&announce(1, 1, 10, Event::Started), now)
            .unwrap();
        registry
            .announce(&announce(1, 1, 0, Event::Stopped), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).downloaded, 1);
        // Leaving unfinished is not.
        registry
            .announce(&announce(1, 2, 10, Event::Started), now)
            .unwrap();
        registry
            .announce(&announce(1, 2, 10, Event::Stopped), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).downloaded, 1);
        // A regular announce with nothing left, then `completed`, then `stopped`: one.
        registry
            .announce(&announce(1, 3, 10, Event::Started), now)
            .unwrap();
        registry
            .announce(&announce(1, 3, 0, Event::None), now)
            .unwrap();
        registry
            .announce(&announce(1, 3, 0, Event::Completed), now)
            .unwrap();
        registry
            .announce(&announce(1, 3, 0, Event::Stopped), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).downloaded, 2);
        // A seeder from the start never counts (BEP 3: no `completed` then).
        registry
            .announce(&announce(1, 4, 0, Event::Started), now)
            .unwrap();
        registry
            .announce(&announce(1, 4, 0, Event::Stopped), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).downloaded, 2);
    }

    #[test]
    fn a_leecher_turning_seeder_moves_between_counts() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        registry
            .announce(&announce(1, 1, 10, Event::Started), now)
            .unwrap();
        registry
            .announce(&announce(1, 1, 0, Event::None), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).complete, 1);
        assert_eq!(registry.scrape(&InfoHash([1; 20])).incomplete, 0);
        registry
            .announce(&announce(1, 1, 5, Event::None), now)
            .unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).complete, 0);
        assert_eq!(registry.scrape(&InfoHash([1; 20])).incomplete, 1);
    }

    #[test]
    fn numwant_is_honoured_and_capped() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 7);
        for peer in 0..=250u8 {
            let mut a = announce(1, peer, 10, Event::Started);
            a.addr = SocketAddr::from(([127, 0, 1, peer], 6881));
            registry.announce(&a, now).unwrap();
        }
        let mut asker = announce(1, 0, 10, Event::None);
        asker.addr = SocketAddr::from(([127, 0, 1, 0], 6881));
        assert_eq!(
            registry.announce(&asker, now).unwrap().peers.len(),
            DEFAULT_NUMWANT
        );
        asker.numwant = Some(u32::MAX);
        let many = registry.announce(&asker, now).unwrap().peers;
        assert_eq!(many.len(), MAX_NUMWANT);
        assert_eq!(many.iter().collect::<HashSet<_>>().len(), MAX_NUMWANT);
        asker.numwant = Some(0);
        assert!(registry.announce(&asker, now).unwrap().peers.is_empty());
        asker.numwant = Some(3);
        let a = registry.announce(&asker, now).unwrap().peers;
        let b = registry.announce(&asker, now).unwrap().peers;
        assert_eq!(a.len(), 3);
        assert_ne!(a, b, "peer lists are random samples");
    }

    #[test]
    fn families_filter_the_list() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        let mut v6 = announce(1, 1, 10, Event::Started);
        v6.addr = "[::1]:7000".parse().unwrap();
        registry.announce(&v6, now).unwrap();
        registry
            .announce(&announce(1, 2, 10, Event::Started), now)
            .unwrap();
        let mut asker = announce(1, 3, 10, Event::Started);
        asker.families = Families::V4;
        let peers = registry.announce(&asker, now).unwrap().peers;
        assert_eq!(peers.len(), 1);
        assert!(peers[0].addr.is_ipv4());
        asker.families = Families::V6;
        let peers = registry.announce(&asker, now).unwrap().peers;
        assert_eq!(peers.len(), 1);
        assert!(peers[0].addr.is_ipv6());
    }

    #[test]
    fn silent_peers_expire_after_two_intervals() {
        let start = Instant::now();
        let mut registry = Registry::seeded(config(10), 1);
        registry
            .announce(&announce(1, 1, 0, Event::Started), start)
            .unwrap();
        let later = start + Duration::from_secs(15);
        registry
            .announce(&announce(1, 2, 10, Event::Started), later)
            .unwrap();
        // At 21 s peer 1 (silent for 21 s > 20 s) is no longer handed out, even before a sweep.
        let at_21 = start + Duration::from_secs(21);
        let reply = registry
            .announce(&announce(1, 3, 10, Event::Started), at_21)
            .unwrap();
        assert_eq!(
            reply.peers.iter().map(|p| p.peer_id).collect::<Vec<_>>(),
            vec![[2; 20]]
        );
        assert_eq!(registry.expire(at_21), 1);
        assert_eq!(registry.scrape(&InfoHash([1; 20])).complete, 0);
        assert_eq!(registry.peer_count(), 2);
        assert_eq!(registry.expire(start + Duration::from_secs(100)), 2);
        assert_eq!(registry.swarm_count(), 0);
        assert_eq!(registry.peer_count(), 0);
    }

    #[test]
    fn limits_bound_swarms_and_peers() {
        let now = Instant::now();
        let mut registry = Registry::seeded(
            SwarmConfig {
                limits: Limits {
                    max_swarms: 2,
                    max_peers_per_swarm: 3,
                    max_peers: 4,
                },
                ..config(60)
            },
            1,
        );
        for peer in 0..5 {
            let reply = registry
                .announce(&announce(1, peer, 10, Event::Started), now)
                .unwrap();
            assert_eq!(reply.registered, peer < 3, "peer {peer}");
        }
        // The refused peer still got peers to talk to.
        let late = registry
            .announce(&announce(1, 9, 10, Event::None), now)
            .unwrap();
        assert_eq!(late.peers.len(), 3);
        registry
            .announce(&announce(2, 1, 10, Event::Started), now)
            .unwrap();
        let over_total = registry
            .announce(&announce(2, 2, 10, Event::Started), now)
            .unwrap();
        assert!(!over_total.registered, "max_peers counts all swarms");
        assert_eq!(
            registry.announce(&announce(3, 1, 10, Event::Started), now),
            Err(Refusal::TooManySwarms)
        );
        assert_eq!(registry.peer_count(), 4);
    }

    #[test]
    fn allow_list_refuses_other_hashes() {
        let now = Instant::now();
        let mut registry = Registry::seeded(
            SwarmConfig {
                allow: Some([InfoHash([1; 20])].into_iter().collect()),
                ..config(60)
            },
            1,
        );
        assert!(
            registry
                .announce(&announce(1, 1, 0, Event::Started), now)
                .is_ok()
        );
        assert_eq!(
            registry.announce(&announce(2, 1, 0, Event::Started), now),
            Err(Refusal::NotAllowed)
        );
    }

    #[test]
    fn same_peer_id_from_another_address_is_another_peer() {
        let now = Instant::now();
        let mut registry = Registry::seeded(config(60), 1);
        let first = announce(1, 1, 10, Event::Started);
        let mut moved = first.clone();
        moved.addr = SocketAddr::from(([127, 0, 0, 2], 6001));
        registry.announce(&first, now).unwrap();
        registry.announce(&moved, now).unwrap();
        assert_eq!(registry.scrape(&InfoHash([1; 20])).incomplete, 2);
        // Neither is given its own ID back.
        assert!(registry.announce(&moved, now).unwrap().peers.is_empty());
    }
}
