//! The small vocabulary of a message's start line: [`Method`] (RFC 9110 §9) and [`Version`]
//! (RFC 9112 §2.3, RFC 9110 §2.5).

use std::fmt;

use super::error::HttpError;
use super::syntax::is_token;

/// RFC 9110 §9: a request method. Method names are case-sensitive (§9.1): `get` is not `GET`,
/// it is `Other("get")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Connect,
    Patch,
    /// Any other token.
    Other(String),
}

impl Method {
    /// Parses a method token (RFC 9110 §9.1: `method = token`).
    pub fn parse(bytes: &[u8]) -> Result<Self, HttpError> {
        if !is_token(bytes) {
            return Err(HttpError::InvalidMethod);
        }
        Ok(match bytes {
            b"GET" => Self::Get,
            b"HEAD" => Self::Head,
            b"POST" => Self::Post,
            b"PUT" => Self::Put,
            b"DELETE" => Self::Delete,
            b"OPTIONS" => Self::Options,
            b"TRACE" => Self::Trace,
            b"CONNECT" => Self::Connect,
            b"PATCH" => Self::Patch,
            other => Self::Other(String::from_utf8_lossy(other).into_owned()),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Trace => "TRACE",
            Self::Connect => "CONNECT",
            Self::Patch => "PATCH",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP/1.x versions this codec speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    /// RFC 9112 §2.3: `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive.
    ///
    /// RFC 9110 §2.5: a recipient treats a higher minor version of a major version it implements
    /// as the highest minor it knows, so `HTTP/1.2` reads as HTTP/1.1 (nginx does the same); other
    /// majors (`HTTP/2.0`, `HTTP/0.9`) are well-formed but unsupported (505).
    pub fn parse(bytes: &[u8]) -> Result<Self, HttpError> {
        let [b'H', b'T', b'T', b'P', b'/', major, b'.', minor] = bytes else {
            return Err(HttpError::InvalidVersion);
        };
        if !major.is_ascii_digit() || !minor.is_ascii_digit() {
            return Err(HttpError::InvalidVersion);
        }
        match (major - b'0', minor - b'0') {
            (1, 0) => Ok(Self::Http10),
            (1, _) => Ok(Self::Http11),
            (major, minor) => Err(HttpError::UnsupportedVersion { major, minor }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive_tokens() {
        assert_eq!(Method::parse(b"GET"), Ok(Method::Get));
        assert_eq!(Method::parse(b"get"), Ok(Method::Other("get".into())));
        assert_eq!(
            Method::parse(b"PROPFIND"),
            Ok(Method::Other("PROPFIND".into()))
        );
        assert_eq!(Method::parse(b"G(T"), Err(HttpError::InvalidMethod));
        assert_eq!(Method::parse(b""), Err(HttpError::InvalidMethod));
        assert_eq!(Method::Other("X".into()).to_string(), "X");
    }

    #[test]
    fn versions() {
        assert_eq!(Version::parse(b"HTTP/1.1"), Ok(Version::Http11));
        assert_eq!(Version::parse(b"HTTP/1.0"), Ok(Version::Http10));
        assert_eq!(Version::parse(b"HTTP/1.2"), Ok(Version::Http11));
        assert_eq!(
            Version::parse(b"HTTP/2.0"),
            Err(HttpError::UnsupportedVersion { major: 2, minor: 0 })
        );
        assert_eq!(
            Version::parse(b"HTTP/0.9"),
            Err(HttpError::UnsupportedVersion { major: 0, minor: 9 })
        );
        for bad in [
            &b"http/1.1"[..],
            b"HTTP/1.10",
            b"HTTP/1",
            b"HTTP/1.1 ",
            b"HTTP/a.1",
            b"HTTP/11",
            b"",
        ] {
            assert_eq!(
                Version::parse(bad),
                Err(HttpError::InvalidVersion),
                "{bad:?}"
            );
        }
    }
}
