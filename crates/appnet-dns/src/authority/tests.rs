//! Authority tests: one zone covering each branch of RFC 1034 §4.3.2, the header and EDNS
//! rules, truncation, transfers and NOTIFY, and a proptest that no input makes `respond` panic.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::wire::{Edns, Name, RData, Record, Section};
use crate::zone::{Catalog, Zone, no_includes};

const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster 2024010101 7200 3600 1209600 300
        NS    ns1
        NS    ns2.example.net.
        MX    10 mail
ns1     A     192.0.2.53
mail    A     192.0.2.25
        AAAA  2001:db8::25
host    A     192.0.2.80
www     CNAME host
chain1  CNAME chain2
chain2  CNAME www
out     CNAME www.example.net.
dangling CNAME missing
loop1   CNAME loop2
loop2   CNAME loop1
sub     NS    ns.sub
        NS    ns.other.example.net.
ns.sub  A     192.0.2.100
nogl    NS    ns.example.org.
*.wild  TXT   "wildcard"
*.wild  MX    10 mail
a.b.c   A     192.0.2.1
_http._tcp SRV 0 0 80 host
"#;

const CHILD: &str = "$TTL 60\n@ SOA ns.sub.example.com. host 9 1 1 1 60\n NS ns.sub.example.com.\n";

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn example_zone() -> Zone {
    Zone::parse(
        ZONE,
        &name("example.com."),
        Path::new("example.zone"),
        no_includes,
    )
    .unwrap()
    .zone
}

fn catalog() -> Catalog {
    [example_zone()].into_iter().collect()
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn query(qname: &str, qtype: RecordType) -> Message {
    Message::query(0x1234, name(qname), qtype, true, None)
}

fn ask_with(
    catalog: &Catalog,
    request: &Message,
    transport: Transport,
    client: IpAddr,
    opts: &AuthorityOptions,
) -> (Response, Message) {
    let response = respond(catalog, &request.encode(), transport, client, opts).expect("a reply");
    let first = response.messages.first().expect("one message");
    let decoded = Message::decode(first).expect("the reply decodes");
    assert!(decoded.header.qr);
    assert_eq!(decoded.header.id, request.header.id);
    assert!(!decoded.header.ra);
    (response, decoded)
}

fn ask(request: &Message) -> Message {
    ask_with(
        &catalog(),
        request,
        Transport::Udp,
        LOCAL,
        &AuthorityOptions::default(),
    )
    .1
}

fn rdatas(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.rtype(), r.rdata))
        .collect()
}

#[test]
fn exact_match_is_authoritative_and_minimal() {
    let reply = ask(&query("host.example.com.", RecordType::A));
    assert!(reply.header.aa);
    assert!(reply.header.rd, "RD is copied");
    assert_eq!(reply.rcode(), Rcode::NOERROR);
    assert_eq!(rdatas(&reply.answers), ["host.example.com. A 192.0.2.80"]);
    assert_eq!(reply.answers[0].ttl, 3600);
    assert!(
        reply.authorities.is_empty(),
        "minimal responses: no NS in authority"
    );
    assert!(reply.additionals.is_empty());
}

#[test]
fn additional_addresses_for_mx_srv_and_ns() {
    let reply = ask(&query("example.com.", RecordType::MX));
    assert_eq!(
        rdatas(&reply.additionals),
        [
            "mail.example.com. A 192.0.2.25",
            "mail.example.com. AAAA 2001:db8::25"
        ]
    );
    let reply = ask(&query("_http._tcp.example.com.", RecordType::SRV));
    assert_eq!(
        rdatas(&reply.additionals),
        ["host.example.com. A 192.0.2.80"]
    );
    // Only the in-zone NS target has an address here.
    let reply = ask(&query("example.com.", RecordType::NS));
    assert_eq!(
        rdatas(&reply.additionals),
        ["ns1.example.com. A 192.0.2.53"]
    );
}

