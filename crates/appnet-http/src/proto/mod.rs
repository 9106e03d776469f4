//! The sans-IO HTTP/1.1 codec (RFC 9112, with RFC 9110 for field syntax): bytes in, typed
//! messages and events out, and back. No sockets, no async, no clock it is not handed: the
//! tokio drivers, the unit tests, the proptests and the fuzzer all run this very code.
//!
//! - [`conn`]: [`ServerConn`], a server connection: requests, bodies, 100-continue, persistence
//!   and pipelining (RFC 9112 §9);
//! - [`client`]: [`ResponseParser`], a client connection's responses (RFC 9112 §6.3);
//! - [`request`] / [`response`]: [`RequestHead`] and [`ResponseHead`], parsing and encoding
//!   (RFC 9112 §3, §4); [`target`]: the four request-target forms and Host (RFC 9112 §3.2);
//! - [`headers`]: [`Headers`], the ordered case-insensitive multi-map (RFC 9112 §5, RFC 9110 §5);
//! - `framing`: which framing a message uses (RFC 9112 §6), where smuggling is refused;
//! - [`body`]: Content-Length, chunked and close-delimited bodies (RFC 9112 §6–7);
//! - `head`: finding the end of a head incrementally, with limits (RFC 9112 §2);
//! - [`message`]: [`Method`] and [`Version`] (dates are in `crate::semantics::date`);
//! - [`config`]: [`ParseConfig`], the limits; [`error`]: [`HttpError`] → status codes.

pub mod body;
pub mod client;
pub mod config;
pub mod conn;
pub mod error;
pub(crate) mod framing;
pub(crate) mod head;
pub mod headers;
mod input;
pub mod message;
pub mod request;
pub mod response;
pub(crate) mod syntax;
pub mod target;

pub use body::{encode_chunk, last_chunk};
pub use client::{ResponseEvent, ResponseParser};
pub use config::ParseConfig;
pub use conn::{CONTINUE, Event, ServerConn, error_response};
pub use error::{EncodeError, HttpError};
pub use headers::{Field, Headers};
pub use message::{Method, Version};
pub use request::{Request, RequestHead};
pub use response::{ResponseHead, reason_phrase, response_has_body};
pub use target::{TargetForm, check_target, host_ok};
