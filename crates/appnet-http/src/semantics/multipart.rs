//! `multipart/byteranges`, RFC 9110 §14.6: the body of a 206 carrying several ranges.
//!
//! The body is laid out as the driver will write it: header bytes interleaved with slices of
//! the file, so nothing is loaded into memory, and the exact length is known up front for
//! `Content-Length`.
//!
//! ```text
//! --BOUNDARY CRLF
//! Content-Type: text/html CRLF
//! Content-Range: bytes 0-49/1270 CRLF
//! CRLF
//! <bytes 0-49>
//! CRLF --BOUNDARY CRLF
//! ...
//! <last range> CRLF --BOUNDARY-- CRLF
//! ```
//!
//! This is the RFC's example layout (RFC 2046 §5.1.1: the CRLF before each boundary belongs to
//! the delimiter). nginx puts one extra CRLF before the first boundary, an empty preamble that
//! every client ignores.

use super::range::{ByteRange, content_range};

/// A piece of the response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes to send as they are (boundaries and part headers).
    Bytes(Vec<u8>),
    /// `len` bytes of the representation starting at offset `start`.
    File { start: u64, len: u64 },
}

impl Segment {
    pub fn len(&self) -> u64 {
        match self {
            // A Vec's length always fits in u64 on the platforms Rust supports.
            Self::Bytes(b) => u64::try_from(b.len()).unwrap_or(u64::MAX),
            Self::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A planned `multipart/byteranges` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartBody {
    /// The response's `Content-Type` value: `multipart/byteranges; boundary=...`.
    pub content_type: String,
    /// The body, in order.
    pub segments: Vec<Segment>,
    /// The sum of the segments' lengths: the response's `Content-Length`.
    pub content_length: u64,
}

/// Why a body could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// RFC 2046 §5.1.1: 1 to 70 `bchars` (we also require them to be `tchar`s).
    #[error("invalid multipart boundary {0:?}")]
    BadBoundary(String),
    /// A part's `Content-Type` would break the header block (CR, LF or other controls).
    #[error("part content type contains control characters")]
    BadContentType,
    /// There is nothing to put in a multipart body.
    #[error("no ranges")]
    NoRanges,
}

/// Lays out the body for `ranges` (as returned by [`crate::semantics::range::parse_range`]) of
/// a representation of `complete_len` bytes. `part_content_type` is the type a 200 would carry;
/// §14.6 asks for it in every part, and it is omitted when there is none.
pub fn multipart_byteranges(
    ranges: &[ByteRange],
    complete_len: u64,
    part_content_type: Option<&str>,
    boundary: &str,
) -> Result<MultipartBody, MultipartError> {
    check_boundary(boundary)?;
    if part_content_type.is_some_and(|t| t.bytes().any(|b| b.is_ascii_control())) {
        return Err(MultipartError::BadContentType);
    }
    if ranges.is_empty() {
        return Err(MultipartError::NoRanges);
    }
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, range) in ranges.iter().enumerate() {
        let mut head = Vec::new();
        if i > 0 {
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(&part_head(range, complete_len, part_content_type, boundary));
        segments.push(Segment::Bytes(head));
        segments.push(Segment::File {
            start: range.start,
            len: range.len(),
        });
    }
    segments.push(Segment::Bytes(
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ));
    let content_length = segments.iter().map(Segment::len).sum();
    Ok(MultipartBody {
        content_type: format!("multipart/byteranges; boundary={boundary}"),
        segments,
        content_length,
    })
}

/// The `Content-Length` of the body [`multipart_byteranges`] would lay out, computed without
/// building it (e.g. for a HEAD response).
pub fn multipart_length(
    ranges: &[ByteRange],
    complete_len: u64,
    part_content_type: Option<&str>,
    boundary: &str,
) -> u64 {
    let heads: u64 = ranges
        .iter()
        .map(|r| {
            let head = part_head(r, complete_len, part_content_type, boundary);
            u64::try_from(head.len()).unwrap_or(u64::MAX)
        })
        .sum();
    let data: u64 = ranges.iter().map(ByteRange::len).sum();
    let separators = 2 * u64::try_from(ranges.len().saturating_sub(1)).unwrap_or(0);
    let close = u64::try_from(boundary.len()).unwrap_or(0) + 8; // CRLF "--" b "--" CRLF
    heads + data + separators + close
}

/// `--boundary CRLF [Content-Type: t CRLF] Content-Range: ... CRLF CRLF`
fn part_head(
    range: &ByteRange,
    complete_len: u64,
    part_content_type: Option<&str>,
    boundary: &str,
) -> Vec<u8> {
    let mut head = format!("--{boundary}\r\n");
    if let Some(t) = part_content_type {
        head.push_str(&format!("Content-Type: {t}\r\n"));
    }
    head.push_str(&format!(
        "Content-Range: {}\r\n\r\n",
        content_range(range, complete_len)
    ));
    head.into_bytes()
}

/// RFC 2046 §5.1.1 allows 1 to 70 `bchars`; we keep to those that are also `tchar`s (letters,
/// digits, `'+-._`) so the boundary can be written unquoted in `Content-Type`.
fn is_boundary_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"'+-._".contains(&b)
}

fn check_boundary(boundary: &str) -> Result<(), MultipartError> {
    if (1..=70).contains(&boundary.len()) && boundary.bytes().all(is_boundary_char) {
        Ok(())
    } else {
        Err(MultipartError::BadBoundary(boundary.to_owned()))
    }
}

/// A boundary from caller-supplied entropy (sans-IO: the driver passes e.g. the clock's
/// nanoseconds mixed with a connection counter). 20 hex digits of a SplitMix64 hash: a file
/// containing the boundary by chance is not a practical concern, and the format is a valid
/// unquoted token.
pub fn boundary_from_seed(seed: u64) -> String {
    format!("appnet-{:016x}", splitmix64(seed))
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::range::tests::arb_range_request;
    use crate::semantics::range::{RangeOutcome, parse_range};
    use proptest::prelude::*;

    fn r(start: u64, end_inclusive: u64) -> ByteRange {
        ByteRange {
            start,
            end_inclusive,
        }
    }

    /// Renders a body against `data`, as a driver would.
    fn render(body: &MultipartBody, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in &body.segments {
            match s {
                Segment::Bytes(b) => out.extend_from_slice(b),
                Segment::File { start, len } => {
                    let start = usize::try_from(*start).unwrap();
                    let len = usize::try_from(*len).unwrap();
                    out.extend_from_slice(&data[start..start + len]);
                }
            }
        }
        out
    }

    /// RFC 9110 §14.6's example shape: two ranges of an 8000-byte PDF.
    #[test]
    fn rfc_example_layout() {
        let data: Vec<u8> = (0..8000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let ranges = [r(500, 999), r(7000, 7999)];
        let body = multipart_byteranges(
            &ranges,
            8000,
            Some("application/pdf"),
            "THIS_STRING_SEPARATES",
        )
        .unwrap();
        assert_eq!(
            body.content_type,
            "multipart/byteranges; boundary=THIS_STRING_SEPARATES"
        );
        let text = render(&body, &data);
        let mut expected = b"--THIS_STRING_SEPARATES\r\n\
            Content-Type: application/pdf\r\n\
            Content-Range: bytes 500-999/8000\r\n\r\n"
            .to_vec();
        expected.extend_from_slice(&data[500..1000]);
        expected.extend_from_slice(
            b"\r\n--THIS_STRING_SEPARATES\r\n\
            Content-Type: application/pdf\r\n\
            Content-Range: bytes 7000-7999/8000\r\n\r\n",
        );
        expected.extend_from_slice(&data[7000..8000]);
        expected.extend_from_slice(b"\r\n--THIS_STRING_SEPARATES--\r\n");
        assert_eq!(text, expected);
        assert_eq!(body.content_length, expected.len() as u64);
        assert_eq!(
            multipart_length(
                &ranges,
                8000,
                Some("application/pdf"),
                "THIS_STRING_SEPARATES"
            ),
            body.content_length
        );
        assert_eq!(body.segments.len(), 5);
    }

    #[test]
    fn part_content_type_is_optional() {
        let body = multipart_byteranges(&[r(0, 0)], 1, None, "b").unwrap();
        assert_eq!(
            render(&body, b"x"),
            b"--b\r\nContent-Range: bytes 0-0/1\r\n\r\nx\r\n--b--\r\n"
        );
    }

    #[test]
    fn rejects_bad_inputs() {
        let ranges = [r(0, 0)];
        for b in ["", "a b", "x\r\n", &"x".repeat(71), "q\"uote"] {
            assert!(matches!(
                multipart_byteranges(&ranges, 1, None, b),
                Err(MultipartError::BadBoundary(_))
            ));
        }
        assert_eq!(
            multipart_byteranges(&ranges, 1, Some("text/html\r\nX-Evil: 1"), "b"),
            Err(MultipartError::BadContentType)
        );
        assert_eq!(
            multipart_byteranges(&[], 1, None, "b"),
            Err(MultipartError::NoRanges)
        );
    }

    #[test]
    fn boundaries_are_valid_and_vary() {
        let a = boundary_from_seed(1);
        let b = boundary_from_seed(2);
        assert_ne!(a, b);
        assert_eq!(a.len(), 23);
        assert!(check_boundary(&a).is_ok());
    }

    proptest! {
        #[test]
        fn total_length_is_the_sum_of_segments(
            (len, header) in arb_range_request(),
            seed in any::<u64>(),
            with_type in any::<bool>(),
        ) {
            if let RangeOutcome::Satisfiable(ranges) = parse_range(&header, len) {
                let boundary = boundary_from_seed(seed);
                let ct = with_type.then_some("text/plain; charset=utf-8");
                let body = multipart_byteranges(&ranges, len, ct, &boundary).unwrap();
                let sum: u64 = body.segments.iter().map(Segment::len).sum();
                prop_assert_eq!(body.content_length, sum);
                prop_assert_eq!(multipart_length(&ranges, len, ct, &boundary), sum);
                let data = vec![b'z'; usize::try_from(len).unwrap()];
                prop_assert_eq!(render(&body, &data).len() as u64, sum);
            }
        }
    }
}
