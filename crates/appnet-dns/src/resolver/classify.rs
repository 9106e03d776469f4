//! What an upstream response means to an iterating resolver, sans-IO: the answer, an alias to
//! follow, a negative answer, a referral closer to the name, or nothing useful ("lame").
//!
//! RFC 1034 §5.3.3 step 4 (the four kinds of response), RFC 2308 §2.1–2.2 (telling NXDOMAIN,
//! NODATA and referrals apart), RFC 6604 §2 (after a CNAME chain the RCODE describes the last
//! name), RFC 5452 §6 and RFC 2181 §5.4.1 (bailiwick: a server may only speak for names inside
//! the zone it was asked as; anything else in its response is dropped before it is looked at).

use crate::wire::{Class, Message, Name, RData, Rcode, Record, RecordType};

/// A CNAME chain inside one response longer than this is not followed further (the resolver's
/// overall chain limit applies on top).
const MAX_CHAIN_IN_RESPONSE: usize = 16;
/// NS names taken from one referral; real zones have up to 13.
pub const MAX_NS_NAMES: usize = 16;

/// The meaning of one response, for a question about `qname` asked of a server of `zone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// The RRset asked for, after the aliases in `chain` (in order).
    Answer {
        chain: Vec<Record>,
        rrset: Vec<Record>,
    },
    /// Aliases leading to `target`, which this server cannot answer for: resolve it afresh.
    Alias { chain: Vec<Record>, target: Name },
    /// The (last) name does not exist; the SOA for negative caching, when one came.
    NxDomain {
        chain: Vec<Record>,
        soa: Option<Record>,
    },
    /// The (last) name exists but has no RRset of the type.
    NoData {
        chain: Vec<Record>,
        soa: Option<Record>,
    },
    /// A delegation to `child`, strictly between `zone` and the name: its NS RRset and the
    /// in-bailiwick glue addresses of its servers.
    Referral {
        child: Name,
        ns: Vec<Record>,
        glue: Vec<Record>,
    },
    /// Nothing usable: an error RCODE, a referral up or sideways, an empty non-authoritative
    /// reply. The next server is asked.
    Lame(Lame),
}

/// Why a response was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lame {
    Rcode(Rcode),
    Truncated,
    /// NS records for a zone that is not strictly closer to the name than the one asked.
    BadReferral(Name),
    /// No answer, no SOA, no referral, and no AA bit to make it a NODATA.
    Empty,
}

/// Drops every record outside `zone` (RFC 5452 §6: out-of-bailiwick data is how caches get
/// poisoned) and every record not in class IN.
pub fn sanitize(response: &Message, zone: &Name) -> Message {
    let keep = |records: &[Record]| -> Vec<Record> {
        records
            .iter()
            .filter(|record| record.class == Class::IN && record.name.is_subdomain_of(zone))
            .cloned()
            .collect()
    };
    Message {
        answers: keep(&response.answers),
        authorities: keep(&response.authorities),
        additionals: keep(&response.additionals),
        ..response.clone()
    }
}

/// Classifies a response that has already been [`sanitize`]d for `zone`.
pub fn classify(response: &Message, qname: &Name, qtype: RecordType, zone: &Name) -> Classified {
    let rcode = response.rcode();
    if rcode != Rcode::NOERROR && rcode != Rcode::NXDOMAIN {
        return Classified::Lame(Lame::Rcode(rcode));
    }
    if response.header.tc {
        return Classified::Lame(Lame::Truncated);
    }
    let (chain, last) = follow_chain(&response.answers, qname, qtype);
    let rrset = rrset_at(&response.answers, &last, qtype);
    if !rrset.is_empty() {
        return Classified::Answer { chain, rrset };
    }
    let soa = negative_soa(&response.authorities, &last);
    let speaks_for_last = last.is_subdomain_of(zone);
    if !chain.is_empty() && !(speaks_for_last && (rcode == Rcode::NXDOMAIN || soa.is_some())) {
        // The alias leads elsewhere (or the server said nothing about the target): start over
        // at the target, from the cache or the closest servers.
        return Classified::Alias {
            chain,
            target: last,
        };
    }
    if rcode == Rcode::NXDOMAIN {
        return Classified::NxDomain { chain, soa };
    }
    if soa.is_some() {
        return Classified::NoData { chain, soa };
    }
    if let Some(referral) = referral(response, &last, zone) {
        return referral;
    }
    if response.header.aa {
        // RFC 2308 §2.2 "NODATA type 3": authoritative and empty, without an SOA.
        return Classified::NoData { chain, soa: None };
    }
    Classified::Lame(Lame::Empty)
}

