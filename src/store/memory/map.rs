//! The hasher of the memory store's maps.

use std::collections::HashMap;

/// The store's maps: keyed by ids and by names senders choose, hashed with foldhash
/// instead of SipHash (a quarter of the instructions per lookup). Seeded per process, as
/// std's default is, so a sender cannot aim keys at one bucket offline.
pub(super) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
