//! A user's mail store for IMAP and POP3: Maildir++ folders (INBOX is the Maildir itself, a
//! folder `Archive.2024` is the Maildir `.Archive.2024/` inside it, as Dovecot and Courier lay
//! them out), each a [`Mailbox`] with persistent UIDs and flags, and the `subscriptions` file.
//!
//! Sessions learn of changes made by others in this process (a delivery, another session's
//! APPEND or EXPUNGE) through [`watch`]: every change to a folder wakes its watchers, which
//! then sync. Changes made by other programs are seen at the next sync.

pub mod content;
pub mod flags;
pub mod mailbox;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

pub use self::content::Content;
pub use self::flags::{Flag, Flags};
pub use self::mailbox::{Mailbox, MessageInfo, Synced};

/// The separator of folder hierarchy levels in names (Maildir++ uses `.`).
pub const DELIMITER: char = '.';
const SUBSCRIPTIONS: &str = "subscriptions";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such mailbox")]
    NoSuchMailbox,
    #[error("the mailbox already exists")]
    AlreadyExists,
    #[error("invalid mailbox name")]
    InvalidName,
    #[error("INBOX cannot be deleted")]
    InboxPermanent,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One user's folders.
#[derive(Debug, Clone)]
pub struct Mailstore {
    root: PathBuf,
}

