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
use super::fanout::step;
use super::http::{check_content_length, ok_json, read_limited};
use super::openlimit::OpenLimit;
use super::recent::Capture;
use super::state::AppState;
use crate::bounds::{self, EventBounds};
use crate::clock;
use crate::config::{Snapshot, Source};
use crate::decode;
use crate::engine;
use crate::outcome::{Action, Priority};
use crate::store::{Beat, IncidentStore, Transition};

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
    let mut seen = None;
    let result = authorized(state, snapshot, source, request, &mut seen).await;
    let ignored = matches!(&result, Ok(r) if r.extensions().get::<Ignored>().is_some());
    let status = match &result {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.status().as_u16(),
    };
    state.recent().count(&source.id, status, ignored);
    // What a person may want to see and replay: a payload that passed the token and was
    // rejected by what it says (not by the store, the clock or its size), or ignored.
    let keep = snapshot.limits().recent_payloads;
    if let Some(seen) = seen {
        let kept = match &result {
            Err(
                ApiError::Store(_)
                | ApiError::Timeout
                | ApiError::Spool(_)
                | ApiError::RateLimited { .. }
                | ApiError::TooManyOpen { .. }
                | ApiError::TooLarge { .. }
                | ApiError::BodyRead(_),
            ) => None,
            Err(e) => Some(("rejected", e.to_string())),
            Ok(r) if r.status() == StatusCode::UNPROCESSABLE_ENTITY => {
                Some(("rejected", "every item was rejected".to_owned()))
            }
            Ok(r) => r
                .extensions()
                .get::<Ignored>()
                .map(|i| ("ignored", i.0.clone())),
        };
        if let Some((outcome, reason)) = kept {
            let mut capture = Capture::of(
                &seen.parts.method,
                seen.parts.uri.query(),
                &seen.parts.headers,
            );
            capture.set_body(seen.body);
            state
                .recent()
                .keep(&source.id, capture, outcome, reason, keep);
        }
    }
    result
}

/// Marks the answer to an ignored payload, with the mapping's reason.
#[derive(Debug, Clone)]
struct Ignored(String);

/// An authenticated request as it came, for the recent payloads: made into a `Capture`
/// only when the payload is kept (copying its headers on every request cost ~7 % of a
/// webhook's instructions).
struct Seen {
    parts: http::request::Parts,
    body: Bytes,
}

async fn authorized<B>(
    state: &AppState,
    snapshot: &Snapshot,
    source: &Source,
    request: Request<B>,
    seen: &mut Option<Seen>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    if !source.methods.contains(request.method()) {
        return Err(ApiError::MethodNotAllowed {
            allow: source.allow.clone().into(),
        });
    }
    let is_get = request.method() == Method::GET;
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
    if let Some(policy) = source.policies.heartbeat {
        // Any authenticated request is a sign of life (docs/design.md §4). Best effort:
        // a store that is down must not turn away a payload that may not need it.
        let beat = state
            .store()
            .heartbeat(&source.id, policy, Beat::Heard, clock::now_ms());
        let heard = state.store_call("heartbeat", beat).await;
        if let Err(e) = heard {
            tracing::warn!(source = %source.id, error = %e, "heartbeat not recorded");
        }
    }
    let (parts, body) = request.into_parts();
    let seen = seen.insert(Seen {
        parts,
        body: Bytes::new(),
    });

    let now_secs = clock::now_ms().div_euclid(1000);
    // The `verify:` checks (docs/design.md §2): a signature over the raw bytes before any
    // decoding, field checks on the decoded payload before evaluation.
    let payload = if is_get {
        let query = seen.parts.uri.query().unwrap_or("");
        source
            .verify
            .check_raw(&seen.parts.headers, b"", now_secs)?;
        match &source.decode_shape {
            Some(shape) => decode::decode_query_shaped(query, shape)?,
            None => source.mapping.decode_query(query)?,
        }
    } else {
        let content_type = seen
            .parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| {
                v.to_str()
                    .map_err(|_| ApiError::UnsupportedType("content type is not ASCII"))
            })
            .transpose()?;
        // Content-Length was checked before the token.
        let body = read_limited(body, limit).await?;
        seen.body = body.clone();
        if source.verify.reads_raw() {
            source
                .verify
                .check_raw(&seen.parts.headers, &body, now_secs)?;
        }
        match &source.decode_shape {
            Some(shape) => {
                decode::decode_shaped(&body, content_type, source.mapping.decode, shape)?
            }
            None => source.mapping.decode_body(&body, content_type)?,
        }
    };
    source.verify.check_payload(&payload)?;
    let limits = snapshot.limits();
    let event_bounds = EventBounds {
        max_fingerprint_bytes: limits.max_fingerprint_bytes,
        max_title_bytes: limits.max_title_bytes,
        max_label_bytes: limits.max_label_bytes,
        max_labels: limits.max_labels,
    };
    if let Some(items) = engine::items(&source.mapping, &payload)? {
        let limit = limits.max_items_per_payload;
        if items.len() > limit {
            return Err(ApiError::TooManyItems {
                count: items.len(),
                limit,
            });
        }
        // Each element is bounded like a single event; one over a bound is rejected in
        // its place (the others go on).
        let results: Vec<_> = items
            .iter()
            .map(|item| {
                let mut outcome = engine::evaluate_item(&source.mapping, &payload, item)?;
                source.policies.fill(&mut outcome);
                for cut in bounds::apply(&mut outcome, &event_bounds)? {
                    state.metrics().truncated(cut.as_str());
                }
                Ok(outcome)
            })
            .collect();
        drop((items, payload));
        return Ok(fanout::apply(state, source, results).await);
    }
    let mut outcome = engine::evaluate(&source.mapping, &payload)?;
    source.policies.fill(&mut outcome);
    drop(payload);
    for cut in bounds::apply(&mut outcome, &event_bounds)? {
        state.metrics().truncated(cut.as_str());
    }

    let (transition, incident) = if outcome.action == Action::Ignore {
        // An ignored payload touches nothing, so it needs no store (nor a reachable one).
        (Transition::Ignored, None)
    } else {
        // Under `max_open`; applied now, or queued on disk while the store is away
        // (docs/design.md §10).
        step(state, source, &mut OpenLimit::new(state, source), &outcome).await?
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
    if transition == Transition::Ignored {
        let reason = outcome.reason.clone().unwrap_or_default();
        response.extensions_mut().insert(Ignored(reason));
    }
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
