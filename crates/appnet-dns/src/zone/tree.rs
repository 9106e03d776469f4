//! [`Zone`]: the validated contents of one zone, as an ordered map from owner name to the
//! RRsets at that name, and the lookups the authoritative algorithm needs.
//!
//! Validation rules: RFC 1035 §5.2 and RFC 1034 §4.2.1 (one SOA and the NS RRset at the apex;
//! data only at or below the apex), RFC 1034 §3.6.2 with RFC 2181 §10.1 (a CNAME stands alone,
//! and not at the apex), RFC 2181 §5 (an RRset has no duplicates) and §5.2 (one TTL per RRset),
//! RFC 4592 §2.1.1 (`*` is a wildcard only as the leftmost label). Names are kept in RFC 4034
//! §6.1 canonical order, so an ordered walk is an AXFR and a name's descendants follow it
//! directly (which is how empty non-terminals are found, RFC 4592 §2.2.2).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use crate::wire::{Class, Name, RData, Record, RecordType};

use super::error::{ZoneError, ZoneErrorKind, ZoneWarning, ZoneWarningKind};
use super::key::Key;
use super::parser::{self, Located, Parsed};
use super::{MAX_RECORDS, MAX_TTL};

/// The records of one owner and type (RFC 2181 §5): one TTL, the data in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRset {
    pub ttl: u32,
    pub rdatas: Vec<RData>,
}

impl RRset {
    /// The RRset as records with `owner` (which may differ from the stored owner in case, or be
    /// the query name for wildcard synthesis).
    pub fn records<'a>(&'a self, owner: &'a Name) -> impl Iterator<Item = Record> + 'a {
        self.rdatas
            .iter()
            .map(move |rdata| Record::new(owner.clone(), self.ttl, rdata.clone()))
    }
}

/// Everything at one owner name: its RRsets, by type. A short sorted vector rather than a map,
/// because most names hold one to three types and a zone may have a million names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Sorted by type, at most one entry per type.
    rrsets: Vec<(RecordType, RRset)>,
}

impl Node {
    pub fn get(&self, rtype: RecordType) -> Option<&RRset> {
        self.rrsets
            .iter()
            .find(|(have, _)| *have == rtype)
            .map(|(_, rrset)| rrset)
    }

    /// The RRsets in type order, except that an SOA comes first, as zone files and transfers
    /// start with it.
    pub fn rrsets(&self) -> impl Iterator<Item = (RecordType, &RRset)> {
        let is_soa = |rtype: &RecordType| *rtype == RecordType::SOA;
        let soa = self.rrsets.iter().filter(move |(rtype, _)| is_soa(rtype));
        let rest = self.rrsets.iter().filter(move |(rtype, _)| !is_soa(rtype));
        soa.chain(rest).map(|(rtype, rrset)| (*rtype, rrset))
    }

    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// Where a name stands in a zone: see [`Zone::locate`].
#[derive(Debug, Clone, Copy)]
pub enum Location<'z> {
    /// At or below a zone cut (RFC 1034 §4.2.1): the cut and its NS RRset.
    Delegated {
        cut: &'z Name,
        ns: &'z RRset,
    },
    Node(&'z Node),
    /// No records, but names below it (RFC 4592 §2.2.2).
    EmptyNonTerminal,
    Missing,
}

/// A validated zone: an apex with its SOA and NS, and every name at or below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    origin: Name,
    /// Keyed by the canonical byte key, holding the owner as first written.
    nodes: BTreeMap<Key, (Name, Node)>,
    /// A copy of the apex SOA, the one record every negative answer and transfer needs.
    soa: Record,
    len: usize,
}

/// A zone and what a linter would say about it.
#[derive(Debug, Clone)]
pub struct ParsedZone {
    pub zone: Zone,
    pub warnings: Vec<ZoneWarning>,
}

impl Zone {
    /// Parses zone-file text. `origin` is the zone apex and the initial `$ORIGIN`; `file` names
    /// the text in errors and anchors relative `$INCLUDE` paths; `loader` reads included files.
    pub fn parse(
        text: &str,
        origin: &Name,
        file: &Path,
        loader: impl Fn(&Path) -> io::Result<String>,
    ) -> Result<ParsedZone, ZoneError> {
        let parsed = parser::parse(text, Some(origin), file, &loader)?;
        build(origin.clone(), parsed)
    }

