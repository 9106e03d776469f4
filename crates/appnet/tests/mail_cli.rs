//! End-to-end tests of `appnet mail serve|send|adduser` and the mail of `appnet up`, as users run
//! them: a message submitted with `mail send` lands in the Maildir, `adduser` edits the config
//! file a later `serve` logs users in from, the mini Internet relays alpha → beta by MX, and the
//! queue keeps every accepted message through `kill -9`.
//!
//! Every server is an [`Appnet`], which is killed when the test ends, pass or fail; one-shot
//! commands run under a timeout that kills them too.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use appnet_testkit::{Appnet, free_port_on, run_to_completion, up_config};

const APPNET: &str = env!("CARGO_BIN_EXE_appnet");
/// How long a one-shot command, a server's start or a delivery may take (debug build, shared
/// machine).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs appnet with `args` to completion, killing it if it takes longer than [`TIMEOUT`].
fn appnet(args: &[&str]) -> Output {
    run_to_completion(Command::new(APPNET).args(args), b"", TIMEOUT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Starts a serving appnet command; returns it with its start-up lines (the table included)
/// once it says its services run.
fn start(args: &[&str]) -> (Appnet, Vec<String>) {
    let server = Appnet::spawn(APPNET, args);
    let lines = server.wait_for_line("service(s) running", TIMEOUT);
    (server, lines)
}

/// The address in the table row of service `name` (e.g. "smtp alpha.example").
fn address_of(lines: &[String], name: &str) -> SocketAddr {
    lines
        .iter()
        .find(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' '))
        })
        .and_then(|row| row.split_whitespace().find_map(|word| word.parse().ok()))
        .unwrap_or_else(|| panic!("no row for {name:?} with an address in {lines:#?}"))
}

/// `appnet mail serve` in the quick form, on a free loopback port.
fn mail_serve(extra: &[&str]) -> (Appnet, SocketAddr, Vec<String>) {
    let mut args = vec!["mail", "serve", "--smtp", "127.0.0.1:0"];
    args.extend(extra);
    let (server, lines) = start(&args);
    let row = lines
        .iter()
        .find(|l| l.starts_with("smtp "))
        .unwrap_or_else(|| panic!("no smtp row in {lines:#?}"))
        .split("  ")
        .next()
        .unwrap()
        .to_string();
    let addr = address_of(&lines, &row);
    (server, addr, lines)
}

/// The files in `dir` (none if it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until `dir` holds at least `n` files, at most [`TIMEOUT`]; returns them.
fn wait_for_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let files = files_in(dir);
        if files.len() >= n {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {} file(s), not {n}, after {TIMEOUT:?}",
            dir.display(),
            files.len()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn read_text(path: &Path) -> String {
    text(&std::fs::read(path).unwrap())
}

/// The value of header field `name` in a stored message (first occurrence, unfolded).
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// A raw SMTP connection, for checks the CLI does not make (AUTH verdicts) and for submitting
/// many messages quickly.
struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    fn connect(addr: SocketAddr) -> Smtp {
        let stream = TcpStream::connect(addr).expect("connect to the mail server");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut smtp = Smtp {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        assert_eq!(smtp.reply().0, 220);
        assert_eq!(smtp.command("EHLO test.example").0, 250);
        smtp
    }

    /// The code and the last line of the next reply.
    fn reply(&mut self) -> (u16, String) {
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read a reply");
            assert!(n > 0, "the server closed the connection");
            let code = line[..3].parse().expect("a reply code");
            if line.as_bytes()[3] == b' ' {
                return (code, line.trim_end().to_string());
            }
        }
    }

    fn command(&mut self, line: &str) -> (u16, String) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    fn auth(&mut self, user: &str, password: &str) -> (u16, String) {
        let plain = base64_encode(format!("\0{user}\0{password}"));
        self.command(&format!("AUTH PLAIN {plain}"))
    }

    /// One whole transaction; panics unless every step is accepted.
    fn send(&mut self, from: &str, to: &str, subject: &str) {
        assert_eq!(self.command(&format!("MAIL FROM:<{from}>")).0, 250);
        let rcpt = self.command(&format!("RCPT TO:<{to}>"));
        assert_eq!(rcpt.0, 250, "{rcpt:?}");
        assert_eq!(self.command("DATA").0, 354);
        let data = self.command(&format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nhello\r\n."
        ));
        assert_eq!(data.0, 250, "{data:?}");
    }
}

