//! The store's vocabulary, shared by both backends: statuses, transitions, incidents,
//! listings, errors, and the `IncidentStore` interface itself.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use crate::clock;
use crate::outcome::{Action, HeartbeatPolicy, Labels, Outcome, Priority};

/// Default bound on the event stream (Redis `MAXLEN ~`, memory ring size).
pub const DEFAULT_EVENT_STREAM_LEN: usize = 10_000;

/// Default bound on the resolved incidents the memory store keeps.
pub const DEFAULT_MAX_RESOLVED: usize = 10_000;

/// Default time the Redis store keeps a resolved incident after its resolve: 7 days.
pub const DEFAULT_RESOLVED_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Whether an incident is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
}

/// What one applied outcome did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// No incident was open for the key: a new one was created.
    Opened,
    /// An incident was open for the key: its count, time, title and priority were bumped.
    Updated,
    /// The open incident for the key was resolved.
    Resolved,
    /// A resolve arrived with nothing open: nothing changed.
    AlreadyResolved,
    /// The event's `event_time` is older than the last one applied to the key.
    Stale,
    /// The mapping decided to ignore the payload: the store was not touched.
    Ignored,
    /// The store was unavailable (or webhooks were already waiting) and the outcome was
    /// queued on the spool, to be applied later (docs/design.md §10). Never a store's
    /// answer and never in the event stream: the replay's own transition is.
    Queued,
    /// Stream only: a fingerprint stopped flapping (a whole window with no open); the
    /// entry carries its newest incident as it stands and `flap_count` (§4).
    FlappingEnded,
    /// A person acknowledged the open incident (`POST /v1/incidents/{id}/acknowledge`).
    Acknowledged,
    /// A person added a note to the incident; the incident itself is unchanged.
    Noted,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Opened => "opened",
            Transition::Updated => "updated",
            Transition::Resolved => "resolved",
            Transition::AlreadyResolved => "already_resolved",
            Transition::Stale => "stale",
            Transition::Ignored => "ignored",
            Transition::Queued => "queued",
            Transition::FlappingEnded => "flapping_ended",
            Transition::Acknowledged => "acknowledged",
            Transition::Noted => "noted",
        }
    }

    pub fn parse(s: &str) -> Option<Transition> {
        Some(match s {
            "opened" => Transition::Opened,
            "updated" => Transition::Updated,
            "resolved" => Transition::Resolved,
            "already_resolved" => Transition::AlreadyResolved,
            "stale" => Transition::Stale,
            "ignored" => Transition::Ignored,
            "flapping_ended" => Transition::FlappingEnded,
            "acknowledged" => Transition::Acknowledged,
            "noted" => Transition::Noted,
            _ => return None,
        })
    }
}

/// One incident as the API and the event stream show it. Times are Unix milliseconds
/// inside, RFC 3339 on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Unique, increasing id (decimal); newer incidents have larger ids.
    pub id: String,
    pub source: Arc<str>,
    pub fingerprint: Arc<str>,
    pub status: Status,
    pub priority: Option<Priority>,
    pub title: Option<Arc<str>>,
    pub labels: Labels,
    #[serde(with = "clock::rfc3339_ms")]
    pub opened_at: i64,
    #[serde(with = "clock::rfc3339_ms")]
    pub last_event_at: i64,
    #[serde(with = "clock::rfc3339_ms_opt")]
    pub resolved_at: Option<i64>,
    pub event_count: u64,
    /// Opened while its fingerprint flapped (§4): notifications hold it back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// With `flapping`: the fingerprint's opens in the flapping spell so far, this one
    /// included; on a `flapping_ended` entry, the spell's total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flap_count: Option<u64>,
    /// When a person acknowledged it, and who (`user:<token name>`); cleared by nothing.
    #[serde(with = "clock::rfc3339_ms_opt")]
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<Arc<str>>,
    /// `user:<token name>` when a person resolved it; `null` when its source did.
    pub resolved_by: Option<Arc<str>>,
}

/// The result of `IncidentStore::apply`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub transition: Transition,
    /// The incident the step concerned (the resolved one for `resolved`, the open one for
    /// `stale`); `None` for `already_resolved`, `ignored`, and `stale` with nothing open.
    /// Only what the webhook's answer needs: `IncidentStore::get` reads the rest.
    pub incident: Option<Stepped>,
}

/// The incident a step concerned, as far as the webhook's answer needs it: a store step
/// does not read back what it wrote (docs/design.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stepped {
    pub id: String,
    /// The incident's priority after the step.
    pub priority: Option<Priority>,
    /// On an `opened` step: opened while its fingerprint flapped, and the spell's opens so
    /// far. Other steps leave them unset (`IncidentStore::get` has the incident's).
    pub flapping: bool,
    pub flap_count: Option<u64>,
}

