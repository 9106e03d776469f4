//! The small numeric registries of the DNS: record TYPE, CLASS, OPCODE and RCODE, with their
//! mnemonics.
//!
//! RFC 1035 §3.2.2–3.2.5 and §4.1.1, RFC 3596 (AAAA), RFC 2782 (SRV), RFC 6891 §6.1.3 (OPT and the
//! extended RCODE), RFC 8659 (CAA), RFC 2136 (UPDATE RCODEs), and RFC 3597 §5 for the generic
//! `TYPE1234` / `CLASS1234` forms that name any value without a mnemonic.

use std::fmt;
use std::str::FromStr;

use super::error::TextError;

/// A record TYPE (or QTYPE). Every 16-bit value is valid; the constants name the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u16);

impl RecordType {
    pub const A: Self = Self(1);
    pub const NS: Self = Self(2);
    pub const CNAME: Self = Self(5);
    pub const SOA: Self = Self(6);
    pub const PTR: Self = Self(12);
    pub const HINFO: Self = Self(13);
    pub const MX: Self = Self(15);
    pub const TXT: Self = Self(16);
    pub const AAAA: Self = Self(28);
    pub const SRV: Self = Self(33);
    pub const DNAME: Self = Self(39);
    pub const OPT: Self = Self(41);
    pub const DS: Self = Self(43);
    pub const RRSIG: Self = Self(46);
    pub const NSEC: Self = Self(47);
    pub const DNSKEY: Self = Self(48);
    pub const NSEC3: Self = Self(50);
    pub const SVCB: Self = Self(64);
    pub const HTTPS: Self = Self(65);
    pub const IXFR: Self = Self(251);
    pub const AXFR: Self = Self(252);
    pub const ANY: Self = Self(255);
    pub const CAA: Self = Self(257);

    /// RFC 6895 §3.1: 128–255 are meta-types and QTYPEs, never stored in a zone (OPT too).
    pub fn is_meta(self) -> bool {
        self == Self::OPT || (128..=255).contains(&self.0)
    }
}

/// Mnemonics we print and parse. Types without typed RDATA here still get their name, so dig-like
/// output reads `DNSKEY` rather than `TYPE48`; their RDATA is shown in the RFC 3597 form.
const TYPE_NAMES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (24, "SIG"),
    (25, "KEY"),
    (28, "AAAA"),
    (29, "LOC"),
    (33, "SRV"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (39, "DNAME"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (99, "SPF"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
];

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup_name(TYPE_NAMES, self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl FromStr for RecordType {
    type Err = TextError;

    /// Mnemonics are case-insensitive (RFC 1035 §5.1); `TYPE1234` is RFC 3597 §5.
    fn from_str(text: &str) -> Result<Self, TextError> {
        lookup_value(TYPE_NAMES, text)
            .or_else(|| generic_number(text, "TYPE"))
            .map(Self)
            .ok_or_else(|| TextError::UnknownType(text.to_owned()))
    }
}

/// A CLASS (or QCLASS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u16);

impl Class {
    pub const IN: Self = Self(1);
    pub const CH: Self = Self(3);
    pub const HS: Self = Self(4);
    /// RFC 2136 §2.4: "delete this RR" in UPDATE prerequisites and updates.
    pub const NONE: Self = Self(254);
    pub const ANY: Self = Self(255);
}

const CLASS_NAMES: &[(u16, &str)] = &[(1, "IN"), (3, "CH"), (4, "HS"), (254, "NONE"), (255, "ANY")];

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup_name(CLASS_NAMES, self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "CLASS{}", self.0),
        }
    }
}

impl FromStr for Class {
    type Err = TextError;

    fn from_str(text: &str) -> Result<Self, TextError> {
        // BIND also accepts the long spellings of CH and HS.
        let alias = match text.to_ascii_uppercase().as_str() {
            "CHAOS" => Some(3),
            "HESIOD" => Some(4),
            _ => None,
        };
        alias
            .or_else(|| lookup_value(CLASS_NAMES, text))
            .or_else(|| generic_number(text, "CLASS"))
            .map(Self)
            .ok_or_else(|| TextError::UnknownClass(text.to_owned()))
    }
}

/// The 4-bit OPCODE of the header (RFC 1035 §4.1.1, RFC 1996 NOTIFY, RFC 2136 UPDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Opcode(u8);

impl Opcode {
    pub const QUERY: Self = Self(0);
    pub const IQUERY: Self = Self(1);
    pub const STATUS: Self = Self(2);
    pub const NOTIFY: Self = Self(4);
    pub const UPDATE: Self = Self(5);
    pub const DSO: Self = Self(6);

    /// Keeps the low 4 bits, the width of the header field.
    pub const fn new(value: u8) -> Self {
        Self(value & 0x0f)
    }

    pub const fn value(self) -> u8 {
        self.0
    }
}