/// A loopback port free for UDP and TCP: nothing listens on it until we start something there.
fn free_port() -> u16 {
    free_port_on(&["127.0.0.1".parse().unwrap()])
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// RFC 4648 base64 (this crate does not depend on a base64 library, and these tests must not
/// check appnet's encoder with appnet's own decoder).
fn base64_encode(text: impl AsRef<[u8]>) -> String {
    let mut out = String::new();
    for chunk in text.as_ref().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = BASE64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// --- serve and send ---------------------------------------------------------------------------

#[test]
fn base64_helpers_follow_rfc_4648() {
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64_encode(plain), encoded);
        assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
    }
}

#[test]
fn mail_send_to_mail_serve_lands_in_the_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let (_server, addr, _) = mail_serve(&[
        "--domain",
        "beta.example",
        "--user",
        "bob:pw",
        "--maildir",
        maildir.to_str().unwrap(),
    ]);
    let out = appnet(&[
        "mail",
        "send",
        "--server",
        &addr.to_string(),
        "--from",
        "bob@beta.example",
        "--password",
        "pw",
        "--to",
        "bob@beta.example",
        "--subject",
        "hi",
        "--body",
        "hello",
    ]);
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("bob@beta.example: accepted: 250"),
        "{}",
        text(&out.stdout)
    );
    let files = wait_for_files(&maildir.join("beta.example/bob/new"), 1);
    assert_eq!(files.len(), 1);
    let message = read_text(&files[0]);
    assert_eq!(header(&message, "Subject").as_deref(), Some("hi"));
    assert_eq!(
        header(&message, "Return-Path").as_deref(),
        Some("<bob@beta.example>")
    );
    // Submitted over STARTTLS with AUTH (RFC 3848: ESMTPSA).
    let received = header(&message, "Received").unwrap();
    assert!(received.contains("with ESMTPSA"), "{received}");
    assert!(message.contains("hello"), "{message}");

    // A wrong password: refused, exit 1 or 2, nothing delivered.
    let out = appnet(&[
        "mail",
        "send",
        "--server",
        &addr.to_string(),
        "--from",
        "bob@beta.example",
        "--password",
        "wrong",
        "--to",
        "bob@beta.example",
        "--subject",
        "nope",
        "--body",
        "nope",
    ]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(files_in(&maildir.join("beta.example/bob/new")).len(), 1);
}

/// Decodes the RFC 2047 encoded-words of a header value (B and Q, UTF-8 only); white space
/// between adjacent encoded-words is dropped (§6.2).
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut last_was_word = false;
    for token in value.split_inclusive([' ', '\t']) {
        let word = token.trim_end_matches([' ', '\t']);
        let space = &token[word.len()..];
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|inner| {
                let mut parts = inner.splitn(3, '?');
                let charset = parts.next()?;
                let encoding = parts.next()?;
                let text = parts.next()?;
                assert!(charset.eq_ignore_ascii_case("utf-8"), "charset {charset}");
                let bytes = match encoding {
                    "B" | "b" => base64_decode(text)?,
                    "Q" | "q" => {
                        let mut bytes = Vec::new();
                        let mut chars = text.bytes();
                        while let Some(b) = chars.next() {
                            match b {
                                b'_' => bytes.push(b' '),
                                b'=' => {
                                    let hex = [chars.next()?, chars.next()?];
                                    let hex = std::str::from_utf8(&hex).ok()?;
                                    bytes.push(u8::from_str_radix(hex, 16).ok()?);
                                }
                                _ => bytes.push(b),
                            }
                        }
                        bytes
                    }
                    _ => return None,
                };
                Some(bytes)
            });
        match decoded {
            Some(bytes) => {
                if !last_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&String::from_utf8(bytes).expect("encoded-words of whole characters"));
                last_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(word);
                last_was_word = false;
            }
        }
        pending_space = space.to_string();
    }
    out
}

