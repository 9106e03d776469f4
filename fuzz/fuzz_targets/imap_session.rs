//! The IMAP session on any bytes, cut into reads of any sizes, logged in to a small mailbox
//! that is rebuilt for every input: never a panic, nothing after Close, every response line
//! ended by CRLF.
#![no_main]

mod common;

use std::path::PathBuf;

use appnet_mail::imap::{ImapConfig, ImapSession, Output};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let dir = common::fresh_maildir(
        "imap",
        &[
            b"From: a@b.example\r\nSubject: =?utf-8?B?7JWI64WV?=\r\n\r\nhello\r\n",
            b"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n\r\none\r\n--X--\r\n",
        ],
    );
    let mut config = ImapConfig::new("imap.fuzz.example");
    config.plaintext_login = true;
    config.tls_available = seed & 1 == 1;
    config.max_message_bytes = 4096;
    let mut session = ImapSession::new(config, "192.0.2.1:1234");
    let mut closed = false;
    for piece in common::reads(seed, stream) {
        session.feed(piece);
        drain(&mut session, &mut closed, &dir);
    }
    session.feed_eof();
    drain(&mut session, &mut closed, &dir);
});

fn drain(session: &mut ImapSession, closed: &mut bool, dir: &PathBuf) {
    while let Some(output) = session.poll_output() {
        assert!(!*closed, "output after Close: {output:?}");
        match output {
            Output::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
            Output::StartTls => session.tls_established(),
            Output::Authenticate { .. } => {
                session.auth_result(Some(("u@fuzz.example".into(), dir.clone())));
            }
            Output::Idle { .. } => session.mailbox_changed(),
            Output::Received(_) => {}
            Output::Close => *closed = true,
        }
    }
}
