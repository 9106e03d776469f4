//! Looking up fields in a `(name, value)` list, the form the cache keeps messages in.
//!
//! RFC 9110 §5.2: field names are case-insensitive, and several lines of a list-based field
//! are equivalent to one line with the values joined by commas (§5.3). Singleton fields (`Date`,
//! `Expires`, `Age`, `ETag`, `Last-Modified`) use their first line, as RFC 9111 §4.2.1 suggests
//! for duplicates.

/// A message's header section in order, as the cache stores it.
pub type Fields = [(String, String)];

/// The first line named `name`, trimmed.
pub fn first<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']))
}

/// All lines named `name`, joined with `", "` (§5.3); `None` if there are none.
pub fn combined(fields: &Fields, name: &str) -> Option<String> {
    let mut lines = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches([' ', '\t']));
    let mut out = lines.next()?.to_owned();
    for line in lines {
        out.push_str(", ");
        out.push_str(line);
    }
    Some(out)
}

/// Whether any line is named `name`.
pub fn has(fields: &Fields, name: &str) -> bool {
    fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

#[cfg(test)]
pub(crate) fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive_and_combine_lines() {
        let f = owned(&[
            ("Cache-Control", "max-age=5"),
            ("date", " Sun, 06 Nov 1994 08:49:37 GMT "),
            ("cache-control", "public"),
        ]);
        assert_eq!(first(&f, "DATE"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(
            combined(&f, "Cache-Control").as_deref(),
            Some("max-age=5, public")
        );
        assert_eq!(combined(&f, "Vary"), None);
        assert!(has(&f, "CACHE-control"));
        assert!(!has(&f, "Age"));
    }
}
