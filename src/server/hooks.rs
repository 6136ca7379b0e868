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
use crate::clock;
use crate::config::Snapshot;
use crate::engine;
use crate::outcome::{Action, Priority};
use crate::spool::Submitted;
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
    let outcome = engine::evaluate(&source.mapping, &payload)?;
    drop(payload);

    let (transition, incident) = if outcome.action == Action::Ignore {
        // An ignored payload touches nothing, so it needs no store (nor a reachable one).
        (Transition::Ignored, None)
    } else if let Some(spool) = state.spool() {
        // Applied now, or queued on disk while the store is away (docs/design.md §10).
        match spool
            .submit(state.store(), &source.id, &outcome, clock::now_ms())
            .await?
        {
            Submitted::Applied(applied) => (applied.transition, applied.incident),
            Submitted::Queued => (Transition::Queued, None),
        }
    } else {
        let applied = state
            .store()
            .apply(&source.id, &outcome, clock::now_ms())
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

/// The 202 answer to a webhook.
#[derive(Serialize)]
struct HookResponse<'a> {
    action: Action,
    transition: Transition,
    /// Null when the step touched no incident (`already_resolved`, `ignored`, `queued`).
    incident_id: Option<&'a str>,
    fingerprint: Option<&'a str>,
    priority: Option<Priority>,
    /// Why the payload was ignored; only on `ignored`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}
