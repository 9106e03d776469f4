//! The POP3 command parser and session on any bytes, logged in to a small maildrop rebuilt
//! for every input: never a panic, nothing after Close, every response ended by CRLF.
#![no_main]

mod common;

use std::path::PathBuf;

use appnet_mail::pop3::command::parse_command;
use appnet_mail::pop3::session::{Output, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    for line in stream.split(|&b| b == b'\n') {
        let _ = parse_command(line);
    }
    let dir = common::fresh_maildir(
        "pop3",
        &[
            b"Subject: one\r\n\r\n.dot line\r\nbody\r\n",
            b"Subject: two\n\nLF only\n",
        ],
    );
    let mut config = SessionConfig::new("pop3.fuzz.example");
    config.plaintext_auth = true;
    config.tls_available = seed & 1 == 1;
    let mut session = Session::new(config);
    let mut closed = false;
    for piece in common::reads(seed, stream) {
        session.feed(piece);
        drain(&mut session, &mut closed, &dir);
    }
    session.feed_eof();
    drain(&mut session, &mut closed, &dir);
});

fn drain(session: &mut Session, closed: &mut bool, dir: &PathBuf) {
    while let Some(output) = session.poll_output() {
        assert!(!*closed, "output after Close: {output:?}");
        match output {
            Output::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
            Output::StartTls => session.tls_established(),
            Output::Authenticate { .. } => {
                session.auth_result(Some(("u@fuzz.example".into(), dir.clone())));
            }
            Output::Received(_) => {}
            Output::Close => *closed = true,
        }
    }
}
