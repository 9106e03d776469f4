//! Domain names: an owned, always-absolute sequence of labels with the case of each byte kept.
//!
//! RFC 1035 §2.3.4 (label ≤ 63 octets, name ≤ 255 octets in wire form), §3.1 (wire form as
//! length-prefixed labels), §5.1 (presentation form with `\.` and `\DDD` escapes, `@` for the
//! origin), RFC 4343 (comparison ignores ASCII case only) and RFC 4034 §6.1 (canonical order).
//! Internationalised names (IDNA) are a layer above: here a label is just bytes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::error::NameError;
use super::present::read_escape;

/// RFC 1035 §2.3.4.
pub const MAX_LABEL_LEN: usize = 63;
/// RFC 1035 §2.3.4, counting length bytes and the final root byte.
pub const MAX_NAME_LEN: usize = 255;
/// A 255-octet name holds at most 127 one-byte labels.
const MAX_LABELS: usize = 128;

/// An absolute domain name.
///
/// Equality, hashing and ordering ignore ASCII case (RFC 4343) and follow the canonical order of
/// RFC 4034 §6.1, so `Name` works as a key of an ordered zone map; [`Name::eq_exact`] compares
/// case too. Display gives the presentation form, always ending with a dot.
#[derive(Clone)]
pub struct Name {
    /// The wire form without the final root byte: `3www7example3com`. Keeping the wire form
    /// makes encoding a copy and every label a cheap slice; length bytes are ≤ 63, never letters,
    /// so a whole-buffer ASCII case fold is a label-wise case fold.
    wire: Vec<u8>,
}

impl Name {
    /// The root name, written ".".
    pub fn root() -> Self {
        Self { wire: Vec::new() }
    }

    pub fn is_root(&self) -> bool {
        self.wire.is_empty()
    }

