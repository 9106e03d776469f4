//! From a request target to a path under the served root, refusing every way out of the root.
//!
//! RFC 3986 §3.3 (path segments) and §2.1 (percent-encoding), RFC 9112 §3.2.1 (origin-form). The
//! rules, each a known escape: `..` segments, also percent-encoded (`%2e%2e`); encoded slashes
//! and backslashes (`%2f`, `%5c`), which would let a segment smuggle a separator past the check;
//! NUL bytes; invalid UTF-8 (file names here are text). Symbolic links that point out of the
//! root are the driver's to refuse, since only the file system knows where they lead.

use std::path::PathBuf;

/// Why a target cannot name a file under the root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the target is not an absolute path")]
    NotAbsolute,
    #[error("bad percent-encoding")]
    BadEncoding,
    #[error("the path leaves the root (`..`)")]
    Escapes,
    #[error("an encoded slash, backslash or NUL in a path segment")]
    ForbiddenByte,
}

/// A request path split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePath {
    /// The decoded segments, none empty, `.` or `..`.
    pub segments: Vec<String>,
    /// The path ended with `/`: a directory was asked for.
    pub trailing_slash: bool,
}

impl SitePath {
    /// The path relative to the root.
    pub fn relative(&self) -> PathBuf {
        self.segments.iter().collect()
    }

    /// The canonical URL path (`/a/b/`), for redirects and listings.
    pub fn url_path(&self) -> String {
        let mut path = String::from("/");
        path.push_str(&self.segments.join("/"));
        if self.trailing_slash && !self.segments.is_empty() {
            path.push('/');
        }
        path
    }
}

/// Parses the path of an origin-form target (`/a/b?q` → segments `a`, `b`).
pub fn parse_target(target: &str) -> Result<SitePath, PathError> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    let mut segments: Vec<String> = Vec::new();
    for raw in rest.split('/') {
        let segment = decode_segment(raw)?;
        match segment.as_str() {
            "" | "." => {}
            ".." => return Err(PathError::Escapes),
            _ => segments.push(segment),
        }
    }
    Ok(SitePath {
        segments,
        trailing_slash: path.ends_with('/'),
    })
}

/// Percent-decodes one segment. Refusing `..` outright (rather than popping a segment) is the
/// safe reading: nothing legitimate needs it, and a server that resolves it must get every
/// corner right.
fn decode_segment(raw: &str) -> Result<String, PathError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.bytes();
    while let Some(byte) = input.next() {
        let decoded = match byte {
            b'%' => {
                let high = input
                    .next()
                    .and_then(hex_value)
                    .ok_or(PathError::BadEncoding)?;
                let low = input
                    .next()
                    .and_then(hex_value)
                    .ok_or(PathError::BadEncoding)?;
                high << 4 | low
            }
            other => other,
        };
        if matches!(decoded, b'/' | b'\\' | 0) {
            return Err(PathError::ForbiddenByte);
        }
        bytes.push(decoded);
    }
    String::from_utf8(bytes).map_err(|_| PathError::BadEncoding)
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|digit| digit as u8)
}

/// Percent-encodes a file name for a link in a directory listing (RFC 3986 §2.1: everything
/// but unreserved characters).
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
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

    fn segments(target: &str) -> Vec<String> {
        parse_target(target).unwrap().segments
    }

    #[test]
    fn plain_paths_split_into_segments() {
        assert_eq!(segments("/"), Vec::<String>::new());
        assert_eq!(segments("/a/b.txt?x=1#frag"), ["a", "b.txt"]);
        assert_eq!(segments("//a/./b//"), ["a", "b"]);
        assert!(parse_target("/dir/").unwrap().trailing_slash);
    }

    #[test]
    fn percent_encoding_decodes_korean_and_spaces() {
        assert_eq!(segments("/%ED%95%9C%EA%B5%AD%EC%96%B4.txt"), ["한국어.txt"]);
        assert_eq!(segments("/a%20b"), ["a b"]);
    }

    #[test]
    fn every_known_escape_is_refused() {
        for target in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
        ] {
            assert_eq!(parse_target(target), Err(PathError::Escapes), "{target}");
        }
        for target in ["/a%2fb", "/a%2F..%2Fb", "/a%5cb", "/a%00b"] {
            assert_eq!(
                parse_target(target),
                Err(PathError::ForbiddenByte),
                "{target}"
            );
        }
        for target in ["/%zz", "/%4", "/%ff%fe"] {
            assert_eq!(
                parse_target(target),
                Err(PathError::BadEncoding),
                "{target}"
            );
        }
        assert_eq!(parse_target("a/b"), Err(PathError::NotAbsolute));
        assert_eq!(parse_target("*"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn url_paths_and_links_round_trip() {
        let path = parse_target("/docs/%ED%95%9C/").unwrap();
        assert_eq!(path.url_path(), "/docs/한/");
        let link = format!("/{}", encode_segment("한 국.txt"));
        assert_eq!(segments(&link), ["한 국.txt"]);
    }
}
