//! The server side of one HTTP/1.1 connection, sans-IO: bytes in, [`Event`]s out, and the
//! persistence decision after each response.
//!
//! RFC 9112 §9.3 (persistence: 1.1 keeps alive unless `Connection: close`, 1.0 closes unless
//! `Connection: keep-alive`), §9.3.2 (pipelining: responses in request order), §9.6 (closing),
//! §11.2 (after a framing error the connection is never reused), RFC 9110 §10.1.1 (100-continue).
//!
//! The driver's loop:
//! 1. read at most [`ServerConn::input_capacity`] bytes, [`ServerConn::feed`] them (or
//!    [`ServerConn::feed_eof`]), then call [`ServerConn::poll_event`] until it returns `None`;
//! 2. on [`Event::Request`] start handling; on [`Event::Continue`] it may write [`CONTINUE`];
//!    [`Event::Body`] chunks follow, then [`Event::End`];
//! 3. write the response: [`ServerConn::prepare_response`] on its head first, then the bytes, then
//!    [`ServerConn::response_done`]. Only then is a pipelined next request parsed;
//! 4. on [`Event::Error`] write [`error_response`] and close. Once [`ServerConn::is_closed`]
//!    says so, flush and close the socket.
//!
//! A response written before the request body was fully read closes the connection: the rest
//! of the body is not drained, since a peer that never finishes it would hold us.

use super::body::{BodyDecoder, BodyEvent};
use super::config::ParseConfig;
use super::error::HttpError;
use super::framing::{BodyKind, request_body};
use super::head::{HeadReader, Section};
use super::headers::{Headers, ObsFold};
use super::input::Input;
use super::message::{Method, Version};
use super::request::{Request, parse_request_head};
use super::response::{ResponseHead, response_has_body};

/// The interim response a server sends when the client asked for `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the connection has to say to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A request head arrived. Its body (possibly empty) follows as `Body`* then `End`.
    Request(Request),
    /// The client waits for `100 Continue` before sending the body: write [`CONTINUE`], or a
    /// final response instead (which then closes the connection, the body being unread).
    Continue,
    /// Body bytes, framing removed.
    Body(Vec<u8>),
    /// The request is complete. Trailers are those of a chunked body, minus the fields
    /// RFC 9110 §6.5.1 forbids there.
    End { trailers: Headers },
    /// The request broke a rule: answer [`HttpError::status`] and close. Nothing follows.
    Error(HttpError),
}

#[derive(Debug, Clone)]
enum State {
    /// Reading the next request head.
    Head(HeadReader),
    /// Reading the current request's body.
    Body(BodyDecoder),
    /// The request is read; pipelined bytes wait until the response is done.
    AwaitingResponse,
    /// Nothing more will be parsed.
    Closed,
}

/// One server connection's HTTP/1.1 state.
#[derive(Debug, Clone)]
pub struct ServerConn {
    config: ParseConfig,
    input: Input,
    state: State,
    /// Whether the connection may carry another request after this response.
    persist: bool,
    /// The current request's method and version, for the response's framing.
    method: Method,
    version: Version,
    continue_pending: bool,
}

impl Default for ServerConn {
    fn default() -> Self {
        Self::new(ParseConfig::server())
    }
}

impl ServerConn {
    pub fn new(config: ParseConfig) -> Self {
        Self {
            config,
            input: Input::new(config.max_buffer),
            state: State::Head(HeadReader::new(Section::RequestHead)),
            persist: false,
            method: Method::Get,
            version: Version::Http11,
            continue_pending: false,
        }
    }

    /// How many bytes the driver may read and feed now (0 once closed). Reading no more than
    /// this is what bounds the buffer while pipelined requests wait.
    pub fn input_capacity(&self) -> usize {
        match self.state {
            State::Closed => 0,
            _ => self.input.capacity(),
        }
    }

