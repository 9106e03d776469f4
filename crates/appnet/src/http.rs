//! `appnet http serve` and the mini Internet's web origin: the command-line faces of the
//! appnet-http crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use appnet_core::lifecycle::Services;
use appnet_core::net::TcpLimits;
use appnet_core::trace::Tracer;
use appnet_http::config::HttpConfig;
use appnet_http::demo;
use appnet_http::server::access_log::AccessLog;
use appnet_http::server::{self, Site};
use tokio::net::TcpListener;

use crate::cli::HttpCommand;
use crate::config::AppConfig;
use crate::serving::{self, ServiceRow};

pub async fn run(
    command: HttpCommand,
    config: &AppConfig,
    tracer: &Tracer,
) -> anyhow::Result<ExitCode> {
    match command {
        HttpCommand::Serve {
            root,
            listen,
            access_log,
            vhosts,
        } => {
            let mut http = config.http.clone();
            http.listen = listen.unwrap_or(http.listen);
            http.root = root.or(http.root);
            http.access_log = access_log.unwrap_or(http.access_log);
            let mut services = Services::new();
            let row = start_server(&http, &vhosts, &mut services, tracer).await?;
            Ok(serving::serve_until_signal(services, &[row], config.up.shutdown_grace).await)
        }
    }
}

/// Starts the static server as `http` says, with extra `HOST=DIR` virtual hosts.
pub async fn start_server(
    http: &HttpConfig,
    vhosts: &[String],
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<ServiceRow> {
    const NAME: &str = "http web origin";
    let root = match &http.root {
        Some(root) => root.clone(),
        None => {
            demo::write_demo_site(&demo::default_dir()).context("cannot write the demo site")?
        }
    };
    let mut site =
        Site::new(&root).with_context(|| format!("{NAME}: cannot serve {}", root.display()))?;
    for vhost in vhosts {
        let (host, dir) = vhost
            .split_once('=')
            .with_context(|| format!("--vhost {vhost:?}: expected HOST=DIR"))?;
        site = site
            .with_virtual_host(host, &PathBuf::from(dir))
            .with_context(|| format!("--vhost {vhost:?}: cannot serve {dir}"))?;
    }
    let log = AccessLog::open(&http.access_log)
        .with_context(|| format!("cannot open the access log {}", http.access_log))?;
    let listener = TcpListener::bind(http.listen)
        .await
        .with_context(|| format!("{NAME}: cannot listen on {}", http.listen))?;
    let address: SocketAddr = listener.local_addr()?;
    let limits = TcpLimits {
        max_connections: http.max_connections,
        idle_timeout: http.idle_timeout.0,
    };
    services.spawn(
        NAME,
        server::serve(
            listener,
            Arc::new(site),
            limits,
            Arc::new(log),
            tracer.clone(),
            services.shutdown(),
        ),
    );
    Ok(ServiceRow {
        service: NAME,
        transport: "tcp",
        address,
        try_it: format!("curl -v http://{address}/"),
    })
}
