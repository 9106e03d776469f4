//! One of our mail servers with every listener a user reads mail from (IMAP with STARTTLS,
//! IMAPS, POP3 with STLS, POP3S) beside SMTP, on free loopback ports, on a runtime of its own so
//! that the tests stay plain blocking code driving peer programs. It can be stopped and started
//! again on the same directories (UIDs must survive that).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use appnet_core::config::Seconds;
use appnet_core::lifecycle::Shutdown;
use appnet_core::tls::TlsMaterial;
use appnet_core::trace::Tracer;
use appnet_mail::accounts::hash_password;
use appnet_mail::config::{MailServerConfig, UserConfig};
use appnet_mail::server::{Listeners, MailServer};

use crate::common::{PASSWORD, PEER_TIMEOUT, Ran, run};

/// The domain every test user belongs to.
pub const DOMAIN: &str = "alpha.example";
/// How long a message may take from SMTP's `250` to the Maildir.
pub const DELIVERY: Duration = Duration::from_secs(15);

/// Where one run of the server listens.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    pub smtp: SocketAddr,
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    pub pop3: SocketAddr,
    pub pop3s: SocketAddr,
}

pub struct Host {
    runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    tls: TlsMaterial,
    config: MailServerConfig,
    running: Option<(Shutdown, tokio::task::JoinHandle<std::io::Result<()>>)>,
    pub addrs: Addrs,
}

