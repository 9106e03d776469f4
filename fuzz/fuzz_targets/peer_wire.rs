//! The peer wire decoders on any bytes, cut into reads of any sizes as a socket would: a
//! handshake, then messages for a torrent of 0 to 4,095 pieces. Never a panic; the buffer never
//! holds more than one message and one read; every message decoded encodes back to exactly the
//! bytes it came from.
#![no_main]

mod common;

use appnet_torrent::wire::{HANDSHAKE_LEN, HandshakeDecoder, MAX_MESSAGE_LEN, MessageDecoder};
use libfuzzer_sys::fuzz_target;

/// The longest read `common::reads` makes.
const MAX_READ: usize = 64;

fuzz_target!(|input: &[u8]| {
    let [seed, count, stream @ ..] = input else {
        return;
    };
    let piece_count = u32::from(*count) * 16 + u32::from(seed & 15);
    let mut handshake = HandshakeDecoder::new();
    let mut messages = MessageDecoder::new(piece_count);
    let mut shaken = false;
    let mut decoded = Vec::new();
    'reads: for mut read in common::reads(*seed, stream) {
        if !shaken {
            let Ok((took, done)) = handshake.feed(read) else {
                return;
            };
            let Some(done) = done else {
                continue;
            };
            assert_eq!(done.encode()[..], stream[..HANDSHAKE_LEN]);
            shaken = true;
            read = &read[took..];
        }
        if messages.feed(read).is_err() {
            break;
        }
        loop {
            match messages.next_message() {
                Ok(Some(message)) => message.encode_into(&mut decoded),
                Ok(None) => break,
                Err(_) => break 'reads,
            }
        }
        assert!(messages.buffered() <= MAX_MESSAGE_LEN as usize + 4 + MAX_READ);
    }
    if shaken {
        let after = &stream[HANDSHAKE_LEN..];
        assert_eq!(decoded[..], after[..decoded.len()]);
    }
});
