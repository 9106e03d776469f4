//! End-to-end tests of `appnet torrent` as users run it: our tracker, seeder and downloader
//! together, and each of them with programs we did not write — aria2c and transmission-cli
//! (downloading from us and seeding to us) as the other peer, opentracker as the tracker,
//! mktorrent's .torrent files. Every copy is compared byte for byte. Each server and peer is
//! killed when its test ends, pass or fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use appnet_testkit::{Appnet, free_port_on, pseudo_random, require_peer, run_to_completion};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");
/// How long a peer run may take; transmission alone needs ~15 s to start moving data.
const TIMEOUT: Duration = Duration::from_secs(150);

fn appnet(args: &[&str]) -> Output {
    run_to_completion(Command::new(APPNET).args(args), b"", TIMEOUT)
}

fn ok(args: &[&str]) -> String {
    let out = appnet(args);
    assert!(
        out.status.success(),
        "appnet {args:?} failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `appnet torrent get TORRENT -o OUT --listen LISTEN`, which must succeed; its output.
fn get(torrent: &Path, out: &Path, listen: &str) -> String {
    ok(&[
        "torrent",
        "get",
        torrent.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--listen",
        listen,
    ])
}

fn loopback_port() -> u16 {
    free_port_on(&["127.0.0.1".parse().unwrap()])
}

/// A peer program we did not write, killed when dropped.
struct Peer(Child);

impl Peer {
    fn spawn(command: &mut Command) -> Peer {
        Peer(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}")),
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Our tracker on a free port; it and its announce URL.
fn tracker() -> (Appnet, String) {
    let listen = format!("127.0.0.1:{}", loopback_port());
    let tracker = Appnet::spawn(
        APPNET,
        &["torrent", "track", "--listen", &listen, "--interval", "2"],
    );
    tracker.wait_for_line("service(s) running", TIMEOUT);
    (tracker, format!("http://{listen}/announce"))
}

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        path
    }

    /// A directory of a few files (one Korean-named, one empty) and its .torrent.
    fn album(&self, announce: &str) -> (PathBuf, PathBuf) {
        let root = self.path("src/album");
        std::fs::create_dir_all(root.join("disc 1")).unwrap();
        std::fs::write(root.join("disc 1/track.bin"), pseudo_random(3 << 20, 1)).unwrap();
        std::fs::write(root.join("노래.bin"), pseudo_random(1_500_000, 2)).unwrap();
        std::fs::write(root.join("empty"), b"").unwrap();
        let torrent = self.path("album.torrent");
        ok(&[
            "torrent",
            "create",
            root.to_str().unwrap(),
            "--tracker",
            announce,
            "-o",
            torrent.to_str().unwrap(),
        ]);
        (root, torrent)
    }
}

/// Our seeder for `torrent`, from `data`, listening on `listen`.
fn seed(torrent: &Path, data: &Path, listen: &str) -> Appnet {
    Appnet::spawn(
        APPNET,
        &[
            "torrent",
            "seed",
            torrent.to_str().unwrap(),
            "--from",
            data.to_str().unwrap(),
            "--listen",
            listen,
        ],
    )
}

fn assert_same_tree(original: &Path, copy: &Path) {
    for entry in std::fs::read_dir(original).unwrap() {
        let path = entry.unwrap().path();
        let twin = copy.join(path.file_name().unwrap());
        if path.is_dir() {
            assert_same_tree(&path, &twin);
        } else {
            let (a, b) = (std::fs::read(&path).unwrap(), std::fs::read(&twin).unwrap());
            assert!(a == b, "{} differs from {}", twin.display(), path.display());
        }
    }
}

#[test]
fn our_seeder_and_downloader_through_our_tracker_and_a_resume() {
    let lab = Lab::new();
    let (_tracker, announce) = tracker();
    let (data, torrent) = lab.album(&announce);
    let _seeder = seed(&torrent, &data, &format!("127.0.0.11:{}", loopback_port()));
    let out = lab.path("out");
    let said = get(&torrent, &out, "127.0.0.12:0");
    assert!(said.contains("every piece verified"), "{said}");
    assert_same_tree(&data, &out.join("album"));

    // Damage the copy: only what is missing is fetched again.
    let track = out.join("album/disc 1/track.bin");
    let mut bytes = std::fs::read(&track).unwrap();
    bytes[1_000_000] ^= 0xff;
    std::fs::write(&track, bytes).unwrap();
    get(&torrent, &out, "127.0.0.12:0");
    assert_same_tree(&data, &out.join("album"));
}

fn aria2c() -> Command {
    let mut command = Command::new(require_peer("aria2c"));
    command.args([
        "--enable-dht=false",
        "--enable-dht6=false",
        "--enable-peer-exchange=false",
        "--bt-enable-lpd=false",
        "--summary-interval=0",
        "--console-log-level=warn",
        "--bt-tracker-interval=2",
        "--bt-stop-timeout=60",
    ]);
    command
}

#[test]
fn aria2c_downloads_from_our_seeder_and_we_download_from_aria2c() {
    let lab = Lab::new();
    let (_tracker, announce) = tracker();
    let (data, torrent) = lab.album(&announce);

    let seeder = seed(&torrent, &data, &format!("127.0.0.13:{}", loopback_port()));
    let from_us = lab.path("aria-copy");
    let out = run_to_completion(
        aria2c()
            .arg(format!("--dir={}", from_us.display()))
            .arg(format!("--listen-port={}", loopback_port()))
            .args(["--seed-time=0", "--check-integrity=true"])
            .arg(&torrent),
        b"",
        TIMEOUT,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_same_tree(&data, &from_us.join("album"));
    drop(seeder);

    // aria2c seeds what it downloaded; nobody else does.
    let aria_port = loopback_port();
    let _aria = Peer::spawn(
        aria2c()
            .arg(format!("--dir={}", from_us.display()))
            .arg(format!("--listen-port={aria_port}"))
            .args([
                "--seed-ratio=0.0",
                "--seed-time=5",
                "--check-integrity=true",
            ])
            .arg(&torrent),
    );
    let ours = lab.path("our-copy");
    get(&torrent, &ours, "127.0.0.14:0");
    assert_same_tree(&data, &ours.join("album"));
}

#[test]
fn transmission_downloads_from_our_seeder() {
    let lab = Lab::new();
    let (_tracker, announce) = tracker();
    let (data, torrent) = lab.album(&announce);
    let _seeder = seed(&torrent, &data, &format!("127.0.0.15:{}", loopback_port()));
    let copy = lab.path("transmission");
    std::fs::create_dir_all(&copy).unwrap();
    let config = lab.path("transmission-config");
    std::fs::create_dir_all(&config).unwrap();
    // transmission-cli keeps running after the download; poll for a complete copy.
    let _transmission = Peer::spawn(
        Command::new(require_peer("transmission-cli"))
            .args(["--no-portmap", "--no-downlimit", "--no-uplimit", "--port"])
            .arg(loopback_port().to_string())
            .arg("--download-dir")
            .arg(&copy)
            .arg("--config-dir")
            .arg(&config)
            .arg(&torrent)
            .env("HOME", lab.dir.path()),
    );
    let wanted = std::fs::read(data.join("disc 1/track.bin")).unwrap();
    let deadline = std::time::Instant::now() + TIMEOUT;
    let done = |path: &Path| std::fs::read(path).is_ok_and(|bytes| bytes == wanted);
    while !done(&copy.join("album/disc 1/track.bin")) {
        assert!(
            std::time::Instant::now() < deadline,
            "transmission did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Transmission writes pieces as they come, and makes no file for an empty one.
    while std::fs::read(copy.join("album/노래.bin")).ok()
        != std::fs::read(data.join("노래.bin")).ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "transmission did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// transmission-cli's settings: no DHT, peer exchange, local peer discovery, uTP or port
/// mapping; on loopback only.
fn transmission_config(dir: &Path, port: u16) {
    std::fs::create_dir_all(dir).unwrap();
    let settings = format!(
        r#"{{"bind-address-ipv4": "127.0.0.1", "dht-enabled": false, "lpd-enabled": false,
  "pex-enabled": false, "utp-enabled": false, "port-forwarding-enabled": false,
  "peer-port": {port}, "peer-port-random-on-start": false, "ratio-limit-enabled": false}}"#
    );
    std::fs::write(dir.join("settings.json"), settings).unwrap();
}

#[test]
fn we_download_from_a_transmission_seeder() {
    let lab = Lab::new();
    let (_tracker, announce) = tracker();
    let (data, torrent) = lab.album(&announce);
    let config = lab.path("transmission-config");
    let port = loopback_port();
    transmission_config(&config, port);
    // It finds the data already in its download directory, verifies it and seeds.
    let _transmission = Peer::spawn(
        Command::new(require_peer("transmission-cli"))
            .args(["--no-portmap", "--port", &port.to_string()])
            .arg("--download-dir")
            .arg(data.parent().unwrap())
            .arg("--config-dir")
            .arg(&config)
            .arg(&torrent)
            .env("HOME", lab.dir.path()),
    );
    let out = lab.path("from-transmission");
    get(&torrent, &out, "127.0.0.1:0");
    assert_same_tree(&data, &out.join("album"));
}

#[test]
fn our_peers_use_opentracker_and_load_mktorrent_files() {
    let lab = Lab::new();
    let port = loopback_port();
    let announce = format!("http://127.0.0.1:{port}/announce");
    let file = lab.path("src/clip.bin");
    std::fs::write(&file, pseudo_random(2_000_000, 9)).unwrap();
    let torrent = lab.path("clip.torrent");
    let made = run_to_completion(
        Command::new(require_peer("mktorrent"))
            .args(["-a", &announce, "-l", "16", "-o"])
            .arg(&torrent)
            .arg(&file),
        b"",
        TIMEOUT,
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // Debian's opentracker tracks only whitelisted info-hashes.
    let info_hash = info_hash_of(&torrent);
    let whitelist = lab.path("whitelist");
    std::fs::write(&whitelist, format!("{info_hash}\n")).unwrap();
    let _opentracker = Peer::spawn(
        Command::new(require_peer("opentracker"))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &port.to_string(),
                "-w",
            ])
            .arg(&whitelist),
    );
    std::thread::sleep(Duration::from_millis(300));
    // opentracker registers the address an announce comes from, 127.0.0.1 here, so both
    // peers listen there.
    let _seeder = seed(&torrent, &file, &format!("127.0.0.1:{}", loopback_port()));
    let out = lab.path("out");
    get(&torrent, &out, "127.0.0.1:0");
    assert!(std::fs::read(out.join("clip.bin")).unwrap() == std::fs::read(&file).unwrap());
}

/// The info-hash of a .torrent in hex, as transmission-show (a tool we did not write) reads it.
fn info_hash_of(torrent: &Path) -> String {
    let out = run_to_completion(
        Command::new(require_peer("transmission-show")).arg(torrent),
        b"",
        TIMEOUT,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("no hash in {text}"))
        .trim()
        .to_string()
}
