//! Whole DNS messages: header, question, the three record sections and the EDNS OPT record.
//!
//! RFC 1035 §4.1 (message format), RFC 2535 §6.1 / RFC 4035 §3.2 (AD and CD bits), RFC 6891 §6.1
//! (one OPT record, in the additional section, owner root) and RFC 2181 §9 with RFC 1035 §4.2.1
//! (truncation: TC when answer or authority data is left out; additional data may be dropped
//! silently).

use std::fmt;

use super::edns::Edns;
use super::error::WireError;
use super::name::Name;
use super::rdata::RData;
use super::reader::Reader;
use super::types::{Class, Opcode, Rcode, RecordType};
use super::writer::Writer;

/// The largest message: TCP frames it with a 16-bit length (RFC 1035 §4.2.2).
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// The classic UDP limit without EDNS (RFC 1035 §2.3.4).
pub const CLASSIC_UDP_LEN: usize = 512;

/// The smallest question: the root name, QTYPE and QCLASS.
const MIN_QUESTION_LEN: usize = 5;
/// The smallest record: the root name, TYPE, CLASS, TTL and RDLENGTH.
const MIN_RECORD_LEN: usize = 11;

/// The sections of a message, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Question,
    Answer,
    Authority,
    Additional,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Question => "question",
            Self::Answer => "answer",
            Self::Authority => "authority",
            Self::Additional => "additional",
        })
    }
}

/// RFC 1035 §4.1.1: the fixed 12-byte header, without its four counts (they follow from the
/// sections when encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    pub id: u16,
    /// Set in responses.
    pub qr: bool,
    pub opcode: Opcode,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// The reserved bit; must be zero, kept so a decoded message re-encodes as received.
    pub z: bool,
    /// Authentic data (RFC 4035 §3.2.3; in queries, RFC 6840 §5.7: "I understand AD").
    pub ad: bool,
    /// Checking disabled.
    pub cd: bool,
    /// Only the low 4 bits; the extended RCODE's upper bits live in [`Edns`]. Use
    /// [`Message::rcode`] / [`Message::set_rcode`] for the full value.
    pub rcode: Rcode,
}

/// The four counts of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub(crate) questions: u16,
    pub(crate) answers: u16,
    pub(crate) authorities: u16,
    pub(crate) additionals: u16,
}

impl Header {
    pub const LEN: usize = 12;

    /// Decodes just the header, so a server can answer even an undecodable message with FORMERR
    /// under the same ID and a resolver can see TC on a response cut short.
    pub fn decode(bytes: &[u8]) -> Result<Header, WireError> {
        Self::read(&mut Reader::new(bytes)).map(|(header, _)| header)
    }

    /// The second 16-bit word: QR, Opcode, AA, TC, RD, RA, Z, AD, CD, RCODE.
    pub fn flags(&self) -> u16 {
        let bit = |on: bool, shift: u16| u16::from(on) << shift;
        bit(self.qr, 15)
            | u16::from(self.opcode.value()) << 11
            | bit(self.aa, 10)
            | bit(self.tc, 9)
            | bit(self.rd, 8)
            | bit(self.ra, 7)
            | bit(self.z, 6)
            | bit(self.ad, 5)
            | bit(self.cd, 4)
            | u16::from(self.rcode.low4())
    }

    pub fn from_flags(id: u16, flags: u16) -> Header {
        let bit = |shift: u16| flags >> shift & 1 == 1;
        Header {
            id,
            qr: bit(15),
            // Masked to 4 bits by the shift and Opcode::new.
            opcode: Opcode::new((flags >> 11) as u8),
            aa: bit(10),
            tc: bit(9),
            rd: bit(8),
            ra: bit(7),
            z: bit(6),
            ad: bit(5),
            cd: bit(4),
            rcode: Rcode::new(flags & 0x0f),
        }
    }

