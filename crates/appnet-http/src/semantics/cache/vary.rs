//! Secondary cache keys, RFC 9111 §4.1: `Vary` (RFC 9110 §12.5.5) and matching the request
//! header values a stored response was selected by.
//!
//! Values match after normalisation (§4.1 allows "adding or removing whitespace where allowed
//! in the field's syntax" and combining lines): list elements are split at commas outside
//! quoted strings, trimmed, empty elements dropped, runs of whitespace outside quotes collapsed
//! to one space, and rejoined with `,`. A field absent from both requests matches; absent from
//! one only, it does not.

use super::fields::{self, Fields};
use crate::semantics::lex::{MAX_FIELD_LEN, is_tchar, split_list};

/// More field names than this in `Vary` is treated as `Vary: *`: a response that selective
/// is not worth keying on.
pub const MAX_VARY_FIELDS: usize = 32;

/// A parsed `Vary` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vary {
    /// `*` (anywhere in the list): no later request matches.
    Any,
    /// Field names, lowercased, deduplicated, in order.
    Names(Vec<String>),
}

/// Parses `Vary = #( "*" / field-name )`. Malformed names, or too many, also yield
/// [`Vary::Any`]: not knowing what a response varies on means it must not be reused.
pub fn parse_vary(value: &str) -> Vary {
    if value.len() > MAX_FIELD_LEN {
        return Vary::Any;
    }
    let mut names: Vec<String> = Vec::new();
    for element in split_list(value) {
        if element == "*" || !element.bytes().all(is_tchar) || names.len() == MAX_VARY_FIELDS {
            return Vary::Any;
        }
        let name = element.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Vary::Names(names)
}

/// The varying request values a stored response must remember: for each name in the
/// response's `Vary`, the request's normalised value (or `None` if it sent none). `None`
/// overall for `Vary: *`.
pub fn varying_values(
    response_headers: &Fields,
    request_headers: &Fields,
) -> Option<Vec<(String, Option<String>)>> {
    let Some(vary) = fields::combined(response_headers, "vary") else {
        return Some(Vec::new());
    };
    match parse_vary(&vary) {
        Vary::Any => None,
        Vary::Names(names) => Some(
            names
                .into_iter()
                .map(|name| {
                    let value = request_value(request_headers, &name);
                    (name, value)
                })
                .collect(),
        ),
    }
}

/// §4.1: whether a new request's headers match the values a stored response was selected by.
/// `stored_vary` is the stored response's `Vary` value (if any).
pub fn vary_matches(
    stored_vary: Option<&str>,
    stored_values: &[(String, Option<String>)],
    request_headers: &Fields,
) -> bool {
    let names = match stored_vary.map(parse_vary) {
        None => return true,
        Some(Vary::Any) => return false,
        Some(Vary::Names(names)) => names,
    };
    names.iter().all(|name| {
        let stored = stored_values
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref());
        stored == request_value(request_headers, name).as_deref()
    })
}

/// A request field's lines, combined and normalised.
fn request_value(headers: &Fields, name: &str) -> Option<String> {
    fields::combined(headers, name).map(|v| normalize_field_value(&v))
}

/// The normalisation described in the module docs.
pub fn normalize_field_value(value: &str) -> String {
    split_list(value)
        .into_iter()
        .map(collapse_whitespace)
        .collect::<Vec<_>>()
        .join(",")
}

/// Collapses runs of SP/HTAB outside quoted strings into one SP.
fn collapse_whitespace(element: &str) -> String {
    let mut out = String::with_capacity(element.len());
    let mut in_quotes = false;
    let mut escaped = false;
    let mut pending_space = false;
    for c in element.chars() {
        if !in_quotes && (c == ' ' || c == '\t') {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::cache::fields::owned;

    #[test]
    fn parses_names_and_star() {
        assert_eq!(
            parse_vary("Accept-Encoding, accept-encoding,  User-Agent"),
            Vary::Names(vec!["accept-encoding".into(), "user-agent".into()])
        );
        assert_eq!(parse_vary("*"), Vary::Any);
        assert_eq!(parse_vary("Accept, *"), Vary::Any);
        assert_eq!(parse_vary("bad name"), Vary::Any);
        assert_eq!(parse_vary(""), Vary::Names(vec![]));
        let many = (0..=MAX_VARY_FIELDS)
            .map(|i| format!("x-{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse_vary(&many), Vary::Any);
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_field_value(" gzip ,  br"), "gzip,br");
        assert_eq!(normalize_field_value("gzip,br"), "gzip,br");
        assert_eq!(
            normalize_field_value("text/html;  q=0.9"),
            "text/html; q=0.9"
        );
        assert_eq!(normalize_field_value("\"a  b\" ,c"), "\"a  b\",c");
        assert_eq!(normalize_field_value("a,,b,"), "a,b");
    }

    fn stored(vary: &[(&str, &str)], req: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        varying_values(&owned(vary), &owned(req)).unwrap()
    }

    #[test]
    fn matching_after_whitespace_normalisation_and_line_combining() {
        let values = stored(
            &[("Vary", "Accept-Encoding")],
            &[("Accept-Encoding", "gzip, br")],
        );
        let same = owned(&[("accept-encoding", "gzip"), ("Accept-Encoding", " br")]);
        assert!(vary_matches(Some("Accept-Encoding"), &values, &same));
        let other = owned(&[("Accept-Encoding", "gzip")]);
        assert!(!vary_matches(Some("Accept-Encoding"), &values, &other));
    }

    #[test]
    fn absent_matches_only_absent() {
        let values = stored(&[("Vary", "Accept-Language")], &[]);
        assert_eq!(values, vec![("accept-language".to_owned(), None)]);
        assert!(vary_matches(Some("Accept-Language"), &values, &owned(&[])));
        let with = owned(&[("Accept-Language", "fr")]);
        assert!(!vary_matches(Some("Accept-Language"), &values, &with));
    }

    #[test]
    fn star_never_matches() {
        assert!(varying_values(&owned(&[("Vary", "*")]), &[]).is_none());
        assert!(!vary_matches(Some("*"), &[], &[]));
        assert!(!vary_matches(Some("Accept, *"), &[], &[]));
    }

    #[test]
    fn no_vary_always_matches() {
        assert!(vary_matches(None, &[], &owned(&[("Accept", "x")])));
    }

    #[test]
    fn multiple_names_must_all_match() {
        let req = [("Accept", "text/html"), ("Accept-Language", "en")];
        let values = stored(&[("Vary", "Accept, Accept-Language")], &req);
        let vary = Some("Accept, Accept-Language");
        assert!(vary_matches(vary, &values, &owned(&req)));
        let changed = [("Accept", "text/html"), ("Accept-Language", "de")];
        assert!(!vary_matches(vary, &values, &owned(&changed)));
    }
}
