//! Freshening a stored response from a 304, RFC 9111 §4.3.4 (selection) and §3.2 (which
//! header fields to replace), and invalidation after unsafe requests, §4.4.

use std::time::SystemTime;

use super::StoredResponse;
use super::fields::{self, Fields};
use crate::semantics::date::{parse_http_date, unix_seconds};
use crate::semantics::etag::EntityTag;
use crate::semantics::lex::split_list;

/// Fields a 304 never overwrites in storage: hop-by-hop fields (RFC 9110 §7.6.1), the
/// proxy-specific ones §3.1 forbids storing, and per §3.2 `Content-Length` (the 304 has no
/// content, and the stored body did not change) and `Content-Range` (processed by the
/// recipient, so updating it MAY be skipped).
const NOT_UPDATED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authentication-info",
    "proxy-authorization",
    "content-length",
    "content-range",
];

/// Why a 304 did not update a stored response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FreshenError {
    /// §4.3.4: the 304's validators identify a different representation.
    #[error("the 304's validators do not select the stored response")]
    ValidatorMismatch,
}

/// §4.3.4: whether a 304 with `headers_304` identifies the stored response for update.
///
/// - A strong ETag in the 304 selects a stored response with the same strong ETag.
/// - A weak ETag selects one whose ETag matches weakly.
/// - With no ETag, a `Last-Modified` selects one with the same `Last-Modified`.
/// - With no validator at all, only a stored response without validators is selected.
pub fn selects_for_update(stored_headers: &Fields, headers_304: &Fields) -> bool {
    let stored_etag = fields::first(stored_headers, "etag").and_then(|v| EntityTag::parse(v).ok());
    if let Some(value) = fields::first(headers_304, "etag") {
        let (Ok(new), Some(old)) = (EntityTag::parse(value), stored_etag) else {
            return false;
        };
        return if new.weak {
            new.weak_eq(&old)
        } else {
            new.strong_eq(&old)
        };
    }
    let stored_lm = last_modified(stored_headers);
    if let Some(new) = fields::first(headers_304, "last-modified") {
        return parse_http_date(new)
            .map(unix_seconds)
            .is_some_and(|new| stored_lm == Some(new));
    }
    stored_etag.is_none() && stored_lm.is_none()
}

fn last_modified(headers: &Fields) -> Option<i64> {
    fields::first(headers, "last-modified")
        .and_then(parse_http_date)
        .map(unix_seconds)
}

/// §4.3.4: updates `stored` from a 304 received for a validation request sent at
/// `request_time` and answered at `response_time`: replaces the stored fields the 304 carries
/// (except those in the module's exclusion list and any named in the 304's `Connection`), and
/// restarts the age clock, since §4.2.3 measures age from the last validation.
pub fn freshen_from_304(
    stored: &mut StoredResponse,
    headers_304: &Fields,
    request_time: SystemTime,
    response_time: SystemTime,
) -> Result<(), FreshenError> {
    if !selects_for_update(&stored.headers, headers_304) {
        return Err(FreshenError::ValidatorMismatch);
    }
    let connection_listed: Vec<String> = fields::combined(headers_304, "connection")
        .map(|v| {
            split_list(&v)
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let mut replaced: Vec<String> = Vec::new();
    for (name, _) in headers_304 {
        let lower = name.to_ascii_lowercase();
        if NOT_UPDATED.contains(&lower.as_str())
            || connection_listed.contains(&lower)
            || replaced.contains(&lower)
        {
            continue;
        }
        stored
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&lower));
        stored.headers.extend(
            headers_304
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&lower))
                .cloned(),
        );
        replaced.push(lower);
    }
    stored.request_time = request_time;
    stored.response_time = response_time;
    Ok(())
}