    /// Parses a zone file that states its own origin: with `$ORIGIN`, or by starting with an
    /// absolute owner (`example.com. IN SOA ...`), which then serves as the origin of the
    /// relative names after it. The zone apex is the owner of the SOA record.
    pub fn parse_infer_origin(
        text: &str,
        file: &Path,
        loader: impl Fn(&Path) -> io::Result<String>,
    ) -> Result<ParsedZone, ZoneError> {
        let parsed = parser::parse(text, None, file, &loader)?;
        let origin = parsed
            .records
            .iter()
            .find(|located| located.record.rtype() == RecordType::SOA)
            .map(|located| located.record.name.clone())
            .ok_or_else(|| ZoneError::new(file, 0, ZoneErrorKind::NoSoa))?;
        build(origin, parsed)
    }

    /// Reads `path` through `loader` and parses it; `origin: None` infers it as
    /// [`Zone::parse_infer_origin`] does.
    pub fn load(
        path: &Path,
        origin: Option<&Name>,
        loader: impl Fn(&Path) -> io::Result<String>,
    ) -> Result<ParsedZone, ZoneError> {
        let text = loader(path)
            .map_err(|err| ZoneError::new(path, 0, ZoneErrorKind::Read(err.to_string())))?;
        match origin {
            Some(origin) => Self::parse(&text, origin, path, &loader),
            None => Self::parse_infer_origin(&text, path, &loader),
        }
    }

    /// Builds a zone from records made in code (tests, `appnet up`), with the same validation
    /// as a zone file. Errors name the file `<records>` and the record's 1-based position.
    pub fn from_records(
        origin: &Name,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<ParsedZone, ZoneError> {
        let file = PathBuf::from("<records>");
        let mut parsed = Parsed {
            files: vec![file.clone()],
            ..Parsed::default()
        };
        for (index, record) in records.into_iter().enumerate() {
            let line = index + 1;
            let error = |kind| ZoneError::new(&file, line, kind);
            if index >= MAX_RECORDS {
                return Err(error(ZoneErrorKind::TooManyRecords { max: MAX_RECORDS }));
            }
            check_made_record(&record).map_err(error)?;
            parsed.records.push(Located {
                record,
                file: 0,
                line,
            });
        }
        build(origin.clone(), parsed)
    }

    /// The apex.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The apex SOA record.
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    pub fn serial(&self) -> u32 {
        match self.soa.rdata {
            RData::Soa { serial, .. } => serial,
            _ => 0,
        }
    }

    /// RFC 2308 §3: negative answers carry the SOA with TTL = min(SOA TTL, SOA MINIMUM).
    pub fn negative_ttl(&self) -> u32 {
        match self.soa.rdata {
            RData::Soa { minimum, .. } => self.soa.ttl.min(minimum),
            _ => self.soa.ttl,
        }
    }

    /// The SOA as it goes in the authority section of a negative answer.
    pub fn negative_soa(&self) -> Record {
        Record {
            ttl: self.negative_ttl(),
            ..self.soa.clone()
        }
    }

    /// Number of records (after duplicates were merged).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true for a validated zone, which has at least its SOA and NS.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `name` is at or below the apex.
    pub fn contains(&self, name: &Name) -> bool {
        name.is_subdomain_of(&self.origin)
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.entry(Key::of(name).as_bytes()).map(|(_, node)| node)
    }

    /// Where `name` (inside the zone) stands, from one key: below a zone cut, at a node with
    /// records, an empty non-terminal, or nowhere. What every lookup asks first.
    pub fn locate(&self, name: &Name) -> Location<'_> {
        let key = Key::of(name);
        if let Some((cut, ns)) = self.delegation_key(&key) {
            return Location::Delegated { cut, ns };
        }
        match self.entry(key.as_bytes()) {
            Some((_, node)) => Location::Node(node),
            None if self.has_descendants_key(key.as_bytes()) => Location::EmptyNonTerminal,
            None => Location::Missing,
        }
    }

    fn entry(&self, key: &[u8]) -> Option<&(Name, Node)> {
        self.nodes.get(key)
    }

