//! The HTML page a static server shows for a directory without an index file, like nginx's
//! `autoindex`: one link per entry, directories first, names escaped for HTML and for URLs.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::path::encode_segment;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// The listing of `url_path` (which ends with `/`), entries sorted directories first, then by name.
pub fn render(
    url_path: &str,
    mut entries: Vec<Entry>,
    format_date: impl Fn(SystemTime) -> String,
) -> String {
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let title = escape_html(url_path);
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n<body>\n<h1>Index of {title}</h1>\n<hr><pre>\n"
    );
    if url_path != "/" {
        page.push_str("<a href=\"../\">../</a>\n");
    }
    for entry in &entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let href = format!("{}{slash}", encode_segment(&entry.name));
        let shown = escape_html(&format!("{}{slash}", entry.name));
        let date = entry.modified.map(&format_date).unwrap_or_default();
        let size = if entry.is_dir {
            "-".to_owned()
        } else {
            entry.size.to_string()
        };
        let _ = writeln!(page, "<a href=\"{href}\">{shown}</a>  {date}  {size}");
    }
    page.push_str("</pre><hr></body></html>\n");
    page
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool) -> Entry {
        Entry {
            name: name.into(),
            is_dir,
            size: 42,
            modified: None,
        }
    }

    #[test]
    fn directories_come_first_and_names_are_escaped() {
        let page = render(
            "/files/",
            vec![
                entry("b.txt", false),
                entry("<script>.txt", false),
                entry("sub", true),
            ],
            |_| String::new(),
        );
        let sub = page.find("href=\"sub/\"").unwrap();
        let b = page.find("href=\"b.txt\"").unwrap();
        assert!(sub < b, "{page}");
        assert!(
            page.contains("href=\"%3Cscript%3E.txt\">&lt;script&gt;.txt</a>"),
            "{page}"
        );
        assert!(page.contains("<a href=\"../\">../</a>"));
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn korean_names_link_percent_encoded() {
        let page = render("/", vec![entry("한국어.txt", false)], |_| String::new());
        assert!(
            page.contains("href=\"%ED%95%9C%EA%B5%AD%EC%96%B4.txt\">한국어.txt</a>"),
            "{page}"
        );
        assert!(!page.contains("../"), "the root has no parent link");
    }
}
