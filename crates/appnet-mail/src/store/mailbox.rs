//! One Maildir folder as an IMAP mailbox (RFC 3501 §2.3.1.1): messages keep a UID for as long
//! as UIDVALIDITY stays the same, across restarts and between sessions.
//!
//! On disk, beside `tmp/`, `new/` and `cur/`:
//! - `appnet-uidlist`: the first line `appnet-uidlist 1 V<uidvalidity> N<uidnext>`, then a
//!   line `<uid> <base name>` per message (the base name is a file's name before `:`).
//! - `dovecot-keywords`: `<index> <keyword>` lines; keyword `index` is the letter `a`+index
//!   in file names (Dovecot's own convention, so both servers read the same flags).
//!
//! Every change that touches the UID list happens under an exclusive `flock` on
//! `appnet-uidlist.lock`, so sessions in this process and other processes never hand out the
//! same UID twice. Delivered mail lands in `new/`; a sync moves it to `cur/` with an empty
//! flag set and gives it the next UID, in arrival order.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::flags::Flags;

const UIDLIST: &str = "appnet-uidlist";
const UIDLIST_HEADER: &str = "appnet-uidlist 1";
const LOCK: &str = "appnet-uidlist.lock";
const KEYWORDS: &str = "dovecot-keywords";
/// Maildir has 26 keyword letters.
const MAX_KEYWORDS: usize = 26;

/// One message as the mailbox knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub uid: u32,
    /// The file's name before `:`: stable while flags change.
    pub base: String,
    pub flags: Flags,
    /// IMAP's INTERNALDATE: when the message arrived (the file's modification time).
    pub internal_date: SystemTime,
    /// RFC822.SIZE: the file's length in octets.
    pub size: u64,
    /// The file's current name in `cur/`.
    file_name: String,
}

/// A Maildir folder with its UIDs, as of the last [`Mailbox::sync`].
#[derive(Debug)]
pub struct Mailbox {
    dir: PathBuf,
    uidvalidity: u32,
    uidnext: u32,
    messages: Vec<MessageInfo>,
    keywords: Vec<String>,
    /// The folder's modification times at the last sync: while they stay the same, a sync
    /// has nothing to read.
    stamps: Option<Stamps>,
    /// Where each message is in `messages`, by base name.
    index: HashMap<String, usize>,
    /// What every session of this process has changed in this folder, and how far this
    /// session has caught up with it.
    shared: Arc<Mutex<Shared>>,
    generation: u64,
    /// When this session last read the folder itself.
    last_read: std::time::Instant,
    /// The stamp `new/` had when this session last found it empty.
    empty_new: Option<Stamp>,
}

/// The longest a session goes on the log alone. A program outside this process that changes
/// a file within the same clock tick as a logged change leaves the stamps as logged; reading
/// the folder at least this often bounds how long such a change goes unseen.
const MAX_LOG_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// One in-process change to a folder, as the sessions that did not make it apply it.
#[derive(Debug, Clone)]
enum Change {
    /// A flag change: the message's file has this new name.
    Renamed {
        base: String,
        file_name: String,
    },
    Added(MessageInfo),
    Removed {
        base: String,
    },
}

/// The changes this process made to one folder since the last full read by any session, and
/// the folder's stamps after the latest: while the stamps on disk are those, nothing outside
/// this process has changed `cur/` or the UID list, and a session can catch up from the log
/// instead of reading the directory. Every change is made under the folder's lock, so the log
/// and the stamps agree.
#[derive(Debug, Default)]
struct Shared {
    generation: u64,
    /// The generation the log starts after; a session behind it reads the folder.
    base: u64,
    log: Vec<(u64, Change)>,
    stamps: Option<(Stamp, Stamp)>,
}

/// Log entries kept at most; a session further behind reads the folder.
const MAX_LOG: usize = 4096;

/// A file's modification time and length.
type Stamp = (SystemTime, u64);

/// What tells a sync whether anything changed: `cur/` and `new/` change with every delivery,
/// flag change (a rename) and expunge; the UID list with every new UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamps {
    cur: Stamp,
    new: Stamp,
    uidlist: Stamp,
}

impl Stamps {
    fn read(dir: &Path) -> io::Result<Stamps> {
        let (cur, uidlist) = folder_stamps(dir)?;
        Ok(Stamps {
            cur,
            new: stamp(&dir.join("new"))?,
            uidlist,
        })
    }

