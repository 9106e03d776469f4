//! FTP URLs (RFC 1738 §3.2): `ftp://[USER[:PASSWORD]@]HOST[:PORT][/PATH]`.
//!
//! The user, password and path are percent-decoded (`%EB%B3%B4` is the first byte triple of
//! 보), and the path stays bytes, since the server's names are bytes. RFC 1738 §3.2.2 makes
//! the path relative to the login directory; the path here is what follows the `/` after the
//! host, so `ftp://h/pub/a` names `pub/a`, and an absolute path is written `ftp://h//etc/a` or
//! `ftp://h/%2Fetc/a`. A non-ASCII host name goes to DNS as its A-label (RFC 5891).

use thiserror::Error;

/// The IANA port of the FTP control connection (RFC 959 §3.2).
pub const DEFAULT_PORT: u16 = 21;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("not an ftp:// URL: {0}")]
    Scheme(String),
    #[error("the URL names no host")]
    NoHost,
    #[error("bad port in the URL: {0}")]
    Port(String),
    #[error("bad host name {0:?}")]
    Host(String),
    #[error("bad percent-encoding in the URL")]
    Percent,
    #[error("the user name or password is not UTF-8 once decoded")]
    NotUtf8,
}

#[derive(Clone, PartialEq, Eq)]
pub struct FtpUrl {
    /// A name or an IP address (IPv6 without brackets), ready for DNS and for TLS's SNI.
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The decoded path after the host's `/`: empty for the login directory.
    pub path: Vec<u8>,
}

impl std::fmt::Debug for FtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .field("path", &String::from_utf8_lossy(&self.path))
            .finish()
    }
}

impl FtpUrl {
    /// Parses `text`; without a scheme, `ftp://` is assumed.
    pub fn parse(text: &str) -> Result<FtpUrl, UrlError> {
        let rest = match text.find("://") {
            Some(at) if text[..at].eq_ignore_ascii_case("ftp") => &text[at + 3..],
            Some(at) => return Err(UrlError::Scheme(text[..at].to_string())),
            None => text,
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (info, None),
                };
                let user = utf8(decode(user)?)?;
                let password = password.map(decode).transpose()?.map(utf8).transpose()?;
                (Some(user), password)
            }
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(FtpUrl {
            host,
            port,
            user: user.filter(|u| !u.is_empty()),
            password,
            path: decode(path)?,
        })
    }

    /// `host:port` as one would type it (brackets around IPv6).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether the path names a directory (empty, or ending in `/`).
    pub fn is_directory(&self) -> bool {
        self.path.is_empty() || self.path.ends_with(b"/")
    }

    /// The path's last segment, if it names a file.
    pub fn file_name(&self) -> Option<&[u8]> {
        if self.is_directory() {
            return None;
        }
        self.path.rsplit(|&b| b == b'/').next()
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let close = inner.find(']').ok_or(UrlError::Host(hostport.into()))?;
        let host = &inner[..close];
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| UrlError::Host(host.into()))?;
        let after = &inner[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(UrlError::Host(hostport.into())),
        };
        (host.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0 && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| UrlError::Port(text.into()))?,
    };
    let host = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(&host).map_err(|_| UrlError::Host(host.clone()))?
    };
    if host.contains(['/', '@', ' ', '?', '#']) {
        return Err(UrlError::Host(host));
    }
    Ok((host, port))
}

/// RFC 3986 §2.1 percent-decoding to bytes.
fn decode(text: &str) -> Result<Vec<u8>, UrlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                .ok_or(UrlError::Percent)?;
            let value = |digit: u8| (digit as char).to_digit(16).unwrap_or(0) as u8;
            out.push(value(hex[0]) << 4 | value(hex[1]));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn utf8(bytes: Vec<u8>) -> Result<String, UrlError> {
    String::from_utf8(bytes).map_err(|_| UrlError::NotUtf8)
}

/// Percent-encodes a path for display in a URL: controls, space, `%` and non-ASCII bytes.
pub fn encode_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_parts_of_an_ftp_url() {
        let url = FtpUrl::parse("ftp://alice:s%3Acret@Example.COM:2121/pub/a%20b.txt").unwrap();
        assert_eq!(url.host, "example.com");
        assert_eq!(url.port, 2121);
        assert_eq!(url.user.as_deref(), Some("alice"));
        assert_eq!(url.password.as_deref(), Some("s:cret"));
        assert_eq!(url.path, b"pub/a b.txt");
        assert_eq!(url.file_name(), Some(&b"a b.txt"[..]));
        assert!(!format!("{url:?}").contains("cret"));

        let url = FtpUrl::parse("ftp://127.0.0.1").unwrap();
        assert_eq!(
            (url.port, url.user.clone(), url.path.clone()),
            (21, None, vec![])
        );
        assert!(url.is_directory());

        let url = FtpUrl::parse("[::1]:21/%2Fetc/").unwrap();
        assert_eq!(url.host, "::1");
        assert_eq!(url.authority(), "[::1]:21");
        assert_eq!(url.path, b"/etc/");
        assert_eq!(url.file_name(), None);
    }

    #[test]
    fn korean_names_in_paths_and_hosts() {
        let url =
            FtpUrl::parse("ftp://h/%EC%9E%90%EB%A3%8C/%EB%B3%B4%EA%B3%A0%EC%84%9C.txt").unwrap();
        assert_eq!(url.path, "자료/보고서.txt".as_bytes());
        let url = FtpUrl::parse("ftp://h/자료/보고서.txt").unwrap();
        assert_eq!(url.path, "자료/보고서.txt".as_bytes());
        assert_eq!(
            FtpUrl::parse("ftp://한국.example/").unwrap().host,
            "xn--3e0b707e.example"
        );
        assert_eq!(encode_path("보 x".as_bytes()), "%EB%B3%B4%20x");
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(
            FtpUrl::parse("http://h/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(FtpUrl::parse("ftp:///x"), Err(UrlError::NoHost)));
        assert!(matches!(
            FtpUrl::parse("ftp://h:99999/"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            FtpUrl::parse("ftp://h:0/"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            FtpUrl::parse("ftp://h/%zz"),
            Err(UrlError::Percent)
        ));
        assert!(matches!(
            FtpUrl::parse("ftp://h/%4"),
            Err(UrlError::Percent)
        ));
        assert!(matches!(
            FtpUrl::parse("ftp://h/%+1"),
            Err(UrlError::Percent)
        ));
        assert!(matches!(
            FtpUrl::parse("ftp://[::1/"),
            Err(UrlError::Host(_))
        ));
    }

    proptest! {
        #[test]
        fn encoded_paths_decode_back(path in prop::collection::vec(any::<u8>(), 0..60)) {
            let url = FtpUrl::parse(&format!("ftp://h/{}", encode_path(&path))).unwrap();
            prop_assert_eq!(url.path, path);
        }

        #[test]
        fn any_text_never_panics(text in "\\PC{0,60}") {
            let _ = FtpUrl::parse(&text);
        }
    }
}
