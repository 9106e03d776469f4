//! The byte format of the queue's journal: a sequence of self-checking records.
//!
//! ```text
//! record  = magic:"AMQ1" kind:u8 length:u32le crc32:u32le payload
//! message = id:u64le arrival:u64le flags:u8 from:str rcpt-count:u16le rcpt:str* data:rest
//! done    = id:u64le rcpt:str
//! str     = length:u16le utf-8 bytes
//! ```
//!
//! The CRC covers kind, length and payload, so a record torn by a crash (the tail of the file
//! after the last completed flush) is recognised and dropped on replay; since no `250` was sent
//! for a message before its flush completed, nothing acknowledged is lost.

use thiserror::Error;

const MAGIC: &[u8; 4] = b"AMQ1";
const HEADER_LEN: usize = 4 + 1 + 4 + 4;
const KIND_MESSAGE: u8 = 1;
const KIND_DONE: u8 = 2;
const FLAG_8BIT: u8 = 1;
const FLAG_SMTPUTF8: u8 = 2;
/// Larger than any message the server accepts plus its envelope; a length above it is damage.
pub const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// A message as the queue keeps it: the envelope and the bytes to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: u64,
    /// Seconds since the Unix epoch when it was first accepted: the queue gives up on it a
    /// configured time later.
    pub arrival: u64,
    /// The reverse path; empty for the null sender `<>` (bounces).
    pub mail_from: String,
    /// The recipients still to be delivered.
    pub rcpt_to: Vec<String>,
    pub body_8bit: bool,
    pub smtputf8: bool,
    pub data: Vec<u8>,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Message(QueuedMessage),
    /// `rcpt` of message `id` needs nothing more: delivered, bounced, or dropped.
    Done {
        id: u64,
        rcpt: String,
    },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    /// The bytes end inside a record: the torn tail of a crash, or a record still being written.
    #[error("the journal ends inside a record")]
    Incomplete,
    #[error("damaged journal record: {0}")]
    Damaged(&'static str),
    #[error("an envelope field is too long for the journal")]
    TooLong,
}

impl Record {
    /// Appends the record's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        match self {
            Record::Message(message) => encode_message(message, out),
            Record::Done { id, rcpt } => encode_done(*id, rcpt, out),
        }
    }

    /// Decodes the record at the start of `bytes`; returns it and its length in bytes.
    pub fn decode(bytes: &[u8]) -> Result<(Record, usize), RecordError> {
        let header = bytes.get(..HEADER_LEN).ok_or(RecordError::Incomplete)?;
        if &header[..4] != MAGIC {
            return Err(RecordError::Damaged("no record starts here"));
        }
        let kind = header[4];
        let length = u32::from_le_bytes([header[5], header[6], header[7], header[8]]) as usize;
        let crc = u32::from_le_bytes([header[9], header[10], header[11], header[12]]);
        if length > MAX_PAYLOAD {
            return Err(RecordError::Damaged("record length out of range"));
        }
        let end = HEADER_LEN + length;
        let payload = bytes.get(HEADER_LEN..end).ok_or(RecordError::Incomplete)?;
        let mut check = crc32fast::Hasher::new();
        check.update(&header[4..9]);
        check.update(payload);
        if check.finalize() != crc {
            return Err(RecordError::Damaged("checksum mismatch"));
        }
        let mut reader = Reader { bytes: payload };
        let record = match kind {
            KIND_MESSAGE => {
                let id = reader.u64()?;
                let arrival = reader.u64()?;
                let flags = reader.u8()?;
                if flags & !(FLAG_8BIT | FLAG_SMTPUTF8) != 0 {
                    return Err(RecordError::Damaged("unknown message flags"));
                }
                let mail_from = reader.string()?;
                let count = reader.u16()?;
                let rcpt_to = (0..count)
                    .map(|_| reader.string())
                    .collect::<Result<_, _>>()?;
                Record::Message(QueuedMessage {
                    id,
                    arrival,
                    mail_from,
                    rcpt_to,
                    body_8bit: flags & FLAG_8BIT != 0,
                    smtputf8: flags & FLAG_SMTPUTF8 != 0,
                    data: reader.bytes.to_vec(),
                })
            }
            KIND_DONE => {
                let id = reader.u64()?;
                let rcpt = reader.string()?;
                if !reader.bytes.is_empty() {
                    return Err(RecordError::Damaged("payload longer than its fields"));
                }
                Record::Done { id, rcpt }
            }
            _ => return Err(RecordError::Damaged("unknown record kind")),
        };
        Ok((record, end))
    }
}