    /// File systems keep times in clock ticks: two changes within one tick leave the same
    /// time. Stamps are trusted only once every one of them is a second old.
    fn settled(&self) -> bool {
        [self.cur, self.new, self.uidlist]
            .iter()
            .all(|(time, _)| settled(*time))
    }
}

/// Whether a modification time is old enough (a second) that a later change must differ.
fn settled(time: SystemTime) -> bool {
    SystemTime::now()
        .checked_sub(std::time::Duration::from_secs(1))
        .is_some_and(|limit| time < limit)
}

/// The stamps of what only changes under the folder's lock: `cur/` and the UID list.
fn folder_stamps(dir: &Path) -> io::Result<(Stamp, Stamp)> {
    Ok((stamp(&dir.join("cur"))?, uidlist_stamp(dir)))
}

fn uidlist_stamp(dir: &Path) -> Stamp {
    stamp(&dir.join(UIDLIST)).unwrap_or((UNIX_EPOCH, 0))
}

/// The change log every session of this process shares for the folder at `dir`.
fn shared_of(dir: &Path) -> Arc<Mutex<Shared>> {
    static LOGS: std::sync::OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<Shared>>>>> =
        std::sync::OnceLock::new();
    let mut logs = match LOGS.get_or_init(Mutex::default).lock() {
        Ok(logs) => logs,
        Err(poisoned) => poisoned.into_inner(),
    };
    logs.entry(dir.to_path_buf()).or_default().clone()
}

fn stamp(path: &Path) -> io::Result<Stamp> {
    let meta = fs::metadata(path)?;
    Ok((meta.modified().unwrap_or(UNIX_EPOCH), meta.len()))
}

/// What a sync found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// UIDs of messages taken from `new/`: `\Recent` for the session that synced.
    pub recent: Vec<u32>,
}

impl Mailbox {
    /// Opens the Maildir at `dir` (making its directories and UID list if missing) and syncs.
    pub fn open(dir: &Path) -> io::Result<Mailbox> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        // What another session last read spares this one reading the folder.
        let snapshot = snapshot_of(dir);
        let mut mailbox = Mailbox {
            dir: dir.to_path_buf(),
            uidvalidity: snapshot.uidvalidity,
            uidnext: snapshot.uidnext.max(1),
            messages: snapshot.messages,
            keywords: snapshot.keywords,
            stamps: None,
            index: HashMap::new(),
            shared: shared_of(dir),
            generation: snapshot.generation,
            last_read: std::time::Instant::now(),
            empty_new: None,
        };
        mailbox.rebuild_index();
        mailbox.sync()?;
        Ok(mailbox)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    pub fn uidnext(&self) -> u32 {
        self.uidnext
    }

    /// The messages in UID order.
    pub fn messages(&self) -> &[MessageInfo] {
        &self.messages
    }

    pub fn get(&self, uid: u32) -> Option<&MessageInfo> {
        self.messages
            .binary_search_by_key(&uid, |m| m.uid)
            .ok()
            .map(|at| &self.messages[at])
    }

