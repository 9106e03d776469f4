//! The peer wire protocol, sans-IO: BEP 3 "peer protocol" (the handshake and the
//! length-prefixed messages), BEP 5's `port`, BEP 6 "Fast Extension" (have all/none, suggest,
//! reject, allowed fast, and the allowed-fast set) and BEP 10 "Extension Protocol" (the
//! extended message and its handshake).
//!
//! Both decoders are streaming and bounded: bytes go in as they arrive, in any cuts, and every
//! length is checked against the largest legal message before the body is waited for, so a
//! hostile length prefix costs nothing. The [`MessageDecoder`] knows the torrent's piece count
//! and refuses a `have` or a request for a piece that does not exist and a bitfield of the wrong
//! size or with spare bits set. What it cannot know — whether a request fits its piece
//! ([`crate::metainfo::Info::block_spans`] tells), whether the Fast extension was negotiated —
//! is the session's to check. After an error the connection must be dropped; the decoder keeps
//! returning the error.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use sha1::{Digest, Sha1};
use thiserror::Error;

use crate::bencode::{self, BencodeError, Owned, Value};
use crate::metainfo::{InfoHash, MAX_PIECES};

/// BEP 3: the handshake starts with the byte 19 and this string.
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
/// The handshake: 1 + 19 + 8 reserved + 20 info-hash + 20 peer id.
pub const HANDSHAKE_LEN: usize = 68;
/// The block size every client requests (BEP 3: "2^14 (16 kiB)").
pub const BLOCK_LEN: u32 = 16 * 1024;
/// The largest block accepted in a request or a piece: some clients ask for more than 16 KiB,
/// none for more than this.
pub const MAX_BLOCK_LEN: u32 = 128 * 1024;
/// The largest length prefix accepted (a `piece` message of [`MAX_BLOCK_LEN`]), unless the
/// torrent's bitfield is longer.
pub const MAX_MESSAGE_LEN: u32 = 9 + MAX_BLOCK_LEN;
/// BEP 10: extended message id 0 is the extended handshake.
pub const EXTENDED_HANDSHAKE: u8 = 0;
/// At most this many extensions in an extended handshake's `m`.
pub const MAX_EXTENSIONS: usize = 128;

/// The first 20 bytes of every handshake.
const PREFIX: &[u8; 20] = b"\x13BitTorrent protocol";

/// Message ids (BEP 3, BEP 5, BEP 6, BEP 10).
mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 0x0D;
    pub const HAVE_ALL: u8 = 0x0E;
    pub const HAVE_NONE: u8 = 0x0F;
    pub const REJECT: u8 = 0x10;
    pub const ALLOWED_FAST: u8 = 0x11;
    pub const EXTENDED: u8 = 20;
}

/// A 20-byte peer id (BEP 3; BEP 20 describes the usual `-XX0000-` client prefix).
pub type PeerId = [u8; 20];

/// Which rule the peer broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("not a BitTorrent handshake")]
    BadProtocol,
    #[error("length prefix {0} is larger than any legal message")]
    TooLong(u32),
    #[error("unknown message id {0}")]
    UnknownId(u8),
    #[error("message id {id} cannot be {length} bytes long")]
    BadLength { id: u8, length: u32 },
    #[error("piece {index} does not exist")]
    NoSuchPiece { index: u32 },
    #[error("a block of {0} bytes (1 to {MAX_BLOCK_LEN} allowed)")]
    BadBlockLength(u32),
    #[error("bitfield has spare bits set")]
    SpareBits,
    #[error("bitfield is {got} bytes, {expected} expected")]
    BitfieldLength { got: usize, expected: usize },
    #[error("extended handshake: {0}")]
    ExtendedHandshake(&'static str),
    #[error("extended handshake is not bencoded: {0}")]
    Bencode(#[from] BencodeError),
}

/// The 8 reserved handshake bytes, where extensions announce themselves.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// BEP 10: `reserved[5] & 0x10`.
    const EXTENDED: (usize, u8) = (5, 0x10);
    /// BEP 6: `reserved[7] & 0x04`.
    const FAST: (usize, u8) = (7, 0x04);

    /// What we speak: the Fast extension and the extension protocol.
    pub fn ours() -> Reserved {
        Reserved::default().with_fast().with_extended()
    }

    pub fn fast(&self) -> bool {
        self.bit(Self::FAST)
    }

    pub fn extended(&self) -> bool {
        self.bit(Self::EXTENDED)
    }

    pub fn with_fast(self) -> Reserved {
        self.with(Self::FAST)
    }

    pub fn with_extended(self) -> Reserved {
        self.with(Self::EXTENDED)
    }

    fn bit(&self, (byte, mask): (usize, u8)) -> bool {
        self.0.get(byte).is_some_and(|b| b & mask != 0)
    }

    fn with(mut self, (byte, mask): (usize, u8)) -> Reserved {
        if let Some(b) = self.0.get_mut(byte) {
            *b |= mask;
        }
        self
    }
}

impl fmt::Debug for Reserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Reserved({:02x?}, fast: {}, extended: {})",
            self.0,
            self.fast(),
            self.extended()
        )
    }
}

/// BEP 3 handshake: `\x13BitTorrent protocol`, reserved bytes, info-hash, peer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: Reserved,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
}

impl Handshake {
    /// Our handshake, announcing the Fast extension and the extension protocol.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Handshake {
        Handshake {
            reserved: Reserved::ours(),
            info_hash,
            peer_id,
        }
    }

    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[..20].copy_from_slice(PREFIX);
        out[20..28].copy_from_slice(&self.reserved.0);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..].copy_from_slice(&self.peer_id);
        out
    }
}

/// Gathers a handshake from bytes in any cuts; fails at the first byte that is not the
/// protocol string.
#[derive(Debug, Clone)]
pub struct HandshakeDecoder {
    buffer: [u8; HANDSHAKE_LEN],
    filled: usize,
}