    /// Builds a name from its labels, leftmost first; the root is implied.
    pub fn from_labels<I, L>(labels: I) -> Result<Self, NameError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let mut name = Self::root();
        for (index, label) in labels.into_iter().enumerate() {
            name.push_label(label.as_ref()).map_err(|err| match err {
                NameError::EmptyLabel { .. } => NameError::EmptyLabel { at: index },
                other => other,
            })?;
        }
        Ok(name)
    }

    /// Parses presentation text as an absolute name; a missing final dot is implied, and `@` is
    /// an ordinary label here (use [`Name::parse_relative`] for zone-file text).
    pub fn from_ascii(text: &str) -> Result<Self, NameError> {
        Self::from_presentation(text.as_bytes(), &Self::root())
    }

    /// Parses zone-file text: `@` is `origin`, a name without a final unescaped dot is relative
    /// to `origin` (RFC 1035 §5.1).
    pub fn parse_relative(text: &str, origin: &Name) -> Result<Self, NameError> {
        Self::from_presentation(text.as_bytes(), origin)
    }

    /// [`Name::parse_relative`] over bytes, for tokens that need not be UTF-8.
    pub fn from_presentation(text: &[u8], origin: &Name) -> Result<Self, NameError> {
        if text == b"@" {
            return Ok(origin.clone());
        }
        let (name, absolute) = parse_text(text)?;
        if absolute {
            Ok(name)
        } else {
            name.append(origin)
        }
    }

    /// The labels, leftmost first, without the root.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.wire }
    }

    /// How many labels, not counting the root: `www.example.com.` has 3.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    pub fn first_label(&self) -> Option<&[u8]> {
        self.labels().next()
    }

    /// Length in uncompressed wire form, including the root byte.
    pub fn wire_len(&self) -> usize {
        self.wire.len() + 1
    }

    /// The uncompressed wire form, including the root byte.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len());
        out.extend_from_slice(&self.wire);
        out.push(0);
        out
    }

    /// The wire form without the root byte: what the writer keys compression on.
    pub(crate) fn wire_labels(&self) -> &[u8] {
        &self.wire
    }

    /// RFC 4592 §2.1.1: a wildcard's first label is exactly `*`.
    pub fn is_wildcard(&self) -> bool {
        self.first_label() == Some(b"*")
    }

    /// True when `self` is `ancestor` or lies below it (label-wise, case-insensitive).
    pub fn is_subdomain_of(&self, ancestor: &Name) -> bool {
        self.suffix_start(ancestor.label_count())
            .and_then(|start| self.wire.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(&ancestor.wire))
    }

    /// The name with its first label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        let (&len, _) = self.wire.split_first()?;
        let tail = self.wire.get(usize::from(len) + 1..)?;
        Some(Self {
            wire: tail.to_vec(),
        })
    }

    /// The ancestor made of the last `label_count` labels (`0` is the root); `None` when the name
    /// has fewer labels.
    pub fn suffix(&self, label_count: usize) -> Option<Name> {
        let start = self.suffix_start(label_count)?;
        Some(Self {
            wire: self.wire.get(start..)?.to_vec(),
        })
    }

    /// `label.self`.
    pub fn prepend_label(&self, label: &[u8]) -> Result<Name, NameError> {
        let mut name = Self::root();
        name.push_label(label)?;
        name.append(self)
    }

    /// `self.suffix`: the labels of `self` followed by those of `suffix`.
    pub fn append(&self, suffix: &Name) -> Result<Name, NameError> {
        let len = self.wire.len() + suffix.wire.len() + 1;
        if len > MAX_NAME_LEN {
            return Err(NameError::NameTooLong { len });
        }
        let mut wire = Vec::with_capacity(len - 1);
        wire.extend_from_slice(&self.wire);
        wire.extend_from_slice(&suffix.wire);
        Ok(Self { wire })
    }

    /// `*.encloser`: the wildcard that could synthesise answers below a closest encloser
    /// (RFC 4592 §3.3.1).
    pub fn wildcard_of(encloser: &Name) -> Result<Name, NameError> {
        encloser.prepend_label(b"*")
    }

    /// The same name with ASCII letters lowered, the form RFC 4034 §6.2 signs and compares.
    pub fn to_lowercase(&self) -> Name {
        Self {
            wire: self.wire.to_ascii_lowercase(),
        }
    }

    /// Equality including case, for checks such as the DNS 0x20 echo of a question.
    pub fn eq_exact(&self, other: &Name) -> bool {
        self.wire == other.wire
    }

    /// Appends a label on the right, keeping the length rules.
    pub(crate) fn push_label(&mut self, label: &[u8]) -> Result<(), NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel { at: 0 });
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong { len: label.len() });
        }
        let len = self.wire.len() + 1 + label.len() + 1;
        if len > MAX_NAME_LEN {
            return Err(NameError::NameTooLong { len });
        }
        // The length fits a byte: it was checked against 63 above.
        self.wire.push(label.len() as u8);
        self.wire.extend_from_slice(label);
        Ok(())
    }

    /// Where the last `count` labels start in `wire`.
    fn suffix_start(&self, count: usize) -> Option<usize> {
        let (starts, total) = self.label_starts();
        let skip = total.checked_sub(count)?;
        if skip == total {
            return Some(self.wire.len());
        }
        starts.get(skip).copied().map(usize::from)
    }

    /// Start offsets of each label in `wire`, and how many there are. A fixed array because
    /// names are bounded and comparisons should not allocate.
    fn label_starts(&self) -> ([u8; MAX_LABELS], usize) {
        let mut starts = [0u8; MAX_LABELS];
        let mut count = 0;
        let mut offset = 0;
        while let Some(&len) = self.wire.get(offset) {
            if let Some(slot) = starts.get_mut(count) {
                // Offsets are below 255 by the name length rule.
                *slot = offset as u8;
            }
            count += 1;
            offset += usize::from(len) + 1;
        }
        (starts, count)
    }

    /// The labels as slices, rightmost last, in a fixed array (see `label_starts`).
    /// The label whose length byte is at `start` (from [`Name::label_starts`]).
    fn label_at(&self, start: u8) -> &[u8] {
        let start = usize::from(start);
        let len = self.wire.get(start).copied().map_or(0, usize::from);
        self.wire
            .get(start + 1..start + 1 + len)
            .unwrap_or_default()
    }
}

