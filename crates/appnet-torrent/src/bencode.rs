//! Bencoding (BEP 3): integers `i42e`, byte strings `4:spam`, lists `l…e` and dictionaries
//! `d…e` whose keys are byte strings in sorted order.
//!
//! The decoder is strict, because an info-hash is computed over the exact bytes of the info
//! dictionary and two encodings of one value would give two hashes: integers without leading
//! zeros or `-0`, string lengths without leading zeros, keys sorted and unique. It is also
//! bounded: nesting deeper than [`MAX_DEPTH`] is refused (no stack overflow), and nothing is
//! allocated beyond a vector slot per item actually present in the input.
//!
//! Decoded values borrow from the input; a dictionary keeps its exact encoded bytes
//! ([`Dict::raw`]) for hashing. [`Owned`] builds values to encode, with keys sorted by its map.

use std::collections::BTreeMap;

use thiserror::Error;

/// Lists and dictionaries nested deeper than this are refused.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(Dict<'a>),
}

/// A dictionary, its entries in the (sorted) order of the input, and its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dict<'a> {
    pub entries: Vec<(&'a [u8], Value<'a>)>,
    /// The exact bytes of this dictionary in the input, `d` to `e`.
    pub raw: &'a [u8],
}

impl<'a> Dict<'a> {
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .binary_search_by(|(k, _)| k.cmp(&key.as_bytes()))
            .ok()
            .map(|at| &self.entries[at].1)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }

    pub fn bytes(&self, key: &str) -> Option<&'a [u8]> {
        self.get(key).and_then(Value::as_bytes)
    }

    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.bytes(key).and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn dict(&self, key: &str) -> Option<&Dict<'a>> {
        self.get(key).and_then(Value::as_dict)
    }

    pub fn list(&self, key: &str) -> Option<&[Value<'a>]> {
        self.get(key).and_then(Value::as_list)
    }
}

impl<'a> Value<'a> {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(dict) => Some(dict),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BencodeError {
    #[error("the input ends inside a value")]
    Truncated,
    #[error("unexpected byte {byte:#04x} at offset {at}")]
    Unexpected { byte: u8, at: usize },
    #[error("integer at offset {0} is not canonical (leading zero, -0 or empty)")]
    NonCanonicalInt(usize),
    #[error("integer at offset {0} does not fit in 64 bits")]
    IntOverflow(usize),
    #[error("string length at offset {0} is not canonical or too large")]
    BadLength(usize),
    #[error("dictionary key at offset {0} is out of order or repeated")]
    UnsortedKey(usize),
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("{0} bytes after the value")]
    TrailingBytes(usize),
}

/// Decodes exactly one value that fills all of `input`.
pub fn decode(input: &[u8]) -> Result<Value<'_>, BencodeError> {
    let (value, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(BencodeError::TrailingBytes(input.len() - used));
    }
    Ok(value)
}

/// Decodes one value from the start of `input`; the value and the bytes it took.
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), BencodeError> {
    let mut decoder = Decoder { input, at: 0 };
    let value = decoder.value(0)?;
    Ok((value, decoder.at))
}

struct Decoder<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.input
            .get(self.at)
            .copied()
            .ok_or(BencodeError::Truncated)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, BencodeError> {
        match self.peek()? {
            b'i' => {
                self.at += 1;
                let n = self.int_until(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            b'l' => {
                if depth >= MAX_DEPTH {
                    return Err(BencodeError::TooDeep);
                }
                self.at += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.at += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                if depth >= MAX_DEPTH {
                    return Err(BencodeError::TooDeep);
                }
                let start = self.at;
                self.at += 1;
                let mut entries: Vec<(&'a [u8], Value<'a>)> = Vec::new();
                while self.peek()? != b'e' {
                    let key_at = self.at;
                    if !self.peek()?.is_ascii_digit() {
                        return Err(BencodeError::Unexpected {
                            byte: self.peek()?,
                            at: self.at,
                        });
                    }
                    let key = self.bytes()?;
                    if entries.last().is_some_and(|(last, _)| *last >= key) {
                        return Err(BencodeError::UnsortedKey(key_at));
                    }
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                self.at += 1;
                Ok(Value::Dict(Dict {
                    entries,
                    raw: &self.input[start..self.at],
                }))
            }
            byte => Err(BencodeError::Unexpected { byte, at: self.at }),
        }
    }

    /// A decimal integer up to `end`, canonical: `0`, or an optional `-` and digits without
    /// a leading zero (and not `-0`).
    fn int_until(&mut self, end: u8) -> Result<i64, BencodeError> {
        let start = self.at;
        let rest = &self.input[start..];
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(BencodeError::Truncated)?;
        let text = &rest[..len];
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && !(text.starts_with(b"-") && digits == b"0");
        if !canonical {
            return Err(BencodeError::NonCanonicalInt(start));
        }
        let value = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(BencodeError::IntOverflow(start))?;
        self.at = start + len + 1;
        Ok(value)
    }

    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let start = self.at;
        let len = self
            .int_until(b':')
            .map_err(|_| BencodeError::BadLength(start))?;
        let len = usize::try_from(len).map_err(|_| BencodeError::BadLength(start))?;
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.input.len())
            .ok_or(BencodeError::Truncated)?;
        let bytes = &self.input[self.at..end];
        self.at = end;
        Ok(bytes)
    }
}

