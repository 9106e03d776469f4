//! The UDP loop the authoritative server and the resolver share: on a thread of its own, receiving
//! in batches ([`udp_batch`]). (Their TCP side uses `appnet_core::net`, as every server does.)
//!
//! The UDP loop runs with a blocking socket rather than as a tokio task: a busy server always has
//! the next queries waiting, and then one system call fetches many of them, where a task would
//! also go through the reactor and hop between worker threads.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::lifecycle::Shutdown;
use tokio::net::UdpSocket;

use crate::udp_batch::{self, RecvBatch};

/// How often the UDP loop looks at the shutdown token when no datagram arrives.
const STOP_POLL: Duration = Duration::from_millis(100);

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
