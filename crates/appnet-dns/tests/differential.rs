//! Differential and hostile-input interop tests of the DNS crate:
//! - the same zone served by us and by NSD, one query set sent to both, the answers compared;
//! - our resolver walking a hierarchy whose middle level (the `example.` TLD) is NSD, asked by
//!   dig as well;
//! - hostile transport input to our authoritative server over real sockets.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::TcpLimits;
use appnet_core::trace::Tracer;
use appnet_dns::config::ResolverConfig;
use appnet_dns::mini::{self, MiniServer};
use appnet_dns::resolver::{self, Hints, Outcome, Resolver};
use appnet_dns::server::ZoneSource;
use appnet_dns::wire::{Class, Edns, Message, Name, Opcode, RData, Rcode, Record, RecordType};
use appnet_testkit::free_port_on;
use common::{
    Nsd, OurServer, TCP_LIMITS, any_loopback_port, assert_has, bind_pair, dig, free_port,
    start_authority, start_nsd_on,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// 1. Differential: us and NSD, same zone, same queries.
// ---------------------------------------------------------------------------------------------

const SERIAL: u32 = 2026112801;

/// Every kind of name the query set needs: each record type, in-zone and out-of-zone CNAMEs, a
/// CNAME to a missing name and one into a delegation, wildcards (one owning a CNAME), an empty
/// non-terminal, delegations with and without glue, and an RRset too large for 512 and 1232.
fn zone_text() -> String {
    let mut text = format!(
        r#"$ORIGIN diff.test.
$TTL 3600
@          IN SOA  ns1 hostmaster ( {SERIAL} 7200 3600 1209600 300 )
@          IN NS   ns1
@          IN NS   ns2.elsewhere.example.
ns1        IN A    192.0.2.1
ns1        IN AAAA 2001:db8::1
@          IN MX   10 mail
@          IN MX   20 mx.elsewhere.example.
mail       IN A    192.0.2.25
mail       IN AAAA 2001:db8::25
@          IN TXT  "v=spf1 mx -all"
@          IN CAA  0 issue "ca.example"
_sip._udp  IN SRV  10 60 5060 host
host       IN A    192.0.2.80
host   600 IN AAAA 2001:db8::80
www        IN CNAME web
web        IN CNAME host
outside    IN CNAME www.elsewhere.example.
dangling   IN CNAME missing
tochild    IN CNAME www.child
*.wild     IN A    192.0.2.99
*.wild     IN TXT  "wildcard text"
*.alias    IN CNAME host
a.b.c      IN TXT  "under an empty non-terminal"
child      IN NS   ns.child
child      IN NS   ns.elsewhere.example.
ns.child   IN A    192.0.2.53
ns.child   IN AAAA 2001:db8::53
noglue     IN NS   ns.elsewhere.example.
noglue     IN NS   ns2.elsewhere.example.
"#
    );
    for i in 0..40 {
        text.push_str(&format!(
            "big IN TXT \"record number {i} with some padding text to make it long\"\n"
        ));
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Udp,
    Tcp,
}

/// Where NSD and we differ by a documented choice, the comparison checks what both must still
/// agree on instead of equality. Each variant names the rule and what we decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// Compared exactly.
    Same,
    /// QTYPE ANY: NSD answers with one RRset, over UDP and TCP alike, as RFC 8482 §4.1 allows
    /// (a subset of the available RRsets); we answer every RRset at the name, which RFC 8482 §4 also permits
    /// and which shows students what is there (authority module docs). Checked: same RCODE,
    /// AA and TC, and NSD's RRsets are a non-empty subset of ours.
    MinimalAny,
    /// CHAOS `version.bind`/`id.server` TXT: NSD answers with its version and identity (a BIND
    /// convention that RFC 4892 describes for `id.server`), which no RFC requires; we have no CHAOS data
    /// and REFUSE every class other than IN and ANY, as NSD does for other CHAOS names.
    /// Checked: NSD answers NOERROR with a CH TXT record, we answer REFUSED.
    ChaosIdentity,
    /// CD set in the query: NSD clears it in every reply (its query.c: "CD flag must be cleared
    /// for auth answers"); RFC 4035 §3 says a security-aware name server MUST copy CD from the
    /// query into the response, BIND does, and so do we (RFC 6840 §5.9 resolvers set it on
    /// every query). Checked: everything but the CD bit.
    CdCopied,
}

/// One query of the differential set.
struct Case {
    name: &'static str,
    qtype: RecordType,
    qclass: Class,
    edns: Option<Edns>,
    via: Via,
    rd: bool,
    cd: bool,
    policy: Policy,
}

fn case(name: &'static str, qtype: RecordType) -> Case {
    Case {
        name,
        qtype,
        qclass: Class::IN,
        edns: None,
        via: Via::Udp,
        rd: false,
        cd: false,
        policy: if qtype == RecordType::ANY {
            Policy::MinimalAny
        } else {
            Policy::Same
        },
    }
}

impl Case {
    fn edns(mut self, size: u16) -> Case {
        self.edns = Some(Edns::new(size));
        self
    }

    fn dnssec_ok(mut self) -> Case {
        let mut edns = self.edns.take().unwrap_or(Edns::new(1232));
        edns.dnssec_ok = true;
        self.edns = Some(edns);
        self
    }

    fn tcp(mut self) -> Case {
        self.via = Via::Tcp;
        self
    }

    fn class(mut self, qclass: Class) -> Case {
        self.qclass = qclass;
        self
    }

    fn rd(mut self) -> Case {
        self.rd = true;
        self
    }

    fn cd(mut self) -> Case {
        self.cd = true;
        self.policy = Policy::CdCopied;
        self
    }

    fn policy(mut self, policy: Policy) -> Case {
        self.policy = policy;
        self
    }

    fn message(&self, id: u16) -> Message {
        let mut query = Message::query(
            id,
            Name::from_ascii(self.name).unwrap(),
            self.qtype,
            self.rd,
            self.edns.clone(),
        );
        query.header.cd = self.cd;
        query.questions[0].qclass = self.qclass;
        query
    }

    fn label(&self) -> String {
        let mut flags = match &self.edns {
            None => "no EDNS".to_string(),
            Some(edns) if edns.dnssec_ok => format!("EDNS {} DO", edns.udp_payload_size),
            Some(edns) => format!("EDNS {}", edns.udp_payload_size),
        };
        for (set, flag) in [(self.rd, "RD"), (self.cd, "CD")] {
            if set {
                flags.push_str(&format!(", {flag}"));
            }
        }
        format!(
            "{} {} {} ({flags}, {:?})",
            self.name, self.qclass, self.qtype, self.via
        )
    }
}

fn queries() -> Vec<Case> {
    use RecordType as T;
    let any = RecordType::ANY;
    vec![
        // Existing names, every type.
        case("diff.test.", T::SOA),
        case("diff.test.", T::NS),
        case("diff.test.", T::MX),
        case("diff.test.", T::TXT),
        case("diff.test.", T::CAA),
        case("_sip._udp.diff.test.", T::SRV),
        case("host.diff.test.", T::A),
        case("host.diff.test.", T::AAAA),
        case("mail.diff.test.", T::AAAA),
        // CNAME chains: in zone, out of zone, to a missing name, into a delegation, asked as
        // CNAME, and ending in NODATA.
        case("www.diff.test.", T::A),
        case("outside.diff.test.", T::A),
        case("dangling.diff.test.", T::A),
        case("tochild.diff.test.", T::A),
        case("www.diff.test.", T::CNAME),
        case("www.diff.test.", T::MX),
        // Wildcards: match, NODATA at a wildcard, several labels deep, wildcard + CNAME.
        case("x.wild.diff.test.", T::A),
        case("x.wild.diff.test.", T::TXT),
        case("x.wild.diff.test.", T::MX),
        case("deep.er.wild.diff.test.", T::A),
        case("x.alias.diff.test.", T::A),
        case("x.alias.diff.test.", T::CNAME),
        // The wildcard's own name asked literally.
        case("*.wild.diff.test.", T::A),
        // Empty non-terminals, NXDOMAIN below them, NXDOMAIN, NODATA.
        case("b.c.diff.test.", T::TXT),
        case("c.diff.test.", T::A),
        case("z.b.c.diff.test.", T::A),
        case("nothere.diff.test.", T::A),
        case("host.diff.test.", T::MX),
        // Referrals: with glue, without, below the cut, the glue itself, DS at the cut.
        case("child.diff.test.", T::NS),
        case("www.child.diff.test.", T::A),
        case("ns.child.diff.test.", T::A),
        case("noglue.diff.test.", T::A),
        case("a.b.noglue.diff.test.", T::MX),
        case("child.diff.test.", T::DS),
        // ANY, over UDP and TCP, and at a wildcard.
        case("host.diff.test.", any),
        case("diff.test.", any),
        case("diff.test.", any).tcp(),
        case("x.wild.diff.test.", any),
        // Case: the question is echoed as asked, owners compare case-insensitively.
        case("WwW.DiFf.TeSt.", T::A),
        case("X.WiLd.DIFF.test.", T::A),
        // Header bits: RD is copied; CD too, by us.
        case("host.diff.test.", T::A).rd(),
        case("host.diff.test.", T::A).cd(),
        // EDNS, DO, truncation at 512 and at 1232, TCP.
        case("host.diff.test.", T::A).edns(1232),
        case("host.diff.test.", T::A).edns(4096).dnssec_ok(),
        case("diff.test.", T::MX).edns(512).dnssec_ok(),
        case("big.diff.test.", T::TXT),
        case("big.diff.test.", T::TXT).edns(1232),
        case("big.diff.test.", T::TXT).edns(4096),
        case("big.diff.test.", T::TXT).tcp(),
        case("big.diff.test.", T::TXT).edns(1232).tcp(),
        case("www.diff.test.", T::A).tcp(),
        case("nothere.diff.test.", T::A).tcp(),
        // Not ours, unknown type, other classes.
        case("example.com.", T::A),
        case("diff.test.", RecordType(65_400)),
        case("host.diff.test.", T::A).class(Class::CH),
        case("version.bind.", T::TXT)
            .class(Class::CH)
            .policy(Policy::ChaosIdentity),
        case("id.server.", T::TXT)
            .class(Class::CH)
            .policy(Policy::ChaosIdentity),
        case("host.diff.test.", T::A).class(Class::ANY),
        case("nothere.diff.test.", T::A).class(Class::ANY),
        case("host.diff.test.", T::MX).class(Class::ANY),
    ]
}

/// A reply reduced to what the comparison looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    rcode: Rcode,
    /// AA, TC, RD, RA, AD, CD.
    flags: [bool; 6],
    /// The question as echoed, exact case.
    question: Vec<String>,
    answer: BTreeSet<String>,
    authority: BTreeSet<String>,
    additional: BTreeSet<String>,
    /// OPT present: its payload size and DO bit.
    edns: Option<(u16, bool)>,
}

