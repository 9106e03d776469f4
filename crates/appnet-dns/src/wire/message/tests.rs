use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::wire::edns::EdnsOption;
use crate::wire::testutil::arb_message;

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    crate::wire::present::unhex(&digits).unwrap()
}

/// A query `dig example.com` (BIND 9.18) sent, captured off the wire, with the ID set to 0x8b3f:
/// RD and AD set, EDNS with a 1232-byte payload and an 8-byte client COOKIE.
const DIG_QUERY: &str = "8b3f 0120 0001 0000 0000 0001
    07 6578616d706c65 03 636f6d 00 0001 0001
    00 0029 04d0 00 00 0000 000c 000a 0008 94502c68b3a060bc";

#[test]
fn dig_query_vector() {
    let bytes = unhex(DIG_QUERY);
    let message = Message::decode(&bytes).unwrap();
    let header = message.header;
    assert_eq!(header.id, 0x8b3f);
    assert_eq!(header.flags(), 0x0120);
    assert!(header.rd && header.ad && !header.qr && !header.cd);
    assert_eq!(header.opcode, Opcode::QUERY);
    let question = message.question().unwrap();
    assert_eq!(question.name, name("example.com."));
    assert_eq!(
        (question.qtype, question.qclass),
        (RecordType::A, Class::IN)
    );
    assert!(message.answers.is_empty() && message.additionals.is_empty());
    let edns = message.edns.as_ref().unwrap();
    assert_eq!(edns.udp_payload_size, 1232);
    assert_eq!(
        (edns.version, edns.dnssec_ok, edns.extended_rcode_high),
        (0, false, 0)
    );
    assert_eq!(
        edns.options,
        vec![EdnsOption::new(10, unhex("94502c68b3a060bc"))]
    );
    assert_eq!(message.encode(), bytes);
    let rebuilt = Message::query(
        0x8b3f,
        name("example.com."),
        RecordType::A,
        true,
        Some(Edns {
            options: vec![EdnsOption::new(
                EdnsOption::COOKIE,
                unhex("94502c68b3a060bc"),
            )],
            ..Edns::default()
        }),
    );
    let mut rebuilt = rebuilt;
    rebuilt.header.ad = true;
    assert_eq!(rebuilt.encode(), bytes);
}

/// RFC 1035 §4.1.4's example names in a real message: F.ISI.ARPA in the question at 12,
/// FOO.F.ISI.ARPA as `FOO` + pointer to 12, ARPA as a pointer to 18, and the root.
fn rfc1035_response() -> Vec<u8> {
    unhex(
        "1234 8400 0001 0003 0000 0000
         01 46 03 495349 04 41525041 00 0001 0001
         03 464f4f c00c 0001 0001 00000e10 0004 0a000001
         c012 0001 0001 00000e10 0004 0a000002
         00 0001 0001 00000e10 0004 0a000003",
    )
}

#[test]
fn rfc1035_compression_vector() {
    let bytes = rfc1035_response();
    let message = Message::decode(&bytes).unwrap();
    let owners: Vec<String> = message.answers.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(owners, ["FOO.F.ISI.ARPA.", "ARPA.", "."]);
    assert_eq!(message.question().unwrap().name.to_string(), "F.ISI.ARPA.");
    assert!(message.header.aa && message.header.qr);
    assert_eq!(message.encode(), bytes);
}

fn with_question_name(name_bytes: &[u8]) -> Vec<u8> {
    let mut bytes = unhex("0001 0000 0001 0000 0000 0000");
    bytes.extend_from_slice(name_bytes);
    bytes.extend_from_slice(&[0, 1, 0, 1]);
    bytes
}

#[test]
fn hostile_name_vectors() {
    let decode = |name: &[u8]| Message::decode(&with_question_name(name));
    assert_eq!(
        decode(b"\xc0\x0c"),
        Err(WireError::PointerLoop { at: 12, target: 12 })
    );
    assert_eq!(
        decode(b"\xc0\x20"),
        Err(WireError::ForwardPointer { at: 12, target: 32 })
    );
    let mut label64 = vec![64u8];
    label64.extend([b'a'; 64]);
    label64.push(0);
    assert_eq!(
        decode(&label64),
        Err(WireError::BadLabelType { at: 12, byte: 64 })
    );
    let mut long = Vec::new();
    for len in [63u8, 63, 63, 62] {
        long.push(len);
        long.extend(std::iter::repeat_n(b'x', usize::from(len)));
    }
    long.push(0);
    assert_eq!(decode(&long), Err(WireError::NameTooLong { at: 12 }));
}

fn a_record_bytes(rdlength: u16, rdata: &[u8]) -> Vec<u8> {
    let mut bytes = unhex("0001 8000 0000 0001 0000 0000 00 0001 0001 00000e10");
    bytes.extend_from_slice(&rdlength.to_be_bytes());
    bytes.extend_from_slice(rdata);
    bytes
}

