//! `--explain`: an annotated hex dump of a message, field by field, that also works on broken
//! input (it explains up to the fault and then says what is wrong).
//!
//! Walks the same layout as the decoder (RFC 1035 §4.1.1–4.1.4, RFC 6891 §6.1.2–6.1.3) with the
//! same [`Reader`], and asks the decoder itself whether each name and record is valid, so the
//! explanation never disagrees with [`Message::decode`](super::Message::decode). The output is
//! structured ([`ExplainLine`]) so a JSON view can be made from it; [`render`] makes the text.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::edns::EdnsOption;
use super::error::WireError;
use super::message::{
    Counts, Entry, Header, MAX_MESSAGE_LEN, Question, Section, check_counts, read_entry,
};
use super::name::Name;
use super::present;
use super::reader::Reader;
use super::types::{Class, Opcode, Rcode, RecordType};

/// One explained field: the bytes at `offset` and what they mean. Lines with no bytes are
/// headings or sub-field notes (a flag bit). For any input, the byte spans of all lines are
/// contiguous and cover the whole input exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainLine {
    pub offset: usize,
    pub bytes: Vec<u8>,
    pub description: String,
    /// Nesting: 0 for sections, 1 for items, 2 for fields, 3 and more for their parts.
    pub depth: usize,
}

/// Explains every byte of `message`.
pub fn explain(message: &[u8]) -> Vec<ExplainLine> {
    let mut explainer = Explainer {
        buf: message,
        lines: Vec::new(),
        covered: 0,
        seen_opt: false,
    };
    if let Err(err) = explainer.message() {
        explainer.fail(&err);
    }
    explainer.lines
}

/// The text form: offset (decimal, as pointers count), up to 8 bytes of hex per line, and the
/// description indented by depth.
pub fn render(lines: &[ExplainLine]) -> String {
    const PER_LINE: usize = 8;
    let mut out = String::new();
    for line in lines {
        let indent = "  ".repeat(line.depth);
        let mut chunks = line.bytes.chunks(PER_LINE);
        let first = chunks.next().map(hex_spaced).unwrap_or_default();
        let offset = if line.bytes.is_empty() {
            String::new()
        } else {
            line.offset.to_string()
        };
        let _ = writeln!(
            out,
            "{offset:>5}  {first:<23}  {indent}{}",
            line.description
        );
        for (index, chunk) in chunks.enumerate() {
            let at = line.offset + (index + 1) * PER_LINE;
            let _ = writeln!(out, "{at:>5}  {}", hex_spaced(chunk));
        }
    }
    out
}

fn hex_spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

struct Explainer<'a> {
    buf: &'a [u8],
    lines: Vec<ExplainLine>,
    /// Bytes explained so far: lines are contiguous, so this is where the next one starts.
    covered: usize,
    seen_opt: bool,
}

type Step = Result<(), WireError>;

impl<'a> Explainer<'a> {
    fn note(&mut self, depth: usize, description: impl Into<String>) {
        self.lines.push(ExplainLine {
            offset: self.covered,
            bytes: Vec::new(),
            description: description.into(),
            depth,
        });
    }

