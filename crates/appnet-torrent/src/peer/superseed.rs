//! Super-seeding (BEP 16): a seed that shows each peer only a few pieces at a time — pieces
//! handed out fewest times so far — instead of its whole bitfield. Each peer then fetches
//! from the seed what nobody else has, and everything else from the other peers, so the
//! seed's scarce upload carries each piece about once: the swarm finishes near `F/u_s`, the
//! course's bound, instead of paying for copies two peers asked for at once.
//!
//! As BEP 16 has it, a peer gets a new piece only once a piece it was given shows up at
//! another peer: a peer that passes nothing on — a free-rider — gets its first few pieces
//! and then nothing more from the seed.
//!
//! Sans IO: the torrent core tells it who joined, what was uploaded, which `have`s came, and
//! announces the pieces it returns with `have` messages.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::rngs::StdRng;

use super::torrent::PeerKey;
use crate::wire::Bitfield;

/// Pieces a peer may hold from us at a time, offered or given and not yet seen elsewhere:
/// enough to keep a request pipeline full.
pub const OFFERS: usize = 4;

#[derive(Debug)]
pub struct SuperSeed {
    /// How many times each piece has been offered.
    offered: Vec<u32>,
    offers: HashMap<PeerKey, Offers>,
}

/// One peer's offers.
#[derive(Debug, Default)]
struct Offers {
    /// Offered and not yet passed on, with the bytes sent of each.
    pending: Vec<(u32, u64)>,
    /// Passed on in full: the peer has them, whether or not its `have` has come yet.
    given: HashSet<u32>,
    /// Given, and not yet seen at any other peer.
    unshared: Vec<u32>,
}

impl Offers {
    fn held(&self) -> usize {
        self.pending.len() + self.unshared.len()
    }
}

impl SuperSeed {
    pub fn new(piece_count: u32) -> SuperSeed {
        SuperSeed {
            offered: vec![0; piece_count as usize],
            offers: HashMap::new(),
        }
    }

    /// A peer connected: the first pieces to show it.
    pub fn join(&mut self, key: PeerKey, has: &Bitfield, rng: &mut StdRng) -> Vec<u32> {
        self.offers.insert(key, Offers::default());
        self.refill(key, has, rng)
    }

    /// A peer left: what it was offered and did not take counts as not offered.
    pub fn leave(&mut self, key: PeerKey) {
        for (piece, _) in self.offers.remove(&key).unwrap_or_default().pending {
            self.offered[piece as usize] = self.offered[piece as usize].saturating_sub(1);
        }
    }

    /// `bytes` of `piece` went to the peer; once all `piece_len` have, the piece waits to be
    /// seen at another peer — unless no other peer lacks it (`others_lack` false), as when
    /// the peer is the only downloader.
    #[allow(clippy::too_many_arguments)]
    pub fn uploaded(
        &mut self,
        key: PeerKey,
        piece: u32,
        bytes: u64,
        piece_len: u64,
        others_lack: bool,
        has: &Bitfield,
        rng: &mut StdRng,
    ) -> Vec<u32> {
        let Some(offers) = self.offers.get_mut(&key) else {
            return Vec::new();
        };
        let Some(at) = offers.pending.iter().position(|(p, _)| *p == piece) else {
            return Vec::new();
        };
        offers.pending[at].1 += bytes;
        if offers.pending[at].1 < piece_len {
            return Vec::new();
        }
        offers.pending.remove(at);
        offers.given.insert(piece);
        if others_lack {
            offers.unshared.push(piece);
        }
        self.refill(key, has, rng)
    }

