//! Interop: our IMAP and POP3 servers read by programs we did not write — python's imaplib and
//! poplib, curl's imap:// and pop3:// (plain, STARTTLS/STLS, implicit TLS), mutt in batch mode,
//! IDLE and two concurrent sessions over raw sockets — and a private Dovecot reading the very
//! Maildir our server wrote, flags and keywords included. Mail always arrives through our own
//! SMTP (python's smtplib submits it), as it would in use.
//!
//! Every test starts its own server on free loopback ports with storage in a temporary
//! directory; a missing peer program fails the test (scripts/install-peers installs them all).

use std::process::Command;
use std::time::Duration;

use appnet_testkit::require_peer;

mod common;
#[path = "access/dovecot.rs"]
mod dovecot;
#[path = "access/host.rs"]
mod host;

use common::{PASSWORD, PEER_TIMEOUT, run, run_bytes};
use dovecot::Dovecot;
use host::{DOMAIN, Host, RawImap, files, python, python_ok};

const HELLO: &[u8] = b"From: Bob <bob@alpha.example>\r
To: Alice <alice@alpha.example>\r
Subject: Hello Alice\r
Date: Mon, 04 Mar 2024 09:00:00 +0000\r
Message-ID: <hello-1@alpha.example>\r
\r
Hi Alice,\r
.a line that starts with a dot\r
\r
the report comes in the next message.\r
";

/// A Korean subject (회의 일정 안내) as an RFC 2047 encoded-word, and an 8-bit UTF-8 body.
const KOREAN: &[u8] = "From: Bob <bob@alpha.example>\r
To: Alice <alice@alpha.example>\r
Subject: =?UTF-8?B?7ZqM7J2YIOydvOyglSDslYjrgrQ=?=\r
Date: Mon, 04 Mar 2024 09:05:00 +0000\r
Message-ID: <korean-1@alpha.example>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=UTF-8\r
Content-Transfer-Encoding: 8bit\r
\r
다음 주 회의는 화요일입니다.\r
"
.as_bytes();

/// multipart/mixed: a UTF-8 text part and a base64 attachment.
const MULTIPART: &[u8] = "From: Bob <bob@alpha.example>\r
To: Alice <alice@alpha.example>\r
Subject: report\r
Date: Mon, 04 Mar 2024 09:10:00 +0000\r
Message-ID: <report-1@alpha.example>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"xyz-boundary\"\r
\r
--xyz-boundary\r
Content-Type: text/plain; charset=UTF-8\r
Content-Transfer-Encoding: 8bit\r
\r
보고서를 첨부합니다.\r
--xyz-boundary\r
Content-Type: application/pdf; name=\"report.pdf\"\r
Content-Transfer-Encoding: base64\r
\r
JVBERi0xLjQgbm90IHJlYWxseSBhIHBkZgo=\r
--xyz-boundary--\r
"
.as_bytes();

/// The three messages every reading test starts with, in alice's INBOX in this order.
fn deliver_three(host: &Host) {
    host.deliver(&[("alice", HELLO), ("alice", KOREAN), ("alice", MULTIPART)]);
}

