//! One torrent's state across all its peer connections, sans IO: messages from peers go in
//! ([`Torrent::message`]), messages to peers come out ([`Action::Send`]), and the clock is
//! whatever the caller says it is. The driver owns the sockets; the storage is read and
//! written here, a block at a time.
//!
//! It follows BEP 3's peer protocol — interest and choking in both directions, requests
//! pipelined while the peer unchokes us, `have` to everyone once a piece is verified — with the
//! Fast extension's (BEP 6) explicit rejects when the peer supports it. Which blocks to ask for
//! is the [`Picker`]'s call, whom to upload to the [`Choker`]'s; what a peer sent that failed
//! its hash costs it a strike, and a peer with too many is banned.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::choker::{Candidate, Choker, RECHOKE, SNUB};
use super::picker::{Geometry, Picker};
use super::rate::RateMeter;
use super::storage::Storage;
use super::superseed::SuperSeed;
use crate::wire::{Bitfield, BlockRequest, MAX_BLOCK_LEN, Message};

/// A connection's key, given by the driver.
pub type PeerKey = u64;

/// A request not answered within this is given up and asked of someone else.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests from one peer queued at most (BEP 10's `reqq`); more are refused.
pub const MAX_QUEUED_REQUESTS: usize = 250;
/// Strikes (pieces that failed their hash with this peer's blocks in them) before a ban.
pub const MAX_STRIKES: u32 = 2;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests kept outstanding with each peer that unchokes us.
    pub pipeline: usize,
    /// Never unchoke anyone: a free-rider, for the swarm experiment.
    pub free_rider: bool,
    /// Seed in BEP 16's super-seeding mode (when the torrent starts complete).
    pub super_seed: bool,
    /// Seeds the random choices (piece picking, optimistic unchokes).
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pipeline: 64,
            free_rider: false,
            super_seed: false,
            seed: rand::random(),
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(PeerKey, Message),
    Disconnect(PeerKey, String),
    /// Never accept this address again: it sent data that failed its hash.
    Ban(IpAddr),
    /// A decision worth showing in the trace: choke, unchoke and why, a piece verified.
    Note(String),
    /// The last piece is verified: tell the tracker (`completed`).
    Completed,
}

struct Peer {
    addr: SocketAddr,
    connected_at: Instant,
    fast: bool,
    has: Bitfield,
    /// We choke it / it chokes us; we are interested in it / it is in us.
    am_choking: bool,
    peer_choking: bool,
    am_interested: bool,
    peer_interested: bool,
    /// Our requests to it, and when each was sent.
    outstanding: Vec<(BlockRequest, Instant)>,
    /// Its requests to us, to serve while we unchoke it.
    queued: VecDeque<BlockRequest>,
    download: RateMeter,
    upload: RateMeter,
    last_block: Option<Instant>,
    strikes: u32,
    /// Blocks we stopped waiting for (cancelled, timed out, choked away): still welcome if
    /// they arrive, unlike a block nobody asked for.
    released: VecDeque<BlockRequest>,
    /// How many of its pieces we lack: we are interested while this is above zero. Kept up
    /// to date as pieces come and go, since rescanning every peer's bitfield after every
    /// verified piece costs pieces × peers each time.
    wanted: u32,
}

/// Requests in flight with one peer: what it sends in [`QUEUE_TIME`], at least
/// [`MIN_PIPELINE`], at most `max`. A deep queue at a slow peer only delays pieces, and
/// pieces asked of one peer look as rare as ever to every other peer, which then asks the
/// same slow source for them: duplicates a seed pays for with its upload.
fn pipeline_depth(rate: f64, max: usize) -> usize {
    let blocks = rate * QUEUE_TIME.as_secs_f64() / f64::from(crate::wire::BLOCK_LEN);
    (blocks.ceil() as usize).clamp(MIN_PIPELINE, max.max(MIN_PIPELINE))
}

