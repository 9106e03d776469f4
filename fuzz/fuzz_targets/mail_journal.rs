//! The mail queue's journal record decoder on any bytes (a damaged or torn journal): never a
//! panic, and a record it accepts encodes back to the same bytes.
#![no_main]

use appnet_mail::queue::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok((record, used)) = Record::decode(bytes) {
        let mut again = Vec::new();
        record.encode(&mut again).expect("a decoded record encodes");
        assert_eq!(again, &bytes[..used]);
    }
});
