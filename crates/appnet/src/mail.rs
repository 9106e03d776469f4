//! `appnet mail serve|adduser|send` and the mini Internet's two mail domains: the command-line
//! faces of the appnet-mail crate.

use std::io::{BufRead, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use appnet_core::lifecycle::Services;
use appnet_core::tls::TlsMaterial;
use appnet_core::trace::Tracer;
use appnet_mail::accounts::hash_password;
use appnet_mail::client::{Connect, run_session};
use appnet_mail::config::{MailServerConfig, UserConfig};
use appnet_mail::message::{Attachment, Composition, Mailbox};
use appnet_mail::server::{Listeners, MailServer};
use appnet_mail::smtp::{ClientConfig, ClientSession, Outcome, TlsPolicy};
use tokio::net::TcpListener;

use crate::cli::MailCommand;
use crate::config::AppConfig;
use crate::serving::{self, ServiceRow};

pub async fn run(
    command: MailCommand,
    config: &AppConfig,
    config_path: Option<&Path>,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match command {
        MailCommand::Serve {
            domains,
            users,
            maildir,
            queue,
            smtp,
            imap,
            imaps,
            pop3,
            pop3s,
            hostname,
            resolver,
            relay_port,
        } => {
            let servers = if domains.is_empty() {
                if config.mail.servers.is_empty() {
                    bail!(
                        "no mail servers: give --domain (and --user, --maildir), or [[mail.servers]] in the config"
                    );
                }
                config.mail.servers.clone()
            } else {
                let mut server = MailServerConfig {
                    hostname: hostname.unwrap_or_else(|| format!("mail.{}", domains[0])),
                    ..MailServerConfig::default()
                };
                if let Some(maildir) = maildir {
                    server.queue = queue.unwrap_or_else(|| maildir.join(".queue"));
                    server.maildir = maildir;
                } else if let Some(queue) = queue {
                    server.queue = queue;
                }
                server.users = users
                    .iter()
                    .map(|user| quick_user(user, &domains[0]))
                    .collect::<anyhow::Result<_>>()?;
                server.domains = domains;
                server.smtp = smtp.or(server.smtp);
                (server.imap, server.imaps, server.pop3, server.pop3s) = (imap, imaps, pop3, pop3s);
                server.resolver = resolver.unwrap_or(server.resolver);
                server.relay_port = relay_port.unwrap_or(server.relay_port);
                vec![server]
            };
            let mut services = Services::new();
            let mut rows = Vec::new();
            for server in &servers {
                rows.extend(start_server(server, &mut services, tracer).await?);
            }
            Ok(serving::serve_until_signal(services, &rows, config.up.shutdown_grace).await)
        }
        MailCommand::Adduser { address, password } => adduser(config_path, &address, password),
        MailCommand::Send(args) => send(args, tracer).await,
    }
}

/// `NAME:PASSWORD`, NAME an address or a local part of `domain`; the password is hashed.
fn quick_user(spec: &str, domain: &str) -> anyhow::Result<UserConfig> {
    let (name, password) = spec
        .split_once(':')
        .with_context(|| format!("--user {spec:?}: expected NAME:PASSWORD"))?;
    let address = if name.contains('@') {
        name.to_string()
    } else {
        format!("{name}@{domain}")
    };
    Ok(UserConfig {
        address,
        password: hash_password(password),
    })
}

/// Starts one mail server: its queue recovered, SMTP (and IMAP, POP3 where configured)
/// listening, deliveries running. The first row is SMTP's.
pub async fn start_server(
    server: &MailServerConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<Vec<ServiceRow>> {
    let domains = server.domains.join(",");
    let name = format!("smtp {domains}");
    let tls = tls_config(server)?;
    let mail = MailServer::open(server, Some(tls), tracer.clone())
        .with_context(|| format!("{name}: cannot start"))?;
    if mail.recovered() > 0 {
        println!("{name}: {} queued message(s) recovered", mail.recovered());
    }
    let Some(smtp) = server.smtp else {
        bail!("{name}: no smtp address to listen on");
    };
    let user = server.users.first().map_or_else(
        || format!("postmaster@{}", server.domains[0]),
        |u| u.address.clone(),
    );
    let mut rows = Vec::new();
    let mut bind = async |service: &str,
                          address: Option<SocketAddr>,
                          transport: &'static str,
                          try_it: &dyn Fn(SocketAddr) -> String|
           -> anyhow::Result<Option<TcpListener>> {
        let Some(address) = address else {
            return Ok(None);
        };
        let service = format!("{service} {domains}");
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("{service}: cannot listen on {address}"))?;
        let address = listener.local_addr()?;
        rows.push(ServiceRow {
            service,
            transport,
            address,
            try_it: try_it(address),
        });
        Ok(Some(listener))
    };
    let smtp = bind("smtp", Some(smtp), "tcp", &|a| {
        format!("swaks --server {} --port {} --to {user}", a.ip(), a.port())
    })
    .await?
    .context("smtp listener")?;
    let imap = bind("imap", server.imap, "tcp", &|a| {
        format!("curl -u {user}:PASSWORD 'imap://{a}/INBOX;UID=1'")
    })
    .await?;
    let imaps = bind("imaps", server.imaps, "tcp+tls", &|a| {
        format!("curl -k -u {user}:PASSWORD 'imaps://{a}/INBOX;UID=1'")
    })
    .await?;
    let pop3 = bind("pop3", server.pop3, "tcp", &|a| {
        format!("curl -u {user}:PASSWORD pop3://{a}/1")
    })
    .await?;
    let pop3s = bind("pop3s", server.pop3s, "tcp+tls", &|a| {
        format!("curl -k -u {user}:PASSWORD pop3s://{a}/1")
    })
    .await?;
    let listeners = Listeners {
        smtp,
        imap,
        imaps,
        pop3,
        pop3s,
    };
    services.spawn(name, mail.run(listeners, services.shutdown()));
    Ok(rows)
}

/// The mini Internet's mail: alice@alpha.example and bob@beta.example, each domain with its own
/// server at the address its MX names, relaying to each other through the mini resolver.
pub async fn start_mini_mail(
    config: &AppConfig,
    resolver: SocketAddr,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<Vec<ServiceRow>> {
    let base = &config.mail.up_dir;
    let mut rows = Vec::new();
    for (label, ip) in appnet_dns::mini::MAIL_IPS {
        let domain = format!("{label}.example");
        let user = if label == "alpha" { "alice" } else { "bob" };
        let server = MailServerConfig {
            hostname: format!("mail.{domain}"),
            smtp: Some(SocketAddr::new(IpAddr::V4(ip), config.mail.up_port)),
            imap: Some(SocketAddr::new(IpAddr::V4(ip), config.mail.up_imap_port)),
            pop3: Some(SocketAddr::new(IpAddr::V4(ip), config.mail.up_pop3_port)),
            maildir: base.join("maildir"),
            queue: base.join(format!("queue-{label}")),
            users: vec![UserConfig {
                address: format!("{user}@{domain}"),
                password: hash_password(user),
            }],
            domains: vec![domain],
            resolver,
            relay_port: config.mail.up_port,
            retry_first: appnet_core::config::Seconds(Duration::from_secs(10)),
            ..MailServerConfig::default()
        };
        let mut started = start_server(&server, services, tracer).await?;
        let peer = if label == "alpha" {
            "bob@beta.example"
        } else {
            "alice@alpha.example"
        };
        for row in &mut started {
            row.try_it = if row.service.starts_with("smtp") {
                format!(
                    "appnet mail send --server {} --from {user}@{label}.example --password {user} --to {peer} --subject hi --body hello",
                    row.address
                )
            } else {
                row.try_it.replace("PASSWORD", user)
            };
        }
        rows.extend(started);
    }
    Ok(rows)
}

/// STARTTLS: the configured certificate, or appnet's own mail certificate.
fn tls_config(server: &MailServerConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    if let (Some(cert), Some(key)) = (&server.tls_cert, &server.tls_key) {
        return appnet_core::tls::server_config_from_files(cert, key)
            .with_context(|| format!("smtp {}: the given certificate", server.hostname));
    }
    Ok(own_mail_certificate(&server.hostname)?.server_config()?)
}

/// appnet's own mail certificate, kept next to the HTTPS one and made on first use: valid for
/// loopback, the mini Internet's mail servers and the first server's own host name.
fn own_mail_certificate(hostname: &str) -> anyhow::Result<TlsMaterial> {
    let mut names = vec!["localhost", "127.0.0.1", "::1", hostname];
    let mini: Vec<String> = appnet_dns::mini::MAIL_IPS
        .iter()
        .flat_map(|(label, ip)| [format!("mail.{label}.example"), ip.to_string()])
        .collect();
    names.extend(mini.iter().map(String::as_str));
    TlsMaterial::load_or_generate(&mail_tls_dir(), &names).context("smtp: appnet's own certificate")
}

fn mail_tls_dir() -> PathBuf {
    appnet_core::tls::default_dir().join("mail")
}

/// Appends an account to the server of its domain in the config file.
fn adduser(
    config_path: Option<&Path>,
    address: &str,
    password: Option<String>,
) -> anyhow::Result<ExitCode> {
    let Some((_, domain)) = address.rsplit_once('@') else {
        bail!("{address:?} is not an address (user@domain)");
    };
    let password = match password {
        Some(password) => password,
        None => read_password()?,
    };
    let hash = hash_password(&password);
    let Some(path) = config_path else {
        println!(
            "# No --config file given; add this to a [[mail.servers]] entry serving {domain}:"
        );
        println!("[[mail.servers.users]]\naddress = \"{address}\"\npassword = \"{hash}\"");
        return Ok(ExitCode::SUCCESS);
    };
    crate::config::edit_file(path, |doc| {
        let servers = doc
            .get_mut("mail")
            .and_then(|mail| mail.get_mut("servers"))
            .and_then(|servers| servers.as_array_of_tables_mut())
            .with_context(|| format!("{} has no [[mail.servers]]", path.display()))?;
        let server = servers
            .iter_mut()
            .find(|server| {
                server
                    .get("domains")
                    .and_then(|d| d.as_array())
                    .is_some_and(|d| {
                        d.iter()
                            .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(domain)))
                    })
            })
            .with_context(|| {
                format!("no [[mail.servers]] in {} serves {domain}", path.display())
            })?;
        let users = server
            .entry("users")
            .or_insert(toml_edit::Item::ArrayOfTables(
                toml_edit::ArrayOfTables::new(),
            ))
            .as_array_of_tables_mut()
            .context("mail.servers.users is not an array of tables")?;
        if users.iter().any(|user| {
            user.get("address")
                .and_then(|a| a.as_str())
                .is_some_and(|a| a.eq_ignore_ascii_case(address))
        }) {
            bail!("{address} already has an account in {}", path.display());
        }
        let mut user = toml_edit::Table::new();
        user.insert("address", toml_edit::value(address));
        user.insert("password", toml_edit::value(hash));
        users.push(user);
        Ok(())
    })?;
    println!("added {address} to {}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (shown as typed): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("empty password");
    }
    Ok(password)
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The sender, `addr` or `"Name <addr>"`.
    #[arg(long)]
    from: String,
    /// A recipient (repeatable).
    #[arg(long = "to", required = true)]
    to: Vec<String>,
    /// A copy recipient (repeatable).
    #[arg(long = "cc")]
    cc: Vec<String>,
    #[arg(long, default_value = "")]
    subject: String,
    /// The text of the message.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// A file whose text is the message.
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
    /// A file to attach (repeatable).
    #[arg(long = "attach", value_name = "FILE")]
    attachments: Vec<PathBuf>,
    /// The submission server.
    #[arg(long, default_value = "127.0.0.1:2525")]
    server: SocketAddr,
    /// The name the server's certificate must carry [default: the server's IP address].
    #[arg(long)]
    server_name: Option<String>,
    /// Log in as this user [default: the --from address, when --password is given].
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    password: Option<String>,
    /// STARTTLS: required (default off loopback), opportunistic (default on loopback), or never.
    #[arg(long, value_enum)]
    tls: Option<TlsArg>,
    /// Trust this CA (PEM) for the server's certificate [default: appnet's own local CA].
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Print the composed message (what goes on the wire) instead of sending it.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TlsArg {
    Required,
    Opportunistic,
    Never,
}

async fn send(args: SendArgs, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    let from = mailbox(&args.from)?;
    let to: Vec<Mailbox> = args
        .to
        .iter()
        .map(|a| mailbox(a))
        .collect::<anyhow::Result<_>>()?;
    let cc: Vec<Mailbox> = args
        .cc
        .iter()
        .map(|a| mailbox(a))
        .collect::<anyhow::Result<_>>()?;
    let body = match (&args.body, &args.body_file) {
        (Some(body), _) => body.clone(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?,
        (None, None) => String::new(),
    };
    let mut composition = Composition::new(from.clone(), to.clone(), &args.subject, &body);
    composition.cc = cc.clone();
    for path in &args.attachments {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        composition.attachments.push(Attachment {
            content_type: appnet_http::semantics::content_type_for_path(&file_name).to_string(),
            file_name,
            bytes,
        });
    }
    let message = composition.to_bytes()?;
    if args.dry_run {
        use std::io::Write;
        std::io::stdout().write_all(&message)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rcpts: Vec<String> = to.iter().chain(&cc).map(|m| m.address.clone()).collect();
    let loopback = args.server.ip().is_loopback();
    let tls = match args.tls {
        Some(TlsArg::Required) => TlsPolicy::Required,
        Some(TlsArg::Opportunistic) => TlsPolicy::Opportunistic,
        Some(TlsArg::Never) => TlsPolicy::Never,
        None if loopback => TlsPolicy::Opportunistic,
        None => TlsPolicy::Required,
    };
    let auth = args.password.clone().map(|password| {
        (
            args.user.clone().unwrap_or_else(|| from.address.clone()),
            password,
        )
    });
    let session = ClientSession::new(
        ClientConfig {
            ehlo_name: ehlo_name(&from.address),
            tls,
            tls_active: false,
            auth,
        },
        from.address.clone(),
        rcpts,
        &message,
        false,
        false,
    );
    let server_name = args
        .server_name
        .clone()
        .unwrap_or_else(|| args.server.ip().to_string());
    let connect = Connect {
        address: args.server,
        source: None,
        server_name: &server_name,
        tls: client_tls(args.cacert.as_deref())?,
        timeout: Duration::from_secs(60),
    };
    let delivery = run_session(connect, session, tracer)
        .await
        .with_context(|| format!("cannot submit to {}", args.server))?;
    let mut ok = true;
    for (rcpt, outcome) in &delivery.recipients {
        let verdict = match outcome {
            Outcome::Accepted(_) => "accepted",
            Outcome::Transient(_) => "deferred",
            Outcome::Permanent(_) => "refused",
        };
        ok &= matches!(outcome, Outcome::Accepted(_));
        println!("{rcpt}: {verdict}: {}", outcome.reply());
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn mailbox(text: &str) -> anyhow::Result<Mailbox> {
    Mailbox::parse(text).with_context(|| format!("{text:?} is not an address"))
}

/// EHLO names our host by its domain in the sender's address (a user agent has no better name).
fn ehlo_name(from: &str) -> String {
    from.rsplit_once('@')
        .map_or("localhost", |(_, d)| d)
        .to_string()
}

/// Trusts the given CA, or appnet's own local CA for mail.
fn client_tls(cacert: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let ca_pem = match cacert {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => own_mail_certificate("localhost")?.ca_pem().to_string(),
    };
    appnet_core::tls::client_config_trusting(&ca_pem).context("the CA certificate")
}
