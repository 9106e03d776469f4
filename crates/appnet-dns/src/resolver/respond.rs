//! The resolver's face to its clients, sans-IO: the bytes of a received query are checked (ACL,
//! header, opcode, question) and either answered at once or handed on as a [`ClientQuery`] to
//! resolve, whose [`Answer`] then becomes the reply.
//!
//! RFC 1035 §4.1.1 (ID and RD copied, RA set because we recurse, AA clear because we are not
//! the zone's server, the question echoed as sent), RFC 5358 §4 (access control: REFUSED to
//! clients outside the ACL), RFC 6891 §6.1.3, §6.2.5 and §7 (an OPT record with our payload size
//! echoed, BADVERS, truncation at the client's size), RFC 2308 §3 (the SOA in authority of a
//! negative answer), RFC 8914 §4.4, §4.23 (extended errors "Stale Answer" and "No Reachable
//! Authority"), RFC 5936 §2.2 (zone transfers are for authoritative servers).
//!
//! Choices:
//! - a query with RD clear is answered from the cache alone, as BIND does and Unbound does for
//!   clients allowed to snoop: it asks what the cache holds and nothing else. When the cache has
//!   nothing, REFUSED: an empty NOERROR would claim the name has no data;
//! - class other than IN is REFUSED (a resolver of the Internet class; CHAOS `version.bind`
//!   queries get no answer), meta types other than ANY are NOTIMP;
//! - AXFR and IXFR are REFUSED: a resolver holds no zones to transfer.

use std::net::IpAddr;

use crate::acl::IpNet;

use crate::authority::Transport;
use crate::wire::edns::MIN_PAYLOAD_SIZE;
use crate::wire::message::{CLASSIC_UDP_LEN, MAX_MESSAGE_LEN};
use crate::wire::reader::Reader;
use crate::wire::{Class, Edns, EdnsOption, Header, Message, Opcode, Question, Rcode, RecordType};

use super::iterate::{Answer, Outcome, ResolveError};

/// The UDP payload size we advertise to clients (RFC 6891 §6.2.5; 1232 avoids fragmentation).
pub const CLIENT_PAYLOAD: u16 = 1232;

/// RFC 8914 §4: extended DNS error codes we send.
const EDE_OTHER: u16 = 0;
const EDE_STALE_ANSWER: u16 = 3;
const EDE_NO_REACHABLE_AUTHORITY: u16 = 22;

/// A reply ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    /// The reply as built, before any truncation: for traces and tests.
    pub message: Message,
    /// TC was set: the reply did not fit the client's UDP size.
    pub truncated: bool,
}

impl Reply {
    /// One line for traces.
    pub fn summary(&self) -> String {
        let summary = self.message.summary();
        if self.truncated {
            format!("{summary} [truncated]")
        } else {
            summary
        }
    }
}

/// What to do with a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Send nothing: too short to have an ID to answer under, or a response (QR set), which is
    /// never answered so that two servers cannot bounce errors at each other.
    Ignore,
    /// Send this now.
    Reply(Reply),
    /// A well-formed question from an allowed client: resolve it, then [`ClientQuery::reply`].
    Resolve(ClientQuery),
}

/// An accepted client query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuery {
    request: Message,
    question: Question,
    transport: Transport,
}

/// Checks a received message: the ACL first, then the header, then the question.
pub fn accept(bytes: &[u8], client: IpAddr, transport: Transport, allow: &[IpNet]) -> Incoming {
    let Ok(header) = Header::decode(bytes) else {
        return Incoming::Ignore;
    };
    if header.qr {
        return Incoming::Ignore;
    }
    // RFC 5358: a resolver open to the whole Internet amplifies reflection attacks and invites
    // cache poisoning, so the ACL (by default loopback only) comes before any other work.
    if !crate::acl::allows(allow, client) {
        return Incoming::Reply(header_only_reply(&header, bytes, Rcode::REFUSED));
    }
    let Ok(request) = Message::decode(bytes) else {
        return Incoming::Reply(header_only_reply(&header, bytes, Rcode::FORMERR));
    };
    let question = match check(&request) {
        Ok(question) => question,
        Err(rcode) => return Incoming::Reply(error_reply(&request, rcode, transport)),
    };
    Incoming::Resolve(ClientQuery {
        request,
        question,
        transport,
    })
}

