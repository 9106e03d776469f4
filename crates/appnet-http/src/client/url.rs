//! The URLs the client fetches: `http` and `https` only (RFC 9110 §4.2.1, §4.2.2), split as
//! RFC 3986 §3 says, and resolved against a base as RFC 3986 §5.2 says (for `Location`, RFC 9110
//! §10.2.2).
//!
//! - The scheme is case-insensitive (RFC 3986 §3.1); the fragment is never sent (RFC 9110 §4.2.5).
//! - Userinfo (`user:pass@host`) is refused: RFC 9110 §4.2.4 deprecates it, and it hides the real
//!   host from a reader (`http://bank.example@evil.example/`).
//! - The host is an IPv4 address, an IPv6 literal in brackets (RFC 3986 §3.2.2, no zone IDs), or
//!   a domain name mapped to ASCII by UTS #46 / IDNA (the `idna` crate), so `bücher.example`
//!   becomes `xn--bcher-kva.example` and names compare lower-case.
//! - An empty port means the default (RFC 3986 §3.2.3); port 0 is refused.
//! - The path has its dot-segments removed (RFC 3986 §5.2.4), and every byte a request-target
//!   cannot carry (space, controls, non-ASCII, a `%` that starts no pct-encoding) is
//!   percent-encoded (RFC 3986 §2.1), so the result always passes [`crate::proto::check_target`].

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest URL accepted, in bytes (curl and browsers accept more; no real resource needs it).
pub const MAX_URL_LEN: usize = 8 * 1024;

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("empty URL")]
    Empty,
    #[error("URL longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("URL has no scheme (RFC 3986 §3.1): write http://{0}")]
    NoScheme(String),
    #[error("scheme `{0}` is not supported: only http and https")]
    UnsupportedScheme(String),
    #[error("URL has no host (RFC 9110 §4.2.1)")]
    NoHost,
    #[error("userinfo (user@host) in URLs is refused (RFC 9110 §4.2.4)")]
    Userinfo,
    #[error("invalid host `{0}` (RFC 3986 §3.2.2)")]
    InvalidHost(String),
    #[error("invalid port `{0}` (RFC 3986 §3.2.3)")]
    InvalidPort(String),
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// RFC 9110 §4.2.1 and §4.2.2: 80 and 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn parse(text: &str) -> Result<Scheme, UrlError> {
        if text.eq_ignore_ascii_case("http") {
            Ok(Scheme::Http)
        } else if text.eq_ignore_ascii_case("https") {
            Ok(Scheme::Https)
        } else {
            Err(UrlError::UnsupportedScheme(text.to_owned()))
        }
    }
}

/// The host of a URL, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An ASCII (A-label) lower-case domain name.
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl fmt::Display for Host {
    /// As it appears in a URL or Host field: IPv6 literals in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(name) => f.write_str(name),
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// An absolute `http` or `https` URL, ready to be requested.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: Scheme,
    host: Host,
    port: u16,
    /// The origin-form request-target: path and query, starting with `/`.
    target: String,
}

impl Url {
    /// Parses an absolute URL (`http://host[:port]/path?query#fragment`).
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let text = trim(text)?;
        let Some((scheme, rest)) = split_scheme(text) else {
            return Err(UrlError::NoScheme(text.to_owned()));
        };
        let scheme = Scheme::parse(scheme)?;
        let Some(rest) = rest.strip_prefix("//") else {
            return Err(UrlError::NoHost);
        };
        let rest = strip_fragment(rest);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(authority_end);
        let (host, port) = parse_authority(authority, scheme)?;
        Ok(Url {
            scheme,
            host,
            port,
            target: normalise_target(target),
        })
    }

    /// Resolves `reference` (a `Location` value: absolute, `//host/...`, `/path`, `?query` or
    /// relative) against this URL, RFC 3986 §5.2.2.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        let reference = strip_fragment(trim(reference).unwrap_or_default());
        if split_scheme(reference).is_some() {
            return Url::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        let target = if reference.is_empty() {
            self.target.clone()
        } else if reference.starts_with('/') {
            reference.to_owned()
        } else if reference.starts_with('?') {
            format!("{}{reference}", self.path())
        } else {
            let path = self.path();
            let dir = path.rfind('/').map_or("/", |at| &path[..=at]);
            format!("{dir}{reference}")
        };
        Ok(Url {
            target: normalise_target(&target),
            ..self.clone()
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port, the scheme's default when the URL gives none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The origin-form request-target: `/path?query`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// `host[:port]` with the port only when it is not the scheme's default: the Host field
    /// value (RFC 9110 §7.2).
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether `other` has the same scheme, host and port (RFC 6454 §4: the same origin).
    pub fn same_origin(&self, other: &Url) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.target
        )
    }
}

