//! `appnet dns serve`, `appnet dig` and the mini Internet's name servers: the command-line faces
//! of the appnet-dns crate.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use appnet_core::lifecycle::Services;
use appnet_core::net::TcpLimits;
use appnet_core::trace::Tracer;
use appnet_dns::authority::AuthorityOptions;
use appnet_dns::config::{DnsConfig, ResolverConfig};
use appnet_dns::dig::{self, DigRequest};
use appnet_dns::resolver::{self, Resolver};
use appnet_dns::server::{self, Authority, LoadReport, ZoneSource};
use appnet_dns::wire::{self, Name};
use appnet_dns::{client, mini};

use crate::cli::DnsCommand;
use crate::config::AppConfig;
use crate::serving::{self, ServiceRow};

pub async fn run(
    command: DnsCommand,
    config: &AppConfig,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match command {
        DnsCommand::Serve {
            zones,
            listen,
            notify,
        } => {
            let zones = if zones.is_empty() {
                config.dns.zones.clone()
            } else {
                zones
            };
            if zones.is_empty() {
                anyhow::bail!("no zones to serve: give --zone FILE (or dns.zones in the config)");
            }
            let sources = zones
                .into_iter()
                .map(|path| ZoneSource::File { path, origin: None })
                .collect();
            let notify = if notify.is_empty() {
                config.dns.notify.clone()
            } else {
                notify
            };
            let mut services = Services::new();
            let row = start_authority(
                "dns authoritative",
                listen.unwrap_or(config.dns.listen),
                sources,
                notify,
                &config.dns,
                &mut services,
                tracer,
            )
            .await?;
            Ok(serving::serve_until_signal(services, &[row], config.up.shutdown_grace).await)
        }
        DnsCommand::Resolve { listen, root_hints } => {
            let mut resolver = config.dns.resolver.clone();
            resolver.listen = listen.unwrap_or(resolver.listen);
            resolver.root_hints = root_hints.or(resolver.root_hints);
            let mut services = Services::new();
            let rows = start_resolver(resolver, &config.dns, &mut services, tracer).await?;
            Ok(serving::serve_until_signal(services, &rows, config.up.shutdown_grace).await)
        }
    }
}

/// The resolver's name in the service table.
pub const RESOLVER_SERVICE: &str = "dns resolver";

/// Starts the recursive resolver on `resolver.listen`, UDP and TCP.
pub async fn start_resolver(
    resolver: ResolverConfig,
    dns: &DnsConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<Vec<ServiceRow>> {
    const NAME: &str = RESOLVER_SERVICE;
    let listen = resolver.listen;
    let resolver = Arc::new(
        Resolver::new(resolver, dns.mini_port).map_err(|err| anyhow::anyhow!("{NAME}: {err}"))?,
    );
    let (udp, tcp) = appnet_core::net::bind_udp_and_tcp(listen)
        .await
        .with_context(|| format!("{NAME}: cannot listen on udp and tcp {listen}"))?;
    let address = udp.local_addr()?;
    let limits = TcpLimits {
        max_connections: dns.max_tcp_connections,
        idle_timeout: dns.tcp_idle_timeout.0,
    };
    let shutdown = services.shutdown();
    services.spawn(
        format!("{NAME} (udp)"),
        resolver::serve_udp(udp, resolver.clone(), tracer.clone(), shutdown.clone()),
    );
    services.spawn(
        format!("{NAME} (tcp)"),
        resolver::serve_tcp(tcp, resolver, limits, tracer.clone(), shutdown),
    );
    Ok(vec![ServiceRow {
        service: NAME.into(),
        transport: "udp+tcp",
        address,
        try_it: format!(
            "dig @{} -p {} www.alpha.example   |   appnet dig www.alpha.example",
            address.ip(),
            address.port()
        ),
    }])
}

/// Loads the zones, binds UDP and TCP on `listen`, and starts serving; SIGHUP reloads the zones
/// and then NOTIFYs `notify`.
pub async fn start_authority(
    name: &'static str,
    listen: SocketAddr,
    sources: Vec<ZoneSource>,
    notify: Vec<SocketAddr>,
    config: &DnsConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<ServiceRow> {
    let options = AuthorityOptions {
        max_udp_payload: config.max_udp_payload,
        allow_transfer: config.allow_transfer.clone(),
        ..AuthorityOptions::default()
    };
    let (authority, report) =
        Authority::load(sources, options).map_err(|err| anyhow::anyhow!("{name}: {err}"))?;
    print_load_report(name, &report);
    let authority = Arc::new(authority);
    let (udp, tcp) = appnet_core::net::bind_udp_and_tcp(listen)
        .await
        .with_context(|| format!("{name}: cannot listen on udp and tcp {listen}"))?;
    let address = udp.local_addr()?;
    let limits = TcpLimits {
        max_connections: config.max_tcp_connections,
        idle_timeout: config.tcp_idle_timeout.0,
    };
    let shutdown = services.shutdown();
    services.spawn(
        format!("{name} (udp)"),
        server::serve_udp(udp, authority.clone(), tracer.clone(), shutdown.clone()),
    );
    services.spawn(
        format!("{name} (tcp)"),
        server::serve_tcp(tcp, authority.clone(), limits, tracer.clone(), shutdown),
    );
    spawn_reloader(name, authority, notify, tracer.clone());
    let zone = report
        .zones
        .first()
        .map_or_else(Name::root, |(origin, _)| origin.clone());
    Ok(ServiceRow {
        service: name.into(),
        transport: "udp+tcp",
        address,
        try_it: format!("dig @{} -p {} {zone} SOA", address.ip(), address.port()),
    })
}

fn print_load_report(name: &str, report: &LoadReport) {
    for (origin, serial) in &report.zones {
        println!("{name}: serving {origin} (serial {serial})");
    }
    for warning in &report.warnings {
        println!("{name}: warning: {warning}");
    }
}

/// On every SIGHUP: reload the zones (keeping the old ones if a file is bad) and NOTIFY.
fn spawn_reloader(
    name: &'static str,
    authority: Arc<Authority>,
    notify: Vec<SocketAddr>,
    tracer: Tracer,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("{name}: cannot watch SIGHUP; zone reload by signal is off");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            // Parsing a large zone takes a while: off the runtime, so queries keep flowing.
            let reloading = authority.clone();
            let reloaded = tokio::task::spawn_blocking(move || reloading.reload()).await;
            let Ok(reloaded) = reloaded else {
                println!("{name}: SIGHUP: reload panicked; still serving the old zones");
                continue;
            };
            match reloaded {
                Ok(report) => {
                    println!("{name}: SIGHUP: reloaded");
                    print_load_report(name, &report);
                    let catalog = authority.catalog();
                    for zone in catalog.iter() {
                        for (target, acknowledged) in server::notify(zone, &notify, &tracer).await {
                            let outcome = if acknowledged {
                                "acknowledged"
                            } else {
                                "no acknowledgement"
                            };
                            println!("{name}: NOTIFY {} to {target}: {outcome}", zone.origin());
                        }
                    }
                }
                Err(err) => {
                    println!("{name}: SIGHUP: reload failed, still serving the old zones: {err}")
                }
            }
        }
    });
}

