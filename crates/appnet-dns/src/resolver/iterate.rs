//! One resolution as a sans-IO state machine: the driver asks [`Resolution::poll`] what to do,
//! sends the query it is given, feeds the answer (or the timeout) back, and polls again until it
//! gets the [`Answer`].
//!
//! RFC 1034 §5.3.3 (the algorithm: answer from the cache, else find the best servers known,
//! query them, and learn from each response — an answer, a CNAME to restart at, a negative
//! answer, or a referral one zone closer), RFC 1035 §7.2 (queries without RD, moving to the next
//! server on error or timeout), RFC 2308 §5 (negative caching), RFC 5452 §6 and §9.1 (only
//! in-bailiwick data, only from the server asked, with the ID and question asked), RFC 6891
//! (EDNS payload 1232 on every query), RFC 8767 (stale answers when resolution fails).
//!
//! A resolution is a stack of tasks: the client's question at the bottom, and on top of it the
//! address lookups of name servers that came without glue, each resolved like any question
//! (with limits on depth, so that two zones whose servers live in each other cannot loop).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::wire::{Edns, Message, Name, Question, RData, Rcode, Record, RecordType, rrsets};

use super::cache::{Cache, Freshness, Hit, Rank, negative_ttl};
use super::classify::{Classified, MAX_NS_NAMES, classify, sanitize};
use super::hints::Hints;

/// Upstream queries sent for one client question, sub-resolutions included.
pub const MAX_QUERIES: usize = 60;
/// Referrals followed while resolving one name.
pub const MAX_REFERRALS: usize = 16;
/// CNAMEs followed from the question's name (BIND and Unbound allow 8–16).
pub const MAX_CNAME_CHAIN: usize = 12;
/// Nested lookups of name-server addresses (a glue-less NS whose servers are glue-less too...).
pub const MAX_GLUELESS_DEPTH: usize = 4;
/// Server addresses kept per zone.
pub const MAX_SERVERS_PER_ZONE: usize = 16;
/// The EDNS payload size we offer upstream (DNS Flag Day 2020: no IP fragmentation).
pub const UPSTREAM_PAYLOAD: u16 = 1232;
/// Internal steps of one `poll` before the resolution is declared stuck: a safety net, since
/// every step already makes bounded progress.
const MAX_STEPS: usize = 10_000;

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send `query` to `server`, then call [`Resolution::on_response`] or
    /// [`Resolution::on_timeout`], then poll again.
    Query { server: SocketAddr, query: Message },
    /// The resolution is over.
    Done(Answer),
}

/// How the resolution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The RRset (after any CNAMEs).
    Positive,
    /// The name (the last of any CNAME chain) does not exist.
    NxDomain,
    /// The name exists without data of the type.
    NoData,
    /// Resolution failed and nothing stale was cached: the client gets SERVFAIL.
    Failed(ResolveError),
}

/// The result of resolving one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub question: Question,
    pub outcome: Outcome,
    /// The answer section: the CNAME chain in order, then the final RRset.
    pub records: Vec<Record>,
    /// For negative answers, the SOA for the authority section (RFC 2308 §3), its TTL the
    /// negative TTL.
    pub soa: Option<Record>,
    /// Served from expired cache data because resolution failed (RFC 8767); TTLs are 30.
    pub stale: bool,
    /// Upstream queries this resolution sent.
    pub queries: usize,
}

impl Answer {
    /// The RCODE for the client: NOERROR, NXDOMAIN or SERVFAIL.
    pub fn rcode(&self) -> Rcode {
        match self.outcome {
            Outcome::Positive | Outcome::NoData => Rcode::NOERROR,
            Outcome::NxDomain => Rcode::NXDOMAIN,
            Outcome::Failed(_) => Rcode::SERVFAIL,
        }
    }

    /// The records of the final RRset, without the CNAME chain before it.
    pub fn final_records(&self) -> impl Iterator<Item = &Record> {
        let asked = self.question.qtype;
        self.records
            .iter()
            .filter(move |r| asked == RecordType::CNAME || r.rtype() != RecordType::CNAME)
    }
}

