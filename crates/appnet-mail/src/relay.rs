//! Relaying to other domains (RFC 5321 §5.1): find a domain's mail exchangers by MX, fall back
//! to its address records when it has no MX, refuse a null MX (RFC 7505), and try the
//! exchangers in preference order (equal preferences in random order, §5.1) until one takes
//! the message or refuses it for good.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use appnet_core::trace::Tracer;
use appnet_dns::client::{QueryOptions, query, random_id};
use appnet_dns::wire::{Message, Name, RData, Rcode, RecordType};
use rand::seq::SliceRandom;

use crate::client::{Connect, run_session};
use crate::smtp::{ClientConfig, ClientSession, Outcome, Reply, TlsPolicy};

/// How this server reaches other domains' servers.
#[derive(Clone)]
pub struct Relay {
    /// The DNS server asked, with recursion desired.
    pub resolver: SocketAddr,
    /// The port exchangers listen on (25 on the Internet).
    pub port: u16,
    /// The address to relay from: the server's own, when it listens on one.
    pub source: Option<IpAddr>,
    pub ehlo_name: String,
    pub tls: Arc<rustls::ClientConfig>,
    pub timeout: Duration,
    pub tracer: Tracer,
}

/// One message for some recipients in one domain.
pub struct Outbound<'a> {
    pub domain: &'a str,
    pub mail_from: &'a str,
    pub rcpt_to: &'a [String],
    pub data: &'a [u8],
    pub body_8bit: bool,
    pub smtputf8: bool,
}

/// A mail exchanger and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanger {
    pub host: String,
    pub addresses: Vec<IpAddr>,
}

impl Relay {
    /// Delivers to one domain; every recipient gets an outcome.
    pub async fn deliver(&self, outbound: &Outbound<'_>) -> Relayed {
        let exchangers = match self.exchangers(outbound.domain).await {
            Ok(exchangers) => exchangers,
            Err(reply) => return Relayed::unanswered(outbound.rcpt_to, Outcome::of(reply)),
        };
        let mut last_failure = Reply::with_status(
            451,
            (4, 4, 1),
            format!("no mail exchanger of {} answered", outbound.domain),
        );
        for exchanger in &exchangers {
            for address in &exchanger.addresses {
                let session = ClientSession::new(
                    ClientConfig {
                        ehlo_name: self.ehlo_name.clone(),
                        tls: TlsPolicy::Opportunistic,
                        tls_active: false,
                        auth: None,
                    },
                    outbound.mail_from.to_string(),
                    outbound.rcpt_to.to_vec(),
                    outbound.data,
                    outbound.smtputf8,
                    outbound.body_8bit,
                );
                let connect = Connect {
                    address: SocketAddr::new(*address, self.port),
                    source: self
                        .source
                        .filter(|source| source.is_ipv4() == address.is_ipv4()),
                    server_name: &exchanger.host,
                    tls: self.tls.clone(),
                    timeout: self.timeout,
                };
                match run_session(connect, session, &self.tracer).await {
                    // RFC 5321 §5.1: a server that answered decides, unless it only put us off
                    // before the transaction began; then the next exchanger may do better.
                    Ok(delivery) if !only_put_off(&delivery.recipients) => {
                        return Relayed {
                            exchanger: Some(exchanger.host.clone()),
                            recipients: delivery.recipients,
                        };
                    }
                    Ok(delivery) => {
                        if let Some((_, outcome)) = delivery.recipients.first() {
                            last_failure = outcome.reply().clone();
                        }
                    }
                    Err(err) => {
                        last_failure = Reply::with_status(
                            451,
                            (4, 4, 1),
                            format!("{} [{address}]: {err}", exchanger.host),
                        );
                    }
                }
            }
        }
        Relayed::unanswered(outbound.rcpt_to, Outcome::Transient(last_failure))
    }

