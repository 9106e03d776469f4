//! The choking algorithm (BEP 3 "choking and optimistic unchoking", as the mainline client
//! runs it): tit-for-tat with a little generosity.
//!
//! - Every [`RECHOKE`] (10 s) the [`UPLOAD_SLOTS`] interested peers that give us the best
//!   download rate are unchoked — or, when we are seeding and nobody gives us anything, those
//!   we upload to fastest. Everyone else is choked. A peer that uploads nothing to us, a
//!   free-rider, never wins a regular slot while we are downloading.
//! - Every [`OPTIMISTIC`] (30 s) one more choked, interested peer is unchoked whatever its
//!   rate: that is how a newcomer with nothing to trade gets its first pieces, and how we
//!   discover partners better than the current ones. New peers are three times as likely to
//!   be picked.
//! - A peer that has not sent us a block for [`SNUB`] while unchoking us is snubbed: it
//!   loses its regular slot, as if it gave us nothing.
//!
//! Every decision comes with its reason, for `--trace`.

use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;

pub const RECHOKE: Duration = Duration::from_secs(10);
pub const OPTIMISTIC: Duration = Duration::from_secs(30);
pub const SNUB: Duration = Duration::from_secs(60);
pub const UPLOAD_SLOTS: usize = 3;
/// Peers connected for less than this count as new for the optimistic unchoke.
pub const NEW_PEER: Duration = Duration::from_secs(60);

/// What the choker needs to know about one connected peer.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: u64,
    pub interested: bool,
    /// Bytes per second it sends us.
    pub download_rate: f64,
    /// Bytes per second we send it.
    pub upload_rate: f64,
    pub snubbed: bool,
    pub connected_at: Instant,
    /// Whether we choke it now.
    pub choked: bool,
}

/// One change to make, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub id: u64,
    pub unchoke: bool,
    pub reason: String,
}

#[derive(Debug)]
pub struct Choker {
    optimistic: Option<u64>,
    last_optimistic: Option<Instant>,
}

impl Default for Choker {
    fn default() -> Self {
        Choker::new()
    }
}

impl Choker {
    pub fn new() -> Choker {
        Choker {
            optimistic: None,
            last_optimistic: None,
        }
    }

    /// The current optimistic unchoke.
    pub fn optimistic(&self) -> Option<u64> {
        self.optimistic
    }

    /// One rechoke round at `now`: the changes to make (peers whose state stays are left
    /// out).
    pub fn rechoke(
        &mut self,
        now: Instant,
        seeding: bool,
        peers: &[Candidate],
        rng: &mut StdRng,
    ) -> Vec<Decision> {
        let rate = |peer: &Candidate| {
            if seeding {
                peer.upload_rate
            } else {
                peer.download_rate
            }
        };
        let mut ranked: Vec<&Candidate> = peers
            .iter()
            .filter(|p| p.interested && (seeding || !p.snubbed))
            .collect();
        ranked.sort_by(|a, b| rate(b).total_cmp(&rate(a)).then(a.id.cmp(&b.id)));
        let regular: Vec<u64> = ranked
            .iter()
            .take(UPLOAD_SLOTS)
            .filter(|p| seeding || rate(p) > 0.0)
            .map(|p| p.id)
            .collect();

        let rotate = self
            .last_optimistic
            .is_none_or(|last| now.duration_since(last) >= OPTIMISTIC)
            || self
                .optimistic
                .is_none_or(|id| !peers.iter().any(|p| p.id == id && p.interested));
        if rotate {
            self.optimistic = pick_optimistic(now, peers, &regular, rng);
            self.last_optimistic = Some(now);
        }

        let measure = if seeding { "upload" } else { "download" };
        let mut decisions = Vec::new();
        for peer in peers {
            let (unchoke, reason) = if let Some(rank) = regular.iter().position(|id| *id == peer.id)
            {
                (
                    true,
                    format!(
                        "#{} by {measure} rate ({:.0} B/s) of {} interested",
                        rank + 1,
                        rate(peer),
                        ranked.len()
                    ),
                )
            } else if Some(peer.id) == self.optimistic {
                (true, "optimistic unchoke".to_string())
            } else if !peer.interested {
                (false, "not interested".to_string())
            } else if peer.snubbed && !seeding {
                (false, "snubbed: no block from it for 60 s".to_string())
            } else if rate(peer) == 0.0 && !seeding {
                (false, "gives us nothing".to_string())
            } else {
                (
                    false,
                    format!(
                        "{measure} rate {:.0} B/s is not in the top {UPLOAD_SLOTS}",
                        rate(peer)
                    ),
                )
            };
            if unchoke == peer.choked {
                decisions.push(Decision {
                    id: peer.id,
                    unchoke,
                    reason,
                });
            }
        }
        decisions
    }
}

