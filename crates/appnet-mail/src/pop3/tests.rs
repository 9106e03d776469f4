//! Whole-session tests of the POP3 core against real Maildirs in temporary directories.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;

use super::session::{Output, Session, SessionConfig};
use crate::maildir::Maildir;
use crate::store::Mailstore;

/// A message of exactly `size` octets (CRLF line ends), for the RFC 1939 §10 example's sizes.
fn message_of(size: usize, subject: &str) -> Vec<u8> {
    let mut message = format!("Subject: {subject}\r\n\r\n").into_bytes();
    let filler = size - message.len() - 2;
    message.extend(std::iter::repeat_n(b'x', filler));
    message.extend_from_slice(b"\r\n");
    message
}

fn maildir_with(messages: &[&[u8]]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(dir.path()).unwrap();
    for message in messages {
        maildir.deliver(message).unwrap();
    }
    dir
}

fn config() -> SessionConfig {
    SessionConfig {
        plaintext_auth: true,
        ..SessionConfig::new("dewey")
    }
}

/// Everything the session has to say: the bytes of its `Send`s, the other outputs by name.
fn drain(session: &mut Session) -> (Vec<u8>, Vec<Output>) {
    let mut sent = Vec::new();
    let mut others = Vec::new();
    while let Some(output) = session.poll_output() {
        match output {
            Output::Send(bytes) => sent.extend_from_slice(&bytes),
            Output::Received(_) => {}
            other => others.push(other),
        }
    }
    (sent, others)
}

fn say(session: &mut Session, line: &str) -> String {
    session.feed(line.as_bytes());
    let (sent, _) = drain(session);
    String::from_utf8(sent).unwrap()
}

/// A session logged in to the Maildir at `dir` with USER/PASS; the greeting and login replies
/// consumed.
fn logged_in(dir: &Path) -> Session {
    let mut session = Session::new(config());
    drain(&mut session);
    session.feed(b"USER mrose\r\nPASS tanstaaf\r\n");
    let (_, others) = drain(&mut session);
    assert_eq!(
        others,
        vec![Output::Authenticate {
            user: "mrose".into(),
            password: "tanstaaf".into()
        }]
    );
    session.auth_result(Some(("mrose".into(), dir.to_path_buf())));
    let (sent, _) = drain(&mut session);
    assert!(sent.starts_with(b"+OK mrose's maildrop has"), "{sent:?}");
    session
}

fn uids_in(dir: &Path) -> Vec<u32> {
    let store = Mailstore::open(dir).unwrap();
    let inbox = store.open_mailbox("INBOX").unwrap();
    inbox.messages().iter().map(|m| m.uid).collect()
}

#[test]
fn rfc_1939_section_10_example_session() {
    let one = message_of(120, "one");
    let two = message_of(200, "two");
    let dir = maildir_with(&[&one, &two]);
    let mut session = Session::new(config());
    let (greeting, _) = drain(&mut session);
    assert_eq!(greeting, b"+OK dewey POP3 server ready\r\n");
    assert_eq!(
        say(&mut session, "USER mrose\r\n"),
        "+OK send your password\r\n"
    );
    session.feed(b"PASS tanstaaf\r\n");
    drain(&mut session);
    session.auth_result(Some(("mrose".into(), dir.path().to_path_buf())));
    assert_eq!(
        String::from_utf8(drain(&mut session).0).unwrap(),
        "+OK mrose's maildrop has 2 messages (320 octets)\r\n"
    );
    assert_eq!(session.authenticated_as(), Some("mrose"));
    assert_eq!(say(&mut session, "STAT\r\n"), "+OK 2 320\r\n");
    assert_eq!(
        say(&mut session, "LIST\r\n"),
        "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
    );
    let mut expected = b"+OK 120 octets\r\n".to_vec();
    expected.extend_from_slice(&one);
    expected.extend_from_slice(b".\r\n");
    assert_eq!(say(&mut session, "RETR 1\r\n").into_bytes(), expected);
    assert_eq!(say(&mut session, "DELE 1\r\n"), "+OK message 1 deleted\r\n");
    let retr2 = say(&mut session, "RETR 2\r\n");
    assert!(retr2.starts_with("+OK 200 octets\r\nSubject: two\r\n"));
    assert!(retr2.ends_with("\r\n.\r\n"));
    assert_eq!(say(&mut session, "DELE 2\r\n"), "+OK message 2 deleted\r\n");
    session.feed(b"QUIT\r\n");
    let (sent, others) = drain(&mut session);
    assert_eq!(
        sent,
        b"+OK dewey POP3 server signing off (maildrop empty)\r\n"
    );
    assert_eq!(others, vec![Output::Close]);
    assert!(session.is_closed());
    assert!(uids_in(dir.path()).is_empty());
}

