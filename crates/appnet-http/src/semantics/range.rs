//! Byte-range requests, RFC 9110 §14: `Range` (§14.2), `If-Range` (§13.1.5) and
//! `Content-Range` (§14.4).
//!
//! ```text
//! Range        = ranges-specifier = range-unit "=" range-set
//! range-set    = 1#range-spec
//! range-spec   = int-range / suffix-range      int-range = first-pos "-" [ last-pos ]
//! suffix-range = "-" suffix-length
//! ```
//!
//! Policy (§14.2 lets a server ignore or reject ranges; these choices follow nginx's
//! `ngx_http_range_filter_module` wherever the RFC leaves room):
//!
//! - A `Range` we cannot parse, or with a unit other than `bytes`, is ignored (200), as §14.2
//!   says. (nginx answers 416 to syntax errors; we follow the RFC.)
//! - More than [`MAX_RANGES`] range-specs: ignored (200), like nginx's `max_ranges`.
//! - Satisfiable ranges whose lengths add up to more than the representation: ignored (200),
//!   nginx's rule against range amplification (`bytes=0-,0-,0-,...`).
//! - Ranges that overlap are coalesced (§14.2 allows it), keeping the parts in the order the
//!   request first asked for them. Merely adjacent ranges are kept apart, so the output equals
//!   nginx's for every request without overlap.
//! - An empty representation ignores `Range` (200), as nginx does, rather than 416: every
//!   range of it is unsatisfiable, and a 200 with no body is the more useful answer.
//! - `Range` applies to GET and, so that HEAD shows what GET would (§9.3.2), to HEAD.

use std::time::SystemTime;

use super::conditional::Validators;
use super::date::{parse_http_date, unix_seconds};
use super::etag::EntityTag;
use super::lex::{Cursor, MAX_FIELD_LEN, parse_u64_exact, parse_u64_saturating};

/// More range-specs than this and the `Range` field is ignored.
pub const MAX_RANGES: usize = 100;

/// One satisfiable range, both ends inclusive, always within the representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end_inclusive: u64,
}

impl ByteRange {
    /// The number of bytes: never zero for ranges from [`parse_range`]; saturating for a
    /// hand-built range whose ends are out of order, which counts as one byte rather than
    /// panicking.
    pub fn len(&self) -> u64 {
        self.end_inclusive
            .saturating_sub(self.start)
            .saturating_add(1)
    }

    /// Always false: kept for clippy's `len_without_is_empty` and for readers who look for it.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn overlaps(&self, other: &ByteRange) -> bool {
        self.start <= other.end_inclusive && other.start <= self.end_inclusive
    }

    fn union(&self, other: &ByteRange) -> ByteRange {
        ByteRange {
            start: self.start.min(other.start),
            end_inclusive: self.end_inclusive.max(other.end_inclusive),
        }
    }
}

/// What to do with a request's `Range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No `Range`, or one to ignore: send 200 with the whole representation.
    Full,
    /// Send 206: one range as a single part with `Content-Range`, several as
    /// `multipart/byteranges`. Never empty.
    Satisfiable(Vec<ByteRange>),
    /// Send 416 with `Content-Range: bytes */<length>` ([`unsatisfied_content_range`]).
    Unsatisfiable,
}

/// A range-spec as written, before the representation length is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// `first-pos "-" [ last-pos ]`
    Int { first: u64, last: Option<u64> },
    /// `"-" suffix-length`
    Suffix { length: u64 },
}

/// Interprets a `Range` field value against a representation of `len` bytes (§14.1, §14.2),
/// applying the policy in the module docs.
pub fn parse_range(value: &str, len: u64) -> RangeOutcome {
    let Some(specs) = parse_specs(value) else {
        return RangeOutcome::Full;
    };
    if len == 0 {
        return RangeOutcome::Full;
    }
    let ranges: Vec<ByteRange> = specs.iter().filter_map(|s| resolve(*s, len)).collect();
    if ranges.is_empty() {
        return RangeOutcome::Unsatisfiable;
    }
    let requested = ranges
        .iter()
        .fold(0u64, |sum, r| sum.saturating_add(r.len()));
    if requested > len {
        return RangeOutcome::Full;
    }
    RangeOutcome::Satisfiable(coalesce(ranges))
}

