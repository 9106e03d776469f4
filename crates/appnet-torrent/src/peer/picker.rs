//! Which blocks to ask which peer for (BEP 3's "piece downloading strategy", as the mainline
//! client does it):
//!
//! - **strict priority**: once a block of a piece is asked for, the rest of that piece comes
//!   first, so whole pieces complete (and can be verified and shared) as early as possible;
//! - **random first pieces**: until a few pieces are complete, pick at random — the rarest
//!   piece may be slow to get from its one holder, and a new peer needs something to trade;
//! - **rarest first**: then the piece the fewest connected peers have, ties broken at random,
//!   so rare pieces spread before their holders leave;
//! - **endgame**: when every missing block has been asked for, ask other peers for them too;
//!   the first copy to arrive wins and the others are cancelled.
//!
//! Sans IO: the caller reports what peers have and what arrived, and asks for requests.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::metainfo::Info;
use crate::wire::{BLOCK_LEN as BLOCK, Bitfield, BlockRequest as Block};

/// Pieces picked at random before rarest-first takes over.
pub const RANDOM_FIRST: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Missing,
    /// Asked for, from this many peers (more than one only in endgame).
    Requested(u16),
    Received,
}

/// The geometry of the torrent's pieces.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub piece_count: u32,
    pub piece_length: u32,
    pub total_length: u64,
}

impl From<&Info> for Geometry {
    fn from(info: &Info) -> Geometry {
        Geometry {
            piece_count: info.piece_count(),
            piece_length: info.piece_length(),
            total_length: info.total_length(),
        }
    }
}

impl Geometry {
    pub fn piece_size(&self, piece: u32) -> u32 {
        let start = u64::from(piece) * u64::from(self.piece_length);
        (self.total_length - start).min(u64::from(self.piece_length)) as u32
    }

    pub fn blocks_in(&self, piece: u32) -> u32 {
        self.piece_size(piece).div_ceil(BLOCK)
    }

    pub fn block(&self, piece: u32, index: u32) -> Block {
        let begin = index * BLOCK;
        Block {
            index: piece,
            begin,
            length: (self.piece_size(piece) - begin).min(BLOCK),
        }
    }
}

pub struct Picker {
    geometry: Geometry,
    have: Bitfield,
    /// How many connected peers have each piece.
    availability: Vec<u32>,
    /// Pieces with at least one block asked for or received.
    partial: HashMap<u32, Vec<BlockState>>,
    rng: StdRng,
}

