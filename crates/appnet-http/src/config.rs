//! The `[http]` section of the appnet config file.

use std::net::SocketAddr;
use std::path::PathBuf;

use appnet_core::config::Seconds;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Where `appnet http serve` and `appnet up` listen.
    pub listen: SocketAddr,
    /// The directory served; unset means the built-in demo site.
    pub root: Option<PathBuf>,
    /// `-` (standard output), `off`, or a file to append combined-format lines to.
    pub access_log: String,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Seconds a connection may stay idle, or take to send one request.
    pub idle_timeout: Seconds,
    /// Where HTTPS is served (the same site); unset turns HTTPS off.
    pub tls_listen: Option<SocketAddr>,
    /// The certificate chain and key (PEM) for HTTPS; unset means appnet's own, made on first
    /// start and signed by appnet's local CA.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            root: None,
            access_log: "-".into(),
            max_connections: 50_000,
            idle_timeout: Seconds::from_millis(60_000),
            tls_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            tls_cert: None,
            tls_key: None,
        }
    }
}
