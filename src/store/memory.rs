//! The embedded store: every incident in this process, behind one lock.
//!
//! Owns the in-process state of the lifecycle (docs/design.md §4): per-key records, incidents by
//! id, the indexes that list them newest first, and a bounded ring of incident events.
//! It is the default backend (no setup) and is not shared between replicas; that is what
//! the `redis` backend is for.
//!
//! Memory: a source name is stored once (`Arc<str>`) and shared by every key, record and
//! index of that source; a fingerprint is stored once and shared by its key entry and its
//! incidents. A key entry is dropped once it has neither an open incident nor an
//! `event_time` to remember.
//!
//! Retention: open incidents are kept until resolved; at most `max_resolved` resolved
//! incidents are kept, and the oldest-resolved one is evicted first (it disappears from
//! `get` and `list`; the event ring keeps its own copies). A key's record lives as long as
//! the key has an open incident or its newest incident is still kept: evicting that
//! incident also forgets the key's last `event_time`, so a late event for a key whose
//! incidents are all gone is judged like one for a new key. That is what bounds the keys
//! too (statuspage fingerprints are per incident). A key with no kept incident that only
//! remembers an `event_time` (a resolve of nothing carrying one) is bounded the same way:
//! at most `max_resolved` such keys are kept, the oldest forgotten first, so a sender
//! cannot make the store remember keys forever.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::model::{
    page_limit, parse_cursor, parse_id, step_of, Act, Acted, Applied, Beat, EventPage, Incident,
    IncidentEvent, IncidentStore, ListQuery, Page, Status, Stepped, StoreError, SweepReport,
    Transition, DEFAULT_EVENT_STREAM_LEN, DEFAULT_MAX_RESOLVED,
};
use crate::outcome::{Action, HeartbeatPolicy, Outcome};

mod act;
mod evict;
mod index;
mod keys;
mod map;
mod record;
mod ring;
mod sweep;
mod text;
mod timers;

use self::index::StatusIndex;
use self::keys::KeyTable;
use self::map::Map;
use self::record::{stored_title, Event, KeyState, Record, StoredLabels};
use self::ring::Ring;
use self::timers::Timers;

/// A cheap-clone handle on the in-process incident store.
///
/// A std `Mutex` (not tokio's) is the right lock here: no code holds it across an
/// `.await` (every method locks, works on plain data, unlocks, and only then returns),
/// and each critical section is a few map operations, so contention costs less than an
/// async lock's bookkeeping would.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

/// The bounds of a memory store (`store.*` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySettings {
    /// The event ring keeps the newest this many events.
    pub event_stream_len: usize,
    /// At most this many resolved incidents are kept, oldest-resolved evicted first; `0`
    /// keeps none (a resolve still answers with, and records an event of, the incident).
    pub max_resolved: usize,
}

impl Default for MemorySettings {
    fn default() -> Self {
        MemorySettings {
            event_stream_len: DEFAULT_EVENT_STREAM_LEN,
            max_resolved: DEFAULT_MAX_RESOLVED,
        }
    }
}

impl MemoryStore {
    /// An empty store with these bounds.
    pub fn new(settings: MemorySettings) -> Self {
        MemoryStore {
            inner: Arc::new(Mutex::new(Inner {
                settings,
                ..Inner::default()
            })),
        }
    }

    /// The number of the newest event so far (0: none).
    pub fn last_event_number(&self) -> u64 {
        self.lock().events.last()
    }

