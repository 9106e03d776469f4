//! Delivery: takes each queued message and delivers it — local recipients into their
//! Maildirs, the others through the [`Relay`] — then records in the queue which recipients are
//! finished. Temporary failures are retried with exponential backoff; permanent ones, and
//! temporary ones older than the give-up time, are bounced to the sender (RFC 3464) unless
//! the message is itself a bounce (RFC 5321 §4.5.5).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use appnet_core::lifecycle::Shutdown;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::accounts::Accounts;
use crate::dsn::{Bounce, Failure};
use crate::maildir::MaildirWriter;
use crate::queue::{Pending, Queue, unix_now};
use crate::relay::{Outbound, Relay};
use crate::smtp::{Outcome, Reply};

/// Messages delivered at the same time, at most.
const PARALLEL_DELIVERIES: usize = 64;

/// The domains a server keeps mail for, and where.
#[derive(Debug, Clone)]
pub struct LocalMail {
    pub domains: HashSet<String>,
    pub accounts: Accounts,
    /// Mailboxes are `<root>/<domain>/<local part>/`.
    pub maildir_root: PathBuf,
}

impl LocalMail {
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.contains(&domain.to_ascii_lowercase())
    }

    /// The Maildir of a local recipient that has an account.
    pub fn mailbox(&self, rcpt: &str) -> Option<PathBuf> {
        let (local, domain) = rcpt.rsplit_once('@')?;
        let domain = domain.to_ascii_lowercase();
        let safe =
            |part: &str| !part.is_empty() && !part.contains('/') && part != "." && part != "..";
        if !self.is_local_domain(&domain) || !self.accounts.contains(rcpt) || !safe(local) {
            return None;
        }
        Some(self.maildir_root.join(domain).join(local.to_lowercase()))
    }
}

/// How long to wait before retrying, and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt: first, 2·first, 4·first, … up to max.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// What delivering needs.
pub struct Deliverer {
    pub queue: Queue,
    pub local: Arc<LocalMail>,
    pub relay: Relay,
    pub hostname: String,
    pub retry: RetryPolicy,
    pub maildirs: MaildirWriter,
}

/// A message on its way, with how often it has been tried.
struct Job {
    pending: Pending,
    attempts: u32,
    /// An earlier attempt (in this run, or one a crash cut short) may have delivered some
    /// local recipients without the queue recording it.
    maybe_delivered: bool,
}

/// Runs deliveries until `shutdown`: first of `recovered` (what the queue held at start),
/// then of every message sent on `inbox`.
pub async fn run(
    deliverer: Arc<Deliverer>,
    recovered: Vec<Pending>,
    inbox: mpsc::UnboundedSender<Pending>,
    mut arrivals: mpsc::UnboundedReceiver<Pending>,
    shutdown: Shutdown,
) {
    let (finished_tx, mut finished) = mpsc::unbounded_channel::<Job>();
    let slots = Arc::new(Semaphore::new(PARALLEL_DELIVERIES));
    let mut waiting: BTreeMap<(Instant, u64), Job> = BTreeMap::new();
    let start = |job: Job| {
        let deliverer = deliverer.clone();
        let finished = finished_tx.clone();
        let slots = slots.clone();
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire().await else {
                return;
            };
            let job = deliverer.attempt(job, &inbox).await;
            if !job.pending.rcpt_to.is_empty() {
                let _ = finished.send(job);
            }
        });
    };
    for pending in recovered {
        start(Job {
            pending,
            attempts: 0,
            maybe_delivered: true,
        });
    }
    loop {
        let next_due = waiting.keys().next().map(|(due, _)| *due);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(pending) = arrivals.recv() => start(Job {
                pending,
                attempts: 0,
                maybe_delivered: false,
            }),
            Some(job) = finished.recv() => {
                let due = Instant::now() + deliverer.retry.backoff(job.attempts);
                waiting.insert((due, job.pending.id), job);
            }
            _ = sleep_until(next_due) => {
                let now = Instant::now();
                while let Some(entry) = waiting.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    start(entry.remove());
                }
            }
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

