//! `appnet dig`: dig's command line, dig's output, and the `+trace` walk from the root down.
//!
//! Arguments follow BIND's dig, so muscle memory works: `@server`, `-p port`, `-t type`, `-x addr`,
//! `+tcp`, `+norecurse`, `+trace`, `+short`, `+noedns`, `+bufsize=N`, `+time=N`, `+tries=N`, plus
//! appnet's `--explain` (annotated hex of every message) and `--json`. Names that are not ASCII are
//! converted to their IDNA A-labels (RFC 5891) before they go on the wire.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use appnet_core::trace::Tracer;
use serde_json::{Value, json};

use crate::client::{self, Exchange, QueryError, QueryOptions};
use crate::wire::{Edns, Message, Name, RData, Rcode, Record, RecordType};

/// Referrals followed by `+trace` before it gives up (a loop or an absurdly deep tree).
const MAX_TRACE_STEPS: usize = 24;
/// How deep `+trace` may recurse to find the address of a name server given without glue.
const MAX_GLUELESS_DEPTH: usize = 3;

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct DigRequest {
    pub qname: Name,
    pub qtype: RecordType,
    pub server: Option<IpAddr>,
    pub port: Option<u16>,
    pub tcp: bool,
    pub recurse: bool,
    pub trace: bool,
    pub short: bool,
    pub edns: bool,
    pub bufsize: u16,
    pub timeout: Duration,
    pub tries: u32,
    pub explain: bool,
    pub json: bool,
    /// The arguments as given, for dig's banner line.
    pub command_line: String,
}

/// Parses dig-style arguments (everything after `appnet dig`).
pub fn parse_args(args: &[String]) -> Result<DigRequest, String> {
    let mut request = DigRequest {
        qname: Name::root(),
        qtype: RecordType::A,
        server: None,
        port: None,
        tcp: false,
        recurse: true,
        trace: false,
        short: false,
        edns: true,
        bufsize: crate::wire::edns::DEFAULT_PAYLOAD_SIZE,
        timeout: Duration::from_secs(5),
        tries: 3,
        explain: false,
        json: false,
        command_line: args.join(" "),
    };
    let mut name: Option<String> = None;
    let mut qtype: Option<RecordType> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "-p" => request.port = Some(parse_number(&value("-p")?, "port")?),
            "-t" => qtype = Some(parse_type(&value("-t")?)?),
            "-x" => {
                name = Some(reverse_name(&value("-x")?)?);
                qtype = qtype.or(Some(RecordType::PTR));
            }
            "-c" => {
                let class = value("-c")?;
                if !class.eq_ignore_ascii_case("IN") {
                    return Err(format!(
                        "class {class} is not supported; appnet serves IN only"
                    ));
                }
            }
            "--explain" => request.explain = true,
            "--json" => request.json = true,
            _ if arg.starts_with('@') => {
                let server = &arg[1..];
                request.server = Some(
                    server
                        .parse()
                        .map_err(|_| format!("server {server:?} is not an IP address"))?,
                );
            }
            _ if arg.starts_with('+') => apply_plus_option(&mut request, &arg[1..])?,
            _ if arg.starts_with('-') && arg.len() > 1 => {
                return Err(format!("unknown option {arg}"));
            }
            _ if name.is_some() && qtype.is_none() && parse_type(arg).is_ok() => {
                qtype = Some(parse_type(arg)?);
            }
            _ if arg.eq_ignore_ascii_case("IN") => {}
            _ if name.is_none() => name = Some(arg.clone()),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    let Some(name) = name else {
        return Err(
            "which name? usage: appnet dig NAME [TYPE] [@SERVER] [-p PORT] [+tcp] [+trace]".into(),
        );
    };
    request.qname = to_query_name(&name)?;
    request.qtype = qtype.unwrap_or(RecordType::A);
    Ok(request)
}

