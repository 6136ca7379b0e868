//! People's acts on the memory store's incidents (acknowledge, resolve, note), and the
//! listing filters the indexes do not hold (priority, acknowledged), applied while paging.

use std::sync::Arc;

use super::record::{Event, Record};
use super::Inner;
use crate::store::model::{Act, Acted, ListQuery, Status, Transition};

/// Why an act was not applied (`Acted` without the incident).
#[derive(Debug, Clone, Copy)]
pub(super) enum Refusal {
    NotFound,
    Conflict(&'static str),
}

impl Refusal {
    pub(super) fn acted(self) -> Acted {
        match self {
            Refusal::NotFound => Acted::NotFound,
            Refusal::Conflict(why) => Acted::Conflict(why),
        }
    }
}

/// Ids read from an index per round while a filtered listing fills its page.
const FILTER_CHUNK: usize = 256;

impl Inner {
    /// Applies `act` to incident `id`; the incident after it, or why not.
    pub(super) fn act(
        &mut self,
        id: u64,
        act: &Act,
        by: &str,
        now_ms: i64,
    ) -> Result<(u64, Record), Refusal> {
        let Some(record) = self.incidents.get(&id) else {
            return Err(Refusal::NotFound);
        };
        let (source, fingerprint, status) = (
            Arc::clone(&record.source),
            Arc::clone(&record.fingerprint),
            record.status,
        );
        let actor: Arc<str> = Arc::from(by);
        let mut note = None;
        match act {
            Act::Acknowledge => {
                if status == Status::Resolved {
                    return Err(Refusal::Conflict("the incident is resolved"));
                }
                if record.marks().acknowledged_at.is_some() {
                    return Err(Refusal::Conflict("the incident is already acknowledged"));
                }
                if let Some(rec) = self.incidents.get_mut(&id) {
                    let marks = rec.marks_mut();
                    marks.acknowledged_at = Some(now_ms);
                    marks.acknowledged_by = Some(Arc::clone(&actor));
                }
            }
            Act::Resolve => {
                if status == Status::Resolved {
                    return Err(Refusal::Conflict("the incident is already resolved"));
                }
                self.resolve(id, &source, now_ms);
                if let Some(rec) = self.incidents.get_mut(&id) {
                    rec.marks_mut().resolved_by = Some(Arc::clone(&actor));
                }
                // The key is free again: the source's next alert opens a new incident.
                let state = self
                    .keys
                    .get(&source)
                    .and_then(|fps| fps.get(&fingerprint))
                    .copied();
                if let Some(mut state) = state {
                    if state.open == Some(id) {
                        state.open = None;
                        self.store_key_state(&source, Arc::clone(&fingerprint), state);
                    }
                }
            }
            Act::Note(text) => note = Some(Arc::from(text.as_str())),
        }
        let Some((id, record)) = self.snapshot(id) else {
            return Err(Refusal::NotFound);
        };
        self.push_event(Event {
            transition: act.transition(),
            at: now_ms,
            id,
            record: record.clone(),
            actor: Some(actor),
            note,
        });
        if act.transition() == Transition::Resolved {
            self.resolved_order.push_back(id);
            self.evict_resolved();
        }
        Ok((id, record))
    }

    /// Up to `n` ids below `below`, newest first, of incidents the query selects: the
    /// index's ids when it filters on nothing else, else read in chunks and filtered.
    pub(super) fn ids_matching(&self, query: &ListQuery, below: u64, n: usize) -> Vec<u64> {
        if !query.filters_fields() {
            return self.ids_below(query, below, n);
        }
        let mut found = Vec::new();
        let mut cursor = below;
        loop {
            let chunk = self.ids_below(query, cursor, FILTER_CHUNK);
            for &id in &chunk {
                let keep = self
                    .incidents
                    .get(&id)
                    .and_then(|rec| rec.to_incident(id).ok())
                    .is_some_and(|incident| query.matches(&incident));
                if keep {
                    found.push(id);
                    if found.len() == n {
                        return found;
                    }
                }
            }
            match chunk.last() {
                Some(&last) if chunk.len() == FILTER_CHUNK => cursor = last,
                _ => return found,
            }
        }
    }
}
