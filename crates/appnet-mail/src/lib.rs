//! E-mail for appnet: the message format (RFC 5322, MIME RFC 2045–2049), SMTP (RFC 5321) as a
//! sans-IO server and client, a durable queue that relays by MX, Maildir delivery, accounts, and
//! a user agent that composes and submits.

pub mod accounts;
pub mod client;
pub mod config;
pub mod delivery;
pub mod dsn;
pub mod imap;
pub mod imap_server;
pub mod maildir;
pub mod message;
pub mod pop3;
pub mod pop3_server;
pub mod queue;
pub mod relay;
pub mod server;
pub mod smtp;
pub mod store;
