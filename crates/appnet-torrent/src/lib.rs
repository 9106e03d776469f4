//! BitTorrent for appnet (BEP 3, with BEP 6, 7, 10, 15 and 23).
//!
//! - [`bencode`]: the strict codec every other part speaks.
//! - `metainfo`: .torrent files — parsing, the info-hash, making one from a path.
//! - `wire`: the peer wire protocol's messages (BEP 3, Fast extension BEP 6, extension
//!   protocol BEP 10), as a bounded streaming codec.
//! - `tracker`: announce and scrape over HTTP (BEP 3, 23, 7) and UDP (BEP 15): the swarm
//!   registry, the server driver and the announce client.
//! - `peer`: the peer — storage, piece picking, choking, one sans-IO session per connection,
//!   and the driver that runs them.

pub mod bencode;
pub mod config;
pub mod metainfo;
pub mod peer;
pub mod tracker;
pub mod wire;