/// Starts the mini Internet's name servers (root, TLD, authoritative) for `appnet up`.
pub async fn start_mini_internet(
    config: &AppConfig,
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<Vec<ServiceRow>> {
    let mut rows = Vec::new();
    for server in mini::servers(config.dns.mini_port) {
        let sources = server
            .zones
            .into_iter()
            .map(|(origin, text)| {
                Ok(ZoneSource::Text {
                    origin: Name::from_ascii(origin)?,
                    text,
                })
            })
            .collect::<Result<Vec<_>, wire::NameError>>()?;
        rows.push(
            start_authority(
                server.role,
                server.address,
                sources,
                Vec::new(),
                &config.dns,
                services,
                tracer,
            )
            .await?,
        );
    }
    rows.extend(start_resolver(config.dns.resolver.clone(), &config.dns, services, tracer).await?);
    Ok(rows)
}

/// `appnet dig ARGS...`
pub async fn dig(args: &[String], config: &AppConfig, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        print!("{DIG_USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let request = match dig::parse_args(args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("appnet dig: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    if request.trace {
        return dig_trace(&request, config.dns.mini_port, tracer).await;
    }
    let server = match request.server {
        Some(ip) => SocketAddr::new(ip, request.port.unwrap_or(53)),
        None => {
            let default = config.dns.dig_server;
            SocketAddr::new(default.ip(), request.port.unwrap_or(default.port()))
        }
    };
    let exchanges = match dig::ask(&request, server, tracer).await {
        Ok(exchanges) => exchanges,
        Err(err) => {
            println!(";; communications error: {err}");
            return Ok(ExitCode::from(9));
        }
    };
    for exchange in &exchanges {
        print_exchange(&request, exchange);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_exchange(request: &DigRequest, exchange: &client::Exchange) {
    if request.json {
        println!("{}", dig::exchange_json(exchange));
    } else if request.short {
        print!("{}", dig::render_short(exchange));
    } else {
        print!("{}", dig::render_exchange(request, exchange, &now_text()));
    }
    if request.explain {
        println!(";; QUERY, byte by byte:");
        print!(
            "{}",
            wire::explain::render(&wire::explain(&exchange.query_bytes))
        );
        println!(";; RESPONSE, byte by byte:");
        print!(
            "{}",
            wire::explain::render(&wire::explain(&exchange.response_bytes))
        );
    }
}

async fn dig_trace(
    request: &DigRequest,
    mini_port: u16,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    let port = request.port.unwrap_or(mini_port);
    let roots = match request.server {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => mini::root_hints(port),
    };
    println!("\n; <<>> appnet dig <<>> {}", request.command_line);
    println!(
        ";; walking from the root: {}",
        roots
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let walked = dig::trace_walk(request, &roots, tracer, |step| {
        if request.json {
            println!("{}", dig::exchange_json(&step.exchange));
        } else {
            print!("{}", dig::render_trace_step(step));
        }
    })
    .await;
    match walked {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            println!(";; trace failed: {err}");
            Ok(ExitCode::from(9))
        }
    }
}

fn now_text() -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

const DIG_USAGE: &str = "\
Usage: appnet dig [@SERVER] NAME [TYPE] [options]

Asks a DNS server and prints the answer the way dig does.

  @SERVER        server IP address [default: dns.dig_server, the mini Internet's resolver]
  -p PORT        server port [default: 53 with @SERVER]
  -t TYPE        record type (A, AAAA, MX, NS, SOA, TXT, CNAME, PTR, SRV, CAA, AXFR, TYPE123)
  -x ADDR        reverse lookup (PTR of the address)
  +tcp           ask over TCP          +norecurse   clear the RD flag
  +trace         walk root -> TLD -> authoritative with non-recursive queries
  +short         only the answer data  +noedns      no OPT record
  +bufsize=N     EDNS UDP payload size +time=S +tries=N   patience
  --explain      the query and the response as annotated hex, field by field
  --json         the response as JSON

Names outside ASCII (e.g. Korean) are sent as IDNA A-labels (xn--...).
";
