//! Whole resolutions driven through the state machine against a scripted fake Internet: no
//! sockets, no async, a clock that moves only when a test says so.
//!
//! The fake Internet: the root (10.0.0.1) delegates `example.` (10.0.0.2) and `other.`
//! (10.0.0.5); `example.` delegates `alpha.example.` with glue (10.0.0.3) and `beta.example.`
//! to `ns.beta.other.`, a name in another zone (glue-less, 10.0.0.4).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::wire::{Message, Name, Question, RData, Rcode, Record, RecordType};
use crate::zone::no_includes;

use super::cache::{Cache, Freshness, Rank, STALE_TTL};
use super::hints::Hints;
use super::iterate::{Answer, MAX_QUERIES, Outcome, Resolution, ResolveError, Step};

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, last], 53))
}

/// One zone's records, from master-file text.
struct FakeZone {
    origin: Name,
    records: Vec<Record>,
}

impl FakeZone {
    fn new(origin: &str, text: &str) -> FakeZone {
        let origin = name(origin);
        let text = format!("$TTL 300\n{text}");
        let parsed =
            crate::zone::parser::parse(&text, Some(&origin), Path::new("<fake>"), &no_includes)
                .unwrap();
        FakeZone {
            origin,
            records: parsed
                .records
                .into_iter()
                .map(|located| located.record)
                .collect(),
        }
    }

    fn at(&self, owner: &Name, rtype: RecordType) -> Vec<Record> {
        let records = self
            .records
            .iter()
            .filter(|r| &r.name == owner && r.rtype() == rtype);
        records.cloned().collect()
    }

    /// A minimal authoritative server: referral at a zone cut, else an AA answer following
    /// CNAMEs inside the zone (at most 8), else NXDOMAIN or NODATA with the SOA.
    fn answer(&self, query: &Message) -> Message {
        let mut reply = Message::response_to(query);
        let Some(question) = query.question() else {
            return reply;
        };
        if let Some(cut) = self.cut_above(&question.name) {
            reply.authorities = self.at(&cut, RecordType::NS);
            for ns in &reply.authorities {
                let target = ns.rdata.target_name().cloned().unwrap_or_else(Name::root);
                reply.additionals.extend(self.at(&target, RecordType::A));
            }
            return reply;
        }
        reply.header.aa = true;
        let mut owner = question.name.clone();
        for step in 0..=8 {
            if step == 8 {
                // A long chain is answered in part, as real servers do; the resolver goes on.
                return reply;
            }
            let found = self.at(&owner, question.qtype);
            if !found.is_empty() {
                reply.answers.extend(found);
                return reply;
            }
            let Some(cname) = self.at(&owner, RecordType::CNAME).pop() else {
                break;
            };
            owner = cname
                .rdata
                .target_name()
                .cloned()
                .unwrap_or_else(Name::root);
            reply.answers.push(cname);
            if !owner.is_subdomain_of(&self.origin) {
                return reply;
            }
        }
        if !reply.answers.is_empty() && !self.exists(&owner) {
            return reply;
        }
        if !self.exists(&owner) {
            reply.set_rcode(Rcode::NXDOMAIN);
        }
        reply.authorities = self.at(&self.origin, RecordType::SOA);
        reply
    }

    /// The delegation (NS below the apex) at or above `qname`, if any.
    fn cut_above(&self, qname: &Name) -> Option<Name> {
        self.records
            .iter()
            .filter(|r| r.rtype() == RecordType::NS && r.name != self.origin)
            .find(|r| qname.is_subdomain_of(&r.name))
            .map(|r| r.name.clone())
    }

    fn exists(&self, owner: &Name) -> bool {
        self.records.iter().any(|r| r.name.is_subdomain_of(owner))
    }
}

/// How a fake server behaves.
enum Behaviour {
    Zone(FakeZone),
    Silent,
    /// Answers with whatever the function makes of the query.
    Script(fn(&Message) -> Message),
}

/// The fake Internet: servers by address, and a log of every query sent.
struct FakeNet {
    servers: HashMap<SocketAddr, Behaviour>,
    log: Vec<(SocketAddr, Question)>,
}

impl FakeNet {
    fn new() -> FakeNet {
        let mut net = FakeNet {
            servers: HashMap::new(),
            log: Vec::new(),
        };
        net.zone(1, ".", ROOT);
        net.zone(2, "example.", EXAMPLE);
        net.zone(3, "alpha.example.", ALPHA);
        net.zone(4, "beta.example.", BETA);
        net.zone(5, "other.", OTHER);
        net
    }