/// The stored bytes of the one message in `new/` whose content ends with `sent`.
fn stored_copy(host: &Host, local: &str, sent: &[u8]) -> Vec<u8> {
    let dir = host.maildir(local);
    let mut found: Vec<Vec<u8>> = [dir.join("new"), dir.join("cur")]
        .iter()
        .flat_map(|d| files(d))
        .map(|f| std::fs::read(f).unwrap())
        .filter(|bytes| bytes.ends_with(sent))
        .collect();
    assert_eq!(found.len(), 1, "one stored copy of the message");
    found.pop().unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. python imaplib

fn imaplib_session(mode: &str) {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let stored = stored_copy(&host, "alice", HELLO);
    let port = match mode {
        "ssl" => host.addrs.imaps.port(),
        _ => host.addrs.imap.port(),
    };
    let out = host.dir.path().join("rfc822.eml");
    let ran = python_ok(
        include_str!("access/imaplib_session.py"),
        &[
            mode,
            "127.0.0.1",
            &port.to_string(),
            &format!("alice@{DOMAIN}"),
            PASSWORD,
            host.ca_file.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    assert!(ran.stdout.contains("imaplib session ok"), "{}", ran.all());
    let fetched = std::fs::read(&out).unwrap();
    assert!(
        fetched == stored,
        "FETCH RFC822 differs from the stored message:\n{:?}\n{:?}",
        String::from_utf8_lossy(&fetched),
        String::from_utf8_lossy(&stored)
    );
    // What the session left on disk: INBOX holds the one message left, and no folder.
    assert_eq!(host.count("alice"), 1);
    assert!(!host.maildir("alice").join(".Old").exists());
    assert!(!host.maildir("alice").join(".Archive").exists());
}

#[test]
fn imaplib_full_session_over_plaintext() {
    imaplib_session("plain");
}

#[test]
fn imaplib_full_session_over_starttls() {
    imaplib_session("starttls");
}

#[test]
fn imaplib_full_session_over_implicit_tls() {
    imaplib_session("ssl");
}

// ---------------------------------------------------------------------------------------------
// 2. python poplib

fn poplib(host: &Host, mode: &str, step: &str, out: &std::path::Path) -> String {
    let port = match mode {
        "ssl" => host.addrs.pop3s.port(),
        _ => host.addrs.pop3.port(),
    };
    std::fs::create_dir_all(out).unwrap();
    let ran = python_ok(
        include_str!("access/poplib_session.py"),
        &[
            mode,
            "127.0.0.1",
            &port.to_string(),
            &format!("alice@{DOMAIN}"),
            PASSWORD,
            host.ca_file.to_str().unwrap(),
            out.to_str().unwrap(),
            step,
        ],
    );
    ran.stdout
}

/// Every message RETR returned is byte for byte what was stored, in arrival order.
fn assert_retrieved_as_stored(host: &Host, out: &std::path::Path, sent: &[&[u8]]) {
    for (i, message) in sent.iter().enumerate() {
        let retrieved = std::fs::read(out.join(format!("{}.eml", i + 1))).unwrap();
        let stored = stored_copy(host, "alice", message);
        assert!(
            retrieved == stored,
            "RETR {} differs from the stored message:\n{:?}\n{:?}",
            i + 1,
            String::from_utf8_lossy(&retrieved),
            String::from_utf8_lossy(&stored)
        );
    }
}

#[test]
fn poplib_reads_and_deletes_only_on_quit() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let out = host.dir.path().join("pop");
    let said = poplib(&host, "plain", "read", &out);
    assert!(said.contains("count 3"), "{said}");
    assert_retrieved_as_stored(&host, &out, &[HELLO, KOREAN, MULTIPART]);
    // DELE then a dropped connection: all three stay.
    assert!(poplib(&host, "plain", "drop", &out).contains("drop ok"));
    assert_eq!(host.count("alice"), 3);
    // DELE then QUIT: the first message is gone from the Maildir too.
    assert!(poplib(&host, "plain", "delete", &out).contains("delete ok"));
    assert_eq!(host.count("alice"), 2);
    let dir = host.maildir("alice");
    let left: Vec<Vec<u8>> = [dir.join("new"), dir.join("cur")]
        .iter()
        .flat_map(|d| files(d))
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(
        left.iter().all(|m| !m.ends_with(HELLO)),
        "HELLO was deleted"
    );
}

#[test]
fn poplib_over_stls_and_implicit_tls() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    for mode in ["stls", "ssl"] {
        let out = host.dir.path().join(mode);
        let said = poplib(&host, mode, "read", &out);
        assert!(said.contains("count 3"), "{mode}: {said}");
        assert_retrieved_as_stored(&host, &out, &[HELLO, KOREAN, MULTIPART]);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. curl

/// Runs curl with `args` (plus quiet, bounded options); returns stdout and stderr, which must
/// report success.
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let mut command = Command::new(require_peer("curl"));
    command
        .args(["-sS", "--max-time", "20", "-u"])
        .arg(format!("alice@{DOMAIN}:{PASSWORD}"))
        .args(args);
    let output = run_bytes(&mut command, PEER_TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "curl {args:?} failed ({}):\n{stderr}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    (output.stdout, stderr)
}

fn assert_same(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "{what}:\n--- got\n{}\n--- want\n{}",
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want)
    );
}

#[test]
fn curl_reads_over_imap_imaps_and_starttls() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let (hello, korean, multipart) = (
        stored_copy(&host, "alice", HELLO),
        stored_copy(&host, "alice", KOREAN),
        stored_copy(&host, "alice", MULTIPART),
    );
    let ca = host.ca_file.to_str().unwrap();
    let imap = format!("imap://127.0.0.1:{}", host.addrs.imap.port());
    let imaps = format!("imaps://127.0.0.1:{}", host.addrs.imaps.port());

    // The URL of the server alone: LIST.
    let (list, _) = curl(&[&format!("{imap}/")]);
    let list = String::from_utf8_lossy(&list);
    assert!(
        list.lines()
            .any(|l| l.starts_with("* LIST (") && l.ends_with(" \"INBOX\"")),
        "{list}"
    );
    // A mailbox and a UID: the message, byte for byte.
    let (got, _) = curl(&[&format!("{imap}/INBOX;UID=1")]);
    assert_same("imap:// UID=1", &got, &hello);
    let (got, _) = curl(&["--cacert", ca, &format!("{imaps}/INBOX;UID=2")]);
    assert_same("imaps:// UID=2", &got, &korean);
    let (got, log) = curl(&[
        "-v",
        "--ssl-reqd",
        "--cacert",
        ca,
        &format!("{imap}/INBOX;UID=3"),
    ]);
    assert_same("imap:// --ssl-reqd UID=3", &got, &multipart);
    assert!(
        log.contains("STARTTLS"),
        "curl did not use STARTTLS:\n{log}"
    );
    // A custom command: SEARCH with curl's own -X.
    let (got, _) = curl(&["-X", "SEARCH SUBJECT report", &format!("{imap}/INBOX")]);
    assert_eq!(String::from_utf8_lossy(&got).trim_end(), "* SEARCH 3");
}

