//! The resolver's cache: RRsets and negative answers keyed by (name, type), each with an absolute
//! expiry time and a credibility rank, bounded in size, and kept a while past expiry to serve
//! stale.
//!
//! RFC 1034 §5.3.3 and RFC 1035 §7.4 (what a resolver caches), RFC 2181 §5.2 (an RRset has one
//! TTL: the smallest), §5.4.1 (ranking: an authoritative answer outranks referral NS records and
//! glue, which must not answer clients) and §8 (TTLs are 31 bits), RFC 2308 §5 (negative caching:
//! NXDOMAIN covers every type of a name, NODATA one type; the TTL is min(SOA TTL, SOA MINIMUM)),
//! RFC 8767 §4–5 (serve-stale: keep expired data up to a day, answer with it at TTL 30 only when
//! the upstreams fail).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::wire::{Name, RData, Record, RecordType};

/// No RRset is kept longer than a day, whatever its TTL says: a wrong record must age out.
pub const MAX_TTL: u32 = 86_400;
/// RFC 2308 §5 suggests capping negative TTLs at one to three hours; we take three.
pub const MAX_NEGATIVE_TTL: u32 = 10_800;
/// RFC 8767 §5: expired data is kept this long past its expiry, to answer with when every
/// upstream fails (the RFC suggests one to three days).
pub const STALE_WINDOW: Duration = Duration::from_secs(86_400);
/// RFC 8767 §4: the TTL given to stale records, so clients come back soon for fresh ones.
pub const STALE_TTL: u32 = 30;

/// How far a cached RRset can be trusted (RFC 2181 §5.4.1, simplified to three ranks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rank {
    /// A referral's NS records and glue: the parent's copy, good for finding servers but not
    /// for answering clients (the child zone's own copy may differ).
    Delegation,
    /// The answer section of a response without AA.
    Answer,
    /// The answer of the zone's own server (AA set), or a negative answer from it.
    Authoritative,
}

/// Whether expired entries (within [`STALE_WINDOW`]) may be returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// RFC 8767: the upstreams failed; expired data is better than none. Stale records come
    /// back with TTL [`STALE_TTL`].
    AllowStale,
}

/// What the cache knows about a (name, type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    /// The RRset itself, TTLs counting down.
    RRset(Vec<Record>),
    /// No RRset of the type, but the name is an alias: the CNAME record.
    Cname(Record),
    /// The name does not exist (RFC 2308 §5); the SOA to put in authority.
    NxDomain(Record),
    /// The name exists without this type (RFC 2308 §5); the SOA to put in authority.
    NoData(Record),
}

/// What a key holds: a positive RRset, or negative knowledge for a name (every type) or type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Type(RecordType),
    NxDomain,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// Lowercased: `Name` compares case-insensitively anyway, and one spelling keeps it simple.
    name: Name,
    slot: Slot,
}

#[derive(Debug, Clone)]
enum Data {
    RRset(Vec<Record>),
    /// A negative answer and the SOA that came with it, its TTL set to the negative TTL.
    Negative(Record),
}

#[derive(Debug, Clone)]
struct Entry {
    data: Data,
    rank: Rank,
    expires: Instant,
    /// The access tick of the last lookup or insert, for least-recently-used eviction.
    used: u64,
}

impl Entry {
    fn is_fresh(&self, now: Instant) -> bool {
        now < self.expires
    }

    /// Still worth keeping: fresh, or expired less than [`STALE_WINDOW`] ago.
    fn is_keepable(&self, now: Instant) -> bool {
        now < self.expires + STALE_WINDOW
    }

    /// The TTL to hand out: the seconds left, or [`STALE_TTL`] once expired.
    fn ttl_now(&self, now: Instant) -> u32 {
        if !self.is_fresh(now) {
            return STALE_TTL;
        }
        let left = self.expires.saturating_duration_since(now).as_secs();
        u32::try_from(left).unwrap_or(MAX_TTL)
    }
}

/// The cache, bounded to `capacity` entries (an entry is one RRset or one negative answer).
#[derive(Debug)]
pub struct Cache {
    entries: HashMap<Key, Entry>,
    capacity: usize,
    tick: u64,
}

