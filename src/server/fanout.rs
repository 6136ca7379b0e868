//! A fan-out payload's store steps and its answer (docs/design.md §3, §6).
//!
//! Each element's outcome is applied as its own atomic step, in payload order. When no
//! element needs a check of its own (no spool, and the source's open count known to be far
//! below `max_open` for every open in the payload), the steps are sent together
//! (`Store::apply_many`: on Redis one pipeline per bucket, one round trip instead of one
//! per element); each element then gets its own step's result. Otherwise each element is
//! checked and applied in turn (`step`). Each element is bounded (`limits.max_*_bytes`, `max_labels`: done by the
//! caller) and capped by `sources.{id}.max_open` like a single event; the request took
//! one rate-limit token, whatever its size. A rejected or refused element is reported in
//! its place and does not stop the others. The answer is `{"results": [...]}` in element
//! order: 202 when at least one element was accepted (an `ignore` counts); when none
//! was, 429 if any was refused by `max_open`, else 422; if the store fails part-way, the
//! failure's status (503) with the results of the steps applied and the store's error on
//! every element that still needed it. With a spool (§10), an element the unavailable
//! store cannot take is queued (`transition: "queued"`, accepted), and so is every element
//! after it, in order, as single events are; only a full or unwritable spool is a failure
//! then. `step` is also a single event's store step.

use std::collections::VecDeque;

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use super::error::{ApiError, RETRY_AFTER_SECS};
use super::http::ok_json;
use super::openlimit::OpenLimit;
use super::state::{store_error_kind, AppState};
use crate::clock;
use crate::config::Source;
use crate::metrics::{self, WebhookOutcome};
use crate::outcome::{Action, Outcome, Priority, Rejection};
use crate::spool::{SpoolError, Submitted};
use crate::store::{Applied, IncidentStore, Stepped, StoreError, Transition};

/// The per-element outcomes of a fan-out, for the webhook metrics (`router::handle`).
#[derive(Debug, Clone)]
pub struct ItemOutcomes(pub Vec<WebhookOutcome>);

/// The answer to a fan-out payload.
#[derive(Debug, Serialize)]
struct Results {
    results: Vec<ItemResult>,
}

/// One element's entry in `results`.
#[derive(Debug, Serialize)]
struct ItemResult {
    action: Option<Action>,
    transition: Option<Transition>,
    incident_id: Option<String>,
    fingerprint: Option<String>,
    priority: Option<Priority>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ItemError>,
}

/// `{code, message}`, as in the error body of a single event.
#[derive(Debug, Serialize)]
struct ItemError {
    code: &'static str,
    message: String,
}