impl std::str::FromStr for Url {
    type Err = UrlError;

    fn from_str(text: &str) -> Result<Url, UrlError> {
        Url::parse(text)
    }
}

/// WHATWG URL: leading and trailing C0 controls and spaces are dropped; limits apply.
fn trim(text: &str) -> Result<&str, UrlError> {
    let text = text.trim_matches(|c: char| c <= ' ');
    match text.len() {
        0 => Err(UrlError::Empty),
        len if len > MAX_URL_LEN => Err(UrlError::TooLong),
        _ => Ok(text),
    }
}

/// RFC 3986 §3.1: `scheme ":"` where `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (first_ok && rest_ok).then_some((scheme, rest))
}

fn strip_fragment(text: &str) -> &str {
    text.split_once('#').map_or(text, |(before, _)| before)
}

/// RFC 3986 §3.2: `[ userinfo "@" ] host [ ":" port ]`, userinfo refused.
fn parse_authority(authority: &str, scheme: Scheme) -> Result<(Host, u16), UrlError> {
    if authority.contains('@') {
        return Err(UrlError::Userinfo);
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None | Some("") => scheme.default_port(),
        Some(port) => parse_port(port)?,
    };
    Ok((parse_host(host)?, port))
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (literal, after) = rest
            .split_once(']')
            .ok_or_else(|| UrlError::InvalidHost(authority.to_owned()))?;
        return match after {
            "" => Ok((&authority[..literal.len() + 2], None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((&authority[..literal.len() + 2], Some(port))),
                None => Err(UrlError::InvalidHost(authority.to_owned())),
            },
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// RFC 3986 §3.2.3: `port = *DIGIT`; we want 1..=65535.
fn parse_port(port: &str) -> Result<u16, UrlError> {
    let bad = || UrlError::InvalidPort(port.to_owned());
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(port) => Ok(port),
    }
}

/// RFC 3986 §3.2.2: `IP-literal / IPv4address / reg-name`; reg-names go through IDNA.
fn parse_host(host: &str) -> Result<Host, UrlError> {
    let bad = || UrlError::InvalidHost(host.to_owned());
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if let Some(literal) = host.strip_prefix('[') {
        let literal = literal.strip_suffix(']').ok_or_else(bad)?;
        return literal.parse().map(Host::Ipv6).map_err(|_| bad());
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(ip));
    }
    if host.contains('%') {
        return Err(bad());
    }
    let ascii =
        idna::domain_to_ascii_cow(host.as_bytes(), idna::AsciiDenyList::URL).map_err(|_| bad())?;
    if ascii.is_empty() || ascii.starts_with('.') {
        return Err(bad());
    }
    Ok(Host::Domain(ascii.into_owned()))
}

/// An origin-form target from a path-and-query: `/` when empty, dot-segments removed from the
/// path, and percent-encoded where a request-target needs it.
fn normalise_target(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let path = if path.starts_with('/') {
        remove_dot_segments(path)
    } else {
        remove_dot_segments(&format!("/{path}"))
    };
    let mut out = percent_encode(&path);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&percent_encode(query));
    }
    out
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments vanish, `..` removes the one before it,
/// never climbing above the root; a path ending in `.` or `..` keeps its trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