impl Deliverer {
    /// One attempt at every recipient still pending; returns the job with the recipients left
    /// for a retry.
    async fn attempt(&self, mut job: Job, inbox: &mpsc::UnboundedSender<Pending>) -> Job {
        job.attempts += 1;
        let pending = &job.pending;
        let data = match pending.data.read() {
            Ok(data) => data,
            Err(err) => {
                tracing::error!("mail queue: cannot read message {}: {err}", pending.id);
                return job;
            }
        };
        let attempted = self.try_recipients(&job, &data).await;
        let expired =
            unix_now().saturating_sub(pending.arrival) > self.retry.give_up_after.as_secs();
        let mut finished = Vec::new();
        let mut failures = Vec::new();
        for Attempted {
            rcpt,
            outcome,
            route,
        } in attempted
        {
            // One line per recipient and attempt, like an MTA's mail log.
            let status = match &outcome {
                Outcome::Accepted(_) => "sent",
                Outcome::Transient(_) if !expired => "deferred",
                _ => "bounced",
            };
            tracing::info!(
                "mail {:X}: to=<{rcpt}> via={} status={status} ({})",
                pending.id,
                route.name(),
                outcome.reply()
            );
            match outcome {
                Outcome::Accepted(_) => finished.push(rcpt),
                Outcome::Transient(_) if !expired => {}
                Outcome::Transient(reply) | Outcome::Permanent(reply) => {
                    failures.push(Failure {
                        rcpt,
                        reply,
                        remote_mta: route.exchanger(),
                    });
                }
            }
        }
        if !failures.is_empty() {
            self.bounce(pending, &failures, &data, inbox).await;
        }
        for rcpt in finished.iter().chain(failures.iter().map(|f| &f.rcpt)) {
            if let Err(err) = self.queue.done(pending.id, rcpt).await {
                tracing::error!(
                    "mail queue: cannot record delivery of {}: {err}",
                    pending.id
                );
            }
        }
        job.pending
            .rcpt_to
            .retain(|r| !finished.contains(r) && !failures.iter().any(|f| f.rcpt == *r));
        job.maybe_delivered = true;
        job
    }

    /// Delivers to every pending recipient once: local ones into their Maildirs, the others
    /// relayed a domain at a time.
    async fn try_recipients(&self, job: &Job, data: &[u8]) -> Vec<Attempted> {
        let pending = &job.pending;
        let mut attempted = Vec::new();
        let (local, remote): (Vec<&String>, Vec<&String>) = pending
            .rcpt_to
            .iter()
            .partition(|rcpt| self.local.is_local_domain(domain_of(rcpt)));
        for rcpt in local {
            let outcome = self
                .deliver_locally(pending, rcpt, data, job.maybe_delivered)
                .await;
            attempted.push(Attempted {
                rcpt: rcpt.clone(),
                outcome,
                route: Route::Maildir,
            });
        }
        let mut by_domain: HashMap<String, Vec<String>> = HashMap::new();
        for rcpt in remote {
            by_domain
                .entry(domain_of(rcpt).to_ascii_lowercase())
                .or_default()
                .push(rcpt.clone());
        }
        for (domain, rcpts) in by_domain {
            let outbound = Outbound {
                domain: &domain,
                mail_from: &pending.mail_from,
                rcpt_to: &rcpts,
                data,
                body_8bit: pending.body_8bit,
                smtputf8: pending.smtputf8,
            };
            let relayed = self.relay.deliver(&outbound).await;
            for (rcpt, outcome) in relayed.recipients {
                attempted.push(Attempted {
                    rcpt,
                    outcome,
                    route: Route::Relay {
                        domain: domain.clone(),
                        exchanger: relayed.exchanger.clone(),
                    },
                });
            }
        }
        attempted
    }