fn apply_plus_option(request: &mut DigRequest, option: &str) -> Result<(), String> {
    let (key, value) = option.split_once('=').unwrap_or((option, ""));
    let (negated, key) = match key.strip_prefix("no") {
        Some(rest) => (true, rest),
        None => (false, key),
    };
    // dig accepts any unique prefix; the common spellings are enough here.
    match key {
        "tcp" | "vc" => request.tcp = !negated,
        "rec" | "recurse" => request.recurse = !negated,
        "trace" => request.trace = !negated,
        "short" => request.short = !negated,
        "edns" => request.edns = !negated,
        "bufsize" => request.bufsize = parse_number(value, "+bufsize")?,
        "time" => {
            request.timeout = Duration::from_secs(parse_number::<u64>(value, "+time")?.max(1))
        }
        "tries" => request.tries = parse_number::<u32>(value, "+tries")?.max(1),
        "retry" => request.tries = parse_number::<u32>(value, "+retry")?.saturating_add(1),
        "cmd" | "comments" | "stats" | "question" | "answer" | "authority" | "additional" => {}
        _ => return Err(format!("unknown option +{option}")),
    }
    Ok(())
}

fn parse_number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{what}: {text:?} is not a valid number"))
}

fn parse_type(text: &str) -> Result<RecordType, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|_| format!("unknown record type {text:?}"))
}

/// The name in the PTR tree for an address (RFC 1035 §3.5, RFC 3596 §2.5).
fn reverse_name(address: &str) -> Result<String, String> {
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("-x: {address:?} is not an IP address"))?;
    Ok(match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa.")
        }
        IpAddr::V6(v6) => {
            let mut name = String::new();
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0xf, byte >> 4);
            }
            name + "ip6.arpa."
        }
    })
}

/// A name as typed into a query name: IDNA A-labels for non-ASCII text (`한국.example` →
/// `xn--3e0b707e.example.`), always absolute.
pub fn to_query_name(text: &str) -> Result<Name, String> {
    let ascii = if text.is_ascii() {
        text.to_owned()
    } else {
        idna::domain_to_ascii(text)
            .map_err(|err| format!("{text:?} is not a valid IDNA name: {err}"))?
    };
    let absolute = if ascii.ends_with('.') {
        ascii
    } else {
        ascii + "."
    };
    Name::from_ascii(&absolute).map_err(|err| format!("{text:?}: {err}"))
}

impl DigRequest {
    /// The query this request sends, with a fresh random ID.
    pub fn query(&self, recurse: bool) -> Message {
        let edns = self.edns.then(|| Edns::new(self.bufsize));
        Message::query(
            client::random_id(),
            self.qname.clone(),
            self.qtype,
            recurse,
            edns,
        )
    }

    pub fn options(&self) -> QueryOptions {
        QueryOptions {
            timeout: self.timeout,
            retries: self.tries.saturating_sub(1),
            tcp: self.tcp,
        }
    }
}

/// Asks `server` the request's question, the way plain `dig` does (AXFR goes over TCP).
pub async fn ask(
    request: &DigRequest,
    server: SocketAddr,
    tracer: &Tracer,
) -> Result<Vec<Exchange>, QueryError> {
    let query = request.query(request.recurse);
    if request.qtype == RecordType::AXFR {
        let messages = client::transfer(server, &query, request.options(), tracer).await?;
        let query_bytes = query.encode();
        return Ok(messages
            .into_iter()
            .map(|response| Exchange {
                server,
                query_bytes: query_bytes.clone(),
                response_bytes: response.encode(),
                response,
                rtt: Duration::ZERO,
                over_tcp: true,
                retried_over_tcp: false,
            })
            .collect());
    }
    Ok(vec![
        client::query(server, &query, request.options(), tracer).await?,
    ])
}

/// One step of a `+trace` walk: which server was asked, and what it said.
#[derive(Debug)]
pub struct TraceStep {
    pub zone_hint: Name,
    pub exchange: Exchange,
}

