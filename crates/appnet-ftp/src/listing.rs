//! What the server sends for LIST, NLST (RFC 959 §4.1.3), MLSD and MLST (RFC 3659 §7), and
//! the timestamps of MDTM (RFC 3659 §3).
//!
//! LIST has no standard format; clients parse the `ls -l` layout Unix servers send, so that
//! is what this writes. MLSD's facts are the machine-readable alternative: `type`, `size`,
//! `modify`, `perm` and `unique`, each ending in `;`, then a space and the name.

use time::OffsetDateTime;

use crate::fs::{Entry, Kind, Meta};

/// The facts a client can ask for with `OPTS MLST`, in the order FEAT lists them.
pub const FACTS: [&str; 5] = ["type", "size", "modify", "perm", "unique"];

/// Which facts MLSD and MLST include (all of them until `OPTS MLST` says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactSet([bool; 5]);

impl Default for FactSet {
    fn default() -> Self {
        FactSet([true; 5])
    }
}

impl FactSet {
    /// From `OPTS MLST type;size;` (unknown names are ignored, RFC 3659 §7.9).
    pub fn from_request(request: &str) -> FactSet {
        let mut set = [false; 5];
        for wanted in request.split(';') {
            if let Some(at) = FACTS.iter().position(|f| f.eq_ignore_ascii_case(wanted)) {
                set[at] = true;
            }
        }
        FactSet(set)
    }

    /// The FEAT line: every fact, with `*` on the ones selected.
    pub fn feature_line(&self) -> String {
        let mut line = String::from("MLST ");
        for (fact, on) in FACTS.iter().zip(self.0) {
            line.push_str(fact);
            if on {
                line.push('*');
            }
            line.push(';');
        }
        line
    }

    /// The selected facts, as `OPTS MLST`'s reply lists them.
    pub fn selected(&self) -> String {
        FACTS
            .iter()
            .zip(self.0)
            .filter(|(_, on)| *on)
            .map(|(fact, _)| format!("{fact};"))
            .collect()
    }
}

/// How a directory entry relates to the listing it is in (MLSD's `type=cdir` and `pdir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Listed,
    ThisDir,
}

/// One MLSD line or MLST fact line, without CRLF: `facts name`.
pub fn mlsx_line(facts: FactSet, meta: &Meta, role: Role, writable: bool, name: &[u8]) -> Vec<u8> {
    let mut line = String::new();
    let [kind, size, modify, perm, unique] = facts.0;
    if kind {
        let kind = match (role, meta.kind) {
            (Role::ThisDir, _) => "cdir",
            (_, Kind::Dir) => "dir",
            (_, Kind::File) => "file",
            (_, Kind::Other) => "OS.unix=special",
        };
        line.push_str(&format!("type={kind};"));
    }
    if size && meta.kind == Kind::File {
        line.push_str(&format!("size={};", meta.size));
    }
    if modify {
        line.push_str(&format!("modify={};", timestamp(meta.modified)));
    }
    if perm {
        line.push_str(&format!("perm={};", permissions(meta.kind, writable)));
    }
    if unique {
        line.push_str(&format!("unique={:x}g{:x};", meta.device, meta.inode));
    }
    let mut bytes = line.into_bytes();
    bytes.push(b' ');
    bytes.extend_from_slice(name);
    bytes
}

/// RFC 3659 §7.5.5's perm letters for what this user may do.
fn permissions(kind: Kind, writable: bool) -> &'static str {
    match (kind, writable) {
        (Kind::Dir, true) => "cdeflmp",
        (Kind::Dir, false) => "el",
        (Kind::File, true) => "adfrw",
        (Kind::File, false) => "r",
        (Kind::Other, _) => "",
    }
}

