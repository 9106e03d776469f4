//! BitTorrent for appnet (BEP 3, with BEP 6, 7, 10, 15 and 23).
//!
//! - [`bencode`]: the strict codec every other part speaks.
//! - [`metainfo`]: .torrent files — parsing, the info-hash, the layout of pieces over files,
//!   making one from a path.
//! - [`wire`]: the peer wire protocol's messages (BEP 3, Fast extension BEP 6, extension
//!   protocol BEP 10), as a bounded streaming codec.
//! - [`tracker`]: announce and scrape over HTTP (BEP 3, 23, 7) and UDP (BEP 15): the swarm
//!   registry, the server driver and the announce client.
//! - [`peer`]: the peer — storage, piece picking, choking, the sans-IO torrent core, and the
//!   driver that runs it over tokio.
//! - [`swarm`]: the swarm experiment, measured against the course's distribution-time bounds.
//! - [`config`]: the `[torrent]` config section.

pub mod bencode;
pub mod config;
pub mod metainfo;
pub mod peer;
pub mod swarm;
pub mod tracker;
pub mod wire;
