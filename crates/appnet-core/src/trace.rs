//! The protocol trace: one structured event per protocol message, from every service and client.
//!
//! Drivers report each message they send or receive through a [`TraceScope`]; the events go out on a
//! broadcast channel that any number of consumers (the `--trace` printer, later the dashboard and
//! `--explain` views) subscribe to. When tracing is off a [`Tracer`] is an empty handle and the cost of
//! a report is one branch: summaries are built lazily and raw bytes are copied only when requested.

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

/// Which side of a conversation spoke a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Server,
}

impl Role {
    /// The other side of the conversation.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    fn letter(self) -> char {
        match self {
            Role::Client => 'C',
            Role::Server => 'S',
        }
    }
}

/// Whether the reporting endpoint sent or received the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Sent,
    Received,
}

/// One protocol message as seen by one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct TraceEvent {
    #[serde(serialize_with = "serialize_time")]
    pub time: SystemTime,
    /// Short protocol name: `udp`, `dns`, `smtp`, ...
    pub protocol: &'static str,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub direction: Direction,
    /// Who spoke this message (for a server, received messages come from the client).
    pub from: Role,
    /// Size of the message on the wire, in bytes.
    pub len: usize,
    /// One line in the protocol's own terms, e.g. `EHLO alpha.example` or `"hello"`.
    pub summary: String,
    /// The message's bytes, present only when the tracer was asked for them.
    #[serde(
        rename = "raw_hex",
        serialize_with = "serialize_hex",
        skip_serializing_if = "Option::is_none"
    )]
    pub raw: Option<Bytes>,
}

impl TraceEvent {
    /// The sending and receiving endpoints, in that order.
    pub fn endpoints(&self) -> (SocketAddr, SocketAddr) {
        match self.direction {
            Direction::Sent => (self.local, self.peer),
            Direction::Received => (self.peer, self.local),
        }
    }
}

/// How a trace consumer renders events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// `12:00:01.234 udp 127.0.0.1:50000 → 127.0.0.1:12000  C: "hello"`
    Transcript,
    /// One JSON object per line.
    Json,
}

/// A handle services use to publish trace events; cheap to clone, and a no-op when tracing is off.
#[derive(Clone, Default)]
pub struct Tracer {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tx: broadcast::Sender<Arc<TraceEvent>>,
    with_raw: bool,
}

impl Tracer {
    /// A tracer that drops everything.
    pub fn off() -> Tracer {
        Tracer::default()
    }

    /// A live tracer buffering up to `capacity` events per slow subscriber. With `with_raw`, events
    /// carry the message bytes.
    pub fn new(capacity: usize, with_raw: bool) -> Tracer {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Tracer {
            inner: Some(Arc::new(Inner { tx, with_raw })),
        }
    }

    /// A receiver of every event published from now on, or `None` when tracing is off.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Arc<TraceEvent>>> {
        self.inner.as_ref().map(|inner| inner.tx.subscribe())
    }

    /// A scope for one conversation between `local` (playing `role`) and `peer`.
    pub fn scope(
        &self,
        protocol: &'static str,
        role: Role,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> TraceScope {
        TraceScope {
            tracer: self.clone(),
            protocol,
            role,
            local,
            peer,
        }
    }

    fn publish(&self, build: impl FnOnce(bool) -> TraceEvent) {
        if let Some(inner) = &self.inner
            && inner.tx.receiver_count() > 0
        {
            // An error here only means every subscriber left meanwhile.
            let _ = inner.tx.send(Arc::new(build(inner.with_raw)));
        }
    }
}

/// The trace context of one conversation: reports what this endpoint sends and receives.
#[derive(Clone)]
pub struct TraceScope {
    tracer: Tracer,
    protocol: &'static str,
    role: Role,
    local: SocketAddr,
    peer: SocketAddr,
}

impl TraceScope {
    /// Whether anyone is listening: lets a caller skip building what only a trace would show.
    pub fn is_listening(&self) -> bool {
        self.tracer
            .inner
            .as_ref()
            .is_some_and(|inner| inner.tx.receiver_count() > 0)
    }

    /// Reports a message this endpoint sent; `summary` runs only when someone is listening.
    pub fn sent(&self, bytes: &[u8], summary: impl FnOnce() -> String) {
        self.report(Direction::Sent, self.role, bytes, summary);
    }

    /// Reports a message this endpoint received.
    pub fn received(&self, bytes: &[u8], summary: impl FnOnce() -> String) {
        self.report(Direction::Received, self.role.peer(), bytes, summary);
    }

    fn report(
        &self,
        direction: Direction,
        from: Role,
        bytes: &[u8],
        summary: impl FnOnce() -> String,
    ) {
        self.tracer.publish(|with_raw| TraceEvent {
            time: SystemTime::now(),
            protocol: self.protocol,
            local: self.local,
            peer: self.peer,
            direction,
            from,
            len: bytes.len(),
            summary: summary(),
            raw: with_raw.then(|| Bytes::copy_from_slice(bytes)),
        });
    }
}

/// Renders one event in `format`, ending with a newline.
pub fn render(event: &TraceEvent, format: TraceFormat) -> String {
    match format {
        TraceFormat::Json => {
            let mut line = serde_json::to_string(event).expect("trace events serialize");
            line.push('\n');
            line
        }
        TraceFormat::Transcript => render_transcript(event),
    }
}

