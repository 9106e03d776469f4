//! Sans-IO HTTP semantics (RFC 9110, RFC 9111): pure functions over header values that the
//! static server, the client and the CDN share.
//!
//! Nothing here reads a socket, a file or the clock: callers pass header values as `&str`, file
//! sizes and modification times as numbers, and "now" as a [`std::time::SystemTime`]. That keeps
//! every rule testable with the RFC's own examples and lets the drivers glue it to any codec.
//!
//! - [`date`]: HTTP-date (RFC 9110 §5.6.7) formatting and the three accepted parse formats;
//! - [`etag`]: entity tags, lists of them, weak and strong comparison (RFC 9110 §8.8.3);
//! - [`conditional`]: precondition evaluation in the order of RFC 9110 §13.2.2;
//! - [`range`]: `Range`, `If-Range` and `Content-Range` (RFC 9110 §14, §13.1.5);
//! - [`multipart`]: `multipart/byteranges` bodies as header bytes and file slices (RFC 9110 §14.6);
//! - [`accept`]: content coding negotiation (`Accept-Encoding`, RFC 9110 §12.5.3);
//! - [`media_type`]: the static server's extension → `Content-Type` table and compressibility;
//! - [`cache`]: the RFC 9111 caching rules: `Cache-Control`, storability, freshness, age, `Vary`,
//!   reuse decisions and 304 freshening.

pub mod accept;
pub mod cache;
pub mod conditional;
pub mod date;
pub mod etag;
mod lex;
pub mod media_type;
pub mod multipart;
pub mod range;

pub use accept::choose_encoding;
pub use conditional::{
    ConditionalHeaders, Precondition, Validators, evaluate_preconditions, last_modified_for,
};
pub use date::{format_http_date, parse_http_date, parse_http_date_at, truncate_to_seconds};
pub use etag::{EntityTag, EntityTagList, EtagError, file_etag};
pub use lex::MAX_FIELD_LEN;
pub use media_type::{content_type_for_path, is_compressible};
pub use multipart::{
    MultipartBody, MultipartError, Segment, boundary_from_seed, multipart_byteranges,
    multipart_length,
};
pub use range::{
    ByteRange, ContentRange, MAX_RANGES, RangeOutcome, content_range, evaluate_range,
    if_range_holds, parse_content_range, parse_range, unsatisfied_content_range,
};