/// The one question of a query we answer, or the RCODE that refuses it.
fn check(request: &Message) -> Result<Question, Rcode> {
    if request.edns.as_ref().is_some_and(|edns| edns.version > 0) {
        // RFC 6891 §6.1.3: we speak EDNS version 0 only.
        return Err(Rcode::BADVERS);
    }
    if request.header.opcode != Opcode::QUERY {
        return Err(Rcode::NOTIMP);
    }
    // RFC 9619: exactly one question.
    let [question] = request.questions.as_slice() else {
        return Err(Rcode::FORMERR);
    };
    if question.qclass != Class::IN {
        return Err(Rcode::REFUSED);
    }
    match question.qtype {
        RecordType::AXFR | RecordType::IXFR => Err(Rcode::REFUSED),
        RecordType::ANY => Ok(question.clone()),
        qtype if qtype.is_meta() => Err(Rcode::NOTIMP),
        _ => Ok(question.clone()),
    }
}

impl ClientQuery {
    /// The question, exactly as the client sent it.
    pub fn question(&self) -> &Question {
        &self.question
    }

    pub fn request(&self) -> &Message {
        &self.request
    }

    /// RD: the client wants us to recurse; without it we answer from the cache alone.
    pub fn recursion_desired(&self) -> bool {
        self.request.header.rd
    }

    /// The reply carrying `answer`: the CNAME chain and final RRset in the answer section, the
    /// SOA in authority for a negative answer, SERVFAIL when resolution failed.
    pub fn reply(&self, answer: &Answer) -> Reply {
        let mut message = skeleton(&self.request);
        message.set_rcode(answer.rcode());
        message.answers = answer.records.clone();
        message.authorities = answer.soa.iter().cloned().collect();
        if let (Some(edns), Some(option)) = (message.edns.as_mut(), extended_error(answer)) {
            edns.options.push(option);
        }
        finish(message, self.size_limit())
    }

    /// A reply with no records and `rcode` (REFUSED for a cache miss without RD, SERVFAIL
    /// when the resolver is overloaded).
    pub fn error(&self, rcode: Rcode) -> Reply {
        error_reply(&self.request, rcode, self.transport)
    }

    fn size_limit(&self) -> usize {
        size_limit(&self.request, self.transport)
    }
}

/// RFC 8914: why the answer is what it is, for clients that speak EDNS.
fn extended_error(answer: &Answer) -> Option<EdnsOption> {
    let (code, text) = match &answer.outcome {
        _ if answer.stale => (EDE_STALE_ANSWER, String::new()),
        Outcome::Failed(ResolveError::ServersFailed { zone }) => (
            EDE_NO_REACHABLE_AUTHORITY,
            format!("no server of {zone} answered"),
        ),
        Outcome::Failed(ResolveError::Deadline) => (
            EDE_NO_REACHABLE_AUTHORITY,
            ResolveError::Deadline.to_string(),
        ),
        Outcome::Failed(error) => (EDE_OTHER, error.to_string()),
        _ => return None,
    };
    let mut data = code.to_be_bytes().to_vec();
    data.extend_from_slice(text.as_bytes());
    Some(EdnsOption::new(EdnsOption::EDE, data))
}

/// The reply's frame: ID, opcode, RD and CD copied and the question echoed (by
/// [`Message::response_to`]), RA set, AA clear, and an OPT record with our payload size when
/// the query had one (RFC 6891 §7).
fn skeleton(request: &Message) -> Message {
    let mut message = Message::response_to(request);
    message.header.ra = true;
    message.edns = request.edns.as_ref().map(|theirs| Edns {
        // RFC 3225 §3: the DO bit is copied back.
        dnssec_ok: theirs.dnssec_ok,
        ..Edns::new(CLIENT_PAYLOAD)
    });
    message
}

fn error_reply(request: &Message, rcode: Rcode, transport: Transport) -> Reply {
    let mut message = skeleton(request);
    message.set_rcode(rcode);
    finish(message, size_limit(request, transport))
}

/// A reply for a message whose header is all we trust: same ID and opcode, RD copied, the
/// question echoed when it parses. RA stays clear: recursion is not available to a refused
/// client.
fn header_only_reply(header: &Header, bytes: &[u8], rcode: Rcode) -> Reply {
    let message = Message {
        header: Header {
            rcode,
            ..header.response()
        },
        questions: first_question(bytes).into_iter().collect(),
        ..Message::default()
    };
    finish(message, CLASSIC_UDP_LEN)
}

fn first_question(bytes: &[u8]) -> Option<Question> {
    let count = bytes.get(4..6)?;
    if count == [0, 0] {
        return None;
    }
    Question::read(&mut Reader::at(bytes, Header::LEN)).ok()
}

