//! The authoritative lookup inside one zone: RFC 1034 §4.3.2 steps 3 and 4.
//!
//! Walk down from the apex: a zone cut on the way is a referral (step 3b); an exact match
//! answers, follows a CNAME (RFC 1034 §3.6.2, restarting inside this zone only), or is NODATA;
//! a missing name is either an empty non-terminal (NODATA), a wildcard match at the closest
//! encloser (RFC 4592 §3.3.1, records synthesised with the query name as owner) or NXDOMAIN
//! (step 3c). Negative answers carry the SOA with the RFC 2308 §3 TTL; a CNAME chain ending at a
//! missing name is NXDOMAIN (RFC 6604 §2). Step 4's additional-section processing adds the
//! addresses of in-zone NS, MX and SRV targets (RFC 1035 §3.3.9, §3.3.11; RFC 2782).

use std::collections::HashSet;

use crate::wire::{Name, RData, Rcode, Record, RecordType};
use crate::zone::{Location, Node, RRset, Zone};

/// Longest CNAME chain followed inside a zone; real chains are two or three long.
pub const MAX_CNAME_CHAIN: usize = 16;

/// The sections of an answer, before the message is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub rcode: Rcode,
    pub kind: OutcomeKind,
    /// The AA bit: false for a pure referral.
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// How many records at the front of `additionals` are glue that must fit, or the reply is
    /// truncated (RFC 9471 §3: glue for in-domain name servers of a referral).
    pub required_glue: usize,
}

/// What kind of answer the lookup produced, for traces and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Answer,
    Referral,
    NoData,
    NxDomain,
    /// A CNAME chain that left the zone, looped or grew too long: the CNAMEs are the answer.
    Alias,
}

/// What one step of the walk found at a name.
enum Step<'z> {
    Referral { cut: &'z Name, ns: &'z RRset },
    Found(Vec<&'z RRset>),
    Alias(&'z RRset),
    NoData,
    NxDomain,
}

/// Answers `qname`/`qtype` from `zone`, which must contain `qname`. Owners of exact and wildcard
/// matches are written as `qname` was asked, so the 0x20 case of the query is echoed.
pub fn lookup(zone: &Zone, qname: &Name, qtype: RecordType) -> Outcome {
    let mut out = Outcome {
        rcode: Rcode::NOERROR,
        kind: OutcomeKind::Alias,
        authoritative: true,
        answers: Vec::new(),
        authorities: Vec::new(),
        additionals: Vec::new(),
        required_glue: 0,
    };
    let mut name = qname.clone();
    let mut visited: Vec<Name> = Vec::new();
    for _ in 0..=MAX_CNAME_CHAIN {
        match step(zone, &name, qtype) {
            Step::Referral { cut, ns } => {
                refer(zone, &mut out, cut, ns);
                return out;
            }
            Step::Found(rrsets) => {
                out.kind = OutcomeKind::Answer;
                for rrset in rrsets {
                    out.answers.extend(rrset.records(&name));
                }
                break;
            }
            Step::Alias(cname) => {
                out.answers.extend(cname.records(&name));
                let Some(RData::Cname(target)) = cname.rdatas.first() else {
                    break;
                };
                visited.push(name);
                // Out-of-zone targets are the resolver's to chase; a loop or a long chain stops.
                if !zone.contains(target) || visited.contains(target) {
                    break;
                }
                name = target.clone();
            }
            Step::NoData => {
                out.kind = OutcomeKind::NoData;
                out.authorities.push(zone.negative_soa());
                return out;
            }
            Step::NxDomain => {
                out.kind = OutcomeKind::NxDomain;
                out.rcode = Rcode::NXDOMAIN;
                out.authorities.push(zone.negative_soa());
                return out;
            }
        }
    }
    add_addresses(
        zone,
        &out.answers,
        &mut out.additionals,
        &mut HashSet::new(),
    );
    out
}

/// One step of RFC 1034 §4.3.2 step 3 at `name`.
fn step<'z>(zone: &'z Zone, name: &Name, qtype: RecordType) -> Step<'z> {
    match zone.locate(name) {
        // RFC 4035 §3.1.4.1: the DS RRset at a cut belongs to the parent side, this zone.
        Location::Delegated { cut, .. } if qtype == RecordType::DS && cut == name => {
            if let Some(node) = zone.node(name) {
                return at_node(node, qtype);
            }
        }
        Location::Delegated { cut, ns } => return Step::Referral { cut, ns },
        Location::Node(node) => return at_node(node, qtype),
        // An empty non-terminal exists (RFC 4592 §2.2.2) and blocks wildcards below its parent.
        Location::EmptyNonTerminal => return Step::NoData,
        Location::Missing => {}
    }
    let wildcard = zone
        .closest_encloser(name)
        .and_then(|encloser| Name::wildcard_of(&encloser).ok())
        .and_then(|source| zone.node(&source));
    match wildcard {
        Some(node) => at_node(node, qtype),
        None => Step::NxDomain,
    }
}

