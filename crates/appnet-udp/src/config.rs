//! The `[udp]` section of the appnet config file.

use std::net::SocketAddr;

use appnet_core::config::Seconds;
use serde::{Deserialize, Serialize};

use crate::client::Patience;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpConfig {
    /// Where `appnet udp serve` and `appnet up` listen.
    pub listen: SocketAddr,
    /// Seconds a client waits for each reply.
    pub timeout: Seconds,
    /// Retransmissions after the first try before a client gives up.
    pub retries: u32,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 12000)),
            timeout: Seconds::from_millis(1000),
            retries: 3,
        }
    }
}

impl UdpConfig {
    /// The client patience these settings describe.
    pub fn patience(&self) -> Patience {
        Patience {
            timeout: self.timeout.0,
            retries: self.retries,
        }
    }
}