    fn zone(&mut self, last: u8, origin: &str, text: &str) {
        self.servers
            .insert(addr(last), Behaviour::Zone(FakeZone::new(origin, text)));
    }

    fn set(&mut self, last: u8, behaviour: Behaviour) {
        self.servers.insert(addr(last), behaviour);
    }

    fn ask(&mut self, server: SocketAddr, query: &Message) -> Option<Message> {
        self.log
            .extend(query.question().map(|q| (server, q.clone())));
        match self.servers.get(&server)? {
            Behaviour::Zone(zone) => Some(zone.answer(query)),
            Behaviour::Silent => None,
            Behaviour::Script(script) => Some(script(query)),
        }
    }

    fn resolve(
        &mut self,
        cache: &mut Cache,
        qname: &str,
        qtype: RecordType,
        now: Instant,
    ) -> Answer {
        self.log.clear();
        let hints = Hints {
            servers: vec![addr(1)],
            port: 53,
        };
        self.resolve_from(&hints, cache, qname, qtype, now)
    }

    fn resolve_from(
        &mut self,
        hints: &Hints,
        cache: &mut Cache,
        qname: &str,
        qtype: RecordType,
        now: Instant,
    ) -> Answer {
        let mut resolution = Resolution::new(Question::new(name(qname), qtype), hints);
        for _ in 0..1000 {
            match resolution.poll(cache, now) {
                Step::Done(answer) => return answer,
                Step::Query { server, query } => {
                    assert!(!query.header.rd, "iterative queries clear RD");
                    assert_eq!(query.edns.as_ref().map(|e| e.udp_payload_size), Some(1232));
                    match self.ask(server, &query) {
                        Some(response) => resolution.on_response(server, response),
                        None => resolution.on_timeout(server),
                    }
                }
            }
        }
        panic!("the resolution never ended");
    }

    fn asked(&self) -> Vec<SocketAddr> {
        self.log.iter().map(|(server, _)| *server).collect()
    }
}

const ROOT: &str = "\
@ SOA a.root-servers.net. hostmaster.root-servers.net. 1 1800 900 604800 86400
@ NS a.root-servers.net.
a.root-servers.net. A 10.0.0.1
example. NS ns.example.
ns.example. A 10.0.0.2
other. NS ns.other.
ns.other. A 10.0.0.5
";

const EXAMPLE: &str = "\
@ SOA ns hostmaster 1 1800 900 604800 3600
@ NS ns
ns A 10.0.0.2
alpha NS ns.alpha
ns.alpha A 10.0.0.3
beta NS ns.beta.other.
";

const ALPHA: &str = "\
@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 10.0.0.3
@ MX 10 mail
mail A 127.0.0.1
www A 127.0.0.1
web CNAME www
ext CNAME www.other.
loop1 CNAME loop2
loop2 CNAME loop1
";

const BETA: &str = "\
@ SOA ns.beta.other. hostmaster 1 3600 600 86400 60
@ NS ns.beta.other.
www A 192.0.2.60
";

const OTHER: &str = "\
@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 10.0.0.5
www A 192.0.2.50
ns.beta A 10.0.0.4
";

fn a_records(answer: &Answer) -> Vec<(String, u32, String)> {
    answer
        .records
        .iter()
        .map(|r| (r.name.to_string(), r.ttl, r.rdata.to_string()))
        .collect()
}

#[test]
fn a_plain_lookup_walks_root_tld_and_domain() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    assert_eq!(answer.outcome, Outcome::Positive);
    assert_eq!(
        a_records(&answer),
        [("www.alpha.example.".into(), 300, "127.0.0.1".into())]
    );
    assert_eq!(net.asked(), [addr(1), addr(2), addr(3)]);
    assert_eq!(answer.queries, 3);
}

#[test]
fn the_second_lookup_comes_from_the_cache_with_a_smaller_ttl() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    net.resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    let later = t0 + Duration::from_secs(100);
    let answer = net.resolve(&mut cache, "WWW.alpha.EXAMPLE.", RecordType::A, later);
    assert_eq!(answer.queries, 0);
    assert!(net.asked().is_empty());
    assert_eq!(answer.records[0].ttl, 200);
    // A sibling name starts at the cached delegation, not at the root.
    let answer = net.resolve(&mut cache, "mail.alpha.example.", RecordType::A, later);
    assert_eq!(answer.outcome, Outcome::Positive);
    assert_eq!(net.asked(), [addr(3)]);
}

