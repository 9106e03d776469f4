//! The socket loops the authoritative server and the resolver share: a bounded TCP accept loop
//! (RFC 7766 §6.2.2: limit connections, let the extra wait in the kernel's backlog) and a UDP loop
//! on a thread of its own that receives in batches ([`udp_batch`]).
//!
//! The UDP loop runs with a blocking socket rather than as a tokio task: a busy server always has
//! the next queries waiting, and then one system call fetches many of them, where a task would
//! also go through the reactor and hop between worker threads.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::lifecycle::Shutdown;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use crate::udp_batch::{self, RecvBatch};

/// How many TCP connections are served at once and how long a quiet one stays open.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// How often the UDP loop looks at the shutdown token when no datagram arrives.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Accepts connections until `shutdown`, at most `max_connections` at once, and serves each with
/// `serve` on a task of its own. A connection that fails is logged; the loop goes on.
pub async fn accept_connections<Serve, Served>(
    listener: TcpListener,
    max_connections: usize,
    shutdown: Shutdown,
    service: &'static str,
    serve: Serve,
) -> io::Result<()>
where
    Serve: Fn(TcpStream, SocketAddr) -> Served,
    Served: Future<Output = io::Result<()>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        // Wait for a free slot before accepting: extra clients wait in the kernel's backlog.
        let permit = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            permit = slots.clone().acquire_owned() => permit.map_err(io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::debug!("{service} tcp accept error: {err}");
                    continue;
                }
            },
        };
        let connection = serve(stream, peer);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                () = shutdown.cancelled() => {}
                result = connection => {
                    if let Err(err) = result {
                        tracing::debug!(%peer, "{service} tcp connection ended: {err}");
                    }
                }
            }
        });
    }
}

/// Receives datagrams on `socket` in batches until `shutdown`, handing each batch to `on_batch`
/// together with the socket to answer on.
pub async fn serve_datagrams(
    socket: UdpSocket,
    shutdown: Shutdown,
    service: &'static str,
    mut on_batch: impl FnMut(&Arc<std::net::UdpSocket>, &RecvBatch) + Send + 'static,
) -> io::Result<()> {
    let socket = Arc::new(socket.into_std()?);
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(STOP_POLL))?;
    tokio::task::spawn_blocking(move || {
        let mut batch = RecvBatch::default();
        while !shutdown.is_cancelled() {
            match udp_batch::recv_batch(&socket, &mut batch) {
                Ok(_) => on_batch(&socket, &batch),
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(err) => tracing::debug!("{service} udp receive error: {err}"),
            }
        }
    })
    .await
    .map_err(io::Error::other)
}
