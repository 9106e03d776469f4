//! Response heads: writing the head a server sends, parsing the status line and header section a
//! client receives, reason phrases, and which responses carry a body.
//!
//! RFC 9112 §4 (status line), §6.3 items 1–2 and RFC 9110 §6.4.1 (responses without a body),
//! RFC 9110 §15 (status codes and their reason phrases).

use super::error::{EncodeError, HttpError};
use super::head::lines;
use super::headers::{Headers, ObsFold, encode_fields, parse_fields};
use super::message::{Method, Version};
use super::syntax::{is_field_value_byte, parse_decimal};

/// A response head: what a server writes and what a client parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    /// 100..=599 (RFC 9110 §15).
    pub status: u16,
    /// The reason phrase; clients ignore it (RFC 9112 §4), so a received one is decoded lossily.
    pub reason: String,
    pub headers: Headers,
}

impl ResponseHead {
    /// An HTTP/1.1 response with the standard reason phrase and no fields.
    pub fn new(status: u16) -> Self {
        Self {
            version: Version::Http11,
            status,
            reason: reason_phrase(status).to_owned(),
            headers: Headers::new(),
        }
    }

    /// Adds a field, builder style.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// 1xx: an interim response, followed by another response to the same request.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }

    /// RFC 9112 §9.3: whether the connection persists after this response (framing aside).
    pub fn keep_alive(&self) -> bool {
        super::request::keep_alive(self.version, &self.headers)
    }

    /// The head as bytes: `HTTP/1.1 200 OK\r\n`, the fields, and the empty line.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if !(100..=599).contains(&self.status) {
            return Err(EncodeError::InvalidStatus(self.status));
        }
        if !self.reason.bytes().all(is_field_value_byte) {
            return Err(EncodeError::InvalidReason);
        }
        super::headers::check_framing_fields(self.version, &self.headers)?;
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(
            format!("{} {} {}\r\n", self.version, self.status, self.reason).as_bytes(),
        );
        encode_fields(&self.headers, &mut out)?;
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

/// RFC 9112 §6.3 item 1–2, RFC 9110 §6.4.1: responses to HEAD, 1xx, 204 and 304 responses, and
/// 2xx responses to CONNECT (the connection becomes a tunnel) have no body, whatever their
/// fields say. A server must not send one; a client must not read one.
pub fn response_has_body(method: &Method, status: u16) -> bool {
    let no_body = *method == Method::Head
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (*method == Method::Connect && (200..300).contains(&status));
    !no_body
}

/// The reason phrase RFC 9110 §15 gives a status code (or a generic one by class).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => class_phrase(status),
    }
}

/// RFC 9110 §15: a code's first digit names its class.
fn class_phrase(status: u16) -> &'static str {
    match status / 100 {
        1 => "Informational",
        2 => "Success",
        3 => "Redirection",
        4 => "Client Error",
        _ => "Server Error",
    }
}

/// Parses a complete response head (as found by the head scanner). Obs-fold is unfolded, as
/// RFC 9112 §5.2 requires of a user agent.
pub(crate) fn parse_response_head(head: &[u8]) -> Result<ResponseHead, HttpError> {
    let mut head_lines = lines(head);
    let start = head_lines
        .next()
        .ok_or(HttpError::InvalidStatusLine("empty"))?;
    let (version, status, reason) = parse_status_line(start)?;
    let headers = parse_fields(head_lines, ObsFold::Unfold)?;
    Ok(ResponseHead {
        version,
        status,
        reason,
        headers,
    })
}

/// RFC 9112 §4: `HTTP-version SP status-code SP [ reason-phrase ]`. A missing SP after the code
/// (`HTTP/1.1 200`) is tolerated: many servers send it, and it is unambiguous.
fn parse_status_line(line: &[u8]) -> Result<(Version, u16, String), HttpError> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let code = parts
        .next()
        .ok_or(HttpError::InvalidStatusLine("no status code"))?;
    let reason = parts.next().unwrap_or_default();
    let version =
        Version::parse(version).map_err(|_| HttpError::InvalidStatusLine("bad HTTP-version"))?;
    if code.len() != 3 {
        return Err(HttpError::InvalidStatusLine(
            "status code is not three digits",
        ));
    }
    let status = parse_decimal(code).ok_or(HttpError::InvalidStatusLine(
        "status code is not three digits",
    ))?;
    if !(100..=599).contains(&status) {
        return Err(HttpError::InvalidStatusLine(
            "status code outside 100..=599",
        ));
    }
    if !reason.iter().all(|&b| is_field_value_byte(b)) {
        return Err(HttpError::InvalidStatusLine(
            "control character in the reason phrase",
        ));
    }
    let status = u16::try_from(status).map_err(|_| HttpError::InvalidStatusLine("status code"))?;
    Ok((
        version,
        status,
        String::from_utf8_lossy(reason).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_head() {
        let head = ResponseHead::new(404).with_header("Content-Length", "0");
        assert_eq!(
            head.encode().unwrap(),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(parse_response_head(&head.encode().unwrap()), Ok(head));
    }

    #[test]
    fn encode_refuses_bad_heads() {
        assert_eq!(
            ResponseHead::new(99).encode(),
            Err(EncodeError::InvalidStatus(99))
        );
        assert_eq!(
            ResponseHead::new(600).encode(),
            Err(EncodeError::InvalidStatus(600))
        );
        let mut head = ResponseHead::new(200);
        head.reason = "OK\r\nSet-Cookie: x".into();
        assert_eq!(head.encode(), Err(EncodeError::InvalidReason));
        let head = ResponseHead::new(200)
            .with_header("Content-Length", "1")
            .with_header("Transfer-Encoding", "chunked");
        assert_eq!(
            head.encode(),
            Err(EncodeError::ContentLengthWithTransferEncoding)
        );
    }

    #[test]
    fn status_lines() {
        let ok = |line: &[u8]| parse_status_line(line).unwrap();
        assert_eq!(ok(b"HTTP/1.1 200 OK"), (Version::Http11, 200, "OK".into()));
        assert_eq!(
            ok(b"HTTP/1.0 404 Not  Found"),
            (Version::Http10, 404, "Not  Found".into())
        );
        assert_eq!(ok(b"HTTP/1.1 204 "), (Version::Http11, 204, String::new()));
        assert_eq!(ok(b"HTTP/1.1 204"), (Version::Http11, 204, String::new()));
        assert_eq!(ok(b"HTTP/1.1 200 caf\xe9").1, 200);
        for bad in [
            &b"HTTP/1.1"[..],
            b"HTTP/1.1 20 OK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 099 X",
            b"HTTP/1.1 600 X",
            b"HTTP/2 200 OK",
            b"ICY 200 OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/1.1 +20 OK",
            b"HTTP/1.1 200 O\x00K",
        ] {
            assert!(parse_status_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bodies_by_method_and_status() {
        assert!(response_has_body(&Method::Get, 200));
        assert!(!response_has_body(&Method::Head, 200));
        assert!(!response_has_body(&Method::Get, 101));
        assert!(!response_has_body(&Method::Get, 204));
        assert!(!response_has_body(&Method::Get, 304));
        assert!(!response_has_body(&Method::Connect, 200));
        assert!(response_has_body(&Method::Connect, 403));
        assert!(response_has_body(&Method::Post, 205));
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(299), "Success");
        assert_eq!(reason_phrase(599), "Server Error");
    }
}