#[test]
fn cname_chains() {
    let reply = ask(&query("www.example.com.", RecordType::A));
    assert!(reply.header.aa);
    assert_eq!(
        rdatas(&reply.answers),
        [
            "www.example.com. CNAME host.example.com.",
            "host.example.com. A 192.0.2.80"
        ]
    );
    let reply = ask(&query("chain1.example.com.", RecordType::A));
    assert_eq!(reply.answers.len(), 4);
    assert_eq!(
        reply.answers[3].rdata,
        RData::A(Ipv4Addr::new(192, 0, 2, 80))
    );
    // Asking for the CNAME itself does not follow it.
    let reply = ask(&query("www.example.com.", RecordType::CNAME));
    assert_eq!(
        rdatas(&reply.answers),
        ["www.example.com. CNAME host.example.com."]
    );
    // Out of zone: just the CNAME, NOERROR.
    let reply = ask(&query("out.example.com.", RecordType::A));
    assert_eq!((reply.rcode(), reply.answers.len()), (Rcode::NOERROR, 1));
    assert!(reply.authorities.is_empty());
    // To a missing in-zone name: NXDOMAIN with the CNAME (RFC 6604) and the SOA.
    let reply = ask(&query("dangling.example.com.", RecordType::A));
    assert_eq!(reply.rcode(), Rcode::NXDOMAIN);
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(reply.authorities[0].rtype(), RecordType::SOA);
    // A loop stops once every name was visited.
    let reply = ask(&query("loop1.example.com.", RecordType::A));
    assert_eq!((reply.rcode(), reply.answers.len()), (Rcode::NOERROR, 2));
    // CNAME to a name with the type missing: NODATA after the chain.
    let reply = ask(&query("www.example.com.", RecordType::AAAA));
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(reply.authorities[0].rtype(), RecordType::SOA);
}

#[test]
fn referrals_with_and_without_glue() {
    let reply = ask(&query("deep.sub.example.com.", RecordType::A));
    assert!(!reply.header.aa);
    assert_eq!(reply.rcode(), Rcode::NOERROR);
    assert!(reply.answers.is_empty());
    assert_eq!(
        rdatas(&reply.authorities),
        [
            "sub.example.com. NS ns.sub.example.com.",
            "sub.example.com. NS ns.other.example.net."
        ]
    );
    assert_eq!(
        rdatas(&reply.additionals),
        ["ns.sub.example.com. A 192.0.2.100"]
    );
    // The cut itself is referred too, except for DS, which the parent answers.
    let reply = ask(&query("sub.example.com.", RecordType::NS));
    assert!(!reply.header.aa && reply.authorities.len() == 2);
    let reply = ask(&query("sub.example.com.", RecordType::DS));
    assert!(reply.header.aa);
    assert_eq!(rdatas(&reply.authorities)[0].split(' ').nth(1), Some("SOA"));
    // Glue below the cut is never served as an answer.
    let reply = ask(&query("ns.sub.example.com.", RecordType::A));
    assert!(!reply.header.aa && reply.answers.is_empty());

    let reply = ask(&query("www.nogl.example.com.", RecordType::A));
    assert_eq!(
        rdatas(&reply.authorities),
        ["nogl.example.com. NS ns.example.org."]
    );
    assert!(reply.additionals.is_empty());
}

#[test]
fn ds_at_a_child_apex_comes_from_the_parent() {
    let child = Zone::parse(
        CHILD,
        &name("sub.example.com."),
        Path::new("sub"),
        no_includes,
    )
    .unwrap()
    .zone;
    let catalog: Catalog = [example_zone(), child].into_iter().collect();
    let opts = AuthorityOptions::default();
    let (_, reply) = ask_with(
        &catalog,
        &query("sub.example.com.", RecordType::DS),
        Transport::Udp,
        LOCAL,
        &opts,
    );
    assert_eq!(reply.authorities[0].name, name("example.com."));
    let (_, reply) = ask_with(
        &catalog,
        &query("sub.example.com.", RecordType::NS),
        Transport::Udp,
        LOCAL,
        &opts,
    );
    assert!(reply.header.aa, "the child zone answers for its apex");
    assert_eq!(reply.answers.len(), 1);
}

