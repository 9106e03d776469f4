//! Proptest strategies shared by the codec's tests.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::prelude::*;

use super::edns::{Edns, EdnsOption};
use super::message::{Header, Message, Question, Record};
use super::name::Name;
use super::rdata::RData;
use super::types::{Class, RecordType};

/// Mostly a few shared labels, so names share suffixes and compression kicks in; sometimes any
/// bytes at all, dots and backslashes included.
pub(crate) fn arb_label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec!["www", "WWW", "example", "com", "mail", "*", "a.b", "x\\y"])
            .prop_map(|label| label.as_bytes().to_vec()),
        1 => vec(any::<u8>(), 1..=63),
    ]
}

pub(crate) fn arb_name() -> impl Strategy<Value = Name> {
    vec(arb_label(), 0..6).prop_filter_map("name too long", |labels| Name::from_labels(labels).ok())
}

fn arb_unknown() -> impl Strategy<Value = RData> {
    prop_oneof![
        (any::<u16>(), vec(any::<u8>(), 0..40))
            .prop_filter("typed or OPT", |(rtype, _)| {
                let rtype = RecordType(*rtype);
                !RData::is_typed(rtype) && rtype != RecordType::OPT
            })
            .prop_map(|(rtype, data)| RData::Unknown {
                rtype: RecordType(rtype),
                data
            }),
        prop::sample::select(vec![RecordType::A, RecordType::TXT, RecordType::SOA]).prop_map(
            |rtype| RData::Unknown {
                rtype,
                data: vec![]
            }
        ),
    ]
}

pub(crate) fn arb_rdata() -> impl Strategy<Value = RData> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| RData::A(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| RData::Aaaa(Ipv6Addr::from(b))),
        arb_name().prop_map(RData::Ns),
        arb_name().prop_map(RData::Cname),
        arb_name().prop_map(RData::Ptr),
        (any::<u16>(), arb_name()).prop_map(|(preference, exchange)| RData::Mx {
            preference,
            exchange
        }),
        vec(vec(any::<u8>(), 0..=255), 1..4).prop_map(RData::Txt),
        (arb_name(), arb_name(), any::<[u32; 5]>()).prop_map(|(mname, rname, n)| RData::Soa {
            mname,
            rname,
            serial: n[0],
            refresh: n[1],
            retry: n[2],
            expire: n[3],
            minimum: n[4],
        }),
        (any::<[u16; 3]>(), arb_name()).prop_map(|(n, target)| RData::Srv {
            priority: n[0],
            weight: n[1],
            port: n[2],
            target
        }),
        (any::<u8>(), "[a-zA-Z0-9]{1,15}", vec(any::<u8>(), 0..40))
            .prop_map(|(flags, tag, value)| RData::Caa { flags, tag, value }),
        arb_unknown(),
    ]
}

pub(crate) fn arb_record() -> impl Strategy<Value = Record> {
    (arb_name(), any::<u16>(), any::<u32>(), arb_rdata()).prop_map(|(name, class, ttl, rdata)| {
        Record {
            name,
            class: if class % 2 == 0 {
                Class::IN
            } else {
                Class(class)
            },
            ttl,
            rdata,
        }
    })
}

pub(crate) fn arb_edns() -> impl Strategy<Value = Edns> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<bool>(),
        vec((any::<u16>(), vec(any::<u8>(), 0..20)), 0..4),
    )
        .prop_map(
            |(udp_payload_size, extended_rcode_high, version, dnssec_ok, options)| Edns {
                udp_payload_size,
                extended_rcode_high,
                version,
                dnssec_ok,
                options: options
                    .into_iter()
                    .map(|(code, data)| EdnsOption { code, data })
                    .collect(),
            },
        )
}

pub(crate) fn arb_header() -> impl Strategy<Value = Header> {
    (any::<u16>(), any::<u16>()).prop_map(|(id, flags)| Header::from_flags(id, flags))
}

pub(crate) fn arb_message() -> impl Strategy<Value = Message> {
    (
        arb_header(),
        vec(
            (arb_name(), any::<u16>(), any::<u16>()).prop_map(|(name, qtype, qclass)| Question {
                name,
                qtype: RecordType(qtype),
                qclass: Class(qclass),
            }),
            0..3,
        ),
        vec(arb_record(), 0..5),
        vec(arb_record(), 0..4),
        vec(arb_record(), 0..4),
        proptest::option::of(arb_edns()),
    )
        .prop_map(
            |(header, questions, answers, authorities, additionals, edns)| Message {
                header,
                questions,
                answers,
                authorities,
                additionals,
                edns,
            },
        )
}
