//! [`Catalog`]: the zones one server is authoritative for, and which of them answers a name.
//!
//! RFC 1034 §4.3.2 step 2: "search the available zones for the zone which is the nearest
//! ancestor to QNAME" — with a child zone and its parent both loaded, the child answers for
//! names at and below its apex.

use std::collections::BTreeMap;

use crate::wire::Name;

use super::tree::Zone;

/// A set of zones keyed by origin.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    zones: BTreeMap<Name, Zone>,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a zone, returning the one it replaces (a reload).
    pub fn insert(&mut self, zone: Zone) -> Option<Zone> {
        self.zones.insert(zone.origin().clone(), zone)
    }

    pub fn remove(&mut self, origin: &Name) -> Option<Zone> {
        self.zones.remove(origin)
    }

    /// The zone whose origin is exactly `origin`.
    pub fn get(&self, origin: &Name) -> Option<&Zone> {
        self.zones.get(origin)
    }

    /// The most enclosing zone: the one with the longest origin that `qname` is at or under.
    pub fn find(&self, qname: &Name) -> Option<&Zone> {
        let mut candidate = Some(qname.clone());
        while let Some(name) = candidate {
            if let Some(zone) = self.zones.get(&name) {
                return Some(zone);
            }
            candidate = name.parent();
        }
        None
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
