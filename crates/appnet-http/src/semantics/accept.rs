//! Content coding negotiation: which of the codings a server offers a request's
//! `Accept-Encoding` prefers (RFC 9110 §12.5.3: codings with quality values, `*`, `identity`).

/// The offered coding the client accepts with the highest quality (ties: the server's order);
/// `None` when the client accepts none of them, or sent no `Accept-Encoding` at all.
pub fn choose_encoding<'a>(accept_encoding: Option<&str>, offered: &[&'a str]) -> Option<&'a str> {
    let accepted = parse(accept_encoding?);
    let quality_of = |coding: &str| {
        accepted
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(coding))
            .or_else(|| accepted.iter().find(|(name, _)| name == "*"))
            .map_or(0, |&(_, q)| q)
    };
    let mut best: Option<(&str, u16)> = None;
    for &coding in offered {
        let q = quality_of(coding);
        if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((coding, q));
        }
    }
    best.map(|(coding, _)| coding)
}

/// `gzip;q=0.8, br` → `[("gzip", 800), ("br", 1000)]`: qualities in thousandths (§12.4.2).
/// Elements that do not parse are skipped; at most 32 are read.
fn parse(value: &str) -> Vec<(String, u16)> {
    value
        .split(',')
        .take(32)
        .filter_map(|element| {
            let mut parts = element.split(';');
            let coding = parts.next()?.trim().to_ascii_lowercase();
            if coding.is_empty() {
                return None;
            }
            let mut quality = 1000;
            for parameter in parts {
                let (name, value) = parameter.split_once('=')?;
                if name.trim().eq_ignore_ascii_case("q") {
                    quality = parse_quality(value.trim())?;
                }
            }
            Some((coding, quality))
        })
        .collect()
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFERED: &[&str] = &["br", "gzip"];

    #[test]
    fn the_best_accepted_coding_wins() {
        assert_eq!(
            choose_encoding(Some("gzip, deflate, br"), OFFERED),
            Some("br")
        );
        assert_eq!(choose_encoding(Some("gzip"), OFFERED), Some("gzip"));
        assert_eq!(
            choose_encoding(Some("br;q=0.5, gzip;q=0.9"), OFFERED),
            Some("gzip")
        );
        assert_eq!(choose_encoding(Some("*"), OFFERED), Some("br"));
        assert_eq!(
            choose_encoding(Some("*;q=0.1, br;q=0"), OFFERED),
            Some("gzip")
        );
    }

    #[test]
    fn refusals_and_garbage_choose_nothing() {
        assert_eq!(choose_encoding(None, OFFERED), None);
        assert_eq!(choose_encoding(Some("identity"), OFFERED), None);
        assert_eq!(choose_encoding(Some("gzip;q=0, br;q=0"), OFFERED), None);
        assert_eq!(choose_encoding(Some("gzip;q=2"), OFFERED), None);
        assert_eq!(choose_encoding(Some(",,;;=="), OFFERED), None);
    }
}
