//! The control connection's codec: no sockets, no async.

pub mod command;
pub mod lines;
pub mod path;
pub mod reply;
