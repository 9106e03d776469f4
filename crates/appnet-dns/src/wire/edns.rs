//! EDNS(0): the OPT pseudo-record and what it carries.
//!
//! RFC 6891 §6.1 (OPT layout: owner root, CLASS = requestor's UDP payload size, TTL = extended
//! RCODE | version | DO | Z, RDATA = options), §6.2.3 (payload sizes below 512 mean 512), and the
//! option codes of RFC 7873 (COOKIE), RFC 5001 (NSID), RFC 7871 (ECS), RFC 7830 (PADDING) and
//! RFC 8914 (Extended DNS Errors) for display.

use std::fmt;

use super::error::WireError;
use super::name::Name;
use super::present;
use super::reader::Reader;
use super::types::RecordType;
use super::writer::Writer;

/// No real message carries more; a cap keeps a hostile OPT record cheap to reject.
pub const MAX_OPTIONS: usize = 64;

/// RFC 6891 §6.2.5: the smallest payload size a requestor may advertise is 512.
pub const MIN_PAYLOAD_SIZE: u16 = 512;

/// The payload size the DNS Flag Day 2020 recommends, which avoids IP fragmentation.
pub const DEFAULT_PAYLOAD_SIZE: u16 = 1232;

/// The contents of a message's OPT record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edns {
    /// As sent; use [`Edns::effective_payload_size`] to size replies.
    pub udp_payload_size: u16,
    /// The upper 8 bits of the 12-bit RCODE.
    pub extended_rcode_high: u8,
    pub version: u8,
    /// RFC 3225: DNSSEC OK.
    pub dnssec_ok: bool,
    pub options: Vec<EdnsOption>,
}

impl Default for Edns {
    fn default() -> Self {
        Self::new(DEFAULT_PAYLOAD_SIZE)
    }
}

/// One EDNS option: a code and opaque data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EdnsOption {
    pub code: u16,
    pub data: Vec<u8>,
}

impl EdnsOption {
    pub const NSID: u16 = 3;
    pub const CLIENT_SUBNET: u16 = 8;
    pub const EXPIRE: u16 = 9;
    pub const COOKIE: u16 = 10;
    pub const TCP_KEEPALIVE: u16 = 11;
    pub const PADDING: u16 = 12;
    pub const EDE: u16 = 15;

    pub fn new(code: u16, data: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            data: data.into(),
        }
    }

    /// The mnemonic dig prints, if the code has one.
    pub fn code_name(code: u16) -> Option<&'static str> {
        Some(match code {
            3 => "NSID",
            5 => "DAU",
            6 => "DHU",
            7 => "N3U",
            8 => "CLIENT-SUBNET",
            9 => "EXPIRE",
            10 => "COOKIE",
            11 => "TCP-KEEPALIVE",
            12 => "PADDING",
            13 => "CHAIN",
            14 => "KEY-TAG",
            15 => "EDE",
            _ => return None,
        })
    }
}

impl fmt::Display for EdnsOption {
    /// dig's style: `COOKIE: 0102...` as one hex string; other options as spaced hex followed
    /// by the printable bytes, `NSID: 6e 73 31 ("ns1")`; `OPT=65001:` for codes without a name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Self::code_name(self.code) {
            Some(name) => write!(f, "{name}:")?,
            None => write!(f, "OPT={}:", self.code)?,
        }
        if self.code == Self::COOKIE {
            return write!(f, " {}", present::hex(&self.data));
        }
        if self.data.is_empty() {
            return Ok(());
        }
        for b in &self.data {
            write!(f, " {b:02x}")?;
        }
        let printable: String = self
            .data
            .iter()
            .map(|&b| match b {
                0x20..=0x7e => char::from(b),
                _ => '.',
            })
            .collect();
        write!(f, " (\"{printable}\")")
    }
}

impl Edns {
    pub fn new(udp_payload_size: u16) -> Self {
        Self {
            udp_payload_size,
            extended_rcode_high: 0,
            version: 0,
            dnssec_ok: false,
            options: Vec::new(),
        }
    }

    /// RFC 6891 §6.2.3: values below 512 are treated as 512.
    pub fn effective_payload_size(&self) -> u16 {
        self.udp_payload_size.max(MIN_PAYLOAD_SIZE)
    }

