//! RDATA: the typed contents of a resource record, in wire and presentation form.
//!
//! RFC 1035 §3.3 (A, NS, CNAME, PTR, MX, TXT, SOA) and §5.1 (their zone-file text), RFC 3596 §2
//! (AAAA), RFC 2782 (SRV; its target is never compressed), RFC 8659 §4.1 (CAA), and RFC 3597
//! (any other type kept as opaque bytes, written `\# <length> <hex>` in text, a form also accepted
//! for the known types).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::error::{TextError, WireError};
use super::name::Name;
use super::present::{self, Token, parse_ttl, unescape, write_quoted};
use super::reader::Reader;
use super::types::RecordType;
use super::writer::Writer;

/// RFC 8659 §4.1: a CAA tag is 1–15 ASCII letters and digits.
const MAX_CAA_TAG_LEN: usize = 15;

/// The data of one resource record.
///
/// Two conventions keep wire round trips exact:
/// - zero-length RDATA always decodes as [`RData::Unknown`] with empty `data`, whatever the type:
///   for the typed forms it only occurs in UPDATE messages (RFC 2136 §2.4–2.5) or as a malformed
///   TXT, and neither has a typed meaning;
/// - an `Unknown` whose type is one of the typed ones and whose data is not empty decodes back
///   as the typed variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// One or more character-strings of at most 255 bytes each.
    Txt(Vec<Vec<u8>>),
    Soa {
        mname: Name,
        /// The responsible person's mailbox, `hostmaster.example.com.` for hostmaster@example.com.
        rname: Name,
        serial: u32,
        refresh: u32,
        retry: u32,
        expire: u32,
        /// RFC 2308 §4: the TTL of negative answers.
        minimum: u32,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Caa {
        /// Bit 7 (128) is "issuer critical".
        flags: u8,
        /// `issue`, `issuewild`, `iodef`, ...: 1–15 ASCII letters and digits.
        tag: String,
        value: Vec<u8>,
    },
    /// Any other type, or an empty RDATA (see the type documentation).
    Unknown {
        rtype: RecordType,
        data: Vec<u8>,
    },
}

