//! What the memory store keeps per incident and per event: plain records, cheap to
//! clone, turned into the API's types after the lock is released.

use std::sync::Arc;

use crate::outcome::{Labels, Priority};
use crate::store::model::{Incident, IncidentEvent, Status, StoreError, Transition};

/// One incident. Every variable-size field is shared, so a clone (a snapshot for the
/// event ring, or to build an `Incident` after the lock is released) allocates nothing.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) source: Arc<str>,
    pub(super) fingerprint: Arc<str>,
    pub(super) status: Status,
    pub(super) priority: Option<Priority>,
    pub(super) title: Option<Arc<str>>,
    /// The labels as JSON text (shared, `None` inside when empty): a `BTreeMap` of
    /// `Value`s costs ~10× the bytes, and labels are read far less often than kept.
    pub(super) labels: Labels,
    pub(super) opened_at: i64,
    pub(super) last_event_at: i64,
    pub(super) resolved_at: Option<i64>,
    pub(super) event_count: u64,
}

impl Record {
    pub(super) fn to_incident(&self, id: u64) -> Result<Incident, StoreError> {
        Ok(Incident {
            id: id.to_string(),
            source: Arc::clone(&self.source),
            fingerprint: Arc::clone(&self.fingerprint),
            status: self.status,
            priority: self.priority,
            title: self.title.clone(),
            labels: self.labels.clone(),
            opened_at: self.opened_at,
            last_event_at: self.last_event_at,
            resolved_at: self.resolved_at,
            event_count: self.event_count,
        })
    }
}

/// One entry of the event ring: the incident as it stood after the step.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) transition: Transition,
    pub(super) at: i64,
    pub(super) id: u64,
    pub(super) record: Record,
}

impl Event {
    pub(super) fn to_event(&self, seq: u64) -> Result<IncidentEvent, StoreError> {
        Ok(IncidentEvent {
            id: seq.to_string(),
            transition: self.transition,
            at: self.at,
            incident: self.record.to_incident(self.id)?,
        })
    }
}