/// Splits presentation text into labels; returns the name and whether it ended with a dot.
fn parse_text(text: &[u8]) -> Result<(Name, bool), NameError> {
    if text.is_empty() {
        return Err(NameError::Empty);
    }
    if text == b"." {
        return Ok((Name::root(), true));
    }
    let mut name = Name::root();
    let mut label = Vec::new();
    let mut i = 0;
    let mut absolute = false;
    while let Some(&b) = text.get(i) {
        absolute = false;
        match b {
            b'\\' => {
                let after = text.get(i + 1..).unwrap_or_default();
                let (byte, used) = read_escape(after).ok_or(NameError::BadEscape { at: i })?;
                label.push(byte);
                i += 1 + used;
            }
            b'.' => {
                if label.is_empty() {
                    return Err(NameError::EmptyLabel { at: i });
                }
                name.push_label(&label)?;
                label.clear();
                absolute = true;
                i += 1;
            }
            _ => {
                label.push(b);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        name.push_label(&label)?;
    }
    Ok((name, absolute))
}

/// Iterator over the labels of a [`Name`], leftmost first.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let (label, rest) = tail.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(label)
    }
}

impl FromStr for Name {
    type Err = NameError;

    fn from_str(text: &str) -> Result<Self, NameError> {
        Self::from_ascii(text)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.wire.len());
        for b in &self.wire {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl Ord for Name {
    /// RFC 4034 §6.1: compare label by label from the right, each label as a lower-cased octet
    /// string where a shorter prefix sorts first; a name sorts before its subdomains.
    fn cmp(&self, other: &Self) -> Ordering {
        // Equal names are the common case in lookups: settle them without splitting labels.
        if self.wire.eq_ignore_ascii_case(&other.wire) {
            return Ordering::Equal;
        }
        let (mine, my_count) = self.label_starts();
        let (theirs, their_count) = other.label_starts();
        let mine = mine.get(..my_count).unwrap_or_default();
        let theirs = theirs.get(..their_count).unwrap_or_default();
        for (&a, &b) in mine.iter().rev().zip(theirs.iter().rev()) {
            let order = self
                .label_at(a)
                .iter()
                .map(u8::to_ascii_lowercase)
                .cmp(other.label_at(b).iter().map(u8::to_ascii_lowercase));
            if order != Ordering::Equal {
                return order;
            }
        }
        my_count.cmp(&their_count)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                write_name_byte(f, b)?;
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// BIND's escaping: the bytes that mean something in a zone file get a backslash, anything not
/// printable becomes `\DDD`, so the text parses back to the same bytes.
fn write_name_byte(f: &mut fmt::Formatter<'_>, b: u8) -> fmt::Result {
    match b {
        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
            write!(f, "\\{}", char::from(b))
        }
        0x21..=0x7e => write!(f, "{}", char::from(b)),
        _ => write!(f, "\\{b:03}"),
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::arb_name;
    use proptest::prelude::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(name("www.Example.com.").to_string(), "www.Example.com.");
        assert_eq!(name("www.example.com").to_string(), "www.example.com.");
        assert_eq!(name(".").to_string(), ".");
        assert!(name(".").is_root());
        let odd = name(r"a\.b.c\\d.\000\255\032.");
        let labels: Vec<&[u8]> = odd.labels().collect();
        assert_eq!(labels, vec![&b"a.b"[..], b"c\\d", b"\0\xff "]);
        assert_eq!(odd.to_string(), r"a\.b.c\\d.\000\255\032.");
        assert_eq!(name(r"\@\$\(\);.").to_string(), r"\@\$\(\)\;.");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(Name::from_ascii(""), Err(NameError::Empty));
        assert_eq!(
            Name::from_ascii("a..b"),
            Err(NameError::EmptyLabel { at: 2 })
        );
        assert_eq!(Name::from_ascii(".a"), Err(NameError::EmptyLabel { at: 0 }));
        assert_eq!(Name::from_ascii(".."), Err(NameError::EmptyLabel { at: 0 }));
        assert_eq!(Name::from_ascii(r"a\"), Err(NameError::BadEscape { at: 1 }));
        assert_eq!(
            Name::from_ascii(r"a\25"),
            Err(NameError::BadEscape { at: 1 })
        );
        assert_eq!(
            Name::from_ascii(r"a\256"),
            Err(NameError::BadEscape { at: 1 })
        );
        let label64 = "a".repeat(64);
        assert_eq!(
            Name::from_ascii(&label64),
            Err(NameError::LabelTooLong { len: 64 })
        );
        let label63 = "a".repeat(63);
        // 4 × (1 + 63) + 1 = 257 octets.
        let long = [label63.as_str(); 4].join(".");
        assert!(matches!(
            Name::from_ascii(&long),
            Err(NameError::NameTooLong { .. })
        ));
        // 3 × 64 + 1 + 61 + 1 = 255 octets: the longest legal name.
        let longest = format!("{0}.{0}.{0}.{1}", label63, "b".repeat(61));
        assert_eq!(name(&longest).wire_len(), 255);
    }

    #[test]
    fn relative_names() {
        let origin = name("example.com.");
        assert_eq!(Name::parse_relative("@", &origin), Ok(origin.clone()));
        assert_eq!(
            Name::parse_relative("www", &origin),
            Ok(name("www.example.com."))
        );
        assert_eq!(
            Name::parse_relative("www.other.", &origin),
            Ok(name("www.other."))
        );
        assert_eq!(
            Name::parse_relative(r"a\.", &origin).unwrap().label_count(),
            3
        );
        assert_eq!(Name::parse_relative(".", &origin), Ok(Name::root()));
    }

    #[test]
    fn case_insensitive_identity_case_preserving_text() {
        let upper = name("WWW.EXAMPLE.COM.");
        let lower = name("www.example.com.");
        assert_eq!(upper, lower);
        assert!(!upper.eq_exact(&lower));
        assert_eq!(upper.to_lowercase().to_string(), "www.example.com.");
        let mut set = std::collections::HashSet::new();
        set.insert(upper);
        assert!(set.contains(&lower));
    }

    #[test]
    fn canonical_order_rfc4034_example() {
        // RFC 4034 §6.1 lists these names in canonical order.
        let sorted = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            r"zABC.a.EXAMPLE.",
            "z.example.",
            r"\001.z.example.",
            "*.z.example.",
            r"\200.z.example.",
        ];
        let names: Vec<Name> = sorted.iter().map(|text| name(text)).collect();
        for pair in names.windows(2) {
            if let [a, b] = pair {
                assert_eq!(a.cmp(b), Ordering::Less, "{a} < {b}");
            }
        }
    }

    #[test]
    fn tree_helpers() {
        let www = name("www.example.com.");
        let zone = name("Example.COM.");
        assert!(www.is_subdomain_of(&zone));
        assert!(zone.is_subdomain_of(&zone));
        assert!(www.is_subdomain_of(&Name::root()));
        assert!(!zone.is_subdomain_of(&www));
        assert!(!name("www.notexample.com.").is_subdomain_of(&zone));
        assert_eq!(www.parent(), Some(name("example.com.")));
        assert_eq!(Name::root().parent(), None);
        assert_eq!(www.suffix(1), Some(name("com.")));
        assert_eq!(www.suffix(0), Some(Name::root()));
        assert_eq!(www.suffix(4), None);
        assert_eq!(www.label_count(), 3);
        let wild = Name::wildcard_of(&zone).unwrap();
        assert!(wild.is_wildcard());
        assert_eq!(wild.to_string(), "*.Example.COM.");
        assert!(!www.is_wildcard());
        assert_eq!(zone.prepend_label(b"mail"), Ok(name("mail.example.com.")));
        assert!(zone.prepend_label(&[b'x'; 64]).is_err());
        assert_eq!(name("a.").append(&zone), Ok(name("a.example.com.")));
        assert_eq!(www.to_wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!(Name::from_labels(["a", "b"]), Ok(name("a.b.")));
        assert_eq!(
            Name::from_labels(["a", ""]),
            Err(NameError::EmptyLabel { at: 1 })
        );
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(name in arb_name()) {
            let text = name.to_string();
            let parsed = Name::from_ascii(&text).unwrap();
            prop_assert!(parsed.eq_exact(&name), "{} vs {}", parsed, name);
        }

        #[test]
        fn order_agrees_with_eq(a in arb_name(), b in arb_name()) {
            prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        }

        #[test]
        fn parent_of_prepended(name in arb_name(), label in proptest::collection::vec(any::<u8>(), 1..10)) {
            if let Ok(child) = name.prepend_label(&label) {
                prop_assert!(child.is_subdomain_of(&name));
                prop_assert_eq!(child.parent(), Some(name));
            }
        }
    }
}
