//! Directory listings as they arrive on the data connection: MLSD's fact lines (RFC 3659
//! §7.2, `type=file;size=6;modify=20241127102300; hello.txt`) and, best effort, the LIST
//! formats servers actually send (RFC 959 §4.1.3 leaves LIST's format free): Unix `ls -l`
//! lines, with either `Nov 27 10:23` or ISO dates, and the DOS/IIS layout.
//!
//! [`ListingParser`] takes the bytes as they come and caps the line length, the number of
//! entries and the total size, so a hostile server cannot make the client hold an endless
//! listing. Names stay bytes: a server may use any encoding, and the name must go back in a
//! RETR exactly as it came.

use std::borrow::Cow;

use super::ClientError;

/// A listing line at most (a long path with MLSD facts fits).
pub const MAX_LINE: usize = 8192;
/// Entries in one listing at most.
pub const MAX_ENTRIES: usize = 200_000;
/// Bytes of one listing at most.
pub const MAX_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    /// RFC 3659 machine listing.
    Mlsd,
    /// Whatever LIST sends, read best effort.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Link,
    /// A device, a socket, or a line we could not read.
    Other,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub kind: EntryKind,
    pub size: Option<u64>,
    /// As the listing gives it: `2024-11-27 10:23` (from MLSD's UTC `modify`, RFC 3659 §2.3)
    /// or the server's own text (`Nov 27 10:23`).
    pub modified: Option<String>,
    /// `rwxr-xr-x` from LIST, or MLSD's `perm` fact (`adfr`, RFC 3659 §7.5.5).
    pub permissions: Option<String>,
    /// Where a symbolic link points, when the listing says.
    pub target: Option<Vec<u8>>,
}

impl Entry {
    fn named(name: &[u8], kind: EntryKind) -> Entry {
        Entry {
            name: name.to_vec(),
            kind,
            size: None,
            modified: None,
            permissions: None,
            target: None,
        }
    }

    /// The name for display (invalid UTF-8 shown as U+FFFD).
    pub fn display_name(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// Collects a listing from the data connection's bytes.
#[derive(Debug)]
pub struct ListingParser {
    format: ListingFormat,
    partial: Vec<u8>,
    entries: Vec<Entry>,
    total: usize,
}

impl ListingParser {
    pub fn new(format: ListingFormat) -> ListingParser {
        ListingParser {
            format,
            partial: Vec::new(),
            entries: Vec::new(),
            total: 0,
        }
    }

    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ClientError> {
        self.total = self.total.saturating_add(bytes.len());
        if self.total > MAX_BYTES {
            return Err(ClientError::ListingTooLarge("64 MiB"));
        }
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            if self.partial.len() + end > MAX_LINE {
                return Err(ClientError::ListingTooLarge("a line of 8192 bytes"));
            }
            self.partial.extend_from_slice(&bytes[..end]);
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
            bytes = &bytes[end + 1..];
        }
        if self.partial.len() + bytes.len() > MAX_LINE {
            return Err(ClientError::ListingTooLarge("a line of 8192 bytes"));
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }

    /// The entries, once the data connection has closed (a last line may lack its CRLF).
    pub fn finish(mut self) -> Result<Vec<Entry>, ClientError> {
        let rest = std::mem::take(&mut self.partial);
        self.line(&rest)?;
        Ok(self.entries)
    }

    fn line(&mut self, line: &[u8]) -> Result<(), ClientError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let entry = match self.format {
            ListingFormat::Mlsd => parse_mlsd_line(line),
            ListingFormat::List => parse_list_line(line),
        };
        if let Some(entry) = entry {
            if self.entries.len() >= MAX_ENTRIES {
                return Err(ClientError::ListingTooLarge("200000 entries"));
            }
            self.entries.push(entry);
        }
        Ok(())
    }
}

/// One MLSD line: `fact=value;`… then one space and the name (RFC 3659 §7.2). `None` for the
/// directory itself and its parent (`type=cdir` and `pdir`, §7.5.1), which are not entries.
/// A line without facts (it starts with the space) is a bare name.
pub fn parse_mlsd_line(line: &[u8]) -> Option<Entry> {
    let split = line.iter().position(|&b| b == b' ')?;
    let (facts, name) = (&line[..split], &line[split + 1..]);
    if name.is_empty() {
        return None;
    }
    let mut entry = Entry::named(name, EntryKind::Other);
    for fact in facts.split(|&b| b == b';') {
        let Some(eq) = fact.iter().position(|&b| b == b'=') else {
            continue;
        };
        let key = String::from_utf8_lossy(&fact[..eq]).to_ascii_lowercase();
        let value = &fact[eq + 1..];
        let text = String::from_utf8_lossy(value);
        match key.as_str() {
            "type" => {
                let lower = text.to_ascii_lowercase();
                entry.kind = match lower.as_str() {
                    "file" => EntryKind::File,
                    "dir" => EntryKind::Directory,
                    "cdir" | "pdir" => return None,
                    // RFC 3659 §7.5.1 lets OS.name=type name anything else; servers use
                    // `OS.unix=slink:TARGET` or `OS.unix=symlink` for links.
                    other if other.starts_with("os.unix=slink") || other == "os.unix=symlink" => {
                        if let Some(colon) = value.iter().position(|&b| b == b':') {
                            entry.target = Some(value[colon + 1..].to_vec());
                        }
                        EntryKind::Link
                    }
                    _ => EntryKind::Other,
                };
            }
            "size" | "sizd" if entry.size.is_none() => entry.size = decimal(text.trim()),
            "modify" => entry.modified = mlsd_time(&text),
            "perm" => entry.permissions = Some(text.into_owned()),
            "unix.mode" if entry.permissions.is_none() => {
                entry.permissions = Some(text.into_owned())
            }
            _ => {}
        }
    }
    Some(entry)
}

/// RFC 3659 §2.3's `YYYYMMDDHHMMSS[.sss]` (UTC) as `YYYY-MM-DD HH:MM`.
fn mlsd_time(text: &str) -> Option<String> {
    let digits = text.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{} {}:{}",
        &digits[..4],
        &digits[4..6],
        &digits[6..8],
        &digits[8..10],
        &digits[10..12]
    ))
}

