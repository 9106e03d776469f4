//! Entity tags, RFC 9110 §8.8.3: parsing, the two comparison functions, lists for `If-Match` /
//! `If-None-Match` (§13.1.1, §13.1.2), and the tag this server generates for files.
//!
//! ```text
//! entity-tag = [ weak ] opaque-tag      weak = %s"W/"
//! opaque-tag = DQUOTE *etagc DQUOTE     etagc = %x21 / %x23-7E / obs-text
//! If-Match / If-None-Match = "*" / #entity-tag
//! ```
//!
//! Note that `etagc` includes the comma, so a list cannot be split on commas blindly: the list
//! parser walks tag by tag.

use std::fmt;
use std::time::SystemTime;

use super::date::unix_seconds;
use super::lex::{Cursor, MAX_FIELD_LEN};

/// More tags than this in one `If-Match` / `If-None-Match` is not a cache revalidating its
/// variants; the list is refused (which makes the condition fail safe, see [`EntityTagList`]).
pub const MAX_ETAGS: usize = 100;

/// Why an entity tag or a list of them did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtagError {
    /// §8.8.3: an opaque-tag starts and ends with DQUOTE.
    #[error("entity-tag must be a quoted string (optionally prefixed by W/)")]
    NotQuoted,
    /// §8.8.3: `etagc` excludes controls, space, DQUOTE and DEL.
    #[error("byte 0x{byte:02x} is not allowed in an entity-tag")]
    BadChar { byte: u8 },
    /// Something other than a comma followed a tag in a list.
    #[error("unexpected text after an entity-tag: {rest:?}")]
    Trailing { rest: String },
    /// The list had no tag at all (`1#entity-tag` needs one).
    #[error("empty entity-tag list")]
    Empty,
    /// Our bound on field values.
    #[error("entity-tag field longer than {max} bytes")]
    TooLong { max: usize },
    /// Our bound on list length.
    #[error("more than {max} entity-tags in one list")]
    TooMany { max: usize },
}

/// An entity tag: the opaque string without its quotes, and whether it is weak.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    pub weak: bool,
    pub opaque: String,
}

impl EntityTag {
    /// A strong tag. `opaque` must consist of `etagc` characters (no `"`), or the tag will not
    /// parse back; [`EntityTag::parse`] checks input from the network.
    pub fn strong(opaque: impl Into<String>) -> Self {
        Self {
            weak: false,
            opaque: opaque.into(),
        }
    }

    /// A weak tag (see [`EntityTag::strong`]).
    pub fn weak(opaque: impl Into<String>) -> Self {
        Self {
            weak: true,
            opaque: opaque.into(),
        }
    }

    /// Parses exactly one entity tag (surrounding OWS allowed).
    pub fn parse(value: &str) -> Result<Self, EtagError> {
        if value.len() > MAX_FIELD_LEN {
            return Err(EtagError::TooLong { max: MAX_FIELD_LEN });
        }
        let mut cursor = Cursor::new(value);
        cursor.skip_ows();
        let tag = parse_one(&mut cursor)?;
        cursor.skip_ows();
        if !cursor.at_end() {
            return Err(EtagError::Trailing {
                rest: cursor.rest().to_owned(),
            });
        }
        Ok(tag)
    }

    /// §8.8.3.2 strong comparison: both strong and the opaque tags identical.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// §8.8.3.2 weak comparison: the opaque tags identical, whatever the weakness.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.opaque == other.opaque
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

/// Reads `[ W/ ] DQUOTE *etagc DQUOTE` at the cursor.
fn parse_one(cursor: &mut Cursor<'_>) -> Result<EntityTag, EtagError> {
    // %s"W/" is case-sensitive: a lowercase "w/" is not a weak tag but a syntax error.
    let weak = cursor.eat_str("W/");
    if !cursor.eat(b'"') {
        return Err(EtagError::NotQuoted);
    }
    let rest = cursor.rest();
    let Some(close) = rest.find('"') else {
        return Err(EtagError::NotQuoted);
    };
    let opaque = rest.get(..close).unwrap_or_default();
    if let Some(byte) = opaque.bytes().find(|&b| !is_etagc(b)) {
        return Err(EtagError::BadChar { byte });
    }
    cursor.advance(close + 1);
    Ok(EntityTag {
        weak,
        opaque: opaque.to_owned(),
    })
}

/// `etagc = %x21 / %x23-7E / obs-text` (obs-text = %x80-FF, i.e. any non-ASCII UTF-8 byte).
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

/// The value of `If-Match` or `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTagList {
    /// `*`: any current representation.
    Any,
    /// One or more tags.
    Tags(Vec<EntityTag>),
}

