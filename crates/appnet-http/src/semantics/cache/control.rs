//! `Cache-Control`, RFC 9111 §5.2, and the request `Pragma` it supersedes (§5.4).
//!
//! ```text
//! Cache-Control   = #cache-directive
//! cache-directive = token [ "=" ( token / quoted-string ) ]
//! ```
//!
//! One parser serves requests and responses, since the syntax is shared; each field of
//! [`CacheControl`] says which side gives it meaning. Rules applied while parsing:
//!
//! - Directive names are case-insensitive; unknown directives are ignored (§5.2.3).
//! - Arguments are accepted in token or quoted-string form (§5.2: recipients should accept
//!   both, even where generation must use one).
//! - Duplicates: the first occurrence wins (§4.2.1: "either the first occurrence should be
//!   used or the response should be considered stale").
//! - `max-age` / `s-maxage` with an argument that is not delta-seconds count as 0, i.e. stale
//!   (§4.2.1 encourages treating invalid freshness information so); other malformed arguments
//!   are ignored, which never grants more than the directive's absence would.
//! - delta-seconds saturate at 2^31 (§1.2.2).
//! - A field longer than [`MAX_FIELD_LEN`] is read as `no-store`: it grants nothing, and a
//!   response that odd is not worth storing.

use crate::semantics::lex::{Cursor, MAX_FIELD_LEN, is_tchar, parse_u64_saturating, split_list};

/// RFC 9111 §1.2.2: the value to use for delta-seconds too large to represent.
pub const DELTA_SECONDS_MAX: u64 = 1 << 31;

/// More directives than this in one field are ignored (real fields have a handful).
pub const MAX_DIRECTIVES: usize = 64;

/// `max-stale` (§5.2.1.2): with no argument, any staleness is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxStale {
    Any,
    Seconds(u64),
}

/// The directives of one `Cache-Control` field (all lines combined).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// Request §5.2.1.1 / response §5.2.2.1.
    pub max_age: Option<u64>,
    /// Response §5.2.2.10 (shared caches only).
    pub s_maxage: Option<u64>,
    /// Request §5.2.1.4 / response §5.2.2.4, in either form.
    pub no_cache: bool,
    /// Response §5.2.2.4: the field names of the qualified form (lowercase), empty otherwise.
    pub no_cache_fields: Vec<String>,
    /// Request §5.2.1.5 / response §5.2.2.5.
    pub no_store: bool,
    /// Response §5.2.2.7, in either form.
    pub private: bool,
    /// Response §5.2.2.7: the field names of the qualified form (lowercase), empty otherwise.
    pub private_fields: Vec<String>,
    /// Response §5.2.2.9.
    pub public: bool,
    /// Response §5.2.2.2.
    pub must_revalidate: bool,
    /// Response §5.2.2.8 (shared caches only).
    pub proxy_revalidate: bool,
    /// Response §5.2.2.3.
    pub must_understand: bool,
    /// Request §5.2.1.6 / response §5.2.2.6.
    pub no_transform: bool,
    /// Request §5.2.1.2.
    pub max_stale: Option<MaxStale>,
    /// Request §5.2.1.3.
    pub min_fresh: Option<u64>,
    /// Request §5.2.1.7.
    pub only_if_cached: bool,
    /// Response, RFC 5861 §3.
    pub stale_while_revalidate: Option<u64>,
    /// Request and response, RFC 5861 §4.
    pub stale_if_error: Option<u64>,
    /// Response, RFC 8246.
    pub immutable: bool,
}

impl CacheControl {
    /// Parses a (combined) `Cache-Control` field value.
    pub fn parse(value: &str) -> Self {
        let mut cc = Self::default();
        if value.len() > MAX_FIELD_LEN {
            cc.no_store = true;
            return cc;
        }
        let mut cursor = Cursor::new(value);
        let mut count = 0;
        loop {
            cursor.skip_ows();
            if cursor.eat(b',') {
                continue;
            }
            if cursor.at_end() || count == MAX_DIRECTIVES {
                break;
            }
            count += 1;
            match directive(&mut cursor) {
                Some((name, arg)) => cc.apply(&name, arg.as_deref()),
                None => cursor.skip_element(),
            }
        }
        cc
    }