    /// The owner names and their nodes in canonical order.
    pub fn nodes(&self) -> impl Iterator<Item = (&Name, &Node)> {
        self.nodes.values().map(|(owner, node)| (owner, node))
    }

    /// Every record in canonical order: owners by RFC 4034 §6.1, then types by number with the
    /// SOA first. Includes delegation NS records and glue, as AXFR needs.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.nodes().flat_map(|(owner, node)| {
            node.rrsets()
                .flat_map(move |(_, rrset)| rrset.records(owner))
        })
    }

    /// Whether some owner lies strictly below `name`.
    pub fn has_descendants(&self, name: &Name) -> bool {
        self.has_descendants_key(Key::of(name).as_bytes())
    }

    /// Descendants' keys extend the name's key and sort directly after it.
    fn has_descendants_key(&self, key: &[u8]) -> bool {
        self.nodes
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .is_some_and(|(next, _)| next.as_bytes().starts_with(key))
    }

    fn exists_key(&self, key: &[u8]) -> bool {
        self.nodes.contains_key(key) || self.has_descendants_key(key)
    }

    /// RFC 4592 §2.2.2: an empty non-terminal has no records but has descendants; it exists.
    pub fn is_empty_non_terminal(&self, name: &Name) -> bool {
        let key = Key::of(name);
        !self.nodes.contains_key(key.as_bytes()) && self.has_descendants_key(key.as_bytes())
    }

    /// Whether `name` exists in the zone: with records, or as an empty non-terminal.
    pub fn exists(&self, name: &Name) -> bool {
        self.exists_key(Key::of(name).as_bytes())
    }

    /// RFC 4592 §3.3.1: the closest encloser of `name` is its longest existing ancestor (or
    /// itself). `None` when `name` is outside the zone.
    pub fn closest_encloser(&self, name: &Name) -> Option<Name> {
        if !self.contains(name) {
            return None;
        }
        let key = Key::of(name);
        let lengths = key.ancestor_lengths();
        let apex_labels = self.origin.label_count();
        (apex_labels..lengths.len()).rev().find_map(|labels| {
            let prefix = key.as_bytes().get(..*lengths.get(labels)?)?;
            self.exists_key(prefix)
                .then(|| name.suffix(labels))
                .flatten()
        })
    }

    /// The highest zone cut at or above `name` and below the apex (RFC 1034 §4.2.1): where the
    /// zone delegates, with that NS RRset. Everything below a cut is glue or occluded.
    pub fn delegation(&self, name: &Name) -> Option<(&Name, &RRset)> {
        if !self.contains(name) {
            return None;
        }
        self.delegation_key(&Key::of(name))
    }

    fn delegation_key(&self, key: &Key) -> Option<(&Name, &RRset)> {
        let lengths = key.ancestor_lengths();
        let apex_labels = self.origin.label_count();
        lengths.iter().skip(apex_labels + 1).find_map(|&len| {
            let (owner, node) = self.entry(key.as_bytes().get(..len)?)?;
            node.get(RecordType::NS).map(|ns| (owner, ns))
        })
    }

    /// The delegation points: owners below the apex with NS that are not themselves below
    /// another cut.
    pub fn delegations(&self) -> Vec<(&Name, &RRset)> {
        let apex = Key::of(&self.origin);
        let mut cuts: Vec<(&Key, &Name, &RRset)> = Vec::new();
        let below_apex = self
            .nodes
            .range::<[u8], _>((Bound::Excluded(apex.as_bytes()), Bound::Unbounded));
        for (key, (owner, node)) in below_apex {
            let below_last = cuts
                .last()
                .is_some_and(|(cut, _, _)| key.as_bytes().starts_with(cut.as_bytes()));
            if let Some(ns) = node.get(RecordType::NS).filter(|_| !below_last) {
                cuts.push((key, owner, ns));
            }
        }
        cuts.into_iter().map(|(_, owner, ns)| (owner, ns)).collect()
    }
}