    /// The header of a reply to this one: same ID, opcode, RD and CD (RFC 6840 §5.9), QR set,
    /// everything else clear. Enough for a FORMERR when only the header could be decoded.
    pub fn response(&self) -> Header {
        Header {
            id: self.id,
            qr: true,
            opcode: self.opcode,
            rd: self.rd,
            cd: self.cd,
            ..Header::default()
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<(Header, Counts), WireError> {
        let id = r.u16()?;
        let flags = r.u16()?;
        let counts = Counts {
            questions: r.u16()?,
            answers: r.u16()?,
            authorities: r.u16()?,
            additionals: r.u16()?,
        };
        Ok((Self::from_flags(id, flags), counts))
    }
}

/// RFC 1035 §4.1.2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    pub name: Name,
    pub qtype: RecordType,
    pub qclass: Class,
}

impl Question {
    /// A question in class IN.
    pub fn new(name: Name, qtype: RecordType) -> Self {
        Self {
            name,
            qtype,
            qclass: Class::IN,
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Question, WireError> {
        Ok(Question {
            name: r.name()?,
            qtype: RecordType(r.u16()?),
            qclass: Class(r.u16()?),
        })
    }

    fn write(&self, w: &mut Writer) {
        w.name(&self.name, true);
        w.u16(self.qtype.0);
        w.u16(self.qclass.0);
    }
}

/// RFC 1035 §4.1.3: a resource record; its TYPE is that of its RDATA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub name: Name,
    pub class: Class,
    pub ttl: u32,
    pub rdata: RData,
}

impl Record {
    /// A record in class IN.
    pub fn new(name: Name, ttl: u32, rdata: RData) -> Self {
        Self {
            name,
            class: Class::IN,
            ttl,
            rdata,
        }
    }

    pub fn rtype(&self) -> RecordType {
        self.rdata.rtype()
    }

    /// RFC 2181 §5: same owner, class and type make one RRset.
    pub fn same_rrset(&self, other: &Record) -> bool {
        self.name == other.name && self.class == other.class && self.rtype() == other.rtype()
    }

    /// Writes the record; false when its RDATA exceeds RDLENGTH's 16 bits.
    fn write(&self, w: &mut Writer) -> bool {
        w.name(&self.name, true);
        w.u16(self.rtype().0);
        w.u16(self.class.0);
        w.u32(self.ttl);
        let rdlength_at = w.len();
        w.u16(0);
        let start = w.mark();
        self.rdata.encode(w);
        match u16::try_from(w.written_since(start)) {
            Ok(rdlength) => {
                w.patch_u16(rdlength_at, rdlength);
                true
            }
            Err(_) => false,
        }
    }
}

/// Runs of consecutive records forming one RRset, the unit truncation keeps or drops.
pub fn rrsets(records: &[Record]) -> impl Iterator<Item = &[Record]> {
    records.chunk_by(Record::same_rrset)
}

/// What one record slot of the wire turned out to be.
pub(crate) enum Entry {
    Record(Record),
    Opt { at: usize, edns: Edns },
}

pub(crate) fn read_entry(r: &mut Reader<'_>) -> Result<Entry, WireError> {
    let at = r.position();
    let name = r.name()?;
    let rtype = RecordType(r.u16()?);
    if rtype == RecordType::OPT {
        if !name.is_root() {
            return Err(WireError::OptOwnerNotRoot { at });
        }
        return Ok(Entry::Opt {
            at,
            edns: Edns::decode_after_type(r)?,
        });
    }
    let class = Class(r.u16()?);
    let ttl = r.u32()?;
    let rdlength = usize::from(r.u16()?);
    let mut rdata = r.sub(rdlength)?;
    Ok(Entry::Record(Record {
        name,
        class,
        ttl,
        rdata: RData::decode(rtype, &mut rdata)?,
    }))
}

/// A DNS message. The OPT record is not among `additionals`: it is `edns`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    pub edns: Option<Edns>,
}

impl Message {
    /// A query in class IN with a fresh header: QUERY opcode, RD as asked.
    pub fn query(
        id: u16,
        name: Name,
        qtype: RecordType,
        recursion_desired: bool,
        edns: Option<Edns>,
    ) -> Message {
        Message {
            header: Header {
                id,
                rd: recursion_desired,
                ..Header::default()
            },
            questions: vec![Question::new(name, qtype)],
            edns,
            ..Message::default()
        }
    }