    /// Appends bytes received from the client. Bytes beyond [`Self::input_capacity`] are dropped
    /// and the connection fails with [`HttpError::BufferFull`]; bytes after close or EOF are
    /// ignored.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Closed) {
            self.input.feed(bytes);
        }
    }

    /// The client closed its sending side (read returned 0).
    pub fn feed_eof(&mut self) {
        self.input.eof = true;
    }

    /// The next event, or `None` when more input (or a `response_done`) is needed.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.continue_pending {
            self.continue_pending = false;
            return Some(Event::Continue);
        }
        let parsing = matches!(self.state, State::Head(_) | State::Body(_));
        if parsing && let Some(error) = self.input.overflow.take() {
            return Some(self.fail(error));
        }
        let result = match &mut self.state {
            State::Head(reader) => match reader.poll(&mut self.input.bytes, &self.config) {
                Ok(Some(end)) => self
                    .start_request(end)
                    .map(|request| Some(Event::Request(request))),
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
            State::AwaitingResponse | State::Closed => Ok(None),
        };
        result.unwrap_or_else(|error| Some(self.fail(error)))
    }

    /// Whether the connection may carry another request after the current response: the
    /// request allowed it (RFC 9112 §9.3), its body has been read to the end, and nothing
    /// (a `Connection: close` or a close-delimited response) ruled it out.
    pub fn keep_alive(&self) -> bool {
        self.persist && matches!(self.state, State::AwaitingResponse)
    }

    /// Whether the response may use the chunked coding (RFC 9112 §6.1: not to HTTP/1.0).
    pub fn chunked_allowed(&self) -> bool {
        self.version == Version::Http11
    }

    /// Adjusts a final response head to the connection: `Connection: close` when the
    /// connection will close, `Connection: keep-alive` for a persistent HTTP/1.0 client. A head
    /// that says close, or whose body can only end by closing, ends persistence.
    pub fn prepare_response(&mut self, head: &mut ResponseHead) {
        let says_close = head.headers.contains_token("connection", "close");
        let close_delimited = response_has_body(&self.method, head.status)
            && !head.headers.contains("content-length")
            && !head.headers.contains_token("transfer-encoding", "chunked");
        if says_close || close_delimited {
            self.persist = false;
        }
        if !self.keep_alive() {
            if !says_close {
                head.headers.append("Connection", "close");
            }
        } else if self.version == Version::Http10
            && !head.headers.contains_token("connection", "keep-alive")
        {
            head.headers.append("Connection", "keep-alive");
        }
    }

    /// The response's last byte has been written. The next pipelined request is parsed from
    /// here on, or the connection is closed.
    pub fn response_done(&mut self) {
        self.continue_pending = false;
        self.state = if self.keep_alive() {
            State::Head(HeadReader::new(Section::RequestHead))
        } else {
            self.input.bytes.clear();
            State::Closed
        };
    }

    /// True once nothing more will be parsed: flush what was written and close the socket.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// A complete head is `buf[..end]`: parse it, choose the body framing, start the body.
    fn start_request(&mut self, end: usize) -> Result<Request, HttpError> {
        let request = parse_request_head(self.input.bytes.get(..end).unwrap_or_default())?;
        let kind = request_body(request.version, &request.headers, &self.config)?;
        self.input.bytes.drain(..end);
        self.persist = request.keep_alive();
        self.method = request.method.clone();
        self.version = request.version;
        self.continue_pending = request.expects_continue() && kind != BodyKind::Empty;
        self.state = State::Body(BodyDecoder::new(kind, ObsFold::Reject));
        Ok(request)
    }

    /// No complete head yet: at EOF that is a clean close between requests, or a truncated one.
    fn head_incomplete(&mut self) -> Result<Option<Event>, HttpError> {
        if !self.input.eof {
            return Ok(None);
        }
        if self.input.bytes.is_empty() {
            self.state = State::Closed;
            return Ok(None);
        }
        Err(HttpError::IncompleteMessage)
    }

    fn body_event(&mut self, event: BodyEvent) -> Event {
        match event {
            BodyEvent::Data(data) => Event::Body(data),
            BodyEvent::End(trailers) => {
                self.state = State::AwaitingResponse;
                Event::End { trailers }
            }
        }
    }

    /// After an error nothing is parsed again: the framing of whatever follows is unknowable.
    fn fail(&mut self, error: HttpError) -> Event {
        self.state = State::Closed;
        self.persist = false;
        self.continue_pending = false;
        self.input.overflow = None;
        self.input.bytes.clear();
        Event::Error(error)
    }
}

/// The response head for a request that broke a rule: the status [`HttpError::status`] names,
/// an empty body, and `Connection: close`. Add a `Date` if the server has a clock.
pub fn error_response(error: &HttpError) -> ResponseHead {
    ResponseHead::new(error.status())
        .with_header("Content-Length", "0")
        .with_header("Connection", "close")
}

#[cfg(test)]
mod tests;
