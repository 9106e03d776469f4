//! Scripted sessions against a temporary mail store: RFC 3501's examples (§6, §8) adapted to
//! our mailbox contents, and the behaviours between sessions (§5.2, §7.4.1).

use std::path::{Path, PathBuf};

use super::session::{ImapConfig, ImapSession, Output};
use crate::maildir::Maildir;
use crate::store::{Flags, Mailstore};

const FIRST: &str = "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
\r\n\
Minutes of the meeting.\r\n";

const KOREAN: &str = "Date: Tue, 1 Jul 2003 10:52:37 +0900\r\n\
From: =?UTF-8?B?6rmA7LKg7IiY?= <kim@example.kr>\r\n\
To: lee@example.kr\r\n\
Subject: =?UTF-8?B?7ZWc6rWt7Ja0IOygnOuqqQ==?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n\
\r\n\
--XyZ\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
7JWI64WV7ZWY7IS47JqUIFdvcmxk\r\n\
--XyZ\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=UTF-8''%ED%95%9C%EA%B8%80.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--XyZ--\r\n";

const THIRD: &str = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\n\
Subject: lunch\r\n\r\nNoon?\r\n";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    /// A user's Maildir holding FIRST, KOREAN and THIRD (UIDs 1–3), and a folder `Archive`.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("user");
        let store = Mailstore::open(&root).unwrap();
        let mut inbox = store.open_mailbox("INBOX").unwrap();
        for message in [FIRST, KOREAN, THIRD] {
            inbox
                .append(message.as_bytes(), &Flags::default(), None)
                .unwrap();
        }
        store.create("Archive").unwrap();
        Fixture { _dir: dir, root }
    }

    fn session(&self) -> ImapSession {
        let mut config = ImapConfig::new("mail.example");
        config.plaintext_login = true;
        let mut session = ImapSession::new(config, "127.0.0.1:5555");
        let greeting = drain(&mut session).0;
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
            "{greeting}"
        );
        session.feed(b"a0 LOGIN alice secret\r\n");
        let (_, others) = drain(&mut session);
        assert_eq!(
            others,
            vec![Output::Authenticate {
                user: "alice".into(),
                password: "secret".into()
            }]
        );
        session.auth_result(Some(("alice@example.com".into(), self.root.clone())));
        let reply = drain(&mut session).0;
        assert!(reply.starts_with("a0 OK [CAPABILITY IMAP4rev1"), "{reply}");
        session
    }

    fn selected(&self) -> ImapSession {
        let mut session = self.session();
        let reply = run(&mut session, "s SELECT INBOX\r\n");
        assert!(
            reply.ends_with("s OK [READ-WRITE] SELECT completed\r\n"),
            "{reply}"
        );
        session
    }
}

/// Every output: the sent bytes as text, and the other outputs.
fn drain(session: &mut ImapSession) -> (String, Vec<Output>) {
    let mut text = Vec::new();
    let mut others = Vec::new();
    while let Some(output) = session.poll_output() {
        match output {
            Output::Send(bytes) => text.extend_from_slice(&bytes),
            other => others.push(other),
        }
    }
    (String::from_utf8_lossy(&text).into_owned(), others)
}

fn run(session: &mut ImapSession, input: &str) -> String {
    session.feed(input.as_bytes());
    let (text, others) = drain(session);
    assert!(others.is_empty(), "unexpected {others:?}");
    text
}

fn deliver(root: &Path, message: &str) {
    Maildir::create(root)
        .unwrap()
        .deliver(message.as_bytes())
        .unwrap();
    crate::store::announce(root);
}

#[test]
fn greeting_capability_and_login_rules() {
    let mut config = ImapConfig::new("mail.example");
    config.tls_available = true;
    let mut session = ImapSession::new(config, "192.0.2.1:1");
    let greeting = drain(&mut session).0;
    assert!(greeting.contains("STARTTLS LOGINDISABLED"), "{greeting}");
    assert!(!greeting.contains("AUTH=PLAIN"));
    let reply = run(
        &mut session,
        "a LOGIN u p\r\nb AUTHENTICATE PLAIN\r\nc SELECT INBOX\r\n",
    );
    assert_eq!(
        reply,
        "a NO [PRIVACYREQUIRED] LOGIN is disabled without TLS\r\n\
b NO [PRIVACYREQUIRED] Authentication is disabled without TLS\r\n\
c BAD SELECT not allowed now: Not authenticated\r\n"
    );
    // STARTTLS: commands pipelined after it are discarded (RFC 3501 §6.2.1).
    session.feed(b"d STARTTLS\r\ne LOGIN injected command\r\n");
    let (text, others) = drain(&mut session);
    assert_eq!(text, "d OK Begin TLS negotiation now\r\n");
    assert_eq!(others, vec![Output::StartTls]);
    session.feed(b"f NOOP\r\n");
    assert!(
        drain(&mut session).0.is_empty(),
        "input waits for the handshake"
    );
    session.tls_established();
    let reply = run(&mut session, "g CAPABILITY\r\n");
    assert!(
        reply.contains("AUTH=PLAIN") && !reply.contains("STARTTLS"),
        "{reply}"
    );
    assert!(!reply.contains("LOGINDISABLED"));
    let reply = run(&mut session, "h STARTTLS\r\n");
    assert_eq!(reply, "h BAD TLS is not available\r\n");
}

