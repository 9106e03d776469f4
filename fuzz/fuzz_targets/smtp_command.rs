//! The SMTP command parser on any line: never a panic; what it accepts writes back as a line
//! that parses to the same command, and what it refuses maps to a 5xx reply.
#![no_main]

use appnet_mail::smtp::parse_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    match parse_command(line) {
        Ok(command) => {
            let again = parse_command(command.to_line().as_bytes());
            assert_eq!(again.as_ref(), Ok(&command), "line {:?}", command.to_line());
        }
        Err(error) => assert!((500..600).contains(&error.reply().code)),
    }
});
