//! The request-target and the Host field: RFC 9112 §3.2 (origin-form, absolute-form,
//! authority-form, asterisk-form and which methods may use each), RFC 9112 §3.2 and RFC 9110
//! §7.2 (Host), with RFC 3986 §3.2 for the authority grammar.
//!
//! Policy: a target is visible ASCII only (no SP, controls or raw UTF-8: clients percent-encode
//! them), holds no `#` (a fragment is never sent, RFC 9110 §4.2.5) and every `%` starts a valid
//! pct-encoding, so later decoding cannot disagree with us. Other characters RFC 3986 calls
//! unwise (`"`, `{`, `|`, ...) are let through, as nginx does. Userinfo in an absolute-form target
//! is refused (RFC 9110 §4.2.4).

use std::net::Ipv6Addr;

use super::error::HttpError;
use super::message::Method;
use super::syntax::is_vchar;

/// RFC 9112 §3.2: the four forms of request-target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`, the usual form.
    Origin,
    /// `http://host/path`, sent to proxies.
    Absolute,
    /// `host:port`, CONNECT only.
    Authority,
    /// `*`, OPTIONS only.
    Asterisk,
}

/// Checks `target` for use with `method` and says which form it is.
pub fn check_target(method: &Method, target: &[u8]) -> Result<TargetForm, HttpError> {
    if target.is_empty() {
        return Err(HttpError::InvalidTarget("empty"));
    }
    if !target.iter().all(|&b| is_vchar(b)) {
        return Err(HttpError::InvalidTarget(
            "whitespace, control or non-ASCII byte",
        ));
    }
    if target.contains(&b'#') {
        return Err(HttpError::InvalidTarget("fragment"));
    }
    if !percent_encoding_ok(target) {
        return Err(HttpError::InvalidTarget("malformed percent-encoding"));
    }
    if *method == Method::Connect {
        // RFC 9112 §3.2.3: CONNECT uses authority-form, and only it does.
        return authority_ok(target, true)
            .then_some(TargetForm::Authority)
            .ok_or(HttpError::InvalidTarget("CONNECT needs host:port"));
    }
    match target {
        b"*" if *method == Method::Options => Ok(TargetForm::Asterisk),
        b"*" => Err(HttpError::InvalidTarget("* is only for OPTIONS")),
        [b'/', ..] => Ok(TargetForm::Origin),
        _ if absolute_ok(target) => Ok(TargetForm::Absolute),
        _ => Err(HttpError::InvalidTarget(
            "neither origin-form nor absolute-form",
        )),
    }
}

/// RFC 9112 §3.2: a Host value is `uri-host [ ":" port ]`, or empty when the target URI has no
/// authority.
pub fn host_ok(value: &[u8]) -> bool {
    value.is_empty() || (percent_encoding_ok(value) && authority_ok(value, false))
}

/// RFC 3986 §2.1: every `%` is followed by two hex digits.
fn percent_encoding_ok(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == b'%') {
        let Some([a, b]) = rest.get(at + 1..at + 3) else {
            return false;
        };
        if !a.is_ascii_hexdigit() || !b.is_ascii_hexdigit() {
            return false;
        }
        rest = rest.get(at + 3..).unwrap_or_default();
    }
    true
}

