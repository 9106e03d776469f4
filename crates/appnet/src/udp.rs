//! `appnet udp serve|send|ping`: the command-line faces of the appnet-udp crate.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use appnet_core::lifecycle::{Services, Shutdown};
use appnet_core::trace::Tracer;
use appnet_udp::client::{self, Patience, PingOptions, PingOutcome};
use appnet_udp::server;

use crate::cli::{PatienceArgs, UdpCommand};
use crate::config::AppConfig;
use crate::serving::{self, ServiceRow};

pub async fn run(
    command: UdpCommand,
    config: &AppConfig,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match command {
        UdpCommand::Serve { listen } => {
            let mut services = Services::new();
            let row =
                start_server(listen.unwrap_or(config.udp.listen), &mut services, tracer).await?;
            Ok(serving::serve_until_signal(services, &[row], config.up.shutdown_grace).await)
        }
        UdpCommand::Send {
            target,
            message,
            patience,
        } => {
            send(
                target,
                message.as_encoded_bytes(),
                patience_from(&patience, config),
                tracer,
            )
            .await
        }
        UdpCommand::Ping {
            target,
            count,
            interval,
            timeout,
            size,
            quiet,
        } => {
            let options = PingOptions {
                count,
                interval: Duration::from_secs_f64(interval),
                timeout: timeout.map_or(config.udp.timeout.0, Duration::from_secs_f64),
                size,
            };
            ping(target, options, quiet, tracer).await
        }
    }
}

/// Binds the upper-case echo server and adds it to `services`.
pub async fn start_server(
    listen: SocketAddr,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<ServiceRow> {
    const NAME: &str = "udp upper-case echo";
    let socket = server::bind(listen)
        .await
        .with_context(|| format!("{NAME}: cannot listen on {listen}"))?;
    let address = socket.local_addr()?;
    services.spawn(
        NAME,
        server::serve(socket, tracer.clone(), services.shutdown()),
    );
    Ok(ServiceRow {
        service: NAME.into(),
        transport: "udp",
        address,
        try_it: format!(
            "appnet udp send {address} hello   |   echo hello | nc -u -w1 {} {}",
            address.ip(),
            address.port()
        ),
    })
}

fn patience_from(args: &PatienceArgs, config: &AppConfig) -> Patience {
    let defaults = config.udp.patience();
    Patience {
        timeout: args
            .timeout
            .map_or(defaults.timeout, Duration::from_secs_f64),
        retries: args.retries.unwrap_or(defaults.retries),
    }
}

async fn send(
    target: SocketAddr,
    message: &[u8],
    patience: Patience,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match client::send(target, message, patience, tracer).await {
        Ok(exchange) => {
            println!("{}", String::from_utf8_lossy(&exchange.reply));
            println!(
                ";; {} bytes from {target}, rtt {:.3} ms, attempt {} of {}",
                exchange.reply.len(),
                exchange.rtt.as_secs_f64() * 1e3,
                exchange.attempts,
                patience.retries.saturating_add(1)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("appnet: {err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn ping(
    target: SocketAddr,
    options: PingOptions,
    quiet: bool,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    println!(
        "PING {target} (udp upper-case echo): {} data bytes",
        options.size
    );
    let interrupted = Shutdown::new();
    let on_signal = interrupted.clone();
    tokio::spawn(async move {
        appnet_core::lifecycle::wait_for_stop_signal().await;
        on_signal.cancel();
    });
    let started = Instant::now();
    let stats = client::ping(target, options, tracer, &interrupted, |outcome| {
        if quiet {
            return;
        }
        match outcome {
            PingOutcome::Reply { seq, bytes, rtt } => {
                println!(
                    "{bytes} bytes from {target}: seq={seq} time={:.3} ms",
                    rtt.as_secs_f64() * 1e3
                );
            }
            PingOutcome::Timeout { seq } => println!("Request timeout for seq={seq}"),
        }
    })
    .await?;
    println!();
    print!("{}", stats.report(&target.to_string(), started.elapsed()));
    Ok(if stats.received() > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
