//! The SMTP client session on any server bytes: never a panic, and it ends with a report on
//! every recipient once the connection closes.
#![no_main]

mod common;

use appnet_mail::smtp::{ClientConfig, ClientOutput, ClientSession, TlsPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let config = ClientConfig {
        ehlo_name: "client.fuzz.example".into(),
        tls: match seed % 3 {
            0 => TlsPolicy::Never,
            1 => TlsPolicy::Opportunistic,
            _ => TlsPolicy::Required,
        },
        tls_active: false,
        auth: (seed & 4 == 4).then(|| ("user".into(), "pass".into())),
    };
    let rcpts = vec!["a@x.example".to_string(), "b@y.example".to_string()];
    let mut session = ClientSession::new(
        config,
        "s@z.example".into(),
        rcpts.clone(),
        b"Subject: x\r\n\r\n.hi\r\n",
        false,
        seed & 8 == 8,
    );
    let mut done = None;
    for piece in common::reads(seed, stream) {
        if done.is_some() {
            break;
        }
        session.feed(piece);
        drain(&mut session, &mut done);
    }
    if done.is_none() {
        session.feed_eof();
        drain(&mut session, &mut done);
    }
    let delivery = done.expect("the session reports once the connection is gone");
    let reported: Vec<&String> = delivery.recipients.iter().map(|(r, _)| r).collect();
    assert_eq!(reported, rcpts.iter().collect::<Vec<_>>());
});

fn drain(session: &mut ClientSession, done: &mut Option<appnet_mail::smtp::Delivery>) {
    while let Some(output) = session.poll_output() {
        match output {
            ClientOutput::Send(_) => {}
            ClientOutput::StartTls => session.tls_established(),
            ClientOutput::Done(delivery) => *done = Some(delivery),
        }
    }
}