impl Picker {
    /// A picker for a torrent of which the pieces in `have` are already verified on disk.
    pub fn new(geometry: Geometry, have: Bitfield, seed: u64) -> Picker {
        Picker {
            availability: vec![0; geometry.piece_count as usize],
            geometry,
            have,
            partial: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    pub fn has(&self, piece: u32) -> bool {
        self.have.get(piece)
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    pub fn is_complete(&self) -> bool {
        self.have.all()
    }

    /// Bytes of verified pieces.
    pub fn bytes_done(&self) -> u64 {
        (0..self.geometry.piece_count)
            .filter(|p| self.has(*p))
            .map(|p| u64::from(self.geometry.piece_size(p)))
            .sum()
    }

    /// A connected peer has `piece` (its bitfield, a have message).
    pub fn peer_has(&mut self, piece: u32) {
        if let Some(count) = self.availability.get_mut(piece as usize) {
            *count += 1;
        }
    }

    /// A peer left, taking the pieces it had.
    pub fn peer_gone(&mut self, had: impl Iterator<Item = u32>) {
        for piece in had {
            if let Some(count) = self.availability.get_mut(piece as usize) {
                *count = count.saturating_sub(1);
            }
        }
    }

    /// Up to `max` blocks to request from a peer that has `peer_has`, none of `outstanding`
    /// (what that peer was already asked for). Marks them requested.
    pub fn pick(
        &mut self,
        peer_has: impl Fn(u32) -> bool,
        max: usize,
        outstanding: &[Block],
    ) -> Vec<Block> {
        let mut picked = Vec::new();
        self.pick_partial(&peer_has, max, &mut picked);
        while picked.len() < max {
            let Some(piece) = self.pick_new_piece(&peer_has) else {
                break;
            };
            self.partial.insert(
                piece,
                vec![BlockState::Missing; self.geometry.blocks_in(piece) as usize],
            );
            self.pick_from(piece, max, &mut picked);
        }
        if picked.is_empty() && self.in_endgame() {
            self.pick_endgame(&peer_has, max, outstanding, &mut picked);
        }
        picked
    }

    /// Strict priority: the missing blocks of started pieces, the most complete first.
    fn pick_partial(
        &mut self,
        peer_has: &impl Fn(u32) -> bool,
        max: usize,
        picked: &mut Vec<Block>,
    ) {
        let mut started: Vec<(usize, u32)> = self
            .partial
            .iter()
            .filter(|(piece, _)| peer_has(**piece))
            .filter(|(_, blocks)| blocks.contains(&BlockState::Missing))
            .map(|(piece, blocks)| {
                let done = blocks.iter().filter(|b| **b != BlockState::Missing).count();
                (done, *piece)
            })
            .collect();
        started.sort_by(|a, b| b.cmp(a));
        for (_, piece) in started {
            if picked.len() >= max {
                break;
            }
            self.pick_from(piece, max, picked);
        }
    }

    fn pick_from(&mut self, piece: u32, max: usize, picked: &mut Vec<Block>) {
        let geometry = self.geometry;
        let Some(blocks) = self.partial.get_mut(&piece) else {
            return;
        };
        for (index, state) in blocks.iter_mut().enumerate() {
            if picked.len() >= max {
                return;
            }
            if *state == BlockState::Missing {
                *state = BlockState::Requested(1);
                picked.push(geometry.block(piece, index as u32));
            }
        }
    }

    /// A piece not yet started: at random for the first few, then the rarest.
    fn pick_new_piece(&mut self, peer_has: &impl Fn(u32) -> bool) -> Option<u32> {
        let candidates: Vec<u32> = (0..self.geometry.piece_count)
            .filter(|p| !self.has(*p) && !self.partial.contains_key(p) && peer_has(*p))
            .collect();
        if (self.have.count() as usize) < RANDOM_FIRST {
            return candidates.choose(&mut self.rng).copied();
        }
        let rarest = candidates
            .iter()
            .map(|p| self.availability[*p as usize])
            .min()?;
        let ties: Vec<u32> = candidates
            .into_iter()
            .filter(|p| self.availability[*p as usize] == rarest)
            .collect();
        ties.choose(&mut self.rng).copied()
    }

    /// Endgame: nothing is missing that has not been asked for.
    pub fn in_endgame(&self) -> bool {
        let unstarted =
            (0..self.geometry.piece_count).any(|p| !self.has(p) && !self.partial.contains_key(&p));
        !unstarted
            && self
                .partial
                .values()
                .all(|blocks| !blocks.contains(&BlockState::Missing))
    }

    fn pick_endgame(
        &mut self,
        peer_has: &impl Fn(u32) -> bool,
        max: usize,
        outstanding: &[Block],
        picked: &mut Vec<Block>,
    ) {
        let geometry = self.geometry;
        let mut pending: Vec<(u32, usize)> = self
            .partial
            .iter()
            .filter(|(piece, _)| peer_has(**piece))
            .flat_map(|(piece, blocks)| {
                blocks
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| matches!(s, BlockState::Requested(_)))
                    .map(move |(i, _)| (*piece, i))
            })
            .collect();
        // Shuffled, so that endgame peers do not all duplicate the same block.
        for i in (1..pending.len()).rev() {
            pending.swap(i, self.rng.random_range(0..=i));
        }
        for (piece, index) in pending {
            if picked.len() >= max {
                break;
            }
            let block = geometry.block(piece, index as u32);
            if outstanding.contains(&block) {
                continue;
            }
            if let Some(BlockState::Requested(n)) =
                self.partial.get_mut(&piece).map(|b| &mut b[index])
            {
                *n += 1;
                picked.push(block);
            }
        }
    }

    /// A request will not be answered (choked, rejected, the peer left, timed out).
    pub fn dropped(&mut self, block: Block) {
        if let Some(state) = self.state_mut(block) {
            *state = match *state {
                BlockState::Requested(n) if n > 1 => BlockState::Requested(n - 1),
                BlockState::Requested(_) => BlockState::Missing,
                other => other,
            };
        }
    }

    /// A block arrived; `true` if it was wanted (not a duplicate), and whether its piece now
    /// has every block (ready to verify) comes from [`Picker::piece_ready`].
    pub fn received(&mut self, block: Block) -> bool {
        match self.state_mut(block) {
            Some(state) if *state != BlockState::Received => {
                *state = BlockState::Received;
                true
            }
            _ => false,
        }
    }

    pub fn piece_ready(&self, piece: u32) -> bool {
        self.partial
            .get(&piece)
            .is_some_and(|blocks| blocks.iter().all(|b| *b == BlockState::Received))
    }

    /// The verdict on a complete piece: kept, or thrown away to be fetched again.
    pub fn verified(&mut self, piece: u32, good: bool) {
        self.partial.remove(&piece);
        if good {
            self.have.set(piece);
        }
    }

    fn state_mut(&mut self, block: Block) -> Option<&mut BlockState> {
        if !block.begin.is_multiple_of(BLOCK) {
            return None;
        }
        let expected = self.geometry.block(block.index, block.begin / BLOCK);
        if block.index >= self.geometry.piece_count || expected != block {
            return None;
        }
        self.partial
            .get_mut(&block.index)?
            .get_mut((block.begin / BLOCK) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(pieces: u32) -> Geometry {
        Geometry {
            piece_count: pieces,
            piece_length: 2 * BLOCK,
            total_length: u64::from(pieces) * u64::from(2 * BLOCK) - 100,
        }
    }

    #[test]
    fn geometry_has_a_short_last_piece_and_block() {
        let g = geometry(3);
        assert_eq!(g.piece_size(2), 2 * BLOCK - 100);
        assert_eq!(g.blocks_in(2), 2);
        assert_eq!(g.block(2, 1).length, BLOCK - 100);
    }

    #[test]
    fn started_pieces_come_first_then_the_rarest() {
        let mut have = Bitfield::new(10);
        for piece in 0..4 {
            have.set(piece);
        }
        let mut picker = Picker::new(geometry(10), have, 1);
        // Pieces 4..10 are held by one peer each, except 7, held by three.
        for piece in 4..10 {
            picker.peer_has(piece);
        }
        picker.peer_has(7);
        picker.peer_has(7);
        let first = picker.pick(|_| true, 1, &[]);
        assert_eq!(first.len(), 1);
        let started = first[0].index;
        assert_ne!(started, 7, "rarest first");
        // The same piece's other block comes next, before any other piece.
        let next = picker.pick(|_| true, 1, &[]);
        assert_eq!(next[0].index, started);
        assert_eq!(next[0].begin, BLOCK);
    }

    #[test]
    fn endgame_duplicates_requests_and_duplicates_are_not_wanted_twice() {
        let mut picker = Picker::new(geometry(1), Bitfield::new(1), 2);
        picker.peer_has(0);
        let first = picker.pick(|_| true, 10, &[]);
        assert_eq!(first.len(), 2);
        assert!(picker.in_endgame());
        let duplicate = picker.pick(|_| true, 10, &first[..1]);
        assert_eq!(
            duplicate,
            vec![first[1]],
            "only the block this peer was not asked for"
        );
        assert!(picker.received(first[1]));
        assert!(!picker.received(first[1]), "the second copy is a duplicate");
        assert!(!picker.piece_ready(0));
        assert!(picker.received(first[0]));
        assert!(picker.piece_ready(0));
        picker.verified(0, true);
        assert!(picker.is_complete());
    }

    #[test]
    fn a_bad_piece_is_fetched_again_and_dropped_requests_return() {
        let mut picker = Picker::new(geometry(2), Bitfield::new(2), 3);
        let blocks = picker.pick(|p| p == 0, 10, &[]);
        assert_eq!(blocks.len(), 2);
        for block in &blocks {
            picker.received(*block);
        }
        picker.verified(0, false);
        assert!(!picker.has(0));
        assert_eq!(picker.pick(|p| p == 0, 10, &[]).len(), 2, "asked for again");
        picker.dropped(blocks[0]);
        assert_eq!(picker.pick(|p| p == 0, 10, &[]), vec![blocks[0]]);
        assert!(
            !picker.received(Block {
                index: 0,
                begin: 5,
                length: 1
            }),
            "not a block"
        );
    }

    #[test]
    fn random_first_spreads_new_peers_over_pieces() {
        let firsts: std::collections::HashSet<u32> = (0..20)
            .map(|seed| {
                Picker::new(geometry(50), Bitfield::new(50), seed).pick(|_| true, 1, &[])[0].index
            })
            .collect();
        assert!(firsts.len() > 5, "{firsts:?}");
    }
}