/// Walks from `roots` down the delegation tree with non-recursive queries, as `dig +trace` does:
/// each referral names the next servers (by glue, or by resolving their names with a walk of
/// their own), until a server answers with authority or says the name does not exist.
pub async fn trace_walk(
    request: &DigRequest,
    roots: &[SocketAddr],
    tracer: &Tracer,
    mut on_step: impl FnMut(&TraceStep),
) -> Result<Vec<TraceStep>, String> {
    walk(
        request,
        request.qname.clone(),
        request.qtype,
        roots,
        0,
        tracer,
        &mut on_step,
    )
    .await
}

async fn walk(
    request: &DigRequest,
    qname: Name,
    qtype: RecordType,
    roots: &[SocketAddr],
    depth: usize,
    tracer: &Tracer,
    on_step: &mut dyn FnMut(&TraceStep),
) -> Result<Vec<TraceStep>, String> {
    let mut servers = roots.to_vec();
    let mut zone = Name::root();
    let mut steps = Vec::new();
    for _ in 0..MAX_TRACE_STEPS {
        let edns = request.edns.then(|| Edns::new(request.bufsize));
        let query = Message::query(client::random_id(), qname.clone(), qtype, false, edns);
        let exchange = ask_any(&servers, &query, request.options(), tracer).await?;
        let step = TraceStep {
            zone_hint: zone.clone(),
            exchange,
        };
        on_step(&step);
        let response = step.exchange.response.clone();
        steps.push(step);
        let referral = referral_of(&response, &zone);
        let Some((child, ns_names)) = referral else {
            return Ok(steps);
        };
        let port = servers.first().map_or(53, SocketAddr::port);
        servers = next_servers(request, &response, &ns_names, roots, port, depth, tracer).await?;
        zone = child;
    }
    Err(format!("gave up after {MAX_TRACE_STEPS} referrals"))
}

/// Tries each server in turn until one answers.
async fn ask_any(
    servers: &[SocketAddr],
    query: &Message,
    options: QueryOptions,
    tracer: &Tracer,
) -> Result<Exchange, String> {
    let mut errors = Vec::new();
    for &server in servers {
        match client::query(server, query, options, tracer).await {
            Ok(exchange) => return Ok(exchange),
            Err(err) => errors.push(err.to_string()),
        }
    }
    Err(format!("no server answered: {}", errors.join("; ")))
}

/// A referral (RFC 1034 §4.3.2 step 3b): no answer, not authoritative, NS records for a zone
/// below the one asked. Returns the child zone and its name servers.
fn referral_of(response: &Message, asked_zone: &Name) -> Option<(Name, Vec<Name>)> {
    if response.rcode() != Rcode::NOERROR || !response.answers.is_empty() || response.header.aa {
        return None;
    }
    let mut child = None;
    let mut names = Vec::new();
    for record in &response.authorities {
        if let RData::Ns(ns) = &record.rdata
            && record.name.is_subdomain_of(asked_zone)
            && record.name != *asked_zone
        {
            child.get_or_insert_with(|| record.name.clone());
            names.push(ns.clone());
        }
    }
    child.map(|child| (child, names))
}

/// The addresses of the next servers: glue from the additional section, or else each NS name
/// resolved by a walk of its own from the roots.
async fn next_servers(
    request: &DigRequest,
    response: &Message,
    ns_names: &[Name],
    roots: &[SocketAddr],
    port: u16,
    depth: usize,
    tracer: &Tracer,
) -> Result<Vec<SocketAddr>, String> {
    let glue: Vec<SocketAddr> = response
        .additionals
        .iter()
        .filter(|record| ns_names.contains(&record.name))
        .filter_map(|record| record.rdata.address().map(|ip| SocketAddr::new(ip, port)))
        .collect();
    if !glue.is_empty() {
        return Ok(glue);
    }
    if depth >= MAX_GLUELESS_DEPTH {
        return Err("name servers without glue nested too deeply".into());
    }
    for ns in ns_names {
        let steps = Box::pin(walk(
            request,
            ns.clone(),
            RecordType::A,
            roots,
            depth + 1,
            tracer,
            &mut |_| {},
        ))
        .await?;
        let addresses: Vec<SocketAddr> = steps
            .last()
            .map(|step| &step.exchange.response.answers)
            .into_iter()
            .flatten()
            .filter_map(|record| record.rdata.address().map(|ip| SocketAddr::new(ip, port)))
            .collect();
        if !addresses.is_empty() {
            return Ok(addresses);
        }
    }
    Err(format!("could not find an address for any of {ns_names:?}"))
}