const FLAG_NAMES: [&str; 6] = ["aa", "tc", "rd", "ra", "ad", "cd"];
const CD: usize = 5;

/// Records as comparable text: names compare case-insensitively (RFC 4343), in the owner and in
/// the RDATA (a server may compress an RDATA name against the query's mixed-case name).
fn records(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            record.name = record.name.to_lowercase();
            match &mut record.rdata {
                RData::Ns(name) | RData::Cname(name) | RData::Ptr(name) => {
                    *name = name.to_lowercase();
                }
                RData::Mx { exchange, .. } => *exchange = exchange.to_lowercase(),
                RData::Srv { target, .. } => *target = target.to_lowercase(),
                RData::Soa { mname, rname, .. } => {
                    *mname = mname.to_lowercase();
                    *rname = rname.to_lowercase();
                }
                _ => {}
            }
            record.to_string()
        })
        .collect()
}

fn seen(reply: &Message) -> Seen {
    let h = &reply.header;
    Seen {
        rcode: reply.rcode(),
        flags: [h.aa, h.tc, h.rd, h.ra, h.ad, h.cd],
        question: reply.questions.iter().map(ToString::to_string).collect(),
        answer: records(&reply.answers),
        authority: records(&reply.authorities),
        additional: records(&reply.additionals),
        edns: reply
            .edns
            .as_ref()
            .map(|edns| (edns.udp_payload_size, edns.dnssec_ok)),
    }
}

