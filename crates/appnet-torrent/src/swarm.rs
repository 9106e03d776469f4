//! The swarm experiment (`appnet torrent swarm`): a tracker, one seed and N downloading peers
//! on loopback, each held to an upload rate, sharing one file — to set against the course's
//! two lower bounds on the time to get a file of F bits to N peers:
//!
//! - client-server, where the server uploads every copy itself:
//!   `D_cs = max{ N·F/u_s, F/d_min }`;
//! - peer-to-peer, where every peer that has a piece can pass it on:
//!   `D_p2p = max{ F/u_s, F/d_min, N·F/(u_s + Σu_i) }`.
//!
//! Each peer's finish time is reported next to them as the ratio measured/bound. Free-riders
//! (peers that never unchoke anyone, so upload nothing) show tit-for-tat at work: the others
//! trade with each other first, and the free-riders get only what optimistic unchokes give.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::sync::lock;
use appnet_core::trace::Tracer;
use tokio::task::JoinSet;

use crate::metainfo::{self, Metainfo};
use crate::peer::driver::{self, Identity, PeerOptions};
use crate::peer::storage::{Placement, Storage};
use crate::peer::torrent::{Settings, Torrent};
use crate::tracker::server::{HttpLimits, Tracker};
use crate::tracker::swarm::SwarmConfig;
use crate::wire::Bitfield;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// N: the downloading peers.
    pub peers: usize,
    /// F: the file's size in bytes.
    pub file_size: u64,
    /// u_i: each downloading peer's upload limit, bytes per second.
    pub upload_limit: u64,
    /// u_s: the seed's upload limit.
    pub seed_upload: u64,
    /// d_i: each downloading peer's download limit; `None` is unlimited (d_min = ∞).
    pub download_limit: Option<u64>,
    /// How many of the N never upload.
    pub free_riders: usize,
    /// `None`: chosen as for any torrent.
    pub piece_length: Option<u32>,
    /// Where the file and the peers' copies go.
    pub dir: PathBuf,
}

/// The two lower bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub client_server: Duration,
    pub p2p: Duration,
}

impl Plan {
    pub fn bounds(&self) -> Bounds {
        let n = self.peers as f64;
        let f = self.file_size as f64;
        let u_s = self.seed_upload as f64;
        let contributors = self.peers.saturating_sub(self.free_riders) as f64;
        let sum_u = contributors * self.upload_limit as f64;
        let download = self.download_limit.map_or(0.0, |d| f / d as f64);
        let client_server = (n * f / u_s).max(download);
        let p2p = (f / u_s).max(download).max(n * f / (u_s + sum_u));
        Bounds {
            client_server: Duration::from_secs_f64(client_server),
            p2p: Duration::from_secs_f64(p2p),
        }
    }

    /// Whether peer `index` (0-based) is a free-rider: spread through the swarm, not bunched.
    pub fn is_free_rider(&self, index: usize) -> bool {
        if self.free_riders == 0 {
            return false;
        }
        let spacing = self.peers.div_ceil(self.free_riders);
        index.is_multiple_of(spacing) && index / spacing < self.free_riders
    }
}

/// How one downloading peer did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub address: SocketAddr,
    pub free_rider: bool,
    /// From the swarm's start; `None` if it had not finished when the experiment gave up.
    pub finished: Option<Duration>,
    pub uploaded: u64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub bounds: Bounds,
    pub peers: Vec<Outcome>,
    pub seed_uploaded: u64,
    /// When the last peer finished, or when the experiment gave up.
    pub elapsed: Duration,
}