/// A random choked, interested peer outside the regular slots; new peers weigh three times.
fn pick_optimistic(
    now: Instant,
    peers: &[Candidate],
    regular: &[u64],
    rng: &mut StdRng,
) -> Option<u64> {
    let weighted: Vec<(u64, u32)> = peers
        .iter()
        .filter(|p| p.interested && !regular.contains(&p.id))
        .map(|p| {
            let weight = if now.duration_since(p.connected_at) < NEW_PEER {
                3
            } else {
                1
            };
            (p.id, weight)
        })
        .collect();
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rng.random_range(0..total);
    for (id, weight) in weighted {
        if ticket < weight {
            return Some(id);
        }
        ticket -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn peer(id: u64, download_rate: f64, now: Instant) -> Candidate {
        Candidate {
            id,
            interested: true,
            download_rate,
            upload_rate: 0.0,
            snubbed: false,
            connected_at: now - Duration::from_secs(600),
            choked: true,
        }
    }

    #[test]
    fn the_best_uploaders_get_the_slots_and_a_free_rider_only_the_optimistic_one() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(7);
        let peers = vec![
            peer(1, 500.0, now),
            peer(2, 900.0, now),
            peer(3, 100.0, now),
            peer(4, 700.0, now),
            peer(5, 0.0, now),
        ];
        let mut choker = Choker::new();
        let decisions = choker.rechoke(now, false, &peers, &mut rng);
        let unchoked: Vec<u64> = decisions
            .iter()
            .filter(|d| d.unchoke)
            .map(|d| d.id)
            .collect();
        for id in [2, 4, 1] {
            assert!(unchoked.contains(&id), "{decisions:#?}");
        }
        let optimistic = choker.optimistic().unwrap();
        assert!([3, 5].contains(&optimistic));
        assert_eq!(unchoked.len(), 4);
        // The free-rider is unchoked only if it is the optimistic pick.
        let five = decisions.iter().find(|d| d.id == 5);
        assert_eq!(five.is_some(), optimistic == 5, "{decisions:#?}");
    }

    #[test]
    fn the_optimistic_unchoke_rotates_every_30_seconds_and_favours_new_peers() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut peers: Vec<Candidate> = (0..10).map(|id| peer(id, 0.0, now)).collect();
        let mut new_picked = 0;
        for round in 0..300 {
            let mut choker = Choker::new();
            let at = now + Duration::from_secs(round);
            peers[9].connected_at = at;
            choker.rechoke(at, false, &peers, &mut rng);
            if choker.optimistic() == Some(9) {
                new_picked += 1;
            }
        }
        // Weight 3 of 12: about a quarter of the time, against a tenth for an old peer.
        assert!(new_picked > 45, "{new_picked}");

        let mut choker = Choker::new();
        choker.rechoke(now, false, &peers, &mut rng);
        let first = choker.optimistic();
        choker.rechoke(now + RECHOKE, false, &peers, &mut rng);
        assert_eq!(choker.optimistic(), first, "kept between rotations");
    }

    #[test]
    fn seeders_rank_by_upload_rate_and_snubbing_costs_the_slot() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(3);
        let mut peers: Vec<Candidate> = (1..=4)
            .map(|id| peer(id, 1000.0 * id as f64, now))
            .collect();
        peers[3].snubbed = true;
        let decisions = Choker::new().rechoke(now, false, &peers, &mut rng);
        let four = decisions.iter().find(|d| d.id == 4).unwrap();
        assert!(
            !four.unchoke || four.reason == "optimistic unchoke",
            "{four:?}"
        );
        for (i, p) in peers.iter_mut().enumerate() {
            p.upload_rate = 10.0 * i as f64;
            p.download_rate = 0.0;
        }
        let decisions = Choker::new().rechoke(now, true, &peers, &mut rng);
        assert!(
            decisions
                .iter()
                .any(|d| d.id == 4 && d.unchoke && d.reason.starts_with("#1 by upload"))
        );
    }
}