    /// The keywords this mailbox has names for (IMAP's FLAGS and PERMANENTFLAGS list them).
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// Rereads the folder: takes new mail from `new/`, gives it UIDs, and notices what other
    /// sessions changed or removed.
    pub fn sync(&mut self) -> io::Result<Synced> {
        let before = Stamps::read(&self.dir)?;
        if self.stamps == Some(before) && before.settled() {
            return Ok(Synced::default());
        }
        let _lock = self.lock()?;
        if self.catch_up()? {
            return Ok(Synced::default());
        }
        let mut list = UidList::read(&self.dir)?;
        self.keywords = read_keywords(&self.dir)?;
        let mut synced = Synced::default();
        let mut arrivals = Vec::new();
        for entry in fs::read_dir(self.dir.join("new"))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let base = base_of(&name).to_string();
            let target = format!("{base}:2,");
            match fs::rename(entry.path(), self.dir.join("cur").join(&target)) {
                Ok(()) => arrivals.push(base),
                // Another session took it first.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        // Known messages are matched by base name: a rename is a flag change, read from the
        // new name; only messages new to this session cost a `stat`.
        let mut seen = vec![false; self.messages.len()];
        let mut fresh: Vec<(String, String)> = Vec::new();
        let keywords = &self.keywords;
        for entry in fs::read_dir(self.dir.join("cur"))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let base = base_of(&name);
            match self.index.get(base) {
                Some(&at) if self.messages[at].uid == list.uids.get(base).copied().unwrap_or(0) => {
                    seen[at] = true;
                    let known = &mut self.messages[at];
                    if known.file_name != name {
                        known.flags =
                            Flags::from_maildir_info(info_of(&name), |c| keyword_at(keywords, c));
                        known.file_name = name;
                    }
                }
                _ => fresh.push((base.to_string(), name)),
            }
        }
        // Messages without a UID get the next ones in the order they arrived.
        let mut unnumbered: Vec<(SystemTime, &String)> = fresh
            .iter()
            .filter(|(base, _)| !list.uids.contains_key(base))
            .map(|(base, name)| (modified(&self.dir.join("cur").join(name)), base))
            .collect();
        unnumbered.sort();
        for (_, base) in &unnumbered {
            let uid = list.next;
            list.next += 1;
            list.uids.insert((*base).clone(), uid);
            if arrivals.contains(*base) {
                synced.recent.push(uid);
            }
        }
        let vanished = seen.iter().any(|seen| !seen);
        let present = seen.iter().filter(|seen| **seen).count() + fresh.len();
        let mut rewrote = false;
        if vanished || list.uids.len() != present {
            let mut keep: std::collections::HashSet<&str> =
                fresh.iter().map(|(base, _)| base.as_str()).collect();
            keep.extend(
                self.messages
                    .iter()
                    .zip(&seen)
                    .filter(|(_, seen)| **seen)
                    .map(|(m, _)| m.base.as_str()),
            );
            list.uids.retain(|base, _| keep.contains(base.as_str()));
            list.rewrite(&self.dir)?;
            rewrote = true;
        } else if !unnumbered.is_empty() || list.fresh {
            list.rewrite(&self.dir)?;
            rewrote = true;
        }
        // What this reading wrote itself, which the log does not hold.
        let wrote = !arrivals.is_empty() || rewrote;
        if vanished || !fresh.is_empty() {
            let mut kept = seen.iter();
            self.messages
                .retain(|_| kept.next().copied().unwrap_or(false));
            for (base, name) in fresh {
                let Some(&uid) = list.uids.get(&base) else {
                    continue;
                };
                let Ok(meta) = fs::metadata(self.dir.join("cur").join(&name)) else {
                    continue;
                };
                self.messages.push(MessageInfo {
                    uid,
                    flags: Flags::from_maildir_info(info_of(&name), |c| {
                        keyword_at(&self.keywords, c)
                    }),
                    internal_date: meta.modified().unwrap_or(UNIX_EPOCH),
                    size: meta.len(),
                    base,
                    file_name: name,
                });
            }
            self.messages.sort_by_key(|m| m.uid);
            self.rebuild_index();
        }
        self.uidvalidity = list.validity;
        self.uidnext = list.next;
        // The stamps from before the reading: anything that changed since makes them differ.
        self.stamps = Some(before);
        self.finish_read(wrote)?;
        Ok(synced)
    }

    /// Catches up with the changes other sessions of this process logged, if nothing else
    /// changed the folder: no new mail in `new/`, and `cur/` and the UID list as the last
    /// logged change left them. Called under the lock.
    fn catch_up(&mut self) -> io::Result<bool> {
        let shared = self.shared.clone();
        let shared = shared
            .lock()
            .map_err(|_| io::Error::other("a poisoned mailbox log"))?;
        let Some(logged) = shared.stamps else {
            return Ok(false);
        };
        if self.generation < shared.base
            || self.last_read.elapsed() > MAX_LOG_AGE
            || folder_stamps(&self.dir)? != logged
            || self.mail_waiting_in_new()?
        {
            return Ok(false);
        }
        let start = shared
            .log
            .partition_point(|(generation, _)| *generation <= self.generation);
        for (_, change) in &shared.log[start..] {
            if self.apply(change) {
                // Positions moved: the next change finds its message by the new ones.
                self.messages.sort_by_key(|m| m.uid);
                self.rebuild_index();
            }
        }
        self.generation = shared.generation;
        Ok(true)
    }

    /// Whether `new/` holds mail. Deliveries put it there without the lock, so its stamp is
    /// only trusted once settled (and unchanged since it was last seen empty).
    fn mail_waiting_in_new(&mut self) -> io::Result<bool> {
        let now = stamp(&self.dir.join("new"))?;
        if self.empty_new == Some(now) && settled(now.0) {
            return Ok(false);
        }
        let waiting = fs::read_dir(self.dir.join("new"))?.next().is_some();
        self.empty_new = (!waiting).then_some(now);
        Ok(waiting)
    }

