//! Freshness lifetime and age, RFC 9111 §4.2.
//!
//! All arithmetic is in whole seconds and saturating: a clock that jumps backwards or a peer
//! that sends absurd values produces ages and lifetimes of 0 or 2^31 (§1.2.2), never a panic.

use std::time::SystemTime;

use super::control::{CacheControl, DELTA_SECONDS_MAX, delta_seconds};
use super::fields::{self, Fields};
use crate::semantics::date::{parse_http_date, unix_seconds};

/// §4.2.2: the fraction of (Date − Last-Modified) used as a heuristic lifetime: 10%, the
/// RFC's "typical setting".
pub const HEURISTIC_DIVISOR: u64 = 10;

/// Our cap on a heuristic lifetime: one day. RFC 7234 §5.5.4 made caches flag heuristic
/// lifetimes beyond 24 hours with a warning; capping keeps a file unchanged for a decade from
/// being trusted for a year without anyone having said so.
pub const HEURISTIC_MAX: u64 = 86_400;

/// Where a freshness lifetime came from (§4.2.1, first match wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreshnessSource {
    /// `s-maxage`, in a shared cache.
    SMaxAge,
    /// `max-age`.
    MaxAge,
    /// `Expires` − `Date`.
    Expires,
    /// §4.2.2, from `Last-Modified`.
    Heuristic,
    /// No explicit lifetime and no heuristic allowed: lifetime 0.
    None,
}

/// A response's freshness lifetime in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub lifetime: u64,
    pub source: FreshnessSource,
}

impl Freshness {
    /// Whether the response carries explicit expiration (§4.2.1's first three rules).
    pub fn is_explicit(&self) -> bool {
        matches!(
            self.source,
            FreshnessSource::SMaxAge | FreshnessSource::MaxAge | FreshnessSource::Expires
        )
    }
}