    async fn deliver_locally(
        &self,
        pending: &Pending,
        rcpt: &str,
        data: &[u8],
        maybe_delivered: bool,
    ) -> Outcome {
        let Some(path) = self.local.mailbox(rcpt) else {
            return Outcome::Permanent(Reply::with_status(
                550,
                (5, 1, 1),
                format!("<{rcpt}>: no such mailbox here"),
            ));
        };
        // RFC 5321 §4.4: the final delivery adds the reverse path as Return-Path.
        let mut message = format!("Return-Path: <{}>\r\n", pending.mail_from).into_bytes();
        message.extend_from_slice(data);
        // The same name for the same queued message and recipient, every attempt.
        let key = format!(
            "{}.Q{:X}R{:08x}",
            pending.arrival,
            pending.id,
            crc32fast::hash(rcpt.to_lowercase().as_bytes())
        );
        let stored = self
            .maildirs
            .deliver(&path, message, key, maybe_delivered)
            .await;
        match stored {
            Ok(name) => Outcome::Accepted(Reply::with_status(
                250,
                (2, 0, 0),
                format!("delivered to Maildir as new/{name}"),
            )),
            Err(err) => Outcome::Transient(Reply::with_status(
                451,
                (4, 3, 0),
                format!("mailbox of {rcpt}: {err}"),
            )),
        }
    }

    /// Queues a bounce of `failures` to the sender; a bounce of a bounce is dropped.
    async fn bounce(
        &self,
        pending: &Pending,
        failures: &[Failure],
        data: &[u8],
        inbox: &mpsc::UnboundedSender<Pending>,
    ) {
        if pending.mail_from.is_empty() {
            return;
        }
        let report = Bounce {
            reporting_mta: &self.hostname,
            to: &pending.mail_from,
            arrival: UNIX_EPOCH + Duration::from_secs(pending.arrival),
            failures,
            original: data,
        }
        .to_bytes();
        match self
            .queue
            .store(
                String::new(),
                vec![pending.mail_from.clone()],
                (false, !pending.mail_from.is_ascii()),
                report,
            )
            .await
        {
            Ok(bounce) => {
                let _ = inbox.send(bounce);
            }
            Err(err) => tracing::error!(
                "mail queue: cannot queue a bounce for {}: {err}",
                pending.id
            ),
        }
    }
}

/// One recipient's outcome in one attempt, and where it went.
struct Attempted {
    rcpt: String,
    outcome: Outcome,
    route: Route,
}

enum Route {
    Maildir,
    /// Relayed to `domain`; `exchanger` is the server that answered, if one did.
    Relay {
        domain: String,
        exchanger: Option<String>,
    },
}

impl Route {
    /// For the mail log: `maildir`, the exchanger, or the domain when none answered.
    fn name(&self) -> &str {
        match self {
            Route::Maildir => "maildir",
            Route::Relay { domain, exchanger } => exchanger.as_deref().unwrap_or(domain),
        }
    }

    /// RFC 3464's Remote-MTA.
    fn exchanger(&self) -> Option<String> {
        match self {
            Route::Maildir => None,
            Route::Relay { exchanger, .. } => exchanger.clone(),
        }
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let retry = RetryPolicy {
            first: Duration::from_secs(60),
            max: Duration::from_secs(600),
            give_up_after: Duration::from_secs(86_400),
        };
        let waits: Vec<u64> = (1..=6).map(|n| retry.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![60, 120, 240, 480, 600, 600]);
        assert_eq!(retry.backoff(200).as_secs(), 600);
    }

    #[test]
    fn only_accounts_in_local_domains_have_mailboxes() {
        let mut accounts = Accounts::default();
        accounts.insert(
            "bob@beta.example",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        );
        let local = LocalMail {
            domains: HashSet::from(["beta.example".to_string()]),
            accounts,
            maildir_root: PathBuf::from("/m"),
        };
        assert_eq!(
            local.mailbox("Bob@Beta.example"),
            Some(PathBuf::from("/m/beta.example/bob"))
        );
        assert_eq!(local.mailbox("carol@beta.example"), None);
        assert_eq!(local.mailbox("bob@gamma.example"), None);
        assert!(local.is_local_domain("BETA.example"));
    }
}