/// dig's full output for one exchange.
pub fn render_exchange(request: &DigRequest, exchange: &Exchange, when: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n; <<>> appnet dig <<>> {}", request.command_line);
    let _ = writeln!(out, ";; global options: +cmd");
    if exchange.retried_over_tcp {
        let _ = writeln!(out, ";; Truncated, retrying in TCP mode.");
    }
    let _ = writeln!(out, ";; Got answer:");
    let _ = write!(out, "{}", exchange.response);
    let _ = writeln!(out, ";; Query time: {} msec", exchange.rtt.as_millis());
    let transport = if exchange.over_tcp { "TCP" } else { "UDP" };
    let server = exchange.server;
    let _ = writeln!(
        out,
        ";; SERVER: {}#{}({}) ({transport})",
        server.ip(),
        server.port(),
        server.ip()
    );
    let _ = writeln!(out, ";; WHEN: {when}");
    let _ = writeln!(out, ";; MSG SIZE  rcvd: {}", exchange.response_bytes.len());
    out
}

/// `+short`: only the RDATA of the answers, one per line.
pub fn render_short(exchange: &Exchange) -> String {
    exchange
        .response
        .answers
        .iter()
        .map(|record| format!("{}\n", record.rdata))
        .collect()
}

/// A `+trace` step as dig prints it: the records that moved the walk on, then where they came from.
pub fn render_trace_step(step: &TraceStep) -> String {
    let mut out = String::new();
    let response = &step.exchange.response;
    let shown: Vec<&Record> = if response.answers.is_empty() {
        response.authorities.iter().collect()
    } else {
        response.answers.iter().collect()
    };
    for record in shown {
        let _ = writeln!(out, "{}", crate::wire::text::dig_record_line(record));
    }
    if response.rcode() != Rcode::NOERROR {
        let _ = writeln!(out, ";; status: {}", response.rcode());
    }
    let server = step.exchange.server;
    let _ = writeln!(
        out,
        ";; Received {} bytes from {}#{}({}) in {} ms (zone {})\n",
        step.exchange.response_bytes.len(),
        server.ip(),
        server.port(),
        server.ip(),
        step.exchange.rtt.as_millis(),
        step.zone_hint,
    );
    out
}