#[test]
fn authenticate_plain_with_initial_response_and_continuation() {
    let fixture = Fixture::new();
    let mut config = ImapConfig::new("mail.example");
    config.plaintext_login = true;
    let mut session = ImapSession::new(config.clone(), "127.0.0.1:1");
    drain(&mut session);
    // "\0alice\0secret"
    session.feed(b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    let (_, others) = drain(&mut session);
    assert_eq!(
        others,
        vec![Output::Authenticate {
            user: "alice".into(),
            password: "secret".into()
        }]
    );
    session.auth_result(None);
    assert_eq!(
        drain(&mut session).0,
        "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    );
    session.feed(b"b AUTHENTICATE PLAIN\r\n");
    assert_eq!(drain(&mut session).0, "+ \r\n");
    session.feed(b"*\r\n");
    assert_eq!(drain(&mut session).0, "b BAD Authentication cancelled\r\n");
    session.feed(b"c authenticate plain\r\n");
    assert_eq!(drain(&mut session).0, "+ \r\n");
    session.feed(b"YWxpY2UAYWxpY2UAc2VjcmV0\r\nd NOOP\r\n");
    let (_, others) = drain(&mut session);
    assert_eq!(others.len(), 1, "the NOOP waits for the login");
    session.auth_result(Some(("alice@example.com".into(), fixture.root.clone())));
    let reply = drain(&mut session).0;
    assert!(reply.starts_with("c OK [CAPABILITY "), "{reply}");
    assert!(reply.ends_with("d OK NOOP completed\r\n"), "{reply}");
    assert_eq!(session.user(), Some("alice@example.com"));
}

#[test]
fn three_failed_logins_hang_up() {
    let mut config = ImapConfig::new("mail.example");
    config.plaintext_login = true;
    let mut session = ImapSession::new(config, "127.0.0.1:1");
    drain(&mut session);
    for i in 0..3 {
        session.feed(format!("a{i} LOGIN x y\r\n").as_bytes());
        drain(&mut session);
        session.auth_result(None);
    }
    let (text, others) = drain(&mut session);
    assert!(text.ends_with("* BYE Too many failed logins\r\n"), "{text}");
    assert_eq!(others, vec![Output::Close]);
    assert!(session.is_closed());
}

/// RFC 3501 §8's sample session, against our INBOX of three messages.
#[test]
fn rfc_3501_sample_session() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    let reply = run(&mut session, "a002 select inbox\r\n");
    let expected_start = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted\r\n\
* 3 EXISTS\r\n\
* 0 RECENT\r\n\
* OK [UNSEEN 1] First unseen\r\n\
* OK [UIDVALIDITY ";
    assert!(reply.starts_with(expected_start), "{reply}");
    assert!(
        reply.contains("* OK [UIDNEXT 4] Predicted next UID\r\n"),
        "{reply}"
    );
    assert!(reply.ends_with("a002 OK [READ-WRITE] SELECT completed\r\n"));

    let reply = run(&mut session, "a003 fetch 1 full\r\n");
    assert!(
        reply.starts_with("* 1 FETCH (FLAGS () INTERNALDATE \""),
        "{reply}"
    );
    assert!(reply.contains(&format!(" RFC822.SIZE {} ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))", FIRST.len())), "{reply}");
    assert!(
        reply.contains(" BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 25 1))\r\na003 OK FETCH completed\r\n"),
        "{reply}"
    );

    let reply = run(&mut session, "a004 fetch 1 body[header]\r\n");
    let header_len = FIRST.find("\r\n\r\n").unwrap() + 4;
    assert_eq!(
        reply,
        format!(
            "* 1 FETCH (BODY[HEADER] {{{header_len}}}\r\n{} FLAGS (\\Seen))\r\na004 OK FETCH completed\r\n",
            &FIRST[..header_len]
        )
    );

    let reply = run(&mut session, "a005 store 1 +flags \\deleted\r\n");
    assert_eq!(
        reply,
        "* 1 FETCH (FLAGS (\\Seen \\Deleted))\r\na005 OK STORE completed\r\n"
    );
    session.feed(b"a006 logout\r\n");
    let (reply, others) = drain(&mut session);
    assert_eq!(reply, "* BYE Logging out\r\na006 OK LOGOUT completed\r\n");
    assert_eq!(others, vec![Output::Close]);
}

#[test]
fn fetch_sections_partial_peek_and_bodystructure() {
    let fixture = Fixture::new();
    let mut session = fixture.selected();
    let reply = run(
        &mut session,
        "f1 FETCH 3 (BODY.PEEK[TEXT] BODY.PEEK[]<0.4> UID RFC822.SIZE)\r\n",
    );
    assert_eq!(
        reply,
        format!(
            "* 3 FETCH (BODY[TEXT] {{7}}\r\nNoon?\r\n BODY[]<0> {{4}}\r\nFrom UID 3 RFC822.SIZE {})\r\nf1 OK FETCH completed\r\n",
            THIRD.len()
        )
    );
    let reply = run(&mut session, "f2 FETCH 3 FLAGS\r\n");
    assert_eq!(reply, "* 3 FETCH (FLAGS ())\r\nf2 OK FETCH completed\r\n");
    let reply = run(
        &mut session,
        "f3 FETCH 2 (BODY.PEEK[HEADER.FIELDS (subject to)] BODY.PEEK[2.MIME] BODY.PEEK[1])\r\n",
    );
    assert!(reply.starts_with("* 2 FETCH (BODY[HEADER.FIELDS (subject to)] {69}\r\nTo: lee@example.kr\r\nSubject: =?UTF-8?B?7ZWc6rWt7Ja0IOygnOuqqQ==?=\r\n\r\n BODY[2.MIME] {"), "{reply}");
    assert!(
        reply.contains(" BODY[1] {28}\r\n7JWI64WV7ZWY7IS47JqUIFdvcmxk)\r\n"),
        "{reply}"
    );
    // BODYSTRUCTURE of a multipart/mixed with a Korean RFC 2231 file name.
    let reply = run(&mut session, "f4 UID FETCH 2 BODYSTRUCTURE\r\n");
    assert_eq!(
        reply,
        "* 2 FETCH (UID 2 BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"BASE64\" 28 0 NIL NIL NIL NIL)\
(\"APPLICATION\" \"PDF\" NIL NIL NIL \"BASE64\" 12 NIL (\"ATTACHMENT\" (\"FILENAME*\" \"utf-8''%ED%95%9C%EA%B8%80.pdf\")) NIL NIL) \
\"MIXED\" (\"BOUNDARY\" \"XyZ\") NIL NIL NIL))\r\nf4 OK UID FETCH completed\r\n"
    );
    // The envelope keeps the Korean name as an encoded-word.
    let reply = run(&mut session, "f5 FETCH 2 ENVELOPE\r\n");
    assert!(
        reply.contains("((\"=?utf-8?B?6rmA7LKg7IiY?=\" NIL \"kim\" \"example.kr\"))"),
        "{reply}"
    );
    // Sequence numbers beyond the mailbox are an error; UIDs beyond it are not.
    assert_eq!(
        run(&mut session, "f6 FETCH 4 FLAGS\r\n"),
        "f6 BAD Invalid message sequence number\r\n"
    );
    assert_eq!(
        run(&mut session, "f7 UID FETCH 4:9 FLAGS\r\n"),
        "f7 OK UID FETCH completed\r\n"
    );
    assert_eq!(
        run(&mut session, "f8 UID FETCH 10:* FLAGS\r\n"),
        "* 3 FETCH (UID 3 FLAGS ())\r\nf8 OK UID FETCH completed\r\n"
    );
    assert_eq!(
        run(&mut session, "f9 FETCH 1 (BODY[5] RFC822.HEADER)\r\n")
            .lines()
            .next()
            .unwrap(),
        "* 1 FETCH (BODY[5] NIL RFC822.HEADER {216}"
    );
}

#[test]
fn search_finds_korean_subject_and_other_keys() {
    let fixture = Fixture::new();
    let mut session = fixture.selected();
    let korean = "한국어";
    let reply = run(
        &mut session,
        &format!(
            "s1 SEARCH CHARSET UTF-8 SUBJECT {{{}}}\r\n{korean}\r\n",
            korean.len()
        ),
    );
    assert_eq!(
        reply,
        format!("+ Ready for literal data\r\n* SEARCH 2\r\ns1 OK SEARCH completed\r\n")
    );
    let reply = run(
        &mut session,
        "s2 UID SEARCH CHARSET UTF-8 BODY \"안녕하세요\"\r\n",
    );
    // 8-bit in a quoted string is tolerated from clients, as Dovecot does.
    assert_eq!(reply, "* SEARCH 2\r\ns2 OK UID SEARCH completed\r\n");
    assert_eq!(
        run(&mut session, "s3 SEARCH OR FROM alice TO imap\r\n"),
        "* SEARCH 1 3\r\ns3 OK SEARCH completed\r\n"
    );
    assert_eq!(
        run(&mut session, "s4 SEARCH NOT 2:3 UNSEEN\r\n"),
        "* SEARCH 1\r\ns4 OK SEARCH completed\r\n"
    );
    assert_eq!(
        run(
            &mut session,
            "s5 SEARCH SENTSINCE 1-Jan-2000 SENTBEFORE 2-Jul-2003\r\n"
        ),
        "* SEARCH 2\r\ns5 OK SEARCH completed\r\n"
    );
    assert_eq!(
        run(&mut session, "s6 SEARCH CHARSET KOI8-BOGUS TEXT x\r\n"),
        "s6 NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset\r\n"
    );
    assert_eq!(
        run(&mut session, "s7 SEARCH TEXT noon SINCE 1-Jan-1990\r\n"),
        "* SEARCH 3\r\ns7 OK SEARCH completed\r\n"
    );
    assert_eq!(
        run(&mut session, "s8 SEARCH LARGER 300\r\n"),
        "* SEARCH 2\r\ns8 OK SEARCH completed\r\n"
    );
}

#[test]
fn store_and_expunge_follow_rfc_3501_numbering() {
    let fixture = Fixture::new();
    let store = Mailstore::open(&fixture.root).unwrap();
    let mut inbox = store.open_mailbox("INBOX").unwrap();
    for i in 4..=11 {
        inbox
            .append(
                format!("Subject: {i}\r\n\r\nx\r\n").as_bytes(),
                &Flags::default(),
                None,
            )
            .unwrap();
    }
    let mut session = fixture.selected();
    let reply = run(
        &mut session,
        "a1 STORE 3,4,7,11 +FLAGS.SILENT (\\Deleted)\r\n",
    );
    assert_eq!(reply, "a1 OK STORE completed\r\n");
    let reply = run(&mut session, "a2 UID STORE 1 FLAGS (\\Seen $Work)\r\n");
    assert_eq!(
        reply,
        "* 1 FETCH (FLAGS (\\Seen $Work) UID 1)\r\na2 OK STORE completed\r\n"
    );
    let reply = run(&mut session, "a3 STORE 1 -FLAGS ($Work)\r\n");
    assert_eq!(
        reply,
        "* 1 FETCH (FLAGS (\\Seen))\r\na3 OK STORE completed\r\n"
    );
    // §6.4.3's example: 3, 4, 7 and 11 deleted.
    let reply = run(&mut session, "a4 EXPUNGE\r\n");
    assert_eq!(
        reply,
        "* 3 EXPUNGE\r\n* 3 EXPUNGE\r\n* 5 EXPUNGE\r\n* 8 EXPUNGE\r\na4 OK EXPUNGE completed\r\n"
    );
    // UID EXPUNGE removes only the listed ones.
    run(&mut session, "a5 STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\n");
    assert_eq!(
        run(&mut session, "a6 UID EXPUNGE 2\r\n"),
        "* 2 EXPUNGE\r\na6 OK EXPUNGE completed\r\n"
    );
    assert_eq!(
        run(&mut session, "a7 SEARCH DELETED\r\n"),
        "* SEARCH 1\r\na7 OK SEARCH completed\r\n"
    );
    // CLOSE expunges silently.
    assert_eq!(
        run(&mut session, "a8 CLOSE\r\n"),
        "a8 OK CLOSE completed\r\n"
    );
    assert_eq!(store.open_mailbox("INBOX").unwrap().messages().len(), 5);
    // EXAMINE is read-only.
    let reply = run(&mut session, "a9 EXAMINE INBOX\r\n");
    assert!(
        reply.contains("[PERMANENTFLAGS ()]")
            && reply.ends_with("a9 OK [READ-ONLY] EXAMINE completed\r\n"),
        "{reply}"
    );
    assert_eq!(
        run(&mut session, "b1 STORE 1 +FLAGS (\\Flagged)\r\n"),
        "b1 NO [READ-ONLY] Mailbox is read-only\r\n"
    );
    let reply = run(&mut session, "b2 FETCH 2 BODY[]\r\n");
    assert!(
        !reply.contains("FLAGS"),
        "EXAMINE does not set \\Seen: {reply}"
    );
    assert_eq!(
        run(&mut session, "b3 UNSELECT\r\n"),
        "b3 OK UNSELECT completed\r\n"
    );
    assert_eq!(
        run(&mut session, "b4 FETCH 1 FLAGS\r\n"),
        "b4 BAD FETCH not allowed now: No mailbox selected\r\n"
    );
}

#[test]
fn a_second_session_sees_arrivals_flag_changes_and_expunges() {
    let fixture = Fixture::new();
    let mut one = fixture.selected();
    let mut two = fixture.selected();
    // New mail delivered to the Maildir.
    deliver(&fixture.root, "Subject: new\r\n\r\nhello\r\n");
    assert_eq!(
        run(&mut one, "n1 NOOP\r\n"),
        "* 4 EXISTS\r\n* 1 RECENT\r\nn1 OK NOOP completed\r\n"
    );
    assert_eq!(
        run(&mut two, "n1 NOOP\r\n"),
        "* 4 EXISTS\r\n* 0 RECENT\r\nn1 OK NOOP completed\r\n"
    );
    assert_eq!(
        run(&mut one, "n2 FETCH 4 FLAGS\r\n"),
        "* 4 FETCH (FLAGS (\\Recent))\r\nn2 OK FETCH completed\r\n"
    );
    // One session deletes and expunges message 2; the other hears of it.
    run(&mut one, "n3 STORE 2 +FLAGS (\\Deleted)\r\n");
    assert_eq!(
        run(&mut two, "n4 CHECK\r\n"),
        "* 2 FETCH (FLAGS (\\Deleted))\r\nn4 OK CHECK completed\r\n"
    );
    assert_eq!(
        run(&mut one, "n5 EXPUNGE\r\n"),
        "* 2 EXPUNGE\r\nn5 OK EXPUNGE completed\r\n"
    );
    // Not during FETCH (§7.4.1): message 3 keeps its number until an allowed moment.
    let reply = run(&mut two, "n6 FETCH 3 (UID)\r\n");
    assert_eq!(reply, "* 3 FETCH (UID 3)\r\nn6 OK FETCH completed\r\n");
    let reply = run(&mut two, "n7 SEARCH ALL\r\n");
    assert_eq!(reply, "* SEARCH 1 3 4\r\nn7 OK SEARCH completed\r\n");
    let reply = run(&mut two, "n8 FETCH 2 BODY.PEEK[]\r\n");
    assert_eq!(
        reply,
        "n8 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n"
    );
    assert_eq!(
        run(&mut two, "n9 NOOP\r\n"),
        "* 2 EXPUNGE\r\nn9 OK NOOP completed\r\n"
    );
    assert_eq!(
        run(&mut two, "m1 UID SEARCH ALL\r\n"),
        "* SEARCH 1 3 4\r\nm1 OK UID SEARCH completed\r\n"
    );
}

#[test]
fn idle_reports_new_mail_until_done() {
    let fixture = Fixture::new();
    let mut session = fixture.selected();
    session.feed(b"i1 IDLE\r\n");
    let (text, others) = drain(&mut session);
    assert_eq!(text, "+ idling\r\n");
    assert_eq!(
        others,
        vec![Output::Idle {
            dir: fixture.root.clone()
        }]
    );
    assert!(session.is_idling());
    session.mailbox_changed();
    assert!(drain(&mut session).0.is_empty());
    deliver(&fixture.root, "Subject: ping\r\n\r\n!\r\n");
    session.mailbox_changed();
    assert_eq!(drain(&mut session).0, "* 4 EXISTS\r\n* 1 RECENT\r\n");
    assert_eq!(
        run(&mut session, "done\r\ni2 NOOP\r\n"),
        "i1 OK IDLE terminated\r\ni2 OK NOOP completed\r\n"
    );
    assert!(!session.is_idling());
    session.feed(b"i3 IDLE\r\n");
    drain(&mut session);
    assert_eq!(run(&mut session, "i4 NOOP\r\n"), "i3 BAD Expected DONE\r\n");
}

#[test]
fn append_then_uid_fetch() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    let message = "Subject: appended\r\n\r\nbody\r\n";
    let reply = run(
        &mut session,
        &format!(
            "p1 APPEND Archive (\\Seen \\Flagged) \"05-Jan-2024 10:00:00 +0900\" {{{}}}\r\n",
            message.len()
        ),
    );
    assert_eq!(reply, "+ Ready for literal data\r\n");
    let reply = run(&mut session, &format!("{message}\r\n"));
    assert!(
        reply.starts_with("p1 OK [APPENDUID ") && reply.ends_with(" 1] APPEND completed\r\n"),
        "{reply}"
    );
    let reply = run(&mut session, "p2 APPEND Nowhere {1+}\r\nx\r\n");
    assert_eq!(reply, "p2 NO [TRYCREATE] Mailbox does not exist\r\n");
    run(&mut session, "p3 SELECT Archive\r\n");
    let reply = run(
        &mut session,
        "p4 UID FETCH 1 (FLAGS INTERNALDATE BODY[])\r\n",
    );
    assert_eq!(
        reply,
        format!(
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged) INTERNALDATE \"05-Jan-2024 01:00:00 +0000\" BODY[] {{{}}}\r\n{message})\r\np4 OK UID FETCH completed\r\n",
            message.len()
        )
    );
    // APPEND to the selected mailbox shows up at once.
    let reply = run(&mut session, "p5 APPEND Archive {3+}\r\nhi!\r\n");
    assert!(
        reply.starts_with("* 2 EXISTS\r\n* 0 RECENT\r\np5 OK [APPENDUID "),
        "{reply}"
    );
    assert_eq!(
        run(
            &mut session,
            "p6 STATUS Archive (MESSAGES UIDNEXT UNSEEN DELETED)\r\n"
        ),
        "* STATUS \"Archive\" (MESSAGES 2 UIDNEXT 3 UNSEEN 1 DELETED 0)\r\np6 OK STATUS completed\r\n"
    );
}

