//! What the hostile-input tests share: an in-process mail server on a loopback port with its own
//! temporary Maildir and queue, a raw SMTP client that writes exactly the bytes a test gives it
//! (no normalisation, no pipelining rules), and helpers that count what reached the mailboxes.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::Tracer;
use appnet_mail::accounts::hash_password;
use appnet_mail::config::{MailServerConfig, UserConfig};
use appnet_mail::server::{Listeners, MailServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

pub const DOMAIN: &str = "beta.example";
pub const PASSWORD: &str = "pw";
/// The accounts of every test server (all with [`PASSWORD`]).
pub const USERS: [&str; 4] = ["bob", "carol", "dave", "erin"];
/// How long any single reply may take. Generous: the machine is shared and the build is debug.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// The argon2 hash of [`PASSWORD`], made once: hashing is slow on purpose.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD))
}

/// A server for beta.example with the [`USERS`], storing under `root`. Relaying is pointed at
/// a resolver port nobody listens on, so no test can send mail anywhere by accident.
pub fn config(root: &Path) -> MailServerConfig {
    MailServerConfig {
        hostname: format!("mail.{DOMAIN}"),
        domains: vec![DOMAIN.into()],
        smtp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        maildir: root.join("maildir"),
        queue: root.join("queue"),
        users: USERS
            .iter()
            .map(|user| UserConfig {
                address: format!("{user}@{DOMAIN}"),
                password: password_hash().to_string(),
            })
            .collect(),
        resolver: SocketAddr::from(([127, 0, 0, 1], 9)),
        relay_port: 9,
        ..MailServerConfig::default()
    }
}

/// A running in-process server and the temporary directory it stores in.
pub struct TestServer {
    pub addr: SocketAddr,
    pub config: MailServerConfig,
    /// How many queued messages the server recovered when it opened its queue.
    pub recovered: usize,
    shutdown: Shutdown,
    task: Option<JoinHandle<io::Result<()>>>,
    pub dir: Arc<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh server with the default test [`config`].
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A fresh server whose config `adjust` may change.
    pub async fn start_with(adjust: impl FnOnce(&mut MailServerConfig)) -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let mut config = config(dir.path());
        adjust(&mut config);
        Self::open(config, None, dir).await
    }

    /// Opens `config`'s queue (waiting for a previous server on it to let go of its lock) and
    /// serves on a new loopback port.
    pub async fn open(
        config: MailServerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        dir: Arc<tempfile::TempDir>,
    ) -> TestServer {
        let deadline = Instant::now() + Duration::from_secs(10);
        let server = loop {
            match MailServer::open(&config, tls.clone(), Tracer::off()) {
                Ok(server) => break server,
                Err(err) if Instant::now() < deadline => {
                    let _ = err;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(err) => panic!("cannot open the mail server: {err}"),
            }
        };
        let recovered = server.recovered();
        let listener = tokio::net::TcpListener::bind(config.smtp.expect("an smtp address"))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the listener's address");
        let shutdown = Shutdown::new();
        let task = tokio::spawn(server.run(Listeners::smtp(listener), shutdown.clone()));
        TestServer {
            addr,
            config,
            recovered,
            shutdown,
            task: Some(task),
            dir,
        }
    }

    /// Stops the server and waits for it; the directory stays for a restart.
    pub async fn stop(mut self) -> (MailServerConfig, Arc<tempfile::TempDir>) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the server stops within 10 s")
                .expect("the server task does not panic");
            result.expect("the server ends without an error");
        }
        (self.config.clone(), self.dir.clone())
    }

    /// The Maildir of `user`@beta.example.
    pub fn mailbox(&self, user: &str) -> PathBuf {
        self.config.maildir.join(DOMAIN).join(user)
    }

    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One SMTP reply: its code and its lines' texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// The code with the enhanced status code when the reply has one: `"250 2.1.0"`, `"354"`.
    pub fn status(&self) -> String {
        let last = self.lines.last().map(String::as_str).unwrap_or_default();
        let first_word = last.split(' ').next().unwrap_or_default();
        let class = self.code / 100;
        let enhanced = first_word.split('.').count() == 3
            && first_word.starts_with(&class.to_string())
            && first_word.chars().all(|c| c.is_ascii_digit() || c == '.');
        if enhanced {
            format!("{} {first_word}", self.code)
        } else {
            self.code.to_string()
        }
    }
}

/// A raw SMTP client: what it writes is exactly what the test says.
pub struct Client {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    /// The 220 greeting.
    pub greeting: Reply,
}