    /// The skeleton of a response: same ID, opcode, RD and CD (RFC 6840 §5.9), the question
    /// copied, QR set. Answers, flags such as AA and RA, and EDNS are the responder's to add.
    pub fn response_to(query: &Message) -> Message {
        Message {
            header: query.header.response(),
            questions: query.questions.clone(),
            ..Message::default()
        }
    }

    /// The first question, which is the only one in practice (RFC 9619).
    pub fn question(&self) -> Option<&Question> {
        self.questions.first()
    }

    /// The 12-bit RCODE: the header's 4 bits and, with EDNS, the OPT record's upper 8.
    pub fn rcode(&self) -> Rcode {
        let high = self
            .edns
            .as_ref()
            .map_or(0, |edns| edns.extended_rcode_high);
        Rcode::from_parts(high, self.header.rcode.low4())
    }

    /// Sets the RCODE in both places; an extended value without EDNS adds a default OPT record,
    /// since the header alone cannot carry it.
    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.header.rcode = Rcode::new(u16::from(rcode.low4()));
        match (&mut self.edns, rcode.high8()) {
            (Some(edns), high) => edns.extended_rcode_high = high,
            (None, 0) => {}
            (None, high) => {
                self.edns = Some(Edns {
                    extended_rcode_high: high,
                    ..Edns::default()
                });
            }
        }
    }

    /// The records of one section; empty for [`Section::Question`].
    pub fn section(&self, section: Section) -> &[Record] {
        match section {
            Section::Question => &[],
            Section::Answer => &self.answers,
            Section::Authority => &self.authorities,
            Section::Additional => &self.additionals,
        }
    }

    /// Decodes a whole message. Every count, length and name is checked; bytes after the last
    /// record are an error (FORMERR) rather than ignored, because they mean the counts lie and
    /// a tolerant parser would hide bugs in the peer it is testing.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(WireError::MessageTooLong { len: bytes.len() });
        }
        let mut r = Reader::new(bytes);
        let (header, counts) = Header::read(&mut r)?;
        check_counts(&counts, r.remaining())?;
        let questions = (0..counts.questions)
            .map(|_| Question::read(&mut r))
            .collect::<Result<_, _>>()?;
        let mut edns = None;
        let answers = read_section(&mut r, counts.answers, Section::Answer, &mut edns)?;
        let authorities = read_section(&mut r, counts.authorities, Section::Authority, &mut edns)?;
        let additionals = read_section(&mut r, counts.additionals, Section::Additional, &mut edns)?;
        if !r.is_empty() {
            return Err(WireError::TrailingBytes {
                at: r.position(),
                count: r.remaining(),
            });
        }
        Ok(Message {
            header,
            questions,
            answers,
            authorities,
            additionals,
            edns,
        })
    }

    /// Encodes the message (compressed), up to the 65,535-byte limit of any transport.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_truncated(MAX_MESSAGE_LEN)
    }

    /// Encodes at most `max` bytes (for UDP: 512, or the EDNS payload size).
    ///
    /// Whole RRsets are kept or dropped. When an answer or authority RRset does not fit, it and
    /// everything after it (additional data included) is left out and TC is set; additional
    /// RRsets that do not fit are skipped without TC (RFC 2181 §9). The header, the questions
    /// and the OPT record are always written, so a `max` smaller than those yields a longer
    /// message. Records of type OPT among the sections are never written: EDNS comes from
    /// `edns` only.
    pub fn encode_truncated(&self, max: usize) -> Vec<u8> {
        let max = max.min(MAX_MESSAGE_LEN);
        let opt_len = self.edns.as_ref().map_or(0, Edns::wire_len);
        let mut w = Writer::with_max_size(max.saturating_sub(opt_len));
        w.bytes(&[0; Header::LEN]);
        let mut counts = Counts {
            questions: self.write_questions(&mut w),
            ..Counts::default()
        };
        let (answers, complete) = write_section(&mut w, &self.answers, true);
        counts.answers = answers;
        let mut truncated = !complete;
        if !truncated {
            let (authorities, complete) = write_section(&mut w, &self.authorities, true);
            counts.authorities = authorities;
            truncated = !complete;
        }
        if !truncated {
            counts.additionals = write_section(&mut w, &self.additionals, false).0;
        }
        if let Some(edns) = &self.edns {
            edns.encode(&mut w);
            counts.additionals = counts.additionals.saturating_add(1);
        }
        let header = Header {
            tc: self.header.tc || truncated,
            ..self.header
        };
        write_header(&mut w, &header, &counts);
        w.into_bytes()
    }

    fn write_questions(&self, w: &mut Writer) -> u16 {
        let mut count: u16 = 0;
        for question in &self.questions {
            if count == u16::MAX {
                break;
            }
            question.write(w);
            count += 1;
        }
        count
    }

    /// Every record with its section, in wire order (without the OPT record).
    pub fn records(&self) -> impl Iterator<Item = (Section, &Record)> {
        let tag = |section: Section| move |record| (section, record);
        self.answers
            .iter()
            .map(tag(Section::Answer))
            .chain(self.authorities.iter().map(tag(Section::Authority)))
            .chain(self.additionals.iter().map(tag(Section::Additional)))
    }
}