fn decimal(text: &str) -> Option<u64> {
    (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A word of a LIST line and where it ends in the line.
struct Word<'a> {
    text: &'a [u8],
    end: usize,
}

fn words(line: &[u8], at_most: usize) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() && out.len() < at_most {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < line.len() && !line[i].is_ascii_whitespace() {
            i += 1;
        }
        if start < i {
            out.push(Word {
                text: &line[start..i],
                end: i,
            });
        }
    }
    out
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn is_month(word: &[u8]) -> bool {
    word.len() == 3 && MONTHS.iter().any(|m| word.eq_ignore_ascii_case(m))
}

fn all_digits(word: &[u8], lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&word.len()) && word.iter().all(u8::is_ascii_digit)
}

/// `HH:MM` (or `H:MM`).
fn is_clock(word: &[u8]) -> bool {
    match word.iter().position(|&b| b == b':') {
        Some(colon) => all_digits(&word[..colon], 1..=2) && all_digits(&word[colon + 1..], 2..=2),
        None => false,
    }
}

/// `YYYY-MM-DD` (`ls --time-style=long-iso`).
fn is_iso_date(word: &[u8]) -> bool {
    word.len() == 10
        && word[4] == b'-'
        && word[7] == b'-'
        && word
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
}

fn text(word: &[u8]) -> String {
    String::from_utf8_lossy(word).into_owned()
}

/// One LIST line, best effort. `None` for lines that are not entries (`total 12`, `.`, `..`);
/// a line in no layout we know becomes an entry of kind Other named by the whole line, so the
/// user still sees it.
pub fn parse_list_line(line: &[u8]) -> Option<Entry> {
    if line.starts_with(b"total ") && all_digits(line[6..].trim_ascii(), 1..=20) {
        return None;
    }
    let entry = parse_unix(line)
        .or_else(|| parse_dos(line))
        .unwrap_or_else(|| Entry::named(line.trim_ascii(), EntryKind::Other));
    if entry.name == b"." || entry.name == b".." {
        return None;
    }
    Some(entry)
}