const QUEUE_TIME: Duration = Duration::from_millis(500);
const MIN_PIPELINE: usize = 4;

/// Released blocks remembered per peer.
const RELEASED: usize = 512;

impl Peer {
    fn release(&mut self, block: BlockRequest) {
        if self.released.len() == RELEASED {
            self.released.pop_front();
        }
        self.released.push_back(block);
    }

    /// Whether we asked this peer for `block` (and take it off the list).
    fn expected(&mut self, block: BlockRequest) -> bool {
        if let Some(at) = self.outstanding.iter().position(|(b, _)| *b == block) {
            self.outstanding.remove(at);
            return true;
        }
        match self.released.iter().position(|b| *b == block) {
            Some(at) => {
                self.released.remove(at);
                true
            }
            None => false,
        }
    }
}

pub struct Torrent {
    settings: Settings,
    storage: Storage,
    picker: Picker,
    choker: Choker,
    peers: HashMap<PeerKey, Peer>,
    /// Which peers sent blocks of each piece in progress (for strikes if it fails).
    contributors: HashMap<u32, HashSet<PeerKey>>,
    rng: StdRng,
    /// Present while super-seeding.
    super_seed: Option<SuperSeed>,
    actions: VecDeque<Action>,
    last_rechoke: Option<Instant>,
    uploaded: u64,
    downloaded: u64,
    completed: bool,
}