/// `--json`: the exchange as one JSON object.
pub fn exchange_json(exchange: &Exchange) -> Value {
    let message = &exchange.response;
    let records = |records: &[Record]| -> Vec<Value> {
        records
            .iter()
            .map(|record| {
                json!({
                    "name": record.name.to_string(),
                    "ttl": record.ttl,
                    "class": record.class.to_string(),
                    "type": record.rtype().to_string(),
                    "data": record.rdata.to_string(),
                })
            })
            .collect()
    };
    json!({
        "server": exchange.server.to_string(),
        "transport": if exchange.over_tcp { "tcp" } else { "udp" },
        "rtt_ms": exchange.rtt.as_secs_f64() * 1000.0,
        "size": exchange.response_bytes.len(),
        "id": message.header.id,
        "opcode": message.header.opcode.to_string(),
        "status": message.rcode().to_string(),
        "flags": crate::wire::text::flag_names(&message.header),
        "question": message.questions.iter().map(|q| json!({
            "name": q.name.to_string(), "class": q.qclass.to_string(), "type": q.qtype.to_string(),
        })).collect::<Vec<_>>(),
        "answer": records(&message.answers),
        "authority": records(&message.authorities),
        "additional": records(&message.additionals),
        "edns": message.edns.as_ref().map(|edns| json!({
            "version": edns.version, "udp": edns.udp_payload_size, "do": edns.dnssec_ok,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_usual_dig_command_line() {
        let request =
            parse_args(&args("@127.0.0.1 -p 5300 www.example.com MX +tcp +norec")).unwrap();
        assert_eq!(request.qname, Name::from_ascii("www.example.com.").unwrap());
        assert_eq!(request.qtype, RecordType::MX);
        assert_eq!(request.server, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(request.port, Some(5300));
        assert!(request.tcp && !request.recurse);
    }

    #[test]
    fn a_name_that_looks_like_a_type_comes_first() {
        let request = parse_args(&args("mx a")).unwrap();
        assert_eq!(request.qname, Name::from_ascii("mx.").unwrap());
        assert_eq!(request.qtype, RecordType::A);
    }

    #[test]
    fn reverse_lookups_build_the_arpa_name() {
        let request = parse_args(&args("-x 192.0.2.1")).unwrap();
        assert_eq!(
            request.qname,
            Name::from_ascii("1.2.0.192.in-addr.arpa.").unwrap()
        );
        assert_eq!(request.qtype, RecordType::PTR);
        let v6 = parse_args(&args("-x 2001:db8::1")).unwrap();
        assert!(v6.qname.to_string().starts_with("1.0.0.0."));
        assert!(v6.qname.to_string().ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."));
    }

    #[test]
    fn korean_names_become_a_labels() {
        let name = to_query_name("한국.example").unwrap();
        assert!(name.to_string().starts_with("xn--"), "{name}");
        assert!(name.to_string().ends_with(".example."));
    }

    #[test]
    fn plus_options_set_and_clear() {
        let request = parse_args(&args(
            "example. +trace +noedns +bufsize=4096 +time=1 +tries=2 +short",
        ))
        .unwrap();
        assert!(request.trace && !request.edns && request.short);
        assert_eq!(request.bufsize, 4096);
        assert_eq!(request.timeout, Duration::from_secs(1));
        assert_eq!(request.tries, 2);
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(parse_args(&args("")).unwrap_err().contains("which name"));
        assert!(
            parse_args(&args("@not-an-ip example."))
                .unwrap_err()
                .contains("IP address")
        );
        assert!(
            parse_args(&args("example. +frobnicate"))
                .unwrap_err()
                .contains("+frobnicate")
        );
        assert!(
            parse_args(&args("-p"))
                .unwrap_err()
                .contains("-p needs a value")
        );
    }

    #[test]
    fn a_referral_names_the_child_zone_and_its_servers() {
        let query = Message::query(
            1,
            Name::from_ascii("www.alpha.example.").unwrap(),
            RecordType::A,
            false,
            None,
        );
        let mut response = Message::response_to(&query);
        let ns = |zone: &str, server: &str| {
            Record::new(
                Name::from_ascii(zone).unwrap(),
                3600,
                RData::Ns(Name::from_ascii(server).unwrap()),
            )
        };
        response.authorities.push(ns("example.", "ns.example."));
        let (child, servers) = referral_of(&response, &Name::root()).unwrap();
        assert_eq!(child, Name::from_ascii("example.").unwrap());
        assert_eq!(servers, vec![Name::from_ascii("ns.example.").unwrap()]);
        // The same NS from the zone itself is not a referral further down.
        assert!(referral_of(&response, &Name::from_ascii("example.").unwrap()).is_none());
        response.header.aa = true;
        assert!(
            referral_of(&response, &Name::root()).is_none(),
            "an authoritative answer ends the walk"
        );
    }
}
