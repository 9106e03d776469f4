//! Tests of [`ServerConn`]: whole requests, the request-smuggling table, pipelining and
//! persistence, 100-continue, limits, and the properties (no panic on any input; the same
//! events however the input is split; encode → parse round trips).

use proptest::prelude::*;

use super::*;
use crate::proto::body::{encode_chunk, last_chunk};
use crate::proto::client::{ResponseEvent, ResponseParser};
use crate::proto::request::RequestHead;

/// Feeds `pieces` in order, polling after each as a driver would, and answers every request at
/// its `End`. Adjacent `Body` events are merged so that results compare across splits.
fn drive(config: ParseConfig, pieces: &[&[u8]], eof: bool) -> Vec<Event> {
    let mut conn = ServerConn::new(config);
    let mut events = Vec::new();
    for piece in pieces {
        conn.feed(piece);
        pump(&mut conn, &mut events);
    }
    if eof {
        conn.feed_eof();
        pump(&mut conn, &mut events);
    }
    events
}

fn pump(conn: &mut ServerConn, events: &mut Vec<Event>) {
    while let Some(event) = conn.poll_event() {
        let end = matches!(event, Event::End { .. });
        push_merged(events, event);
        if end {
            let mut head = ResponseHead::new(200).with_header("Content-Length", "0");
            conn.prepare_response(&mut head);
            conn.response_done();
        }
    }
}

fn push_merged(events: &mut Vec<Event>, event: Event) {
    match (events.last_mut(), event) {
        (Some(Event::Body(prev)), Event::Body(more)) => prev.extend(more),
        (_, event) => events.push(event),
    }
}

fn whole(input: &[u8]) -> Vec<Event> {
    drive(ParseConfig::server(), &[input], false)
}

fn bytewise(input: &[u8]) -> Vec<Event> {
    let pieces: Vec<&[u8]> = input.chunks(1).collect();
    drive(ParseConfig::server(), &pieces, false)
}

/// The requests (as `METHOD target` and body) before the first error, and that error.
type Outcome = (Vec<(String, Vec<u8>)>, Option<HttpError>);

fn outcome(events: &[Event]) -> Outcome {
    let mut requests: Vec<(String, Vec<u8>)> = Vec::new();
    for event in events {
        match event {
            Event::Request(request) => {
                requests.push((format!("{} {}", request.method, request.target), Vec::new()))
            }
            Event::Body(data) => {
                if let Some((_, body)) = requests.last_mut() {
                    body.extend_from_slice(data);
                }
            }
            Event::Error(error) => return (requests, Some(error.clone())),
            Event::Continue | Event::End { .. } => {}
        }
    }
    (requests, None)
}

fn ok(requests: &[(&str, &[u8])]) -> Outcome {
    let requests = requests
        .iter()
        .map(|(line, body)| (line.to_string(), body.to_vec()))
        .collect();
    (requests, None)
}

fn err(requests: &[(&str, &[u8])], error: HttpError) -> Outcome {
    (ok(requests).0, Some(error))
}

#[test]
fn a_simple_get() {
    let events = whole(b"GET /hello HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\r\n");
    let [Event::Request(request), Event::End { trailers }] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(request.method, Method::Get);
    assert_eq!(request.target, "/hello");
    assert_eq!(request.headers.get("user-agent"), Some("curl/8"));
    assert!(trailers.is_empty());
}

