//! The recursive resolver: `appnet dns resolve`. It answers its clients' questions by asking the
//! authoritative servers itself, from the root down, and remembers what it learns.
//!
//! RFC 1034 §5.3.3 (the resolver algorithm), RFC 1035 §7 (resolver implementation), RFC 2181
//! §5.4.1 (data ranking), RFC 2308 (negative caching), RFC 5358 (no open resolvers), RFC 5452
//! (resilience against forged answers: random ID and port, answer matching, bailiwick),
//! RFC 6891 (EDNS), RFC 8767 (serve-stale), RFC 8914 (extended DNS errors).
//!
//! - [`hints`]: root hints (a named.root file, or the mini Internet's root);
//! - [`cache`]: RRsets and negative answers with expiry, rank, size bound and stale retention;
//! - [`classify`]: what an upstream response means (answer, alias, negative, referral, lame),
//!   after dropping out-of-bailiwick records;
//! - [`iterate`]: one resolution as a sans-IO state machine the driver steps with [`Step`]s;
//! - [`respond`]: the client side, sans-IO: ACL, checks, and the reply to send;
//! - [`server`]: the tokio driver ([`Resolver`], UDP and TCP listeners).

pub mod cache;
pub mod classify;
pub mod hints;
pub mod iterate;
pub mod respond;
pub mod server;

pub use cache::{Cache, Freshness, Hit, Rank};
pub use hints::{Hints, HintsError};
pub use iterate::{Answer, Outcome, Resolution, ResolveError, Step};
pub use respond::{ClientQuery, Incoming, Reply, accept};
pub use server::{Resolver, serve_tcp, serve_udp};

#[cfg(test)]
mod tests;
