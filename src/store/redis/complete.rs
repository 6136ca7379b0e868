//! Stream entries made whole: an entry carries the step's own fields (`apply.lua`), the
//! incident's long, write-once texts stay in its hash; a reader lays the entry over the
//! hash (docs/design.md §5, "Incident record").

use std::collections::{BTreeMap, BTreeSet};

use super::record::{implied, overlay, parse_incident};
use super::reply::RawEvent;
use super::store::RedisStore;
use crate::store::model::{parse_id, IncidentEvent, StoreError};

/// The fields only an incident's hash holds: an entry without them is completed.
const HASH_ONLY: &str = "labels";

impl RedisStore {
    /// The events of `raws`, in order, each completed from its incident's hash (one read
    /// per distinct incident, pipelined per bucket). An event whose incident expired keeps
    /// what its entry holds (`record::parse_incident`'s lenient reading).
    pub(super) async fn complete(
        &self,
        raws: Vec<RawEvent>,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        let wanted: BTreeSet<u64> = raws
            .iter()
            .filter(|r| !r.fields.contains_key(HASH_ONLY))
            .filter_map(|r| r.fields.get("id").and_then(|id| parse_id(id)))
            .collect();
        let ids: Vec<u64> = wanted.into_iter().collect();
        let hashes: BTreeMap<u64, BTreeMap<String, String>> = ids
            .iter()
            .copied()
            .zip(self.fetch_hashes(&ids).await?)
            .filter_map(|(id, hash)| hash.map(|h| (id, h)))
            .collect();
        raws.into_iter()
            .map(|mut raw| {
                implied(raw.transition, raw.at, &mut raw.fields);
                let base = if raw.fields.contains_key(HASH_ONLY) {
                    BTreeMap::new()
                } else {
                    raw.fields
                        .get("id")
                        .and_then(|id| parse_id(id))
                        .and_then(|id| hashes.get(&id))
                        .cloned()
                        .unwrap_or_default()
                };
                let incident = parse_incident(overlay(base, raw.fields), Some(raw.at))?;
                Ok(IncidentEvent {
                    id: raw.id,
                    transition: raw.transition,
                    at: raw.at,
                    incident,
                    actor: raw.actor,
                    note: raw.note,
                })
            })
            .collect()
    }
}