/// NSD's default (`minimal-responses: no`) adds the zone's NS RRset to the authority section of
/// every positive answer, and the addresses of those name servers to the additional section.
/// We give minimal responses, as RFC 1034 §6.2.1's example does (authority and additional
/// empty for a plain A answer) and as NSD does with `minimal-responses: yes`; but that option
/// also drops the MX and SRV target addresses both servers add by default, so the comparison
/// runs against NSD's default and removes exactly what this choice adds: the apex NS RRset in
/// authority beside a non-empty answer, and its targets' addresses that we do not have.
fn without_nsd_authority_ns(mut nsd: Message, ours: &Message, apex: &Name) -> Message {
    let is_apex_ns = |r: &Record| r.rtype() == RecordType::NS && &r.name == apex;
    if nsd.answers.is_empty()
        || ours.authorities.iter().any(is_apex_ns)
        || !nsd.authorities.iter().any(is_apex_ns)
    {
        return nsd;
    }
    let targets: Vec<Name> = nsd
        .authorities
        .iter()
        .filter_map(|r| match &r.rdata {
            RData::Ns(target) if is_apex_ns(r) => Some(target.clone()),
            _ => None,
        })
        .collect();
    nsd.authorities.retain(|r| !is_apex_ns(r));
    nsd.additionals.retain(|r| {
        let address = matches!(r.rtype(), RecordType::A | RecordType::AAAA);
        !(address && targets.contains(&r.name) && !ours.additionals.contains(r))
    });
    nsd
}

