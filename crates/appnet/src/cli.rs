//! The command line: every subcommand and flag, with the help text users read.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// appnet — the Internet's application layer, built for real.
///
/// Real, interoperable DNS, e-mail, FTP, HTTP, BitTorrent, DASH and CDN servers and clients that show
/// their work: add --trace to any command to see every protocol message it sends and receives.
#[derive(Debug, Parser)]
#[command(
    name = "appnet",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Config file (TOML); every key has a built-in default, see `appnet config print`.
    #[arg(long, global = true, value_name = "FILE", env = "APPNET_CONFIG")]
    pub config: Option<PathBuf>,

    /// Print every protocol message on stderr: as a transcript (`C: hello` / `S: HELLO`) or as JSON lines.
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text",
        value_enum
    )]
    pub trace: Option<TraceFormatArg>,

    /// With --trace, include each message's bytes (a hex dump, or `raw_hex` in JSON).
    #[arg(long, global = true, requires = "trace")]
    pub trace_bytes: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TraceFormatArg {
    /// One line per message, like a lecture transcript.
    Text,
    /// One JSON object per message.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the whole mini Internet on loopback and print how to try each service.
    Up,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// UDP sockets: an upper-case echo server and its clients.
    #[command(subcommand)]
    Udp(UdpCommand),
    /// DNS servers: authoritative for zone files, and a recursive resolver.
    #[command(subcommand)]
    Dns(DnsCommand),
    /// HTTP/1.1: a static file server.
    #[command(subcommand)]
    Http(HttpCommand),
    /// E-mail: an SMTP server with a durable relay queue and Maildir delivery, and a user agent.
    #[command(subcommand)]
    Mail(MailCommand),
    /// FTP: a server for a directory tree, and a client (`appnet ftp URL` opens a shell).
    Ftp(crate::ftp::FtpArgs),
    /// BitTorrent: a tracker, .torrent files, and a peer that seeds and downloads.
    #[command(subcommand)]
    Torrent(crate::torrent::TorrentCommand),
    /// Fetch a URL over HTTP/1.1 like curl: -o, -I, -i, -r, -H, -L, -X, -d, -f, -s, -v.
    Get(crate::get::GetArgs),
    /// Ask a DNS server and print the answer like dig (`appnet dig --help` lists the options).
    #[command(disable_help_flag = true)]
    Dig {
        /// dig's arguments: [@SERVER] NAME [TYPE] [-p PORT] [+tcp] [+norec] [+trace] [+short]
        /// [--explain] [--json].
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HttpCommand {
    /// Serve a directory over HTTP/1.1: GET and HEAD, ranges, conditional requests, listings.
    Serve {
        /// Directory to serve [default: http.root from the config, or the built-in demo site].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Address to listen on [default: http.listen from the config, 127.0.0.1:8080].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Access log: `-` for standard output, `off`, or a file [default: http.access_log, -].
        #[arg(long, value_name = "TARGET")]
        access_log: Option<String>,
        /// A virtual host, HOST=DIR: requests with that Host header are served from DIR.
        #[arg(long = "vhost", value_name = "HOST=DIR")]
        vhosts: Vec<String>,
        /// Also serve HTTPS on this address (with --cert/--key, or appnet's own certificate).
        #[arg(long, value_name = "ADDR")]
        tls_listen: Option<SocketAddr>,
        /// Certificate chain for HTTPS (PEM) [default: http.tls_cert, or appnet's own].
        #[arg(long, value_name = "FILE", requires = "key")]
        cert: Option<PathBuf>,
        /// Private key for HTTPS (PEM) [default: http.tls_key].
        #[arg(long, value_name = "FILE", requires = "cert")]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Serve mail for some domains: SMTP into Maildirs and relaying users' mail by MX, and
    /// IMAP and POP3 for reading it.
    ///
    /// The quick form (--domain) runs one server from flags; without it, the servers of the
    /// config's [[mail.servers]].
    Serve {
        /// A domain to accept mail for (repeatable); the first also names the server.
        #[arg(long = "domain", value_name = "DOMAIN")]
        domains: Vec<String>,
        /// An account, NAME:PASSWORD (NAME@DOMAIN, or a local part of the first domain).
        #[arg(long = "user", value_name = "NAME:PASSWORD")]
        users: Vec<String>,
        /// Root of the mailboxes: DIR/<domain>/<user>/{tmp,new,cur}.
        #[arg(long, value_name = "DIR")]
        maildir: Option<PathBuf>,
        /// The queue's directory [default: DIR/.queue under --maildir].
        #[arg(long, value_name = "DIR")]
        queue: Option<PathBuf>,
        /// Address to serve SMTP on [default: 127.0.0.1:2525].
        #[arg(long, value_name = "ADDR")]
        smtp: Option<SocketAddr>,
        /// Serve IMAP (with STARTTLS) on this address.
        #[arg(long, value_name = "ADDR")]
        imap: Option<SocketAddr>,
        /// Serve IMAP over implicit TLS on this address.
        #[arg(long, value_name = "ADDR")]
        imaps: Option<SocketAddr>,
        /// Serve POP3 (with STLS) on this address.
        #[arg(long, value_name = "ADDR")]
        pop3: Option<SocketAddr>,
        /// Serve POP3 over implicit TLS on this address.
        #[arg(long, value_name = "ADDR")]
        pop3s: Option<SocketAddr>,
        /// The server's host name [default: mail.<first domain>].
        #[arg(long, value_name = "NAME")]
        hostname: Option<String>,
        /// DNS server for MX lookups when relaying [default: 127.0.0.1:5301].
        #[arg(long, value_name = "ADDR")]
        resolver: Option<SocketAddr>,
        /// Port of the mail exchangers relayed to [default: 25].
        #[arg(long, value_name = "PORT")]
        relay_port: Option<u16>,
    },
    /// Add an account (argon2-hashed password) to the server of its domain in the config file.
    Adduser {
        /// The account's address, user@domain.
        address: String,
        /// The password [default: read from standard input].
        #[arg(long)]
        password: Option<String>,
    },
    /// Compose a message (MIME) and submit it to a server with AUTH, like a mail client.
    Send(crate::mail::SendArgs),
}

#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    /// Serve RFC 1035 zone files authoritatively over UDP and TCP (SIGHUP reloads them).
    Serve {
        /// A zone file to serve (repeatable); its origin comes from $ORIGIN or the SOA owner.
        #[arg(long = "zone", value_name = "FILE")]
        zones: Vec<PathBuf>,
        /// Address to listen on, UDP and TCP [default: dns.listen from the config, 127.0.0.1:5300].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// A secondary to NOTIFY after each reload (repeatable), as ADDRESS:PORT.
        #[arg(long, value_name = "ADDR")]
        notify: Vec<SocketAddr>,
    },
    /// Resolve names recursively for clients on this machine, from the root down, with a cache.
    Resolve {
        /// Address to listen on, UDP and TCP [default: dns.resolver.listen, 127.0.0.1:5301].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Root hints file (named.root format) [default: the mini Internet's root, 127.0.0.2].
        #[arg(long, value_name = "FILE")]
        root_hints: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (built-in defaults overlaid with --config).
    Print,
}

#[derive(Debug, Subcommand)]
pub enum UdpCommand {
    /// Answer every datagram with its text in upper case.
    Serve {
        /// Address to listen on [default: udp.listen from the config, 127.0.0.1:12000].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Send one message and print the reply and the round-trip time (exit code 1 if none comes).
    Send {
        /// Server address, e.g. 127.0.0.1:12000.
        target: SocketAddr,
        /// The text to send.
        message: OsString,
        #[command(flatten)]
        patience: PatienceArgs,
    },
    /// Send numbered probes and report loss and round-trip times like ping.
    Ping {
        /// Server address, e.g. 127.0.0.1:12000.
        target: SocketAddr,
        /// Number of probes.
        #[arg(short = 'c', long, default_value_t = 10, value_name = "COUNT")]
        count: u32,
        /// Seconds between probes.
        #[arg(short = 'i', long, default_value_t = 1.0, value_name = "SECONDS", value_parser = parse_seconds)]
        interval: f64,
        /// Seconds to wait for each reply [default: udp.timeout from the config, 1].
        #[arg(short = 'W', long, value_name = "SECONDS", value_parser = parse_seconds)]
        timeout: Option<f64>,
        /// Probe size in bytes.
        #[arg(short = 's', long, default_value_t = 64, value_name = "BYTES")]
        size: usize,
        /// Print only the summary.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
}

#[derive(Debug, Args)]
pub struct PatienceArgs {
    /// Seconds to wait for each reply [default: udp.timeout from the config, 1].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<f64>,
    /// Retransmissions before giving up [default: udp.retries from the config, 3].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

pub(crate) fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.0..=86_400.0).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn trace_takes_an_optional_format() {
        let cli = Cli::parse_from(["appnet", "--trace", "udp", "serve"]);
        assert!(matches!(cli.trace, Some(TraceFormatArg::Text)));
        let cli = Cli::parse_from(["appnet", "udp", "serve", "--trace=json"]);
        assert!(matches!(cli.trace, Some(TraceFormatArg::Json)));
    }
}
