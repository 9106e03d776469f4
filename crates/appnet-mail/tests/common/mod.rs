//! Helpers for the mail interop tests: a "lab" that runs our mail server and an authoritative
//! DNS server (for MX lookups) on a runtime of its own, so that the tests themselves stay plain
//! blocking code that runs peer programs; a private Postfix instance; running peers with a
//! deadline; and reading Maildirs.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appnet_core::config::Seconds;
use appnet_core::lifecycle::Shutdown;
use appnet_core::net::TcpLimits;
use appnet_core::tls::TlsMaterial;
use appnet_core::trace::Tracer;
use appnet_dns::authority::AuthorityOptions;
use appnet_dns::server::{self, Authority, ZoneSource};
use appnet_dns::wire::Name;
use appnet_mail::accounts::hash_password;
use appnet_mail::config::{MailServerConfig, UserConfig};
use appnet_mail::server::{Listeners, MailServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every account in the tests has this password.
pub const PASSWORD: &str = "pw";

/// How long a peer program may run before it is killed and the test fails.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// Servers for one test: they run on the lab's own runtime and stop when it is dropped.
pub struct Lab {
    pub runtime: tokio::runtime::Runtime,
    shutdown: Shutdown,
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Lab {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Lab {
            runtime,
            shutdown: Shutdown::new(),
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server config for `hostname` keeping mail for `domains`, with an account (password
    /// [`PASSWORD`]) for each of `users`, storage under the lab's directory and SMTP on a
    /// free port on 127.0.0.1.
    pub fn server_config(
        &self,
        name: &str,
        hostname: &str,
        domains: &[&str],
        users: &[&str],
    ) -> MailServerConfig {
        MailServerConfig {
            hostname: hostname.into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            smtp: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            maildir: self.path(&format!("{name}/maildir")),
            queue: self.path(&format!("{name}/queue")),
            users: users
                .iter()
                .map(|address| UserConfig {
                    address: address.to_string(),
                    password: hash_password(PASSWORD),
                })
                .collect(),
            idle_timeout: Seconds::from_millis(20_000),
            // Nothing listens there: a test that relays points this at its own DNS server.
            resolver: SocketAddr::from((Ipv4Addr::LOCALHOST, 9)),
            ..MailServerConfig::default()
        }
    }

    /// Starts our mail server on `config.smtp` (port 0: a free one) and returns where it listens.
    pub fn start_mail(
        &self,
        mut config: MailServerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> SocketAddr {
        let wanted = config.smtp.expect("the config names an SMTP address");
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind(wanted))
            .unwrap_or_else(|err| panic!("cannot listen on {wanted}: {err}"));
        let addr = listener.local_addr().unwrap();
        config.smtp = Some(addr);
        let server = MailServer::open(&config, tls, Tracer::off()).expect("open the mail server");
        let shutdown = self.shutdown.clone();
        self.runtime.spawn(async move {
            if let Err(err) = server.run(Listeners::smtp(listener), shutdown).await {
                eprintln!("mail server on {addr} stopped: {err}");
            }
        });
        addr
    }

    /// Starts our authoritative DNS server for `zones` (origin, master-file text) on a free
    /// loopback port, UDP and TCP, and returns its address.
    pub fn start_dns(&self, zones: &[(&str, String)]) -> SocketAddr {
        let sources = zones
            .iter()
            .map(|(origin, text)| ZoneSource::Text {
                origin: Name::from_ascii(origin).expect("a zone origin"),
                text: text.clone(),
            })
            .collect();
        let (authority, _) =
            Authority::load(sources, AuthorityOptions::default()).expect("the test zones load");
        let authority = Arc::new(authority);
        let (udp, tcp) = self
            .runtime
            .block_on(appnet_core::net::bind_udp_and_tcp(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                0,
            ))))
            .expect("bind the DNS server");
        let addr = udp.local_addr().unwrap();
        let limits = TcpLimits {
            max_connections: 16,
            idle_timeout: Duration::from_secs(5),
        };
        self.runtime.spawn(server::serve_udp(
            udp,
            authority.clone(),
            Tracer::off(),
            self.shutdown.clone(),
        ));
        self.runtime.spawn(server::serve_tcp(
            tcp,
            authority,
            limits,
            Tracer::off(),
            self.shutdown.clone(),
        ));
        addr
    }

    /// A TCP proxy on a free loopback port in front of `target` that records every byte the
    /// client sends: the wire as the client wrote it (for plaintext sessions).
    pub fn start_recording_proxy(&self, target: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let record = recorded.clone();
        let shutdown = self.shutdown.clone();
        self.runtime.spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { return };
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let record = record.clone();
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match client_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            record.lock().unwrap().extend_from_slice(&buf[..n]);
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let downstream = async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                        let _ = client_write.shutdown().await;
                    };
                    tokio::join!(upstream, downstream);
                });
            }
        });
        (addr, recorded)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// TLS material for our server (valid for `localhost` and `127.0.0.1`) and its CA in a PEM
