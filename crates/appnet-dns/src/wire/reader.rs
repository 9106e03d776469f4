//! A bounds-checked cursor over a received message, and name decompression.
//!
//! RFC 1035 §4.1.4 (message compression) and §3.1 (name wire form). Every read checks its length
//! first and reports the offset where input ran out; nothing is allocated from a length the peer
//! sent without the bytes being there.

use super::error::WireError;
use super::name::{MAX_NAME_LEN, Name};

/// More pointers than this in one name is an attack, not an encoder: even a 255-octet name made
/// of one-byte labels, each behind its own pointer, needs fewer.
pub const MAX_POINTER_HOPS: usize = 128;

/// A cursor over a whole message. Sequential reads stop at `end` (the end of the message, or of
/// the RDATA being read); compression pointers may reach anywhere before the cursor.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// A reader over the whole of `buf` positioned at `pos` (clamped to the end).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Self {
            buf,
            pos: pos.min(buf.len()),
            end: buf.len(),
        }
    }

    /// Offset of the next byte, from the start of the message.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left before `end`.
    pub fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self.bytes(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated {
                at: self.pos,
                needed: n - self.remaining(),
            });
        }
        let bytes = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(WireError::Truncated {
                at: self.pos,
                needed: n,
            })?;
        self.pos += n;
        Ok(bytes)
    }

    /// Everything up to `end`.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..self.end).unwrap_or_default();
        self.pos = self.end.max(self.pos);
        rest
    }

    /// RFC 1035 §3.3: a length byte and that many bytes.
    pub fn character_string(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u8()?;
        self.bytes(usize::from(len))
    }

    /// A reader over the next `len` bytes (an RDATA), sharing the whole message so pointers
    /// resolve; `self` moves past them.
    pub fn sub(&mut self, len: usize) -> Result<Reader<'a>, WireError> {
        let start = self.pos;
        self.bytes(len)?;
        Ok(Reader {
            buf: self.buf,
            pos: start,
            end: start + len,
        })
    }

    /// Reads a possibly compressed name.
    ///
    /// Safety rules against crafted pointers: every pointer must land strictly before the point
    /// where the name (or the previous pointer's target) began, so each jump goes further back
    /// and no sequence of pointers can revisit a byte; on top of that at most
    /// [`MAX_POINTER_HOPS`] jumps, and at most 255 octets in the result.
    pub fn name(&mut self) -> Result<Name, WireError> {
        let start = self.pos;
        let mut name = Name::root();
        let mut wire_len = 1;
        let mut pos = self.pos;
        // Before the first jump labels must lie inside this reader's window; after it, anywhere
        // before the pointer in the message.
        let mut window = self.buf.get(..self.end).unwrap_or_default();
        let mut limit = start;
        let mut resume = None;
        let mut hops = 0;
        loop {
            let &len = window
                .get(pos)
                .ok_or(WireError::Truncated { at: pos, needed: 1 })?;
            match len >> 6 {
                0 if len == 0 => {
                    pos += 1;
                    break;
                }
                0 => {
                    let label = window.get(pos + 1..pos + 1 + usize::from(len)).ok_or(
                        WireError::Truncated {
                            at: pos + 1,
                            needed: (pos + 1 + usize::from(len)).saturating_sub(window.len()),
                        },
                    )?;
                    wire_len += label.len() + 1;
                    if wire_len > MAX_NAME_LEN {
                        return Err(WireError::NameTooLong { at: start });
                    }
                    name.push_label(label)
                        .map_err(|_| WireError::NameTooLong { at: start })?;
                    pos += 1 + label.len();
                }
                3 => {
                    let &low = window.get(pos + 1).ok_or(WireError::Truncated {
                        at: pos + 1,
                        needed: 1,
                    })?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    check_pointer(pos, target, limit)?;
                    hops += 1;
                    if hops > MAX_POINTER_HOPS {
                        return Err(WireError::TooManyPointers {
                            at: start,
                            max: MAX_POINTER_HOPS,
                        });
                    }
                    resume.get_or_insert(pos + 2);
                    limit = target;
                    pos = target;
                    window = self.buf;
                }
                _ => return Err(WireError::BadLabelType { at: pos, byte: len }),
            }
        }
        self.pos = resume.unwrap_or(pos);
        Ok(name)
    }
}