impl Default for HandshakeDecoder {
    fn default() -> Self {
        HandshakeDecoder::new()
    }
}

impl HandshakeDecoder {
    pub fn new() -> HandshakeDecoder {
        HandshakeDecoder {
            buffer: [0; HANDSHAKE_LEN],
            filled: 0,
        }
    }

    /// Takes what it needs of `input`: returns how many bytes it took and, once all 68 are
    /// in, the handshake. Bytes after the handshake are messages: give them to a
    /// [`MessageDecoder`]. Once complete, it takes nothing more and returns the handshake again.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Handshake>), WireError> {
        let take = (HANDSHAKE_LEN - self.filled).min(input.len());
        let (taken, _) = input.split_at(take);
        self.buffer[self.filled..self.filled + take].copy_from_slice(taken);
        self.filled += take;
        let seen = self.filled.min(PREFIX.len());
        if self.buffer[..seen] != PREFIX[..seen] {
            return Err(WireError::BadProtocol);
        }
        Ok((take, self.handshake()))
    }

    /// The info-hash, as soon as its 20 bytes are in: the receiving side needs it to pick the
    /// torrent (and answer with its own handshake) before the peer id arrives.
    pub fn info_hash(&self) -> Option<InfoHash> {
        (self.filled >= 48).then(|| InfoHash(array(&self.buffer[28..48])))
    }

    fn handshake(&self) -> Option<Handshake> {
        (self.filled == HANDSHAKE_LEN).then(|| Handshake {
            reserved: Reserved(array(&self.buffer[20..28])),
            info_hash: InfoHash(array(&self.buffer[28..48])),
            peer_id: array(&self.buffer[48..68]),
        })
    }
}

/// A fixed-size copy of `bytes`, which the callers size exactly.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

/// A block: `length` bytes at `begin` in piece `index` (request, cancel, reject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

/// A peer wire message (BEP 3, with BEP 5's port, BEP 6 and BEP 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Bitfield),
    Request(BlockRequest),
    Piece {
        index: u32,
        begin: u32,
        block: Vec<u8>,
    },
    Cancel(BlockRequest),
    /// BEP 5: the sender's DHT port.
    Port(u16),
    /// BEP 6.
    Suggest(u32),
    HaveAll,
    HaveNone,
    Reject(BlockRequest),
    AllowedFast(u32),
    /// BEP 10: `id` 0 is the extended handshake, others are what the receiver's `m` assigned.
    Extended {
        id: u8,
        payload: Vec<u8>,
    },
}

impl Message {
    /// Appends the message with its length prefix.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Message::KeepAlive => out.extend_from_slice(&0u32.to_be_bytes()),
            Message::Choke => header(out, id::CHOKE, 0),
            Message::Unchoke => header(out, id::UNCHOKE, 0),
            Message::Interested => header(out, id::INTERESTED, 0),
            Message::NotInterested => header(out, id::NOT_INTERESTED, 0),
            Message::HaveAll => header(out, id::HAVE_ALL, 0),
            Message::HaveNone => header(out, id::HAVE_NONE, 0),
            Message::Have(index) => with_index(out, id::HAVE, *index),
            Message::Suggest(index) => with_index(out, id::SUGGEST, *index),
            Message::AllowedFast(index) => with_index(out, id::ALLOWED_FAST, *index),
            Message::Request(block) => with_block(out, id::REQUEST, block),
            Message::Cancel(block) => with_block(out, id::CANCEL, block),
            Message::Reject(block) => with_block(out, id::REJECT, block),
            Message::Bitfield(bits) => {
                header(out, id::BITFIELD, bits.as_bytes().len());
                out.extend_from_slice(bits.as_bytes());
            }
            Message::Piece {
                index,
                begin,
                block,
            } => {
                out.extend_from_slice(&piece_header(*index, *begin, block.len()));
                out.extend_from_slice(block);
            }
            Message::Port(port) => {
                header(out, id::PORT, 2);
                out.extend_from_slice(&port.to_be_bytes());
            }
            Message::Extended { id: ext, payload } => {
                header(out, id::EXTENDED, 1 + payload.len());
                out.push(*ext);
                out.extend_from_slice(payload);
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// The message's name as BEP 3 and BEP 6 spell it, for traces.
    pub fn name(&self) -> &'static str {
        match self {
            Message::KeepAlive => "keep-alive",
            Message::Choke => "choke",
            Message::Unchoke => "unchoke",
            Message::Interested => "interested",
            Message::NotInterested => "not interested",
            Message::Have(_) => "have",
            Message::Bitfield(_) => "bitfield",
            Message::Request(_) => "request",
            Message::Piece { .. } => "piece",
            Message::Cancel(_) => "cancel",
            Message::Port(_) => "port",
            Message::Suggest(_) => "suggest piece",
            Message::HaveAll => "have all",
            Message::HaveNone => "have none",
            Message::Reject(_) => "reject request",
            Message::AllowedFast(_) => "allowed fast",
            Message::Extended { .. } => "extended",
        }
    }
}

impl fmt::Display for Message {
    /// One line for a trace: `request 3 @16384 +16384`, `bitfield 12/100`, `piece 3 @0 +16384`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => {
                write!(f, "{name} {i}")
            }
            Message::Bitfield(bits) => write!(f, "{name} {}/{}", bits.count(), bits.len()),
            Message::Request(b) | Message::Cancel(b) | Message::Reject(b) => {
                write!(f, "{name} {} @{} +{}", b.index, b.begin, b.length)
            }
            Message::Piece {
                index,
                begin,
                block,
            } => write!(f, "{name} {index} @{begin} +{}", block.len()),
            Message::Port(port) => write!(f, "{name} {port}"),
            Message::Extended { id, payload } => {
                write!(f, "{name} {id} ({} bytes)", payload.len())
            }
            _ => f.write_str(name),
        }
    }
}