/// A value to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Owned>),
    /// Sorted by key, as bencoding requires.
    Dict(BTreeMap<Vec<u8>, Owned>),
}

impl Owned {
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Owned {
        Owned::Bytes(bytes.into())
    }

    /// A dictionary from `(key, value)` pairs.
    pub fn dict<K: Into<Vec<u8>>>(entries: impl IntoIterator<Item = (K, Owned)>) -> Owned {
        Owned::Dict(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Owned::Int(n) => {
                out.push(b'i');
                out.extend_from_slice(n.to_string().as_bytes());
                out.push(b'e');
            }
            Owned::Bytes(bytes) => encode_bytes(bytes, out),
            Owned::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Owned::Dict(entries) => {
                out.push(b'd');
                for (key, value) in entries {
                    encode_bytes(key, out);
                    value.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

impl From<&Value<'_>> for Owned {
    fn from(value: &Value<'_>) -> Owned {
        match value {
            Value::Int(n) => Owned::Int(*n),
            Value::Bytes(b) => Owned::Bytes(b.to_vec()),
            Value::List(items) => Owned::List(items.iter().map(Owned::from).collect()),
            Value::Dict(dict) => Owned::Dict(
                dict.entries
                    .iter()
                    .map(|(k, v)| (k.to_vec(), Owned::from(v)))
                    .collect(),
            ),
        }
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn decodes_bep_3_examples() {
        assert_eq!(decode(b"4:spam").unwrap(), Value::Bytes(b"spam"));
        assert_eq!(decode(b"i3e").unwrap(), Value::Int(3));
        assert_eq!(decode(b"i-3e").unwrap(), Value::Int(-3));
        assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
        assert_eq!(
            decode(b"l4:spam4:eggse").unwrap(),
            Value::List(vec![Value::Bytes(b"spam"), Value::Bytes(b"eggs")])
        );
        let dict = decode(b"d3:cow3:moo4:spam4:eggse").unwrap();
        let dict = dict.as_dict().unwrap();
        assert_eq!(dict.str("cow"), Some("moo"));
        assert_eq!(dict.str("spam"), Some("eggs"));
        assert_eq!(dict.raw, b"d3:cow3:moo4:spam4:eggse");
        assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
    }

    #[test]
    fn refuses_every_non_canonical_form() {
        for bad in [
            &b"i03e"[..],
            b"i-0e",
            b"ie",
            b"i-e",
            b"i1",
            b"03:abc",
            b"4:abc",
            b"d4:spam4:eggs3:cow3:mooe",
            b"d3:cow3:moo3:cow3:mooe",
            b"di1e3:mooe",
            b"l",
            b"i99999999999999999999e",
            b"x",
            b"i1ei2e",
            b"-1:",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = [vec![b'l'; 100_000], vec![b'e'; 100_000]].concat();
        assert_eq!(decode(&deep), Err(BencodeError::TooDeep));
        let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
        assert!(decode(&ok).is_ok());
    }

    fn owned() -> impl Strategy<Value = Owned> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Owned::Int),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Owned::Bytes),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Owned::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..6
                )
                .prop_map(Owned::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn encoding_round_trips_exactly(value in owned()) {
            let bytes = value.encode();
            let decoded = decode(&bytes).unwrap();
            prop_assert_eq!(Owned::from(&decoded), value);
        }

        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(value) = decode(&bytes) {
                prop_assert_eq!(Owned::from(&value).encode(), bytes);
            }
        }
    }
}