#[test]
fn copy_and_move_report_copyuid() {
    let fixture = Fixture::new();
    let mut session = fixture.selected();
    let reply = run(&mut session, "c1 COPY 1:2 Archive\r\n");
    let validity = Mailstore::open(&fixture.root)
        .unwrap()
        .open_mailbox("Archive")
        .unwrap()
        .uidvalidity();
    assert_eq!(
        reply,
        format!("c1 OK [COPYUID {validity} 1:2 1:2] COPY completed\r\n")
    );
    assert_eq!(
        run(&mut session, "c2 COPY 1 Nowhere\r\n"),
        "c2 NO [TRYCREATE] Mailbox does not exist\r\n"
    );
    let reply = run(&mut session, "c3 UID MOVE 2:3 Archive\r\n");
    assert_eq!(
        reply,
        format!(
            "* OK [COPYUID {validity} 2:3 3:4] Moved\r\n* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nc3 OK MOVE completed\r\n"
        )
    );
    let reply = run(&mut session, "c4 STATUS Archive (MESSAGES)\r\n");
    assert_eq!(
        reply,
        "* STATUS \"Archive\" (MESSAGES 4)\r\nc4 OK STATUS completed\r\n"
    );
    assert_eq!(
        run(&mut session, "c5 SEARCH ALL\r\n"),
        "* SEARCH 1\r\nc5 OK SEARCH completed\r\n"
    );
}