/// The whole of step 5 of §13.2.2 plus §14.2 for one request: which part of a `len`-byte
/// representation to send. `date` is the `Date` the response will carry (normally now).
pub fn evaluate_range(
    method: &str,
    range: Option<&str>,
    if_range: Option<&str>,
    len: u64,
    current: &Validators,
    date: SystemTime,
) -> RangeOutcome {
    let Some(range) = range else {
        return RangeOutcome::Full;
    };
    if !matches!(method, "GET" | "HEAD") {
        return RangeOutcome::Full;
    }
    if let Some(if_range) = if_range
        && !if_range_holds(if_range, current, date)
    {
        return RangeOutcome::Full;
    }
    parse_range(range, len)
}

/// §13.1.5: whether the `If-Range` validator still identifies the current representation, so
/// that the ranges may be sent. An entity-tag must match strongly; a date must equal
/// `Last-Modified` exactly and `Last-Modified` must be a strong validator, i.e. at least one
/// second before the response's `Date` (§8.8.2.2), since a file changed twice within the
/// second it was sent could otherwise carry the same date for two contents.
pub fn if_range_holds(value: &str, current: &Validators, date: SystemTime) -> bool {
    let value = value.trim_matches([' ', '\t']);
    // §13.1.5: an entity-tag is recognised by its first characters (DQUOTE, or W/ DQUOTE).
    if value.starts_with('"') || value.starts_with("W/\"") {
        return match (EntityTag::parse(value), &current.etag) {
            (Ok(tag), Some(etag)) => tag.strong_eq(etag),
            _ => false,
        };
    }
    let (Some(since), Some(modified)) = (parse_http_date(value), current.last_modified) else {
        return false;
    };
    let modified = unix_seconds(modified);
    modified == unix_seconds(since) && unix_seconds(date) - modified >= 1
}

/// §14.4: `Content-Range` of a 206 part: `bytes 0-499/10000`.
pub fn content_range(range: &ByteRange, complete_len: u64) -> String {
    format!(
        "bytes {}-{}/{}",
        range.start, range.end_inclusive, complete_len
    )
}

/// §14.4 / §15.5.17: `Content-Range` of a 416: `bytes */10000`.
pub fn unsatisfied_content_range(complete_len: u64) -> String {
    format!("bytes */{complete_len}")
}

/// A `Content-Range` value as a client reads it from a 206 or 416 (§14.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/complete`, `complete_len` being `None` for `/*` (unknown length).
    Bytes {
        range: ByteRange,
        complete_len: Option<u64>,
    },
    /// `bytes */complete`, sent with 416.
    Unsatisfied { complete_len: u64 },
}

/// Parses `Content-Range = range-unit SP ( range-resp / unsatisfied-range )` for the `bytes`
/// unit. `None` if malformed, if a number does not fit in `u64`, or if it breaks §14.4's
/// validity rule (last-pos below first-pos, or complete-length not above last-pos): a client
/// must not write a body to offsets it cannot trust.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim_matches([' ', '\t']);
    let (unit, rest) = rest.split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (range, complete) = rest.split_once('/')?;
    if range == "*" {
        let complete_len = parse_u64_exact(complete)?;
        return Some(ContentRange::Unsatisfied { complete_len });
    }
    let (first, last) = range.split_once('-')?;
    let (start, end_inclusive) = (parse_u64_exact(first)?, parse_u64_exact(last)?);
    let complete_len = match complete {
        "*" => None,
        n => Some(parse_u64_exact(n)?),
    };
    let valid = end_inclusive >= start && complete_len.is_none_or(|c| c > end_inclusive);
    valid.then_some(ContentRange::Bytes {
        range: ByteRange {
            start,
            end_inclusive,
        },
        complete_len,
    })
}

/// The syntax of §14.1.1 and §14.1.2: `None` for anything we ignore (not `bytes`, malformed,
/// too long, too many specs).
fn parse_specs(value: &str) -> Option<Vec<RangeSpec>> {
    if value.len() > MAX_FIELD_LEN {
        return None;
    }
    let mut cursor = Cursor::new(value.trim_matches([' ', '\t']));
    // §14.1: range units are compared case-insensitively.
    let unit = cursor.token()?;
    if !unit.eq_ignore_ascii_case("bytes") || !cursor.eat(b'=') {
        return None;
    }
    let mut specs = Vec::new();
    loop {
        cursor.skip_ows();
        if cursor.eat(b',') {
            continue;
        }
        if cursor.at_end() {
            break;
        }
        if specs.len() == MAX_RANGES {
            return None;
        }
        specs.push(parse_spec(&mut cursor)?);
        cursor.skip_ows();
        if !cursor.at_end() && !cursor.eat(b',') {
            return None;
        }
    }
    (!specs.is_empty()).then_some(specs)
}