    /// The exchangers of `domain` in the order to try them; a reply to bounce or defer with
    /// when there are none.
    pub async fn exchangers(&self, domain: &str) -> Result<Vec<Exchanger>, Reply> {
        let name = Name::from_ascii(domain).map_err(|_| {
            Reply::with_status(553, (5, 1, 2), format!("{domain} is not a domain name"))
        })?;
        let answer = self.ask(&name, RecordType::MX, domain).await?;
        if answer.header.rcode == Rcode::NXDOMAIN {
            return Err(Reply::with_status(
                550,
                (5, 1, 2),
                format!("the domain {domain} does not exist"),
            ));
        }
        let mut mxs: Vec<(u16, Name)> = answer
            .answers
            .iter()
            .filter_map(|record| match &record.rdata {
                RData::Mx {
                    preference,
                    exchange,
                } => Some((*preference, exchange.clone())),
                _ => None,
            })
            .collect();
        if mxs.is_empty() {
            // RFC 5321 §5.1: no MX means the domain itself is the exchanger.
            mxs.push((0, name));
        } else if mxs.iter().any(|(_, exchange)| exchange.is_root()) {
            return Err(Reply::with_status(
                556,
                (5, 1, 10),
                format!("{domain} accepts no mail (null MX, RFC 7505)"),
            ));
        }
        mxs.shuffle(&mut rand::rng());
        mxs.sort_by_key(|(preference, _)| *preference);
        let mut exchangers = Vec::new();
        for (_, host) in mxs {
            let addresses = self.addresses(&host, &answer).await;
            if !addresses.is_empty() {
                exchangers.push(Exchanger {
                    host: host.to_string().trim_end_matches('.').to_string(),
                    addresses,
                });
            }
        }
        if exchangers.is_empty() {
            return Err(Reply::with_status(
                451,
                (4, 4, 3),
                format!("no address for any mail exchanger of {domain}"),
            ));
        }
        Ok(exchangers)
    }

    /// The addresses of `host`: from the MX answer's additional section when it has them,
    /// else asked for (A, then AAAA).
    async fn addresses(&self, host: &Name, mx_answer: &Message) -> Vec<IpAddr> {
        let glue: Vec<IpAddr> = mx_answer
            .additionals
            .iter()
            .filter(|record| record.name == *host)
            .filter_map(|record| record.rdata.address())
            .collect();
        if !glue.is_empty() {
            return glue;
        }
        let mut addresses = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Ok(answer) = self.ask(host, rtype, &host.to_string()).await {
                addresses.extend(
                    answer
                        .answers
                        .iter()
                        .filter_map(|record| record.rdata.address()),
                );
            }
        }
        addresses
    }

    async fn ask(&self, name: &Name, rtype: RecordType, shown: &str) -> Result<Message, Reply> {
        let question = Message::query(random_id(), name.clone(), rtype, true, None);
        let exchange = query(
            self.resolver,
            &question,
            QueryOptions::default(),
            &self.tracer,
        )
        .await
        .map_err(|err| {
            Reply::with_status(
                451,
                (4, 4, 3),
                format!("DNS lookup of {shown} failed: {err}"),
            )
        })?;
        let rcode = exchange.response.header.rcode;
        if rcode != Rcode::NOERROR && rcode != Rcode::NXDOMAIN {
            return Err(Reply::with_status(
                451,
                (4, 4, 3),
                format!("DNS lookup of {shown} failed: {rcode}"),
            ));
        }
        Ok(exchange.response)
    }
}

/// The server refused the whole session temporarily (a 421 greeting, say) before any
/// recipient was looked at.
fn only_put_off(recipients: &[(String, Outcome)]) -> bool {
    recipients
        .iter()
        .all(|(_, outcome)| matches!(outcome, Outcome::Transient(reply) if reply.code == 421))
}

/// What relaying to one domain came to.
#[derive(Debug)]
pub struct Relayed {
    /// The exchanger whose replies decided (RFC 3464's Remote-MTA); none when no server
    /// answered and the outcome is our own.
    pub exchanger: Option<String>,
    pub recipients: Vec<(String, Outcome)>,
}

impl Relayed {
    fn unanswered(rcpts: &[String], outcome: Outcome) -> Relayed {
        Relayed {
            exchanger: None,
            recipients: rcpts
                .iter()
                .map(|rcpt| (rcpt.clone(), outcome.clone()))
                .collect(),
        }
    }
}