    /// Takes `len` bytes from `r` as one line.
    fn take(
        &mut self,
        r: &mut Reader<'a>,
        len: usize,
        depth: usize,
        describe: impl FnOnce(&[u8]) -> String,
    ) -> Result<&'a [u8], WireError> {
        let offset = r.position();
        let bytes = r.bytes(len)?;
        self.lines.push(ExplainLine {
            offset,
            bytes: bytes.to_vec(),
            description: describe(bytes),
            depth,
        });
        self.covered = offset + len;
        Ok(bytes)
    }

    fn u8(
        &mut self,
        r: &mut Reader<'a>,
        depth: usize,
        describe: impl FnOnce(u8) -> String,
    ) -> Result<u8, WireError> {
        let value = r.clone().u8()?;
        self.take(r, 1, depth, |_| describe(value))?;
        Ok(value)
    }

    fn u16(
        &mut self,
        r: &mut Reader<'a>,
        depth: usize,
        describe: impl FnOnce(u16) -> String,
    ) -> Result<u16, WireError> {
        let value = r.clone().u16()?;
        self.take(r, 2, depth, |_| describe(value))?;
        Ok(value)
    }

    fn u32(
        &mut self,
        r: &mut Reader<'a>,
        depth: usize,
        describe: impl FnOnce(u32) -> String,
    ) -> Result<u32, WireError> {
        let value = r.clone().u32()?;
        self.take(r, 4, depth, |_| describe(value))?;
        Ok(value)
    }

    /// The last line: what is wrong, holding every byte not explained.
    fn fail(&mut self, err: &WireError) {
        let rest = self.buf.get(self.covered..).unwrap_or_default();
        let unexplained = match rest.len() {
            0 => String::new(),
            n => format!(" ({n} byte(s) not explained)"),
        };
        self.lines.push(ExplainLine {
            offset: self.covered,
            bytes: rest.to_vec(),
            description: format!("malformed: {err}{unexplained}"),
            depth: 0,
        });
        self.covered = self.buf.len();
    }

    fn message(&mut self) -> Step {
        let mut r = Reader::new(self.buf);
        let counts = self.header(&mut r)?;
        check_counts(&counts, r.remaining())?;
        if counts.questions > 0 {
            self.note(
                0,
                format!("Question section: {} question(s)", counts.questions),
            );
        }
        for index in 1..=counts.questions {
            self.question(&mut r, index)?;
        }
        for (section, count) in [
            (Section::Answer, counts.answers),
            (Section::Authority, counts.authorities),
            (Section::Additional, counts.additionals),
        ] {
            if count > 0 {
                self.note(
                    0,
                    format!("{} section: {count} record(s)", capitalized(section)),
                );
            }
            for index in 1..=count {
                self.record(&mut r, section, index)?;
            }
        }
        if !r.is_empty() {
            return Err(WireError::TrailingBytes {
                at: r.position(),
                count: r.remaining(),
            });
        }
        if self.buf.len() > MAX_MESSAGE_LEN {
            return Err(WireError::MessageTooLong {
                len: self.buf.len(),
            });
        }
        Ok(())
    }

    fn header(&mut self, r: &mut Reader<'a>) -> Result<Counts, WireError> {
        self.note(0, "Header (12 bytes)");
        self.u16(r, 1, |id| format!("ID {id} (0x{id:04x})"))?;
        let flags = self.u16(r, 1, |flags| format!("flags 0x{flags:04x}"))?;
        for line in flag_lines(flags) {
            self.note(2, line);
        }
        let mut count = |r: &mut Reader<'a>, name: &str, what: &str| {
            self.u16(r, 1, |n| format!("{name}: {n} {what}"))
        };
        Ok(Counts {
            questions: count(r, "QDCOUNT", "question(s)")?,
            answers: count(r, "ANCOUNT", "answer record(s)")?,
            authorities: count(r, "NSCOUNT", "authority record(s)")?,
            additionals: count(r, "ARCOUNT", "additional record(s)")?,
        })
    }

    fn question(&mut self, r: &mut Reader<'a>, index: u16) -> Step {
        let heading = match Question::read(&mut r.clone()) {
            Ok(q) => format!("Question {index}: {} {} {}", q.name, q.qclass, q.qtype),
            Err(_) => format!("Question {index}"),
        };
        self.note(1, heading);
        self.name(r, 2, "QNAME")?;
        self.u16(r, 2, |v| format!("QTYPE {v}: {}", RecordType(v)))?;
        self.u16(r, 2, |v| format!("QCLASS {v}: {}", Class(v)))?;
        Ok(())
    }

    /// Explains one record; returns the decoder's verdict on it even when the walk got through.
    fn record(&mut self, r: &mut Reader<'a>, section: Section, index: u16) -> Step {
        let decoded = read_entry(&mut r.clone());
        let heading = match &decoded {
            Ok(Entry::Record(rec)) => format!(
                "{} {index}: {} {} {} {} {}",
                capitalized(section),
                rec.name,
                rec.ttl,
                rec.class,
                rec.rtype(),
                rec.rdata
            ),
            Ok(Entry::Opt { edns, .. }) => format!(
                "{} {index}: OPT pseudo-record (EDNS version {}, UDP payload {}{})",
                capitalized(section),
                edns.version,
                edns.udp_payload_size,
                if edns.dnssec_ok { ", DO" } else { "" }
            ),
            Err(_) => format!("{} {index} (malformed)", capitalized(section)),
        };
        self.note(1, heading);
        let at = r.position();
        let walk = self.record_fields(r, decoded.is_ok());
        match (walk, decoded) {
            (_, Err(err)) | (Err(err), Ok(_)) => Err(err),
            (Ok(()), Ok(Entry::Opt { .. })) => self.check_opt_placement(section, at),
            (Ok(()), Ok(Entry::Record(_))) => Ok(()),
        }
    }

    /// RFC 6891 §6.1.1: one OPT record, in the additional section.
    fn check_opt_placement(&mut self, section: Section, at: usize) -> Step {
        if section != Section::Additional {
            return Err(WireError::OptOutsideAdditional { at });
        }
        if self.seen_opt {
            return Err(WireError::DuplicateOpt { at });
        }
        self.seen_opt = true;
        Ok(())
    }

    fn record_fields(&mut self, r: &mut Reader<'a>, valid: bool) -> Step {
        self.name(r, 2, "owner")?;
        let rtype = RecordType(self.u16(r, 2, |v| format!("TYPE {v}: {}", RecordType(v)))?);
        if rtype == RecordType::OPT {
            return self.opt_fields(r);
        }
        self.u16(r, 2, |v| format!("CLASS {v}: {}", Class(v)))?;
        self.u32(r, 2, |v| format!("TTL {v} ({})", duration(v)))?;
        let rdlength = self.u16(r, 2, |v| format!("RDLENGTH {v}"))?;
        let mut rdata = r.sub(usize::from(rdlength))?;
        if valid {
            self.rdata(&mut rdata, rtype)
        } else {
            self.opaque(&mut rdata)
        }
    }

    fn opt_fields(&mut self, r: &mut Reader<'a>) -> Step {
        self.u16(r, 2, |v| format!("UDP payload size {v} (CLASS field)"))?;
        self.u8(r, 2, |v| format!("extended RCODE, upper 8 bits: {v}"))?;
        self.u8(r, 2, |v| format!("EDNS version {v}"))?;
        self.u16(r, 2, |v| {
            let dnssec_ok = if v & 0x8000 != 0 {
                "1 (DNSSEC OK)"
            } else {
                "0"
            };
            format!(
                "EDNS flags 0x{v:04x}: DO = {dnssec_ok}, Z = 0x{:04x}",
                v & 0x7fff
            )
        })?;
        let rdlength = self.u16(r, 2, |v| format!("RDLENGTH {v}"))?;
        let mut options = r.sub(usize::from(rdlength))?;
        while !options.is_empty() {
            let code = self.u16(&mut options, 3, |code| match EdnsOption::code_name(code) {
                Some(name) => format!("option code {code}: {name}"),
                None => format!("option code {code}"),
            })?;
            let len = self.u16(&mut options, 3, |len| format!("option length {len}"))?;
            self.take(&mut options, usize::from(len), 4, |data| {
                option_meaning(code, data)
            })?;
        }
        Ok(())
    }

    /// RDATA of a record the decoder accepted, field by field.
    fn rdata(&mut self, r: &mut Reader<'a>, rtype: RecordType) -> Step {
        if r.is_empty() {
            self.note(2, "RDATA empty (as in UPDATE deletions)");
            return Ok(());
        }
        match rtype {
            RecordType::A => {
                self.take(r, 4, 2, |b| format!("address {}", ipv4(b)))?;
            }
            RecordType::AAAA => {
                self.take(r, 16, 2, |b| format!("address {}", ipv6(b)))?;
            }
            RecordType::NS => self.name(r, 2, "NSDNAME")?,
            RecordType::CNAME => self.name(r, 2, "CNAME")?,
            RecordType::PTR => self.name(r, 2, "PTRDNAME")?,
            RecordType::MX => {
                self.u16(r, 2, |v| format!("preference {v}"))?;
                self.name(r, 2, "exchange")?;
            }
            RecordType::SOA => self.soa(r)?,
            RecordType::SRV => {
                self.u16(r, 2, |v| format!("priority {v}"))?;
                self.u16(r, 2, |v| format!("weight {v}"))?;
                self.u16(r, 2, |v| format!("port {v}"))?;
                self.name(r, 2, "target (never compressed, RFC 2782)")?;
            }
            RecordType::TXT => self.strings(r)?,
            RecordType::CAA => self.caa(r)?,
            _ => self.opaque(r)?,
        }
        Ok(())
    }

    fn soa(&mut self, r: &mut Reader<'a>) -> Step {
        self.name(r, 2, "MNAME (primary server)")?;
        self.name(r, 2, "RNAME (responsible mailbox)")?;
        self.u32(r, 2, |v| format!("SERIAL {v}"))?;
        for field in ["REFRESH", "RETRY", "EXPIRE", "MINIMUM (negative TTL)"] {
            self.u32(r, 2, |v| format!("{field} {v} ({})", duration(v)))?;
        }
        Ok(())
    }

    fn strings(&mut self, r: &mut Reader<'a>) -> Step {
        while !r.is_empty() {
            let len = usize::from(r.clone().u8()?);
            self.take(r, 1 + len, 2, |b| {
                format!(
                    "character-string of {len}: {}",
                    quoted(b.get(1..).unwrap_or_default())
                )
            })?;
        }
        Ok(())
    }

    fn caa(&mut self, r: &mut Reader<'a>) -> Step {
        self.u8(r, 2, |v| {
            let critical = if v & 0x80 != 0 {
                " (issuer critical)"
            } else {
                ""
            };
            format!("flags {v}{critical}")
        })?;
        let len = self.u8(r, 2, |v| format!("tag length {v}"))?;
        self.take(r, usize::from(len), 2, |b| format!("tag {}", quoted(b)))?;
        let rest = r.remaining();
        self.take(r, rest, 2, |b| format!("value {}", quoted(b)))?;
        Ok(())
    }

    fn opaque(&mut self, r: &mut Reader<'a>) -> Step {
        let len = r.remaining();
        if len == 0 {
            return Ok(());
        }
        self.take(r, len, 2, |b| match len {
            0..=16 => format!(r"RDATA \# {len} {}", present::hex(b)),
            _ => format!("RDATA: {len} bytes, shown as is (RFC 3597)"),
        })?;
        Ok(())
    }

    /// A name label by label. The decoder checks the whole name first; the walk then shows
    /// each label and pointer, and on a bad name stops where it goes wrong and reports the
    /// decoder's reason.
    fn name(&mut self, r: &mut Reader<'a>, depth: usize, what: &str) -> Step {
        let checked = r.clone().name();
        match &checked {
            Ok(name) => self.note(depth, format!("{what}: {name}")),
            Err(_) => self.note(depth, format!("{what} (malformed)")),
        }
        let verdict = |err: WireError| Err(checked.clone().err().unwrap_or(err));
        loop {
            let len = match r.clone().u8() {
                Ok(len) => len,
                Err(err) => return verdict(err),
            };
            let step = match len >> 6 {
                0 if len == 0 => self.take(r, 1, depth + 1, |_| "root label: end of name".into()),
                0 => self.take(r, 1 + usize::from(len), depth + 1, |b| {
                    format!(
                        "label of {len}: {}",
                        label_text(b.get(1..).unwrap_or_default())
                    )
                }),
                3 => self.pointer(r, depth + 1, checked.is_ok()),
                _ => {
                    return verdict(WireError::BadLabelType {
                        at: r.position(),
                        byte: len,
                    });
                }
            };
            if let Err(err) = step {
                return verdict(err);
            }
            if len == 0 || len >> 6 == 3 {
                return checked.map(drop);
            }
        }
    }

    fn pointer(
        &mut self,
        r: &mut Reader<'a>,
        depth: usize,
        valid: bool,
    ) -> Result<&'a [u8], WireError> {
        let buf = self.buf;
        self.take(r, 2, depth, |b| {
            let target = match b {
                [high, low] => usize::from(u16::from_be_bytes([high & 0x3f, *low])),
                _ => 0,
            };
            let name = valid
                .then(|| Reader::at(buf, target).name().ok())
                .flatten()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default();
            format!("pointer to offset {target}{name}")
        })
    }
}

