//! Tracker interop: BitTorrent clients we did not write find each other through our tracker,
//! and our announce client works against a tracker we did not write.
//!
//! - aria2c seeds a file and a second aria2c downloads it, both announcing to our tracker over
//!   HTTP, then the same over UDP (BEP 15); the copy must be byte-exact.
//! - transmission-cli downloads from an aria2c seeder through our tracker.
//! - our client announces to Debian's opentracker (which serves whitelisted info-hashes only)
//!   and gets the other peer back; and scrapes ours.
//!
//! Every external program runs under a deadline and is killed at the end, pass or fail.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use std::sync::Arc;

use appnet_core::trace::{TraceEvent, TraceFormat, Tracer, render};
use appnet_testkit::{free_port_on, pseudo_random, require_peer};
use appnet_torrent::bencode;
use appnet_torrent::tracker::announce::{ClientOptions, TrackerClient};
use appnet_torrent::tracker::client::{AnnounceParams, UdpRetry};
use appnet_torrent::tracker::server::{HttpLimits, Tracker, bind};
use appnet_torrent::tracker::swarm::SwarmConfig;
use appnet_torrent::tracker::{Event, InfoHash};
use tokio::sync::broadcast;

/// How long one download may take on loopback before the test fails.
const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(90);
/// The shared file: several 64 KiB pieces and a short last one.
const FILE_LEN: usize = 1_300_000;

/// A spawned program, killed and reaped when dropped; its output goes to a log file shown on
/// failure.
struct Program {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Program {
    fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Program {
        let out = fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Program { name, child, log }
    }

