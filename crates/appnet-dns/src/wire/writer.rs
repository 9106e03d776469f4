//! Builds a message in a `Vec<u8>`, compressing names, with a size budget for truncation.
//!
//! RFC 1035 §4.1.4 (compression: a name, or a suffix of it, replaced by a pointer to an earlier
//! occurrence at an offset below 0x4000). Which names may be compressed is the caller's choice:
//! RFC 3597 §4 limits it to the owner, the question and the RDATA names of the RFC 1035 types.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use super::name::Name;

/// Pointers carry 14 bits of offset.
const MAX_POINTER_TARGET: usize = 0x3fff;

/// A position to roll back to when what was written since does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(usize);

/// A message under construction.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    /// Lower-cased wire form of every suffix written compressibly → its offset. Lower-cased
    /// because names compare without case, as BIND and NSD compress. Fx hashing: the keys are
    /// our own output, so a hash-flooding defence buys nothing and SipHash costs time per name.
    suffixes: HashMap<Box<[u8]>, u16, BuildHasherDefault<FxHasher>>,
    /// Reused for the lower-cased form of each suffix looked up, so lookups do not allocate.
    scratch: Vec<u8>,
    max_size: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// A writer without a size budget (other than the 65,535 bytes a message can have).
    pub fn new() -> Self {
        Self::with_max_size(usize::from(u16::MAX))
    }

    /// A writer whose [`Writer::fits`] turns false past `max_size` bytes.
    pub fn with_max_size(max_size: usize) -> Self {
        Self {
            buf: Vec::with_capacity(max_size.min(512)),
            suffixes: HashMap::default(),
            scratch: Vec::new(),
            max_size,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Whether everything written so far is within the budget.
    pub fn fits(&self) -> bool {
        self.buf.len() <= self.max_size
    }

    pub fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub fn u16(&mut self, value: u16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub fn u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// RFC 1035 §3.3: a length byte and up to 255 bytes. Longer input is cut at 255; callers
    /// split or validate first (see `RData::validate`).
    pub fn character_string(&mut self, bytes: &[u8]) {
        let bytes = bytes.get(..255).unwrap_or(bytes);
        // At most 255 after the cut above.
        self.u8(bytes.len() as u8);
        self.bytes(bytes);
    }

    /// Writes a name; with `compress`, reuses an earlier suffix and offers this name's suffixes
    /// to later names.
    pub fn name(&mut self, name: &Name, compress: bool) {
        let mut rest = name.wire_labels();
        while let Some(&len) = rest.first() {
            if compress && self.point_to_earlier(rest) {
                return;
            }
            let label_end = (usize::from(len) + 1).min(rest.len());
            let (label, tail) = rest.split_at(label_end);
            self.bytes(label);
            rest = tail;
        }
        self.u8(0);
    }

    /// Writes a pointer to `suffix` if it was written before and returns true; otherwise
    /// remembers that it starts at the current offset, for later names, and returns false.
    fn point_to_earlier(&mut self, suffix: &[u8]) -> bool {
        self.scratch.clear();
        self.scratch
            .extend(suffix.iter().map(u8::to_ascii_lowercase));
        if let Some(&offset) = self.suffixes.get(&self.scratch[..]) {
            self.u16(0xc000 | offset);
            return true;
        }
        if self.buf.len() <= MAX_POINTER_TARGET {
            // Checked just above: the offset fits 14 bits.
            let offset = self.buf.len() as u16;
            self.suffixes.insert(self.scratch.as_slice().into(), offset);
        }
        false
    }

    /// Overwrites two bytes written earlier (RDLENGTH, counts); out-of-range offsets are ignored.
    pub fn patch_u16(&mut self, offset: usize, value: u16) {
        if let Some(slot) = self.buf.get_mut(offset..offset + 2) {
            slot.copy_from_slice(&value.to_be_bytes());
        }
    }

    pub fn mark(&self) -> Mark {
        Mark(self.buf.len())
    }

    /// Forgets everything written since `mark`, including compression targets inside it.
    pub fn rollback(&mut self, mark: Mark) {
        let Mark(len) = mark;
        self.buf.truncate(len);
        self.suffixes.retain(|_, offset| usize::from(*offset) < len);
    }

    /// Bytes written since `mark`.
    pub fn written_since(&self, mark: Mark) -> usize {
        self.buf.len().saturating_sub(mark.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::reader::Reader;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn compresses_suffixes_case_insensitively() {
        let mut w = Writer::new();
        w.bytes(&[0; 12]);
        w.name(&name("www.example.com."), true);
        w.name(&name("mail.EXAMPLE.com."), true);
        w.name(&name("www.example.com."), true);
        w.name(&name("example.com."), false);
        let bytes = w.into_bytes();
        assert_eq!(
            bytes.get(12..).unwrap(),
            b"\x03www\x07example\x03com\x00\x04mail\xc0\x10\xc0\x0c\x07example\x03com\x00"
        );
        let mut r = Reader::at(&bytes, 29);
        assert_eq!(r.name().unwrap().to_string(), "mail.example.com.");
    }

    #[test]
    fn rollback_forgets_targets() {
        let mut w = Writer::new();
        w.bytes(&[0; 12]);
        let mark = w.mark();
        w.name(&name("example.com."), true);
        w.rollback(mark);
        assert_eq!(w.len(), 12);
        w.name(&name("example.com."), true);
        assert_eq!(w.len(), 12 + 13);
    }

    #[test]
    fn no_pointer_targets_beyond_14_bits() {
        let mut w = Writer::new();
        w.bytes(&vec![0; 0x4000]);
        w.name(&name("example.com."), true);
        let len = w.len();
        w.name(&name("example.com."), true);
        assert_eq!(w.len() - len, 13);
    }

    #[test]
    fn budget_and_patch() {
        let mut w = Writer::with_max_size(3);
        w.u16(0);
        assert!(w.fits());
        w.u16(0xabcd);
        assert!(!w.fits());
        w.patch_u16(0, 0x1234);
        w.patch_u16(3, 1);
        assert_eq!(w.as_bytes(), &[0x12, 0x34, 0xab, 0xcd]);
        let mut w = Writer::new();
        w.character_string(&[b'x'; 300]);
        assert_eq!(w.len(), 256);
    }
}