impl Torrent {
    /// A torrent over `storage`, of which `have` is verified on disk.
    pub fn new(storage: Storage, have: Bitfield, settings: Settings) -> Torrent {
        let completed = have.all();
        let geometry = Geometry::from(storage.info());
        let super_seed =
            (settings.super_seed && completed).then(|| SuperSeed::new(geometry.piece_count));
        Torrent {
            super_seed,
            picker: Picker::new(geometry, have, settings.seed),
            rng: StdRng::seed_from_u64(settings.seed ^ 0x5eed),
            settings,
            storage,
            choker: Choker::new(),
            peers: HashMap::new(),
            contributors: HashMap::new(),
            actions: VecDeque::new(),
            last_rechoke: None,
            uploaded: 0,
            downloaded: 0,
            completed,
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn is_complete(&self) -> bool {
        self.picker.is_complete()
    }

    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// Bytes verified, and the payload bytes moved each way.
    pub fn progress(&self) -> (u64, u64, u64) {
        (self.picker.bytes_done(), self.downloaded, self.uploaded)
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Download and upload rates summed over the peers, bytes per second.
    pub fn rates(&mut self, now: Instant) -> (f64, f64) {
        self.peers
            .values_mut()
            .fold((0.0, 0.0), |(down, up), peer| {
                (down + peer.download.rate(now), up + peer.upload.rate(now))
            })
    }

    /// A peer finished the handshake: it gets our bitfield (or BEP 6's have-all/none).
    pub fn connected(&mut self, key: PeerKey, addr: SocketAddr, fast: bool, now: Instant) {
        let pieces = self.picker.geometry().piece_count;
        self.peers.insert(
            key,
            Peer {
                addr,
                connected_at: now,
                fast,
                has: Bitfield::new(pieces),
                am_choking: true,
                peer_choking: true,
                am_interested: false,
                peer_interested: false,
                outstanding: Vec::new(),
                queued: VecDeque::new(),
                download: RateMeter::new(now),
                upload: RateMeter::new(now),
                last_block: None,
                strikes: 0,
                released: VecDeque::new(),
                wanted: 0,
            },
        );
        if self.super_seed.is_some() {
            // BEP 16: the seed looks like a peer with nothing, then offers a few pieces.
            if fast {
                self.send(key, Message::HaveNone);
            }
            let has = Bitfield::new(pieces);
            let offers = self
                .super_seed
                .as_mut()
                .map(|seed| seed.join(key, &has, &mut self.rng))
                .unwrap_or_default();
            self.offer(key, offers);
            return;
        }
        let have = self.picker.have();
        let greeting = match (fast, have.all(), have.none()) {
            (true, true, _) => Message::HaveAll,
            (true, _, true) => Message::HaveNone,
            (false, _, true) => return,
            _ => Message::Bitfield(have.clone()),
        };
        self.send(key, greeting);
    }

    /// The connection is gone: its pieces leave the availability counts, its requests are
    /// asked of others.
    pub fn disconnected(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.remove(&key) else {
            return;
        };
        if let Some(seed) = self.super_seed.as_mut() {
            seed.leave(key);
        }
        self.picker.peer_gone(peer.has.ones());
        for (block, _) in peer.outstanding {
            self.picker.dropped(block);
        }
        if self.choker.optimistic() == Some(key) || !peer.am_choking {
            self.last_rechoke = None;
        }
    }

    /// A message from a peer.
    pub fn message(&mut self, key: PeerKey, message: Message, now: Instant) {
        if !self.peers.contains_key(&key) {
            return;
        }
        // BEP 3 wants a bitfield only first, but aria2 sends another after a reconnect; a
        // late one only adds pieces, so it is taken as a batch of haves.
        match message {
            Message::KeepAlive
            | Message::Port(_)
            | Message::Suggest(_)
            | Message::Extended { .. } => {}
            Message::AllowedFast(_) => {}
            Message::Choke => self.choked_by(key),
            Message::Unchoke => {
                self.peer_mut(key).peer_choking = false;
                self.request_more(key, now);
            }
            Message::Interested => self.interest_from(key, true, now),
            Message::NotInterested => self.interest_from(key, false, now),
            Message::Have(piece) => self.peer_has(key, [piece].into_iter(), now),
            Message::Bitfield(bits) => {
                self.peer_has(key, bits.ones().collect::<Vec<_>>().into_iter(), now)
            }
            Message::HaveAll => {
                let all = 0..self.picker.geometry().piece_count;
                self.peer_has(key, all, now);
            }
            Message::HaveNone => {}
            Message::Request(block) => self.requested(key, block),
            Message::Cancel(block) => self.peer_mut(key).queued.retain(|b| *b != block),
            Message::Reject(block) => {
                let peer = self.peer_mut(key);
                peer.outstanding.retain(|(b, _)| *b != block);
                self.picker.dropped(block);
            }
            Message::Piece {
                index,
                begin,
                block,
            } => self.block_arrived(key, index, begin, block, now),
        }
    }

    /// Time passing: rechoking every 10 s, and requests that went unanswered.
    pub fn tick(&mut self, now: Instant) {
        if self
            .last_rechoke
            .is_none_or(|last| now.duration_since(last) >= RECHOKE)
        {
            self.rechoke(now);
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            let (late, fresh): (Vec<_>, Vec<_>) = peer
                .outstanding
                .drain(..)
                .partition(|(_, at)| now.duration_since(*at) >= REQUEST_TIMEOUT);
            peer.outstanding = fresh;
            for (block, _) in late {
                peer.release(block);
                self.picker.dropped(block);
            }
            self.request_more(key, now);
        }
    }

    /// Uploads queued requests while `budget` allows: the driver passes what its upload limit
    /// and each peer's send buffer admit, and sends the pieces that come out.
    pub fn serve_uploads(&mut self, now: Instant, mut budget: impl FnMut(PeerKey, u32) -> bool) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        let mut progress = true;
        // Round-robin, a block per peer per pass, so one greedy peer does not starve others.
        while progress {
            progress = false;
            for key in &keys {
                let Some(block) = self.peers.get(key).and_then(|p| p.queued.front().copied())
                else {
                    continue;
                };
                if !budget(*key, block.length) {
                    continue;
                }
                let others_lack = self.super_seed.is_some()
                    && self
                        .peers
                        .iter()
                        .any(|(other, p)| other != key && !p.has.get(block.index));
                let Some(peer) = self.peers.get_mut(key) else {
                    continue;
                };
                peer.queued.pop_front();
                match self.storage.read(block.index, block.begin, block.length) {
                    Ok(data) => {
                        peer.upload.record(now, u64::from(block.length));
                        self.uploaded += u64::from(block.length);
                        if let Some(seed) = self.super_seed.as_mut() {
                            let piece_len =
                                u64::from(self.picker.geometry().piece_size(block.index));
                            let offers = seed.uploaded(
                                *key,
                                block.index,
                                u64::from(block.length),
                                piece_len,
                                others_lack,
                                &peer.has,
                                &mut self.rng,
                            );
                            for piece in offers {
                                self.actions
                                    .push_back(Action::Send(*key, Message::Have(piece)));
                            }
                        }
                        self.send(
                            *key,
                            Message::Piece {
                                index: block.index,
                                begin: block.begin,
                                block: data,
                            },
                        );
                        progress = true;
                    }
                    Err(err) => {
                        self.note(format!("cannot read piece {}: {err}", block.index));
                    }
                }
            }
        }
    }

    fn peer_mut(&mut self, key: PeerKey) -> &mut Peer {
        self.peers
            .get_mut(&key)
            .expect("callers check the peer is connected")
    }

    fn send(&mut self, key: PeerKey, message: Message) {
        self.actions.push_back(Action::Send(key, message));
    }

    fn note(&mut self, text: String) {
        self.actions.push_back(Action::Note(text));
    }

    /// Super-seeding: shows the peer these pieces.
    fn offer(&mut self, key: PeerKey, pieces: Vec<u32>) {
        for piece in pieces {
            self.send(key, Message::Have(piece));
        }
    }

    fn choked_by(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        peer.peer_choking = true;
        // Without the Fast extension a choke discards every request; with it, the peer
        // rejects each one it will not serve (BEP 6), so they stay until then.
        if !peer.fast {
            let dropped: Vec<_> = peer.outstanding.drain(..).map(|(b, _)| b).collect();
            for block in dropped {
                peer.release(block);
                self.picker.dropped(block);
            }
        }
    }

    fn interest_from(&mut self, key: PeerKey, interested: bool, now: Instant) {
        let peer = self.peer_mut(key);
        peer.peer_interested = interested;
        let held_a_slot = !peer.am_choking;
        // A free upload slot should not wait for the next 10-second round: not at the start,
        // and not when a peer we upload to has all it wants from us (at the end of a swarm,
        // when the last pieces must spread fast).
        let unchoked = self.peers.values().filter(|p| !p.am_choking).count();
        let slot_free = interested && unchoked <= super::choker::UPLOAD_SLOTS;
        if slot_free || (!interested && held_a_slot) {
            self.rechoke(now);
        }
    }

    fn peer_has(&mut self, key: PeerKey, pieces: impl Iterator<Item = u32>, now: Instant) {
        let count = self.picker.geometry().piece_count;
        for piece in pieces.filter(|p| *p < count) {
            let lacking = !self.picker.has(piece);
            let peer = self.peer_mut(key);
            if peer.has.set(piece) {
                peer.wanted += u32::from(lacking);
                self.picker.peer_has(piece);
                if let Some(seed) = self.super_seed.as_mut() {
                    let peers = &self.peers;
                    let offers = seed.peer_has(
                        key,
                        piece,
                        |other| peers.get(&other).map(|p| p.has.clone()),
                        &mut self.rng,
                    );
                    for (to, piece) in offers {
                        self.actions
                            .push_back(Action::Send(to, Message::Have(piece)));
                    }
                }
            }
        }
        self.update_interest(key);
        self.request_more(key, now);
    }

    fn update_interest(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        let wanted = !self.picker.is_complete() && peer.wanted > 0;
        if wanted != peer.am_interested {
            self.peer_mut(key).am_interested = wanted;
            let message = if wanted {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send(key, message);
        }
    }

    fn request_more(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.peer_choking || !peer.am_interested || self.picker.is_complete() {
            return;
        }
        let depth = pipeline_depth(peer.download.rate(now), self.settings.pipeline);
        let room = depth.saturating_sub(peer.outstanding.len());
        if room == 0 {
            return;
        }
        let outstanding: Vec<BlockRequest> = peer.outstanding.iter().map(|(b, _)| *b).collect();
        let has = peer.has.clone();
        let blocks = self.picker.pick(|p| has.get(p), room, &outstanding);
        for block in blocks {
            self.peer_mut(key).outstanding.push((block, now));
            self.send(key, Message::Request(block));
        }
    }

    /// A peer's request: queued if we unchoke it and have the piece, else refused.
    fn requested(&mut self, key: PeerKey, block: BlockRequest) {
        let geometry = self.picker.geometry();
        let valid = block.index < geometry.piece_count
            && block.length > 0
            && block.length <= MAX_BLOCK_LEN
            && u64::from(block.begin) + u64::from(block.length)
                <= u64::from(geometry.piece_size(block.index));
        if !valid {
            self.actions.push_back(Action::Disconnect(
                key,
                format!("asked for bytes outside piece {}", block.index),
            ));
            return;
        }
        let has_piece = self.picker.has(block.index);
        let peer = self.peer_mut(key);
        let serve = !peer.am_choking && has_piece && peer.queued.len() < MAX_QUEUED_REQUESTS;
        if serve {
            peer.queued.push_back(block);
        } else if peer.fast {
            self.send(key, Message::Reject(block));
        }
    }

    fn block_arrived(&mut self, key: PeerKey, index: u32, begin: u32, data: Vec<u8>, now: Instant) {
        let block = BlockRequest {
            index,
            begin,
            length: data.len() as u32,
        };
        let peer = self.peer_mut(key);
        if !peer.expected(block) {
            self.actions.push_back(Action::Disconnect(
                key,
                format!(
                    "sent piece {index} bytes {begin}+{} that nobody asked for",
                    data.len()
                ),
            ));
            return;
        }
        peer.download.record(now, data.len() as u64);
        peer.last_block = Some(now);
        self.downloaded += data.len() as u64;
        if !self.picker.received(block) {
            // Unasked for, or a second copy in endgame: not written twice.
            self.request_more(key, now);
            return;
        }
        if let Err(err) = self.storage.write(index, begin, &data) {
            self.note(format!("cannot write piece {index}: {err}"));
            self.picker.dropped(block);
            return;
        }
        self.contributors.entry(index).or_default().insert(key);
        self.cancel_duplicates(key, block);
        if self.picker.piece_ready(index) {
            self.finish_piece(index);
        }
        self.request_more(key, now);
    }

    /// Endgame: everyone else asked for this block is told not to bother.
    fn cancel_duplicates(&mut self, from: PeerKey, block: BlockRequest) {
        let others: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(k, p)| **k != from && p.outstanding.iter().any(|(b, _)| *b == block))
            .map(|(k, _)| *k)
            .collect();
        for key in others {
            let peer = self.peer_mut(key);
            peer.outstanding.retain(|(b, _)| *b != block);
            peer.release(block);
            self.send(key, Message::Cancel(block));
        }
    }

    fn finish_piece(&mut self, index: u32) {
        let good = self.storage.verify(index).unwrap_or(false);
        self.picker.verified(index, good);
        let contributors = self.contributors.remove(&index).unwrap_or_default();
        if !good {
            self.note(format!(
                "piece {index} failed its SHA-1 check; fetching it again"
            ));
            self.strike(&contributors);
            return;
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in &keys {
            self.send(*key, Message::Have(index));
        }
        for key in keys {
            let peer = self.peer_mut(key);
            if peer.has.get(index) {
                peer.wanted = peer.wanted.saturating_sub(1);
                self.update_interest(key);
            }
        }
        if self.picker.is_complete() && !self.completed {
            self.completed = true;
            self.note("download complete: every piece verified".into());
            self.actions.push_back(Action::Completed);
            // Seeding from now on: slots go by upload rate, at once.
            self.last_rechoke = None;
        }
    }

    /// Every peer that sent part of a bad piece gets a strike; a peer that sent all of it, or
    /// has too many, is banned.
    fn strike(&mut self, contributors: &HashSet<PeerKey>) {
        let alone = contributors.len() == 1;
        for key in contributors {
            let Some(peer) = self.peers.get_mut(key) else {
                continue;
            };
            peer.strikes += 1;
            if alone || peer.strikes >= MAX_STRIKES {
                let addr = peer.addr;
                self.actions.push_back(Action::Ban(addr.ip()));
                self.actions.push_back(Action::Disconnect(
                    *key,
                    "sent data that failed its hash".into(),
                ));
            }
        }
    }

    fn rechoke(&mut self, now: Instant) {
        self.last_rechoke = Some(now);
        if self.settings.free_rider {
            return;
        }
        let seeding = self.picker.is_complete();
        let candidates: Vec<Candidate> = self
            .peers
            .iter_mut()
            .map(|(key, peer)| Candidate {
                id: *key,
                interested: peer.peer_interested,
                download_rate: peer.download.rate(now),
                upload_rate: peer.upload.rate(now),
                snubbed: !peer.peer_choking
                    && !peer.outstanding.is_empty()
                    && now.duration_since(peer.last_block.unwrap_or(peer.connected_at)) >= SNUB,
                connected_at: peer.connected_at,
                choked: peer.am_choking,
            })
            .collect();
        let decisions = self
            .choker
            .rechoke(now, seeding, &candidates, &mut self.rng);
        for decision in decisions {
            let Some(peer) = self.peers.get_mut(&decision.id) else {
                continue;
            };
            peer.am_choking = !decision.unchoke;
            let addr = peer.addr;
            let message = if decision.unchoke {
                Message::Unchoke
            } else {
                // What we will no longer serve is dropped, or rejected one by one (BEP 6).
                let dropped: Vec<BlockRequest> = peer.queued.drain(..).collect();
                if peer.fast {
                    for block in dropped {
                        self.actions
                            .push_back(Action::Send(decision.id, Message::Reject(block)));
                    }
                }
                Message::Choke
            };
            let verb = if decision.unchoke { "unchoke" } else { "choke" };
            self.note(format!("{verb} {addr}: {}", decision.reason));
            self.send(decision.id, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage::Placement;
    use super::*;

    const PIECE: u32 = 32 * 1024;

    struct Side {
        torrent: Torrent,
        _dir: tempfile::TempDir,
    }

    /// A torrent of `data` in 32 KiB pieces: seeding it, or downloading it into an empty
    /// directory.
    fn side(data: &[u8], seeding: bool, seed: u64) -> Side {
        side_with(
            data,
            seeding,
            Settings {
                seed,
                ..Settings::default()
            },
        )
    }

    fn side_with(data: &[u8], seeding: bool, settings: Settings) -> Side {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("data.bin");
        std::fs::write(&source, data).unwrap();
        let bytes = crate::metainfo::create(&source, &[], Some(PIECE), &mut |_| {}).unwrap();
        let meta = crate::metainfo::Metainfo::parse(&bytes).unwrap();
        let placement = if seeding {
            Placement::At(&source)
        } else {
            std::fs::remove_file(&source).unwrap();
            Placement::Into(dir.path())
        };
        let storage = Storage::open(meta.info(), placement, !seeding).unwrap();
        let have = storage.check_all(&mut |_| {}).unwrap();
        Side {
            torrent: Torrent::new(storage, have, settings),
            _dir: dir,
        }
    }

    /// Moves every action of `from` (peer key 1 on both sides) to `to`; what was sent.
    fn deliver(from: &mut Torrent, to: &mut Torrent, now: Instant) -> Vec<Action> {
        from.serve_uploads(now, |_, _| true);
        let mut seen = Vec::new();
        while let Some(action) = from.poll_action() {
            if let Action::Send(_, message) = &action {
                to.message(1, message.clone(), now);
            }
            seen.push(action);
        }
        seen
    }

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, last], 6881))
    }

    #[test]
    fn a_leecher_gets_every_piece_from_a_seeder() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for super_seed in [false, true] {
            let settings = Settings {
                seed: 1,
                super_seed,
                ..Settings::default()
            };
            let seeder = side_with(&data, true, settings);
            let leecher = side(&data, false, 2);
            transfer(&data, seeder, leecher);
        }
    }

    fn transfer(data: &[u8], mut seeder: Side, mut leecher: Side) {
        assert!(seeder.torrent.is_complete() && !leecher.torrent.is_complete());
        let now = Instant::now();
        seeder.torrent.connected(1, addr(2), true, now);
        leecher.torrent.connected(1, addr(1), true, now);
        let mut notes = Vec::new();
        for round in 0..200 {
            let at = now + Duration::from_millis(round * 50);
            seeder.torrent.tick(at);
            leecher.torrent.tick(at);
            notes.extend(deliver(&mut seeder.torrent, &mut leecher.torrent, at));
            let sent = deliver(&mut leecher.torrent, &mut seeder.torrent, at);
            if sent.contains(&Action::Completed) {
                break;
            }
        }
        assert!(leecher.torrent.is_complete(), "{notes:#?}");
        let (done, downloaded, _) = leecher.torrent.progress();
        assert_eq!(done, data.len() as u64);
        assert_eq!(
            downloaded,
            data.len() as u64,
            "no block fetched twice from one seeder"
        );
        assert!(
            notes
                .iter()
                .any(|a| matches!(a, Action::Note(n) if n.starts_with("unchoke")))
        );
    }

    #[test]
    fn a_peer_that_sends_bad_data_is_banned_and_the_piece_fetched_again() {
        let data = vec![7u8; 100_000];
        let mut leecher = side(&data, false, 3);
        let now = Instant::now();
        leecher.torrent.connected(1, addr(9), true, now);
        leecher.torrent.message(1, Message::HaveAll, now);
        leecher.torrent.message(1, Message::Unchoke, now);
        let requests: Vec<BlockRequest> = std::iter::from_fn(|| leecher.torrent.poll_action())
            .filter_map(|a| match a {
                Action::Send(_, Message::Request(block)) => Some(block),
                _ => None,
            })
            .collect();
        let first_piece: Vec<_> = requests
            .iter()
            .filter(|b| b.index == requests[0].index)
            .collect();
        for block in first_piece {
            leecher.torrent.message(
                1,
                Message::Piece {
                    index: block.index,
                    begin: block.begin,
                    block: vec![0xEE; block.length as usize],
                },
                now,
            );
        }
        let actions: Vec<Action> = std::iter::from_fn(|| leecher.torrent.poll_action()).collect();
        assert!(actions.contains(&Action::Ban(addr(9).ip())), "{actions:#?}");
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Disconnect(1, _)))
        );
        assert!(!leecher.torrent.have().get(requests[0].index));
    }

    #[test]
    fn requests_outside_a_piece_end_the_connection_and_choked_ones_are_rejected() {
        let data = vec![1u8; 100_000];
        let mut seeder = side(&data, true, 4);
        let now = Instant::now();
        seeder.torrent.connected(1, addr(3), true, now);
        let block = BlockRequest {
            index: 0,
            begin: 0,
            length: 16_384,
        };
        seeder.torrent.message(1, Message::Request(block), now);
        let outside = BlockRequest {
            index: 3,
            begin: 16_384,
            length: 16_384,
        };
        seeder.torrent.message(1, Message::Request(outside), now);
        let actions: Vec<Action> = std::iter::from_fn(|| seeder.torrent.poll_action()).collect();
        assert!(
            actions.contains(&Action::Send(1, Message::Reject(block))),
            "{actions:#?}"
        );
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Disconnect(1, _)))
        );
    }
}