    /// A receiver of the newest event number, changed on every event
    /// (applied, acted on or swept), once the event can be read.
    pub fn watch_events(&self) -> tokio::sync::watch::Receiver<u64> {
        self.lock().events.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code panics while holding the lock, so a poisoned lock holds consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `Inner::apply` did: the transition and the incident it concerns, as a step answers.
type Step = (Transition, Option<Stepped>);

/// The state behind the lock.
#[derive(Debug, Default)]
struct Inner {
    /// source → fingerprint → key state. The outer key is the one shared copy of a source
    /// name; the inner key is the shared copy of a fingerprint.
    keys: Map<Arc<str>, KeyTable>,
    /// Every kept incident by id. A `HashMap`, not a `BTreeMap`: ids appended in order
    /// leave a B-tree's nodes about half full (~9 % more memory per incident at 100k);
    /// listing in id order is the status indexes' job. Boxed: the table's empty slots
    /// cost 16 bytes, not a record's ~230, and growing it moves pointers, not records
    /// (growing past 114 688 records moved 27 MB under the lock: a 29 ms stall).
    incidents: Map<u64, Box<Record>>,
    /// The id the last created incident got; ids are never reused, evicted or not.
    last_id: u64,
    /// Every kept incident by status: the unfiltered listing merges the two.
    by_status: StatusIndex,
    /// source → its incidents by status. The unfiltered per-source listing merges the two.
    by_source: Map<Arc<str>, StatusIndex>,
    /// Kept resolved incidents in resolve order, oldest first: the eviction queue. Not id
    /// order: an incident opened long ago may be resolved last.
    resolved_order: VecDeque<u64>,
    events: Ring<Event>,
    /// Keys created by a resolve of nothing (no kept incident, only an `event_time`), in
    /// the order they were made: the eviction queue of such keys, bounded by
    /// `max_resolved`. An entry whose key has since gained an incident is skipped.
    bare_keys: VecDeque<(Arc<str>, Arc<str>)>,
    settings: MemorySettings,
    /// Auto-resolve, heartbeat and flapping deadlines (`sweep`).
    timers: Timers,
}

impl Inner {
    /// The shared copy of a source name, made on first sight.
    fn intern_source(&mut self, source: &str) -> Arc<str> {
        if let Some((name, _)) = self.keys.get_key_value(source) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(source);
        self.keys.insert(Arc::clone(&name), KeyTable::default());
        name
    }

    fn apply(
        &mut self,
        source: &str,
        action: Action,
        fingerprint: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Step, StoreError> {
        let source = self.intern_source(source);
        let (shared_fp, mut state) = match self
            .keys
            .get(&source)
            .and_then(|fps| fps.get_key_value(fingerprint))
        {
            Some((fp, state)) => (Some(Arc::clone(fp)), *state),
            None => (None, KeyState::default()),
        };

        if let (Some(t), Some(last)) = (outcome.event_time, state.last_event_time) {
            if last > t {
                return Ok((
                    Transition::Stale,
                    state
                        .open
                        .and_then(|id| self.stepped(id, Transition::Stale)),
                ));
            }
        }

        let existed = shared_fp.is_some();
        let fp = shared_fp.unwrap_or_else(|| Arc::from(fingerprint));
        let (transition, id) = match (action, state.open) {
            (Action::Open, Some(id)) => {
                self.update(id, outcome, now_ms);
                self.timers
                    .set_deadline(id, outcome.auto_resolve_after_ms, now_ms);
                (Transition::Updated, Some(id))
            }
            (Action::Open, None) => {
                let id = self.create(Arc::clone(&source), Arc::clone(&fp), outcome, now_ms)?;
                state.open = Some(id);
                state.newest = id;
                self.after_open(id, outcome, now_ms);
                (Transition::Opened, Some(id))
            }
            (Action::Resolve, Some(id)) => {
                self.resolve(id, &source, now_ms);
                self.timers.set_deadline(id, None, now_ms);
                state.open = None;
                (Transition::Resolved, Some(id))
            }
            // `step_of` never yields `Ignore`; treating it as a resolve of nothing
            // keeps this match total without a panic.
            (Action::Resolve | Action::Ignore, None) | (Action::Ignore, Some(_)) => {
                (Transition::AlreadyResolved, None)
            }
        };
        if let Some(t) = outcome.event_time {
            state.last_event_time = Some(state.last_event_time.map_or(t, |last| last.max(t)));
        }
        let made_bare = !existed && transition == Transition::AlreadyResolved;
        if made_bare && !state.is_empty() {
            self.bare_keys
                .push_back((Arc::clone(&source), Arc::clone(&fp)));
        }
        self.store_key_state(&source, fp, state);
        if made_bare {
            self.evict_bare_keys();
        }

        let stepped = id.and_then(|id| self.stepped(id, transition));
        if let Some((id, record)) = id.and_then(|id| self.snapshot(id)) {
            self.push_event(Event {
                transition,
                at: now_ms,
                id,
                record,
                actor: None,
                note: None,
            });
        }
        // After the snapshot: with `max_resolved: 0` the answer still shows the incident.
        if let (Transition::Resolved, Some(id)) = (transition, id) {
            self.resolved_order.push_back(id);
            self.evict_resolved();
        }
        Ok((transition, stepped))
    }

    fn create(
        &mut self,
        source: Arc<str>,
        fingerprint: Arc<str>,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        // First, so that a failure leaves nothing half made.
        let labels = StoredLabels::new(&outcome.labels, &fingerprint);
        let title = outcome
            .title
            .as_deref()
            .map(|t| stored_title(t, &fingerprint));
        let id = self.last_id + 1;
        self.last_id = id;
        self.by_status.open.insert(id);
        self.by_source
            .entry(Arc::clone(&source))
            .or_default()
            .open
            .insert(id);
        self.incidents.insert(
            id,
            Box::new(Record {
                source,
                fingerprint,
                status: Status::Open,
                priority: outcome.priority,
                title,
                labels,
                opened_at: now_ms,
                last_event_at: now_ms,
                resolved_at: None,
                event_count: 1,
                marks: None,
            }),
        );
        Ok(id)
    }

    fn update(&mut self, id: u64, outcome: &Outcome, now_ms: i64) {
        if let Some(rec) = self.record_mut(id) {
            rec.event_count += 1;
            rec.last_event_at = now_ms;
            if let Some(title) = &outcome.title {
                // Most updates repeat the title: kept as it is, nothing is made again.
                if !rec
                    .title
                    .as_ref()
                    .is_some_and(|t| t.eq_text(&rec.fingerprint, title))
                {
                    rec.title = Some(stored_title(title, &rec.fingerprint));
                }
            }
            if let Some(priority) = outcome.priority {
                rec.priority = Some(priority);
            }
        }
    }

    fn resolve(&mut self, id: u64, source: &str, now_ms: i64) {
        if let Some(rec) = self.record_mut(id) {
            rec.status = Status::Resolved;
            rec.resolved_at = Some(now_ms);
            rec.last_event_at = now_ms;
        }
        self.by_status.resolve(id);
        if let Some(index) = self.by_source.get_mut(source) {
            index.resolve(id);
        }
    }

    fn store_key_state(&mut self, source: &Arc<str>, fingerprint: Arc<str>, state: KeyState) {
        let Some(fps) = self.keys.get_mut(source) else {
            return;
        };
        if state.is_empty() {
            fps.remove(&fingerprint);
        } else {
            fps.insert(fingerprint, state);
        }
    }

    fn push_event(&mut self, event: Event) {
        self.events.push(event, self.settings.event_stream_len);
    }

    fn stepped(&self, id: u64, transition: Transition) -> Option<Stepped> {
        Some(self.incidents.get(&id)?.stepped(id, transition))
    }

    fn snapshot(&self, id: u64) -> Option<(u64, Record)> {
        self.incidents.get(&id).map(|rec| (id, Record::clone(rec)))
    }

    fn record_mut(&mut self, id: u64) -> Option<&mut Record> {
        self.incidents.get_mut(&id).map(|rec| &mut **rec)
    }

    /// Up to `n` ids below `below`, newest first, from the index the query selects.
    fn ids_below(&self, query: &ListQuery, below: u64, n: usize) -> Vec<u64> {
        match (&query.source, query.status) {
            (None, status) => self.by_status.ids_below(status, below, n),
            (Some(source), status) => match self.by_source.get(source.as_str()) {
                Some(index) => index.ids_below(status, below, n),
                None => Vec::new(),
            },
        }
    }
}

impl MemoryStore {
    /// How many (source, fingerprint) keys the store remembers (tests: retention).
    pub fn record_count(&self) -> usize {
        self.lock().keys.values().map(KeyTable::len).sum()
    }

    /// How many incidents the store keeps, open and resolved (tests: retention).
    pub fn incident_count(&self) -> usize {
        self.lock().incidents.len()
    }
}

impl IncidentStore for MemoryStore {
    async fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let Some((action, fingerprint)) = step_of(outcome)? else {
            return Ok(Applied::ignored());
        };
        let (transition, incident) =
            self.lock()
                .apply(source, action, fingerprint, outcome, now_ms)?;
        Ok(Applied {
            transition,
            incident,
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        let snapshot = self.lock().snapshot(id);
        snapshot
            .map(|(id, record)| record.to_incident(id))
            .transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let below = match &query.cursor {
            Some(cursor) => parse_cursor(cursor)?,
            None => u64::MAX,
        };
        let limit = page_limit(query);
        let (snapshots, more) = {
            let inner = self.lock();
            // One more than a page tells whether another page follows.
            let mut ids = inner.ids_matching(query, below, limit + 1);
            let more = ids.len() > limit;
            ids.truncate(limit);
            let snapshots: Vec<_> = ids.iter().filter_map(|&id| inner.snapshot(id)).collect();
            (snapshots, more)
        };
        let incidents = snapshots
            .into_iter()
            .map(|(id, record)| record.to_incident(id))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if more {
            incidents.last().map(|i| i.id.clone())
        } else {
            None
        };
        Ok(Page {
            incidents,
            next_cursor,
        })
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<IncidentEvent>, StoreError> {
        let events = self.lock().events.newest(limit);
        events.iter().map(|(seq, e)| e.to_event(*seq)).collect()
    }

    async fn events_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let after = cursor.map(parse_cursor).transpose()?.unwrap_or(0);
        let (events, next) = self.lock().events.after(after, limit);
        Ok(EventPage {
            cursors: events.iter().map(|(seq, _)| seq.to_string()).collect(),
            events: events
                .iter()
                .map(|(seq, e)| e.to_event(*seq))
                .collect::<Result<_, _>>()?,
            next_cursor: next.to_string(),
        })
    }

    async fn act(&self, id: &str, act: &Act, by: &str, now_ms: i64) -> Result<Acted, StoreError> {
        let Some(id) = parse_id(id) else {
            return Ok(Acted::NotFound);
        };
        let acted = self.lock().act(id, act, by, now_ms);
        let acted = match acted {
            Ok((id, record)) => Acted::Done(record.to_incident(id)?),
            Err(refusal) => refusal.acted(),
        };
        Ok(acted)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn open_count(&self, source: &str) -> Result<u64, StoreError> {
        let inner = self.lock();
        let n = inner.by_source.get(source).map_or(0, |i| i.open.len());
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn is_open(&self, source: &str, fingerprint: &str) -> Result<bool, StoreError> {
        let inner = self.lock();
        Ok(inner
            .keys
            .get(source)
            .and_then(|fps| fps.get(fingerprint))
            .is_some_and(|k| k.open.is_some()))
    }

    async fn heartbeat(
        &self,
        source: &str,
        policy: HeartbeatPolicy,
        beat: Beat,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        let event = self.lock().heartbeat(source, policy, beat, now_ms);
        event.map(|e| e.record.to_incident(e.id)).transpose()
    }

    async fn sweep(
        &self,
        now_ms: i64,
        heartbeats: &[(String, HeartbeatPolicy)],
    ) -> Result<SweepReport, StoreError> {
        self.lock().sweep(now_ms, heartbeats)
    }
}
