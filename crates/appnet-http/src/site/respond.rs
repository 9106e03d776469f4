//! What a static server answers for a file, decided without touching the file: the status,
//! the header fields, and the body as a list of byte strings and file slices.
//!
//! RFC 9110 §13.2.2 (preconditions, in order: 412 and 304), §14 (ranges: 206, multipart
//! byteranges, 416), §8.8 (ETag and Last-Modified as validators), §8.3 (Content-Type), §9.3.2
//! (HEAD: the GET's header fields without the body).

use std::time::SystemTime;

use crate::proto::{Method, Request, ResponseHead};
use crate::semantics::{
    ConditionalHeaders, Precondition, RangeOutcome, Segment, Validators, boundary_from_seed,
    content_range, content_type_for_path, evaluate_preconditions, evaluate_range, file_etag,
    format_http_date, last_modified_for, multipart_byteranges, unsatisfied_content_range,
};

/// What the driver knows about the file.
#[derive(Debug, Clone, Copy)]
pub struct FileFacts<'a> {
    /// The URL path, for the content type (its extension).
    pub name: &'a str,
    pub len: u64,
    pub modified: SystemTime,
}

/// A response to write: the head, then the body segments in order (none for HEAD, 304, 412).
#[derive(Debug, Clone)]
pub struct Plan {
    pub head: ResponseHead,
    pub body: Vec<Segment>,
}

/// The answer to a GET or HEAD of a file.
pub fn plan_file(request: &Request, file: FileFacts<'_>, now: SystemTime) -> Plan {
    let validators = Validators {
        etag: Some(file_etag(file.len, file.modified)),
        last_modified: Some(last_modified_for(file.modified, now)),
    };
    let method = request.method.as_str();
    let headers = &request.headers;
    let conditions = ConditionalHeaders {
        if_match: headers.get("if-match"),
        if_none_match: headers.get("if-none-match"),
        if_modified_since: headers.get("if-modified-since"),
        if_unmodified_since: headers.get("if-unmodified-since"),
    };
    let content_type = content_type_for_path(file.name);
    let mut head = match evaluate_preconditions(method, &conditions, Some(&validators)) {
        Precondition::NotModified => return bodiless(ResponseHead::new(304), &validators, now),
        Precondition::PreconditionFailed => {
            let mut head = ResponseHead::new(412);
            head.headers.append("Content-Length", "0");
            return bodiless(head, &validators, now);
        }
        Precondition::Proceed => ResponseHead::new(200),
    };
    let range = evaluate_range(
        method,
        headers.get("range"),
        headers.get("if-range"),
        file.len,
        &validators,
        now,
    );
    let body = match range {
        RangeOutcome::Full => {
            head.headers.append("Content-Type", content_type);
            vec![Segment::File {
                start: 0,
                len: file.len,
            }]
        }
        RangeOutcome::Satisfiable(ranges) if ranges.len() == 1 => {
            head = ResponseHead::new(206);
            head.headers.append("Content-Type", content_type);
            head.headers
                .append("Content-Range", content_range(&ranges[0], file.len));
            vec![Segment::File {
                start: ranges[0].start,
                len: ranges[0].len(),
            }]
        }
        RangeOutcome::Satisfiable(ranges) => {
            let boundary = boundary_from_seed(boundary_seed(&validators, now));
            match multipart_byteranges(&ranges, file.len, Some(content_type), &boundary) {
                Ok(multipart) => {
                    head = ResponseHead::new(206);
                    head.headers.append("Content-Type", multipart.content_type);
                    multipart.segments
                }
                // Only reachable with a bad boundary or type, which ours never are: send it whole.
                Err(_) => {
                    head.headers.append("Content-Type", content_type);
                    vec![Segment::File {
                        start: 0,
                        len: file.len,
                    }]
                }
            }
        }
        RangeOutcome::Unsatisfiable => {
            head = ResponseHead::new(416);
            head.headers
                .append("Content-Range", unsatisfied_content_range(file.len));
            head.headers.append("Content-Length", "0");
            return with_validators(head, &validators, now, Vec::new());
        }
    };
    let len: u64 = body.iter().map(Segment::len).sum();
    head.headers.append("Content-Length", len.to_string());
    let body = if request.method == Method::Head {
        Vec::new()
    } else {
        body
    };
    with_validators(head, &validators, now, body)
}

/// A 304 or 412: no body, the validators as a 200 would carry them (RFC 9110 §15.4.5).
fn bodiless(head: ResponseHead, validators: &Validators, now: SystemTime) -> Plan {
    with_validators(head, validators, now, Vec::new())
}

