//! The tokio driver of a mail server: accepts SMTP connections and runs each through a
//! [`ServerSession`], stores every accepted message in the durable [`Queue`] before the
//! session may say `250`, and hands it to the [`delivery`](crate::delivery) loop, which
//! delivers locally or relays by MX. The same server's users read their mail over IMAP
//! ([`crate::imap_server`]) and POP3 ([`crate::pop3_server`]).
//!
//! Relaying is refused to anyone not authenticated (no open relay): mail for a domain this
//! server does not keep is accepted only from a user who logged in. AUTH needs TLS, except
//! from loopback clients when the config allows it.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use appnet_core::lifecycle::Shutdown;
use appnet_core::net::{TcpLimits, accept_connections};
use appnet_core::tls::accept_within;
use appnet_core::trace::{Role, TraceScope, Tracer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::accounts::{Accounts, is_valid_hash};
use crate::client::{opportunistic_tls, summarize};
use crate::config::MailServerConfig;
use crate::delivery::{self, Deliverer, LocalMail, RetryPolicy};
use crate::imap_server::{self, ImapOptions};
use crate::maildir::MaildirWriter;
use crate::message::format_date;
use crate::pop3_server;
use crate::queue::{Pending, Queue};
use crate::relay::Relay;
use crate::smtp::{Envelope, Output, Policy, RcptVerdict, Reply, ServerConfig, ServerSession};

/// How long a relay waits to connect and for each reply (RFC 5321 §4.5.3.2 suggests minutes;
/// on the loopback mini Internet a minute is plenty).
const RELAY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail queue in {path}: {source}")]
    Queue {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot start the Maildir writer: {0}")]
    Thread(#[source] io::Error),
    #[error("user {0}: the password is not an argon2 hash (make one with `appnet mail adduser`)")]
    BadHash(String),
}

/// A mail server ready to run: its queue opened and recovered, its accounts loaded.
pub struct MailServer {
    context: Arc<Context>,
    recovered: Vec<Pending>,
    arrivals: mpsc::UnboundedReceiver<Pending>,
}

/// What every connection of one server shares.
struct Context {
    config: MailServerConfig,
    local: Arc<LocalMail>,
    queue: Queue,
    deliverer: Arc<Deliverer>,
    tls: Option<TlsAcceptor>,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    inbox: mpsc::UnboundedSender<Pending>,
    tracer: Tracer,
}

impl MailServer {
    /// Loads the accounts and opens the queue of `config`; `tls` enables STARTTLS.
    pub fn open(
        config: &MailServerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        tracer: Tracer,
    ) -> Result<MailServer, MailError> {
        let mut accounts = Accounts::default();
        for user in &config.users {
            if !is_valid_hash(&user.password) {
                return Err(MailError::BadHash(user.address.clone()));
            }
            accounts.insert(&user.address, &user.password);
        }
        let local = Arc::new(LocalMail {
            domains: config
                .domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect::<HashSet<_>>(),
            accounts,
            maildir_root: config.maildir.clone(),
        });
        let (queue, recovered) = Queue::open(&config.queue).map_err(|source| MailError::Queue {
            path: config.queue.display().to_string(),
            source,
        })?;
        let relay = Relay {
            resolver: config.resolver,
            port: config.relay_port,
            source: config
                .smtp
                .map(|listen| listen.ip())
                .filter(|ip| !ip.is_unspecified()),
            ehlo_name: config.hostname.clone(),
            tls: opportunistic_tls(),
            timeout: RELAY_TIMEOUT,
            tracer: tracer.clone(),
        };
        let deliverer = Arc::new(Deliverer {
            queue: queue.clone(),
            local: local.clone(),
            relay,
            hostname: config.hostname.clone(),
            retry: RetryPolicy {
                first: config.retry_first.0,
                max: config.retry_max.0,
                give_up_after: config.give_up_after.0,
            },
            maildirs: MaildirWriter::start().map_err(MailError::Thread)?,
        });
        let (inbox, arrivals) = mpsc::unbounded_channel();
        Ok(MailServer {
            context: Arc::new(Context {
                config: config.clone(),
                local,
                queue,
                deliverer,
                tls: tls.clone().map(TlsAcceptor::from),
                tls_config: tls,
                inbox,
                tracer,
            }),
            recovered,
            arrivals,
        })
    }

    /// How many messages the queue held from earlier runs.
    pub fn recovered(&self) -> usize {
        self.recovered.len()
    }

    /// Serves SMTP (and IMAP and POP3 where `listeners` has them) and delivers until
    /// `shutdown`.
    pub async fn run(self, listeners: Listeners, shutdown: Shutdown) -> io::Result<()> {
        let context = self.context;
        let deliveries = tokio::spawn(delivery::run(
            context.deliverer.clone(),
            self.recovered,
            context.inbox.clone(),
            self.arrivals,
            shutdown.clone(),
        ));
        let mut access = tokio::task::JoinSet::new();
        for (listener, implicit_tls) in [(listeners.imap, false), (listeners.imaps, true)] {
            if let Some(listener) = listener {
                let mut options = ImapOptions::new(context.local.clone(), context.access_limits());
                options.tls = context.tls_config.clone();
                options.implicit_tls = implicit_tls;
                options.hostname = context.config.hostname.clone();
                options.max_message_bytes = context.config.max_message_bytes;
                options.tracer = context.tracer.clone();
                access.spawn(imap_server::serve_with(listener, options, shutdown.clone()));
            }
        }
        for (listener, implicit_tls) in [(listeners.pop3, false), (listeners.pop3s, true)] {
            if let Some(listener) = listener {
                access.spawn(pop3_server::serve(
                    listener,
                    context.local.clone(),
                    context.tls_config.clone(),
                    implicit_tls,
                    context.access_limits(),
                    context.tracer.clone(),
                    shutdown.clone(),
                ));
            }
        }
        let max = context.config.max_connections;
        let smtp = listeners.smtp;
        let queue = context.queue.clone();
        let served = accept_connections(smtp, max, shutdown, "smtp", move |stream, peer| {
            let context = context.clone();
            async move { serve_connection(context, stream, peer).await }
        })
        .await;
        deliveries.abort();
        let _ = deliveries.await;
        while let Some(ended) = access.join_next().await {
            ended.map_err(io::Error::other)??;
        }
        // Connections still finishing may hold the queue; close it for them, so that the
        // directory is free for the next server as soon as this one returns.
        queue.close().await;
        served
    }
}

/// The sockets one mail server serves: SMTP always, mail access where configured.
pub struct Listeners {
    pub smtp: TcpListener,
    pub imap: Option<TcpListener>,
    pub imaps: Option<TcpListener>,
    pub pop3: Option<TcpListener>,
    pub pop3s: Option<TcpListener>,
}

impl Listeners {
    /// SMTP alone.
    pub fn smtp(listener: TcpListener) -> Listeners {
        Listeners {
            smtp: listener,
            imap: None,
            imaps: None,
            pop3: None,
            pop3s: None,
        }
    }
}

impl Context {
    /// IMAP and POP3 sessions: as many as SMTP's, and their own protocols' idle timeouts.
    fn access_limits(&self) -> TcpLimits {
        TcpLimits {
            max_connections: self.config.max_connections,
            idle_timeout: imap_server::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Who may send to whom.
struct ServerPolicy {
    local: Arc<LocalMail>,
}

impl Policy for ServerPolicy {
    fn check_recipient(&self, rcpt: &str, authenticated_as: Option<&str>) -> RcptVerdict {
        let domain = rcpt.rsplit_once('@').map_or("", |(_, domain)| domain);
        if self.local.is_local_domain(domain) {
            if self.local.mailbox(rcpt).is_some() {
                RcptVerdict::Accept
            } else {
                RcptVerdict::UnknownUser
            }
        } else if authenticated_as.is_some() {
            RcptVerdict::Accept
        } else {
            RcptVerdict::RelayDenied
        }
    }
}

async fn serve_connection(
    context: Arc<Context>,
    stream: TcpStream,
    peer: SocketAddr,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?;
    let trace = context.tracer.scope("smtp", Role::Server, local, peer);
    let config = ServerConfig {
        hostname: context.config.hostname.clone(),
        max_message_bytes: context.config.max_message_bytes,
        max_recipients: context.config.max_recipients,
        tls_available: context.tls.is_some(),
        auth_without_tls: context.config.loopback_auth_without_tls && peer.ip().is_loopback(),
        tls_active: false,
    };
    let policy = Arc::new(ServerPolicy {
        local: context.local.clone(),
    });
    let mut session = ServerSession::new(config, policy, peer.to_string());
    session.set_trace(trace.is_listening());
    let connection = Connection {
        context: &context,
        peer,
        trace,
    };
    let Some(stream) = connection.converse(stream, &mut session).await? else {
        return Ok(());
    };
    let Some(acceptor) = &context.tls else {
        return Ok(());
    };
    let stream = accept_within(acceptor, stream, context.config.idle_timeout.0).await?;
    session.tls_established();
    connection.converse(stream, &mut session).await?;
    Ok(())
}

struct Connection<'a> {
    context: &'a Context,
    peer: SocketAddr,
    trace: TraceScope,
}

impl Connection<'_> {
    /// Runs the session over `stream` until it closes (`None`) or asks for TLS (the stream
    /// back, to upgrade).
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        session: &mut ServerSession,
    ) -> io::Result<Option<S>> {
        let mut buf = vec![0u8; 16 * 1024];
        let idle = self.context.config.idle_timeout.0;
        loop {
            let mut pending_write = Vec::new();
            while let Some(output) = session.poll_output() {
                match output {
                    Output::Send(bytes) => {
                        self.trace.sent(&bytes, || summarize(&bytes));
                        pending_write.extend_from_slice(&bytes);
                    }
                    Output::Received(line) => {
                        self.trace.received(line.as_bytes(), || line.clone());
                    }
                    Output::StartTls => {
                        stream.write_all(&pending_write).await?;
                        return Ok(Some(stream));
                    }
                    Output::Authenticate { user, password, .. } => {
                        let local = self.context.local.clone();
                        let identity = tokio::task::spawn_blocking(move || {
                            local.accounts.verify(&user, &password)
                        })
                        .await
                        .map_err(io::Error::other)?;
                        session.auth_result(identity);
                    }
                    Output::Message(envelope, data) => {
                        let stored = self.store(envelope, data).await;
                        session.message_stored(stored);
                    }
                    Output::Close => {
                        stream.write_all(&pending_write).await?;
                        let _ = stream.shutdown().await;
                        return Ok(None);
                    }
                }
            }
            // Replies to a pipelined group go out together (RFC 2920 §3.1).
            stream.write_all(&pending_write).await?;
            let read = match tokio::time::timeout(idle, stream.read(&mut buf)).await {
                Ok(read) => read?,
                Err(_) => {
                    let bye = Reply::with_status(
                        421,
                        (4, 4, 2),
                        format!("{} closing: idle too long", self.context.config.hostname),
                    );
                    let _ = stream.write_all(&bye.encode()).await;
                    return Ok(None);
                }
            };
            if read == 0 {
                session.feed_eof();
                if session.is_closed() {
                    return Ok(None);
                }
            } else {
                session.feed(&buf[..read]);
            }
        }
    }

    /// Writes the message to the queue (durably) and starts its delivery; the queue id for
    /// the `250` reply, or why it could not be stored.
    async fn store(&self, envelope: Envelope, data: Vec<u8>) -> Result<String, String> {
        let mut message = self.received_field(&envelope).into_bytes();
        message.extend_from_slice(&data);
        let flags = (envelope.body_8bit, envelope.smtputf8);
        match self
            .context
            .queue
            .store(envelope.mail_from, envelope.rcpt_to, flags, message)
            .await
        {
            Ok(pending) => {
                let id = format!("{:X}", pending.id);
                let _ = self.context.inbox.send(pending);
                Ok(id)
            }
            Err(err) => {
                tracing::error!("smtp: cannot queue a message from {}: {err}", self.peer);
                Err("cannot store the message now".into())
            }
        }
    }

    /// RFC 5321 §4.4 trace field.
    fn received_field(&self, envelope: &Envelope) -> String {
        // RFC 3848's names, and RFC 6531 §3.7.3's for mail that used SMTPUTF8.
        let base = if envelope.smtputf8 {
            "UTF8SMTP"
        } else {
            "ESMTP"
        };
        let tls = if envelope.tls { "S" } else { "" };
        let auth = if envelope.authenticated_as.is_some() {
            "A"
        } else {
            ""
        };
        let protocol = format!("{base}{tls}{auth}");
        let helo: String = envelope
            .helo
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect();
        let rcpt = match envelope.rcpt_to.as_slice() {
            [one] if one.is_ascii() => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        format!(
            "Received: from {helo} ([{}])\r\n\tby {} (appnet) with {protocol}{rcpt};\r\n\t{}\r\n",
            self.peer.ip(),
            self.context.config.hostname,
            format_date(SystemTime::now())
        )
    }
}
