//! What the client reads out of reply text. Every parser scans bounded text (the reply
//! parser already capped its lines) and takes numbers only when they fit their field, so a
//! hostile server gets an error, never a panic or a huge allocation.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::proto::reply::Reply;

use super::ClientError;

fn text(reply: &Reply) -> String {
    reply.lines.join(" ")
}

fn bad(what: &'static str, reply: &Reply) -> ClientError {
    ClientError::BadReply {
        what,
        reply: reply.clone(),
    }
}

/// PASV's `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` RFC 959 §4.1.2 gives no exact
/// text, so, as RFC 1123 §4.1.2.6 advises, the six numbers are looked for anywhere in the
/// reply: the first run of six comma-separated numbers that are each a byte.
pub fn parse_pasv(reply: &Reply) -> Result<SocketAddrV4, ClientError> {
    let text = text(reply);
    let runs = text
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .filter(|run| run.starts_with(|c: char| c.is_ascii_digit()));
    for run in runs {
        let numbers: Vec<Option<u8>> = run
            .split(',')
            .take(6)
            .map(|field| {
                (!field.is_empty() && field.len() <= 3)
                    .then(|| field.parse().ok())
                    .flatten()
            })
            .collect();
        if let [Some(h1), Some(h2), Some(h3), Some(h4), Some(p1), Some(p2)] = numbers[..] {
            let port = u16::from(p1) << 8 | u16::from(p2);
            return Ok(SocketAddrV4::new(Ipv4Addr::new(h1, h2, h3, h4), port));
        }
    }
    Err(bad("PASV", reply))
}

/// EPSV's `229 Entering Extended Passive Mode (|||6446|)` (RFC 2428 §3): in parentheses,
/// three delimiters, the TCP port, a fourth delimiter. The delimiter is any printable
/// character that is not a digit (`|` in practice); the network address is left empty,
/// because the data connection goes to the control connection's peer.
pub fn parse_epsv(reply: &Reply) -> Result<u16, ClientError> {
    let text = text(reply);
    let found = text.match_indices('(').find_map(|(at, _)| {
        let rest = &text[at + 1..];
        let mut chars = rest.chars();
        let d = chars
            .next()
            .filter(|c| c.is_ascii_graphic() && !c.is_ascii_digit())?;
        if chars.next() != Some(d) || chars.next() != Some(d) {
            return None;
        }
        let after = &rest[3 * d.len_utf8()..];
        let digits = after.find(|c: char| !c.is_ascii_digit())?;
        let tail = &after[digits..];
        if !tail.starts_with(d) || !tail[d.len_utf8()..].starts_with(')') || digits > 5 {
            return None;
        }
        after[..digits]
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
    });
    found.ok_or_else(|| bad("EPSV", reply))
}

/// The directory in `257 "/pub/x" is the current directory` (RFC 959 Appendix II): between
/// the first quote and the closing one, with a doubled quote standing for one.
pub fn parse_pwd(reply: &Reply) -> Result<String, ClientError> {
    let text = reply.lines.first().map(String::as_str).unwrap_or_default();
    let Some(open) = text.find('"') else {
        return Err(bad("PWD", reply));
    };
    let mut path = String::new();
    let mut chars = text[open + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                path.push('"');
            } else {
                return Ok(path);
            }
        } else {
            path.push(c);
        }
    }
    Err(bad("PWD", reply))
}

/// SIZE's `213 12345` (RFC 3659 §4.2): the size in octets, in decimal.
pub fn parse_size(reply: &Reply) -> Result<u64, ClientError> {
    let text = reply.lines.last().map(|l| l.trim()).unwrap_or_default();
    let digits = text.split(' ').next().unwrap_or_default();
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("SIZE", reply));
    }
    digits.parse().map_err(|_| bad("SIZE", reply))
}

/// The size many servers announce in a transfer's 150, as in `150 Opening BINARY mode data
/// connection for a.iso (1048576 bytes).` Not standard (RFC 959 leaves the text free), so
/// only a hint for a progress bar: the last `(N bytes)` in the text, if any.
pub fn size_hint(reply: &Reply) -> Option<u64> {
    let text = text(reply);
    let lower = text.to_ascii_lowercase();
    lower.rmatch_indices(" bytes)").find_map(|(end, _)| {
        let open = lower[..end].rfind('(')?;
        let digits = lower[open + 1..end].trim();
        (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    })
}

/// The extensions a server lists in its FEAT reply (RFC 2389 §3.2): one per line, a name and
/// maybe parameters (`MLST type*;size*;modify*;`, `REST STREAM`, `AUTH TLS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Upper-cased name → parameters as sent.
    entries: BTreeMap<String, String>,
}

impl Features {
    /// Reads a 211 reply; any other reply (500 or 502 from a server without FEAT) means none.
    pub fn parse(reply: &Reply) -> Features {
        let mut entries = BTreeMap::new();
        if reply.code == 211 && reply.lines.len() > 2 {
            for line in &reply.lines[1..reply.lines.len() - 1] {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let (name, params) = line.split_once(' ').unwrap_or((line, ""));
                entries.insert(name.to_ascii_uppercase(), params.trim().to_string());
            }
        }
        Features { entries }
    }

