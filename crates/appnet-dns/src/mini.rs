//! The mini Internet's DNS, as `appnet up` starts it: a root server, a server for the `example.`
//! top-level domain, and one authoritative server for the domains below it, each on its own
//! loopback address and the same port, so a resolver walks root → TLD → authoritative exactly as
//! on the real Internet (where the port is 53 everywhere).
//!
//! Zones are text in RFC 1035 master-file form, parsed by the same code as any zone file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The port every mini Internet name server listens on, unless the config (`dns.mini_port`) says
/// otherwise.
pub const PORT: u16 = 5300;
/// The root server: `a.root-servers.net.`
pub const ROOT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The `example.` TLD server: `ns.example.`
pub const TLD_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The authoritative server for alpha.example and beta.example (the two mail domains) and
/// web.example (the web origin and its CDN).
pub const AUTH_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
/// The recursive resolver clients ask.
pub const RESOLVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 5301);
/// Where every other mini Internet service listens: the names in the zones point here.
pub const SERVICES_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// The mail servers of alpha.example and beta.example (`mail.<domain>`), each on its own
/// address so that both listen on the same port, as MX hosts do on port 25.
pub const MAIL_IPS: [(&str, Ipv4Addr); 2] = [
    ("alpha", Ipv4Addr::new(127, 0, 0, 21)),
    ("beta", Ipv4Addr::new(127, 0, 0, 22)),
];
/// The CDN's edge servers, each on its own address so they can share a port.
pub const EDGE_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 0, 11), Ipv4Addr::new(127, 0, 0, 12)];

/// One name server of the mini Internet and the zones it serves, as (origin, master-file text).
pub struct MiniServer {
    pub role: &'static str,
    pub address: SocketAddr,
    pub zones: Vec<(&'static str, String)>,
}

/// The root servers, as a resolver's hints, when the name servers listen on `port`.
pub fn root_hints(port: u16) -> Vec<SocketAddr> {
    vec![SocketAddr::new(IpAddr::V4(ROOT_IP), port)]
}

/// Every name server of the mini Internet, listening on `port`.
pub fn servers(port: u16) -> Vec<MiniServer> {
    let at = |ip: Ipv4Addr| SocketAddr::new(IpAddr::V4(ip), port);
    vec![
        MiniServer {
            role: "dns root",
            address: at(ROOT_IP),
            zones: vec![(".", root_zone())],
        },
        MiniServer {
            role: "dns tld example.",
            address: at(TLD_IP),
            zones: vec![("example.", tld_zone())],
        },
        MiniServer {
            role: "dns alpha/beta/web.example",
            address: at(AUTH_IP),
            zones: vec![
                ("alpha.example.", domain_zone("alpha")),
                ("beta.example.", domain_zone("beta")),
                ("web.example.", web_zone()),
            ],
        },
    ]
}

const SERIAL: u32 = 2026112701;

fn root_zone() -> String {
    format!(
        "$ORIGIN .
$TTL 86400
@                   IN SOA a.root-servers.net. hostmaster.root-servers.net. ( {SERIAL} 1800 900 604800 86400 )
@                   IN NS  a.root-servers.net.
a.root-servers.net. IN A   {ROOT_IP}
example.            IN NS  ns.example.
ns.example.         IN A   {TLD_IP}
"
    )
}

fn tld_zone() -> String {
    format!(
        "$ORIGIN example.
$TTL 86400
@        IN SOA ns hostmaster ( {SERIAL} 1800 900 604800 3600 )
@        IN NS  ns
ns       IN A   {TLD_IP}
alpha    IN NS  ns.alpha
ns.alpha IN A   {AUTH_IP}
beta     IN NS  ns.beta
ns.beta  IN A   {AUTH_IP}
web      IN NS  ns.web
ns.web   IN A   {AUTH_IP}
"
    )
}

/// The web origin and its CDN: `www` is the origin, `cdn` answers with every edge (a client
/// picks one), and `video` is served through the CDN by a CNAME, as content sites do.
fn web_zone() -> String {
    let [edge1, edge2] = EDGE_IPS;
    format!(
        "$ORIGIN web.example.
$TTL 300
@      IN SOA ns hostmaster ( {SERIAL} 3600 600 86400 60 )
@      IN NS  ns
ns     IN A   {AUTH_IP}
www    IN A   {SERVICES_IP}
origin IN CNAME www
edge1  IN A   {edge1}
edge2  IN A   {edge2}
cdn    IN A   {edge1}
cdn    IN A   {edge2}
video  IN CNAME cdn
"
    )
}

fn domain_zone(name: &str) -> String {
    let mail_ip = MAIL_IPS
        .iter()
        .find(|(domain, _)| *domain == name)
        .map_or(SERVICES_IP, |(_, ip)| *ip);
    format!(
        "$ORIGIN {name}.example.
$TTL 300
@     IN SOA ns hostmaster ( {SERIAL} 3600 600 86400 60 )
@     IN NS  ns
ns    IN A   {AUTH_IP}
@     IN MX  10 mail
mail  IN A   {mail_ip}
www   IN A   {SERVICES_IP}
@     IN TXT \"v=spf1 mx -all\"
web   IN CNAME www
_submission._tcp IN SRV 0 1 587 mail
"
    )
}
