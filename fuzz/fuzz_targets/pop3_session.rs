//! The POP3 command parser and session on any bytes, logged in to a small maildrop rebuilt
//! for every input: never a panic, nothing after Close, every response ended by CRLF.
#![no_main]

use std::path::PathBuf;

use appnet_mail::maildir::Maildir;
use appnet_mail::pop3::command::parse_command;
use appnet_mail::pop3::session::{Output, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

fn maildrop() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("appnet-fuzz-pop3-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let maildir = Maildir::create(&dir).expect("a Maildir");
    maildir
        .deliver(b"Subject: one\r\n\r\n.dot line\r\nbody\r\n")
        .expect("a message");
    maildir.deliver(b"Subject: two\n\nLF only\n").expect("a message");
    dir
}

fuzz_target!(|input: &[u8]| {
    let Some((&seed, mut stream)) = input.split_first() else {
        return;
    };
    for line in stream.split(|&b| b == b'\n') {
        let _ = parse_command(line);
    }
    let dir = maildrop();
    let mut config = SessionConfig::new("pop3.fuzz.example");
    config.plaintext_auth = true;
    config.tls_available = seed & 1 == 1;
    let mut session = Session::new(config);
    let mut closed = false;
    let mut state = u32::from(seed) | 1;
    while !stream.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = usize::try_from(state % 64).unwrap_or(0) + 1;
        let (piece, rest) = stream.split_at(len.min(stream.len()));
        session.feed(piece);
        drain(&mut session, &mut closed, &dir);
        stream = rest;
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