    /// Applies another session's change; whether messages came or went.
    fn apply(&mut self, change: &Change) -> bool {
        match change {
            Change::Renamed { base, file_name } => {
                if let Some(&at) = self.index.get(base) {
                    // A keyword another session named first: learn its letter.
                    let letters = info_of(file_name).chars().filter(char::is_ascii_lowercase);
                    if letters
                        .clone()
                        .any(|c| keyword_at(&self.keywords, c).is_none())
                    {
                        self.keywords = read_keywords(&self.dir).unwrap_or_default();
                    }
                    let keywords = &self.keywords;
                    let known = &mut self.messages[at];
                    known.flags =
                        Flags::from_maildir_info(info_of(file_name), |c| keyword_at(keywords, c));
                    known.file_name = file_name.clone();
                }
                false
            }
            Change::Added(info) => {
                if self.index.contains_key(&info.base) {
                    return false;
                }
                self.uidnext = self.uidnext.max(info.uid + 1);
                self.messages.push(info.clone());
                true
            }
            Change::Removed { base } => {
                let before = self.messages.len();
                self.messages.retain(|m| m.base != *base);
                self.messages.len() != before
            }
        }
    }

    /// After reading the folder whole (under the lock). If the folder is as the log says and
    /// this reading changed nothing, this session has simply caught up; otherwise the log
    /// starts over from what is on disk now.
    fn finish_read(&mut self, wrote: bool) -> io::Result<()> {
        self.last_read = std::time::Instant::now();
        let stamps = folder_stamps(&self.dir)?;
        let Ok(mut shared) = self.shared.lock() else {
            return Ok(());
        };
        if wrote || shared.stamps != Some(stamps) {
            shared.generation += 1;
            shared.base = shared.generation;
            shared.log.clear();
            shared.stamps = Some(stamps);
        }
        self.generation = shared.generation;
        let snapshot = Snapshot {
            generation: self.generation,
            messages: self.messages.clone(),
            uidvalidity: self.uidvalidity,
            uidnext: self.uidnext,
            keywords: self.keywords.clone(),
        };
        if let Ok(mut map) = snapshots().lock() {
            map.insert(self.dir.clone(), Arc::new(snapshot));
        }
        Ok(())
    }

    /// Logs a change this session made (under the lock) to a folder whose stamps were
    /// `before` it. If the log described the folder as it was, it describes it now; this
    /// session stays as far behind the others' changes as it was, its own applied already.
    fn log_change(&mut self, before: (Stamp, Stamp), changes: Vec<Change>) -> io::Result<()> {
        let after = folder_stamps(&self.dir)?;
        if let Ok(mut shared) = self.shared.lock() {
            if shared.stamps != Some(before) || shared.log.len() + changes.len() > MAX_LOG {
                // The folder changed in a way the log does not hold: nobody may trust it now.
                shared.generation += 1;
                shared.base = shared.generation;
                shared.log.clear();
                shared.stamps = None;
                return Ok(());
            }
            let caught_up = self.generation == shared.generation;
            for change in changes {
                shared.generation += 1;
                let generation = shared.generation;
                shared.log.push((generation, change));
            }
            shared.stamps = Some(after);
            if caught_up {
                self.generation = shared.generation;
            }
        }
        Ok(())
    }

    /// Where each base name is in `messages`.
    fn rebuild_index(&mut self) {
        self.index = self
            .messages
            .iter()
            .enumerate()
            .map(|(at, m)| (m.base.clone(), at))
            .collect();
    }