fn capitalized(section: Section) -> &'static str {
    match section {
        Section::Question => "Question",
        Section::Answer => "Answer",
        Section::Authority => "Authority",
        Section::Additional => "Additional",
    }
}

/// Each header flag as a bit picture: `1... .... .... .... QR = 1: response`.
fn flag_lines(flags: u16) -> Vec<String> {
    let header = Header::from_flags(0, flags);
    let yes_no = |on: bool, yes: &str, no: &str| if on { yes.to_owned() } else { no.to_owned() };
    let fields: [(u16, u16, String); 10] = [
        (
            15,
            1,
            format!("QR: {}", yes_no(header.qr, "response", "query")),
        ),
        (
            11,
            4,
            format!("Opcode: {}", Opcode::new((flags >> 11 & 0xf) as u8)),
        ),
        (
            10,
            1,
            format!(
                "AA: {}",
                yes_no(header.aa, "authoritative answer", "not authoritative")
            ),
        ),
        (
            9,
            1,
            format!("TC: {}", yes_no(header.tc, "truncated", "not truncated")),
        ),
        (
            8,
            1,
            format!(
                "RD: {}",
                yes_no(header.rd, "recursion desired", "no recursion desired")
            ),
        ),
        (
            7,
            1,
            format!(
                "RA: {}",
                yes_no(header.ra, "recursion available", "recursion not available")
            ),
        ),
        (
            6,
            1,
            format!(
                "Z: {}",
                yes_no(header.z, "reserved bit set (must be zero)", "reserved")
            ),
        ),
        (
            5,
            1,
            format!(
                "AD: {}",
                yes_no(header.ad, "authentic data", "not authenticated")
            ),
        ),
        (
            4,
            1,
            format!(
                "CD: {}",
                yes_no(header.cd, "checking disabled", "checking enabled")
            ),
        ),
        (0, 4, format!("RCODE: {}", Rcode::new(flags & 0xf))),
    ];
    fields
        .into_iter()
        .map(|(shift, width, meaning)| {
            let value = flags >> shift & ((1 << width) - 1);
            format!("{} = {value} {meaning}", bit_picture(flags, shift, width))
        })
        .collect()
}