    /// A request's directives: `Cache-Control` if present, else `Pragma: no-cache` counts as
    /// `Cache-Control: no-cache` (§5.4; RFC 9111 deprecates Pragma, but HTTP/1.0 clients and
    /// `curl -H 'Pragma: no-cache'` still send it, and honouring it only ever costs a
    /// revalidation).
    pub fn for_request(cache_control: Option<&str>, pragma: Option<&str>) -> Self {
        match (cache_control, pragma) {
            (Some(cc), _) => Self::parse(cc),
            (None, Some(pragma)) => Self {
                no_cache: pragma_no_cache(pragma),
                ..Self::default()
            },
            (None, None) => Self::default(),
        }
    }

    /// Records one directive unless an earlier occurrence already set it.
    fn apply(&mut self, name: &str, arg: Option<&str>) {
        match name {
            "max-age" => set_once(&mut self.max_age, freshness_seconds(arg)),
            "s-maxage" => set_once(&mut self.s_maxage, freshness_seconds(arg)),
            "max-stale" => {
                let value = match arg {
                    None => Some(MaxStale::Any),
                    Some(a) => delta_seconds(a).map(MaxStale::Seconds),
                };
                if let Some(v) = value {
                    set_once(&mut self.max_stale, v);
                }
            }
            "min-fresh" => set_opt_once(&mut self.min_fresh, arg.and_then(delta_seconds)),
            "stale-while-revalidate" => set_opt_once(
                &mut self.stale_while_revalidate,
                arg.and_then(delta_seconds),
            ),
            "stale-if-error" => set_opt_once(&mut self.stale_if_error, arg.and_then(delta_seconds)),
            "no-cache" => {
                self.no_cache = true;
                extend_fields(&mut self.no_cache_fields, arg);
            }
            "private" => {
                self.private = true;
                extend_fields(&mut self.private_fields, arg);
            }
            "no-store" => self.no_store = true,
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "must-understand" => self.must_understand = true,
            "no-transform" => self.no_transform = true,
            "only-if-cached" => self.only_if_cached = true,
            "immutable" => self.immutable = true,
            _ => {}
        }
    }
}

/// `token [ "=" ( token / quoted-string ) ]` followed by OWS and a comma or the end; the name
/// lowercased. `None` if the element is malformed (the caller skips it).
fn directive(cursor: &mut Cursor<'_>) -> Option<(String, Option<String>)> {
    let name = cursor.token()?.to_ascii_lowercase();
    cursor.skip_ows();
    let arg = if cursor.eat(b'=') {
        cursor.skip_ows();
        Some(match cursor.peek() {
            Some(b'"') => cursor.quoted_string()?,
            _ => cursor.token()?.to_owned(),
        })
    } else {
        None
    };
    cursor.skip_ows();
    if !cursor.at_end() && !cursor.eat(b',') {
        return None;
    }
    Some((name, arg))
}

fn set_once<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn set_opt_once<T>(slot: &mut Option<T>, value: Option<T>) {
    if let Some(v) = value {
        set_once(slot, v);
    }
}

/// RFC 9111 §1.2.2: `delta-seconds = 1*DIGIT`, saturating at 2^31.
pub fn delta_seconds(text: &str) -> Option<u64> {
    parse_u64_saturating(text).map(|v| v.min(DELTA_SECONDS_MAX))
}

/// `max-age` / `s-maxage`: a missing or invalid argument means "already stale" (§4.2.1).
fn freshness_seconds(arg: Option<&str>) -> u64 {
    arg.and_then(delta_seconds).unwrap_or(0)
}

/// The field-name list of qualified `no-cache` / `private` (§5.2.2.4, §5.2.2.7).
fn extend_fields(fields: &mut Vec<String>, arg: Option<&str>) {
    let Some(arg) = arg else { return };
    for name in split_list(arg) {
        if fields.len() >= MAX_DIRECTIVES {
            break;
        }
        if name.bytes().all(is_tchar) {
            fields.push(name.to_ascii_lowercase());
        }
    }
}