#[test]
fn an_mx_lookup() {
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(&mut cache, "alpha.example.", RecordType::MX, Instant::now());
    assert_eq!(
        a_records(&answer),
        [(
            "alpha.example.".into(),
            300,
            "10 mail.alpha.example.".into()
        )]
    );
}

#[test]
fn a_cname_into_another_zone_is_followed() {
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "ext.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(answer.outcome, Outcome::Positive);
    assert_eq!(
        a_records(&answer),
        [
            ("ext.alpha.example.".into(), 300, "www.other.".into()),
            ("www.other.".into(), 300, "192.0.2.50".into()),
        ]
    );
    // The target is resolved afresh: the root again (other. was never asked of it), other.
    assert_eq!(net.asked(), [addr(1), addr(2), addr(3), addr(1), addr(5)]);
    let in_zone = net.resolve(
        &mut cache,
        "web.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(in_zone.records.len(), 2, "CNAME and A from one response");
    assert_eq!(net.asked(), [addr(3)]);
}

#[test]
fn a_glueless_name_server_is_resolved_first() {
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "www.beta.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(
        a_records(&answer),
        [("www.beta.example.".into(), 300, "192.0.2.60".into())]
    );
    let questions: Vec<String> = net.log.iter().map(|(_, q)| q.name.to_string()).collect();
    assert_eq!(
        questions,
        [
            "www.beta.example.",
            "www.beta.example.",
            "ns.beta.other.",
            "ns.beta.other.",
            "www.beta.example."
        ],
        "root, example. (referral without glue), root and other. (the NS address), beta.example."
    );
    assert_eq!(net.asked(), [addr(1), addr(2), addr(1), addr(5), addr(4)]);
}

#[test]
fn nxdomain_is_cached_negatively_with_its_soa() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(&mut cache, "nope.alpha.example.", RecordType::A, t0);
    assert_eq!(answer.outcome, Outcome::NxDomain);
    assert_eq!(answer.rcode(), Rcode::NXDOMAIN);
    let soa = answer.soa.expect("the SOA for the authority section");
    assert_eq!(
        (soa.name, soa.ttl),
        (name("alpha.example."), 60),
        "min(SOA TTL 300, MINIMUM 60)"
    );
    // Every type of the name is covered, from the cache.
    let later = t0 + Duration::from_secs(20);
    let again = net.resolve(&mut cache, "nope.alpha.example.", RecordType::MX, later);
    assert_eq!((again.outcome, again.queries), (Outcome::NxDomain, 0));
    assert_eq!(again.soa.map(|soa| soa.ttl), Some(40));
}

#[test]
fn nodata_is_cached_for_its_type_only() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(&mut cache, "www.alpha.example.", RecordType::AAAA, t0);
    assert_eq!(
        (answer.outcome.clone(), answer.rcode()),
        (Outcome::NoData, Rcode::NOERROR)
    );
    assert!(answer.soa.is_some());
    let again = net.resolve(&mut cache, "www.alpha.example.", RecordType::AAAA, t0);
    assert_eq!(again.queries, 0);
    let other_type = net.resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    assert_eq!(
        (other_type.outcome, other_type.queries),
        (Outcome::Positive, 1)
    );
}

/// A server for alpha.example. that points back up at example.: lame.
fn upward_referral(query: &Message) -> Message {
    let mut reply = Message::response_to(query);
    reply.authorities = vec![Record::new(
        name("example."),
        300,
        RData::Ns(name("ns.example.")),
    )];
    reply
}

/// A server for example. that refers to example. itself: no progress.
fn self_referral(query: &Message) -> Message {
    let mut reply = Message::response_to(query);
    reply.authorities = vec![Record::new(
        name("example."),
        300,
        RData::Ns(name("ns.example.")),
    )];
    reply.additionals = vec![Record::new(
        name("ns.example."),
        300,
        RData::A([10, 0, 0, 2].into()),
    )];
    reply
}

