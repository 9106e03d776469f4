//! The static site, sans-IO: from a request target to a safe path under the root, and the page
//! shown for a directory without an index file. The driver does the file system work.

pub mod listing;
pub mod path;
pub mod respond;
