//! UDP sockets, the course's first program: an upper-case echo server and its clients.
//!
//! - [`proto`]: the sans-IO core (the server's answer, ping probes and statistics).
//! - [`server`]: the tokio driver of `appnet udp serve`.
//! - [`client`]: the tokio drivers of `appnet udp send` and `appnet udp ping`.
//! - [`config`]: the `[udp]` config section.
//!
//! UDP itself is RFC 768: no connection, no delivery check, so the clients time out and retry.

pub mod client;
pub mod config;
pub mod proto;
pub mod server;