#[test]
fn bodies_by_content_length_and_chunked() {
    let input = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloPUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=\"y\"\r\nde\r\n0\r\nDigest: sha-256=x\r\n\r\n";
    assert_eq!(
        outcome(&whole(input)),
        ok(&[("POST /a", b"hello"), ("PUT /b", b"abcde")])
    );
    let events = whole(input);
    let Some(Event::End { trailers }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(trailers.get("digest"), Some("sha-256=x"));
}

#[test]
fn a_get_may_carry_a_body() {
    let input = b"GET /q HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(outcome(&whole(input)), ok(&[("GET /q", b"{}")]));
}

/// Request-smuggling and strict-parsing cases, each as the requests a front-end and we would
/// have to agree on: we either parse them one clear way or refuse.
#[test]
fn smuggling_table() {
    use HttpError::*;
    const H: &str = "Host: h\r\n";
    let post =
        |fields: &str, body: &str| format!("POST / HTTP/1.1\r\n{H}{fields}\r\n{body}").into_bytes();
    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        (
            "CL.TE",
            post(
                "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\nG",
            ),
            err(&[], ContentLengthWithTransferEncoding),
        ),
        (
            "TE.CL",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                "8\r\nSMUGGLED\r\n0\r\n\r\n",
            ),
            err(&[], ContentLengthWithTransferEncoding),
        ),
        (
            "TE xchunked",
            post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"),
            err(&[], ChunkedNotFinal),
        ),
        (
            "TE space before colon",
            post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
            err(&[], WhitespaceBeforeColon),
        ),
        (
            "TE tab is OWS",
            post("Transfer-Encoding:\tchunked\r\n", "1\r\nx\r\n0\r\n\r\n"),
            ok(&[("POST /", b"x")]),
        ),
        (
            "TE no space",
            post("Transfer-Encoding:chunked\r\n", "1\r\nx\r\n0\r\n\r\n"),
            ok(&[("POST /", b"x")]),
        ),
        (
            "TE trailing OWS",
            post("Transfer-Encoding: chunked \t\r\n", "1\r\nx\r\n0\r\n\r\n"),
            ok(&[("POST /", b"x")]),
        ),
        (
            "TE upper case",
            post("TRANSFER-ENCODING: CHUNKED\r\n", "1\r\nx\r\n0\r\n\r\n"),
            ok(&[("POST /", b"x")]),
        ),
        (
            "TE then identity",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
                "0\r\n\r\n",
            ),
            err(&[], ChunkedNotFinal),
        ),
        (
            "TE chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
            err(&[], ChunkedNotFinal),
        ),
        (
            "TE identity",
            post("Transfer-Encoding: identity\r\n", ""),
            err(&[], ChunkedNotFinal),
        ),
        (
            "TE gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
            err(&[], UnsupportedTransferCoding),
        ),
        (
            "TE chunked twice",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            err(&[], ChunkedTwice),
        ),
        (
            "TE quoted",
            post("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n"),
            err(&[], InvalidTransferEncoding),
        ),
        (
            "TE with parameter",
            post("Transfer-Encoding: chunked;q=1\r\n", "0\r\n\r\n"),
            err(&[], InvalidTransferEncoding),
        ),
        (
            "TE vertical tab",
            post("Transfer-Encoding: \x0bchunked\r\n", "0\r\n\r\n"),
            err(&[], InvalidFieldValue),
        ),
        (
            "TE NUL",
            post("Transfer-Encoding: chunked\x00\r\n", "0\r\n\r\n"),
            err(&[], InvalidFieldValue),
        ),
        (
            "TE obs-fold",
            post("X: y\r\n Transfer-Encoding: chunked\r\n", "0\r\n\r\n"),
            err(&[], ObsFold),
        ),
        (
            "TE folded value",
            post("Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n"),
            err(&[], ObsFold),
        ),
        (
            "TE underscore is another field",
            post("Transfer_Encoding: chunked\r\n", "0\r\n\r\n"),
            err(&[("POST /", b"")], InvalidRequestLine("no request-target")),
        ),
        (
            "TE in HTTP/1.0",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            err(&[], TransferEncodingInHttp10),
        ),
        (
            "CL plus sign",
            post("Content-Length: +5\r\n", "hello"),
            err(&[], InvalidContentLength),
        ),
        (
            "CL minus",
            post("Content-Length: -1\r\n", ""),
            err(&[], InvalidContentLength),
        ),
        (
            "CL hex",
            post("Content-Length: 0x5\r\n", "hello"),
            err(&[], InvalidContentLength),
        ),
        (
            "CL trailing OWS",
            post("Content-Length: 5 \r\n", "hello"),
            ok(&[("POST /", b"hello")]),
        ),
        (
            "CL leading OWS",
            post("Content-Length:  \t5\r\n", "hello"),
            ok(&[("POST /", b"hello")]),
        ),
        (
            "CL space inside",
            post("Content-Length: 1 0\r\n", "0123456789"),
            err(&[], InvalidContentLength),
        ),
        (
            "CL list differing",
            post("Content-Length: 5, 6\r\n", "hello!"),
            err(&[], DuplicateContentLength),
        ),
        (
            "CL list equal",
            post("Content-Length: 5, 5\r\n", "hello"),
            err(&[], DuplicateContentLength),
        ),
        (
            "CL twice equal",
            post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
            err(&[], DuplicateContentLength),
        ),
        (
            "CL twice differing",
            post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
            err(&[], DuplicateContentLength),
        ),
        (
            "CL empty",
            post("Content-Length:\r\n", ""),
            err(&[], InvalidContentLength),
        ),
        (
            "CL overflow",
            post("Content-Length: 18446744073709551616\r\n", ""),
            err(&[], InvalidContentLength),
        ),
        (
            "CL space before colon",
            post("Content-Length : 5\r\n", "hello"),
            err(&[], WhitespaceBeforeColon),
        ),
        (
            "CL too large",
            post("Content-Length: 16777217\r\n", ""),
            err(
                &[],
                BodyTooLarge {
                    max: 16 * 1024 * 1024,
                },
            ),
        ),
        (
            "bare LF head",
            b"GET / HTTP/1.1\nHost: h\n\n".to_vec(),
            err(&[], BareLf),
        ),
        (
            "bare LF field",
            b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n".to_vec(),
            err(&[], BareLf),
        ),
        (
            "bare CR field",
            b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n".to_vec(),
            err(&[], BareCr),
        ),
        (
            "CR CR LF",
            b"GET / HTTP/1.1\r\nHost: h\r\r\n\r\n".to_vec(),
            err(&[], BareCr),
        ),
        (
            "NUL in value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n".to_vec(),
            err(&[], InvalidFieldValue),
        ),
        (
            "obs-text in value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xe9\r\n\r\n".to_vec(),
            ok(&[("GET /", b"")]),
        ),
        (
            "chunk size overflow",
            post("Transfer-Encoding: chunked\r\n", "ffffffffffffffffff\r\n"),
            err(&[("POST /", b"")], ChunkSizeOverflow),
        ),
        (
            "chunk size over the limit",
            post("Transfer-Encoding: chunked\r\n", "fffffff\r\n"),
            err(
                &[("POST /", b"")],
                BodyTooLarge {
                    max: 16 * 1024 * 1024,
                },
            ),
        ),
        (
            "chunk size 0x",
            post(
                "Transfer-Encoding: chunked\r\n",
                "0x5\r\nhello\r\n0\r\n\r\n",
            ),
            err(&[("POST /", b"")], InvalidChunkSize),
        ),
        (
            "chunk size leading space",
            post("Transfer-Encoding: chunked\r\n", " 5\r\nhello\r\n0\r\n\r\n"),
            err(&[("POST /", b"")], InvalidChunkSize),
        ),
        (
            "chunk size trailing space",
            post("Transfer-Encoding: chunked\r\n", "5 \r\nhello\r\n0\r\n\r\n"),
            err(&[("POST /", b"")], InvalidChunkExtension),
        ),
        (
            "chunk BWS before ext",
            post(
                "Transfer-Encoding: chunked\r\n",
                "5 ; a = b\r\nhello\r\n0\r\n\r\n",
            ),
            ok(&[("POST /", b"hello")]),
        ),
        (
            "chunk ext quoted",
            post(
                "Transfer-Encoding: chunked\r\n",
                "5;a=\"x;y\\\"z\"\r\nhello\r\n0;last\r\n\r\n",
            ),
            ok(&[("POST /", b"hello")]),
        ),
        (
            "chunk ext unterminated",
            post(
                "Transfer-Encoding: chunked\r\n",
                "5;a=\"x\r\nhello\r\n0\r\n\r\n",
            ),
            err(&[("POST /", b"")], InvalidChunkExtension),
        ),
        (
            "chunk data too long",
            post("Transfer-Encoding: chunked\r\n", "3\r\nhello\r\n0\r\n\r\n"),
            err(&[("POST /", b"hel")], MissingChunkCrlf),
        ),
        (
            "chunk LF only",
            post("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n"),
            err(&[("POST /", b"")], BareLf),
        ),
        (
            "chunk data LF only",
            post("Transfer-Encoding: chunked\r\n", "5\r\nhello\n0\r\n\r\n"),
            err(&[("POST /", b"hello")], MissingChunkCrlf),
        ),
        (
            "forbidden trailer dropped",
            post(
                "Transfer-Encoding: chunked\r\n",
                "0\r\nContent-Length: 50\r\nHost: evil\r\n\r\n",
            ),
            ok(&[("POST /", b"")]),
        ),
        (
            "trailer obs-fold",
            post("Transfer-Encoding: chunked\r\n", "0\r\nA: b\r\n c\r\n\r\n"),
            err(&[("POST /", b"")], ObsFold),
        ),
        (
            "no Host",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            err(&[], MissingHost),
        ),
        (
            "two Hosts",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            err(&[], DuplicateHost),
        ),
        (
            "HTTP/2.0",
            b"GET / HTTP/2.0\r\nHost: h\r\n\r\n".to_vec(),
            err(&[], UnsupportedVersion { major: 2, minor: 0 }),
        ),
        (
            "absolute-form",
            b"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
            ok(&[("GET http://h/x", b"")]),
        ),
        (
            "CONNECT",
            b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n".to_vec(),
            ok(&[("CONNECT h:443", b"")]),
        ),
        (
            "OPTIONS *",
            b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
            ok(&[("OPTIONS *", b"")]),
        ),
        (
            "leading CRLF",
            b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
            ok(&[("GET /", b"")]),
        ),
        (
            "space first line",
            b"GET / HTTP/1.1\r\n Host: h\r\n\r\n".to_vec(),
            err(&[], ObsFold),
        ),
    ];
    for (name, input, expected) in &cases {
        assert_eq!(&outcome(&whole(input)), expected, "{name} (whole)");
        assert_eq!(
            &outcome(&bytewise(input)),
            expected,
            "{name} (byte at a time)"
        );
    }
}

