//! The authoritative server's answering logic, sans-IO: query bytes in, reply bytes out.
//!
//! The UDP and TCP drivers call [`respond`] once per received message and send every message of
//! the returned [`Response`] in order (one, except for a zone transfer over TCP), or nothing
//! when it returns `None`.
//!
//! - RFC 1034 §4.3.2 (the algorithm, in [`lookup`](mod@lookup)), RFC 1035 §4.1.1 (header and RCODEs);
//! - RFC 6891 §6.1.3 and §7 (EDNS: OPT echoed with our payload size, BADVERS for version > 0)
//!   and §6.2.5 with RFC 1035 §4.2.1 (UDP size limits; TC when the answer does not fit);
//! - RFC 7766 §6.2 (over TCP the limit is the 65,535 bytes of the length prefix);
//! - RFC 5936 (AXFR) and RFC 1995 (IXFR, answered as a full transfer or the SOA), in
//!   [`transfer`], with an address [`crate::acl`]; RFC 1996 (NOTIFY), also in [`transfer`].
//!
//! Choices, each a common server behaviour:
//! - minimal responses (NSD's and BIND's `minimal-responses`): positive answers carry no NS
//!   RRset in authority; additional data is only the addresses of NS, MX and SRV targets;
//! - QCLASS ANY is answered from the class IN data, without AA and without the SOA of a negative
//!   answer (RFC 1034 §3.7.1: such answers can never be authoritative), as NSD does;
//! - QTYPE ANY returns every RRset at the name (RFC 8482 §4 permits a minimal answer, and NSD
//!   gives one RRset; the full one shows students what is there);
//! - NOTIFY is answered REFUSED with the question echoed: the opcode is understood (this server
//!   sends NOTIFY), but as a primary-only server it has no secondary zone to refresh, and
//!   REFUSED tells the sender to stop retrying, which NOTIMP would not say as clearly;
//! - AXFR over UDP gets FORMERR: RFC 5936 §4.2 leaves AXFR over UDP undefined, so the query is
//!   malformed for the transport (BIND answers the same);
//! - a transfer of a name that is not the apex of one of our zones gets NOTAUTH (RFC 5936
//!   §2.2.1), one from an address outside `allow_transfer` gets REFUSED (RFC 1035 §4.1.1).

pub mod lookup;
pub mod transfer;

use std::net::IpAddr;

use crate::wire::edns::MIN_PAYLOAD_SIZE;
use crate::wire::message::{CLASSIC_UDP_LEN, MAX_MESSAGE_LEN};
use crate::wire::reader::Reader;
use crate::wire::{Class, Edns, Header, Message, Opcode, Question, Rcode, RecordType};
use crate::zone::{Catalog, Zone};

pub use lookup::{Outcome, OutcomeKind, lookup};
pub use transfer::{axfr, is_notify_ack, notify_message};

/// How the message arrived, which sets the size limit of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Server-wide settings of the answering logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityOptions {
    /// The UDP payload size we advertise and accept to send (RFC 6891 §6.2.5); 1232 avoids IP
    /// fragmentation (DNS Flag Day 2020). Values below 512 count as 512.
    pub max_udp_payload: u16,
    /// Who may AXFR/IXFR: by default loopback only.
    pub allow_transfer: Vec<crate::acl::IpNet>,
    /// Target size of each message of a zone transfer (RFC 5936 §2.2 lets a message carry many
    /// records); records are never split, so one large record can make a larger message.
    pub transfer_message_size: usize,
}

impl Default for AuthorityOptions {
    fn default() -> Self {
        Self {
            max_udp_payload: crate::wire::edns::DEFAULT_PAYLOAD_SIZE,
            allow_transfer: crate::acl::loopback(),
            transfer_message_size: transfer::DEFAULT_MESSAGE_SIZE,
        }
    }
}

impl AuthorityOptions {
    pub fn transfer_allowed(&self, client: IpAddr) -> bool {
        crate::acl::allows(&self.allow_transfer, client)
    }
}

/// What to send back for one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The wire messages to send, in order: exactly one over UDP; a zone transfer over TCP may
    /// need many.
    pub messages: Vec<Vec<u8>>,
    /// The full RCODE (with the EDNS extension).
    pub rcode: Rcode,
    /// The (first) reply as built, before truncation: for `--trace` and tests.
    pub message: Message,
    /// TC was set because the reply did not fit.
    pub truncated: bool,
}

