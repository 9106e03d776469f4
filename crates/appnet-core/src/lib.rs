//! What every appnet service and client shares, and nothing protocol-specific:
//!
//! - [`config`]: loading one TOML file over embedded defaults, with errors that name the key and line.
//! - [`lifecycle`]: running a set of services until SIGINT/SIGTERM and stopping them within a grace period.
//! - [`trace`]: the protocol trace stream — one structured event per protocol message — and its
//!   transcript (`C: EHLO alpha.example`) and JSON-lines renderings.
//! - [`net`]: the bounded TCP accept loop every server shares.
//! - [`tls`]: locally generated TLS material (a private CA and a leaf certificate) as rustls configs.

pub mod config;
pub mod lifecycle;
pub mod net;
pub mod tls;
pub mod trace;