/// What differs between our reply and NSD's under `policy`; empty when they agree.
fn compare(policy: Policy, ours: &Seen, nsd: &Seen) -> String {
    match policy {
        Policy::Same => describe(ours, nsd),
        Policy::CdCopied => {
            let mut nsd = nsd.clone();
            nsd.flags[CD] = ours.flags[CD];
            describe(ours, &nsd)
        }
        Policy::MinimalAny => {
            let mut problems = String::new();
            if (ours.rcode, ours.flags) != (nsd.rcode, nsd.flags) {
                problems.push_str(&format!(
                    "    rcode/flags: ours {} {:?} / NSD {} {:?}\n",
                    ours.rcode, ours.flags, nsd.rcode, nsd.flags
                ));
            }
            if nsd.answer.is_empty() || !nsd.answer.is_subset(&ours.answer) {
                problems.push_str(&format!(
                    "    NSD's ANY answer is not a non-empty subset of ours: {:?} / {:?}\n",
                    nsd.answer, ours.answer
                ));
            }
            problems
        }
        Policy::ChaosIdentity => {
            let nsd_answers =
                nsd.rcode == Rcode::NOERROR && nsd.answer.iter().any(|r| r.contains("\tCH\tTXT\t"));
            if ours.rcode == Rcode::REFUSED && ours.answer.is_empty() && nsd_answers {
                String::new()
            } else {
                format!("    ours {ours:?}\n    NSD {nsd:?}\n")
            }
        }
    }
}