impl Cache {
    /// A cache of at most `capacity` entries; 0 caches nothing.
    pub fn new(capacity: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            capacity,
            tick: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stores one RRset (records of one owner and type; others are ignored). Its TTL is the
    /// smallest of its records' (RFC 2181 §5.2), capped at [`MAX_TTL`]; TTL 0 means "use once,
    /// do not cache" (RFC 1035 §3.2.1). A fresh entry of a higher rank is not replaced.
    pub fn insert_rrset(&mut self, records: &[Record], rank: Rank, now: Instant) {
        let Some(first) = records.first() else {
            return;
        };
        let rrset: Vec<Record> = records
            .iter()
            .filter(|r| r.same_rrset(first))
            .cloned()
            .collect();
        let ttl = rrset.iter().map(|r| r.ttl).min().unwrap_or(0).min(MAX_TTL);
        let name = first.name.to_lowercase();
        if rank >= Rank::Answer {
            // The name exists after all: an older NXDOMAIN for it is wrong now.
            self.entries.remove(&Key {
                name: name.clone(),
                slot: Slot::NxDomain,
            });
        }
        let key = Key {
            name,
            slot: Slot::Type(first.rtype()),
        };
        self.store(key, Data::RRset(rrset), rank, ttl, now);
    }

    /// Stores a negative answer (RFC 2308 §5): for every type of `name` when `qtype` is `None`
    /// (NXDOMAIN), else for `qtype` only (NODATA). The TTL is min(SOA TTL, SOA MINIMUM), capped
    /// at [`MAX_NEGATIVE_TTL`]; a "SOA" that is not one is ignored.
    pub fn insert_negative(
        &mut self,
        name: &Name,
        qtype: Option<RecordType>,
        soa: &Record,
        now: Instant,
    ) {
        let Some(ttl) = negative_ttl(soa) else {
            return;
        };
        let mut soa = soa.clone();
        soa.ttl = ttl;
        let slot = qtype.map_or(Slot::NxDomain, Slot::Type);
        let key = Key {
            name: name.to_lowercase(),
            slot,
        };
        self.store(key, Data::Negative(soa), Rank::Authoritative, ttl, now);
    }

    fn store(&mut self, key: Key, data: Data, rank: Rank, ttl: u32, now: Instant) {
        if ttl == 0 || self.capacity == 0 {
            return;
        }
        if let Some(old) = self.entries.get(&key)
            && old.is_fresh(now)
            && old.rank > rank
        {
            return;
        }
        if !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let used = self.next_tick();
        let expires = now + Duration::from_secs(u64::from(ttl));
        self.entries.insert(
            key,
            Entry {
                data,
                rank,
                expires,
                used,
            },
        );
    }

    /// What is known about (`name`, `qtype`) from entries of at least `min_rank`: the RRset, an
    /// alias, or a negative answer, with TTLs decremented by the time spent in the cache.
    pub fn lookup(
        &mut self,
        name: &Name,
        qtype: RecordType,
        min_rank: Rank,
        freshness: Freshness,
        now: Instant,
    ) -> Option<Hit> {
        let name = name.to_lowercase();
        if let Some(Data::Negative(soa)) = self.get(&name, Slot::NxDomain, min_rank, freshness, now)
        {
            return Some(Hit::NxDomain(soa));
        }
        match self.get(&name, Slot::Type(qtype), min_rank, freshness, now) {
            Some(Data::RRset(records)) => return Some(Hit::RRset(records)),
            Some(Data::Negative(soa)) => return Some(Hit::NoData(soa)),
            None => {}
        }
        // A question for the CNAME itself, or for everything at the name, stops at the alias.
        if qtype == RecordType::CNAME || qtype == RecordType::ANY {
            return None;
        }
        match self.get(
            &name,
            Slot::Type(RecordType::CNAME),
            min_rank,
            freshness,
            now,
        ) {
            Some(Data::RRset(records)) => records.into_iter().next().map(Hit::Cname),
            _ => None,
        }
    }

    /// The fresh RRset of (`name`, `rtype`) at any rank: what finding servers needs.
    pub fn rrset(&mut self, name: &Name, rtype: RecordType, now: Instant) -> Option<Vec<Record>> {
        let name = name.to_lowercase();
        match self.get(
            &name,
            Slot::Type(rtype),
            Rank::Delegation,
            Freshness::Fresh,
            now,
        ) {
            Some(Data::RRset(records)) => Some(records),
            _ => None,
        }
    }

    /// The fresh IPv4 and IPv6 addresses of `name`, glue included.
    pub fn addresses(&mut self, name: &Name, now: Instant) -> Vec<IpAddr> {
        let mut addresses = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            let records = self.rrset(name, rtype, now).unwrap_or_default();
            addresses.extend(records.iter().filter_map(|record| record.rdata.address()));
        }
        addresses
    }

