//! The control connection's codec: no sockets, no async.

pub mod command;
pub mod path;
pub mod reply;