#[test]
fn error_statuses_seen_by_a_server() {
    let status = |input: &[u8]| match whole(input).last() {
        Some(Event::Error(error)) => error.status(),
        other => panic!("{other:?}"),
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(9000));
    assert_eq!(status(long_target.as_bytes()), 414);
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    assert_eq!(status(big_header.as_bytes()), 431);
    let many = format!(
        "GET / HTTP/1.1\r\nHost: h\r\n{}\r\n",
        "X: y\r\n".repeat(100)
    );
    assert_eq!(status(many.as_bytes()), 431);
    assert_eq!(status(b"GET / HTTP/3.0\r\n\r\n"), 505);
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n"),
        501
    );
    assert_eq!(
        status(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n"),
        413
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
    let head = error_response(&HttpError::MissingHost);
    assert_eq!(
        head.encode().unwrap(),
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn after_an_error_nothing_more_is_produced() {
    let mut conn = ServerConn::default();
    conn.feed(
        b"GET / HTTP/1.1\r\nHost: h\r\nBad Field: x\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    assert_eq!(
        conn.poll_event(),
        Some(Event::Error(HttpError::InvalidFieldName))
    );
    assert!(conn.is_closed());
    assert_eq!(conn.input_capacity(), 0);
    conn.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    conn.response_done();
    conn.feed_eof();
    assert_eq!(conn.poll_event(), None);
}

#[test]
fn pipelined_requests_wait_for_the_response() {
    let input = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut conn = ServerConn::default();
    conn.feed(input);
    assert!(matches!(conn.poll_event(), Some(Event::Request(r)) if r.target == "/1"));
    assert!(matches!(conn.poll_event(), Some(Event::End { .. })));
    assert_eq!(
        conn.poll_event(),
        None,
        "the next request waits for the response"
    );
    assert!(conn.keep_alive());
    conn.response_done();
    assert!(matches!(conn.poll_event(), Some(Event::Request(r)) if r.target == "/2"));
    assert_eq!(conn.poll_event(), Some(Event::Body(b"abc".to_vec())));
    assert!(matches!(conn.poll_event(), Some(Event::End { .. })));
    assert_eq!(conn.poll_event(), None);
    conn.response_done();
    assert!(matches!(conn.poll_event(), Some(Event::Request(r)) if r.target == "/3"));
}

#[test]
fn pipelined_requests_fed_a_byte_at_a_time() {
    let input = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n";
    let expected = ok(&[("GET /1", b""), ("POST /2", b"abc"), ("GET /3", b"")]);
    assert_eq!(outcome(&whole(input)), expected);
    assert_eq!(outcome(&bytewise(input)), expected);
    assert_eq!(whole(input), bytewise(input));
}

#[test]
fn http10_persistence() {
    // HTTP/1.0 closes by default.
    let mut conn = ServerConn::default();
    conn.feed(b"GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n");
    assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
    assert!(matches!(conn.poll_event(), Some(Event::End { .. })));
    assert!(!conn.keep_alive());
    assert!(!conn.chunked_allowed());
    let mut head = ResponseHead::new(200).with_header("Content-Length", "0");
    conn.prepare_response(&mut head);
    assert_eq!(head.headers.get("connection"), Some("close"));
    conn.response_done();
    assert!(conn.is_closed());
    assert_eq!(conn.poll_event(), None);

    // With keep-alive it persists, and the response says so.
    let mut conn = ServerConn::default();
    conn.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n");
    assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
    assert!(matches!(conn.poll_event(), Some(Event::End { .. })));
    let mut head = ResponseHead::new(200).with_header("Content-Length", "0");
    conn.prepare_response(&mut head);
    assert_eq!(head.headers.get("connection"), Some("keep-alive"));
    conn.response_done();
    assert!(matches!(conn.poll_event(), Some(Event::Request(r)) if r.target == "/2"));

    // A close-delimited response to a keep-alive HTTP/1.0 client ends persistence.
    let mut conn = ServerConn::default();
    conn.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    conn.poll_event();
    conn.poll_event();
    let mut head = ResponseHead::new(200);
    conn.prepare_response(&mut head);
    assert_eq!(head.headers.get("connection"), Some("close"));
}

#[test]
fn http11_persistence() {
    let mut conn = ServerConn::default();
    conn.feed(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    conn.poll_event();
    conn.poll_event();
    assert!(!conn.keep_alive());
    let mut head = ResponseHead::new(204);
    conn.prepare_response(&mut head);
    assert_eq!(head.headers.get("connection"), Some("close"));

    // The server may close on its own by saying so.
    let mut conn = ServerConn::default();
    conn.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    conn.poll_event();
    conn.poll_event();
    assert!(conn.keep_alive());
    let mut head = ResponseHead::new(503)
        .with_header("Connection", "close")
        .with_header("Content-Length", "0");
    conn.prepare_response(&mut head);
    assert_eq!(head.headers.count("connection"), 1);
    conn.response_done();
    assert!(conn.is_closed());

    // No Connection field is added to a persistent HTTP/1.1 exchange; 304 needs no length.
    let mut conn = ServerConn::default();
    conn.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    conn.poll_event();
    conn.poll_event();
    let mut head = ResponseHead::new(304);
    conn.prepare_response(&mut head);
    assert!(!head.headers.contains("connection"));
    assert!(conn.chunked_allowed());
}

#[test]
fn answering_before_the_body_is_read_closes() {
    let mut conn = ServerConn::default();
    conn.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
    assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
    assert_eq!(conn.poll_event(), Some(Event::Body(b"abc".to_vec())));
    let mut head = ResponseHead::new(413).with_header("Content-Length", "0");
    conn.prepare_response(&mut head);
    assert_eq!(head.headers.get("connection"), Some("close"));
    conn.response_done();
    assert!(conn.is_closed());
}

#[test]
fn expect_100_continue() {
    let mut conn = ServerConn::default();
    conn.feed(b"PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    let Some(Event::Request(request)) = conn.poll_event() else {
        panic!("no request");
    };
    assert!(request.expects_continue());
    assert_eq!(conn.poll_event(), Some(Event::Continue));
    assert_eq!(conn.poll_event(), None);
    assert_eq!(CONTINUE, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.feed(b"abc");
    assert_eq!(conn.poll_event(), Some(Event::Body(b"abc".to_vec())));
    assert!(matches!(conn.poll_event(), Some(Event::End { .. })));

    // Not for HTTP/1.0, and not when there is no body to wait for.
    for input in [
        &b"PUT /f HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"[..],
        b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
    ] {
        assert!(!whole(input).contains(&Event::Continue), "{input:?}");
    }
}

#[test]
fn eof_between_and_inside_requests() {
    let events = drive(
        ParseConfig::server(),
        &[b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"],
        true,
    );
    assert_eq!(events.len(), 2);
    let events = drive(ParseConfig::server(), &[b"GET / HTTP/1.1\r\nHost:"], true);
    assert_eq!(events, [Event::Error(HttpError::IncompleteMessage)]);
    let events = drive(
        ParseConfig::server(),
        &[b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab"],
        true,
    );
    assert_eq!(
        events.last(),
        Some(&Event::Error(HttpError::IncompleteMessage))
    );

    // A client that half-closes after pipelining still gets every answer.
    let mut conn = ServerConn::default();
    conn.feed(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    conn.feed_eof();
    let mut events = Vec::new();
    pump(&mut conn, &mut events);
    assert_eq!(outcome(&events), ok(&[("GET /1", b""), ("GET /2", b"")]));
    assert!(conn.is_closed());
}

#[test]
fn the_buffer_is_bounded() {
    let config = ParseConfig {
        max_buffer: 64,
        ..ParseConfig::server()
    };
    let mut conn = ServerConn::new(config);
    conn.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
    assert!(matches!(conn.poll_event(), Some(Event::End { .. })));
    let capacity = conn.input_capacity();
    assert_eq!(capacity, 64);
    conn.feed(&[b'x'; 65]);
    assert_eq!(
        conn.poll_event(),
        None,
        "the overflow is reported when parsing resumes"
    );
    conn.response_done();
    assert_eq!(
        conn.poll_event(),
        Some(Event::Error(HttpError::BufferFull { max: 64 }))
    );
    assert_eq!(conn.poll_event(), None);
}

#[test]
fn too_many_empty_lines() {
    let input = format!("{}GET / HTTP/1.1\r\nHost: h\r\n\r\n", "\r\n".repeat(9));
    assert_eq!(
        outcome(&whole(input.as_bytes())),
        err(&[], HttpError::TooManyEmptyLines { max: 8 })
    );
}

/// Every way of cutting a pipelined stream into two or three reads gives the same events as one
/// read (adjacent body chunks merged).
#[test]
fn every_split_point_gives_the_same_events() {
    let input: &[u8] = b"POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\nPUT /v HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let expected = whole(input);
    assert_eq!(
        outcome(&expected),
        ok(&[
            ("POST /u", b"Wikipedia"),
            ("PUT /v", b"abc"),
            ("GET /", b"")
        ])
    );
    for first in 0..=input.len() {
        for second in first..=input.len() {
            let (a, rest) = input.split_at(first);
            let (b, c) = rest.split_at(second - first);
            assert_eq!(
                drive(ParseConfig::server(), &[a, b, c], false),
                expected,
                "cut at {first} and {second}"
            );
        }
    }
}

/// Pieces of request syntax, valid and not, that random streams are made of.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"POST /p HTTP/1.1\r\n".to_vec()),
        Just(b"GET / HTTP/1.0\r\n".to_vec()),
        Just(b"Host: h\r\n".to_vec()),
        Just(b"Content-Length: 3\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Expect: 100-continue\r\n".to_vec()),
        Just(b"Connection: close\r\n".to_vec()),
        Just(b"Connection: keep-alive\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"abc".to_vec()),
        Just(b"3\r\nabc\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        Just(b"X: y\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b" ".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(fragment(), 0..24).prop_map(|fragments| fragments.concat()),
        3 => mutated_requests(),
    ]
}

/// One mostly well-formed request: a start line, some fields, and a body framed one way.
fn request_text() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        4 => Just(&b"GET / HTTP/1.1\r\n"[..]),
        4 => Just(&b"POST /p HTTP/1.1\r\n"[..]),
        1 => Just(&b"PUT /x HTTP/1.0\r\n"[..]),
        1 => Just(&b"OPTIONS * HTTP/1.1\r\n"[..]),
        1 => Just(&b"\r\nGET /after-crlf HTTP/1.1\r\n"[..]),
    ];
    let field = prop_oneof![
        Just(&b"X: y\r\n"[..]),
        Just(&b"Connection: close\r\n"[..]),
        Just(&b"Connection: keep-alive\r\n"[..]),
        Just(&b"Expect: 100-continue\r\n"[..]),
        Just(&b"Host: h\r\n"[..]),
        Just(&b"Content-Length: 2\r\n"[..]),
        Just(&b"Transfer-Encoding: chunked\r\n"[..]),
    ];
    let chunks = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..6), 0..4);
    let trailer = prop_oneof![
        Just(&b""[..]),
        Just(&b"T: v\r\n"[..]),
        Just(&b"Content-Length: 9\r\n"[..])
    ];
    (
        start,
        proptest::bool::weighted(0.9),
        proptest::collection::vec(field, 0..3),
        0u8..3,
        chunks,
        trailer,
    )
        .prop_map(|(start, host, fields, framing, chunks, trailer)| {
            let mut out = start.to_vec();
            if host {
                out.extend_from_slice(b"Host: h\r\n");
            }
            fields.iter().for_each(|f| out.extend_from_slice(f));
            let body = chunks.concat();
            match framing {
                0 => out.extend_from_slice(b"\r\n"),
                1 => {
                    out.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    out.extend_from_slice(&body);
                }
                _ => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    chunks.iter().for_each(|c| out.extend(encode_chunk(c)));
                    out.extend_from_slice(b"0\r\n");
                    out.extend_from_slice(trailer);
                    out.extend_from_slice(b"\r\n");
                }
            }
            out
        })
}

/// A few requests back to back, with a few bytes replaced, inserted or deleted.
fn mutated_requests() -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 0..3);
    (proptest::collection::vec(request_text(), 1..4), edits).prop_map(|(requests, edits)| {
        let mut bytes = requests.concat();
        for (at, op, byte) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => {
                    if let Some(b) = bytes.get_mut(at) {
                        *b = byte;
                    }
                }
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes
    })
}

/// Cuts `input` at the given offsets (taken modulo its length).
fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .filter_map(|w| input.get(w[0]..w[1]))
        .collect()
}

