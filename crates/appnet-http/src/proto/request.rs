//! Request heads: parsing the request line and header section a server receives, and writing the
//! head a client sends.
//!
//! RFC 9112 §3 (request line: single SP separators, method token, target, version), §3.2 (Host
//! required in HTTP/1.1, exactly one, valid), §9.3 (persistence), and RFC 9110 §10.1.1
//! (`Expect: 100-continue`).

use super::error::{EncodeError, HttpError};
use super::head::lines;
use super::headers::{Headers, ObsFold, encode_fields, parse_fields};
use super::message::{Method, Version};
use super::target::{TargetForm, check_target, host_ok};

/// A request head: what a server parses and what a client writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request-target as sent, checked against [`check_target`] rules.
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

/// The name the server side uses for a received [`RequestHead`].
pub type Request = RequestHead;

impl RequestHead {
    /// An HTTP/1.1 request with no fields yet (add Host before encoding).
    pub fn new(method: Method, target: impl Into<String>) -> Self {
        Self {
            method,
            target: target.into(),
            version: Version::Http11,
            headers: Headers::new(),
        }
    }

    /// Which of the four target forms this is (the target was checked when parsed).
    pub fn target_form(&self) -> Result<TargetForm, HttpError> {
        check_target(&self.method, self.target.as_bytes())
    }

    /// The Host field value, if present and UTF-8.
    pub fn host(&self) -> Option<&str> {
        self.headers.get("host")
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 persists only with
    /// `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.headers)
    }

    /// RFC 9110 §10.1.1: the client waits for `100 Continue` before sending the body. An
    /// HTTP/1.0 client cannot ask for it (the server "MUST ignore" the expectation).
    pub fn expects_continue(&self) -> bool {
        self.version == Version::Http11 && self.headers.contains_token("expect", "100-continue")
    }

    /// The head as bytes. Refuses what the request parser would refuse: a bad method or target,
    /// a missing or repeated Host in HTTP/1.1, both Content-Length and Transfer-Encoding, and
    /// field names or values that would split the head.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if !super::syntax::is_token(self.method.as_str().as_bytes()) {
            return Err(EncodeError::InvalidMethod);
        }
        if let Err(error) = check_target(&self.method, self.target.as_bytes()) {
            return Err(match error {
                HttpError::InvalidTarget(reason) => EncodeError::InvalidTarget(reason),
                _ => EncodeError::InvalidTarget("invalid"),
            });
        }
        if self.version == Version::Http11 && self.headers.count("host") != 1 {
            return Err(EncodeError::MissingHost);
        }
        super::headers::check_framing_fields(self.version, &self.headers)?;
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.version.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        encode_fields(&self.headers, &mut out)?;
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

/// RFC 9112 §9.3: the persistence rule shared by requests and responses.
pub(crate) fn keep_alive(version: Version, headers: &Headers) -> bool {
    if headers.contains_token("connection", "close") {
        return false;
    }
    match version {
        Version::Http11 => true,
        Version::Http10 => headers.contains_token("connection", "keep-alive"),
    }
}

/// Parses a complete request head (as found by the head scanner) and applies the Host rules.
pub(crate) fn parse_request_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    let mut head_lines = lines(head);
    let start = head_lines
        .next()
        .ok_or(HttpError::InvalidRequestLine("empty"))?;
    let (method, target, version) = parse_request_line(start)?;
    let headers = parse_fields(head_lines, ObsFold::Reject)?;
    check_host(version, &headers)?;
    Ok(RequestHead {
        method,
        target,
        version,
        headers,
    })
}