#[test]
fn wildcards_synthesise_with_the_query_name() {
    let reply = ask(&query("anything.wild.example.com.", RecordType::TXT));
    assert!(reply.header.aa);
    assert_eq!(
        rdatas(&reply.answers),
        [r#"anything.wild.example.com. TXT "wildcard""#]
    );
    let reply = ask(&query("two.labels.wild.example.com.", RecordType::MX));
    assert_eq!(reply.answers[0].name, name("two.labels.wild.example.com."));
    assert_eq!(reply.additionals.len(), 2);
    // The wildcard exists but has no A: NODATA.
    let reply = ask(&query("x.wild.example.com.", RecordType::A));
    assert_eq!((reply.rcode(), reply.answers.len()), (Rcode::NOERROR, 0));
    assert_eq!(reply.authorities[0].rtype(), RecordType::SOA);
}

#[test]
fn empty_non_terminals_are_nodata() {
    let reply = ask(&query("b.c.example.com.", RecordType::A));
    assert!(reply.header.aa);
    assert_eq!((reply.rcode(), reply.answers.len()), (Rcode::NOERROR, 0));
    assert_eq!(reply.authorities[0].rtype(), RecordType::SOA);
    let reply = ask(&query("x.b.c.example.com.", RecordType::A));
    assert_eq!(reply.rcode(), Rcode::NXDOMAIN);
}

#[test]
fn negative_answers_carry_the_soa_with_the_rfc_2308_ttl() {
    let reply = ask(&query("nope.example.com.", RecordType::A));
    assert!(reply.header.aa);
    assert_eq!(reply.rcode(), Rcode::NXDOMAIN);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities.len(), 1);
    assert_eq!(reply.authorities[0].name, name("example.com."));
    assert_eq!(
        reply.authorities[0].ttl, 300,
        "min(SOA TTL 3600, MINIMUM 300)"
    );
    let reply = ask(&query("host.example.com.", RecordType::AAAA));
    assert_eq!(reply.rcode(), Rcode::NOERROR);
    assert_eq!(reply.authorities[0].ttl, 300);
}

#[test]
fn any_returns_every_rrset() {
    let reply = ask(&query("example.com.", RecordType::ANY));
    let types: Vec<RecordType> = reply.answers.iter().map(Record::rtype).collect();
    assert_eq!(
        types,
        [
            RecordType::SOA,
            RecordType::NS,
            RecordType::NS,
            RecordType::MX
        ]
    );
}

#[test]
fn question_case_is_echoed() {
    let request = query("HoSt.ExAmPlE.cOm.", RecordType::A);
    let reply = ask(&request);
    assert!(reply.questions[0].name.eq_exact(&name("HoSt.ExAmPlE.cOm.")));
    assert!(reply.answers[0].name.eq_exact(&name("HoSt.ExAmPlE.cOm.")));
}

#[test]
fn foreign_names_and_classes_are_refused() {
    let reply = ask(&query("www.example.org.", RecordType::A));
    assert_eq!(reply.rcode(), Rcode::REFUSED);
    assert!(!reply.header.aa && reply.header.rd);
    let mut chaos = query("version.bind.", RecordType::TXT);
    chaos.questions[0].qclass = Class::CH;
    assert_eq!(ask(&chaos).rcode(), Rcode::REFUSED);
}

#[test]
fn class_any_is_answered_but_never_authoritative() {
    let ask_any = |qname: &str, qtype: RecordType| {
        let mut request = query(qname, qtype);
        request.questions[0].qclass = Class::ANY;
        ask(&request)
    };
    let reply = ask_any("host.example.com.", RecordType::A);
    assert_eq!(rdatas(&reply.answers), ["host.example.com. A 192.0.2.80"]);
    assert!(!reply.header.aa, "RFC 1034 §3.7.1");
    assert_eq!(reply.questions[0].qclass, Class::ANY);
    // Negative answers keep their RCODE but lose the SOA, so nobody caches them.
    let reply = ask_any("nothere.example.com.", RecordType::A);
    assert_eq!(reply.rcode(), Rcode::NXDOMAIN);
    assert!(!reply.header.aa && reply.authorities.is_empty());
    let reply = ask_any("host.example.com.", RecordType::MX);
    assert_eq!(reply.rcode(), Rcode::NOERROR);
    assert!(reply.answers.is_empty() && reply.authorities.is_empty());
    // A referral is unchanged.
    let reply = ask_any("deep.sub.example.com.", RecordType::A);
    assert!(!reply.header.aa);
    assert_eq!(reply.authorities.len(), 2);
}

