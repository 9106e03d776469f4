//! The durable mail queue: a message is on disk (group-committed into the [`journal`]) before
//! the server says `250`, and stays there until every recipient is delivered or bounced.
//!
//! One thread owns the journal. Sessions and deliveries send it requests; it takes every
//! request that is waiting, writes them in one go, flushes once, then answers each. Under load
//! this is group commit: the cost of a disk flush is shared by all messages that arrived
//! during the previous one.

pub mod journal;
pub mod record;

use std::io;
use std::path::Path;
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

pub use self::journal::{DataRef, Entry, Journal, Pending};
pub use self::record::QueuedMessage;

/// Bytes of messages taken into one group commit at most: bounds the memory of one batch.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// A request to the journal thread.
enum Request {
    Write {
        entry: Entry,
        reply: oneshot::Sender<io::Result<Option<Pending>>>,
    },
    /// Close the journal (releasing its directory lock) and stop; answered once closed.
    Close(oneshot::Sender<()>),
}

/// A handle to the queue; clones share the one journal thread, which stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Queue {
    requests: mpsc::Sender<Request>,
}

impl Queue {
    /// Opens (and recovers) the queue in `dir`; returns it with the messages still pending
    /// from earlier runs.
    pub fn open(dir: &Path) -> io::Result<(Queue, Vec<Pending>)> {
        let journal = Journal::open(dir)?;
        let recovered: Vec<Pending> = journal.pending().cloned().collect();
        let (requests, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("mail-queue".into())
            .spawn(move || run_journal(journal, inbox))?;
        Ok((Queue { requests }, recovered))
    }

    /// Stores a message durably; when this returns, a crash can no longer lose it.
    pub async fn store(
        &self,
        mail_from: String,
        rcpt_to: Vec<String>,
        flags: (bool, bool),
        data: Vec<u8>,
    ) -> io::Result<Pending> {
        let message = QueuedMessage {
            id: 0,
            arrival: unix_now(),
            mail_from,
            rcpt_to,
            body_8bit: flags.0,
            smtputf8: flags.1,
            data,
        };
        self.request(Entry::Message(message))
            .await?
            .ok_or_else(|| io::Error::other("the journal placed no message"))
    }

    /// Records durably that `rcpt` of message `id` needs nothing more.
    pub async fn done(&self, id: u64, rcpt: &str) -> io::Result<()> {
        self.request(Entry::Done {
            id,
            rcpt: rcpt.to_string(),
        })
        .await
        .map(drop)
    }

    /// Closes the journal for every handle, releasing its directory to the next server; later
    /// requests fail. Returns once it is closed.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.requests.send(Request::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }

    async fn request(&self, entry: Entry) -> io::Result<Option<Pending>> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Write { entry, reply })
            .map_err(|_| io::Error::other("the mail queue has stopped"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the mail queue has stopped"))?
    }
}

/// The journal thread: group commits until every handle is gone or one asks it to close.
fn run_journal(mut journal: Journal, inbox: mpsc::Receiver<Request>) {
    while let Ok(first) = inbox.recv() {
        let (batch, close) = gather(first, &inbox);
        commit(&mut journal, batch);
        if let Some(done) = close {
            drop(journal);
            let _ = done.send(());
            return;
        }
    }
}

type Write = (Entry, oneshot::Sender<io::Result<Option<Pending>>>);

/// `first` and every request already waiting behind it, up to a batch's worth of bytes or a
/// request to close.
fn gather(
    first: Request,
    inbox: &mpsc::Receiver<Request>,
) -> (Vec<Write>, Option<oneshot::Sender<()>>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    let mut next = Some(first);
    while let Some(request) = next {
        match request {
            Request::Write { entry, reply } => {
                bytes += entry_bytes(&entry);
                batch.push((entry, reply));
            }
            Request::Close(done) => return (batch, Some(done)),
        }
        next = if bytes < MAX_BATCH_BYTES {
            inbox.try_recv().ok()
        } else {
            None
        };
    }
    (batch, None)
}

/// One write and one flush for the whole batch, then every writer hears how it went.
fn commit(journal: &mut Journal, batch: Vec<Write>) {
    if batch.is_empty() {
        return;
    }
    let (entries, replies): (Vec<Entry>, Vec<_>) = batch.into_iter().unzip();
    match journal.commit(entries) {
        Ok(placed) => {
            for (reply, pending) in replies.into_iter().zip(placed) {
                let _ = reply.send(Ok(pending));
            }
        }
        Err(err) => {
            tracing::error!("mail queue: cannot write the journal: {err}");
            for reply in replies {
                let _ = reply.send(Err(io::Error::new(err.kind(), err.to_string())));
            }
        }
    }
}

fn entry_bytes(entry: &Entry) -> usize {
    match entry {
        Entry::Message(message) => message.data.len(),
        Entry::Done { rcpt, .. } => rcpt.len(),
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_stores_are_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let (queue, recovered) = Queue::open(dir.path()).unwrap();
        assert!(recovered.is_empty());
        let stores = (0..200).map(|n| {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue
                    .store(
                        "a@x".into(),
                        vec![format!("r{n}@y")],
                        (false, false),
                        format!("message {n}").into_bytes(),
                    )
                    .await
                    .unwrap()
            })
        });
        let mut ids = Vec::new();
        for store in stores {
            ids.push(store.await.unwrap().id);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200);
        queue.done(ids[0], "r0@y").await.unwrap();
        // Closing releases the directory at once: a new queue may open it and recover.
        queue.close().await;
        assert!(queue.done(ids[1], "r1@y").await.is_err());
        let (_queue, recovered) = Queue::open(dir.path()).unwrap();
        assert_eq!(recovered.len(), 199);
    }
}
