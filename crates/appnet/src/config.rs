//! The whole appnet config file: one section per service family, each owned by its crate.

use appnet_core::config::Seconds;
use appnet_dns::config::DnsConfig;
use appnet_ftp::config::FtpConfig;
use appnet_http::config::HttpConfig;
use appnet_mail::config::MailConfig;
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