/// RFC 1035 §4.2.1: 512 bytes over UDP without EDNS; with EDNS the smaller of the client's size
/// (at least 512) and ours; over TCP what a length prefix can carry.
fn size_limit(request: &Message, transport: Transport) -> usize {
    match (transport, &request.edns) {
        (Transport::Tcp, _) => MAX_MESSAGE_LEN,
        (Transport::Udp, None) => CLASSIC_UDP_LEN,
        (Transport::Udp, Some(edns)) => {
            let ours = CLIENT_PAYLOAD.max(MIN_PAYLOAD_SIZE);
            usize::from(edns.effective_payload_size().min(ours))
        }
    }
}

fn finish(message: Message, limit: usize) -> Reply {
    let bytes = message.encode_truncated(limit);
    let truncated = Header::decode(&bytes).is_ok_and(|header| header.tc);
    Reply {
        bytes,
        message,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Name, RData, Record};
    use proptest::prelude::*;

    fn loopback() -> Vec<IpNet> {
        crate::acl::loopback()
    }

    fn query(name: &str, qtype: RecordType, edns: Option<Edns>) -> Message {
        Message::query(0x4242, Name::from_ascii(name).unwrap(), qtype, true, edns)
    }

    fn accept_local(message: &Message, transport: Transport) -> Incoming {
        accept(
            &message.encode(),
            IpAddr::from([127, 0, 0, 1]),
            transport,
            &loopback(),
        )
    }

    fn reply_of(incoming: Incoming) -> Message {
        match incoming {
            Incoming::Reply(reply) => Message::decode(&reply.bytes).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn answer_for(question: &Question, outcome: Outcome, records: Vec<Record>) -> Answer {
        Answer {
            question: question.clone(),
            outcome,
            records,
            soa: None,
            stale: false,
            queries: 0,
        }
    }

    #[test]
    fn the_acl_refuses_strangers_and_allows_loopback() {
        let bytes = query("www.example.", RecordType::A, None).encode();
        let refused = reply_of(accept(
            &bytes,
            IpAddr::from([192, 0, 2, 1]),
            Transport::Udp,
            &loopback(),
        ));
        assert_eq!(refused.rcode(), Rcode::REFUSED);
        assert_eq!(refused.header.id, 0x4242);
        assert!(!refused.header.ra);
        assert_eq!(refused.questions.len(), 1, "the question is echoed");
        for allowed in [
            IpAddr::from([127, 0, 0, 1]),
            "::1".parse().unwrap(),
            "::ffff:127.0.0.1".parse().unwrap(),
        ] {
            assert!(
                matches!(
                    accept(&bytes, allowed, Transport::Udp, &loopback()),
                    Incoming::Resolve(_)
                ),
                "{allowed}"
            );
        }
        assert!(
            matches!(
                accept(&bytes, IpAddr::from([127, 0, 0, 1]), Transport::Udp, &[]),
                Incoming::Reply(_)
            ),
            "an empty ACL allows nobody"
        );
    }

    #[test]
    fn short_messages_and_responses_get_nothing() {
        assert_eq!(
            accept(
                &[1, 2, 3],
                IpAddr::from([127, 0, 0, 1]),
                Transport::Udp,
                &loopback()
            ),
            Incoming::Ignore
        );
        let mut response = query("www.example.", RecordType::A, None);
        response.header.qr = true;
        assert_eq!(accept_local(&response, Transport::Udp), Incoming::Ignore);
    }

    #[test]
    fn undecodable_queries_get_formerr_under_their_id() {
        let mut bytes = query("www.example.", RecordType::A, None).encode();
        bytes.push(0);
        let reply = reply_of(accept(
            &bytes,
            IpAddr::from([127, 0, 0, 1]),
            Transport::Udp,
            &loopback(),
        ));
        assert_eq!((reply.header.id, reply.rcode()), (0x4242, Rcode::FORMERR));
    }

    #[test]
    fn what_a_resolver_does_not_do() {
        let rcode = |message: &Message| reply_of(accept_local(message, Transport::Tcp)).rcode();
        assert_eq!(
            rcode(&query("example.", RecordType::AXFR, None)),
            Rcode::REFUSED
        );
        assert_eq!(
            rcode(&query("example.", RecordType::IXFR, None)),
            Rcode::REFUSED
        );
        assert_eq!(
            rcode(&query("example.", RecordType(254), None)),
            Rcode::NOTIMP
        );
        let mut notify = query("example.", RecordType::SOA, None);
        notify.header.opcode = Opcode::NOTIFY;
        assert_eq!(rcode(&notify), Rcode::NOTIMP);
        let mut chaos = query("version.bind.", RecordType::TXT, None);
        chaos.questions[0].qclass = Class::CH;
        assert_eq!(rcode(&chaos), Rcode::REFUSED);
        let mut two = query("a.example.", RecordType::A, None);
        two.questions.push(Question::new(
            Name::from_ascii("b.example.").unwrap(),
            RecordType::A,
        ));
        assert_eq!(rcode(&two), Rcode::FORMERR);
        let edns1 = Edns {
            version: 1,
            ..Edns::new(1232)
        };
        assert_eq!(
            rcode(&query("example.", RecordType::A, Some(edns1))),
            Rcode::BADVERS
        );
    }

    #[test]
    fn a_reply_echoes_the_question_and_sets_ra_not_aa() {
        let request = query("WwW.ExAmPlE.", RecordType::A, Some(Edns::new(4096)));
        let Incoming::Resolve(client) = accept_local(&request, Transport::Udp) else {
            panic!("accepted");
        };
        let record = Record::new(
            Name::from_ascii("www.example.").unwrap(),
            60,
            RData::A([192, 0, 2, 1].into()),
        );
        let reply = client.reply(&answer_for(
            client.question(),
            Outcome::Positive,
            vec![record],
        ));
        let message = Message::decode(&reply.bytes).unwrap();
        assert!(message.header.qr && message.header.ra && message.header.rd && !message.header.aa);
        assert!(
            message.questions[0]
                .name
                .eq_exact(&request.questions[0].name)
        );
        assert_eq!(message.answers.len(), 1);
        assert_eq!(
            message.edns.map(|edns| edns.udp_payload_size),
            Some(CLIENT_PAYLOAD)
        );
    }

    #[test]
    fn failures_and_stale_answers_say_why() {
        let request = query("www.example.", RecordType::A, Some(Edns::new(1232)));
        let Incoming::Resolve(client) = accept_local(&request, Transport::Udp) else {
            panic!("accepted");
        };
        let failed = Outcome::Failed(ResolveError::ServersFailed { zone: Name::root() });
        let reply = Message::decode(
            &client
                .reply(&answer_for(client.question(), failed, vec![]))
                .bytes,
        )
        .unwrap();
        assert_eq!(reply.rcode(), Rcode::SERVFAIL);
        let ede = reply
            .edns
            .as_ref()
            .and_then(|edns| edns.option(EdnsOption::EDE))
            .unwrap();
        assert_eq!(ede[..2], EDE_NO_REACHABLE_AUTHORITY.to_be_bytes());
        let stale = Answer {
            stale: true,
            ..answer_for(client.question(), Outcome::Positive, vec![])
        };
        let reply = Message::decode(&client.reply(&stale).bytes).unwrap();
        let ede = reply
            .edns
            .as_ref()
            .and_then(|edns| edns.option(EdnsOption::EDE))
            .unwrap();
        assert_eq!(ede, EDE_STALE_ANSWER.to_be_bytes());
    }

    #[test]
    fn udp_replies_are_truncated_at_the_clients_size() {
        let request = query("big.example.", RecordType::TXT, None);
        let Incoming::Resolve(client) = accept_local(&request, Transport::Udp) else {
            panic!("accepted");
        };
        let owner = Name::from_ascii("big.example.").unwrap();
        let records: Vec<Record> = (0..10)
            .map(|i| Record::new(owner.clone(), 60, RData::Txt(vec![vec![b'a' + i; 200]])))
            .collect();
        let answer = answer_for(client.question(), Outcome::Positive, records.clone());
        let reply = client.reply(&answer);
        assert!(reply.truncated && reply.bytes.len() <= CLASSIC_UDP_LEN);
        let Incoming::Resolve(over_tcp) = accept_local(&request, Transport::Tcp) else {
            panic!("accepted");
        };
        assert!(!over_tcp.reply(&answer).truncated);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), tcp in any::<bool>()) {
            let transport = if tcp { Transport::Tcp } else { Transport::Udp };
            if let Incoming::Resolve(client) = accept(&bytes, IpAddr::from([127, 0, 0, 1]), transport, &loopback()) {
                let failed = Outcome::Failed(ResolveError::Deadline);
                let _ = client.reply(&answer_for(client.question(), failed, vec![]));
                let _ = client.error(Rcode::REFUSED);
            }
            let _ = accept(&bytes, IpAddr::from([192, 0, 2, 1]), transport, &loopback());
        }
    }
}