    /// The closest enclosing zone of `qname` whose NS RRset is cached with at least one server
    /// address known (RFC 1034 §5.3.3 step 2: "find the best servers to ask"); its NS names.
    /// A cached delegation whose servers have no known address is skipped: resolving their
    /// names could need that very delegation.
    pub fn closest_delegation(&mut self, qname: &Name, now: Instant) -> Option<(Name, Vec<Name>)> {
        let mut zone = Some(qname.clone());
        while let Some(current) = zone {
            if let Some(ns) = self.rrset(&current, RecordType::NS, now) {
                let names: Vec<Name> = ns.iter().filter_map(ns_name).collect();
                if names
                    .iter()
                    .any(|name| !self.addresses(name, now).is_empty())
                {
                    return Some((current, names));
                }
            }
            zone = current.parent();
        }
        None
    }

    /// The entry's data with TTLs for `now`, if it is usable; drops it once past the stale
    /// window.
    fn get(
        &mut self,
        name: &Name,
        slot: Slot,
        min_rank: Rank,
        freshness: Freshness,
        now: Instant,
    ) -> Option<Data> {
        let key = Key {
            name: name.clone(),
            slot,
        };
        let entry = self.entries.get(&key)?;
        if !entry.is_keepable(now) {
            self.entries.remove(&key);
            return None;
        }
        let usable = entry.is_fresh(now) || freshness == Freshness::AllowStale;
        if !usable || entry.rank < min_rank {
            return None;
        }
        let ttl = entry.ttl_now(now);
        let data = with_ttl(&entry.data, ttl);
        let used = self.next_tick();
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.used = used;
        }
        Some(data)
    }

    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// Makes room for one more entry: first drops what is past the stale window, then expired
    /// entries kept for serve-stale, then the least recently used sixteenth (so that a full
    /// cache does not pay a full scan on every insert).
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.capacity {
            return;
        }
        self.entries.retain(|_, entry| entry.is_keepable(now));
        if self.entries.len() < self.capacity {
            return;
        }
        self.entries.retain(|_, entry| entry.is_fresh(now));
        if self.entries.len() < self.capacity {
            return;
        }
        self.evict_least_recently_used();
    }

    fn evict_least_recently_used(&mut self) {
        let len = self.entries.len();
        let count = (len / 16).max(len + 1 - self.capacity.min(len + 1)).max(1);
        let mut ticks: Vec<u64> = self.entries.values().map(|entry| entry.used).collect();
        let Some(index) = count.checked_sub(1).filter(|&index| index < ticks.len()) else {
            self.entries.clear();
            return;
        };
        let (_, &mut cutoff, _) = ticks.select_nth_unstable(index);
        // Ticks are unique, so exactly `count` entries have one at or below the cutoff.
        self.entries.retain(|_, entry| entry.used > cutoff);
    }
}

/// RFC 2308 §5: the smaller of the SOA record's TTL and its MINIMUM field, capped.
pub fn negative_ttl(soa: &Record) -> Option<u32> {
    match soa.rdata {
        RData::Soa { minimum, .. } => Some(soa.ttl.min(minimum).min(MAX_NEGATIVE_TTL)),
        _ => None,
    }
}

fn ns_name(record: &Record) -> Option<Name> {
    match &record.rdata {
        RData::Ns(name) => Some(name.clone()),
        _ => None,
    }
}