/// What `from_records` checks that the parser checks on the way in.
fn check_made_record(record: &Record) -> Result<(), ZoneErrorKind> {
    let rtype = record.rtype();
    if record.class != Class::IN {
        return Err(ZoneErrorKind::RecordClass(rtype, record.class));
    }
    if rtype.is_meta() || rtype.0 == 0 {
        return Err(ZoneErrorKind::MetaType(rtype));
    }
    if record.ttl > MAX_TTL {
        return Err(ZoneErrorKind::TtlTooLarge(record.ttl));
    }
    parser::check_size(&record.name, &record.rdata)
}

/// RRsets up to this size are searched for duplicates directly; larger ones get a hash set.
const SMALL_RRSET: usize = 16;

/// An RRset being gathered, with what the checks need.
struct Staged {
    rtype: RecordType,
    ttl: u32,
    rdatas: Vec<RData>,
    /// Built only for large RRsets, so that a million-name zone pays for no hash tables (and
    /// boxed, so that it pays one pointer rather than an empty table's size per RRset: 40 MB
    /// less at the peak of loading a million-record zone).
    #[allow(clippy::box_collection)]
    seen: Option<Box<HashSet<RData>>>,
    /// Where the RRset's TTLs first disagreed: file index and line.
    mismatch: Option<(usize, usize)>,
}

impl Staged {
    fn contains(&self, rdata: &RData) -> bool {
        match &self.seen {
            Some(seen) => seen.contains(rdata),
            None => self.rdatas.contains(rdata),
        }
    }

    fn push(&mut self, rdata: RData) {
        if let Some(seen) = &mut self.seen {
            seen.insert(rdata.clone());
        } else if self.rdatas.len() >= SMALL_RRSET {
            self.seen = Some(Box::new(
                self.rdatas.iter().cloned().chain([rdata.clone()]).collect(),
            ));
        }
        self.rdatas.push(rdata);
    }
}

/// Hashed while gathering; the canonical order is only needed once, at the end.
type Staging = HashMap<Key, (Name, Vec<Staged>)>;

/// The zone rules, applied to the records in file order so the first offending line is named.
fn build(origin: Name, parsed: Parsed) -> Result<ParsedZone, ZoneError> {
    let Parsed {
        records,
        files,
        mut warnings,
    } = parsed;
    let file_of = |index: usize| files.get(index).cloned().unwrap_or_default();
    let mut staging = Staging::with_capacity(records.len());
    let mut count = 0;
    for located in records {
        let (file, line) = (located.file, located.line);
        let error = |kind| ZoneError::new(file_of(file), line, kind);
        check_placement(&origin, &located.record).map_err(error)?;
        if insert(&mut staging, located, &mut warnings, &file_of).map_err(error)? {
            count += 1;
        }
    }
    let soa = apex_soa(&origin, &staging).map_err(|kind| ZoneError::new(file_of(0), 0, kind))?;
    let mut sorted: Vec<(Key, Name, Vec<Staged>)> = staging
        .into_iter()
        .map(|(key, (owner, sets))| (key, owner, sets))
        .collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    report_ttl_mismatches(&sorted, &mut warnings, &file_of);
    let nodes = sorted
        .into_iter()
        .map(|(key, owner, sets)| (key, (owner, into_node(sets))))
        .collect();
    let zone = Zone {
        origin,
        nodes,
        soa,
        len: count,
    };
    Ok(ParsedZone { zone, warnings })
}

/// Rules about where a record may be.
fn check_placement(origin: &Name, record: &Record) -> Result<(), ZoneErrorKind> {
    let owner = &record.name;
    if !owner.is_subdomain_of(origin) {
        return Err(ZoneErrorKind::OutOfZone {
            owner: owner.clone(),
            origin: origin.clone(),
        });
    }
    if owner.labels().skip(1).any(|label| label == b"*") {
        return Err(ZoneErrorKind::MisplacedWildcard(owner.clone()));
    }
    match record.rtype() {
        RecordType::SOA if owner != origin => Err(ZoneErrorKind::SoaNotAtApex(owner.clone())),
        RecordType::CNAME if owner == origin => Err(ZoneErrorKind::CnameAtApex(owner.clone())),
        _ => Ok(()),
    }
}

/// DNSSEC records may sit beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
fn allowed_beside_cname(rtype: RecordType) -> bool {
    matches!(rtype, RecordType::RRSIG | RecordType::NSEC)
}