/// `.1.. ....` style: the field's bits shown, the others dotted, in groups of four.
fn bit_picture(flags: u16, shift: u16, width: u16) -> String {
    let mut out = String::new();
    for bit in (0..16u16).rev() {
        let inside = bit >= shift && bit < shift + width;
        out.push(match (inside, flags >> bit & 1) {
            (false, _) => '.',
            (true, 1) => '1',
            (true, _) => '0',
        });
        if bit % 4 == 0 && bit > 0 {
            out.push(' ');
        }
    }
    out
}

fn option_meaning(code: u16, data: &[u8]) -> String {
    match (code, data.len()) {
        (EdnsOption::COOKIE, 8) => format!("client cookie {}", present::hex(data)),
        (EdnsOption::COOKIE, _) => {
            let (client, server) = data.split_at(data.len().min(8));
            format!(
                "client cookie {}, server cookie {}",
                present::hex(client),
                present::hex(server)
            )
        }
        (EdnsOption::PADDING, len) => format!("{len} bytes of padding"),
        (EdnsOption::NSID, _) => format!("server identifier {}", quoted(data)),
        (_, len) => format!("option data, {len} bytes"),
    }
}

fn ipv4(bytes: &[u8]) -> String {
    <[u8; 4]>::try_from(bytes).map_or_else(|_| "?".into(), |b| Ipv4Addr::from(b).to_string())
}

fn ipv6(bytes: &[u8]) -> String {
    <[u8; 16]>::try_from(bytes).map_or_else(|_| "?".into(), |b| Ipv6Addr::from(b).to_string())
}

/// A label in presentation form, without the trailing dot.
fn label_text(label: &[u8]) -> String {
    let text = Name::from_labels([label]).map_or_else(|_| "?".into(), |n| n.to_string());
    format!("\"{}\"", text.strip_suffix('.').unwrap_or(&text))
}

fn quoted(bytes: &[u8]) -> String {
    struct Quoted<'b>(&'b [u8]);
    impl std::fmt::Display for Quoted<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            present::write_quoted(f, self.0)
        }
    }
    Quoted(bytes).to_string()
}

/// `3600` → `1h`, `5400` → `1h30m`, `0` → `0s`.
fn duration(seconds: u32) -> String {
    let mut rest = seconds;
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3600),
        ("m", 60),
        ("s", 1),
    ] {
        let count = rest / size;
        if count > 0 {
            let _ = write!(out, "{count}{unit}");
            rest %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

#[cfg(test)]
mod tests;