/// Sends `query` as it is over UDP (a truncated answer stays truncated) or TCP.
async fn exchange(server: SocketAddr, query: &[u8], via: Via) -> Vec<u8> {
    let wait = Duration::from_secs(2);
    match via {
        Via::Udp => {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.connect(server).await.unwrap();
            socket.send(query).await.unwrap();
            let mut buf = vec![0u8; 65_535];
            let len = tokio::time::timeout(wait, socket.recv(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no UDP answer from {server}"))
                .unwrap();
            buf.truncate(len);
            buf
        }
        Via::Tcp => {
            let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
            let mut framed = u16::try_from(query.len()).unwrap().to_be_bytes().to_vec();
            framed.extend_from_slice(query);
            stream.write_all(&framed).await.unwrap();
            let read = async {
                let len = stream.read_u16().await.unwrap();
                let mut buf = vec![0u8; usize::from(len)];
                stream.read_exact(&mut buf).await.unwrap();
                buf
            };
            tokio::time::timeout(wait, read)
                .await
                .unwrap_or_else(|_| panic!("no TCP answer from {server}"))
        }
    }
}

fn describe(ours: &Seen, nsd: &Seen) -> String {
    let mut out = String::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push_str(&format!("    {name}: ours {a} / NSD {b}\n"));
        }
    };
    field("rcode", ours.rcode.to_string(), nsd.rcode.to_string());
    for (i, flag) in FLAG_NAMES.iter().enumerate() {
        field(flag, ours.flags[i].to_string(), nsd.flags[i].to_string());
    }
    field(
        "question",
        format!("{:?}", ours.question),
        format!("{:?}", nsd.question),
    );
    field(
        "edns (size, do)",
        format!("{:?}", ours.edns),
        format!("{:?}", nsd.edns),
    );
    for (name, a, b) in [
        ("answer", &ours.answer, &nsd.answer),
        ("authority", &ours.authority, &nsd.authority),
        ("additional", &ours.additional, &nsd.additional),
    ] {
        for only in a.difference(b) {
            out.push_str(&format!("    {name} only ours: {only}\n"));
        }
        for only in b.difference(a) {
            out.push_str(&format!("    {name} only NSD:  {only}\n"));
        }
    }
    out
}