/// Adds a record to its RRset; false when it was a duplicate (merged, with a warning).
fn insert(
    staging: &mut Staging,
    located: Located,
    warnings: &mut Vec<ZoneWarning>,
    file_of: &impl Fn(usize) -> PathBuf,
) -> Result<bool, ZoneErrorKind> {
    let Located { record, file, line } = located;
    let rtype = record.rtype();
    let (_, node) = staging
        .entry(Key::of(&record.name))
        .or_insert_with(|| (record.name.clone(), Vec::new()));
    check_cname_rules(node, rtype, &record.name)?;
    let Some(staged) = node.iter_mut().find(|staged| staged.rtype == rtype) else {
        node.push(Staged {
            rtype,
            ttl: record.ttl,
            rdatas: vec![record.rdata],
            seen: None,
            mismatch: None,
        });
        return Ok(true);
    };
    if record.ttl != staged.ttl {
        staged.ttl = staged.ttl.min(record.ttl);
        staged.mismatch.get_or_insert((file, line));
    }
    if staged.contains(&record.rdata) {
        warnings.push(ZoneWarning {
            file: file_of(file),
            line,
            kind: ZoneWarningKind::Duplicate {
                owner: record.name,
                rtype,
            },
        });
        return Ok(false);
    }
    match rtype {
        RecordType::CNAME => return Err(ZoneErrorKind::MultipleCname(record.name)),
        RecordType::SOA => return Err(ZoneErrorKind::MultipleSoa),
        _ => {}
    }
    staged.push(record.rdata);
    Ok(true)
}

/// RFC 1034 §3.6.2: "If a CNAME RR is present at a node, no other data should be present".
fn check_cname_rules(
    node: &[Staged],
    rtype: RecordType,
    owner: &Name,
) -> Result<(), ZoneErrorKind> {
    let has = |wanted: RecordType| node.iter().any(|staged| staged.rtype == wanted);
    let conflict = if rtype == RecordType::CNAME {
        node.iter()
            .any(|staged| staged.rtype != RecordType::CNAME && !allowed_beside_cname(staged.rtype))
    } else {
        !allowed_beside_cname(rtype) && has(RecordType::CNAME)
    };
    if conflict {
        return Err(ZoneErrorKind::CnameAndOtherData(owner.clone()));
    }
    Ok(())
}

/// The apex must have its SOA (one, guaranteed by `insert`) and NS.
fn apex_soa(origin: &Name, staging: &Staging) -> Result<Record, ZoneErrorKind> {
    let apex = staging
        .get(Key::of(origin).as_bytes())
        .map(|(_, sets)| sets.as_slice())
        .unwrap_or_default();
    let find = |rtype: RecordType| apex.iter().find(|staged| staged.rtype == rtype);
    let soa = find(RecordType::SOA)
        .and_then(|set| Some((set.ttl, set.rdatas.first()?)))
        .ok_or_else(|| ZoneErrorKind::MissingSoa(origin.clone()))?;
    if find(RecordType::NS).is_none() {
        return Err(ZoneErrorKind::MissingApexNs(origin.clone()));
    }
    Ok(Record::new(origin.clone(), soa.0, soa.1.clone()))
}

fn report_ttl_mismatches(
    sorted: &[(Key, Name, Vec<Staged>)],
    warnings: &mut Vec<ZoneWarning>,
    file_of: &impl Fn(usize) -> PathBuf,
) {
    for (_, owner, sets) in sorted {
        for staged in sets {
            if let Some((file, line)) = staged.mismatch {
                warnings.push(ZoneWarning {
                    file: file_of(file),
                    line,
                    kind: ZoneWarningKind::TtlMismatch {
                        owner: owner.clone(),
                        rtype: staged.rtype,
                        used: staged.ttl,
                    },
                });
            }
        }
    }
}

fn into_node(mut sets: Vec<Staged>) -> Node {
    sets.sort_unstable_by_key(|staged| staged.rtype);
    let rrsets = sets
        .into_iter()
        .map(|staged| {
            let rrset = RRset {
                ttl: staged.ttl,
                rdatas: staged.rdatas,
            };
            (staged.rtype, rrset)
        })
        .collect();
    Node { rrsets }
}