/// Why a resolution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("every server for {zone} failed, timed out or gave no usable answer")]
    ServersFailed { zone: Name },
    #[error("more than {MAX_QUERIES} upstream queries")]
    QueryBudget,
    #[error("more than {MAX_REFERRALS} referrals")]
    TooManyReferrals,
    #[error("CNAME chain longer than {MAX_CNAME_CHAIN}")]
    ChainTooLong,
    #[error("CNAME loop at {0}")]
    CnameLoop(Name),
    #[error("no answer before the deadline")]
    Deadline,
    #[error("the resolution made no progress")]
    Stuck,
}

/// How one task ended.
#[derive(Debug, Clone)]
enum TaskResult {
    Positive {
        chain: Vec<Record>,
        rrset: Vec<Record>,
    },
    Negative {
        chain: Vec<Record>,
        nxdomain: bool,
        soa: Option<Record>,
    },
    Failed(ResolveError),
}

/// What a task wants next.
enum TaskStep {
    Send(SocketAddr),
    /// The addresses of a name server, as a sub-resolution.
    Need(Name, RecordType),
    Finished(TaskResult),
}

/// What the server set offers next.
enum Next {
    Server(SocketAddr),
    Resolve(Name, RecordType),
    Exhausted,
}

/// The servers of one zone being asked, in order: those with addresses, then those whose
/// addresses must be looked up, then a second round for those that timed out (a lost datagram
/// should not fail a zone with one server).
#[derive(Debug, Clone)]
struct ServerSet {
    zone: Name,
    port: u16,
    untried: VecDeque<SocketAddr>,
    timed_out: Vec<SocketAddr>,
    second_round: bool,
    unresolved: VecDeque<(Name, RecordType)>,
    known: Vec<SocketAddr>,
}

impl ServerSet {
    fn empty(zone: Name, port: u16) -> ServerSet {
        ServerSet {
            zone,
            port,
            untried: VecDeque::new(),
            timed_out: Vec::new(),
            second_round: false,
            unresolved: VecDeque::new(),
            known: Vec::new(),
        }
    }

    /// The root servers of the hints.
    fn hints(hints: &Hints) -> ServerSet {
        let mut set = ServerSet::empty(Name::root(), hints.port);
        for &server in &hints.servers {
            set.add(server);
        }
        set
    }

    /// The closest zone whose servers the cache knows, else the root (RFC 1034 §5.3.3 step 2).
    fn closest(qname: &Name, cache: &mut Cache, now: Instant, hints: &Hints) -> ServerSet {
        match cache.closest_delegation(qname, now) {
            Some((zone, names)) => ServerSet::for_zone(zone, &names, &[], cache, now, hints.port),
            None => ServerSet::hints(hints),
        }
    }

    /// The servers `names` of `zone`, with addresses from `glue` or the cache; names without
    /// any are looked up when the others have failed.
    fn for_zone(
        zone: Name,
        names: &[Name],
        glue: &[Record],
        cache: &mut Cache,
        now: Instant,
        port: u16,
    ) -> ServerSet {
        let mut set = ServerSet::empty(zone, port);
        for name in names.iter().take(MAX_NS_NAMES) {
            let mut addresses: Vec<_> = glue
                .iter()
                .filter(|record| &record.name == name)
                .filter_map(|record| record.rdata.address())
                .collect();
            if addresses.is_empty() {
                addresses = cache.addresses(name, now);
            }
            if addresses.is_empty() {
                set.unresolved.push_back((name.clone(), RecordType::A));
            }
            for address in addresses {
                set.add(SocketAddr::new(address, port));
            }
        }
        set
    }

    fn add(&mut self, server: SocketAddr) {
        if self.known.len() < MAX_SERVERS_PER_ZONE && !self.known.contains(&server) {
            self.known.push(server);
            self.untried.push_back(server);
        }
    }

    fn timed_out(&mut self, server: SocketAddr) {
        if !self.second_round {
            self.timed_out.push(server);
        }
    }

    fn next(&mut self) -> Next {
        if let Some(server) = self.untried.pop_front() {
            return Next::Server(server);
        }
        if let Some((name, rtype)) = self.unresolved.pop_front() {
            return Next::Resolve(name, rtype);
        }
        if !self.second_round && !self.timed_out.is_empty() {
            self.second_round = true;
            self.untried.extend(self.timed_out.drain(..));
            return self.next();
        }
        Next::Exhausted
    }
}

