//! DNS for appnet (RFC 1034/1035 and successors).
//!
//! - [`wire`]: the sans-IO message codec (RFC 1035 §4, EDNS0 RFC 6891, unknown types RFC 3597).

pub mod wire;