fn with_ttl(data: &Data, ttl: u32) -> Data {
    match data {
        Data::RRset(records) => Data::RRset(
            records
                .iter()
                .map(|record| Record {
                    ttl,
                    ..record.clone()
                })
                .collect(),
        ),
        Data::Negative(soa) => Data::Negative(Record { ttl, ..soa.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
        Record::new(name(owner), ttl, RData::A(ip.into()))
    }

    fn soa(owner: &str, ttl: u32, minimum: u32) -> Record {
        Record::new(
            name(owner),
            ttl,
            RData::Soa {
                mname: name("ns.example."),
                rname: name("hostmaster.example."),
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum,
            },
        )
    }

    fn fresh(cache: &mut Cache, owner: &str, qtype: RecordType, now: Instant) -> Option<Hit> {
        cache.lookup(&name(owner), qtype, Rank::Answer, Freshness::Fresh, now)
    }

    #[test]
    fn ttls_count_down_and_entries_expire() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert_rrset(
            &[a("www.example.", 300, [192, 0, 2, 1])],
            Rank::Authoritative,
            t0,
        );
        let later = t0 + Duration::from_secs(100);
        let Some(Hit::RRset(records)) = fresh(&mut cache, "WWW.Example.", RecordType::A, later)
        else {
            panic!("cached");
        };
        assert_eq!(records[0].ttl, 200);
        assert_eq!(
            fresh(
                &mut cache,
                "www.example.",
                RecordType::A,
                t0 + Duration::from_secs(300)
            ),
            None
        );
    }

    #[test]
    fn an_rrset_takes_its_smallest_ttl_capped_at_a_day() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        let rrset = [
            a("x.example.", 900, [192, 0, 2, 1]),
            a("x.example.", 600, [192, 0, 2, 2]),
        ];
        cache.insert_rrset(&rrset, Rank::Answer, t0);
        let Some(Hit::RRset(records)) = fresh(&mut cache, "x.example.", RecordType::A, t0) else {
            panic!("cached");
        };
        assert!(records.iter().all(|record| record.ttl == 600));
        cache.insert_rrset(
            &[a("long.example.", 1_000_000, [192, 0, 2, 1])],
            Rank::Answer,
            t0,
        );
        let Some(Hit::RRset(records)) = fresh(&mut cache, "long.example.", RecordType::A, t0)
        else {
            panic!("cached");
        };
        assert_eq!(records[0].ttl, MAX_TTL);
    }

    #[test]
    fn ttl_zero_is_not_cached() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert_rrset(&[a("zero.example.", 0, [192, 0, 2, 1])], Rank::Answer, t0);
        assert!(cache.is_empty());
    }

    #[test]
    fn nxdomain_covers_every_type_and_nodata_one() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert_negative(&name("gone.example."), None, &soa("example.", 3600, 60), t0);
        cache.insert_negative(
            &name("www.example."),
            Some(RecordType::AAAA),
            &soa("example.", 30, 60),
            t0,
        );
        let Some(Hit::NxDomain(soa_record)) =
            fresh(&mut cache, "gone.example.", RecordType::MX, t0)
        else {
            panic!("negative");
        };
        assert_eq!(soa_record.ttl, 60, "min(SOA TTL, MINIMUM)");
        assert!(
            matches!(fresh(&mut cache, "www.example.", RecordType::AAAA, t0), Some(Hit::NoData(soa)) if soa.ttl == 30)
        );
        assert_eq!(fresh(&mut cache, "www.example.", RecordType::A, t0), None);
    }

    #[test]
    fn negative_ttls_are_capped_at_three_hours() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert_negative(
            &name("gone.example."),
            None,
            &soa("example.", 86_400, 86_400),
            t0,
        );
        let Some(Hit::NxDomain(soa)) = fresh(&mut cache, "gone.example.", RecordType::A, t0) else {
            panic!("negative");
        };
        assert_eq!(soa.ttl, MAX_NEGATIVE_TTL);
    }

    #[test]
    fn a_cname_answers_other_types() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        let cname = Record::new(
            name("web.example."),
            300,
            RData::Cname(name("www.example.")),
        );
        cache.insert_rrset(std::slice::from_ref(&cname), Rank::Authoritative, t0);
        assert_eq!(
            fresh(&mut cache, "web.example.", RecordType::A, t0),
            Some(Hit::Cname(cname.clone()))
        );
        assert_eq!(
            fresh(&mut cache, "web.example.", RecordType::CNAME, t0),
            Some(Hit::RRset(vec![cname]))
        );
    }

    #[test]
    fn glue_does_not_answer_clients_nor_replace_answers() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert_rrset(
            &[a("ns.example.", 300, [192, 0, 2, 53])],
            Rank::Delegation,
            t0,
        );
        assert_eq!(fresh(&mut cache, "ns.example.", RecordType::A, t0), None);
        assert_eq!(
            cache.addresses(&name("ns.example."), t0),
            vec![IpAddr::from([192, 0, 2, 53])]
        );
        cache.insert_rrset(
            &[a("ns.example.", 300, [192, 0, 2, 1])],
            Rank::Authoritative,
            t0,
        );
        cache.insert_rrset(
            &[a("ns.example.", 300, [203, 0, 113, 1])],
            Rank::Delegation,
            t0,
        );
        assert_eq!(
            cache.addresses(&name("ns.example."), t0),
            vec![IpAddr::from([192, 0, 2, 1])]
        );
    }

    #[test]
    fn stale_entries_serve_with_ttl_30_for_a_day() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        cache.insert_rrset(
            &[a("www.example.", 60, [192, 0, 2, 1])],
            Rank::Authoritative,
            t0,
        );
        let expired = t0 + Duration::from_secs(3600);
        let stale = |cache: &mut Cache, at| {
            cache.lookup(
                &name("www.example."),
                RecordType::A,
                Rank::Answer,
                Freshness::AllowStale,
                at,
            )
        };
        assert_eq!(
            fresh(&mut cache, "www.example.", RecordType::A, expired),
            None
        );
        assert!(
            matches!(stale(&mut cache, expired), Some(Hit::RRset(records)) if records[0].ttl == STALE_TTL)
        );
        let too_old = t0 + Duration::from_secs(60) + STALE_WINDOW;
        assert_eq!(stale(&mut cache, too_old), None);
        assert!(cache.is_empty(), "dropped once past the stale window");
    }

    #[test]
    fn the_closest_delegation_needs_an_address() {
        let t0 = Instant::now();
        let mut cache = Cache::new(10);
        let ns =
            |owner: &str, target: &str| Record::new(name(owner), 3600, RData::Ns(name(target)));
        cache.insert_rrset(&[ns("example.", "ns.example.")], Rank::Delegation, t0);
        cache.insert_rrset(
            &[a("ns.example.", 3600, [127, 0, 0, 3])],
            Rank::Delegation,
            t0,
        );
        cache.insert_rrset(
            &[ns("alpha.example.", "ns.alpha.example.")],
            Rank::Delegation,
            t0,
        );
        let (zone, names) = cache
            .closest_delegation(&name("www.alpha.example."), t0)
            .unwrap();
        assert_eq!(
            zone,
            name("example."),
            "alpha.example.'s server has no known address"
        );
        assert_eq!(names, vec![name("ns.example.")]);
        cache.insert_rrset(
            &[a("ns.alpha.example.", 3600, [127, 0, 0, 4])],
            Rank::Delegation,
            t0,
        );
        let (zone, _) = cache
            .closest_delegation(&name("www.alpha.example."), t0)
            .unwrap();
        assert_eq!(zone, name("alpha.example."));
        assert_eq!(cache.closest_delegation(&name("other."), t0), None);
    }

    #[test]
    fn the_size_stays_bounded_evicting_expired_then_least_recently_used() {
        let t0 = Instant::now();
        let mut cache = Cache::new(32);
        cache.insert_rrset(&[a("short.example.", 1, [192, 0, 2, 1])], Rank::Answer, t0);
        cache.insert_rrset(
            &[a("keep.example.", 3600, [192, 0, 2, 1])],
            Rank::Answer,
            t0,
        );
        for i in 0..100u8 {
            let at = t0 + Duration::from_secs(10);
            // Touch the entry we want to keep, so it is never the least recently used.
            assert!(
                fresh(&mut cache, "keep.example.", RecordType::A, at).is_some(),
                "at {i}"
            );
            cache.insert_rrset(
                &[a(&format!("h{i}.example."), 3600, [192, 0, 2, i])],
                Rank::Answer,
                at,
            );
            assert!(cache.len() <= 32);
        }
        let at = t0 + Duration::from_secs(10);
        let stale = cache.lookup(
            &name("short.example."),
            RecordType::A,
            Rank::Answer,
            Freshness::AllowStale,
            at,
        );
        assert_eq!(stale, None, "expired entries go first");
        assert!(fresh(&mut cache, "h99.example.", RecordType::A, at).is_some());
        assert!(fresh(&mut cache, "h0.example.", RecordType::A, at).is_none());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let mut cache = Cache::new(0);
        cache.insert_rrset(
            &[a("www.example.", 300, [192, 0, 2, 1])],
            Rank::Answer,
            Instant::now(),
        );
        assert!(cache.is_empty());
    }
}
