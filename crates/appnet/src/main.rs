//! The appnet binary: parses the command line, loads the config, starts the trace printer and runs
//! the chosen command. Protocol logic lives in the protocol crates; this crate only wires them up.

mod cli;
mod config;
mod dns;
mod ftp;
mod get;
mod http;
mod mail;
mod serving;
mod torrent;
mod udp;
mod up;

use std::process::ExitCode;
use std::time::Duration;

use appnet_core::trace::{self, TraceFormat, Tracer};
use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand, TraceFormatArg};
use crate::config::AppConfig;

/// Exit code for a config the user must fix (clap uses the same code for usage errors).
const EXIT_BAD_CONFIG: u8 = 2;
/// Events a slow trace printer may fall behind by before it starts dropping (and says so).
const TRACE_BUFFER: usize = 65_536;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    raise_descriptor_limit();
    let config: AppConfig = match appnet_core::config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("appnet: {err}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    build_runtime().block_on(run(cli, config))
}

/// A work-stealing runtime with a worker per CPU; on a single CPU (a container's share, or a
/// process pinned with taskset) there is nobody to steal from, and a current-thread runtime
/// serves the same work without the cross-thread wakeups.
fn build_runtime() -> tokio::runtime::Runtime {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .build()
        .expect("start the tokio runtime")
}

async fn run(cli: Cli, config: AppConfig) -> ExitCode {
    let tracer = match cli.trace {
        None => Tracer::off(),
        Some(_) => Tracer::new(TRACE_BUFFER, cli.trace_bytes),
    };
    let format = match cli.trace {
        Some(TraceFormatArg::Json) => TraceFormat::Json,
        _ => TraceFormat::Transcript,
    };
    let printer = tracer.subscribe().map(|rx| {
        tokio::task::spawn_blocking(move || trace::print_events(rx, format, std::io::stderr()))
    });

    let outcome = match cli.command {
        Command::Up => up::run(&config, &tracer).await,
        Command::Config(ConfigCommand::Print) => {
            print!("{}", appnet_core::config::render(&config));
            Ok(ExitCode::SUCCESS)
        }
        Command::Udp(command) => udp::run(command, &config, &tracer).await,
        Command::Dns(command) => dns::run(command, &config, &tracer).await,
        Command::Http(command) => http::run(command, &config, &tracer).await,
        Command::Mail(command) => mail::run(command, &config, cli.config.as_deref(), &tracer).await,
        Command::Ftp(args) => ftp::run(args, &config, cli.config.as_deref(), &tracer).await,
        Command::Torrent(command) => torrent::run(command, &config, &tracer).await,
        Command::Get(args) => get::run(args, &tracer).await,
        Command::Dig { args } => dns::dig(&args, &config, &tracer).await,
    };

    // The printer ends once every tracer is gone; give it a moment to flush the last events.
    drop(tracer);
    if let Some(printer) = printer {
        let _ = tokio::time::timeout(Duration::from_millis(500), printer).await;
    }
    outcome.unwrap_or_else(|err| {
        eprintln!("appnet: {err:#}");
        ExitCode::FAILURE
    })
}

/// Diagnostic logs (not the protocol trace) go to stderr, filtered by RUST_LOG (default: warnings).
/// Warnings, plus the mail log (a line per delivery attempt, as MTAs keep); RUST_LOG overrides.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,appnet_mail::delivery=info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// Servers hold a descriptor per client: raise the soft limit to the hard one, as nginx's
/// `worker_rlimit_nofile` does, so that the connection limits in the config are what binds.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit on this process, with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