impl Response {
    /// One line for traces, such as `R 4242 NOERROR aa www.example.com. A 192.0.2.1 (1 answer)`.
    pub fn summary(&self) -> String {
        let summary = self.message.summary();
        match (self.truncated, self.messages.len()) {
            (true, _) => format!("{summary} [truncated]"),
            (false, 0 | 1) => summary,
            (false, n) => format!("{summary} [{n} messages]"),
        }
    }
}

/// Answers one received message: `None` when nothing may be sent at all (fewer than 12 bytes,
/// so no ID to answer under, or a response — QR set — which is never answered, to avoid
/// loops between servers). An undecodable query still gets FORMERR under its ID.
pub fn respond(
    catalog: &Catalog,
    query: &[u8],
    transport: Transport,
    client: IpAddr,
    opts: &AuthorityOptions,
) -> Option<Response> {
    let header = Header::decode(query).ok()?;
    if header.qr {
        return None;
    }
    Some(match Message::decode(query) {
        Ok(request) => answer(catalog, &request, transport, client, opts),
        Err(_) => format_error(&header, query),
    })
}

/// [`respond`] for a message already decoded (and known to be a query).
pub fn answer(
    catalog: &Catalog,
    request: &Message,
    transport: Transport,
    client: IpAddr,
    opts: &AuthorityOptions,
) -> Response {
    if request.edns.as_ref().is_some_and(|edns| edns.version > 0) {
        // RFC 6891 §6.1.3: answer BADVERS with the highest version we do support, 0.
        return error_reply(request, Rcode::BADVERS, transport, opts);
    }
    match request.header.opcode {
        Opcode::QUERY => query(catalog, request, transport, client, opts),
        Opcode::NOTIFY => error_reply(request, Rcode::REFUSED, transport, opts),
        _ => error_reply(request, Rcode::NOTIMP, transport, opts),
    }
}

/// Opcode QUERY: one question (RFC 9619), class IN, then a transfer or a lookup.
fn query(
    catalog: &Catalog,
    request: &Message,
    transport: Transport,
    client: IpAddr,
    opts: &AuthorityOptions,
) -> Response {
    let [question] = request.questions.as_slice() else {
        return error_reply(request, Rcode::FORMERR, transport, opts);
    };
    if question.qclass != Class::IN && question.qclass != Class::ANY {
        return error_reply(request, Rcode::REFUSED, transport, opts);
    }
    if matches!(question.qtype, RecordType::AXFR | RecordType::IXFR) {
        return transfer::transfer(catalog, request, question, transport, client, opts);
    }
    let Some(zone) = select_zone(catalog, question) else {
        // Not ours: REFUSED without AA, as NSD and BIND answer for foreign names.
        return error_reply(request, Rcode::REFUSED, transport, opts);
    };
    let mut outcome = lookup(zone, &question.name, question.qtype);
    if question.qclass == Class::ANY {
        any_class(&mut outcome);
    }
    from_outcome(request, outcome, transport, opts)
}

/// QCLASS ANY (`*`): the records are our class IN data, but a server cannot know every class,
/// so the answer is never authoritative (RFC 1034 §3.7.1, RFC 1035 §6.2). Nor is a negative
/// answer given with the SOA: without it the denial is not cached (RFC 2308 §5), since it only
/// covers class IN. NSD answers the same way.
fn any_class(outcome: &mut Outcome) {
    outcome.authoritative = false;
    if matches!(outcome.kind, OutcomeKind::NoData | OutcomeKind::NxDomain) {
        outcome
            .authorities
            .retain(|record| record.rtype() != RecordType::SOA);
    }
}

/// The zone answering `question`; a DS query at a child apex goes to the parent if we have it,
/// since DS lives on the parent side of the cut (RFC 4035 §3.1.4.1).
fn select_zone<'c>(catalog: &'c Catalog, question: &Question) -> Option<&'c Zone> {
    let zone = catalog.find(&question.name)?;
    if question.qtype == RecordType::DS && zone.origin() == &question.name {
        let parent = question.name.parent().and_then(|name| catalog.find(&name));
        return parent.or(Some(zone));
    }
    Some(zone)
}