#[test]
fn curl_reads_over_pop3_pop3s_and_stls() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let stored = [
        stored_copy(&host, "alice", HELLO),
        stored_copy(&host, "alice", KOREAN),
        stored_copy(&host, "alice", MULTIPART),
    ];
    let ca = host.ca_file.to_str().unwrap();
    let pop3 = format!("pop3://127.0.0.1:{}", host.addrs.pop3.port());
    let pop3s = format!("pop3s://127.0.0.1:{}", host.addrs.pop3s.port());

    let (list, _) = curl(&[&format!("{pop3}/")]);
    let want: String = stored
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{} {}\r\n", i + 1, m.len()))
        .collect();
    assert_eq!(String::from_utf8_lossy(&list), want);
    // RETR: curl undoes the dot-stuffing of HELLO's ".a line".
    let (got, _) = curl(&[&format!("{pop3}/1")]);
    assert_same("pop3:// 1", &got, &stored[0]);
    let (got, _) = curl(&["--cacert", ca, &format!("{pop3s}/2")]);
    assert_same("pop3s:// 2", &got, &stored[1]);
    let (got, log) = curl(&["-v", "--ssl-reqd", "--cacert", ca, &format!("{pop3}/3")]);
    assert_same("pop3:// --ssl-reqd 3", &got, &stored[2]);
    assert!(log.contains("STLS"), "curl did not use STLS:\n{log}");
    assert_eq!(host.count("alice"), 3, "reading deletes nothing");
}

// ---------------------------------------------------------------------------------------------
// 4. mutt