/// Runs the experiment; `on_progress` hears (peers finished, bytes downloaded by all).
pub async fn run(
    plan: &Plan,
    tracer: Tracer,
    mut on_progress: impl FnMut(usize, u64) + Send,
) -> io::Result<Report> {
    let bounds = plan.bounds();
    let shutdown = Shutdown::new();
    let announce = start_tracker(&shutdown, &tracer).await?;
    let (data, meta) = prepare(plan, &announce)?;
    let identity = Identity {
        info_hash: meta.info_hash(),
        piece_count: meta.info().piece_count(),
        total_length: meta.info().total_length(),
        trackers: vec![announce],
    };

    let mut peers = JoinSet::new();
    let seed = Storage::open(meta.info(), Placement::At(&data), false)?;
    let seed_options = options(0, Some(plan.seed_upload), None);
    let seed_have = Bitfield::full(meta.info().piece_count());
    let seed_task = tokio::spawn(driver::run(
        // BEP 16: the seed's upload, the scarce resource, carries each piece about once.
        Torrent::new(
            seed,
            seed_have,
            Settings {
                super_seed: true,
                ..Settings::default()
            },
        ),
        identity.clone(),
        seed_options,
        tracer.clone(),
        shutdown.clone(),
        |_| {},
    ));

    let started = Instant::now();
    let finished: Arc<Mutex<Vec<Option<Duration>>>> = Arc::new(Mutex::new(vec![None; plan.peers]));
    let moved: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(vec![0; plan.peers]));
    for index in 0..plan.peers {
        let storage = Storage::open(
            meta.info(),
            Placement::Into(&plan.dir.join(format!("peer{index}"))),
            true,
        )?;
        let free_rider = plan.is_free_rider(index);
        let settings = Settings {
            free_rider,
            ..Settings::default()
        };
        let torrent = Torrent::new(storage, Bitfield::new(meta.info().piece_count()), settings);
        let options = options(index + 1, Some(plan.upload_limit), plan.download_limit);
        let (finished, moved, shutdown, tracer, identity) = (
            finished.clone(),
            moved.clone(),
            shutdown.clone(),
            tracer.clone(),
            identity.clone(),
        );
        peers.spawn(async move {
            let listen = options.listen;
            let status = driver::run(
                torrent,
                identity,
                options,
                tracer,
                shutdown,
                move |status| {
                    lock(&moved)[index] = status.done;
                    if status.complete {
                        let mut finished = lock(&finished);
                        finished[index] = finished[index].or(Some(started.elapsed()));
                    }
                },
            )
            .await;
            (index, listen, free_rider, status)
        });
    }

    let give_up = (bounds.p2p * 10).max(Duration::from_secs(60));
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let done = lock(&finished).iter().filter(|f| f.is_some()).count();
        on_progress(done, lock(&moved).iter().sum());
        if done == plan.peers || started.elapsed() > give_up {
            break;
        }
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    let mut outcomes = vec![None; plan.peers];
    while let Some(joined) = peers.join_next().await {
        let (index, address, free_rider, status) = joined.map_err(io::Error::other)?;
        let status = status?;
        let finished = lock(&finished)[index];
        outcomes[index] = Some(Outcome {
            address: status.listen.unwrap_or(address),
            free_rider,
            // The driver's own clock is the precise one; the callback's is the fallback.
            finished: status.finished_after.or(finished),
            uploaded: status.uploaded,
        });
    }
    let seed_status = seed_task.await.map_err(io::Error::other)??;
    Ok(Report {
        bounds,
        peers: outcomes.into_iter().flatten().collect(),
        seed_uploaded: seed_status.uploaded,
        elapsed,
    })
}

/// Peer `n` (0 the seed) listens on its own loopback address, 127.0.1.(n+1), so the tracker
/// and the peers tell them apart by address, as on a real network.
fn options(n: usize, upload_limit: Option<u64>, download_limit: Option<u64>) -> PeerOptions {
    let host = u8::try_from(n + 1).unwrap_or(u8::MAX);
    let third = 1 + u8::try_from((n + 1) / 250).unwrap_or(0);
    PeerOptions {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, third, host)), 0),
        upload_limit,
        download_limit,
        announce_every: Some(Duration::from_secs(2)),
        ..PeerOptions::default()
    }
}

