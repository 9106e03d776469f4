//! The tokio driver of a DNS client: one query to one server over UDP (retrying on timeout, moving
//! to TCP when the answer comes back truncated) or TCP, and zone transfers (AXFR) over TCP.
//! `appnet dig`, the resolver's upstream queries and the mail server's MX lookups all use it.
//!
//! RFC 1035 §4.2 (UDP and TCP), RFC 7766 (TCP after TC=1), RFC 5452 §9.1 (accept an answer only
//! when ID, source and question all match; every query gets a fresh random ID from a fresh socket
//! whose port the kernel picks at random), RFC 5936 (AXFR).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::tcp::{FrameDecoder, frame};
use crate::wire::{Message, RecordType, WireError};

/// A UDP answer larger than this is not DNS (EDNS payload sizes are 16-bit).
const MAX_UDP_ANSWER: usize = 65_535;
/// A zone transfer longer than this many messages is cut off: a lying server could send forever.
const MAX_TRANSFER_MESSAGES: usize = 100_000;

/// How patiently to ask.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// How long to wait for each attempt's answer (and for a TCP connect or read).
    pub timeout: Duration,
    /// Retransmissions over UDP after the first attempt.
    pub retries: u32,
    /// Ask over TCP from the start (`dig +tcp`).
    pub tcp: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            retries: 2,
            tcp: false,
        }
    }
}

/// A query and the answer that matched it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub server: SocketAddr,
    pub query_bytes: Vec<u8>,
    pub response: Message,
    pub response_bytes: Vec<u8>,
    /// From sending the query that was answered to receiving the answer.
    pub rtt: Duration,
    pub over_tcp: bool,
    /// The UDP answer was truncated (TC=1) and the query was repeated over TCP.
    pub retried_over_tcp: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no answer from {server} after {attempts} attempt(s), {timeout:?} each")]
    Timeout {
        server: SocketAddr,
        attempts: u32,
        timeout: Duration,
    },
    #[error("{server}: {source}")]
    Io {
        server: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("{server} sent a malformed answer: {source}")]
    Malformed {
        server: SocketAddr,
        #[source]
        source: WireError,
    },
    #[error("{server} closed the TCP connection before answering")]
    Closed { server: SocketAddr },
    #[error("zone transfer from {server} failed: {reason}")]
    Transfer { server: SocketAddr, reason: String },
}

/// A fresh random query ID (RFC 5452 §4.3).
pub fn random_id() -> u16 {
    rand::random()
}

/// Sends `query` to `server` and returns the answer that matches it.
pub async fn query(
    server: SocketAddr,
    query: &Message,
    options: QueryOptions,
    tracer: &Tracer,
) -> Result<Exchange, QueryError> {
    let query_bytes = query.encode();
    if options.tcp {
        return query_tcp(server, query, query_bytes, options, tracer).await;
    }
    let exchange = query_udp(server, query, query_bytes.clone(), options, tracer).await?;
    if exchange.response.header.tc {
        let mut retried = query_tcp(server, query, query_bytes, options, tracer).await?;
        retried.retried_over_tcp = true;
        return Ok(retried);
    }
    Ok(exchange)
}

async fn query_udp(
    server: SocketAddr,
    query: &Message,
    query_bytes: Vec<u8>,
    options: QueryOptions,
    tracer: &Tracer,
) -> Result<Exchange, QueryError> {
    let io_err = |source| QueryError::Io { server, source };
    let unspecified: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(unspecified).await.map_err(io_err)?;
    // Connected: the kernel drops datagrams from any other source address and port.
    socket.connect(server).await.map_err(io_err)?;
    let trace = tracer.scope(
        "dns",
        Role::Client,
        socket.local_addr().map_err(io_err)?,
        server,
    );
    let mut buf = vec![0u8; MAX_UDP_ANSWER];
    let attempts = options.retries.saturating_add(1);
    for _ in 0..attempts {
        socket.send(&query_bytes).await.map_err(io_err)?;
        trace.sent(&query_bytes, || query.summary());
        let sent_at = Instant::now();
        let deadline = sent_at + options.timeout;
        while let Ok(received) =
            tokio::time::timeout_at(deadline.into(), socket.recv(&mut buf)).await
        {
            let len = match received {
                Ok(len) => len,
                // ICMP port unreachable surfaces here: nothing listens, the next attempt may differ.
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    tokio::time::sleep_until(deadline.into()).await;
                    break;
                }
                Err(err) => return Err(io_err(err)),
            };
            let bytes = &buf[..len];
            let response = received_message(&trace, bytes);
            if let Some(response) = response.filter(|response| answers(query, response)) {
                return Ok(Exchange {
                    server,
                    query_bytes,
                    response,
                    response_bytes: bytes.to_vec(),
                    rtt: sent_at.elapsed(),
                    over_tcp: false,
                    retried_over_tcp: false,
                });
            }
        }
    }
    Err(QueryError::Timeout {
        server,
        attempts,
        timeout: options.timeout,
    })
}

