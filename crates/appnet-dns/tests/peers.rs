//! Interop: our authoritative server answering dig, drill and dnspython; NSD taking our zone by
//! AXFR and refreshing it after our NOTIFY; our client asking NSD.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use appnet_core::trace::Tracer;
use appnet_dns::client::{self, QueryOptions};
use appnet_dns::server::{self, Authority, ZoneSource};
use appnet_dns::wire::{Message, Name, RData, Rcode, RecordType};
use appnet_testkit::{python3, require_peer};
use common::{
    OurServer, TCP_LIMITS, any_loopback_port, assert_has, dig, run, start_authority, start_nsd,
    wait_for_serial,
};

const ZONE: &str = r#"$ORIGIN interop.test.
$TTL 3600
@        IN SOA ns1 hostmaster ( 2026112701 7200 3600 1209600 300 )
@        IN NS  ns1
ns1      IN A   127.0.0.1
@        IN MX  10 mail
mail     IN A   192.0.2.25
mail     IN AAAA 2001:db8::25
www      IN CNAME web
web      IN CNAME host
host     IN A   192.0.2.80
outside  IN CNAME www.elsewhere.example.
*.wild   IN A   192.0.2.99
a.b.c    IN TXT "under an empty non-terminal"
child    IN NS  ns.child
ns.child IN A   192.0.2.53
_sip._udp IN SRV 10 60 5060 host
@        IN CAA 0 issue "ca.example"
semi     IN TXT "a; not a comment" "second string"
"#;

/// Many TXT records: more than fits in 512 bytes, and more than 1232 too.
fn big_rrset() -> String {
    (0..40)
        .map(|i| {
            format!("big IN TXT \"record number {i} with some padding text to make it long\"\n")
        })
        .collect()
}

/// Our server on an ephemeral loopback port, serving ZONE from a file tests may rewrite.
struct Running {
    _server: OurServer,
    addr: SocketAddr,
    authority: Arc<Authority>,
    _dir: tempfile::TempDir,
    zone_file: PathBuf,
}

async fn start_ours() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let zone_file = dir.path().join("interop.test.zone");
    std::fs::write(&zone_file, format!("{ZONE}{}", big_rrset())).unwrap();
    let sources = vec![ZoneSource::File {
        path: zone_file.clone(),
        origin: None,
    }];
    let server = start_authority(sources, any_loopback_port(), TCP_LIMITS).await;
    Running {
        addr: server.addr,
        authority: server.authority.clone(),
        _server: server,
        _dir: dir,
        zone_file,
    }
}

#[tokio::test]
async fn dig_gets_answers_errors_and_referrals() {
    let ours = start_ours().await;
    let a = ours.addr;

    let mx = dig(a, "interop.test MX").await;
    assert_has(
        &mx,
        &[
            "status: NOERROR",
            "flags: qr aa rd;",
            "10 mail.interop.test.",
            "192.0.2.25",
            "2001:db8::25",
        ],
    );

    let chain = dig(a, "www.interop.test A").await;
    assert_has(
        &chain,
        &[
            "CNAME\tweb.interop.test.",
            "CNAME\thost.interop.test.",
            "A\t192.0.2.80",
        ],
    );

    let nx = dig(a, "nothere.interop.test A").await;
    assert_has(
        &nx,
        &["status: NXDOMAIN", "AUTHORITY: 1", "SOA\tns1.interop.test."],
    );
    // RFC 2308 §3: the negative TTL is min(SOA TTL, MINIMUM) = 300.
    assert!(nx.contains("interop.test.\t\t300\tIN\tSOA"), "{nx}");

    let nodata = dig(a, "host.interop.test MX").await;
    assert_has(&nodata, &["status: NOERROR", "ANSWER: 0", "SOA"]);

    let ent = dig(a, "b.c.interop.test TXT").await;
    assert_has(&ent, &["status: NOERROR", "ANSWER: 0"]);

    let wild = dig(a, "anything.wild.interop.test A").await;
    assert_has(
        &wild,
        &["anything.wild.interop.test. 3600 IN\tA\t192.0.2.99"],
    );

    let referral = dig(a, "deep.child.interop.test A +norec").await;
    assert_has(
        &referral,
        &[
            "status: NOERROR",
            "ANSWER: 0",
            "NS\tns.child.interop.test.",
            "192.0.2.53",
        ],
    );
    assert!(
        !referral.contains(" aa"),
        "a referral is not authoritative: {referral}"
    );

    let refused = dig(a, "example.com A").await;
    assert_has(&refused, &["status: REFUSED"]);

    let txt = dig(a, "semi.interop.test TXT").await;
    assert_has(&txt, &["\"a; not a comment\" \"second string\""]);

    let srv_caa = dig(a, "_sip._udp.interop.test SRV").await + &dig(a, "interop.test CAA").await;
    assert_has(
        &srv_caa,
        &["10 60 5060 host.interop.test.", "0 issue \"ca.example\""],
    );

    let badvers = dig(a, "interop.test SOA +edns=1 +noednsnegotiation").await;
    assert_has(&badvers, &["status: BADVERS"]);
}

