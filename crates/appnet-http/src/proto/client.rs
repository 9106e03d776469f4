//! The client side of one HTTP/1.1 connection, sans-IO: response bytes in, [`ResponseEvent`]s
//! out. Used by `appnet get`, the DASH player, the CDN's origin fetches and the tracker client.
//!
//! RFC 9112 §4 (status line), §6.3 (response body length: HEAD, 1xx, 204, 304 and CONNECT 2xx
//! have none; chunked; Content-Length; else until close), §9.3 (persistence), §9.3.2
//! (pipelining: responses arrive in request order), RFC 9110 §15.2 (interim responses) and
//! §7.8 (101 Switching Protocols).
//!
//! The driver calls [`ResponseParser::request_sent`] with each request's method as it writes
//! the request (the method decides the framing of the response), feeds what it reads, and polls.

use std::collections::VecDeque;

use super::body::{BodyDecoder, BodyEvent};
use super::config::ParseConfig;
use super::error::HttpError;
use super::framing::{BodyKind, response_body};
use super::head::{HeadReader, Section};
use super::headers::{Headers, ObsFold};
use super::input::Input;
use super::message::Method;
use super::response::{ResponseHead, parse_response_head};

/// What the connection has to say to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// A 1xx response other than 101; the final response to the same request follows.
    Interim(ResponseHead),
    /// The final response head. Its body (possibly empty) follows as `Body`* then `End`.
    Head(ResponseHead),
    /// Body bytes, framing removed.
    Body(Vec<u8>),
    /// The response is complete (trailers minus the fields RFC 9110 §6.5.1 forbids there).
    End { trailers: Headers },
    /// The response broke a rule; close the connection. Nothing follows.
    Error(HttpError),
}

#[derive(Debug, Clone)]
enum State {
    Head(HeadReader),
    Body(BodyDecoder),
    /// After 101 or a 2xx to CONNECT: the bytes are no longer HTTP.
    Switched,
    Closed,
}

/// One client connection's response parsing state.
#[derive(Debug, Clone)]
pub struct ResponseParser {
    config: ParseConfig,
    input: Input,
    state: State,
    /// Methods of the requests sent and not yet answered, oldest first.
    outstanding: VecDeque<Method>,
    /// Whether the connection persists after the current response.
    persist: bool,
    /// The current response switches protocols once its head is done.
    switching: bool,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new(ParseConfig::client())
    }
}

impl ResponseParser {
    pub fn new(config: ParseConfig) -> Self {
        Self {
            config,
            input: Input::new(config.max_buffer),
            state: State::Head(HeadReader::new(Section::ResponseHead)),
            outstanding: VecDeque::new(),
            persist: false,
            switching: false,
        }
    }

    /// A request with `method` has been written; its response is expected after those of the
    /// requests sent before it.
    pub fn request_sent(&mut self, method: Method) {
        self.outstanding.push_back(method);
    }

    /// How many bytes the driver may read and feed now.
    pub fn input_capacity(&self) -> usize {
        match self.state {
            State::Closed => 0,
            _ => self.input.capacity(),
        }
    }