#[test]
fn upward_and_looping_referrals_end_in_servfail() {
    let mut net = FakeNet::new();
    net.set(3, Behaviour::Script(upward_referral));
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "www.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(answer.rcode(), Rcode::SERVFAIL);
    assert_eq!(
        answer.outcome,
        Outcome::Failed(ResolveError::ServersFailed {
            zone: name("alpha.example.")
        })
    );

    let mut net = FakeNet::new();
    net.set(2, Behaviour::Script(self_referral));
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "www.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(answer.rcode(), Rcode::SERVFAIL);
    assert_eq!(
        net.asked(),
        [addr(1), addr(2)],
        "no second round for a lame server"
    );
}

/// example.'s server, poisoned: its referral carries an address for a name it has no say over.
fn poisoning_referral(query: &Message) -> Message {
    let mut reply = FakeZone::new("example.", EXAMPLE).answer(query);
    reply.additionals.push(Record::new(
        name("victim.other."),
        300,
        RData::A([6, 6, 6, 6].into()),
    ));
    reply.authorities.push(Record::new(
        name("other."),
        300,
        RData::Ns(name("ns.evil.example.")),
    ));
    reply
}

#[test]
fn out_of_bailiwick_glue_is_not_cached() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    net.resolve(&mut cache, "www.other.", RecordType::A, t0);
    net.set(2, Behaviour::Script(poisoning_referral));
    let answer = net.resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    assert_eq!(answer.outcome, Outcome::Positive);
    assert!(cache.addresses(&name("victim.other."), t0).is_empty());
    let ns = cache.rrset(&name("other."), RecordType::NS, t0).unwrap();
    assert_eq!(
        ns[0].rdata,
        RData::Ns(name("ns.other.")),
        "the root's delegation of other. stands"
    );
    let victim = net.resolve(&mut cache, "victim.other.", RecordType::A, t0);
    assert_eq!(
        victim.outcome,
        Outcome::NxDomain,
        "asked of other.'s real server"
    );
}

#[test]
fn a_timeout_moves_on_to_the_next_server() {
    let mut net = FakeNet::new();
    net.set(9, Behaviour::Silent);
    let hints = Hints {
        servers: vec![addr(9), addr(1)],
        port: 53,
    };
    let mut cache = Cache::new(1000);
    let answer = net.resolve_from(
        &hints,
        &mut cache,
        "www.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(answer.outcome, Outcome::Positive);
    assert_eq!(net.asked(), [addr(9), addr(1), addr(2), addr(3)]);
}

#[test]
fn silent_servers_are_tried_twice_then_servfail() {
    let mut net = FakeNet::new();
    net.set(3, Behaviour::Silent);
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "www.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(answer.rcode(), Rcode::SERVFAIL);
    assert!(!answer.stale);
    assert_eq!(net.asked(), [addr(1), addr(2), addr(3), addr(3)]);
}

#[test]
fn failing_upstreams_with_stale_data_give_a_stale_answer() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    net.resolve(&mut cache, "web.alpha.example.", RecordType::A, t0);
    net.set(3, Behaviour::Silent);
    let later = t0 + Duration::from_secs(600);
    let answer = net.resolve(&mut cache, "web.alpha.example.", RecordType::A, later);
    assert!(answer.stale);
    assert_eq!(answer.outcome, Outcome::Positive);
    assert_eq!(answer.records.len(), 2, "the stale CNAME chain too");
    assert!(answer.records.iter().all(|record| record.ttl == STALE_TTL));
    assert!(answer.queries > 0, "stale data is used only after trying");
}

#[test]
fn a_cname_loop_is_servfail() {
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "loop1.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(
        answer.outcome,
        Outcome::Failed(ResolveError::CnameLoop(name("loop1.alpha.example.")))
    );
}

#[test]
fn a_long_cname_chain_is_cut() {
    let mut text =
        String::from("@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 10.0.0.3\n");
    for i in 0..20 {
        text.push_str(&format!("c{i} CNAME c{}\n", i + 1));
    }
    text.push_str("c20 A 192.0.2.1\n");
    let mut net = FakeNet::new();
    net.zone(3, "alpha.example.", &text);
    let mut cache = Cache::new(1000);
    let answer = net.resolve(
        &mut cache,
        "c0.alpha.example.",
        RecordType::A,
        Instant::now(),
    );
    assert_eq!(answer.outcome, Outcome::Failed(ResolveError::ChainTooLong));
}