#[tokio::test]
async fn dig_retries_a_truncated_answer_over_tcp() {
    let ours = start_ours().await;
    let udp_only = dig(ours.addr, "big.interop.test TXT +ignore +bufsize=1232").await;
    assert_has(&udp_only, &["flags: qr aa tc rd;"]);
    let retried = dig(ours.addr, "big.interop.test TXT +noedns").await;
    assert_has(&retried, &["Truncated, retrying in TCP mode", "ANSWER: 40"]);
    let tcp = dig(ours.addr, "big.interop.test TXT +tcp").await;
    assert_has(&tcp, &["ANSWER: 40", "(TCP)"]);
}

#[tokio::test]
async fn dig_transfers_the_whole_zone() {
    let ours = start_ours().await;
    let axfr = dig(ours.addr, "interop.test AXFR").await;
    let soas = axfr.lines().filter(|line| line.contains("\tSOA\t")).count();
    assert_eq!(soas, 2, "AXFR begins and ends with the SOA:\n{axfr}");
    assert_has(
        &axfr,
        &[
            "XFR size: 58 records",
            "host.interop.test.\t3600\tIN\tA\t192.0.2.80",
        ],
    );
}

#[tokio::test]
async fn drill_reads_our_answers_over_udp_and_tcp() {
    let ours = start_ours().await;
    let drill = require_peer("drill");
    let port = ours.addr.port().to_string();
    let udp = run(
        drill.clone(),
        ["-p", &port, "mail.interop.test", "@127.0.0.1", "AAAA"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_has(&udp, &["rcode: NOERROR", "2001:db8::25"]);
    let tcp = run(
        drill,
        ["-t", "-p", &port, "host.interop.test", "@127.0.0.1"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_has(&tcp, &["rcode: NOERROR", "192.0.2.80"]);
}

const DNSPYTHON: &str = r#"
import sys, dns.message, dns.query, dns.rdatatype, dns.zone, dns.flags
port = int(sys.argv[1])
q = dns.message.make_query("www.interop.test.", "A", want_dnssec=False)
r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
print("flags", dns.flags.to_text(r.flags))
for rrset in r.answer:
    print("answer", rrset.to_text())
# Several queries pipelined on one TCP connection (RFC 7766 §6.2.1).
import socket, struct
s = socket.create_connection(("127.0.0.1", port), timeout=3)
wires = []
for i, name in enumerate(["host.interop.test.", "mail.interop.test.", "ns1.interop.test."]):
    m = dns.message.make_query(name, "A"); m.id = 100 + i
    w = m.to_wire(); wires.append(struct.pack("!H", len(w)) + w)
s.sendall(b"".join(wires))
buf = b""
got = []
while len(got) < 3:
    chunk = s.recv(4096)
    if not chunk: break
    buf += chunk
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
        n = struct.unpack("!H", buf[:2])[0]
        got.append(dns.message.from_wire(buf[2:2+n])); buf = buf[2+n:]
print("pipelined", sorted(m.id for m in got))
z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "interop.test.", port=port, timeout=5))
print("xfr nodes", len(z.nodes))
"#;

#[tokio::test]
async fn dnspython_queries_pipelines_and_transfers() {
    let ours = start_ours().await;
    let out = run(
        python3(),
        vec!["-c".into(), DNSPYTHON.into(), ours.addr.port().to_string()],
    )
    .await;
    assert_has(
        &out,
        &[
            "flags QR AA RD",
            "answer www.interop.test. 3600 IN CNAME web.interop.test.",
            "pipelined [100, 101, 102]",
        ],
    );
    assert!(out.contains("xfr nodes "), "{out}");
}

#[tokio::test]
async fn garbage_gets_formerr_and_the_server_keeps_serving() {
    let ours = start_ours().await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(ours.addr).await.unwrap();
    // A header claiming one question, followed by a compression pointer to itself.
    socket
        .send(&[
            0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1,
        ])
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let len = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = Message::decode(&buf[..len]).unwrap();
    assert_eq!(reply.header.id, 0xabcd);
    assert_eq!(reply.rcode(), Rcode::FORMERR);
    assert_has(&dig(ours.addr, "host.interop.test").await, &["192.0.2.80"]);
}

#[tokio::test]
async fn nsd_takes_our_zone_by_axfr_and_follows_our_notify() {
    let ours = start_ours().await;
    let nsd = start_nsd(&format!(
        "zone:\n    name: \"interop.test\"\n    zonefile: \"interop.test.zone\"\n    request-xfr: AXFR 127.0.0.1@{} NOKEY\n    allow-notify: 127.0.0.1 NOKEY\n",
        ours.addr.port()
    ));
    assert!(
        wait_for_serial(
            nsd.addr,
            "interop.test.",
            2026112701,
            Duration::from_secs(20)
        )
        .await,
        "NSD never served the zone it should have transferred from us"
    );
    // The secondary answers from our data.
    assert_has(
        &dig(nsd.addr, "www.interop.test A").await,
        &["192.0.2.80", "flags: qr aa"],
    );

    // A new serial, a reload, a NOTIFY: NSD fetches the new zone.
    let text = std::fs::read_to_string(&ours.zone_file)
        .unwrap()
        .replace("2026112701", "2026112702")
        + "added IN A 192.0.2.200\n";
    std::fs::write(&ours.zone_file, text).unwrap();
    ours.authority.reload().unwrap();
    let catalog = ours.authority.catalog();
    let zone = catalog
        .get(&Name::from_ascii("interop.test.").unwrap())
        .unwrap();
    let acks = server::notify(zone, &[nsd.addr], &Tracer::off()).await;
    assert_eq!(acks, vec![(nsd.addr, true)], "NSD acknowledges our NOTIFY");
    assert!(
        wait_for_serial(
            nsd.addr,
            "interop.test.",
            2026112702,
            Duration::from_secs(20)
        )
        .await
    );
    assert_has(
        &dig(nsd.addr, "added.interop.test A").await,
        &["192.0.2.200"],
    );
}

#[tokio::test]
async fn a_bad_zone_on_reload_keeps_the_old_one() {
    let ours = start_ours().await;
    std::fs::write(&ours.zone_file, format!("{ZONE}broken IN A 1.2.3\n")).unwrap();
    let err = ours.authority.reload().unwrap_err().to_string();
    assert!(
        err.contains("interop.test.zone:") && err.contains("1.2.3"),
        "{err}"
    );
    assert_has(&dig(ours.addr, "host.interop.test").await, &["192.0.2.80"]);
}

#[tokio::test]
async fn our_client_asks_nsd_and_transfers_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let zone_path = dir.path().join("peer.zone");
    std::fs::write(&zone_path, ZONE.replace("interop.test.", "peer.test.")).unwrap();
    let nsd = start_nsd(&format!(
        "zone:\n    name: \"peer.test\"\n    zonefile: \"{}\"\n    provide-xfr: 127.0.0.1 NOKEY\n",
        zone_path.display()
    ));
    assert!(wait_for_serial(nsd.addr, "peer.test.", 2026112701, Duration::from_secs(20)).await);
    let query = Message::query(
        client::random_id(),
        Name::from_ascii("www.peer.test.").unwrap(),
        RecordType::A,
        false,
        None,
    );
    let exchange = client::query(nsd.addr, &query, QueryOptions::default(), &Tracer::off())
        .await
        .unwrap();
    assert!(exchange.response.header.aa);
    assert!(
        exchange
            .response
            .answers
            .iter()
            .any(|r| r.rdata == RData::A("192.0.2.80".parse().unwrap()))
    );

    let axfr = Message::query(
        client::random_id(),
        Name::from_ascii("peer.test.").unwrap(),
        RecordType::AXFR,
        false,
        None,
    );
    let messages = client::transfer(nsd.addr, &axfr, QueryOptions::default(), &Tracer::off())
        .await
        .unwrap();
    let records: usize = messages.iter().map(|m| m.answers.len()).sum();
    assert_eq!(records, 18, "16 records, with the SOA twice");
}
