//! The request entry point: one snapshot load, the request timeout, routing, and the
//! per-source webhook metrics.
//!
//! `handle` is generic over the body type, so tests can call it with a `Full` body and no
//! socket.

use std::error::Error as StdError;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Body;
use tracing::Instrument;

use super::error::ApiError;
use super::fanout::ItemOutcomes;
use super::http::only_get;
use super::state::AppState;
use super::{actions, admin, api, console, eval, hooks, sinks, sources};
use crate::config::Snapshot;
use crate::metrics::{self, UNKNOWN_SOURCE};
use crate::store::Transition;

/// Answers one request. Never panics on request data; every failure is a JSON error.
pub async fn handle<B>(state: &AppState, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let started = tokio::time::Instant::now();
    let snapshot = state.snapshot();
    let hook_source = hook_source(&snapshot, request.uri().path());
    // The path only: the query may hold a token and must never reach the logs. DEBUG:
    // an INFO span per request costs more than a webhook's whole evaluation at load,
    // and error lines carry the method and path themselves.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let span = tracing::debug_span!(
        "request",
        method = %method,
        path = uri.path(),
        status = tracing::field::Empty,
    );
    let timeout = snapshot.limits().request_timeout;
    let routed = async {
        match tokio::time::timeout(timeout, route(state, &snapshot, uri.path(), request)).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Timeout),
        }
    }
    .instrument(span.clone())
    .await;
    let response = match routed {
        Ok(response) => response,
        Err(e) => {
            span.in_scope(|| log_error(state, hook_source, &e, &method, uri.path()));
            e.into_response()
        }
    };
    span.record("status", response.status().as_u16());
    if let Some(source) = hook_source {
        // The webhook route marks what the store did; any other response never got there.
        // A fan-out counts each element's transition and its one request once.
        if let Some(ItemOutcomes(outcomes)) = response.extensions().get::<ItemOutcomes>() {
            state
                .metrics()
                .record_webhook_items(source, outcomes, started.elapsed());
        } else {
            let outcome = match response.extensions().get::<Transition>() {
                Some(transition) => transition.as_str(),
                None => metrics::outcome_for_status(response.status().as_u16()),
            };
            state
                .metrics()
                .record_webhook(source, outcome, started.elapsed());
        }
    }
    response
}

/// Logs a failed request. 4xx are counted (`alertgate_client_errors_total`) and logged
/// at most once per (source, code) each interval, then with the number left out; 5xx
/// are logged in full, every time.
fn log_error(
    state: &AppState,
    hook_source: Option<&str>,
    e: &ApiError,
    method: &http::Method,
    path: &str,
) {
    if !e.status().is_client_error() {
        e.log(method, path);
        return;
    }
    let (source, code) = (hook_source.unwrap_or(metrics::API_SOURCE), e.code());
    state.metrics().client_error(source, code);
    let Some(suppressed) = state
        .log_limiter()
        .admit(source, code, tokio::time::Instant::now())
    else {
        return;
    };
    e.log(method, path);
    if suppressed > 0 {
        tracing::warn!(
            source,
            code,
            suppressed,
            "{suppressed} more {code} answers for {source} were left out of the log"
        );
    }
}

/// The `source` label of a `/hooks/{source}` request: the configured id, or
/// [`UNKNOWN_SOURCE`] so that made-up URLs cannot create time series.
fn hook_source<'s>(snapshot: &'s Snapshot, path: &str) -> Option<&'s str> {
    let source = hook_path_source(path)?;
    Some(
        snapshot
            .source(source)
            .map_or(UNKNOWN_SOURCE, |s| s.id.as_str()),
    )
}

/// `path` is the request's own, borrowed from the copy of its URI `handle` keeps for
/// logging, so routing copies nothing. Webhooks, the hot path, are matched first.
/// The `{source}` of a `/hooks/{source}` path.
fn hook_path_source(path: &str) -> Option<&str> {
    path.strip_prefix("/hooks/")
        .filter(|source| !source.is_empty() && !source.contains('/'))
}

async fn route<B>(
    state: &AppState,
    snapshot: &Snapshot,
    path: &str,
    request: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    B: Body,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    if let Some(source) = hook_path_source(path) {
        return hooks::webhook(state, snapshot, source, request).await;
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "incidents"] => {
            only_get(request.method())?;
            api::list_incidents(state, snapshot, &request).await
        }
        ["v1", "incidents", id] if !id.is_empty() => {
            only_get(request.method())?;
            api::get_incident(state, snapshot, &request, id).await
        }
        ["v1", "incidents", id, "events"] if !id.is_empty() => {
            only_get(request.method())?;
            actions::incident_events(state, snapshot, &request, id).await
        }
        ["v1", "incidents", id, verb @ ("acknowledge" | "resolve" | "notes")] if !id.is_empty() => {
            let (id, verb) = ((*id).to_owned(), *verb);
            actions::act(state, snapshot, request, &id, verb).await
        }
        ["v1", "eval"] => eval::eval(snapshot, request).await,
        ["v1", "sources", id, "recent"] if !id.is_empty() => {
            only_get(request.method())?;
            actions::recent(state, snapshot, &request, id)
        }
        ["ui"] => console::asset(request.method(), ""),
        ["ui", name] => console::asset(request.method(), name),
        ["v1", "sinks"] => {
            only_get(request.method())?;
            sinks::list(state, snapshot, &request).await
        }
        ["v1", "sinks", id, "dead"] => {
            only_get(request.method())?;
            sinks::dead(state, snapshot, &request, id).await
        }
        ["v1", "sinks", id, "dead", "replay"] => sinks::replay(state, snapshot, &request, id).await,
        ["v1", "sources"] => {
            if sources::is_read(request.method()) {
                sources::list(snapshot, &request)
            } else if request.method() == http::Method::POST {
                sources::create(state, snapshot, request).await
            } else {
                Err(sources::not_allowed("GET, HEAD, POST"))
            }
        }
        ["v1", "sources", id] if !id.is_empty() => {
            if request.method() == http::Method::DELETE {
                sources::delete(state, snapshot, &request, id).await
            } else {
                Err(sources::not_allowed("DELETE"))
            }
        }
        ["v1", "sources", id, "rotate"] if !id.is_empty() => {
            if request.method() == http::Method::POST {
                sources::rotate(state, snapshot, request, id).await
            } else {
                Err(sources::not_allowed("POST"))
            }
        }
        ["-", "healthy"] => {
            only_get(request.method())?;
            Ok(api::healthy(snapshot))
        }
        ["-", "ready"] => {
            only_get(request.method())?;
            Ok(api::ready(state, snapshot).await)
        }
        ["-", "reload"] => admin::reload(state, snapshot, &request).await,
        ["-", "config"] => admin::config(state, snapshot, &request),
        ["metrics"] => admin::metrics(state, snapshot, &request).await,
        _ => Err(ApiError::NotFound("no such route")),
    }
}
