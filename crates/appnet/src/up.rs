//! `appnet up`: the whole mini Internet on loopback, with no configuration at all.
//!
//! Each protocol family adds its services here; the table printed at start-up says where each one
//! listens and gives a command line (ours, or a standard tool's) to try it.

use std::process::ExitCode;

use appnet_core::lifecycle::Services;
use appnet_core::trace::Tracer;

use crate::config::AppConfig;
use crate::dns;
use crate::ftp;
use crate::http;
use crate::mail;
use crate::serving;
use crate::torrent;
use crate::udp;

pub async fn run(config: &AppConfig, tracer: &Tracer) -> anyhow::Result<ExitCode> {
    let mut services = Services::new();
    let mut rows = vec![udp::start_server(config.udp.listen, &mut services, tracer).await?];
    rows.extend(dns::start_mini_internet(config, &mut services, tracer).await?);
    let resolver = rows
        .iter()
        .find(|row| row.service == dns::RESOLVER_SERVICE)
        .map(|row| row.address)
        .ok_or_else(|| anyhow::anyhow!("the mini Internet has no resolver"))?;
    rows.extend(mail::start_mini_mail(config, resolver, &mut services, tracer).await?);
    rows.extend(http::start_server(&config.http, &[], &mut services, tracer).await?);
    rows.push(ftp::start_mini_ftp(config, &mut services, tracer).await?);
    rows.extend(torrent::start_mini_swarm(config, &mut services, tracer).await?);
    Ok(serving::serve_until_signal(services, &rows, config.up.shutdown_grace).await)
}
