//! How long is the body? RFC 9112 §6.1 (Transfer-Encoding), §6.2 (Content-Length) and §6.3
//! (message body length), for requests and for responses.
//!
//! This is where request smuggling is won or lost, so the rules are strict and the choices
//! explicit:
//! - Transfer-Encoding with Content-Length is refused in both directions (§6.3 item 3 permits it
//!   and calls the message "ought to be handled as an error").
//! - Transfer-Encoding in an HTTP/1.0 message is faulty framing (§6.1): refused.
//! - A request's Transfer-Encoding must end in `chunked` (else 400, §6.3 item 4), hold it once
//!   (§6.1), and hold nothing else, since chunked is the only coding we implement (else 501).
//! - A request carries at most one Content-Length value, even a repeated equal one: RFC 9110
//!   §8.6 lets a recipient reject such a message, and refusing is what nginx does. A response
//!   may repeat one value (curl accepts it, and servers that do it exist); differing values are
//!   refused in both directions.

use super::config::ParseConfig;
use super::error::HttpError;
use super::headers::Headers;
use super::message::{Method, Version};
use super::syntax::{is_token, split_token, trim_ows};

/// How the body of one message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (RFC 9112 §6.2).
    Length(u64),
    /// The chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Everything until the server closes the connection (RFC 9112 §6.3 item 8; responses only).
    UntilClose,
}

/// RFC 9112 §6.3 for a request: chunked, Content-Length, or no body (item 6: a request without
/// either has none; it is never read until close).
pub(crate) fn request_body(
    version: Version,
    headers: &Headers,
    config: &ParseConfig,
) -> Result<BodyKind, HttpError> {
    if headers.contains("transfer-encoding") {
        reject_mixed_framing(version, headers)?;
        return match transfer_codings(headers)? {
            Codings::Chunked => Ok(BodyKind::Chunked),
            Codings::ChunkedNotFinal => Err(HttpError::ChunkedNotFinal),
            Codings::ChunkedAfterOthers => Err(HttpError::UnsupportedTransferCoding),
        };
    }
    if headers.content_length_values().count() > 1 {
        return Err(HttpError::DuplicateContentLength);
    }
    length_body(headers, config)
}

/// RFC 9112 §6.3 for a response to `method` with `status`.
pub(crate) fn response_body(
    method: &Method,
    status: u16,
    version: Version,
    headers: &Headers,
    config: &ParseConfig,
) -> Result<BodyKind, HttpError> {
    // Item 1 and 2: these responses end at the empty line whatever their fields say (a HEAD
    // response's Content-Length describes the GET it stands for).
    if !super::response::response_has_body(method, status) {
        return Ok(BodyKind::Empty);
    }
    if headers.contains("transfer-encoding") {
        reject_mixed_framing(version, headers)?;
        return match transfer_codings(headers)? {
            Codings::Chunked => Ok(BodyKind::Chunked),
            // Item 4: in a response, a final coding other than chunked means read until close.
            Codings::ChunkedNotFinal => Ok(BodyKind::UntilClose),
            Codings::ChunkedAfterOthers => Err(HttpError::UnsupportedTransferCoding),
        };
    }
    match headers.content_length()? {
        Some(_) => length_body(headers, config),
        None => Ok(BodyKind::UntilClose),
    }
}

/// Checks shared by both directions when Transfer-Encoding is present.
fn reject_mixed_framing(version: Version, headers: &Headers) -> Result<(), HttpError> {
    if version == Version::Http10 {
        return Err(HttpError::TransferEncodingInHttp10);
    }
    if headers.contains("content-length") {
        return Err(HttpError::ContentLengthWithTransferEncoding);
    }
    Ok(())
}

/// A Content-Length body, checked against the body limit before a byte of it is read.
fn length_body(headers: &Headers, config: &ParseConfig) -> Result<BodyKind, HttpError> {
    match headers.content_length()? {
        None | Some(0) => Ok(BodyKind::Empty),
        Some(n) if n > config.max_body => Err(HttpError::BodyTooLarge {
            max: config.max_body,
        }),
        Some(n) => Ok(BodyKind::Length(n)),
    }
}