const OPCODE_NAMES: &[(u16, &str)] = &[
    (0, "QUERY"),
    (1, "IQUERY"),
    (2, "STATUS"),
    (4, "NOTIFY"),
    (5, "UPDATE"),
    (6, "DSO"),
];

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup_name(OPCODE_NAMES, u16::from(self.0)) {
            Some(name) => f.write_str(name),
            None => write!(f, "RESERVED{}", self.0),
        }
    }
}

/// A response code of up to 12 bits: the header's 4 bits, extended by the OPT record's upper
/// 8 bits (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Rcode(u16);

impl Rcode {
    pub const NOERROR: Self = Self(0);
    pub const FORMERR: Self = Self(1);
    pub const SERVFAIL: Self = Self(2);
    pub const NXDOMAIN: Self = Self(3);
    pub const NOTIMP: Self = Self(4);
    pub const REFUSED: Self = Self(5);
    pub const YXDOMAIN: Self = Self(6);
    pub const YXRRSET: Self = Self(7);
    pub const NXRRSET: Self = Self(8);
    pub const NOTAUTH: Self = Self(9);
    pub const NOTZONE: Self = Self(10);
    /// RFC 6891 §9: the responder does not implement the requested EDNS version.
    pub const BADVERS: Self = Self(16);
    /// RFC 7873 §8: the server cookie is missing or wrong.
    pub const BADCOOKIE: Self = Self(23);

    /// Keeps the low 12 bits, the width of the extended RCODE.
    pub const fn new(value: u16) -> Self {
        Self(value & 0x0fff)
    }

    pub const fn value(self) -> u16 {
        self.0
    }

    /// The part carried in the header.
    pub const fn low4(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// The part carried in the OPT record's TTL field.
    pub const fn high8(self) -> u8 {
        (self.0 >> 4) as u8
    }

    pub const fn from_parts(high8: u8, low4: u8) -> Self {
        Self(((high8 as u16) << 4) | (low4 as u16 & 0x0f))
    }
}

const RCODE_NAMES: &[(u16, &str)] = &[
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    (7, "YXRRSET"),
    (8, "NXRRSET"),
    (9, "NOTAUTH"),
    (10, "NOTZONE"),
    (16, "BADVERS"),
    (23, "BADCOOKIE"),
];

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup_name(RCODE_NAMES, self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "RESERVED{}", self.0),
        }
    }
}

fn lookup_name(table: &[(u16, &'static str)], value: u16) -> Option<&'static str> {
    table
        .iter()
        .find(|(number, _)| *number == value)
        .map(|(_, name)| *name)
}

fn lookup_value(table: &[(u16, &str)], text: &str) -> Option<u16> {
    table
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(text))
        .map(|(number, _)| *number)
}

/// `TYPE1234` / `CLASS1234`: the prefix is case-insensitive, the number plain decimal.
fn generic_number(text: &str, prefix: &str) -> Option<u16> {
    let head = text.get(..prefix.len())?;
    let digits = text.get(prefix.len()..)?;
    if !head.eq_ignore_ascii_case(prefix) || digits.is_empty() {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_mnemonics_round_trip() {
        for value in 0..=u16::MAX {
            let rtype = RecordType(value);
            assert_eq!(rtype.to_string().parse::<RecordType>(), Ok(rtype));
        }
        assert_eq!("aaaa".parse(), Ok(RecordType::AAAA));
        assert_eq!("type65534".parse(), Ok(RecordType(65534)));
        assert_eq!(RecordType(1234).to_string(), "TYPE1234");
        assert!("TYPE".parse::<RecordType>().is_err());
        assert!("TYPE65536".parse::<RecordType>().is_err());
        assert!("TYPE+1".parse::<RecordType>().is_err());
        assert!("NOPE".parse::<RecordType>().is_err());
    }

    #[test]
    fn class_mnemonics() {
        assert_eq!("in".parse(), Ok(Class::IN));
        assert_eq!("CHAOS".parse(), Ok(Class::CH));
        assert_eq!(Class(42).to_string(), "CLASS42");
        assert_eq!("CLASS42".parse(), Ok(Class(42)));
        assert_eq!(Class::NONE.to_string(), "NONE");
    }

    #[test]
    fn rcode_parts() {
        let badvers = Rcode::BADVERS;
        assert_eq!((badvers.high8(), badvers.low4()), (1, 0));
        assert_eq!(Rcode::from_parts(1, 0), Rcode::BADVERS);
        assert_eq!(Rcode::from_parts(0, 3).to_string(), "NXDOMAIN");
        assert_eq!(Rcode::new(0xffff).value(), 0x0fff);
        assert_eq!(Opcode::new(0x1f), Opcode::new(0x0f));
        assert_eq!(Opcode::new(3).to_string(), "RESERVED3");
    }
}