/// The 13 bytes before a `piece` message's block, so a driver can send a block straight from
/// storage without copying it into a message.
pub fn piece_header(index: u32, begin: u32, block_len: usize) -> [u8; 13] {
    let mut out = [0u8; 13];
    out[..4].copy_from_slice(&length_prefix(9 + block_len).to_be_bytes());
    out[4] = id::PIECE;
    out[5..9].copy_from_slice(&index.to_be_bytes());
    out[9..].copy_from_slice(&begin.to_be_bytes());
    out
}

/// Messages we build are bounded by our own limits; one that overflows a u32 is a bug.
fn length_prefix(length: usize) -> u32 {
    u32::try_from(length).expect("a message is shorter than 4 GiB")
}

fn header(out: &mut Vec<u8>, id: u8, body: usize) {
    out.extend_from_slice(&length_prefix(1 + body).to_be_bytes());
    out.push(id);
}

fn with_index(out: &mut Vec<u8>, id: u8, index: u32) {
    header(out, id, 4);
    out.extend_from_slice(&index.to_be_bytes());
}

fn with_block(out: &mut Vec<u8>, id: u8, block: &BlockRequest) {
    header(out, id, 12);
    for field in [block.index, block.begin, block.length] {
        out.extend_from_slice(&field.to_be_bytes());
    }
}

/// Frames and decodes messages from bytes in any cuts, for a torrent of `piece_count` pieces.
#[derive(Debug, Clone)]
pub struct MessageDecoder {
    buffer: Vec<u8>,
    /// Where the next message starts in `buffer`.
    start: usize,
    piece_count: u32,
    max_length: u32,
}

impl MessageDecoder {
    /// A decoder for a torrent of `piece_count` pieces (at most [`MAX_PIECES`], as
    /// [`crate::metainfo::Metainfo::parse`] ensures).
    pub fn new(piece_count: u32) -> MessageDecoder {
        let bitfield = 1 + Bitfield::wire_len(piece_count.min(MAX_PIECES));
        MessageDecoder {
            buffer: Vec::new(),
            start: 0,
            piece_count,
            max_length: MAX_MESSAGE_LEN.max(length_prefix(bitfield)),
        }
    }

    /// Appends bytes read from the peer. Fails as soon as the next message's length prefix
    /// and id are in and do not fit together, before its body is waited for.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        // Only the unread tail of one message moves, at most one message long.
        self.buffer.drain(..self.start);
        self.start = 0;
        self.buffer.extend_from_slice(bytes);
        self.check_frame()
    }

    /// The next whole message, if one is buffered.
    pub fn next_message(&mut self) -> Result<Option<Message>, WireError> {
        self.check_frame()?;
        let pending = &self.buffer[self.start..];
        let Some(length) = be_u32(pending, 0) else {
            return Ok(None);
        };
        let end = usize::try_from(length).ok().and_then(|n| n.checked_add(4));
        let Some(body) = end.and_then(|end| pending.get(4..end)) else {
            return Ok(None);
        };
        let message = self.parse(body)?;
        self.start += 4 + body.len();
        Ok(Some(message))
    }

    /// Bytes received and not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }

    /// The length prefix and id of the next message, checked as soon as they are in.
    fn check_frame(&self) -> Result<(), WireError> {
        let pending = &self.buffer[self.start..];
        let Some(length) = be_u32(pending, 0) else {
            return Ok(());
        };
        if length > self.max_length {
            return Err(WireError::TooLong(length));
        }
        match pending.get(4) {
            Some(&id) if length > 0 => self.check_length(id, length),
            _ => Ok(()),
        }
    }

    /// Every message but `bitfield`, `piece` and `extended` has one fixed length.
    fn check_length(&self, id: u8, length: u32) -> Result<(), WireError> {
        let fits = match id {
            id::CHOKE | id::UNCHOKE | id::INTERESTED | id::NOT_INTERESTED => length == 1,
            id::HAVE_ALL | id::HAVE_NONE => length == 1,
            id::HAVE | id::SUGGEST | id::ALLOWED_FAST => length == 5,
            id::REQUEST | id::CANCEL | id::REJECT => length == 13,
            id::PORT => length == 3,
            id::BITFIELD => {
                let expected = Bitfield::wire_len(self.piece_count);
                let got = usize::try_from(length - 1).unwrap_or(usize::MAX);
                if got != expected {
                    return Err(WireError::BitfieldLength { got, expected });
                }
                true
            }
            id::PIECE => length > 9 && length - 9 <= MAX_BLOCK_LEN,
            id::EXTENDED => length >= 2,
            other => return Err(WireError::UnknownId(other)),
        };
        if fits {
            Ok(())
        } else {
            Err(WireError::BadLength { id, length })
        }
    }

    /// A whole message body (id and payload), its length already checked.
    fn parse(&self, body: &[u8]) -> Result<Message, WireError> {
        let Some((&id, payload)) = body.split_first() else {
            return Ok(Message::KeepAlive);
        };
        let field = |at: usize| be_u32(payload, at).ok_or(WireError::BadLength { id, length: 0 });
        Ok(match id {
            id::CHOKE => Message::Choke,
            id::UNCHOKE => Message::Unchoke,
            id::INTERESTED => Message::Interested,
            id::NOT_INTERESTED => Message::NotInterested,
            id::HAVE_ALL => Message::HaveAll,
            id::HAVE_NONE => Message::HaveNone,
            id::HAVE => Message::Have(self.piece(field(0)?)?),
            id::SUGGEST => Message::Suggest(self.piece(field(0)?)?),
            id::ALLOWED_FAST => Message::AllowedFast(self.piece(field(0)?)?),
            id::BITFIELD => Message::Bitfield(Bitfield::from_wire(payload, self.piece_count)?),
            id::REQUEST => Message::Request(self.block(field(0)?, field(4)?, field(8)?)?),
            id::CANCEL => Message::Cancel(self.block(field(0)?, field(4)?, field(8)?)?),
            id::REJECT => Message::Reject(self.block(field(0)?, field(4)?, field(8)?)?),
            id::PIECE => Message::Piece {
                index: self.piece(field(0)?)?,
                begin: field(4)?,
                block: payload.get(8..).unwrap_or_default().to_vec(),
            },
            id::PORT => Message::Port(u16::from_be_bytes([
                *payload.first().unwrap_or(&0),
                *payload.get(1).unwrap_or(&0),
            ])),
            id::EXTENDED => Message::Extended {
                id: *payload.first().unwrap_or(&0),
                payload: payload.get(1..).unwrap_or_default().to_vec(),
            },
            other => return Err(WireError::UnknownId(other)),
        })
    }

    fn piece(&self, index: u32) -> Result<u32, WireError> {
        if index < self.piece_count {
            Ok(index)
        } else {
            Err(WireError::NoSuchPiece { index })
        }
    }

    fn block(&self, index: u32, begin: u32, length: u32) -> Result<BlockRequest, WireError> {
        if length == 0 || length > MAX_BLOCK_LEN {
            return Err(WireError::BadBlockLength(length));
        }
        Ok(BlockRequest {
            index: self.piece(index)?,
            begin,
            length,
        })
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let field = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(array(field)))
}