#[tokio::test]
async fn we_answer_like_nsd() {
    let dir = tempfile::tempdir().unwrap();
    let zone_file = dir.path().join("diff.test.zone");
    std::fs::write(&zone_file, zone_text()).unwrap();
    let ours = start_authority(
        vec![ZoneSource::File {
            path: zone_file.clone(),
            origin: None,
        }],
        any_loopback_port(),
        TCP_LIMITS,
    )
    .await;
    let mut nsd = start_nsd_on(
        SocketAddr::from(([127, 0, 0, 1], free_port())),
        "",
        &format!(
            "zone:\n    name: \"diff.test\"\n    zonefile: \"{}\"\n",
            zone_file.display()
        ),
    );
    nsd.wait_serving("diff.test.", Some(SERIAL), Duration::from_secs(5))
        .await;

    let apex = Name::from_ascii("diff.test.").unwrap();
    let mut differences = String::new();
    let cases = queries();
    for (index, case) in cases.iter().enumerate() {
        let query = case
            .message(0x4000 + u16::try_from(index).unwrap())
            .encode();
        let ours_reply = Message::decode(&exchange(ours.addr, &query, case.via).await)
            .expect("our reply decodes");
        let nsd_reply = Message::decode(&exchange(nsd.addr, &query, case.via).await)
            .expect("NSD's reply decodes");
        let nsd_reply = without_nsd_authority_ns(nsd_reply, &ours_reply, &apex);
        let problems = compare(case.policy, &seen(&ours_reply), &seen(&nsd_reply));
        // Shown with --nocapture: what each query got, to read beside the NSD log.
        println!(
            "{:<60} ours {} / NSD {}",
            case.label(),
            ours_reply.summary(),
            nsd_reply.summary()
        );
        if !problems.is_empty() {
            differences.push_str(&format!(
                "{} [{:?}]:\n{problems}",
                case.label(),
                case.policy
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} queries, differences:\n{differences}",
        cases.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Our resolver through root (ours) → example. (NSD) → alpha/beta.example (ours).
// ---------------------------------------------------------------------------------------------

/// The mini Internet with its middle level served by NSD, and our resolver in front of it.
struct Hierarchy {
    resolver: Arc<Resolver>,
    /// Where the resolver's UDP and TCP servers listen.
    resolver_addr: SocketAddr,
    shutdown: Shutdown,
    _root: OurServer,
    _auth: OurServer,
    _tld: Nsd,
    _dir: tempfile::TempDir,
}

impl Drop for Hierarchy {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn text_sources(server: &MiniServer) -> Vec<ZoneSource> {
    server
        .zones
        .iter()
        .map(|(origin, text)| ZoneSource::Text {
            origin: Name::from_ascii(origin).unwrap(),
            text: text.clone(),
        })
        .collect()
}

async fn start_hierarchy() -> Hierarchy {
    let ips = [mini::ROOT_IP, mini::TLD_IP, mini::AUTH_IP].map(IpAddr::V4);
    let port = free_port_on(&ips);
    let servers = mini::servers(port);
    let role = |ip| {
        servers
            .iter()
            .find(|server| server.address.ip() == IpAddr::V4(ip))
            .expect("the mini Internet has a server there")
    };
    let (root, tld, auth) = (role(mini::ROOT_IP), role(mini::TLD_IP), role(mini::AUTH_IP));
    let root_server = start_authority(text_sources(root), root.address, TCP_LIMITS).await;
    let auth_server = start_authority(text_sources(auth), auth.address, TCP_LIMITS).await;

    let dir = tempfile::tempdir().unwrap();
    let [(origin, text)] = tld.zones.as_slice() else {
        panic!("the TLD server has one zone");
    };
    let zone_file = dir.path().join("example.zone");
    std::fs::write(&zone_file, text).unwrap();
    let mut nsd = start_nsd_on(
        tld.address,
        "",
        &format!(
            "zone:\n    name: \"{origin}\"\n    zonefile: \"{}\"\n",
            zone_file.display()
        ),
    );
    nsd.wait_serving(origin, None, Duration::from_secs(5)).await;

    let resolver = Arc::new(Resolver::with_hints(
        ResolverConfig::default(),
        Hints::mini(port),
    ));
    let (udp, tcp) = bind_pair(any_loopback_port()).await;
    let resolver_addr = udp.local_addr().unwrap();
    let shutdown = Shutdown::new();
    tokio::spawn(resolver::serve_udp(
        udp,
        resolver.clone(),
        Tracer::off(),
        shutdown.clone(),
    ));
    tokio::spawn(resolver::serve_tcp(
        tcp,
        resolver.clone(),
        TCP_LIMITS,
        Tracer::off(),
        shutdown.clone(),
    ));
    Hierarchy {
        resolver,
        resolver_addr,
        shutdown,
        _root: root_server,
        _auth: auth_server,
        _tld: nsd,
        _dir: dir,
    }
}

fn texts<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    records
        .map(|r| format!("{} {} {}", r.name, r.rtype(), r.rdata))
        .collect()
}

#[tokio::test]
async fn our_resolver_walks_a_hierarchy_whose_tld_is_nsd() {
    let net = start_hierarchy().await;
    let resolve = |name: &str, qtype| {
        let name = Name::from_ascii(name).unwrap();
        let resolver = net.resolver.clone();
        async move { resolver.resolve(&name, qtype, &Tracer::off()).await }
    };
    let services = mini::SERVICES_IP;

    let www = resolve("www.alpha.example.", RecordType::A).await.unwrap();
    assert_eq!(www.outcome, Outcome::Positive);
    assert_eq!(
        texts(www.records.iter()),
        [format!("www.alpha.example. A {services}")]
    );
    // Root referral, NSD's referral, the answer: at least three upstream queries.
    assert!(www.queries >= 3, "{www:?}");

    let mx = resolve("alpha.example.", RecordType::MX).await.unwrap();
    assert_eq!(
        texts(mx.records.iter()),
        ["alpha.example. MX 10 mail.alpha.example."]
    );

    let web = resolve("web.beta.example.", RecordType::A).await.unwrap();
    assert_eq!(
        texts(web.records.iter()),
        [
            "web.beta.example. CNAME www.beta.example.".to_string(),
            format!("www.beta.example. A {services}")
        ]
    );

    // NXDOMAIN from our authoritative server, and from NSD itself.
    for (name, zone) in [
        ("nothere.alpha.example.", "alpha.example."),
        ("nothere.example.", "example."),
    ] {
        let nx = resolve(name, RecordType::A).await.unwrap();
        assert_eq!(nx.outcome, Outcome::NxDomain, "{name}");
        assert_eq!(nx.rcode(), Rcode::NXDOMAIN);
        let soa = nx.soa.expect("a negative answer carries the SOA");
        assert_eq!(soa.name, Name::from_ascii(zone).unwrap());
    }

    // BIND's dig asks the resolver: UDP, TCP, and both EDNS buffer sizes.
    let addr = net.resolver_addr;
    let expected_www = format!("www.alpha.example.\t300\tIN\tA\t{services}");
    for options in ["", "+tcp", "+bufsize=512", "+bufsize=4096", "+noedns"] {
        let out = dig(addr, &format!("www.alpha.example A {options}")).await;
        assert_has(&out, &["status: NOERROR", "flags: qr rd ra;", "ANSWER: 1,"]);
        // Fresh from the cache the TTL may have dropped below 300, so compare the fields.
        assert!(
            out.lines().any(|line| same_record(line, &expected_www)),
            "dig {options}: {out}"
        );
        if options == "+tcp" {
            assert_has(&out, &["(TCP)"]);
        }
        if options.starts_with("+bufsize") {
            assert_has(&out, &["; EDNS: version: 0", "udp: "]);
        }
    }
    let cname = dig(addr, "web.beta.example A +bufsize=512").await;
    assert_has(
        &cname,
        &[
            "status: NOERROR",
            "CNAME\twww.beta.example.",
            &format!("A\t{services}"),
        ],
    );
    let mx = dig(addr, "alpha.example MX +tcp").await;
    assert_has(&mx, &["MX\t10 mail.alpha.example."]);
    let nx = dig(addr, "nothere.example A +bufsize=4096").await;
    assert_has(
        &nx,
        &["status: NXDOMAIN", "SOA\tns.example. hostmaster.example."],
    );
}

/// A dig answer line equal to `expected` (tab-separated) except perhaps for a lower TTL.
fn same_record(line: &str, expected: &str) -> bool {
    let fields =
        |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_string).collect() };
    let (got, want) = (fields(line), fields(expected));
    got.len() == want.len()
        && got
            .iter()
            .zip(&want)
            .enumerate()
            .all(|(i, (g, w))| i == 1 || g == w)
}

// ---------------------------------------------------------------------------------------------
// 3. Hostile transport input to our authoritative server.
// ---------------------------------------------------------------------------------------------

const SMALL_ZONE: &str = "$ORIGIN hostile.test.
$TTL 300
@    IN SOA ns hostmaster ( 1 3600 600 86400 60 )
@    IN NS  ns
ns   IN A   192.0.2.1
host IN A   192.0.2.80
";

/// Our server for SMALL_ZONE with a 1 s TCP idle timeout.
async fn start_hostile_target() -> OurServer {
    let sources = vec![ZoneSource::Text {
        origin: Name::from_ascii("hostile.test.").unwrap(),
        text: SMALL_ZONE.to_string(),
    }];
    let limits = TcpLimits {
        max_connections: 8,
        idle_timeout: IDLE,
    };
    start_authority(sources, any_loopback_port(), limits).await
}

const IDLE: Duration = Duration::from_secs(1);

/// One well-formed query over a new TCP connection: the server still serves.
async fn still_serves(server: SocketAddr) {
    let query = Message::query(
        7,
        Name::from_ascii("host.hostile.test.").unwrap(),
        RecordType::A,
        false,
        None,
    );
    let reply = Message::decode(&exchange(server, &query.encode(), Via::Tcp).await).unwrap();
    assert_eq!(
        texts(reply.answers.iter()),
        ["host.hostile.test. A 192.0.2.80"]
    );
    let reply = Message::decode(&exchange(server, &query.encode(), Via::Udp).await).unwrap();
    assert_eq!(reply.answers.len(), 1);
}

/// Reads one framed reply, or `None` when the server closes the connection first.
async fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let len = stream.read_u16().await.ok()?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

#[tokio::test]
async fn a_65535_byte_garbage_message_gets_formerr_and_the_server_keeps_serving() {
    let ours = start_hostile_target().await;
    // A header saying QDCOUNT 1, then 65,523 bytes that are no question: the label lengths run
    // past the end, and every top-two-bits pattern (pointers, reserved types) turns up.
    let mut message = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let mut state: u32 = 0x1234_5678;
    while message.len() < 65_535 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        message.push(state.to_be_bytes()[0]);
    }
    let mut stream = TcpStream::connect(ours.addr).await.unwrap();
    stream.write_all(&[0xff, 0xff]).await.unwrap();
    stream.write_all(&message).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(3), read_frame(&mut stream))
        .await
        .expect("the server answers or closes within 3 s");
    // FORMERR under the same ID, or a closed connection: both are allowed; a hang is not.
    if let Some(reply) = reply {
        let reply = Message::decode(&reply).expect("the FORMERR decodes");
        assert_eq!(
            (reply.header.id, reply.header.qr, reply.rcode()),
            (0xbeef, true, Rcode::FORMERR)
        );
    }
    drop(stream);
    still_serves(ours.addr).await;
}