/// A tracker on 127.0.0.1 that asks for announces every two seconds; its announce URL.
async fn start_tracker(shutdown: &Shutdown, tracer: &Tracer) -> io::Result<String> {
    let swarm = SwarmConfig {
        interval: Duration::from_secs(2),
        ..SwarmConfig::default()
    };
    let tracker = Tracker::new(swarm, HttpLimits::default(), tracer.clone());
    let (tcp, udp) = crate::tracker::server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let announce = format!("http://{}/announce", tcp.local_addr()?);
    let shutdown = shutdown.clone();
    tokio::spawn(async move { tracker.run(Some(tcp), Some(udp), shutdown).await });
    Ok(announce)
}

/// The file to share (pseudo-random, made afresh) and its torrent.
fn prepare(plan: &Plan, announce: &str) -> io::Result<(PathBuf, Metainfo)> {
    std::fs::create_dir_all(&plan.dir)?;
    let data = plan.dir.join("shared.bin");
    write_pseudo_random(&data, plan.file_size)?;
    let bytes = metainfo::create(
        &data,
        &[announce.to_string()],
        plan.piece_length,
        &mut |_| {},
    )
    .map_err(io::Error::other)?;
    let meta = Metainfo::parse(&bytes).map_err(io::Error::other)?;
    Ok((data, meta))
}

fn write_pseudo_random(path: &Path, size: u64) -> io::Result<()> {
    use std::io::Write;
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut left = size;
    let mut chunk = vec![0u8; 1 << 16];
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let take = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..take])?;
        left -= take as u64;
    }
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(peers: usize, free_riders: usize) -> Plan {
        Plan {
            peers,
            file_size: 64 << 20,
            upload_limit: 2 << 20,
            seed_upload: 2 << 20,
            download_limit: None,
            free_riders,
            piece_length: None,
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn the_bounds_are_the_courses() {
        // The reference setting: 1 seed + 3 peers at 2 MiB/s, 64 MiB: F/u_s = 32 s.
        let bounds = plan(3, 0).bounds();
        assert_eq!(bounds.p2p, Duration::from_secs(32));
        assert_eq!(bounds.client_server, Duration::from_secs(96));
        // Fifty peers: N·F/(u_s + Σu_i) = 50·64/(2+100) s, just under F/u_s.
        let fifty = plan(50, 0).bounds();
        assert_eq!(fifty.p2p, Duration::from_secs(32));
        assert_eq!(fifty.client_server, Duration::from_secs(1600));
        // Free-riders add demand and no capacity.
        let riders = plan(50, 40).bounds();
        assert!((riders.p2p.as_secs_f64() - 50.0 * 64.0 / 22.0).abs() < 0.01);
        let limited = Plan {
            download_limit: Some(1 << 20),
            ..plan(3, 0)
        };
        assert_eq!(limited.bounds().p2p, Duration::from_secs(64));
    }

    #[test]
    fn free_riders_are_spread_through_the_swarm() {
        let plan = plan(10, 3);
        let riders: Vec<usize> = (0..10).filter(|i| plan.is_free_rider(*i)).collect();
        assert_eq!(riders, [0, 4, 8]);
        assert!((0..5).all(|i| !super::tests::plan(5, 0).is_free_rider(i)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_swarm_finishes_near_its_bound_and_free_riders_later() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            peers: 4,
            file_size: 4 << 20,
            upload_limit: 1 << 20,
            seed_upload: 1 << 20,
            download_limit: None,
            free_riders: 1,
            piece_length: Some(64 * 1024),
            dir: dir.path().to_path_buf(),
        };
        let report = run(&plan, Tracer::off(), |_, _| {}).await.unwrap();
        assert_eq!(report.peers.len(), 4);
        for peer in &report.peers {
            assert!(peer.finished.is_some(), "{report:#?}");
            let copy = std::fs::read(dir.path().join(format!(
                    "peer{}/shared.bin",
                    report
                        .peers
                        .iter()
                        .position(|p| p.address == peer.address)
                        .unwrap()
                )))
            .unwrap();
            assert_eq!(copy.len() as u64, plan.file_size);
        }
        let rider = report.peers.iter().find(|p| p.free_rider).unwrap();
        assert_eq!(rider.uploaded, 0, "a free-rider uploads nothing");
    }
}