/// RFC 9110 §15.1: the status codes that are heuristically cacheable.
pub fn is_heuristically_cacheable(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// §4.2.1: the freshness lifetime of a response with `status` and `headers`, received at
/// `response_time` (used in place of a missing `Date`, RFC 9110 §6.6.1).
pub fn freshness_lifetime(
    status: u16,
    headers: &Fields,
    response_time: SystemTime,
    shared: bool,
) -> Freshness {
    let cc = fields::combined(headers, "cache-control")
        .map(|v| CacheControl::parse(&v))
        .unwrap_or_default();
    if shared && let Some(s) = cc.s_maxage {
        return explicit(s, FreshnessSource::SMaxAge);
    }
    if let Some(m) = cc.max_age {
        return explicit(m, FreshnessSource::MaxAge);
    }
    let date = date_or(headers, response_time);
    if let Some(expires) = fields::first(headers, "expires") {
        // §5.3: an invalid Expires, notably "0", means already expired.
        let lifetime = parse_http_date(expires)
            .map(|e| seconds_between(date, unix_seconds(e)))
            .unwrap_or(0);
        return explicit(lifetime, FreshnessSource::Expires);
    }
    // §4.2.2: heuristics only for heuristically cacheable statuses, or responses marked
    // cacheable explicitly (public; private in a private cache).
    let marked = cc.public || (cc.private && !shared);
    if !(is_heuristically_cacheable(status) || marked) {
        return Freshness {
            lifetime: 0,
            source: FreshnessSource::None,
        };
    }
    let lifetime = fields::first(headers, "last-modified")
        .and_then(parse_http_date)
        .map(|lm| heuristic_lifetime(unix_seconds(lm), date))
        .unwrap_or(0);
    Freshness {
        lifetime,
        source: FreshnessSource::Heuristic,
    }
}

fn explicit(lifetime: u64, source: FreshnessSource) -> Freshness {
    Freshness {
        lifetime: lifetime.min(DELTA_SECONDS_MAX),
        source,
    }
}

/// 10% of the time between `Last-Modified` and `Date`, at most [`HEURISTIC_MAX`]; 0 for a
/// `Last-Modified` in the future.
pub fn heuristic_lifetime(last_modified: i64, date: i64) -> u64 {
    (seconds_between(last_modified, date) / HEURISTIC_DIVISOR).min(HEURISTIC_MAX)
}

/// §4.2.3: the current age of a response stored with `headers`, requested at `request_time`,
/// received at `response_time`, as of `now`. Uses the conservative
/// `corrected_initial_age = max(apparent_age, corrected_age_value)`, as old caches that do not
/// add `Age` may be on the path.
pub fn current_age(
    headers: &Fields,
    request_time: SystemTime,
    response_time: SystemTime,
    now: SystemTime,
) -> u64 {
    let age_value = fields::first(headers, "age")
        .and_then(delta_seconds)
        .unwrap_or(0);
    let date_value = date_or(headers, response_time);
    let (request_time, response_time, now) = (
        unix_seconds(request_time),
        unix_seconds(response_time),
        unix_seconds(now),
    );
    let apparent_age = seconds_between(date_value, response_time);
    let response_delay = seconds_between(request_time, response_time);
    let corrected_age_value = age_value.saturating_add(response_delay);
    let corrected_initial_age = apparent_age.max(corrected_age_value);
    let resident_time = seconds_between(response_time, now);
    corrected_initial_age
        .saturating_add(resident_time)
        .min(DELTA_SECONDS_MAX)
}

/// §5.1: the `Age` value to send with a response of `age` seconds.
pub fn age_header_value(age: u64) -> String {
    age.min(DELTA_SECONDS_MAX).to_string()
}

/// `Date` as Unix seconds, or `fallback` when absent or invalid (RFC 9110 §6.6.1).
fn date_or(headers: &Fields, fallback: SystemTime) -> i64 {
    fields::first(headers, "date")
        .and_then(parse_http_date)
        .map_or_else(|| unix_seconds(fallback), unix_seconds)
}

/// `to - from` in seconds, or 0 if negative.
pub(crate) fn seconds_between(from: i64, to: i64) -> u64 {
    u64::try_from(to.saturating_sub(from)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::cache::fields::owned;
    use crate::semantics::date::{format_http_date, from_unix_seconds};

    const T: i64 = 1_700_000_000;

    fn at(offset: i64) -> SystemTime {
        from_unix_seconds(T + offset)
    }

    fn date(offset: i64) -> String {
        format_http_date(at(offset))
    }

    fn lifetime(status: u16, headers: &[(&str, &str)], shared: bool) -> Freshness {
        freshness_lifetime(status, &owned(headers), at(0), shared)
    }

    #[test]
    fn s_maxage_only_for_shared_caches() {
        let h = [("Cache-Control", "max-age=600, s-maxage=60")];
        assert_eq!(
            lifetime(200, &h, true),
            Freshness {
                lifetime: 60,
                source: FreshnessSource::SMaxAge
            }
        );
        assert_eq!(
            lifetime(200, &h, false),
            Freshness {
                lifetime: 600,
                source: FreshnessSource::MaxAge
            }
        );
    }

    #[test]
    fn max_age_beats_expires() {
        let expires = date(3600);
        let d = date(0);
        let h = [
            ("Date", d.as_str()),
            ("Expires", expires.as_str()),
            ("Cache-Control", "max-age=5"),
        ];
        assert_eq!(lifetime(200, &h, true).lifetime, 5);
    }

    #[test]
    fn expires_minus_date() {
        let d = date(-100);
        let e = date(3500);
        let h = [("Date", d.as_str()), ("Expires", e.as_str())];
        let f = lifetime(200, &h, true);
        assert_eq!(f.lifetime, 3600);
        assert_eq!(f.source, FreshnessSource::Expires);
        // Without Date, the receipt time stands in.
        let h = [("Expires", e.as_str())];
        assert_eq!(lifetime(200, &h, true).lifetime, 3500);
        // In the past, or invalid: already expired, but explicit (so no heuristic).
        let past = date(-5000);
        let h = [("Date", d.as_str()), ("Expires", past.as_str())];
        assert_eq!(lifetime(200, &h, true).lifetime, 0);
        let lm = date(-100_000);
        let h = [("Expires", "0"), ("Last-Modified", lm.as_str())];
        let f = lifetime(200, &h, true);
        assert_eq!((f.lifetime, f.source), (0, FreshnessSource::Expires));
    }

    #[test]
    fn heuristic_is_ten_percent_of_last_modified_age() {
        let d = date(0);
        let lm = date(-10_000);
        let h = [("Date", d.as_str()), ("Last-Modified", lm.as_str())];
        let f = lifetime(200, &h, true);
        assert_eq!((f.lifetime, f.source), (1000, FreshnessSource::Heuristic));
        assert!(!f.is_explicit());
    }

    #[test]
    fn heuristic_is_capped() {
        let d = date(0);
        let lm = date(-100 * 86_400);
        let h = [("Date", d.as_str()), ("Last-Modified", lm.as_str())];
        assert_eq!(lifetime(200, &h, true).lifetime, HEURISTIC_MAX);
    }

    #[test]
    fn heuristic_only_for_heuristically_cacheable_or_marked() {
        let d = date(0);
        let lm = date(-10_000);
        let h = [("Date", d.as_str()), ("Last-Modified", lm.as_str())];
        assert_eq!(lifetime(302, &h, true).source, FreshnessSource::None);
        assert_eq!(lifetime(302, &h, true).lifetime, 0);
        assert_eq!(lifetime(404, &h, true).lifetime, 1000);
        let public = [
            ("Date", d.as_str()),
            ("Last-Modified", lm.as_str()),
            ("Cache-Control", "public"),
        ];
        assert_eq!(lifetime(302, &public, true).lifetime, 1000);
        let private = [
            ("Date", d.as_str()),
            ("Last-Modified", lm.as_str()),
            ("Cache-Control", "private"),
        ];
        assert_eq!(lifetime(302, &private, false).lifetime, 1000);
        assert_eq!(lifetime(302, &private, true).lifetime, 0);
        // No Last-Modified: nothing to base a heuristic on.
        assert_eq!(lifetime(200, &[("Date", d.as_str())], true).lifetime, 0);
        // Last-Modified after Date.
        let future = date(50);
        let h = [("Date", d.as_str()), ("Last-Modified", future.as_str())];
        assert_eq!(lifetime(200, &h, true).lifetime, 0);
    }

    /// §4.2.3 worked through with numbers. The request leaves at T and the response arrives
    /// at T+2 carrying `Date: T-5` and `Age: 10` (it sat in an upstream cache); we look at it
    /// at T+62.
    ///
    /// ```text
    /// apparent_age          = max(0, response_time - date_value) = (T+2) - (T-5) =  7
    /// response_delay        = response_time - request_time       = (T+2) - T     =  2
    /// corrected_age_value   = age_value + response_delay         = 10 + 2        = 12
    /// corrected_initial_age = max(apparent_age, corrected_age)   = max(7, 12)    = 12
    /// resident_time         = now - response_time                = (T+62) - (T+2) = 60
    /// current_age           = corrected_initial_age + resident   = 12 + 60       = 72
    /// ```
    #[test]
    fn rfc_age_calculation_worked_example() {
        let d = date(-5);
        let h = owned(&[("Date", d.as_str()), ("Age", "10")]);
        assert_eq!(current_age(&h, at(0), at(2), at(62)), 72);
        // Without Age, the apparent age decides: 7 + 60.
        let h = owned(&[("Date", d.as_str())]);
        assert_eq!(current_age(&h, at(0), at(2), at(62)), 67);
        // A Date ahead of our clock gives apparent age 0, not a negative one.
        let ahead = date(100);
        let h = owned(&[("Date", ahead.as_str())]);
        assert_eq!(current_age(&h, at(0), at(0), at(30)), 30);
    }

    #[test]
    fn age_survives_bad_clocks_and_values() {
        let h = owned(&[("Age", "99999999999999999999")]);
        assert_eq!(current_age(&h, at(0), at(0), at(0)), DELTA_SECONDS_MAX);
        let h = owned(&[("Age", "-5")]);
        // now before response_time: resident time 0; request after response: delay 0.
        assert_eq!(current_age(&h, at(10), at(5), at(0)), 0);
        assert_eq!(age_header_value(u64::MAX), "2147483648");
        assert_eq!(age_header_value(72), "72");
    }
}