impl From<&Incident> for Stepped {
    fn from(i: &Incident) -> Stepped {
        Stepped {
            id: i.id.clone(),
            priority: i.priority,
            flapping: i.flapping,
            flap_count: i.flap_count,
        }
    }
}

/// One entry of the event stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentEvent {
    /// Unique among every event of the store, never reused (docs/design.md §5): memory
    /// `<seq>` (decimal), Redis `<bucket>-<stream entry id>`. Opaque to readers.
    pub id: String,
    pub transition: Transition,
    #[serde(with = "clock::rfc3339_ms")]
    pub at: i64,
    pub incident: Incident,
    /// Who took the action (`user:<token name>`), on events people made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Arc<str>>,
    /// The note's text, on `noted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Arc<str>>,
}

/// An event a sink gave up on, as its dead-letter stream keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The entry's id in the dead-letter stream.
    pub id: String,
    /// The event's own id (the one every attempt carried).
    pub event_id: String,
    pub error: String,
    pub attempts: u32,
    #[serde(with = "clock::rfc3339_ms")]
    pub failed_at: i64,
    pub event: IncidentEvent,
}

/// One consumer group on the event stream (`XINFO GROUPS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    /// Entries delivered to a consumer and not acknowledged.
    pub pending: u64,
    /// Entries not yet delivered to any consumer (Redis 7: `lag`; unknown after some trims).
    pub lag: Option<u64>,
    pub last_delivered: String,
}

/// A page request for `IncidentStore::list`: newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub source: Option<String>,
    /// Page size; callers clamp it to the configured maximum. `0` is read as `1`.
    pub limit: usize,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Only incidents of this priority (filtered while paging).
    pub priority: Option<Priority>,
    /// Only acknowledged (`true`) or not acknowledged (`false`) incidents.
    pub acknowledged: Option<bool>,
}

impl ListQuery {
    /// Whether the query filters on incident fields the indexes do not hold.
    pub fn filters_fields(&self) -> bool {
        self.priority.is_some() || self.acknowledged.is_some()
    }

    /// Whether `incident` passes the field filters (status and source are the indexes').
    pub fn matches(&self, incident: &Incident) -> bool {
        self.priority.is_none_or(|p| incident.priority == Some(p))
            && self
                .acknowledged
                .is_none_or(|a| incident.acknowledged_at.is_some() == a)
    }
}

/// What a person does to an incident through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Marks an open incident acknowledged.
    Acknowledge,
    /// Resolves an open incident, as its source's resolve would.
    Resolve,
    /// Adds a note (the text) to any kept incident.
    Note(String),
}

impl Act {
    pub fn transition(&self) -> Transition {
        match self {
            Act::Acknowledge => Transition::Acknowledged,
            Act::Resolve => Transition::Resolved,
            Act::Note(_) => Transition::Noted,
        }
    }
}

/// What `IncidentStore::act` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Acted {
    /// Done: the incident as it stands after the step, and the event recorded.
    Done(Incident),
    /// No kept incident has this id.
    NotFound,
    /// The incident's state does not allow the act (resolved, already acknowledged).
    Conflict(&'static str),
}

/// One page of incidents, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    pub incidents: Vec<Incident>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A run of events after a cursor (`IncidentStore::events_after`), oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub events: Vec<IncidentEvent>,
    /// The cursor just after each event, in the same order: resuming from
    /// `cursors[k]` reads on from `events[k + 1]` (an SSE stream's `id:`s).
    #[serde(skip)]
    pub cursors: Vec<String>,
    /// Where the read stopped: pass it back to read on. Always set (an empty page keeps
    /// the position), opaque, and covers every bucket of the store.
    pub next_cursor: String,
}

/// What one `IncidentStore::sweep` did, for the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Incidents resolved by their `auto_resolve_after` deadline.
    pub auto_resolved: u64,
    /// Heartbeat incidents opened, by source.
    pub heartbeats_opened: Vec<String>,
    /// `flapping_ended` entries written.
    pub flapping_ended: u64,
    /// Fingerprints flapping after the sweep (every replica's, on Redis).
    pub flapping_now: u64,
    /// Index entries of expired incidents removed (Redis `ids:{source}`; memory: 0, its
    /// index loses an incident with the incident).
    pub pruned: u64,
}

/// What a request of a heartbeat source asks of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The source was heard: its deadline moves to `now + every`, and its heartbeat
    /// incident, if open, resolves (`resolved_by: heartbeat`).
    Heard,
    /// The gateway loaded a config with this heartbeat: start the clock unless the
    /// source already has one.
    Arm,
}

/// Store failures, classed by cause: the caller may retry `Unavailable` (HTTP 503).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("bad cursor {0:?}")]
    BadCursor(String),
    #[error("store returned malformed data: {0}")]
    Corrupt(String),
}