#[test]
fn header_errors() {
    let catalog = catalog();
    let opts = AuthorityOptions::default();
    let send = |bytes: &[u8]| respond(&catalog, bytes, Transport::Udp, LOCAL, &opts);
    // Too short to answer, and responses are never answered.
    assert!(send(&[0x12, 0x34, 0, 0]).is_none());
    let mut response = query("host.example.com.", RecordType::A);
    response.header.qr = true;
    assert!(send(&response.encode()).is_none());
    // Garbage after a readable header: FORMERR under the same ID.
    let garbage = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
    let reply = send(&garbage).unwrap();
    let decoded = Message::decode(&reply.messages[0]).unwrap();
    assert_eq!(
        (decoded.header.id, decoded.rcode()),
        (0xabcd, Rcode::FORMERR)
    );
    assert!(decoded.questions.is_empty() && decoded.header.rd);
    // The question is echoed when it parses even though the rest does not.
    let mut bytes = query("host.example.com.", RecordType::A).encode();
    bytes[11] = 1; // ARCOUNT 1 with nothing behind it
    let decoded = Message::decode(&send(&bytes).unwrap().messages[0]).unwrap();
    assert_eq!(decoded.rcode(), Rcode::FORMERR);
    assert_eq!(decoded.questions[0].name, name("host.example.com."));
    // QDCOUNT must be 1.
    let mut none = query("host.example.com.", RecordType::A);
    none.questions.clear();
    assert_eq!(ask(&none).rcode(), Rcode::FORMERR);
    let mut two = query("host.example.com.", RecordType::A);
    two.questions.push(two.questions[0].clone());
    assert_eq!(ask(&two).rcode(), Rcode::FORMERR);
}

#[test]
fn opcodes() {
    let mut notify = query("example.com.", RecordType::SOA);
    notify.header.opcode = Opcode::NOTIFY;
    let reply = ask(&notify);
    assert_eq!(
        (reply.rcode(), reply.header.opcode),
        (Rcode::REFUSED, Opcode::NOTIFY)
    );
    assert_eq!(reply.questions, notify.questions);
    let mut update = query("example.com.", RecordType::SOA);
    update.header.opcode = Opcode::UPDATE;
    assert_eq!(ask(&update).rcode(), Rcode::NOTIMP);
    let mut status = query("example.com.", RecordType::SOA);
    status.header.opcode = Opcode::STATUS;
    assert_eq!(ask(&status).rcode(), Rcode::NOTIMP);
}

#[test]
fn edns_is_echoed_and_badvers_answered() {
    let mut request = query("host.example.com.", RecordType::A);
    request.edns = Some(Edns {
        dnssec_ok: true,
        ..Edns::new(4096)
    });
    let reply = ask(&request);
    let edns = reply.edns.expect("OPT in the reply");
    assert_eq!(
        (edns.udp_payload_size, edns.version, edns.dnssec_ok),
        (1232, 0, true)
    );
    assert_eq!(reply.answers.len(), 1);

    request.edns = Some(Edns {
        version: 1,
        ..Edns::new(4096)
    });
    let reply = ask(&request);
    assert_eq!(reply.rcode(), Rcode::BADVERS);
    assert_eq!(reply.edns.map(|e| e.version), Some(0));
    assert!(reply.answers.is_empty());

    // Without EDNS in the query, none in the reply.
    assert!(
        ask(&query("host.example.com.", RecordType::A))
            .edns
            .is_none()
    );
}

fn big_catalog() -> Catalog {
    let mut text = String::from("$TTL 60\n@ SOA ns1 host 1 1 1 1 1\n NS ns1\nns1 A 192.0.2.1\n");
    for i in 0..40 {
        text.push_str(&format!(
            "many TXT \"record number {i:02} with some padding text to fill\"\n"
        ));
    }
    for i in 0..12 {
        text.push_str(&format!(
            "big NS ns{i}.big\nns{i}.big A 192.0.2.{i}\nns{i}.big AAAA 2001:db8::{i}\n"
        ));
    }
    let zone = Zone::parse(&text, &name("example.com."), Path::new("big"), no_includes)
        .unwrap()
        .zone;
    [zone].into_iter().collect()
}

#[test]
fn truncation_by_transport_and_edns() {
    let catalog = big_catalog();
    let opts = AuthorityOptions::default();
    let plain = query("many.example.com.", RecordType::TXT);
    let (response, reply) = ask_with(&catalog, &plain, Transport::Udp, LOCAL, &opts);
    assert!(response.truncated && reply.header.tc);
    assert!(response.messages[0].len() <= 512);
    assert!(
        reply.answers.is_empty(),
        "the RRset is kept or dropped whole"
    );

    let mut with_edns = plain.clone();
    with_edns.edns = Some(Edns::new(4096));
    let (response, reply) = ask_with(&catalog, &with_edns, Transport::Udp, LOCAL, &opts);
    assert!(reply.header.tc);
    assert!(response.messages[0].len() <= 1232);

    let small = AuthorityOptions {
        max_udp_payload: 4096,
        ..AuthorityOptions::default()
    };
    let (response, reply) = ask_with(&catalog, &with_edns, Transport::Udp, LOCAL, &small);
    assert!(!reply.header.tc);
    assert!(response.messages[0].len() > 1232);
    assert_eq!(reply.answers.len(), 40);

    let (response, reply) = ask_with(&catalog, &plain, Transport::Tcp, LOCAL, &opts);
    assert!(!response.truncated && !reply.header.tc);
    assert_eq!(reply.answers.len(), 40);
}

