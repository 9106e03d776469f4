use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::wire::testutil::arb_message;
use crate::wire::{Edns, Message, RData, Record};

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// Lines are contiguous and their bytes are exactly the input.
fn assert_covers(lines: &[ExplainLine], bytes: &[u8]) {
    let mut at = 0;
    for line in lines {
        assert_eq!(line.offset, at, "line {line:?} should start at {at}");
        assert_eq!(bytes.get(at..at + line.bytes.len()), Some(&line.bytes[..]));
        at += line.bytes.len();
    }
    assert_eq!(at, bytes.len());
}

fn sample_response() -> Message {
    let query = Message::query(4242, name("www.example.com."), RecordType::A, true, None);
    let mut response = Message::response_to(&query);
    response.header.aa = true;
    let www = name("www.example.com.");
    let zone = name("example.com.");
    response.answers = vec![
        Record::new(www.clone(), 3600, RData::A(Ipv4Addr::new(192, 0, 2, 1))),
        Record::new(www, 3600, RData::Aaaa(Ipv6Addr::LOCALHOST)),
    ];
    response.authorities = vec![Record::new(
        zone.clone(),
        3600,
        RData::Soa {
            mname: name("ns1.example.com."),
            rname: name("hostmaster.example.com."),
            serial: 1,
            refresh: 7200,
            retry: 3600,
            expire: 1_209_600,
            minimum: 300,
        },
    )];
    response.additionals = vec![
        Record::new(
            zone.clone(),
            60,
            RData::Txt(vec![b"v=spf1 -all".to_vec(), vec![]]),
        ),
        Record::new(
            zone.clone(),
            60,
            RData::Caa {
                flags: 128,
                tag: "issue".into(),
                value: b"letsencrypt.org".to_vec(),
            },
        ),
        Record::new(
            name("_sip._udp.example.com."),
            60,
            RData::Srv {
                priority: 0,
                weight: 5,
                port: 5060,
                target: name("sip.example.com."),
            },
        ),
        Record::new(
            zone,
            60,
            RData::Mx {
                preference: 10,
                exchange: name("mail.example.com."),
            },
        ),
    ];
    response.edns = Some(Edns {
        dnssec_ok: true,
        options: vec![EdnsOption::new(EdnsOption::COOKIE, [7; 24])],
        ..Edns::default()
    });
    response
}

#[test]
fn valid_message_is_covered_exactly_once() {
    let bytes = sample_response().encode();
    let lines = explain(&bytes);
    assert_covers(&lines, &bytes);
    assert!(
        lines
            .iter()
            .all(|line| !line.description.starts_with("malformed"))
    );
    let text = render(&lines);
    for expected in [
        "ID 4242 (0x1092)",
        "1... .... .... .... = 1 QR: response",
        ".... .1.. .... .... = 1 AA: authoritative answer",
        "QNAME: www.example.com.",
        "label of 3: \"www\"",
        "root label: end of name",
        "Answer 1: www.example.com. 3600 IN A 192.0.2.1",
        "address ::1",
        "EXPIRE 1209600 (2w)",
        "character-string of 11: \"v=spf1 -all\"",
        "character-string of 0: \"\"",
        "flags 128 (issuer critical)",
        "tag \"issue\"",
        "target (never compressed, RFC 2782): sip.example.com.",
        "OPT pseudo-record (EDNS version 0, UDP payload 1232, DO)",
        "EDNS flags 0x8000: DO = 1 (DNSSEC OK)",
        "option code 10: COOKIE",
        "client cookie 0707070707070707, server cookie 07070707",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn pointers_name_their_target() {
    let bytes = sample_response().encode();
    let lines = explain(&bytes);
    let pointer = lines
        .iter()
        .find(|line| line.bytes == [0xc0, 0x0c])
        .expect("the answer owner points at the question");
    assert_eq!(
        pointer.description,
        "pointer to offset 12 (www.example.com.)"
    );
    let text = render(&lines);
    assert!(text.contains("c0 0c                    "), "{text}");
}

#[test]
fn malformed_input_is_explained_up_to_the_fault() {
    let mut bytes = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(&[0x01, b'a', 0xc0, 0x0c, 0, 1, 0, 1]);
    let lines = explain(&bytes);
    assert_covers(&lines, &bytes);
    let last = lines.last().unwrap();
    assert!(last.description.contains("would loop"), "{last:?}");
    assert!(
        lines
            .iter()
            .any(|line| line.description == "pointer to offset 12")
    );
    assert!(
        lines
            .iter()
            .any(|line| line.description == "label of 1: \"a\"")
    );

    let short = [0x12, 0x34, 0x81];
    let lines = explain(&short);
    assert_covers(&lines, &short);
    assert!(
        lines
            .last()
            .unwrap()
            .description
            .starts_with("malformed: message ends")
    );

    let mut trailing = Message::default().encode();
    trailing.push(0);
    let lines = explain(&trailing);
    assert_covers(&lines, &trailing);
    assert!(lines.last().unwrap().description.contains("after the end"));
}

#[test]
fn record_errors_match_the_decoder() {
    // An A record whose RDLENGTH says 5: explained field by field, then the decoder's reason.
    let mut bytes = vec![0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    bytes.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 10, 0, 0, 1, 9]);
    let lines = explain(&bytes);
    assert_covers(&lines, &bytes);
    let expected = Message::decode(&bytes).unwrap_err().to_string();
    assert!(lines.last().unwrap().description.contains(&expected));

    let two_opts = Message {
        edns: Some(Edns::default()),
        ..Message::default()
    }
    .encode();
    let mut doubled = two_opts.clone();
    doubled.extend_from_slice(two_opts.get(12..).unwrap());
    doubled[11] = 2;
    let lines = explain(&doubled);
    assert_covers(&lines, &doubled);
    assert!(
        lines
            .last()
            .unwrap()
            .description
            .contains("second OPT record")
    );
}

proptest! {
    #[test]
    fn any_valid_message_is_covered(message in arb_message()) {
        let bytes = message.encode();
        let lines = explain(&bytes);
        assert_covers(&lines, &bytes);
        prop_assert!(lines.iter().all(|l| !l.description.starts_with("malformed")));
    }

    #[test]
    fn any_bytes_are_covered_without_panic(bytes in vec(any::<u8>(), 0..400)) {
        let lines = explain(&bytes);
        assert_covers(&lines, &bytes);
        let _ = render(&lines);
        // Explain and decode agree on validity.
        let failed = lines.iter().any(|l| l.description.starts_with("malformed"));
        prop_assert_eq!(failed, Message::decode(&bytes).is_err());
    }

    #[test]
    fn mutated_messages_are_covered(
        message in arb_message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = message.encode();
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        let lines = explain(&bytes);
        assert_covers(&lines, &bytes);
        let failed = lines.iter().any(|l| l.description.starts_with("malformed"));
        prop_assert_eq!(failed, Message::decode(&bytes).is_err());
    }
}
