//! The strict bencode decoder on any bytes: never a panic, and whatever it accepts encodes back
//! to exactly the bytes it came from (one encoding per value, so an info-hash cannot differ
//! between two readings of one file).
#![no_main]

use appnet_torrent::bencode::{Owned, decode, decode_prefix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(value) = decode(input) {
        assert_eq!(Owned::from(&value).encode(), input);
    }
    if let Ok((value, used)) = decode_prefix(input) {
        assert_eq!(Owned::from(&value).encode(), &input[..used]);
    }
});