#[test]
fn deletions_wait_for_quit_and_vanish_with_a_dropped_connection() {
    let dir = maildir_with(&[b"Subject: a\r\n\r\na\r\n", b"Subject: b\r\n\r\nb\r\n"]);
    let mut session = logged_in(dir.path());
    assert_eq!(say(&mut session, "DELE 1\r\n"), "+OK message 1 deleted\r\n");
    assert_eq!(
        say(&mut session, "DELE 1\r\n"),
        "-ERR message 1 already deleted\r\n"
    );
    assert!(say(&mut session, "RETR 1\r\n").starts_with("-ERR message 1 already deleted"));
    assert_eq!(say(&mut session, "STAT\r\n"), "+OK 1 17\r\n");
    assert_eq!(
        say(&mut session, "LIST\r\n"),
        "+OK 1 messages (17 octets)\r\n2 17\r\n.\r\n"
    );
    session.feed_eof();
    assert!(session.is_closed());
    drop(session);
    assert_eq!(uids_in(dir.path()), vec![1, 2]);

    let mut session = logged_in(dir.path());
    say(&mut session, "DELE 2\r\n");
    assert_eq!(
        say(&mut session, "QUIT\r\n"),
        "+OK dewey POP3 server signing off (1 messages left)\r\n"
    );
    assert_eq!(uids_in(dir.path()), vec![1]);
}

#[test]
fn rset_unmarks_deletions() {
    let dir = maildir_with(&[b"a\r\n", b"b\r\n"]);
    let mut session = logged_in(dir.path());
    say(&mut session, "DELE 1\r\nDELE 2\r\n");
    assert_eq!(say(&mut session, "STAT\r\n"), "+OK 0 0\r\n");
    assert_eq!(
        say(&mut session, "RSET\r\n"),
        "+OK maildrop has 2 messages (6 octets)\r\n"
    );
    assert_eq!(say(&mut session, "LIST 2\r\n"), "+OK 2 3\r\n");
    say(&mut session, "QUIT\r\n");
    assert_eq!(uids_in(dir.path()), vec![1, 2]);
}

#[test]
fn top_and_retr_byte_stuff_and_normalise_line_ends() {
    // Stored with bare LF, as most Maildir writers do.
    let dir = maildir_with(&[b"Subject: dots\n.From: x\n\n.first\nsecond\n..third\n"]);
    let mut session = logged_in(dir.path());
    assert_eq!(say(&mut session, "LIST 1\r\n"), "+OK 1 52\r\n");
    assert_eq!(
        say(&mut session, "TOP 1 1\r\n"),
        "+OK\r\nSubject: dots\r\n..From: x\r\n\r\n..first\r\n.\r\n"
    );
    assert_eq!(
        say(&mut session, "TOP 1 0\r\n"),
        "+OK\r\nSubject: dots\r\n..From: x\r\n\r\n.\r\n"
    );
    assert_eq!(
        say(&mut session, "RETR 1\r\n"),
        "+OK 52 octets\r\nSubject: dots\r\n..From: x\r\n\r\n..first\r\nsecond\r\n...third\r\n.\r\n"
    );
    assert!(say(&mut session, "TOP 2 1\r\n").starts_with("-ERR no such message"));
}