#[test]
fn mailbox_management_list_and_lsub() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    assert_eq!(
        run(&mut session, "m1 CREATE Work.2024\r\n"),
        "m1 OK CREATE completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m2 CREATE Archive\r\n"),
        "m2 NO [ALREADYEXISTS] Mailbox already exists\r\n"
    );
    let reply = run(&mut session, "m3 LIST \"\" *\r\n");
    assert_eq!(
        reply,
        "* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\n\
* LIST (\\HasNoChildren) \".\" \"Archive\"\r\n\
* LIST (\\Noselect \\HasChildren) \".\" \"Work\"\r\n\
* LIST (\\HasNoChildren) \".\" \"Work.2024\"\r\n\
m3 OK LIST completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m4 LIST \"\" \"\"\r\n"),
        "* LIST (\\Noselect) \".\" \"\"\r\nm4 OK LIST completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m5 LIST Work. %\r\n"),
        "* LIST (\\HasNoChildren) \".\" \"Work.2024\"\r\nm5 OK LIST completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m6 RENAME Work.2024 Old\r\n"),
        "m6 OK RENAME completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m7 SUBSCRIBE Old\r\n"),
        "m7 OK SUBSCRIBE completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m8 LSUB \"\" *\r\n"),
        "* LSUB () \".\" \"Old\"\r\nm8 OK LSUB completed\r\n"
    );
    assert_eq!(
        run(&mut session, "m9 DELETE Old\r\n"),
        "m9 OK DELETE completed\r\n"
    );
    assert_eq!(
        run(&mut session, "n1 DELETE INBOX\r\n"),
        "n1 NO [CANNOT] INBOX cannot be deleted\r\n"
    );
    assert_eq!(
        run(&mut session, "n2 SELECT Old\r\n"),
        "n2 NO [NONEXISTENT] No such mailbox\r\n"
    );
    assert_eq!(
        run(&mut session, "n3 NAMESPACE\r\n"),
        "* NAMESPACE ((\"\" \".\")) NIL NIL\r\nn3 OK NAMESPACE completed\r\n"
    );
    assert_eq!(
        run(&mut session, "n4 ENABLE CONDSTORE\r\n"),
        "* ENABLED\r\nn4 OK ENABLE completed\r\n"
    );
    let reply = run(&mut session, "n5 ID (\"name\" \"mutt\")\r\n");
    assert!(
        reply.starts_with("* ID (\"name\" \"appnet\" \"version\" "),
        "{reply}"
    );
    let reply = run(&mut session, "n6 SELECT INBOX\r\nn7 SELECT Archive\r\n");
    assert!(
        reply.contains("* OK [CLOSED] Previous mailbox closed\r\n* FLAGS"),
        "{reply}"
    );
}

