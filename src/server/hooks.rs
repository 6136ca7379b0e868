//! `POST|GET /hooks/{source}`: token → body → decode → mapping → store → 202.
//!
//! The order is the contract's (docs/design.md §2): source and method first (the method
//! against the source's `methods`), then the token (before the body is read, so an
//! unauthenticated sender cannot make us read 1 MiB), then the bounded body, the source's
//! signature checks over its raw bytes, decode, its field checks, evaluate, and one store
//! step — or, for a fan-out payload, one store step per element (`fanout`).

use std::error::Error as StdError;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use serde::Serialize;

use super::auth::authorize_source;
use super::error::ApiError;
use super::fanout;
use super::http::{check_content_length, ok_json, read_limited};
use super::state::AppState;
use crate::clock;
use crate::config::Snapshot;
use crate::decode;
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
    let source = snapshot.source(source_id).ok_or(ApiError::UnknownSource)?;
    if !source.methods.contains(request.method()) {
        return Err(ApiError::MethodNotAllowed {
            allow: source.allow.clone().into(),
        });
    }
    let is_get = request.method() == Method::GET;
    let limit = snapshot.limits().max_body_bytes;
    check_content_length(&request, limit)?;
    authorize_source(source, &request)?;

    let now_secs = clock::now_ms().div_euclid(1000);
    // The `verify:` checks (docs/design.md §2): a signature over the raw bytes before any
    // decoding, field checks on the decoded payload before evaluation.
    let payload = if is_get {
        let query = request.uri().query().unwrap_or("");
        source.verify.check_raw(request.headers(), b"", now_secs)?;
        match &source.decode_shape {
            Some(shape) => decode::decode_query_shaped(query, shape)?,
            None => source.mapping.decode_query(query)?,
        }
    } else {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| ApiError::UnsupportedType("content type is not ASCII"))
            })
            .transpose()?;
        let headers = source.verify.reads_raw().then(|| request.headers().clone());
        // Content-Length was checked before the token.
        let body = read_limited(request.into_body(), limit).await?;
        if let Some(headers) = &headers {
            source.verify.check_raw(headers, &body, now_secs)?;
        }
        match &source.decode_shape {
            Some(shape) => {
                decode::decode_shaped(&body, content_type.as_deref(), source.mapping.decode, shape)?
            }
            None => source.mapping.decode_body(&body, content_type.as_deref())?,
        }
    };
    source.verify.check_payload(&payload)?;
    if let Some(items) = engine::items(&source.mapping, &payload)? {
        let limit = snapshot.limits().max_items_per_payload;
        if items.len() > limit {
            return Err(ApiError::TooManyItems {
                count: items.len(),
                limit,
            });
        }
        let results: Vec<_> = items
            .iter()
            .map(|item| engine::evaluate_item(&source.mapping, &payload, item))
            .collect();
        drop((items, payload));
        return Ok(fanout::apply(state, &source.id, results).await);
    }
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