fn parse_spec(cursor: &mut Cursor<'_>) -> Option<RangeSpec> {
    if cursor.eat(b'-') {
        let length = digits(cursor)?;
        return Some(RangeSpec::Suffix { length });
    }
    let first = digits(cursor)?;
    if !cursor.eat(b'-') {
        return None;
    }
    let last = match cursor.peek() {
        Some(b) if b.is_ascii_digit() => Some(digits(cursor)?),
        _ => None,
    };
    // §14.1.1: a last-pos below first-pos makes the range-spec invalid.
    if last.is_some_and(|last| last < first) {
        return None;
    }
    Some(RangeSpec::Int { first, last })
}

/// 1*DIGIT. Values beyond `u64` saturate: they are past any representation's end anyway.
fn digits(cursor: &mut Cursor<'_>) -> Option<u64> {
    parse_u64_saturating(cursor.take_while(|b| b.is_ascii_digit()))
}

/// §14.1.2: the bytes a spec selects from `len` (> 0) bytes, or `None` if unsatisfiable.
fn resolve(spec: RangeSpec, len: u64) -> Option<ByteRange> {
    let last_byte = len - 1;
    match spec {
        RangeSpec::Int { first, last } => (first < len).then(|| ByteRange {
            start: first,
            end_inclusive: last.map_or(last_byte, |l| l.min(last_byte)),
        }),
        RangeSpec::Suffix { length } => (length > 0).then(|| ByteRange {
            start: len - length.min(len),
            end_inclusive: last_byte,
        }),
    }
}

