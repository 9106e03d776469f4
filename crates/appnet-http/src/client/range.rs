//! Single byte-range requests from the client side, RFC 9110 §14: the `Range` value to send
//! (§14.2) and the check that a 206 answers exactly what was asked (§14.4, §15.3.7): a client
//! that writes a body at the offsets of a `Content-Range` it did not verify corrupts its file.

use crate::proto::Headers;
use crate::semantics::range::{ContentRange, parse_content_range};

use super::error::ClientError;

/// `bytes=start-end` (both inclusive), or `bytes=start-` for the rest.
pub fn range_value(start: u64, end_inclusive: Option<u64>) -> String {
    match end_inclusive {
        Some(end) => format!("bytes={start}-{end}"),
        None => format!("bytes={start}-"),
    }
}

/// Checks a 206's `Content-Range` against the range asked for and returns the range sent
/// (start, end inclusive). The server may end the range early only at the end of the
/// representation (§14.1.1: a last-pos beyond it means "to the end").
pub fn check_partial(
    headers: &Headers,
    start: u64,
    end_inclusive: Option<u64>,
) -> Result<(u64, u64), ClientError> {
    let requested = range_value(start, end_inclusive);
    let mismatch = |got: String| ClientError::RangeMismatch {
        requested: requested.clone(),
        got,
    };
    let value = headers
        .get("content-range")
        .ok_or_else(|| mismatch("a 206 without one Content-Range".into()))?;
    let Some(ContentRange::Bytes {
        range,
        complete_len,
    }) = parse_content_range(value)
    else {
        return Err(mismatch(value.to_owned()));
    };
    let reaches_end = complete_len == Some(range.end_inclusive.saturating_add(1));
    let end_ok = match end_inclusive {
        Some(end) => range.end_inclusive == end || (range.end_inclusive < end && reaches_end),
        None => complete_len.is_none() || reaches_end,
    };
    if range.start != start || !end_ok {
        return Err(mismatch(value.to_owned()));
    }
    Ok((range.start, range.end_inclusive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> Headers {
        let mut headers = Headers::new();
        headers.append("Content-Range", value);
        headers
    }

    #[test]
    fn values() {
        assert_eq!(range_value(0, Some(99)), "bytes=0-99");
        assert_eq!(range_value(500, None), "bytes=500-");
    }

    #[test]
    fn matching_ranges() {
        assert_eq!(
            check_partial(&with("bytes 0-99/1000"), 0, Some(99)).unwrap(),
            (0, 99)
        );
        assert_eq!(
            check_partial(&with("bytes 900-999/1000"), 900, Some(5000)).unwrap(),
            (900, 999),
            "clamped at the end"
        );
        assert!(check_partial(&with("bytes 500-999/1000"), 500, None).is_ok());
        assert!(check_partial(&with("bytes 500-999/*"), 500, None).is_ok());
    }

    #[test]
    fn mismatches() {
        for (value, start, end) in [
            ("bytes 1-99/1000", 0, Some(99)),
            ("bytes 0-98/1000", 0, Some(99)),
            ("bytes 0-49/100", 0, Some(99)),
            ("bytes 500-998/1000", 500, None),
            ("bytes */1000", 0, Some(9)),
            ("items 0-9/10", 0, Some(9)),
            ("garbage", 0, Some(9)),
        ] {
            assert!(
                matches!(
                    check_partial(&with(value), start, end),
                    Err(ClientError::RangeMismatch { .. })
                ),
                "{value}"
            );
        }
        assert!(check_partial(&Headers::new(), 0, Some(1)).is_err());
    }
}