/// mutt in batch mode. mutt is a curses program: it runs under `script` (util-linux), which
/// gives it a pseudo-terminal. Keys pushed with `-e push` are flushed while mutt connects, so
/// the keys are pushed from a `folder-hook`, which runs once the mailbox is open: pipe the
/// current (first) message to a file, then quit.
#[test]
fn mutt_reads_a_message_over_imap_with_starttls() {
    let host = Host::start(&["alice"]);
    let message = "From: Bob <bob@alpha.example>\r
To: Alice <alice@alpha.example>\r
Subject: mutt can read this\r
Date: Mon, 04 Mar 2024 10:00:00 +0000\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=UTF-8\r
Content-Transfer-Encoding: 8bit\r
\r
The body, read by mutt: 안녕하세요.\r
";
    host.deliver(&[("alice", message.as_bytes())]);
    let folder = format!("imap://127.0.0.1:{}/", host.addrs.imap.port());
    let out = host.dir.path().join("mutt.out");
    let muttrc = host.dir.path().join("muttrc");
    std::fs::write(
        &muttrc,
        format!(
            "set folder=\"{folder}\"
set imap_user=\"alice@{DOMAIN}\"
set imap_pass=\"{PASSWORD}\"
set ssl_starttls=yes
set ssl_force_tls=yes
set certificate_file=\"{ca}\"
set header_cache=\"\"
set quit=yes
set move=no
set wait_key=no
set pipe_decode=no
set charset=\"utf-8\"
folder-hook . 'push \"<pipe-message>cat > {out}<enter><quit>\"'
",
            ca = host.ca_file.display(),
            out = out.display(),
        ),
    )
    .unwrap();
    let mutt = require_peer("mutt");
    let script = require_peer("script");
    let command_line = format!(
        "{} -n -F {} -f {folder}INBOX",
        mutt.display(),
        muttrc.display(),
    );
    let mut command = Command::new(script);
    command
        .args(["-q", "-e", "-c", &command_line, "/dev/null"])
        .env("TERM", "vt100")
        .env("HOME", host.dir.path());
    let ran = run(&mut command, PEER_TIMEOUT);
    let piped = std::fs::read(&out).unwrap_or_default();
    let piped = String::from_utf8_lossy(&piped);
    assert!(
        piped.contains("Subject: mutt can read this")
            && piped.contains("The body, read by mutt: 안녕하세요."),
        "mutt did not pipe the message:\n{piped}\n{}",
        ran.all()
    );
    assert_eq!(ran.code, Some(0), "{}", ran.all());
    // Piping does not mark a message read, but leaving the mailbox marks unread messages old
    // (mutt's `mark_old`), which mutt stores on the server as the keyword `Old`: it must be
    // in the file name as a keyword letter, recorded in dovecot-keywords.
    let cur = files(&host.maildir("alice").join("cur"));
    assert_eq!(cur.len(), 1);
    let keywords = std::fs::read_to_string(host.maildir("alice").join("dovecot-keywords"));
    assert!(
        cur[0].to_string_lossy().ends_with(":2,a") && keywords.as_deref().ok() == Some("0 Old\n"),
        "flags in the file name: {} (keywords: {keywords:?})",
        cur[0].display(),
    );
}

// ---------------------------------------------------------------------------------------------
// 5. IDLE over a raw socket, and 6. two sessions

const FOURTH: &[u8] = b"From: Bob <bob@alpha.example>\r
To: Alice <alice@alpha.example>\r
Subject: the fourth message\r
\r
arrives during IDLE\r
";

#[test]
fn idle_announces_delivery_flag_changes_and_expunges_of_others() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let mut idler = RawImap::login(host.addrs.imap, "alice");
    let selected = idler.ok("SELECT INBOX");
    assert!(selected.iter().any(|l| l == "* 3 EXISTS"), "{selected:?}");
    idler.send("idle1 IDLE");
    idler.wait_for(Duration::from_secs(5), |l| l.starts_with("+ "));

    // Mail through our SMTP: `* 4 EXISTS` while idling.
    host.deliver(&[("alice", FOURTH)]);
    idler.wait_for(Duration::from_secs(10), |l| l == "* 4 EXISTS");

    // Another session flags and expunges.
    let mut other = RawImap::login(host.addrs.imap, "alice");
    other.ok("SELECT INBOX");
    other.ok("STORE 2 +FLAGS.SILENT (\\Flagged)");
    let lines = idler.wait_for(Duration::from_secs(10), |l| l.starts_with("* 2 FETCH"));
    let fetch = lines.last().unwrap();
    assert!(
        fetch.contains("FLAGS (") && fetch.contains("\\Flagged"),
        "{fetch}"
    );
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    other.ok("EXPUNGE");
    idler.wait_for(Duration::from_secs(10), |l| l == "* 1 EXPUNGE");

    idler.send("DONE");
    idler.wait_for(Duration::from_secs(5), |l| l.starts_with("idle1 OK"));
    // The delivered message is number 3 now; its subject (a literal, read as lines).
    let fetched = idler.ok("FETCH 3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        fetched.iter().any(|l| l == "Subject: the fourth message"),
        "{fetched:?}"
    );
    idler.ok("LOGOUT");
}