/// `drwxr-xr-x 2 0 0 4096 Nov 27 10:23 upload`, `-rw-r--r-- 1 ftp ftp 6 Nov 27 2023 a b.txt`,
/// `lrwxrwxrwx 1 0 0 7 2024-11-27 10:23 latest -> v1.2.3`. The owner and group columns vary
/// (some servers leave the group out), so the date is found first and the size is the word
/// before it; the name is everything after the date's last word and one space, so names with
/// spaces survive.
fn parse_unix(line: &[u8]) -> Option<Entry> {
    let kind = match line.first()? {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Directory,
        b'l' => EntryKind::Link,
        b'b' | b'c' | b'p' | b's' | b'D' => EntryKind::Other,
        _ => return None,
    };
    let ws = words(line, 12);
    let mode = ws.first()?;
    if mode.text.len() < 10 {
        return None;
    }
    // Where the date's words start, and its last word.
    let (date_at, last) = (1..ws.len()).find_map(|i| {
        let next = |k: usize| ws.get(i + k).map(|w| w.text);
        if is_month(ws[i].text)
            && next(1).is_some_and(|d| all_digits(d, 1..=2))
            && next(2).is_some_and(|t| is_clock(t) || all_digits(t, 4..=4))
        {
            Some((i, i + 2))
        } else if is_iso_date(ws[i].text) && next(1).is_some_and(is_clock) {
            Some((i, i + 1))
        } else {
            None
        }
    })?;
    if date_at < 2 {
        return None;
    }
    let size = decimal(&text(ws[date_at - 1].text));
    let start = ws[last].end + 1;
    let rest = line.get(start..).filter(|r| !r.is_empty())?;
    let modified = (date_at..=last)
        .map(|i| text(ws[i].text))
        .collect::<Vec<_>>()
        .join(" ");
    let mut entry = Entry::named(rest, kind);
    if kind == EntryKind::Link
        && let Some(arrow) = find(rest, b" -> ")
    {
        entry.name = rest[..arrow].to_vec();
        entry.target = Some(rest[arrow + 4..].to_vec());
    }
    entry.size = size;
    entry.modified = Some(modified);
    entry.permissions = Some(text(&mode.text[1..10]));
    Some(entry)
}

