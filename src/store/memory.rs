//! The embedded store: every incident in this process, behind one lock.
//!
//! Owns the in-process state of the lifecycle (DESIGN §4): per-key records, incidents by
//! id, the indexes that list them newest first, and a bounded ring of incident events.
//! It is the default backend (no setup) and is not shared between replicas; that is what
//! the `redis` backend is for.
//!
//! Memory: a source name is stored once (`Arc<str>`) and shared by every key, record and
//! index of that source; a fingerprint is stored once and shared by its key entry and its
//! incidents. A key entry is dropped once it has neither an open incident nor an
//! `event_time` to remember.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{
    page_limit, parse_cursor, parse_id, require_fingerprint, store_action, Applied, Incident,
    IncidentEvent, IncidentStore, ListQuery, Page, Status, StoreError, Transition,
};
use crate::engine::{Action, Outcome, Priority};

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

impl MemoryStore {
    /// An empty store whose event ring keeps the newest `event_stream_len` events.
    pub fn new(event_stream_len: usize) -> Self {
        MemoryStore {
            inner: Arc::new(Mutex::new(Inner {
                event_stream_len,
                ..Inner::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code panics while holding the lock, so a poisoned lock holds consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the store remembers about one (source, fingerprint) key.
#[derive(Debug, Clone, Copy, Default)]
struct KeyState {
    /// The id of the key's open incident.
    open: Option<u64>,
    /// The newest `event_time` applied to the key; outlives the incident.
    last_event_time: Option<i64>,
}

impl KeyState {
    fn is_empty(&self) -> bool {
        self.open.is_none() && self.last_event_time.is_none()
    }
}

/// One incident, with its source and fingerprint shared rather than copied.
#[derive(Debug)]
struct Record {
    source: Arc<str>,
    fingerprint: Arc<str>,
    status: Status,
    priority: Option<Priority>,
    title: Option<String>,
    labels: BTreeMap<String, serde_json::Value>,
    opened_at: i64,
    last_event_at: i64,
    resolved_at: Option<i64>,
    event_count: u64,
}

impl Record {
    fn to_incident(&self, id: u64) -> Incident {
        Incident {
            id: id.to_string(),
            source: self.source.to_string(),
            fingerprint: self.fingerprint.to_string(),
            status: self.status,
            priority: self.priority,
            title: self.title.clone(),
            labels: self.labels.clone(),
            opened_at: self.opened_at,
            last_event_at: self.last_event_at,
            resolved_at: self.resolved_at,
            event_count: self.event_count,
        }
    }
}

/// Incident ids of one status, newest last.
#[derive(Debug, Default)]
struct StatusIndex {
    open: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
}

impl StatusIndex {
    fn get(&self, status: Status) -> &BTreeSet<u64> {
        match status {
            Status::Open => &self.open,
            Status::Resolved => &self.resolved,
        }
    }

    fn resolve(&mut self, id: u64) {
        self.open.remove(&id);
        self.resolved.insert(id);
    }
}

/// The state behind the lock.
#[derive(Debug, Default)]
struct Inner {
    last_id: u64,
    /// source → fingerprint → key state. The outer key is the one shared copy of a source
    /// name; the inner key is the shared copy of a fingerprint.
    keys: HashMap<Arc<str>, HashMap<Arc<str>, KeyState>>,
    /// Every incident by id; doubles as the unfiltered listing index.
    incidents: BTreeMap<u64, Record>,
    by_status: StatusIndex,
    /// source → its incidents by status. The unfiltered per-source listing merges the two.
    by_source: HashMap<Arc<str>, StatusIndex>,
    events: VecDeque<IncidentEvent>,
    event_stream_len: usize,
}

impl Inner {
    /// The shared copy of a source name, made on first sight.
    fn intern_source(&mut self, source: &str) -> Arc<str> {
        if let Some((name, _)) = self.keys.get_key_value(source) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(source);
        self.keys.insert(Arc::clone(&name), HashMap::new());
        name
    }

    fn apply(
        &mut self,
        source: &str,
        action: Action,
        fingerprint: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Applied {
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
                let incident = state.open.and_then(|id| self.incident(id));
                return Applied {
                    transition: Transition::Stale,
                    incident,
                };
            }
        }

        let fp = shared_fp.unwrap_or_else(|| Arc::from(fingerprint));
        let (transition, id) = match (action, state.open) {
            (Action::Open, Some(id)) => {
                self.update(id, outcome, now_ms);
                (Transition::Updated, Some(id))
            }
            (Action::Open, None) => {
                let id = self.create(Arc::clone(&source), Arc::clone(&fp), outcome, now_ms);
                state.open = Some(id);
                (Transition::Opened, Some(id))
            }
            (Action::Resolve, Some(id)) => {
                self.resolve(id, &source, now_ms);
                state.open = None;
                (Transition::Resolved, Some(id))
            }
            // `store_action` never yields `Ignore`; treating it as a resolve of nothing
            // keeps this match total without a panic.
            (Action::Resolve | Action::Ignore, None) | (Action::Ignore, Some(_)) => {
                (Transition::AlreadyResolved, None)
            }
        };
        if let Some(t) = outcome.event_time {
            state.last_event_time = Some(state.last_event_time.map_or(t, |last| last.max(t)));
        }
        self.store_key_state(&source, fp, state);

        let incident = id.and_then(|id| self.incident(id));
        if let Some(incident) = &incident {
            self.push_event(IncidentEvent {
                transition,
                at: now_ms,
                incident: incident.clone(),
            });
        }
        Applied {
            transition,
            incident,
        }
    }

    fn create(
        &mut self,
        source: Arc<str>,
        fingerprint: Arc<str>,
        outcome: &Outcome,
        now_ms: i64,
    ) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        self.by_status.open.insert(id);
        self.by_source
            .entry(Arc::clone(&source))
            .or_default()
            .open
            .insert(id);
        self.incidents.insert(
            id,
            Record {
                source,
                fingerprint,
                status: Status::Open,
                priority: outcome.priority,
                title: outcome.title.clone(),
                labels: outcome.labels.clone(),
                opened_at: now_ms,
                last_event_at: now_ms,
                resolved_at: None,
                event_count: 1,
            },
        );
        id
    }

    fn update(&mut self, id: u64, outcome: &Outcome, now_ms: i64) {
        if let Some(rec) = self.incidents.get_mut(&id) {
            rec.event_count += 1;
            rec.last_event_at = now_ms;
            if let Some(title) = &outcome.title {
                rec.title = Some(title.clone());
            }
            if let Some(priority) = outcome.priority {
                rec.priority = Some(priority);
            }
        }
    }

    fn resolve(&mut self, id: u64, source: &str, now_ms: i64) {
        if let Some(rec) = self.incidents.get_mut(&id) {
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

    fn push_event(&mut self, event: IncidentEvent) {
        if self.event_stream_len == 0 {
            return;
        }
        while self.events.len() >= self.event_stream_len {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn incident(&self, id: u64) -> Option<Incident> {
        self.incidents.get(&id).map(|rec| rec.to_incident(id))
    }

    /// Up to `n` ids below `below`, newest first, from the index the query selects.
    fn ids_below(&self, query: &ListQuery, below: u64, n: usize) -> Vec<u64> {
        match (&query.source, query.status) {
            (None, None) => take_newest(self.incidents.range(..below).map(|(id, _)| id), n),
            (None, Some(status)) => take_newest(self.by_status.get(status).range(..below), n),
            (Some(source), status) => {
                let Some(index) = self.by_source.get(source.as_str()) else {
                    return Vec::new();
                };
                match status {
                    Some(status) => take_newest(index.get(status).range(..below), n),
                    None => {
                        let mut ids = take_newest(index.open.range(..below), n);
                        ids.extend(take_newest(index.resolved.range(..below), n));
                        ids.sort_unstable_by(|a, b| b.cmp(a));
                        ids.truncate(n);
                        ids
                    }
                }
            }
        }
    }
}

fn take_newest<'a>(ids: impl DoubleEndedIterator<Item = &'a u64>, n: usize) -> Vec<u64> {
    ids.rev().take(n).copied().collect()
}

impl IncidentStore for MemoryStore {
    async fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let Some(action) = store_action(outcome) else {
            return Ok(Applied {
                transition: Transition::Ignored,
                incident: None,
            });
        };
        let fingerprint = require_fingerprint(outcome)?;
        Ok(self
            .lock()
            .apply(source, action, fingerprint, outcome, now_ms))
    }

    async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        Ok(parse_id(id).and_then(|id| self.lock().incident(id)))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let below = match &query.cursor {
            Some(cursor) => parse_cursor(cursor)?,
            None => u64::MAX,
        };
        let limit = page_limit(query);
        let inner = self.lock();
        // One more than a page tells whether another page follows.
        let mut ids = inner.ids_below(query, below, limit + 1);
        let more = ids.len() > limit;
        ids.truncate(limit);
        let incidents: Vec<Incident> = ids.iter().filter_map(|&id| inner.incident(id)).collect();
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
        let inner = self.lock();
        let skip = inner.events.len().saturating_sub(limit);
        Ok(inner.events.iter().skip(skip).cloned().collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
