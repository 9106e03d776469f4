//! FTP for appnet (RFC 959 with RFC 2389, 2428, 3659 and 4217).
//!
//! - [`proto`]: the control connection's codec — commands, replies, virtual paths.
//! - [`session`]: the server's sans-IO state machine for one control connection.
//! - [`fs`]: a user's tree, confined by the kernel (`openat2` with `RESOLVE_BENEATH`), and
//!   uploads that appear under their name only when complete.
//! - [`listing`]: LIST, NLST, MLSD and MLST output.
//! - [`ascii`]: TYPE A's line-end conversion.
//! - [`throttle`]: slowing down password guessing.
//! - [`server`]: the tokio driver — control and data connections, passive ports, TLS.
//! - [`config`]: the `[ftp]` config section.

pub mod ascii;
pub mod client;
pub mod config;
pub mod fs;
pub mod listing;
pub mod proto;
pub mod server;
pub mod session;
pub mod throttle;
