//! DNS for appnet (RFC 1034/1035 and successors).
//!
//! - [`wire`]: the sans-IO message codec: names, RDATA, EDNS(0), whole messages with compression
//!   and truncation, dig-style text and annotated hex dumps (RFC 1035 §3–5, RFC 3596, RFC 2782,
//!   RFC 6891, RFC 8659, unknown types RFC 3597).
//! - [`zone`]: RFC 1035 §5 zone files (with `$TTL`, RFC 2308 §4) parsed into a validated
//!   [`zone::Zone`], and the [`zone::Catalog`] of zones a server is authoritative for.
//! - [`authority`]: the sans-IO authoritative answering logic (RFC 1034 §4.3.2, RFC 2308,
//!   RFC 4592, RFC 5936 AXFR, RFC 1996 NOTIFY) that the UDP and TCP drivers call per message.
//!
//! - [`acl`]: address access lists (zone transfers, resolver clients).
//! - [`tcp`]: DNS-over-TCP framing (RFC 1035 §4.2.2, RFC 7766); [`udp_batch`]: recvmmsg/sendmmsg.
//! - [`client`]: the tokio driver for one query (UDP with TCP fallback, or TCP) and for AXFR.
//! - [`dig`]: `appnet dig`'s command line, output and `+trace` walk.
//! - [`server`]: the tokio driver of the authoritative server (UDP, TCP, reload, NOTIFY);
//!   [`listen`]: the TCP accept loop and batched UDP loop it shares with the resolver.
//! - [`resolver`]: the recursive resolver (RFC 1034 §5.3.3): iteration from the root hints, a
//!   TTL cache with negative caching and serve-stale, an ACL, and its UDP/TCP driver.
//! - [`mini`]: the mini Internet's name servers and zones for `appnet up`; [`config`]: `[dns]`.

pub mod acl;
pub mod authority;
pub mod client;
pub mod config;
pub mod dig;
pub mod listen;
pub mod mini;
pub mod resolver;
pub mod server;
pub mod tcp;
pub mod udp_batch;
pub mod wire;
pub mod zone;
