//! The MIME message parser on any bytes: never a panic, every part's ranges inside the message,
//! and every accessor a mail reader or the IMAP server would call answers.
#![no_main]

use appnet_mail::message::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(message) = Message::parse(bytes) else {
        return;
    };
    for part in message.root().walk() {
        assert!(part.range().end <= bytes.len());
        assert!(part.header_range.start <= part.body_range.end);
        let _ = message.decoded_body(part);
        let _ = message.text_of(part);
        let _ = message.line_count(part.body_range.clone());
        let _ = part.file_name();
    }
    let _ = (
        message.subject(),
        message.from(),
        message.to(),
        message.cc(),
    );
    let _ = (message.date(), message.message_id());
    let _ = (
        message.text_body(),
        message.html_body(),
        message.attachments(),
    );
});