#[test]
fn rdlength_vectors() {
    assert!(Message::decode(&a_record_bytes(4, &[10, 0, 0, 1])).is_ok());
    assert!(matches!(
        Message::decode(&a_record_bytes(5, &[10, 0, 0, 1, 0])),
        Err(WireError::RdataLength {
            rdlength: 5,
            used: 4,
            ..
        })
    ));
    assert!(matches!(
        Message::decode(&a_record_bytes(3, &[10, 0, 0])),
        Err(WireError::RdataLength {
            rdlength: 3,
            used: 4,
            ..
        })
    ));
    // RDLENGTH beyond the end of the message.
    assert_eq!(
        Message::decode(&a_record_bytes(8, &[10, 0, 0, 1])),
        Err(WireError::Truncated { at: 23, needed: 4 })
    );
}

const OPT: &str = "00 0029 04d0 00000000 0000";

#[test]
fn opt_placement_vectors() {
    let two = unhex(&format!("0001 0000 0000 0000 0000 0002 {OPT} {OPT}"));
    assert_eq!(
        Message::decode(&two),
        Err(WireError::DuplicateOpt { at: 23 })
    );
    let in_answer = unhex(&format!("0001 0000 0000 0001 0000 0000 {OPT}"));
    assert_eq!(
        Message::decode(&in_answer),
        Err(WireError::OptOutsideAdditional { at: 12 })
    );
    let named = unhex("0001 0000 0000 0000 0000 0001 01 61 00 0029 04d0 00000000 0000");
    assert_eq!(
        Message::decode(&named),
        Err(WireError::OptOwnerNotRoot { at: 12 })
    );
}

#[test]
fn count_and_length_vectors() {
    let counts = unhex("0001 0000 ffff ffff ffff ffff");
    assert!(matches!(
        Message::decode(&counts),
        Err(WireError::TooManyRecords { available: 0, .. })
    ));
    let one_answer_no_bytes = unhex("0001 0000 0000 0001 0000 0000 00 0001 0001 00000e10 00");
    assert!(matches!(
        Message::decode(&one_answer_no_bytes),
        Err(WireError::TooManyRecords {
            needed: 11,
            available: 10
        })
    ));
    let mut trailing = unhex(DIG_QUERY);
    trailing.extend_from_slice(&[0, 0]);
    assert_eq!(
        Message::decode(&trailing),
        Err(WireError::TrailingBytes { at: 52, count: 2 })
    );
    assert_eq!(
        Message::decode(&[0; 11]),
        Err(WireError::Truncated { at: 10, needed: 1 })
    );
    assert!(matches!(
        Message::decode(&vec![0; 70_000]),
        Err(WireError::MessageTooLong { len: 70_000 })
    ));
}

#[test]
fn header_alone_decodes_for_formerr_replies() {
    let mut garbage = unhex("beef 0100 0001 0000 0000 0000");
    garbage.extend_from_slice(b"\xc0\x0c\x00");
    assert!(Message::decode(&garbage).is_err());
    let header = Header::decode(&garbage).unwrap();
    assert_eq!((header.id, header.rd), (0xbeef, true));
    let reply = Message {
        header: Header {
            rcode: Rcode::FORMERR,
            ..header.response()
        },
        ..Message::default()
    };
    assert_eq!(reply.encode(), unhex("beef 8101 0000 0000 0000 0000"));
    assert!(Header::decode(&[0xbe]).is_err());
    assert_eq!(WireError::DuplicateOpt { at: 0 }.rcode(), Rcode::FORMERR);
}

fn zone_response(count: usize) -> Message {
    let query = Message::query(7, name("example.com."), RecordType::NS, false, None);
    let mut response = Message::response_to(&query);
    for i in 0..count {
        let host = name(&format!("ns{i}.example.com."));
        response.answers.push(Record::new(
            name("example.com."),
            3600,
            RData::Ns(host.clone()),
        ));
        response.additionals.push(Record::new(
            host,
            3600,
            RData::A(Ipv4Addr::new(192, 0, 2, u8::try_from(i % 256).unwrap())),
        ));
    }
    response
}

fn uncompressed_len(message: &Message) -> usize {
    let question: usize = message
        .questions
        .iter()
        .map(|q| q.name.wire_len() + 4)
        .sum();
    let records: usize = message
        .records()
        .map(|(_, r)| r.name.wire_len() + 10 + r.rdata.to_wire().len())
        .sum();
    Header::LEN + question + records
}

#[test]
fn compression_shrinks_and_round_trips() {
    let message = zone_response(4);
    let bytes = message.encode();
    assert!(bytes.len() < uncompressed_len(&message));
    // `example.com.` is written once, in the question at 12; the 4 NS owners and the 4 NS
    // targets' suffixes point there, and the A owners point at the NS targets.
    assert_eq!(bytes.windows(2).filter(|w| w == &[0xc0, 0x0c]).count(), 8);
    assert_eq!(bytes.windows(7).filter(|w| w == b"example").count(), 1);
    assert_eq!(Message::decode(&bytes), Ok(message));
}

