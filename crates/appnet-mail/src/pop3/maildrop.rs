//! The maildrop of a POP3 session (RFC 1939 §3, §8): the user's INBOX as it was at login. The
//! session numbers its messages 1..n once, marks deletions in memory, and only at QUIT (the
//! UPDATE state) removes them from the store; a dropped connection changes nothing.
//!
//! RFC 1939 §8 asks for exclusive access to the maildrop while a session holds it. Sessions of
//! this process take an in-process lock per maildrop directory; a second login is refused with
//! `[IN-USE]` (RFC 2449 §8.1.1). IMAP sessions are not locked out: a message another client
//! removes meanwhile is reported gone when asked for.
//!
//! Everything here is blocking file I/O: drivers call it off the async threads.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::response::wire_size;
use crate::store::{self, Mailbox, Mailstore, StoreError};

/// Why a maildrop could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("another POP3 session holds the maildrop")]
    InUse,
    #[error("cannot open the maildrop: {0}")]
    Io(#[from] io::Error),
}

impl From<StoreError> for OpenError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Io(err) => OpenError::Io(err),
            other => OpenError::Io(io::Error::other(other.to_string())),
        }
    }
}

/// One message of the snapshot.
#[derive(Debug, Clone)]
struct Entry {
    uid: u32,
    /// The size as sent (RFC 1939 §11), computed once at login.
    size: u64,
    deleted: bool,
}

/// A locked snapshot of a user's INBOX.
#[derive(Debug)]
pub struct Maildrop {
    mailbox: Mailbox,
    messages: Vec<Entry>,
    _lock: MaildropLock,
}

impl Maildrop {
    /// Locks the Maildir at `root`, takes new mail in, and numbers the messages.
    pub fn open(root: &Path) -> Result<Maildrop, OpenError> {
        let lock = MaildropLock::acquire(root).ok_or(OpenError::InUse)?;
        let mailbox = Mailstore::open(root)?.open_mailbox("INBOX")?;
        let mut messages = Vec::with_capacity(mailbox.messages().len());
        for info in mailbox.messages() {
            let size = match virtual_size(&info.base) {
                Some(size) => size,
                None => match mailbox.read(info.uid) {
                    Ok(bytes) => wire_size(&bytes),
                    // Removed by another session since the sync: not in the snapshot.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(err.into()),
                },
            };
            messages.push(Entry {
                uid: info.uid,
                size,
                deleted: false,
            });
        }
        Ok(Maildrop {
            mailbox,
            messages,
            _lock: lock,
        })
    }

    /// RFC 1939 §5 STAT: the messages not marked deleted, and their total size.
    pub fn stat(&self) -> (usize, u64) {
        self.live().fold((0, 0), |(count, octets), (_, entry)| {
            (count + 1, octets + entry.size)
        })
    }

    /// Every message not marked deleted: its number and size (LIST).
    pub fn list(&self) -> Vec<(usize, u64)> {
        self.live().map(|(n, entry)| (n, entry.size)).collect()
    }

    /// The size of message `n`, if it exists and is not marked deleted.
    pub fn size(&self, n: u32) -> Option<u64> {
        self.entry(n).map(|entry| entry.size)
    }

    /// RFC 1939 §7 UIDL: a unique id that stays the same across sessions, in Dovecot's default
    /// format (`%08Xu%08Xv`: the UID, then UIDVALIDITY, in upper-case hex).
    pub fn unique_id(&self, n: u32) -> Option<String> {
        let entry = self.entry(n)?;
        Some(format!(
            "{:08X}{:08X}",
            entry.uid,
            self.mailbox.uidvalidity()
        ))
    }

    /// Every message not marked deleted: its number and unique id.
    pub fn unique_ids(&self) -> Vec<(usize, String)> {
        let validity = self.mailbox.uidvalidity();
        self.live()
            .map(|(n, entry)| (n, format!("{:08X}{validity:08X}", entry.uid)))
            .collect()
    }