impl Host {
    /// A server for [`DOMAIN`] with an account (password [`PASSWORD`]) for each local part in
    /// `users`, started.
    pub fn start(users: &[&str]) -> Host {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tls = TlsMaterial::generate(&["localhost", "127.0.0.1"]).expect("TLS material");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, tls.ca_pem()).unwrap();
        let config = MailServerConfig {
            hostname: "mail.alpha.example".into(),
            domains: vec![DOMAIN.into()],
            smtp: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            maildir: dir.path().join("maildir"),
            queue: dir.path().join("queue"),
            users: users
                .iter()
                .map(|local| UserConfig {
                    address: format!("{local}@{DOMAIN}"),
                    password: hash_password(PASSWORD),
                })
                .collect(),
            idle_timeout: Seconds::from_millis(20_000),
            resolver: SocketAddr::from((Ipv4Addr::LOCALHOST, 9)),
            ..MailServerConfig::default()
        };
        let unbound = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut host = Host {
            runtime,
            dir,
            ca_file,
            tls,
            config,
            running: None,
            addrs: Addrs {
                smtp: unbound,
                imap: unbound,
                imaps: unbound,
                pop3: unbound,
                pop3s: unbound,
            },
        };
        host.run();
        host
    }

    /// Starts the server on fresh free ports.
    fn run(&mut self) {
        assert!(self.running.is_none(), "the server already runs");
        let bind = || {
            self.runtime
                .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
                .expect("bind a loopback port")
        };
        let (smtp, imap, imaps, pop3, pop3s) = (bind(), bind(), bind(), bind(), bind());
        let addr = |l: &tokio::net::TcpListener| l.local_addr().unwrap();
        self.addrs = Addrs {
            smtp: addr(&smtp),
            imap: addr(&imap),
            imaps: addr(&imaps),
            pop3: addr(&pop3),
            pop3s: addr(&pop3s),
        };
        let tls = self.tls.server_config().expect("a rustls server config");
        // `run` closes its queue before it returns, so a restart opens it at once.
        let server = MailServer::open(&self.config, Some(tls), Tracer::off())
            .unwrap_or_else(|err| panic!("open the mail server: {err}"));
        let listeners = Listeners {
            smtp,
            imap: Some(imap),
            imaps: Some(imaps),
            pop3: Some(pop3),
            pop3s: Some(pop3s),
        };
        let shutdown = Shutdown::new();
        let handle = self.runtime.spawn(server.run(listeners, shutdown.clone()));
        self.running = Some((shutdown, handle));
    }

    /// Stops the server and waits (bounded) until it has returned.
    pub fn stop(&mut self) {
        let (shutdown, handle) = self.running.take().expect("the server runs");
        shutdown.cancel();
        let ended = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(15), handle).await });
        match ended {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => panic!("the mail server stopped with an error: {err}"),
            Ok(Err(err)) => panic!("the mail server task failed: {err}"),
            Err(_) => panic!("the mail server did not stop within 15 s of shutdown"),
        }
    }

    /// Stops the server and starts it again on the same directories (new ports).
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The Maildir (INBOX) of `local`@[`DOMAIN`].
    pub fn maildir(&self, local: &str) -> PathBuf {
        self.config.maildir.join(DOMAIN).join(local)
    }

    /// How many messages INBOX of `local` holds on disk (`new/` and `cur/`).
    pub fn count(&self, local: &str) -> usize {
        let dir = self.maildir(local);
        files(&dir.join("new")).len() + files(&dir.join("cur")).len()
    }

    /// Waits until INBOX of `local` holds at least `count` messages.
    pub fn wait_count(&self, local: &str, count: usize) {
        let deadline = Instant::now() + DELIVERY;
        while self.count(local) < count {
            assert!(
                Instant::now() < deadline,
                "{local}'s INBOX holds {} messages, expected {count} within {DELIVERY:?}",
                self.count(local)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Submits each message (`to` a local part, the message bytes) through our SMTP with
    /// python's smtplib, and waits until all are in the Maildirs.
    /// Submits each message through our SMTP and waits for it to land before the next:
    /// deliveries of messages in flight together may land in either order (and so take UIDs
    /// in either order), and the tests count on the order given.
    pub fn deliver(&self, messages: &[(&str, &[u8])]) {
        for (i, (to, bytes)) in messages.iter().enumerate() {
            let file = self.dir.path().join(format!("submit-{}-{i}.eml", unique()));
            std::fs::write(&file, bytes).unwrap();
            let expected = self.count(to) + 1;
            let port = self.addrs.smtp.port().to_string();
            let rcpt = format!("{to}@{DOMAIN}");
            let file = file.display().to_string();
            python_ok(SUBMIT, &[port.as_str(), rcpt.as_str(), file.as_str()]);
            self.wait_count(to, expected);
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some((shutdown, _)) = self.running.take() {
            shutdown.cancel();
        }
    }
}

/// python smtplib: `port (to file)...`, each message from bob.
const SUBMIT: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
rest = sys.argv[2:]
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.ehlo("client.alpha.example")
    for to, path in zip(rest[0::2], rest[1::2]):
        with open(path, "rb") as f:
            data = f.read()
        refused = s.sendmail("bob@alpha.example", [to], data)
        assert not refused, refused
"#;

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The files in `dir`, by name.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs a python3 `script` (Debian's python) with `args`, bounded by [`PEER_TIMEOUT`].
pub fn python(script: &str, args: &[&str]) -> Ran {
    let mut command = Command::new(appnet_testkit::python3());
    command.arg("-c").arg(script).args(args);
    run(&mut command, PEER_TIMEOUT)
}

/// Like [`python`], failing the test unless the script exits 0.
pub fn python_ok(script: &str, args: &[&str]) -> Ran {
    let ran = python(script, args);
    assert_eq!(ran.code, Some(0), "python failed:\n{}", ran.all());
    ran
}

/// A raw IMAP connection (no client library: IDLE and unsolicited responses, line by line).
pub struct RawImap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
    /// Everything received, for failure messages.
    pub transcript: String,
}

impl RawImap {
    /// Connects, reads the greeting and logs in as `local`@[`DOMAIN`].
    pub fn login(addr: SocketAddr, local: &str) -> RawImap {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut imap = RawImap {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            next_tag: 1,
            transcript: String::new(),
        };
        let greeting = imap
            .line_within(Duration::from_secs(10))
            .expect("a greeting");
        assert!(greeting.starts_with("* OK"), "greeting {greeting:?}");
        imap.ok(&format!("LOGIN {local}@{DOMAIN} {PASSWORD}"));
        imap
    }

    /// One line (without CRLF), or None if none arrives within `wait`.
    pub fn line_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        let mut line = Vec::new();
        loop {
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => panic!("the server closed the connection:\n{}", self.transcript),
                Ok(_) if line.ends_with(b"\n") => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    self.transcript += &format!("S: {text}");
                    return Some(text.trim_end_matches(['\r', '\n']).to_string());
                }
                Ok(_) => {}
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(err) => panic!("read: {err}\n{}", self.transcript),
            }
            if Instant::now() > deadline {
                assert!(
                    line.is_empty(),
                    "a partial line {:?}",
                    String::from_utf8_lossy(&line)
                );
                return None;
            }
        }
    }

    pub fn send(&mut self, line: &str) {
        self.transcript += &format!("C: {line}\r\n");
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
    }

    /// Sends a tagged command and returns the untagged lines before its tagged completion,
    /// which must be OK.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        self.send(&format!("{tag} {command}"));
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.line_within(left).unwrap_or_else(|| {
                panic!("no completion of {command:?} in 10 s:\n{}", self.transcript)
            });
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                assert!(
                    rest.starts_with("OK"),
                    "{command:?} failed: {line}\n{}",
                    self.transcript
                );
                return lines;
            }
            lines.push(line);
        }
    }

    /// Waits for a line for which `wanted` holds, up to `wait`; returns every line read.
    pub fn wait_for(&mut self, wait: Duration, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + wait;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.line_within(left) {
                Some(line) => {
                    let done = wanted(&line);
                    lines.push(line);
                    if done {
                        return lines;
                    }
                }
                None => panic!(
                    "the awaited line did not come within {wait:?}:\n{}",
                    self.transcript
                ),
            }
        }
    }
}