/// Which pieces someone has. BEP 3: the high bit of the first byte is piece 0; spare bits at
/// the end are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    count: u32,
}

impl Bitfield {
    /// No pieces out of `len`.
    pub fn new(len: u32) -> Bitfield {
        Bitfield {
            bytes: vec![0; Bitfield::wire_len(len)],
            len,
            count: 0,
        }
    }

    /// All `len` pieces.
    pub fn full(len: u32) -> Bitfield {
        let mut bits = Bitfield::new(len);
        for index in 0..len {
            bits.set(index);
        }
        bits
    }

    /// How many bytes a bitfield of `len` pieces takes on the wire.
    pub fn wire_len(len: u32) -> usize {
        usize::try_from(len.div_ceil(8)).unwrap_or(usize::MAX)
    }

    /// A bitfield message's payload, for `len` pieces: exactly the right length, spare bits zero.
    pub fn from_wire(bytes: &[u8], len: u32) -> Result<Bitfield, WireError> {
        let expected = Bitfield::wire_len(len);
        if bytes.len() != expected {
            return Err(WireError::BitfieldLength {
                got: bytes.len(),
                expected,
            });
        }
        let spare = expected * 8 - usize::try_from(len).unwrap_or(0);
        if let Some(last) = bytes.last()
            && spare > 0
            && last & ((1u8 << spare) - 1) != 0
        {
            return Err(WireError::SpareBits);
        }
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            count: bytes.iter().map(|b| b.count_ones()).sum(),
        })
    }

    /// The bitfield message's payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of pieces it covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether it covers no pieces at all (see [`Bitfield::none`] for "has no pieces").
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many pieces are set.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn all(&self) -> bool {
        self.count == self.len
    }

    pub fn none(&self) -> bool {
        self.count == 0
    }

    /// Whether piece `index` is set (false beyond the end).
    pub fn get(&self, index: u32) -> bool {
        self.locate(index)
            .is_some_and(|(byte, mask)| self.bytes[byte] & mask != 0)
    }

    /// Sets piece `index`; true if it was not set before (false beyond the end).
    pub fn set(&mut self, index: u32) -> bool {
        let Some((byte, mask)) = self.locate(index) else {
            return false;
        };
        let was = self.bytes[byte] & mask != 0;
        self.bytes[byte] |= mask;
        if !was {
            self.count += 1;
        }
        !was
    }

    /// Clears piece `index`; true if it was set before.
    pub fn clear(&mut self, index: u32) -> bool {
        let Some((byte, mask)) = self.locate(index) else {
            return false;
        };
        let was = self.bytes[byte] & mask != 0;
        self.bytes[byte] &= !mask;
        if was {
            self.count -= 1;
        }
        was
    }

    /// The pieces set, in order.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.indices(true)
    }

    /// The pieces not set, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        self.indices(false)
    }

    /// Indices whose bit equals `wanted`, skipping whole bytes that hold none.
    fn indices(&self, wanted: bool) -> impl Iterator<Item = u32> + '_ {
        let boring = if wanted { 0x00 } else { 0xFF };
        let len = self.len;
        (0u32..)
            .zip(&self.bytes)
            .filter(move |(_, byte)| **byte != boring)
            .flat_map(move |(at, byte)| {
                (0..8u32)
                    .filter(move |bit| (byte & (0x80 >> bit) != 0) == wanted)
                    .map(move |bit| at * 8 + bit)
            })
            .filter(move |index| *index < len)
    }

    fn locate(&self, index: u32) -> Option<(usize, u8)> {
        (index < self.len).then(|| {
            let byte = usize::try_from(index / 8).unwrap_or(usize::MAX);
            (byte, 0x80u8 >> (index % 8))
        })
    }
}