#[test]
fn truncation_keeps_whole_records_and_opt() {
    let mut message = Message::response_to(&Message::query(
        9,
        name("many.example."),
        RecordType::A,
        true,
        None,
    ));
    for i in 0..200u8 {
        let owner = name(&format!("h{i}.many.example."));
        message
            .answers
            .push(Record::new(owner, 60, RData::A(Ipv4Addr::new(10, 0, 0, i))));
    }
    message.edns = Some(Edns::default());
    let bytes = message.encode_truncated(512);
    assert!(bytes.len() <= 512, "{}", bytes.len());
    let decoded = Message::decode(&bytes).unwrap();
    assert!(decoded.header.tc);
    assert!(decoded.edns.is_some());
    assert!(!decoded.answers.is_empty() && decoded.answers.len() < 200);
    assert_eq!(
        decoded.answers[..],
        message.answers[..decoded.answers.len()]
    );
    // The untruncated form has everything and no TC.
    let full = Message::decode(&message.encode()).unwrap();
    assert!(!full.header.tc);
    assert_eq!(full, message);
}

#[test]
fn truncation_drops_whole_rrsets() {
    let mut message = Message::default();
    message.header.qr = true;
    for i in 0..200u8 {
        message.answers.push(Record::new(
            name("big.example."),
            60,
            RData::A(Ipv4Addr::new(10, 0, 0, i)),
        ));
    }
    let decoded = Message::decode(&message.encode_truncated(512)).unwrap();
    assert!(decoded.header.tc);
    assert!(decoded.answers.is_empty());
    assert_eq!(rrsets(&message.answers).count(), 1);
}

#[test]
fn additional_records_are_dropped_without_tc() {
    let message = zone_response(30);
    let bytes = message.encode_truncated(700);
    assert!(bytes.len() <= 700);
    let decoded = Message::decode(&bytes).unwrap();
    assert!(!decoded.header.tc);
    assert_eq!(decoded.answers.len(), 30);
    assert!(decoded.additionals.len() < 30);
    // An answer that does not fit truncates.
    let decoded = Message::decode(&message.encode_truncated(200)).unwrap();
    assert!(decoded.header.tc);
    assert!(decoded.additionals.is_empty());
}

#[test]
fn extended_rcode() {
    let mut message = Message::default();
    message.set_rcode(Rcode::BADVERS);
    assert_eq!(message.header.rcode, Rcode::NOERROR);
    assert_eq!(
        message.edns.as_ref().map(|e| e.extended_rcode_high),
        Some(1)
    );
    assert_eq!(message.rcode(), Rcode::BADVERS);
    let decoded = Message::decode(&message.encode()).unwrap();
    assert_eq!(decoded.rcode(), Rcode::BADVERS);
    let mut plain = Message::default();
    plain.set_rcode(Rcode::NXDOMAIN);
    assert!(plain.edns.is_none());
    assert_eq!(plain.rcode(), Rcode::NXDOMAIN);
}

#[test]
fn query_and_response_helpers() {
    let mut query = Message::query(42, name("www.example.com."), RecordType::AAAA, true, None);
    query.header.cd = true;
    let response = Message::response_to(&query);
    assert_eq!(response.header.id, 42);
    assert!(response.header.qr && response.header.rd && response.header.cd);
    assert!(!response.header.aa);
    assert_eq!(response.questions, query.questions);
    assert_eq!(response.rcode(), Rcode::NOERROR);
}

#[test]
fn opt_typed_records_are_not_written_into_sections() {
    let mut message = Message::default();
    message.additionals.push(Record::new(
        Name::root(),
        0,
        RData::Unknown {
            rtype: RecordType::OPT,
            data: vec![],
        },
    ));
    assert_eq!(Message::decode(&message.encode()), Ok(Message::default()));
}

proptest! {
    #[test]
    fn encode_decode_round_trip(message in arb_message()) {
        let bytes = message.encode();
        prop_assert_eq!(Message::decode(&bytes), Ok(message));
    }

    #[test]
    fn decode_never_panics(bytes in vec(any::<u8>(), 0..600)) {
        let _ = Message::decode(&bytes);
        let _ = Header::decode(&bytes);
    }

    /// What the fuzzer checks: whatever decodes re-encodes to something that decodes the same.
    #[test]
    fn mutated_messages_decode_stably(
        message in arb_message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = message.encode();
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        for candidate in [&bytes[..], &bytes[..cut.index(bytes.len() + 1)]] {
            if let Ok(decoded) = Message::decode(candidate) {
                let again = Message::decode(&decoded.encode());
                prop_assert_eq!(again, Ok(decoded));
            }
        }
    }

    #[test]
    fn truncated_encoding_fits_and_decodes(message in arb_message(), max in 12usize..1500) {
        let bytes = message.encode_truncated(max);
        let floor = {
            let skeleton = Message {
                header: message.header,
                questions: message.questions.clone(),
                edns: message.edns.clone(),
                ..Message::default()
            };
            skeleton.encode().len()
        };
        prop_assert!(bytes.len() <= max.max(floor));
        let decoded = Message::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.edns, message.edns);
        prop_assert_eq!(&decoded.questions, &message.questions);
        if !decoded.header.tc {
            prop_assert_eq!(&decoded.answers, &message.answers);
            prop_assert_eq!(&decoded.authorities, &message.authorities);
        }
    }
}