impl RData {
    pub fn rtype(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::AAAA,
            Self::Ns(_) => RecordType::NS,
            Self::Cname(_) => RecordType::CNAME,
            Self::Ptr(_) => RecordType::PTR,
            Self::Mx { .. } => RecordType::MX,
            Self::Txt(_) => RecordType::TXT,
            Self::Soa { .. } => RecordType::SOA,
            Self::Srv { .. } => RecordType::SRV,
            Self::Caa { .. } => RecordType::CAA,
            Self::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Whether `rtype` has a typed variant here (all others are [`RData::Unknown`]).
    pub fn is_typed(rtype: RecordType) -> bool {
        matches!(
            rtype,
            RecordType::A
                | RecordType::AAAA
                | RecordType::NS
                | RecordType::CNAME
                | RecordType::PTR
                | RecordType::MX
                | RecordType::TXT
                | RecordType::SOA
                | RecordType::SRV
                | RecordType::CAA
        )
    }

    /// The names inside the RDATA that a server may need to chase (additional-section
    /// processing, CNAME chains): NS, CNAME, PTR, MX, SRV targets and the SOA MNAME.
    pub fn target_name(&self) -> Option<&Name> {
        match self {
            Self::Ns(name) | Self::Cname(name) | Self::Ptr(name) => Some(name),
            Self::Mx { exchange, .. } => Some(exchange),
            Self::Srv { target, .. } => Some(target),
            Self::Soa { mname, .. } => Some(mname),
            _ => None,
        }
    }

    /// Decodes uncompressed RDATA bytes, as carried by the `\#` form.
    pub fn from_wire(rtype: RecordType, data: &[u8]) -> Result<RData, WireError> {
        Self::decode(rtype, &mut Reader::new(data))
    }

    /// Decodes RDATA from a reader whose window is exactly the RDLENGTH bytes.
    pub(crate) fn decode(rtype: RecordType, r: &mut Reader<'_>) -> Result<RData, WireError> {
        let start = r.position();
        let rdlength = r.remaining();
        if rdlength == 0 {
            return Ok(Self::Unknown {
                rtype,
                data: Vec::new(),
            });
        }
        let rdata = Self::decode_fields(rtype, r)
            .map_err(|err| as_length_error(err, rtype, start, rdlength))?;
        if !r.is_empty() {
            return Err(WireError::RdataLength {
                rtype,
                at: start,
                rdlength,
                used: r.position() - start,
            });
        }
        Ok(rdata)
    }

    fn decode_fields(rtype: RecordType, r: &mut Reader<'_>) -> Result<RData, WireError> {
        Ok(match rtype {
            RecordType::A => Self::A(Ipv4Addr::from(r.array::<4>()?)),
            RecordType::AAAA => Self::Aaaa(Ipv6Addr::from(r.array::<16>()?)),
            RecordType::NS => Self::Ns(r.name()?),
            RecordType::CNAME => Self::Cname(r.name()?),
            RecordType::PTR => Self::Ptr(r.name()?),
            RecordType::MX => Self::Mx {
                preference: r.u16()?,
                exchange: r.name()?,
            },
            RecordType::TXT => Self::Txt(decode_strings(r)?),
            RecordType::SOA => decode_soa(r)?,
            RecordType::SRV => Self::Srv {
                priority: r.u16()?,
                weight: r.u16()?,
                port: r.u16()?,
                // RFC 2782 forbids compressing the target; decoders are lenient anyway.
                target: r.name()?,
            },
            RecordType::CAA => decode_caa(r)?,
            _ => Self::Unknown {
                rtype,
                data: r.rest().to_vec(),
            },
        })
    }

    /// The address of an A or AAAA record.
    pub fn address(&self) -> Option<std::net::IpAddr> {
        match self {
            Self::A(v4) => Some((*v4).into()),
            Self::Aaaa(v6) => Some((*v6).into()),
            _ => None,
        }
    }

    /// Writes the RDATA (without RDLENGTH), compressing names where RFC 3597 §4 allows.
    pub(crate) fn encode(&self, w: &mut Writer) {
        self.write(w, true);
    }

    /// Writes the RDATA; with `compress`, the names of the types RFC 3597 §4 lists may point
    /// back into the message (never SRV's, RFC 2782).
    fn write(&self, w: &mut Writer, compress: bool) {
        match self {
            Self::A(addr) => w.bytes(&addr.octets()),
            Self::Aaaa(addr) => w.bytes(&addr.octets()),
            Self::Ns(name) | Self::Cname(name) | Self::Ptr(name) => w.name(name, compress),
            Self::Mx {
                preference,
                exchange,
            } => {
                w.u16(*preference);
                w.name(exchange, compress);
            }
            Self::Txt(strings) => encode_strings(w, strings),
            Self::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                w.name(mname, compress);
                w.name(rname, compress);
                for value in [serial, refresh, retry, expire, minimum] {
                    w.u32(*value);
                }
            }
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                w.u16(*priority);
                w.u16(*weight);
                w.u16(*port);
                w.name(target, false);
            }
            Self::Caa { flags, tag, value } => {
                w.u8(*flags);
                w.character_string(tag.as_bytes());
                w.bytes(value);
            }
            Self::Unknown { data, .. } => w.bytes(data),
        }
    }

    /// The uncompressed wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut w = Writer::new();
        // Even in a fresh writer the SOA RNAME could point into the MNAME, so compression is off.
        self.write(&mut w, false);
        w.into_bytes()
    }

    /// Checks the limits a value built by hand could break: character-strings ≤ 255 bytes,
    /// CAA tag 1–15 letters and digits, whole RDATA ≤ 65,535 bytes. Encoding never fails; it cuts
    /// what does not fit (TXT strings are split at 255 bytes, a longer CAA tag is cut).
    pub fn validate(&self) -> Result<(), TextError> {
        match self {
            Self::Txt(strings) => {
                if strings.is_empty() {
                    return Err(TextError::FieldCount {
                        rtype: RecordType::TXT,
                        expected: "at least one character-string",
                        got: 0,
                    });
                }
                if let Some(long) = strings.iter().find(|s| s.len() > 255) {
                    return Err(TextError::StringTooLong { len: long.len() });
                }
            }
            Self::Caa { tag, .. } if !is_caa_tag(tag.as_bytes()) => {
                return Err(TextError::Bad {
                    what: "CAA tag",
                    text: tag.clone(),
                });
            }
            _ => {}
        }
        let len = self.to_wire().len();
        if len > usize::from(u16::MAX) {
            return Err(TextError::Bad {
                what: "RDATA length",
                text: len.to_string(),
            });
        }
        Ok(())
    }

    /// Parses the RDATA fields of a zone-file line (see [`Token`] for the token contract).
    /// Names are relative to `origin`. The RFC 3597 form `\# <length> <hex>...` is accepted for
    /// every type and yields the typed variant when the type has one.
    pub fn parse(rtype: RecordType, tokens: &[Token], origin: &Name) -> Result<RData, TextError> {
        if let Some(first) = tokens.first()
            && !first.quoted
            && first.text == b"\\#"
        {
            return parse_generic(rtype, tokens.get(1..).unwrap_or_default());
        }
        match rtype {
            RecordType::A => parse_address(rtype, tokens).map(Self::A),
            RecordType::AAAA => parse_address(rtype, tokens).map(Self::Aaaa),
            RecordType::NS => parse_single_name(rtype, tokens, origin).map(Self::Ns),
            RecordType::CNAME => parse_single_name(rtype, tokens, origin).map(Self::Cname),
            RecordType::PTR => parse_single_name(rtype, tokens, origin).map(Self::Ptr),
            RecordType::MX => parse_mx(tokens, origin),
            RecordType::TXT => parse_txt(tokens),
            RecordType::SOA => parse_soa(tokens, origin),
            RecordType::SRV => parse_srv(tokens, origin),
            RecordType::CAA => parse_caa(tokens),
            _ => Err(TextError::NoPresentation { rtype }),
        }
    }

    /// [`RData::parse`] over one line of text, split with [`Token::split`].
    pub fn from_text(rtype: RecordType, text: &str, origin: &Name) -> Result<RData, TextError> {
        Self::parse(rtype, &Token::split(text)?, origin)
    }
}