#[test]
fn dry_run_prints_mime_with_an_encoded_korean_subject() {
    let subject = "안녕하세요, 메일 시험입니다 — 한국어 제목이 아주 길어서 여러 줄로 접혀야 합니다";
    let body = "본문입니다.\n두 번째 줄.\n";
    let out = appnet(&[
        "mail",
        "send",
        "--dry-run",
        "--from",
        "앨리스 <alice@alpha.example>",
        "--to",
        "bob@beta.example",
        "--subject",
        subject,
        "--body",
        body,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let message = text(&out.stdout);
    let head = message.split("\r\n\r\n").next().unwrap();
    // The header is 7-bit and its lines are at most 78 characters (RFC 5322 §2.1.1).
    for line in head.split("\r\n") {
        assert!(line.is_ascii(), "non-ASCII header line {line:?}");
        assert!(
            line.len() <= 78,
            "header line of {} characters: {line:?}",
            line.len()
        );
    }
    for field in [
        "Date",
        "From",
        "To",
        "Subject",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
    ] {
        assert!(
            header(&message, field).is_some(),
            "no {field} in\n{message}"
        );
    }
    assert_eq!(header(&message, "MIME-Version").as_deref(), Some("1.0"));
    let content_type = header(&message, "Content-Type")
        .unwrap()
        .to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(content_type.contains("charset=utf-8"), "{content_type}");
    let encoded = header(&message, "Subject").unwrap();
    assert!(encoded.starts_with("=?"), "not an encoded-word: {encoded}");
    assert_eq!(decode_encoded_words(&encoded), subject);
    let from = header(&message, "From").unwrap();
    assert!(from.ends_with("<alice@alpha.example>"), "{from}");
    assert_eq!(
        decode_encoded_words(from.trim_end_matches("<alice@alpha.example>").trim()),
        "앨리스"
    );
    // The body in its transfer encoding decodes to the text, in CRLF lines.
    let encoding = header(&message, "Content-Transfer-Encoding").unwrap_or_default();
    let raw_body = &message[head.len() + 4..];
    let decoded = match encoding.to_ascii_lowercase().as_str() {
        "base64" => text(&base64_decode(&raw_body.replace("\r\n", "")).expect("a base64 body")),
        "8bit" | "" => raw_body.to_string(),
        other => panic!("unexpected transfer encoding {other}"),
    };
    assert_eq!(decoded.replace("\r\n", "\n"), body);
}

// --- adduser and serving from the config file -------------------------------------------------

#[test]
fn adduser_writes_a_hash_under_its_domain_and_serve_logs_the_user_in() {
    let dir = tempfile::tempdir().unwrap();
    let (beta_port, gamma_port) = (free_port(), free_port());
    let config = dir.path().join("appnet.toml");
    let maildir = dir.path().join("mail");
    std::fs::write(
        &config,
        format!(
            "# our mail servers\n\
             [[mail.servers]]\n\
             hostname = \"mail.gamma.example\"\n\
             domains = [\"gamma.example\"]\n\
             smtp = \"127.0.0.1:{gamma_port}\"\n\
             maildir = \"{maildir}\"\n\
             queue = \"{queue_g}\"\n\
             \n\
             [[mail.servers]]\n\
             hostname = \"mail.beta.example\"   # the one carol belongs to\n\
             domains = [\"Beta.Example\"]\n\
             smtp = \"127.0.0.1:{beta_port}\"\n\
             maildir = \"{maildir}\"\n\
             queue = \"{queue_b}\"\n",
            maildir = maildir.display(),
            queue_g = dir.path().join("queue-gamma").display(),
            queue_b = dir.path().join("queue-beta").display(),
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let out = appnet(&[
        "--config",
        config_arg,
        "mail",
        "adduser",
        "carol@beta.example",
        "--password",
        "pw",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The file keeps its comments; carol is under beta's server, with an argon2 hash.
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("# our mail servers"), "{written}");
    assert!(written.contains("# the one carol belongs to"), "{written}");
    assert!(
        !written.contains("\"pw\""),
        "the password is stored in clear:\n{written}"
    );
    let doc: toml_edit::DocumentMut = written.parse().unwrap();
    let servers = doc["mail"]["servers"].as_array_of_tables().unwrap();
    assert!(servers.get(0).unwrap().get("users").is_none(), "{written}");
    let users = servers.get(1).unwrap()["users"]
        .as_array_of_tables()
        .unwrap();
    assert_eq!(users.len(), 1);
    let carol = users.get(0).unwrap();
    assert_eq!(carol["address"].as_str(), Some("carol@beta.example"));
    let hash = carol["password"].as_str().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let mut accounts = appnet_mail::accounts::Accounts::default();
    accounts.insert("carol@beta.example", hash);
    assert!(accounts.verify("carol@beta.example", "pw").is_some());
    assert!(accounts.verify("carol@beta.example", "wrong").is_none());

    // Twice is refused and leaves the file as it was; so is a domain no server keeps.
    let out = appnet(&[
        "--config",
        config_arg,
        "mail",
        "adduser",
        "carol@beta.example",
        "--password",
        "x",
    ]);
    assert!(!out.status.success());
    let out = appnet(&[
        "--config",
        config_arg,
        "mail",
        "adduser",
        "dan@delta.example",
        "--password",
        "x",
    ]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);

    // `mail serve` from the file: both servers, and carol logs in on beta's.
    let (_server, lines) = start(&["--config", config_arg, "mail", "serve"]);
    let beta = address_of(&lines, "smtp Beta.Example");
    assert_eq!(beta.port(), beta_port);
    assert_eq!(address_of(&lines, "smtp gamma.example").port(), gamma_port);
    let mut smtp = Smtp::connect(beta);
    assert_eq!(smtp.auth("carol@beta.example", "wrong").0, 535);
    assert_eq!(smtp.auth("carol@beta.example", "pw").0, 235);
    // On gamma's server carol has no account.
    let mut gamma = Smtp::connect(address_of(&lines, "smtp gamma.example"));
    assert_eq!(gamma.auth("carol@beta.example", "pw").0, 535);

    // And `mail send` as carol, to herself, is delivered.
    let out = appnet(&[
        "mail",
        "send",
        "--server",
        &beta.to_string(),
        "--from",
        "carol@beta.example",
        "--password",
        "pw",
        "--to",
        "carol@beta.example",
        "--subject",
        "from the config",
        "--body",
        "hi",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let files = wait_for_files(&maildir.join("beta.example/carol/new"), 1);
    assert_eq!(
        header(&read_text(&files[0]), "Subject").as_deref(),
        Some("from the config")
    );
}

// --- the mini Internet ------------------------------------------------------------------------

#[test]
fn up_relays_alice_to_bob_by_mx_through_the_mini_resolver() {
    let dir = tempfile::tempdir().unwrap();
    let config_text = up_config();
    let up_dir: PathBuf = config_text
        .split("\n[")
        .find(|section| section.starts_with("mail]"))
        .and_then(|mail| mail.lines().find_map(|line| line.strip_prefix("up_dir = ")))
        .map(|quoted| PathBuf::from(quoted.trim_matches('"')))
        .expect("up_config sets [mail] up_dir");
    let config = dir.path().join("up.toml");
    std::fs::write(&config, &config_text).unwrap();
    // up_dir is not under our temporary directory: remove it when done, pass or fail.
    struct RemoveOnDrop(PathBuf);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = RemoveOnDrop(up_dir.clone());

    let (up, lines) = start(&["--config", config.to_str().unwrap(), "up"]);
    let alpha = address_of(&lines, "smtp alpha.example");
    let beta = address_of(&lines, "smtp beta.example");
    assert_eq!(alpha.ip().to_string(), "127.0.0.21");
    assert_eq!(beta.ip().to_string(), "127.0.0.22");

    let out = appnet(&[
        "mail",
        "send",
        "--server",
        &alpha.to_string(),
        "--from",
        "alice@alpha.example",
        "--password",
        "alice",
        "--to",
        "bob@beta.example",
        "--subject",
        "across the mini Internet",
        "--body",
        "hello bob",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let inbox = up_dir.join("maildir/beta.example/bob/new");
    let files = wait_for_files(&inbox, 1);
    let message = read_text(&files[0]);
    assert_eq!(
        header(&message, "Subject").as_deref(),
        Some("across the mini Internet")
    );
    // Two hops, newest first: beta received it from alpha's address, alpha from the user.
    let head = message
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n\t", " ");
    let received: Vec<&str> = head
        .lines()
        .filter(|l| l.starts_with("Received:"))
        .collect();
    assert_eq!(received.len(), 2, "{head}");
    assert!(
        received[0].contains("([127.0.0.21])") && received[0].contains("by mail.beta.example"),
        "{}",
        received[0]
    );
    assert!(
        received[1].contains("by mail.alpha.example"),
        "{}",
        received[1]
    );
    assert_eq!(
        header(&message, "Return-Path").as_deref(),
        Some("<alice@alpha.example>")
    );
    // Nothing is left in alice's server's queue to deliver twice.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(files_in(&inbox).len(), 1);
    drop(up);
}

// --- durability ---------------------------------------------------------------------------------

/// `kill -9`, then the same command again; returns the new server and its start-up lines.
fn kill_9_and_restart(server: Appnet, args: &[&str]) -> (Appnet, Vec<String>) {
    let mut server = server;
    server.signal(libc::SIGKILL);
    // wait_exit reaps it; None because it died by a signal.
    assert_eq!(server.wait_exit(TIMEOUT), None);
    drop(server);
    start(args)
}

fn recovered_line(lines: &[String]) -> Option<&String> {
    lines.iter().find(|l| l.contains("recovered"))
}

#[test]
fn kill_9_keeps_every_accepted_message_queued() {
    // Mail for a foreign domain, with the resolver on a port nobody answers: every relay
    // attempt fails temporarily (451 4.4.3), so the messages stay in the queue (the next retry
    // is a minute away).
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let queue = dir.path().join("queue");
    let resolver = format!("127.0.0.1:{}", free_port());
    let relay_port = free_port().to_string();
    let args = [
        "mail",
        "serve",
        "--domain",
        "alpha.example",
        "--user",
        "alice:pw",
        "--maildir",
        maildir.to_str().unwrap(),
        "--queue",
        queue.to_str().unwrap(),
        "--smtp",
        "127.0.0.1:0",
        "--resolver",
        &resolver,
        "--relay-port",
        &relay_port,
    ];
    let (server, lines) = start(&args);
    assert!(recovered_line(&lines).is_none(), "{lines:#?}");
    let addr = address_of(&lines, "smtp alpha.example");
    const N: usize = 20;
    let mut smtp = Smtp::connect(addr);
    assert_eq!(smtp.auth("alice@alpha.example", "pw").0, 235);
    for n in 0..N {
        // Each 250 comes only after the message is on disk.
        smtp.send(
            "alice@alpha.example",
            &format!("friend{n}@gamma.example"),
            &format!("queued {n}"),
        );
    }
    drop(smtp);

    let (server, lines) = kill_9_and_restart(server, &args);
    assert_eq!(
        recovered_line(&lines).map(String::as_str),
        Some(format!("smtp alpha.example: {N} queued message(s) recovered").as_str()),
        "{lines:#?}"
    );
    // Again, straight after the recovery rewrote the journal: still all there.
    let (server, lines) = kill_9_and_restart(server, &args);
    assert_eq!(
        recovered_line(&lines).map(String::as_str),
        Some(format!("smtp alpha.example: {N} queued message(s) recovered").as_str()),
        "{lines:#?}"
    );
    // None was bounced to alice or delivered anywhere.
    assert!(files_in(&maildir.join("alpha.example/alice/new")).is_empty());
    drop(server);
}

/// The exactly-once test. Design: the messages go to a local user, and local delivery is made
/// to fail temporarily by putting a regular *file* where the domain's Maildir directory must be
/// (`DIR/alpha.example`). `chmod 0500` would not do: the tests run as root, which writes through
/// any mode; but no user can create a directory inside a file (ENOTDIR), so each delivery
/// attempt fails with 451 and the message stays queued (the next retry is a minute away).
/// Then: `kill -9` with all twenty queued and undelivered; remove the file; restart on the same
/// queue. The restarted server must say it recovered twenty, deliver each exactly once, and —
/// killed with -9 again after they are delivered — recover none and deliver nothing again.
#[test]
fn kill_9_then_restart_delivers_each_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let queue = dir.path().join("queue");
    std::fs::create_dir_all(&maildir).unwrap();
    let blocker = maildir.join("alpha.example");
    std::fs::write(&blocker, "not a directory").unwrap();
    let resolver = format!("127.0.0.1:{}", free_port());
    let args = [
        "mail",
        "serve",
        "--domain",
        "alpha.example",
        "--user",
        "alice:pw",
        "--maildir",
        maildir.to_str().unwrap(),
        "--queue",
        queue.to_str().unwrap(),
        "--smtp",
        "127.0.0.1:0",
        "--resolver",
        &resolver,
    ];
    let (server, lines) = start(&args);
    let addr = address_of(&lines, "smtp alpha.example");
    const N: usize = 20;
    let mut smtp = Smtp::connect(addr);
    for n in 0..N {
        smtp.send(
            "sender@elsewhere.example",
            "alice@alpha.example",
            &format!("durable {n}"),
        );
    }
    assert_eq!(smtp.command("QUIT").0, 221);
    // Let every first delivery attempt run (and fail) before the kill.
    std::thread::sleep(Duration::from_millis(500));
    assert!(blocker.is_file(), "the blocker was replaced");

    let mut server = server;
    server.signal(libc::SIGKILL);
    assert_eq!(server.wait_exit(TIMEOUT), None);
    drop(server);
    std::fs::remove_file(&blocker).unwrap();
    let (server, lines) = start(&args);
    assert_eq!(
        recovered_line(&lines).map(String::as_str),
        Some(format!("smtp alpha.example: {N} queued message(s) recovered").as_str()),
        "{lines:#?}"
    );
    let inbox = maildir.join("alpha.example/alice/new");
    wait_for_files(&inbox, N);
    // Each delivery is recorded in the journal right after its Maildir file is in place; give
    // the last records time to reach the disk before killing again, and any duplicate time to
    // appear.
    std::thread::sleep(Duration::from_millis(1500));
    let subjects = |inbox: &Path| {
        let mut subjects: Vec<String> = files_in(inbox)
            .iter()
            .map(|p| header(&read_text(p), "Subject").unwrap_or_default())
            .collect();
        subjects.sort();
        subjects
    };
    let mut expected: Vec<String> = (0..N).map(|n| format!("durable {n}")).collect();
    expected.sort();
    assert_eq!(subjects(&inbox), expected);

    let (server, lines) = kill_9_and_restart(server, &args);
    assert!(
        recovered_line(&lines).is_none(),
        "delivered messages came back: {lines:#?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(subjects(&inbox), expected);
    assert!(files_in(&maildir.join("alpha.example/alice/tmp")).is_empty());
    drop(server);
}