async fn query_tcp(
    server: SocketAddr,
    query: &Message,
    query_bytes: Vec<u8>,
    options: QueryOptions,
    tracer: &Tracer,
) -> Result<Exchange, QueryError> {
    let mut connection = TcpConnection::open(server, options.timeout, tracer).await?;
    let sent_at = Instant::now();
    connection.send(&query_bytes, || query.summary()).await?;
    loop {
        let Some((response, bytes)) = connection.receive().await? else {
            return Err(QueryError::Closed { server });
        };
        if answers(query, &response) {
            return Ok(Exchange {
                server,
                query_bytes,
                response,
                response_bytes: bytes,
                rtt: sent_at.elapsed(),
                over_tcp: true,
                retried_over_tcp: false,
            });
        }
    }
}

/// Transfers the zone `query` asks for (an AXFR query) and returns every message of the transfer,
/// which begins and ends with the zone's SOA (RFC 5936 §2.2).
pub async fn transfer(
    server: SocketAddr,
    query: &Message,
    options: QueryOptions,
    tracer: &Tracer,
) -> Result<Vec<Message>, QueryError> {
    let fail = |reason: String| QueryError::Transfer { server, reason };
    let mut connection = TcpConnection::open(server, options.timeout, tracer).await?;
    connection.send(&query.encode(), || query.summary()).await?;
    let mut messages: Vec<Message> = Vec::new();
    let mut soa_seen = 0;
    while soa_seen < 2 {
        if messages.len() >= MAX_TRANSFER_MESSAGES {
            return Err(fail(format!("more than {MAX_TRANSFER_MESSAGES} messages")));
        }
        let Some((message, _)) = connection.receive().await? else {
            return Err(fail("connection closed before the closing SOA".into()));
        };
        if message.header.id != query.header.id {
            continue;
        }
        if message.rcode() != crate::wire::Rcode::NOERROR {
            return Err(fail(format!("server answered {}", message.rcode())));
        }
        let first_record = messages.is_empty();
        for (index, record) in message.answers.iter().enumerate() {
            let is_soa = record.rtype() == RecordType::SOA;
            if first_record && index == 0 && !is_soa {
                return Err(fail("the first record is not the SOA".into()));
            }
            soa_seen += usize::from(is_soa);
        }
        if message.answers.is_empty() {
            return Err(fail("a transfer message without records".into()));
        }
        messages.push(message);
    }
    Ok(messages)
}

/// A TCP connection to a DNS server, framing and tracing each message.
struct TcpConnection {
    server: SocketAddr,
    stream: TcpStream,
    frames: FrameDecoder,
    timeout: Duration,
    trace: TraceScope,
}