proptest! {
    // No regression files: failures print their minimal input, to be added as unit tests.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_stays_silent_after_an_error(bytes in prop_oneof![stream(), proptest::collection::vec(any::<u8>(), 0..512)], cuts in proptest::collection::vec(any::<usize>(), 0..16)) {
        let pieces = split_at(&bytes, &cuts);
        let events = drive(ParseConfig::server(), &pieces, true);
        if let Some(at) = events.iter().position(|e| matches!(e, Event::Error(_))) {
            prop_assert_eq!(at + 1, events.len(), "events after an error: {:?}", events);
        }
    }

    #[test]
    fn the_same_events_however_the_input_is_split(bytes in stream(), cuts in proptest::collection::vec(any::<usize>(), 0..16)) {
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(drive(ParseConfig::server(), &pieces, true), drive(ParseConfig::server(), &[&bytes], true));
    }

    #[test]
    fn requests_round_trip(head in request_head(), body in proptest::collection::vec(any::<u8>(), 0..64), chunked in any::<bool>(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut head = head;
        let mut wire = Vec::new();
        if chunked && head.version == Version::Http11 {
            head.headers.append("Transfer-Encoding", "chunked");
            wire.extend(encode_chunk(&body));
            wire.extend(last_chunk(&Headers::new()).unwrap());
        } else {
            head.headers.append("Content-Length", body.len().to_string());
            wire.extend_from_slice(&body);
        }
        let mut bytes = head.encode().unwrap();
        bytes.extend(wire);
        let events = drive(ParseConfig::server(), &split_at(&bytes, &cuts), false);
        let mut expected = vec![Event::Request(head)];
        if !body.is_empty() {
            expected.push(Event::Body(body));
        }
        expected.push(Event::End { trailers: Headers::new() });
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn responses_round_trip(head in response_head(), body in proptest::collection::vec(any::<u8>(), 0..64), framing in 0u8..3, cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut head = head;
        let mut wire = Vec::new();
        match framing {
            0 => {
                head.headers.append("Transfer-Encoding", "chunked");
                wire.extend(encode_chunk(&body));
                wire.extend(last_chunk(&Headers::new()).unwrap());
            }
            1 => {
                head.headers.append("Content-Length", body.len().to_string());
                wire.extend_from_slice(&body);
            }
            _ => wire.extend_from_slice(&body),
        }
        let mut bytes = head.encode().unwrap();
        bytes.extend(wire);
        let mut parser = ResponseParser::default();
        parser.request_sent(Method::Get);
        let mut events: Vec<ResponseEvent> = Vec::new();
        for piece in split_at(&bytes, &cuts) {
            parser.feed(piece);
            while let Some(event) = parser.poll_event() {
                match (events.last_mut(), event) {
                    (Some(ResponseEvent::Body(prev)), ResponseEvent::Body(more)) => prev.extend(more),
                    (_, event) => events.push(event),
                }
            }
        }
        parser.feed_eof();
        while let Some(event) = parser.poll_event() {
            events.push(event);
        }
        let mut expected = vec![ResponseEvent::Head(head)];
        if !body.is_empty() {
            expected.push(ResponseEvent::Body(body));
        }
        expected.push(ResponseEvent::End { trailers: Headers::new() });
        prop_assert_eq!(events, expected);
    }
}

/// Extension fields that do not touch framing or persistence, with values any encoder may send.
fn extension_fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let value =
        proptest::collection::vec(prop_oneof![0x21u8..=0x7e, 0x80u8..=0xff, Just(b' ')], 0..20)
            .prop_map(|v| super::super::syntax::trim_ows(&v).to_vec());
    proptest::collection::vec(("X-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", value), 0..6)
}