#[tokio::test]
async fn a_stalled_tcp_message_is_cut_at_the_idle_timeout() {
    let ours = start_hostile_target().await;
    let mut stream = TcpStream::connect(ours.addr).await.unwrap();
    // A length prefix promising 32 bytes, three of them, then nothing.
    stream.write_all(&[0, 32, 0xab, 0xcd, 0x01]).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(IDLE * 4, stream.read(&mut buf))
        .await
        .expect("the server closes the stalled connection");
    let waited = started.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without a reply: {read:?}"
    );
    assert!(
        waited >= IDLE - Duration::from_millis(100) && waited < IDLE * 3,
        "closed after {waited:?}, idle timeout {IDLE:?}"
    );
    still_serves(ours.addr).await;
}

#[tokio::test]
async fn a_message_trickled_a_byte_at_a_time_is_cut_at_the_idle_timeout() {
    let ours = start_hostile_target().await;
    let mut stream = TcpStream::connect(ours.addr).await.unwrap();
    stream.write_all(&[0, 64]).await.unwrap();
    let started = Instant::now();
    // One byte every IDLE/4: each read comes well within the idle timeout, the message never
    // completes, and the server must still let go of the connection.
    let closed = loop {
        tokio::time::sleep(IDLE / 4).await;
        if stream.write_all(&[0]).await.is_err() || started.elapsed() > IDLE * 4 {
            break started.elapsed();
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            break started.elapsed();
        }
    };
    assert!(
        closed < IDLE * 3,
        "a trickling client held the connection for {closed:?}"
    );
    still_serves(ours.addr).await;
}