fn with_validators(
    mut head: ResponseHead,
    validators: &Validators,
    now: SystemTime,
    body: Vec<Segment>,
) -> Plan {
    head.headers.append("Date", format_http_date(now));
    if let Some(etag) = &validators.etag {
        head.headers.append("ETag", etag.to_string());
    }
    if let Some(modified) = validators.last_modified {
        head.headers
            .append("Last-Modified", format_http_date(modified));
    }
    head.headers.append("Accept-Ranges", "bytes");
    Plan { head, body }
}

/// Boundaries only need to differ from the content; the validators and the time make that
/// overwhelmingly likely without a random number generator.
fn boundary_seed(validators: &Validators, now: SystemTime) -> u64 {
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let tag = validators
        .etag
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    tag.bytes()
        .fold(nanos, |seed, byte| seed.rotate_left(5) ^ u64::from(byte))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(method: Method, fields: &[(&str, &str)]) -> Request {
        let mut request = Request::new(method, "/file.txt");
        request.headers.append("Host", "example");
        for (name, value) in fields {
            request.headers.append(*name, *value);
        }
        request
    }

    fn facts() -> FileFacts<'static> {
        FileFacts {
            name: "/file.txt",
            len: 1000,
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn a_plain_get_sends_the_whole_file_with_validators() {
        let plan = plan_file(&request(Method::Get, &[]), facts(), now());
        assert_eq!(plan.head.status, 200);
        assert_eq!(plan.head.headers.get("content-length"), Some("1000"));
        assert_eq!(
            plan.head.headers.get("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert!(
            plan.head.headers.get("etag").is_some()
                && plan.head.headers.get("last-modified").is_some()
        );
        assert_eq!(
            plan.body,
            vec![Segment::File {
                start: 0,
                len: 1000
            }]
        );
    }

    #[test]
    fn head_has_the_same_fields_and_no_body() {
        let get = plan_file(&request(Method::Get, &[]), facts(), now());
        let head = plan_file(&request(Method::Head, &[]), facts(), now());
        assert_eq!(head.head.headers, get.head.headers);
        assert!(head.body.is_empty());
    }

    #[test]
    fn validators_give_304_and_412() {
        let etag = plan_file(&request(Method::Get, &[]), facts(), now())
            .head
            .headers
            .get("etag")
            .unwrap()
            .to_owned();
        let not_modified = plan_file(
            &request(Method::Get, &[("If-None-Match", &etag)]),
            facts(),
            now(),
        );
        assert_eq!(
            (not_modified.head.status, not_modified.body.len()),
            (304, 0)
        );
        let failed = plan_file(
            &request(Method::Get, &[("If-Match", "\"other\"")]),
            facts(),
            now(),
        );
        assert_eq!(failed.head.status, 412);
        let since = format_http_date(now());
        let fresh = plan_file(
            &request(Method::Get, &[("If-Modified-Since", &since)]),
            facts(),
            now(),
        );
        assert_eq!(fresh.head.status, 304);
    }

    #[test]
    fn ranges_give_206_multipart_and_416() {
        let single = plan_file(
            &request(Method::Get, &[("Range", "bytes=100-199")]),
            facts(),
            now(),
        );
        assert_eq!(single.head.status, 206);
        assert_eq!(
            single.head.headers.get("content-range"),
            Some("bytes 100-199/1000")
        );
        assert_eq!(
            single.body,
            vec![Segment::File {
                start: 100,
                len: 100
            }]
        );

        let multi = plan_file(
            &request(Method::Get, &[("Range", "bytes=0-9,-10")]),
            facts(),
            now(),
        );
        assert_eq!(multi.head.status, 206);
        assert!(
            multi
                .head
                .headers
                .get("content-type")
                .unwrap()
                .starts_with("multipart/byteranges; boundary=")
        );
        let total: u64 = multi.body.iter().map(Segment::len).sum();
        assert_eq!(
            multi.head.headers.get("content-length"),
            Some(total.to_string().as_str())
        );

        let beyond = plan_file(
            &request(Method::Get, &[("Range", "bytes=5000-")]),
            facts(),
            now(),
        );
        assert_eq!(beyond.head.status, 416);
        assert_eq!(
            beyond.head.headers.get("content-range"),
            Some("bytes */1000")
        );
    }

    #[test]
    fn a_stale_if_range_sends_the_whole_file() {
        let plan = plan_file(
            &request(
                Method::Get,
                &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")],
            ),
            facts(),
            now(),
        );
        assert_eq!(plan.head.status, 200);
    }
}