#[test]
fn unique_ids_stay_the_same_across_sessions() {
    let dir = maildir_with(&[b"a\r\n", b"b\r\n", b"c\r\n"]);
    let mut session = logged_in(dir.path());
    let first = say(&mut session, "UIDL\r\n");
    let lines: Vec<&str> = first.split("\r\n").collect();
    assert_eq!(lines.len(), 6, "{first}");
    assert_eq!(lines[0], "+OK");
    let id_of = |line: &str| line.split(' ').nth(1).unwrap().to_string();
    let ids: Vec<String> = lines[1..4].iter().map(|l| id_of(l)).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(
        say(&mut session, "UIDL 2\r\n"),
        format!("+OK 2 {}\r\n", ids[1])
    );
    say(&mut session, "DELE 1\r\nQUIT\r\n");

    let mut session = logged_in(dir.path());
    assert_eq!(
        say(&mut session, "UIDL\r\n"),
        format!("+OK\r\n1 {}\r\n2 {}\r\n.\r\n", ids[1], ids[2])
    );
}

#[test]
fn retr_marks_the_message_seen() {
    let dir = maildir_with(&[b"a\r\n", b"b\r\n"]);
    let mut session = logged_in(dir.path());
    say(&mut session, "RETR 2\r\nTOP 1 0\r\n");
    let inbox = Mailstore::open(dir.path())
        .unwrap()
        .open_mailbox("INBOX")
        .unwrap();
    let seen: Vec<bool> = inbox.messages().iter().map(|m| m.flags.seen).collect();
    assert_eq!(seen, vec![false, true]);
}

#[test]
fn capabilities_follow_the_state_and_the_transport() {
    let mut session = Session::new(SessionConfig {
        tls_available: true,
        ..SessionConfig::new("dewey")
    });
    drain(&mut session);
    assert_eq!(
        say(&mut session, "CAPA\r\n"),
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
         PIPELINING\r\nSTLS\r\nIMPLEMENTATION appnet\r\n.\r\n"
    );
    assert!(say(&mut session, "USER mrose\r\n").starts_with("-ERR [AUTH] Plaintext"));
    assert!(say(&mut session, "AUTH PLAIN AG1yb3NlAHg=\r\n").starts_with("-ERR [AUTH]"));
    session.feed(b"STLS\r\n");
    let (sent, others) = drain(&mut session);
    assert_eq!(sent, b"+OK Begin TLS negotiation\r\n");
    assert_eq!(others, vec![Output::StartTls]);
    session.tls_established();
    let capa = say(&mut session, "CAPA\r\n");
    assert!(capa.contains("\r\nUSER\r\nSASL PLAIN\r\n"), "{capa}");
    assert!(!capa.contains("STLS"), "{capa}");
    assert!(say(&mut session, "STLS\r\n").starts_with("-ERR"));
}

#[test]
fn stls_discards_input_pipelined_behind_it() {
    let mut session = Session::new(SessionConfig {
        tls_available: true,
        ..config()
    });
    drain(&mut session);
    session.feed(b"STLS\r\nUSER injected\r\nPASS x\r\n");
    let (sent, others) = drain(&mut session);
    assert_eq!(sent, b"+OK Begin TLS negotiation\r\n");
    assert_eq!(others, vec![Output::StartTls]);
    session.feed(b"PASS more\r\n");
    assert_eq!(drain(&mut session), (Vec::new(), Vec::new()));
    session.tls_established();
    assert_eq!(drain(&mut session), (Vec::new(), Vec::new()));
    // The USER sent before the handshake is forgotten.
    assert_eq!(
        say(&mut session, "PASS y\r\n"),
        "-ERR PASS: send USER first\r\n"
    );
}