/// What the Transfer-Encoding list amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codings {
    /// Exactly `chunked`.
    Chunked,
    /// The last coding is not chunked (or the list is empty).
    ChunkedNotFinal,
    /// Chunked last, after codings we do not implement.
    ChunkedAfterOthers,
}

/// RFC 9112 §6.1: `Transfer-Encoding = #transfer-coding`, `transfer-coding = token *( OWS ";"
/// OWS transfer-parameter )`, names case-insensitive. Every line counts, in order: a second
/// `Transfer-Encoding: identity` line makes chunked not final.
fn transfer_codings(headers: &Headers) -> Result<Codings, HttpError> {
    let mut count = 0usize;
    let mut chunked_seen = false;
    let mut last_is_chunked = false;
    for element in headers.list("transfer-encoding") {
        let is_chunked = coding_is_chunked(element)?;
        if is_chunked && chunked_seen {
            return Err(HttpError::ChunkedTwice);
        }
        chunked_seen |= is_chunked;
        last_is_chunked = is_chunked;
        count += 1;
    }
    Ok(match (last_is_chunked, count) {
        (false, _) => Codings::ChunkedNotFinal,
        (true, 1) => Codings::Chunked,
        (true, _) => Codings::ChunkedAfterOthers,
    })
}

/// Whether one list element names chunked. Chunked takes no parameters: `chunked;x=1` is not a
/// coding anyone sends, so it is refused rather than guessed at.
fn coding_is_chunked(element: &[u8]) -> Result<bool, HttpError> {
    let (name, params) = split_token(element);
    if !is_token(name) {
        return Err(HttpError::InvalidTransferEncoding);
    }
    let params = trim_ows(params);
    if !params.is_empty() && !params.starts_with(b";") {
        return Err(HttpError::InvalidTransferEncoding);
    }
    let chunked = name.eq_ignore_ascii_case(b"chunked");
    if chunked && !params.is_empty() {
        return Err(HttpError::InvalidTransferEncoding);
    }
    Ok(chunked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::headers::{ObsFold, parse_fields};

    fn headers(lines: &[&[u8]]) -> Headers {
        parse_fields(lines.iter().copied(), ObsFold::Reject).unwrap()
    }

    fn request(lines: &[&[u8]]) -> Result<BodyKind, HttpError> {
        request_body(Version::Http11, &headers(lines), &ParseConfig::server())
    }

    #[test]
    fn request_framing() {
        use HttpError::*;
        type Case<'a> = (&'a [&'a [u8]], Result<BodyKind, HttpError>);
        let cases: &[Case] = &[
            (&[], Ok(BodyKind::Empty)),
            (&[b"Content-Length: 0"], Ok(BodyKind::Empty)),
            (&[b"Content-Length: 10"], Ok(BodyKind::Length(10))),
            (&[b"Transfer-Encoding: chunked"], Ok(BodyKind::Chunked)),
            (&[b"Transfer-Encoding: CHUNKED"], Ok(BodyKind::Chunked)),
            (&[b"Transfer-Encoding: ,chunked,"], Ok(BodyKind::Chunked)),
            (&[b"Transfer-Encoding:\tchunked"], Ok(BodyKind::Chunked)),
            (
                &[b"Transfer-Encoding: gzip, chunked"],
                Err(UnsupportedTransferCoding),
            ),
            (
                &[b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"],
                Err(UnsupportedTransferCoding),
            ),
            (&[b"Transfer-Encoding: chunked, gzip"], Err(ChunkedNotFinal)),
            (&[b"Transfer-Encoding: identity"], Err(ChunkedNotFinal)),
            (&[b"Transfer-Encoding: xchunked"], Err(ChunkedNotFinal)),
            (
                &[
                    b"Transfer-Encoding: chunked",
                    b"Transfer-Encoding: identity",
                ],
                Err(ChunkedNotFinal),
            ),
            (&[b"Transfer-Encoding:"], Err(ChunkedNotFinal)),
            (&[b"Transfer-Encoding: chunked, chunked"], Err(ChunkedTwice)),
            (
                &[b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
                Err(ChunkedTwice),
            ),
            (
                &[b"Transfer-Encoding: \"chunked\""],
                Err(InvalidTransferEncoding),
            ),
            (
                &[b"Transfer-Encoding: chunked;q=1"],
                Err(InvalidTransferEncoding),
            ),
            (
                &[b"Transfer-Encoding: chunked x"],
                Err(InvalidTransferEncoding),
            ),
            (
                &[b"Transfer-Encoding: chunked", b"Content-Length: 5"],
                Err(ContentLengthWithTransferEncoding),
            ),
            (
                &[b"Content-Length: 5", b"Transfer-Encoding: chunked"],
                Err(ContentLengthWithTransferEncoding),
            ),
            (
                &[b"Content-Length: 5", b"Content-Length: 5"],
                Err(DuplicateContentLength),
            ),
            (&[b"Content-Length: 5, 5"], Err(DuplicateContentLength)),
            (&[b"Content-Length: 5, 6"], Err(DuplicateContentLength)),
            (&[b"Content-Length: +5"], Err(InvalidContentLength)),
            (
                &[b"Content-Length: 17000000"],
                Err(BodyTooLarge {
                    max: 16 * 1024 * 1024,
                }),
            ),
        ];
        for (lines, expected) in cases {
            assert_eq!(&request(lines), expected, "{lines:?}");
        }
    }

    #[test]
    fn transfer_encoding_in_http10_is_faulty_framing() {
        let fields = headers(&[b"Transfer-Encoding: chunked", b"Content-Length: 3"]);
        assert_eq!(
            request_body(Version::Http10, &fields, &ParseConfig::server()),
            Err(HttpError::TransferEncodingInHttp10)
        );
    }

    fn response(method: Method, status: u16, lines: &[&[u8]]) -> Result<BodyKind, HttpError> {
        response_body(
            &method,
            status,
            Version::Http11,
            &headers(lines),
            &ParseConfig::client(),
        )
    }

    #[test]
    fn response_framing() {
        use HttpError::*;
        let cl = &[&b"Content-Length: 5"[..]][..];
        assert_eq!(response(Method::Head, 200, cl), Ok(BodyKind::Empty));
        assert_eq!(response(Method::Get, 204, cl), Ok(BodyKind::Empty));
        assert_eq!(response(Method::Get, 304, cl), Ok(BodyKind::Empty));
        assert_eq!(response(Method::Get, 100, &[]), Ok(BodyKind::Empty));
        assert_eq!(response(Method::Connect, 200, &[]), Ok(BodyKind::Empty));
        assert_eq!(response(Method::Connect, 407, cl), Ok(BodyKind::Length(5)));
        assert_eq!(response(Method::Get, 200, cl), Ok(BodyKind::Length(5)));
        assert_eq!(
            response(Method::Get, 200, &[b"Content-Length: 5, 5"]),
            Ok(BodyKind::Length(5))
        );
        assert_eq!(
            response(Method::Get, 200, &[b"Content-Length: 5, 6"]),
            Err(ConflictingContentLength)
        );
        assert_eq!(response(Method::Get, 200, &[]), Ok(BodyKind::UntilClose));
        assert_eq!(
            response(Method::Get, 200, &[b"Transfer-Encoding: chunked"]),
            Ok(BodyKind::Chunked)
        );
        assert_eq!(
            response(Method::Get, 200, &[b"Transfer-Encoding: identity"]),
            Ok(BodyKind::UntilClose)
        );
        assert_eq!(
            response(Method::Get, 200, &[b"Transfer-Encoding: gzip, chunked"]),
            Err(UnsupportedTransferCoding)
        );
        assert_eq!(
            response(
                Method::Get,
                200,
                &[b"Transfer-Encoding: chunked", b"Content-Length: 5"]
            ),
            Err(ContentLengthWithTransferEncoding)
        );
        let fields = headers(&[b"Transfer-Encoding: chunked"]);
        assert_eq!(
            response_body(
                &Method::Get,
                200,
                Version::Http10,
                &fields,
                &ParseConfig::client()
            ),
            Err(TransferEncodingInHttp10)
        );
    }
}
