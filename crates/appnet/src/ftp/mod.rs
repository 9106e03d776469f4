//! `appnet ftp`: the FTP server (`serve`, `adduser`, and the mini Internet's FTP site) and
//! the client (`appnet ftp URL` for a shell; `get`, `put` and `ls` for one-shot transfers).

mod client;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use appnet_core::config::Seconds;
use appnet_core::lifecycle::Services;
use appnet_core::password::hash_password;
use appnet_core::trace::Tracer;
use appnet_ftp::config::{FtpConfig, FtpUser, PortRange};
use appnet_ftp::server::FtpServer;
use clap::{Args, Subcommand};
use tokio::net::TcpListener;

use crate::config::AppConfig;
use crate::mail::read_password;
use crate::serving::{self, ServiceRow};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct FtpArgs {
    #[command(subcommand)]
    pub command: Option<FtpCommand>,
    /// Without a subcommand: an interactive shell on the server this URL names.
    #[command(flatten)]
    pub shell: client::ShellArgs,
}

#[derive(Debug, Subcommand)]
pub enum FtpCommand {
    /// Serve a directory tree over FTP, with explicit TLS (AUTH TLS) available.
    ///
    /// Flags override the config's [ftp] section; --user adds accounts to its [[ftp.users]].
    Serve(ServeArgs),
    /// Add an account (argon2-hashed password) to the config's [[ftp.users]].
    Adduser {
        name: String,
        /// The password [default: read from standard input].
        #[arg(long)]
        password: Option<String>,
        /// The user's tree [default: the server's root].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Downloads and listings only.
        #[arg(long)]
        read_only: bool,
    },
    /// Download a file: ftp://[USER[:PASSWORD]@]HOST[:PORT]/PATH.
    Get(client::GetArgs),
    /// Upload a file.
    Put(client::PutArgs),
    /// List a directory.
    Ls(client::LsArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The tree to serve [default: ftp.root].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Address for control connections [default: ftp.listen, 127.0.0.1:2121].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// An account with write access to the root, NAME:PASSWORD (repeatable).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
    /// Let anyone log in as `anonymous` (or `ftp`), read-only.
    #[arg(long)]
    anonymous: bool,
    /// Let anonymous users upload, rename and delete too.
    #[arg(long, requires = "anonymous")]
    anonymous_write: bool,
    /// Ports for passive data connections, LOW-HIGH [default: any free port].
    #[arg(long, value_name = "LOW-HIGH")]
    passive_ports: Option<PortRange>,
    /// The address PASV replies give, for a server behind NAT.
    #[arg(long, value_name = "IP")]
    advertise: Option<IpAddr>,
    /// Seconds a control connection may sit idle [default: ftp.idle_timeout, 300].
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<f64>,
    /// Seconds a data connection may take to open or stall [default: ftp.data_timeout, 60].
    #[arg(long, value_name = "SECONDS")]
    data_timeout: Option<f64>,
    /// Certificate chain for AUTH TLS (PEM) [default: appnet's own local CA].
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key for AUTH TLS (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

pub async fn run(
    args: FtpArgs,
    config: &AppConfig,
    config_path: Option<&Path>,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match args.command {
        None => client::shell(args.shell, tracer).await,
        Some(FtpCommand::Get(args)) => client::get(args, tracer).await,
        Some(FtpCommand::Put(args)) => client::put(args, tracer).await,
        Some(FtpCommand::Ls(args)) => client::ls(args, tracer).await,
        Some(FtpCommand::Serve(args)) => {
            let ftp = serve_config(args, &config.ftp)?;
            let mut services = Services::new();
            let row = start_server(&ftp, &mut services, tracer).await?;
            Ok(serving::serve_until_signal(services, &[row], config.up.shutdown_grace).await)
        }
        Some(FtpCommand::Adduser {
            name,
            password,
            root,
            read_only,
        }) => adduser(config_path, name, password, root, !read_only),
    }
}

/// The config's [ftp] section with the command line's flags over it.
fn serve_config(args: ServeArgs, config: &FtpConfig) -> anyhow::Result<FtpConfig> {
    let mut ftp = config.clone();
    ftp.root = args.root.unwrap_or(ftp.root);
    ftp.listen = args.listen.unwrap_or(ftp.listen);
    ftp.anonymous |= args.anonymous;
    ftp.anonymous_write |= args.anonymous_write;
    ftp.passive_ports = args.passive_ports.or(ftp.passive_ports);
    ftp.advertise = args.advertise.or(ftp.advertise);
    if let Some(seconds) = args.idle_timeout {
        ftp.idle_timeout = seconds_flag("--idle-timeout", seconds)?;
    }
    if let Some(seconds) = args.data_timeout {
        ftp.data_timeout = seconds_flag("--data-timeout", seconds)?;
    }
    ftp.tls_cert = args.cert.or(ftp.tls_cert);
    ftp.tls_key = args.key.or(ftp.tls_key);
    for spec in &args.users {
        let (name, password) = spec
            .split_once(':')
            .with_context(|| format!("--user {spec:?}: expected NAME:PASSWORD"))?;
        ftp.users.push(FtpUser {
            name: name.to_string(),
            password: hash_password(password),
            root: None,
            write: true,
        });
    }
    if ftp.users.is_empty() && !ftp.anonymous {
        bail!("nobody could log in: give --user NAME:PASSWORD or --anonymous (or [[ftp.users]])");
    }
    Ok(ftp)
}

fn seconds_flag(flag: &str, seconds: f64) -> anyhow::Result<Seconds> {
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("{flag} {seconds}: expected a positive number of seconds");
    }
    Ok(Seconds(std::time::Duration::from_secs_f64(seconds)))
}

/// Starts the FTP server `ftp` describes; its row for the table.
pub async fn start_server(
    ftp: &FtpConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<ServiceRow> {
    let tls = tls_config(ftp)?;
    let server = FtpServer::new(ftp, Some(tls), tracer.clone()).context("ftp: cannot start")?;
    let listener = TcpListener::bind(ftp.listen)
        .await
        .with_context(|| format!("ftp: cannot listen on {}", ftp.listen))?;
    let address = listener.local_addr()?;
    let try_it = match ftp.users.first() {
        Some(user) if !ftp.anonymous => format!("curl -u {}:PASSWORD ftp://{address}/", user.name),
        _ => format!("curl ftp://{address}/"),
    };
    services.spawn("ftp", server.run(listener, services.shutdown()));
    Ok(ServiceRow {
        service: "ftp".into(),
        transport: "tcp",
        address,
        try_it,
    })
}

fn tls_config(ftp: &FtpConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    if let (Some(cert), Some(key)) = (&ftp.tls_cert, &ftp.tls_key) {
        return appnet_core::tls::server_config_from_files(cert, key)
            .context("ftp: the given certificate");
    }
    let (material, _) = crate::http::own_certificate().context("ftp")?;
    Ok(material.server_config()?)
}

/// The mini Internet's FTP site: a small tree anyone may read (anonymous) and alice (password
/// alice) may change, made on first start.
pub async fn start_mini_ftp(
    config: &AppConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<ServiceRow> {
    let root = &config.ftp.up_root;
    seed_demo_tree(root).with_context(|| format!("ftp: cannot make {}", root.display()))?;
    let ftp = FtpConfig {
        listen: SocketAddr::new(config.ftp.listen.ip(), config.ftp.up_port),
        root: root.clone(),
        anonymous: true,
        users: vec![FtpUser {
            name: "alice".into(),
            password: hash_password("alice"),
            root: None,
            write: true,
        }],
        ..config.ftp.clone()
    };
    start_server(&ftp, services, tracer).await
}

fn seed_demo_tree(root: &Path) -> std::io::Result<()> {
    let files: [(&str, &[u8]); 3] = [
        (
            "README.txt",
            b"Welcome to the mini Internet's FTP site.\nLog in as anonymous to read, or as alice (password alice) to upload.\n",
        ),
        ("pub/hello.txt", b"Hello over a data connection!\n"),
        ("pub/안녕하세요.txt", "한국어 파일 이름도 됩니다.\n".as_bytes()),
    ];
    for (name, contents) in files {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if !path.exists() {
            std::fs::write(&path, contents)?;
        }
    }
    std::fs::create_dir_all(root.join("incoming"))
}

/// Appends an account to [[ftp.users]] in the config file (or prints it, without one).
fn adduser(
    config_path: Option<&Path>,
    name: String,
    password: Option<String>,
    root: Option<PathBuf>,
    write: bool,
) -> anyhow::Result<ExitCode> {
    let password = match password {
        Some(password) => password,
        None => read_password()?,
    };
    let hash = hash_password(&password);
    let mut user = toml_edit::Table::new();
    user.insert("name", toml_edit::value(&name));
    user.insert("password", toml_edit::value(hash));
    if let Some(root) = &root {
        user.insert("root", toml_edit::value(root.display().to_string()));
    }
    user.insert("write", toml_edit::value(write));
    let Some(path) = config_path else {
        println!("# No --config file given; add this to the config:");
        println!("[[ftp.users]]\n{user}");
        return Ok(ExitCode::SUCCESS);
    };
    crate::config::edit_file(path, |doc| {
        let ftp = doc
            .entry("ftp")
            .or_insert(toml_edit::table())
            .as_table_mut()
            .context("ftp is not a table")?;
        let users = ftp
            .entry("users")
            .or_insert(toml_edit::Item::ArrayOfTables(
                toml_edit::ArrayOfTables::new(),
            ))
            .as_array_of_tables_mut()
            .context("ftp.users is not an array of tables")?;
        if users
            .iter()
            .any(|u| u.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))
        {
            bail!("{name} already has an account in {}", path.display());
        }
        users.push(user);
        Ok(())
    })?;
    println!("added {name} to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