#[test]
fn oversized_literals_are_refused_before_allocation() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    // Synchronizing: a tagged NO instead of the continuation; the client sends nothing more.
    let reply = run(&mut session, "l1 APPEND INBOX {999999999999}\r\n");
    assert_eq!(reply, "l1 NO [TOOBIG] Message too large\r\n");
    let reply = run(&mut session, "l2 APPEND INBOX {67108865}\r\n");
    assert_eq!(reply, "l2 NO [TOOBIG] Message too large\r\n");
    let reply = run(&mut session, "l3 LOGIN {70000}\r\n");
    assert_eq!(reply, "l3 BAD Literal too large\r\n");
    // LITERAL+: the octets come anyway; they are read, dropped, and the command refused.
    let mut config = ImapConfig::new("mail.example");
    config.plaintext_login = true;
    config.max_message_bytes = 10;
    let mut small = ImapSession::new(config, "127.0.0.1:2");
    drain(&mut small);
    small.feed(b"a LOGIN u p\r\n");
    drain(&mut small);
    small.auth_result(Some(("u@example.com".into(), fixture.root.clone())));
    drain(&mut small);
    small.feed(b"l4 APPEND INBOX {20+}\r\n0123456789");
    assert_eq!(drain(&mut small).0, "");
    small.feed(b"0123456789\r\nl5 NOOP\r\n");
    assert_eq!(
        drain(&mut small).0,
        "l4 NO [TOOBIG] Message too large\r\nl5 OK NOOP completed\r\n"
    );
    // Overlong lines.
    let long = format!("l6 NOOP {}\r\nl7 NOOP\r\n", "x".repeat(70_000));
    let reply = run(&mut small, &long);
    assert_eq!(
        reply,
        "l6 BAD Command line too long\r\nl7 OK NOOP completed\r\n"
    );
}