impl Mailstore {
    /// The store whose INBOX is the Maildir at `root` (made if missing).
    pub fn open(root: &Path) -> io::Result<Mailstore> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(Mailstore {
            root: root.to_path_buf(),
        })
    }

    /// Every mailbox: INBOX first, then the folders in name order.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(folder) = name.strip_prefix('.')
                && valid_name(folder)
                && entry.path().join("cur").is_dir()
            {
                names.push(folder.to_string());
            }
        }
        names.sort();
        names.insert(0, "INBOX".to_string());
        Ok(names)
    }

    /// The directory of mailbox `name` (INBOX in any case is the root).
    pub fn dir_of(&self, name: &str) -> Result<PathBuf, StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(self.root.clone());
        }
        if !valid_name(name) {
            return Err(StoreError::InvalidName);
        }
        Ok(self.root.join(format!(".{name}")))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir_of(name).is_ok_and(|dir| dir.join("cur").is_dir())
    }

    /// Opens a mailbox for a session.
    pub fn open_mailbox(&self, name: &str) -> Result<Mailbox, StoreError> {
        if !self.exists(name) {
            return Err(StoreError::NoSuchMailbox);
        }
        Ok(Mailbox::open(&self.dir_of(name)?)?)
    }

    /// RFC 3501 §6.3.3. Creating `a.b` needs no `a`: Maildir++ folders are flat on disk.
    pub fn create(&self, name: &str) -> Result<(), StoreError> {
        let name = name.trim_end_matches(DELIMITER);
        if self.exists(name) || name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::AlreadyExists);
        }
        let dir = self.dir_of(name)?;
        Mailbox::open(&dir)?;
        // Courier's marker: this directory is a folder.
        fs::write(dir.join("maildirfolder"), b"")?;
        Ok(())
    }

    /// RFC 3501 §6.3.4: the folder and its messages go; its children stay.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::InboxPermanent);
        }
        if !self.exists(name) {
            return Err(StoreError::NoSuchMailbox);
        }
        fs::remove_dir_all(self.dir_of(name)?)?;
        announce(&self.dir_of(name)?);
        Ok(())
    }

    /// RFC 3501 §6.3.5: renames a folder and its children. Renaming INBOX moves its messages
    /// to the new folder and leaves INBOX empty.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        if !self.exists(from) {
            return Err(StoreError::NoSuchMailbox);
        }
        if self.exists(to) || to.eq_ignore_ascii_case("INBOX") {
            return Err(StoreError::AlreadyExists);
        }
        let target = self.dir_of(to)?;
        if from.eq_ignore_ascii_case("INBOX") {
            self.create(to)?;
            let inbox = Mailbox::open(&self.root)?;
            let mut moved = Mailbox::open(&target)?;
            let uids: Vec<u32> = inbox.messages().iter().map(|m| m.uid).collect();
            inbox.copy_to(&uids, &mut moved)?;
            let mut inbox = inbox;
            inbox.expunge(&uids)?;
            announce(&self.root);
            return Ok(());
        }
        let prefix = format!("{from}{DELIMITER}");
        let children: Vec<String> = self
            .list()?
            .into_iter()
            .filter(|name| name.starts_with(&prefix))
            .collect();
        fs::rename(self.dir_of(from)?, &target)?;
        for child in children {
            let renamed = format!("{to}{}", &child[from.len()..]);
            fs::rename(self.dir_of(&child)?, self.dir_of(&renamed)?)?;
        }
        Ok(())
    }

    /// The subscribed names (RFC 3501 §6.3.6), one per line in `subscriptions` as Dovecot keeps
    /// them.
    pub fn subscriptions(&self) -> io::Result<Vec<String>> {
        match fs::read_to_string(self.root.join(SUBSCRIPTIONS)) {
            Ok(text) => Ok(text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    pub fn subscribe(&self, name: &str, on: bool) -> io::Result<()> {
        let mut names = self.subscriptions()?;
        names.retain(|n| n != name);
        if on {
            names.push(name.to_string());
        }
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        fs::write(self.root.join(SUBSCRIPTIONS), text)
    }
}

/// A folder name Maildir++ can hold: no path separators, no empty levels, no dot files.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.contains('/')
        && !name.contains('\0')
        && name.split(DELIMITER).all(|level| !level.is_empty())
        && !name.eq_ignore_ascii_case("INBOX")
}

/// Wakes the watchers of the mailbox at `dir`.
pub fn announce(dir: &Path) {
    if let Some(notify) = registry()
        .lock()
        .ok()
        .and_then(|map| map.get(dir)?.upgrade())
    {
        notify.notify_waiters();
    }
}

/// A handle that wakes whenever the mailbox at `dir` changes in this process.
pub fn watch(dir: &Path) -> Arc<Notify> {
    let mut map = match registry().lock() {
        Ok(map) => map,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.retain(|_, weak| weak.strong_count() > 0);
    if let Some(notify) = map.get(dir).and_then(Weak::upgrade) {
        return notify;
    }
    let notify = Arc::new(Notify::new());
    map.insert(dir.to_path_buf(), Arc::downgrade(&notify));
    notify
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<Notify>>> {
    static REGISTRY: std::sync::OnceLock<Mutex<HashMap<PathBuf, Weak<Notify>>>> =
        std::sync::OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_maildir_plus_plus_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = Mailstore::open(dir.path()).unwrap();
        store.create("Archive.2024").unwrap();
        store.create("Sent").unwrap();
        assert!(dir.path().join(".Archive.2024/cur").is_dir());
        assert_eq!(store.list().unwrap(), vec!["INBOX", "Archive.2024", "Sent"]);
        assert!(matches!(
            store.create("Sent"),
            Err(StoreError::AlreadyExists)
        ));
        assert!(matches!(
            store.create("a/../b"),
            Err(StoreError::InvalidName)
        ));
        assert!(matches!(store.create("a..b"), Err(StoreError::InvalidName)));
        store.rename("Archive", "Old").unwrap_err();
        store.create("Archive").unwrap();
        store.rename("Archive", "Old").unwrap();
        assert_eq!(
            store.list().unwrap(),
            vec!["INBOX", "Old", "Old.2024", "Sent"]
        );
        store.delete("Sent").unwrap();
        assert!(matches!(
            store.delete("inbox"),
            Err(StoreError::InboxPermanent)
        ));
        assert_eq!(store.list().unwrap(), vec!["INBOX", "Old", "Old.2024"]);
    }

    #[test]
    fn renaming_inbox_moves_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Mailstore::open(dir.path()).unwrap();
        let mut inbox = store.open_mailbox("INBOX").unwrap();
        inbox.append(b"hello\r\n", &Flags::default(), None).unwrap();
        store.rename("INBOX", "Saved").unwrap();
        assert_eq!(store.open_mailbox("INBOX").unwrap().messages().len(), 0);
        let saved = store.open_mailbox("Saved").unwrap();
        assert_eq!(saved.read(1).unwrap(), b"hello\r\n");
    }

    #[test]
    fn subscriptions_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Mailstore::open(dir.path()).unwrap();
        store.subscribe("Sent", true).unwrap();
        store.subscribe("Drafts", true).unwrap();
        store.subscribe("Sent", false).unwrap();
        assert_eq!(store.subscriptions().unwrap(), vec!["Drafts"]);
    }

    #[tokio::test]
    async fn watchers_wake_on_announced_changes() {
        let dir = tempfile::tempdir().unwrap();
        let notify = watch(dir.path());
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        announce(dir.path());
        tokio::time::timeout(std::time::Duration::from_secs(1), woken)
            .await
            .unwrap();
    }
}
