//! Network loops every TCP server shares: accepting connections with a bound on how many are
//! served at once (extra clients wait in the kernel's backlog, as RFC 7766 §6.2.2 recommends for
//! DNS and every busy server does), each on a task of its own that stops with the service.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::lifecycle::Shutdown;

/// How long the accept loop waits after an accept error.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How many TCP connections are served at once and how long a quiet one stays open.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

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
                    // Out of descriptors (EMFILE) or a connection reset before accept: pause
                    // briefly rather than spin on an error that will repeat at once.
                    tracing::debug!("{service} tcp accept error: {err}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
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

/// A UDP socket and a TCP listener on the same address, as DNS serves both on one port. With
/// port 0 the kernel picks the UDP port, and that port may already be taken for TCP: then both
/// are tried again with another port.
pub async fn bind_udp_and_tcp(
    address: SocketAddr,
) -> io::Result<(tokio::net::UdpSocket, TcpListener)> {
    const ATTEMPTS: usize = 32;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let udp = tokio::net::UdpSocket::bind(address).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(err) if address.port() == 0 => last_error = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

/// A TCP listener on `address` with SO_REUSEADDR — a port whose last connections linger in
/// TIME_WAIT can be listened on again at once — and a backlog of `backlog`.
pub fn listen_reusing(address: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(backlog)
}
