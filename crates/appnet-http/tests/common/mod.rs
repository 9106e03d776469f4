//! What the HTTP interop tests share: our static server running in-process on a free port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::TcpLimits;
use appnet_core::trace::Tracer;
use appnet_http::server::access_log::AccessLog;
use appnet_http::server::{self, Site};

/// Our server on its own runtime; it stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Shutdown,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Serves `site` on 127.0.0.1 (as HTTPS when `tls` is given), access log off.
pub fn serve_site(site: Site, tls: Option<Arc<rustls::ServerConfig>>) -> Running {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shutdown = Shutdown::new();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = TcpLimits {
        max_connections: 256,
        idle_timeout: Duration::from_secs(5),
    };
    let log = Arc::new(AccessLog::Off);
    runtime.spawn(server::serve(
        listener,
        Arc::new(site),
        limits,
        log,
        tls,
        Tracer::off(),
        shutdown.clone(),
    ));
    Running {
        addr,
        shutdown,
        _runtime: runtime,
    }
}