/// A read past the RDATA window means RDLENGTH was too short for the fields.
fn as_length_error(err: WireError, rtype: RecordType, start: usize, rdlength: usize) -> WireError {
    match err {
        // Truncated reports the shortfall past the window's end.
        WireError::Truncated { at, needed } if at >= start && at <= start + rdlength => {
            WireError::RdataLength {
                rtype,
                at: start,
                rdlength,
                used: rdlength + needed,
            }
        }
        other => other,
    }
}

fn decode_strings(r: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, WireError> {
    let mut strings = Vec::new();
    while !r.is_empty() {
        strings.push(r.character_string()?.to_vec());
    }
    Ok(strings)
}

fn encode_strings(w: &mut Writer, strings: &[Vec<u8>]) {
    for string in strings {
        if string.is_empty() {
            w.character_string(&[]);
        }
        for chunk in string.chunks(255) {
            w.character_string(chunk);
        }
    }
}

fn decode_soa(r: &mut Reader<'_>) -> Result<RData, WireError> {
    Ok(RData::Soa {
        mname: r.name()?,
        rname: r.name()?,
        serial: r.u32()?,
        refresh: r.u32()?,
        retry: r.u32()?,
        expire: r.u32()?,
        minimum: r.u32()?,
    })
}

fn decode_caa(r: &mut Reader<'_>) -> Result<RData, WireError> {
    let flags = r.u8()?;
    let at = r.position();
    let tag = r.character_string()?;
    if !is_caa_tag(tag) {
        return Err(WireError::RdataInvalid {
            rtype: RecordType::CAA,
            at,
            reason: "tag must be 1-15 ASCII letters or digits",
        });
    }
    Ok(RData::Caa {
        flags,
        tag: String::from_utf8_lossy(tag).into_owned(),
        value: r.rest().to_vec(),
    })
}

fn is_caa_tag(tag: &[u8]) -> bool {
    (1..=MAX_CAA_TAG_LEN).contains(&tag.len()) && tag.iter().all(u8::is_ascii_alphanumeric)
}

fn fields<'t, const N: usize>(
    rtype: RecordType,
    tokens: &'t [Token],
    expected: &'static str,
) -> Result<&'t [Token; N], TextError> {
    tokens.try_into().map_err(|_| TextError::FieldCount {
        rtype,
        expected,
        got: tokens.len(),
    })
}