/// Resolving one name and type: the client's question, or a name server's address.
#[derive(Debug, Clone)]
struct Task {
    /// The name the task was started for.
    origin: Name,
    /// The name being resolved now: `origin`, or the target of the last CNAME.
    qname: Name,
    qtype: RecordType,
    chain: Vec<Record>,
    /// The least credible cache data that may end this task: clients get only answers, while a
    /// server address may come from glue.
    min_rank: Rank,
    servers: Option<ServerSet>,
    referrals: usize,
}

impl Task {
    fn new(name: Name, qtype: RecordType, min_rank: Rank) -> Task {
        Task {
            origin: name.clone(),
            qname: name,
            qtype,
            chain: Vec::new(),
            min_rank,
            servers: None,
            referrals: 0,
        }
    }

    fn next(&mut self, cache: &mut Cache, now: Instant, hints: &Hints) -> TaskStep {
        if self.servers.is_none() {
            if let Some(result) = self.consult_cache(cache, now, Freshness::Fresh) {
                return TaskStep::Finished(result);
            }
            self.servers = Some(ServerSet::closest(&self.qname, cache, now, hints));
        }
        let Some(servers) = self.servers.as_mut() else {
            return TaskStep::Finished(TaskResult::Failed(ResolveError::Stuck));
        };
        match servers.next() {
            Next::Server(server) => TaskStep::Send(server),
            Next::Resolve(name, rtype) => TaskStep::Need(name, rtype),
            Next::Exhausted => {
                TaskStep::Finished(TaskResult::Failed(ResolveError::ServersFailed {
                    zone: servers.zone.clone(),
                }))
            }
        }
    }

    /// Answers from the cache, following cached CNAMEs; `None` when the cache does not know.
    fn consult_cache(
        &mut self,
        cache: &mut Cache,
        now: Instant,
        freshness: Freshness,
    ) -> Option<TaskResult> {
        // Each turn follows one CNAME, and `follow` stops the chain at its limit.
        for _ in 0..=MAX_CNAME_CHAIN {
            match cache.lookup(&self.qname, self.qtype, self.min_rank, freshness, now)? {
                Hit::RRset(rrset) => return Some(self.positive(rrset)),
                Hit::NxDomain(soa) => return Some(self.negative(true, Some(soa))),
                Hit::NoData(soa) => return Some(self.negative(false, Some(soa))),
                Hit::Cname(cname) => {
                    if let Err(err) = self.follow(&cname) {
                        return Some(TaskResult::Failed(err));
                    }
                }
            }
        }
        Some(TaskResult::Failed(ResolveError::ChainTooLong))
    }

    /// Appends a CNAME to the chain and moves on to its target.
    fn follow(&mut self, cname: &Record) -> Result<(), ResolveError> {
        let RData::Cname(target) = &cname.rdata else {
            return Ok(());
        };
        if self.chain.len() >= MAX_CNAME_CHAIN {
            return Err(ResolveError::ChainTooLong);
        }
        if *target == self.origin || self.chain.iter().any(|seen| seen.name == *target) {
            return Err(ResolveError::CnameLoop(target.clone()));
        }
        self.chain.push(cname.clone());
        self.qname = target.clone();
        Ok(())
    }

    fn positive(&mut self, rrset: Vec<Record>) -> TaskResult {
        TaskResult::Positive {
            chain: std::mem::take(&mut self.chain),
            rrset,
        }
    }

    fn negative(&mut self, nxdomain: bool, soa: Option<Record>) -> TaskResult {
        TaskResult::Negative {
            chain: std::mem::take(&mut self.chain),
            nxdomain,
            soa,
        }
    }

