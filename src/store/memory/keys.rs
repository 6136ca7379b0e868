//! One source's keys in the memory store: fingerprint → `KeyState`.
//!
//! Each entry keeps its fingerprint's hash, so that growing the table (or cleaning it of
//! removed entries) moves entries without reading a fingerprint again: a std `HashMap`
//! hashes every key anew then, and 100k keys of ~330-byte fingerprints held the store's
//! lock for milliseconds while every request waited.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::hash_table::Entry as Slot;
use hashbrown::HashTable;

use super::record::KeyState;

/// The keys of one source.
#[derive(Debug, Default)]
pub(super) struct KeyTable {
    table: HashTable<Entry>,
    hasher: foldhash::fast::RandomState,
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    fingerprint: Arc<str>,
    state: KeyState,
}

impl KeyTable {
    fn hash(&self, fingerprint: &str) -> u64 {
        self.hasher.hash_one(fingerprint)
    }

    /// The shared copy of `fingerprint` and its state.
    pub(super) fn get_key_value(&self, fingerprint: &str) -> Option<(&Arc<str>, &KeyState)> {
        self.table
            .find(self.hash(fingerprint), |e| *e.fingerprint == *fingerprint)
            .map(|e| (&e.fingerprint, &e.state))
    }

    pub(super) fn get(&self, fingerprint: &str) -> Option<&KeyState> {
        self.get_key_value(fingerprint).map(|(_, state)| state)
    }

    /// Sets the state of `fingerprint`, adding the key when new.
    pub(super) fn insert(&mut self, fingerprint: Arc<str>, state: KeyState) {
        let hash = self.hash(&fingerprint);
        match self
            .table
            .entry(hash, |e| e.fingerprint == fingerprint, |e| e.hash)
        {
            Slot::Occupied(mut slot) => slot.get_mut().state = state,
            Slot::Vacant(slot) => {
                slot.insert(Entry {
                    hash,
                    fingerprint,
                    state,
                });
            }
        }
    }

    pub(super) fn remove(&mut self, fingerprint: &str) {
        let hash = self.hash(fingerprint);
        if let Ok(slot) = self
            .table
            .find_entry(hash, |e| *e.fingerprint == *fingerprint)
        {
            slot.remove();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_replaced_and_removed_by_their_text() {
        let mut keys = KeyTable::default();
        let state = |newest| KeyState {
            open: Some(newest),
            newest,
            last_event_time: None,
        };
        for n in 0..1000u64 {
            keys.insert(Arc::from(format!("fp-{n}")), state(n));
        }
        keys.insert(Arc::from("fp-7"), state(7000));
        assert_eq!(keys.len(), 1000);
        assert_eq!(keys.get("fp-7").map(|s| s.newest), Some(7000));
        let (shared, _) = keys.get_key_value("fp-9").expect("kept");
        assert_eq!(&**shared, "fp-9");
        for n in 0..500u64 {
            keys.remove(&format!("fp-{n}"));
        }
        keys.remove("absent");
        assert_eq!(keys.len(), 500);
        assert!(keys.get("fp-1").is_none());
        assert_eq!(keys.get("fp-999").map(|s| s.newest), Some(999));
    }
}
