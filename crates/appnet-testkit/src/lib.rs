//! Helpers for appnet's interop tests, shared by every crate's `tests/`.
//!
//! Interop tests drive our servers with programs we did not write (dig, curl, python's socket
//! module, ...). `scripts/test` installs those programs; a test that cannot find one fails with a
//! message saying so, because a silently skipped interop test proves nothing.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The path of peer program `name`, or a test failure explaining how to get it.
pub fn require_peer(name: &str) -> PathBuf {
    find_on_path(name).unwrap_or_else(|| {
        panic!("peer program `{name}` is not installed: run scripts/test, which installs every peer the tests use")
    })
}

/// Debian's own python3, which has the Debian-packaged modules (another python3 may come first on
/// PATH); any python3 on PATH otherwise.
pub fn python3() -> PathBuf {
    let debian = Path::new("/usr/bin/python3");
    if debian.exists() {
        debian.to_owned()
    } else {
        require_peer("python3")
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file())
}

/// A running `appnet` process whose stdout and stderr are read line by line; it gets SIGTERM when
/// dropped.
pub struct Appnet {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Appnet {
    /// Starts the appnet binary (`env!("CARGO_BIN_EXE_appnet")` in the binary's own tests).
    pub fn spawn(binary: &str, args: &[&str]) -> Appnet {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {binary}: {err}"));
        let stdout = forward_lines(child.stdout.take().expect("stdout is piped"));
        let stderr = forward_lines(child.stderr.take().expect("stderr is piped"));
        Appnet {
            child,
            stdout,
            stderr,
        }
    }

    /// The next stdout line that contains `needle`, waiting at most `timeout`; earlier lines are
    /// returned too, so tests can read the whole table up to a marker.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> Vec<String> {
        wait_for(&self.stdout, needle, timeout).unwrap_or_else(|seen| {
            // Whatever went wrong is most likely on stderr: show it with the failure.
            let errors: Vec<String> = self.stderr.try_iter().collect();
            panic!("no stdout line containing {needle:?} within {timeout:?}; saw {seen:#?}; stderr: {errors:#?}")
        })
    }

    /// Like [`Appnet::wait_for_line`], on stderr (where the protocol trace goes).
    pub fn wait_for_stderr_line(&self, needle: &str, timeout: Duration) -> Vec<String> {
        wait_for(&self.stderr, needle, timeout).unwrap_or_else(|seen| {
            panic!("no stderr line containing {needle:?} within {timeout:?}; saw {seen:#?}")
        })
    }

    /// Remaining stdout lines until the process closes stdout.
    pub fn rest_of_output(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Ok(line) = self
            .stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.push(line);
        }
        seen
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child's.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Waits for the process to exit, at most `timeout`; returns its exit code (None if it did not
    /// exit in time or died by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Appnet {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(3)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

pub use libc::{SIGHUP, SIGINT, SIGTERM};

/// The lines up to and including the first containing `needle`, or, on timeout, those seen.
fn wait_for(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    timeout: Duration,
) -> Result<Vec<String>, Vec<String>> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return Ok(seen);
                }
            }
            Err(_) => return Err(seen),
        }
    }
}

fn forward_lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A port free for both UDP and TCP on every one of `ips` (the mini Internet's name servers share
/// one port across several loopback addresses).
pub fn free_port_on(ips: &[std::net::IpAddr]) -> u16 {
    use std::net::{SocketAddr, TcpListener, UdpSocket};
    for _ in 0..1000 {
        let probe = UdpSocket::bind((ips[0], 0)).expect("bind a probe socket");
        let port = probe.local_addr().expect("probe address").port();
        drop(probe);
        let free = ips.iter().all(|&ip| {
            let addr = SocketAddr::new(ip, port);
            UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok()
        });
        if free {
            return port;
        }
    }
    panic!("no port is free on all of {ips:?}");
}

/// A path under the temporary directory that no other test process uses.
pub fn unique_temp_dir(prefix: &str) -> std::path::PathBuf {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()))
}

/// A config for `appnet up` in tests: every service on a free port and its own mail, FTP and torrent storage,
/// so several runs can overlap. It ends in `[dns.resolver]`, so a test may append keys of it.
pub fn up_config() -> String {
    let mini_ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4"].map(|ip| ip.parse().expect("an IP"));
    let mail_ips = ["127.0.0.21", "127.0.0.22"].map(|ip| ip.parse().expect("an IP"));
    // SMTP, IMAP and POP3 on both mail addresses: three different free ports.
    let mut mail_ports: Vec<u16> = Vec::new();
    while mail_ports.len() < 3 {
        let port = free_port_on(&mail_ips);
        if !mail_ports.contains(&port) {
            mail_ports.push(port);
        }
    }
    format!(
        "[udp]\nlisten = \"127.0.0.1:0\"\n\n[ftp]\nup_port = {}\nup_root = \"{}\"\n\n[torrent]\nup_port = {}\nup_dir = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\naccess_log = \"off\"\n\n[mail]\nup_port = {}\nup_imap_port = {}\nup_pop3_port = {}\nup_dir = \"{}\"\n\n[dns]\nmini_port = {}\n\n[dns.resolver]\nlisten = \"127.0.0.1:0\"\n",
        free_port_on(&["127.0.0.1".parse().expect("an IP")]),
        unique_temp_dir("appnet-test-up-ftp").display(),
        free_port_on(&["127.0.0.1".parse().expect("an IP")]),
        unique_temp_dir("appnet-test-up-torrent").display(),
        mail_ports[0],
        mail_ports[1],
        mail_ports[2],
        unique_temp_dir("appnet-test-up-mail").display(),
        free_port_on(&mini_ips)
    )
}

/// Runs `command` to completion with `stdin` written to it, and returns its output; if it
/// runs past `timeout` it is killed and the test fails, showing what it printed.
pub fn run_to_completion(
    command: &mut Command,
    stdin: &[u8],
    timeout: Duration,
) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    let mut input = child.stdin.take().expect("piped stdin");
    let script = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&script);
    });
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = stdout.join().unwrap_or_default();
            let err = stderr.join().unwrap_or_default();
            panic!(
                "{command:?} did not finish within {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// `len` bytes of a fixed pseudo-random sequence (xorshift from `seed`): test data in which no
/// two offsets look alike, the same in every run.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Waits until a peer program accepts connections on `addr`: `Err` says why not — it exited
/// (when its `child` is given), or `within` passed — for the caller to report with its log.
pub fn wait_listening(
    addr: std::net::SocketAddr,
    within: Duration,
    mut child: Option<&mut Child>,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        if let Some(Ok(Some(status))) = child.as_mut().map(|c| c.try_wait()) {
            return Err(format!("exited ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!("does not listen on {addr} within {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
