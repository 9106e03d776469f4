//! The queue's journal on disk: append-only segment files of [`Record`]s, written by one thread
//! that commits in groups — every message that arrived while the previous flush ran goes out in
//! one write and one `fdatasync`, so a hundred concurrent sessions cost one disk flush, not a
//! hundred, and each still hears `250` only after its own bytes are on disk.
//!
//! Recovery reads every segment in order, drops a torn tail, and rebuilds the set of
//! recipients still owed a delivery; then it copies those messages into a fresh segment and
//! deletes the old ones. A segment that grows past its limit is compacted the same way, so the
//! disk holds what is pending plus at most one segment of history.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{QueuedMessage, Record, RecordError, encode_done, encode_message};

/// A segment is compacted once it grows past this.
pub const SEGMENT_LIMIT: u64 = 64 * 1024 * 1024;
const SUFFIX: &str = ".journal";

/// Where a message's bytes are: an open segment file (which stays readable even after
/// compaction deletes its name) and a range in it.
#[derive(Debug, Clone)]
pub struct DataRef {
    file: Arc<File>,
    offset: u64,
    len: u64,
}

impl DataRef {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message's bytes.
    pub fn read(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len).map_err(io::Error::other)?;
        let mut data = vec![0u8; len];
        self.file.read_exact_at(&mut data, self.offset)?;
        Ok(data)
    }
}

/// A message that still has recipients to deliver, as the journal knows it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: u64,
    pub arrival: u64,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub body_8bit: bool,
    pub smtputf8: bool,
    pub data: DataRef,
}

impl Pending {
    /// The pending form of `message`, whose record ends at `end` in `file` (a message record
    /// ends with the message's bytes).
    fn located(message: QueuedMessage, file: &Arc<File>, end: u64) -> Pending {
        let len = message.data.len() as u64;
        Pending {
            id: message.id,
            arrival: message.arrival,
            mail_from: message.mail_from,
            rcpt_to: message.rcpt_to,
            body_8bit: message.body_8bit,
            smtputf8: message.smtputf8,
            data: DataRef {
                file: file.clone(),
                offset: end - len,
                len,
            },
        }
    }
}

/// The writer's side of the journal. Not shared: one thread owns it.
pub struct Journal {
    dir: PathBuf,
    sequence: u64,
    file: Arc<File>,
    len: u64,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    limit: u64,
    /// Held for the journal's life: a second server on the same directory would corrupt it.
    _lock: File,
}

impl Journal {
    /// Opens the journal in `dir` (made if missing), recovering what earlier runs left.
    pub fn open(dir: &Path) -> io::Result<Journal> {
        Journal::open_with_limit(dir, SEGMENT_LIMIT)
    }

