//! The SMTP server session on any bytes, cut into reads of any sizes and answered as a driver
//! would (storage succeeds, TLS comes up, passwords are wrong): never a panic, nothing after
//! Close, and every stored message within the size limit with no bare LF.
#![no_main]

mod common;

use std::sync::Arc;

use appnet_mail::smtp::{AcceptAll, Output, ServerConfig, ServerSession};
use libfuzzer_sys::fuzz_target;

const MAX_MESSAGE: usize = 4096;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let mut config = ServerConfig::new("mx.fuzz.example");
    config.max_message_bytes = MAX_MESSAGE;
    config.max_recipients = 5;
    config.tls_available = seed & 1 == 1;
    config.auth_without_tls = seed & 2 == 2;
    let mut session = ServerSession::new(config, Arc::new(AcceptAll), "192.0.2.1:1234");
    session.set_trace(seed & 4 == 4);
    let mut closed = false;
    for piece in common::reads(seed, stream) {
        session.feed(piece);
        drain(&mut session, &mut closed);
    }
    session.feed_eof();
    drain(&mut session, &mut closed);
});

fn drain(session: &mut ServerSession, closed: &mut bool) {
    while let Some(output) = session.poll_output() {
        assert!(!*closed, "output after Close: {output:?}");
        match output {
            Output::Send(bytes) => assert!(bytes.ends_with(b"\r\n")),
            Output::StartTls => session.tls_established(),
            Output::Authenticate { .. } => session.auth_result(None),
            Output::Message(envelope, data) => {
                assert!(!envelope.rcpt_to.is_empty() && envelope.rcpt_to.len() <= 5);
                assert!(data.len() <= MAX_MESSAGE + 2);
                assert!(!data.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
                session.message_stored(Ok("1".into()));
            }
            Output::Received(_) => {}
            Output::Close => *closed = true,
        }
    }
}