#[tokio::test]
async fn bad_question_counts_and_unknown_opcodes_over_real_sockets() {
    let ours = start_hostile_target().await;
    let query = || {
        Message::query(
            0x5151,
            Name::from_ascii("host.hostile.test.").unwrap(),
            RecordType::A,
            true,
            None,
        )
    };
    let mut none = query();
    none.questions.clear();
    let mut two = query();
    two.questions.push(two.questions[0].clone());
    let mut status = query();
    status.header.opcode = Opcode::STATUS;
    let mut update = query();
    update.header.opcode = Opcode::UPDATE;
    let cases = [
        ("QDCOUNT 0", none, Rcode::FORMERR),
        ("QDCOUNT 2", two, Rcode::FORMERR),
        ("opcode 2 STATUS", status, Rcode::NOTIMP),
        ("opcode 5 UPDATE", update, Rcode::NOTIMP),
    ];
    for (what, request, rcode) in &cases {
        for via in [Via::Udp, Via::Tcp] {
            let bytes = request.encode();
            let reply = Message::decode(&exchange(ours.addr, &bytes, via).await)
                .unwrap_or_else(|err| panic!("{what} over {via:?}: {err}"));
            assert_eq!(reply.header.id, 0x5151, "{what} over {via:?}");
            assert!(reply.header.qr && !reply.header.aa, "{what} over {via:?}");
            assert_eq!(
                reply.header.opcode, request.header.opcode,
                "{what} over {via:?}"
            );
            assert_eq!(reply.rcode(), *rcode, "{what} over {via:?}");
            assert!(reply.answers.is_empty(), "{what} over {via:?}");
        }
    }
    still_serves(ours.addr).await;
}
