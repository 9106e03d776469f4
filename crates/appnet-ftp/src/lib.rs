//! FTP for appnet (RFC 959 with RFC 2389, 2428, 3659 and 4217). So far the sans-IO codec of
//! the control connection: [`proto::command`] parses what a client sends, [`proto::reply`]
//! writes and reads what a server answers, and [`proto::path`] keeps a session's paths
//! under its root. The server, the client and the data connections
//! build on it.

pub mod proto;