    fn log(&self) -> String {
        format!(
            "--- {} log:\n{}",
            self.name,
            fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// Waits for the exit status until `deadline`; `None` if still running.
    fn wait_until(&mut self, deadline: Instant) -> Option<std::process::ExitStatus> {
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Kill by our own child's PID only, and reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our tracker on a free loopback port, HTTP and UDP, announcing every `interval`.
struct RunningTracker {
    tracker: Tracker,
    addr: SocketAddr,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    trace: std::sync::Mutex<broadcast::Receiver<Arc<TraceEvent>>>,
}

impl RunningTracker {
    async fn start(interval: Duration) -> RunningTracker {
        let (tcp, udp) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let tracer = Tracer::new(10_000, false);
        let trace = std::sync::Mutex::new(tracer.subscribe().expect("a live tracer"));
        let tracker = Tracker::new(
            SwarmConfig {
                interval,
                ..SwarmConfig::default()
            },
            HttpLimits::default(),
            tracer,
        );
        let shutdown = Shutdown::new();
        let task = tokio::spawn({
            let tracker = tracker.clone();
            let shutdown = shutdown.clone();
            async move { tracker.run(Some(tcp), Some(udp), shutdown).await }
        });
        RunningTracker {
            tracker,
            addr,
            shutdown,
            task,
            trace,
        }
    }

    /// What the tracker received and sent since the last call, one transcript line each.
    fn transcript(&self) -> String {
        let mut trace = self.trace.lock().unwrap();
        let mut lines = String::from("--- tracker transcript:\n");
        while let Ok(event) = trace.try_recv() {
            lines.push_str(&render(&event, TraceFormat::Transcript));
        }
        lines
    }

    fn http_url(&self) -> String {
        format!("http://{}/announce", self.addr)
    }

    fn udp_url(&self) -> String {
        format!("udp://{}", self.addr)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// A file to share, its .torrent (made by mktorrent, announcing to `tracker_url`) and its
/// info-hash, in a fresh directory.
struct Shared {
    dir: tempfile::TempDir,
    tracker_url: String,
    torrent: PathBuf,
    content: Vec<u8>,
    info_hash: InfoHash,
}

const NAME: &str = "payload.bin";

fn share(tracker_url: &str, seed: u64) -> Shared {
    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    fs::create_dir(&seed_dir).unwrap();
    let content = pseudo_random(FILE_LEN, seed);
    fs::write(seed_dir.join(NAME), &content).unwrap();
    let torrent = dir.path().join("payload.torrent");
    let output = Command::new(require_peer("mktorrent"))
        .args(["-a", tracker_url, "-l", "16", "-o"])
        .arg(&torrent)
        .arg(seed_dir.join(NAME))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mktorrent: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let info_hash = info_hash_of(&fs::read(&torrent).unwrap());
    Shared {
        dir,
        tracker_url: tracker_url.to_owned(),
        torrent,
        content,
        info_hash,
    }
}

/// SHA-1 over the exact bytes of the info dictionary (BEP 3).
fn info_hash_of(metainfo: &[u8]) -> InfoHash {
    let value = bencode::decode(metainfo).unwrap();
    let info = value.as_dict().unwrap().dict("info").unwrap();
    InfoHash::of(info.raw)
}

/// aria2c, kept local and bounded: no peer exchange, no local peer discovery, no config file
/// of the user's, a private HOME. aria2c talks to UDP trackers only through its DHT socket
/// ("udp is not supported yet" otherwise), so for a udp:// tracker the DHT is on, on a
/// loopback port, with no entry point and its own routing file: it learns of no node.
fn aria2c(shared: &Shared, role: &str, listen_port: u16) -> Command {
    let home = shared.dir.path().join(format!("home-{role}"));
    fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(require_peer("aria2c"));
    let udp_tracker = shared.tracker_url.starts_with("udp://");
    command
        .env("HOME", &home)
        .arg("--no-conf=true")
        .arg(format!("--enable-dht={udp_tracker}"))
        .arg(format!("--dht-listen-port={}", free_udp_port()))
        .arg(format!(
            "--dht-file-path={}",
            home.join("dht.dat").display()
        ))
        .arg("--enable-dht6=false")
        .arg("--enable-peer-exchange=false")
        .arg("--bt-enable-lpd=false")
        .arg(format!("--listen-port={listen_port}"))
        .arg("--summary-interval=0")
        .arg("--console-log-level=notice")
        .arg("--file-allocation=none")
        .arg("--bt-external-ip=127.0.0.1")
        .arg("--interface=127.0.0.1");
    command
}

fn seeder(shared: &Shared, port: u16) -> Program {
    let mut command = aria2c(shared, "seeder", port);
    command
        .arg(format!(
            "--dir={}",
            shared.dir.path().join("seed").display()
        ))
        .arg("--check-integrity=true")
        .arg("--bt-seed-unverified=true")
        .arg("--seed-ratio=0.0")
        .arg(&shared.torrent);
    Program::spawn(
        "aria2c seeder",
        &mut command,
        shared.dir.path().join("seeder.log"),
    )
}

/// A free TCP port on loopback (the kernel's pick, released for the peer to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free UDP port on loopback.
fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the tracker has `n` peers registered in the swarm (counting seeders with
/// `complete`), or fails showing the programs' logs.
async fn wait_for_swarm(
    tracker: &Tracker,
    info_hash: &InfoHash,
    seeders: u32,
    programs: &[&Program],
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tracker.scrape(info_hash).complete < seeders {
        if Instant::now() > deadline {
            let logs: Vec<String> = programs.iter().map(|p| p.log()).collect();
            panic!(
                "the tracker never saw {seeders} seeder(s): {:?}\n{}",
                tracker.scrape(info_hash),
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn leech_dir(shared: &Shared) -> PathBuf {
    let dir = shared.dir.path().join("leech");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// aria2c seeds, a second aria2c downloads through `tracker_url`, byte-exact.
async fn aria2_to_aria2(tracker: &RunningTracker, tracker_url: &str, seed: u64) {
    let shared = share(tracker_url, seed);
    let seeder = seeder(&shared, free_port());
    wait_for_swarm(&tracker.tracker, &shared.info_hash, 1, &[&seeder]).await;
    let dir = leech_dir(&shared);
    let mut command = aria2c(&shared, "leecher", free_port());
    command
        .arg(format!("--dir={}", dir.display()))
        .arg("--seed-time=0")
        .arg(&shared.torrent);
    let mut leecher = Program::spawn(
        "aria2c leecher",
        &mut command,
        shared.dir.path().join("leecher.log"),
    );
    let deadline = Instant::now() + DOWNLOAD_DEADLINE;
    let status = tokio::task::block_in_place(|| leecher.wait_until(deadline));
    let logs = format!(
        "{}\n{}\n{}",
        seeder.log(),
        leecher.log(),
        tracker.transcript()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "aria2c leecher via {tracker_url}: {status:?}\n{logs}"
    );
    let copy = fs::read(dir.join(NAME)).unwrap_or_default();
    assert!(
        copy == shared.content,
        "the copy differs ({} bytes)\n{logs}",
        copy.len()
    );
    // The leecher said `completed`, and with --seed-time=0 then `stopped`.
    let stats = tracker.tracker.scrape(&shared.info_hash);
    assert_eq!(stats.downloaded, 1, "{stats:?}\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2c_swarm_through_our_http_tracker() {
    let tracker = RunningTracker::start(Duration::from_secs(5)).await;
    let url = tracker.http_url();
    aria2_to_aria2(&tracker, &url, 1).await;
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2c_swarm_through_our_udp_tracker() {
    let tracker = RunningTracker::start(Duration::from_secs(5)).await;
    let url = tracker.udp_url();
    aria2_to_aria2(&tracker, &url, 2).await;
    tracker.stop().await;
}

/// transmission-cli's settings: no DHT, peer exchange, local peer discovery, uTP or port
/// mapping; listening on loopback only.
fn transmission_settings(port: u16) -> String {
    format!(
        r#"{{
    "bind-address-ipv4": "127.0.0.1",
    "bind-address-ipv6": "::1",
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "port-forwarding-enabled": false,
    "peer-port": {port},
    "peer-port-random-on-start": false,
    "rename-partial-files": true,
    "ratio-limit-enabled": false,
    "speed-limit-up-enabled": false,
    "speed-limit-down-enabled": false
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_downloads_from_aria2c_through_our_tracker() {
    let tracker = RunningTracker::start(Duration::from_secs(2)).await;
    let shared = share(&tracker.http_url(), 3);
    let seeder = seeder(&shared, free_port());
    wait_for_swarm(&tracker.tracker, &shared.info_hash, 1, &[&seeder]).await;
    let config = shared.dir.path().join("transmission-config");
    fs::create_dir_all(&config).unwrap();
    let port = free_port();
    fs::write(config.join("settings.json"), transmission_settings(port)).unwrap();
    let dir = leech_dir(&shared);
    let mut command = Command::new(require_peer("transmission-cli"));
    command
        .env("HOME", shared.dir.path())
        .arg("--config-dir")
        .arg(&config)
        .arg("--download-dir")
        .arg(&dir)
        .args([
            "--port",
            &port.to_string(),
            "--no-portmap",
            "--no-blocklist",
        ])
        .arg(&shared.torrent);
    let mut leecher = Program::spawn(
        "transmission-cli",
        &mut command,
        shared.dir.path().join("transmission.log"),
    );
    // transmission-cli seeds on after the download and never exits by itself: watch the file
    // (named without `.part` only once complete).
    let deadline = Instant::now() + DOWNLOAD_DEADLINE;
    let mut copy = Vec::new();
    while Instant::now() < deadline {
        copy = fs::read(dir.join(NAME)).unwrap_or_default();
        if copy.len() == FILE_LEN && copy == shared.content {
            break;
        }
        if let Ok(Some(status)) = leecher.child.try_wait() {
            panic!("transmission-cli exited early: {status}\n{}", leecher.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = format!(
        "{}\n{}\n{}",
        seeder.log(),
        leecher.log(),
        tracker.transcript()
    );
    assert!(
        copy == shared.content,
        "transmission's copy differs or is missing ({} bytes)\n{logs}",
        copy.len()
    );
    drop(leecher);
    drop(seeder);
    tracker.stop().await;
}

fn client() -> TrackerClient {
    TrackerClient::new(ClientOptions {
        http_timeout: Duration::from_secs(5),
        udp_retry: UdpRetry {
            first_timeout: Duration::from_millis(500),
            retransmissions: 4,
        },
    })
    .unwrap()
}

fn params(
    info_hash: InfoHash,
    name: &[u8; 4],
    port: u16,
    left: u64,
    event: Event,
) -> AnnounceParams {
    let mut peer_id = *b"-AN0001-____________";
    peer_id[8..12].copy_from_slice(name);
    AnnounceParams {
        info_hash,
        peer_id,
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        numwant: Some(50),
        key: u32::from(port),
        ip: None,
    }
}

/// Debian's opentracker on `port` (TCP and UDP) of 127.0.0.1, chrooted to a directory holding
/// the whitelist (its build serves whitelisted info-hashes only; `-w` names a path inside
/// the chroot).
fn opentracker(dir: &std::path::Path, port: u16, whitelisted: &[InfoHash]) -> Program {
    let root = dir.join("opentracker-root");
    fs::create_dir_all(&root).unwrap();
    // opentracker drops to `nobody` after chroot: it must still read its whitelist.
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    let list: String = whitelisted.iter().map(|h| format!("{h}\n")).collect();
    fs::write(root.join("whitelist"), list).unwrap();
    fs::set_permissions(root.join("whitelist"), fs::Permissions::from_mode(0o644)).unwrap();
    let mut command = Command::new(require_peer("opentracker"));
    command
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-P",
            &port.to_string(),
        ])
        .arg("-d")
        .arg(&root)
        .args(["-w", "/whitelist"]);
    Program::spawn("opentracker", &mut command, dir.join("opentracker.log"))
}

async fn wait_for_tcp(addr: SocketAddr, program: &Program) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{addr} never listened\n{}",
            program.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_announces_to_opentracker_over_http_and_udp() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_on(&["127.0.0.1".parse().unwrap()]);
    let hash = InfoHash(pseudo_random(20, 4).try_into().unwrap());
    let tracker = opentracker(dir.path(), port, &[hash]);
    wait_for_tcp(SocketAddr::from(([127, 0, 0, 1], port)), &tracker).await;
    let http_url = format!("http://127.0.0.1:{port}/announce");
    let udp_url = format!("udp://127.0.0.1:{port}");
    let client = client();

    // opentracker listens before a thread of its own has read the whitelist: until then every
    // info-hash is "not authorized". Retry the first announce until the list is in.
    let seed = params(hash, b"seed", 7001, 0, Event::Started);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(error) = client.announce(&http_url, &seed).await {
        assert!(
            Instant::now() < deadline && error.failure_reason().is_some(),
            "{error}\n{}",
            tracker.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seeder: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    // A leecher over UDP (BEP 15) is told of the seeder.
    let leech = params(hash, b"udpl", 7002, 1000, Event::Started);
    let over_udp = client.announce(&udp_url, &leech).await.unwrap();
    assert!(
        over_udp.peers.contains(&seeder),
        "{over_udp:?}\n{}",
        tracker.log()
    );
    assert_eq!(over_udp.complete, Some(1), "{over_udp:?}");
    assert!(over_udp.interval >= Duration::from_secs(60), "{over_udp:?}");
    // And another over HTTP, with a compact answer.
    let leech = params(hash, b"http", 7003, 1000, Event::Started);
    let over_http = client.announce(&http_url, &leech).await.unwrap();
    assert!(over_http.peers.contains(&seeder), "{over_http:?}");
    assert_eq!(
        (over_http.complete, over_http.incomplete),
        (Some(1), Some(2)),
        "{over_http:?}"
    );
    // Its scrape (BEP 48) agrees.
    let stats = client.scrape(&http_url, &[hash]).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].1.complete, stats[0].1.incomplete), (1, 2));
    // An info-hash off the whitelist gets opentracker's failure reason, which we surface.
    let stranger = params(InfoHash([0xee; 20]), b"strg", 7004, 1, Event::Started);
    let refused = client.announce(&http_url, &stranger).await.unwrap_err();
    assert!(
        refused
            .failure_reason()
            .is_some_and(|r| r.contains("not authorized")),
        "{refused}"
    );
    drop(tracker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_scrapes_our_tracker_over_http_and_udp() {
    let tracker = RunningTracker::start(Duration::from_secs(60)).await;
    let client = client();
    let hash = InfoHash([0x42; 20]);
    let other = InfoHash([0x43; 20]);
    client
        .announce(
            &tracker.http_url(),
            &params(hash, b"seed", 7001, 0, Event::Started),
        )
        .await
        .unwrap();
    let leech = params(hash, b"leec", 7002, 500, Event::Started);
    let reply = client.announce(&tracker.udp_url(), &leech).await.unwrap();
    assert_eq!(
        reply.peers,
        vec!["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(reply.interval, Duration::from_secs(60));
    for url in [tracker.http_url(), tracker.udp_url()] {
        let stats = client.scrape(&url, &[hash, other]).await.unwrap();
        let counts: Vec<(InfoHash, u32, u32, u32)> = stats
            .iter()
            .map(|(h, s)| (*h, s.complete, s.incomplete, s.downloaded))
            .collect();
        assert_eq!(
            counts,
            vec![(hash, 1, 1, 0), (other, 0, 0, 0)],
            "{url}\n{}",
            tracker.transcript()
        );
    }
    // The leecher finishes and leaves: the swarm counts one download.
    let done = params(hash, b"leec", 7002, 0, Event::Completed);
    client.announce(&tracker.udp_url(), &done).await.unwrap();
    let stats = client.scrape(&tracker.http_url(), &[hash]).await.unwrap();
    assert_eq!((stats[0].1.complete, stats[0].1.downloaded), (2, 1));
    tracker.stop().await;
}

/// curl: a client we did not write sees bencoded answers, failure reasons and 404s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_gets_bencoded_answers() {
    let tracker = RunningTracker::start(Duration::from_secs(60)).await;
    let curl = |path: &str| {
        let output = Command::new(require_peer("curl"))
            .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
            .arg(format!("http://{}{path}", tracker.addr))
            .output()
            .unwrap();
        output.stdout
    };
    let hash = "%AA".repeat(20);
    let announce = tokio::task::block_in_place(|| {
        curl(&format!(
            "/announce?info_hash={hash}&peer_id=-CU0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=0&event=started"
        ))
    });
    assert_eq!(
        String::from_utf8_lossy(&announce),
        "d8:completei1e10:incompletei0e8:intervali60e12:min intervali60e5:peers0:e\n200"
    );
    let scrape = tokio::task::block_in_place(|| curl(&format!("/scrape?info_hash={hash}")));
    let mut expected = b"d5:filesd20:".to_vec();
    expected.extend_from_slice(&[0xaa; 20]);
    expected.extend_from_slice(b"d8:completei1e10:downloadedi0e10:incompletei0eeee\n200");
    assert_eq!(scrape, expected);
    // A well-formed request with a bad parameter: a failure reason.
    let short = tokio::task::block_in_place(|| {
        curl("/announce?info_hash=abc&peer_id=-CU0001-abcdefghijkl&port=6881&left=0")
    });
    assert_eq!(
        String::from_utf8_lossy(&short),
        "d14:failure reason26:info_hash must be 20 bytese\n200"
    );
    // A request-target that is not even valid HTTP (RFC 3986 percent-encoding) is refused by
    // the HTTP layer before the tracker sees it.
    let bad = tokio::task::block_in_place(|| curl("/announce?info_hash=%zz"));
    assert!(bad.ends_with(b"\n400"), "{}", String::from_utf8_lossy(&bad));
    let missing = tokio::task::block_in_place(|| curl("/index.html"));
    assert!(
        missing.ends_with(b"\n404"),
        "{}",
        String::from_utf8_lossy(&missing)
    );
    tracker.stop().await;
}
