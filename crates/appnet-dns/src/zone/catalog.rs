//! [`Catalog`]: the zones one server is authoritative for, and which of them answers a name.
//!
//! RFC 1034 §4.3.2 step 2: "search the available zones for the zone which is the nearest
//! ancestor to QNAME" — with a child zone and its parent both loaded, the child answers for
//! names at and below its apex.

use std::collections::BTreeMap;

use crate::wire::Name;

use super::key::Key;
use super::tree::Zone;

/// A set of zones keyed by origin (as a canonical-order [`Key`], so finding the zone of a name
/// is a few byte-string lookups of its ancestors' keys).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    zones: BTreeMap<Key, Zone>,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a zone, returning the one it replaces (a reload).
    pub fn insert(&mut self, zone: Zone) -> Option<Zone> {
        self.zones.insert(Key::of(zone.origin()), zone)
    }

    pub fn remove(&mut self, origin: &Name) -> Option<Zone> {
        self.zones.remove(&Key::of(origin))
    }

    /// The zone whose origin is exactly `origin`.
    pub fn get(&self, origin: &Name) -> Option<&Zone> {
        self.zones.get(&Key::of(origin))
    }

    /// The most enclosing zone: the one with the longest origin that `qname` is at or under.
    pub fn find(&self, qname: &Name) -> Option<&Zone> {
        let key = Key::of(qname);
        let bytes = key.as_bytes();
        key.ancestor_lengths()
            .iter()
            .rev()
            .find_map(|&len| self.zones.get(bytes.get(..len)?))
    }

    /// The zones in canonical order of their origins.
    pub fn iter(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values()
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

impl FromIterator<Zone> for Catalog {
    fn from_iter<I: IntoIterator<Item = Zone>>(zones: I) -> Self {
        let mut catalog = Self::new();
        for zone in zones {
            catalog.insert(zone);
        }
        catalog
    }
}

impl Extend<Zone> for Catalog {
    fn extend<I: IntoIterator<Item = Zone>>(&mut self, zones: I) {
        for zone in zones {
            self.insert(zone);
        }
    }
}