fn request_head() -> impl Strategy<Value = RequestHead> {
    let method = prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Patch),
        "[A-Z]{1,10}".prop_map(|m| Method::parse(m.as_bytes()).unwrap_or(Method::Get)),
    ];
    let target = "/[A-Za-z0-9._~!$&'()*+,;=:@/-]{0,30}(\\?[A-Za-z0-9=&%/]{0,10})?"
        .prop_filter("valid percent-encoding", |t| !t.contains('%'));
    let version = prop_oneof![Just(Version::Http10), Just(Version::Http11)];
    (
        method,
        target,
        version,
        "[a-z0-9.-]{1,20}(:[0-9]{1,5})?",
        extension_fields(),
    )
        .prop_filter_map(
            "a valid request",
            |(method, target, version, host, fields)| {
                if method == Method::Connect || !crate::proto::target::host_ok(host.as_bytes()) {
                    return None;
                }
                let mut head = RequestHead::new(method, target);
                head.version = version;
                head.headers.append("Host", host);
                for (name, value) in fields {
                    head.headers.append(name, value);
                }
                Some(head)
            },
        )
}

fn response_head() -> impl Strategy<Value = ResponseHead> {
    let status = (200u16..600).prop_filter("has a body", |s| *s != 204 && *s != 304);
    let reason = "[A-Za-z ]{0,20}".prop_map(|r| r.trim().to_string());
    (status, reason, extension_fields()).prop_map(|(status, reason, fields)| {
        let mut head = ResponseHead::new(status);
        head.reason = reason;
        for (name, value) in fields {
            head.headers.append(name, value);
        }
        head
    })
}
