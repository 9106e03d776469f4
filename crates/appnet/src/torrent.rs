//! `appnet torrent`: make a .torrent, run a tracker, seed, download — the command-line faces
//! of the appnet-torrent crate.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use appnet_core::config::Seconds;
use appnet_core::lifecycle::{Services, Shutdown};
use appnet_core::trace::Tracer;
use appnet_torrent::config::TrackerConfig;
use appnet_torrent::metainfo::{self, Metainfo};
use appnet_torrent::peer::driver::{self, Identity, PeerOptions, Status};
use appnet_torrent::peer::storage::{Placement, Storage};
use appnet_torrent::peer::torrent::{Settings, Torrent};
use appnet_torrent::swarm::{Plan, Report};
use appnet_torrent::tracker::server::{Tracker, bind};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::AppConfig;
use crate::serving::{self, ServiceRow};

#[derive(Debug, Subcommand)]
pub enum TorrentCommand {
    /// Run a tracker: HTTP and UDP announces (BEP 3, 15, 23) on one address.
    Track {
        /// Address for HTTP and UDP [default: 127.0.0.1:6969].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Seconds between a peer's announces [default: 1800].
        #[arg(long, value_name = "SECONDS")]
        interval: Option<u64>,
    },
    /// Make a .torrent for a file or a directory.
    Create {
        path: PathBuf,
        /// Tracker announce URL (repeatable; the first is `announce`).
        #[arg(long = "tracker", value_name = "URL")]
        trackers: Vec<String>,
        /// Where to write it [default: NAME.torrent].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Piece length in bytes, a power of two [default: about 1,500 pieces].
        #[arg(long, value_name = "BYTES")]
        piece_length: Option<u32>,
    },
    /// Seed a torrent from the data it describes.
    Seed {
        torrent: PathBuf,
        /// The file, or the directory, the torrent was made from.
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        /// BEP 16 super-seeding: show each peer a few pieces at a time, so this seed's upload
        /// carries each piece about once (for a first seed with little upload).
        #[arg(long)]
        super_seed: bool,
        #[command(flatten)]
        peer: PeerArgs,
    },
    /// The swarm experiment: a tracker, a seed and N peers on loopback, each finish time
    /// set against the course's client-server and P2P distribution-time bounds.
    Swarm(SwarmArgs),
    /// Download a torrent (and keep seeding with --seed).
    Get {
        torrent: PathBuf,
        /// The directory to download into [default: here].
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        output: PathBuf,
        /// Keep seeding once complete, until Ctrl-C.
        #[arg(long)]
        seed: bool,
        #[command(flatten)]
        peer: PeerArgs,
    },
}

#[derive(Debug, Args)]
pub struct SwarmArgs {
    /// N: downloading peers (besides the seed).
    #[arg(long, default_value_t = 3)]
    peers: usize,
    /// F: the file's size (bytes; or 64M, 1G).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_rate)]
    file_size: u64,
    /// u_i: each peer's upload limit per second.
    #[arg(long, value_name = "RATE", default_value = "2M", value_parser = parse_rate)]
    upload_limit: u64,
    /// u_s: the seed's upload limit [default: as --upload-limit].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    seed_upload: Option<u64>,
    /// d_i: each peer's download limit [default: none].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    download_limit: Option<u64>,
    /// K of the N peers never upload.
    #[arg(long, default_value_t = 0)]
    free_riders: usize,
    /// Piece length in bytes [default: chosen for the file size].
    #[arg(long, value_name = "BYTES")]
    piece_length: Option<u32>,
    /// Where the file and the copies go [default: a temporary directory, removed after].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Also print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct PeerArgs {
    /// Address to accept peers on [default: 127.0.0.1 and a free port].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Upload at most this much per second (bytes; or 500K, 2M, 2MiB).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    upload_limit: Option<u64>,
    /// Download at most this much per second.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    download_limit: Option<u64>,
    /// A peer to connect to directly, besides the tracker's (repeatable).
    #[arg(long = "peer", value_name = "ADDR")]
    peers: Vec<SocketAddr>,
}