/// file for the clients.
pub struct Tls {
    pub material: TlsMaterial,
    pub ca_file: PathBuf,
}

impl Tls {
    pub fn new(lab: &Lab) -> Tls {
        let material = TlsMaterial::generate(&["localhost", "127.0.0.1"]).expect("TLS material");
        let ca_file = lab.path("ca.pem");
        std::fs::write(&ca_file, material.ca_pem()).unwrap();
        Tls { material, ca_file }
    }

    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.material
            .server_config()
            .expect("a rustls server config")
    }
}

/// A finished peer program: exit code and output.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Both streams, for failure messages.
    pub fn all(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end, killing it (and failing) after `timeout`.
pub fn run(command: &mut Command, timeout: Duration) -> Ran {
    let output = run_bytes(command, timeout);
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Like [`run`], with the raw output.
pub fn run_bytes(command: &mut Command, timeout: Duration) -> Output {
    appnet_testkit::run_to_completion(command, b"", timeout)
}

/// The Maildir `new/` directory of `address` under a server's maildir root.
pub fn new_dir(maildir_root: &Path, address: &str) -> PathBuf {
    let (local, domain) = address.rsplit_once('@').expect("an address");
    maildir_root.join(domain).join(local).join("new")
}

/// The files in `dir`, oldest name first (Maildir names start with the delivery time).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Waits until `dir` holds at least `count` files and returns them; fails after `timeout`.
pub fn wait_for_files(dir: &Path, count: usize, timeout: Duration) -> Vec<PathBuf> {
    let deadline = Instant::now() + timeout;
    loop {
        let files = files_in(dir);
        if files.len() >= count {
            return files;
        }
        if Instant::now() > deadline {
            panic!(
                "{} holds {} messages, expected {count} within {timeout:?}",
                dir.display(),
                files.len()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one message `address` has received (waiting for it), as bytes.
pub fn only_message(maildir_root: &Path, address: &str, timeout: Duration) -> Vec<u8> {
    let dir = new_dir(maildir_root, address);
    let files = wait_for_files(&dir, 1, timeout);
    assert_eq!(
        files.len(),
        1,
        "one message in {}: {files:?}",
        dir.display()
    );
    std::fs::read(&files[0]).unwrap()
}

/// Splits a stored message into the trace fields our server adds in front of what the client
/// sent — `Return-Path:` (at delivery) then one `Received:` (at arrival), each with its
/// continuation lines — and the rest, which must be the client's message byte for byte.
pub fn split_trace(stored: &[u8]) -> (String, String, &[u8]) {
    let (return_path, rest) = take_field(stored, "Return-Path:");
    let (received, rest) = take_field(rest, "Received:");
    (return_path, received, rest)
}

fn take_field<'a>(bytes: &'a [u8], name: &str) -> (String, &'a [u8]) {
    assert!(
        bytes.starts_with(name.as_bytes()),
        "expected a {name} field at {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
    );
    let mut end = 0;
    loop {
        let line_end = bytes[end..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|at| end + at + 2)
            .unwrap_or_else(|| panic!("the {name} field ends with CRLF"));
        end = line_end;
        if !matches!(bytes.get(end), Some(b' ' | b'\t')) {
            break;
        }
    }
    (
        String::from_utf8_lossy(&bytes[..end]).into_owned(),
        &bytes[end..],
    )
}

/// The message a client sent, as swaks' transcript shows it: the lines after the `354` reply up
/// to the lone `.`, prefixed ` -> ` (or ` ~> ` under TLS), joined with CRLF. The transcript
/// shows the wire, so dot-stuffing is removed (RFC 5321 §4.5.2).
pub fn data_in_swaks_transcript(transcript: &str) -> Vec<u8> {
    let mut lines = transcript.lines();
    lines
        .by_ref()
        .find(|line| line.starts_with("<-  354") || line.starts_with("<~  354"))
        .unwrap_or_else(|| panic!("no 354 in the transcript:\n{transcript}"));
    let mut data = Vec::new();
    for line in lines {
        let Some(text) = line
            .strip_prefix(" -> ")
            .or_else(|| line.strip_prefix(" ~> "))
            .or_else(|| (line == " ->" || line == " ~>").then_some(""))
        else {
            panic!("unexpected line {line:?} inside DATA:\n{transcript}");
        };
        if text == "." {
            return data;
        }
        data.extend_from_slice(text.strip_prefix('.').unwrap_or(text).as_bytes());
        data.extend_from_slice(b"\r\n");
    }
    panic!("the DATA section has no end in the transcript:\n{transcript}");
}

/// The message content in a recorded client→server byte stream: between the `354`-triggering
/// `DATA` line and the `CRLF.CRLF` end, with dot-stuffing removed (RFC 5321 §4.5.2).
pub fn data_on_wire(wire: &[u8]) -> Vec<u8> {
    let start = wire
        .windows(6)
        .position(|w| w.eq_ignore_ascii_case(b"DATA\r\n"))
        .map(|at| at + 6)
        .unwrap_or_else(|| panic!("no DATA on the wire:\n{}", String::from_utf8_lossy(wire)));
    let content = &wire[start..];
    let end = content
        .windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|at| at + 2)
        .or_else(|| content.starts_with(b".\r\n").then_some(0))
        .expect("the end-of-data marker on the wire");
    let mut data = Vec::new();
    for line in content[..end].split_inclusive(|&b| b == b'\n') {
        data.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    data
}

/// `text` with CRLF line ends as LF (how Postfix stores mail).
pub fn lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port(ip: Ipv4Addr) -> u16 {
    appnet_testkit::free_port_on(&[IpAddr::V4(ip)])
}

/// A private Postfix instance: its own config, queue, data and mail directories in a temporary
/// directory, SMTP on `addr`, every address of its `domain` in `mailboxes` delivered by the
/// `virtual` agent into Maildirs under `<dir>/vmail/<domain>/<local>/`. Stopped when dropped.
pub struct Postfix {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// `virtual` delivers as this user: unprivileged and present on every Debian system.
const VMAIL_UID: u32 = 65534;

impl Postfix {
    /// Starts Postfix on `addr` for `domain` with STARTTLS offered using `tls` (the directory
    /// holding `cert.pem` and `key.pem`, as [`TlsMaterial::load_or_generate`] writes them).
    pub fn start(
        addr: SocketAddr,
        domain: &str,
        mailboxes: &[&str],
        tls: Option<&Path>,
    ) -> Postfix {
        let postfix = appnet_testkit::require_peer("postfix");
        let dir = tempfile::tempdir().expect("a directory for Postfix");
        let root = dir.path().to_path_buf();
        // Postfix's daemons run as `postfix` and `nobody`: they must reach into the directory.
        set_mode(&root, 0o755);
        let config = root.join("etc");
        let (queue, data, vmail) = (root.join("queue"), root.join("data"), root.join("vmail"));
        for sub in [&config, &queue, &data, &vmail] {
            std::fs::create_dir(sub).unwrap();
        }
        let (postfix_uid, postfix_gid) = user_ids("postfix")
            .expect("the `postfix` user exists (the postfix package creates it)");
        std::os::unix::fs::chown(&data, Some(postfix_uid), Some(postfix_gid)).unwrap();
        std::os::unix::fs::chown(&vmail, Some(VMAIL_UID), Some(VMAIL_UID)).unwrap();
        let vmailbox = config.join("vmailbox");
        let mut maps = String::new();
        for address in mailboxes {
            let local = address.rsplit_once('@').expect("an address").0;
            maps += &format!("{address} {domain}/{local}/\n");
        }
        std::fs::write(&vmailbox, maps).unwrap();
        let tls_settings = match tls {
            Some(tls) => format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\nsmtpd_tls_received_header = yes\n",
                tls.join("cert.pem").display(),
                tls.join("key.pem").display()
            ),
            None => "smtpd_tls_security_level = none\n".into(),
        };
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = mx.{domain}
mydomain = {domain}
myorigin = {domain}
mydestination =
local_recipient_maps =
inet_interfaces = all
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {vmail}
virtual_mailbox_maps = texthash:{vmailbox}
virtual_uid_maps = static:{VMAIL_UID}
virtual_gid_maps = static:{VMAIL_UID}
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtputf8_enable = yes
biff = no
# A foreign MX: it must not add or rewrite header fields of mail from us.
local_header_rewrite_clients =
{tls_settings}",
            queue = queue.display(),
            data = data.display(),
            root = root.display(),
            vmail = vmail.display(),
            vmailbox = vmailbox.display(),
        );
        std::fs::write(config.join("main.cf"), main_cf).unwrap();
        // No chroot (the temp dir is not set up as one), only the services this needs.
        let master_cf = format!(
            "{addr} inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
proxymap  unix - - n - - proxymap
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"
        );
        std::fs::write(config.join("master.cf"), master_cf).unwrap();
        let instance = Postfix { addr, dir, config };
        // `postfix start` runs `master -w`, which returns once the master listens; the master
        // detaches, so its output goes to a file rather than pipes nobody reads.
        let started = instance.postfix_command(&postfix, "start");
        if !started {
            panic!(
                "`postfix -c {} start` failed:\n{}",
                instance.config.display(),
                instance.log()
            );
        }
        if let Err(why) =
            appnet_testkit::wait_listening(instance.addr, Duration::from_secs(10), None)
        {
            panic!("Postfix {why}:\n{}", instance.log());
        }
        instance
    }

    fn postfix_command(&self, postfix: &Path, verb: &str) -> bool {
        let out_path = self.dir.path().join(format!("postfix-{verb}.out"));
        let out = std::fs::File::create(&out_path).unwrap();
        let mut child = Command::new(postfix)
            .arg("-c")
            .arg(&self.config)
            .arg(verb)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("run postfix");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Postfix's own log, and what the `postfix` command printed.
    pub fn log(&self) -> String {
        let mut log = String::new();
        for name in ["postfix-start.out", "maillog"] {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            log += &format!("--- {name}\n{text}\n");
        }
        log
    }

    /// The Maildir `new/` directory of `address`.
    pub fn new_dir(&self, address: &str) -> PathBuf {
        let (local, domain) = address.rsplit_once('@').expect("an address");
        self.dir
            .path()
            .join("vmail")
            .join(domain)
            .join(local)
            .join("new")
    }

    fn master_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).ok()?;
        text.trim().parse().ok()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let postfix = Path::new("/usr/sbin/postfix");
        let stopped = postfix.exists() && self.postfix_command(postfix, "stop");
        let Some(pid) = pid else { return };
        // `postfix stop` asks the master to end; make sure it did, by its own pid.
        let deadline = Instant::now() + Duration::from_secs(10);
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        while unsafe { libc::kill(pid, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; SIGKILL to the master this instance started.
        if unsafe { libc::kill(pid, 0) } == 0 {
            eprintln!("Postfix master {pid} still runs (stop ok: {stopped}); killing it");
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The uid and gid of `user` from /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}
