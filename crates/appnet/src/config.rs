//! The whole appnet config file: one section per service family, each owned by its crate.

use std::path::Path;

use anyhow::Context;
use appnet_core::config::Seconds;
use appnet_dns::config::DnsConfig;
use appnet_ftp::config::FtpConfig;
use appnet_http::config::HttpConfig;
use appnet_mail::config::MailConfig;
use appnet_torrent::config::TorrentConfig;
use appnet_udp::config::UdpConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub up: UpConfig,
    pub udp: UdpConfig,
    pub dns: DnsConfig,
    pub http: HttpConfig,
    pub mail: MailConfig,
    pub ftp: FtpConfig,
    pub torrent: TorrentConfig,
}

/// The `[up]` section: how the whole mini Internet starts and stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpConfig {
    /// Seconds services get to finish after SIGINT/SIGTERM before they are aborted.
    pub shutdown_grace: Seconds,
}

impl Default for UpConfig {
    fn default() -> Self {
        UpConfig {
            shutdown_grace: Seconds::from_millis(1500),
        }
    }
}

/// Edits the config file at `path` in place with `edit`, keeping its comments and layout
/// (toml_edit), and replaces it so that a crash leaves the old file or the new one, never half
/// of one.
pub fn edit_file(
    path: &Path,
    edit: impl FnOnce(&mut toml_edit::DocumentMut) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    edit(&mut doc)?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string())?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
