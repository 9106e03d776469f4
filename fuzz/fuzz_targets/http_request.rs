//! The HTTP/1.1 server connection on any bytes, cut into reads of any sizes: never a panic,
//! nothing after an error, and every request it reports encodes to a head that parses back to
//! the same request.
#![no_main]

mod common;

use appnet_http::proto::{Event, ParseConfig, Request, ResponseHead, ServerConn};
use libfuzzer_sys::fuzz_target;

/// Small enough that the buffer bound is reached often, large enough for real heads.
const CONFIG: ParseConfig = ParseConfig {
    max_buffer: 4096,
    max_body: 1 << 20,
    ..ParseConfig::server()
};

fuzz_target!(|input: &[u8]| {
    // The first byte seeds the read sizes; the rest is what the client sends.
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let mut conn = ServerConn::new(CONFIG);
    let mut failed = false;
    for piece in common::reads(seed, stream) {
        conn.feed(piece);
        drain(&mut conn, &mut failed);
    }
    conn.feed_eof();
    drain(&mut conn, &mut failed);
});

/// Polls every event, answering each request as a driver would.
fn drain(conn: &mut ServerConn, failed: &mut bool) {
    while let Some(event) = conn.poll_event() {
        assert!(!*failed, "event after an error: {event:?}");
        match event {
            Event::Error(_) => {
                *failed = true;
                assert!(conn.is_closed());
            }
            Event::Request(request) => check_round_trip(&request),
            Event::End { trailers } => {
                assert!(!trailers.contains("content-length") && !trailers.contains("host"));
                let mut head = ResponseHead::new(200).with_header("Content-Length", "0");
                conn.prepare_response(&mut head);
                conn.response_done();
            }
            Event::Continue | Event::Body(_) => {}
        }
    }
}

/// What the parser accepted, the encoder writes, and the parser reads back unchanged.
fn check_round_trip(request: &Request) {
    let bytes = request.encode().expect("a parsed request encodes");
    let mut again = ServerConn::new(CONFIG);
    again.feed(&bytes);
    match again.poll_event() {
        Some(Event::Request(parsed)) => assert_eq!(&parsed, request),
        other => panic!("re-encoded request parsed as {other:?}"),
    }
}
