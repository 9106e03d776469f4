//! The DNS message codec on any bytes: decoding never panics; a message that decodes re-encodes to
//! bytes that decode to the same message; the annotated hex dump covers any input without panic.
#![no_main]

use appnet_dns::wire::{Message, explain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let lines = explain(bytes);
    let covered: usize = lines.iter().map(|line| line.bytes.len()).sum();
    assert!(covered <= bytes.len());
    if let Ok(message) = Message::decode(bytes) {
        let encoded = message.encode();
        let again = Message::decode(&encoded).expect("our own encoding decodes");
        assert_eq!(again, message);
        let _ = message.to_string();
        let _ = message.summary();
    }
});
