//! The tokio drivers of the two clients: `send` (one request with timeout and retries) and `ping`
//! (a series of probes with loss and round-trip statistics, like ping(8)).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::net::UdpSocket;

use crate::proto::{self, MAX_DATAGRAM, PingStats};

/// How long to wait for each reply and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub retries: u32,
}

/// A request that was answered.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub reply: Vec<u8>,
    /// Time from the last transmission to the reply.
    pub rtt: Duration,
    /// Transmissions made, the first included.
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no reply from {target} after {attempts} attempt(s), {timeout:?} each")]
    NoReply {
        target: SocketAddr,
        attempts: u32,
        timeout: Duration,
    },
    #[error("the message is {0} bytes; one UDP datagram holds at most {MAX_DATAGRAM}")]
    TooLarge(usize),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A UDP socket connected to `target`, so that only its replies are received.
async fn connect(target: SocketAddr, tracer: &Tracer) -> io::Result<(UdpSocket, TraceScope)> {
    let any: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .expect("literal address");
    let socket = UdpSocket::bind(any).await?;
    socket.connect(target).await?;
    let scope = tracer.scope("udp", Role::Client, socket.local_addr()?, target);
    Ok((socket, scope))
}

/// Sends `message` to `target` and waits for the reply, retransmitting after each timeout.
pub async fn send(
    target: SocketAddr,
    message: &[u8],
    patience: Patience,
    tracer: &Tracer,
) -> Result<Exchange, SendError> {
    if message.len() > MAX_DATAGRAM {
        return Err(SendError::TooLarge(message.len()));
    }
    let (socket, trace) = connect(target, tracer).await?;
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let attempts = patience.retries.saturating_add(1);
    for attempt in 1..=attempts {
        socket.send(message).await?;
        trace.sent(message, || proto::summarize(message));
        let sent_at = Instant::now();
        if let Some(len) = receive_within(&socket, &mut buf, sent_at + patience.timeout).await? {
            let reply = buf[..len].to_vec();
            trace.received(&reply, || proto::summarize(&reply));
            return Ok(Exchange {
                reply,
                rtt: sent_at.elapsed(),
                attempts: attempt,
            });
        }
    }
    Err(SendError::NoReply {
        target,
        attempts,
        timeout: patience.timeout,
    })
}

/// Receives one datagram before `deadline`. An ICMP "port unreachable" (seen as connection refused
/// on a connected socket) counts as silence: the deadline is waited out so retries stay paced.
async fn receive_within(
    socket: &UdpSocket,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<Option<usize>> {
    match tokio::time::timeout_at(deadline.into(), socket.recv(buf)).await {
        Err(_elapsed) => Ok(None),
        Ok(Ok(len)) => Ok(Some(len)),
        Ok(Err(err)) if err.kind() == io::ErrorKind::ConnectionRefused => {
            tokio::time::sleep_until(deadline.into()).await;
            Ok(None)
        }
        Ok(Err(err)) => Err(err),
    }
}

/// How a ping run is paced.
#[derive(Debug, Clone, Copy)]
pub struct PingOptions {
    pub count: u32,
    /// Time between the starts of two probes.
    pub interval: Duration,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// Probe size in bytes.
    pub size: usize,
}

/// What happened to one probe.
#[derive(Debug, Clone, PartialEq)]
pub enum PingOutcome {
    Reply {
        seq: u32,
        bytes: usize,
        rtt: Duration,
    },
    Timeout {
        seq: u32,
    },
}

/// Sends `options.count` probes to `target` one after the other, reporting each outcome to
/// `on_outcome`, and returns the statistics. Stops early, with the statistics so far, on `shutdown`.
pub async fn ping(
    target: SocketAddr,
    options: PingOptions,
    tracer: &Tracer,
    shutdown: &Shutdown,
    mut on_outcome: impl FnMut(&PingOutcome),
) -> io::Result<PingStats> {
    let (socket, trace) = connect(target, tracer).await?;
    let mut stats = PingStats::default();
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    for seq in 1..=options.count {
        let probe = proto::ping_probe(seq, options.size);
        let started = Instant::now();
        socket.send(&probe).await?;
        trace.sent(&probe, || proto::summarize(&probe));
        stats.record_sent();
        let outcome = tokio::select! {
            () = shutdown.cancelled() => break,
            outcome = await_reply(&socket, &mut buf, seq, started, started + options.timeout, &trace) => outcome?,
        };
        if let PingOutcome::Reply { rtt, .. } = outcome {
            stats.record_reply(rtt);
        }
        on_outcome(&outcome);
        let next_probe_at = started + options.interval;
        // tokio's timer wheel has millisecond ticks: sleeping until an instant already passed
        // still waits for the next tick, which would cap a flood ping (`-i 0`) at ~1000 probes/s.
        if seq < options.count && Instant::now() < next_probe_at {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(next_probe_at.into()) => {}
            }
        }
    }
    Ok(stats)
}

/// Waits for the reply to probe `seq`; replies to earlier probes that arrive late are skipped.
async fn await_reply(
    socket: &UdpSocket,
    buf: &mut [u8],
    seq: u32,
    sent_at: Instant,
    deadline: Instant,
    trace: &TraceScope,
) -> io::Result<PingOutcome> {
    while let Some(len) = receive_within(socket, buf, deadline).await? {
        let reply = &buf[..len];
        trace.received(reply, || proto::summarize(reply));
        if proto::ping_reply_seq(reply) == Some(seq) {
            return Ok(PingOutcome::Reply {
                seq,
                bytes: len,
                rtt: sent_at.elapsed(),
            });
        }
    }
    Ok(PingOutcome::Timeout { seq })
}
