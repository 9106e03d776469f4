//! `appnet http serve` and the mini Internet's web origin: the command-line faces of the
//! appnet-http crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use appnet_core::lifecycle::Services;
use appnet_core::net::TcpLimits;
use appnet_core::tls::TlsMaterial;
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
            tls_listen,
            cert,
            key,
        } => {
            let mut http = config.http.clone();
            http.listen = listen.unwrap_or(http.listen);
            http.root = root.or(http.root);
            http.access_log = access_log.unwrap_or(http.access_log);
            // The quick form serves HTTPS only when asked with `--tls-listen`.
            http.tls_listen = tls_listen;
            http.tls_cert = cert.or(http.tls_cert);
            http.tls_key = key.or(http.tls_key);
            let mut services = Services::new();
            let rows = start_server(&http, &vhosts, &mut services, tracer).await?;
            Ok(serving::serve_until_signal(services, &rows, config.up.shutdown_grace).await)
        }
    }
}

/// Starts the static server as `http` says, with extra `HOST=DIR` virtual hosts, over HTTP and,
/// when `http.tls_listen` is set, over HTTPS.
pub async fn start_server(
    http: &HttpConfig,
    vhosts: &[String],
    services: &mut Services,
    tracer: &Tracer,
) -> anyhow::Result<Vec<ServiceRow>> {
    const NAME: &str = "http web origin";
    const TLS_NAME: &str = "https web origin";
    let site = Arc::new(site(http, vhosts)?);
    let log = Arc::new(
        AccessLog::open(&http.access_log)
            .with_context(|| format!("cannot open the access log {}", http.access_log))?,
    );
    let limits = TcpLimits {
        max_connections: http.max_connections,
        idle_timeout: http.idle_timeout.0,
    };
    let listener = bind(NAME, http.listen).await?;
    let address = listener.local_addr()?;
    let serving = server::serve(
        listener,
        site.clone(),
        limits,
        log.clone(),
        None,
        tracer.clone(),
        services.shutdown(),
    );
    services.spawn(NAME, serving);
    let mut rows = vec![ServiceRow {
        service: NAME.into(),
        transport: "tcp",
        address,
        try_it: format!("curl -v http://{address}/"),
    }];
    if let Some(tls_listen) = http.tls_listen {
        let (tls, ca_file) = tls_config(http)?;
        let listener = bind(TLS_NAME, tls_listen).await?;
        let address = listener.local_addr()?;
        let serving = server::serve(
            listener,
            site,
            limits,
            log,
            Some(tls),
            tracer.clone(),
            services.shutdown(),
        );
        services.spawn(TLS_NAME, serving);
        let trust = ca_file.map_or_else(
            || "-k".to_owned(),
            |ca| format!("--cacert {}", ca.display()),
        );
        rows.push(ServiceRow {
            service: TLS_NAME.into(),
            transport: "tcp+tls",
            address,
            try_it: format!("curl {trust} https://{address}/"),
        });
    }
    Ok(rows)
}

/// The site: the configured root (or the demo site) and the `HOST=DIR` virtual hosts.
fn site(http: &HttpConfig, vhosts: &[String]) -> anyhow::Result<Site> {
    let root = match &http.root {
        Some(root) => root.clone(),
        None => {
            demo::write_demo_site(&demo::default_dir()).context("cannot write the demo site")?
        }
    };
    let mut site = Site::new(&root).with_context(|| format!("cannot serve {}", root.display()))?;
    for vhost in vhosts {
        let (host, dir) = vhost
            .split_once('=')
            .with_context(|| format!("--vhost {vhost:?}: expected HOST=DIR"))?;
        site = site
            .with_virtual_host(host, &PathBuf::from(dir))
            .with_context(|| format!("--vhost {vhost:?}: cannot serve {dir}"))?;
    }
    Ok(site)
}

async fn bind(name: &str, address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("{name}: cannot listen on {address}"))
}

/// The HTTPS server config: the given certificate and key, or appnet's own (kept with its local
/// CA, whose file is returned so that clients can be told to trust it).
fn tls_config(http: &HttpConfig) -> anyhow::Result<(Arc<rustls::ServerConfig>, Option<PathBuf>)> {
    if let (Some(cert), Some(key)) = (&http.tls_cert, &http.tls_key) {
        let config = appnet_core::tls::server_config_from_files(cert, key)
            .context("https: the given certificate")?;
        return Ok((config, None));
    }
    let (material, ca) = own_certificate()?;
    Ok((material.server_config()?, Some(ca)))
}

/// appnet's own certificate for loopback and the web origin, made on first use and kept with
/// its local CA (whose file is returned), which appnet's clients trust by default. HTTPS and
/// FTP share it.
pub fn own_certificate() -> anyhow::Result<(TlsMaterial, PathBuf)> {
    let dir = appnet_core::tls::default_dir();
    let names = [
        "localhost",
        "127.0.0.1",
        "::1",
        "www.web.example",
        "web.example",
    ];
    let material =
        TlsMaterial::load_or_generate(&dir, &names).context("appnet's own certificate")?;
    Ok((material, dir.join("ca.pem")))
}