    /// The message's bytes; `NotFound` if another session expunged it meanwhile.
    pub fn read(&self, uid: u32) -> io::Result<Vec<u8>> {
        let info = self.get(uid).ok_or(io::ErrorKind::NotFound)?;
        match fs::read(self.dir.join("cur").join(&info.file_name)) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                // Renamed by another session's flag change: find it by its base name.
                let path = self.find(&info.base)?.ok_or(io::ErrorKind::NotFound)?;
                fs::read(path)
            }
            other => other,
        }
    }

    /// The message's bytes and MIME tree, from the process-wide cache when another session
    /// (or an earlier command) already read it.
    pub fn content(&self, uid: u32) -> io::Result<std::sync::Arc<super::Content>> {
        let info = self.get(uid).ok_or(io::ErrorKind::NotFound)?;
        super::content::get_or_load(self.dir.join(&info.base), || self.read(uid))
    }

    /// Replaces the flags of `uid` (renaming its file, as Maildir stores flags in the name).
    pub fn set_flags(&mut self, uid: u32, flags: &Flags) -> io::Result<()> {
        let _lock = self.lock()?;
        let unchanged = folder_stamps(&self.dir)?;
        self.learn_keywords(flags)?;
        let at = self
            .messages
            .binary_search_by_key(&uid, |m| m.uid)
            .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
        let info = &self.messages[at];
        let keywords = &self.keywords;
        let new_name = format!(
            "{}:{}",
            info.base,
            flags.to_maildir_info(|k| letter_of(keywords, k))
        );
        let cur = self.dir.join("cur");
        let old = match self.find(&info.base)? {
            Some(path) => path,
            None => return Err(io::ErrorKind::NotFound.into()),
        };
        fs::rename(old, cur.join(&new_name))?;
        let info = &mut self.messages[at];
        info.flags = flags.clone();
        info.file_name = new_name.clone();
        let base = info.base.clone();
        self.log_change(
            unchanged,
            vec![Change::Renamed {
                base,
                file_name: new_name,
            }],
        )
    }

    /// Stores a new message with `flags`, dated `date` (IMAP APPEND); returns its UID. The
    /// bytes are on disk before the message appears: a crash leaves at most a file in `tmp/`.
    pub fn append(
        &mut self,
        bytes: &[u8],
        flags: &Flags,
        date: Option<SystemTime>,
    ) -> io::Result<u32> {
        let base = crate::maildir::unique_name(bytes.len());
        let tmp = self.dir.join("tmp").join(&base);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if let Some(date) = date {
            file.set_modified(date)?;
        }
        file.sync_all()?;
        drop(file);
        let _lock = self.lock()?;
        let unchanged = folder_stamps(&self.dir)?;
        self.learn_keywords(flags)?;
        let keywords = &self.keywords;
        let name = format!(
            "{base}:{}",
            flags.to_maildir_info(|k| letter_of(keywords, k))
        );
        fs::rename(&tmp, self.dir.join("cur").join(&name))?;
        File::open(self.dir.join("cur"))?.sync_all()?;
        let mut list = UidList::read(&self.dir)?;
        let uid = list.next;
        list.next += 1;
        list.uids.insert(base.clone(), uid);
        list.rewrite(&self.dir)?;
        self.uidnext = list.next;
        let meta = fs::metadata(self.dir.join("cur").join(&name))?;
        let info = MessageInfo {
            uid,
            base,
            flags: flags.clone(),
            internal_date: meta.modified().unwrap_or(UNIX_EPOCH),
            size: meta.len(),
            file_name: name,
        };
        let at = self.messages.partition_point(|m| m.uid < uid);
        self.messages.insert(at, info.clone());
        self.rebuild_index();
        self.log_change(unchanged, vec![Change::Added(info)])?;
        Ok(uid)
    }

    /// Removes messages for good (IMAP EXPUNGE).
    pub fn expunge(&mut self, uids: &[u32]) -> io::Result<()> {
        let _lock = self.lock()?;
        let unchanged = folder_stamps(&self.dir)?;
        for uid in uids {
            let Some(info) = self.get(*uid) else { continue };
            if let Some(path) = self.find(&info.base)? {
                match fs::remove_file(path) {
                    Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                    _ => {}
                }
            }
        }
        let removed: Vec<Change> = self
            .messages
            .iter()
            .filter(|m| uids.contains(&m.uid))
            .map(|m| Change::Removed {
                base: m.base.clone(),
            })
            .collect();
        self.messages.retain(|m| !uids.contains(&m.uid));
        self.rebuild_index();
        let mut list = UidList::read(&self.dir)?;
        let bases: std::collections::HashSet<&str> =
            self.messages.iter().map(|m| m.base.as_str()).collect();
        list.uids
            .retain(|base, uid| !uids.contains(uid) || bases.contains(base.as_str()));
        list.rewrite(&self.dir)?;
        self.log_change(unchanged, removed)
    }

    /// Copies messages into `target` with their flags and dates (IMAP COPY); returns the
    /// (source, target) UID pairs, for UIDPLUS's COPYUID.
    pub fn copy_to(&self, uids: &[u32], target: &mut Mailbox) -> io::Result<Vec<(u32, u32)>> {
        let mut pairs = Vec::new();
        for &uid in uids {
            let Some(info) = self.get(uid) else { continue };
            let bytes = self.read(uid)?;
            let copied = target.append(&bytes, &info.flags, Some(info.internal_date))?;
            pairs.push((uid, copied));
        }
        Ok(pairs)
    }

    /// The current path of the file with `base`, wherever another session's rename put it.
    fn find(&self, base: &str) -> io::Result<Option<PathBuf>> {
        let cur = self.dir.join("cur");
        if let Some(info) = self.messages.iter().find(|m| m.base == base) {
            let path = cur.join(&info.file_name);
            if path.exists() {
                return Ok(Some(path));
            }
        }
        for entry in fs::read_dir(&cur)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if base_of(&name) == base {
                return Ok(Some(cur.join(name)));
            }
        }
        Ok(None)
    }

    /// Gives every keyword in `flags` a letter, recording new ones in `dovecot-keywords`.
    fn learn_keywords(&mut self, flags: &Flags) -> io::Result<()> {
        if flags.keywords.is_empty() {
            return Ok(());
        }
        self.keywords = read_keywords(&self.dir)?;
        let mut changed = false;
        for word in &flags.keywords {
            let known = self.keywords.iter().any(|k| k.eq_ignore_ascii_case(word));
            if !known && self.keywords.len() < MAX_KEYWORDS {
                self.keywords.push(word.clone());
                changed = true;
            }
        }
        if changed {
            let text: String = self
                .keywords
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{i} {k}\n"))
                .collect();
            write_replacing(&self.dir.join(KEYWORDS), text.as_bytes())?;
        }
        Ok(())
    }

    fn lock(&self) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK))?;
        // SAFETY: flock on a descriptor this function owns; released when it is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(file)
    }
}

