//! The peer's tracker client, a tokio driver: announce and scrape over HTTP(S) (through
//! appnet-http's client, with its keep-alive pool) or UDP (BEP 15, the [`UdpExchange`] state
//! machine run on a socket of its own), chosen by the URL's scheme.
//!
//! Every wait is bounded: HTTP by the client's connect and read timeouts, UDP by the
//! retransmission schedule ([`UdpRetry`]). UDP exchanges are reported to the trace as protocol
//! `tracker` (HTTP ones as `http`, by the HTTP client).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use appnet_core::trace::{Role, TraceScope, Tracer};
use appnet_http::client::{Client, ClientConfig, ClientError};
use thiserror::Error;
use tokio::net::UdpSocket;

use super::InfoHash;
use super::client::{
    self, AnnounceParams, AnnounceResponse, ResponseError, UdpExchange, UdpFailure, UdpOutcome,
    UdpQuery, UdpRetry, UdpStep,
};
use super::swarm::SwarmStats;
use super::udp::{Request, Response};

/// Largest tracker answer read over HTTP: 1000 compact peers are 6 kB, so 1 MiB is generous.
const MAX_HTTP_BODY: u64 = 1024 * 1024;

/// How the client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Connecting, and each read, over HTTP.
    pub http_timeout: Duration,
    pub udp_retry: UdpRetry,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            http_timeout: Duration::from_secs(15),
            udp_retry: UdpRetry::default(),
        }
    }
}

