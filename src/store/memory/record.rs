//! The memory store's records: what it keeps per key, per incident and per event.

use std::sync::Arc;

use super::text::Spliced;
use crate::outcome::{Labels, Priority};
use crate::store::model::{Incident, IncidentEvent, Status, Stepped, StoreError, Transition};

/// What the store remembers about one (source, fingerprint) key.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct KeyState {
    /// The id of the key's open incident.
    pub(super) open: Option<u64>,
    /// The id of the key's newest incident (`0`: none yet); when it is evicted with
    /// nothing open, the key's entry goes with it.
    pub(super) newest: u64,
    /// The newest `event_time` applied to the key; outlives the open incident, for as
    /// long as the key's newest incident is kept.
    pub(super) last_event_time: Option<i64>,
}

impl KeyState {
    pub(super) fn is_empty(&self) -> bool {
        self.open.is_none() && self.last_event_time.is_none()
    }
}

/// One incident. Every variable-size field is shared, so a clone (a snapshot for the
/// event ring, or to build an `Incident` after the lock is released) allocates nothing.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) source: Arc<str>,
    /// The one copy of the fingerprint's text: the title and the labels share its long
    /// pieces (`text`).
    pub(super) fingerprint: Arc<str>,
    pub(super) status: Status,
    pub(super) priority: Option<Priority>,
    pub(super) title: Option<Spliced>,
    pub(super) labels: StoredLabels,
    pub(super) opened_at: i64,
    pub(super) last_event_at: i64,
    pub(super) resolved_at: Option<i64>,
    pub(super) event_count: u64,
    /// What few incidents get; `None` until one of them is set.
    pub(super) marks: Option<Box<Marks>>,
}

/// What few incidents get, boxed apart from the record (which is 56 bytes smaller for it).
#[derive(Debug, Clone, Default)]
pub(super) struct Marks {
    /// Opened while its fingerprint flapped, with the spell's opens so far.
    pub(super) flapping: bool,
    pub(super) flap_count: Option<u64>,
    /// When a person acknowledged it, and who.
    pub(super) acknowledged_at: Option<i64>,
    pub(super) acknowledged_by: Option<Arc<str>>,
    /// `timeout` or `heartbeat` when the gateway resolved it itself, `user:<name>` when a
    /// person did.
    pub(super) resolved_by: Option<Arc<str>>,
}

/// The marks of a record that has none.
static NO_MARKS: Marks = Marks {
    flapping: false,
    flap_count: None,
    acknowledged_at: None,
    acknowledged_by: None,
    resolved_by: None,
};

/// An incident's labels: the JSON text as built (a `BTreeMap` of `Value`s costs ~10× the
/// bytes, and labels are read far less often than kept), or, when it holds a long piece
/// of the fingerprint, the rest of it.
#[derive(Debug, Clone)]
pub(super) enum StoredLabels {
    Whole(Labels),
    Spliced(Spliced),
}

impl StoredLabels {
    pub(super) fn new(labels: &Labels, fingerprint: &str) -> StoredLabels {
        if labels.is_empty() {
            return StoredLabels::Whole(Labels::default());
        }
        let spliced = Spliced::new(labels.as_json(), fingerprint);
        if spliced.is_spliced() {
            StoredLabels::Spliced(spliced)
        } else {
            StoredLabels::Whole(labels.clone())
        }
    }

    /// The labels; a spliced text is parsed back (it was JSON when stored).
    pub(super) fn to_labels(&self, fingerprint: &str) -> Result<Labels, StoreError> {
        match self {
            StoredLabels::Whole(labels) => Ok(labels.clone()),
            StoredLabels::Spliced(text) => Labels::from_json(&text.to_text(fingerprint))
                .map_err(|e| StoreError::Corrupt(format!("stored labels: {e}"))),
        }
    }
}

/// A title as stored: shared with the fingerprint where it holds a long piece of it.
pub(super) fn stored_title(title: &str, fingerprint: &str) -> Spliced {
    Spliced::new(title, fingerprint)
}

impl Record {
    pub(super) fn marks(&self) -> &Marks {
        self.marks.as_deref().unwrap_or(&NO_MARKS)
    }

    pub(super) fn marks_mut(&mut self) -> &mut Marks {
        self.marks.get_or_insert_with(Box::default)
    }

    pub(super) fn title_text(&self) -> Option<Arc<str>> {
        self.title.as_ref().map(|t| match t.whole_text() {
            Some(whole) => Arc::clone(whole),
            None => Arc::from(t.to_text(&self.fingerprint)),
        })
    }

    /// What a step answers of this incident (`id`): flapping only on a create.
    pub(super) fn stepped(&self, id: u64, transition: Transition) -> Stepped {
        let marks = self.marks();
        let opened = transition == Transition::Opened;
        Stepped {
            id: id.to_string(),
            priority: self.priority,
            flapping: opened && marks.flapping,
            flap_count: if opened { marks.flap_count } else { None },
        }
    }

    pub(super) fn to_incident(&self, id: u64) -> Result<Incident, StoreError> {
        let marks = self.marks();
        Ok(Incident {
            id: id.to_string(),
            source: Arc::clone(&self.source),
            fingerprint: Arc::clone(&self.fingerprint),
            status: self.status,
            priority: self.priority,
            title: self.title_text(),
            labels: self.labels.to_labels(&self.fingerprint)?,
            opened_at: self.opened_at,
            last_event_at: self.last_event_at,
            resolved_at: self.resolved_at,
            event_count: self.event_count,
            flapping: marks.flapping,
            flap_count: marks.flap_count,
            acknowledged_at: marks.acknowledged_at,
            acknowledged_by: marks.acknowledged_by.clone(),
            resolved_by: marks.resolved_by.clone(),
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
    /// Who made it, on events people made; the note's text on `noted`.
    pub(super) actor: Option<Arc<str>>,
    pub(super) note: Option<Arc<str>>,
}

impl Event {
    pub(super) fn to_event(&self, seq: u64) -> Result<IncidentEvent, StoreError> {
        Ok(IncidentEvent {
            id: seq.to_string(),
            transition: self.transition,
            at: self.at,
            incident: self.record.to_incident(self.id)?,
            actor: self.actor.clone(),
            note: self.note.clone(),
        })
    }
}
