//! The `[mail]` section of the appnet config file: one or more mail servers, each with its
//! domains, listeners, accounts, storage and relay settings.
//!
//! ```toml
//! [[mail.servers]]
//! hostname = "mail.alpha.example"
//! domains = ["alpha.example"]
//! smtp = "127.0.0.21:2525"
//! maildir = "/var/mail/appnet"       # mailboxes are <maildir>/<domain>/<local part>/
//! queue = "/var/spool/appnet/alpha"
//! [[mail.servers.users]]
//! address = "alice@alpha.example"
//! password = "$argon2id$v=19$..."    # from `appnet mail adduser`
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use appnet_core::config::Seconds;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The servers `appnet mail serve` runs. `appnet up` runs its own two demo domains.
    pub servers: Vec<MailServerConfig>,
    /// The port the mini Internet's two mail servers listen on (each on its own address) and
    /// relay to.
    pub up_port: u16,
    /// The ports of their IMAP and POP3 servers (STARTTLS and STLS), on the same addresses.
    pub up_imap_port: u16,
    pub up_pop3_port: u16,
    /// Where the mini Internet keeps its mailboxes and queues.
    pub up_dir: PathBuf,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            servers: Vec::new(),
            up_port: 2525,
            up_imap_port: 1143,
            up_pop3_port: 1110,
            up_dir: std::env::temp_dir().join("appnet-up").join("mail"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailServerConfig {
    /// The server's own name: in its greeting, EHLO, `Received:` lines and bounces.
    pub hostname: String,
    /// The domains whose mail this server accepts and stores (it is their MX).
    pub domains: Vec<String>,
    /// Where SMTP is served, both as MX and for submission by the users.
    pub smtp: Option<SocketAddr>,
    /// Where IMAP is served with STARTTLS, and with implicit TLS (port 993 on the Internet).
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    /// Where POP3 is served with STLS, and with implicit TLS (port 995 on the Internet).
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
    /// The root of the mailboxes: `<maildir>/<domain>/<local part>/{tmp,new,cur}`.
    pub maildir: PathBuf,
    /// The queue's journal directory.
    pub queue: PathBuf,
    pub users: Vec<UserConfig>,
    /// RFC 1870 SIZE: the largest message accepted, in bytes.
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    pub max_connections: usize,
    /// RFC 5321 §4.5.3.2.7: how long a server waits for the next command.
    pub idle_timeout: Seconds,
    /// Allow AUTH without TLS from loopback clients (never from others).
    pub loopback_auth_without_tls: bool,
    /// Certificate chain and key (PEM) for STARTTLS; unset means appnet's own local CA.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The DNS server asked for MX, A and AAAA records when relaying (with recursion desired).
    pub resolver: SocketAddr,
    /// The port of the mail exchangers relayed to (25 on the Internet).
    pub relay_port: u16,
    /// The first retry of a delivery that failed temporarily comes this long after; each
    /// later one waits twice as long, up to `retry_max`.
    pub retry_first: Seconds,
    pub retry_max: Seconds,
    /// A message not delivered this long after it arrived is bounced to its sender.
    pub give_up_after: Seconds,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub address: String,
    /// An argon2 PHC string (`appnet mail adduser` makes one).
    pub password: String,
}

impl Default for MailServerConfig {
    fn default() -> Self {
        let state = std::env::temp_dir().join("appnet-mail");
        MailServerConfig {
            hostname: "localhost".into(),
            domains: Vec::new(),
            smtp: Some(SocketAddr::from(([127, 0, 0, 1], 2525))),
            imap: None,
            imaps: None,
            pop3: None,
            pop3s: None,
            maildir: state.join("maildir"),
            queue: state.join("queue"),
            users: Vec::new(),
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 1000,
            idle_timeout: Seconds::from_millis(300_000),
            loopback_auth_without_tls: true,
            tls_cert: None,
            tls_key: None,
            resolver: SocketAddr::from(([127, 0, 0, 1], 5301)),
            relay_port: 25,
            retry_first: Seconds::from_millis(60_000),
            retry_max: Seconds::from_millis(3_600_000),
            give_up_after: Seconds::from_millis(5 * 24 * 3_600_000),
        }
    }
}