fn from_outcome(
    request: &Message,
    outcome: Outcome,
    transport: Transport,
    opts: &AuthorityOptions,
) -> Response {
    let mut message = skeleton(request, opts);
    message.header.aa = outcome.authoritative;
    message.set_rcode(outcome.rcode);
    message.answers = outcome.answers;
    message.authorities = outcome.authorities;
    let limit = size_limit(request, transport, opts);
    if outcome.required_glue > 0 {
        // RFC 9471 §3: in-domain glue must fit, else TC. It comes first in additional, so it
        // fits in the full message exactly when it fits alone.
        message.additionals = outcome
            .additionals
            .get(..outcome.required_glue)
            .unwrap_or_default()
            .to_vec();
        let written = additional_count(&message.encode_truncated(limit), message.edns.is_some());
        message.header.tc = written < outcome.required_glue;
    }
    message.additionals = outcome.additionals;
    finish(message, limit)
}

/// ARCOUNT of an encoded message, not counting the OPT record.
fn additional_count(bytes: &[u8], has_opt: bool) -> usize {
    let count = u16_at(bytes, 10).map_or(0, usize::from);
    count.saturating_sub(usize::from(has_opt))
}

/// The reply's frame: ID, opcode, RD and CD copied, the question echoed as sent (RFC 1035
/// §4.1.1; the exact case matters to resolvers using 0x20 randomisation), RA clear since we
/// do not recurse, and an OPT record when the query had one (RFC 6891 §7).
pub(crate) fn skeleton(request: &Message, opts: &AuthorityOptions) -> Message {
    let mut message = Message::response_to(request);
    message.edns = request.edns.as_ref().map(|theirs| Edns {
        // RFC 3225 §3: the DO bit is copied into the response.
        dnssec_ok: theirs.dnssec_ok,
        ..Edns::new(opts.max_udp_payload.max(MIN_PAYLOAD_SIZE))
    });
    message
}

/// A reply with no records and `rcode`.
pub(crate) fn error_reply(
    request: &Message,
    rcode: Rcode,
    transport: Transport,
    opts: &AuthorityOptions,
) -> Response {
    let mut message = skeleton(request, opts);
    message.set_rcode(rcode);
    finish(message, size_limit(request, transport, opts))
}

/// Encodes within `limit`, setting TC if something had to be left out.
pub(crate) fn finish(message: Message, limit: usize) -> Response {
    let bytes = message.encode_truncated(limit);
    let truncated = Header::decode(&bytes).is_ok_and(|header| header.tc);
    Response {
        rcode: message.rcode(),
        messages: vec![bytes],
        message,
        truncated,
    }
}

/// RFC 1035 §4.2.1: 512 over UDP without EDNS; with EDNS the smaller of the client's size
/// (at least 512, RFC 6891 §6.2.5) and ours; over TCP the 65,535 a length prefix can carry.
pub(crate) fn size_limit(
    request: &Message,
    transport: Transport,
    opts: &AuthorityOptions,
) -> usize {
    match (transport, &request.edns) {
        (Transport::Tcp, _) => MAX_MESSAGE_LEN,
        (Transport::Udp, None) => CLASSIC_UDP_LEN,
        (Transport::Udp, Some(edns)) => {
            let ours = opts.max_udp_payload.max(MIN_PAYLOAD_SIZE);
            usize::from(edns.effective_payload_size().min(ours))
        }
    }
}

/// FORMERR for a message whose header is readable but the rest is not: same ID and opcode, RD
/// copied, and the question echoed when it at least parses (RFC 1035 §4.1.1).
fn format_error(header: &Header, query: &[u8]) -> Response {
    let mut message = Message {
        header: Header {
            id: header.id,
            qr: true,
            opcode: header.opcode,
            rd: header.rd,
            cd: header.cd,
            rcode: Rcode::FORMERR,
            ..Header::default()
        },
        ..Message::default()
    };
    message.questions.extend(first_question(query));
    finish(message, CLASSIC_UDP_LEN)
}

fn first_question(query: &[u8]) -> Option<Question> {
    if u16_at(query, 4)? == 0 {
        return None;
    }
    Question::read(&mut Reader::at(query, Header::LEN)).ok()
}

fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let pair = bytes.get(offset..offset + 2)?;
    Some(u16::from_be_bytes(pair.try_into().ok()?))
}

#[cfg(test)]
mod tests;
