//! The HTTP caching core, RFC 9111: pure functions and data the CDN (shared cache) and the
//! client (private cache) build on. No storage, no clock: the caller keeps
//! [`StoredResponse`]s wherever it likes and passes "now" in.
//!
//! The path of one request through a cache, and where each step lives:
//!
//! 1. Look up stored responses by method and URI (caller), then [`decide`] for each candidate
//!    (§4: method, [`vary`] §4.1, freshness §4.2, request directives §5.2.1):
//!    [`CacheDecision::Fresh`] → serve with [`StoredResponse::age_header_value`];
//!    [`CacheDecision::Stale`] → send the conditional request it lists (§4.3.1).
//! 2. On a 304: [`freshen_from_304`] (§4.3.4). On a full response: [`storable()`] /
//!    [`check_storable`] (§3), then [`StoredResponse::new`].
//! 3. On a 5xx or no connection: [`may_serve_stale_on_error`] (RFC 5861).
//! 4. After an unsafe request: [`invalidates`] (§4.4).
//!
//! Headers are `(name, value)` lists ([`fields::Fields`]) so the module does not depend on the
//! codec's types; repeated lines are combined as RFC 9110 §5.3 says.

pub mod control;
pub mod fields;
pub mod freshness;
pub mod reuse;
pub mod storable;
pub mod update;
pub mod vary;

use std::time::SystemTime;

pub use control::{CacheControl, MaxStale};
pub use fields::Fields;
pub use freshness::{
    Freshness, FreshnessSource, age_header_value, current_age, freshness_lifetime,
    is_heuristically_cacheable,
};
pub use reuse::{CacheDecision, Unusable, decide, may_serve_stale_on_error};
pub use storable::{NotStorable, check_storable, storable};
pub use update::{FreshenError, freshen_from_304, invalidates, selects_for_update};
pub use vary::{Vary, parse_vary, vary_matches};

use crate::semantics::conditional::Validators;
use crate::semantics::date::parse_http_date;
use crate::semantics::etag::EntityTag;

/// What a cache keeps about one stored response, besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The method of the request that produced it (GET or HEAD).
    pub request_method: String,
    pub status: u16,
    /// The response's header section as received (minus what the caller chose not to store).
    pub headers: Vec<(String, String)>,
    /// When the request that produced (or last validated) it was sent (§4.2.3).
    pub request_time: SystemTime,
    /// When that response was received (§4.2.3).
    pub response_time: SystemTime,
    /// For each field named by its `Vary`: the request's normalised value, or `None` (§4.1).
    pub varying: Vec<(String, Option<String>)>,
}

impl StoredResponse {
    /// Summarises a response for storage, remembering the request values `Vary` selects on.
    /// `None` for `Vary: *`, which could never be reused (§4.1). Does not check storability:
    /// call [`check_storable`] first.
    pub fn new(
        request_method: &str,
        request_headers: &Fields,
        status: u16,
        headers: Vec<(String, String)>,
        request_time: SystemTime,
        response_time: SystemTime,
    ) -> Option<Self> {
        let varying = vary::varying_values(&headers, request_headers)?;
        Some(Self {
            request_method: request_method.to_owned(),
            status,
            headers,
            request_time,
            response_time,
            varying,
        })
    }

    /// The first line of field `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        fields::first(&self.headers, name)
    }

    /// The response's `Cache-Control` directives.
    pub fn cache_control(&self) -> CacheControl {
        fields::combined(&self.headers, "cache-control")
            .map(|v| CacheControl::parse(&v))
            .unwrap_or_default()
    }

    /// The response's `ETag`, if present and valid.
    pub fn etag(&self) -> Option<EntityTag> {
        self.header("etag").and_then(|v| EntityTag::parse(v).ok())
    }

    /// The stored validators, for §4.3.2: a cache answering a conditional request from
    /// storage evaluates it with [`crate::semantics::evaluate_preconditions`] against these.
    pub fn validators(&self) -> Validators {
        Validators {
            etag: self.etag(),
            last_modified: self.header("last-modified").and_then(parse_http_date),
        }
    }

    /// §4.2.1 freshness lifetime.
    pub fn freshness(&self, shared: bool) -> Freshness {
        freshness_lifetime(self.status, &self.headers, self.response_time, shared)
    }

    /// §4.2.3 current age at `now`, in seconds.
    pub fn current_age(&self, now: SystemTime) -> u64 {
        current_age(&self.headers, self.request_time, self.response_time, now)
    }

    /// §4.2: `freshness_lifetime > current_age`.
    pub fn is_fresh(&self, now: SystemTime, shared: bool) -> bool {
        self.freshness(shared).lifetime > self.current_age(now)
    }

    /// §5.1: the `Age` field value to send when serving it at `now`.
    pub fn age_header_value(&self, now: SystemTime) -> String {
        age_header_value(self.current_age(now))
    }

    /// §4.1: whether `request_headers` match the values this response was selected by.
    pub fn vary_matches(&self, request_headers: &Fields) -> bool {
        let vary = fields::combined(&self.headers, "vary");
        vary_matches(vary.as_deref(), &self.varying, request_headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::date::{format_http_date, from_unix_seconds};
    use fields::owned;

    #[test]
    fn stored_response_summary() {
        let t = from_unix_seconds(1_700_000_000);
        let date = format_http_date(t);
        let headers = owned(&[
            ("Date", &date),
            ("Cache-Control", "max-age=60"),
            ("ETag", "W/\"x\""),
            ("Vary", "Accept-Encoding"),
            ("Age", "5"),
        ]);
        let req = owned(&[("Accept-Encoding", "gzip")]);
        let s = StoredResponse::new("GET", &req, 200, headers.clone(), t, t).unwrap();
        assert_eq!(
            s.varying,
            vec![("accept-encoding".into(), Some("gzip".into()))]
        );
        assert_eq!(s.etag(), Some(EntityTag::weak("x")));
        assert_eq!(s.cache_control().max_age, Some(60));
        let later = t + std::time::Duration::from_secs(10);
        assert_eq!(s.current_age(later), 15);
        assert_eq!(s.age_header_value(later), "15");
        assert!(s.is_fresh(later, true));
        assert!(!s.is_fresh(t + std::time::Duration::from_secs(55), true));
        assert!(s.vary_matches(&req));
        assert_eq!(
            s.validators(),
            Validators {
                etag: Some(EntityTag::weak("x")),
                last_modified: None
            }
        );
        assert!(!s.vary_matches(&[]));

        let mut star = headers;
        star.push(("Vary".into(), "*".into()));
        assert!(StoredResponse::new("GET", &req, 200, star, t, t).is_none());
    }
}
