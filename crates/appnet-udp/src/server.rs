//! The tokio driver of the upper-case server: receive a datagram, ask the core for the answer, send it
//! back to the sender's address. One socket, one task; the core does all the deciding.

use std::io;
use std::net::SocketAddr;

use appnet_core::lifecycle::Shutdown;
use appnet_core::trace::{Role, Tracer};
use tokio::net::UdpSocket;

use crate::proto::{self, MAX_DATAGRAM};

/// Binds the server's socket (`127.0.0.1:0` picks a free port; ask the socket which one).
pub async fn bind(listen: SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(listen).await
}

/// Answers datagrams on `socket` until `shutdown` fires. Errors on one datagram (a send that fails,
/// an ICMP error surfacing on receive) are logged and do not stop the service.
pub async fn serve(socket: UdpSocket, tracer: Tracer, shutdown: Shutdown) -> io::Result<()> {
    let local = socket.local_addr()?;
    // One byte more than the largest datagram, so an over-long one is noticed rather than cut.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            received = socket.recv_from(&mut buf) => received,
        };
        let (len, peer) = match received {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(%local, "udp receive error: {err}");
                continue;
            }
        };
        let datagram = &buf[..len];
        let trace = tracer.scope("udp", Role::Server, local, peer);
        trace.received(datagram, || proto::summarize(datagram));
        let reply = proto::answer(datagram);
        match socket.send_to(reply.as_bytes(), peer).await {
            Ok(_) => trace.sent(reply.as_bytes(), || proto::summarize(reply.as_bytes())),
            Err(err) => tracing::debug!(%local, %peer, "udp send error: {err}"),
        }
    }
}
