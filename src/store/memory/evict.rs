//! The memory store's retention (module doc of `memory`): the oldest-resolved incidents
//! beyond `max_resolved` go, with their index entries, and so do keys that only remember
//! an `event_time`.

use super::Inner;

impl Inner {
    /// Evicts the oldest-resolved incidents beyond `max_resolved`, with every index entry
    /// that names them and the key entries they were the last reason to keep.
    pub(super) fn evict_resolved(&mut self) {
        while self.resolved_order.len() > self.settings.max_resolved {
            let Some(id) = self.resolved_order.pop_front() else {
                return;
            };
            let Some(rec) = self.incidents.remove(&id) else {
                continue;
            };
            self.by_status.resolved.remove(&id);
            if let Some(index) = self.by_source.get_mut(&rec.source) {
                index.resolved.remove(&id);
            }
            if let Some(fps) = self.keys.get_mut(&rec.source) {
                // A newer incident of the key (open, or resolved and still kept) keeps it.
                if fps
                    .get(&rec.fingerprint)
                    .is_some_and(|k| k.open.is_none() && k.newest == id)
                {
                    fps.remove(&rec.fingerprint);
                }
            }
        }
    }

    /// Forgets the oldest keys that hold only an `event_time` beyond `max_resolved`.
    pub(super) fn evict_bare_keys(&mut self) {
        while self.bare_keys.len() > self.settings.max_resolved {
            let Some((source, fp)) = self.bare_keys.pop_front() else {
                return;
            };
            let incidents = &self.incidents;
            if let Some(fps) = self.keys.get_mut(&source) {
                // Still bare: nothing open and no kept incident.
                if fps.get(&fp).is_some_and(|k| {
                    k.open.is_none() && (k.newest == 0 || !incidents.contains_key(&k.newest))
                }) {
                    fps.remove(&fp);
                }
            }
        }
    }
}