/// RFC 3986 §3: `scheme "://" authority path-abempty [ "?" query ]`, with a non-empty host
/// (RFC 9110 §4.2.1) and no userinfo (RFC 9110 §4.2.4).
fn absolute_ok(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let (scheme, rest) = target.split_at_checked(colon).unwrap_or_default();
    let Some(rest) = rest.strip_prefix(b"://") else {
        return false;
    };
    let authority_end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or_default();
    scheme_ok(scheme) && !authority.is_empty() && authority_ok(authority, false)
}

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn scheme_ok(scheme: &[u8]) -> bool {
    let Some((first, rest)) = scheme.split_first() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && rest
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// RFC 3986 §3.2: `host [ ":" port ]` without userinfo; the host is not empty.
fn authority_ok(authority: &[u8], port_required: bool) -> bool {
    let (host, port) = split_host_port(authority);
    let port_ok = match port {
        None => !port_required,
        Some(port) => port_number_ok(port, port_required),
    };
    port_ok && host_part_ok(host)
}

/// Splits at the colon after the host; an IP-literal's own colons are inside its brackets.
fn split_host_port(authority: &[u8]) -> (&[u8], Option<&[u8]>) {
    let search_from = if authority.starts_with(b"[") {
        authority
            .iter()
            .position(|&b| b == b']')
            .unwrap_or(authority.len())
    } else {
        0
    };
    let colon = authority
        .get(search_from..)
        .and_then(|rest| rest.iter().position(|&b| b == b':'))
        .map(|at| at + search_from);
    match colon {
        Some(at) => (
            authority.get(..at).unwrap_or_default(),
            authority.get(at + 1..),
        ),
        None => (authority, None),
    }
}

/// RFC 3986 §3.2.3: `port = *DIGIT`; we also want it to be a TCP port. An empty port is allowed
/// by the grammar (`host:`) except where one is required.
fn port_number_ok(port: &[u8], required: bool) -> bool {
    if port.is_empty() {
        return !required;
    }
    port.len() <= 5
        && port.iter().all(u8::is_ascii_digit)
        && super::syntax::parse_decimal(port).is_some_and(|p| p <= 65535)
}

/// RFC 3986 §3.2.2: `host = IP-literal / IPv4address / reg-name` (IPv4 is a reg-name lexically).
fn host_part_ok(host: &[u8]) -> bool {
    match host {
        [] => false,
        [b'[', inner @ .., b']'] => ip_literal_ok(inner),
        _ => host.iter().all(|&b| is_reg_name_byte(b)),
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (pct-encoding checked separately).
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b)
}

/// `IP-literal = "[" ( IPv6address / IPvFuture ) "]"`.
fn ip_literal_ok(inner: &[u8]) -> bool {
    if let Some(future) = inner
        .strip_prefix(b"v")
        .or_else(|| inner.strip_prefix(b"V"))
    {
        return ipv_future_ok(future);
    }
    std::str::from_utf8(inner).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )` (after the "v").
fn ipv_future_ok(future: &[u8]) -> bool {
    let Some(dot) = future.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (version, rest) = future.split_at_checked(dot).unwrap_or_default();
    let rest = rest.get(1..).unwrap_or_default();
    !version.is_empty()
        && version.iter().all(u8::is_ascii_hexdigit)
        && !rest.is_empty()
        && rest
            .iter()
            .all(|&b| b != b'%' && (b == b':' || is_reg_name_byte(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_forms() {
        assert_eq!(check_target(&Method::Get, b"/"), Ok(TargetForm::Origin));
        assert_eq!(
            check_target(&Method::Get, b"/a/b?c=d&e=%20"),
            Ok(TargetForm::Origin)
        );
        assert_eq!(
            check_target(&Method::Get, b"//double"),
            Ok(TargetForm::Origin)
        );
        assert_eq!(
            check_target(&Method::Get, b"http://example.com"),
            Ok(TargetForm::Absolute)
        );
        assert_eq!(
            check_target(&Method::Post, b"https://example.com:8443/x?y"),
            Ok(TargetForm::Absolute)
        );
        assert_eq!(
            check_target(&Method::Get, b"http://[::1]:80/"),
            Ok(TargetForm::Absolute)
        );
        assert_eq!(
            check_target(&Method::Get, b"http://192.0.2.1?q"),
            Ok(TargetForm::Absolute)
        );
        assert_eq!(
            check_target(&Method::Connect, b"example.com:443"),
            Ok(TargetForm::Authority)
        );
        assert_eq!(
            check_target(&Method::Connect, b"[2001:db8::1]:443"),
            Ok(TargetForm::Authority)
        );
        assert_eq!(
            check_target(&Method::Options, b"*"),
            Ok(TargetForm::Asterisk)
        );
        assert_eq!(check_target(&Method::Options, b"/"), Ok(TargetForm::Origin));
    }

    #[test]
    fn invalid_targets() {
        let cases: &[(Method, &[u8])] = &[
            (Method::Get, b""),
            (Method::Get, b"/a b"),
            (Method::Get, b"/a\tb"),
            (Method::Get, b"/caf\xc3\xa9"),
            (Method::Get, b"/a#frag"),
            (Method::Get, b"/%zz"),
            (Method::Get, b"/%4"),
            (Method::Get, b"*"),
            (Method::Get, b"example.com:80"),
            (Method::Get, b"relative/path"),
            (Method::Get, b"http://"),
            (Method::Get, b"http:///path"),
            (Method::Get, b"http://user:pass@example.com/"),
            (Method::Get, b"1http://example.com/"),
            (Method::Get, b"http://example.com:99999/"),
            (Method::Get, b"http://[::zz]/"),
            (Method::Connect, b"/"),
            (Method::Connect, b"example.com"),
            (Method::Connect, b"example.com:"),
            (Method::Connect, b"*"),
            (Method::Options, b"**"),
        ];
        for (method, target) in cases {
            assert!(check_target(method, target).is_err(), "{method} {target:?}");
        }
    }

    #[test]
    fn host_values() {
        for good in [
            &b""[..],
            b"example.com",
            b"example.com:8080",
            b"EXAMPLE.com:",
            b"192.0.2.1",
            b"[::1]",
            b"[::1]:80",
            b"[v1.x:y]",
            b"xn--nxasmq6b.example",
            b"a%41b",
        ] {
            assert!(host_ok(good), "{good:?}");
        }
        for bad in [
            &b"a b"[..],
            b"a/b",
            b"user@host",
            b"host:80:80",
            b"host:x",
            b"[::1",
            b"[nope]",
            b"host:123456",
            b"%zz",
            b":80",
        ] {
            assert!(!host_ok(bad), "{bad:?}");
        }
    }
}