    /// The content of message `n`; `None` if there is no such message (or it is marked
    /// deleted), `NotFound` if another client removed it meanwhile.
    pub fn read(&self, n: u32) -> Option<io::Result<Vec<u8>>> {
        let entry = self.entry(n)?;
        Some(self.mailbox.read(entry.uid))
    }

    /// Marks message `n` `\Seen` in the store (after RETR, as Dovecot does). Best effort: a
    /// failure costs only the flag.
    pub fn mark_seen(&mut self, n: u32) {
        let Some(uid) = self.entry(n).map(|entry| entry.uid) else {
            return;
        };
        let Some(info) = self.mailbox.get(uid) else {
            return;
        };
        if info.flags.seen {
            return;
        }
        let mut flags = info.flags.clone();
        flags.seen = true;
        match self.mailbox.set_flags(uid, &flags) {
            Ok(()) => store::announce(self.mailbox.dir()),
            Err(err) => tracing::debug!("pop3: cannot mark uid {uid} seen: {err}"),
        }
    }

    /// RFC 1939 §5 DELE: marks message `n` deleted; false if there is no such message.
    pub fn delete(&mut self, n: u32) -> bool {
        match self.index(n).and_then(|at| self.messages.get_mut(at)) {
            Some(entry) if !entry.deleted => {
                entry.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// Whether message `n` exists in the snapshot and is marked deleted.
    pub fn is_deleted(&self, n: u32) -> bool {
        self.index(n)
            .and_then(|at| self.messages.get(at))
            .is_some_and(|entry| entry.deleted)
    }

    /// RFC 1939 §5 RSET: unmarks every deletion.
    pub fn reset(&mut self) {
        for entry in &mut self.messages {
            entry.deleted = false;
        }
    }

    /// RFC 1939 §6, the UPDATE state: removes the messages marked deleted from the store and
    /// releases the lock. Returns how many messages are left.
    pub fn commit(mut self) -> io::Result<usize> {
        let deleted: Vec<u32> = self
            .messages
            .iter()
            .filter(|entry| entry.deleted)
            .map(|entry| entry.uid)
            .collect();
        if !deleted.is_empty() {
            self.mailbox.expunge(&deleted)?;
            store::announce(self.mailbox.dir());
        }
        Ok(self.messages.len() - deleted.len())
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, entry)| !entry.deleted)
            .map(|(at, entry)| (at + 1, entry))
    }

    fn index(&self, n: u32) -> Option<usize> {
        usize::try_from(n).ok()?.checked_sub(1)
    }

    fn entry(&self, n: u32) -> Option<&Entry> {
        self.messages
            .get(self.index(n)?)
            .filter(|entry| !entry.deleted)
    }
}

/// Dovecot's `,W=<size>` in a Maildir file name: the size with CRLF line ends, so no read is
/// needed.
fn virtual_size(base: &str) -> Option<u64> {
    base.split(',')
        .skip(1)
        .find_map(|field| field.strip_prefix("W="))
        .and_then(|size| size.parse().ok())
}

/// The in-process lock on one maildrop, released when dropped.
#[derive(Debug)]
pub struct MaildropLock {
    key: PathBuf,
}

impl MaildropLock {
    /// The lock on the maildrop at `root`, or `None` if a session holds it.
    pub fn acquire(root: &Path) -> Option<MaildropLock> {
        let key = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let fresh = lock_registry().insert(key.clone());
        // Built only when taken: dropping a lock releases its key.
        fresh.then(|| MaildropLock { key })
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        lock_registry().remove(&self.key);
    }
}

fn lock_registry() -> std::sync::MutexGuard<'static, HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let held = HELD.get_or_init(Mutex::default);
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dovecot_virtual_sizes_from_names() {
        assert_eq!(
            virtual_size("1700000000.M1P2.host,S=1000,W=1020"),
            Some(1020)
        );
        assert_eq!(virtual_size("1700000000.M1P2.host,S=1000"), None);
    }

    #[test]
    fn locks_are_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = MaildropLock::acquire(dir.path()).unwrap();
        assert!(MaildropLock::acquire(dir.path()).is_none());
        drop(first);
        assert!(MaildropLock::acquire(dir.path()).is_some());
    }
}
