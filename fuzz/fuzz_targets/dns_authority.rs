//! The authoritative server's answer to any datagram or TCP message: never a panic; any answer it
//! gives decodes, fits the transport and never answers a response.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::LazyLock;

use appnet_dns::authority::{AuthorityOptions, Transport, respond};
use appnet_dns::wire::{Header, Message, Name};
use appnet_dns::zone::{Catalog, Zone, no_includes};
use libfuzzer_sys::fuzz_target;

const ZONE: &str = "$TTL 300
@ IN SOA ns hostmaster 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.1
www IN CNAME host
host IN A 192.0.2.2
*.wild IN TXT \"wildcard\"
child IN NS ns.child
ns.child IN A 192.0.2.3
@ IN MX 10 host
";

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let origin = Name::from_ascii("fuzz.example.").expect("a valid origin");
    let zone = Zone::parse(ZONE, &origin, Path::new("fuzz.zone"), no_includes)
        .expect("the fuzz zone parses");
    let mut catalog = Catalog::new();
    catalog.insert(zone.zone);
    catalog
});

fuzz_target!(|input: &[u8]| {
    let Some((&selector, query)) = input.split_first() else {
        return;
    };
    let transport = if selector & 1 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let client = IpAddr::V4(Ipv4Addr::new(127, 0, 0, selector));
    let Some(response) = respond(
        &CATALOG,
        query,
        transport,
        client,
        &AuthorityOptions::default(),
    ) else {
        return;
    };
    assert!(
        !Header::decode(query)
            .expect("answered queries have a header")
            .qr
    );
    for message in &response.messages {
        let decoded = Message::decode(message).expect("our answers decode");
        assert!(decoded.header.qr);
        if transport == Transport::Udp {
            assert!(message.len() <= usize::from(AuthorityOptions::default().max_udp_payload));
        }
    }
});