/// The UID list file.
#[derive(Debug)]
struct UidList {
    validity: u32,
    next: u32,
    uids: HashMap<String, u32>,
    /// The file did not exist: it must be written even with no messages.
    fresh: bool,
}

impl UidList {
    fn read(dir: &Path) -> io::Result<UidList> {
        let text = match fs::read_to_string(dir.join(UIDLIST)) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Ok(UidList {
                    validity: new_uidvalidity(),
                    next: 1,
                    uids: HashMap::new(),
                    fresh: true,
                });
            }
            Err(err) => return Err(err),
        };
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let mut list = UidList {
            validity: 0,
            next: 1,
            uids: HashMap::new(),
            fresh: false,
        };
        for field in header
            .strip_prefix(UIDLIST_HEADER)
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Some(v) = field.strip_prefix('V') {
                list.validity = v.parse().unwrap_or(0);
            } else if let Some(n) = field.strip_prefix('N') {
                list.next = n.parse().unwrap_or(1);
            }
        }
        if list.validity == 0 {
            // A damaged list: start over with a new UIDVALIDITY, as RFC 3501 §2.3.1.1 requires
            // when UIDs cannot be kept.
            return Ok(UidList {
                validity: new_uidvalidity(),
                next: 1,
                uids: HashMap::new(),
                fresh: true,
            });
        }
        for line in lines {
            let Some((uid, base)) = line.split_once(' ') else {
                continue;
            };
            if let Ok(uid) = uid.parse::<u32>() {
                list.next = list.next.max(uid.saturating_add(1));
                list.uids.insert(base.to_string(), uid);
            }
        }
        Ok(list)
    }

    /// Writes the list whole: the header's next UID changes with every addition, and UIDs must
    /// never be handed out twice, even after a crash.
    fn rewrite(&mut self, dir: &Path) -> io::Result<()> {
        let mut entries: Vec<(&u32, &String)> = self.uids.iter().map(|(b, u)| (u, b)).collect();
        entries.sort();
        let mut text = format!("{UIDLIST_HEADER} V{} N{}\n", self.validity, self.next);
        for (uid, base) in entries {
            text.push_str(&format!("{uid} {base}\n"));
        }
        self.fresh = false;
        write_replacing(&dir.join(UIDLIST), text.as_bytes())
    }
}

/// Each mailbox as a session last read it whole, and the log generation that reading matched,
/// so that a new session (a SELECT) starts from it and catches up from the log instead of
/// reading the folder.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    generation: u64,
    messages: Vec<MessageInfo>,
    uidvalidity: u32,
    uidnext: u32,
    keywords: Vec<String>,
}

