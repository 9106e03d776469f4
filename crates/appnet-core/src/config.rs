//! Config loading: one TOML file laid over embedded defaults.
//!
//! Every config type derives `Default` (the embedded default) and is deserialized with
//! `#[serde(default, deny_unknown_fields)]`, so an absent file or key means "the default" and a
//! misspelt key is an error rather than silently ignored. Errors carry the file, line and dotted key
//! path so a user can go straight to the mistake.

use std::fmt;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(InvalidConfig),
}

/// Where and why a config file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    pub path: PathBuf,
    /// 1-based line of the offending text, when the parser reported a position.
    pub line: Option<usize>,
    /// Dotted key path (`udp.listen`), when it could be determined.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A duration written in the config as a number of seconds (`timeout = 1.5`); negative, infinite
/// and absurdly large values are rejected at load time, with the key and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub Duration);

impl Seconds {
    pub fn from_millis(ms: u64) -> Seconds {
        Seconds(Duration::from_millis(ms))
    }
}

impl Serialize for Seconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_secs_f64())
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A day is far beyond any timeout or interval a service here needs.
        const MAX_SECONDS: f64 = 86_400.0;
        let secs = f64::deserialize(d)?;
        if !(0.0..=MAX_SECONDS).contains(&secs) {
            return Err(serde::de::Error::custom(format!(
                "{secs} is not a number of seconds between 0 and {MAX_SECONDS}"
            )));
        }
        Ok(Seconds(Duration::from_secs_f64(secs)))
    }
}

/// Loads `T` from `path`, or returns the embedded default when `path` is `None`.
pub fn load<T: DeserializeOwned + Default>(path: Option<&Path>) -> Result<T, ConfigError> {
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path).map_err(ConfigError::Invalid)
}

/// Parses config text; `origin` only names the source in errors.
pub fn parse<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T, InvalidConfig> {
    toml::from_str(text).map_err(|err| {
        let offset = err.span().map(|span| span.start);
        InvalidConfig {
            path: origin.to_owned(),
            line: offset.map(|at| line_of(text, at)),
            key: offset.and_then(|at| key_path_at(text, at, err.message())),
            message: err.message().trim().to_owned(),
        }
    })
}

/// Renders the effective config as TOML (for `appnet config print`).
pub fn render<T: Serialize>(config: &T) -> String {
    toml::to_string_pretty(config).expect("config types serialize to TOML")
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reconstructs the dotted key an error points at: the nearest `[table]` header above the
/// position, plus the key on the error's line (or the unknown field the message names).
fn key_path_at(text: &str, offset: usize, message: &str) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();

    let leaf = backticked_after(message, "unknown field `")
        .or_else(|| line.split_once('=').map(|(key, _)| key.trim().to_owned()))
        .filter(|key| !key.is_empty() && !key.starts_with('['));
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|header| {
            header
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned()
        });
    let header_on_line = line.starts_with('[').then(|| {
        line.trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_owned()
    });

    match (header_on_line, table, leaf) {
        (Some(header), _, _) => Some(header),
        (None, Some(table), Some(leaf)) => Some(format!("{table}.{leaf}")),
        (None, None, Some(leaf)) => Some(leaf),
        (None, Some(table), None) => Some(table),
        (None, None, None) => None,
    }
}

fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Example {
        udp: Udp,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Udp {
        listen: SocketAddr,
        retries: u32,
        timeout: Seconds,
    }

    impl Default for Udp {
        fn default() -> Self {
            Udp {
                listen: "127.0.0.1:12000".parse().unwrap(),
                retries: 3,
                timeout: Seconds::from_millis(1500),
            }
        }
    }

    fn parse_example(text: &str) -> Result<Example, InvalidConfig> {
        parse(text, Path::new("appnet.toml"))
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(parse_example("").unwrap(), Example::default());
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let config = parse_example("[udp]\nretries = 7\n").unwrap();
        assert_eq!(config.udp.retries, 7);
        assert_eq!(config.udp.listen, Udp::default().listen);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse_example("# comment\n[udp]\nlistn = \"127.0.0.1:1\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("udp.listn"));
        assert!(
            err.to_string()
                .starts_with("appnet.toml:3: key `udp.listn`: unknown field")
        );
    }

    #[test]
    fn bad_value_is_named_with_its_line() {
        let err = parse_example("[udp]\nretries = 3\nlisten = \"not an address\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("udp.listen"));
    }

    #[test]
    fn seconds_accept_fractions_and_refuse_nonsense() {
        let config = parse_example("[udp]\ntimeout = 0.25\n").unwrap();
        assert_eq!(config.udp.timeout, Seconds::from_millis(250));
        let config = parse_example("[udp]\ntimeout = 2\n").unwrap();
        assert_eq!(config.udp.timeout, Seconds::from_millis(2000));
        for bad in ["-1", "inf", "nan", "1e300"] {
            let err = parse_example(&format!("[udp]\ntimeout = {bad}\n")).unwrap_err();
            assert_eq!(
                (err.line, err.key.as_deref()),
                (Some(2), Some("udp.timeout")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = parse_example("[udp]\nretries = = 3\n").unwrap_err();
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn render_round_trips() {
        let text = render(&Example::default());
        assert_eq!(parse_example(&text).unwrap(), Example::default());
    }
}