    /// Whether `name` is listed (case-insensitive).
    pub fn supports(&self, name: &str) -> bool {
        self.entries.contains_key(&name.to_ascii_uppercase())
    }

    /// The parameters of `name`, if it is listed.
    pub fn params(&self, name: &str) -> Option<&str> {
        self.entries
            .get(&name.to_ascii_uppercase())
            .map(String::as_str)
    }

    /// RFC 3659 §7.8: a server that lists MLST also implements MLSD.
    pub fn machine_listings(&self) -> bool {
        self.supports("MLST") || self.supports("MLSD")
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply::new(code, text)
    }

    #[test]
    fn pasv_addresses_are_found_wherever_the_server_puts_them() {
        let want: SocketAddrV4 = "192.168.1.2:1025".parse().unwrap();
        for text in [
            "Entering Passive Mode (192,168,1,2,4,1).",
            "Entering Passive Mode 192,168,1,2,4,1",
            "=192,168,1,2,4,1",
            "Entering Passive Mode (192,168,1,2,4,1,9).",
        ] {
            assert_eq!(parse_pasv(&reply(227, text)).unwrap(), want, "{text}");
        }
        assert!(parse_pasv(&reply(227, "Entering Passive Mode (256,1,1,1,1,1)")).is_err());
        assert!(parse_pasv(&reply(227, "Entering Passive Mode (1,1,1,1,1)")).is_err());
        assert!(parse_pasv(&reply(227, "Entering Passive Mode")).is_err());
        // A year or a version number before the address does not confuse the scan.
        assert_eq!(
            parse_pasv(&reply(227, "v2,0 Entering Passive Mode (192,168,1,2,4,1)")).unwrap(),
            want
        );
    }

    #[test]
    fn epsv_ports_follow_rfc_2428() {
        let ok = |text| parse_epsv(&reply(229, text)).unwrap();
        assert_eq!(ok("Entering Extended Passive Mode (|||6446|)"), 6446);
        assert_eq!(ok("Entering Extended Passive Mode (!!!6446!)"), 6446);
        assert_eq!(ok("x (y) Entering (|||21|)."), 21);
        for bad in [
            "Entering Extended Passive Mode (|||0|)",
            "Entering Extended Passive Mode (|||65536|)",
            "Entering Extended Passive Mode (||6446|)",
            "Entering Extended Passive Mode (|||6446)",
            "Entering Extended Passive Mode (111 6446 1)",
            "Entering Extended Passive Mode",
        ] {
            assert!(parse_epsv(&reply(229, bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn pwd_quotes_are_undoubled() {
        let pwd = |text| parse_pwd(&reply(257, text)).unwrap();
        assert_eq!(pwd("\"/\" is the current directory"), "/");
        assert_eq!(pwd("\"/usr/dm/\"\"x\"\"\" created."), "/usr/dm/\"x\"");
        assert_eq!(pwd("\"/자료실\""), "/자료실");
        assert!(parse_pwd(&reply(257, "no quotes")).is_err());
        assert!(parse_pwd(&reply(257, "\"unterminated")).is_err());
    }

    #[test]
    fn sizes_and_hints() {
        assert_eq!(parse_size(&reply(213, "1048576")).unwrap(), 1_048_576);
        assert!(parse_size(&reply(213, "-1")).is_err());
        assert!(parse_size(&reply(213, "99999999999999999999999")).is_err());
        let hint = |text| size_hint(&reply(150, text));
        assert_eq!(
            hint("Opening BINARY mode data connection for a (b).iso (1048576 bytes)."),
            Some(1_048_576)
        );
        assert_eq!(hint("Opening data connection (12 Bytes)"), Some(12));
        assert_eq!(hint("Here comes the directory listing."), None);
        assert_eq!(hint("for x (lots of bytes)"), None);
    }

    #[test]
    fn feat_lists_names_and_parameters() {
        let feat = Reply::multiline(
            211,
            vec![
                "Features:".into(),
                "EPSV".into(),
                "MLST type*;size*;modify*;".into(),
                "REST STREAM".into(),
                "utf8".into(),
                "End".into(),
            ],
        );
        let features = Features::parse(&feat);
        assert!(features.supports("epsv"));
        assert!(features.supports("UTF8"));
        assert!(features.machine_listings());
        assert_eq!(features.params("REST"), Some("STREAM"));
        assert!(!Features::parse(&reply(500, "FEAT not understood")).supports("EPSV"));
    }

    proptest! {
        #[test]
        fn reply_text_never_panics(text in "\\PC{0,80}") {
            let r = reply(227, &text);
            let _ = parse_pasv(&r);
            let _ = parse_epsv(&r);
            let _ = parse_pwd(&r);
            let _ = parse_size(&r);
            let _ = size_hint(&r);
        }
    }
}