/// RFC 9112 §3: `method SP request-target SP HTTP-version`, each separator exactly one SP.
/// Whitespace inside the target therefore shows up as a third separator and is refused.
fn parse_request_line(line: &[u8]) -> Result<(Method, String, Version), HttpError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts
        .next()
        .ok_or(HttpError::InvalidRequestLine("no request-target"))?;
    let version = parts
        .next()
        .ok_or(HttpError::InvalidRequestLine("no HTTP-version"))?;
    let method = Method::parse(method)?;
    if target.is_empty() {
        return Err(HttpError::InvalidRequestLine("two spaces after the method"));
    }
    if version.contains(&b' ') {
        return Err(HttpError::InvalidRequestLine(
            "space inside the request-target",
        ));
    }
    let version = Version::parse(version)?;
    check_target(&method, target)?;
    // check_target allows visible ASCII only, so this cannot fail.
    let target =
        String::from_utf8(target.to_vec()).map_err(|_| HttpError::InvalidTarget("not ASCII"))?;
    Ok((method, target, version))
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
/// request message that lacks a Host header field and to any request message that contains more
/// than one Host header field line or a Host header field with an invalid field value."
fn check_host(version: Version, headers: &Headers) -> Result<(), HttpError> {
    let mut hosts = headers.get_all("host");
    match (hosts.next(), hosts.next()) {
        (None, _) if version == Version::Http11 => Err(HttpError::MissingHost),
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(HttpError::DuplicateHost),
        (Some(host), None) if host_ok(host) => Ok(()),
        (Some(_), None) => Err(HttpError::InvalidHost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &[u8]) -> Result<RequestHead, HttpError> {
        parse_request_head(head)
    }

    #[test]
    fn parses_a_request() {
        let request =
            parse(b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
                .unwrap();
        assert_eq!(request.method, Method::Get);
        assert_eq!(request.target, "/index.html?x=1");
        assert_eq!(request.version, Version::Http11);
        assert_eq!(request.host(), Some("example.com"));
        assert_eq!(request.target_form(), Ok(TargetForm::Origin));
        assert!(request.keep_alive());
        assert!(!request.expects_continue());
    }

    #[test]
    fn request_line_errors() {
        use HttpError::*;
        let cases: &[(&[u8], HttpError)] = &[
            (
                b"GET  / HTTP/1.1",
                InvalidRequestLine("two spaces after the method"),
            ),
            (
                b"GET / HTTP/1.1 ",
                InvalidRequestLine("space inside the request-target"),
            ),
            (
                b"GET /a b HTTP/1.1",
                InvalidRequestLine("space inside the request-target"),
            ),
            (b"GET /", InvalidRequestLine("no HTTP-version")),
            (b"GET", InvalidRequestLine("no request-target")),
            (b" GET / HTTP/1.1", InvalidMethod),
            (b"G@T / HTTP/1.1", InvalidMethod),
            (b"GET\t/ HTTP/1.1", InvalidRequestLine("no HTTP-version")),
            (b"GET /\tHTTP/1.1", InvalidRequestLine("no HTTP-version")),
            (b"GET / HTTP/2.0", UnsupportedVersion { major: 2, minor: 0 }),
            (b"GET / HTTP/1.1x", InvalidVersion),
            (b"GET / http/1.1", InvalidVersion),
            (b"GET /a#b HTTP/1.1", InvalidTarget("fragment")),
            (b"GET * HTTP/1.1", InvalidTarget("* is only for OPTIONS")),
        ];
        for (line, error) in cases {
            let mut head = line.to_vec();
            head.extend_from_slice(b"\r\nHost: a\r\n\r\n");
            assert_eq!(parse(&head), Err(error.clone()), "{line:?}");
        }
    }

    #[test]
    fn host_rules() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n"),
            Err(HttpError::MissingHost)
        );
        assert!(parse(b"GET / HTTP/1.0\r\n\r\n").is_ok());
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
            Err(HttpError::DuplicateHost)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"),
            Err(HttpError::DuplicateHost)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            Err(HttpError::InvalidHost)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"),
            Err(HttpError::InvalidHost)
        );
        assert!(parse(b"GET http://a/ HTTP/1.1\r\nHost: \r\n\r\n").is_ok());
    }

    #[test]
    fn persistence_and_expectations() {
        let request = |head: &[u8]| parse(head).unwrap();
        assert!(!request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive());
        assert!(
            !request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n")
                .keep_alive()
        );
        assert!(!request(b"GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(request(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(
            request(b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n")
                .expects_continue()
        );
        assert!(!request(b"PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expects_continue());
    }

    #[test]
    fn encode_round_trips_and_refuses_bad_heads() {
        let mut head = RequestHead::new(Method::Post, "/upload");
        head.headers.append("Host", "example.com:8080");
        head.headers.append("Content-Length", "3");
        let bytes = head.encode().unwrap();
        assert_eq!(
            bytes,
            b"POST /upload HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 3\r\n\r\n"
        );
        assert_eq!(parse(&bytes), Ok(head.clone()));

        assert_eq!(
            RequestHead::new(Method::Get, "/").encode(),
            Err(EncodeError::MissingHost)
        );
        let mut bad = RequestHead::new(Method::Get, "/a b");
        bad.headers.append("Host", "a");
        assert!(matches!(bad.encode(), Err(EncodeError::InvalidTarget(_))));
        let mut bad = RequestHead::new(Method::Other("BAD METHOD".into()), "/");
        bad.headers.append("Host", "a");
        assert_eq!(bad.encode(), Err(EncodeError::InvalidMethod));
        head.headers.append("Transfer-Encoding", "chunked");
        assert_eq!(
            head.encode(),
            Err(EncodeError::ContentLengthWithTransferEncoding)
        );
    }
}
