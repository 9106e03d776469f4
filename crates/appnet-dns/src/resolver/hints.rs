//! Root hints: the servers iteration starts from when the cache knows nothing closer.
//!
//! A hints file is the `named.root` file IANA publishes: RFC 1035 §5 master-file text with NS
//! records for the root zone `.` and A/AAAA records for those servers (RFC 8109 §2 calls it the
//! resolver's "root hints"). It is read with the zone-file parser, so syntax errors name the file
//! and line. Without a file, the hints are the mini Internet's own root server.
//!
//! We do not send an RFC 8109 priming query: the hints are used as they are, and the root's NS
//! RRset enters the cache when a root server first answers with it.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::config::ResolverConfig;
use crate::mini;
use crate::wire::{Name, RData, RecordType};
use crate::zone::{ZoneError, no_includes};

/// Largest hints file read: IANA's is about 3 KB.
pub const MAX_HINTS_FILE: u64 = 1024 * 1024;

/// Where iteration starts, and the port every upstream server listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hints {
    /// Root server addresses, IPv4 first.
    pub servers: Vec<SocketAddr>,
    /// The port for server addresses learnt from glue and lookups (53 on the real Internet).
    pub port: u16,
}

/// Why a hints file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HintsError {
    #[error("cannot read root hints {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("root hints {path} are larger than {MAX_HINTS_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("root hints {0}")]
    Syntax(#[from] ZoneError),
    #[error("{path}: no NS records for the root zone \".\"")]
    NoRootServers { path: PathBuf },
    #[error("{path}: none of the root servers ({names}) has an A or AAAA record")]
    NoAddresses { path: PathBuf, names: String },
}

impl Hints {
    /// The mini Internet's root server, on `port`.
    pub fn mini(port: u16) -> Hints {
        Hints {
            servers: mini::root_hints(port),
            port,
        }
    }

    /// The hints the config asks for: its `root_hints` file, else the mini Internet's root;
    /// name servers listen on `port`.
    pub fn from_config(config: &ResolverConfig, port: u16) -> Result<Hints, HintsError> {
        match &config.root_hints {
            Some(path) => Hints::load(path, port),
            None => Ok(Hints::mini(port)),
        }
    }

    /// Reads and parses a hints file.
    pub fn load(path: &Path, port: u16) -> Result<Hints, HintsError> {
        let read_error = |source| HintsError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        file.take(MAX_HINTS_FILE + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_HINTS_FILE {
            return Err(HintsError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Hints::parse(&text, path, port)
    }

    /// Parses hints text (`path` names it in errors): the addresses of the root's NS names, on
    /// `port`. Other records are ignored, as in named.root's own comments.
    pub fn parse(text: &str, path: &Path, port: u16) -> Result<Hints, HintsError> {
        let parsed = crate::zone::parser::parse(text, Some(&Name::root()), path, &no_includes)?;
        let records: Vec<_> = parsed
            .records
            .into_iter()
            .map(|located| located.record)
            .collect();
        let names: Vec<&Name> = records
            .iter()
            .filter(|record| record.name.is_root())
            .filter_map(|record| match &record.rdata {
                RData::Ns(name) => Some(name),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err(HintsError::NoRootServers {
                path: path.to_path_buf(),
            });
        }
        let mut addresses: Vec<IpAddr> = Vec::new();
        let glue = records
            .iter()
            .filter(|record| matches!(record.rtype(), RecordType::A | RecordType::AAAA))
            .filter(|record| names.contains(&&record.name))
            .filter_map(|record| record.rdata.address());
        for address in glue {
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
        // IPv4 first: a host without IPv6 connectivity then starts with servers it can reach.
        addresses.sort_by_key(IpAddr::is_ipv6);
        if addresses.is_empty() {
            let names: Vec<String> = names.iter().map(ToString::to_string).collect();
            return Err(HintsError::NoAddresses {
                path: path.to_path_buf(),
                names: names.join(", "),
            });
        }
        let servers = addresses
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        Ok(Hints { servers, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMED_ROOT: &str = "\
;       This file holds the information on root name servers needed to
;       initialize cache of Internet domain name servers
.                        3600000      NS    A.ROOT-SERVERS.NET.
A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4
A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30
;
.                        3600000      NS    B.ROOT-SERVERS.NET.
B.ROOT-SERVERS.NET.      3600000      A     170.247.170.2
; an unrelated record is ignored
www.example.             3600         A     192.0.2.1
";

    #[test]
    fn parses_named_root_ipv4_first() {
        let hints = Hints::parse(NAMED_ROOT, Path::new("named.root"), 53).unwrap();
        let expected: Vec<SocketAddr> = vec![
            "198.41.0.4:53".parse().unwrap(),
            "170.247.170.2:53".parse().unwrap(),
            "[2001:503:ba3e::2:30]:53".parse().unwrap(),
        ];
        assert_eq!(hints.servers, expected);
        assert_eq!(hints.port, 53);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let error = Hints::parse(
            ". 3600 NS a.root.\na.root. 3600 A 1.2.3\n",
            Path::new("hints"),
            53,
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("hints:2"), "{text}");
    }

    #[test]
    fn hints_need_root_servers_with_addresses() {
        let path = Path::new("hints");
        assert!(matches!(
            Hints::parse("a.root. 3600 A 192.0.2.1\n", path, 53),
            Err(HintsError::NoRootServers { .. })
        ));
        assert!(matches!(
            Hints::parse(". 3600 NS a.root.\n", path, 53),
            Err(HintsError::NoAddresses { .. })
        ));
    }

    #[test]
    fn the_default_is_the_mini_root() {
        let hints = Hints::from_config(&ResolverConfig::default(), mini::PORT).unwrap();
        assert_eq!(hints.servers, mini::root_hints(mini::PORT));
        assert_eq!(hints.port, mini::PORT);
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let error = Hints::load(Path::new("/nonexistent/named.root"), 53).unwrap_err();
        assert!(matches!(error, HintsError::Read { .. }), "{error}");
    }
}