/// `11-27-24  10:23AM       <DIR>          upload` or `... 1234 a.txt` (IIS, Windows).
fn parse_dos(line: &[u8]) -> Option<Entry> {
    let ws = words(line, 3);
    let [date, clock, third] = ws.as_slice() else {
        return None;
    };
    let date_ok = date.text.len() >= 8
        && date
            .text
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b'-' || *b == b'/');
    let clock_ok = clock.text.len() >= 6
        && is_clock(&clock.text[..clock.text.len() - 2])
        && (clock.text.ends_with(b"AM") || clock.text.ends_with(b"PM"));
    if !date_ok || !clock_ok {
        return None;
    }
    let name = line.get(third.end..)?.trim_ascii_start();
    if name.is_empty() {
        return None;
    }
    let (kind, size) = if third.text.eq_ignore_ascii_case(b"<DIR>") {
        (EntryKind::Directory, None)
    } else {
        (EntryKind::File, Some(decimal(&text(third.text))?))
    };
    let mut entry = Entry::named(name, kind);
    entry.size = size;
    entry.modified = Some(format!("{} {}", text(date.text), text(clock.text)));
    Some(entry)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn listing(format: ListingFormat, wire: &[u8]) -> Vec<Entry> {
        let mut parser = ListingParser::new(format);
        parser.feed(wire).unwrap();
        parser.finish().unwrap()
    }

    #[test]
    fn mlsd_facts_from_rfc_3659() {
        // RFC 3659 §7.7.3's example, shortened.
        let wire = b"type=cdir;sizd=4096;modify=19990929011440;perm=fle; /\r\n\
type=pdir;modify=19990929011440;perm=fle; ..\r\n\
Type=file;Size=25730;Modify=19940728095854;Perm=; capmux.tar.z\r\n\
type=dir;sizd=512;modify=19990929011440;perm=fle; src\r\n\
type=OS.unix=slink:/etc/x;modify=19990929011440; link\r\n\
type=file;size=6;modify=20241127102300.123; \xeb\xb3\xb4\xea\xb3\xa0\xec\x84\x9c with space.txt\r\n";
        let entries = listing(ListingFormat::Mlsd, wire);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].name, b"capmux.tar.z");
        assert_eq!(entries[0].kind, EntryKind::File);
        assert_eq!(entries[0].size, Some(25730));
        assert_eq!(entries[0].modified.as_deref(), Some("1994-07-28 09:58"));
        assert_eq!(entries[1].kind, EntryKind::Directory);
        assert_eq!(entries[2].kind, EntryKind::Link);
        assert_eq!(entries[2].target.as_deref(), Some(&b"/etc/x"[..]));
        assert_eq!(entries[3].display_name(), "보고서 with space.txt");
    }

    #[test]
    fn unix_list_lines() {
        let wire = "total 12\r\n\
drwxr-xr-x    2 0        0            4096 Nov 27 10:23 upload\r\n\
-rw-r--r--    1 0        0               6 Nov 27  2023 a  b.txt\r\n\
-rw-r--r--    1 ftp             1048576 Jan  1 00:00 no-group.bin\r\n\
lrwxrwxrwx 1 root root 7 2024-11-27 10:23 latest -> v1.2.3\r\n\
-rw-r--r-- 1 0 0 12 Nov 27 10:23 보고서.txt\n\
drwxr-xr-x 2 0 0 4096 Nov 27 10:23 .\r\n";
        let entries = listing(ListingFormat::List, wire.as_bytes());
        assert_eq!(entries.len(), 5, "{entries:#?}");
        assert_eq!(entries[0].name, b"upload");
        assert_eq!(entries[0].kind, EntryKind::Directory);
        assert_eq!(entries[0].modified.as_deref(), Some("Nov 27 10:23"));
        assert_eq!(entries[0].permissions.as_deref(), Some("rwxr-xr-x"));
        assert_eq!(entries[1].name, b"a  b.txt");
        assert_eq!(entries[1].size, Some(6));
        assert_eq!(entries[1].modified.as_deref(), Some("Nov 27 2023"));
        assert_eq!(entries[2].name, b"no-group.bin");
        assert_eq!(entries[2].size, Some(1_048_576));
        assert_eq!(entries[3].name, b"latest");
        assert_eq!(entries[3].target.as_deref(), Some(&b"v1.2.3"[..]));
        assert_eq!(entries[3].modified.as_deref(), Some("2024-11-27 10:23"));
        assert_eq!(entries[4].display_name(), "보고서.txt");
    }

    #[test]
    fn dos_list_lines_and_unknown_ones() {
        let wire = b"11-27-24  10:23AM       <DIR>          old files\r\n\
11-27-24  01:05PM                 1234 a.txt\r\n\
something else entirely\r\n";
        let entries = listing(ListingFormat::List, wire);
        assert_eq!(entries[0].name, b"old files");
        assert_eq!(entries[0].kind, EntryKind::Directory);
        assert_eq!(entries[1].size, Some(1234));
        assert_eq!(entries[1].kind, EntryKind::File);
        assert_eq!(entries[2].kind, EntryKind::Other);
        assert_eq!(entries[2].name, b"something else entirely");
    }

    #[test]
    fn listings_are_bounded() {
        let mut parser = ListingParser::new(ListingFormat::List);
        assert!(matches!(
            parser.feed(&vec![b'x'; MAX_LINE + 1]),
            Err(ClientError::ListingTooLarge(_))
        ));
        let mut parser = ListingParser::new(ListingFormat::Mlsd);
        let line = b"type=file; a\r\n";
        let mut result = Ok(());
        for _ in 0..=MAX_ENTRIES {
            result = parser.feed(line);
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }

    proptest! {
        #[test]
        fn any_listing_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
            for format in [ListingFormat::List, ListingFormat::Mlsd] {
                let mut parser = ListingParser::new(format);
                let cut = cut.min(bytes.len());
                let _ = parser.feed(&bytes[..cut]);
                let _ = parser.feed(&bytes[cut..]);
                let _ = parser.finish();
            }
        }

        #[test]
        fn unix_names_survive_whatever_they_hold(name in "[^\\r\\n]{1,30}") {
            prop_assume!(!name.starts_with(' ') && name != "." && name != "..");
            let line = format!("-rw-r--r--    1 0        0               6 Nov 27 10:23 {name}");
            let entry = parse_list_line(line.as_bytes()).unwrap();
            prop_assert_eq!(entry.name, name.as_bytes().to_vec());
        }
    }
}