/// The incident store: domain verbs, no protocol calls.
pub trait IncidentStore: Send + Sync + 'static {
    /// Applies one outcome of `source` atomically and returns the transition it made.
    /// `now_ms` is the receive time. An `Ignore` outcome touches nothing.
    fn apply(
        &self,
        source: &str,
        outcome: &Outcome,
        now_ms: i64,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;

    /// One incident by id.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;

    /// A page of incidents, newest first, filtered by status and source.
    fn list(&self, query: &ListQuery) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// The newest `limit` entries of the event stream, oldest first.
    fn recent_events(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<IncidentEvent>, StoreError>> + Send;

    /// Incident `id`'s events among the newest `within` entries of the event stream,
    /// oldest first.
    fn incident_events(
        &self,
        id: &str,
        within: usize,
    ) -> impl Future<Output = Result<Vec<IncidentEvent>, StoreError>> + Send {
        async move {
            let events = self.recent_events(within).await?;
            Ok(events.into_iter().filter(|e| e.incident.id == id).collect())
        }
    }

    /// Up to `limit` events after `cursor` (from the oldest kept when `None`), oldest
    /// first, with the cursor to read on from. Events trimmed by the stream bound before
    /// a reader got to them are skipped. A cursor this store did not make is `BadCursor`.
    fn events_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<EventPage, StoreError>> + Send;

    /// A person's act on incident `id`, recorded as an event like any other, with `by`
    /// (`user:<name>`) as its actor. A resolve frees the incident's key as a source's
    /// resolve does.
    fn act(
        &self,
        id: &str,
        act: &Act,
        by: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<Acted, StoreError>> + Send;

    /// Succeeds when the store can serve requests (readiness).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many incidents of `source` are open now (`sources.{id}.max_open`, the
    /// `alertgate_open_incidents` gauge). Cheap: a counter or one index count.
    fn open_count(&self, source: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Whether (source, fingerprint) has an open incident: an open of it would update,
    /// not create. Asked only when the source is at its `max_open`.
    fn is_open(
        &self,
        source: &str,
        fingerprint: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A heartbeat source's request (`Beat::Heard`) or its config being loaded
    /// (`Beat::Arm`); returns the resolved heartbeat incident, if one was open.
    fn heartbeat(
        &self,
        source: &str,
        policy: HeartbeatPolicy,
        beat: Beat,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;

    /// Fires every deadline due at `now_ms` (docs/design.md §4, §5): auto-resolves,
    /// heartbeat opens (only for the sources in `heartbeats`, the current config's),
    /// and the ends of flapping spells. Each deadline fires once across replicas.
    fn sweep(
        &self,
        now_ms: i64,
        heartbeats: &[(String, HeartbeatPolicy)],
    ) -> impl Future<Output = Result<SweepReport, StoreError>> + Send;
}

/// What an outcome asks of a store: `None` for `ignore` (answered `Applied::ignored()`
/// without touching anything), else the action and the fingerprint. The engine always
/// sets a fingerprint on `open`/`resolve` (it rejects one that renders empty), so its
/// absence is a caller bug, reported as `Corrupt` (HTTP 500) rather than guessed around.
pub(crate) fn step_of(outcome: &Outcome) -> Result<Option<(Action, &str)>, StoreError> {
    if outcome.action == Action::Ignore {
        return Ok(None);
    }
    let fingerprint = outcome.fingerprint.as_deref().ok_or_else(|| {
        StoreError::Corrupt(format!("{} outcome has no fingerprint", outcome.action))
    })?;
    Ok(Some((outcome.action, fingerprint)))
}

impl Applied {
    /// The answer to an `ignore` outcome.
    pub fn ignored() -> Applied {
        Applied {
            transition: Transition::Ignored,
            incident: None,
        }
    }
}

/// Parses a page cursor: the decimal id of the last incident of the previous page.
pub(crate) fn parse_cursor(cursor: &str) -> Result<u64, StoreError> {
    parse_id(cursor).ok_or_else(|| StoreError::BadCursor(cursor.to_owned()))
}

/// Parses an incident id: plain ASCII decimal digits (no sign, no spaces), as ids are made.
pub(crate) fn parse_id(id: &str) -> Option<u64> {
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// The page size a query asks for; `0` is read as `1` so every page makes progress.
pub(crate) fn page_limit(query: &ListQuery) -> usize {
    query.limit.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_accepts_plain_decimals_only() {
        assert_eq!(parse_cursor("42").ok(), Some(42));
        for bad in ["", "+4", "-4", " 4", "4a", "1.5", "99999999999999999999999"] {
            assert!(
                matches!(parse_cursor(bad), Err(StoreError::BadCursor(_))),
                "{bad:?}"
            );
        }
    }
}