impl EntityTagList {
    /// Parses `"*" / #entity-tag`, accepting the empty elements §5.6.1.2 requires (`a, , b`).
    ///
    /// A caller that gets an error should treat the list as matching nothing: then `If-Match`
    /// fails (412, nothing is overwritten) and `If-None-Match` holds (the full response is
    /// sent), the safe outcome in both cases.
    pub fn parse(value: &str) -> Result<Self, EtagError> {
        if value.len() > MAX_FIELD_LEN {
            return Err(EtagError::TooLong { max: MAX_FIELD_LEN });
        }
        if value.trim_matches([' ', '\t']) == "*" {
            return Ok(Self::Any);
        }
        let mut cursor = Cursor::new(value);
        let mut tags = Vec::new();
        loop {
            cursor.skip_ows();
            if cursor.eat(b',') {
                continue;
            }
            if cursor.at_end() {
                break;
            }
            if tags.len() == MAX_ETAGS {
                return Err(EtagError::TooMany { max: MAX_ETAGS });
            }
            tags.push(parse_one(&mut cursor)?);
            cursor.skip_ows();
            if !cursor.at_end() && !cursor.eat(b',') {
                return Err(EtagError::Trailing {
                    rest: cursor.rest().to_owned(),
                });
            }
        }
        if tags.is_empty() {
            return Err(EtagError::Empty);
        }
        Ok(Self::Tags(tags))
    }

    /// Whether `current` strongly matches a listed tag (`If-Match`, §13.1.1). `*` matches any
    /// current representation.
    pub fn matches_strong(&self, current: &EntityTag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t.strong_eq(current)),
        }
    }

    /// Whether `current` weakly matches a listed tag (`If-None-Match`, §13.1.2).
    pub fn matches_weak(&self, current: &EntityTag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t.weak_eq(current)),
        }
    }
}