/// Rejects counts that cannot fit in the bytes present, before anything is allocated.
pub(crate) fn check_counts(counts: &Counts, available: usize) -> Result<(), WireError> {
    let records = usize::from(counts.answers)
        + usize::from(counts.authorities)
        + usize::from(counts.additionals);
    let needed = usize::from(counts.questions) * MIN_QUESTION_LEN + records * MIN_RECORD_LEN;
    if needed > available {
        return Err(WireError::TooManyRecords { needed, available });
    }
    Ok(())
}

fn read_section(
    r: &mut Reader<'_>,
    count: u16,
    section: Section,
    edns: &mut Option<Edns>,
) -> Result<Vec<Record>, WireError> {
    let mut records = Vec::new();
    for _ in 0..count {
        match read_entry(r)? {
            Entry::Record(record) => records.push(record),
            Entry::Opt { at, .. } if section != Section::Additional => {
                return Err(WireError::OptOutsideAdditional { at });
            }
            Entry::Opt { at, .. } if edns.is_some() => return Err(WireError::DuplicateOpt { at }),
            Entry::Opt { edns: found, .. } => *edns = Some(found),
        }
    }
    Ok(records)
}

/// Writes whole RRsets while they fit. With `stop_at_miss`, the first misfit ends the section
/// (returning `false`); otherwise misfits are skipped.
fn write_section(w: &mut Writer, records: &[Record], stop_at_miss: bool) -> (u16, bool) {
    let mut count: u16 = 0;
    let mut complete = true;
    for rrset in rrsets(records) {
        if rrset.iter().any(|record| record.rtype() == RecordType::OPT) {
            continue;
        }
        let mark = w.mark();
        let written = rrset.iter().all(|record| record.write(w));
        let new_count = u16::try_from(rrset.len())
            .ok()
            .and_then(|len| count.checked_add(len));
        match new_count {
            Some(new_count) if written && w.fits() => count = new_count,
            _ => {
                w.rollback(mark);
                complete = false;
                if stop_at_miss {
                    break;
                }
            }
        }
    }
    (count, complete)
}

fn write_header(w: &mut Writer, header: &Header, counts: &Counts) {
    w.patch_u16(0, header.id);
    w.patch_u16(2, header.flags());
    w.patch_u16(4, counts.questions);
    w.patch_u16(6, counts.answers);
    w.patch_u16(8, counts.authorities);
    w.patch_u16(10, counts.additionals);
}

#[cfg(test)]
mod tests;