#[test]
fn pipelined_commands_are_answered_in_order_across_the_password_check() {
    let dir = maildir_with(&[b"a\r\n"]);
    let mut session = Session::new(config());
    drain(&mut session);
    session.feed(b"CAPA\r\nUSER mrose\r\nPASS pw\r\nSTAT\r\nLIST 1\r\nQUIT\r\n");
    let (sent, others) = drain(&mut session);
    let sent = String::from_utf8(sent).unwrap();
    assert!(
        sent.starts_with("+OK Capability list follows\r\n"),
        "{sent}"
    );
    assert!(sent.ends_with(".\r\n+OK send your password\r\n"), "{sent}");
    assert_eq!(others.len(), 1);
    session.auth_result(Some(("mrose".into(), dir.path().to_path_buf())));
    let (sent, others) = drain(&mut session);
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "+OK mrose's maildrop has 1 messages (3 octets)\r\n+OK 1 3\r\n+OK 1 3\r\n\
         +OK dewey POP3 server signing off (1 messages left)\r\n"
    );
    assert_eq!(others, vec![Output::Close]);
}

#[test]
fn wrong_passwords_leave_the_session_in_authorization() {
    let mut session = Session::new(config());
    drain(&mut session);
    session.feed(b"USER mrose\r\nPASS wrong\r\nSTAT\r\n");
    drain(&mut session);
    session.auth_result(None);
    assert_eq!(
        String::from_utf8(drain(&mut session).0).unwrap(),
        "-ERR [AUTH] Authentication failed\r\n-ERR STAT: not valid before login\r\n"
    );
    assert_eq!(
        say(&mut session, "PASS again\r\n"),
        "-ERR PASS: send USER first\r\n"
    );
    assert_eq!(
        say(&mut session, "QUIT\r\n"),
        "+OK dewey POP3 server signing off\r\n"
    );
}

#[test]
fn auth_plain_with_and_without_an_initial_response() {
    let dir = maildir_with(&[]);
    let mut session = Session::new(config());
    drain(&mut session);
    assert_eq!(
        say(&mut session, "AUTH\r\n"),
        "+OK mechanisms follow\r\nPLAIN\r\n.\r\n"
    );
    let response = BASE64.encode(b"\0mrose\0tan staaf");
    session.feed(format!("AUTH PLAIN {response}\r\n").as_bytes());
    let (_, others) = drain(&mut session);
    assert_eq!(
        others,
        vec![Output::Authenticate {
            user: "mrose".into(),
            password: "tan staaf".into()
        }]
    );
    session.auth_result(None);
    drain(&mut session);
    assert_eq!(say(&mut session, "AUTH PLAIN\r\n"), "+ \r\n");
    assert_eq!(say(&mut session, "*\r\n"), "-ERR AUTH: cancelled\r\n");
    assert_eq!(say(&mut session, "AUTH plain\r\n"), "+ \r\n");
    let other = BASE64.encode(b"root\0mrose\0pw");
    assert_eq!(
        say(&mut session, &format!("{other}\r\n")),
        "-ERR [AUTH] cannot act as another user\r\n"
    );
    assert_eq!(say(&mut session, "AUTH PLAIN\r\n"), "+ \r\n");
    session.feed(format!("{response}\r\n").as_bytes());
    drain(&mut session);
    session.auth_result(Some(("mrose".into(), dir.path().to_path_buf())));
    assert_eq!(
        String::from_utf8(drain(&mut session).0).unwrap(),
        "+OK mrose's maildrop has 0 messages (0 octets)\r\n"
    );
    assert_eq!(
        say(&mut session, "AUTH PLAIN\r\n"),
        "-ERR AUTH: not valid after login\r\n"
    );
}

#[test]
fn a_second_login_to_a_locked_maildrop_is_refused_in_use() {
    let dir = maildir_with(&[b"a\r\n"]);
    let mut first = logged_in(dir.path());
    let mut second = Session::new(config());
    drain(&mut second);
    second.feed(b"USER mrose\r\nPASS tanstaaf\r\n");
    drain(&mut second);
    second.auth_result(Some(("mrose".into(), dir.path().to_path_buf())));
    assert_eq!(
        String::from_utf8(drain(&mut second).0).unwrap(),
        "-ERR [IN-USE] the maildrop is locked by another POP3 session\r\n"
    );
    assert!(!second.uses_store());
    say(&mut first, "QUIT\r\n");
    drop(logged_in(dir.path()));
}