pub async fn run(
    command: TorrentCommand,
    config: &AppConfig,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match command {
        TorrentCommand::Track { listen, interval } => {
            let mut tracker = config.torrent.tracker.clone();
            tracker.listen = listen.unwrap_or(tracker.listen);
            if let Some(seconds) = interval {
                tracker.interval = Seconds(Duration::from_secs(seconds));
            }
            let mut services = Services::new();
            let row = start_tracker(&tracker, &mut services, tracer).await?;
            Ok(serving::serve_until_signal(services, &[row], config.up.shutdown_grace).await)
        }
        TorrentCommand::Create {
            path,
            trackers,
            output,
            piece_length,
        } => create(&path, &trackers, output, piece_length),
        TorrentCommand::Seed {
            torrent,
            from,
            super_seed,
            peer,
        } => {
            let meta = load(&torrent)?;
            let settings = Settings {
                super_seed,
                ..Settings::default()
            };
            let status =
                run_peer(&meta, Placement::At(&from), false, settings, peer, tracer).await?;
            println!("seeded: {} uploaded", human(status.uploaded));
            Ok(ExitCode::SUCCESS)
        }
        TorrentCommand::Swarm(args) => swarm(args, tracer).await,
        TorrentCommand::Get {
            torrent,
            output,
            seed,
            peer,
        } => {
            let meta = load(&torrent)?;
            let status = run_peer(
                &meta,
                Placement::Into(&output),
                !seed,
                Settings::default(),
                peer,
                tracer,
            )
            .await?;
            if !status.complete {
                bail!("stopped before the download was complete");
            }
            let took = status.finished_after.unwrap_or_default();
            println!(
                "{}: {} in {:.1} s, every piece verified",
                output.join(meta.info().name()).display(),
                human(status.total),
                took.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn swarm(args: SwarmArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    if args.free_riders > args.peers || args.peers == 0 {
        bail!("--peers must be at least 1, and --free-riders at most --peers");
    }
    let temporary = match &args.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("appnet-swarm-")
                .tempdir_in(work_dir())?,
        ),
    };
    let plan = Plan {
        peers: args.peers,
        file_size: args.file_size,
        upload_limit: args.upload_limit,
        seed_upload: args.seed_upload.unwrap_or(args.upload_limit),
        download_limit: args.download_limit,
        free_riders: args.free_riders,
        piece_length: args.piece_length,
        dir: args
            .dir
            .clone()
            .or_else(|| temporary.as_ref().map(|t| t.path().to_path_buf()))
            .context("a directory for the swarm")?,
    };
    let bounds = plan.bounds();
    println!(
        "swarm: N = {} peers ({} free-riders), F = {}, u_s = {}/s, u_i = {}/s, d = {}",
        plan.peers,
        plan.free_riders,
        human(plan.file_size),
        human(plan.seed_upload),
        human(plan.upload_limit),
        plan.download_limit
            .map_or("unlimited".into(), |d| format!("{}/s", human(d)))
    );
    println!(
        "bounds: D_cs = max(N·F/u_s, F/d_min) = {:.1} s;  D_p2p = max(F/u_s, F/d_min, N·F/(u_s+Σu_i)) = {:.1} s",
        bounds.client_server.as_secs_f64(),
        bounds.p2p.as_secs_f64()
    );
    let progress = bar(plan.file_size * plan.peers as u64, "swarm");
    let report = appnet_torrent::swarm::run(&plan, tracer.clone(), |done, moved| {
        progress.set_position(moved);
        progress.set_message(format!("{done}/{} finished", plan.peers));
    })
    .await?;
    progress.finish_and_clear();
    print!("{}", render_report(&report));
    if args.json {
        println!("{}", report_json(&plan, &report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Where experiments write: a disk, not a RAM-backed /tmp, for files of gigabytes.
fn work_dir() -> PathBuf {
    let var_tmp = PathBuf::from("/var/tmp");
    if var_tmp.is_dir() {
        var_tmp
    } else {
        std::env::temp_dir()
    }
}

fn render_report(report: &Report) -> String {
    use std::fmt::Write;
    let p2p = report.bounds.p2p.as_secs_f64();
    let cs = report.bounds.client_server.as_secs_f64();
    let mut out = format!(
        "{:<18} {:<12} {:>10} {:>8} {:>8} {:>12}\n",
        "PEER", "ROLE", "FINISHED", "÷ D_p2p", "÷ D_cs", "UPLOADED"
    );
    for peer in &report.peers {
        let role = if peer.free_rider {
            "free-rider"
        } else {
            "contributor"
        };
        let (finished, ratio, ratio_cs) = match peer.finished {
            Some(t) => (
                format!("{:.1} s", t.as_secs_f64()),
                format!("{:.2}", t.as_secs_f64() / p2p),
                format!("{:.2}", t.as_secs_f64() / cs),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let _ = writeln!(
            out,
            "{:<18} {:<12} {:>10} {:>8} {:>8} {:>12}",
            peer.address,
            role,
            finished,
            ratio,
            ratio_cs,
            human(peer.uploaded)
        );
    }
    let times = |riders: bool| -> Vec<f64> {
        report
            .peers
            .iter()
            .filter(|p| p.free_rider == riders)
            .filter_map(|p| p.finished.map(|t| t.as_secs_f64()))
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let contributors = times(false);
    let riders = times(true);
    let last = contributors
        .iter()
        .chain(&riders)
        .copied()
        .fold(0.0, f64::max);
    let _ = writeln!(out, "seed uploaded {}", human(report.seed_uploaded));
    let _ = writeln!(
        out,
        "all finished after {last:.1} s = {:.2} × D_p2p ({:.2} × D_cs); {} of {} finished",
        last / p2p,
        last / report.bounds.client_server.as_secs_f64(),
        contributors.len() + riders.len(),
        report.peers.len()
    );
    if !riders.is_empty() && !contributors.is_empty() {
        let _ = writeln!(
            out,
            "contributors finished after {:.1} s on average, free-riders after {:.1} s ({:.2}×)",
            mean(&contributors),
            mean(&riders),
            mean(&riders) / mean(&contributors)
        );
    }
    out
}

fn report_json(plan: &Plan, report: &Report) -> String {
    let peers: Vec<serde_json::Value> = report
        .peers
        .iter()
        .map(|p| {
            serde_json::json!({
                "address": p.address.to_string(),
                "free_rider": p.free_rider,
                "finished_s": p.finished.map(|t| t.as_secs_f64()),
                "uploaded": p.uploaded,
            })
        })
        .collect();
    serde_json::json!({
        "peers": plan.peers,
        "file_size": plan.file_size,
        "upload_limit": plan.upload_limit,
        "seed_upload": plan.seed_upload,
        "free_riders": plan.free_riders,
        "bound_client_server_s": report.bounds.client_server.as_secs_f64(),
        "bound_p2p_s": report.bounds.p2p.as_secs_f64(),
        "seed_uploaded": report.seed_uploaded,
        "results": peers,
    })
    .to_string()
}

/// Starts a tracker as `tracker` says; its row for the table.
pub async fn start_tracker(
    tracker: &TrackerConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<ServiceRow> {
    let (tcp, udp) = bind(tracker.listen)
        .await
        .with_context(|| format!("tracker: cannot listen on {}", tracker.listen))?;
    let address = tcp.local_addr()?;
    let server = Tracker::from_config(tracker, tracer.clone());
    let shutdown = services.shutdown();
    services.spawn("tracker", async move {
        server.run(Some(tcp), Some(udp), shutdown).await
    });
    Ok(ServiceRow {
        service: "bittorrent tracker".into(),
        transport: "tcp+udp",
        address,
        try_it: format!("appnet torrent create FILE --tracker http://{address}/announce"),
    })
}

/// Peers of the mini Internet's swarm: a seed and two peers that download and then seed too,
/// each on its own loopback address and held to 1 MiB/s up, so the swarm takes a while and
/// `--trace` shows the choking rounds.
const MINI_PEERS: [[u8; 4]; 3] = [[127, 0, 0, 31], [127, 0, 0, 32], [127, 0, 0, 33]];
const MINI_UPLOAD: u64 = 1024 * 1024;
const MINI_FILE: usize = 16 * 1024 * 1024;

/// The mini Internet's BitTorrent: a tracker and a small swarm sharing a demo file.
pub async fn start_mini_swarm(
    config: &AppConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<Vec<ServiceRow>> {
    let dir = &config.torrent.up_dir;
    let tracker = TrackerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], config.torrent.up_port)),
        interval: Seconds(Duration::from_secs(10)),
        ..config.torrent.tracker.clone()
    };
    let mut rows = vec![start_tracker(&tracker, services, tracer).await?];
    let announce = format!("http://{}/announce", rows[0].address);
    let (data, torrent) = demo_torrent(dir, &announce)
        .with_context(|| format!("torrent: cannot make the demo in {}", dir.display()))?;
    let meta = load(&torrent)?;
    for (n, ip) in MINI_PEERS.iter().enumerate() {
        let placement_dir = dir.join(format!("peer{n}"));
        let placement = if n == 0 {
            Placement::At(&data)
        } else {
            Placement::Into(&placement_dir)
        };
        let storage = Storage::open(meta.info(), placement, n != 0)?;
        let have = storage.check_all(&mut |_| {})?;
        let listener = std::net::TcpListener::bind(SocketAddr::from((*ip, 0)))?;
        let listen = listener.local_addr()?;
        drop(listener);
        let options = PeerOptions {
            listen,
            upload_limit: Some(MINI_UPLOAD),
            ..PeerOptions::default()
        };
        let identity = identity(&meta);
        let torrent = Torrent::new(storage, have, Settings::default());
        let (shutdown, tracer) = (services.shutdown(), tracer.clone());
        let name = if n == 0 {
            "torrent seed".to_string()
        } else {
            format!("torrent peer {n}")
        };
        services.spawn(name.clone(), async move {
            driver::run(torrent, identity, options, tracer, shutdown, |_| {})
                .await
                .map(|_| ())
        });
        rows.push(ServiceRow {
            service: name,
            transport: "tcp",
            address: listen,
            try_it: if n == 0 {
                format!("appnet torrent get {} -o .", torrent_path(dir).display())
            } else {
                "downloads from the others, then seeds".into()
            },
        });
    }
    Ok(rows)
}

fn torrent_path(dir: &Path) -> PathBuf {
    dir.join("demo.torrent")
}

/// The demo file (made once) and its .torrent (made for this tracker).
fn demo_torrent(dir: &Path, announce: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let data = dir.join("demo.bin");
    if std::fs::metadata(&data).map(|m| m.len() as usize).ok() != Some(MINI_FILE) {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let bytes: Vec<u8> = (0..MINI_FILE)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        std::fs::write(&data, bytes)?;
    }
    let bytes = metainfo::create(
        &data,
        &[announce.to_string()],
        Some(256 * 1024),
        &mut |_| {},
    )?;
    let torrent = torrent_path(dir);
    std::fs::write(&torrent, bytes)?;
    Ok((data, torrent))
}

fn identity(meta: &Metainfo) -> Identity {
    Identity {
        info_hash: meta.info_hash(),
        piece_count: meta.info().piece_count(),
        total_length: meta.info().total_length(),
        trackers: meta.trackers().into_iter().flatten().collect(),
    }
}

fn load(path: &Path) -> anyhow::Result<Metainfo> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Metainfo::parse(&bytes).with_context(|| format!("{} is not a valid .torrent", path.display()))
}

fn create(
    path: &Path,
    trackers: &[String],
    output: Option<PathBuf>,
    piece_length: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let total = directory_size(path);
    let bar = bar(total, "hashing");
    let bytes = metainfo::create(path, trackers, piece_length, &mut |done| {
        bar.set_position(done)
    })
    .with_context(|| format!("cannot make a torrent of {}", path.display()))?;
    bar.finish_and_clear();
    let meta = Metainfo::parse(&bytes)?;
    let output = output.unwrap_or_else(|| PathBuf::from(format!("{}.torrent", meta.info().name())));
    std::fs::write(&output, &bytes)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "{}: {} in {} pieces of {}, info-hash {}",
        output.display(),
        human(meta.info().total_length()),
        meta.info().piece_count(),
        human(u64::from(meta.info().piece_length())),
        meta.info_hash()
    );
    Ok(ExitCode::SUCCESS)
}

/// Checks what is on disk, then runs the peer with a progress bar until it is done or
/// Ctrl-C.
async fn run_peer(
    meta: &Metainfo,
    placement: Placement<'_>,
    stop_when_complete: bool,
    settings: Settings,
    args: PeerArgs,
    tracer: &Tracer,
) -> anyhow::Result<Status> {
    let info = meta.info();
    let seeding = matches!(placement, Placement::At(_));
    let storage =
        Storage::open(info, placement, !seeding).context("cannot open the torrent's files")?;
    let checking = bar(info.total_length(), "checking");
    let have = storage
        .check_all(&mut |bytes| checking.inc(bytes))
        .context("cannot read the torrent's files")?;
    checking.finish_and_clear();
    if seeding && !have.all() {
        bail!(
            "{} of {} pieces of the data do not match the torrent",
            info.piece_count() - have.count(),
            info.piece_count()
        );
    }
    let torrent = Torrent::new(storage, have, settings);
    let identity = identity(meta);
    let options = PeerOptions {
        listen: args.listen.unwrap_or(PeerOptions::default().listen),
        upload_limit: args.upload_limit,
        download_limit: args.download_limit,
        stop_when_complete,
        peers: args.peers,
        ..PeerOptions::default()
    };
    let shutdown = Shutdown::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        appnet_core::lifecycle::wait_for_stop_signal().await;
        on_signal.cancel();
    });
    let progress = bar(
        info.total_length(),
        if seeding { "seeding" } else { "downloading" },
    );
    let status = driver::run(
        torrent,
        identity,
        options,
        tracer.clone(),
        shutdown,
        |status| {
            progress.set_position(status.done);
            progress.set_message(format!(
                "{} peers  ↓ {}/s  ↑ {}/s  uploaded {}",
                status.peers,
                human(status.download_rate as u64),
                human(status.upload_rate as u64),
                human(status.uploaded)
            ));
        },
    )
    .await?;
    progress.finish_and_clear();
    Ok(status)
}

/// A progress bar on stderr when it is a terminal; hidden otherwise.
fn bar(total: u64, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = format!("{label} {{bytes:>10}}/{{total_bytes}} [{{wide_bar}}] {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn directory_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| directory_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// `2M`, `500K`, `2MiB`, `1.5M/s` or plain bytes, per second.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let trimmed = text.trim().trim_end_matches("/s");
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with an optional K, M or G"))?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}")),
    };
    let value = number * scale;
    if !(value.is_finite() && value >= 1.0) {
        return Err(format!("{text:?}: must be at least one byte"));
    }
    Ok(value as u64)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_people_write_them() {
        assert_eq!(parse_rate("2M"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_rate("2MiB/s"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_rate("500K"), Ok(500 * 1024));
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("0").is_err());
    }
}