#[test]
fn mutually_dependent_glueless_zones_fail_within_the_budget() {
    let mut net = FakeNet::new();
    let text = format!("{EXAMPLE}x NS ns.y.example.\ny NS ns.x.example.\n");
    net.zone(2, "example.", &text);
    let mut cache = Cache::new(1000);
    let answer = net.resolve(&mut cache, "www.x.example.", RecordType::A, Instant::now());
    assert_eq!(answer.rcode(), Rcode::SERVFAIL);
    assert!(answer.queries <= MAX_QUERIES);
    assert!(net.log.len() < 20, "{} queries", net.log.len());
}

#[test]
fn the_cache_stays_within_its_size() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(8);
    for host in ["www", "mail", "web", "nope", "ext"] {
        net.resolve(
            &mut cache,
            &format!("{host}.alpha.example."),
            RecordType::A,
            t0,
        );
        assert!(cache.len() <= 8);
    }
    let answer = net.resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    assert_eq!(
        answer.outcome,
        Outcome::Positive,
        "evictions cost queries, not correctness"
    );
}

#[test]
fn rd_clear_answers_from_the_cache_only() {
    let t0 = Instant::now();
    let mut net = FakeNet::new();
    let mut cache = Cache::new(1000);
    let question = Question::new(name("www.alpha.example."), RecordType::A);
    assert_eq!(Resolution::from_cache(&question, &mut cache, t0), None);
    net.resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    let answer = Resolution::from_cache(&question, &mut cache, t0).unwrap();
    assert_eq!((answer.outcome, answer.queries), (Outcome::Positive, 0));
    // Glue learnt from referrals never answers a client.
    let glue = Question::new(name("ns.alpha.example."), RecordType::A);
    assert_eq!(Resolution::from_cache(&glue, &mut cache, t0), None);
    assert!(
        cache
            .lookup(
                &name("ns.alpha.example."),
                RecordType::A,
                Rank::Delegation,
                Freshness::Fresh,
                t0
            )
            .is_some()
    );
}

#[test]
fn answers_from_the_wrong_server_or_with_the_wrong_id_are_ignored() {
    let t0 = Instant::now();
    let mut cache = Cache::new(1000);
    let hints = Hints {
        servers: vec![addr(1)],
        port: 53,
    };
    let mut resolution =
        Resolution::new(Question::new(name("www.example."), RecordType::A), &hints);
    let Step::Query { server, query } = resolution.poll(&mut cache, t0) else {
        panic!("a query");
    };
    let mut forged = FakeZone::new(".", ROOT).answer(&query);
    forged.answers = vec![Record::new(
        name("www.example."),
        300,
        RData::A([6, 6, 6, 6].into()),
    )];
    // From another address: not even looked at; the query is still in flight.
    resolution.on_response(addr(66), forged.clone());
    assert_eq!(
        resolution.poll(&mut cache, t0),
        Step::Query {
            server,
            query: query.clone()
        }
    );
    // From the right address with a wrong ID: worth no more than silence.
    forged.header.id = query.header.id.wrapping_add(1);
    resolution.on_response(server, forged);
    let Step::Done(answer) = resolution.poll(&mut cache, t0) else {
        panic!("the only root server failed");
    };
    assert_eq!(answer.rcode(), Rcode::SERVFAIL);
    assert!(cache.is_empty());
}

#[test]
fn giving_up_at_the_deadline_serves_stale_or_fails() {
    let t0 = Instant::now();
    let mut cache = Cache::new(1000);
    let hints = Hints {
        servers: vec![addr(1)],
        port: 53,
    };
    let question = Question::new(name("www.alpha.example."), RecordType::A);
    let mut resolution = Resolution::new(question.clone(), &hints);
    assert!(matches!(
        resolution.poll(&mut cache, t0),
        Step::Query { .. }
    ));
    let answer = resolution.give_up(ResolveError::Deadline, &mut cache, t0);
    assert_eq!(answer.outcome, Outcome::Failed(ResolveError::Deadline));

    FakeNet::new().resolve(&mut cache, "www.alpha.example.", RecordType::A, t0);
    let mut resolution = Resolution::new(question, &hints);
    let answer = resolution.give_up(
        ResolveError::Deadline,
        &mut cache,
        t0 + Duration::from_secs(3600),
    );
    assert!(answer.stale && answer.outcome == Outcome::Positive);
}