impl TcpConnection {
    async fn open(
        server: SocketAddr,
        timeout: Duration,
        tracer: &Tracer,
    ) -> Result<TcpConnection, QueryError> {
        let io_err = |source| QueryError::Io { server, source };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(server))
            .await
            .map_err(|_| QueryError::Timeout {
                server,
                attempts: 1,
                timeout,
            })?
            .map_err(io_err)?;
        stream.set_nodelay(true).map_err(io_err)?;
        let trace = tracer.scope(
            "dns",
            Role::Client,
            stream.local_addr().map_err(io_err)?,
            server,
        );
        Ok(TcpConnection {
            server,
            stream,
            frames: FrameDecoder::new(),
            timeout,
            trace,
        })
    }

    async fn send(
        &mut self,
        message: &[u8],
        summary: impl FnOnce() -> String,
    ) -> Result<(), QueryError> {
        self.stream
            .write_all(&frame(message))
            .await
            .map_err(|source| QueryError::Io {
                server: self.server,
                source,
            })?;
        self.trace.sent(message, summary);
        Ok(())
    }

    /// The next message that decodes; `None` when the server closed the connection.
    async fn receive(&mut self) -> Result<Option<(Message, Vec<u8>)>, QueryError> {
        let server = self.server;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.frames.next_message() {
                Ok(Some(bytes)) => {
                    let message = Message::decode(&bytes);
                    self.trace.received(&bytes, || summarize(&message));
                    let message =
                        message.map_err(|source| QueryError::Malformed { server, source })?;
                    return Ok(Some((message, bytes)));
                }
                Ok(None) => {}
                Err(err) => {
                    return Err(QueryError::Io {
                        server,
                        source: io::Error::new(io::ErrorKind::InvalidData, err),
                    });
                }
            }
            let read = tokio::time::timeout(self.timeout, self.stream.read(&mut buf))
                .await
                .map_err(|_| QueryError::Timeout {
                    server,
                    attempts: 1,
                    timeout: self.timeout,
                })?
                .map_err(|source| QueryError::Io { server, source })?;
            if read == 0 {
                return Ok(None);
            }
            self.frames.feed(&buf[..read]);
        }
    }
}

/// Decodes and traces a received datagram; a malformed one is traced and ignored (it may be an
/// attacker's, and the real answer may still come).
fn received_message(trace: &TraceScope, bytes: &[u8]) -> Option<Message> {
    let message = Message::decode(bytes);
    trace.received(bytes, || summarize(&message));
    message.ok()
}

fn summarize(message: &Result<Message, WireError>) -> String {
    match message {
        Ok(message) => message.summary(),
        Err(err) => format!("malformed message: {err}"),
    }
}

/// RFC 5452 §9.1: a response answers a query when the ID matches and it carries the same question.
/// A server that could not parse the question may answer FORMERR without one; that still counts.
fn answers(query: &Message, response: &Message) -> bool {
    response.header.qr
        && response.header.id == query.header.id
        && (response.questions == query.questions
            || (response.questions.is_empty() && response.rcode() != crate::wire::Rcode::NOERROR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Name, RData, Record};

    fn query_for(name: &str) -> Message {
        Message::query(
            0x1234,
            Name::from_ascii(name).unwrap(),
            RecordType::A,
            true,
            None,
        )
    }

    #[test]
    fn an_answer_must_match_id_and_question() {
        let query = query_for("www.example.");
        let mut response = Message::response_to(&query);
        assert!(answers(&query, &response));

        response.header.id ^= 1;
        assert!(!answers(&query, &response), "another ID");

        let mut other_question = Message::response_to(&query_for("mail.example."));
        other_question.header.id = query.header.id;
        assert!(!answers(&query, &other_question), "another question");

        let mut not_a_response = Message::response_to(&query);
        not_a_response.header.qr = false;
        assert!(!answers(&query, &not_a_response), "QR clear");
    }

    #[test]
    fn the_question_matches_whatever_its_case() {
        // Resolvers randomise the case of query names (dns-0x20); servers echo it, and a
        // server that lowercases is still answering the same question.
        let query = query_for("WwW.ExAmPlE.");
        let response = Message::response_to(&query_for("www.example."));
        assert!(answers(&query, &response));
    }

    #[test]
    fn an_error_without_the_question_still_answers() {
        let query = query_for("www.example.");
        let mut formerr = Message::response_to(&query);
        formerr.questions.clear();
        formerr.set_rcode(crate::wire::Rcode::FORMERR);
        assert!(answers(&query, &formerr));
        formerr.set_rcode(crate::wire::Rcode::NOERROR);
        formerr.answers.push(Record::new(
            Name::from_ascii("www.example.").unwrap(),
            60,
            RData::A("192.0.2.1".parse().unwrap()),
        ));
        assert!(
            !answers(&query, &formerr),
            "a NOERROR answer must carry the question"
        );
    }
}