#[test]
fn a_second_session_sees_expunges_and_flag_changes_at_noop() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let mut a = RawImap::login(host.addrs.imap, "alice");
    let mut b = RawImap::login(host.addrs.imap, "alice");
    a.ok("SELECT INBOX");
    b.ok("SELECT INBOX");

    a.ok("STORE 3 +FLAGS (\\Seen \\Answered)");
    let noop = b.ok("NOOP");
    let fetch = noop
        .iter()
        .find(|l| l.starts_with("* 3 FETCH"))
        .unwrap_or_else(|| panic!("no FETCH at NOOP: {noop:?}\n{}", b.transcript));
    assert!(
        fetch.contains("\\Seen") && fetch.contains("\\Answered"),
        "{fetch}"
    );

    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    a.ok("EXPUNGE");
    let noop = b.ok("NOOP");
    assert!(
        noop.iter().any(|l| l == "* 2 EXPUNGE"),
        "no EXPUNGE at NOOP: {noop:?}"
    );
    // b's view now has two messages: UIDs 1 and 3.
    let uids = b.ok("FETCH 1:* (UID)");
    assert_eq!(uids, ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]);
    let search = b.ok("UID SEARCH ALL");
    assert_eq!(search, ["* SEARCH 1 3"]);
}

// ---------------------------------------------------------------------------------------------
// 7. Dovecot reads the Maildir our server wrote

#[test]
fn dovecot_sees_our_folders_messages_flags_and_keywords() {
    let host = Host::start(&["alice"]);
    deliver_three(&host);
    let mut imap = RawImap::login(host.addrs.imap, "alice");
    imap.ok("SELECT INBOX");
    imap.ok("STORE 1 +FLAGS (\\Seen)");
    imap.ok("STORE 2 +FLAGS (\\Flagged $Important)");
    imap.ok("STORE 3 +FLAGS (\\Answered \\Seen projectx)");
    imap.ok("CREATE Archive");
    imap.ok("CREATE Archive.2024");
    imap.ok("COPY 2:3 Archive.2024");
    imap.ok("SELECT Archive.2024");
    imap.ok("STORE 1 +FLAGS (\\Seen $Later)");
    imap.ok("LOGOUT");

    let address = format!("alice@{DOMAIN}");
    let ours = python_ok(
        include_str!("access/imap_state.py"),
        &[
            "127.0.0.1",
            &host.addrs.imap.port().to_string(),
            &address,
            PASSWORD,
        ],
    )
    .stdout;
    // Our own view first, so that a mismatch below is Dovecot's reading, not a bad setup.
    for want in [
        "\"Archive.2024\"",
        "\"$Important\"",
        "\"$Later\"",
        "\"projectx\"",
        "\"\\\\Answered\"",
    ] {
        assert!(ours.contains(want), "{want} missing from our view:\n{ours}");
    }
    eprintln!("our view of the Maildir:\n{ours}");
    let alice = host.maildir("alice");
    let dovecot = Dovecot::start_for(
        std::slice::from_ref(&address),
        PASSWORD,
        alice.parent().unwrap(),
    );
    let theirs = python(
        include_str!("access/imap_state.py"),
        &[
            "127.0.0.1",
            &dovecot.addr.port().to_string(),
            &address,
            PASSWORD,
        ],
    );
    assert_eq!(
        theirs.code,
        Some(0),
        "reading through Dovecot failed:\n{}\n{}",
        theirs.all(),
        dovecot.log()
    );
    assert!(
        theirs.stdout == ours,
        "Dovecot sees the Maildir differently:\n--- ours\n{ours}\n--- Dovecot\n{}\n{}",
        theirs.stdout,
        dovecot.log()
    );

    // The other way: a flag and a new keyword set through Dovecot show in our server.
    python_ok(
        DOVECOT_STORE,
        &[
            "127.0.0.1",
            &dovecot.addr.port().to_string(),
            &address,
            PASSWORD,
        ],
    );
    let mut imap = RawImap::login(host.addrs.imap, "alice");
    imap.ok("EXAMINE INBOX");
    let fetched = imap.ok("FETCH 1 (FLAGS)");
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    let flags = fetched[0]
        .strip_prefix("* 1 FETCH (FLAGS (")
        .and_then(|rest| rest.strip_suffix("))"))
        .unwrap_or_else(|| panic!("{fetched:?}"));
    let mut flags: Vec<&str> = flags.split(' ').filter(|f| *f != "\\Recent").collect();
    flags.sort();
    assert_eq!(
        flags,
        ["\\Flagged", "\\Seen", "fromdovecot"],
        "{}",
        dovecot.log()
    );
}

