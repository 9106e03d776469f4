//! [`Key`]: a name flattened into bytes whose plain byte order is the RFC 4034 §6.1 canonical
//! order, so the zone's map compares keys with `memcmp` instead of walking labels.
//!
//! Labels are written rightmost first, lower-cased (RFC 4343), each followed by a 0x00
//! terminator; the label bytes 0x00 and 0x01 are escaped as 0x01 0x01 and 0x01 0x02 so that no
//! label byte encodes as 0x00. The encoding keeps order (a label sorts before its extensions,
//! because the terminator is the lowest byte) and is prefix-closed: the key of an ancestor is a
//! prefix of the key of each descendant, ending at a terminator. A name's descendants therefore
//! follow its key directly in the map, and ancestors are found by cutting the key short.

use std::borrow::Borrow;

use crate::wire::Name;

const TERMINATOR: u8 = 0x00;
const ESCAPE: u8 = 0x01;

/// The canonical-order key of a [`Name`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key(Box<[u8]>);

impl Key {
    pub(crate) fn of(name: &Name) -> Key {
        let labels: Vec<&[u8]> = name.labels().collect();
        let mut bytes = Vec::with_capacity(name.wire_len() + 8);
        for label in labels.iter().rev() {
            for &b in label.iter() {
                match b.to_ascii_lowercase() {
                    low @ (0x00 | 0x01) => bytes.extend_from_slice(&[ESCAPE, low + 1]),
                    other => bytes.push(other),
                }
            }
            bytes.push(TERMINATOR);
        }
        Key(bytes.into_boxed_slice())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key lengths of the name's ancestors, from the root (0) down to the name itself:
    /// entry `n` is the key of the suffix with `n` labels.
    pub(crate) fn ancestor_lengths(&self) -> Vec<usize> {
        let ends = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == TERMINATOR)
            .map(|(at, _)| at + 1);
        std::iter::once(0).chain(ends).collect()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key::of(&Name::from_ascii(text).unwrap())
    }

    #[test]
    fn byte_order_is_canonical_order() {
        // RFC 4034 §6.1's example, in order, plus escaped low bytes.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let parsed: Vec<Name> = names.iter().map(|n| Name::from_ascii(n).unwrap()).collect();
        for pair in parsed.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!(Key::of(a).cmp(&Key::of(b)), a.cmp(b), "{a} vs {b}");
            assert!(Key::of(a) < Key::of(b), "{a} < {b}");
        }
        let zero = Name::from_labels([&[0u8][..], b"x"]).unwrap();
        let one = Name::from_labels([&[1u8][..], b"x"]).unwrap();
        let zero_two = Name::from_labels([&[0u8, 2][..], b"x"]).unwrap();
        let two = Name::from_labels([&[2u8][..], b"x"]).unwrap();
        let ordered = [&zero, &zero_two, &one, &two];
        for pair in ordered.windows(2) {
            assert!(Key::of(pair[0]) < Key::of(pair[1]));
            assert!(pair[0] < pair[1]);
        }
    }

    #[test]
    fn ancestors_are_prefixes() {
        let full = key("www.Example.com.");
        let lengths = full.ancestor_lengths();
        assert_eq!(lengths.len(), 4);
        assert_eq!(&full.as_bytes()[..lengths[0]], key(".").as_bytes());
        assert_eq!(
            &full.as_bytes()[..lengths[2]],
            key("example.com.").as_bytes()
        );
        assert_eq!(&full.as_bytes()[..lengths[3]], full.as_bytes());
        assert_eq!(key("WWW.example.COM."), full);
    }
}