/// Follows CNAMEs in `answers` from `qname` (unless the question is for the CNAME itself or for
/// ANY); returns the aliases in order and the name at the end.
fn follow_chain(answers: &[Record], qname: &Name, qtype: RecordType) -> (Vec<Record>, Name) {
    let mut chain: Vec<Record> = Vec::new();
    let mut name = qname.clone();
    if qtype == RecordType::CNAME || qtype == RecordType::ANY {
        return (chain, name);
    }
    while chain.len() < MAX_CHAIN_IN_RESPONSE && rrset_at(answers, &name, qtype).is_empty() {
        let Some(cname) = answers
            .iter()
            .find(|record| record.name == name && record.rtype() == RecordType::CNAME)
        else {
            break;
        };
        let RData::Cname(target) = &cname.rdata else {
            break;
        };
        let looped = chain.iter().any(|seen| &seen.name == target) || target == qname;
        chain.push(cname.clone());
        name = target.clone();
        if looped {
            // The caller's loop check sees the repeated name in the chain.
            break;
        }
    }
    (chain, name)
}

/// The records of `answers` owned by `name` of type `qtype` (any type but CNAME for ANY).
fn rrset_at(answers: &[Record], name: &Name, qtype: RecordType) -> Vec<Record> {
    answers
        .iter()
        .filter(|record| &record.name == name)
        .filter(|record| {
            record.rtype() == qtype
                || (qtype == RecordType::ANY && record.rtype() != RecordType::CNAME)
        })
        .cloned()
        .collect()
}

/// An SOA in authority whose zone encloses `name` (RFC 2308 §3).
fn negative_soa(authorities: &[Record], name: &Name) -> Option<Record> {
    authorities
        .iter()
        .find(|record| record.rtype() == RecordType::SOA && name.is_subdomain_of(&record.name))
        .cloned()
}