    /// Peer `key` says it has `piece`. Its own offer of that piece is done; and any other
    /// peer we gave the piece to has now shared it, which earns it a new one. The new offers,
    /// with the peers they are for (`has_of` tells what each peer has).
    pub fn peer_has(
        &mut self,
        key: PeerKey,
        piece: u32,
        has_of: impl Fn(PeerKey) -> Option<Bitfield>,
        rng: &mut StdRng,
    ) -> Vec<(PeerKey, u32)> {
        let mut freed = Vec::new();
        for (peer, offers) in self.offers.iter_mut() {
            let before = offers.held();
            if *peer == key {
                offers.pending.retain(|(p, _)| *p != piece);
            } else {
                offers.unshared.retain(|p| *p != piece);
            }
            if offers.held() < before {
                freed.push(*peer);
            }
        }
        let mut new = Vec::new();
        for peer in freed {
            if let Some(has) = has_of(peer) {
                new.extend(self.refill(peer, &has, rng).into_iter().map(|p| (peer, p)));
            }
        }
        new
    }

    /// Tops the peer's offers up to [`OFFERS`] with the least-offered pieces it lacks.
    fn refill(&mut self, key: PeerKey, has: &Bitfield, rng: &mut StdRng) -> Vec<u32> {
        let mut new = Vec::new();
        while let Some(offers) = self.offers.get(&key) {
            if offers.held() >= OFFERS {
                break;
            }
            let candidates = (0..self.offered.len() as u32).filter(|p| {
                !has.get(*p)
                    && !offers.given.contains(p)
                    && !offers.pending.iter().any(|(o, _)| o == p)
            });
            let Some(least) = candidates.clone().map(|p| self.offered[p as usize]).min() else {
                break;
            };
            let ties: Vec<u32> = candidates
                .filter(|p| self.offered[*p as usize] == least)
                .collect();
            let piece = ties[rng.random_range(0..ties.len())];
            self.offered[piece as usize] += 1;
            self.offers.entry(key).or_default().pending.push((piece, 0));
            new.push(piece);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn each_peer_sees_different_pieces_until_all_are_out() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut seed = SuperSeed::new(12);
        let empty = Bitfield::new(12);
        let a = seed.join(1, &empty, &mut rng);
        let b = seed.join(2, &empty, &mut rng);
        let c = seed.join(3, &empty, &mut rng);
        let mut all: Vec<u32> = [a.clone(), b, c].concat();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            12,
            "twelve pieces, three peers, four each: no overlap"
        );
        // Peer 1 takes its first piece: nothing new until another peer has it too.
        assert!(
            seed.uploaded(1, a[0], 64, 64, true, &empty, &mut rng)
                .is_empty()
        );
        let next = seed.peer_has(2, a[0], |_| Some(empty.clone()), &mut rng);
        assert_eq!(next.len(), 1, "{next:?}");
        assert_eq!(next[0].0, 1, "the new offer is for the peer that shared");
        assert!(!a.contains(&next[0].1));
    }

    #[test]
    fn a_peer_that_shares_nothing_gets_nothing_more() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut seed = SuperSeed::new(100);
        let empty = Bitfield::new(100);
        let first = seed.join(1, &empty, &mut rng);
        for piece in &first {
            assert!(
                seed.uploaded(1, *piece, 10, 10, true, &empty, &mut rng)
                    .is_empty()
            );
        }
        assert_eq!(
            seed.join(2, &empty, &mut rng).len(),
            OFFERS,
            "others still get offers"
        );
    }

    #[test]
    fn a_piece_got_elsewhere_or_a_peer_leaving_frees_the_offer() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut seed = SuperSeed::new(8);
        let mut has = Bitfield::new(8);
        let first = seed.join(1, &has, &mut rng);
        has.set(first[0]);
        let replacement = seed.peer_has(1, first[0], |_| Some(has.clone()), &mut rng);
        assert_eq!(replacement.len(), 1);
        seed.leave(1);
        let fresh = seed.join(2, &Bitfield::new(8), &mut rng);
        assert_eq!(fresh.len(), OFFERS);
        assert!(seed.uploaded(2, 99, 1, 1, true, &has, &mut rng).is_empty());
    }
}
