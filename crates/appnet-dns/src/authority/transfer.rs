//! Zone transfers (AXFR, and IXFR answered without history) and change notification (NOTIFY).
//!
//! - RFC 5936 §2.2: a transfer is one or more response messages holding the SOA, then every
//!   other record of the zone once (delegation NS and glue included), then the SOA again; many
//!   records per message; the question in the first message only (§2.2.1 allows that); AA set;
//!   §4.2: TCP only.
//! - RFC 1995 §4: a server without the history an IXFR asks for may answer with the whole zone
//!   in AXFR form; §2: over UDP, or when the client is already current, the reply is just the
//!   SOA. Serials compare with RFC 1982 arithmetic.
//! - RFC 1996 §3: a NOTIFY is opcode 4 with the zone's SOA as the question and, as a hint, the
//!   SOA in the answer section; the secondary's acknowledgement echoes ID, opcode and question.

use std::iter;
use std::net::IpAddr;

use crate::wire::{Header, Message, Opcode, Question, RData, Rcode, Record, RecordType};
use crate::zone::{Catalog, Zone};

use super::{AuthorityOptions, Response, Transport, error_reply, finish, size_limit, skeleton};

/// RFC 5936 §2.2 leaves the size open; 16 KiB batches keep message count and buffer size low.
pub const DEFAULT_MESSAGE_SIZE: usize = 16 * 1024;

/// The messages of a full transfer of `zone` answering `query` (ID, question and EDNS are taken
/// from it), each encoded and ready to be framed on TCP.
pub fn axfr(zone: &Zone, query: &Message) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    transfer_batches(zone, query, &AuthorityOptions::default(), |message| {
        messages.push(message.encode());
    });
    messages
}

/// Handles a QTYPE of AXFR or IXFR.
pub(crate) fn transfer(
    catalog: &Catalog,
    request: &Message,
    question: &Question,
    transport: Transport,
    client: IpAddr,
    opts: &AuthorityOptions,
) -> Response {
    let is_axfr = question.qtype == RecordType::AXFR;
    if is_axfr && transport == Transport::Udp {
        return error_reply(request, Rcode::FORMERR, transport, opts);
    }
    let Some(zone) = catalog.get(&question.name) else {
        return error_reply(request, Rcode::NOTAUTH, transport, opts);
    };
    if !opts.transfer_allowed(client) {
        return error_reply(request, Rcode::REFUSED, transport, opts);
    }
    if !is_axfr && (transport == Transport::Udp || client_is_current(request, zone)) {
        return soa_only(request, zone, transport, opts);
    }
    // Encoded batch by batch so that a large zone is held once as records, not twice.
    let mut bytes = Vec::new();
    let mut first = None;
    transfer_batches(zone, request, opts, |message| {
        bytes.push(message.encode());
        first.get_or_insert(message);
    });
    let first = first.unwrap_or_default();
    Response {
        messages: bytes,
        rcode: first.rcode(),
        message: first,
        truncated: false,
    }
}

/// RFC 1995 §2: the SOA alone says "this is the current version; ask over TCP if you need
/// more".
fn soa_only(
    request: &Message,
    zone: &Zone,
    transport: Transport,
    opts: &AuthorityOptions,
) -> Response {
    let mut message = skeleton(request, opts);
    message.header.aa = true;
    message.answers.push(zone.soa().clone());
    finish(message, size_limit(request, transport, opts))
}

/// Whether the SOA an IXFR query carries in authority (RFC 1995 §3) is not older than ours.
fn client_is_current(request: &Message, zone: &Zone) -> bool {
    let theirs = request
        .authorities
        .iter()
        .find_map(|record| match record.rdata {
            RData::Soa { serial, .. } => Some(serial),
            _ => None,
        });
    theirs.is_some_and(|theirs| !serial_lt(theirs, zone.serial()))
}

/// RFC 1982 §3.2: `a < b` in 32-bit serial number arithmetic.
fn serial_lt(a: u32, b: u32) -> bool {
    const HALF: u32 = 1 << 31;
    (a < b && b - a < HALF) || (a > b && a - b > HALF)
}

/// Packs SOA, the rest of the zone in canonical order, and SOA into messages of about
/// `opts.transfer_message_size` bytes (estimated without compression, so never above it
/// unless one record alone is larger), handing each to `emit` in order.
fn transfer_batches(
    zone: &Zone,
    request: &Message,
    opts: &AuthorityOptions,
    mut emit: impl FnMut(Message),
) {
    let mut template = skeleton(request, opts);
    template.header.aa = true;
    let mut first = Some(template.questions.clone());
    template.questions.clear();
    let overhead = Header::LEN
        + request
            .questions
            .iter()
            .map(|q| q.name.wire_len() + 4)
            .sum::<usize>()
        + template
            .edns
            .as_ref()
            .map_or(0, crate::wire::Edns::wire_len);
    let soa = zone.soa().clone();
    let body = zone.records().filter(|r| r.rtype() != RecordType::SOA);
    let mut batch: Vec<Record> = Vec::new();
    let mut size = overhead;
    for record in iter::once(soa.clone()).chain(body).chain(iter::once(soa)) {
        let len = record_len(&record);
        if !batch.is_empty() && size + len > opts.transfer_message_size {
            emit(batch_message(
                &template,
                &mut first,
                std::mem::take(&mut batch),
            ));
            size = overhead;
        }
        size += len;
        batch.push(record);
    }
    emit(batch_message(&template, &mut first, batch));
}

fn batch_message(
    template: &Message,
    first: &mut Option<Vec<Question>>,
    answers: Vec<Record>,
) -> Message {
    Message {
        questions: first.take().unwrap_or_default(),
        answers,
        ..template.clone()
    }
}

/// Uncompressed wire size: owner, TYPE, CLASS, TTL, RDLENGTH, RDATA.
fn record_len(record: &Record) -> usize {
    record.name.wire_len() + 10 + record.rdata.to_wire().len()
}

/// RFC 1996 §3: the NOTIFY a primary sends its secondaries after `zone` changed.
pub fn notify_message(zone: &Zone, id: u16) -> Vec<u8> {
    let message = Message {
        header: Header {
            id,
            opcode: Opcode::NOTIFY,
            aa: true,
            ..Header::default()
        },
        questions: vec![Question::new(zone.origin().clone(), RecordType::SOA)],
        answers: vec![zone.soa().clone()],
        ..Message::default()
    };
    message.encode()
}

/// RFC 1996 §4.7: whether `reply` acknowledges the NOTIFY sent with `id`: a decodable
/// response, same ID, opcode NOTIFY, NOERROR.
pub fn is_notify_ack(reply: &[u8], id: u16) -> bool {
    Message::decode(reply).is_ok_and(|message| {
        let header = &message.header;
        header.qr
            && header.id == id
            && header.opcode == Opcode::NOTIFY
            && message.rcode() == Rcode::NOERROR
    })
}

#[cfg(test)]
mod tests {
    use super::serial_lt;

    #[test]
    fn serial_arithmetic() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 1));
        assert!(!serial_lt(5, 5));
        // Wrapping: 0xffff_fff0 is before 5.
        assert!(serial_lt(0xffff_fff0, 5));
        assert!(!serial_lt(5, 0xffff_fff0));
    }
}
