//! HTTP/1.1 for appnet (RFC 9110, 9111, 9112).
//!
//! - [`proto`]: the sans-IO HTTP/1.1 message codec and connection state (RFC 9112): request and
//!   status lines, header fields with limits, Content-Length and chunked bodies, persistence.
//! - [`semantics`]: sans-IO HTTP semantics (RFC 9110) the servers and clients share: byte ranges,
//!   conditional requests, and the RFC 9111 caching rules the CDN builds on.
//! - [`client`]: the HTTP/1.1 client (keep-alive pool, redirects, ranges, https) that
//!   `appnet get`, the DASH player, the CDN and the tracker client fetch with.
//! - [`config`]: the `[http]` section; [`demo`]: the built-in demo site.
//! - [`server`]: the tokio driver of the static server.
//! - [`site`]: the static site's sans-IO parts: safe paths under the root, directory listings.

pub mod client;
pub mod config;
pub mod demo;
pub mod proto;
pub mod semantics;
pub mod server;
pub mod site;