fn snapshots() -> &'static Mutex<HashMap<PathBuf, Arc<Snapshot>>> {
    static SNAPSHOTS: std::sync::OnceLock<Mutex<HashMap<PathBuf, Arc<Snapshot>>>> =
        std::sync::OnceLock::new();
    SNAPSHOTS.get_or_init(Default::default)
}

fn snapshot_of(dir: &Path) -> Snapshot {
    snapshots()
        .lock()
        .ok()
        .and_then(|map| map.get(dir).cloned())
        .map(|snapshot| snapshot.as_ref().clone())
        .unwrap_or_default()
}

/// Writes `path` through a temporary file and a rename, flushed, so a crash leaves the old
/// content or the new, never a mix.
fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

fn read_keywords(dir: &Path) -> io::Result<Vec<String>> {
    let text = match fs::read_to_string(dir.join(KEYWORDS)) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut keywords: Vec<(usize, String)> = text
        .lines()
        .filter_map(|line| {
            let (index, word) = line.split_once(' ')?;
            Some((index.parse().ok()?, word.to_string()))
        })
        .filter(|(index, _)| *index < MAX_KEYWORDS)
        .collect();
    keywords.sort();
    Ok(keywords.into_iter().map(|(_, word)| word).collect())
}

fn letter_of(keywords: &[String], word: &str) -> Option<char> {
    let index = keywords.iter().position(|k| k.eq_ignore_ascii_case(word))?;
    char::from_u32(u32::from(b'a') + index as u32)
}

fn keyword_at(keywords: &[String], letter: char) -> Option<String> {
    let index = (letter as usize).checked_sub(usize::from(b'a'))?;
    keywords.get(index).cloned()
}

/// A Maildir file name's unique part: everything before the `:` of the info.
fn base_of(name: &str) -> &str {
    name.split_once(':').map_or(name, |(base, _)| base)
}

fn info_of(name: &str) -> &str {
    name.split_once(':').map_or("", |(_, info)| info)
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(UNIX_EPOCH)
}

