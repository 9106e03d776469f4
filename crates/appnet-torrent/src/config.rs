//! The tracker's section of the appnet config file (`appnet torrent track`, `appnet up`).

use std::net::SocketAddr;

use appnet_core::config::Seconds;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::tracker::InfoHash;
use crate::tracker::swarm::{Limits, SwarmConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Where HTTP (TCP) and UDP announces are served: one address, both protocols.
    pub listen: SocketAddr,
    /// Seconds between a peer's announces (1800 on the Internet; a few in the swarm
    /// experiment). Peers silent for twice this are forgotten.
    pub interval: Seconds,
    /// Info-hashes tracked at once; announces for new ones are refused beyond this.
    pub max_swarms: usize,
    /// Peers registered per swarm; beyond this a new peer gets peers but is not handed out.
    pub max_peers_per_swarm: usize,
    /// Peers registered in all swarms together.
    pub max_peers: usize,
    /// When set, only these info-hashes (40 hex digits each) are tracked.
    pub allow: Option<Vec<HexInfoHash>>,
    /// HTTP connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Seconds an HTTP connection may stay idle, or take to send one request.
    pub idle_timeout: Seconds,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        let limits = Limits::default();
        TrackerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 6969)),
            interval: Seconds::from_millis(1_800_000),
            max_swarms: limits.max_swarms,
            max_peers_per_swarm: limits.max_peers_per_swarm,
            max_peers: limits.max_peers,
            allow: None,
            max_connections: 1024,
            idle_timeout: Seconds::from_millis(30_000),
        }
    }
}

impl TrackerConfig {
    /// The registry's settings; an interval under a second is taken as one second, since
    /// peers told 0 would announce in a loop.
    pub fn swarm_config(&self) -> SwarmConfig {
        SwarmConfig {
            interval: self.interval.0.max(std::time::Duration::from_secs(1)),
            limits: Limits {
                max_swarms: self.max_swarms,
                max_peers_per_swarm: self.max_peers_per_swarm,
                max_peers: self.max_peers,
            },
            allow: self
                .allow
                .as_ref()
                .map(|hashes| hashes.iter().map(|h| h.0).collect()),
        }
    }
}

/// An info-hash written as 40 hex digits, as opentracker's whitelist has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexInfoHash(pub InfoHash);

impl Serialize for HexInfoHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for HexInfoHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        InfoHash::from_hex(&text).map(HexInfoHash).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not an info-hash of 40 hex digits"))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<TrackerConfig, appnet_core::config::InvalidConfig> {
        appnet_core::config::parse(text, Path::new("appnet.toml"))
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("").unwrap(), TrackerConfig::default());
        let config = parse(
            "listen = \"127.0.0.1:7000\"\ninterval = 5\nallow = [\"00112233445566778899AABBCCDDEEFF00112233\"]\n",
        )
        .unwrap();
        assert_eq!(config.listen.port(), 7000);
        let swarm = config.swarm_config();
        assert_eq!(swarm.interval.as_secs(), 5);
        let allow = swarm.allow.unwrap();
        assert!(
            allow
                .contains(&InfoHash::from_hex("00112233445566778899aabbccddeeff00112233").unwrap())
        );
        assert_eq!(
            parse("interval = 0")
                .unwrap()
                .swarm_config()
                .interval
                .as_secs(),
            1
        );
    }

    #[test]
    fn refuses_unknown_keys_and_bad_hashes() {
        let error = parse("listen = \"127.0.0.1:1\"\nwhitelist = []\n").unwrap_err();
        assert_eq!(error.line, Some(2));
        let error = parse("allow = [\"abc\"]\n").unwrap_err();
        assert!(error.message.contains("40 hex digits"), "{}", error.message);
    }

    #[test]
    fn renders_back_to_toml() {
        let config = TrackerConfig {
            allow: Some(vec![HexInfoHash(InfoHash([0xab; 20]))]),
            ..TrackerConfig::default()
        };
        let text = appnet_core::config::render(&config);
        assert_eq!(parse(&text).unwrap(), config);
    }
}

/// The `[torrent]` section of the appnet config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TorrentConfig {
    /// The tracker `appnet torrent track` runs.
    pub tracker: TrackerConfig,
    /// The mini Internet's tracker port (on 127.0.0.1), and where its swarm keeps the demo
    /// file, its .torrent and the peers' copies.
    pub up_port: u16,
    pub up_dir: std::path::PathBuf,
}

impl Default for TorrentConfig {
    fn default() -> Self {
        TorrentConfig {
            tracker: TrackerConfig::default(),
            up_port: 6969,
            up_dir: std::env::temp_dir().join("appnet-up").join("torrent"),
        }
    }
}