/// The body of an MLSD reply: the directory itself, then each entry.
pub fn mlsd(facts: FactSet, dir: &Meta, entries: &[Entry], writable: bool) -> Vec<u8> {
    let mut out = mlsx_line(facts, dir, Role::ThisDir, writable, b".");
    out.extend_from_slice(b"\r\n");
    for entry in entries {
        out.extend(mlsx_line(
            facts,
            &entry.meta,
            Role::Listed,
            writable,
            &entry.name,
        ));
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The body of a LIST reply, `ls -l` style; `now` decides between time and year.
pub fn list(entries: &[Entry], now: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 64);
    for entry in entries {
        out.extend(list_line(&entry.meta, &entry.name, now));
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One `ls -l` line: `-rw-r--r-- 1 ftp ftp 1234 Nov 27 10:18 name`.
pub fn list_line(meta: &Meta, name: &[u8], now: i64) -> Vec<u8> {
    let kind = match meta.kind {
        Kind::Dir => 'd',
        Kind::File => '-',
        Kind::Other => '?',
    };
    let mut mode = String::with_capacity(10);
    mode.push(kind);
    for shift in [6, 3, 0] {
        let bits = (meta.mode >> shift) & 7;
        mode.push(if bits & 4 != 0 { 'r' } else { '-' });
        mode.push(if bits & 2 != 0 { 'w' } else { '-' });
        mode.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let mut line = format!(
        "{mode} {:>3} ftp      ftp      {:>12} {} ",
        meta.links,
        meta.size,
        ls_date(meta.modified, now)
    )
    .into_bytes();
    line.extend_from_slice(name);
    line
}

/// `ls`'s date column: `Mon DD HH:MM` within six months of now, else `Mon DD  YYYY`.
fn ls_date(seconds: i64, now: i64) -> String {
    const SIX_MONTHS: i64 = 182 * 24 * 3600;
    let at = utc(seconds);
    let month = &MONTHS[usize::from(u8::from(at.month())) - 1];
    if (now - seconds).abs() < SIX_MONTHS {
        format!(
            "{month} {:>2} {:02}:{:02}",
            at.day(),
            at.hour(),
            at.minute()
        )
    } else {
        format!("{month} {:>2}  {}", at.day(), at.year())
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 3659 §2.3's time-val in UTC: `YYYYMMDDHHMMSS`.
pub fn timestamp(seconds: i64) -> String {
    let at = utc(seconds);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn utc(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, modified: i64) -> Meta {
        Meta {
            kind: Kind::File,
            size,
            modified,
            mode: 0o100644,
            links: 1,
            device: 0x801,
            inode: 0x1234,
        }
    }

    #[test]
    fn list_lines_look_like_ls() {
        let now = 1_795_000_000; // 2026-11-18 11:06:40 UTC
        let recent = list_line(&file(1234, now - 3600), "안녕.txt".as_bytes(), now);
        assert_eq!(
            String::from_utf8(recent).unwrap(),
            "-rw-r--r--   1 ftp      ftp              1234 Nov 18 10:06 안녕.txt"
        );
        let old = list_line(&file(1, 0), b"old", now);
        assert!(String::from_utf8(old).unwrap().contains("Jan  1  1970 old"));
    }

    #[test]
    fn mlsd_facts_end_in_semicolons_and_follow_opts() {
        let line = mlsx_line(FactSet::default(), &file(5, 0), Role::Listed, false, b"a b");
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "type=file;size=5;modify=19700101000000;perm=r;unique=801g1234; a b"
        );
        let facts = FactSet::from_request("size;Type;bogus;");
        assert_eq!(facts.selected(), "type;size;");
        assert_eq!(facts.feature_line(), "MLST type*;size*;modify;perm;unique;");
        let line = mlsx_line(facts, &file(5, 0), Role::ThisDir, true, b".");
        assert_eq!(line, b"type=cdir;size=5; .");
    }

    #[test]
    fn timestamps_are_utc_digits() {
        assert_eq!(timestamp(1_795_000_000), "20261118110640");
    }
}
