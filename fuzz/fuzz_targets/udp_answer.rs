//! The upper-case server's answer to any datagram: never a panic, never a reply over one datagram,
//! and an upper-case reply only for valid UTF-8.
#![no_main]

use appnet_udp::proto::{EchoReply, MAX_DATAGRAM, answer, ping_reply_seq};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|datagram: &[u8]| {
    let reply = answer(datagram);
    assert!(reply.as_bytes().len() <= MAX_DATAGRAM);
    if let EchoReply::Upper(_) = reply {
        assert!(std::str::from_utf8(datagram).is_ok());
    }
    let _ = ping_reply_seq(datagram);
});
