//! `POST|GET /hooks/{source}`: token → body → decode → mapping → store → 202.
//!
//! The order is the contract's (docs/design.md §2): method and source first, then the token
//! (before the body is read, so an unauthenticated sender cannot make us read 1 MiB),
//! then the bounded body, decode, evaluate, and one store step.

use std::error::Error as StdError;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::Serialize;

use super::auth::authorize_source;
use super::error::ApiError;
use super::http::{check_content_length, ok_json, read_body};
use super::state::AppState;
use crate::bounds::{self, EventBounds};
use crate::clock;
use crate::config::{Snapshot, Source};
use crate::engine;
use crate::outcome::{Action, Outcome, Priority};
use crate::store::{IncidentStore, Transition};

pub(super) async fn webhook<B>(
    state: &AppState,
    snapshot: &Snapshot,
    source_id: &str,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let is_get = match *request.method() {
        Method::GET => true,
        Method::POST => false,
        _ => return Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
    };
    let source = snapshot.source(source_id).ok_or(ApiError::UnknownSource)?;
    let limit = snapshot.limits().max_body_bytes;
    check_content_length(&request, limit)?;
    authorize_source(source, &request)?;
    // After the token: a wrong token never spends a real sender's budget.
    if let Some(limit) = source.rate_limit {
        if let Err(retry_after) =
            state
                .rate_limiters()
                .take(&source.id, limit, tokio::time::Instant::now())
        {
            state.metrics().rate_limited(&source.id);
            return Err(ApiError::RateLimited { retry_after });
        }
    }

    let payload = if is_get {
        source
            .mapping
            .decode_query(request.uri().query().unwrap_or(""))?
    } else {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| ApiError::UnsupportedType("content type is not ASCII".into()))
            })
            .transpose()?;
        let body = read_body(request, limit).await?;
        source.mapping.decode_body(&body, content_type.as_deref())?
    };
    let mut outcome = engine::evaluate(&source.mapping, &payload)?;
    drop(payload);
    let limits = snapshot.limits();
    let event_bounds = EventBounds {
        max_fingerprint_bytes: limits.max_fingerprint_bytes,
        max_title_bytes: limits.max_title_bytes,
        max_label_bytes: limits.max_label_bytes,
        max_labels: limits.max_labels,
    };
    for cut in bounds::apply(&mut outcome, &event_bounds)? {
        state.metrics().truncated(cut.as_str());
    }

    let (transition, incident) = if outcome.action == Action::Ignore {
        // An ignored payload touches nothing, so it needs no store (nor a reachable one).
        (Transition::Ignored, None)
    } else {
        if outcome.action == Action::Open {
            check_max_open(state, source, &outcome).await?;
        }
        let store = state.store();
        let applied = state
            .store_call("apply", store.apply(&source.id, &outcome, clock::now_ms()))
            .await?;
        (applied.transition, applied.incident)
    };
    // DEBUG, not INFO: at tens of thousands of webhooks a second a line each would cost
    // more than the rest of the request; `alertgate_webhooks_total` counts them.
    tracing::debug!(
        source = %source.id,
        action = %outcome.action,
        transition = transition.as_str(),
        incident_id = incident.as_ref().map(|i| i.id.as_str()),
        "webhook applied"
    );
    let body = HookResponse {
        action: outcome.action,
        transition,
        incident_id: incident.as_ref().map(|i| i.id.as_str()),
        fingerprint: outcome.fingerprint.as_deref(),
        priority: incident
            .as_ref()
            .and_then(|i| i.priority)
            .or(outcome.priority),
        reason: outcome.reason.as_deref(),
    };
    let mut response = ok_json(StatusCode::ACCEPTED, &body);
    // For the webhook metrics, recorded where the response leaves (`handler::handle`).
    response.extensions_mut().insert(transition);
    Ok(response)
}

/// Refuses an open that would create a source's `max_open + 1`-th open incident; an
/// open of a key already open (an update) passes. Count and apply are two steps, so
/// replicas racing at the cap may overshoot it by a few.
async fn check_max_open(
    state: &AppState,
    source: &Source,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    let store = state.store();
    let open = state
        .store_call("open_count", store.open_count(&source.id))
        .await?;
    if open < source.max_open {
        return Ok(());
    }
    let fingerprint = outcome.fingerprint.as_deref().unwrap_or_default();
    if state
        .store_call("is_open", store.is_open(&source.id, fingerprint))
        .await?
    {
        return Ok(());
    }
    state.metrics().open_limited(&source.id);
    Err(ApiError::TooManyOpen {
        max_open: source.max_open,
    })
}

/// The 202 answer to a webhook.
#[derive(Serialize)]
struct HookResponse<'a> {
    action: Action,
    transition: Transition,
    /// Null when the step touched no incident (`already_resolved`, `ignored`).
    incident_id: Option<&'a str>,
    fingerprint: Option<&'a str>,
    priority: Option<Priority>,
    /// Why the payload was ignored; only on `ignored`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}