/// BEP 6 "Allowed Fast": the `k` pieces a peer at `ip` may request while choked. The canonical
/// algorithm: hash the masked address and the info-hash with SHA-1, then keep re-hashing, each
/// hash giving five big-endian 32-bit numbers taken modulo the piece count, until `k` distinct
/// pieces are found. IPv4 is masked to its /24 so one network gets one set (as BEP 6 says);
/// BEP 6 does not define IPv6, for which we use the /64, the least one host is given.
pub fn allowed_fast_set(ip: IpAddr, info_hash: &InfoHash, piece_count: u32, k: u32) -> Vec<u32> {
    // With k ≥ piece_count the loop could never find k distinct pieces.
    let k = usize::try_from(k.min(piece_count)).unwrap_or(0);
    let mut x = match ip {
        IpAddr::V4(v4) => (u32::from(v4) & 0xFFFF_FF00).to_be_bytes().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    };
    x.extend_from_slice(&info_hash.0);
    let mut set = Vec::with_capacity(k);
    while set.len() < k {
        x = Sha1::digest(&x).to_vec();
        for chunk in x.chunks_exact(4) {
            if set.len() == k {
                break;
            }
            let index = u32::from_be_bytes(array(chunk)) % piece_count;
            if !set.contains(&index) {
                set.push(index);
            }
        }
    }
    set
}

/// BEP 10 extended handshake: the payload of extended message 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedHandshake {
    /// `m`: extension name → the id the sender wants to receive it under; 0 disables it.
    pub extensions: BTreeMap<String, u8>,
    /// `p`: the sender's listening port.
    pub listen_port: Option<u16>,
    /// `v`: the client's name and version.
    pub client: Option<String>,
    /// `reqq`: how many outstanding requests the sender queues without dropping them.
    pub reqq: Option<u32>,
    /// `yourip`: the receiver's address as the sender sees it.
    pub your_ip: Option<IpAddr>,
    /// BEP 9 `metadata_size`: the info dictionary's length.
    pub metadata_size: Option<u32>,
}

impl ExtendedHandshake {
    /// The id the sender assigned to extension `name`, if enabled.
    pub fn id_of(&self, name: &str) -> Option<u8> {
        self.extensions.get(name).copied().filter(|id| *id != 0)
    }

    /// The bencoded dictionary.
    pub fn encode(&self) -> Vec<u8> {
        let m = self
            .extensions
            .iter()
            .map(|(name, id)| (name.as_bytes(), Owned::Int(i64::from(*id))));
        let mut dict = vec![("m", Owned::dict(m))];
        if let Some(port) = self.listen_port {
            dict.push(("p", Owned::Int(i64::from(port))));
        }
        if let Some(client) = &self.client {
            dict.push(("v", Owned::bytes(client.as_str())));
        }
        if let Some(reqq) = self.reqq {
            dict.push(("reqq", Owned::Int(i64::from(reqq))));
        }
        if let Some(ip) = self.your_ip {
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            dict.push(("yourip", Owned::Bytes(octets)));
        }
        if let Some(size) = self.metadata_size {
            dict.push(("metadata_size", Owned::Int(i64::from(size))));
        }
        Owned::dict(dict).encode()
    }

    /// As an extended message, ready to send.
    pub fn to_message(&self) -> Message {
        Message::Extended {
            id: EXTENDED_HANDSHAKE,
            payload: self.encode(),
        }
    }

    /// Decodes the payload. BEP 10 lets every field be absent and clients add their own, so
    /// unknown keys and out-of-range values are ignored; only a non-dictionary, a malformed
    /// `m` or one with more than [`MAX_EXTENSIONS`] entries is an error.
    pub fn decode(payload: &[u8]) -> Result<ExtendedHandshake, WireError> {
        let value = bencode::decode(payload)?;
        let dict = value
            .as_dict()
            .ok_or(WireError::ExtendedHandshake("not a dictionary"))?;
        Ok(ExtendedHandshake {
            extensions: extensions(dict.get("m"))?,
            listen_port: dict.int("p").and_then(|p| u16::try_from(p).ok()),
            client: dict
                .bytes("v")
                .filter(|v| v.len() <= 256)
                .map(|v| String::from_utf8_lossy(v).into_owned()),
            reqq: dict.int("reqq").and_then(|n| u32::try_from(n).ok()),
            your_ip: dict.bytes("yourip").and_then(ip_from_octets),
            metadata_size: dict
                .int("metadata_size")
                .and_then(|n| u32::try_from(n).ok()),
        })
    }
}

/// `m`: names of at most 64 bytes to ids 0–255; other entries are skipped.
fn extensions(m: Option<&Value<'_>>) -> Result<BTreeMap<String, u8>, WireError> {
    let Some(m) = m else {
        return Ok(BTreeMap::new());
    };
    let m = m
        .as_dict()
        .ok_or(WireError::ExtendedHandshake("`m` is not a dictionary"))?;
    if m.entries.len() > MAX_EXTENSIONS {
        return Err(WireError::ExtendedHandshake("too many extensions"));
    }
    Ok(m.entries
        .iter()
        .filter(|(name, _)| name.len() <= 64)
        .filter_map(|(name, id)| {
            let name = std::str::from_utf8(name).ok()?;
            let id = u8::try_from(id.as_int()?).ok()?;
            Some((name.to_owned(), id))
        })
        .collect())
}

fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    match octets.len() {
        4 => Some(IpAddr::from(array::<4>(octets))),
        16 => Some(IpAddr::from(array::<16>(octets))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    const PIECES: u32 = 100;

    fn decode_all(bytes: &[u8], piece_count: u32) -> Result<Vec<Message>, WireError> {
        let mut decoder = MessageDecoder::new(piece_count);
        decoder.feed(bytes)?;
        let mut out = Vec::new();
        while let Some(message) = decoder.next_message()? {
            out.push(message);
        }
        assert_eq!(decoder.buffered(), 0, "a whole number of messages");
        Ok(out)
    }

    #[test]
    fn handshake_has_the_bep_3_layout_and_bits() {
        let handshake = Handshake::new(InfoHash([0xaa; 20]), *b"-AN0001-123456789012");
        let bytes = handshake.encode();
        assert_eq!(&bytes[..20], b"\x13BitTorrent protocol");
        assert_eq!(&bytes[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert_eq!(&bytes[28..48], &[0xaa; 20]);
        assert_eq!(&bytes[48..], b"-AN0001-123456789012");
        assert!(handshake.reserved.fast() && handshake.reserved.extended());
        assert!(!Reserved::default().fast() && !Reserved::default().extended());
    }

    #[test]
    fn handshake_arrives_a_byte_at_a_time() {
        let handshake = Handshake::new(InfoHash([7; 20]), [9; 20]);
        let mut stream = handshake.encode().to_vec();
        stream.extend_from_slice(&Message::Interested.encode());
        let mut decoder = HandshakeDecoder::new();
        for (at, byte) in stream.iter().enumerate() {
            let (took, done) = decoder.feed(std::slice::from_ref(byte)).unwrap();
            assert_eq!(decoder.info_hash().is_some(), at >= 47);
            if at < HANDSHAKE_LEN - 1 {
                assert_eq!((took, done), (1, None));
            } else if at == HANDSHAKE_LEN - 1 {
                assert_eq!((took, done), (1, Some(handshake)));
            } else {
                assert_eq!(
                    (took, done),
                    (0, Some(handshake)),
                    "it takes no message bytes"
                );
            }
        }
        let (took, done) = HandshakeDecoder::new().feed(&stream).unwrap();
        assert_eq!((took, done), (HANDSHAKE_LEN, Some(handshake)));
    }

    #[test]
    fn wrong_protocol_is_refused_at_the_first_wrong_byte() {
        assert_eq!(
            HandshakeDecoder::new().feed(b"G"),
            Err(WireError::BadProtocol)
        );
        let mut decoder = HandshakeDecoder::new();
        assert!(decoder.feed(b"\x13BitTorrent").is_ok());
        assert_eq!(decoder.feed(b" Protocol"), Err(WireError::BadProtocol));
        assert_eq!(
            decoder.feed(b""),
            Err(WireError::BadProtocol),
            "and stays refused"
        );
    }

    #[test]
    fn messages_have_the_bep_3_and_bep_6_bytes() {
        let block = BlockRequest {
            index: 1,
            begin: 0x4000,
            length: 0x4000,
        };
        let cases: Vec<(Message, &[u8])> = vec![
            (Message::KeepAlive, &[0, 0, 0, 0]),
            (Message::Choke, &[0, 0, 0, 1, 0]),
            (Message::Unchoke, &[0, 0, 0, 1, 1]),
            (Message::Interested, &[0, 0, 0, 1, 2]),
            (Message::NotInterested, &[0, 0, 0, 1, 3]),
            (Message::Have(5), &[0, 0, 0, 5, 4, 0, 0, 0, 5]),
            (
                Message::Request(block),
                &[0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (
                Message::Cancel(block),
                &[0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (Message::Port(6881), &[0, 0, 0, 3, 9, 0x1a, 0xe1]),
            (Message::Suggest(2), &[0, 0, 0, 5, 0x0d, 0, 0, 0, 2]),
            (Message::HaveAll, &[0, 0, 0, 1, 0x0e]),
            (Message::HaveNone, &[0, 0, 0, 1, 0x0f]),
            (
                Message::Reject(block),
                &[0, 0, 0, 13, 0x10, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (Message::AllowedFast(3), &[0, 0, 0, 5, 0x11, 0, 0, 0, 3]),
            (
                Message::Piece {
                    index: 2,
                    begin: 4,
                    block: b"abc".to_vec(),
                },
                &[0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0, 4, b'a', b'b', b'c'],
            ),
            (
                Message::Extended {
                    id: 0,
                    payload: b"de".to_vec(),
                },
                &[0, 0, 0, 4, 20, 0, b'd', b'e'],
            ),
        ];
        for (message, bytes) in cases {
            assert_eq!(message.encode(), bytes, "{message}");
            assert_eq!(decode_all(bytes, PIECES).unwrap(), [message]);
        }
    }

    #[test]
    fn bitfield_is_exact_with_zero_spare_bits() {
        let mut bits = Bitfield::new(10);
        bits.set(0);
        bits.set(9);
        let message = Message::Bitfield(bits);
        assert_eq!(message.encode(), [0, 0, 0, 3, 5, 0x80, 0x40]);
        assert_eq!(
            decode_all(&message.encode(), 10).unwrap(),
            std::slice::from_ref(&message)
        );
        assert_eq!(
            decode_all(&message.encode(), 20),
            Err(WireError::BitfieldLength {
                got: 2,
                expected: 3
            })
        );
        assert_eq!(
            decode_all(&[0, 0, 0, 3, 5, 0x80, 0x60], 10),
            Err(WireError::SpareBits)
        );
    }

    #[test]
    fn oversized_prefix_fails_on_its_four_bytes() {
        let mut decoder = MessageDecoder::new(PIECES);
        assert_eq!(decoder.feed(&[0x00, 0x10, 0x00]), Ok(()));
        assert_eq!(decoder.feed(&[0x00]), Err(WireError::TooLong(0x0010_0000)));
        assert_eq!(decoder.next_message(), Err(WireError::TooLong(0x0010_0000)));
        assert!(decoder.buffered() <= 4);
    }

    #[test]
    fn length_and_id_are_checked_before_the_body_arrives() {
        let mut decoder = MessageDecoder::new(PIECES);
        // A bitfield announced as 10,000 bytes long for a 100-piece torrent.
        assert_eq!(
            decoder.feed(&[0, 0, 0x27, 0x11, 5]),
            Err(WireError::BitfieldLength {
                got: 10_000,
                expected: 13
            })
        );
        let mut decoder = MessageDecoder::new(PIECES);
        assert_eq!(
            decoder.feed(&[0, 0, 0, 2, 0]),
            Err(WireError::BadLength { id: 0, length: 2 })
        );
        let mut decoder = MessageDecoder::new(PIECES);
        assert_eq!(
            decoder.feed(&[0, 0, 0, 1, 99]),
            Err(WireError::UnknownId(99))
        );
        let mut decoder = MessageDecoder::new(PIECES);
        let piece_len = 9 + MAX_BLOCK_LEN + 1;
        assert_eq!(
            decoder.feed(&piece_len.to_be_bytes()),
            Err(WireError::TooLong(piece_len))
        );
        let mut decoder = MessageDecoder::new(PIECES);
        assert_eq!(
            decoder.feed(&[0, 0, 0, 9, 7]),
            Err(WireError::BadLength { id: 7, length: 9 })
        );
    }

    #[test]
    fn pieces_and_blocks_must_exist() {
        assert_eq!(
            decode_all(&Message::Have(PIECES).encode(), PIECES),
            Err(WireError::NoSuchPiece { index: PIECES })
        );
        let request = |length| {
            Message::Request(BlockRequest {
                index: 0,
                begin: 0,
                length,
            })
        };
        assert_eq!(
            decode_all(&request(0).encode(), PIECES),
            Err(WireError::BadBlockLength(0))
        );
        assert_eq!(
            decode_all(&request(MAX_BLOCK_LEN + 1).encode(), PIECES),
            Err(WireError::BadBlockLength(MAX_BLOCK_LEN + 1))
        );
        assert!(decode_all(&request(MAX_BLOCK_LEN).encode(), PIECES).is_ok());
        let piece = Message::Piece {
            index: PIECES,
            begin: 0,
            block: vec![1],
        };
        assert_eq!(
            decode_all(&piece.encode(), PIECES),
            Err(WireError::NoSuchPiece { index: PIECES })
        );
    }

    #[test]
    fn a_huge_torrent_may_send_a_bitfield_longer_than_a_piece_message() {
        let bits = Bitfield::full(MAX_PIECES);
        let message = Message::Bitfield(bits);
        assert_eq!(
            decode_all(&message.encode(), MAX_PIECES).unwrap(),
            [message]
        );
    }

    #[test]
    fn piece_header_matches_the_encoded_piece() {
        let block = vec![5u8; 100];
        let full = Message::Piece {
            index: 3,
            begin: 16_384,
            block: block.clone(),
        }
        .encode();
        assert_eq!(full[..13], piece_header(3, 16_384, block.len()));
    }

    #[test]
    fn bitfield_counts_and_iterates() {
        let mut bits = Bitfield::new(20);
        assert!(bits.none() && !bits.all() && !bits.is_empty());
        assert!(bits.set(3));
        assert!(!bits.set(3), "already set");
        assert!(bits.set(19));
        assert!(!bits.set(20), "beyond the end");
        assert_eq!(bits.count(), 2);
        assert!(bits.get(19) && !bits.get(18) && !bits.get(100));
        assert_eq!(bits.ones().collect::<Vec<_>>(), [3, 19]);
        assert_eq!(bits.missing().count(), 18);
        assert!(bits.clear(3));
        assert!(!bits.clear(3));
        assert_eq!(bits.count(), 1);
        let full = Bitfield::full(20);
        assert!(full.all());
        assert_eq!(full.as_bytes(), [0xff, 0xff, 0xf0]);
        assert_eq!(full.missing().count(), 0);
        assert_eq!(Bitfield::full(0).as_bytes(), b"");
    }

    /// BEP 6 "Sample Implementation": 1313 pieces, info-hash aa…aa, peer 80.4.4.200.
    #[test]
    fn allowed_fast_set_matches_bep_6() {
        let ip = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 200));
        let hash = InfoHash([0xaa; 20]);
        assert_eq!(
            allowed_fast_set(ip, &hash, 1313, 7),
            [1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(ip, &hash, 1313, 9),
            [1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
        let neighbour = IpAddr::V4(Ipv4Addr::new(80, 4, 4, 1));
        assert_eq!(
            allowed_fast_set(neighbour, &hash, 1313, 7),
            allowed_fast_set(ip, &hash, 1313, 7)
        );
    }

    #[test]
    fn allowed_fast_set_never_asks_for_more_pieces_than_exist() {
        let hash = InfoHash([1; 20]);
        let mut set = allowed_fast_set(IpAddr::V6(Ipv6Addr::LOCALHOST), &hash, 3, 10);
        set.sort_unstable();
        assert_eq!(set, [0, 1, 2]);
        assert!(allowed_fast_set(IpAddr::V4(Ipv4Addr::LOCALHOST), &hash, 0, 10).is_empty());
    }

    #[test]
    fn extended_handshake_round_trips_and_ignores_the_unknown() {
        let handshake = ExtendedHandshake {
            extensions: BTreeMap::from([("ut_metadata".into(), 3), ("ut_pex".into(), 0)]),
            listen_port: Some(6881),
            client: Some("appnet 0.1".into()),
            reqq: Some(250),
            your_ip: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
            metadata_size: Some(31_235),
        };
        let payload = handshake.encode();
        assert_eq!(ExtendedHandshake::decode(&payload).unwrap(), handshake);
        assert_eq!(handshake.id_of("ut_metadata"), Some(3));
        assert_eq!(handshake.id_of("ut_pex"), None, "0 disables");
        let odd = b"d1:md11:ut_metadatai2e6:ut_pexi300ee1:pi70000e4:reqqi-1e1:xi1e6:yourip3:abce";
        let decoded = ExtendedHandshake::decode(odd).unwrap();
        assert_eq!(
            decoded.extensions,
            BTreeMap::from([("ut_metadata".into(), 2)])
        );
        assert_eq!(
            (decoded.listen_port, decoded.reqq, decoded.your_ip),
            (None, None, None)
        );
        assert!(ExtendedHandshake::decode(b"le").is_err());
        assert!(ExtendedHandshake::decode(b"d1:mi1ee").is_err());
        assert!(ExtendedHandshake::decode(b"d1:md").is_err());
        let many: String = (0..=MAX_EXTENSIONS)
            .map(|i| format!("4:x{i:03}i1e"))
            .collect();
        let many = format!("d1:md{many}ee");
        assert!(ExtendedHandshake::decode(many.as_bytes()).is_err());
    }

    fn block_request() -> impl Strategy<Value = BlockRequest> {
        (0..PIECES, any::<u32>(), 1..=MAX_BLOCK_LEN).prop_map(|(index, begin, length)| {
            BlockRequest {
                index,
                begin,
                length,
            }
        })
    }

    fn bitfield(len: u32) -> impl Strategy<Value = Bitfield> {
        proptest::collection::vec(0..len, 0..40).prop_map(move |set| {
            let mut bits = Bitfield::new(len);
            for index in set {
                bits.set(index);
            }
            bits
        })
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            Just(Message::KeepAlive),
            Just(Message::Choke),
            Just(Message::Unchoke),
            Just(Message::Interested),
            Just(Message::NotInterested),
            Just(Message::HaveAll),
            Just(Message::HaveNone),
            (0..PIECES).prop_map(Message::Have),
            (0..PIECES).prop_map(Message::Suggest),
            (0..PIECES).prop_map(Message::AllowedFast),
            bitfield(PIECES).prop_map(Message::Bitfield),
            block_request().prop_map(Message::Request),
            block_request().prop_map(Message::Cancel),
            block_request().prop_map(Message::Reject),
            any::<u16>().prop_map(Message::Port),
            (
                0..PIECES,
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 1..600)
            )
                .prop_map(|(index, begin, block)| Message::Piece {
                    index,
                    begin,
                    block
                }),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..100))
                .prop_map(|(id, payload)| Message::Extended { id, payload }),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip_in_any_cuts(
            messages in proptest::collection::vec(message(), 0..20),
            cuts in proptest::collection::vec(1usize..50, 1..40),
        ) {
            let mut stream = Vec::new();
            for message in &messages {
                message.encode_into(&mut stream);
            }
            let mut decoder = MessageDecoder::new(PIECES);
            let mut decoded = Vec::new();
            let mut rest = stream.as_slice();
            let mut cut = cuts.iter().cycle();
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at((*cut.next().unwrap()).min(rest.len()));
                rest = tail;
                decoder.feed(piece).unwrap();
                while let Some(message) = decoder.next_message().unwrap() {
                    decoded.push(message);
                }
            }
            prop_assert_eq!(decoded, messages);
            prop_assert_eq!(decoder.buffered(), 0);
        }

        #[test]
        fn any_bytes_decode_or_fail_with_bounded_memory(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            piece_count in 1u32..64,
        ) {
            let mut decoder = MessageDecoder::new(piece_count);
            let mut consumed = Vec::new();
            for chunk in bytes.chunks(37) {
                if decoder.feed(chunk).is_err() {
                    break;
                }
                while let Ok(Some(message)) = decoder.next_message() {
                    message.encode_into(&mut consumed);
                }
                prop_assert!(decoder.buffered() <= MAX_MESSAGE_LEN as usize + 4 + 37);
            }
            // Strict decoding: what was decoded re-encodes to the very bytes read.
            prop_assert_eq!(&bytes[..consumed.len()], consumed.as_slice());
        }

        #[test]
        fn bitfields_round_trip_through_the_wire(len in 0u32..200, seed in any::<u64>()) {
            let mut bits = Bitfield::new(len);
            for index in (0..len).filter(|i| (seed >> (i % 64)) & 1 == 1) {
                bits.set(index);
            }
            let back = Bitfield::from_wire(bits.as_bytes(), len).unwrap();
            prop_assert_eq!(&back, &bits);
            prop_assert_eq!(back.ones().count() as u32, back.count());
            prop_assert_eq!(back.ones().count() + back.missing().count(), len as usize);
            prop_assert!(back.ones().all(|i| back.get(i)));
            prop_assert!(back.missing().all(|i| !back.get(i)));
        }

        #[test]
        fn handshakes_round_trip(
            reserved in any::<[u8; 8]>(),
            hash in any::<[u8; 20]>(),
            peer_id in any::<[u8; 20]>(),
            cut in 0usize..68,
        ) {
            let info_hash = InfoHash(hash);
            let handshake = Handshake { reserved: Reserved(reserved), info_hash, peer_id };
            let bytes = handshake.encode();
            let mut decoder = HandshakeDecoder::new();
            let (first, none) = decoder.feed(&bytes[..cut]).unwrap();
            prop_assert_eq!((first, none), (cut, None));
            let (second, done) = decoder.feed(&bytes[cut..]).unwrap();
            prop_assert_eq!(second, HANDSHAKE_LEN - cut);
            prop_assert_eq!(done, Some(handshake));
        }

        #[test]
        fn extended_handshakes_round_trip(
            extensions in proptest::collection::btree_map("[a-z_]{1,20}", any::<u8>(), 0..10),
            listen_port in any::<Option<u16>>(),
            client in proptest::option::of("[ -~]{0,40}"),
            reqq in any::<Option<u32>>(),
            v6 in any::<Option<[u8; 16]>>(),
        ) {
            let handshake = ExtendedHandshake {
                extensions,
                listen_port,
                client,
                reqq,
                your_ip: v6.map(IpAddr::from),
                metadata_size: None,
            };
            prop_assert_eq!(ExtendedHandshake::decode(&handshake.encode()).unwrap(), handshake);
        }

        #[test]
        fn extended_handshake_decodes_any_bytes_cleanly(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let _ = ExtendedHandshake::decode(&bytes);
        }
    }
}