/// Appends a message record's bytes to `out`.
pub fn encode_message(message: &QueuedMessage, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let mut payload = Vec::with_capacity(message.data.len() + 128);
    payload.extend_from_slice(&message.id.to_le_bytes());
    payload.extend_from_slice(&message.arrival.to_le_bytes());
    let mut flags = 0;
    if message.body_8bit {
        flags |= FLAG_8BIT;
    }
    if message.smtputf8 {
        flags |= FLAG_SMTPUTF8;
    }
    payload.push(flags);
    put_str(&mut payload, &message.mail_from)?;
    let count = u16::try_from(message.rcpt_to.len()).map_err(|_| RecordError::TooLong)?;
    payload.extend_from_slice(&count.to_le_bytes());
    for rcpt in &message.rcpt_to {
        put_str(&mut payload, rcpt)?;
    }
    payload.extend_from_slice(&message.data);
    frame(KIND_MESSAGE, &payload, out)
}

/// Appends a done record's bytes to `out`.
pub fn encode_done(id: u64, rcpt: &str, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let mut payload = Vec::with_capacity(10 + rcpt.len());
    payload.extend_from_slice(&id.to_le_bytes());
    put_str(&mut payload, rcpt)?;
    frame(KIND_DONE, &payload, out)
}

/// Writes the header (magic, kind, length, CRC) and the payload.
fn frame(kind: u8, payload: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(RecordError::TooLong);
    }
    let length = (payload.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    crc.update(&length);
    crc.update(payload);
    out.extend_from_slice(MAGIC);
    out.push(kind);
    out.extend_from_slice(&length);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

fn put_str(out: &mut Vec<u8>, value: &str) -> Result<(), RecordError> {
    let len = u16::try_from(value.len()).map_err(|_| RecordError::TooLong)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

/// A cursor over a record's payload.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], RecordError> {
        if self.bytes.len() < n {
            return Err(RecordError::Damaged("payload shorter than its fields"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, RecordError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u64(&mut self) -> Result<u64, RecordError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }

    fn string(&mut self) -> Result<String, RecordError> {
        let len = usize::from(self.u16()?);
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| RecordError::Damaged("field is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message() -> QueuedMessage {
        QueuedMessage {
            id: 7,
            arrival: 1_800_000_000,
            mail_from: "alice@alpha.example".into(),
            rcpt_to: vec!["bob@beta.example".into(), "민수@beta.example".into()],
            body_8bit: true,
            smtputf8: true,
            data: b"Subject: hi\r\n\r\nhello\r\n".to_vec(),
        }
    }

    #[test]
    fn a_torn_tail_is_incomplete_at_every_cut() {
        let mut bytes = Vec::new();
        Record::Message(message()).encode(&mut bytes).unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(
                Record::decode(&bytes[..cut]),
                Err(RecordError::Incomplete),
                "cut {cut}"
            );
        }
        assert_eq!(Record::decode(&bytes).unwrap().1, bytes.len());
    }

    #[test]
    fn a_flipped_bit_is_damage() {
        let mut bytes = Vec::new();
        Record::Done {
            id: 1,
            rcpt: "bob@beta.example".into(),
        }
        .encode(&mut bytes)
        .unwrap();
        for at in 4..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(Record::decode(&bad).is_err(), "flip at {at}");
        }
    }

    proptest! {
        #[test]
        fn records_round_trip(
            id in any::<u64>(),
            from in "[a-z@.]{0,40}",
            rcpts in prop::collection::vec("\\PC{1,30}", 0..5),
            data in prop::collection::vec(any::<u8>(), 0..300),
            flags in any::<(bool, bool)>(),
        ) {
            let record = Record::Message(QueuedMessage {
                id, arrival: id / 3, mail_from: from, rcpt_to: rcpts,
                body_8bit: flags.0, smtputf8: flags.1, data,
            });
            let mut bytes = Vec::new();
            record.encode(&mut bytes).unwrap();
            Record::Done { id, rcpt: "x@y".into() }.encode(&mut bytes).unwrap();
            let (first, used) = Record::decode(&bytes).unwrap();
            prop_assert_eq!(first, record);
            let (second, _) = Record::decode(&bytes[used..]).unwrap();
            prop_assert_eq!(second, Record::Done { id, rcpt: "x@y".into() });
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = Record::decode(&bytes);
        }
    }

    #[test]
    fn only_what_the_encoder_writes_decodes() {
        // Found by the mail_journal fuzz target: a done record with bytes after its fields,
        // and a message with flag bits we never set, decoded and re-encoded differently.
        let mut done = Vec::new();
        encode_done(7, "bob@beta.example", &mut done).unwrap();
        let mut padded = Vec::new();
        let mut payload = done[HEADER_LEN..].to_vec();
        payload.push(0);
        frame(KIND_DONE, &payload, &mut padded).unwrap();
        assert!(Record::decode(&padded).is_err());

        let mut message_bytes = Vec::new();
        encode_message(&message(), &mut message_bytes).unwrap();
        let mut payload = message_bytes[HEADER_LEN..].to_vec();
        payload[16] = 0xff;
        let mut flagged = Vec::new();
        frame(KIND_MESSAGE, &payload, &mut flagged).unwrap();
        assert!(Record::decode(&flagged).is_err());
    }
}