    /// Learns from a response of a server of `zone`: `Some` when the task is over.
    fn on_response(
        &mut self,
        response: &Message,
        zone: &Name,
        cache: &mut Cache,
        now: Instant,
    ) -> Option<TaskResult> {
        let rank = if response.header.aa {
            Rank::Authoritative
        } else {
            Rank::Answer
        };
        let clean = sanitize(response, zone);
        match classify(&clean, &self.qname, self.qtype, zone) {
            Classified::Answer { chain, rrset } => {
                if let Err(err) = self.follow_all(&chain, rank, cache, now) {
                    return Some(TaskResult::Failed(err));
                }
                if self.qtype != RecordType::ANY {
                    cache.insert_rrset(&rrset, rank, now);
                }
                Some(self.positive(rrset))
            }
            Classified::Alias { chain, .. } => {
                if let Err(err) = self.follow_all(&chain, rank, cache, now) {
                    return Some(TaskResult::Failed(err));
                }
                // Start over at the target, from the cache or the closest servers known.
                self.servers = None;
                self.referrals = 0;
                None
            }
            Classified::NxDomain { chain, soa } => {
                self.learn_negative(&chain, true, soa, rank, cache, now)
            }
            Classified::NoData { chain, soa } => {
                self.learn_negative(&chain, false, soa, rank, cache, now)
            }
            Classified::Referral { child, ns, glue } => {
                self.learn_referral(child, &ns, &glue, cache, now)
            }
            Classified::Lame(_) => None,
        }
    }

    fn follow_all(
        &mut self,
        chain: &[Record],
        rank: Rank,
        cache: &mut Cache,
        now: Instant,
    ) -> Result<(), ResolveError> {
        for cname in chain {
            self.follow(cname)?;
            cache.insert_rrset(std::slice::from_ref(cname), rank, now);
        }
        Ok(())
    }

    fn learn_negative(
        &mut self,
        chain: &[Record],
        nxdomain: bool,
        soa: Option<Record>,
        rank: Rank,
        cache: &mut Cache,
        now: Instant,
    ) -> Option<TaskResult> {
        if let Err(err) = self.follow_all(chain, rank, cache, now) {
            return Some(TaskResult::Failed(err));
        }
        let soa = soa.and_then(|mut soa| {
            // RFC 2308 §3: the SOA goes back with the negative TTL, not its own.
            soa.ttl = negative_ttl(&soa)?;
            Some(soa)
        });
        if let Some(soa) = &soa {
            let qtype = (!nxdomain).then_some(self.qtype);
            cache.insert_negative(&self.qname, qtype, soa, now);
        }
        Some(self.negative(nxdomain, soa))
    }

    /// Moves one zone closer (RFC 1034 §5.3.3 step 4b), caching the delegation and its glue
    /// at the rank that keeps them from answering clients.
    fn learn_referral(
        &mut self,
        child: Name,
        ns: &[Record],
        glue: &[Record],
        cache: &mut Cache,
        now: Instant,
    ) -> Option<TaskResult> {
        self.referrals += 1;
        if self.referrals > MAX_REFERRALS {
            return Some(TaskResult::Failed(ResolveError::TooManyReferrals));
        }
        cache.insert_rrset(ns, Rank::Delegation, now);
        let mut sorted = glue.to_vec();
        sorted.sort_by(|a, b| (&a.name, a.rtype()).cmp(&(&b.name, b.rtype())));
        for rrset in rrsets(&sorted) {
            cache.insert_rrset(rrset, Rank::Delegation, now);
        }
        let names: Vec<Name> = ns
            .iter()
            .filter_map(|r| r.rdata.target_name().cloned())
            .collect();
        let port = self.servers.as_ref().map_or(0, |servers| servers.port);
        self.servers = Some(ServerSet::for_zone(child, &names, glue, cache, now, port));
        None
    }
}

/// The query in flight.
#[derive(Debug, Clone)]
struct Pending {
    server: SocketAddr,
    query: Message,
    /// The zone the server was asked as: its bailiwick.
    zone: Name,
}

/// What happened to the query in flight.
#[derive(Debug, Clone)]
enum Event {
    Response(Message),
    Timeout,
}

/// One client question being resolved.
#[derive(Debug, Clone)]
pub struct Resolution {
    question: Question,
    hints: Hints,
    tasks: Vec<Task>,
    pending: Option<Pending>,
    event: Option<Event>,
    queries: usize,
    done: Option<Answer>,
}

impl Resolution {
    /// Starts resolving `question` (class IN) from the cache, else from the closest known
    /// servers, else from `hints`.
    pub fn new(question: Question, hints: &Hints) -> Resolution {
        let task = Task::new(question.name.clone(), question.qtype, Rank::Answer);
        Resolution {
            question,
            hints: hints.clone(),
            tasks: vec![task],
            pending: None,
            event: None,
            queries: 0,
            done: None,
        }
    }

    pub fn question(&self) -> &Question {
        &self.question
    }