fn render_transcript(event: &TraceEvent) -> String {
    let (from, to) = event.endpoints();
    let clock = time::OffsetDateTime::from(event.time)
        .format(time::macros::format_description!(
            "[hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default();
    let mut out = format!(
        "{clock} {:<4} {from} → {to}  {}: {}\n",
        event.protocol,
        event.from.letter(),
        event.summary
    );
    if let Some(raw) = &event.raw {
        out.push_str(&hex_dump(raw, "      "));
    }
    out
}

/// A classic 16-bytes-per-line hex dump with offsets and printable ASCII, each line prefixed.
pub fn hex_dump(bytes: &[u8], prefix: &str) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{prefix}{:04x}  ", row * 16);
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

/// Writes every event from `rx` to `out` until all tracers are dropped; notes events lost to lag.
/// It blocks: run it on a thread of its own (`spawn_blocking`), off the services' runtime threads.
pub fn print_events(
    mut rx: broadcast::Receiver<Arc<TraceEvent>>,
    format: TraceFormat,
    mut out: impl Write,
) {
    loop {
        let text = match rx.blocking_recv() {
            Ok(event) => render(&event, format),
            Err(broadcast::error::RecvError::Lagged(lost)) => {
                format!("… {lost} trace events dropped (printer too slow)\n")
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}

fn serialize_time<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let text = time::OffsetDateTime::from(*time)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

fn serialize_hex<S: serde::Serializer>(raw: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
    match raw {
        Some(bytes) => s.serialize_str(&bytes.iter().fold(
            String::with_capacity(bytes.len() * 2),
            |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            },
        )),
        None => s.serialize_none(),
    }
}

/// A multi-line message for a transcript: its first line, and how many lines followed
/// (`+OK (+2 lines)`, `211-Features: (+12 lines)`).
pub fn summarize_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_string();
    let more = lines.count();
    if more > 0 {
        format!("{first} (+{more} lines)")
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn off_tracer_never_builds_a_summary() {
        let scope = Tracer::off().scope(
            "udp",
            Role::Server,
            addr("127.0.0.1:1"),
            addr("127.0.0.1:2"),
        );
        scope.received(b"x", || panic!("summary built while tracing is off"));
    }

    #[tokio::test]
    async fn server_scope_attributes_messages_to_the_right_side() {
        let tracer = Tracer::new(16, false);
        let mut rx = tracer.subscribe().unwrap();
        let scope = tracer.scope(
            "udp",
            Role::Server,
            addr("127.0.0.1:12000"),
            addr("127.0.0.1:50000"),
        );
        scope.received(b"hello", || "\"hello\"".into());
        scope.sent(b"HELLO", || "\"HELLO\"".into());

        let query = rx.recv().await.unwrap();
        assert_eq!(
            (query.from, query.direction, query.len),
            (Role::Client, Direction::Received, 5)
        );
        assert_eq!(
            query.endpoints(),
            (addr("127.0.0.1:50000"), addr("127.0.0.1:12000"))
        );
        assert!(query.raw.is_none());
        let line = render(&query, TraceFormat::Transcript);
        assert!(
            line.ends_with("udp  127.0.0.1:50000 → 127.0.0.1:12000  C: \"hello\"\n"),
            "{line}"
        );

        let reply = rx.recv().await.unwrap();
        assert_eq!(reply.from, Role::Server);
        assert!(render(&reply, TraceFormat::Transcript).contains("  S: \"HELLO\""));
    }

    #[tokio::test]
    async fn json_lines_carry_raw_bytes_on_request() {
        let tracer = Tracer::new(4, true);
        let mut rx = tracer.subscribe().unwrap();
        tracer
            .scope(
                "dns",
                Role::Client,
                addr("127.0.0.1:1"),
                addr("127.0.0.1:53"),
            )
            .sent(&[0xab, 0x01], || "query".into());
        let json: serde_json::Value =
            serde_json::from_str(&render(&rx.recv().await.unwrap(), TraceFormat::Json)).unwrap();
        assert_eq!(json["protocol"], "dns");
        assert_eq!(json["from"], "client");
        assert_eq!(json["direction"], "sent");
        assert_eq!(json["raw_hex"], "ab01");
        assert_eq!(json["len"], 2);
        assert!(json["time"].as_str().unwrap().contains('T'));
    }

    #[test]
    fn hex_dump_shows_offsets_bytes_and_text() {
        let dump = hex_dump(b"0123456789abcdefXY\x00", "");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0000  30 31 32 33 34 35 36 37  38 39"));
        assert!(lines[0].ends_with("0123456789abcdef"));
        assert!(lines[1].starts_with("0010  58 59 00"));
        assert!(lines[1].ends_with("XY."));
    }

    #[test]
    fn printer_stops_when_tracers_are_gone() {
        let tracer = Tracer::new(4, false);
        let rx = tracer.subscribe().unwrap();
        tracer
            .scope(
                "udp",
                Role::Client,
                addr("127.0.0.1:1"),
                addr("127.0.0.1:2"),
            )
            .sent(b"a", || "a".into());
        drop(tracer);
        let mut out = Vec::new();
        print_events(rx, TraceFormat::Transcript, &mut out);
        assert!(String::from_utf8(out).unwrap().contains("C: a"));
    }

    #[test]
    fn summaries_show_the_status_line() {
        assert_eq!(summarize_lines(b"+OK 2 200\r\n"), "+OK 2 200");
        assert_eq!(summarize_lines(b"+OK\r\n1 x\r\n.\r\n"), "+OK (+2 lines)");
    }
}
