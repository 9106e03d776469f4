//! The FTP command parser and the client's reply parser on any bytes: never a panic, every
//! refusal one of RFC 959's codes, and replies keep coming until an error.
#![no_main]

use appnet_ftp::proto::command::parse_command;
use appnet_ftp::proto::reply::ReplyParser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    for line in input.split(|&b| b == b'\n') {
        if let Err(error) = parse_command(line) {
            assert!(matches!(error.code(), 500 | 501 | 504));
        }
    }
    let mut parser = ReplyParser::default();
    for piece in input.chunks(7) {
        parser.feed(piece);
        while let Some(Ok(reply)) = parser.next_reply() {
            assert!((100..600).contains(&reply.code));
        }
    }
});