/// Plain decimal, no sign: what zone files use for every integer field.
fn number<T: FromStr>(token: &Token, what: &'static str) -> Result<T, TextError> {
    let bad = || TextError::Bad {
        what,
        text: token.lossy(),
    };
    if token.quoted || token.text.is_empty() || !token.text.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(&token.text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(bad)
}

/// A time field (SOA timers) in seconds or with units.
fn seconds(token: &Token) -> Result<u32, TextError> {
    let text = std::str::from_utf8(&token.text).map_err(|_| TextError::BadTtl(token.lossy()))?;
    parse_ttl(text)
}

fn name(token: &Token, origin: &Name) -> Result<Name, TextError> {
    let error = |source| TextError::Name {
        text: token.lossy(),
        source,
    };
    if token.quoted {
        // A quoted token lost its escapes, so `a\.b` and `a.b` could not be told apart.
        return Err(TextError::Bad {
            what: "name (names are not quoted)",
            text: token.lossy(),
        });
    }
    Name::from_presentation(&token.text, origin).map_err(error)
}

/// A character-string field: quoted tokens are ready, bare ones still carry escapes.
fn character_string(token: &Token) -> Result<Vec<u8>, TextError> {
    let bytes = if token.quoted {
        token.text.clone()
    } else {
        unescape(&token.text)?
    };
    if bytes.len() > 255 {
        return Err(TextError::StringTooLong { len: bytes.len() });
    }
    Ok(bytes)
}

fn parse_address<T: FromStr>(rtype: RecordType, tokens: &[Token]) -> Result<T, TextError> {
    let [token] = fields(rtype, tokens, "one address")?;
    let bad = || TextError::Bad {
        what: "address",
        text: token.lossy(),
    };
    let text = std::str::from_utf8(&token.text).map_err(|_| bad())?;
    text.parse().map_err(|_| bad())
}

fn parse_single_name(
    rtype: RecordType,
    tokens: &[Token],
    origin: &Name,
) -> Result<Name, TextError> {
    let [token] = fields(rtype, tokens, "one name")?;
    name(token, origin)
}

fn parse_mx(tokens: &[Token], origin: &Name) -> Result<RData, TextError> {
    let [preference, exchange] = fields(RecordType::MX, tokens, "<preference> <exchange>")?;
    Ok(RData::Mx {
        preference: number(preference, "MX preference")?,
        exchange: name(exchange, origin)?,
    })
}

fn parse_txt(tokens: &[Token]) -> Result<RData, TextError> {
    if tokens.is_empty() {
        return Err(TextError::FieldCount {
            rtype: RecordType::TXT,
            expected: "at least one character-string",
            got: 0,
        });
    }
    tokens
        .iter()
        .map(character_string)
        .collect::<Result<_, _>>()
        .map(RData::Txt)
}

fn parse_soa(tokens: &[Token], origin: &Name) -> Result<RData, TextError> {
    let [mname, rname, serial, refresh, retry, expire, minimum] = fields(
        RecordType::SOA,
        tokens,
        "<mname> <rname> <serial> <refresh> <retry> <expire> <minimum>",
    )?;
    Ok(RData::Soa {
        mname: name(mname, origin)?,
        rname: name(rname, origin)?,
        serial: number(serial, "SOA serial")?,
        refresh: seconds(refresh)?,
        retry: seconds(retry)?,
        expire: seconds(expire)?,
        minimum: seconds(minimum)?,
    })
}

fn parse_srv(tokens: &[Token], origin: &Name) -> Result<RData, TextError> {
    let [priority, weight, port, target] = fields(
        RecordType::SRV,
        tokens,
        "<priority> <weight> <port> <target>",
    )?;
    Ok(RData::Srv {
        priority: number(priority, "SRV priority")?,
        weight: number(weight, "SRV weight")?,
        port: number(port, "SRV port")?,
        target: name(target, origin)?,
    })
}

fn parse_caa(tokens: &[Token]) -> Result<RData, TextError> {
    let [flags, tag, value] = fields(RecordType::CAA, tokens, "<flags> <tag> <value>")?;
    if tag.quoted || !is_caa_tag(&tag.text) {
        return Err(TextError::Bad {
            what: "CAA tag",
            text: tag.lossy(),
        });
    }
    let value = if value.quoted {
        value.text.clone()
    } else {
        unescape(&value.text)?
    };
    Ok(RData::Caa {
        flags: number(flags, "CAA flags")?,
        tag: tag.lossy(),
        value,
    })
}

/// RFC 3597 §5: `\# <length> <hex>...`; the hex may be split into several fields.
fn parse_generic(rtype: RecordType, tokens: &[Token]) -> Result<RData, TextError> {
    let Some((length, hex_tokens)) = tokens.split_first() else {
        return Err(TextError::FieldCount {
            rtype,
            expected: r"\# <length> <hex>",
            got: 1,
        });
    };
    let length: u16 = number(length, r"\# length")?;
    let hex: Vec<u8> = hex_tokens
        .iter()
        .flat_map(|token| token.text.iter().copied())
        .collect();
    let data = present::unhex(&hex)
        .filter(|data| data.len() == usize::from(length))
        .ok_or_else(|| TextError::Bad {
            what: r"\# hex data",
            text: String::from_utf8_lossy(&hex).into_owned(),
        })?;
    RData::from_wire(rtype, &data).map_err(|source| TextError::Wire { rtype, source })
}

impl fmt::Display for RData {
    /// The zone-file form, as dig prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::A(addr) => write!(f, "{addr}"),
            Self::Aaaa(addr) => write!(f, "{addr}"),
            Self::Ns(name) | Self::Cname(name) | Self::Ptr(name) => write!(f, "{name}"),
            Self::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            Self::Txt(strings) if strings.is_empty() => f.write_str(r"\# 0"),
            Self::Txt(strings) => write_strings(f, strings),
            Self::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
            ),
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            Self::Caa { flags, tag, value } => {
                write!(f, "{flags} {tag} ")?;
                write_quoted(f, value)
            }
            Self::Unknown { data, .. } if data.is_empty() => f.write_str(r"\# 0"),
            Self::Unknown { data, .. } => write_generic(f, data),
        }
    }
}