/// Through Dovecot: INBOX message 1 gets \Flagged and the new keyword `fromdovecot`.
const DOVECOT_STORE: &str = r#"
import imaplib, sys
host, port, user, password = sys.argv[1:5]
M = imaplib.IMAP4(host, int(port), timeout=20)
assert M.login(user, password)[0] == "OK"
assert M.select("INBOX")[0] == "OK"
typ, data = M.store("1", "+FLAGS", "(\\Flagged fromdovecot)")
assert typ == "OK", data
M.logout()
"#;

// ---------------------------------------------------------------------------------------------
// 8. UIDs across a restart

/// The value of `[CODE n]` in the untagged lines of a SELECT.
fn code_value(lines: &[String], code: &str) -> u32 {
    let prefix = format!("[{code} ");
    lines
        .iter()
        .find_map(|l| {
            let at = l.find(&prefix)? + prefix.len();
            l[at..].split(']').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {code} in {lines:?}"))
}

#[test]
fn uidvalidity_uids_and_flags_survive_a_restart() {
    let mut host = Host::start(&["alice"]);
    deliver_three(&host);
    let mut imap = RawImap::login(host.addrs.imap, "alice");
    let selected = imap.ok("SELECT INBOX");
    let validity = code_value(&selected, "UIDVALIDITY");
    assert_eq!(code_value(&selected, "UIDNEXT"), 4);
    imap.ok("STORE 2 +FLAGS (\\Seen $Work)");
    imap.ok("CREATE Keep");
    imap.ok("COPY 3 Keep");
    imap.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    imap.ok("EXPUNGE");
    let keep_before = imap.ok("STATUS Keep (MESSAGES UIDNEXT UIDVALIDITY)");
    imap.ok("LOGOUT");

    host.restart();

    let mut imap = RawImap::login(host.addrs.imap, "alice");
    let selected = imap.ok("SELECT INBOX");
    assert_eq!(code_value(&selected, "UIDVALIDITY"), validity);
    assert_eq!(code_value(&selected, "UIDNEXT"), 4);
    assert!(selected.iter().any(|l| l == "* 2 EXISTS"), "{selected:?}");
    let fetched = imap.ok("FETCH 1:* (UID FLAGS)");
    assert_eq!(
        fetched,
        [
            "* 1 FETCH (UID 2 FLAGS (\\Seen $Work))",
            "* 2 FETCH (UID 3 FLAGS ())"
        ]
    );
    assert_eq!(
        imap.ok("STATUS Keep (MESSAGES UIDNEXT UIDVALIDITY)"),
        keep_before
    );
    // A new message gets the next UID; the expunged UID 1 is never reused.
    host.deliver(&[("alice", FOURTH)]);
    let noop = imap.ok("NOOP");
    assert!(noop.iter().any(|l| l == "* 3 EXISTS"), "{noop:?}");
    assert_eq!(imap.ok("UID SEARCH ALL"), ["* SEARCH 2 3 4"]);
}