    /// Upstream queries sent so far.
    pub fn queries_sent(&self) -> usize {
        self.queries
    }

    /// Answers `question` from fresh cache data alone (for clients that clear RD), or `None`.
    pub fn from_cache(question: &Question, cache: &mut Cache, now: Instant) -> Option<Answer> {
        let mut task = Task::new(question.name.clone(), question.qtype, Rank::Answer);
        let result = task.consult_cache(cache, now, Freshness::Fresh)?;
        match result {
            TaskResult::Failed(_) => None,
            result => Some(answer_of(question, result, 0)),
        }
    }

    /// The answer that arrived for the query in flight, from `from`. A response from another
    /// server, or when nothing is in flight, is ignored (RFC 5452 §9.1).
    pub fn on_response(&mut self, from: SocketAddr, response: Message) {
        if self
            .pending
            .as_ref()
            .is_some_and(|pending| pending.server == from)
        {
            self.event = Some(Event::Response(response));
        }
    }

    /// The query in flight to `server` got no answer (timeout, or an error sending it).
    pub fn on_timeout(&mut self, server: SocketAddr) {
        if self
            .pending
            .as_ref()
            .is_some_and(|pending| pending.server == server)
        {
            self.event = Some(Event::Timeout);
        }
    }

    /// Advances the resolution: processes what arrived for the query in flight, then works
    /// until a query must be sent or the answer is known. While a query is in flight and
    /// nothing arrived for it, repeats it.
    pub fn poll(&mut self, cache: &mut Cache, now: Instant) -> Step {
        if let Some(answer) = &self.done {
            return Step::Done(answer.clone());
        }
        match self.event.take() {
            Some(event) => self.handle(event, cache, now),
            None => {
                if let Some(pending) = &self.pending {
                    return Step::Query {
                        server: pending.server,
                        query: pending.query.clone(),
                    };
                }
            }
        }
        for _ in 0..MAX_STEPS {
            if let Some(answer) = &self.done {
                return Step::Done(answer.clone());
            }
            if let Some(step) = self.work(cache, now) {
                return step;
            }
        }
        Step::Done(self.give_up(ResolveError::Stuck, cache, now))
    }

    /// Ends the resolution now (the driver's deadline passed): a stale answer if the cache has
    /// one, else a failure.
    pub fn give_up(&mut self, error: ResolveError, cache: &mut Cache, now: Instant) -> Answer {
        self.pending = None;
        if self.done.is_none() {
            self.fail(error, cache, now);
        }
        self.done
            .clone()
            .unwrap_or_else(|| self.failure(ResolveError::Stuck))
    }

    /// One step of the task on top; `Some` when the driver must act.
    fn work(&mut self, cache: &mut Cache, now: Instant) -> Option<Step> {
        let Some(task) = self.tasks.last_mut() else {
            self.fail(ResolveError::Stuck, cache, now);
            return None;
        };
        match task.next(cache, now, &self.hints) {
            TaskStep::Send(server) => self.send(server, cache, now),
            TaskStep::Need(name, rtype) => {
                self.spawn(name, rtype);
                None
            }
            TaskStep::Finished(result) => {
                self.finish(result, cache, now);
                None
            }
        }
    }