/// A pointer at `at` may only go to an offset before `limit`.
fn check_pointer(at: usize, target: usize, limit: usize) -> Result<(), WireError> {
    if target < limit {
        Ok(())
    } else if target > at {
        Err(WireError::ForwardPointer { at, target })
    } else {
        Err(WireError::PointerLoop { at, target })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_truncation() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x0203));
        assert_eq!(r.u16(), Ok(0x0405));
        assert_eq!(r.u32(), Err(WireError::Truncated { at: 5, needed: 2 }));
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.bytes(2), Ok(&[6, 7][..]));
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(WireError::Truncated { at: 7, needed: 1 }));
    }

    #[test]
    fn sub_reader_bounds_sequential_reads() {
        let buf = [1, 2, 3, 4];
        let mut r = Reader::new(&buf);
        let mut sub = r.sub(2).unwrap();
        assert_eq!(r.position(), 2);
        assert_eq!(sub.u16(), Ok(0x0102));
        assert!(sub.u8().is_err());
        assert!(r.sub(3).is_err());
    }

    /// RFC 1035 §4.1.4: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40 pointing to 20, ARPA at 64 as a
    /// pointer to 26, and the root at 92.
    #[test]
    fn rfc1035_compression_example() {
        let mut buf = vec![0xee; 100];
        let isi = b"\x01F\x03ISI\x04ARPA\x00";
        buf[20..20 + isi.len()].copy_from_slice(isi);
        buf[40..46].copy_from_slice(b"\x03FOO\xc0\x14");
        buf[64..66].copy_from_slice(b"\xc0\x1a");
        buf[92] = 0;
        let read = |at: usize| {
            let mut r = Reader::at(&buf, at);
            let name = r.name().unwrap();
            (name.to_string(), r.position())
        };
        assert_eq!(read(20), ("F.ISI.ARPA.".to_owned(), 32));
        assert_eq!(read(40), ("FOO.F.ISI.ARPA.".to_owned(), 46));
        assert_eq!(read(64), ("ARPA.".to_owned(), 66));
        assert_eq!(read(92), (".".to_owned(), 93));
    }

    fn name_at_12(tail: &[u8]) -> Result<Name, WireError> {
        let mut buf = vec![0; 12];
        buf.extend_from_slice(tail);
        Reader::at(&buf, 12).name()
    }

    #[test]
    fn hostile_names() {
        assert_eq!(
            name_at_12(b"\xc0\x0c"),
            Err(WireError::PointerLoop { at: 12, target: 12 })
        );
        assert_eq!(
            name_at_12(b"\x01a\xc0\x0c"),
            Err(WireError::PointerLoop { at: 14, target: 12 })
        );
        assert_eq!(
            name_at_12(b"\xc0\x10\x00\x00\x00"),
            Err(WireError::ForwardPointer { at: 12, target: 16 })
        );
        assert_eq!(
            name_at_12(b"\x40aaaa"),
            Err(WireError::BadLabelType { at: 12, byte: 0x40 })
        );
        assert_eq!(
            name_at_12(b"\x80"),
            Err(WireError::BadLabelType { at: 12, byte: 0x80 })
        );
        assert_eq!(
            name_at_12(b"\x03ab"),
            Err(WireError::Truncated { at: 13, needed: 1 })
        );
        assert_eq!(
            name_at_12(b"\xc0"),
            Err(WireError::Truncated { at: 13, needed: 1 })
        );
        assert_eq!(
            name_at_12(b"\x01a"),
            Err(WireError::Truncated { at: 14, needed: 1 })
        );
    }

    #[test]
    fn name_length_limit() {
        // 3 × 64 + 63 + 1 = 256 octets: one too many.
        let mut tail = Vec::new();
        for len in [63u8, 63, 63, 62] {
            tail.push(len);
            tail.extend(std::iter::repeat_n(b'x', usize::from(len)));
        }
        tail.push(0);
        assert_eq!(name_at_12(&tail), Err(WireError::NameTooLong { at: 12 }));
        // One byte shorter is the longest legal name.
        tail[3 * 64] = 61;
        tail.remove(3 * 64 + 1);
        assert_eq!(name_at_12(&tail).map(|n| n.wire_len()), Ok(255));
    }

    #[test]
    fn chained_pointers_are_followed_and_counted() {
        // "a" at 12, "b" + ptr→12 at 15, "c" + ptr→15 at 19, ptr→19 at 23.
        let tail = b"\x01a\x00\x01b\xc0\x0c\x01c\xc0\x0f\xc0\x13";
        let mut buf = vec![0; 12];
        buf.extend_from_slice(tail);
        let mut r = Reader::at(&buf, 23);
        assert_eq!(r.name().unwrap().to_string(), "c.b.a.");
        assert_eq!(r.position(), 25);
    }

    #[test]
    fn pointer_from_rdata_window_reaches_whole_message() {
        let buf = b"\x01a\x00\xc0\x00";
        let mut r = Reader::new(buf);
        r.bytes(3).unwrap();
        let mut rdata = r.sub(2).unwrap();
        assert_eq!(rdata.name().unwrap().to_string(), "a.");
        assert!(rdata.is_empty());
        // Labels themselves may not run past the window.
        let buf = b"\x01a\x00";
        let mut r = Reader::new(buf);
        let mut rdata = r.sub(2).unwrap();
        assert!(rdata.name().is_err());
    }
}
