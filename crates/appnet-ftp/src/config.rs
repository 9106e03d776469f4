//! The `[ftp]` section of the appnet config file: where the server listens, whose trees it
//! serves, and the data-connection settings a server behind NAT needs.
//!
//! ```toml
//! [ftp]
//! listen = "127.0.0.1:2121"
//! root = "/srv/ftp"               # anonymous users' tree, and users' default
//! anonymous = true                # read-only unless anonymous_write
//! passive_ports = "50000-50100"   # open these in the firewall
//! advertise = "203.0.113.7"       # the address PASV tells clients (NAT)
//! [[ftp.users]]
//! name = "alice"
//! password = "$argon2id$v=19$..." # from `appnet ftp adduser`
//! root = "/srv/ftp/alice"         # optional
//! write = true
//! ```

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;

use appnet_core::config::Seconds;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FtpConfig {
    pub listen: SocketAddr,
    /// The anonymous tree, and the root of users who name none.
    pub root: PathBuf,
    pub anonymous: bool,
    /// Anonymous users may upload, make directories, rename and delete.
    pub anonymous_write: bool,
    pub users: Vec<FtpUser>,
    /// Ports for passive data connections, `LOW-HIGH`; unset means any free port.
    pub passive_ports: Option<PortRange>,
    /// The address PASV replies name, when clients reach the server through NAT; unset
    /// means the address the client connected to.
    pub advertise: Option<IpAddr>,
    /// How long a control connection may sit without a command (vsftpd's default: 300 s).
    pub idle_timeout: Seconds,
    /// How long a data connection may take to open, or stall, before the transfer fails.
    pub data_timeout: Seconds,
    pub max_connections: usize,
    /// Allow passwords without TLS from loopback clients (never from others).
    pub loopback_login_without_tls: bool,
    /// Certificate chain and key (PEM) for AUTH TLS; unset means appnet's own local CA.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The mini Internet's FTP server: its port and where its tree lives.
    pub up_port: u16,
    pub up_root: PathBuf,
}

impl Default for FtpConfig {
    fn default() -> Self {
        FtpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 2121)),
            root: std::env::temp_dir().join("appnet-ftp"),
            anonymous: false,
            anonymous_write: false,
            users: Vec::new(),
            passive_ports: None,
            advertise: None,
            idle_timeout: Seconds::from_millis(300_000),
            data_timeout: Seconds::from_millis(60_000),
            max_connections: 1000,
            loopback_login_without_tls: true,
            tls_cert: None,
            tls_key: None,
            up_port: 2121,
            up_root: std::env::temp_dir().join("appnet-up").join("ftp"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpUser {
    pub name: String,
    /// An argon2 PHC string.
    pub password: String,
    /// The user's tree [default: the server's root].
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// May upload, make directories, rename and delete.
    #[serde(default = "yes")]
    pub write: bool,
}

fn yes() -> bool {
    true
}

/// `LOW-HIGH`, both inclusive, as in the config and `--passive-ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub fn ports(&self) -> RangeInclusive<u16> {
        self.low..=self.high
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<PortRange, String> {
        let (low, high) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?}: expected LOW-HIGH, like 50000-50100"))?;
        let parse = |port: &str| {
            port.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p >= 1024)
                .ok_or_else(|| format!("{port:?}: expected a port from 1024 to 65535"))
        };
        let (low, high) = (parse(low)?, parse(high)?);
        if low > high {
            return Err(format!("{text:?}: the range is empty"));
        }
        Ok(PortRange { low, high })
    }
}

impl TryFrom<String> for PortRange {
    type Error = String;
    fn try_from(text: String) -> Result<PortRange, String> {
        text.parse()
    }
}

impl From<PortRange> for String {
    fn from(range: PortRange) -> String {
        format!("{}-{}", range.low, range.high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_parse_strictly() {
        let range: PortRange = "50000-50002".parse().unwrap();
        assert_eq!(range.ports().count(), 3);
        assert!("50002-50000".parse::<PortRange>().is_err());
        assert!("80-90".parse::<PortRange>().is_err());
        assert!("50000".parse::<PortRange>().is_err());
    }
}