/// What a node holds for `qtype`. ANY returns every RRset: the full answer suits a teaching
/// server (RFC 8482 permits, but does not require, a minimal one).
fn at_node(node: &Node, qtype: RecordType) -> Step<'_> {
    if qtype == RecordType::ANY {
        return Step::Found(node.rrsets().map(|(_, rrset)| rrset).collect());
    }
    if let Some(rrset) = node.get(qtype) {
        return Step::Found(vec![rrset]);
    }
    match node.get(RecordType::CNAME) {
        Some(cname) => Step::Alias(cname),
        None => Step::NoData,
    }
}

/// RFC 1034 §4.3.2 step 3b: the cut's NS RRset in authority, addresses of its in-zone targets
/// in additional, glue below the cut first. AA stays set only for a CNAME already answered.
fn refer(zone: &Zone, out: &mut Outcome, cut: &Name, ns: &RRset) {
    out.kind = OutcomeKind::Referral;
    out.authoritative = !out.answers.is_empty();
    let ns_records: Vec<Record> = ns.records(cut).collect();
    let mut seen = HashSet::new();
    let (required, optional): (Vec<Record>, Vec<Record>) = ns_records
        .iter()
        .filter_map(|record| match &record.rdata {
            RData::Ns(target) => Some(target),
            _ => None,
        })
        .filter(|target| seen.insert((*target).clone()))
        .flat_map(|target| addresses(zone, target, true))
        .partition(|record| record.name.is_subdomain_of(cut));
    out.required_glue = required.len();
    out.additionals.extend(required);
    out.additionals.extend(optional);
    out.authorities.extend(ns_records);
}

/// RFC 1035 §3.3.9 / §3.3.11, RFC 2782: the A and AAAA records of the names the answer points
/// at, when this zone holds them. Dropped silently later if they do not fit.
fn add_addresses(zone: &Zone, records: &[Record], out: &mut Vec<Record>, seen: &mut HashSet<Name>) {
    for record in records {
        let (target, is_ns) = match &record.rdata {
            RData::Ns(target) => (target, true),
            RData::Mx { exchange, .. } => (exchange, false),
            RData::Srv { target, .. } => (target, false),
            _ => continue,
        };
        if seen.insert(target.clone()) {
            out.extend(addresses(zone, target, is_ns));
        }
    }
}

/// A and AAAA at `target` in this zone. Occluded names below a cut are glue: fine to hand out
/// for NS targets, not as data for anything else.
fn addresses(zone: &Zone, target: &Name, glue_ok: bool) -> Vec<Record> {
    if !zone.contains(target) || (!glue_ok && zone.delegation(target).is_some()) {
        return Vec::new();
    }
    let Some(node) = zone.node(target) else {
        return Vec::new();
    };
    [RecordType::A, RecordType::AAAA]
        .into_iter()
        .filter_map(|rtype| node.get(rtype))
        .flat_map(|rrset| rrset.records(target).collect::<Vec<_>>())
        .collect()
}
