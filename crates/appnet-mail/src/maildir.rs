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
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

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

    /// The name a keyed delivery (one queued message for one recipient) has here, in `new/`
    /// or, once a reader has seen it, in `cur/` with flags; `None` if it is not here. Costs a
    /// directory scan.
    fn find_keyed(&self, name: &str) -> io::Result<Option<String>> {
        if self.path.join("new").join(name).exists() {
            return Ok(Some(name.to_string()));
        }
        for entry in fs::read_dir(self.path.join("cur"))? {
            let found = entry?.file_name();
            let found = found.to_string_lossy();
            if found.split_once(':').map_or(&*found, |(base, _)| base) == name {
                return Ok(Some(found.into_owned()));
            }
        }
        Ok(None)
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

/// One local delivery for the [`MaildirWriter`].
struct Request {
    maildir: PathBuf,
    message: Vec<u8>,
    /// Names the delivery (queued message and recipient), so that a repeat is recognised.
    key: String,
    /// An earlier attempt may have stored it already: look before writing.
    check_existing: bool,
    reply: oneshot::Sender<io::Result<String>>,
}

/// Local deliveries, batched by one thread so that many messages share the cost of making them
/// durable: every message waiting is written to `tmp/`, then one `syncfs` flushes them all,
/// then each is renamed into `new/`, then a second `syncfs` flushes the renames. A message
/// appears in `new/` only with its bytes on disk, and delivery is reported only once its name
/// is too; two flushes per batch instead of two per message.
#[derive(Clone)]
pub struct MaildirWriter {
    requests: std::sync::mpsc::Sender<Request>,
}

impl MaildirWriter {
    pub fn start() -> io::Result<MaildirWriter> {
        let (requests, inbox) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("maildir".into())
            .spawn(move || run_deliveries(&inbox))?;
        Ok(MaildirWriter { requests })
    }

    /// Delivers `message` into the Maildir at `maildir` (made if missing) under a name derived
    /// from `key`; with `check_existing`, an earlier copy under that name is the delivery.
    pub async fn deliver(
        &self,
        maildir: &Path,
        message: Vec<u8>,
        key: String,
        check_existing: bool,
    ) -> io::Result<String> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            maildir: maildir.to_path_buf(),
            message,
            key,
            check_existing,
            reply,
        };
        self.requests
            .send(request)
            .map_err(|_| io::Error::other("the Maildir writer has stopped"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the Maildir writer has stopped"))?
    }
}

/// Bytes of messages written per batch at most.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

fn run_deliveries(inbox: &std::sync::mpsc::Receiver<Request>) {
    lower_priority();
    while let Ok(first) = inbox.recv() {
        let mut bytes = first.message.len();
        let mut batch = vec![first];
        while bytes < MAX_BATCH_BYTES {
            let Ok(next) = inbox.try_recv() else { break };
            bytes += next.message.len();
            batch.push(next);
        }
        deliver_batch(batch);
    }
}

/// Runs this thread at nice 10. Mail is acknowledged once it is in the queue; moving it into
/// mailboxes can wait a moment. When the CPU is short, sessions waiting for their `250` go
/// first and deliveries catch up after, as an MTA's queue manager lets its SMTP server do.
fn lower_priority() {
    // SAFETY: gettid and setpriority on this thread only; failure leaves the priority as is.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 10);
    }
}

/// A delivery written to `tmp/`, waiting for the flush that lets it into `new/`.
struct Staged {
    maildir: Maildir,
    name: String,
    reply: oneshot::Sender<io::Result<String>>,
}