/// RFC 3597 §5 `\# <length> <hex>`, laid out as dig does: upper-case hex in groups of 28 bytes.
fn write_generic(f: &mut fmt::Formatter<'_>, data: &[u8]) -> fmt::Result {
    write!(f, r"\# {}", data.len())?;
    for chunk in data.chunks(28) {
        write!(f, " {}", present::hex(chunk).to_ascii_uppercase())?;
    }
    Ok(())
}

fn write_strings(f: &mut fmt::Formatter<'_>, strings: &[Vec<u8>]) -> fmt::Result {
    for (index, string) in strings.iter().enumerate() {
        if index > 0 {
            f.write_str(" ")?;
        }
        write_quoted(f, string)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::arb_rdata;
    use proptest::prelude::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn origin() -> Name {
        name("example.com.")
    }

    fn text(rtype: RecordType, text: &str) -> Result<RData, TextError> {
        RData::from_text(rtype, text, &origin())
    }

    #[test]
    fn presentation_forms() {
        let cases = [
            (RecordType::A, "192.0.2.1", "192.0.2.1"),
            (RecordType::AAAA, "2001:DB8:0:0::1", "2001:db8::1"),
            (RecordType::NS, "ns1", "ns1.example.com."),
            (RecordType::CNAME, "@", "example.com."),
            (RecordType::PTR, "host.example.net.", "host.example.net."),
            (RecordType::MX, "10 mail", "10 mail.example.com."),
            (
                RecordType::TXT,
                r#""hello \"world\"" two \065"#,
                r#""hello \"world\"" "two" "A""#,
            ),
            (RecordType::TXT, r#""" "\009\255""#, r#""" "\009\255""#),
            (
                RecordType::SOA,
                "ns1 hostmaster 2024010101 2h 1h 2w 1h",
                "ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 3600",
            ),
            (RecordType::SRV, "0 5 5060 sip", "0 5 5060 sip.example.com."),
            (
                RecordType::CAA,
                r#"0 issue "letsencrypt.org""#,
                r#"0 issue "letsencrypt.org""#,
            ),
            (
                RecordType::CAA,
                "128 iodef mailto:a@b",
                r#"128 iodef "mailto:a@b""#,
            ),
            (RecordType(65280), r"\# 4 0a00 0001", r"\# 4 0A000001"),
            (RecordType(65280), r"\# 0", r"\# 0"),
            (RecordType::A, r"\# 4 c0000201", "192.0.2.1"),
        ];
        for (rtype, input, shown) in cases {
            let rdata = text(rtype, input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(rdata.to_string(), shown, "{input}");
            assert_eq!(rdata.rtype(), rtype);
            assert_eq!(text(rtype, shown), Ok(rdata), "{shown}");
        }
    }

    #[test]
    fn presentation_errors() {
        let cases = [
            (RecordType::A, "192.0.2"),
            (RecordType::A, "192.0.2.1 extra"),
            (RecordType::AAAA, "192.0.2.1"),
            (RecordType::MX, "mail 10"),
            (RecordType::MX, "-1 mail"),
            (RecordType::MX, "65536 mail"),
            (RecordType::NS, r#""quoted.name.""#),
            (RecordType::TXT, ""),
            (RecordType::SOA, "ns1 hostmaster 1 2 3 4"),
            (RecordType::SOA, "ns1 hostmaster 1 2 3 4 1h30"),
            (RecordType::CAA, r#"0 "issue" "x""#),
            (RecordType::CAA, "0 is-sue x"),
            (RecordType::CAA, "0 abcdefghijklmnop x"),
            (RecordType(65280), "0a000001"),
            (RecordType(65280), r"\# 3 0a000001"),
            (RecordType(65280), r"\# 2 0g00"),
            (RecordType(65280), r"\#"),
            (RecordType::A, r"\# 3 c00002"),
        ];
        for (rtype, input) in cases {
            assert!(text(rtype, input).is_err(), "{rtype} {input:?} should fail");
        }
        let long = format!("\"{}\"", "x".repeat(256));
        assert_eq!(
            text(RecordType::TXT, &long),
            Err(TextError::StringTooLong { len: 256 })
        );
    }

    #[test]
    fn wire_decoding_checks_rdlength() {
        let a = |bytes: &[u8]| RData::from_wire(RecordType::A, bytes);
        assert_eq!(
            a(&[192, 0, 2, 1]),
            Ok(RData::A(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert!(matches!(
            a(&[192, 0, 2]),
            Err(WireError::RdataLength {
                used: 4,
                rdlength: 3,
                ..
            })
        ));
        assert!(matches!(
            a(&[192, 0, 2, 1, 0]),
            Err(WireError::RdataLength {
                used: 4,
                rdlength: 5,
                ..
            })
        ));
        assert_eq!(
            a(&[]),
            Ok(RData::Unknown {
                rtype: RecordType::A,
                data: vec![]
            })
        );
        let mx = RData::from_wire(RecordType::MX, b"\x00\x0a\x04mail\x00\x00");
        assert!(matches!(
            mx,
            Err(WireError::RdataLength {
                used: 8,
                rdlength: 9,
                ..
            })
        ));
        let txt = RData::from_wire(RecordType::TXT, b"\x05hello\x00");
        assert_eq!(txt, Ok(RData::Txt(vec![b"hello".to_vec(), vec![]])));
        assert!(RData::from_wire(RecordType::TXT, b"\x05hell").is_err());
        let caa = RData::from_wire(RecordType::CAA, b"\x00\x00value");
        assert!(matches!(caa, Err(WireError::RdataInvalid { .. })));
        let caa = RData::from_wire(RecordType::CAA, b"\x00\x02a-x");
        assert!(matches!(caa, Err(WireError::RdataInvalid { .. })));
    }

    #[test]
    fn srv_target_is_not_compressed_but_mx_is() {
        let target = name("sip.example.com.");
        let mut w = Writer::new();
        w.name(&target, true);
        let before = w.len();
        RData::Srv {
            priority: 0,
            weight: 0,
            port: 5060,
            target: target.clone(),
        }
        .encode(&mut w);
        assert_eq!(w.len() - before, 6 + target.wire_len());
        let before = w.len();
        RData::Mx {
            preference: 10,
            exchange: target,
        }
        .encode(&mut w);
        assert_eq!(w.len() - before, 4);
    }

    #[test]
    fn validate_limits() {
        assert!(RData::Txt(vec![vec![0; 255]]).validate().is_ok());
        assert!(RData::Txt(vec![vec![0; 256]]).validate().is_err());
        assert!(RData::Txt(vec![]).validate().is_err());
        let caa = |tag: &str| RData::Caa {
            flags: 0,
            tag: tag.to_owned(),
            value: vec![],
        };
        assert!(caa("issue").validate().is_ok());
        assert!(caa("").validate().is_err());
        assert!(caa("issue_wild").validate().is_err());
        // Long strings are split on encoding rather than corrupted.
        let long = RData::Txt(vec![vec![b'x'; 300]]);
        let decoded = RData::from_wire(RecordType::TXT, &long.to_wire()).unwrap();
        assert_eq!(decoded, RData::Txt(vec![vec![b'x'; 255], vec![b'x'; 45]]));
    }

    proptest! {
        #[test]
        fn wire_round_trip(rdata in arb_rdata()) {
            let wire = rdata.to_wire();
            prop_assert_eq!(RData::from_wire(rdata.rtype(), &wire), Ok(rdata));
        }

        #[test]
        fn text_round_trip(rdata in arb_rdata()) {
            let shown = rdata.to_string();
            let parsed = RData::from_text(rdata.rtype(), &shown, &Name::root());
            prop_assert_eq!(parsed, Ok(rdata), "{}", shown);
        }
    }
}