    /// The data of the first option with `code`.
    pub fn option(&self, code: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|option| option.code == code)
            .map(|option| option.data.as_slice())
    }

    /// The size of the OPT record in wire form.
    pub fn wire_len(&self) -> usize {
        let options: usize = self.options.iter().map(|o| 4 + o.data.len()).sum();
        1 + 10 + options
    }

    /// The OPT TTL field: extended RCODE, version, then the DO bit at the top of the flags.
    fn ttl(&self) -> u32 {
        let flags: u16 = if self.dnssec_ok { 0x8000 } else { 0 };
        u32::from(self.extended_rcode_high) << 24 | u32::from(self.version) << 16 | u32::from(flags)
    }

    /// Reads an OPT record after its owner and TYPE; the Z bits are ignored as RFC 6891 §6.1.4
    /// tells receivers to.
    pub(crate) fn decode_after_type(r: &mut Reader<'_>) -> Result<Edns, WireError> {
        let udp_payload_size = r.u16()?;
        let [extended_rcode_high, version, flags_high, _flags_low] = r.array::<4>()?;
        let rdlength = usize::from(r.u16()?);
        let mut rdata = r.sub(rdlength)?;
        Ok(Edns {
            udp_payload_size,
            extended_rcode_high,
            version,
            dnssec_ok: flags_high & 0x80 != 0,
            options: decode_options(&mut rdata)?,
        })
    }

    /// Writes the whole OPT record. Options that would overflow RDLENGTH are left out.
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.name(&Name::root(), false);
        w.u16(RecordType::OPT.0);
        w.u16(self.udp_payload_size);
        w.u32(self.ttl());
        let rdlength_at = w.len();
        w.u16(0);
        let start = w.mark();
        for option in &self.options {
            let Ok(len) = u16::try_from(option.data.len()) else {
                continue;
            };
            if w.written_since(start) + 4 + option.data.len() > usize::from(u16::MAX) {
                break;
            }
            w.u16(option.code);
            w.u16(len);
            w.bytes(&option.data);
        }
        let rdlength = u16::try_from(w.written_since(start)).unwrap_or(u16::MAX);
        w.patch_u16(rdlength_at, rdlength);
    }
}

fn decode_options(r: &mut Reader<'_>) -> Result<Vec<EdnsOption>, WireError> {
    let mut options = Vec::new();
    while !r.is_empty() {
        if options.len() == MAX_OPTIONS {
            return Err(WireError::TooManyOptions { max: MAX_OPTIONS });
        }
        let code = r.u16()?;
        let len = usize::from(r.u16()?);
        options.push(EdnsOption {
            code,
            data: r.bytes(len)?.to_vec(),
        });
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(edns: &Edns) -> Edns {
        let mut w = Writer::new();
        edns.encode(&mut w);
        assert_eq!(w.len(), edns.wire_len());
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.name().unwrap(), Name::root());
        assert_eq!(r.u16(), Ok(41));
        let decoded = Edns::decode_after_type(&mut r).unwrap();
        assert!(r.is_empty());
        decoded
    }

    #[test]
    fn opt_layout() {
        let edns = Edns {
            udp_payload_size: 4096,
            extended_rcode_high: 1,
            version: 0,
            dnssec_ok: true,
            options: vec![EdnsOption::new(
                EdnsOption::COOKIE,
                [1, 2, 3, 4, 5, 6, 7, 8],
            )],
        };
        let mut w = Writer::new();
        edns.encode(&mut w);
        assert_eq!(
            w.as_bytes(),
            b"\x00\x00\x29\x10\x00\x01\x00\x80\x00\x00\x0c\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08"
        );
        assert_eq!(round_trip(&edns), edns);
        assert_eq!(
            edns.option(EdnsOption::COOKIE),
            Some(&[1, 2, 3, 4, 5, 6, 7, 8][..])
        );
        assert_eq!(edns.option(EdnsOption::NSID), None);
        assert_eq!(edns.options[0].to_string(), "COOKIE: 0102030405060708");
        assert_eq!(
            EdnsOption::new(3, *b"ns1").to_string(),
            r#"NSID: 6e 73 31 ("ns1")"#
        );
        assert_eq!(
            EdnsOption::new(65001, [0x61, 0]).to_string(),
            r#"OPT=65001: 61 00 ("a.")"#
        );
        assert_eq!(EdnsOption::new(12, []).to_string(), "PADDING:");
    }

    #[test]
    fn small_payload_sizes_mean_512() {
        assert_eq!(Edns::new(0).effective_payload_size(), 512);
        assert_eq!(Edns::new(1232).effective_payload_size(), 1232);
    }

    #[test]
    fn option_limits() {
        let mut rdata = Vec::new();
        for _ in 0..=MAX_OPTIONS {
            rdata.extend_from_slice(&[0, 12, 0, 0]);
        }
        assert_eq!(
            decode_options(&mut Reader::new(&rdata)),
            Err(WireError::TooManyOptions { max: MAX_OPTIONS })
        );
        assert!(decode_options(&mut Reader::new(&[0, 12, 0, 5, 0])).is_err());
        assert!(decode_options(&mut Reader::new(&[0, 12, 0])).is_err());
    }
}