fn deliver_batch(batch: Vec<Request>) {
    let mut staged = Vec::with_capacity(batch.len());
    for request in batch {
        match stage(&request) {
            Ok(Some(maildir)) => staged.push(Staged {
                maildir,
                name: keyed_name(&request.key, request.message.len()),
                reply: request.reply,
            }),
            Ok(None) => {
                let name = keyed_name(&request.key, request.message.len());
                let found = Maildir::create(&request.maildir)
                    .and_then(|m| m.find_keyed(&name))
                    .map(|found| found.unwrap_or(name));
                let _ = request.reply.send(found);
            }
            Err(err) => {
                let _ = request.reply.send(Err(err));
            }
        }
    }
    if staged.is_empty() {
        return;
    }
    let flushed = sync_filesystems(staged.iter().map(|s| s.maildir.path.join("tmp")));
    let mut renamed = Vec::with_capacity(staged.len());
    for item in staged {
        let tmp = item.maildir.path.join("tmp").join(&item.name);
        let moved = flushed
            .as_ref()
            .map_err(|err| io::Error::new(err.kind(), err.to_string()))
            .and_then(|()| fs::rename(&tmp, item.maildir.path.join("new").join(&item.name)));
        match moved {
            Ok(()) => renamed.push(item),
            Err(err) => {
                let _ = fs::remove_file(&tmp);
                let _ = item.reply.send(Err(err));
            }
        }
    }
    let flushed = sync_filesystems(renamed.iter().map(|s| s.maildir.path.join("new")));
    for item in renamed {
        let result = match &flushed {
            Ok(()) => {
                crate::store::announce(&item.maildir.path);
                Ok(item.name)
            }
            Err(err) => Err(io::Error::new(err.kind(), err.to_string())),
        };
        let _ = item.reply.send(result);
    }
}

/// Writes the request's message to `tmp/` under its keyed name; `None` if an earlier copy is
/// already delivered.
fn stage(request: &Request) -> io::Result<Option<Maildir>> {
    let maildir = Maildir::create(&request.maildir)?;
    let name = keyed_name(&request.key, request.message.len());
    if request.check_existing && maildir.find_keyed(&name)?.is_some() {
        return Ok(None);
    }
    // Not create_new: a crash may have left this very file half-written in tmp/.
    let tmp = maildir.path.join("tmp").join(&name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    if let Err(err) = file.write_all(&request.message) {
        drop(file);
        let _ = fs::remove_file(&tmp);
        return Err(err);
    }
    Ok(Some(maildir))
}

/// `syncfs(2)` once for each file system the directories are on.
fn sync_filesystems(dirs: impl Iterator<Item = PathBuf>) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let mut done = std::collections::HashSet::new();
    for dir in dirs {
        let file = File::open(&dir)?;
        if done.insert(file.metadata()?.dev()) {
            // SAFETY: syncfs on a descriptor this function owns.
            if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// A name no other delivery on this host uses: the time to the microsecond, the process and a
/// per-process counter, then the host and the size.
pub(crate) fn unique_name(size: usize) -> String {
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

    #[tokio::test]
    async fn a_repeated_keyed_delivery_makes_no_second_copy() {
        let dir = tempfile::tempdir().unwrap();
        let deliverer = MaildirWriter::start().unwrap();
        let deliver = |key: &str, check: bool| {
            deliverer.deliver(dir.path(), b"x\r\n".to_vec(), key.to_string(), check)
        };
        let first = deliver("1800000000.Q1R0", false).await.unwrap();
        assert_eq!(deliver("1800000000.Q1R0", true).await.unwrap(), first);
        // Still found once a reader has moved it to cur/ with flags.
        fs::rename(
            dir.path().join("new").join(&first),
            dir.path().join("cur").join(format!("{first}:2,S")),
        )
        .unwrap();
        let again = deliver("1800000000.Q1R0", true).await.unwrap();
        assert_eq!(again, format!("{first}:2,S"));
        deliver("1800000000.Q1R1", true).await.unwrap();
        assert_eq!(fs::read_dir(dir.path().join("new")).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path().join("cur")).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_batch_of_deliveries_all_land_whole() {
        let dir = tempfile::tempdir().unwrap();
        let deliverer = MaildirWriter::start().unwrap();
        let deliveries = (0..100).map(|n| {
            let deliverer = deliverer.clone();
            let path = dir.path().join(format!("user{}", n % 3));
            tokio::spawn(async move {
                let body = format!("message {n}\r\n").into_bytes();
                deliverer
                    .deliver(&path, body, format!("1.Q{n}R0"), false)
                    .await
                    .unwrap()
            })
        });
        for delivery in deliveries {
            delivery.await.unwrap();
        }
        let count: usize = (0..3)
            .map(|u| {
                fs::read_dir(dir.path().join(format!("user{u}/new")))
                    .unwrap()
                    .count()
            })
            .sum();
        assert_eq!(count, 100);
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