/// RFC 3501 §2.3.1.1: a new UIDVALIDITY must be greater than any earlier one; the clock in
/// seconds is, for mailboxes made at most once a second.
fn new_uidvalidity() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maildir::Maildir;
    use crate::store::Flag;

    fn seen() -> Flags {
        let mut flags = Flags::default();
        flags.set(&Flag::Seen, true);
        flags
    }

    #[test]
    fn delivered_mail_gets_uids_in_arrival_order_that_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path()).unwrap();
        maildir.deliver(b"Subject: one\r\n\r\n1\r\n").unwrap();
        maildir.deliver(b"Subject: two\r\n\r\n2\r\n").unwrap();
        let mut mailbox = Mailbox::open(dir.path()).unwrap();
        let uids: Vec<u32> = mailbox.messages().iter().map(|m| m.uid).collect();
        assert_eq!(uids, vec![1, 2]);
        assert_eq!(mailbox.read(1).unwrap(), b"Subject: one\r\n\r\n1\r\n");
        let validity = mailbox.uidvalidity();
        maildir.deliver(b"Subject: three\r\n\r\n3\r\n").unwrap();
        assert_eq!(mailbox.sync().unwrap().recent, vec![3]);
        let again = Mailbox::open(dir.path()).unwrap();
        assert_eq!(again.uidvalidity(), validity);
        assert_eq!(again.uidnext(), 4);
        assert_eq!(again.messages().len(), 3);
        assert!(
            fs::read_dir(dir.path().join("new"))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[test]
    fn a_settled_mailbox_still_notices_the_next_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path()).unwrap();
        maildir.deliver(b"Subject: one\r\n\r\n1\r\n").unwrap();
        let mut mailbox = Mailbox::open(dir.path()).unwrap();
        mailbox.sync().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        // Settled: this sync reads nothing.
        assert_eq!(mailbox.sync().unwrap(), Synced::default());
        maildir.deliver(b"Subject: two\r\n\r\n2\r\n").unwrap();
        assert_eq!(mailbox.sync().unwrap().recent, vec![2]);
        // Another session's flag change renames a file: seen too.
        let mut other = Mailbox::open(dir.path()).unwrap();
        other.set_flags(1, &seen()).unwrap();
        mailbox.sync().unwrap();
        assert!(mailbox.get(1).unwrap().flags.seen);
    }

    #[test]
    fn flags_are_kept_in_file_names_and_seen_by_other_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let mut one = Mailbox::open(dir.path()).unwrap();
        let uid = one.append(b"x\r\n", &Flags::default(), None).unwrap();
        let mut two = Mailbox::open(dir.path()).unwrap();
        let mut flags = seen();
        flags.set(&Flag::Keyword("Work".into()), true);
        one.set_flags(uid, &flags).unwrap();
        two.sync().unwrap();
        assert_eq!(two.get(uid).unwrap().flags, flags);
        assert_eq!(two.read(uid).unwrap(), b"x\r\n");
        let names: Vec<String> = fs::read_dir(dir.path().join("cur"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names[0].ends_with(":2,Sa"), "{names:?}");
        assert_eq!(
            fs::read_to_string(dir.path().join(KEYWORDS)).unwrap(),
            "0 Work\n"
        );
    }

    #[test]
    fn sessions_catch_up_from_each_others_log_and_still_see_outside_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut one = Mailbox::open(dir.path()).unwrap();
        let first = one.append(b"a\r\n", &Flags::default(), None).unwrap();
        let second = one.append(b"b\r\n", &Flags::default(), None).unwrap();
        let mut two = Mailbox::open(dir.path()).unwrap();
        let mut flags = seen();
        flags.set(&Flag::Keyword("Later".into()), true);
        one.set_flags(first, &flags).unwrap();
        let third = one.append(b"c\r\n", &seen(), None).unwrap();
        one.expunge(&[second]).unwrap();
        two.sync().unwrap();
        let view = |m: &Mailbox| -> Vec<(u32, Flags)> {
            m.messages()
                .iter()
                .map(|m| (m.uid, m.flags.clone()))
                .collect()
        };
        assert_eq!(view(&two), view(&one));
        assert_eq!(view(&two), vec![(first, flags.clone()), (third, seen())]);
        assert_eq!(two.uidnext(), 4);
        // A change from outside this process (another server renaming a file) is read: by its
        // stamps, or at the latest when the log is a second old.
        std::thread::sleep(MAX_LOG_AGE + std::time::Duration::from_millis(100));
        let cur = dir.path().join("cur");
        let name = fs::read_dir(&cur)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(",S=3:2,S"))
            .unwrap();
        fs::rename(cur.join(&name), cur.join(name.replace(":2,S", ":2,FS"))).unwrap();
        two.sync().unwrap();
        assert!(two.get(third).unwrap().flags.flagged);
    }

    #[test]
    fn expunged_uids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut mailbox = Mailbox::open(dir.path()).unwrap();
        let first = mailbox.append(b"a\r\n", &seen(), None).unwrap();
        let second = mailbox.append(b"b\r\n", &Flags::default(), None).unwrap();
        mailbox.expunge(&[second]).unwrap();
        let third = mailbox.append(b"c\r\n", &Flags::default(), None).unwrap();
        assert_eq!((first, second, third), (1, 2, 3));
        let reopened = Mailbox::open(dir.path()).unwrap();
        let uids: Vec<u32> = reopened.messages().iter().map(|m| m.uid).collect();
        assert_eq!(uids, vec![1, 3]);
        assert!(reopened.get(1).unwrap().flags.seen);
    }

    #[test]
    fn concurrent_appends_get_distinct_uids() {
        let dir = tempfile::tempdir().unwrap();
        Mailbox::open(dir.path()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut mailbox = Mailbox::open(&path).unwrap();
                    (0..10)
                        .map(|n| {
                            mailbox
                                .append(format!("{n}\r\n").as_bytes(), &Flags::default(), None)
                                .unwrap()
                        })
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        let mut uids: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        uids.sort();
        assert_eq!(uids, (1..=40).collect::<Vec<u32>>());
    }

    #[test]
    fn copies_keep_flags_and_dates_and_report_uid_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = Mailbox::open(&dir.path().join("a")).unwrap();
        let date = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let uid = source.append(b"m\r\n", &seen(), Some(date)).unwrap();
        let mut target = Mailbox::open(&dir.path().join("b")).unwrap();
        target
            .append(b"other\r\n", &Flags::default(), None)
            .unwrap();
        let pairs = source.copy_to(&[uid], &mut target).unwrap();
        assert_eq!(pairs, vec![(1, 2)]);
        let copy = target.get(2).unwrap();
        assert!(copy.flags.seen);
        assert_eq!(copy.internal_date, date);
        assert_eq!(copy.size, 3);
    }
}