/// The strong ETag this server sends for a static file: `"<mtime seconds hex>-<size hex>"`,
/// byte-for-byte what nginx sends, so a cache in front of either server sees the same tag.
///
/// Why not more: the inode is left out (Apache's old default) because it differs between
/// replicas serving the same file and so defeats shared caches; nanoseconds are left out to
/// stay nginx-compatible and because `Last-Modified` already has one-second resolution. The
/// price, shared with nginx, is that two same-size writes within one second get the same tag.
/// Times before 1970 count as 0.
pub fn file_etag(size: u64, mtime: SystemTime) -> EntityTag {
    let secs = unix_seconds(mtime).max(0);
    EntityTag::strong(format!("{secs:x}-{size:x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn parses_strong_and_weak() {
        assert_eq!(
            EntityTag::parse("\"xyzzy\""),
            Ok(EntityTag::strong("xyzzy"))
        );
        assert_eq!(
            EntityTag::parse("W/\"xyzzy\""),
            Ok(EntityTag::weak("xyzzy"))
        );
        assert_eq!(EntityTag::parse("\"\""), Ok(EntityTag::strong("")));
        assert_eq!(EntityTag::parse("  \"a,b\" "), Ok(EntityTag::strong("a,b")));
    }

    #[test]
    fn rejects_malformed_tags() {
        assert_eq!(EntityTag::parse("xyzzy"), Err(EtagError::NotQuoted));
        assert_eq!(EntityTag::parse("w/\"x\""), Err(EtagError::NotQuoted));
        assert_eq!(EntityTag::parse("\"open"), Err(EtagError::NotQuoted));
        assert_eq!(
            EntityTag::parse("\"a b\""),
            Err(EtagError::BadChar { byte: b' ' })
        );
        assert!(matches!(
            EntityTag::parse("\"a\"b"),
            Err(EtagError::Trailing { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for tag in [EntityTag::strong("1-2"), EntityTag::weak("v\u{e9}")] {
            assert_eq!(EntityTag::parse(&tag.to_string()), Ok(tag));
        }
    }

    /// RFC 9110 §8.8.3.2, the comparison table.
    #[test]
    fn rfc_comparison_table() {
        let cases = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
        ];
        for (a, b, strong, weak) in cases {
            let (a, b) = (EntityTag::parse(a).unwrap(), EntityTag::parse(b).unwrap());
            assert_eq!(a.strong_eq(&b), strong, "{a} {b}");
            assert_eq!(a.weak_eq(&b), weak, "{a} {b}");
        }
    }

    #[test]
    fn lists() {
        assert_eq!(EntityTagList::parse(" * "), Ok(EntityTagList::Any));
        assert_eq!(
            EntityTagList::parse("\"xyzzy\", \"r2d2xxxx\", W/\"c3piozzzz\""),
            Ok(EntityTagList::Tags(vec![
                EntityTag::strong("xyzzy"),
                EntityTag::strong("r2d2xxxx"),
                EntityTag::weak("c3piozzzz"),
            ]))
        );
        // Commas inside tags and empty list elements.
        assert_eq!(
            EntityTagList::parse(", \"a,b\" ,, \"c\","),
            Ok(EntityTagList::Tags(vec![
                EntityTag::strong("a,b"),
                EntityTag::strong("c")
            ]))
        );
        assert_eq!(EntityTagList::parse(" , "), Err(EtagError::Empty));
        assert!(EntityTagList::parse("\"a\" \"b\"").is_err());
        assert!(EntityTagList::parse("*, \"a\"").is_err());
    }

    #[test]
    fn list_limits() {
        let many = vec!["\"x\""; MAX_ETAGS + 1].join(",");
        assert_eq!(
            EntityTagList::parse(&many),
            Err(EtagError::TooMany { max: MAX_ETAGS })
        );
        let ok = vec!["\"x\""; MAX_ETAGS].join(",");
        assert!(EntityTagList::parse(&ok).is_ok());
        let long = format!("\"{}\"", "a".repeat(MAX_FIELD_LEN));
        assert!(matches!(
            EntityTagList::parse(&long),
            Err(EtagError::TooLong { .. })
        ));
    }

    #[test]
    fn list_matching() {
        let list = EntityTagList::parse("W/\"1\", \"2\"").unwrap();
        assert!(list.matches_weak(&EntityTag::strong("1")));
        assert!(!list.matches_strong(&EntityTag::strong("1")));
        assert!(list.matches_strong(&EntityTag::strong("2")));
        assert!(!list.matches_strong(&EntityTag::weak("2")));
        assert!(EntityTagList::Any.matches_strong(&EntityTag::weak("z")));
    }

    #[test]
    fn file_etag_is_nginx_format() {
        // nginx: ETag: "5f5e1000-1a" for mtime 0x5f5e1000 and 26 bytes.
        let mtime = UNIX_EPOCH + Duration::new(0x5f5e_1000, 123_456_789);
        assert_eq!(file_etag(26, mtime).to_string(), "\"5f5e1000-1a\"");
        assert_eq!(file_etag(0, UNIX_EPOCH).to_string(), "\"0-0\"");
        assert_eq!(
            file_etag(1, UNIX_EPOCH - Duration::from_secs(5)).to_string(),
            "\"0-1\""
        );
    }

    proptest::proptest! {
        #[test]
        fn list_parse_never_panics(text in "\\PC{0,200}") {
            let _ = EntityTagList::parse(&text);
            let _ = EntityTag::parse(&text);
        }
    }
}