/// RFC 3986 §2.1: percent-encodes every byte that is not visible ASCII, `#`, and every `%` that
/// does not start a pct-encoding; everything else is kept as written.
fn percent_encode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let keep = match byte {
            b'%' => bytes
                .get(index + 1..index + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
            b'#' => false,
            _ => byte.is_ascii_graphic(),
        };
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    #[test]
    fn parses_the_parts() {
        let u = url("HTTP://Example.COM:8080/a/b?x=1#frag");
        assert_eq!(u.scheme(), Scheme::Http);
        assert_eq!(u.host(), &Host::Domain("example.com".into()));
        assert_eq!(u.port(), 8080);
        assert_eq!(u.target(), "/a/b?x=1");
        assert_eq!(u.path(), "/a/b");
        assert_eq!(u.authority(), "example.com:8080");
        assert_eq!(u.to_string(), "http://example.com:8080/a/b?x=1");
    }

    #[test]
    fn defaults_and_empty_parts() {
        let u = url("https://example.com");
        assert_eq!((u.port(), u.target()), (443, "/"));
        assert_eq!(u.authority(), "example.com");
        assert_eq!(url("http://example.com:/x").port(), 80);
        assert_eq!(url("http://example.com:80/").authority(), "example.com");
        assert_eq!(url("http://h?q").target(), "/?q");
    }

    #[test]
    fn ip_hosts() {
        let u = url("http://[::1]:8080/");
        assert_eq!(u.host(), &Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(u.authority(), "[::1]:8080");
        assert_eq!(url("http://[2001:db8::1]/").authority(), "[2001:db8::1]");
        assert_eq!(
            url("http://127.0.0.1:99").host(),
            &Host::Ipv4(Ipv4Addr::LOCALHOST)
        );
    }

    #[test]
    fn idna_hosts() {
        assert_eq!(
            url("http://Bücher.example/").host(),
            &Host::Domain("xn--bcher-kva.example".into())
        );
        assert_eq!(
            url("http://한국.example/").authority(),
            "xn--3e0b707e.example"
        );
    }

    #[test]
    fn refusals() {
        use UrlError::*;
        let cases: &[(&str, UrlError)] = &[
            ("", Empty),
            ("example.com/x", NoScheme("example.com/x".into())),
            ("ftp://example.com/", UnsupportedScheme("ftp".into())),
            ("http:example.com", NoHost),
            ("http:///x", NoHost),
            ("http://user:pw@example.com/", Userinfo),
            ("http://example.com:0/", InvalidPort("0".into())),
            ("http://example.com:65536/", InvalidPort("65536".into())),
            ("http://example.com:8x/", InvalidPort("8x".into())),
            ("http://[::1/", InvalidHost("[::1".into())),
            ("http://[::1]x/", InvalidHost("[::1]x".into())),
            ("http://[nothex]/", InvalidHost("[nothex]".into())),
            ("http://a b/", InvalidHost("a b".into())),
            ("http://ex%41mple/", InvalidHost("ex%41mple".into())),
        ];
        for (text, error) in cases {
            assert_eq!(Url::parse(text).as_ref(), Err(error), "{text}");
        }
        assert_eq!(
            Url::parse(&format!("http://h/{}", "a".repeat(MAX_URL_LEN))),
            Err(TooLong)
        );
    }

    #[test]
    fn targets_are_encoded_and_normalised() {
        assert_eq!(
            url("http://h/a b/ü?q=a b").target(),
            "/a%20b/%C3%BC?q=a%20b"
        );
        assert_eq!(url("http://h/100%/%41").target(), "/100%25/%41");
        assert_eq!(url("http://h/a/./b/../../c/").target(), "/c/");
        assert_eq!(url("http://h/../../x").target(), "/x");
        assert_eq!(url("http://h/a/..").target(), "/");
        for text in ["http://h/a b", "http://h/%zz", "http://h/x\u{7f}"] {
            let target = url(text).target().to_owned();
            assert!(
                crate::proto::check_target(&crate::proto::Method::Get, target.as_bytes()).is_ok(),
                "{target}"
            );
        }
    }

    #[test]
    fn joins_rfc3986_examples() {
        // RFC 3986 §5.4.1, with http://a/b/c/d;p?q as the base.
        let base = url("http://a/b/c/d;p?q");
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../../g", "http://a/g"),
            ("https://other:444/z", "https://other:444/z"),
        ];
        for (reference, expected) in cases {
            assert_eq!(
                base.join(reference).unwrap().to_string(),
                expected,
                "{reference}"
            );
        }
        assert_eq!(
            base.join("mailto:x@y"),
            Err(UrlError::UnsupportedScheme("mailto".into()))
        );
    }

    #[test]
    fn origins() {
        let a = url("http://h:80/x");
        assert!(a.same_origin(&url("http://H/y")));
        assert!(!a.same_origin(&url("https://h/x")));
        assert!(!a.same_origin(&url("http://h:81/x")));
    }
}