#[test]
fn referral_glue_that_does_not_fit_sets_tc() {
    let catalog = big_catalog();
    let opts = AuthorityOptions::default();
    let request = query("www.big.example.com.", RecordType::A);
    let (_, reply) = ask_with(&catalog, &request, Transport::Udp, LOCAL, &opts);
    assert!(reply.header.tc, "RFC 9471: in-domain glue must fit");
    assert_eq!(reply.authorities.len(), 12);
    let (_, reply) = ask_with(&catalog, &request, Transport::Tcp, LOCAL, &opts);
    assert!(!reply.header.tc);
    assert_eq!(reply.additionals.len(), 24);
}

/// Runs a transfer and returns the decoded messages.
fn transfer_with(
    request: &Message,
    transport: Transport,
    client: IpAddr,
    opts: &AuthorityOptions,
) -> Vec<Message> {
    let response = respond(&catalog(), &request.encode(), transport, client, opts).unwrap();
    response
        .messages
        .iter()
        .map(|bytes| Message::decode(bytes).unwrap())
        .collect()
}

fn check_axfr(messages: &[Message], zone: &Zone, request: &Message) {
    let records: Vec<Record> = messages.iter().flat_map(|m| m.answers.clone()).collect();
    assert_eq!(records.first(), Some(zone.soa()));
    assert_eq!(records.last(), Some(zone.soa()));
    let middle: Vec<Record> = records[1..records.len() - 1].to_vec();
    let expected: Vec<Record> = zone
        .records()
        .filter(|r| r.rtype() != RecordType::SOA)
        .collect();
    assert_eq!(middle, expected, "every record once, in canonical order");
    for (index, message) in messages.iter().enumerate() {
        assert_eq!(message.header.id, request.header.id);
        assert!(message.header.aa && message.header.qr);
        assert_eq!(message.rcode(), Rcode::NOERROR);
        assert_eq!(message.questions.len(), usize::from(index == 0));
    }
}

#[test]
fn axfr_over_tcp() {
    let zone = example_zone();
    let request = query("example.com.", RecordType::AXFR);
    let messages = transfer_with(
        &request,
        Transport::Tcp,
        LOCAL,
        &AuthorityOptions::default(),
    );
    assert_eq!(messages.len(), 1);
    check_axfr(&messages, &zone, &request);

    let small = AuthorityOptions {
        transfer_message_size: 200,
        ..AuthorityOptions::default()
    };
    let messages = transfer_with(&request, Transport::Tcp, LOCAL, &small);
    assert!(messages.len() > 3);
    check_axfr(&messages, &zone, &request);

    // The public helper gives the same transfer.
    let direct: Vec<Message> = axfr(&zone, &request)
        .iter()
        .map(|b| Message::decode(b).unwrap())
        .collect();
    check_axfr(&direct, &zone, &request);
}

#[test]
fn axfr_refusals() {
    let opts = AuthorityOptions::default();
    let request = query("example.com.", RecordType::AXFR);
    let rcode = |transport, client, request: &Message| {
        transfer_with(request, transport, client, &opts)[0].rcode()
    };
    assert_eq!(rcode(Transport::Tcp, REMOTE, &request), Rcode::REFUSED);
    assert_eq!(rcode(Transport::Udp, LOCAL, &request), Rcode::FORMERR);
    assert_eq!(
        rcode(
            Transport::Tcp,
            LOCAL,
            &query("www.example.com.", RecordType::AXFR)
        ),
        Rcode::NOTAUTH
    );
    assert_eq!(
        rcode(
            Transport::Tcp,
            LOCAL,
            &query("example.org.", RecordType::AXFR)
        ),
        Rcode::NOTAUTH
    );
    let open = AuthorityOptions {
        allow_transfer: vec!["192.0.2.0/24".parse().unwrap()],
        ..AuthorityOptions::default()
    };
    let messages = transfer_with(&request, Transport::Tcp, REMOTE, &open);
    check_axfr(&messages, &example_zone(), &request);
}