    /// Appends bytes received from the server (see [`Self::input_capacity`]).
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Closed) {
            self.input.feed(bytes);
        }
    }

    /// The server closed the connection: this ends a close-delimited body.
    pub fn feed_eof(&mut self) {
        self.input.eof = true;
    }

    /// The next event, or `None` when more input is needed.
    pub fn poll_event(&mut self) -> Option<ResponseEvent> {
        if let Some(error) = self.input.overflow.take() {
            return Some(self.fail(error));
        }
        let result = match &mut self.state {
            State::Head(reader) => match reader.poll(&mut self.input.bytes, &self.config) {
                Ok(Some(end)) => self.start_response(end).map(Some),
                Ok(None) => self.head_incomplete(),
                Err(error) => Err(error),
            },
            State::Body(decoder) => match decoder.decode(&mut self.input.bytes, &self.config) {
                Ok(None) if self.input.eof => decoder
                    .finish()
                    .map(|event| event.map(|e| self.body_event(e))),
                Ok(event) => Ok(event.map(|e| self.body_event(e))),
                Err(error) => Err(error),
            },
            State::Switched | State::Closed => Ok(None),
        };
        result.unwrap_or_else(|error| Some(self.fail(error)))
    }

    /// After `End`: whether the connection can carry the next request (RFC 9112 §9.3, and the
    /// body was not delimited by the close).
    pub fn keep_alive(&self) -> bool {
        self.persist && matches!(self.state, State::Head(_))
    }

    /// True once nothing more will be parsed (an error, a close-delimited body that ended, a
    /// response that said `Connection: close`).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// After a 101 or a 2xx to CONNECT: true, and [`Self::take_tunnel_bytes`] holds what
    /// already arrived of the new protocol.
    pub fn is_switched(&self) -> bool {
        matches!(self.state, State::Switched)
    }

    /// The bytes buffered after a protocol switch (empty otherwise).
    pub fn take_tunnel_bytes(&mut self) -> Vec<u8> {
        match self.state {
            State::Switched => std::mem::take(&mut self.input.bytes),
            _ => Vec::new(),
        }
    }

    /// A complete head is `buf[..end]`: an interim response, or the final one and its framing.
    fn start_response(&mut self, end: usize) -> Result<ResponseEvent, HttpError> {
        let head = parse_response_head(self.input.bytes.get(..end).unwrap_or_default())?;
        let method = self
            .outstanding
            .front()
            .cloned()
            .ok_or(HttpError::UnexpectedResponse)?;
        if head.is_interim() && head.status != 101 {
            self.input.bytes.drain(..end);
            self.state = State::Head(HeadReader::new(Section::ResponseHead));
            return Ok(ResponseEvent::Interim(head));
        }
        let kind = response_body(
            &method,
            head.status,
            head.version,
            &head.headers,
            &self.config,
        )?;
        self.input.bytes.drain(..end);
        self.outstanding.pop_front();
        self.switching =
            head.status == 101 || (method == Method::Connect && (200..300).contains(&head.status));
        self.persist = head.keep_alive() && kind != BodyKind::UntilClose && !self.switching;
        self.state = State::Body(BodyDecoder::new(kind, ObsFold::Unfold));
        Ok(ResponseEvent::Head(head))
    }

    fn head_incomplete(&mut self) -> Result<Option<ResponseEvent>, HttpError> {
        if !self.input.eof {
            return Ok(None);
        }
        if self.input.bytes.is_empty() {
            self.state = State::Closed;
            return Ok(None);
        }
        Err(HttpError::IncompleteMessage)
    }

    fn body_event(&mut self, event: BodyEvent) -> ResponseEvent {
        match event {
            BodyEvent::Data(data) => ResponseEvent::Body(data),
            BodyEvent::End(trailers) => {
                self.state = if self.switching {
                    State::Switched
                } else if self.persist {
                    State::Head(HeadReader::new(Section::ResponseHead))
                } else {
                    State::Closed
                };
                ResponseEvent::End { trailers }
            }
        }
    }

    fn fail(&mut self, error: HttpError) -> ResponseEvent {
        self.state = State::Closed;
        self.persist = false;
        self.input.bytes.clear();
        ResponseEvent::Error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(method: Method, input: &[u8], eof: bool) -> Vec<ResponseEvent> {
        let mut parser = ResponseParser::default();
        parser.request_sent(method);
        parser.feed(input);
        if eof {
            parser.feed_eof();
        }
        drain(&mut parser)
    }

    fn drain(parser: &mut ResponseParser) -> Vec<ResponseEvent> {
        let mut out: Vec<ResponseEvent> = Vec::new();
        while let Some(event) = parser.poll_event() {
            match (out.last_mut(), event) {
                (Some(ResponseEvent::Body(prev)), ResponseEvent::Body(more)) => prev.extend(more),
                (_, event) => out.push(event),
            }
        }
        out
    }

    fn head(events: &[ResponseEvent]) -> &ResponseHead {
        match events.first() {
            Some(ResponseEvent::Head(head)) => head,
            other => panic!("expected a head, got {other:?}"),
        }
    }

    #[test]
    fn content_length_response() {
        let got = events(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            false,
        );
        assert_eq!(head(&got).status, 200);
        assert_eq!(got.get(1), Some(&ResponseEvent::Body(b"hello".to_vec())));
        assert_eq!(
            got.get(2),
            Some(&ResponseEvent::End {
                trailers: Headers::new()
            })
        );
    }

    #[test]
    fn chunked_response_with_trailers() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\nChecksum: 42\r\nSet-Cookie: no\r\n\r\n";
        let got = events(Method::Get, input, false);
        assert_eq!(
            got.get(1),
            Some(&ResponseEvent::Body(b"Wikipedia".to_vec()))
        );
        let Some(ResponseEvent::End { trailers }) = got.get(2) else {
            panic!("{got:?}")
        };
        assert_eq!(trailers.get("checksum"), Some("42"));
        assert!(!trailers.contains("set-cookie"));
    }

    #[test]
    fn close_delimited_response_ends_at_eof() {
        let input = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
        let mut parser = ResponseParser::default();
        parser.request_sent(Method::Get);
        parser.feed(input);
        let got = drain(&mut parser);
        assert_eq!(got.len(), 2, "no End before EOF: {got:?}");
        parser.feed_eof();
        assert_eq!(
            drain(&mut parser),
            [ResponseEvent::End {
                trailers: Headers::new()
            }]
        );
        assert!(parser.is_closed());
        assert!(!parser.keep_alive());
    }

    #[test]
    fn head_responses_have_no_body_whatever_they_say() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let mut parser = ResponseParser::default();
        parser.request_sent(Method::Head);
        parser.request_sent(Method::Get);
        parser.feed(input);
        let got = drain(&mut parser);
        let statuses: Vec<u16> = got
            .iter()
            .filter_map(|e| match e {
                ResponseEvent::Head(h) => Some(h.status),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, [200, 404]);
        assert_eq!(got.len(), 4);
        assert!(parser.keep_alive());
    }

    #[test]
    fn no_body_statuses() {
        for status in [204, 304] {
            let input = format!("HTTP/1.1 {status} X\r\nContent-Length: 3\r\n\r\n");
            let got = events(Method::Get, input.as_bytes(), false);
            assert_eq!(got.len(), 2, "{status}: {got:?}");
        }
    }

    #[test]
    fn interim_responses_come_before_the_final_one() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
        let got = events(Method::Post, input, false);
        assert!(
            matches!(&got[..], [ResponseEvent::Interim(a), ResponseEvent::Interim(b), ResponseEvent::Head(c), ResponseEvent::End { .. }] if a.status == 100 && b.status == 103 && c.status == 201)
        );
    }

    #[test]
    fn switching_protocols_hands_over_the_rest() {
        let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello";
        let mut parser = ResponseParser::default();
        parser.request_sent(Method::Get);
        parser.feed(input);
        let got = drain(&mut parser);
        assert_eq!(got.len(), 2);
        assert!(parser.is_switched());
        assert_eq!(parser.take_tunnel_bytes(), b"\x81\x05hello");
        let mut tunnel = ResponseParser::default();
        tunnel.request_sent(Method::Connect);
        tunnel.feed(b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01");
        assert_eq!(drain(&mut tunnel).len(), 2);
        assert_eq!(tunnel.take_tunnel_bytes(), b"\x16\x03\x01");
    }

    #[test]
    fn strict_about_smuggling_relevant_framing() {
        let cases: &[(&[u8], HttpError)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpError::ContentLengthWithTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                HttpError::ConflictingContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
                HttpError::InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                HttpError::UnsupportedTransferCoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n",
                HttpError::WhitespaceBeforeColon,
            ),
            (b"HTTP/1.1 200 OK\rX: y\r\n\r\n", HttpError::BareCr),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                HttpError::InvalidChunkSize,
            ),
            (
                b"HTTP/1.1 999 What\r\n\r\n",
                HttpError::InvalidStatusLine("status code outside 100..=599"),
            ),
        ];
        for (input, error) in cases {
            let got = events(Method::Get, input, false);
            assert_eq!(
                got.last(),
                Some(&ResponseEvent::Error(error.clone())),
                "{input:?}"
            );
        }
    }

    #[test]
    fn duplicate_equal_content_lengths_are_accepted_in_responses() {
        let got = events(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            false,
        );
        assert_eq!(got.get(1), Some(&ResponseEvent::Body(b"ok".to_vec())));
    }

    #[test]
    fn obs_fold_is_unfolded_and_bare_lf_accepted() {
        let got = events(
            Method::Get,
            b"HTTP/1.1 200 OK\nX: a\n  b\nContent-Length: 0\n\n",
            false,
        );
        assert_eq!(head(&got).headers.get("x"), Some("a b"));
    }

    #[test]
    fn unsolicited_and_truncated_responses() {
        let mut parser = ResponseParser::default();
        parser.feed(b"HTTP/1.1 408 Request Timeout\r\n\r\n");
        assert_eq!(
            drain(&mut parser),
            [ResponseEvent::Error(HttpError::UnexpectedResponse)]
        );
        let got = events(
            Method::Get,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            true,
        );
        assert_eq!(
            got.last(),
            Some(&ResponseEvent::Error(HttpError::IncompleteMessage))
        );
        let got = events(Method::Get, b"HTTP/1.1 200 O", true);
        assert_eq!(got, [ResponseEvent::Error(HttpError::IncompleteMessage)]);
        let mut idle = ResponseParser::default();
        idle.feed_eof();
        assert_eq!(drain(&mut idle), []);
        assert!(idle.is_closed());
    }

    #[test]
    fn connection_close_ends_persistence() {
        let mut parser = ResponseParser::default();
        parser.request_sent(Method::Get);
        parser.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        drain(&mut parser);
        assert!(!parser.keep_alive());
        assert!(parser.is_closed());
        let mut old = ResponseParser::default();
        old.request_sent(Method::Get);
        old.feed(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        drain(&mut old);
        assert!(old.keep_alive());
    }
}