/// A referral: NS records in authority for a zone strictly below `zone` that encloses `name`.
/// NS records for `zone` itself or above (upward) or for another branch (sideways) are a lame
/// or malicious server and are refused (RFC 1034 §5.3.3 step 4b: only a delegation *closer* to
/// the answer is progress).
fn referral(response: &Message, name: &Name, zone: &Name) -> Option<Classified> {
    let mut owners = response
        .authorities
        .iter()
        .filter(|record| record.rtype() == RecordType::NS)
        .map(|record| &record.name)
        .peekable();
    let first = (*owners.peek()?).clone();
    let closer = |child: &&Name| {
        child.is_subdomain_of(zone) && *child != zone && name.is_subdomain_of(child)
    };
    // The deepest qualifying cut, should a server send more than one NS RRset.
    let Some(child) = owners
        .filter(closer)
        .max_by_key(|child| child.label_count())
        .cloned()
    else {
        return Some(Classified::Lame(Lame::BadReferral(first)));
    };
    let ns: Vec<Record> = response
        .authorities
        .iter()
        .filter(|record| record.rtype() == RecordType::NS && record.name == child)
        .take(MAX_NS_NAMES)
        .cloned()
        .collect();
    let glue = response
        .additionals
        .iter()
        .filter(|record| matches!(record.rtype(), RecordType::A | RecordType::AAAA))
        .filter(|record| {
            ns.iter()
                .any(|ns| ns.rdata.target_name() == Some(&record.name))
        })
        .cloned()
        .collect();
    Some(Classified::Referral { child, ns, glue })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Edns, Question};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn record(owner: &str, rdata: RData) -> Record {
        Record::new(name(owner), 300, rdata)
    }

    fn a(owner: &str, ip: [u8; 4]) -> Record {
        record(owner, RData::A(ip.into()))
    }

    fn soa(owner: &str) -> Record {
        record(
            owner,
            RData::Soa {
                mname: name("ns.example."),
                rname: name("hostmaster.example."),
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum: 60,
            },
        )
    }

    fn response(qname: &str, qtype: RecordType) -> Message {
        let query = Message::query(7, name(qname), qtype, false, Some(Edns::new(1232)));
        let mut response = Message::response_to(&query);
        response.questions = vec![Question::new(name(qname), qtype)];
        response
    }

    fn run(message: &Message, qname: &str, qtype: RecordType, zone: &str) -> Classified {
        let clean = sanitize(message, &name(zone));
        classify(&clean, &name(qname), qtype, &name(zone))
    }

    #[test]
    fn an_answer_after_an_in_zone_alias() {
        let mut message = response("web.alpha.example.", RecordType::A);
        message.header.aa = true;
        message.answers = vec![
            record(
                "web.alpha.example.",
                RData::Cname(name("www.alpha.example.")),
            ),
            a("www.alpha.example.", [127, 0, 0, 1]),
        ];
        let Classified::Answer { chain, rrset } = run(
            &message,
            "web.alpha.example.",
            RecordType::A,
            "alpha.example.",
        ) else {
            panic!("an answer");
        };
        assert_eq!(chain.len(), 1);
        assert_eq!(rrset, vec![a("www.alpha.example.", [127, 0, 0, 1])]);
    }

    #[test]
    fn an_alias_out_of_the_zone_drops_the_target_data() {
        let mut message = response("web.alpha.example.", RecordType::A);
        message.answers = vec![
            record(
                "web.alpha.example.",
                RData::Cname(name("www.beta.example.")),
            ),
            // Not this server's to say: dropped by sanitize, so the target is resolved afresh.
            a("www.beta.example.", [6, 6, 6, 6]),
        ];
        assert_eq!(
            run(
                &message,
                "web.alpha.example.",
                RecordType::A,
                "alpha.example."
            ),
            Classified::Alias {
                chain: vec![record(
                    "web.alpha.example.",
                    RData::Cname(name("www.beta.example."))
                )],
                target: name("www.beta.example."),
            }
        );
    }

    #[test]
    fn nxdomain_and_nodata_carry_their_soa() {
        let mut message = response("gone.alpha.example.", RecordType::A);
        message.set_rcode(Rcode::NXDOMAIN);
        message.authorities = vec![soa("alpha.example.")];
        assert_eq!(
            run(
                &message,
                "gone.alpha.example.",
                RecordType::A,
                "alpha.example."
            ),
            Classified::NxDomain {
                chain: vec![],
                soa: Some(soa("alpha.example."))
            }
        );
        message.set_rcode(Rcode::NOERROR);
        assert!(matches!(
            run(
                &message,
                "gone.alpha.example.",
                RecordType::A,
                "alpha.example."
            ),
            Classified::NoData { soa: Some(_), .. }
        ));
    }

    #[test]
    fn a_referral_keeps_only_in_bailiwick_glue() {
        let mut message = response("www.alpha.example.", RecordType::A);
        message.authorities = vec![record(
            "alpha.example.",
            RData::Ns(name("ns.alpha.example.")),
        )];
        message.additionals = vec![
            a("ns.alpha.example.", [127, 0, 0, 4]),
            a("victim.other.", [6, 6, 6, 6]),
        ];
        let Classified::Referral { child, ns, glue } =
            run(&message, "www.alpha.example.", RecordType::A, "example.")
        else {
            panic!("a referral");
        };
        assert_eq!(child, name("alpha.example."));
        assert_eq!(ns.len(), 1);
        assert_eq!(glue, vec![a("ns.alpha.example.", [127, 0, 0, 4])]);
    }

    #[test]
    fn the_deepest_cut_wins_when_several_ns_rrsets_come() {
        let mut message = response("www.alpha.example.", RecordType::A);
        message.authorities = vec![
            record("example.", RData::Ns(name("ns.example."))),
            record("alpha.example.", RData::Ns(name("ns.alpha.example."))),
        ];
        let classified = run(&message, "www.alpha.example.", RecordType::A, "example.");
        assert!(
            matches!(&classified, Classified::Referral { child, .. } if *child == name("alpha.example.")),
            "{classified:?}"
        );
    }

    #[test]
    fn referrals_up_or_sideways_are_lame() {
        let mut message = response("www.alpha.example.", RecordType::A);
        message.authorities = vec![record("example.", RData::Ns(name("ns.example.")))];
        assert_eq!(
            run(
                &message,
                "www.alpha.example.",
                RecordType::A,
                "alpha.example."
            ),
            Classified::Lame(Lame::Empty),
            "upward NS records are out of bailiwick and dropped"
        );
        assert_eq!(
            run(&message, "www.alpha.example.", RecordType::A, "example."),
            Classified::Lame(Lame::BadReferral(name("example."))),
            "a referral to the zone itself"
        );
        message.authorities = vec![record("beta.example.", RData::Ns(name("ns.beta.example.")))];
        assert_eq!(
            run(&message, "www.alpha.example.", RecordType::A, "example."),
            Classified::Lame(Lame::BadReferral(name("beta.example.")))
        );
    }

    #[test]
    fn error_rcodes_and_empty_replies_are_lame() {
        let mut message = response("www.example.", RecordType::A);
        message.set_rcode(Rcode::SERVFAIL);
        assert_eq!(
            run(&message, "www.example.", RecordType::A, "."),
            Classified::Lame(Lame::Rcode(Rcode::SERVFAIL))
        );
        message.set_rcode(Rcode::NOERROR);
        assert_eq!(
            run(&message, "www.example.", RecordType::A, "."),
            Classified::Lame(Lame::Empty)
        );
        message.header.aa = true;
        assert_eq!(
            run(&message, "www.example.", RecordType::A, "."),
            Classified::NoData {
                chain: vec![],
                soa: None
            }
        );
    }

    #[test]
    fn a_cname_loop_in_one_response_stops() {
        let mut message = response("a.example.", RecordType::A);
        message.answers = vec![
            record("a.example.", RData::Cname(name("b.example."))),
            record("b.example.", RData::Cname(name("a.example."))),
        ];
        let Classified::Alias { chain, target } =
            run(&message, "a.example.", RecordType::A, "example.")
        else {
            panic!("an alias");
        };
        assert_eq!(chain.len(), 2);
        assert_eq!(target, name("a.example."));
    }
}