impl Client {
    /// Connects and reads the greeting.
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (read, write) = stream.into_split();
        let mut client = Client {
            reader: BufReader::new(read),
            writer: write,
            greeting: Reply {
                code: 0,
                lines: Vec::new(),
            },
        };
        client.greeting = client.reply().await;
        assert_eq!(client.greeting.code, 220, "greeting: {:?}", client.greeting);
        client
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.writer
            .write_all(bytes.as_ref())
            .await
            .expect("write to the server");
    }

    /// The next reply; panics if the connection closes first or nothing comes in time.
    pub async fn reply(&mut self) -> Reply {
        match self.try_reply().await {
            Some(reply) => reply,
            None => panic!("the server closed the connection instead of replying"),
        }
    }

    /// The next reply, or `None` if the connection ended.
    pub async fn try_reply(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            let read =
                tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_until(b'\n', &mut line))
                    .await
                    .expect("a reply within the timeout");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let text = String::from_utf8(line).expect("replies are UTF-8");
            assert!(
                text.ends_with("\r\n"),
                "a reply line ends in CRLF: {text:?}"
            );
            let text = text.trim_end_matches("\r\n");
            let code: u16 = text
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not a reply line: {text:?}"));
            let separator = text.as_bytes().get(3).copied().unwrap_or(b' ');
            lines.push(text.get(4..).unwrap_or_default().to_string());
            match separator {
                b' ' => return Some(Reply { code, lines }),
                b'-' => continue,
                _ => panic!("not a reply line: {text:?}"),
            }
        }
    }

    /// Sends one command line (CRLF added) and returns its reply.
    pub async fn command(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n")).await;
        self.reply().await
    }

    /// The statuses of the next `n` replies.
    pub async fn statuses(&mut self, n: usize) -> Vec<String> {
        let mut statuses = Vec::with_capacity(n);
        for _ in 0..n {
            statuses.push(self.reply().await.status());
        }
        statuses
    }

    /// True if the server sends nothing at all for `quiet`.
    pub async fn is_silent_for(&mut self, quiet: Duration) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        tokio::time::timeout(quiet, self.reader.fill_buf())
            .await
            .is_err()
    }

    /// True if the server closes the connection (EOF or reset) within the reply timeout,
    /// sending nothing more.
    pub async fn is_closed_by_server(&mut self) -> bool {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(REPLY_TIMEOUT, self.reader.read_until(b'\n', &mut rest))
            .await
            .expect("the server closes or replies within the timeout");
        matches!(read, Ok(0) | Err(_))
    }

    /// EHLO, then MAIL FROM and RCPT TO each recipient, then DATA: every reply checked.
    pub async fn begin(&mut self, from: &str, rcpts: &[&str]) {
        let ehlo = self.command("EHLO client.example").await;
        assert_eq!(ehlo.code, 250, "{ehlo:?}");
        self.begin_transaction(from, rcpts).await;
    }

    /// MAIL FROM, RCPT TO each recipient, DATA; every reply checked.
    pub async fn begin_transaction(&mut self, from: &str, rcpts: &[&str]) {
        let mail = self.command(&format!("MAIL FROM:<{from}>")).await;
        assert_eq!(mail.status(), "250 2.1.0", "{mail:?}");
        for rcpt in rcpts {
            let reply = self.command(&format!("RCPT TO:<{rcpt}>")).await;
            assert_eq!(reply.status(), "250 2.1.5", "RCPT TO:<{rcpt}>: {reply:?}");
        }
        let data = self.command("DATA").await;
        assert_eq!(data.code, 354, "{data:?}");
    }

    /// A whole transaction for a small message with `subject`; returns the final reply.
    pub async fn send_message(&mut self, from: &str, rcpt: &str, subject: &str) -> Reply {
        self.begin_transaction(from, &[rcpt]).await;
        self.send(format!(
            "From: <{from}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n\r\nHello.\r\n.\r\n"
        ))
        .await;
        self.reply().await
    }
}

/// A valid local address of the test domain.
pub fn local(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// The files in `dir` (none if it does not exist).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(err) => panic!("cannot list {}: {err}", dir.display()),
    }
}

/// Every file in every mailbox under the server's Maildir root (new/, cur/ and tmp/).
pub fn all_mailbox_files(maildir_root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![maildir_root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Waits until `dir` holds at least `n` files, at most `timeout`; returns them.
pub async fn wait_for_files(dir: &Path, n: usize, timeout: Duration) -> Vec<PathBuf> {
    let deadline = Instant::now() + timeout;
    loop {
        let files = files_in(dir);
        if files.len() >= n {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {} file(s), not {n}, after {timeout:?}",
            dir.display(),
            files.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Subject field of a delivered message file.
pub fn subject_of(path: &Path) -> String {
    let text = std::fs::read(path).expect("read a delivered message");
    let text = String::from_utf8_lossy(&text);
    text.lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}