/// §4.4: whether a response with `status` to a `method` request invalidates the stored
/// responses for its target URI (and its Location / Content-Location on the same origin):
/// an unsafe method that got a non-error (2xx or 3xx) response.
pub fn invalidates(method: &str, status: u16) -> bool {
    let safe = matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE");
    !safe && (200..400).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::cache::fields::owned;
    use crate::semantics::cache::reuse::{CacheDecision, decide};
    use crate::semantics::date::{format_http_date, from_unix_seconds};

    const T: i64 = 1_700_000_000;

    fn at(offset: i64) -> SystemTime {
        from_unix_seconds(T + offset)
    }

    fn stored(etag: Option<&str>) -> StoredResponse {
        let date = format_http_date(at(0));
        let mut headers = owned(&[
            ("Date", &date),
            ("Cache-Control", "max-age=60"),
            ("Content-Type", "text/html"),
            ("Content-Length", "1234"),
            ("X-Old", "1"),
            ("X-Old", "2"),
        ]);
        if let Some(e) = etag {
            headers.push(("ETag".into(), e.into()));
        }
        StoredResponse::new("GET", &[], 200, headers, at(0), at(0)).unwrap()
    }

    #[test]
    fn freshening_replaces_fields_and_restarts_the_age_clock() {
        let mut s = stored(Some("\"v1\""));
        // Stale at T+100.
        assert!(matches!(
            decide(&s, "GET", &[], at(100), true),
            CacheDecision::Stale { .. }
        ));
        let date = format_http_date(at(100));
        let h304 = owned(&[
            ("Date", &date),
            ("ETag", "\"v1\""),
            ("Cache-Control", "max-age=120"),
            ("X-Old", "3"),
            ("Content-Length", "0"),
            ("Connection", "X-Hop"),
            ("X-Hop", "secret"),
            ("Transfer-Encoding", "chunked"),
        ]);
        freshen_from_304(&mut s, &h304, at(99), at(100)).unwrap();
        assert_eq!(
            fields::first(&s.headers, "cache-control"),
            Some("max-age=120")
        );
        assert_eq!(fields::first(&s.headers, "date"), Some(date.as_str()));
        assert_eq!(fields::combined(&s.headers, "x-old").as_deref(), Some("3"));
        assert_eq!(fields::first(&s.headers, "content-length"), Some("1234"));
        assert_eq!(fields::first(&s.headers, "content-type"), Some("text/html"));
        assert!(!fields::has(&s.headers, "x-hop"));
        assert!(!fields::has(&s.headers, "transfer-encoding"));
        assert!(!fields::has(&s.headers, "connection"));
        // Fresh again, aged from the validation.
        assert_eq!(
            decide(&s, "GET", &[], at(110), true),
            CacheDecision::Fresh { age: 11 }
        );
    }

    #[test]
    fn selection_by_validators() {
        let strong = stored(Some("\"v1\""));
        let sel =
            |s: &StoredResponse, h: &[(&str, &str)]| selects_for_update(&s.headers, &owned(h));
        assert!(sel(&strong, &[("ETag", "\"v1\"")]));
        assert!(!sel(&strong, &[("ETag", "\"v2\"")]));
        // A weak 304 tag selects weakly.
        assert!(sel(&strong, &[("ETag", "W/\"v1\"")]));
        let weak = stored(Some("W/\"v1\""));
        assert!(!sel(&weak, &[("ETag", "\"v1\"")]));
        assert!(sel(&weak, &[("ETag", "W/\"v1\"")]));
        // No validators on either side.
        let none = stored(None);
        assert!(sel(&none, &[]));
        assert!(!sel(&strong, &[]));
        assert!(!sel(&none, &[("ETag", "\"v1\"")]));
    }

    #[test]
    fn selection_by_last_modified() {
        let lm = format_http_date(at(-1000));
        let headers = owned(&[("Last-Modified", &lm), ("Cache-Control", "max-age=1")]);
        let s = StoredResponse::new("GET", &[], 200, headers, at(0), at(0)).unwrap();
        assert!(selects_for_update(
            &s.headers,
            &owned(&[("Last-Modified", &lm)])
        ));
        let other = format_http_date(at(-999));
        assert!(!selects_for_update(
            &s.headers,
            &owned(&[("Last-Modified", &other)])
        ));
    }

    #[test]
    fn mismatch_leaves_the_stored_response_alone() {
        let mut s = stored(Some("\"v1\""));
        let before = s.clone();
        let h304 = owned(&[("ETag", "\"v2\""), ("Cache-Control", "max-age=999")]);
        assert_eq!(
            freshen_from_304(&mut s, &h304, at(1), at(2)),
            Err(FreshenError::ValidatorMismatch)
        );
        assert_eq!(s, before);
    }

    #[test]
    fn invalidation() {
        assert!(invalidates("POST", 200));
        assert!(invalidates("DELETE", 204));
        assert!(invalidates("PUT", 303));
        assert!(!invalidates("POST", 500));
        assert!(!invalidates("GET", 200));
    }
}