    pub fn open_with_limit(dir: &Path, limit: u64) -> io::Result<Journal> {
        fs::create_dir_all(dir)?;
        let lock = lock_directory(dir)?;
        let segments = list_segments(dir)?;
        let recovered = replay(&segments)?;
        let sequence = segments.keys().next_back().map_or(1, |last| last + 1);
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            sequence,
            file: Arc::new(create_segment(dir, sequence)?),
            len: 0,
            next_id: recovered.next_id,
            pending: HashMap::new(),
            limit,
            _lock: lock,
        };
        journal.copy_in(recovered.pending)?;
        for sequence in segments.keys() {
            fs::remove_file(segment_path(dir, *sequence))?;
        }
        sync_dir(dir)?;
        Ok(journal)
    }

    /// The messages with recipients still to deliver, as recovered or stored.
    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        self.pending.values()
    }

    /// Appends a group of entries with one write and one flush. Each message gets its id (the
    /// one it carries is ignored); the result says, per entry, where a message's bytes are.
    /// When the segment has outgrown its limit, the pending messages move to a new one.
    pub fn commit(&mut self, entries: Vec<Entry>) -> io::Result<Vec<Option<Pending>>> {
        let mut buf = Vec::new();
        let mut placed = Vec::with_capacity(entries.len());
        let mut settled = Vec::new();
        for entry in entries {
            match entry {
                Entry::Message(mut message) => {
                    message.id = self.next_id;
                    self.next_id += 1;
                    encode_message(&message, &mut buf).map_err(io::Error::other)?;
                    let end = self.len + buf.len() as u64;
                    placed.push(Some(Pending::located(message, &self.file, end)));
                }
                Entry::Done { id, rcpt } => {
                    encode_done(id, &rcpt, &mut buf).map_err(io::Error::other)?;
                    settled.push((id, rcpt));
                    placed.push(None);
                }
            }
        }
        (&*self.file).write_all(&buf)?;
        self.file.sync_data()?;
        self.len += buf.len() as u64;
        for pending in placed.iter().flatten() {
            self.pending.insert(pending.id, pending.clone());
        }
        for (id, rcpt) in settled {
            self.settle(id, &rcpt);
        }
        if self.len > self.limit {
            let old = self.sequence;
            let pending: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
            self.compact(pending)?;
            fs::remove_file(segment_path(&self.dir, old))?;
            sync_dir(&self.dir)?;
        }
        Ok(placed)
    }

    /// Forgets a recipient whose `Done` is on disk.
    fn settle(&mut self, id: u64, rcpt: &str) {
        if let Some(pending) = self.pending.get_mut(&id) {
            pending.rcpt_to.retain(|r| r != rcpt);
            if pending.rcpt_to.is_empty() {
                self.pending.remove(&id);
            }
        }
    }

    /// Starts a new segment holding copies of `pending` (ids kept), flushed before returning.
    fn compact(&mut self, pending: Vec<Pending>) -> io::Result<()> {
        self.sequence += 1;
        self.file = Arc::new(create_segment(&self.dir, self.sequence)?);
        self.len = 0;
        self.copy_in(pending)
    }

    /// Writes copies of `pending` (ids kept) to the current segment and flushes it.
    fn copy_in(&mut self, pending: Vec<Pending>) -> io::Result<()> {
        self.pending.clear();
        let mut buf = Vec::new();
        for old in pending {
            let message = QueuedMessage {
                id: old.id,
                arrival: old.arrival,
                mail_from: old.mail_from,
                rcpt_to: old.rcpt_to,
                body_8bit: old.body_8bit,
                smtputf8: old.smtputf8,
                data: old.data.read()?,
            };
            encode_message(&message, &mut buf).map_err(io::Error::other)?;
            let end = self.len + buf.len() as u64;
            self.pending
                .insert(message.id, Pending::located(message, &self.file, end));
        }
        (&*self.file).write_all(&buf)?;
        self.file.sync_data()?;
        self.len += buf.len() as u64;
        Ok(())
    }
}

/// What a group commit writes.
#[derive(Debug)]
pub enum Entry {
    Message(QueuedMessage),
    Done { id: u64, rcpt: String },
}

/// The state the segments on disk describe.
struct Recovered {
    pending: Vec<Pending>,
    next_id: u64,
}

/// Reads every segment in order. A message record seen again (a copy made by compaction)
/// replaces the earlier one; `Done` records apply to any copy.
fn replay(segments: &BTreeMap<u64, PathBuf>) -> io::Result<Recovered> {
    let mut messages: HashMap<u64, Pending> = HashMap::new();
    let mut done: Vec<(u64, String)> = Vec::new();
    let mut next_id = 1;
    for path in segments.values() {
        let file = Arc::new(File::open(path)?);
        let bytes = fs::read(path)?;
        let mut at = 0;
        while at < bytes.len() {
            match Record::decode(&bytes[at..]) {
                Ok((Record::Message(message), used)) => {
                    next_id = next_id.max(message.id + 1);
                    let end = (at + used) as u64;
                    messages.insert(message.id, Pending::located(message, &file, end));
                    at += used;
                }
                Ok((Record::Done { id, rcpt }, used)) => {
                    done.push((id, rcpt));
                    at += used;
                }
                // A torn tail: the crash came before the flush, so nothing in it was promised.
                Err(RecordError::Incomplete | RecordError::Damaged(_)) => {
                    tracing::warn!(
                        "mail queue: dropping {} unflushed bytes at the end of {}",
                        bytes.len() - at,
                        path.display()
                    );
                    break;
                }
                Err(RecordError::TooLong) => break,
            }
        }
    }
    for (id, rcpt) in done {
        if let Some(message) = messages.get_mut(&id) {
            message.rcpt_to.retain(|r| *r != rcpt);
        }
    }
    let mut pending: Vec<Pending> = messages
        .into_values()
        .filter(|m| !m.rcpt_to.is_empty())
        .collect();
    pending.sort_by_key(|m| m.id);
    Ok(Recovered { pending, next_id })
}

/// Takes the directory's lock file, or fails at once if another process holds it.
fn lock_directory(dir: &Path) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("{} is in use by another mail server ({err})", dir.display()),
        ));
    }
    Ok(file)
}