#[test]
fn bad_input_gets_errors_and_too_much_of_it_closes() {
    let mut session = Session::new(config());
    drain(&mut session);
    assert_eq!(say(&mut session, "XYZZY\r\n"), "-ERR unknown command\r\n");
    assert_eq!(
        say(&mut session, "STAT\0\r\n"),
        "-ERR the line contains a NUL octet\r\n"
    );
    // An over-long line gets one error, however it arrives.
    let long = "N".repeat(300);
    assert_eq!(
        say(&mut session, &long),
        "-ERR the line is longer than 255 octets\r\n"
    );
    assert_eq!(say(&mut session, &long), "");
    assert_eq!(
        say(&mut session, "\r\nNOOP\r\n"),
        "-ERR NOOP: not valid before login\r\n"
    );
    let long_line = format!("USER {}\r\n", "u".repeat(251));
    assert_eq!(
        say(&mut session, &long_line),
        "-ERR the line is longer than 255 octets\r\n"
    );
    assert!(!session.is_closed());
    let flood = "BAD\r\n".repeat(30);
    session.feed(flood.as_bytes());
    let (sent, others) = drain(&mut session);
    let sent = String::from_utf8(sent).unwrap();
    assert!(
        sent.ends_with("-ERR too many bad commands, closing\r\n"),
        "{sent}"
    );
    assert_eq!(others, vec![Output::Close]);
    assert!(session.is_closed());
}

#[test]
fn transcripts_never_show_passwords() {
    let mut session = Session::new(config());
    session.set_trace(true);
    session.feed(b"USER mrose\r\nPASS tanstaaf\r\n");
    let received: Vec<String> = std::iter::from_fn(|| session.poll_output())
        .filter_map(|output| match output {
            Output::Received(line) => Some(line),
            _ => None,
        })
        .collect();
    assert_eq!(received, vec!["USER mrose", "PASS ********"]);
}

/// Lines a client might send, well-formed or not.
fn client_line() -> impl Strategy<Value = Vec<u8>> {
    let words = prop::sample::select(vec![
        "USER mrose",
        "PASS pw",
        "STAT",
        "LIST",
        "LIST 1",
        "LIST 0",
        "RETR 1",
        "RETR 2",
        "DELE 1",
        "DELE 2",
        "RSET",
        "NOOP",
        "TOP 1 0",
        "TOP 2 5",
        "UIDL",
        "UIDL 9",
        "CAPA",
        "AUTH PLAIN",
        "AUTH",
        "STLS",
        "*",
        "=",
        "RETR 4294967295",
    ]);
    prop_oneof![
        words.prop_map(|w| format!("{w}\r\n").into_bytes()),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn maildrop_for_fuzzing() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| maildir_with(&[b"Subject: x\r\n\r\n.dot\r\n", b"y\n"]))
        .path()
        .to_path_buf()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_input_in_any_state_never_panics(
        lines in prop::collection::vec(client_line(), 0..24),
        split in 1usize..64,
        tls in any::<bool>(),
    ) {
        let dir = maildrop_for_fuzzing();
        let mut session = Session::new(SessionConfig { tls_available: tls, ..config() });
        let input: Vec<u8> = lines.concat();
        for chunk in input.chunks(split) {
            session.feed(chunk);
            while let Some(output) = session.poll_output() {
                match output {
                    Output::Send(bytes) => {
                        prop_assert!(
                            bytes.starts_with(b"+OK") || bytes.starts_with(b"-ERR")
                                || bytes == b"+ \r\n"
                        );
                        prop_assert!(bytes.ends_with(b"\r\n"));
                    }
                    Output::Authenticate { .. } => {
                        session.auth_result(Some(("mrose".into(), dir.clone())));
                    }
                    Output::StartTls => session.tls_established(),
                    Output::Received(_) | Output::Close => {}
                }
            }
        }
        session.feed_eof();
        prop_assert!(session.is_closed());
    }
}
