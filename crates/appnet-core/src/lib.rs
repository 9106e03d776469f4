//! What every appnet service and client shares, and nothing protocol-specific:
//!
//! - [`config`]: loading one TOML file over embedded defaults, with errors that name the key and line.
//! - [`lifecycle`]: running a set of services until SIGINT/SIGTERM and stopping them within a grace period.
//! - [`trace`]: the protocol trace stream — one structured event per protocol message — and its
//!   transcript (`C: EHLO alpha.example`) and JSON-lines renderings.
//! - [`files`]: opening paths confined beneath a directory (`openat2`), and `sendfile`.
//! - [`net`]: the bounded TCP accept loop every server shares.
//! - [`password`]: argon2id password hashes for the accounts in config files.
//! - [`transport`]: a TCP stream with or without TLS, for drivers that handle both.
//! - [`sync`]: a lock that survives a panicked holder.
//! - [`tls`]: locally generated TLS material (a private CA and a leaf certificate) as rustls configs.

pub mod config;
pub mod files;
pub mod lifecycle;
pub mod net;
pub mod password;
pub mod sync;
pub mod tls;
pub mod trace;
pub mod transport;
