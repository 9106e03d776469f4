//! The peer: what it downloads and from whom, whom it uploads to, and how fast.
//!
//! Sans IO: [`torrent`] (one torrent's state across all its connections, the heart of it),
//! [`picker`] (which blocks to request), [`choker`] (whom to unchoke), [`rate`] (rate
//! meters and token buckets), [`superseed`] (BEP 16 super-seeding). [`storage`] is the data on disk: pieces over files, SHA-1 checks. [`driver`] runs it all over tokio: connections, the tracker, the limits.

pub mod choker;
pub mod driver;
pub mod picker;
pub mod rate;
pub mod storage;
pub mod superseed;
pub mod torrent;