/// §5.4: `Pragma = 1#pragma-directive`; only `no-cache` means anything.
fn pragma_no_cache(value: &str) -> bool {
    value.len() <= MAX_FIELD_LEN
        && split_list(value)
            .iter()
            .any(|d| d.eq_ignore_ascii_case("no-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_directives() {
        let cc = CacheControl::parse(
            "public, max-age=600, s-maxage=60, must-revalidate, proxy-revalidate, immutable, \
             stale-while-revalidate=30, stale-if-error=86400, no-transform, must-understand",
        );
        assert!(cc.public && cc.must_revalidate && cc.proxy_revalidate && cc.immutable);
        assert!(cc.no_transform && cc.must_understand);
        assert_eq!(cc.max_age, Some(600));
        assert_eq!(cc.s_maxage, Some(60));
        assert_eq!(cc.stale_while_revalidate, Some(30));
        assert_eq!(cc.stale_if_error, Some(86400));
        assert!(!cc.no_cache && !cc.no_store && !cc.private);
    }

    #[test]
    fn request_directives() {
        let cc = CacheControl::parse("max-stale, min-fresh=5, only-if-cached, no-store");
        assert_eq!(cc.max_stale, Some(MaxStale::Any));
        assert_eq!(cc.min_fresh, Some(5));
        assert!(cc.only_if_cached && cc.no_store);
        let cc = CacheControl::parse("max-stale=10");
        assert_eq!(cc.max_stale, Some(MaxStale::Seconds(10)));
    }

    #[test]
    fn no_cache_and_private_with_and_without_fields() {
        let cc = CacheControl::parse("no-cache");
        assert!(cc.no_cache && cc.no_cache_fields.is_empty());
        let cc = CacheControl::parse("no-cache=\"Set-Cookie, X-Foo\", private=Authorization");
        assert!(cc.no_cache && cc.private);
        assert_eq!(cc.no_cache_fields, vec!["set-cookie", "x-foo"]);
        assert_eq!(cc.private_fields, vec!["authorization"]);
    }

    #[test]
    fn names_are_case_insensitive_and_args_may_be_quoted() {
        let cc = CacheControl::parse("Max-Age=\"30\", NO-STORE");
        assert_eq!(cc.max_age, Some(30));
        assert!(cc.no_store);
    }

    #[test]
    fn first_duplicate_wins() {
        let cc = CacheControl::parse("max-age=60, max-age=3600, s-maxage=1, s-maxage=2");
        assert_eq!(cc.max_age, Some(60));
        assert_eq!(cc.s_maxage, Some(1));
    }

    #[test]
    fn invalid_freshness_means_stale() {
        assert_eq!(CacheControl::parse("max-age=abc").max_age, Some(0));
        assert_eq!(CacheControl::parse("max-age").max_age, Some(0));
        assert_eq!(CacheControl::parse("s-maxage=-1").s_maxage, Some(0));
        // Other directives with bad arguments are simply absent.
        assert_eq!(CacheControl::parse("min-fresh=x").min_fresh, None);
        assert_eq!(CacheControl::parse("max-stale=x").max_stale, None);
    }

    #[test]
    fn delta_seconds_saturate() {
        let cc = CacheControl::parse("max-age=99999999999999999999");
        assert_eq!(cc.max_age, Some(DELTA_SECONDS_MAX));
    }

    #[test]
    fn unknown_and_malformed_directives_are_skipped() {
        let cc =
            CacheControl::parse("community=\"UCI\", foo=\"a,b\", =bad, max-age=5 junk, , no-store");
        assert_eq!(cc.max_age, None);
        assert!(cc.no_store);
        let cc = CacheControl::parse("x=\"unterminated, max-age=5");
        assert_eq!(cc.max_age, None);
    }

    #[test]
    fn oversized_field_refuses_storage() {
        let long = format!("max-age=60, {}", "x,".repeat(MAX_FIELD_LEN));
        let cc = CacheControl::parse(&long);
        assert!(cc.no_store);
        assert_eq!(cc.max_age, None);
    }

    #[test]
    fn directive_count_is_bounded() {
        let mut value = "x, ".repeat(MAX_DIRECTIVES);
        value.push_str("no-store");
        assert!(!CacheControl::parse(&value).no_store);
    }

    #[test]
    fn pragma_no_cache_only_without_cache_control() {
        assert!(CacheControl::for_request(None, Some("no-cache")).no_cache);
        assert!(CacheControl::for_request(None, Some("x, No-Cache")).no_cache);
        assert!(!CacheControl::for_request(Some("max-age=5"), Some("no-cache")).no_cache);
        assert!(!CacheControl::for_request(None, Some("other")).no_cache);
        assert_eq!(
            CacheControl::for_request(None, None),
            CacheControl::default()
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            let _ = CacheControl::parse(&text);
            let _ = CacheControl::for_request(None, Some(&text));
        }
    }
}