/// Merges overlapping ranges; each merged range takes the place of the earliest-requested of
/// its members (§15.3.7.2: parts in request order, less those coalesced).
fn coalesce(ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    let mut out: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        let mut merged = range;
        let mut slot = None;
        let mut i = 0;
        while i < out.len() {
            if out[i].overlaps(&merged) {
                merged = merged.union(&out[i]);
                if slot.is_none() {
                    slot = Some(i);
                    i += 1;
                } else {
                    // A later range joined by the growth: fold it into the earlier slot.
                    out.remove(i);
                }
            } else {
                i += 1;
            }
        }
        match slot {
            Some(i) => out[i] = merged,
            None => out.push(merged),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::semantics::date::{format_http_date, from_unix_seconds};
    use proptest::prelude::*;

    fn r(start: u64, end_inclusive: u64) -> ByteRange {
        ByteRange {
            start,
            end_inclusive,
        }
    }

    fn sat(ranges: &[(u64, u64)]) -> RangeOutcome {
        RangeOutcome::Satisfiable(ranges.iter().map(|&(s, e)| r(s, e)).collect())
    }

    /// RFC 9110 §14.1.2, the examples for a 10000-byte representation.
    #[test]
    fn rfc_examples_for_10000_bytes() {
        let len = 10_000;
        assert_eq!(parse_range("bytes=0-499", len), sat(&[(0, 499)]));
        assert_eq!(parse_range("bytes=500-999", len), sat(&[(500, 999)]));
        assert_eq!(parse_range("bytes=-500", len), sat(&[(9500, 9999)]));
        assert_eq!(parse_range("bytes=9500-", len), sat(&[(9500, 9999)]));
        assert_eq!(
            parse_range("bytes=0-0,-1", len),
            sat(&[(0, 0), (9999, 9999)])
        );
        // "Other valid (but not canonical) specifications of the second 500 bytes".
        assert_eq!(
            parse_range("bytes=500-600,601-999", len),
            sat(&[(500, 600), (601, 999)])
        );
        assert_eq!(
            parse_range("bytes=500-700,601-999", len),
            sat(&[(500, 999)])
        );
    }

    #[test]
    fn last_pos_is_clamped() {
        assert_eq!(parse_range("bytes=0-99999", 100), sat(&[(0, 99)]));
        assert_eq!(
            parse_range("bytes=50-18446744073709551616", 100),
            sat(&[(50, 99)])
        );
    }

    #[test]
    fn suffix_longer_than_representation_selects_all() {
        assert_eq!(parse_range("bytes=-500", 100), sat(&[(0, 99)]));
        assert_eq!(
            parse_range("bytes=-99999999999999999999999", 100),
            sat(&[(0, 99)])
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse_range("bytes=100-", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=100-200", 100),
            RangeOutcome::Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=200-300, -0", 100),
            RangeOutcome::Unsatisfiable
        );
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
    }

    #[test]
    fn unsatisfiable_specs_are_dropped_when_others_are_satisfiable() {
        assert_eq!(parse_range("bytes=200-300,0-9", 100), sat(&[(0, 9)]));
    }

    #[test]
    fn ignored_specifiers() {
        for value in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "items=0-1",
            "bytes = 0-1",
            "bytes=1-0",
            "bytes=a-b",
            "bytes=0-1;2-3",
            "bytes=--1",
            "bytes=0--1",
            "bytes=- 1",
            "bytes=0-1 2-3",
            "bytes=0x10-",
        ] {
            assert_eq!(parse_range(value, 100), RangeOutcome::Full, "{value:?}");
        }
    }

    #[test]
    fn unit_is_case_insensitive_and_lists_are_lenient() {
        assert_eq!(parse_range("BYTES=0-1", 100), sat(&[(0, 1)]));
        assert_eq!(
            parse_range("bytes= 0-1 ,, 5-6 ,", 100),
            sat(&[(0, 1), (5, 6)])
        );
    }

    #[test]
    fn empty_representation_is_served_whole() {
        assert_eq!(parse_range("bytes=0-", 0), RangeOutcome::Full);
        assert_eq!(parse_range("bytes=-5", 0), RangeOutcome::Full);
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let ok = (0..MAX_RANGES)
            .map(|i| format!("{}-{}", i * 10, i * 10))
            .collect::<Vec<_>>();
        let value = format!("bytes={}", ok.join(","));
        assert!(
            matches!(parse_range(&value, 10_000), RangeOutcome::Satisfiable(v) if v.len() == MAX_RANGES)
        );
        let value = format!("{value},5000-5000");
        assert_eq!(parse_range(&value, 10_000), RangeOutcome::Full);
    }

    #[test]
    fn amplification_is_ignored() {
        assert_eq!(parse_range("bytes=0-,0-", 100), RangeOutcome::Full);
        assert_eq!(parse_range("bytes=0-60,40-99", 100), RangeOutcome::Full);
        // Overlap within the length budget is coalesced instead.
        assert_eq!(parse_range("bytes=0-30,20-50", 100), sat(&[(0, 50)]));
    }

    #[test]
    fn coalescing_keeps_request_order() {
        assert_eq!(
            parse_range("bytes=50-59,0-9,55-64", 1000),
            sat(&[(50, 64), (0, 9)])
        );
        // A later range bridging two earlier ones folds all three into the first slot.
        assert_eq!(
            parse_range("bytes=0-9,20-29,500-510,5-25", 1000),
            sat(&[(0, 29), (500, 510)])
        );
        // Adjacent ranges stay separate parts (as nginx sends them).
        assert_eq!(
            parse_range("bytes=0-9,10-19", 1000),
            sat(&[(0, 9), (10, 19)])
        );
    }

    #[test]
    fn content_range_format() {
        assert_eq!(content_range(&r(0, 499), 10_000), "bytes 0-499/10000");
    }

    /// RFC 9110 §14.4's examples, and its validity rule.
    #[test]
    fn content_range_parse() {
        let bytes = |s, e, c| ContentRange::Bytes {
            range: r(s, e),
            complete_len: c,
        };
        assert_eq!(
            parse_content_range("bytes 42-1233/1234"),
            Some(bytes(42, 1233, Some(1234)))
        );
        assert_eq!(
            parse_content_range("bytes 42-1233/*"),
            Some(bytes(42, 1233, None))
        );
        assert_eq!(
            parse_content_range("bytes */1234"),
            Some(ContentRange::Unsatisfied { complete_len: 1234 })
        );
        let round = content_range(&r(0, 0), 1);
        assert_eq!(parse_content_range(&round), Some(bytes(0, 0, Some(1))));
        for bad in [
            "bytes 5-4/10",
            "bytes 0-10/10",
            "bytes 0-9/",
            "bytes */*",
            "items 0-1/2",
            "bytes 0-1",
            "bytes=0-1/2",
            "bytes -1/2",
            "bytes 0-18446744073709551616/*",
            "bytes  0-1/2",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }

    const T: i64 = 1_700_000_000;

    fn validators() -> Validators {
        Validators {
            etag: Some(EntityTag::strong("abc")),
            last_modified: Some(from_unix_seconds(T)),
        }
    }

    #[test]
    fn if_range_with_etag_needs_strong_match() {
        let now = from_unix_seconds(T + 60);
        assert!(if_range_holds("\"abc\"", &validators(), now));
        assert!(!if_range_holds("\"abd\"", &validators(), now));
        assert!(!if_range_holds("W/\"abc\"", &validators(), now));
        let weak = Validators {
            etag: Some(EntityTag::weak("abc")),
            ..validators()
        };
        assert!(!if_range_holds("\"abc\"", &weak, now));
        assert!(!if_range_holds("\"abc", &validators(), now));
    }

    #[test]
    fn if_range_with_date_needs_exact_strong_last_modified() {
        let lm = format_http_date(from_unix_seconds(T));
        assert!(if_range_holds(&lm, &validators(), from_unix_seconds(T + 1)));
        // Last-Modified is not at least one second before Date: weak, so the range is refused.
        assert!(!if_range_holds(&lm, &validators(), from_unix_seconds(T)));
        // Not an exact match, even if later.
        let later = format_http_date(from_unix_seconds(T + 5));
        assert!(!if_range_holds(
            &later,
            &validators(),
            from_unix_seconds(T + 60)
        ));
        assert!(!if_range_holds(
            "garbage",
            &validators(),
            from_unix_seconds(T + 60)
        ));
        let no_lm = Validators {
            last_modified: None,
            ..validators()
        };
        assert!(!if_range_holds(&lm, &no_lm, from_unix_seconds(T + 60)));
    }

    #[test]
    fn evaluate_range_combines_method_and_if_range() {
        let now = from_unix_seconds(T + 60);
        let v = validators();
        let run = |method, range, if_range| evaluate_range(method, range, if_range, 100, &v, now);
        assert_eq!(run("GET", None, None), RangeOutcome::Full);
        assert_eq!(run("GET", Some("bytes=0-9"), None), sat(&[(0, 9)]));
        assert_eq!(run("HEAD", Some("bytes=0-9"), None), sat(&[(0, 9)]));
        assert_eq!(run("POST", Some("bytes=0-9"), None), RangeOutcome::Full);
        assert_eq!(
            run("GET", Some("bytes=0-9"), Some("\"abc\"")),
            sat(&[(0, 9)])
        );
        assert_eq!(
            run("GET", Some("bytes=0-9"), Some("\"old\"")),
            RangeOutcome::Full
        );
        assert_eq!(
            run("GET", Some("bytes=500-"), Some("\"abc\"")),
            RangeOutcome::Unsatisfiable
        );
    }

    /// A representation length and a well-formed `Range` value whose positions are mostly
    /// near it, so that all outcomes (satisfiable, 416, ignored) come up often.
    pub(crate) fn arb_range_request() -> impl Strategy<Value = (u64, String)> {
        (0u64..3000).prop_flat_map(|len| {
            let span = 0..len / 8 + 2;
            let spec = prop_oneof![
                4 => (0..len + 1, span.clone(), any::<bool>()).prop_map(|(a, n, open)| {
                    if open { format!("{a}-") } else { format!("{a}-{}", a + n) }
                }),
                2 => span.prop_map(|n| format!("-{n}")),
                1 => (len..len + 100).prop_map(|a| format!("{a}-")),
            ];
            let specs = proptest::collection::vec(spec, 1..6);
            (
                Just(len),
                specs.prop_map(|s| format!("bytes={}", s.join(","))),
            )
        })
    }

    #[test]
    fn generator_reaches_every_outcome() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let (mut sat, mut unsat, mut full) = (0, 0, 0);
        for _ in 0..500 {
            let (len, value) = arb_range_request().new_tree(&mut runner).unwrap().current();
            match parse_range(&value, len) {
                RangeOutcome::Satisfiable(_) => sat += 1,
                RangeOutcome::Unsatisfiable => unsat += 1,
                RangeOutcome::Full => full += 1,
            }
        }
        assert!(sat > 50 && unsat > 5 && full > 5, "{sat} {unsat} {full}");
    }

    proptest! {
        #[test]
        fn never_panics_on_text(value in "\\PC{0,120}", len in any::<u64>()) {
            let _ = parse_range(&value, len);
        }

        #[test]
        fn satisfiable_ranges_lie_within_the_representation((len, value) in arb_range_request()) {
            if let RangeOutcome::Satisfiable(ranges) = parse_range(&value, len) {
                prop_assert!(!ranges.is_empty());
                let mut total = 0;
                for (i, a) in ranges.iter().enumerate() {
                    prop_assert!(a.start <= a.end_inclusive);
                    prop_assert!(a.end_inclusive < len);
                    total += a.len();
                    for b in &ranges[i + 1..] {
                        prop_assert!(!a.overlaps(b));
                    }
                }
                prop_assert!(total <= len);
            }
        }
    }
}