    fn handle(&mut self, event: Event, cache: &mut Cache, now: Instant) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let Some(task) = self.tasks.last_mut() else {
            return;
        };
        let response = match event {
            Event::Timeout => {
                if let Some(servers) = task.servers.as_mut() {
                    servers.timed_out(pending.server);
                }
                return;
            }
            Event::Response(response) => response,
        };
        // A reply that does not answer what was asked is worth no more than silence; the
        // server is not asked again.
        if !answers(&pending.query, &response) {
            return;
        }
        if let Some(result) = task.on_response(&response, &pending.zone, cache, now) {
            self.finish(result, cache, now);
        }
    }

    fn send(&mut self, server: SocketAddr, cache: &mut Cache, now: Instant) -> Option<Step> {
        if self.queries >= MAX_QUERIES {
            self.fail(ResolveError::QueryBudget, cache, now);
            return None;
        }
        let task = self.tasks.last()?;
        let zone = task.servers.as_ref()?.zone.clone();
        // RFC 5452 §4.3: a fresh random ID for every query (and the driver a fresh port).
        let query = Message::query(
            rand::random(),
            task.qname.clone(),
            task.qtype,
            false,
            Some(Edns::new(UPSTREAM_PAYLOAD)),
        );
        self.queries += 1;
        self.pending = Some(Pending {
            server,
            query: query.clone(),
            zone,
        });
        Some(Step::Query { server, query })
    }

    /// Starts looking up a name server's address, unless that would nest too deep or repeat a
    /// lookup already under way (which is how mutually dependent zones would loop).
    fn spawn(&mut self, name: Name, rtype: RecordType) {
        let repeated = self
            .tasks
            .iter()
            .any(|task| task.qtype == rtype && (task.origin == name || task.qname == name));
        if repeated || self.tasks.len() > MAX_GLUELESS_DEPTH {
            return;
        }
        self.tasks.push(Task::new(name, rtype, Rank::Delegation));
    }

    /// Pops the finished task: the question's answer, or addresses for the task below.
    fn finish(&mut self, result: TaskResult, cache: &mut Cache, now: Instant) {
        let Some(task) = self.tasks.pop() else {
            return;
        };
        let Some(parent) = self.tasks.last_mut() else {
            self.done = Some(match result {
                TaskResult::Failed(err) => self.stale_or_failure(err, cache, now),
                result => answer_of(&self.question, result, self.queries),
            });
            return;
        };
        let Some(servers) = parent.servers.as_mut() else {
            return;
        };
        match result {
            TaskResult::Positive { rrset, .. } => {
                for address in rrset.iter().filter_map(|record| record.rdata.address()) {
                    servers.add(SocketAddr::new(address, servers.port));
                }
            }
            // No IPv4 address: perhaps an IPv6 one.
            TaskResult::Negative {
                nxdomain: false, ..
            } if task.qtype == RecordType::A => {
                servers
                    .unresolved
                    .push_back((task.origin, RecordType::AAAA));
            }
            _ => {}
        }
    }

    fn fail(&mut self, error: ResolveError, cache: &mut Cache, now: Instant) {
        self.tasks.clear();
        self.done = Some(self.stale_or_failure(error, cache, now));
    }

    /// RFC 8767 §4: when resolution fails, expired data (at TTL 30) beats SERVFAIL.
    fn stale_or_failure(&self, error: ResolveError, cache: &mut Cache, now: Instant) -> Answer {
        let mut task = Task::new(
            self.question.name.clone(),
            self.question.qtype,
            Rank::Answer,
        );
        match task.consult_cache(cache, now, Freshness::AllowStale) {
            Some(TaskResult::Failed(_)) | None => self.failure(error),
            Some(result) => Answer {
                stale: true,
                ..answer_of(&self.question, result, self.queries)
            },
        }
    }

    fn failure(&self, error: ResolveError) -> Answer {
        Answer {
            question: self.question.clone(),
            outcome: Outcome::Failed(error),
            records: Vec::new(),
            soa: None,
            stale: false,
            queries: self.queries,
        }
    }
}

fn answer_of(question: &Question, result: TaskResult, queries: usize) -> Answer {
    let (outcome, records, soa) = match result {
        TaskResult::Positive { mut chain, rrset } => {
            chain.extend(rrset);
            (Outcome::Positive, chain, None)
        }
        TaskResult::Negative {
            chain,
            nxdomain,
            soa,
        } => {
            let outcome = if nxdomain {
                Outcome::NxDomain
            } else {
                Outcome::NoData
            };
            (outcome, chain, soa)
        }
        TaskResult::Failed(err) => (Outcome::Failed(err), Vec::new(), None),
    };
    Answer {
        question: question.clone(),
        outcome,
        records: records.into_iter().map(cap_ttl).collect(),
        soa: soa.map(cap_ttl),
        stale: false,
        queries,
    }
}

/// Upstream TTLs reach clients no longer than the cache would keep them.
fn cap_ttl(mut record: Record) -> Record {
    record.ttl = record.ttl.min(super::cache::MAX_TTL);
    record
}

/// RFC 5452 §9.1: the ID and the question match what was asked (case aside: RFC 4343).
fn answers(query: &Message, response: &Message) -> bool {
    response.header.qr
        && response.header.id == query.header.id
        && response.questions == query.questions
}