impl ItemError {
    fn of(e: &ApiError) -> ItemError {
        ItemError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// One outcome's store step (a single event's, or one element of a fan-out), under the
/// source's `max_open`: applied now, or, with a spool, queued behind what waits there
/// when the store is unavailable (`queued`, no incident yet).
pub(super) async fn step(
    state: &AppState,
    source: &Source,
    open_limit: &mut OpenLimit<'_>,
    outcome: &Outcome,
) -> Result<(Transition, Option<Stepped>), ApiError> {
    open_limit.check(outcome).await?;
    let now_ms = clock::now_ms();
    let (transition, incident) = if let Some(spool) = state.spool() {
        let started = tokio::time::Instant::now();
        let submitted = spool
            .submit(state.store(), &source.id, outcome, now_ms)
            .await;
        // Timed and counted like any store call when the store was asked and answered.
        let asked = match &submitted {
            Ok(Submitted::Applied(_)) => Some(None),
            Err(SpoolError::Store(e)) => Some(store_error_kind(e)),
            Ok(Submitted::Queued) | Err(_) => None,
        };
        if let Some(kind) = asked {
            state.metrics().store_call("apply", started.elapsed(), kind);
        }
        match submitted? {
            Submitted::Applied(applied) => (applied.transition, applied.incident),
            Submitted::Queued => (Transition::Queued, None),
        }
    } else {
        let apply = state.store().apply(&source.id, outcome, now_ms);
        let applied = state.store_call("apply", apply).await?;
        (applied.transition, applied.incident)
    };
    stepped(state, source, open_limit, transition, incident.as_ref());
    Ok((transition, incident))
}

/// What follows every applied step: the open count moved, a flapping open counted.
fn stepped(
    state: &AppState,
    source: &Source,
    open_limit: &mut OpenLimit<'_>,
    transition: Transition,
    incident: Option<&Stepped>,
) {
    open_limit.applied(transition);
    if transition == Transition::Opened && incident.is_some_and(|i| i.flapping) {
        state.metrics().record_flapping_open(&source.id);
    }
}

/// The store steps of every element that needs one, sent together, in order, when none
/// needs a check of its own (see the module's text); `None`: step them one by one.
async fn apply_together(
    state: &AppState,
    source: &Source,
    open_limit: &mut OpenLimit<'_>,
    evaluated: &[Result<Outcome, Rejection>],
) -> Option<VecDeque<Result<Applied, StoreError>>> {
    if state.spool().is_some() {
        return None;
    }
    let outcomes: Vec<&Outcome> = evaluated
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|o| o.action != Action::Ignore)
        .collect();
    let opens = outcomes.iter().filter(|o| o.action == Action::Open).count();
    if outcomes.len() < 2 || !open_limit.clears(opens).await {
        return None;
    }
    let started = tokio::time::Instant::now();
    let applied = state
        .store()
        .apply_many(&source.id, &outcomes, clock::now_ms())
        .await;
    let kind = applied
        .iter()
        .find_map(|r| r.as_ref().err())
        .and_then(store_error_kind);
    state.metrics().store_call("apply", started.elapsed(), kind);
    Some(applied.into())
}

/// Applies each evaluated element in order and answers for all of them.
pub(super) async fn apply(
    state: &AppState,
    source: &Source,
    evaluated: Vec<Result<Outcome, Rejection>>,
) -> Response<Full<Bytes>> {
    let mut results = Vec::with_capacity(evaluated.len());
    let mut outcomes = Vec::with_capacity(evaluated.len());
    let mut accepted = 0usize;
    let mut open_refused = 0usize;
    let mut open_limit = OpenLimit::new(state, source);
    let mut together = apply_together(state, source, &mut open_limit, &evaluated).await;
    // The first store failure: every later element that needs the store gets it too
    // (stepped one by one), or the status of the answer (stepped together).
    let mut failure: Option<ApiError> = None;
    for item in evaluated {
        let outcome = match item {
            Ok(outcome) => outcome,
            Err(rejection) => {
                outcomes.push(metrics::REJECTED);
                results.push(ItemResult {
                    action: None,
                    transition: None,
                    incident_id: None,
                    fingerprint: None,
                    priority: None,
                    reason: None,
                    error: Some(ItemError::of(&ApiError::Rejected(rejection))),
                });
                continue;
            }
        };
        let step = if outcome.action == Action::Ignore {
            Ok((Transition::Ignored, None))
        } else if let Some(together) = together.as_mut() {
            match together.pop_front() {
                Some(Ok(applied)) => {
                    let (transition, incident) = (applied.transition, applied.incident);
                    stepped(
                        state,
                        source,
                        &mut open_limit,
                        transition,
                        incident.as_ref(),
                    );
                    Ok((transition, incident))
                }
                Some(Err(e)) => {
                    let e = ApiError::from(e);
                    let error = ItemError::of(&e);
                    failure = failure.or(Some(e));
                    Err((error, metrics::ERROR))
                }
                None => Err((
                    ItemError::of(&ApiError::from(StoreError::Corrupt(
                        "a step was left out".into(),
                    ))),
                    metrics::ERROR,
                )),
            }
        } else if let Some(e) = &failure {
            Err((ItemError::of(e), metrics::ERROR))
        } else {
            match step(state, source, &mut open_limit, &outcome).await {
                Ok(done) => Ok(done),
                Err(e @ ApiError::TooManyOpen { .. }) => {
                    open_refused += 1;
                    Err((ItemError::of(&e), metrics::REJECTED))
                }
                Err(e) => {
                    let error = ItemError::of(&e);
                    failure = Some(e);
                    Err((error, metrics::ERROR))
                }
            }
        };
        match step {
            Ok((transition, incident)) => {
                accepted += 1;
                outcomes.push(transition.as_str());
                results.push(ItemResult {
                    action: Some(outcome.action),
                    transition: Some(transition),
                    incident_id: incident.as_ref().map(|i| i.id.clone()),
                    priority: incident
                        .as_ref()
                        .and_then(|i| i.priority)
                        .or(outcome.priority),
                    fingerprint: outcome.fingerprint,
                    reason: outcome.reason,
                    error: None,
                });
            }
            Err((error, kind)) => {
                outcomes.push(kind);
                results.push(ItemResult {
                    action: Some(outcome.action),
                    transition: None,
                    incident_id: None,
                    fingerprint: outcome.fingerprint,
                    priority: outcome.priority,
                    reason: None,
                    error: Some(error),
                });
            }
        }
    }
    let source = source.id.as_str();
    let status = match &failure {
        Some(e) => {
            tracing::warn!(source, code = e.code(), "fan-out stopped: {e:?}");
            e.status()
        }
        None if accepted == 0 && open_refused > 0 => StatusCode::TOO_MANY_REQUESTS,
        None if accepted == 0 && !results.is_empty() => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::ACCEPTED,
    };
    tracing::debug!(
        source,
        items = results.len(),
        accepted,
        open_refused,
        "fan-out applied"
    );
    let mut response = ok_json(status, &Results { results });
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    response.extensions_mut().insert(ItemOutcomes(outcomes));
    response
}