#[test]
fn ixfr_is_a_full_transfer_or_the_soa() {
    let zone = example_zone();
    let opts = AuthorityOptions::default();
    let with_serial = |serial| {
        let mut request = query("example.com.", RecordType::IXFR);
        let mut soa = zone.soa().clone();
        if let RData::Soa { serial: s, .. } = &mut soa.rdata {
            *s = serial;
        }
        request.authorities.push(soa);
        request
    };
    let old = with_serial(1);
    let messages = transfer_with(&old, Transport::Tcp, LOCAL, &opts);
    check_axfr(&messages, &zone, &old);
    let messages = transfer_with(&old, Transport::Udp, LOCAL, &opts);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].answers, [zone.soa().clone()]);
    let current = with_serial(zone.serial());
    let messages = transfer_with(&current, Transport::Tcp, LOCAL, &opts);
    assert_eq!(messages[0].answers, [zone.soa().clone()]);
    assert_eq!(
        transfer_with(&old, Transport::Tcp, REMOTE, &opts)[0].rcode(),
        Rcode::REFUSED
    );
}

#[test]
fn notify_messages() {
    let zone = example_zone();
    let bytes = notify_message(&zone, 77);
    let notify = Message::decode(&bytes).unwrap();
    assert_eq!(notify.header.opcode, Opcode::NOTIFY);
    assert!(notify.header.aa && !notify.header.qr);
    assert_eq!(
        notify.questions,
        [Question::new(name("example.com."), RecordType::SOA)]
    );
    assert_eq!(notify.answers, [zone.soa().clone()]);
    assert_eq!(
        notify
            .records()
            .filter(|(s, _)| *s == Section::Answer)
            .count(),
        1
    );

    let mut ack = Message::response_to(&notify);
    ack.header.aa = true;
    assert!(is_notify_ack(&ack.encode(), 77));
    assert!(!is_notify_ack(&ack.encode(), 78));
    ack.set_rcode(Rcode::REFUSED);
    assert!(!is_notify_ack(&ack.encode(), 77));
    assert!(
        !is_notify_ack(&bytes, 77),
        "the NOTIFY itself is no acknowledgement"
    );
    assert!(!is_notify_ack(&[1, 2, 3], 77));

    // Our own NOTIFY sent back to us is refused, not ignored.
    let reply = ask(&notify);
    assert_eq!(reply.rcode(), Rcode::REFUSED);
}

#[test]
fn response_summary_for_traces() {
    let (response, _) = ask_with(
        &catalog(),
        &query("host.example.com.", RecordType::A),
        Transport::Udp,
        LOCAL,
        &AuthorityOptions::default(),
    );
    let summary = response.summary();
    assert!(summary.starts_with("R 4660 NOERROR aa"), "{summary}");
}

fn sample_queries() -> Vec<Vec<u8>> {
    let mut with_edns = query("www.example.com.", RecordType::A);
    with_edns.edns = Some(Edns::new(1232));
    vec![
        query("www.example.com.", RecordType::A).encode(),
        query("x.sub.example.com.", RecordType::AAAA).encode(),
        query("example.com.", RecordType::AXFR).encode(),
        query("a.wild.example.com.", RecordType::ANY).encode(),
        with_edns.encode(),
    ]
}

proptest! {
    #[test]
    fn respond_never_panics_and_answers_decode(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let catalog = catalog();
        let opts = AuthorityOptions::default();
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Some(response) = respond(&catalog, &bytes, transport, LOCAL, &opts) {
                for message in &response.messages {
                    prop_assert!(Message::decode(message).is_ok());
                }
            }
        }
    }

    #[test]
    fn mutated_queries_never_panic(
        pick in 0usize..5,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let catalog = catalog();
        let opts = AuthorityOptions::default();
        let mut bytes = sample_queries()[pick].clone();
        for (at, value) in edits {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Some(response) = respond(&catalog, &bytes, transport, LOCAL, &opts) {
                prop_assert!(!response.messages.is_empty());
                for message in &response.messages {
                    let decoded = Message::decode(message);
                    prop_assert!(decoded.is_ok(), "{:?}", decoded);
                    if transport == Transport::Udp {
                        prop_assert!(message.len() <= 1232);
                    }
                }
            }
        }
    }
}
