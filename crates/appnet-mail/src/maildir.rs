//! Local delivery into Maildir, the format Dovecot, mutt and most mail readers read: a mailbox
//! is a directory with `tmp/`, `new/` and `cur/`, and each message is one file.
//!
//! A message is written under `tmp/`, flushed to disk, then renamed into `new/` and the
//! directory flushed too: a reader never sees half a message, and after a crash at any point
//! the message is either wholly in `new/` or only a stray file in `tmp/` that nobody reads.
//! File names follow the maildir convention `time.M<usec>P<pid>Q<n>.host,S=<size>`; Dovecot
//! takes the size from `S=` instead of a `stat`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// One mailbox on disk.
#[derive(Debug, Clone)]
pub struct Maildir {
    path: PathBuf,
}

impl Maildir {
    /// The mailbox at `path`, with its three directories made if missing.
    pub fn create(path: &Path) -> io::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(path.join(sub))?;
        }
        Ok(Maildir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `message` durably in `new/` and returns its file name.
    pub fn deliver(&self, message: &[u8]) -> io::Result<String> {
        self.store(message, unique_name(message.len()))
    }

    /// Stores `message` under a name derived from `key` (one queued message for one
    /// recipient), unless a file of that name is already here: a delivery repeated after a
    /// crash, between the rename and the queue recording it, does not make a second copy.
    /// Looking for the earlier copy costs a directory scan, so the queue asks for this only
    /// when an earlier attempt may have got that far.
    pub fn deliver_once(&self, message: &[u8], key: &str) -> io::Result<String> {
        let name = keyed_name(key, message.len());
        if self.path.join("new").join(&name).exists() {
            return Ok(name);
        }
        for entry in fs::read_dir(self.path.join("cur"))? {
            let found = entry?.file_name();
            let found = found.to_string_lossy();
            if found.split_once(':').map_or(&*found, |(base, _)| base) == name {
                return Ok(found.into_owned());
            }
        }
        self.store(message, name)
    }

    /// Stores `message` under the name [`Maildir::deliver_once`] would look for, without
    /// looking: for a first attempt.
    pub fn deliver_keyed(&self, message: &[u8], key: &str) -> io::Result<String> {
        self.store(message, keyed_name(key, message.len()))
    }

    fn store(&self, message: &[u8], name: String) -> io::Result<String> {
        let tmp = self.path.join("tmp").join(&name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let written = file.write_all(message).and_then(|()| file.sync_all());
        if let Err(err) = written {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Err(err);
        }
        let new_dir = self.path.join("new");
        fs::rename(&tmp, new_dir.join(&name))?;
        File::open(&new_dir)?.sync_all()?;
        Ok(name)
    }
}

/// A name no other delivery on this host uses: the time to the microsecond, the process and a
/// per-process counter, then the host and the size.
fn unique_name(size: usize) -> String {
    static DELIVERIES: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let count = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{}.{},S={}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        count,
        host_name(),
        size
    )
}

fn keyed_name(key: &str, size: usize) -> String {
    format!("{key}.{},S={size}", host_name())
}

/// This host's name with the two characters maildir names reserve (`/` and `:`) escaped as
/// the convention says (`\057`, `\072`).
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe a live, writable buffer.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = if ok && len > 0 {
        String::from_utf8_lossy(&buf[..len]).into_owned()
    } else {
        "localhost".into()
    };
    name.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_into_new_with_the_size_in_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(&dir.path().join("bob")).unwrap();
        let name = maildir.deliver(b"Subject: hi\r\n\r\nbody\r\n").unwrap();
        assert!(name.ends_with(",S=21"), "{name}");
        let stored = fs::read(maildir.path().join("new").join(&name)).unwrap();
        assert_eq!(stored, b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(fs::read_dir(maildir.path().join("tmp")).unwrap().count(), 0);
        assert!(maildir.path().join("cur").is_dir());
    }

    #[test]
    fn a_repeated_keyed_delivery_makes_no_second_copy() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path()).unwrap();
        let first = maildir.deliver_once(b"x\r\n", "1800000000.Q1R0").unwrap();
        assert_eq!(maildir.deliver_once(b"x\r\n", "1800000000.Q1R0").unwrap(), first);
        // Still found once a reader has moved it to cur/ with flags.
        fs::rename(
            maildir.path().join("new").join(&first),
            maildir.path().join("cur").join(format!("{first}:2,S")),
        )
        .unwrap();
        let again = maildir.deliver_once(b"x\r\n", "1800000000.Q1R0").unwrap();
        assert_eq!(again, format!("{first}:2,S"));
        maildir.deliver_once(b"x\r\n", "1800000000.Q1R1").unwrap();
        assert_eq!(fs::read_dir(maildir.path().join("new")).unwrap().count(), 1);
        assert_eq!(fs::read_dir(maildir.path().join("cur")).unwrap().count(), 1);
    }

    #[test]
    fn every_delivery_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path()).unwrap();
        let names: std::collections::HashSet<String> = (0..50)
            .map(|_| maildir.deliver(b"x\r\n").unwrap())
            .collect();
        assert_eq!(names.len(), 50);
    }
}
