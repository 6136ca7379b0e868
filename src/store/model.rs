//! The store's vocabulary, shared by both backends: statuses, transitions, incidents,
//! listings, errors, and the `IncidentStore` interface itself.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use crate::clock;
use crate::outcome::{Action, Labels, Outcome, Priority};

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
}

/// The result of `IncidentStore::apply`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub transition: Transition,
    /// The incident as it stands after the step (the resolved one for `resolved`); `None`
    /// for `already_resolved`, `ignored`, and `stale` with nothing open.
    pub incident: Option<Incident>,
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
    /// Where the read stopped: pass it back to read on. Always set (an empty page keeps
    /// the position), opaque, and covers every bucket of the store.
    pub next_cursor: String,
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

    /// Up to `limit` events after `cursor` (from the oldest kept when `None`), oldest
    /// first, with the cursor to read on from. Events trimmed by the stream bound before
    /// a reader got to them are skipped. A cursor this store did not make is `BadCursor`.
    fn events_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<EventPage, StoreError>> + Send;

    /// Succeeds when the store can serve requests (readiness).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
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
