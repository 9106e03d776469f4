//! Hostile input over real TCP sockets against the in-process mail server: broken line endings,
//! SMTP smuggling, NUL bytes and invalid UTF-8, over-long lines, clients that vanish mid-message,
//! huge messages, limits, relay abuse, STARTTLS command injection, floods of concurrent clients
//! and pipelining. Every test starts a fresh server with its own temporary Maildir and queue.
//!
//! Where a test must show that nothing was delivered it sends a valid "sentinel" message after
//! the bad one and waits for that to arrive: the delivery loop has then had every chance to
//! deliver the bad one too. Where it must show that nothing was queued it restarts the server on
//! the same queue and checks that nothing was recovered.

#[path = "hostile/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a delivery that should happen may take.
const DELIVERY: Duration = Duration::from_secs(30);

/// Sends a sentinel message on a new connection, waits until it is in bob's `new/`, lets the
/// delivery loop run a little longer, and returns the subjects of everything in bob's `new/`.
async fn subjects_after_sentinel(server: &TestServer) -> Vec<String> {
    let mut client = server.connect().await;
    assert_eq!(client.command("EHLO sentinel.example").await.code, 250);
    let reply = client
        .send_message("sender@client.example", &local("bob"), "sentinel")
        .await;
    assert_eq!(reply.status(), "250 2.0.0", "{reply:?}");
    let new = server.mailbox("bob").join("new");
    let deadline = Instant::now() + DELIVERY;
    loop {
        let subjects: Vec<String> = files_in(&new).iter().map(|p| subject_of(p)).collect();
        if subjects.iter().any(|s| s == "sentinel") {
            // Deliveries run in parallel: give one that started with the sentinel time to land.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut subjects: Vec<String> = files_in(&new).iter().map(|p| subject_of(p)).collect();
            subjects.sort();
            return subjects;
        }
        assert!(Instant::now() < deadline, "the sentinel was not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// --- Line endings and SMTP smuggling -------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_lf_ends_commands_and_the_message_is_delivered() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client
        .send("EHLO lf.example\nMAIL FROM:<a@client.example>\nRCPT TO:<bob@beta.example>\nDATA\n")
        .await;
    let ehlo = client.reply().await;
    assert_eq!(ehlo.code, 250);
    assert_eq!(client.statuses(3).await, ["250 2.1.0", "250 2.1.5", "354"]);
    client
        .send("Subject: bare lf commands\r\n\r\nbody\r\n.\r\n")
        .await;
    assert_eq!(client.reply().await.status(), "250 2.0.0");
    assert_eq!(client.command("NOOP").await.status(), "250 2.0.0");
    let files = wait_for_files(&server.mailbox("bob").join("new"), 1, DELIVERY).await;
    assert_eq!(subject_of(&files[0]), "bare lf commands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_lf_inside_data_refuses_the_message() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.begin("a@client.example", &[&local("bob")]).await;
    client
        .send("Subject: bare lf\r\n\r\nline one\nline two\r\n.\r\n")
        .await;
    assert_eq!(client.reply().await.status(), "550 5.6.11");
    // The session goes on.
    assert_eq!(client.command("NOOP").await.status(), "250 2.0.0");
    // A bare CR is refused the same way.
    client
        .begin_transaction("a@client.example", &[&local("bob")])
        .await;
    client.send("Subject: bare cr\r\n\r\nx\ry\r\n.\r\n").await;
    assert_eq!(client.reply().await.status(), "550 5.6.11");
    assert_eq!(subjects_after_sentinel(&server).await, ["sentinel"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_end_of_data_neither_ends_the_message_nor_starts_another() {
    let server = TestServer::start().await;
    for smuggle in ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r"] {
        let mut client = server.connect().await;
        client.begin("a@client.example", &[&local("bob")]).await;
        // One write, as a smuggling relay would forward it.
        client
            .send(format!(
                "Subject: outer\r\n\r\nbody{smuggle}MAIL FROM:<evil@attacker.example>\r\n\
                 RCPT TO:<carol@beta.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n\
                 NOOP\r\n"
            ))
            .await;
        // One reply for the whole thing (the refusal), then the NOOP's: no 250 2.1.0 for a
        // smuggled MAIL, no 354, no second message.
        assert_eq!(
            client.statuses(2).await,
            ["550 5.6.11", "250 2.0.0"],
            "{smuggle:?}"
        );
        assert!(
            client.is_silent_for(Duration::from_millis(200)).await,
            "{smuggle:?}: more replies than commands"
        );
    }
    assert_eq!(subjects_after_sentinel(&server).await, ["sentinel"]);
    assert!(files_in(&server.mailbox("carol").join("new")).is_empty());
}

// --- Bytes that are not text ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_and_invalid_utf8_are_500_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.send(b"EHLO nul\0.example\r\n").await;
    assert_eq!(client.reply().await.code, 500);
    client.send(b"NO\0OP\r\n").await;
    assert_eq!(client.reply().await.code, 500);
    client.send(b"\0\0\0\0\r\n").await;
    assert_eq!(client.reply().await.code, 500);
    client.send(b"HELO \xff\xfe\xc3\x28\r\n").await;
    assert_eq!(client.reply().await.status(), "500 5.5.2");
    assert_eq!(client.command("EHLO ok.example").await.code, 250);
    client.send(b"MAIL FROM:<\xffa@client.example>\r\n").await;
    assert_eq!(client.reply().await.code, 500);
    client.send(b"MAIL FROM:<a@client.example>\0\r\n").await;
    assert_eq!(client.reply().await.code, 500);
    // None of that started a transaction, and a good one still works on this connection.
    assert_eq!(
        client.command("RCPT TO:<bob@beta.example>").await.status(),
        "503 5.5.1"
    );
    let reply = client
        .send_message("a@client.example", &local("bob"), "after garbage")
        .await;
    assert_eq!(reply.status(), "250 2.0.0");
    wait_for_files(&server.mailbox("bob").join("new"), 1, DELIVERY).await;
}

// --- Long lines -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_kib_command_line_is_500_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    assert_eq!(client.command("EHLO long.example").await.code, 250);
    // 100 KiB without a line end, in pieces, then the line end.
    let chunk = vec![b'A'; 4096];
    for _ in 0..25 {
        client.send(&chunk).await;
    }
    assert!(
        client.is_silent_for(Duration::from_millis(100)).await,
        "no reply before the line ends"
    );
    client.send("\r\n").await;
    assert_eq!(client.reply().await.status(), "500 5.5.6");
    // The same in one write, with a command right behind it in the same write.
    let mut line = vec![b'M'; 100 * 1024];
    line.extend_from_slice(b"\r\nNOOP\r\n");
    client.send(&line).await;
    assert_eq!(client.statuses(2).await, ["500 5.5.6", "250 2.0.0"]);
    // The tail of the long line was not taken for a command, and the session works.
    let reply = client
        .send_message("a@client.example", &local("bob"), "after a long line")
        .await;
    assert_eq!(reply.status(), "250 2.0.0");
    // Just under the limit (510 octets + CRLF) is a line, not an error of length.
    let noop = format!("NOOP {}", "x".repeat(505));
    assert_eq!(noop.len() + 2, 512);
    assert_eq!(client.command(&noop).await.status(), "250 2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2000_byte_line_in_data_refuses_the_message() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.begin("a@client.example", &[&local("bob")]).await;
    client
        .send(format!(
            "Subject: long line\r\n\r\n{}\r\nshort\r\n.\r\n",
            "z".repeat(2000)
        ))
        .await;
    let reply = client.reply().await;
    assert_eq!(reply.status(), "500 5.5.6", "{reply:?}");
    assert_eq!(client.command("NOOP").await.status(), "250 2.0.0");
    // 998 octets + CRLF is the longest text line allowed, and it is delivered.
    client
        .begin_transaction("a@client.example", &[&local("carol")])
        .await;
    client
        .send(format!(
            "Subject: longest line\r\n\r\n{}\r\n.\r\n",
            "y".repeat(998)
        ))
        .await;
    assert_eq!(client.reply().await.status(), "250 2.0.0");
    wait_for_files(&server.mailbox("carol").join("new"), 1, DELIVERY).await;
    assert_eq!(subjects_after_sentinel(&server).await, ["sentinel"]);
}

// --- Clients that go away mid-message -------------------------------------------------------

/// After the client has gone: nothing in any mailbox (new/, tmp/ or cur/), and a server
/// restarted on the same queue recovers nothing and delivers nothing.
async fn assert_nothing_stored_or_queued(server: TestServer) {
    // Let the server see the end of the connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let maildir = server.config.maildir.clone();
    assert!(
        all_mailbox_files(&maildir).is_empty(),
        "{:?}",
        all_mailbox_files(&maildir)
    );
    let (config, dir) = server.stop().await;
    let restarted = TestServer::open(config, None, dir).await;
    assert_eq!(restarted.recovered, 0, "the unfinished message was queued");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        all_mailbox_files(&maildir).is_empty(),
        "{:?}",
        all_mailbox_files(&maildir)
    );
    restarted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unterminated_data_then_disconnect_stores_nothing() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    client.begin("a@client.example", &[&local("bob")]).await;
    // Everything but the final CRLF of the end marker, then a clean close.
    client
        .send("Subject: unterminated\r\n\r\nalmost done\r\n.")
        .await;
    client.writer.shutdown().await.expect("half-close");
    assert!(client.is_closed_by_server().await);
    drop(client);
    assert_nothing_stored_or_queued(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_data_stores_nothing() {
    let server = TestServer::start().await;
    // Half of a 64 KiB message, cut mid-line, then the connection is reset (SO_LINGER 0).
    let mut client = server.connect().await;
    client.begin("a@client.example", &[&local("bob")]).await;
    let mut message = b"Subject: dropped\r\n\r\n".to_vec();
    while message.len() < 64 * 1024 {
        message.extend_from_slice(b"0123456789 abcdefghijklmnopqrstuvwxyz\r\n");
    }
    client.send(&message[..message.len() / 2 + 7]).await;
    client.writer.flush().await.unwrap();
    let stream = client
        .reader
        .into_inner()
        .reunite(client.writer)
        .expect("the halves of one stream");
    // A zero linger does not block on drop (the deprecation's concern): it sends RST at once.
    #[allow(deprecated)]
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
    // And once more with an orderly close right after a complete line.
    let mut client = server.connect().await;
    client.begin("a@client.example", &[&local("carol")]).await;
    client.send(&message[..message.len() / 2]).await;
    drop(client);
    assert_nothing_stored_or_queued(server).await;
}

// --- Size -----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_size_over_the_limit_is_refused_at_mail() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let ehlo = client.command("EHLO size.example").await;
    assert!(
        ehlo.lines.contains(&"SIZE 10485760".to_string()),
        "{ehlo:?}"
    );
    let reply = client.command("MAIL FROM:<a@b> SIZE=52428800").await;
    assert_eq!(reply.status(), "552 5.3.4", "{reply:?}");
    // Absurd numbers are refused too, without overflow.
    let reply = client
        .command("MAIL FROM:<a@b> SIZE=99999999999999999999999999")
        .await;
    assert!(reply.code >= 500, "{reply:?}");
    // No transaction was started; one within the limit is fine.
    assert_eq!(client.command("DATA").await.status(), "503 5.5.1");
    assert_eq!(
        client.command("MAIL FROM:<a@b> SIZE=1000").await.status(),
        "250 2.1.0"
    );
}

/// Writes a `total`-byte message body in 998-octet lines (the end marker is not sent).
async fn stream_lines(client: &mut Client, total: usize) {
    let line = {
        let mut line = vec![b'x'; 998];
        line.extend_from_slice(b"\r\n");
        line
    };
    let block: Vec<u8> = line.repeat(256);
    let mut sent = 0;
    while sent < total {
        client.send(&block).await;
        sent += block.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_message_is_552_at_the_end_and_the_server_keeps_serving() {
    let server = TestServer::start().await;
    assert_eq!(server.config.max_message_bytes, 10 * 1024 * 1024);
    let mut client = server.connect().await;
    client.begin("a@client.example", &[&local("bob")]).await;
    client.send("Subject: huge\r\n\r\n").await;
    stream_lines(&mut client, 50 * 1024 * 1024).await;
    // Nothing was said while the message streamed in.
    assert!(client.reader.buffer().is_empty());
    client.send(".\r\n").await;
    let reply = client.reply().await;
    assert_eq!(reply.status(), "552 5.3.4", "{reply:?}");
    assert_eq!(client.command("NOOP").await.status(), "250 2.0.0");
    // Another client is served, and the same connection can still send mail.
    let mut other = server.connect().await;
    assert_eq!(other.command("EHLO other.example").await.code, 250);
    let reply = other
        .send_message("a@client.example", &local("carol"), "small")
        .await;
    assert_eq!(reply.status(), "250 2.0.0");
    let reply = client
        .send_message("a@client.example", &local("bob"), "small after huge")
        .await;
    assert_eq!(reply.status(), "250 2.0.0");
    wait_for_files(&server.mailbox("carol").join("new"), 1, DELIVERY).await;
    let bob = wait_for_files(&server.mailbox("bob").join("new"), 1, DELIVERY).await;
    assert_eq!(subject_of(&bob[0]), "small after huge");
}

/// Environment variable that turns [`memory_probe_server`] into a server (its value: the
/// directory to store in).
const CHILD_DIR: &str = "APPNET_HOSTILE_MEMORY_PROBE_DIR";

/// Not a test of its own: the child process of
/// [`server_memory_stays_bounded_under_huge_input`], so that the server's memory can be read
/// from /proc without the test client's buffers and the other tests in it.
#[test]
#[ignore = "runs only as the child process of server_memory_stays_bounded_under_huge_input"]
fn memory_probe_server() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = Arc::new(tempfile::tempdir_in(dir).unwrap());
        let config = harness::config(dir.path());
        let server = TestServer::open(config, None, dir).await;
        println!("LISTENING {}", server.addr);
        // Serve until the parent closes stdin (or kills this process).
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await
        .unwrap();
        server.stop().await;
    });
}

/// A child process killed (by its own pid) and reaped when the test ends, pass or fail.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (peak resident set, current resident set) of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_memory_stays_bounded_under_huge_input() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "memory_probe_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the server process");
    let mut child = ChildGuard(child);
    let pid = child.0.id();
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr: std::net::SocketAddr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server process says where it listens");
        // libtest prints "test memory_probe_server ... " before it, on the same line.
        if let Some((_, addr)) = line.split_once("LISTENING ") {
            break addr.trim().parse().unwrap();
        }
    };
    // Warm up: one message stored and delivered, so the queue, the delivery loop and the
    // allocator's arenas exist before the baseline.
    let mut client = Client::connect(addr).await;
    assert_eq!(client.command("EHLO warm.example").await.code, 250);
    for n in 0..4 {
        let reply = client
            .send_message("a@client.example", &local("bob"), &format!("warm {n}"))
            .await;
        assert_eq!(reply.status(), "250 2.0.0");
    }
    let maildir = dir.path();
    let deadline = Instant::now() + DELIVERY;
    while all_mailbox_files(maildir)
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("new")))
        .count()
        < 4
    {
        assert!(Instant::now() < deadline, "warm-up messages not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Argon2 hashing at start-up (19 MiB) set a high peak: reset the peak to the current
    // resident set (proc(5): writing 5 to clear_refs), so the peak measures what follows.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak RSS");
    let (baseline, _) = memory_kib(pid);

    // 16 MiB of command line without a line end, then the line end.
    let chunk = vec![b'A'; 64 * 1024];
    for _ in 0..256 {
        client.send(&chunk).await;
    }
    client.send("\r\n").await;
    assert_eq!(client.reply().await.status(), "500 5.5.6");
    let (after_line, _) = memory_kib(pid);

    // 50 MB of message against the 10 MB limit, six times.
    let mut peaks = Vec::new();
    for _ in 0..6 {
        client
            .begin_transaction("a@client.example", &[&local("bob")])
            .await;
        client.send("Subject: huge\r\n\r\n").await;
        stream_lines(&mut client, 50 * 1024 * 1024).await;
        client.send(".\r\n").await;
        assert_eq!(client.reply().await.status(), "552 5.3.4");
        peaks.push(memory_kib(pid).0);
    }
    eprintln!(
        "server peak memory: baseline {baseline} KiB, after a 16 MiB command line {after_line} \
         KiB, after each 50 MB message {peaks:?} KiB"
    );
    // The long line costs nothing (the server keeps at most one command line's worth of it).
    assert!(
        after_line < baseline + 4 * 1024,
        "a 16 MiB command line grew the server's peak memory from {baseline} to {after_line} KiB"
    );
    // The message may be buffered up to the 10 MB limit (a Vec grows to 16 MiB for that), but
    // not beyond it: a server that held the whole 50 MB would be far above this.
    assert!(
        peaks[0] < baseline + 24 * 1024,
        "a 50 MB message grew the server's peak memory from {baseline} to {} KiB",
        peaks[0]
    );
    // Nothing of a refused message is kept. The allocator does keep freed memory per thread
    // (glibc arenas: one buffer's worth for each of the 2 worker threads, as measured), but six
    // messages that each left 10 MB behind would be far above this.
    let last = peaks[peaks.len() - 1];
    assert!(
        last < baseline + 44 * 1024,
        "six refused 50 MB messages grew the server's peak memory from {baseline} to {last} KiB"
    );
    // And it still serves.
    assert_eq!(client.command("NOOP").await.status(), "250 2.0.0");
    // Closing its stdin ends the server process; the guard kills it if it does not.
    drop(child.0.stdin.take());
    drop(client);
}

// --- Limits and sequencing ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_recipients_is_452_and_the_accepted_ones_get_the_message() {
    let server = TestServer::start_with(|config| config.max_recipients = 3).await;
    let mut client = server.connect().await;
    assert_eq!(client.command("EHLO many.example").await.code, 250);
    assert_eq!(
        client
            .command("MAIL FROM:<a@client.example>")
            .await
            .status(),
        "250 2.1.0"
    );
    let mut statuses = Vec::new();
    for user in USERS {
        statuses.push(
            client
                .command(&format!("RCPT TO:<{}>", local(user)))
                .await
                .status(),
        );
    }
    assert_eq!(
        statuses,
        ["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3"]
    );
    assert_eq!(client.command("DATA").await.code, 354);
    client
        .send("Subject: three of four\r\n\r\nhi\r\n.\r\n")
        .await;
    assert_eq!(client.reply().await.status(), "250 2.0.0");
    for user in &USERS[..3] {
        wait_for_files(&server.mailbox(user).join("new"), 1, DELIVERY).await;
    }
    // A transient refusal is not an error: 30 more do not close the session.
    assert_eq!(
        client
            .command("MAIL FROM:<a@client.example>")
            .await
            .status(),
        "250 2.1.0"
    );
    for user in &USERS[..3] {
        client.command(&format!("RCPT TO:<{}>", local(user))).await;
    }
    for _ in 0..30 {
        assert_eq!(
            client.command("RCPT TO:<erin@beta.example>").await.status(),
            "452 4.5.3"
        );
    }
    assert_eq!(client.command("RSET").await.status(), "250 2.0.0");
    assert!(files_in(&server.mailbox("erin").join("new")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_out_of_sequence_are_503() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    assert_eq!(
        client
            .command("MAIL FROM:<a@client.example>")
            .await
            .status(),
        "503 5.5.1",
        "MAIL before EHLO"
    );
    assert_eq!(client.command("EHLO seq.example").await.code, 250);
    assert_eq!(
        client.command("RCPT TO:<bob@beta.example>").await.status(),
        "503 5.5.1",
        "RCPT before MAIL"
    );
    assert_eq!(
        client.command("DATA").await.status(),
        "503 5.5.1",
        "DATA before MAIL"
    );
    assert_eq!(
        client
            .command("MAIL FROM:<a@client.example>")
            .await
            .status(),
        "250 2.1.0"
    );
    assert_eq!(
        client
            .command("MAIL FROM:<b@client.example>")
            .await
            .status(),
        "503 5.5.1",
        "nested MAIL"
    );
    // DATA without any accepted recipient: 554 (RFC 5321 §3.3), not 354.
    assert_eq!(client.command("DATA").await.status(), "554 5.5.1");
    // RSET ends the transaction: RCPT is out of sequence again.
    assert_eq!(client.command("RSET").await.status(), "250 2.0.0");
    assert_eq!(
        client.command("RCPT TO:<bob@beta.example>").await.status(),
        "503 5.5.1"
    );
    // A DATA that failed did not leave the session in DATA mode: this is a command.
    assert_eq!(client.command("NOOP").await.status(), "250 2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bad_commands_get_421_and_the_connection_is_closed() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    // Exactly 20 in one write, so the server has read all of them when it closes (unread input
    // would make the kernel reset the connection and could discard the 421 in flight).
    client.send("FROB\r\n".repeat(20)).await;
    let statuses = client.statuses(21).await;
    assert!(
        statuses[..20].iter().all(|s| s.starts_with("500")),
        "{statuses:?}"
    );
    assert_eq!(statuses[20], "421 4.7.0");
    assert!(client.is_closed_by_server().await);
    // Others are not affected.
    let mut other = server.connect().await;
    assert_eq!(other.command("EHLO fine.example").await.code, 250);

    // Bad commands mixed with good ones count too; good ones do not reset the count.
    let mut client = server.connect().await;
    for n in 0..19 {
        assert_eq!(client.command("FROB").await.code, 500, "bad command {n}");
        assert_eq!(client.command("NOOP").await.code, 250);
    }
    client.send("RCPT TO:<bob@beta.example>\r\n").await;
    assert_eq!(client.statuses(2).await, ["503 5.5.1", "421 4.7.0"]);
    assert!(client.is_closed_by_server().await);
}

// --- Relay and authentication ---------------------------------------------------------------

fn auth_plain(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_open_relay_unknown_users_and_wrong_passwords() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let ehlo = client.command("EHLO relay.example").await;
    assert!(
        ehlo.lines.iter().any(|l| l == "AUTH PLAIN LOGIN"),
        "{ehlo:?}"
    );
    assert_eq!(
        client
            .command("MAIL FROM:<spammer@client.example>")
            .await
            .status(),
        "250 2.1.0"
    );
    for foreign in [
        "victim@gmail.example",
        "victim@beta.example.evil.example",
        "victim@evil.example@beta.example.",
        "bob%evil.example@evil.example",
        "\"bob@beta.example\"@evil.example",
        "@beta.example:victim@gmail.example",
    ] {
        let reply = client.command(&format!("RCPT TO:<{foreign}>")).await;
        assert!(
            reply.status() == "554 5.7.1" || reply.code == 501 || reply.code == 553,
            "RCPT TO:<{foreign}> without AUTH: {reply:?}"
        );
    }
    assert_eq!(
        client
            .command("RCPT TO:<victim@gmail.example>")
            .await
            .status(),
        "554 5.7.1"
    );
    assert_eq!(
        client
            .command("RCPT TO:<nobody@beta.example>")
            .await
            .status(),
        "550 5.1.1"
    );
    assert_eq!(
        client.command("RCPT TO:<../bob@beta.example>").await.code / 100,
        5
    );
    // Nothing was accepted: DATA has no recipients.
    assert_eq!(client.command("DATA").await.status(), "554 5.5.1");
    assert_eq!(client.command("RSET").await.status(), "250 2.0.0");

    // Wrong passwords, for a real user and for one that does not exist, both ways.
    let reply = client
        .command(&format!(
            "AUTH PLAIN {}",
            auth_plain("bob@beta.example", "wrong")
        ))
        .await;
    assert_eq!(reply.status(), "535 5.7.8");
    let reply = client
        .command(&format!(
            "AUTH PLAIN {}",
            auth_plain("nobody@beta.example", PASSWORD)
        ))
        .await;
    assert_eq!(reply.status(), "535 5.7.8");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(client.command("AUTH LOGIN").await.code, 334);
    assert_eq!(client.command(&b64("bob@beta.example")).await.code, 334);
    assert_eq!(client.command(&b64("nope")).await.status(), "535 5.7.8");
    // Still not allowed to relay.
    assert_eq!(
        client
            .command("MAIL FROM:<bob@beta.example>")
            .await
            .status(),
        "250 2.1.0"
    );
    assert_eq!(
        client
            .command("RCPT TO:<victim@gmail.example>")
            .await
            .status(),
        "554 5.7.1"
    );
    assert_eq!(client.command("RSET").await.status(), "250 2.0.0");

    // With the right password, relaying is allowed (not carried out: RSET before DATA).
    let reply = client
        .command(&format!(
            "AUTH PLAIN {}",
            auth_plain("bob@beta.example", PASSWORD)
        ))
        .await;
    assert_eq!(reply.status(), "235 2.7.0");
    assert_eq!(
        client
            .command("MAIL FROM:<bob@beta.example>")
            .await
            .status(),
        "250 2.1.0"
    );
    assert_eq!(
        client
            .command("RCPT TO:<friend@gmail.example>")
            .await
            .status(),
        "250 2.1.5"
    );
    assert_eq!(client.command("RSET").await.status(), "250 2.0.0");

    // The authentication belongs to that connection only.
    let mut other = server.connect().await;
    assert_eq!(other.command("EHLO other.example").await.code, 250);
    assert_eq!(
        other.command("MAIL FROM:<bob@beta.example>").await.status(),
        "250 2.1.0"
    );
    assert_eq!(
        other
            .command("RCPT TO:<friend@gmail.example>")
            .await
            .status(),
        "554 5.7.1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_pipelined_command_answers_nothing_in_plaintext() {
    let tls_dir = tempfile::tempdir().unwrap();
    let material = appnet_core::tls::TlsMaterial::load_or_generate(
        tls_dir.path(),
        &["localhost", "127.0.0.1"],
    )
    .expect("make a test certificate");
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let config = harness::config(dir.path());
    let server = TestServer::open(config, Some(material.server_config().unwrap()), dir).await;

    let mut client = server.connect().await;
    let ehlo = client.command("EHLO inject.example").await;
    assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
    // The command and an injected one in the same packet (CVE-2011-0411 and kin).
    client
        .send("STARTTLS\r\nRSET\r\nMAIL FROM:<evil@attacker.example>\r\n")
        .await;
    let ready = client.reply().await;
    assert_eq!(ready.status(), "220 2.0.0", "{ready:?}");
    assert!(
        client.is_silent_for(Duration::from_millis(500)).await,
        "the server answered the injected plaintext after 220"
    );

    // The handshake works, and the injected commands left no trace in the TLS session.
    let stream = client
        .reader
        .into_inner()
        .reunite(client.writer)
        .expect("the halves of one stream");
    let connector = tokio_rustls::TlsConnector::from(
        appnet_core::tls::client_config_trusting(material.ca_pem()).unwrap(),
    );
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(REPLY_TIMEOUT, connector.connect(name, stream))
        .await
        .expect("the handshake finishes")
        .expect("the TLS handshake succeeds");
    // The first thing said under TLS must answer our first command, not the injected RSET.
    tls.write_all(b"NOOP\r\n").await.unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while !first.ends_with(b"\r\n") {
        let n = tokio::time::timeout(REPLY_TIMEOUT, tls.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the server closed the TLS session");
        first.push(byte[0]);
    }
    assert_eq!(first, b"250 2.0.0 Ok\r\n");
    // MAIL needs a fresh EHLO (RFC 3207 §4.2): the injected MAIL was not kept either.
    tls.write_all(b"RCPT TO:<bob@beta.example>\r\nMAIL FROM:<a@client.example>\r\n")
        .await
        .unwrap();
    let mut replies = Vec::new();
    while replies.iter().filter(|&&b| b == b'\n').count() < 2 {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(REPLY_TIMEOUT, tls.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the server closed the TLS session");
        replies.extend_from_slice(&buf[..n]);
    }
    let replies = String::from_utf8(replies).unwrap();
    let codes: Vec<&str> = replies.lines().map(|l| &l[..9]).collect();
    assert_eq!(codes, ["503 5.5.1", "503 5.5.1"], "{replies}");
}

// --- Many clients and pipelining ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients_are_each_delivered_exactly_once() {
    const CLIENTS: usize = 200;
    let server = TestServer::start().await;
    // A client that connects and says nothing, and one that stops mid-command: neither may hold
    // up the others.
    let silent = server.connect().await;
    let mut stalled = server.connect().await;
    stalled.send("EHLO sta").await;

    let started = Instant::now();
    let addr = server.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                assert_eq!(
                    client.command(&format!("EHLO c{n}.example")).await.code,
                    250
                );
                let reply = client
                    .send_message(
                        &format!("c{n}@client.example"),
                        &local("bob"),
                        &format!("concurrent {n}"),
                    )
                    .await;
                assert_eq!(reply.status(), "250 2.0.0", "client {n}: {reply:?}");
                assert_eq!(client.command("QUIT").await.status(), "221 2.0.0");
            })
        })
        .collect();
    for (n, client) in clients.into_iter().enumerate() {
        tokio::time::timeout(Duration::from_secs(120), client)
            .await
            .unwrap_or_else(|_| panic!("client {n} did not finish"))
            .unwrap_or_else(|err| panic!("client {n}: {err}"));
    }
    eprintln!("{CLIENTS} clients submitted in {:?}", started.elapsed());

    let new = server.mailbox("bob").join("new");
    wait_for_files(&new, CLIENTS, Duration::from_secs(60)).await;
    // Any duplicate delivery would be done by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut subjects: Vec<String> = files_in(&new).iter().map(|p| subject_of(p)).collect();
    subjects.sort();
    let mut expected: Vec<String> = (0..CLIENTS).map(|n| format!("concurrent {n}")).collect();
    expected.sort();
    assert_eq!(subjects, expected);
    assert!(files_in(&server.mailbox("bob").join("tmp")).is_empty());

    // The silent and stalled clients are still connected and still served.
    drop(silent);
    stalled.send("\r\n").await;
    assert_eq!(stalled.reply().await.code, 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_are_answered_in_order() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let ehlo = client.command("EHLO pipe.example").await;
    assert!(ehlo.lines.iter().any(|l| l == "PIPELINING"), "{ehlo:?}");
    client
        .send(
            "MAIL FROM:<a@client.example>\r\nRCPT TO:<bob@beta.example>\r\n\
             RCPT TO:<nobody@beta.example>\r\nRCPT TO:<carol@beta.example>\r\nDATA\r\n",
        )
        .await;
    assert_eq!(
        client.statuses(5).await,
        ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"]
    );
    // The message, its end and the next transaction in one write too.
    client
        .send(
            "Subject: pipelined one\r\n\r\nhi\r\n.\r\nMAIL FROM:<a@client.example>\r\n\
             RCPT TO:<dave@beta.example>\r\nDATA\r\nSubject: pipelined two\r\n\r\nhi\r\n.\r\n\
             QUIT\r\n",
        )
        .await;
    assert_eq!(
        client.statuses(6).await,
        [
            "250 2.0.0",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0",
            "221 2.0.0"
        ]
    );
    assert!(client.is_closed_by_server().await);
    for (user, subject) in [
        ("bob", "pipelined one"),
        ("carol", "pipelined one"),
        ("dave", "pipelined two"),
    ] {
        let files = wait_for_files(&server.mailbox(user).join("new"), 1, DELIVERY).await;
        assert_eq!(subject_of(&files[0]), subject);
    }
}
