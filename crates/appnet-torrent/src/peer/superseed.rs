//! Super-seeding (BEP 16): a seed that shows each peer only a few pieces at a time — pieces
//! handed out fewest times so far — instead of its whole bitfield. Each peer then fetches
//! from the seed what nobody else has, and everything else from the other peers, so the
//! seed's scarce upload carries each piece about once: the swarm finishes near `F/u_s`, the
//! course's bound, instead of paying for copies two peers asked for at once.
//!
//! Sans IO: the torrent core tells it who joined, what was uploaded, which `have`s came, and
//! announces the pieces it returns with `have` messages.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::rngs::StdRng;

use super::torrent::PeerKey;
use crate::wire::Bitfield;

/// Pieces offered to one peer at a time: enough to keep a request pipeline full.
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

    /// `bytes` of `piece` went to the peer; once all `piece_len` have, the next piece.
    pub fn uploaded(
        &mut self,
        key: PeerKey,
        piece: u32,
        bytes: u64,
        piece_len: u64,
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
        self.refill(key, has, rng)
    }

    /// The peer says it has `piece` (from us or from anyone): an offer of it is done.
    pub fn peer_has(
        &mut self,
        key: PeerKey,
        piece: u32,
        has: &Bitfield,
        rng: &mut StdRng,
    ) -> Vec<u32> {
        let Some(offers) = self.offers.get_mut(&key) else {
            return Vec::new();
        };
        let before = offers.pending.len();
        offers.pending.retain(|(p, _)| *p != piece);
        if offers.pending.len() == before {
            return Vec::new();
        }
        self.refill(key, has, rng)
    }

    /// Tops the peer's offers up to [`OFFERS`] with the least-offered pieces it lacks.
    fn refill(&mut self, key: PeerKey, has: &Bitfield, rng: &mut StdRng) -> Vec<u32> {
        let mut new = Vec::new();
        while let Some(offers) = self.offers.get(&key) {
            if offers.pending.len() >= OFFERS {
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
        // Peer 1 takes its first piece: it is offered another, now a second copy.
        let next = seed.uploaded(1, a[0], 64, 64, &empty, &mut rng);
        assert_eq!(next.len(), 1);
        assert!(!a.contains(&next[0]));
    }

    #[test]
    fn a_piece_got_elsewhere_or_a_peer_leaving_frees_the_offer() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut seed = SuperSeed::new(8);
        let mut has = Bitfield::new(8);
        let first = seed.join(1, &has, &mut rng);
        has.set(first[0]);
        let replacement = seed.peer_has(1, first[0], &has, &mut rng);
        assert_eq!(replacement.len(), 1);
        seed.leave(1);
        let fresh = seed.join(2, &Bitfield::new(8), &mut rng);
        assert_eq!(fresh.len(), OFFERS);
        assert!(seed.uploaded(2, 99, 1, 1, &has, &mut rng).is_empty());
    }
}
