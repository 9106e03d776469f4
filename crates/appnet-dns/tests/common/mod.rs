//! Helpers shared by the DNS interop tests: our authoritative server started in-process, NSD run
//! as a child process (with Debian's traps handled), running peer programs, and asking a server
//! for a zone's serial. Each test file uses only some of them.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::TcpLimits;
use appnet_core::trace::Tracer;
use appnet_dns::authority::AuthorityOptions;
use appnet_dns::client::{self, QueryOptions};
use appnet_dns::server::{self, Authority, ZoneSource};
use appnet_dns::wire::{Message, Name, RData, RecordType};
use appnet_testkit::require_peer;

/// Our authoritative server, UDP and TCP on one address; it stops when dropped.
pub struct OurServer {
    pub addr: SocketAddr,
    pub authority: Arc<Authority>,
    shutdown: Shutdown,
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The TCP limits the tests run our servers with unless they test the limits themselves.
pub const TCP_LIMITS: TcpLimits = TcpLimits {
    max_connections: 64,
    idle_timeout: Duration::from_secs(5),
};

/// Starts our authoritative server for `sources` on `addr` (port 0: a free port on its IP,
/// the same for UDP and TCP).
pub async fn start_authority(
    sources: Vec<ZoneSource>,
    addr: SocketAddr,
    limits: TcpLimits,
) -> OurServer {
    let (authority, _) = Authority::load(sources, AuthorityOptions::default()).unwrap();
    let authority = Arc::new(authority);
    let (udp, tcp) = bind_pair(addr).await;
    let addr = udp.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(server::serve_udp(
        udp,
        authority.clone(),
        Tracer::off(),
        shutdown.clone(),
    ));
    tokio::spawn(server::serve_tcp(
        tcp,
        authority.clone(),
        limits,
        Tracer::off(),
        shutdown.clone(),
    ));
    OurServer {
        addr,
        authority,
        shutdown,
    }
}

/// A UDP socket and a TCP listener on `addr`; with port 0, on the same free port.
pub async fn bind_pair(addr: SocketAddr) -> (tokio::net::UdpSocket, tokio::net::TcpListener) {
    appnet_core::net::bind_udp_and_tcp(addr)
        .await
        .unwrap_or_else(|err| panic!("cannot bind UDP and TCP {addr}: {err}"))
}

/// Loopback, port 0.
pub fn any_loopback_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Runs a peer program off the async runtime and returns its stdout and stderr.
pub async fn run(program: PathBuf, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(&program)
            .args(&args)
            .output()
            .expect("run peer");
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr)
    })
    .await
    .unwrap()
}

/// BIND's dig asking `addr`, one try of at most 2 s, with `args` split at spaces.
pub async fn dig(addr: SocketAddr, args: &str) -> String {
    let mut argv = vec![
        format!("@{}", addr.ip()),
        "-p".into(),
        addr.port().to_string(),
    ];
    argv.extend(["+time=2", "+tries=1"].map(String::from));
    argv.extend(args.split_whitespace().map(String::from));
    run(require_peer("dig"), argv).await
}

pub fn assert_has(output: &str, needles: &[&str]) {
    for needle in needles {
        assert!(output.contains(needle), "expected {needle:?} in:\n{output}");
    }
}

/// NSD, run unprivileged from a temp dir (see PEERS.md for Debian's defaults that get in the
/// way). Killed when dropped.
pub struct Nsd {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nsd {
    /// The directory NSD runs in: zone files written here can be named relative to it.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Waits until NSD answers `zone`'s SOA (with `serial`, when given), failing loudly with
    /// NSD's log if it exits or does not within `within`.
    pub async fn wait_serving(&mut self, zone: &str, serial: Option<u32>, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("NSD exited ({status}):\n{}", self.log());
            }
            let answered = soa_serial(self.addr, zone).await;
            if answered.is_some() && (serial.is_none() || answered == serial) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "NSD did not serve {zone} (serial {serial:?}) within {within:?}:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nsd.log")).unwrap_or_default()
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for UDP and TCP on 127.0.0.1.
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// NSD on a free port of 127.0.0.1, with `zone_lines` (its `zone:` clauses) in its config.
pub fn start_nsd(zone_lines: &str) -> Nsd {
    start_nsd_on(
        SocketAddr::from(([127, 0, 0, 1], free_port())),
        "",
        zone_lines,
    )
}

/// NSD listening on `addr` (UDP and TCP), with `server_lines` (extra `server:` options, each
/// indented by four spaces and ending in a newline) and `zone_lines` in its config.
pub fn start_nsd_on(addr: SocketAddr, server_lines: &str, zone_lines: &str) -> Nsd {
    let nsd = require_peer("nsd");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let conf = format!(
        r#"server:
    ip-address: {ip}@{port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{work}"
    database: ""
    zonelistfile: "{work}/zone.list"
    pidfile: "{work}/nsd.pid"
    xfrdfile: "{work}/xfrd.state"
    xfrdir: "{work}"
    logfile: "{work}/nsd.log"
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    verbosity: 2
{server_lines}remote-control:
    control-enable: no
{zone_lines}"#,
        ip = addr.ip(),
        port = addr.port(),
        work = work.display()
    );
    std::fs::write(work.join("nsd.conf"), conf).unwrap();
    let child = Command::new(nsd)
        .args(["-d", "-c"])
        .arg(work.join("nsd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Nsd { child, addr, dir }
}

/// The serial `server` answers for `zone`'s SOA, if it answers within half a second.
pub async fn soa_serial(server: SocketAddr, zone: &str) -> Option<u32> {
    let query = Message::query(
        client::random_id(),
        Name::from_ascii(zone).unwrap(),
        RecordType::SOA,
        false,
        None,
    );
    let options = QueryOptions {
        timeout: Duration::from_millis(500),
        retries: 0,
        tcp: false,
    };
    let exchange = client::query(server, &query, options, &Tracer::off())
        .await
        .ok()?;
    exchange
        .response
        .answers
        .iter()
        .find_map(|record| match record.rdata {
            RData::Soa { serial, .. } => Some(serial),
            _ => None,
        })
}

pub async fn wait_for_serial(
    server: SocketAddr,
    zone: &str,
    serial: u32,
    within: Duration,
) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if soa_serial(server, zone).await == Some(serial) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