#[test]
fn literals_split_across_feeds_at_every_position() {
    let fixture = Fixture::new();
    let input = "t1 SEARCH SUBJECT {5}\r\nlunch\r\nt2 UID FETCH 3 BODY.PEEK[HEADER.FIELDS ({7+}\r\nSUBJECT)]\r\n";
    let mut whole = fixture.selected();
    let expected = run(&mut whole, input);
    assert!(expected.contains("* SEARCH 3\r\n"), "{expected}");
    assert!(expected.contains("Subject: lunch"), "{expected}");
    for cut in 0..input.len() {
        let mut session = fixture.selected();
        let mut got = run(&mut session, &input[..cut]);
        got.push_str(&run(&mut session, &input[cut..]));
        assert_eq!(got, expected, "split at {cut}");
    }
    // Byte by byte.
    let mut session = fixture.selected();
    let got: String = input
        .bytes()
        .map(|b| run(&mut session, &(b as char).to_string()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn bad_commands_and_error_limit() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    assert_eq!(
        run(&mut session, "x FROB\r\n"),
        "x BAD Error in IMAP command: unknown command FROB\r\n"
    );
    assert_eq!(
        run(&mut session, "\r\n"),
        "* BAD Error in IMAP command: missing or invalid tag\r\n"
    );
    assert_eq!(
        run(&mut session, "y LOGIN a b\r\n"),
        "y BAD LOGIN not allowed now: Already authenticated\r\n"
    );
    for _ in 0..20 {
        session.feed(b"z FROB\r\n");
    }
    let (text, others) = drain(&mut session);
    assert!(text.ends_with("* BYE Too many errors\r\n"), "{text}");
    assert_eq!(others, vec![Output::Close]);
}

proptest::proptest! {
    #[test]
    fn any_input_never_panics(chunks in proptest::collection::vec(
        proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..8)) {
        let mut config = ImapConfig::new("mail.example");
        config.plaintext_login = true;
        let mut session = ImapSession::new(config, "127.0.0.1:1");
        for chunk in chunks {
            session.feed(&chunk);
            while session.poll_output().is_some() {}
        }
    }
}

#[test]
fn trace_lines_redact_passwords_and_summarise_literals() {
    let fixture = Fixture::new();
    let mut config = ImapConfig::new("mail.example");
    config.plaintext_login = true;
    let mut session = ImapSession::new(config, "127.0.0.1:1");
    session.set_trace(true);
    drain(&mut session);
    session.feed(b"a LOGIN alice {6+}\r\nsecret\r\n");
    let (_, others) = drain(&mut session);
    assert_eq!(others[0], Output::Received("a LOGIN \"alice\" ***".into()));
    session.auth_result(Some(("alice@example.com".into(), fixture.root.clone())));
    drain(&mut session);
    session.feed(b"b AUTHENTICATE PLAIN\r\n");
    drain(&mut session);
    let body = "x".repeat(300);
    session.feed(format!("c APPEND INBOX {{{}+}}\r\n{body}\r\n", body.len()).as_bytes());
    let (_, others) = drain(&mut session);
    assert_eq!(
        others[0],
        Output::Received("c APPEND INBOX {300+} … (325 bytes)".into())
    );
}

#[test]
fn an_append_cut_off_mid_literal_leaves_no_message() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    let reply = run(&mut session, "c1 APPEND Archive {1000}\r\n");
    assert_eq!(reply, "+ Ready for literal data\r\n");
    session.feed(&[b'x'; 400]);
    session.feed_eof();
    drain(&mut session);
    let store = Mailstore::open(&fixture.root).unwrap();
    let archive = store.open_mailbox("Archive").unwrap();
    assert!(archive.messages().is_empty());
    for sub in ["tmp", "new", "cur"] {
        let dir = fixture.root.join(".Archive").join(sub);
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "{sub}");
    }
}

