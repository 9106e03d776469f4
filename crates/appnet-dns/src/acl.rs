//! Address access lists: who may transfer a zone, who may use the resolver.
//!
//! Prefixes are `ipnet::IpNet` (RFC 4632 §3.1 and RFC 4291 §2.3 notation, as in the config file).
//! An IPv4-mapped IPv6 client address (`::ffff:127.0.0.1`, what a dual-stack socket reports,
//! RFC 4291 §2.5.5.2) is matched as the IPv4 address it carries.

use std::net::IpAddr;

pub use ipnet::IpNet;

/// True when `client` falls inside one of `nets`.
pub fn allows(nets: &[IpNet], client: IpAddr) -> bool {
    let client = client.to_canonical();
    nets.iter().any(|net| net.contains(&client))
}

/// `127.0.0.0/8` and `::1/128`: the default of every access list.
pub fn loopback() -> Vec<IpNet> {
    vec![
        IpNet::new(IpAddr::from([127, 0, 0, 0]), 8).expect("a valid prefix"),
        IpNet::new(IpAddr::from(std::net::Ipv6Addr::LOCALHOST), 128).expect("a valid prefix"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_allows_loopback_only() {
        let nets = loopback();
        for allowed in ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"] {
            assert!(allows(&nets, allowed.parse().unwrap()), "{allowed}");
        }
        for refused in ["192.0.2.1", "10.0.0.1", "2001:db8::1", "::ffff:192.0.2.1"] {
            assert!(!allows(&nets, refused.parse().unwrap()), "{refused}");
        }
    }

    #[test]
    fn prefixes_parse_as_in_the_config() {
        let nets: Vec<IpNet> = ["192.0.2.0/24", "2001:db8::/32"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(allows(&nets, "192.0.2.200".parse().unwrap()));
        assert!(allows(&nets, "2001:db8:1::5".parse().unwrap()));
        assert!(!allows(&nets, "192.0.3.1".parse().unwrap()));
    }
}
