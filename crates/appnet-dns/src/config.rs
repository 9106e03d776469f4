//! The `[dns]` section of the appnet config file: the authoritative server, the resolver, and
//! where `appnet dig` asks by default.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::acl::{self, IpNet};
use appnet_core::config::Seconds;
use serde::{Deserialize, Serialize};

use crate::mini;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Where `appnet dns serve` listens (UDP and TCP).
    pub listen: SocketAddr,
    /// Zone files `appnet dns serve` loads when no `--zone` is given.
    pub zones: Vec<PathBuf>,
    /// The largest UDP answer we send to an EDNS client (RFC 6891; 1232 avoids IP fragmentation).
    pub max_udp_payload: u16,
    /// Seconds an idle TCP connection stays open (RFC 7766 §6.2.3).
    pub tcp_idle_timeout: Seconds,
    /// TCP connections served at once; more wait in the kernel's backlog.
    pub max_tcp_connections: usize,
    /// Who may transfer zones (AXFR).
    pub allow_transfer: Vec<IpNet>,
    /// Secondaries told of every zone reload (RFC 1996 NOTIFY), as ADDRESS:PORT.
    pub notify: Vec<SocketAddr>,
    pub resolver: ResolverConfig,
    /// Where `appnet dig` asks when no @SERVER is given: the mini Internet's resolver.
    pub dig_server: SocketAddr,
    /// The port name servers listen on: the mini Internet's in `appnet up` (root 127.0.0.2, TLD
    /// 127.0.0.3, authoritative 127.0.0.4), and the port the resolver and `appnet dig +trace` ask
    /// upstream servers on (53 on the real Internet).
    pub mini_port: u16,
}

/// The `[dns.resolver]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolverConfig {
    /// Where `appnet dns resolve` listens (UDP and TCP).
    pub listen: SocketAddr,
    /// A root hints file (the named.root format); unset means the mini Internet's own root.
    pub root_hints: Option<PathBuf>,
    /// Clients allowed to ask: never an open resolver.
    pub allow: Vec<IpNet>,
    /// Entries the cache holds at most.
    pub cache_size: usize,
    /// Seconds to wait for each upstream answer.
    pub upstream_timeout: Seconds,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5300)),
            zones: Vec::new(),
            max_udp_payload: crate::wire::edns::DEFAULT_PAYLOAD_SIZE,
            tcp_idle_timeout: Seconds::from_millis(10_000),
            max_tcp_connections: 1024,
            allow_transfer: acl::loopback(),
            notify: Vec::new(),
            resolver: ResolverConfig::default(),
            dig_server: mini::RESOLVER,
            mini_port: mini::PORT,
        }
    }
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            listen: mini::RESOLVER,
            root_hints: None,
            allow: acl::loopback(),
            cache_size: 100_000,
            upstream_timeout: Seconds::from_millis(1500),
        }
    }
}