#[test]
fn a_crash_during_append_leaves_at_most_an_unseen_file_in_tmp() {
    let fixture = Fixture::new();
    // What a crash between writing and renaming leaves: a partial file in tmp/.
    let tmp = fixture
        .root
        .join("tmp")
        .join("1800000000.M1P1A1.appnet,S=999");
    std::fs::write(&tmp, b"Subject: half a mess").unwrap();
    let mut session = fixture.selected();
    let reply = run(&mut session, "c1 SEARCH ALL\r\n");
    assert!(reply.starts_with("* SEARCH 1 2 3\r\n"), "{reply}");
}

/// Sessions in other threads fetch, flag and expunge the same mailbox at once: every fetch
/// answers (a message expunged meanwhile is a NO, never a half message), and afterwards the
/// mailbox is consistent: every file has one UID, and UIDs are unique.
#[test]
fn concurrent_expunge_and_fetch_never_corrupt_the_mailbox() {
    let fixture = Fixture::new();
    for n in 0..40 {
        deliver(
            &fixture.root,
            &format!("Subject: load {n}\r\n\r\nbody {n}\r\n"),
        );
    }
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let root = fixture.root.clone();
            std::thread::spawn(move || {
                let fixture = Fixture { _dir: tempfile::tempdir().unwrap(), root };
                let mut session = fixture.selected();
                for round in 0..15 {
                    let reply = match (worker, round % 3) {
                        (0, _) => run(&mut session, &format!("e{round} UID STORE {}:{} +FLAGS (\\Deleted)\r\nx{round} EXPUNGE\r\n", round * 3 + 1, round * 3 + 2)),
                        (_, 0) => run(&mut session, &format!("f{round} FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n")),
                        (_, 1) => run(&mut session, &format!("b{round} UID FETCH 1:* (BODY[])\r\n")),
                        _ => run(&mut session, &format!("s{round} STORE 1:* +FLAGS (\\Seen)\r\n")),
                    };
                    assert!(!reply.contains(" BAD "), "{reply}");
                    for line in reply.lines().filter(|l| l.contains("BODY[] {")) {
                        assert!(!line.contains("{0}"), "{line}");
                    }
                }
                session.feed(b"z LOGOUT\r\n");
                assert_eq!(drain(&mut session).1, vec![Output::Close]);
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let mailbox = Mailstore::open(&fixture.root)
        .unwrap()
        .open_mailbox("INBOX")
        .unwrap();
    let mut uids: Vec<u32> = mailbox.messages().iter().map(|m| m.uid).collect();
    let files = std::fs::read_dir(fixture.root.join("cur")).unwrap().count();
    assert_eq!(uids.len(), files);
    uids.dedup();
    assert_eq!(uids.len(), files);
    for message in mailbox.messages() {
        let bytes = mailbox.read(message.uid).unwrap();
        assert_eq!(bytes.len() as u64, message.size);
    }
}
