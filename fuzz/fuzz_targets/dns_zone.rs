//! The zone-file parser on any text: an error with a line number or a valid zone, never a panic,
//! and every record of a parsed zone survives the wire codec.
#![no_main]

use std::path::Path;

use appnet_dns::wire::{Message, Name, RecordType};
use appnet_dns::zone::{Zone, no_includes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let origin = Name::from_ascii("fuzz.example.").expect("a valid origin");
    let Ok(parsed) = Zone::parse(text, &origin, Path::new("fuzz.zone"), no_includes) else {
        return;
    };
    let mut message = Message::query(1, origin, RecordType::AXFR, false, None);
    message.header.qr = true;
    message.answers = parsed.zone.records().take(64).collect();
    let decoded = Message::decode(&message.encode()).expect("zone records encode");
    assert_eq!(decoded.answers.len(), message.answers.len());
});