fn list_segments(dir: &Path) -> io::Result<BTreeMap<u64, PathBuf>> {
    let mut segments = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let sequence = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(SUFFIX))
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(sequence) = sequence {
            segments.insert(sequence, path);
        }
    }
    Ok(segments)
}

fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:016}{SUFFIX}"))
}

/// Flushes a directory, so that files created or removed in it stay so after a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes segment `sequence`, its name flushed to disk before anything is written in it.
fn create_segment(dir: &Path, sequence: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .read(true)
        .open(segment_path(dir, sequence))?;
    sync_dir(dir)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(rcpts: &[&str], data: &[u8]) -> Entry {
        Entry::Message(QueuedMessage {
            id: 0,
            arrival: 100,
            mail_from: "alice@alpha.example".into(),
            rcpt_to: rcpts.iter().map(|r| r.to_string()).collect(),
            body_8bit: false,
            smtputf8: false,
            data: data.to_vec(),
        })
    }

    fn pending_ids(journal: &Journal) -> Vec<(u64, Vec<String>)> {
        let mut all: Vec<_> = journal
            .pending()
            .map(|p| (p.id, p.rcpt_to.clone()))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn what_is_committed_survives_reopening_and_done_recipients_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        let placed = journal
            .commit(vec![
                message(&["a@x", "b@x"], b"one"),
                message(&["c@y"], b"two"),
            ])
            .unwrap();
        let first = placed[0].as_ref().unwrap().id;
        assert_eq!(placed[1].as_ref().unwrap().data.read().unwrap(), b"two");
        journal
            .commit(vec![Entry::Done {
                id: first,
                rcpt: "a@x".into(),
            }])
            .unwrap();
        drop(journal);
        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(
            pending_ids(&journal),
            vec![(first, vec!["b@x".into()]), (first + 1, vec!["c@y".into()])]
        );
        let data: Vec<Vec<u8>> = {
            let mut all: Vec<_> = journal.pending().collect();
            all.sort_by_key(|p| p.id);
            all.iter().map(|p| p.data.read().unwrap()).collect()
        };
        assert_eq!(data, vec![b"one".to_vec(), b"two".to_vec()]);
        // Recovery compacted everything into one segment.
        assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_second_journal_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path()).unwrap();
        let second = Journal::open(dir.path());
        assert!(second.is_err());
    }

    #[test]
    fn a_torn_tail_is_dropped_and_new_ids_do_not_reuse_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        let id = journal.commit(vec![message(&["a@x"], b"kept")]).unwrap()[0]
            .as_ref()
            .unwrap()
            .id;
        drop(journal);
        let (_, path) = list_segments(dir.path()).unwrap().pop_first().unwrap();
        let mut torn = Vec::new();
        encode_message(
            &QueuedMessage {
                id: 99,
                arrival: 1,
                mail_from: String::new(),
                rcpt_to: vec!["z@z".into()],
                body_8bit: false,
                smtputf8: false,
                data: b"never acknowledged".to_vec(),
            },
            &mut torn,
        )
        .unwrap();
        torn.truncate(torn.len() - 3);
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&torn)
            .unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        assert_eq!(pending_ids(&journal), vec![(id, vec!["a@x".into()])]);
        let next = journal.commit(vec![message(&["b@x"], b"new")]).unwrap()[0]
            .as_ref()
            .unwrap()
            .id;
        assert!(next > id);
    }

    #[test]
    fn a_full_segment_is_compacted_to_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open_with_limit(dir.path(), 4096).unwrap();
        let mut ids = Vec::new();
        for n in 0..20u8 {
            let placed = journal.commit(vec![message(&["a@x"], &[n; 500])]).unwrap();
            ids.push(placed[0].as_ref().unwrap().id);
        }
        let keep = ids[7];
        for id in ids.iter().filter(|id| **id != keep) {
            journal
                .commit(vec![Entry::Done {
                    id: *id,
                    rcpt: "a@x".into(),
                }])
                .unwrap();
        }
        assert_eq!(pending_ids(&journal), vec![(keep, vec!["a@x".into()])]);
        let segments = list_segments(dir.path()).unwrap();
        assert_eq!(segments.len(), 1);
        let size = fs::metadata(segments.values().next().unwrap())
            .unwrap()
            .len();
        assert!(size < 4096 + 1024, "{size}");
        drop(journal);
        let journal = Journal::open(dir.path()).unwrap();
        let pending: Vec<_> = journal.pending().collect();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].data.read().unwrap(), vec![7u8; 500]);
    }
}