/// Why an announce or scrape failed.
#[derive(Debug, Error)]
pub enum AnnounceError {
    #[error("tracker URL {0:?}: only http://, https:// and udp://host:port are supported")]
    UnsupportedUrl(String),
    #[error("cannot resolve the tracker {0}")]
    Resolve(String),
    #[error(transparent)]
    Http(#[from] ClientError),
    #[error("tracker answered HTTP {0}")]
    Status(u16),
    #[error(transparent)]
    Response(#[from] ResponseError),
    #[error(transparent)]
    Udp(#[from] UdpFailure),
    #[error("UDP socket: {0}")]
    Io(#[from] io::Error),
}

impl AnnounceError {
    /// The tracker's own `failure reason` (or BEP 15 error message), if that is what this is.
    pub fn failure_reason(&self) -> Option<&str> {
        match self {
            AnnounceError::Response(ResponseError::Failure(reason))
            | AnnounceError::Udp(UdpFailure::Tracker(reason)) => Some(reason),
            _ => None,
        }
    }
}

/// A tracker client; clones share the HTTP connection pool.
#[derive(Clone)]
pub struct TrackerClient {
    http: Client,
    options: ClientOptions,
    tracer: Tracer,
}

impl std::fmt::Debug for TrackerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TrackerClient {
    pub fn new(options: ClientOptions) -> Result<TrackerClient, AnnounceError> {
        let http = Client::new(ClientConfig {
            connect_timeout: options.http_timeout,
            read_timeout: options.http_timeout,
            max_body: MAX_HTTP_BODY,
            ..ClientConfig::default()
        })?;
        Ok(TrackerClient {
            http,
            options,
            tracer: Tracer::off(),
        })
    }

    /// Reports HTTP requests (protocol `http`) and UDP packets (protocol `tracker`) on `tracer`.
    pub fn with_tracer(mut self, tracer: Tracer) -> TrackerClient {
        self.http = self.http.with_tracer(tracer.clone());
        self.tracer = tracer;
        self
    }

    /// Announces to the tracker at `url` (`http://…/announce` or `udp://host:port`).
    pub async fn announce(
        &self,
        url: &str,
        params: &AnnounceParams,
    ) -> Result<AnnounceResponse, AnnounceError> {
        match udp_authority(url) {
            Some(authority) => {
                match self
                    .udp(authority, UdpQuery::Announce(params.clone()))
                    .await?
                {
                    UdpOutcome::Announce(response) => Ok(response),
                    UdpOutcome::Scrape(_) => Err(ResponseError::Mismatched.into()),
                }
            }
            None => {
                let body = self.http_get(&client::announce_url(url, params)).await?;
                Ok(client::parse_announce(&body)?)
            }
        }
    }

    /// Asks the tracker whose announce URL is `url` for the counts of `hashes` (BEP 48 or
    /// BEP 15); at most [`super::MAX_SCRAPE_HASHES`] per call.
    pub async fn scrape(
        &self,
        url: &str,
        hashes: &[InfoHash],
    ) -> Result<Vec<(InfoHash, SwarmStats)>, AnnounceError> {
        match udp_authority(url) {
            Some(authority) => match self
                .udp(authority, UdpQuery::Scrape(hashes.to_vec()))
                .await?
            {
                UdpOutcome::Scrape(stats) => Ok(stats),
                UdpOutcome::Announce(_) => Err(ResponseError::Mismatched.into()),
            },
            None => {
                let body = self.http_get(&client::scrape_url(url, hashes)?).await?;
                Ok(client::parse_scrape(&body)?)
            }
        }
    }

    async fn http_get(&self, url: &str) -> Result<Vec<u8>, AnnounceError> {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(AnnounceError::UnsupportedUrl(url.to_owned()));
        }
        let response = self.http.get(url).await?;
        // A failure reason may come with any status; read it if the body is bencoded.
        if !response.is_success() && bencode_failure(&response.body).is_none() {
            return Err(AnnounceError::Status(response.status));
        }
        Ok(response.body)
    }

    /// One BEP 15 exchange with the tracker at `authority` (`host:port`).
    async fn udp(&self, authority: &str, query: UdpQuery) -> Result<UdpOutcome, AnnounceError> {
        let tracker = tokio::net::lookup_host(authority)
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| AnnounceError::Resolve(authority.to_owned()))?;
        let any: SocketAddr = if tracker.is_ipv6() {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(any).await?;
        // connect(2) makes the kernel drop datagrams from anyone but the tracker.
        socket.connect(tracker).await?;
        let trace = self
            .tracer
            .scope("tracker", Role::Client, socket.local_addr()?, tracker);
        run_exchange(
            &socket,
            query,
            tracker.is_ipv6(),
            self.options.udp_retry,
            &trace,
        )
        .await
    }
}

/// `host:port` of a `udp://host:port[/path]` URL.
fn udp_authority(url: &str) -> Option<&str> {
    let scheme = url.get(..6)?;
    if !scheme.eq_ignore_ascii_case("udp://") {
        return None;
    }
    let rest = &url[6..];
    Some(rest.split(['/', '?']).next().unwrap_or(rest))
}

fn bencode_failure(body: &[u8]) -> Option<String> {
    match client::parse_announce(body) {
        Err(ResponseError::Failure(reason)) => Some(reason),
        _ => None,
    }
}

/// Drives a [`UdpExchange`] on a connected socket until it ends.
async fn run_exchange(
    socket: &UdpSocket,
    query: UdpQuery,
    ipv6: bool,
    retry: UdpRetry,
    trace: &TraceScope,
) -> Result<UdpOutcome, AnnounceError> {
    let now = std::time::Instant::now();
    let (mut exchange, first) = UdpExchange::start(query, ipv6, retry, now);
    send(socket, &first, trace).await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let deadline = tokio::time::Instant::from_std(exchange.deadline());
        let step = tokio::select! {
            received = socket.recv(&mut buf) => match received {
                Ok(len) => {
                    let datagram = &buf[..len];
                    trace.received(datagram, || match Response::decode(datagram, ipv6) {
                        Ok(response) => response.to_string(),
                        Err(error) => format!("malformed: {error}"),
                    });
                    exchange.on_datagram(datagram, std::time::Instant::now())
                }
                // An ICMP port unreachable from an earlier send shows up here: the tracker is
                // not there (yet); keep to the schedule rather than fail at once.
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => UdpStep::Ignore,
                Err(error) => return Err(error.into()),
            },
            () = tokio::time::sleep_until(deadline) => exchange.on_timeout(std::time::Instant::now()),
        };
        match step {
            UdpStep::Send(packet) => send(socket, &packet, trace).await?,
            UdpStep::Ignore => {}
            UdpStep::Done(outcome) => return Ok(outcome),
            UdpStep::Failed(failure) => return Err(failure.into()),
        }
    }
}

async fn send(socket: &UdpSocket, packet: &[u8], trace: &TraceScope) -> Result<(), AnnounceError> {
    match socket.send(packet).await {
        Ok(_) => {}
        // As above: a refused earlier datagram; this one may still get through.
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {}
        Err(error) => return Err(error.into()),
    }
    trace.sent(packet, || match Request::decode(packet) {
        Ok(request) => request.to_string(),
        Err(error) => format!("malformed: {error}"),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_urls() {
        assert_eq!(
            udp_authority("udp://127.0.0.1:6969"),
            Some("127.0.0.1:6969")
        );
        assert_eq!(
            udp_authority("UDP://tracker.example:80/announce"),
            Some("tracker.example:80")
        );
        assert_eq!(udp_authority("udp://[::1]:6969/x?y"), Some("[::1]:6969"));
        assert_eq!(udp_authority("http://127.0.0.1:6969/announce"), None);
        assert_eq!(udp_authority("udp:"), None);
    }
}
