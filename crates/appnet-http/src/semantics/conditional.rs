//! Conditional requests, RFC 9110 §13: evaluating `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match` and `If-Modified-Since` in the order of §13.2.2.
//!
//! The driver calls [`evaluate_preconditions`] only when the response without the conditions
//! would have been 2xx or 412 (§13.2.1: e.g. not for a 404 or a redirect), and then, for a GET
//! that proceeds, [`crate::semantics::range::evaluate_range`] (step 5, `If-Range`).
//!
//! Times are compared at one-second resolution: the client only ever saw an HTTP-date, so a
//! file modified at 12:00:00.7 must count as "not modified since 12:00:00".

use std::time::SystemTime;

use super::date::{parse_http_date, unix_seconds};
use super::etag::{EntityTag, EntityTagList};

/// The current validators of the selected representation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<EntityTag>,
    pub last_modified: Option<SystemTime>,
}

/// The four precondition fields of a request, as received (combined if repeated).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConditionalHeaders<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

/// What the preconditions say to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Perform the method (and go on to `If-Range` for a GET).
    Proceed,
    /// Answer 304 Not Modified (GET/HEAD only).
    NotModified,
    /// Answer 412 Precondition Failed.
    PreconditionFailed,
}

/// RFC 9110 §13.2.2. `current` is `None` when the target resource has no current
/// representation (so `If-Match: *` fails and `If-None-Match: *` holds).
///
/// Not modelled: §13.1.1's allowance to answer 2xx instead of 412 when a failed `If-Match`
/// state change is known to have already succeeded.
pub fn evaluate_preconditions(
    method: &str,
    headers: &ConditionalHeaders<'_>,
    current: Option<&Validators>,
) -> Precondition {
    // §13.1: these methods neither select nor modify a representation.
    if matches!(method, "CONNECT" | "OPTIONS" | "TRACE") {
        return Precondition::Proceed;
    }
    let safe_read = matches!(method, "GET" | "HEAD");

    // Step 1 / step 2: If-Match, or failing that If-Unmodified-Since.
    if let Some(value) = headers.if_match {
        if !if_match_holds(value, current) {
            return Precondition::PreconditionFailed;
        }
    } else if let Some(value) = headers.if_unmodified_since
        && !if_unmodified_since_holds(value, current)
    {
        return Precondition::PreconditionFailed;
    }

    // Step 3 / step 4: If-None-Match, or failing that If-Modified-Since (GET/HEAD only).
    if let Some(value) = headers.if_none_match {
        if !if_none_match_holds(value, current) {
            return if safe_read {
                Precondition::NotModified
            } else {
                Precondition::PreconditionFailed
            };
        }
    } else if safe_read
        && let Some(value) = headers.if_modified_since
        && !if_modified_since_holds(value, current)
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// §13.1.1: true for `*` if a representation exists, or if the current ETag strongly matches
/// one listed. An unparsable list matches nothing.
pub fn if_match_holds(value: &str, current: Option<&Validators>) -> bool {
    let Some(current) = current else {
        return false;
    };
    match EntityTagList::parse(value) {
        Ok(EntityTagList::Any) => true,
        Ok(list) => current
            .etag
            .as_ref()
            .is_some_and(|etag| list.matches_strong(etag)),
        Err(_) => false,
    }
}

/// §13.1.2: false for `*` if a representation exists, or if the current ETag weakly matches one
/// listed. An unparsable list matches nothing, so the condition holds.
pub fn if_none_match_holds(value: &str, current: Option<&Validators>) -> bool {
    let Some(current) = current else {
        return true;
    };
    match EntityTagList::parse(value) {
        Ok(EntityTagList::Any) => false,
        Ok(list) => !current
            .etag
            .as_ref()
            .is_some_and(|etag| list.matches_weak(etag)),
        Err(_) => true,
    }
}

/// §13.1.4: false if the representation was modified after the date. Ignored (true) when the
/// value is not a valid HTTP-date or there is no modification date.
pub fn if_unmodified_since_holds(value: &str, current: Option<&Validators>) -> bool {
    match (parse_http_date(value), last_modified(current)) {
        (Some(since), Some(modified)) => modified <= unix_seconds(since),
        _ => true,
    }
}

/// §13.1.3: false (→ 304) if the representation was not modified after the date. Ignored
/// (true) when the value is not a valid HTTP-date or there is no modification date.
pub fn if_modified_since_holds(value: &str, current: Option<&Validators>) -> bool {
    match (parse_http_date(value), last_modified(current)) {
        (Some(since), Some(modified)) => modified > unix_seconds(since),
        _ => true,
    }
}

/// RFC 9110 §8.8.2.1: the `Last-Modified` to send for a file modified at `mtime` in a response
/// dated `date`: never later than `date` (a clock skew or a file touched into the future must
/// not produce a validator from the future).
pub fn last_modified_for(mtime: SystemTime, date: SystemTime) -> SystemTime {
    mtime.min(date)
}

fn last_modified(current: Option<&Validators>) -> Option<i64> {
    current?.last_modified.map(unix_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::date::{format_http_date, from_unix_seconds};
    use std::time::Duration;

    const T: i64 = 1_700_000_000;

    fn resource() -> Validators {
        Validators {
            etag: Some(EntityTag::strong("v1")),
            last_modified: Some(from_unix_seconds(T) + Duration::from_millis(700)),
        }
    }

    fn date(offset: i64) -> String {
        format_http_date(from_unix_seconds(T + offset))
    }

    fn eval(method: &str, h: ConditionalHeaders<'_>) -> Precondition {
        evaluate_preconditions(method, &h, Some(&resource()))
    }

    use Precondition::*;

    #[test]
    fn no_conditions_proceed() {
        assert_eq!(eval("GET", ConditionalHeaders::default()), Proceed);
    }

    #[test]
    fn if_match() {
        let h = |v| ConditionalHeaders {
            if_match: Some(v),
            ..Default::default()
        };
        assert_eq!(eval("PUT", h("\"v1\"")), Proceed);
        assert_eq!(eval("PUT", h("\"v0\", \"v1\"")), Proceed);
        assert_eq!(eval("PUT", h("*")), Proceed);
        assert_eq!(eval("PUT", h("\"v0\"")), PreconditionFailed);
        // Strong comparison: a weak tag never matches.
        assert_eq!(eval("PUT", h("W/\"v1\"")), PreconditionFailed);
        assert_eq!(eval("GET", h("garbage")), PreconditionFailed);
        let missing = evaluate_preconditions("PUT", &h("*"), None);
        assert_eq!(missing, PreconditionFailed);
    }

    #[test]
    fn if_none_match() {
        let h = |v| ConditionalHeaders {
            if_none_match: Some(v),
            ..Default::default()
        };
        assert_eq!(eval("GET", h("\"v1\"")), NotModified);
        assert_eq!(eval("HEAD", h("W/\"v1\"")), NotModified);
        assert_eq!(eval("GET", h("\"v2\"")), Proceed);
        assert_eq!(eval("GET", h("*")), NotModified);
        assert_eq!(eval("PUT", h("*")), PreconditionFailed);
        assert_eq!(eval("DELETE", h("\"v1\"")), PreconditionFailed);
        assert_eq!(eval("GET", h("not-a-tag")), Proceed);
        // PUT-if-absent: If-None-Match: * on a missing resource proceeds.
        assert_eq!(evaluate_preconditions("PUT", &h("*"), None), Proceed);
    }

    #[test]
    fn if_modified_since_at_second_resolution() {
        let run = |method, v: &str| {
            eval(
                method,
                ConditionalHeaders {
                    if_modified_since: Some(v),
                    ..Default::default()
                },
            )
        };
        assert_eq!(run("GET", &date(0)), NotModified);
        assert_eq!(run("GET", &date(10)), NotModified);
        assert_eq!(run("GET", &date(-1)), Proceed);
        assert_eq!(run("GET", "yesterday"), Proceed);
        // Only for GET and HEAD.
        assert_eq!(run("POST", &date(10)), Proceed);
        assert_eq!(run("HEAD", &date(0)), NotModified);
    }

    #[test]
    fn if_unmodified_since() {
        let run = |v: &str| {
            eval(
                "PUT",
                ConditionalHeaders {
                    if_unmodified_since: Some(v),
                    ..Default::default()
                },
            )
        };
        assert_eq!(run(&date(0)), Proceed);
        assert_eq!(run(&date(-1)), PreconditionFailed);
        assert_eq!(run("0"), Proceed);
        let no_date = Validators {
            etag: None,
            last_modified: None,
        };
        let h = ConditionalHeaders {
            if_unmodified_since: Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            ..Default::default()
        };
        assert_eq!(evaluate_preconditions("PUT", &h, Some(&no_date)), Proceed);
    }

    /// §13.2.2 precedence cases.
    #[test]
    fn if_match_takes_precedence_over_if_unmodified_since() {
        // If-Match holds, so the failing If-Unmodified-Since is not even looked at.
        let old = date(-100);
        let h = ConditionalHeaders {
            if_match: Some("\"v1\""),
            if_unmodified_since: Some(&old),
            ..Default::default()
        };
        assert_eq!(eval("PUT", h), Proceed);
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        // The ETag changed, so the full response is sent even though the date says 304.
        let later = date(100);
        let h = ConditionalHeaders {
            if_none_match: Some("\"v0\""),
            if_modified_since: Some(&later),
            ..Default::default()
        };
        assert_eq!(eval("GET", h), Proceed);
        // And the other way round: the tag matches although the date says modified.
        let earlier = date(-100);
        let h = ConditionalHeaders {
            if_none_match: Some("\"v1\""),
            if_modified_since: Some(&earlier),
            ..Default::default()
        };
        assert_eq!(eval("GET", h), NotModified);
    }

    #[test]
    fn failed_if_match_beats_matching_if_none_match() {
        let h = ConditionalHeaders {
            if_match: Some("\"v0\""),
            if_none_match: Some("\"v1\""),
            ..Default::default()
        };
        assert_eq!(eval("GET", h), PreconditionFailed);
    }

    #[test]
    fn failed_if_unmodified_since_beats_if_none_match() {
        let old = date(-100);
        let h = ConditionalHeaders {
            if_unmodified_since: Some(&old),
            if_none_match: Some("\"v1\""),
            ..Default::default()
        };
        assert_eq!(eval("GET", h), PreconditionFailed);
    }

    #[test]
    fn last_modified_is_not_after_date() {
        let now = from_unix_seconds(T);
        let future = now + Duration::from_secs(30);
        assert_eq!(last_modified_for(future, now), now);
        let past = now - Duration::from_secs(30);
        assert_eq!(last_modified_for(past, now), past);
    }

    #[test]
    fn methods_without_representations_ignore_conditions() {
        let h = ConditionalHeaders {
            if_match: Some("\"nope\""),
            ..Default::default()
        };
        for method in ["OPTIONS", "CONNECT", "TRACE"] {
            assert_eq!(eval(method, h), Proceed);
        }
    }
}
